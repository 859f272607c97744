//! Time-in-band per local day: midnight split, coverage, gaps and persistence.

use chrono::NaiveDate;
use sao_plugin_air_quality::aqi::Standard;
use sao_plugin_air_quality::kpi::{DayReport, KpiConfig, KpiTracker};

const HOUR_MS: i64 = 3_600_000;
const MINUTE_MS: i64 = 60_000;

/// Unix ms of a Bangkok (+07:00) local time on August 2026.
fn bangkok(day: u32, hour: u32, minute: u32) -> i64 {
    NaiveDate::from_ymd_opt(2026, 8, day)
        .and_then(|d| d.and_hms_opt(hour, minute, 0))
        .expect("valid local time")
        .and_utc()
        .timestamp_millis()
        - 7 * HOUR_MS
}

fn tracker() -> KpiTracker {
    KpiTracker::new(KpiConfig::default())
}

fn assert_close(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() < 1e-9,
        "{what}: {actual} vs {expected}"
    );
}

/// The report's bands add up to its covered hours, and covered plus unknown make a day.
fn assert_consistent(report: &DayReport) {
    let sum: f64 = report.hours_per_band.iter().sum();
    assert_close(sum, report.hours_total, "bands sum to the covered hours");
    assert_close(
        report.hours_total + report.hours_unknown,
        24.0,
        "a day has 24 hours",
    );
}

#[test]
fn a_full_day_of_hourly_values_is_fully_covered() {
    let mut kpi = tracker();
    let mut reports = Vec::new();
    // 00:00 … 23:00 on the 11th, then 00:00 on the 12th closes the day.
    for hour in 0..24 {
        let aqi = if hour < 18 { 20 } else { 60 }; // very good, then moderate
        reports.extend(kpi.record(bangkok(11, hour, 0), aqi));
    }
    assert!(reports.is_empty(), "the day is not over yet");
    reports.extend(kpi.record(bangkok(12, 0, 0), 20));
    assert_eq!(reports.len(), 1);
    let day = &reports[0];
    assert_eq!(day.date, "2026-08-11");
    assert_eq!(day.hours_per_band.len(), 5);
    assert_close(day.hours_per_band[0], 18.0, "very good");
    assert_close(day.hours_per_band[2], 6.0, "moderate");
    assert_close(day.hours_total, 24.0, "covered");
    assert_close(day.hours_unknown, 0.0, "unknown");
    assert_consistent(day);
    assert_close(day.share_up_to(1).unwrap(), 0.75, "good or better");
}

#[test]
fn a_value_spanning_local_midnight_is_split_at_bangkok_midnight() {
    let mut kpi = tracker();
    assert!(kpi.record(bangkok(11, 23, 0), 30).is_empty()); // good
                                                            // 23:00 → 00:30: 1 h to the 11th, 0.5 h to the 12th. Local midnight is 17:00 UTC.
    let reports = kpi.record(bangkok(12, 0, 30), 120);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].date, "2026-08-11");
    assert_close(reports[0].hours_per_band[1], 1.0, "good until midnight");
    assert_close(reports[0].hours_unknown, 23.0, "nothing before 23:00");
    assert_consistent(&reports[0]);
    let today = kpi.today().expect("the 12th is open");
    assert_eq!(today.date, "2026-08-12");
    assert_close(today.hours_per_band[1], 0.5, "good after midnight");
    assert_close(today.hours_total, 0.5, "covered so far");
}

#[test]
fn utc_and_local_days_differ() {
    // 06:00 local on the 12th is 23:00 UTC on the 11th: it belongs to the 12th here.
    let mut kpi = tracker();
    kpi.record(bangkok(12, 6, 0), 10);
    kpi.record(bangkok(12, 7, 0), 10);
    assert_eq!(kpi.today().unwrap().date, "2026-08-12");
    let mut utc = KpiTracker::new(KpiConfig {
        utc_offset_minutes: 0,
        ..KpiConfig::default()
    });
    utc.record(bangkok(12, 6, 0), 10);
    assert_eq!(utc.today().unwrap().date, "2026-08-11");
}

#[test]
fn gaps_longer_than_the_limit_are_unknown() {
    let mut kpi = tracker(); // limit 2 h
    kpi.record(bangkok(11, 0, 0), 20);
    kpi.record(bangkok(11, 2, 0), 20); // a 2 h gap is still bridged
    for hour in 5..24 {
        kpi.record(bangkok(11, hour, 0), 80); // from 02:00 to 05:00 is 3 h: unknown
    }
    let day = &kpi.record(bangkok(12, 0, 0), 80)[0];
    assert_close(day.hours_per_band[0], 2.0, "bridged gap");
    assert_close(day.hours_per_band[2], 19.0, "05:00 to midnight");
    assert_close(day.hours_unknown, 3.0, "the long gap");
    assert_consistent(day);
}

#[test]
fn advance_closes_days_when_values_stop() {
    let mut kpi = tracker();
    kpi.record(bangkok(11, 20, 0), 20);
    kpi.record(bangkok(11, 21, 0), 20);
    // Within the limit the time after the last value is still undecided.
    assert!(kpi.advance(bangkok(11, 22, 30)).is_empty());
    // Beyond it the time is unknown, and the 11th and 12th close.
    let reports = kpi.advance(bangkok(13, 1, 0));
    let dates: Vec<&str> = reports.iter().map(|r| r.date.as_str()).collect();
    assert_eq!(dates, ["2026-08-11", "2026-08-12"]);
    assert_close(reports[0].hours_total, 1.0, "20:00–21:00");
    assert_close(reports[1].hours_total, 0.0, "no data on the 12th");
    assert_eq!(reports[1].share_up_to(1), None);
    reports.iter().for_each(assert_consistent);
    // A value inside the written-off time is ignored; a later one continues.
    assert!(kpi.record(bangkok(13, 0, 0), 20).is_empty());
    kpi.record(bangkok(13, 2, 0), 20);
    kpi.record(bangkok(13, 3, 0), 20);
    assert_close(kpi.today().unwrap().hours_total, 1.0, "02:00–03:00");
}

#[test]
fn out_of_order_and_duplicate_values_are_ignored() {
    let mut kpi = tracker();
    kpi.record(bangkok(11, 10, 0), 20);
    kpi.record(bangkok(11, 11, 0), 60);
    assert!(kpi.record(bangkok(11, 11, 0), 200).is_empty());
    assert!(kpi.record(bangkok(11, 10, 30), 200).is_empty());
    kpi.record(bangkok(11, 12, 0), 60);
    let today = kpi.today().unwrap();
    assert_close(today.hours_per_band[0], 1.0, "very good 10–11");
    assert_close(today.hours_per_band[2], 1.0, "moderate 11–12");
    assert_close(today.hours_per_band[3], 0.0, "the stale 200 never counted");
}

#[test]
fn epa_reports_have_six_bands() {
    let config = KpiConfig {
        standard: Standard::UsEpa2024,
        ..KpiConfig::default()
    };
    let mut kpi = KpiTracker::new(config);
    kpi.record(bangkok(11, 23, 0), 350);
    let day = &kpi.record(bangkok(11, 23, 0) + 90 * MINUTE_MS, 10)[0];
    assert_eq!(day.hours_per_band.len(), 6);
    assert_close(day.hours_per_band[5], 1.0, "hazardous until midnight");
}

#[test]
fn state_survives_a_serde_round_trip() {
    let mut kpi = tracker();
    for hour in 0..12 {
        kpi.record(bangkok(11, hour, 0), 30 + hour * 10);
    }
    let json = serde_json::to_string(&kpi).unwrap();
    let mut restored: KpiTracker = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, kpi);
    let next = bangkok(12, 0, 0);
    assert_eq!(restored.record(next, 40), kpi.record(next, 40));
    let config: KpiConfig = serde_json::from_str(r#"{"standard": "us-epa-2024"}"#).unwrap();
    assert_eq!(config.utc_offset_minutes, 420);
}
