//! [`Waiting`]: who is waiting at the stop on one camera, from its tracked detections.
//!
//! A person (a detection of a configured label scoring at least `min-score`) is in the
//! zone when its feet, the bottom centre of its box, are inside the zone polygon. A
//! track in the zone is *waiting* once `dwell-s` have passed since it entered (that is
//! when it *arrives*, so a passer-by crossing the area is never counted). A waiting
//! track *leaves* when it is seen outside the zone, or when it has gone unseen for
//! `lost-after-s` (a bus pulled in front of it, it walked out of view). Its wait runs
//! from entering the zone to the last frame it was seen in it. A track that steps out of
//! the zone before its dwell is over starts again when it comes back.
//!
//! Everything is timed on the frames' own clock (and the tick's, for people a dead
//! camera no longer shows), never on the time a call arrives.

use std::collections::BTreeMap;

use sao_plugin_sdk_vision::{Detection, Frame};

use crate::config::Config;

/// Why a waiting person has left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leave {
    /// Seen outside the zone.
    Zone,
    /// Unseen for `lost-after-s`.
    Timeout,
}

/// A change in who is waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Track `track` began waiting.
    Arrived {
        /// The track's id.
        track: u64,
    },
    /// Track `track` stopped waiting after `wait_ms`.
    Left {
        /// The track's id.
        track: u64,
        /// From entering the zone to the last frame it was seen in it, milliseconds.
        wait_ms: u64,
        /// Why.
        why: Leave,
    },
}

/// A person in the zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Person {
    /// When it entered the zone (the first frame of its present stay), Unix ms.
    entered_ms: u64,
    /// The last frame it was seen in the zone, Unix ms.
    seen_ms: u64,
    /// Whether its dwell is over.
    waiting: bool,
}

impl Person {
    fn leave(&self, track: u64, why: Leave) -> Change {
        Change::Left {
            track,
            wait_ms: self.seen_ms.saturating_sub(self.entered_ms),
            why,
        }
    }
}

/// The people in one camera's zone, by track id.
#[derive(Debug, Clone, Default)]
pub struct Waiting {
    people: BTreeMap<u64, Person>,
}

impl Waiting {
    /// How many people are waiting.
    pub fn count(&self) -> usize {
        self.people.values().filter(|p| p.waiting).count()
    }

    /// The tracks waiting, in id order.
    pub fn tracks(&self) -> Vec<u64> {
        let waiting = self.people.iter().filter(|(_, p)| p.waiting);
        waiting.map(|(&id, _)| id).collect()
    }

    /// Takes in a frame's detections: people entering, dwelling and stepping out of the
    /// zone, then those unseen for too long. Returns the changes, in that order.
    pub fn observe(
        &mut self,
        frame: &Frame,
        detections: &[Detection],
        config: &Config,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        let ts = frame.ts_ms;
        let people = detections
            .iter()
            .filter(|d| config.counts_label(&d.label) && f64::from(d.score) >= config.min_score);
        for d in people {
            let (x, y) = feet(frame, d);
            if config.zone.contains(x, y) {
                let person = self.people.entry(d.track_id).or_insert(Person {
                    entered_ms: ts,
                    seen_ms: ts,
                    waiting: false,
                });
                person.seen_ms = person.seen_ms.max(ts);
                if !person.waiting && ts.saturating_sub(person.entered_ms) >= config.dwell_ms() {
                    person.waiting = true;
                    changes.push(Change::Arrived { track: d.track_id });
                }
            } else if let Some(person) = self.people.remove(&d.track_id) {
                if person.waiting {
                    changes.push(person.leave(d.track_id, Leave::Zone));
                }
            }
        }
        changes.extend(self.sweep(ts, config));
        changes
    }

    /// Lets go of the people unseen for `lost-after-s` at `now_ms`: a waiting one has
    /// left, one still dwelling is forgotten.
    pub fn sweep(&mut self, now_ms: u64, config: &Config) -> Vec<Change> {
        let lost_after = config.lost_after_ms();
        let mut changes = Vec::new();
        self.people.retain(|&track, person| {
            let lost = now_ms.saturating_sub(person.seen_ms) >= lost_after;
            if lost && person.waiting {
                changes.push(person.leave(track, Leave::Timeout));
            }
            !lost
        });
        changes
    }
}

/// Where `detection` stands on `frame`: the bottom centre of its box in normalized frame
/// coordinates, kept inside the frame (a box cut off by the frame's edge stands on that
/// edge, and a polygon reaching the edge holds it).
pub fn feet(frame: &Frame, detection: &Detection) -> (f64, f64) {
    const INSIDE: f64 = 1.0 - 1e-6;
    let (w, h) = (
        f64::from(frame.width.max(1)),
        f64::from(frame.height.max(1)),
    );
    let x = (f64::from(detection.x) + f64::from(detection.width) / 2.0) / w;
    let y = (f64::from(detection.y) + f64::from(detection.height)) / h;
    (x.clamp(0.0, INSIDE), y.clamp(0.0, INSIDE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sao_plugin_sdk_vision::Polygon;

    fn frame(ts_ms: u64) -> Frame {
        Frame {
            camera: "stop".into(),
            frame_id: ts_ms / 100,
            ts_ms,
            width: 1000,
            height: 500,
        }
    }

    /// A person on track `track` whose box is 40×100 px with its feet at `(x, y)` px.
    fn person(track: u64, x: f32, y: f32) -> Detection {
        Detection {
            label: "person".into(),
            score: 0.8,
            x: x - 20.0,
            y: y - 100.0,
            width: 40.0,
            height: 100.0,
            track_id: track,
        }
    }

    #[test]
    fn the_feet_are_the_bottom_centre_kept_inside_the_frame() {
        assert_eq!(feet(&frame(0), &person(1, 500.0, 250.0)), (0.5, 0.5));
        // Cut off at the bottom and the right: on the edge, just inside.
        let (x, y) = feet(&frame(0), &person(1, 1010.0, 560.0));
        assert!(x < 1.0 && x > 0.999 && y < 1.0 && y > 0.999, "{x} {y}");
        assert!(Config::default().zone.contains(x, y));
        let (x, y) = feet(&frame(0), &person(1, -30.0, 50.0));
        assert_eq!((x, y), (0.0, 0.1));
    }

    #[test]
    fn a_zone_holds_people_by_their_feet_not_their_box() {
        // The bottom half of the view; a tall person standing just above it reaches
        // into it with most of the box, and is not in it.
        let config = Config {
            zone: Polygon(vec![[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]]),
            dwell_s: 0.0,
            ..Config::default()
        };
        let mut waiting = Waiting::default();
        let tall = Detection {
            y: 200.0,
            height: 40.0,
            ..person(1, 100.0, 0.0)
        };
        let inside = person(2, 300.0, 260.0);
        waiting.observe(&frame(0), &[tall, inside], &config);
        assert_eq!(waiting.tracks(), vec![2]);
    }

    #[test]
    fn low_scores_and_other_labels_are_unseen() {
        let config = Config {
            dwell_s: 0.0,
            ..Config::default()
        };
        let mut waiting = Waiting::default();
        let faint = Detection {
            score: 0.2,
            ..person(1, 100.0, 400.0)
        };
        let bike = Detection {
            label: "bicycle".into(),
            ..person(2, 200.0, 400.0)
        };
        assert!(waiting
            .observe(&frame(0), &[faint, bike], &config)
            .is_empty());
        assert_eq!(waiting.count(), 0);
    }
}
