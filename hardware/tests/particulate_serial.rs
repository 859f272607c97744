//! The particulate driver over the real serial code path: `open_serial` opens the slave end
//! of a pseudo-terminal through the `serialport` crate (termios 9600 8N1, as on a Pi UART
//! or a USB adapter) and the test plays the sensor on the master end.

#![cfg(unix)]

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use serialport::{SerialPort, TTYPort};

use sao_hardware::air::pms5003::Pms5003Data;
use sao_hardware::air::port::REOPEN_INTERVAL_MS;
use sao_hardware::air::sds011::Sds011Data;
use sao_hardware::air::{open_serial, Command, ParticulateSensor, Protocol};
use sao_hardware::{HwError, Sensor, SimClock};

/// Most polls to wait for bytes written to the master end to reach the driver.
const MAX_POLLS: usize = 1_000;

/// The sensor's end of the line (the pty master), with the slave kept open so the pty
/// lives as long as the test needs it.
struct FakeSensor {
    master: TTYPort,
    _slave: TTYPort,
    path: PathBuf,
    written: u64,
}

impl FakeSensor {
    fn new() -> Self {
        let (master, slave) = TTYPort::pair().expect("pseudo-terminal");
        let path = PathBuf::from(slave.name().expect("pty slave has a path"));
        Self {
            master,
            _slave: slave,
            path,
            written: 0,
        }
    }

    fn open(&self, protocol: Protocol, clock: &Arc<SimClock>) -> ParticulateSensor {
        open_serial(&self.path, protocol, clock.clone())
    }

    /// Send `bytes` and wait until the driver has read all that was sent so far.
    fn send(&mut self, sensor: &ParticulateSensor, bytes: &[u8]) {
        self.master.write_all(bytes).unwrap();
        self.written += bytes.len() as u64;
        for _ in 0..MAX_POLLS {
            // Health errors are what some tests expect; they do not stop the draining.
            let _ = sensor.poll();
            if sensor.stats().bytes_read == self.written {
                return;
            }
        }
        panic!(
            "driver read {} of {} bytes",
            sensor.stats().bytes_read,
            self.written
        );
    }

    /// Read exactly `n` bytes the driver wrote to the sensor.
    fn received(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; n];
        self.master.read_exact(&mut buf).unwrap();
        buf
    }
}

fn bytes(hex: &str) -> Vec<u8> {
    hex::decode(hex.replace(' ', "")).unwrap()
}

/// PyPMS (github.com/avaldebe/PyPMS) tests/captured_data/PMSx003.hexdump, frames 1 and 10.
const PMS_PYPMS_1: &str = "42 4d 00 1c 00 00 00 08 00 08 00 00 00 08 00 08 \
                           00 d2 00 46 00 2d 00 1e 00 00 00 00 97 00 02 c5";
const PMS_PYPMS_10: &str = "42 4d 00 1c 00 00 00 05 00 05 00 00 00 05 00 05 \
                            00 8a 00 2e 00 17 00 0f 00 00 00 00 97 00 02 34";
/// The answer to a passive read in the README of github.com/luhuadong/rtt-pmsxx.
const PMS_RTT: &str = "42 4d 00 1c 00 03 00 04 00 07 00 04 00 05 00 08 \
                       03 1b 00 f9 00 1b 00 06 00 03 00 03 9a 00 02 a2";

fn read_views(views: &mut [impl Sensor]) -> Vec<Result<Option<f64>, HwError>> {
    views.iter_mut().map(|v| v.read()).collect()
}

#[test]
fn pms5003_frames_through_a_pty() {
    let clock = Arc::new(SimClock::new(1_000));
    let mut sensor_end = FakeSensor::new();
    let sensor = sensor_end.open(Protocol::Pms5003, &clock);
    let mut views = sensor.sensors();
    assert_eq!(read_views(&mut views), [Ok(None), Ok(None), Ok(None)]);

    // A frame split across writes, with line garbage and a truncated frame before it.
    let first = bytes(PMS_PYPMS_1);
    sensor_end.send(&sensor, &[0x00, 0xFF, 0x42]);
    sensor_end.send(&sensor, &bytes(PMS_RTT)[..17]);
    sensor_end.send(&sensor, &first[..5]);
    sensor_end.send(&sensor, &first[5..]);
    assert_eq!(
        read_views(&mut views),
        [Ok(Some(0.0)), Ok(Some(8.0)), Ok(Some(8.0))]
    );
    assert_eq!(read_views(&mut views), [Ok(None), Ok(None), Ok(None)]);

    clock.set(2_000);
    sensor_end.send(&sensor, &[bytes(PMS_RTT), bytes(PMS_PYPMS_10)].concat());
    assert_eq!(
        read_views(&mut views),
        [Ok(Some(0.0)), Ok(Some(5.0)), Ok(Some(5.0))],
        "the newest of two frames"
    );
    assert_eq!(sensor.latest().unwrap().at_ms, 2_000);
    let stats = sensor.stats();
    assert_eq!(stats.stream.frames, 3);
    assert_eq!(stats.stream.discarded_bytes, 3 + 17);
    assert_eq!(stats.bytes_read, 3 + 17 + 32 * 3);
}

#[test]
fn sds011_commands_and_replies_through_a_pty() {
    let clock = Arc::new(SimClock::new(0));
    let mut sensor_end = FakeSensor::new();
    let sensor = sensor_end.open(Protocol::Sds011, &clock);
    let mut views = sensor.sensors();

    sensor.send(Command::QueryMode).unwrap();
    assert_eq!(
        sensor_end.received(19),
        bytes("AA B4 02 01 01 00 00 00 00 00 00 00 00 00 00 FF FF 02 AB")
    );
    // The datasheet's reply of sensor A160 to "set query mode".
    sensor_end.send(&sensor, &bytes("AA C5 02 01 01 00 A1 60 05 AB"));
    assert_eq!(sensor.last_ack(), Some(Command::QueryMode));

    sensor.send(Command::Query).unwrap();
    assert_eq!(
        sensor_end.received(19),
        bytes("AA B4 04 00 00 00 00 00 00 00 00 00 00 00 00 FF FF 02 AB")
    );
    // The frame posted in esphome/issues#4572.
    sensor_end.send(&sensor, &bytes("AA C0 2C 00 37 00 7E 23 04 AB"));
    assert_eq!(read_views(&mut views), [Ok(Some(4.4)), Ok(Some(5.5))]);

    sensor.send(Command::Sleep).unwrap();
    assert_eq!(
        sensor_end.received(19),
        bytes("AA B4 06 01 00 00 00 00 00 00 00 00 00 00 00 FF FF 05 AB")
    );
    sensor_end.send(&sensor, &bytes("AA C5 06 01 00 00 A1 60 08 AB"));
    assert_eq!(sensor.last_ack(), Some(Command::Sleep));
    assert_eq!(read_views(&mut views), [Ok(None), Ok(None)]);
}

#[test]
fn out_of_range_and_garbage_fault_then_recover() {
    let clock = Arc::new(SimClock::new(0));
    let mut sensor_end = FakeSensor::new();
    let sensor = sensor_end.open(Protocol::Pms5003, &clock);
    let mut views = sensor.sensors();
    let frame = |pm2_5: u16| {
        Pms5003Data {
            pm1_0_cf1: 10,
            pm2_5_cf1: pm2_5,
            pm10_cf1: 30,
            pm1_0: 10,
            pm2_5,
            pm10: 30,
            counts: [2_000, 600, 60, 12, 3, 1],
            reserved: 0x9700,
        }
        .to_bytes()
    };

    // PM2.5 beyond the PMS5003's 1000 µg/m³: only the pm25 view faults.
    sensor_end.send(&sensor, &frame(4_000));
    let results = read_views(&mut views);
    assert_eq!(results[0], Ok(Some(10.0)));
    assert_eq!(
        results[1],
        Err(HwError::fault(
            "pm25",
            "reading 4000 ug/m3 is outside the PMS5003's range 0..=1000 ug/m3"
        ))
    );
    assert_eq!(results[2], Ok(Some(30.0)));
    sensor_end.send(&sensor, &frame(25));
    assert_eq!(read_views(&mut views)[1], Ok(Some(25.0)));

    // Five frames with damaged checksums, then ASCII noise: every view faults with counts.
    for _ in 0..5 {
        let mut bad = bytes(PMS_PYPMS_1);
        bad[31] ^= 0x40;
        sensor_end.send(&sensor, &bad);
    }
    sensor_end.send(&sensor, b"AT+RST\r\n");
    let expected = HwError::fault(
        "pm10",
        "no valid PMS5003 frame: 5 checksum errors and 168 bytes discarded since the last one",
    );
    assert_eq!(views[2].read(), Err(expected));
    assert!(read_views(&mut views).iter().all(Result::is_err));

    sensor_end.send(&sensor, &bytes(PMS_PYPMS_10));
    assert_eq!(
        read_views(&mut views),
        [Ok(Some(0.0)), Ok(Some(5.0)), Ok(Some(5.0))]
    );
    let stats = sensor.stats().stream;
    assert_eq!((stats.frames, stats.checksum_errors), (3, 5));
}

#[test]
fn a_vanished_port_is_a_fault() {
    let clock = Arc::new(SimClock::new(0));
    let sensor_end = FakeSensor::new();
    let sensor = sensor_end.open(Protocol::Sds011, &clock);
    let mut pm25 = sensor.sensors().remove(0);
    assert_eq!(pm25.read(), Ok(None));
    // The sensor end hangs up, as when a USB adapter is unplugged.
    drop(sensor_end);
    let err = pm25.read().unwrap_err();
    let HwError::Fault { device, message } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(device, "pm25");
    assert!(
        message.starts_with("reading the serial line failed"),
        "{message}"
    );
    assert_eq!(sensor.stats().read_errors, 1);
}

/// A readable fault message of `read`.
fn fault(read: Result<Option<f64>, HwError>) -> String {
    match read {
        Err(HwError::Fault { message, .. }) => message,
        other => panic!("expected a fault, got {other:?}"),
    }
}

#[test]
fn a_missing_port_is_a_fault_until_it_appears_then_a_replugged_one_is_reopened() {
    let clock = Arc::new(SimClock::new(0));
    let dir = tempfile::tempdir().unwrap();
    // The port's stable name, as udev gives a USB adapter (/dev/serial/by-id/...).
    let link = dir.path().join("ttyUSB-sds011");
    let sensor = open_serial(&link, Protocol::Sds011, clock.clone());
    let mut pm25 = sensor.sensors().remove(0);
    let message = fault(pm25.read());
    assert!(
        message.contains("cannot open") && message.contains("ttyUSB-sds011"),
        "{message}"
    );

    // The adapter is plugged in; the driver tries again after the reopen interval.
    let mut first = FakeSensor::new();
    std::os::unix::fs::symlink(&first.path, &link).unwrap();
    assert!(pm25.read().is_err(), "not retried before the interval");
    clock.advance(REOPEN_INTERVAL_MS);
    let frame = Sds011Data {
        pm2_5_tenths: 123,
        pm10_tenths: 456,
        device_id: [1, 2],
    };
    assert_eq!(pm25.read(), Ok(None), "opened, nothing sent yet");
    first.send(&sensor, &frame.to_bytes());
    assert_eq!(pm25.read(), Ok(Some(12.3)));

    // Unplugged: the read fails and the port is closed...
    drop(first);
    assert!(fault(pm25.read()).contains("failed"));
    // ...and plugged back in, under a new device node.
    let mut second = FakeSensor::new();
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(&second.path, &link).unwrap();
    clock.advance(REOPEN_INTERVAL_MS);
    assert_eq!(pm25.read(), Ok(None));
    second.written = sensor.stats().bytes_read;
    second.send(
        &sensor,
        &Sds011Data {
            pm2_5_tenths: 250,
            ..frame
        }
        .to_bytes(),
    );
    assert_eq!(pm25.read(), Ok(Some(25.0)));
    assert!(sensor.stats().read_errors >= 2);
}
