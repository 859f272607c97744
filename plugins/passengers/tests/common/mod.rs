//! A bus stop for the tests: a 1280×720 camera, people standing at timed places, and the
//! counter driven through the SDK's in-memory pole with frames and 10-s ticks, every
//! record stamped with the time of the step that sent it.

#![allow(dead_code)] // Each test binary uses part of this module.

use sao_plugin_passengers::{Config, Counter, Detection, Frame};
use sao_plugin_sdk::testing::{MemoryPlatform, Record};

/// The camera the tests watch.
pub const CAMERA: &str = "stop-north";
/// Frame width in pixels.
pub const WIDTH: u32 = 1280;
/// Frame height in pixels.
pub const HEIGHT: u32 = 720;
/// 2026-11-21T19:00:00+07:00, on a minute (and 5-minute) boundary.
pub const START_MS: u64 = 1_795_262_400_000;
/// The pole's tick interval, as the manifest declares it.
pub const TICK_MS: u64 = 10_000;

/// The waiting area of the tests: the bottom half of the view (the shelter's
/// pavement); the road is the top half.
pub const SHELTER: &str = r#"{"zone": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]}"#;
/// Feet on the shelter's pavement.
pub const IN: (f64, f64) = (0.5, 0.8);
/// Feet on the road, outside the waiting area.
pub const OUT: (f64, f64) = (0.5, 0.3);

/// Milliseconds since [`START_MS`] as seconds, for readable asserts.
pub fn at_s(seconds: f64) -> u64 {
    START_MS + (seconds * 1000.0).round() as u64
}

/// Someone the camera sees: a 60×160 px box, standing at timed places.
#[derive(Debug, Clone)]
pub struct Person {
    track: u64,
    label: String,
    score: f32,
    /// `(from s, to s, feet)`: in view from `from` to `to` (inclusive) with its feet at
    /// the normalized point `feet`.
    stays: Vec<(f64, f64, (f64, f64))>,
}

impl Person {
    /// A person on track `track` (score 0.8).
    pub fn new(track: u64) -> Person {
        Person {
            track,
            label: "person".to_string(),
            score: 0.8,
            stays: Vec::new(),
        }
    }

    /// Detected with `score` instead.
    pub fn score(mut self, score: f32) -> Person {
        self.score = score;
        self
    }

    /// Detected as `label` instead.
    pub fn label(mut self, label: &str) -> Person {
        self.label = label.to_string();
        self
    }

    /// In view from `from` to `to` seconds with its feet at `feet`.
    pub fn stands(mut self, from: f64, to: f64, feet: (f64, f64)) -> Person {
        self.stays.push((from, to, feet));
        self
    }

    /// Its detection at `seconds`, if it is in view then.
    pub fn at(&self, seconds: f64) -> Option<Detection> {
        let &(_, _, feet) = self
            .stays
            .iter()
            .find(|&&(from, to, _)| seconds >= from - 1e-9 && seconds <= to + 1e-9)?;
        Some(detection(&self.label, self.score, self.track, feet))
    }
}

/// A detection of `label` on track `track` whose 60×160 px box has its bottom centre at
/// the normalized point `feet`.
pub fn detection(label: &str, score: f32, track: u64, feet: (f64, f64)) -> Detection {
    let (width, height) = (60.0, 160.0);
    Detection {
        label: label.to_string(),
        score,
        x: (feet.0 * f64::from(WIDTH)) as f32 - width / 2.0,
        y: (feet.1 * f64::from(HEIGHT)) as f32 - height,
        width,
        height,
        track_id: track,
    }
}

/// The counter at a stop, on an in-memory pole.
pub struct Stop {
    /// The logic under test.
    pub counter: Counter,
    /// The pole: records and log lines.
    pub pole: MemoryPlatform,
    /// When each of `pole.records` was sent, Unix ms.
    pub sent_ms: Vec<u64>,
    /// Ticks come at multiples of [`TICK_MS`] from [`START_MS`]; the next one.
    next_tick_ms: u64,
    /// The last frame number handed out (one sequence for every camera).
    frame_ids: u64,
}

impl Stop {
    /// A stop with `config` (JSON).
    pub fn new(config: &str) -> Stop {
        Stop {
            counter: Counter::new(Config::from_json(config).unwrap()).unwrap(),
            pole: MemoryPlatform::default(),
            sent_ms: Vec::new(),
            next_tick_ms: START_MS,
            frame_ids: 0,
        }
    }

    /// Stamps the records sent since the last call with `ts_ms`.
    fn stamp(&mut self, ts_ms: u64) {
        let new = self.pole.records.len() - self.sent_ms.len();
        self.sent_ms.extend(std::iter::repeat_n(ts_ms, new));
    }

    /// Ticks due up to `ts_ms` (inclusive).
    fn ticks_until(&mut self, ts_ms: u64) {
        while self.next_tick_ms <= ts_ms {
            let now = self.next_tick_ms;
            self.counter.on_tick(now, &mut self.pole);
            self.stamp(now);
            self.next_tick_ms += TICK_MS;
        }
    }

    /// One frame of `camera` at `seconds` with `detections` (after the ticks due).
    pub fn frame(&mut self, camera: &str, seconds: f64, detections: &[Detection]) {
        let ts_ms = at_s(seconds);
        self.ticks_until(ts_ms);
        self.frame_ids += 1;
        let frame = Frame {
            camera: camera.to_string(),
            frame_id: self.frame_ids,
            ts_ms,
            width: WIDTH,
            height: HEIGHT,
        };
        self.counter
            .on_detections(&frame, detections, &mut self.pole);
        self.stamp(ts_ms);
    }

    /// Frames of [`CAMERA`] at `fps` from `from` to `to` seconds (inclusive) showing
    /// `people`, with the ticks due between them.
    pub fn run(&mut self, people: &[Person], from: f64, to: f64, fps: f64) {
        let frames = ((to - from) * fps).round() as u64;
        for i in 0..=frames {
            let t = from + i as f64 / fps;
            let seen: Vec<Detection> = people.iter().filter_map(|p| p.at(t)).collect();
            self.frame(CAMERA, t, &seen);
        }
    }

    /// Only ticks, up to `to` seconds: the camera sends nothing.
    pub fn silence(&mut self, to: f64) {
        self.ticks_until(at_s(to));
    }

    /// The period reports (stream `waiting`) of `camera`.
    pub fn reports(&self, camera: &str) -> Vec<&Record> {
        let of_camera = |r: &&Record| r.details["camera"] == camera;
        self.pole
            .stream("waiting")
            .into_iter()
            .filter(of_camera)
            .collect()
    }

    /// The live counts (stream `waiting-now`) of `camera`: when, and how many.
    pub fn live(&self, camera: &str) -> Vec<(u64, f64)> {
        self.pole
            .records
            .iter()
            .zip(&self.sent_ms)
            .filter(|(r, _)| r.stream == "waiting-now" && r.details["camera"] == camera)
            .map(|(r, &ts)| (ts, r.metric("waiting").unwrap()))
            .collect()
    }
}

/// A report's metrics as `(name, value, unit)`, in order.
pub fn metrics(record: &Record) -> Vec<(&str, f64, &str)> {
    let m = record.metrics.iter();
    m.map(|(n, v, u)| (n.as_str(), *v, u.as_str())).collect()
}
