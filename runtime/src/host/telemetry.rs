//! `sao:plugin/telemetry`: validated, rate-limited records upstream, stamped by the
//! uplink with time, sequence and catalogue metadata.

use serde_json::Value;

use super::sao::plugin::telemetry::{Error, EventState, Host, Metric, Severity};
use super::PluginState;
use crate::plugin::manifest::is_name;
use crate::uplink;

/// Largest `details` document of an event, in bytes.
const MAX_DETAILS_BYTES: usize = 16 * 1024;
/// Most metrics in one record.
const MAX_METRICS: usize = 64;

/// A per-plugin budget of records per minute of pole time.
#[derive(Debug, Clone)]
pub struct RateLimit {
    window_start_ms: u64,
    used: u32,
    per_minute: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            window_start_ms: 0,
            used: 0,
            per_minute: 120,
        }
    }
}

impl RateLimit {
    /// Takes one record from the budget at `now_ms`.
    pub fn take(&mut self, now_ms: u64) -> Result<(), Error> {
        if now_ms.saturating_sub(self.window_start_ms) >= 60_000 {
            self.window_start_ms = now_ms;
            self.used = 0;
        }
        if self.used >= self.per_minute {
            return Err(Error::RateLimited);
        }
        self.used += 1;
        Ok(())
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

impl Host for PluginState {
    fn publish(&mut self, stream: String, metrics: Vec<Metric>) -> Result<(), Error> {
        check_name("stream", &stream)?;
        if metrics.is_empty() || metrics.len() > MAX_METRICS {
            return Err(Error::InvalidRecord(format!(
                "a record needs 1-{MAX_METRICS} metrics"
            )));
        }
        let mut converted = Vec::with_capacity(metrics.len());
        for m in metrics {
            check_name("metric", &m.name)?;
            if !m.value.is_finite() {
                return Err(Error::InvalidRecord(format!(
                    "metric `{}` is not a finite number",
                    m.name
                )));
            }
            converted.push(uplink::Metric {
                name: m.name,
                value: m.value,
                unit: m.unit,
            });
        }
        let now = self.now_ms();
        self.rate.take(now)?;
        self.services
            .uplink
            .telemetry(&self.identity.source(), &stream, &converted, now);
        Ok(())
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
        if details.len() > MAX_DETAILS_BYTES {
            return Err(Error::InvalidRecord(format!(
                "details larger than {MAX_DETAILS_BYTES} bytes"
            )));
        }
        let details = if details.trim().is_empty() {
            Value::Null
        } else {
            match serde_json::from_str::<Value>(&details) {
                Ok(v @ Value::Object(_)) => v,
                Ok(_) => return Err(Error::InvalidRecord("details must be a JSON object".into())),
                Err(e) => return Err(Error::InvalidRecord(format!("details are not JSON: {e}"))),
            }
        };
        let now = self.now_ms();
        self.rate.take(now)?;
        self.services.uplink.event(
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
        );
        Ok(())
    }
}
