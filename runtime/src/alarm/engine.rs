//! The alarm engine: what the active alarms drive at each moment (outputs with their
//! patterns, lamps, display, speaker) and the rules that change alarms over time
//! (escalation, the siren limit, expiry, acknowledgement). Pure logic over the devices and
//! an explicit `now`; [`super::Alarms`] locks it, publishes its changes and runs it on time.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use sao_hardware::{Display, DisplayMessage, HwError, Speaker, Switch};
use serde_json::Value;

use super::config::{AlarmConfig, LampAction, Level, LevelActions, Levels};
use super::pattern::Pattern;
use super::signs::{Sign, Signs};
use crate::uplink::Source;

/// Longest alarm kind, in bytes (it is a topic segment).
const MAX_KIND_LEN: usize = 32;

/// Why an alarm request failed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AlarmError {
    /// No such output (for `raise`, which names its outputs).
    #[error("no alarm output `{0}` on this pole")]
    UnknownOutput(String),
    /// No such active alarm (or it belongs to another plugin).
    #[error("no active alarm {0}")]
    UnknownAlarm(u64),
    /// The request is malformed.
    #[error("{0}")]
    Invalid(String),
}

/// What a plugin asks for when it sounds an alarm.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// What the alarm is about (`elephant`, `sos`): the alert's topic segment.
    pub kind: String,
    /// Urgency.
    pub level: Level,
    /// Display text and the alert's message.
    pub message: DisplayMessage,
    /// Voice clip to play, by name.
    pub voice: Option<String>,
    /// A JSON object sent with the alert.
    pub details: Value,
    /// An annotated JPEG sent with the alert.
    pub snapshot: Option<Arc<Vec<u8>>>,
}

impl Request {
    fn validate(&self) -> Result<(), AlarmError> {
        let plain = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if self.kind.is_empty() || self.kind.len() > MAX_KIND_LEN || !self.kind.chars().all(plain) {
            return Err(AlarmError::Invalid(format!(
                "alarm kind `{}` must be 1 to {MAX_KIND_LEN} characters of [a-z0-9-]",
                self.kind
            )));
        }
        if !(self.details.is_object() || self.details.is_null()) {
            return Err(AlarmError::Invalid(
                "alarm details must be a JSON object".into(),
            ));
        }
        Ok(())
    }
}

/// Who acknowledged an alarm, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Acknowledgement {
    /// `button` for the pole's button, or the operator's name.
    pub by: String,
    /// Pole time of the acknowledgement.
    pub ts: u64,
}

/// Which alarms an acknowledgement is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selector {
    /// The alarm with this id.
    One(u64),
    /// Every alarm raised at or before this pole time: an operator's "acknowledge all"
    /// covers only the alarms that existed when it was issued, so a replayed one silences
    /// nothing new.
    RaisedBy(u64),
    /// Every active alarm (the button at the pole).
    All,
}

impl Selector {
    fn selects(self, alarm: &Alarm) -> bool {
        match self {
            Selector::One(id) => alarm.id == id,
            Selector::RaisedBy(ts) => alarm.raised_ms <= ts,
            Selector::All => true,
        }
    }
}

/// The result of one output's self-test.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputTest {
    /// Output name.
    pub output: String,
    /// What happened.
    pub outcome: TestOutcome,
}

/// How an output's self-test ended.
#[derive(Debug, Clone, PartialEq)]
pub enum TestOutcome {
    /// It switched on and off as commanded.
    Passed,
    /// It refused a command or did not follow it.
    Failed(String),
    /// Not tested, and why.
    Skipped(String),
}

/// Why an alarm's audible outputs stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Silence {
    /// Someone acknowledged the alarm.
    Acknowledged,
    /// The siren sounded for `siren-max-s`.
    MaxDuration,
}

/// An active alarm.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    /// Unique id (unique across restarts: never below the raise time in ms).
    pub id: u64,
    /// The plugin that raised it.
    pub source: Source,
    /// What was asked (the latest update).
    pub request: Request,
    /// For `raise`: these outputs steadily on, and nothing else.
    pub fixed_outputs: Option<Vec<String>>,
    /// When it was raised.
    pub raised_ms: u64,
    /// When it reached its present level (patterns and the siren limit count from here).
    pub level_since_ms: u64,
    /// When its plugin last raised or updated it.
    pub renewed_ms: u64,
    /// Its acknowledgement, if any.
    pub acknowledged: Option<Acknowledgement>,
    /// Why its audible outputs stopped, if they did.
    pub silenced: Option<Silence>,
    voice_ms: Option<u64>,
}

impl Alarm {
    /// Whether its audible outputs may sound now.
    pub fn audible(&self) -> bool {
        self.silenced.is_none()
    }

    fn set_level(&mut self, level: Level, now: u64) {
        self.request.level = level;
        self.level_since_ms = now;
        self.silenced = self.acknowledged.as_ref().map(|_| Silence::Acknowledged);
        self.voice_ms = None;
    }
}

/// Why an alarm ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClearReason {
    /// Its plugin cleared it.
    Plugin,
    /// Nothing renewed it for `expire-after-s` (alarms raised with fixed outputs never
    /// expire: `raise` has no way to renew them).
    Expired,
}

/// What happened to an alarm.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeKind {
    /// It began.
    Raised,
    /// Its plugin changed it.
    Updated,
    /// An unacknowledged warning became an emergency.
    Escalated,
    /// Someone acknowledged it.
    Acknowledged,
    /// Its siren reached `siren-max-s`.
    Silenced,
    /// It ended.
    Cleared(ClearReason),
}

/// A change to report upstream: the alarm as it stands after the change.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// What happened.
    pub kind: ChangeKind,
    /// The alarm after it happened.
    pub alarm: Alarm,
    /// A snapshot that came with this change.
    pub snapshot: Option<Arc<Vec<u8>>>,
}

impl Change {
    fn of(kind: ChangeKind, alarm: &Alarm) -> Self {
        Self {
            kind,
            alarm: alarm.clone(),
            snapshot: None,
        }
    }
}

/// The result of [`AlarmEngine::advance`].
#[derive(Debug, Default, PartialEq)]
pub struct Advance {
    /// What the rules changed.
    pub changes: Vec<Change>,
    /// The level the lamps must hold for the alarms, if any.
    pub lamps: Option<f32>,
    /// When the engine must advance next (pole ms), if anything is pending.
    pub next_ms: Option<u64>,
    /// Device commands that failed, as `device: error`.
    pub faults: Vec<String>,
}

/// The pole's alarm devices and the alarms driving them.
pub struct AlarmEngine {
    config: AlarmConfig,
    levels: Levels,
    patterns: BTreeMap<String, Pattern>,
    outputs: Vec<Box<dyn Switch>>,
    display: Option<Box<dyn Display>>,
    speaker: Option<Box<dyn Speaker>>,
    active: BTreeMap<u64, Alarm>,
    last_id: u64,
    /// Id of the alarm whose voice clip is playing.
    speaking: Option<u64>,
    /// Devices whose last command failed (each fault is reported once).
    faulty: BTreeSet<String>,
    /// The signs plugins propose for the display when no alarm shows a message.
    signs: Signs,
}

/// What the display shows and on whose behalf.
#[derive(Debug, Clone, PartialEq)]
pub struct Showing {
    /// The texts.
    pub message: DisplayMessage,
    /// `alarm`, or the id of the plugin whose sign it is.
    pub source: String,
}

/// Whether `alarm` has anything audible to silence: an audible output or a voice clip.
fn sounds(levels: &Levels, audible: &[String], alarm: &Alarm) -> bool {
    match &alarm.fixed_outputs {
        Some(fixed) => fixed.iter().any(|o| audible.contains(o)),
        None => {
            let actions = levels.of_alarm(&alarm.request.kind, alarm.request.level);
            actions.outputs.keys().any(|o| audible.contains(o))
                || (actions.voice && alarm.request.voice.is_some())
        }
    }
}

/// When each rule next applies to an alarm (pole ms), if it can.
struct RuleTimes {
    /// An unacknowledged warning becomes an emergency.
    escalation: Option<u64>,
    /// Its audible outputs reach `siren-max-s`.
    silence: Option<u64>,
    /// Nothing renewed it for `expire-after-s`.
    expiry: Option<u64>,
}

/// The rule times of `alarm`: the one place that says which rules apply to which alarms.
fn rule_times(config: &AlarmConfig, levels: &Levels, alarm: &Alarm) -> RuleTimes {
    let escalates = alarm.fixed_outputs.is_none()
        && config.escalate_after_s > 0
        && alarm.request.level == Level::Warning
        && alarm.acknowledged.is_none();
    RuleTimes {
        escalation: escalates.then_some(alarm.level_since_ms + config.escalate_after_s * 1000),
        silence: (alarm.audible() && sounds(levels, &config.audible, alarm))
            .then_some(alarm.level_since_ms + config.siren_max_s * 1000),
        expiry: alarm
            .fixed_outputs
            .is_none()
            .then_some(alarm.renewed_ms + config.expire_after_s * 1000),
    }
}

/// Keeps the earlier of two optional deadlines.
fn earliest(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl AlarmEngine {
    /// Takes the alarm devices, all switched off. Errors when `config` names outputs or
    /// patterns the pole does not have.
    pub fn new(
        config: AlarmConfig,
        outputs: Vec<Box<dyn Switch>>,
        display: Option<Box<dyn Display>>,
        speaker: Option<Box<dyn Speaker>>,
    ) -> Result<Self, String> {
        let names: Vec<String> = outputs.iter().map(|o| o.name().to_string()).collect();
        Ok(Self {
            levels: config.levels(&names)?,
            patterns: config.patterns()?,
            config,
            outputs,
            display,
            speaker,
            active: BTreeMap::new(),
            last_id: 0,
            speaking: None,
            faulty: BTreeSet::new(),
            signs: Signs::default(),
        })
    }

    /// Names of the on/off outputs.
    pub fn output_names(&self) -> Vec<String> {
        self.outputs.iter().map(|o| o.name().to_string()).collect()
    }

    /// Which outputs are on now.
    pub fn output_states(&self) -> Vec<(String, bool)> {
        self.outputs
            .iter()
            .map(|o| (o.name().to_string(), o.is_on()))
            .collect()
    }

    /// What the display shows now and for whom, if it has one and shows anything.
    pub fn showing(&self) -> Option<Showing> {
        let message = self.display.as_ref()?.showing().cloned()?;
        let source = match self.display_message() {
            Some((source, wanted)) if wanted == message => source,
            // The last command failed: what shows is what was wanted before.
            _ => "unknown".to_string(),
        };
        Some(Showing { message, source })
    }

    /// Whether the pole has a display.
    pub fn has_display(&self) -> bool {
        self.display.is_some()
    }

    /// Makes `sign` `plugin`'s sign (checked first); the display follows at the next
    /// [`AlarmEngine::advance`].
    pub fn propose_sign(&mut self, plugin: &str, sign: Sign) -> Result<(), String> {
        sign.check()?;
        self.signs.propose(plugin, sign);
        Ok(())
    }

    /// Withdraws `plugin`'s sign.
    pub fn withdraw_sign(&mut self, plugin: &str) {
        self.signs.withdraw(plugin);
    }

    /// Whether `plugin`'s sign is what the display is meant to show now.
    pub fn sign_in_front(&self, plugin: &str) -> bool {
        self.display.is_some()
            && self
                .display_message()
                .is_some_and(|(source, _)| source == plugin)
    }

    /// Tests every output: each is switched on, must read back on, and is switched off
    /// again (a relay click, too short to sound a siren). Skipped while an alarm is
    /// active, so a test never interrupts one. On GPIO relays without a feedback line the
    /// read-back is the driver's own state, so the test finds drivers that refuse
    /// commands, not a burnt siren horn.
    pub fn self_test(&mut self) -> Vec<OutputTest> {
        let busy = !self.active.is_empty();
        self.outputs
            .iter_mut()
            .map(|output| {
                let outcome = if busy {
                    TestOutcome::Skipped("an alarm is active".into())
                } else {
                    let on = output.set(true).map(|()| {
                        if output.is_on() {
                            Ok(())
                        } else {
                            Err("commanded on, but it did not switch".to_string())
                        }
                    });
                    let off = output.set(false);
                    match (on, off) {
                        (Ok(Ok(())), Ok(())) => TestOutcome::Passed,
                        (Ok(Err(e)), _) => TestOutcome::Failed(e),
                        (Err(e), _) | (_, Err(e)) => TestOutcome::Failed(e.to_string()),
                    }
                };
                OutputTest {
                    output: output.name().to_string(),
                    outcome,
                }
            })
            .collect()
    }

    /// The active alarms, oldest first.
    pub fn active(&self) -> impl Iterator<Item = &Alarm> {
        self.active.values()
    }

    /// What `alarm` drives now, for people: `siren: pulse`, `lamps: flash`,
    /// `voice: elephant-warning`, … (silenced outputs left out).
    pub fn drives(&self, alarm: &Alarm) -> Vec<String> {
        let mut drives: Vec<String> = self
            .outputs
            .iter()
            .filter_map(|o| {
                let pattern = self.pattern_for(alarm, o.name())?;
                let name = self.patterns.iter().find(|(_, p)| *p == pattern)?.0;
                Some(format!("{}: {name}", o.name()))
            })
            .collect();
        if alarm.fixed_outputs.is_none() {
            let actions = self
                .levels
                .of_alarm(&alarm.request.kind, alarm.request.level);
            match actions.lamps {
                LampAction::None => {}
                LampAction::Flash => drives.push("lamps: flash".into()),
                LampAction::Full => drives.push("lamps: full".into()),
            }
            if let Some(clip) = alarm.request.voice.as_ref().filter(|_| actions.voice) {
                if alarm.audible() {
                    drives.push(format!("voice: {clip}"));
                }
            }
        }
        drives
    }

    /// Alarm `id` if `plugin` raised it and it is active.
    pub fn get(&self, plugin: &str, id: u64) -> Option<&Alarm> {
        self.active.get(&id).filter(|a| a.source.plugin == plugin)
    }

    fn new_alarm(
        &mut self,
        source: Source,
        request: Request,
        fixed_outputs: Option<Vec<String>>,
        now: u64,
    ) -> Change {
        let id = (self.last_id + 1).max(now);
        self.last_id = id;
        let alarm = Alarm {
            id,
            source,
            request,
            fixed_outputs,
            raised_ms: now,
            level_since_ms: now,
            renewed_ms: now,
            acknowledged: None,
            silenced: None,
            voice_ms: None,
        };
        let mut change = Change::of(ChangeKind::Raised, &alarm);
        change.snapshot = alarm.request.snapshot.clone();
        change.alarm.request.snapshot = None;
        let mut stored = alarm;
        stored.request.snapshot = None;
        self.active.insert(id, stored);
        change
    }

    /// Sounds an alarm with its level's actions. Advance the engine to drive it.
    pub fn sound(
        &mut self,
        source: Source,
        request: Request,
        now: u64,
    ) -> Result<Change, AlarmError> {
        request.validate()?;
        Ok(self.new_alarm(source, request, None, now))
    }

    /// Raises an alarm holding `outputs` steadily on (the 0.1.0 `raise`).
    pub fn raise(
        &mut self,
        source: Source,
        outputs: Vec<String>,
        level: Level,
        message: String,
        now: u64,
    ) -> Result<Change, AlarmError> {
        if let Some(missing) = outputs
            .iter()
            .find(|name| !self.outputs.iter().any(|o| o.name() == name.as_str()))
        {
            return Err(AlarmError::UnknownOutput(missing.clone()));
        }
        let request = Request {
            kind: "alarm".into(),
            level,
            message: DisplayMessage {
                th: String::new(),
                en: message,
            },
            voice: None,
            details: Value::Null,
            snapshot: None,
        };
        Ok(self.new_alarm(source, request, Some(outputs), now))
    }

    fn owned(&mut self, plugin: &str, id: u64) -> Result<&mut Alarm, AlarmError> {
        self.active
            .get_mut(&id)
            .filter(|a| a.source.plugin == plugin)
            .ok_or(AlarmError::UnknownAlarm(id))
    }

    /// Changes alarm `id` of `plugin` and renews it. A higher level sounds the siren
    /// again (unless the alarm was acknowledged).
    pub fn update(
        &mut self,
        plugin: &str,
        id: u64,
        mut request: Request,
        now: u64,
    ) -> Result<Change, AlarmError> {
        request.validate()?;
        let alarm = self.owned(plugin, id)?;
        if alarm.fixed_outputs.is_some() {
            return Err(AlarmError::Invalid(format!(
                "alarm {id} was raised with fixed outputs; only `clear` applies to it"
            )));
        }
        if request.kind != alarm.request.kind {
            return Err(AlarmError::Invalid(format!(
                "alarm {id} is a `{}` alarm; its kind cannot change",
                alarm.request.kind
            )));
        }
        let snapshot = request.snapshot.take();
        let level = request.level;
        let previous = std::mem::replace(&mut alarm.request, request);
        alarm.request.level = previous.level;
        if level != previous.level {
            alarm.set_level(level, now);
        }
        alarm.renewed_ms = now;
        let mut change = Change::of(ChangeKind::Updated, alarm);
        change.snapshot = snapshot;
        Ok(change)
    }

    /// Ends alarm `id` of `plugin`.
    pub fn clear(&mut self, plugin: &str, id: u64) -> Result<Change, AlarmError> {
        self.owned(plugin, id)?;
        let alarm = self.active.remove(&id).expect("checked above");
        Ok(Change::of(ChangeKind::Cleared(ClearReason::Plugin), &alarm))
    }

    /// Acknowledges the alarms `which` selects: their audible outputs stop and warnings no
    /// longer escalate; lights and display stay until the alarm ends. Acknowledging an
    /// acknowledged alarm changes nothing.
    pub fn acknowledge(
        &mut self,
        which: Selector,
        by: &str,
        now: u64,
    ) -> Result<Vec<Change>, AlarmError> {
        if let Selector::One(id) = which {
            if !self.active.contains_key(&id) {
                return Err(AlarmError::UnknownAlarm(id));
            }
        }
        let mut changes = Vec::new();
        for alarm in self
            .active
            .values_mut()
            .filter(|a| which.selects(a) && a.acknowledged.is_none())
        {
            alarm.acknowledged = Some(Acknowledgement {
                by: by.to_string(),
                ts: now,
            });
            alarm.silenced = Some(Silence::Acknowledged);
            changes.push(Change::of(ChangeKind::Acknowledged, alarm));
        }
        Ok(changes)
    }

    /// Applies the rules at `now` (escalation, the siren limit, expiry) and drives every
    /// device to what the active alarms want at `now`.
    pub fn advance(&mut self, now: u64) -> Advance {
        let mut advance = Advance {
            changes: self.apply_rules(now),
            ..Advance::default()
        };
        advance.next_ms = self.rule_deadline();
        let (outputs_next, faults) = self.drive_outputs(now);
        advance.faults = faults;
        let (lamps, lamps_next) = self.lamp_level(now);
        advance.lamps = lamps;
        let display_faults = self.drive_display();
        let (voice_next, voice_faults) = self.drive_speaker(now);
        advance.faults.extend(display_faults);
        advance.faults.extend(voice_faults);
        advance.next_ms = [outputs_next, lamps_next, voice_next]
            .into_iter()
            .fold(advance.next_ms, earliest);
        advance
    }

    fn apply_rules(&mut self, now: u64) -> Vec<Change> {
        let reached = |at: Option<u64>| at.is_some_and(|at| now >= at);
        let mut changes = Vec::new();
        let mut expired = Vec::new();
        for alarm in self.active.values_mut() {
            if reached(rule_times(&self.config, &self.levels, alarm).escalation) {
                alarm.set_level(Level::Emergency, now);
                changes.push(Change::of(ChangeKind::Escalated, alarm));
            }
            // An escalation restarts the siren's time: read the times again.
            let times = rule_times(&self.config, &self.levels, alarm);
            if reached(times.silence) {
                alarm.silenced = Some(Silence::MaxDuration);
                changes.push(Change::of(ChangeKind::Silenced, alarm));
            }
            if reached(times.expiry) {
                expired.push(alarm.id);
            }
        }
        for id in expired {
            let alarm = self.active.remove(&id).expect("collected above");
            changes.push(Change::of(
                ChangeKind::Cleared(ClearReason::Expired),
                &alarm,
            ));
        }
        changes
    }

    fn rule_deadline(&self) -> Option<u64> {
        self.active.values().fold(None, |next, a| {
            let times = rule_times(&self.config, &self.levels, a);
            [times.escalation, times.silence, times.expiry]
                .into_iter()
                .fold(next, earliest)
        })
    }

    /// The pattern `alarm` drives `output` with, if it drives it now.
    fn pattern_for(&self, alarm: &Alarm, output: &str) -> Option<&Pattern> {
        if self.config.audible.iter().any(|a| a == output) && !alarm.audible() {
            return None;
        }
        match &alarm.fixed_outputs {
            Some(fixed) => fixed
                .iter()
                .any(|o| o == output)
                .then(|| &self.patterns["steady"]),
            None => self
                .levels
                .of_alarm(&alarm.request.kind, alarm.request.level)
                .outputs
                .get(output)
                .map(|name| &self.patterns[name]),
        }
    }

    fn note_fault(&mut self, device: &str, result: Result<(), HwError>) -> Option<String> {
        match result {
            Ok(()) => {
                self.faulty.remove(device);
                None
            }
            Err(e) => {
                tracing::error!(device, "alarm device command failed: {e}");
                self.faulty
                    .insert(device.to_string())
                    .then(|| format!("{device}: {e}"))
            }
        }
    }

    fn drive_outputs(&mut self, now: u64) -> (Option<u64>, Vec<String>) {
        let mut next = None;
        let mut wanted = Vec::with_capacity(self.outputs.len());
        for output in &self.outputs {
            let mut on = false;
            for alarm in self.active.values() {
                if let Some(pattern) = self.pattern_for(alarm, output.name()) {
                    let (is_on, change) = pattern.at(now - alarm.level_since_ms);
                    on |= is_on;
                    next = earliest(next, change.map(|c| alarm.level_since_ms + c));
                }
            }
            wanted.push(on);
        }
        let mut faults = Vec::new();
        for (i, on) in wanted.into_iter().enumerate() {
            let output = &mut self.outputs[i];
            if output.is_on() != on || self.faulty.contains(output.name()) {
                let name = output.name().to_string();
                let result = output.set(on);
                faults.extend(self.note_fault(&name, result));
            }
        }
        (next, faults)
    }

    fn lamp_level(&self, now: u64) -> (Option<f32>, Option<u64>) {
        let Some(strongest) = self
            .active
            .values()
            .filter(|a| a.fixed_outputs.is_none())
            .max_by_key(|a| {
                (
                    self.levels.of_alarm(&a.request.kind, a.request.level).lamps,
                    a.level_since_ms,
                )
            })
        else {
            return (None, None);
        };
        match self
            .levels
            .of_alarm(&strongest.request.kind, strongest.request.level)
            .lamps
        {
            LampAction::None => (None, None),
            LampAction::Full => (Some(100.0), None),
            LampAction::Flash => {
                let (on, change) = self.patterns["flash-lamps"].at(now - strongest.level_since_ms);
                let level = if on { 100.0 } else { 0.0 };
                (Some(level), change.map(|c| strongest.level_since_ms + c))
            }
        }
    }

    /// The alarm that speaks and shows: the highest level, then the latest.
    fn leading(&self, wants: impl Fn(&Alarm, &LevelActions) -> bool) -> Option<&Alarm> {
        self.active
            .values()
            .filter(|a| {
                a.fixed_outputs.is_none()
                    && wants(a, self.levels.of_alarm(&a.request.kind, a.request.level))
            })
            .max_by_key(|a| (a.request.level, a.raised_ms))
    }

    /// What the display must show and on whose behalf: the leading alarm's message,
    /// else the leading sign.
    fn display_message(&self) -> Option<(String, DisplayMessage)> {
        if let Some(alarm) = self.leading(|_, actions| actions.display) {
            return Some(("alarm".into(), alarm.request.message.clone()));
        }
        let (plugin, sign) = self.signs.leading()?;
        Some((plugin.to_string(), sign.message.clone()))
    }

    fn drive_display(&mut self) -> Vec<String> {
        let message = self.display_message().map(|(_, message)| message);
        let Some(display) = self.display.as_mut() else {
            return Vec::new();
        };
        let result = match &message {
            Some(m) if display.showing() != Some(m) => display.show(m),
            None if display.showing().is_some() => display.clear(),
            _ => Ok(()),
        };
        self.note_fault("display", result).into_iter().collect()
    }

    fn drive_speaker(&mut self, now: u64) -> (Option<u64>, Vec<String>) {
        let repeat_ms = self.config.voice_repeat_s * 1000;
        let speaker_clip = self
            .leading(|a, actions| actions.voice && a.audible() && a.request.voice.is_some())
            .map(|a| (a.id, a.request.voice.clone().expect("filtered"), a.voice_ms));
        let Some(speaker) = self.speaker.as_mut() else {
            return (None, Vec::new());
        };
        let (result, next) = match speaker_clip {
            Some((id, clip, played)) => {
                let due = match played {
                    None => true,
                    Some(at) => repeat_ms > 0 && now >= at + repeat_ms,
                };
                let result = if due {
                    self.speaking = Some(id);
                    let alarm = self.active.get_mut(&id).expect("leading alarm is active");
                    alarm.voice_ms = Some(now);
                    speaker.play(&clip)
                } else {
                    Ok(())
                };
                let at = if due { now } else { played.unwrap_or(now) };
                (result, (repeat_ms > 0).then_some(at + repeat_ms))
            }
            None => match self.speaking.take() {
                Some(_) => (speaker.stop(), None),
                None => (Ok(()), None),
            },
        };
        (
            next,
            self.note_fault("speaker", result).into_iter().collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use sao_hardware::sim::{build_sim_pole, FaultKind, FaultSpec, SimConfig};
    use sao_hardware::SimClock;
    use serde_json::json;

    use super::*;

    const T0: u64 = 1_795_219_200_000;

    struct Bench {
        engine: AlarmEngine,
        trace: PathBuf,
        _dir: tempfile::TempDir,
    }

    impl Bench {
        fn new(config: AlarmConfig, faults: Vec<FaultSpec>) -> Self {
            let dir = tempfile::tempdir().unwrap();
            let trace = dir.path().join("trace.jsonl");
            let sim = SimConfig {
                trace: Some(trace.clone()),
                faults,
                ..SimConfig::default()
            };
            let mut pole = build_sim_pole(&sim, Arc::new(SimClock::new(T0))).unwrap();
            let engine = AlarmEngine::new(
                config,
                std::mem::take(&mut pole.outputs),
                pole.display.take(),
                pole.speaker.take(),
            )
            .unwrap();
            Self {
                engine,
                trace,
                _dir: dir,
            }
        }

        fn on(&self, output: &str) -> bool {
            let states = self.engine.output_states();
            states.iter().find(|(o, _)| o == output).unwrap().1
        }

        /// The trace's `(device, state)` lines for `device`.
        fn traced(&self, device: &str) -> Vec<Value> {
            std::fs::read_to_string(&self.trace)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .filter(|l| l["device"] == device)
                .map(|l| l["state"].clone())
                .collect()
        }
    }

    fn source(plugin: &str) -> Source {
        Source {
            plugin: plugin.into(),
            version: "1.0.0".into(),
            dataset: "wildlife".into(),
            dimension: "living".into(),
        }
    }

    fn request(level: Level) -> Request {
        Request {
            kind: "elephant".into(),
            level,
            message: DisplayMessage {
                th: "ช้างป่า".into(),
                en: "Wild elephant".into(),
            },
            voice: Some("elephant-warning".into()),
            details: json!({ "count": 2 }),
            snapshot: None,
        }
    }

    fn kinds(changes: &[Change]) -> Vec<ChangeKind> {
        changes.iter().map(|c| c.kind.clone()).collect()
    }

    #[test]
    fn a_warning_drives_every_device_with_its_patterns() {
        let mut b = Bench::new(AlarmConfig::default(), vec![]);
        let change = b
            .engine
            .sound(source("elephant"), request(Level::Warning), T0)
            .unwrap();
        assert_eq!(change.kind, ChangeKind::Raised);
        assert!(change.alarm.id >= T0, "ids never fall below the raise time");
        let advance = b.engine.advance(T0);
        assert!(b.on("siren") && b.on("strobe"));
        assert_eq!(advance.lamps, Some(100.0), "lamps flash, starting on");
        // The strobe's first flash (100 ms) ends first.
        assert_eq!(advance.next_ms, Some(T0 + 100));
        b.engine.advance(T0 + 600);
        assert!(!b.on("siren"), "pulse: off from 500 to 1000 ms");
        b.engine.advance(T0 + 1_000);
        assert!(b.on("siren"));
        assert_eq!(b.engine.advance(T0 + 800).lamps, Some(0.0));
        assert_eq!(
            b.traced("display"),
            [json!({ "th": "ช้างป่า", "en": "Wild elephant" })]
        );
        assert_eq!(b.traced("speaker"), [json!("elephant-warning")]);
        // The voice repeats every 30 s while audible.
        b.engine.advance(T0 + 30_000);
        assert_eq!(b.traced("speaker").len(), 2);
    }

    #[test]
    fn an_alarm_overrides_the_leading_sign_which_returns_when_it_ends() {
        let mut b = Bench::new(AlarmConfig::default(), vec![]);
        let sign = |en: &str, priority| Sign {
            message: DisplayMessage {
                th: format!("ป้าย {en}"),
                en: en.into(),
            },
            priority,
        };
        b.engine
            .propose_sign("signage", sign("Welcome", 10))
            .unwrap();
        b.engine.propose_sign("ads", sign("Sale", 5)).unwrap();
        b.engine.advance(T0);
        assert!(b.engine.sign_in_front("signage") && !b.engine.sign_in_front("ads"));
        assert_eq!(b.engine.showing().unwrap().source, "signage");
        let id = b
            .engine
            .sound(source("elephant"), request(Level::Warning), T0)
            .unwrap()
            .alarm
            .id;
        b.engine.advance(T0 + 1);
        assert!(!b.engine.sign_in_front("signage"));
        // A new sign during the alarm waits behind it.
        b.engine.propose_sign("signage", sign("Bus 7", 50)).unwrap();
        b.engine.advance(T0 + 2);
        assert_eq!(b.engine.showing().unwrap().source, "alarm");
        b.engine.clear("elephant", id).unwrap();
        b.engine.advance(T0 + 3);
        b.engine.withdraw_sign("signage");
        b.engine.advance(T0 + 4);
        b.engine.withdraw_sign("ads");
        b.engine.advance(T0 + 5);
        let en: Vec<Value> = b
            .traced("display")
            .iter()
            .map(|d| d["en"].clone())
            .collect();
        assert_eq!(
            en,
            [
                json!("Welcome"),
                json!("Wild elephant"),
                json!("Bus 7"),
                json!("Sale"),
                Value::Null
            ]
        );
        let empty = Sign {
            message: DisplayMessage {
                th: String::new(),
                en: " ".into(),
            },
            priority: 10,
        };
        assert_eq!(
            b.engine.propose_sign("signage", empty),
            Err("both texts are empty".into()),
            "an empty sign is refused"
        );
    }

    #[test]
    fn an_unacknowledged_warning_escalates_and_an_acknowledged_one_does_not() {
        let mut b = Bench::new(AlarmConfig::default(), vec![]);
        let first = b
            .engine
            .sound(source("elephant"), request(Level::Warning), T0)
            .unwrap()
            .alarm
            .id;
        let second = b
            .engine
            .sound(source("elephant"), request(Level::Warning), T0 + 1)
            .unwrap()
            .alarm
            .id;
        b.engine
            .acknowledge(Selector::One(second), "operator:ranger", T0 + 10)
            .unwrap();
        let advance = b.engine.advance(T0 + 60_000);
        assert_eq!(kinds(&advance.changes), [ChangeKind::Escalated]);
        assert_eq!(advance.changes[0].alarm.id, first);
        assert_eq!(advance.changes[0].alarm.request.level, Level::Emergency);
        assert_eq!(
            advance.lamps,
            Some(100.0),
            "an emergency holds lamps at full"
        );
        assert_eq!(
            b.engine.get("elephant", second).unwrap().request.level,
            Level::Warning
        );
    }

    #[test]
    fn the_siren_stops_at_its_limit_and_a_higher_level_sounds_it_again() {
        let mut b = Bench::new(AlarmConfig::default(), vec![]);
        let id = b
            .engine
            .sound(source("elephant"), request(Level::Emergency), T0)
            .unwrap()
            .alarm
            .id;
        b.engine.advance(T0);
        assert!(b.on("siren"));
        let advance = b.engine.advance(T0 + 180_000);
        assert_eq!(kinds(&advance.changes), [ChangeKind::Silenced]);
        assert!(!b.on("siren"), "silenced at siren-max-s");
        b.engine.advance(T0 + 180_050);
        assert!(b.on("strobe"), "the strobe goes on");
        assert!(!b.on("siren"));

        let mut b = Bench::new(AlarmConfig::default(), vec![]);
        b.engine
            .sound(source("elephant"), request(Level::Warning), T0)
            .unwrap();
        let id2 = b.engine.active().next().unwrap().id;
        b.engine.advance(T0 + 59_000);
        b.engine
            .acknowledge(Selector::All, "button", T0 + 59_000)
            .unwrap();
        b.engine.advance(T0 + 59_000);
        assert!(!b.on("siren"));
        b.engine
            .update("elephant", id2, request(Level::Emergency), T0 + 70_000)
            .unwrap();
        b.engine.advance(T0 + 70_000);
        assert!(
            !b.on("siren"),
            "an acknowledged alarm stays silent when it rises"
        );
        assert!(id > 0);
    }

    #[test]
    fn acknowledgement_silences_the_siren_and_voice_but_not_the_lights() {
        let mut b = Bench::new(AlarmConfig::default(), vec![]);
        b.engine
            .sound(source("elephant"), request(Level::Emergency), T0)
            .unwrap();
        b.engine.advance(T0);
        let changes = b
            .engine
            .acknowledge(Selector::All, "button", T0 + 5_000)
            .unwrap();
        assert_eq!(kinds(&changes), [ChangeKind::Acknowledged]);
        assert_eq!(
            changes[0].alarm.acknowledged,
            Some(Acknowledgement {
                by: "button".into(),
                ts: T0 + 5_000
            })
        );
        let advance = b.engine.advance(T0 + 5_000);
        assert!(!b.on("siren") && b.on("strobe"));
        assert_eq!(advance.lamps, Some(100.0));
        assert_eq!(
            b.traced("speaker"),
            [json!("elephant-warning"), Value::Null]
        );
        assert!(b
            .engine
            .acknowledge(Selector::All, "button", T0 + 6_000)
            .unwrap()
            .is_empty());
        assert_eq!(
            b.engine.acknowledge(Selector::One(42), "x", T0),
            Err(AlarmError::UnknownAlarm(42))
        );
    }

    #[test]
    fn an_operators_acknowledge_all_covers_only_alarms_raised_before_it() {
        let mut b = Bench::new(AlarmConfig::default(), vec![]);
        b.engine
            .sound(source("elephant"), request(Level::Warning), T0)
            .unwrap();
        let later = b
            .engine
            .sound(source("elephant"), request(Level::Warning), T0 + 60_000)
            .unwrap()
            .alarm
            .id;
        let changes = b
            .engine
            .acknowledge(Selector::RaisedBy(T0 + 1_000), "operator:a", T0 + 61_000)
            .unwrap();
        assert_eq!(changes.len(), 1);
        assert!(b.engine.get("elephant", later).unwrap().audible());
    }

    #[test]
    fn alarms_nobody_renews_expire_but_fixed_ones_do_not() {
        let mut b = Bench::new(AlarmConfig::default(), vec![]);
        let id = b
            .engine
            .sound(source("elephant"), request(Level::Advisory), T0)
            .unwrap()
            .alarm
            .id;
        b.engine
            .raise(
                source("air"),
                vec!["strobe".into()],
                Level::Advisory,
                "AQI".into(),
                T0,
            )
            .unwrap();
        b.engine
            .update("elephant", id, request(Level::Advisory), T0 + 600_000)
            .unwrap();
        assert!(b.engine.advance(T0 + 900_000).changes.is_empty(), "renewed");
        let advance = b.engine.advance(T0 + 1_500_000);
        assert_eq!(
            kinds(&advance.changes),
            [ChangeKind::Cleared(ClearReason::Expired)]
        );
        assert_eq!(b.engine.active().count(), 1, "the fixed alarm stays");
        assert!(b.on("strobe"));
    }

    #[test]
    fn an_output_stays_on_while_any_alarm_holds_it() {
        let mut b = Bench::new(AlarmConfig::default(), vec![]);
        let a = b
            .engine
            .raise(
                source("p"),
                vec!["strobe".into()],
                Level::Warning,
                "a".into(),
                T0,
            )
            .unwrap()
            .alarm
            .id;
        let c = b
            .engine
            .raise(
                source("p"),
                vec!["strobe".into(), "siren".into()],
                Level::Warning,
                "c".into(),
                T0,
            )
            .unwrap()
            .alarm
            .id;
        b.engine.advance(T0);
        b.engine.clear("p", c).unwrap();
        b.engine.advance(T0);
        assert!(b.on("strobe") && !b.on("siren"));
        assert_eq!(b.engine.clear("other", a), Err(AlarmError::UnknownAlarm(a)));
        b.engine.clear("p", a).unwrap();
        b.engine.advance(T0);
        assert!(!b.on("strobe"));
        assert!(matches!(
            b.engine
                .raise(source("p"), vec!["horn".into()], Level::Warning, "x".into(), T0),
            Err(AlarmError::UnknownOutput(o)) if o == "horn"
        ));
    }

    #[test]
    fn malformed_requests_are_refused() {
        let mut b = Bench::new(AlarmConfig::default(), vec![]);
        for kind in ["", "Elephant", "a/b", &"x".repeat(33)] {
            let mut r = request(Level::Warning);
            r.kind = kind.to_string();
            assert!(matches!(
                b.engine.sound(source("p"), r, T0),
                Err(AlarmError::Invalid(m)) if m.contains("alarm kind")
            ));
        }
        let mut r = request(Level::Warning);
        r.details = json!([1, 2]);
        assert!(b.engine.sound(source("p"), r, T0).is_err());
        let id = b
            .engine
            .sound(source("p"), request(Level::Warning), T0)
            .unwrap()
            .alarm
            .id;
        let mut r = request(Level::Warning);
        r.kind = "sos".into();
        assert!(matches!(
            b.engine.update("p", id, r, T0),
            Err(AlarmError::Invalid(m)) if m.contains("cannot change")
        ));
        assert_eq!(
            b.engine.update("q", id, request(Level::Warning), T0),
            Err(AlarmError::UnknownAlarm(id))
        );
    }

    #[test]
    fn a_faulty_siren_never_stops_the_other_outputs() {
        let fault = FaultSpec {
            device: "siren".into(),
            from_ms: 0,
            until_ms: None,
            kind: FaultKind::Fail,
            offset: 0.0,
        };
        let mut b = Bench::new(AlarmConfig::default(), vec![fault]);
        b.engine
            .sound(source("p"), request(Level::Emergency), T0)
            .unwrap();
        let advance = b.engine.advance(T0);
        assert!(b.on("strobe"));
        assert_eq!(advance.faults.len(), 1);
        assert!(advance.faults[0].starts_with("siren: "));
        assert!(b.engine.advance(T0 + 10).faults.is_empty(), "reported once");
    }

    #[test]
    fn the_self_test_finds_outputs_that_refuse_or_do_not_follow() {
        let fault = |device: &str, kind| FaultSpec {
            device: device.into(),
            from_ms: 0,
            until_ms: None,
            kind,
            offset: 0.0,
        };
        let mut b = Bench::new(
            AlarmConfig::default(),
            vec![fault("siren", FaultKind::Silent)],
        );
        let results = b.engine.self_test();
        assert_eq!(results.len(), 2);
        assert!(
            matches!(&results[0].outcome, TestOutcome::Failed(e) if e.contains("did not switch"))
        );
        assert_eq!(results[1].outcome, TestOutcome::Passed);
        assert!(!b.on("strobe"), "left off");

        let mut b = Bench::new(
            AlarmConfig::default(),
            vec![fault("strobe", FaultKind::Fail)],
        );
        let results = b.engine.self_test();
        assert_eq!(results[0].outcome, TestOutcome::Passed);
        assert!(matches!(&results[1].outcome, TestOutcome::Failed(e) if e.contains("strobe")));

        b.engine
            .sound(source("p"), request(Level::Warning), T0)
            .unwrap();
        assert!(b
            .engine
            .self_test()
            .iter()
            .all(|t| matches!(t.outcome, TestOutcome::Skipped(_))));
    }

    #[test]
    fn level_config_must_name_real_outputs_and_patterns() {
        let config = |text: &str| toml::from_str::<AlarmConfig>(text).unwrap();
        let outputs = ["siren".to_string(), "strobe".to_string()];
        let levels = |extra: &str| {
            config(&format!(
                "[levels.advisory]\n[levels.warning]\n[levels.emergency]\n{extra}"
            ))
        };
        let err = config(
            "[levels.advisory]\n[levels.warning]\n[levels.emergency]\noutputs = { horn = \"steady\" }",
        )
        .levels(&outputs)
        .unwrap_err();
        assert!(err.contains("no output `horn`"), "{err}");
        let err = levels("outputs = { siren = \"disco\" }")
            .levels(&outputs)
            .unwrap_err();
        assert!(err.contains("no pattern `disco`"), "{err}");
        let err = config("[patterns]\nodd = [100]").patterns().unwrap_err();
        assert!(err.contains("alarm.patterns.odd"), "{err}");
        // The defaults skip outputs a pole does not have.
        let defaults = AlarmConfig::default().levels(&["relay".into()]).unwrap();
        assert!(defaults.warning.outputs.is_empty());
        assert!(defaults.kinds["sos"].outputs.is_empty());
        assert!(toml::from_str::<AlarmConfig>("sirens = 1").is_err());
        let err = config("[kinds.sos]\noutputs = { horn = \"steady\" }")
            .levels(&outputs)
            .unwrap_err();
        assert!(err.contains("alarm.kinds.sos: no output `horn`"), "{err}");
    }

    #[test]
    fn an_sos_lights_the_scene_and_answers_by_voice_without_the_siren() {
        let mut b = Bench::new(AlarmConfig::default(), Vec::new());
        let mut sos = request(Level::Emergency);
        sos.kind = "sos".into();
        sos.voice = Some("sos-ack".into());
        let change = b.engine.sound(source("sao"), sos, T0).unwrap();
        let advance = b.engine.advance(T0);
        assert!(b.on("strobe"));
        assert!(!b.on("siren"), "a caller is answered, not deafened");
        assert_eq!(advance.lamps, Some(100.0));
        assert_eq!(
            b.engine.drives(&change.alarm),
            ["strobe: flash", "lamps: full", "voice: sos-ack"]
        );
        // Other kinds at the same level still wail.
        b.engine
            .sound(source("p"), request(Level::Emergency), T0)
            .unwrap();
        b.engine.advance(T0);
        assert!(b.on("siren"));
    }
}
