//! Shared helpers of the vision integration tests: the real model and media in `../shared`.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use sao_vision::detector::{Detector, OnnxRuntime, Threads};
use sao_vision::model::ModelSpec;

/// `../shared` beside the repository.
pub fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// The YOLOX-Nano COCO detector, loaded once per test binary.
pub fn yolox() -> Arc<Detector> {
    static DETECTOR: std::sync::OnceLock<Arc<Detector>> = std::sync::OnceLock::new();
    DETECTOR
        .get_or_init(|| {
            let runtime = OnnxRuntime::load(None).expect("ONNX Runtime (run .ci/setup)");
            let spec = ModelSpec::yolox_nano(shared().join("models/yolox_nano.onnx"));
            Arc::new(Detector::load(runtime, spec, Threads::default()).expect("model loads"))
        })
        .clone()
}

/// Files of `dir` (under `../shared/media`) ending in `ext`, sorted.
pub fn media(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(shared().join("media").join(dir))
        .expect("media directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}
