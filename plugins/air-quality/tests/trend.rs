//! Trend projection and the forecast / exceeded alerts.

use sao_plugin_air_quality::averaging::HOUR_MS;
use sao_plugin_air_quality::trend::{
    project, ForecastEnd, Projection, Transition, TrendAlert, TrendConfig,
};

const T0: i64 = 1_786_406_400_000;

/// Feeds an hourly AQI series through projection (last `window` points) and the alert;
/// returns every transition with the hour it happened in.
fn run(alert: &mut TrendAlert, series: &[f64], window: usize) -> Vec<(usize, Transition)> {
    let horizon = alert.config().horizon_ms;
    let mut points = Vec::new();
    let mut out = Vec::new();
    for (hour, &aqi) in series.iter().enumerate() {
        let now = T0 + hour as i64 * HOUR_MS;
        points.push((now, aqi));
        let recent = &points[points.len().saturating_sub(window)..];
        for t in alert.update(now, aqi, project(recent, horizon)) {
            out.push((hour, t));
        }
    }
    out
}

#[test]
fn projection_of_a_straight_line_is_exact() {
    // 50 AQI rising 5 per hour, points given out of order.
    let points = [
        (T0 + 2 * HOUR_MS, 60.0),
        (T0, 50.0),
        (T0 + HOUR_MS, 55.0),
        (T0 + 3 * HOUR_MS, 65.0),
    ];
    let p = project(&points, 3 * HOUR_MS).expect("a projection");
    assert!((p.slope_per_hour - 5.0).abs() < 1e-9);
    assert!((p.projected - 80.0).abs() < 1e-9);
}

#[test]
fn projection_is_least_squares_through_noise() {
    // y = 2t + 1 at t = 0, 1, 2, 3 with residuals +1, −1, −1, +1: the fit stays exact.
    let points: Vec<(i64, f64)> = [2.0, 2.0, 4.0, 8.0]
        .iter()
        .enumerate()
        .map(|(t, &y)| (T0 + t as i64 * HOUR_MS, y))
        .collect();
    let p = project(&points, HOUR_MS).unwrap();
    assert!((p.slope_per_hour - 2.0).abs() < 1e-9);
    assert!((p.projected - 9.0).abs() < 1e-9);
}

#[test]
fn projection_needs_three_points_spread_in_time() {
    assert_eq!(project(&[], HOUR_MS), None);
    assert_eq!(project(&[(T0, 1.0), (T0 + HOUR_MS, 2.0)], HOUR_MS), None);
    assert_eq!(project(&[(T0, 1.0), (T0, 2.0), (T0, 3.0)], HOUR_MS), None);
    let with_nan = [(T0, 1.0), (T0 + HOUR_MS, f64::NAN), (T0 + 2 * HOUR_MS, 3.0)];
    assert_eq!(project(&with_nan, HOUR_MS), None, "only two usable points");
}

#[test]
fn rising_series_raises_the_forecast_before_the_crossing() {
    let mut alert = TrendAlert::new(TrendConfig::default());
    // +6 per hour from 60: crosses 100 at hour 7 (102).
    let series: Vec<f64> = (0..10).map(|h| 60.0 + 6.0 * h as f64).collect();
    let transitions = run(&mut alert, &series, 6);
    let forecast_hour = transitions
        .iter()
        .find(|(_, t)| matches!(t, Transition::ForecastRaised { .. }))
        .map(|&(h, _)| h)
        .expect("a forecast");
    let exceeded_hour = transitions
        .iter()
        .find(|(_, t)| matches!(t, Transition::ExceededRaised { .. }))
        .map(|&(h, _)| h)
        .expect("an exceedance");
    assert_eq!(exceeded_hour, 7);
    // At hour 2 (the first with three points) the AQI is 72 and 6 h ahead the line
    // reaches 108.
    assert_eq!(forecast_hour, 2);
    // On the crossing the forecast hands over to the exceeded alert.
    assert!(transitions.contains(&(
        7,
        Transition::ForecastCleared {
            at_ms: T0 + 7 * HOUR_MS,
            reason: ForecastEnd::Exceeded
        }
    )));
    assert_eq!(alert.exceeded_since_ms(), Some(T0 + 7 * HOUR_MS));
    assert_eq!(alert.forecast_since_ms(), None);
}

#[test]
fn flat_series_never_raises_anything() {
    for level in [20.0, 60.0, 99.0] {
        let mut alert = TrendAlert::new(TrendConfig::default());
        assert!(
            run(&mut alert, &vec![level; 48], 6).is_empty(),
            "flat at {level}"
        );
    }
}

#[test]
fn oscillating_around_the_level_does_not_flap() {
    let mut alert = TrendAlert::new(TrendConfig::default());
    let series: Vec<f64> = (0..48)
        .map(|h| if h % 2 == 0 { 95.0 } else { 105.0 })
        .collect();
    let transitions = run(&mut alert, &series, 6);
    assert_eq!(transitions.len(), 1, "{transitions:?}");
    assert!(matches!(
        transitions[0],
        (1, Transition::ExceededRaised { .. })
    ));

    // A projection hovering around the level raises the forecast once and keeps it.
    let mut alert = TrendAlert::new(TrendConfig::default());
    let mut raised = 0;
    for hour in 0..48 {
        let projected = if hour % 2 == 0 { 98.0 } else { 102.0 };
        let p = Projection {
            slope_per_hour: 1.0,
            projected,
        };
        for t in alert.update(T0 + hour * HOUR_MS, 80.0, Some(p)) {
            assert!(matches!(t, Transition::ForecastRaised { .. }), "{t:?}");
            raised += 1;
        }
    }
    assert_eq!(raised, 1);
}

#[test]
fn alerts_clear_only_below_level_minus_hysteresis() {
    let mut alert = TrendAlert::new(TrendConfig::default());
    let at = |h: i64| T0 + h * HOUR_MS;
    assert!(matches!(
        alert.update(at(0), 120.0, None)[..],
        [Transition::ExceededRaised { .. }]
    ));
    assert!(alert.update(at(1), 95.0, None).is_empty());
    assert!(
        alert.update(at(2), 90.0, None).is_empty(),
        "90 is not below 100 − 10"
    );
    assert_eq!(
        alert.update(at(3), 89.0, None),
        [Transition::ExceededCleared {
            at_ms: at(3),
            current: 89.0
        }]
    );

    let rising = Projection {
        slope_per_hour: 4.0,
        projected: 101.0,
    };
    assert!(matches!(
        alert.update(at(4), 89.0, Some(rising))[..],
        [Transition::ForecastRaised { .. }]
    ));
    // Without a projection the forecast stays; at 90 it still stays.
    assert!(alert.update(at(5), 85.0, None).is_empty());
    let easing = Projection {
        slope_per_hour: 0.5,
        projected: 90.0,
    };
    assert!(alert.update(at(6), 85.0, Some(easing)).is_empty());
    let falling = Projection {
        slope_per_hour: -2.0,
        projected: 80.0,
    };
    assert_eq!(
        alert.update(at(7), 85.0, Some(falling)),
        [Transition::ForecastCleared {
            at_ms: at(7),
            reason: ForecastEnd::Receded
        }]
    );
}

#[test]
fn forecast_needs_a_slope_steeper_than_the_minimum() {
    let config = TrendConfig {
        min_slope_per_hour: 2.0,
        ..TrendConfig::default()
    };
    let mut alert = TrendAlert::new(config);
    let gentle = Projection {
        slope_per_hour: 1.5,
        projected: 101.0,
    };
    assert!(alert.update(T0, 97.0, Some(gentle)).is_empty());
    let steep = Projection {
        slope_per_hour: 2.5,
        projected: 104.0,
    };
    assert_eq!(alert.update(T0 + HOUR_MS, 97.0, Some(steep)).len(), 1);
    assert!(
        alert.update(T0 + 2 * HOUR_MS, f64::NAN, None).is_empty(),
        "NaN ignored"
    );
}

#[test]
fn state_survives_a_serde_round_trip() {
    let mut alert = TrendAlert::new(TrendConfig {
        level: 150.0,
        ..TrendConfig::default()
    });
    let series: Vec<f64> = (0..6).map(|h| 120.0 + 5.0 * h as f64).collect();
    let before = run(&mut alert, &series, 6);
    assert!(before
        .iter()
        .any(|(_, t)| matches!(t, Transition::ForecastRaised { .. })));

    let json = serde_json::to_string(&alert).unwrap();
    let mut restored: TrendAlert = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, alert);
    // Both continue identically: the restored one does not raise the forecast again.
    let next = Projection {
        slope_per_hour: 5.0,
        projected: 160.0,
    };
    let now = T0 + 6 * HOUR_MS;
    assert_eq!(
        restored.update(now, 149.0, Some(next)),
        alert.update(now, 149.0, Some(next))
    );
    assert_eq!(restored.update(now + HOUR_MS, 151.0, None).len(), 2);

    // Config defaults fill in what a stored config leaves out.
    let config: TrendConfig = serde_json::from_str(r#"{"level": 80}"#).unwrap();
    assert_eq!(
        config,
        TrendConfig {
            level: 80.0,
            ..TrendConfig::default()
        }
    );
    let event = serde_json::to_value(Transition::ExceededRaised {
        at_ms: 1,
        current: 2.0,
    })
    .unwrap();
    assert_eq!(event["kind"], "exceeded-raised");
}
