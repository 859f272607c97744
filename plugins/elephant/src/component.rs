//! The wasm component: the [`Watch`] as the `vision-plugin` world's handlers, and [`Host`] over
//! the imported `alarm` interface (the rest of the pole comes from the SDKs'
//! [`WitPlatform`]).

use sao_plugin_sdk::wit::bindings::sao::plugin::alarm::{self, AlarmRequest as WitRequest};
use sao_plugin_sdk::wit::{alarm_request_error, WitPlatform};
use sao_plugin_sdk_vision::VisionPlugin;

use crate::config::Config;
use crate::detections::{Detection, Frame};
use crate::host::{AlarmLevel, AlarmRequest, Host};
use crate::watch::Watch;

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

impl VisionPlugin for Watch {
    /// Builds the watch, adopting an incident whose alarm still sounds.
    fn init(config: &str, pole: &mut WitPlatform) -> Result<Self, String> {
        Watch::new(Config::from_json(config)?, pole)
    }

    fn on_config(&mut self, config: &str) -> Result<(), String> {
        self.set_config(Config::from_json(config)?)
    }

    /// Ends a quiet incident even when no camera frame arrives.
    fn on_tick(&mut self, now_ms: u64, pole: &mut WitPlatform) {
        Watch::on_tick(self, now_ms, pole);
    }

    fn on_detections(
        &mut self,
        frame: &Frame,
        found: &[Detection],
        pole: &mut WitPlatform,
    ) -> Result<(), String> {
        Watch::on_detections(self, frame, found, pole)
    }
}

sao_plugin_sdk_vision::export_vision_plugin!(Watch);
