//! What a plugin package declares about the model it ships: input size, colour order,
//! normalisation, output head, class names and thresholds.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::decode::Head;
use crate::geometry::LetterboxAlign;
use sao_coco::COCO_CLASSES;

/// Channel order the model expects (OpenCV frames are BGR).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColourOrder {
    /// Blue, green, red (YOLOX as exported by Megvii).
    #[default]
    Bgr,
    /// Red, green, blue (most PyTorch exports, Ultralytics).
    Rgb,
}

/// The class names of a model: the COCO-80 list or the package's own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Classes {
    /// A named standard list; only `"coco"` is known.
    Named(String),
    /// The model's own names, indexed by class id.
    List(Vec<String>),
}

impl Default for Classes {
    fn default() -> Self {
        Self::Named("coco".into())
    }
}

/// One model as a plugin manifest's `[[models]]` table declares it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ModelSpec {
    /// Name the plugin's `[vision]` table refers to.
    pub name: String,
    /// ONNX file, relative to the package root (resolved to an absolute path on install).
    pub path: PathBuf,
    /// Model input `[width, height]` in pixels.
    pub input: [u32; 2],
    /// Channel order of the input tensor.
    #[serde(default)]
    pub colour: ColourOrder,
    /// Every pixel value (0–255) is multiplied by this first (`1/255` for models trained on 0–1).
    #[serde(default = "one")]
    pub scale: f32,
    /// Per-channel mean subtracted after scaling, in the model's channel order.
    #[serde(default)]
    pub mean: [f32; 3],
    /// Per-channel standard deviation divided by last, in the model's channel order.
    #[serde(default = "ones")]
    pub std: [f32; 3],
    /// Layout of the output tensor.
    pub head: Head,
    /// Where the resized image sits in the input.
    #[serde(default)]
    pub letterbox: LetterboxAlign,
    /// Grey level (0–255, before normalisation) of the letterbox padding.
    #[serde(default = "pad_grey")]
    pub pad: u8,
    /// Class names.
    #[serde(default)]
    pub classes: Classes,
    /// Detections scoring below this are dropped.
    #[serde(default = "score_threshold")]
    pub score_threshold: f32,
    /// IoU above which NMS suppresses the lower-scoring of two same-class boxes.
    #[serde(default = "nms_iou")]
    pub nms_iou: f32,
}

fn one() -> f32 {
    1.0
}
fn ones() -> [f32; 3] {
    [1.0; 3]
}
fn pad_grey() -> u8 {
    114
}
fn score_threshold() -> f32 {
    0.3
}
fn nms_iou() -> f32 {
    0.45
}

/// A model declaration that cannot work.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SpecError {
    /// Unknown named class list.
    #[error("model `{model}`: unknown class list `{name}` (known: coco)")]
    UnknownClasses {
        /// Model name.
        model: String,
        /// The name given.
        name: String,
    },
    /// A value out of its range.
    #[error("model `{model}`: {what}")]
    Invalid {
        /// Model name.
        model: String,
        /// What is wrong.
        what: String,
    },
}

impl ModelSpec {
    /// The spec of the YOLOX-Nano COCO detector (`yolox_nano.onnx`) at `path`: 416×416 BGR
    /// 0–255 input, top-left letterbox padded with 114, YOLOX head, COCO classes.
    pub fn yolox_nano(path: impl Into<PathBuf>) -> Self {
        Self {
            name: "yolox-nano".into(),
            path: path.into(),
            input: [416, 416],
            colour: ColourOrder::Bgr,
            scale: 1.0,
            mean: [0.0; 3],
            std: [1.0; 3],
            head: Head::Yolox,
            letterbox: LetterboxAlign::TopLeft,
            pad: pad_grey(),
            classes: Classes::default(),
            score_threshold: score_threshold(),
            nms_iou: nms_iou(),
        }
    }

    /// Checks ranges and the class list.
    pub fn validate(&self) -> Result<(), SpecError> {
        let invalid = |what: String| SpecError::Invalid {
            model: self.name.clone(),
            what,
        };
        if self
            .input
            .iter()
            .any(|&d| d == 0 || d > 4096 || d % 32 != 0)
        {
            return Err(invalid(format!(
                "input {:?} must be two multiples of 32 between 32 and 4096",
                self.input
            )));
        }
        if !(0.0..=1.0).contains(&self.score_threshold) || !(0.0..=1.0).contains(&self.nms_iou) {
            return Err(invalid(
                "score-threshold and nms-iou must be within 0..1".into(),
            ));
        }
        if self.std.iter().any(|&s| s == 0.0 || !s.is_finite()) || !self.scale.is_finite() {
            return Err(invalid(
                "scale and std must be finite and std non-zero".into(),
            ));
        }
        self.class_names().map(|_| ())
    }

    /// The class names, indexed by class id.
    pub fn class_names(&self) -> Result<Vec<String>, SpecError> {
        match &self.classes {
            Classes::Named(name) if name == "coco" => {
                Ok(COCO_CLASSES.iter().map(|s| s.to_string()).collect())
            }
            Classes::Named(name) => Err(SpecError::UnknownClasses {
                model: self.name.clone(),
                name: name.clone(),
            }),
            Classes::List(names) if names.is_empty() => Err(SpecError::Invalid {
                model: self.name.clone(),
                what: "the class list is empty".into(),
            }),
            Classes::List(names) => Ok(names.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_table_parses_with_defaults() {
        let spec: ModelSpec = toml_like(
            r#"{"name":"det","path":"models/m.onnx","input":[640,640],"head":"yolov8",
                "colour":"rgb","scale":0.00392156862,"letterbox":"center"}"#,
        );
        assert_eq!(spec.head, Head::Yolov8);
        assert_eq!(spec.colour, ColourOrder::Rgb);
        assert_eq!(spec.letterbox, LetterboxAlign::Center);
        assert_eq!(spec.pad, 114);
        assert_eq!(spec.class_names().unwrap().len(), 80);
        spec.validate().unwrap();
    }

    #[test]
    fn bad_declarations_are_refused_with_the_reason() {
        let mut spec = ModelSpec::yolox_nano("m.onnx");
        spec.input = [416, 300];
        assert!(spec
            .validate()
            .unwrap_err()
            .to_string()
            .contains("multiples of 32"));
        let mut spec = ModelSpec::yolox_nano("m.onnx");
        spec.classes = Classes::Named("imagenet".into());
        assert!(spec
            .validate()
            .unwrap_err()
            .to_string()
            .contains("unknown class list"));
        let mut spec = ModelSpec::yolox_nano("m.onnx");
        spec.std = [1.0, 0.0, 1.0];
        assert!(spec.validate().is_err());
    }

    fn toml_like(json: &str) -> ModelSpec {
        serde_json::from_str(json).unwrap()
    }
}
