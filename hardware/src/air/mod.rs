//! Air-quality sensors.
//!
//! * [`stream`] — [`FrameParser`], the streaming, resynchronising frame parser both serial
//!   protocols use ([`Framing`] describes a protocol's frames).
//! * [`pms5003`] — Plantower PMS5003 frames and commands.
//! * [`sds011`] — Nova Fitness SDS011 frames and commands.
//! * [`protocol`] — what both have in common: [`Protocol`], [`Command`],
//!   [`ParticulateReading`] and [`Parser`], which yields [`Message`]s.
//! * [`particulate`] — [`ParticulateSensor`], the driver that talks to either sensor over a
//!   [`SerialLine`] and exposes it as pole sensors `pm25`, `pm10` (and `pm1`).
//! * [`port`] — [`SerialPortLine`], a real serial port by path that reopens itself after
//!   the device vanishes.
//! * [`gas`] — [`GasSensor`], a range-checked pole sensor over any [`GasCell`].

use std::ops::RangeInclusive;

use crate::HwError;

pub mod gas;
pub mod particulate;
pub mod pms5003;
pub mod port;
pub mod protocol;
pub mod sds011;
pub mod stream;

pub use gas::{Gas, GasCell, GasSensor};
pub use particulate::{open_serial, ParticulateSensor, SerialLine};
pub use port::SerialPortLine;
pub use protocol::{Command, Message, Parser, ParticulateReading, Protocol};
pub use stream::{FrameParser, Framing, StreamStats};

/// `value` if it is finite and within `range`, else a fault of `device` naming the
/// `hardware` whose range it left.
fn check_range(
    device: &str,
    hardware: &str,
    value: f64,
    range: &RangeInclusive<f64>,
    unit: &str,
) -> Result<f64, HwError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(HwError::fault(
            device,
            format!(
                "reading {value} {unit} is outside the {hardware}'s range {}..={} {unit}",
                range.start(),
                range.end()
            ),
        ))
    }
}
