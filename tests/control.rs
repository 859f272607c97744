//! Operator control of real `sao run` processes through a real Mosquitto broker: signed
//! desired configs pushed with `sao ctl` to one pole and to a group of poles, reported
//! state and audit, bad documents each refused for their own reason, and desired config
//! that survives a reboot and applies before the network is up.

mod common;

use std::io::{BufRead, BufReader};
use std::time::Duration;

use common::control::{ctl, ctl_child, desired, operator_key, pole_config, probe, POLE, SITE};
use common::mqtt::{wait_until, Message, Mosquitto, Schemas, Subscriber};
use common::{dimming_files, Bench, PoleProcess};
use sao_runtime::control::document;
use sao_runtime::plugin::signing;
use serde_json::{json, Map, Value};

const LONG: Duration = Duration::from_secs(60);

fn reports(sub: &Subscriber, plugin: &str) -> Vec<Message> {
    sub.on(&format!("/cfg/{plugin}/reported"))
}

/// The level of every lamp record received, and whether it was sent late (historical).
fn lamp_levels(sub: &Subscriber) -> Vec<(f64, bool)> {
    sub.on("/tele/sao/lamp-main")
        .iter()
        .map(|m| {
            (
                m.payload["metrics"]["level"]["value"].as_f64().unwrap(),
                m.payload["historical"] == true,
            )
        })
        .collect()
}

#[test]
fn a_signed_config_applies_on_one_pole_is_reported_and_survives_an_offline_reboot() {
    let bench = Bench::new();
    operator_key(bench.dir.path());
    let mut broker = Mosquitto::start(&bench.path("broker"));
    let sub = Subscriber::connect(broker.port, "sao/#");
    let schemas = Schemas::load();
    let config = pole_config(POLE, &broker.url(), "[\"bus-stop\"]", probe(&bench));
    let pole = PoleProcess::start(&bench, &config);
    sub.wait_for("birth and heartbeats", LONG, |m| {
        m.iter().any(|m| m.topic.ends_with("/status"))
            && m.iter().any(|m| m.topic.ends_with("/tele/probe/heartbeat"))
    });
    // The probe does not touch the lamp in mode ok: it stays at the safe level.
    assert!(lamp_levels(&sub).iter().all(|(level, _)| *level == 100.0));

    // `sao ctl watch` follows the site's events: it will see the audit entry.
    let mut watch = ctl_child(
        &broker.url(),
        bench.dir.path(),
        &["watch", "--kind", "audit", "--count", "1"],
    );
    let mut watched = BufReader::new(watch.stdout.take().unwrap()).lines();
    let header = watched.next().unwrap().unwrap();
    assert!(
        header.starts_with("watching the events of site chachoengsao"),
        "{header}"
    );

    let (ok, out, err) = ctl(
        &broker.url(),
        bench.dir.path(),
        &[
            "config",
            "--plugin",
            "probe",
            "--pole",
            POLE,
            "--json",
            r#"{"mode": "dim"}"#,
            "--version",
            "7",
            "--key",
            "operators/operator.key",
        ],
    );
    assert!(ok, "{out}\n{err}");
    assert!(out.contains(POLE) && out.contains("1 applied"), "{out}");

    sub.wait_for("the reported state and the dimmed lamp", LONG, |m| {
        m.iter().any(|m| m.topic.ends_with("/cfg/probe/reported"))
            && m.iter().any(|m| {
                m.topic.ends_with("/tele/sao/lamp-main")
                    && m.payload["metrics"]["level"]["value"] == 30.0
            })
    });
    let report = &reports(&sub, "probe")[0];
    assert_eq!(report.payload["version"], 7);
    assert_eq!(report.payload["status"], "applied");
    assert_eq!(report.payload["error"], Value::Null);
    assert_eq!(
        report.payload["in-force"],
        json!([{ "target": format!("{SITE}/{POLE}"), "version": 7 }])
    );
    let audit = sub.on("/evt/sao/audit");
    assert_eq!(audit.len(), 1, "{audit:?}");
    let entry = &audit[0].payload["details"];
    assert_eq!(entry["outcome"], "applied");
    assert_eq!(entry["plugin"], "probe");
    assert_eq!(entry["version"], 7);
    let key = signing::read_signing_key(&bench.path("operators/operator.key")).unwrap();
    assert_eq!(
        entry["signed-by"],
        signing::key_id(&key.verifying_key()).as_str()
    );
    for m in sub.messages() {
        schemas.check(&m);
    }

    let line = watched.next().unwrap().unwrap();
    assert!(
        line.contains(&format!("{POLE} sao/audit info config of `probe` v7")),
        "{line}"
    );
    assert!(watch.wait().unwrap().success());

    // `sao ctl poles` shows what the pole reports.
    let (ok, out, err) = ctl(&broker.url(), bench.dir.path(), &["poles", "--json"]);
    assert!(ok, "{err}");
    let poles: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(poles[POLE]["status"]["online"], true, "{out}");
    assert_eq!(poles[POLE]["configs"]["probe"]["version"], 7);
    assert_eq!(poles[POLE]["configs"]["probe"]["status"], "applied");

    // Reboot with the broker down: the desired config applies before the network is up,
    // so the lamp records queued offline already show the dimmed level.
    assert!(pole.terminate());
    broker.stop();
    let before = lamp_levels(&sub).len();
    let pole = PoleProcess::start(&bench, &config);
    assert!(
        wait_until(LONG, || pole.log().matches("\"uplink: ").count() >= 1
            && pole.log().matches("\"state\":\"running\"").count() >= 2),
        "{}",
        pole.log()
    );
    std::thread::sleep(Duration::from_secs(2));
    broker.restart();
    sub.wait_for("the records queued while offline", LONG, |m| {
        m.iter()
            .filter(|m| m.topic.ends_with("/tele/sao/lamp-main"))
            .skip(before)
            .any(|m| m.payload["historical"] == true)
    });
    let offline: Vec<f64> = lamp_levels(&sub)[before..]
        .iter()
        .filter(|(_, historical)| *historical)
        .map(|(level, _)| *level)
        .collect();
    // The first record may predate the first tick (safe level); every later one is dimmed.
    assert!(offline.len() >= 2, "{offline:?}");
    assert!(offline[1..].iter().all(|l| *l == 30.0), "{offline:?}");
    // The retained desired document arrives again on reconnection: nothing new to apply.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(sub.on("/evt/sao/audit").len(), 1);
    assert!(pole.terminate());
}

#[test]
fn bad_documents_are_each_refused_with_their_own_reason_and_the_config_stays() {
    let bench = Bench::new();
    let operator = operator_key(bench.dir.path());
    let broker = Mosquitto::start(&bench.path("broker"));
    let sub = Subscriber::connect(broker.port, "sao/#");
    let schemas = Schemas::load();
    let config = pole_config(POLE, &broker.url(), "[]", probe(&bench));
    let pole = PoleProcess::start(&bench, &config);
    sub.wait_for("heartbeats", LONG, |m| {
        m.iter().any(|m| m.topic.ends_with("/tele/probe/heartbeat"))
    });
    let target = format!("{SITE}/{POLE}");
    let topic = format!("sao/v1/{target}/cfg/probe/desired");
    let send = |doc: &Map<String, Value>| serde_json::to_vec(doc).unwrap();
    let good = document::sign(desired(&target, 5, json!({ "mode": "ok" })), &operator);

    let stranger = signing::generate_key();
    let mut tampered = document::sign(desired(&target, 6, json!({ "mode": "ok" })), &operator);
    tampered.insert("config".into(), json!({ "mode": "dim" }));
    let truncated = {
        let bytes = send(&document::sign(
            desired(&target, 6, json!({ "mode": "dim" })),
            &operator,
        ));
        bytes[..bytes.len() / 2].to_vec()
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("good", send(&good), ""),
        (
            "invalid against the schema",
            send(&document::sign(
                desired(&target, 6, json!({ "mode": "explode" })),
                &operator,
            )),
            "config rejected: at /mode",
        ),
        (
            "unsigned",
            send(&desired(&target, 7, json!({ "mode": "dim" }))),
            "unsigned",
        ),
        (
            "untrusted key",
            send(&document::sign(
                desired(&target, 8, json!({ "mode": "dim" })),
                &stranger,
            )),
            "not in this pole's trusted keys",
        ),
        ("tampered after signing", send(&tampered), "digest mismatch"),
        ("truncated JSON", truncated, "not JSON"),
        (
            "addressed to another pole",
            send(&document::sign(
                desired(&format!("{SITE}/ccs-test-02"), 9, json!({ "mode": "dim" })),
                &operator,
            )),
            "addressed to `chachoengsao/ccs-test-02`",
        ),
        (
            "stale version (a replay)",
            send(&document::sign(
                desired(&target, 4, json!({ "mode": "dim" })),
                &operator,
            )),
            "stale: version 5 is in force",
        ),
    ];
    for (n, (what, payload, reason)) in cases.iter().enumerate() {
        sub.publish_retained(&topic, payload.clone());
        sub.wait_for(what, LONG, |m| {
            m.iter()
                .filter(|m| m.topic.ends_with("/cfg/probe/reported"))
                .count()
                > n
        });
        let report = &reports(&sub, "probe")[n].payload;
        if reason.is_empty() {
            assert_eq!(report["status"], "applied", "{what}: {report}");
            continue;
        }
        assert_eq!(report["status"], "rejected", "{what}: {report}");
        let error = report["error"].as_str().unwrap();
        assert!(
            error.contains(reason),
            "{what}: `{error}` should say `{reason}`"
        );
        // What is in force is still the good document.
        assert_eq!(
            report["in-force"],
            json!([{ "target": target, "version": 5 }]),
            "{what}"
        );
    }
    // Every verdict is audited, with its own reason.
    let audit = sub.on("/evt/sao/audit");
    assert_eq!(audit.len(), cases.len());
    let reasons: std::collections::BTreeSet<&str> = audit
        .iter()
        .filter_map(|m| m.payload["details"]["reason"].as_str())
        .collect();
    assert_eq!(reasons.len(), cases.len() - 1, "{reasons:?}");

    // The probe still runs its good config: heartbeats go on and the lamp was never dimmed.
    let beats = sub.on("/tele/probe/heartbeat").len();
    sub.wait_for("more heartbeats", LONG, |m| {
        m.iter()
            .filter(|m| m.topic.ends_with("/tele/probe/heartbeat"))
            .count()
            > beats + 5
    });
    assert!(lamp_levels(&sub).iter().all(|(level, _)| *level == 100.0));
    // What the pole published matches the schemas (the test's own bad documents do not).
    for m in sub.messages() {
        if !m.topic.ends_with("/desired") {
            schemas.check(&m);
        }
    }
    assert!(pole.terminate());
}

#[test]
fn a_group_config_reaches_twenty_poles_and_the_cli_shows_each() {
    const POLES: usize = 20;
    let bench = Bench::new();
    operator_key(bench.dir.path());
    let broker = Mosquitto::start(&bench.path("broker"));
    let sub = Subscriber::connect(broker.port, "sao/v1/+/+/status");
    let dimming = bench.package("dimming", dimming_files());
    let plugins = format!(
        "[[plugins]]\npackage = \"{}\"\ngrants = [\"log\", \"clock\", \"kv\", \"telemetry\", \"lighting\"]\n",
        dimming.display()
    );
    // Every pole is in group bus-stop; a pole-level document on one of them overrides it.
    let poles: Vec<(Bench, PoleProcess)> = (0..POLES)
        .map(|i| {
            let pole = Bench::new();
            std::fs::create_dir_all(pole.path("operators")).unwrap();
            std::fs::copy(
                bench.path("operators/operator.pub"),
                pole.path("operators/operator.pub"),
            )
            .unwrap();
            std::fs::copy(
                bench.path("trusted/test.pub"),
                pole.path("trusted/test.pub"),
            )
            .unwrap();
            let id = format!("ccs-{i:04}");
            let config = pole_config(&id, &broker.url(), "[\"bus-stop\"]", &plugins);
            let process = PoleProcess::start(&pole, &config);
            (pole, process)
        })
        .collect();
    sub.wait_for("every pole's birth", Duration::from_secs(300), |m| {
        let mut online: Vec<&str> = m
            .iter()
            .filter(|m| {
                m.payload["online"] == true
                    && m.payload["plugins"][0]["health"]["state"] == "running"
            })
            .map(|m| m.topic.as_str())
            .collect();
        online.sort_unstable();
        online.dedup();
        online.len() == POLES
    });

    let (ok, out, err) = ctl(
        &broker.url(),
        bench.dir.path(),
        &[
            "config",
            "--plugin",
            "dimming",
            "--group",
            "bus-stop",
            "--json",
            r#"{"min-level": 20}"#,
            "--version",
            "3",
            "--key",
            "operators/operator.key",
            "--expect",
            "20",
            "--wait",
            "120",
        ],
    );
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("20 applied, 0 pending"), "{out}");
    for i in 0..POLES {
        assert!(out.contains(&format!("ccs-{i:04}")), "{out}");
    }

    let (ok, out, err) = ctl(&broker.url(), bench.dir.path(), &["poles", "--json"]);
    assert!(ok, "{err}");
    let listed: Value = serde_json::from_str(&out).unwrap();
    for i in 0..POLES {
        let pole = &listed[format!("ccs-{i:04}")];
        assert_eq!(pole["configs"]["dimming"]["version"], 3, "{pole}");
        assert_eq!(
            pole["configs"]["dimming"]["target"],
            format!("{SITE}/group/bus-stop")
        );
        assert_eq!(pole["status"]["online"], true);
    }
    // The human listing names every pole and the config version it runs.
    let (ok, out, _) = ctl(&broker.url(), bench.dir.path(), &["poles"]);
    assert!(ok);
    assert_eq!(
        out.matches("config dimming v3 from chachoengsao/group/bus-stop applied")
            .count(),
        POLES,
        "{out}"
    );
    drop(poles);
}
