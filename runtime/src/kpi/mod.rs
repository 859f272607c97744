//! Key performance indicators: what the pole delivered, hour by hour, for the city's
//! smart-city evaluation report.
//!
//! * [`ledger`] — the hourly tallies on the pole's disk, one JSON-lines file per month.
//! * [`report`] — a period's tallies summed and grouped by smart-city dimension, as JSON
//!   and CSV (`sao report`, and `tele/sao/kpi-monthly` at the end of each month).
//!
//! [`Tally`] counts the current hour. It is a tap on the uplink, so it counts exactly what
//! goes upstream (the energy the dimming plugin reports, each hour's AQI band, traffic,
//! alarms and events), and the main loop adds what only the pole measures: the lamps'
//! metered energy, the time it ran, and the time each device was down (a red finding).

pub mod ledger;
pub mod report;

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

pub use ledger::Ledger;
pub use report::Report;

use crate::records;
use crate::uplink::{Metric, RecordSink, Source, Uplink, UplinkRecord};

/// One hour, ms.
pub const HOUR_MS: u64 = 3_600_000;
/// A gap between two loop turns longer than this was not observed (the pole was off).
const MAX_GAP_MS: u64 = 5 * 60_000;

/// One pole hour's tallies.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct Hour {
    /// Start of the hour, ms.
    pub start_ms: u64,
    /// How much of it the pole ran, ms.
    pub observed_ms: u64,
    /// Energy the lamps' meters counted, kWh.
    pub lamp_kwh: f64,
    /// Energy the dimming plugin reported for nights that ended this hour, kWh.
    pub reported_kwh: f64,
    /// What the old lamps would have used those nights, kWh.
    pub baseline_kwh: f64,
    /// Valid hourly AQI values by band.
    pub aqi_hours: BTreeMap<String, f64>,
    /// Provisional hourly AQI values (an averaging window under 75 % complete).
    pub aqi_provisional_hours: f64,
    /// The highest valid AQI.
    pub aqi_max: Option<f64>,
    /// Road users counted, by class.
    pub road_users: BTreeMap<String, u64>,
    /// Alarms raised, by kind (`elephant`, `sos`, …).
    pub alarms: BTreeMap<String, u64>,
    /// Events raised or reported, by `{plugin}/{kind}`.
    pub events: BTreeMap<String, u64>,
    /// Per device (`lamp:main`, `camera:gate`, `plugin:dimming`, …): time down (a red
    /// health finding), ms. Every device the pole has is listed, down or not.
    pub down_ms: BTreeMap<String, u64>,
}

impl Hour {
    fn starting(start_ms: u64) -> Self {
        Self {
            start_ms,
            ..Self::default()
        }
    }

    /// Counts one upstream record.
    fn count(&mut self, record: &UplinkRecord) {
        let p = &record.payload;
        let state = p["state"].as_str().unwrap_or_default();
        match record.segments().as_slice() {
            ["tele", plugin, stream] => match (*plugin, *stream) {
                records::AQI_STREAM => {
                    if let Some(aqi) = records::aqi(p) {
                        if aqi.provisional {
                            self.aqi_provisional_hours += 1.0;
                        } else {
                            *self.aqi_hours.entry(aqi.band.into()).or_default() += 1.0;
                            self.aqi_max =
                                Some(self.aqi_max.map_or(aqi.value, |m| m.max(aqi.value)));
                        }
                    }
                }
                records::ENERGY_STREAM => {
                    if let Some(night) = records::energy(p) {
                        self.reported_kwh += night.used_kwh;
                        self.baseline_kwh += night.baseline_kwh;
                    }
                }
                records::TRAFFIC_STREAM => {
                    for (class, n) in records::traffic(p) {
                        *self.road_users.entry(class).or_default() += n;
                    }
                }
                _ => {}
            },
            ["evt", plugin, kind] if state == "raised" || state == "info" => {
                *self.events.entry(format!("{plugin}/{kind}")).or_default() += 1;
            }
            ["alert", kind] if state == "raised" => {
                *self.alarms.entry(kind.to_string()).or_default() += 1;
            }
            _ => {}
        }
    }

    /// Adds `span_ms` of running, with `down` devices down, and lists `devices`.
    fn run(&mut self, span_ms: u64, devices: &[String], down: &[String]) {
        self.observed_ms += span_ms;
        for device in devices {
            self.down_ms.entry(device.clone()).or_default();
        }
        for device in down {
            *self.down_ms.entry(device.clone()).or_default() += span_ms;
        }
    }
}

/// What the loop tells the tally each turn.
#[derive(Debug, Clone, Default)]
pub struct Turn {
    /// Pole time, ms.
    pub now_ms: u64,
    /// The lamps' meters, summed, kWh.
    pub lamp_meter_kwh: f64,
    /// Every device the pole has, as health components.
    pub devices: Vec<String>,
    /// Those with a red finding.
    pub down: Vec<String>,
}

#[derive(Default)]
struct State {
    hour: Option<Hour>,
    last_turn_ms: Option<u64>,
    last_meter_kwh: Option<f64>,
}

/// Counts the current hour.
#[derive(Default)]
pub struct Tally {
    state: Mutex<State>,
}

impl Tally {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The loop's part of a turn: time run, lamp energy, devices down. Returns the hours
    /// that ended, oldest first.
    pub fn turn(&self, turn: &Turn) -> Vec<Hour> {
        let mut state = self.lock();
        let now = turn.now_ms;
        let mut ended = Vec::new();
        let mut hour = state
            .hour
            .take()
            .unwrap_or_else(|| Hour::starting(now - now % HOUR_MS));
        if let Some(last) = state.last_turn_ms.filter(|last| *last < now) {
            // The span since the last turn, split at hour boundaries; a long gap is time
            // the pole did not run.
            let mut from = last.max(now.saturating_sub(MAX_GAP_MS));
            while from < now {
                let boundary = hour.start_ms + HOUR_MS;
                if from >= boundary {
                    // The pole was off past the end of its hour.
                    let next = Hour::starting(from - from % HOUR_MS);
                    ended.push(std::mem::replace(&mut hour, next));
                    continue;
                }
                let to = now.min(boundary);
                hour.run(to - from, &turn.devices, &turn.down);
                from = to;
                if to == boundary {
                    ended.push(std::mem::replace(&mut hour, Hour::starting(boundary)));
                }
            }
        }
        if let Some(last) = state.last_meter_kwh {
            // A meter that went back (a replaced driver) counts from its new reading.
            hour.lamp_kwh += (turn.lamp_meter_kwh - last).max(0.0);
        }
        state.last_meter_kwh = Some(turn.lamp_meter_kwh);
        state.last_turn_ms = Some(now);
        state.hour = Some(hour);
        ended
    }

    /// The hour counted so far (to keep it when the pole stops), if any.
    pub fn take_partial(&self) -> Option<Hour> {
        let mut state = self.lock();
        state.last_turn_ms = None;
        state.hour.take().filter(|h| h.observed_ms > 0)
    }
}

impl RecordSink for Tally {
    fn publish(&self, record: &UplinkRecord) {
        let mut state = self.lock();
        // Records before the loop's first turn (a plugin starting) open the hour.
        let ts = record.payload["ts"].as_u64().unwrap_or_default();
        state
            .hour
            .get_or_insert_with(|| Hour::starting(ts - ts % HOUR_MS))
            .count(record);
    }
}

/// Publishes a month's report on `…/tele/sao/kpi-monthly`: the headline numbers as
/// metrics, the whole report as `details`.
pub fn publish_monthly(uplink: &Uplink, report: &Report, now_ms: u64) {
    let metric = |name: &str, value: f64, unit: &str| Metric {
        name: name.into(),
        value,
        unit: unit.into(),
    };
    let d = &report.dimensions;
    let mut metrics = vec![
        metric("observed-hours", report.observed_hours, "h"),
        metric("pole-uptime", d.infrastructure.pole_uptime_percent, "%"),
        metric("metered-kwh", d.energy.metered_kwh, "kW.h"),
        metric("reported-kwh", d.energy.reported_kwh, "kW.h"),
        metric("baseline-kwh", d.energy.baseline_kwh, "kW.h"),
        metric("alarms", d.living.alarms.values().sum::<u64>() as f64, "1"),
    ];
    if let Some(saved) = d.energy.saved_percent {
        metrics.push(metric("saved", saved, "%"));
    }
    let source = Source {
        dataset: "kpi".into(),
        dimension: "governance".into(),
        ..Source::host()
    };
    let details = serde_json::to_value(report).expect("reports serialise");
    // Logged by the uplink if it cannot be queued.
    let _ = uplink.telemetry_with_details(&source, "kpi-monthly", &metrics, details, now_ms);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T0: u64 = 1_795_219_200_000; // an hour boundary

    fn record(topic: &str, payload: serde_json::Value) -> UplinkRecord {
        UplinkRecord {
            topic: format!("sao/v1/site/pole/{topic}"),
            qos: 1,
            retain: false,
            payload,
        }
    }

    fn turn(now_ms: u64, kwh: f64, down: &[&str]) -> Turn {
        Turn {
            now_ms,
            lamp_meter_kwh: kwh,
            devices: vec!["lamp:main".into(), "sensor:lux".into()],
            down: down.iter().map(|d| d.to_string()).collect(),
        }
    }

    #[test]
    fn hours_split_at_their_boundary_with_energy_downtime_and_records() {
        let tally = Tally::default();
        assert!(tally.turn(&turn(T0 + 1_000, 5.0, &[])).is_empty());
        tally.publish(&record("alert/sos", json!({"state": "raised"})));
        tally.publish(&record("alert/sos", json!({"state": "updated"})));
        tally.publish(&record("evt/sao/health", json!({"state": "raised"})));
        tally.publish(&record("evt/sao/health", json!({"state": "cleared"})));
        tally.publish(&record(
            "tele/air-quality/aqi",
            json!({"ts": T0, "metrics": {"aqi": {"value": 40.0}, "provisional": {"value": 0.0}}, "details": {"band": {"name": {"en": "Good"}}}}),
        ));
        tally.publish(&record(
            "tele/dimming/energy-daily",
            json!({"metrics": {"kwh": {"value": 0.9}, "baseline-kwh": {"value": 1.8}}}),
        ));
        assert!(tally
            .turn(&turn(T0 + 61_000, 5.1, &["lamp:main"]))
            .is_empty());
        // The next turn crosses the hour: 59 min in the first hour, 1 min in the next.
        let mut now = T0 + 61_000;
        let mut ended = Vec::new();
        while now < T0 + HOUR_MS + 60_000 {
            now += 60_000;
            ended.extend(tally.turn(&turn(now, 5.1, &["lamp:main"])));
        }
        assert_eq!(ended.len(), 1);
        let hour = &ended[0];
        assert_eq!(hour.start_ms, T0);
        assert_eq!(hour.observed_ms, HOUR_MS - 1_000);
        assert_eq!(hour.down_ms["lamp:main"], HOUR_MS - 1_000);
        assert_eq!(hour.down_ms["sensor:lux"], 0, "every device is listed");
        assert_eq!(hour.alarms["sos"], 1, "raised only");
        assert_eq!(hour.events["sao/health"], 1);
        assert_eq!(hour.aqi_hours["good"], 1.0);
        assert_eq!((hour.reported_kwh, hour.baseline_kwh), (0.9, 1.8));
        assert!((hour.lamp_kwh - 0.1).abs() < 1e-9, "{}", hour.lamp_kwh);
        let partial = tally.take_partial().unwrap();
        assert_eq!(partial.start_ms, T0 + HOUR_MS);
        assert_eq!(
            partial.observed_ms, 61_000,
            "from the boundary to the last turn"
        );
    }

    #[test]
    fn a_long_gap_is_not_counted_as_running() {
        let tally = Tally::default();
        tally.turn(&turn(T0, 1.0, &[]));
        tally.turn(&turn(T0 + 30 * 60_000, 1.0, &[]));
        // Turns 30 min apart: only the 5 min before each turn count as run. Then off until
        // 02:10: the first hour ends, the second never ran, the third has 5 min.
        let ended = tally.turn(&turn(T0 + 130 * 60_000, 1.0, &[]));
        let observed: Vec<_> = ended.iter().map(|h| (h.start_ms, h.observed_ms)).collect();
        assert_eq!(observed, [(T0, MAX_GAP_MS)]);
        let partial = tally.take_partial().unwrap();
        assert_eq!(partial.start_ms, T0 + 2 * HOUR_MS);
        assert_eq!(partial.observed_ms, MAX_GAP_MS);
    }
}
