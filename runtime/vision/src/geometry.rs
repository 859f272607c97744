//! Boxes, detections and the letterbox transform between a source image and a model input.

use serde::{Deserialize, Serialize};

/// An axis-aligned box in pixels: `(x1, y1)` is the top-left corner, `(x2, y2)` the
/// bottom-right one (exclusive), so `width = x2 - x1`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoundingBox {
    /// Left edge.
    pub x1: f32,
    /// Top edge.
    pub y1: f32,
    /// Right edge.
    pub x2: f32,
    /// Bottom edge.
    pub y2: f32,
}

impl BoundingBox {
    /// A box from its corners.
    pub fn new(x1: f32, y1: f32, x2: f32, y2: f32) -> Self {
        Self { x1, y1, x2, y2 }
    }

    /// A box from its centre and size.
    pub fn from_center(cx: f32, cy: f32, w: f32, h: f32) -> Self {
        Self::new(cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0)
    }

    /// Width (never negative).
    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }

    /// Height (never negative).
    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }

    /// Area (zero for an empty or inverted box).
    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }

    /// Centre point `(cx, cy)`.
    pub fn center(&self) -> (f32, f32) {
        ((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)
    }

    /// The overlap of two boxes (empty, area 0, if they do not meet).
    pub fn intersection(&self, other: &Self) -> Self {
        Self::new(
            self.x1.max(other.x1),
            self.y1.max(other.y1),
            self.x2.min(other.x2),
            self.y2.min(other.y2),
        )
    }

    /// Intersection over union, in `[0, 1]`; 0 when either box is empty.
    pub fn iou(&self, other: &Self) -> f32 {
        let inter = self.intersection(other).area();
        let union = self.area() + other.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }

    /// The smallest box containing both.
    pub fn union(&self, other: &Self) -> Self {
        Self::new(
            self.x1.min(other.x1),
            self.y1.min(other.y1),
            self.x2.max(other.x2),
            self.y2.max(other.y2),
        )
    }

    /// This box moved by `(dx, dy)`.
    pub fn translate(&self, dx: f32, dy: f32) -> Self {
        Self::new(self.x1 + dx, self.y1 + dy, self.x2 + dx, self.y2 + dy)
    }

    /// This box with every coordinate multiplied by `s`.
    pub fn scale(&self, s: f32) -> Self {
        Self::new(self.x1 * s, self.y1 * s, self.x2 * s, self.y2 * s)
    }

    /// This box cut to the image `[0, width] x [0, height]`.
    pub fn clamp(&self, width: f32, height: f32) -> Self {
        Self::new(
            self.x1.clamp(0.0, width),
            self.y1.clamp(0.0, height),
            self.x2.clamp(0.0, width),
            self.y2.clamp(0.0, height),
        )
    }
}

/// One object a detector found: its class, confidence and box.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Index into the model's class list (COCO-80 for the shipped detector).
    pub class_id: u32,
    /// Confidence in `[0, 1]`.
    pub score: f32,
    /// Where the object is, in the pixels of whatever image the detection refers to.
    pub bbox: BoundingBox,
}

/// Where the resized image sits inside the model input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LetterboxAlign {
    /// Image at the top-left, padding right and bottom (YOLOX's own preprocessing).
    #[default]
    TopLeft,
    /// Image centred, padding split on both sides (Ultralytics YOLOv8).
    Center,
}

/// The letterbox transform: resize keeping the aspect ratio so the image fits the model
/// input, then pad the rest. Maps boxes both ways.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Letterbox {
    /// Source pixels → model pixels.
    pub scale: f32,
    /// Horizontal padding before the image, in model pixels.
    pub pad_x: f32,
    /// Vertical padding before the image, in model pixels.
    pub pad_y: f32,
    /// Size of the resized image inside the input, in model pixels (whole pixels).
    pub resized: (u32, u32),
    /// Size of the source image.
    pub source: (u32, u32),
    /// Size of the model input.
    pub input: (u32, u32),
}

impl Letterbox {
    /// The transform that fits a `source` image into a model `input`, both `(width, height)`.
    pub fn fit(source: (u32, u32), input: (u32, u32), align: LetterboxAlign) -> Self {
        let (sw, sh) = (source.0.max(1) as f32, source.1.max(1) as f32);
        let (iw, ih) = (input.0 as f32, input.1 as f32);
        let scale = (iw / sw).min(ih / sh);
        let resized = (
            ((sw * scale).round() as u32).clamp(1, input.0),
            ((sh * scale).round() as u32).clamp(1, input.1),
        );
        let (pad_x, pad_y) = match align {
            LetterboxAlign::TopLeft => (0.0, 0.0),
            LetterboxAlign::Center => (
                ((input.0 - resized.0) / 2) as f32,
                ((input.1 - resized.1) / 2) as f32,
            ),
        };
        Self {
            scale,
            pad_x,
            pad_y,
            resized,
            source,
            input,
        }
    }

    /// A box in source pixels → the same box in model-input pixels.
    pub fn to_input(&self, b: &BoundingBox) -> BoundingBox {
        b.scale(self.scale).translate(self.pad_x, self.pad_y)
    }

    /// A box in model-input pixels → source pixels, clamped to the source image.
    pub fn to_source(&self, b: &BoundingBox) -> BoundingBox {
        b.translate(-self.pad_x, -self.pad_y)
            .scale(1.0 / self.scale)
            .clamp(self.source.0 as f32, self.source.1 as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_half_overlapping_boxes() {
        let a = BoundingBox::new(0.0, 0.0, 10.0, 10.0);
        let b = BoundingBox::new(5.0, 0.0, 15.0, 10.0);
        // intersection 50, union 150
        assert!((a.iou(&b) - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(a.iou(&BoundingBox::new(20.0, 20.0, 30.0, 30.0)), 0.0);
        assert_eq!(a.iou(&a), 1.0);
    }

    #[test]
    fn letterbox_top_left_fits_a_wide_image() {
        // 640x480 into 416x416: scale 0.65, resized 416x312, no offset.
        let lb = Letterbox::fit((640, 480), (416, 416), LetterboxAlign::TopLeft);
        assert!((lb.scale - 0.65).abs() < 1e-6);
        assert_eq!(lb.resized, (416, 312));
        assert_eq!((lb.pad_x, lb.pad_y), (0.0, 0.0));
    }

    #[test]
    fn letterbox_center_splits_the_padding() {
        let lb = Letterbox::fit((640, 480), (416, 416), LetterboxAlign::Center);
        assert_eq!(lb.resized, (416, 312));
        assert_eq!((lb.pad_x, lb.pad_y), (0.0, 52.0));
    }

    #[test]
    fn letterbox_round_trip_returns_the_source_box() {
        for align in [LetterboxAlign::TopLeft, LetterboxAlign::Center] {
            for source in [(640, 480), (480, 640), (1920, 1080), (416, 416), (100, 50)] {
                let lb = Letterbox::fit(source, (416, 416), align);
                let b = BoundingBox::new(
                    source.0 as f32 * 0.1,
                    source.1 as f32 * 0.2,
                    source.0 as f32 * 0.7,
                    source.1 as f32 * 0.9,
                );
                let back = lb.to_source(&lb.to_input(&b));
                for (x, y) in [
                    (b.x1, back.x1),
                    (b.y1, back.y1),
                    (b.x2, back.x2),
                    (b.y2, back.y2),
                ] {
                    assert!(
                        (x - y).abs() < 1e-3,
                        "{align:?} {source:?}: {b:?} -> {back:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn to_source_clamps_to_the_image() {
        let lb = Letterbox::fit((640, 480), (416, 416), LetterboxAlign::TopLeft);
        let outside = BoundingBox::new(-10.0, -10.0, 500.0, 500.0);
        let b = lb.to_source(&outside);
        assert_eq!((b.x1, b.y1, b.x2, b.y2), (0.0, 0.0, 640.0, 480.0));
    }
}
