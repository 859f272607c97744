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
use ed25519_dalek::SigningKey;
use rumqttc::{AsyncClient, Event, EventLoop, Packet, QoS};
use serde_json::{json, Map, Value};

use crate::control::deploy::{file_digest, DeploymentDoc, PackageSource, Wanted};
use crate::control::{document, SITE_GROUP};
use crate::plugin::manifest::{is_name, HOST_ID};
use crate::plugin::signing;
use crate::plugin::{Capability, Package, TrustStore};
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
    /// Deploy a plugin package (install or upgrade) to a pole or a group, then show how
    /// each pole's deployment ends.
    Deploy(DeployPlugin),
    /// Remove a plugin from a pole or a group.
    Remove(RemovePlugin),
    /// List the site's poles and what they report: status, plugins, config versions.
    Poles {
        /// Seconds to collect retained reports.
        #[arg(long, default_value_t = 2.0)]
        wait: f64,
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge alarms on a pole or a group: sirens and voice stop, lights and the
    /// display stay until the alarm ends. Then show the poles' acknowledged alerts.
    Ack(AckAlarms),
    /// Print the site's events as they arrive.
    Watch {
        /// Only events of this kind (`audit`, `plugin-state`, `lighting-failsafe`, …).
        #[arg(long)]
        kind: Option<String>,
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
    /// The config as inline JSON: a merge patch over the pole's local config.
    #[arg(long, conflicts_with_all = ["file", "withdraw"])]
    pub json: Option<String>,
    /// The config from a JSON file.
    #[arg(long, conflicts_with = "withdraw")]
    pub file: Option<PathBuf>,
    /// Withdraw this pole's or group's document (the others' still apply).
    #[arg(long)]
    pub withdraw: bool,
    /// Where, how and how long.
    #[command(flatten)]
    pub change: Change,
}

/// `sao ctl ack`.
#[derive(Debug, Args)]
pub struct AckAlarms {
    /// The alarm (its id, from the alert); default: every alarm raised until now.
    #[arg(long)]
    alarm: Option<u64>,
    /// Who acknowledges: shown in the alert and the audit as `operator:{by}`.
    #[arg(long)]
    by: String,
    /// Which pole or group.
    #[command(flatten)]
    to: Addressee,
    /// Operator private key to sign with (poles require a signature by default).
    #[arg(long)]
    key: Option<PathBuf>,
    /// Seconds to wait for the acknowledged alerts (0: publish and return).
    #[arg(long, default_value_t = 5.0)]
    wait: f64,
}

/// Signing and waiting, shared by the commands that change poles.
#[derive(Debug, Args)]
pub struct Change {
    /// Who it is for.
    #[command(flatten)]
    pub to: Addressee,
    /// Document version; must exceed the one in force (default: now, in seconds).
    #[arg(long)]
    pub version: Option<u64>,
    /// Operator private key to sign with (poles require a signature by default).
    #[arg(long, env = "SAO_OPERATOR_KEY")]
    pub key: Option<PathBuf>,
    /// Seconds to wait for the poles' answers (0: publish and return); `--expect` ends
    /// the wait early.
    #[arg(long, default_value_t = 90.0)]
    pub wait: f64,
    /// Stop waiting once this many poles answered (default for one pole: 1).
    #[arg(long)]
    pub expect: Option<usize>,
}

impl Change {
    /// When to stop waiting for the poles' answers and how many to wait for; `None` when
    /// not waiting.
    fn waiting(&self) -> anyhow::Result<Option<(tokio::time::Instant, Option<usize>)>> {
        let wait = seconds(self.wait)?;
        if wait.is_zero() {
            return Ok(None);
        }
        let expect = self.expect.or(self.to.pole.as_ref().map(|_| 1));
        Ok(Some((tokio::time::Instant::now() + wait, expect)))
    }
}

/// Overwriting another signer's deployment document, for `deploy` and `remove`.
#[derive(Debug, Args)]
pub struct Overwrite {
    /// Overwrite the deployment document on the broker even if it is not signed by
    /// `--key` (otherwise it is kept and extended).
    #[arg(long)]
    pub replace: bool,
}

/// `sao ctl deploy`.
#[derive(Debug, Args)]
pub struct DeployPlugin {
    /// The signed `.sao` package.
    pub package: PathBuf,
    /// Capabilities to grant, comma-separated (default: those the manifest asks for).
    #[arg(long, value_delimiter = ',')]
    pub grants: Option<Vec<Capability>>,
    /// Seconds the new version must run without a crash before it counts as deployed.
    #[arg(long, default_value_t = 60)]
    pub health_window_s: u64,
    /// Chunk size on the broker, in KiB.
    #[arg(long, default_value_t = 256)]
    pub chunk_kib: usize,
    /// Have poles download the package from this HTTP(S) URL (where it must already
    /// be) instead of receiving it over the broker in chunks.
    #[arg(long)]
    pub url: Option<String>,
    /// Where, how and how long.
    #[command(flatten)]
    pub change: Change,
    /// Whether to overwrite another signer's document.
    #[command(flatten)]
    pub overwrite: Overwrite,
}

/// `sao ctl remove`.
#[derive(Debug, Args)]
pub struct RemovePlugin {
    /// The plugin id.
    #[arg(long)]
    pub plugin: String,
    /// Where, how and how long.
    #[command(flatten)]
    pub change: Change,
    /// Whether to overwrite another signer's document.
    #[command(flatten)]
    pub overwrite: Overwrite,
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
        CtlCommand::Deploy(deploy) => deploy_plugin(connection, deploy).await,
        CtlCommand::Remove(remove) => remove_plugin(connection, remove).await,
        CtlCommand::Poles { wait, json } => list_poles(connection, seconds(wait)?, json).await,
        CtlCommand::Ack(ack) => acknowledge(connection, ack).await,
        CtlCommand::Watch { kind, count } => watch(connection, kind.as_deref(), count).await,
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
        self.publish(topic, payload, true).await
    }

    /// Publishes at QoS 1 and waits until the broker has it.
    async fn publish(&mut self, topic: &str, payload: Vec<u8>, retain: bool) -> anyhow::Result<()> {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload)
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

/// The target name (`{site}/{pole}` or `{site}/group/{group}`) and how to say it.
fn target_of(site: &str, to: &Addressee) -> (String, String) {
    match (&to.pole, &to.group) {
        (Some(pole), _) => (format!("{site}/{pole}"), format!("pole {pole}")),
        (_, Some(group)) => (format!("{site}/group/{group}"), format!("group {group}")),
        _ => unreachable!("clap requires one addressee"),
    }
}

/// The default document version: now, in seconds since the epoch.
fn now_version() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs())
}

/// The operator key, if one was given.
fn operator_key(path: Option<&PathBuf>) -> anyhow::Result<Option<SigningKey>> {
    path.map(|p| signing::read_signing_key(p).map_err(anyhow::Error::from))
        .transpose()
}

/// Signs `doc` with `key` if there is one; says how it went out.
fn seal(doc: Map<String, Value>, key: Option<&SigningKey>) -> (Map<String, Value>, String) {
    match key {
        Some(key) => (
            document::sign(doc, key),
            format!("signed by {}", signing::key_id(&key.verifying_key())),
        ),
        None => (doc, "unsigned".to_string()),
    }
}

async fn set_config(connection: &Connection, set: SetConfig) -> anyhow::Result<()> {
    if set.plugin != HOST_ID && !is_name(&set.plugin) {
        bail!("--plugin `{}` is not a plugin id", set.plugin);
    }
    let site = &connection.site;
    let change = &set.change;
    let (target, what) = target_of(site, &change.to);
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
    let version = change.version.unwrap_or_else(now_version);
    let mut doc = Map::new();
    doc.insert("target".into(), json!(target));
    doc.insert("version".into(), json!(version));
    doc.insert("config".into(), config);
    let key = operator_key(change.key.as_ref())?;
    let (doc, signer) = seal(doc, key.as_ref());

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
    let Some((deadline, expect)) = change.waiting()? else {
        return Ok(());
    };
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
            change.wait
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

async fn acknowledge(connection: &Connection, ack: AckAlarms) -> anyhow::Result<()> {
    let site = &connection.site;
    let (target, what) = target_of(site, &ack.to);
    let mut doc = Map::new();
    doc.insert("target".into(), json!(target));
    doc.insert("by".into(), json!(ack.by));
    match ack.alarm {
        Some(id) => doc.insert("alarm".into(), json!(id)),
        None => doc.insert("issued-ts".into(), json!(now_version() * 1000)),
    };
    let key = operator_key(ack.key.as_ref())?;
    let (doc, signer) = seal(doc, key.as_ref());
    let alerts = format!("sao/v1/{site}/+/alert/+");
    let mut session = Session::open(connection, &[alerts]).await?;
    let topic = format!("sao/v1/{target}/cmd/alarm/ack");
    session
        .publish(&topic, serde_json::to_vec(&doc)?, false)
        .await?;
    println!("acknowledgement sent to {what} ({signer})");
    let deadline = tokio::time::Instant::now() + seconds(ack.wait)?;
    let by = format!("operator:{}", ack.by);
    let mut acknowledged = 0;
    while let Some((_, alert)) = session.next(Some(deadline)).await? {
        if alert["state"] == "acknowledged" && alert["acknowledged"]["by"] == json!(by) {
            println!(
                "  {} alarm {} ({}, {}): acknowledged",
                alert["pole"].as_str().unwrap_or("?"),
                alert["alarm"],
                alert["kind"].as_str().unwrap_or("?"),
                alert["level"].as_str().unwrap_or("?"),
            );
            acknowledged += 1;
        }
    }
    println!("{acknowledged} alarms acknowledged");
    Ok(())
}

async fn watch(
    connection: &Connection,
    kind: Option<&str>,
    count: Option<usize>,
) -> anyhow::Result<()> {
    let filter = match kind {
        Some(kind) => format!("sao/v1/{}/+/evt/+/{kind}", connection.site),
        None => format!("sao/v1/{}/+/evt/#", connection.site),
    };
    let mut session = Session::open(connection, &[filter]).await?;
    println!(
        "watching the events of site {} on {}",
        connection.site, connection.broker
    );
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

/// The deployment document in force on the broker for `target` (retained), if any,
/// checked against the operator's own key unless `replace`.
async fn current_deployment(
    session: &mut Session,
    topic: &str,
    target: &str,
    key: Option<&SigningKey>,
    replace: bool,
) -> anyhow::Result<DeploymentDoc> {
    // A retained document arrives right after the subscription; none means none.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    let mut found = None;
    let mut others = Vec::new();
    while let Some((t, value)) = session.next(Some(deadline)).await? {
        if t == topic {
            found = Some(value);
            break;
        }
        others.push((t, value));
    }
    session.buffered.extend(others);
    let empty = DeploymentDoc {
        version: 0,
        plugins: Vec::new(),
        remove: Vec::new(),
    };
    let Some(value) = found else {
        return Ok(empty);
    };
    if replace {
        let version = value["version"].as_u64().unwrap_or(0);
        return Ok(DeploymentDoc { version, ..empty });
    }
    let mut trust = TrustStore::default();
    if let Some(key) = key {
        trust.add(key.verifying_key());
    }
    let verified =
        document::verify(value.to_string().as_bytes(), target, &trust, true).map_err(|e| {
            anyhow::anyhow!(
                "the deployment document on the broker for {target} is not one you signed ({e}); \
                 pass --replace to overwrite it"
            )
        })?;
    verified
        .parse()
        .with_context(|| format!("the deployment document on the broker for {target} is invalid"))
}

/// Publishes a new deployment document for `change`'s target, built from the one in
/// force by `edit`, after `before` (chunks to publish first); then waits for the poles'
/// final answers about `plugin`.
async fn change_deployment(
    connection: &Connection,
    change: &Change,
    overwrite: &Overwrite,
    plugin: &str,
    chunks: Vec<(String, Vec<u8>)>,
    edit: impl FnOnce(&mut DeploymentDoc),
) -> anyhow::Result<()> {
    let site = &connection.site;
    let (target, what) = target_of(site, &change.to);
    let topic = format!("sao/v1/{target}/deploy/desired");
    let status = format!("sao/v1/{site}/+/deploy/status");
    let key = operator_key(change.key.as_ref())?;
    let mut session = Session::open(connection, &[topic.clone(), status]).await?;
    let mut doc = current_deployment(
        &mut session,
        &topic,
        &target,
        key.as_ref(),
        overwrite.replace,
    )
    .await?;
    edit(&mut doc);
    doc.version = change
        .version
        .unwrap_or_else(|| now_version().max(doc.version + 1));
    for (chunk_topic, bytes) in chunks {
        session.publish_retained(&chunk_topic, bytes).await?;
    }
    let Value::Object(mut body) = serde_json::to_value(&doc)? else {
        unreachable!("a document serialises to an object")
    };
    body.insert("target".into(), json!(target));
    let (body, signer) = seal(body, key.as_ref());
    session
        .publish_retained(&topic, serde_json::to_vec(&body)?)
        .await?;
    println!(
        "published deployment v{} for {what} ({signer})",
        doc.version
    );

    let Some((deadline, expect)) = change.waiting()? else {
        return Ok(());
    };
    let mut answers: BTreeMap<String, String> = BTreeMap::new();
    while expect.is_none_or(|n| answers.len() < n) {
        let Some((topic, report)) = session.next(Some(deadline)).await? else {
            break;
        };
        if !topic.ends_with("/deploy/status") {
            continue;
        }
        let pole = topic.split('/').nth(3).unwrap_or_default().to_string();
        let entry = report["plugins"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| {
                p["id"] == plugin && p["doc-version"] == doc.version && p["target"] == json!(target)
            });
        let Some(entry) = entry else { continue };
        let state = entry["state"].as_str().unwrap_or("?").to_string();
        if state == "QUEUED" || state == "IN_PROGRESS" {
            continue;
        }
        if answers.insert(pole.clone(), state.clone()).is_none() {
            let running = entry["running"].as_str().unwrap_or("nothing");
            match entry["reason"].as_str() {
                Some(reason) => println!("  {pole:<16} {state} (running {running}): {reason}"),
                None => println!("  {pole:<16} {state} (running {running})"),
            }
        }
    }
    let ok = answers
        .values()
        .filter(|s| *s == "SUCCEEDED" || *s == "REMOVED")
        .count();
    println!("{ok} succeeded, {} failed", answers.len() - ok);
    if let Some(n) = expect.filter(|&n| answers.len() < n) {
        bail!(
            "{} of {n} poles answered within {} s (offline poles deploy when they reconnect)",
            answers.len(),
            change.wait
        );
    }
    if ok < answers.len() {
        bail!("failed on {} poles", answers.len() - ok);
    }
    Ok(())
}

async fn deploy_plugin(connection: &Connection, deploy: DeployPlugin) -> anyhow::Result<()> {
    let path = &deploy.package;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let package = Package::read(&bytes).with_context(|| format!("{} refused", path.display()))?;
    anyhow::ensure!(
        package.signature().is_some(),
        "{} is not signed; poles install only packages signed by a vendor key they trust",
        path.display()
    );
    let manifest = package.manifest();
    let digest = file_digest(&bytes);
    let hex = digest.trim_start_matches("sha256:").to_string();
    let chunk_bytes = deploy.chunk_kib.clamp(1, 512) * 1024;
    let chunks: Vec<(String, Vec<u8>)> = match &deploy.url {
        Some(_) => Vec::new(),
        None => bytes
            .chunks(chunk_bytes)
            .enumerate()
            .map(|(i, c)| {
                (
                    format!("sao/v1/{}/pkg/{hex}/{i}", connection.site),
                    c.to_vec(),
                )
            })
            .collect(),
    };
    let source = match &deploy.url {
        Some(url) => PackageSource::Url(url.clone()),
        None => PackageSource::Mqtt {
            chunks: chunks.len() as u32,
        },
    };
    let wanted = Wanted {
        id: manifest.id.clone(),
        version: manifest.version.clone(),
        digest,
        source,
        grants: deploy
            .grants
            .clone()
            .unwrap_or_else(|| manifest.capabilities.clone()),
        telemetry_per_minute: crate::config::PluginSpec::default_telemetry_per_minute(),
        health_window_s: deploy.health_window_s,
    };
    let delivery = match &deploy.url {
        Some(url) => format!("from {url}"),
        None => format!("in {} chunks over the broker", chunks.len()),
    };
    println!(
        "{} {} ({} bytes {delivery}), granting {}",
        wanted.id,
        wanted.version,
        bytes.len(),
        wanted
            .grants
            .iter()
            .map(|g| g.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let id = wanted.id.clone();
    change_deployment(
        connection,
        &deploy.change,
        &deploy.overwrite,
        &id,
        chunks,
        |doc| {
            doc.plugins.retain(|w| w.id != wanted.id);
            doc.remove.retain(|r| *r != wanted.id);
            doc.plugins.push(wanted);
        },
    )
    .await
}

async fn remove_plugin(connection: &Connection, remove: RemovePlugin) -> anyhow::Result<()> {
    if !is_name(&remove.plugin) {
        bail!("--plugin `{}` is not a plugin id", remove.plugin);
    }
    let id = remove.plugin.clone();
    change_deployment(
        connection,
        &remove.change,
        &remove.overwrite,
        &remove.plugin,
        Vec::new(),
        |doc| {
            doc.plugins.retain(|w| w.id != id);
            if !doc.remove.contains(&id) {
                doc.remove.push(id);
            }
        },
    )
    .await
}
