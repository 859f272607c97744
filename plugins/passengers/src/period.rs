//! [`Period`]: one camera's tallies over a report period, published on stream
//! [`STREAM`] (`…/tele/passengers/waiting`) when it ends.
//!
//! Periods start on multiples of `period-s` (UTC). A period is reported by the first
//! tick or frame at or after its end (ticks come every 10 s, so a report is at most a
//! tick late), after letting go of the people who were lost by its end; a change is
//! tallied in the period in which the plugin sees it. A period the plugin slept through
//! entirely (no tick, no frame) is not reported; `observed-from-ts` in a report says
//! when the plugin began watching a period it joined late.
//!
//! Metrics: `waiting` (people waiting at the end), `peak` (the most waiting at once,
//! counting those already waiting when it began), `arrived` (people who began waiting
//! in it), `left` (people who stopped waiting in it), all unit `1`; and `mean-wait-s`
//! (the mean wait of those who left, unit `s`), which is omitted when nobody left: an
//! absent mean is not a zero wait. `left` weighs the mean when periods are combined.

use serde_json::json;

use crate::waiting::Change;

/// Telemetry stream of the period reports.
pub const STREAM: &str = "waiting";

/// One camera's tallies for one report period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// Start of the period, Unix ms.
    pub start_ms: u64,
    /// End of the period, Unix ms (kept even if `period-s` changes meanwhile).
    pub end_ms: u64,
    /// The first frame or tick seen in the period, Unix ms.
    pub observed_ms: u64,
    /// The most people waiting at once.
    pub peak: usize,
    /// People who began waiting.
    pub arrived: u32,
    /// People who stopped waiting.
    pub left: u32,
    /// Sum of the waits of those who left, ms.
    pub waited_ms: u64,
}

impl Period {
    /// The period of `period_ms` that `now_ms` lies in, with `waiting` people already
    /// waiting.
    pub fn starting(now_ms: u64, period_ms: u64, waiting: usize) -> Period {
        let start_ms = now_ms - now_ms % period_ms;
        Period {
            start_ms,
            end_ms: start_ms + period_ms,
            observed_ms: now_ms,
            peak: waiting,
            arrived: 0,
            left: 0,
            waited_ms: 0,
        }
    }

    /// Whether the period is over at `now_ms`.
    pub fn is_over(&self, now_ms: u64) -> bool {
        now_ms >= self.end_ms
    }

    /// Tallies `changes`, after which `waiting` people are waiting.
    pub fn tally(&mut self, changes: &[Change], waiting: usize) {
        for change in changes {
            match *change {
                Change::Arrived { .. } => self.arrived += 1,
                Change::Left { wait_ms, .. } => {
                    self.left += 1;
                    self.waited_ms += wait_ms;
                }
            }
        }
        self.peak = self.peak.max(waiting);
    }

    /// The mean wait of those who left, seconds (to 0.1 s), if anybody left.
    pub fn mean_wait_s(&self) -> Option<f64> {
        (self.left > 0)
            .then(|| (self.waited_ms as f64 / f64::from(self.left) / 100.0).round() / 10.0)
    }

    /// The report's metrics, `waiting` people waiting at its end.
    pub fn metrics(&self, waiting: usize) -> Vec<(&'static str, f64, &'static str)> {
        let mut metrics = vec![
            ("waiting", waiting as f64, "1"),
            ("peak", self.peak.max(waiting) as f64, "1"),
            ("arrived", f64::from(self.arrived), "1"),
            ("left", f64::from(self.left), "1"),
        ];
        if let Some(mean) = self.mean_wait_s() {
            metrics.push(("mean-wait-s", mean, "s"));
        }
        metrics
    }

    /// The report's details (a JSON object): the camera and the period's bounds.
    pub fn details(&self, camera: &str) -> String {
        json!({
            "camera": camera,
            "period-start-ts": self.start_ms,
            "period-end-ts": self.end_ms,
            "observed-from-ts": self.observed_ms,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::waiting::Leave;

    #[test]
    fn periods_are_aligned_and_tally_changes() {
        let mut p = Period::starting(125_000, 60_000, 2);
        assert_eq!(
            (p.start_ms, p.end_ms, p.observed_ms),
            (120_000, 180_000, 125_000)
        );
        assert!(!p.is_over(179_999) && p.is_over(180_000));
        assert_eq!(p.metrics(2)[1], ("peak", 2.0, "1"));
        assert_eq!(p.mean_wait_s(), None);
        let left = |wait_ms| Change::Left {
            track: 1,
            wait_ms,
            why: Leave::Zone,
        };
        p.tally(&[Change::Arrived { track: 3 }], 3);
        p.tally(&[left(10_000), left(20_050)], 1);
        assert_eq!((p.peak, p.arrived, p.left), (3, 1, 2));
        assert_eq!(p.mean_wait_s(), Some(15.0));
        assert_eq!(
            p.metrics(1),
            vec![
                ("waiting", 1.0, "1"),
                ("peak", 3.0, "1"),
                ("arrived", 1.0, "1"),
                ("left", 2.0, "1"),
                ("mean-wait-s", 15.0, "s"),
            ]
        );
    }
}
