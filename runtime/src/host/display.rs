//! `sao:plugin/display`: a plugin's sign on the pole's display, arbitrated by the alarm
//! engine (alarms first, then the signs by priority).

use sao_hardware::DisplayMessage;

use super::sao::plugin::display::{Error, Host, Sign as WitSign};
use super::PluginState;
use crate::alarm::Sign;

impl Host for PluginState {
    fn available(&mut self) -> bool {
        self.services.alarms.has_display()
    }

    fn show(&mut self, sign: WitSign) -> Result<(), Error> {
        let alarms = &self.services.alarms;
        if !alarms.has_display() {
            return Err(Error::NoDisplay);
        }
        let sign = Sign {
            message: DisplayMessage {
                th: sign.th,
                en: sign.en,
            },
            priority: sign.priority,
        };
        alarms
            .show_sign(&self.identity.id, sign)
            .map_err(Error::Invalid)
    }

    fn clear(&mut self) {
        self.services.alarms.withdraw_sign(&self.identity.id);
    }

    fn on_display(&mut self) -> bool {
        self.services.alarms.sign_in_front(&self.identity.id)
    }
}
