//! The wasm component: WIT bindings, the exported handlers, and [`Host`] over the
//! imported interfaces.

use std::cell::RefCell;

use crate::config::Config;
use crate::controller::Controller;
use crate::host::{EventState, Host, Lamp, LogLevel, Severity};

wit_bindgen::generate!({ path: "../../wit", world: "plugin" });

use sao::plugin::{clock, kv, lighting, log, telemetry};

thread_local! {
    /// The plugin's one controller, built by `init`.
    static CONTROLLER: RefCell<Option<Controller>> = const { RefCell::new(None) };
}

/// [`Host`] over the WIT imports.
struct WitHost;

impl Host for WitHost {
    fn lamps(&mut self) -> Vec<Lamp> {
        lighting::lamps()
            .into_iter()
            .map(|l| Lamp {
                id: l.id,
                rated_watts: l.rated_watts,
            })
            .collect()
    }

    fn set_level(&mut self, lamp: &str, percent: f32, fade_ms: u32) -> Result<(), String> {
        lighting::set_level(lamp, percent, fade_ms).map_err(lighting_error)
    }

    fn read_energy_kwh(&mut self, lamp: &str) -> Result<f64, String> {
        lighting::read_energy(lamp)
            .map(|e| e.total_kwh)
            .map_err(lighting_error)
    }

    fn kv_get(&mut self, key: &str) -> Result<Option<Vec<u8>>, String> {
        kv::get(key).map_err(kv_error)
    }

    fn kv_set(&mut self, key: &str, value: &[u8]) -> Result<(), String> {
        kv::set(key, value).map_err(kv_error)
    }

    fn publish(&mut self, stream: &str, metrics: &[(&str, f64, &str)]) -> Result<(), String> {
        let metrics: Vec<telemetry::Metric> = metrics
            .iter()
            .map(|&(name, value, unit)| telemetry::Metric {
                name: name.to_string(),
                value,
                unit: unit.to_string(),
            })
            .collect();
        telemetry::publish(stream, &metrics).map_err(telemetry_error)
    }

    fn event(
        &mut self,
        kind: &str,
        state: EventState,
        severity: Severity,
        message: &str,
        details: &str,
    ) -> Result<(), String> {
        let state = match state {
            EventState::Raised => telemetry::EventState::Raised,
            EventState::Cleared => telemetry::EventState::Cleared,
            EventState::Info => telemetry::EventState::Info,
        };
        let severity = match severity {
            Severity::Info => telemetry::Severity::Info,
            Severity::Warning => telemetry::Severity::Warning,
            Severity::Critical => telemetry::Severity::Critical,
        };
        telemetry::event(kind, state, severity, message, details).map_err(telemetry_error)
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        let level = match level {
            LogLevel::Trace => log::Level::Trace,
            LogLevel::Debug => log::Level::Debug,
            LogLevel::Info => log::Level::Info,
            LogLevel::Warn => log::Level::Warn,
            LogLevel::Error => log::Level::Error,
        };
        log::log(level, message);
    }

    fn utc_offset_minutes(&mut self) -> i32 {
        clock::utc_offset_minutes()
    }

    fn location(&mut self) -> (f64, f64) {
        let geo = clock::location();
        (geo.latitude, geo.longitude)
    }
}

fn lighting_error(e: lighting::Error) -> String {
    match e {
        lighting::Error::UnknownLamp(id) => format!("unknown lamp {id:?}"),
        lighting::Error::InvalidLevel => "invalid level".to_string(),
        lighting::Error::Hardware(m) => format!("hardware: {m}"),
    }
}

fn kv_error(e: kv::Error) -> String {
    match e {
        kv::Error::InvalidKey => "invalid key".to_string(),
        kv::Error::QuotaExceeded => "quota exceeded".to_string(),
        kv::Error::Io(m) => format!("io: {m}"),
    }
}

fn telemetry_error(e: telemetry::Error) -> String {
    match e {
        telemetry::Error::InvalidName(m) => format!("invalid name: {m}"),
        telemetry::Error::InvalidRecord(m) => format!("invalid record: {m}"),
        telemetry::Error::RateLimited => "rate limited".to_string(),
    }
}

/// Runs `f` on the controller, or fails if `init` has not built one.
fn with_controller(
    f: impl FnOnce(&mut Controller, &mut WitHost) -> Result<(), String>,
) -> Result<(), String> {
    CONTROLLER.with_borrow_mut(|slot| match slot {
        Some(controller) => f(controller, &mut WitHost),
        None => Err("not initialised".to_string()),
    })
}

/// The exported handlers.
struct Component;

impl Guest for Component {
    /// Builds the controller (resuming persisted state) and takes control of the lamps
    /// at once.
    fn init(config: String) -> Result<(), String> {
        let controller = Controller::new(Config::from_json(&config)?, &mut WitHost)?;
        CONTROLLER.set(Some(controller));
        with_controller(|c, host| c.tick(clock::now(), host))
    }

    /// Replaces the config, keeping state, and applies it at once (an override acts
    /// without waiting for the next tick).
    fn on_config(config: String) -> Result<(), String> {
        let config = Config::from_json(&config)?;
        with_controller(|c, host| {
            c.set_config(config, host)?;
            c.tick(clock::now(), host)
        })
    }

    fn on_reading(reading: Reading) -> Result<(), String> {
        with_controller(|c, host| c.on_reading(&reading.sensor, reading.value, reading.ts, host))
    }

    fn on_tick(now: TimestampMs) -> Result<(), String> {
        with_controller(|c, host| c.tick(now, host))
    }
}

export!(Component);
