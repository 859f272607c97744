//! Where inference runs: off the async workers (`spawn_blocking`), at most `concurrency`
//! at a time (a semaphore: the box has few cores and every camera wants them), each with
//! its own timeout. A run that overstays is told to terminate through ONNX Runtime's
//! run options, and its slot stays taken until it has really stopped.

use std::sync::Arc;
use std::time::Duration;

use ort::session::RunOptions;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

/// Inference limits for the box.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct InferenceConfig {
    /// Inferences running at once, across all cameras.
    pub concurrency: usize,
    /// Longest one inference (all regions of a frame) may take, in milliseconds.
    pub timeout_ms: u64,
    /// ONNX Runtime threads inside one inference (0: one per core).
    pub intra_threads: usize,
    /// ONNX Runtime threads across independent operators.
    pub inter_threads: usize,
}

impl Default for InferenceConfig {
    fn default() -> Self {
        Self {
            concurrency: 1,
            timeout_ms: 5_000,
            intra_threads: 0,
            inter_threads: 1,
        }
    }
}

/// Why an inference produced nothing.
#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    /// The run exceeded its timeout and was terminated.
    #[error("inference exceeded its timeout of {0:?}")]
    Timeout(Duration),
    /// ONNX Runtime run options could not be created.
    #[error("inference set-up: {0}")]
    Setup(String),
    /// The blocking task panicked or was cancelled.
    #[error("inference task failed: {0}")]
    Task(String),
}

/// The box's inference slots (cheap to clone; clones share the slots).
#[derive(Clone)]
pub struct InferenceSlots {
    semaphore: Arc<Semaphore>,
    timeout: Duration,
}

impl InferenceSlots {
    /// Slots as `config` sets them.
    pub fn new(config: &InferenceConfig) -> Self {
        Self {
            semaphore: Arc::new(Semaphore::new(config.concurrency.max(1))),
            timeout: Duration::from_millis(config.timeout_ms.max(1)),
        }
    }

    /// Runs `job` on a blocking thread once a slot is free. `job` gets the run options to
    /// pass to ONNX Runtime, so a timeout can stop the session mid-run.
    pub async fn run<T, F>(&self, job: F) -> Result<T, InferenceError>
    where
        T: Send + 'static,
        F: FnOnce(&RunOptions) -> T + Send + 'static,
    {
        let permit = self
            .semaphore
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| InferenceError::Task(e.to_string()))?;
        let options =
            Arc::new(RunOptions::new().map_err(|e| InferenceError::Setup(e.to_string()))?);
        let task_options = options.clone();
        let task = tokio::task::spawn_blocking(move || {
            // The slot is released when the run returns, not when the caller stops waiting.
            let _permit = permit;
            job(&task_options)
        });
        match tokio::time::timeout(self.timeout, task).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(InferenceError::Task(e.to_string())),
            Err(_) => {
                let _ = options.terminate();
                Err(InferenceError::Timeout(self.timeout))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn load_onnxruntime() {
        // Run options belong to ONNX Runtime, which must be loaded first.
        crate::detector::OnnxRuntime::load(None).expect("ONNX Runtime (run .ci/setup)");
    }

    #[tokio::test]
    async fn a_run_past_its_timeout_is_cut_and_keeps_its_slot_until_it_stops() {
        load_onnxruntime();
        let slots = InferenceSlots::new(&InferenceConfig {
            concurrency: 1,
            timeout_ms: 50,
            ..InferenceConfig::default()
        });
        let finished = Arc::new(AtomicBool::new(false));
        let flag = finished.clone();
        let slow = slots
            .run(move |_| {
                std::thread::sleep(Duration::from_millis(300));
                flag.store(true, Ordering::SeqCst);
            })
            .await;
        assert!(matches!(slow, Err(InferenceError::Timeout(_))), "{slow:?}");
        // The next run waits for the slot the overrunning one still holds.
        let saw_finished = slots
            .run(move |_| finished.load(Ordering::SeqCst))
            .await
            .unwrap();
        assert!(saw_finished);
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_not_a_crash() {
        load_onnxruntime();
        let slots = InferenceSlots::new(&InferenceConfig::default());
        let result: Result<(), _> = slots.run(|_| panic!("model bug")).await;
        assert!(matches!(result, Err(InferenceError::Task(_))));
        assert_eq!(slots.run(|_| 7).await.unwrap(), 7);
    }
}
