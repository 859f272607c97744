//! [`LiveCount`]: the number waiting as it changes, on stream [`STREAM`]
//! (`…/tele/passengers/waiting-now`, metric `waiting`, details the camera), so a
//! dashboard sees the crowd grow before the period ends.
//!
//! A camera's count goes out when it differs from the last one sent, at most once every
//! [`MIN_INTERVAL_MS`]: a change within that time waits for the first frame or tick
//! after it, and goes out then only if the count still differs (a person who stepped out
//! and back is no news). The first frame of a camera sends its count (0), so the
//! dashboard starts from a known value after the plugin (re)starts.

/// Telemetry stream of the live count.
pub const STREAM: &str = "waiting-now";

/// Shortest time between two live counts of a camera, ms.
pub const MIN_INTERVAL_MS: u64 = 5_000;

/// The live count of one camera: what was last sent, and when.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveCount {
    /// The count last sent, if any.
    sent: Option<usize>,
    /// When a count was last sent (or tried), Unix ms.
    at_ms: Option<u64>,
}

impl LiveCount {
    /// Whether `count` should go out at `now_ms`.
    pub fn due(&self, count: usize, now_ms: u64) -> bool {
        self.sent != Some(count)
            && self
                .at_ms
                .is_none_or(|at| now_ms >= at.saturating_add(MIN_INTERVAL_MS))
    }

    /// Records that `count` went out at `now_ms`.
    pub fn sent(&mut self, count: usize, now_ms: u64) {
        self.sent = Some(count);
        self.at_ms = Some(now_ms);
    }

    /// Records that sending failed at `now_ms`: the count is tried again after the
    /// interval, not on every frame.
    pub fn failed(&mut self, now_ms: u64) {
        self.at_ms = Some(now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_go_out_at_most_every_interval() {
        let mut live = LiveCount::default();
        assert!(live.due(0, 1_000));
        live.sent(0, 1_000);
        assert!(!live.due(0, 60_000), "no change, no news");
        assert!(!live.due(1, 5_999), "too soon");
        assert!(live.due(1, 6_000));
        live.sent(1, 6_000);
        assert!(!live.due(0, 7_000));
        assert!(!live.due(1, 11_000), "back to what was sent");
        assert!(live.due(2, 11_000));
        live.failed(11_000);
        assert!(!live.due(2, 12_000), "a failure waits out the interval");
        assert!(live.due(2, 16_000));
        assert!(!live.due(2, 500), "a clock that went back waits");
    }
}
