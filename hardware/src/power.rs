//! Lamp power and energy model.
//!
//! A basic pole has no metering chip, so energy is *modelled* from the dimming level.
//!
//! # Model
//!
//! An LED street-lamp driver draws a small standby power (control electronics, dimming
//! interface; typically 0.3–1 W for DALI/0–10 V drivers) plus a share of its rated power
//! that is close to proportional to the light output:
//!
//! ```text
//! P(level) = standby_watts                                 if level == 0
//! P(level) = standby_watts + rated_watts * level / 100     otherwise
//! ```
//!
//! Both branches agree at `level == 0`, so `P` is one affine function of the level on the
//! whole 0..=100 range: there is no step at 0. Real drivers lose some efficiency at deep
//! dimming levels; this model ignores that (it overestimates savings by a few percent at
//! levels below ~20 %).
//!
//! # Exact integration
//!
//! During a linear fade the level is linear in time, hence so is `P`, and the trapezoid
//! rule `(P(a) + P(b)) / 2 * Δt` is the *exact* integral — including fades to or from 0.
//! [`Fade::energy_wh`] splits an interval at the fade's start and end so each piece is
//! linear, which makes accumulated energy independent of how often it is sampled.

use crate::HwError;

/// Standby power used when a configuration does not give one, in W.
pub const DEFAULT_STANDBY_WATTS: f64 = 0.5;

/// Serde default for `standby-watts` fields.
pub(crate) fn default_standby_watts() -> f64 {
    DEFAULT_STANDBY_WATTS
}

const MS_PER_HOUR: f64 = 3_600_000.0;

/// Power model of one lamp (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerModel {
    rated_watts: f64,
    standby_watts: f64,
}

impl PowerModel {
    /// A model for a lamp drawing `rated_watts` at 100 % on top of `standby_watts`.
    /// Both must be finite and non-negative.
    pub fn new(rated_watts: f64, standby_watts: f64) -> Result<Self, HwError> {
        if !(rated_watts.is_finite() && rated_watts >= 0.0) {
            return Err(HwError::Config(format!(
                "rated watts must be finite and >= 0, got {rated_watts}"
            )));
        }
        if !(standby_watts.is_finite() && standby_watts >= 0.0) {
            return Err(HwError::Config(format!(
                "standby watts must be finite and >= 0, got {standby_watts}"
            )));
        }
        Ok(Self {
            rated_watts,
            standby_watts,
        })
    }

    /// Power at 100 % excluding standby, in W.
    pub fn rated_watts(&self) -> f64 {
        self.rated_watts
    }

    /// Standby power, in W.
    pub fn standby_watts(&self) -> f64 {
        self.standby_watts
    }

    /// Power draw at `level` percent (clamped to 0..=100), in W.
    pub fn watts(&self, level: f64) -> f64 {
        self.standby_watts + self.rated_watts * level.clamp(0.0, 100.0) / 100.0
    }

    /// Exact energy, in Wh, of a linear ramp from `from_level` to `to_level` lasting
    /// `duration_ms` (a constant level when both are equal).
    pub fn ramp_energy_wh(&self, from_level: f64, to_level: f64, duration_ms: u64) -> f64 {
        (self.watts(from_level) + self.watts(to_level)) / 2.0 * duration_ms as f64 / MS_PER_HOUR
    }
}

/// A linear fade from `from` at `start_ms` to `to` at `start_ms + duration_ms`; the level is
/// `from` before the start and `to` after the end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fade {
    /// Level at the start of the fade, in percent.
    pub from: f64,
    /// Level at the end of the fade (the target), in percent.
    pub to: f64,
    /// Start time, Unix ms.
    pub start_ms: u64,
    /// Fade length in ms; 0 is a step.
    pub duration_ms: u64,
}

impl Fade {
    /// A constant `level` from `at_ms` on.
    pub fn steady(level: f64, at_ms: u64) -> Self {
        Self {
            from: level,
            to: level,
            start_ms: at_ms,
            duration_ms: 0,
        }
    }

    /// Time at which the target is reached.
    pub fn end_ms(&self) -> u64 {
        self.start_ms.saturating_add(self.duration_ms)
    }

    /// Level at time `t_ms`.
    pub fn level_at(&self, t_ms: u64) -> f64 {
        if t_ms >= self.end_ms() {
            self.to
        } else if t_ms <= self.start_ms {
            self.from
        } else {
            let frac = (t_ms - self.start_ms) as f64 / self.duration_ms as f64;
            self.from + (self.to - self.from) * frac
        }
    }

    /// Exact energy in Wh drawn between `t0_ms` and `t1_ms` (0 if `t1_ms <= t0_ms`).
    pub fn energy_wh(&self, model: &PowerModel, t0_ms: u64, t1_ms: u64) -> f64 {
        if t1_ms <= t0_ms {
            return 0.0;
        }
        // Hold `from` until the start, ramp linearly, hold `to` after the end; each piece
        // is linear, so its trapezoid is exact (a zero-length fade is a step at the start).
        let start = self.start_ms.clamp(t0_ms, t1_ms);
        let end = self.end_ms().clamp(t0_ms, t1_ms);
        let before = model.ramp_energy_wh(self.from, self.from, start - t0_ms);
        let ramp = if end > start {
            model.ramp_energy_wh(self.level_at(start), self.level_at(end), end - start)
        } else {
            0.0
        };
        let after = model.ramp_energy_wh(self.to, self.to, t1_ms - end);
        before + ramp + after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: u64 = 3_600_000;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn full_power_for_an_hour() {
        let m = PowerModel::new(100.0, 0.5).unwrap();
        let e = Fade::steady(100.0, 0).energy_wh(&m, 0, HOUR);
        assert!(close(e, 100.5));
        assert!(close(m.watts(0.0), 0.5));
        assert!(close(m.watts(150.0), 100.5));
    }

    #[test]
    fn fade_integral_is_exact_and_partition_independent() {
        let m = PowerModel::new(100.0, 0.5).unwrap();
        // 0 -> 100 over one hour starting at 10 min, observed from 0 to 2 h.
        let f = Fade {
            from: 0.0,
            to: 100.0,
            start_ms: HOUR / 6,
            duration_ms: HOUR,
        };
        let whole = f.energy_wh(&m, 0, 2 * HOUR);
        // standby for 2 h + 0 for 10 min + mean 50 W for 1 h + 100 W for 50 min.
        let expected = 0.5 * 2.0 + 50.0 + 100.0 * 50.0 / 60.0;
        assert!(close(whole, expected), "{whole} vs {expected}");
        // Summing over an irregular partition gives the same result.
        let cuts = [0, 7, 600_001, 1_234_567, 3_000_000, 4_200_000, 2 * HOUR];
        let parts: f64 = cuts.windows(2).map(|w| f.energy_wh(&m, w[0], w[1])).sum();
        assert!(close(parts, expected), "{parts} vs {expected}");
    }

    #[test]
    fn fade_to_zero_is_exact() {
        let m = PowerModel::new(60.0, 1.0).unwrap();
        let f = Fade {
            from: 80.0,
            to: 0.0,
            start_ms: 0,
            duration_ms: HOUR,
        };
        // Mean level 40 % for 1 h, then off for 1 h; standby throughout.
        assert!(close(f.energy_wh(&m, 0, 2 * HOUR), 2.0 + 24.0));
        assert_eq!(f.energy_wh(&m, 5, 5), 0.0);
        assert_eq!(f.energy_wh(&m, 9, 5), 0.0);
    }

    #[test]
    fn step_is_integrated_from_its_instant() {
        let m = PowerModel::new(100.0, 0.0).unwrap();
        let step = Fade {
            from: 0.0,
            to: 100.0,
            start_ms: HOUR,
            duration_ms: 0,
        };
        assert_eq!(step.level_at(HOUR - 1), 0.0);
        assert_eq!(step.level_at(HOUR), 100.0);
        assert!(close(step.energy_wh(&m, 0, 2 * HOUR), 100.0));
    }

    #[test]
    fn rejects_bad_watts() {
        assert!(PowerModel::new(f64::NAN, 0.0).is_err());
        assert!(PowerModel::new(10.0, -1.0).is_err());
    }
}
