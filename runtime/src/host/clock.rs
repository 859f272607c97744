//! `sao:plugin/clock`: time (virtual in `sao sim`) and the pole's position.

use super::sao::plugin::clock::Host;
use super::sao::plugin::types::Geo;
use super::PluginState;

impl Host for PluginState {
    fn now(&mut self) -> u64 {
        self.now_ms()
    }

    fn utc_offset_minutes(&mut self) -> i32 {
        self.services.uplink.identity().utc_offset_minutes
    }

    fn location(&mut self) -> Geo {
        let id = self.services.uplink.identity();
        Geo {
            latitude: id.latitude,
            longitude: id.longitude,
        }
    }
}
