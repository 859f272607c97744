//! `[uplink]` in `pole.toml`: which broker, how to authenticate, how patient to be, and
//! the outbox limits. Checked when the config is loaded, so a typo is an error at start,
//! not a silent offline pole.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::outbox::OutboxConfig;

/// The uplink settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct UplinkConfig {
    /// The city's broker, `mqtt://host[:port]` or `mqtts://host[:port]` (TLS). Without
    /// one, the pole starts an embedded broker on `embedded-listen` and publishes there.
    pub broker: Option<String>,
    /// MQTT client id (default `sao-{site}-{pole}`).
    pub client_id: Option<String>,
    /// User name.
    pub username: Option<String>,
    /// Password, inline (prefer `password-file`).
    pub password: Option<String>,
    /// File holding the password (trailing newline ignored).
    pub password_file: Option<PathBuf>,
    /// PEM file of the CA(s) that sign the broker's certificate (default: the system's).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain, for brokers that require client authentication.
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client-cert`.
    pub client_key: Option<PathBuf>,
    /// MQTT keep-alive, in seconds.
    #[serde(default = "UplinkConfig::default_keep_alive")]
    pub keep_alive_s: u64,
    /// First reconnection delay, in milliseconds; doubles up to `reconnect-max-ms`.
    #[serde(default = "UplinkConfig::default_reconnect_min")]
    pub reconnect_min_ms: u64,
    /// Longest reconnection delay, in milliseconds.
    #[serde(default = "UplinkConfig::default_reconnect_max")]
    pub reconnect_max_ms: u64,
    /// Records sent but not yet acknowledged, at most.
    #[serde(default = "UplinkConfig::default_in_flight")]
    pub in_flight: u16,
    /// Address of the embedded broker (used only without `broker`).
    #[serde(default = "UplinkConfig::default_embedded_listen")]
    pub embedded_listen: SocketAddr,
    /// Outbox limits.
    #[serde(default)]
    pub outbox: OutboxConfig,
}

impl UplinkConfig {
    fn default_keep_alive() -> u64 {
        30
    }

    fn default_reconnect_min() -> u64 {
        500
    }

    fn default_reconnect_max() -> u64 {
        60_000
    }

    fn default_in_flight() -> u16 {
        64
    }

    fn default_embedded_listen() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 1883))
    }

    /// Makes relative file paths relative to `base` (the config file's directory).
    pub fn resolve_paths(&mut self, base: &Path) {
        for path in [
            &mut self.password_file,
            &mut self.ca_file,
            &mut self.client_cert,
            &mut self.client_key,
        ]
        .into_iter()
        .flatten()
        {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        }
    }

    /// Checks the settings hang together; the message names the setting.
    pub fn validate(&self) -> Result<(), String> {
        let endpoint = self.endpoint()?;
        if self.password.is_some() && self.password_file.is_some() {
            return Err("uplink: set `password` or `password-file`, not both".into());
        }
        if (self.password.is_some() || self.password_file.is_some()) && self.username.is_none() {
            return Err("uplink: a password needs a `username`".into());
        }
        if self.client_cert.is_some() != self.client_key.is_some() {
            return Err("uplink: `client-cert` and `client-key` go together".into());
        }
        let tls_files = self.ca_file.is_some() || self.client_cert.is_some();
        if tls_files && !endpoint.tls {
            return Err(format!(
                "uplink: TLS files are set but the broker `{}` is plain mqtt://; use mqtts://",
                self.broker.as_deref().unwrap_or_default()
            ));
        }
        if self.keep_alive_s < 5 {
            return Err("uplink: `keep-alive-s` must be at least 5".into());
        }
        if self.reconnect_min_ms == 0 || self.reconnect_min_ms > self.reconnect_max_ms {
            return Err("uplink: need 0 < `reconnect-min-ms` <= `reconnect-max-ms`".into());
        }
        if self.in_flight == 0 {
            return Err("uplink: `in-flight` must be positive".into());
        }
        if self.outbox.max_bytes < 64 * 1024 {
            return Err("uplink.outbox: `max-bytes` must be at least 65536".into());
        }
        if !(1024..=super::mqtt::MAX_PACKET_BYTES / 2).contains(&self.outbox.max_record_bytes) {
            return Err(format!(
                "uplink.outbox: `max-record-bytes` must be 1024 to {}",
                super::mqtt::MAX_PACKET_BYTES / 2
            ));
        }
        Ok(())
    }

    /// Where to connect: the configured broker, or the embedded one.
    pub fn endpoint(&self) -> Result<Endpoint, String> {
        let Some(broker) = &self.broker else {
            return Ok(Endpoint {
                host: self.embedded_listen.ip().to_string(),
                port: self.embedded_listen.port(),
                tls: false,
            });
        };
        let url = url::Url::parse(broker)
            .map_err(|e| format!("uplink: broker `{broker}` is not a URL: {e}"))?;
        let (tls, default_port) = match url.scheme() {
            "mqtt" | "tcp" => (false, 1883),
            "mqtts" | "ssl" => (true, 8883),
            other => {
                return Err(format!(
                    "uplink: broker scheme `{other}` is not supported; use mqtt:// or mqtts://"
                ))
            }
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("uplink: broker `{broker}` has no host"))?;
        if !matches!(url.path(), "" | "/") || url.query().is_some() {
            return Err(format!(
                "uplink: broker `{broker}` must be scheme://host[:port] only"
            ));
        }
        Ok(Endpoint {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port: url.port().unwrap_or(default_port),
            tls,
        })
    }

    /// The password, read from `password-file` if that is how it is given.
    pub fn password(&self) -> Result<Option<String>, String> {
        match (&self.password, &self.password_file) {
            (Some(p), _) => Ok(Some(p.clone())),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map(|p| Some(p.trim_end_matches(['\r', '\n']).to_string()))
                .map_err(|e| format!("uplink: cannot read {}: {e}", path.display())),
            (None, None) => Ok(None),
        }
    }

    /// Delay before the first reconnection attempt.
    pub fn reconnect_min(&self) -> Duration {
        Duration::from_millis(self.reconnect_min_ms)
    }

    /// Longest delay between reconnection attempts.
    pub fn reconnect_max(&self) -> Duration {
        Duration::from_millis(self.reconnect_max_ms)
    }
}

impl Default for UplinkConfig {
    fn default() -> Self {
        toml::from_str("").expect("every uplink setting has a default")
    }
}

/// A broker address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Whether to use TLS.
    pub tls: bool,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        write!(f, "{scheme}://{}:{}", self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> UplinkConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn without_a_broker_the_embedded_one_is_used() {
        let c = UplinkConfig::default();
        c.validate().unwrap();
        assert_eq!(
            c.endpoint().unwrap(),
            Endpoint {
                host: "127.0.0.1".into(),
                port: 1883,
                tls: false
            }
        );
    }

    #[test]
    fn broker_urls_take_default_ports_per_scheme() {
        let e = parse(r#"broker = "mqtts://broker.city.example""#)
            .endpoint()
            .unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.tls),
            ("broker.city.example", 8883, true)
        );
        let e = parse(r#"broker = "mqtt://10.0.0.5:11883""#)
            .endpoint()
            .unwrap();
        assert_eq!((e.host.as_str(), e.port, e.tls), ("10.0.0.5", 11883, false));
    }

    #[test]
    fn inconsistent_settings_are_rejected_by_name() {
        let cases = [
            (r#"broker = "http://x""#, "scheme `http`"),
            (r#"broker = "mqtt://x/path""#, "host[:port] only"),
            (r#"broker = "not a url""#, "not a URL"),
            (
                "broker = \"mqtt://x\"\nca-file = \"ca.pem\"",
                "use mqtts://",
            ),
            (
                "broker = \"mqtts://x\"\nclient-cert = \"c.pem\"",
                "go together",
            ),
            ("password = \"p\"", "needs a `username`"),
            ("reconnect-min-ms = 0", "reconnect-min-ms"),
            ("[outbox]\nmax-bytes = 10", "max-bytes"),
            ("[outbox]\nmax-record-bytes = 4000000", "max-record-bytes"),
        ];
        for (text, expected) in cases {
            let err = parse(text).validate().unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
        assert!(toml::from_str::<UplinkConfig>("brokr = \"mqtt://x\"").is_err());
    }
}
