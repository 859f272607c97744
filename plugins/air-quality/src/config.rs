//! The plugin's config: which AQI standard, how complete an average must be, the trend
//! alert, the KPI's gap rule and an optional beacon. `config.schema.json` in the package
//! describes the same document for operators; [`Config::from_json`] also checks what a
//! schema cannot (band numbers of the chosen standard, distinct beacon bands).

use std::collections::BTreeSet;

use sao_plugin_sdk::checks::fraction;
use serde::Deserialize;

use crate::aqi::Standard;
use crate::averaging::HOUR_MS;
use crate::kpi::KpiConfig;
use crate::trend::TrendConfig;

/// The whole config. Every field has a default, so `{}` is valid.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Config {
    /// The index reported: the Thai PCD's (default) or the US EPA's.
    pub standard: Standard,
    /// Share of an averaging window's hours that must be complete for the AQI to be
    /// valid (18 of 24 hours at the default 0.75). Until then a provisional AQI over the
    /// hours there are is published, flagged as such.
    pub min_completeness: f64,
    /// Share of an hour's 5-minute slots that must hold a reading for the hour to count.
    pub min_hour_coverage: f64,
    /// The trend alert.
    pub alert: AlertConfig,
    /// Longest gap between two hourly AQI values still counted in the daily time-in-band
    /// statistics, in hours; longer gaps are unknown time.
    pub max_gap_hours: f64,
    /// Outputs switched on while the AQI is in a band (a coloured beacon).
    pub beacon: Vec<BeaconRule>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            standard: Standard::ThaiPcd2023,
            min_completeness: 0.75,
            min_hour_coverage: 0.75,
            alert: AlertConfig::default(),
            max_gap_hours: 2.0,
            beacon: Vec::new(),
        }
    }
}

/// When to warn that the AQI is heading above a level, and when it is above it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct AlertConfig {
    /// The AQI level watched (100: the start of "starting to affect health" in the PCD
    /// index, "unhealthy for sensitive groups" in the EPA's).
    pub level: u32,
    /// How far ahead the trend is projected, hours.
    pub horizon_hours: f64,
    /// How many of the latest valid hourly values the trend is fitted to.
    pub trend_hours: u32,
    /// How far below the level the AQI (or its projection) must fall to clear an alert.
    pub hysteresis: u32,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            level: 100,
            horizon_hours: 6.0,
            trend_hours: 6,
            hysteresis: 10,
        }
    }
}

/// One beacon rule: `output` is on while the AQI is in band `band`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BeaconRule {
    /// Band number, 1 for the cleanest band of the standard.
    pub band: usize,
    /// Name of the pole's output (an alarm output such as `beacon-red`).
    pub output: String,
}

impl Config {
    /// Parses and validates a config document.
    pub fn from_json(json: &str) -> Result<Config, String> {
        sao_plugin_sdk::config::parse(json, Config::validate)
    }

    /// Checks ranges and that beacon rules name distinct bands of the chosen standard.
    pub fn validate(&self) -> Result<(), String> {
        fraction("min-completeness", self.min_completeness)?;
        fraction("min-hour-coverage", self.min_hour_coverage)?;
        let a = &self.alert;
        if !(1..=500).contains(&a.level) {
            return Err(format!("alert.level: must be 1-500, got {}", a.level));
        }
        if !(a.horizon_hours.is_finite() && a.horizon_hours > 0.0 && a.horizon_hours <= 48.0) {
            return Err("alert.horizon-hours: must be more than 0 and at most 48".into());
        }
        if !(3..=24).contains(&a.trend_hours) {
            return Err(format!(
                "alert.trend-hours: must be 3-24, got {}",
                a.trend_hours
            ));
        }
        if a.hysteresis >= a.level {
            return Err("alert.hysteresis: must be below alert.level".into());
        }
        if !(self.max_gap_hours.is_finite() && self.max_gap_hours >= 1.0) {
            return Err("max-gap-hours: must be at least 1".into());
        }
        let bands = self.standard.bands().len();
        let mut seen = BTreeSet::new();
        for rule in &self.beacon {
            if !(1..=bands).contains(&rule.band) {
                return Err(format!(
                    "beacon: band {} does not exist; the standard has bands 1-{bands}",
                    rule.band
                ));
            }
            if rule.output.is_empty() {
                return Err(format!("beacon: band {} names no output", rule.band));
            }
            if !seen.insert(rule.band) {
                return Err(format!("beacon: band {} has two rules", rule.band));
            }
        }
        Ok(())
    }

    /// The trend alert's settings.
    pub fn trend(&self) -> TrendConfig {
        TrendConfig {
            level: f64::from(self.alert.level),
            horizon_ms: (self.alert.horizon_hours * HOUR_MS as f64).round() as i64,
            hysteresis: f64::from(self.alert.hysteresis),
            min_slope_per_hour: 0.0,
        }
    }

    /// The KPI's settings at a pole `utc_offset_minutes` from UTC.
    pub fn kpi(&self, utc_offset_minutes: i32) -> KpiConfig {
        KpiConfig {
            standard: self.standard,
            utc_offset_minutes,
            max_gap_ms: (self.max_gap_hours * HOUR_MS as f64).round() as i64,
        }
    }

    /// The output for band number `band` (1-based), if a beacon rule names one.
    pub fn beacon_output(&self, band: usize) -> Option<&str> {
        self.beacon
            .iter()
            .find(|rule| rule.band == band)
            .map(|rule| rule.output.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_document_takes_the_defaults() {
        assert_eq!(Config::from_json("{}").unwrap(), Config::default());
    }

    #[test]
    fn rejects_what_a_schema_cannot_see() {
        let cases = [
            (
                r#"{"beacon":[{"band":6,"output":"b"}]}"#,
                "band 6 does not exist",
            ),
            (
                r#"{"standard":"us-epa-2024","beacon":[{"band":7,"output":"b"}]}"#,
                "bands 1-6",
            ),
            (
                r#"{"beacon":[{"band":4,"output":"a"},{"band":4,"output":"b"}]}"#,
                "two rules",
            ),
            (
                r#"{"alert":{"level":50,"hysteresis":50}}"#,
                "below alert.level",
            ),
            (r#"{"alert":{"trend-hours":2}}"#, "trend-hours"),
            (r#"{"min-completeness":1.5}"#, "min-completeness"),
            (r#"{"standard":"aqhi"}"#, "unknown variant"),
            (r#"{"levle":100}"#, "unknown field"),
        ];
        for (json, expected) in cases {
            let err = Config::from_json(json).unwrap_err();
            assert!(err.contains(expected), "{json}: {err}");
        }
    }
}
