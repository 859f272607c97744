//! One camera's pipeline: capture thread → motion and health → gate → inference → tracker
//! → events for the host, with the recent frames kept for snapshots.
//!
//! Threading: OpenCV reads on the camera's own thread ([`crate::capture`]), which decodes
//! the next frame while this one is analysed; motion and health analysis and inference
//! run on tokio's blocking pool (inference behind the box's [`InferenceSlots`]); the
//! camera task itself only routes and tracks, so it never blocks an async worker.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opencv::core::Mat;
use opencv::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::capture::{now_ms, Capture, CaptureConfig, CaptureEvent, CaptureStatus, Frame, Source};
use crate::detector::{Detector, DetectorError};
use crate::gate::{Gate, GateConfig, Trigger};
use crate::geometry::BoundingBox;
use crate::health::{CameraState, HealthChange, HealthConfig, HealthMonitor};
use crate::inference::{InferenceError, InferenceSlots};
use crate::motion::{MotionConfig, MotionDetector};
use crate::snapshot::{render, Annotation, Privacy, Snapshot};
use crate::track::{TrackedObject, Tracker, TrackerConfig};

/// One camera as the pole config declares it (`[[cameras]]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CameraConfig {
    /// Name plugins subscribe to, e.g. `forest-edge`.
    pub name: String,
    /// File path, `rtsp://…` URL or `/dev/videoN`.
    pub source: String,
    /// Reading and reconnecting.
    #[serde(default)]
    pub capture: CaptureConfig,
    /// Background subtraction.
    #[serde(default)]
    pub motion: MotionConfig,
    /// When the detector runs, and on which regions.
    #[serde(default)]
    pub gate: GateConfig,
    /// Health thresholds.
    #[serde(default)]
    pub health: HealthConfig,
    /// Tracking.
    #[serde(default)]
    pub tracker: TrackerConfig,
    /// Inferred frames kept for snapshots.
    #[serde(default = "default_keep_frames")]
    pub keep_frames: usize,
    /// A pole sensor (the PIR `motion` sensor, say) whose firing wakes this camera: the
    /// detector then runs on every frame for `gate.wake-ms`, motion or not.
    #[serde(default)]
    pub wake_sensor: Option<String>,
}

fn default_keep_frames() -> usize {
    16
}

impl CameraConfig {
    /// A camera reading `source` with every default.
    pub fn new(name: &str, source: &str) -> Self {
        Self {
            name: name.into(),
            source: source.into(),
            capture: CaptureConfig::default(),
            motion: MotionConfig::default(),
            gate: GateConfig::default(),
            health: HealthConfig::default(),
            tracker: TrackerConfig::default(),
            keep_frames: default_keep_frames(),
            wake_sensor: None,
        }
    }
}

/// One tracked object on a frame, as plugins receive it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DetectedObject {
    /// Class label (`elephant`, `car`, …).
    pub label: String,
    /// Class id in the model's list.
    pub class_id: u32,
    /// Confidence of this frame's detection.
    pub score: f32,
    /// Box in frame pixels.
    pub bbox: BoundingBox,
    /// Stable id of the track.
    pub track_id: u64,
    /// Velocity of the box centre, pixels per second.
    pub velocity: (f32, f32),
    /// Time since the track started, milliseconds.
    pub age_ms: u64,
    /// Frames the track was matched in.
    pub hits: u32,
}

/// The objects on one inferred frame.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FrameDetections {
    /// Camera name.
    pub camera: String,
    /// Frame number within the camera's run.
    pub frame_id: u64,
    /// Capture time, milliseconds since the Unix epoch.
    pub ts_ms: u64,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Why the detector ran.
    pub trigger: Trigger,
    /// Regions the detector ran on.
    pub regions: u32,
    /// Confirmed tracks seen on this frame.
    pub objects: Vec<DetectedObject>,
}

/// What a camera pipeline tells the host.
#[derive(Clone, Debug)]
pub enum VisionEvent {
    /// Objects on an inferred frame.
    Detections(Arc<FrameDetections>),
    /// The camera's health changed.
    Health {
        /// Camera name.
        camera: String,
        /// The change.
        change: HealthChange,
    },
    /// Inference failed on a frame (the pipeline goes on).
    InferenceFailed {
        /// Camera name.
        camera: String,
        /// Why.
        reason: String,
    },
}

/// Counters of one camera's pipeline.
#[derive(Debug, Default)]
pub struct PipelineStats {
    frames: AtomicU64,
    inferences: AtomicU64,
    skipped: AtomicU64,
    derated: AtomicU64,
    failures: AtomicU64,
    inference_us: AtomicU64,
    counts: Mutex<BTreeMap<String, u64>>,
}

/// A copy of the counters.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StatsSnapshot {
    /// Frames received from the camera.
    pub frames: u64,
    /// Frames the detector ran on.
    pub inferences: u64,
    /// Frames the gate skipped.
    pub skipped: u64,
    /// Frames not inferred because the box was cooling down (thermal derating).
    pub derated: u64,
    /// Inferences that failed or timed out.
    pub failures: u64,
    /// Mean inference time, milliseconds.
    pub mean_inference_ms: f64,
    /// Objects tracked so far, by label: each confirmed track counts once, under its
    /// label when first confirmed (a traffic count).
    pub counts: BTreeMap<String, u64>,
}

impl PipelineStats {
    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let inferences = self.inferences.load(Ordering::Relaxed);
        StatsSnapshot {
            frames: self.frames.load(Ordering::Relaxed),
            inferences,
            skipped: self.skipped.load(Ordering::Relaxed),
            derated: self.derated.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            mean_inference_ms: self.inference_us.load(Ordering::Relaxed) as f64
                / 1000.0
                / inferences.max(1) as f64,
            counts: self
                .counts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }
}

/// Why a snapshot could not be made.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SnapshotError {
    /// The frame is no longer (or never was) among the recent ones.
    #[error("frame {0} is no longer kept")]
    FrameExpired(u64),
    /// No frame was inferred yet.
    #[error("no frame yet")]
    NoFrame,
    /// Encoding failed.
    #[error("encoding the snapshot: {0}")]
    Encode(String),
}

struct KeptFrame {
    id: u64,
    image: Arc<Mat>,
    annotations: Vec<Annotation>,
}

/// The recent inferred frames of a camera, for snapshots (shared with the host).
#[derive(Clone)]
pub struct RecentFrames {
    frames: Arc<Mutex<VecDeque<KeptFrame>>>,
    keep: usize,
}

impl RecentFrames {
    fn new(keep: usize) -> Self {
        Self {
            frames: Arc::new(Mutex::new(VecDeque::with_capacity(keep))),
            keep: keep.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<KeptFrame>> {
        self.frames.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, frame: KeptFrame) {
        let mut frames = self.lock();
        if frames.len() == self.keep {
            frames.pop_front();
        }
        frames.push_back(frame);
    }

    /// An annotated JPEG of frame `frame_id` (the latest when `None`), with the tracks in
    /// `highlight` drawn in red and what `privacy` hides blurred.
    pub fn snapshot(
        &self,
        frame_id: Option<u64>,
        highlight: &[u64],
        privacy: &Privacy,
    ) -> Result<(u64, Snapshot), SnapshotError> {
        let (id, image, mut annotations) = {
            let frames = self.lock();
            let kept = match frame_id {
                None => frames.back().ok_or(SnapshotError::NoFrame)?,
                Some(id) => frames
                    .iter()
                    .find(|f| f.id == id)
                    .ok_or(SnapshotError::FrameExpired(id))?,
            };
            (kept.id, kept.image.clone(), kept.annotations.clone())
        };
        for a in &mut annotations {
            a.highlight = a.track_id.is_some_and(|t| highlight.contains(&t));
        }
        render(&image, &annotations, privacy)
            .map(|s| (id, s))
            .map_err(|e| SnapshotError::Encode(e.to_string()))
    }
}

/// Motion and health analysis of frames (moved onto the blocking pool for each frame).
struct Analyser {
    motion: MotionDetector,
    health: Arc<Mutex<HealthMonitor>>,
}

/// The per-frame work of one camera, without the capture thread: usable on frames from
/// anywhere (the camera task, `sao vision run`, benchmarks).
pub struct CameraPipeline {
    name: String,
    detector: Arc<Detector>,
    slots: InferenceSlots,
    analyser: Option<Analyser>,
    health: Arc<Mutex<HealthMonitor>>,
    gate: Gate,
    tracker: Tracker,
    recent: RecentFrames,
    stats: Arc<PipelineStats>,
    /// Live confirmed tracks already counted.
    counted: BTreeSet<u64>,
    /// Set by [`Camera::wake`]; taken at the next frame.
    wake_requested: Arc<AtomicBool>,
    /// Frame time of the next health check when the gate runs on every frame.
    next_health_ms: u64,
}

/// Interval of health checks when motion is not computed (gate `always`), frame time.
const HEALTH_SAMPLE_MS: u64 = 500;

impl CameraPipeline {
    /// A pipeline for `config`'s camera running `detector` in `slots`.
    pub fn new(
        config: &CameraConfig,
        detector: Arc<Detector>,
        slots: InferenceSlots,
    ) -> Result<Self, DetectorError> {
        let health = Arc::new(Mutex::new(HealthMonitor::new(config.health.clone())));
        let side = detector.spec().input[0].max(detector.spec().input[1]);
        Ok(Self {
            name: config.name.clone(),
            slots,
            analyser: Some(Analyser {
                motion: MotionDetector::new(config.motion.clone())?,
                health: health.clone(),
            }),
            health,
            gate: Gate::new(config.gate.clone(), side),
            tracker: Tracker::new(config.tracker.clone()),
            recent: RecentFrames::new(config.keep_frames),
            stats: Arc::new(PipelineStats::default()),
            detector,
            counted: BTreeSet::new(),
            wake_requested: Arc::new(AtomicBool::new(false)),
            next_health_ms: 0,
        })
    }

    /// The recent frames, for snapshots.
    pub fn recent(&self) -> RecentFrames {
        self.recent.clone()
    }

    /// The counters.
    pub fn stats(&self) -> Arc<PipelineStats> {
        self.stats.clone()
    }

    /// Wakes the camera (its PIR sensor fired): from the next frame on, the detector runs
    /// on every frame for the gate's `wake-ms`.
    pub fn wake(&self) {
        self.wake_requested.store(true, Ordering::Relaxed);
    }

    /// The camera's current health state.
    pub fn state(&self) -> CameraState {
        self.health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .state()
    }

    /// Handles one event from the capture thread.
    pub async fn handle(&mut self, event: CaptureEvent) -> Vec<VisionEvent> {
        match event {
            CaptureEvent::Status(status) => {
                if status == CaptureStatus::Connected {
                    // A reconnected camera may look elsewhere: learn the background anew.
                    if let Some(analyser) = self.analyser.as_mut() {
                        let _ = analyser.motion.reset();
                    }
                }
                let change = self.lock_health().on_status(&status, now_ms());
                change.map(|c| self.health_event(c)).into_iter().collect()
            }
            CaptureEvent::Frame(frame) => self.frame(frame).await,
        }
    }

    /// A periodic check: reports a camera that went silent.
    pub fn tick(&mut self, now_ms: u64) -> Option<VisionEvent> {
        let change = self.lock_health().on_tick(now_ms);
        change.map(|c| self.health_event(c))
    }

    fn lock_health(&self) -> std::sync::MutexGuard<'_, HealthMonitor> {
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn health_event(&self, change: HealthChange) -> VisionEvent {
        VisionEvent::Health {
            camera: self.name.clone(),
            change,
        }
    }

    async fn frame(&mut self, frame: Frame) -> Vec<VisionEvent> {
        self.stats.frames.fetch_add(1, Ordering::Relaxed);
        let mut events = Vec::new();
        let Some(mut analyser) = self.analyser.take() else {
            return events;
        };
        let image = Arc::new(frame.image);
        let analysed_image = image.clone();
        let ts_ms = frame.ts_ms;
        if self.wake_requested.swap(false, Ordering::Relaxed) {
            self.gate.wake(ts_ms);
        }
        // A gate that runs the detector on every frame needs no motion; health then
        // samples a frame every HEALTH_SAMPLE_MS, which is plenty for states that must
        // last seconds.
        let gating = !self.gate.always();
        let check_health = gating || ts_ms >= self.next_health_ms;
        if check_health {
            self.next_health_ms = ts_ms + HEALTH_SAMPLE_MS;
        }
        let analysis = tokio::task::spawn_blocking(move || {
            let motion = if gating {
                analyser.motion.detect(&analysed_image)
            } else {
                Ok(Vec::new())
            };
            let health = if !check_health {
                Ok(None)
            } else {
                let thumbnail = if gating {
                    Ok(analyser.motion.last_thumbnail())
                } else {
                    analyser.motion.thumbnail(&analysed_image)
                };
                thumbnail.and_then(|t| {
                    analyser
                        .health
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .on_frame(t, ts_ms)
                })
            };
            (analyser, motion, health)
        })
        .await;
        let (analyser, motion, health) = match analysis {
            Ok(result) => result,
            Err(e) => {
                tracing::error!(camera = %self.name, "frame analysis panicked: {e}");
                return events;
            }
        };
        self.analyser = Some(analyser);
        match health {
            Ok(Some(change)) => events.push(self.health_event(change)),
            Ok(None) => {}
            Err(e) => tracing::warn!(camera = %self.name, "health check failed: {e}"),
        }
        let motion = match motion {
            Ok(boxes) => boxes,
            Err(e) => {
                tracing::warn!(camera = %self.name, "motion detection failed: {e}");
                Vec::new()
            }
        };
        let Ok(size) = image.size() else {
            return events;
        };
        let (width, height) = (size.width as u32, size.height as u32);
        if self.slots.cooling() {
            self.stats.derated.fetch_add(1, Ordering::Relaxed);
            return events;
        }
        let tracked: Vec<BoundingBox> = self.tracker.tracks().map(|t| t.bbox).collect();
        let Some(plan) = self.gate.plan((width, height), ts_ms, &motion, &tracked) else {
            self.stats.skipped.fetch_add(1, Ordering::Relaxed);
            return events;
        };
        let detector = self.detector.clone();
        let regions = plan.regions.clone();
        let inferred_image = image.clone();
        let started = Instant::now();
        let result = self
            .slots
            .run(move |options| detector.detect_regions(&inferred_image, &regions, options))
            .await;
        let detections = match result {
            Ok(Ok(detections)) => detections,
            Ok(Err(e)) => return self.failed(events, e.to_string()),
            Err(InferenceError::Timeout(t)) => {
                return self.failed(events, format!("inference exceeded its timeout of {t:?}"))
            }
            Err(e) => return self.failed(events, e.to_string()),
        };
        self.stats.inferences.fetch_add(1, Ordering::Relaxed);
        self.stats
            .inference_us
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        let objects: Vec<DetectedObject> = self
            .tracker
            .update(&detections, ts_ms)
            .into_iter()
            .map(|t| self.object(t))
            .collect();
        self.count(&objects);
        self.recent.push(KeptFrame {
            id: frame.id,
            image,
            annotations: objects
                .iter()
                .map(|o| Annotation {
                    label: o.label.clone(),
                    score: o.score,
                    bbox: o.bbox,
                    track_id: Some(o.track_id),
                    highlight: false,
                })
                .collect(),
        });
        events.push(VisionEvent::Detections(Arc::new(FrameDetections {
            camera: self.name.clone(),
            frame_id: frame.id,
            ts_ms,
            width,
            height,
            trigger: plan.trigger,
            regions: plan.regions.len() as u32,
            objects,
        })));
        events
    }

    fn count(&mut self, objects: &[DetectedObject]) {
        let live: BTreeSet<u64> = self.tracker.tracks().map(|t| t.track_id).collect();
        self.counted.retain(|id| live.contains(id));
        for object in objects {
            if self.counted.insert(object.track_id) {
                let mut counts = self.stats.counts.lock().unwrap_or_else(|p| p.into_inner());
                *counts.entry(object.label.clone()).or_default() += 1;
            }
        }
    }

    fn failed(&self, mut events: Vec<VisionEvent>, reason: String) -> Vec<VisionEvent> {
        self.stats.failures.fetch_add(1, Ordering::Relaxed);
        events.push(VisionEvent::InferenceFailed {
            camera: self.name.clone(),
            reason,
        });
        events
    }

    fn object(&self, t: TrackedObject) -> DetectedObject {
        DetectedObject {
            label: self.detector.label(t.class_id),
            class_id: t.class_id,
            score: t.score,
            bbox: t.bbox,
            track_id: t.track_id,
            velocity: t.velocity,
            age_ms: t.age_ms,
            hits: t.hits,
        }
    }
}

/// A running camera: its capture thread and pipeline task.
pub struct Camera {
    capture: Option<Capture>,
    task: tokio::task::JoinHandle<()>,
    recent: RecentFrames,
    stats: Arc<PipelineStats>,
    wake_requested: Arc<AtomicBool>,
}

impl Camera {
    /// Starts capturing `config`'s camera and running `pipeline` on its frames; events go
    /// to `events`. Health is checked every second even when no frame comes.
    pub fn start(
        config: &CameraConfig,
        mut pipeline: CameraPipeline,
        events: mpsc::Sender<VisionEvent>,
    ) -> Result<Self, String> {
        let source: Source = config.source.parse()?;
        let depth = if config.capture.realtime { 1 } else { 4 };
        let (capture, mut frames) =
            Capture::start(&config.name, source, config.capture.clone(), depth)
                .map_err(|e| format!("camera `{}`: cannot start capture: {e}", config.name))?;
        let recent = pipeline.recent();
        let stats = pipeline.stats();
        let wake_requested = pipeline.wake_requested.clone();
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_secs(1));
            loop {
                let produced = tokio::select! {
                    event = frames.recv() => match event {
                        Some(event) => pipeline.handle(event).await,
                        None => break,
                    },
                    _ = ticks.tick() => pipeline.tick(now_ms()).into_iter().collect(),
                };
                for event in produced {
                    if events.send(event).await.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(Self {
            capture: Some(capture),
            task,
            recent,
            stats,
            wake_requested,
        })
    }

    /// Wakes the camera (its PIR sensor fired): from the next frame on, the detector runs
    /// on every frame for the gate's `wake-ms`.
    pub fn wake(&self) {
        self.wake_requested.store(true, Ordering::Relaxed);
    }

    /// The recent frames, for snapshots.
    pub fn recent(&self) -> &RecentFrames {
        &self.recent
    }

    /// The counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Stops capture and the pipeline.
    pub async fn stop(mut self) {
        if let Some(capture) = self.capture.take() {
            let _ = tokio::task::spawn_blocking(move || capture.stop()).await;
        }
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}
