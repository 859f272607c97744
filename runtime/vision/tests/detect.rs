//! The real YOLOX-Nano model on the real photos in `../shared/media`: elephants (with their
//! labelled boxes), indoor negatives and COCO traffic scenes.

mod common;

use std::path::Path;

use opencv::imgcodecs;
use opencv::prelude::*;
use sao_vision::geometry::{BoundingBox, Detection};

/// Labels a COCO detector gives a wild elephant (it often says horse or cow).
const CANDIDATES: [&str; 4] = ["elephant", "horse", "cow", "bear"];

fn detect(path: &Path) -> (Vec<(String, Detection)>, (i32, i32)) {
    let detector = common::yolox();
    let image = imgcodecs::imread(path.to_str().unwrap(), imgcodecs::IMREAD_COLOR).unwrap();
    let size = image.size().unwrap();
    let found = detector
        .detect(&image)
        .unwrap()
        .into_iter()
        .map(|d| (detector.label(d.class_id), d))
        .collect();
    (found, (size.width, size.height))
}

/// The labelled boxes of an image of the elephant dataset (YOLO format), in pixels.
fn labelled_boxes(image: &Path, (w, h): (i32, i32)) -> Vec<BoundingBox> {
    let name = image.file_stem().unwrap().to_string_lossy().to_string();
    let labels = image
        .parent()
        .unwrap()
        .join("../labels")
        .join(name + ".txt");
    std::fs::read_to_string(labels)
        .unwrap()
        .lines()
        .map(|line| {
            let v: Vec<f32> = line
                .split_whitespace()
                .map(|x| x.parse().unwrap())
                .collect();
            let (w, h) = (w as f32, h as f32);
            BoundingBox::from_center(v[1] * w, v[2] * h, v[3] * w, v[4] * h)
        })
        .collect()
}

#[test]
fn elephants_are_found_where_the_labels_say() {
    let images = common::media("elephants/images", "jpg");
    assert_eq!(images.len(), 15);
    let mut matched_images = 0;
    let mut report = String::new();
    for image in &images {
        let (found, size) = detect(image);
        let truth = labelled_boxes(image, size);
        let best = found
            .iter()
            .filter(|(label, _)| CANDIDATES.contains(&label.as_str()))
            .flat_map(|(_, d)| truth.iter().map(|t| t.iou(&d.bbox)))
            .fold(0.0f32, f32::max);
        report += &format!("{}: best IoU {best:.2}\n", image.display());
        if best >= 0.5 {
            matched_images += 1;
        }
    }
    // Measured: 7 of the 15 photos at IoU >= 0.5 (close-ups, herds in tall grass and
    // camera-trap frames are beyond YOLOX-Nano at 416 px). A broken decoder, letterbox or
    // colour order matches none or one.
    assert!(
        matched_images >= 7,
        "{matched_images} of 15 matched:\n{report}"
    );
}

#[test]
fn a_road_crossing_herd_is_three_elephants_in_their_boxes() {
    let image = common::media("elephants/images", "jpg")
        .into_iter()
        .find(|p| p.to_string_lossy().contains("Elephant_crossing_road"))
        .unwrap();
    let (found, size) = detect(&image);
    let truth = labelled_boxes(&image, size);
    assert_eq!(truth.len(), 3);
    for t in &truth {
        let hit = found
            .iter()
            .any(|(label, d)| label == "elephant" && d.bbox.iou(t) >= 0.6);
        assert!(hit, "no elephant on {t:?}: {found:?}");
    }
}

#[test]
fn coco_elephant_photos_have_their_elephants() {
    let dir = common::shared().join("media/elephants");
    let (herd, _) = detect(&dir.join("coco_000000007108.jpg"));
    let elephants = herd.iter().filter(|(l, _)| l == "elephant").count();
    assert_eq!(elephants, 4, "{herd:?}");
    let (pair, (w, _)) = detect(&dir.join("coco_000000006894.jpg"));
    let elephant = pair
        .iter()
        .find(|(l, _)| l == "elephant")
        .expect("an elephant");
    let person = pair.iter().find(|(l, _)| l == "person").expect("a person");
    // The elephant stands left of the man.
    assert!(elephant.1.bbox.center().0 < person.1.bbox.center().0);
    assert!(elephant.1.bbox.x1 < w as f32 * 0.1);
}

#[test]
fn nothing_elephant_like_in_the_negatives() {
    let negatives = common::media("negatives", "jpg");
    assert_eq!(negatives.len(), 4);
    let mut anything = 0;
    for image in negatives {
        let (found, _) = detect(&image);
        anything += found.len();
        let candidates: Vec<_> = found
            .iter()
            .filter(|(l, _)| CANDIDATES.contains(&l.as_str()))
            .collect();
        assert!(candidates.is_empty(), "{}: {candidates:?}", image.display());
    }
    // The detector does see the chairs and people there: the negatives are not blank.
    assert!(anything >= 5);
}

#[test]
fn traffic_scenes_have_their_vehicles() {
    let dir = common::shared().join("media/traffic");
    let count = |found: &[(String, Detection)], label: &str| {
        found.iter().filter(|(l, _)| l == label).count()
    };
    let (street, _) = detect(&dir.join("coco_000000001532.jpg"));
    assert!(count(&street, "car") >= 4, "{street:?}");
    let (buses, (w, h)) = detect(&dir.join("coco_000000001584.jpg"));
    let bus = buses.iter().find(|(l, _)| l == "bus").expect("a bus");
    // The bus fills the middle of the photo.
    let (cx, cy) = bus.1.bbox.center();
    assert!(bus.1.score > 0.8 && bus.1.bbox.area() > 0.3 * (w * h) as f32);
    assert!(
        (cx - w as f32 / 2.0).abs() < 0.1 * w as f32
            && (cy - h as f32 / 2.0).abs() < 0.1 * h as f32
    );
    let (lorry, _) = detect(&dir.join("coco_000000009769.jpg"));
    assert!(count(&lorry, "truck") >= 1, "{lorry:?}");
}

#[test]
fn tiles_find_a_distant_herd_that_the_letterboxed_frame_loses() {
    use opencv::core::{Mat, Rect, Scalar, Size};
    use sao_vision::regions::{full_frame, tiles};

    // A herd far away: the road-crossing photo shrunk to 320 px in the corner of a
    // 2560×1440 long-range view.
    let photo = common::media("elephants/images", "jpg")
        .into_iter()
        .find(|p| p.to_string_lossy().contains("Elephant_crossing_road"))
        .unwrap();
    let photo = imgcodecs::imread(photo.to_str().unwrap(), imgcodecs::IMREAD_COLOR).unwrap();
    let mut small = Mat::default();
    opencv::imgproc::resize(
        &photo,
        &mut small,
        Size::new(320, 320),
        0.0,
        0.0,
        opencv::imgproc::INTER_AREA,
    )
    .unwrap();
    let mut view = Mat::new_size_with_default(
        Size::new(2560, 1440),
        opencv::core::CV_8UC3,
        Scalar::all(90.0),
    )
    .unwrap();
    let place = Rect::new(1900, 900, 320, 320);
    small
        .copy_to(&mut Mat::roi_mut(&mut view, place).unwrap())
        .unwrap();

    let detector = common::yolox();
    let options = ort::session::RunOptions::new().unwrap();
    let elephants = |regions: &[BoundingBox]| {
        detector
            .detect_regions(&view, regions, &options)
            .unwrap()
            .into_iter()
            .filter(|d| detector.label(d.class_id) == "elephant")
            .collect::<Vec<_>>()
    };
    let whole = elephants(&[full_frame((2560, 1440))]);
    let tiled = elephants(&tiles((2560, 1440), 416, 0.2));
    assert!(
        whole.is_empty(),
        "at 1/6 scale the herd is a few pixels: {whole:?}"
    );
    assert!(tiled.len() >= 2, "{tiled:?}");
    let inside = BoundingBox::new(1900.0, 900.0, 2220.0, 1220.0);
    for d in &tiled {
        assert!(
            inside.intersection(&d.bbox).area() > 0.9 * d.bbox.area(),
            "{d:?} outside the herd"
        );
    }
}
