//! Adapters from `embedded-hal` 1.0 devices to the pole traits.
//!
//! Any driver or HAL implementing the `embedded-hal` traits plugs in here; the simulator
//! ([`crate::sim`]) and the Raspberry Pi backend (`crate::rpi`) both use these adapters.
//!
//! | adapter      | embedded-hal trait | pole trait        |
//! |--------------|--------------------|-------------------|
//! | [`PwmLamp`]  | `pwm::SetDutyCycle` | [`DimmableLamp`] |
//! | [`PinSwitch`]| `digital::OutputPin`| [`Switch`]       |
//! | [`LatchingInput`]| `digital::InputPin` | [`Sensor`]       |
//! | [`Bh1750`]   | `i2c::I2c` + `delay::DelayNs` | [`Sensor`] |

use std::sync::Arc;

use embedded_hal::delay::DelayNs;
use embedded_hal::digital::{InputPin, OutputPin};
use embedded_hal::i2c::I2c;
use embedded_hal::pwm::SetDutyCycle;

use crate::power::{Fade, PowerModel};
use crate::{DimmableLamp, EnergyReading, HwError, Sensor, Switch, TimeSource};

/// A lamp dimmed by a PWM duty cycle, with a software fade and modelled energy.
///
/// The level is interpolated linearly from the level at the moment of `set_level` to the
/// target over `fade_ms`. The duty cycle follows the level whenever [`DimmableLamp::level`],
/// [`DimmableLamp::energy`] or [`DimmableLamp::set_level`] is called (and only is written when
/// it changes), so call one of them periodically during a fade. Energy comes from
/// [`PowerModel`] and is integrated exactly, independent of the call rate.
///
/// A duty-cycle write that fails in `level()` (which cannot return an error) is retried
/// and reported by the next `energy()` or `set_level()`.
pub struct PwmLamp<P> {
    pwm: P,
    clock: Arc<dyn TimeSource>,
    id: String,
    power: PowerModel,
    fade: Fade,
    energy_wh: f64,
    accounted_ms: u64,
    written_duty: Option<u16>,
}

impl<P: SetDutyCycle> PwmLamp<P> {
    /// Wrap `pwm`; the lamp starts off (duty 0 is written immediately).
    pub fn new(
        pwm: P,
        clock: Arc<dyn TimeSource>,
        id: impl Into<String>,
        rated_watts: f64,
        standby_watts: f64,
    ) -> Result<Self, HwError> {
        let id = id.into();
        let power = PowerModel::new(rated_watts, standby_watts)
            .map_err(|e| HwError::Config(format!("lamp `{id}`: {e}")))?;
        let now = clock.now_ms();
        let mut lamp = Self {
            pwm,
            clock,
            id,
            power,
            fade: Fade::steady(0.0, now),
            energy_wh: 0.0,
            accounted_ms: now,
            written_duty: None,
        };
        lamp.write_duty(0.0)?;
        Ok(lamp)
    }

    /// Integrate energy up to now and return the present level. Time never runs backwards
    /// for the lamp: a clock set back reads as the last time accounted for.
    fn advance(&mut self) -> f64 {
        let now = self.clock.now_ms();
        if now > self.accounted_ms {
            self.energy_wh += self.fade.energy_wh(&self.power, self.accounted_ms, now);
            self.accounted_ms = now;
        }
        self.fade.level_at(self.accounted_ms)
    }

    fn duty_for(&self, level: f64) -> u16 {
        let max = f64::from(self.pwm.max_duty_cycle());
        // level is clamped to 0..=100, so the product fits in u16.
        (level.clamp(0.0, 100.0) / 100.0 * max).round() as u16
    }

    fn write_duty(&mut self, level: f64) -> Result<(), HwError> {
        let duty = self.duty_for(level);
        if self.written_duty != Some(duty) {
            self.pwm
                .set_duty_cycle(duty)
                .map_err(|e| HwError::fault(&self.id, format!("PWM write failed: {e:?}")))?;
            self.written_duty = Some(duty);
        }
        Ok(())
    }
}

impl<P: SetDutyCycle + Send> DimmableLamp for PwmLamp<P> {
    fn id(&self) -> &str {
        &self.id
    }

    fn rated_watts(&self) -> f64 {
        self.power.rated_watts()
    }

    fn set_level(&mut self, percent: f32, fade_ms: u32) -> Result<(), HwError> {
        if !percent.is_finite() {
            return Err(HwError::InvalidArgument(format!(
                "lamp `{}`: level must be finite, got {percent}",
                self.id
            )));
        }
        let current = self.advance();
        let fade = Fade {
            from: current,
            to: f64::from(percent.clamp(0.0, 100.0)),
            start_ms: self.accounted_ms,
            duration_ms: u64::from(fade_ms),
        };
        // Commit the new fade only once the driver accepted the first duty of it.
        self.write_duty(fade.level_at(fade.start_ms))?;
        self.fade = fade;
        Ok(())
    }

    fn level(&mut self) -> f32 {
        let level = self.advance();
        // A failed write is retried and surfaced by energy()/set_level(); see the type docs.
        let _ = self.write_duty(level);
        level as f32
    }

    fn target_level(&self) -> f32 {
        self.fade.to as f32
    }

    fn energy(&mut self) -> Result<EnergyReading, HwError> {
        let level = self.advance();
        self.write_duty(level)?;
        Ok(EnergyReading {
            total_kwh: self.energy_wh / 1000.0,
            watts: self.power.watts(level),
        })
    }
}

/// An on/off output on a digital pin, optionally active-low (common for relay boards).
pub struct PinSwitch<P> {
    pin: P,
    name: String,
    active_low: bool,
    on: bool,
}

impl<P: OutputPin> PinSwitch<P> {
    /// Wrap `pin`; the output is switched off immediately.
    pub fn new(pin: P, name: impl Into<String>, active_low: bool) -> Result<Self, HwError> {
        let mut switch = Self {
            pin,
            name: name.into(),
            active_low,
            on: true,
        };
        switch.set_pin(false)?;
        switch.on = false;
        Ok(switch)
    }

    fn set_pin(&mut self, on: bool) -> Result<(), HwError> {
        let result = if on != self.active_low {
            self.pin.set_high()
        } else {
            self.pin.set_low()
        };
        result.map_err(|e| HwError::fault(&self.name, format!("GPIO write failed: {e:?}")))
    }
}

impl<P: OutputPin + Send> Switch for PinSwitch<P> {
    fn name(&self) -> &str {
        &self.name
    }

    fn set(&mut self, on: bool) -> Result<(), HwError> {
        self.set_pin(on)?;
        self.on = on;
        Ok(())
    }

    fn is_on(&self) -> bool {
        self.on
    }
}

/// A digital input that latches: a PIR motion detector (e.g. HC-SR501, high while it sees
/// motion) or a push button (the SOS or the acknowledge button, high while pressed).
///
/// The pin is sampled on every [`Sensor::read`] and on every [`LatchingInput::poll`]; a high
/// sample is latched until the next read, which returns 1.0 (else 0.0). Call `poll` more
/// often than the PIR's hold time (or a button press) if reads are infrequent. Unit `"1"`.
pub struct LatchingInput<P> {
    pin: P,
    name: String,
    latched: bool,
}

impl<P: InputPin> LatchingInput<P> {
    /// Wrap `pin` as the sensor `name` (`"motion"`, `"sos"`, `"button"`).
    pub fn new(pin: P, name: impl Into<String>) -> Self {
        Self {
            pin,
            name: name.into(),
            latched: false,
        }
    }

    /// Sample the pin and latch a high level without consuming it.
    pub fn poll(&mut self) -> Result<(), HwError> {
        let high = self
            .pin
            .is_high()
            .map_err(|e| HwError::fault(&self.name, format!("GPIO read failed: {e:?}")))?;
        self.latched |= high;
        Ok(())
    }
}

impl<P: InputPin + Send> Sensor for LatchingInput<P> {
    fn name(&self) -> &str {
        &self.name
    }

    fn unit(&self) -> &str {
        "1"
    }

    fn read(&mut self) -> Result<Option<f64>, HwError> {
        self.poll()?;
        let motion = std::mem::take(&mut self.latched);
        Ok(Some(if motion { 1.0 } else { 0.0 }))
    }
}

/// ROHM BH1750FVI ambient-light sensor on I²C, read in one-time high-resolution mode.
///
/// Each read writes opcode `0x20` (one-time H-resolution mode; the chip powers down
/// afterwards), waits the datasheet's maximum measurement time of 180 ms, reads two bytes
/// (big-endian) and converts with the datasheet's default factor: `lux = raw / 1.2`
/// (range 0–54 612 lx, 1 lx resolution). Unit `"lx"`.
pub struct Bh1750<I, D> {
    i2c: I,
    delay: D,
    address: u8,
    name: String,
}

/// BH1750 I²C address with the ADDR pin low (the usual breakout default).
pub const BH1750_ADDRESS_LOW: u8 = 0x23;
/// BH1750 I²C address with the ADDR pin high.
pub const BH1750_ADDRESS_HIGH: u8 = 0x5C;
/// BH1750 opcode for a one-time high-resolution (1 lx) measurement.
const BH1750_ONE_TIME_H_RES: u8 = 0x20;
/// BH1750 maximum measurement time in H-resolution mode, in ms.
const BH1750_MEASUREMENT_MS: u32 = 180;

impl<I: I2c, D: DelayNs> Bh1750<I, D> {
    /// A sensor named `name` (usually `"lux"`) at I²C `address`.
    pub fn new(i2c: I, delay: D, address: u8, name: impl Into<String>) -> Self {
        Self {
            i2c,
            delay,
            address,
            name: name.into(),
        }
    }
}

impl<I: I2c + Send, D: DelayNs + Send> Sensor for Bh1750<I, D> {
    fn name(&self) -> &str {
        &self.name
    }

    fn unit(&self) -> &str {
        "lx"
    }

    fn read(&mut self) -> Result<Option<f64>, HwError> {
        let fault = |e: I::Error, what: &str| HwError::fault(&self.name, format!("{what}: {e:?}"));
        self.i2c
            .write(self.address, &[BH1750_ONE_TIME_H_RES])
            .map_err(|e| fault(e, "I2C write failed"))?;
        self.delay.delay_ms(BH1750_MEASUREMENT_MS);
        let mut buf = [0u8; 2];
        self.i2c
            .read(self.address, &mut buf)
            .map_err(|e| fault(e, "I2C read failed"))?;
        Ok(Some(f64::from(u16::from_be_bytes(buf)) / 1.2))
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use embedded_hal::i2c::{ErrorKind, ErrorType, Operation};

    use super::*;
    use crate::SimClock;

    /// PWM that records writes and can be told to fail.
    struct TestPwm {
        writes: Vec<u16>,
        fail: bool,
    }

    impl embedded_hal::pwm::ErrorType for TestPwm {
        type Error = embedded_hal::pwm::ErrorKind;
    }

    impl SetDutyCycle for TestPwm {
        fn max_duty_cycle(&self) -> u16 {
            1000
        }
        fn set_duty_cycle(&mut self, duty: u16) -> Result<(), Self::Error> {
            if self.fail {
                return Err(embedded_hal::pwm::ErrorKind::Other);
            }
            self.writes.push(duty);
            Ok(())
        }
    }

    fn lamp(clock: &Arc<SimClock>) -> PwmLamp<TestPwm> {
        let pwm = TestPwm {
            writes: Vec::new(),
            fail: false,
        };
        PwmLamp::new(pwm, clock.clone(), "l1", 100.0, 0.5).unwrap()
    }

    #[test]
    fn fade_interpolates_and_drives_duty() {
        let clock = Arc::new(SimClock::new(1_000));
        let mut l = lamp(&clock);
        assert_eq!(l.pwm.writes, vec![0]);
        l.set_level(80.0, 4_000).unwrap();
        assert_eq!(l.target_level(), 80.0);
        clock.advance(1_000);
        assert!((l.level() - 20.0).abs() < 1e-4);
        assert_eq!(l.pwm.writes, vec![0, 200]);
        clock.advance(10_000);
        assert_eq!(l.level(), 80.0);
        assert_eq!(*l.pwm.writes.last().unwrap(), 800);
        // Retarget mid-way: the new fade starts from the present level.
        l.set_level(0.0, 2_000).unwrap();
        clock.advance(1_000);
        assert!((l.level() - 40.0).abs() < 1e-4);
        assert!(l.set_level(f32::NAN, 0).is_err());
    }

    #[test]
    fn energy_is_independent_of_sampling() {
        let hour = 3_600_000u64;
        let c1 = Arc::new(SimClock::new(0));
        let c2 = Arc::new(SimClock::new(0));
        let (mut a, mut b) = (lamp(&c1), lamp(&c2));
        a.set_level(100.0, 3_600_000).unwrap();
        b.set_level(100.0, 3_600_000).unwrap();
        // a is read every 7 s, b only at the end.
        while c1.now_ms() + 7_000 <= 2 * hour {
            c1.advance(7_000);
            a.energy().unwrap();
        }
        c1.set(2 * hour);
        c2.set(2 * hour);
        let (ea, eb) = (a.energy().unwrap(), b.energy().unwrap());
        // 1 h fade (mean 50 W) + 1 h at 100 W + 2 h standby = 151 Wh.
        assert!((eb.total_kwh - 0.151).abs() < 1e-12, "{eb:?}");
        assert!((ea.total_kwh - eb.total_kwh).abs() < 1e-12);
        assert!((eb.watts - 100.5).abs() < 1e-12);
    }

    #[test]
    fn full_power_hour_is_a_tenth_kwh_plus_standby() {
        let clock = Arc::new(SimClock::new(0));
        let mut l = lamp(&clock);
        l.set_level(100.0, 0).unwrap();
        clock.advance(3_600_000);
        let e = l.energy().unwrap();
        assert!((e.total_kwh - 0.1005).abs() < 1e-12, "{e:?}");
    }

    #[test]
    fn failed_write_keeps_previous_fade() {
        let clock = Arc::new(SimClock::new(0));
        let mut l = lamp(&clock);
        l.pwm.fail = true;
        let err = l.set_level(50.0, 0).unwrap_err();
        assert!(matches!(err, HwError::Fault { ref device, .. } if device == "l1"));
        assert_eq!(l.target_level(), 0.0);
        l.pwm.fail = false;
        l.set_level(50.0, 1_000).unwrap();
        l.pwm.fail = true;
        clock.advance(500);
        assert_eq!(l.level(), 25.0);
        assert!(l.energy().is_err());
        l.pwm.fail = false;
        assert!(l.energy().is_ok());
        assert_eq!(*l.pwm.writes.last().unwrap(), 250);
    }

    struct TestPin {
        high: bool,
    }

    impl embedded_hal::digital::ErrorType for TestPin {
        type Error = Infallible;
    }

    impl OutputPin for TestPin {
        fn set_low(&mut self) -> Result<(), Infallible> {
            self.high = false;
            Ok(())
        }
        fn set_high(&mut self) -> Result<(), Infallible> {
            self.high = true;
            Ok(())
        }
    }

    impl InputPin for TestPin {
        fn is_high(&mut self) -> Result<bool, Infallible> {
            Ok(self.high)
        }
        fn is_low(&mut self) -> Result<bool, Infallible> {
            Ok(!self.high)
        }
    }

    #[test]
    fn pin_switch_active_low() {
        let mut s = PinSwitch::new(TestPin { high: false }, "relay", true).unwrap();
        assert!(s.pin.high, "active-low output idles high");
        assert!(!s.is_on());
        s.set(true).unwrap();
        assert!(!s.pin.high && s.is_on());
        let mut s = PinSwitch::new(TestPin { high: true }, "siren", false).unwrap();
        assert!(!s.pin.high);
        s.set(true).unwrap();
        assert!(s.pin.high);
    }

    #[test]
    fn pir_latches_polled_motion() {
        let mut pir = LatchingInput::new(TestPin { high: false }, "motion");
        assert_eq!(pir.read().unwrap(), Some(0.0));
        pir.pin.high = true;
        pir.poll().unwrap();
        pir.pin.high = false;
        assert_eq!(pir.read().unwrap(), Some(1.0));
        assert_eq!(pir.read().unwrap(), Some(0.0));
        assert_eq!(pir.unit(), "1");
    }

    /// BH1750 stand-in: expects the one-shot opcode, then returns a fixed raw value.
    struct TestI2c {
        raw: u16,
        triggered: bool,
    }

    impl ErrorType for TestI2c {
        type Error = ErrorKind;
    }

    impl I2c for TestI2c {
        fn transaction(&mut self, addr: u8, ops: &mut [Operation<'_>]) -> Result<(), ErrorKind> {
            if addr != 0x23 {
                return Err(ErrorKind::NoAcknowledge(
                    embedded_hal::i2c::NoAcknowledgeSource::Address,
                ));
            }
            for op in ops {
                match op {
                    Operation::Write(bytes) => self.triggered = bytes == &[0x20],
                    Operation::Read(buf) if self.triggered => {
                        buf.copy_from_slice(&self.raw.to_be_bytes())
                    }
                    Operation::Read(_) => return Err(ErrorKind::Other),
                }
            }
            Ok(())
        }
    }

    struct NoDelay;

    impl DelayNs for NoDelay {
        fn delay_ns(&mut self, _ns: u32) {}
    }

    #[test]
    fn bh1750_converts_raw_counts() {
        let i2c = TestI2c {
            raw: 1200,
            triggered: false,
        };
        let mut s = Bh1750::new(i2c, NoDelay, BH1750_ADDRESS_LOW, "lux");
        assert_eq!(s.read().unwrap(), Some(1000.0));
        let i2c = TestI2c {
            raw: 1,
            triggered: false,
        };
        let mut s = Bh1750::new(i2c, NoDelay, BH1750_ADDRESS_HIGH, "lux");
        assert!(matches!(s.read(), Err(HwError::Fault { .. })));
    }
}
