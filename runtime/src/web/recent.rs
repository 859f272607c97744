//! What the page shows of the records the pole sends: the latest events and alerts, the
//! latest record of each telemetry stream, and 24 hours of the plotted series.
//!
//! [`RecentRecords`] is a [`RecordSink`] on the uplink, so the page sees exactly what goes
//! upstream, as it is queued, network or not. It is in memory: after a restart the plots
//! start empty.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use sao_web::{EventView, Series, SeriesInfo};
use serde_json::Value;

use crate::uplink::{RecordSink, UplinkRecord};

/// Events and alerts kept for the page.
const EVENTS_KEPT: usize = 50;
/// How far back the series go, ms.
pub const SERIES_SPAN_MS: u64 = 24 * 3_600_000;

/// A plotted series: which metric of which stream, and how the page names it.
struct Plotted {
    info: SeriesInfo,
    points: VecDeque<(u64, f64)>,
}

/// Which metric of which telemetry stream feeds which plot. `{id}` stands for the part of
/// the stream name after the prefix (a lamp's id).
const PLOTS: [(&str, &str, &str, &str, &str, &str, &str); 4] = [
    // (plugin, stream prefix, metric, series name, title th, title en, unit)
    (
        "air-quality",
        "aqi",
        "aqi",
        "aqi",
        "ดัชนีคุณภาพอากาศ (AQI)",
        "Air quality index (AQI)",
        "",
    ),
    (
        "sao",
        "lamp-",
        "level",
        "{id}.level",
        "ระดับความสว่างโคม {id}",
        "Lamp {id} level",
        "%",
    ),
    (
        "sao",
        "lamp-",
        "watts",
        "{id}.watts",
        "กำลังไฟฟ้าโคม {id}",
        "Lamp {id} power",
        "W",
    ),
    (
        "sao",
        "health",
        "cpu-temperature",
        "cpu-temperature",
        "อุณหภูมิตู้อุปกรณ์",
        "Box temperature",
        "°C",
    ),
];

#[derive(Default)]
struct Kept {
    events: VecDeque<EventView>,
    /// Latest payload per `{plugin}/{stream}`.
    streams: BTreeMap<String, Value>,
    series: BTreeMap<String, Plotted>,
}

/// The records the page shows.
#[derive(Default)]
pub struct RecentRecords {
    kept: Mutex<Kept>,
}

impl RecentRecords {
    fn lock(&self) -> MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The latest events and alerts, newest first.
    pub fn events(&self) -> Vec<EventView> {
        self.lock().events.iter().rev().cloned().collect()
    }

    /// The latest payload of `stream` of `plugin`.
    pub fn latest(&self, plugin: &str, stream: &str) -> Option<Value> {
        self.lock()
            .streams
            .get(&format!("{plugin}/{stream}"))
            .cloned()
    }

    /// The series that have points, in name order.
    pub fn series_info(&self) -> Vec<SeriesInfo> {
        self.lock()
            .series
            .values()
            .map(|p| p.info.clone())
            .collect()
    }

    /// The points of series `name` from `since_ms` on.
    pub fn series(&self, name: &str, since_ms: u64) -> Option<Series> {
        let kept = self.lock();
        let plotted = kept.series.get(name)?;
        Some(Series {
            name: name.to_string(),
            unit: plotted.info.unit.clone(),
            points: plotted
                .points
                .iter()
                .filter(|(ts, _)| *ts >= since_ms)
                .copied()
                .collect(),
        })
    }

    fn keep_telemetry(kept: &mut Kept, plugin: &str, stream: &str, payload: &Value) {
        kept.streams
            .insert(format!("{plugin}/{stream}"), payload.clone());
        let ts = payload["ts"].as_u64().unwrap_or_default();
        for (p, prefix, metric, name, th, en, unit) in PLOTS {
            let Some(id) = stream.strip_prefix(prefix) else {
                continue;
            };
            let exact = !prefix.ends_with('-');
            if p != plugin || (exact && !id.is_empty()) || (!exact && id.is_empty()) {
                continue;
            }
            let Some(value) = payload["metrics"][metric]["value"].as_f64() else {
                continue;
            };
            let name = name.replace("{id}", id);
            let plotted = kept.series.entry(name.clone()).or_insert_with(|| Plotted {
                info: SeriesInfo {
                    name,
                    title_th: th.replace("{id}", id),
                    title_en: en.replace("{id}", id),
                    unit: unit.into(),
                },
                points: VecDeque::new(),
            });
            plotted.points.push_back((ts, value));
            while plotted
                .points
                .front()
                .is_some_and(|(t, _)| *t + SERIES_SPAN_MS < ts)
            {
                plotted.points.pop_front();
            }
        }
    }
}

impl RecordSink for RecentRecords {
    fn publish(&self, record: &UplinkRecord) {
        let segments = record.segments();
        let p = &record.payload;
        let mut kept = self.lock();
        match segments.as_slice() {
            ["tele", plugin, stream] => Self::keep_telemetry(&mut kept, plugin, stream, p),
            ["evt", ..] | ["alert", ..] => {
                let message = match &p["message"] {
                    Value::String(text) => text.clone(),
                    // Alerts carry their message in both languages.
                    other => other["en"].as_str().unwrap_or_default().to_string(),
                };
                kept.events.push_back(EventView {
                    ts_ms: p["ts"].as_u64().unwrap_or_default(),
                    topic: segments.join("/"),
                    state: p["state"].as_str().unwrap_or_default().to_string(),
                    severity: p["severity"]
                        .as_str()
                        .or_else(|| p["level"].as_str())
                        .unwrap_or_default()
                        .to_string(),
                    message,
                });
                if kept.events.len() > EVENTS_KEPT {
                    kept.events.pop_front();
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(topic: &str, payload: Value) -> UplinkRecord {
        UplinkRecord {
            topic: format!("sao/v1/site/pole-1/{topic}"),
            qos: 1,
            retain: false,
            payload,
        }
    }

    #[test]
    fn keeps_events_newest_first_latest_streams_and_a_day_of_series() {
        let recent = RecentRecords::default();
        for i in 0..60u64 {
            recent.publish(&record(
                "evt/sao/health",
                json!({"ts": i, "state": "raised", "severity": "warning", "message": format!("m{i}")}),
            ));
        }
        recent.publish(&record(
            "alert/sos",
            json!({"ts": 61, "state": "raised", "level": "emergency", "message": {"th": "ช่วย", "en": "Help"}}),
        ));
        let events = recent.events();
        assert_eq!(events.len(), EVENTS_KEPT);
        assert_eq!(events[0].message, "Help");
        assert_eq!(events[0].severity, "emergency");
        assert_eq!(events[1].topic, "evt/sao/health");
        assert_eq!(events[1].message, "m59");

        let lamp = |ts: u64, level: f64| {
            record(
                "tele/sao/lamp-main",
                json!({"ts": ts, "metrics": {"level": {"value": level, "unit": "%"}, "watts": {"value": level, "unit": "W"}}}),
            )
        };
        recent.publish(&lamp(1_000, 50.0));
        recent.publish(&lamp(1_000 + SERIES_SPAN_MS, 80.0));
        recent.publish(&lamp(2_000 + SERIES_SPAN_MS, 90.0));
        let level = recent.series("main.level", 0).unwrap();
        assert_eq!(
            level.points,
            [
                (1_000 + SERIES_SPAN_MS, 80.0),
                (2_000 + SERIES_SPAN_MS, 90.0)
            ],
            "a day back from the newest point"
        );
        assert_eq!(level.unit, "%");
        let names: Vec<_> = recent.series_info().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["main.level", "main.watts"]);
        assert_eq!(recent.series_info()[0].title_en, "Lamp main level");
        assert!(recent.series("aqi", 0).is_none(), "no AQI yet");
        assert_eq!(
            recent.latest("sao", "lamp-main").unwrap()["metrics"]["level"]["value"],
            90.0
        );
        // `tele/sao/health` feeds the box temperature, and only the exact stream.
        recent.publish(&record(
            "tele/sao/health-extra",
            json!({"ts": 5, "metrics": {"cpu-temperature": {"value": 1.0}}}),
        ));
        assert!(recent.series("cpu-temperature", 0).is_none());
    }
}
