//! Motion detection: background subtraction (OpenCV MOG2) on a downscaled grey frame, as
//! Frigate does, so gating costs a fraction of one inference. Returns moving areas as
//! boxes in full-frame pixels.

use opencv::core::{Mat, Point, Ptr, Scalar, Size, Vector, BORDER_CONSTANT};
use opencv::imgproc;
use opencv::prelude::*;
use opencv::video::{self, BackgroundSubtractorMOG2};
use serde::{Deserialize, Serialize};

use crate::geometry::BoundingBox;

/// Motion detector settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct MotionConfig {
    /// Width of the frame motion is computed on (height follows the aspect ratio).
    pub width: u32,
    /// Frames the background model remembers.
    pub history: u32,
    /// MOG2 variance threshold: higher ignores more noise (rain, leaves).
    pub sensitivity_threshold: f32,
    /// Moving areas smaller than this fraction of the frame are ignored.
    pub min_area: f32,
    /// Frames after start (or a reset) during which everything is taken as motion while
    /// the background model learns.
    pub warmup_frames: u32,
}

impl Default for MotionConfig {
    fn default() -> Self {
        Self {
            width: 320,
            history: 300,
            sensitivity_threshold: 25.0,
            min_area: 0.0005,
            warmup_frames: 5,
        }
    }
}

/// A camera's motion detector (one per camera; it learns that camera's background).
pub struct MotionDetector {
    config: MotionConfig,
    subtractor: Ptr<BackgroundSubtractorMOG2>,
    frames: u32,
    small: Mat,
    grey: Mat,
    mask: Mat,
    kernel: Mat,
    speck: Mat,
}

impl MotionDetector {
    /// A detector with a fresh background model.
    pub fn new(config: MotionConfig) -> opencv::Result<Self> {
        let subtractor = video::create_background_subtractor_mog2(
            config.history as i32,
            config.sensitivity_threshold as f64,
            false,
        )?;
        let kernel = imgproc::get_structuring_element(
            imgproc::MORPH_ELLIPSE,
            Size::new(5, 5),
            Point::new(-1, -1),
        )?;
        let speck = imgproc::get_structuring_element(
            imgproc::MORPH_RECT,
            Size::new(3, 3),
            Point::new(-1, -1),
        )?;
        Ok(Self {
            config,
            speck,
            subtractor,
            frames: 0,
            small: Mat::default(),
            grey: Mat::default(),
            mask: Mat::default(),
            kernel,
        })
    }

    /// The thumbnail of the last frame seen (health checks reuse it).
    pub fn last_thumbnail(&self) -> &Mat {
        &self.grey
    }

    /// Makes the downscaled, blurred grey thumbnail of a BGR frame that motion and health
    /// checks look at, without feeding the background model.
    pub fn thumbnail(&mut self, frame: &Mat) -> opencv::Result<&Mat> {
        let size = frame.size()?;
        let scale = self.config.width as f32 / size.width.max(1) as f32;
        let small_size = Size::new(
            self.config.width as i32,
            ((size.height as f32 * scale).round() as i32).max(1),
        );
        // Bilinear, not area averaging: five times faster at non-integer factors with
        // OpenCV 4.6, and the blur that follows smooths what it aliases.
        imgproc::resize(
            frame,
            &mut self.small,
            small_size,
            0.0,
            0.0,
            imgproc::INTER_LINEAR,
        )?;
        let mut grey = Mat::default();
        imgproc::cvt_color(&self.small, &mut grey, imgproc::COLOR_BGR2GRAY, 0)?;
        imgproc::gaussian_blur(
            &grey,
            &mut self.grey,
            Size::new(5, 5),
            0.0,
            0.0,
            opencv::core::BORDER_DEFAULT,
        )?;
        Ok(&self.grey)
    }

    /// Feeds a BGR frame; returns the moving areas in frame pixels (the whole frame while
    /// the model warms up).
    pub fn detect(&mut self, frame: &Mat) -> opencv::Result<Vec<BoundingBox>> {
        let size = frame.size()?;
        let small_size = self.thumbnail(frame)?.size()?;
        let scale = small_size.width as f32 / size.width.max(1) as f32;
        BackgroundSubtractorMOG2Trait::apply(
            &mut self.subtractor,
            &self.grey,
            &mut self.mask,
            -1.0,
        )?;
        self.frames += 1;
        if self.frames <= self.config.warmup_frames {
            return Ok(vec![BoundingBox::new(
                0.0,
                0.0,
                size.width as f32,
                size.height as f32,
            )]);
        }
        let mut binary = Mat::default();
        imgproc::threshold(
            &self.mask,
            &mut binary,
            127.0,
            255.0,
            imgproc::THRESH_BINARY,
        )?;
        // Opening removes isolated noise pixels (compression, dust) before dilation joins
        // the parts of a moving object.
        let mut opened = Mat::default();
        imgproc::morphology_ex(
            &binary,
            &mut opened,
            imgproc::MORPH_OPEN,
            &self.speck,
            Point::new(-1, -1),
            1,
            BORDER_CONSTANT,
            Scalar::default(),
        )?;
        let mut dilated = Mat::default();
        imgproc::dilate(
            &opened,
            &mut dilated,
            &self.kernel,
            Point::new(-1, -1),
            2,
            BORDER_CONSTANT,
            Scalar::default(),
        )?;
        let mut contours = Vector::<Vector<Point>>::new();
        imgproc::find_contours(
            &dilated,
            &mut contours,
            imgproc::RETR_EXTERNAL,
            imgproc::CHAIN_APPROX_SIMPLE,
            Point::new(0, 0),
        )?;
        let min_area = self.config.min_area * small_size.width as f32 * small_size.height as f32;
        let mut boxes = Vec::new();
        for contour in contours.iter() {
            let rect = imgproc::bounding_rect(&contour)?;
            if (rect.width * rect.height) as f32 >= min_area {
                boxes.push(
                    BoundingBox::new(
                        rect.x as f32,
                        rect.y as f32,
                        (rect.x + rect.width) as f32,
                        (rect.y + rect.height) as f32,
                    )
                    .scale(1.0 / scale)
                    .clamp(size.width as f32, size.height as f32),
                );
            }
        }
        Ok(boxes)
    }

    /// Forgets the background (after a reconnect the view may have changed).
    pub fn reset(&mut self) -> opencv::Result<()> {
        *self = Self::new(self.config.clone())?;
        Ok(())
    }
}
