//! The plugin's configuration: the JSON the operator pushes, as serde types.
//!
//! Every field has a default, so `{}` is a valid config: the elephant-like COCO labels,
//! confirmation on 3 of 5 detector frames, no zones, a warning that becomes an emergency
//! when the herd approaches, updates at most every 30 s, all-clear after 120 s.
//! `config.schema.json` next to `Cargo.toml` describes exactly these types (the host
//! validates against it before the plugin sees the config); [`Config::validate`]
//! re-checks the ranges and cross-references the schema cannot express, so a natively
//! built [`Config`] gets the same guarantees.

use std::collections::BTreeMap;

use sao_plugin_sdk::checks::fraction;
use sao_plugin_sdk_vision::Polygon;
use serde::{Deserialize, Serialize};

use crate::host::AlarmLevel;

/// Largest confirmation window, in detector frames.
pub const MAX_WINDOW: u32 = 50;

/// The whole plugin configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Config {
    /// Labels whose detections may be elephants, with their thresholds. A COCO
    /// detector often calls an elephant a horse or a cow, so those count too.
    pub labels: BTreeMap<String, LabelRule>,
    /// When a track counts as a confirmed sighting.
    pub confirm: Confirm,
    /// Named areas of the camera view, for the direction of travel.
    pub zones: Vec<Zone>,
    /// Movement that raises the alarm to `level.approaching`; `None` never does.
    pub approach: Option<Approach>,
    /// Minimum seconds between two updates of an incident's alarm (count, direction,
    /// snapshot). A level increase is never delayed.
    pub cooldown_s: u32,
    /// Seconds without a confirmed candidate after which an incident ends.
    pub all_clear_s: u32,
    /// Voice clip the pole plays with the alarm; `None` plays none.
    pub voice: Option<String>,
    /// Whether alarms carry an annotated snapshot of the frame.
    pub snapshot: bool,
    /// Alarm levels.
    pub level: Levels,
}

impl Default for Config {
    fn default() -> Self {
        let rule = |min_score| LabelRule {
            min_score,
            min_size_px: 24.0,
        };
        Config {
            labels: BTreeMap::from([
                ("elephant".to_string(), rule(0.30)),
                ("horse".to_string(), rule(0.40)),
                ("cow".to_string(), rule(0.40)),
                ("bear".to_string(), rule(0.40)),
            ]),
            confirm: Confirm::default(),
            zones: Vec::new(),
            approach: None,
            cooldown_s: 30,
            all_clear_s: 120,
            voice: Some("elephant-warning".to_string()),
            snapshot: true,
            level: Levels::default(),
        }
    }
}

/// Thresholds a detection of one label must pass to be a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LabelRule {
    /// Lowest detector score, 0–1.
    pub min_score: f64,
    /// Smallest shorter side of the box, in pixels.
    pub min_size_px: f64,
}

/// N-of-M confirmation: a track is confirmed when it was a candidate on at least `hits`
/// of the last `window` detector frames of its camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Confirm {
    /// Frames on which the track must be a candidate.
    pub hits: u32,
    /// Detector frames considered, at most [`MAX_WINDOW`].
    pub window: u32,
}

impl Default for Confirm {
    fn default() -> Self {
        Confirm { hits: 3, window: 5 }
    }
}

/// A named area of the camera view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Zone {
    /// Unique name, e.g. `forest`.
    pub name: String,
    /// Corners `[x, y]` in normalized frame coordinates (0–1, x to the right, y down).
    pub polygon: Polygon,
}

/// Movement that raises the alarm: from one zone toward another (forest → village).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Approach {
    /// Zone the herd comes from.
    pub from: String,
    /// Zone to protect.
    pub to: String,
}

/// Alarm level of an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Levels {
    /// Level of a confirmed sighting.
    pub initial: AlarmLevel,
    /// Level once the herd approaches (see [`Approach`]); at least `initial`.
    pub approaching: AlarmLevel,
}

impl Default for Levels {
    fn default() -> Self {
        Levels {
            initial: AlarmLevel::Warning,
            approaching: AlarmLevel::Emergency,
        }
    }
}

impl Config {
    /// Parses and validates a config document.
    pub fn from_json(json: &str) -> Result<Config, String> {
        sao_plugin_sdk::config::parse(json, Config::validate)
    }

    /// Checks ranges and references; the message names the offending field.
    pub fn validate(&self) -> Result<(), String> {
        if self.labels.is_empty() {
            return Err("labels: needs at least one label".into());
        }
        for (label, rule) in &self.labels {
            if label.is_empty() {
                return Err("labels: a label name is empty".into());
            }
            fraction(&format!("labels.{label}.min-score"), rule.min_score)?;
            if !(rule.min_size_px.is_finite() && rule.min_size_px >= 0.0) {
                return Err(format!(
                    "labels.{label}.min-size-px: must be a number >= 0, got {}",
                    rule.min_size_px
                ));
            }
        }
        let Confirm { hits, window } = self.confirm;
        if hits == 0 {
            return Err("confirm: hits must be at least 1".into());
        }
        if window > MAX_WINDOW {
            return Err(format!("confirm: window ({window}) exceeds {MAX_WINDOW}"));
        }
        if hits > window {
            return Err(format!("confirm: hits ({hits}) exceeds window ({window})"));
        }
        for (i, zone) in self.zones.iter().enumerate() {
            if zone.name.is_empty() {
                return Err(format!("zones[{i}].name: is empty"));
            }
            if let Some(j) = self.zones[..i].iter().position(|z| z.name == zone.name) {
                return Err(format!(
                    "zones[{i}].name: `{}` is already the name of zones[{j}]",
                    zone.name
                ));
            }
            zone.polygon.validate(&format!("zones[{i}].polygon"))?;
        }
        if let Some(approach) = &self.approach {
            for (field, name) in [("from", &approach.from), ("to", &approach.to)] {
                if self.zone(name).is_none() {
                    return Err(format!("approach.{field}: no zone named `{name}`"));
                }
            }
            if approach.from == approach.to {
                return Err(format!(
                    "approach: from and to are the same zone `{}`",
                    approach.from
                ));
            }
        }
        if self.all_clear_s == 0 {
            return Err("all-clear-s: must be at least 1".into());
        }
        if self.voice.as_deref() == Some("") {
            return Err("voice: is empty (null plays no voice clip)".into());
        }
        let Levels {
            initial,
            approaching,
        } = self.level;
        if approaching < initial {
            return Err(format!(
                "level: approaching ({}) is below initial ({})",
                level_name(approaching),
                level_name(initial)
            ));
        }
        Ok(())
    }

    /// The zone named `name`.
    pub fn zone(&self, name: &str) -> Option<&Zone> {
        self.zones.iter().find(|z| z.name == name)
    }
}

/// How the config spells `level`.
fn level_name(level: AlarmLevel) -> &'static str {
    match level {
        AlarmLevel::Advisory => "advisory",
        AlarmLevel::Warning => "warning",
        AlarmLevel::Emergency => "emergency",
    }
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

    /// A config with zones `forest` (left third) and `village` (right third), plus `extra`.
    fn with_zones(extra: &str) -> String {
        format!(
            r#"{{"zones": [
                {{"name": "forest", "polygon": [[0, 0], [0.3, 0], [0.3, 1], [0, 1]]}},
                {{"name": "village", "polygon": [[0.7, 0], [1, 0], [1, 1], [0.7, 1]]}}
            ]{extra}}}"#
        )
    }

    #[test]
    fn empty_config_is_the_default() {
        let config = Config::from_json("{}").unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.labels.len(), 4);
        assert_eq!(config.labels["elephant"].min_score, 0.30);
        assert_eq!(config.labels["cow"].min_score, 0.40);
        assert_eq!(config.confirm, Confirm { hits: 3, window: 5 });
        assert_eq!(config.voice.as_deref(), Some("elephant-warning"));
        assert_eq!(config.level.approaching, AlarmLevel::Emergency);
    }

    #[test]
    fn example_config_parses_and_validates() {
        let config = Config::from_json(EXAMPLE).unwrap();
        let approach = config.approach.as_ref().unwrap();
        assert_eq!(
            (approach.from.as_str(), approach.to.as_str()),
            ("forest", "village")
        );
        let (forest, village) = (
            config.zone("forest").unwrap(),
            config.zone("village").unwrap(),
        );
        assert!(forest.polygon.centroid().0 < 0.5 && village.polygon.centroid().0 > 0.5);
    }

    #[test]
    fn label_errors() {
        assert_eq!(
            error(r#"{"labels": {}}"#),
            "labels: needs at least one label"
        );
        assert_eq!(
            error(r#"{"labels": {"elephant": {"min-score": 1.5, "min-size-px": 24}}}"#),
            "labels.elephant.min-score: must be between 0 and 1, got 1.5"
        );
        assert_eq!(
            error(r#"{"labels": {"cow": {"min-score": 0.4, "min-size-px": -1}}}"#),
            "labels.cow.min-size-px: must be a number >= 0, got -1"
        );
        assert_eq!(
            error(r#"{"labels": {"": {"min-score": 0.4, "min-size-px": 1}}}"#),
            "labels: a label name is empty"
        );
    }

    #[test]
    fn confirm_errors() {
        assert_eq!(
            error(r#"{"confirm": {"hits": 0}}"#),
            "confirm: hits must be at least 1"
        );
        assert_eq!(
            error(r#"{"confirm": {"hits": 6, "window": 5}}"#),
            "confirm: hits (6) exceeds window (5)"
        );
        assert_eq!(
            error(r#"{"confirm": {"hits": 3, "window": 51}}"#),
            "confirm: window (51) exceeds 50"
        );
        Config::from_json(r#"{"confirm": {"hits": 50, "window": 50}}"#).unwrap();
    }

    #[test]
    fn zone_errors() {
        assert_eq!(
            error(
                r#"{"zones": [{"name": "a", "polygon": [[0, 0], [1, 0], [1, 1]]},
                              {"name": "b", "polygon": [[0, 0], [1, 1]]}]}"#
            ),
            "zones[1].polygon: needs at least 3 points, got 2"
        );
        assert_eq!(
            error(r#"{"zones": [{"name": "", "polygon": [[0, 0], [1, 0], [1, 1]]}]}"#),
            "zones[0].name: is empty"
        );
        assert_eq!(
            error(
                r#"{"zones": [{"name": "a", "polygon": [[0, 0], [1, 0], [1, 1]]},
                              {"name": "a", "polygon": [[0, 0], [1, 0], [0, 1]]}]}"#
            ),
            "zones[1].name: `a` is already the name of zones[0]"
        );
        assert_eq!(
            error(r#"{"zones": [{"name": "a", "polygon": [[0, 0], [1.2, 0.5], [1, 1]]}]}"#),
            "zones[0].polygon[1]: [1.2, 0.5] is outside the frame (coordinates are 0-1)"
        );
    }

    #[test]
    fn approach_errors() {
        Config::from_json(&with_zones(
            r#", "approach": {"from": "forest", "to": "village"}"#,
        ))
        .unwrap();
        assert_eq!(
            error(&with_zones(
                r#", "approach": {"from": "forest", "to": "villag"}"#
            )),
            "approach.to: no zone named `villag`"
        );
        assert_eq!(
            error(&with_zones(
                r#", "approach": {"from": "jungle", "to": "village"}"#
            )),
            "approach.from: no zone named `jungle`"
        );
        assert_eq!(
            error(&with_zones(
                r#", "approach": {"from": "forest", "to": "forest"}"#
            )),
            "approach: from and to are the same zone `forest`"
        );
        assert_eq!(
            error(r#"{"approach": {"from": "forest", "to": "village"}}"#),
            "approach.from: no zone named `forest`"
        );
    }

    #[test]
    fn other_errors() {
        assert_eq!(
            error(r#"{"level": {"initial": "emergency", "approaching": "warning"}}"#),
            "level: approaching (warning) is below initial (emergency)"
        );
        assert_eq!(
            error(r#"{"all-clear-s": 0}"#),
            "all-clear-s: must be at least 1"
        );
        assert_eq!(
            error(r#"{"voice": ""}"#),
            "voice: is empty (null plays no voice clip)"
        );
        assert_eq!(Config::from_json(r#"{"voice": null}"#).unwrap().voice, None);
        assert!(error(r#"{"cooldown": 5}"#).contains("unknown field `cooldown`"));
        assert!(error(r#"{"level": {"initial": "panic"}}"#).contains("panic"));
    }

    #[test]
    fn schema_describes_exactly_the_serde_types() {
        let full = serde_json::to_value(Config::from_json(EXAMPLE).unwrap()).unwrap();
        assert!(full["approach"].is_object() && full["zones"][0].is_object());
        let defaults = serde_json::to_value(Config::default()).unwrap();
        check_config_schema(SCHEMA, &full, &defaults);
    }
}
