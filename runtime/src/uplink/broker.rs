//! The embedded MQTT broker (rumqttd): with no city broker configured, the pole runs its
//! own on localhost, so a single box and the demo work out of the box and local tools
//! (`mosquitto_sub`, a dashboard) can watch the pole's records.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

/// How long the broker may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(5);

/// Starts a broker on `listen` (MQTT 3.1.1, no TLS: it is meant for localhost) in its
/// own thread for the life of the process, and waits until it accepts connections.
pub fn start(listen: SocketAddr) -> anyhow::Result<()> {
    // rumqttd only logs a failed bind from its own thread; check first for a clear error.
    TcpListener::bind(listen).with_context(|| {
        format!(
            "cannot start the embedded MQTT broker on {listen} (is another broker running? \
             set [uplink] broker to use it, or embedded-listen to move this one)"
        )
    })?;
    let config: rumqttd::Config =
        toml::from_str(&config_text(listen)).context("embedded broker configuration")?;
    let mut broker = rumqttd::Broker::new(config);
    std::thread::Builder::new()
        .name("sao-mqtt-broker".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                tracing::error!("embedded MQTT broker stopped: {e}");
            }
        })
        .context("starting the embedded broker thread")?;
    let deadline = Instant::now() + START_TIMEOUT;
    while TcpStream::connect(listen).is_err() {
        if Instant::now() > deadline {
            bail!("the embedded MQTT broker did not start listening on {listen}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    tracing::info!(%listen, "embedded MQTT broker started");
    Ok(())
}

/// rumqttd settings sized for one pole: a few local clients, payloads up to the outbox's
/// limit, and small in-memory logs.
fn config_text(listen: SocketAddr) -> String {
    format!(
        r#"
id = 0

[router]
id = 0
max_connections = 64
max_outgoing_packet_count = 200
max_segment_size = 1048576
max_segment_count = 4

[v4.1]
name = "sao-local"
listen = "{listen}"
next_connection_delay_ms = 1

[v4.1.connections]
connection_timeout_ms = 60000
max_payload_size = 1048576
max_inflight_count = 200
dynamic_filters = true
"#
    )
}
