//! `[web]` in `pole.toml`.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::auth;

/// The longest session a login may open: one week.
const MAX_SESSION_MINUTES: u64 = 7 * 24 * 60;

/// `[web]` in `pole.toml`: where the technician page listens and who may act on it.
///
/// Every field has a default, so an absent section serves a read-only Thai page on port 8080.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct WebConfig {
    /// Whether the runtime serves the page at all (default true).
    pub enabled: bool,
    /// Address and port to listen on (default `0.0.0.0:8080`).
    pub listen: String,
    /// The page's language until the technician switches it (default Thai).
    pub language: Language,
    /// The technician password as an argon2id PHC string (`sao web-password`). Without
    /// one the page is read-only: acknowledging, restarting and testing are refused.
    pub password_hash: Option<String>,
    /// How long a login lasts, in minutes (default 480, at most a week).
    pub session_minutes: u64,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: "0.0.0.0:8080".to_owned(),
            language: Language::default(),
            password_hash: None,
            session_minutes: 480,
        }
    }
}

impl WebConfig {
    /// Checks what serde cannot: the listen address, the password hash and the session length.
    pub fn validate(&self) -> Result<(), String> {
        self.listen.parse::<SocketAddr>().map_err(|e| {
            format!(
                "[web] listen `{}` is not an address and port such as 0.0.0.0:8080: {e}",
                self.listen
            )
        })?;
        if let Some(hash) = &self.password_hash {
            auth::parse_hash(hash).map_err(|e| {
                format!("[web] password-hash is not usable ({e}); make one with `sao web-password`")
            })?;
        }
        if !(1..=MAX_SESSION_MINUTES).contains(&self.session_minutes) {
            return Err(format!(
                "[web] session-minutes must be between 1 and {MAX_SESSION_MINUTES}, not {}",
                self.session_minutes
            ));
        }
        Ok(())
    }
}

/// A language the page speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Thai (`th`).
    #[default]
    Th,
    /// English (`en`).
    En,
}

impl Language {
    /// The BCP 47 code: `th` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Th => "th",
            Self::En => "en",
        }
    }
}
