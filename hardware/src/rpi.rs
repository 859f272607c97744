//! Raspberry Pi backend through `rppal` (feature `rpi`).
//!
//! Lamps dim through the SoC's hardware PWM channels (the LED driver's PWM or 0–10 V
//! dimming input via a converter), outputs drive relays on GPIO pins, the PIR module's
//! output goes to a GPIO input, and a BH1750 light sensor sits on an I²C bus at
//! [`BH1750_ADDRESS_LOW`]. All devices go through the [`crate::hal`] adapters, which see
//! `rppal`'s `embedded-hal` 1.0 implementations. A particulate sensor (a PMS5003 on the
//! Pi's UART, or an SDS011 on its USB serial adapter) is read through
//! [`crate::air::open_serial`]. Push buttons on GPIO inputs are the SOS button and the
//! alarm-acknowledge button, a speaker plays voice clips through
//! [`crate::audio::ClipPlayer`], a passenger display is a [`crate::sign_file::SignFile`]
//! its screen's renderer reads, and the SoC's thermal zone is the `cpu-temperature`
//! sensor ([`crate::thermal::SysfsThermal`]).

use std::path::PathBuf;
use std::sync::Arc;

use rppal::gpio::Gpio;
use rppal::i2c::I2c;
use rppal::pwm::{Channel, Polarity, Pwm};
use serde::Deserialize;

use crate::air::{open_serial, Protocol};
use crate::audio::{ClipPlayer, SpeakerSpec};
use crate::hal::{Bh1750, LatchingInput, PinSwitch, PwmLamp, BH1750_ADDRESS_LOW};
use crate::power::default_standby_watts;
use crate::sign_file::SignFile;
use crate::thermal::{SysfsThermal, DEFAULT_ZONE};
use crate::{HwError, Pole, TimeSource};

/// Pi pole configuration (kebab-case keys).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RpiConfig {
    /// Lamps on hardware PWM channels.
    #[serde(default)]
    pub lamps: Vec<RpiLampSpec>,
    /// Relay/siren/strobe outputs on GPIO pins.
    #[serde(default)]
    pub outputs: Vec<RpiOutputSpec>,
    /// BCM GPIO number of the PIR output, if fitted (sensor `"motion"`).
    #[serde(default)]
    pub pir_gpio: Option<u8>,
    /// BCM GPIO number of the alarm-acknowledge push button, if fitted (sensor
    /// `"button"`; the button pulls the pin high while pressed).
    #[serde(default)]
    pub button_gpio: Option<u8>,
    /// BCM GPIO number of the SOS (help) push button, if fitted (sensor `"sos"`; pulls the
    /// pin high while pressed).
    #[serde(default)]
    pub sos_gpio: Option<u8>,
    /// The SoC's thermal zone file (default [`crate::thermal::DEFAULT_ZONE`]).
    #[serde(default)]
    pub thermal_zone: Option<PathBuf>,
    /// The passenger display, if fitted: the JSON file its renderer reads (see
    /// [`crate::sign_file`]), e.g. `/run/sao/sign.json`.
    #[serde(default)]
    pub display_file: Option<PathBuf>,
    /// A loudspeaker playing recorded voice clips, if fitted.
    #[serde(default)]
    pub speaker: Option<SpeakerSpec>,
    /// I²C bus of a BH1750 at address 0x23, if fitted (sensor `"lux"`).
    #[serde(default)]
    pub lux_i2c_bus: Option<u8>,
    /// A particulate sensor on a serial port, if fitted (sensors `"pm25"`, `"pm10"`, and
    /// `"pm1"` for a PMS5003).
    #[serde(default)]
    pub particulate: Option<SerialParticulateSpec>,
}

/// A particulate sensor on a serial port.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SerialParticulateSpec {
    /// The sensor's protocol (`pms5003` or `sds011`).
    pub protocol: Protocol,
    /// The serial device, e.g. `/dev/serial0` (Pi UART) or `/dev/ttyUSB0` (USB adapter).
    pub port: PathBuf,
}

/// A lamp on a hardware PWM channel.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RpiLampSpec {
    /// Lamp id.
    pub id: String,
    /// Hardware PWM channel, 0 or 1.
    pub pwm_channel: u8,
    /// Power at 100 %, W.
    pub rated_watts: f64,
    /// Standby power, W (default 0.5).
    #[serde(default = "default_standby_watts")]
    pub standby_watts: f64,
    /// PWM frequency, Hz (default 1000).
    #[serde(default = "default_frequency_hz")]
    pub frequency_hz: f64,
}

fn default_frequency_hz() -> f64 {
    1_000.0
}

/// An on/off output on a GPIO pin.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RpiOutputSpec {
    /// Output name (`"siren"`, `"strobe"`, `"relay"`...).
    pub name: String,
    /// BCM GPIO number.
    pub gpio: u8,
    /// Whether the output is on when the pin is low (common on relay boards).
    #[serde(default)]
    pub active_low: bool,
}

/// Open the Pi's peripherals and build the pole. Errors with [`HwError::Config`] for a bad
/// channel, frequency or watts, and [`HwError::Unavailable`] when a peripheral cannot be
/// opened (not a Pi, overlay not enabled, pin busy, missing permissions).
pub fn build_rpi_pole(cfg: &RpiConfig, clock: Arc<dyn TimeSource>) -> Result<Pole, HwError> {
    let mut pole = Pole::default();
    for spec in &cfg.lamps {
        let channel = match spec.pwm_channel {
            0 => Channel::Pwm0,
            1 => Channel::Pwm1,
            n => {
                return Err(HwError::Config(format!(
                    "lamp `{}`: PWM channel must be 0 or 1, got {n}",
                    spec.id
                )))
            }
        };
        if !(spec.frequency_hz.is_finite() && spec.frequency_hz > 0.0) {
            return Err(HwError::Config(format!(
                "lamp `{}`: frequency must be > 0 Hz, got {}",
                spec.id, spec.frequency_hz
            )));
        }
        let pwm = Pwm::with_frequency(channel, spec.frequency_hz, 0.0, Polarity::Normal, true)
            .map_err(|e| unavailable(&spec.id, e))?;
        let lamp = PwmLamp::new(
            RpiPwm(pwm),
            clock.clone(),
            spec.id.clone(),
            spec.rated_watts,
            spec.standby_watts,
        )?;
        pole.lamps.push(Box::new(lamp));
    }

    let buttons = [(cfg.button_gpio, "button"), (cfg.sos_gpio, "sos")];
    if !cfg.outputs.is_empty() || cfg.pir_gpio.is_some() || buttons.iter().any(|b| b.0.is_some()) {
        let gpio = Gpio::new().map_err(|e| unavailable("gpio", e))?;
        for spec in &cfg.outputs {
            let pin = gpio
                .get(spec.gpio)
                .map_err(|e| unavailable(&spec.name, e))?
                .into_output();
            let switch = PinSwitch::new(pin, spec.name.clone(), spec.active_low)?;
            pole.outputs.push(Box::new(switch));
        }
        if let Some(n) = cfg.pir_gpio {
            // The PIR drives its output push-pull; the pull-down only avoids a floating
            // input when the module is unplugged.
            let pin = gpio
                .get(n)
                .map_err(|e| unavailable("motion", e))?
                .into_input_pulldown();
            pole.sensors
                .push(Box::new(LatchingInput::new(pin, "motion")));
        }
        for (gpio_number, name) in buttons {
            let Some(n) = gpio_number else { continue };
            let pin = gpio
                .get(n)
                .map_err(|e| unavailable(name, e))?
                .into_input_pulldown();
            pole.sensors.push(Box::new(LatchingInput::new(pin, name)));
        }
    }
    let zone = cfg
        .thermal_zone
        .clone()
        .unwrap_or_else(|| DEFAULT_ZONE.into());
    pole.sensors.push(Box::new(SysfsThermal::new(zone)));

    if let Some(bus) = cfg.lux_i2c_bus {
        let i2c = I2c::with_bus(bus).map_err(|e| unavailable("lux", e))?;
        let sensor = Bh1750::new(i2c, rppal::hal::Delay::new(), BH1750_ADDRESS_LOW, "lux");
        pole.sensors.push(Box::new(sensor));
    }

    if let Some(path) = &cfg.display_file {
        pole.display = Some(Box::new(SignFile::new(path)?));
    }
    if let Some(spec) = &cfg.speaker {
        pole.speaker = Some(Box::new(ClipPlayer::new(spec.clone())?));
    }

    if let Some(spec) = &cfg.particulate {
        let sensor = open_serial(&spec.port, spec.protocol, clock);
        for view in sensor.sensors() {
            pole.sensors.push(Box::new(view));
        }
    }
    Ok(pole)
}

fn unavailable(device: &str, e: impl std::fmt::Display) -> HwError {
    HwError::Unavailable {
        device: format!("{device} ({e})"),
    }
}

/// `rppal`'s PWM channel as an `embedded-hal` 1.0 `SetDutyCycle` (rppal only implements the
/// 0.2 `PwmPin` trait for it).
struct RpiPwm(Pwm);

/// Error of [`RpiPwm`]; its `Debug` shows rppal's message.
struct RpiPwmError(rppal::pwm::Error);

impl std::fmt::Debug for RpiPwmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl embedded_hal::pwm::Error for RpiPwmError {
    fn kind(&self) -> embedded_hal::pwm::ErrorKind {
        embedded_hal::pwm::ErrorKind::Other
    }
}

impl embedded_hal::pwm::ErrorType for RpiPwm {
    type Error = RpiPwmError;
}

impl embedded_hal::pwm::SetDutyCycle for RpiPwm {
    fn max_duty_cycle(&self) -> u16 {
        u16::MAX
    }

    fn set_duty_cycle(&mut self, duty: u16) -> Result<(), RpiPwmError> {
        self.0
            .set_duty_cycle(f64::from(duty) / f64::from(u16::MAX))
            .map_err(RpiPwmError)
    }
}
