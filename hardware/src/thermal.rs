//! The box's own temperature: the SoC sensor the kernel exposes in sysfs.
//!
//! A pole box sits in a closed cabinet in the Thai sun; its SoC temperature is what the
//! runtime derates inference on before the kernel throttles the CPU (a Raspberry Pi 4
//! starts throttling at 80 °C). [`SysfsThermal`] reads any Linux thermal zone, so it
//! serves every board, not only the Pi.

use std::path::PathBuf;

use crate::{HwError, Sensor};

/// The name of the box temperature sensor on every backend.
pub const CPU_TEMPERATURE: &str = "cpu-temperature";

/// The thermal zone of the SoC on a Raspberry Pi and most single-board computers.
pub const DEFAULT_ZONE: &str = "/sys/class/thermal/thermal_zone0/temp";

/// A Linux thermal zone read as the sensor [`CPU_TEMPERATURE`] (unit `Cel`).
pub struct SysfsThermal {
    path: PathBuf,
}

impl SysfsThermal {
    /// Reads the zone file at `path` (millidegrees Celsius, one integer).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }
}

impl Sensor for SysfsThermal {
    fn name(&self) -> &str {
        CPU_TEMPERATURE
    }

    fn unit(&self) -> &str {
        "Cel"
    }

    fn read(&mut self) -> Result<Option<f64>, HwError> {
        let text = std::fs::read_to_string(&self.path).map_err(|e| {
            HwError::fault(CPU_TEMPERATURE, format!("{}: {e}", self.path.display()))
        })?;
        let millidegrees: i64 = text.trim().parse().map_err(|_| {
            HwError::fault(
                CPU_TEMPERATURE,
                format!(
                    "{}: not a temperature: {:?}",
                    self.path.display(),
                    text.trim()
                ),
            )
        })?;
        Ok(Some(millidegrees as f64 / 1000.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_millidegrees_and_names_a_bad_file() {
        let dir = tempfile::tempdir().unwrap();
        let zone = dir.path().join("temp");
        std::fs::write(&zone, "61234\n").unwrap();
        let mut sensor = SysfsThermal::new(&zone);
        assert_eq!(sensor.read().unwrap(), Some(61.234));
        std::fs::write(&zone, "hot").unwrap();
        let err = sensor.read().unwrap_err().to_string();
        assert!(err.contains("not a temperature"), "{err}");
        let mut missing = SysfsThermal::new(dir.path().join("absent"));
        assert!(missing.read().unwrap_err().to_string().contains("absent"));
    }
}
