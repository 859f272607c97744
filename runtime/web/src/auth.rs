//! Technician login: the password check, the sessions it opens and the guessing throttle.
//!
//! Sessions live in memory only: a restarted runtime asks the technician to log in again.
//! Times come from tokio's clock, so tests move them without waiting.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Argon2, Params, PasswordHasher, PasswordVerifier, ARGON2ID_IDENT};
use axum::http::{header, HeaderMap};
use tokio::time::Instant;

/// The session cookie's name.
const COOKIE: &str = "sao_session";
/// Failed logins within [`FAILURE_WINDOW`] that lock logins out.
const MAX_FAILURES: usize = 5;
/// How far back failed logins count.
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// How long logins stay refused after too many failures.
const LOCKOUT: Duration = Duration::from_secs(60);

/// Hashes a password into an argon2id PHC string with a random salt, for `[web]
/// password-hash` (`sao web-password`).
///
/// # Panics
/// When the operating system cannot supply random bytes for the salt.
pub fn hash_password(plain: &str) -> String {
    Argon2::default()
        .hash_password(plain.as_bytes())
        .expect("the system random generator supplies a salt")
        .to_string()
}

/// Parses an argon2id PHC string and checks its parameters.
pub(crate) fn parse_hash(phc: &str) -> Result<PasswordHash, String> {
    let hash = PasswordHash::new(phc).map_err(|e| format!("not a PHC string: {e}"))?;
    if hash.algorithm != ARGON2ID_IDENT {
        return Err(format!(
            "the algorithm is `{}`, not argon2id",
            hash.algorithm
        ));
    }
    Params::try_from(&hash).map_err(|e| format!("bad argon2 parameters: {e}"))?;
    if hash.salt.is_none() || hash.hash.is_none() {
        return Err("the salt or the hash is missing".to_owned());
    }
    Ok(hash)
}

/// Why a login was refused.
#[derive(Debug)]
pub(crate) enum LoginError {
    /// No password is configured: the page is read-only.
    Disabled,
    /// Too many wrong passwords lately; logins reopen after this long.
    Throttled(Duration),
    /// The password is wrong.
    Wrong,
    /// The check itself failed (no randomness for the session token, a lost worker).
    Internal(String),
}

/// The password, the open sessions and the throttle.
pub(crate) struct Auth {
    hash: Option<PasswordHash>,
    session_length: Duration,
    sessions: Mutex<HashMap<String, Instant>>,
    throttle: Mutex<Throttle>,
    /// One password check at a time: the throttle then sees every failure before the next
    /// attempt, and parallel guesses cannot take all of the box's memory and cores.
    checking: tokio::sync::Mutex<()>,
}

impl Auth {
    /// Logins against `hash` (`None`: actions disabled), each lasting `session_minutes`.
    pub(crate) fn new(hash: Option<PasswordHash>, session_minutes: u64) -> Self {
        Self {
            hash,
            session_length: Duration::from_secs(session_minutes.saturating_mul(60)),
            sessions: Mutex::default(),
            throttle: Mutex::default(),
            checking: tokio::sync::Mutex::new(()),
        }
    }

    /// Whether a password is configured, so that actions are possible at all.
    pub(crate) fn actions_enabled(&self) -> bool {
        self.hash.is_some()
    }

    /// Checks `password` and opens a session; returns its token.
    pub(crate) async fn login(&self, password: String) -> Result<String, LoginError> {
        let Some(hash) = self.hash.clone() else {
            return Err(LoginError::Disabled);
        };
        let _turn = self.checking.lock().await;
        lock(&self.throttle)
            .check(Instant::now())
            .map_err(LoginError::Throttled)?;
        let verified = tokio::task::spawn_blocking(move || {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .await
        .map_err(|e| LoginError::Internal(format!("the password check failed: {e}")))?;
        if !verified {
            lock(&self.throttle).fail(Instant::now());
            return Err(LoginError::Wrong);
        }
        lock(&self.throttle).succeed();
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| LoginError::Internal(format!("no random session token: {e}")))?;
        let token = hex::encode(bytes);
        let expiry = Instant::now() + self.session_length;
        lock(&self.sessions).insert(token.clone(), expiry);
        Ok(token)
    }

    /// Ends the session named by the request's cookie, if any.
    pub(crate) fn logout(&self, headers: &HeaderMap) {
        if let Some(token) = session_token(headers) {
            lock(&self.sessions).remove(token);
        }
    }

    /// Whether the request carries the cookie of a session that has not expired.
    pub(crate) fn logged_in(&self, headers: &HeaderMap) -> bool {
        let Some(token) = session_token(headers) else {
            return false;
        };
        let now = Instant::now();
        let mut sessions = lock(&self.sessions);
        sessions.retain(|_, expiry| *expiry > now);
        sessions.contains_key(token)
    }

    /// The `Set-Cookie` value that stores a new session's token.
    pub(crate) fn session_cookie(&self, token: &str) -> String {
        format!(
            "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
            self.session_length.as_secs()
        )
    }
}

/// The `Set-Cookie` value that deletes the session cookie.
pub(crate) fn cleared_cookie() -> String {
    format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

/// The session token in the request's `Cookie` headers.
fn session_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, token)| token)
}

/// Recent failed logins and the lockout they caused.
#[derive(Default)]
struct Throttle {
    failures: VecDeque<Instant>,
    locked_until: Option<Instant>,
}

impl Throttle {
    /// `Err(remaining)` while logins are locked out.
    fn check(&mut self, now: Instant) -> Result<(), Duration> {
        match self.locked_until {
            Some(until) if now < until => Err(until - now),
            _ => {
                self.locked_until = None;
                Ok(())
            }
        }
    }

    /// Counts a wrong password; the fifth within a minute locks logins out.
    fn fail(&mut self, now: Instant) {
        self.failures.push_back(now);
        while self
            .failures
            .front()
            .is_some_and(|first| now.duration_since(*first) > FAILURE_WINDOW)
        {
            self.failures.pop_front();
        }
        if self.failures.len() >= MAX_FAILURES {
            self.failures.clear();
            self.locked_until = Some(now + LOCKOUT);
        }
    }

    /// Forgets earlier failures after a right password.
    fn succeed(&mut self) {
        self.failures.clear();
    }
}

/// Locks `mutex`; its data stays consistent even if a holder panicked.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
