//! Time sources: wall-clock time for real poles, a settable clock for the simulator.
//!
//! Every time-dependent device (fades, energy integration, the simulated sun) reads time
//! through [`TimeSource`], so tests can drive a whole pole deterministically.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of "now" as Unix time in milliseconds.
pub trait TimeSource: Send + Sync {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    fn now_ms(&self) -> u64;
}

/// The operating system's real-time clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl TimeSource for SystemClock {
    fn now_ms(&self) -> u64 {
        // A clock set before 1970 reads as 0; one beyond u64 milliseconds saturates.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// A virtual clock that only moves when told to; shareable across threads.
#[derive(Debug, Default)]
pub struct SimClock {
    now_ms: AtomicU64,
}

impl SimClock {
    /// A clock reading `start_ms` (Unix milliseconds).
    pub fn new(start_ms: u64) -> Self {
        Self {
            now_ms: AtomicU64::new(start_ms),
        }
    }

    /// Jump to `ms`. Jumping backwards is allowed; devices then integrate no energy until
    /// the clock passes the last time they accounted for.
    pub fn set(&self, ms: u64) {
        self.now_ms.store(ms, Ordering::SeqCst);
    }

    /// Moves to `ms` unless the clock is already past it: for threads that each keep a
    /// clock in step with real time, so it never runs backwards between them.
    pub fn catch_up(&self, ms: u64) {
        self.now_ms.fetch_max(ms, Ordering::SeqCst);
    }

    /// Move forward by `ms` (saturating at `u64::MAX`).
    pub fn advance(&self, ms: u64) {
        // fetch_update with a closure that always returns Some cannot fail.
        let _ = self
            .now_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| {
                Some(t.saturating_add(ms))
            });
    }
}

impl TimeSource for SimClock {
    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_clock_set_and_advance() {
        let c = SimClock::new(1_000);
        c.advance(500);
        assert_eq!(c.now_ms(), 1_500);
        c.set(10);
        assert_eq!(c.now_ms(), 10);
        c.catch_up(5);
        assert_eq!(c.now_ms(), 10, "never backwards");
        c.catch_up(20);
        assert_eq!(c.now_ms(), 20);
        c.advance(u64::MAX);
        assert_eq!(c.now_ms(), u64::MAX);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now_ms() > 1_577_836_800_000);
    }
}
