//! The wasm component: the exported handlers of world `vision-plugin`, and [`Host`] over
//! the imported `alarm` interface (the rest of the pole comes from the SDKs'
//! [`WitPlatform`]).

use std::cell::RefCell;

use sao_plugin_sdk::wit::bindings::sao::plugin::alarm::{self, AlarmRequest as WitRequest};
use sao_plugin_sdk::wit::bindings::sao::plugin::types::Reading;
use sao_plugin_sdk::wit::{alarm_request_error, with_state, WitPlatform};
use sao_plugin_sdk_vision::bindings::sao::plugin::vision;
use sao_plugin_sdk_vision::bindings::Guest;

use crate::config::Config;
use crate::detections::{Detection, Frame};
use crate::host::{AlarmLevel, AlarmRequest, Host};
use crate::watch::Watch;

thread_local! {
    /// The plugin's one watch, built by `init`.
    static WATCH: RefCell<Option<Watch>> = const { RefCell::new(None) };
}

fn wit_request(r: &AlarmRequest) -> WitRequest {
    WitRequest {
        kind: r.kind.clone(),
        level: match r.level {
            AlarmLevel::Advisory => alarm::Level::Advisory,
            AlarmLevel::Warning => alarm::Level::Warning,
            AlarmLevel::Emergency => alarm::Level::Emergency,
        },
        message: alarm::Bilingual {
            th: r.message_th.clone(),
            en: r.message_en.clone(),
        },
        voice: r.voice.clone(),
        details: r.details.clone(),
        snapshot: r.snapshot.clone(),
    }
}

impl Host for WitPlatform {
    fn sound_alarm(&mut self, request: &AlarmRequest) -> Result<u64, String> {
        alarm::sound(&wit_request(request)).map_err(alarm_request_error)
    }

    fn update_alarm(&mut self, id: u64, request: &AlarmRequest) -> Result<(), String> {
        alarm::update(id, &wit_request(request)).map_err(alarm_request_error)
    }

    fn clear_alarm(&mut self, id: u64) -> Result<(), String> {
        alarm::clear(id).map_err(|e| format!("{e:?}"))
    }

    fn alarm_active(&mut self, id: u64) -> bool {
        alarm::status(id).is_some()
    }
}

/// Runs `f` on the watch, or fails if `init` has not built one.
fn with_watch(
    f: impl FnOnce(&mut Watch, &mut WitPlatform) -> Result<(), String>,
) -> Result<(), String> {
    with_state(&WATCH, f)
}

/// The exported handlers.
struct Component;

impl Guest for Component {
    /// Builds the watch, adopting an incident whose alarm still sounds.
    fn init(config: String) -> Result<(), String> {
        let watch = Watch::new(Config::from_json(&config)?, &mut WitPlatform)?;
        WATCH.set(Some(watch));
        Ok(())
    }

    fn on_config(config: String) -> Result<(), String> {
        let config = Config::from_json(&config)?;
        with_watch(|w, _| w.set_config(config))
    }

    fn on_reading(_reading: Reading) -> Result<(), String> {
        Ok(())
    }

    /// Ends a quiet incident even when no camera frame arrives.
    fn on_tick(now: u64) -> Result<(), String> {
        with_watch(|w, host| {
            w.on_tick(now, host);
            Ok(())
        })
    }

    fn on_detections(
        frame: vision::FrameInfo,
        found: Vec<vision::Detection>,
    ) -> Result<(), String> {
        let frame = Frame::from(frame);
        let found: Vec<Detection> = found.into_iter().map(Detection::from).collect();
        with_watch(|w, host| w.on_detections(&frame, &found, host))
    }
}

sao_plugin_sdk_vision::export!(Component);
