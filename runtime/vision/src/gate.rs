//! Motion gating: decides, frame by frame, whether the detector runs and on which regions.
//!
//! Inference runs when something moves (on crops around the motion), when a PIR sensor
//! woke the camera, when tracked objects are due a refresh (a stopped car does not move,
//! but its track must not die), and at a slow keep-alive rate otherwise. Without a motion
//! box the whole frame is used, letterboxed or, with `tiling`, cut into overlapping
//! model-sized tiles (long-range views, night IR camera traps).

use serde::{Deserialize, Serialize};

use crate::geometry::BoundingBox;
use crate::regions::{full_frame, motion_regions, tiles, RegionConfig};

/// When the detector runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct GateConfig {
    /// Run the detector on every frame (no gating: benchmarks, evaluation).
    pub always: bool,
    /// Run at least this often with no motion, in milliseconds (0: never).
    pub keepalive_ms: u64,
    /// While objects are tracked, run at least this often, in milliseconds.
    pub track_refresh_ms: u64,
    /// Cut the frame into overlapping tiles when there is no motion box to crop.
    pub tiling: bool,
    /// After a wake-up (PIR), run on every frame for this long, in milliseconds.
    pub wake_ms: u64,
    /// Where to crop around motion, and how tiles overlap.
    pub regions: RegionConfig,
}

impl Default for GateConfig {
    fn default() -> Self {
        Self {
            always: false,
            keepalive_ms: 10_000,
            track_refresh_ms: 1_000,
            tiling: false,
            wake_ms: 30_000,
            regions: RegionConfig::default(),
        }
    }
}

/// Why the detector runs on a frame (or does not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// Something moved.
    Motion,
    /// A PIR sensor (or another wake source) woke the camera.
    Wake,
    /// Tracked objects are due a refresh.
    Tracks,
    /// Nothing happened for `keepalive-ms`.
    Keepalive,
    /// Gating is off.
    Always,
}

/// The regions to run the detector on, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Why.
    pub trigger: Trigger,
    /// Regions in frame pixels.
    pub regions: Vec<BoundingBox>,
}

/// One camera's gate.
pub struct Gate {
    config: GateConfig,
    model_side: u32,
    last_run_ms: Option<u64>,
    awake_until_ms: u64,
}

impl Gate {
    /// A gate for a model whose square input has `model_side` pixels.
    pub fn new(config: GateConfig, model_side: u32) -> Self {
        Self {
            config,
            model_side,
            last_run_ms: None,
            awake_until_ms: 0,
        }
    }

    /// Whether the detector runs on every frame (motion is then not needed).
    pub fn always(&self) -> bool {
        self.config.always
    }

    /// A wake source fired at `ts_ms`: run on every frame for `wake-ms`.
    pub fn wake(&mut self, ts_ms: u64) {
        self.awake_until_ms = self.awake_until_ms.max(ts_ms + self.config.wake_ms);
    }

    /// The plan for a frame of size `frame` at `ts_ms`, given its motion boxes and the
    /// boxes of the objects being tracked. `None`: skip the detector.
    pub fn plan(
        &mut self,
        frame: (u32, u32),
        ts_ms: u64,
        motion: &[BoundingBox],
        tracked: &[BoundingBox],
    ) -> Option<Plan> {
        let since_run = self
            .last_run_ms
            .map_or(u64::MAX, |t| ts_ms.saturating_sub(t));
        let refresh = !tracked.is_empty() && since_run >= self.config.track_refresh_ms;
        let trigger = if self.config.always {
            Trigger::Always
        } else if !motion.is_empty() {
            Trigger::Motion
        } else if ts_ms < self.awake_until_ms {
            Trigger::Wake
        } else if refresh {
            Trigger::Tracks
        } else if self.config.keepalive_ms > 0 && since_run >= self.config.keepalive_ms {
            Trigger::Keepalive
        } else {
            return None;
        };
        let regions = match trigger {
            Trigger::Motion | Trigger::Tracks => {
                // Tracked objects ride along, so a stopped object keeps its track.
                let mut areas = motion.to_vec();
                areas.extend_from_slice(tracked);
                let crops = motion_regions(&areas, frame, &self.config.regions);
                // Crops pay off on a big frame; when they cover as many pixels as the
                // frame itself, one whole-frame run is cheaper and sees it all.
                let covered: f32 = crops.iter().map(BoundingBox::area).sum();
                if crops.len() > 1 && covered >= full_frame(frame).area() {
                    self.whole(frame)
                } else {
                    crops
                }
            }
            _ => self.whole(frame),
        };
        if regions.is_empty() {
            return None;
        }
        self.last_run_ms = Some(ts_ms);
        Some(Plan { trigger, regions })
    }

    fn whole(&self, frame: (u32, u32)) -> Vec<BoundingBox> {
        if self.config.tiling {
            tiles(frame, self.model_side, self.config.regions.tile_overlap)
        } else {
            vec![full_frame(frame)]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: (u32, u32) = (1920, 1080);

    fn moving() -> Vec<BoundingBox> {
        vec![BoundingBox::new(900.0, 500.0, 960.0, 560.0)]
    }

    #[test]
    fn motion_runs_the_detector_on_a_crop_and_stillness_skips_it() {
        let mut gate = Gate::new(GateConfig::default(), 416);
        let plan = gate.plan(FRAME, 0, &moving(), &[]).unwrap();
        assert_eq!(plan.trigger, Trigger::Motion);
        assert_eq!(plan.regions.len(), 1);
        assert_eq!(plan.regions[0].width(), 416.0);
        assert_eq!(gate.plan(FRAME, 200, &[], &[]), None);
    }

    #[test]
    fn crops_that_cover_the_frame_give_way_to_one_whole_frame_run() {
        let mut gate = Gate::new(GateConfig::default(), 416);
        // Two cars at opposite ends of a 768×432 frame: two 416² crops would cover more
        // pixels than the frame.
        let cars = [
            BoundingBox::new(10.0, 10.0, 60.0, 60.0),
            BoundingBox::new(700.0, 370.0, 760.0, 420.0),
        ];
        let plan = gate.plan((768, 432), 0, &cars, &[]).unwrap();
        assert_eq!(plan.regions, vec![full_frame((768, 432))]);
        // On a 1080p frame the same two crops are a fraction of it and stay crops.
        let plan = gate.plan(FRAME, 1_000, &cars, &[]).unwrap();
        assert_eq!(plan.regions.len(), 2);
    }

    #[test]
    fn keepalive_and_track_refresh_run_without_motion() {
        let mut gate = Gate::new(GateConfig::default(), 416);
        gate.plan(FRAME, 0, &moving(), &[]).unwrap();
        let car = [BoundingBox::new(100.0, 100.0, 300.0, 200.0)];
        assert_eq!(gate.plan(FRAME, 500, &[], &car), None);
        let plan = gate.plan(FRAME, 1_000, &[], &car).unwrap();
        assert_eq!(plan.trigger, Trigger::Tracks);
        assert!(plan.regions[0].intersection(&car[0]).area() == car[0].area());
        assert_eq!(gate.plan(FRAME, 5_000, &[], &[]), None);
        let plan = gate.plan(FRAME, 11_000, &[], &[]).unwrap();
        assert_eq!(plan.trigger, Trigger::Keepalive);
        assert_eq!(plan.regions, vec![full_frame(FRAME)]);
    }

    #[test]
    fn a_wake_runs_every_frame_on_tiles_when_tiling() {
        let config = GateConfig {
            tiling: true,
            keepalive_ms: 0,
            ..GateConfig::default()
        };
        let mut gate = Gate::new(config, 416);
        assert_eq!(gate.plan(FRAME, 0, &[], &[]), None);
        gate.wake(1_000);
        for ts in [1_000, 1_100, 30_900] {
            let plan = gate.plan(FRAME, ts, &[], &[]).unwrap();
            assert_eq!(plan.trigger, Trigger::Wake);
            assert!(plan.regions.len() > 4, "{} tiles", plan.regions.len());
        }
        assert_eq!(gate.plan(FRAME, 31_000, &[], &[]), None);
    }
}
