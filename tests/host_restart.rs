//! Restarting the host: plugin KV and the compiled-component cache survive; a cache entry
//! that this engine cannot use (written by a differently configured engine, or
//! corrupted) is recompiled, never loaded.

mod common;

use common::{metric, misbehave_files, on_topic, pole_header, Bench};
use sao_runtime::engine::{engine_fingerprint, ComponentCache, EngineOptions, SaoEngine};
use sao_runtime::sim::SimOptions;

fn scenario() -> String {
    pole_header("2026-11-21T20:00:00+07:00", 0.5, 10)
        + r#"
[[plugins]]
package = "misbehave.sao"
grants = ["log", "kv", "telemetry", "alarm", "lighting"]
config = { mode = "ok" }
"#
}

fn heartbeats(records: &[serde_json::Value]) -> Vec<f64> {
    on_topic(records, "/tele/misbehave/heartbeat")
        .iter()
        .map(|r| metric(r, "ticks"))
        .collect()
}

fn options(bench: &Bench, optimize: bool) -> SimOptions {
    SimOptions {
        data_dir: Some(bench.path("pole-data")),
        engine: EngineOptions { optimize },
        ..SimOptions::default()
    }
}

#[test]
fn kv_and_compiled_cache_survive_a_host_restart() {
    let bench = Bench::new();
    bench.package("misbehave", misbehave_files());

    let (first, records) = bench.simulate_with(&scenario(), options(&bench, true));
    assert_eq!(first.cache, (0, 1), "first start compiles");
    let beats = heartbeats(&records);
    assert_eq!(beats, (1..=31).map(f64::from).collect::<Vec<_>>());

    let (second, records) = bench.simulate_with(&scenario(), options(&bench, true));
    assert_eq!(
        second.cache,
        (1, 0),
        "second start loads the cached artifact"
    );
    // The plugin's tick counter lives in its kv store: it continues where it stopped.
    let beats = heartbeats(&records);
    assert_eq!(beats, (32..=62).map(f64::from).collect::<Vec<_>>());
}

#[test]
fn stale_or_corrupt_cache_entries_are_recompiled_not_loaded() {
    let bench = Bench::new();
    bench.package("misbehave", misbehave_files());
    let (first, _) = bench.simulate_with(&scenario(), options(&bench, true));
    assert_eq!(first.cache, (0, 1));

    // A differently configured engine keys its artifacts elsewhere: nothing stale is found.
    let wasm = misbehave_files()["misbehave.wasm"].clone();
    let cache_root = bench.path("pole-data/compiled");
    let fast = SaoEngine::new(EngineOptions { optimize: true }).unwrap();
    let slow = SaoEngine::new(EngineOptions { optimize: false }).unwrap();
    assert_ne!(
        engine_fingerprint(fast.engine()),
        engine_fingerprint(slow.engine())
    );
    let (second, records) = bench.simulate_with(&scenario(), options(&bench, false));
    assert_eq!(second.cache, (0, 1), "compiled afresh for the other engine");
    assert_eq!(heartbeats(&records).len(), 31);

    // An artifact from an incompatible engine (no epoch interruption: it could not be
    // interrupted) planted under this engine's key is refused by the loader, recompiled
    // and replaced.
    let artifact = ComponentCache::new(&cache_root, fast.engine()).artifact_path(&wasm);
    let foreign = wasmtime::Engine::new(wasmtime::Config::new().epoch_interruption(false)).unwrap();
    let planted = foreign.precompile_component(&wasm).unwrap();
    std::fs::write(&artifact, &planted).unwrap();
    let (third, records) = bench.simulate_with(&scenario(), options(&bench, true));
    assert_eq!(third.cache, (0, 1), "the foreign artifact was not loaded");
    assert_ne!(
        std::fs::read(&artifact).unwrap(),
        planted,
        "and it was replaced"
    );
    assert_eq!(heartbeats(&records).len(), 31, "the plugin ran normally");

    // A truncated artifact is recompiled too.
    let bytes = std::fs::read(&artifact).unwrap();
    std::fs::write(&artifact, &bytes[..bytes.len() / 3]).unwrap();
    let (fourth, records) = bench.simulate_with(&scenario(), options(&bench, true));
    assert_eq!(fourth.cache, (0, 1));
    assert_eq!(heartbeats(&records).len(), 31);

    // And the replaced artifact is used from then on.
    let (fifth, _) = bench.simulate_with(&scenario(), options(&bench, true));
    assert_eq!(fifth.cache, (1, 0));
}
