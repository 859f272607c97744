//! The accident plugin (compiled to wasm32-wasip2, shipping the real YOLOX-Nano model)
//! through the whole pipeline of `sao vision run`: the shared traffic video gives
//! traffic counts and no incident; a person standing on the road in a real photo opens a
//! pedestrian incident with the pole's annotated photo and closes it when the road is
//! clear; configs with errors are refused with a message that names the error.

mod common;

use std::collections::BTreeSet;

use base64::Engine as _;
use common::mqtt::{Message, Schemas};
use common::{accident_files, shared, vision_run, vision_run_output, Bench};
use sao_vision::clip::{Look, Segment};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The config of the overhead parking-lot camera of `car-detection.mp4`, as the demo
/// runs it: cars drive down the left third and up the middle third; seen from above,
/// COCO calls a car a "cell phone", so the config maps that label to cars; 10 s
/// counting periods.
fn parking_lot() -> String {
    std::fs::read_to_string(common::root().join("runtime/demo-accident.json")).unwrap()
}

/// The plugin's records (`…/accident/…`), each checked against its topic's schema.
fn accident_records(records: &[Value]) -> Vec<(String, Value)> {
    let schemas = Schemas::load();
    records
        .iter()
        .filter(|r| r["topic"].as_str().unwrap().contains("/accident/"))
        .map(|r| {
            let message = Message {
                topic: r["topic"].as_str().unwrap().to_string(),
                payload: r["payload"].clone(),
                retain: false,
            };
            schemas.check(&message);
            (message.topic, message.payload)
        })
        .collect()
}

fn metric(record: &Value, name: &str) -> f64 {
    record["metrics"][name]["value"].as_f64().unwrap()
}

#[test]
fn the_traffic_video_gives_counts_per_lane_and_no_incident() {
    let bench = Bench::new();
    let package = bench.package("accident", accident_files());
    let video = shared("media/traffic/car-detection.mp4");
    let (records, _) = vision_run(&bench, &package, &video, &parking_lot(), "parking-lot");
    let ours = accident_records(&records);

    let incidents: Vec<&String> = ours
        .iter()
        .map(|(topic, _)| topic)
        .filter(|t| t.contains("/evt/"))
        .collect();
    assert!(incidents.is_empty(), "{incidents:?}");
    let counts: Vec<&Value> = ours
        .iter()
        .filter(|(t, _)| t.ends_with("/tele/accident/traffic"))
        .map(|(_, p)| p)
        .collect();
    // The 30 s video spans at least two whole 10 s periods, reported back to back.
    assert!(counts.len() >= 2, "{counts:?}");
    for pair in counts.windows(2) {
        assert_eq!(
            pair[0]["details"]["period-end-ts"],
            pair[1]["details"]["period-start-ts"]
        );
    }
    for record in &counts {
        let d = &record["details"];
        assert_eq!(d["camera"], "parking-lot");
        assert_eq!(d["period-s"], 10);
        let per_class = metric(record, "car") + metric(record, "bus") + metric(record, "truck");
        assert_eq!(metric(record, "vehicles"), per_class);
        assert_eq!(record["metrics"]["car"]["unit"], "1");
    }
    // The three cars that cross before the last period begins are counted, in the lanes
    // they drive in.
    let vehicles: f64 = counts.iter().map(|r| metric(r, "vehicles")).sum();
    assert!(vehicles >= 3.0, "{counts:?}");
    let lanes: BTreeSet<&str> = counts
        .iter()
        .flat_map(|r| r["details"]["by-direction"].as_object().unwrap().keys())
        .map(String::as_str)
        .collect();
    assert_eq!(lanes, BTreeSet::from(["down-lane", "up-lane"]));
}

#[test]
fn a_person_on_the_road_opens_an_incident_with_the_photo_and_it_closes_when_clear() {
    let bench = Bench::new();
    let package = bench.package("accident", accident_files());
    // A bus stop with people on the roadway beside the bus, then an empty scene.
    let video = bench.path("bus-stop.avi");
    let mut clip = vec![Segment {
        photo: shared("media/traffic/coco_000000001584.jpg"),
        frames: 50,
    }];
    clip.extend(
        common::photos("media/negatives")
            .into_iter()
            .map(|photo| Segment { photo, frames: 10 }),
    );
    common::clip(&video, &clip, 5.0, Look::Day);
    let config = r#"{
        "clear-after-s": 3,
        "zones": [{"name": "road", "kind": "carriageway",
                   "polygon": [[0, 0.55], [1, 0.55], [1, 1], [0, 1]]}]
    }"#;
    let (records, _) = vision_run(&bench, &package, &video, config, "bus-stop");
    let ours = accident_records(&records);
    let reports: Vec<&Value> = ours
        .iter()
        .filter(|(t, _)| t.ends_with("/evt/accident/pedestrian"))
        .map(|(_, p)| p)
        .collect();
    assert!(ours
        .iter()
        .all(|(t, _)| !t.contains("/evt/") || t.ends_with("/pedestrian")));

    let states: Vec<&str> = reports
        .iter()
        .map(|r| r["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.first(), Some(&"raised"), "{states:?}");
    assert_eq!(states.last(), Some(&"cleared"), "{states:?}");
    let opened = reports[0];
    let incident = opened["incident"].as_str().unwrap();
    assert!(reports.iter().all(|r| r["incident"] == incident));
    assert_eq!(opened["severity"], "warning");
    let d = &opened["details"];
    assert_eq!(d["type"], "pedestrian");
    assert_eq!(d["zone"], "road");
    assert_eq!(d["camera"], "bus-stop");
    assert_eq!(d["classes"], serde_json::json!(["person"]));
    // Two seconds on the road before it is reported.
    let since = d["road-users"][0]["on-carriageway-since-ts"]
        .as_u64()
        .unwrap();
    assert!(d["opened-ts"].as_u64().unwrap() >= since + 2000, "{d}");

    // The pole's annotated photo, as the record's attachment.
    let snapshot = &opened["snapshot"];
    let jpeg = base64::engine::general_purpose::STANDARD
        .decode(snapshot["data"].as_str().expect("a photo"))
        .unwrap();
    assert_eq!(snapshot["bytes"], jpeg.len());
    assert_eq!(snapshot["sha256"], hex::encode(Sha256::digest(&jpeg)));
    let (w, h) = common::jpeg_size(&jpeg).expect("the photo decodes");
    assert!(w >= 320 && h >= 180, "{w}×{h}");

    let closed = reports.last().unwrap();
    assert_eq!(closed["details"]["reason"], "scene-cleared");
    assert!(closed.get("snapshot").is_none());
}

#[test]
fn configs_with_errors_are_refused_with_a_message_naming_the_error() {
    let bench = Bench::new();
    let package = bench.package("accident", accident_files());
    let video = bench.path("still.avi");
    common::clip(
        &video,
        &[Segment {
            photo: shared("media/traffic/coco_000000001532.jpg"),
            frames: 5,
        }],
        5.0,
        Look::Day,
    );
    let cases = [
        // The pole's schema check.
        (
            r#"{"zones": [{"name": "a", "kind": "carriageway", "polygon": [[0, 0], [1, 1]]}]}"#,
            "/zones/0/polygon",
        ),
        (
            r#"{"classes": {"car": "spaceship"}}"#,
            "\"spaceship\" is not one of",
        ),
        (
            r#"{"classes": {"motorbike": "motorcycle"}}"#,
            "\"motorbike\" is not one of",
        ),
        // The plugin's own check, for what a schema cannot say.
        (
            r#"{"zones": [{"name": "a", "kind": "lane", "polygon": [[0, 0], [1, 0], [1, 1]]}]}"#,
            "zones[0].direction: lane `a` needs its direction of travel",
        ),
    ];
    for (config, expected) in cases {
        let trace = bench.path("trace.jsonl");
        let out = vision_run_output(&bench, &package, &video, config, "road", &trace);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{config} was accepted");
        let last = stderr.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("sao: error: plugin `accident` failed: ") && last.contains(expected),
            "{config}: {stderr}"
        );
    }
}
