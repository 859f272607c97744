//! The lifecycle of one installed plugin: start → run → (trap → store dropped → restart
//! with exponential backoff) → disabled when the restart budget is spent. Config changes
//! are validated against the package's schema and only the last good config is kept.
//! Every transition is reported upstream; a crashing plugin releases its lamps to the
//! fail-safe level.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tracing::Instrument as _;

use super::instance::{Call, Instance, InstanceLimits};
use super::manifest::Manifest;
use crate::host::{
    DeadlineExceeded, MemoryCapExceeded, PluginIdentity, PluginPre, PluginState, Services,
    TelemetryQuota,
};
use crate::reports;
use crate::uplink::Severity;

/// When and how often a crashed plugin is restarted.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RestartPolicy {
    /// Delay before the first restart, in ms; doubles with each crash in the window.
    #[serde(default = "RestartPolicy::default_initial_backoff_ms")]
    pub initial_backoff_ms: u64,
    /// Longest delay between restarts, in ms.
    #[serde(default = "RestartPolicy::default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// Crashes tolerated within `window-ms`; one more disables the plugin.
    #[serde(default = "RestartPolicy::default_budget")]
    pub budget: u32,
    /// Length of the crash-counting window, in ms.
    #[serde(default = "RestartPolicy::default_window_ms")]
    pub window_ms: u64,
}

impl RestartPolicy {
    fn default_initial_backoff_ms() -> u64 {
        1_000
    }
    fn default_max_backoff_ms() -> u64 {
        300_000
    }
    fn default_budget() -> u32 {
        5
    }
    fn default_window_ms() -> u64 {
        3_600_000
    }

    /// Delay before restart number `n` (1-based) within the window.
    pub fn backoff_ms(&self, n: u32) -> u64 {
        let factor = 1u64 << n.saturating_sub(1).min(30);
        self.initial_backoff_ms
            .saturating_mul(factor)
            .min(self.max_backoff_ms)
    }
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            initial_backoff_ms: Self::default_initial_backoff_ms(),
            max_backoff_ms: Self::default_max_backoff_ms(),
            budget: Self::default_budget(),
            window_ms: Self::default_window_ms(),
        }
    }
}

/// Where a plugin is in its lifecycle.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(
    tag = "state",
    rename_all = "kebab-case",
    rename_all_fields = "kebab-case"
)]
pub enum PluginHealth {
    /// Instantiated and receiving events.
    Running,
    /// Crashed; restarts at `until-ms`.
    Backoff {
        /// Pole time of the restart.
        until_ms: u64,
        /// Why it crashed.
        reason: String,
    },
    /// Crashed more often than the restart budget allows; stays off until reconfigured.
    Disabled {
        /// Why.
        reason: String,
    },
    /// Its `init` failed or its config is unusable; stays off until reconfigured.
    Failed {
        /// Why.
        reason: String,
    },
}

impl PluginHealth {
    /// Short state name (`running`, `backoff`, `disabled`, `failed`).
    pub fn name(&self) -> &'static str {
        match self {
            PluginHealth::Running => "running",
            PluginHealth::Backoff { .. } => "backoff",
            PluginHealth::Disabled { .. } => "disabled",
            PluginHealth::Failed { .. } => "failed",
        }
    }

    /// Why it is not running, if it is not.
    pub fn reason(&self) -> Option<&str> {
        match self {
            PluginHealth::Running => None,
            PluginHealth::Backoff { reason, .. }
            | PluginHealth::Disabled { reason }
            | PluginHealth::Failed { reason } => Some(reason),
        }
    }
}

/// Counters for the status page and upstream status.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct PluginStats {
    /// Handler calls that completed.
    pub calls: u64,
    /// Handler calls that returned an error.
    pub errors: u64,
    /// Traps (crashes).
    pub crashes: u64,
    /// Crashes that were the CPU deadline cutting a handler call off.
    pub deadline_hits: u64,
    /// Restarts performed.
    pub restarts: u64,
    /// Events not delivered because the plugin was not running.
    pub dropped: u64,
    /// Upstream records refused because the plugin exceeded its per-minute quota.
    pub throttled: u64,
    /// The last error or trap message.
    pub last_error: Option<String>,
}

/// An installed plugin and its lifecycle.
pub struct Supervisor {
    manifest: Manifest,
    identity: PluginIdentity,
    pre: PluginPre<PluginState>,
    services: Arc<Services>,
    limits: InstanceLimits,
    policy: RestartPolicy,
    validator: jsonschema::Validator,
    config: Option<Value>,
    instance: Option<Instance>,
    health: PluginHealth,
    crash_times: VecDeque<u64>,
    stats: PluginStats,
    configs: sled::Tree,
}

/// Everything needed to create a [`Supervisor`].
pub struct SupervisorParts {
    /// The plugin's manifest.
    pub manifest: Manifest,
    /// The pre-linked component.
    pub pre: PluginPre<PluginState>,
    /// Shared pole services.
    pub services: Arc<Services>,
    /// Restart policy.
    pub policy: RestartPolicy,
    /// What the manifest's CPU deadline is multiplied by (`timing.deadline-scale`).
    pub deadline_scale: f64,
    /// Validator of the package's config schema.
    pub validator: jsonschema::Validator,
    /// Where the last good config of each plugin is persisted.
    pub configs: sled::Tree,
    /// Upstream records the plugin may send per minute.
    pub telemetry_per_minute: u32,
}

/// Formats every schema violation of `config` as one line.
pub fn schema_errors(validator: &jsonschema::Validator, config: &Value) -> Option<String> {
    let errors: Vec<String> = validator
        .iter_errors(config)
        .map(|e| {
            let path = e.instance_path().to_string();
            let at = if path.is_empty() {
                "/".to_string()
            } else {
                path
            };
            format!("at {at}: {e}")
        })
        .collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}

fn describe_trap(e: &wasmtime::Error) -> String {
    if let Some(d) = e.downcast_ref::<DeadlineExceeded>() {
        return d.to_string();
    }
    if let Some(m) = e.downcast_ref::<MemoryCapExceeded>() {
        return m.to_string();
    }
    let trap = e
        .downcast_ref::<wasmtime::Trap>()
        .map(|t| format!("trap: {t}"));
    trap.unwrap_or_else(|| format!("{e:#}"))
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

impl Supervisor {
    /// Creates the supervisor; the plugin is started by [`Supervisor::start`].
    pub fn new(parts: SupervisorParts) -> Self {
        let m = &parts.manifest;
        let identity = PluginIdentity {
            id: m.id.clone(),
            version: m.version.clone(),
            dataset: m.dataset.clone(),
            dimension: m.dimension.clone(),
        };
        let limits = InstanceLimits {
            memory_bytes: m.limits.memory_mib as usize * 1024 * 1024,
            call_deadline: Duration::from_millis(m.limits.call_deadline_ms.into())
                .mul_f64(parts.deadline_scale),
            telemetry: Arc::new(TelemetryQuota::new(parts.telemetry_per_minute)),
        };
        Self {
            identity,
            limits,
            manifest: parts.manifest,
            pre: parts.pre,
            services: parts.services,
            policy: parts.policy,
            validator: parts.validator,
            config: None,
            instance: None,
            health: PluginHealth::Failed {
                reason: "not started".into(),
            },
            crash_times: VecDeque::new(),
            stats: PluginStats::default(),
            configs: parts.configs,
        }
    }

    /// Changes the restart policy (from the next crash on).
    pub fn set_policy(&mut self, policy: RestartPolicy) {
        self.policy = policy;
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Plugin id.
    pub fn id(&self) -> &str {
        &self.identity.id
    }

    /// Current lifecycle state.
    pub fn health(&self) -> &PluginHealth {
        &self.health
    }

    /// Counters.
    pub fn stats(&self) -> PluginStats {
        PluginStats {
            throttled: self.limits.telemetry.refused(),
            ..self.stats.clone()
        }
    }

    /// Linear memory of the running instance, in bytes (0 when it is not running).
    pub fn memory_bytes(&self) -> usize {
        self.instance.as_ref().map_or(0, |i| i.memory_bytes())
    }

    /// The config in force (last good).
    pub fn config(&self) -> Option<&Value> {
        self.config.as_ref()
    }

    /// Status document for upstream and the status page.
    pub fn status(&self) -> Value {
        json!({
            "id": self.identity.id,
            "version": self.identity.version,
            "health": self.health,
            "stats": self.stats(),
        })
    }

    fn span(&self) -> tracing::Span {
        tracing::info_span!("plugin", id = %self.identity.id, version = %self.identity.version)
    }

    fn persisted_config(&self) -> Option<Value> {
        let bytes = self.configs.get(&self.identity.id).ok().flatten()?;
        serde_json::from_slice(&bytes).ok()
    }

    fn persist_config(&self, config: &Value) {
        let bytes = serde_json::to_vec(config).expect("JSON values serialise");
        if let Err(e) = self
            .configs
            .insert(&self.identity.id, bytes)
            .and_then(|_| self.configs.flush())
        {
            tracing::error!(plugin = %self.identity.id, "cannot persist config: {e}");
        }
    }

    fn set_health(&mut self, health: PluginHealth, severity: Severity, message: &str, now: u64) {
        let _span = self.span().entered();
        match severity {
            Severity::Info => tracing::info!(state = health.name(), "{message}"),
            Severity::Warning => tracing::warn!(state = health.name(), "{message}"),
            Severity::Critical => tracing::error!(state = health.name(), "{message}"),
        }
        reports::plugin_state(
            &self.services.uplink,
            &self.identity.id,
            health.name(),
            severity,
            message,
            now,
        );
        self.health = health;
    }

    /// Validates `config` and starts the plugin with it. An invalid config falls back to
    /// the last good config persisted on the pole, if there is one.
    pub async fn start(&mut self, config: Value, now: u64) {
        match schema_errors(&self.validator, &config) {
            None => self.config = Some(config),
            Some(errors) => {
                let message = format!("config rejected: {errors}");
                match self.persisted_config() {
                    Some(last_good) => {
                        reports::plugin_state(
                            &self.services.uplink,
                            &self.identity.id,
                            "config-rejected",
                            Severity::Warning,
                            &format!("{message}; running the last good config"),
                            now,
                        );
                        self.config = Some(last_good);
                    }
                    None => {
                        self.stats.last_error = Some(message.clone());
                        self.set_health(
                            PluginHealth::Failed {
                                reason: message.clone(),
                            },
                            Severity::Critical,
                            &message,
                            now,
                        );
                        return;
                    }
                }
            }
        }
        self.launch(now, false).await;
    }

    /// Instantiates and calls `init`. On success the config becomes the last good one.
    async fn launch(&mut self, now: u64, restart: bool) {
        let Some(config) = self.config.clone() else {
            return;
        };
        let started = Instance::start(
            &self.pre,
            self.identity.clone(),
            self.services.clone(),
            &self.limits,
        )
        .instrument(self.span())
        .await;
        let mut instance = match started {
            Ok(i) => i,
            Err(e) => return self.crashed(&e, "instantiate", now),
        };
        let config_text = config.to_string();
        match instance
            .call(&Call::Init(config_text))
            .instrument(self.span())
            .await
        {
            Ok(Ok(())) => {
                self.instance = Some(instance);
                self.persist_config(&config);
                if restart {
                    self.stats.restarts += 1;
                }
                let message = if restart { "restarted" } else { "started" };
                self.set_health(PluginHealth::Running, Severity::Info, message, now);
            }
            Ok(Err(message)) => {
                let reason = format!("init failed: {message}");
                self.stats.errors += 1;
                self.stats.last_error = Some(reason.clone());
                self.set_health(
                    PluginHealth::Failed {
                        reason: reason.clone(),
                    },
                    Severity::Critical,
                    &reason,
                    now,
                );
            }
            Err(e) => self.crashed(&e, "init", now),
        }
    }

    fn crashed(&mut self, error: &wasmtime::Error, during: &str, now: u64) {
        self.instance = None;
        self.stats.crashes += 1;
        if error.downcast_ref::<DeadlineExceeded>().is_some() {
            self.stats.deadline_hits += 1;
        }
        let reason = format!("crashed in {during}: {}", describe_trap(error));
        self.stats.last_error = Some(reason.clone());
        let changes = self
            .services
            .devices
            .lamps()
            .release(&self.identity.id, &reason);
        let safe_level = self.services.devices.lamps().safe_level();
        reports::failsafe(&self.services.uplink, &changes, safe_level, now);
        // A sign nobody keeps current comes down; the plugin shows it again when it is back.
        self.services.alarms.withdraw_sign(&self.identity.id);

        self.crash_times.push_back(now);
        while self
            .crash_times
            .front()
            .is_some_and(|&t| now.saturating_sub(t) > self.policy.window_ms)
        {
            self.crash_times.pop_front();
        }
        let recent = self.crash_times.len() as u32;
        if recent > self.policy.budget {
            let message = format!(
                "{reason}; disabled after {recent} crashes within {} s",
                self.policy.window_ms / 1000
            );
            self.set_health(
                PluginHealth::Disabled {
                    reason: message.clone(),
                },
                Severity::Critical,
                &message,
                now,
            );
        } else {
            let delay = self.policy.backoff_ms(recent);
            let message = format!("{reason}; restart in {} ms", delay);
            self.set_health(
                PluginHealth::Backoff {
                    until_ms: now + delay,
                    reason,
                },
                Severity::Warning,
                &message,
                now,
            );
        }
    }

    /// Delivers one call, restarting the plugin first if its backoff has expired.
    /// Returns why the call did not succeed, if it did not; the supervisor has counted
    /// and reported it already, so most callers need not look.
    pub async fn deliver(&mut self, call: Call, now: u64) -> Result<(), String> {
        if let PluginHealth::Backoff { until_ms, .. } = self.health {
            if now >= until_ms {
                self.launch(now, true).await;
            }
        }
        let span = self.span();
        let Some(instance) = self.instance.as_mut() else {
            self.stats.dropped += 1;
            return Err(format!("the plugin is {}", self.health.name()));
        };
        match instance.call(&call).instrument(span.clone()).await {
            Ok(Ok(())) => {
                self.stats.calls += 1;
                Ok(())
            }
            Ok(Err(message)) => {
                self.stats.calls += 1;
                self.stats.errors += 1;
                span.in_scope(|| tracing::warn!(handler = call.name(), "handler error: {message}"));
                self.stats.last_error = Some(format!("{}: {message}", call.name()));
                Err(message)
            }
            Err(e) => {
                self.crashed(&e, call.name(), now);
                Err(format!("the plugin crashed: {}", describe_trap(&e)))
            }
        }
    }

    /// Starts the plugin afresh with the config in force, forgetting its crash history
    /// (a technician's restart from the pole's page: it does not count as a crash
    /// restart). Errors when it has no valid config or does not come up.
    pub async fn restart(&mut self, now: u64) -> Result<(), String> {
        if self.config.is_none() {
            return Err(format!("plugin `{}` has no valid config", self.identity.id));
        }
        self.instance = None;
        self.crash_times.clear();
        self.launch(now, false).await;
        match &self.health {
            PluginHealth::Running => Ok(()),
            other => Err(format!(
                "plugin `{}` is {}: {}",
                self.identity.id,
                other.name(),
                other.reason().unwrap_or_default()
            )),
        }
    }

    /// Applies a new config: validated against the schema, then handed to the plugin.
    /// On any failure the previous config stays in force and the reason is returned.
    /// A disabled or failed plugin is started afresh with a valid new config.
    pub async fn reconfigure(&mut self, config: Value, now: u64) -> Result<(), String> {
        if let Some(errors) = schema_errors(&self.validator, &config) {
            let reason = format!("config rejected: {errors}");
            reports::plugin_state(
                &self.services.uplink,
                &self.identity.id,
                "config-rejected",
                Severity::Warning,
                &reason,
                now,
            );
            return Err(reason);
        }
        let span = self.span();
        let Some(instance) = self.instance.as_mut() else {
            self.config = Some(config);
            self.crash_times.clear();
            self.launch(now, false).await;
            return match &self.health {
                PluginHealth::Running => Ok(()),
                other => Err(format!("plugin is {}", other.name())),
            };
        };
        let result = instance
            .call(&Call::Config(config.to_string()))
            .instrument(span)
            .await;
        let outcome = match result {
            Ok(Ok(())) => {
                self.persist_config(&config);
                self.config = Some(config);
                return Ok(());
            }
            Ok(Err(message)) => format!("config rejected by the plugin: {message}"),
            Err(e) => {
                self.crashed(&e, "on-config", now);
                "plugin crashed applying the config".to_string()
            }
        };
        reports::plugin_state(
            &self.services.uplink,
            &self.identity.id,
            "config-rejected",
            Severity::Warning,
            &outcome,
            now,
        );
        Err(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RestartPolicy {
            initial_backoff_ms: 1000,
            max_backoff_ms: 5000,
            budget: 3,
            window_ms: 60_000,
        };
        assert_eq!(
            (1..=5).map(|n| p.backoff_ms(n)).collect::<Vec<_>>(),
            vec![1000, 2000, 4000, 5000, 5000]
        );
    }
}
