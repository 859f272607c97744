//! Events the host itself publishes about the pole's health: lighting fail-safe, sensor
//! health and plugin lifecycle. Operators see a dead lamp controller, sensor or plugin
//! the same day, not at the next site visit. A report that cannot be queued is logged by
//! the uplink and the pole carries on, so the results are deliberately not propagated.

use serde_json::json;

use crate::devices::lamps::FailsafeChange;
use crate::devices::sensors::SensorHealthChange;
use crate::uplink::{Event, EventState, Metric, Severity, Source, Uplink};

/// Reports lamps entering or leaving the fail-safe level.
pub fn failsafe(uplink: &Uplink, changes: &[FailsafeChange], safe_level: f32, now_ms: u64) {
    for change in changes {
        let _ = uplink.event(
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
        let _ = uplink.event(
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
    let _ = uplink.event(
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

/// Reports a plugin exceeding its upstream quota (once per minute it happens in).
pub fn plugin_throttled(uplink: &Uplink, plugin: &str, per_minute: u32, now_ms: u64) {
    let _ = uplink.event(
        &Source::host(),
        &Event {
            kind: "plugin-throttled",
            state: EventState::Info,
            severity: Severity::Warning,
            message: &format!(
                "plugin `{plugin}` sent more than {per_minute} records this minute; the rest of the minute's records are refused"
            ),
            details: json!({ "plugin": plugin, "per-minute": per_minute }),
        },
        now_ms,
    );
}

/// Publishes the outbox's state: what waits, and what was lost to the disk cap or TTL.
pub fn outbox(uplink: &Uplink, now_ms: u64) {
    let stats = uplink.outbox().stats();
    let count = |name: &str, value: u64| Metric {
        name: name.into(),
        value: value as f64,
        unit: "1".into(),
    };
    let [alarms, events, telemetry] = stats.pending;
    let c = stats.counters;
    let mut metrics = vec![
        count("pending-alarms", alarms.records),
        count("pending-events", events.records),
        count("pending-telemetry", telemetry.records),
        Metric {
            name: "queued-bytes".into(),
            value: stats.pending_bytes() as f64,
            unit: "By".into(),
        },
        count("evicted-events", c.evicted[1]),
        count("evicted-telemetry", c.evicted[2]),
    ];
    for (class, name) in ["alarms", "events", "telemetry"].iter().enumerate() {
        metrics.push(count(&format!("expired-{name}"), c.expired[class]));
    }
    let _ = uplink.telemetry(&Source::host(), "outbox", &metrics, now_ms);
}

/// Reports an action a technician took on the pole's page (`evt/sao/technician`): what,
/// on what, by whom, and the error if it failed.
pub fn technician_action(
    uplink: &Uplink,
    action: &str,
    target: &str,
    by: &str,
    error: Option<&String>,
    now_ms: u64,
) {
    let message = match error {
        None => format!("{by}: {action} {target}"),
        Some(e) => format!("{by}: {action} {target} failed: {e}"),
    };
    let _ = uplink.event(
        &Source::host(),
        &Event {
            kind: "technician",
            state: EventState::Info,
            severity: if error.is_some() {
                Severity::Warning
            } else {
                Severity::Info
            },
            message: &message,
            details: json!({ "action": action, "target": target, "by": by, "error": error }),
        },
        now_ms,
    );
}

/// Reports a message pushed to a plugin that was refused (`evt/sao/message`): by the host
/// (malformed, not taken) or by the plugin (its `on-message` error), so the sender learns
/// why its bus times are not on the sign.
pub fn message_refused(
    uplink: &Uplink,
    plugin: &str,
    name: &str,
    target: &str,
    reason: &str,
    now_ms: u64,
) {
    let _ = uplink.event(
        &Source::host(),
        &Event {
            kind: "message",
            state: EventState::Info,
            severity: Severity::Warning,
            message: &format!("message `{name}` for plugin `{plugin}` refused: {reason}"),
            details: json!({ "plugin": plugin, "name": name, "target": target, "reason": reason }),
        },
        now_ms,
    );
}
