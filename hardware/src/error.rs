//! The error type shared by every device and backend.

use thiserror::Error;

/// Errors reported by hardware devices and backends.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HwError {
    /// A device answered with an error (bus error, driver fault, simulated fault).
    #[error("device `{device}` faulted: {message}")]
    Fault {
        /// Lamp id, sensor name or output name.
        device: String,
        /// What went wrong, as reported by the driver.
        message: String,
    },
    /// A device (or the peripheral behind it) cannot be opened on this machine.
    #[error("device `{device}` is unavailable")]
    Unavailable {
        /// Lamp id, sensor name, output name or peripheral name.
        device: String,
    },
    /// The hardware configuration is invalid (bad value, unknown or duplicate device).
    #[error("invalid hardware configuration: {0}")]
    Config(String),
    /// A caller passed an argument outside the accepted range (e.g. a NaN dimming level).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Reading a file or a peripheral failed at the operating-system level.
    #[error("i/o error: {0}")]
    Io(String),
}

impl HwError {
    /// Shorthand for [`HwError::Fault`].
    pub fn fault(device: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Fault {
            device: device.into(),
            message: message.into(),
        }
    }
}
