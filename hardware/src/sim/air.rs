//! Air-quality models: PM2.5 on a Thai dry-season day, and diurnal gas cycles.
//!
//! Every value is a pure function of the configuration, the seed and the time, in local
//! mean solar time from the pole's longitude.
//!
//! # PM2.5 in the dry season
//!
//! From December to April, haze builds over central and northern Thailand: calm air, cool
//! nights and biomass burning keep PM2.5 high for weeks. Its daily cycle follows the height
//! of the mixing layer. A night-time inversion traps what traffic and burning emit; the
//! morning rush hour adds to it before the sun has mixed the air, so concentrations peak
//! around 07:00–09:00; convective mixing dilutes them to a minimum in mid-afternoon; the
//! evening traffic under a collapsing boundary layer gives a second, smaller peak around
//! 21:00. Chirasophon & Pochanart (2020), analysing the Pollution Control Department's
//! hourly PM2.5 and PM10 at ten Bangkok stations from 2006 to 2016, describe this
//! two-peaked daily cycle, higher levels in the dry season, and a mean PM2.5/PM10 ratio of
//! 0.61 — hence PM10 = 1.6 × PM2.5 by default ("The Long-term Characteristics of PM10 and
//! PM2.5 in Bangkok, Thailand", Asian Journal of Atmospheric Environment 14(1), 73–83).
//! Aman et al. (2020) link the Greater Bangkok haze episodes to low-level inversions, with
//! daily PM2.5 of 50 µg/m³ or more on most haze days (IJERPH 17(24), 9499); the default
//! mean of 45 µg/m³ is an ordinary hazy day. The peak hours are this model's choice
//! within those descriptions, not a fit to station data.
//!
//! The shape is two harmonics, so it averages to zero over a day and `mean-pm25` is the
//! daily mean: `s(h) = 0.45·cos(2π(h − 5.75)/24) + 0.55·cos(2π(h − 8.5)/12)`, scaled so its
//! peak (08:03) is 1; its minimum (15:00) is −0.96 and the evening peak (21:06) 0.26. Then
//!
//! ```text
//! PM2.5(t) = max(0, (mean + trend·days since trend start) · (1 + amplitude · s(h)))
//!            · (1 + noise · u)
//! ```
//!
//! with `u` uniform in [−1, 1], constant for each minute. PM1.0 and PM10 are fixed ratios
//! of PM2.5.
//!
//! # Gases
//!
//! Each gas has a mean and a relative diurnal amplitude: O3 peaks at 14:00 (photochemistry,
//! lowest at dawn); NO2 and CO peak with the rush hours at 07:30 and 19:30; SO2, from
//! elevated point sources, has no daily cycle here. The default means (O3 25 ppb, NO2
//! 20 ppb, SO2 3 ppb, CO 0.8 ppm) are plausible urban values, not fitted to any station.

use std::f64::consts::TAU;
use std::fmt::Debug;
use std::ops::RangeBounds;
use std::sync::{Arc, LazyLock};

use serde::Deserialize;

use super::series::StepSeries;
use super::{solar_hour, unit_noise, GAS_SALT, PM25_SALT};
use crate::air::{Gas, GasCell, ParticulateReading, Protocol};
use crate::{HwError, TimeSource};

const MS_PER_DAY: f64 = 86_400_000.0;
/// Model noise is constant over buckets of this length.
const NOISE_BUCKET_MS: u64 = 60_000;

/// Parameters of the dry-season PM2.5 model (kebab-case keys, all optional).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct DrySeasonSpec {
    /// Daily mean PM2.5 at the trend start, µg/m³ (default 45).
    pub mean_pm25: f64,
    /// Relative height of the morning peak above the mean, 0..=1 (default 0.35).
    pub diurnal_amplitude: f64,
    /// Change of the daily mean per day, µg/m³; may be negative (default 0).
    pub trend_per_day: f64,
    /// When the trend starts, Unix ms (default: when the pole is built).
    pub trend_start_ms: Option<u64>,
    /// Relative noise amplitude, 0..1 (default 0.08 = ±8 %).
    pub noise: f64,
    /// PM10 / PM2.5, at least 1 (default 1.6).
    pub pm10_ratio: f64,
    /// PM1.0 / PM2.5, 0..=1 (default 0.75; only the PMS5003 reports PM1.0).
    pub pm1_ratio: f64,
}

impl Default for DrySeasonSpec {
    fn default() -> Self {
        Self {
            mean_pm25: 45.0,
            diurnal_amplitude: 0.35,
            trend_per_day: 0.0,
            trend_start_ms: None,
            noise: 0.08,
            pm10_ratio: 1.6,
            pm1_ratio: 0.75,
        }
    }
}

impl DrySeasonSpec {
    fn validate(&self) -> Result<(), String> {
        in_range("mean-pm25", self.mean_pm25, 0.0..)?;
        in_range("diurnal-amplitude", self.diurnal_amplitude, 0.0..=1.0)?;
        in_range("trend-per-day", self.trend_per_day, ..)?;
        in_range("noise", self.noise, 0.0..1.0)?;
        in_range("pm10-ratio", self.pm10_ratio, 1.0..)?;
        in_range("pm1-ratio", self.pm1_ratio, 0.0..=1.0)
    }
}

/// Normalised haze shape at a local solar hour: daily mean 0, peak 1 (see the module
/// docs).
pub fn haze_shape(solar_hour: f64) -> f64 {
    /// Peak of the raw shape, found once at one-minute resolution.
    static PEAK: LazyLock<f64> = LazyLock::new(|| {
        (0..24 * 60)
            .map(|minute| raw_haze_shape(f64::from(minute) / 60.0))
            .fold(f64::MIN, f64::max)
    });
    raw_haze_shape(solar_hour) / *PEAK
}

fn raw_haze_shape(h: f64) -> f64 {
    0.45 * (TAU * (h - 5.75) / 24.0).cos() + 0.55 * (TAU * (h - 8.5) / 12.0).cos()
}

/// The dry-season PM2.5 model at one place.
#[derive(Debug, Clone, PartialEq)]
pub struct DrySeasonModel {
    spec: DrySeasonSpec,
    trend_start_ms: u64,
    longitude: f64,
    seed: u64,
}

impl DrySeasonModel {
    /// The model of `spec` at `longitude` (degrees east); the trend starts at
    /// `spec.trend_start_ms`, or at `built_ms` when that is not set.
    pub fn new(spec: &DrySeasonSpec, longitude: f64, seed: u64, built_ms: u64) -> Self {
        Self {
            trend_start_ms: spec.trend_start_ms.unwrap_or(built_ms),
            spec: spec.clone(),
            longitude,
            seed,
        }
    }

    /// The daily mean at `unix_ms` (the trend applied), µg/m³; may be negative.
    pub fn daily_mean_at(&self, unix_ms: u64) -> f64 {
        let days = unix_ms.saturating_sub(self.trend_start_ms) as f64 / MS_PER_DAY;
        self.spec.mean_pm25 + self.spec.trend_per_day * days
    }

    /// PM2.5 at `unix_ms`, µg/m³ (never negative).
    pub fn pm25_at(&self, unix_ms: u64) -> f64 {
        let shape = haze_shape(solar_hour(unix_ms, self.longitude));
        let level =
            (self.daily_mean_at(unix_ms) * (1.0 + self.spec.diurnal_amplitude * shape)).max(0.0);
        let jitter = unit_noise(self.seed, PM25_SALT, unix_ms / NOISE_BUCKET_MS);
        level * (1.0 + self.spec.noise * jitter)
    }
}

/// The simulated particulate sensor: its protocol, line noise and what it measures.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ParticulateSpec {
    /// The wire protocol the simulated sensor speaks (`pms5003` or `sds011`).
    pub protocol: Protocol,
    /// Probability that a frame is corrupted on the line, 0..=1 (default 0).
    #[serde(default)]
    pub line_noise: f64,
    /// The PM2.5 model.
    #[serde(default)]
    pub model: DrySeasonSpec,
    /// Recorded PM2.5 `(unix_ms, µg/m³)`, replacing the model when not empty (step-hold;
    /// no frames before the first point).
    #[serde(default)]
    pub replay_pm25: Vec<(u64, f64)>,
    /// Recorded PM10, likewise; when empty, PM10 is PM2.5 times `pm10-ratio`.
    #[serde(default)]
    pub replay_pm10: Vec<(u64, f64)>,
}

impl ParticulateSpec {
    /// Check every value; the message names the offending key.
    pub(super) fn validate(&self) -> Result<(), String> {
        in_range("line-noise", self.line_noise, 0.0..=1.0)?;
        self.model.validate()?;
        for (key, points) in [
            ("replay-pm25", &self.replay_pm25),
            ("replay-pm10", &self.replay_pm10),
        ] {
            if let Some(&(t, v)) = points.iter().find(|p| !(p.1.is_finite() && p.1 >= 0.0)) {
                return Err(format!("{key} has an invalid value {v} at {t}"));
            }
        }
        Ok(())
    }
}

/// What the simulated particulate sensor measures over time: replayed series where given,
/// else the model.
#[derive(Debug, Clone)]
pub struct ParticulateSource {
    model: DrySeasonModel,
    pm25: StepSeries,
    pm10: StepSeries,
}

impl ParticulateSource {
    /// The source of `spec`, with its model at `longitude` and the trend starting at
    /// `built_ms` unless the spec says otherwise.
    pub fn new(spec: &ParticulateSpec, longitude: f64, seed: u64, built_ms: u64) -> Self {
        Self {
            model: DrySeasonModel::new(&spec.model, longitude, seed, built_ms),
            pm25: StepSeries::new(&spec.replay_pm25),
            pm10: StepSeries::new(&spec.replay_pm10),
        }
    }

    /// The concentrations at `unix_ms`; `None` while a replayed series has not started.
    pub fn reading_at(&self, unix_ms: u64) -> Option<ParticulateReading> {
        let pm2_5 = if self.pm25.is_empty() {
            self.model.pm25_at(unix_ms)
        } else {
            self.pm25.at(unix_ms)?
        };
        let pm10 = if self.pm10.is_empty() {
            pm2_5 * self.model.spec.pm10_ratio
        } else {
            self.pm10.at(unix_ms)?
        };
        Some(ParticulateReading {
            pm1_0: Some(pm2_5 * self.model.spec.pm1_ratio),
            pm2_5,
            pm10,
        })
    }
}

/// One simulated gas sensor (kebab-case keys).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct GasSpec {
    /// The gas (`o3`, `no2`, `so2` or `co`); also the sensor's name.
    pub gas: Gas,
    /// Daily mean in the gas's unit (default per gas, see the module docs).
    #[serde(default)]
    pub mean: Option<f64>,
    /// Relative height of the daily peak above the mean, 0..=1 (default: O3 0.8, NO2 0.4,
    /// CO 0.35, SO2 0; SO2 has no daily cycle, so its amplitude has no effect).
    #[serde(default)]
    pub diurnal_amplitude: Option<f64>,
    /// Relative noise amplitude, 0..1 (default 0.05).
    #[serde(default = "default_gas_noise")]
    pub noise: f64,
}

fn default_gas_noise() -> f64 {
    0.05
}

impl GasSpec {
    /// The daily mean: `mean`, or the gas's default.
    pub fn mean_or_default(&self) -> f64 {
        self.mean.unwrap_or(match self.gas {
            Gas::O3 => 25.0,
            Gas::No2 => 20.0,
            Gas::So2 => 3.0,
            Gas::Co => 0.8,
        })
    }

    /// The relative diurnal amplitude: `diurnal-amplitude`, or the gas's default.
    pub fn amplitude_or_default(&self) -> f64 {
        self.diurnal_amplitude.unwrap_or(match self.gas {
            Gas::O3 => 0.8,
            Gas::No2 => 0.4,
            Gas::So2 => 0.0,
            Gas::Co => 0.35,
        })
    }

    /// Check every value; the message names the gas and the key.
    pub(super) fn validate(&self) -> Result<(), String> {
        let name = self.gas.name();
        let amplitude = self.amplitude_or_default();
        in_range(
            &format!("{name} mean"),
            self.mean_or_default(),
            self.gas.range(),
        )?;
        in_range(&format!("{name} diurnal-amplitude"), amplitude, 0.0..=1.0)?;
        in_range(&format!("{name} noise"), self.noise, 0.0..1.0)
    }
}

/// A diurnal gas concentration model.
#[derive(Debug, Clone, PartialEq)]
pub struct GasModel {
    gas: Gas,
    mean: f64,
    amplitude: f64,
    noise: f64,
    longitude: f64,
    seed: u64,
}

impl GasModel {
    /// The model of `spec` at `longitude` (degrees east).
    pub fn new(spec: &GasSpec, longitude: f64, seed: u64) -> Self {
        Self {
            gas: spec.gas,
            mean: spec.mean_or_default(),
            amplitude: spec.amplitude_or_default(),
            noise: spec.noise,
            longitude,
            seed,
        }
    }

    /// Concentration at `unix_ms`, in the gas's unit (never negative).
    pub fn at(&self, unix_ms: u64) -> f64 {
        let h = solar_hour(unix_ms, self.longitude);
        let shape = match self.gas {
            Gas::O3 => (TAU * (h - 14.0) / 24.0).cos(),
            Gas::No2 | Gas::Co => (TAU * (h - 7.5) / 12.0).cos(),
            Gas::So2 => 0.0,
        };
        let salt = GAS_SALT + self.gas as u64;
        let jitter = unit_noise(self.seed, salt, unix_ms / NOISE_BUCKET_MS);
        (self.mean * (1.0 + self.amplitude * shape) * (1.0 + self.noise * jitter)).max(0.0)
    }
}

/// A [`GasCell`] reading a [`GasModel`] at the clock's now.
pub struct SimGasCell {
    model: GasModel,
    clock: Arc<dyn TimeSource>,
}

impl SimGasCell {
    /// A cell of `model`, read at `clock`'s time.
    pub fn new(model: GasModel, clock: Arc<dyn TimeSource>) -> Self {
        Self { model, clock }
    }
}

impl GasCell for SimGasCell {
    fn sample(&mut self) -> Result<Option<f64>, HwError> {
        Ok(Some(self.model.at(self.clock.now_ms())))
    }
}

/// `Ok` if `value` is a finite number within `range`, else a message naming `key`.
fn in_range(key: &str, value: f64, range: impl RangeBounds<f64> + Debug) -> Result<(), String> {
    if value.is_finite() && range.contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "{key} must be a finite number in {range:?}, got {value}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: u64 = 3_600_000;
    /// 2027-01-15T00:00Z, in the haze season.
    const DAY: u64 = 1_799_971_200_000;

    fn model(spec: DrySeasonSpec) -> DrySeasonModel {
        // Longitude 0 so that UTC hours are solar hours.
        DrySeasonModel::new(&spec, 0.0, 7, DAY)
    }

    fn quiet() -> DrySeasonModel {
        model(DrySeasonSpec {
            noise: 0.0,
            ..DrySeasonSpec::default()
        })
    }

    /// The hour of the day (0..24) at which `m` is highest, or lowest.
    fn hour_of(m: &DrySeasonModel, highest: bool) -> Option<u64> {
        let at = |h: &u64| m.pm25_at(DAY + h * HOUR);
        if highest {
            (0..24).max_by(|a, b| at(a).total_cmp(&at(b)))
        } else {
            (0..24).min_by(|a, b| at(a).total_cmp(&at(b)))
        }
    }

    #[test]
    fn morning_peak_afternoon_trough_evening_bump() {
        let m = quiet();
        assert_eq!(hour_of(&m, true), Some(8));
        assert_eq!(hour_of(&m, false), Some(15));
        let at = |h: u64| m.pm25_at(DAY + h * HOUR);
        assert!(at(21) > at(18) && at(21) > at(2), "evening peak");
        assert!(
            (at(8) - 45.0 * 1.35).abs() < 0.01,
            "peak is mean × (1 + amplitude)"
        );
        // The shape averages to zero, so the daily mean is `mean-pm25`.
        let mean = (0..1440)
            .map(|minute| m.pm25_at(DAY + minute * 60_000))
            .sum::<f64>()
            / 1440.0;
        assert!((mean - 45.0).abs() < 1e-9, "{mean}");
        // With the default ±8 % noise the extremes stay in the morning and the afternoon.
        let noisy = model(DrySeasonSpec::default());
        assert!(hour_of(&noisy, true).is_some_and(|h| (7..=9).contains(&h)));
        assert!(hour_of(&noisy, false).is_some_and(|h| (14..=16).contains(&h)));
    }

    #[test]
    fn solar_time_follows_longitude() {
        let spec = DrySeasonSpec {
            noise: 0.0,
            ..DrySeasonSpec::default()
        };
        // At 105° E solar time runs 7 h ahead of UTC: the 08:00 peak is at 01:00 UTC.
        let east = DrySeasonModel::new(&spec, 105.0, 0, DAY);
        assert_eq!(hour_of(&east, true), Some(1));
    }

    #[test]
    fn deterministic_and_noisy_within_bounds() {
        let (a, b) = (
            model(DrySeasonSpec::default()),
            model(DrySeasonSpec::default()),
        );
        let quiet = quiet();
        let mut differs = false;
        for t in (DAY..DAY + 86_400_000).step_by(600_000) {
            assert_eq!(a.pm25_at(t), b.pm25_at(t));
            let ratio = a.pm25_at(t) / quiet.pm25_at(t);
            assert!((0.92..=1.08).contains(&ratio), "{ratio}");
            differs |= ratio != 1.0;
        }
        assert!(differs);
        let other_seed = DrySeasonModel::new(&DrySeasonSpec::default(), 0.0, 8, DAY);
        assert_ne!(other_seed.pm25_at(DAY), a.pm25_at(DAY));
    }

    #[test]
    fn trend_raises_or_lowers_the_mean_from_its_start() {
        let rising = model(DrySeasonSpec {
            trend_per_day: 5.0,
            noise: 0.0,
            ..DrySeasonSpec::default()
        });
        assert_eq!(
            rising.daily_mean_at(DAY - HOUR),
            45.0,
            "no trend before the start"
        );
        assert_eq!(rising.daily_mean_at(DAY + 10 * 24 * HOUR), 95.0);
        let base = quiet();
        // Three days in, the daily mean is 60 instead of 45; the shape scales with it.
        let t = DAY + 3 * 24 * HOUR;
        assert!((rising.pm25_at(t) / base.pm25_at(t) - 60.0 / 45.0).abs() < 1e-9);
        let falling = model(DrySeasonSpec {
            trend_per_day: -10.0,
            trend_start_ms: Some(DAY - 24 * HOUR),
            ..DrySeasonSpec::default()
        });
        assert_eq!(falling.daily_mean_at(DAY), 35.0, "explicit start");
        assert_eq!(
            falling.pm25_at(DAY + 30 * 24 * HOUR),
            0.0,
            "clamped at zero"
        );
    }

    #[test]
    fn replay_takes_precedence_and_pm10_follows() {
        let spec = ParticulateSpec {
            protocol: Protocol::Sds011,
            line_noise: 0.0,
            model: DrySeasonSpec {
                noise: 0.0,
                ..DrySeasonSpec::default()
            },
            replay_pm25: vec![(DAY + 2 * HOUR, 80.0), (DAY + HOUR, 70.0)],
            replay_pm10: Vec::new(),
        };
        let source = ParticulateSource::new(&spec, 0.0, 0, DAY);
        assert_eq!(source.reading_at(DAY), None, "before the first point");
        let r = source.reading_at(DAY + HOUR + 1).unwrap();
        assert_eq!((r.pm2_5, r.pm10, r.pm1_0), (70.0, 112.0, Some(52.5)));
        let both = ParticulateSpec {
            replay_pm10: vec![(DAY + 3 * HOUR, 150.0)],
            ..spec.clone()
        };
        let source = ParticulateSource::new(&both, 0.0, 0, DAY);
        assert_eq!(source.reading_at(DAY + 2 * HOUR), None, "PM10 not started");
        let r = source.reading_at(DAY + 3 * HOUR).unwrap();
        assert_eq!((r.pm2_5, r.pm10), (80.0, 150.0));
        let modelled = ParticulateSpec {
            replay_pm25: Vec::new(),
            ..spec
        };
        let r = ParticulateSource::new(&modelled, 0.0, 0, DAY)
            .reading_at(DAY + 8 * HOUR)
            .unwrap();
        assert!((r.pm2_5 - 60.75).abs() < 0.01, "{r:?}");
    }

    #[test]
    fn gases_follow_their_cycles() {
        let spec = |gas| GasSpec {
            gas,
            mean: None,
            diurnal_amplitude: None,
            noise: 0.0,
        };
        let at = |m: &GasModel, h: u64| m.at(DAY + h * HOUR);
        let o3 = GasModel::new(&spec(Gas::O3), 0.0, 1);
        assert!((at(&o3, 14) - 45.0).abs() < 1e-9 && (at(&o3, 2) - 5.0).abs() < 1e-9);
        let no2 = GasModel::new(&spec(Gas::No2), 0.0, 1);
        assert!(at(&no2, 8) > at(&no2, 13) && at(&no2, 20) > at(&no2, 2));
        let so2 = GasModel::new(&spec(Gas::So2), 0.0, 1);
        assert_eq!(at(&so2, 3), at(&so2, 15));
        let co = GasModel::new(
            &GasSpec {
                mean: Some(2.0),
                noise: 0.05,
                ..spec(Gas::Co)
            },
            0.0,
            1,
        );
        for h in 0..24 {
            let v = at(&co, h);
            assert!(
                v > 2.0 * 0.65 * 0.95 - 1e-9 && v < 2.0 * 1.35 * 1.05 + 1e-9,
                "{v}"
            );
        }
    }

    #[test]
    fn validation_names_the_key() {
        let bad = DrySeasonSpec {
            pm10_ratio: 0.5,
            ..DrySeasonSpec::default()
        };
        assert!(bad.validate().unwrap_err().contains("pm10-ratio"));
        let nan = DrySeasonSpec {
            mean_pm25: f64::NAN,
            ..DrySeasonSpec::default()
        };
        assert!(nan.validate().unwrap_err().contains("mean-pm25"));
        let gas = GasSpec {
            gas: Gas::Co,
            mean: Some(5_000.0),
            diurnal_amplitude: None,
            noise: 0.05,
        };
        assert!(gas.validate().unwrap_err().contains("co mean"));
    }
}
