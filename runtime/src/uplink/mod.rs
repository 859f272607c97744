//! Upstream records: topic layout, the metadata every record carries, and their way out.
//!
//! Topics follow `sao/v1/{site}/{pole}/…` (documented for integrators, with JSON Schemas,
//! in `runtime/schemas/`). [`Uplink`] builds records and writes them to the durable
//! [`Outbox`], which numbers them per stream; [`mqtt`] forwards the outbox to the broker
//! ([`broker`] embeds one when none is configured). A [`RecordSink`] may watch every record
//! as it is queued (`sao sim` writes them as JSON lines). Photos travel in records as
//! [`attachment`]s.

pub mod attachment;
pub mod broker;
mod config;
mod inbox;
pub mod mqtt;
pub mod outbox;
#[cfg(test)]
pub(crate) mod schemas;
mod sink;

pub use config::{Endpoint, UplinkConfig};
pub use inbox::{Inbox, Incoming, Subscriptions};
pub use outbox::{Class, Outbox, OutboxConfig, OutboxError, OutboxStats};
pub use sink::{JsonLinesSink, RecordSink, Tee};

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tokio::sync::watch;

use outbox::NewRecord;

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

    /// Checks the ids can be topic segments and the location is on Earth.
    pub fn validate(&self) -> Result<(), String> {
        for (what, value) in [("pole.site", &self.site), ("pole.id", &self.id)] {
            let ok = !value.is_empty()
                && value.len() <= 64
                && !value
                    .chars()
                    .any(|c| matches!(c, '/' | '+' | '#') || c.is_whitespace() || c.is_control());
            if !ok {
                return Err(format!(
                    "{what} `{value}` must be 1-64 characters without '/', '+', '#' or spaces (it is an MQTT topic segment)"
                ));
            }
        }
        if matches!(self.id.as_str(), "group" | "pkg") {
            return Err(format!(
                "pole.id `{}` is reserved (fleet-group and package topics)",
                self.id
            ));
        }
        if !(-90.0..=90.0).contains(&self.latitude) || !(-180.0..=180.0).contains(&self.longitude) {
            return Err(format!(
                "pole location {}, {} is not a WGS84 latitude, longitude",
                self.latitude, self.longitude
            ));
        }
        Ok(())
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

impl UplinkRecord {
    /// The topic's segments after the pole's prefix `sao/v1/{site}/{pole}/`, e.g.
    /// `["tele", "sao", "health"]` or `["alert", "sos"]`.
    pub fn segments(&self) -> Vec<&str> {
        self.topic.split('/').skip(4).collect()
    }
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
            plugin: crate::plugin::manifest::HOST_ID.into(),
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
    /// Changed while it lasts (incident reports only).
    Updated,
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
    /// Raised, cleared or info (updated only in an [`Incident`] report).
    pub state: EventState,
    /// Severity.
    pub severity: Severity,
    /// Human-readable message.
    pub message: &'a str,
    /// Structured details (a JSON object, or null).
    pub details: Value,
}

/// What makes an event a report on an incident, as handed to [`Uplink::incident`].
#[derive(Debug, Clone, Copy)]
pub struct Incident<'a> {
    /// The plugin's id for the incident, the same on each of its reports (a name).
    pub id: &'a str,
    /// A JPEG to attach, shrunk to fit the record (see [`attachment`]).
    pub snapshot: Option<&'a [u8]>,
}

/// Connects the pole's uplink: to the configured broker, or to an embedded broker
/// started here when none is configured. Messages on the `inbox`'s subscriptions are
/// delivered to it.
pub fn connect(
    config: &UplinkConfig,
    uplink: Arc<Uplink>,
    clock: Arc<dyn sao_hardware::TimeSource>,
    inbox: Inbox,
) -> anyhow::Result<mqtt::Link> {
    if config.broker.is_none() {
        broker::start(config.embedded_listen)?;
    }
    mqtt::start(config, uplink, clock, inbox)
}

/// What the retained status topic currently says: whether the pole is up and what it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusDoc {
    /// The pole is running (false once it shuts down).
    pub online: bool,
    /// Installed and refused plugins with their versions and health.
    pub plugins: Value,
    /// Pole time of the change.
    pub ts: u64,
}

/// Why a pole is offline, as its status says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfflineReason {
    /// It stopped cleanly.
    Shutdown,
    /// The broker lost the connection (this is the Last Will).
    ConnectionLost,
}

impl OfflineReason {
    fn as_str(self) -> &'static str {
        match self {
            OfflineReason::Shutdown => "shutdown",
            OfflineReason::ConnectionLost => "connection-lost",
        }
    }
}

/// Builds upstream records and queues them in the outbox.
pub struct Uplink {
    identity: Identity,
    outbox: Arc<Outbox>,
    tap: Option<Arc<dyn RecordSink>>,
    status: watch::Sender<StatusDoc>,
}

impl Uplink {
    /// An uplink for `identity` queuing into `outbox`; `tap` (if any) sees every record.
    pub fn new(identity: Identity, outbox: Arc<Outbox>, tap: Option<Arc<dyn RecordSink>>) -> Self {
        // Online from the start: the runtime exists; the plugin list follows once installed.
        let (status, _) = watch::channel(StatusDoc {
            online: true,
            plugins: Value::Array(Vec::new()),
            ts: 0,
        });
        Self {
            identity,
            outbox,
            tap,
            status,
        }
    }

    /// The pole's identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The durable outbox records wait in.
    pub fn outbox(&self) -> &Arc<Outbox> {
        &self.outbox
    }

    /// Follows the status document (the MQTT link publishes each change).
    pub fn watch_status(&self) -> watch::Receiver<StatusDoc> {
        self.status.subscribe()
    }

    /// The envelope every record carries (its `seq` is added by the outbox).
    fn envelope(&self, source: &Source, ts: u64) -> Map<String, Value> {
        let id = &self.identity;
        let value = json!({
            "ts": ts,
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

    /// Queues a record and shows it to the tap. A record that cannot be queued (too large
    /// for `max-record-bytes`, or storage failing) is logged and the error returned.
    fn queue(
        &self,
        topic: String,
        class: Class,
        retain: bool,
        payload: Map<String, Value>,
    ) -> Result<(), OutboxError> {
        let record = NewRecord {
            topic: topic.clone(),
            class,
            retain,
            payload,
        };
        let queued = self.outbox.enqueue(record).inspect_err(|e| {
            tracing::error!(%topic, "record not queued: {e}");
        })?;
        if let Some(tap) = &self.tap {
            tap.publish(&UplinkRecord {
                topic,
                qos: 1,
                retain,
                payload: queued.payload,
            });
        }
        Ok(())
    }

    /// Queues telemetry for `…/tele/{plugin}/{stream}`.
    pub fn telemetry(
        &self,
        source: &Source,
        stream: &str,
        metrics: &[Metric],
        ts: u64,
    ) -> Result<(), OutboxError> {
        self.telemetry_with_details(source, stream, metrics, Value::Null, ts)
    }

    /// Like [`Uplink::telemetry`], with `details` (a JSON object, or `null` for none)
    /// carried as the record's `details` member.
    pub fn telemetry_with_details(
        &self,
        source: &Source,
        stream: &str,
        metrics: &[Metric],
        details: Value,
        ts: u64,
    ) -> Result<(), OutboxError> {
        let topic = format!(
            "{}/tele/{}/{stream}",
            self.identity.topic_prefix(),
            source.plugin
        );
        let mut payload = self.envelope(source, ts);
        payload.insert("stream".into(), json!(stream));
        let metrics: Map<String, Value> = metrics
            .iter()
            .map(|m| (m.name.clone(), json!({ "value": m.value, "unit": m.unit })))
            .collect();
        payload.insert("metrics".into(), Value::Object(metrics));
        if !details.is_null() {
            payload.insert("details".into(), details);
        }
        self.queue(topic, Class::Telemetry, false, payload)
    }

    /// Queues an event for `…/evt/{plugin}/{kind}`. Critical events are alarms.
    pub fn event(&self, source: &Source, event: &Event<'_>, ts: u64) -> Result<(), OutboxError> {
        self.queue_event(source, event, Map::new(), ts)
    }

    /// Queues a report on an incident: `event` with the members `incident` (its id) and,
    /// when the report brings a photo, `snapshot` (an [`attachment`]).
    pub fn incident(
        &self,
        source: &Source,
        event: &Event<'_>,
        incident: Incident<'_>,
        ts: u64,
    ) -> Result<(), OutboxError> {
        let mut extra = Map::new();
        extra.insert("incident".into(), json!(incident.id));
        if let Some(jpeg) = incident.snapshot {
            extra.insert("snapshot".into(), self.attachment(jpeg));
        }
        self.queue_event(source, event, extra, ts)
    }

    /// Queues an event with `extra` members after its own.
    fn queue_event(
        &self,
        source: &Source,
        event: &Event<'_>,
        extra: Map<String, Value>,
        ts: u64,
    ) -> Result<(), OutboxError> {
        let topic = format!(
            "{}/evt/{}/{}",
            self.identity.topic_prefix(),
            source.plugin,
            event.kind
        );
        let mut payload = self.envelope(source, ts);
        payload.insert("kind".into(), json!(event.kind));
        payload.insert("state".into(), json!(event.state));
        payload.insert("severity".into(), json!(event.severity));
        payload.insert("message".into(), json!(event.message));
        payload.insert("details".into(), event.details.clone());
        payload.extend(extra);
        let class = match event.severity {
            Severity::Critical => Class::Alarm,
            _ => Class::Event,
        };
        self.queue(topic, class, false, payload)
    }

    /// `jpeg` as a record's attachment, shrunk to fit this pole's record limit.
    pub fn attachment(&self, jpeg: &[u8]) -> Value {
        attachment::jpeg(
            jpeg,
            attachment::max_jpeg_bytes(self.outbox.max_record_bytes()),
        )
    }

    /// Queues an alert for `…/alert/{kind}`: an alarm's record for agencies and residents,
    /// with `body`'s members after the envelope. Alerts have the alarm priority.
    pub fn alert(
        &self,
        source: &Source,
        kind: &str,
        body: Map<String, Value>,
        ts: u64,
    ) -> Result<(), OutboxError> {
        let topic = format!("{}/alert/{kind}", self.identity.topic_prefix());
        let mut payload = self.envelope(source, ts);
        payload.extend(body);
        self.queue(topic, Class::Alarm, false, payload)
    }

    /// Queues a retained state document for `…/{suffix}` (a reported config, a deployment
    /// status): `body`'s members follow the envelope, and the broker keeps the latest for
    /// whoever subscribes later.
    pub fn state(
        &self,
        source: &Source,
        suffix: &str,
        body: Map<String, Value>,
        ts: u64,
    ) -> Result<(), OutboxError> {
        let topic = format!("{}/{suffix}", self.identity.topic_prefix());
        let mut payload = self.envelope(source, ts);
        payload.extend(body);
        self.queue(topic, Class::Event, true, payload)
    }

    /// The status topic, `…/status`.
    pub fn status_topic(&self) -> String {
        format!("{}/status", self.identity.topic_prefix())
    }

    /// The status payload of MQTT session `session`: a birth, or with a reason, a death.
    pub fn status_payload(
        &self,
        doc: &StatusDoc,
        offline: Option<OfflineReason>,
        session: u64,
    ) -> Value {
        let mut payload = self.envelope(&Source::host(), doc.ts);
        payload.insert("seq".into(), json!(session));
        payload.insert("online".into(), json!(offline.is_none()));
        payload.insert("version".into(), json!(crate::VERSION));
        payload.insert("plugins".into(), doc.plugins.clone());
        if let Some(reason) = offline {
            payload.insert("reason".into(), json!(reason.as_str()));
        }
        Value::Object(payload)
    }

    /// Sets the retained status: the MQTT link publishes it (and re-publishes it at every
    /// reconnection); the tap sees it at once.
    pub fn status(&self, online: bool, plugins: Value, ts: u64) {
        let doc = StatusDoc {
            online,
            plugins,
            ts,
        };
        if let Some(tap) = &self.tap {
            let reason = (!online).then_some(OfflineReason::Shutdown);
            tap.publish(&UplinkRecord {
                topic: self.status_topic(),
                qos: 1,
                retain: true,
                payload: self.status_payload(&doc, reason, self.outbox.stats().counters.sessions),
            });
        }
        self.status.send_replace(doc);
    }
}
