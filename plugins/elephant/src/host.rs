//! The watch's only window on the world.
//!
//! Inside the pole the wasm component implements [`Host`] over the WIT `alarm` imports
//! for the 0.1.1 alarm requests (the SDKs give [`Platform`] for `kv`, `log` and the
//! movement records, and [`Snapshots`] over `vision`); natively (tests) any in-memory
//! implementation runs the very same [`Watch`](crate::Watch) logic.

use serde::{Deserialize, Serialize};

pub use sao_plugin_sdk::{EventState, LogLevel, Platform, Severity};
pub use sao_plugin_sdk_vision::Snapshots;

/// Alarm urgency (mirrors WIT `alarm.level`), ordered from the least to the most urgent.
/// In config JSON it is spelled `advisory`, `warning` or `emergency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlarmLevel {
    /// Worth a look.
    Advisory,
    /// Act soon.
    Warning,
    /// Act now: sirens sound.
    Emergency,
}

/// What the plugin asks of the pole's alarm engine (mirrors WIT `alarm.alarm-request`).
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmRequest {
    /// Topic segment of the alert, here always `elephant`.
    pub kind: String,
    /// Urgency; the pole's config says which outputs each level drives.
    pub level: AlarmLevel,
    /// Thai text for the pole display and the alert.
    pub message_th: String,
    /// English text.
    pub message_en: String,
    /// Recorded voice clip to play on the pole speaker, by name.
    pub voice: Option<String>,
    /// JSON object text sent upstream with the alert.
    pub details: String,
    /// Annotated JPEG attached to the alert.
    pub snapshot: Option<Vec<u8>>,
}

/// Everything the elephant logic needs from the pole beyond the [`Platform`] every
/// plugin has and the [`Snapshots`] of vision plugins. Errors are human-readable messages; the watch logs them and carries on.
pub trait Host: Platform + Snapshots {
    /// Sounds a local alarm and sends the alert upstream; returns its id.
    fn sound_alarm(&mut self, request: &AlarmRequest) -> Result<u64, String>;

    /// Changes a sounding alarm (level, texts, details, new snapshot); also renews it.
    fn update_alarm(&mut self, id: u64, request: &AlarmRequest) -> Result<(), String>;

    /// Ends alarm `id`.
    fn clear_alarm(&mut self, id: u64) -> Result<(), String>;

    /// Whether alarm `id` is still active on the pole (the engine may have ended it by
    /// rule).
    fn alarm_active(&mut self, id: u64) -> bool;
}
