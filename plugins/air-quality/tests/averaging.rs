//! Hourly averages and moving means: completeness, window edges, bounded memory and
//! unruly input.

use sao_plugin_air_quality::averaging::{Added, HourlyAverager, HOUR_MS};

const MINUTE_MS: i64 = 60_000;

/// 2026-08-11 00:00 UTC, an hour boundary.
const T0: i64 = 1_786_406_400_000;

/// Adds one sample per minute throughout hour `hour` (counted from `T0`) with `value`.
fn fill_hour(averager: &mut HourlyAverager, hour: i64, value: f64) {
    for minute in 0..60 {
        let ts = T0 + hour * HOUR_MS + minute * MINUTE_MS;
        assert_eq!(averager.add(ts, value), Added::Accepted);
    }
}

#[test]
fn hourly_average_is_the_mean_of_the_hours_samples() {
    let mut averager = HourlyAverager::new(24, 0.75);
    for (minute, value) in [(0, 10.0), (20, 20.0), (40, 60.0)] {
        averager.add(T0 + minute * MINUTE_MS, value);
    }
    let hour = averager.hour(T0 + 59 * MINUTE_MS).expect("an average");
    assert_eq!(hour.start_ms, T0);
    assert_eq!(hour.samples, 3);
    assert!((hour.mean - 30.0).abs() < 1e-12);
    assert!((hour.coverage - 3.0 / 12.0).abs() < 1e-12);
    assert_eq!(averager.hour(T0 + HOUR_MS), None);
}

#[test]
fn an_hour_counts_only_with_enough_coverage() {
    let mut averager = HourlyAverager::new(24, 0.75);
    // Samples every 5 minutes for the first 40 minutes fill 8 of 12 slots (67 %).
    for minute in (0..40).step_by(5) {
        averager.add(T0 + minute * MINUTE_MS, 10.0);
    }
    assert!(!averager.hour_complete(T0));
    // Filling a 9th slot reaches 75 %.
    averager.add(T0 + 44 * MINUTE_MS, 10.0);
    assert!(averager.hour_complete(T0));
    // Many samples inside one slot do not make coverage.
    let mut dense = HourlyAverager::new(24, 0.75);
    for second in 0..240 {
        dense.add(T0 + second * 1_000, 10.0);
    }
    assert!(!dense.hour_complete(T0));
}

#[test]
fn moving_mean_needs_the_required_share_of_complete_hours() {
    let mut averager = HourlyAverager::new(24, 0.75);
    // 17 complete hours of the 24 before hour 24: one short of 75 %.
    for hour in 0..17 {
        fill_hour(&mut averager, hour, 10.0 + hour as f64);
    }
    let now = T0 + 24 * HOUR_MS;
    assert_eq!(averager.mean(now, 24, 0.75), None);
    fill_hour(&mut averager, 20, 40.0);
    let mean = averager.mean(now, 24, 0.75).expect("18 of 24 hours");
    let expected = ((10..27).sum::<i32>() as f64 + 40.0) / 18.0;
    assert!((mean - expected).abs() < 1e-9, "{mean} vs {expected}");
    // The required share is configurable.
    assert!(averager.mean(now, 24, 0.9).is_none());
    assert!(averager.mean(now, 24, 0.0).is_some());
    // No data at all is never a mean, whatever the share asked.
    assert_eq!(HourlyAverager::new(24, 0.75).mean(now, 24, 0.0), None);
}

#[test]
fn window_is_the_whole_hours_before_the_current_one() {
    let mut averager = HourlyAverager::new(8, 0.75);
    fill_hour(&mut averager, 0, 10.0); // 00:00–00:59
    fill_hour(&mut averager, 1, 20.0); // 01:00–01:59
    fill_hour(&mut averager, 2, 90.0); // 02:00–02:59, the current hour below
                                       // At 02:00 sharp and at 02:30 the one-hour window is 01:00–01:59.
    for now in [T0 + 2 * HOUR_MS, T0 + 2 * HOUR_MS + 30 * MINUTE_MS] {
        assert_eq!(averager.mean(now, 1, 1.0), Some(20.0));
        assert_eq!(averager.mean(now, 2, 1.0), Some(15.0));
    }
    // One millisecond before 02:00 the current hour is 01:00, so the window is 00:00.
    assert_eq!(averager.mean(T0 + 2 * HOUR_MS - 1, 1, 1.0), Some(10.0));
    // Hours before the kept span or without data count as missing.
    assert_eq!(averager.mean(T0 + 2 * HOUR_MS, 3, 1.0), None);
    assert_eq!(averager.mean(T0 + 2 * HOUR_MS, 3, 0.5), Some(15.0));
}

#[test]
fn memory_is_bounded_by_the_hours_kept() {
    let mut averager = HourlyAverager::new(24, 0.75);
    for hour in 0..100 {
        fill_hour(&mut averager, hour, 5.0);
        assert!(averager.kept_hours() <= 24);
    }
    assert_eq!(averager.kept_hours(), 24);
    // Hour 76 is the oldest kept; hour 75 is gone and no longer takes samples.
    assert!(averager.hour(T0 + 76 * HOUR_MS).is_some());
    assert_eq!(averager.hour(T0 + 75 * HOUR_MS), None);
    assert_eq!(
        averager.add(T0 + 75 * HOUR_MS + 30 * MINUTE_MS, 5.0),
        Added::Expired
    );
    let json = serde_json::to_string(&averager).unwrap();
    assert!(
        json.len() < 4_000,
        "persisted state stays small: {} bytes",
        json.len()
    );
}

#[test]
fn duplicates_out_of_order_and_invalid_samples_are_handled() {
    let mut averager = HourlyAverager::new(24, 0.0);
    let ts = T0 + HOUR_MS + 10 * MINUTE_MS;
    assert_eq!(averager.add(ts, 10.0), Added::Accepted);
    assert_eq!(
        averager.add(ts, 10.0),
        Added::Stale,
        "redelivered duplicate"
    );
    assert_eq!(
        averager.add(ts - MINUTE_MS, 99.0),
        Added::Stale,
        "overtaken in its hour"
    );
    assert_eq!(averager.add(ts + MINUTE_MS, 20.0), Added::Accepted);
    // A late sample of the previous hour, still kept, is taken.
    assert_eq!(averager.add(T0 + 50 * MINUTE_MS, 7.0), Added::Accepted);
    for bad in [f64::NAN, f64::INFINITY, -0.5] {
        assert_eq!(averager.add(ts + 2 * MINUTE_MS, bad), Added::Invalid);
    }
    // Times before 1970 are hours like any other.
    assert_eq!(averager.add(-1, 3.0), Added::Expired);
    let hour = averager.hour(ts).expect("an average");
    assert_eq!(hour.samples, 2);
    assert!((hour.mean - 15.0).abs() < 1e-12);
    assert_eq!(averager.hour(T0).map(|h| h.samples), Some(1));
}

#[test]
fn state_survives_a_serde_round_trip() {
    let mut averager = HourlyAverager::new(24, 0.75);
    for hour in 0..30 {
        fill_hour(&mut averager, hour, hour as f64);
    }
    let json = serde_json::to_string(&averager).unwrap();
    let mut restored: HourlyAverager = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, averager);
    let now = T0 + 30 * HOUR_MS;
    assert_eq!(restored.mean(now, 24, 0.75), averager.mean(now, 24, 0.75));
    // The restored state still refuses what the original would.
    let last = T0 + 29 * HOUR_MS + 59 * MINUTE_MS;
    assert_eq!(restored.add(last, 1.0), Added::Stale);
}
