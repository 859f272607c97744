//! The controller's only window on the world.
//!
//! Inside the pole the wasm component implements [`Host`] over the WIT imports
//! (`lighting`, plus the SDK's [`Platform`] for `kv`, `telemetry`, `clock`, `log`);
//! natively (tests, benchmarks) any in-memory implementation runs the very same
//! [`Controller`](crate::Controller) logic.

pub use sao_plugin_sdk::{EventState, LogLevel, Platform, Severity};

/// A lamp the pole can dim.
#[derive(Debug, Clone, PartialEq)]
pub struct Lamp {
    /// Lamp id from the pole's hardware config, e.g. `main`.
    pub id: String,
    /// Rated electrical power at 100 %, in watts.
    pub rated_watts: f64,
}

/// Everything the dimming logic needs from the pole: the lamps, on top of the
/// [`Platform`] every plugin has. Errors are human-readable messages; the controller logs
/// or reports them and carries on.
pub trait Host: Platform {
    /// The pole's lamps.
    fn lamps(&mut self) -> Vec<Lamp>;

    /// Sets `lamp` to `percent` (0 = off), fading over `fade_ms`. Also tells the host
    /// the controller is alive.
    fn set_level(&mut self, lamp: &str, percent: f32, fade_ms: u32) -> Result<(), String>;

    /// The lamp's energy meter: kWh used since the meter was installed.
    fn read_energy_kwh(&mut self, lamp: &str) -> Result<f64, String>;
}
