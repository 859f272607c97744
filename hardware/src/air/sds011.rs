//! Nova Fitness SDS011 serial protocol (9600 8N1; the SDS018 and SDS021 use the same
//! frames), after Nova's "Laser Dust Sensor Control Protocol" V1.3.
//!
//! Sensor → host frames are 10 bytes: `AA kind d1 d2 d3 d4 d5 d6 CHK AB`, where `CHK` is the
//! low byte of the sum of `d1..=d6`.
//!
//! * Data (`kind` `C0`): PM2.5 and PM10 as little-endian tenths of µg/m³, then the two
//!   device-id bytes.
//! * Reply (`kind` `C5`): `d1` is the command answered, `d2..=d4` its data, `d5 d6` the
//!   device id. For the reporting mode (`02`) and sleep/work (`06`) commands, `d2` tells a
//!   query (0) from a set (1) and `d3` the state: active (0) or query (1) reporting; sleep
//!   (0) or work (1).
//!
//! Host → sensor commands are 19 bytes: `AA B4 d1..=d15 CHK AB`, `CHK` the low byte of the
//! sum of `d1..=d15`; `d14 d15` address one device, `FF FF` every device. A query for data
//! (`04`) is answered with a data frame.

use super::protocol::{Command, Message, ParticulateReading};
use super::stream::{Check, FrameParser, Framing};

/// Length of a sensor → host frame, in bytes.
pub const FRAME_LEN: usize = 10;
/// Length of a host → sensor command, in bytes.
pub const COMMAND_LEN: usize = 19;

const HEAD: u8 = 0xAA;
const TAIL: u8 = 0xAB;
const KIND_DATA: u8 = 0xC0;
const KIND_REPLY: u8 = 0xC5;
const KIND_COMMAND: u8 = 0xB4;
const CMD_REPORTING_MODE: u8 = 0x02;
const CMD_QUERY: u8 = 0x04;
const CMD_SLEEP_WORK: u8 = 0x06;
const SET: u8 = 1;
/// Device id addressing every sensor on the line.
const ALL_DEVICES: [u8; 2] = [0xFF, 0xFF];

/// An SDS011 data frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sds011Data {
    /// PM2.5 in tenths of µg/m³.
    pub pm2_5_tenths: u16,
    /// PM10 in tenths of µg/m³.
    pub pm10_tenths: u16,
    /// Device id bytes, as sent (the datasheet writes bytes `A1 60` as id "A160").
    pub device_id: [u8; 2],
}

impl Sds011Data {
    /// The concentrations in µg/m³.
    pub fn reading(&self) -> ParticulateReading {
        ParticulateReading {
            pm1_0: None,
            pm2_5: f64::from(self.pm2_5_tenths) / 10.0,
            pm10: f64::from(self.pm10_tenths) / 10.0,
        }
    }

    /// The frame on the wire.
    pub fn to_bytes(&self) -> [u8; FRAME_LEN] {
        let [a, b] = self.pm2_5_tenths.to_le_bytes();
        let [c, d] = self.pm10_tenths.to_le_bytes();
        let [e, f] = self.device_id;
        seal_frame(KIND_DATA, [a, b, c, d, e, f])
    }
}

/// A reply to a command: the command byte, its data bytes and the device id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sds011Reply {
    /// The command answered (`d1`).
    pub command: u8,
    /// Its data bytes (`d2..=d4`).
    pub data: [u8; 3],
    /// Device id bytes (`d5 d6`).
    pub device_id: [u8; 2],
}

impl Sds011Reply {
    /// The reply the sensor `device_id` sends after `command`, if it sends one (a query
    /// for data is answered with a data frame instead).
    pub fn after(command: Command, device_id: [u8; 2]) -> Option<Self> {
        let (cmd, [set, state]) = command_bytes(command);
        (cmd != CMD_QUERY).then_some(Self {
            command: cmd,
            data: [set, state, 0],
            device_id,
        })
    }

    /// The state the sensor confirms (whether set or queried), if this driver knows the
    /// command.
    pub fn confirms(&self) -> Option<Command> {
        match self.command {
            CMD_REPORTING_MODE | CMD_SLEEP_WORK => decode_command(self.command, SET, self.data[1]),
            _ => None,
        }
    }

    /// The frame on the wire.
    pub fn to_bytes(&self) -> [u8; FRAME_LEN] {
        let [a, b, c] = self.data;
        let [e, f] = self.device_id;
        seal_frame(KIND_REPLY, [self.command, a, b, c, e, f])
    }
}

/// A frame from the sensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sds011Frame {
    /// A measurement.
    Data(Sds011Data),
    /// A reply to a command.
    Reply(Sds011Reply),
}

impl From<Sds011Frame> for Message {
    fn from(frame: Sds011Frame) -> Self {
        match frame {
            Sds011Frame::Data(d) => Message::Reading(d.reading()),
            Sds011Frame::Reply(r) => r.confirms().map_or(Message::OtherReply, Message::Ack),
        }
    }
}

/// The sensor → host wire format.
#[derive(Debug, Clone, Copy)]
pub struct Sds011Framing;

impl Framing for Sds011Framing {
    type Frame = Sds011Frame;
    const START: u8 = HEAD;
    const MAX_LEN: usize = FRAME_LEN;

    fn check(buf: &[u8]) -> Check<Sds011Frame> {
        let kind = match buf.get(1) {
            Some(&k) if k == KIND_DATA || k == KIND_REPLY => k,
            Some(_) => return Check::NotAFrame,
            None => return Check::Incomplete,
        };
        let Some(&[_, _, d1, d2, d3, d4, d5, d6, sum, tail]) = buf.get(..FRAME_LEN) else {
            return Check::Incomplete;
        };
        if tail != TAIL {
            return Check::NotAFrame;
        }
        if sum8(&[d1, d2, d3, d4, d5, d6]) != sum {
            return Check::BadChecksum;
        }
        let frame = if kind == KIND_DATA {
            Sds011Frame::Data(Sds011Data {
                pm2_5_tenths: u16::from_le_bytes([d1, d2]),
                pm10_tenths: u16::from_le_bytes([d3, d4]),
                device_id: [d5, d6],
            })
        } else {
            Sds011Frame::Reply(Sds011Reply {
                command: d1,
                data: [d2, d3, d4],
                device_id: [d5, d6],
            })
        };
        Check::Frame {
            frame,
            len: FRAME_LEN,
        }
    }
}

/// A streaming parser for the sensor's output.
pub type Sds011Parser = FrameParser<Sds011Framing>;

/// The host → sensor wire format (what a simulated sensor listens for). Commands this
/// driver does not know, and queries of a state (`d2` = 0), are skipped like garbage.
#[derive(Debug, Clone, Copy)]
pub struct Sds011CommandFraming;

impl Framing for Sds011CommandFraming {
    type Frame = Command;
    const START: u8 = HEAD;
    const MAX_LEN: usize = COMMAND_LEN;

    fn check(buf: &[u8]) -> Check<Command> {
        if buf.get(1).is_some_and(|&b| b != KIND_COMMAND) {
            return Check::NotAFrame;
        }
        let Some(frame) = buf.get(..COMMAND_LEN) else {
            return Check::Incomplete;
        };
        if frame[COMMAND_LEN - 1] != TAIL {
            return Check::NotAFrame;
        }
        if sum8(&frame[2..COMMAND_LEN - 2]) != frame[COMMAND_LEN - 2] {
            return Check::BadChecksum;
        }
        match decode_command(frame[2], frame[3], frame[4]) {
            Some(command) => Check::Frame {
                frame: command,
                len: COMMAND_LEN,
            },
            None => Check::NotAFrame,
        }
    }
}

/// The 19 bytes of `command`, addressed to every sensor on the line.
pub fn encode_command(command: Command) -> [u8; COMMAND_LEN] {
    let (cmd, [set, state]) = command_bytes(command);
    let mut frame = [0u8; COMMAND_LEN];
    frame[..5].copy_from_slice(&[HEAD, KIND_COMMAND, cmd, set, state]);
    frame[15..17].copy_from_slice(&ALL_DEVICES);
    frame[17] = sum8(&frame[2..17]);
    frame[18] = TAIL;
    frame
}

/// `d1` and `d2 d3` of `command`.
fn command_bytes(command: Command) -> (u8, [u8; 2]) {
    match command {
        Command::ActiveMode => (CMD_REPORTING_MODE, [SET, 0]),
        Command::QueryMode => (CMD_REPORTING_MODE, [SET, 1]),
        Command::Query => (CMD_QUERY, [0, 0]),
        Command::Sleep => (CMD_SLEEP_WORK, [SET, 0]),
        Command::Wake => (CMD_SLEEP_WORK, [SET, 1]),
    }
}

/// The command with bytes `d1 d2 d3`, if this driver knows it (`d2 d3` do not matter for a
/// query for data).
fn decode_command(cmd: u8, set: u8, state: u8) -> Option<Command> {
    match (cmd, set, state) {
        (CMD_QUERY, _, _) => Some(Command::Query),
        (CMD_REPORTING_MODE, SET, 0) => Some(Command::ActiveMode),
        (CMD_REPORTING_MODE, SET, 1) => Some(Command::QueryMode),
        (CMD_SLEEP_WORK, SET, 0) => Some(Command::Sleep),
        (CMD_SLEEP_WORK, SET, 1) => Some(Command::Wake),
        _ => None,
    }
}

fn sum8(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b))
}

fn seal_frame(kind: u8, data: [u8; 6]) -> [u8; FRAME_LEN] {
    let [a, b, c, d, e, f] = data;
    [HEAD, kind, a, b, c, d, e, f, sum8(&data), TAIL]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(hex: &str) -> Vec<u8> {
        hex::decode(hex.replace(' ', "")).unwrap()
    }

    fn readings(frames: Vec<Sds011Frame>) -> Vec<(f64, f64)> {
        frames
            .into_iter()
            .map(|f| match Message::from(f) {
                Message::Reading(r) => (r.pm2_5, r.pm10),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    /// Captured by PyPMS (github.com/avaldebe/PyPMS), tests/captured_data/SDS01x.hexdump,
    /// first two frames.
    const PYPMS: &str = "aa c0 06 00 06 00 58 d9 3d ab aa c0 09 00 09 00 58 d9 43 ab";
    /// Posted in esphome/issues#4572 (it motivated reducing the sum modulo 256).
    const ESPHOME: &str = "AA C0 2C 00 37 00 7E 23 04 AB";

    #[test]
    fn decodes_captured_frames() {
        let mut p = Sds011Parser::new();
        let frames = p.push(&bytes(PYPMS));
        assert_eq!(
            frames[0],
            Sds011Frame::Data(Sds011Data {
                pm2_5_tenths: 6,
                pm10_tenths: 6,
                device_id: [0x58, 0xD9],
            })
        );
        assert_eq!(readings(frames), [(0.6, 0.6), (0.9, 0.9)]);
        // The sum of this frame's data bytes (0x104) overflows a byte.
        assert_eq!(readings(p.push(&bytes(ESPHOME))), [(4.4, 5.5)]);
        let s = p.stats();
        assert_eq!((s.frames, s.checksum_errors, s.discarded_bytes), (3, 0, 0));
    }

    #[test]
    fn decodes_datasheet_replies() {
        // Laser Dust Sensor Control Protocol V1.3, examples for the sensor with id A160:
        // set to sleep, set to work, query working mode (answer: working), set query mode.
        let mut p = Sds011Parser::new();
        let frames = p.push(&bytes(
            "AA C5 06 01 00 00 A1 60 08 AB AA C5 06 01 01 00 A1 60 09 AB \
             AA C5 06 00 01 00 A1 60 08 AB AA C5 02 01 01 00 A1 60 05 AB",
        ));
        let messages: Vec<Message> = frames.iter().copied().map(Message::from).collect();
        assert_eq!(
            messages,
            [
                Message::Ack(Command::Sleep),
                Message::Ack(Command::Wake),
                Message::Ack(Command::Wake),
                Message::Ack(Command::QueryMode)
            ]
        );
        let id = [0xA1, 0x60];
        assert_eq!(
            Sds011Frame::Reply(Sds011Reply::after(Command::Sleep, id).unwrap()),
            frames[0]
        );
        assert_eq!(
            Sds011Reply::after(Command::QueryMode, id)
                .unwrap()
                .to_bytes(),
            bytes("AA C5 02 01 01 00 A1 60 05 AB")[..]
        );
        assert_eq!(Sds011Reply::after(Command::Query, id), None);
        // A firmware-version reply (command 07) is valid but not interpreted.
        let firmware = Sds011Reply {
            command: 0x07,
            data: [15, 7, 10],
            device_id: id,
        };
        assert_eq!(p.push(&firmware.to_bytes()).len(), 1);
        assert_eq!(
            Message::from(Sds011Frame::Reply(firmware)),
            Message::OtherReply
        );
    }

    #[test]
    fn bad_checksum_bad_tail_and_garbage() {
        let good = bytes(ESPHOME);
        let mut bad_sum = good.clone();
        bad_sum[8] ^= 0x10;
        let mut bad_tail = good.clone();
        bad_tail[9] = 0xAA;
        let stream = [
            &bad_sum[..],
            &[0x01, 0xAA, 0x02][..],
            &bad_tail[..],
            &good[..5],
            &good[..],
        ]
        .concat();
        let mut p = Sds011Parser::new();
        let frames = p.push(&stream);
        assert_eq!(readings(frames), [(4.4, 5.5)]);
        let s = p.stats();
        assert_eq!(s.checksum_errors, 1);
        assert_eq!(s.discarded_bytes, (stream.len() - FRAME_LEN) as u64);
        assert_eq!(p.buffered(), 0);
    }

    #[test]
    fn frames_split_byte_by_byte() {
        let stream = bytes(&format!("{PYPMS} 00 ff {ESPHOME}"));
        let mut p = Sds011Parser::new();
        let mut frames = Vec::new();
        for b in &stream {
            frames.extend(p.push(std::slice::from_ref(b)));
        }
        assert_eq!(readings(frames), [(0.6, 0.6), (0.9, 0.9), (4.4, 5.5)]);
        assert_eq!(p.stats().discarded_bytes, 2);
    }

    #[test]
    fn encodes_commands_as_in_the_datasheet() {
        let cases = [
            (
                Command::Sleep,
                "AA B4 06 01 00 00 00 00 00 00 00 00 00 00 00 FF FF 05 AB",
            ),
            (
                Command::Wake,
                "AA B4 06 01 01 00 00 00 00 00 00 00 00 00 00 FF FF 06 AB",
            ),
            (
                Command::Query,
                "AA B4 04 00 00 00 00 00 00 00 00 00 00 00 00 FF FF 02 AB",
            ),
            (
                Command::ActiveMode,
                "AA B4 02 01 00 00 00 00 00 00 00 00 00 00 00 FF FF 01 AB",
            ),
            (
                Command::QueryMode,
                "AA B4 02 01 01 00 00 00 00 00 00 00 00 00 00 FF FF 02 AB",
            ),
        ];
        let mut commands = FrameParser::<Sds011CommandFraming>::new();
        for (command, wire) in cases {
            assert_eq!(encode_command(command).to_vec(), bytes(wire), "{command:?}");
            assert_eq!(commands.push(&bytes(wire)), [command]);
        }
        // The datasheet's "query working mode" (d2 = 0) is not a command this driver sends.
        let query_state = "AA B4 06 00 00 00 00 00 00 00 00 00 00 00 00 A1 60 07 AB";
        assert!(commands.push(&bytes(query_state)).is_empty());
        assert_eq!(commands.stats().checksum_errors, 0);
    }
}
