//! The hourly tallies on the pole's disk: `<data-dir>/kpi/{YYYY-MM}.jsonl`, one line per
//! hour (pole-local month), appended and synced as each hour ends. Plain files rather than
//! the pole's sled database, so `sao report` can read them while `sao run` holds the
//! database, and a technician can copy them off the box.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, FixedOffset};

use super::Hour;

/// The hourly ledger of a pole.
pub struct Ledger {
    dir: PathBuf,
    offset: FixedOffset,
}

impl Ledger {
    /// The ledger under `data_dir`, with months in the pole's UTC offset.
    pub fn new(data_dir: &Path, utc_offset_minutes: i32) -> Self {
        Self {
            dir: data_dir.join("kpi"),
            offset: FixedOffset::east_opt(utc_offset_minutes * 60)
                .unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC")),
        }
    }

    /// The pole-local month of `ms`, `YYYY-MM`.
    pub fn month(&self, ms: u64) -> String {
        DateTime::from_timestamp_millis(ms as i64)
            .map(|t| t.with_timezone(&self.offset).format("%Y-%m").to_string())
            .unwrap_or_default()
    }

    /// The start of the pole-local month that `ms` falls in, ms.
    pub fn month_start(&self, ms: u64) -> u64 {
        use chrono::{Datelike as _, NaiveDate, TimeZone as _};
        let local = DateTime::from_timestamp_millis(ms as i64)
            .unwrap_or_default()
            .with_timezone(&self.offset);
        NaiveDate::from_ymd_opt(local.year(), local.month(), 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .and_then(|t| self.offset.from_local_datetime(&t).single())
            .map_or(0, |t| t.timestamp_millis().max(0) as u64)
    }

    /// Appends `hour` to its month's file and syncs it.
    pub fn append(&self, hour: &Hour) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        let path = self
            .dir
            .join(format!("{}.jsonl", self.month(hour.start_ms)));
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let line = serde_json::to_string(hour).expect("hours serialise");
        writeln!(file, "{line}")
            .and_then(|()| file.sync_data())
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// Every hour starting in `from_ms..to_ms`, in time order. Lines that are not hours
    /// (a torn last line after a power cut) are skipped and counted in the second value.
    pub fn read(&self, from_ms: u64, to_ms: u64) -> anyhow::Result<(Vec<Hour>, usize)> {
        let mut hours = Vec::new();
        let mut skipped = 0;
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((hours, 0)),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", self.dir.display())),
        };
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_none_or(|e| e != "jsonl") {
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                match serde_json::from_str::<Hour>(line) {
                    Ok(hour) if (from_ms..to_ms).contains(&hour.start_ms) => hours.push(hour),
                    Ok(_) => {}
                    Err(_) => skipped += 1,
                }
            }
        }
        hours.sort_by_key(|h| h.start_ms);
        Ok((hours, skipped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_796_058_000_000; // 2026-11-30T17:00:00Z = 2026-12-01T00:00+07:00

    #[test]
    fn hours_go_to_their_local_month_and_read_back_in_range() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::new(dir.path(), 420);
        assert_eq!(ledger.month(T0 - 1), "2026-11");
        assert_eq!(ledger.month(T0), "2026-12");
        assert_eq!(ledger.month_start(T0 + 86_400_000), T0);
        assert_eq!(ledger.month_start(T0 - 1), T0 - 30 * 86_400_000);
        for i in [1u64, 0, 2] {
            let hour = Hour {
                start_ms: T0 - 3_600_000 + i * 3_600_000,
                observed_ms: 3_600_000,
                ..Hour::default()
            };
            ledger.append(&hour).unwrap();
        }
        let mut files: Vec<_> = std::fs::read_dir(dir.path().join("kpi"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        assert_eq!(files, ["2026-11.jsonl", "2026-12.jsonl"]);
        // A torn line, as a power cut leaves it.
        let mut torn = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("kpi/2026-12.jsonl"))
            .unwrap();
        torn.write_all(b"{\"start-ms\": 17960").unwrap();
        let (hours, skipped) = ledger.read(T0 - 3_600_000, T0 + 3_600_000).unwrap();
        let starts: Vec<_> = hours.iter().map(|h| h.start_ms).collect();
        assert_eq!(
            starts,
            [T0 - 3_600_000, T0],
            "in order, the range's end excluded"
        );
        assert_eq!(skipped, 1);
        let empty = Ledger::new(&dir.path().join("nothing"), 420);
        assert!(empty.read(0, u64::MAX).unwrap().0.is_empty());
    }
}
