//! `[health]` in `pole.toml`: when a finding is amber or red, and the thermal derating.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `[health]`: thresholds of the pole's health checks.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct HealthConfig {
    /// How often the checks run, in seconds (the summary goes upstream every
    /// `timing.health-interval-s`, and a change at once).
    pub check_interval_s: u64,
    /// The box's SoC temperature at which inference is derated (amber), °C. A Raspberry
    /// Pi 4 starts throttling its CPU at 80 °C.
    pub cpu_derate_at_c: f64,
    /// The SoC temperature at which inference is cut to `critical-duty` (red), °C.
    pub cpu_critical_at_c: f64,
    /// How far the temperature must fall below a threshold to lift its derating, °C.
    pub cpu_hysteresis_c: f64,
    /// Share of time inference may run while derated.
    pub derate_duty: f64,
    /// Share of time inference may run at the critical temperature.
    pub critical_duty: f64,
    /// Free space on the data directory's file system below which disk is amber, %.
    pub disk_warn_free_percent: f64,
    /// … and red, %.
    pub disk_critical_free_percent: f64,
    /// Available memory below which memory is amber, %.
    pub memory_warn_available_percent: f64,
    /// … and red, %.
    pub memory_critical_available_percent: f64,
    /// A lamp at or above this level (percent) is checked against its power meter.
    pub lamp_check_min_level: f64,
    /// A checked lamp drawing less than this share of the power its level needs has
    /// failed (a dead LED module, a broken driver, a cut cable).
    pub lamp_min_power_ratio: f64,
    /// A plugin that restarted within this many seconds is amber.
    pub plugin_restart_window_s: u64,
    /// An uplink down for this many seconds is amber (the pole works on; records queue).
    pub uplink_offline_warn_s: u64,
    /// Daily output self-test at this pole-local time, `HH:MM` (empty: never).
    pub self_test_at: String,
    /// Plausible range `[min, max]` of sensors by name, overriding the built-in ranges;
    /// a value outside is amber (a sensor reading nonsense is as bad as a silent one).
    pub sensor_ranges: BTreeMap<String, [f64; 2]>,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            check_interval_s: 10,
            cpu_derate_at_c: 75.0,
            cpu_critical_at_c: 85.0,
            cpu_hysteresis_c: 3.0,
            derate_duty: 0.5,
            critical_duty: 0.2,
            disk_warn_free_percent: 15.0,
            disk_critical_free_percent: 5.0,
            memory_warn_available_percent: 15.0,
            memory_critical_available_percent: 5.0,
            lamp_check_min_level: 10.0,
            lamp_min_power_ratio: 0.5,
            plugin_restart_window_s: 3600,
            uplink_offline_warn_s: 1800,
            self_test_at: "10:00".into(),
            sensor_ranges: BTreeMap::new(),
        }
    }
}

/// Plausible ranges of the sensors sao knows, by name: beyond the physics of a pole.
const BUILT_IN_RANGES: [(&str, [f64; 2]); 11] = [
    ("lux", [0.0, 200_000.0]),
    ("temperature", [-10.0, 60.0]),
    ("cpu-temperature", [-10.0, 110.0]),
    ("humidity", [0.0, 100.0]),
    ("pm1", [0.0, 1_000.0]),
    ("pm25", [0.0, 1_000.0]),
    ("pm10", [0.0, 2_000.0]),
    ("o3", [0.0, 1_000.0]),
    ("no2", [0.0, 2_000.0]),
    ("co", [0.0, 100.0]),
    ("so2", [0.0, 2_000.0]),
];

impl HealthConfig {
    /// Checks the thresholds are ordered and in range.
    pub fn validate(&self) -> Result<(), String> {
        let fraction = |name: &str, v: f64| {
            if v > 0.0 && v <= 1.0 {
                Ok(())
            } else {
                Err(format!("health.{name} must be in (0, 1], got {v}"))
            }
        };
        fraction("derate-duty", self.derate_duty)?;
        fraction("critical-duty", self.critical_duty)?;
        fraction("lamp-min-power-ratio", self.lamp_min_power_ratio)?;
        if self.check_interval_s == 0 {
            return Err("health.check-interval-s must be at least 1".into());
        }
        if self.cpu_derate_at_c.partial_cmp(&self.cpu_critical_at_c)
            != Some(std::cmp::Ordering::Less)
            || self.cpu_hysteresis_c < 0.0
        {
            return Err(format!(
                "health: cpu-derate-at-c ({}) must be below cpu-critical-at-c ({}), and the hysteresis not negative",
                self.cpu_derate_at_c, self.cpu_critical_at_c
            ));
        }
        for (what, warn, critical) in [
            (
                "disk",
                self.disk_warn_free_percent,
                self.disk_critical_free_percent,
            ),
            (
                "memory",
                self.memory_warn_available_percent,
                self.memory_critical_available_percent,
            ),
        ] {
            if !(0.0..=100.0).contains(&critical) || !(critical..=100.0).contains(&warn) {
                return Err(format!(
                    "health: the {what} thresholds must satisfy 0 <= critical ({critical}) <= warn ({warn}) <= 100"
                ));
            }
        }
        if let Some((name, [min, max])) = self.sensor_ranges.iter().find(|(_, [a, b])| a >= b) {
            return Err(format!(
                "health.sensor-ranges.{name}: min {min} must be below max {max}"
            ));
        }
        if !self.self_test_at.is_empty() {
            self.self_test_minute()?;
        }
        Ok(())
    }

    /// The plausible range of sensor `name`, if sao knows one.
    pub fn range(&self, name: &str) -> Option<[f64; 2]> {
        self.sensor_ranges.get(name).copied().or_else(|| {
            BUILT_IN_RANGES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, r)| *r)
        })
    }

    /// Minute of the pole-local day of the daily self-test, if there is one.
    pub fn self_test_minute(&self) -> Result<Option<u32>, String> {
        if self.self_test_at.is_empty() {
            return Ok(None);
        }
        chrono::NaiveTime::parse_from_str(&self.self_test_at, "%H:%M")
            .map(|t| Some(chrono::Timelike::hour(&t) * 60 + chrono::Timelike::minute(&t)))
            .map_err(|_| {
                format!(
                    "health.self-test-at must be a time of day such as \"10:00\", got {:?}",
                    self.self_test_at
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<HealthConfig, String> {
        let config: HealthConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        config.validate().map(|()| config)
    }

    #[test]
    fn defaults_validate_and_bad_thresholds_are_named() {
        let config = parse("").unwrap();
        assert_eq!(config.self_test_minute(), Ok(Some(600)));
        assert_eq!(config.range("pm25"), Some([0.0, 1_000.0]));
        assert_eq!(config.range("no-such-sensor"), None);
        let custom = parse("sensor-ranges = { pm25 = [0, 500], wind = [0, 60] }").unwrap();
        assert_eq!(custom.range("pm25"), Some([0.0, 500.0]));
        assert_eq!(custom.range("wind"), Some([0.0, 60.0]));

        for (text, needle) in [
            ("cpu-derate-at-c = 90", "cpu-critical-at-c"),
            ("derate-duty = 0", "derate-duty"),
            ("disk-warn-free-percent = 2", "disk thresholds"),
            (
                "memory-critical-available-percent = 120",
                "memory thresholds",
            ),
            ("sensor-ranges = { lux = [5, 1] }", "sensor-ranges.lux"),
            ("self-test-at = \"25:00\"", "self-test-at"),
            ("check-interval-s = 0", "check-interval-s"),
            ("cpu-limit = 3", "unknown field"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
