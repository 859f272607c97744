//! What the page shows: plain data the runtime copies out of its state for each request.
//!
//! Every type serialises with kebab-case field names; `/api/state` is a [`PoleSnapshot`].
//! Times are milliseconds since the Unix epoch on the pole's clock.

use serde::{Deserialize, Serialize};

/// Everything the page shows at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PoleSnapshot {
    /// Which pole this is.
    pub identity: Identity,
    /// The pole clock when the snapshot was taken.
    pub now_ms: u64,
    /// The MQTT link to the city's broker.
    pub uplink: UplinkView,
    /// The overall health and what makes it less than green.
    pub health: HealthView,
    /// Installed plugins.
    pub plugins: Vec<PluginView>,
    /// The latest reading of each sensor.
    pub readings: Vec<ReadingView>,
    /// The pole's lamps.
    pub lamps: Vec<LampView>,
    /// Lighting energy against the old system, when the pole meters it.
    pub energy: Option<EnergyView>,
    /// The current air-quality index, when the pole computes one.
    pub aqi: Option<AqiView>,
    /// Active alarms.
    pub alarms: Vec<AlarmView>,
    /// Recent events, newest first.
    pub events: Vec<EventView>,
    /// Configured cameras.
    pub cameras: Vec<CameraView>,
    /// What the pole's sign shows, when it has one.
    pub display: Option<DisplayView>,
    /// The time series the page can plot.
    pub series: Vec<SeriesInfo>,
}

/// Who and where the pole is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Identity {
    /// Pole id.
    pub pole: String,
    /// Site id.
    pub site: String,
    /// The deployment profile (e.g. `street`, `elephant`), if any.
    pub profile: Option<String>,
    /// Latitude in degrees, if configured.
    pub latitude: Option<f64>,
    /// Longitude in degrees, if configured.
    pub longitude: Option<f64>,
    /// The sao version running.
    pub version: String,
    /// The pole's local time offset from UTC (420 for Thailand).
    pub utc_offset_minutes: i32,
}

/// The upstream link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct UplinkView {
    /// Whether the broker connection is up.
    pub connected: bool,
    /// The broker's address.
    pub broker: String,
    /// Records waiting in the outbox.
    pub outbox_depth: u64,
}

/// A health level, ordered from best to worst.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Everything works.
    #[default]
    Green,
    /// Something needs a look.
    Amber,
    /// Something is broken.
    Red,
}

/// The pole's overall health.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct HealthView {
    /// The worst status of any finding (green when there is none).
    pub status: HealthStatus,
    /// What is wrong, one finding per component.
    pub findings: Vec<Finding>,
}

/// One component that is not fully healthy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Finding {
    /// The component, as `kind:name` or a bare name: `camera:forest-edge`, `lamp:lamp-1`,
    /// `sensor:pm25`, `cpu`, `disk`, `plugin:dimming`.
    pub component: String,
    /// How bad it is.
    pub status: HealthStatus,
    /// What is wrong, in English.
    pub problem: String,
    /// When it started.
    pub since_ms: u64,
}

/// One installed plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PluginView {
    /// Plugin id.
    pub id: String,
    /// Plugin version.
    pub version: String,
    /// `running`, `backoff`, `disabled` or `failed`.
    pub state: String,
    /// Restarts since the runtime started.
    pub restarts: u64,
    /// Crashes since the runtime started.
    pub crashes: u64,
    /// The last error, if any.
    pub last_error: Option<String>,
}

/// The latest reading of one sensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ReadingView {
    /// Sensor name.
    pub sensor: String,
    /// The value.
    pub value: f64,
    /// UCUM unit: `lx`, `Cel`, `ug/m3`, `1`, …
    pub unit: String,
    /// When it was read.
    pub ts_ms: u64,
}

/// One lamp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LampView {
    /// Lamp id.
    pub id: String,
    /// Dim level, 0–100 %.
    pub level_percent: f64,
    /// Power drawn now.
    pub watts: f64,
    /// Energy meter total.
    pub total_kwh: f64,
    /// Whether the lighting fail-safe holds the lamp at its safe level.
    pub failsafe: bool,
    /// Who sets the level (a plugin id, or the alarm engine); `None` when nobody does.
    pub controller: Option<String>,
}

/// Lighting energy against the baseline of the old system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct EnergyView {
    /// Energy used since `since_ms`.
    pub used_kwh: f64,
    /// What the old system would have used over the same time.
    pub baseline_kwh: f64,
    /// Saving against the baseline, in percent.
    pub saved_percent: f64,
    /// Start of the accounting period.
    pub since_ms: u64,
}

/// The current air-quality index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct AqiView {
    /// The index value.
    pub value: f64,
    /// The band: `very-good`, `good`, `moderate`, `unhealthy-sensitive`, `unhealthy`,
    /// `very-unhealthy`, `hazardous`.
    pub band: String,
    /// The standard the index follows (e.g. `thai-pcd-2023`).
    pub standard: String,
    /// When it was computed.
    pub ts_ms: u64,
}

/// One active alarm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct AlarmView {
    /// Alarm id, what acknowledging refers to.
    pub id: u64,
    /// What kind of alarm (e.g. `elephant`).
    pub kind: String,
    /// `advisory`, `warning` or `emergency`.
    pub level: String,
    /// Who raised it (a plugin id, the SOS button, an operator).
    pub source: String,
    /// The message in Thai.
    pub message_th: String,
    /// The message in English.
    pub message_en: String,
    /// When it was raised.
    pub raised_ms: u64,
    /// Who acknowledged it, if anyone has.
    pub acknowledged_by: Option<String>,
    /// Whether the siren or speaker sounds for it now.
    pub audible: bool,
}

/// One recent event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct EventView {
    /// When it happened.
    pub ts_ms: u64,
    /// Its topic suffix (e.g. `evt/sao/camera-health`).
    pub topic: String,
    /// `raised`, `cleared`, `info`, …
    pub state: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// What happened, in English.
    pub message: String,
}

/// One camera.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CameraView {
    /// Camera name.
    pub name: String,
    /// `ok`, `starting`, `offline`, `stalled`, `frozen`, `black`, `covered`, `ended`, …
    pub state: String,
    /// More about the state (the last capture error, …).
    pub detail: String,
    /// Frames per second analysed.
    pub fps: f64,
    /// Mean inference time.
    pub inference_ms: f64,
}

/// What the pole's sign shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DisplayView {
    /// The Thai text.
    pub th: String,
    /// The English text.
    pub en: String,
    /// Who put it there (an alarm, a plugin).
    pub source: String,
}

/// A time series the page can plot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SeriesInfo {
    /// Series name, as in `/plot/{name}.svg`: `aqi`, `lamp-1.level`, `lamp-1.watts`, …
    pub name: String,
    /// Title in Thai.
    pub title_th: String,
    /// Title in English.
    pub title_en: String,
    /// UCUM unit of the values.
    pub unit: String,
}

/// The points of one time series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Series {
    /// Series name.
    pub name: String,
    /// UCUM unit of the values.
    pub unit: String,
    /// `(ts_ms, value)` pairs, oldest first.
    pub points: Vec<(u64, f64)>,
}

/// The result of testing one output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct OutputTest {
    /// The output (e.g. `siren`, `relay-1`).
    pub output: String,
    /// Whether it switched as commanded.
    pub ok: bool,
    /// Why not, when it did not.
    pub error: Option<String>,
}

/// Counters and gauges for `/metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct MetricsSnapshot {
    /// One entry per installed plugin.
    pub plugins: Vec<PluginMetrics>,
    /// Records waiting in the outbox.
    pub outbox_depth: u64,
    /// Records evicted from the outbox since it was created.
    pub outbox_evicted: u64,
    /// One entry per camera.
    pub cameras: Vec<CameraMetrics>,
}

/// One plugin's counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PluginMetrics {
    /// Plugin id.
    pub id: String,
    /// Whether it runs now.
    pub running: bool,
    /// Handler calls.
    pub calls: u64,
    /// Handler calls that returned an error.
    pub errors: u64,
    /// Traps.
    pub crashes: u64,
    /// Calls cut off at the CPU deadline.
    pub deadline_hits: u64,
    /// Restarts after a crash.
    pub restarts: u64,
    /// Linear memory in use.
    pub memory_bytes: u64,
}

/// One camera's counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CameraMetrics {
    /// Camera name.
    pub name: String,
    /// Frames per second analysed.
    pub fps: f64,
    /// Frames analysed.
    pub frames: u64,
    /// Detector runs.
    pub inferences: u64,
    /// Detector runs that failed or timed out.
    pub failures: u64,
    /// Mean inference time.
    pub inference_ms_mean: f64,
}
