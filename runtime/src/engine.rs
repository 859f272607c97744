//! The wasmtime engine: configuration, the epoch ticker that enforces per-call CPU
//! deadlines, and the on-disk cache of compiled components.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine, OptLevel};

/// How often the epoch advances. A call's deadline is checked at this granularity.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Engine options a pole can change. Any change yields a different compatibility hash
/// and therefore a separate cache directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineOptions {
    /// Cranelift optimisation level: speed (default) or none (faster compiles).
    pub optimize: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self { optimize: true }
    }
}

/// A configured engine plus its epoch ticker thread (stopped on drop).
pub struct SaoEngine {
    engine: Engine,
    stop: Arc<AtomicBool>,
    ticker: Option<thread::JoinHandle<()>>,
}

impl SaoEngine {
    /// Builds the engine (async, epoch interruption, no threads/GC) and starts its ticker.
    pub fn new(options: EngineOptions) -> anyhow::Result<Self> {
        let mut config = Config::new();
        config
            .epoch_interruption(true)
            .wasm_component_model(true)
            .cranelift_opt_level(if options.optimize {
                OptLevel::Speed
            } else {
                OptLevel::None
            });
        let engine = Engine::new(&config)
            .map_err(anyhow::Error::from)
            .context("configuring wasmtime")?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let engine = engine.clone();
            let stop = stop.clone();
            thread::Builder::new()
                .name("sao-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                })
                .context("starting the epoch ticker")?
        };
        Ok(Self {
            engine,
            stop,
            ticker: Some(ticker),
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

impl Drop for SaoEngine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

/// Feeds `Hash` output into SHA-256 so the key is stable across processes and builds
/// (unlike `DefaultHasher`).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        unreachable!("only the full digest is used")
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// Hex digest of the engine's precompile compatibility hash: equal for engines that
/// can load each other's artifacts.
pub fn engine_fingerprint(engine: &Engine) -> String {
    let mut hasher = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hex::encode(&hasher.0.finalize()[..16])
}

/// Where a component came from when loaded through the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded a compiled artifact this host wrote earlier.
    Hit,
    /// Compiled from wasm (nothing cached, or the cached artifact was unusable).
    Compiled,
}

/// Compiled components on disk, under `<dir>/<engine fingerprint>/<component sha256>.cwasm`.
///
/// Only artifacts this host compiled itself are ever deserialised: package contents are
/// always compiled from wasm. An artifact that fails to load (written by a different
/// engine, truncated, corrupted) is recompiled and replaced.
pub struct ComponentCache {
    dir: PathBuf,
    hits: AtomicU64,
    compiles: AtomicU64,
}

impl ComponentCache {
    /// A cache rooted at `root` for `engine`.
    pub fn new(root: &Path, engine: &Engine) -> Self {
        Self {
            dir: root.join(engine_fingerprint(engine)),
            hits: AtomicU64::new(0),
            compiles: AtomicU64::new(0),
        }
    }

    /// Directory holding this engine's artifacts.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of the artifact for `wasm`.
    pub fn artifact_path(&self, wasm: &[u8]) -> PathBuf {
        self.dir
            .join(format!("{}.cwasm", hex::encode(Sha256::digest(wasm))))
    }

    /// Loads the compiled form of `wasm`, compiling and caching it if needed.
    pub fn load(&self, engine: &Engine, wasm: &[u8]) -> anyhow::Result<(Component, CacheOutcome)> {
        let path = self.artifact_path(wasm);
        if path.exists() {
            // SAFETY: the file is in the host's private data directory and was written by
            // `Engine::precompile_component` of a host build; wasmtime checks the engine
            // compatibility header before using it and errors on mismatch.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok((component, CacheOutcome::Hit));
                }
                Err(e) => tracing::warn!(
                    artifact = %path.display(),
                    "cached component unusable, recompiling: {e:#}"
                ),
            }
        }
        let compiled = engine
            .precompile_component(wasm)
            .map_err(anyhow::Error::from)
            .context("compiling the component")?;
        self.compiles.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = write_atomically(&path, &compiled) {
            tracing::warn!(artifact = %path.display(), "cannot cache compiled component: {e:#}");
        }
        // SAFETY: `compiled` was just produced by this engine.
        let component = unsafe { Component::deserialize(engine, &compiled) }
            .map_err(anyhow::Error::from)
            .context("loading the freshly compiled component")?;
        Ok((component, CacheOutcome::Compiled))
    }

    /// Number of cache hits and compilations so far.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.compiles.load(Ordering::Relaxed),
        )
    }
}

/// Writes `bytes` to `path` via a temporary file and rename, so a crash never leaves a
/// half-written file under the final name.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().context("path has no parent")?;
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
