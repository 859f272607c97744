//! The arrival board of a bus stop: the times a transit system pushes over MQTT
//! (`…/msg/signage/arrivals`), counted down on the display.
//!
//! A message replaces the whole board:
//!
//! ```json
//! {"stop": "CCS-014", "arrivals": [
//!   {"route": "7", "to": {"th": "ตลาดบ้านใหม่", "en": "Ban Mai Market"}, "eta-s": 240},
//!   {"route": "12", "to": {"th": "สถานีรถไฟ", "en": "Railway station"}, "at": "2026-11-23T07:15:00+07:00"}
//! ]}
//! ```
//!
//! Each bus gives `eta-s` (seconds from when the pole received the message) or `at` (an
//! RFC 3339 moment). An empty list clears the board.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::config::ArrivalsConfig;

/// Buses a message may list.
pub const MAX_ARRIVALS: usize = 20;

/// The longest route name, in bytes.
pub const MAX_ROUTE_BYTES: usize = 8;

/// The longest destination, in bytes per language.
pub const MAX_DESTINATION_BYTES: usize = 96;

/// The farthest arrival a message may announce, in seconds.
pub const MAX_ETA_S: u64 = 4 * 3600;

/// An arrivals message, as pushed.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct ArrivalsMessage {
    /// The stop's code in the transit system, for the records.
    #[serde(default)]
    stop: Option<String>,
    arrivals: Vec<Announced>,
}

/// One bus as announced.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Announced {
    route: String,
    to: Destination,
    #[serde(default)]
    eta_s: Option<u64>,
    #[serde(default)]
    at: Option<DateTime<FixedOffset>>,
}

/// Where a bus goes, in Thai and English.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// Thai name.
    pub th: String,
    /// English name.
    pub en: String,
}

/// One bus on the board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Arrival {
    /// Route name.
    pub route: String,
    /// Destination.
    pub to: Destination,
    /// When it arrives, ms since the epoch.
    pub at_ms: u64,
}

/// The board: the buses of the last message and when it came (persisted in `kv`, so a
/// restarted plugin shows it again at once).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Board {
    /// The stop's code, if the message gave one.
    pub stop: Option<String>,
    /// The buses, soonest first.
    pub arrivals: Vec<Arrival>,
    /// When the last message came, ms since the epoch.
    pub received_ms: u64,
}

impl Board {
    /// The board a message makes, received at `received_ms`; refuses a malformed message
    /// with the reason (the sender learns it through the host).
    pub fn from_message(payload: &str, received_ms: u64) -> Result<Board, String> {
        let message: ArrivalsMessage =
            serde_json::from_str(payload).map_err(|e| format!("not an arrivals message: {e}"))?;
        if message.arrivals.len() > MAX_ARRIVALS {
            return Err(format!(
                "{} arrivals; at most {MAX_ARRIVALS}",
                message.arrivals.len()
            ));
        }
        let mut arrivals = message
            .arrivals
            .into_iter()
            .enumerate()
            .map(|(k, a)| {
                a.resolve(received_ms)
                    .map_err(|e| format!("arrivals[{k}]: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        arrivals.sort_by_key(|a| a.at_ms);
        Ok(Board {
            stop: message.stop,
            arrivals,
            received_ms,
        })
    }

    /// The rows to show at `now`, soonest first: none when the board is stale, buses
    /// past their time by more than `keep-after-due-s` left out.
    pub fn rows(&self, now_ms: u64, config: &ArrivalsConfig) -> Vec<&Arrival> {
        let stale = now_ms.saturating_sub(self.received_ms) >= config.stale_after_s as u64 * 1000;
        if stale {
            return Vec::new();
        }
        let keep_ms = config.keep_after_due_s as u64 * 1000;
        self.arrivals
            .iter()
            .filter(|a| a.at_ms + keep_ms > now_ms)
            .take(config.rows as usize)
            .collect()
    }

    /// The board's texts at `now` (Thai, English), if it has rows to show.
    pub fn texts(&self, now_ms: u64, config: &ArrivalsConfig) -> Option<(String, String)> {
        let rows = self.rows(now_ms, config);
        if rows.is_empty() {
            return None;
        }
        let mut th = String::from("รถโดยสารที่กำลังมา");
        let mut en = String::from("Next buses");
        for row in rows {
            let (wait_th, wait_en) = wait(row.at_ms, now_ms);
            th.push_str(&format!("\n{}  {}  {wait_th}", row.route, row.to.th));
            en.push_str(&format!("\n{}  {}  {wait_en}", row.route, row.to.en));
        }
        Some((th, en))
    }
}

impl Announced {
    fn resolve(self, received_ms: u64) -> Result<Arrival, String> {
        let route = self.route.trim().to_string();
        if route.is_empty() || route.len() > MAX_ROUTE_BYTES {
            return Err(format!("route must be 1-{MAX_ROUTE_BYTES} bytes"));
        }
        if [&self.to.th, &self.to.en]
            .iter()
            .any(|t| t.len() > MAX_DESTINATION_BYTES)
        {
            return Err(format!(
                "to: at most {MAX_DESTINATION_BYTES} bytes per language"
            ));
        }
        let at_ms = match (self.eta_s, self.at) {
            (Some(eta), None) if eta <= MAX_ETA_S => received_ms + eta * 1000,
            (Some(eta), None) => return Err(format!("eta-s {eta} is over {MAX_ETA_S}")),
            (None, Some(at)) => {
                let at_ms = u64::try_from(at.timestamp_millis())
                    .map_err(|_| format!("at {at} is before 1970"))?;
                if at_ms > received_ms + MAX_ETA_S * 1000 {
                    return Err(format!("at {at} is more than {MAX_ETA_S} s ahead"));
                }
                at_ms
            }
            _ => return Err("give exactly one of `eta-s` and `at`".into()),
        };
        Ok(Arrival {
            route,
            to: self.to,
            at_ms,
        })
    }
}

/// How long until `at`, as the board says it: due within half a minute, else whole
/// minutes rounded up.
fn wait(at_ms: u64, now_ms: u64) -> (String, String) {
    let left_s = at_ms.saturating_sub(now_ms) / 1000;
    if left_s <= 30 {
        return ("ถึงแล้ว".into(), "due".into());
    }
    let minutes = left_s.div_ceil(60);
    (format!("{minutes} นาที"), format!("{minutes} min"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T0: u64 = 1_795_392_000_000;

    fn config() -> ArrivalsConfig {
        ArrivalsConfig::default()
    }

    fn bus(route: &str, eta_s: u64) -> serde_json::Value {
        json!({"route": route, "to": {"th": format!("ปลายทาง {route}"), "en": format!("To {route}")}, "eta-s": eta_s})
    }

    #[test]
    fn buses_count_down_soonest_first_and_leave_after_their_time() {
        let message = json!({"stop": "CCS-014", "arrivals": [bus("12", 600), bus("7", 240)]});
        let board = Board::from_message(&message.to_string(), T0).unwrap();
        assert_eq!(board.stop.as_deref(), Some("CCS-014"));
        let (th, en) = board.texts(T0, &config()).unwrap();
        assert_eq!(en, "Next buses\n7  To 7  4 min\n12  To 12  10 min");
        assert_eq!(
            th,
            "รถโดยสารที่กำลังมา\n7  ปลายทาง 7  4 นาที\n12  ปลายทาง 12  10 นาที"
        );
        // 3 min 30 s later bus 7 is 30 s away: due; a minute after its time it is gone.
        let (_, en) = board.texts(T0 + 210_000, &config()).unwrap();
        assert_eq!(en, "Next buses\n7  To 7  due\n12  To 12  7 min");
        let patient = ArrivalsConfig {
            stale_after_s: 900,
            ..config()
        };
        let (_, en) = board.texts(T0 + 299_000, &patient).unwrap();
        assert_eq!(en, "Next buses\n7  To 7  due\n12  To 12  6 min");
        let (_, en) = board.texts(T0 + 300_000, &patient).unwrap();
        assert_eq!(en, "Next buses\n12  To 12  5 min");
    }

    #[test]
    fn a_stale_board_comes_down_and_rows_are_capped() {
        let many: Vec<_> = (1..=6).map(|k| bus(&k.to_string(), k * 60)).collect();
        let board = Board::from_message(&json!({"arrivals": many}).to_string(), T0).unwrap();
        assert_eq!(board.rows(T0, &config()).len(), 4);
        let stale_at = T0 + config().stale_after_s as u64 * 1000;
        // Just before: the buses of 4, 5 and 6 min (the one of 4 min is due).
        assert_eq!(board.rows(stale_at - 1, &config()).len(), 3);
        assert!(board.texts(stale_at, &config()).is_none());
        let empty = Board::from_message(r#"{"arrivals": []}"#, T0).unwrap();
        assert!(empty.texts(T0, &config()).is_none());
    }

    #[test]
    fn an_absolute_time_counts_like_an_eta() {
        let message = json!({"arrivals": [{
            "route": "7", "to": {"th": "ก", "en": "A"}, "at": "2026-11-23T07:15:00+07:00"
        }]});
        let received = T0 + 10 * 60_000; // 07:10 in Thailand
        let board = Board::from_message(&message.to_string(), received).unwrap();
        assert_eq!(board.arrivals[0].at_ms, T0 + 15 * 60_000);
        assert_eq!(
            board.texts(received, &config()).unwrap().1,
            "Next buses\n7  A  5 min"
        );
    }

    #[test]
    fn malformed_messages_are_refused_with_the_reason() {
        let refuse = |v: serde_json::Value| Board::from_message(&v.to_string(), T0).unwrap_err();
        assert!(Board::from_message("not json", T0)
            .unwrap_err()
            .starts_with("not an arrivals message"));
        assert!(refuse(json!({"buses": []})).contains("unknown field `buses`"));
        let both = json!({"route": "7", "to": {"th": "ก", "en": "A"}, "eta-s": 1, "at": "2026-11-23T07:15:00+07:00"});
        assert_eq!(
            refuse(json!({"arrivals": [both]})),
            "arrivals[0]: give exactly one of `eta-s` and `at`"
        );
        assert!(refuse(json!({"arrivals": [bus("7", 99_999)]})).contains("eta-s 99999 is over"));
        assert!(refuse(json!({"arrivals": [bus("", 60)]})).contains("route must be"));
        assert!(refuse(json!({"arrivals": [bus("123456789", 60)]})).contains("route must be"));
        let many: Vec<_> = (0..21).map(|k| bus("7", k)).collect();
        assert!(refuse(json!({"arrivals": many})).contains("21 arrivals; at most 20"));
    }
}
