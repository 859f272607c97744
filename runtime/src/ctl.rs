//! `sao ctl`: the operator's side of remote control, over the same MQTT broker as the
//! poles. It signs and publishes desired documents (retained, so a pole that is offline
//! gets them when it comes back), then shows what the poles report; it lists the poles of
//! a site with what they run, and follows their events. Output is plain lines for people
//! (`--json` where a script wants it); every failure is one clear error.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use rumqttc::{AsyncClient, Event, EventLoop, Packet, QoS};
use serde_json::{json, Map, Value};

use crate::control::{document, SITE_GROUP};
use crate::plugin::manifest::{is_name, HOST_ID};
use crate::plugin::signing;
use crate::uplink::mqtt::client_options;
use crate::uplink::UplinkConfig;

/// How to reach the site's broker.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// The broker, `mqtt://host[:port]` or `mqtts://host[:port]`.
    #[arg(long, env = "SAO_BROKER", default_value = "mqtt://127.0.0.1:1883")]
    pub broker: String,
    /// The site (city or district) id.
    #[arg(long, env = "SAO_SITE")]
    pub site: String,
    /// Broker user name.
    #[arg(long, env = "SAO_USERNAME")]
    pub username: Option<String>,
    /// File holding the broker password.
    #[arg(long, env = "SAO_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
    /// PEM file of the CA that signs the broker's certificate (default: the system's).
    #[arg(long, env = "SAO_CA_FILE")]
    pub ca_file: Option<PathBuf>,
}

/// Who a document is for: one pole or a group.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct Addressee {
    /// One pole, by id.
    #[arg(long)]
    pub pole: Option<String>,
    /// A fleet group (`all` is every pole of the site).
    #[arg(long)]
    pub group: Option<String>,
}

/// `sao ctl`'s arguments.
#[derive(Debug, Args)]
pub struct CtlArgs {
    /// How to reach the site's broker.
    #[command(flatten)]
    pub connection: Connection,
    /// What to do.
    #[command(subcommand)]
    pub command: CtlCommand,
}

/// `sao ctl` subcommands.
#[derive(Debug, Subcommand)]
pub enum CtlCommand {
    /// Set the desired config of a plugin (`sao` for the runtime) on a pole or a group,
    /// then show what the poles report.
    Config(SetConfig),
    /// List the site's poles and what they report: status, plugins, config versions.
    Poles {
        /// Seconds to collect retained reports.
        #[arg(long, default_value_t = 2.0)]
        wait: f64,
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Print the site's events as they arrive.
    Watch {
        /// Stop after this many events.
        #[arg(long)]
        count: Option<usize>,
    },
}

/// `sao ctl config`.
#[derive(Debug, Args)]
pub struct SetConfig {
    /// The plugin to configure (`sao` for the runtime's own settings).
    #[arg(long)]
    pub plugin: String,
    /// Who it is for.
    #[command(flatten)]
    pub to: Addressee,
    /// The config as inline JSON: a merge patch over the pole's local config.
    #[arg(long, conflicts_with_all = ["file", "withdraw"])]
    pub json: Option<String>,
    /// The config from a JSON file.
    #[arg(long, conflicts_with = "withdraw")]
    pub file: Option<PathBuf>,
    /// Withdraw this pole's or group's document (the others' still apply).
    #[arg(long)]
    pub withdraw: bool,
    /// Document version; must exceed the one in force (default: now, in seconds).
    #[arg(long)]
    pub version: Option<u64>,
    /// Operator private key to sign with (poles require a signature by default).
    #[arg(long, env = "SAO_OPERATOR_KEY")]
    pub key: Option<PathBuf>,
    /// Seconds to wait for reports (0: publish and return).
    #[arg(long, default_value_t = 10.0)]
    pub wait: f64,
    /// Stop waiting once this many poles reported (default for one pole: 1).
    #[arg(long)]
    pub expect: Option<usize>,
}

/// Runs a `sao ctl` command.
pub async fn run(args: CtlArgs) -> anyhow::Result<()> {
    let CtlArgs {
        connection,
        command,
    } = args;
    let connection = &connection;
    if !is_name(&connection.site) {
        bail!("--site `{}` is not a site id", connection.site);
    }
    match command {
        CtlCommand::Config(set) => set_config(connection, set).await,
        CtlCommand::Poles { wait, json } => list_poles(connection, seconds(wait)?, json).await,
        CtlCommand::Watch { count } => watch(connection, count).await,
    }
}

fn seconds(s: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(s).map_err(|_| anyhow::anyhow!("`{s}` is not a number of seconds"))
}

/// A connection to the broker with the given subscriptions in place.
struct Session {
    client: AsyncClient,
    events: EventLoop,
    /// Messages that arrived while waiting for something else.
    buffered: VecDeque<(String, Value)>,
}

impl Session {
    async fn open(connection: &Connection, filters: &[String]) -> anyhow::Result<Self> {
        let config = UplinkConfig {
            broker: Some(connection.broker.clone()),
            username: connection.username.clone(),
            password_file: connection.password_file.clone(),
            ca_file: connection.ca_file.clone(),
            ..UplinkConfig::default()
        };
        config.validate().map_err(anyhow::Error::msg)?;
        let id = format!("sao-ctl-{}", fastrand::u64(..));
        let (client, mut events) = AsyncClient::new(client_options(&config, id)?, 64);
        for filter in filters {
            client.subscribe(filter, QoS::AtLeastOnce).await?;
        }
        // Connected and subscribed before anything is published, so no report is missed.
        let mut buffered = VecDeque::new();
        let mut pending = filters.len();
        while pending > 0 {
            match events.poll().await {
                Ok(Event::Incoming(Packet::SubAck(_))) => pending -= 1,
                // Retained messages of the first filters arrive before the last is acked.
                Ok(event) => buffered.extend(json_message(event)),
                Err(e) => bail!("cannot reach broker {}: {e}", connection.broker),
            }
        }
        Ok(Self {
            client,
            events,
            buffered,
        })
    }

    /// The next JSON message, or `None` once `deadline` (if any) passes.
    async fn next(
        &mut self,
        deadline: Option<tokio::time::Instant>,
    ) -> anyhow::Result<Option<(String, Value)>> {
        if let Some(message) = self.buffered.pop_front() {
            return Ok(Some(message));
        }
        loop {
            let event = match deadline {
                Some(deadline) => match tokio::time::timeout_at(deadline, self.events.poll()).await
                {
                    Err(_) => return Ok(None),
                    Ok(event) => event,
                },
                None => self.events.poll().await,
            };
            if let Some(message) = json_message(event.context("lost the broker")?) {
                return Ok(Some(message));
            }
        }
    }

    /// Publishes retained at QoS 1 and waits until the broker has it.
    async fn publish_retained(&mut self, topic: &str, payload: Vec<u8>) -> anyhow::Result<()> {
        self.client
            .publish(topic, QoS::AtLeastOnce, true, payload)
            .await?;
        loop {
            match self.events.poll().await.context("lost the broker")? {
                Event::Incoming(Packet::PubAck(_)) => return Ok(()),
                event => self.buffered.extend(json_message(event)),
            }
        }
    }
}

/// The topic and JSON payload of a received publish. A payload that is not JSON is
/// someone else's business.
fn json_message(event: Event) -> Option<(String, Value)> {
    match event {
        Event::Incoming(Packet::Publish(p)) => {
            let value = serde_json::from_slice(&p.payload).ok()?;
            Some((p.topic, value))
        }
        _ => None,
    }
}

async fn set_config(connection: &Connection, set: SetConfig) -> anyhow::Result<()> {
    if set.plugin != HOST_ID && !is_name(&set.plugin) {
        bail!("--plugin `{}` is not a plugin id", set.plugin);
    }
    let site = &connection.site;
    let (target, what) = match (&set.to.pole, &set.to.group) {
        (Some(pole), _) => (format!("{site}/{pole}"), format!("pole {pole}")),
        (_, Some(group)) => (format!("{site}/group/{group}"), format!("group {group}")),
        _ => unreachable!("clap requires one addressee"),
    };
    let config = match (&set.json, &set.file, set.withdraw) {
        (_, _, true) => Value::Null,
        (Some(text), _, _) => serde_json::from_str(text).context("--json is not JSON")?,
        (_, Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", path.display()))?
        }
        _ => bail!("give the config with --json or --file, or --withdraw"),
    };
    if !(config.is_object() || config.is_null()) {
        bail!("the config must be a JSON object");
    }
    let version = set.version.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs())
    });
    let mut doc = Map::new();
    doc.insert("target".into(), json!(target));
    doc.insert("version".into(), json!(version));
    doc.insert("config".into(), config);
    let signer = match &set.key {
        Some(path) => {
            let key = signing::read_signing_key(path)?;
            doc = document::sign(doc, &key);
            format!("signed by {}", signing::key_id(&key.verifying_key()))
        }
        None => "unsigned".to_string(),
    };

    let reported = format!("sao/v1/{site}/+/cfg/{}/reported", set.plugin);
    let mut session = Session::open(connection, &[reported]).await?;
    let topic = format!("sao/v1/{target}/cfg/{}/desired", set.plugin);
    session
        .publish_retained(&topic, serde_json::to_vec(&doc)?)
        .await?;
    println!(
        "published {} config v{version} for {what} ({signer})",
        set.plugin
    );
    let wait = seconds(set.wait)?;
    if wait.is_zero() {
        return Ok(());
    }
    let expect = set.expect.or(set.to.pole.as_ref().map(|_| 1));
    let deadline = tokio::time::Instant::now() + wait;
    let mut reports: BTreeMap<String, (String, Option<String>)> = BTreeMap::new();
    while expect.is_none_or(|n| reports.len() < n) {
        let Some((topic, report)) = session.next(Some(deadline)).await? else {
            break;
        };
        if report["target"] != json!(target) || report["version"] != json!(version) {
            continue; // an earlier document's report
        }
        let pole = topic.split('/').nth(3).unwrap_or_default().to_string();
        let status = report["status"].as_str().unwrap_or("?").to_string();
        let error = report["error"].as_str().map(str::to_string);
        match &error {
            Some(e) => println!("  {pole:<16} {status}: {e}"),
            None => println!("  {pole:<16} {status}"),
        }
        reports.insert(pole, (status, error));
    }
    let count = |s: &str| reports.values().filter(|(status, _)| status == s).count();
    println!(
        "{} applied, {} pending (plugin not installed), {} rejected",
        count("applied"),
        count("pending"),
        count("rejected")
    );
    if let Some(n) = expect.filter(|&n| reports.len() < n) {
        bail!(
            "{} of {n} poles reported within {} s (offline poles apply it when they reconnect)",
            reports.len(),
            wait.as_secs_f64()
        );
    }
    if count("rejected") > 0 {
        bail!("rejected by {} poles", count("rejected"));
    }
    Ok(())
}

/// What `sao ctl poles` knows of one pole.
#[derive(Debug, Default, serde::Serialize)]
struct PoleView {
    status: Value,
    configs: BTreeMap<String, Value>,
}

async fn list_poles(connection: &Connection, wait: Duration, as_json: bool) -> anyhow::Result<()> {
    let site = &connection.site;
    let filters = [
        format!("sao/v1/{site}/+/status"),
        format!("sao/v1/{site}/+/cfg/+/reported"),
    ];
    let mut session = Session::open(connection, &filters).await?;
    let deadline = tokio::time::Instant::now() + wait;
    let mut poles: BTreeMap<String, PoleView> = BTreeMap::new();
    while let Some((topic, value)) = session.next(Some(deadline)).await? {
        let parts: Vec<&str> = topic.split('/').collect();
        let view = poles.entry(parts[3].to_string()).or_default();
        match parts[4..] {
            ["status"] => view.status = value,
            ["cfg", plugin, "reported"] => {
                view.configs.insert(plugin.to_string(), value);
            }
            _ => {}
        }
    }
    poles.remove(SITE_GROUP);
    if as_json {
        println!("{}", serde_json::to_string_pretty(&poles)?);
        return Ok(());
    }
    if poles.is_empty() {
        println!(
            "no pole of site {site} has reported to {}",
            connection.broker
        );
    }
    for (id, view) in &poles {
        let online = match view.status["online"].as_bool() {
            Some(true) => "online".to_string(),
            Some(false) => format!(
                "OFFLINE ({})",
                view.status["reason"].as_str().unwrap_or("unknown")
            ),
            None => "no status".to_string(),
        };
        let runtime = view.status["version"].as_str().unwrap_or("?");
        println!("{id}  {online}  sao {runtime}");
        for plugin in view.status["plugins"].as_array().into_iter().flatten() {
            let name = plugin["id"].as_str().or(plugin["package"].as_str());
            println!(
                "  plugin {} {} {}",
                name.unwrap_or("?"),
                plugin["version"].as_str().unwrap_or(""),
                plugin["health"]["state"].as_str().unwrap_or("?")
            );
        }
        for (plugin, report) in &view.configs {
            let error = report["error"]
                .as_str()
                .map_or(String::new(), |e| format!(": {e}"));
            println!(
                "  config {plugin} v{} from {} {}{error}",
                report["version"],
                report["target"].as_str().unwrap_or("?"),
                report["status"].as_str().unwrap_or("?"),
            );
        }
    }
    Ok(())
}

async fn watch(connection: &Connection, count: Option<usize>) -> anyhow::Result<()> {
    let filter = format!("sao/v1/{}/+/evt/#", connection.site);
    let mut session = Session::open(connection, &[filter]).await?;
    let mut seen = 0;
    while count.is_none_or(|n| seen < n) {
        let Some((_, event)) = session.next(None).await? else {
            break;
        };
        println!(
            "{} {} {}/{} {} {}",
            event["ts"],
            event["pole"].as_str().unwrap_or("?"),
            event["plugin"]["id"].as_str().unwrap_or("?"),
            event["kind"].as_str().unwrap_or("?"),
            event["severity"].as_str().unwrap_or("?"),
            event["message"].as_str().unwrap_or(""),
        );
        seen += 1;
    }
    Ok(())
}
