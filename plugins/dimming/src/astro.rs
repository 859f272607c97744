//! Sunset, sunrise and night windows for the pole's place and time zone.
//!
//! A night is named by the local date of its evening and lives in the noon-to-noon
//! period that starts at local noon of that date: the night of 2026-11-21 runs from
//! sunset on the 21st to sunrise on the 22nd, and 02:00 on the 22nd belongs to it. This is
//! how the window crosses midnight without special cases.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use sun::SunPhase;

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// Milliseconds in half a day.
const HALF_DAY_MS: i64 = DAY_MS / 2;

/// A half-open span of time `[start_ms, end_ms)` in Unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First millisecond inside the window.
    pub start_ms: i64,
    /// First millisecond after the window.
    pub end_ms: i64,
}

impl Window {
    /// Whether `t_ms` lies inside the window.
    pub fn contains(&self, t_ms: i64) -> bool {
        self.start_ms <= t_ms && t_ms < self.end_ms
    }

    /// How many milliseconds of `[from_ms, to_ms)` lie inside the window.
    pub fn overlap_ms(&self, from_ms: i64, to_ms: i64) -> i64 {
        (to_ms.min(self.end_ms) - from_ms.max(self.start_ms)).max(0)
    }

    /// The window moved by `start_min` minutes at its start and `end_min` at its end.
    pub fn shifted(&self, start_min: i32, end_min: i32) -> Window {
        Window {
            start_ms: self.start_ms + i64::from(start_min) * 60_000,
            end_ms: self.end_ms + i64::from(end_min) * 60_000,
        }
    }
}

/// Where the pole stands and its civil time zone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Site {
    /// Latitude in degrees, north positive.
    pub latitude: f64,
    /// Longitude in degrees, east positive.
    pub longitude: f64,
    /// Offset of local civil time from UTC, in minutes.
    pub utc_offset_minutes: i32,
}

impl Site {
    fn offset_ms(&self) -> i64 {
        i64::from(self.utc_offset_minutes) * 60_000
    }

    /// Local civil date and time at `t_ms`.
    pub fn local(&self, t_ms: i64) -> NaiveDateTime {
        DateTime::from_timestamp_millis(t_ms + self.offset_ms())
            .unwrap_or_default()
            .naive_utc()
    }

    /// Unix milliseconds of local noon on `date`.
    pub fn local_noon_ms(&self, date: NaiveDate) -> i64 {
        let noon = NaiveTime::from_hms_opt(12, 0, 0).unwrap_or_default();
        date.and_time(noon).and_utc().timestamp_millis() - self.offset_ms()
    }

    /// The night `t_ms` belongs to: the local date of the most recent local noon.
    pub fn night_date(&self, t_ms: i64) -> NaiveDate {
        self.local(t_ms - HALF_DAY_MS).date()
    }

    /// Minutes since the most recent local noon (0–1439): orders clock times the way
    /// a night sees them, so 22:00 (600) comes before 05:00 (1020).
    pub fn minute_of_night(&self, t_ms: i64) -> u32 {
        let local = self.local(t_ms);
        minute_of_night(local.hour() * 60 + local.minute())
    }

    /// The night of `date`: from the `evening` event of `date` to the `morning` event of
    /// the next day. Where the sun does not cross that altitude (polar day or night),
    /// the window is empty when the sun is up at local midnight and spans the whole
    /// noon-to-noon period when it is down.
    pub fn night(&self, date: NaiveDate, evening: SunPhase, morning: SunPhase) -> Window {
        let noon = self.local_noon_ms(date);
        let next_noon = noon + DAY_MS;
        let start = self.event(noon, evening);
        let end = self.event(next_noon, morning);
        match (start, end) {
            (Some(start_ms), Some(end_ms)) => Window { start_ms, end_ms },
            _ => {
                let midnight = noon + HALF_DAY_MS;
                let dark = sun::pos(midnight, self.latitude, self.longitude).altitude < 0.0;
                if dark {
                    Window {
                        start_ms: start.unwrap_or(noon),
                        end_ms: end.unwrap_or(next_noon),
                    }
                } else {
                    Window {
                        start_ms: midnight,
                        end_ms: midnight,
                    }
                }
            }
        }
    }

    /// Time of `phase` on the day whose local noon is `noon_ms`, if the sun reaches it.
    fn event(&self, noon_ms: i64, phase: SunPhase) -> Option<i64> {
        let t = sun::time_at_phase(noon_ms, phase, self.latitude, self.longitude, 0.0);
        // The crate yields NaN (cast to 0) when the sun never crosses the altitude.
        ((t - noon_ms).abs() < DAY_MS).then_some(t)
    }
}

/// Minutes since noon for a clock time given in minutes since midnight.
pub fn minute_of_night(minute_of_day: u32) -> u32 {
    (minute_of_day + 12 * 60) % (24 * 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Days;

    const CHACHOENGSAO: Site = Site {
        latitude: 13.69,
        longitude: 101.07,
        utc_offset_minutes: 420,
    };

    #[test]
    fn night_in_chachoengsao() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        let w = CHACHOENGSAO.night(date, SunPhase::Sunset, SunPhase::Sunrise);
        let on = CHACHOENGSAO.local(w.start_ms);
        let off = CHACHOENGSAO.local(w.end_ms);
        assert_eq!(on.date(), date);
        assert_eq!(off.date(), date.checked_add_days(Days::new(1)).unwrap());
        // Sunset around 17:40-17:50, sunrise around 06:15-06:25 local time.
        assert!(
            (17 * 60 + 30..18 * 60).contains(&(on.hour() * 60 + on.minute())),
            "{on}"
        );
        assert!(
            (6 * 60..6 * 60 + 40).contains(&(off.hour() * 60 + off.minute())),
            "{off}"
        );
        // 02:00 on the 22nd belongs to the night of the 21st.
        let two_am = w.end_ms - 4 * 3_600_000;
        assert_eq!(CHACHOENGSAO.night_date(two_am), date);
        assert!(w.contains(two_am));
        assert_eq!(
            CHACHOENGSAO.minute_of_night(CHACHOENGSAO.local_noon_ms(date)),
            0
        );
    }

    #[test]
    fn polar_day_and_night() {
        let tromso = Site {
            latitude: 69.65,
            longitude: 18.96,
            utc_offset_minutes: 60,
        };
        let winter = NaiveDate::from_ymd_opt(2026, 12, 21).unwrap();
        let w = tromso.night(winter, SunPhase::Sunset, SunPhase::Sunrise);
        assert_eq!(w.end_ms - w.start_ms, DAY_MS);
        let summer = NaiveDate::from_ymd_opt(2026, 6, 21).unwrap();
        let w = tromso.night(summer, SunPhase::Sunset, SunPhase::Sunrise);
        assert_eq!(w.end_ms, w.start_ms);
    }
}
