//! Store-and-forward against a real Mosquitto broker, driving the pole's uplink (outbox,
//! MQTT link) directly: a broker stopped in the middle of a 10,000-record burst, a long
//! outage that fills the disk cap, an unreachable broker, TLS done right and wrong, and
//! user-name/password authentication.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::mqtt::{
    check_stream, distinct_records, free_port, wait_until, Message, Mosquitto, Subscriber, TlsFiles,
};
use sao_hardware::{SystemClock, TimeSource};
use sao_runtime::uplink::mqtt::{self, Link};
use sao_runtime::uplink::{
    Event, EventState, Identity, Inbox, Metric, Outbox, Severity, Source, Uplink, UplinkConfig,
};
use serde_json::json;

const LONG: Duration = Duration::from_secs(60);

/// The uplink half of a pole: its outbox in `dir` and a link to the broker of `uplink_toml`.
struct Pole {
    rt: tokio::runtime::Runtime,
    uplink: Arc<Uplink>,
    link: Option<Link>,
    clock: Arc<dyn TimeSource>,
}

impl Pole {
    fn start(dir: &Path, uplink_toml: &str) -> Self {
        let config: UplinkConfig = toml::from_str(uplink_toml).unwrap();
        config.validate().unwrap();
        let clock: Arc<dyn TimeSource> = Arc::new(SystemClock);
        let db = sao_runtime::storage::open_db(&dir.join("db")).unwrap();
        let outbox = Outbox::open(&db, config.outbox, clock.clone()).unwrap();
        let identity = Identity {
            site: "chachoengsao".into(),
            id: "ccs-test-02".into(),
            latitude: 13.69,
            longitude: 101.07,
            utc_offset_minutes: 420,
        };
        let uplink = Arc::new(Uplink::new(identity, Arc::new(outbox), None));
        let rt = tokio::runtime::Runtime::new().unwrap();
        let mut pole = Self {
            rt,
            uplink,
            link: None,
            clock,
        };
        pole.connect(&config);
        pole
    }

    fn connect(&mut self, config: &UplinkConfig) {
        let _guard = self.rt.enter();
        self.link = Some(
            mqtt::start(
                config,
                self.uplink.clone(),
                self.clock.clone(),
                Inbox::none(),
            )
            .unwrap(),
        );
    }

    fn reconnect(&mut self, uplink_toml: &str) {
        let link = self.link.take().unwrap();
        self.rt.block_on(link.shutdown(Duration::from_secs(2)));
        self.connect(&toml::from_str(uplink_toml).unwrap());
    }

    fn link(&self) -> &Link {
        self.link.as_ref().unwrap()
    }

    fn telemetry(&self, stream: &str, n: u64) {
        let metric = Metric {
            name: "n".into(),
            value: n as f64,
            unit: "1".into(),
        };
        // About 200 bytes of payload beyond the envelope, as a sensor record would be.
        let pad = Metric {
            name: "pad".into(),
            value: 0.123456789,
            unit: "x".repeat(32),
        };
        self.uplink
            .telemetry(&source(), stream, &[metric, pad], self.clock.now_ms())
            .unwrap();
    }

    fn alarm(&self, n: u64) {
        self.uplink
            .event(
                &source(),
                &Event {
                    kind: "intrusion",
                    state: EventState::Raised,
                    severity: Severity::Critical,
                    message: "test alarm",
                    details: json!({ "n": n }),
                },
                self.clock.now_ms(),
            )
            .unwrap();
    }

    fn commit(&self) {
        self.uplink.outbox().commit().unwrap();
    }
}

fn source() -> Source {
    Source {
        plugin: "burst".into(),
        version: "1.0.0".into(),
        dataset: "test".into(),
        dimension: "environment".into(),
    }
}

fn uplink_toml(broker: &str) -> String {
    format!(
        "broker = \"{broker}\"\nreconnect-min-ms = 100\nreconnect-max-ms = 500\nkeep-alive-s = 5\n"
    )
}

#[test]
fn a_broker_stopped_mid_burst_loses_nothing_and_keeps_each_stream_in_order() {
    const TOTAL: u64 = 10_000;
    const STREAMS: u64 = 4;
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Mosquitto::start(&dir.path().join("broker"));
    let sub = Subscriber::connect(broker.port, "sao/+/+/+/tele/#");
    let pole = Pole::start(dir.path(), &uplink_toml(&broker.url()));
    assert!(wait_until(LONG, || pole.link().status().connected));

    for n in 1..=TOTAL {
        pole.telemetry(&format!("s{}", n % STREAMS), n);
        if n % 100 == 0 {
            pole.commit();
        }
        if n == 3_000 {
            broker.stop();
        }
    }
    pole.commit();
    assert!(
        wait_until(LONG, || !pole.link().status().connected),
        "the pole notices the broker is gone"
    );
    let waiting = pole.uplink.outbox().stats().pending_records();
    assert!(waiting > 0, "records wait in the outbox during the outage");
    broker.restart();

    sub.wait_for("every record", Duration::from_secs(120), |m| {
        distinct_records(m) as u64 == TOTAL
    });
    assert!(wait_until(LONG, || pole
        .uplink
        .outbox()
        .stats()
        .pending_records()
        == 0));

    let mut per_stream: HashMap<String, Vec<&Message>> = HashMap::new();
    let messages = sub.messages();
    for m in &messages {
        per_stream.entry(m.topic.clone()).or_default().push(m);
    }
    assert_eq!(per_stream.len() as u64, STREAMS);
    for (topic, records) in per_stream {
        let by_seq = check_stream(&topic, &records);
        assert_eq!(
            by_seq.len() as u64,
            TOTAL / STREAMS,
            "{topic}: every record"
        );
        // seq order is production order.
        let ns: Vec<u64> = by_seq.values().copied().collect();
        assert!(ns.windows(2).all(|w| w[0] < w[1]), "{topic}");
    }
    // Records queued during the outage were replayed as historical; the first were not.
    let last = messages.iter().find(|m| m.n() == TOTAL).unwrap();
    assert_eq!(last.payload["historical"], true);
    let first = messages.iter().find(|m| m.n() == 1).unwrap();
    assert!(first.payload.get("historical").is_none());
    eprintln!(
        "{} messages for {TOTAL} records; {waiting} waited out the outage",
        messages.len()
    );
}

#[test]
fn a_long_outage_keeps_every_alarm_and_evicts_the_oldest_telemetry() {
    const ALARMS: u64 = 50;
    const TELEMETRY: u64 = 2_000;
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Mosquitto::start(&dir.path().join("broker"));
    let sub = Subscriber::connect(broker.port, "sao/#");
    broker.stop();
    let pole = Pole::start(
        dir.path(),
        &format!(
            "{}[outbox]\nmax-bytes = 65536\n",
            uplink_toml(&broker.url())
        ),
    );
    // An unreachable broker is a clear, reported error, not a crash.
    assert!(wait_until(LONG, || pole
        .link()
        .status()
        .last_error
        .is_some()));
    let error = pole.link().status().last_error.unwrap();
    assert!(error.contains("Connection refused"), "{error}");
    assert!(
        error.contains(&broker.url().replace("mqtt://", "")),
        "{error}"
    );

    for n in 0..TELEMETRY {
        pole.telemetry("air", n);
        if n % (TELEMETRY / ALARMS) == 0 {
            pole.alarm(n);
        }
    }
    pole.commit();
    let stats = pole.uplink.outbox().stats();
    assert_eq!(stats.pending[0].records, ALARMS, "every alarm is kept");
    assert!(stats.pending_bytes() <= 65_536 + 4_096, "{stats:?}");
    let reported = stats.counters.evicted[2];
    assert!(reported > TELEMETRY / 2, "{stats:?}");
    // The report is telemetry too: queuing it may evict a little more.
    sao_runtime::reports::outbox(&pole.uplink, pole.clock.now_ms());
    pole.commit();
    let evicted = pole.uplink.outbox().stats().counters.evicted[2];

    broker.restart();
    sub.wait_for("the outbox emptied", LONG, |m| {
        m.iter().any(|m| m.topic.ends_with("/tele/sao/outbox"))
    });
    let messages = sub.messages();
    let alarms: Vec<&Message> = messages
        .iter()
        .filter(|m| m.topic.ends_with("/evt/burst/intrusion"))
        .collect();
    assert_eq!(alarms.len() as u64, ALARMS);
    let telemetry: Vec<u64> = messages
        .iter()
        .filter(|m| m.topic.ends_with("/tele/burst/air"))
        .map(Message::n)
        .collect();
    // The newest telemetry survived, contiguous up to the last record; the rest was evicted.
    assert_eq!(telemetry.len() as u64 + evicted, TELEMETRY);
    assert_eq!(*telemetry.last().unwrap(), TELEMETRY - 1);
    assert!(telemetry.windows(2).all(|w| w[0] + 1 == w[1]));
    // Alarms went out before any telemetry.
    let position = |pred: &dyn Fn(&Message) -> bool| messages.iter().position(pred).unwrap();
    let last_alarm = messages
        .iter()
        .rposition(|m| m.topic.ends_with("/evt/burst/intrusion"))
        .unwrap();
    assert!(last_alarm < position(&|m| m.topic.ends_with("/tele/burst/air")));
    // The eviction is counted upstream.
    let report = messages
        .iter()
        .find(|m| m.topic.ends_with("/tele/sao/outbox"))
        .unwrap();
    assert_eq!(
        report.payload["metrics"]["evicted-telemetry"]["value"],
        reported as f64
    );
    assert_eq!(report.payload["metrics"]["pending-alarms"]["value"], 50.0);
}

#[test]
fn tls_with_the_wrong_ca_is_refused_clearly_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let good = TlsFiles::generate(&dir.path().join("tls"), "city");
    let other = TlsFiles::generate(&dir.path().join("tls"), "stranger");
    let broker = Mosquitto::start_tls(&dir.path().join("broker"), &good, true);
    let sub = Subscriber::connect(broker.port, "sao/#");
    let with = |ca: &Path, cert: &Path, key: &Path| {
        format!(
            "{}ca-file = \"{}\"\nclient-cert = \"{}\"\nclient-key = \"{}\"\n",
            uplink_toml(&broker.tls_url()),
            ca.display(),
            cert.display(),
            key.display()
        )
    };

    let mut pole = Pole::start(
        dir.path(),
        &with(&other.ca, &good.client_cert, &good.client_key),
    );
    for n in 0..20 {
        pole.telemetry("air", n);
    }
    pole.commit();
    assert!(wait_until(LONG, || pole
        .link()
        .status()
        .last_error
        .is_some()));
    let error = pole.link().status().last_error.unwrap();
    assert!(
        error.contains("certificate") && error.contains("ca-file"),
        "{error}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(sub.messages().is_empty(), "nothing reached the broker");
    assert_eq!(pole.uplink.outbox().stats().pending_records(), 20);

    // The right CA and client certificate: the records waiting go out, marked historical.
    pole.reconnect(&with(&good.ca, &good.client_cert, &good.client_key));
    sub.wait_for("the waiting records and the birth", LONG, |m| {
        m.iter()
            .filter(|m| m.topic.ends_with("/tele/burst/air"))
            .count()
            == 20
            && m.iter().any(|m| m.topic.ends_with("/status"))
    });
    let air = sub.on("/tele/burst/air");
    assert!(air.iter().all(|m| m.payload["historical"] == true));
    let ns: Vec<u64> = air.iter().map(Message::n).collect();
    assert_eq!(ns, (0..20).collect::<Vec<_>>());
}

#[test]
fn a_broker_that_requires_a_client_certificate_refuses_a_pole_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let tls = TlsFiles::generate(&dir.path().join("tls"), "city");
    let broker = Mosquitto::start_tls(&dir.path().join("broker"), &tls, true);
    let pole = Pole::start(
        dir.path(),
        &format!(
            "{}ca-file = \"{}\"\n",
            uplink_toml(&broker.tls_url()),
            tls.ca.display()
        ),
    );
    pole.telemetry("air", 1);
    pole.commit();
    assert!(wait_until(LONG, || pole
        .link()
        .status()
        .last_error
        .is_some()));
    assert!(!pole.link().status().connected);
    assert_eq!(pole.uplink.outbox().stats().pending_records(), 1);
    let port = free_port();
    let config: UplinkConfig = toml::from_str(&format!(
        "broker = \"mqtts://127.0.0.1:{port}\"\nca-file = \"/nonexistent/ca.pem\"\n"
    ))
    .unwrap();
    let _guard = pole.rt.enter();
    let refused = mqtt::start(
        &config,
        pole.uplink.clone(),
        pole.clock.clone(),
        Inbox::none(),
    )
    .err()
    .expect("a missing CA file is an error at start");
    assert!(
        format!("{refused:#}").contains("/nonexistent/ca.pem"),
        "{refused:#}"
    );
}

#[test]
fn a_wrong_password_is_a_clear_error_and_the_right_one_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Mosquitto::start_with_password(&dir.path().join("broker"), "pole-7", "s3cret");
    let sub = Subscriber::connect(broker.port, "sao/#");
    std::fs::write(dir.path().join("password"), "s3cret\n").unwrap();
    let login = |password: &str| {
        format!(
            "{}username = \"pole-7\"\n{password}\n",
            uplink_toml(&broker.auth_url())
        )
    };
    let mut pole = Pole::start(dir.path(), &login("password = \"guess\""));
    pole.telemetry("air", 1);
    pole.commit();
    assert!(wait_until(LONG, || pole
        .link()
        .status()
        .last_error
        .is_some()));
    let error = pole.link().status().last_error.unwrap();
    assert!(error.contains("username, password"), "{error}");
    assert!(sub.messages().is_empty());

    // The password from a file (trailing newline ignored), as a real pole keeps it.
    let file = dir.path().join("password");
    pole.reconnect(&login(&format!("password-file = \"{}\"", file.display())));
    sub.wait_for("the waiting record", LONG, |m| {
        m.iter().any(|m| m.topic.ends_with("/tele/burst/air"))
    });
}
