//! The uplink of a real `sao run` process against a real Mosquitto broker: plugin records
//! on their topics and matching their schemas; birth, Last Will and re-birth; a SIGKILL
//! in the middle of a burst; bad records and a flooding plugin; the embedded broker.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::mqtt::{
    check_stream, distinct_records, free_port, wait_until, Message, Mosquitto, Schemas, Subscriber,
};
use common::{misbehave_files_as, pole_body, with_tick_ms, Bench, PoleProcess};
use serde_json::Value;

const PREFIX: &str = "sao/v1/chachoengsao/ccs-test-01";
const LONG: Duration = Duration::from_secs(60);

/// A pole config: the test pole, fast main loop, `uplink` settings and `plugins`.
fn pole_config(uplink: &str, plugins: &str) -> String {
    format!(
        "{}\n[timing]\npoll-interval-ms = 50\nhealth-interval-s = 2\n\n[uplink]\nkeep-alive-s = 5\nreconnect-min-ms = 100\nreconnect-max-ms = 1000\n{uplink}\n\n{plugins}",
        pole_body()
    )
}

/// A `[[plugins]]` entry for the misbehave fixture packaged as `name`.
fn fixture_entry(name: &str, config: &str, per_minute: u32) -> String {
    format!(
        "[[plugins]]\npackage = \"{name}.sao\"\ngrants = [\"log\", \"kv\", \"telemetry\", \"alarm\", \"lighting\"]\ntelemetry-per-minute = {per_minute}\nconfig = {config}\n"
    )
}

/// The fixture renamed to `id`, ticking every `tick_ms`.
fn fixture(bench: &Bench, id: &str, tick_ms: u64) {
    bench.package(id, with_tick_ms(misbehave_files_as(id), tick_ms));
}

fn statuses(sub: &Subscriber) -> Vec<Value> {
    sub.on(&format!("{PREFIX}/status"))
        .into_iter()
        .map(|m| m.payload)
        .collect()
}

#[test]
fn plugin_records_arrive_on_their_topics_with_birth_last_will_and_rebirth() {
    let bench = Bench::new();
    let broker = Mosquitto::start(&bench.path("broker"));
    let sub = Subscriber::connect(broker.port, "sao/#");
    let schemas = Schemas::load();
    fixture(&bench, "misbehave", 200);
    let config = pole_config(
        &format!("broker = \"{}\"", broker.url()),
        &fixture_entry("misbehave", "{ mode = \"ok\" }", 600),
    );

    let pole = PoleProcess::start(&bench, &config);
    let heartbeat = format!("{PREFIX}/tele/misbehave/heartbeat");
    sub.wait_for("birth, heartbeats, lamp telemetry, events", LONG, |m| {
        m.iter().filter(|m| m.topic == heartbeat).count() >= 3
            && m.iter().any(|m| m.topic.ends_with("/tele/sao/lamp-main"))
            && m.iter().any(|m| m.topic.ends_with("/tele/sao/outbox"))
            && m.iter().any(|m| m.topic.ends_with("/evt/sao/plugin-state"))
            && m.iter().any(|m| m.topic == format!("{PREFIX}/status"))
    });
    for m in sub.messages() {
        schemas.check(&m);
    }
    let birth = &statuses(&sub)[0];
    assert_eq!(birth["online"], true);
    assert_eq!(birth["plugins"][0]["id"], "misbehave");
    assert_eq!(birth["plugins"][0]["version"], "0.1.0");
    assert_eq!(birth["plugins"][0]["health"]["state"], "running");
    let beats = sub.on("/tele/misbehave/heartbeat");
    let first = &beats[0].payload;
    assert_eq!(first["plugin"]["id"], "misbehave");
    assert_eq!(first["dataset"], "test-fixture");
    assert_eq!(first["dimension"], "infrastructure");
    assert_eq!(first["location"]["lat"], 13.69);
    assert_eq!(first["metrics"]["ticks"]["unit"], "1");
    let seqs: Vec<u64> = beats.iter().map(Message::seq).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");

    // Killed: the broker publishes the Last Will, retained.
    pole.kill9();
    sub.wait_for("the Last Will", LONG, |m| {
        m.iter()
            .rev()
            .find(|m| m.topic == format!("{PREFIX}/status"))
            .is_some_and(|m| m.payload["online"] == false)
    });
    let will = statuses(&sub).pop().unwrap();
    assert_eq!(will["reason"], "connection-lost");
    assert_eq!(
        will["seq"], birth["seq"],
        "the will closes the birth's session"
    );
    let late = Subscriber::connect(broker.port, &format!("{PREFIX}/status"));
    late.wait_for("the retained will", LONG, |m| {
        m.iter().any(|m| m.retain && m.payload["online"] == false)
    });

    // Restarted: a new birth in the next session; streams continue where they were.
    let before = sub.messages().len();
    let pole = PoleProcess::start(&bench, &config);
    sub.wait_for("re-birth and new heartbeats", LONG, |m| {
        m[before..]
            .iter()
            .any(|m| m.topic == format!("{PREFIX}/status"))
            && m[before..].iter().filter(|m| m.topic == heartbeat).count() >= 2
    });
    let rebirth = statuses(&sub).pop().unwrap();
    assert_eq!(rebirth["online"], true);
    assert_eq!(
        rebirth["seq"].as_u64(),
        birth["seq"].as_u64().map(|s| s + 1)
    );
    let all_beats = sub.on("/tele/misbehave/heartbeat");
    let mut seen = std::collections::BTreeSet::new();
    for b in &all_beats {
        seen.insert(b.seq());
    }
    let max = *seen.last().unwrap();
    assert_eq!(
        seen.len() as u64,
        max,
        "heartbeat seq continues without gaps"
    );

    // Stopped cleanly: the pole says so itself.
    assert!(pole.terminate(), "sao exits cleanly on SIGTERM");
    sub.wait_for("the offline status", LONG, |m| {
        m.iter()
            .rev()
            .find(|m| m.topic == format!("{PREFIX}/status"))
            .is_some_and(|m| m.payload["reason"] == "shutdown")
    });
    for m in sub.messages() {
        schemas.check(&m);
    }
}

#[test]
fn a_pole_killed_mid_burst_delivers_every_accepted_record_after_restart() {
    const TOTAL: u64 = 10_000;
    let bench = Bench::new();
    let broker = Mosquitto::start(&bench.path("broker"));
    let topic = format!("{PREFIX}/tele/misbehave/flood");
    let sub = Subscriber::connect(broker.port, &topic);
    fixture(&bench, "misbehave", 50);
    let config = pole_config(
        &format!("broker = \"{}\"", broker.url()),
        &fixture_entry(
            "misbehave",
            &format!("{{ mode = \"flood\", per-tick = 100, total = {TOTAL} }}"),
            10_000_000,
        ),
    );
    let pole = PoleProcess::start(&bench, &config);
    // Only "mid-burst" matters here; on a loaded 2-core machine a third takes over 60 s.
    sub.wait_for("a third of the burst", Duration::from_secs(180), |m| {
        m.len() as u64 >= TOTAL / 3
    });
    pole.kill9();
    let at_kill = sub.messages().len();
    assert!((at_kill as u64) < TOTAL, "killed mid-burst");

    let pole = PoleProcess::start(&bench, &config);
    sub.wait_for("every record of the burst", Duration::from_secs(180), |m| {
        distinct_records(m) as u64 == TOTAL
    });
    drop(pole);

    let messages = sub.messages();
    let by_seq = check_stream(&topic, &messages.iter().collect::<Vec<_>>());
    let max = *by_seq.keys().last().unwrap();
    let duplicates = messages.len() - by_seq.len();
    eprintln!(
        "{} messages, {} distinct records (seq up to {max}), {duplicates} re-sent after the kill",
        messages.len(),
        by_seq.len()
    );
}

#[test]
fn bad_records_get_specific_errors_and_a_flooding_plugin_is_throttled_alone() {
    let bench = Bench::new();
    let broker = Mosquitto::start(&bench.path("broker"));
    let sub = Subscriber::connect(broker.port, "sao/#");
    fixture(&bench, "checker", 500);
    fixture(&bench, "flooder", 100);
    let plugins = format!(
        "{}\n{}",
        fixture_entry("checker", "{ mode = \"bad-publish\" }", 600),
        fixture_entry(
            "flooder",
            "{ mode = \"flood\", per-tick = 20, total = 1000000 }",
            100
        )
    );
    let uplink = format!(
        "broker = \"{}\"\n[uplink.outbox]\nmax-record-bytes = 4096",
        broker.url()
    );
    let pole = PoleProcess::start(&bench, &pole_config(&uplink, &plugins));
    sub.wait_for(
        "rejections, heartbeats and the throttle report",
        LONG,
        |m| {
            m.iter()
                .any(|m| m.topic.ends_with("/evt/checker/rejections"))
                && m.iter()
                    .filter(|m| m.topic.ends_with("/tele/checker/heartbeat"))
                    .count()
                    >= 5
                && m.iter()
                    .any(|m| m.topic.ends_with("/evt/sao/plugin-throttled"))
        },
    );
    let rejections = &sub.on("/evt/checker/rejections")[0].payload["details"];
    let expected = [
        ("bad-stream", "InvalidName"),
        ("no-metrics", "1-64 metrics"),
        ("bad-metric-name", "InvalidName"),
        ("nan", "not a finite number"),
        ("empty-unit", "unit of `x`"),
        ("long-unit", "unit of `x`"),
        ("too-many-metrics", "1-64 metrics"),
        ("details-not-json", "not JSON"),
        ("details-not-object", "must be a JSON object"),
        ("details-too-large", "larger than"),
        ("message-too-long", "message longer"),
        ("over-record-limit", "larger than the 4096-byte limit"),
    ];
    for (attempt, fragment) in expected {
        let outcome = rejections[attempt].as_str().unwrap_or_default();
        assert!(
            outcome.contains(fragment),
            "{attempt}: expected an error mentioning `{fragment}`, got `{outcome}`"
        );
    }
    let throttled = &sub.on("/evt/sao/plugin-throttled")[0].payload;
    assert_eq!(throttled["details"]["plugin"], "flooder");
    assert_eq!(throttled["details"]["per-minute"], 100);
    // The flooder gets its quota and no more; the checker keeps its heartbeat.
    let floods = sub.on("/tele/flooder/flood").len();
    assert!(floods <= 200, "at most two minutes' quota, got {floods}");
    let schemas = Schemas::load();
    for m in sub.messages() {
        schemas.check(&m);
    }
    let log = pole.log();
    assert!(pole.terminate(), "the pole survived: {log}");
}

#[test]
fn without_a_broker_the_pole_runs_its_own() {
    let bench = Bench::new();
    let port = free_port();
    fixture(&bench, "misbehave", 200);
    let config = pole_config(
        &format!("embedded-listen = \"127.0.0.1:{port}\""),
        &fixture_entry("misbehave", "{ mode = \"ok\" }", 600),
    );
    let pole = PoleProcess::start(&bench, &config);
    assert!(
        wait_until(LONG, || std::net::TcpStream::connect(("127.0.0.1", port))
            .is_ok()),
        "the embedded broker listens: {}",
        pole.log()
    );
    let sub = Subscriber::connect(port, "sao/#");
    sub.wait_for("the birth and heartbeats", LONG, |m| {
        m.iter().any(|m| m.payload["online"] == true)
            && m.iter()
                .filter(|m| m.topic.ends_with("/tele/misbehave/heartbeat"))
                .count()
                >= 2
    });
    let late = Subscriber::connect(port, &format!("{PREFIX}/status"));
    late.wait_for("the retained birth", LONG, |m| {
        m.iter().any(|m| m.retain && m.payload["online"] == true)
    });
    let schemas = Schemas::load();
    let mut per_topic: HashMap<String, Vec<u64>> = HashMap::new();
    for m in sub.messages().iter().filter(|m| !m.retain) {
        schemas.check(m);
        per_topic.entry(m.topic.clone()).or_default().push(m.seq());
    }
    for (topic, seqs) in per_topic {
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{topic}: {seqs:?}");
    }
    assert!(pole.terminate());
    assert!(
        pole_log_mentions(&bench, "embedded MQTT broker started"),
        "the pole says it started its own broker"
    );
}

fn pole_log_mentions(bench: &Bench, text: &str) -> bool {
    std::fs::read_to_string(bench.path("sao.log"))
        .unwrap_or_default()
        .contains(text)
}
