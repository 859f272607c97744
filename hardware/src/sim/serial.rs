//! A simulated serial line with a PMS5003 or SDS011 at the other end, speaking the real
//! wire protocol, so the simulated pole reads particulates through the real parser and
//! driver ([`crate::air::ParticulateSensor`]).
//!
//! The sensor starts awake in active mode and, while it is, sends one data frame at each
//! whole second of the clock (the first one second at most after it starts or wakes) with the concentrations of its [`ParticulateSource`] at that
//! second (none while a replayed series has not started). Frames accumulate between reads
//! like bytes in a UART receive buffer: beyond [`UART_BUFFER`] bytes the oldest are lost.
//! Commands written to the line are answered as the sensors do: mode and sleep commands
//! with an acknowledgement (PMS5003) or reply (SDS011), a query with a data frame, wake
//! (PMS5003) with nothing; while asleep only wake is heard.
//!
//! With probability `line-noise` each frame is corrupted: its checksum damaged, cut short,
//! or preceded by 1–16 garbage bytes — decided deterministically from the seed and the
//! frame's time, so the same configuration and clock always give the same bytes.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::Arc;

use super::air::ParticulateSource;
use super::{noise_rng, LINE_NOISE_SALT, REPLY_NOISE_SALT};
use crate::air::pms5003::{Pms5003Ack, Pms5003CommandFraming, Pms5003Data};
use crate::air::sds011::{Sds011CommandFraming, Sds011Data, Sds011Reply};
use crate::air::{Command, FrameParser, ParticulateReading, Protocol};
use crate::TimeSource;

/// Bytes the line holds between reads (a typical tty receive buffer).
pub const UART_BUFFER: usize = 4_096;
/// Interval between frames in active mode, ms.
const FRAME_PERIOD_MS: u64 = 1_000;
/// The device id of the simulated SDS011 (the datasheet's example).
const SDS011_ID: [u8; 2] = [0xA1, 0x60];
/// Particle counts per 0.1 L per µg/m³ of PM2.5 (above 0.3, 0.5, 1.0, 2.5, 5 and 10 µm),
/// scaled from a captured PMS5003 frame (PM2.5 5 µg/m³: 795, 249, 27, 6, 3, 3).
const COUNTS_PER_UG: [f64; 6] = [159.0, 49.8, 5.4, 1.2, 0.6, 0.6];
/// Most garbage bytes put before a frame by line noise.
const MAX_GARBAGE: usize = 16;

/// The simulated sensor and its line, as a byte port.
pub struct SimParticulateLine {
    protocol: Protocol,
    source: ParticulateSource,
    line_noise: f64,
    seed: u64,
    clock: Arc<dyn TimeSource>,
    commands: CommandParser,
    /// Bytes sent by the sensor and not read yet.
    out: VecDeque<u8>,
    active: bool,
    awake: bool,
    /// Time of the next frame in active mode, Unix ms.
    next_frame_ms: u64,
}

impl SimParticulateLine {
    /// A sensor speaking `protocol` that measures `source`, awake and in active mode from
    /// the clock's now; `line_noise` (0..=1) is the probability of corrupting a frame.
    pub fn new(
        protocol: Protocol,
        source: ParticulateSource,
        line_noise: f64,
        seed: u64,
        clock: Arc<dyn TimeSource>,
    ) -> Self {
        let next_frame_ms = next_tick(clock.now_ms());
        let commands = match protocol {
            Protocol::Pms5003 => CommandParser::Pms5003(FrameParser::new()),
            Protocol::Sds011 => CommandParser::Sds011(FrameParser::new()),
        };
        Self {
            protocol,
            source,
            line_noise,
            seed,
            clock,
            commands,
            out: VecDeque::with_capacity(UART_BUFFER),
            active: true,
            awake: true,
            next_frame_ms,
        }
    }

    /// Send the frames of active mode that are due by now (only as many as the buffer
    /// could hold).
    fn catch_up(&mut self) {
        let now = self.clock.now_ms();
        if !(self.awake && self.active) || self.next_frame_ms > now {
            return;
        }
        let due = (now - self.next_frame_ms) / FRAME_PERIOD_MS + 1;
        let fit = (UART_BUFFER / self.protocol.frame_len()) as u64;
        self.next_frame_ms += due.saturating_sub(fit) * FRAME_PERIOD_MS;
        while self.next_frame_ms <= now {
            self.send_data(self.next_frame_ms);
            self.next_frame_ms += FRAME_PERIOD_MS;
        }
    }

    /// Send a data frame measured at `at_ms`, if the source has a value then.
    fn send_data(&mut self, at_ms: u64) {
        if let Some(reading) = self.source.reading_at(at_ms) {
            let frame = encode(self.protocol, &reading);
            self.send(&frame, LINE_NOISE_SALT, at_ms);
        }
    }

    /// Put `frame` on the line, corrupted with probability `line_noise` as drawn from
    /// `(salt, key)`.
    fn send(&mut self, frame: &[u8], salt: u64, key: u64) {
        let mut rng = noise_rng(self.seed, salt, key);
        if rng.f64() >= self.line_noise {
            self.push(frame);
            return;
        }
        match rng.u8(..3) {
            0 => {
                // Both protocols carry a checksum byte just before the last byte.
                let mut damaged = frame.to_vec();
                damaged[frame.len() - 2] ^= 1 << rng.u8(..8);
                self.push(&damaged);
            }
            1 => self.push(&frame[..rng.usize(1..frame.len())]),
            _ => {
                let garbage: Vec<u8> = (0..rng.usize(1..=MAX_GARBAGE))
                    .map(|_| rng.u8(..))
                    .collect();
                self.push(&garbage);
                self.push(frame);
            }
        }
    }

    /// Append to the receive buffer, losing the oldest bytes beyond [`UART_BUFFER`].
    fn push(&mut self, bytes: &[u8]) {
        self.out.extend(bytes);
        let excess = self.out.len().saturating_sub(UART_BUFFER);
        self.out.drain(..excess);
    }

    fn apply(&mut self, command: Command) {
        let now = self.clock.now_ms();
        if !self.awake && command != Command::Wake {
            return;
        }
        match command {
            Command::Sleep => self.awake = false,
            Command::Wake => {
                self.awake = true;
                self.next_frame_ms = next_tick(now);
            }
            Command::ActiveMode => {
                self.active = true;
                self.next_frame_ms = next_tick(now);
            }
            Command::QueryMode => self.active = false,
            Command::Query => self.send_data(now),
        }
        let reply = match self.protocol {
            Protocol::Pms5003 => Pms5003Ack::after(command).map(|a| a.to_bytes().to_vec()),
            Protocol::Sds011 => {
                Sds011Reply::after(command, SDS011_ID).map(|r| r.to_bytes().to_vec())
            }
        };
        if let Some(reply) = reply {
            self.send(&reply, REPLY_NOISE_SALT, now);
        }
    }
}

impl Read for SimParticulateLine {
    /// What the sensor has sent; [`io::ErrorKind::WouldBlock`] when nothing.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.catch_up();
        if self.out.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.out.len());
        for (dst, src) in buf.iter_mut().zip(self.out.drain(..n)) {
            *dst = src;
        }
        Ok(n)
    }
}

impl Write for SimParticulateLine {
    /// Commands for the sensor; bytes that are not a command it knows are ignored.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.catch_up();
        let commands = match &mut self.commands {
            CommandParser::Pms5003(p) => p.push(buf),
            CommandParser::Sds011(p) => p.push(buf),
        };
        for command in commands {
            self.apply(command);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What the simulated sensor listens with.
enum CommandParser {
    Pms5003(FrameParser<Pms5003CommandFraming>),
    Sds011(FrameParser<Sds011CommandFraming>),
}

/// The first whole second after `ms`: when a sensor started at `ms` sends its first frame.
fn next_tick(ms: u64) -> u64 {
    (ms / FRAME_PERIOD_MS + 1).saturating_mul(FRAME_PERIOD_MS)
}

/// The data frame reporting `r`. Values are rounded to the protocol's resolution (whole
/// µg/m³ for the PMS5003, with CF=1 equal to atmospheric; tenths for the SDS011) and
/// saturate at the largest the frame can carry.
fn encode(protocol: Protocol, r: &ParticulateReading) -> Vec<u8> {
    let word = |v: f64| v.round().clamp(0.0, f64::from(u16::MAX)) as u16;
    match protocol {
        Protocol::Pms5003 => {
            let pm1_0 = word(r.pm1_0.unwrap_or(r.pm2_5));
            let (pm2_5, pm10) = (word(r.pm2_5), word(r.pm10));
            // Ambient air always has some particles: at least one microgram's worth.
            let counts = COUNTS_PER_UG.map(|c| word(c * r.pm2_5.max(1.0)));
            Pms5003Data {
                pm1_0_cf1: pm1_0,
                pm2_5_cf1: pm2_5,
                pm10_cf1: pm10,
                pm1_0,
                pm2_5,
                pm10,
                counts,
                reserved: 0x9700,
            }
            .to_bytes()
            .to_vec()
        }
        Protocol::Sds011 => Sds011Data {
            pm2_5_tenths: word(r.pm2_5 * 10.0),
            pm10_tenths: word(r.pm10 * 10.0),
            device_id: SDS011_ID,
        }
        .to_bytes()
        .to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::air::{Message, Parser};
    use crate::sim::air::{DrySeasonSpec, ParticulateSpec};
    use crate::SimClock;

    const T0: u64 = 1_799_971_200_000;

    fn line(protocol: Protocol, line_noise: f64, clock: &Arc<SimClock>) -> SimParticulateLine {
        let spec = ParticulateSpec {
            protocol,
            line_noise,
            model: DrySeasonSpec::default(),
            replay_pm25: Vec::new(),
            replay_pm10: Vec::new(),
        };
        let source = ParticulateSource::new(&spec, 101.0, 3, T0);
        SimParticulateLine::new(protocol, source, line_noise, 3, clock.clone())
    }

    fn drain(l: &mut SimParticulateLine) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut buf = [0u8; 100];
        while let Ok(n) = l.read(&mut buf) {
            bytes.extend_from_slice(&buf[..n]);
        }
        bytes
    }

    fn messages(protocol: Protocol, bytes: &[u8]) -> Vec<Message> {
        let mut p: Parser = protocol.parser();
        p.push(bytes)
    }

    #[test]
    fn one_frame_per_second_and_the_buffer_keeps_the_newest() {
        let clock = Arc::new(SimClock::new(T0 + 500));
        let mut l = line(Protocol::Pms5003, 0.0, &clock);
        assert!(drain(&mut l).is_empty());
        clock.set(T0 + 10_500);
        assert_eq!(drain(&mut l).len(), 10 * 32);
        // A day without reads: only the newest 4 KiB (128 frames) are left.
        clock.set(T0 + 86_400_000);
        let bytes = drain(&mut l);
        assert_eq!(bytes.len(), 128 * 32);
        let last = encode(
            Protocol::Pms5003,
            &l.source.reading_at(T0 + 86_400_000).unwrap(),
        );
        assert_eq!(bytes[bytes.len() - 32..], last[..]);
    }

    #[test]
    fn same_clock_same_bytes() {
        let (c1, c2) = (Arc::new(SimClock::new(T0)), Arc::new(SimClock::new(T0)));
        let (mut a, mut b) = (
            line(Protocol::Sds011, 0.3, &c1),
            line(Protocol::Sds011, 0.3, &c2),
        );
        c1.set(T0 + 60_000);
        c2.set(T0 + 60_000);
        let bytes = drain(&mut a);
        assert_eq!(bytes, drain(&mut b));
        // Noise showed: not every byte belongs to a valid frame.
        assert_ne!(bytes.len(), 60 * 10);
        let frames = messages(Protocol::Sds011, &bytes).len();
        assert!((20..60).contains(&frames), "{frames} of 60 frames intact");
    }

    #[test]
    fn answers_commands_like_the_sensor() {
        let clock = Arc::new(SimClock::new(T0));
        let mut l = line(Protocol::Sds011, 0.0, &clock);
        drain(&mut l);
        l.write_all(&Protocol::Sds011.encode(Command::QueryMode))
            .unwrap();
        clock.advance(5_000);
        assert_eq!(
            messages(Protocol::Sds011, &drain(&mut l)),
            [Message::Ack(Command::QueryMode)]
        );
        l.write_all(&Protocol::Sds011.encode(Command::Query))
            .unwrap();
        let reply = messages(Protocol::Sds011, &drain(&mut l));
        assert!(matches!(reply[..], [Message::Reading(_)]), "{reply:?}");
        l.write_all(&Protocol::Sds011.encode(Command::Sleep))
            .unwrap();
        l.write_all(&Protocol::Sds011.encode(Command::Query))
            .unwrap();
        assert_eq!(
            messages(Protocol::Sds011, &drain(&mut l)),
            [Message::Ack(Command::Sleep)]
        );
        l.write_all(&Protocol::Sds011.encode(Command::Wake))
            .unwrap();
        l.write_all(&Protocol::Sds011.encode(Command::ActiveMode))
            .unwrap();
        clock.advance(3_000);
        let after = messages(Protocol::Sds011, &drain(&mut l));
        assert_eq!(
            after[..2],
            [
                Message::Ack(Command::Wake),
                Message::Ack(Command::ActiveMode)
            ]
        );
        assert_eq!(after.len(), 2 + 3, "frames at the 3 whole seconds since");
    }

    #[test]
    fn pms5003_acknowledges_and_sleeps() {
        let clock = Arc::new(SimClock::new(T0));
        let mut l = line(Protocol::Pms5003, 0.0, &clock);
        clock.advance(2_000);
        l.write_all(&Protocol::Pms5003.encode(Command::Sleep))
            .unwrap();
        clock.advance(60_000);
        let got = messages(Protocol::Pms5003, &drain(&mut l));
        assert_eq!(
            got.len(),
            3,
            "two frames, then the acknowledgement: {got:?}"
        );
        assert_eq!(got[2], Message::Ack(Command::Sleep));
        l.write_all(&Protocol::Pms5003.encode(Command::Wake))
            .unwrap();
        assert!(drain(&mut l).is_empty(), "no acknowledgement of wake");
        clock.advance(1_000);
        assert_eq!(messages(Protocol::Pms5003, &drain(&mut l)).len(), 1);
    }

    #[test]
    fn driver_sleeps_wakes_and_queries_the_simulated_sensor() {
        use crate::air::ParticulateSensor;
        use crate::Sensor;

        let clock = Arc::new(SimClock::new(T0));
        let sensor = ParticulateSensor::new(
            line(Protocol::Sds011, 0.0, &clock),
            Protocol::Sds011,
            clock.clone(),
        );
        let mut pm25 = sensor.sensors().remove(0);
        clock.advance(3_000);
        assert!(pm25.read().unwrap().is_some());
        sensor.send(Command::Sleep).unwrap();
        sensor.poll().unwrap();
        assert_eq!(sensor.last_ack(), Some(Command::Sleep));
        clock.advance(60_000);
        assert_eq!(pm25.read(), Ok(None), "asleep: no frames");
        sensor.send(Command::Wake).unwrap();
        sensor.send(Command::QueryMode).unwrap();
        clock.advance(10_000);
        assert_eq!(pm25.read(), Ok(None), "query mode: no frames until asked");
        assert_eq!(sensor.last_ack(), Some(Command::QueryMode));
        sensor.send(Command::Query).unwrap();
        assert!(pm25.read().unwrap().is_some());
        assert_eq!(sensor.latest().map(|r| r.at_ms), Some(clock.now_ms()));
        assert_eq!(sensor.stats().stream.checksum_errors, 0);
    }
}
