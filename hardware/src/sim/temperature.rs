//! Air temperature model for the Thai lowlands.
//!
//! A diurnal cycle in local *solar* time (from the longitude): the minimum at 06:00, just
//! before sunrise, and the maximum at 15:00, mid-afternoon; half-cosine rises over 9 h and
//! falls over 15 h, so the curve is smooth at both extremes. The default range 24–33 °C is
//! roughly the Bangkok daily minimum and maximum for most of the year (Thai Meteorological
//! Department climate normals).

use std::f64::consts::PI;

/// Local solar hour of the daily minimum.
pub const MIN_HOUR: f64 = 6.0;
/// Local solar hour of the daily maximum.
pub const MAX_HOUR: f64 = 15.0;

/// Deterministic diurnal temperature cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct TemperatureModel {
    /// Longitude, degrees east (sets local solar time).
    pub longitude: f64,
    /// Daily minimum, °C.
    pub min_celsius: f64,
    /// Daily maximum, °C.
    pub max_celsius: f64,
}

impl TemperatureModel {
    /// The 24–33 °C cycle of the Thai lowlands at `longitude`.
    pub fn thai_lowlands(longitude: f64) -> Self {
        Self {
            longitude,
            min_celsius: 24.0,
            max_celsius: 33.0,
        }
    }

    /// Temperature in °C at `unix_ms`.
    pub fn celsius_at(&self, unix_ms: u64) -> f64 {
        let hour = super::solar_hour(unix_ms, self.longitude);
        let warmth = if (MIN_HOUR..MAX_HOUR).contains(&hour) {
            (1.0 - (PI * (hour - MIN_HOUR) / (MAX_HOUR - MIN_HOUR)).cos()) / 2.0
        } else {
            let since_max = (hour - MAX_HOUR).rem_euclid(24.0);
            (1.0 + (PI * since_max / (24.0 - MAX_HOUR + MIN_HOUR)).cos()) / 2.0
        };
        self.min_celsius + (self.max_celsius - self.min_celsius) * warmth
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremes_at_dawn_and_mid_afternoon() {
        // Longitude 0 so that UTC hours are solar hours.
        let m = TemperatureModel::thai_lowlands(0.0);
        let h = |x: f64| m.celsius_at((x * 3_600_000.0) as u64);
        assert!((h(6.0) - 24.0).abs() < 1e-9);
        assert!((h(15.0) - 33.0).abs() < 1e-9);
        for i in 0..96 {
            let t = h(f64::from(i) / 4.0);
            assert!((24.0..=33.0).contains(&t));
        }
        assert!(h(10.0) < h(12.0) && h(18.0) > h(22.0));
        // Bangkok (UTC+6:44 solar): the minimum is near 23:16 UTC.
        let bkk = TemperatureModel::thai_lowlands(101.0);
        assert!(
            (bkk.celsius_at(((6.0 - 101.0 / 15.0 + 24.0) * 3_600_000.0) as u64) - 24.0).abs()
                < 1e-6
        );
    }
}
