//! Clock-hour averages of irregular samples and moving means over whole hours.
//!
//! Both standards average a pollutant over whole clock hours first and then take the mean
//! of the last N hourly averages (N = [`Pollutant::averaging_hours`]); air4thai, for
//! example, updates every hour a PM2.5 value that is the mean of the last 24 hours.
//! [`HourlyAverager`] keeps one bucket per clock hour for one pollutant and answers those
//! means, demanding completeness at two levels:
//!
//! * an hour counts only if its samples cover enough of it: the hour is cut into twelve
//!   5-minute slots and at least `min_hour_coverage` of them must hold a sample (75 %,
//!   the usual completeness share, is a sensible setting);
//! * a window counts only if at least `min_fraction` of its hours count.
//!
//! Memory is bounded: only the `retain_hours` most recent clock hours are kept.
//!
//! [`Pollutant::averaging_hours`]: crate::aqi::Pollutant::averaging_hours

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Milliseconds in an hour.
pub const HOUR_MS: i64 = 3_600_000;

/// Slots an hour is cut into for its coverage.
const SLOTS_PER_HOUR: u32 = 12;

/// Milliseconds in one coverage slot.
const SLOT_MS: i64 = HOUR_MS / SLOTS_PER_HOUR as i64;

/// What [`HourlyAverager::add`] did with a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Added {
    /// The sample is counted.
    Accepted,
    /// The value is negative, NaN or infinite; dropped.
    Invalid,
    /// Not newer than the newest sample already counted in its hour (a duplicate or a
    /// sample overtaken within the hour); dropped so that nothing is counted twice.
    Stale,
    /// Its hour is older than the hours kept; dropped.
    Expired,
}

/// One clock hour's average.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HourAverage {
    /// Start of the hour, Unix ms.
    pub start_ms: i64,
    /// Mean of the hour's samples.
    pub mean: f64,
    /// Number of samples.
    pub samples: u32,
    /// Share of the hour's 5-minute slots that hold a sample, 0..=1.
    pub coverage: f64,
}

/// Running sums of one clock hour.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Bucket {
    sum: f64,
    samples: u32,
    /// Bit `i` set when slot `i` (minutes `5i..5i+5`) holds a sample.
    slots: u16,
    /// Time of the newest sample counted, Unix ms.
    newest_ms: i64,
}

/// Hourly averages of one pollutant's samples, for the last `retain_hours` clock hours.
///
/// Samples may come at any rate and somewhat out of order: within one clock hour only
/// samples newer than the newest one counted are taken (so redelivered duplicates never
/// count twice), while earlier hours still inside the kept span accept late samples, as
/// when a sensor flushes a buffer after a gap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HourlyAverager {
    retain_hours: u32,
    min_hour_coverage: f64,
    /// Buckets by hour number (Unix ms / [`HOUR_MS`], floored).
    hours: BTreeMap<i64, Bucket>,
}

impl HourlyAverager {
    /// An averager keeping `retain_hours` clock hours (at least 1; give the longest
    /// window asked for later) whose hours count when at least `min_hour_coverage`
    /// (clamped to 0..=1) of their 5-minute slots hold a sample.
    pub fn new(retain_hours: u32, min_hour_coverage: f64) -> Self {
        HourlyAverager {
            retain_hours: retain_hours.max(1),
            min_hour_coverage: clamp_fraction(min_hour_coverage),
            hours: BTreeMap::new(),
        }
    }

    /// Changes how much of an hour must be covered for it to count (clamped to 0..=1);
    /// applies to the hours already kept too.
    pub fn set_min_hour_coverage(&mut self, min_hour_coverage: f64) {
        self.min_hour_coverage = clamp_fraction(min_hour_coverage);
    }

    /// Counts a sample taken at `ts_ms`.
    pub fn add(&mut self, ts_ms: i64, value: f64) -> Added {
        if !value.is_finite() || value < 0.0 {
            return Added::Invalid;
        }
        let hour = ts_ms.div_euclid(HOUR_MS);
        let newest = self
            .hours
            .last_key_value()
            .map_or(hour, |(&h, _)| h.max(hour));
        let oldest_kept = newest - i64::from(self.retain_hours) + 1;
        if hour < oldest_kept {
            return Added::Expired;
        }
        let slot = ts_ms.rem_euclid(HOUR_MS) / SLOT_MS;
        match self.hours.get_mut(&hour) {
            Some(bucket) if ts_ms <= bucket.newest_ms => return Added::Stale,
            Some(bucket) => {
                bucket.sum += value;
                bucket.samples += 1;
                bucket.slots |= 1 << slot;
                bucket.newest_ms = ts_ms;
            }
            None => {
                self.hours.insert(
                    hour,
                    Bucket {
                        sum: value,
                        samples: 1,
                        slots: 1 << slot,
                        newest_ms: ts_ms,
                    },
                );
            }
        }
        self.hours.retain(|&h, _| h >= oldest_kept);
        Added::Accepted
    }

    /// The average of the clock hour containing `ts_ms`, complete or not; `None` without
    /// samples in that hour.
    pub fn hour(&self, ts_ms: i64) -> Option<HourAverage> {
        let hour = ts_ms.div_euclid(HOUR_MS);
        self.hours.get(&hour).map(|bucket| bucket.average(hour))
    }

    /// Whether the clock hour containing `ts_ms` has enough coverage to count.
    pub fn hour_complete(&self, ts_ms: i64) -> bool {
        self.hour(ts_ms).is_some_and(|h| self.counts(&h))
    }

    /// The mean of the hourly averages of the `hours` whole clock hours before the hour
    /// containing `now_ms` (at 09:30 and at 09:00 alike, a 24-hour window is 09:00 of the
    /// day before to 08:59), counting complete hours only; `None` when fewer than
    /// `min_fraction` (clamped to 0..=1, and at least one hour) of them are complete.
    pub fn mean(&self, now_ms: i64, hours: u32, min_fraction: f64) -> Option<f64> {
        let end = now_ms.div_euclid(HOUR_MS);
        let start = end - i64::from(hours);
        let means: Vec<f64> = self
            .hours
            .range(start..end)
            .map(|(&hour, bucket)| bucket.average(hour))
            .filter(|h| self.counts(h))
            .map(|h| h.mean)
            .collect();
        let needed = (clamp_fraction(min_fraction) * f64::from(hours))
            .ceil()
            .max(1.0);
        if (means.len() as f64) < needed {
            return None;
        }
        Some(means.iter().sum::<f64>() / means.len() as f64)
    }

    /// Number of clock hours currently kept (at most `retain_hours`).
    pub fn kept_hours(&self) -> usize {
        self.hours.len()
    }

    /// Whether an hour has enough coverage to count.
    fn counts(&self, hour: &HourAverage) -> bool {
        hour.coverage >= self.min_hour_coverage
    }
}

impl Bucket {
    /// The average of this bucket, which holds hour number `hour`.
    fn average(&self, hour: i64) -> HourAverage {
        HourAverage {
            start_ms: hour * HOUR_MS,
            mean: self.sum / f64::from(self.samples),
            samples: self.samples,
            coverage: f64::from(self.slots.count_ones()) / f64::from(SLOTS_PER_HOUR),
        }
    }
}

/// `fraction` clamped to 0..=1, NaN as 1 (demand everything rather than nothing).
fn clamp_fraction(fraction: f64) -> f64 {
    if fraction.is_nan() {
        1.0
    } else {
        fraction.clamp(0.0, 1.0)
    }
}
