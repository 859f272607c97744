//! The CPU budget of one handler call.
//!
//! Time is charged per execution slice: from the start of the call, or from the moment
//! the plugin was resumed after yielding at an epoch tick, until the next epoch tick.
//! Time the plugin spends yielded (while other plugins run) and time the host spends in
//! blocking I/O on its behalf (a disk flush) are not charged, so a healthy plugin is not
//! cut off because a neighbour loops or the disk is slow.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::DeadlineExceeded;

/// A future that yields once to the executor, then records when the plugin resumed.
pub type YieldPoint = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Wall-clock time a call has consumed, slice by slice.
pub struct CpuBudget {
    limit: Duration,
    used: Duration,
    slice_start: Instant,
    uncharged: Duration,
    resumed: Arc<Mutex<Instant>>,
}

impl CpuBudget {
    /// A budget of `limit` per call.
    pub fn new(limit: Duration) -> Self {
        let now = Instant::now();
        Self {
            limit,
            used: Duration::ZERO,
            slice_start: now,
            uncharged: Duration::ZERO,
            resumed: Arc::new(Mutex::new(now)),
        }
    }

    /// Starts a new call with the full budget.
    pub fn start_call(&mut self) {
        self.used = Duration::ZERO;
        self.uncharged = Duration::ZERO;
        self.slice_start = Instant::now();
    }

    /// Excludes `spent` (host I/O during the current slice) from the charge.
    pub fn exclude(&mut self, spent: Duration) {
        self.uncharged += spent;
    }

    /// At an epoch tick: charges the slice that just ran, and either fails (budget spent)
    /// or returns the yield point after which the next slice starts.
    pub fn on_epoch(&mut self) -> Result<YieldPoint, DeadlineExceeded> {
        let now = Instant::now();
        let resumed = *self.resumed.lock().expect("resume marker lock");
        let start = self.slice_start.max(resumed);
        self.used += now
            .saturating_duration_since(start)
            .saturating_sub(std::mem::take(&mut self.uncharged));
        self.slice_start = now;
        if self.used > self.limit {
            return Err(DeadlineExceeded(self.limit));
        }
        let marker = self.resumed.clone();
        Ok(Box::pin(async move {
            tokio::task::yield_now().await;
            *marker.lock().expect("resume marker lock") = Instant::now();
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_running_time_but_not_excluded_io() {
        // Sleeps stand in for work; the margins are wide so scheduling noise cannot flip them.
        let mut budget = CpuBudget::new(Duration::from_millis(200));
        budget.start_call();
        std::thread::sleep(Duration::from_millis(300));
        budget.exclude(Duration::from_millis(300));
        assert!(budget.on_epoch().is_ok(), "I/O time is not charged");
        std::thread::sleep(Duration::from_millis(250));
        assert!(
            budget.on_epoch().is_err(),
            "250 ms of running exceeds 200 ms"
        );
    }

    #[test]
    fn time_spent_yielded_is_not_charged() {
        let mut budget = CpuBudget::new(Duration::from_millis(200));
        budget.start_call();
        let resume = budget.on_epoch().unwrap();
        // Other plugins run for a while before this one is resumed.
        std::thread::sleep(Duration::from_millis(300));
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(resume);
        assert!(budget.on_epoch().is_ok());
    }
}
