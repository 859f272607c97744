//! Detection sequences written in the replay format and played through the analyzer on
//! an in-memory pole: every event type, each with a near miss that must stay silent,
//! incident dedup and updates, restarts, snapshots, and traffic counts.

mod common;

use common::{
    play, road_config, scenario, Actor, Pole, CAMERA, EASTBOUND_Y, HEIGHT, SHOULDER_Y, START_MS,
    WESTBOUND_Y,
};
use sao_plugin_accident::incidents::OPEN_KEY;
use sao_plugin_accident::{Analyzer, Config, LogLevel, Phase, Severity};
use sao_plugin_sdk_vision::snapshots::testing::{MemoryCamera, JPEG};
use serde_json::{json, Value};

/// Frames per second of the scenarios.
const FPS: f64 = 10.0;

/// A car driving east at 400 px/s, stopping dead at x 640 at 1.35 s, hit by a car
/// coming down from the westbound lane at 200 px/s; both stand until `stand_s`.
fn crash(stand_s: f64) -> Vec<Actor> {
    vec![
        Actor::car(1)
            .at(0.0, 100.0, EASTBOUND_Y)
            .at(1.35, 640.0, EASTBOUND_Y)
            .until(stand_s),
        Actor::car(2)
            .at(0.0, 760.0, 200.0)
            .at(1.35, 760.0, 470.0)
            .until(stand_s),
    ]
}

fn only(pole: &Pole, kind: &str) -> Vec<Phase> {
    let incidents = pole.incidents();
    assert_eq!(incidents.len(), 1, "{:#?}", pole.reports);
    assert!(
        pole.reports.iter().all(|r| r.kind == kind),
        "{:#?}",
        pole.reports
    );
    incidents[0].1.clone()
}

#[test]
fn a_collision_is_one_incident_with_a_snapshot_and_ends_when_the_scene_clears() {
    let mut pole = Pole::default();
    play(
        "collision",
        &scenario(&crash(20.0), 40.0, FPS, 0),
        road_config("{}"),
        &mut pole,
    );

    assert_eq!(only(&pole, "collision"), vec![Phase::Opened, Phase::Closed]);
    let opened = &pole.reports[0];
    assert_eq!(opened.severity, Severity::Critical);
    assert_eq!(opened.snapshot.as_deref(), Some(JPEG));
    let d = Pole::details(opened);
    assert_eq!(d["type"], "collision");
    assert_eq!(d["camera"], CAMERA);
    assert_eq!(d["zone"], "eastbound");
    assert_eq!(d["tracks"], json!([1, 2]));
    assert_eq!(d["classes"], json!(["car"]));
    assert_eq!(d["severity"], "critical");
    assert_eq!(d["severity-reason"], "at speed");
    // Judged one window (1 s) after the contact, which came at 1.3 s.
    let contact = d["road-users"][0]["contact-ts"].as_u64().unwrap();
    assert_eq!(contact, START_MS + 1300);
    assert_eq!(d["opened-ts"], contact + 1000);
    let car1 = &d["road-users"][0];
    assert_eq!(car1["abrupt-change"], true);
    assert!(car1["speed-px-s"].as_f64().unwrap() > 350.0, "{car1}");
    assert!(
        car1["after"]["speed-px-s"].as_f64().unwrap() < 100.0,
        "{car1}"
    );
    // The snapshot is of the judging frame with both cars highlighted.
    assert_eq!(
        pole.camera.requests,
        vec![(CAMERA.to_string(), 24, vec![1, 2])]
    );
    // The scene held while the cars stood (to 20 s), and cleared 10 s after.
    let closed = &pole.reports[1];
    let d = Pole::details(closed);
    assert_eq!(d["reason"], "scene-cleared");
    let closed_ts = d["closed-ts"].as_u64().unwrap();
    assert!(
        (START_MS + 29_000..=START_MS + 31_000).contains(&closed_ts),
        "{d}"
    );
    assert_eq!(closed.snapshot, None);
    assert!(closed.message.ends_with("cleared"), "{}", closed.message);
}

#[test]
fn a_motorcycle_in_a_low_speed_collision_makes_it_critical_and_cars_alone_a_warning() {
    // 100 px/s into a standing car whose box begins 20 px before the mover's front edge
    // comes to rest: the boxes meet as it stops.
    let bump = |first: Actor, half_width: f32| {
        let standing = 600.0 + half_width - 20.0 + 80.0;
        vec![
            first
                .at(0.0, 400.0, EASTBOUND_Y)
                .at(2.0, 600.0, EASTBOUND_Y)
                .until(10.0),
            Actor::car(2).at(0.0, standing, EASTBOUND_Y).until(10.0),
        ]
    };
    // About 1.4 box sizes per second for the motorcycle.
    let mut pole = Pole::default();
    let frames = scenario(&bump(Actor::motorcycle(1), 30.0), 12.0, FPS, 0);
    play("motorcycle-bump", &frames, road_config("{}"), &mut pole);
    let opened = &pole.reports_of("collision")[0];
    assert_eq!(opened.severity, Severity::Critical);
    let d = Pole::details(opened);
    assert_eq!(d["classes"], json!(["car", "motorcycle"]));
    assert_eq!(
        d["severity-reason"],
        "a pedestrian, motorcyclist or cyclist is involved"
    );

    // The same bump by a car: a warning.
    let mut pole = Pole::default();
    let frames = scenario(&bump(Actor::car(1), 80.0), 12.0, FPS, 0);
    play("car-bump", &frames, road_config("{}"), &mut pole);
    let opened = &pole.reports_of("collision")[0];
    assert_eq!(opened.severity, Severity::Warning);
}

#[test]
fn near_miss_vehicles_passing_close_without_a_speed_change_raise_nothing() {
    // Two cars in opposite lanes whose boxes overlap in the picture as they pass, both
    // at a steady 400 px/s.
    let actors = [
        Actor::car(1).at(0.0, 100.0, 420.0).at(2.75, 1200.0, 420.0),
        Actor::car(2).at(0.0, 1200.0, 355.0).at(2.75, 100.0, 355.0),
    ];
    let frames = scenario(&actors, 15.0, FPS, 0);
    let overlapping = frames.iter().filter(|f| {
        let [a, b] = [&f.objects.first(), &f.objects.get(1)].map(|o| o.map(|o| o.bbox));
        matches!((a, b), (Some(a), Some(b)) if (a[0] - b[0]).abs() < 160.0)
    });
    assert!(overlapping.count() >= 3, "the boxes do meet");
    let mut pole = Pole::default();
    play("near-miss-pass", &frames, road_config("{}"), &mut pole);
    assert!(pole.reports.is_empty(), "{:#?}", pole.reports);
}

#[test]
fn near_miss_a_car_braking_gently_behind_a_standing_car_is_no_collision() {
    // 300 px/s, braking evenly over 3 s to rest (at 750) with its box 20 px into the
    // standing car's (the picture's perspective overlaps queued cars).
    let actors = [
        Actor::car(1)
            .at(0.0, 300.0, EASTBOUND_Y)
            .brake(300.0, 3.0)
            .until(20.0),
        Actor::car(2)
            .at(0.0, 750.0 + 160.0 - 20.0, EASTBOUND_Y)
            .until(20.0),
    ];
    let frames = scenario(&actors, 25.0, FPS, 0);
    let last = &frames[200].objects;
    assert!(
        last[0].bbox[0] + 160.0 > last[1].bbox[0] + 10.0,
        "the boxes overlap"
    );
    let mut pole = Pole::default();
    play("queue", &frames, road_config("{}"), &mut pole);
    assert!(pole.reports.is_empty(), "{:#?}", pole.reports);
}

#[test]
fn a_vehicle_standing_in_a_lane_is_stalled_until_it_drives_off() {
    // 400 px/s, then braking over 2 s to rest at x 900 (t 3 s).
    let actors = [Actor::car(7)
        .at(0.0, 100.0, EASTBOUND_Y)
        .at(1.0, 500.0, EASTBOUND_Y)
        .brake(400.0, 2.0)
        .until(75.0)
        .at(77.0, 1300.0, EASTBOUND_Y)];
    let mut pole = Pole::default();
    play(
        "stalled",
        &scenario(&actors, 95.0, FPS, 0),
        road_config("{}"),
        &mut pole,
    );

    assert_eq!(
        only(&pole, "stalled-vehicle"),
        vec![Phase::Opened, Phase::Closed]
    );
    let opened = &pole.reports[0];
    assert_eq!(opened.severity, Severity::Warning);
    let d = Pole::details(opened);
    assert_eq!(d["zone"], "eastbound");
    assert_eq!(d["tracks"], json!([7]));
    let stopped = d["road-users"][0]["stopped-since-ts"].as_u64().unwrap();
    // Within 0.3 box sizes of its resting place from about 2.4 s on.
    assert!(
        (START_MS + 2200..=START_MS + 2900).contains(&stopped),
        "{d}"
    );
    // 60 s after it stopped.
    assert_eq!(d["opened-ts"].as_u64().unwrap(), stopped + 60_000);
    let closed = Pole::details(&pole.reports[1]);
    assert!(
        closed["closed-ts"].as_u64().unwrap() >= START_MS + 85_000,
        "{closed}"
    );
}

#[test]
fn near_miss_a_vehicle_waiting_at_a_light_is_not_stalled_unless_its_lane_says_so() {
    let actors = [Actor::car(7)
        .at(0.0, 100.0, EASTBOUND_Y)
        .at(1.0, 500.0, EASTBOUND_Y)
        .brake(400.0, 2.0)
        .until(31.0)
        .at(33.0, 1300.0, EASTBOUND_Y)];
    let frames = scenario(&actors, 50.0, FPS, 0);
    let mut pole = Pole::default();
    play("light", &frames, road_config("{}"), &mut pole);
    assert!(pole.reports.is_empty(), "{:#?}", pole.reports);

    // A lane with a 20 s stall time (no light there): the same stop is a stall.
    let mut config = road_config("{}");
    config.zones[1].stall_after_s = Some(20.0);
    let mut pole = Pole::default();
    play("light-short-lane", &frames, config, &mut pole);
    assert_eq!(
        only(&pole, "stalled-vehicle"),
        vec![Phase::Opened, Phase::Closed]
    );
}

#[test]
fn a_vehicle_stopping_dead_with_no_one_near_is_a_sudden_stop_and_can_be_turned_off() {
    // 400 px/s (3.3 box sizes a second) to a standstill within 0.1 s, alone on the road.
    let actors = [Actor::car(8)
        .at(0.0, 100.0, EASTBOUND_Y)
        .at(2.0, 900.0, EASTBOUND_Y)
        .at(2.1, 905.0, EASTBOUND_Y)
        .until(8.0)];
    let frames = scenario(&actors, 25.0, FPS, 0);
    let mut pole = Pole::default();
    play("sudden-stop", &frames, road_config("{}"), &mut pole);
    assert_eq!(
        only(&pole, "sudden-stop"),
        vec![Phase::Opened, Phase::Closed]
    );
    let opened = &pole.reports[0];
    assert_eq!(opened.severity, Severity::Info);
    let d = Pole::details(opened);
    assert_eq!(d["zone"], "eastbound");
    let car = &d["road-users"][0];
    assert!(car["speed-px-s"].as_f64().unwrap() > 350.0, "{car}");
    assert!(car["after"]["speed-px-s"].as_f64().unwrap() < 60.0, "{car}");
    // Judged one window (1 s) after the stop, which the fit places just before 2 s.
    let stop = car["stop-ts"].as_u64().unwrap();
    assert!((START_MS + 1700..=START_MS + 2100).contains(&stop), "{d}");
    assert_eq!(d["opened-ts"], stop + 1000);

    let mut pole = Pole::default();
    let config = road_config(r#"{"sudden-stop": {"enabled": false}}"#);
    play("sudden-stop-off", &frames, config, &mut pole);
    assert!(pole.reports.is_empty(), "{:#?}", pole.reports);
}

#[test]
fn a_vehicle_driving_against_its_lane_is_wrong_way() {
    // West along the eastbound lane at 200 px/s.
    let actors = [Actor::car(9)
        .at(0.0, 1200.0, EASTBOUND_Y)
        .at(5.0, 200.0, EASTBOUND_Y)];
    let mut pole = Pole::default();
    play(
        "wrong-way",
        &scenario(&actors, 20.0, FPS, 0),
        road_config("{}"),
        &mut pole,
    );

    assert_eq!(only(&pole, "wrong-way"), vec![Phase::Opened, Phase::Closed]);
    let opened = &pole.reports[0];
    assert_eq!(opened.severity, Severity::Critical);
    let d = Pole::details(opened);
    assert_eq!(d["zone"], "eastbound");
    // After the 3 s the rule needs.
    assert_eq!(d["opened-ts"], START_MS + 3000);
    let car = &d["road-users"][0];
    assert!(
        (car["heading-deg"].as_f64().unwrap() - 270.0).abs() < 5.0,
        "{car}"
    );
    assert!(car["travel-sizes"].as_f64().unwrap() >= 4.0, "{car}");
}

#[test]
fn near_miss_backing_up_briefly_or_driving_the_right_way_is_not_wrong_way() {
    let actors = [
        // East, braking gently to rest at 850, 1.5 s back (90 px), then east again.
        Actor::car(1)
            .at(0.0, 100.0, EASTBOUND_Y)
            .at(1.0, 400.0, EASTBOUND_Y)
            .brake(300.0, 3.0)
            .at(5.5, 760.0, EASTBOUND_Y)
            .at(7.5, 1200.0, EASTBOUND_Y),
        // West in the westbound lane.
        Actor::car(2)
            .at(0.0, 1200.0, WESTBOUND_Y)
            .at(5.0, 200.0, WESTBOUND_Y),
    ];
    let mut pole = Pole::default();
    play(
        "backing-up",
        &scenario(&actors, 20.0, FPS, 0),
        road_config("{}"),
        &mut pole,
    );
    assert!(pole.reports.is_empty(), "{:#?}", pole.reports);
}

/// A person walking from the footway up across both lanes at 48 px/s.
fn crossing(track: u64, start_s: f64) -> Actor {
    let footway = 0.96 * HEIGHT as f32;
    Actor::person(track)
        .at(start_s, 500.0, footway)
        .at(start_s + 12.0, 500.0, footway - 576.0)
}

#[test]
fn a_person_on_the_carriageway_is_one_incident_others_join_it() {
    let config = road_config(r#"{"update-every-s": 2}"#);
    let actors = [crossing(4, 0.0), crossing(5, 4.0)];
    let mut pole = Pole::default();
    play(
        "pedestrians",
        &scenario(&actors, 35.0, FPS, 0),
        config,
        &mut pole,
    );

    let phases = only(&pole, "pedestrian");
    assert_eq!(phases.first(), Some(&Phase::Opened));
    assert_eq!(phases.last(), Some(&Phase::Closed));
    assert!(phases[1..phases.len() - 1]
        .iter()
        .all(|p| *p == Phase::Updated));
    let opened = Pole::details(&pole.reports[0]);
    assert_eq!(opened["tracks"], json!([4]));
    assert_eq!(opened["zone"], "eastbound");
    // The first person reached the carriageway (y 0.8) after 2.4 s, plus 2 s on it.
    let opened_ts = opened["opened-ts"].as_u64().unwrap();
    assert!(
        (START_MS + 4300..=START_MS + 4600).contains(&opened_ts),
        "{opened}"
    );
    let joined = pole
        .reports
        .iter()
        .find(|r| r.phase == Phase::Updated)
        .expect("an update when the second person joins");
    assert_eq!(Pole::details(joined)["tracks"], json!([4, 5]));
    assert_eq!(joined.snapshot.as_deref(), Some(JPEG));
}

#[test]
fn near_miss_a_person_on_the_shoulder_or_footway_is_no_incident() {
    let actors = [
        Actor::person(1)
            .at(0.0, 100.0, SHOULDER_Y)
            .at(20.0, 1100.0, SHOULDER_Y),
        Actor::person(2).at(0.0, 1100.0, 0.97 * HEIGHT as f32).at(
            20.0,
            100.0,
            0.97 * HEIGHT as f32,
        ),
    ];
    let mut pole = Pole::default();
    play(
        "shoulder",
        &scenario(&actors, 25.0, FPS, 0),
        road_config("{}"),
        &mut pole,
    );
    assert!(pole.reports.is_empty(), "{:#?}", pole.reports);
}

#[test]
fn without_zones_only_collisions_are_found() {
    let wrong_way = Actor::car(9)
        .at(0.0, 1200.0, EASTBOUND_Y)
        .at(5.0, 200.0, EASTBOUND_Y);
    let mut actors = crash(80.0);
    actors.push(wrong_way);
    actors.push(crossing(4, 0.0));
    let mut pole = Pole::default();
    play(
        "no-zones",
        &scenario(&actors, 90.0, FPS, 0),
        Config::default(),
        &mut pole,
    );
    let kinds: Vec<&str> = pole.reports.iter().map(|r| r.kind.as_str()).collect();
    assert!(kinds.iter().all(|k| *k == "collision"), "{kinds:?}");
    assert_eq!(pole.reports_of("collision")[0].phase, Phase::Opened);
    assert!(pole.reports_of("collision")[0].snapshot.is_some());
}

#[test]
fn a_failed_snapshot_still_reports_the_incident() {
    let mut pole = Pole {
        camera: MemoryCamera {
            error: Some("frame-expired(24)".into()),
            ..MemoryCamera::default()
        },
        ..Pole::default()
    };
    play(
        "no-snapshot",
        &scenario(&crash(5.0), 20.0, FPS, 0),
        road_config("{}"),
        &mut pole,
    );
    let opened = &pole.reports_of("collision")[0];
    assert_eq!(opened.snapshot, None);
    assert_eq!(
        pole.base
            .logged(LogLevel::Warn, "without a snapshot: frame-expired"),
        1
    );
}

#[test]
fn snapshots_can_be_turned_off() {
    let mut pole = Pole::default();
    let config = road_config(r#"{"snapshot": false}"#);
    play(
        "snapshot-off",
        &scenario(&crash(5.0), 20.0, FPS, 0),
        config,
        &mut pole,
    );
    assert!(!pole.reports.is_empty());
    assert!(pole.camera.requests.is_empty());
    assert!(pole.reports.iter().all(|r| r.snapshot.is_none()));
}

#[test]
fn incidents_open_at_a_restart_are_closed_and_forgotten() {
    let mut pole = Pole::default();
    let mut analyzer = Analyzer::new(road_config("{}"), START_MS, &mut pole).unwrap();
    for line in scenario(&crash(30.0), 5.0, FPS, 0) {
        let (frame, detections) = line.to_call();
        analyzer.on_detections(&frame, &detections, &mut pole);
    }
    assert_eq!(analyzer.open_incidents().len(), 1);
    let id = analyzer.open_incidents()[0].id.clone();
    let saved: Value = serde_json::from_slice(&pole.base.kv[OPEN_KEY]).unwrap();
    assert_eq!(saved[0]["id"], id.as_str());

    // The plugin restarts: track ids mean nothing any more.
    let restart = START_MS + 60_000;
    let analyzer = Analyzer::new(road_config("{}"), restart, &mut pole).unwrap();
    assert!(analyzer.open_incidents().is_empty());
    let closed = pole.reports.last().unwrap();
    assert_eq!(
        (closed.incident.as_str(), closed.phase),
        (id.as_str(), Phase::Closed)
    );
    let d = Pole::details(closed);
    assert_eq!(d["reason"], "plugin-restarted");
    assert_eq!(d["closed-ts"], restart);
    let saved: Value = serde_json::from_slice(&pole.base.kv[OPEN_KEY]).unwrap();
    assert_eq!(saved, json!([]));
    // A second restart closes nothing again.
    let before = pole.reports.len();
    Analyzer::new(road_config("{}"), restart + 1, &mut pole).unwrap();
    assert_eq!(pole.reports.len(), before);
}

#[test]
fn traffic_is_counted_per_class_direction_and_period() {
    let east = |track, start: f64| {
        Actor::car(track)
            .at(start, 0.0, EASTBOUND_Y)
            .at(start + 3.2, 1280.0, EASTBOUND_Y)
    };
    let actors = [
        east(1, 5.0),
        east(2, 20.0),
        Actor::car(3)
            .at(30.0, 1280.0, WESTBOUND_Y)
            .at(33.2, 0.0, WESTBOUND_Y),
        Actor::person(4).at(40.0, 100.0, 0.97 * HEIGHT as f32).at(
            55.0,
            700.0,
            0.97 * HEIGHT as f32,
        ),
        // Parked on the shoulder the whole time: not traffic.
        Actor::car(5).at(0.0, 300.0, SHOULDER_Y).until(125.0),
        east(6, 70.0),
        Actor::motorcycle(7)
            .at(80.0, 0.0, EASTBOUND_Y)
            .at(84.0, 1280.0, EASTBOUND_Y),
    ];
    let mut pole = Pole::default();
    let config = road_config(r#"{"counts": {"period-s": 60}}"#);
    play(
        "counts",
        &scenario(&actors, 125.0, FPS, 0),
        config,
        &mut pole,
    );

    assert!(pole.reports.is_empty(), "{:#?}", pole.reports);
    assert_eq!(pole.base.records.len(), 2, "{:#?}", pole.base.records);
    let first = &pole.base.records[0];
    assert_eq!(first.stream, "traffic");
    assert_eq!(first.metric("car"), Some(3.0));
    assert_eq!(first.metric("person"), Some(1.0));
    assert_eq!(first.metric("motorcycle"), Some(0.0));
    assert_eq!(first.metric("vehicles"), Some(3.0));
    assert_eq!(first.metric("mean-speed"), None, "no calibration, no km/h");
    assert_eq!(
        first.details,
        json!({
            "camera": CAMERA,
            "period-start-ts": START_MS,
            "period-end-ts": START_MS + 60_000,
            "period-s": 60,
            "observed-from-ts": START_MS,
            "by-direction": {
                "eastbound": {"car": 2},
                "westbound": {"car": 1},
                "right": {"person": 1},
            },
        })
    );
    let second = &pole.base.records[1];
    assert_eq!(second.metric("car"), Some(1.0));
    assert_eq!(second.metric("motorcycle"), Some(1.0));
    assert_eq!(second.metric("vehicles"), Some(2.0));
    assert_eq!(second.details["period-start-ts"], START_MS + 60_000);
    assert_eq!(
        second.details["by-direction"],
        json!({"eastbound": {"car": 1, "motorcycle": 1}})
    );
}

#[test]
fn a_calibrated_camera_reports_speeds_in_kmh_and_compass_directions() {
    // 40 m of road across the frame's width, 20 m from y 0.2 to 0.8.
    let config = Config::from_json(
        r#"{"counts": {"period-s": 60},
            "calibration": {"image": [[0, 0.2], [1, 0.2], [1, 0.8], [0, 0.8]],
                            "ground": [[0, 20], [40, 20], [40, 0], [0, 0]]}}"#,
    )
    .unwrap();
    // 400 px/s = 12.5 m/s = 45 km/h east; 200 px/s = 22.5 km/h west.
    let actors = [
        Actor::car(1)
            .at(5.0, 0.0, EASTBOUND_Y)
            .at(8.2, 1280.0, EASTBOUND_Y),
        Actor::car(2)
            .at(10.0, 1280.0, WESTBOUND_Y)
            .at(16.4, 0.0, WESTBOUND_Y),
    ];
    let mut pole = Pole::default();
    play(
        "calibrated",
        &scenario(&actors, 61.0, FPS, 0),
        config.clone(),
        &mut pole,
    );
    let record = &pole.base.records[0];
    assert_eq!(
        record.details["by-direction"],
        json!({"east": {"car": 1}, "west": {"car": 1}})
    );
    let mean = record.metric("mean-speed").unwrap();
    assert!((mean - 33.75).abs() < 1.0, "{mean}");
    assert_eq!(record.metrics.last().unwrap().2, "km/h");

    // And a collision's road users carry km/h.
    let mut pole = Pole::default();
    play(
        "calibrated-crash",
        &scenario(&crash(5.0), 20.0, FPS, 0),
        config,
        &mut pole,
    );
    let d = Pole::details(pole.reports_of("collision")[0]);
    let kmh = d["road-users"][0]["speed-kmh"].as_f64().unwrap();
    assert!((kmh - 45.0).abs() < 3.0, "{d}");
}

#[test]
fn a_replay_file_with_a_bad_line_is_refused_with_its_line_number() {
    let text = "{\"camera\": \"road\", \"frame\": 1, \"ts\": 1, \"width\": 10, \"height\": 10, \"objects\": []}\n{\"camera\": 5}\n";
    let err = sao_plugin_accident::replay::read(text).unwrap_err();
    assert!(err.starts_with("line 2: "), "{err}");
}
