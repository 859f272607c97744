//! The event bus: decides which plugin receives which reading and camera detections, and
//! when each plugin's tick is due. Data flows one way: devices and cameras → bus → plugins.

use std::collections::BTreeSet;
use std::sync::Arc;

use sao_vision::pipeline::FrameDetections;

use crate::devices::Reading;
use crate::plugin::instance::{Call, Detections};
use crate::plugin::manifest::{Subscriptions, VisionSubscription};

/// One plugin's subscriptions and tick schedule.
#[derive(Debug, Clone)]
struct Subscription {
    readings: BTreeSet<String>,
    tick_interval_ms: Option<u64>,
    next_tick_ms: u64,
    vision: Option<VisionSubscription>,
}

/// Routes readings and ticks to plugins, by plugin index.
#[derive(Debug, Default)]
pub struct Bus {
    subscriptions: Vec<Subscription>,
}

impl Bus {
    /// Adds a plugin (its index is the order of `add` calls); its first tick is due at `now`.
    pub fn add(&mut self, subscriptions: &Subscriptions, now_ms: u64) {
        self.subscriptions.push(Subscription {
            readings: subscriptions.readings.iter().cloned().collect(),
            tick_interval_ms: subscriptions.tick_interval_ms,
            next_tick_ms: now_ms,
            vision: subscriptions.vision.clone(),
        });
    }

    /// Removes the plugin at `index`; later plugins move down by one, as in the runtime.
    pub fn remove(&mut self, index: usize) {
        self.subscriptions.remove(index);
    }

    /// The calls each plugin gets at `now`: its subscribed readings, then its tick if due.
    /// A tick schedule that fell behind (pole paused) skips ahead rather than bursting.
    pub fn route(&mut self, readings: &[Reading], now_ms: u64) -> Vec<Vec<Call>> {
        self.subscriptions
            .iter_mut()
            .map(|sub| {
                let mut calls: Vec<Call> = readings
                    .iter()
                    .filter(|r| sub.readings.contains(&r.sensor))
                    .map(|r| Call::Reading(r.clone()))
                    .collect();
                if let Some(interval) = sub.tick_interval_ms {
                    if now_ms >= sub.next_tick_ms {
                        calls.push(Call::Tick(now_ms));
                        sub.next_tick_ms += interval;
                        if sub.next_tick_ms <= now_ms {
                            sub.next_tick_ms = now_ms + interval;
                        }
                    }
                }
                calls
            })
            .collect()
    }
}

impl Bus {
    /// The `on-detections` call each plugin gets for a frame: plugins watching its camera
    /// get the objects of their labels (possibly none: the scene is clear); others nothing.
    pub fn route_detections(&self, frame: &Arc<FrameDetections>) -> Vec<Option<Call>> {
        self.subscriptions
            .iter()
            .map(|sub| {
                let vision = sub
                    .vision
                    .as_ref()
                    .filter(|v| v.wants_camera(&frame.camera))?;
                let objects = frame
                    .objects
                    .iter()
                    .filter(|o| vision.wants_label(&o.label))
                    .cloned()
                    .collect();
                Some(Call::Detections(Arc::new(Detections {
                    frame: frame.clone(),
                    objects,
                })))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(sensor: &str) -> Reading {
        Reading {
            sensor: sensor.into(),
            value: 1.0,
            unit: "1".into(),
            ts: 0,
        }
    }

    #[test]
    fn routes_only_subscribed_readings_and_due_ticks() {
        let mut bus = Bus::default();
        bus.add(
            &Subscriptions {
                readings: vec!["lux".into()],
                tick_interval_ms: Some(60_000),
                ..Subscriptions::default()
            },
            0,
        );
        bus.add(&Subscriptions::default(), 0);
        let calls = bus.route(&[reading("lux"), reading("motion")], 0);
        assert_eq!(calls[0].len(), 2);
        assert!(matches!(&calls[0][0], Call::Reading(r) if r.sensor == "lux"));
        assert!(matches!(calls[0][1], Call::Tick(0)));
        assert!(calls[1].is_empty());
        assert_eq!(bus.route(&[], 30_000)[0].len(), 0);
        assert!(matches!(bus.route(&[], 60_000)[0][0], Call::Tick(60_000)));
        // Paused for ten minutes: one tick, then the schedule resumes from now.
        assert_eq!(bus.route(&[], 660_000)[0].len(), 1);
        assert_eq!(bus.route(&[], 700_000)[0].len(), 0);
        assert_eq!(bus.route(&[], 720_000)[0].len(), 1);
    }

    #[test]
    fn routes_detections_by_camera_and_label() {
        use sao_vision::gate::Trigger;
        use sao_vision::geometry::BoundingBox;
        use sao_vision::pipeline::DetectedObject;

        let watcher = |cameras: &[&str], labels: &[&str]| Subscriptions {
            vision: Some(VisionSubscription {
                model: "detector".into(),
                cameras: cameras.iter().map(|c| c.to_string()).collect(),
                labels: labels.iter().map(|l| l.to_string()).collect(),
            }),
            ..Subscriptions::default()
        };
        let mut bus = Bus::default();
        bus.add(&watcher(&["forest"], &["elephant", "horse"]), 0);
        bus.add(&watcher(&["*"], &[]), 0);
        bus.add(&watcher(&["road"], &[]), 0);
        bus.add(&Subscriptions::default(), 0);
        let object = |label: &str, track_id| DetectedObject {
            label: label.into(),
            class_id: 0,
            score: 0.9,
            bbox: BoundingBox::new(0.0, 0.0, 10.0, 10.0),
            track_id,
            velocity: (0.0, 0.0),
            age_ms: 0,
            hits: 3,
        };
        let frame = Arc::new(FrameDetections {
            camera: "forest".into(),
            frame_id: 7,
            ts_ms: 1_000,
            width: 640,
            height: 480,
            trigger: Trigger::Motion,
            regions: 1,
            objects: vec![object("horse", 1), object("person", 2)],
        });
        let calls = bus.route_detections(&frame);
        let tracks = |call: &Option<Call>| match call {
            Some(Call::Detections(d)) => {
                Some(d.objects.iter().map(|o| o.track_id).collect::<Vec<_>>())
            }
            _ => None,
        };
        assert_eq!(tracks(&calls[0]), Some(vec![1]));
        assert_eq!(tracks(&calls[1]), Some(vec![1, 2]));
        assert_eq!(tracks(&calls[2]), None, "another camera");
        assert_eq!(tracks(&calls[3]), None, "not a vision plugin");
    }
}
