//! Traffic counts: road users per class and direction per period, as telemetry on
//! `…/tele/accident/traffic`, one record per camera and period.
//!
//! A track is counted once, when it has travelled `counts.min-travel` box sizes from
//! where it was first seen (a parked car is not traffic). Its direction is the lane it is
//! in then (the lane's name), else its heading: `north`/`east`/`south`/`west` on the
//! ground when calibrated, `up`/`right`/`down`/`left` in the picture otherwise. A period
//! is reported when the first frame or tick of a later period arrives, so a count is
//! never split or reported twice; periods start on multiples of `counts.period-s` (UTC),
//! and `observed-from-ts` says when the plugin began watching a period it joined late.

use std::collections::BTreeMap;

use serde_json::json;

use crate::config::{Config, ZoneKind};
use crate::host::{Host, LogLevel};
use crate::kinematics::GroundPlane;
use crate::road_user::RoadUser;
use crate::scene::{zone_at, Scene};

/// Telemetry stream of the counts.
pub const STREAM: &str = "traffic";

/// One camera's counts for the current period.
#[derive(Debug, Clone, Default)]
pub struct PeriodCounts {
    /// Start of the period, Unix ms.
    start_ms: Option<u64>,
    /// The first frame or tick seen in the period (later than its start when the plugin
    /// started or the camera came up during it), Unix ms.
    observed_ms: u64,
    /// Road users counted, by direction and class.
    counted: BTreeMap<String, BTreeMap<RoadUser, u32>>,
    /// Ground speeds of the vehicles counted, km/h (calibrated cameras only).
    speeds_kmh: Vec<f64>,
}

impl PeriodCounts {
    /// Reports the period if `now_ms` lies beyond it, and starts the one `now_ms` is in.
    pub fn roll(&mut self, camera: &str, now_ms: u64, config: &Config, host: &mut impl Host) {
        let period_ms = u64::from(config.counts.period_s) * 1000;
        let current = now_ms - now_ms % period_ms;
        match self.start_ms {
            Some(start) if start >= current => return,
            Some(start) => self.publish(camera, start, start + period_ms, config, host),
            None => {}
        }
        *self = PeriodCounts {
            start_ms: Some(current),
            observed_ms: now_ms,
            ..PeriodCounts::default()
        };
    }

    /// Counts the tracks of `scene` that have now travelled far enough.
    pub fn count(&mut self, scene: &mut Scene, config: &Config, ground: Option<&GroundPlane>) {
        let Some(frame) = scene.frame.clone() else {
            return;
        };
        for track in scene.tracks.values_mut().filter(|t| !t.counted) {
            let Some(first) = track.history.first().copied() else {
                continue;
            };
            if track.distance_in_sizes(&first) < config.counts.min_travel {
                continue;
            }
            track.counted = true;
            let at = *track.last();
            let motion = track.history.motion(first.ts_ms, frame.ts_ms, ground);
            let direction = match zone_at(&config.zones, at.nx, at.ny, |k| k == ZoneKind::Lane) {
                Some(lane) => lane.name.clone(),
                None => heading_name(&motion, at.x - first.x, at.y - first.y),
            };
            *self
                .counted
                .entry(direction)
                .or_default()
                .entry(track.user)
                .or_default() += 1;
            if let Some((mps, _)) = motion.and_then(|m| m.ground) {
                if track.user.is_vehicle() {
                    self.speeds_kmh.push(mps * 3.6);
                }
            }
        }
    }

    fn publish(&self, camera: &str, start: u64, end: u64, config: &Config, host: &mut impl Host) {
        let mut classes: Vec<RoadUser> = config.classes.values().copied().collect();
        classes.sort();
        classes.dedup();
        let total = |user: RoadUser| -> u32 {
            self.counted
                .values()
                .map(|by_class| by_class.get(&user).copied().unwrap_or(0))
                .sum()
        };
        let names: Vec<(&str, f64)> = classes
            .iter()
            .map(|&u| (u.as_str(), f64::from(total(u))))
            .collect();
        let vehicles: u32 = classes
            .iter()
            .filter(|u| u.is_vehicle())
            .map(|&u| total(u))
            .sum();
        let mut metrics: Vec<(&str, f64, &str)> =
            names.iter().map(|&(name, n)| (name, n, "1")).collect();
        metrics.push(("vehicles", f64::from(vehicles), "1"));
        let mean_speed = (!self.speeds_kmh.is_empty())
            .then(|| self.speeds_kmh.iter().sum::<f64>() / self.speeds_kmh.len() as f64);
        if let Some(speed) = mean_speed {
            metrics.push(("mean-speed", (speed * 10.0).round() / 10.0, "km/h"));
        }
        let by_direction: BTreeMap<&String, BTreeMap<&str, u32>> = self
            .counted
            .iter()
            .map(|(dir, by_class)| {
                let by_class = by_class.iter().map(|(u, n)| (u.as_str(), *n)).collect();
                (dir, by_class)
            })
            .collect();
        let details = json!({
            "camera": camera,
            "period-start-ts": start,
            "period-end-ts": end,
            "period-s": config.counts.period_s,
            "observed-from-ts": self.observed_ms,
            "by-direction": by_direction,
        });
        if let Err(e) = host.publish_with_details(STREAM, &metrics, &details.to_string()) {
            host.log(
                LogLevel::Error,
                &format!("traffic counts of {camera} not published: {e}"),
            );
        }
    }
}

/// The compass (calibrated) or picture direction of a travel.
fn heading_name(motion: &Option<crate::kinematics::Motion>, dx: f64, dy: f64) -> String {
    const COMPASS: [&str; 4] = ["north", "east", "south", "west"];
    const PICTURE: [&str; 4] = ["up", "right", "down", "left"];
    let (heading, names) = match motion.and_then(|m| m.ground) {
        Some((_, heading)) => (heading, COMPASS),
        None => (dx.atan2(-dy).to_degrees().rem_euclid(360.0), PICTURE),
    };
    names[((heading + 45.0) / 90.0) as usize % 4].to_string()
}
