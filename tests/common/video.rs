//! Test videos assembled from still photos. Each photo is shown for several frames with
//! the view sweeping across it, as a camera panning over a scene would, so the frames
//! move (the pipeline's motion gate opens) while the photo's animals stay in view.

use std::path::{Path, PathBuf};

use opencv::core::{Mat, Rect, Size, Vector};
use opencv::prelude::*;
use opencv::videoio::VideoWriter;
use opencv::{imgcodecs, imgproc};

/// Frame size of assembled videos.
pub const FRAME: (i32, i32) = (960, 540);

/// How the camera sees the scene.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    /// Colour, as in daylight.
    Day,
    /// A night camera's infrared image: grey, darker, with lifted contrast.
    InfraredNight,
}

/// One photo held for `frames` frames.
pub struct Segment {
    /// The photo.
    pub photo: PathBuf,
    /// How many frames it is shown for.
    pub frames: usize,
}

/// Writes `segments` as an MJPEG AVI at `fps` to `path`; returns the index of each
/// segment's first frame.
pub fn assemble(path: &Path, segments: &[Segment], fps: f64, look: Look) -> Vec<usize> {
    let size = Size::new(FRAME.0, FRAME.1);
    let fourcc = VideoWriter::fourcc('M', 'J', 'P', 'G').unwrap();
    let mut writer = VideoWriter::new(path.to_str().unwrap(), fourcc, fps, size, true).unwrap();
    assert!(
        writer.is_opened().unwrap(),
        "VideoWriter opens {}",
        path.display()
    );
    let mut starts = Vec::new();
    let mut written = 0;
    for segment in segments {
        starts.push(written);
        let photo =
            imgcodecs::imread(segment.photo.to_str().unwrap(), imgcodecs::IMREAD_COLOR).unwrap();
        assert!(!photo.empty(), "cannot read {}", segment.photo.display());
        let scene = cover(&photo, size);
        for i in 0..segment.frames {
            let frame = view(&scene, size, i, segment.frames);
            writer.write(&shade(&frame, look)).unwrap();
            written += 1;
        }
    }
    writer.release().unwrap();
    starts
}

/// `photo` scaled to cover 1.2 × `size` (the room the view sweeps over).
fn cover(photo: &Mat, size: Size) -> Mat {
    let (w, h) = (photo.cols() as f64, photo.rows() as f64);
    let scale = (size.width as f64 * 1.2 / w).max(size.height as f64 * 1.2 / h);
    let target = Size::new((w * scale).ceil() as i32, (h * scale).ceil() as i32);
    let mut scene = Mat::default();
    imgproc::resize(photo, &mut scene, target, 0.0, 0.0, imgproc::INTER_AREA).unwrap();
    scene
}

/// The `i`-th of `n` views of `scene`: the window slides from its top-left corner to its
/// bottom-right one.
fn view(scene: &Mat, size: Size, i: usize, n: usize) -> Mat {
    let t = if n > 1 {
        i as f64 / (n - 1) as f64
    } else {
        0.0
    };
    let x = ((scene.cols() - size.width) as f64 * t) as i32;
    let y = ((scene.rows() - size.height) as f64 * t) as i32;
    Mat::roi(scene, Rect::new(x, y, size.width, size.height))
        .unwrap()
        .try_clone()
        .unwrap()
}

fn shade(frame: &Mat, look: Look) -> Mat {
    match look {
        Look::Day => frame.clone(),
        Look::InfraredNight => {
            let mut grey = Mat::default();
            imgproc::cvt_color_def(frame, &mut grey, imgproc::COLOR_BGR2GRAY).unwrap();
            let mut night = Mat::default();
            // Darker, flatter light; then equalised as an IR camera's gain would.
            grey.convert_to(&mut night, -1, 0.5, 10.0).unwrap();
            let mut equalised = Mat::default();
            imgproc::equalize_hist(&night, &mut equalised).unwrap();
            let mut bgr = Mat::default();
            imgproc::cvt_color_def(&equalised, &mut bgr, imgproc::COLOR_GRAY2BGR).unwrap();
            bgr
        }
    }
}

/// JPEG bytes decode to an image of some size (for checking alert snapshots).
pub fn jpeg_size(bytes: &[u8]) -> Option<(i32, i32)> {
    let image = imgcodecs::imdecode(&Vector::from_slice(bytes), imgcodecs::IMREAD_COLOR).ok()?;
    (!image.empty()).then(|| (image.cols(), image.rows()))
}
