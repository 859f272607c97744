//! Plantower PMS5003 serial protocol (9600 8N1; the PMS1003, PMS7003 and PMSA003 use the
//! same frames).
//!
//! Sensor → host frames start `42 4D` ("BM"), then a big-endian length word counting the
//! bytes after it, then big-endian data words, then a 16-bit checksum: the sum of every
//! preceding byte.
//!
//! * Data frame (32 bytes, length 28): 13 words — PM1.0, PM2.5, PM10 "CF=1", PM1.0, PM2.5,
//!   PM10 "under atmospheric environment" (µg/m³), particle counts above 0.3, 0.5, 1.0, 2.5,
//!   5.0 and 10 µm per 0.1 L of air, and a reserved word.
//! * Command acknowledgement (8 bytes, length 4): `42 4D 00 04 cmd data chkH chkL`, sent
//!   after a mode or sleep command (the Linux kernel's `pms7003` driver expects
//!   `42 4D 00 04 E4 00 01 77` after sleep; wake and passive read answer with a data frame).
//!
//! Host → sensor commands are 7 bytes: `42 4D cmd dataH dataL lrcH lrcL`, with the same
//! 16-bit sum: `E1` sets passive (data 0) or active (data 1) mode, `E2` reads one frame in
//! passive mode, `E4` sleeps (data 0) or wakes (data 1).
//!
//! [`Pms5003Data::reading`] reports the *atmospheric* values. The datasheet defines the
//! CF=1 values for the factory's calibration particulate and tells users to take the
//! "under atmospheric environment" values for ambient air; the two agree at low
//! concentrations and the CF=1 values read higher as concentrations rise.

use super::protocol::{Command, Message, ParticulateReading};
use super::stream::{Check, FrameParser, Framing};

/// Length of a data frame, in bytes.
pub const FRAME_LEN: usize = 32;
/// Length of a command acknowledgement, in bytes.
pub const ACK_LEN: usize = 8;
/// Length of a host → sensor command, in bytes.
pub const COMMAND_LEN: usize = 7;

const HEADER: [u8; 2] = [0x42, 0x4D];
/// Bytes before the length word's count starts (header and length word).
const PREFIX_LEN: usize = 4;
const CMD_MODE: u8 = 0xE1;
const CMD_READ: u8 = 0xE2;
const CMD_SLEEP: u8 = 0xE4;

/// A PMS5003 data frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pms5003Data {
    /// PM1.0 at "CF=1" (factory calibration particulate), µg/m³.
    pub pm1_0_cf1: u16,
    /// PM2.5 at "CF=1", µg/m³.
    pub pm2_5_cf1: u16,
    /// PM10 at "CF=1", µg/m³.
    pub pm10_cf1: u16,
    /// PM1.0 under atmospheric environment, µg/m³.
    pub pm1_0: u16,
    /// PM2.5 under atmospheric environment, µg/m³.
    pub pm2_5: u16,
    /// PM10 under atmospheric environment, µg/m³.
    pub pm10: u16,
    /// Particles above 0.3, 0.5, 1.0, 2.5, 5.0 and 10 µm in 0.1 L of air.
    pub counts: [u16; 6],
    /// The reserved word (PMS7003 firmware puts a version and an error code there).
    pub reserved: u16,
}

impl Pms5003Data {
    /// The atmospheric concentrations (see the module docs for why not CF=1).
    pub fn reading(&self) -> ParticulateReading {
        ParticulateReading {
            pm1_0: Some(f64::from(self.pm1_0)),
            pm2_5: f64::from(self.pm2_5),
            pm10: f64::from(self.pm10),
        }
    }

    /// Whether every concentration and count is zero: what the sensor sends while its fan
    /// spins up after power-on or wake (PyPMS treats such frames as "warming up"; ambient
    /// air always has particles above 0.3 µm).
    pub fn is_warming_up(&self) -> bool {
        self.words()[..12].iter().all(|&w| w == 0)
    }

    /// The frame on the wire.
    pub fn to_bytes(&self) -> [u8; FRAME_LEN] {
        let mut frame = [0u8; FRAME_LEN];
        frame[..PREFIX_LEN].copy_from_slice(&prefix(FRAME_LEN));
        for (i, word) in self.words().iter().enumerate() {
            let at = PREFIX_LEN + 2 * i;
            frame[at..at + 2].copy_from_slice(&word.to_be_bytes());
        }
        seal(frame)
    }

    fn words(&self) -> [u16; 13] {
        let c = self.counts;
        [
            self.pm1_0_cf1,
            self.pm2_5_cf1,
            self.pm10_cf1,
            self.pm1_0,
            self.pm2_5,
            self.pm10,
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            c[5],
            self.reserved,
        ]
    }

    fn from_frame(frame: &[u8]) -> Self {
        let word = |i: usize| {
            u16::from_be_bytes([frame[PREFIX_LEN + 2 * i], frame[PREFIX_LEN + 2 * i + 1]])
        };
        Self {
            pm1_0_cf1: word(0),
            pm2_5_cf1: word(1),
            pm10_cf1: word(2),
            pm1_0: word(3),
            pm2_5: word(4),
            pm10: word(5),
            counts: [word(6), word(7), word(8), word(9), word(10), word(11)],
            reserved: word(12),
        }
    }
}

/// A command acknowledgement: the command byte and its low data byte, echoed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pms5003Ack {
    /// The command acknowledged (`E1` mode, `E4` sleep).
    pub command: u8,
    /// Its data byte.
    pub data: u8,
}

impl Pms5003Ack {
    /// The acknowledgement the sensor sends after `command`, if it sends one (wake and
    /// read answer with a data frame instead).
    pub fn after(command: Command) -> Option<Self> {
        match command {
            Command::Sleep | Command::ActiveMode | Command::QueryMode => {
                let [_, _, command, _, data, _, _] = encode_command(command);
                Some(Self { command, data })
            }
            Command::Wake | Command::Query => None,
        }
    }

    /// The state the sensor confirms, if this driver knows the command.
    pub fn confirms(&self) -> Option<Command> {
        decode_command(self.command, self.data)
    }

    /// The frame on the wire.
    pub fn to_bytes(&self) -> [u8; ACK_LEN] {
        let mut frame = [0u8; ACK_LEN];
        frame[..PREFIX_LEN].copy_from_slice(&prefix(ACK_LEN));
        frame[4] = self.command;
        frame[5] = self.data;
        seal(frame)
    }
}

/// A frame from the sensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pms5003Frame {
    /// A measurement.
    Data(Pms5003Data),
    /// A command acknowledgement.
    Ack(Pms5003Ack),
}

impl From<Pms5003Frame> for Message {
    fn from(frame: Pms5003Frame) -> Self {
        match frame {
            Pms5003Frame::Data(d) if d.is_warming_up() => Message::WarmingUp,
            Pms5003Frame::Data(d) => Message::Reading(d.reading()),
            Pms5003Frame::Ack(a) => a.confirms().map_or(Message::OtherReply, Message::Ack),
        }
    }
}

/// The sensor → host wire format.
#[derive(Debug, Clone, Copy)]
pub struct Pms5003Framing;

impl Framing for Pms5003Framing {
    type Frame = Pms5003Frame;
    const START: u8 = HEADER[0];
    const MAX_LEN: usize = FRAME_LEN;

    fn check(buf: &[u8]) -> Check<Pms5003Frame> {
        if buf.get(1).is_some_and(|&b| b != HEADER[1]) {
            return Check::NotAFrame;
        }
        let Some(&[hi, lo]) = buf.get(2..PREFIX_LEN) else {
            return Check::Incomplete;
        };
        let len = usize::from(u16::from_be_bytes([hi, lo])) + PREFIX_LEN;
        if len != FRAME_LEN && len != ACK_LEN {
            return Check::NotAFrame;
        }
        let Some(frame) = buf.get(..len) else {
            return Check::Incomplete;
        };
        if !checksum_ok(frame) {
            return Check::BadChecksum;
        }
        let frame = if len == FRAME_LEN {
            Pms5003Frame::Data(Pms5003Data::from_frame(frame))
        } else {
            Pms5003Frame::Ack(Pms5003Ack {
                command: frame[4],
                data: frame[5],
            })
        };
        Check::Frame { frame, len }
    }
}

/// A streaming parser for the sensor's output.
pub type Pms5003Parser = FrameParser<Pms5003Framing>;

/// The host → sensor wire format (what a simulated sensor listens for). Commands this
/// driver does not know are skipped like garbage.
#[derive(Debug, Clone, Copy)]
pub struct Pms5003CommandFraming;

impl Framing for Pms5003CommandFraming {
    type Frame = Command;
    const START: u8 = HEADER[0];
    const MAX_LEN: usize = COMMAND_LEN;

    fn check(buf: &[u8]) -> Check<Command> {
        if buf.get(1).is_some_and(|&b| b != HEADER[1]) {
            return Check::NotAFrame;
        }
        let Some(frame) = buf.get(..COMMAND_LEN) else {
            return Check::Incomplete;
        };
        if !checksum_ok(frame) {
            return Check::BadChecksum;
        }
        match decode_command(frame[2], frame[4]) {
            Some(frame) => Check::Frame {
                frame,
                len: COMMAND_LEN,
            },
            None => Check::NotAFrame,
        }
    }
}

/// The 7 bytes of `command`.
pub fn encode_command(command: Command) -> [u8; COMMAND_LEN] {
    let (cmd, data) = match command {
        Command::QueryMode => (CMD_MODE, 0),
        Command::ActiveMode => (CMD_MODE, 1),
        Command::Query => (CMD_READ, 0),
        Command::Sleep => (CMD_SLEEP, 0),
        Command::Wake => (CMD_SLEEP, 1),
    };
    seal([HEADER[0], HEADER[1], cmd, 0, data, 0, 0])
}

fn decode_command(cmd: u8, data: u8) -> Option<Command> {
    match (cmd, data) {
        (CMD_MODE, 0) => Some(Command::QueryMode),
        (CMD_MODE, 1) => Some(Command::ActiveMode),
        (CMD_READ, _) => Some(Command::Query),
        (CMD_SLEEP, 0) => Some(Command::Sleep),
        (CMD_SLEEP, 1) => Some(Command::Wake),
        _ => None,
    }
}

/// Header and length word of a frame `total_len` bytes long.
fn prefix(total_len: usize) -> [u8; PREFIX_LEN] {
    // Frames are at most 32 bytes, so the count fits the low byte.
    [HEADER[0], HEADER[1], 0, (total_len - PREFIX_LEN) as u8]
}

fn sum16(bytes: &[u8]) -> u16 {
    bytes
        .iter()
        .fold(0u16, |s, &b| s.wrapping_add(u16::from(b)))
}

/// Whether the last two bytes are the big-endian sum of the others.
fn checksum_ok(frame: &[u8]) -> bool {
    let (body, sum) = frame.split_at(frame.len() - 2);
    sum16(body).to_be_bytes() == sum
}

/// `frame` with its last two bytes set to the checksum of the others.
fn seal<const N: usize>(mut frame: [u8; N]) -> [u8; N] {
    let sum = sum16(&frame[..N - 2]);
    frame[N - 2..].copy_from_slice(&sum.to_be_bytes());
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(hex: &str) -> Vec<u8> {
        hex::decode(hex.replace(' ', "")).unwrap()
    }

    fn data(frames: Vec<Pms5003Frame>) -> Vec<Pms5003Data> {
        frames
            .into_iter()
            .map(|f| match f {
                Pms5003Frame::Data(d) => d,
                Pms5003Frame::Ack(a) => panic!("unexpected ack {a:?}"),
            })
            .collect()
    }

    /// Real captures, each checked against the checksum rule:
    /// * PyPMS (github.com/avaldebe/PyPMS) tests/captured_data/PMSx003.hexdump, first frame;
    /// * the README of github.com/luhuadong/rtt-pmsxx, the sensor's answer to a passive
    ///   read (`42 4D E2 00 00 01 71`); note its atmospheric values exceed CF=1 by one.
    const PYPMS_FIRST: &str = "42 4d 00 1c 00 00 00 08 00 08 00 00 00 08 00 08 \
                               00 d2 00 46 00 2d 00 1e 00 00 00 00 97 00 02 c5";
    const RTT_PMSXX: &str = "42 4d 00 1c 00 03 00 04 00 07 00 04 00 05 00 08 \
                             03 1b 00 f9 00 1b 00 06 00 03 00 03 9a 00 02 a2";

    #[test]
    fn decodes_captured_frames() {
        let mut p = Pms5003Parser::new();
        let frames = data(p.push(&bytes(PYPMS_FIRST)));
        assert_eq!(
            frames,
            [Pms5003Data {
                pm1_0_cf1: 0,
                pm2_5_cf1: 8,
                pm10_cf1: 8,
                pm1_0: 0,
                pm2_5: 8,
                pm10: 8,
                counts: [210, 70, 45, 30, 0, 0],
                reserved: 0x9700,
            }]
        );
        let d = data(p.push(&bytes(RTT_PMSXX)))[0];
        assert_eq!((d.pm1_0_cf1, d.pm2_5_cf1, d.pm10_cf1), (3, 4, 7));
        assert_eq!(d.counts, [795, 249, 27, 6, 3, 3]);
        assert_eq!(
            d.reading(),
            ParticulateReading {
                pm1_0: Some(4.0),
                pm2_5: 5.0,
                pm10: 8.0
            }
        );
        assert_eq!(p.stats().checksum_errors, 0);
        assert_eq!(p.stats().discarded_bytes, 0);
    }

    #[test]
    fn re_encoding_a_captured_frame_is_exact() {
        let frame = bytes(RTT_PMSXX);
        let mut p = Pms5003Parser::new();
        let d = data(p.push(&frame))[0];
        assert_eq!(d.to_bytes().to_vec(), frame);
    }

    #[test]
    fn zero_frame_is_warming_up() {
        // PyPMS tests/sensors/test_message.py, "PMSx003 empty message" (checksum 0x00AB).
        let frame = bytes(
            "42 4d 00 1c 00 00 00 00 00 00 00 00 00 00 00 00 \
             00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 ab",
        );
        let mut p = Pms5003Parser::new();
        let frames = p.push(&frame);
        assert_eq!(frames.len(), 1);
        assert_eq!(Message::from(frames[0]), Message::WarmingUp);
        let captured = data(p.push(&bytes(PYPMS_FIRST)))[0];
        assert!(!captured.is_warming_up());
        assert!(matches!(
            Message::from(Pms5003Frame::Data(captured)),
            Message::Reading(_)
        ));
    }

    #[test]
    fn rejects_bad_checksum_and_recovers() {
        let mut corrupt = bytes(PYPMS_FIRST);
        corrupt[31] ^= 0x01;
        let good = bytes(RTT_PMSXX);
        let mut p = Pms5003Parser::new();
        let stream = [corrupt.clone(), good.clone()].concat();
        let frames = data(p.push(&stream));
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].pm2_5, 5);
        let s = p.stats();
        assert_eq!((s.checksum_errors, s.discarded_bytes), (1, 32));
    }

    #[test]
    fn truncated_frame_then_garbage_then_frame() {
        let full = bytes(PYPMS_FIRST);
        let stream = [&full[..20], &[0x00, 0xFF, 0x42, 0x13][..], &full[..]].concat();
        let mut p = Pms5003Parser::new();
        let frames = data(p.push(&stream));
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].pm2_5, 8);
        assert_eq!(p.stats().discarded_bytes, 24);
        assert_eq!(p.buffered(), 0);
    }

    #[test]
    fn frame_starting_inside_garbage_and_split_byte_by_byte() {
        // A false start with a plausible length swallows the real frame's first bytes: the
        // checksum fails, one byte is dropped, and the real frame is found inside.
        let real = bytes(RTT_PMSXX);
        let stream = [&[0x42, 0x4D, 0x00, 0x1C, 0x11][..], &real[..]].concat();
        let mut p = Pms5003Parser::new();
        let mut frames = Vec::new();
        for b in &stream {
            frames.extend(p.push(std::slice::from_ref(b)));
        }
        assert_eq!(data(frames)[0].pm10, 8);
        let s = p.stats();
        assert_eq!((s.frames, s.checksum_errors, s.discarded_bytes), (1, 1, 5));
    }

    #[test]
    fn decodes_acknowledgements() {
        // The replies the Linux kernel's pms7003 driver expects after sleep, passive mode
        // and active mode (drivers/iio/chemical/pms7003.c).
        let mut p = Pms5003Parser::new();
        let frames = p.push(&bytes(
            "42 4d 00 04 e4 00 01 77 42 4d 00 04 e1 00 01 74 42 4d 00 04 e1 01 01 75",
        ));
        let messages: Vec<Message> = frames.iter().copied().map(Message::from).collect();
        assert_eq!(
            messages,
            [
                Message::Ack(Command::Sleep),
                Message::Ack(Command::QueryMode),
                Message::Ack(Command::ActiveMode)
            ]
        );
        for (command, frame) in [Command::Sleep, Command::QueryMode, Command::ActiveMode]
            .into_iter()
            .zip(&frames)
        {
            assert_eq!(
                Pms5003Frame::Ack(Pms5003Ack::after(command).unwrap()),
                *frame
            );
        }
        assert_eq!(Pms5003Ack::after(Command::Wake), None);
        let unknown = Pms5003Ack {
            command: 0xE9,
            data: 0,
        };
        assert_eq!(
            Message::from(Pms5003Frame::Ack(unknown)),
            Message::OtherReply
        );
        assert_eq!(p.push(&unknown.to_bytes()).len(), 1);
    }

    #[test]
    fn unknown_lengths_are_not_frames() {
        // A PMS3003 frame (length 20; PyPMS tests/sensors/test_message.py, with the
        // checksum 1050 its "wrong checksum" case expects) is not a PMS5003 frame.
        let mut p = Pms5003Parser::new();
        let pms3003 = bytes("424d00140051006A007700350046004F33D20F28003F041A");
        assert!(p.push(&pms3003).is_empty());
        assert_eq!(p.stats().checksum_errors, 0);
    }

    #[test]
    fn encodes_commands_as_in_the_datasheet() {
        let cases = [
            (Command::QueryMode, "42 4D E1 00 00 01 70"),
            (Command::ActiveMode, "42 4D E1 00 01 01 71"),
            (Command::Query, "42 4D E2 00 00 01 71"),
            (Command::Sleep, "42 4D E4 00 00 01 73"),
            (Command::Wake, "42 4D E4 00 01 01 74"),
        ];
        let mut commands = FrameParser::<Pms5003CommandFraming>::new();
        for (command, wire) in cases {
            assert_eq!(encode_command(command).to_vec(), bytes(wire), "{command:?}");
            assert_eq!(commands.push(&bytes(wire)), [command]);
        }
        let mut bad = encode_command(Command::Sleep);
        bad[6] ^= 1;
        assert!(commands.push(&bad).is_empty());
        assert_eq!(commands.stats().checksum_errors, 1);
    }
}
