//! Scenarios for the tests: road users moving along piecewise-linear paths over a
//! 1280×720 view of a two-lane road, written in the plugin's replay format, and an
//! in-memory pole that records what the plugin sends.

#![allow(dead_code)] // Each test binary uses part of this module.

use std::path::PathBuf;

use sao_plugin_accident::replay::{self, ReplayFrame, ReplayObject};
use sao_plugin_accident::{Analyzer, Config, Host, Phase, Report};
use sao_plugin_sdk::testing::{MemoryPlatform, MemoryPole};
use sao_plugin_sdk_vision::snapshots::testing::{MemoryCamera, MemoryCameraPole};
use serde_json::Value;

/// The camera the tests watch.
pub const CAMERA: &str = "road";
/// Frame width in pixels.
pub const WIDTH: u32 = 1280;
/// Frame height in pixels.
pub const HEIGHT: u32 = 720;
/// 2026-11-21T19:00:00+07:00, on a 15-minute boundary.
pub const START_MS: u64 = 1_795_262_400_000;

/// The view: an eastbound lane (feet at y 0.5–0.8, traffic to the right), a westbound
/// lane above it (0.2–0.5, traffic to the left), a shoulder below (0.8–0.92) and a
/// sidewalk at the bottom.
pub const ROAD: &str = r#"{
    "zones": [
        {"name": "westbound", "kind": "lane", "direction": [-1, 0],
         "polygon": [[0, 0.2], [1, 0.2], [1, 0.5], [0, 0.5]]},
        {"name": "eastbound", "kind": "lane", "direction": [1, 0],
         "polygon": [[0, 0.5], [1, 0.5], [1, 0.8], [0, 0.8]]},
        {"name": "shoulder", "kind": "shoulder",
         "polygon": [[0, 0.8], [1, 0.8], [1, 0.92], [0, 0.92]]},
        {"name": "footway", "kind": "sidewalk",
         "polygon": [[0, 0.92], [1, 0.92], [1, 1], [0, 1]]}
    ]
}"#;

/// Foot (bottom-centre) y of the eastbound lane's middle, pixels.
pub const EASTBOUND_Y: f32 = 0.65 * HEIGHT as f32;
/// Foot y of the westbound lane's middle, pixels.
pub const WESTBOUND_Y: f32 = 0.35 * HEIGHT as f32;
/// Foot y on the shoulder, pixels.
pub const SHOULDER_Y: f32 = 0.86 * HEIGHT as f32;

/// A road user moving along straight segments between timed waypoints; visible from
/// its first waypoint to its last.
#[derive(Debug, Clone)]
pub struct Actor {
    label: String,
    track: u64,
    size: (f32, f32),
    /// `(seconds, foot x, foot y)`.
    waypoints: Vec<(f64, f32, f32)>,
}

impl Actor {
    /// A car (160×90 px box).
    pub fn car(track: u64) -> Actor {
        Actor::new("car", track, (160.0, 90.0))
    }

    /// A motorcycle (60×80 px).
    pub fn motorcycle(track: u64) -> Actor {
        Actor::new("motorcycle", track, (60.0, 80.0))
    }

    /// A person (40×100 px).
    pub fn person(track: u64) -> Actor {
        Actor::new("person", track, (40.0, 100.0))
    }

    /// A road user of `label` with a box of `size` pixels.
    pub fn new(label: &str, track: u64, size: (f32, f32)) -> Actor {
        Actor {
            label: label.to_string(),
            track,
            size,
            waypoints: Vec::new(),
        }
    }

    /// Its feet are at `(x, y)` pixels at `seconds`.
    pub fn at(mut self, seconds: f64, x: f32, y: f32) -> Actor {
        self.waypoints.push((seconds, x, y));
        self
    }

    /// From its last waypoint it brakes evenly to rest over `seconds`, from `speed` px/s
    /// along x (negative: to the left).
    pub fn brake(mut self, speed: f32, seconds: f64) -> Actor {
        let &(t0, x0, y) = self.waypoints.last().expect("a waypoint first");
        let steps = (seconds * 10.0).round() as u32;
        for k in 1..=steps {
            let t = f64::from(k) / 10.0;
            let travelled = (t - t * t / (2.0 * seconds)) as f32;
            self = self.at(t0 + t, x0 + speed * travelled, y);
        }
        self
    }

    /// It stays where its last waypoint put it until `seconds`.
    pub fn until(self, seconds: f64) -> Actor {
        let &(_, x, y) = self.waypoints.last().expect("a waypoint first");
        self.at(seconds, x, y)
    }

    /// Its box at `seconds`, if it is in view then.
    fn object(&self, seconds: f64) -> Option<ReplayObject> {
        let first = self.waypoints.first()?;
        let last = self.waypoints.last()?;
        if seconds < first.0 || seconds > last.0 {
            return None;
        }
        let (x, y) = self
            .waypoints
            .windows(2)
            .find(|w| seconds >= w[0].0 && seconds <= w[1].0)
            .map(|w| {
                let span = w[1].0 - w[0].0;
                let f = if span > 0.0 {
                    ((seconds - w[0].0) / span) as f32
                } else {
                    0.0
                };
                (
                    w[0].1 + (w[1].1 - w[0].1) * f,
                    w[0].2 + (w[1].2 - w[0].2) * f,
                )
            })
            .unwrap_or((first.1, first.2));
        let (w, h) = self.size;
        Some(ReplayObject {
            label: self.label.clone(),
            track: self.track,
            score: 0.85,
            bbox: [x - w / 2.0, y - h, w, h],
        })
    }
}

/// Frames at `fps` over `seconds` of the actors, starting at `START_MS + offset_ms`.
pub fn scenario(actors: &[Actor], seconds: f64, fps: f64, offset_ms: u64) -> Vec<ReplayFrame> {
    let frames = (seconds * fps).round() as u64;
    (0..=frames)
        .map(|i| {
            let t = i as f64 / fps;
            ReplayFrame {
                camera: CAMERA.to_string(),
                frame: i + 1,
                ts: START_MS + offset_ms + (t * 1000.0).round() as u64,
                width: WIDTH,
                height: HEIGHT,
                objects: actors.iter().filter_map(|a| a.object(t)).collect(),
            }
        })
        .collect()
}

/// Writes a scenario's replay file into the test's temporary directory (so a failing
/// test leaves it to look at) and returns its text as read back.
pub fn write_replay(name: &str, frames: &[ReplayFrame]) -> String {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.jsonl"));
    std::fs::write(&path, replay::write(frames)).unwrap();
    std::fs::read_to_string(&path).unwrap()
}

/// A pole in memory: the SDKs' platform and camera, and the incident reports.
#[derive(Default)]
pub struct Pole {
    pub base: MemoryPlatform,
    pub camera: MemoryCamera,
    pub reports: Vec<Report>,
}

impl Pole {
    /// The reports of event kind `kind`.
    pub fn reports_of(&self, kind: &str) -> Vec<&Report> {
        self.reports.iter().filter(|r| r.kind == kind).collect()
    }

    /// A report's details as JSON.
    pub fn details(report: &Report) -> Value {
        serde_json::from_str(&report.details).unwrap()
    }

    /// The phases of each incident, in the order incidents opened.
    pub fn incidents(&self) -> Vec<(String, Vec<Phase>)> {
        let mut incidents: Vec<(String, Vec<Phase>)> = Vec::new();
        for r in &self.reports {
            match incidents.iter_mut().find(|(id, _)| *id == r.incident) {
                Some((_, phases)) => phases.push(r.phase),
                None => incidents.push((r.incident.clone(), vec![r.phase])),
            }
        }
        incidents
    }
}

impl MemoryPole for Pole {
    fn memory(&mut self) -> &mut MemoryPlatform {
        &mut self.base
    }
}

impl MemoryCameraPole for Pole {
    fn camera(&mut self) -> &mut MemoryCamera {
        &mut self.camera
    }
}

impl Host for Pole {
    fn report(&mut self, report: &Report) -> Result<(), String> {
        // The host refuses details that are not a JSON object.
        serde_json::from_str::<serde_json::Map<String, Value>>(&report.details)
            .map_err(|e| e.to_string())?;
        self.reports.push(report.clone());
        Ok(())
    }
}

/// `config` (JSON) merged over the [`ROAD`] zones.
pub fn road_config(extra: &str) -> Config {
    let mut config: Value = serde_json::from_str(ROAD).unwrap();
    let extra: Value = serde_json::from_str(extra).unwrap();
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    Config::from_json(&config.to_string()).unwrap()
}

/// Plays `frames` (written to and read back from a replay file named `name`) through a
/// fresh analyzer with `config` on `pole`, with a tick every 10 s.
pub fn play(name: &str, frames: &[ReplayFrame], config: Config, pole: &mut Pole) -> Analyzer {
    let text = write_replay(name, frames);
    let mut analyzer = Analyzer::new(config, START_MS, pole).unwrap();
    replay::play(&mut analyzer, &text, 10_000, pole).unwrap();
    assert!(
        pole.base.events.is_empty(),
        "incidents go out as reports, not events"
    );
    analyzer
}
