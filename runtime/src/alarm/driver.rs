//! The thread that keeps alarms on time: it advances the engine when a pattern phase,
//! an escalation, the siren limit or an expiry is due, and at once when an alarm changes.
//! It needs nothing but the engine and the devices: a stuck plugin, a busy main loop or a
//! dead uplink cannot delay it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::Alarms;

/// Longest the driver sleeps, even with nothing due (a clock step is caught within it).
const MAX_SLEEP: Duration = Duration::from_secs(1);

/// The running driver; [`AlarmDriver::stop`] ends it.
pub struct AlarmDriver {
    alarms: Arc<Alarms>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl AlarmDriver {
    /// Starts the driver for `alarms`. `sync_clock` runs before each advance: a simulated
    /// pole running in real time sets its clock there.
    pub fn start(alarms: Arc<Alarms>, sync_clock: Box<dyn Fn() + Send>) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("sao-alarms".into())
            .spawn({
                let (alarms, stop) = (alarms.clone(), stop.clone());
                move || {
                    let mut engine = alarms.lock();
                    while !stop.load(Ordering::SeqCst) {
                        sync_clock();
                        let next = alarms.advance_locked(&mut engine);
                        let now = alarms.devices.now_ms();
                        let sleep = next.map_or(MAX_SLEEP, |next| {
                            Duration::from_millis(next.saturating_sub(now)).min(MAX_SLEEP)
                        });
                        if sleep.is_zero() {
                            continue;
                        }
                        engine = alarms
                            .changed
                            .wait_timeout(engine, sleep)
                            .expect("alarm engine lock poisoned")
                            .0;
                    }
                }
            })?;
        Ok(Self {
            alarms,
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the driver and waits for it. The outputs stay as they are.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.alarms.changed.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
