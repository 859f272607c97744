//! `[alarm]` in `pole.toml`: what each alarm level drives, the output patterns, and the
//! rules of the alarm engine (siren limit, escalation, expiry, acknowledgement).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::pattern::Pattern;

/// Urgency of an alarm, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Worth a look: a slow strobe, a message.
    Advisory,
    /// Act soon: siren pulses, strobe, flashing lamps, message and voice.
    Warning,
    /// Act now: the siren wails, lamps at full.
    Emergency,
}

impl Level {
    /// The level's name, as in config and payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Advisory => "advisory",
            Level::Warning => "warning",
            Level::Emergency => "emergency",
        }
    }
}

/// What the lamps do during an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LampAction {
    /// Lamps stay under their usual control.
    #[default]
    None,
    /// Lamps flash between full and off with the `flash-lamps` pattern.
    Flash,
    /// Lamps go to 100 %.
    Full,
}

/// What one level drives.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LevelActions {
    /// Output name → pattern name, e.g. `{ siren = "wail", strobe = "flash" }`.
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
    /// What the lamps do.
    #[serde(default)]
    pub lamps: LampAction,
    /// Show the alarm's message on the display.
    #[serde(default = "yes")]
    pub display: bool,
    /// Play the alarm's voice clip.
    #[serde(default)]
    pub voice: bool,
}

fn yes() -> bool {
    true
}

impl LevelActions {
    fn new(outputs: &[(&str, &str)], lamps: LampAction, voice: bool) -> Self {
        Self {
            outputs: outputs
                .iter()
                .map(|(o, p)| (o.to_string(), p.to_string()))
                .collect(),
            lamps,
            display: true,
            voice,
        }
    }
}

/// The actions of each level, and of the kinds that have their own.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Levels {
    /// Advisory alarms.
    pub advisory: LevelActions,
    /// Warnings.
    pub warning: LevelActions,
    /// Emergencies.
    pub emergency: LevelActions,
    /// Kinds whose actions replace their level's (from `[alarm.kinds]`).
    #[serde(skip)]
    pub kinds: BTreeMap<String, LevelActions>,
}

impl Default for Levels {
    fn default() -> Self {
        Self {
            advisory: LevelActions::new(&[("strobe", "slow")], LampAction::None, false),
            warning: LevelActions::new(
                &[("siren", "pulse"), ("strobe", "flash")],
                LampAction::Flash,
                true,
            ),
            emergency: LevelActions::new(
                &[("siren", "wail"), ("strobe", "flash")],
                LampAction::Full,
                true,
            ),
            kinds: BTreeMap::new(),
        }
    }
}

impl Levels {
    /// What an alarm of `kind` at `level` drives: its kind's actions if it has its own,
    /// else its level's.
    pub fn of_alarm(&self, kind: &str, level: Level) -> &LevelActions {
        self.kinds.get(kind).unwrap_or_else(|| self.of(level))
    }

    /// The actions of `level`.
    pub fn of(&self, level: Level) -> &LevelActions {
        match level {
            Level::Advisory => &self.advisory,
            Level::Warning => &self.warning,
            Level::Emergency => &self.emergency,
        }
    }
}

/// `[alarm]`: the local alarm engine's rules.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AlarmConfig {
    /// Longest an alarm's audible outputs (siren, voice) sound, in seconds; a higher level
    /// starts it again. Lights and the display stay on.
    #[serde(default = "AlarmConfig::default_siren_max_s")]
    pub siren_max_s: u64,
    /// An unacknowledged warning becomes an emergency after this many seconds (0: never).
    #[serde(default = "AlarmConfig::default_escalate_after_s")]
    pub escalate_after_s: u64,
    /// An alarm that its plugin neither renews (`update`) nor clears ends after this many
    /// seconds: the rule that ends the alarms of a plugin that crashed.
    #[serde(default = "AlarmConfig::default_expire_after_s")]
    pub expire_after_s: u64,
    /// The voice clip repeats this often while the alarm is audible, in seconds (0: once).
    #[serde(default = "AlarmConfig::default_voice_repeat_s")]
    pub voice_repeat_s: u64,
    /// The input (a sensor name) that acknowledges every active alarm when pressed;
    /// empty for none.
    #[serde(default = "AlarmConfig::default_ack_button")]
    pub ack_button: String,
    /// Outputs that an acknowledgement and the siren limit silence.
    #[serde(default = "AlarmConfig::default_audible")]
    pub audible: Vec<String>,
    /// Extra or replacement patterns: name → `[on-ms, off-ms, …]` (empty: steady on).
    #[serde(default)]
    pub patterns: BTreeMap<String, Vec<u32>>,
    /// What each level drives.
    #[serde(default)]
    pub levels: Option<Levels>,
    /// Kinds of alarm that drive their own actions whatever their level, e.g.
    /// `[alarm.kinds.sos]`: an SOS lights the scene, flashes the strobe and answers the
    /// caller by voice instead of wailing the siren. Replaces the built-in kinds.
    #[serde(default = "AlarmConfig::default_kinds")]
    pub kinds: BTreeMap<String, LevelActions>,
}

impl AlarmConfig {
    fn default_siren_max_s() -> u64 {
        180
    }
    fn default_escalate_after_s() -> u64 {
        60
    }
    fn default_expire_after_s() -> u64 {
        900
    }
    fn default_voice_repeat_s() -> u64 {
        30
    }
    fn default_ack_button() -> String {
        "button".into()
    }
    fn default_audible() -> Vec<String> {
        vec!["siren".into()]
    }
    fn default_kinds() -> BTreeMap<String, LevelActions> {
        BTreeMap::from([(
            "sos".to_string(),
            LevelActions::new(&[("strobe", "flash")], LampAction::Full, true),
        )])
    }

    /// The built-in patterns, overridden by `patterns`.
    pub fn patterns(&self) -> Result<BTreeMap<String, Pattern>, String> {
        let builtin: [(&str, &[u32]); 6] = [
            ("steady", &[]),
            ("pulse", &[500, 500]),
            ("wail", &[1500, 500]),
            ("flash", &[100, 400]),
            ("slow", &[200, 1800]),
            ("flash-lamps", &[700, 700]),
        ];
        let mut patterns: BTreeMap<String, Pattern> = builtin
            .iter()
            .map(|(name, steps)| (name.to_string(), Pattern::new(steps).expect("valid")))
            .collect();
        for (name, steps) in &self.patterns {
            let pattern = Pattern::new(steps).map_err(|e| format!("alarm.patterns.{name}: {e}"))?;
            patterns.insert(name.clone(), pattern);
        }
        Ok(patterns)
    }

    /// The level and kind actions for a pole with `outputs`: configured ones must name
    /// outputs the pole has and known patterns; the built-in ones skip outputs the pole
    /// lacks.
    pub fn levels(&self, outputs: &[String]) -> Result<Levels, String> {
        let patterns = self.patterns()?;
        let builtin_kinds = self.kinds == Self::default_kinds();
        let mut levels = self.levels.clone().unwrap_or_default();
        levels.kinds = self.kinds.clone();
        let check = |name: String, actions: &mut LevelActions, builtin: bool| {
            if builtin {
                actions.outputs.retain(|o, _| outputs.contains(o));
                return Ok(());
            }
            for (output, pattern) in &actions.outputs {
                if !outputs.contains(output) {
                    return Err(format!(
                        "alarm.{name}: no output `{output}` on this pole (it has: {})",
                        outputs.join(", ")
                    ));
                }
                if !patterns.contains_key(pattern) {
                    return Err(format!(
                        "alarm.{name}.outputs.{output}: no pattern `{pattern}`"
                    ));
                }
            }
            Ok(())
        };
        let builtin_levels = self.levels.is_none();
        for (level, actions) in [
            (Level::Advisory, &mut levels.advisory),
            (Level::Warning, &mut levels.warning),
            (Level::Emergency, &mut levels.emergency),
        ] {
            check(
                format!("levels.{}", level.as_str()),
                actions,
                builtin_levels,
            )?;
        }
        for (kind, actions) in &mut levels.kinds {
            check(format!("kinds.{kind}"), actions, builtin_kinds)?;
        }
        Ok(levels)
    }
}

impl Default for AlarmConfig {
    fn default() -> Self {
        toml::from_str("").expect("every field has a default")
    }
}
