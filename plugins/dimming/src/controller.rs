//! The dimming logic, free of WIT types: decides each lamp's level, keeps the energy
//! accounts and reports them. Everything it needs from the pole goes through [`Host`].
//!
//! Each tick the controller
//! 1. reads the lamps' meters and adds the energy used since the previous tick, and the
//!    baseline (the replaced lamp full on from sunset to sunrise) for the same span;
//! 2. notices the night's switch-on and switch-off; at switch-off it publishes
//!    `energy-daily` for the period since the previous report (so daytime lighting
//!    ordered by the photocell counts against the saving) and starts a new period;
//! 3. decides the level and sends it to every lamp — every tick, because the host treats
//!    a silent controller as dead — publishing `lamp` when the level changes;
//! 4. persists its state in kv, so a restarted plugin resumes its accounts.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sun::SunPhase;

use crate::astro::{self, Site, Window, DAY_MS};
use crate::config::{Config, Motion, Program, StepStart};
use crate::host::{EventState, Host, Lamp, LogLevel, Severity};

/// kv key of the persisted controller state (JSON).
pub const STATE_KEY: &str = "state";

/// Sensor whose readings (lx) drive the photocell.
pub const LUX_SENSOR: &str = "lux";

/// Sensor whose readings (1 = motion) drive the motion boost.
pub const MOTION_SENSOR: &str = "motion";

/// Longest gap between two ticks whose baseline is accounted; bounds the work after a
/// long outage or a clock jump.
const MAX_ACCOUNTED_GAP_MS: i64 = 31 * DAY_MS;

/// Energy accounts of the current period (since the last `energy-daily` report).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Energy {
    /// Energy the controlled lamps used, from their meters, in kWh.
    pub used_kwh: f64,
    /// Energy the replaced lamps would have used (full on from sunset to sunrise), in kWh.
    pub baseline_kwh: f64,
    /// Time the lamps were lit (level above 0), in milliseconds.
    pub lit_ms: u64,
}

/// The night the lamps are in: its evening date and switch-on time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct NightMark {
    date: NaiveDate,
    start_ms: i64,
}

/// What the controller persists in kv.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct State {
    last_tick_ms: Option<u64>,
    /// Level last sent to the lamps.
    level: Option<f32>,
    /// The night in progress, if the lamps are inside an astro window.
    night: Option<NightMark>,
    period: Energy,
    /// Last meter reading per lamp, kWh.
    meters: BTreeMap<String, f64>,
    /// Lamps with a raised `lamp-fault` event.
    faults: BTreeSet<String>,
    /// Photocell state.
    dark: bool,
    last_motion_ms: Option<u64>,
}

/// Why a level was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    Daylight,
    Override,
    Step,
    Motion,
    MinLevel,
}

impl Cause {
    fn describe(self) -> &'static str {
        match self {
            Cause::Daylight => "not dark",
            Cause::Override => "operator override",
            Cause::Step => "time-of-night step",
            Cause::Motion => "motion boost",
            Cause::MinLevel => "minimum level",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Decision {
    level: f32,
    cause: Cause,
}

/// A night with the program the calendar chose for it.
struct Night<'c> {
    date: NaiveDate,
    name: &'c str,
    program: &'c Program,
    window: Window,
}

/// The street-light controller for one pole.
#[derive(Debug)]
pub struct Controller {
    config: Config,
    lamps: Vec<Lamp>,
    state: State,
    /// Cause of the level last sent (not persisted).
    cause: Option<Cause>,
}

impl Controller {
    /// Builds a controller from a config, restoring the state a previous instance left
    /// in kv. Fails if the config is invalid or names a lamp the pole does not have.
    pub fn new(config: Config, host: &mut impl Host) -> Result<Self, String> {
        config.validate()?;
        let lamps = select_lamps(&config, host)?;
        let state = match host.kv_get(STATE_KEY) {
            Ok(None) => State::default(),
            Ok(Some(bytes)) => match serde_json::from_slice::<State>(&bytes) {
                Ok(state) => {
                    let p = state.period;
                    host.log(
                        LogLevel::Info,
                        &format!(
                            "resumed energy accounts: {:.3} kWh used, {:.3} kWh baseline",
                            p.used_kwh, p.baseline_kwh
                        ),
                    );
                    state
                }
                Err(e) => {
                    host.log(LogLevel::Warn, &format!("discarded unreadable state: {e}"));
                    State::default()
                }
            },
            Err(e) => {
                host.log(
                    LogLevel::Warn,
                    &format!("cannot read state, starting fresh: {e}"),
                );
                State::default()
            }
        };
        let mut controller = Controller {
            config,
            lamps,
            state,
            cause: None,
        };
        controller.forget_unselected_lamps();
        Ok(controller)
    }

    /// Replaces the config, keeping state and energy accounts. On error the previous
    /// config stays in force. The new config takes effect at the next tick.
    pub fn set_config(&mut self, config: Config, host: &mut impl Host) -> Result<(), String> {
        config.validate()?;
        self.lamps = select_lamps(&config, host)?;
        self.config = config;
        self.forget_unselected_lamps();
        host.log(LogLevel::Info, "config updated");
        Ok(())
    }

    /// Takes a sensor reading. `lux` updates the photocell (acted on at the next tick);
    /// `motion` (value ≥ 0.5) starts or extends the boost and, while the lamps are lit,
    /// raises them at once. Other sensors are ignored.
    pub fn on_reading(
        &mut self,
        sensor: &str,
        value: f64,
        ts_ms: u64,
        host: &mut impl Host,
    ) -> Result<(), String> {
        if !value.is_finite() {
            return Err(format!("{sensor} reading is not a number"));
        }
        let site = site(host);
        let t = millis(ts_ms);
        match sensor {
            LUX_SENSOR => {
                let Some(cell) = self.locate(&site, t).program.photocell else {
                    return Ok(());
                };
                let dark = if value < cell.on_below_lux {
                    true
                } else if value > cell.off_above_lux {
                    false
                } else {
                    self.state.dark
                };
                if dark != self.state.dark {
                    self.state.dark = dark;
                    let now = if dark { "dark" } else { "light" };
                    host.log(
                        LogLevel::Debug,
                        &format!("photocell: {value} lx, now {now}"),
                    );
                }
                Ok(())
            }
            MOTION_SENSOR if value >= 0.5 => {
                self.state.last_motion_ms = Some(ts_ms);
                let night = self.locate(&site, t);
                let decision = self.decide(t, &site, &night);
                let (motion, name) = (night.program.motion, night.name.to_string());
                if decision.level > 0.0 && self.state.level != Some(decision.level) {
                    self.apply(decision, motion, &name, host)
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// Runs the controller at `now_ms`: energy accounts, night transitions and the
    /// `energy-daily` report, the level of every lamp, and persistence. Returns an error
    /// naming the lamps that refused their level (after doing everything else).
    pub fn tick(&mut self, now_ms: u64, host: &mut impl Host) -> Result<(), String> {
        let site = site(host);
        let t = millis(now_ms);
        self.account(now_ms, &site, host);

        let night = self.locate(&site, t);
        let mark = night.window.contains(t).then_some(NightMark {
            date: night.date,
            start_ms: night.window.start_ms,
        });
        let decision = self.decide(t, &site, &night);
        let (motion, name) = (night.program.motion, night.name.to_string());

        self.transition(mark, &name, &site, host);
        let applied = self.apply(decision, motion, &name, host);
        self.state.last_tick_ms = Some(now_ms);
        self.persist(host);
        applied
    }

    /// The level last sent to the lamps, in percent.
    pub fn level(&self) -> Option<f32> {
        self.state.level
    }

    /// The energy accounts of the current period.
    pub fn energy(&self) -> Energy {
        self.state.period
    }

    fn forget_unselected_lamps(&mut self) {
        let lamps = &self.lamps;
        let selected = |id: &String| lamps.iter().any(|l| &l.id == id);
        self.state.meters.retain(|id, _| selected(id));
        self.state.faults.retain(selected);
    }

    /// The night of `date` under the program the calendar picks for it.
    fn night_of(&self, site: &Site, date: NaiveDate) -> Night<'_> {
        let (name, program) = self.config.program_for(date);
        let (on, off) = (program.switch_on, program.switch_off);
        let window = site
            .night(date, on.astro.phase(), off.astro.phase())
            .shifted(on.offset_min, off.offset_min);
        Night {
            date,
            name,
            program,
            window,
        }
    }

    /// The night `t` belongs to. Normally that of the noon-to-noon period holding `t`;
    /// the previous evening's when its window (with a late switch-off) still holds `t`.
    fn locate(&self, site: &Site, t: i64) -> Night<'_> {
        let date = site.night_date(t);
        if let Some(previous) = date.pred_opt().map(|d| self.night_of(site, d)) {
            if previous.window.contains(t) {
                return previous;
            }
        }
        self.night_of(site, date)
    }

    /// The level at `t`: 0 unless inside the night window or the photocell sees dark;
    /// when lit, an active override, else the step level raised by a motion boost, and
    /// never below `min-level`.
    fn decide(&self, t: i64, site: &Site, night: &Night<'_>) -> Decision {
        let program = night.program;
        let lit = night.window.contains(t) || (program.photocell.is_some() && self.state.dark);
        if !lit {
            return Decision {
                level: 0.0,
                cause: Cause::Daylight,
            };
        }
        let active_override = self
            .config
            .r#override
            .filter(|o| u64::try_from(t).is_ok_and(|t| t < o.until.0));
        let wanted = if let Some(o) = active_override {
            Decision {
                level: o.level,
                cause: Cause::Override,
            }
        } else {
            let step = step_level(program, site, night.window, t);
            let boost = program.motion.filter(|m| {
                self.state.last_motion_ms.is_some_and(|since| {
                    t < millis(since).saturating_add(i64::from(m.hold_s) * 1000)
                })
            });
            match boost {
                Some(m) if m.level > step => Decision {
                    level: m.level,
                    cause: Cause::Motion,
                },
                _ => Decision {
                    level: step,
                    cause: Cause::Step,
                },
            }
        };
        if wanted.level < self.config.min_level {
            Decision {
                level: self.config.min_level,
                cause: Cause::MinLevel,
            }
        } else {
            wanted
        }
    }

    /// Reads the meters and adds the span since the last tick to the accounts.
    fn account(&mut self, now_ms: u64, site: &Site, host: &mut impl Host) {
        for lamp in &self.lamps {
            match host.read_energy_kwh(&lamp.id) {
                Ok(kwh) if kwh.is_finite() => {
                    match self.state.meters.insert(lamp.id.clone(), kwh) {
                        Some(last) if kwh >= last => self.state.period.used_kwh += kwh - last,
                        Some(last) => host.log(
                            LogLevel::Warn,
                            &format!("meter of {} went back from {last} to {kwh} kWh", lamp.id),
                        ),
                        None => {}
                    }
                }
                Ok(kwh) => host.log(
                    LogLevel::Warn,
                    &format!("meter of {} reads {kwh} kWh", lamp.id),
                ),
                Err(e) => host.log(
                    LogLevel::Warn,
                    &format!("cannot read meter of {}: {e}", lamp.id),
                ),
            }
        }
        let Some(last) = self.state.last_tick_ms.filter(|&last| last < now_ms) else {
            return;
        };
        let to = millis(now_ms);
        let from = millis(last).max(to - MAX_ACCOUNTED_GAP_MS);
        let dark_ms = baseline_dark_ms(site, from, to);
        let lamps = self.lamps.len() as f64;
        // W × ms → kWh.
        self.state.period.baseline_kwh +=
            self.config.baseline_watts_per_lamp * lamps * dark_ms as f64 / 3.6e9;
        if self.state.level.is_some_and(|level| level > 0.0) {
            self.state.period.lit_ms += u64::try_from(to - from).unwrap_or(0);
        }
    }

    /// Notices switch-on and switch-off; at switch-off reports and resets the accounts.
    fn transition(
        &mut self,
        mark: Option<NightMark>,
        name: &str,
        site: &Site,
        host: &mut impl Host,
    ) {
        let same_night = match (&self.state.night, &mark) {
            (Some(was), Some(now)) => was.date == now.date,
            (None, None) => true,
            _ => false,
        };
        if same_night {
            return;
        }
        if let Some(ended) = self.state.night.take() {
            self.report(ended, site, host);
            self.state.period = Energy::default();
        }
        if let Some(started) = mark {
            host.log(
                LogLevel::Info,
                &format!(
                    "night of {} began at {} local time (program {name})",
                    started.date,
                    site.local(started.start_ms).format("%H:%M")
                ),
            );
        }
        self.state.night = mark;
    }

    /// Publishes `energy-daily` for the period ending with the night `ended`.
    fn report(&self, ended: NightMark, site: &Site, host: &mut impl Host) {
        let p = self.state.period;
        let lit_hours = p.lit_ms as f64 / 3.6e6;
        let night_start_s = ended.start_ms.div_euclid(1000) as f64;
        let mut metrics = vec![
            ("kwh", p.used_kwh, "kW.h"),
            ("baseline-kwh", p.baseline_kwh, "kW.h"),
        ];
        let saving = (p.baseline_kwh > 0.0).then(|| 100.0 * (1.0 - p.used_kwh / p.baseline_kwh));
        if let Some(saving) = saving {
            metrics.push(("saving", saving, "%"));
        }
        metrics.push(("lit-hours", lit_hours, "h"));
        metrics.push(("night-start", night_start_s, "s"));
        if let Err(e) = host.publish("energy-daily", &metrics) {
            host.log(LogLevel::Warn, &format!("energy-daily not published: {e}"));
        }
        host.log(
            LogLevel::Info,
            &format!(
                "night of {} (on at {}) ended: {:.3} kWh used, {:.3} kWh baseline, saving {}, lit {lit_hours:.2} h",
                ended.date,
                site.local(ended.start_ms).format("%H:%M"),
                p.used_kwh,
                p.baseline_kwh,
                saving.map_or("n/a".to_string(), |s| format!("{s:.1} %")),
            ),
        );
    }

    /// Sends `decision` to every lamp, raising or clearing `lamp-fault` events, and
    /// publishes `lamp` when the level changed.
    fn apply(
        &mut self,
        decision: Decision,
        motion: Option<Motion>,
        program: &str,
        host: &mut impl Host,
    ) -> Result<(), String> {
        let previous = self.state.level;
        let fade_ms = match (motion, previous) {
            (Some(m), Some(p)) if decision.cause == Cause::Motion && decision.level > p => {
                m.fade_up_ms
            }
            (Some(m), Some(p)) if self.cause == Some(Cause::Motion) && decision.level < p => {
                m.fade_down_ms
            }
            _ => self.config.fade_ms,
        };
        let mut failures = Vec::new();
        for lamp in &self.lamps {
            match host.set_level(&lamp.id, decision.level, fade_ms) {
                Ok(()) => {
                    if self.state.faults.remove(&lamp.id) {
                        let message = format!("lamp {} accepts its level again", lamp.id);
                        fault_event(host, &lamp.id, EventState::Cleared, &message, "");
                    }
                }
                Err(e) => {
                    if self.state.faults.insert(lamp.id.clone()) {
                        let message = format!("lamp {} refuses its level: {e}", lamp.id);
                        fault_event(host, &lamp.id, EventState::Raised, &message, &e);
                    }
                    failures.push(format!("{}: {e}", lamp.id));
                }
            }
        }
        if previous != Some(decision.level) {
            let watts: f64 = self.lamps.iter().map(|l| l.rated_watts).sum::<f64>()
                * f64::from(decision.level)
                / 100.0;
            let metrics = [
                ("level", f64::from(decision.level), "%"),
                ("watts", watts, "W"),
            ];
            if let Err(e) = host.publish("lamp", &metrics) {
                host.log(
                    LogLevel::Warn,
                    &format!("lamp telemetry not published: {e}"),
                );
            }
        }
        if previous != Some(decision.level) || self.cause != Some(decision.cause) {
            host.log(
                LogLevel::Debug,
                &format!(
                    "level {} % ({}, program {program}, fade {fade_ms} ms)",
                    decision.level,
                    decision.cause.describe()
                ),
            );
        }
        self.state.level = Some(decision.level);
        self.cause = Some(decision.cause);
        if failures.is_empty() {
            Ok(())
        } else {
            Err(format!("set-level failed: {}", failures.join("; ")))
        }
    }

    fn persist(&self, host: &mut impl Host) {
        let saved = serde_json::to_vec(&self.state)
            .map_err(|e| e.to_string())
            .and_then(|bytes| host.kv_set(STATE_KEY, &bytes));
        if let Err(e) = saved {
            host.log(LogLevel::Warn, &format!("state not persisted: {e}"));
        }
    }
}

/// The lamps `config` selects, as the pole describes them.
fn select_lamps(config: &Config, host: &mut impl Host) -> Result<Vec<Lamp>, String> {
    let all = host.lamps();
    let Some(ids) = &config.lamps else {
        return if all.is_empty() {
            Err("the pole lists no lamps".into())
        } else {
            Ok(all)
        };
    };
    ids.iter()
        .map(|id| {
            all.iter().find(|l| &l.id == id).cloned().ok_or_else(|| {
                let known: Vec<&str> = all.iter().map(|l| l.id.as_str()).collect();
                format!(
                    "lamps: the pole has no lamp {id:?} (it has: {})",
                    known.join(", ")
                )
            })
        })
        .collect()
}

fn site(host: &mut impl Host) -> Site {
    let (latitude, longitude) = host.location();
    Site {
        latitude,
        longitude,
        utc_offset_minutes: host.utc_offset_minutes(),
    }
}

fn millis(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// Milliseconds of `[from, to)` between sunset and sunrise: when the replaced lamps
/// were on.
fn baseline_dark_ms(site: &Site, from: i64, to: i64) -> i64 {
    let first = site.night_date(from);
    let last = site.night_date(to);
    first
        .pred_opt()
        .unwrap_or(first)
        .iter_days()
        .take_while(|date| *date <= last)
        .map(|date| {
            site.night(date, SunPhase::Sunset, SunPhase::Sunrise)
                .overlap_ms(from, to)
        })
        .sum()
}

/// The program's time-of-night level at `t` in the night `window`: the step that
/// started last (in night order, dusk at the window's start), else the night's first.
fn step_level(program: &Program, site: &Site, window: Window, t: i64) -> f32 {
    let now = site.minute_of_night(t);
    let dusk = site.minute_of_night(window.start_ms);
    let mut active: Option<(u32, f32)> = None;
    let mut first: Option<(u32, f32)> = None;
    for step in &program.steps {
        let start = match step.from {
            StepStart::Dusk => dusk,
            StepStart::At { hour, minute } => {
                astro::minute_of_night(u32::from(hour) * 60 + u32::from(minute))
            }
        };
        if start <= now && active.is_none_or(|(a, _)| start >= a) {
            active = Some((start, step.level));
        }
        if first.is_none_or(|(f, _)| start < f) {
            first = Some((start, step.level));
        }
    }
    active.or(first).map_or(100.0, |(_, level)| level)
}

fn fault_event(host: &mut impl Host, lamp: &str, state: EventState, message: &str, error: &str) {
    let details = if error.is_empty() {
        serde_json::json!({ "lamp": lamp })
    } else {
        serde_json::json!({ "lamp": lamp, "error": error })
    };
    let sent = host.event(
        "lamp-fault",
        state,
        Severity::Warning,
        message,
        &details.to_string(),
    );
    if let Err(e) = sent {
        host.log(
            LogLevel::Warn,
            &format!("lamp-fault event not published: {e}"),
        );
    }
}
