//! The plugin's config: the operators' messages with their schedules, how the display
//! rotates, and how the arrival board is shown. Operators push it as the plugin's desired
//! config, so every message is signed, layered per group and audited by the host.

use chrono::{DateTime, Datelike, FixedOffset, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};

use sao_plugin_sdk::checks;

/// The highest priority a sign may have (the host's limit).
pub const MAX_PRIORITY: u8 = 100;

/// The longest text of a message, in bytes (the host takes up to 1024 per language).
pub const MAX_TEXT_BYTES: usize = 512;

/// The whole config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Config {
    /// The messages to show, each when its schedule says.
    pub messages: Vec<Message>,
    /// Seconds each of several messages of the same top priority stays on the display.
    pub rotate_s: u32,
    /// The arrival board.
    pub arrivals: ArrivalsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            messages: Vec::new(),
            rotate_s: 10,
            arrivals: ArrivalsConfig::default(),
        }
    }
}

/// One message for the display.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Message {
    /// The operator's name for it, `[a-z0-9-]`, unique in the config.
    pub id: String,
    /// Thai text; lines are separated by `\n`.
    pub th: String,
    /// English text.
    pub en: String,
    /// 0–100: the display shows the highest priority among what is due.
    #[serde(default = "Message::default_priority")]
    pub priority: u8,
    /// Not shown before this moment (RFC 3339, e.g. `2026-12-01T06:00:00+07:00`).
    #[serde(default)]
    pub starts: Option<DateTime<FixedOffset>>,
    /// Not shown from this moment on.
    #[serde(default)]
    pub expires: Option<DateTime<FixedOffset>>,
    /// Days of the week it is shown, in the pole's local time (`mon` … `sun`); none is
    /// every day.
    #[serde(default)]
    pub days: Vec<Day>,
    /// The daily window it is shown in, local time; none is all day.
    #[serde(default)]
    pub hours: Option<Hours>,
}

impl Message {
    fn default_priority() -> u8 {
        10
    }

    /// Whether the message is due at `now` (ms since the epoch), `offset_min` being the
    /// pole's offset from UTC.
    pub fn due(&self, now_ms: u64, offset_min: i32) -> bool {
        let now = local_time(now_ms, offset_min);
        let started = self.starts.is_none_or(|s| s <= now);
        let live = self.expires.is_none_or(|e| now < e);
        let day = self.days.is_empty() || self.days.iter().any(|d| d.0 == now.weekday());
        let hours = self.hours.as_ref().is_none_or(|h| h.contains(now.time()));
        started && live && day && hours
    }

    fn validate(&self, field: &str) -> Result<(), String> {
        checks::name(&format!("{field}.id"), &self.id)?;
        if self.th.trim().is_empty() && self.en.trim().is_empty() {
            return Err(format!("{field}: needs a Thai or an English text"));
        }
        for (lang, text) in [("th", &self.th), ("en", &self.en)] {
            checks::at_most(
                &format!("{field}.{lang} (bytes)"),
                text.len() as f64,
                MAX_TEXT_BYTES as f64,
            )?;
        }
        checks::at_most(
            &format!("{field}.priority"),
            self.priority.into(),
            MAX_PRIORITY.into(),
        )?;
        if let (Some(starts), Some(expires)) = (self.starts, self.expires) {
            if expires <= starts {
                return Err(format!(
                    "{field}: expires {expires} is not after starts {starts}"
                ));
            }
        }
        Ok(())
    }
}

/// A day of the week, spelled `mon` … `sun`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day(pub Weekday);

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(DAY_NAMES[self.0.num_days_from_monday() as usize])
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        let index = DAY_NAMES.iter().position(|&n| n == name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown day `{name}` (one of {})",
                DAY_NAMES.join(", ")
            ))
        })?;
        Ok(Day(
            Weekday::try_from(index as u8).expect("0-6 is a weekday")
        ))
    }
}

/// A daily window in local time, `HH:MM` to `HH:MM`; a window whose end is before its
/// start runs over midnight (`22:00`–`05:00`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Hours {
    /// Start of the window (included).
    #[serde(with = "hhmm")]
    pub from: NaiveTime,
    /// End of the window (excluded).
    #[serde(with = "hhmm")]
    pub to: NaiveTime,
}

impl Hours {
    /// Whether `time` lies in the window.
    pub fn contains(&self, time: NaiveTime) -> bool {
        if self.from <= self.to {
            self.from <= time && time < self.to
        } else {
            time >= self.from || time < self.to
        }
    }
}

/// `HH:MM` as a [`NaiveTime`].
mod hhmm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(time: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&time.format("%H:%M").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let text = String::deserialize(d)?;
        NaiveTime::parse_from_str(&text, "%H:%M")
            .map_err(|_| serde::de::Error::custom(format!("`{text}` is not a time HH:MM")))
    }
}

/// How the arrival board is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct ArrivalsConfig {
    /// Priority of the board among the messages.
    pub priority: u8,
    /// Buses listed at most, soonest first.
    pub rows: u32,
    /// The board comes down when no arrivals message came for this long: old times
    /// mislead more than none.
    pub stale_after_s: u32,
    /// A bus stays listed (as due) this long after its time.
    pub keep_after_due_s: u32,
}

impl Default for ArrivalsConfig {
    fn default() -> Self {
        Self {
            priority: 50,
            rows: 4,
            stale_after_s: 300,
            keep_after_due_s: 60,
        }
    }
}

impl Config {
    /// Parses and validates a config JSON text.
    pub fn from_json(json: &str) -> Result<Config, String> {
        sao_plugin_sdk::config::parse(json, Config::validate)
    }

    /// Checks every message (ids unique, texts present and not too long, priorities in
    /// range, expiry after start) and the board's numbers.
    pub fn validate(&self) -> Result<(), String> {
        for (k, message) in self.messages.iter().enumerate() {
            message.validate(&format!("messages[{k}]"))?;
            if self.messages[..k].iter().any(|m| m.id == message.id) {
                return Err(format!("messages[{k}].id: `{}` is used twice", message.id));
            }
        }
        checks::positive("rotate-s", self.rotate_s.into())?;
        checks::at_most(
            "arrivals.priority",
            self.arrivals.priority.into(),
            MAX_PRIORITY.into(),
        )?;
        checks::positive("arrivals.rows", self.arrivals.rows.into())?;
        checks::positive("arrivals.stale-after-s", self.arrivals.stale_after_s.into())
    }
}

/// `now_ms` as the pole's local time.
pub fn local_time(now_ms: u64, offset_min: i32) -> DateTime<FixedOffset> {
    let offset =
        FixedOffset::east_opt(offset_min * 60).unwrap_or(FixedOffset::east_opt(0).expect("UTC"));
    DateTime::from_timestamp_millis(now_ms as i64)
        .unwrap_or_default()
        .with_timezone(&offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sao_plugin_sdk::testing::check_config_schema;
    use serde_json::json;

    const SCHEMA: &str = include_str!("../config.schema.json");
    const EXAMPLE: &str = include_str!("../config.example.json");

    /// 2026-11-23 (a Monday) at `hh:mm` in Thailand, as ms since the epoch.
    fn monday_at(hh: u32, mm: u32) -> u64 {
        let utc = (hh as i64 - 7) * 3_600_000 + mm as i64 * 60_000;
        (1_795_392_000_000 + utc) as u64
    }

    fn message(extra: serde_json::Value) -> Message {
        let mut m = json!({"id": "m", "th": "ข้อความ", "en": "text"});
        m.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(m).unwrap()
    }

    #[test]
    fn the_schema_describes_the_config() {
        let full = serde_json::to_value(Config::from_json(EXAMPLE).unwrap()).unwrap();
        let defaults = serde_json::to_value(Config::default()).unwrap();
        check_config_schema(SCHEMA, &full, &defaults);
    }

    #[test]
    fn monday_at_is_a_monday_in_thailand() {
        let t = local_time(monday_at(6, 30), 420);
        assert_eq!(t.weekday(), Weekday::Mon);
        assert_eq!(t.format("%Y-%m-%d %H:%M").to_string(), "2026-11-23 06:30");
    }

    #[test]
    fn a_message_is_due_within_its_dates_days_and_hours() {
        let always = message(json!({}));
        assert!(always.due(monday_at(3, 0), 420));
        let dated = message(json!({
            "starts": "2026-11-23T06:00:00+07:00",
            "expires": "2026-11-23T09:00:00+07:00"
        }));
        assert!(!dated.due(monday_at(5, 59), 420));
        assert!(dated.due(monday_at(6, 0), 420));
        assert!(!dated.due(monday_at(9, 0), 420));
        let weekend = message(json!({"days": ["sat", "sun"]}));
        assert!(!weekend.due(monday_at(12, 0), 420));
        assert!(weekend.due(monday_at(12, 0) - 86_400_000, 420));
        let night = message(json!({"hours": {"from": "22:00", "to": "05:00"}}));
        assert!(night.due(monday_at(23, 0), 420));
        assert!(night.due(monday_at(4, 59), 420));
        assert!(!night.due(monday_at(5, 0), 420));
        assert!(!night.due(monday_at(12, 0), 420));
        // Days are the pole's: 01:00 Monday in Thailand is still Sunday in UTC.
        let mondays = message(json!({"days": ["mon"]}));
        assert!(mondays.due(monday_at(1, 0), 420));
        assert!(!mondays.due(monday_at(1, 0), 0));
    }

    #[test]
    fn bad_configs_are_refused_naming_the_field() {
        let refuse = |config: serde_json::Value| {
            Config::from_json(&config.to_string()).expect_err(&config.to_string())
        };
        let m = |extra: serde_json::Value| {
            let mut m = json!({"id": "a", "th": "ก", "en": "a"});
            m.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            json!({"messages": [m]})
        };
        assert!(refuse(m(json!({"id": "Big Sale"}))).contains("messages[0].id"));
        assert!(refuse(m(json!({"th": "", "en": " "}))).contains("needs a Thai or an English"));
        assert!(refuse(m(json!({"priority": 101}))).contains("messages[0].priority"));
        assert!(refuse(m(json!({"en": "x".repeat(513)}))).contains("messages[0].en (bytes)"));
        assert!(refuse(m(json!({"days": ["monday"]}))).contains("unknown day `monday`"));
        assert!(
            refuse(m(json!({"hours": {"from": "25:00", "to": "05:00"}})))
                .contains("`25:00` is not a time")
        );
        assert!(refuse(m(json!({
            "starts": "2026-12-01T00:00:00+07:00",
            "expires": "2026-11-01T00:00:00+07:00"
        })))
        .contains("is not after starts"));
        assert!(refuse(m(json!({"starts": "tomorrow"}))).contains("invalid config"));
        let twice = json!({"messages": [
            {"id": "a", "th": "ก", "en": "a"}, {"id": "a", "th": "ข", "en": "b"}
        ]});
        assert!(refuse(twice).contains("messages[1].id: `a` is used twice"));
        assert!(refuse(json!({"rotate-s": 0})).contains("rotate-s"));
        assert!(refuse(json!({"arrivals": {"rows": 0}})).contains("arrivals.rows"));
        assert!(refuse(json!({"colour": "red"})).contains("unknown field `colour`"));
    }
}
