//! Alarm latency: from the capture of the frame that confirms an elephant to the siren
//! output switching on, on a real `sao run` pole (release build) running the elephant
//! plugin and the real model on a camera that plays, in real time, a video of elephant
//! photos alternating with empty scenes (every appearance is a new incident).
//!
//! The same video runs with the uplink up (a local Mosquitto) and with it down
//! (the broker stopped before the pole starts; it is started again at the end to collect
//! the alerts, which carry the confirming frame's capture time), in interleaved halves.
//! The ratio of the two shows whether the network makes any difference. The capture time is the frame's wall
//! clock time taken by the capture thread; the siren time is the wall clock time the
//! simulator's device trace records when the output switches.
//!
//! `cargo bench -p sao-e2e --bench alarm_latency` (`SAO_LATENCY_ROUNDS`, default 40).

#[path = "../common/mod.rs"]
mod common;

use std::time::Duration;

use common::mqtt::{Mosquitto, Subscriber};
use common::{elephant_files, pole_body, shared, with_sim_hardware, Bench, PoleProcess};
use sao_vision::clip::{Look, Segment};
use serde_json::Value;

const FPS: f64 = 5.0;

fn main() {
    let rounds: usize = std::env::var("SAO_LATENCY_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    // Interleaved halves, so drift in the machine's load falls on both sides.
    let (mut up, mut down) = (Vec::new(), Vec::new());
    for half in [rounds / 2, rounds - rounds / 2] {
        up.extend(measure(true, half));
        down.extend(measure(false, half));
    }
    println!("alarm latency, confirming frame capture -> siren on ({rounds} appearances)");
    for (name, samples) in [("uplink up", &up), ("uplink down", &down)] {
        println!(
            "  {name:<12} n={:<3} p50 {:6.1} ms  p99 {:6.1} ms  max {:6.1} ms",
            samples.len(),
            percentile(samples, 0.50),
            percentile(samples, 0.99),
            percentile(samples, 1.0),
        );
    }
    println!(
        "  ratio down/up: p50 {:.2}, p99 {:.2}",
        percentile(&down, 0.50) / percentile(&up, 0.50),
        percentile(&down, 0.99) / percentile(&up, 0.99)
    );
}

/// Nearest-rank percentile of `samples` (ms).
fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Runs the pole over the video with the uplink up or down; returns one latency per
/// confirmed appearance, in ms.
fn measure(uplink_up: bool, rounds: usize) -> Vec<f64> {
    let bench = Bench::new();
    bench.package("elephant", elephant_files());
    let herds = [
        shared("media/elephants/coco_000000007108.jpg"),
        shared("media/elephants/coco_000000006894.jpg"),
    ];
    let empties = common::photos("media/negatives");
    let clip: Vec<Segment> = (0..rounds)
        .flat_map(|i| {
            [
                Segment {
                    photo: herds[i % herds.len()].clone(),
                    frames: 12,
                },
                Segment {
                    photo: empties[i % empties.len()].clone(),
                    frames: 10,
                },
            ]
        })
        .collect();
    let frames: usize = clip.iter().map(|s| s.frames).sum();
    common::clip(&bench.path("camera.avi"), &clip, FPS, Look::Day);

    let mut broker = Mosquitto::start(&bench.path("broker"));
    let subscriber = uplink_up.then(|| Subscriber::connect(broker.port, "sao/+/+/+/alert/#"));
    if !uplink_up {
        broker.stop();
    }
    let config = format!(
        r#"{}
[uplink]
broker = "{}"

[[cameras]]
name = "forest-edge"
source = "camera.avi"
capture = {{ fps = 5, realtime = true }}

[[plugins]]
package = "elephant.sao"
grants = ["log", "clock", "kv", "telemetry", "alarm", "vision"]
config = {{ all-clear-s = 1 }}
"#,
        with_sim_hardware(pole_body(), r#"trace = "trace.jsonl""#),
        broker.url()
    );
    let pole = PoleProcess::start(&bench, &config);
    std::thread::sleep(Duration::from_secs_f64(frames as f64 / FPS + 10.0));
    let subscriber = subscriber.unwrap_or_else(|| {
        broker.restart();
        Subscriber::connect(broker.port, "sao/+/+/+/alert/#")
    });
    let raised =
        |m: &[common::mqtt::Message]| m.iter().filter(|m| m.payload["state"] == "raised").count();
    let sirens = siren_ons(&bench);
    subscriber.wait_for("every alert", Duration::from_secs(60), |m| {
        raised(m) >= sirens.len()
    });
    assert!(pole.terminate(), "sao run stopped on SIGTERM");

    let confirmed: Vec<f64> = subscriber
        .messages()
        .iter()
        .filter(|m| m.payload["state"] == "raised")
        .map(|m| m.payload["details"]["confirmed-ts"].as_u64().unwrap() as f64)
        .collect();
    confirmed
        .iter()
        .filter_map(|&capture| {
            let on = sirens.iter().find(|&&wall| wall >= capture)?;
            Some(on - capture)
        })
        .collect()
}

/// Wall-clock times (ms) the siren switched on for a new alarm, from the device trace:
/// the siren pulses (500 ms on, 500 ms off) while an alarm sounds, so an "on" after more
/// than 800 ms of silence starts a new one.
fn siren_ons(bench: &Bench) -> Vec<f64> {
    let changes: Vec<(f64, bool)> = std::fs::read_to_string(bench.path("trace.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["device"] == "siren")
        .map(|l| (l["wall-ms"].as_f64().unwrap(), l["state"] == true))
        .collect();
    let mut last_off = f64::NEG_INFINITY;
    let mut starts = Vec::new();
    for (wall, on) in changes {
        match on {
            true if wall - last_off > 800.0 => starts.push(wall),
            true => {}
            false => last_off = wall,
        }
    }
    starts
}
