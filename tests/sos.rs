//! The SOS button of a real `sao run` process with its broker down: the pole answers the
//! caller at once by itself (lamps, strobe, display, voice), and the alert reaches the
//! broker once it is back, marked historical, with the pole, its location and the time of
//! the press.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::mqtt::{Mosquitto, Subscriber};
use common::{pole_body, traced, with_sim_hardware, Bench, PoleProcess};
use serde_json::json;

const PREFIX: &str = "sao/v1/chachoengsao/ccs-test-01";
const LONG: Duration = Duration::from_secs(60);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn sos_with_the_broker_down_is_answered_at_once_and_delivered_later() {
    let bench = Bench::new();
    let mut broker = Mosquitto::start(&bench.path("broker"));
    // The operator's subscription exists before the outage (a persistent session).
    let sub = Subscriber::connect(broker.port, &format!("{PREFIX}/alert/#"));
    broker.stop();

    let press_ms = now_ms() + 4_000;
    let trace = bench.path("trace.jsonl");
    let config = with_sim_hardware(
        &format!(
            "{}\n[lighting]\nsafe-level = 30.0\n\n[timing]\npoll-interval-ms = 100\n\n[uplink]\nbroker = \"{}\"\nreconnect-min-ms = 100\nreconnect-max-ms = 500\n",
            pole_body(),
            broker.url()
        ),
        &format!("sos-presses-ms = [{press_ms}]\ntrace = \"{}\"", trace.display()),
    );
    let pole = PoleProcess::start(&bench, &config);

    // The answer, with no network: strobe flashing, lamps at full (from the 30 % the
    // pole burns with no dimming plugin), the message on the display and the voice clip.
    let answered = common::mqtt::wait_until(LONG, || {
        !traced(&trace, "speaker").is_empty() && !traced(&trace, "strobe").is_empty()
    });
    assert!(answered, "no local answer; pole log:\n{}", pole.log());
    let back_online_ms = now_ms();
    let speaker = traced(&trace, "speaker");
    assert_eq!(speaker[0].1, json!("sos-ack"));
    assert!(
        speaker[0].0 >= press_ms,
        "answered after the press, not before"
    );
    let strobe = traced(&trace, "strobe");
    assert_eq!(strobe[0].1, json!(true));
    let display = traced(&trace, "display");
    assert!(display[0].1["en"]
        .as_str()
        .unwrap()
        .contains("Help has been called"));
    assert!(display[0].1["th"]
        .as_str()
        .unwrap()
        .contains("ขอความช่วยเหลือ"));
    let lamp = traced(&trace, "main");
    assert!(
        lamp.iter()
            .any(|(ts, level)| *ts >= press_ms && *level == json!(100.0)),
        "lamps to full: {lamp:?}"
    );
    assert!(
        [speaker[0].0, strobe[0].0, display[0].0]
            .iter()
            .all(|ts| *ts < back_online_ms),
        "answered while the broker was still down"
    );
    assert!(
        sub.on(&format!("{PREFIX}/alert/sos")).is_empty(),
        "nothing could be delivered yet"
    );

    // The broker comes back: the alert queued during the outage arrives.
    broker.restart();
    let topic = format!("{PREFIX}/alert/sos");
    let raised = |m: &common::mqtt::Message| m.topic == topic && m.payload["state"] == "raised";
    sub.wait_for("the SOS alert", LONG, |ms| ms.iter().any(raised));
    let alert = sub.messages().into_iter().find(raised).unwrap();
    let p = &alert.payload;
    assert_eq!(p["historical"], true, "queued while offline: {p}");
    assert_eq!(p["pole"], "ccs-test-01");
    assert_eq!(p["site"], "chachoengsao");
    assert_eq!(p["location"]["lat"], 13.69);
    assert_eq!(p["level"], "emergency");
    assert_eq!(p["kind"], "sos");
    assert_eq!(p["dimension"], "living");
    assert_eq!(p["details"]["presses"], 1);
    assert!(
        sub.on(&topic)
            .iter()
            .all(|m| m.payload["state"] != "updated"),
        "one press held across several polls is one press"
    );
    let ts = p["ts"].as_u64().unwrap();
    assert!(
        ts >= press_ms && ts < back_online_ms,
        "stamped at the press ({press_ms}..{back_online_ms}), not at delivery: {ts}"
    );
    assert!(pole.terminate(), "clean shutdown");
}
