//! Time-in-band statistics per local day: the city's good-air KPI.
//!
//! Each recorded AQI value holds until the next one, and the time in between is credited
//! to the value's band. A gap longer than `max_gap_ms` between two values is credited to
//! no band: that time is *unknown*, as is time before the first value and after the last.
//! Time is split at local midnight (a fixed UTC offset; Thailand has no daylight saving),
//! and each local day that ends yields a [`DayReport`] whose band hours add up to the hours
//! covered, the rest of the 24 being unknown.

use chrono::DateTime;
use serde::{Deserialize, Serialize};

use crate::aqi::{self, Standard};
use crate::averaging::HOUR_MS;

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// Settings of a [`KpiTracker`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KpiConfig {
    /// The standard whose bands are counted; PCD by default.
    pub standard: Standard,
    /// Offset of local time from UTC, minutes; +420 (Thailand) by default.
    pub utc_offset_minutes: i32,
    /// Longest gap between two values still credited to a band, ms; 2 hours by default,
    /// so one missed hourly value is bridged and more are not.
    pub max_gap_ms: i64,
}

impl Default for KpiConfig {
    fn default() -> Self {
        KpiConfig {
            standard: Standard::ThaiPcd2023,
            utc_offset_minutes: 7 * 60,
            max_gap_ms: 2 * HOUR_MS,
        }
    }
}

/// One local day's time in each band.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayReport {
    /// The local date, `YYYY-MM-DD`.
    pub date: String,
    /// Hours in each band, by band index of the standard.
    pub hours_per_band: Vec<f64>,
    /// Hours covered: the sum of `hours_per_band`.
    pub hours_total: f64,
    /// Hours of the day not covered (gaps, before the first value, after the last).
    pub hours_unknown: f64,
}

impl DayReport {
    /// Share of the covered time spent in bands `0..=band_index` (for the PCD, index 1
    /// is "good or better"); `None` when no time was covered.
    pub fn share_up_to(&self, band_index: usize) -> Option<f64> {
        if self.hours_total <= 0.0 {
            return None;
        }
        let hours: f64 = self.hours_per_band.iter().take(band_index + 1).sum();
        Some(hours / self.hours_total)
    }
}

/// The day being accumulated, once a first value has been seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct OpenDay {
    /// Local day number (days since 1970-01-01 in local time).
    day: i64,
    /// Milliseconds credited to each band so far in `day`.
    band_ms: Vec<i64>,
    /// Time up to which everything has been credited, Unix ms.
    cursor_ms: i64,
    /// Time of the last value, Unix ms.
    last_ms: i64,
    /// Band index of the last value.
    last_band: usize,
}

/// Accumulates time in band and reports each completed local day; serializable so that
/// it survives a plugin restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpiTracker {
    config: KpiConfig,
    open: Option<OpenDay>,
}

impl KpiTracker {
    /// A tracker that has seen nothing yet.
    pub fn new(config: KpiConfig) -> Self {
        KpiTracker { config, open: None }
    }

    /// The settings.
    pub fn config(&self) -> &KpiConfig {
        &self.config
    }

    /// Records the AQI value in force from `ts_ms`, crediting the time since the previous
    /// value, and returns the reports of the local days that ended on the way.
    ///
    /// A value not later than the time already credited (a duplicate, out of order, or
    /// inside a gap already written off by [`advance`](Self::advance)) is ignored.
    pub fn record(&mut self, ts_ms: i64, aqi: u32) -> Vec<DayReport> {
        let band = aqi::band(self.config.standard, aqi).index;
        let mut reports = Vec::new();
        match &mut self.open {
            None => {
                self.open = Some(OpenDay {
                    day: local_day(&self.config, ts_ms),
                    band_ms: vec![0; self.config.standard.bands().len()],
                    cursor_ms: ts_ms,
                    last_ms: ts_ms,
                    last_band: band,
                });
            }
            Some(open) if ts_ms <= open.cursor_ms => {}
            Some(open) => {
                let known = ts_ms - open.last_ms <= self.config.max_gap_ms;
                let credit = known.then_some(open.last_band);
                open.credit_until(&self.config, ts_ms, credit, &mut reports);
                open.last_ms = ts_ms;
                open.last_band = band;
            }
        }
        reports
    }

    /// Lets time pass without a value: once `now_ms` is more than `max_gap_ms` after the
    /// last value, the time since it is unknown whatever comes next, so it is written off
    /// and the local days that ended are reported.
    pub fn advance(&mut self, now_ms: i64) -> Vec<DayReport> {
        let mut reports = Vec::new();
        if let Some(open) = &mut self.open {
            if now_ms - open.last_ms > self.config.max_gap_ms {
                open.credit_until(&self.config, now_ms, None, &mut reports);
            }
        }
        reports
    }

    /// The report of the day in progress, as far as it has been credited.
    pub fn today(&self) -> Option<DayReport> {
        self.open
            .as_ref()
            .map(|open| report(open.day, &open.band_ms))
    }
}

impl OpenDay {
    /// Moves the cursor to `until_ms`, crediting the time to `band` (or to none), and
    /// pushes a report for every local midnight passed.
    fn credit_until(
        &mut self,
        config: &KpiConfig,
        until_ms: i64,
        band: Option<usize>,
        reports: &mut Vec<DayReport>,
    ) {
        while self.cursor_ms < until_ms {
            let day_end = day_start(config, self.day + 1);
            let step_end = until_ms.min(day_end);
            if let Some(band) = band {
                self.band_ms[band] += step_end - self.cursor_ms;
            }
            self.cursor_ms = step_end;
            if step_end == day_end {
                reports.push(report(self.day, &self.band_ms));
                self.day += 1;
                self.band_ms.fill(0);
            }
        }
    }
}

/// Offset of local time from UTC, ms.
fn offset_ms(config: &KpiConfig) -> i64 {
    i64::from(config.utc_offset_minutes) * 60_000
}

/// The local day number of an instant.
fn local_day(config: &KpiConfig, ts_ms: i64) -> i64 {
    (ts_ms + offset_ms(config)).div_euclid(DAY_MS)
}

/// The instant local day `day` begins, Unix ms.
fn day_start(config: &KpiConfig, day: i64) -> i64 {
    day * DAY_MS - offset_ms(config)
}

/// The report of local day `day` from its per-band milliseconds.
fn report(day: i64, band_ms: &[i64]) -> DayReport {
    let hours = |ms: i64| ms as f64 / HOUR_MS as f64;
    let total_ms: i64 = band_ms.iter().sum();
    let date = DateTime::from_timestamp_millis(day * DAY_MS).map_or_else(
        || format!("day {day}"),
        |d| d.format("%Y-%m-%d").to_string(),
    );
    DayReport {
        date,
        hours_per_band: band_ms.iter().map(|&ms| hours(ms)).collect(),
        hours_total: hours(total_ms),
        hours_unknown: hours(DAY_MS - total_ms),
    }
}
