//! Candidate filtering, N-of-M confirmation, counting and paths, through the public
//! [`Sightings`] API.

mod common;

use common::{detection, elephant, frame, CAMERA};
use sao_plugin_elephant::sighting::{is_candidate, PATH_RECENT};
use sao_plugin_elephant::{Config, Detection, Heading, Observation, Sightings};

/// Feeds one frame per entry of `frames` (ids 10, 20, ..., 1 s apart) to `sightings`
/// on `camera`; returns what each frame showed.
fn feed(
    sightings: &mut Sightings,
    config: &Config,
    camera: &str,
    frames: &[Vec<Detection>],
) -> Vec<Option<Observation>> {
    frames
        .iter()
        .enumerate()
        .map(|(i, detections)| {
            let n = i as u64 + 1;
            let frame = frame(camera, n * 10, n * 1000);
            sightings.observe(config, &frame, detections).unwrap()
        })
        .collect()
}

/// Frames with elephant 7 on the frames `pattern` marks `true`.
fn pattern(pattern: &[bool]) -> Vec<Vec<Detection>> {
    let on = |&seen: &bool| {
        if seen {
            vec![elephant(7, 0.5, 0.5)]
        } else {
            vec![]
        }
    };
    pattern.iter().map(on).collect()
}

fn confirmed_frames(observations: &[Option<Observation>]) -> Vec<usize> {
    let confirmed = observations.iter().enumerate();
    confirmed
        .filter(|(_, o)| o.is_some())
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn one_frame_or_two_of_five_never_confirm() {
    let config = Config::default();
    let (x, o) = (true, false);
    let frames = pattern(&[x, o, o, o, o, o, x, o, o, o, x, o, o, o, o, x, o, o, o, x]);
    let observations = feed(&mut Sightings::default(), &config, CAMERA, &frames);
    assert!(confirmed_frames(&observations).is_empty());
}

#[test]
fn three_of_five_confirm_and_confirmed_tracks_stay_while_seen() {
    let config = Config::default();
    let (x, o) = (true, false);
    // Hits on frames 0, 2, 4 confirm on frame 4; the track stays confirmed on frames it
    // appears on while it is a candidate within the window, and is forgotten after five
    // frames without it (11 to 15): from frame 16 it must be confirmed anew.
    let frames = pattern(&[x, o, x, o, x, x, o, o, o, o, x, o, o, o, o, o, x, x, o, x]);
    let observations = feed(&mut Sightings::default(), &config, CAMERA, &frames);
    assert_eq!(confirmed_frames(&observations), [4, 5, 10, 19]);
    let first = observations[4].as_ref().unwrap();
    assert_eq!(first.present, [7]);
    assert_eq!(first.count(), 1);
    assert_eq!(
        first.first_seen_ms, 1000,
        "first candidate appearance, frame 0"
    );
}

#[test]
fn confirmation_follows_the_configured_window() {
    let config = Config::from_json(r#"{"confirm": {"hits": 2, "window": 2}}"#).unwrap();
    let (x, o) = (true, false);
    let frames = pattern(&[x, o, x, x, o]);
    let observations = feed(&mut Sightings::default(), &config, CAMERA, &frames);
    assert_eq!(confirmed_frames(&observations), [3]);
}

#[test]
fn only_candidates_of_the_group_count() {
    let config = Config::default();
    let at = (0.5, 0.5);
    let big = (160.0, 120.0);
    assert!(!is_candidate(
        &config,
        &detection("person", 0.9, 1, at, big)
    ));
    assert!(!is_candidate(
        &config,
        &detection("elephant", 0.29, 1, at, big)
    ));
    assert!(!is_candidate(
        &config,
        &detection("elephant", 0.9, 1, at, (160.0, 23.0))
    ));
    assert!(is_candidate(
        &config,
        &detection("elephant", 0.3, 1, at, (24.0, 24.0))
    ));
    assert!(is_candidate(
        &config,
        &detection("elephant", 0.35, 1, at, big)
    ));
    assert!(!is_candidate(&config, &detection("cow", 0.35, 1, at, big)));
    assert!(is_candidate(&config, &detection("cow", 0.45, 1, at, big)));
    assert!(is_candidate(&config, &detection("horse", 0.45, 1, at, big)));

    let noise = vec![
        detection("person", 0.9, 1, (0.2, 0.5), big),
        detection("elephant", 0.2, 2, (0.4, 0.5), big),
        detection("elephant", 0.9, 3, (0.6, 0.5), (300.0, 12.0)),
        detection("cow", 0.35, 4, (0.8, 0.5), big),
    ];
    let frames = vec![noise; 10];
    let observations = feed(&mut Sightings::default(), &config, CAMERA, &frames);
    assert!(confirmed_frames(&observations).is_empty());

    let herd = vec![
        detection("horse", 0.5, 5, (0.3, 0.5), big),
        detection("cow", 0.6, 6, (0.6, 0.5), big),
    ];
    let frames = vec![herd; 3];
    let observations = feed(&mut Sightings::default(), &config, CAMERA, &frames);
    let last = observations[2].as_ref().unwrap();
    assert_eq!(last.present, [5, 6]);
    assert_eq!(last.labels.get("horse"), Some(&1));
    assert_eq!(last.labels.get("cow"), Some(&1));
}

#[test]
fn a_track_changing_id_is_not_counted_twice() {
    let config = Config::default();
    let mut frames = vec![vec![elephant(1, 0.5, 0.5)]; 6];
    frames.extend(vec![vec![elephant(2, 0.52, 0.5)]; 6]);
    let observations = feed(&mut Sightings::default(), &config, CAMERA, &frames);
    let counts: Vec<u32> = observations
        .iter()
        .flatten()
        .map(Observation::count)
        .collect();
    assert!(!counts.is_empty());
    assert!(counts.iter().all(|&c| c == 1), "{counts:?}");
    assert_eq!(observations.last().unwrap().as_ref().unwrap().present, [2]);
}

#[test]
fn the_count_is_of_confirmed_tracks_on_the_frame() {
    let config = Config::default();
    let pair = vec![elephant(1, 0.3, 0.5), elephant(2, 0.6, 0.5)];
    let mut frames = vec![pair; 3];
    // Elephant 2 is hidden for a frame: the count of that frame is 1.
    frames.push(vec![elephant(1, 0.3, 0.5)]);
    // A newcomer needs its own confirmation.
    let trio = vec![
        elephant(1, 0.3, 0.5),
        elephant(2, 0.6, 0.5),
        elephant(3, 0.8, 0.5),
    ];
    frames.extend(vec![trio; 3]);
    let observations = feed(&mut Sightings::default(), &config, CAMERA, &frames);
    let counts: Vec<Option<u32>> = observations
        .iter()
        .map(|o| o.as_ref().map(Observation::count))
        .collect();
    assert_eq!(
        counts,
        [None, None, Some(2), Some(1), Some(2), Some(2), Some(3)]
    );
}

#[test]
fn the_path_is_of_the_longest_confirmed_track() {
    let config = Config::default();
    let mut frames: Vec<Vec<Detection>> = (0..10)
        .map(|i| vec![elephant(1, 0.1 + 0.05 * f64::from(i), 0.5)])
        .collect();
    frames.extend((0..4).map(|_| vec![elephant(1, 0.6, 0.5), elephant(2, 0.2, 0.8)]));
    let observations = feed(&mut Sightings::default(), &config, CAMERA, &frames);
    let last = observations.last().unwrap().as_ref().unwrap();
    assert_eq!(last.present, [1, 2]);
    assert_eq!(last.path.len(), 14);
    assert_eq!(last.path[0].ts_ms, 1000);
}

#[test]
fn paths_keep_the_first_and_the_latest_points() {
    let config = Config::default();
    let frames: Vec<Vec<Detection>> = (0..100)
        .map(|i| vec![elephant(7, 0.1 + 0.008 * f64::from(i), 0.5)])
        .collect();
    let observations = feed(&mut Sightings::default(), &config, CAMERA, &frames);
    let last = observations.last().unwrap().as_ref().unwrap();
    assert_eq!(last.path.len(), 1 + PATH_RECENT);
    assert_eq!(last.path[0].ts_ms, 1000);
    assert!((last.path[0].x - 0.1).abs() < 1e-3);
    assert_eq!(last.path[1].ts_ms, (100 - PATH_RECENT as u64 + 1) * 1000);
    assert_eq!(last.path.last().unwrap().ts_ms, 100_000);
    assert_eq!(last.direction.heading, Heading::LeftToRight);
    assert!((last.path[0].area - 160.0 * 120.0 / (1280.0 * 720.0)).abs() < 1e-9);
}

#[test]
fn cameras_are_independent() {
    let config = Config::default();
    let mut sightings = Sightings::default();
    let on = |camera: &str, id: u64, detections: Vec<Detection>, sightings: &mut Sightings| {
        let frame = frame(camera, id, id * 100);
        sightings.observe(&config, &frame, &detections).unwrap()
    };
    // Frames of another camera do not age this camera's tracks, nor confirm them.
    assert!(on(CAMERA, 1, vec![elephant(7, 0.5, 0.5)], &mut sightings).is_none());
    for id in 2..12 {
        let seen = on("road", id, vec![elephant(7, 0.5, 0.5)], &mut sightings);
        assert_eq!(seen.is_some(), id >= 4, "road frame {id}");
    }
    assert!(on(CAMERA, 12, vec![elephant(7, 0.5, 0.5)], &mut sightings).is_none());
    assert!(on(CAMERA, 13, vec![elephant(7, 0.5, 0.5)], &mut sightings).is_some());
}

#[test]
fn a_frame_without_size_is_refused() {
    let mut bad = frame(CAMERA, 1, 1000);
    bad.height = 0;
    let error = Sightings::default()
        .observe(&Config::default(), &bad, &[elephant(7, 0.5, 0.5)])
        .unwrap_err();
    assert!(error.contains("no size"), "{error}");
}
