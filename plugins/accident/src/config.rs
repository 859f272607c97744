//! The plugin's configuration: the JSON the operator pushes, as serde types.
//!
//! Every field has a default, so `{}` is a valid config: the COCO labels of road users,
//! no zones (so no stalled-vehicle, wrong-way or pedestrian events, which need lanes and
//! a carriageway; collisions and counts work everywhere), no ground-plane calibration
//! (speeds in pixels), 15-minute traffic counts. `config.schema.json` next to
//! `Cargo.toml` describes exactly these types (the host validates against it before the
//! plugin sees the config); [`Config::validate`] re-checks the ranges and references the
//! schema cannot express, so a natively built [`Config`] gets the same guarantees.
//!
//! Speed thresholds are in *box sizes per second* (the square root of the box's area,
//! in pixels): a car crossing its own length in a second moves at about 1 size/s
//! whether it is near the camera or far, so one threshold holds across the view
//! without a calibration.

use std::collections::BTreeMap;

use sao_coco::COCO_CLASSES;
use sao_plugin_sdk::checks::{self, at_most, fraction, positive};
use sao_plugin_sdk_vision::Polygon;
use serde::{Deserialize, Serialize};

use crate::kinematics::HISTORY_MS;
use crate::road_user::RoadUser;

/// The longest a rule may look back, seconds: three collision windows (before, the
/// braking before that, after) or the wrong-way time must fit in a track's history.
pub const MAX_WINDOW_S: f64 = (HISTORY_MS / 1000 / 3) as f64;

/// The whole plugin configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Config {
    /// Which detector labels are which road users. Labels not listed are ignored.
    pub classes: BTreeMap<String, RoadUser>,
    /// Lowest detector score a detection needs to be used.
    pub min_score: f64,
    /// Named areas of the camera view: lanes, the carriageway, shoulders, sidewalks.
    pub zones: Vec<Zone>,
    /// Ground-plane calibration: speeds and headings in metres; `None` keeps pixels.
    pub calibration: Option<Calibration>,
    /// When two road users meeting is a collision.
    pub collision: CollisionRule,
    /// When a vehicle standing in a lane is stalled.
    pub stall: StallRule,
    /// When a vehicle drives against its lane's direction.
    pub wrong_way: WrongWayRule,
    /// When a person in the carriageway is reported.
    pub pedestrian: PedestrianRule,
    /// When a vehicle's hard stop is reported.
    pub sudden_stop: SuddenStopRule,
    /// Traffic counts.
    pub counts: Counts,
    /// Seconds a track may go unseen before it is forgotten.
    pub lost_after_s: f64,
    /// Seconds an incident's condition must be gone before the incident is closed.
    pub clear_after_s: f64,
    /// Minimum seconds between two updates of an incident (a higher severity is never
    /// delayed).
    pub update_every_s: f64,
    /// Whether incident reports carry an annotated snapshot (people and plates blurred
    /// by the pole).
    pub snapshot: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            classes: RoadUser::coco_defaults(),
            min_score: 0.3,
            zones: Vec::new(),
            calibration: None,
            collision: CollisionRule::default(),
            stall: StallRule::default(),
            wrong_way: WrongWayRule::default(),
            pedestrian: PedestrianRule::default(),
            sudden_stop: SuddenStopRule::default(),
            counts: Counts::default(),
            lost_after_s: 5.0,
            clear_after_s: 10.0,
            update_every_s: 10.0,
            snapshot: true,
        }
    }
}

/// What a zone is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ZoneKind {
    /// A traffic lane, with its allowed direction; part of the carriageway.
    Lane,
    /// Road surface for traffic (lanes, junction boxes, ...).
    Carriageway,
    /// A hard shoulder: people and stopped vehicles may be there.
    Shoulder,
    /// A footway: people belong there.
    Sidewalk,
}

impl ZoneKind {
    /// Whether the zone is road surface for traffic.
    pub fn is_carriageway(self) -> bool {
        matches!(self, ZoneKind::Lane | ZoneKind::Carriageway)
    }
}

/// A named area of the camera view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Zone {
    /// Unique name, e.g. `northbound-1`; also the direction traffic counts use.
    pub name: String,
    /// What the zone is.
    pub kind: ZoneKind,
    /// Corners `[x, y]` in normalized frame coordinates (0–1, x to the right, y down).
    pub polygon: Polygon,
    /// A lane's allowed direction of travel as a vector `[dx, dy]` in the frame (x to
    /// the right, y down): `[0, 1]` is down the picture. Lanes only.
    #[serde(default)]
    pub direction: Option<[f64; 2]>,
    /// This lane's stall time, seconds (overrides `stall.after-s`, e.g. at a light).
    #[serde(default)]
    pub stall_after_s: Option<f64>,
}

/// Four points of the road seen by the camera and where they are on the ground, for a
/// ground-plane homography.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Calibration {
    /// The points in normalized frame coordinates (0–1).
    pub image: [[f64; 2]; 4],
    /// The same points on the road, in metres `[east, north]` from any origin.
    pub ground: [[f64; 2]; 4],
}

/// When two road users meeting is a collision.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct CollisionRule {
    /// Overlap of the two boxes, as a share of the smaller box, that counts as contact.
    pub contact_overlap: f64,
    /// Seconds before and after the contact whose motion is compared.
    pub window_s: f64,
    /// Speed (box sizes per second) a road user must have had before the contact.
    pub moving_speed: f64,
    /// Share of its speed a road user must lose at the contact.
    pub speed_drop: f64,
    /// Turn of its heading at the contact, degrees, that counts as abrupt.
    pub heading_change_deg: f64,
}

impl Default for CollisionRule {
    fn default() -> Self {
        CollisionRule {
            contact_overlap: 0.1,
            window_s: 1.0,
            moving_speed: 0.5,
            speed_drop: 0.6,
            heading_change_deg: 45.0,
        }
    }
}

/// When a vehicle standing in a lane is stalled.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct StallRule {
    /// Seconds a vehicle must stand still in a lane.
    pub after_s: f64,
    /// How far it may creep meanwhile, in box sizes.
    pub still_within: f64,
}

impl Default for StallRule {
    fn default() -> Self {
        StallRule {
            after_s: 60.0,
            still_within: 0.3,
        }
    }
}

/// When a vehicle drives against its lane's direction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct WrongWayRule {
    /// Seconds the wrong-way motion must last.
    pub after_s: f64,
    /// Distance it must cover meanwhile, in box sizes.
    pub min_travel: f64,
}

impl Default for WrongWayRule {
    fn default() -> Self {
        WrongWayRule {
            after_s: 3.0,
            min_travel: 1.0,
        }
    }
}

/// When a person in the carriageway is reported.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct PedestrianRule {
    /// Seconds the person must stay on the carriageway.
    pub after_s: f64,
}

impl Default for PedestrianRule {
    fn default() -> Self {
        PedestrianRule { after_s: 2.0 }
    }
}

/// When a vehicle's hard stop is reported: it stops as abruptly as the collision rule's
/// `speed-drop` within its `window-s`, with no other road user touching it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct SuddenStopRule {
    /// Whether hard stops are reported at all.
    pub enabled: bool,
    /// Speed (box sizes per second) the vehicle must have had.
    pub min_speed: f64,
}

impl Default for SuddenStopRule {
    fn default() -> Self {
        SuddenStopRule {
            enabled: true,
            min_speed: 2.0,
        }
    }
}

/// Traffic counts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Counts {
    /// Length of a counting period, seconds; periods start on multiples of it (UTC).
    pub period_s: u32,
    /// Distance a track must travel to be counted, in box sizes (parked cars are not
    /// traffic).
    pub min_travel: f64,
}

impl Default for Counts {
    fn default() -> Self {
        Counts {
            period_s: 900,
            min_travel: 1.0,
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
        if self.classes.is_empty() {
            return Err("classes: needs at least one label".into());
        }
        if let Some(label) = self
            .classes
            .keys()
            .find(|l| !COCO_CLASSES.contains(&l.as_str()))
        {
            return Err(format!(
                "classes: `{label}` is not a label of the detector (COCO: car, motorcycle, bus, truck, bicycle, person, ...)"
            ));
        }
        fraction("min-score", self.min_score)?;
        for (i, zone) in self.zones.iter().enumerate() {
            zone.validate(&format!("zones[{i}]"))?;
            if let Some(j) = self.zones[..i].iter().position(|z| z.name == zone.name) {
                return Err(format!(
                    "zones[{i}].name: `{}` is already the name of zones[{j}]",
                    zone.name
                ));
            }
        }
        if let Some(c) = &self.calibration {
            c.validate()?;
        }
        let c = &self.collision;
        fraction("collision.contact-overlap", c.contact_overlap)?;
        positive("collision.window-s", c.window_s)?;
        at_most("collision.window-s", c.window_s, MAX_WINDOW_S)?;
        positive("collision.moving-speed", c.moving_speed)?;
        fraction("collision.speed-drop", c.speed_drop)?;
        if !(c.heading_change_deg > 0.0 && c.heading_change_deg <= 180.0) {
            return Err(format!(
                "collision.heading-change-deg: must be in (0, 180], got {}",
                c.heading_change_deg
            ));
        }
        positive("stall.after-s", self.stall.after_s)?;
        positive("stall.still-within", self.stall.still_within)?;
        positive("wrong-way.after-s", self.wrong_way.after_s)?;
        at_most("wrong-way.after-s", self.wrong_way.after_s, MAX_WINDOW_S)?;
        positive("wrong-way.min-travel", self.wrong_way.min_travel)?;
        positive("pedestrian.after-s", self.pedestrian.after_s)?;
        positive("sudden-stop.min-speed", self.sudden_stop.min_speed)?;
        if self.counts.period_s < 10 {
            return Err(format!(
                "counts.period-s: must be at least 10, got {}",
                self.counts.period_s
            ));
        }
        positive("counts.min-travel", self.counts.min_travel)?;
        positive("lost-after-s", self.lost_after_s)?;
        positive("clear-after-s", self.clear_after_s)?;
        if !(self.update_every_s.is_finite() && self.update_every_s >= 0.0) {
            return Err(format!(
                "update-every-s: must be a number >= 0, got {}",
                self.update_every_s
            ));
        }
        Ok(())
    }

    /// The road user a detector label is, if it is one.
    pub fn road_user(&self, label: &str) -> Option<RoadUser> {
        self.classes.get(label).copied()
    }
}

impl Zone {
    fn validate(&self, field: &str) -> Result<(), String> {
        checks::name(&format!("{field}.name"), &self.name)?;
        self.polygon.validate(&format!("{field}.polygon"))?;
        match (self.kind, self.direction) {
            (ZoneKind::Lane, None) => {
                return Err(format!(
                    "{field}.direction: lane `{}` needs its direction of travel [dx, dy]",
                    self.name
                ))
            }
            (ZoneKind::Lane, Some([dx, dy])) if dx.hypot(dy).is_nan() || dx.hypot(dy) <= 1e-6 => {
                return Err(format!("{field}.direction: [{dx}, {dy}] has no length"))
            }
            (kind, Some(_)) if kind != ZoneKind::Lane => {
                return Err(format!("{field}.direction: only lanes have a direction"))
            }
            _ => {}
        }
        if let Some(s) = self.stall_after_s {
            if self.kind != ZoneKind::Lane {
                return Err(format!(
                    "{field}.stall-after-s: only lanes have a stall time"
                ));
            }
            positive(&format!("{field}.stall-after-s"), s)?;
        }
        Ok(())
    }
}

impl Calibration {
    fn validate(&self) -> Result<(), String> {
        for (k, &[x, y]) in self.image.iter().enumerate() {
            if !((0.0..=1.0).contains(&x) && (0.0..=1.0).contains(&y)) {
                return Err(format!(
                    "calibration.image[{k}]: [{x}, {y}] is outside the frame (coordinates are 0-1)"
                ));
            }
        }
        if let Some(k) = self
            .ground
            .iter()
            .position(|p| !p.iter().all(|v| v.is_finite()))
        {
            return Err(format!("calibration.ground[{k}]: not a finite point"));
        }
        crate::kinematics::GroundPlane::new(self)
            .map(|_| ())
            .ok_or_else(|| {
                "calibration: the four points do not define a ground plane (three of them lie on one line)"
                    .into()
            })
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

    #[test]
    fn empty_config_is_the_default() {
        let config = Config::from_json("{}").unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.road_user("car"), Some(RoadUser::Car));
        assert_eq!(config.road_user("person"), Some(RoadUser::Person));
        assert_eq!(config.road_user("cell phone"), None);
        assert_eq!(config.counts.period_s, 900);
    }

    #[test]
    fn example_config_parses_and_validates() {
        let config = Config::from_json(EXAMPLE).unwrap();
        assert!(config.calibration.is_some());
        assert!(config.zones.iter().any(|z| z.kind == ZoneKind::Lane));
        assert!(config.zones.iter().any(|z| z.kind == ZoneKind::Shoulder));
    }

    #[test]
    fn zone_errors() {
        assert_eq!(
            error(
                r#"{"zones": [{"name": "in", "kind": "carriageway", "polygon": [[0, 0], [1, 1]]}]}"#
            ),
            "zones[0].polygon: needs at least 3 points, got 2"
        );
        assert_eq!(
            error(
                r#"{"zones": [{"name": "in", "kind": "lane", "polygon": [[0, 0], [1, 0], [1, 1]]}]}"#
            ),
            "zones[0].direction: lane `in` needs its direction of travel [dx, dy]"
        );
        assert_eq!(
            error(
                r#"{"zones": [{"name": "s", "kind": "shoulder", "direction": [0, 1], "polygon": [[0, 0], [1, 0], [1, 1]]}]}"#
            ),
            "zones[0].direction: only lanes have a direction"
        );
        assert_eq!(
            error(
                r#"{"zones": [{"name": "Lane 1", "kind": "carriageway", "polygon": [[0, 0], [1, 0], [1, 1]]}]}"#
            ),
            "zones[0].name: `Lane 1` must be 1-64 characters of a-z, 0-9 and '-'"
        );
        assert_eq!(
            error(
                r#"{"zones": [{"name": "a", "kind": "carriageway", "polygon": [[0, 0], [1, 0], [1, 1]]},
                              {"name": "a", "kind": "sidewalk", "polygon": [[0, 0], [1, 0], [1, 1]]}]}"#
            ),
            "zones[1].name: `a` is already the name of zones[0]"
        );
        assert!(error(
            r#"{"zones": [{"name": "a", "kind": "road", "polygon": [[0, 0], [1, 0], [1, 1]]}]}"#
        )
        .contains("unknown variant `road`"));
    }

    #[test]
    fn class_errors() {
        let unknown_class = error(r#"{"classes": {"car": "spaceship"}}"#);
        assert!(
            unknown_class.contains("unknown variant `spaceship`")
                && unknown_class.contains("`motorcycle`"),
            "{unknown_class}"
        );
        assert_eq!(
            error(r#"{"classes": {"motorbike": "motorcycle"}}"#),
            "classes: `motorbike` is not a label of the detector (COCO: car, motorcycle, bus, truck, bicycle, person, ...)"
        );
        assert_eq!(
            error(r#"{"classes": {}}"#),
            "classes: needs at least one label"
        );
        // An overhead camera: COCO calls cars seen from above "cell phone".
        let overhead = Config::from_json(r#"{"classes": {"cell phone": "car"}}"#).unwrap();
        assert_eq!(overhead.road_user("cell phone"), Some(RoadUser::Car));
    }

    #[test]
    fn calibration_and_range_errors() {
        assert_eq!(
            error(
                r#"{"calibration": {"image": [[0, 0], [0.5, 0.5], [1, 1], [0, 1]], "ground": [[0, 0], [1, 1], [2, 2], [0, 5]]}}"#
            ),
            "calibration: the four points do not define a ground plane (three of them lie on one line)"
        );
        assert_eq!(
            error(
                r#"{"calibration": {"image": [[0, 0], [1.5, 0], [1, 1], [0, 1]], "ground": [[0, 0], [3, 0], [3, 30], [0, 30]]}}"#
            ),
            "calibration.image[1]: [1.5, 0] is outside the frame (coordinates are 0-1)"
        );
        assert_eq!(
            error(r#"{"counts": {"period-s": 5}}"#),
            "counts.period-s: must be at least 10, got 5"
        );
        assert_eq!(
            error(r#"{"stall": {"after-s": 0}}"#),
            "stall.after-s: must be a number > 0, got 0"
        );
        assert_eq!(
            error(r#"{"collision": {"speed-drop": 1.5}}"#),
            "collision.speed-drop: must be between 0 and 1, got 1.5"
        );
        assert_eq!(
            error(r#"{"wrong-way": {"after-s": 30}}"#),
            "wrong-way.after-s: must be at most 20, got 30"
        );
        assert!(error(r#"{"stal": {}}"#).contains("unknown field `stal`"));
    }

    #[test]
    fn schema_describes_exactly_the_serde_types() {
        let mut full = Config::from_json(EXAMPLE).unwrap();
        for zone in &mut full.zones {
            if zone.kind == ZoneKind::Lane {
                zone.stall_after_s = Some(90.0);
            }
        }
        let full = serde_json::to_value(full).unwrap();
        assert!(full["calibration"].is_object());
        let defaults = serde_json::to_value(Config::default()).unwrap();
        check_config_schema(SCHEMA, &full, &defaults);
    }
}
