//! One live instance of a plugin: its store (with memory cap and CPU deadline) and the
//! typed bindings to its handlers.

use std::sync::Arc;
use std::time::Duration;

use sao_vision::pipeline::{DetectedObject, FrameDetections};
use wasmtime::component::TypedFunc;
use wasmtime::{Store, UpdateDeadline};

use crate::devices::Reading;
use crate::host::wit_vision::{Detection as WitDetection, FrameInfo};
use crate::host::{
    Plugin, PluginIdentity, PluginPre, PluginState, Services, TelemetryQuota, WitMessage,
    WitReading,
};

/// The detections one plugin receives for a frame: the objects of its labels.
#[derive(Debug, Clone)]
pub struct Detections {
    /// The frame (shared by every subscriber).
    pub frame: Arc<FrameDetections>,
    /// The objects on it the plugin subscribes to.
    pub objects: Vec<DetectedObject>,
}

/// `on-detections`, typed.
type OnDetections = TypedFunc<(FrameInfo, Vec<WitDetection>), (Result<(), String>,)>;

/// `on-message`, typed.
type OnMessage = TypedFunc<(WitMessage,), (Result<(), String>,)>;

/// A message pushed to a plugin over MQTT, for `on-message`.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Its name (the topic's last segment).
    pub name: String,
    /// The JSON object, as text.
    pub payload: String,
    /// When the pole received it (pole ms).
    pub received: u64,
    /// `pole` or `group/{group}`.
    pub target: String,
}

/// A handler call.
#[derive(Debug, Clone)]
pub enum Call {
    /// `init(config)`.
    Init(String),
    /// `on-config(config)`.
    Config(String),
    /// `on-reading(reading)`.
    Reading(Reading),
    /// `on-tick(now)`.
    Tick(u64),
    /// `on-detections(frame, detections)` (vision plugins).
    Detections(Arc<Detections>),
    /// `on-message(message)` (message plugins).
    Message(Message),
}

impl Call {
    /// Handler name, for logs and reports.
    pub fn name(&self) -> &'static str {
        match self {
            Call::Init(_) => "init",
            Call::Config(_) => "on-config",
            Call::Reading(_) => "on-reading",
            Call::Tick(_) => "on-tick",
            Call::Detections(_) => "on-detections",
            Call::Message(_) => "on-message",
        }
    }
}

/// The outcome of a call that did not trap.
pub type HandlerResult = Result<(), String>;

/// A running plugin instance. Dropping it drops the store and all its memory.
pub struct Instance {
    store: Store<PluginState>,
    bindings: Plugin,
    on_detections: Option<OnDetections>,
    on_message: Option<OnMessage>,
}

/// Sandbox limits of an instance.
#[derive(Debug, Clone)]
pub struct InstanceLimits {
    /// Linear-memory cap in bytes.
    pub memory_bytes: usize,
    /// CPU budget per handler call.
    pub call_deadline: Duration,
    /// Upstream records per minute, shared by the plugin's successive instances.
    pub telemetry: Arc<TelemetryQuota>,
}

impl Instance {
    /// Instantiates the plugin in a fresh store.
    pub async fn start(
        pre: &PluginPre<PluginState>,
        identity: PluginIdentity,
        services: Arc<Services>,
        limits: &InstanceLimits,
    ) -> wasmtime::Result<Self> {
        let state = PluginState::new(
            identity,
            services,
            limits.memory_bytes,
            limits.call_deadline,
            limits.telemetry.clone(),
        );
        let mut store = Store::new(pre.engine(), state);
        store.limiter(|s| s.limiter());
        // Each epoch tick the callback charges the slice that ran: within budget, the
        // plugin yields to the executor (so other plugins run); past it, the call traps.
        store.epoch_deadline_callback(|mut ctx| {
            let resume = ctx.data_mut().on_epoch().map_err(wasmtime::Error::new)?;
            Ok(UpdateDeadline::YieldCustom(1, resume))
        });
        store.data_mut().start_call();
        store.set_epoch_deadline(1);
        let instance = pre.instance_pre().instantiate_async(&mut store).await?;
        let bindings = Plugin::new(&mut store, &instance)?;
        // The extra handlers of the vision and message worlds (install checked that the
        // world's handler exists).
        let on_detections = match instance.get_export_index(&mut store, None, "on-detections") {
            Some(index) => Some(instance.get_typed_func(&mut store, index)?),
            None => None,
        };
        let on_message = match instance.get_export_index(&mut store, None, "on-message") {
            Some(index) => Some(instance.get_typed_func(&mut store, index)?),
            None => None,
        };
        Ok(Self {
            store,
            bindings,
            on_detections,
            on_message,
        })
    }

    /// Linear memory the instance holds, in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.store.data().memory_bytes()
    }

    /// Calls a handler. `Err` is a trap (the instance must be dropped); `Ok(Err(_))` is
    /// an error the plugin returned.
    pub async fn call(&mut self, call: &Call) -> wasmtime::Result<HandlerResult> {
        self.store.data_mut().start_call();
        self.store.set_epoch_deadline(1);
        let store = &mut self.store;
        let b = &self.bindings;
        match call {
            Call::Init(config) => b.call_init(store, config).await,
            Call::Config(config) => b.call_on_config(store, config).await,
            Call::Reading(r) => b.call_on_reading(store, &WitReading::from(r.clone())).await,
            Call::Tick(now) => b.call_on_tick(store, *now).await,
            Call::Detections(d) => {
                let Some(handler) = self.on_detections else {
                    return Ok(Err("the plugin has no on-detections handler".into()));
                };
                let frame = FrameInfo::from(d.frame.as_ref());
                let objects = d.objects.iter().map(WitDetection::from).collect();
                let (result,) = handler.call_async(&mut *store, (frame, objects)).await?;
                Ok(result)
            }
            Call::Message(m) => {
                let Some(handler) = self.on_message else {
                    return Ok(Err("the plugin has no on-message handler".into()));
                };
                let message = WitMessage {
                    name: m.name.clone(),
                    payload: m.payload.clone(),
                    received: m.received,
                    target: m.target.clone(),
                };
                let (result,) = handler.call_async(&mut *store, (message,)).await?;
                Ok(result)
            }
        }
    }
}
