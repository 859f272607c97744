//! The pole's side of systemd's service protocol (`Type=notify`, `WatchdogSec=`): it says
//! it is ready once its plugins are installed and its uplink started, proves at every main
//! loop step that the loop still turns (so a hung pole is killed and restarted by the
//! watchdog rather than left dark), and says when it stops. Without `NOTIFY_SOCKET` — a
//! pole started by hand, or by a test — every call does nothing.

use std::time::{Duration, Instant};

use sd_notify::NotifyState;

/// The link to the service manager that started `sao run`, if any.
pub struct ServiceManager {
    /// How often to prove liveness: half the watchdog's timeout, as systemd advises.
    ping_every: Option<Duration>,
    last_ping: Option<Instant>,
    /// A failed notification is logged once, not at every step.
    warned: bool,
}

impl ServiceManager {
    /// Reads the service manager's settings from the environment (`NOTIFY_SOCKET`,
    /// `WATCHDOG_USEC`, `WATCHDOG_PID`).
    pub fn from_env() -> Self {
        let ping_every = sd_notify::watchdog_enabled().map(|timeout| timeout / 2);
        if let Some(every) = ping_every {
            tracing::info!(
                every_ms = every.as_millis() as u64,
                "the service manager's watchdog is on: the main loop proves it turns"
            );
        }
        Self {
            ping_every,
            last_ping: None,
            warned: false,
        }
    }

    /// Start-up is over: the service manager may start what waits for the pole. `status`
    /// is the one line `systemctl status` shows.
    pub fn ready(&mut self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    /// The main loop turned: pings the watchdog when half its timeout has passed.
    pub fn alive(&mut self) {
        let Some(every) = self.ping_every else { return };
        let now = Instant::now();
        if self.last_ping.is_some_and(|last| now - last < every) {
            return;
        }
        self.last_ping = Some(now);
        self.send(&[NotifyState::Watchdog]);
    }

    /// The pole is shutting down (a stop, not a failure).
    pub fn stopping(&mut self) {
        self.send(&[NotifyState::Stopping, NotifyState::Status("shutting down")]);
    }

    fn send(&mut self, states: &[NotifyState]) {
        if let Err(e) = sd_notify::notify(states) {
            if !std::mem::replace(&mut self.warned, true) {
                tracing::warn!("cannot notify the service manager: {e}");
            }
        }
    }
}
