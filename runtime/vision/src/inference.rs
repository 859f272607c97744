//! Where inference runs: off the async workers (`spawn_blocking`), at most `concurrency`
//! at a time (a semaphore: the box has few cores and every camera wants them), each with
//! its own timeout. A run that overstays is told to terminate through ONNX Runtime's
//! run options, and its slot stays taken until it has really stopped.
//!
//! Thermal derating: [`InferenceSlots::set_duty`] limits the share of time the box spends
//! inferring. After a run of `d` the slots cool down for `d × (1 / duty − 1)`; frames that
//! arrive meanwhile are not inferred ([`InferenceSlots::cooling`]), so latency stays one
//! frame while the SoC sheds heat before the kernel throttles it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// The lowest duty [`InferenceSlots::set_duty`] accepts: detection never stops entirely.
pub const MIN_DUTY: f64 = 0.05;

/// The box's inference slots (cheap to clone; clones share the slots and the derating).
#[derive(Clone)]
pub struct InferenceSlots {
    semaphore: Arc<Semaphore>,
    timeout: Duration,
    derating: Arc<Derating>,
}

/// The share of time inference may run, and when the present cool-down ends.
#[derive(Default)]
struct Derating {
    /// Duty in thousandths; 0 stands for 1000 (no derating).
    duty_permille: AtomicU32,
    cool_until: Mutex<Option<Instant>>,
}

impl InferenceSlots {
    /// Slots as `config` sets them.
    pub fn new(config: &InferenceConfig) -> Self {
        Self {
            semaphore: Arc::new(Semaphore::new(config.concurrency.max(1))),
            timeout: Duration::from_millis(config.timeout_ms.max(1)),
            derating: Arc::default(),
        }
    }

    /// Limits inference to `duty` of the time (1.0: no limit), clamped to
    /// [`MIN_DUTY`]..=1.
    pub fn set_duty(&self, duty: f64) {
        let duty = if duty.is_finite() { duty } else { 1.0 };
        let permille = (duty.clamp(MIN_DUTY, 1.0) * 1000.0).round() as u32;
        self.derating
            .duty_permille
            .store(permille, Ordering::Relaxed);
        if permille >= 1000 {
            *self.cool_until() = None;
        }
    }

    /// The share of time inference may run.
    pub fn duty(&self) -> f64 {
        match self.derating.duty_permille.load(Ordering::Relaxed) {
            0 => 1.0,
            permille => f64::from(permille) / 1000.0,
        }
    }

    /// Whether the slots are cooling down after a run: a frame now is not inferred.
    pub fn cooling(&self) -> bool {
        self.cool_until()
            .is_some_and(|until| Instant::now() < until)
    }

    fn cool_until(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.derating
            .cool_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts the cool-down a run of `ran` earns at the present duty.
    fn cool_down(&self, ran: Duration) {
        let duty = self.duty();
        if duty < 1.0 {
            let until = Instant::now() + ran.mul_f64(1.0 / duty - 1.0);
            let mut cool_until = self.cool_until();
            *cool_until = Some(cool_until.map_or(until, |t| t.max(until)));
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
        let started = Instant::now();
        let task = tokio::task::spawn_blocking(move || {
            // The slot is released when the run returns, not when the caller stops waiting.
            let _permit = permit;
            job(&task_options)
        });
        let outcome = tokio::time::timeout(self.timeout, task).await;
        self.cool_down(started.elapsed());
        match outcome {
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
    async fn a_derated_box_cools_down_after_each_run() {
        load_onnxruntime();
        let slots = InferenceSlots::new(&InferenceConfig::default());
        assert_eq!(slots.duty(), 1.0);
        slots
            .run(|_| std::thread::sleep(Duration::from_millis(20)))
            .await
            .unwrap();
        assert!(!slots.cooling(), "no derating, no cool-down");

        slots.set_duty(0.01);
        assert_eq!(slots.duty(), MIN_DUTY, "clamped: detection never stops");
        // A 200 ms run at 5 % earns a 3.8 s cool-down.
        slots
            .run(|_| std::thread::sleep(Duration::from_millis(200)))
            .await
            .unwrap();
        assert!(slots.cooling());
        let clone = slots.clone();
        assert!(clone.cooling(), "every camera shares the box's cool-down");
        slots.set_duty(1.0);
        assert!(!slots.cooling(), "lifting the derating ends the cool-down");
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
