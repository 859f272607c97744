//! Air quality end to end: the air-quality plugin, compiled to wasm and signed, on a
//! simulated pole whose particulate sensor speaks the real SDS011 / PMS5003 wire protocol
//! (frames encoded by the simulator, decoded by the real parser), through `sao sim`:
//!
//! * the real SDS011 day from `../shared/data` replayed: hourly AQI published and valid
//!   against the telemetry schema, the day's AQI equal to the PCD index of the replayed
//!   day's mean, and the day's time-in-band adding up to the hours replayed;
//! * synthetic Thai dry-season episodes: a rising one warns (`aqi-forecast`) before the
//!   AQI crosses 100 (`aqi-exceeded`); a flat one raises nothing, and a simulated ozone
//!   sensor is averaged over its 8-hour window and indexed beside PM.

mod common;

use common::mqtt::{Message, Schemas};
use common::{air_quality_files, metric, on_topic, pole_header, shared, Bench};
use sao_hardware::sim::SeriesSpec;
use sao_plugin_air_quality::aqi::{self, Pollutant, Standard};
use serde_json::Value;

/// 2026-11-21T00:00:00+07:00
const MIDNIGHT: u64 = 1_795_194_000_000;
const MIN: u64 = 60_000;
const HOUR: u64 = 60 * MIN;

const SDS011_DAY: &str = "data/sds011_aberdeen_2017-10-20.csv";

/// The plugin's section of a scenario, with `config` (inline TOML table).
fn plugin(config: &str) -> String {
    format!(
        r#"
[[plugins]]
package = "air-quality.sao"
grants = ["log", "clock", "kv", "telemetry", "alarm"]
config = {config}
"#
    )
}

fn simulate(scenario: &str) -> Vec<Value> {
    let bench = Bench::new();
    bench.package("air-quality", air_quality_files());
    let (summary, records) = bench.simulate(scenario);
    assert_eq!(
        summary.plugins[0]["health"]["state"], "running",
        "{}",
        summary.plugins
    );
    let schemas = Schemas::load();
    for r in &records {
        schemas.check(&Message {
            topic: r["topic"].as_str().unwrap().to_string(),
            payload: r["payload"].clone(),
            retain: false,
        });
    }
    records
}

fn ts(record: &Value) -> u64 {
    record["payload"]["ts"].as_u64().unwrap()
}

/// Mean of the hourly means of a step-hold series sampled every minute of
/// `[from, from + hours)` (what the plugin's averaging sees), rounded to the SDS011's
/// 0.1 µg/m³.
fn hourly_mean(points: &[(u64, f64)], from: u64, hours: u64) -> f64 {
    let value_at = |t: u64| {
        let n = points.partition_point(|&(p, _)| p <= t);
        (points[n - 1].1 * 10.0).round() / 10.0
    };
    let means: Vec<f64> = (0..hours)
        .map(|h| {
            let start = from + h * HOUR;
            (0..60).map(|m| value_at(start + m * MIN)).sum::<f64>() / 60.0
        })
        .collect();
    means.iter().sum::<f64>() / means.len() as f64
}

#[test]
fn a_real_sds011_day_gives_hourly_aqi_and_a_full_day_of_time_in_band() {
    let csv = shared(SDS011_DAY);
    let scenario = pole_header("2026-11-21T00:00:00+07:00", 24.0, 60)
        + &format!(
            r#"
[hardware.particulate]
protocol = "sds011"
line-noise = 0.05

[[scenario.csv]]
sensor = "pm25"
unit = "ug/m3"
path = "{csv}"
time-column = "timestamp"
value-column = "P2"
delimiter = ";"

[[scenario.csv]]
sensor = "pm10"
unit = "ug/m3"
path = "{csv}"
time-column = "timestamp"
value-column = "P1"
delimiter = ";"
"#,
            csv = csv.display()
        )
        + &plugin("{}");
    let records = simulate(&scenario);

    // One AQI per clock hour, provisional until 18 of the 24 hours are in.
    let aqi = on_topic(&records, "/tele/air-quality/aqi");
    let hours: Vec<u64> = aqi.iter().map(|r| ts(r)).collect();
    let expected_hours: Vec<u64> = (1..=24).map(|h| MIDNIGHT + h * HOUR).collect();
    assert_eq!(hours, expected_hours);
    let provisional: Vec<bool> = aqi
        .iter()
        .map(|r| metric(r, "provisional") == 1.0)
        .collect();
    assert_eq!(provisional.iter().filter(|p| **p).count(), 17);
    assert!(!provisional[23]);

    // At midnight the window is the whole replayed day: its PM2.5 mean and PCD index.
    let day = SeriesSpec::from_csv(
        &csv,
        "pm25",
        "ug/m3",
        "timestamp",
        "P2",
        ';',
        Some(MIDNIGHT),
    )
    .unwrap()
    .series
    .points;
    let expected_pm25 = hourly_mean(&day, MIDNIGHT, 24);
    let last = aqi[23];
    let published_pm25 = metric(last, "pm25");
    assert!(
        (published_pm25 - expected_pm25).abs() < 0.1,
        "24 h PM2.5 {published_pm25} vs {expected_pm25} from the CSV"
    );
    let expected_aqi =
        aqi::sub_index(Standard::ThaiPcd2023, Pollutant::Pm25, expected_pm25).unwrap();
    let published_aqi = metric(last, "aqi") as u32;
    assert!(
        published_aqi.abs_diff(expected_aqi) <= 1,
        "AQI {published_aqi} vs {expected_aqi}"
    );
    let band = aqi::band(Standard::ThaiPcd2023, published_aqi);
    let details = &last["payload"]["details"];
    assert_eq!(details["standard"], "thai-pcd-2023");
    assert_eq!(details["band"]["number"], band.index + 1);
    assert_eq!(details["band"]["colour"]["hex"], band.colour_hex);
    assert_eq!(details["advice"]["general"]["th"][0], band.general_th[0]);
    assert_eq!(details["advice"]["general"]["en"][0], band.general_en[0]);

    // The day's time in band: 23 hours carry an AQI (the first comes at 01:00), and
    // with the unknown hour they add up to the 24 hours replayed.
    let days = on_topic(&records, "/tele/air-quality/kpi-daily");
    assert_eq!(days.len(), 1);
    let kpi = days[0];
    assert_eq!(kpi["payload"]["details"]["date"], "2026-11-21");
    let band_hours: f64 = (1..=5)
        .map(|n| metric(kpi, &format!("band-{n}-hours")))
        .sum();
    assert!((band_hours - 23.0).abs() < 1e-9, "{band_hours}");
    assert!((metric(kpi, "covered-hours") - band_hours).abs() < 1e-9);
    assert!((metric(kpi, "unknown-hours") - 1.0).abs() < 1e-9);
    // Each hour is credited to the band of the AQI in force: recount from the records.
    let mut recount = [0.0; 5];
    for r in &aqi[..23] {
        recount[metric(r, "band") as usize - 1] += 1.0;
    }
    for (n, hours) in recount.iter().enumerate() {
        assert_eq!(
            metric(kpi, &format!("band-{}-hours", n + 1)),
            *hours,
            "band {}",
            n + 1
        );
    }
}

/// A dry-season scenario of `days` with the given particulate model (inline TOML) and
/// an ozone sensor.
fn dry_season(model: &str, days: u32) -> Vec<Value> {
    let scenario = pole_header("2026-11-21T00:00:00+07:00", f64::from(days) * 24.0, 120)
        + &format!(
            r#"
gases = [{{ gas = "o3" }}]

[hardware.particulate]
protocol = "pms5003"
line-noise = 0.05
model = {model}
"#
        )
        + &plugin("{}");
    simulate(&scenario)
}

fn events(records: &[Value], kind: &str, state: &str) -> Vec<u64> {
    on_topic(records, &format!("/evt/air-quality/{kind}"))
        .iter()
        .filter(|r| r["payload"]["state"] == state)
        .map(|r| ts(r))
        .collect()
}

#[test]
fn a_rising_episode_warns_before_aqi_crosses_100_and_a_flat_one_raises_nothing() {
    // PM2.5 rising 15 µg/m³ a day from a clean 12: the 24-hour AQI crosses 100 on the
    // third day.
    let rising = dry_season("{ mean-pm25 = 12.0, trend-per-day = 15.0 }", 3);
    let forecasts = events(&rising, "aqi-forecast", "raised");
    let exceeded = events(&rising, "aqi-exceeded", "raised");
    assert_eq!(forecasts.len(), 1, "{forecasts:?}");
    assert_eq!(exceeded.len(), 1, "{exceeded:?}");
    assert!(
        forecasts[0] < exceeded[0],
        "warned at {} before crossing at {}",
        forecasts[0],
        exceeded[0]
    );
    let aqi_at = |t: u64| {
        let r = on_topic(&rising, "/tele/air-quality/aqi")
            .into_iter()
            .find(|r| ts(r) == t)
            .unwrap_or_else(|| panic!("no AQI at {t}"));
        metric(r, "aqi")
    };
    assert!(aqi_at(forecasts[0]) < 100.0);
    assert!(aqi_at(exceeded[0]) >= 100.0);
    assert!(aqi_at(exceeded[0] - HOUR) < 100.0, "raised at the crossing");
    // The forecast gives way to the exceeded alert at the crossing.
    assert_eq!(events(&rising, "aqi-forecast", "cleared"), [exceeded[0]]);

    // The same haze without a trend: moderate air, daily swings, no alert.
    let flat = dry_season("{ mean-pm25 = 30.0 }", 3);
    let aqi = on_topic(&flat, "/tele/air-quality/aqi");
    assert_eq!(aqi.len(), 72);
    assert!(aqi.iter().all(|r| metric(r, "aqi") < 100.0));
    // Ozone is averaged over its own 8-hour window and indexed; PM2.5 dominates here.
    let last = aqi[71];
    let o3 = metric(last, "o3");
    assert!(o3 > 0.0, "{o3} ppb");
    assert_eq!(last["payload"]["details"]["averaging-hours"]["o3"], 8);
    assert_eq!(
        metric(last, "o3-index") as u32,
        aqi::sub_index(Standard::ThaiPcd2023, Pollutant::O3, o3).unwrap()
    );
    assert!(metric(last, "o3-index") < metric(last, "aqi"));
    assert_eq!(last["payload"]["details"]["dominant"], "pm25");
    assert!(on_topic(&flat, "/evt/air-quality/").is_empty());
}
