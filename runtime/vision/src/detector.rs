//! Running one model on a frame: letterbox into the input tensor, ONNX Runtime, decode, map
//! back to frame pixels, NMS. Sessions are created once per model and shared.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use opencv::core::{Mat, Rect, Size, ToInputArray};
use opencv::prelude::*;
use ort::environment::Environment;
use ort::session::builder::SessionBuilder;
use ort::session::{RunOptions, Session};
use ort::value::Tensor;

use crate::decode::{decode, DecodeError};
use crate::geometry::{BoundingBox, Detection, Letterbox};
use crate::model::{ColourOrder, ModelSpec, SpecError};
use crate::nms::{merge_tiles, nms};

/// Why a model could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum DetectorError {
    /// `libonnxruntime.so` could not be loaded.
    #[error("cannot load ONNX Runtime from {path}: {reason}")]
    Runtime {
        /// Where it was looked for.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The declaration is invalid.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// ONNX Runtime refused the model or a run.
    #[error("model `{model}`: {source}")]
    Ort {
        /// Model name.
        model: String,
        /// The error.
        #[source]
        source: ort::Error,
    },
    /// The output did not have the declared head's shape.
    #[error("model `{model}`: {source}")]
    Decode {
        /// Model name.
        model: String,
        /// The error.
        #[source]
        source: DecodeError,
    },
    /// OpenCV failed on the frame.
    #[error("image processing: {0}")]
    Image(#[from] opencv::Error),
    /// The frame is not 8-bit BGR.
    #[error("frame must be 8-bit 3-channel BGR, got OpenCV type {0}")]
    FrameType(i32),
}

/// Where ONNX Runtime is looked for when no path is configured: `$ORT_DYLIB_PATH`, else the
/// copy `.ci/setup` unpacks beside the build (`target/onnxruntime/`), found relative to the
/// running executable, else the system library name.
pub fn default_onnxruntime_path() -> PathBuf {
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH") {
        return PathBuf::from(path);
    }
    let beside_build = std::env::current_exe().ok().and_then(|exe| {
        exe.ancestors()
            .map(|dir| dir.join("onnxruntime/libonnxruntime.so"))
            .find(|candidate| candidate.exists())
    });
    beside_build.unwrap_or_else(|| PathBuf::from("libonnxruntime.so"))
}

static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();

/// ONNX Runtime, loaded once per process: a process holds a single ONNX Runtime
/// environment, shared by every model's session.
#[derive(Clone, Copy)]
pub struct OnnxRuntime(&'static Environment);

impl OnnxRuntime {
    /// Loads `libonnxruntime.so` from `path`, or from [`default_onnxruntime_path`]. Later
    /// calls return the first outcome, whatever path they name.
    pub fn load(path: Option<&Path>) -> Result<Self, DetectorError> {
        let path = path.map_or_else(default_onnxruntime_path, Path::to_path_buf);
        let outcome = ENVIRONMENT.get_or_init(|| {
            ort::init_from(&path)
                .map_err(|e| e.to_string())?
                .with_name("sao")
                .build()
                .map_err(|e| e.to_string())
        });
        match outcome {
            Ok(environment) => Ok(Self(environment)),
            Err(reason) => Err(DetectorError::Runtime {
                path,
                reason: reason.clone(),
            }),
        }
    }
}

/// Threads ONNX Runtime may use inside one inference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threads {
    /// Threads inside one operator (the box's cores, usually).
    pub intra: usize,
    /// Threads running independent operators in parallel (1 for these sequential models).
    pub inter: usize,
}

impl Default for Threads {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            intra: cores,
            inter: 1,
        }
    }
}

/// One loaded model: its declaration, class names and ONNX Runtime session.
pub struct Detector {
    spec: ModelSpec,
    classes: Vec<String>,
    session: Mutex<Session>,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field("spec", &self.spec)
            .finish()
    }
}

impl Detector {
    /// Loads the model `spec` declares (its `path` must be absolute or relative to the
    /// working directory) into a session of `runtime`.
    pub fn load(
        runtime: OnnxRuntime,
        spec: ModelSpec,
        threads: Threads,
    ) -> Result<Self, DetectorError> {
        let path = spec.path.clone();
        Self::build(runtime, spec, threads, |builder| {
            builder.commit_from_file(path)
        })
    }

    /// Loads a model from the bytes of its ONNX file (a model shipped in a plugin package;
    /// `spec.path` only names it).
    pub fn load_from_memory(
        runtime: OnnxRuntime,
        spec: ModelSpec,
        bytes: &[u8],
        threads: Threads,
    ) -> Result<Self, DetectorError> {
        Self::build(runtime, spec, threads, |builder| {
            builder.commit_from_memory(bytes)
        })
    }

    fn build(
        runtime: OnnxRuntime,
        spec: ModelSpec,
        threads: Threads,
        commit: impl FnOnce(&mut SessionBuilder) -> ort::Result<Session>,
    ) -> Result<Self, DetectorError> {
        spec.validate()?;
        let classes = spec.class_names()?;
        let ort_err = |source| DetectorError::Ort {
            model: spec.name.clone(),
            source,
        };
        let mut builder = Session::builder(runtime.0)
            .map_err(ort_err)?
            .with_intra_threads(threads.intra)
            .map_err(|e| ort_err(e.into()))?
            .with_inter_threads(threads.inter)
            .map_err(|e| ort_err(e.into()))?;
        let session = commit(&mut builder).map_err(ort_err)?;
        Ok(Self {
            spec,
            classes,
            session: Mutex::new(session),
        })
    }

    /// The declaration.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// The label of a class id (`class-N` for an id past the list).
    pub fn label(&self, class_id: u32) -> String {
        self.classes
            .get(class_id as usize)
            .cloned()
            .unwrap_or_else(|| format!("class-{class_id}"))
    }

    /// The class id of a label, if the model knows it.
    pub fn class_id(&self, label: &str) -> Option<u32> {
        self.classes
            .iter()
            .position(|c| c == label)
            .map(|i| i as u32)
    }

    /// Detects objects in a whole BGR frame (letterboxed into the input).
    pub fn detect(&self, frame: &Mat) -> Result<Vec<Detection>, DetectorError> {
        let size = frame.size()?;
        let whole = BoundingBox::new(0.0, 0.0, size.width as f32, size.height as f32);
        self.detect_regions(
            frame,
            &[whole],
            &RunOptions::new().map_err(|e| self.ort(e))?,
        )
    }

    /// Detects objects in each `region` of a BGR frame (crops around motion, or tiles), and
    /// returns them in frame pixels, merged across regions. `options` lets another thread
    /// cut a run short (the inference timeout).
    pub fn detect_regions(
        &self,
        frame: &Mat,
        regions: &[BoundingBox],
        options: &RunOptions,
    ) -> Result<Vec<Detection>, DetectorError> {
        if frame.typ() != opencv::core::CV_8UC3 {
            return Err(DetectorError::FrameType(frame.typ()));
        }
        let mut found = Vec::new();
        for region in regions {
            let rect = Rect::new(
                region.x1 as i32,
                region.y1 as i32,
                region.width() as i32,
                region.height() as i32,
            );
            let crop = frame.roi(rect)?;
            let (tensor, letterbox) = self.preprocess(&crop)?;
            let detections = self.infer(tensor, options)?;
            found.extend(detections.into_iter().map(|d| Detection {
                bbox: letterbox.to_source(&d.bbox).translate(region.x1, region.y1),
                ..d
            }));
        }
        Ok(if regions.len() > 1 {
            merge_tiles(found, self.spec.nms_iou)
        } else {
            found
        })
    }

    /// Letterboxes a BGR image into the model's input tensor (NCHW, declared colour order
    /// and normalisation).
    pub fn preprocess(
        &self,
        image: &(impl MatTraitConst + ToInputArray),
    ) -> Result<(Tensor<f32>, Letterbox), DetectorError> {
        let size = image.size()?;
        let [w, h] = self.spec.input;
        let letterbox = Letterbox::fit(
            (size.width as u32, size.height as u32),
            (w, h),
            self.spec.letterbox,
        );
        let mut resized = Mat::default();
        opencv::imgproc::resize(
            image,
            &mut resized,
            Size::new(letterbox.resized.0 as i32, letterbox.resized.1 as i32),
            0.0,
            0.0,
            opencv::imgproc::INTER_LINEAR,
        )?;
        let (w, h) = (w as usize, h as usize);
        let plane = w * h;
        let spec = &self.spec;
        // Channel c of the tensor takes BGR channel `source[c]`.
        let source = match spec.colour {
            ColourOrder::Bgr => [0, 1, 2],
            ColourOrder::Rgb => [2, 1, 0],
        };
        let normalise = |c: usize, v: u8| (v as f32 * spec.scale - spec.mean[c]) / spec.std[c];
        let mut data = Vec::with_capacity(3 * plane);
        for c in 0..3 {
            data.extend(std::iter::repeat_n(normalise(c, spec.pad), plane));
        }
        let (rw, rh) = (letterbox.resized.0 as usize, letterbox.resized.1 as usize);
        let (px, py) = (letterbox.pad_x as usize, letterbox.pad_y as usize);
        let bytes = resized.data_bytes()?;
        for y in 0..rh {
            let row = &bytes[y * rw * 3..(y + 1) * rw * 3];
            let base = (y + py) * w + px;
            for (x, pixel) in row.chunks_exact(3).enumerate() {
                for c in 0..3 {
                    data[c * plane + base + x] = normalise(c, pixel[source[c]]);
                }
            }
        }
        let tensor = Tensor::from_array(([1usize, 3, h, w], data)).map_err(|e| self.ort(e))?;
        Ok((tensor, letterbox))
    }

    /// Runs the session on a prepared input and decodes the output (input pixels, after NMS).
    pub fn infer(
        &self,
        input: Tensor<f32>,
        options: &RunOptions,
    ) -> Result<Vec<Detection>, DetectorError> {
        let mut session = self
            .session
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let outputs = session
            .run_with_options(ort::inputs![input], options)
            .map_err(|e| self.ort(e))?;
        let (shape, data) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(|e| self.ort(e))?;
        let dims: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
        let [w, h] = self.spec.input;
        let detections = decode(
            self.spec.head,
            data,
            &dims,
            (w, h),
            self.spec.score_threshold,
        )
        .map_err(|source| DetectorError::Decode {
            model: self.spec.name.clone(),
            source,
        })?;
        Ok(nms(detections, self.spec.nms_iou, false))
    }

    fn ort(&self, source: ort::Error) -> DetectorError {
        DetectorError::Ort {
            model: self.spec.name.clone(),
            source,
        }
    }
}
