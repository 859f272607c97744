//! The `sao:plugin@0.1.1` bindings and [`Platform`] over them (wasm32 only).

use std::cell::RefCell;
use std::thread::LocalKey;

use crate::{EventState, LogLevel, Platform, Severity};

/// The generated bindings of world `sao:plugin/plugin`: the imported interfaces under
/// `bindings::sao::plugin`, and the `Guest` trait a plugin implements for its handlers.
#[allow(missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "plugin",
        pub_export_macro: true,
        default_bindings_module: "sao_plugin_sdk::wit::bindings",
    });
}

/// Exports a plugin's handlers: `sao_plugin_sdk::wit::export!(MyPlugin);` with
/// `MyPlugin` implementing [`bindings::Guest`].
pub use bindings::export;

/// The generated bindings of world `sao:plugin/message-plugin`: the `Guest` trait with
/// `on-message` besides the plain handlers. Every imported interface is the one
/// [`bindings`] generates, so [`WitPlatform`] serves message plugins too. A message
/// plugin exports its handlers with `sao_plugin_sdk::wit::message_world::export!(MyPlugin);`.
#[allow(missing_docs)]
pub mod message_world {
    use super::bindings::sao::plugin as base;

    wit_bindgen::generate!({
        path: "../../wit",
        world: "message-plugin",
        pub_export_macro: true,
        default_bindings_module: "sao_plugin_sdk::wit::message_world",
        with: {
            "sao:plugin/types@0.1.1": base::types,
            "sao:plugin/log@0.1.1": base::log,
            "sao:plugin/clock@0.1.1": base::clock,
            "sao:plugin/kv@0.1.1": base::kv,
            "sao:plugin/telemetry@0.1.1": base::telemetry,
            "sao:plugin/lighting@0.1.1": base::lighting,
            "sao:plugin/alarm@0.1.1": base::alarm,
            "sao:plugin/sensors@0.1.1": base::sensors,
            "sao:plugin/display@0.1.1": base::display,
        },
    });
}

use bindings::sao::plugin::{alarm, clock, display, kv, lighting, log, telemetry};

/// [`Platform`] over the WIT imports.
pub struct WitPlatform;

impl Platform for WitPlatform {
    fn kv_get(&mut self, key: &str) -> Result<Option<Vec<u8>>, String> {
        kv::get(key).map_err(kv_error)
    }

    fn kv_set(&mut self, key: &str, value: &[u8]) -> Result<(), String> {
        kv::set(key, value).map_err(kv_error)
    }

    fn publish(&mut self, stream: &str, metrics: &[(&str, f64, &str)]) -> Result<(), String> {
        telemetry::publish(stream, &wit_metrics(metrics)).map_err(telemetry_error)
    }

    fn publish_with_details(
        &mut self,
        stream: &str,
        metrics: &[(&str, f64, &str)],
        details: &str,
    ) -> Result<(), String> {
        telemetry::publish_with_details(stream, &wit_metrics(metrics), details)
            .map_err(telemetry_error)
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
        telemetry::event(kind, state, wit_severity(severity), message, details)
            .map_err(telemetry_error)
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

/// Runs `f` on the plugin's state in `slot` (filled by its `init` handler) with the
/// platform, or fails with "not initialised" if `init` has not filled it.
pub fn with_state<T: 'static>(
    slot: &'static LocalKey<RefCell<Option<T>>>,
    f: impl FnOnce(&mut T, &mut WitPlatform) -> Result<(), String>,
) -> Result<(), String> {
    slot.with_borrow_mut(|state| match state {
        Some(state) => f(state, &mut WitPlatform),
        None => Err("not initialised".to_string()),
    })
}

/// A severity as WIT's.
pub fn wit_severity(severity: Severity) -> telemetry::Severity {
    match severity {
        Severity::Info => telemetry::Severity::Info,
        Severity::Warning => telemetry::Severity::Warning,
        Severity::Critical => telemetry::Severity::Critical,
    }
}

/// `(name, value, unit)` triples as WIT metrics.
pub fn wit_metrics(metrics: &[(&str, f64, &str)]) -> Vec<telemetry::Metric> {
    metrics
        .iter()
        .map(|&(name, value, unit)| telemetry::Metric {
            name: name.to_string(),
            value,
            unit: unit.to_string(),
        })
        .collect()
}

/// A `kv` error as a message.
pub fn kv_error(e: kv::Error) -> String {
    match e {
        kv::Error::InvalidKey => "invalid key".to_string(),
        kv::Error::QuotaExceeded => "quota exceeded".to_string(),
        kv::Error::Io(m) => format!("io: {m}"),
    }
}

/// A `telemetry` error as a message.
pub fn telemetry_error(e: telemetry::Error) -> String {
    match e {
        telemetry::Error::InvalidName(m) => format!("invalid name: {m}"),
        telemetry::Error::InvalidRecord(m) => format!("invalid record: {m}"),
        telemetry::Error::RateLimited => "rate limited".to_string(),
    }
}

/// A `lighting` error as a message.
pub fn lighting_error(e: lighting::Error) -> String {
    match e {
        lighting::Error::UnknownLamp(id) => format!("unknown lamp {id:?}"),
        lighting::Error::InvalidLevel => "invalid level".to_string(),
        lighting::Error::Hardware(m) => format!("hardware: {m}"),
    }
}

/// An `alarm` request error as a message.
pub fn alarm_request_error(e: alarm::RequestError) -> String {
    match e {
        alarm::RequestError::Invalid(m) => format!("invalid request: {m}"),
        alarm::RequestError::UnknownAlarm(id) => format!("unknown alarm {id}"),
    }
}

/// An `alarm` error as a message.
pub fn alarm_error(e: alarm::Error) -> String {
    match e {
        alarm::Error::UnknownOutput(name) => format!("unknown output {name:?}"),
        alarm::Error::UnknownAlarm(id) => format!("unknown alarm {id}"),
        alarm::Error::Hardware(m) => format!("hardware: {m}"),
    }
}

/// A `display` error as a message.
pub fn display_error(e: display::Error) -> String {
    match e {
        display::Error::NoDisplay => "the pole has no display".to_string(),
        display::Error::Invalid(m) => format!("invalid sign: {m}"),
    }
}
