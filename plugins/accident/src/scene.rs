//! One camera's view of the road: the road users being tracked, with their recent
//! history, where they stand and since when they have stood still.

use std::collections::BTreeMap;

use sao_plugin_sdk_vision::{Detection, Frame};

use crate::config::{Config, Zone, ZoneKind};
use crate::kinematics::{overlap, GroundPlane, History, Motion, Sample};
use crate::road_user::RoadUser;

/// One tracked road user.
#[derive(Debug, Clone)]
pub struct Track {
    /// The host tracker's id, stable on this camera.
    pub id: u64,
    /// What it is (from its first detection's label).
    pub user: RoadUser,
    /// Where it was on recent frames.
    pub history: History,
    /// The sample where it last came to a standstill: it has stayed within
    /// `stall.still-within` box sizes of it since.
    pub still_since: Sample,
    /// Since when a person has stood on the carriageway, Unix ms.
    pub on_carriageway_since: Option<u64>,
    /// Whether the traffic counts have it.
    pub counted: bool,
    /// When its box last met another road user's, Unix ms.
    pub last_contact_ms: Option<u64>,
}

impl Track {
    /// The latest sample.
    pub fn last(&self) -> &Sample {
        self.history
            .last()
            .expect("a track has at least one sample")
    }

    /// The velocity over the `seconds` up to `to_ms`.
    pub fn motion(&self, seconds: f64, to_ms: u64, ground: Option<&GroundPlane>) -> Option<Motion> {
        let from = to_ms.saturating_sub((seconds * 1000.0) as u64);
        self.history.motion(from, to_ms, ground)
    }

    /// How far it is from `sample`, in its own box sizes.
    pub fn distance_in_sizes(&self, sample: &Sample) -> f64 {
        let last = self.last();
        (last.x - sample.x).hypot(last.y - sample.y) / last.size()
    }
}

/// One camera's tracks.
#[derive(Debug, Clone, Default)]
pub struct Scene {
    /// Tracks by id.
    pub tracks: BTreeMap<u64, Track>,
    /// The latest frame.
    pub frame: Option<Frame>,
    /// Contacts waiting for the motion after them to be judged.
    pub contacts: Vec<Contact>,
}

/// Two road users whose boxes met.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contact {
    /// One track.
    pub a: u64,
    /// The other.
    pub b: u64,
    /// When they met, Unix ms.
    pub ts_ms: u64,
    /// The frame they met on.
    pub frame_id: u64,
}

impl Scene {
    /// Takes in a frame's detections: road users the config knows, scored high enough,
    /// join their tracks; tracks unseen for `lost-after-s` are forgotten.
    pub fn update(&mut self, frame: &Frame, detections: &[Detection], config: &Config) {
        for d in detections {
            let Some(user) = config.road_user(&d.label) else {
                continue;
            };
            if f64::from(d.score) < config.min_score || d.width <= 0.0 || d.height <= 0.0 {
                continue;
            }
            let sample = Sample::of(frame, d);
            let track = self.tracks.entry(d.track_id).or_insert_with(|| Track {
                id: d.track_id,
                user,
                history: History::default(),
                still_since: sample,
                on_carriageway_since: None,
                counted: false,
                last_contact_ms: None,
            });
            track.history.push(sample);
            if track.distance_in_sizes(&track.still_since) > config.stall.still_within {
                track.still_since = sample;
            }
        }
        let lost_ms = (config.lost_after_s * 1000.0) as u64;
        self.tracks
            .retain(|_, t| frame.ts_ms.saturating_sub(t.last().ts_ms) <= lost_ms);
        self.frame = Some(frame.clone());
    }

    /// The tracks seen on the latest frame.
    pub fn current(&self) -> impl Iterator<Item = &Track> {
        let ts = self.frame.as_ref().map_or(0, |f| f.ts_ms);
        self.tracks.values().filter(move |t| t.last().ts_ms == ts)
    }

    /// Pairs of tracks whose boxes meet on the latest frame, with the overlap.
    pub fn contacts(&self, min_overlap: f64) -> Vec<(u64, u64, f64)> {
        let current: Vec<&Track> = self.current().collect();
        let mut pairs = Vec::new();
        for (i, a) in current.iter().enumerate() {
            for b in &current[i + 1..] {
                let share = overlap(a.last().corners(), b.last().corners());
                if share >= min_overlap {
                    pairs.push((a.id, b.id, share));
                }
            }
        }
        pairs
    }
}

/// The first zone containing the normalized point `(x, y)` that `pick` accepts.
pub fn zone_at(zones: &[Zone], x: f64, y: f64, pick: impl Fn(ZoneKind) -> bool) -> Option<&Zone> {
    zones
        .iter()
        .find(|z| pick(z.kind) && z.polygon.contains(x, y))
}
