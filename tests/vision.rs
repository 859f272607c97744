//! The vision pipeline through the `sao` command: `sao vision detect` on the real photos,
//! and `sao vision run` driving a real vision plugin (the vision-probe fixture, compiled
//! to wasm32-wasip2, shipping the real YOLOX-Nano model) over the real traffic video.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Output};

use std::time::Duration;

use common::mqtt::{Mosquitto, Subscriber};
use common::{looping_gate_camera, pole_body, shared, vision_probe_files, Bench, PoleProcess};
use serde_json::Value;

const PREFIX: &str = "sao/v1/chachoengsao/ccs-test-01";
const LONG: Duration = Duration::from_secs(90);

fn sao(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sao-e2e-host"))
        .args(["--log", "warn"])
        .args(args)
        .output()
        .expect("sao runs")
}

fn json_lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn detect_prints_one_json_line_per_image_and_names_the_bad_one() {
    let model = shared("models/yolox_nano.onnx");
    let herd = shared("media/elephants/coco_000000007108.jpg");
    let bus = shared("media/traffic/coco_000000001584.jpg");
    let bench = Bench::new();
    let garbage = bench.path("garbage.jpg");
    std::fs::write(&garbage, b"not a JPEG at all").unwrap();
    let paths: Vec<String> = [&model, &herd, &bus, &garbage]
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let out = sao(&[
        "vision", "detect", "--model", &paths[0], "--head", "yolox", &paths[1], &paths[2],
        &paths[3],
    ]);
    assert!(!out.status.success(), "a bad image fails the run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 of 3 images could not be read"),
        "{stderr}"
    );
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 3);
    let labels = |line: &Value| -> Vec<String> {
        line["detections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["label"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(lines[0]["width"], 640);
    assert_eq!(
        labels(&lines[0])
            .iter()
            .filter(|l| *l == "elephant")
            .count(),
        4
    );
    // Boxes are in the photo's own pixels (640×426), not the model's 416×416.
    for d in lines[0]["detections"].as_array().unwrap() {
        let b: Vec<f64> = serde_json::from_value(d["box"].clone()).unwrap();
        assert!(
            b[0] >= 0.0
                && b[1] >= 0.0
                && b[2] <= 640.0
                && b[3] <= 426.0
                && b[2] > b[0]
                && b[3] > b[1]
        );
    }
    assert!(labels(&lines[1]).contains(&"bus".to_string()));
    assert_eq!(lines[2]["image"], paths[3]);
    assert!(lines[2]["error"]
        .as_str()
        .unwrap()
        .contains("not a readable image"));
}

#[test]
fn run_tracks_the_cars_and_the_plugin_gets_detections_and_snapshots() {
    let bench = Bench::new();
    let package = bench.package("vision-probe", vision_probe_files());
    let video = shared("media/traffic/car-detection.mp4");
    let out = sao(&[
        "vision",
        "run",
        "--source",
        &video.display().to_string(),
        "--plugin",
        &package.display().to_string(),
        "--trusted",
        &bench.path("trusted").display().to_string(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let records = json_lines(&out.stdout);
    let payload = |r: &Value| r["payload"].clone();
    let objects: Vec<Value> = records
        .iter()
        .filter(|r| {
            r["topic"]
                .as_str()
                .unwrap()
                .ends_with("/tele/vision-probe/objects")
        })
        .map(payload)
        .collect();
    // Every inferred frame reached the plugin, in order.
    let frames: Vec<u64> = objects
        .iter()
        .map(|o| o["details"]["frame-id"].as_u64().unwrap())
        .collect();
    assert!(
        frames.len() > 100 && frames.windows(2).all(|w| w[0] < w[1]),
        "{} frames",
        frames.len()
    );
    let mut appearances: BTreeMap<u64, usize> = BTreeMap::new();
    for o in &objects {
        for t in o["details"]["tracks"].as_array().unwrap() {
            *appearances
                .entry(t["track-id"].as_u64().unwrap())
                .or_default() += 1;
        }
    }
    let long: Vec<_> = appearances.iter().filter(|(_, n)| **n >= 10).collect();
    assert_eq!(
        long.len(),
        4,
        "four cars, one long track each: {appearances:?}"
    );

    let sightings: Vec<Value> = records
        .iter()
        .filter(|r| {
            r["topic"]
                .as_str()
                .unwrap()
                .ends_with("/evt/vision-probe/sighting")
        })
        .map(payload)
        .collect();
    let sighted: BTreeSet<u64> = sightings
        .iter()
        .map(|s| s["details"]["track-id"].as_u64().unwrap())
        .collect();
    assert_eq!(sighted.len(), sightings.len(), "one sighting per track");
    assert!(long.iter().all(|(id, _)| sighted.contains(id)));
    for s in &sightings {
        let shot = &s["details"]["snapshot"];
        assert_eq!(
            (shot["width"].as_u64(), shot["height"].as_u64()),
            (Some(768), Some(432)),
            "{s}"
        );
        assert_eq!(shot["jpeg"], true, "{s}");
        assert!(shot["bytes"].as_u64().unwrap() > 10_000);
    }
    // Every sighted car had its plate area blurred in at least one snapshot.
    assert!(sightings
        .iter()
        .any(|s| s["details"]["snapshot"]["blurred"].as_u64() >= Some(1)));
    assert!(stderr.contains("377 frames"), "{stderr}");
    assert!(stderr.contains("tracks by label"), "{stderr}");
}

#[test]
fn run_refuses_what_cannot_work_with_a_clear_message() {
    let bench = Bench::new();
    let trusted = bench.path("trusted").display().to_string();
    let video = shared("media/traffic/car-detection.mp4")
        .display()
        .to_string();
    // A model file that is not ONNX.
    let mut files = vision_probe_files();
    files.insert(
        "models/yolox_nano.onnx".into(),
        b"garbage, not a model".to_vec(),
    );
    let corrupt = bench.package("corrupt", files).display().to_string();
    let out = sao(&[
        "vision",
        "run",
        "--source",
        &video,
        "--plugin",
        &corrupt,
        "--trusted",
        &trusted,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("model `detector`"), "{stderr}");
    // A video that is not there.
    let good = bench
        .package("probe", vision_probe_files())
        .display()
        .to_string();
    let missing = bench.path("no-such-video.mp4").display().to_string();
    let out = sao(&[
        "vision",
        "run",
        "--source",
        &missing,
        "--plugin",
        &good,
        "--trusted",
        &trusted,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("no-such-video.mp4: file not found"),
        "{stderr}"
    );
}

#[test]
fn a_running_pole_watches_its_camera_and_reports_it_vanishing_over_mqtt() {
    let bench = Bench::new();
    let broker = Mosquitto::start(&bench.path("broker"));
    let sub = Subscriber::connect(broker.port, "sao/#");
    let (clip, camera) = looping_gate_camera(&bench);
    let config = format!(
        "{}\n[uplink]\nbroker = \"{}\"\n{camera}",
        pole_body(),
        broker.url()
    );
    let pole = PoleProcess::start(&bench, &config);
    let health = format!("{PREFIX}/evt/sao/camera-health");
    let states = |m: &[common::mqtt::Message]| -> Vec<String> {
        m.iter()
            .filter(|m| m.topic == health)
            .map(|m| m.payload["details"]["state"].as_str().unwrap().to_string())
            .collect()
    };
    sub.wait_for(
        "the camera up and a car sighted with a snapshot",
        LONG,
        |m| {
            states(m).first().map(String::as_str) == Some("ok")
                && m.iter().any(|m| {
                    m.topic.ends_with("/evt/vision-probe/sighting")
                        && m.payload["details"]["snapshot"]["jpeg"] == true
                })
        },
    );
    // The recorder loses its file: the pole says so, and says when it is back.
    std::fs::File::create(&clip).unwrap();
    sub.wait_for("the camera offline", LONG, |m| {
        states(m).contains(&"offline".to_string())
    });
    let offline = sub
        .on("/evt/sao/camera-health")
        .into_iter()
        .find(|m| m.payload["details"]["state"] == "offline")
        .unwrap();
    assert_eq!(offline.payload["state"], "raised");
    assert!(
        offline.payload["message"]
            .as_str()
            .unwrap()
            .contains("gate-camera.mp4"),
        "{}",
        offline.payload
    );
    std::fs::copy(shared("media/traffic/car-detection.mp4"), &clip).unwrap();
    sub.wait_for("the camera back", LONG, |m| {
        let s = states(m);
        s.iter().rposition(|x| x == "ok") > s.iter().position(|x| x == "offline")
    });
    assert!(
        pole.terminate(),
        "clean exit: {}",
        "sao run stopped on SIGTERM"
    );
}
