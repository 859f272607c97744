//! The wasm component: the [`Counter`] as the `vision-plugin` world's handlers, with the
//! SDKs' [`WitPlatform`] as the pole.

use sao_plugin_sdk::wit::WitPlatform;
use sao_plugin_sdk_vision::{Detection, Frame, VisionPlugin};

use crate::config::Config;
use crate::counter::Counter;

impl VisionPlugin for Counter {
    fn init(config: &str, _pole: &mut WitPlatform) -> Result<Self, String> {
        Counter::new(Config::from_json(config)?)
    }

    fn on_config(&mut self, config: &str) -> Result<(), String> {
        self.set_config(Config::from_json(config)?)
    }

    /// Reports finished periods and departures even when no camera frame arrives.
    fn on_tick(&mut self, now_ms: u64, pole: &mut WitPlatform) {
        Counter::on_tick(self, now_ms, pole);
    }

    fn on_detections(
        &mut self,
        frame: &Frame,
        found: &[Detection],
        pole: &mut WitPlatform,
    ) -> Result<(), String> {
        Counter::on_detections(self, frame, found, pole);
        Ok(())
    }
}

sao_plugin_sdk_vision::export_vision_plugin!(Counter);
