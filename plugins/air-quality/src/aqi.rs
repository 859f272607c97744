//! The two Air Quality Index standards a pole can report in: Thailand's Pollution Control
//! Department index as revised in 2023 and the US EPA index as revised in 2024.
//!
//! A pollutant's *sub-index* comes from its averaged concentration by linear interpolation
//! inside the breakpoint band that holds it,
//! `I = (I_hi − I_lo) / (C_hi − C_lo) · (C − C_lo) + I_lo`, rounded half up to an integer.
//! The overall AQI is the largest sub-index; its pollutant is the *dominant* one.
//!
//! Input units are the same for both standards: PM2.5 and PM10 in µg/m³, O3, NO2 and SO2
//! in ppb, CO in ppm. EPA states O3 in ppm to three decimals; 0.001 ppm is 1 ppb, so the
//! EPA ozone table is kept in ppb here and the conversion is exact.
//!
//! Computation rules (sources and reasons in `AQI.md`):
//!
//! * **Truncation.** The concentration is first truncated to the resolution of the
//!   breakpoint tables ([`Pollutant::decimals`]: 0.1 µg/m³ for PM2.5, 0.1 ppm for CO, whole
//!   units otherwise), as the EPA prescribes. Adjacent bands then tile the axis without
//!   gaps: 15.05 µg/m³ of PM2.5 becomes 15.0 and lies in the PCD's first band.
//! * **Exact arithmetic.** After truncation everything is integer arithmetic, so values
//!   such as 12.9 µg/m³ (PCD index exactly 21.5) round to 22 as air4thai publishes, not
//!   to whatever a binary floating-point product happens to give.
//! * **Above the table.** The PCD's top band (index 201 and up) has no upper breakpoint.
//!   For PM2.5, air4thai publishes one index point per µg/m³ above 75.0 µg/m³ (100.7
//!   µg/m³ → 226, 216.8 → 342), and this is followed. For the other Thai pollutants no
//!   published values above 200 were found, and the slope of the 101–200 band is
//!   continued. Either way a concentration in the PCD's top band is never given less than
//!   201. For the EPA above its last breakpoint, the last band's line is extended as
//!   40 CFR 58 Appendix G §12(ii) allows; values above 500 are "Beyond the AQI" and get
//!   the Hazardous band.
//! * **Invalid input.** Negative, NaN and infinite concentrations have no sub-index.

mod bands;
mod breakpoints;

use serde::{Deserialize, Serialize};

pub use bands::Band;

/// An AQI standard: breakpoint tables, bands, colours and advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Standard {
    /// Thailand's Pollution Control Department index, revised for the 37.5 µg/m³ PM2.5
    /// standard in force since 1 June 2023 (five bands, 0–25 … 201 and up).
    #[serde(rename = "thai-pcd-2023")]
    ThaiPcd2023,
    /// The US EPA index after the PM2.5 NAAQS rule of February 2024, in force since
    /// 6 May 2024 (six categories, Good … Hazardous).
    #[serde(rename = "us-epa-2024")]
    UsEpa2024,
}

impl Standard {
    /// Both standards.
    pub const ALL: [Standard; 2] = [Standard::ThaiPcd2023, Standard::UsEpa2024];

    /// The standard's bands, lowest index first; a band's position is its `index`.
    pub fn bands(self) -> &'static [Band] {
        bands::of(self)
    }
}

/// A pollutant the index covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pollutant {
    /// Fine particulate matter, µg/m³.
    Pm25,
    /// Coarse particulate matter, µg/m³.
    Pm10,
    /// Ozone, ppb.
    O3,
    /// Carbon monoxide, ppm.
    Co,
    /// Nitrogen dioxide, ppb.
    No2,
    /// Sulphur dioxide, ppb.
    So2,
}

impl Pollutant {
    /// All pollutants.
    pub const ALL: [Pollutant; 6] = [
        Pollutant::Pm25,
        Pollutant::Pm10,
        Pollutant::O3,
        Pollutant::Co,
        Pollutant::No2,
        Pollutant::So2,
    ];

    /// Hours of the moving average the index is defined on, the same in both standards:
    /// 24 for PM2.5 and PM10, 8 for O3 and CO, 1 for NO2 and SO2.
    pub fn averaging_hours(self) -> u32 {
        match self {
            Pollutant::Pm25 | Pollutant::Pm10 => 24,
            Pollutant::O3 | Pollutant::Co => 8,
            Pollutant::No2 | Pollutant::So2 => 1,
        }
    }

    /// The unit the concentration is given in.
    pub fn unit(self) -> &'static str {
        match self {
            Pollutant::Pm25 | Pollutant::Pm10 => "µg/m³",
            Pollutant::O3 | Pollutant::No2 | Pollutant::So2 => "ppb",
            Pollutant::Co => "ppm",
        }
    }

    /// Decimals kept when a concentration is truncated to the breakpoint tables'
    /// resolution: 1 for PM2.5 and CO, 0 for the others (both standards).
    pub fn decimals(self) -> u32 {
        match self {
            Pollutant::Pm25 | Pollutant::Co => 1,
            Pollutant::Pm10 | Pollutant::O3 | Pollutant::No2 | Pollutant::So2 => 0,
        }
    }
}

/// An overall AQI: the largest sub-index and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Aqi {
    /// The index value.
    pub value: u32,
    /// The pollutant whose sub-index is the value (the first one given, on a tie).
    pub dominant: Pollutant,
    /// The band the value falls in.
    pub band: &'static Band,
}

/// The sub-index of one pollutant's averaged concentration, or `None` when the
/// concentration is negative, NaN or infinite.
pub fn sub_index(standard: Standard, pollutant: Pollutant, concentration: f64) -> Option<u32> {
    let units = truncate(pollutant, concentration)?;
    Some(breakpoints::table(standard, pollutant).index(units))
}

/// The band an index value falls in; values above the top band's start stay in it.
pub fn band(standard: Standard, aqi: u32) -> &'static Band {
    let bands = standard.bands();
    // The first band starts at 0, so at least one band starts at or below `aqi`.
    &bands[bands.partition_point(|band| band.aqi_min <= aqi) - 1]
}

/// The overall AQI of a set of averaged concentrations: the largest sub-index.
///
/// Concentrations without a sub-index are skipped; `None` when none has one.
pub fn overall(standard: Standard, concentrations: &[(Pollutant, f64)]) -> Option<Aqi> {
    let mut best: Option<(u32, Pollutant)> = None;
    for &(pollutant, concentration) in concentrations {
        if let Some(value) = sub_index(standard, pollutant, concentration) {
            if best.is_none_or(|(top, _)| value > top) {
                best = Some((value, pollutant));
            }
        }
    }
    best.map(|(value, dominant)| Aqi {
        value,
        dominant,
        band: band(standard, value),
    })
}

/// The concentration in table units (tenths or whole units), truncated toward zero.
///
/// A relative tolerance of 1e-9 keeps a mean that is mathematically on a breakpoint
/// (15.0 computed as 14.999999999999998) on it.
fn truncate(pollutant: Pollutant, concentration: f64) -> Option<i64> {
    if !concentration.is_finite() || concentration < 0.0 {
        return None;
    }
    let scaled = concentration * 10_f64.powi(pollutant.decimals() as i32);
    // `as` saturates for absurdly large values, which still map above the table.
    Some((scaled * (1.0 + 1e-9)).floor() as i64)
}
