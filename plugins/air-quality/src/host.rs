//! The monitor's only window on the world.
//!
//! Inside the pole the wasm component implements [`Host`] over the WIT `alarm` import
//! (the SDK's [`Platform`] gives the rest); natively (tests)
//! an in-memory implementation runs the very same [`Monitor`](crate::Monitor) logic.

pub use sao_plugin_sdk::{EventState, LogLevel, Platform, Severity};

/// What the air-quality logic needs from the pole beyond the [`Platform`] every plugin
/// has. Errors are human-readable messages.
pub trait Host: Platform {
    /// Switches on the local `outputs` (an advisory-level alarm, e.g. a coloured beacon)
    /// and returns the alarm's id.
    fn raise_output(&mut self, outputs: &[String], message: &str) -> Result<u64, String>;

    /// Switches off what alarm `id` switched on (unless another alarm holds it).
    fn clear_output(&mut self, id: u64) -> Result<(), String>;
}
