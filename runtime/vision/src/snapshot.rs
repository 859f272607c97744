//! Annotated JPEG snapshots for events, with people and licence plates blurred (PDPA).
//!
//! The COCO detector has no licence-plate class, so a plate is taken to be where plates
//! are on a road vehicle: the lower part of its box, across the middle. A model with a
//! `license-plate` class has those boxes blurred exactly.

use opencv::core::{Mat, Point, Rect, Scalar, Size, Vector};
use opencv::imgproc;
use opencv::prelude::*;
use serde::{Deserialize, Serialize};

use crate::geometry::BoundingBox;

/// What a snapshot hides.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Privacy {
    /// Blur every person.
    pub blur_persons: bool,
    /// Blur the plate area of every road vehicle (and plate detections).
    pub blur_plates: bool,
    /// Labels taken as persons.
    pub person_labels: Vec<String>,
    /// Labels taken as road vehicles carrying plates.
    pub vehicle_labels: Vec<String>,
    /// Labels that are plates themselves.
    pub plate_labels: Vec<String>,
    /// JPEG quality, 1–100.
    pub jpeg_quality: u8,
}

impl Default for Privacy {
    fn default() -> Self {
        let strings = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
        Self {
            blur_persons: true,
            blur_plates: true,
            person_labels: strings(&["person"]),
            vehicle_labels: strings(&["car", "bus", "truck", "motorcycle"]),
            plate_labels: strings(&["license-plate", "licence-plate", "plate"]),
            jpeg_quality: 80,
        }
    }
}

/// One object to draw on a snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct Annotation {
    /// Class label.
    pub label: String,
    /// Confidence.
    pub score: f32,
    /// Box in frame pixels.
    pub bbox: BoundingBox,
    /// Track id, if tracked.
    pub track_id: Option<u64>,
    /// Drawn thicker and in red (the objects an event is about).
    pub highlight: bool,
}

/// An encoded snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// The JPEG file.
    pub jpeg: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Regions blurred for privacy.
    pub blurred: u32,
}

/// The part of a vehicle box where its plate is expected: the lower 35 %, the middle 60 %.
pub fn plate_area(vehicle: &BoundingBox) -> BoundingBox {
    let (w, h) = (vehicle.width(), vehicle.height());
    BoundingBox::new(
        vehicle.x1 + 0.2 * w,
        vehicle.y1 + 0.65 * h,
        vehicle.x2 - 0.2 * w,
        vehicle.y2,
    )
}

/// The regions `privacy` hides among `annotations`.
pub fn private_regions(annotations: &[Annotation], privacy: &Privacy) -> Vec<BoundingBox> {
    let has = |list: &[String], label: &str| list.iter().any(|l| l == label);
    annotations
        .iter()
        .filter_map(|a| {
            let person = privacy.blur_persons && has(&privacy.person_labels, &a.label);
            let plate = privacy.blur_plates && has(&privacy.plate_labels, &a.label);
            if person || plate {
                Some(a.bbox)
            } else if privacy.blur_plates && has(&privacy.vehicle_labels, &a.label) {
                Some(plate_area(&a.bbox))
            } else {
                None
            }
        })
        .collect()
}

/// Draws `annotations` on a copy of a BGR `frame`, blurs what `privacy` hides, and
/// encodes it as JPEG. The frame itself is not changed.
pub fn render(
    frame: &Mat,
    annotations: &[Annotation],
    privacy: &Privacy,
) -> opencv::Result<Snapshot> {
    let mut image = frame.try_clone()?;
    let size = image.size()?;
    let (fw, fh) = (size.width as f32, size.height as f32);
    let regions = private_regions(annotations, privacy);
    let mut blurred = 0;
    for region in &regions {
        let Some(rect) = to_rect(&region.clamp(fw, fh)) else {
            continue;
        };
        let mut roi = Mat::roi_mut(&mut image, rect)?;
        // A kernel a third of the region's size leaves no feature to recognise.
        let k = ((rect.width.min(rect.height) / 3) | 1).max(3);
        let source = roi.try_clone()?;
        imgproc::gaussian_blur(
            &source,
            &mut roi,
            Size::new(k, k),
            0.0,
            0.0,
            opencv::core::BORDER_DEFAULT,
        )?;
        blurred += 1;
    }
    for a in annotations {
        let Some(rect) = to_rect(&a.bbox.clamp(fw, fh)) else {
            continue;
        };
        let (colour, thickness) = if a.highlight {
            (Scalar::new(0.0, 0.0, 255.0, 0.0), 3)
        } else {
            (Scalar::new(0.0, 200.0, 0.0, 0.0), 2)
        };
        imgproc::rectangle(&mut image, rect, colour, thickness, imgproc::LINE_8, 0)?;
        let text = match a.track_id {
            Some(id) => format!("{} #{id} {:.2}", a.label, a.score),
            None => format!("{} {:.2}", a.label, a.score),
        };
        imgproc::put_text(
            &mut image,
            &text,
            Point::new(rect.x + 2, (rect.y - 5).max(12)),
            imgproc::FONT_HERSHEY_SIMPLEX,
            0.5,
            colour,
            1,
            imgproc::LINE_AA,
            false,
        )?;
    }
    let mut jpeg = Vector::<u8>::new();
    let params = Vector::from_slice(&[
        opencv::imgcodecs::IMWRITE_JPEG_QUALITY,
        privacy.jpeg_quality.clamp(1, 100) as i32,
    ]);
    opencv::imgcodecs::imencode(".jpg", &image, &mut jpeg, &params)?;
    Ok(Snapshot {
        jpeg: jpeg.to_vec(),
        width: size.width as u32,
        height: size.height as u32,
        blurred,
    })
}

/// Re-encodes a JPEG at a smaller size until it fits in `max_bytes` (each round scales it
/// by 0.7 at `quality`). A JPEG that already fits is returned as is; one that cannot be
/// decoded is an error. Alerts use it to stay within the uplink's record limit.
pub fn shrink(jpeg: &[u8], max_bytes: usize, quality: i32) -> opencv::Result<Vec<u8>> {
    if jpeg.len() <= max_bytes {
        return Ok(jpeg.to_vec());
    }
    let mut image =
        opencv::imgcodecs::imdecode(&Vector::from_slice(jpeg), opencv::imgcodecs::IMREAD_COLOR)?;
    if image.empty() {
        return Err(opencv::Error::new(
            opencv::core::StsBadArg,
            "not a JPEG image",
        ));
    }
    let params = Vector::from_slice(&[opencv::imgcodecs::IMWRITE_JPEG_QUALITY, quality]);
    loop {
        let size = image.size()?;
        let smaller = Size::new(size.width * 7 / 10, size.height * 7 / 10);
        if smaller.width < 16 || smaller.height < 16 {
            return Err(opencv::Error::new(
                opencv::core::StsOutOfRange,
                format!("cannot fit the image in {max_bytes} bytes"),
            ));
        }
        let mut resized = Mat::default();
        imgproc::resize(&image, &mut resized, smaller, 0.0, 0.0, imgproc::INTER_AREA)?;
        let mut out = Vector::<u8>::new();
        opencv::imgcodecs::imencode(".jpg", &resized, &mut out, &params)?;
        if out.len() <= max_bytes {
            return Ok(out.to_vec());
        }
        image = resized;
    }
}

/// Whole-pixel rectangle of a box, `None` when it is empty.
fn to_rect(b: &BoundingBox) -> Option<Rect> {
    let (x1, y1) = (b.x1.floor() as i32, b.y1.floor() as i32);
    let (x2, y2) = (b.x2.ceil() as i32, b.y2.ceil() as i32);
    (x2 > x1 && y2 > y1).then(|| Rect::new(x1, y1, x2 - x1, y2 - y1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrink_fits_a_large_jpeg_and_refuses_garbage() {
        let frame = Mat::new_rows_cols_with_default(
            720,
            1280,
            opencv::core::CV_8UC3,
            Scalar::new(40.0, 120.0, 200.0, 0.0),
        )
        .unwrap();
        let mut noisy = frame.clone();
        opencv::core::randu(&mut noisy, &Scalar::all(0.0), &Scalar::all(255.0)).unwrap();
        let big = render(&noisy, &[], &Privacy::default()).unwrap().jpeg;
        let fitted = shrink(&big, big.len() / 4, 80).unwrap();
        assert!(
            fitted.len() <= big.len() / 4,
            "{} > {}",
            fitted.len(),
            big.len() / 4
        );
        let decoded = opencv::imgcodecs::imdecode(
            &Vector::from_slice(&fitted),
            opencv::imgcodecs::IMREAD_COLOR,
        )
        .unwrap();
        assert!(decoded.cols() < 1280 && decoded.cols() > 0);
        assert_eq!(shrink(&big, big.len(), 80).unwrap(), big, "fits: unchanged");
        assert!(shrink(b"not a jpeg at all", 4, 80).is_err());
    }

    fn annotation(label: &str, bbox: BoundingBox) -> Annotation {
        Annotation {
            label: label.into(),
            score: 0.9,
            bbox,
            track_id: Some(1),
            highlight: false,
        }
    }

    #[test]
    fn persons_and_plate_areas_are_private_by_default() {
        let person = BoundingBox::new(10.0, 10.0, 50.0, 110.0);
        let car = BoundingBox::new(100.0, 100.0, 200.0, 200.0);
        let dog = BoundingBox::new(0.0, 0.0, 5.0, 5.0);
        let found = private_regions(
            &[
                annotation("person", person),
                annotation("car", car),
                annotation("dog", dog),
            ],
            &Privacy::default(),
        );
        assert_eq!(
            found,
            vec![person, BoundingBox::new(120.0, 165.0, 180.0, 200.0)]
        );
        let open = Privacy {
            blur_persons: false,
            blur_plates: false,
            ..Privacy::default()
        };
        assert!(private_regions(&[annotation("person", person)], &open).is_empty());
    }

    #[test]
    fn a_blurred_person_loses_its_detail_and_the_jpeg_decodes() {
        // A sharp checkerboard: blurring it flattens the region towards grey.
        let mut frame =
            Mat::new_rows_cols_with_default(120, 160, opencv::core::CV_8UC3, Scalar::all(0.0))
                .unwrap();
        for (i, byte) in frame.data_bytes_mut().unwrap().iter_mut().enumerate() {
            let (x, y) = ((i / 3) % 160, (i / 3) / 160);
            *byte = if (x / 4 + y / 4) % 2 == 0 { 255 } else { 0 };
        }
        let person = BoundingBox::new(20.0, 20.0, 80.0, 100.0);
        let snapshot =
            render(&frame, &[annotation("person", person)], &Privacy::default()).unwrap();
        assert_eq!(
            (snapshot.width, snapshot.height, snapshot.blurred),
            (160, 120, 1)
        );
        let decoded = opencv::imgcodecs::imdecode(
            &Vector::from_slice(&snapshot.jpeg),
            opencv::imgcodecs::IMREAD_GRAYSCALE,
        )
        .unwrap();
        let spread = |rect: Rect| {
            let roi = Mat::roi(&decoded, rect).unwrap();
            let (mut mean, mut dev) = (Mat::default(), Mat::default());
            opencv::core::mean_std_dev(&roi, &mut mean, &mut dev, &opencv::core::no_array())
                .unwrap();
            *dev.at::<f64>(0).unwrap()
        };
        let inside = spread(Rect::new(35, 40, 30, 40));
        let outside = spread(Rect::new(100, 40, 40, 40));
        assert!(
            inside < outside / 4.0,
            "blurred {inside} vs sharp {outside}"
        );
    }
}
