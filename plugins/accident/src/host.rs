//! The plugin logic's only window on the world.
//!
//! Inside the pole the wasm component implements [`Host`] over `telemetry.report` for
//! incident reports (the SDKs give [`Platform`] for `kv`, `log` and the counts'
//! telemetry, and [`Snapshots`] over `vision`); natively (tests) an in-memory implementation runs
//! the very same [`Analyzer`](crate::Analyzer).

pub use sao_plugin_sdk::{EventState, LogLevel, Platform, Severity};
pub use sao_plugin_sdk_vision::Snapshots;

/// Where an incident stands in a report (mirrors WIT `telemetry.incident-phase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Its first report.
    Opened,
    /// Something about it changed.
    Updated,
    /// Its last report: the scene cleared.
    Closed,
}

/// One report on an incident (mirrors WIT `telemetry.incident-report`).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Event kind: `collision`, `stalled-vehicle`, `wrong-way`, `pedestrian`.
    pub kind: String,
    /// The incident's id, the same on each of its reports.
    pub incident: String,
    /// Where it stands.
    pub phase: Phase,
    /// How serious it is now.
    pub severity: Severity,
    /// English explanation.
    pub message: String,
    /// JSON object text: the accident database's record.
    pub details: String,
    /// Annotated JPEG, people and plates blurred by the pole.
    pub snapshot: Option<Vec<u8>>,
}

/// Everything the accident logic needs from the pole beyond the [`Platform`] every
/// plugin has and the [`Snapshots`] of vision plugins. Errors are human-readable messages; the logic logs them and carries on.
pub trait Host: Platform + Snapshots {
    /// Sends an incident report upstream (`…/evt/accident/{kind}`).
    fn report(&mut self, report: &Report) -> Result<(), String>;
}
