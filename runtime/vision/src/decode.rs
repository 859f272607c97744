//! Output-head decoders: a detector's raw `f32` output tensor → [`Detection`]s.
//!
//! Boxes come out in *model-input pixels* (the caller undoes the letterbox with
//! [`Letterbox::to_source`](crate::geometry::Letterbox::to_source)), and only detections
//! scoring at least the threshold are kept; NMS is a separate step ([`crate::nms`]).
//!
//! Two output layouts are understood, named by [`Head`]:
//!
//! * **YOLOX** (`yolox_nano.onnx`): `[1, N, 5 + C]`, one row per grid cell holding raw
//!   offsets `cx, cy, w, h`, the objectness and `C` class scores (both already
//!   sigmoid-activated by the exported graph).
//! * **YOLOv8** (Ultralytics export): `[1, 4 + C, N]`, *channel-major*, with `cx, cy, w, h`
//!   already in input pixels and `C` sigmoid class scores, no objectness.
//!
//! In both, `N` is the number of grid cells of strides 8, 16 and 32 over the input
//! (3549 for 416×416, 8400 for 640×640). Checking it exactly is what catches a model
//! declared with the wrong head, input size or a transposed output.
//!
//! Decoding runs on every inference (3549 × 85 floats for YOLOX-Nano), so it allocates
//! nothing per cell, skips a YOLOX cell as soon as its objectness is below the threshold
//! and computes `exp` only for the cells that survive.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::geometry::{BoundingBox, Detection};

/// The strides of the three detection levels both heads predict at, in output order.
const STRIDES: [u32; 3] = [8, 16, 32];

/// Layout of a detector's output tensor: which decoder turns it into detections. Named by a
/// plugin manifest's `head = "…"` and by the CLI's `--head`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Head {
    /// Megvii YOLOX: `[1, N, 5 + C]` raw grid offsets, objectness and class scores.
    Yolox,
    /// Ultralytics YOLOv8: `[1, 4 + C, N]` channel-major boxes in pixels and class scores.
    Yolov8,
}

impl Head {
    /// The name used in manifests and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Yolox => "yolox",
            Self::Yolov8 => "yolov8",
        }
    }
}

impl fmt::Display for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A head name that is neither `yolox` nor `yolov8`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown head `{0}` (expected `yolox` or `yolov8`)")]
pub struct ParseHeadError(String);

impl FromStr for Head {
    type Err = ParseHeadError;

    /// Parses the same lowercase names the manifest uses, so `--head` and `head = "…"` agree.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "yolox" => Ok(Self::Yolox),
            "yolov8" => Ok(Self::Yolov8),
            other => Err(ParseHeadError(other.to_owned())),
        }
    }
}

/// Why an output tensor could not be decoded: it does not have the layout the declared head
/// and input size imply (a wrong manifest, or a model exported differently).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The tensor's shape is not the head's layout for this input size.
    #[error(
        "{head} head with a {width}x{height} input expects output shape {expected}, got {actual:?}"
    )]
    Shape {
        /// The declared head.
        head: Head,
        /// Model input width in pixels.
        width: u32,
        /// Model input height in pixels.
        height: u32,
        /// The expected shape, e.g. `[1, 3549, 5+C] with C >= 1`.
        expected: String,
        /// The shape the model produced.
        actual: Vec<usize>,
    },
    /// The data does not hold as many values as the shape says.
    #[error("output has {len} values, which does not match its shape {shape:?}")]
    Length {
        /// The shape the model reported.
        shape: Vec<usize>,
        /// How many values came with it.
        len: usize,
    },
}

/// Decodes one inference output into detections in model-input pixels, keeping those with
/// `score >= score_threshold` (in grid order, not sorted; run [`crate::nms::nms`] next).
///
/// `output` is the tensor's data in row-major order, `shape` its dimensions and `input` the
/// model input size `(width, height)`. The class id of a detection is its best-scoring
/// class (the lowest index on a tie; NaN scores never win, so a NaN cell yields nothing).
///
/// For [`Head::Yolox`] the early objectness skip relies on the class scores being
/// sigmoid-activated (at most 1), which is how YOLOX exports its graph.
pub fn decode(
    head: Head,
    output: &[f32],
    shape: &[usize],
    input: (u32, u32),
    score_threshold: f32,
) -> Result<Vec<Detection>, DecodeError> {
    let cells = grid_cells(input);
    // Values per anchor: 5 + C (YOLOX) or 4 + C (YOLOv8), with C >= 1.
    let channels = match (head, shape) {
        (Head::Yolox, &[1, n, k]) if n == cells && k > 5 => k,
        (Head::Yolov8, &[1, k, n]) if n == cells && k > 4 => k,
        _ => {
            let expected = match head {
                Head::Yolox => format!("[1, {cells}, 5+C] with C >= 1"),
                Head::Yolov8 => format!("[1, 4+C, {cells}] with C >= 1"),
            };
            return Err(DecodeError::Shape {
                head,
                width: input.0,
                height: input.1,
                expected,
                actual: shape.to_vec(),
            });
        }
    };
    if cells.checked_mul(channels) != Some(output.len()) {
        return Err(DecodeError::Length {
            shape: shape.to_vec(),
            len: output.len(),
        });
    }
    if cells == 0 {
        // An input smaller than the finest stride has no grid cells, hence no detections.
        return Ok(Vec::new());
    }
    Ok(match head {
        Head::Yolox => decode_yolox(output, input, channels, score_threshold),
        Head::Yolov8 => decode_yolov8(output, cells, score_threshold),
    })
}

/// How many grid cells (anchors) strides 8, 16 and 32 give over an input of `(w, h)`.
fn grid_cells(input: (u32, u32)) -> usize {
    STRIDES
        .iter()
        .map(|&s| (input.0 / s) as usize * (input.1 / s) as usize)
        .sum()
}

/// The best class of one cell: `(index, score)`, the lowest index on a tie; NaN never wins.
fn best_class(scores: &[f32]) -> (u32, f32) {
    let mut best = (0, f32::NEG_INFINITY);
    for (class, &score) in (0u32..).zip(scores) {
        if score > best.1 {
            best = (class, score);
        }
    }
    best
}

/// YOLOX: rows of `cx, cy, w, h, obj, classes…` per cell, strides 8/16/32 in turn, each
/// level row-major; `output` has been checked to hold exactly those rows of `row_len`.
fn decode_yolox(
    output: &[f32],
    input: (u32, u32),
    row_len: usize,
    threshold: f32,
) -> Vec<Detection> {
    let mut detections = Vec::new();
    let mut rest = output;
    for stride in STRIDES {
        let grid_w = (input.0 / stride) as usize;
        let grid_h = (input.1 / stride) as usize;
        let (level, next) = rest.split_at(grid_w * grid_h * row_len);
        rest = next;
        let s = stride as f32;
        for (cell, row) in level.chunks_exact(row_len).enumerate() {
            let objectness = row[4];
            // Class scores are at most 1, so the score cannot reach the threshold either.
            if objectness < threshold {
                continue;
            }
            let (class_id, class_score) = best_class(&row[5..]);
            let score = objectness * class_score;
            if score >= threshold {
                let (grid_x, grid_y) = ((cell % grid_w) as f32, (cell / grid_w) as f32);
                detections.push(Detection {
                    class_id,
                    score,
                    bbox: BoundingBox::from_center(
                        (row[0] + grid_x) * s,
                        (row[1] + grid_y) * s,
                        row[2].exp() * s,
                        row[3].exp() * s,
                    ),
                });
            }
        }
    }
    detections
}

/// YOLOv8: channel-major, element `(channel, anchor)` at `channel * anchors + anchor`;
/// channels 0..4 are `cx, cy, w, h` in pixels, the rest class scores. The class rows are
/// scanned one after the other (sequential memory) into per-anchor running bests, the only
/// allocations besides the result.
fn decode_yolov8(output: &[f32], anchors: usize, threshold: f32) -> Vec<Detection> {
    let (boxes, scores) = output.split_at(4 * anchors);
    let mut top_score = vec![f32::NEG_INFINITY; anchors];
    let mut top_class = vec![0u32; anchors];
    for (class, row) in (0u32..).zip(scores.chunks_exact(anchors)) {
        for ((top, top_id), &score) in top_score.iter_mut().zip(&mut top_class).zip(row) {
            if score > *top {
                *top = score;
                *top_id = class;
            }
        }
    }
    let (cx, rest) = boxes.split_at(anchors);
    let (cy, rest) = rest.split_at(anchors);
    let (w, h) = rest.split_at(anchors);
    (0..anchors)
        .filter(|&i| top_score[i] >= threshold)
        .map(|i| Detection {
            class_id: top_class[i],
            score: top_score[i],
            bbox: BoundingBox::from_center(cx[i], cy[i], w[i], h[i]),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 32×32 input has 4×4 = 16 stride-8 cells (rows 0..16), 2×2 = 4 stride-16 cells
    /// (rows 16..20) and one stride-32 cell (row 20): 21 rows of 5 + 2 classes = 7 values.
    const IN32: (u32, u32) = (32, 32);
    const ROW: usize = 7;
    const SHAPE32: [usize; 3] = [1, 21, ROW];

    /// A 32×32 YOLOX output with every value 0 except the given `(row, values)`.
    fn yolox32(rows: &[(usize, [f32; ROW])]) -> Vec<f32> {
        let mut t = vec![0.0; 21 * ROW];
        for (cell, values) in rows {
            t[cell * ROW..(cell + 1) * ROW].copy_from_slice(values);
        }
        t
    }

    fn assert_detection(d: &Detection, class_id: u32, score: f32, corners: [f32; 4]) {
        assert_eq!(d.class_id, class_id, "{d:?}");
        assert!((d.score - score).abs() < 1e-6, "{d:?}: score {score}");
        let got = [d.bbox.x1, d.bbox.y1, d.bbox.x2, d.bbox.y2];
        for (g, w) in got.into_iter().zip(corners) {
            assert!((g - w).abs() < 1e-4, "{d:?}: box {corners:?}");
        }
    }

    #[test]
    fn grid_cell_counts_match_the_real_models() {
        assert_eq!(grid_cells((416, 416)), 52 * 52 + 26 * 26 + 13 * 13); // 3549
        assert_eq!(grid_cells((640, 640)), 8400);
        assert_eq!(grid_cells(IN32), 16 + 4 + 1);
    }

    #[test]
    fn yolox_hot_cells_decode_to_hand_computed_boxes() {
        let out = yolox32(&[
            // Stride 8, grid (x 2, y 1) = row 1*4 + 2 = 6:
            //   x = (0.5 + 2) * 8 = 20, y = (0.25 + 1) * 8 = 10,
            //   w = e^0 * 8 = 8, h = e^ln2 * 8 = 16 → [16, 2, 24, 18];
            //   best class 1, score = 0.9 * 0.8 = 0.72 (no sigmoid applied).
            (6, [0.5, 0.25, 0.0, 2f32.ln(), 0.9, 0.2, 0.8]),
            // Stride 16, grid (1, 1) = row 16 + 1*2 + 1 = 19:
            //   x = (0 + 1) * 16 = 16, y = (0.5 + 1) * 16 = 24, w = h = 16 → [8, 16, 24, 32];
            //   best class 0, score = 0.8 * 0.75 = 0.6.
            (19, [0.0, 0.5, 0.0, 0.0, 0.8, 0.75, 0.5]),
            // Stride 32, grid (0, 0) = row 20:
            //   x = y = 0.5 * 32 = 16, w = e^ln0.5 * 32 = 16, h = 32 → [8, 0, 24, 32];
            //   best class 1, score = 0.5 * 0.9 = 0.45.
            (20, [0.5, 0.5, 0.5f32.ln(), 0.0, 0.5, 0.1, 0.9]),
        ]);
        let found = decode(Head::Yolox, &out, &SHAPE32, IN32, 0.4).unwrap();
        assert_eq!(found.len(), 3, "{found:?}");
        assert_detection(&found[0], 1, 0.72, [16.0, 2.0, 24.0, 18.0]);
        assert_detection(&found[1], 0, 0.6, [8.0, 16.0, 24.0, 32.0]);
        assert_detection(&found[2], 1, 0.45, [8.0, 0.0, 24.0, 32.0]);
    }

    #[test]
    fn yolox_threshold_applies_to_objectness_times_class() {
        let out = yolox32(&[
            // obj 0.9 * class 0.5 = 0.45: objectness passes 0.5, the product does not.
            (0, [0.0, 0.0, 0.0, 0.0, 0.9, 0.5, 0.1]),
            // obj 0.4 < 0.5: skipped however high the class score.
            (1, [0.0, 0.0, 0.0, 0.0, 0.4, 1.0, 1.0]),
            // obj 0.5 * class 1.0 = 0.5: exactly the threshold, kept.
            // Stride 8, grid (2, 0): x = 2.5 * 8 = 20, y = 0.5 * 8 = 4, w = h = 8
            // → [16, 0, 24, 8].
            (2, [0.5, 0.5, 0.0, 0.0, 0.5, 0.0, 1.0]),
        ]);
        let found = decode(Head::Yolox, &out, &SHAPE32, IN32, 0.5).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_detection(&found[0], 1, 0.5, [16.0, 0.0, 24.0, 8.0]);
        // Nothing at all in an all-zero output.
        assert!(decode(Head::Yolox, &yolox32(&[]), &SHAPE32, IN32, 0.01)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn yolox_takes_the_best_class_and_the_lowest_on_a_tie() {
        let out = yolox32(&[
            (0, [0.0, 0.0, 0.0, 0.0, 1.0, 0.3, 0.7]),
            (1, [0.0, 0.0, 0.0, 0.0, 1.0, 0.7, 0.3]),
            (2, [0.0, 0.0, 0.0, 0.0, 1.0, 0.6, 0.6]),
            (3, [0.0, 0.0, 0.0, 0.0, 1.0, f32::NAN, 0.6]),
        ]);
        let found = decode(Head::Yolox, &out, &SHAPE32, IN32, 0.5).unwrap();
        let classes: Vec<(u32, f32)> = found.iter().map(|d| (d.class_id, d.score)).collect();
        assert_eq!(classes, [(1, 0.7), (0, 0.7), (0, 0.6), (1, 0.6)]);
    }

    #[test]
    fn yolox_shape_errors_say_expected_and_actual() {
        let out = yolox32(&[]);
        let err = decode(Head::Yolox, &out, &[1, 20, ROW], IN32, 0.3).unwrap_err();
        assert_eq!(
            err.to_string(),
            "yolox head with a 32x32 input expects output shape [1, 21, 5+C] with C >= 1, \
             got [1, 20, 7]"
        );
        // No class column, no batch axis, batch of two, the YOLOv8 layout.
        for shape in [&[1, 21, 5][..], &[21, 7], &[2, 21, 7], &[1, 7, 21]] {
            let err = decode(Head::Yolox, &out, shape, IN32, 0.3).unwrap_err();
            assert!(
                matches!(&err, DecodeError::Shape { actual, .. } if actual == shape),
                "{shape:?}: {err}"
            );
        }
        // Right shape, wrong amount of data.
        let err = decode(Head::Yolox, &out[1..], &SHAPE32, IN32, 0.3).unwrap_err();
        assert_eq!(
            err,
            DecodeError::Length {
                shape: SHAPE32.to_vec(),
                len: 21 * ROW - 1
            }
        );
    }

    /// A 24×8 input has exactly 3 cells (stride 8: 3×1; strides 16 and 32: none), so a
    /// YOLOv8 output of N = 3 anchors and C = 2 classes is `[1, 6, 3]`, element
    /// `(channel, anchor)` at `channel * 3 + anchor`.
    const IN24X8: (u32, u32) = (24, 8);
    #[rustfmt::skip]
    const YOLOV8_OUT: [f32; 18] = [
        // anchor: 0     1     2
        10.0, 20.0, 30.0, // cx
        5.0,  6.0,  7.0,  // cy
        4.0,  8.0,  2.0,  // w
        2.0,  4.0,  6.0,  // h
        0.9,  0.1,  0.2,  // class 0
        0.3,  0.8,  0.25, // class 1
    ];

    #[test]
    fn yolov8_reads_channel_major_columns() {
        let found = decode(Head::Yolov8, &YOLOV8_OUT, &[1, 6, 3], IN24X8, 0.5).unwrap();
        assert_eq!(found.len(), 2, "{found:?}");
        // Anchor 0: class 0 (0.9 > 0.3), centre (10, 5), size 4×2 → [8, 4, 12, 6].
        assert_detection(&found[0], 0, 0.9, [8.0, 4.0, 12.0, 6.0]);
        // Anchor 1: class 1 (0.8 > 0.1), centre (20, 6), size 8×4 → [16, 4, 24, 8].
        assert_detection(&found[1], 1, 0.8, [16.0, 4.0, 24.0, 8.0]);
        // Anchor 2: best is class 1 at 0.25 < 0.5, dropped; at 0.25 it is kept:
        // centre (30, 7), size 2×6 → [29, 4, 31, 10].
        let found = decode(Head::Yolov8, &YOLOV8_OUT, &[1, 6, 3], IN24X8, 0.25).unwrap();
        assert_eq!(found.len(), 3, "{found:?}");
        assert_detection(&found[2], 1, 0.25, [29.0, 4.0, 31.0, 10.0]);
    }

    #[test]
    fn yolov8_refuses_the_transposed_and_other_layouts() {
        let err = decode(Head::Yolov8, &YOLOV8_OUT, &[1, 3, 6], IN24X8, 0.5).unwrap_err();
        assert_eq!(
            err.to_string(),
            "yolov8 head with a 24x8 input expects output shape [1, 4+C, 3] with C >= 1, \
             got [1, 3, 6]"
        );
        for shape in [&[6, 3][..], &[1, 4, 3], &[1, 6, 3, 1], &[2, 6, 3]] {
            assert!(
                decode(Head::Yolov8, &YOLOV8_OUT, shape, IN24X8, 0.5).is_err(),
                "{shape:?}"
            );
        }
        let err = decode(Head::Yolov8, &YOLOV8_OUT[..17], &[1, 6, 3], IN24X8, 0.5).unwrap_err();
        assert!(matches!(err, DecodeError::Length { len: 17, .. }), "{err}");
    }

    #[test]
    fn an_input_below_the_finest_stride_has_no_cells() {
        assert!(decode(Head::Yolov8, &[], &[1, 6, 0], (4, 4), 0.5)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn head_names_parse_and_serialise_alike() {
        for (head, name) in [(Head::Yolox, "yolox"), (Head::Yolov8, "yolov8")] {
            assert_eq!(name.parse::<Head>().unwrap(), head);
            assert_eq!(head.to_string(), name);
            assert_eq!(serde_json::to_string(&head).unwrap(), format!("\"{name}\""));
            assert_eq!(
                serde_json::from_str::<Head>(&format!("\"{name}\"")).unwrap(),
                head
            );
        }
        let err = "yolov5".parse::<Head>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown head `yolov5` (expected `yolox` or `yolov8`)"
        );
        assert!("YOLOX".parse::<Head>().is_err());
        assert!(serde_json::from_str::<Head>("\"Yolox\"").is_err());
    }
}
