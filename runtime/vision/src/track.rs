//! Multi-object tracking: gives every detected object a stable track id across frames, in
//! the style of SORT (Bewley et al. 2016, "Simple Online and Realtime Tracking") and
//! ByteTrack (Zhang et al. 2022, "ByteTrack: Multi-Object Tracking by Associating Every
//! Detection Box").
//!
//! Each track carries a Kalman filter with a constant-velocity model on the box's
//! `(cx, cy, a, h)` — centre, aspect ratio `w / h` and height — plus their velocities,
//! the 8-dimensional "xyah" model of DeepSORT and ByteTrack, with noise proportional to
//! the box height. Unlike those, velocities are per *second* and every prediction uses the
//! real time since the previous frame, because motion gating makes frames arrive at
//! irregular intervals.
//!
//! Every [`Tracker::update`]:
//!
//! 1. forgets tracks that have gone unmatched for longer than `max-age-ms` (time, not a
//!    frame count, since the frame rate varies) and predicts the others to the new time;
//! 2. splits the detections into *high* (`score >= high-threshold`) and *low*
//!    (`low-threshold <= score < high-threshold`) ones;
//! 3. matches high detections to confirmed tracks, both tracked and lost, by the IoU of
//!    the predicted box, with an optimal assignment (Kuhn–Munkres, maximum total IoU)
//!    that rejects pairs below `match-iou`;
//! 4. matches low detections to the confirmed tracks still unmatched that were tracked in
//!    the previous frame (not lost ones), requiring IoU `>= low-match-iou`: ByteTrack's
//!    second stage, which keeps partly occluded or blurred objects alive;
//! 5. matches the remaining high detections to tentative tracks (as ByteTrack does for its
//!    unconfirmed tracks, so a young and possibly spurious track never takes a detection
//!    from an established one); a tentative track left unmatched is dropped;
//! 6. starts a tentative track for every high detection still unmatched. Low detections
//!    never start tracks. A tentative track is confirmed after `min-hits` consecutive
//!    matched frames.
//!
//! By default a detection only matches a track of its own class. With `class-agnostic`,
//! any class matches (a COCO detector flips between car and truck from frame to frame)
//! and a track's class is the majority vote over the detections it was matched with.
//!
//! Track ids count up from 1 and are never reused by a tracker. Each track keeps the
//! last `history-len` observed positions, read with [`Tracker::history`], so that the
//! per-frame output stays small.

use pathfinding::prelude::{kuhn_munkres, Matrix};
use serde::{Deserialize, Serialize};

use crate::geometry::{BoundingBox, Detection};

/// Tracker settings; field names are kebab-case in configuration files.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct TrackerConfig {
    /// Detections at least this confident are "high": they can start tracks and take
    /// part in the first association stage.
    pub high_threshold: f32,
    /// Detections below this are ignored; between this and `high_threshold` they are
    /// "low" and can only keep an existing, tracked object alive.
    pub low_threshold: f32,
    /// Smallest IoU between a high detection and a track's predicted box for a match.
    pub match_iou: f32,
    /// Smallest IoU for a low detection to match (stricter, since low detections are
    /// often false positives).
    pub low_match_iou: f32,
    /// Consecutive matched frames after which a new track is confirmed and reported.
    pub min_hits: u32,
    /// A track unmatched for longer than this many milliseconds is removed.
    pub max_age_ms: u64,
    /// Match detections to tracks regardless of class; a track's class is then the
    /// majority vote over its detections.
    pub class_agnostic: bool,
    /// Observed positions kept per track for [`Tracker::history`].
    pub history_len: usize,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            high_threshold: 0.5,
            low_threshold: 0.1,
            match_iou: 0.3,
            low_match_iou: 0.5,
            min_hits: 3,
            max_age_ms: 1500,
            class_agnostic: false,
            history_len: 64,
        }
    }
}

/// One observed position of a track: where its detection was at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TrackPoint {
    /// Frame timestamp, in milliseconds.
    pub ts_ms: u64,
    /// Centre of the detected box, in pixels.
    pub center: (f32, f32),
    /// The detected box.
    pub bbox: BoundingBox,
    /// Filtered velocity of the box centre just after this observation, in pixels per
    /// second (less noisy than differencing consecutive centres).
    pub velocity: (f32, f32),
}

/// A track as seen at the latest frame: what plugins receive, turned into JSON.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TrackedObject {
    /// Stable id of the track, counting from 1, never reused within a tracker.
    pub track_id: u64,
    /// The track's class (its majority class when the tracker is class-agnostic).
    pub class_id: u32,
    /// Confidence of the latest detection matched with the track.
    pub score: f32,
    /// The detection's box when the track was matched in this frame, otherwise the
    /// box predicted by its motion model.
    pub bbox: BoundingBox,
    /// Estimated velocity of the box centre `(vx, vy)`, in pixels per second.
    pub velocity: (f32, f32),
    /// Milliseconds since the track was started.
    pub age_ms: u64,
    /// Number of frames in which the track was matched with a detection.
    pub hits: u32,
    /// Milliseconds since the track was last matched (0 if matched in this frame).
    pub time_since_update_ms: u64,
    /// Whether the track has been confirmed (matched in `min-hits` consecutive frames).
    pub confirmed: bool,
}

/// A multi-object tracker for one camera (one per camera: tracks live in its pixels and
/// its clock).
#[derive(Clone, Debug)]
pub struct Tracker {
    config: TrackerConfig,
    /// Live tracks, in increasing id order (new ones are pushed at the end and removal
    /// keeps the order), so lookups by id can binary-search.
    tracks: Vec<Track>,
    next_id: u64,
    last_ts_ms: Option<u64>,
}

impl Tracker {
    /// A tracker with no tracks yet.
    pub fn new(config: TrackerConfig) -> Self {
        Self {
            config,
            tracks: Vec::new(),
            next_id: 1,
            last_ts_ms: None,
        }
    }

    /// The settings this tracker runs with.
    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }

    /// Feeds one frame's detections, taken at `ts_ms` (milliseconds on any monotonic
    /// clock; a timestamp earlier than the previous one counts as no time passing), and
    /// returns the confirmed tracks matched in this frame, in increasing id order: what a
    /// plugin should see.
    pub fn update(&mut self, detections: &[Detection], ts_ms: u64) -> Vec<TrackedObject> {
        let dt_s = self
            .last_ts_ms
            .map_or(0.0, |last| ts_ms.saturating_sub(last) as f64 / 1000.0);
        self.last_ts_ms = Some(ts_ms);

        let max_age_ms = self.config.max_age_ms;
        self.tracks
            .retain(|t| ts_ms.saturating_sub(t.last_update_ms) <= max_age_ms);
        for track in &mut self.tracks {
            track.predict(dt_s);
        }

        let usable = |d: &&Detection| is_usable(&d.bbox);
        let high: Vec<&Detection> = detections
            .iter()
            .filter(usable)
            .filter(|d| d.score >= self.config.high_threshold)
            .collect();
        let low: Vec<&Detection> = detections
            .iter()
            .filter(usable)
            .filter(|d| {
                d.score >= self.config.low_threshold && d.score < self.config.high_threshold
            })
            .collect();

        // Stage 1: high detections against confirmed tracks, tracked or lost.
        let confirmed = self.track_indices(|t| t.state != TrackState::Tentative);
        let all_high: Vec<usize> = (0..high.len()).collect();
        let first = self.associate(&confirmed, &high, &all_high, self.config.match_iou);
        self.apply(&first.matches, &high, ts_ms);

        // Stage 2 (ByteTrack): low detections against the confirmed tracks left over that
        // were tracked until the previous frame.
        let tracked: Vec<usize> = first
            .unmatched_tracks
            .into_iter()
            .filter(|&i| self.tracks[i].state == TrackState::Tracked)
            .collect();
        let all_low: Vec<usize> = (0..low.len()).collect();
        let second = self.associate(&tracked, &low, &all_low, self.config.low_match_iou);
        self.apply(&second.matches, &low, ts_ms);

        // Stage 3: the high detections left over against tentative tracks.
        let tentative = self.track_indices(|t| t.state == TrackState::Tentative);
        let third = self.associate(
            &tentative,
            &high,
            &first.unmatched_detections,
            self.config.match_iou,
        );
        self.apply(&third.matches, &high, ts_ms);

        // Unmatched tentative tracks die; unmatched confirmed ones become lost.
        self.tracks
            .retain(|t| t.matched || t.state != TrackState::Tentative);
        for track in self.tracks.iter_mut().filter(|t| !t.matched) {
            track.state = TrackState::Lost;
        }

        for &d in &third.unmatched_detections {
            let id = self.next_id;
            self.next_id += 1;
            let track = Track::new(id, high[d], ts_ms, &self.config);
            self.tracks.push(track);
        }

        self.tracks
            .iter()
            .filter(|t| t.matched && t.state == TrackState::Tracked)
            .map(|t| t.snapshot(ts_ms))
            .collect()
    }

    /// Every live track (tentative, tracked and lost) as of the latest frame, in
    /// increasing id order.
    pub fn tracks(&self) -> impl Iterator<Item = TrackedObject> + '_ {
        let now = self.last_ts_ms.unwrap_or(0);
        self.tracks.iter().map(move |t| t.snapshot(now))
    }

    /// The live track with this id, as of the latest frame.
    pub fn track(&self, track_id: u64) -> Option<TrackedObject> {
        let now = self.last_ts_ms.unwrap_or(0);
        self.find(track_id).map(|t| t.snapshot(now))
    }

    /// The observed positions of a live track, oldest first: at most `history-len` of
    /// them, one per frame in which the track was matched with a detection.
    pub fn history(&self, track_id: u64) -> Option<&[TrackPoint]> {
        self.find(track_id).map(|t| t.history.as_slice())
    }

    /// The live track with this id.
    fn find(&self, track_id: u64) -> Option<&Track> {
        self.tracks
            .binary_search_by_key(&track_id, |t| t.id)
            .ok()
            .map(|i| &self.tracks[i])
    }

    /// Indices of the live tracks for which `keep` holds.
    fn track_indices(&self, keep: impl Fn(&Track) -> bool) -> Vec<usize> {
        (0..self.tracks.len())
            .filter(|&i| keep(&self.tracks[i]))
            .collect()
    }

    /// Optimally matches the tracks at `tracks` (indices into `self.tracks`) with the
    /// detections at `candidates` (indices into `detections`), by the IoU of each track's
    /// predicted box, within the same class unless class-agnostic.
    fn associate(
        &self,
        tracks: &[usize],
        detections: &[&Detection],
        candidates: &[usize],
        min_iou: f32,
    ) -> Association {
        let iou = |t: usize, d: usize| {
            let track = &self.tracks[tracks[t]];
            let det = detections[candidates[d]];
            if self.config.class_agnostic || track.class_id == det.class_id {
                track.bbox.iou(&det.bbox)
            } else {
                0.0
            }
        };
        let pairs = assign(tracks.len(), candidates.len(), min_iou, iou);
        let mut track_matched = vec![false; tracks.len()];
        let mut detection_matched = vec![false; candidates.len()];
        for &(t, d) in &pairs {
            track_matched[t] = true;
            detection_matched[d] = true;
        }
        Association {
            matches: pairs
                .iter()
                .map(|&(t, d)| (tracks[t], candidates[d]))
                .collect(),
            unmatched_tracks: unmatched(tracks, &track_matched),
            unmatched_detections: unmatched(candidates, &detection_matched),
        }
    }

    /// Updates each matched track with its detection.
    fn apply(&mut self, matches: &[(usize, usize)], detections: &[&Detection], ts_ms: u64) {
        for &(t, d) in matches {
            self.tracks[t].update(detections[d], ts_ms, &self.config);
        }
    }
}

/// The outcome of one association stage, as indices into the tracker's tracks and into
/// the stage's detections.
struct Association {
    matches: Vec<(usize, usize)>,
    unmatched_tracks: Vec<usize>,
    unmatched_detections: Vec<usize>,
}

/// The items of `indices` whose `matched` flag is false.
fn unmatched(indices: &[usize], matched: &[bool]) -> Vec<usize> {
    indices
        .iter()
        .zip(matched)
        .filter(|(_, &m)| !m)
        .map(|(&i, _)| i)
        .collect()
}

/// IoU is scaled by this to integer weights for Kuhn–Munkres (which needs an exact,
/// totally ordered weight type).
const IOU_SCALE: f64 = 1e6;

/// The one-to-one matching of `rows` with `cols` that maximises the total IoU, keeping
/// only pairs with `iou(row, col) >= min_iou` (and above zero). Pairs below the threshold
/// weigh nothing, so the optimum is the best matching among the admissible pairs.
fn assign(
    rows: usize,
    cols: usize,
    min_iou: f32,
    iou: impl Fn(usize, usize) -> f32,
) -> Vec<(usize, usize)> {
    if rows == 0 || cols == 0 {
        return Vec::new();
    }
    let weight = |r: usize, c: usize| {
        let v = iou(r, c);
        if v >= min_iou && v > 0.0 {
            (f64::from(v) * IOU_SCALE).round() as i64
        } else {
            0
        }
    };
    // Kuhn–Munkres assigns every row, so it needs no more rows than columns.
    let transposed = rows > cols;
    let weights = if transposed {
        Matrix::from_fn(cols, rows, |(c, r)| weight(r, c))
    } else {
        Matrix::from_fn(rows, cols, |(r, c)| weight(r, c))
    };
    let (_, assignment) = kuhn_munkres(&weights);
    assignment
        .into_iter()
        .enumerate()
        .map(|(i, j)| if transposed { (j, i) } else { (i, j) })
        .filter(|&(r, c)| weight(r, c) > 0)
        .collect()
}

/// Whether a detection's box can be tracked: finite, with positive width and height.
fn is_usable(b: &BoundingBox) -> bool {
    [b.x1, b.y1, b.x2, b.y2].iter().all(|v| v.is_finite()) && b.x2 > b.x1 && b.y2 > b.y1
}

/// Lifecycle of a track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TrackState {
    /// New, not yet matched in `min-hits` consecutive frames; dropped at its first miss.
    Tentative,
    /// Confirmed and matched in the latest frame it was updated in.
    Tracked,
    /// Confirmed but unmatched in the latest frame; removed after `max-age-ms`.
    Lost,
}

/// One tracked object.
#[derive(Clone, Debug)]
struct Track {
    id: u64,
    class_id: u32,
    /// How many matched detections had each class, for the majority vote.
    class_votes: Vec<(u32, u32)>,
    score: f32,
    /// Box of the current frame: the detection's if matched, else the prediction.
    bbox: BoundingBox,
    kalman: KalmanBox,
    state: TrackState,
    /// Matched in the current frame.
    matched: bool,
    hits: u32,
    first_ms: u64,
    last_update_ms: u64,
    history: Vec<TrackPoint>,
}

impl Track {
    /// A track started from a detection.
    fn new(id: u64, det: &Detection, ts_ms: u64, config: &TrackerConfig) -> Self {
        let state = if config.min_hits <= 1 {
            TrackState::Tracked
        } else {
            TrackState::Tentative
        };
        let mut track = Self {
            id,
            class_id: det.class_id,
            class_votes: vec![(det.class_id, 1)],
            score: det.score,
            bbox: det.bbox,
            kalman: KalmanBox::new(&det.bbox),
            state,
            matched: true,
            hits: 1,
            first_ms: ts_ms,
            last_update_ms: ts_ms,
            history: Vec::new(),
        };
        track.record(ts_ms, config.history_len);
        track
    }

    /// Moves the track's motion model `dt_s` seconds ahead; starts a new frame.
    fn predict(&mut self, dt_s: f64) {
        if self.state == TrackState::Lost {
            // As in ByteTrack: a track nobody sees keeps moving but stops changing size.
            self.kalman.mean[7] = 0.0;
        }
        self.kalman.predict(dt_s);
        self.bbox = self.kalman.bbox();
        self.matched = false;
    }

    /// Corrects the track with the detection it was matched with in this frame.
    fn update(&mut self, det: &Detection, ts_ms: u64, config: &TrackerConfig) {
        self.kalman.update(&det.bbox);
        self.bbox = det.bbox;
        self.score = det.score;
        self.matched = true;
        self.hits = self.hits.saturating_add(1);
        self.last_update_ms = ts_ms;
        self.vote(det.class_id);
        if self.state == TrackState::Lost
            || (self.state == TrackState::Tentative && self.hits >= config.min_hits)
        {
            self.state = TrackState::Tracked;
        }
        self.record(ts_ms, config.history_len);
    }

    /// Counts a detection's class; the track switches class only when another one has
    /// strictly more votes than its current one (so ties keep the class stable).
    fn vote(&mut self, class_id: u32) {
        let votes = match self.class_votes.iter_mut().find(|(c, _)| *c == class_id) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                self.class_votes.push((class_id, 1));
                1
            }
        };
        let current = self
            .class_votes
            .iter()
            .find(|(c, _)| *c == self.class_id)
            .map_or(0, |&(_, n)| n);
        if votes > current {
            self.class_id = class_id;
        }
    }

    /// Appends the current (observed) box to the history, dropping the oldest point when
    /// full. Removing from the front moves at most `history_len` small points, and keeps
    /// the history one contiguous slice.
    fn record(&mut self, ts_ms: u64, history_len: usize) {
        if history_len == 0 {
            return;
        }
        if self.history.len() >= history_len {
            self.history.remove(0);
        }
        self.history.push(TrackPoint {
            ts_ms,
            center: self.bbox.center(),
            bbox: self.bbox,
            velocity: self.kalman.velocity(),
        });
    }

    /// The track as seen at time `now_ms`.
    fn snapshot(&self, now_ms: u64) -> TrackedObject {
        TrackedObject {
            track_id: self.id,
            class_id: self.class_id,
            score: self.score,
            bbox: self.bbox,
            velocity: self.kalman.velocity(),
            age_ms: now_ms.saturating_sub(self.first_ms),
            hits: self.hits,
            time_since_update_ms: now_ms.saturating_sub(self.last_update_ms),
            confirmed: self.state != TrackState::Tentative,
        }
    }
}

/// ByteTrack's noise weights are per frame; they are turned into per-second rates as if
/// frames came at this rate, so at 30 fps this filter is exactly ByteTrack's.
const REFERENCE_FPS: f64 = 30.0;
/// Standard deviation of position noise, as a fraction of the box height.
const STD_WEIGHT_POSITION: f64 = 1.0 / 20.0;
/// Standard deviation of velocity noise per frame, as a fraction of the box height.
const STD_WEIGHT_VELOCITY: f64 = 1.0 / 160.0;

/// A constant-velocity Kalman filter on a box: state `(cx, cy, a, h, vcx, vcy, va, vh)`
/// with `a = w / h` and velocities per second; the measurement is `(cx, cy, a, h)`.
#[derive(Clone, Debug)]
struct KalmanBox {
    mean: [f64; 8],
    cov: [[f64; 8]; 8],
}

impl KalmanBox {
    /// A filter starting at a detected box, at rest but with a wide velocity uncertainty.
    fn new(bbox: &BoundingBox) -> Self {
        let z = xyah(bbox);
        let h = noise_scale(z[3]);
        let (wp, wv) = (STD_WEIGHT_POSITION, STD_WEIGHT_VELOCITY * REFERENCE_FPS);
        let std = [
            2.0 * wp * h,
            2.0 * wp * h,
            1e-2,
            2.0 * wp * h,
            10.0 * wv * h,
            10.0 * wv * h,
            1e-5 * REFERENCE_FPS,
            10.0 * wv * h,
        ];
        let mut cov = [[0.0; 8]; 8];
        for (i, s) in std.iter().enumerate() {
            cov[i][i] = s * s;
        }
        Self {
            mean: [z[0], z[1], z[2], z[3], 0.0, 0.0, 0.0, 0.0],
            cov,
        }
    }

    /// Moves the state `dt_s` seconds ahead: `x ← F x`, `P ← F P Fᵀ + Q`, where `F` adds
    /// `dt_s` times each velocity to its position and `Q` grows linearly with `dt_s`.
    fn predict(&mut self, dt_s: f64) {
        for i in 0..4 {
            self.mean[i] += dt_s * self.mean[i + 4];
        }
        // F P: each position row gains dt times its velocity row (`zip` stops after 4).
        let mut p = self.cov;
        for (row, velocity_row) in p.iter_mut().zip(&self.cov[4..]) {
            for (x, v) in row.iter_mut().zip(velocity_row) {
                *x += dt_s * v;
            }
        }
        // (F P) Fᵀ: likewise for columns, in place since velocity columns do not change.
        for row in &mut p {
            for j in 0..4 {
                row[j] += dt_s * row[j + 4];
            }
        }
        // Process noise: ByteTrack's per-frame variances times the frames elapsed.
        let h = noise_scale(self.mean[3]);
        let (wp, wv) = (STD_WEIGHT_POSITION, STD_WEIGHT_VELOCITY * REFERENCE_FPS);
        let std = [
            wp * h,
            wp * h,
            1e-2,
            wp * h,
            wv * h,
            wv * h,
            1e-5 * REFERENCE_FPS,
            wv * h,
        ];
        let frames = dt_s * REFERENCE_FPS;
        for (i, s) in std.iter().enumerate() {
            p[i][i] += s * s * frames;
        }
        self.cov = p;
    }

    /// Corrects the state with a detected box (the standard Kalman update, with the
    /// innovation covariance inverted through its Cholesky factor).
    fn update(&mut self, bbox: &BoundingBox) {
        let z = xyah(bbox);
        let h = noise_scale(self.mean[3]);
        let r = [
            STD_WEIGHT_POSITION * h,
            STD_WEIGHT_POSITION * h,
            1e-1,
            STD_WEIGHT_POSITION * h,
        ];
        // The measurement matrix H picks the first four state entries, so the innovation
        // covariance S = H P Hᵀ + R is P's top-left block plus R, and P Hᵀ is P's first
        // four columns.
        let s: [[f64; 4]; 4] = std::array::from_fn(|i| {
            std::array::from_fn(|j| self.cov[i][j] + if i == j { r[i] * r[i] } else { 0.0 })
        });
        let Some(l) = cholesky(&s) else {
            // Only reachable with a corrupted (non-finite) state: start again from the box.
            *self = Self::new(bbox);
            return;
        };
        let pht: [[f64; 4]; 8] = std::array::from_fn(|i| first4(&self.cov[i]));
        // Gain K = P Hᵀ S⁻¹; S is symmetric, so row i of K is S⁻¹ (row i of P Hᵀ).
        let gain: [[f64; 4]; 8] = std::array::from_fn(|i| cholesky_solve(&l, &pht[i]));
        let innovation: [f64; 4] = std::array::from_fn(|j| z[j] - self.mean[j]);
        for (m, k) in self.mean.iter_mut().zip(&gain) {
            *m += dot(k, &innovation);
        }
        // P ← P − K S Kᵀ = P − (P Hᵀ) Kᵀ.
        for (cov_row, pht_row) in self.cov.iter_mut().zip(&pht) {
            for (c, k) in cov_row.iter_mut().zip(&gain) {
                *c -= dot(pht_row, k);
            }
        }
    }

    /// The box of the current state.
    fn bbox(&self) -> BoundingBox {
        let [cx, cy, a, h, ..] = self.mean;
        let h = h.max(0.0);
        let w = (a * h).max(0.0);
        BoundingBox::from_center(cx as f32, cy as f32, w as f32, h as f32)
    }

    /// Velocity of the box centre, in pixels per second.
    fn velocity(&self) -> (f32, f32) {
        (self.mean[4] as f32, self.mean[5] as f32)
    }
}

/// A box as the measurement `(cx, cy, w / h, h)`.
fn xyah(b: &BoundingBox) -> [f64; 4] {
    let (cx, cy) = b.center();
    let (w, h) = (f64::from(b.width()), f64::from(b.height()));
    [f64::from(cx), f64::from(cy), w / h.max(1e-6), h]
}

/// The box height noise is proportional to, kept at least a pixel so the noise never
/// vanishes (which would make the innovation covariance singular).
fn noise_scale(h: f64) -> f64 {
    h.abs().max(1.0)
}

/// The first four entries of a state-sized row.
fn first4(row: &[f64; 8]) -> [f64; 4] {
    [row[0], row[1], row[2], row[3]]
}

/// Dot product of two 4-vectors.
fn dot(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The lower-triangular `L` with `L Lᵀ = s`, or `None` if `s` is not positive definite.
fn cholesky(s: &[[f64; 4]; 4]) -> Option<[[f64; 4]; 4]> {
    let mut l = [[0.0; 4]; 4];
    for i in 0..4 {
        for j in 0..=i {
            let sum: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let d = s[i][i] - sum;
                // Written so that NaN also fails.
                if !(d > 0.0 && d.is_finite()) {
                    return None;
                }
                l[i][i] = d.sqrt();
            } else {
                l[i][j] = (s[i][j] - sum) / l[j][j];
            }
        }
    }
    Some(l)
}

/// Solves `L Lᵀ x = b` given the Cholesky factor `L`.
fn cholesky_solve(l: &[[f64; 4]; 4], b: &[f64; 4]) -> [f64; 4] {
    // Forward substitution: L y = b.
    let mut y = [0.0; 4];
    for i in 0..4 {
        let sum: f64 = (0..i).map(|k| l[i][k] * y[k]).sum();
        y[i] = (b[i] - sum) / l[i][i];
    }
    // Back substitution: Lᵀ x = y.
    let mut x = [0.0; 4];
    for i in (0..4).rev() {
        let sum: f64 = (i + 1..4).map(|k| l[k][i] * x[k]).sum();
        x[i] = (y[i] - sum) / l[i][i];
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAR: u32 = 2;
    const TRUCK: u32 = 7;
    const ELEPHANT: u32 = 20;

    fn det(class_id: u32, score: f32, cx: f32, cy: f32) -> Detection {
        Detection {
            class_id,
            score,
            bbox: BoundingBox::from_center(cx, cy, 40.0, 60.0),
        }
    }

    fn tracker() -> Tracker {
        Tracker::new(TrackerConfig::default())
    }

    fn ids(objects: &[TrackedObject]) -> Vec<u64> {
        objects.iter().map(|o| o.track_id).collect()
    }

    fn live_ids(tracker: &Tracker) -> Vec<u64> {
        tracker.tracks().map(|o| o.track_id).collect()
    }

    fn assert_velocity_near(actual: (f32, f32), expected: (f32, f32)) {
        let (dx, dy) = (actual.0 - expected.0, actual.1 - expected.1);
        let error = (dx * dx + dy * dy).sqrt();
        let speed = (expected.0 * expected.0 + expected.1 * expected.1).sqrt();
        assert!(
            error <= 0.1 * speed,
            "velocity {actual:?}, expected {expected:?}"
        );
    }

    #[test]
    fn constant_velocity_keeps_one_id_and_learns_the_velocity() {
        let mut t = tracker();
        let (vx, vy) = (250.0, -100.0);
        let mut last = Vec::new();
        for frame in 0..20u64 {
            let s = frame as f32 * 0.04;
            let out = t.update(&[det(CAR, 0.9, 100.0 + vx * s, 300.0 + vy * s)], frame * 40);
            if frame >= 2 {
                assert_eq!(ids(&out), [1], "frame {frame}");
            }
            last = out;
        }
        assert_eq!(live_ids(&t), [1]);
        let object = last[0];
        assert_eq!(
            (object.hits, object.age_ms, object.time_since_update_ms),
            (20, 760, 0)
        );
        assert_velocity_near(object.velocity, (vx, vy));
    }

    #[test]
    fn crossing_objects_keep_their_ids() {
        // A moves right, B left, 10 px apart vertically; their boxes overlap around
        // frame 12. In the second run B is hidden behind A while they overlap, so only
        // its Kalman prediction carries it across.
        for occluded in [false, true] {
            let mut t = tracker();
            let (mut id_a, mut id_b) = (0, 0);
            for frame in 0..30u64 {
                let s = frame as f32 * 0.04;
                let (xa, xb) = (100.0 + 300.0 * s, 400.0 - 300.0 * s);
                let mut dets = vec![det(CAR, 0.9, xa, 200.0)];
                let hidden = occluded && (10..=15).contains(&frame);
                if !hidden {
                    dets.push(det(CAR, 0.8, xb, 210.0));
                }
                let out = t.update(&dets, frame * 40);
                if frame == 2 {
                    id_a = out
                        .iter()
                        .find(|o| o.bbox.center().1 == 200.0)
                        .map_or(0, |o| o.track_id);
                    id_b = out
                        .iter()
                        .find(|o| o.bbox.center().1 == 210.0)
                        .map_or(0, |o| o.track_id);
                    assert!(id_a > 0 && id_b > 0 && id_a != id_b);
                }
                if frame >= 2 {
                    let a = out.iter().find(|o| o.track_id == id_a);
                    assert_eq!(
                        a.map(|o| o.bbox.center()),
                        Some((xa, 200.0)),
                        "A, frame {frame}"
                    );
                    let b = out.iter().find(|o| o.track_id == id_b);
                    let expected = if hidden { None } else { Some((xb, 210.0)) };
                    assert_eq!(b.map(|o| o.bbox.center()), expected, "B, frame {frame}");
                    assert_eq!(out.len(), dets.len());
                }
            }
            assert_eq!(live_ids(&t), [1, 2]);
        }
    }

    #[test]
    fn a_missing_object_keeps_its_id_within_max_age_and_gets_a_new_one_after() {
        let mut t = tracker();
        let seen = [det(ELEPHANT, 0.8, 300.0, 300.0)];
        for frame in 0..5u64 {
            t.update(&seen, frame * 100);
        }
        // Gone for 1 s (< 1.5 s): the track is lost but alive, and comes back.
        for frame in 5..15u64 {
            assert!(t.update(&[], frame * 100).is_empty());
        }
        let lost = t.track(1);
        assert_eq!(
            lost.map(|o| (o.time_since_update_ms, o.confirmed)),
            Some((1000, true))
        );
        assert_eq!(ids(&t.update(&seen, 1500)), [1]);

        // Gone for 1.6 s (> 1.5 s): the old track is forgotten, a new one starts.
        assert!(t.update(&[], 2500).is_empty());
        assert_eq!(live_ids(&t), [1]);
        assert!(t.update(&seen, 3100).is_empty());
        assert_eq!(live_ids(&t), [2]);
        assert!(t.history(1).is_none());
        t.update(&seen, 3200);
        assert_eq!(ids(&t.update(&seen, 3300)), [2]);
    }

    #[test]
    fn low_score_detections_keep_a_track_alive_but_start_none() {
        let mut t = tracker();
        for frame in 0..3u64 {
            t.update(&[det(CAR, 0.9, 100.0, 100.0)], frame * 40);
        }
        // 2 s of weak detections, longer than max-age: the track lives on, while a weak
        // detection elsewhere never becomes a track.
        for frame in 3..53u64 {
            let dets = [det(CAR, 0.2, 100.0, 100.0), det(CAR, 0.2, 500.0, 100.0)];
            let out = t.update(&dets, frame * 40);
            assert_eq!(ids(&out), [1], "frame {frame}");
            assert_eq!((out[0].score, out[0].time_since_update_ms), (0.2, 0));
            assert_eq!(live_ids(&t), [1]);
        }
        // Weak detections alone start nothing.
        let mut t = tracker();
        for frame in 0..10u64 {
            assert!(t
                .update(&[det(CAR, 0.2, 100.0, 100.0)], frame * 40)
                .is_empty());
        }
        assert_eq!(t.tracks().count(), 0);
        // Nor does a detection under low-threshold keep anything alive.
        assert_eq!(t.update(&[det(CAR, 0.05, 100.0, 100.0)], 400), []);
    }

    #[test]
    fn low_score_detections_do_not_revive_a_lost_track() {
        let mut t = tracker();
        for frame in 0..3u64 {
            t.update(&[det(CAR, 0.9, 100.0, 100.0)], frame * 40);
        }
        t.update(&[], 120);
        assert!(t.update(&[det(CAR, 0.3, 100.0, 100.0)], 160).is_empty());
        assert_eq!(t.track(1).map(|o| o.time_since_update_ms), Some(80));
        assert_eq!(ids(&t.update(&[det(CAR, 0.7, 100.0, 100.0)], 200)), [1]);
    }

    #[test]
    fn tentative_tracks_are_reported_only_after_min_hits() {
        let mut t = tracker();
        let d = [det(CAR, 0.9, 100.0, 100.0)];
        assert!(t.update(&d, 0).is_empty());
        assert!(t.update(&d, 40).is_empty());
        let tentative = t.track(1);
        assert_eq!(tentative.map(|o| (o.hits, o.confirmed)), Some((2, false)));
        let out = t.update(&d, 80);
        assert_eq!(
            out.iter()
                .map(|o| (o.track_id, o.hits, o.confirmed))
                .collect::<Vec<_>>(),
            [(1, 3, true)]
        );

        // A tentative track missing one frame is dropped, and the object starts over.
        let other = det(TRUCK, 0.9, 400.0, 100.0);
        t.update(&[d[0], other], 120);
        t.update(&[d[0], other], 160);
        t.update(&d, 200);
        assert_eq!(live_ids(&t), [1]);
        t.update(&[d[0], other], 240);
        assert_eq!(live_ids(&t), [1, 3]);

        // With min-hits = 1 a track is reported from its first frame.
        let config = TrackerConfig {
            min_hits: 1,
            ..TrackerConfig::default()
        };
        let mut t = Tracker::new(config);
        assert_eq!(ids(&t.update(&d, 0)), [1]);
    }

    #[test]
    fn ids_count_up_and_are_never_reused() {
        let mut t = tracker();
        let mut seen = Vec::new();
        let mut ts = 0;
        for round in 0..5 {
            // A flicker: one frame, tentative, then dropped.
            t.update(&[det(CAR, 0.9, 200.0, 200.0)], ts);
            seen.extend(live_ids(&t));
            ts += 40;
            t.update(&[], ts);
            // An object confirmed at the same place, then left to expire.
            for _ in 0..3 {
                ts += 40;
                t.update(&[det(CAR, 0.9, 200.0, 200.0)], ts);
            }
            seen.extend(live_ids(&t));
            ts += 2000;
            t.update(&[], ts);
            assert_eq!(t.tracks().count(), 0, "round {round}");
        }
        assert_eq!(seen, (1..=10).collect::<Vec<u64>>());
    }

    #[test]
    fn class_agnostic_tracks_take_the_majority_class() {
        let classes = [TRUCK, CAR, CAR, TRUCK, CAR, TRUCK, TRUCK, TRUCK];
        // Votes: T; tie keeps T; C 2-1; tie keeps C; C 3-2; tie keeps C; T 4-3; T.
        let expected = [TRUCK, TRUCK, CAR, CAR, CAR, CAR, TRUCK, TRUCK];
        let config = TrackerConfig {
            class_agnostic: true,
            ..TrackerConfig::default()
        };
        let mut t = Tracker::new(config);
        for (frame, (&class, &majority)) in classes.iter().zip(&expected).enumerate() {
            t.update(&[det(class, 0.9, 100.0, 100.0)], frame as u64 * 40);
            assert_eq!(live_ids(&t), [1]);
            assert_eq!(
                t.track(1).map(|o| o.class_id),
                Some(majority),
                "frame {frame}"
            );
        }

        // Matching per class (the default), each flip breaks the track: the tentative
        // track of the old class misses a frame and is dropped, and a new one starts, so
        // only the last run of three trucks (the fifth track) is confirmed.
        let mut t = tracker();
        for (frame, &class) in classes.iter().enumerate() {
            t.update(&[det(class, 0.9, 100.0, 100.0)], frame as u64 * 40);
        }
        assert_eq!(live_ids(&t), [5]);
        assert_eq!(t.track(5).map(|o| (o.class_id, o.hits)), Some((TRUCK, 3)));
    }

    #[test]
    fn irregular_time_steps_use_the_real_elapsed_time() {
        let mut t = tracker();
        let vx = 200.0;
        let at = |ms: u64| det(CAR, 0.9, 100.0 + vx * ms as f32 / 1000.0, 300.0);
        for ms in [0, 40, 70, 160, 200, 330, 360, 450, 600, 640, 700, 820] {
            t.update(&[at(ms)], ms);
        }
        let object = t.track(1).map(|o| o.velocity);
        assert_velocity_near(object.unwrap_or_default(), (vx, 0.0));
        // 700 ms without detection (gating skipped the frames): the object moved
        // 140 px, 3.5 box widths, and is found where the prediction put it.
        let out = t.update(&[at(1520)], 1520);
        assert_eq!(ids(&out), [1]);
        assert_eq!(out[0].time_since_update_ms, 0);
        let history = t.history(1).unwrap_or_default();
        assert_eq!(history.len(), 13);
        assert_eq!(
            history.last().map(|p| (p.ts_ms, p.center)),
            Some((1520, (404.0, 300.0)))
        );
        assert_velocity_near(out[0].velocity, (vx, 0.0));
    }

    #[test]
    fn history_keeps_the_last_history_len_points() {
        let config = TrackerConfig {
            history_len: 4,
            ..TrackerConfig::default()
        };
        let mut t = Tracker::new(config);
        for frame in 0..10u64 {
            t.update(&[det(CAR, 0.9, 100.0 + frame as f32, 100.0)], frame * 40);
            if frame == 5 {
                t.update(&[], frame * 40 + 20);
            }
        }
        let history = t.history(1).unwrap_or_default();
        let times: Vec<u64> = history.iter().map(|p| p.ts_ms).collect();
        assert_eq!(times, [240, 280, 320, 360]);
        assert_eq!(history[3].center, (109.0, 100.0));
        assert_eq!(t.history(2), None);
    }

    #[test]
    fn assignment_maximises_total_iou() {
        // Greedy would give row 0 column 0 (0.9) and leave row 1 unmatched.
        let ious = [[0.9, 0.8], [0.85, 0.0]];
        assert_eq!(assign(2, 2, 0.3, |r, c| ious[r][c]), [(0, 1), (1, 0)]);
        // More rows than columns, and pairs under the threshold are refused.
        let ious = [[0.2], [0.6], [0.4]];
        assert_eq!(assign(3, 1, 0.3, |r, c| ious[r][c]), [(1, 0)]);
        assert_eq!(assign(1, 1, 0.3, |_, _| 0.29), []);
        assert_eq!(assign(0, 3, 0.3, |_, _| 1.0), []);
    }

    #[test]
    fn unusable_boxes_are_ignored() {
        let mut t = tracker();
        let flat = Detection {
            class_id: CAR,
            score: 0.9,
            bbox: BoundingBox::new(10.0, 10.0, 50.0, 10.0),
        };
        let nan = Detection {
            class_id: CAR,
            score: 0.9,
            bbox: BoundingBox::new(f32::NAN, 10.0, 50.0, 40.0),
        };
        t.update(&[flat, nan], 0);
        assert_eq!(t.tracks().count(), 0);
    }

    #[test]
    fn config_uses_kebab_case_and_defaults() -> Result<(), serde_json::Error> {
        let config: TrackerConfig =
            serde_json::from_str(r#"{"max-age-ms": 3000, "class-agnostic": true}"#)?;
        assert_eq!(
            config,
            TrackerConfig {
                max_age_ms: 3000,
                class_agnostic: true,
                ..TrackerConfig::default()
            }
        );
        assert!(serde_json::from_str::<TrackerConfig>(r#"{"max_age_ms": 3000}"#).is_err());
        Ok(())
    }

    #[test]
    fn tracked_objects_serialise_for_plugins() -> Result<(), serde_json::Error> {
        let mut t = tracker();
        t.update(&[det(CAR, 0.5, 100.0, 100.0)], 0);
        let json = serde_json::to_value(t.track(1))?;
        assert_eq!(json["track_id"], 1);
        assert_eq!(json["velocity"], serde_json::json!([0.0, 0.0]));
        assert_eq!(json["bbox"]["x1"], 80.0);
        let point = serde_json::to_value(t.history(1).map(|h| h[0]))?;
        assert_eq!(point["center"], serde_json::json!([100.0, 100.0]));
        Ok(())
    }
}
