//! Property tests of the PMS5003 and SDS011 streaming parsers: any input is safe and
//! accounted for, valid frames survive garbage, and how the stream is cut into pushes
//! does not matter.

use std::fmt::Debug;

use proptest::collection::vec;
use proptest::prelude::*;

use sao_hardware::air::pms5003::{Pms5003Ack, Pms5003Data, Pms5003Frame, Pms5003Framing};
use sao_hardware::air::sds011::{Sds011Data, Sds011Frame, Sds011Framing, Sds011Reply};
use sao_hardware::air::{FrameParser, Framing};

fn pms_frame() -> impl Strategy<Value = Pms5003Frame> {
    let data =
        (any::<[u16; 6]>(), any::<[u16; 6]>(), any::<u16>()).prop_map(|(pm, counts, reserved)| {
            Pms5003Frame::Data(Pms5003Data {
                pm1_0_cf1: pm[0],
                pm2_5_cf1: pm[1],
                pm10_cf1: pm[2],
                pm1_0: pm[3],
                pm2_5: pm[4],
                pm10: pm[5],
                counts,
                reserved,
            })
        });
    let ack = any::<(u8, u8)>()
        .prop_map(|(command, data)| Pms5003Frame::Ack(Pms5003Ack { command, data }));
    prop_oneof![3 => data, 1 => ack]
}

fn pms_bytes(frame: &Pms5003Frame) -> Vec<u8> {
    match frame {
        Pms5003Frame::Data(d) => d.to_bytes().to_vec(),
        Pms5003Frame::Ack(a) => a.to_bytes().to_vec(),
    }
}

fn sds_frame() -> impl Strategy<Value = Sds011Frame> {
    let data = any::<(u16, u16, [u8; 2])>().prop_map(|(pm2_5_tenths, pm10_tenths, device_id)| {
        Sds011Frame::Data(Sds011Data {
            pm2_5_tenths,
            pm10_tenths,
            device_id,
        })
    });
    let reply = any::<(u8, [u8; 3], [u8; 2])>().prop_map(|(command, data, device_id)| {
        Sds011Frame::Reply(Sds011Reply {
            command,
            data,
            device_id,
        })
    });
    prop_oneof![3 => data, 1 => reply]
}

fn sds_bytes(frame: &Sds011Frame) -> Vec<u8> {
    match frame {
        Sds011Frame::Data(d) => d.to_bytes().to_vec(),
        Sds011Frame::Reply(r) => r.to_bytes().to_vec(),
    }
}

/// Garbage in which no two consecutive bytes satisfy `is_header`.
fn garbage(is_header: fn(&[u8]) -> bool) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..48).prop_filter("contains a frame header", move |g| {
        !g.windows(2).any(is_header)
    })
}

fn pms_header(w: &[u8]) -> bool {
    w == [0x42, 0x4D]
}

fn sds_header(w: &[u8]) -> bool {
    w == [0xAA, 0xC0] || w == [0xAA, 0xC5]
}

/// Push `stream` in pieces cut at `cuts` (taken modulo the length, in any order).
fn push_in_pieces<F: Framing>(
    parser: &mut FrameParser<F>,
    stream: &[u8],
    cuts: &[usize],
) -> Vec<F::Frame> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    cuts.push(0);
    cuts.push(stream.len());
    cuts.sort_unstable();
    cuts.windows(2)
        .flat_map(|w| parser.push(&stream[w[0]..w[1]]))
        .collect()
}

/// Any bytes, in any pieces: nothing panics, the buffer stays below one frame, and every
/// byte is in a frame, discarded or buffered.
fn stats_add_up<F: Framing>(
    bytes: &[u8],
    cuts: &[usize],
    frame_len: impl Fn(&F::Frame) -> usize,
) -> Result<(), TestCaseError> {
    let mut parser = FrameParser::<F>::new();
    let frames = push_in_pieces(&mut parser, bytes, cuts);
    let stats = parser.stats();
    let in_frames: usize = frames.iter().map(frame_len).sum();
    prop_assert!(parser.buffered() < F::MAX_LEN);
    prop_assert_eq!(stats.frames, frames.len() as u64);
    prop_assert_eq!(
        in_frames as u64 + stats.discarded_bytes + parser.buffered() as u64,
        bytes.len() as u64
    );
    Ok(())
}

/// Frames separated by header-free garbage come out complete, in order, without
/// checksum errors; only the garbage is discarded.
fn all_recovered<F: Framing>(
    items: &[(Vec<u8>, F::Frame)],
    tail: &[u8],
    encode: impl Fn(&F::Frame) -> Vec<u8>,
) -> Result<(), TestCaseError>
where
    F::Frame: PartialEq + Debug + Clone,
{
    let mut stream = Vec::new();
    for (junk, frame) in items {
        stream.extend_from_slice(junk);
        stream.extend(encode(frame));
    }
    stream.extend_from_slice(tail);
    let mut parser = FrameParser::<F>::new();
    let frames = parser.push(&stream);
    let expected: Vec<F::Frame> = items.iter().map(|(_, f)| f.clone()).collect();
    prop_assert_eq!(&frames, &expected);
    let stats = parser.stats();
    prop_assert_eq!(stats.checksum_errors, 0);
    let junk: usize = items.iter().map(|(g, _)| g.len()).sum::<usize>() + tail.len();
    prop_assert_eq!(
        stats.discarded_bytes + parser.buffered() as u64,
        junk as u64
    );
    Ok(())
}

/// Cutting the same stream into different pieces gives the same frames and counters.
fn split_invariant<F: Framing>(stream: &[u8], cuts: &[usize]) -> Result<(), TestCaseError>
where
    F::Frame: PartialEq + Debug,
{
    let mut whole = FrameParser::<F>::new();
    let expected = whole.push(stream);
    let mut pieces = FrameParser::<F>::new();
    prop_assert_eq!(push_in_pieces(&mut pieces, stream, cuts), expected);
    prop_assert_eq!(pieces.stats(), whole.stats());
    prop_assert_eq!(pieces.buffered(), whole.buffered());
    Ok(())
}

/// Frames and arbitrary garbage (headers included), interleaved.
fn mixed_stream<T: Debug>(
    frame: impl Strategy<Value = T>,
    encode: fn(&T) -> Vec<u8>,
) -> impl Strategy<Value = Vec<u8>> {
    vec((vec(any::<u8>(), 0..40), frame), 0..12).prop_map(move |items| {
        items
            .iter()
            .flat_map(|(junk, f)| junk.iter().copied().chain(encode(f)))
            .collect()
    })
}

proptest! {
    #[test]
    fn pms_any_bytes_are_accounted_for(bytes in vec(any::<u8>(), 0..2_000), cuts in vec(any::<usize>(), 0..20)) {
        stats_add_up::<Pms5003Framing>(&bytes, &cuts, |f| pms_bytes(f).len())?;
    }

    #[test]
    fn sds_any_bytes_are_accounted_for(bytes in vec(any::<u8>(), 0..2_000), cuts in vec(any::<usize>(), 0..20)) {
        stats_add_up::<Sds011Framing>(&bytes, &cuts, |f| sds_bytes(f).len())?;
    }

    #[test]
    fn pms_header_heavy_bytes_are_accounted_for(
        bytes in vec(prop_oneof![Just(0x42u8), Just(0x4D), Just(0x00), Just(0x1C), Just(0x04), any::<u8>()], 0..2_000),
        cuts in vec(any::<usize>(), 0..20),
    ) {
        stats_add_up::<Pms5003Framing>(&bytes, &cuts, |f| pms_bytes(f).len())?;
    }

    #[test]
    fn sds_header_heavy_bytes_are_accounted_for(
        bytes in vec(prop_oneof![Just(0xAAu8), Just(0xC0), Just(0xC5), Just(0xAB), any::<u8>()], 0..2_000),
        cuts in vec(any::<usize>(), 0..20),
    ) {
        stats_add_up::<Sds011Framing>(&bytes, &cuts, |f| sds_bytes(f).len())?;
    }

    #[test]
    fn pms_frames_survive_garbage(items in vec((garbage(pms_header), pms_frame()), 0..12), tail in garbage(pms_header)) {
        all_recovered::<Pms5003Framing>(&items, &tail, pms_bytes)?;
    }

    #[test]
    fn sds_frames_survive_garbage(items in vec((garbage(sds_header), sds_frame()), 0..12), tail in garbage(sds_header)) {
        all_recovered::<Sds011Framing>(&items, &tail, sds_bytes)?;
    }

    #[test]
    fn pms_splits_do_not_matter(stream in mixed_stream(pms_frame(), pms_bytes), cuts in vec(any::<usize>(), 0..40)) {
        split_invariant::<Pms5003Framing>(&stream, &cuts)?;
    }

    #[test]
    fn sds_splits_do_not_matter(stream in mixed_stream(sds_frame(), sds_bytes), cuts in vec(any::<usize>(), 0..40)) {
        split_invariant::<Sds011Framing>(&stream, &cuts)?;
    }
}
