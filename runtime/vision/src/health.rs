//! Camera health: is the camera delivering, and is what it delivers an image? A camera can
//! be offline (cannot open or read), stalled (open but silent), frozen (the same image
//! again and again), black (dark and flat) or covered (flat: a lens under tape, mud or a
//! bag). Each is reported once, as a change of state, so "half the cameras are dead and
//! nobody knew" cannot happen.

use opencv::core::{self, Mat};
use opencv::prelude::*;
use serde::{Deserialize, Serialize};

use crate::capture::CaptureStatus;

/// The state of one camera.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CameraState {
    /// Not yet connected.
    Starting,
    /// Frames arrive and look like a scene.
    Ok,
    /// The camera cannot be opened or read; capture retries with backoff.
    Offline,
    /// Connected, but no frame for longer than `stall-ms`.
    Stalled,
    /// Every frame is the same image.
    Frozen,
    /// The image is dark and flat (lens blacked out, camera dead at night).
    Black,
    /// The image is flat but not dark (lens covered or fogged).
    Covered,
    /// A recorded source ended.
    Ended,
}

impl CameraState {
    /// Whether the camera is doing its job.
    pub fn is_healthy(self) -> bool {
        matches!(self, Self::Ok | Self::Starting)
    }
}

/// Thresholds of the health checks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct HealthConfig {
    /// A connected camera silent this long is stalled, in milliseconds.
    pub stall_ms: u64,
    /// Identical frames for this long make a camera frozen, in milliseconds.
    pub frozen_ms: u64,
    /// A black or covered image must last this long to be reported, in milliseconds.
    pub blind_ms: u64,
    /// Mean frame-to-frame difference (grey levels) below which two frames are identical.
    pub frozen_difference: f32,
    /// Mean grey level below which a flat image is black.
    pub black_level: f32,
    /// Grey-level standard deviation below which an image is flat.
    pub flat_deviation: f32,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            stall_ms: 10_000,
            frozen_ms: 10_000,
            blind_ms: 5_000,
            frozen_difference: 0.2,
            black_level: 20.0,
            flat_deviation: 4.0,
        }
    }
}

/// A change of a camera's state.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HealthChange {
    /// The new state.
    pub state: CameraState,
    /// The state before.
    pub previous: CameraState,
    /// Why, for the technician.
    pub detail: String,
    /// When, milliseconds since the Unix epoch.
    pub ts_ms: u64,
}

/// Tracks one camera's health from its capture status and its frames.
pub struct HealthMonitor {
    config: HealthConfig,
    state: CameraState,
    /// A condition seen on frames, and since when, not yet reported.
    pending: Option<(CameraState, u64, String)>,
    previous_thumbnail: Option<Mat>,
    last_frame_ms: Option<u64>,
}

impl HealthMonitor {
    /// A monitor for a camera that has not connected yet.
    pub fn new(config: HealthConfig) -> Self {
        Self {
            config,
            state: CameraState::Starting,
            pending: None,
            previous_thumbnail: None,
            last_frame_ms: None,
        }
    }

    /// The current state.
    pub fn state(&self) -> CameraState {
        self.state
    }

    /// A capture status at `now_ms`.
    pub fn on_status(&mut self, status: &CaptureStatus, now_ms: u64) -> Option<HealthChange> {
        self.pending = None;
        self.previous_thumbnail = None;
        match status {
            // The first frame decides: a connected camera may still be black.
            CaptureStatus::Connected => None,
            CaptureStatus::Disconnected { reason, retry_in } => self.change(
                CameraState::Offline,
                format!("{reason}; retrying in {} ms", retry_in.as_millis()),
                now_ms,
            ),
            CaptureStatus::Ended => {
                self.change(CameraState::Ended, "the recording ended".into(), now_ms)
            }
        }
    }

    /// A frame's downscaled grey thumbnail, captured at `ts_ms`.
    pub fn on_frame(
        &mut self,
        thumbnail: &Mat,
        ts_ms: u64,
    ) -> opencv::Result<Option<HealthChange>> {
        self.last_frame_ms = Some(ts_ms);
        let (condition, detail) = self.classify(thumbnail)?;
        self.previous_thumbnail = Some(thumbnail.try_clone()?);
        if condition == CameraState::Ok {
            self.pending = None;
            return Ok(self.change(CameraState::Ok, "frames arrive".into(), ts_ms));
        }
        let since = match &self.pending {
            Some((pending, since, _)) if *pending == condition => *since,
            _ => ts_ms,
        };
        self.pending = Some((condition, since, detail.clone()));
        let hold = match condition {
            CameraState::Frozen => self.config.frozen_ms,
            _ => self.config.blind_ms,
        };
        Ok(if ts_ms.saturating_sub(since) >= hold {
            self.change(condition, detail, ts_ms)
        } else {
            None
        })
    }

    /// A periodic check at `now_ms`: a connected camera that went silent is stalled.
    pub fn on_tick(&mut self, now_ms: u64) -> Option<HealthChange> {
        let last = self.last_frame_ms?;
        let silent = now_ms.saturating_sub(last);
        if silent >= self.config.stall_ms
            && !matches!(self.state, CameraState::Offline | CameraState::Ended)
        {
            self.change(
                CameraState::Stalled,
                format!("no frame for {} s", silent / 1000),
                now_ms,
            )
        } else {
            None
        }
    }

    fn classify(&self, thumbnail: &Mat) -> opencv::Result<(CameraState, String)> {
        let mut mean = Mat::default();
        let mut deviation = Mat::default();
        core::mean_std_dev(thumbnail, &mut mean, &mut deviation, &core::no_array())?;
        let level = *mean.at::<f64>(0)? as f32;
        let spread = *deviation.at::<f64>(0)? as f32;
        if spread < self.config.flat_deviation {
            return Ok(if level < self.config.black_level {
                (
                    CameraState::Black,
                    format!("dark flat image (mean grey {level:.0}, spread {spread:.1})"),
                )
            } else {
                (
                    CameraState::Covered,
                    format!("flat image (mean grey {level:.0}, spread {spread:.1}): lens covered?"),
                )
            });
        }
        if let Some(previous) = &self.previous_thumbnail {
            if previous.size()? == thumbnail.size()? {
                let mut difference = Mat::default();
                core::absdiff(previous, thumbnail, &mut difference)?;
                let change = core::mean(&difference, &core::no_array())?;
                if (change[0] as f32) < self.config.frozen_difference {
                    return Ok((
                        CameraState::Frozen,
                        format!("image unchanged (mean difference {:.2})", change[0]),
                    ));
                }
            }
        }
        Ok((CameraState::Ok, String::new()))
    }

    fn change(&mut self, state: CameraState, detail: String, ts_ms: u64) -> Option<HealthChange> {
        if state == self.state {
            return None;
        }
        let previous = std::mem::replace(&mut self.state, state);
        Some(HealthChange {
            state,
            previous,
            detail,
            ts_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use opencv::core::Scalar;

    /// A flat grey image of `value`.
    fn flat_image(width: i32, height: i32, value: f64) -> opencv::Result<Mat> {
        Mat::new_rows_cols_with_default(height, width, core::CV_8UC1, Scalar::all(value))
    }

    fn noise(seed: u64) -> Mat {
        let mut image = flat_image(64, 36, 0.0).unwrap();
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        for byte in image.data_bytes_mut().unwrap() {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *byte = (state >> 56) as u8;
        }
        image
    }

    #[test]
    fn a_live_scene_is_ok_and_a_repeated_one_freezes_after_the_hold() {
        let mut monitor = HealthMonitor::new(HealthConfig::default());
        let first = monitor.on_frame(&noise(1), 0).unwrap().unwrap();
        assert_eq!(
            (first.previous, first.state),
            (CameraState::Starting, CameraState::Ok)
        );
        assert_eq!(monitor.on_frame(&noise(2), 200).unwrap(), None);
        let still = noise(3);
        let mut changes = Vec::new();
        for i in 0..60u64 {
            if let Some(change) = monitor.on_frame(&still, 400 + i * 200).unwrap() {
                changes.push(change);
            }
        }
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].state, CameraState::Frozen);
        // Frozen after 10 s of identical frames: the first repeat is at 600 ms.
        assert_eq!(changes[0].ts_ms, 600 + 10_000);
        let back = monitor.on_frame(&noise(4), 20_000).unwrap().unwrap();
        assert_eq!(
            (back.previous, back.state),
            (CameraState::Frozen, CameraState::Ok)
        );
    }

    #[test]
    fn dark_flat_is_black_and_bright_flat_is_covered() {
        let mut monitor = HealthMonitor::new(HealthConfig::default());
        monitor.on_frame(&noise(1), 0).unwrap();
        let black = flat_image(64, 36, 3.0).unwrap();
        assert_eq!(monitor.on_frame(&black, 1_000).unwrap(), None);
        let change = monitor.on_frame(&black, 6_000).unwrap().unwrap();
        assert_eq!(change.state, CameraState::Black);
        let grey = flat_image(64, 36, 128.0).unwrap();
        assert_eq!(monitor.on_frame(&grey, 7_000).unwrap(), None);
        let change = monitor.on_frame(&grey, 12_000).unwrap().unwrap();
        assert_eq!(change.state, CameraState::Covered);
    }

    #[test]
    fn disconnects_and_silence_are_reported_once() {
        let mut monitor = HealthMonitor::new(HealthConfig::default());
        monitor.on_frame(&noise(1), 0).unwrap();
        assert_eq!(monitor.on_tick(5_000), None);
        assert_eq!(monitor.on_tick(10_000).unwrap().state, CameraState::Stalled);
        assert_eq!(monitor.on_tick(11_000), None);
        let down = CaptureStatus::Disconnected {
            reason: "read failed".into(),
            retry_in: Duration::from_millis(500),
        };
        let change = monitor.on_status(&down, 12_000).unwrap();
        assert_eq!(change.state, CameraState::Offline);
        assert!(change.detail.contains("read failed"));
        assert_eq!(monitor.on_status(&down, 13_000), None);
        assert_eq!(monitor.on_tick(60_000), None, "offline is not also stalled");
        let back = monitor.on_frame(&noise(2), 14_000).unwrap().unwrap();
        assert_eq!(back.state, CameraState::Ok);
    }
}
