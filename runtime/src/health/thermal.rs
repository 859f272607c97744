//! Thermal derating: the box's SoC temperature decides how much of the time inference may
//! run. Thai afternoons heat a closed pole cabinet well past the air temperature; cutting
//! the inference duty sheds heat before the kernel throttles the whole CPU (which would
//! slow the alarm path too). Each step down needs the temperature to fall a hysteresis
//! below its threshold, so the duty does not flap at the boundary.

use super::config::HealthConfig;

/// How hard inference is derated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Derating {
    /// Full rate.
    #[default]
    None,
    /// At `derate-duty`.
    Derated,
    /// At `critical-duty`.
    Critical,
}

impl Derating {
    /// The share of time inference may run at this derating.
    pub fn duty(self, config: &HealthConfig) -> f64 {
        match self {
            Derating::None => 1.0,
            Derating::Derated => config.derate_duty,
            Derating::Critical => config.critical_duty,
        }
    }

    /// The derating at `celsius`, coming from `self`.
    pub fn next(self, celsius: f64, config: &HealthConfig) -> Derating {
        let hot = |threshold: f64, now: Derating, level: Derating| {
            // Rising: reach the threshold; falling: get a hysteresis below it.
            if now >= level {
                celsius > threshold - config.cpu_hysteresis_c
            } else {
                celsius >= threshold
            }
        };
        if hot(config.cpu_critical_at_c, self, Derating::Critical) {
            Derating::Critical
        } else if hot(config.cpu_derate_at_c, self, Derating::Derated) {
            Derating::Derated
        } else {
            Derating::None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derating_steps_up_at_thresholds_and_down_after_the_hysteresis() {
        let config = HealthConfig::default(); // 75 / 85 °C, 3 °C hysteresis
        let mut d = Derating::None;
        let mut path = Vec::new();
        for celsius in [
            60.0, 74.9, 75.0, 84.0, 85.0, 83.0, 82.0, 78.0, 72.1, 72.0, 50.0,
        ] {
            d = d.next(celsius, &config);
            path.push(d);
        }
        use Derating::*;
        assert_eq!(
            path,
            [
                None, None, Derated, Derated, Critical, Critical, Derated, Derated, Derated, None,
                None
            ]
        );
        assert_eq!(Critical.duty(&config), 0.2);
        assert_eq!(None.duty(&config), 1.0);
    }
}
