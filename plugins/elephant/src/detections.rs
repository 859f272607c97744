//! Where a track is on its frame, for the herd's path. The frames and detections
//! themselves are the SDK's ([`Frame`], [`Detection`]).

use serde::{Deserialize, Serialize};

pub use sao_plugin_sdk_vision::{Detection, Frame};

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
