//! Where on a frame the detector runs: square crops around motion, or overlapping tiles.
//!
//! A pole camera delivers large frames (1920x1080 and up) while the model input is small
//! (416x416). Letterboxing the whole frame into the input shrinks it about 4.6 times, so
//! a distant animal or person ends up a few pixels tall and is missed. Following
//! Frigate's *region* idea, the detector is instead run on model-sized crops of the
//! frame placed around what moved, where objects keep (close to) their native
//! resolution:
//!
//! 1. motion boxes (full-frame pixels, from the `motion` module) smaller than
//!    [`RegionConfig::min_motion_area`] are dropped as noise;
//! 2. boxes that overlap or lie closer than [`RegionConfig::merge_gap`] are merged,
//!    repeatedly, until no two are close, so one animal split into several blobs gets
//!    one crop;
//! 3. each merged area grows by [`RegionConfig::margin`] so the object's still parts
//!    (and some context) are inside the crop too;
//! 4. each area becomes a square (the model input is square, so a square crop wastes
//!    no input on padding) of side at least [`RegionConfig::min_region`], centred on
//!    the area and shifted, never shrunk, to lie inside the frame; an area longer than
//!    the frame's shorter side cannot fit in a square, so its region is the whole frame
//!    and the letterbox deals with it;
//! 5. squares that overlap heavily (IoU above one half, or one inside the other) would
//!    run the model twice on nearly the same pixels, so their areas are merged and
//!    squared again, until stable;
//! 6. if more than [`RegionConfig::max_regions`] remain, the frame's inference budget
//!    is exceeded and all motion is covered by one region instead.
//!
//! Every motion box kept in step 1 lies inside some region. Regions have whole-pixel
//! coordinates because they become OpenCV ROIs.
//!
//! When there is no motion to go by (a night IR camera trap, a long-range view, a PIR
//! sensor woke the camera, a periodic keep-alive inference) the caller can run the model
//! on [`tiles`] instead: model-sized squares covering the frame with some overlap, so an
//! object cut by one tile's edge is whole in its neighbour. Detections from crops or
//! tiles are brought back to frame pixels with [`to_frame`] (after the caller undoes the
//! letterbox inside the crop with [`crate::geometry::Letterbox::to_source`]); merging
//! the duplicates found by overlapping tiles is the job of `nms::merge_tiles`.

use serde::{Deserialize, Serialize};

use crate::geometry::{BoundingBox, Detection};

/// Two squares whose IoU is above this cover nearly the same pixels and are merged.
const HEAVY_OVERLAP_IOU: f32 = 0.5;

/// The largest tile overlap [`tiles`] honours: more would multiply the number of tiles
/// (and inferences) without helping detection.
pub const MAX_TILE_OVERLAP: f32 = 0.9;

/// How motion becomes detector regions, and how tiles overlap.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default, deny_unknown_fields)]
pub struct RegionConfig {
    /// Smallest side of a region, in frame pixels. Set it to the model input side so a
    /// small moving object is seen at native resolution (a smaller crop would only be
    /// upscaled); a larger value trades resolution for context.
    pub min_region: u32,
    /// Most regions inferred per frame, which bounds the inference cost of a busy frame;
    /// past it, one region covering all motion is used. Zero is taken as one.
    pub max_regions: usize,
    /// Fraction of a merged motion area's width (height) added on its left and right
    /// (top and bottom), so the parts of the object that did not move are in the crop.
    /// Negative values are taken as zero.
    pub margin: f32,
    /// Motion boxes closer than this many pixels (or overlapping) are merged, because
    /// one object often moves as several blobs.
    pub merge_gap: u32,
    /// Fraction of the tile side by which neighbouring [`tiles`] overlap at least, so an
    /// object on a tile's edge is whole in the next tile. Clamped to between 0 and
    /// [`MAX_TILE_OVERLAP`].
    pub tile_overlap: f32,
    /// Motion boxes covering fewer pixels than this are ignored as noise (rain, insects,
    /// sensor flicker).
    pub min_motion_area: u32,
}

impl Default for RegionConfig {
    fn default() -> Self {
        Self {
            min_region: 416,
            max_regions: 4,
            margin: 0.2,
            merge_gap: 32,
            tile_overlap: 0.2,
            min_motion_area: 64,
        }
    }
}

/// The whole frame as a box: the region to use when cropping would not help.
pub fn full_frame(frame: (u32, u32)) -> BoundingBox {
    BoundingBox::new(0.0, 0.0, frame.0 as f32, frame.1 as f32)
}

/// The regions of a `frame` (`(width, height)`) to run the detector on, given the
/// `motion` boxes found in it (full-frame pixels). Each region is a whole-pixel box
/// inside the frame, square unless it is the whole frame (when the frame's shorter side
/// is below [`RegionConfig::min_region`], or the motion is too large for a square); at
/// most [`RegionConfig::max_regions`] are returned, in no particular order. No motion
/// (or only tiny motion, or an empty frame) gives no region.
pub fn motion_regions(
    motion: &[BoundingBox],
    frame: (u32, u32),
    cfg: &RegionConfig,
) -> Vec<BoundingBox> {
    if frame.0 == 0 || frame.1 == 0 {
        return Vec::new();
    }
    let moving: Vec<BoundingBox> = motion
        .iter()
        .filter(|b| ![b.x1, b.y1, b.x2, b.y2].iter().any(|v| v.is_nan()))
        .map(|b| b.clamp(frame.0 as f32, frame.1 as f32))
        .filter(|b| b.area() > 0.0 && b.area() >= cfg.min_motion_area as f32)
        .collect();
    let gap = cfg.merge_gap as f32;
    let near = |a: &BoundingBox, b: &BoundingBox| {
        let d = distance(a, b);
        d == 0.0 || d < gap
    };
    let merged = merge_until_stable(moving, near, |a, b| a.union(b));
    let regions = merged
        .iter()
        .map(|b| Region::around(expand(b, cfg.margin, frame), frame, cfg.min_region))
        .collect();
    let regions = merge_until_stable(
        regions,
        |a: &Region, b: &Region| crowds(&a.square, &b.square),
        |a, b| Region::around(a.area.union(&b.area), frame, cfg.min_region),
    );
    if regions.len() > cfg.max_regions.max(1) {
        return regions
            .iter()
            .map(|r| r.area)
            .reduce(|a, b| a.union(&b))
            .map(|all| Region::around(all, frame, cfg.min_region).square)
            .into_iter()
            .collect();
    }
    regions.into_iter().map(|r| r.square).collect()
}

/// Tiles of side `tile` covering a `frame` (`(width, height)`) so that every pixel is in
/// at least one, for inference when there is no motion to go by. Along each dimension
/// the tiles are spread evenly (starts differ by at most one pixel), the first at the
/// left (top) edge and the last flush with the right (bottom) edge, using as few tiles
/// as keep neighbours overlapping by at least `overlap` of the tile side (clamped to
/// between 0 and [`MAX_TILE_OVERLAP`]). A dimension no longer than a tile gets one tile
/// spanning it. Whole pixels, row by row from the top-left; an empty frame gives no
/// tile, a zero `tile` is taken as one pixel.
pub fn tiles(frame: (u32, u32), tile: u32, overlap: f32) -> Vec<BoundingBox> {
    let tile = tile.max(1);
    // NaN (an unset or broken setting) is no overlap; `clamp` would keep it.
    let overlap = if overlap.is_nan() {
        0.0
    } else {
        overlap.clamp(0.0, MAX_TILE_OVERLAP)
    };
    let xs = spans(frame.0, tile, overlap);
    let ys = spans(frame.1, tile, overlap);
    ys.iter()
        .flat_map(|&(y, h)| {
            xs.iter().map(move |&(x, w)| {
                BoundingBox::new(x as f32, y as f32, (x + w) as f32, (y + h) as f32)
            })
        })
        .collect()
}

/// Detections found in a crop (in the crop's pixels, letterbox already undone) moved to
/// the pixels of the frame the crop was cut from at `region`.
pub fn to_frame(
    detections: impl IntoIterator<Item = Detection>,
    region: &BoundingBox,
) -> Vec<Detection> {
    detections
        .into_iter()
        .map(|d| Detection {
            bbox: d.bbox.translate(region.x1, region.y1),
            ..d
        })
        .collect()
}

/// A region under construction: the motion area it must cover and the square (or whole
/// frame) chosen for it. Kept together so merging two regions re-squares their motion,
/// not their already enlarged squares.
#[derive(Clone, Copy, Debug)]
struct Region {
    area: BoundingBox,
    square: BoundingBox,
}

impl Region {
    /// The region for a whole-pixel `area` inside the frame: the square of side
    /// `max(width, height, min_side)` centred on it and shifted inside the frame, or the
    /// whole frame if that square does not fit.
    fn around(area: BoundingBox, frame: (u32, u32), min_side: u32) -> Self {
        let (fw, fh) = (frame.0 as f32, frame.1 as f32);
        let side = area.width().max(area.height()).max(min_side as f32);
        let square = if side > fw.min(fh) {
            full_frame(frame)
        } else {
            let x = place(area.x1, area.width(), side, fw);
            let y = place(area.y1, area.height(), side, fh);
            BoundingBox::new(x, y, x + side, y + side)
        };
        Self { area, square }
    }
}

/// Start of a span of `side` pixels centred (to the pixel) on the span `[start,
/// start + len]`, then shifted to lie within `[0, limit]`. All values are whole pixels
/// and `len <= side <= limit`, so the result is whole and still covers the span.
fn place(start: f32, len: f32, side: f32, limit: f32) -> f32 {
    (start - ((side - len) / 2.0).floor()).clamp(0.0, limit - side)
}

/// `b` grown by `margin` of its width (height) on each side, cut to the frame and
/// rounded outwards to whole pixels.
fn expand(b: &BoundingBox, margin: f32, frame: (u32, u32)) -> BoundingBox {
    let m = margin.max(0.0);
    let (dx, dy) = (b.width() * m, b.height() * m);
    let grown = BoundingBox::new(b.x1 - dx, b.y1 - dy, b.x2 + dx, b.y2 + dy)
        .clamp(frame.0 as f32, frame.1 as f32);
    BoundingBox::new(
        grown.x1.floor(),
        grown.y1.floor(),
        grown.x2.ceil(),
        grown.y2.ceil(),
    )
}

/// Euclidean distance between the closest points of two boxes (zero if they touch or
/// overlap).
fn distance(a: &BoundingBox, b: &BoundingBox) -> f32 {
    let gx = (a.x1.max(b.x1) - a.x2.min(b.x2)).max(0.0);
    let gy = (a.y1.max(b.y1) - a.y2.min(b.y2)).max(0.0);
    if gx == 0.0 && gy == 0.0 {
        0.0
    } else {
        gx.hypot(gy)
    }
}

/// Whether two regions would make the detector look at nearly the same pixels twice.
fn crowds(a: &BoundingBox, b: &BoundingBox) -> bool {
    a.iou(b) > HEAVY_OVERLAP_IOU || contains(a, b) || contains(b, a)
}

/// Whether `inner` lies within `outer`.
fn contains(outer: &BoundingBox, inner: &BoundingBox) -> bool {
    outer.x1 <= inner.x1 && outer.y1 <= inner.y1 && outer.x2 >= inner.x2 && outer.y2 >= inner.y2
}

/// Merges items pairwise with `join` while any two are `close` (a symmetric test), until
/// no two are: a merged item may have grown enough to reach items it was checked
/// against before, so the scan restarts after every merge. Each merge removes an item,
/// so this ends.
fn merge_until_stable<T>(
    mut items: Vec<T>,
    close: impl Fn(&T, &T) -> bool,
    join: impl Fn(&T, &T) -> T,
) -> Vec<T> {
    let mut i = 0;
    while i < items.len() {
        let mut merged = false;
        let mut j = i + 1;
        while j < items.len() {
            if close(&items[i], &items[j]) {
                let other = items.swap_remove(j);
                items[i] = join(&items[i], &other);
                merged = true;
                j = i + 1;
            } else {
                j += 1;
            }
        }
        i = if merged { 0 } else { i + 1 };
    }
    items
}

/// `(start, length)` of the tiles along one dimension of `len` pixels: one span of the
/// whole dimension if it fits in a tile, otherwise the fewest tiles whose neighbours
/// overlap by at least `overlap * tile` pixels, starts rounded from an even spread.
fn spans(len: u32, tile: u32, overlap: f32) -> Vec<(u32, u32)> {
    if len == 0 {
        return Vec::new();
    }
    if len <= tile {
        return vec![(0, len)];
    }
    let min_overlap = (f64::from(tile) * f64::from(overlap)).ceil() as u64;
    let (len, tile) = (u64::from(len), u64::from(tile));
    let stride = tile.saturating_sub(min_overlap).max(1);
    let travel = len - tile;
    let steps = travel.div_ceil(stride);
    (0..=steps)
        .map(|i| ((i * travel + steps / 2) / steps) as u32)
        .map(|start| (start, tile as u32))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HD: (u32, u32) = (1920, 1080);

    fn b(x1: f32, y1: f32, x2: f32, y2: f32) -> BoundingBox {
        BoundingBox::new(x1, y1, x2, y2)
    }

    fn sorted(mut boxes: Vec<BoundingBox>) -> Vec<BoundingBox> {
        boxes.sort_by(|a, b| (a.x1, a.y1).partial_cmp(&(b.x1, b.y1)).expect("finite"));
        boxes
    }

    #[test]
    fn defaults_and_kebab_case_config() {
        let cfg: RegionConfig = serde_json::from_str("{}").expect("empty config");
        assert_eq!(cfg, RegionConfig::default());
        assert_eq!(cfg.min_region, 416);
        let cfg: RegionConfig = serde_json::from_str(
            r#"{"min-region": 320, "max-regions": 2, "margin": 0.1, "merge-gap": 8,
                "tile-overlap": 0.25, "min-motion-area": 100}"#,
        )
        .expect("full config");
        assert_eq!(
            cfg,
            RegionConfig {
                min_region: 320,
                max_regions: 2,
                margin: 0.1,
                merge_gap: 8,
                tile_overlap: 0.25,
                min_motion_area: 100,
            }
        );
        assert!(serde_json::from_str::<RegionConfig>(r#"{"min_region": 320}"#).is_err());
        assert!(serde_json::from_str::<RegionConfig>(r#"{"regions": 3}"#).is_err());
    }

    #[test]
    fn small_motion_gets_one_model_sized_square_centred_on_it() {
        // 60x60 box; margin 0.2 grows it to (888,488)-(972,572), 84x84; the 416 square
        // starts (416 - 84) / 2 = 166 before it.
        let regions = motion_regions(
            &[b(900.0, 500.0, 960.0, 560.0)],
            HD,
            &RegionConfig::default(),
        );
        assert_eq!(regions, vec![b(722.0, 322.0, 1138.0, 738.0)]);
        assert_eq!(regions[0].center(), (930.0, 530.0));
    }

    #[test]
    fn motion_in_a_corner_is_shifted_inside_the_frame() {
        // Grown: x 10-8 = 2 .. 50+8 = 58; y 1040-7 = 1033 .. 1075+7 = 1082 -> 1080.
        // Centred the square would start at x 2-180 = -178 and end at y 849+416 = 1265.
        let regions = motion_regions(
            &[b(10.0, 1040.0, 50.0, 1075.0)],
            HD,
            &RegionConfig::default(),
        );
        assert_eq!(regions, vec![b(0.0, 664.0, 416.0, 1080.0)]);
    }

    #[test]
    fn nearby_motion_merges_into_one_region() {
        // 20 px apart (< 32): merged to (900,500)-(1040,560), grown by 28 and 12 to
        // (872,488)-(1068,572), 196x84; square starts 110 and 166 before.
        let motion = [
            b(900.0, 500.0, 960.0, 560.0),
            b(980.0, 500.0, 1040.0, 560.0),
        ];
        let regions = motion_regions(&motion, HD, &RegionConfig::default());
        assert_eq!(regions, vec![b(762.0, 322.0, 1178.0, 738.0)]);
    }

    #[test]
    fn merge_gap_decides_whether_close_boxes_share_a_region() {
        // Small regions so the squares themselves do not overlap.
        let motion = [b(100.0, 100.0, 160.0, 160.0), b(180.0, 100.0, 240.0, 160.0)];
        let cfg = RegionConfig {
            min_region: 64,
            margin: 0.0,
            ..RegionConfig::default()
        };
        // Gap 20 < 32: one 140x60 area, squared to 140x140.
        assert_eq!(
            motion_regions(&motion, HD, &cfg),
            vec![b(100.0, 60.0, 240.0, 200.0)]
        );
        let cfg = RegionConfig {
            merge_gap: 10,
            ..cfg
        };
        // Gap 20 >= 10: two 60x60 areas, each squared to 64x64.
        assert_eq!(
            sorted(motion_regions(&motion, HD, &cfg)),
            vec![b(98.0, 98.0, 162.0, 162.0), b(178.0, 98.0, 242.0, 162.0)]
        );
        // Overlapping boxes merge even with no gap: (100,100)-(210,160), 110x60.
        let cfg = RegionConfig {
            merge_gap: 0,
            ..cfg
        };
        let overlapping = [b(100.0, 100.0, 160.0, 160.0), b(150.0, 100.0, 210.0, 160.0)];
        assert_eq!(
            motion_regions(&overlapping, HD, &cfg),
            vec![b(100.0, 75.0, 210.0, 185.0)]
        );
    }

    #[test]
    fn merging_repeats_until_no_two_areas_are_close() {
        // The first box is 36 px from the third and 80 px from the second, but 20 px from
        // the union of the other two (which are 28 px apart), so all three end up one.
        let motion = [
            b(180.0, 0.0, 220.0, 30.0),
            b(0.0, 0.0, 100.0, 40.0),
            b(120.0, 60.0, 160.0, 100.0),
        ];
        let cfg = RegionConfig {
            min_region: 1,
            margin: 0.0,
            ..RegionConfig::default()
        };
        // (0,0)-(220,100), squared from y 0 - 60 -> 0.
        assert_eq!(
            motion_regions(&motion, HD, &cfg),
            vec![b(0.0, 0.0, 220.0, 220.0)]
        );
    }

    #[test]
    fn distant_motion_gets_two_regions() {
        let motion = [
            b(100.0, 100.0, 160.0, 160.0),
            b(1700.0, 900.0, 1760.0, 960.0),
        ];
        let regions = sorted(motion_regions(&motion, HD, &RegionConfig::default()));
        // (88,88)-(172,172) -> square at -78 -> 0; (1688,888)-(1772,972) -> square at
        // (1522, 722) -> shifted to (1504, 664).
        assert_eq!(
            regions,
            vec![b(0.0, 0.0, 416.0, 416.0), b(1504.0, 664.0, 1920.0, 1080.0)]
        );
    }

    #[test]
    fn motion_longer_than_the_frame_height_gets_the_full_frame() {
        // Grown by 220 a side it is 1420 wide (cut to 0..1420): no square fits.
        let regions = motion_regions(
            &[b(100.0, 100.0, 1200.0, 900.0)],
            HD,
            &RegionConfig::default(),
        );
        assert_eq!(regions, vec![full_frame(HD)]);
        assert_eq!(full_frame(HD), b(0.0, 0.0, 1920.0, 1080.0));
    }

    #[test]
    fn a_frame_smaller_than_min_region_is_used_whole() {
        let regions = motion_regions(
            &[b(100.0, 100.0, 140.0, 140.0)],
            (320, 240),
            &RegionConfig::default(),
        );
        assert_eq!(regions, vec![b(0.0, 0.0, 320.0, 240.0)]);
    }

    #[test]
    fn heavily_overlapping_squares_are_merged() {
        // Boxes 100 px apart (more than the 32 px merge gap) are not merged as motion.
        let motion = [b(700.0, 500.0, 740.0, 540.0), b(840.0, 500.0, 880.0, 540.0)];
        let cfg = RegionConfig {
            margin: 0.0,
            ..RegionConfig::default()
        };
        // Squares start 700 - 188 = 512 and 652 (IoU 276 / 556 < 0.5): two regions.
        assert_eq!(motion_regions(&motion, HD, &cfg).len(), 2);
        let motion = [b(700.0, 500.0, 740.0, 540.0), b(800.0, 500.0, 840.0, 540.0)];
        // 60 px apart, squares start 512 and 612 (IoU 316 / 516 > 0.5): merged to the union
        // (700,500)-(840,540), squared from 700 - 138 = 562 and 500 - 188 = 312.
        assert_eq!(
            motion_regions(&motion, HD, &cfg),
            vec![b(562.0, 312.0, 978.0, 728.0)]
        );
    }

    #[test]
    fn too_many_regions_fall_back_to_one_covering_all_motion() {
        // Five 40x40 boxes 250 px apart: squares at x 12, 262, 512, 762, 1012 (IoU 0.25).
        let motion: Vec<BoundingBox> = [200.0, 450.0, 700.0, 950.0, 1200.0]
            .iter()
            .map(|&x| b(x, 500.0, x + 40.0, 540.0))
            .collect();
        let five = RegionConfig {
            max_regions: 5,
            ..RegionConfig::default()
        };
        assert_eq!(motion_regions(&motion, HD, &five).len(), 5);
        // With the default 4: all grown motion, (192,492)-(1248,548), 1056 wide, squared
        // from y 492 - 500 = -8 -> 0.
        let regions = motion_regions(&motion, HD, &RegionConfig::default());
        assert_eq!(regions, vec![b(192.0, 0.0, 1248.0, 1056.0)]);
    }

    #[test]
    fn tiny_motion_is_ignored() {
        let cfg = RegionConfig::default();
        assert!(motion_regions(&[b(500.0, 500.0, 507.0, 507.0)], HD, &cfg).is_empty());
        assert!(motion_regions(&[], HD, &cfg).is_empty());
        // Exactly min-motion-area (8x8 = 64) counts.
        assert_eq!(
            motion_regions(&[b(500.0, 500.0, 508.0, 508.0)], HD, &cfg).len(),
            1
        );
        // Outside the frame, empty, inverted or NaN: nothing.
        let junk = [
            b(2000.0, 0.0, 2100.0, 100.0),
            b(10.0, 10.0, 10.0, 200.0),
            b(300.0, 300.0, 200.0, 200.0),
            b(f32::NAN, 0.0, 100.0, 100.0),
        ];
        assert!(motion_regions(&junk, HD, &cfg).is_empty());
        assert!(motion_regions(&[b(0.0, 0.0, 10.0, 10.0)], (0, 1080), &cfg).is_empty());
    }

    #[test]
    fn full_hd_tiles() {
        // 84 px overlap (ceil of 83.2), stride <= 332: x travel 1504 in 5 steps of 300.8,
        // y travel 664 in 2 steps of 332.
        let t = tiles(HD, 416, 0.2);
        assert_eq!(t.len(), 18);
        let xs: Vec<f32> = t.iter().take(6).map(|t| t.x1).collect();
        assert_eq!(xs, [0.0, 301.0, 602.0, 902.0, 1203.0, 1504.0]);
        let ys: Vec<f32> = t.iter().step_by(6).map(|t| t.y1).collect();
        assert_eq!(ys, [0.0, 332.0, 664.0]);
        assert!(t.iter().all(|t| t.width() == 416.0 && t.height() == 416.0));
        assert_eq!(t[17], b(1504.0, 664.0, 1920.0, 1080.0));
    }

    #[test]
    fn tiles_of_a_frame_smaller_than_a_tile() {
        assert_eq!(tiles((300, 200), 416, 0.2), vec![b(0.0, 0.0, 300.0, 200.0)]);
        assert_eq!(tiles((416, 416), 416, 0.2), vec![b(0.0, 0.0, 416.0, 416.0)]);
        // 1000 wide: travel 584 in 2 steps; 200 high: one tile spanning it.
        assert_eq!(
            tiles((1000, 200), 416, 0.2),
            vec![
                b(0.0, 0.0, 416.0, 200.0),
                b(292.0, 0.0, 708.0, 200.0),
                b(584.0, 0.0, 1000.0, 200.0)
            ]
        );
        assert!(tiles((0, 100), 416, 0.2).is_empty());
        // Overlap out of range is clamped, a zero tile is one pixel.
        assert_eq!(tiles((1000, 200), 416, -1.0).len(), 3);
        assert_eq!(tiles((1000, 200), 416, f32::NAN).len(), 3);
        assert_eq!(tiles((1000, 200), 416, 5.0), tiles((1000, 200), 416, 0.9));
        assert_eq!(tiles((3, 1), 0, 0.0).len(), 3);
    }

    #[test]
    fn crop_detections_move_to_frame_pixels() {
        let region = b(722.0, 322.0, 1138.0, 738.0);
        let found = vec![Detection {
            class_id: 20,
            score: 0.8,
            bbox: b(10.0, 20.0, 30.0, 40.0),
        }];
        assert_eq!(
            to_frame(found, &region),
            vec![Detection {
                class_id: 20,
                score: 0.8,
                bbox: b(732.0, 342.0, 752.0, 362.0),
            }]
        );
    }

    fn is_whole(b: &BoundingBox) -> bool {
        [b.x1, b.y1, b.x2, b.y2].iter().all(|v| v.fract() == 0.0)
    }

    /// Whether the union of `tiles` covers every pixel of the frame, checked exactly on
    /// the grid of cells cut by all tile edges (coverage is constant within a cell).
    fn covers_every_pixel(tiles: &[BoundingBox], frame: (u32, u32)) -> bool {
        let mut ys: Vec<f32> = tiles.iter().flat_map(|t| [t.y1, t.y2]).collect();
        ys.extend([0.0, frame.1 as f32]);
        ys.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
        ys.dedup();
        ys.windows(2).all(|cell| {
            let mut xs: Vec<(f32, f32)> = tiles
                .iter()
                .filter(|t| t.y1 <= cell[0] && t.y2 >= cell[1])
                .map(|t| (t.x1, t.x2))
                .collect();
            xs.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
            let mut reached = 0.0;
            for (x1, x2) in xs {
                if x1 > reached {
                    return false;
                }
                reached = f32::max(reached, x2);
            }
            reached >= frame.0 as f32
        })
    }

    proptest! {
        #[test]
        fn tiles_cover_the_frame(
            w in 1u32..4000,
            h in 1u32..4000,
            tile in 64u32..640,
            overlap in 0.0f32..0.5,
        ) {
            let t = tiles((w, h), tile, overlap);
            prop_assert!(!t.is_empty());
            prop_assert!(covers_every_pixel(&t, (w, h)));
            for b in &t {
                prop_assert!(is_whole(b));
                prop_assert!(b.x1 >= 0.0 && b.y1 >= 0.0);
                prop_assert!(b.x2 <= w as f32 && b.y2 <= h as f32);
                prop_assert_eq!(b.width(), tile.min(w) as f32);
                prop_assert_eq!(b.height(), tile.min(h) as f32);
            }
            let min_overlap = f64::from(tile) * f64::from(overlap);
            // Neighbours along a row (same y) and along a column (same x).
            for (along_x, size) in [(true, w), (false, h)] {
                if size <= tile {
                    continue;
                }
                let mut starts: Vec<f32> = t
                    .iter()
                    .map(|b| if along_x { b.x1 } else { b.y1 })
                    .collect();
                starts.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
                starts.dedup();
                prop_assert_eq!(starts[0], 0.0);
                prop_assert_eq!(starts[starts.len() - 1], (size - tile) as f32);
                let steps: Vec<f32> = starts.windows(2).map(|s| s[1] - s[0]).collect();
                for step in &steps {
                    prop_assert!(f64::from(tile as f32 - step) >= min_overlap);
                }
                let (lo, hi) = steps.iter().fold((f32::MAX, 0.0f32), |(lo, hi), &s| {
                    (lo.min(s), hi.max(s))
                });
                prop_assert!(hi - lo <= 1.0, "uneven steps {:?}", steps);
            }
        }

        #[test]
        fn regions_are_squares_inside_the_frame_covering_the_motion(
            w in 1u32..4000,
            h in 1u32..4000,
            fractions in prop::collection::vec(
                (-0.1f32..1.1, -0.1f32..1.1, 0.0f32..0.6, 0.0f32..0.6),
                0..8,
            ),
            min_region in 1u32..800,
            max_regions in 0usize..6,
            margin in 0.0f32..0.5,
            merge_gap in 0u32..100,
            min_motion_area in 0u32..200,
        ) {
            let cfg = RegionConfig {
                min_region,
                max_regions,
                margin,
                merge_gap,
                min_motion_area,
                ..RegionConfig::default()
            };
            let (fw, fh) = (w as f32, h as f32);
            let motion: Vec<BoundingBox> = fractions
                .iter()
                .map(|&(x, y, bw, bh)| {
                    BoundingBox::new(x * fw, y * fh, (x + bw) * fw, (y + bh) * fh)
                })
                .collect();
            let regions = motion_regions(&motion, (w, h), &cfg);
            prop_assert!(regions.len() <= max_regions.max(1));
            let whole = full_frame((w, h));
            for r in &regions {
                prop_assert!(is_whole(r));
                prop_assert!(r.x1 >= 0.0 && r.y1 >= 0.0 && r.x2 <= fw && r.y2 <= fh);
                prop_assert!(r.area() > 0.0);
                if *r != whole {
                    prop_assert_eq!(r.width(), r.height());
                    prop_assert!(r.width() >= min_region as f32);
                }
            }
            for (i, a) in regions.iter().enumerate() {
                for b in &regions[i + 1..] {
                    prop_assert!(!crowds(a, b), "{:?} crowds {:?}", a, b);
                }
            }
            let kept: Vec<BoundingBox> = motion
                .iter()
                .map(|m| m.clamp(fw, fh))
                .filter(|m| m.area() > 0.0 && m.area() >= min_motion_area as f32)
                .collect();
            prop_assert_eq!(kept.is_empty(), regions.is_empty());
            for m in &kept {
                prop_assert!(
                    regions.iter().any(|r| contains(r, m)),
                    "{:?} not in {:?}", m, regions
                );
            }
        }
    }
}
