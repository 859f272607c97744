//! A simulated month through `sao sim` (the dimming and air-quality plugins, SOS calls, a
//! lamp dark for three hours) and `sao report` over it: the report's totals match the
//! telemetry the pole sent that month, as JSON and CSV, and the monthly report went
//! upstream at the turn of the month.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::{
    air_quality_files, dimming_files, dimming_plugin, on_topic, pole_body, pole_header_with, Bench,
    HOST_CHECKS_OFF,
};
use serde_json::Value;

/// 2026-11-01T00:00:00+07:00 and 2026-12-01T00:00:00+07:00.
const FROM: u64 = 1_793_466_000_000;
const TO: u64 = 1_796_058_000_000;

const AIR_QUALITY: &str = r#"
[[plugins]]
package = "air-quality.sao"
grants = ["log", "clock", "kv", "telemetry", "alarm"]
config = {}
"#;

/// Both plugins' `[[plugins]]` entries.
fn plugins() -> String {
    dimming_plugin("{ baseline-watts-per-lamp = 150.0 }") + AIR_QUALITY
}

const HARDWARE: &str = r#"
[hardware.particulate]
protocol = "pms5003"
line-noise = 0.05
"#;

fn ts(record: &Value) -> u64 {
    record["payload"]["ts"].as_u64().unwrap()
}

/// Records on `suffix` stamped within the month.
fn in_month<'a>(records: &'a [Value], suffix: &str) -> Vec<&'a Value> {
    on_topic(records, suffix)
        .into_iter()
        .filter(|r| (FROM..TO).contains(&ts(r)))
        .collect()
}

fn sao_report(bench: &Bench, format: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_sao-e2e-host"))
        .args([
            "report",
            "--config",
            "pole.toml",
            "--from",
            "2026-11-01",
            "--to",
            "2026-12-01",
        ])
        .args(["--format", format])
        .current_dir(bench.path(""))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn a_simulated_months_report_matches_its_telemetry() {
    let bench = Bench::new();
    bench.package("dimming", dimming_files());
    bench.package("air-quality", air_quality_files());
    let scenario = pole_header_with(
        "2026-11-01T00:00:00+07:00",
        30.0 * 24.0 + 1.0,
        60,
        r#"sos = ["2026-11-05T21:00:00+07:00", "2026-11-18T02:30:00+07:00", "2026-11-27T19:45:00+07:00"]
faults = [
    { device = "main", from = "2026-11-10T20:00:00+07:00", until = "2026-11-10T23:00:00+07:00", kind = "dark" },
]
"#,
    ) + HARDWARE
        + "\n[health]\n"
        + HOST_CHECKS_OFF
        + &plugins();
    let (_, records) = bench.simulate(&scenario);
    // The same pole, for `sao report`.
    let pole = format!("{}{HARDWARE}{}", pole_body(), plugins());
    std::fs::write(bench.path("pole.toml"), pole).unwrap();

    let report: Value = serde_json::from_str(&sao_report(&bench, "json")).unwrap();
    let d = &report["dimensions"];
    assert_eq!(report["from"], "2026-11-01T00:00:00+07:00");
    assert_eq!(report["period-hours"], 720.0);
    assert_eq!(
        report["observed-hours"], 720.0,
        "the pole ran the whole month"
    );

    // Energy: the nights the dimming plugin reported, and the lamp's own meter.
    let nights = in_month(&records, "/tele/dimming/energy-daily");
    assert!(nights.len() >= 29, "{} nights", nights.len());
    let sum = |name: &str| -> f64 {
        nights
            .iter()
            .map(|r| r["payload"]["metrics"][name]["value"].as_f64().unwrap())
            .sum()
    };
    let energy = &d["energy"];
    assert!((energy["reported-kwh"].as_f64().unwrap() - sum("kwh")).abs() < 1e-9);
    assert!((energy["baseline-kwh"].as_f64().unwrap() - sum("baseline-kwh")).abs() < 1e-9);
    assert!(
        energy["saved-percent"].as_f64().unwrap() > 5.0,
        "the city's 5 % target"
    );
    let meter = in_month(&records, "/tele/sao/lamp-main");
    let reading = |r: &Value| {
        r["payload"]["metrics"]["total-kwh"]["value"]
            .as_f64()
            .unwrap()
    };
    let metered = reading(meter.last().unwrap()) - reading(meter[0]);
    // The meter telemetry is every 5 min: it misses at most that much at either end.
    assert!(
        (energy["metered-kwh"].as_f64().unwrap() - metered).abs() < 0.02,
        "{energy} against {metered}"
    );

    // Environment: each valid hourly AQI in its band.
    let mut bands: BTreeMap<String, f64> = BTreeMap::new();
    let mut provisional = 0.0;
    for r in in_month(&records, "/tele/air-quality/aqi") {
        let p = &r["payload"];
        if p["metrics"]["provisional"]["value"] == 1.0 {
            provisional += 1.0;
        } else {
            let name = p["details"]["band"]["name"]["en"]
                .as_str()
                .unwrap()
                .to_lowercase();
            *bands
                .entry(sao_runtime::records::band_key(&name).into())
                .or_default() += 1.0;
        }
    }
    let aqi_hours: BTreeMap<String, f64> =
        serde_json::from_value(d["environment"]["aqi-hours"].clone()).unwrap();
    assert_eq!(aqi_hours, bands);
    let hours = aqi_hours.values().sum::<f64>() + provisional;
    assert!(
        (719.0..=720.0).contains(&hours),
        "an AQI every hour: {hours}"
    );
    assert_eq!(d["environment"]["aqi-provisional-hours"], provisional);

    // Living: the three SOS calls.
    let calls = in_month(&records, "/alert/sos")
        .into_iter()
        .filter(|r| r["payload"]["state"] == "raised")
        .count();
    assert_eq!(calls, 3);
    assert_eq!(d["living"]["alarms"]["sos"], 3);

    // Infrastructure: every event the pole sent, by plugin and kind.
    let mut events: BTreeMap<String, u64> = BTreeMap::new();
    for r in records.iter().filter(|r| (FROM..TO).contains(&ts(r))) {
        let topic = r["topic"].as_str().unwrap();
        let state = r["payload"]["state"].as_str().unwrap_or_default();
        if let Some(kind) = topic.split("/evt/").nth(1) {
            if state == "raised" || state == "info" {
                *events.entry(kind.to_string()).or_default() += 1;
            }
        }
    }
    let reported: BTreeMap<String, u64> =
        serde_json::from_value(d["infrastructure"]["events"].clone()).unwrap();
    assert_eq!(reported, events);
    // The lamp was dark for three hours (red from its second check, a minute in).
    let lamp = d["infrastructure"]["device-uptime-percent"]["lamp:main"]
        .as_f64()
        .unwrap();
    let expected = 100.0 * (720.0 - 3.0 + 1.0 / 60.0) / 720.0;
    assert!((lamp - expected).abs() < 0.01, "{lamp} against {expected}");
    assert_eq!(
        d["infrastructure"]["device-uptime-percent"]["sensor:lux"],
        100.0
    );

    // The same report as CSV rows.
    let csv = sao_report(&bench, "csv");
    assert!(csv.starts_with("dimension,indicator,item,value,unit\n"));
    assert!(csv.contains("living,alarms,sos,3,1\n"), "{csv}");
    assert!(csv.contains(&format!(
        "energy,reported,,{},kWh\n",
        energy["reported-kwh"]
    )));

    // At the turn of the month the pole sent November's report upstream: the same one.
    let monthly = on_topic(&records, "/tele/sao/kpi-monthly");
    assert_eq!(monthly.len(), 1);
    assert_eq!(ts(monthly[0]), TO);
    assert_eq!(monthly[0]["payload"]["details"], report);
}
