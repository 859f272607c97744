//! Pole health: one verdict a dashboard colours green, amber or red, with the findings
//! behind it, so an operator sees a dead camera or lamp the same day.
//!
//! * [`config`] — `[health]`: thresholds, sensor ranges, the self-test time.
//! * [`checks`] — the rules: an [`Observation`] of the pole becomes findings.
//! * [`thermal`] — derating inference as the box's SoC heats up.
//! * [`system`] — disk and memory of the box.
//!
//! The runtime gathers an [`Observation`] every `check-interval-s` and hands it to the
//! [`Monitor`], which keeps each finding with the time it began and tells what changed.
//! The runtime publishes each change at once (`evt/sao/health`) and the summary every
//! `timing.health-interval-s` (`tele/sao/health`); the technician page shows the same.

pub mod checks;
pub mod config;
pub mod system;
pub mod thermal;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;

pub use checks::{CameraState, Observation, PluginState, SensorState};
pub use config::HealthConfig;
pub use thermal::Derating;

use crate::alarm::OutputTest;
use crate::uplink::{Event, EventState, Metric, Severity, Source, Uplink};
use checks::Problem;
use sao_hardware::thermal::CPU_TEMPERATURE;

/// How a component, or the whole pole, is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Everything works.
    #[default]
    Green,
    /// Degraded, or about to be.
    Amber,
    /// A function the pole owes its street is lost.
    Red,
}

impl Status {
    /// 0, 1 or 2, for telemetry and metrics.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The event severity of a finding with this status.
    fn severity(self) -> Severity {
        match self {
            Status::Green => Severity::Info,
            Status::Amber => Severity::Warning,
            Status::Red => Severity::Critical,
        }
    }
}

/// Something wrong with one component, and since when.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Finding {
    /// `kind:name` or `kind` (`lamp:lamp-1`, `camera:forest-edge`, `cpu`).
    pub component: String,
    /// Amber or red.
    pub status: Status,
    /// What is wrong, for people.
    pub problem: String,
    /// When it began (or last changed status), pole time in ms.
    pub since_ms: u64,
}

/// A finding that appeared, changed status, or cleared.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The finding (as it was, for a cleared one).
    pub finding: Finding,
    /// Whether it cleared.
    pub cleared: bool,
}

/// Keeps the pole's findings between checks.
pub struct Monitor {
    config: HealthConfig,
    findings: BTreeMap<String, Finding>,
    dim_checks: BTreeMap<String, u32>,
    plugin_troubles: BTreeMap<String, (u64, u64)>,
    derating: Derating,
    cpu_celsius: Option<f64>,
    self_test: Vec<OutputTest>,
    self_test_day: Option<i64>,
    next_check_ms: u64,
}

impl Monitor {
    /// A monitor with no findings yet.
    pub fn new(config: HealthConfig) -> Self {
        Self {
            config,
            findings: BTreeMap::new(),
            dim_checks: BTreeMap::new(),
            plugin_troubles: BTreeMap::new(),
            derating: Derating::None,
            cpu_celsius: None,
            self_test: Vec::new(),
            self_test_day: None,
            next_check_ms: 0,
        }
    }

    /// Whether a check is due at `now_ms`.
    pub fn check_due(&self, now_ms: u64) -> bool {
        now_ms >= self.next_check_ms
    }

    /// Runs every check on `observation`; returns what changed.
    pub fn check(&mut self, observation: &Observation) -> Vec<Change> {
        let now = observation.now_ms;
        self.next_check_ms = now + self.config.check_interval_s * 1000;
        self.cpu_celsius = observation
            .sensors
            .iter()
            .find(|s| s.name == CPU_TEMPERATURE && s.problem.is_none())
            .and_then(|s| s.value);
        if let Some(celsius) = self.cpu_celsius {
            self.derating = self.derating.next(celsius, &self.config);
        }
        let mut problems = Vec::new();
        checks::sensors(&observation.sensors, &self.config, &mut problems);
        checks::lamps(
            &observation.lamps,
            &self.config,
            &mut self.dim_checks,
            &mut problems,
        );
        checks::cameras(&observation.cameras, &mut problems);
        checks::outputs(&self.self_test, &mut problems);
        checks::plugins(
            &observation.plugins,
            &self.config,
            now,
            &mut self.plugin_troubles,
            &mut problems,
        );
        checks::system(
            self.cpu_celsius,
            self.derating,
            &observation.system,
            &self.config,
            &mut problems,
        );
        checks::uplink(
            observation.uplink_down_since_ms,
            now,
            &self.config,
            &mut problems,
        );
        self.merge(problems, now)
    }

    /// Replaces the findings with `problems`, keeping the start of those that go on.
    fn merge(&mut self, problems: Vec<Problem>, now: u64) -> Vec<Change> {
        let mut changes = Vec::new();
        let mut next = BTreeMap::new();
        for p in problems {
            let (since_ms, changed) = match self.findings.get(&p.component) {
                Some(f) if f.status == p.status => (f.since_ms, false),
                _ => (now, true),
            };
            let finding = Finding {
                component: p.component.clone(),
                status: p.status,
                problem: p.message,
                since_ms,
            };
            if changed {
                changes.push(Change {
                    finding: finding.clone(),
                    cleared: false,
                });
            }
            next.insert(p.component, finding);
        }
        for (component, finding) in std::mem::take(&mut self.findings) {
            if !next.contains_key(&component) {
                changes.push(Change {
                    finding,
                    cleared: true,
                });
            }
        }
        self.findings = next;
        changes
    }

    /// Makes the next check due at once (after a self-test from the page).
    pub fn recheck(&mut self) {
        self.next_check_ms = 0;
    }

    /// The pole's verdict: its worst finding.
    pub fn status(&self) -> Status {
        self.findings
            .values()
            .map(|f| f.status)
            .max()
            .unwrap_or_default()
    }

    /// The findings, worst first.
    pub fn findings(&self) -> Vec<Finding> {
        let mut findings: Vec<Finding> = self.findings.values().cloned().collect();
        findings.sort_by(|a, b| b.status.cmp(&a.status).then(a.component.cmp(&b.component)));
        findings
    }

    /// The share of time inference may run now.
    pub fn inference_duty(&self) -> f64 {
        self.derating.duty(&self.config)
    }

    /// The results of the last output self-test.
    pub fn self_test(&self) -> &[OutputTest] {
        &self.self_test
    }

    /// Keeps the results of an output self-test for the next check.
    pub fn record_self_test(&mut self, results: Vec<OutputTest>) {
        self.self_test = results;
    }

    /// Whether the daily self-test is due at `now_ms` (once per pole-local day, at
    /// `self-test-at`). The day the pole starts counts as done if the time has passed,
    /// so a restart does not click every relay.
    pub fn self_test_due(&mut self, now_ms: u64, utc_offset_minutes: i32) -> bool {
        let Ok(Some(at)) = self.config.self_test_minute() else {
            return false;
        };
        let local_minutes = (now_ms / 60_000) as i64 + i64::from(utc_offset_minutes);
        let (day, minute) = (
            local_minutes.div_euclid(1440),
            local_minutes.rem_euclid(1440),
        );
        let passed = minute >= i64::from(at);
        match self.self_test_day {
            None => {
                self.self_test_day = Some(if passed { day } else { day - 1 });
                false
            }
            Some(done) if done < day && passed => {
                self.self_test_day = Some(day);
                true
            }
            Some(_) => false,
        }
    }

    /// Publishes the summary on `…/tele/sao/health`.
    pub fn publish_summary(&self, uplink: &Uplink, now_ms: u64) {
        let metric = |name: &str, value: f64, unit: &str| Metric {
            name: name.into(),
            value,
            unit: unit.into(),
        };
        let mut metrics = vec![
            metric("status", f64::from(self.status().code()), "1"),
            metric("findings", self.findings.len() as f64, "1"),
            metric("inference-duty", self.inference_duty(), "1"),
        ];
        if let Some(celsius) = self.cpu_celsius {
            metrics.push(metric("cpu-temperature", celsius, "Cel"));
        }
        let details = json!({
            "status": self.status(),
            "findings": self.findings(),
        });
        // Logged by the uplink if it cannot be queued.
        let _ = uplink.telemetry_with_details(&Source::host(), "health", &metrics, details, now_ms);
    }

    /// Publishes each change on `…/evt/sao/health`.
    pub fn publish_changes(&self, uplink: &Uplink, changes: &[Change], now_ms: u64) {
        let pole = self.status();
        for change in changes {
            let f = &change.finding;
            let (state, severity, message) = if change.cleared {
                (
                    EventState::Cleared,
                    Severity::Info,
                    format!("{}: recovered", f.component),
                )
            } else {
                (
                    EventState::Raised,
                    f.status.severity(),
                    format!("{}: {}", f.component, f.problem),
                )
            };
            let _ = uplink.event(
                &Source::host(),
                &Event {
                    kind: "health",
                    state,
                    severity,
                    message: &message,
                    details: json!({
                        "component": f.component,
                        "status": if change.cleared { Status::Green } else { f.status },
                        "problem": f.problem,
                        "since-ts": f.since_ms,
                        "pole-status": pole,
                    }),
                },
                now_ms,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alarm::TestOutcome;
    use crate::devices::lamps::LampStatus;

    const T0: u64 = 1_795_219_200_000; // 2026-11-21T00:00Z = 07:00 in Thailand

    fn lamp(level: f32, watts: f64) -> LampStatus {
        LampStatus {
            id: "lamp-1".into(),
            level,
            watts,
            total_kwh: 1.0,
            rated_watts: 100.0,
            meter_error: None,
            controller: Some("dimming".into()),
            failsafe: false,
        }
    }

    fn sensor(name: &str, value: f64, problem: Option<&str>) -> SensorState {
        SensorState {
            name: name.into(),
            value: Some(value),
            unit: "Cel".into(),
            problem: problem.map(String::from),
        }
    }

    fn observe(now_ms: u64) -> Observation {
        Observation {
            now_ms,
            sensors: vec![sensor("cpu-temperature", 55.0, None)],
            lamps: vec![lamp(80.0, 80.5)],
            ..Observation::default()
        }
    }

    #[test]
    fn findings_keep_their_start_and_changes_are_reported_once() {
        let mut monitor = Monitor::new(HealthConfig::default());
        assert!(monitor.check(&observe(T0)).is_empty());
        assert_eq!(monitor.status(), Status::Green);

        let mut hot = observe(T0 + 10_000);
        hot.sensors = vec![
            sensor("cpu-temperature", 79.0, None),
            sensor("pm25", 5_000.0, None),
        ];
        let changes = monitor.check(&hot);
        let components: Vec<_> = changes
            .iter()
            .map(|c| c.finding.component.as_str())
            .collect();
        assert_eq!(components, ["sensor:pm25", "cpu"]);
        assert_eq!(monitor.status(), Status::Amber);
        assert_eq!(monitor.inference_duty(), 0.5);

        hot.now_ms += 10_000;
        hot.sensors[0].value = Some(80.0);
        assert!(monitor.check(&hot).is_empty(), "same findings, no news");
        assert!(monitor.findings().iter().all(|f| f.since_ms == T0 + 10_000));
        assert!(
            monitor.findings()[0].problem.contains("80.0 °C"),
            "the text follows"
        );

        hot.now_ms += 10_000;
        hot.sensors[0].value = Some(90.0);
        let changes = monitor.check(&hot);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].finding.status, Status::Red);
        assert_eq!(monitor.inference_duty(), 0.2);

        let cool = observe(hot.now_ms + 10_000);
        let changes = monitor.check(&cool);
        assert!(changes.iter().all(|c| c.cleared));
        assert_eq!(changes.len(), 2);
        assert_eq!(monitor.status(), Status::Green);
        assert_eq!(monitor.inference_duty(), 1.0);
    }

    #[test]
    fn a_dark_lamp_is_red_on_the_second_check_and_a_refusing_output_at_once() {
        let mut monitor = Monitor::new(HealthConfig::default());
        let mut dark = observe(T0);
        dark.lamps = vec![lamp(80.0, 0.0)];
        assert!(monitor.check(&dark).is_empty(), "one reading may be a fade");
        dark.now_ms += 10_000;
        let changes = monitor.check(&dark);
        assert_eq!(changes[0].finding.component, "lamp:lamp-1");
        assert_eq!(changes[0].finding.status, Status::Red);
        assert!(changes[0].finding.problem.contains("draws 0.0 W"));

        let mut off = observe(dark.now_ms + 10_000);
        off.lamps = vec![lamp(0.0, 0.5)];
        assert!(
            monitor.check(&off)[0].cleared,
            "a lamp that is off draws nothing"
        );

        monitor.record_self_test(vec![OutputTest {
            output: "siren".into(),
            outcome: TestOutcome::Failed("no answer".into()),
        }]);
        let changes = monitor.check(&observe(off.now_ms + 10_000));
        assert_eq!(changes[0].finding.component, "output:siren");
        assert_eq!(monitor.status(), Status::Red);
    }

    #[test]
    fn plugins_off_or_restarting_and_a_long_uplink_outage() {
        let config = HealthConfig::default();
        let mut monitor = Monitor::new(config.clone());
        let plugin = |state: &'static str, restarts: u64| PluginState {
            id: "dimming".into(),
            state,
            reason: (state != "running").then(|| "trap".into()),
            restarts,
            deadline_hits: 0,
        };
        let mut o = observe(T0);
        o.plugins = vec![plugin("running", 0)];
        o.uplink_down_since_ms = Some(T0);
        assert!(monitor.check(&o).is_empty());
        o.now_ms = T0 + config.uplink_offline_warn_s * 1000;
        o.plugins = vec![plugin("running", 1)];
        let found: Vec<_> = monitor
            .check(&o)
            .into_iter()
            .map(|c| (c.finding.component, c.finding.status))
            .collect();
        assert_eq!(
            found,
            [
                ("plugin:dimming".into(), Status::Amber),
                ("uplink".into(), Status::Amber)
            ]
        );
        o.plugins = vec![plugin("disabled", 1)];
        assert_eq!(monitor.check(&o)[0].finding.status, Status::Red);
        o.plugins = vec![plugin("running", 1)];
        o.now_ms += config.plugin_restart_window_s * 1000;
        o.uplink_down_since_ms = None;
        assert!(
            monitor.check(&o).iter().all(|c| c.cleared),
            "the window passed"
        );
    }

    #[test]
    fn the_self_test_runs_once_a_day_at_its_local_time_but_not_at_boot() {
        let mut monitor = Monitor::new(HealthConfig::default()); // 10:00
        let at = |h: u64, m: u64| T0 + ((h - 7) * 60 + m) * 60_000; // local hours on 21 Nov
        assert!(
            !monitor.self_test_due(at(11, 0), 420),
            "booted after 10:00: tomorrow"
        );
        assert!(!monitor.self_test_due(at(23, 0), 420));
        let tomorrow = at(9, 59) + 86_400_000;
        assert!(!monitor.self_test_due(tomorrow, 420));
        assert!(monitor.self_test_due(tomorrow + 60_000, 420));
        assert!(!monitor.self_test_due(tomorrow + 120_000, 420), "once");
        let mut early = Monitor::new(HealthConfig::default());
        assert!(!early.self_test_due(at(8, 0), 420));
        assert!(
            early.self_test_due(at(10, 0), 420),
            "booted before 10:00: today"
        );
    }
}
