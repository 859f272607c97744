//! Deterministic pole simulator.
//!
//! [`build_sim_pole`] assembles a [`Pole`] from a [`SimConfig`] and a shared [`SimClock`]:
//!
//! * lamps: [`PwmLamp`] over [`SimPwm`] (software fade, modelled energy);
//! * sensors: `"lux"` ([`lux::LuxModel`], lx), `"motion"` ([`LatchingInput`] over
//!   [`SimInputPin`] driven by `motion-events-ms`), `"temperature"`
//!   ([`temperature::TemperatureModel`], Cel), `"cpu-temperature"` (the box: the air
//!   temperature plus `cpu-rise-c`, Cel), plus one step-hold replay per [`SeriesSpec`];
//! * with `particulate`: `"pm25"`, `"pm10"` (and `"pm1"` for the PMS5003), read by the real
//!   [`ParticulateSensor`] driver from a [`SimParticulateLine`] that speaks the sensor's wire
//!   protocol, with concentrations from [`air::DrySeasonModel`] or replayed series;
//! * one [`GasSensor`] per [`GasSpec`] over an [`air::GasModel`];
//! * `"sos"`: the SOS (help) button, a [`LatchingInput`] pressed at `sos-presses-ms`, and
//!   `"button"`, the alarm-acknowledge button, pressed at `button-presses-ms`;
//! * outputs: one [`PinSwitch`] over [`SimPin`] per name;
//! * a [`SimDisplay`] and a [`SimSpeaker`] with `speaker-clips`;
//! * with `trace`, every change of an output, lamp, display or speaker is appended to a
//!   [`DeviceTrace`] file.
//!
//! Everything is a pure function of the configuration (including `seed`) and the clock,
//! so the same virtual time always reads the same values. [`FaultSpec`]s inject failures by
//! device name over time windows: a device that fails, goes silent, a sensor that reads
//! off by an offset (a drifting sensor; an overheating box), a lamp that goes dark while
//! accepting commands (a dead LED module).

pub mod air;
pub mod lux;
mod pins;
mod serial;
mod series;
mod signals;
pub mod temperature;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;

pub use air::{GasSpec, ParticulateSpec};
pub use pins::{SimInputPin, SimPin, SimPwm};
pub use serial::SimParticulateLine;
use series::StepSeries;
pub use series::{CsvSeries, SeriesSpec};
use signals::Traced;
pub use signals::{DeviceTrace, SimDisplay, SimSpeaker};

use crate::air::particulate::sensor_names;
use crate::air::{GasSensor, ParticulateSensor};
use crate::device::{Display, DisplayMessage, Speaker};
use crate::hal::{LatchingInput, PinSwitch, PwmLamp};
use crate::power::default_standby_watts;
use crate::thermal::CPU_TEMPERATURE;
use crate::{DimmableLamp, EnergyReading, HwError, Pole, Sensor, SimClock, Switch, TimeSource};
use air::{GasModel, ParticulateSource, SimGasCell};
use lux::LuxModel;
use temperature::TemperatureModel;

/// The sensors every simulated pole has.
const BUILT_IN_SENSORS: [&str; 6] = [
    "lux",
    "motion",
    "sos",
    "button",
    "temperature",
    CPU_TEMPERATURE,
];
/// How long a simulated button press holds the button down, ms.
const BUTTON_PRESS_MS: u64 = 300;
/// Duty-cycle resolution of simulated PWM channels.
const SIM_PWM_MAX_DUTY: u16 = 10_000;
/// Noise stream of the lux sensor (every noise source draws from a stream of its own).
const LUX_SALT: u64 = 1;
/// Noise stream of the PM2.5 model.
const PM25_SALT: u64 = 2;
/// Noise stream of the corruption of frames on the simulated particulate line.
const LINE_NOISE_SALT: u64 = 3;
/// Noise stream of the particulate line's command replies.
const REPLY_NOISE_SALT: u64 = 4;
/// Noise streams of the gas models (one per gas above this).
const GAS_SALT: u64 = 16;

/// A random number generator whose output depends only on `(seed, salt, bucket)`.
fn noise_rng(seed: u64, salt: u64, bucket: u64) -> fastrand::Rng {
    // SplitMix64 finalizer to decorrelate neighbouring buckets.
    let mut z = seed
        ^ salt.wrapping_mul(0xD6E8_FEB8_6659_FD93)
        ^ bucket.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    fastrand::Rng::with_seed(z)
}

/// Uniform value in [-1, 1] that depends only on `(seed, salt, bucket)`.
fn unit_noise(seed: u64, salt: u64, bucket: u64) -> f64 {
    noise_rng(seed, salt, bucket).f64() * 2.0 - 1.0
}

/// Local mean solar time at `longitude` (degrees east), in hours 0..24.
fn solar_hour(unix_ms: u64, longitude: f64) -> f64 {
    (unix_ms as f64 / 3_600_000.0 + longitude / 15.0).rem_euclid(24.0)
}

/// Simulator configuration (TOML/JSON, kebab-case keys). Missing keys take the
/// [`Default`] values.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct SimConfig {
    /// Latitude, degrees north (default 13.69, Chachoengsao).
    pub latitude: f64,
    /// Longitude, degrees east (default 101.07).
    pub longitude: f64,
    /// Seed for all simulated noise.
    pub seed: u64,
    /// Lamps (default: one 100 W lamp `"lamp-1"`).
    pub lamps: Vec<LampSpec>,
    /// Cloud fraction 0..=1 (default 0.3).
    pub cloud_cover: f64,
    /// Relative lux noise amplitude, 0..1 (default 0.05 = ±5 %).
    pub lux_noise: f64,
    /// Times (Unix ms) at which the PIR detects motion.
    pub motion_events_ms: Vec<u64>,
    /// How long the PIR output stays high after each event, ms (default 2000).
    pub motion_pulse_ms: u64,
    /// Times (Unix ms) at which someone presses the alarm-acknowledge button (sensor
    /// `button`).
    pub button_presses_ms: Vec<u64>,
    /// Times (Unix ms) at which someone presses the SOS button (sensor `sos`).
    pub sos_presses_ms: Vec<u64>,
    /// How much warmer than the air the box's SoC runs, °C (default 20: a Pi 4 in a closed
    /// cabinet running inference).
    pub cpu_rise_c: f64,
    /// Names of on/off outputs (default `["siren", "strobe"]`).
    pub outputs: Vec<String>,
    /// Voice clips the speaker has (default `["alarm", "elephant-warning", "sos-ack"]`).
    pub speaker_clips: Vec<String>,
    /// A file to record every actuator change in, as JSON lines (default: none).
    pub trace: Option<PathBuf>,
    /// Recorded series replayed as extra sensors.
    pub series: Vec<SeriesSpec>,
    /// A particulate sensor on a simulated serial line (default: none).
    pub particulate: Option<ParticulateSpec>,
    /// Gas sensors (default: none).
    pub gases: Vec<GasSpec>,
    /// Fault windows.
    pub faults: Vec<FaultSpec>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            latitude: 13.69,
            longitude: 101.07,
            seed: 0,
            lamps: vec![LampSpec {
                id: "lamp-1".into(),
                rated_watts: 100.0,
                standby_watts: default_standby_watts(),
            }],
            cloud_cover: 0.3,
            lux_noise: 0.05,
            motion_events_ms: Vec::new(),
            motion_pulse_ms: 2_000,
            button_presses_ms: Vec::new(),
            sos_presses_ms: Vec::new(),
            cpu_rise_c: 20.0,
            outputs: vec!["siren".into(), "strobe".into()],
            speaker_clips: vec!["alarm".into(), "elephant-warning".into(), "sos-ack".into()],
            trace: None,
            series: Vec::new(),
            particulate: None,
            gases: Vec::new(),
            faults: Vec::new(),
        }
    }
}

/// One simulated lamp.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LampSpec {
    /// Lamp id.
    pub id: String,
    /// Power at 100 %, W.
    pub rated_watts: f64,
    /// Standby power, W (default 0.5).
    #[serde(default = "default_standby_watts")]
    pub standby_watts: f64,
}

/// How a faulted device behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// Every call returns [`HwError::Fault`] (lamp `set_level`/`energy`, sensor `read`,
    /// output `set`).
    #[default]
    Fail,
    /// The device goes quiet: sensor reads return `Ok(None)`; lamp and output commands
    /// return `Ok` but are dropped (a lost command).
    Silent,
    /// A sensor reads `offset` above the truth (a drifting sensor; for
    /// `cpu-temperature`, a box whose fan died in the sun).
    Offset,
    /// A lamp accepts every command and reports its level, but draws no power and so
    /// gives no light (a dead LED module); only its power meter shows it.
    Dark,
}

/// A fault on one device over a time window.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FaultSpec {
    /// Lamp id, sensor name or output name.
    pub device: String,
    /// Start of the fault, Unix ms (inclusive).
    pub from_ms: u64,
    /// End of the fault, Unix ms (exclusive); `None` = never recovers.
    #[serde(default)]
    pub until_ms: Option<u64>,
    /// Behaviour while faulted (default `fail`).
    #[serde(default)]
    pub kind: FaultKind,
    /// What an `offset` fault adds to the sensor's value.
    #[serde(default)]
    pub offset: f64,
}

/// Build a simulated pole. Errors with [`HwError::Config`] on out-of-range values,
/// duplicate device names, or faults naming an unknown device.
pub fn build_sim_pole(cfg: &SimConfig, clock: Arc<SimClock>) -> Result<Pole, HwError> {
    validate(cfg)?;
    let time: Arc<dyn TimeSource> = clock.clone();
    let wrap = |device: &str| Faulty {
        faults: cfg
            .faults
            .iter()
            .filter(|f| f.device == device)
            .cloned()
            .collect(),
        device: device.to_owned(),
        clock: clock.clone(),
    };
    let trace = match &cfg.trace {
        Some(path) => Some(DeviceTrace::create(path, time.clone())?),
        None => None,
    };
    let mut pole = Pole::default();

    for spec in &cfg.lamps {
        let pwm = SimPwm::new(SIM_PWM_MAX_DUTY);
        let lamp = PwmLamp::new(
            pwm,
            time.clone(),
            spec.id.clone(),
            spec.rated_watts,
            spec.standby_watts,
        )?;
        pole.lamps
            .push(Box::new(wrap(&spec.id).around(Traced::new(lamp, &trace))));
    }

    let lux = LuxModel {
        latitude: cfg.latitude,
        longitude: cfg.longitude,
        cloud_cover: cfg.cloud_cover,
        noise: cfg.lux_noise,
        seed: cfg.seed,
    };
    let model_sensor = |name: &str, unit: &str, source: Source| SimSensor {
        name: name.to_owned(),
        unit: unit.to_owned(),
        clock: clock.clone(),
        source,
    };
    pole.sensors.push(Box::new(wrap("lux").around(model_sensor(
        "lux",
        "lx",
        Source::Lux(lux),
    ))));
    let pir_pin = SimInputPin::new(
        time.clone(),
        cfg.motion_events_ms.clone(),
        cfg.motion_pulse_ms,
    );
    pole.sensors.push(Box::new(
        wrap("motion").around(LatchingInput::new(pir_pin, "motion")),
    ));
    for (name, presses) in [
        ("sos", &cfg.sos_presses_ms),
        ("button", &cfg.button_presses_ms),
    ] {
        let pin = SimInputPin::new(time.clone(), presses.clone(), BUTTON_PRESS_MS);
        pole.sensors
            .push(Box::new(wrap(name).around(LatchingInput::new(pin, name))));
    }
    let air = TemperatureModel::thai_lowlands(cfg.longitude);
    let cpu = TemperatureModel {
        min_celsius: air.min_celsius + cfg.cpu_rise_c,
        max_celsius: air.max_celsius + cfg.cpu_rise_c,
        ..air.clone()
    };
    for (name, model) in [("temperature", air), (CPU_TEMPERATURE, cpu)] {
        let sensor = model_sensor(name, "Cel", Source::Temperature(model));
        pole.sensors.push(Box::new(wrap(name).around(sensor)));
    }
    for spec in &cfg.series {
        let series = StepSeries::new(&spec.points);
        let sensor = model_sensor(&spec.sensor, &spec.unit, Source::Series(series));
        pole.sensors
            .push(Box::new(wrap(&spec.sensor).around(sensor)));
    }
    if let Some(spec) = &cfg.particulate {
        let now = clock.now_ms();
        let source = ParticulateSource::new(spec, cfg.longitude, cfg.seed, now);
        let line = SimParticulateLine::new(
            spec.protocol,
            source,
            spec.line_noise,
            cfg.seed,
            time.clone(),
        );
        let sensor = ParticulateSensor::new(line, spec.protocol, time.clone());
        for view in sensor.sensors() {
            let name = view.name().to_owned();
            pole.sensors.push(Box::new(wrap(&name).around(view)));
        }
    }
    for spec in &cfg.gases {
        let model = GasModel::new(spec, cfg.longitude, cfg.seed);
        let sensor = GasSensor::new(spec.gas, SimGasCell::new(model, time.clone()));
        pole.sensors
            .push(Box::new(wrap(spec.gas.name()).around(sensor)));
    }

    for name in &cfg.outputs {
        let switch = PinSwitch::new(SimPin::new(), name.clone(), false)?;
        pole.outputs
            .push(Box::new(wrap(name).around(Traced::new(switch, &trace))));
    }
    pole.display = Some(Box::new(
        wrap("display").around(Traced::new(SimDisplay::default(), &trace)),
    ));
    pole.speaker = Some(Box::new(wrap("speaker").around(Traced::new(
        SimSpeaker::new(cfg.speaker_clips.clone()),
        &trace,
    ))));
    Ok(pole)
}

fn validate(cfg: &SimConfig) -> Result<(), HwError> {
    let bad = |msg: String| Err(HwError::Config(msg));
    if !(-90.0..=90.0).contains(&cfg.latitude) || !(-180.0..=180.0).contains(&cfg.longitude) {
        return bad(format!(
            "latitude/longitude out of range: {}, {}",
            cfg.latitude, cfg.longitude
        ));
    }
    if !(0.0..=1.0).contains(&cfg.cloud_cover) {
        return bad(format!(
            "cloud-cover must be in 0..=1, got {}",
            cfg.cloud_cover
        ));
    }
    if !(0.0..1.0).contains(&cfg.lux_noise) {
        return bad(format!("lux-noise must be in 0..1, got {}", cfg.lux_noise));
    }
    let sensors: Vec<&str> = BUILT_IN_SENSORS
        .into_iter()
        .chain(cfg.series.iter().map(|s| s.sensor.as_str()))
        .chain(
            cfg.particulate
                .iter()
                .flat_map(|p| sensor_names(p.protocol)),
        )
        .chain(cfg.gases.iter().map(|g| g.gas.name()))
        .collect();
    let mut names = HashSet::new();
    let all = cfg
        .lamps
        .iter()
        .map(|l| l.id.as_str())
        .chain(sensors.iter().copied())
        .chain(["display", "speaker"])
        .chain(cfg.outputs.iter().map(String::as_str));
    for name in all {
        if name.is_empty() {
            return bad("device names must not be empty".into());
        }
        if !names.insert(name) {
            return bad(format!("duplicate device name `{name}`"));
        }
    }
    if let Some(s) = cfg
        .series
        .iter()
        .find(|s| s.points.iter().any(|p| !p.1.is_finite()))
    {
        return bad(format!("series `{}` has a non-finite value", s.sensor));
    }
    if let Some(p) = &cfg.particulate {
        p.validate()
            .map_err(|e| HwError::Config(format!("particulate: {e}")))?;
    }
    for g in &cfg.gases {
        g.validate()
            .map_err(|e| HwError::Config(format!("gases: {e}")))?;
    }
    for f in &cfg.faults {
        if !names.contains(f.device.as_str()) {
            return bad(format!("fault names unknown device `{}`", f.device));
        }
        let lamp = cfg.lamps.iter().any(|l| l.id == f.device);
        match f.kind {
            FaultKind::Offset if !sensors.contains(&f.device.as_str()) => {
                return bad(format!(
                    "an `offset` fault needs a sensor; `{}` is not one",
                    f.device
                ))
            }
            FaultKind::Offset if !(f.offset.is_finite() && f.offset != 0.0) => {
                return bad(format!(
                    "the `offset` fault on `{}` needs a non-zero `offset`",
                    f.device
                ))
            }
            FaultKind::Dark if !lamp => {
                return bad(format!(
                    "a `dark` fault needs a lamp; `{}` is not one",
                    f.device
                ))
            }
            _ => {}
        }
        if f.until_ms.is_some_and(|u| u <= f.from_ms) {
            return bad(format!("fault on `{}` ends before it starts", f.device));
        }
    }
    Ok(())
}

/// What a [`SimSensor`] reads.
enum Source {
    Lux(LuxModel),
    Temperature(TemperatureModel),
    /// A replayed series.
    Series(StepSeries),
}

/// A sensor computed from a model or a series at the clock's now.
struct SimSensor {
    name: String,
    unit: String,
    clock: Arc<SimClock>,
    source: Source,
}

impl Sensor for SimSensor {
    fn name(&self) -> &str {
        &self.name
    }

    fn unit(&self) -> &str {
        &self.unit
    }

    fn read(&mut self) -> Result<Option<f64>, HwError> {
        let now = self.clock.now_ms();
        Ok(match &self.source {
            Source::Lux(m) => Some(m.lux_at(now)),
            Source::Temperature(m) => Some(m.celsius_at(now)),
            Source::Series(series) => series.at(now),
        })
    }
}

/// Fault windows of one device.
struct Faulty {
    device: String,
    faults: Vec<FaultSpec>,
    clock: Arc<SimClock>,
}

impl Faulty {
    fn around<D>(self, inner: D) -> WithFaults<D> {
        WithFaults {
            inner,
            faults: self,
            dark_since_kwh: None,
            unmetered_kwh: 0.0,
        }
    }

    fn active(&self) -> Option<&FaultSpec> {
        let now = self.clock.now_ms();
        self.faults
            .iter()
            .find(|f| f.from_ms <= now && f.until_ms.is_none_or(|u| now < u))
    }

    fn active_kind(&self) -> Option<FaultKind> {
        self.active().map(|f| f.kind)
    }

    fn error(&self) -> HwError {
        HwError::fault(&self.device, "simulated fault")
    }
}

/// A device with simulated faults injected in front of it.
struct WithFaults<D> {
    inner: D,
    faults: Faulty,
    /// A dark lamp's meter: the inner lamp's energy counter when it went dark.
    dark_since_kwh: Option<f64>,
    /// Energy the inner lamp counted while dark, which the meter never saw.
    unmetered_kwh: f64,
}

impl<D> WithFaults<D> {
    /// Passes a command to the device, unless a fault fails it or silently drops it.
    fn command(&mut self, f: impl FnOnce(&mut D) -> Result<(), HwError>) -> Result<(), HwError> {
        match self.faults.active_kind() {
            Some(FaultKind::Fail) => Err(self.faults.error()),
            Some(FaultKind::Silent) => Ok(()),
            Some(FaultKind::Offset | FaultKind::Dark) | None => f(&mut self.inner),
        }
    }
}

impl<L: DimmableLamp> DimmableLamp for WithFaults<L> {
    fn id(&self) -> &str {
        self.inner.id()
    }

    fn rated_watts(&self) -> f64 {
        self.inner.rated_watts()
    }

    fn set_level(&mut self, percent: f32, fade_ms: u32) -> Result<(), HwError> {
        self.command(|d| d.set_level(percent, fade_ms))
    }

    fn level(&mut self) -> f32 {
        self.inner.level()
    }

    fn target_level(&self) -> f32 {
        self.inner.target_level()
    }

    /// A dark lamp's meter stops: no power, and the energy the lamp model integrates
    /// meanwhile (sampled at the reads around the fault) is never counted.
    fn energy(&mut self) -> Result<EnergyReading, HwError> {
        let kind = self.faults.active_kind();
        if kind == Some(FaultKind::Fail) {
            return Err(self.faults.error());
        }
        let inner = self.inner.energy()?;
        let dark = kind == Some(FaultKind::Dark);
        match (dark, self.dark_since_kwh) {
            (true, None) => self.dark_since_kwh = Some(inner.total_kwh),
            (false, Some(since)) => {
                self.unmetered_kwh += inner.total_kwh - since;
                self.dark_since_kwh = None;
            }
            _ => {}
        }
        let total = self.dark_since_kwh.unwrap_or(inner.total_kwh) - self.unmetered_kwh;
        Ok(EnergyReading {
            total_kwh: total,
            watts: if dark { 0.0 } else { inner.watts },
        })
    }
}

impl<S: Sensor> Sensor for WithFaults<S> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn unit(&self) -> &str {
        self.inner.unit()
    }

    /// While failed or silent the inner sensor is not read (a latched PIR event survives
    /// the fault).
    fn read(&mut self) -> Result<Option<f64>, HwError> {
        match self.faults.active().map(|f| (f.kind, f.offset)) {
            Some((FaultKind::Fail, _)) => Err(self.faults.error()),
            Some((FaultKind::Silent, _)) => Ok(None),
            Some((FaultKind::Offset, offset)) => Ok(self.inner.read()?.map(|v| v + offset)),
            Some((FaultKind::Dark, _)) | None => self.inner.read(),
        }
    }
}

impl<W: Switch> Switch for WithFaults<W> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn set(&mut self, on: bool) -> Result<(), HwError> {
        self.command(|d| d.set(on))
    }

    fn is_on(&self) -> bool {
        self.inner.is_on()
    }
}

impl<D: Display> Display for WithFaults<D> {
    fn show(&mut self, message: &DisplayMessage) -> Result<(), HwError> {
        self.command(|d| d.show(message))
    }

    fn clear(&mut self) -> Result<(), HwError> {
        self.command(|d| d.clear())
    }

    fn showing(&self) -> Option<&DisplayMessage> {
        self.inner.showing()
    }
}

impl<S: Speaker> Speaker for WithFaults<S> {
    fn clips(&self) -> Vec<String> {
        self.inner.clips()
    }

    fn play(&mut self, clip: &str) -> Result<(), HwError> {
        self.command(|d| d.play(clip))
    }

    fn stop(&mut self) -> Result<(), HwError> {
        self.command(|d| d.stop())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::air::{Gas, Protocol};

    const DAY: u64 = 1_795_219_200_000; // 2026-11-21T00:00Z
    const NOON: u64 = DAY + 5 * 3_600_000; // ≈ local solar noon at 101.07 E
    const MIDNIGHT: u64 = DAY + 17 * 3_600_000;

    fn read(pole: &mut Pole, name: &str) -> Result<Option<f64>, HwError> {
        pole.sensor_mut(name).unwrap().read()
    }

    #[test]
    fn default_pole_has_expected_devices() {
        let clock = Arc::new(SimClock::new(NOON));
        let mut pole = build_sim_pole(&SimConfig::default(), clock.clone()).unwrap();
        let names: Vec<_> = pole.sensors.iter().map(|s| s.unit().to_owned()).collect();
        assert_eq!(names, ["lx", "1", "1", "1", "Cel", "Cel"]);
        assert_eq!(format!("{pole:?}"), "Pole { lamps: [\"lamp-1\"], sensors: [\"lux\", \"motion\", \"sos\", \"button\", \"temperature\", \"cpu-temperature\"], outputs: [\"siren\", \"strobe\"], display: true, speaker: true }");
        assert!(read(&mut pole, "lux").unwrap().unwrap() > 10_000.0);
        let t = read(&mut pole, "temperature").unwrap().unwrap();
        assert!((24.0..=33.0).contains(&t));
        let cpu = read(&mut pole, "cpu-temperature").unwrap().unwrap();
        assert!(
            (cpu - t - 20.0).abs() < 1e-9,
            "the box runs 20 °C above the air"
        );
        clock.set(MIDNIGHT);
        assert!(read(&mut pole, "lux").unwrap().unwrap() < 5.0);

        let lamp = pole.lamp_mut("lamp-1").unwrap();
        // Off (standby only) from noon to midnight.
        let standby = lamp.energy().unwrap();
        assert!((standby.total_kwh - 0.006).abs() < 1e-12 && standby.watts == 0.5);
        lamp.set_level(100.0, 0).unwrap();
        clock.advance(3_600_000);
        let e = lamp.energy().unwrap();
        assert!((e.total_kwh - standby.total_kwh - 0.1005).abs() < 1e-12);
        let siren = pole.output_mut("siren").unwrap();
        siren.set(true).unwrap();
        assert!(siren.is_on());
    }

    #[test]
    fn trace_records_every_actuator_change_and_the_button_latches() {
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("trace.jsonl");
        let cfg = SimConfig {
            sos_presses_ms: vec![NOON + 1_000],
            button_presses_ms: vec![NOON + 7_000],
            trace: Some(trace.clone()),
            faults: vec![FaultSpec {
                device: "speaker".into(),
                from_ms: NOON + 10_000,
                until_ms: None,
                kind: FaultKind::Fail,
                offset: 0.0,
            }],
            ..SimConfig::default()
        };
        let clock = Arc::new(SimClock::new(NOON));
        let mut pole = build_sim_pole(&cfg, clock.clone()).unwrap();
        assert_eq!(read(&mut pole, "sos").unwrap(), Some(0.0));
        clock.advance(5_000);
        assert_eq!(
            read(&mut pole, "sos").unwrap(),
            Some(1.0),
            "a press between reads"
        );
        assert_eq!(read(&mut pole, "sos").unwrap(), Some(0.0));
        assert_eq!(
            read(&mut pole, "button").unwrap(),
            Some(0.0),
            "its own input"
        );
        clock.advance(2_100);
        assert_eq!(read(&mut pole, "button").unwrap(), Some(1.0));
        assert_eq!(read(&mut pole, "sos").unwrap(), Some(0.0));
        clock.set(NOON + 5_000);

        let siren = pole.output_mut("siren").unwrap();
        siren.set(true).unwrap();
        siren.set(true).unwrap(); // no change, no line
        siren.set(false).unwrap();
        let message = DisplayMessage {
            th: "ช้างป่า".into(),
            en: "Wild elephant".into(),
        };
        let display = pole.display.as_mut().unwrap();
        display.show(&message).unwrap();
        assert_eq!(display.showing(), Some(&message));
        display.clear().unwrap();
        let speaker = pole.speaker.as_mut().unwrap();
        assert!(speaker.play("no-such-clip").is_err());
        speaker.play("elephant-warning").unwrap();
        clock.advance(10_000);
        assert!(speaker.stop().is_err(), "a failed speaker reports it");

        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&trace)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let changes: Vec<_> = lines
            .iter()
            .map(|l| (l["device"].as_str().unwrap(), l["state"].clone()))
            .collect();
        assert_eq!(
            changes,
            [
                ("siren", serde_json::json!(true)),
                ("siren", serde_json::json!(false)),
                (
                    "display",
                    serde_json::json!({"th": "ช้างป่า", "en": "Wild elephant"})
                ),
                ("display", serde_json::Value::Null),
                ("speaker", serde_json::json!("elephant-warning")),
            ]
        );
        assert!(lines.iter().all(|l| l["ts"] == NOON + 5_000));
    }

    #[test]
    fn same_seed_same_readings() {
        let cfg = SimConfig {
            seed: 99,
            ..SimConfig::default()
        };
        let (c1, c2) = (Arc::new(SimClock::new(NOON)), Arc::new(SimClock::new(NOON)));
        let mut a = build_sim_pole(&cfg, c1.clone()).unwrap();
        let mut b = build_sim_pole(&cfg, c2.clone()).unwrap();
        // Extra reads on `a` must not change what `b` sees at the same time.
        for _ in 0..5 {
            read(&mut a, "lux").unwrap();
        }
        for step in 0..20 {
            c1.set(NOON + step * 45_000);
            c2.set(NOON + step * 45_000);
            assert_eq!(read(&mut a, "lux").unwrap(), read(&mut b, "lux").unwrap());
        }
    }

    #[test]
    fn motion_pulse_is_latched() {
        let cfg = SimConfig {
            motion_events_ms: vec![NOON + 10_000],
            ..SimConfig::default()
        };
        let clock = Arc::new(SimClock::new(NOON));
        let mut pole = build_sim_pole(&cfg, clock.clone()).unwrap();
        assert_eq!(read(&mut pole, "motion").unwrap(), Some(0.0));
        // The 2 s pulse is over by the next read, yet it is reported once.
        clock.set(NOON + 60_000);
        assert_eq!(read(&mut pole, "motion").unwrap(), Some(1.0));
        clock.set(NOON + 61_000);
        assert_eq!(read(&mut pole, "motion").unwrap(), Some(0.0));
    }

    #[test]
    fn fault_windows_apply_by_name() {
        let fault = |device: &str, kind| FaultSpec {
            device: device.into(),
            from_ms: 1_000,
            until_ms: Some(2_000),
            kind,
            offset: 0.0,
        };
        let cfg = SimConfig {
            faults: vec![
                fault("lux", FaultKind::Fail),
                fault("temperature", FaultKind::Silent),
                fault("lamp-1", FaultKind::Fail),
                fault("siren", FaultKind::Silent),
                fault("strobe", FaultKind::Fail),
            ],
            ..SimConfig::default()
        };
        let clock = Arc::new(SimClock::new(0));
        let mut pole = build_sim_pole(&cfg, clock.clone()).unwrap();
        assert!(read(&mut pole, "lux").unwrap().is_some());
        clock.set(1_000);
        assert!(
            matches!(read(&mut pole, "lux"), Err(HwError::Fault { device, .. }) if device == "lux")
        );
        assert_eq!(read(&mut pole, "temperature").unwrap(), None);
        let lamp = pole.lamp_mut("lamp-1").unwrap();
        assert!(lamp.set_level(50.0, 0).is_err());
        assert!(lamp.energy().is_err());
        assert_eq!(lamp.target_level(), 0.0);
        pole.output_mut("siren").unwrap().set(true).unwrap();
        assert!(
            !pole.output_mut("siren").unwrap().is_on(),
            "silent drops commands"
        );
        assert!(pole.output_mut("strobe").unwrap().set(true).is_err());
        clock.set(2_000);
        assert!(read(&mut pole, "lux").unwrap().is_some());
        assert!(read(&mut pole, "temperature").unwrap().is_some());
        pole.lamp_mut("lamp-1").unwrap().set_level(50.0, 0).unwrap();
        pole.output_mut("strobe").unwrap().set(true).unwrap();
    }

    #[test]
    fn an_offset_sensor_reads_high_and_a_dark_lamp_draws_nothing() {
        const HOUR: u64 = 3_600_000;
        let fault = |device: &str, kind, offset| FaultSpec {
            device: device.into(),
            from_ms: NOON + HOUR,
            until_ms: Some(NOON + 2 * HOUR),
            kind,
            offset,
        };
        let cfg = SimConfig {
            faults: vec![
                fault("cpu-temperature", FaultKind::Offset, 35.0),
                fault("lamp-1", FaultKind::Dark, 0.0),
            ],
            ..SimConfig::default()
        };
        let clock = Arc::new(SimClock::new(NOON));
        let mut pole = build_sim_pole(&cfg, clock.clone()).unwrap();
        pole.lamp_mut("lamp-1")
            .unwrap()
            .set_level(100.0, 0)
            .unwrap();
        let before = pole.lamp_mut("lamp-1").unwrap().energy().unwrap();
        assert_eq!(before.watts, 100.5);

        clock.set(NOON + HOUR);
        let air = read(&mut pole, "temperature").unwrap().unwrap();
        let cpu = read(&mut pole, "cpu-temperature").unwrap().unwrap();
        assert!(
            (cpu - air - 55.0).abs() < 1e-9,
            "20 °C rise plus the 35 °C offset"
        );
        let lamp = pole.lamp_mut("lamp-1").unwrap();
        lamp.set_level(80.0, 0).unwrap();
        assert_eq!(lamp.target_level(), 80.0, "a dark lamp takes commands");
        let dark = lamp.energy().unwrap();
        assert_eq!(dark.watts, 0.0);
        clock.set(NOON + 2 * HOUR);
        let lamp = pole.lamp_mut("lamp-1").unwrap();
        let after = lamp.energy().unwrap();
        assert_eq!(after.watts, 80.5, "lit again");
        assert!(
            (after.total_kwh - dark.total_kwh).abs() < 1e-12,
            "the hour in the dark used no metered energy"
        );
        let cpu = read(&mut pole, "cpu-temperature").unwrap().unwrap();
        let air = read(&mut pole, "temperature").unwrap().unwrap();
        assert!((cpu - air - 20.0).abs() < 1e-9);
    }

    #[test]
    fn series_replay_step_holds() {
        let csv = SeriesSpec::from_csv(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/data/sds011_aberdeen_2017-10-20.csv"
            ),
            "pm25",
            "ug/m3",
            "timestamp",
            "P2",
            ';',
            Some(NOON),
        )
        .unwrap();
        let cfg = SimConfig {
            series: vec![csv.series],
            ..SimConfig::default()
        };
        let clock = Arc::new(SimClock::new(NOON - 1));
        let mut pole = build_sim_pole(&cfg, clock.clone()).unwrap();
        assert_eq!(pole.sensor_mut("pm25").unwrap().unit(), "ug/m3");
        assert_eq!(read(&mut pole, "pm25").unwrap(), None);
        clock.set(NOON);
        assert_eq!(read(&mut pole, "pm25").unwrap(), Some(45.37));
        clock.set(NOON + 148_000 - 1);
        assert_eq!(read(&mut pole, "pm25").unwrap(), Some(45.37));
        clock.set(NOON + 148_000);
        assert_eq!(read(&mut pole, "pm25").unwrap(), Some(42.13));
        clock.set(NOON + 10 * 86_400_000);
        assert_eq!(read(&mut pole, "pm25").unwrap(), Some(12.40));
    }

    #[test]
    fn parses_kebab_case_toml() {
        let cfg: SimConfig = toml::from_str(
            r#"
            seed = 7
            cloud-cover = 0.5
            motion-events-ms = [1000, 5000]
            outputs = ["relay"]
            [[lamps]]
            id = "east"
            rated-watts = 60.0
            [[series]]
            sensor = "pm25"
            unit = "ug/m3"
            points = [[0, 12.5], [60000, 14.0]]
            [[faults]]
            device = "east"
            from-ms = 100
            kind = "silent"
            "#,
        )
        .unwrap();
        assert_eq!(cfg.lamps[0].standby_watts, 0.5);
        assert_eq!(cfg.motion_pulse_ms, 2_000);
        assert_eq!(cfg.series[0].points[1], (60_000, 14.0));
        assert_eq!(cfg.faults[0].kind, FaultKind::Silent);
        assert_eq!(cfg.faults[0].until_ms, None);
        assert!(build_sim_pole(&cfg, Arc::new(SimClock::new(0))).is_ok());
        assert!(toml::from_str::<SimConfig>("sed = 1").is_err());
    }

    fn particulate(protocol: Protocol, line_noise: f64) -> SimConfig {
        SimConfig {
            particulate: Some(ParticulateSpec {
                protocol,
                line_noise,
                model: air::DrySeasonSpec::default(),
                replay_pm25: Vec::new(),
                replay_pm10: Vec::new(),
            }),
            ..SimConfig::default()
        }
    }

    #[test]
    fn particulates_arrive_through_the_wire_protocol() {
        for protocol in [Protocol::Pms5003, Protocol::Sds011] {
            for line_noise in [0.0, 0.2] {
                let cfg = particulate(protocol, line_noise);
                let clock = Arc::new(SimClock::new(DAY));
                let mut pole = build_sim_pole(&cfg, clock.clone()).unwrap();
                let spec = cfg.particulate.as_ref().unwrap();
                let model = ParticulateSource::new(spec, cfg.longitude, cfg.seed, DAY);
                // One unit of the protocol's last digit, rounded.
                let resolution = if protocol == Protocol::Pms5003 {
                    0.5
                } else {
                    0.05
                } + 1e-9;
                let mut readings = 0;
                // 100 steps of 10 s, as `sao sim` takes them.
                for step in 1..=100u64 {
                    let now = DAY + step * 10_000;
                    clock.set(now);
                    let Some(pm25) = read(&mut pole, "pm25").unwrap() else {
                        assert!(line_noise > 0.0, "{protocol} step {step}: no reading");
                        continue;
                    };
                    let pm10 = read(&mut pole, "pm10").unwrap().unwrap();
                    // The value of one of the frames sent since the last step.
                    let sent = (now - 9_000..=now)
                        .step_by(1_000)
                        .map(|t| model.reading_at(t).unwrap());
                    let matched = sent.into_iter().any(|r| {
                        (pm25 - r.pm2_5).abs() <= resolution && (pm10 - r.pm10).abs() <= resolution
                    });
                    assert!(
                        matched,
                        "{protocol} noise {line_noise} step {step}: {pm25} / {pm10}"
                    );
                    readings += 1;
                }
                let expected = if line_noise == 0.0 {
                    100..=100
                } else {
                    90..=100
                };
                assert!(
                    expected.contains(&readings),
                    "{protocol} {line_noise}: {readings}"
                );
                let pm1 = pole.sensor_mut("pm1").map(|s| s.read());
                assert_eq!(pm1.is_some(), protocol == Protocol::Pms5003);
            }
        }
    }

    #[test]
    fn replayed_particulates_take_precedence() {
        let mut cfg = particulate(Protocol::Sds011, 0.0);
        let spec = cfg.particulate.as_mut().unwrap();
        spec.replay_pm25 = vec![(DAY + 30_000, 87.5), (DAY + 60_000, 12.0)];
        let clock = Arc::new(SimClock::new(DAY));
        let mut pole = build_sim_pole(&cfg, clock.clone()).unwrap();
        clock.set(DAY + 29_999);
        assert_eq!(
            read(&mut pole, "pm25").unwrap(),
            None,
            "no frames before the replay"
        );
        assert_eq!(read(&mut pole, "pm10").unwrap(), None);
        clock.set(DAY + 45_000);
        assert_eq!(read(&mut pole, "pm25").unwrap(), Some(87.5));
        assert_eq!(
            read(&mut pole, "pm10").unwrap(),
            Some(140.0),
            "PM10 = 1.6 × PM2.5"
        );
        clock.set(DAY + 600_000);
        assert_eq!(read(&mut pole, "pm25").unwrap(), Some(12.0));
    }

    #[test]
    fn particulate_faults_apply_by_name() {
        let mut cfg = particulate(Protocol::Pms5003, 0.0);
        cfg.faults = vec![FaultSpec {
            device: "pm25".into(),
            from_ms: DAY + 5_000,
            until_ms: Some(DAY + 10_000),
            kind: FaultKind::Fail,
            offset: 0.0,
        }];
        let clock = Arc::new(SimClock::new(DAY));
        let mut pole = build_sim_pole(&cfg, clock.clone()).unwrap();
        clock.set(DAY + 6_000);
        assert!(
            matches!(read(&mut pole, "pm25"), Err(HwError::Fault { device, .. }) if device == "pm25")
        );
        assert!(read(&mut pole, "pm10").unwrap().is_some());
        clock.set(DAY + 10_000);
        assert!(read(&mut pole, "pm25").unwrap().is_some());
    }

    #[test]
    fn gases_read_in_range() {
        let cfg: SimConfig = toml::from_str(
            r#"
            [[gases]]
            gas = "o3"
            [[gases]]
            gas = "co"
            mean = 1.5
            diurnal-amplitude = 0.2
            noise = 0.0
            [[gases]]
            gas = "so2"
            "#,
        )
        .unwrap();
        let clock = Arc::new(SimClock::new(DAY));
        let mut pole = build_sim_pole(&cfg, clock.clone()).unwrap();
        for step in 0..48 {
            clock.set(DAY + step * 1_800_000);
            for gas in [Gas::O3, Gas::Co, Gas::So2] {
                let sensor = pole.sensor_mut(gas.name()).unwrap();
                assert_eq!(sensor.unit(), gas.unit());
                let v = sensor.read().unwrap().unwrap();
                assert!(gas.range().contains(&v), "{gas:?} {v}");
            }
            let co = read(&mut pole, "co").unwrap().unwrap();
            assert!((1.5 * 0.8..=1.5 * 1.2).contains(&co), "{co}");
        }
    }

    #[test]
    fn parses_particulate_toml() {
        let cfg: SimConfig = toml::from_str(
            r#"
            [particulate]
            protocol = "pms5003"
            line-noise = 0.05
            replay-pm10 = [[0, 80.0]]
            [particulate.model]
            mean-pm25 = 60.0
            trend-per-day = -2.5
            trend-start-ms = 1000
            "#,
        )
        .unwrap();
        let p = cfg.particulate.as_ref().unwrap();
        assert_eq!(p.protocol, Protocol::Pms5003);
        assert_eq!((p.line_noise, p.model.mean_pm25), (0.05, 60.0));
        assert_eq!(
            (p.model.trend_start_ms, p.model.pm10_ratio),
            (Some(1000), 1.6)
        );
        assert_eq!(p.replay_pm10, [(0, 80.0)]);
        assert!(p.replay_pm25.is_empty());
        assert!(build_sim_pole(&cfg, Arc::new(SimClock::new(DAY))).is_ok());
        let typo = "[particulate]\nprotocol = \"sds011\"\n[particulate.model]\nmean = 1.0";
        assert!(toml::from_str::<SimConfig>(typo).is_err());
        assert!(toml::from_str::<SimConfig>("[particulate]\nline-noise = 0.1").is_err());
    }

    #[test]
    fn rejects_clashing_and_invalid_air_sensors() {
        let clock = Arc::new(SimClock::new(0));
        let mut series_clash = particulate(Protocol::Sds011, 0.0);
        series_clash.series.push(SeriesSpec {
            sensor: "pm10".into(),
            unit: "ug/m3".into(),
            points: vec![(0, 1.0)],
        });
        let o3 = GasSpec {
            gas: Gas::O3,
            mean: None,
            diurnal_amplitude: None,
            noise: 0.05,
        };
        let gas_twice = SimConfig {
            gases: vec![o3.clone(), o3.clone()],
            ..SimConfig::default()
        };
        let noisy = particulate(Protocol::Pms5003, 1.5);
        let mut negative_replay = particulate(Protocol::Pms5003, 0.0);
        negative_replay.particulate.as_mut().unwrap().replay_pm25 = vec![(0, -1.0)];
        let loud_gas = SimConfig {
            gases: vec![GasSpec { noise: 2.0, ..o3 }],
            ..SimConfig::default()
        };
        let cases = [
            (series_clash, "duplicate device name `pm10`"),
            (gas_twice, "duplicate device name `o3`"),
            (noisy, "line-noise"),
            (negative_replay, "replay-pm25"),
            (loud_gas, "o3 noise"),
        ];
        for (cfg, expected) in cases {
            match build_sim_pole(&cfg, clock.clone()) {
                Err(HwError::Config(m)) => assert!(m.contains(expected), "{m}"),
                other => panic!("{expected}: {other:?}"),
            }
        }
    }

    #[test]
    fn rejects_bad_configs() {
        let clock = Arc::new(SimClock::new(0));
        let mut dup = SimConfig::default();
        dup.outputs.push("lux".into());
        let unknown = SimConfig {
            faults: vec![FaultSpec {
                device: "nope".into(),
                from_ms: 0,
                until_ms: None,
                kind: FaultKind::Fail,
                offset: 0.0,
            }],
            ..SimConfig::default()
        };
        let cloudy = SimConfig {
            cloud_cover: 1.5,
            ..SimConfig::default()
        };
        for cfg in [dup, unknown, cloudy] {
            assert!(matches!(
                build_sim_pole(&cfg, clock.clone()),
                Err(HwError::Config(_))
            ));
        }
        let misplaced = |device: &str, kind, offset| {
            let cfg = SimConfig {
                faults: vec![FaultSpec {
                    device: device.into(),
                    from_ms: 0,
                    until_ms: None,
                    kind,
                    offset,
                }],
                ..SimConfig::default()
            };
            match build_sim_pole(&cfg, clock.clone()) {
                Err(HwError::Config(message)) => message,
                other => panic!("accepted: {other:?}"),
            }
        };
        assert!(misplaced("siren", FaultKind::Offset, 5.0).contains("needs a sensor"));
        assert!(misplaced("lux", FaultKind::Offset, 0.0).contains("non-zero `offset`"));
        assert!(misplaced("lux", FaultKind::Dark, 0.0).contains("needs a lamp"));
    }
}
