//! Fleet benchmark: N simulated poles (default 200, Chachoengsao's first phase), each a
//! real `sao run` process with the probe plugin, against one Mosquitto broker. Measures
//! the time from publishing a signed group config to the moment every pole has applied it
//! and reported, and the messages the broker handled for it (every publish in the `sao/`
//! namespace, seen by a wildcard subscriber); the baseline, measured in the same run, is
//! the same push to a single pole.
//!
//! `cargo bench -p sao-e2e --bench fleet` (`SAO_FLEET_POLES=50` for a smaller fleet).

#[path = "../common/mod.rs"]
mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::control::{desired, operator_key, pole_config, SITE};
use common::mqtt::{Message, Mosquitto, Subscriber};
use common::{misbehave_files_as, Bench, PoleProcess};
use sao_runtime::control::document;
use serde_json::json;

const ROUNDS: usize = 3;
const PLUGIN_ENTRY: &str = "[[plugins]]\npackage = \"../probe.sao\"\ngrants = [\"log\", \"kv\", \"telemetry\", \"alarm\", \"lighting\"]\nconfig = { mode = \"ok\" }\n";

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// One push: returns (ms until the last pole's report was made, ms until the subscriber
/// had them all).
fn push(
    sub: &Subscriber,
    key: &ed25519_dalek::SigningKey,
    target: &str,
    version: u64,
    expect: usize,
) -> (u64, u64) {
    let doc = document::sign(
        desired(
            target,
            version,
            json!({ "mode": "ok", "per-tick": version }),
        ),
        key,
    );
    let topic = format!("sao/v1/{target}/cfg/probe/desired");
    let (t0, start) = (now_ms(), Instant::now());
    sub.publish_retained(&topic, serde_json::to_vec(&doc).unwrap());
    let answered = |m: &[Message]| {
        m.iter()
            .filter(|m| m.payload["version"] == version && m.payload["status"] == "applied")
            .count()
    };
    sub.wait_for(
        &format!("{expect} reports of v{version}"),
        Duration::from_secs(300),
        |m| answered(m) >= expect,
    );
    let seen = start.elapsed().as_millis() as u64;
    let last = sub
        .messages()
        .iter()
        .filter(|m| m.payload["version"] == version)
        .map(|m| m.payload["ts"].as_u64().unwrap())
        .max()
        .unwrap();
    (last.saturating_sub(t0), seen)
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

fn main() {
    let poles: usize = std::env::var("SAO_FLEET_POLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let bench = Bench::new();
    let key = operator_key(bench.dir.path());
    bench.package("probe", misbehave_files_as("probe"));
    let broker = Mosquitto::start(&bench.path("broker"));
    let status = Subscriber::connect(broker.port, "sao/v1/+/+/status");

    // Pole 0 compiles the plugin; the others start from a copy of its compiled-component
    // cache (same binary, same engine), as poles flashed from one image would.
    let dir = |i: usize| bench.path(&format!("pole-{i:04}"));
    let start = |i: usize| {
        std::fs::create_dir_all(dir(i).join("operators")).unwrap();
        std::fs::create_dir_all(dir(i).join("trusted")).unwrap();
        for (from, to) in [
            ("operators/operator.pub", "operators/operator.pub"),
            ("trusted/test.pub", "trusted/test.pub"),
        ] {
            std::fs::copy(bench.path(from), dir(i).join(to)).unwrap();
        }
        let config = pole_config(&format!("ccs-{i:04}"), &broker.url(), "[]", PLUGIN_ENTRY)
            .replace("poll-interval-ms = 100", "poll-interval-ms = 1000")
            .replace("health-interval-s = 1", "health-interval-s = 3600");
        PoleProcess::start_in(&dir(i), &config)
    };
    let online = |m: &[Message], n: usize| {
        let mut up: Vec<&str> = m
            .iter()
            .filter(|m| m.payload["plugins"][0]["health"]["state"] == "running")
            .map(|m| m.topic.as_str())
            .collect();
        up.sort_unstable();
        up.dedup();
        up.len() >= n
    };
    let started = Instant::now();
    let mut processes = vec![start(0)];
    status.wait_for("pole 0", Duration::from_secs(120), |m| online(m, 1));
    let compiled = dir(0).join("data/compiled");
    for i in 1..poles {
        let data = dir(i).join("data");
        std::fs::create_dir_all(&data).unwrap();
        let copied = std::process::Command::new("cp")
            .arg("-r")
            .arg(&compiled)
            .arg(&data)
            .status()
            .unwrap();
        assert!(copied.success());
        processes.push(start(i));
    }
    status.wait_for("every pole online", Duration::from_secs(900), |m| {
        online(m, poles)
    });
    println!(
        "{poles} poles online after {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let reports = Subscriber::connect(broker.port, "sao/v1/+/+/cfg/probe/reported");
    // Everything published in the sao namespace reaches this subscriber: the broker's
    // inbound traffic, counted by kind.
    let all = Subscriber::connect(broker.port, "sao/#");
    std::thread::sleep(Duration::from_secs(3));
    let mut version = 0;
    let mut single = Vec::new();
    for _ in 0..ROUNDS {
        version += 1;
        single.push(push(&reports, &key, &format!("{SITE}/ccs-0000"), version, 1).0);
    }
    let mut fleet = Vec::new();
    let mut seen = Vec::new();
    let mut counts = Vec::new();
    for _ in 0..ROUNDS {
        version += 1;
        std::thread::sleep(Duration::from_secs(2));
        let from = all.messages().len();
        let (made, arrived) = push(&reports, &key, &format!("{SITE}/group/all"), version, poles);
        // The audit events follow the reports within the same outbox commit.
        std::thread::sleep(Duration::from_secs(2));
        let during = all.messages().split_off(from);
        let kind = |suffix: &str| during.iter().filter(|m| m.topic.ends_with(suffix)).count();
        let (docs, reported, audits) =
            (kind("/desired"), kind("/reported"), kind("/evt/sao/audit"));
        counts.push((
            docs,
            reported,
            audits,
            during.len() - docs - reported - audits,
        ));
        fleet.push(made);
        seen.push(arrived);
    }
    let one = median(single);
    let all = median(fleet);
    println!("group config push, {ROUNDS} rounds, median:");
    println!("  baseline: 1 pole applied and reported in {one} ms");
    println!(
        "  fleet: all {poles} poles applied and reported in {all} ms (subscriber had every report after {} ms)",
        median(seen)
    );
    println!(
        "  ratio fleet / single pole: {:.1}x for {poles}x the poles",
        all as f64 / one.max(1) as f64
    );
    for (i, (docs, reported, audits, other)) in counts.iter().enumerate() {
        println!(
            "  round {}: publishes into the broker: {docs} group document + {reported} reports + {audits} audit events = {} (+{other} unrelated); the broker delivered the document to {poles} poles",
            i + 1,
            docs + reported + audits
        );
    }
    drop(processes);
}
