//! The MQTT link: forwards the outbox to the broker at QoS 1 and removes each record only
//! when the broker has acknowledged it; publishes the retained birth on `…/status` at every
//! connection (with the Last Will saying `online: false` if the connection drops).
//!
//! Two tasks share the work. The *driver* polls rumqttc's event loop and nothing else
//! (polling is never cancelled, so no packet is half-written), reconnecting with doubling
//! backoff. The *forwarder* reads the outbox in priority order, keeps at most `in-flight`
//! records unacknowledged, and maps packet ids back to outbox keys: rumqttc numbers
//! publishes in the order it sends them, so the forwarder pairs each `Outgoing::Publish`
//! event with the oldest record it handed over. When the connection drops, the driver waits
//! until the forwarder has stopped sending, then empties rumqttc's queues (the clean session
//! would discard them anyway); the forwarder starts again from the outbox on the next
//! connection, marking records older than it `historical`.
//!
//! Inbound, the forwarder subscribes the [`Inbox`]'s filters at every connection and
//! follows their changes; the driver hands each message that arrives to the inbox.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use rumqttc::{
    AsyncClient, ConnectionError, Event, EventLoop, LastWill, MqttOptions, Outgoing, Packet, QoS,
    SubscribeFilter,
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use sao_hardware::TimeSource;

use super::inbox::{Inbox, Incoming};
use super::outbox::{Class, Key, OutboxError};
use super::{OfflineReason, StatusDoc, Uplink, UplinkConfig};

/// How often expired records are dropped while connected.
const EXPIRY_INTERVAL: Duration = Duration::from_secs(60);
/// Largest MQTT packet either way (records are capped well below it by the outbox).
pub const MAX_PACKET_BYTES: usize = 1024 * 1024;

/// The connection as operators and tests see it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LinkStatus {
    /// Connected to the broker now.
    pub connected: bool,
    /// The broker, `mqtt[s]://host:port`.
    pub broker: String,
    /// The last connection error, kept after reconnecting.
    pub last_error: Option<String>,
    /// The current (or last) session number.
    pub session: u64,
}

/// A running link. Call [`Link::shutdown`] to stop cleanly (the status turns offline
/// without waiting for the Last Will).
pub struct Link {
    status: watch::Receiver<LinkStatus>,
    stop: Option<oneshot::Sender<()>>,
    forwarder: JoinHandle<()>,
    driver: JoinHandle<()>,
    uplink: Arc<Uplink>,
}

/// What the driver tells the forwarder.
#[derive(Debug)]
enum LinkEvent {
    /// The broker accepted the connection.
    Up,
    /// rumqttc sent the next handed-over publish with this packet id.
    Sent(u16),
    /// The broker acknowledged this packet id.
    Acked(u16),
    /// The connection failed (`error` says why, for an operator); reply on `stopped` once
    /// no more publishes are handed over.
    Down {
        error: String,
        stopped: oneshot::Sender<()>,
    },
    /// Our disconnect went out.
    Closed,
}

/// Starts the link to the broker `config` names (or the embedded one); messages on the
/// `inbox`'s subscriptions are delivered to it.
pub fn start(
    config: &UplinkConfig,
    uplink: Arc<Uplink>,
    clock: Arc<dyn TimeSource>,
    inbox: Inbox,
) -> anyhow::Result<Link> {
    let endpoint = config.endpoint().map_err(anyhow::Error::msg)?;
    let identity = uplink.identity();
    let client_id = config
        .client_id
        .clone()
        .unwrap_or_else(|| format!("sao-{}-{}", identity.site, identity.id));
    let options = client_options(config, client_id)?;
    let window = usize::from(config.in_flight);
    let (client, eventloop) = AsyncClient::new(options, window + 8);
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let (status_tx, status_rx) = watch::channel(LinkStatus {
        broker: endpoint.to_string(),
        ..LinkStatus::default()
    });
    let (stop_tx, stop_rx) = oneshot::channel();
    let driver = Driver {
        eventloop,
        events: events_tx,
        broker: endpoint.to_string(),
        uplink: uplink.clone(),
        min_backoff: config.reconnect_min(),
        max_backoff: config.reconnect_max(),
        inbox: inbox.deliver,
    };
    let driver = tokio::spawn(driver.run());
    let forwarder = Forwarder {
        client,
        uplink: uplink.clone(),
        clock,
        window,
        status: status_tx,
        session: None,
        handed: VecDeque::new(),
        in_flight: HashMap::new(),
        sending: HashSet::new(),
        cursors: [None; 3],
        rewinds: 0,
        wanted: inbox.subscriptions.watch(),
        subscribed: BTreeSet::new(),
    };
    let forwarder = tokio::spawn(forwarder.run(events_rx, stop_rx));
    Ok(Link {
        status: status_rx,
        stop: Some(stop_tx),
        forwarder,
        driver,
        uplink,
    })
}

/// Connection options for `config`'s broker: address, keep-alive, credentials and TLS, as
/// a clean session (shared with `sao ctl`).
pub fn client_options(config: &UplinkConfig, client_id: String) -> anyhow::Result<MqttOptions> {
    let endpoint = config.endpoint().map_err(anyhow::Error::msg)?;
    let mut options = MqttOptions::new(client_id, endpoint.host.clone(), endpoint.port);
    options
        .set_keep_alive(Duration::from_secs(config.keep_alive_s))
        .set_clean_session(true)
        .set_inflight(config.in_flight)
        .set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES);
    if let Some(user) = &config.username {
        let password = config.password().map_err(anyhow::Error::msg)?;
        options.set_credentials(user.clone(), password.unwrap_or_default());
    }
    if endpoint.tls {
        let tls = tls_config(config)?;
        options.set_transport(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(Arc::new(tls)),
        ));
    }
    Ok(options)
}

/// The rustls client config: the configured CA (or the system's roots) and, when given,
/// the client certificate.
fn tls_config(config: &UplinkConfig) -> anyhow::Result<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let mut roots = rustls::RootCertStore::empty();
    match &config.ca_file {
        Some(path) => {
            for cert in CertificateDer::pem_file_iter(path)
                .with_context(|| format!("cannot read CA file {}", path.display()))?
            {
                let cert =
                    cert.with_context(|| format!("CA file {} is not PEM", path.display()))?;
                roots.add(cert).with_context(|| {
                    format!("CA file {} holds a bad certificate", path.display())
                })?;
            }
            anyhow::ensure!(
                !roots.is_empty(),
                "CA file {} holds no certificate",
                path.display()
            );
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
            anyhow::ensure!(
                !roots.is_empty(),
                "no system CA certificates found; set [uplink] ca-file"
            );
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS set-up")?
        .with_root_certificates(roots);
    Ok(match (&config.client_cert, &config.client_key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .with_context(|| format!("cannot read client certificate {}", cert.display()))?;
            let key = PrivateKeyDer::from_pem_file(key)
                .with_context(|| format!("cannot read client key {}", key.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .context("client certificate and key do not match")?
        }
        _ => builder.with_no_client_auth(),
    })
}

impl Link {
    /// The connection now.
    pub fn status(&self) -> LinkStatus {
        self.status.borrow().clone()
    }

    /// Follows the connection status.
    pub fn watch(&self) -> watch::Receiver<LinkStatus> {
        self.status.clone()
    }

    /// Waits until the outbox is empty and nothing is in flight, or `timeout` passes;
    /// returns whether it emptied.
    pub async fn drain(&self, timeout: Duration) -> bool {
        let outbox = self.uplink.outbox().clone();
        tokio::time::timeout(timeout, async move {
            while outbox.stats().pending_records() > 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
        .await
        .is_ok()
    }

    /// Publishes the current (offline) status, waits up to `timeout` for the broker to
    /// acknowledge it, disconnects cleanly and makes the outbox durable.
    pub async fn shutdown(mut self, timeout: Duration) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(timeout, &mut self.forwarder)
            .await
            .is_err()
        {
            tracing::warn!("uplink did not stop within {timeout:?}");
            self.forwarder.abort();
        }
        self.driver.abort();
        if let Err(e) = self.uplink.outbox().commit() {
            tracing::error!("outbox: {e}");
        }
    }
}

/// Polls rumqttc's event loop and reconnects.
struct Driver {
    eventloop: EventLoop,
    events: mpsc::UnboundedSender<LinkEvent>,
    /// `mqtt[s]://host:port`, for error messages.
    broker: String,
    uplink: Arc<Uplink>,
    min_backoff: Duration,
    max_backoff: Duration,
    inbox: mpsc::UnboundedSender<Incoming>,
}

impl Driver {
    /// The Last Will for the next session.
    fn set_will(&mut self) {
        let session = self.uplink.outbox().stats().counters.sessions + 1;
        let doc = self.uplink.watch_status().borrow().clone();
        let payload =
            self.uplink
                .status_payload(&doc, Some(OfflineReason::ConnectionLost), session);
        self.eventloop.mqtt_options.set_last_will(LastWill::new(
            self.uplink.status_topic(),
            payload.to_string(),
            QoS::AtLeastOnce,
            true,
        ));
    }

    async fn run(mut self) {
        let mut backoff = self.min_backoff;
        self.set_will();
        loop {
            let event = match self.eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff = self.min_backoff;
                    LinkEvent::Up
                }
                Ok(Event::Incoming(Packet::PubAck(ack))) => LinkEvent::Acked(ack.pkid),
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    // Nobody listening (a pole without remote control) is not an error.
                    let _ = self.inbox.send(Incoming {
                        topic: publish.topic,
                        payload: publish.payload.to_vec(),
                    });
                    continue;
                }
                Ok(Event::Outgoing(Outgoing::Publish(pkid))) => LinkEvent::Sent(pkid),
                Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                    let _ = self.events.send(LinkEvent::Closed);
                    return;
                }
                Ok(_) => continue,
                Err(e) => {
                    let (stopped_tx, stopped_rx) = oneshot::channel();
                    let down = LinkEvent::Down {
                        error: describe(&e, &self.broker),
                        stopped: stopped_tx,
                    };
                    if self.events.send(down).is_err() || stopped_rx.await.is_err() {
                        return;
                    }
                    // Publishes handed over after the failure would otherwise go out on
                    // the next connection, out of step with the forwarder's bookkeeping.
                    self.eventloop.clean();
                    self.eventloop.pending.clear();
                    self.set_will();
                    tokio::time::sleep(jitter(backoff)).await;
                    backoff = (backoff * 2).min(self.max_backoff);
                    continue;
                }
            };
            if self.events.send(event).is_err() {
                return;
            }
        }
    }
}

/// `d` ± 20 %, so a fleet that lost its broker together does not reconnect together.
fn jitter(d: Duration) -> Duration {
    d.mul_f64(0.8 + 0.4 * fastrand::f64())
}

/// What a handed-over publish was.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Handed {
    Record(Key),
    Status,
}

struct Session {
    number: u64,
    started_ms: u64,
}

/// Sends outbox records and status documents; pairs acknowledgements with records.
struct Forwarder {
    client: AsyncClient,
    uplink: Arc<Uplink>,
    clock: Arc<dyn TimeSource>,
    window: usize,
    status: watch::Sender<LinkStatus>,
    session: Option<Session>,
    /// Handed to rumqttc, packet id not yet known (in hand-over order).
    handed: VecDeque<Handed>,
    /// Sent, awaiting the broker's acknowledgement.
    in_flight: HashMap<u16, Handed>,
    /// Keys handed or in flight.
    sending: HashSet<Key>,
    /// Per class, the last order read from the outbox in this session.
    cursors: [Option<u64>; 3],
    rewinds: u64,
    /// The filters the inbox wants.
    wanted: watch::Receiver<BTreeSet<String>>,
    /// The filters subscribed in this session.
    subscribed: BTreeSet<String>,
}

impl Forwarder {
    async fn run(
        mut self,
        mut events: mpsc::UnboundedReceiver<LinkEvent>,
        mut stop: oneshot::Receiver<()>,
    ) {
        let mut docs = self.uplink.watch_status();
        let mut expiry = tokio::time::interval(EXPIRY_INTERVAL);
        let outbox = self.uplink.outbox().clone();
        loop {
            tokio::select! {
                biased;
                event = events.recv() => match event {
                    Some(event) => self.handle(event),
                    None => return,
                },
                Ok(()) = docs.changed() => {
                    docs.mark_unchanged();
                    self.publish_status();
                }
                Ok(()) = self.wanted.changed() => self.subscribe(),
                _ = outbox.queued() => {}
                _ = expiry.tick() => self.expire(),
                _ = &mut stop => break,
            }
            self.fill();
        }
        self.finish(events).await;
    }

    /// Clean stop: the status document (offline by now) is acknowledged, then disconnect.
    async fn finish(mut self, mut events: mpsc::UnboundedReceiver<LinkEvent>) {
        if self.session.is_none() {
            return;
        }
        self.publish_status();
        while self.status_unacknowledged() {
            match events.recv().await {
                Some(LinkEvent::Down { stopped, .. }) => {
                    let _ = stopped.send(());
                    return;
                }
                Some(event) => self.handle(event),
                None => return,
            }
        }
        if self.client.try_disconnect().is_ok() {
            while let Some(event) = events.recv().await {
                if matches!(event, LinkEvent::Closed) {
                    break;
                }
            }
        }
    }

    fn status_unacknowledged(&self) -> bool {
        self.handed.contains(&Handed::Status)
            || self.in_flight.values().any(|h| *h == Handed::Status)
    }

    fn handle(&mut self, event: LinkEvent) {
        match event {
            LinkEvent::Up => self.connected(),
            LinkEvent::Sent(pkid) => match self.handed.pop_front() {
                Some(handed) => {
                    self.in_flight.insert(pkid, handed);
                }
                None => {
                    tracing::error!(pkid, "uplink: a publish went out that was not handed over")
                }
            },
            LinkEvent::Acked(pkid) => match self.in_flight.remove(&pkid) {
                Some(Handed::Record(key)) => {
                    self.sending.remove(&key);
                    if let Err(e) = self.uplink.outbox().ack(key) {
                        tracing::error!("outbox: {e}");
                    }
                }
                Some(Handed::Status) => {}
                None => tracing::debug!(pkid, "uplink: acknowledgement of an earlier session"),
            },
            LinkEvent::Down { error, stopped } => {
                self.disconnected(error);
                let _ = stopped.send(());
            }
            LinkEvent::Closed => {}
        }
    }

    fn connected(&mut self) {
        let outbox = self.uplink.outbox();
        let number = match outbox.next_session() {
            Ok(n) => n,
            Err(e) => {
                tracing::error!("outbox: {e}");
                outbox.stats().counters.sessions
            }
        };
        self.session = Some(Session {
            number,
            started_ms: self.clock.now_ms(),
        });
        self.status.send_modify(|s| {
            s.connected = true;
            s.session = number;
        });
        let stats = outbox.stats();
        tracing::info!(
            broker = %self.status.borrow().broker,
            session = number,
            queued = stats.pending_records(),
            "uplink connected"
        );
        self.expire();
        self.subscribe();
        self.publish_status();
    }

    /// Brings the session's subscriptions in line with the filters the inbox wants.
    fn subscribe(&mut self) {
        if self.session.is_none() {
            return;
        }
        let wanted = self.wanted.borrow_and_update().clone();
        let new: Vec<SubscribeFilter> = wanted
            .difference(&self.subscribed)
            .map(|f| SubscribeFilter::new(f.clone(), QoS::AtLeastOnce))
            .collect();
        if !new.is_empty() {
            if let Err(e) = self.client.try_subscribe_many(new) {
                tracing::error!("uplink: cannot subscribe: {e}");
                return;
            }
        }
        for gone in self.subscribed.difference(&wanted) {
            if let Err(e) = self.client.try_unsubscribe(gone.clone()) {
                tracing::error!("uplink: cannot unsubscribe {gone}: {e}");
            }
        }
        self.subscribed = wanted;
    }

    fn disconnected(&mut self, message: String) {
        let was_connected = self.session.take().is_some();
        self.handed.clear();
        self.in_flight.clear();
        self.sending.clear();
        self.cursors = [None; 3];
        self.subscribed.clear();
        let repeated = self.status.borrow().last_error.as_deref() == Some(&message);
        if was_connected || !repeated {
            tracing::warn!("uplink: {message}; records wait in the outbox");
        } else {
            tracing::debug!("uplink: {message}");
        }
        self.status.send_modify(|s| {
            s.connected = false;
            s.last_error = Some(message);
        });
    }

    fn publish_status(&mut self) {
        let Some(session) = &self.session else {
            return;
        };
        let doc: StatusDoc = self.uplink.watch_status().borrow().clone();
        let offline = (!doc.online).then_some(OfflineReason::Shutdown);
        let payload = self.uplink.status_payload(&doc, offline, session.number);
        match self.client.try_publish(
            self.uplink.status_topic(),
            QoS::AtLeastOnce,
            true,
            payload.to_string(),
        ) {
            Ok(()) => self.handed.push_back(Handed::Status),
            Err(e) => tracing::error!("uplink: status not sent: {e}"),
        }
    }

    fn expire(&self) {
        match self.uplink.outbox().expire() {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                records = n,
                "outbox: records outlived their TTL and were dropped"
            ),
            Err(e) => tracing::error!("outbox: {e}"),
        }
    }

    /// Hands over records, highest class first, while the window has room.
    fn fill(&mut self) {
        let Some(session) = &self.session else {
            return;
        };
        let connected_ms = session.started_ms;
        let rewinds = self.uplink.outbox().rewinds();
        if rewinds != self.rewinds {
            self.rewinds = rewinds;
            self.cursors = [None; 3];
        }
        while self.handed.len() + self.in_flight.len() < self.window {
            let next = match self.next_record() {
                Ok(Some(next)) => next,
                Ok(None) => return,
                Err(e) => {
                    tracing::error!("outbox: {e}");
                    return;
                }
            };
            let payload = next.payload_for(connected_ms);
            if let Err(e) =
                self.client
                    .try_publish(next.topic, QoS::AtLeastOnce, next.retain, payload)
            {
                tracing::warn!("uplink: hand-over refused ({e}); retrying");
                return;
            }
            self.cursors[next.key.class as usize] = Some(next.key.order);
            self.sending.insert(next.key);
            self.handed.push_back(Handed::Record(next.key));
        }
    }

    fn next_record(&mut self) -> Result<Option<super::outbox::Queued>, OutboxError> {
        let outbox = self.uplink.outbox();
        for class in Class::ALL {
            let cursor = &mut self.cursors[class as usize];
            while let Some(next) = outbox.next_after(class, *cursor)? {
                if !self.sending.contains(&next.key) {
                    return Ok(Some(next));
                }
                *cursor = Some(next.key.order);
            }
        }
        Ok(None)
    }
}

/// A connection error in words an operator can act on.
fn describe(error: &ConnectionError, broker: &str) -> String {
    let hint = match error {
        ConnectionError::Tls(_) => {
            " (check [uplink] ca-file, client-cert and the broker's certificate name)"
        }
        ConnectionError::ConnectionRefused(_) => {
            " (check [uplink] username, password and client-id)"
        }
        ConnectionError::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            " (is the broker running and listening there?)"
        }
        _ => "",
    };
    format!("cannot reach broker {broker}: {error}{hint}")
}
