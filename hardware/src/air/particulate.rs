//! The particulate sensor driver: a PMS5003 or SDS011 on a serial line, as pole sensors.
//!
//! [`ParticulateSensor`] owns the line and a [`Parser`] for the sensor's [`Protocol`]. Each
//! poll reads what the line has, parses it, and keeps the newest reading with its time
//! (from the pole's [`TimeSource`]). [`ParticulateSensor::sensors`] exposes one
//! [`ParticulateView`] per quantity — `pm25` and `pm10`, plus `pm1` for the PMS5003, unit
//! `ug/m3` — all sharing the one driver. A view returns each new reading once and
//! `Ok(None)` until the next one (the runtime reports a sensor that stays silent).
//!
//! A view faults ([`HwError::Fault`]) while:
//! * the last read of the line failed (the message says how);
//! * the line has produced only garbage since the last valid frame: at least
//!   [`BAD_FRAMES_FOR_FAULT`] checksum errors, or as many discarded bytes as that many data
//!   frames (the message gives both counts);
//! * the newest reading of its quantity is outside the sensor's range (0–1000 µg/m³ for
//!   the PMS5003, 0–999.9 for the SDS011).
//!
//! Each condition clears by itself: the next successful read, the next valid frame, the
//! next reading in range.

use std::io::{ErrorKind, Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::Serialize;

use super::check_range;
use super::port::SerialPortLine;
use super::protocol::{Command, Message, Parser, ParticulateReading, Protocol};
use super::stream::StreamStats;
use crate::{HwError, Sensor, TimeSource};

/// A byte port to a sensor. Reads must not block for long: a read that returns
/// [`ErrorKind::WouldBlock`], [`ErrorKind::TimedOut`] or 0 bytes means "nothing now".
pub trait SerialLine: Read + Write + Send {}

impl<T: Read + Write + Send + ?Sized> SerialLine for T {}

/// Checksum errors (or data frames' worth of discarded bytes) since the last valid frame
/// from which the line is reported faulty.
pub const BAD_FRAMES_FOR_FAULT: u64 = 5;
/// Unit of every particulate sensor.
pub const UNIT: &str = "ug/m3";
/// Size of one read from the line.
const READ_CHUNK: usize = 512;
/// Most bytes one poll reads, so a line that never stops sending cannot stall the caller.
const MAX_READ_PER_POLL: usize = 4_096;

/// The sensor speaking `protocol` on the serial port at `path` (9600 8N1), through a
/// [`SerialPortLine`]: a port that cannot be opened now — a USB adapter not yet plugged
/// in, say — is not an error here; the sensor's reads fault with the reason until the
/// port opens, and a port that fails later is reopened the same way.
pub fn open_serial(
    path: &Path,
    protocol: Protocol,
    clock: Arc<dyn TimeSource>,
) -> ParticulateSensor {
    let line = SerialPortLine::new(path, clock.clone());
    ParticulateSensor::new(line, protocol, clock)
}

/// A reading and when it was received.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TimedReading {
    /// Reception time, Unix ms.
    pub at_ms: u64,
    /// The concentrations.
    pub reading: ParticulateReading,
}

/// Counters of the line, for health telemetry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct LineStats {
    /// Bytes read from the line.
    pub bytes_read: u64,
    /// Failed reads of the line.
    pub read_errors: u64,
    /// The parser's counters (frames, checksum errors, discarded bytes).
    pub stream: StreamStats,
}

/// A particulate sensor on a serial line; clones share the driver.
#[derive(Clone)]
pub struct ParticulateSensor {
    driver: Arc<Mutex<Driver>>,
}

impl ParticulateSensor {
    /// A driver for a sensor speaking `protocol` on `line`.
    pub fn new(
        line: impl SerialLine + 'static,
        protocol: Protocol,
        clock: Arc<dyn TimeSource>,
    ) -> Self {
        Self {
            driver: Arc::new(Mutex::new(Driver {
                protocol,
                line: Box::new(line),
                parser: protocol.parser(),
                clock,
                latest: None,
                readings: 0,
                last_ack: None,
                read_error: None,
                stats: LineStats::default(),
            })),
        }
    }

    /// The sensor's protocol.
    pub fn protocol(&self) -> Protocol {
        lock(&self.driver).protocol
    }

    /// Read and parse whatever the line has now. Errors, naming the protocol as the
    /// device, while the line is unhealthy: the read failed, or only garbage arrived since
    /// the last valid frame (see the module docs).
    pub fn poll(&self) -> Result<(), HwError> {
        let mut driver = lock(&self.driver);
        driver.poll();
        let device = driver.protocol.to_string();
        driver.health(&device)
    }

    /// Send `command` to the sensor. Its acknowledgement, if any, shows in
    /// [`ParticulateSensor::last_ack`] after a later poll.
    pub fn send(&self, command: Command) -> Result<(), HwError> {
        let mut driver = lock(&self.driver);
        let protocol = driver.protocol;
        let line = &mut driver.line;
        line.write_all(&protocol.encode(command))
            .and_then(|()| line.flush())
            .map_err(|e| {
                HwError::fault(
                    protocol.to_string(),
                    format!("writing {command:?} failed: {e}"),
                )
            })
    }

    /// The newest reading, if any.
    pub fn latest(&self) -> Option<TimedReading> {
        lock(&self.driver).latest
    }

    /// The state the sensor last confirmed (mode, sleep or work).
    pub fn last_ack(&self) -> Option<Command> {
        lock(&self.driver).last_ack
    }

    /// The line's counters.
    pub fn stats(&self) -> LineStats {
        lock(&self.driver).stats
    }

    /// One pole sensor per quantity the sensor reports: `pm1` (PMS5003 only), `pm25`,
    /// `pm10`.
    pub fn sensors(&self) -> Vec<ParticulateView> {
        quantities(self.protocol())
            .map(|quantity| ParticulateView {
                driver: self.driver.clone(),
                quantity,
                seen: 0,
            })
            .collect()
    }
}

/// Names of the pole sensors [`ParticulateSensor::sensors`] creates for `protocol`.
pub fn sensor_names(protocol: Protocol) -> Vec<&'static str> {
    quantities(protocol).map(Quantity::name).collect()
}

/// The quantities `protocol` reports.
fn quantities(protocol: Protocol) -> impl Iterator<Item = Quantity> {
    Quantity::ALL
        .into_iter()
        .filter(move |q| *q != Quantity::Pm1 || protocol.reports_pm1())
}

/// The driver, even if a holder panicked (its state is consistent between statements that
/// change it).
fn lock(driver: &Mutex<Driver>) -> MutexGuard<'_, Driver> {
    driver.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One quantity of a [`ParticulateSensor`] as a pole [`Sensor`].
pub struct ParticulateView {
    driver: Arc<Mutex<Driver>>,
    quantity: Quantity,
    /// Number of the last reading this view returned.
    seen: u64,
}

impl Sensor for ParticulateView {
    fn name(&self) -> &str {
        self.quantity.name()
    }

    fn unit(&self) -> &str {
        UNIT
    }

    /// Polls the line unless another view already fetched a reading this one has not
    /// returned yet; see the module docs for the faults.
    fn read(&mut self) -> Result<Option<f64>, HwError> {
        let mut driver = lock(&self.driver);
        if driver.readings == self.seen {
            driver.poll();
        }
        let name = self.quantity.name();
        driver.health(name)?;
        let Some(latest) = driver.latest else {
            return Ok(None);
        };
        let Some(value) = self.quantity.of(&latest.reading) else {
            return Ok(None);
        };
        let range = 0.0..=driver.protocol.max_ug_m3();
        check_range(name, &driver.protocol.to_string(), value, &range, UNIT)?;
        if driver.readings == self.seen {
            return Ok(None);
        }
        self.seen = driver.readings;
        Ok(Some(value))
    }
}

/// A concentration a particulate sensor reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quantity {
    Pm1,
    Pm25,
    Pm10,
}

impl Quantity {
    const ALL: [Self; 3] = [Self::Pm1, Self::Pm25, Self::Pm10];

    fn name(self) -> &'static str {
        match self {
            Self::Pm1 => "pm1",
            Self::Pm25 => "pm25",
            Self::Pm10 => "pm10",
        }
    }

    fn of(self, r: &ParticulateReading) -> Option<f64> {
        match self {
            Self::Pm1 => r.pm1_0,
            Self::Pm25 => Some(r.pm2_5),
            Self::Pm10 => Some(r.pm10),
        }
    }
}

struct Driver {
    protocol: Protocol,
    line: Box<dyn SerialLine>,
    parser: Parser,
    clock: Arc<dyn TimeSource>,
    latest: Option<TimedReading>,
    /// Readings received so far (numbers them for the views).
    readings: u64,
    last_ack: Option<Command>,
    /// Why the last read of the line failed, until a read succeeds.
    read_error: Option<String>,
    stats: LineStats,
}

impl Driver {
    /// Read what the line has (up to [`MAX_READ_PER_POLL`] bytes) and parse it.
    fn poll(&mut self) {
        let mut buf = [0u8; READ_CHUNK];
        let mut total = 0;
        self.read_error = loop {
            match self.line.read(&mut buf) {
                Ok(0) => break None,
                Ok(n) => {
                    self.ingest(&buf[..n]);
                    total += n;
                    // A short read drained what the port had.
                    if n < buf.len() || total >= MAX_READ_PER_POLL {
                        break None;
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    break None
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    self.stats.read_errors += 1;
                    break Some(e.to_string());
                }
            }
        };
    }

    fn ingest(&mut self, bytes: &[u8]) {
        self.stats.bytes_read += bytes.len() as u64;
        for message in self.parser.push(bytes) {
            match message {
                Message::Reading(reading) => {
                    self.readings += 1;
                    self.latest = Some(TimedReading {
                        at_ms: self.clock.now_ms(),
                        reading,
                    });
                }
                Message::Ack(command) => self.last_ack = Some(command),
                Message::WarmingUp | Message::OtherReply => {}
            }
        }
        self.stats.stream = self.parser.stats();
    }

    /// The line's health as a fault of `device`.
    fn health(&self, device: &str) -> Result<(), HwError> {
        if let Some(e) = &self.read_error {
            return Err(HwError::fault(
                device,
                format!("reading the serial line failed: {e}"),
            ));
        }
        let s = self.stats.stream;
        let frame_len = self.protocol.frame_len() as u64;
        if s.checksum_errors_since_frame >= BAD_FRAMES_FOR_FAULT
            || s.discarded_since_frame >= BAD_FRAMES_FOR_FAULT * frame_len
        {
            return Err(HwError::fault(
                device,
                format!(
                    "no valid {} frame: {} checksum errors and {} bytes discarded since the last one",
                    self.protocol, s.checksum_errors_since_frame, s.discarded_since_frame
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::air::pms5003::Pms5003Data;
    use crate::air::sds011::Sds011Data;
    use crate::SimClock;

    /// A line fed by the test through a shared queue; it records what the driver writes
    /// and can be told to fail.
    #[derive(Clone, Default)]
    struct TestLine {
        rx: Arc<Mutex<VecDeque<u8>>>,
        tx: Arc<Mutex<Vec<u8>>>,
        broken: Arc<Mutex<bool>>,
    }

    impl TestLine {
        fn feed(&self, bytes: &[u8]) {
            self.rx.lock().unwrap().extend(bytes);
        }
    }

    impl Read for TestLine {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if *self.broken.lock().unwrap() {
                return Err(std::io::Error::new(ErrorKind::BrokenPipe, "unplugged"));
            }
            let mut rx = self.rx.lock().unwrap();
            if rx.is_empty() {
                return Err(ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(rx.len());
            for (dst, src) in buf.iter_mut().zip(rx.drain(..n)) {
                *dst = src;
            }
            Ok(n)
        }
    }

    impl Write for TestLine {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.tx.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn pms(pm1: u16, pm25: u16, pm10: u16) -> [u8; 32] {
        Pms5003Data {
            pm1_0_cf1: pm1,
            pm2_5_cf1: pm25,
            pm10_cf1: pm10,
            pm1_0: pm1,
            pm2_5: pm25,
            pm10,
            counts: [900, 300, 50, 10, 2, 1],
            reserved: 0x9700,
        }
        .to_bytes()
    }

    fn read_all(views: &mut [ParticulateView]) -> Vec<Result<Option<f64>, HwError>> {
        views.iter_mut().map(|v| v.read()).collect()
    }

    #[test]
    fn views_return_each_reading_once() {
        let line = TestLine::default();
        let clock = Arc::new(SimClock::new(5_000));
        let sensor = ParticulateSensor::new(line.clone(), Protocol::Pms5003, clock.clone());
        let mut views = sensor.sensors();
        let names: Vec<_> = views.iter().map(|v| (v.name(), v.unit())).collect();
        assert_eq!(names, [("pm1", UNIT), ("pm25", UNIT), ("pm10", UNIT)]);
        assert_eq!(read_all(&mut views), [Ok(None), Ok(None), Ok(None)]);
        line.feed(&pms(7, 12, 20));
        assert_eq!(
            read_all(&mut views),
            [Ok(Some(7.0)), Ok(Some(12.0)), Ok(Some(20.0))]
        );
        assert_eq!(read_all(&mut views), [Ok(None), Ok(None), Ok(None)]);
        // Two frames between reads: the views see the newest.
        clock.set(6_000);
        line.feed(&[pms(1, 2, 3), pms(4, 5, 6)].concat());
        assert_eq!(views[2].read(), Ok(Some(6.0)));
        assert_eq!(views[0].read(), Ok(Some(4.0)));
        let latest = sensor.latest().unwrap();
        assert_eq!(latest.at_ms, 6_000);
        assert_eq!(sensor.stats().stream.frames, 3);
        assert_eq!(sensor.stats().bytes_read, 96);
    }

    #[test]
    fn sds011_has_no_pm1() {
        let line = TestLine::default();
        let sensor =
            ParticulateSensor::new(line.clone(), Protocol::Sds011, Arc::new(SimClock::new(0)));
        let mut views = sensor.sensors();
        assert_eq!(sensor_names(Protocol::Sds011), ["pm25", "pm10"]);
        assert_eq!(sensor_names(Protocol::Pms5003), ["pm1", "pm25", "pm10"]);
        line.feed(
            &Sds011Data {
                pm2_5_tenths: 153,
                pm10_tenths: 260,
                device_id: [1, 2],
            }
            .to_bytes(),
        );
        assert_eq!(read_all(&mut views), [Ok(Some(15.3)), Ok(Some(26.0))]);
    }

    #[test]
    fn out_of_range_faults_until_a_good_reading() {
        let line = TestLine::default();
        let sensor =
            ParticulateSensor::new(line.clone(), Protocol::Pms5003, Arc::new(SimClock::new(0)));
        let mut views = sensor.sensors();
        line.feed(&pms(10, 20, 1_200));
        let results = read_all(&mut views);
        assert_eq!(results[..2], [Ok(Some(10.0)), Ok(Some(20.0))]);
        let Err(HwError::Fault { device, message }) = &results[2] else {
            panic!("{results:?}");
        };
        assert_eq!(device, "pm10");
        assert!(
            message.contains("1200 ug/m3") && message.contains("PMS5003"),
            "{message}"
        );
        assert!(
            views[2].read().is_err(),
            "the fault persists while it is the newest"
        );
        line.feed(&pms(10, 20, 30));
        assert_eq!(
            read_all(&mut views),
            [Ok(Some(10.0)), Ok(Some(20.0)), Ok(Some(30.0))]
        );
    }

    #[test]
    fn garbage_faults_with_counts_and_recovers() {
        let line = TestLine::default();
        let sensor =
            ParticulateSensor::new(line.clone(), Protocol::Sds011, Arc::new(SimClock::new(0)));
        let mut views = sensor.sensors();
        // 49 bytes of garbage: just under five frames' worth.
        line.feed(&[0x55; 49]);
        assert_eq!(read_all(&mut views), [Ok(None), Ok(None)]);
        line.feed(&[0x55]);
        let err = views[0].read().unwrap_err();
        assert_eq!(
            err,
            HwError::fault(
                "pm25",
                "no valid SDS011 frame: 0 checksum errors and 50 bytes discarded since the last one"
            )
        );
        assert!(sensor.poll().is_err());
        let good = Sds011Data {
            pm2_5_tenths: 100,
            pm10_tenths: 150,
            device_id: [1, 2],
        }
        .to_bytes();
        line.feed(&good);
        assert_eq!(read_all(&mut views), [Ok(Some(10.0)), Ok(Some(15.0))]);
        assert_eq!(sensor.stats().stream.discarded_bytes, 50);
    }

    #[test]
    fn read_errors_fault_and_clear() {
        let line = TestLine::default();
        let sensor =
            ParticulateSensor::new(line.clone(), Protocol::Sds011, Arc::new(SimClock::new(0)));
        let mut views = sensor.sensors();
        *line.broken.lock().unwrap() = true;
        let err = views[1].read().unwrap_err();
        assert!(err.to_string().contains("unplugged"), "{err}");
        assert_eq!(sensor.stats().read_errors, 1);
        *line.broken.lock().unwrap() = false;
        assert_eq!(views[1].read(), Ok(None));
    }

    #[test]
    fn sends_commands_and_records_acks() {
        let line = TestLine::default();
        let sensor =
            ParticulateSensor::new(line.clone(), Protocol::Pms5003, Arc::new(SimClock::new(0)));
        sensor.send(Command::Sleep).unwrap();
        assert_eq!(
            *line.tx.lock().unwrap(),
            Protocol::Pms5003.encode(Command::Sleep)
        );
        line.feed(&[0x42, 0x4D, 0x00, 0x04, 0xE4, 0x00, 0x01, 0x77]);
        sensor.poll().unwrap();
        assert_eq!(sensor.last_ack(), Some(Command::Sleep));
        assert_eq!(sensor.protocol(), Protocol::Pms5003);
    }
}
