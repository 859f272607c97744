//! [`Signage`]: what the plugin puts on the display at each moment.
//!
//! The candidates at a moment are the config's messages that are due and the arrival
//! board when it has buses to list. The display gets the highest priority among them;
//! several of that priority take turns of `rotate-s` each, in config order with the board
//! last. The sign goes to the host only when it changes, and an `evt/signage/schedule`
//! event tells the operator each time the set of due items changes.

use serde_json::json;

use crate::board::Board;
use crate::config::Config;
use crate::host::{EventState, Host, LogLevel, Severity, Sign};

/// The `kv` key of the arrival board.
const BOARD_KEY: &str = "arrivals";

/// The id of the arrival board among the message ids (in events).
pub const BOARD_ID: &str = "arrivals";

/// The plugin's state.
pub struct Signage {
    config: Config,
    board: Board,
    /// What was last handed to the host (`None`: the sign is withdrawn).
    shown: Option<Sign>,
    /// The ids due at the last tick, for the schedule event.
    due: Option<Vec<String>>,
}

/// One thing that may go on the display.
struct Candidate {
    id: String,
    sign: Sign,
}

impl Signage {
    /// The signage with `config`, and the board the plugin kept before a restart.
    pub fn new(config: Config, host: &mut impl Host) -> Self {
        let board = match host.kv_get(BOARD_KEY) {
            Ok(Some(bytes)) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                host.log(LogLevel::Warn, &format!("stored board unreadable: {e}"));
                Board::default()
            }),
            Ok(None) => Board::default(),
            Err(e) => {
                host.log(LogLevel::Warn, &format!("stored board not read: {e}"));
                Board::default()
            }
        };
        Self {
            config,
            board,
            shown: None,
            due: None,
        }
    }

    /// Replaces the config; the next [`Signage::tick`] shows what it makes due.
    pub fn set_config(&mut self, config: Config) {
        self.config = config;
    }

    /// The arrival board now.
    pub fn board(&self) -> &Board {
        &self.board
    }

    /// Takes an arrivals message received at `received_ms`: the board is replaced, kept,
    /// and shown at once. A malformed message is refused whole and the board stays.
    pub fn on_arrivals(
        &mut self,
        payload: &str,
        received_ms: u64,
        host: &mut impl Host,
    ) -> Result<(), String> {
        let board = Board::from_message(payload, received_ms)?;
        let stored = serde_json::to_vec(&board).expect("a board serialises");
        if let Err(e) = host.kv_set(BOARD_KEY, &stored) {
            host.log(LogLevel::Warn, &format!("board not stored: {e}"));
        }
        self.board = board;
        self.tick(received_ms, host)
    }

    /// Puts on the display what is due at `now` (ms since the epoch).
    pub fn tick(&mut self, now_ms: u64, host: &mut impl Host) -> Result<(), String> {
        let offset = host.utc_offset_minutes();
        let candidates = self.candidates(now_ms, offset);
        let top = candidates.iter().map(|c| c.sign.priority).max();
        let leading: Vec<&Candidate> = candidates
            .iter()
            .filter(|c| Some(c.sign.priority) == top)
            .collect();
        let sign = (!leading.is_empty()).then(|| {
            let turn = now_ms / (self.config.rotate_s as u64 * 1000);
            leading[(turn % leading.len() as u64) as usize].sign.clone()
        });
        if sign != self.shown {
            match &sign {
                Some(sign) => host.show_sign(sign)?,
                None => host.clear_sign(),
            }
            self.shown = sign;
        }
        self.report_due(&candidates, host);
        Ok(())
    }

    /// What may go on the display at `now`: the due messages in config order, then the
    /// board.
    fn candidates(&self, now_ms: u64, offset_min: i32) -> Vec<Candidate> {
        let messages = self
            .config
            .messages
            .iter()
            .filter(|m| m.due(now_ms, offset_min))
            .map(|m| Candidate {
                id: m.id.clone(),
                sign: Sign {
                    th: m.th.clone(),
                    en: m.en.clone(),
                    priority: m.priority,
                },
            });
        let arrivals = &self.config.arrivals;
        let board = self
            .board
            .texts(now_ms, arrivals)
            .map(|(th, en)| Candidate {
                id: BOARD_ID.into(),
                sign: Sign {
                    th,
                    en,
                    priority: arrivals.priority,
                },
            });
        messages.chain(board).collect()
    }

    /// Sends `evt/signage/schedule` when the set of due items changed since the last tick.
    fn report_due(&mut self, candidates: &[Candidate], host: &mut impl Host) {
        let due: Vec<String> = candidates.iter().map(|c| c.id.clone()).collect();
        if self.due.as_ref() == Some(&due) {
            return;
        }
        let message = if due.is_empty() {
            "nothing to show".to_string()
        } else {
            format!("showing {}", due.join(", "))
        };
        let details = json!({
            "due": due,
            "on-display": host.sign_on_display(),
            "stop": self.board.stop,
        });
        if let Err(e) = host.event(
            "schedule",
            EventState::Info,
            Severity::Info,
            &message,
            &details.to_string(),
        ) {
            host.log(LogLevel::Warn, &format!("schedule event not sent: {e}"));
        }
        self.due = Some(due);
    }
}
