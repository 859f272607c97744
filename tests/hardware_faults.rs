//! Failing hardware on a simulated pole is reported, not hidden: a photocell that falls
//! silent raises and clears a `sensor-health` event, and a lamp driver that refuses
//! commands makes the dimming plugin raise and clear `lamp-fault`, while the plugin keeps
//! running.

mod common;

use common::{dimming_files, dimming_plugin, on_topic, pole_header_with, Bench};
use serde_json::Value;

fn states(records: &[&Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["payload"]["state"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn silent_sensor_and_failing_lamp_driver_are_reported_and_recovered() {
    let bench = Bench::new();
    bench.package("dimming", dimming_files());
    let scenario = pole_header_with(
        "2026-11-21T20:00:00+07:00",
        3.0,
        10,
        r#"faults = [
    { device = "lux", from = "2026-11-21T20:30:00+07:00", until = "2026-11-21T21:00:00+07:00", kind = "silent" },
    { device = "main", from = "2026-11-21T21:30:00+07:00", until = "2026-11-21T21:45:00+07:00", kind = "fail" },
]
"#,
    ) + &dimming_plugin("");
    let (summary, records) = bench.simulate(&scenario);

    let sensor = on_topic(&records, "/evt/sao/sensor-health");
    assert_eq!(states(&sensor), ["raised", "cleared"], "{sensor:#?}");
    assert_eq!(sensor[0]["payload"]["details"]["sensor"], "lux");
    assert!(sensor[0]["payload"]["message"]
        .as_str()
        .unwrap()
        .starts_with("no value for"));
    let raised_at = sensor[0]["payload"]["ts"].as_u64().unwrap();
    let cleared_at = sensor[1]["payload"]["ts"].as_u64().unwrap();
    // Silent from 20:30: reported once ten minutes passed without a value; cleared at 21:00.
    assert_eq!((raised_at - 1_795_267_800_000) / 60_000, 10);
    assert_eq!(cleared_at, 1_795_269_600_000);

    let lamp = on_topic(&records, "/evt/dimming/lamp-fault");
    assert_eq!(states(&lamp), ["raised", "cleared"], "{lamp:#?}");
    assert_eq!(lamp[0]["payload"]["details"]["lamp"], "main");
    assert!(lamp[0]["payload"]["details"]["error"]
        .as_str()
        .unwrap()
        .contains("main"));
    assert_eq!(summary.plugins[0]["health"]["state"], "running");
    assert_eq!(summary.plugins[0]["stats"]["crashes"], 0);
}
