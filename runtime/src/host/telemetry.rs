//! `sao:plugin/telemetry`: validated, rate-limited records upstream, stamped by the
//! uplink with time, sequence and catalogue metadata.

use std::sync::Mutex;

use serde_json::Value;

use super::sao::plugin::telemetry::{Error, EventState, Host, Metric, Severity};
use super::PluginState;
use crate::plugin::manifest::is_name;
use crate::{reports, uplink};

/// Largest `details` document of an event, in bytes.
const MAX_DETAILS_BYTES: usize = 16 * 1024;
/// Most metrics in one record.
const MAX_METRICS: usize = 64;
/// Longest unit string.
const MAX_UNIT_BYTES: usize = 32;
/// Longest event message.
const MAX_MESSAGE_BYTES: usize = 1024;

/// A plugin's budget of records per minute of pole time. It belongs to the plugin, not
/// to one instance, so restarting does not refill it.
#[derive(Debug)]
pub struct TelemetryQuota {
    per_minute: u32,
    window: Mutex<QuotaWindow>,
}

#[derive(Debug, Default)]
struct QuotaWindow {
    start_ms: u64,
    used: u32,
    refused_in_window: u64,
    refused_total: u64,
}

impl TelemetryQuota {
    /// A budget of `per_minute` records.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            window: Mutex::new(QuotaWindow::default()),
        }
    }

    /// Records refused so far.
    pub fn refused(&self) -> u64 {
        self.window.lock().expect("quota lock").refused_total
    }

    /// Takes one record from the budget at `now_ms`. `Err(true)` is the first refusal of
    /// the minute (worth reporting), `Err(false)` a further one.
    fn take(&self, now_ms: u64) -> Result<(), bool> {
        let mut w = self.window.lock().expect("quota lock");
        if now_ms.saturating_sub(w.start_ms) >= 60_000 {
            *w = QuotaWindow {
                start_ms: now_ms,
                refused_total: w.refused_total,
                ..QuotaWindow::default()
            };
        }
        if w.used < self.per_minute {
            w.used += 1;
            return Ok(());
        }
        w.refused_in_window += 1;
        w.refused_total += 1;
        Err(w.refused_in_window == 1)
    }
}

fn check_name(what: &str, name: &str) -> Result<(), Error> {
    if is_name(name) {
        Ok(())
    } else {
        Err(Error::InvalidName(format!(
            "{what} `{name}` must be 1-64 characters of a-z, 0-9 and '-'"
        )))
    }
}

impl PluginState {
    /// Charges one record to the plugin's quota; the first refusal of a minute is
    /// reported upstream, so a flooding plugin is visible without flooding the uplink.
    fn take_quota(&self) -> Result<u64, Error> {
        let now = self.now_ms();
        match self.telemetry.take(now) {
            Ok(()) => Ok(now),
            Err(first) => {
                if first {
                    reports::plugin_throttled(
                        &self.services.uplink,
                        &self.identity.id,
                        self.telemetry.per_minute,
                        now,
                    );
                }
                Err(Error::RateLimited)
            }
        }
    }
}

/// Checks and converts a record's metrics.
fn metrics(metrics: Vec<Metric>) -> Result<Vec<uplink::Metric>, Error> {
    if metrics.is_empty() || metrics.len() > MAX_METRICS {
        return Err(Error::InvalidRecord(format!(
            "a record needs 1-{MAX_METRICS} metrics"
        )));
    }
    metrics
        .into_iter()
        .map(|m| {
            check_name("metric", &m.name)?;
            if m.unit.is_empty() || m.unit.len() > MAX_UNIT_BYTES {
                return Err(Error::InvalidRecord(format!(
                    "unit of `{}` must be 1-{MAX_UNIT_BYTES} bytes (\"1\" for a plain number)",
                    m.name
                )));
            }
            if !m.value.is_finite() {
                return Err(Error::InvalidRecord(format!(
                    "metric `{}` is not a finite number",
                    m.name
                )));
            }
            Ok(uplink::Metric {
                name: m.name,
                value: m.value,
                unit: m.unit,
            })
        })
        .collect()
}

/// Parses a `details` argument: empty is `null`, otherwise a JSON object.
fn details(details: &str) -> Result<Value, Error> {
    if details.len() > MAX_DETAILS_BYTES {
        return Err(Error::InvalidRecord(format!(
            "details larger than {MAX_DETAILS_BYTES} bytes"
        )));
    }
    if details.trim().is_empty() {
        return Ok(Value::Null);
    }
    match serde_json::from_str::<Value>(details) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(Error::InvalidRecord("details must be a JSON object".into())),
        Err(e) => Err(Error::InvalidRecord(format!("details are not JSON: {e}"))),
    }
}

impl Host for PluginState {
    fn publish(&mut self, stream: String, metrics: Vec<Metric>) -> Result<(), Error> {
        self.publish_with_details(stream, metrics, String::new())
    }

    fn publish_with_details(
        &mut self,
        stream: String,
        metrics: Vec<Metric>,
        details: String,
    ) -> Result<(), Error> {
        check_name("stream", &stream)?;
        let metrics = self::metrics(metrics)?;
        let details = self::details(&details)?;
        let now = self.take_quota()?;
        self.services
            .uplink
            .telemetry_with_details(&self.identity.source(), &stream, &metrics, details, now)
            .map_err(refused)
    }

    fn event(
        &mut self,
        kind: String,
        state: EventState,
        severity: Severity,
        message: String,
        details: String,
    ) -> Result<(), Error> {
        check_name("event kind", &kind)?;
        if message.len() > MAX_MESSAGE_BYTES {
            return Err(Error::InvalidRecord(format!(
                "message longer than {MAX_MESSAGE_BYTES} bytes"
            )));
        }
        let details = self::details(&details)?;
        let now = self.take_quota()?;
        self.services
            .uplink
            .event(
                &self.identity.source(),
                &uplink::Event {
                    kind: &kind,
                    state: match state {
                        EventState::Raised => uplink::EventState::Raised,
                        EventState::Cleared => uplink::EventState::Cleared,
                        EventState::Info => uplink::EventState::Info,
                    },
                    severity: match severity {
                        Severity::Info => uplink::Severity::Info,
                        Severity::Warning => uplink::Severity::Warning,
                        Severity::Critical => uplink::Severity::Critical,
                    },
                    message: &message,
                    details,
                },
                now,
            )
            .map_err(refused)
    }
}

/// A record the outbox would not take, as the plugin's error.
fn refused(e: uplink::OutboxError) -> Error {
    Error::InvalidRecord(format!("not queued: {e}"))
}
