//! The controller's only window on the world.
//!
//! Inside the pole the wasm component implements [`Host`] over the WIT imports
//! (`lighting`, `kv`, `telemetry`, `clock`, `log`); natively (tests, benchmarks) any
//! in-memory implementation runs the very same [`Controller`](crate::Controller) logic.

/// A lamp the pole can dim.
#[derive(Debug, Clone, PartialEq)]
pub struct Lamp {
    /// Lamp id from the pole's hardware config, e.g. `main`.
    pub id: String,
    /// Rated electrical power at 100 %, in watts.
    pub rated_watts: f64,
}

/// Severity of a log line (mirrors WIT `log.level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Very detailed diagnostics.
    Trace,
    /// Decisions and other diagnostics.
    Debug,
    /// Normal operation worth recording (switch-on, switch-off, energy report).
    Info,
    /// Something unexpected that the plugin handled.
    Warn,
    /// Something failed.
    Error,
}

/// Lifecycle of an event (mirrors WIT `telemetry.event-state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventState {
    /// A condition began.
    Raised,
    /// A condition ended.
    Cleared,
    /// A one-off occurrence.
    Info,
}

/// How serious an event is (mirrors WIT `telemetry.severity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Informational.
    Info,
    /// Needs attention.
    Warning,
    /// Needs action now.
    Critical,
}

/// Everything the dimming logic needs from the pole. Errors are human-readable
/// messages; the controller logs or reports them and carries on.
pub trait Host {
    /// The pole's lamps.
    fn lamps(&mut self) -> Vec<Lamp>;

    /// Sets `lamp` to `percent` (0 = off), fading over `fade_ms`. Also tells the host
    /// the controller is alive.
    fn set_level(&mut self, lamp: &str, percent: f32, fade_ms: u32) -> Result<(), String>;

    /// The lamp's energy meter: kWh used since the meter was installed.
    fn read_energy_kwh(&mut self, lamp: &str) -> Result<f64, String>;

    /// The value stored under `key` in the plugin's persistent store, if any.
    fn kv_get(&mut self, key: &str) -> Result<Option<Vec<u8>>, String>;

    /// Stores `value` under `key` durably, replacing any previous value.
    fn kv_set(&mut self, key: &str, value: &[u8]) -> Result<(), String>;

    /// Publishes one telemetry record on `stream`: `(name, value, unit)` triples.
    fn publish(&mut self, stream: &str, metrics: &[(&str, f64, &str)]) -> Result<(), String>;

    /// Publishes an event of `kind`; `details` is a JSON object or empty.
    fn event(
        &mut self,
        kind: &str,
        state: EventState,
        severity: Severity,
        message: &str,
        details: &str,
    ) -> Result<(), String>;

    /// Writes a log line.
    fn log(&mut self, level: LogLevel, message: &str);

    /// Offset of the pole's local civil time from UTC, in minutes (Thailand: 420).
    fn utc_offset_minutes(&mut self) -> i32;

    /// The pole's position: (latitude, longitude) in degrees, north and east positive.
    fn location(&mut self) -> (f64, f64);
}
