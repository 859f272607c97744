//! A replay format for detection sequences: one JSON object per line, one line per
//! frame the detector ran on, in capture order.
//!
//! ```json
//! {"camera": "road", "frame": 12, "ts": 1795262400480, "width": 1280, "height": 720,
//!  "objects": [{"label": "car", "track": 3, "score": 0.9, "box": [600, 340, 120, 80]}]}
//! ```
//!
//! `box` is `[x, y, width, height]` in pixels (x to the right, y down). Scenario tests
//! write sequences in this format and [`play`] them through an [`Analyzer`]; a sequence
//! recorded from a real camera replays the same way.

use serde::{Deserialize, Serialize};

use crate::analyzer::Analyzer;
use crate::host::Host;
use sao_plugin_sdk_vision::{Detection, Frame};

/// One line: a frame and its tracked objects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayFrame {
    /// Camera name.
    pub camera: String,
    /// Frame number.
    pub frame: u64,
    /// Capture time, Unix ms.
    pub ts: u64,
    /// Frame width, pixels.
    pub width: u32,
    /// Frame height, pixels.
    pub height: u32,
    /// The tracked objects on it.
    pub objects: Vec<ReplayObject>,
}

/// One tracked object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayObject {
    /// Detector label.
    pub label: String,
    /// Track id.
    pub track: u64,
    /// Detector score, 0–1.
    pub score: f32,
    /// `[x, y, width, height]`, pixels.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
}

impl ReplayFrame {
    /// The frame and detections the pole would hand the plugin.
    pub fn to_call(&self) -> (Frame, Vec<Detection>) {
        let frame = Frame {
            camera: self.camera.clone(),
            frame_id: self.frame,
            ts_ms: self.ts,
            width: self.width,
            height: self.height,
        };
        let detections = self
            .objects
            .iter()
            .map(|o| Detection {
                label: o.label.clone(),
                score: o.score,
                x: o.bbox[0],
                y: o.bbox[1],
                width: o.bbox[2],
                height: o.bbox[3],
                track_id: o.track,
            })
            .collect();
        (frame, detections)
    }
}

/// Writes frames as replay text.
pub fn write(frames: &[ReplayFrame]) -> String {
    frames
        .iter()
        .map(|f| serde_json::to_string(f).expect("frames serialize") + "\n")
        .collect()
}

/// Reads replay text; the error names the line.
pub fn read(text: &str) -> Result<Vec<ReplayFrame>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

/// Plays replay text through `analyzer`, calling `on_tick` every `tick_ms` of frame
/// time as the pole would.
pub fn play(
    analyzer: &mut Analyzer,
    text: &str,
    tick_ms: u64,
    host: &mut impl Host,
) -> Result<(), String> {
    let mut next_tick = None;
    for line in read(text)? {
        let (frame, detections) = line.to_call();
        let tick = next_tick.get_or_insert(frame.ts_ms + tick_ms);
        while *tick <= frame.ts_ms {
            analyzer.on_tick(*tick, host);
            *tick += tick_ms;
        }
        analyzer.on_detections(&frame, &detections, host);
    }
    Ok(())
}
