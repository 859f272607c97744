//! Operator control over MQTT: desired configurations for the runtime and each plugin,
//! and plugin deployments with rollback, addressed to the pole or to its fleet groups,
//! with reported state and an audit trail.
//!
//! Flow: the MQTT link subscribes the pole's control topics ([`topics`]) and hands what
//! arrives to [`Controller::handle`], which checks the document's signature and target
//! ([`document`]), its version against the one in force, layers it over the other
//! targets' documents and the local defaults ([`desired`]), applies the result (the plugin
//! validates it against its schema and accepts or refuses it as a whole), stores it, and
//! publishes the reported state (`…/cfg/{plugin}/reported`, retained) and an audit entry
//! ([`audit`]). Nothing is stored unless it applied, so the last good configuration keeps
//! running. At boot [`Controller::boot`] starts the plugins with the stored documents
//! already layered in, before the network is up.
//!
//! Deployments ([`deploy`], run by the `deployer` module) follow the same path in: a
//! verified document becomes one job per plugin, advanced on every message and every main
//! loop step ([`Controller::advance`]), reported on `…/deploy/status` (retained).

pub mod audit;
mod config;
pub mod deploy;
mod deployer;
pub mod desired;
pub mod document;
mod download;
pub mod topics;

pub use config::{ControlConfig, SITE_GROUP};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::alarm::Selector;
use crate::config::{PluginSpec, RuntimeSettings};
use crate::plugin::instance::Message;
use crate::plugin::manifest::{is_name, HOST_ID};
use crate::plugin::TrustStore;
use crate::reports;
use crate::runtime::Runtime;
use crate::uplink::{Incoming, Source, Subscriptions, Uplink};
use audit::{AuditEntry, AuditLog, Outcome};
use deploy::DeployStore;
use desired::{DesiredDoc, DesiredStore};
use topics::{Subject, Targets};

/// The body of a desired-configuration document, once its signature and `target` are
/// checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DesiredConfig {
    version: u64,
    config: Value,
}

/// The body of an alarm acknowledgement, once its signature and `target` are checked.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct AlarmAck {
    /// Who acknowledges (a name for the audit and the alert).
    by: String,
    /// The alarm, or all alarms raised by `issued_ts`.
    #[serde(default)]
    alarm: Option<u64>,
    /// When the operator issued it, ms since the epoch.
    #[serde(default)]
    issued_ts: Option<u64>,
}

/// Applies operator documents to one pole.
pub struct Controller {
    require_signature: bool,
    operators: TrustStore,
    targets: Targets,
    desired: DesiredStore,
    audit: AuditLog,
    uplink: Arc<Uplink>,
    subscriptions: Arc<Subscriptions>,
    /// The local (`pole.toml`) config of each plugin by id, and the runtime's as `sao`.
    defaults: HashMap<String, Value>,
    /// `pole.toml`'s plugins by id (what a rollback may return to).
    local: HashMap<String, PluginSpec>,
    deploy: DeployStore,
    /// Where deployed packages are kept.
    packages_dir: PathBuf,
    download_timeout_ms: u64,
    /// The last deployment document refused, for the status (until one is accepted).
    rejected_deployment: Option<Value>,
    /// HTTP downloads in progress, by plugin.
    downloads: HashMap<String, tokio::task::JoinHandle<Result<Vec<u8>, String>>>,
}

/// What became of one document.
struct Verdict {
    version: Option<u64>,
    signed_by: Option<String>,
    result: Result<Outcome, String>,
}

/// The largest message payload a plugin is handed, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// Checks a pushed message (a JSON object of at most [`MAX_MESSAGE_BYTES`]) and hands it
/// to the plugin. Messages are data, not commands, so they are not signed: the broker's
/// access rules decide who may publish them, and the plugin treats them as untrusted.
async fn deliver_message(
    runtime: &mut Runtime,
    plugin: &str,
    name: &str,
    target: &str,
    message: Incoming,
) -> Result<(), String> {
    if message.payload.len() > MAX_MESSAGE_BYTES {
        return Err(format!(
            "{} bytes; at most {MAX_MESSAGE_BYTES}",
            message.payload.len()
        ));
    }
    let payload = String::from_utf8(message.payload).map_err(|_| "not UTF-8 text".to_string())?;
    match serde_json::from_str::<Value>(&payload) {
        Ok(Value::Object(_)) => {}
        Ok(_) => return Err("not a JSON object".into()),
        Err(e) => return Err(format!("not JSON: {e}")),
    }
    let message = Message {
        name: name.to_string(),
        payload,
        received: runtime.now(),
        target: target.to_string(),
    };
    runtime.deliver_message(plugin, message).await
}

impl Controller {
    /// A controller for `runtime`'s pole, with its stores in the pole's database.
    pub fn new(config: &ControlConfig, runtime: &Runtime) -> anyhow::Result<Self> {
        let operators = TrustStore::load(&config.operator_keys_dir)?;
        if config.require_signature && operators.is_empty() {
            tracing::warn!(
                dir = %config.operator_keys_dir.display(),
                "no operator keys: every control document will be refused"
            );
        }
        let identity = runtime.services().uplink.identity();
        let targets = Targets::new(&identity.site, &identity.id, &config.groups);
        let subscriptions = Arc::new(Subscriptions::default());
        for filter in targets.filters() {
            subscriptions.add(&filter);
        }
        let db = runtime.database();
        let uplink = runtime.services().uplink.clone();
        Ok(Self {
            require_signature: config.require_signature,
            operators,
            targets,
            desired: DesiredStore::open(db)?,
            audit: AuditLog::open(db, uplink.clone())?,
            uplink,
            subscriptions,
            defaults: HashMap::new(),
            local: HashMap::new(),
            deploy: DeployStore::open(db)?,
            packages_dir: runtime.config().storage.data_dir.join("packages"),
            download_timeout_ms: config.download_timeout_s * 1000,
            rejected_deployment: None,
            downloads: HashMap::new(),
        })
    }

    /// The topics the MQTT link must subscribe for this controller.
    pub fn subscriptions(&self) -> Arc<Subscriptions> {
        self.subscriptions.clone()
    }

    /// The audit log.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// Starts the pole: the runtime settings and every plugin it should run (deployed
    /// packages in place of `pole.toml`'s), each with the stored desired documents layered
    /// over its local config; then resumes interrupted deployments.
    pub async fn boot(&mut self, runtime: &mut Runtime) {
        let local = serde_json::to_value(runtime.config().settings()).expect("settings serialise");
        self.defaults.insert(HOST_ID.into(), local);
        let settings = self.effective(HOST_ID, None);
        match RuntimeSettings::from_json(settings) {
            Ok(settings) => runtime.apply_settings(settings),
            Err(e) => tracing::error!("stored runtime settings not applied: {e}"),
        }
        self.start_plugins(runtime).await;
        runtime.publish_status(true);
        self.resume(runtime).await;
    }

    /// The config of `plugin`: its local defaults with the documents in force layered
    /// over them (`candidate` standing in for its target's).
    fn effective(&self, plugin: &str, candidate: Option<(&str, &DesiredDoc)>) -> Value {
        let defaults = self
            .defaults
            .get(plugin)
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new()));
        let patches = self.desired.in_force(plugin, &self.targets, candidate);
        desired::layer(&defaults, &patches)
    }

    /// Handles one message from the pole's control topics.
    pub async fn handle(&mut self, runtime: &mut Runtime, message: Incoming) {
        if let Some((hex, index)) = self.targets.parse_chunk(&message.topic) {
            let hex = hex.to_string();
            return self.chunk(runtime, &hex, index, &message.payload).await;
        }
        let Some(addressed) = self.targets.parse(&message.topic) else {
            tracing::warn!(topic = %message.topic, "control: message on an unexpected topic ignored");
            return;
        };
        if message.payload.is_empty() {
            // A retained document was cleared on the broker. Withdrawing needs a signed
            // document (`config: null`), or anyone could reset the pole.
            tracing::info!(topic = %message.topic, "control: cleared document ignored");
            return;
        }
        let target = self.targets.name(addressed.rank).to_string();
        match addressed.subject {
            Subject::Config { plugin } => {
                if plugin != HOST_ID && !is_name(&plugin) {
                    tracing::warn!(topic = %message.topic, "control: not a plugin id");
                    return;
                }
                let verdict = self
                    .desired_config(runtime, &plugin, &target, &message.payload)
                    .await;
                if let Some(verdict) = verdict {
                    self.conclude(runtime, "config", &plugin, &target, verdict);
                }
            }
            Subject::Deployment => {
                self.deployment(runtime, addressed.rank, &message.payload)
                    .await
            }
            Subject::AlarmAck => self.alarm_ack(runtime, &target, &message.payload),
            Subject::Message { plugin, name } => {
                let target = self.targets.relative(addressed.rank).to_string();
                let result = deliver_message(runtime, &plugin, &name, &target, message).await;
                if let Err(reason) = result {
                    tracing::warn!(%plugin, %name, "message refused: {reason}");
                    let now = runtime.now();
                    reports::message_refused(
                        &runtime.services().uplink,
                        &plugin,
                        &name,
                        &target,
                        &reason,
                        now,
                    );
                }
            }
        }
    }

    /// Acknowledges alarms for an operator: a signed `{target, by, alarm?, issued-ts?}`.
    /// Without `alarm` it covers every alarm raised by `issued-ts` (required then), so a
    /// replayed acknowledgement silences nothing raised after it.
    fn alarm_ack(&self, runtime: &Runtime, target: &str, payload: &[u8]) {
        let verified = document::verify(payload, target, &self.operators, self.require_signature);
        let signed_by = verified.as_ref().ok().and_then(|v| v.signed_by.clone());
        let result = verified
            .map_err(|e| e.to_string())
            .and_then(|v| v.parse::<AlarmAck>().map_err(|e| e.to_string()))
            .and_then(|ack| {
                let which = match (ack.alarm, ack.issued_ts) {
                    (Some(id), _) => Selector::One(id),
                    (None, Some(ts)) => Selector::RaisedBy(ts),
                    (None, None) => return Err("`issued-ts` is required without `alarm`".into()),
                };
                let by = format!("operator:{}", ack.by);
                let alarms = &runtime.services().alarms;
                alarms.acknowledge(which, &by).map_err(|e| e.to_string())
            });
        let (outcome, reason) = match &result {
            Ok(n) => {
                tracing::info!(%target, acknowledged = n, "alarms acknowledged by an operator");
                (Outcome::Applied, None)
            }
            Err(reason) => {
                tracing::warn!(%target, "alarm acknowledgement refused: {reason}");
                (Outcome::Rejected, Some(reason.clone()))
            }
        };
        self.audit.record(&AuditEntry {
            ts: runtime.now(),
            what: "alarm-ack".into(),
            plugin: HOST_ID.into(),
            target: target.into(),
            version: None,
            signed_by,
            outcome,
            reason,
        });
    }

    /// Checks, applies and stores a desired configuration; `None` when it is the document
    /// already in force (a retained document delivered again on reconnection).
    async fn desired_config(
        &mut self,
        runtime: &mut Runtime,
        plugin: &str,
        target: &str,
        payload: &[u8],
    ) -> Option<Verdict> {
        let refused = |version, signed_by, reason: String| {
            Some(Verdict {
                version,
                signed_by,
                result: Err(reason),
            })
        };
        let verified =
            match document::verify(payload, target, &self.operators, self.require_signature) {
                Ok(v) => v,
                Err(e) => return refused(None, None, e.to_string()),
            };
        let signed_by = verified.signed_by.clone();
        let version = verified.version();
        let doc: DesiredConfig = match verified.parse() {
            Ok(doc) => doc,
            Err(e) => return refused(version, signed_by, format!("not a desired config: {e}")),
        };
        if !(doc.config.is_object() || doc.config.is_null()) {
            return refused(
                version,
                signed_by,
                "`config` must be an object (or null to withdraw)".into(),
            );
        }
        if let Some(current) = self.desired.get(plugin, target) {
            if doc.version == current.version && doc.config == current.config {
                return None;
            }
            if doc.version <= current.version {
                return refused(
                    version,
                    signed_by,
                    format!(
                        "stale: version {} is in force from {target}; send a higher version",
                        current.version
                    ),
                );
            }
        }
        let candidate = DesiredDoc {
            version: doc.version,
            config: doc.config,
            signed_by: signed_by.clone(),
            accepted_ms: runtime.now(),
        };
        let config = self.effective(plugin, Some((target, &candidate)));
        let result = self.apply(runtime, plugin, config).await;
        if result.is_ok() {
            if let Err(e) = self.desired.put(plugin, target, &candidate) {
                tracing::error!("control: applied but not stored (reapplied from the broker at the next connection): {e}");
            }
        }
        Some(Verdict {
            version,
            signed_by,
            result,
        })
    }

    /// Hands a full config to the runtime or to a plugin.
    async fn apply(
        &self,
        runtime: &mut Runtime,
        plugin: &str,
        config: Value,
    ) -> Result<Outcome, String> {
        if plugin == HOST_ID {
            let settings = RuntimeSettings::from_json(config)?;
            runtime.apply_settings(settings);
            return Ok(Outcome::Applied);
        }
        if runtime.plugins().iter().any(|p| p.id() == plugin) {
            runtime.reconfigure(plugin, config).await?;
            Ok(Outcome::Applied)
        } else {
            Ok(Outcome::Pending)
        }
    }

    /// Audits a verdict and publishes the plugin's reported state.
    fn conclude(
        &self,
        runtime: &Runtime,
        what: &str,
        plugin: &str,
        target: &str,
        verdict: Verdict,
    ) {
        let now = runtime.now();
        let (outcome, reason) = match verdict.result {
            Ok(outcome) => (outcome, None),
            Err(reason) => (Outcome::Rejected, Some(reason)),
        };
        self.audit.record(&AuditEntry {
            ts: now,
            what: what.into(),
            plugin: plugin.into(),
            target: target.into(),
            version: verdict.version,
            signed_by: verdict.signed_by,
            outcome,
            reason: reason.clone(),
        });
        let in_force = desired::sources(&self.desired.in_force(plugin, &self.targets, None));
        let body = json!({
            "version": verdict.version,
            "target": target,
            "status": outcome,
            "error": reason,
            "in-force": in_force,
        });
        let Value::Object(body) = body else {
            unreachable!("json! object literal")
        };
        // Logged by the uplink if it cannot be queued.
        let _ = self.uplink.state(
            &Source::host(),
            &format!("cfg/{plugin}/reported"),
            body,
            now,
        );
    }
}
