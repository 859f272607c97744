//! The signage logic driven natively through an in-memory [`Host`] that keeps what the
//! display shows, at a Chachoengsao bus stop on Monday 2026-11-23 (UTC+7).

use sao_plugin_sdk::testing::{MemoryPlatform, MemoryPole};
use sao_plugin_signage::{Config, Host, Sign, Signage};
use serde_json::json;

/// 2026-11-23 00:00 UTC, a Monday: 07:00 in Thailand.
const T0: u64 = 1_795_392_000_000;
const SECOND: u64 = 1000;
const MINUTE: u64 = 60 * SECOND;

#[derive(Default)]
struct MemoryHost {
    base: MemoryPlatform,
    /// The plugin's sign as the host holds it.
    sign: Option<Sign>,
    /// Every sign handed over, in order.
    shown: Vec<Sign>,
    /// An alarm holds the display.
    alarm: bool,
}

impl MemoryPole for MemoryHost {
    fn memory(&mut self) -> &mut MemoryPlatform {
        &mut self.base
    }
}

impl Host for MemoryHost {
    fn show_sign(&mut self, sign: &Sign) -> Result<(), String> {
        self.sign = Some(sign.clone());
        self.shown.push(sign.clone());
        Ok(())
    }

    fn clear_sign(&mut self) {
        self.sign = None;
    }

    fn sign_on_display(&mut self) -> bool {
        self.sign.is_some() && !self.alarm
    }
}

impl MemoryHost {
    fn english(&self) -> Option<&str> {
        self.sign.as_ref().map(|s| s.en.as_str())
    }
}

fn config(value: serde_json::Value) -> Config {
    Config::from_json(&value.to_string()).unwrap()
}

fn welcome_and_works() -> Config {
    config(json!({
        "messages": [
            {"id": "welcome", "th": "ยินดีต้อนรับ", "en": "Welcome", "priority": 10},
            {"id": "works", "th": "ซ่อมถนน", "en": "Road works", "priority": 40,
             "starts": "2026-11-23T08:00:00+07:00", "expires": "2026-11-23T09:00:00+07:00"}
        ],
        "rotate-s": 10
    }))
}

fn arrivals(etas: &[(&str, u64)]) -> String {
    let buses: Vec<_> = etas
        .iter()
        .map(|(route, eta)| json!({"route": route, "to": {"th": "ตลาด", "en": "Market"}, "eta-s": eta}))
        .collect();
    json!({"stop": "CCS-014", "arrivals": buses}).to_string()
}

#[test]
fn the_highest_due_priority_shows_and_leaves_at_its_expiry() {
    let mut host = MemoryHost::default();
    let mut signage = Signage::new(welcome_and_works(), &mut host);
    signage.tick(T0, &mut host).unwrap();
    assert_eq!(host.english(), Some("Welcome"));
    // 08:00: the road works start and outrank the welcome.
    signage.tick(T0 + 60 * MINUTE, &mut host).unwrap();
    assert_eq!(host.sign.as_ref().unwrap().priority, 40);
    assert_eq!(host.english(), Some("Road works"));
    // 09:00: they expire.
    signage.tick(T0 + 120 * MINUTE, &mut host).unwrap();
    assert_eq!(host.english(), Some("Welcome"));
    // Each change of what is due was reported to the operator.
    let due: Vec<_> = host
        .base
        .events
        .iter()
        .map(|e| (e.kind.as_str(), e.details["due"].clone()))
        .collect();
    assert_eq!(
        due,
        [
            ("schedule", json!(["welcome"])),
            ("schedule", json!(["welcome", "works"])),
            ("schedule", json!(["welcome"])),
        ]
    );
    // The sign went to the host only when it changed.
    assert_eq!(host.shown.len(), 3);
}

#[test]
fn equal_priorities_take_turns() {
    let mut host = MemoryHost::default();
    let equal = config(json!({
        "messages": [
            {"id": "a", "th": "ก", "en": "A", "priority": 20},
            {"id": "b", "th": "ข", "en": "B", "priority": 20},
            {"id": "low", "th": "ค", "en": "C", "priority": 5}
        ],
        "rotate-s": 10
    }));
    let mut signage = Signage::new(equal, &mut host);
    let mut seen = Vec::new();
    for k in 0..4 {
        signage.tick(T0 + k * 10 * SECOND, &mut host).unwrap();
        seen.push(host.english().unwrap().to_string());
    }
    assert_eq!(seen, ["A", "B", "A", "B"]);
}

#[test]
fn the_board_counts_down_outranks_messages_and_survives_a_restart() {
    let mut host = MemoryHost::default();
    let mut signage = Signage::new(welcome_and_works(), &mut host);
    signage
        .on_arrivals(&arrivals(&[("7", 240), ("12", 600)]), T0, &mut host)
        .unwrap();
    assert_eq!(
        host.english(),
        Some("Next buses\n7  Market  4 min\n12  Market  10 min")
    );
    assert_eq!(host.sign.as_ref().unwrap().priority, 50);
    signage.tick(T0 + 2 * MINUTE, &mut host).unwrap();
    assert_eq!(
        host.english(),
        Some("Next buses\n7  Market  2 min\n12  Market  8 min")
    );
    // A restarted plugin finds the board in kv and shows it at once.
    let mut restarted = Signage::new(welcome_and_works(), &mut host);
    host.sign = None;
    restarted.tick(T0 + 3 * MINUTE, &mut host).unwrap();
    assert_eq!(
        host.english(),
        Some("Next buses\n7  Market  1 min\n12  Market  7 min")
    );
    // With no update for stale-after-s the board comes down and the welcome returns.
    restarted.tick(T0 + 5 * MINUTE, &mut host).unwrap();
    assert_eq!(host.english(), Some("Welcome"));
}

#[test]
fn a_malformed_arrivals_message_is_refused_and_the_board_stays() {
    let mut host = MemoryHost::default();
    let mut signage = Signage::new(Config::default(), &mut host);
    signage
        .on_arrivals(&arrivals(&[("7", 240)]), T0, &mut host)
        .unwrap();
    let before = signage.board().clone();
    let e = signage
        .on_arrivals(r#"{"arrivals": [{"route": "7"}]}"#, T0 + MINUTE, &mut host)
        .unwrap_err();
    assert!(e.contains("missing field `to`"), "{e}");
    assert_eq!(signage.board(), &before);
    assert_eq!(host.english(), Some("Next buses\n7  Market  4 min"));
    // An empty list clears the board; with no messages the sign is withdrawn.
    signage
        .on_arrivals(r#"{"arrivals": []}"#, T0 + MINUTE, &mut host)
        .unwrap();
    assert_eq!(host.sign, None);
    assert_eq!(host.base.events.last().unwrap().message, "nothing to show");
}

#[test]
fn the_schedule_event_says_whether_the_sign_is_on_the_display() {
    let mut host = MemoryHost {
        alarm: true,
        ..MemoryHost::default()
    };
    let mut signage = Signage::new(welcome_and_works(), &mut host);
    signage.tick(T0, &mut host).unwrap();
    let event = host.base.events.last().unwrap();
    assert_eq!(event.details["on-display"], json!(false));
    host.alarm = false;
    signage.tick(T0 + 60 * MINUTE, &mut host).unwrap();
    assert_eq!(
        host.base.events.last().unwrap().details["on-display"],
        json!(true)
    );
}
