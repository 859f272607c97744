//! The pole's own configuration (`pole.toml`): identity, storage, trust, lighting policy,
//! hardware backend and the plugins to run with their grants and config.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::alarm::AlarmConfig;
use crate::control::ControlConfig;
use crate::devices::LightingPolicy;
use crate::health::HealthConfig;
use crate::plugin::{Capability, RestartPolicy};
use crate::sos::SosConfig;
use crate::uplink::{Identity, UplinkConfig};
use crate::vision::VisionConfig;
use sao_vision::pipeline::CameraConfig;

/// A parsed `pole.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PoleConfig {
    /// Who and where the pole is.
    pub pole: Identity,
    /// Where state lives.
    #[serde(default)]
    pub storage: Storage,
    /// Which signing keys are trusted.
    #[serde(default)]
    pub trust: Trust,
    /// Lighting fail-safe.
    #[serde(default)]
    pub lighting: LightingPolicy,
    /// Plugin restart policy.
    #[serde(default)]
    pub restart: RestartPolicy,
    /// Timing of the main loop.
    #[serde(default)]
    pub timing: Timing,
    /// The hardware backend.
    #[serde(default)]
    pub hardware: Hardware,
    /// The MQTT uplink and its outbox.
    #[serde(default)]
    pub uplink: UplinkConfig,
    /// Remote control by operators.
    #[serde(default)]
    pub control: ControlConfig,
    /// Plugins to install at start.
    #[serde(default)]
    pub plugins: Vec<PluginSpec>,
    /// How the box runs inference and what snapshots hide.
    #[serde(default)]
    pub vision: VisionConfig,
    /// The pole's cameras.
    #[serde(default)]
    pub cameras: Vec<CameraConfig>,
    /// The local alarm engine.
    #[serde(default)]
    pub alarm: AlarmConfig,
    /// Health checks and thermal derating.
    #[serde(default)]
    pub health: HealthConfig,
    /// The SOS button.
    #[serde(default)]
    pub sos: SosConfig,
    /// The technician page and `/metrics`.
    #[serde(default)]
    pub web: sao_web::WebConfig,
    /// The ready-made set-up the pole started from (e.g. `bus-stop`), for people.
    #[serde(default)]
    pub profile: Option<String>,
}

/// Storage locations.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Storage {
    /// Directory for the sled database and the compiled-component cache.
    #[serde(default = "Storage::default_data_dir")]
    pub data_dir: PathBuf,
}

impl Storage {
    fn default_data_dir() -> PathBuf {
        PathBuf::from("/var/lib/sao")
    }
}

impl Default for Storage {
    fn default() -> Self {
        Self {
            data_dir: Self::default_data_dir(),
        }
    }
}

/// Trust settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Trust {
    /// Directory of trusted vendor public keys (`*.pub`).
    #[serde(default = "Trust::default_keys_dir")]
    pub keys_dir: PathBuf,
}

impl Trust {
    fn default_keys_dir() -> PathBuf {
        PathBuf::from("/etc/sao/trusted-keys")
    }
}

impl Default for Trust {
    fn default() -> Self {
        Self {
            keys_dir: Self::default_keys_dir(),
        }
    }
}

/// Loop timing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Timing {
    /// How often sensors are polled (and ticks checked), in ms.
    #[serde(default = "Timing::default_poll_ms")]
    pub poll_interval_ms: u64,
    /// How often the host publishes lamp health telemetry, in seconds.
    #[serde(default = "Timing::default_health_s")]
    pub health_interval_s: u64,
    /// What every plugin's CPU deadline is multiplied by. Vendors declare deadlines for
    /// the reference box, a Raspberry Pi 4; a slower box raises this (1 to 100). Default:
    /// `SAO_DEADLINE_SCALE` from the environment (a box class's unit file, or emulation,
    /// where `.ci/test-aarch64` sets it), else 1. The environment is read wherever
    /// settings are parsed, remote ones (`cfg/sao/desired`) too, so an operator's
    /// `[timing]` that leaves the scale out keeps the box's own.
    #[serde(default = "Timing::default_deadline_scale")]
    pub deadline_scale: f64,
}

impl Timing {
    fn default_poll_ms() -> u64 {
        1000
    }
    fn default_health_s() -> u64 {
        300
    }
    /// `SAO_DEADLINE_SCALE`, else 1; not a number is NaN, which validation refuses.
    fn default_deadline_scale() -> f64 {
        std::env::var("SAO_DEADLINE_SCALE")
            .map_or(1.0, |text| text.trim().parse().unwrap_or(f64::NAN))
    }
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            poll_interval_ms: Self::default_poll_ms(),
            health_interval_s: Self::default_health_s(),
            deadline_scale: Self::default_deadline_scale(),
        }
    }
}

/// Which hardware the pole drives.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "backend", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Hardware {
    /// The deterministic simulator (boxed: its config is several times the Pi's).
    Sim(Box<sao_hardware::sim::SimConfig>),
    /// A Raspberry Pi through rppal (needs the `rpi` feature).
    #[cfg(feature = "rpi")]
    Rpi(sao_hardware::rpi::RpiConfig),
}

impl Default for Hardware {
    fn default() -> Self {
        Hardware::Sim(Box::default())
    }
}

/// One plugin to install.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PluginSpec {
    /// Path of the `.sao` package.
    pub package: PathBuf,
    /// Capabilities the operator grants it.
    #[serde(default)]
    pub grants: Vec<Capability>,
    /// Its config (validated against the package's schema).
    #[serde(default = "empty_object")]
    pub config: serde_json::Value,
    /// Upstream records it may send per minute; more are refused and reported.
    #[serde(default = "PluginSpec::default_telemetry_per_minute")]
    pub telemetry_per_minute: u32,
}

impl PluginSpec {
    /// Upstream records per minute a plugin may send unless configured otherwise.
    pub fn default_telemetry_per_minute() -> u32 {
        120
    }
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

impl PoleConfig {
    /// Reads a config file, resolving relative paths against its directory.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut config: Self =
            toml::from_str(&text).with_context(|| format!("{} is invalid", path.display()))?;
        config.resolve_paths(path.parent().unwrap_or(Path::new(".")));
        config
            .validate()
            .map_err(|e| anyhow::anyhow!("{} is invalid: {e}", path.display()))?;
        Ok(config)
    }

    /// Checks what serde cannot: identity, runtime settings, uplink and control.
    pub fn validate(&self) -> Result<(), String> {
        self.pole.validate()?;
        self.settings().validate()?;
        self.uplink.validate()?;
        self.health.validate()?;
        self.web.validate()?;
        self.control.validate()
    }

    /// The settings operators may change remotely, as this file sets them.
    pub fn settings(&self) -> RuntimeSettings {
        RuntimeSettings {
            timing: self.timing.clone(),
            lighting: self.lighting.clone(),
            restart: self.restart,
        }
    }

    /// Makes relative paths relative to `base`.
    pub fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        self.uplink.resolve_paths(base);
        self.control.resolve_paths(base);
        fix(&mut self.storage.data_dir);
        fix(&mut self.trust.keys_dir);
        #[allow(irrefutable_let_patterns)]
        if let Hardware::Sim(sim) = &mut self.hardware {
            sim.trace.as_mut().map(fix);
        }
        for plugin in &mut self.plugins {
            fix(&mut plugin.package);
        }
    }
}

/// The runtime's own settings that operators may change remotely (`cfg/sao/desired`):
/// the sections of `pole.toml` of the same names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RuntimeSettings {
    /// Loop timing.
    #[serde(default)]
    pub timing: Timing,
    /// The lighting fail-safe.
    #[serde(default)]
    pub lighting: LightingPolicy,
    /// The plugin restart policy.
    #[serde(default)]
    pub restart: RestartPolicy,
}

impl RuntimeSettings {
    /// Reads and checks settings sent as JSON.
    pub fn from_json(value: serde_json::Value) -> Result<Self, String> {
        let settings: Self =
            serde_json::from_value(value).map_err(|e| format!("runtime settings rejected: {e}"))?;
        settings
            .validate()
            .map_err(|e| format!("runtime settings rejected: {e}"))?;
        Ok(settings)
    }

    /// Checks the values are usable.
    pub fn validate(&self) -> Result<(), String> {
        let safe = self.lighting.safe_level;
        if !(0.0..=100.0).contains(&safe) {
            return Err(format!("lighting.safe-level {safe} is not a percentage"));
        }
        if self.timing.poll_interval_ms < 10 {
            return Err("timing.poll-interval-ms must be at least 10".into());
        }
        if self.timing.health_interval_s == 0 {
            return Err("timing.health-interval-s must be at least 1".into());
        }
        let scale = self.timing.deadline_scale;
        if !(1.0..=100.0).contains(&scale) {
            return Err(format!(
                "timing.deadline-scale (or SAO_DEADLINE_SCALE) must be a number from 1 to 100, got {scale}"
            ));
        }
        if self.restart.initial_backoff_ms > self.restart.max_backoff_ms {
            return Err("restart.initial-backoff-ms exceeds restart.max-backoff-ms".into());
        }
        Ok(())
    }
}
