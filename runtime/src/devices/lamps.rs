//! Lamp arbitration and the lighting fail-safe.
//!
//! A lamp is controlled by the last plugin that set its level. When no healthy plugin
//! controls it — never set, controller crashed or disabled, or silent for longer than the
//! fail-safe timeout — the lamp is driven to its safe level (default 100 %): a street is
//! never left dark because software failed.

use serde::{Deserialize, Serialize};

use sao_hardware::{DimmableLamp, HwError};

/// How the pole keeps its lights safe.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LightingPolicy {
    /// Level in percent applied when no healthy plugin controls a lamp.
    #[serde(default = "LightingPolicy::default_safe_level")]
    pub safe_level: f32,
    /// A controller that has not set a lamp for this long is considered dead, in seconds.
    #[serde(default = "LightingPolicy::default_silence_timeout_s")]
    pub silence_timeout_s: u64,
    /// Fade used when falling back to the safe level, in milliseconds.
    #[serde(default = "LightingPolicy::default_fade_ms")]
    pub failsafe_fade_ms: u32,
}

impl LightingPolicy {
    fn default_safe_level() -> f32 {
        100.0
    }
    fn default_silence_timeout_s() -> u64 {
        300
    }
    fn default_fade_ms() -> u32 {
        2000
    }
}

impl Default for LightingPolicy {
    fn default() -> Self {
        Self {
            safe_level: Self::default_safe_level(),
            silence_timeout_s: Self::default_silence_timeout_s(),
            failsafe_fade_ms: Self::default_fade_ms(),
        }
    }
}

/// Why a lamp request failed.
#[derive(Debug, thiserror::Error)]
pub enum LampError {
    /// No such lamp.
    #[error("no lamp `{0}` on this pole")]
    UnknownLamp(String),
    /// Level outside 0–100 or not finite.
    #[error("level {0} is outside 0-100 %")]
    InvalidLevel(f32),
    /// The driver failed.
    #[error(transparent)]
    Hardware(#[from] HwError),
}

/// A change of fail-safe state, to be reported upstream.
#[derive(Debug, Clone, PartialEq)]
pub struct FailsafeChange {
    /// Lamp id.
    pub lamp: String,
    /// True when the lamp went to its safe level, false when a plugin took it back.
    pub engaged: bool,
    /// Why.
    pub reason: String,
}

/// A lamp's state for status pages and telemetry.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LampStatus {
    /// Lamp id.
    pub id: String,
    /// Present level, percent.
    pub level: f32,
    /// Present power, watts.
    pub watts: f64,
    /// Cumulative energy, kWh.
    pub total_kwh: f64,
    /// Power at 100 %, watts.
    pub rated_watts: f64,
    /// Why the power meter could not be read, if it could not.
    pub meter_error: Option<String>,
    /// Plugin in control, if any.
    pub controller: Option<String>,
    /// Whether the fail-safe holds the lamp.
    pub failsafe: bool,
}

struct Slot {
    lamp: Box<dyn DimmableLamp>,
    controller: Option<String>,
    last_command_ms: u64,
    failsafe: bool,
    /// The level its controller (or the fail-safe) asked for last, with the fade: what
    /// the lamp goes back to when an alarm lets go of it.
    wanted: (f32, u32),
}

impl Slot {
    /// Sets the level the lamp should have; an alarm holding the lamps defers it.
    fn command(&mut self, percent: f32, fade_ms: u32, alarm: Option<f32>) -> Result<(), HwError> {
        self.wanted = (percent, fade_ms);
        match alarm {
            Some(_) => Ok(()),
            None => self.lamp.set_level(percent, fade_ms),
        }
    }
}

/// Owns the lamps and decides who drives them: an alarm first, then the controlling
/// plugin, then the fail-safe.
pub struct LampArbiter {
    slots: Vec<Slot>,
    policy: LightingPolicy,
    alarm: Option<f32>,
}

impl LampArbiter {
    /// Takes the lamps and drives each to the safe level until a plugin claims it.
    pub fn new(lamps: Vec<Box<dyn DimmableLamp>>, policy: &LightingPolicy) -> Self {
        let mut arbiter = Self {
            slots: lamps
                .into_iter()
                .map(|lamp| Slot {
                    lamp,
                    controller: None,
                    last_command_ms: 0,
                    failsafe: true,
                    wanted: (policy.safe_level, 0),
                })
                .collect(),
            policy: policy.clone(),
            alarm: None,
        };
        for slot in &mut arbiter.slots {
            if let Err(e) = slot.lamp.set_level(policy.safe_level, 0) {
                tracing::error!(
                    lamp = slot.lamp.id(),
                    "cannot apply safe level at start: {e}"
                );
            }
        }
        arbiter
    }

    /// Changes the policy; lamps at the fail-safe level move to the new safe level.
    pub fn set_policy(&mut self, policy: &LightingPolicy) {
        self.policy = policy.clone();
        let alarm = self.alarm;
        for slot in self.slots.iter_mut().filter(|s| s.failsafe) {
            if let Err(e) = slot.command(policy.safe_level, policy.failsafe_fade_ms, alarm) {
                tracing::error!(
                    lamp = slot.lamp.id(),
                    "cannot apply the new safe level: {e}"
                );
            }
        }
    }

    /// The fail-safe level.
    pub fn safe_level(&self) -> f32 {
        self.policy.safe_level
    }

    /// Ids and rated watts of all lamps.
    pub fn lamps(&self) -> Vec<(String, f64)> {
        self.slots
            .iter()
            .map(|s| (s.lamp.id().to_string(), s.lamp.rated_watts()))
            .collect()
    }

    fn slot(&mut self, id: &str) -> Result<&mut Slot, LampError> {
        self.slots
            .iter_mut()
            .find(|s| s.lamp.id() == id)
            .ok_or_else(|| LampError::UnknownLamp(id.to_string()))
    }

    /// `plugin` sets `lamp` to `percent`, taking control of it.
    pub fn set_level(
        &mut self,
        plugin: &str,
        lamp: &str,
        percent: f32,
        fade_ms: u32,
        now_ms: u64,
    ) -> Result<Option<FailsafeChange>, LampError> {
        if !(0.0..=100.0).contains(&percent) {
            return Err(LampError::InvalidLevel(percent));
        }
        let alarm = self.alarm;
        let slot = self.slot(lamp)?;
        slot.command(percent, fade_ms, alarm)?;
        slot.controller = Some(plugin.to_string());
        slot.last_command_ms = now_ms;
        Ok(std::mem::take(&mut slot.failsafe).then(|| FailsafeChange {
            lamp: lamp.to_string(),
            engaged: false,
            reason: format!("plugin `{plugin}` controls the lamp"),
        }))
    }

    /// Present level of `lamp`.
    pub fn level(&mut self, lamp: &str) -> Result<f32, LampError> {
        Ok(self.slot(lamp)?.lamp.level())
    }

    /// Energy meter of `lamp`.
    pub fn energy(&mut self, lamp: &str) -> Result<sao_hardware::EnergyReading, LampError> {
        Ok(self.slot(lamp)?.lamp.energy()?)
    }

    /// Drives every lamp `plugin` controls to the safe level (it crashed or was disabled).
    pub fn release(&mut self, plugin: &str, reason: &str) -> Vec<FailsafeChange> {
        self.engage_where(|slot| slot.controller.as_deref() == Some(plugin), reason)
    }

    /// Engages the fail-safe on lamps whose controller has been silent past the timeout.
    pub fn check_silence(&mut self, now_ms: u64) -> Vec<FailsafeChange> {
        let timeout_ms = self.policy.silence_timeout_s * 1000;
        self.engage_where(
            |slot| {
                slot.controller.is_some()
                    && now_ms.saturating_sub(slot.last_command_ms) > timeout_ms
            },
            &format!(
                "controller silent for more than {} s",
                self.policy.silence_timeout_s
            ),
        )
    }

    fn engage_where(&mut self, pred: impl Fn(&Slot) -> bool, reason: &str) -> Vec<FailsafeChange> {
        let (level, fade) = (self.policy.safe_level, self.policy.failsafe_fade_ms);
        let alarm = self.alarm;
        let mut changes = Vec::new();
        for slot in self.slots.iter_mut().filter(|s| !s.failsafe && pred(s)) {
            let id = slot.lamp.id().to_string();
            let applied = slot.command(level, fade, alarm);
            let reason = match (&slot.controller, applied) {
                (Some(p), Ok(())) => format!("plugin `{p}`: {reason}"),
                (_, Err(e)) => format!("{reason}; applying the safe level failed: {e}"),
                (None, Ok(())) => reason.to_string(),
            };
            tracing::warn!(lamp = %id, safe_level = level, "lighting fail-safe engaged: {reason}");
            slot.controller = None;
            slot.failsafe = true;
            changes.push(FailsafeChange {
                lamp: id,
                engaged: true,
                reason,
            });
        }
        changes
    }

    /// An alarm holds every lamp at `level` (flashing is a sequence of such calls), or
    /// with `None` lets go: each lamp returns to what its controller asked for last.
    pub fn set_alarm_level(&mut self, level: Option<f32>) {
        if self.alarm == level {
            return;
        }
        self.alarm = level;
        for slot in &mut self.slots {
            let (percent, fade) = level.map_or(slot.wanted, |l| (l, 0));
            if let Err(e) = slot.lamp.set_level(percent, fade) {
                tracing::error!(lamp = slot.lamp.id(), "alarm lighting failed: {e}");
            }
        }
    }

    /// State of every lamp.
    pub fn status(&mut self) -> Vec<LampStatus> {
        self.slots
            .iter_mut()
            .map(|s| {
                let energy = s.lamp.energy();
                let reading = energy.as_ref().ok();
                LampStatus {
                    id: s.lamp.id().to_string(),
                    level: s.lamp.level(),
                    watts: reading.map_or(0.0, |e| e.watts),
                    total_kwh: reading.map_or(0.0, |e| e.total_kwh),
                    rated_watts: s.lamp.rated_watts(),
                    meter_error: energy.err().map(|e| e.to_string()),
                    controller: s.controller.clone(),
                    failsafe: s.failsafe,
                }
            })
            .collect()
    }
}
