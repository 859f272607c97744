//! Candidate filtering and N-of-M confirmation, per camera and track.
//!
//! * A detection is a *candidate* when its label is in the configured group, its score
//!   reaches that label's `min-score` and its box's shorter side `min-size-px`.
//! * Each camera keeps, per track, a ring of its last `window` detector frames telling
//!   on which the track was a candidate (frames where it is absent, or not a candidate,
//!   count as misses). A track that was a candidate on `hits` of them is *confirmed*,
//!   and stays so while it keeps being a candidate within the window. A track that was
//!   no candidate for `window` frames is forgotten.
//! * Each track keeps its path ([`PathPoint`]s of its candidate appearances: the first
//!   and the latest [`PATH_RECENT`]).
//! * A frame on which confirmed tracks are candidates yields an [`Observation`]: those
//!   tracks (their number is the frame's count: a herd is counted per frame, so a track
//!   that changes id does not count twice), and the direction of travel of all the
//!   camera's confirmed tracks.

use std::collections::BTreeMap;

use crate::config::Config;
use crate::detections::{Detection, Frame, PathPoint};
use crate::direction::Direction;

/// Number of latest points a track's path keeps, besides its first point.
pub const PATH_RECENT: usize = 64;

/// What a frame shows of confirmed tracks.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Confirmed tracks that are candidates on this frame, by ascending id.
    pub present: Vec<u64>,
    /// Number of those tracks per label.
    pub labels: BTreeMap<String, u32>,
    /// When the earliest of the camera's confirmed tracks was first a candidate, Unix ms.
    pub first_seen_ms: u64,
    /// Direction of travel of the camera's confirmed tracks.
    pub direction: Direction,
    /// Path of the camera's longest confirmed track (by time, then points).
    pub path: Vec<PathPoint>,
}

impl Observation {
    /// Number of confirmed tracks on the frame.
    pub fn count(&self) -> u32 {
        u32::try_from(self.present.len()).unwrap_or(u32::MAX)
    }
}

/// One tracked object, as far as the plugin cares.
#[derive(Debug, Clone, Default)]
struct Track {
    /// Label of its latest candidate detection.
    label: String,
    /// Bit `i` set: a candidate on the `i`-th latest detector frame (bit 0: this frame).
    ring: u64,
    /// Once confirmed, until forgotten.
    confirmed: bool,
    /// The first point and the latest [`PATH_RECENT`].
    path: Vec<PathPoint>,
}

impl Track {
    fn on_this_frame(&self) -> bool {
        self.ring & 1 == 1
    }

    fn record(&mut self, point: PathPoint) {
        self.path.push(point);
        if self.path.len() > 1 + PATH_RECENT {
            self.path.remove(1);
        }
    }

    /// How long the track has been followed, then how many points it has.
    fn length(&self) -> (u64, usize) {
        let span = match (self.path.first(), self.path.last()) {
            (Some(first), Some(last)) => last.ts_ms.saturating_sub(first.ts_ms),
            _ => 0,
        };
        (span, self.path.len())
    }
}

/// Candidate tracks of every camera.
#[derive(Debug, Default)]
pub struct Sightings {
    /// Tracks by camera, then by track id; cameras without tracks are dropped.
    cameras: BTreeMap<String, BTreeMap<u64, Track>>,
}

impl Sightings {
    /// Takes one detector frame of a camera and reports the confirmed tracks on it, if
    /// any. Fails (changing nothing) on a frame without size.
    pub fn observe(
        &mut self,
        config: &Config,
        frame: &Frame,
        detections: &[Detection],
    ) -> Result<Option<Observation>, String> {
        if frame.width == 0 || frame.height == 0 {
            return Err(format!(
                "frame {} of camera {} has no size ({}x{})",
                frame.frame_id, frame.camera, frame.width, frame.height
            ));
        }
        let window_mask = u64::MAX >> (64 - config.confirm.window.clamp(1, 64));
        let tracks = self.cameras.entry(frame.camera.clone()).or_default();
        for track in tracks.values_mut() {
            track.ring = (track.ring << 1) & window_mask;
        }
        for detection in detections.iter().filter(|d| is_candidate(config, d)) {
            let track = tracks.entry(detection.track_id).or_default();
            track.ring |= 1;
            track.label.clone_from(&detection.label);
            track.record(PathPoint::of(frame, detection));
            track.confirmed |= track.ring.count_ones() >= config.confirm.hits;
        }
        tracks.retain(|_, track| track.ring != 0);
        let observation = observe(config, tracks);
        if tracks.is_empty() {
            self.cameras.remove(&frame.camera);
        }
        Ok(observation)
    }
}

/// Whether `detection` passes its label's thresholds.
pub fn is_candidate(config: &Config, detection: &Detection) -> bool {
    config.labels.get(&detection.label).is_some_and(|rule| {
        f64::from(detection.score) >= rule.min_score
            && f64::from(detection.short_side()) >= rule.min_size_px
    })
}

/// The observation of a camera's `tracks` on their latest frame.
fn observe(config: &Config, tracks: &BTreeMap<u64, Track>) -> Option<Observation> {
    let confirmed: Vec<(u64, &Track)> = tracks
        .iter()
        .filter(|(_, track)| track.confirmed)
        .map(|(&id, track)| (id, track))
        .collect();
    let present: Vec<(u64, &Track)> = confirmed
        .iter()
        .copied()
        .filter(|(_, track)| track.on_this_frame())
        .collect();
    if present.is_empty() {
        return None;
    }
    let mut labels = BTreeMap::new();
    for (_, track) in &present {
        *labels.entry(track.label.clone()).or_insert(0) += 1;
    }
    let paths: Vec<&[PathPoint]> = confirmed.iter().map(|(_, t)| t.path.as_slice()).collect();
    let longest = confirmed
        .iter()
        .map(|(_, track)| track)
        .max_by_key(|track| track.length())
        .map_or(&[][..], |track| track.path.as_slice());
    let first_seen_ms = paths
        .iter()
        .filter_map(|path| path.first())
        .map(|point| point.ts_ms)
        .min()
        .unwrap_or_default();
    Some(Observation {
        present: present.iter().map(|&(id, _)| id).collect(),
        labels,
        first_seen_ms,
        direction: Direction::assess(config, &paths, longest),
        path: longest.to_vec(),
    })
}
