//! What the pole's camera pipeline hands the plugin (mirrors WIT `vision.frame-info` and
//! `vision.detection`, keeping the fields the logic uses).
//!
//! The plugin gets one call per frame the detector ran on, for each subscribed camera,
//! possibly with no detections (the scene is clear). Frames the detector skipped produce
//! no call.

use serde::{Deserialize, Serialize};

/// A frame the detector ran on.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Camera name, as the pole config names it.
    pub camera: String,
    /// Frame number within the camera's run (increasing, with gaps where the detector
    /// did not run).
    pub frame_id: u64,
    /// Capture time, Unix milliseconds.
    pub ts_ms: u64,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// One tracked object on a frame. The box is in pixels, x to the right, y downwards.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// Class label from the model's list, e.g. `elephant`.
    pub label: String,
    /// Detector confidence, 0–1.
    pub score: f32,
    /// Left edge of the box.
    pub x: f32,
    /// Top edge of the box.
    pub y: f32,
    /// Width of the box.
    pub width: f32,
    /// Height of the box.
    pub height: f32,
    /// Id of the object's track on this camera, stable from frame to frame.
    pub track_id: u64,
}

impl Detection {
    /// The box's shorter side, in pixels.
    pub fn short_side(&self) -> f32 {
        self.width.min(self.height)
    }
}

/// A point of a track's path in normalized frame coordinates: `x` and `y` of the box
/// centre in 0–1 of the frame's width and height, `area` the box's share of the frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PathPoint {
    /// Capture time of the frame, Unix milliseconds.
    pub ts_ms: u64,
    /// Horizontal position of the box centre, 0 (left edge) to 1 (right edge).
    pub x: f64,
    /// Vertical position of the box centre, 0 (top edge) to 1 (bottom edge).
    pub y: f64,
    /// Box area as a fraction of the frame area.
    pub area: f64,
}

impl PathPoint {
    /// Where `detection` is on `frame`.
    pub fn of(frame: &Frame, detection: &Detection) -> PathPoint {
        let (w, h) = (f64::from(frame.width), f64::from(frame.height));
        let (bw, bh) = (f64::from(detection.width), f64::from(detection.height));
        PathPoint {
            ts_ms: frame.ts_ms,
            x: (f64::from(detection.x) + bw / 2.0) / w,
            y: (f64::from(detection.y) + bh / 2.0) / h,
            area: bw * bh / (w * h),
        }
    }
}
