//! sao benchmarks, each against a baseline measured in the same run, printed as ratios:
//!
//! 1. per-event dispatch into the wasm dimming plugin vs. the same dimming logic called
//!    natively, through the very same host functions (`PluginState`'s WIT host impls);
//! 2. plugin instantiation: cold (compile) vs. cached (load the compiled artifact);
//! 3. `sao run` with the dimming plugin: cold start to all plugins running with an empty
//!    vs. a warm cache, and idle RSS vs. the same host with no plugin.
//!
//! Needs the plugins built (`bash plugins/build.sh`). Run:
//! `cargo bench -p sao-runtime --bench dispatch`

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

use sao_hardware::sim::{build_sim_pole, LampSpec, SimConfig};
use sao_hardware::{SimClock, TimeSource};
use sao_plugin_dimming::{
    Config, Controller, EventState, Host, Lamp, LogLevel, Platform, Severity,
};
use sao_runtime::alarm::AlarmConfig;
use sao_runtime::devices::LightingPolicy;
use sao_runtime::engine::{ComponentCache, EngineOptions, SaoEngine};
use sao_runtime::host::sao::plugin as wit;
use sao_runtime::host::{
    KvStore, PluginIdentity, PluginPre, PluginState, Services, TelemetryQuota,
};
use sao_runtime::plugin::instance::{Call, Instance, InstanceLimits};
use sao_runtime::plugin::package::{Package, MANIFEST_FILE};
use sao_runtime::plugin::{prepare, signing, Capability, TrustStore};
use sao_runtime::uplink::{Outbox, OutboxConfig, Uplink};

const GRANTS: [Capability; 5] = [
    Capability::Log,
    Capability::Clock,
    Capability::Kv,
    Capability::Telemetry,
    Capability::Lighting,
];
/// 2026-11-21T23:30:00+07:00: lamps lit, dimmed.
const NIGHT_MS: u64 = 1_795_278_600_000;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn dimming_wasm() -> Vec<u8> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let path = target.join("wasm32-wasip2/release/sao_plugin_dimming.wasm");
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run bash plugins/build.sh first", path.display()))
}

/// Median of `runs` timings of `f`.
fn median(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..runs).map(|_| f()).collect();
    times.sort();
    times[runs / 2]
}

fn report(
    name: &str,
    subject: Duration,
    baseline: Duration,
    subject_label: &str,
    baseline_label: &str,
) {
    println!(
        "{name:<40} {subject_label} {:>10.2?}   {baseline_label} {:>10.2?}   ratio {:>7.2}x",
        subject,
        baseline,
        subject.as_secs_f64() / baseline.as_secs_f64()
    );
}

struct Fixture {
    _dir: tempfile::TempDir,
    clock: Arc<SimClock>,
    services: Arc<Services>,
    package: Vec<u8>,
    trust: TrustStore,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SimClock::new(NIGHT_MS));
    let sim = SimConfig {
        lamps: vec![LampSpec {
            id: "main".into(),
            rated_watts: 100.0,
            standby_watts: 0.5,
        }],
        ..SimConfig::default()
    };
    let pole = build_sim_pole(&sim, clock.clone()).unwrap();
    let identity = common::identity();
    let db = sled::open(dir.path().join("db")).unwrap();
    let outbox = Outbox::open(&db, OutboxConfig::default(), clock.clone()).unwrap();
    let services = Arc::new(
        Services::new(
            pole,
            clock.clone(),
            &LightingPolicy::default(),
            AlarmConfig::default(),
            Arc::new(Uplink::new(identity, Arc::new(outbox), None)),
            KvStore::new(db),
            Default::default(),
        )
        .unwrap(),
    );
    let key = signing::generate_key();
    let mut trust = TrustStore::default();
    trust.add(key.verifying_key());
    let dimming = root().join("plugins/dimming");
    let mut files = BTreeMap::new();
    for name in [MANIFEST_FILE, "config.schema.json"] {
        files.insert(name.to_string(), std::fs::read(dimming.join(name)).unwrap());
    }
    files.insert("dimming.wasm".into(), dimming_wasm());
    let mut package = Package::from_files(files).unwrap();
    package.sign(&key);
    Fixture {
        _dir: dir,
        clock,
        services,
        package: package.to_bytes(),
        trust,
    }
}

fn identity(id: &str) -> PluginIdentity {
    PluginIdentity {
        id: id.into(),
        version: "0.1.0".into(),
        dataset: "street-lighting".into(),
        dimension: "energy".into(),
    }
}

/// The dimming logic's `Host`, natively, over the same host functions the wasm plugin
/// reaches through its imports.
struct NativeHost(PluginState);

impl Host for NativeHost {
    fn lamps(&mut self) -> Vec<Lamp> {
        wit::lighting::Host::lamps(&mut self.0)
            .into_iter()
            .map(|l| Lamp {
                id: l.id,
                rated_watts: l.rated_watts,
            })
            .collect()
    }
    fn set_level(&mut self, lamp: &str, percent: f32, fade_ms: u32) -> Result<(), String> {
        wit::lighting::Host::set_level(&mut self.0, lamp.into(), percent, fade_ms)
            .map_err(|e| format!("{e:?}"))
    }
    fn read_energy_kwh(&mut self, lamp: &str) -> Result<f64, String> {
        wit::lighting::Host::read_energy(&mut self.0, lamp.into())
            .map(|e| e.total_kwh)
            .map_err(|e| format!("{e:?}"))
    }
}

impl Platform for NativeHost {
    fn kv_get(&mut self, key: &str) -> Result<Option<Vec<u8>>, String> {
        wit::kv::Host::get(&mut self.0, key.into()).map_err(|e| format!("{e:?}"))
    }
    fn kv_set(&mut self, key: &str, value: &[u8]) -> Result<(), String> {
        wit::kv::Host::set(&mut self.0, key.into(), value.to_vec()).map_err(|e| format!("{e:?}"))
    }
    fn publish(&mut self, stream: &str, metrics: &[(&str, f64, &str)]) -> Result<(), String> {
        self.publish_with_details(stream, metrics, "")
    }
    fn publish_with_details(
        &mut self,
        stream: &str,
        metrics: &[(&str, f64, &str)],
        details: &str,
    ) -> Result<(), String> {
        let metrics = metrics
            .iter()
            .map(|(name, value, unit)| wit::telemetry::Metric {
                name: name.to_string(),
                value: *value,
                unit: unit.to_string(),
            })
            .collect();
        wit::telemetry::Host::publish_with_details(
            &mut self.0,
            stream.into(),
            metrics,
            details.into(),
        )
        .map_err(|e| format!("{e:?}"))
    }
    fn event(
        &mut self,
        kind: &str,
        state: EventState,
        severity: Severity,
        message: &str,
        details: &str,
    ) -> Result<(), String> {
        let state = match state {
            EventState::Raised => wit::telemetry::EventState::Raised,
            EventState::Cleared => wit::telemetry::EventState::Cleared,
            EventState::Info => wit::telemetry::EventState::Info,
        };
        let severity = match severity {
            Severity::Info => wit::telemetry::Severity::Info,
            Severity::Warning => wit::telemetry::Severity::Warning,
            Severity::Critical => wit::telemetry::Severity::Critical,
        };
        wit::telemetry::Host::event(
            &mut self.0,
            kind.into(),
            state,
            severity,
            message.into(),
            details.into(),
        )
        .map_err(|e| format!("{e:?}"))
    }
    fn log(&mut self, level: LogLevel, message: &str) {
        let level = match level {
            LogLevel::Trace => wit::log::Level::Trace,
            LogLevel::Debug => wit::log::Level::Debug,
            LogLevel::Info => wit::log::Level::Info,
            LogLevel::Warn => wit::log::Level::Warn,
            LogLevel::Error => wit::log::Level::Error,
        };
        wit::log::Host::log(&mut self.0, level, message.into());
    }
    fn utc_offset_minutes(&mut self) -> i32 {
        wit::clock::Host::utc_offset_minutes(&mut self.0)
    }
    fn location(&mut self) -> (f64, f64) {
        let g = wit::clock::Host::location(&mut self.0);
        (g.latitude, g.longitude)
    }
}

/// Instantiates the dimming plugin and runs its `init` with the default config.
fn start_dimming(rt: &Runtime, fx: &Fixture, pre: &PluginPre<PluginState>) -> Instance {
    let limits = InstanceLimits {
        memory_bytes: 64 << 20,
        call_deadline: Duration::from_secs(5),
        telemetry: Arc::new(TelemetryQuota::new(u32::MAX)),
    };
    rt.block_on(async {
        let mut instance = Instance::start(pre, identity("dimming"), fx.services.clone(), &limits)
            .await
            .unwrap();
        instance
            .call(&Call::Init("{}".into()))
            .await
            .unwrap()
            .unwrap();
        instance
    })
}

fn lux_reading(ts: u64) -> sao_runtime::devices::Reading {
    sao_runtime::devices::Reading {
        sensor: "lux".into(),
        value: 0.4,
        unit: "lx".into(),
        ts,
    }
}

fn bench_dispatch(rt: &Runtime, fx: &Fixture, engine: &SaoEngine, cache: &ComponentCache) {
    let prepared = prepare(engine.engine(), cache, &fx.trust, &fx.package, &GRANTS).unwrap();
    let mut wasm = start_dimming(rt, fx, &prepared.pre);
    let mut host = NativeHost(PluginState::new(
        identity("dimming-native"),
        fx.services.clone(),
        64 << 20,
        Duration::from_secs(5),
        Arc::new(TelemetryQuota::new(u32::MAX)),
    ));
    let mut native = Controller::new(Config::from_json("{}").unwrap(), &mut host).unwrap();

    const EVENTS: u32 = 200;
    for (name, tick) in [
        ("on-reading (lux)", false),
        ("on-tick (decide, set, persist)", true),
    ] {
        let wasm_time = median(7, || {
            let start = Instant::now();
            rt.block_on(async {
                for _ in 0..EVENTS {
                    let now = fx.clock.now_ms() + 1000;
                    fx.clock.set(now);
                    let call = if tick {
                        Call::Tick(now)
                    } else {
                        Call::Reading(lux_reading(now))
                    };
                    wasm.call(&call).await.unwrap().unwrap();
                }
            });
            fx.services.uplink.outbox().clear().unwrap();
            start.elapsed() / EVENTS
        });
        let native_time = median(7, || {
            let start = Instant::now();
            for _ in 0..EVENTS {
                let now = fx.clock.now_ms() + 1000;
                fx.clock.set(now);
                if tick {
                    native.tick(now, &mut host).unwrap();
                } else {
                    native.on_reading("lux", 0.4, now, &mut host).unwrap();
                }
            }
            fx.services.uplink.outbox().clear().unwrap();
            start.elapsed() / EVENTS
        });
        report(
            &format!("dispatch {name}"),
            wasm_time,
            native_time,
            "wasm",
            "native",
        );
    }
}

fn bench_instantiation(rt: &Runtime, fx: &Fixture) {
    let engine = SaoEngine::new(EngineOptions::default()).unwrap();
    let start_instance = |cache: &ComponentCache| {
        let start = Instant::now();
        let prepared = prepare(engine.engine(), cache, &fx.trust, &fx.package, &GRANTS).unwrap();
        start_dimming(rt, fx, &prepared.pre);
        start.elapsed()
    };
    let cold = median(5, || {
        let dir = tempfile::tempdir().unwrap();
        start_instance(&ComponentCache::new(dir.path(), engine.engine()))
    });
    let warm_dir = tempfile::tempdir().unwrap();
    let warm_cache = ComponentCache::new(warm_dir.path(), engine.engine());
    start_instance(&warm_cache);
    let cached = median(21, || start_instance(&warm_cache));
    report("install+instantiate+init", cold, cached, "cold", "cached");
}

/// Starts `sao run`, returns (time until every plugin reported running, idle RSS in KiB).
fn run_pole(config: &Path, plugins: usize) -> (Duration, u64) {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sao"))
        .args(["--log", "info", "run", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut started = 0;
    let mut ready = None;
    let mut lines = stderr.lines();
    while ready.is_none() {
        let line = lines.next().expect("sao run exited early").unwrap();
        if line.contains("state=\"running\"") || line.contains("state=running") {
            started += 1;
        }
        if started >= plugins && (plugins > 0 || line.contains("uplink")) {
            ready = Some(start.elapsed());
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    std::thread::sleep(Duration::from_secs(3));
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    (ready.unwrap(), rss)
}

fn bench_process(fx: &Fixture) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dimming.sao"), &fx.package).unwrap();
    let keys = dir.path().join("trusted");
    std::fs::create_dir_all(&keys).unwrap();
    let key = signing::generate_key();
    signing::write_key_pair(&key, &keys.join("bench")).unwrap();
    let mut package = Package::read(&fx.package).unwrap();
    package.sign(&key);
    std::fs::write(dir.path().join("dimming.sao"), package.to_bytes()).unwrap();
    let config = |name: &str, with_plugin: bool| {
        let plugin = if with_plugin {
            "[[plugins]]\npackage = \"dimming.sao\"\ngrants = [\"log\", \"clock\", \"kv\", \"telemetry\", \"lighting\"]\n"
        } else {
            ""
        };
        let text = format!(
            "[pole]\nsite = \"bench\"\nid = \"p1\"\nlatitude = 13.69\nlongitude = 101.07\n\
             [storage]\ndata-dir = \"{name}-data\"\n[trust]\nkeys-dir = \"trusted\"\n\
             [hardware]\nbackend = \"sim\"\n{plugin}"
        );
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    };
    let with = config("with", true);
    let without = config("without", false);
    let (cold_start, _) = run_pole(&with, 1);
    let warm: Vec<(Duration, u64)> = (0..5).map(|_| run_pole(&with, 1)).collect();
    let warm_start = median(5, {
        let mut it = warm.iter();
        move || it.next().unwrap().0
    });
    let rss_with = warm.iter().map(|w| w.1).min().unwrap();
    let rss_without = (0..3).map(|_| run_pole(&without, 0).1).min().unwrap();
    report(
        "sao run: start to plugins running",
        cold_start,
        warm_start,
        "cold",
        "warm",
    );
    println!(
        "{:<40} dimming {:>7} KiB   no plugin {:>7} KiB   ratio {:>7.2}x",
        "sao run: idle RSS",
        rss_with,
        rss_without,
        rss_with as f64 / rss_without as f64
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: run only for bench.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let fx = fixture();
    let engine = SaoEngine::new(EngineOptions::default()).unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = ComponentCache::new(cache_dir.path(), engine.engine());
    let rt = Runtime::new().unwrap();
    println!("sao benchmarks (median of repeated runs; ratio = first / second)");
    bench_dispatch(&rt, &fx, &engine, &cache);
    bench_instantiation(&rt, &fx);
    bench_process(&fx);
}
