//! What the accident logic costs per frame on a busy road, against the bookkeeping every
//! tracking plugin does (taking the frame's detections into per-track histories).
//!
//! A four-lane road, 10 frames per second for 10 minutes, with about 60 road users in
//! view at once: cars and motorcycles in both directions, people on the footway, a
//! crash (through traffic keeps driving across it: the scenario is synthetic), a car
//! braking to a stall and a wrong-way driver. Each frame goes through
//! (a) `Scene::update` alone (the baseline) and (b) the whole `Analyzer` (scene, rules,
//! incidents, counts) on an in-memory pole. Prints per-frame p50/p99/max and the ratio.
//!
//! `cargo bench -p sao-plugin-accident --bench analyzer`

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{road_config, scenario, Actor, Pole, EASTBOUND_Y, HEIGHT, START_MS, WESTBOUND_Y};
use sao_plugin_accident::scene::Scene;
use sao_plugin_accident::{Analyzer, Phase, Report};

/// Seconds simulated.
const SECONDS: f64 = 600.0;

/// The road users of the busy road.
fn traffic() -> Vec<Actor> {
    let mut actors = Vec::new();
    let mut track = 0;
    let mut next = || {
        track += 1;
        track
    };
    // Two lanes each way (y offsets within the lane), a vehicle every 0.4 s per lane,
    // crossing the 1280 px view in 4-8 s.
    for (lane, (y, east)) in [
        (EASTBOUND_Y - 30.0, true),
        (EASTBOUND_Y + 30.0, true),
        (WESTBOUND_Y - 30.0, false),
        (WESTBOUND_Y + 30.0, false),
    ]
    .into_iter()
    .enumerate()
    {
        let mut t = lane as f64 * 0.1;
        while t < SECONDS {
            let crossing = 4.0 + (t * 7.0) % 4.0;
            let (from, to) = if east { (0.0, 1280.0) } else { (1280.0, 0.0) };
            let id = next();
            let actor = if id % 4 == 0 {
                Actor::motorcycle(id)
            } else {
                Actor::car(id)
            };
            actors.push(actor.at(t, from, y).at(t + crossing, to, y));
            t += 0.4;
        }
    }
    // People on the footway.
    let footway = 0.96 * HEIGHT as f32;
    let mut t = 0.0;
    while t < SECONDS {
        let id = next();
        actors.push(
            Actor::person(id)
                .at(t, 0.0, footway)
                .at(t + 20.0, 1280.0, footway),
        );
        t += 2.0;
    }
    // A crash, a stalled car and a wrong-way driver.
    let (a, b, c, d) = (next(), next(), next(), next());
    actors.push(
        Actor::car(a)
            .at(100.0, 100.0, EASTBOUND_Y)
            .at(101.35, 640.0, EASTBOUND_Y)
            .until(160.0),
    );
    actors.push(
        Actor::car(b)
            .at(100.0, 760.0, 200.0)
            .at(101.35, 760.0, 470.0)
            .until(160.0),
    );
    let stalling = Actor::car(c).at(200.0, 0.0, EASTBOUND_Y).brake(300.0, 4.0);
    actors.push(stalling.until(300.0));
    actors.push(
        Actor::car(d)
            .at(400.0, 1280.0, EASTBOUND_Y)
            .at(408.0, 0.0, EASTBOUND_Y),
    );
    actors
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn report(name: &str, mut times: Vec<Duration>) -> Duration {
    times.sort();
    let p50 = percentile(&times, 0.5);
    println!(
        "{name:<28} p50 {:>7.1} µs  p99 {:>7.1} µs  max {:>7.1} µs",
        p50.as_secs_f64() * 1e6,
        percentile(&times, 0.99).as_secs_f64() * 1e6,
        times.last().unwrap().as_secs_f64() * 1e6
    );
    p50
}

fn main() {
    let frames: Vec<_> = scenario(&traffic(), SECONDS, 10.0, 0)
        .iter()
        .map(|f| f.to_call())
        .collect();
    let in_view: usize = frames.iter().map(|(_, d)| d.len()).sum::<usize>() / frames.len();
    println!(
        "{} frames, {in_view} road users in view on average",
        frames.len()
    );
    let config = road_config(r#"{"counts": {"period-s": 60}}"#);

    // Interleaved rounds, so both see the same machine.
    let (mut baseline, mut full) = (Vec::new(), Vec::new());
    let mut last = Vec::new();
    for _round in 0..3 {
        let mut scene = Scene::default();
        for (frame, detections) in &frames {
            let started = Instant::now();
            scene.update(frame, detections, &config);
            baseline.push(started.elapsed());
        }
        let mut pole = Pole::default();
        let mut analyzer = Analyzer::new(config.clone(), START_MS, &mut pole).unwrap();
        for (frame, detections) in &frames {
            let started = Instant::now();
            analyzer.on_detections(frame, detections, &mut pole);
            full.push(started.elapsed());
        }
        last = pole.reports;
    }
    let opened = |kind: &str| {
        last.iter()
            .filter(|r: &&Report| r.kind == kind && r.phase == Phase::Opened)
            .count()
    };
    println!(
        "incidents opened per round: collision {}, stalled-vehicle {}, wrong-way {}, pedestrian {}, sudden-stop {}",
        opened("collision"),
        opened("stalled-vehicle"),
        opened("wrong-way"),
        opened("pedestrian"),
        opened("sudden-stop")
    );
    let base = report("scene update (baseline)", baseline);
    let whole = report("whole analyzer", full);
    println!(
        "ratio whole/baseline at p50: {:.2}",
        whole.as_secs_f64() / base.as_secs_f64()
    );
}
