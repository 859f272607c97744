//! The wasm component: the exported handlers, and [`Host`] over the imported `alarm`
//! interface (the rest of the pole comes from the SDK's [`WitPlatform`]).

use std::cell::RefCell;

use sao_plugin_sdk::wit::bindings::sao::plugin::alarm;
use sao_plugin_sdk::wit::bindings::sao::plugin::types::Reading;
use sao_plugin_sdk::wit::bindings::Guest;
use sao_plugin_sdk::wit::{alarm_error, with_state, WitPlatform};

use crate::config::Config;
use crate::host::Host;
use crate::monitor::Monitor;

thread_local! {
    /// The plugin's one monitor, built by `init`.
    static MONITOR: RefCell<Option<Monitor>> = const { RefCell::new(None) };
}

impl Host for WitPlatform {
    fn raise_output(&mut self, outputs: &[String], message: &str) -> Result<u64, String> {
        alarm::raise(outputs, alarm::Level::Advisory, message).map_err(alarm_error)
    }

    fn clear_output(&mut self, id: u64) -> Result<(), String> {
        alarm::clear(id).map_err(alarm_error)
    }
}

/// Runs `f` on the monitor, or fails if `init` has not built one.
fn with_monitor(
    f: impl FnOnce(&mut Monitor, &mut WitPlatform) -> Result<(), String>,
) -> Result<(), String> {
    with_state(&MONITOR, f)
}

/// The exported handlers.
struct Component;

impl Guest for Component {
    /// Builds the monitor, resuming its saved state.
    fn init(config: String) -> Result<(), String> {
        let monitor = Monitor::new(Config::from_json(&config)?, &mut WitPlatform);
        MONITOR.set(Some(monitor));
        Ok(())
    }

    fn on_config(config: String) -> Result<(), String> {
        let config = Config::from_json(&config)?;
        with_monitor(|m, host| {
            m.set_config(config, host);
            Ok(())
        })
    }

    fn on_reading(reading: Reading) -> Result<(), String> {
        with_monitor(|m, host| {
            m.on_reading(
                &reading.sensor,
                reading.value,
                &reading.unit,
                reading.ts,
                host,
            )
        })
    }

    fn on_tick(now: u64) -> Result<(), String> {
        with_monitor(|m, host| m.tick(now, host))
    }
}

sao_plugin_sdk::wit::export!(Component);
