//! Videos assembled from still photos, to try a vision plugin on pictures of what it
//! must recognise (`sao vision clip`, the elephant tests and benchmarks, the demo). Each
//! photo is shown for several frames with the view sweeping across it, as a camera
//! panning over a scene would, so the frames move (the motion gate opens) while the
//! photo's subject stays in view.

use std::path::{Path, PathBuf};

use opencv::core::{Mat, Rect, Size};
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
/// segment's first frame. Errors name the photo or file that failed.
pub fn assemble(
    path: &Path,
    segments: &[Segment],
    fps: f64,
    look: Look,
) -> Result<Vec<usize>, ClipError> {
    let size = Size::new(FRAME.0, FRAME.1);
    let fourcc = VideoWriter::fourcc('M', 'J', 'P', 'G')?;
    let mut writer = VideoWriter::new(path, fourcc, fps, size, true)?;
    if !writer.is_opened()? {
        return Err(ClipError::Write(path.to_owned()));
    }
    let mut starts = Vec::new();
    let mut written = 0;
    for segment in segments {
        starts.push(written);
        let photo = imgcodecs::imread(&segment.photo, imgcodecs::IMREAD_COLOR)?;
        if photo.empty() {
            return Err(ClipError::Photo(segment.photo.clone()));
        }
        let scene = cover(&photo, size)?;
        for i in 0..segment.frames {
            let frame = view(&scene, size, i, segment.frames)?;
            writer.write(&shade(&frame, look)?)?;
            written += 1;
        }
    }
    writer.release()?;
    Ok(starts)
}

/// Why a clip could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClipError {
    /// A photo could not be read.
    #[error("cannot read photo {}", .0.display())]
    Photo(PathBuf),
    /// The video could not be written.
    #[error("cannot write video {}", .0.display())]
    Write(PathBuf),
    /// OpenCV failed.
    #[error(transparent)]
    OpenCv(#[from] opencv::Error),
}

/// `photo` scaled to cover 1.2 × `size` (the room the view sweeps over).
fn cover(photo: &Mat, size: Size) -> opencv::Result<Mat> {
    let (w, h) = (photo.cols() as f64, photo.rows() as f64);
    let scale = (size.width as f64 * 1.2 / w).max(size.height as f64 * 1.2 / h);
    let target = Size::new((w * scale).ceil() as i32, (h * scale).ceil() as i32);
    let mut scene = Mat::default();
    imgproc::resize(photo, &mut scene, target, 0.0, 0.0, imgproc::INTER_AREA)?;
    Ok(scene)
}

/// The `i`-th of `n` views of `scene`: the window slides from its top-left corner to its
/// bottom-right one.
fn view(scene: &Mat, size: Size, i: usize, n: usize) -> opencv::Result<Mat> {
    let t = if n > 1 {
        i as f64 / (n - 1) as f64
    } else {
        0.0
    };
    let x = ((scene.cols() - size.width) as f64 * t) as i32;
    let y = ((scene.rows() - size.height) as f64 * t) as i32;
    Mat::roi(scene, Rect::new(x, y, size.width, size.height))?.try_clone()
}

fn shade(frame: &Mat, look: Look) -> opencv::Result<Mat> {
    match look {
        Look::Day => Ok(frame.clone()),
        Look::InfraredNight => {
            let mut grey = Mat::default();
            imgproc::cvt_color_def(frame, &mut grey, imgproc::COLOR_BGR2GRAY)?;
            let mut night = Mat::default();
            // Darker, flatter light; then equalised as an IR camera's gain would.
            grey.convert_to(&mut night, -1, 0.5, 10.0)?;
            let mut equalised = Mat::default();
            imgproc::equalize_hist(&night, &mut equalised)?;
            let mut bgr = Mat::default();
            imgproc::cvt_color_def(&equalised, &mut bgr, imgproc::COLOR_GRAY2BGR)?;
            Ok(bgr)
        }
    }
}

#[cfg(test)]
mod tests {
    use opencv::videoio::{VideoCapture, CAP_PROP_FRAME_COUNT};

    use super::*;

    fn photo(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        let image = Mat::new_rows_cols_with_default(
            480,
            640,
            opencv::core::CV_8UC3,
            opencv::core::Scalar::new(20.0, 140.0, 60.0, 0.0),
        )
        .unwrap();
        let mut noisy = image.clone();
        opencv::core::randu(
            &mut noisy,
            &opencv::core::Scalar::all(0.0),
            &opencv::core::Scalar::all(255.0),
        )
        .unwrap();
        imgcodecs::imwrite_def(&path, &noisy).unwrap();
        path
    }

    #[test]
    fn photos_become_moving_frames_and_bad_photos_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let segments = [
            Segment {
                photo: photo(dir.path(), "a.jpg"),
                frames: 4,
            },
            Segment {
                photo: photo(dir.path(), "b.jpg"),
                frames: 3,
            },
        ];
        let out = dir.path().join("clip.avi");
        let starts = assemble(&out, &segments, 5.0, Look::InfraredNight).unwrap();
        assert_eq!(starts, [0, 4]);
        let mut video = VideoCapture::from_file_def(&out).unwrap();
        assert_eq!(video.get(CAP_PROP_FRAME_COUNT).unwrap(), 7.0);
        let (mut first, mut second) = (Mat::default(), Mat::default());
        video.read(&mut first).unwrap();
        video.read(&mut second).unwrap();
        assert_eq!((first.cols(), first.rows()), FRAME);
        let mut diff = Mat::default();
        opencv::core::absdiff(&first, &second, &mut diff).unwrap();
        assert!(
            opencv::core::sum_elems(&diff).unwrap()[0] > 0.0,
            "the view moves"
        );

        let missing = [Segment {
            photo: dir.path().join("missing.jpg"),
            frames: 1,
        }];
        let err = assemble(&out, &missing, 5.0, Look::Day).unwrap_err();
        assert!(err.to_string().contains("missing.jpg"), "{err}");
    }
}
