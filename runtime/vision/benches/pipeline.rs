//! sao-vision pipeline benchmark on the real traffic video (`car-detection.mp4`, 377 frames
//! 768×432) and the real YOLOX-Nano model, each subject against a baseline measured in the
//! same run, on the same frames with the same model, printed as ratios:
//!
//! 1. the bare ONNX Runtime loop, the limit: every frame decoded and letterboxed into an
//!    input tensor first ([`Detector::preprocess`]), then only the session timed
//!    ([`Detector::infer`]: run, decode, NMS);
//! 2. the end-to-end pipeline (capture thread, motion and health, gate, inference slot,
//!    tracker) on every frame (`gate.always`), the file read flat out, until `Ended`:
//!    ratio pipeline / bare loop (the goal is >= 0.9); and, as a diagnostic of where the
//!    gap goes, the same per-frame work ([`CameraPipeline::handle`]) on frames decoded
//!    beforehand, without the capture thread;
//! 3. the Python baseline, `benches/baseline.py` (OpenCV + onnxruntime + numpy, what users
//!    would otherwise write), run with `$SAO_BENCH_PYTHON` or `target/bench-venv/bin/python`:
//!    ratio sao / python, and both detection counts side by side;
//! 4. motion gating: the pipeline with the default gate over the traffic video and over a
//!    static scene (its first frame repeated 300 times), inference calls saved.
//!
//! 1–3 run `SAO_BENCH_ROUNDS` times (default 5), interleaved; reported are the median fps
//! and the median of the per-round ratios (both sides of a ratio measured within seconds of
//! each other, which matters on a shared machine).
//! Nothing here asserts a timing. Run: `bash runtime/vision/benches/run.sh`, or
//! `cargo bench -p sao-vision --bench pipeline` once the venv exists.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opencv::core::{Mat, Size};
use opencv::prelude::*;
use opencv::videoio::{self, VideoCapture, VideoWriter};
use ort::session::RunOptions;
use ort::value::Tensor;
use tokio::runtime::Runtime;

use sao_vision::capture::{now_ms, CaptureConfig, CaptureEvent, CaptureStatus, Frame};
use sao_vision::detector::{Detector, OnnxRuntime, Threads};
use sao_vision::gate::GateConfig;
use sao_vision::health::{CameraState, HealthConfig, HealthMonitor};
use sao_vision::inference::{InferenceConfig, InferenceSlots};
use sao_vision::model::ModelSpec;
use sao_vision::motion::{MotionConfig, MotionDetector};
use sao_vision::pipeline::{Camera, CameraConfig, CameraPipeline, StatsSnapshot, VisionEvent};
use sao_vision::track::{Tracker, TrackerConfig};

/// Frames of the static scene clip.
const STATIC_FRAMES: usize = 300;
/// Longest a pipeline run may take before the bench gives up on it.
const RUN_TIMEOUT: Duration = Duration::from_secs(900);

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared` beside the repository.
fn shared() -> PathBuf {
    manifest_dir().join("../../../shared")
}

fn workspace_root() -> PathBuf {
    let root = manifest_dir().join("../..");
    root.canonicalize().unwrap_or(root)
}

fn video() -> PathBuf {
    shared().join("media/traffic/car-detection.mp4")
}

fn model() -> PathBuf {
    shared().join("models/yolox_nano.onnx")
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Every frame of `path`, decoded, and the time decoding took.
fn decode_all(path: &Path) -> (Vec<Mat>, Duration) {
    let started = Instant::now();
    let mut capture = VideoCapture::from_file(path.to_str().unwrap(), videoio::CAP_FFMPEG)
        .expect("open the video");
    assert!(capture.is_opened().unwrap(), "{} opens", path.display());
    let mut frames = Vec::new();
    loop {
        let mut frame = Mat::default();
        if !capture.read(&mut frame).unwrap() || frame.empty() {
            break;
        }
        frames.push(frame);
    }
    (frames, started.elapsed())
}

/// One run of the bare session loop.
struct Bare {
    fps: f64,
    detections: usize,
}

/// Letterboxes every frame into a tensor first, then times only the session runs.
fn bare_loop(detector: &Detector, frames: &[Mat]) -> Bare {
    let tensors: Vec<Tensor<f32>> = frames
        .iter()
        .map(|f| detector.preprocess(f).expect("preprocess").0)
        .collect();
    let options = RunOptions::new().expect("run options");
    let mut detections = 0;
    let started = Instant::now();
    for tensor in tensors {
        detections += detector.infer(tensor, &options).expect("inference").len();
    }
    let elapsed = started.elapsed();
    Bare {
        fps: frames.len() as f64 / elapsed.as_secs_f64(),
        detections,
    }
}

/// One pipeline run until the recording ended.
struct PipelineRun {
    stats: StatsSnapshot,
    seconds: f64,
    /// Tracked objects reported over all frames.
    objects: usize,
    /// Regions the detector ran on over all frames: session runs.
    regions: u64,
    /// Health states reported, in order.
    states: Vec<CameraState>,
    failures: Vec<String>,
}

impl PipelineRun {
    fn fps(&self) -> f64 {
        self.stats.frames as f64 / self.seconds
    }

    fn confirmed_tracks(&self) -> u64 {
        self.stats.counts.values().sum()
    }
}

/// A camera on `source` read flat out, every frame handed to the pipeline.
fn camera_config(source: &Path, gate: GateConfig) -> CameraConfig {
    let mut config = CameraConfig::new("bench", source.to_str().unwrap());
    config.capture = CaptureConfig {
        fps: 0.0,
        realtime: false,
        ..CaptureConfig::default()
    };
    config.gate = gate;
    config
}

/// Runs `config`'s camera until its recording ends; the clock runs from `Camera::start`
/// to the `Ended` health event.
fn run_pipeline(rt: &Runtime, detector: &Arc<Detector>, config: &CameraConfig) -> PipelineRun {
    rt.block_on(async {
        let slots = InferenceSlots::new(&InferenceConfig::default());
        let pipeline = CameraPipeline::new(config, detector.clone(), slots).expect("pipeline");
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let started = Instant::now();
        let camera = Camera::start(config, pipeline, tx).expect("camera starts");
        let mut objects = 0;
        let mut regions = 0;
        let mut states = Vec::new();
        let mut failures = Vec::new();
        let consume = async {
            while let Some(event) = rx.recv().await {
                match event {
                    VisionEvent::Detections(frame) => {
                        objects += frame.objects.len();
                        regions += u64::from(frame.regions);
                    }
                    VisionEvent::Health { change, .. } => {
                        states.push(change.state);
                        if change.state == CameraState::Ended {
                            return true;
                        }
                    }
                    VisionEvent::InferenceFailed { reason, .. } => failures.push(reason),
                }
            }
            false
        };
        let ended = tokio::time::timeout(RUN_TIMEOUT, consume).await;
        let seconds = started.elapsed().as_secs_f64();
        assert!(
            matches!(ended, Ok(true)),
            "the pipeline did not reach the end of {}",
            config.source
        );
        let stats = camera.stats();
        camera.stop().await;
        PipelineRun {
            stats,
            seconds,
            objects,
            regions,
            states,
            failures,
        }
    })
}

/// A diagnostic: the camera's per-frame work ([`CameraPipeline::handle`]: motion, health,
/// gate, inference slot, tracker) on frames decoded beforehand, so without the capture
/// thread decoding alongside; frames per second.
fn run_predecoded(
    rt: &Runtime,
    detector: &Arc<Detector>,
    config: &CameraConfig,
    frames: &[Mat],
) -> f64 {
    let epoch = now_ms();
    // Copies made first: the clock only runs over the pipeline's work.
    let events: Vec<CaptureEvent> = frames
        .iter()
        .enumerate()
        .map(|(i, image)| {
            CaptureEvent::Frame(Frame {
                id: i as u64 + 1,
                ts_ms: epoch + i as u64 * 80,
                image: image.try_clone().unwrap(),
            })
        })
        .collect();
    rt.block_on(async {
        let slots = InferenceSlots::new(&InferenceConfig::default());
        let mut pipeline = CameraPipeline::new(config, detector.clone(), slots).expect("pipeline");
        pipeline
            .handle(CaptureEvent::Status(CaptureStatus::Connected))
            .await;
        let started = Instant::now();
        for event in events {
            for event in pipeline.handle(event).await {
                if let VisionEvent::InferenceFailed { reason, .. } = event {
                    panic!("inference failed: {reason}");
                }
            }
        }
        frames.len() as f64 / started.elapsed().as_secs_f64()
    })
}

/// The Python baseline's result line.
#[derive(serde::Deserialize)]
struct Python {
    frames: u64,
    fps: f64,
    detections: u64,
    #[serde(default)]
    tracks: u64,
}

/// The interpreter for the baseline, if there is one.
fn python() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SAO_BENCH_PYTHON") {
        return Some(PathBuf::from(path));
    }
    let venv = workspace_root().join("target/bench-venv/bin/python");
    venv.exists().then_some(venv)
}

fn run_python(interpreter: &Path, threads: usize) -> Result<Python, String> {
    let output = Command::new(interpreter)
        .arg(manifest_dir().join("benches/baseline.py"))
        .arg("--model")
        .arg(model())
        .arg("--video")
        .arg(video())
        .arg("--threads")
        .arg(threads.to_string())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", interpreter.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "{} exited with {}: {}",
            interpreter.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).map_err(|e| format!("unexpected output `{line}`: {e}"))
}

/// Per-frame costs, in milliseconds, of the pipeline's stages besides the session, each
/// measured alone on the decoded frames (median of 3 passes): what the pipeline adds to
/// the bare loop.
struct Stages {
    /// Motion detection (MOG2) and the health check of its thumbnail.
    motion_ms: f64,
    /// `Detector::preprocess`, one frame at a time, each tensor dropped after use.
    letterbox_ms: f64,
    /// `Tracker::update` with the frame's detections.
    track_ms: f64,
}

fn stage_costs(detector: &Detector, frames: &[Mat]) -> Stages {
    let per_frame = |pass: &mut dyn FnMut()| {
        let passes: Vec<f64> = (0..3)
            .map(|_| {
                let started = Instant::now();
                pass();
                ms(started.elapsed()) / frames.len() as f64
            })
            .collect();
        median(&passes)
    };
    let motion_ms = per_frame(&mut || {
        let mut motion = MotionDetector::new(MotionConfig::default()).expect("motion detector");
        let mut health = HealthMonitor::new(HealthConfig::default());
        for (i, frame) in frames.iter().enumerate() {
            std::hint::black_box(motion.detect(frame).expect("motion"));
            let change = health.on_frame(motion.last_thumbnail(), i as u64 * 80);
            std::hint::black_box(change.expect("health"));
        }
    });
    let letterbox_ms = per_frame(&mut || {
        for frame in frames {
            std::hint::black_box(detector.preprocess(frame).expect("preprocess"));
        }
    });
    let detections: Vec<_> = frames
        .iter()
        .map(|f| detector.detect(f).expect("detect"))
        .collect();
    let track_ms = per_frame(&mut || {
        let mut tracker = Tracker::new(TrackerConfig::default());
        for (i, found) in detections.iter().enumerate() {
            std::hint::black_box(tracker.update(found, i as u64 * 80));
        }
    });
    Stages {
        motion_ms,
        letterbox_ms,
        track_ms,
    }
}

/// An MJPG clip of `first` repeated `frames` times at the traffic video's 12.5 fps.
fn write_static_clip(path: &Path, first: &Mat, frames: usize) {
    let size: Size = first.size().unwrap();
    let fourcc = VideoWriter::fourcc('M', 'J', 'P', 'G').unwrap();
    let mut writer = VideoWriter::new(path.to_str().unwrap(), fourcc, 12.5, size, true).unwrap();
    assert!(
        writer.is_opened().unwrap(),
        "VideoWriter opens {}",
        path.display()
    );
    for _ in 0..frames {
        writer.write(first).unwrap();
    }
    writer.release().unwrap();
}

fn main() {
    let rounds: usize = std::env::var("SAO_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1);
    let runtime = OnnxRuntime::load(None).expect("ONNX Runtime (run .ci/setup)");
    let threads = Threads::default();
    let detector = Arc::new(
        Detector::load(runtime, ModelSpec::yolox_nano(model()), threads).expect("model loads"),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let (frames, decode_time) = decode_all(&video());
    let size = frames[0].size().unwrap();
    println!(
        "sao-vision pipeline benchmark: {} ({} frames {}x{}), yolox-nano 416x416, \
         {} intra-op threads, {} cores, {rounds} round(s)",
        video().file_name().unwrap().to_string_lossy(),
        frames.len(),
        size.width,
        size.height,
        threads.intra,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    // Warm the session up (first runs allocate), as a running pole's would be.
    for frame in frames.iter().take(5) {
        detector.detect(frame).expect("warm-up inference");
    }

    let interpreter = python();
    match &interpreter {
        Some(path) => println!("python baseline: {}", path.display()),
        None => println!(
            "python baseline: SKIPPED (no $SAO_BENCH_PYTHON and no {}; \
             `bash runtime/vision/benches/run.sh` creates it)",
            workspace_root()
                .join("target/bench-venv/bin/python")
                .display()
        ),
    }

    let always = GateConfig {
        always: true,
        ..GateConfig::default()
    };
    let every_frame = camera_config(&video(), always);
    let mut bare_runs = Vec::new();
    let mut pipeline_runs = Vec::new();
    let mut python_runs = Vec::new();
    let mut python_error = None;
    let mut pipeline_ratios = Vec::new();
    let mut predecoded_runs = Vec::new();
    let mut python_ratios = Vec::new();
    for round in 1..=rounds {
        let bare = bare_loop(&detector, &frames);
        let run = run_pipeline(&rt, &detector, &every_frame);
        let predecoded = run_predecoded(&rt, &detector, &every_frame, &frames);
        let py = interpreter.as_ref().map(|p| run_python(p, threads.intra));
        print!(
            "round {round}: bare {:5.1} fps   pipeline {:5.1} fps ({:.3})   \
             pre-decoded {predecoded:5.1} fps ({:.3})",
            bare.fps,
            run.fps(),
            run.fps() / bare.fps,
            predecoded / bare.fps
        );
        predecoded_runs.push((predecoded, predecoded / bare.fps));
        match py {
            Some(Ok(py)) => {
                println!("   python {:5.1} fps ({:.3})", py.fps, run.fps() / py.fps);
                python_ratios.push(run.fps() / py.fps);
                python_runs.push(py);
            }
            Some(Err(e)) => {
                println!("   python FAILED");
                python_error = Some(e);
            }
            None => println!(),
        }
        pipeline_ratios.push(run.fps() / bare.fps);
        bare_runs.push(bare);
        pipeline_runs.push(run);
    }

    let stages = stage_costs(&detector, &frames);

    let gated_video = run_pipeline(
        &rt,
        &detector,
        &camera_config(&video(), GateConfig::default()),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let clip = dir.path().join("static.avi");
    write_static_clip(&clip, &frames[0], STATIC_FRAMES);
    let gated_static = run_pipeline(&rt, &detector, &camera_config(&clip, GateConfig::default()));

    // The report.
    let n = frames.len() as f64;
    let bare_fps = median(&bare_runs.iter().map(|b| b.fps).collect::<Vec<_>>());
    let pipe_fps = median(&pipeline_runs.iter().map(|r| r.fps()).collect::<Vec<_>>());
    let last = pipeline_runs.last().unwrap();
    let bare_detections = bare_runs.last().unwrap().detections;
    println!();
    println!(
        "every frame inferred (median of {rounds} rounds; ratio = median of per-round subject / baseline)"
    );
    let row = |name: &str, fps: f64, ratio: &str| {
        let line = format!(
            "{name:<42} {fps:>7.1} fps {:>8.2} ms/frame   {ratio}",
            1000.0 / fps
        );
        println!("{}", line.trim_end())
    };
    row("bare ort loop (session + decode + NMS)", bare_fps, "");
    row(
        "sao pipeline end to end (gate.always)",
        pipe_fps,
        &format!("ratio pipeline/bare {:.3}", median(&pipeline_ratios)),
    );
    row(
        "  diag.: same, on frames decoded before",
        median(&predecoded_runs.iter().map(|r| r.0).collect::<Vec<_>>()),
        &format!(
            "ratio to bare       {:.3}",
            median(&predecoded_runs.iter().map(|r| r.1).collect::<Vec<_>>())
        ),
    );
    if python_runs.is_empty() {
        match &python_error {
            Some(e) => println!("python baseline FAILED: {e}"),
            None => println!("python baseline skipped (no interpreter)"),
        }
    } else {
        let py_fps = median(&python_runs.iter().map(|p| p.fps).collect::<Vec<_>>());
        let py = python_runs.last().unwrap();
        row(
            "python (cv2 + onnxruntime + numpy)",
            py_fps,
            &format!("ratio sao/python    {:.3}", median(&python_ratios)),
        );
        println!(
            "same work: frames sao {} / python {}; detections after NMS over the video: \
             sao {bare_detections} / python {}; confirmed tracks sao {} / python {} \
             (different trackers)",
            last.stats.frames,
            py.frames,
            py.detections,
            last.confirmed_tracks(),
            py.tracks,
        );
    }
    println!(
        "sao pipeline, last round: {} frames, {} inferred, {} session runs, {} failures, \
         {} tracked objects reported, mean inference {:.2} ms (slot, letterbox, session)",
        last.stats.frames,
        last.stats.inferences,
        last.regions,
        last.stats.failures,
        last.objects,
        last.stats.mean_inference_ms
    );
    for failure in last.failures.iter().take(3) {
        println!("  inference failed: {failure}");
    }
    let decode_ms = ms(decode_time) / n;
    let session_ms = 1000.0 / bare_fps;
    let serial = decode_ms + stages.motion_ms + stages.letterbox_ms + session_ms + stages.track_ms;
    println!(
        "per-frame stages alone: decode {decode_ms:.2} ms, motion+health {:.2} ms, \
         letterbox {:.2} ms, session+decode+NMS {session_ms:.2} ms, tracker {:.1} µs; \
         in sequence {serial:.2} ms ({:.1} fps)",
        stages.motion_ms,
        stages.letterbox_ms,
        stages.track_ms * 1000.0,
        1000.0 / serial
    );

    println!();
    println!("motion gating (default gate, file read flat out; saved = frames the gate skipped)");
    println!(
        "{:<36} {:>6} {:>9} {:>8} {:>6} {:>8} {:>7}  health",
        "scene", "frames", "inferred", "sessions", "saved", "saved %", "fps"
    );
    for (name, run) in [
        ("car-detection.mp4 (4 cars crossing)", &gated_video),
        ("static scene (first frame x300)", &gated_static),
    ] {
        let s = &run.stats;
        println!(
            "{name:<36} {:>6} {:>9} {:>8} {:>6} {:>7.1}% {:>7.1}  {:?}",
            s.frames,
            s.inferences,
            run.regions,
            s.skipped,
            100.0 * s.skipped as f64 / s.frames.max(1) as f64,
            run.fps(),
            run.states
        );
    }
}
