//! Hardware abstraction for sao poles.
//!
//! * [`error`] — [`HwError`], the one error type of this crate.
//! * [`clock`] — [`TimeSource`]: [`SystemClock`] for real poles, [`SimClock`] for virtual time.
//! * [`device`] — the traits the runtime talks to ([`DimmableLamp`], [`Sensor`], [`Switch`],
//!   [`Display`], [`Speaker`])
//!   and [`Pole`], the set of devices a backend builds.
//! * [`hal`] — adapters from `embedded-hal` 1.0 devices (PWM, GPIO, I²C) to those traits,
//!   shared by every backend so ecosystem drivers plug in.
//! * [`power`] — the lamp power model and exact energy integration over fades.
//! * [`audio`] — a loudspeaker playing recorded voice clips through `aplay`.
//! * [`air`] — air quality: streaming PMS5003 and SDS011 wire-protocol parsers, the
//!   particulate sensor driver over a serial line, and range-checked gas sensors.
//! * [`thermal`] — the box's SoC temperature from a Linux thermal zone.
//! * [`sign_file`] — a display driven through a JSON file its screen's renderer reads.
//! * [`sim`] — a deterministic, seeded simulator (sun-driven lux, diurnal temperature,
//!   dry-season PM2.5 spoken over the sensors' real wire protocols, gases, scheduled
//!   motion, CSV replay, fault injection).
//! * `rpi` (feature `rpi`) — a Raspberry Pi backend through `rppal`.

#![warn(missing_docs)]

pub mod air;
pub mod audio;
pub mod clock;
pub mod device;
pub mod error;
pub mod hal;
pub mod power;
#[cfg(feature = "rpi")]
pub mod rpi;
pub mod sign_file;
pub mod sim;
pub mod thermal;

pub use clock::{SimClock, SystemClock, TimeSource};
pub use device::{
    DimmableLamp, Display, DisplayMessage, EnergyReading, Pole, Sensor, Speaker, Switch,
};
pub use error::HwError;
