//! [`Platform`]: the pole as every plugin's logic sees it, independent of wasm.

/// Severity of a log line (mirrors WIT `log.level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Very detailed diagnostics.
    Trace,
    /// Decisions and other diagnostics.
    Debug,
    /// Normal operation worth recording.
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

/// The capabilities every plugin's logic uses: `kv`, `telemetry`, `log` and `clock`.
/// Errors are human-readable messages; plugin logic logs or reports them and carries on.
pub trait Platform {
    /// The value stored under `key` in the plugin's persistent store, if any.
    fn kv_get(&mut self, key: &str) -> Result<Option<Vec<u8>>, String>;

    /// Stores `value` under `key` durably, replacing any previous value.
    fn kv_set(&mut self, key: &str, value: &[u8]) -> Result<(), String>;

    /// Publishes one telemetry record on `stream`: `(name, value, unit)` triples.
    fn publish(&mut self, stream: &str, metrics: &[(&str, f64, &str)]) -> Result<(), String>;

    /// Publishes one telemetry record like [`Platform::publish`], with `details`: a JSON
    /// object (or empty) for the labels and texts that belong with the numbers.
    fn publish_with_details(
        &mut self,
        stream: &str,
        metrics: &[(&str, f64, &str)],
        details: &str,
    ) -> Result<(), String>;

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
