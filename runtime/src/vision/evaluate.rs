//! `sao vision detect`, `sao vision run` and `sao vision clip`: the vision pipeline on
//! files, for vendors evaluating a model and integrators checking a plugin before it goes
//! on a pole.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use opencv::imgcodecs;
use opencv::prelude::*;
use serde_json::json;

use sao_hardware::sim::{build_sim_pole, SimConfig};
use sao_hardware::{SimClock, SystemClock, TimeSource};
use sao_vision::capture::Source;
use sao_vision::clip::{Look, Segment};
use sao_vision::decode::Head;
use sao_vision::detector::{Detector, OnnxRuntime, Threads};
use sao_vision::geometry::LetterboxAlign;
use sao_vision::health::CameraState;
use sao_vision::model::{ColourOrder, ModelSpec};
use sao_vision::pipeline::VisionEvent;

use crate::alarm::Alarms;
use crate::config::PoleConfig;
use crate::engine::EngineOptions;
use crate::plugin::{Manifest, Package, PluginHealth};
use crate::runtime::Runtime;
use crate::uplink::JsonLinesSink;

/// `sao vision …`
#[derive(Debug, Subcommand)]
pub enum VisionCommand {
    /// Run a detection model on images: one JSON line per image with its detections
    /// (label, class id, score, box in the image's pixels).
    Detect(DetectArgs),
    /// Run a vision plugin on a video through the whole pipeline and print its upstream
    /// messages as JSON lines (its alarms and a summary go to stderr).
    Run(RunArgs),
    /// Make a test video from photos: each is shown for some frames with the view
    /// panning across it (so the motion gate opens), as an MJPEG AVI.
    Clip(ClipArgs),
}

/// Arguments of `sao vision clip`.
#[derive(Debug, Args)]
pub struct ClipArgs {
    /// The video to write (`.avi`).
    #[arg(long)]
    out: PathBuf,
    /// Frames per photo.
    #[arg(long, default_value_t = 10)]
    frames: usize,
    /// Frames per second.
    #[arg(long, default_value_t = 5.0)]
    fps: f64,
    /// Make it look like a night camera's infrared image (grey, dark, equalised).
    #[arg(long)]
    night: bool,
    /// The photos, in order.
    #[arg(required = true)]
    photos: Vec<PathBuf>,
}

/// Arguments of `sao vision detect`.
#[derive(Debug, Args)]
pub struct DetectArgs {
    /// The ONNX model.
    #[arg(long)]
    model: PathBuf,
    /// Output head: yolox or yolov8.
    #[arg(long)]
    head: Head,
    /// Square input side in pixels.
    #[arg(long, default_value_t = 416)]
    input: u32,
    /// Channel order of the input: bgr or rgb.
    #[arg(long, default_value = "bgr")]
    colour: String,
    /// Pixel scale (1 for 0–255 models such as YOLOX, 0.00392156862 for 0–1).
    #[arg(long, default_value_t = 1.0)]
    scale: f32,
    /// Letterbox placement: top-left (YOLOX) or center (YOLOv8).
    #[arg(long, default_value = "top-left")]
    letterbox: String,
    /// Minimum score.
    #[arg(long, default_value_t = 0.3)]
    score: f32,
    /// NMS IoU threshold.
    #[arg(long, default_value_t = 0.45)]
    nms: f32,
    /// `libonnxruntime.so` (default: `$ORT_DYLIB_PATH`, else beside the build).
    #[arg(long)]
    onnxruntime: Option<PathBuf>,
    /// Images to run on.
    #[arg(required = true)]
    images: Vec<PathBuf>,
}

/// Arguments of `sao vision run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The video (or `rtsp://…` stream, or `/dev/videoN`).
    #[arg(long)]
    source: String,
    /// The plugin package (`.sao`); it is granted the capabilities it requests.
    #[arg(long)]
    plugin: PathBuf,
    /// Directory of trusted public keys the package must be signed by.
    #[arg(long)]
    trusted: PathBuf,
    /// The plugin's config (JSON); default `{}`.
    #[arg(long)]
    config: Option<String>,
    /// Camera name the plugin sees.
    #[arg(long, default_value = "camera")]
    camera: String,
    /// Play a file in real time (default: every frame, as fast as the box can).
    #[arg(long)]
    realtime: bool,
    /// Run the detector on every frame (no motion gating).
    #[arg(long)]
    no_gating: bool,
    /// Record every change of the bench pole's siren, strobe, lamps, display and speaker
    /// in this file (JSON lines, times on the video's clock).
    #[arg(long)]
    trace: Option<PathBuf>,
}

/// Runs a `sao vision` command.
pub fn execute(command: VisionCommand) -> anyhow::Result<()> {
    match command {
        VisionCommand::Detect(args) => detect(args),
        VisionCommand::Run(args) => run(args),
        VisionCommand::Clip(args) => clip(args),
    }
}

fn clip(args: ClipArgs) -> anyhow::Result<()> {
    let segments: Vec<Segment> = args
        .photos
        .iter()
        .map(|photo| Segment {
            photo: photo.clone(),
            frames: args.frames,
        })
        .collect();
    let look = if args.night {
        Look::InfraredNight
    } else {
        Look::Day
    };
    sao_vision::clip::assemble(&args.out, &segments, args.fps, look)?;
    eprintln!(
        "{} frames of {} photos written to {}",
        segments.len() * args.frames,
        segments.len(),
        args.out.display()
    );
    Ok(())
}

/// One line on the pole's alarms: each active alarm and what it drives.
fn alarm_line(alarms: &Alarms) -> String {
    let active = alarms.describe();
    if active.is_empty() {
        return "no alarm: siren, strobe, display and speaker off".into();
    }
    let listed: Vec<String> = active
        .iter()
        .map(|(a, drives)| {
            let state = match (&a.acknowledged, a.audible()) {
                (Some(ack), _) => format!("acknowledged by {}", ack.by),
                (None, true) => "sounding".into(),
                (None, false) => "siren stopped at its limit".into(),
            };
            format!(
                "ALARM {} {} {} ({state}) [{}] \"{}\" / \"{}\"",
                a.request.kind,
                a.id,
                a.request.level.as_str(),
                drives.join(", "),
                a.request.message.th,
                a.request.message.en
            )
        })
        .collect();
    listed.join("; ")
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, value: &str) -> anyhow::Result<T> {
    serde_json::from_value(json!(value)).with_context(|| format!("invalid {what} `{value}`"))
}

fn detect(args: DetectArgs) -> anyhow::Result<()> {
    let spec = ModelSpec {
        name: args
            .model
            .file_stem()
            .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned()),
        input: [args.input, args.input],
        colour: parse::<ColourOrder>("--colour", &args.colour)?,
        scale: args.scale,
        head: args.head,
        letterbox: parse::<LetterboxAlign>("--letterbox", &args.letterbox)?,
        score_threshold: args.score,
        nms_iou: args.nms,
        ..ModelSpec::yolox_nano(&args.model)
    };
    let runtime = OnnxRuntime::load(args.onnxruntime.as_deref())?;
    let detector = Detector::load(runtime, spec, Threads::default())?;
    let mut failed = 0;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for image in &args.images {
        let line = match detect_one(&detector, image) {
            Ok(line) => line,
            Err(e) => {
                failed += 1;
                json!({ "image": image, "error": format!("{e:#}") })
            }
        };
        writeln!(out, "{line}")?;
    }
    if failed > 0 {
        bail!("{failed} of {} images could not be read", args.images.len());
    }
    Ok(())
}

fn detect_one(detector: &Detector, path: &Path) -> anyhow::Result<serde_json::Value> {
    let image = imgcodecs::imread(path, imgcodecs::IMREAD_COLOR)?;
    if image.empty() {
        bail!("not a readable image");
    }
    let started = Instant::now();
    let detections = detector.detect(&image)?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let size = image.size()?;
    let found: Vec<_> = detections
        .iter()
        .map(|d| {
            json!({
                "label": detector.label(d.class_id),
                "class-id": d.class_id,
                "score": d.score,
                "box": [d.bbox.x1, d.bbox.y1, d.bbox.x2, d.bbox.y2],
            })
        })
        .collect();
    Ok(json!({
        "image": path,
        "width": size.width,
        "height": size.height,
        "ms": ms,
        "detections": found,
    }))
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.plugin)
        .with_context(|| format!("cannot read {}", args.plugin.display()))?;
    let manifest: Manifest = Package::read(&bytes)?.manifest().clone();
    if !manifest.is_vision() {
        bail!(
            "plugin `{}` is not a vision plugin (world {})",
            manifest.id,
            manifest.world
        );
    }
    let config: serde_json::Value = match &args.config {
        Some(text) => serde_json::from_str(text).context("--config is not JSON")?,
        None => json!({}),
    };
    let data = tempfile_dir()?;
    let pole = json!({
        "pole": { "site": "bench", "id": "vision-run", "latitude": 0.0, "longitude": 0.0 },
        "storage": { "data-dir": data.path() },
        "trust": { "keys-dir": args.trusted },
        "cameras": [{
            "name": args.camera,
            "source": args.source,
            "capture": { "fps": 0.0, "realtime": args.realtime },
            "gate": { "always": args.no_gating },
        }],
        "plugins": [{
            "package": args.plugin,
            "grants": manifest.capabilities,
            "config": config,
            // An evaluation bench: the plugin's records are not throttled.
            "telemetry-per-minute": 1_000_000,
        }],
    });
    let pole: PoleConfig = serde_json::from_value(pole).context("building the bench pole")?;
    let clock = Arc::new(SimClock::new(SystemClock.now_ms()));
    let hardware = build_sim_pole(
        &SimConfig {
            trace: args.trace.clone(),
            ..SimConfig::default()
        },
        clock.clone(),
    )?;
    let sink = Arc::new(JsonLinesSink::new(Box::new(std::io::stdout())));
    let camera = args.camera.clone();
    let is_file = matches!(args.source.parse::<Source>(), Ok(Source::File(_)));
    crate::cli::tokio_runtime()?.block_on(async move {
        let mut runtime = Runtime::new(pole, hardware, clock.clone(), Some(sink), EngineOptions::default())?;
        runtime.install_configured().await;
        if let Some(rejected) = runtime.rejected().first() {
            bail!("{}", rejected.reason);
        }
        if let Some(reason) = runtime.vision_failure(&manifest.id) {
            bail!("{reason}");
        }
        // A config the schema or the plugin refuses leaves nothing to evaluate.
        if let Some(plugin) = runtime.plugins().iter().find(|p| p.id() == manifest.id) {
            if let PluginHealth::Failed { reason } = plugin.health() {
                bail!("plugin `{}` failed: {reason}", manifest.id);
            }
        }
        let mut events = runtime
            .take_vision_events()
            .context("the camera events are already taken")?;
        let started = Instant::now();
        let mut shown = alarm_line(&runtime.services().alarms);
        while let Some(event) = events.recv().await {
            // The plugin sees the frames' capture times.
            if let VisionEvent::Detections(frame) = &event {
                clock.set(frame.ts_ms);
            }
            let end = match &event {
                VisionEvent::Health { change, .. } if change.state == CameraState::Offline && is_file => {
                    bail!("{}", change.detail)
                }
                VisionEvent::Health { change, .. } => change.state == CameraState::Ended,
                _ => false,
            };
            runtime.on_vision(event).await;
            // Alarms follow the video's clock: patterns, escalation and expiry included.
            let alarms = &runtime.services().alarms;
            alarms.advance();
            let line = alarm_line(alarms);
            if line != shown {
                eprintln!("{} {line}", clock_time(clock.now_ms()));
                shown = line;
            }
            if end {
                break;
            }
        }
        let stats = runtime.camera_stats().remove(&camera).unwrap_or_default();
        let seconds = started.elapsed().as_secs_f64();
        eprintln!(
            "{} frames in {seconds:.1} s ({:.1} fps); detector ran on {} (mean {:.1} ms), skipped {}; tracks by label: {}",
            stats.frames,
            stats.frames as f64 / seconds.max(1e-9),
            stats.inferences,
            stats.mean_inference_ms,
            stats.skipped,
            serde_json::to_string(&stats.counts)?
        );
        runtime.shutdown().await
    })
}

/// `hh:mm:ss.s` (UTC) of a pole time.
fn clock_time(ms: u64) -> String {
    let day_ms = ms % 86_400_000;
    format!(
        "{:02}:{:02}:{:04.1}",
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        (day_ms % 60_000) as f64 / 1000.0
    )
}

/// A temporary data directory for the bench pole (removed when dropped).
fn tempfile_dir() -> anyhow::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("sao-vision-run")
        .tempdir()
        .context("cannot create a temporary data directory")
}
