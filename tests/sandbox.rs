//! Misbehaving plugins are contained: an infinite loop, a memory hog and a plugin that
//! traps on every call are cut off, restarted with backoff and disabled when over budget,
//! while a healthy plugin beside them keeps its cadence. Ungranted capabilities and
//! invalid config are refused with a clear reported state. When the plugin controlling
//! the lamp fails or falls silent, the lamp goes to the safe level.

mod common;

use common::{metric, misbehave_files, misbehave_files_as, on_topic, pole_header, Bench};
use serde_json::Value;

/// The fixture packaged under another id (so several can run side by side).
fn fixture_as(bench: &Bench, id: &str) -> std::path::PathBuf {
    bench.package(id, misbehave_files_as(id))
}

fn plugin_block(package: &str, config: &str) -> String {
    format!(
        r#"
[[plugins]]
package = "{package}.sao"
grants = ["log", "kv", "telemetry", "alarm", "lighting"]
config = {config}
"#
    )
}

fn plugin_events<'a>(records: &'a [Value], plugin: &str) -> Vec<&'a Value> {
    on_topic(records, "/evt/sao/plugin-state")
        .into_iter()
        .filter(|r| r["payload"]["details"]["plugin"] == plugin)
        .collect()
}

fn final_state<'a>(summary: &'a sao_runtime::sim::SimSummary, plugin: &str) -> &'a Value {
    summary
        .plugins
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == plugin)
        .unwrap_or_else(|| panic!("no plugin {plugin} in {}", summary.plugins))
}

#[test]
fn loop_hog_and_trap_are_contained_while_a_healthy_plugin_keeps_its_cadence() {
    let bench = Bench::new();
    for id in ["healthy", "looper", "hog", "trapper"] {
        fixture_as(&bench, id);
    }
    let scenario = pole_header("2026-11-21T20:00:00+07:00", 2.0, 10)
        + &plugin_block("healthy", r#"{ mode = "ok" }"#)
        + &plugin_block("looper", r#"{ mode = "loop" }"#)
        + &plugin_block("hog", r#"{ mode = "hog" }"#)
        + &plugin_block("trapper", r#"{ mode = "trap" }"#);
    let (summary, records) = bench.simulate(&scenario);

    // The healthy plugin ticked every virtual minute for two hours: 121 heartbeats,
    // consecutive, 60 s apart, none missing.
    let beats = on_topic(&records, "/tele/healthy/heartbeat");
    assert_eq!(
        beats.len(),
        121,
        "heartbeats: {}; healthy plugin events: {:#?}",
        beats.len(),
        plugin_events(&records, "healthy")
    );
    for (i, beat) in beats.iter().enumerate() {
        assert_eq!(metric(beat, "ticks"), (i + 1) as f64);
        assert_eq!(beat["payload"]["seq"], (i + 1) as u64);
    }
    let ts: Vec<u64> = beats
        .iter()
        .map(|b| b["payload"]["ts"].as_u64().unwrap())
        .collect();
    assert!(ts.windows(2).all(|w| w[1] - w[0] == 60_000));
    assert_eq!(
        final_state(&summary, "healthy")["health"]["state"],
        "running"
    );

    for (id, cause) in [
        ("looper", "CPU deadline"),
        ("hog", "memory cap"),
        ("trapper", "trap"),
    ] {
        let events = plugin_events(&records, id);
        let crashes: Vec<_> = events
            .iter()
            .filter(|e| e["payload"]["details"]["state"] == "backoff")
            .collect();
        // Budget 5: five restarts with backoff, the sixth crash disables it.
        assert_eq!(crashes.len(), 5, "{id}: {events:#?}");
        assert!(
            crashes[0]["payload"]["message"]
                .as_str()
                .unwrap()
                .contains(cause),
            "{id}: {}",
            crashes[0]["payload"]["message"]
        );
        let restarts = events
            .iter()
            .filter(|e| e["payload"]["message"] == "restarted")
            .count();
        assert_eq!(restarts, 5, "{id}");
        let last = events.last().unwrap();
        assert_eq!(last["payload"]["details"]["state"], "disabled", "{id}");
        assert_eq!(last["payload"]["severity"], "critical");
        let state = final_state(&summary, id);
        assert_eq!(state["health"]["state"], "disabled", "{id}");
        assert_eq!(state["stats"]["crashes"], 6, "{id}");
        // Once disabled it receives nothing: ticks were dropped, not delivered.
        assert!(
            state["stats"]["dropped"].as_u64().unwrap() > 50,
            "{id}: {state}"
        );
    }
    // Backoff doubles: restarts of the trapper are 1, 2, 4, 8, 16 s after its crashes,
    // so the restart happens at the first tick after each delay.
    let status = on_topic(&records, "/status");
    assert_eq!(status.last().unwrap()["payload"]["online"], false);
    // The retained status followed the plugins: one while online lists the trapper disabled.
    let disabled_listed = status.iter().any(|s| {
        s["payload"]["online"] == true
            && s["payload"]["plugins"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["id"] == "trapper" && p["health"]["state"] == "disabled")
    });
    assert!(disabled_listed, "{status:#?}");
}

#[test]
fn a_slower_box_scales_every_cpu_deadline_and_a_bad_scale_is_refused() {
    let bench = Bench::new();
    fixture_as(&bench, "looper");
    // The fixture declares a 50 ms deadline; a box three times slower allows 150 ms. The
    // setting wins over SAO_DEADLINE_SCALE, which the emulated aarch64 run sets.
    let scenario = |scale: &str| {
        pole_header("2026-11-21T20:00:00+07:00", 0.05, 10)
            + &format!("\n[timing]\ndeadline-scale = {scale}\n")
            + &plugin_block("looper", r#"{ mode = "loop" }"#)
    };
    let (_, records) = bench.simulate(&scenario("3"));
    let crash = plugin_events(&records, "looper")
        .into_iter()
        .find(|e| e["payload"]["details"]["state"] == "backoff")
        .expect("the looper is cut off");
    assert!(
        crash["payload"]["message"]
            .as_str()
            .unwrap()
            .contains("call exceeded its CPU deadline of 150ms;"),
        "{crash:#}"
    );

    std::fs::write(bench.path("bad.toml"), scenario("0.5")).unwrap();
    let err = sao_runtime::sim::ScenarioFile::load(&bench.path("bad.toml"))
        .expect_err("a scale below 1 is refused")
        .to_string();
    assert!(
        err.contains(
            "timing.deadline-scale (or SAO_DEADLINE_SCALE) must be a number from 1 to 100, got 0.5"
        ),
        "{err}"
    );
}

#[test]
fn ungranted_and_undeclared_capabilities_are_refused_at_install_by_name() {
    let bench = Bench::new();
    fixture_as(&bench, "greedy");
    // The component imports `alarm`; the manifest of "sneaky" does not declare it.
    let mut files = misbehave_files();
    let manifest = String::from_utf8(files["plugin.toml"].clone()).unwrap();
    files.insert(
        "plugin.toml".into(),
        manifest
            .replace("id = \"misbehave\"", "id = \"sneaky\"")
            .replace(", \"alarm\"", "")
            .into_bytes(),
    );
    bench.package("sneaky", files);
    fixture_as(&bench, "fine");

    let scenario = pole_header("2026-11-21T20:00:00+07:00", 0.1, 10)
        + r#"
[[plugins]]
package = "greedy.sao"
grants = ["log", "kv", "telemetry", "lighting"]
config = { mode = "ok" }

[[plugins]]
package = "sneaky.sao"
grants = ["log", "kv", "telemetry", "lighting", "alarm"]
config = { mode = "ok" }
"# + &plugin_block("fine", r#"{ mode = "alarm" }"#);
    let (summary, records) = bench.simulate(&scenario);

    let rejected: Vec<&Value> = summary
        .plugins
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["health"]["state"] == "rejected")
        .collect();
    assert_eq!(rejected.len(), 2, "{}", summary.plugins);
    assert_eq!(
        rejected[0]["health"]["reason"],
        "plugin `greedy` requests capability `alarm`, which this pole does not grant to it"
    );
    let sneaky = rejected[1]["health"]["reason"].as_str().unwrap();
    assert!(
        sneaky.contains(
            "imports `sao:plugin/alarm@0.1.1` but its manifest does not request capability `alarm`"
        ),
        "{sneaky}"
    );
    // Both refusals went upstream, as critical plugin-state events.
    let refusals: Vec<_> = on_topic(&records, "/evt/sao/plugin-state")
        .into_iter()
        .filter(|r| r["payload"]["details"]["state"] == "rejected")
        .collect();
    assert_eq!(refusals.len(), 2);
    // The plugin granted `alarm` used it: the siren alarm was raised and reported.
    let alarms = on_topic(&records, "/evt/fine/alarm");
    assert!(!alarms.is_empty());
    assert_eq!(alarms[0]["payload"]["details"]["outputs"][0], "siren");
}

#[test]
fn invalid_config_is_rejected_with_the_reason_and_the_last_good_config_keeps_running() {
    let bench = Bench::new();
    fixture_as(&bench, "typo");
    fixture_as(&bench, "steady");
    let scenario = pole_header("2026-11-21T20:00:00+07:00", 0.5, 10)
        + &plugin_block("typo", r#"{ mode = "sideways" }"#)
        + &plugin_block("steady", r#"{ mode = "ok" }"#)
        + r#"
[[scenario.config]]
at = "2026-11-21T20:10:00+07:00"
plugin = "steady"
config = { mode = "loop", extra = 1 }
"#;
    let (summary, records) = bench.simulate(&scenario);

    let typo = final_state(&summary, "typo");
    assert_eq!(typo["health"]["state"], "failed");
    let reason = typo["health"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("config rejected: at /mode:"), "{reason}");
    assert!(reason.contains("sideways"), "{reason}");

    let rejected: Vec<_> = plugin_events(&records, "steady")
        .into_iter()
        .filter(|e| e["payload"]["details"]["state"] == "config-rejected")
        .collect();
    assert_eq!(rejected.len(), 1);
    let message = rejected[0]["payload"]["message"].as_str().unwrap();
    assert!(message.contains("extra"), "{message}");
    // The bad config never reached the plugin: it kept ticking in `ok` mode.
    assert_eq!(on_topic(&records, "/tele/steady/heartbeat").len(), 31);
    let steady = final_state(&summary, "steady");
    assert_eq!(steady["health"]["state"], "running");
    assert_eq!(steady["stats"]["crashes"], 0);
}

fn lamp_levels(records: &[Value]) -> Vec<(u64, f64, f64)> {
    on_topic(records, "/tele/sao/lamp-main")
        .iter()
        .map(|r| {
            (
                r["payload"]["ts"].as_u64().unwrap(),
                metric(r, "level"),
                metric(r, "failsafe"),
            )
        })
        .collect()
}

/// 2026-11-21T20:30:00+07:00, when the lamp controller's config changes.
const SWITCH: u64 = 1_795_267_800_000;

/// Runs an hour from 20:00 with the fixture holding the lamp at 30 % until, at 20:30, it
/// is switched to `mode`. `extra` is added to the pole config. Lamps are sampled each minute.
fn lamp_controller_switches_to(mode: &str, extra: &str) -> Vec<Value> {
    let bench = Bench::new();
    fixture_as(&bench, "lampctl");
    let scenario = pole_header("2026-11-21T20:00:00+07:00", 1.0, 10)
        + "[timing]\nhealth-interval-s = 60\n"
        + extra
        + &plugin_block("lampctl", r#"{ mode = "dim" }"#)
        + &format!(
            r#"
[[scenario.config]]
at = "2026-11-21T20:30:00+07:00"
plugin = "lampctl"
config = {{ mode = "{mode}" }}
"#
        );
    bench.simulate(&scenario).1
}

#[test]
fn lamp_goes_to_the_safe_level_when_its_controller_crashes() {
    let records = lamp_controller_switches_to("trap", "");
    let levels = lamp_levels(&records);
    let switch = SWITCH;
    let before: Vec<_> = levels
        .iter()
        .filter(|(t, ..)| *t > switch - 25 * 60_000 && *t < switch)
        .collect();
    assert!(
        before.iter().all(|(_, l, f)| *l == 30.0 && *f == 0.0),
        "{before:?}"
    );
    let after: Vec<_> = levels
        .iter()
        .filter(|(t, ..)| *t > switch + 2 * 60_000)
        .collect();
    assert!(!after.is_empty());
    assert!(
        after.iter().all(|(_, l, f)| *l == 100.0 && *f == 1.0),
        "{after:?}"
    );
    let failsafe = on_topic(&records, "/evt/sao/lighting-failsafe");
    let raised: Vec<_> = failsafe
        .iter()
        .filter(|r| r["payload"]["state"] == "raised")
        .collect();
    assert_eq!(raised.len(), 1, "{failsafe:#?}");
    assert!(raised[0]["payload"]["message"]
        .as_str()
        .unwrap()
        .contains("lampctl"));
}

#[test]
fn lamp_goes_to_the_safe_level_when_its_controller_falls_silent() {
    let records = lamp_controller_switches_to("ok", "[lighting]\nsilence-timeout-s = 300\n");
    let switch = SWITCH;
    let levels = lamp_levels(&records);
    // Still dimmed during the timeout, safe level after it.
    assert!(levels
        .iter()
        .filter(|(t, ..)| *t > switch && *t < switch + 4 * 60_000)
        .all(|(_, l, _)| *l == 30.0));
    let after: Vec<_> = levels
        .iter()
        .filter(|(t, ..)| *t > switch + 7 * 60_000)
        .collect();
    assert!(
        !after.is_empty() && after.iter().all(|(_, l, f)| *l == 100.0 && *f == 1.0),
        "{after:?}"
    );
    let raised: Vec<_> = on_topic(&records, "/evt/sao/lighting-failsafe")
        .into_iter()
        .filter(|r| r["payload"]["state"] == "raised")
        .collect();
    assert_eq!(raised.len(), 1);
    assert!(raised[0]["payload"]["message"]
        .as_str()
        .unwrap()
        .contains("silent"));
}

/// The contract's promise: a component built against `sao:plugin@0.1.0` (the frozen copy of
/// that WIT in `tests/fixtures/contract-0.1.0`) installs and runs on this host, whose
/// interfaces are 0.1.1.
#[test]
fn a_component_built_against_contract_0_1_0_still_runs() {
    let bench = Bench::new();
    let files = common::plugin_files(
        &common::root().join("tests/fixtures/contract-0.1.0"),
        "sao_fixture_contract_0_1_0",
    );
    let imports = String::from_utf8_lossy(&files["contract-010.wasm"]).into_owned();
    assert!(
        imports.contains("sao:plugin/telemetry@0.1.0"),
        "built against 0.1.0"
    );
    bench.package("contract", files);
    let scenario = pole_header("2026-11-21T20:00:00+07:00", 1.0, 10)
        + r#"
[[plugins]]
package = "contract.sao"
grants = ["log", "clock", "telemetry"]
"#;
    let (summary, records) = bench.simulate(&scenario);
    assert_eq!(
        final_state(&summary, "contract-010")["health"]["state"],
        "running"
    );
    // A tick a minute for the hour, each answered through the 0.1.0 imports.
    assert_eq!(on_topic(&records, "/tele/contract-010/ticks").len(), 61);
}
