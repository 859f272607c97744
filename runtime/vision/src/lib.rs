//! # sao-vision — the pole's vision pipeline
//!
//! Capture (OpenCV) → motion gating → letterbox → inference (ONNX Runtime via `ort`) →
//! decoding → NMS → tracking → detections for plugins, plus camera health and annotated,
//! privacy-blurred snapshots. Plugins never see pixels: they get [`geometry::Detection`]s
//! with track ids.

pub mod capture;
pub mod clip;
pub mod decode;
pub mod detector;
pub mod gate;
pub mod geometry;
pub mod health;
pub mod inference;
pub mod model;
pub mod motion;
pub mod nms;
pub mod pipeline;
pub mod regions;
pub mod snapshot;
pub mod track;
