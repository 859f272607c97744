//! The controller driven natively through an in-memory [`Host`], at Chachoengsao
//! (13.69 N, 101.07 E, UTC+7) around the night of 2026-11-21.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use sao_plugin_dimming::{Config, Controller, EventState, Host, Lamp, Severity};
use sao_plugin_sdk::testing::{MemoryPlatform, MemoryPole, Record};
use sun::SunPhase;

const LAT: f64 = 13.69;
const LON: f64 = 101.07;
const OFFSET_MIN: i32 = 420;
const MINUTE: u64 = 60_000;

/// A pole in memory: lamps whose meters integrate their level, and the SDK's platform
/// recording everything published.
struct MemoryHost {
    now_ms: u64,
    lamps: Vec<Lamp>,
    levels: BTreeMap<String, f32>,
    meters: BTreeMap<String, f64>,
    metered_to: u64,
    base: MemoryPlatform,
    set_calls: Vec<(u64, f32, u32)>,
    failing: BTreeSet<String>,
}

impl MemoryHost {
    fn new(now_ms: u64) -> Self {
        MemoryHost {
            now_ms,
            lamps: vec![Lamp {
                id: "main".into(),
                rated_watts: 100.0,
            }],
            levels: BTreeMap::new(),
            meters: BTreeMap::new(),
            metered_to: now_ms,
            base: MemoryPlatform {
                utc_offset_minutes: OFFSET_MIN,
                location: (LAT, LON),
                ..MemoryPlatform::default()
            },
            set_calls: Vec::new(),
            failing: BTreeSet::new(),
        }
    }

    /// Advances every meter to `now_ms` at the lamps' present levels.
    fn integrate(&mut self) {
        let hours = (self.now_ms - self.metered_to) as f64 / 3.6e6;
        for lamp in &self.lamps {
            let level = f64::from(self.levels.get(&lamp.id).copied().unwrap_or(0.0));
            *self.meters.entry(lamp.id.clone()).or_default() +=
                lamp.rated_watts * level / 100.0 * hours / 1000.0;
        }
        self.metered_to = self.now_ms;
    }

    fn stream(&self, name: &str) -> Vec<&Record> {
        self.base.stream(name)
    }
}

impl Host for MemoryHost {
    fn lamps(&mut self) -> Vec<Lamp> {
        self.lamps.clone()
    }

    fn set_level(&mut self, lamp: &str, percent: f32, fade_ms: u32) -> Result<(), String> {
        if self.failing.contains(lamp) {
            return Err("driver does not answer".into());
        }
        self.integrate();
        self.levels.insert(lamp.to_string(), percent);
        self.set_calls.push((self.now_ms, percent, fade_ms));
        Ok(())
    }

    fn read_energy_kwh(&mut self, lamp: &str) -> Result<f64, String> {
        self.integrate();
        self.meters
            .get(lamp)
            .copied()
            .ok_or_else(|| "no meter".into())
    }
}

impl MemoryPole for MemoryHost {
    fn memory(&mut self) -> &mut MemoryPlatform {
        &mut self.base
    }
}

/// Unix ms of a local (UTC+7) time in November 2026.
fn local(day: u32, hour: u32, minute: u32) -> u64 {
    let utc = NaiveDate::from_ymd_opt(2026, 11, day)
        .unwrap()
        .and_hms_opt(hour, minute, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis()
        - i64::from(OFFSET_MIN) * MINUTE as i64;
    utc as u64
}

fn sun_event(near_ms: u64, phase: SunPhase) -> u64 {
    sun::time_at_phase(near_ms as i64, phase, LAT, LON, 0.0) as u64
}

/// Ticks every minute over `[from, to)`, calling `before` ahead of each tick; returns
/// `(time, level)` per tick.
fn run(
    controller: &mut Controller,
    host: &mut MemoryHost,
    from: u64,
    to: u64,
    mut before: impl FnMut(u64, &mut Controller, &mut MemoryHost),
) -> Vec<(u64, f32)> {
    let mut levels = Vec::new();
    let mut t = from;
    while t < to {
        before(t, controller, host);
        host.now_ms = t;
        controller.tick(t, host).unwrap();
        levels.push((t, controller.level().unwrap()));
        t += MINUTE;
    }
    levels
}

fn level_at(levels: &[(u64, f32)], t: u64) -> f32 {
    levels.iter().find(|(at, _)| *at == t).unwrap().1
}

fn parse(json: &str) -> Config {
    Config::from_json(json).unwrap()
}

fn metric(record: &Record, name: &str) -> f64 {
    record.metric(name).unwrap()
}

#[test]
fn a_night_in_chachoengsao() {
    let (start, end) = (local(21, 12, 0), local(22, 12, 0));
    let mut host = MemoryHost::new(start);
    let mut controller = Controller::new(Config::default(), &mut host).unwrap();
    let levels = run(&mut controller, &mut host, start, end, |_, _, _| {});

    let sunset = sun_event(start, SunPhase::Sunset);
    let sunrise = sun_event(end, SunPhase::Sunrise);
    let first_lit = levels.iter().find(|(_, l)| *l > 0.0).unwrap().0;
    let first_dark = levels
        .iter()
        .find(|(t, l)| *t > first_lit && *l == 0.0)
        .unwrap()
        .0;
    assert!(
        first_lit.abs_diff(sunset) <= 2 * MINUTE,
        "on at {first_lit}, sunset {sunset}"
    );
    assert!(
        first_dark.abs_diff(sunrise) <= 2 * MINUTE,
        "off at {first_dark}, sunrise {sunrise}"
    );

    assert_eq!(level_at(&levels, local(21, 15, 0)), 0.0);
    assert_eq!(level_at(&levels, local(21, 19, 0)), 100.0);
    assert_eq!(level_at(&levels, local(21, 21, 59)), 100.0);
    assert_eq!(level_at(&levels, local(21, 22, 0)), 60.0);
    assert_eq!(level_at(&levels, local(22, 2, 0)), 60.0);
    assert_eq!(level_at(&levels, local(22, 5, 0)), 80.0);
    assert_eq!(level_at(&levels, local(22, 11, 0)), 0.0);

    // Every tick re-asserts the level; `lamp` telemetry only on changes (0, 100, 60, 80, 0).
    assert_eq!(host.set_calls.len(), levels.len());
    assert_eq!(host.stream("lamp").len(), 5);

    let reports = host.stream("energy-daily");
    assert_eq!(reports.len(), 1);
    let report = reports[0];
    let night_h = (sunrise - sunset) as f64 / 3.6e6;
    let baseline = metric(report, "baseline-kwh");
    assert!(
        (baseline / (0.150 * night_h) - 1.0).abs() < 0.01,
        "{baseline} vs {night_h} h"
    );
    let used = metric(report, "kwh");
    assert!(
        (used - host.meters["main"]).abs() < 1e-9,
        "the whole day's metered energy"
    );
    let saving = metric(report, "saving");
    assert!(saving > 0.0 && (saving - 100.0 * (1.0 - used / baseline)).abs() < 1e-9);
    assert!((metric(report, "lit-hours") - night_h).abs() < 2.0 / 60.0 + 1e-9);
    let night_start = metric(report, "night-start") * 1000.0;
    assert!((night_start - sunset as f64).abs() <= 1000.0);
    // The accounts start afresh after the report.
    assert_eq!(controller.energy().used_kwh, 0.0);
}

#[test]
fn motion_boosts_only_while_lit() {
    let (start, end) = (local(21, 12, 0), local(22, 0, 0));
    let mut host = MemoryHost::new(start);
    let mut controller = Controller::new(Config::default(), &mut host).unwrap();
    let motion_at = [local(21, 12, 0) + 30_000, local(21, 23, 0) + 30_000];
    let mut calls_after_noon_motion = None;
    let levels = run(&mut controller, &mut host, start, end, |t, c, h| {
        if t == local(21, 12, 1) {
            h.now_ms = motion_at[0];
            c.on_reading("motion", 1.0, motion_at[0], h).unwrap();
            calls_after_noon_motion = Some(h.set_calls.len());
        }
        if t == local(21, 23, 1) {
            h.now_ms = motion_at[1];
            let before = h.set_calls.len();
            c.on_reading("motion", 1.0, motion_at[1], h).unwrap();
            // Raised at once, with the fast fade.
            assert_eq!(h.set_calls.len(), before + 1);
            assert_eq!(h.set_calls[before], (motion_at[1], 100.0, 1000));
        }
    });
    // At noon: no command besides the one tick before it.
    assert_eq!(calls_after_noon_motion, Some(1));
    assert_eq!(level_at(&levels, local(21, 12, 1)), 0.0);

    assert_eq!(level_at(&levels, local(21, 23, 0)), 60.0);
    assert_eq!(level_at(&levels, local(21, 23, 1)), 100.0);
    assert_eq!(level_at(&levels, local(21, 23, 2)), 100.0);
    assert_eq!(level_at(&levels, local(21, 23, 3)), 60.0);
    // Back down with the slow fade.
    let down = host
        .set_calls
        .iter()
        .find(|c| c.0 == local(21, 23, 3))
        .unwrap();
    assert_eq!(down.2, 30_000);
    let after = host
        .set_calls
        .iter()
        .find(|c| c.0 == local(21, 23, 4))
        .unwrap();
    assert_eq!(after.2, 2000);
}

#[test]
fn photocell_lights_a_dark_afternoon_with_hysteresis() {
    let (start, end) = (local(21, 14, 0), local(21, 17, 0));
    let mut host = MemoryHost::new(start);
    let mut controller = Controller::new(Config::default(), &mut host).unwrap();
    let readings = [
        (local(21, 15, 0), 5.0),
        (local(21, 15, 30), 40.0),
        (local(21, 16, 0), 70.0),
    ];
    let levels = run(&mut controller, &mut host, start, end, |t, c, h| {
        for (at, lux) in readings {
            if at == t {
                c.on_reading("lux", lux, t, h).unwrap();
            }
        }
    });
    assert_eq!(level_at(&levels, local(21, 14, 59)), 0.0);
    let storm = level_at(&levels, local(21, 15, 0));
    assert!(storm >= 10.0, "{storm}");
    assert_eq!(storm, 100.0, "the night's first step");
    assert_eq!(
        level_at(&levels, local(21, 15, 45)),
        storm,
        "40 lx is within the hysteresis"
    );
    assert_eq!(level_at(&levels, local(21, 16, 0)), 0.0);
    // Daytime lighting counts in the period's energy, but not in the baseline.
    let energy = controller.energy();
    assert!(energy.used_kwh > 0.09 && energy.baseline_kwh == 0.0);
}

#[test]
fn min_level_is_never_undercut() {
    let config = parse(
        r#"{"min-level": 15, "default-program": "off-at-night",
            "programs": {"off-at-night": {"steps": [{"from": "dusk", "level": 0}]}}}"#,
    );
    let mut host = MemoryHost::new(local(21, 13, 0));
    let mut controller = Controller::new(config, &mut host).unwrap();
    for (t, want) in [
        (local(21, 13, 0), 0.0),
        (local(21, 20, 0), 15.0),
        (local(22, 3, 0), 15.0),
    ] {
        host.now_ms = t;
        controller.tick(t, &mut host).unwrap();
        assert_eq!(controller.level(), Some(want));
    }
}

#[test]
fn override_expires() {
    let config = parse(r#"{"override": {"level": 30, "until": "2026-11-21T23:00:00+07:00"}}"#);
    let mut host = MemoryHost::new(local(21, 13, 0));
    let mut controller = Controller::new(config, &mut host).unwrap();
    for (t, want) in [
        (local(21, 13, 0), 0.0),
        (local(21, 20, 0), 30.0),
        (local(21, 22, 59), 30.0),
        (local(21, 23, 0), 60.0),
    ] {
        host.now_ms = t;
        controller.tick(t, &mut host).unwrap();
        assert_eq!(controller.level(), Some(want));
    }
    // Unix milliseconds work too, and min-level still applies.
    let ms = local(22, 1, 0);
    let low = parse(&format!(r#"{{"override": {{"level": 2, "until": {ms}}}}}"#));
    controller.set_config(low, &mut host).unwrap();
    host.now_ms = local(21, 23, 30);
    controller.tick(host.now_ms, &mut host).unwrap();
    assert_eq!(controller.level(), Some(10.0));
}

#[test]
fn calendar_picks_the_program_by_date_then_weekday() {
    // 2026-11-21 is a Saturday.
    let config = parse(
        r#"{"calendar": [
                {"program": "holiday", "dates": ["2026-11-21"]},
                {"program": "weekend", "weekdays": ["sat", "sun"]}],
            "programs": {
                "holiday": {"steps": [{"from": "dusk", "level": 100}]},
                "weekend": {"steps": [{"from": "dusk", "level": 90}, {"from": "22:00", "level": 70}]}}}"#,
    );
    let mut host = MemoryHost::new(local(21, 23, 0));
    let mut controller = Controller::new(config, &mut host).unwrap();
    for (t, want) in [
        (local(21, 23, 0), 100.0), // holiday (date rule first)
        (local(22, 2, 0), 100.0),  // early hours belong to the evening's night
        (local(22, 19, 0), 90.0),  // Sunday: weekend
        (local(22, 23, 0), 70.0),
        (local(23, 23, 0), 60.0), // Monday: standard
    ] {
        host.now_ms = t;
        controller.tick(t, &mut host).unwrap();
        assert_eq!(controller.level(), Some(want), "at {t}");
    }
}

#[test]
fn a_restarted_controller_resumes_its_accounts() {
    let (start, restart, end) = (local(21, 12, 0), local(22, 0, 0), local(22, 12, 0));
    let mut reference = MemoryHost::new(start);
    let mut one = Controller::new(Config::default(), &mut reference).unwrap();
    run(&mut one, &mut reference, start, end, |_, _, _| {});

    let mut host = MemoryHost::new(start);
    let mut first = Controller::new(Config::default(), &mut host).unwrap();
    run(&mut first, &mut host, start, restart, |_, _, _| {});
    let before = first.energy();
    assert!(before.used_kwh > 0.0 && before.baseline_kwh > 0.0);
    drop(first);

    let mut second = Controller::new(Config::default(), &mut host).unwrap();
    let resumed = second.energy();
    assert_eq!(resumed.lit_ms, before.lit_ms);
    assert!((resumed.used_kwh - before.used_kwh).abs() < 1e-12);
    assert!((resumed.baseline_kwh - before.baseline_kwh).abs() < 1e-12);
    assert_eq!(second.level(), Some(60.0), "last level sent, at 23:59");
    run(&mut second, &mut host, restart, end, |_, _, _| {});

    let (a, b) = (
        reference.stream("energy-daily"),
        host.stream("energy-daily"),
    );
    assert_eq!((a.len(), b.len()), (1, 1));
    for (x, y) in a[0].metrics.iter().zip(&b[0].metrics) {
        assert_eq!(x.0, y.0);
        assert!((x.1 - y.1).abs() < 1e-9, "{}: {} vs {}", x.0, x.1, y.1);
    }
}

#[test]
fn lamp_faults_raise_and_clear_one_event() {
    let mut host = MemoryHost::new(local(21, 20, 0));
    let mut controller = Controller::new(Config::default(), &mut host).unwrap();
    for minute in 0..10 {
        let t = local(21, 20, minute);
        host.now_ms = t;
        if minute == 3 {
            host.failing.insert("main".into());
        }
        if minute == 6 {
            host.failing.clear();
        }
        let result = controller.tick(t, &mut host);
        assert_eq!(result.is_err(), (3..6).contains(&minute), "minute {minute}");
    }
    let events = &host.base.events;
    let kinds: Vec<_> = events.iter().map(|e| (e.kind.as_str(), e.state)).collect();
    assert_eq!(
        kinds,
        [
            ("lamp-fault", EventState::Raised),
            ("lamp-fault", EventState::Cleared)
        ]
    );
    for event in events {
        assert_eq!(event.severity, Severity::Warning);
        assert_eq!(event.details["lamp"], "main", "{:?}", event.details);
    }
}

#[test]
fn config_errors_are_clear() {
    let mut host = MemoryHost::new(local(21, 12, 0));
    let err = Controller::new(parse(r#"{"lamps": ["side"]}"#), &mut host).unwrap_err();
    assert!(err.contains("side") && err.contains("main"), "{err}");
    let mut controller = Controller::new(Config::default(), &mut host).unwrap();
    let err = controller
        .set_config(parse(r#"{"default-program": "missing"}"#), &mut host)
        .unwrap_err();
    assert!(err.contains("missing"), "{err}");
}
