//! The pole's devices as the host shares them between plugins: lamp arbitration with the
//! lighting fail-safe, alarm outputs, and the sensor board with its latest readings.

pub mod alarms;
pub mod lamps;
pub mod sensors;

use std::sync::{Arc, Mutex, MutexGuard};

use sao_hardware::{Pole, TimeSource};

pub use alarms::AlarmOutputs;
pub use lamps::{LampArbiter, LightingPolicy};
pub use sensors::{Reading, SensorBoard};

/// All devices of one pole, each behind its own lock so host calls stay short.
pub struct Devices {
    clock: Arc<dyn TimeSource>,
    lamps: Mutex<LampArbiter>,
    alarms: Mutex<AlarmOutputs>,
    sensors: Mutex<SensorBoard>,
}

impl Devices {
    /// Takes ownership of the pole's hardware. Lamps start at their safe level.
    pub fn new(pole: Pole, clock: Arc<dyn TimeSource>, policy: &LightingPolicy) -> Self {
        Self {
            lamps: Mutex::new(LampArbiter::new(pole.lamps, policy)),
            alarms: Mutex::new(AlarmOutputs::new(pole.outputs)),
            sensors: Mutex::new(SensorBoard::new(pole.sensors)),
            clock,
        }
    }

    /// The pole's clock (virtual in `sao sim`).
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// The clock itself.
    pub fn clock(&self) -> &Arc<dyn TimeSource> {
        &self.clock
    }

    /// Exclusive access to the lamps.
    pub fn lamps(&self) -> MutexGuard<'_, LampArbiter> {
        self.lamps.lock().expect("lamp lock poisoned")
    }

    /// Exclusive access to the alarm outputs.
    pub fn alarms(&self) -> MutexGuard<'_, AlarmOutputs> {
        self.alarms.lock().expect("alarm lock poisoned")
    }

    /// Exclusive access to the sensors.
    pub fn sensors(&self) -> MutexGuard<'_, SensorBoard> {
        self.sensors.lock().expect("sensor lock poisoned")
    }
}
