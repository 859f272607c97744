//! The cost of the pole's health check, against a baseline measured in the same run:
//!
//! 1. one whole check as the main loop runs it every `check-interval-s` (read free disk and
//!    available memory through `sysinfo`, then judge a bus stop's observation: 6 sensors,
//!    a lamp, a camera, 3 plugins, 3 outputs) vs. the judging alone on the same
//!    observation, so the ratio says what reading the box costs;
//! 2. the whole check's share of one core at the default interval (10 s).
//!
//! Run: `cargo bench -p sao-runtime --bench health`

use std::time::{Duration, Instant};

use sao_runtime::alarm::{OutputTest, TestOutcome};
use sao_runtime::devices::lamps::LampStatus;
use sao_runtime::health::system::SystemProbe;
use sao_runtime::health::{
    CameraState, HealthConfig, Monitor, Observation, PluginState, SensorState,
};

/// Checks per timed run.
const CHECKS: u32 = 2_000;
/// Timed runs; the median is reported.
const RUNS: usize = 7;

fn sensor(name: &str, value: f64, unit: &str) -> SensorState {
    SensorState {
        name: name.into(),
        value: Some(value),
        unit: unit.into(),
        problem: None,
    }
}

/// What a bus stop's loop gathers: every device healthy but one silent sensor, so the
/// judging has a finding to keep.
fn bus_stop(now_ms: u64) -> Observation {
    let plugin = |id: &str| PluginState {
        id: id.into(),
        state: "running",
        reason: None,
        restarts: 0,
        deadline_hits: 0,
    };
    Observation {
        now_ms,
        sensors: vec![
            sensor("lux", 12.0, "lx"),
            sensor("motion", 0.0, "1"),
            sensor("pm25", 31.0, "ug/m3"),
            sensor("temperature", 29.5, "Cel"),
            sensor("cpu-temperature", 52.0, "Cel"),
            SensorState {
                problem: Some("silent for 12 min".into()),
                ..sensor("pm10", 40.0, "ug/m3")
            },
        ],
        lamps: vec![LampStatus {
            id: "shelter".into(),
            level: 80.0,
            watts: 32.0,
            total_kwh: 120.0,
            rated_watts: 40.0,
            meter_error: None,
            controller: Some("dimming".into()),
            failsafe: false,
        }],
        cameras: vec![CameraState {
            name: "shelter".into(),
            healthy: true,
            state: "ok".into(),
            detail: "frames arrive".into(),
        }],
        plugins: ["signage", "passengers", "air-quality"]
            .map(plugin)
            .to_vec(),
        system: Default::default(),
        uplink_down_since_ms: None,
    }
}

/// The median over [`RUNS`] of the time per check of `check`.
fn per_check(mut check: impl FnMut(u64)) -> Duration {
    let mut runs: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            for k in 0..CHECKS {
                check(u64::from(k) * 10_000);
            }
            start.elapsed() / CHECKS
        })
        .collect();
    runs.sort();
    runs[RUNS / 2]
}

fn main() {
    let data_dir = std::env::temp_dir();
    let mut probe = SystemProbe::new(&data_dir);
    let config = HealthConfig::default();
    let mut monitor = Monitor::new(config.clone());
    let outputs = ["strobe", "beacon-orange", "beacon-red"].map(|name| OutputTest {
        output: name.into(),
        outcome: TestOutcome::Passed,
    });
    monitor.record_self_test(outputs.to_vec());

    let whole = per_check(|now| {
        let mut observation = bus_stop(now);
        observation.system = probe.read();
        std::hint::black_box(monitor.check(&observation));
    });
    let mut judge_only = Monitor::new(config.clone());
    judge_only.record_self_test(outputs.to_vec());
    let facts = probe.read();
    let judging = per_check(|now| {
        let mut observation = bus_stop(now);
        observation.system = facts;
        std::hint::black_box(judge_only.check(&observation));
    });

    let interval = Duration::from_secs(config.check_interval_s);
    println!("sao health-check benchmark (median of {RUNS} runs of {CHECKS} checks; ratio = first / second)");
    println!(
        "{:<44} {:>10} {:>10.2?} {:>10} {:>10.2?} {:>6} {:>7.1}x",
        "health check: read box + judge",
        "whole",
        whole,
        "judge",
        judging,
        "ratio",
        whole.as_secs_f64() / judging.as_secs_f64()
    );
    println!(
        "{:<44} {:>10} {:>10.2?} {:>10} {:>10.2?} {:>6} {:>8.4}%",
        "share of one core at the check interval",
        "check",
        whole,
        "interval",
        interval,
        "share",
        100.0 * whole.as_secs_f64() / interval.as_secs_f64()
    );
}
