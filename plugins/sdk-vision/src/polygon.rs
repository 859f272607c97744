//! Areas of a camera view: polygons in normalized frame coordinates (0–1, x to the
//! right, y down), so a config does not depend on the camera's resolution.

use serde::{Deserialize, Serialize};

/// A polygon given by its corners `[x, y]` in normalized frame coordinates. In config
/// JSON it is a plain array of points: `[[0, 0], [0.3, 0], [0.3, 1]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Polygon(pub Vec<[f64; 2]>);

impl Polygon {
    /// Checks that the polygon has at least 3 corners, all inside the frame. `field`
    /// names it in the message, e.g. `zones[2].polygon`.
    pub fn validate(&self, field: &str) -> Result<(), String> {
        if self.0.len() < 3 {
            return Err(format!(
                "{field}: needs at least 3 points, got {}",
                self.0.len()
            ));
        }
        let in_frame = |v: f64| (0.0..=1.0).contains(&v);
        if let Some(k) = self.0.iter().position(|p| !p.iter().all(|&v| in_frame(v))) {
            let [x, y] = self.0[k];
            return Err(format!(
                "{field}[{k}]: [{x}, {y}] is outside the frame (coordinates are 0-1)"
            ));
        }
        Ok(())
    }

    /// Whether the point `(x, y)` lies inside the polygon (even-odd rule).
    pub fn contains(&self, x: f64, y: f64) -> bool {
        self.edges()
            .filter(|&([x0, y0], [x1, y1])| {
                (y0 > y) != (y1 > y) && x < x0 + (x1 - x0) * (y - y0) / (y1 - y0)
            })
            .count()
            % 2
            == 1
    }

    /// The polygon's centroid (the mean of its corners if it has no area).
    pub fn centroid(&self) -> (f64, f64) {
        let (mut area2, mut cx, mut cy) = (0.0, 0.0, 0.0);
        for ([x0, y0], [x1, y1]) in self.edges() {
            let cross = x0 * y1 - x1 * y0;
            area2 += cross;
            cx += (x0 + x1) * cross;
            cy += (y0 + y1) * cross;
        }
        if area2.abs() > f64::EPSILON {
            (cx / (3.0 * area2), cy / (3.0 * area2))
        } else {
            let n = self.0.len().max(1) as f64;
            let sum = self
                .0
                .iter()
                .fold((0.0, 0.0), |(sx, sy), &[x, y]| (sx + x, sy + y));
            (sum.0 / n, sum.1 / n)
        }
    }

    /// The polygon's sides, each from one corner to the next.
    fn edges(&self) -> impl Iterator<Item = ([f64; 2], [f64; 2])> + '_ {
        let corners = self.0.iter().copied();
        corners.clone().zip(corners.cycle().skip(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry() {
        let triangle = Polygon(vec![[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]);
        assert!(triangle.contains(0.2, 0.2));
        assert!(!triangle.contains(0.8, 0.8));
        let (cx, cy) = triangle.centroid();
        assert!((cx - 1.0 / 3.0).abs() < 1e-9 && (cy - 1.0 / 3.0).abs() < 1e-9);
        let flat = Polygon(vec![[0.0, 0.5], [0.5, 0.5], [1.0, 0.5]]);
        assert_eq!(flat.centroid(), (0.5, 0.5));
        assert!(!flat.contains(0.5, 0.5));
    }

    #[test]
    fn validation() {
        let p = |points: Vec<[f64; 2]>| Polygon(points).validate("zones[1].polygon");
        assert_eq!(
            p(vec![[0.0, 0.0], [1.0, 1.0]]),
            Err("zones[1].polygon: needs at least 3 points, got 2".into())
        );
        assert_eq!(
            p(vec![[0.0, 0.0], [1.2, 0.5], [1.0, 1.0]]),
            Err(
                "zones[1].polygon[1]: [1.2, 0.5] is outside the frame (coordinates are 0-1)".into()
            )
        );
        assert_eq!(p(vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]), Ok(()));
    }
}
