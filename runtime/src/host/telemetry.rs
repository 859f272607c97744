//! `sao:plugin/telemetry`: validated, rate-limited records upstream, stamped by the
//! uplink with time, sequence and catalogue metadata.

use std::sync::Mutex;

use serde_json::Value;

use super::sao::plugin::telemetry::{
    Error, EventState, Host, IncidentPhase, IncidentReport, Metric, Severity,
};
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

/// Checks an event's kind and message, and parses its details.
fn event_parts(kind: &str, message: &str, details: &str) -> Result<Value, Error> {
    check_name("event kind", kind)?;
    if message.len() > MAX_MESSAGE_BYTES {
        return Err(Error::InvalidRecord(format!(
            "message longer than {MAX_MESSAGE_BYTES} bytes"
        )));
    }
    self::details(details)
}

impl From<EventState> for uplink::EventState {
    fn from(state: EventState) -> Self {
        match state {
            EventState::Raised => uplink::EventState::Raised,
            EventState::Cleared => uplink::EventState::Cleared,
            EventState::Info => uplink::EventState::Info,
        }
    }
}

impl From<IncidentPhase> for uplink::EventState {
    fn from(phase: IncidentPhase) -> Self {
        match phase {
            IncidentPhase::Opened => uplink::EventState::Raised,
            IncidentPhase::Updated => uplink::EventState::Updated,
            IncidentPhase::Closed => uplink::EventState::Cleared,
        }
    }
}

impl From<Severity> for uplink::Severity {
    fn from(severity: Severity) -> Self {
        match severity {
            Severity::Info => uplink::Severity::Info,
            Severity::Warning => uplink::Severity::Warning,
            Severity::Critical => uplink::Severity::Critical,
        }
    }
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
        let details = event_parts(&kind, &message, &details)?;
        let now = self.take_quota()?;
        self.services
            .uplink
            .event(
                &self.identity.source(),
                &uplink::Event {
                    kind: &kind,
                    state: state.into(),
                    severity: severity.into(),
                    message: &message,
                    details,
                },
                now,
            )
            .map_err(refused)
    }

    fn report(&mut self, report: IncidentReport) -> Result<(), Error> {
        let details = event_parts(&report.kind, &report.message, &report.details)?;
        check_name("incident", &report.incident)?;
        let now = self.take_quota()?;
        let event = uplink::Event {
            kind: &report.kind,
            state: report.phase.into(),
            severity: report.severity.into(),
            message: &report.message,
            details,
        };
        let incident = uplink::Incident {
            id: &report.incident,
            snapshot: report.snapshot.as_deref(),
        };
        let source = self.identity.source();
        // Shrinking and encoding a snapshot is the host's work, not the plugin's.
        self.uncharged(|state| {
            state
                .services
                .uplink
                .incident(&source, &event, incident, now)
        })
        .map_err(refused)
    }
}

/// A record the outbox would not take, as the plugin's error.
fn refused(e: uplink::OutboxError) -> Error {
    Error::InvalidRecord(format!("not queued: {e}"))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use base64::Engine as _;
    use sao_hardware::sim::{build_sim_pole, SimConfig};
    use sao_hardware::SimClock;
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::alarm::AlarmConfig;
    use crate::devices::LightingPolicy;
    use crate::host::{KvStore, PluginIdentity, Services};
    use crate::uplink::{
        attachment, schemas, Class, Identity, Outbox, OutboxConfig, RecordSink, Uplink,
        UplinkRecord,
    };

    /// Keeps every record the uplink queues.
    #[derive(Default)]
    struct Records(Mutex<Vec<UplinkRecord>>);

    impl RecordSink for Records {
        fn publish(&self, record: &UplinkRecord) {
            self.0.lock().unwrap().push(record.clone());
        }
    }

    impl Records {
        fn take(&self) -> Vec<UplinkRecord> {
            std::mem::take(&mut self.0.lock().unwrap())
        }
    }

    /// A simulated pole with plugin `accident` on it.
    struct Pole {
        _dir: tempfile::TempDir,
        plugin: PluginState,
        records: Arc<Records>,
    }

    fn pole(max_record_bytes: usize, per_minute: u32) -> Pole {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(SimClock::new(1_795_290_010_500));
        let db = sled::open(dir.path().join("db")).unwrap();
        let config = OutboxConfig {
            max_record_bytes,
            ..OutboxConfig::default()
        };
        let outbox = Outbox::open(&db, config, clock.clone()).unwrap();
        let identity = Identity {
            site: "chachoengsao".into(),
            id: "ccs-0042".into(),
            latitude: 13.69,
            longitude: 101.07,
            utc_offset_minutes: 420,
        };
        let records = Arc::new(Records::default());
        let tap: Arc<dyn RecordSink> = records.clone();
        let services = Services::new(
            build_sim_pole(&SimConfig::default(), clock.clone()).unwrap(),
            clock,
            &LightingPolicy::default(),
            AlarmConfig::default(),
            Arc::new(Uplink::new(identity, Arc::new(outbox), Some(tap))),
            KvStore::new(db),
            Default::default(),
        )
        .unwrap();
        let plugin = PluginState::new(
            PluginIdentity {
                id: "accident".into(),
                version: "0.1.0".into(),
                dataset: "road-safety".into(),
                dimension: "mobility".into(),
            },
            Arc::new(services),
            64 << 20,
            Duration::from_secs(1),
            Arc::new(TelemetryQuota::new(per_minute)),
        );
        Pole {
            _dir: dir,
            plugin,
            records,
        }
    }

    fn report(phase: IncidentPhase, snapshot: Option<Vec<u8>>) -> IncidentReport {
        IncidentReport {
            kind: "accident".into(),
            incident: "acc-17".into(),
            phase,
            severity: Severity::Warning,
            message: "collision at the junction".into(),
            details: r#"{"road-users": 2}"#.into(),
            snapshot,
        }
    }

    #[test]
    fn phases_are_event_states_and_every_report_names_its_incident() {
        let mut pole = pole(256 * 1024, 120);
        let phases = [
            (IncidentPhase::Opened, "raised"),
            (IncidentPhase::Updated, "updated"),
            (IncidentPhase::Closed, "cleared"),
        ];
        for (phase, _) in phases {
            pole.plugin.report(report(phase, None)).unwrap();
        }
        let records = pole.records.take();
        assert_eq!(records.len(), 3);
        for (record, (_, state)) in records.iter().zip(phases) {
            assert_eq!(
                record.topic,
                "sao/v1/chachoengsao/ccs-0042/evt/accident/accident"
            );
            let p = &record.payload;
            assert_eq!(p["state"], state);
            assert_eq!(p["incident"], "acc-17");
            assert_eq!(p["kind"], "accident");
            assert_eq!(p["severity"], "warning");
            assert_eq!(p["message"], "collision at the junction");
            assert_eq!(p["details"], serde_json::json!({ "road-users": 2 }));
            assert_eq!(p["plugin"]["id"], "accident");
            assert!(p.get("snapshot").is_none(), "no photo, no snapshot member");
            schemas::assert_valid("event.schema.json", p);
        }
    }

    #[test]
    fn critical_reports_have_the_alarm_priority() {
        let mut pole = pole(256 * 1024, 120);
        let outbox = pole.plugin.services.uplink.outbox().clone();
        pole.plugin
            .report(IncidentReport {
                severity: Severity::Critical,
                ..report(IncidentPhase::Opened, None)
            })
            .unwrap();
        outbox.commit().unwrap();
        let queued = outbox.next_after(Class::Alarm, None).unwrap().unwrap();
        assert!(queued.topic.ends_with("/evt/accident/accident"));
    }

    #[test]
    fn reports_are_checked_like_events_and_the_incident_id_is_a_name() {
        let mut pole = pole(256 * 1024, 120);
        type Spoil = fn(&mut IncidentReport);
        let cases: [(&str, Spoil); 7] = [
            ("kind", |r| r.kind = "Crash!".into()),
            ("incident", |r| r.incident = String::new()),
            ("incident", |r| r.incident = "Acc 17".into()),
            ("incident", |r| r.incident = "a".repeat(65)),
            ("1024", |r| r.message = "x".repeat(MAX_MESSAGE_BYTES + 1)),
            ("object", |r| r.details = "[1, 2]".into()),
            ("not JSON", |r| r.details = "{".into()),
        ];
        for (says, spoil) in cases {
            let mut bad = report(IncidentPhase::Opened, None);
            spoil(&mut bad);
            let error = pole.plugin.report(bad).unwrap_err();
            let text = match &error {
                Error::InvalidName(m) | Error::InvalidRecord(m) => m.clone(),
                Error::RateLimited => panic!("refused for the rate, not the record"),
            };
            assert!(text.contains(says), "`{text}` should say {says}");
        }
        let max_id = "a".repeat(64);
        pole.plugin
            .report(IncidentReport {
                incident: max_id.clone(),
                details: String::new(),
                ..report(IncidentPhase::Opened, None)
            })
            .unwrap();
        let records = pole.records.take();
        assert_eq!(records.len(), 1, "only the valid report is queued");
        assert_eq!(records[0].payload["incident"], max_id.as_str());
        assert_eq!(records[0].payload["details"], Value::Null);
    }

    #[test]
    fn reports_count_against_the_rate_limit() {
        let mut pole = pole(256 * 1024, 2);
        pole.plugin
            .report(report(IncidentPhase::Opened, None))
            .unwrap();
        pole.plugin
            .event(
                "accident".into(),
                EventState::Info,
                Severity::Info,
                String::new(),
                String::new(),
            )
            .unwrap();
        assert!(matches!(
            pole.plugin.report(report(IncidentPhase::Closed, None)),
            Err(Error::RateLimited)
        ));
    }

    #[test]
    fn a_snapshot_is_shrunk_to_fit_the_record() {
        let max_record_bytes = attachment::RESERVED_BYTES + 16 * 1024;
        let max_jpeg = attachment::max_jpeg_bytes(max_record_bytes);
        let mut pole = pole(max_record_bytes, 120);
        let photo = attachment::noise_jpeg(640, 480);
        assert!(photo.len() > 4 * max_jpeg, "{} bytes", photo.len());
        pole.plugin
            .report(report(IncidentPhase::Opened, Some(photo)))
            .unwrap();
        let record = pole.records.take().remove(0);
        let snapshot = &record.payload["snapshot"];
        assert_eq!(snapshot["content-type"], "image/jpeg");
        let jpeg = base64::engine::general_purpose::STANDARD
            .decode(snapshot["data"].as_str().unwrap())
            .unwrap();
        assert!(jpeg.len() <= max_jpeg, "{} > {max_jpeg}", jpeg.len());
        assert_eq!(snapshot["bytes"], jpeg.len());
        assert_eq!(snapshot["sha256"], hex::encode(Sha256::digest(&jpeg)));
        let image = opencv::imgcodecs::imdecode(
            &opencv::core::Vector::from_slice(&jpeg),
            opencv::imgcodecs::IMREAD_COLOR,
        )
        .unwrap();
        use opencv::prelude::MatTraitConst as _;
        assert!(
            image.cols() > 0 && image.cols() < 640,
            "{} px",
            image.cols()
        );
        assert!(serde_json::to_vec(&record.payload).unwrap().len() <= max_record_bytes);
        assert_eq!(record.payload["incident"], "acc-17");
        schemas::assert_valid("event.schema.json", &record.payload);
    }

    #[test]
    fn a_snapshot_that_cannot_be_shrunk_is_reported_as_dropped() {
        let max_record_bytes = attachment::RESERVED_BYTES + 16 * 1024;
        let mut pole = pole(max_record_bytes, 120);
        let not_a_photo = vec![0x5a; 64 * 1024];
        pole.plugin
            .report(report(IncidentPhase::Updated, Some(not_a_photo)))
            .unwrap();
        let record = pole.records.take().remove(0);
        let snapshot = record.payload["snapshot"].as_object().unwrap();
        assert_eq!(snapshot.len(), 1, "{snapshot:?}");
        let error = snapshot["error"].as_str().unwrap();
        assert!(error.starts_with("snapshot dropped: "), "{error}");
        assert_eq!(record.payload["state"], "updated");
        schemas::assert_valid("event.schema.json", &record.payload);
    }
}
