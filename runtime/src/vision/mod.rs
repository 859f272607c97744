//! The pole's cameras for plugins: runs one `sao-vision` pipeline per camera with the
//! model its subscribers ship, shares model sessions between plugins, keeps the recent
//! frames for snapshots, and turns camera health changes into upstream events.
//!
//! One model per camera: the first vision plugin subscribing to a camera decides which
//! model runs on it; later subscribers must ship the same model (same bytes) or are
//! refused with a message naming the camera, so a camera's frames are decoded once.

pub mod evaluate;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;

use sao_vision::detector::{Detector, OnnxRuntime, Threads};
use sao_vision::health::{CameraState, HealthChange};
use sao_vision::inference::{InferenceConfig, InferenceSlots};
use sao_vision::model::ModelSpec;
use sao_vision::pipeline::{
    Camera, CameraConfig, CameraPipeline, RecentFrames, SnapshotError, VisionEvent,
};
use sao_vision::snapshot::{Privacy, Snapshot};

use crate::uplink::{Event, EventState, Severity, Source, Uplink};

/// `[vision]` in `pole.toml`: how the box runs inference and what snapshots hide.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct VisionConfig {
    /// `libonnxruntime.so` to load (default: `$ORT_DYLIB_PATH`, else the copy beside the
    /// build, else the system library).
    pub onnxruntime: Option<PathBuf>,
    /// Inference concurrency, timeout and threads.
    #[serde(default)]
    pub inference: InferenceConfig,
    /// What snapshots blur (people and licence plates by default, for the PDPA).
    #[serde(default)]
    pub privacy: Privacy,
}

/// What plugins may see of the cameras: their subscriptions and the recent frames, for
/// snapshots. Shared between the hub and every plugin's store.
#[derive(Clone, Default)]
pub struct CameraAccess {
    inner: Arc<Mutex<Access>>,
}

#[derive(Default)]
struct Access {
    privacy: Privacy,
    frames: BTreeMap<String, RecentFrames>,
    plugins: BTreeMap<String, Vec<String>>,
}

/// Why a plugin could not have a snapshot.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AccessError {
    /// The plugin does not subscribe to the camera.
    #[error("plugin does not subscribe to camera `{0}`")]
    UnknownCamera(String),
    /// The frame could not be rendered.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
}

impl CameraAccess {
    fn lock(&self) -> MutexGuard<'_, Access> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cameras `plugin` receives detections from.
    pub fn cameras(&self, plugin: &str) -> Vec<String> {
        self.lock().plugins.get(plugin).cloned().unwrap_or_default()
    }

    /// An annotated, privacy-blurred JPEG of a recent frame of `camera` for `plugin`.
    pub fn snapshot(
        &self,
        plugin: &str,
        camera: &str,
        frame_id: Option<u64>,
        highlight: &[u64],
    ) -> Result<(u64, Snapshot), AccessError> {
        let (frames, privacy) = {
            let access = self.lock();
            let subscribed = access
                .plugins
                .get(plugin)
                .is_some_and(|cameras| cameras.iter().any(|c| c == camera));
            let frames = access
                .frames
                .get(camera)
                .filter(|_| subscribed)
                .ok_or_else(|| AccessError::UnknownCamera(camera.to_string()))?;
            (frames.clone(), access.privacy.clone())
        };
        Ok(frames.snapshot(frame_id, highlight, &privacy)?)
    }

    /// The host's own view (an SOS photo, the technician page): the latest frame of
    /// `camera` with its detection boxes, privacy-blurred like every snapshot. `None`
    /// when the camera does not run or has no inferred frame yet.
    pub fn latest(&self, camera: &str) -> Option<Snapshot> {
        let (frames, privacy) = {
            let access = self.lock();
            (access.frames.get(camera)?.clone(), access.privacy.clone())
        };
        match frames.snapshot(None, &[], &privacy) {
            Ok((_, snapshot)) => Some(snapshot),
            Err(e) => {
                tracing::debug!(camera, "no snapshot: {e}");
                None
            }
        }
    }

    /// The cameras that run (have a frame buffer), in name order.
    pub fn running(&self) -> Vec<String> {
        self.lock().frames.keys().cloned().collect()
    }
}

/// A running camera and what runs on it.
struct Feed {
    camera: Camera,
    model_digest: [u8; 32],
    model_owner: String,
}

/// The cameras of the pole and the plugins watching them.
pub struct VisionHub {
    config: VisionConfig,
    cameras: Vec<CameraConfig>,
    slots: InferenceSlots,
    detectors: BTreeMap<[u8; 32], Arc<Detector>>,
    feeds: BTreeMap<String, Feed>,
    access: CameraAccess,
    events: mpsc::Sender<VisionEvent>,
    receiver: Option<mpsc::Receiver<VisionEvent>>,
    /// Why a plugin's cameras could not start, by plugin.
    failures: BTreeMap<String, String>,
}

impl VisionHub {
    /// A hub for the configured cameras; nothing runs until a plugin subscribes.
    pub fn new(config: VisionConfig, cameras: Vec<CameraConfig>) -> Self {
        let (events, receiver) = mpsc::channel(64);
        let access = CameraAccess::default();
        access.lock().privacy = config.privacy.clone();
        Self {
            slots: InferenceSlots::new(&config.inference),
            config,
            cameras,
            detectors: BTreeMap::new(),
            feeds: BTreeMap::new(),
            access,
            events,
            receiver: Some(receiver),
            failures: BTreeMap::new(),
        }
    }

    /// The shared camera access for plugin stores.
    pub fn access(&self) -> CameraAccess {
        self.access.clone()
    }

    /// The events of every camera (detections, health); can be taken once, by the loop
    /// that delivers them.
    pub fn take_events(&mut self) -> Option<mpsc::Receiver<VisionEvent>> {
        self.receiver.take()
    }

    /// The configured camera names.
    pub fn camera_names(&self) -> impl Iterator<Item = &str> {
        self.cameras.iter().map(|c| c.name.as_str())
    }

    /// Starts the cameras `plugin` subscribes to (those not yet running) with its model
    /// (`model` describes it, `bytes` is the ONNX file from its package). Returns the
    /// cameras it now receives; a failure is also kept for [`VisionHub::failure`].
    pub fn subscribe(
        &mut self,
        plugin: &str,
        wanted: &[String],
        model: &ModelSpec,
        bytes: &[u8],
    ) -> Result<Vec<String>, String> {
        let result = self.start_cameras(plugin, wanted, model, bytes);
        match &result {
            Ok(_) => self.failures.remove(plugin),
            Err(reason) => self.failures.insert(plugin.to_string(), reason.clone()),
        };
        result
    }

    /// Why `plugin`'s cameras could not start, if they could not.
    pub fn failure(&self, plugin: &str) -> Option<&str> {
        self.failures.get(plugin).map(String::as_str)
    }

    fn start_cameras(
        &mut self,
        plugin: &str,
        wanted: &[String],
        model: &ModelSpec,
        bytes: &[u8],
    ) -> Result<Vec<String>, String> {
        let cameras: Vec<CameraConfig> = self
            .cameras
            .iter()
            .filter(|c| wanted.iter().any(|w| w == "*" || *w == c.name))
            .cloned()
            .collect();
        if let Some(missing) = wanted
            .iter()
            .find(|w| *w != "*" && !self.cameras.iter().any(|c| &c.name == *w))
        {
            return Err(format!("camera `{missing}` is not configured on this pole"));
        }
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        for camera in &cameras {
            if let Some(feed) = self.feeds.get(&camera.name) {
                if feed.model_digest != digest {
                    return Err(format!(
                        "camera `{}` already runs the model of plugin `{}`; a camera runs one model",
                        camera.name, feed.model_owner
                    ));
                }
            }
        }
        let detector = self.detector(model, bytes, digest)?;
        for camera in &cameras {
            if self.feeds.contains_key(&camera.name) {
                continue;
            }
            let pipeline = CameraPipeline::new(camera, detector.clone(), self.slots.clone())
                .map_err(|e| format!("camera `{}`: {e}", camera.name))?;
            let recent = pipeline.recent();
            let running = Camera::start(camera, pipeline, self.events.clone())?;
            tracing::info!(camera = %camera.name, model = %model.name, plugin, "camera started");
            self.access
                .lock()
                .frames
                .insert(camera.name.clone(), recent);
            self.feeds.insert(
                camera.name.clone(),
                Feed {
                    camera: running,
                    model_digest: digest,
                    model_owner: plugin.to_string(),
                },
            );
        }
        let names: Vec<String> = cameras.into_iter().map(|c| c.name).collect();
        self.access
            .lock()
            .plugins
            .insert(plugin.to_string(), names.clone());
        Ok(names)
    }

    /// Forgets `plugin`'s subscription (its cameras keep running for the others).
    pub fn unsubscribe(&mut self, plugin: &str) {
        self.access.lock().plugins.remove(plugin);
        self.failures.remove(plugin);
    }

    /// Wakes the running cameras whose wake sensor fired in `readings` (a non-zero value).
    pub fn wake(&self, readings: &[crate::devices::Reading]) {
        for config in &self.cameras {
            let Some(sensor) = &config.wake_sensor else {
                continue;
            };
            let fired = readings
                .iter()
                .any(|r| &r.sensor == sensor && r.value != 0.0);
            if let (true, Some(feed)) = (fired, self.feeds.get(&config.name)) {
                tracing::debug!(camera = %config.name, %sensor, "woken");
                feed.camera.wake();
            }
        }
    }

    /// Limits inference on every camera to `duty` of the time (thermal derating).
    pub fn set_inference_duty(&self, duty: f64) {
        if (self.slots.duty() - duty).abs() > f64::EPSILON {
            tracing::warn!(duty, "inference duty changed");
            self.slots.set_duty(duty);
        }
    }

    /// Counters of each running camera.
    pub fn stats(&self) -> BTreeMap<String, sao_vision::pipeline::StatsSnapshot> {
        self.feeds
            .iter()
            .map(|(name, feed)| (name.clone(), feed.camera.stats()))
            .collect()
    }

    /// Stops every camera.
    pub async fn stop(&mut self) {
        for (_, feed) in std::mem::take(&mut self.feeds) {
            feed.camera.stop().await;
        }
    }

    fn detector(
        &mut self,
        model: &ModelSpec,
        bytes: &[u8],
        digest: [u8; 32],
    ) -> Result<Arc<Detector>, String> {
        if let Some(detector) = self.detectors.get(&digest) {
            return Ok(detector.clone());
        }
        let runtime =
            OnnxRuntime::load(self.config.onnxruntime.as_deref()).map_err(|e| e.to_string())?;
        let inference = &self.config.inference;
        let threads = Threads {
            intra: match inference.intra_threads {
                0 => Threads::default().intra,
                n => n,
            },
            inter: inference.inter_threads.max(1),
        };
        let detector = Arc::new(
            Detector::load_from_memory(runtime, model.clone(), bytes, threads)
                .map_err(|e| e.to_string())?,
        );
        self.detectors.insert(digest, detector.clone());
        Ok(detector)
    }
}

/// Reports a camera's health change upstream (`evt/sao/camera-health`): raised when it
/// stops doing its job, cleared when it is back.
pub fn report_health(uplink: &Uplink, camera: &str, change: &HealthChange) {
    let healthy = change.state.is_healthy();
    let state_name = |s: CameraState| serde_json::to_value(s).unwrap_or_default();
    let _ = uplink.event(
        &Source::host(),
        &Event {
            kind: "camera-health",
            state: if healthy {
                EventState::Cleared
            } else {
                EventState::Raised
            },
            severity: if healthy {
                Severity::Info
            } else {
                Severity::Warning
            },
            message: &format!("camera `{camera}`: {}", change.detail),
            details: serde_json::json!({
                "camera": camera,
                "state": state_name(change.state),
                "previous": state_name(change.previous),
            }),
        },
        change.ts_ms,
    );
}
