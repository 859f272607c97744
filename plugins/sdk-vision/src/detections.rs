//! What the pole's camera pipeline hands a vision plugin (mirrors WIT `vision.frame-info`
//! and `vision.detection`, keeping the fields plugin logic uses), as plain Rust types so
//! the logic runs natively in tests.
//!
//! A plugin gets one call per frame the detector ran on, for each subscribed camera,
//! possibly with no detections (the scene is clear). Frames the detector skipped produce
//! no call.

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
    /// Class label from the model's list, e.g. `elephant`, `car`.
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

#[cfg(target_arch = "wasm32")]
mod wit {
    use super::{Detection, Frame};
    use crate::bindings::sao::plugin::vision;

    impl From<vision::FrameInfo> for Frame {
        fn from(frame: vision::FrameInfo) -> Self {
            Frame {
                camera: frame.camera,
                frame_id: frame.frame_id,
                ts_ms: frame.ts,
                width: frame.width,
                height: frame.height,
            }
        }
    }

    impl From<vision::Detection> for Detection {
        fn from(d: vision::Detection) -> Self {
            Detection {
                label: d.label,
                score: d.score,
                x: d.bbox.x,
                y: d.bbox.y,
                width: d.bbox.width,
                height: d.bbox.height,
                track_id: d.track_id,
            }
        }
    }
}
