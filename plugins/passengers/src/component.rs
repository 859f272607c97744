//! The wasm component: the exported handlers of world `vision-plugin` over the
//! [`Counter`], with the SDKs' [`WitPlatform`] as the pole.

use std::cell::RefCell;

use sao_plugin_sdk::wit::bindings::sao::plugin::types::Reading;
use sao_plugin_sdk::wit::{with_state, WitPlatform};
use sao_plugin_sdk_vision::bindings::sao::plugin::vision;
use sao_plugin_sdk_vision::bindings::Guest;
use sao_plugin_sdk_vision::{Detection, Frame};

use crate::config::Config;
use crate::counter::Counter;

thread_local! {
    /// The plugin's one counter, built by `init`.
    static COUNTER: RefCell<Option<Counter>> = const { RefCell::new(None) };
}

/// Runs `f` on the counter, or fails if `init` has not built one.
fn with_counter(
    f: impl FnOnce(&mut Counter, &mut WitPlatform) -> Result<(), String>,
) -> Result<(), String> {
    with_state(&COUNTER, f)
}

/// The exported handlers.
struct Component;

impl Guest for Component {
    fn init(config: String) -> Result<(), String> {
        COUNTER.set(Some(Counter::new(Config::from_json(&config)?)?));
        Ok(())
    }

    fn on_config(config: String) -> Result<(), String> {
        let config = Config::from_json(&config)?;
        with_counter(|c, _| c.set_config(config))
    }

    fn on_reading(_reading: Reading) -> Result<(), String> {
        Ok(())
    }

    /// Reports finished periods and departures even when no camera frame arrives.
    fn on_tick(now: u64) -> Result<(), String> {
        with_counter(|c, host| {
            c.on_tick(now, host);
            Ok(())
        })
    }

    fn on_detections(
        frame: vision::FrameInfo,
        found: Vec<vision::Detection>,
    ) -> Result<(), String> {
        let frame = Frame::from(frame);
        let found: Vec<Detection> = found.into_iter().map(Detection::from).collect();
        with_counter(|c, host| {
            c.on_detections(&frame, &found, host);
            Ok(())
        })
    }
}

sao_plugin_sdk_vision::export!(Component);
