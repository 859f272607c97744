//! The wasm component: the exported handlers, and [`Host`] over the imported `display`
//! interface (the rest of the pole comes from the SDK's [`WitPlatform`]).

use std::cell::RefCell;

use sao_plugin_sdk::wit::bindings::sao::plugin::types::{Message, Reading};
use sao_plugin_sdk::wit::bindings::sao::plugin::{clock, display};
use sao_plugin_sdk::wit::message_world::Guest;
use sao_plugin_sdk::wit::{display_error, with_state, WitPlatform};

use crate::config::Config;
use crate::host::{Host, Sign};
use crate::signage::Signage;

thread_local! {
    /// The plugin's one signage, built by `init`.
    static SIGNAGE: RefCell<Option<Signage>> = const { RefCell::new(None) };
}

impl Host for WitPlatform {
    fn show_sign(&mut self, sign: &Sign) -> Result<(), String> {
        display::show(&display::Sign {
            th: sign.th.clone(),
            en: sign.en.clone(),
            priority: sign.priority,
        })
        .map_err(display_error)
    }

    fn clear_sign(&mut self) {
        display::clear();
    }

    fn sign_on_display(&mut self) -> bool {
        display::on_display()
    }
}

/// The exported handlers.
struct Component;

impl Guest for Component {
    /// Builds the signage (with the board kept in `kv`) and shows what is due at once.
    fn init(config: String) -> Result<(), String> {
        let now = clock::now();
        let signage = Signage::new(Config::from_json(&config)?, &mut WitPlatform);
        SIGNAGE.set(Some(signage));
        with_state(&SIGNAGE, |s, host| s.tick(now, host))
    }

    /// Replaces the messages and shows what is due under them at once.
    fn on_config(config: String) -> Result<(), String> {
        let config = Config::from_json(&config)?;
        let now = clock::now();
        with_state(&SIGNAGE, |s, host| {
            s.set_config(config);
            s.tick(now, host)
        })
    }

    fn on_reading(_reading: Reading) -> Result<(), String> {
        Ok(())
    }

    fn on_tick(now: u64) -> Result<(), String> {
        with_state(&SIGNAGE, |s, host| s.tick(now, host))
    }

    fn on_message(message: Message) -> Result<(), String> {
        with_state(&SIGNAGE, |s, host| match message.name.as_str() {
            "arrivals" => s.on_arrivals(&message.payload, message.received, host),
            other => Err(format!("unknown message `{other}`")),
        })
    }
}

sao_plugin_sdk::wit::message_world::export!(Component);
