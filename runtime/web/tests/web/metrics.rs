//! `/metrics`.

use std::collections::HashMap;

use axum::http::{header, StatusCode};
use sao_web::*;

use crate::fake::*;

/// `name{labels}` → value, for every sample line.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (key, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad line {line:?}"));
            (
                key.to_owned(),
                value
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value in {line:?}")),
            )
        })
        .collect()
}

#[tokio::test]
async fn metrics_carry_the_pole_numbers_with_their_labels() {
    let app = router(FakePole::new(), &WebConfig::default());
    let answer = get(&app, "/metrics").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.header(header::CONTENT_TYPE),
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = answer.text();
    assert!(text.ends_with("# EOF\n"), "{text}");
    let samples = samples(&text);
    let expect = [
        (r#"sao_plugin_calls_total{plugin="dimming"}"#, 42.0),
        (r#"sao_plugin_calls_total{plugin="elephant"}"#, 7.0),
        (r#"sao_plugin_errors_total{plugin="dimming"}"#, 1.0),
        (r#"sao_plugin_crashes_total{plugin="elephant"}"#, 5.0),
        (r#"sao_plugin_deadline_hits_total{plugin="dimming"}"#, 3.0),
        (r#"sao_plugin_restarts_total{plugin="elephant"}"#, 4.0),
        (r#"sao_plugin_memory_bytes{plugin="dimming"}"#, 1_048_576.0),
        (r#"sao_plugin_running{plugin="dimming"}"#, 1.0),
        (r#"sao_plugin_running{plugin="elephant"}"#, 0.0),
        ("sao_outbox_depth", 17.0),
        ("sao_outbox_evicted_total", 3.0),
        (r#"sao_camera_fps{camera="forest-edge"}"#, 12.5),
        (r#"sao_camera_frames_total{camera="forest-edge"}"#, 9000.0),
        (
            r#"sao_camera_inferences_total{camera="forest-edge"}"#,
            4000.0,
        ),
        (
            r#"sao_camera_inference_failures_total{camera="forest-edge"}"#,
            2.0,
        ),
        (r#"sao_inference_latency_ms{camera="forest-edge"}"#, 38.25),
        ("sao_health_status", 1.0),
        ("sao_uplink_connected", 0.0),
        (r#"sao_lamp_level_percent{lamp="lamp-1"}"#, 60.0),
        (r#"sao_lamp_power_watts{lamp="lamp-1"}"#, 72.5),
        (r#"sao_lamp_energy_kwh_total{lamp="lamp-1"}"#, 12.5),
        ("sao_alarms_active", 1.0),
        (r#"sao_sensor_value{sensor="pm25",unit="ug/m3"}"#, 35.2),
        (r#"sao_sensor_value{sensor="lux",unit="lx"}"#, 3.5),
    ];
    for (key, value) in expect {
        assert_eq!(samples.get(key), Some(&value), "{key} in\n{text}");
    }
    assert!(text.contains("# TYPE sao_plugin_calls counter"), "{text}");
    assert!(text.contains("# TYPE sao_camera_fps gauge"), "{text}");
}

#[tokio::test]
async fn health_status_follows_the_snapshot() {
    let pole = FakePole::new();
    let app = router(pole.clone(), &WebConfig::default());
    for (status, value) in [(HealthStatus::Green, 0.0), (HealthStatus::Red, 2.0)] {
        pole.snapshot.lock().unwrap().health.status = status;
        let samples = samples(&get(&app, "/metrics").await.text());
        assert_eq!(samples["sao_health_status"], value, "{status:?}");
    }
}
