//! Uplink benchmarks, each against a baseline measured in the same run, printed as ratios:
//!
//! 1. durable enqueue: records (200-byte payloads) written to the sled outbox and flushed
//!    (per record, and per batch of 100 as the main loop does per step) vs. the same loop
//!    pushing the same bytes into an in-memory queue;
//! 2. replay after an outage: draining a backlog from the outbox to a local Mosquitto
//!    through the MQTT link vs. a bare rumqttc QoS 1 publish loop to the same broker.
//!
//! Needs `mosquitto` (installed by `.ci/setup`). Run:
//! `cargo bench -p sao-runtime --bench uplink`

mod common;

use std::collections::VecDeque;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use sao_hardware::{SystemClock, TimeSource};
use sao_runtime::uplink::outbox::{Class, NewRecord};
use sao_runtime::uplink::{mqtt, Inbox, Outbox, OutboxConfig, Uplink, UplinkConfig};

const ENQUEUED: usize = 5_000;
const BACKLOG: usize = 20_000;
const IN_FLIGHT: u16 = 64;

/// A payload of about 200 bytes once serialised with its `seq`.
fn payload(n: usize) -> Map<String, Value> {
    let value = json!({
        "ts": 1_795_278_600_000u64 + n as u64,
        "stream": "pm25",
        "metrics": { "pm25": { "value": 23.5, "unit": "ug/m3" } },
        "pad": "x".repeat(100),
    });
    value.as_object().unwrap().clone()
}

fn record(n: usize) -> NewRecord {
    NewRecord {
        topic: "sao/v1/bench/pole-1/tele/air/pm25".into(),
        class: Class::Telemetry,
        retain: false,
        payload: payload(n),
    }
}

fn open_outbox(dir: &std::path::Path) -> Outbox {
    let db = sled::open(dir.join("db")).unwrap();
    let clock: Arc<dyn TimeSource> = Arc::new(SystemClock);
    Outbox::open(&db, OutboxConfig::default(), clock).unwrap()
}

fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

fn report(name: &str, subject: f64, baseline: f64, baseline_label: &str) {
    println!(
        "{name:<44} {subject:>10.0} msg/s   {baseline_label} {baseline:>10.0} msg/s   ratio {:>6.3}",
        subject / baseline
    );
}

fn bench_enqueue() {
    let baseline = {
        let start = Instant::now();
        let mut queue = VecDeque::new();
        for n in 0..ENQUEUED {
            let mut p = payload(n);
            p.insert("seq".into(), json!(n + 1));
            queue.push_back(serde_json::to_vec(&Value::Object(p)).unwrap());
        }
        std::hint::black_box(&queue);
        rate(ENQUEUED, start.elapsed())
    };
    for (label, batch) in [
        ("durable enqueue, flush per record", 1),
        ("durable enqueue, flush per 100", 100),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let outbox = open_outbox(dir.path());
        let start = Instant::now();
        for n in 0..ENQUEUED {
            outbox.enqueue(record(n)).unwrap();
            if (n + 1) % batch == 0 {
                outbox.commit().unwrap();
            }
        }
        outbox.commit().unwrap();
        report(
            label,
            rate(ENQUEUED, start.elapsed()),
            baseline,
            "in memory",
        );
    }
}

/// A local Mosquitto with unlimited queues, killed on drop.
struct Broker {
    port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Broker {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n"),
        )
        .unwrap();
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto is installed (.ci/setup)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        Self {
            port,
            child,
            _dir: dir,
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The outbox holding a backlog, drained through the MQTT link.
async fn drain_through_link(port: u16) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Arc::new(open_outbox(dir.path()));
    for n in 0..BACKLOG {
        outbox.enqueue(record(n)).unwrap();
    }
    outbox.commit().unwrap();
    let identity = common::identity();
    let uplink = Arc::new(Uplink::new(identity, outbox.clone(), None));
    let config: UplinkConfig = toml::from_str(&format!(
        "broker = \"mqtt://127.0.0.1:{port}\"\nin-flight = {IN_FLIGHT}\n"
    ))
    .unwrap();
    let start = Instant::now();
    let link = mqtt::start(&config, uplink, Arc::new(SystemClock), Inbox::none()).unwrap();
    assert!(
        link.drain(Duration::from_secs(300)).await,
        "backlog drained"
    );
    let elapsed = start.elapsed();
    link.shutdown(Duration::from_secs(2)).await;
    rate(BACKLOG, elapsed)
}

/// The same payloads published by a bare rumqttc client, waiting for every ack.
async fn bare_rumqttc(port: u16) -> f64 {
    let mut options = rumqttc::MqttOptions::new("bench-bare", "127.0.0.1", port);
    options.set_inflight(IN_FLIGHT);
    let (client, mut eventloop) = rumqttc::AsyncClient::new(options, 100);
    let payloads: Vec<Vec<u8>> = (0..BACKLOG)
        .map(|n| {
            let mut p = payload(n);
            p.insert("seq".into(), json!(n + 1));
            serde_json::to_vec(&Value::Object(p)).unwrap()
        })
        .collect();
    let start = Instant::now();
    tokio::spawn(async move {
        for p in payloads {
            client
                .publish(
                    "sao/v1/bench/pole-1/tele/air/pm25",
                    rumqttc::QoS::AtLeastOnce,
                    false,
                    p,
                )
                .await
                .unwrap();
        }
    });
    let mut acked = 0;
    while acked < BACKLOG {
        if let rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)) =
            eventloop.poll().await.unwrap()
        {
            acked += 1;
        }
    }
    rate(BACKLOG, start.elapsed())
}

fn bench_replay() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for _ in 0..3 {
        let broker = Broker::start();
        let bare = rt.block_on(bare_rumqttc(broker.port));
        let ours = rt.block_on(drain_through_link(broker.port));
        report(
            "replay after an outage (outbox → Mosquitto)",
            ours,
            bare,
            "bare rumqttc",
        );
    }
}

fn main() {
    bench_enqueue();
    bench_replay();
}
