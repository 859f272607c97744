//! The host side of the plugin contract: one module per WIT interface, each implemented
//! on [`PluginState`], the data of one plugin's store. A plugin's linker only gets the
//! interfaces it was granted (see [`linker`]).

mod alarm;
mod budget;
mod clock;
mod display;
mod kv;
mod lighting;
mod log;
mod sensors;
mod telemetry;
mod vision;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, ResourceLimiter};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use anyhow::Context as _;
use sao_hardware::{Pole, TimeSource};

use crate::alarm::{AlarmConfig, AlarmDevices, Alarms};
use crate::devices::{Devices, LightingPolicy};
use crate::plugin::Capability;
use crate::uplink::{Source, Uplink};
use crate::vision::CameraAccess;

use budget::{CpuBudget, YieldPoint};
pub use kv::KvStore;
pub use telemetry::TelemetryQuota;

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    exports: { default: async },
});

pub use sao::plugin::types::{Message as WitMessage, Reading as WitReading};

/// Bindings of the `vision-plugin` world (0.1.1). Its `plugin` part is the same as above;
/// only the `vision` interface is new.
pub mod vision_world {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "vision-plugin",
        exports: { default: async },
        with: {
            "sao:plugin/types": super::sao::plugin::types,
            "sao:plugin/log": super::sao::plugin::log,
            "sao:plugin/clock": super::sao::plugin::clock,
            "sao:plugin/kv": super::sao::plugin::kv,
            "sao:plugin/telemetry": super::sao::plugin::telemetry,
            "sao:plugin/lighting": super::sao::plugin::lighting,
            "sao:plugin/alarm": super::sao::plugin::alarm,
            "sao:plugin/sensors": super::sao::plugin::sensors,
            "sao:plugin/display": super::sao::plugin::display,
        },
    });
}

pub use vision_world::sao::plugin::vision as wit_vision;

/// Services of the pole shared by all plugins.
pub struct Services {
    /// The devices.
    pub devices: Arc<Devices>,
    /// The local alarm engine.
    pub alarms: Arc<Alarms>,
    /// Upstream records.
    pub uplink: Arc<Uplink>,
    /// Plugin key-value storage.
    pub kv: KvStore,
    /// The cameras plugins subscribe to, and their recent frames.
    pub cameras: CameraAccess,
}

impl Services {
    /// Shares `pole`'s devices between plugins: lamps and sensors in [`Devices`], the
    /// outputs, display and speaker in the alarm engine (which `alarm` configures).
    pub fn new(
        mut pole: Pole,
        clock: Arc<dyn TimeSource>,
        lighting: &LightingPolicy,
        alarm: AlarmConfig,
        uplink: Arc<Uplink>,
        kv: KvStore,
        cameras: CameraAccess,
    ) -> anyhow::Result<Self> {
        let alarm_devices = AlarmDevices {
            outputs: std::mem::take(&mut pole.outputs),
            display: pole.display.take(),
            speaker: pole.speaker.take(),
        };
        let devices = Arc::new(Devices::new(pole, clock, lighting));
        let alarms = Alarms::new(alarm, alarm_devices, devices.clone(), uplink.clone())
            .context("invalid [alarm] config")?;
        Ok(Self {
            devices,
            alarms: Arc::new(alarms),
            uplink,
            kv,
            cameras,
        })
    }
}

/// Who a store belongs to.
#[derive(Debug, Clone)]
pub struct PluginIdentity {
    /// Plugin id.
    pub id: String,
    /// Plugin version.
    pub version: String,
    /// Dataset name for its records.
    pub dataset: String,
    /// Smart-city dimension of its records.
    pub dimension: String,
}

impl PluginIdentity {
    /// The uplink source for this plugin's records.
    pub fn source(&self) -> Source {
        Source {
            plugin: self.id.clone(),
            version: self.version.clone(),
            dataset: self.dataset.clone(),
            dimension: self.dimension.clone(),
        }
    }
}

/// Error raised (as a trap) when a call runs past its CPU deadline.
#[derive(Debug, thiserror::Error)]
#[error("call exceeded its CPU deadline of {0:?}")]
pub struct DeadlineExceeded(pub Duration);

/// Error raised (as a trap) when the plugin asks for more memory than its cap.
#[derive(Debug, thiserror::Error)]
#[error("memory cap of {cap} bytes exceeded (asked for {desired})")]
pub struct MemoryCapExceeded {
    /// The cap.
    pub cap: usize,
    /// What the plugin asked for.
    pub desired: usize,
}

/// Per-plugin memory cap: growing past it traps the plugin, alone.
pub struct MemoryCap {
    cap: usize,
    /// Linear memory granted so far, in bytes.
    used: usize,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            return Err(wasmtime::Error::new(MemoryCapExceeded {
                cap: self.cap,
                desired,
            }));
        }
        self.used = self.used.saturating_sub(current) + desired;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The data of one plugin's store.
pub struct PluginState {
    identity: PluginIdentity,
    services: Arc<Services>,
    wasi: WasiCtx,
    table: ResourceTable,
    memory: MemoryCap,
    budget: CpuBudget,
    telemetry: Arc<TelemetryQuota>,
}

impl PluginState {
    /// State for a fresh instance of `identity`.
    pub fn new(
        identity: PluginIdentity,
        services: Arc<Services>,
        memory_cap: usize,
        call_budget: Duration,
        telemetry: Arc<TelemetryQuota>,
    ) -> Self {
        Self {
            identity,
            services,
            // No preopens, no environment, no network, no inherited stdio.
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            memory: MemoryCap {
                cap: memory_cap,
                used: 0,
            },
            budget: CpuBudget::new(call_budget),
            telemetry,
        }
    }

    /// Linear memory the instance holds, in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.memory.used
    }

    /// The memory limiter (for `Store::limiter`).
    pub fn limiter(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.memory
    }

    /// Marks the start of a handler call (for the CPU deadline).
    pub fn start_call(&mut self) {
        self.budget.start_call();
    }

    /// Runs blocking host I/O (a disk flush) without charging its time to the plugin's
    /// CPU budget: the deadline bounds the plugin's own work, not the pole's disk.
    fn uncharged<T>(&mut self, io: impl FnOnce(&Self) -> T) -> T {
        let start = Instant::now();
        let result = io(self);
        self.budget.exclude(start.elapsed());
        result
    }

    /// Called at each epoch tick during a call: `Err` once the call has used its budget,
    /// otherwise the point at which it yields to let other plugins run.
    pub fn on_epoch(&mut self) -> Result<YieldPoint, DeadlineExceeded> {
        self.budget.on_epoch()
    }

    fn now_ms(&self) -> u64 {
        self.services.devices.now_ms()
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl sao::plugin::types::Host for PluginState {}

/// Builds a linker exposing WASI (sandboxed) and exactly the `granted` capabilities.
pub fn linker(
    engine: &Engine,
    granted: &BTreeSet<Capability>,
) -> wasmtime::Result<Linker<PluginState>> {
    use sao::plugin as p;
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    p::types::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
    for capability in granted {
        match capability {
            Capability::Log => p::log::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?,
            Capability::Clock => p::clock::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?,
            Capability::Kv => p::kv::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?,
            Capability::Telemetry => {
                p::telemetry::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?
            }
            Capability::Lighting => {
                p::lighting::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?
            }
            Capability::Alarm => p::alarm::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?,
            Capability::Sensors => p::sensors::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?,
            Capability::Vision => wit_vision::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?,
            Capability::Display => p::display::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?,
        }
    }
    Ok(linker)
}
