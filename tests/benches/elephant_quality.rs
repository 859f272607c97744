//! Detection quality of the elephant plugin as shipped (default config, the COCO
//! YOLOX-Nano model) on the photos of `../shared/media`: each photo becomes a clip of
//! `SAO_QUALITY_FRAMES` frames (default 25: 5 s at 5 fps, the view panning across it)
//! played through `sao vision run` (release build), and counts as alarmed when the
//! plugin raised an alert.
//!
//! - recall: elephant photos (the 15 labelled ones and the 2 COCO ones) that alarm, in
//!   daylight colours and as infrared night frames;
//! - false alarms: negative photos that alarm, and alerts on the traffic video;
//! - baseline, measured in the same run: the detector alone on each still photo (a box
//!   of the label group above its minimum score and size, as the plugin's defaults say).
//!   The ratio shows what confirmation across frames costs in recall.
//!
//! `cargo bench -p sao-e2e --bench elephant_quality` (`SAO_QUALITY_FRAMES=10` for 2 s clips)

#[path = "../common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{elephant_files, shared, Bench};
use sao_vision::clip::{Look, Segment};
use serde_json::Value;

/// The plugin's default label group: (label, minimum score); boxes need a 24 px side.
const GROUP: [(&str, f64); 4] = [
    ("elephant", 0.30),
    ("horse", 0.40),
    ("cow", 0.40),
    ("bear", 0.40),
];
const MIN_SIDE_PX: f64 = 24.0;

fn sao(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sao-e2e-host"))
        .args(["--log", "error"])
        .args(args)
        .output()
        .expect("sao runs")
}

/// Whether the plugin alarms on `video`.
fn alarms(bench: &Bench, package: &Path, video: &Path) -> bool {
    let out = sao(&[
        "vision",
        "run",
        "--source",
        video.to_str().unwrap(),
        "--plugin",
        package.to_str().unwrap(),
        "--trusted",
        bench.path("trusted").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.contains("/alert/elephant"))
}

/// Whether the detector alone finds a candidate on the still photo.
fn detector_finds(photo: &Path) -> bool {
    let model = shared("models/yolox_nano.onnx");
    let out = sao(&[
        "vision",
        "detect",
        "--model",
        model.to_str().unwrap(),
        "--head",
        "yolox",
        photo.to_str().unwrap(),
    ]);
    let line: Value = serde_json::from_slice(&out.stdout).unwrap();
    line["detections"].as_array().unwrap().iter().any(|d| {
        let b: Vec<f64> = d["box"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let side = (b[2] - b[0]).min(b[3] - b[1]);
        GROUP.iter().any(|(label, min)| {
            d["label"] == *label && d["score"].as_f64().unwrap() >= *min && side >= MIN_SIDE_PX
        })
    })
}

/// How many of `photos` alarm as clips of `frames` with `look`; prints the names of
/// those that do not.
fn alarmed(bench: &Bench, package: &Path, photos: &[PathBuf], frames: usize, look: Look) -> usize {
    let mut missed = Vec::new();
    let mut count = 0;
    for (i, photo) in photos.iter().enumerate() {
        let video = bench.path(&format!("clip-{i}-{look:?}.avi"));
        let segment = Segment {
            photo: photo.clone(),
            frames,
        };
        common::clip(&video, &[segment], 5.0, look);
        if alarms(bench, package, &video) {
            count += 1;
        } else {
            missed.push(
                photo
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .chars()
                    .take(24)
                    .collect::<String>(),
            );
        }
    }
    println!("  ({look:?}: no alarm on {})", missed.join(", "));
    count
}

fn main() {
    let bench = Bench::new();
    let package = bench.package("elephant", elephant_files());
    let mut elephants = common::photos("media/elephants/images");
    elephants.extend(common::photos("media/elephants"));
    let negatives = common::photos("media/negatives");
    let frames: usize = std::env::var("SAO_QUALITY_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);

    let detector = elephants.iter().filter(|p| detector_finds(p)).count();
    let day = alarmed(&bench, &package, &elephants, frames, Look::Day);
    let night = alarmed(&bench, &package, &elephants, frames, Look::InfraredNight);
    let false_day = alarmed(&bench, &package, &negatives, frames, Look::Day);
    let traffic = alarms(&bench, &package, &shared("media/traffic/car-detection.mp4"));

    let n = elephants.len();
    let share = |k: usize, of: usize| 100.0 * k as f64 / of as f64;
    println!(
        "elephant plugin, default config, YOLOX-Nano (COCO), clips of {frames} frames at 5 fps"
    );
    println!(
        "  baseline: detector alone finds a candidate on {detector}/{n} still photos ({:.0} %)",
        share(detector, n)
    );
    println!(
        "  recall, day clips:   {day}/{n} ({:.0} %)  ratio to baseline {:.2}",
        share(day, n),
        day as f64 / detector as f64
    );
    println!(
        "  recall, night (IR):  {night}/{n} ({:.0} %)  ratio to day {:.2}",
        share(night, n),
        night as f64 / day as f64
    );
    println!(
        "  false alarms: {false_day}/{} negative photos, traffic video: {}",
        negatives.len(),
        if traffic { "alarmed" } else { "none" }
    );
}
