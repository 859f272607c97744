//! Gas sensors: ozone, nitrogen dioxide, sulphur dioxide and carbon monoxide.
//!
//! A [`GasCell`] is whatever produces a concentration (an electrochemical cell behind an
//! ADC, a module with its own serial protocol, the simulator); [`GasSensor`] turns one into
//! a pole [`Sensor`] named after its [`Gas`], in the unit the Thai Pollution Control
//! Department's AQI tables use (ppb for O3, NO2 and SO2; ppm for CO), and reports a value
//! outside the gas's measuring range as a fault rather than as air quality.
//!
//! Only the simulator implements [`GasCell`] so far: real backends (electrochemical cells
//! read through an ADC with their zero and span calibration, or digital gas modules) are
//! out of scope for now.

use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use super::check_range;
use crate::{HwError, Sensor};

/// A gas the pole can measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gas {
    /// Ozone, O3.
    O3,
    /// Nitrogen dioxide, NO2.
    No2,
    /// Sulphur dioxide, SO2.
    So2,
    /// Carbon monoxide, CO.
    Co,
}

impl Gas {
    /// Sensor name on the pole: `o3`, `no2`, `so2` or `co`.
    pub fn name(self) -> &'static str {
        match self {
            Self::O3 => "o3",
            Self::No2 => "no2",
            Self::So2 => "so2",
            Self::Co => "co",
        }
    }

    /// UCUM unit: `ppb` for O3, NO2 and SO2, `ppm` for CO (as in the PCD AQI tables).
    pub fn unit(self) -> &'static str {
        match self {
            Self::Co => "ppm",
            Self::O3 | Self::No2 | Self::So2 => "ppb",
        }
    }

    /// Plausible measuring range, in [`Gas::unit`]s: the full scale of common low-cost
    /// electrochemical cells (Alphasense's B4 datasheets give 1000 ppm for CO and 100 ppm
    /// for SO2; NO2 and O3 cells are taken as 20 ppm), far above any ambient level.
    pub fn range(self) -> RangeInclusive<f64> {
        match self {
            Self::O3 | Self::No2 => 0.0..=20_000.0,
            Self::So2 => 0.0..=100_000.0,
            Self::Co => 0.0..=1_000.0,
        }
    }
}

/// A source of gas concentrations, in the gas's [`Gas::unit`].
pub trait GasCell: Send {
    /// The present concentration; `Ok(None)` when there is no new value.
    fn sample(&mut self) -> Result<Option<f64>, HwError>;
}

/// A [`GasCell`] as a pole [`Sensor`], with range checking.
#[derive(Debug, Clone)]
pub struct GasSensor<C> {
    gas: Gas,
    cell: C,
}

impl<C: GasCell> GasSensor<C> {
    /// The sensor for `gas`, read from `cell`.
    pub fn new(gas: Gas, cell: C) -> Self {
        Self { gas, cell }
    }

    /// The gas measured.
    pub fn gas(&self) -> Gas {
        self.gas
    }
}

impl<C: GasCell> Sensor for GasSensor<C> {
    fn name(&self) -> &str {
        self.gas.name()
    }

    fn unit(&self) -> &str {
        self.gas.unit()
    }

    /// The cell's value; a value outside [`Gas::range`] (or not finite) is a fault.
    fn read(&mut self) -> Result<Option<f64>, HwError> {
        let gas = self.gas;
        self.cell
            .sample()?
            .map(|v| check_range(gas.name(), "gas cell", v, &gas.range(), gas.unit()))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cell that returns scripted samples.
    struct Scripted(Vec<Result<Option<f64>, HwError>>);

    impl GasCell for Scripted {
        fn sample(&mut self) -> Result<Option<f64>, HwError> {
            self.0.remove(0)
        }
    }

    #[test]
    fn names_units_and_serde() {
        let names: Vec<_> = [Gas::O3, Gas::No2, Gas::So2, Gas::Co]
            .iter()
            .map(|g| (g.name(), g.unit()))
            .collect();
        assert_eq!(
            names,
            [("o3", "ppb"), ("no2", "ppb"), ("so2", "ppb"), ("co", "ppm")]
        );
        #[derive(Deserialize)]
        struct Spec {
            gas: Gas,
        }
        let spec: Spec = toml::from_str("gas = \"no2\"").unwrap();
        assert_eq!(spec.gas, Gas::No2);
    }

    #[test]
    fn passes_values_in_range_and_faults_outside() {
        let cell = Scripted(vec![
            Ok(Some(35.0)),
            Ok(None),
            Ok(Some(25_000.0)),
            Ok(Some(-3.0)),
            Ok(Some(f64::NAN)),
            Err(HwError::fault("o3", "ADC timeout")),
            Ok(Some(0.0)),
        ]);
        let mut s = GasSensor::new(Gas::O3, cell);
        assert_eq!((s.name(), s.unit(), s.gas()), ("o3", "ppb", Gas::O3));
        assert_eq!(s.read().unwrap(), Some(35.0));
        assert_eq!(s.read().unwrap(), None);
        for _ in 0..3 {
            let err = s.read().unwrap_err();
            assert!(
                matches!(&err, HwError::Fault { device, message }
                    if device == "o3" && message.contains("outside") && message.contains("ppb")),
                "{err}"
            );
        }
        assert_eq!(
            s.read().unwrap_err(),
            HwError::fault("o3", "ADC timeout"),
            "cell errors pass through"
        );
        assert_eq!(s.read().unwrap(), Some(0.0));
    }
}
