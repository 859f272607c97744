//! The simulated pole's display and speaker, and the device trace: a JSON-lines record of
//! everything the pole's actuators did, for tests, benchmarks and the demo to watch.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::{
    device::{Display, DisplayMessage, Speaker},
    DimmableLamp, EnergyReading, HwError, Switch, TimeSource,
};

/// Appends one JSON line per actuator change: `{"ts", "wall-ms", "device", "state"}`,
/// `ts` on the pole's clock (virtual in `sao sim`) and `wall-ms` the operating system's
/// time of the change, to the microsecond (for latency measurements). Each line is
/// flushed, so a reader sees it at once.
pub struct DeviceTrace {
    out: Mutex<BufWriter<File>>,
    clock: Arc<dyn TimeSource>,
}

impl DeviceTrace {
    /// Creates (truncates) the trace file at `path`.
    pub fn create(path: &Path, clock: Arc<dyn TimeSource>) -> Result<Arc<Self>, HwError> {
        let file = File::create(path)
            .map_err(|e| HwError::Config(format!("cannot create trace {}: {e}", path.display())))?;
        Ok(Arc::new(Self {
            out: Mutex::new(BufWriter::new(file)),
            clock,
        }))
    }

    /// Records that `device` changed to `state`.
    pub fn record(&self, device: &str, state: Value) {
        let wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        let line = json!({
            "ts": self.clock.now_ms(),
            "wall-ms": (wall_ms * 1000.0).round() / 1000.0,
            "device": device,
            "state": state,
        });
        let mut out = self.out.lock().expect("trace lock poisoned");
        // A trace is an observer: failing to write it must not fail the device.
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    }
}

/// A device whose effective changes are recorded in a [`DeviceTrace`] (when there is one).
pub(super) struct Traced<D> {
    inner: D,
    trace: Option<Arc<DeviceTrace>>,
}

impl<D> Traced<D> {
    /// `inner`, recorded in `trace` if there is one.
    pub(super) fn new(inner: D, trace: &Option<Arc<DeviceTrace>>) -> Self {
        Self {
            inner,
            trace: trace.clone(),
        }
    }

    fn record(&self, device: &str, state: Value) {
        if let Some(trace) = &self.trace {
            trace.record(device, state);
        }
    }
}

impl<W: Switch> Switch for Traced<W> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn set(&mut self, on: bool) -> Result<(), HwError> {
        let was = self.inner.is_on();
        self.inner.set(on)?;
        if was != on {
            self.record(self.inner.name(), json!(on));
        }
        Ok(())
    }

    fn is_on(&self) -> bool {
        self.inner.is_on()
    }
}

impl<L: DimmableLamp> DimmableLamp for Traced<L> {
    fn id(&self) -> &str {
        self.inner.id()
    }

    fn rated_watts(&self) -> f64 {
        self.inner.rated_watts()
    }

    fn set_level(&mut self, percent: f32, fade_ms: u32) -> Result<(), HwError> {
        let was = self.inner.target_level();
        self.inner.set_level(percent, fade_ms)?;
        if was != percent {
            self.record(self.inner.id(), json!(percent));
        }
        Ok(())
    }

    fn level(&mut self) -> f32 {
        self.inner.level()
    }

    fn target_level(&self) -> f32 {
        self.inner.target_level()
    }

    fn energy(&mut self) -> Result<EnergyReading, HwError> {
        self.inner.energy()
    }
}

/// A display that keeps what it shows (device name `display` in the trace).
#[derive(Default)]
pub struct SimDisplay {
    showing: Option<DisplayMessage>,
}

impl Display for Traced<SimDisplay> {
    fn show(&mut self, message: &DisplayMessage) -> Result<(), HwError> {
        if self.inner.showing.as_ref() != Some(message) {
            self.record("display", json!(message));
            self.inner.showing = Some(message.clone());
        }
        Ok(())
    }

    fn clear(&mut self) -> Result<(), HwError> {
        if self.inner.showing.take().is_some() {
            self.record("display", Value::Null);
        }
        Ok(())
    }

    fn showing(&self) -> Option<&DisplayMessage> {
        self.inner.showing.as_ref()
    }
}

/// A speaker with a fixed list of clips (device name `speaker` in the trace: the clip
/// started, or `null` when stopped).
pub struct SimSpeaker {
    clips: Vec<String>,
    playing: Option<String>,
}

impl SimSpeaker {
    /// A speaker that has `clips`.
    pub fn new(clips: Vec<String>) -> Self {
        Self {
            clips,
            playing: None,
        }
    }
}

impl Speaker for Traced<SimSpeaker> {
    fn clips(&self) -> Vec<String> {
        self.inner.clips.clone()
    }

    fn play(&mut self, clip: &str) -> Result<(), HwError> {
        if !self.inner.clips.iter().any(|c| c == clip) {
            return Err(HwError::Config(format!("no voice clip `{clip}`")));
        }
        self.record("speaker", json!(clip));
        self.inner.playing = Some(clip.to_owned());
        Ok(())
    }

    fn stop(&mut self) -> Result<(), HwError> {
        if self.inner.playing.take().is_some() {
            self.record("speaker", Value::Null);
        }
        Ok(())
    }
}
