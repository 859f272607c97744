//! The streaming frame parser shared by the serial particulate protocols.
//!
//! A [`FrameParser`] takes bytes as they come off a serial line, in pieces of any size, and
//! yields the frames they contain. A protocol describes its frames through [`Framing`]: the
//! byte every frame starts with, the longest frame, and a [`Framing::check`] of the bytes at
//! a candidate start.
//!
//! Resynchronisation never loses a valid frame: bytes before a candidate start are
//! discarded, and a candidate that turns out not to be a frame (wrong header, impossible
//! length, bad checksum) costs only its first byte, after which the scan resumes — so a
//! frame that begins inside a corrupted one is still found. The buffer never holds more than
//! one longest frame, whatever the input, and no input makes the parser panic.

use std::marker::PhantomData;

use serde::Serialize;

/// What a [`Framing`] says about the bytes at a candidate frame start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check<F> {
    /// More bytes are needed to decide.
    Incomplete,
    /// Not a frame: wrong header, impossible length or missing trailer.
    NotAFrame,
    /// A complete frame whose checksum does not match its contents.
    BadChecksum,
    /// A valid frame occupying the first `len` bytes.
    Frame {
        /// The decoded frame.
        frame: F,
        /// Its length on the wire, in bytes.
        len: usize,
    },
}

/// A wire format: how frames start, how long they can be, and how to check one.
pub trait Framing {
    /// The decoded frame.
    type Frame;
    /// The byte every frame starts with.
    const START: u8;
    /// Length of the longest frame, in bytes.
    const MAX_LEN: usize;
    /// Examine `buf`, which starts with [`Self::START`] and holds at most
    /// [`Self::MAX_LEN`] bytes. [`Check::Incomplete`] must only be returned while `buf` is
    /// shorter than the frame it could begin.
    fn check(buf: &[u8]) -> Check<Self::Frame>;
}

/// Counters of a [`FrameParser`] since it was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct StreamStats {
    /// Valid frames decoded.
    pub frames: u64,
    /// Complete frames rejected because their checksum did not match.
    pub checksum_errors: u64,
    /// Bytes thrown away while looking for the next frame.
    pub discarded_bytes: u64,
    /// Checksum errors since the last valid frame.
    pub checksum_errors_since_frame: u64,
    /// Bytes discarded since the last valid frame.
    pub discarded_since_frame: u64,
}

/// An incremental parser for the frames of one [`Framing`].
#[derive(Debug, Clone)]
pub struct FrameParser<F> {
    buf: Vec<u8>,
    stats: StreamStats,
    framing: PhantomData<F>,
}

impl<F: Framing> Default for FrameParser<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Framing> FrameParser<F> {
    /// An empty parser.
    pub fn new() -> Self {
        Self {
            buf: Vec::with_capacity(F::MAX_LEN),
            stats: StreamStats::default(),
            framing: PhantomData,
        }
    }

    /// Feed the next bytes of the stream; returns the frames completed by them, in order.
    /// A frame may be split across any number of calls.
    pub fn push(&mut self, mut bytes: &[u8]) -> Vec<F::Frame> {
        let mut frames = Vec::new();
        while !bytes.is_empty() {
            let room = F::MAX_LEN - self.buf.len();
            let (head, rest) = bytes.split_at(room.min(bytes.len()));
            self.buf.extend_from_slice(head);
            bytes = rest;
            self.decode(&mut frames);
        }
        frames
    }

    /// Counters so far.
    pub fn stats(&self) -> StreamStats {
        self.stats
    }

    /// Bytes held back as the possible start of a frame (always less than the longest
    /// frame).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Decode every frame in the buffer, leaving only a possible frame start.
    fn decode(&mut self, frames: &mut Vec<F::Frame>) {
        loop {
            let start = self
                .buf
                .iter()
                .position(|&b| b == F::START)
                .unwrap_or(self.buf.len());
            self.discard(start);
            if self.buf.is_empty() {
                return;
            }
            match F::check(&self.buf) {
                // A full buffer is always decidable; a framing that still cannot decide is
                // treated as "not a frame" so that the stream keeps moving.
                Check::Incomplete if self.buf.len() < F::MAX_LEN => return,
                Check::Incomplete | Check::NotAFrame => self.discard(1),
                Check::BadChecksum => {
                    self.stats.checksum_errors += 1;
                    self.stats.checksum_errors_since_frame += 1;
                    self.discard(1);
                }
                Check::Frame { frame, len } => {
                    self.buf.drain(..len.clamp(1, self.buf.len()));
                    self.stats.frames += 1;
                    self.stats.checksum_errors_since_frame = 0;
                    self.stats.discarded_since_frame = 0;
                    frames.push(frame);
                }
            }
        }
    }

    fn discard(&mut self, n: usize) {
        self.buf.drain(..n);
        let n = n as u64;
        self.stats.discarded_bytes += n;
        self.stats.discarded_since_frame += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy format: `0x7E len payload… sum`, where `sum` is the low byte of the sum of the
    /// payload and frames are 3 to 6 bytes long.
    struct Toy;

    impl Framing for Toy {
        type Frame = Vec<u8>;
        const START: u8 = 0x7E;
        const MAX_LEN: usize = 6;

        fn check(buf: &[u8]) -> Check<Vec<u8>> {
            let Some(&len) = buf.get(1) else {
                return Check::Incomplete;
            };
            let len = usize::from(len);
            if !(3..=Self::MAX_LEN).contains(&len) {
                return Check::NotAFrame;
            }
            if buf.len() < len {
                return Check::Incomplete;
            }
            let payload = &buf[2..len - 1];
            let sum = payload.iter().fold(0u8, |s, &b| s.wrapping_add(b));
            if sum != buf[len - 1] {
                return Check::BadChecksum;
            }
            Check::Frame {
                frame: payload.to_vec(),
                len,
            }
        }
    }

    #[test]
    fn skips_garbage_and_keeps_partial_frames() {
        let mut p = FrameParser::<Toy>::new();
        assert_eq!(p.push(&[1, 2, 0x7E, 5, 9]), Vec::<Vec<u8>>::new());
        assert_eq!(p.buffered(), 3);
        assert_eq!(p.push(&[1, 10, 0x7E]), vec![vec![9, 1]]);
        let s = p.stats();
        assert_eq!((s.frames, s.discarded_bytes, s.checksum_errors), (1, 2, 0));
        assert_eq!(s.discarded_since_frame, 0);
    }

    #[test]
    fn bad_checksum_costs_one_byte_and_finds_the_frame_inside() {
        let mut p = FrameParser::<Toy>::new();
        // A corrupted 6-byte candidate whose body holds a valid 3-byte frame `7E 03 00`.
        let frames = p.push(&[0x7E, 6, 0x7E, 3, 0, 0xFF, 0x7E, 4, 7, 7]);
        assert_eq!(frames, vec![Vec::<u8>::new(), vec![7]]);
        let s = p.stats();
        assert_eq!((s.checksum_errors, s.discarded_bytes, s.frames), (1, 3, 2));
    }

    #[test]
    fn counts_since_last_frame_reset_on_a_frame() {
        let mut p = FrameParser::<Toy>::new();
        // A bad candidate, then a valid empty frame.
        p.push(&[0x7E, 3, 1, 0x7E, 3, 0]);
        let s = p.stats();
        assert_eq!((s.checksum_errors, s.discarded_bytes), (1, 3));
        assert_eq!(
            (s.checksum_errors_since_frame, s.discarded_since_frame),
            (0, 0)
        );
        // One stray byte, then a candidate with a bad checksum (all four bytes discarded).
        p.push(&[0, 0x7E, 4, 1, 2]);
        let s = p.stats();
        assert_eq!(
            (s.checksum_errors_since_frame, s.discarded_since_frame),
            (1, 5)
        );
        assert_eq!((s.checksum_errors, s.discarded_bytes), (2, 8));
    }

    #[test]
    fn buffer_stays_bounded_on_endless_starts() {
        let mut p = FrameParser::<Toy>::new();
        // Every byte is a start byte with an impossible length.
        let frames = p.push(&[0x7E; 10_000]);
        assert!(frames.is_empty());
        assert!(p.buffered() < Toy::MAX_LEN);
        assert_eq!(p.stats().discarded_bytes + p.buffered() as u64, 10_000);
    }
}
