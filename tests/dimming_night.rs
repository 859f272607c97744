//! The dimming plugin, compiled to wasm and signed, runs through a whole night on a
//! simulated pole in Chachoengsao via `sao sim`: lamp on near sunset, the program's
//! time-of-night levels, a motion boost and its return, off near sunrise, and the night's
//! energy report against the old lamp.

mod common;

use common::{dimming_files, dimming_plugin, metric, on_topic, pole_header_with, Bench};

const LAT: f64 = 13.69;
const LON: f64 = 101.07;
/// 2026-11-21T12:00:00+07:00
const NOON: u64 = 1_795_237_200_000;
const MIN: u64 = 60_000;

/// Local clock time `hh:mm` of the night that starts on 2026-11-21 as epoch ms.
fn local(hh: u64, mm: u64) -> u64 {
    let minutes_after_noon = if hh >= 12 {
        (hh - 12) * 60 + mm
    } else {
        (hh + 12) * 60 + mm
    };
    NOON + minutes_after_noon * MIN
}

fn sun_event(phase: sun::SunPhase, around: u64) -> u64 {
    sun::time_at_phase(around as i64, phase, LAT, LON, 0.0) as u64
}

#[test]
fn a_night_of_adaptive_lighting_with_motion_and_an_energy_report() {
    let bench = Bench::new();
    bench.package("dimming", dimming_files());
    let scenario = pole_header_with(
        "2026-11-21T12:00:00+07:00",
        24.0,
        10,
        "motion = [\"2026-11-21T12:30:00+07:00\", \"2026-11-21T23:00:00+07:00\"]",
    ) + "\n[timing]\nhealth-interval-s = 60\n"
        + &dimming_plugin("{ baseline-watts-per-lamp = 150.0 }");
    let (summary, records) = bench.simulate(&scenario);
    assert_eq!(
        summary.plugins[0]["health"]["state"], "running",
        "{}",
        summary.plugins
    );

    let sunset = sun_event(sun::SunPhase::Sunset, local(12, 0));
    let sunrise = sun_event(sun::SunPhase::Sunrise, local(12, 0) + 24 * 60 * MIN);
    assert!(
        sunset > local(17, 35) && sunset < local(18, 0),
        "reference sunset"
    );
    assert!(
        sunrise > local(6, 0) && sunrise < local(6, 30),
        "reference sunrise"
    );

    // The host samples the lamp every virtual minute.
    let samples: Vec<(u64, f64)> = on_topic(&records, "/tele/sao/lamp-main")
        .iter()
        .map(|r| (r["payload"]["ts"].as_u64().unwrap(), metric(r, "level")))
        .collect();
    assert!(samples.len() > 1400, "{} samples", samples.len());
    let levels_between = |from: u64, to: u64| -> Vec<f64> {
        samples
            .iter()
            .filter(|(t, _)| *t >= from && *t < to)
            .map(|(_, l)| *l)
            .collect()
    };
    let all = |from: u64, to: u64, level: f64| {
        let got = levels_between(from, to);
        assert!(!got.is_empty());
        assert!(
            got.iter().all(|l| (l - level).abs() < 0.01),
            "{from}..{to}: expected {level}, got {got:?}"
        );
    };

    // Daytime, including the motion at 12:30: off.
    all(local(12, 5), sunset - 5 * MIN, 0.0);
    // Switched on at sunset (within two ticks).
    let on_at = samples
        .iter()
        .find(|(t, l)| *t > local(12, 5) && *l > 0.0)
        .unwrap()
        .0;
    assert!(
        on_at.abs_diff(sunset) <= 2 * MIN,
        "on at {on_at}, sunset {sunset}"
    );
    // 100 % from dusk, 60 % from 22:00, motion boost at 23:00, back to 60 %, 80 % from 05:00.
    all(sunset + 3 * MIN, local(22, 0), 100.0);
    all(local(22, 2), local(23, 0), 60.0);
    all(local(23, 1), local(23, 2), 100.0);
    all(local(23, 4), local(5, 0), 60.0);
    all(local(5, 2), sunrise - 2 * MIN, 80.0);
    // Off after sunrise.
    let off_at = samples
        .iter()
        .find(|(t, l)| *t > local(5, 2) && *l == 0.0)
        .unwrap()
        .0;
    assert!(
        off_at.abs_diff(sunrise) <= 2 * MIN,
        "off at {off_at}, sunrise {sunrise}"
    );
    all(sunrise + 3 * MIN, local(11, 59), 0.0);

    // The lamp was never left to the fail-safe during the night.
    let failsafe = on_topic(&records, "/evt/sao/lighting-failsafe");
    assert!(
        failsafe.iter().all(|r| r["payload"]["state"] == "cleared"),
        "{failsafe:#?}"
    );

    // One energy report, at the end of the night.
    let reports = on_topic(&records, "/tele/dimming/energy-daily");
    assert_eq!(reports.len(), 1, "{reports:#?}");
    let report = reports[0];
    let night_hours = (sunrise - sunset) as f64 / 3_600_000.0;
    let baseline = metric(report, "baseline-kwh");
    assert!(
        (baseline - 0.150 * night_hours).abs() / baseline < 0.01,
        "baseline {baseline} for {night_hours} h"
    );
    // The plugin's kWh matches the lamp meter over the same period (the meter runs
    // from the start; the lamp used only standby power before the night).
    let meter = |t: u64| {
        let r = on_topic(&records, "/tele/sao/lamp-main")
            .into_iter()
            .min_by_key(|r| r["payload"]["ts"].as_u64().unwrap().abs_diff(t))
            .unwrap();
        metric(r, "total-kwh")
    };
    let used = metric(report, "kwh");
    let metered = meter(report["payload"]["ts"].as_u64().unwrap()) - meter(local(12, 5));
    assert!(
        (used - metered).abs() < 0.02 * metered + 0.005,
        "plugin {used} kWh, meter {metered} kWh"
    );
    // A 100 W LED mostly at 60 % against a 150 W lamp at full power: a large saving.
    let saving = metric(report, "saving");
    assert!((saving - 100.0 * (1.0 - used / baseline)).abs() < 0.01);
    assert!(saving > 40.0 && saving < 80.0, "saving {saving} %");
    assert_eq!(report["payload"]["dataset"], "street-lighting");
    assert_eq!(report["payload"]["dimension"], "energy");
    assert_eq!(report["payload"]["plugin"]["id"], "dimming");
    assert_eq!(report["payload"]["pole"], "ccs-test-01");
    assert_eq!(report["payload"]["metrics"]["kwh"]["unit"], "kW.h");
}
