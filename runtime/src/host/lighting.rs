//! `sao:plugin/lighting`: dim levels and energy, through the lamp arbiter (which owns the
//! fail-safe).

use super::sao::plugin::lighting::{Energy, Error, Host, LampInfo};
use super::PluginState;
use crate::devices::lamps::LampError;
use crate::reports;

impl From<LampError> for Error {
    fn from(e: LampError) -> Self {
        match e {
            LampError::UnknownLamp(id) => Error::UnknownLamp(id),
            LampError::InvalidLevel(_) => Error::InvalidLevel,
            LampError::Hardware(e) => Error::Hardware(e.to_string()),
        }
    }
}

impl Host for PluginState {
    fn lamps(&mut self) -> Vec<LampInfo> {
        let lamps = self.services.devices.lamps();
        let safe_level = lamps.safe_level();
        lamps
            .lamps()
            .into_iter()
            .map(|(id, rated_watts)| LampInfo {
                id,
                rated_watts,
                safe_level,
            })
            .collect()
    }

    fn set_level(&mut self, lamp: String, percent: f32, fade_ms: u32) -> Result<(), Error> {
        let now = self.now_ms();
        let mut lamps = self.services.devices.lamps();
        let change = lamps.set_level(&self.identity.id, &lamp, percent, fade_ms, now)?;
        let safe_level = lamps.safe_level();
        drop(lamps);
        if let Some(change) = change {
            reports::failsafe(&self.services.uplink, &[change], safe_level, now);
        }
        Ok(())
    }

    fn get_level(&mut self, lamp: String) -> Result<f32, Error> {
        Ok(self.services.devices.lamps().level(&lamp)?)
    }

    fn read_energy(&mut self, lamp: String) -> Result<Energy, Error> {
        let e = self.services.devices.lamps().energy(&lamp)?;
        Ok(Energy {
            total_kwh: e.total_kwh,
            watts: e.watts,
        })
    }
}
