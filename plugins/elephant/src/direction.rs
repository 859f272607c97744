//! Direction of travel of confirmed tracks: a heading word, the zones the herd moved
//! between, and whether it is approaching the protected zone.
//!
//! All distances are in normalized frame coordinates (0–1 of the width and height).

use serde::{Deserialize, Serialize};

use crate::config::{Config, Zone};
use crate::detections::PathPoint;

/// Travel below this share of the frame is no movement; lateral travel below it is
/// "small" (the herd walks along the camera axis).
pub const MIN_TRAVEL: f64 = 0.05;

/// Change of box area (30 %) that means the herd walks toward or away from the camera.
pub const AREA_CHANGE: f64 = 0.3;

/// Cosine between the herd's displacement and the way to the protected zone's centroid
/// above which the herd is heading for it.
pub const APPROACH_COSINE: f64 = 0.7;

/// Which way the herd moves in the camera view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Heading {
    /// Across the view, to the right.
    LeftToRight,
    /// Across the view, to the left.
    RightToLeft,
    /// Nearer: boxes grow by more than [`AREA_CHANGE`] with little lateral travel, or
    /// mostly down the frame (a pole camera looks down on the ground).
    TowardCamera,
    /// Farther: boxes shrink by more than [`AREA_CHANGE`] with little lateral travel, or
    /// mostly up the frame.
    AwayFromCamera,
    /// Travel below [`MIN_TRAVEL`].
    Stationary,
}

/// Where a herd is going, as the alarm and the movement record report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Direction {
    /// Heading from the mean displacement of the confirmed tracks.
    pub heading: Heading,
    /// Zone of the first point of the longest confirmed track.
    pub from_zone: Option<String>,
    /// Zone of the last point of the longest confirmed track.
    pub to_zone: Option<String>,
    /// The configured approach is under way (see [`Direction::assess`]).
    pub approaching: bool,
}

impl Direction {
    /// The direction of the confirmed tracks whose `paths` are given (oldest point
    /// first), with `longest` the path of the longest of them.
    ///
    /// The heading comes from the mean displacement of the tracks from their first to
    /// their last point and the mean change of their box areas. The herd is
    /// approaching when `approach` is configured and either the longest track went from
    /// the `from` zone into the `to` zone, or it is outside the `to` zone and the mean
    /// displacement (at least [`MIN_TRAVEL`] long) points at the zone's centroid
    /// (cosine above [`APPROACH_COSINE`]).
    pub fn assess(config: &Config, paths: &[&[PathPoint]], longest: &[PathPoint]) -> Direction {
        let (dx, dy, growth) = mean_motion(paths);
        let zone_of = |point: Option<&PathPoint>| {
            let point = point?;
            let zone = config
                .zones
                .iter()
                .find(|z| z.polygon.contains(point.x, point.y))?;
            Some(zone.name.clone())
        };
        let (first, last) = (longest.first(), longest.last());
        let approaching = config.approach.as_ref().is_some_and(|approach| {
            let (Some(from), Some(to), Some(first), Some(last)) = (
                config.zone(&approach.from),
                config.zone(&approach.to),
                first,
                last,
            ) else {
                return false;
            };
            let entered =
                from.polygon.contains(first.x, first.y) && to.polygon.contains(last.x, last.y);
            entered || heading_for(to, last, dx, dy)
        });
        Direction {
            heading: heading(dx, dy, growth),
            from_zone: zone_of(first),
            to_zone: zone_of(last),
            approaching,
        }
    }
}

/// Mean displacement `(dx, dy)` of the paths from first to last point, and the
/// geometric mean of their box area ratios (last / first).
fn mean_motion(paths: &[&[PathPoint]]) -> (f64, f64, f64) {
    let ends = paths.iter().filter_map(|p| p.first().zip(p.last()));
    let (mut n, mut dx, mut dy, mut log_growth) = (0.0, 0.0, 0.0, 0.0);
    for (first, last) in ends {
        n += 1.0;
        dx += last.x - first.x;
        dy += last.y - first.y;
        if first.area > 0.0 && last.area > 0.0 {
            log_growth += (last.area / first.area).ln();
        }
    }
    if n == 0.0 {
        return (0.0, 0.0, 1.0);
    }
    (dx / n, dy / n, (log_growth / n).exp())
}

/// The heading word of a mean displacement and box growth.
fn heading(dx: f64, dy: f64, growth: f64) -> Heading {
    let lateral = dx.abs() >= MIN_TRAVEL;
    if !lateral && growth > 1.0 + AREA_CHANGE {
        Heading::TowardCamera
    } else if !lateral && growth < 1.0 - AREA_CHANGE {
        Heading::AwayFromCamera
    } else if dx.hypot(dy) < MIN_TRAVEL {
        Heading::Stationary
    } else if dx.abs() >= dy.abs() {
        if dx > 0.0 {
            Heading::LeftToRight
        } else {
            Heading::RightToLeft
        }
    } else if dy > 0.0 {
        Heading::TowardCamera
    } else {
        Heading::AwayFromCamera
    }
}

/// Whether a herd at `at`, outside `zone`, moving by `(dx, dy)` is heading for it.
fn heading_for(zone: &Zone, at: &PathPoint, dx: f64, dy: f64) -> bool {
    let travel = dx.hypot(dy);
    if travel < MIN_TRAVEL || zone.polygon.contains(at.x, at.y) {
        return false;
    }
    let (cx, cy) = zone.polygon.centroid();
    let (tx, ty) = (cx - at.x, cy - at.y);
    let distance = tx.hypot(ty);
    distance > 0.0 && (dx * tx + dy * ty) / (travel * distance) > APPROACH_COSINE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(ts_ms: u64, x: f64, y: f64, area: f64) -> PathPoint {
        PathPoint { ts_ms, x, y, area }
    }

    fn forest_village() -> Config {
        Config::from_json(
            r#"{"zones": [
                {"name": "forest", "polygon": [[0, 0], [0.3, 0], [0.3, 1], [0, 1]]},
                {"name": "village", "polygon": [[0.7, 0], [1, 0], [1, 1], [0.7, 1]]}
            ], "approach": {"from": "forest", "to": "village"}}"#,
        )
        .unwrap()
    }

    fn assess(config: &Config, path: &[PathPoint]) -> Direction {
        Direction::assess(config, &[path], path)
    }

    #[test]
    fn headings() {
        let config = Config::default();
        let moving = |x1, y1, area1| {
            assess(
                &config,
                &[point(0, 0.5, 0.5, 0.01), point(9, x1, y1, area1)],
            )
            .heading
        };
        assert_eq!(moving(0.6, 0.52, 0.01), Heading::LeftToRight);
        assert_eq!(moving(0.4, 0.48, 0.01), Heading::RightToLeft);
        assert_eq!(moving(0.52, 0.51, 0.02), Heading::TowardCamera);
        assert_eq!(moving(0.48, 0.49, 0.005), Heading::AwayFromCamera);
        assert_eq!(moving(0.53, 0.53, 0.011), Heading::Stationary);
        assert_eq!(moving(0.52, 0.7, 0.01), Heading::TowardCamera);
        assert_eq!(moving(0.52, 0.3, 0.01), Heading::AwayFromCamera);
        // Lateral travel wins over a growing box.
        assert_eq!(moving(0.7, 0.5, 0.03), Heading::LeftToRight);
    }

    #[test]
    fn heading_is_the_mean_of_the_tracks() {
        let config = Config::default();
        let right = [point(0, 0.2, 0.5, 0.01), point(9, 0.5, 0.5, 0.01)];
        let left = [point(0, 0.6, 0.5, 0.01), point(9, 0.5, 0.5, 0.01)];
        let direction = Direction::assess(&config, &[&right, &left], &right);
        assert_eq!(direction.heading, Heading::LeftToRight);
        let back = [point(0, 0.8, 0.5, 0.01), point(9, 0.5, 0.5, 0.01)];
        let direction = Direction::assess(&config, &[&right, &back], &right);
        assert_eq!(direction.heading, Heading::Stationary);
    }

    #[test]
    fn zones_of_the_longest_track() {
        let config = forest_village();
        let path = [point(0, 0.1, 0.5, 0.01), point(9, 0.5, 0.5, 0.01)];
        let direction = assess(&config, &path);
        assert_eq!(direction.from_zone.as_deref(), Some("forest"));
        assert_eq!(direction.to_zone, None);
        assert!(direction.approaching, "heading right at the village");
    }

    #[test]
    fn approaching() {
        let config = forest_village();
        // Entered the village from the forest, even if standing still now.
        let entered = [point(0, 0.2, 0.5, 0.01), point(9, 0.8, 0.5, 0.01)];
        assert!(assess(&config, &entered).approaching);
        // Heading for the village, from the road between.
        let road = [point(0, 0.4, 0.5, 0.01), point(9, 0.5, 0.5, 0.01)];
        assert!(assess(&config, &road).approaching);
        // Too short a move.
        let short = [point(0, 0.4, 0.5, 0.01), point(9, 0.43, 0.5, 0.01)];
        assert!(!assess(&config, &short).approaching);
        // Going back to the forest.
        let back = [point(0, 0.5, 0.5, 0.01), point(9, 0.4, 0.5, 0.01)];
        assert!(!assess(&config, &back).approaching);
        // Moving inside the village, not from the forest.
        let inside = [point(0, 0.75, 0.5, 0.01), point(9, 0.95, 0.5, 0.01)];
        assert!(!assess(&config, &inside).approaching);
        // Sideways: down the frame, the village is to the right.
        let down = [point(0, 0.5, 0.1, 0.01), point(9, 0.52, 0.6, 0.01)];
        assert!(!assess(&config, &down).approaching);
        // No approach configured.
        let plain = Config {
            approach: None,
            ..config
        };
        assert!(!assess(&plain, &entered).approaching);
    }
}
