//! The event bus: decides which plugin receives which reading and when each plugin's tick
//! is due. Data flows one way: devices → bus → plugins.

use std::collections::BTreeSet;

use crate::devices::Reading;
use crate::plugin::instance::Call;
use crate::plugin::manifest::Subscriptions;

/// One plugin's subscriptions and tick schedule.
#[derive(Debug, Clone)]
struct Subscription {
    readings: BTreeSet<String>,
    tick_interval_ms: Option<u64>,
    next_tick_ms: u64,
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
}
