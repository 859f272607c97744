//! The wasm component: the exported handlers, and [`Host`] over the imported `lighting`
//! interface (the rest of the pole comes from the SDK's [`WitPlatform`]).

use std::cell::RefCell;

use sao_plugin_sdk::wit::bindings::sao::plugin::types::Reading;
use sao_plugin_sdk::wit::bindings::sao::plugin::{clock, lighting};
use sao_plugin_sdk::wit::bindings::Guest;
use sao_plugin_sdk::wit::{lighting_error, with_state, WitPlatform};

use crate::config::Config;
use crate::controller::Controller;
use crate::host::{Host, Lamp};

thread_local! {
    /// The plugin's one controller, built by `init`.
    static CONTROLLER: RefCell<Option<Controller>> = const { RefCell::new(None) };
}

impl Host for WitPlatform {
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
}

/// Runs `f` on the controller, or fails if `init` has not built one.
fn with_controller(
    f: impl FnOnce(&mut Controller, &mut WitPlatform) -> Result<(), String>,
) -> Result<(), String> {
    with_state(&CONTROLLER, f)
}

/// The exported handlers.
struct Component;

impl Guest for Component {
    /// Builds the controller (resuming persisted state) and takes control of the lamps
    /// at once.
    fn init(config: String) -> Result<(), String> {
        let controller = Controller::new(Config::from_json(&config)?, &mut WitPlatform)?;
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

    fn on_tick(now: u64) -> Result<(), String> {
        with_controller(|c, host| c.tick(now, host))
    }
}

sao_plugin_sdk::wit::export!(Component);
