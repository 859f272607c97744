//! The watch driven natively through an in-memory pole: confirmation, counting,
//! direction and escalation, rate-limited updates, the all-clear, failures, restarts.

mod common;

use std::collections::BTreeSet;

use common::{detection, elephant, frame, CAMERA};
use sao_plugin_elephant::config::Confirm;
use sao_plugin_elephant::watch::SAVE_EVERY_MS;
use sao_plugin_elephant::{AlarmLevel, AlarmRequest, Config, Detection, Host, LogLevel, Watch};
use sao_plugin_sdk::testing::{MemoryPlatform, MemoryPole};
use sao_plugin_sdk_vision::snapshots::testing::{MemoryCamera, MemoryCameraPole, JPEG};
use serde_json::{json, Value};

/// 2026-11-21T19:00:00+07:00.
const START_MS: u64 = 1_795_262_400_000;

/// A forest on the left third of the view, a village on the right third, and the
/// approach from one to the other.
const FOREST_VILLAGE: &str = r#"{
    "zones": [
        {"name": "forest", "polygon": [[0, 0], [0.3, 0], [0.3, 1], [0, 1]]},
        {"name": "village", "polygon": [[0.7, 0], [1, 0], [1, 1], [0.7, 1]]}
    ],
    "approach": {"from": "forest", "to": "village"}
}"#;

/// A pole in memory, recording every call.
#[derive(Default)]
struct Pole {
    base: MemoryPlatform,
    camera: MemoryCamera,
    /// Alarm ids handed out so far.
    issued: u64,
    /// Alarms the pole's engine holds active.
    active: BTreeSet<u64>,
    sounded: Vec<(u64, AlarmRequest)>,
    updated: Vec<(u64, AlarmRequest)>,
    cleared: Vec<u64>,
    /// The next this many `sound_alarm` calls fail.
    sound_failures: u32,
    /// The next this many `clear_alarm` calls fail.
    clear_failures: u32,
}

impl Pole {
    fn saved_incident(&self) -> Value {
        serde_json::from_slice(&self.base.kv["incident"]).unwrap()
    }
}

impl MemoryPole for Pole {
    fn memory(&mut self) -> &mut MemoryPlatform {
        &mut self.base
    }
}

impl MemoryCameraPole for Pole {
    fn camera(&mut self) -> &mut MemoryCamera {
        &mut self.camera
    }
}

impl Host for Pole {
    fn sound_alarm(&mut self, request: &AlarmRequest) -> Result<u64, String> {
        if self.sound_failures > 0 {
            self.sound_failures -= 1;
            return Err("siren driver does not answer".into());
        }
        self.issued += 1;
        let id = 1000 + self.issued;
        self.active.insert(id);
        self.sounded.push((id, request.clone()));
        Ok(id)
    }

    fn update_alarm(&mut self, id: u64, request: &AlarmRequest) -> Result<(), String> {
        if !self.active.contains(&id) {
            return Err(format!("no active alarm {id}"));
        }
        self.updated.push((id, request.clone()));
        Ok(())
    }

    fn clear_alarm(&mut self, id: u64) -> Result<(), String> {
        if self.clear_failures > 0 {
            self.clear_failures -= 1;
            return Err("strobe driver does not answer".into());
        }
        if !self.active.remove(&id) {
            return Err(format!("no active alarm {id}"));
        }
        self.cleared.push(id);
        Ok(())
    }

    fn alarm_active(&mut self, id: u64) -> bool {
        self.active.contains(&id)
    }
}

/// A watch on a pole, with the pole's clock and the camera's frame counter.
struct Rig {
    config: Config,
    watch: Watch,
    pole: Pole,
    now_ms: u64,
    frame_id: u64,
    /// Time between detector frames.
    step_ms: u64,
}

impl Drop for Rig {
    /// The watch speaks through alarms and its movement records only.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert!(
                self.pole.base.events.is_empty(),
                "{:?}",
                self.pole.base.events
            );
            let plain = self
                .pole
                .base
                .records
                .iter()
                .filter(|r| r.details.is_null());
            assert_eq!(plain.count(), 0, "every record carries its details");
        }
    }
}

impl Rig {
    fn new(config: &str) -> Rig {
        let config = Config::from_json(config).unwrap();
        let mut pole = Pole::default();
        Rig {
            watch: Watch::new(config.clone(), &mut pole).unwrap(),
            config,
            pole,
            now_ms: START_MS,
            frame_id: 0,
            step_ms: 200,
        }
    }

    /// The next detector frame, `step_ms` after the previous one (the detector skipped
    /// two frames in between).
    fn frame(&mut self, detections: &[Detection]) {
        self.now_ms += self.step_ms;
        self.frame_id += 3;
        let frame = frame(CAMERA, self.frame_id, self.now_ms);
        self.watch
            .on_detections(&frame, detections, &mut self.pole)
            .unwrap();
    }

    /// `n` frames, the `i`-th with `detections(i)`.
    fn frames(&mut self, n: usize, detections: impl Fn(usize) -> Vec<Detection>) {
        for i in 0..n {
            self.frame(&detections(i));
        }
    }

    fn tick_at(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
        self.watch.on_tick(now_ms, &mut self.pole);
    }

    /// The plugin restarts over the same pole and store.
    fn restart(&mut self) {
        self.watch = Watch::new(self.config.clone(), &mut self.pole).unwrap();
    }
}

fn details(request: &AlarmRequest) -> Value {
    serde_json::from_str(&request.details).unwrap()
}

fn requests(pole: &Pole) -> impl Iterator<Item = &AlarmRequest> {
    pole.sounded.iter().chain(&pole.updated).map(|(_, r)| r)
}

#[test]
fn a_single_frame_or_two_of_five_never_alarm() {
    let mut rig = Rig::new("{}");
    rig.frame(&[elephant(7, 0.5, 0.5)]);
    rig.frames(10, |_| vec![]);
    // On every third frame: at most two of any five.
    rig.frames(30, |i| {
        if i % 3 == 0 {
            vec![elephant(8, 0.5, 0.5)]
        } else {
            vec![]
        }
    });
    rig.tick_at(rig.now_ms + 600_000);
    let pole = &rig.pole;
    assert!(pole.sounded.is_empty() && pole.updated.is_empty());
    assert!(pole.cleared.is_empty() && pole.base.records.is_empty());
    assert!(pole.camera.requests.is_empty());
}

#[test]
fn three_of_five_alarm_exactly_once() {
    let mut rig = Rig::new("{}");
    let first_ms = rig.now_ms + rig.step_ms;
    for seen in [true, false, true, false] {
        rig.frame(&if seen {
            vec![elephant(7, 0.5, 0.5)]
        } else {
            vec![]
        });
    }
    assert!(rig.pole.sounded.is_empty());
    rig.frame(&[elephant(7, 0.5, 0.5)]);
    assert_eq!(rig.pole.sounded.len(), 1);
    let (id, request) = &rig.pole.sounded[0];
    assert_eq!(request.kind, "elephant");
    assert_eq!(request.level, AlarmLevel::Warning);
    assert_eq!(request.voice.as_deref(), Some("elephant-warning"));
    assert_eq!(request.snapshot.as_deref(), Some(JPEG));
    assert_eq!(request.message_th, "ช้างป่า 1 ตัว — โปรดอยู่ในที่ปลอดภัย");
    assert_eq!(request.message_en, "1 wild elephant — stay indoors");
    assert_eq!(
        details(request),
        json!({
            "count": 1,
            "direction": {
                "heading": "stationary", "from-zone": null, "to-zone": null, "approaching": false
            },
            "camera": CAMERA,
            "frame-id": rig.frame_id,
            "first-seen-ts": first_ms,
            "confirmed-ts": rig.now_ms,
            "tracks": [7],
            "labels": {"elephant": 1},
        })
    );
    assert_eq!(
        rig.pole.camera.requests,
        [(CAMERA.to_string(), rig.frame_id, vec![7])]
    );
    assert_ne!(rig.pole.saved_incident(), Value::Null);
    assert!(rig.pole.active.contains(id));
    assert_eq!(rig.pole.base.logged(LogLevel::Info, "confirmed"), 1);

    // The elephant stays: nothing more to say.
    rig.frames(100, |_| vec![elephant(7, 0.5, 0.5)]);
    rig.tick_at(rig.now_ms + 1000);
    assert_eq!(rig.pole.sounded.len(), 1);
    assert!(rig.pole.updated.is_empty() && rig.pole.cleared.is_empty());
}

#[test]
fn other_labels_low_scores_and_tiny_boxes_are_ignored_horses_and_cows_are_not() {
    let mut rig = Rig::new("{}");
    let big = (160.0, 120.0);
    rig.frames(20, |_| {
        vec![
            detection("person", 0.95, 1, (0.2, 0.5), big),
            detection("elephant", 0.25, 2, (0.4, 0.5), big),
            detection("elephant", 0.9, 3, (0.6, 0.5), (200.0, 20.0)),
            detection("cow", 0.35, 4, (0.8, 0.5), big),
        ]
    });
    assert!(rig.pole.sounded.is_empty());
    rig.frames(3, |_| {
        vec![
            detection("horse", 0.5, 5, (0.3, 0.5), big),
            detection("cow", 0.45, 6, (0.7, 0.5), big),
        ]
    });
    assert_eq!(rig.pole.sounded.len(), 1);
    let request = &rig.pole.sounded[0].1;
    assert_eq!(request.message_en, "2 wild elephants — stay indoors");
    let details = details(request);
    assert_eq!(details["count"], 2);
    assert_eq!(details["labels"], json!({"cow": 1, "horse": 1}));
    assert_eq!(details["tracks"], json!([5, 6]));
}

#[test]
fn the_count_is_the_most_elephants_on_one_frame() {
    let mut rig = Rig::new(r#"{"cooldown-s": 0}"#);
    rig.frames(5, |_| vec![elephant(1, 0.3, 0.5), elephant(2, 0.6, 0.5)]);
    assert_eq!(details(&rig.pole.sounded[0].1)["count"], 2);
    // Elephant 1's track breaks: it comes back as track 3. Still two elephants.
    rig.frames(10, |_| vec![elephant(3, 0.3, 0.5), elephant(2, 0.6, 0.5)]);
    assert!(rig.pole.updated.is_empty(), "{:?}", rig.pole.updated);
    // A third elephant joins.
    rig.frames(5, |_| {
        vec![
            elephant(3, 0.3, 0.5),
            elephant(2, 0.6, 0.5),
            elephant(9, 0.8, 0.5),
        ]
    });
    assert_eq!(rig.pole.updated.len(), 1);
    let update = &rig.pole.updated[0].1;
    assert_eq!(update.message_en, "3 wild elephants — stay indoors");
    assert_eq!(details(update)["count"], 3);
    assert_eq!(details(update)["tracks"], json!([1, 2, 3, 9]));
}

#[test]
fn first_seen_is_the_earliest_sighting_of_any_confirmed_elephant() {
    let mut rig = Rig::new(r#"{"cooldown-s": 0}"#);
    let first_ms = rig.now_ms + rig.step_ms;
    // Elephant 1 is seen first but confirmed last (frames 1, 3, 5); elephant 2 is
    // confirmed on frame 4 and opens the incident.
    let (one, two) = (|| elephant(1, 0.3, 0.5), || elephant(2, 0.6, 0.5));
    rig.frame(&[one()]);
    rig.frame(&[two()]);
    rig.frame(&[one(), two()]);
    rig.frame(&[two()]);
    let sound = details(&rig.pole.sounded[0].1);
    assert_eq!(sound["first-seen-ts"], first_ms + rig.step_ms);
    rig.frame(&[one(), two()]);
    let update = details(&rig.pole.updated[0].1);
    assert_eq!(update["count"], 2);
    assert_eq!(update["first-seen-ts"], first_ms);
    assert_eq!(update["confirmed-ts"], sound["confirmed-ts"]);
}

#[test]
fn a_lone_elephant_whose_track_breaks_is_one_elephant() {
    let mut rig = Rig::new(r#"{"cooldown-s": 0}"#);
    for track in [1, 2, 3] {
        rig.frames(10, |_| vec![elephant(track, 0.5, 0.5)]);
    }
    rig.tick_at(rig.now_ms + 120_000);
    assert_eq!(rig.pole.sounded.len(), 1);
    assert!(rig.pole.updated.is_empty(), "{:?}", rig.pole.updated);
    assert_eq!(rig.pole.base.records.len(), 1);
    assert_eq!(rig.pole.base.records[0].details["count"], 1);
}

#[test]
fn a_herd_heading_from_the_forest_to_the_village_escalates_at_once() {
    let mut rig = Rig::new(FOREST_VILLAGE);
    rig.frames(5, |_| vec![elephant(7, 0.15, 0.6)]);
    assert_eq!(rig.pole.sounded.len(), 1);
    let (id, sound) = &rig.pole.sounded[0];
    let id = *id;
    assert_eq!(sound.level, AlarmLevel::Warning);
    assert_eq!(
        sound.message_en,
        "1 wild elephant in the forest — stay indoors"
    );
    assert_eq!(
        details(sound)["direction"],
        json!({"heading": "stationary", "from-zone": "forest", "to-zone": "forest", "approaching": false})
    );

    // It walks right, 1 % of the frame per frame: once it has moved 5 % the alarm
    // becomes an emergency at once, long before the 30 s cooldown.
    let mut x = 0.15;
    while rig.pole.updated.is_empty() {
        assert!(x < 0.21, "no escalation after moving to {x}");
        x += 0.01;
        rig.frame(&[elephant(7, x, 0.6)]);
    }
    let (updated_id, update) = &rig.pole.updated[0];
    assert_eq!(*updated_id, id);
    assert_eq!(update.level, AlarmLevel::Emergency);
    assert_eq!(
        update.message_th,
        "ช้างป่า 1 ตัว กำลังมุ่งหน้าไปทางหมู่บ้าน — โปรดอยู่ในที่ปลอดภัย"
    );
    assert_eq!(
        details(update)["direction"],
        json!({"heading": "left-to-right", "from-zone": "forest", "to-zone": "forest", "approaching": true})
    );
    assert_eq!(update.snapshot.as_deref(), Some(JPEG));

    // Across the road into the village: changes wait for the cooldown.
    while x < 0.8 {
        x += 0.01;
        rig.frame(&[elephant(7, x, 0.6)]);
    }
    assert_eq!(rig.pole.updated.len(), 1);
    rig.frames(150, |_| vec![elephant(7, 0.8, 0.6)]);
    assert_eq!(rig.pole.updated.len(), 2);
    let update = &rig.pole.updated[1].1;
    assert_eq!(update.level, AlarmLevel::Emergency);
    assert_eq!(
        update.message_th,
        "ช้างป่า 1 ตัว เคลื่อนจากฝั่งป่าไปทางหมู่บ้าน — โปรดอยู่ในที่ปลอดภัย"
    );
    assert_eq!(
        update.message_en,
        "1 wild elephant moving from the forest toward the village — stay indoors"
    );
    assert_eq!(details(update)["direction"]["to-zone"], "village");
}

#[test]
fn a_herd_going_back_to_the_forest_is_not_approaching() {
    let mut rig = Rig::new(FOREST_VILLAGE);
    rig.frames(5, |_| vec![elephant(7, 0.6, 0.6)]);
    rig.frames(35, |i| vec![elephant(7, 0.6 - 0.01 * (i + 1) as f64, 0.6)]);
    rig.frames(150, |_| vec![elephant(7, 0.25, 0.6)]);
    assert_eq!(rig.pole.sounded.len(), 1);
    assert!(!rig.pole.updated.is_empty());
    assert!(requests(&rig.pole).all(|r| r.level == AlarmLevel::Warning));
    let last = &rig.pole.updated.last().unwrap().1;
    assert_eq!(
        details(last)["direction"],
        json!({"heading": "right-to-left", "from-zone": null, "to-zone": "forest", "approaching": false})
    );
    assert_eq!(
        last.message_en,
        "1 wild elephant in the forest — stay indoors"
    );
}

#[test]
fn a_herd_that_stays_renews_its_alarm_and_a_gone_one_does_not() {
    let mut rig = Rig::new("{}");
    rig.step_ms = 1000;
    rig.frames(3, |_| vec![elephant(1, 0.5, 0.5)]);
    let sounded_ms = rig.now_ms;
    // Five minutes of the same elephant standing still: nothing changes but time.
    let mut renewals = Vec::new();
    for _ in 0..300 {
        let before = rig.pole.updated.len();
        rig.frame(&[elephant(1, 0.5, 0.5)]);
        if rig.pole.updated.len() > before {
            renewals.push(rig.now_ms);
        }
    }
    assert_eq!(
        renewals,
        (1..=5).map(|k| sounded_ms + k * 60_000).collect::<Vec<_>>()
    );
    // Gone: no renewal of an alarm for a herd nobody sees (the all-clear follows).
    rig.frames(100, |_| vec![]);
    assert_eq!(rig.pole.updated.len(), 5);
}

#[test]
fn updates_are_rate_limited_but_a_level_rise_is_not() {
    let mut rig = Rig::new(FOREST_VILLAGE);
    rig.step_ms = 1000;
    rig.frames(3, |_| vec![elephant(1, 0.5, 0.4)]);
    assert_eq!(rig.pole.sounded.len(), 1);
    let sounded_ms = rig.now_ms;

    // A second elephant joins at once; the update waits for the 30 s cooldown.
    let pair = || vec![elephant(1, 0.5, 0.4), elephant(2, 0.5, 0.7)];
    while rig.pole.updated.is_empty() {
        rig.frame(&pair());
        assert!(
            rig.now_ms <= sounded_ms + 30_000,
            "no update after the cooldown"
        );
    }
    assert_eq!(rig.now_ms, sounded_ms + 30_000);
    let updated_ms = rig.now_ms;
    assert_eq!(details(&rig.pole.updated[0].1)["count"], 2);

    // A third joins: its count waits too.
    let trio = |dx: f64| {
        vec![
            elephant(1, 0.5 + dx, 0.4),
            elephant(2, 0.5 + dx, 0.7),
            elephant(3, 0.45 + dx, 0.55),
        ]
    };
    rig.frames(5, |_| trio(0.0));
    assert_eq!(rig.pole.updated.len(), 1);

    // The herd turns toward the village: the emergency goes out at once, with the count.
    rig.frames(2, |i| trio(0.03 * (i + 1) as f64));
    assert_eq!(rig.pole.updated.len(), 2);
    assert!(rig.now_ms < updated_ms + 30_000);
    let update = &rig.pole.updated[1].1;
    assert_eq!(update.level, AlarmLevel::Emergency);
    assert_eq!(details(update)["count"], 3);
    assert!(details(update)["direction"]["approaching"]
        .as_bool()
        .unwrap());

    let escalated_ms = rig.now_ms;

    // The herd goes back where it stood: the direction update waits for the cooldown,
    // and the level stays an emergency.
    while rig.pole.updated.len() == 2 {
        rig.frame(&trio(0.0));
        assert!(
            rig.now_ms <= escalated_ms + 30_000,
            "no update after the cooldown"
        );
    }
    let update = &rig.pole.updated[2].1;
    assert_eq!(update.level, AlarmLevel::Emergency);
    assert_eq!(details(update)["direction"]["heading"], "stationary");
    assert_eq!(details(update)["direction"]["approaching"], false);

    // Every message carried a fresh snapshot.
    assert_eq!(rig.pole.camera.requests.len(), 4);
    assert!(requests(&rig.pole).all(|r| r.snapshot.as_deref() == Some(JPEG)));
}

#[test]
fn the_all_clear_ends_the_incident_and_rearms() {
    let mut rig = Rig::new("{}");
    let first_ms = rig.now_ms + rig.step_ms;
    // An elephant crosses the view from left to right in 20 s.
    rig.frames(100, |i| vec![elephant(7, 0.1 + 0.008 * i as f64, 0.5)]);
    let last_ms = rig.now_ms;
    let id = rig.pole.sounded[0].0;
    rig.frames(50, |_| vec![]);
    rig.tick_at(last_ms + 119_999);
    assert!(rig.pole.cleared.is_empty() && rig.pole.base.records.is_empty());

    rig.tick_at(last_ms + 120_000);
    assert_eq!(rig.pole.cleared, [id]);
    assert_eq!(rig.pole.base.records.len(), 1);
    let record = &rig.pole.base.records[0];
    assert_eq!(record.stream, "movement");
    assert_eq!(
        record.metrics,
        [
            ("count".to_string(), 1.0, "1".to_string()),
            ("duration".to_string(), 19.8, "s".to_string())
        ]
    );
    let d = &record.details;
    assert_eq!(d["incident"], id);
    assert_eq!(d["camera"], CAMERA);
    assert_eq!(
        (d["start-ts"].as_u64(), d["end-ts"].as_u64()),
        (Some(first_ms), Some(last_ms))
    );
    assert_eq!(d["count"], 1);
    assert_eq!(d["direction"]["heading"], "left-to-right");
    assert_eq!(
        (&d["from-zone"], &d["to-zone"]),
        (&Value::Null, &Value::Null)
    );
    let path = d["path"].as_array().unwrap();
    assert_eq!(path.len(), 50);
    let point = |p: &Value| {
        (
            p[0].as_u64().unwrap(),
            p[1].as_f64().unwrap(),
            p[2].as_f64().unwrap(),
        )
    };
    let (start, end) = (point(&path[0]), point(&path[49]));
    assert_eq!((start.0, end.0), (first_ms, last_ms));
    assert!(
        (start.1 - 0.1).abs() < 1e-3 && (end.1 - 0.892).abs() < 1e-3,
        "{start:?} {end:?}"
    );
    assert!((start.2 - 0.5).abs() < 1e-3);
    assert!(path.windows(2).all(|w| point(&w[0]).0 < point(&w[1]).0));
    assert_eq!(rig.pole.saved_incident(), Value::Null);
    assert_eq!(rig.pole.base.logged(LogLevel::Info, "all-clear"), 1);

    // Once only.
    rig.frames(10, |_| vec![]);
    rig.tick_at(rig.now_ms + 600_000);
    assert_eq!(rig.pole.cleared.len(), 1);
    assert_eq!(rig.pole.base.records.len(), 1);

    // Re-armed: the next confirmation is a new incident with a new alarm.
    rig.frames(3, |_| vec![elephant(8, 0.5, 0.5)]);
    assert_eq!(rig.pole.sounded.len(), 2);
    let (new_id, request) = &rig.pole.sounded[1];
    assert_ne!(*new_id, id);
    assert_eq!(details(request)["tracks"], json!([8]));
}

#[test]
fn the_all_clear_also_comes_with_a_frame() {
    let mut rig = Rig::new(r#"{"all-clear-s": 10}"#);
    rig.frames(3, |_| vec![elephant(7, 0.5, 0.5)]);
    rig.step_ms = 11_000;
    // The detector saw the elephant again only after the quiet period: that ends the
    // first incident and opens a second one.
    rig.frame(&[elephant(7, 0.5, 0.5)]);
    assert_eq!(rig.pole.cleared.len(), 1);
    assert_eq!(rig.pole.base.records.len(), 1);
    assert_eq!(rig.pole.sounded.len(), 2);
}

#[test]
fn a_failed_snapshot_still_sounds_the_alarm() {
    let mut rig = Rig::new("{}");
    rig.pole.camera.error = Some("frame 12 expired".into());
    rig.frames(3, |_| vec![elephant(7, 0.5, 0.5)]);
    assert_eq!(rig.pole.sounded.len(), 1);
    assert_eq!(rig.pole.sounded[0].1.snapshot, None);
    assert_eq!(rig.pole.camera.requests.len(), 1);
    assert_eq!(rig.pole.base.logged(LogLevel::Warn, "frame 12 expired"), 1);
}

#[test]
fn snapshots_can_be_turned_off() {
    let mut rig = Rig::new(r#"{"snapshot": false, "voice": null}"#);
    rig.frames(3, |_| vec![elephant(7, 0.5, 0.5)]);
    let request = &rig.pole.sounded[0].1;
    assert_eq!((&request.snapshot, &request.voice), (&None, &None));
    assert!(rig.pole.camera.requests.is_empty());
}

#[test]
fn a_failed_alarm_is_retried_on_the_next_frame() {
    let mut rig = Rig::new("{}");
    rig.pole.sound_failures = 2;
    rig.frames(3, |_| vec![elephant(7, 0.5, 0.5)]);
    let confirmed_frame = rig.frame_id;
    assert!(rig.pole.sounded.is_empty());
    assert_eq!(rig.pole.base.logged(LogLevel::Error, "cannot sound"), 1);
    // The scene is clear, but the alarm is still owed.
    rig.frame(&[]);
    assert!(rig.pole.sounded.is_empty());
    assert_eq!(rig.pole.base.logged(LogLevel::Error, "cannot sound"), 2);
    rig.frame(&[]);
    assert_eq!(rig.pole.sounded.len(), 1);
    let request = &rig.pole.sounded[0].1;
    assert_eq!(details(request)["frame-id"], confirmed_frame);
    assert_eq!(rig.pole.camera.requests[2].1, confirmed_frame);
}

#[test]
fn a_failed_clear_is_retried() {
    let mut rig = Rig::new("{}");
    rig.frames(3, |_| vec![elephant(7, 0.5, 0.5)]);
    let id = rig.pole.sounded[0].0;
    rig.pole.clear_failures = 1;
    let quiet_ms = rig.now_ms + 120_000;
    rig.tick_at(quiet_ms);
    assert!(rig.pole.cleared.is_empty() && rig.pole.base.records.is_empty());
    assert_eq!(rig.pole.base.logged(LogLevel::Error, "cannot clear"), 1);
    rig.tick_at(quiet_ms + 10_000);
    assert_eq!(rig.pole.cleared, [id]);
    assert_eq!(rig.pole.base.records.len(), 1);
}

#[test]
fn a_restarted_watch_adopts_the_active_incident() {
    let mut rig = Rig::new(r#"{"cooldown-s": 0}"#);
    let first_ms = rig.now_ms + rig.step_ms;
    rig.frames(5, |_| vec![elephant(7, 0.5, 0.5)]);
    let (id, sound) = rig.pole.sounded[0].clone();
    rig.restart();
    assert_eq!(rig.pole.base.logged(LogLevel::Info, "resumed"), 1);

    // A second elephant joins: the adopted alarm is updated.
    rig.frames(5, |_| vec![elephant(7, 0.5, 0.5), elephant(8, 0.7, 0.5)]);
    assert_eq!(rig.pole.sounded.len(), 1);
    assert_eq!(rig.pole.updated.len(), 1);
    let (updated_id, update) = &rig.pole.updated[0];
    assert_eq!(*updated_id, id);
    let (before, after) = (details(&sound), details(update));
    assert_eq!(after["count"], 2);
    assert_eq!(after["tracks"], json!([7, 8]));
    assert_eq!(after["first-seen-ts"], first_ms);
    assert_eq!(after["confirmed-ts"], before["confirmed-ts"]);

    // And cleared at the all-clear.
    rig.tick_at(rig.now_ms + 120_000);
    assert_eq!(rig.pole.cleared, [id]);
    assert_eq!(rig.pole.base.records[0].details["incident"], id);
}

#[test]
fn a_restarted_watch_knows_when_the_herd_was_last_seen() {
    let mut rig = Rig::new("{}");
    // An elephant for a minute, then the plugin restarts.
    rig.frames(300, |_| vec![elephant(7, 0.5, 0.5)]);
    let last_ms = rig.now_ms;
    let id = rig.pole.sounded[0].0;
    rig.restart();
    // The saved incident is at most SAVE_EVERY_MS old: no all-clear before 110 s.
    rig.tick_at(last_ms + 110_000 - 1);
    assert!(rig.pole.cleared.is_empty());
    rig.tick_at(last_ms + 120_000);
    assert_eq!(rig.pole.cleared, [id]);
    let end_ms = rig.pole.base.records[0].details["end-ts"].as_u64().unwrap();
    assert!(end_ms + SAVE_EVERY_MS >= last_ms && end_ms <= last_ms);
}

#[test]
fn a_restarted_watch_drops_an_incident_whose_alarm_ended() {
    let mut rig = Rig::new("{}");
    rig.frames(3, |_| vec![elephant(7, 0.5, 0.5)]);
    let id = rig.pole.sounded[0].0;
    rig.pole.active.remove(&id);
    rig.restart();
    assert_eq!(rig.pole.base.logged(LogLevel::Info, "dropped"), 1);
    assert_eq!(rig.pole.saved_incident(), Value::Null);
    rig.tick_at(rig.now_ms + 600_000);
    assert!(rig.pole.cleared.is_empty() && rig.pole.base.records.is_empty());
    rig.frames(3, |_| vec![elephant(9, 0.5, 0.5)]);
    assert_eq!(rig.pole.sounded.len(), 2);
}

#[test]
fn an_alarm_ended_by_the_pole_is_neither_updated_nor_cleared() {
    let mut rig = Rig::new(r#"{"cooldown-s": 0}"#);
    rig.frames(3, |_| vec![elephant(7, 0.5, 0.5)]);
    let id = rig.pole.sounded[0].0;
    // Acknowledged, and ended by the engine.
    rig.pole.active.remove(&id);
    rig.frames(5, |_| vec![elephant(7, 0.5, 0.5), elephant(8, 0.7, 0.5)]);
    assert!(rig.pole.updated.is_empty());
    assert_eq!(rig.pole.base.logged(LogLevel::Info, "ended by the pole"), 1);
    rig.tick_at(rig.now_ms + 120_000);
    assert!(rig.pole.cleared.is_empty());
    assert_eq!(rig.pole.base.records.len(), 1);
    assert_eq!(rig.pole.base.records[0].details["incident"], id);
    assert_eq!(rig.pole.base.records[0].details["count"], 2);
    assert_eq!(rig.pole.sounded.len(), 1);
}

#[test]
fn an_alarm_the_pole_ended_unnoticed_is_not_cleared() {
    let mut rig = Rig::new("{}");
    rig.frames(5, |_| vec![elephant(7, 0.5, 0.5)]);
    let id = rig.pole.sounded[0].0;
    rig.pole.active.remove(&id);
    rig.tick_at(rig.now_ms + 120_000);
    assert!(rig.pole.cleared.is_empty());
    assert_eq!(rig.pole.base.logged(LogLevel::Error, "cannot clear"), 0);
    assert_eq!(rig.pole.base.records.len(), 1);
    assert_eq!(rig.pole.base.records[0].details["incident"], id);
    assert_eq!(rig.pole.saved_incident(), Value::Null);
}

#[test]
fn a_level_rise_after_the_pole_ended_the_alarm_sounds_a_new_one() {
    let mut rig = Rig::new(FOREST_VILLAGE);
    rig.frames(3, |_| vec![elephant(7, 0.5, 0.4)]);
    let first = rig.pole.sounded[0].0;
    rig.pole.active.remove(&first);
    rig.frame(&[elephant(7, 0.53, 0.4)]);
    assert_eq!(rig.pole.sounded.len(), 1);
    // Moved 6 % toward the village: the emergency sounds on this very frame.
    rig.frame(&[elephant(7, 0.56, 0.4)]);
    assert!(rig.pole.updated.is_empty());
    assert_eq!(rig.pole.sounded.len(), 2);
    let (second, request) = &rig.pole.sounded[1];
    assert_eq!(request.level, AlarmLevel::Emergency);
    let second = *second;
    // The new alarm is saved at once: a restarted watch clears it.
    rig.restart();
    rig.tick_at(rig.now_ms + 120_000);
    assert_eq!(rig.pole.cleared, [second]);
    assert_eq!(rig.pole.base.records[0].details["incident"], first);
}

#[test]
fn configs_are_validated() {
    let mut pole = Pole::default();
    let bad = Config {
        confirm: Confirm { hits: 0, window: 5 },
        ..Config::default()
    };
    let error = Watch::new(bad.clone(), &mut pole).unwrap_err();
    assert_eq!(error, "confirm: hits must be at least 1");

    let mut rig = Rig::new("{}");
    assert_eq!(rig.watch.set_config(bad).unwrap_err(), error);
    // Still three frames to confirm.
    rig.frames(2, |_| vec![elephant(7, 0.5, 0.5)]);
    assert!(rig.pole.sounded.is_empty());
    let eager = Config::from_json(r#"{"confirm": {"hits": 1, "window": 1}}"#).unwrap();
    rig.watch.set_config(eager).unwrap();
    rig.frame(&[elephant(7, 0.5, 0.5), elephant(8, 0.7, 0.5)]);
    assert_eq!(details(&rig.pole.sounded[0].1)["tracks"], json!([7, 8]));
}

#[test]
fn a_frame_without_size_is_an_error() {
    let mut rig = Rig::new("{}");
    let mut bad = frame(CAMERA, 1, START_MS);
    bad.width = 0;
    let error = rig
        .watch
        .on_detections(&bad, &[elephant(7, 0.5, 0.5)], &mut rig.pole)
        .unwrap_err();
    assert!(error.contains("no size"), "{error}");
}
