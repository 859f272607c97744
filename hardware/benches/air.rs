//! How much the particulate parsers pay for resynchronising on a noisy serial line.
//!
//! For each protocol, a stream of 20,000 data frames is parsed clean (the baseline) and
//! with 5 % of the frames damaged (a flipped byte, so a bad checksum, or a truncated
//! frame) and runs of garbage between frames. Both streams are fed in 64-byte chunks, the
//! way a UART read returns them. Prints the median time per frame of 7 runs and the
//! noisy/clean ratio.
//!
//! `cargo bench -p sao-hardware --bench air`

use std::time::{Duration, Instant};

use sao_hardware::air::pms5003::Pms5003Data;
use sao_hardware::air::sds011::Sds011Data;
use sao_hardware::air::{Message, Protocol};

const FRAMES: usize = 20_000;
const RUNS: usize = 7;
const CHUNK: usize = 64;

/// One valid frame of `protocol` whose PM2.5 is `i` (mod 1000).
fn frame(protocol: Protocol, i: usize) -> Vec<u8> {
    let v = (i % 1000) as u16;
    match protocol {
        Protocol::Pms5003 => Pms5003Data {
            pm1_0_cf1: v / 2,
            pm2_5_cf1: v,
            pm10_cf1: v + 5,
            pm1_0: v / 2,
            pm2_5: v,
            pm10: v + 5,
            counts: [v; 6],
            reserved: 0,
        }
        .to_bytes()
        .to_vec(),
        Protocol::Sds011 => Sds011Data {
            pm2_5_tenths: v * 10,
            pm10_tenths: v * 10 + 50,
            device_id: [0xA1, 0x60],
        }
        .to_bytes()
        .to_vec(),
    }
}

/// The stream, and how many of its frames are intact.
fn stream(protocol: Protocol, noisy: bool) -> (Vec<u8>, usize) {
    let mut rng = fastrand::Rng::with_seed(7);
    let mut bytes = Vec::new();
    let mut intact = 0;
    for i in 0..FRAMES {
        let mut f = frame(protocol, i);
        if noisy && rng.f64() < 0.05 {
            if rng.bool() {
                let at = rng.usize(2..f.len() - 1);
                f[at] ^= 0x5A;
            } else {
                f.truncate(rng.usize(2..f.len()));
            }
            // A burst of line noise without header bytes after the damaged frame.
            bytes.extend((0..rng.usize(1..32)).map(|_| rng.u8(0x01..0x40)));
        } else {
            intact += 1;
        }
        bytes.extend_from_slice(&f);
    }
    (bytes, intact)
}

/// Median time per frame of parsing `bytes`, in ns; checks every intact frame came out.
fn ns_per_frame(protocol: Protocol, bytes: &[u8], intact: usize) -> f64 {
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let mut parser = protocol.parser();
            let start = Instant::now();
            let readings: usize = bytes
                .chunks(CHUNK)
                .map(|chunk| {
                    parser
                        .push(chunk)
                        .iter()
                        .filter(|m| matches!(m, Message::Reading(_)))
                        .count()
                })
                .sum();
            let elapsed = start.elapsed();
            // A damaged frame may still yield the next one; none may be lost.
            assert!(readings >= intact, "{protocol:?}: {readings} of {intact}");
            elapsed
        })
        .collect();
    times.sort();
    times[RUNS / 2].as_secs_f64() * 1e9 / FRAMES as f64
}

fn main() {
    println!("sao-hardware parser benchmarks (median of {RUNS} runs of {FRAMES} frames; ratio = noisy / clean)");
    for protocol in [Protocol::Pms5003, Protocol::Sds011] {
        let (clean, n_clean) = stream(protocol, false);
        let (noisy, n_noisy) = stream(protocol, true);
        let clean_ns = ns_per_frame(protocol, &clean, n_clean);
        let noisy_ns = ns_per_frame(protocol, &noisy, n_noisy);
        println!(
            "{:<8} parse per frame   noisy {noisy_ns:>7.1} ns   clean {clean_ns:>7.1} ns   ratio {:>5.2}x   ({:.0} MB/s clean)",
            format!("{protocol:?}"),
            noisy_ns / clean_ns,
            clean.len() as f64 / (clean_ns * FRAMES as f64) * 1e3,
        );
    }
}
