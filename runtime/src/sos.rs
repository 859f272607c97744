//! The SOS button: someone at the pole or bus stop calls for help.
//!
//! A press sounds the host's `sos` alarm at emergency level through the local alarm
//! engine, so the caller is answered at once and with no network: by default the lamps
//! go to full, the strobe flashes, the display says help was called and the speaker plays
//! the `sos-ack` clip (`[alarm.kinds.sos]` says what it drives). The alert
//! (`…/alert/sos`, the outbox's highest class) carries the pole, its location, the time
//! and a photo from the nearest running camera; with the uplink down it waits in the
//! outbox and goes out, marked historical, when the broker is back. Presses while the
//! answer lasts renew it; it ends `hold-s` after the last press, or when an operator
//! acknowledges it and the hold runs out.

use serde::Deserialize;
use serde_json::json;

use sao_hardware::DisplayMessage;

use crate::alarm::{Alarms, Level, Request};
use crate::devices::Reading;
use crate::uplink::Source;
use crate::vision::CameraAccess;

/// The alert kind, a topic segment: `…/alert/sos`.
pub const KIND: &str = "sos";

/// `[sos]` in `pole.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct SosConfig {
    /// The SOS button's input (a sensor name); empty for none.
    pub input: String,
    /// The camera whose latest frame goes with the alert; empty: the first one running.
    pub camera: String,
    /// The voice clip that answers the caller.
    pub voice: String,
    /// What the display shows and the alert says.
    pub message: DisplayMessage,
    /// How long the pole keeps answering after the last press, in seconds.
    pub hold_s: u64,
}

impl Default for SosConfig {
    fn default() -> Self {
        Self {
            input: "sos".into(),
            camera: String::new(),
            voice: "sos-ack".into(),
            message: DisplayMessage {
                th: "ได้รับสัญญาณขอความช่วยเหลือแล้ว กำลังแจ้งเจ้าหน้าที่".into(),
                en: "SOS received. Help has been called.".into(),
            },
            hold_s: 600,
        }
    }
}

/// The call being answered.
#[derive(Debug, Clone, Copy)]
struct Call {
    alarm: u64,
    last_press_ms: u64,
    presses: u32,
}

/// Answers the SOS button.
pub struct Sos {
    config: SosConfig,
    call: Option<Call>,
    /// Whether the button read pressed at the last poll: a press held across polls is
    /// one press.
    held: bool,
}

/// Who publishes SOS alerts: the host, for the city's `living` (public safety) dimension.
fn source() -> Source {
    Source {
        dataset: "sos-calls".into(),
        dimension: "living".into(),
        ..Source::host()
    }
}

impl Sos {
    /// The button as `config` describes it.
    pub fn new(config: SosConfig) -> Self {
        Self {
            config,
            call: None,
            held: false,
        }
    }

    /// Answers a new press in `readings` (the button going down): sounds the alarm, or
    /// renews the one sounding. Returns the alarm's id when there was a press.
    pub fn on_readings(
        &mut self,
        readings: &[Reading],
        alarms: &Alarms,
        cameras: &CameraAccess,
        now_ms: u64,
    ) -> Option<u64> {
        let down = !self.config.input.is_empty()
            && readings
                .iter()
                .any(|r| r.sensor == self.config.input && r.value >= 1.0);
        let pressed = down && !self.held;
        self.held = down;
        if !pressed {
            return None;
        }
        let presses = self.call.map_or(0, |c| c.presses) + 1;
        let camera = match self.config.camera.as_str() {
            "" => cameras.running().into_iter().next(),
            name => Some(name.to_string()),
        };
        let snapshot = camera.as_deref().and_then(|c| cameras.latest(c));
        let request = Request {
            kind: KIND.into(),
            level: Level::Emergency,
            message: self.config.message.clone(),
            voice: Some(self.config.voice.clone()).filter(|v| !v.is_empty()),
            details: json!({
                "presses": presses,
                "camera": camera.as_ref().filter(|_| snapshot.is_some()),
            }),
            snapshot: snapshot.map(|s| std::sync::Arc::new(s.jpeg)),
        };
        let renewed = self.call.and_then(|c| {
            alarms
                .update(&source().plugin, c.alarm, request.clone())
                .ok()
                .map(|()| c.alarm)
        });
        let alarm = match renewed {
            Some(id) => id,
            None => match alarms.sound(source(), request) {
                Ok(id) => id,
                Err(e) => {
                    tracing::error!("the SOS alarm could not sound: {e}");
                    return None;
                }
            },
        };
        tracing::warn!(alarm, presses, "SOS pressed");
        self.call = Some(Call {
            alarm,
            last_press_ms: now_ms,
            presses,
        });
        Some(alarm)
    }

    /// Ends the answer `hold-s` after the last press.
    pub fn advance(&mut self, alarms: &Alarms, now_ms: u64) {
        let Some(call) = self.call else { return };
        let active = alarms.status(&source().plugin, call.alarm).is_some();
        if !active {
            self.call = None;
        } else if now_ms >= call.last_press_ms + self.config.hold_s * 1000 {
            if let Err(e) = alarms.clear(&source().plugin, call.alarm) {
                tracing::error!("the SOS alarm could not clear: {e}");
            }
            self.call = None;
        }
    }
}
