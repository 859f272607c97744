//! The plugin's configuration: the JSON the operator pushes, as serde types.
//!
//! Every field has a default, so `{}` is a valid config (all lamps, the built-in
//! `standard` program, 10 % minimum level). `config.schema.json` next to `Cargo.toml`
//! describes exactly these types (the host validates against it before the plugin sees
//! the config); [`Config::validate`] re-checks the ranges and cross-references the schema
//! cannot express, so a natively built [`Config`] gets the same guarantees.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::LazyLock;

use chrono::{DateTime, Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use sun::SunPhase;

/// Name of the built-in program, used when no calendar rule matches and
/// `default-program` is not set. A program of this name in `programs` replaces it.
pub const STANDARD: &str = "standard";

/// Largest switch-on/switch-off offset from the astronomical event, in minutes.
pub const MAX_OFFSET_MIN: i32 = 240;

/// The whole plugin configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Config {
    /// Ids of the lamps to control; `None` (absent or `null`) controls every lamp the
    /// pole lists.
    pub lamps: Option<Vec<String>>,
    /// Level in percent that a lit lamp never goes below (overrides included).
    pub min_level: f32,
    /// Fade time in milliseconds for level changes other than motion boosts.
    pub fade_ms: u32,
    /// Program used on nights no calendar rule matches.
    pub default_program: String,
    /// Rules choosing a program per night; the first rule that matches wins.
    pub calendar: Vec<CalendarRule>,
    /// Named programs. The built-in [`STANDARD`] program is always available.
    pub programs: BTreeMap<String, Program>,
    /// Operator override, ignored once expired.
    pub r#override: Option<Override>,
    /// Power of the lamp this installation replaced (typically a 150 W HPS lamp), in
    /// watts: the energy baseline is this power, full on from sunset to sunrise.
    pub baseline_watts_per_lamp: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            lamps: None,
            min_level: 10.0,
            fade_ms: 2000,
            default_program: STANDARD.to_string(),
            calendar: Vec::new(),
            programs: BTreeMap::new(),
            r#override: None,
            baseline_watts_per_lamp: 150.0,
        }
    }
}

/// One calendar rule. It matches a night when every condition it sets holds; a rule
/// with neither `weekdays` nor `dates` matches every night.
///
/// A night belongs to the local date of its evening: the program chosen for
/// 2026-12-31 also runs the early hours of 2027-01-01.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CalendarRule {
    /// Name of the program to run.
    pub program: String,
    /// Weekdays (of the evening) the rule applies to; `None` means any day.
    #[serde(default)]
    pub weekdays: Option<Vec<Day>>,
    /// Local dates (of the evening) the rule applies to; `None` means any date.
    #[serde(default)]
    pub dates: Option<Vec<NaiveDate>>,
}

impl CalendarRule {
    /// Whether the rule applies to the night starting on the evening of `date`.
    pub fn matches(&self, date: NaiveDate) -> bool {
        let day = Day::of(date);
        self.weekdays.as_ref().is_none_or(|w| w.contains(&day))
            && self.dates.as_ref().is_none_or(|d| d.contains(&date))
    }
}

/// A day of the week, as the calendar spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl Day {
    /// The weekday of `date`.
    pub fn of(date: NaiveDate) -> Day {
        use chrono::Weekday as W;
        match date.weekday() {
            W::Mon => Day::Mon,
            W::Tue => Day::Tue,
            W::Wed => Day::Wed,
            W::Thu => Day::Thu,
            W::Fri => Day::Fri,
            W::Sat => Day::Sat,
            W::Sun => Day::Sun,
        }
    }
}

/// A lighting program: when the lamps switch on and off, and how bright they are
/// through the night. The default program lights the whole astro night at 100 %.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Program {
    /// When the night starts.
    pub switch_on: SwitchOn,
    /// When the night ends.
    pub switch_off: SwitchOff,
    /// Light sensor that also switches the lamps on when it is dark outside the astro
    /// window (storms); `None` ignores `lux` readings.
    pub photocell: Option<Photocell>,
    /// Time-of-night levels. Before the night's first step starts (daytime darkness
    /// seen by the photocell) the first step's level applies; no steps means 100 %.
    pub steps: Vec<Step>,
    /// Boost on motion; `None` ignores `motion` readings.
    pub motion: Option<Motion>,
}

impl Program {
    /// The built-in `standard` program: on at sunset, off at sunrise, photocell
    /// 30/60 lx, 100 % from dusk, 60 % from 22:00, 80 % from 05:00, motion boost to
    /// 100 % for 120 s.
    pub fn standard() -> &'static Program {
        static STANDARD_PROGRAM: LazyLock<Program> = LazyLock::new(|| Program {
            photocell: Some(Photocell::default()),
            steps: vec![
                Step {
                    from: StepStart::Dusk,
                    level: 100.0,
                },
                Step {
                    from: StepStart::At {
                        hour: 22,
                        minute: 0,
                    },
                    level: 60.0,
                },
                Step {
                    from: StepStart::At { hour: 5, minute: 0 },
                    level: 80.0,
                },
            ],
            motion: Some(Motion::default()),
            ..Program::default()
        });
        &STANDARD_PROGRAM
    }
}

/// Start of the night.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct SwitchOn {
    /// The astronomical event the night starts from.
    pub astro: Evening,
    /// Minutes after (positive) or before (negative) the event.
    pub offset_min: i32,
}

impl Default for SwitchOn {
    fn default() -> Self {
        SwitchOn {
            astro: Evening::Sunset,
            offset_min: 0,
        }
    }
}

/// End of the night.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct SwitchOff {
    /// The astronomical event the night ends at.
    pub astro: Morning,
    /// Minutes after (positive) or before (negative) the event.
    pub offset_min: i32,
}

impl Default for SwitchOff {
    fn default() -> Self {
        SwitchOff {
            astro: Morning::Sunrise,
            offset_min: 0,
        }
    }
}

/// Evening events a night can start from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Evening {
    /// The sun's upper limb touches the horizon (−0.833°).
    Sunset,
    /// End of civil twilight (sun 6° below the horizon).
    CivilDusk,
}

impl Evening {
    /// The matching phase of the `sun` crate.
    pub fn phase(self) -> SunPhase {
        match self {
            Evening::Sunset => SunPhase::Sunset,
            Evening::CivilDusk => SunPhase::Dusk,
        }
    }
}

/// Morning events a night can end at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Morning {
    /// The sun's upper limb appears on the horizon (−0.833°).
    Sunrise,
    /// Start of civil twilight (sun 6° below the horizon).
    CivilDawn,
}

impl Morning {
    /// The matching phase of the `sun` crate.
    pub fn phase(self) -> SunPhase {
        match self {
            Morning::Sunrise => SunPhase::Sunrise,
            Morning::CivilDawn => SunPhase::Dawn,
        }
    }
}

/// Photocell thresholds, with hysteresis: the state changes only when a reading
/// crosses a threshold, so readings in between keep the lamps as they are.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Photocell {
    /// Below this illuminance (lx) it is dark.
    pub on_below_lux: f64,
    /// Above this illuminance (lx) it is light again.
    pub off_above_lux: f64,
}

impl Default for Photocell {
    fn default() -> Self {
        Photocell {
            on_below_lux: 30.0,
            off_above_lux: 60.0,
        }
    }
}

/// One time-of-night level.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Step {
    /// When the step starts.
    pub from: StepStart,
    /// Level in percent.
    pub level: f32,
}

/// When a step starts: at switch-on (`"dusk"`) or at a local clock time (`"HH:MM"`).
/// Clock times before noon belong to the same night as the evening before them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum StepStart {
    /// At switch-on.
    Dusk,
    /// At a local clock time.
    At {
        /// Hour, 0–23.
        hour: u8,
        /// Minute, 0–59.
        minute: u8,
    },
}

impl TryFrom<String> for StepStart {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        if text == "dusk" {
            return Ok(StepStart::Dusk);
        }
        let bytes = text.as_bytes();
        let digits = |a: u8, b: u8| -> Option<u8> {
            (a.is_ascii_digit() && b.is_ascii_digit()).then(|| (a - b'0') * 10 + (b - b'0'))
        };
        let parsed = match bytes {
            [h1, h2, b':', m1, m2] => digits(*h1, *h2).zip(digits(*m1, *m2)),
            _ => None,
        };
        match parsed {
            Some((hour, minute)) if hour < 24 && minute < 60 => Ok(StepStart::At { hour, minute }),
            _ => Err(format!("step start {text:?} is neither \"dusk\" nor HH:MM")),
        }
    }
}

impl From<StepStart> for String {
    fn from(start: StepStart) -> String {
        start.to_string()
    }
}

impl fmt::Display for StepStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepStart::Dusk => f.write_str("dusk"),
            StepStart::At { hour, minute } => write!(f, "{hour:02}:{minute:02}"),
        }
    }
}

/// Motion boost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Motion {
    /// Level in percent while boosted.
    pub level: f32,
    /// How long the boost lasts after the last motion, in seconds.
    pub hold_s: u32,
    /// Fade time up to the boost level, in milliseconds.
    pub fade_up_ms: u32,
    /// Fade time back down when the boost ends, in milliseconds.
    pub fade_down_ms: u32,
}

impl Default for Motion {
    fn default() -> Self {
        Motion {
            level: 100.0,
            hold_s: 120,
            fade_up_ms: 1000,
            fade_down_ms: 30_000,
        }
    }
}

/// Operator override of the level of lit lamps, until an expiry time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Override {
    /// Level in percent (still at least `min-level`).
    pub level: f32,
    /// Expiry: RFC 3339 text or Unix milliseconds.
    pub until: Until,
}

/// An expiry time in Unix milliseconds, written in JSON as RFC 3339 text
/// (`"2026-11-22T06:00:00+07:00"`) or as a number of milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "UntilRepr", into = "u64")]
pub struct Until(pub u64);

/// The two JSON spellings of [`Until`].
#[derive(Deserialize)]
#[serde(untagged)]
enum UntilRepr {
    Millis(u64),
    Text(String),
}

impl TryFrom<UntilRepr> for Until {
    type Error = String;

    fn try_from(repr: UntilRepr) -> Result<Self, String> {
        match repr {
            UntilRepr::Millis(ms) => Ok(Until(ms)),
            UntilRepr::Text(text) => DateTime::parse_from_rfc3339(&text)
                .map_err(|e| format!("until {text:?} is not RFC 3339: {e}"))
                .and_then(|t| {
                    u64::try_from(t.timestamp_millis())
                        .map_err(|_| format!("until {text:?} is before 1970"))
                })
                .map(Until),
        }
    }
}

impl From<Until> for u64 {
    fn from(until: Until) -> u64 {
        until.0
    }
}

impl Config {
    /// Parses config JSON (without validating it; see [`Config::validate`]).
    pub fn from_json(json: &str) -> Result<Config, String> {
        serde_json::from_str(json).map_err(|e| format!("invalid config: {e}"))
    }

    /// Checks ranges and references: levels within 0–100, offsets within
    /// ±[`MAX_OFFSET_MIN`], photocell thresholds in order, a non-empty list of distinct
    /// lamps, and that every program named exists.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(lamps) = &self.lamps {
            if lamps.is_empty() {
                return Err("lamps: list is empty (omit it to control every lamp)".into());
            }
            let distinct: BTreeSet<&String> = lamps.iter().collect();
            if distinct.len() != lamps.len() {
                return Err("lamps: a lamp is listed twice".into());
            }
        }
        level("min-level", self.min_level)?;
        if !(self.baseline_watts_per_lamp.is_finite() && self.baseline_watts_per_lamp >= 0.0) {
            return Err("baseline-watts-per-lamp: must be a number >= 0".into());
        }
        if let Some(o) = &self.r#override {
            level("override.level", o.level)?;
        }
        for (name, program) in &self.programs {
            program
                .validate()
                .map_err(|e| format!("programs.{name}.{e}"))?;
        }
        let known = |name: &str| self.program(name).is_some();
        if !known(&self.default_program) {
            return Err(format!(
                "default-program: no program {:?}",
                self.default_program
            ));
        }
        for (i, rule) in self.calendar.iter().enumerate() {
            if !known(&rule.program) {
                return Err(format!(
                    "calendar[{i}].program: no program {:?}",
                    rule.program
                ));
            }
        }
        Ok(())
    }

    /// The program called `name`, including the built-in [`STANDARD`].
    pub fn program(&self, name: &str) -> Option<&Program> {
        self.programs
            .get(name)
            .or_else(|| (name == STANDARD).then(Program::standard))
    }

    /// The name and program for the night starting on the evening of `date`: the first
    /// matching calendar rule's, else the default program's.
    ///
    /// # Panics
    /// If the config has not passed [`Config::validate`] and names a missing program.
    pub fn program_for(&self, date: NaiveDate) -> (&str, &Program) {
        let name = self
            .calendar
            .iter()
            .find(|rule| rule.matches(date))
            .map_or(self.default_program.as_str(), |rule| rule.program.as_str());
        let program = self
            .program(name)
            .expect("validated config names only existing programs");
        (name, program)
    }
}

impl Program {
    fn validate(&self) -> Result<(), String> {
        offset("switch-on.offset-min", self.switch_on.offset_min)?;
        offset("switch-off.offset-min", self.switch_off.offset_min)?;
        if let Some(p) = &self.photocell {
            let ok = p.on_below_lux.is_finite()
                && p.off_above_lux.is_finite()
                && 0.0 <= p.on_below_lux
                && p.on_below_lux < p.off_above_lux;
            if !ok {
                return Err("photocell: need 0 <= on-below-lux < off-above-lux".into());
            }
        }
        for (i, step) in self.steps.iter().enumerate() {
            level(&format!("steps[{i}].level"), step.level)?;
        }
        if let Some(m) = &self.motion {
            level("motion.level", m.level)?;
        }
        Ok(())
    }
}

fn level(what: &str, value: f32) -> Result<(), String> {
    if (0.0..=100.0).contains(&value) {
        Ok(())
    } else {
        Err(format!("{what}: {value} is not a level in 0-100 %"))
    }
}

fn offset(what: &str, minutes: i32) -> Result<(), String> {
    if minutes.abs() <= MAX_OFFSET_MIN {
        Ok(())
    } else {
        Err(format!(
            "{what}: {minutes} is beyond +-{MAX_OFFSET_MIN} min"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sao_plugin_sdk::testing::check_config_schema;

    const EXAMPLE: &str = include_str!("../config.example.json");
    const SCHEMA: &str = include_str!("../config.schema.json");

    #[test]
    fn empty_config_is_the_default() {
        let config = Config::from_json("{}").unwrap();
        assert_eq!(config, Config::default());
        config.validate().unwrap();
        let (name, program) = config.program_for(NaiveDate::from_ymd_opt(2026, 11, 21).unwrap());
        assert_eq!(name, STANDARD);
        assert_eq!(program.steps.len(), 3);
    }

    #[test]
    fn example_config_parses_and_validates() {
        let config = Config::from_json(EXAMPLE).unwrap();
        config.validate().unwrap();
        assert!(config.lamps.is_some());
        assert!(!config.calendar.is_empty());
        assert!(config.r#override.is_some());
    }

    #[test]
    fn unknown_fields_and_bad_values_are_rejected() {
        assert!(Config::from_json(r#"{"min-levle": 5}"#).is_err());
        assert!(Config::from_json(
            r#"{"programs": {"p": {"steps": [{"from": "7:00", "level": 5}]}}}"#
        )
        .is_err());
        assert!(Config::from_json(r#"{"override": {"level": 5, "until": "tomorrow"}}"#).is_err());
        let bad_ref = Config::from_json(r#"{"default-program": "nope"}"#).unwrap();
        assert!(bad_ref.validate().unwrap_err().contains("nope"));
        let bad_level = Config::from_json(r#"{"min-level": 120}"#).unwrap();
        assert!(bad_level.validate().is_err());
    }

    #[test]
    fn until_accepts_rfc3339_and_millis() {
        let a: Override =
            serde_json::from_str(r#"{"level": 1, "until": "2026-11-22T06:00:00+07:00"}"#).unwrap();
        let b: Override = serde_json::from_str(r#"{"level": 1, "until": 1795302000000}"#).unwrap();
        assert_eq!(a.until, b.until);
    }

    #[test]
    fn schema_describes_exactly_the_serde_types() {
        // Serialize every type with every optional part present.
        let mut full = Config::from_json(EXAMPLE).unwrap();
        full.programs
            .insert(STANDARD.into(), Program::standard().clone());
        full.calendar.push(CalendarRule {
            program: STANDARD.into(),
            weekdays: Some(vec![Day::Mon]),
            dates: Some(vec![NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()]),
        });
        let value = serde_json::to_value(&full).unwrap();
        let defaults = serde_json::to_value(Config::default()).unwrap();
        check_config_schema(SCHEMA, &value, &defaults);
    }
}
