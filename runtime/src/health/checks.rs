//! The rules: what the pole observed becomes findings, each amber or red.
//!
//! Red means a function the pole owes its street is lost (a lamp that is dark, a camera
//! that sees nothing, an alarm output that refuses, a plugin that is off, a box about to
//! throttle or out of disk); amber means degraded or about to be (a silent or implausible
//! sensor, derated inference, a plugin that restarts, the street lit at the fail-safe
//! level, the uplink down for long).

use std::collections::BTreeMap;

use super::config::HealthConfig;
use super::system::SystemFacts;
use super::thermal::Derating;
use super::Status;
use crate::alarm::{OutputTest, TestOutcome};
use crate::devices::lamps::LampStatus;

/// A sensor as the board last saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorState {
    /// Sensor name.
    pub name: String,
    /// Its latest value, if any.
    pub value: Option<f64>,
    /// Unit of the value.
    pub unit: String,
    /// Why it is faulty or silent, if it is.
    pub problem: Option<String>,
}

/// A camera's last reported state.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraState {
    /// Camera name.
    pub name: String,
    /// Whether it does its job.
    pub healthy: bool,
    /// State name (`ok`, `offline`, `blind`, …).
    pub state: String,
    /// Why, for the technician.
    pub detail: String,
}

/// A plugin's lifecycle state and counters.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginState {
    /// Plugin id.
    pub id: String,
    /// `running`, `backoff`, `disabled` or `failed`.
    pub state: &'static str,
    /// Why it is not running, if it is not.
    pub reason: Option<String>,
    /// Restarts so far.
    pub restarts: u64,
    /// Calls its CPU deadline cut off so far.
    pub deadline_hits: u64,
}

/// Everything the checks look at, gathered by the runtime at one moment.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    /// Pole time, ms.
    pub now_ms: u64,
    /// Every sensor.
    pub sensors: Vec<SensorState>,
    /// Every lamp.
    pub lamps: Vec<LampStatus>,
    /// Every camera that runs.
    pub cameras: Vec<CameraState>,
    /// Every plugin.
    pub plugins: Vec<PluginState>,
    /// Disk and memory.
    pub system: SystemFacts,
    /// Since when the uplink has been down, if it is.
    pub uplink_down_since_ms: Option<u64>,
}

/// One finding before it gets its `since`.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// `kind:name` or `kind` (`lamp:lamp-1`, `cpu`).
    pub component: String,
    /// Amber or red.
    pub status: Status,
    /// What is wrong, for people.
    pub message: String,
}

fn problem(component: String, status: Status, message: String) -> Problem {
    Problem {
        component,
        status,
        message,
    }
}

/// Sensors that are faulty, silent or out of their plausible range.
pub fn sensors(sensors: &[SensorState], config: &HealthConfig, out: &mut Vec<Problem>) {
    for sensor in sensors {
        let component = format!("sensor:{}", sensor.name);
        if let Some(why) = &sensor.problem {
            out.push(problem(component, Status::Amber, why.clone()));
        } else if let (Some(value), Some([min, max])) = (sensor.value, config.range(&sensor.name)) {
            if !(min..=max).contains(&value) {
                out.push(problem(
                    component,
                    Status::Amber,
                    format!(
                        "reads {value} {}, outside its plausible range {min}..{max}",
                        sensor.unit
                    ),
                ));
            }
        }
    }
}

/// Lamps whose meter fails, that draw too little for their level, or that the fail-safe
/// holds. `dim_checks` counts each lamp's consecutive low-power checks: one is not
/// enough, since a real meter lags a fade.
pub fn lamps(
    lamps: &[LampStatus],
    config: &HealthConfig,
    dim_checks: &mut BTreeMap<String, u32>,
    out: &mut Vec<Problem>,
) {
    for lamp in lamps {
        let component = format!("lamp:{}", lamp.id);
        let level = f64::from(lamp.level);
        let expected = lamp.rated_watts * level / 100.0;
        let dim = lamp.meter_error.is_none()
            && level >= config.lamp_check_min_level
            && lamp.watts < config.lamp_min_power_ratio * expected;
        let count = dim_checks.entry(lamp.id.clone()).or_default();
        *count = if dim { *count + 1 } else { 0 };
        if let Some(error) = &lamp.meter_error {
            out.push(problem(
                component,
                Status::Red,
                format!("the lamp driver does not answer: {error}"),
            ));
        } else if *count >= 2 {
            out.push(problem(
                component,
                Status::Red,
                format!(
                    "lamp failure: set to {level:.0} %, it draws {:.1} W where about {expected:.0} W is expected",
                    lamp.watts
                ),
            ));
        } else if lamp.failsafe {
            out.push(problem(
                component,
                Status::Amber,
                "at the fail-safe level: no plugin controls it".into(),
            ));
        }
    }
}

/// Cameras not doing their job.
pub fn cameras(cameras: &[CameraState], out: &mut Vec<Problem>) {
    for camera in cameras.iter().filter(|c| !c.healthy) {
        out.push(problem(
            format!("camera:{}", camera.name),
            Status::Red,
            format!("{}: {}", camera.state, camera.detail),
        ));
    }
}

/// Outputs whose last self-test failed.
pub fn outputs(tests: &[OutputTest], out: &mut Vec<Problem>) {
    for test in tests {
        if let TestOutcome::Failed(why) = &test.outcome {
            out.push(problem(
                format!("output:{}", test.output),
                Status::Red,
                format!("self-test failed: {why}"),
            ));
        }
    }
}

/// Plugins that are off, waiting to restart, or restarted recently. `seen` keeps each
/// plugin's counters and when they last rose.
pub fn plugins(
    plugins: &[PluginState],
    config: &HealthConfig,
    now_ms: u64,
    seen: &mut BTreeMap<String, (u64, u64)>,
    out: &mut Vec<Problem>,
) {
    seen.retain(|id, _| plugins.iter().any(|p| &p.id == id));
    for plugin in plugins {
        let component = format!("plugin:{}", plugin.id);
        let troubles = plugin.restarts + plugin.deadline_hits;
        let (count, rose_ms) = seen.entry(plugin.id.clone()).or_insert((troubles, 0));
        if troubles > *count {
            *rose_ms = now_ms;
        }
        *count = troubles;
        let reason = plugin.reason.clone().unwrap_or_default();
        match plugin.state {
            "disabled" | "failed" => out.push(problem(
                component,
                Status::Red,
                format!("{}: {reason}", plugin.state),
            )),
            "backoff" => out.push(problem(
                component,
                Status::Amber,
                format!("restarting after a crash: {reason}"),
            )),
            _ if *rose_ms > 0
                && now_ms.saturating_sub(*rose_ms) < config.plugin_restart_window_s * 1000 =>
            {
                out.push(problem(
                    component,
                    Status::Amber,
                    format!(
                        "{} restarts and {} deadline hits since the pole started; the last within {} min",
                        plugin.restarts,
                        plugin.deadline_hits,
                        config.plugin_restart_window_s / 60
                    ),
                ))
            }
            _ => {}
        }
    }
}

/// The box: its temperature (and the derating it caused), disk and memory.
pub fn system(
    cpu_celsius: Option<f64>,
    derating: Derating,
    facts: &SystemFacts,
    config: &HealthConfig,
    out: &mut Vec<Problem>,
) {
    if let Some(celsius) = cpu_celsius {
        let duty = derating.duty(config) * 100.0;
        let status = match derating {
            Derating::None => None,
            Derating::Derated => Some(Status::Amber),
            Derating::Critical => Some(Status::Red),
        };
        if let Some(status) = status {
            out.push(problem(
                "cpu".into(),
                status,
                format!("SoC at {celsius:.1} °C: inference derated to {duty:.0} % of the time"),
            ));
        }
    }
    let levels = [
        (
            "disk",
            facts.disk_free_percent,
            config.disk_warn_free_percent,
            config.disk_critical_free_percent,
            "free on the data disk",
        ),
        (
            "memory",
            facts.memory_available_percent,
            config.memory_warn_available_percent,
            config.memory_critical_available_percent,
            "of memory available",
        ),
    ];
    for (component, value, warn, critical, what) in levels {
        let Some(value) = value else { continue };
        let status = if value < critical {
            Status::Red
        } else if value < warn {
            Status::Amber
        } else {
            continue;
        };
        out.push(problem(
            component.into(),
            status,
            format!("{value:.1} % {what}"),
        ));
    }
}

/// The uplink, down for longer than `uplink-offline-warn-s`.
pub fn uplink(
    down_since_ms: Option<u64>,
    now_ms: u64,
    config: &HealthConfig,
    out: &mut Vec<Problem>,
) {
    if let Some(since) = down_since_ms {
        let down_s = now_ms.saturating_sub(since) / 1000;
        if down_s >= config.uplink_offline_warn_s {
            out.push(problem(
                "uplink".into(),
                Status::Amber,
                format!(
                    "no broker for {} min; records wait in the outbox",
                    down_s / 60
                ),
            ));
        }
    }
}
