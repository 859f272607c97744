//! Local alarms: the pole's siren, strobe, lamps, display and speaker, driven by the
//! alarms plugins raise, on the box alone.
//!
//! * [`config`] — `[alarm]` in `pole.toml`: what each level drives and the rules.
//! * [`pattern`] — on/off patterns of outputs.
//! * [`engine`] — [`AlarmEngine`]: the active alarms, the rules (escalation, siren limit,
//!   expiry, acknowledgement) and what the devices must do at a given moment.
//! * [`driver`] — a thread that advances the engine on time (patterns, limits), so an
//!   alarm never waits on the main loop, a plugin or the network.
//!
//! [`Alarms`] is what the rest of the host uses: every request drives the devices before
//! it returns, and every change is queued upstream (`…/alert/{kind}` for alarms sounded
//! with `sound`, `…/evt/{plugin}/alarm` for the 0.1.0 `raise`). Queuing never blocks an
//! alarm: the outbox only writes to disk, and a record that cannot be queued is logged.

pub mod config;
pub mod driver;
pub mod engine;
pub mod pattern;
pub mod signs;

use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use sao_hardware::{Display, Speaker, Switch};
use serde_json::{json, Map, Value};

pub use config::{AlarmConfig, Level};
pub use engine::{
    Alarm, AlarmEngine, AlarmError, Change, ChangeKind, ClearReason, OutputTest, Request, Selector,
    Showing, TestOutcome,
};
pub use signs::Sign;

use crate::devices::Devices;
use crate::uplink::{Event, EventState, Severity, Source, Uplink};

/// The pole's alarm devices, as the hardware backend built them.
pub struct AlarmDevices {
    /// On/off outputs (siren, strobe, relays).
    pub outputs: Vec<Box<dyn Switch>>,
    /// The message display.
    pub display: Option<Box<dyn Display>>,
    /// The loudspeaker.
    pub speaker: Option<Box<dyn Speaker>>,
}

/// The alarm engine shared by plugins, the controller, the button and the driver.
pub struct Alarms {
    engine: Mutex<AlarmEngine>,
    /// Wakes the driver when an alarm changes.
    changed: Condvar,
    devices: Arc<Devices>,
    uplink: Arc<Uplink>,
    ack_button: Option<String>,
}

impl Alarms {
    /// The engine over `hardware`. Errors when `config` names outputs or patterns the
    /// pole does not have.
    pub fn new(
        config: AlarmConfig,
        hardware: AlarmDevices,
        devices: Arc<Devices>,
        uplink: Arc<Uplink>,
    ) -> anyhow::Result<Self> {
        let ack_button = Some(config.ack_button.clone()).filter(|b| !b.is_empty());
        let engine = AlarmEngine::new(config, hardware.outputs, hardware.display, hardware.speaker)
            .map_err(anyhow::Error::msg)?;
        Ok(Self {
            engine: Mutex::new(engine),
            changed: Condvar::new(),
            devices,
            uplink,
            ack_button,
        })
    }

    fn lock(&self) -> MutexGuard<'_, AlarmEngine> {
        self.engine.lock().expect("alarm engine lock poisoned")
    }

    /// The input whose press acknowledges every alarm, if any.
    pub fn ack_button(&self) -> Option<&str> {
        self.ack_button.as_deref()
    }

    /// Names of the on/off outputs.
    pub fn output_names(&self) -> Vec<String> {
        self.lock().output_names()
    }

    /// Which outputs are on now.
    pub fn output_states(&self) -> Vec<(String, bool)> {
        self.lock().output_states()
    }

    /// The active alarms.
    pub fn active(&self) -> Vec<Alarm> {
        self.lock().active().cloned().collect()
    }

    /// The active alarms, each with what it drives now (see [`AlarmEngine::drives`]).
    pub fn describe(&self) -> Vec<(Alarm, Vec<String>)> {
        let engine = self.lock();
        engine
            .active()
            .map(|a| (a.clone(), engine.drives(a)))
            .collect()
    }

    /// What the pole's display shows now, and for whom.
    pub fn showing(&self) -> Option<Showing> {
        self.lock().showing()
    }

    /// Whether the pole has a display.
    pub fn has_display(&self) -> bool {
        self.lock().has_display()
    }

    /// Makes `sign` `plugin`'s sign and drives the display at once; refuses a malformed
    /// sign with the reason.
    pub fn show_sign(&self, plugin: &str, sign: Sign) -> Result<(), String> {
        let mut engine = self.lock();
        engine.propose_sign(plugin, sign)?;
        self.advance_locked(&mut engine);
        Ok(())
    }

    /// Withdraws `plugin`'s sign (a plugin removed, or its own `clear`).
    pub fn withdraw_sign(&self, plugin: &str) {
        let mut engine = self.lock();
        engine.withdraw_sign(plugin);
        self.advance_locked(&mut engine);
    }

    /// Whether `plugin`'s sign is on the display now.
    pub fn sign_in_front(&self, plugin: &str) -> bool {
        self.lock().sign_in_front(plugin)
    }

    /// Self-tests the outputs (see [`AlarmEngine::self_test`]).
    pub fn self_test(&self) -> Vec<OutputTest> {
        self.lock().self_test()
    }

    /// Alarm `id` of `plugin`, if active.
    pub fn status(&self, plugin: &str, id: u64) -> Option<Alarm> {
        self.lock().get(plugin, id).cloned()
    }

    /// Runs `op` on the engine, drives the devices at once, reports what changed and
    /// wakes the driver for the new timing.
    fn apply<T>(
        &self,
        op: impl FnOnce(&mut AlarmEngine, u64) -> Result<(T, Vec<Change>), AlarmError>,
    ) -> Result<T, AlarmError> {
        let now = self.devices.now_ms();
        let mut engine = self.lock();
        let (value, mut changes) = op(&mut engine, now)?;
        // The driver, woken, works out the new timing itself.
        self.drive(&mut engine, now, &mut changes);
        drop(engine);
        self.changed.notify_all();
        Ok(value)
    }

    /// Sounds an alarm for `source`; returns its id.
    pub fn sound(&self, source: Source, request: Request) -> Result<u64, AlarmError> {
        self.apply(|engine, now| {
            let change = engine.sound(source, request, now)?;
            Ok((change.alarm.id, vec![change]))
        })
    }

    /// Raises an alarm holding `outputs` steadily on (the 0.1.0 `raise`); returns its id.
    pub fn raise(
        &self,
        source: Source,
        outputs: Vec<String>,
        level: Level,
        message: String,
    ) -> Result<u64, AlarmError> {
        self.apply(|engine, now| {
            let change = engine.raise(source, outputs, level, message, now)?;
            Ok((change.alarm.id, vec![change]))
        })
    }

    /// Changes alarm `id` of `plugin`.
    pub fn update(&self, plugin: &str, id: u64, request: Request) -> Result<(), AlarmError> {
        self.apply(|engine, now| Ok(((), vec![engine.update(plugin, id, request, now)?])))
    }

    /// Ends alarm `id` of `plugin`.
    pub fn clear(&self, plugin: &str, id: u64) -> Result<(), AlarmError> {
        self.apply(|engine, _| Ok(((), vec![engine.clear(plugin, id)?])))
    }

    /// Acknowledges the alarms `which` selects; returns how many it acknowledged.
    pub fn acknowledge(&self, which: Selector, by: &str) -> Result<usize, AlarmError> {
        self.apply(|engine, now| {
            let changes = engine.acknowledge(which, by, now)?;
            Ok((changes.len(), changes))
        })
    }

    /// Advances the engine to the pole's present time; returns when it is next due.
    pub fn advance(&self) -> Option<u64> {
        let mut engine = self.lock();
        self.advance_locked(&mut engine)
    }

    fn advance_locked(&self, engine: &mut AlarmEngine) -> Option<u64> {
        let now = self.devices.now_ms();
        self.drive(engine, now, &mut Vec::new())
    }

    /// Drives the devices at `now` and reports `changes` and the rules' own changes.
    fn drive(&self, engine: &mut AlarmEngine, now: u64, changes: &mut Vec<Change>) -> Option<u64> {
        let advance = engine.advance(now);
        self.devices.lamps().set_alarm_level(advance.lamps);
        changes.extend(advance.changes);
        for change in changes.iter() {
            self.report(change, &advance.faults, now);
        }
        advance.next_ms
    }

    /// Queues `change` upstream. The outbox logs a record it cannot queue; the alarm
    /// itself sounds regardless.
    fn report(&self, change: &Change, faults: &[String], now: u64) {
        let alarm = &change.alarm;
        let _ = match alarm.fixed_outputs {
            Some(ref outputs) => self.report_fixed(change, outputs, now),
            None => {
                let body = self.alert_body(change, faults);
                self.uplink
                    .alert(&alarm.source, &alarm.request.kind, body, now)
            }
        };
    }

    /// The 0.1.0 alarm events on `…/evt/{plugin}/alarm`.
    fn report_fixed(
        &self,
        change: &Change,
        outputs: &[String],
        now: u64,
    ) -> Result<(), crate::uplink::OutboxError> {
        let alarm = &change.alarm;
        let (state, what) = match change.kind {
            ChangeKind::Raised => (EventState::Raised, None),
            ChangeKind::Cleared(_) => (EventState::Cleared, None),
            ChangeKind::Acknowledged => (EventState::Info, Some("acknowledged")),
            ChangeKind::Silenced => (EventState::Info, Some("silenced")),
            ChangeKind::Updated | ChangeKind::Escalated => return Ok(()),
        };
        let severity = match alarm.request.level {
            Level::Emergency => Severity::Critical,
            Level::Warning => Severity::Warning,
            Level::Advisory => Severity::Info,
        };
        let mut details = json!({
            "alarm-id": alarm.id,
            "outputs": outputs,
            "level": alarm.request.level.as_str(),
        });
        if let Some(what) = what {
            details["change"] = json!(what);
        }
        self.uplink.event(
            &alarm.source,
            &Event {
                kind: "alarm",
                state,
                severity,
                message: &alarm.request.message.en,
                details,
            },
            now,
        )
    }

    /// The alert record's members after the envelope.
    fn alert_body(&self, change: &Change, faults: &[String]) -> Map<String, Value> {
        let alarm = &change.alarm;
        let (state, reason) = match change.kind {
            ChangeKind::Raised => ("raised", None),
            ChangeKind::Updated => ("updated", None),
            ChangeKind::Escalated => ("escalated", Some("unacknowledged")),
            ChangeKind::Acknowledged => ("acknowledged", None),
            ChangeKind::Silenced => ("silenced", Some("max-duration")),
            ChangeKind::Cleared(ClearReason::Plugin) => ("cleared", Some("plugin")),
            ChangeKind::Cleared(ClearReason::Expired) => ("cleared", Some("expired")),
        };
        let mut body = Map::new();
        body.insert("alarm".into(), json!(alarm.id));
        body.insert("kind".into(), json!(alarm.request.kind));
        body.insert("state".into(), json!(state));
        if let Some(reason) = reason {
            body.insert("reason".into(), json!(reason));
        }
        body.insert("level".into(), json!(alarm.request.level.as_str()));
        body.insert("message".into(), json!(alarm.request.message));
        body.insert("raised-ts".into(), json!(alarm.raised_ms));
        body.insert("audible".into(), json!(alarm.audible()));
        body.insert(
            "acknowledged".into(),
            alarm
                .acknowledged
                .as_ref()
                .map_or(Value::Null, |a| json!({ "by": a.by, "ts": a.ts })),
        );
        if !alarm.request.details.is_null() {
            body.insert("details".into(), alarm.request.details.clone());
        }
        if !faults.is_empty() {
            body.insert("faults".into(), json!(faults));
        }
        if let Some(jpeg) = &change.snapshot {
            body.insert("snapshot".into(), self.uplink.attachment(jpeg));
        }
        body
    }
}
