//! The signage logic's only window on the world.
//!
//! Inside the pole the wasm component implements [`Host`] over the WIT `display` import
//! (the SDK's [`Platform`] gives `kv`, `telemetry`, `log` and the clock's offset);
//! natively (tests) any in-memory implementation runs the very same
//! [`Signage`](crate::Signage) logic.

pub use sao_plugin_sdk::{EventState, LogLevel, Platform, Severity};

/// A sign for the display (mirrors WIT `display.sign`).
#[derive(Debug, Clone, PartialEq)]
pub struct Sign {
    /// Thai text; lines separated by `\n`.
    pub th: String,
    /// English text.
    pub en: String,
    /// 0–100: a higher priority wins the display.
    pub priority: u8,
}

/// Everything the signage logic needs from the pole beyond the [`Platform`] every plugin
/// has: its sign on the display.
pub trait Host: Platform {
    /// Proposes `sign` as the plugin's sign, replacing the previous one.
    fn show_sign(&mut self, sign: &Sign) -> Result<(), String>;

    /// Withdraws the plugin's sign.
    fn clear_sign(&mut self);

    /// Whether the plugin's sign is on the display now (no alarm or higher sign in front).
    fn sign_on_display(&mut self) -> bool;
}
