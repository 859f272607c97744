//! Events the host itself publishes about the pole's health: lighting fail-safe, sensor
//! health and plugin lifecycle. Operators see a dead lamp controller, sensor or plugin
//! the same day, not at the next site visit.

use serde_json::json;

use crate::devices::lamps::FailsafeChange;
use crate::devices::sensors::SensorHealthChange;
use crate::uplink::{Event, EventState, Severity, Source, Uplink};

/// Reports lamps entering or leaving the fail-safe level.
pub fn failsafe(uplink: &Uplink, changes: &[FailsafeChange], safe_level: f32, now_ms: u64) {
    for change in changes {
        uplink.event(
            &Source::host(),
            &Event {
                kind: "lighting-failsafe",
                state: if change.engaged {
                    EventState::Raised
                } else {
                    EventState::Cleared
                },
                severity: if change.engaged {
                    Severity::Warning
                } else {
                    Severity::Info
                },
                message: &change.reason,
                details: json!({ "lamp": change.lamp, "safe-level": safe_level }),
            },
            now_ms,
        );
    }
}

/// Reports sensors becoming faulty or silent, and recovering.
pub fn sensor_health(uplink: &Uplink, changes: &[SensorHealthChange], now_ms: u64) {
    for change in changes {
        let message = change
            .problem
            .clone()
            .unwrap_or_else(|| format!("sensor `{}` recovered", change.sensor));
        uplink.event(
            &Source::host(),
            &Event {
                kind: "sensor-health",
                state: if change.problem.is_some() {
                    EventState::Raised
                } else {
                    EventState::Cleared
                },
                severity: Severity::Warning,
                message: &message,
                details: json!({ "sensor": change.sensor }),
            },
            now_ms,
        );
    }
}

/// Reports a plugin lifecycle change (crash, restart, disable, config rejection, ...).
pub fn plugin_state(
    uplink: &Uplink,
    plugin: &str,
    state: &str,
    severity: Severity,
    message: &str,
    now_ms: u64,
) {
    let event_state = match severity {
        Severity::Info => EventState::Info,
        _ => EventState::Raised,
    };
    uplink.event(
        &Source::host(),
        &Event {
            kind: "plugin-state",
            state: event_state,
            severity,
            message,
            details: json!({ "plugin": plugin, "state": state }),
        },
        now_ms,
    );
}
