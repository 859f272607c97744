//! The elephant plugin (compiled to wasm32-wasip2, shipping the real YOLOX-Nano model) on
//! videos assembled from the real photos in `../shared/media`: an elephant sounds the
//! pole's siren and strobe after N-of-M confirmation and sends an alert with the photo;
//! negatives, the traffic video and a single stray frame sound nothing; infrared night
//! frames work the same; and with the broker down the siren still sounds at once and
//! the alert arrives later, marked historical, with its original time.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use common::mqtt::{wait_until, Message, Mosquitto, Schemas, Subscriber};
use common::{elephant_files, pole_body, shared, traced, with_sim_hardware, Bench, PoleProcess};
use sao_vision::clip::{Look, Segment};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Frames per second of the assembled videos.
const FPS: f64 = 5.0;

/// Every elephant photo: the 15 labelled ones and the two COCO ones.
fn elephant_photos() -> Vec<PathBuf> {
    let mut all = common::photos("media/elephants/images");
    all.extend(common::photos("media/elephants"));
    all
}

fn segments(photos: &[PathBuf], frames: usize) -> Vec<Segment> {
    photos
        .iter()
        .map(|p| Segment {
            photo: p.clone(),
            frames,
        })
        .collect()
}

/// `sao vision run` of the elephant plugin over `video` with `config`; returns the
/// upstream records and the path of the device trace.
fn vision_run(bench: &Bench, video: &Path, config: &str) -> (Vec<Value>, PathBuf) {
    let package = bench.package("elephant", elephant_files());
    common::vision_run(bench, &package, video, config, "forest-edge")
}

fn alerts(records: &[Value]) -> Vec<&Value> {
    records
        .iter()
        .filter(|r| r["topic"].as_str().unwrap().ends_with("/alert/elephant"))
        .map(|r| &r["payload"])
        .collect()
}

/// Checks an alert's snapshot: base64 of a JPEG with the stated size and digest.
fn check_snapshot(alert: &Value) {
    let snapshot = &alert["snapshot"];
    let jpeg = base64::engine::general_purpose::STANDARD
        .decode(snapshot["data"].as_str().expect("a snapshot"))
        .unwrap();
    assert_eq!(snapshot["bytes"], jpeg.len());
    assert_eq!(snapshot["sha256"], hex::encode(Sha256::digest(&jpeg)));
    let (w, h) = common::jpeg_size(&jpeg).expect("the snapshot decodes as an image");
    assert!(w >= 320 && h >= 180, "{w}×{h}");
}

#[test]
fn an_elephant_on_camera_sounds_siren_and_strobe_after_confirmation_and_sends_the_photo() {
    let bench = Bench::new();
    let video = bench.path("forest-edge.avi");
    // A quiet scene, the elephants, then quiet again for the all-clear.
    let mut clip = segments(&common::photos("media/negatives"), 10);
    clip.extend(segments(&elephant_photos(), 10));
    clip.extend(segments(&common::photos("media/negatives"), 15));
    common::clip(&video, &clip, FPS, Look::Day);
    let (records, trace) = vision_run(&bench, &video, r#"{"all-clear-s": 5}"#);

    // Photos the detector finds nothing in leave gaps longer than the 5 s all-clear, so
    // the clip makes several incidents: each is raised, maybe updated, then cleared.
    let alerts = alerts(&records);
    let mut incidents: Vec<(u64, Vec<&str>)> = Vec::new();
    for alert in &alerts {
        let id = alert["alarm"].as_u64().unwrap();
        match incidents.iter_mut().find(|(i, _)| *i == id) {
            Some((_, states)) => states.push(alert["state"].as_str().unwrap()),
            None => incidents.push((id, vec![alert["state"].as_str().unwrap()])),
        }
    }
    assert!(!incidents.is_empty(), "no alert");
    for (id, states) in &incidents {
        assert_eq!(states.first(), Some(&"raised"), "alarm {id}: {states:?}");
        assert_eq!(states.last(), Some(&"cleared"), "alarm {id}: {states:?}");
        assert!(states[1..states.len() - 1].iter().all(|s| *s == "updated"));
    }
    let raised = alerts[0];
    let schemas = Schemas::load();
    for record in records
        .iter()
        .filter(|r| r["topic"].as_str().unwrap().contains("/alert/"))
    {
        schemas.check(&Message {
            topic: record["topic"].as_str().unwrap().to_string(),
            payload: record["payload"].clone(),
            retain: false,
        });
    }
    // Confirmed on the third candidate frame at the earliest (3 of the last 5).
    let details = &raised["details"];
    let first_seen = details["first-seen-ts"].as_u64().unwrap();
    let confirmed = details["confirmed-ts"].as_u64().unwrap();
    assert!(
        confirmed >= first_seen + 2 * (1000.0 / FPS) as u64,
        "{details}"
    );
    assert_eq!(
        raised["ts"], confirmed,
        "the alarm sounds on the confirming frame"
    );
    assert!(details["count"].as_u64().unwrap() >= 1);
    assert_eq!(details["camera"], "forest-edge");
    assert_eq!(raised["level"], "warning");
    assert!(raised["message"]["th"].as_str().unwrap().contains("ช้าง"));
    check_snapshot(raised);

    // The simulator's siren and strobe switched on at that moment.
    let siren = traced(&trace, "siren");
    assert_eq!(siren.first(), Some(&(confirmed, json!(true))), "{siren:?}");
    assert_eq!(
        traced(&trace, "strobe").first(),
        Some(&(confirmed, json!(true)))
    );
    assert_eq!(
        traced(&trace, "speaker").first().unwrap().1,
        "elephant-warning"
    );

    // Each all-clear: alarm cleared by the plugin, and a movement record; at the end the
    // siren is off.
    assert!(alerts
        .iter()
        .filter(|a| a["state"] == "cleared")
        .all(|a| a["reason"] == "plugin"));
    assert_eq!(siren.last().unwrap().1, json!(false));
    let movement: Vec<&Value> = records
        .iter()
        .filter(|r| {
            r["topic"]
                .as_str()
                .unwrap()
                .ends_with("/tele/elephant/movement")
        })
        .map(|r| &r["payload"])
        .collect();
    let routes: Vec<u64> = movement
        .iter()
        .map(|m| m["details"]["incident"].as_u64().unwrap())
        .collect();
    let ids: Vec<u64> = incidents.iter().map(|(id, _)| *id).collect();
    assert_eq!(routes, ids, "one movement record per incident");
    let route = &movement[0]["details"];
    let path = route["path"].as_array().unwrap();
    assert!(!path.is_empty() && path.len() <= 50);
    assert!(movement[0]["metrics"]["count"]["value"].as_f64().unwrap() >= 1.0);
}

#[test]
fn negatives_the_traffic_video_and_a_stray_frame_sound_nothing() {
    let bench = Bench::new();
    // The four negatives, with one frame of the herd photo among them: a candidate
    // seen once is never confirmed.
    let video = bench.path("quiet.avi");
    let herd = shared("media/elephants/coco_000000007108.jpg");
    let mut clip = segments(&common::photos("media/negatives")[..2], 12);
    clip.push(Segment {
        photo: herd,
        frames: 1,
    });
    clip.extend(segments(&common::photos("media/negatives")[2..], 12));
    common::clip(&video, &clip, FPS, Look::Day);
    for source in [video, shared("media/traffic/car-detection.mp4")] {
        let (records, trace) = vision_run(&bench, &source, "{}");
        assert!(
            alerts(&records).is_empty(),
            "{}: {:#?}",
            source.display(),
            alerts(&records)
        );
        assert!(traced(&trace, "siren").is_empty(), "{}", source.display());
        assert!(traced(&trace, "strobe").is_empty());
    }
}

#[test]
fn infrared_night_frames_sound_the_alarm_too() {
    let bench = Bench::new();
    let video = bench.path("night.avi");
    let mut clip = segments(&common::photos("media/negatives")[..1], 10);
    clip.extend(segments(&elephant_photos(), 10));
    common::clip(&video, &clip, FPS, Look::InfraredNight);
    let (records, trace) = vision_run(&bench, &video, "{}");
    let alerts = alerts(&records);
    assert_eq!(alerts.first().map(|a| &a["state"]), Some(&json!("raised")));
    check_snapshot(alerts[0]);
    assert_eq!(traced(&trace, "siren").first().unwrap().1, json!(true));
}

#[test]
fn with_the_broker_down_the_siren_sounds_at_once_and_the_alert_arrives_later() {
    let bench = Bench::new();
    let mut broker = Mosquitto::start(&bench.path("broker"));
    broker.stop();
    bench.package("elephant", elephant_files());
    let mut clip = segments(&common::photos("media/negatives")[..1], 5);
    clip.extend(segments(&elephant_photos(), 6));
    common::clip(&bench.path("forest-edge.avi"), &clip, FPS, Look::Day);
    let config = format!(
        r#"{}
[uplink]
broker = "{}"

[[cameras]]
name = "forest-edge"
source = "forest-edge.avi"
capture = {{ fps = 5 }}

[[plugins]]
package = "elephant.sao"
grants = ["log", "clock", "kv", "telemetry", "alarm", "vision"]
"#,
        with_sim_hardware(pole_body(), r#"trace = "trace.jsonl""#),
        broker.url()
    );
    let pole = PoleProcess::start(&bench, &config);
    let trace = bench.path("trace.jsonl");
    let siren_on = || {
        traced(&trace, "siren")
            .into_iter()
            .find(|(_, on)| on == &json!(true))
    };
    assert!(
        wait_until(Duration::from_secs(120), || siren_on().is_some()),
        "no siren with the broker down"
    );
    let (siren_ts, _) = siren_on().unwrap();

    broker.restart();
    let restarted_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let sub = Subscriber::connect(broker.port, "sao/+/+/+/alert/#");
    sub.wait_for("the elephant alert", Duration::from_secs(60), |m| {
        m.iter().any(|m| m.payload["state"] == "raised")
    });
    let raised = sub
        .messages()
        .into_iter()
        .find(|m| m.payload["state"] == "raised")
        .unwrap();
    assert_eq!(raised.payload["historical"], true, "{}", raised.payload);
    let ts = raised.payload["ts"].as_u64().unwrap();
    assert!(
        ts < restarted_ms,
        "the original time, not the delivery time"
    );
    assert!(
        ts.abs_diff(siren_ts) < 1_000,
        "alert {ts}, siren {siren_ts}"
    );
    check_snapshot(&raised.payload);
    assert!(pole.terminate(), "sao run stopped on SIGTERM");
}
