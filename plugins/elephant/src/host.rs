//! The watch's only window on the world.
//!
//! Inside the pole the wasm component implements [`Host`] over the WIT imports (`vision`
//! for snapshots, `alarm` for the 0.1.1 alarm requests, `telemetry` for the movement
//! records, plus the SDK's [`Platform`] for `kv` and `log`); natively (tests) any
//! in-memory implementation runs the very same [`Watch`](crate::Watch) logic.

use serde::{Deserialize, Serialize};

pub use sao_plugin_sdk::{EventState, LogLevel, Platform, Severity};

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
/// plugin has. Errors are human-readable messages; the watch logs them and carries on.
pub trait Host: Platform {
    /// Annotated JPEG of frame `frame_id` of `camera`, with the `highlight` track ids
    /// boxed in red.
    fn snapshot(
        &mut self,
        camera: &str,
        frame_id: u64,
        highlight: &[u64],
    ) -> Result<Vec<u8>, String>;

    /// Sounds a local alarm and sends the alert upstream; returns its id.
    fn sound_alarm(&mut self, request: &AlarmRequest) -> Result<u64, String>;

    /// Changes a sounding alarm (level, texts, details, new snapshot); also renews it.
    fn update_alarm(&mut self, id: u64, request: &AlarmRequest) -> Result<(), String>;

    /// Ends alarm `id`.
    fn clear_alarm(&mut self, id: u64) -> Result<(), String>;

    /// Whether alarm `id` is still active on the pole (the engine may have ended it by
    /// rule).
    fn alarm_active(&mut self, id: u64) -> bool;

    /// Publishes telemetry on `stream` with a JSON `details` object.
    fn publish_with_details(
        &mut self,
        stream: &str,
        metrics: &[(&str, f64, &str)],
        details: &str,
    ) -> Result<(), String>;
}
