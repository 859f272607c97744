//! The counter driven natively through the SDK's in-memory pole: the dwell threshold,
//! leaving by the zone and by timeout, period reports (waiting, peak, arrivals,
//! departures, mean wait), zone membership by the feet, the rate-limited live count,
//! periods on ticks and on frames, several cameras, config changes.

mod common;

use common::{
    at_s, detection, metrics, Person, Stop, CAMERA, HEIGHT, IN, OUT, SHELTER, START_MS, WIDTH,
};
use sao_plugin_passengers::{Config, Counter, Frame};
use sao_plugin_sdk::testing::MemoryPlatform;
use serde_json::json;

/// A period report's metrics for `waiting`, `peak`, `arrived`, `left`, and `mean-wait-s`
/// when given.
fn expected(
    waiting: f64,
    peak: f64,
    arrived: f64,
    left: f64,
    mean_wait_s: Option<f64>,
) -> Vec<(&'static str, f64, &'static str)> {
    let mut m = vec![
        ("waiting", waiting, "1"),
        ("peak", peak, "1"),
        ("arrived", arrived, "1"),
        ("left", left, "1"),
    ];
    if let Some(mean) = mean_wait_s {
        m.push(("mean-wait-s", mean, "s"));
    }
    m
}

#[test]
fn a_person_waits_after_dwelling_and_a_passer_by_never_does() {
    let mut stop = Stop::new(SHELTER);
    let people = [
        // Crosses the pavement in 2.8 s.
        Person::new(1).stands(0.0, 2.8, IN),
        // Stands exactly the 3-s dwell.
        Person::new(2).stands(10.0, 13.0, IN),
        // 2.8 s in, a step onto the road, 2.6 s in again: the dwell starts over.
        Person::new(3)
            .stands(30.0, 32.8, IN)
            .stands(33.0, 33.4, OUT)
            .stands(33.6, 36.2, IN),
    ];
    stop.run(&people, 0.0, 12.8, 5.0);
    assert_eq!(stop.counter.waiting(CAMERA), 0);
    stop.run(&people, 13.0, 60.0, 5.0);

    // Track 2 began waiting at 13 s and was gone 5 s after it was last seen.
    assert_eq!(
        stop.live(CAMERA),
        vec![(at_s(0.0), 0.0), (at_s(13.0), 1.0), (at_s(18.0), 0.0)]
    );
    let reports = stop.reports(CAMERA);
    assert_eq!(reports.len(), 1);
    assert_eq!(metrics(reports[0]), expected(0.0, 1.0, 1.0, 1.0, Some(3.0)));
}

#[test]
fn boarding_a_bus_leaves_the_zone_and_ends_the_wait() {
    let mut stop = Stop::new(SHELTER);
    let people = [Person::new(7)
        .stands(10.0, 30.0, IN)
        .stands(30.2, 35.0, OUT)];
    stop.run(&people, 0.0, 30.0, 5.0);
    assert_eq!(stop.counter.waiting(CAMERA), 1);
    stop.run(&people, 30.2, 30.2, 5.0);
    assert_eq!(
        stop.counter.waiting(CAMERA),
        0,
        "gone the frame it steps out"
    );
    stop.run(&people, 30.4, 40.0, 5.0);
    stop.silence(60.0);

    assert_eq!(
        stop.live(CAMERA),
        vec![(at_s(0.0), 0.0), (at_s(13.0), 1.0), (at_s(30.2), 0.0)]
    );
    let reports = stop.reports(CAMERA);
    assert_eq!(reports.len(), 1);
    // The wait runs from entering to the last frame in the zone: 10 s to 30 s.
    assert_eq!(
        metrics(reports[0]),
        expected(0.0, 1.0, 1.0, 1.0, Some(20.0))
    );
}

#[test]
fn a_person_unseen_for_lost_after_s_has_left() {
    let mut stop = Stop::new(SHELTER);
    let people = [Person::new(1).stands(0.0, 20.0, IN)];
    stop.run(&people, 0.0, 24.8, 5.0);
    assert_eq!(
        stop.counter.waiting(CAMERA),
        1,
        "unseen 4.8 s: still waiting"
    );
    stop.run(&people, 25.0, 25.0, 5.0);
    assert_eq!(stop.counter.waiting(CAMERA), 0, "unseen 5 s: left");
    stop.run(&people, 25.2, 60.0, 5.0);

    let reports = stop.reports(CAMERA);
    assert_eq!(
        metrics(reports[0]),
        expected(0.0, 1.0, 1.0, 1.0, Some(20.0))
    );
    assert_eq!(stop.live(CAMERA).last(), Some(&(at_s(25.0), 0.0)));
}

#[test]
fn hidden_for_less_than_lost_after_s_the_wait_goes_on() {
    let mut stop = Stop::new(SHELTER);
    // A bus stands in front of them from 20 s to 24.8 s.
    let people = [Person::new(1).stands(10.0, 20.0, IN).stands(24.8, 30.0, IN)];
    stop.run(&people, 0.0, 60.0, 5.0);

    assert_eq!(
        stop.live(CAMERA),
        vec![(at_s(0.0), 0.0), (at_s(13.0), 1.0), (at_s(35.0), 0.0)]
    );
    let reports = stop.reports(CAMERA);
    assert_eq!(
        metrics(reports[0]),
        expected(0.0, 1.0, 1.0, 1.0, Some(20.0))
    );
}

#[test]
fn ticks_end_the_wait_of_people_a_dead_camera_no_longer_shows() {
    let mut stop = Stop::new(SHELTER);
    stop.run(&[Person::new(1).stands(0.0, 20.0, IN)], 0.0, 20.0, 5.0);
    stop.silence(29.9);
    assert_eq!(stop.counter.waiting(CAMERA), 1);
    stop.silence(30.0);
    assert_eq!(stop.counter.waiting(CAMERA), 0);
    stop.silence(185.0);

    assert_eq!(stop.live(CAMERA).last(), Some(&(at_s(30.0), 0.0)));
    // A report every period, sent by the tick at its end, empty ones without a mean.
    let reports = stop.reports(CAMERA);
    assert_eq!(reports.len(), 3);
    assert_eq!(
        metrics(reports[0]),
        expected(0.0, 1.0, 1.0, 1.0, Some(20.0))
    );
    for (k, report) in reports.iter().enumerate().skip(1) {
        assert_eq!(metrics(report), expected(0.0, 0.0, 0.0, 0.0, None));
        let start = START_MS + 60_000 * k as u64;
        assert_eq!(
            report.details,
            json!({
                "camera": CAMERA,
                "period-start-ts": start,
                "period-end-ts": start + 60_000,
                "observed-from-ts": start,
            })
        );
    }
}

#[test]
fn period_reports_count_the_peak_arrivals_and_mean_wait() {
    let mut stop = Stop::new(SHELTER);
    let people = [
        // Period 1: waits 5-50 s, boards a bus.
        Person::new(1).stands(5.0, 50.0, IN).stands(50.5, 52.0, OUT),
        // Waits 10-62 s, walks off out of view: gone at 67 s, in period 2.
        Person::new(2).stands(10.0, 62.0, IN),
        // Waits from 20 s in period 1 to 100 s in period 2.
        Person::new(3)
            .stands(20.0, 100.0, IN)
            .stands(100.5, 101.0, OUT),
        // A passer-by.
        Person::new(4).stands(45.0, 47.0, IN),
        // Period 2: waits 102-110 s, then unseen.
        Person::new(5).stands(102.0, 110.0, IN),
    ];
    stop.run(&people, 0.0, 125.0, 2.0);

    let reports = stop.reports(CAMERA);
    assert_eq!(reports.len(), 2);
    // 1, 2 and 3 waited together from 23 s; 1 left after 45 s; 2 and 3 still wait.
    assert_eq!(
        metrics(reports[0]),
        expected(2.0, 3.0, 3.0, 1.0, Some(45.0))
    );
    assert_eq!(
        reports[0].details,
        json!({
            "camera": CAMERA,
            "period-start-ts": START_MS,
            "period-end-ts": START_MS + 60_000,
            "observed-from-ts": START_MS,
        })
    );
    // The peak is the 2 carried over; 5 arrived after they left; 2 (52 s), 3 (80 s)
    // and 5 (8 s) left.
    assert_eq!(
        metrics(reports[1]),
        expected(0.0, 2.0, 1.0, 3.0, Some(46.7))
    );
    assert_eq!(reports[1].details["period-start-ts"], START_MS + 60_000);
    // Each went out with the tick at the end of its period.
    let sent: Vec<u64> = stop
        .pole
        .records
        .iter()
        .zip(&stop.sent_ms)
        .filter(|(r, _)| r.stream == "waiting")
        .map(|(_, &ts)| ts)
        .collect();
    assert_eq!(sent, vec![at_s(60.0), at_s(120.0)]);
}

#[test]
fn the_zone_holds_people_by_their_feet() {
    // The camera looks from the road: the pavement is the top half of the view.
    let mut stop = Stop::new(r#"{"zone": [[0, 0], [1, 0], [1, 0.5], [0, 0.5]]}"#);
    let people = [
        // Feet just inside the pavement's edge.
        Person::new(1).stands(0.0, 10.0, (0.3, 0.45)),
        // Feet just off it on the road, the box (0.33-0.55 of the height) mostly on it.
        Person::new(2).stands(0.0, 10.0, (0.6, 0.55)),
    ];
    stop.run(&people, 0.0, 10.0, 5.0);
    assert_eq!(stop.counter.waiting(CAMERA), 1);

    // The default zone is the whole frame, even for someone the bottom edge cuts off.
    let mut whole = Stop::new("{}");
    let close = [Person::new(1).stands(0.0, 10.0, (0.99, 1.1))];
    whole.run(&close, 0.0, 10.0, 5.0);
    assert_eq!(whole.counter.waiting(CAMERA), 1);
}

#[test]
fn low_scores_and_other_labels_do_not_count() {
    let mut stop = Stop::new(SHELTER);
    let people = [
        // Sure for 10 s, then the detector hardly sees them: gone 5 s later.
        Person::new(1).stands(0.0, 10.0, IN),
        Person::new(1).score(0.2).stands(10.2, 30.0, IN),
        Person::new(2).label("bicycle").stands(0.0, 30.0, IN),
    ];
    stop.run(&people, 0.0, 60.0, 5.0);

    let reports = stop.reports(CAMERA);
    assert_eq!(
        metrics(reports[0]),
        expected(0.0, 1.0, 1.0, 1.0, Some(10.0))
    );
}

#[test]
fn the_live_count_goes_out_as_the_crowd_changes_at_most_every_5_s() {
    let mut stop = Stop::new(SHELTER);
    // Six people come one a second from 10 s, and all board the bus at 40.5 s.
    let people: Vec<Person> = (0..6)
        .map(|k| {
            Person::new(10 + k)
                .stands(10.0 + k as f64, 40.0, IN)
                .stands(40.5, 42.0, OUT)
        })
        .collect();
    stop.run(&people, 0.0, 60.0, 2.0);

    // The first frame's 0, then arrivals at 13, 14, ... 18 s: the first at once, the
    // others together at 18 s, 5 s later.
    let live = stop.live(CAMERA);
    assert_eq!(
        live,
        vec![
            (at_s(0.0), 0.0),
            (at_s(13.0), 1.0),
            (at_s(18.0), 6.0),
            (at_s(40.5), 0.0)
        ]
    );
    assert!(live.windows(2).all(|w| w[1].0 - w[0].0 >= 5_000));
    // Waits of 30, 29, ... 25 s.
    let reports = stop.reports(CAMERA);
    assert_eq!(
        metrics(reports[0]),
        expected(0.0, 6.0, 6.0, 6.0, Some(27.5))
    );
}

#[test]
fn without_ticks_a_frame_past_the_period_end_reports_it() {
    let mut counter = Counter::new(Config::from_json(SHELTER).unwrap()).unwrap();
    let mut pole = MemoryPlatform::default();
    let frame = |frame_id, seconds| Frame {
        camera: CAMERA.to_string(),
        frame_id,
        ts_ms: at_s(seconds),
        width: WIDTH,
        height: HEIGHT,
    };
    let waiting = [detection("person", 0.9, 1, IN)];
    let times = (6..30).map(|k| f64::from(k) * 2.0).chain([59.0]);
    for (k, t) in times.enumerate() {
        counter.on_detections(&frame(k as u64, t), &waiting, &mut pole);
    }
    assert!(pole.stream("waiting").is_empty());
    counter.on_detections(&frame(99, 61.0), &waiting, &mut pole);

    let reports = pole.stream("waiting");
    assert_eq!(reports.len(), 1);
    assert_eq!(metrics(reports[0]), expected(1.0, 1.0, 1.0, 0.0, None));
    assert_eq!(reports[0].details["observed-from-ts"], at_s(12.0));
    assert_eq!(
        counter.waiting(CAMERA),
        1,
        "still waiting into the next period"
    );
}

#[test]
fn a_departure_before_a_period_end_counts_in_it_however_late_the_report() {
    let mut counter = Counter::new(Config::from_json(SHELTER).unwrap()).unwrap();
    let mut pole = MemoryPlatform::default();
    let frame = |frame_id, seconds| Frame {
        camera: CAMERA.to_string(),
        frame_id,
        ts_ms: at_s(seconds),
        width: WIDTH,
        height: HEIGHT,
    };
    let both = [
        detection("person", 0.9, 1, IN),
        detection("person", 0.9, 2, IN),
    ];
    for k in 6..=15 {
        counter.on_detections(&frame(k, f64::from(k as u32) * 2.0), &both, &mut pole);
    }
    // The camera is back at 61 s, with no tick in between: both were gone at 35 s.
    counter.on_detections(&frame(99, 61.0), &both[..1], &mut pole);

    let reports = pole.stream("waiting");
    assert_eq!(reports.len(), 1);
    assert_eq!(
        metrics(reports[0]),
        expected(0.0, 2.0, 2.0, 2.0, Some(18.0))
    );
    assert_eq!(counter.waiting(CAMERA), 0, "track 1 starts its dwell again");
}

#[test]
fn each_camera_is_a_stop_of_its_own() {
    let mut stop = Stop::new(SHELTER);
    for i in 0..=120 {
        let t = f64::from(i) * 0.5;
        // The same track id on both cameras is two people.
        let north = [detection("person", 0.9, 1, IN)];
        let south = [
            detection("person", 0.9, 1, IN),
            detection("person", 0.9, 2, IN),
        ];
        stop.frame(CAMERA, t, if t <= 40.0 { &north } else { &[] });
        stop.frame("stop-south", t, if t >= 10.0 { &south } else { &[] });
    }
    assert_eq!(stop.counter.waiting(CAMERA), 0);
    assert_eq!(stop.counter.waiting("stop-south"), 2);

    let north = stop.reports(CAMERA);
    let south = stop.reports("stop-south");
    assert_eq!(metrics(north[0]), expected(0.0, 1.0, 1.0, 1.0, Some(40.0)));
    assert_eq!(metrics(south[0]), expected(2.0, 2.0, 2.0, 0.0, None));
    assert_eq!(
        stop.live("stop-south"),
        vec![(at_s(0.0), 0.0), (at_s(13.0), 2.0)]
    );
}

#[test]
fn a_new_config_applies_to_the_people_already_followed() {
    let mut stop = Stop::new(SHELTER);
    let people = [Person::new(1).stands(0.0, 30.0, IN)];
    stop.run(&people, 0.0, 2.0, 5.0);
    let refused = Config {
        lost_after_s: 0.0,
        ..Config::default()
    };
    assert_eq!(
        stop.counter.set_config(refused.clone()).unwrap_err(),
        "lost-after-s: must be a number > 0, got 0"
    );
    assert_eq!(
        Counter::new(refused).unwrap_err(),
        "lost-after-s: must be a number > 0, got 0"
    );
    // A longer dwell for the person who has been standing for 2 s.
    let longer =
        Config::from_json(r#"{"zone": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]], "dwell-s": 10}"#);
    stop.counter.set_config(longer.unwrap()).unwrap();
    stop.run(&people, 2.2, 9.8, 5.0);
    assert_eq!(stop.counter.waiting(CAMERA), 0);
    stop.run(&people, 10.0, 10.0, 5.0);
    assert_eq!(stop.counter.waiting(CAMERA), 1);
}
