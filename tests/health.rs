//! Pole health on a simulated night: faults injected through the simulator (a silent
//! sensor, a lamp that goes dark while taking commands, an overheating box) become
//! findings on `evt/sao/health` and in the `tele/sao/health` summary, the heat derates
//! inference, and each finding clears when its fault ends.

mod common;

use common::{
    dimming_files, dimming_plugin, metric, on_topic, pole_header_with, Bench, HOST_CHECKS_OFF,
};
use serde_json::Value;

/// 2026-11-21T20:00:00+07:00.
const START: u64 = 1_795_266_000_000;
const MINUTE: u64 = 60_000;

fn at(minutes_after_eight: u64) -> u64 {
    START + minutes_after_eight * MINUTE
}

/// `(component, state, status, ts)` of every health event.
fn health_events(records: &[Value]) -> Vec<(String, String, String, u64)> {
    on_topic(records, "/evt/sao/health")
        .iter()
        .map(|r| {
            let p = &r["payload"];
            (
                p["details"]["component"].as_str().unwrap().to_string(),
                p["state"].as_str().unwrap().to_string(),
                p["details"]["status"].as_str().unwrap().to_string(),
                p["ts"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn injected_faults_become_findings_and_clear() {
    let bench = Bench::new();
    bench.package("dimming", dimming_files());
    let scenario = pole_header_with(
        "2026-11-21T20:00:00+07:00",
        3.0,
        10,
        r#"faults = [
    { device = "temperature", from = "2026-11-21T20:30:00+07:00", until = "2026-11-21T21:00:00+07:00", kind = "silent" },
    { device = "main", from = "2026-11-21T21:30:00+07:00", until = "2026-11-21T21:45:00+07:00", kind = "dark" },
    { device = "cpu-temperature", from = "2026-11-21T22:00:00+07:00", until = "2026-11-21T22:30:00+07:00", kind = "offset", offset = 45.0 },
]
"#,
    ) + "\n[health]\n"
        + HOST_CHECKS_OFF
        + &dimming_plugin("");
    let (_, records) = bench.simulate(&scenario);

    let events = health_events(&records);
    let of = |component: &str| -> Vec<(String, String, u64)> {
        events
            .iter()
            .filter(|e| e.0 == component)
            .map(|e| (e.1.clone(), e.2.clone(), e.3))
            .collect()
    };
    // The silent sensor: amber once ten minutes pass without a value, cleared at 21:00.
    let sensor = of("sensor:temperature");
    assert_eq!(sensor.len(), 2, "{events:#?}");
    assert_eq!(
        (sensor[0].0.as_str(), sensor[0].1.as_str()),
        ("raised", "amber")
    );
    assert!((at(40)..at(42)).contains(&sensor[0].2), "{sensor:?}");
    assert_eq!(
        (sensor[1].0.as_str(), sensor[1].1.as_str()),
        ("cleared", "green")
    );
    assert!((at(60)..at(62)).contains(&sensor[1].2));

    // The dark lamp: red on the second check, while its plugin believes it lit.
    let lamp = of("lamp:main");
    assert_eq!(lamp.len(), 2, "{events:#?}");
    assert_eq!((lamp[0].0.as_str(), lamp[0].1.as_str()), ("raised", "red"));
    assert!((at(90)..at(92)).contains(&lamp[0].2), "{lamp:?}");
    assert_eq!(lamp[1].0, "cleared");
    assert!((at(105)..at(107)).contains(&lamp[1].2));

    // The hot box: red at once (air ~27 °C + 20 °C cabinet + 45 °C), until 22:30.
    let cpu = of("cpu");
    assert_eq!(cpu.len(), 2, "{events:#?}");
    assert_eq!((cpu[0].0.as_str(), cpu[0].1.as_str()), ("raised", "red"));
    assert!((at(120)..at(121)).contains(&cpu[0].2), "{cpu:?}");
    assert!((at(150)..at(151)).contains(&cpu[1].2));
    assert_eq!(
        events.len(),
        6,
        "nothing else went wrong on this pole: {events:#?}"
    );

    // The summary a dashboard colours: red with the finding during each red fault,
    // derated inference while hot, green again at the end.
    let summaries = on_topic(&records, "/tele/sao/health");
    let summary_at = |ts: u64| {
        summaries
            .iter()
            .rev()
            .find(|r| r["payload"]["ts"].as_u64().unwrap() <= ts)
            .unwrap()
    };
    let lamp_out = summary_at(at(100));
    assert_eq!(metric(lamp_out, "status"), 2.0);
    assert_eq!(lamp_out["payload"]["details"]["status"], "red");
    let finding = &lamp_out["payload"]["details"]["findings"][0];
    assert_eq!(finding["component"], "lamp:main");
    assert!(finding["problem"].as_str().unwrap().contains("draws 0.0 W"));
    let hot = summary_at(at(140));
    assert_eq!(hot["payload"]["details"]["findings"][0]["component"], "cpu");
    assert_eq!(metric(hot, "inference-duty"), 0.2);
    assert!(metric(hot, "cpu-temperature") > 85.0);
    let end = summary_at(at(180));
    assert_eq!(metric(end, "status"), 0.0);
    assert_eq!(metric(end, "inference-duty"), 1.0);
    assert!(metric(end, "cpu-temperature") < 60.0);
}
