//! `sao:plugin/sensors`: latest sensor readings.

use super::sao::plugin::sensors::Host;
use super::{PluginState, WitReading};
use crate::devices::Reading;

impl From<Reading> for WitReading {
    fn from(r: Reading) -> Self {
        Self {
            sensor: r.sensor,
            value: r.value,
            unit: r.unit,
            ts: r.ts,
        }
    }
}

impl Host for PluginState {
    fn names(&mut self) -> Vec<String> {
        self.services.devices.sensors().names()
    }

    fn latest(&mut self, sensor: String) -> Option<WitReading> {
        self.services
            .devices
            .sensors()
            .latest(&sensor)
            .map(Into::into)
    }
}
