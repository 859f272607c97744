//! Camera health on real feeds: a recording that disappears and comes back, an RTSP camera
//! whose server stops and restarts, a frozen feed and a black one.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use opencv::core::{Mat, Scalar, Size};
use opencv::prelude::*;
use opencv::videoio::{self, VideoCapture, VideoWriter};
use sao_vision::capture::CaptureConfig;
use sao_vision::health::{CameraState, HealthChange};
use sao_vision::inference::{InferenceConfig, InferenceSlots};
use sao_vision::pipeline::{Camera, CameraConfig, CameraPipeline, VisionEvent};
use tokio::sync::mpsc;

fn traffic_video() -> std::path::PathBuf {
    common::shared().join("media/traffic/car-detection.mp4")
}

/// A camera on `source` whose health changes arrive on the returned receiver.
fn start(source: &str, capture: CaptureConfig) -> (Camera, mpsc::Receiver<VisionEvent>) {
    start_gated(source, capture, false)
}

/// Like [`start`]; `always` runs the detector on every frame (no motion: health is then
/// sampled twice a second).
fn start_gated(
    source: &str,
    capture: CaptureConfig,
    always: bool,
) -> (Camera, mpsc::Receiver<VisionEvent>) {
    let mut config = CameraConfig::new("cam", source);
    config.capture = capture;
    config.gate.always = always;
    let pipeline = CameraPipeline::new(
        &config,
        common::yolox(),
        InferenceSlots::new(&InferenceConfig::default()),
    )
    .unwrap();
    let (tx, rx) = mpsc::channel(64);
    (Camera::start(&config, pipeline, tx).unwrap(), rx)
}

/// Waits for the next health change (detections are skipped).
async fn next_change(rx: &mut mpsc::Receiver<VisionEvent>) -> HealthChange {
    let wait = async {
        loop {
            match rx.recv().await.expect("camera running") {
                VisionEvent::Health { change, .. } => return change,
                VisionEvent::Detections(_) => {}
                VisionEvent::InferenceFailed { reason, .. } => panic!("{reason}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), wait)
        .await
        .expect("a health change in time")
}

fn quick_retry() -> CaptureConfig {
    CaptureConfig {
        fps: 5.0,
        retry_ms: 200,
        retry_max_ms: 1_000,
        ..CaptureConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_that_disappears_goes_offline_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("camera.mp4");
    std::fs::copy(traffic_video(), &clip).unwrap();
    let capture = CaptureConfig {
        loop_file: true,
        ..quick_retry()
    };
    let (camera, mut rx) = start(clip.to_str().unwrap(), capture);
    assert_eq!(next_change(&mut rx).await.state, CameraState::Ok);

    // The recorder loses the file: truncated to nothing mid-stream.
    std::fs::File::create(&clip).unwrap();
    let down = next_change(&mut rx).await;
    assert_eq!(
        (down.previous, down.state),
        (CameraState::Ok, CameraState::Offline)
    );
    assert!(down.detail.contains("camera.mp4"), "{}", down.detail);

    std::fs::copy(traffic_video(), &clip).unwrap();
    let up = next_change(&mut rx).await;
    assert_eq!(
        (up.previous, up.state),
        (CameraState::Offline, CameraState::Ok)
    );
    camera.stop().await;
}

/// gst-rtsp-server serving the traffic video (see `tools/rtsp_server.py`).
struct RtspServer(Child);

impl RtspServer {
    fn start(port: u16) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/rtsp_server.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(port.to_string())
            .arg(traffic_video())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 with GStreamer (run .ci/setup)");
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the RTSP server did not start");
        Self(child)
    }
}

impl Drop for RtspServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rtsp_camera_whose_server_stops_goes_offline_and_recovers() {
    let port = free_port();
    let server = RtspServer::start(port);
    let url = format!("rtsp://127.0.0.1:{port}/cam");
    let (camera, mut rx) = start(&url, quick_retry());
    assert_eq!(next_change(&mut rx).await.state, CameraState::Ok);

    drop(server);
    let down = next_change(&mut rx).await;
    assert_eq!(
        (down.previous, down.state),
        (CameraState::Ok, CameraState::Offline)
    );
    assert!(down.detail.contains(&url), "{}", down.detail);

    let _server = RtspServer::start(port);
    let up = next_change(&mut rx).await;
    assert_eq!(
        (up.previous, up.state),
        (CameraState::Offline, CameraState::Ok)
    );
    camera.stop().await;
}

/// Writes an MJPEG clip of `frames` frames at 10 fps made by `frame(i)`.
fn write_clip(path: &Path, frames: usize, frame: impl Fn(usize) -> Mat) {
    let first = frame(0);
    let size = first.size().unwrap();
    let fourcc = VideoWriter::fourcc('M', 'J', 'P', 'G').unwrap();
    let mut writer = VideoWriter::new(path.to_str().unwrap(), fourcc, 10.0, size, true).unwrap();
    for i in 0..frames {
        writer.write(&frame(i)).unwrap();
    }
    writer.release().unwrap();
}

/// The first `n` frames of the traffic video.
fn traffic_frames(n: usize) -> Vec<Mat> {
    let mut capture =
        VideoCapture::from_file(traffic_video().to_str().unwrap(), videoio::CAP_FFMPEG).unwrap();
    (0..n)
        .map(|_| {
            let mut frame = Mat::default();
            assert!(capture.read(&mut frame).unwrap());
            frame
        })
        .collect()
}

/// Changes seen while a recorded clip plays to its end (flat out, media time).
async fn changes_over(clip: &Path, always: bool) -> Vec<HealthChange> {
    let capture = CaptureConfig {
        fps: 0.0,
        realtime: false,
        ..CaptureConfig::default()
    };
    let (camera, mut rx) = start_gated(clip.to_str().unwrap(), capture, always);
    let mut changes = Vec::new();
    loop {
        let change = next_change(&mut rx).await;
        let ended = change.state == CameraState::Ended;
        changes.push(change);
        if ended {
            break;
        }
    }
    camera.stop().await;
    changes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_feed_is_reported_after_ten_seconds_of_one_image() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("frozen.avi");
    // Two seconds of live video, then the encoder repeats its last frame for 15 s.
    let live = traffic_frames(20);
    write_clip(&clip, 170, |i| live[i.min(19)].clone());
    let changes = changes_over(&clip, false).await;
    let states: Vec<_> = changes.iter().map(|c| c.state).collect();
    assert_eq!(
        states,
        vec![CameraState::Ok, CameraState::Frozen, CameraState::Ended]
    );
    // Frozen once ten seconds of media time show the same picture (from 2.0 s on).
    let (ok, frozen) = (changes[0].ts_ms, changes[1].ts_ms);
    assert!(
        (11_900..=12_300).contains(&(frozen - ok)),
        "frozen after {} ms",
        frozen - ok
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_black_feed_is_reported_and_a_covered_lens_too() {
    let dir = tempfile::tempdir().unwrap();
    let live = traffic_frames(20);
    let plain = |value: f64| {
        Mat::new_size_with_default(
            Size::new(768, 432),
            opencv::core::CV_8UC3,
            Scalar::all(value),
        )
        .unwrap()
    };
    // Two seconds of the live video, then one flat grey level.
    let live_then = |i: usize, value: f64| {
        if i < 20 {
            live[i].clone()
        } else {
            plain(value)
        }
    };
    // Live, then black (a dead sensor at night) for 8 s.
    let clip = dir.path().join("black.avi");
    write_clip(&clip, 100, |i| live_then(i, 2.0));
    let states: Vec<_> = changes_over(&clip, false)
        .await
        .iter()
        .map(|c| c.state)
        .collect();
    assert_eq!(
        states,
        vec![CameraState::Ok, CameraState::Black, CameraState::Ended]
    );
    // Live, then a flat grey (tape or a bag over the lens) for 8 s.
    let clip = dir.path().join("covered.avi");
    write_clip(&clip, 100, |i| live_then(i, 140.0));
    // Also with the detector on every frame, where health samples frames instead.
    for always in [false, true] {
        let states: Vec<_> = changes_over(&clip, always)
            .await
            .iter()
            .map(|c| c.state)
            .collect();
        assert_eq!(
            states,
            vec![CameraState::Ok, CameraState::Covered, CameraState::Ended],
            "always: {always}"
        );
    }
}
