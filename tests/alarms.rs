//! The local alarm engine on a simulated pole, in virtual time: what the siren, strobe,
//! lamps, display and speaker do while an alarm sounds, when its plugin crashes, and when
//! someone presses the pole's button.
//!
//! The rule for a plugin that crashes while its alarm sounds (documented in
//! ARCHITECTURE.md): the alarm is the pole's, not the plugin's. It keeps sounding, the
//! siren stops at `siren-max-s`, and the alarm ends `expire-after-s` after its plugin
//! last renewed it. A crash neither silences an alarm early nor leaves it on forever.

mod common;

use std::time::Duration;

use common::control::{ctl, operator_key, pole_config, probe_files, POLE};
use common::mqtt::{Mosquitto, Schemas, Subscriber};
use common::{misbehave_files_as, on_topic, pole_header, with_sim_hardware, Bench, PoleProcess};
use sao_runtime::plugin::signing;
use serde_json::{json, Value};

/// 2026-11-21T20:00:00+07:00 in Unix ms.
const START_MS: u64 = 1_795_266_000_000;

/// A scenario of `minutes` in 5 s steps with the sim's device trace and `[alarm]` rules,
/// running the misbehaving fixture as `plugin` in `mode`, plus `hardware` lines.
fn scenario(minutes: f64, plugin: &str, mode: &str, hardware: &str) -> String {
    with_sim_hardware(
        &pole_header("2026-11-21T20:00:00+07:00", minutes / 60.0, 5),
        &format!("trace = \"trace.jsonl\"\n{hardware}"),
    ) + &format!(
        r#"
[alarm]
siren-max-s = 120
expire-after-s = 600

[[plugins]]
package = "{plugin}.sao"
grants = ["log", "kv", "telemetry", "alarm", "lighting"]
config = {{ mode = "{mode}" }}
"#
    )
}

/// The trace's `(ts, state)` changes of `device`.
fn traced(bench: &Bench, device: &str) -> Vec<(u64, Value)> {
    common::traced(&bench.path("trace.jsonl"), device)
}

/// The state of `device` at `ts` by its trace: its last change at or before `ts`.
fn state_at(changes: &[(u64, Value)], ts: u64) -> Option<&Value> {
    changes
        .iter()
        .rev()
        .find(|(at, _)| *at <= ts)
        .map(|(_, s)| s)
}

/// The alerts of `kind`, as `(state, payload)`.
fn alerts<'a>(records: &'a [Value], kind: &str) -> Vec<(&'a str, &'a Value)> {
    on_topic(records, &format!("/alert/{kind}"))
        .into_iter()
        .map(|r| (r["payload"]["state"].as_str().unwrap(), &r["payload"]))
        .collect()
}

#[test]
fn a_plugin_crashing_during_its_alarm_leaves_it_to_the_siren_limit_and_expiry() {
    let bench = Bench::new();
    bench.package("crasher", misbehave_files_as("crasher"));
    let (_, records) = bench.simulate(&scenario(15.0, "crasher", "sound-then-trap", ""));

    let alerts = alerts(&records, "drill");
    let states: Vec<&str> = alerts.iter().map(|(s, _)| *s).collect();
    assert_eq!(states, ["raised", "silenced", "cleared"], "{alerts:#?}");
    let raised = alerts[0].1;
    let raised_ts = raised["ts"].as_u64().unwrap();
    assert_eq!(raised["level"], "emergency");
    assert_eq!(
        raised["message"],
        json!({"th": "ซ้อมเหตุฉุกเฉิน", "en": "Emergency drill"})
    );
    assert_eq!(raised["audible"], true);

    // The plugin crashed while the alarm sounded (and was restarted, then disabled).
    let crashes: Vec<u64> = on_topic(&records, "/evt/sao/plugin-state")
        .into_iter()
        .filter(|r| r["payload"]["details"]["plugin"] == "crasher")
        .filter(|r| r["payload"]["details"]["state"] != "running")
        .map(|r| r["payload"]["ts"].as_u64().unwrap())
        .collect();
    assert!(!crashes.is_empty() && crashes[0] < raised_ts + 120_000);

    // The siren: on at the raise, off at the limit (the engine advances every 5 s step).
    let siren = traced(&bench, "siren");
    assert_eq!(siren.first(), Some(&(raised_ts, json!(true))), "{siren:?}");
    let (off_ts, off) = siren.last().unwrap();
    assert_eq!(off, &json!(false));
    assert!(
        (raised_ts + 120_000..raised_ts + 125_000).contains(off_ts),
        "{siren:?}"
    );
    let (state, silenced) = alerts[1];
    assert_eq!(state, "silenced");
    assert_eq!(silenced["reason"], "max-duration");
    assert_eq!(silenced["audible"], false);

    // The strobe kept going after the siren stopped, until the alarm expired. (It flashes
    // 100 ms in 500; this scenario's 5 s steps always sample it on.)
    let strobe = traced(&bench, "strobe");
    assert_eq!(
        state_at(&strobe, off_ts + 60_000),
        Some(&json!(true)),
        "{strobe:?}"
    );
    let (state, cleared) = alerts[2];
    assert_eq!(state, "cleared");
    assert_eq!(cleared["reason"], "expired");
    let cleared_ts = cleared["ts"].as_u64().unwrap();
    assert!((raised_ts + 600_000..raised_ts + 605_000).contains(&cleared_ts));
    assert_eq!(strobe.last().unwrap().1, json!(false));
    assert!(strobe.last().unwrap().0 <= cleared_ts);

    // Lamps: held at full for the emergency, handed back at the end; the display showed
    // the message and was blanked.
    let lamp = traced(&bench, "main");
    assert!(lamp
        .iter()
        .any(|(ts, level)| *ts == raised_ts && level == &json!(100.0)));
    assert_eq!(
        traced(&bench, "display"),
        [
            (
                raised_ts,
                json!({"th": "ซ้อมเหตุฉุกเฉิน", "en": "Emergency drill"})
            ),
            (cleared_ts, Value::Null)
        ]
    );
    assert_eq!(traced(&bench, "speaker")[0], (raised_ts, json!("alarm")));
}

#[test]
fn the_button_acknowledges_the_alarm_silencing_the_siren_but_not_the_lights() {
    let bench = Bench::new();
    bench.package("sounder", misbehave_files_as("sounder"));
    // The fixture sounds at its first tick (20:01); someone presses the button at 20:02.
    let press = START_MS + 120_000;
    let hardware = format!("button-presses-ms = [{press}]");
    let (_, records) = bench.simulate(&scenario(4.0, "sounder", "sound-then-trap", &hardware));

    let alerts = alerts(&records, "drill");
    let (state, acknowledged) = alerts[1];
    assert_eq!(state, "acknowledged", "{alerts:#?}");
    let ack_ts = acknowledged["acknowledged"]["ts"].as_u64().unwrap();
    assert!((press..press + 5_000).contains(&ack_ts), "{acknowledged}");
    assert_eq!(acknowledged["acknowledged"]["by"], "button");
    assert_eq!(acknowledged["audible"], false);

    let siren = traced(&bench, "siren");
    assert_eq!(siren.last().unwrap(), &(ack_ts, json!(false)), "{siren:?}");
    let speaker = traced(&bench, "speaker");
    assert_eq!(speaker.last().unwrap(), &(ack_ts, Value::Null));
    let strobe = traced(&bench, "strobe");
    assert_eq!(
        state_at(&strobe, ack_ts + 60_000),
        Some(&json!(true)),
        "{strobe:?}"
    );
    // Acknowledged: no escalation, no further alert within the run.
    assert_eq!(alerts.len(), 2);
}

#[test]
fn an_operator_acknowledges_over_mqtt_only_with_a_signed_document() {
    let bench = Bench::new();
    let broker = Mosquitto::start(&bench.path("broker"));
    let key = operator_key(bench.dir.path());
    bench.package("probe", probe_files());
    let plugin = "[[plugins]]\npackage = \"probe.sao\"\ngrants = [\"log\", \"kv\", \"telemetry\", \"alarm\", \"lighting\"]\nconfig = { mode = \"sound-then-trap\" }\n";
    let sub = Subscriber::connect(broker.port, "sao/#");
    let pole = PoleProcess::start(&bench, &pole_config(POLE, &broker.url(), "[]", plugin));
    let alert = |m: &common::mqtt::Message, state: &str| {
        m.topic.ends_with("/alert/drill") && m.payload["state"] == state
    };
    sub.wait_for("the drill alarm", Duration::from_secs(60), |m| {
        m.iter().any(|m| alert(m, "raised"))
    });
    let audits = |outcome: &str| {
        sub.on("/evt/sao/audit")
            .into_iter()
            .filter(|m| m.payload["details"]["what"] == "alarm-ack")
            .filter(|m| m.payload["details"]["outcome"] == outcome)
            .count()
    };

    // Unsigned: refused and audited; the siren sounds on.
    let dir = bench.dir.path();
    let (ok, out, err) = ctl(
        &broker.url(),
        dir,
        &["ack", "--pole", POLE, "--by", "mallory", "--wait", "2"],
    );
    assert!(ok, "{err}");
    assert!(out.contains("0 alarms acknowledged"), "{out}");
    sub.wait_for("the refusal audited", Duration::from_secs(30), |_| {
        audits("rejected") == 1
    });
    let refusal = sub.on("/evt/sao/audit").pop().unwrap();
    assert!(
        refusal.payload["details"]["reason"]
            .as_str()
            .unwrap()
            .contains("unsigned"),
        "{}",
        refusal.payload
    );
    assert!(!sub.messages().iter().any(|m| alert(m, "acknowledged")));

    // Signed by a trusted operator key: acknowledged, audited with the signer.
    let (ok, out, err) = ctl(
        &broker.url(),
        dir,
        &[
            "ack",
            "--pole",
            POLE,
            "--by",
            "somchai",
            "--key",
            "operators/operator.key",
            "--wait",
            "10",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("1 alarms acknowledged"), "{out}");
    let acknowledged = sub
        .messages()
        .into_iter()
        .find(|m| alert(m, "acknowledged"))
        .unwrap();
    assert_eq!(
        acknowledged.payload["acknowledged"]["by"],
        "operator:somchai"
    );
    assert_eq!(acknowledged.payload["audible"], false);
    sub.wait_for(
        "the acknowledgement audited",
        Duration::from_secs(30),
        |_| audits("applied") == 1,
    );
    let entry = sub
        .on("/evt/sao/audit")
        .into_iter()
        .find(|m| m.payload["details"]["outcome"] == "applied")
        .unwrap();
    assert_eq!(
        entry.payload["details"]["signed-by"],
        signing::key_id(&key.verifying_key()).as_str()
    );
    let schemas = Schemas::load();
    for m in sub
        .messages()
        .iter()
        .filter(|m| m.topic.contains("/alert/"))
    {
        schemas.check(m);
    }
    assert!(pole.terminate(), "sao run stopped on SIGTERM");
}
