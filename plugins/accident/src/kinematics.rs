//! Per-track kinematics: where a road user stood on recent frames, and its velocity and
//! heading over a time window, in pixels and, with a ground-plane calibration, in metres.
//!
//! A road user's position is the bottom centre of its box, where it touches the road.
//! Velocities are least-squares fits over the samples in a window, so one jittery box
//! does not fake a stop or a turn, and frames skipped by the motion gate only thin the
//! samples out.

use std::collections::VecDeque;

use nalgebra::{Matrix3, SMatrix, SVector, Vector3};

use crate::config::Calibration;
use sao_plugin_sdk_vision::{Detection, Frame};

/// How much history a track keeps, ms: enough for every rule's window (the config
/// bounds them: [`crate::config::MAX_WINDOW_S`]).
pub const HISTORY_MS: u64 = 60_000;

/// The homography from normalized frame coordinates to the road, in metres.
#[derive(Debug, Clone, PartialEq)]
pub struct GroundPlane {
    h: Matrix3<f64>,
}

impl GroundPlane {
    /// The plane through a calibration's four point pairs; `None` when they do not
    /// define one (three collinear points).
    pub fn new(calibration: &Calibration) -> Option<GroundPlane> {
        let mut a = SMatrix::<f64, 8, 8>::zeros();
        let mut b = SVector::<f64, 8>::zeros();
        for (k, (&[x, y], &[u, v])) in calibration
            .image
            .iter()
            .zip(calibration.ground.iter())
            .enumerate()
        {
            let (r0, r1) = (2 * k, 2 * k + 1);
            a.row_mut(r0)
                .copy_from_slice(&[x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y]);
            a.row_mut(r1)
                .copy_from_slice(&[0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y]);
            b[r0] = u;
            b[r1] = v;
        }
        let collinear = |p: &[[f64; 2]; 4]| {
            (0..4).any(|skip| {
                let q: Vec<[f64; 2]> = (0..4).filter(|&i| i != skip).map(|i| p[i]).collect();
                let cross = (q[1][0] - q[0][0]) * (q[2][1] - q[0][1])
                    - (q[1][1] - q[0][1]) * (q[2][0] - q[0][0]);
                cross.abs() < 1e-9
            })
        };
        if collinear(&calibration.image) || collinear(&calibration.ground) {
            return None;
        }
        let h = a.lu().solve(&b)?;
        let h = Matrix3::new(h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1.0);
        h.iter().all(|v| v.is_finite()).then_some(GroundPlane { h })
    }

    /// Where the normalized frame point `(x, y)` is on the road, metres.
    pub fn project(&self, x: f64, y: f64) -> (f64, f64) {
        let p = self.h * Vector3::new(x, y, 1.0);
        (p.x / p.z, p.y / p.z)
    }
}

/// One sighting of a track.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Capture time, Unix milliseconds.
    pub ts_ms: u64,
    /// Frame number.
    pub frame_id: u64,
    /// Bottom centre of the box, pixels.
    pub x: f64,
    /// Bottom centre of the box, pixels.
    pub y: f64,
    /// Box width, pixels.
    pub width: f64,
    /// Box height, pixels.
    pub height: f64,
    /// Bottom centre of the box in normalized frame coordinates.
    pub nx: f64,
    /// Bottom centre of the box in normalized frame coordinates.
    pub ny: f64,
}

impl Sample {
    /// The sample of `detection` on `frame`.
    pub fn of(frame: &Frame, d: &Detection) -> Sample {
        let x = f64::from(d.x) + f64::from(d.width) / 2.0;
        let y = f64::from(d.y) + f64::from(d.height);
        Sample {
            ts_ms: frame.ts_ms,
            frame_id: frame.frame_id,
            x,
            y,
            width: f64::from(d.width),
            height: f64::from(d.height),
            nx: x / f64::from(frame.width.max(1)),
            ny: y / f64::from(frame.height.max(1)),
        }
    }

    /// The box's size: the square root of its area, pixels.
    pub fn size(&self) -> f64 {
        (self.width * self.height).sqrt().max(1.0)
    }

    /// The box as `(left, top, right, bottom)`, pixels.
    pub fn corners(&self) -> (f64, f64, f64, f64) {
        (
            self.x - self.width / 2.0,
            self.y - self.height,
            self.x + self.width / 2.0,
            self.y,
        )
    }
}

/// A velocity fitted over a window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Motion {
    /// Horizontal velocity, pixels per second (right positive).
    pub vx: f64,
    /// Vertical velocity, pixels per second (down positive).
    pub vy: f64,
    /// Speed in box sizes per second.
    pub relative_speed: f64,
    /// Speed and heading on the road, when calibrated: metres per second, and degrees
    /// clockwise from the ground's north (+y).
    pub ground: Option<(f64, f64)>,
}

impl Motion {
    /// Speed, pixels per second.
    pub fn speed_px(&self) -> f64 {
        self.vx.hypot(self.vy)
    }

    /// Heading in the frame, degrees clockwise from "up the picture" (0–360).
    pub fn heading_deg(&self) -> f64 {
        self.vx.atan2(-self.vy).to_degrees().rem_euclid(360.0)
    }

    /// The angle between two motions' directions, degrees (0–180).
    pub fn turn_deg(&self, other: &Motion) -> f64 {
        let d = (self.heading_deg() - other.heading_deg()).abs();
        d.min(360.0 - d)
    }
}

/// The recent samples of one track.
#[derive(Debug, Clone, Default)]
pub struct History {
    samples: VecDeque<Sample>,
}

impl History {
    /// Adds a sample and forgets those older than [`HISTORY_MS`].
    pub fn push(&mut self, sample: Sample) {
        self.samples.push_back(sample);
        while self
            .samples
            .front()
            .is_some_and(|s| sample.ts_ms.saturating_sub(s.ts_ms) > HISTORY_MS)
        {
            self.samples.pop_front();
        }
    }

    /// The latest sample.
    pub fn last(&self) -> Option<&Sample> {
        self.samples.back()
    }

    /// The first sample kept.
    pub fn first(&self) -> Option<&Sample> {
        self.samples.front()
    }

    /// The latest sample taken at or before `ts_ms`.
    pub fn at(&self, ts_ms: u64) -> Option<&Sample> {
        self.samples.iter().rev().find(|s| s.ts_ms <= ts_ms)
    }

    /// The samples from `from_ms` to `to_ms`, inclusive.
    pub fn between(&self, from_ms: u64, to_ms: u64) -> impl Iterator<Item = &Sample> {
        self.samples
            .iter()
            .filter(move |s| s.ts_ms >= from_ms && s.ts_ms <= to_ms)
    }

    /// The velocity over `from_ms..=to_ms`: a least-squares line through the samples
    /// there. `None` with fewer than two samples or less than 0.2 s between the first and
    /// the last.
    pub fn motion(&self, from_ms: u64, to_ms: u64, ground: Option<&GroundPlane>) -> Option<Motion> {
        let window: Vec<&Sample> = self.between(from_ms, to_ms).collect();
        let (first, last) = (window.first()?, window.last()?);
        if last.ts_ms.saturating_sub(first.ts_ms) < 200 {
            return None;
        }
        let t0 = first.ts_ms;
        let times: Vec<f64> = window
            .iter()
            .map(|s| (s.ts_ms - t0) as f64 / 1000.0)
            .collect();
        let slope = |values: &mut dyn Iterator<Item = f64>| slope(&times, values);
        let vx = slope(&mut window.iter().map(|s| s.x))?;
        let vy = slope(&mut window.iter().map(|s| s.y))?;
        let size = window.iter().map(|s| s.size()).sum::<f64>() / window.len() as f64;
        let ground = ground.and_then(|plane| {
            let points: Vec<(f64, f64)> =
                window.iter().map(|s| plane.project(s.nx, s.ny)).collect();
            let ve = slope(&mut points.iter().map(|p| p.0))?;
            let vn = slope(&mut points.iter().map(|p| p.1))?;
            Some((ve.hypot(vn), ve.atan2(vn).to_degrees().rem_euclid(360.0)))
        });
        Some(Motion {
            vx,
            vy,
            relative_speed: vx.hypot(vy) / size,
            ground,
        })
    }
}

/// The slope of the least-squares line through `(times[i], values[i])`.
fn slope(times: &[f64], values: &mut dyn Iterator<Item = f64>) -> Option<f64> {
    let values: Vec<f64> = values.collect();
    let n = times.len() as f64;
    let mean_t = times.iter().sum::<f64>() / n;
    let mean_v = values.iter().sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for (t, v) in times.iter().zip(&values) {
        num += (t - mean_t) * (v - mean_v);
        den += (t - mean_t) * (t - mean_t);
    }
    (den > 1e-12).then(|| num / den)
}

/// The share of the smaller of two boxes `(left, top, right, bottom)` that they have in
/// common (0: apart, 1: one inside the other).
pub fn overlap(a: (f64, f64, f64, f64), b: (f64, f64, f64, f64)) -> f64 {
    let w = (a.2.min(b.2) - a.0.max(b.0)).max(0.0);
    let h = (a.3.min(b.3) - a.1.max(b.1)).max(0.0);
    let area = |r: (f64, f64, f64, f64)| (r.2 - r.0) * (r.3 - r.1);
    let smaller = area(a).min(area(b));
    if smaller <= 0.0 {
        0.0
    } else {
        w * h / smaller
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ts_ms: u64, x: f64, y: f64) -> Sample {
        Sample {
            ts_ms,
            frame_id: ts_ms / 100,
            x,
            y,
            width: 100.0,
            height: 100.0,
            nx: x / 1000.0,
            ny: y / 1000.0,
        }
    }

    #[test]
    fn motion_is_a_least_squares_fit() {
        let mut h = History::default();
        for i in 0..=10 {
            // 50 px/s to the right, 20 px/s up the picture, with ±2 px jitter.
            let jitter = if i % 2 == 0 { 2.0 } else { -2.0 };
            h.push(sample(
                i * 100,
                100.0 + 5.0 * i as f64 + jitter,
                500.0 - 2.0 * i as f64,
            ));
        }
        let m = h.motion(0, 1000, None).unwrap();
        assert!((m.vx - 50.0).abs() < 3.0, "{m:?}");
        assert!((m.vy + 20.0).abs() < 1e-6, "{m:?}");
        assert!((m.relative_speed - m.speed_px() / 100.0).abs() < 1e-9);
        // Right and a little up: about 68° clockwise from up.
        assert!((m.heading_deg() - 68.2).abs() < 2.0, "{}", m.heading_deg());
        assert!(
            h.motion(0, 100, None).is_none(),
            "0.1 s is too short to fit"
        );
        assert!(h.motion(5000, 6000, None).is_none(), "no samples there");
    }

    #[test]
    fn ground_plane_maps_the_calibration_points_and_gives_metres() {
        // A road seen in perspective: a 3.5 m lane, 40 m long.
        let calibration = Calibration {
            image: [[0.4, 0.2], [0.6, 0.2], [0.9, 0.9], [0.1, 0.9]],
            ground: [[0.0, 40.0], [3.5, 40.0], [3.5, 0.0], [0.0, 0.0]],
        };
        let plane = GroundPlane::new(&calibration).unwrap();
        for (&[x, y], &[e, n]) in calibration.image.iter().zip(&calibration.ground) {
            let (pe, pn) = plane.project(x, y);
            assert!((pe - e).abs() < 1e-6 && (pn - n).abs() < 1e-6, "{pe} {pn}");
        }
        // Driving up the lane's middle from the near edge to the far edge in 4 s: 10 m/s
        // heading north, though the pixels slow down with distance.
        let mut h = History::default();
        for i in 0..=40u64 {
            let n = i as f64; // metres
                              // Invert the plane along the lane's centre line by search.
            let ny = (0..=7000)
                .map(|k| 0.2 + k as f64 * 0.0001)
                .min_by(|a, b| {
                    let da = (plane.project(0.5, *a).1 - n).abs();
                    let db = (plane.project(0.5, *b).1 - n).abs();
                    da.total_cmp(&db)
                })
                .unwrap();
            h.push(Sample {
                nx: 0.5,
                ny,
                ..sample(i * 100, 500.0, ny * 1000.0)
            });
        }
        let (speed, heading) = h.motion(0, 4000, Some(&plane)).unwrap().ground.unwrap();
        assert!((speed - 10.0).abs() < 0.2, "{speed}");
        assert!(!(1.0..=359.0).contains(&heading), "{heading}");
    }

    #[test]
    fn overlap_is_a_share_of_the_smaller_box() {
        assert_eq!(
            overlap((0.0, 0.0, 10.0, 10.0), (20.0, 0.0, 30.0, 10.0)),
            0.0
        );
        assert_eq!(overlap((0.0, 0.0, 10.0, 10.0), (5.0, 0.0, 15.0, 10.0)), 0.5);
        assert_eq!(
            overlap((0.0, 0.0, 100.0, 100.0), (10.0, 10.0, 20.0, 20.0)),
            1.0
        );
    }
}
