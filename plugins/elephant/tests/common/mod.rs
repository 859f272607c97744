//! Frames and detections for the tests: a 1280×720 camera at a forest edge.

use sao_plugin_elephant::{Detection, Frame};

/// The camera the tests watch.
pub const CAMERA: &str = "forest-edge";
/// Frame width in pixels.
pub const WIDTH: u32 = 1280;
/// Frame height in pixels.
pub const HEIGHT: u32 = 720;

/// Frame `frame_id` of `camera`, captured at `ts_ms`.
pub fn frame(camera: &str, frame_id: u64, ts_ms: u64) -> Frame {
    Frame {
        camera: camera.to_string(),
        frame_id,
        ts_ms,
        width: WIDTH,
        height: HEIGHT,
    }
}

/// A detection of `label` with `score` on track `track_id`, its `size` (width, height
/// in pixels) box centred at the normalized point `centre`.
pub fn detection(
    label: &str,
    score: f32,
    track_id: u64,
    centre: (f64, f64),
    size: (f32, f32),
) -> Detection {
    let (width, height) = size;
    Detection {
        label: label.to_string(),
        score,
        x: (centre.0 * f64::from(WIDTH)) as f32 - width / 2.0,
        y: (centre.1 * f64::from(HEIGHT)) as f32 - height / 2.0,
        width,
        height,
        track_id,
    }
}

/// A clear elephant (score 0.8, a 160×120 px box) centred at `(x, y)`.
pub fn elephant(track_id: u64, x: f64, y: f64) -> Detection {
    detection("elephant", 0.8, track_id, (x, y), (160.0, 120.0))
}
