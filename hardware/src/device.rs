//! Device traits: what a pole has, independent of how it is driven.
//!
//! Backends ([`crate::sim`], `crate::rpi`) assemble these into a [`Pole`]; the runtime only
//! ever talks to the traits.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::HwError;

/// Energy counter and present power draw of a lamp.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct EnergyReading {
    /// Energy drawn since the device was created, in kWh.
    pub total_kwh: f64,
    /// Present power draw, in W.
    pub watts: f64,
}

/// A dimmable luminaire (LED driver with a dimming input).
pub trait DimmableLamp: Send {
    /// Stable identifier of the lamp on this pole.
    fn id(&self) -> &str;
    /// Power draw at 100 % (excluding standby), in W.
    fn rated_watts(&self) -> f64;
    /// Start fading to `percent` (0..=100) over `fade_ms`. Errors if the driver is faulted.
    fn set_level(&mut self, percent: f32, fade_ms: u32) -> Result<(), HwError>;
    /// Present level (mid-fade value at the clock's now).
    fn level(&mut self) -> f32;
    /// Target level of the current fade.
    fn target_level(&self) -> f32;
    /// Cumulative energy and present power. Energy is integrated exactly over linear
    /// fades, however often (or rarely) this is called.
    fn energy(&mut self) -> Result<EnergyReading, HwError>;
}

/// A sensor producing one scalar value per read.
pub trait Sensor: Send {
    /// Name of the quantity on this pole (`"lux"`, `"motion"`, `"temperature"`, ...).
    fn name(&self) -> &str;
    /// UCUM unit code: `"lx"`, `"1"` (motion), `"Cel"`, `"ug/m3"`.
    fn unit(&self) -> &str;
    /// Latest value; `Ok(None)` = no new value / sensor silent; `Err` = fault.
    /// Motion (PIR): 1.0 if motion was detected since the previous read, else 0.0.
    fn read(&mut self) -> Result<Option<f64>, HwError>;
}

/// An on/off output: relay, siren, strobe.
pub trait Switch: Send {
    /// Name of the output on this pole (`"siren"`, `"strobe"`, ...).
    fn name(&self) -> &str;
    /// Switch on or off. On error the recorded state is unchanged.
    fn set(&mut self, on: bool) -> Result<(), HwError>;
    /// Last state successfully commanded.
    fn is_on(&self) -> bool;
}

/// A message for the pole's display: one line per language, Thai first.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DisplayMessage {
    /// Thai text.
    pub th: String,
    /// English text.
    pub en: String,
}

/// The pole's message display (LED matrix, LCD, e-paper).
pub trait Display: Send {
    /// Shows `message`, replacing whatever was shown.
    fn show(&mut self, message: &DisplayMessage) -> Result<(), HwError>;
    /// Blanks the display.
    fn clear(&mut self) -> Result<(), HwError>;
    /// What the display shows now (the last message successfully shown).
    fn showing(&self) -> Option<&DisplayMessage>;
}

/// The pole's loudspeaker, playing recorded clips by name.
pub trait Speaker: Send {
    /// Names of the clips this speaker can play.
    fn clips(&self) -> Vec<String>;
    /// Starts playing `clip`, stopping any clip still playing; returns at once.
    /// Errors with [`HwError::Config`] for a clip it does not have.
    fn play(&mut self, clip: &str) -> Result<(), HwError>;
    /// Stops playing.
    fn stop(&mut self) -> Result<(), HwError>;
}

/// Everything a pole has, as built by a backend.
#[derive(Default)]
pub struct Pole {
    /// Dimmable lamps.
    pub lamps: Vec<Box<dyn DimmableLamp>>,
    /// Sensors.
    pub sensors: Vec<Box<dyn Sensor>>,
    /// On/off outputs.
    pub outputs: Vec<Box<dyn Switch>>,
    /// The message display, if fitted.
    pub display: Option<Box<dyn Display>>,
    /// The loudspeaker, if fitted.
    pub speaker: Option<Box<dyn Speaker>>,
}

impl Pole {
    /// The lamp with id `id`, if any.
    pub fn lamp_mut(&mut self, id: &str) -> Option<&mut (dyn DimmableLamp + 'static)> {
        self.lamps
            .iter_mut()
            .find(|l| l.id() == id)
            .map(|l| &mut **l)
    }

    /// The sensor named `name`, if any.
    pub fn sensor_mut(&mut self, name: &str) -> Option<&mut (dyn Sensor + 'static)> {
        self.sensors
            .iter_mut()
            .find(|s| s.name() == name)
            .map(|s| &mut **s)
    }

    /// The output named `name`, if any.
    pub fn output_mut(&mut self, name: &str) -> Option<&mut (dyn Switch + 'static)> {
        self.outputs
            .iter_mut()
            .find(|o| o.name() == name)
            .map(|o| &mut **o)
    }
}

impl fmt::Debug for Pole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pole")
            .field(
                "lamps",
                &self.lamps.iter().map(|l| l.id()).collect::<Vec<_>>(),
            )
            .field(
                "sensors",
                &self.sensors.iter().map(|s| s.name()).collect::<Vec<_>>(),
            )
            .field(
                "outputs",
                &self.outputs.iter().map(|o| o.name()).collect::<Vec<_>>(),
            )
            .field("display", &self.display.is_some())
            .field("speaker", &self.speaker.is_some())
            .finish()
    }
}
