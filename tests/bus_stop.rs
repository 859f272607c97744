//! The smart bus stop as `runtime/profiles/bus-stop.toml` ships it, run by a real `sao run`
//! with its development packages, a Mosquitto broker, a camera looping a real photo of a
//! bus stop, and the simulated stop's device trace. Only its surroundings are swapped:
//! the broker, the data directory, the camera's stream, a short SOS hold.
//!
//! The sign shows the profile's welcome; an SOS press overrides it and it comes back when
//! the call ends; bus arrival times pushed over MQTT become the board; malformed or
//! unexpected messages are refused with the reason on `evt/sao/message`; an operator's
//! signed message for the `bus-stop` group outranks the board until withdrawn; and the
//! people in the shelter are counted.

mod common;

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::control::{ctl, operator_key};
use common::mqtt::{free_port, wait_until, Mosquitto, Subscriber};
use common::{root, shared, traced, Bench, PoleProcess};
use sao_vision::clip::{Look, Segment};
use serde_json::{json, Value};

const PREFIX: &str = "sao/v1/chachoengsao/ccs-bus-stop-01";
const LONG: Duration = Duration::from_secs(90);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// The English texts the display showed, in order (`None`: blank).
fn shown(trace: &std::path::Path) -> Vec<(u64, Option<String>)> {
    traced(trace, "display")
        .into_iter()
        .map(|(ts, state)| (ts, state["en"].as_str().map(String::from)))
        .collect()
}

/// Whether the display now shows an English text starting with `start`.
fn showing(trace: &std::path::Path, start: &str) -> bool {
    shown(trace)
        .last()
        .and_then(|(_, en)| en.clone())
        .is_some_and(|en| en.starts_with(start))
}

/// The profile with its surroundings swapped for the bench's.
fn profile_in(bench: &Bench, broker: &str, trace: &std::path::Path, press_ms: u64) -> String {
    let video = bench.path("shelter.avi");
    common::clip(
        &video,
        &[Segment {
            photo: shared("media/traffic/coco_000000001584.jpg"),
            frames: 100,
        }],
        5.0,
        Look::Day,
    );
    let dev: PathBuf = root().join("target/sao-dev");
    let profile = std::fs::read_to_string(root().join("runtime/profiles/bus-stop.toml")).unwrap();
    let swapped = [
        ("../../target/sao-dev/bus-stop-data", "data".to_string()),
        ("../../target/sao-dev", dev.display().to_string()),
        (
            "source = \"rtsp://bus-stop-camera.invalid/stream1\"",
            format!("source = \"{}\"", video.display()),
        ),
        (
            "retry-ms = 1000,",
            "loop-file = true, retry-ms = 1000,".into(),
        ),
        (
            "groups = [\"bus-stop\"]",
            "groups = [\"bus-stop\"]\noperator-keys-dir = \"operators\"".into(),
        ),
        ("hold-s = 600", "hold-s = 3".into()),
        (
            "listen = \"0.0.0.0:8080\"",
            format!("listen = \"127.0.0.1:{}\"", free_port()),
        ),
        (
            "seed = 14\n",
            format!(
                "seed = 14\ntrace = \"{}\"\nsos-presses-ms = [{press_ms}]\n",
                trace.display()
            ),
        ),
    ];
    let mut config = profile;
    for (from, to) in swapped {
        assert!(config.contains(from), "the profile no longer has {from}");
        config = config.replace(from, &to);
    }
    format!(
        "{config}\n[uplink]\nbroker = \"{broker}\"\nreconnect-min-ms = 100\nreconnect-max-ms = 1000\n\n[timing]\npoll-interval-ms = 100\n"
    )
}

#[test]
fn the_bus_stop_signs_arrivals_alarms_and_passengers() {
    let bench = Bench::new();
    let broker = Mosquitto::start(&bench.path("broker"));
    operator_key(bench.dir.path());
    let sub = Subscriber::connect(broker.port, &format!("{PREFIX}/#"));
    let trace = bench.path("trace.jsonl");
    let press_ms = now_ms() + 10_000;
    let pole = PoleProcess::start(&bench, &profile_in(&bench, &broker.url(), &trace, press_ms));
    let log = || pole.log();

    // The SOS call takes the display; when it ends the profile's welcome is back.
    let sos = |en: &Option<String>| {
        en.as_deref()
            .is_some_and(|t| t.contains("Help has been called"))
    };
    let welcome_back = wait_until(LONG, || {
        let shown = shown(&trace);
        shown
            .iter()
            .position(|(_, en)| sos(en))
            .is_some_and(|i| shown.len() > i + 1)
    });
    assert!(welcome_back, "no SOS and return; log:\n{}", log());
    let shown_now = shown(&trace);
    let i = shown_now.iter().position(|(_, en)| sos(en)).unwrap();
    assert!(shown_now[i].0 >= press_ms);
    let (after_ts, after) = &shown_now[i + 1];
    assert_eq!(
        after.as_deref(),
        Some("Smart bus stop\nPress SOS for help"),
        "the sign returns after the call: {shown_now:?}"
    );
    assert!(*after_ts >= press_ms + 3_000, "not before the call ended");
    assert!(
        shown_now[i + 1..].iter().all(|(_, en)| !sos(en)),
        "the call shows once"
    );

    // Arrival times pushed by the transit system become the board.
    let arrivals = json!({"stop": "CCS-014", "arrivals": [
        {"route": "7", "to": {"th": "ตลาดบ้านใหม่", "en": "Ban Mai Market"}, "eta-s": 600},
        {"route": "12", "to": {"th": "สถานีรถไฟ", "en": "Railway station"}, "eta-s": 240}
    ]});
    sub.publish(
        &format!("{PREFIX}/msg/signage/arrivals"),
        arrivals.to_string().as_bytes(),
    );
    assert!(
        wait_until(LONG, || showing(
            &trace,
            "Next buses\n12  Railway station  4 min\n7  Ban Mai Market"
        )),
        "no board: {:?}\nlog:\n{}",
        shown(&trace),
        log()
    );
    let board = traced(&trace, "display").last().unwrap().1.clone();
    assert!(board["th"]
        .as_str()
        .unwrap()
        .starts_with("รถโดยสารที่กำลังมา\n12  สถานีรถไฟ  4 นาที"));

    // Bad messages are refused, each with its reason, and the board stays.
    sub.publish(
        &format!("{PREFIX}/msg/signage/arrivals"),
        b"{\"arrivals\": [",
    );
    sub.publish(
        &format!("{PREFIX}/msg/signage/arrivals"),
        br#"{"arrivals": [{"route": "7"}]}"#,
    );
    sub.publish(&format!("{PREFIX}/msg/signage/weather"), b"{}");
    sub.publish(&format!("{PREFIX}/msg/nobody/arrivals"), b"{}");
    let refusals = || {
        sub.on(&format!("{PREFIX}/evt/sao/message"))
            .into_iter()
            .map(|m| {
                m.payload["details"]["reason"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect::<Vec<_>>()
    };
    sub.wait_for("four refusals", LONG, |_| refusals().len() >= 4);
    let reasons = refusals();
    assert!(reasons[0].starts_with("not JSON"), "{reasons:?}");
    assert!(reasons[1].contains("missing field `to`"), "{reasons:?}");
    assert_eq!(
        reasons[2],
        "plugin `signage` does not take `weather` messages"
    );
    assert_eq!(reasons[3], "no plugin `nobody` installed");
    assert!(showing(&trace, "Next buses"), "the board stays");

    // An operator's signed notice for every bus stop outranks the board until withdrawn.
    let notice = json!({"messages": [{"id": "flood", "th": "น้ำท่วมถนนสุขประยูร",
        "en": "Flooding on Suk Prayoon Rd", "priority": 60}]});
    let push = |version: &str, config: &Value| {
        let (ok, out, err) = ctl(
            &broker.url(),
            bench.dir.path(),
            &[
                "config",
                "--plugin",
                "signage",
                "--group",
                "bus-stop",
                "--json",
                &config.to_string(),
                "--version",
                version,
                "--key",
                "operators/operator.key",
                "--expect",
                "1",
                "--wait",
                "60",
            ],
        );
        assert!(ok, "sao ctl failed: {out}{err}");
    };
    push("1", &notice);
    assert!(
        wait_until(LONG, || showing(&trace, "Flooding on Suk Prayoon Rd")),
        "no notice: {:?}",
        shown(&trace)
    );
    push("2", &json!({"messages": []}));
    assert!(
        wait_until(LONG, || showing(&trace, "Next buses")),
        "the board is not back: {:?}",
        shown(&trace)
    );
    let schedule: Vec<Value> = sub
        .on(&format!("{PREFIX}/evt/signage/schedule"))
        .into_iter()
        .map(|m| m.payload["details"]["due"].clone())
        .collect();
    assert!(
        schedule.contains(&json!(["flood", "arrivals"])),
        "the operator sees what is due: {schedule:?}"
    );

    // The people by the bus are counted as waiting in the shelter.
    let waiting = || {
        sub.on(&format!("{PREFIX}/tele/passengers/waiting-now"))
            .iter()
            .map(|m| common::metric(&json!({ "payload": m.payload }), "waiting"))
            .fold(0.0, f64::max)
    };
    assert!(
        wait_until(LONG, || waiting() >= 1.0),
        "nobody counted: {:?}\nlog:\n{}",
        sub.on(&format!("{PREFIX}/tele/passengers/waiting-now")),
        log()
    );
    assert!(pole.terminate(), "clean shutdown");
}
