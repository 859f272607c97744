//! Simulated `embedded-hal` peripherals.
//!
//! Clones of [`SimPwm`] and [`SimPin`] share their recorded state, so a test can keep a clone
//! as a probe after handing the original to an adapter.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::Arc;

use embedded_hal::digital::{self, InputPin, OutputPin, StatefulOutputPin};
use embedded_hal::pwm::{self, SetDutyCycle};

use crate::TimeSource;

/// A PWM channel that records the last duty cycle written.
#[derive(Debug, Clone)]
pub struct SimPwm {
    duty: Arc<AtomicU16>,
    max_duty: u16,
}

impl SimPwm {
    /// A channel with `max_duty` steps (at least 1), starting at duty 0.
    pub fn new(max_duty: u16) -> Self {
        Self {
            duty: Arc::new(AtomicU16::new(0)),
            max_duty: max_duty.max(1),
        }
    }

    /// Last duty cycle written.
    pub fn duty(&self) -> u16 {
        self.duty.load(Ordering::SeqCst)
    }
}

impl pwm::ErrorType for SimPwm {
    type Error = Infallible;
}

impl SetDutyCycle for SimPwm {
    fn max_duty_cycle(&self) -> u16 {
        self.max_duty
    }

    fn set_duty_cycle(&mut self, duty: u16) -> Result<(), Infallible> {
        self.duty.store(duty.min(self.max_duty), Ordering::SeqCst);
        Ok(())
    }
}

/// A digital output that records its state (starts low).
#[derive(Debug, Clone, Default)]
pub struct SimPin {
    high: Arc<AtomicBool>,
}

impl SimPin {
    /// A new output pin, low.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the pin is driven high.
    pub fn state(&self) -> bool {
        self.high.load(Ordering::SeqCst)
    }
}

impl digital::ErrorType for SimPin {
    type Error = Infallible;
}

impl OutputPin for SimPin {
    fn set_low(&mut self) -> Result<(), Infallible> {
        self.high.store(false, Ordering::SeqCst);
        Ok(())
    }

    fn set_high(&mut self) -> Result<(), Infallible> {
        self.high.store(true, Ordering::SeqCst);
        Ok(())
    }
}

impl StatefulOutputPin for SimPin {
    fn is_set_high(&mut self) -> Result<bool, Infallible> {
        Ok(self.state())
    }

    fn is_set_low(&mut self) -> Result<bool, Infallible> {
        Ok(!self.state())
    }
}

/// A PIR output line driven by scheduled motion events.
///
/// Each event at `e` raises the line for `[e, e + pulse_ms)`, like an HC-SR501's hold time.
/// The line behaves as if wired to a latching input: a sample reads high if the line was
/// high at any time since the previous sample (on the first sample: if it is high now). So
/// no event is lost however rarely the pin is sampled. `is_low` is `!is_high` and also
/// counts as a sample.
pub struct SimInputPin {
    clock: Arc<dyn TimeSource>,
    events_ms: Vec<u64>,
    pulse_ms: u64,
    last_sample_ms: Option<u64>,
}

impl SimInputPin {
    /// A line with motion at each of `events_ms` (any order), each held for `pulse_ms`.
    pub fn new(clock: Arc<dyn TimeSource>, mut events_ms: Vec<u64>, pulse_ms: u64) -> Self {
        events_ms.sort_unstable();
        Self {
            clock,
            events_ms,
            pulse_ms,
            last_sample_ms: None,
        }
    }
}

impl digital::ErrorType for SimInputPin {
    type Error = Infallible;
}

impl InputPin for SimInputPin {
    fn is_high(&mut self) -> Result<bool, Infallible> {
        let now = self.clock.now_ms();
        let since = self.last_sample_ms.map_or(now, |t| t.min(now));
        self.last_sample_ms = Some(now);
        // The latest event at or before now has the latest pulse end.
        let started = self.events_ms.partition_point(|&e| e <= now);
        Ok(started > 0 && self.events_ms[started - 1].saturating_add(self.pulse_ms) > since)
    }

    fn is_low(&mut self) -> Result<bool, Infallible> {
        self.is_high().map(|high| !high)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimClock;

    #[test]
    fn input_pin_latches_pulses_between_samples() {
        let clock = Arc::new(SimClock::new(0));
        let mut pin = SimInputPin::new(clock.clone(), vec![10_000, 5_000], 2_000);
        assert!(!pin.is_high().unwrap());
        clock.set(5_500);
        assert!(pin.is_high().unwrap());
        clock.set(6_000);
        assert!(pin.is_high().unwrap(), "pulse still active");
        clock.set(9_000);
        assert!(pin.is_high().unwrap(), "was high between 6 s and 7 s");
        clock.set(9_500);
        assert!(pin.is_low().unwrap());
        // The pulse at 10 s ended before this sample but is still seen once.
        clock.set(30_000);
        assert!(pin.is_high().unwrap());
        clock.set(31_000);
        assert!(!pin.is_high().unwrap());
    }

    #[test]
    fn probes_share_state() {
        let mut pwm = SimPwm::new(100);
        let probe = pwm.clone();
        pwm.set_duty_cycle(250).unwrap();
        assert_eq!(probe.duty(), 100);
        let mut pin = SimPin::new();
        let probe = pin.clone();
        pin.set_high().unwrap();
        assert!(probe.state() && pin.is_set_high().unwrap());
    }
}
