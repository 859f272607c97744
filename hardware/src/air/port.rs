//! [`SerialPortLine`]: a real serial port, by path, that survives the device vanishing.
//!
//! A USB serial adapter can be unplugged and plugged back (or enumerate late at boot); a
//! Pi UART can be grabbed by another process. The line opens its port on first use and,
//! after any read or write error other than "nothing now", closes it and opens the path
//! again — at most once every [`REOPEN_INTERVAL_MS`] of the pole's clock, so a missing
//! device costs one `open` call every few seconds. Until then every read fails with the
//! reason, which the particulate driver reports as a fault (and the runtime as a sensor
//! health problem); nothing else on the pole waits for it.

use std::io::{self, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serialport::SerialPort;

use crate::TimeSource;

/// Both sensors talk at 9600 baud, 8 data bits, no parity, 1 stop bit.
pub const BAUD_RATE: u32 = 9_600;
/// How long a read of a real port waits for the first byte.
pub const READ_TIMEOUT: Duration = Duration::from_millis(10);
/// Least time between two attempts to open the port, in ms of the pole's clock.
pub const REOPEN_INTERVAL_MS: u64 = 5_000;

/// A serial port at a path, reopened after errors (see the module docs).
pub struct SerialPortLine {
    path: PathBuf,
    clock: Arc<dyn TimeSource>,
    port: Option<Box<dyn SerialPort>>,
    /// While the port is closed: when it failed or could not be opened, and why.
    failure: Option<(u64, String)>,
}

impl SerialPortLine {
    /// A line for the port at `path`; it is opened at once if it can be, else on a later
    /// read or write.
    pub fn new(path: &Path, clock: Arc<dyn TimeSource>) -> Self {
        let mut line = Self {
            path: path.to_path_buf(),
            clock,
            port: None,
            failure: None,
        };
        // A failure is kept and reported by the first read.
        let _ = line.port();
        line
    }

    /// The open port, opening it if it is closed and the reopen interval has passed.
    fn port(&mut self) -> io::Result<&mut Box<dyn SerialPort>> {
        if self.port.is_none() {
            let now = self.clock.now_ms();
            if let Some((at, reason)) = &self.failure {
                if now.saturating_sub(*at) < REOPEN_INTERVAL_MS {
                    return Err(io::Error::new(ErrorKind::NotConnected, reason.clone()));
                }
            }
            match open(&self.path) {
                Ok(port) => {
                    self.port = Some(port);
                    self.failure = None;
                }
                Err(e) => {
                    let reason = format!("cannot open {}: {e}", self.path.display());
                    self.failure = Some((now, reason.clone()));
                    return Err(io::Error::new(ErrorKind::NotConnected, reason));
                }
            }
        }
        Ok(self.port.as_mut().expect("opened above"))
    }

    /// Passes `result` on, closing the port on a real error so the next use reopens it.
    fn checked<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &result {
            if !matches!(
                e.kind(),
                ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
            ) {
                self.port = None;
                self.failure = Some((
                    self.clock.now_ms(),
                    format!("{} failed: {e}", self.path.display()),
                ));
            }
        }
        result
    }
}

fn open(path: &Path) -> Result<Box<dyn SerialPort>, serialport::Error> {
    serialport::new(path.to_string_lossy(), BAUD_RATE)
        .data_bits(serialport::DataBits::Eight)
        .parity(serialport::Parity::None)
        .stop_bits(serialport::StopBits::One)
        .flow_control(serialport::FlowControl::None)
        .timeout(READ_TIMEOUT)
        .open()
}

impl Read for SerialPortLine {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let result = self.port()?.read(buf);
        self.checked(result)
    }
}

impl Write for SerialPortLine {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let result = self.port()?.write(buf);
        self.checked(result)
    }

    fn flush(&mut self) -> io::Result<()> {
        let result = self.port()?.flush();
        self.checked(result)
    }
}
