//! Replay of recorded sensor series, from configuration or a CSV file.

use std::path::Path;

use chrono::{DateTime, NaiveDateTime};
use serde::Deserialize;

use crate::HwError;

/// A recorded series replayed as a sensor with step-hold semantics: a read returns the
/// value of the latest point at or before the clock's now, and `None` before the first.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SeriesSpec {
    /// Sensor name on the pole (e.g. `"pm25"`).
    pub sensor: String,
    /// UCUM unit (e.g. `"ug/m3"`).
    pub unit: String,
    /// `(unix_ms, value)` points; any order (they are sorted when the pole is built).
    pub points: Vec<(u64, f64)>,
}

/// Sorted `(unix_ms, value)` points read with step-hold semantics.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct StepSeries(Vec<(u64, f64)>);

impl StepSeries {
    /// The series of `points`, in any order.
    pub(crate) fn new(points: &[(u64, f64)]) -> Self {
        let mut points = points.to_vec();
        points.sort_by_key(|&(t, _)| t);
        Self(points)
    }

    /// Whether the series has no points.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value of the latest point at or before `unix_ms`; `None` before the first.
    pub(crate) fn at(&self, unix_ms: u64) -> Option<f64> {
        let n = self.0.partition_point(|&(t, _)| t <= unix_ms);
        n.checked_sub(1).map(|i| self.0[i].1)
    }
}

/// A series loaded by [`SeriesSpec::from_csv`].
#[derive(Debug, Clone, PartialEq)]
pub struct CsvSeries {
    /// The series, sorted by time.
    pub series: SeriesSpec,
    /// Data rows skipped because the time or value was empty or unparseable.
    pub skipped_rows: usize,
}

impl SeriesSpec {
    /// Load a series from a delimited text file with a header row.
    ///
    /// `time_column` and `value_column` name header fields. Times are RFC 3339
    /// (`2017-10-20T00:00:26Z`, `...+07:00`), naive ISO 8601 (`2017-10-20T00:00:26` or
    /// `2017-10-20 00:00:26`, optional fraction; taken as UTC) or integer Unix milliseconds.
    /// Values must be finite numbers. Rows with an empty or unparseable time or value are
    /// skipped and counted; blank lines are ignored. `shift_to_ms` moves the first point to
    /// that time, keeping the spacing (handy to replay an old recording "now").
    ///
    /// Errors: [`HwError::Io`] if the file cannot be read, [`HwError::Config`] if a column
    /// is missing or no row is usable.
    pub fn from_csv(
        path: impl AsRef<Path>,
        sensor: &str,
        unit: &str,
        time_column: &str,
        value_column: &str,
        delimiter: char,
        shift_to_ms: Option<u64>,
    ) -> Result<CsvSeries, HwError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| HwError::Io(format!("{}: {e}", path.display())))?;
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<&str> = lines
            .next()
            .ok_or_else(|| HwError::Config(format!("{}: empty file", path.display())))?
            .split(delimiter)
            .map(clean)
            .collect();
        let column = |name: &str| {
            header
                .iter()
                .position(|h| *h == name)
                .ok_or_else(|| HwError::Config(format!("{}: no column `{name}`", path.display())))
        };
        let (time_idx, value_idx) = (column(time_column)?, column(value_column)?);

        let mut points = Vec::new();
        let mut skipped_rows = 0;
        for line in lines {
            let fields: Vec<&str> = line.split(delimiter).map(clean).collect();
            let time = fields.get(time_idx).and_then(|s| parse_time_ms(s));
            let value = fields
                .get(value_idx)
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|v| v.is_finite());
            match (time, value) {
                (Some(t), Some(v)) => points.push((t, v)),
                _ => skipped_rows += 1,
            }
        }
        points.sort_by_key(|&(t, _)| t);
        let first = points.first().map(|&(t, _)| t).ok_or_else(|| {
            HwError::Config(format!(
                "{}: no usable rows for `{time_column}`/`{value_column}`",
                path.display()
            ))
        })?;
        if let Some(start) = shift_to_ms {
            for (t, _) in &mut points {
                *t = start.saturating_add(*t - first);
            }
        }
        Ok(CsvSeries {
            series: SeriesSpec {
                sensor: sensor.to_owned(),
                unit: unit.to_owned(),
                points,
            },
            skipped_rows,
        })
    }
}

/// Trim whitespace and one pair of surrounding double quotes.
fn clean(field: &str) -> &str {
    let field = field.trim();
    field
        .strip_prefix('"')
        .and_then(|f| f.strip_suffix('"'))
        .unwrap_or(field)
}

fn parse_time_ms(s: &str) -> Option<u64> {
    if let Ok(ms) = s.parse::<u64>() {
        return Some(ms);
    }
    let ms = match DateTime::parse_from_rfc3339(s) {
        Ok(t) => t.timestamp_millis(),
        Err(_) => NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
            .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
            .ok()?
            .and_utc()
            .timestamp_millis(),
    };
    u64::try_from(ms).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHARED: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/sds011_aberdeen_2017-10-20.csv"
    );

    #[test]
    fn step_series_holds_the_latest_point() {
        let s = StepSeries::new(&[(20, 2.0), (10, 1.0)]);
        assert!(!s.is_empty() && StepSeries::default().is_empty());
        assert_eq!(s.at(9), None);
        assert_eq!(s.at(10), Some(1.0));
        assert_eq!(s.at(19), Some(1.0));
        assert_eq!(s.at(u64::MAX), Some(2.0));
    }

    #[test]
    fn loads_shared_sds011_file() {
        let csv =
            SeriesSpec::from_csv(SHARED, "pm25", "ug/m3", "timestamp", "P2", ';', None).unwrap();
        assert_eq!(csv.skipped_rows, 0);
        let p = &csv.series.points;
        assert_eq!(p.len(), 579);
        assert_eq!(p[0], (1_508_457_626_000, 45.37)); // 2017-10-20T00:00:26Z
        assert_eq!(p[1].0 - p[0].0, 148_000);
        assert_eq!(p.last().unwrap().1, 12.40);

        let shifted =
            SeriesSpec::from_csv(SHARED, "pm10", "ug/m3", "timestamp", "P1", ';', Some(5_000))
                .unwrap();
        assert_eq!(shifted.series.points[0], (5_000, 147.10));
        assert_eq!(shifted.series.points[1].0, 153_000);
    }

    #[test]
    fn skips_and_counts_bad_rows() {
        let path = std::env::temp_dir().join(format!("sao-hw-series-{}.csv", std::process::id()));
        let body = "time,value\n\
                    2026-01-01T00:00:10Z,1.5\n\
                    \n\
                    2026-01-01T00:00:00,\n\
                    garbage,2\n\
                    1767225600000,\"3\"\n\
                    2026-01-01 00:00:05.5,NaN\n";
        std::fs::write(&path, body).unwrap();
        let csv = SeriesSpec::from_csv(&path, "x", "1", "time", "value", ',', None).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(csv.skipped_rows, 3);
        assert_eq!(
            csv.series.points,
            vec![(1_767_225_600_000, 3.0), (1_767_225_610_000, 1.5)]
        );
    }

    #[test]
    fn reports_missing_file_and_column() {
        let missing = SeriesSpec::from_csv("/nonexistent.csv", "x", "1", "t", "v", ',', None);
        assert!(matches!(missing, Err(HwError::Io(_))));
        let no_col = SeriesSpec::from_csv(SHARED, "x", "1", "timestamp", "P9", ';', None);
        assert!(matches!(no_col, Err(HwError::Config(m)) if m.contains("P9")));
    }
}
