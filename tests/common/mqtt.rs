//! A real Mosquitto broker per test (on a free port, persistent so a subscriber's session
//! survives a broker restart), a QoS 1 subscriber that records what arrives, TLS
//! certificates made on the spot, and the payload schemas of `runtime/schemas/`.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A free TCP port on localhost.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `check` every 20 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// TLS material for the broker (and optionally the client).
pub struct TlsFiles {
    /// CA that signed the broker's certificate.
    pub ca: PathBuf,
    /// Broker certificate (for 127.0.0.1) and key.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// A client certificate signed by the same CA, and its key.
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl TlsFiles {
    /// A CA, a server certificate for 127.0.0.1 and a client certificate, in `dir`.
    pub fn generate(dir: &Path, name: &str) -> Self {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
        std::fs::create_dir_all(dir).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("{name} test CA"));
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().unwrap();
        let mut server_params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        server_params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();

        let client_key = KeyPair::generate().unwrap();
        let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        client_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "pole");
        let client_cert = client_params.signed_by(&client_key, &issuer).unwrap();

        let write = |file: &str, text: String| {
            let path = dir.join(format!("{name}-{file}"));
            std::fs::write(&path, text).unwrap();
            path
        };
        Self {
            ca: write("ca.pem", ca_cert.pem()),
            cert: write("server.pem", server_cert.pem()),
            key: write("server.key", server_key.serialize_pem()),
            client_cert: write("client.pem", client_cert.pem()),
            client_key: write("client.key", client_key.serialize_pem()),
        }
    }
}

/// A Mosquitto broker process.
pub struct Mosquitto {
    /// Plain listener.
    pub port: u16,
    /// The TLS or password-protected listener, if any.
    pub second_port: Option<u16>,
    conf: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Mosquitto {
    /// A plain (no TLS) broker with its state in `dir`.
    pub fn start(dir: &Path) -> Self {
        Self::start_with(dir, None)
    }

    /// A broker with a second, TLS listener on `second_port` (the plain one is for test
    /// subscribers); with `require_client_cert`, TLS clients must present a certificate.
    pub fn start_tls(dir: &Path, tls: &TlsFiles, require_client_cert: bool) -> Self {
        let settings = format!(
            "allow_anonymous true\ncafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate {}\n",
            tls.ca.display(),
            tls.cert.display(),
            tls.key.display(),
            require_client_cert
        );
        Self::start_with(dir, Some(&settings))
    }

    /// A broker with a second listener on `second_port` that wants `user`'s password.
    pub fn start_with_password(dir: &Path, user: &str, password: &str) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let file = dir.join("passwords");
        let status = Command::new("mosquitto_passwd")
            .args(["-b", "-c"])
            .arg(&file)
            .args([user, password])
            .status()
            .expect("mosquitto_passwd is installed with mosquitto");
        assert!(status.success());
        let settings = format!("allow_anonymous false\npassword_file {}\n", file.display());
        Self::start_with(dir, Some(&settings))
    }

    fn start_with(dir: &Path, second_listener: Option<&str>) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let port = free_port();
        let second_port = second_listener.map(|_| free_port());
        let second = match (second_port, second_listener) {
            (Some(p), Some(settings)) => format!("listener {p} 127.0.0.1\n{settings}"),
            _ => String::new(),
        };
        let conf = dir.join("mosquitto.conf");
        // Unlimited queues: Debian's default drops QoS 1 messages to slow subscribers.
        // `user root` keeps a broker started as root able to save its state in `dir`
        // (it otherwise drops to the `mosquitto` user); without root it has no effect.
        std::fs::write(
            &conf,
            format!(
                "user root\nper_listener_settings true\nmax_queued_messages 0\n\
                 max_inflight_messages 0\n\
                 persistence true\npersistence_location {}/\n\
                 autosave_interval 0\nlistener {port} 127.0.0.1\nallow_anonymous true\n{second}",
                dir.display()
            ),
        )
        .unwrap();
        let mut broker = Self {
            port,
            second_port,
            conf,
            log: dir.join("mosquitto.log"),
            child: None,
        };
        broker.restart();
        broker
    }

    /// The URL a pole config points at: the plain listener.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// The URL of the TLS listener.
    pub fn tls_url(&self) -> String {
        format!(
            "mqtts://127.0.0.1:{}",
            self.second_port.expect("a TLS broker")
        )
    }

    /// The URL of the password-protected listener.
    pub fn auth_url(&self) -> String {
        format!(
            "mqtt://127.0.0.1:{}",
            self.second_port.expect("a second listener")
        )
    }

    /// Starts the (stopped) broker again on the same port, with its saved state.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "broker already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("mosquitto is installed (.ci/setup installs it)");
        self.child = Some(child);
        let port = self.port;
        assert!(
            wait_until(Duration::from_secs(10), || TcpStream::connect((
                "127.0.0.1",
                port
            ))
            .is_ok()),
            "mosquitto did not start: {}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    /// Stops the broker the way a service manager does (SIGTERM; it saves its state).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), "TERM");
            child.wait().unwrap();
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends `signal` (e.g. `TERM`, `KILL`, `INT`) to process `pid`.
pub fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

/// One message as the subscriber received it.
#[derive(Debug, Clone)]
pub struct Message {
    pub topic: String,
    pub payload: Value,
    pub retain: bool,
}

impl Message {
    /// The record's `seq`.
    pub fn seq(&self) -> u64 {
        self.payload["seq"].as_u64().unwrap()
    }

    /// The test's record number: metric `n` of telemetry, or `details.n` of an event.
    pub fn n(&self) -> u64 {
        let p = &self.payload;
        p["metrics"]["n"]["value"]
            .as_f64()
            .or_else(|| p["details"]["n"].as_f64())
            .unwrap() as u64
    }
}

/// How many distinct record numbers `n` arrived (QoS 1 may repeat some).
pub fn distinct_records(messages: &[Message]) -> usize {
    let mut ns: Vec<u64> = messages.iter().map(Message::n).collect();
    ns.sort_unstable();
    ns.dedup();
    ns.len()
}

/// Checks one stream as a QoS 1 subscriber saw it: a repeated `seq` is the same record
/// sent again, records first arrive in `seq` order, and `seq` runs 1..=max without gaps.
/// Returns each `seq` with its record number.
pub fn check_stream(what: &str, messages: &[&Message]) -> std::collections::BTreeMap<u64, u64> {
    let mut by_seq = std::collections::BTreeMap::new();
    let mut first_arrivals = Vec::new();
    for m in messages {
        let (s, n) = (m.seq(), m.n());
        match by_seq.insert(s, n) {
            None => first_arrivals.push(s),
            Some(previous) => assert_eq!(previous, n, "{what}: seq {s} carried two records"),
        }
    }
    let max = *by_seq.keys().last().unwrap();
    assert_eq!(
        by_seq.len() as u64,
        max,
        "{what}: seq 1..={max} without gaps"
    );
    assert!(
        first_arrivals.windows(2).all(|w| w[0] < w[1]),
        "{what}: records first arrive in seq order"
    );
    by_seq
}

/// A QoS 1 subscriber with a persistent session: it reconnects after a broker restart
/// and receives what was queued for it meanwhile.
pub struct Subscriber {
    messages: Arc<Mutex<Vec<Message>>>,
    client: rumqttc::Client,
}

impl Subscriber {
    /// Subscribes to `filter` on the plain broker at `port`, and waits for the subscription.
    pub fn connect(port: u16, filter: &str) -> Self {
        let id = format!("test-sub-{}", fastrand_suffix());
        let mut options = rumqttc::MqttOptions::new(id, "127.0.0.1", port);
        options
            .set_clean_session(false)
            .set_keep_alive(Duration::from_secs(5))
            .set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut connection) = rumqttc::Client::new(options, 1000);
        let messages = Arc::new(Mutex::new(Vec::new()));
        let subscribed = Arc::new(Mutex::new(false));
        let (sink, flag, sub_client, filter_owned) = (
            messages.clone(),
            subscribed.clone(),
            client.clone(),
            filter.to_string(),
        );
        std::thread::spawn(move || {
            for event in connection.iter() {
                match event {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => {
                        let _ =
                            sub_client.subscribe(filter_owned.clone(), rumqttc::QoS::AtLeastOnce);
                    }
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => {
                        *flag.lock().unwrap() = true;
                    }
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                        let payload = serde_json::from_slice(&p.payload).unwrap_or_else(|_| {
                            Value::String(String::from_utf8_lossy(&p.payload).into_owned())
                        });
                        sink.lock().unwrap().push(Message {
                            topic: p.topic.clone(),
                            payload,
                            retain: p.retain,
                        });
                    }
                    Ok(_) => {}
                    Err(rumqttc::ConnectionError::RequestsDone) => return,
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        });
        assert!(
            wait_until(Duration::from_secs(10), || *subscribed.lock().unwrap()),
            "subscription to {filter} on port {port} was not acknowledged"
        );
        Self { messages, client }
    }

    /// Publishes `payload` retained at QoS 1 (as an operator tool would).
    pub fn publish_retained(&self, topic: &str, payload: Vec<u8>) {
        self.client
            .publish(topic, rumqttc::QoS::AtLeastOnce, true, payload)
            .unwrap();
    }

    /// Publishes `payload` at QoS 1, not retained (as a data feed would).
    pub fn publish(&self, topic: &str, payload: &[u8]) {
        self.client
            .publish(topic, rumqttc::QoS::AtLeastOnce, false, payload.to_vec())
            .unwrap();
    }

    /// Everything received so far.
    pub fn messages(&self) -> Vec<Message> {
        self.messages.lock().unwrap().clone()
    }

    /// Messages whose topic ends with `suffix`.
    pub fn on(&self, suffix: &str) -> Vec<Message> {
        self.messages()
            .into_iter()
            .filter(|m| m.topic.ends_with(suffix))
            .collect()
    }

    /// Waits until `check` holds on the messages received; panics with them if it never does.
    pub fn wait_for(&self, what: &str, timeout: Duration, check: impl Fn(&[Message]) -> bool) {
        // On a copy, so `check` may use the subscriber too.
        if !wait_until(timeout, || check(&self.messages())) {
            let got = self.messages();
            let tail: Vec<_> = got.iter().rev().take(5).collect();
            panic!(
                "timed out waiting for {what}; {} messages, last: {tail:#?}",
                got.len()
            );
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.client.disconnect();
    }
}

fn fastrand_suffix() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// Validators of the published payload schemas (`runtime/schemas/`), by record kind.
pub struct Schemas {
    telemetry: jsonschema::Validator,
    event: jsonschema::Validator,
    status: jsonschema::Validator,
    reported: jsonschema::Validator,
    desired: jsonschema::Validator,
    deploy_status: jsonschema::Validator,
    deployment: jsonschema::Validator,
    alert: jsonschema::Validator,
}

impl Schemas {
    pub fn load() -> Self {
        let dir = super::root().join("runtime/schemas");
        let read = |name: &str| -> Value {
            serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
        };
        let envelope = read("envelope.schema.json");
        let desired = read("desired-config.schema.json");
        let registry = jsonschema::Registry::new()
            .add(envelope["$id"].as_str().unwrap(), envelope.clone())
            .unwrap()
            .add(desired["$id"].as_str().unwrap(), desired.clone())
            .unwrap()
            .prepare()
            .unwrap();
        let build = |name: &str| {
            jsonschema::options()
                .with_registry(&registry)
                .build(&read(name))
                .unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        Self {
            telemetry: build("telemetry.schema.json"),
            event: build("event.schema.json"),
            status: build("status.schema.json"),
            reported: build("reported.schema.json"),
            desired: build("desired-config.schema.json"),
            deploy_status: build("deploy-status.schema.json"),
            deployment: build("desired-deployment.schema.json"),
            alert: build("alert.schema.json"),
        }
    }

    /// Checks a message against the schema its topic calls for; panics with the errors.
    pub fn check(&self, message: &Message) {
        let validator = if message.topic.contains("/tele/") {
            &self.telemetry
        } else if message.topic.contains("/evt/") {
            &self.event
        } else if message.topic.contains("/alert/") {
            &self.alert
        } else if message.topic.ends_with("/deploy/status") {
            &self.deploy_status
        } else if message.topic.ends_with("/status") {
            &self.status
        } else if message.topic.contains("/cfg/") && message.topic.ends_with("/reported") {
            &self.reported
        } else if message.topic.contains("/cfg/") && message.topic.ends_with("/desired") {
            &self.desired
        } else if message.topic.ends_with("/deploy/desired") {
            &self.deployment
        } else {
            panic!("no schema for topic {}", message.topic);
        };
        let errors: Vec<String> = validator
            .iter_errors(&message.payload)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{} does not match its schema: {errors:?}\n{}",
            message.topic,
            message.payload
        );
    }
}
