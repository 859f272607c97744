//! The real pipeline (capture thread → motion gate → YOLOX-Nano → tracker) on the real
//! traffic video `car-detection.mp4`: 30 s seen from above, in which four cars cross.

mod common;

use std::collections::BTreeMap;

use opencv::prelude::*;
use opencv::videoio::{self, VideoCapture};
use sao_vision::capture::{CaptureConfig, CaptureEvent, Frame};
use sao_vision::health::CameraState;
use sao_vision::inference::{InferenceConfig, InferenceSlots};
use sao_vision::pipeline::{Camera, CameraConfig, CameraPipeline, VisionEvent};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_cars_keep_one_track_each_and_are_counted() {
    let video = common::shared().join("media/traffic/car-detection.mp4");
    let mut config = CameraConfig::new("car-park", video.to_str().unwrap());
    config.capture = CaptureConfig {
        fps: 0.0,
        realtime: false,
        ..CaptureConfig::default()
    };
    // Seen from above, YOLOX-Nano calls a car `car`, `bus`, `cell phone` or `toilet` from
    // frame to frame: class-agnostic tracking keeps one track per car regardless.
    config.tracker.class_agnostic = true;
    let pipeline = CameraPipeline::new(
        &config,
        common::yolox(),
        InferenceSlots::new(&InferenceConfig::default()),
    )
    .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let camera = Camera::start(&config, pipeline, tx).unwrap();
    // Per track: (frame id, box centre) of every frame it was seen on.
    type Sightings = Vec<(u64, (f32, f32))>;
    let mut tracks: BTreeMap<u64, Sightings> = BTreeMap::new();
    let mut states = Vec::new();
    while let Some(event) = rx.recv().await {
        match event {
            VisionEvent::Detections(frame) => {
                assert_eq!((frame.width, frame.height), (768, 432));
                for o in &frame.objects {
                    tracks
                        .entry(o.track_id)
                        .or_default()
                        .push((frame.frame_id, o.bbox.center()));
                }
            }
            VisionEvent::Health { change, .. } => {
                let ended = change.state == CameraState::Ended;
                states.push(change.state);
                if ended {
                    break;
                }
            }
            VisionEvent::InferenceFailed { reason, .. } => panic!("{reason}"),
        }
    }
    let stats = camera.stats();
    camera.stop().await;
    assert_eq!(states, vec![CameraState::Ok, CameraState::Ended]);
    assert_eq!(stats.frames, 377);
    // The gate skipped the frames in which nothing moved.
    assert!(
        stats.inferences < stats.frames && stats.inferences > 100,
        "{stats:?}"
    );

    let long: Vec<_> = tracks
        .iter()
        .filter(|(_, points)| points.len() >= 10)
        .collect();
    let summary: Vec<_> = tracks
        .iter()
        .map(|(id, p)| (id, p.len(), p[0].0, p[p.len() - 1].0))
        .collect();
    assert_eq!(long.len(), 4, "one long track per car: {summary:?}");
    for (id, points) in &long {
        // Each car drives across the frame: its track follows it a long way, in frames
        // that follow one another (a lost car would come back under a new id).
        let (first, last) = (points[0].1, points[points.len() - 1].1);
        let distance = ((last.0 - first.0).powi(2) + (last.1 - first.1).powi(2)).sqrt();
        assert!(
            distance > 100.0,
            "track {id} moved {distance} px: {points:?}"
        );
        let span = points[points.len() - 1].0 - points[0].0 + 1;
        assert!(
            points.len() as u64 * 10 >= span * 7,
            "track {id}: {} of {span} frames",
            points.len()
        );
    }
    // The count: every confirmed track once, under a label; the four cars are there.
    let counted: u64 = stats.counts.values().sum();
    assert_eq!(counted, tracks.len() as u64, "{:?}", stats.counts);
    assert!(counted >= 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_still_scene_skips_the_detector_until_the_pir_wakes_the_camera() {
    let video = common::shared().join("media/traffic/car-detection.mp4");
    let mut capture =
        VideoCapture::from_file(video.to_str().unwrap(), videoio::CAP_FFMPEG).unwrap();
    let mut still = opencv::core::Mat::default();
    assert!(capture.read(&mut still).unwrap());
    let mut config = CameraConfig::new("forest-edge", "unused");
    config.gate.keepalive_ms = 0;
    config.gate.wake_ms = 1_000;
    let mut pipeline = CameraPipeline::new(
        &config,
        common::yolox(),
        InferenceSlots::new(&InferenceConfig::default()),
    )
    .unwrap();
    let mut triggers = Vec::new();
    for id in 1..=40u64 {
        if id == 20 {
            pipeline.wake();
        }
        let frame = Frame {
            id,
            ts_ms: id * 100,
            image: still.try_clone().unwrap(),
        };
        for event in pipeline.handle(CaptureEvent::Frame(frame)).await {
            if let VisionEvent::Detections(d) = event {
                triggers.push((d.frame_id, d.trigger));
            }
        }
    }
    use sao_vision::gate::Trigger;
    // The motion model learns the still scene in its first frames, then nothing runs
    // until the wake, then every frame for one second (frames 20 to 29), then nothing.
    let learning = triggers
        .iter()
        .filter(|(_, t)| *t == Trigger::Motion)
        .count();
    assert!(learning <= 5, "{triggers:?}");
    let woken: Vec<u64> = triggers
        .iter()
        .filter(|(_, t)| *t == Trigger::Wake)
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(woken, (20..30).collect::<Vec<_>>(), "{triggers:?}");
    assert!(
        triggers
            .iter()
            .all(|(id, _)| *id <= 5 || (20..30).contains(id)),
        "{triggers:?}"
    );
}
