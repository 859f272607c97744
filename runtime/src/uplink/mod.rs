//! Upstream records: topic layout, the metadata every record carries, per-stream sequence
//! numbers, and the sinks records are handed to.
//!
//! Topics follow `sao/v1/{site}/{pole}/…` (see ARCHITECTURE.md). This module builds
//! records; a [`RecordSink`] delivers them (JSON lines for `sao sim`, the log for a pole
//! without an uplink).

mod sink;

pub use sink::{JsonLinesSink, LogSink, MemorySink, RecordSink};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Where a pole is and what it is called; stamped on every record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Identity {
    /// Site (city or district) id, a topic segment.
    pub site: String,
    /// Pole id, a topic segment.
    pub id: String,
    /// Latitude, WGS84.
    pub latitude: f64,
    /// Longitude, WGS84.
    pub longitude: f64,
    /// Local civil time offset from UTC in minutes (Thailand: 420).
    #[serde(default = "Identity::default_utc_offset")]
    pub utc_offset_minutes: i32,
}

impl Identity {
    fn default_utc_offset() -> i32 {
        420
    }

    /// Topic prefix `sao/v1/{site}/{pole}`.
    pub fn topic_prefix(&self) -> String {
        format!("sao/v1/{}/{}", self.site, self.id)
    }
}

/// One upstream message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UplinkRecord {
    /// Full MQTT topic.
    pub topic: String,
    /// MQTT QoS it is to be published with.
    pub qos: u8,
    /// Whether the broker should retain it.
    pub retain: bool,
    /// The JSON payload.
    pub payload: Value,
}

/// Who produced a record: a plugin, or the host itself (`sao`).
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// Plugin id (`sao` for the host).
    pub plugin: String,
    /// Plugin (or host) version.
    pub version: String,
    /// Dataset name for the data catalogue.
    pub dataset: String,
    /// Smart-city dimension served.
    pub dimension: String,
}

impl Source {
    /// The host itself, publishing pole health.
    pub fn host() -> Self {
        Self {
            plugin: "sao".into(),
            version: crate::VERSION.into(),
            dataset: "pole-health".into(),
            dimension: "infrastructure".into(),
        }
    }
}

/// A named value with its unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// Field name.
    pub name: String,
    /// Value.
    pub value: f64,
    /// Unit (UCUM-style).
    pub unit: String,
}

/// Lifecycle of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventState {
    /// Began.
    Raised,
    /// Ended.
    Cleared,
    /// One-off.
    Info,
}

/// Severity of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational.
    Info,
    /// Needs attention.
    Warning,
    /// Needs action now.
    Critical,
}

/// An event as handed to [`Uplink::event`].
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// Event kind, a topic segment.
    pub kind: &'a str,
    /// Raised, cleared or info.
    pub state: EventState,
    /// Severity.
    pub severity: Severity,
    /// Human-readable message.
    pub message: &'a str,
    /// Structured details (a JSON object, or null).
    pub details: Value,
}

/// Builds and hands off upstream records.
pub struct Uplink {
    identity: Identity,
    sink: Arc<dyn RecordSink>,
    seqs: Mutex<HashMap<String, u64>>,
}

impl Uplink {
    /// An uplink for `identity` delivering to `sink`.
    pub fn new(identity: Identity, sink: Arc<dyn RecordSink>) -> Self {
        Self {
            identity,
            sink,
            seqs: Mutex::new(HashMap::new()),
        }
    }

    /// The pole's identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    fn next_seq(&self, topic: &str) -> u64 {
        let mut seqs = self.seqs.lock().expect("seq lock");
        let seq = seqs.entry(topic.to_string()).or_insert(0);
        *seq += 1;
        *seq
    }

    fn envelope(&self, topic: &str, source: &Source, ts: u64) -> serde_json::Map<String, Value> {
        let id = &self.identity;
        let value = json!({
            "ts": ts,
            "seq": self.next_seq(topic),
            "site": id.site,
            "pole": id.id,
            "location": { "lat": id.latitude, "lon": id.longitude },
            "plugin": { "id": source.plugin, "version": source.version },
            "dataset": source.dataset,
            "dimension": source.dimension,
        });
        match value {
            Value::Object(map) => map,
            _ => unreachable!("json! object literal"),
        }
    }

    /// Publishes telemetry on `…/tele/{plugin}/{stream}`.
    pub fn telemetry(&self, source: &Source, stream: &str, metrics: &[Metric], ts: u64) {
        let topic = format!(
            "{}/tele/{}/{stream}",
            self.identity.topic_prefix(),
            source.plugin
        );
        let mut payload = self.envelope(&topic, source, ts);
        payload.insert("stream".into(), json!(stream));
        let metrics: serde_json::Map<String, Value> = metrics
            .iter()
            .map(|m| (m.name.clone(), json!({ "value": m.value, "unit": m.unit })))
            .collect();
        payload.insert("metrics".into(), Value::Object(metrics));
        self.sink.publish(&UplinkRecord {
            topic,
            qos: 0,
            retain: false,
            payload: Value::Object(payload),
        });
    }

    /// Publishes an event on `…/evt/{plugin}/{kind}`.
    pub fn event(&self, source: &Source, event: &Event<'_>, ts: u64) {
        let topic = format!(
            "{}/evt/{}/{}",
            self.identity.topic_prefix(),
            source.plugin,
            event.kind
        );
        let mut payload = self.envelope(&topic, source, ts);
        payload.insert("kind".into(), json!(event.kind));
        payload.insert("state".into(), json!(event.state));
        payload.insert("severity".into(), json!(event.severity));
        payload.insert("message".into(), json!(event.message));
        payload.insert("details".into(), event.details.clone());
        self.sink.publish(&UplinkRecord {
            topic,
            qos: 1,
            retain: false,
            payload: Value::Object(payload),
        });
    }

    /// Publishes the retained birth/death record on `…/status`.
    pub fn status(&self, online: bool, plugins: Value, ts: u64) {
        let topic = format!("{}/status", self.identity.topic_prefix());
        let mut payload = self.envelope(&topic, &Source::host(), ts);
        payload.insert("online".into(), json!(online));
        payload.insert("version".into(), json!(crate::VERSION));
        payload.insert("plugins".into(), plugins);
        self.sink.publish(&UplinkRecord {
            topic,
            qos: 1,
            retain: true,
            payload: Value::Object(payload),
        });
    }
}
