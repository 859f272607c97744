//! The pole's devices as the host shares them between plugins: lamp arbitration with the
//! lighting fail-safe and the sensor board with its latest readings. (The alarm devices
//! belong to [`crate::alarm`].)

pub mod lamps;
pub mod sensors;

use std::sync::{Arc, Mutex, MutexGuard};

use sao_hardware::{Pole, TimeSource};

pub use lamps::{LampArbiter, LightingPolicy};
pub use sensors::{Reading, SensorBoard};

/// All devices of one pole, each behind its own lock so host calls stay short.
pub struct Devices {
    clock: Arc<dyn TimeSource>,
    lamps: Mutex<LampArbiter>,
    sensors: Mutex<SensorBoard>,
}

impl Devices {
    /// Takes the pole's lamps and sensors. Lamps start at their safe level.
    pub fn new(pole: Pole, clock: Arc<dyn TimeSource>, policy: &LightingPolicy) -> Self {
        Self {
            lamps: Mutex::new(LampArbiter::new(pole.lamps, policy)),
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

    /// Exclusive access to the sensors.
    pub fn sensors(&self) -> MutexGuard<'_, SensorBoard> {
        self.sensors.lock().expect("sensor lock poisoned")
    }
}
