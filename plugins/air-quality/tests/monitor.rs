//! The monitor driven natively through an in-memory [`Host`]: hourly AQI (provisional,
//! then valid), unit checks, restarts from the saved state, the beacon, and trend events.

use std::collections::BTreeMap;

use sao_plugin_air_quality::aqi::{self, Pollutant, Standard};
use sao_plugin_air_quality::{Config, EventState, Host, Monitor};
use sao_plugin_sdk::testing::{MemoryPlatform, MemoryPole};
use serde_json::Value;

/// 2026-11-21T00:00:00+07:00
const MIDNIGHT: u64 = 1_795_194_000_000;
const MIN: u64 = 60_000;
const HOUR: u64 = 60 * MIN;

/// A pole in memory: the SDK's platform, and the beacon's outputs.
#[derive(Default)]
struct MemoryHost {
    base: MemoryPlatform,
    /// Alarm id → outputs, while on.
    outputs_on: BTreeMap<u64, Vec<String>>,
    next_alarm: u64,
}

impl MemoryHost {
    /// The records of `name`: stream, metrics by name, details.
    fn stream(&self, name: &str) -> Vec<(String, BTreeMap<String, f64>, Value)> {
        let records = self.base.stream(name).into_iter();
        records
            .map(|r| {
                let metrics = r.metrics.iter().map(|(n, v, _)| (n.clone(), *v)).collect();
                (r.stream.clone(), metrics, r.details.clone())
            })
            .collect()
    }

    /// The events: kind, state, details.
    fn events(&self) -> Vec<(String, EventState, Value)> {
        let events = self.base.events.iter();
        events
            .map(|e| (e.kind.clone(), e.state, e.details.clone()))
            .collect()
    }
}

impl MemoryPole for MemoryHost {
    fn memory(&mut self) -> &mut MemoryPlatform {
        &mut self.base
    }
}

impl Host for MemoryHost {
    fn raise_output(&mut self, outputs: &[String], _message: &str) -> Result<u64, String> {
        self.next_alarm += 1;
        self.outputs_on.insert(self.next_alarm, outputs.to_vec());
        Ok(self.next_alarm)
    }
    fn clear_output(&mut self, id: u64) -> Result<(), String> {
        self.outputs_on
            .remove(&id)
            .map(|_| ())
            .ok_or_else(|| format!("unknown alarm {id}"))
    }
}

/// Feeds PM2.5 readings every 5 minutes from `from` to `to` (exclusive), valued by
/// `pm25(t)`, ticking every minute.
fn run(
    monitor: &mut Monitor,
    host: &mut MemoryHost,
    from: u64,
    to: u64,
    pm25: impl Fn(u64) -> f64,
) {
    let mut t = from;
    while t < to {
        if (t - from).is_multiple_of(5 * MIN) {
            monitor
                .on_reading("pm25", pm25(t), "ug/m3", t, host)
                .unwrap();
        }
        monitor.tick(t, host).unwrap();
        t += MIN;
    }
}

fn config(json: &str) -> Config {
    Config::from_json(json).unwrap()
}

#[test]
fn hourly_aqi_is_provisional_until_the_window_is_complete_then_valid() {
    let mut host = MemoryHost::default();
    let mut monitor = Monitor::new(config("{}"), &mut host);
    run(
        &mut monitor,
        &mut host,
        MIDNIGHT,
        MIDNIGHT + 26 * HOUR + MIN,
        |_| 30.0,
    );

    let aqi = host.stream("aqi");
    // One record per clock hour after the first.
    assert_eq!(aqi.len(), 26);
    let expected = aqi::sub_index(Standard::ThaiPcd2023, Pollutant::Pm25, 30.0).unwrap();
    assert_eq!(expected, 70);
    for (i, (_, metrics, details)) in aqi.iter().enumerate() {
        assert_eq!(metrics["aqi"], 70.0);
        assert_eq!(metrics["band"], 3.0);
        assert_eq!(metrics["pm25"], 30.0);
        // 18 of the 24 hours are needed: values from the 18th hour on are valid.
        let provisional = i + 1 < 18;
        assert_eq!(
            metrics["provisional"],
            f64::from(u8::from(provisional)),
            "hour {i}"
        );
        assert_eq!(details["provisional"], provisional);
        assert_eq!(details["band"]["colour"]["en"], "Yellow");
        assert_eq!(details["band"]["name"]["th"], "ปานกลาง");
        assert!(!details["advice"]["general"]["th"][0]
            .as_str()
            .unwrap()
            .is_empty());
        assert_eq!(details["averaging-hours"]["pm25"], 24);
    }
    assert!(host.base.events.is_empty(), "flat air raises nothing");
}

#[test]
fn readings_in_a_wrong_unit_are_refused_not_averaged() {
    let mut host = MemoryHost::default();
    let mut monitor = Monitor::new(config("{}"), &mut host);
    for m in 0..120 {
        let t = MIDNIGHT + m * MIN;
        monitor
            .on_reading("pm25", 0.03, "mg/m3", t, &mut host)
            .unwrap();
        monitor.on_reading("lux", 5.0, "lx", t, &mut host).unwrap();
        monitor.tick(t, &mut host).unwrap();
    }
    assert!(host.stream("aqi").is_empty());
    let refusals = host.base.logs.iter().filter(|(_, l)| l.contains("mg/m3"));
    assert_eq!(refusals.count(), 1, "logged once: {:?}", host.base.logs);
}

#[test]
fn a_restarted_monitor_resumes_its_windows_and_does_not_repeat_an_hour() {
    let mut host = MemoryHost::default();
    let mut monitor = Monitor::new(config("{}"), &mut host);
    run(
        &mut monitor,
        &mut host,
        MIDNIGHT,
        MIDNIGHT + 20 * HOUR + 30 * MIN,
        |_| 12.0,
    );
    assert_eq!(host.stream("aqi").len(), 20);
    drop(monitor);

    // Same store, new instance: the hour already published is not published again, and
    // the next hour is valid at once (the windows came back from the store).
    let mut monitor = Monitor::new(config("{}"), &mut host);
    run(
        &mut monitor,
        &mut host,
        MIDNIGHT + 20 * HOUR + 30 * MIN,
        MIDNIGHT + 21 * HOUR + MIN,
        |_| 12.0,
    );
    let aqi = host.stream("aqi");
    assert_eq!(aqi.len(), 21);
    assert_eq!(aqi[20].1["provisional"], 0.0);
    assert_eq!(aqi[20].1["aqi"], 20.0);
}

#[test]
fn the_beacon_follows_the_band() {
    let mut host = MemoryHost::default();
    let beacon =
        r#"{"beacon":[{"band":3,"output":"beacon-yellow"},{"band":4,"output":"beacon-orange"}]}"#;
    let mut monitor = Monitor::new(config(beacon), &mut host);
    // Clean air (band 1): no rule, nothing on.
    run(
        &mut monitor,
        &mut host,
        MIDNIGHT,
        MIDNIGHT + 3 * HOUR + MIN,
        |_| 5.0,
    );
    assert!(host.outputs_on.is_empty());
    // Moderate air for a day: yellow on.
    run(
        &mut monitor,
        &mut host,
        MIDNIGHT + 3 * HOUR + MIN,
        MIDNIGHT + 30 * HOUR + MIN,
        |_| 30.0,
    );
    assert_eq!(
        host.outputs_on.values().collect::<Vec<_>>(),
        [&vec!["beacon-yellow".to_string()]]
    );
    // Haze: orange replaces yellow.
    run(
        &mut monitor,
        &mut host,
        MIDNIGHT + 30 * HOUR + MIN,
        MIDNIGHT + 60 * HOUR + MIN,
        |_| 60.0,
    );
    assert_eq!(
        host.outputs_on.values().collect::<Vec<_>>(),
        [&vec!["beacon-orange".to_string()]]
    );
}

#[test]
fn a_rising_trend_warns_before_the_level_is_reached() {
    let mut host = MemoryHost::default();
    let mut monitor = Monitor::new(config("{}"), &mut host);
    // 10 µg/m³, rising 1 µg/m³ an hour after a clean first day.
    run(
        &mut monitor,
        &mut host,
        MIDNIGHT,
        MIDNIGHT + 72 * HOUR,
        |t| 10.0 + (t.saturating_sub(MIDNIGHT + 24 * HOUR) as f64 / HOUR as f64),
    );
    let events = host.events();
    let raised = |kind: &str| {
        events
            .iter()
            .position(|(k, s, _)| k == kind && *s == EventState::Raised)
            .unwrap_or_else(|| panic!("no {kind} raised: {events:?}"))
    };
    let forecast = raised("aqi-forecast");
    let exceeded = raised("aqi-exceeded");
    assert!(forecast < exceeded);
    assert!(events[forecast].2["projected"].as_f64().unwrap() >= 100.0);
    // Reaching the level ends the forecast; the exceeded alert takes over.
    assert_eq!(events[forecast + 1].0, "aqi-forecast");
    assert_eq!(events[forecast + 1].1, EventState::Cleared);
}

#[test]
fn completed_days_report_time_in_band() {
    let mut host = MemoryHost::default();
    let mut monitor = Monitor::new(config("{}"), &mut host);
    // Good air (band 2) all day, then one more hour into the next day.
    run(
        &mut monitor,
        &mut host,
        MIDNIGHT,
        MIDNIGHT + 25 * HOUR + MIN,
        |_| 20.0,
    );
    let days = host.stream("kpi-daily");
    assert_eq!(days.len(), 1);
    let (_, metrics, details) = &days[0];
    assert_eq!(details["date"], "2026-11-21");
    // The first AQI comes at 01:00 and holds until the next: 23 hours in band 2.
    assert_eq!(metrics["band-2-hours"], 23.0);
    assert_eq!(metrics["covered-hours"] + metrics["unknown-hours"], 24.0);
    assert_eq!(metrics["good-share"], 100.0);
}

#[test]
fn a_new_hour_coverage_applies_to_the_hours_already_averaged() {
    let mut host = MemoryHost::default();
    let mut monitor = Monitor::new(config("{}"), &mut host);
    // A reading every 10 minutes fills 6 of an hour's 12 slots: not enough at 75 %.
    let mut t = MIDNIGHT;
    while t < MIDNIGHT + 3 * HOUR {
        if (t - MIDNIGHT).is_multiple_of(10 * MIN) {
            monitor
                .on_reading("pm25", 12.0, "ug/m3", t, &mut host)
                .unwrap();
        }
        monitor.tick(t, &mut host).unwrap();
        t += MIN;
    }
    assert!(host.stream("aqi").is_empty());
    monitor.set_config(config(r#"{"min-hour-coverage":0.5}"#), &mut host);
    monitor.tick(MIDNIGHT + 3 * HOUR, &mut host).unwrap();
    let aqi = host.stream("aqi");
    assert_eq!(aqi.len(), 1);
    assert_eq!(aqi[0].1["aqi"], 20.0);
}
