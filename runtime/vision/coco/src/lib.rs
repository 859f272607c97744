//! The 80 COCO class names, in the index order COCO-trained detectors (YOLOX, YOLOv8) use.
//!
//! One list for the host's vision pipeline (a detection's class id indexes it) and for
//! plugins that ship a COCO model and check the labels their config names (built for
//! wasm32 too: the crate has no dependencies).

#![warn(missing_docs)]

/// COCO-80 labels; a detection's `class_id` indexes this list.
pub const COCO_CLASSES: [&str; 80] = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_classes_the_pole_cares_about_sit_at_their_coco_indexes() {
        for (id, name) in [
            (0, "person"),
            (2, "car"),
            (3, "motorcycle"),
            (5, "bus"),
            (7, "truck"),
            (17, "horse"),
            (19, "cow"),
            (20, "elephant"),
            (21, "bear"),
            (79, "toothbrush"),
        ] {
            assert_eq!(COCO_CLASSES[id], name);
        }
    }
}
