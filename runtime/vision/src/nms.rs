//! Non-maximum suppression: one detection per object out of a decoder's many overlapping
//! candidates ([`nms`]), and the merge of detections gathered from overlapping tiles or
//! crops of one frame, where a tile edge cuts an object into a partial box ([`merge_tiles`]).
//!
//! Both rank detections by score, highest first, with a stable sort (equal scores keep their
//! input order) under [`f32::total_cmp`] with NaN scores ranked last, so a corrupt score can
//! neither panic the sort nor suppress a real detection. Both return detections in that order.

use crate::geometry::{BoundingBox, Detection};

/// Share of a box's area that must lie inside another same-class box for [`merge_tiles`] to
/// take it as a partial view of the same object.
const CONTAINMENT: f32 = 0.7;

/// Greedy non-maximum suppression.
///
/// Walks the detections from the highest score down and keeps each one unless it overlaps
/// an already kept detection of the same class (of any class when `class_agnostic`) with
/// an IoU strictly greater than `iou_threshold`. The result is a subset of the input,
/// ordered by score, highest first.
pub fn nms(
    mut detections: Vec<Detection>,
    iou_threshold: f32,
    class_agnostic: bool,
) -> Vec<Detection> {
    sort_by_score(&mut detections);
    // Compacts in place: `detections[..kept]` holds the survivors so far.
    let mut kept = 0;
    for i in 0..detections.len() {
        let candidate = detections[i];
        let suppressed = detections[..kept].iter().any(|k| {
            (class_agnostic || k.class_id == candidate.class_id)
                && k.bbox.iou(&candidate.bbox) > iou_threshold
        });
        if !suppressed {
            detections[kept] = candidate;
            kept += 1;
        }
    }
    detections.truncate(kept);
    detections
}

/// Merges the detections of several overlapping tiles (or crops) of one frame, all in frame
/// pixels, into one detection per object.
///
/// The rule: walking from the highest score down, a detection joins the first kept
/// detection of the same class (its *group*, compared with the group's current box) that it
///
/// * overlaps with an IoU strictly greater than `iou_threshold` — a duplicate, dropped
///   without changing the group's box, exactly as in [`nms`]; or
/// * is a *partial* match with: at least 70 % of the smaller box's area lies inside the
///   other (an object cut by a tile edge yields a partial box inside the full one) — the
///   group's box is extended to the union of both, so the object keeps its full extent
///   even when the partial box scored higher.
///
/// Otherwise it starts a group of its own. Each group keeps its highest score and class.
/// Because containment ignores size, a small same-class object lying mostly inside a much
/// larger box is merged into it; that is the price of healing cut objects.
pub fn merge_tiles(mut detections: Vec<Detection>, iou_threshold: f32) -> Vec<Detection> {
    sort_by_score(&mut detections);
    let mut groups: Vec<Detection> = Vec::with_capacity(detections.len());
    for candidate in detections {
        let matched = groups
            .iter_mut()
            .filter(|g| g.class_id == candidate.class_id)
            .find_map(|g| {
                if mostly_contained(&g.bbox, &candidate.bbox) {
                    Some((g, true))
                } else if g.bbox.iou(&candidate.bbox) > iou_threshold {
                    Some((g, false))
                } else {
                    None
                }
            });
        match matched {
            Some((group, true)) => group.bbox = group.bbox.union(&candidate.bbox),
            Some((_, false)) => {}
            None => groups.push(candidate),
        }
    }
    groups
}

/// Sorts by score, highest first, stably; NaN scores go last.
fn sort_by_score(detections: &mut [Detection]) {
    let rank = |score: f32| {
        if score.is_nan() {
            f32::NEG_INFINITY
        } else {
            score
        }
    };
    detections.sort_by(|a, b| rank(b.score).total_cmp(&rank(a.score)));
}

/// Whether at least [`CONTAINMENT`] of the smaller box's area lies inside the other box
/// (never for an empty box).
fn mostly_contained(a: &BoundingBox, b: &BoundingBox) -> bool {
    let smaller = a.area().min(b.area());
    smaller > 0.0 && a.intersection(b).area() >= CONTAINMENT * smaller
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    fn det(class_id: u32, score: f32, x1: f32, y1: f32, x2: f32, y2: f32) -> Detection {
        Detection {
            class_id,
            score,
            bbox: BoundingBox::new(x1, y1, x2, y2),
        }
    }

    #[test]
    fn nms_suppresses_overlaps_within_a_class_only() {
        let a = det(0, 0.9, 0.0, 0.0, 10.0, 10.0);
        // IoU with `a`: intersection 9 × 10 = 90, union 100 + 100 - 90 = 110 → 0.818.
        let b = det(0, 0.8, 1.0, 0.0, 11.0, 10.0);
        let c = det(1, 0.7, 1.0, 0.0, 11.0, 10.0);
        let d = det(0, 0.6, 20.0, 20.0, 30.0, 30.0);
        assert_eq!(nms(vec![d, c, b, a], 0.5, false), [a, c, d]);
    }

    #[test]
    fn class_agnostic_nms_suppresses_across_classes() {
        let a = det(0, 0.9, 0.0, 0.0, 10.0, 10.0);
        let c = det(1, 0.7, 1.0, 0.0, 11.0, 10.0); // IoU 0.818 with `a`
        let d = det(2, 0.6, 20.0, 20.0, 30.0, 30.0);
        assert_eq!(nms(vec![c, d, a], 0.5, true), [a, d]);
        assert_eq!(nms(vec![c, d, a], 0.5, false), [a, c, d]);
    }

    #[test]
    fn nms_orders_by_score_stably_with_nan_last() {
        let far = |i: f32, score: f32| det(0, score, 20.0 * i, 0.0, 20.0 * i + 10.0, 10.0);
        let input = vec![
            far(0.0, 0.2),
            far(1.0, f32::NAN),
            far(2.0, 0.7),
            far(3.0, 0.5),
            far(4.0, 0.7),
        ];
        let order: Vec<f32> = nms(input.clone(), 0.5, false)
            .iter()
            .map(|d| d.bbox.x1)
            .collect();
        // By score 0.7 (x 40, then x 80: input order kept), 0.5, 0.2, then the NaN one.
        assert_eq!(order, [40.0, 80.0, 60.0, 0.0, 20.0]);
        // A NaN-scored box never suppresses a real one overlapping it.
        let nan = det(0, f32::NAN, 0.0, 0.0, 10.0, 10.0);
        let real = det(0, 0.1, 0.0, 0.0, 10.0, 10.0);
        assert_eq!(nms(vec![nan, real], 0.5, false)[0], real);
        assert!(nms(Vec::new(), 0.5, false).is_empty());
    }

    #[test]
    fn nms_threshold_is_exclusive() {
        let a = det(0, 0.9, 0.0, 0.0, 10.0, 10.0);
        // Intersection 50, union 100 + 50 - 50 = 100 → IoU exactly 0.5.
        let b = det(0, 0.8, 0.0, 0.0, 10.0, 5.0);
        assert_eq!(nms(vec![a, b], 0.5, false), [a, b]);
        assert_eq!(nms(vec![a, b], 0.49, false), [a]);
    }

    #[test]
    fn nms_only_suppresses_by_kept_boxes() {
        // a–b and b–c overlap with IoU 50 / 150 = 0.333, a–c not at all: b goes, so c stays.
        let a = det(0, 0.9, 0.0, 0.0, 10.0, 10.0);
        let b = det(0, 0.8, 5.0, 0.0, 15.0, 10.0);
        let c = det(0, 0.7, 10.0, 0.0, 20.0, 10.0);
        assert_eq!(nms(vec![c, b, a], 0.3, false), [a, c]);
    }

    #[test]
    fn merge_tiles_heals_a_box_cut_by_a_tile_edge() {
        // The full object in one tile (area 20 × 40 = 800) and a higher-scoring partial box
        // from the next tile (area 12 × 20 = 240). Their intersection [10, 0, 20, 20] = 200
        // puts 200 / 240 = 0.83 of the partial box inside the full one, while their IoU,
        // 200 / (800 + 240 - 200) = 0.24, would not merge them.
        let full = det(0, 0.8, 0.0, 0.0, 20.0, 40.0);
        let partial = det(0, 0.9, 10.0, 0.0, 22.0, 20.0);
        let merged = merge_tiles(vec![full, partial], 0.45);
        assert_eq!(merged, [det(0, 0.9, 0.0, 0.0, 22.0, 40.0)]);
        // A different class is another object.
        let other = Detection {
            class_id: 1,
            ..partial
        };
        assert_eq!(merge_tiles(vec![full, other], 0.45), [other, full]);
    }

    #[test]
    fn merge_tiles_drops_duplicates_without_growing_the_box() {
        let a = det(0, 0.9, 0.0, 0.0, 10.0, 10.0);
        // Intersection 8 × 8 = 64: IoU 64 / 136 = 0.47 > 0.45, containment 0.64 < 0.7.
        let b = det(0, 0.8, 2.0, 2.0, 12.0, 12.0);
        let far = det(0, 0.7, 50.0, 50.0, 60.0, 60.0);
        assert_eq!(merge_tiles(vec![far, b, a], 0.45), [a, far]);
    }

    #[test]
    fn merge_tiles_containment_boundary_is_inclusive() {
        // Areas 170 and 100; the intersection [3, 0, 10, 10] = 70 is exactly 0.7 of the small
        // box (IoU 70 / 200 = 0.35), so they merge.
        let big = det(0, 0.9, 3.0, 0.0, 20.0, 10.0);
        let small = det(0, 0.5, 0.0, 0.0, 10.0, 10.0);
        assert_eq!(
            merge_tiles(vec![small, big], 0.45),
            [det(0, 0.9, 0.0, 0.0, 20.0, 10.0)]
        );
        // Moved to [4, 0, 20, 10]: 60 / 100 = 0.6 inside, IoU 60 / 200 = 0.3: both stay.
        let big = det(0, 0.9, 4.0, 0.0, 20.0, 10.0);
        assert_eq!(merge_tiles(vec![small, big], 0.45), [big, small]);
    }

    fn detection() -> impl Strategy<Value = Detection> {
        (
            0u32..3,
            0u8..=20,
            0.0f32..100.0,
            0.0f32..100.0,
            1.0f32..50.0,
            1.0f32..50.0,
        )
            .prop_map(|(class_id, score, x, y, w, h)| {
                // Scores on a coarse grid so that ties occur.
                det(class_id, f32::from(score) / 20.0, x, y, x + w, y + h)
            })
    }

    proptest! {
        #[test]
        fn nms_keeps_a_sorted_non_overlapping_subset(
            input in vec(detection(), 0..40),
            iou_threshold in 0.0f32..1.0,
            class_agnostic in any::<bool>(),
        ) {
            let kept = nms(input.clone(), iou_threshold, class_agnostic);
            let competes =
                |a: &Detection, b: &Detection| class_agnostic || a.class_id == b.class_id;
            // A subset of the input (as a multiset); what is left over was suppressed.
            let mut dropped = input;
            for k in &kept {
                let at = dropped.iter().position(|d| d == k);
                prop_assert!(at.is_some(), "{k:?} is not from the input");
                dropped.swap_remove(at.unwrap());
            }
            prop_assert!(kept.windows(2).all(|w| w[0].score >= w[1].score), "{kept:?}");
            for (i, a) in kept.iter().enumerate() {
                for b in kept[i + 1..].iter().filter(|b| competes(a, b)) {
                    prop_assert!(a.bbox.iou(&b.bbox) <= iou_threshold, "{a:?} and {b:?} both kept");
                }
            }
            // Nothing was dropped without a kept, at-least-as-good box overlapping it.
            for d in &dropped {
                prop_assert!(
                    kept.iter().any(|k| competes(k, d)
                        && k.score >= d.score
                        && k.bbox.iou(&d.bbox) > iou_threshold),
                    "{d:?} dropped for nothing"
                );
            }
        }
    }
}
