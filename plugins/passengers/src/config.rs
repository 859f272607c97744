//! The plugin's configuration: the JSON the operator pushes, as serde types.
//!
//! Every field has a default, so `{}` is a valid config: the whole frame is the waiting
//! area, `person` detections scoring at least 0.3 count, a person waits after 3 s in the
//! area and has left when unseen for 5 s, one report a minute. `config.schema.json` next
//! to `Cargo.toml` describes exactly these types (the host validates against it before
//! the plugin sees the config); [`Config::validate`] re-checks the ranges the schema
//! states and what it cannot express, so a natively built [`Config`] gets the same
//! guarantees.

use sao_coco::COCO_CLASSES;
use sao_plugin_sdk::checks::{at_most, fraction, positive};
use sao_plugin_sdk_vision::Polygon;
use serde::{Deserialize, Serialize};

/// Shortest report period, seconds: the plugin's tick comes every 10 s.
pub const MIN_PERIOD_S: u32 = 10;
/// Longest report period, seconds: a day.
pub const MAX_PERIOD_S: u32 = 86_400;

/// The whole plugin configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Config {
    /// The waiting area, in normalized frame coordinates: a person is in it when the
    /// bottom centre of its box (the feet) is inside.
    pub zone: Polygon,
    /// Detector labels counted as people.
    pub labels: Vec<String>,
    /// Lowest detector score a detection needs to be used.
    pub min_score: f64,
    /// Seconds a track must stay in the zone before it counts as waiting.
    pub dwell_s: f64,
    /// Seconds a track may go unseen before it has left.
    pub lost_after_s: f64,
    /// Length of a report period, seconds; periods start on multiples of it (UTC).
    pub period_s: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            zone: Polygon(vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]),
            labels: vec!["person".to_string()],
            min_score: 0.3,
            dwell_s: 3.0,
            lost_after_s: 5.0,
            period_s: 60,
        }
    }
}

impl Config {
    /// Parses and validates a config document.
    pub fn from_json(json: &str) -> Result<Config, String> {
        sao_plugin_sdk::config::parse(json, Config::validate)
    }

    /// Checks ranges and labels; the message names the offending field.
    pub fn validate(&self) -> Result<(), String> {
        self.zone.validate("zone")?;
        if self.labels.is_empty() {
            return Err("labels: needs at least one label".into());
        }
        for (i, label) in self.labels.iter().enumerate() {
            if !COCO_CLASSES.contains(&label.as_str()) {
                return Err(format!(
                    "labels[{i}]: `{label}` is not a label of the detector (COCO: person, bicycle, car, ...)"
                ));
            }
            if let Some(j) = self.labels[..i].iter().position(|l| l == label) {
                return Err(format!("labels[{i}]: `{label}` is already labels[{j}]"));
            }
        }
        fraction("min-score", self.min_score)?;
        if !(self.dwell_s.is_finite() && self.dwell_s >= 0.0) {
            return Err(format!(
                "dwell-s: must be a number >= 0, got {}",
                self.dwell_s
            ));
        }
        positive("lost-after-s", self.lost_after_s)?;
        if self.period_s < MIN_PERIOD_S {
            return Err(format!(
                "period-s: must be at least {MIN_PERIOD_S}, got {}",
                self.period_s
            ));
        }
        at_most("period-s", self.period_s.into(), MAX_PERIOD_S.into())
    }

    /// Whether detections labelled `label` are people.
    pub fn counts_label(&self, label: &str) -> bool {
        self.labels.iter().any(|l| l == label)
    }

    /// [`Config::dwell_s`] in milliseconds.
    pub fn dwell_ms(&self) -> u64 {
        millis(self.dwell_s)
    }

    /// [`Config::lost_after_s`] in milliseconds.
    pub fn lost_after_ms(&self) -> u64 {
        millis(self.lost_after_s)
    }

    /// [`Config::period_s`] in milliseconds.
    pub fn period_ms(&self) -> u64 {
        u64::from(self.period_s) * 1000
    }
}

/// Seconds as whole milliseconds.
fn millis(seconds: f64) -> u64 {
    (seconds * 1000.0).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use sao_plugin_sdk::testing::check_config_schema;

    const EXAMPLE: &str = include_str!("../config.example.json");
    const SCHEMA: &str = include_str!("../config.schema.json");

    fn error(json: &str) -> String {
        Config::from_json(json).unwrap_err()
    }

    #[test]
    fn empty_config_is_the_default() {
        let config = Config::from_json("{}").unwrap();
        assert_eq!(config, Config::default());
        assert!(config.counts_label("person"));
        assert!(!config.counts_label("bicycle"));
        assert_eq!(
            (
                config.dwell_ms(),
                config.lost_after_ms(),
                config.period_ms()
            ),
            (3000, 5000, 60_000)
        );
    }

    #[test]
    fn example_config_parses_and_validates() {
        let config = Config::from_json(EXAMPLE).unwrap();
        assert_ne!(config.zone, Config::default().zone);
        assert_eq!(config.dwell_ms(), 5000);
        assert_eq!(config.period_s, 300);
    }

    #[test]
    fn every_error_names_its_field() {
        assert_eq!(
            error(r#"{"zone": [[0, 0], [1, 1]]}"#),
            "zone: needs at least 3 points, got 2"
        );
        assert_eq!(
            error(r#"{"zone": [[0, 0.5], [1.5, 0.5], [1, 1]]}"#),
            "zone[1]: [1.5, 0.5] is outside the frame (coordinates are 0-1)"
        );
        assert_eq!(
            error(r#"{"labels": []}"#),
            "labels: needs at least one label"
        );
        assert_eq!(
            error(r#"{"labels": ["person", "pedestrian"]}"#),
            "labels[1]: `pedestrian` is not a label of the detector (COCO: person, bicycle, car, ...)"
        );
        assert_eq!(
            error(r#"{"labels": ["person", "person"]}"#),
            "labels[1]: `person` is already labels[0]"
        );
        assert_eq!(
            error(r#"{"min-score": 1.5}"#),
            "min-score: must be between 0 and 1, got 1.5"
        );
        assert_eq!(
            error(r#"{"dwell-s": -1}"#),
            "dwell-s: must be a number >= 0, got -1"
        );
        assert_eq!(
            error(r#"{"lost-after-s": 0}"#),
            "lost-after-s: must be a number > 0, got 0"
        );
        assert_eq!(
            error(r#"{"period-s": 5}"#),
            "period-s: must be at least 10, got 5"
        );
        assert_eq!(
            error(r#"{"period-s": 90000}"#),
            "period-s: must be at most 86400, got 90000"
        );
        assert!(error(r#"{"dwell": 3}"#).contains("unknown field `dwell`"));
        assert!(error(r#"{"period-s": 1.5}"#).starts_with("invalid config: "));
        // No dwell: everyone in the zone waits from the first frame.
        assert_eq!(
            Config::from_json(r#"{"dwell-s": 0}"#).unwrap().dwell_ms(),
            0
        );
    }

    #[test]
    fn schema_describes_exactly_the_serde_types() {
        let full = serde_json::to_value(Config::from_json(EXAMPLE).unwrap()).unwrap();
        let defaults = serde_json::to_value(Config::default()).unwrap();
        check_config_schema(SCHEMA, &full, &defaults);
    }
}
