//! The sensor board: polls every sensor, keeps the latest reading of each, and tracks
//! sensor health (faulted or silent sensors are reported, not hidden).

use std::collections::BTreeMap;

use serde::Serialize;

use sao_hardware::Sensor;

/// One reading, as delivered to plugins.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reading {
    /// Sensor name.
    pub sensor: String,
    /// Value.
    pub value: f64,
    /// Unit.
    pub unit: String,
    /// When it was taken (ms since the epoch).
    pub ts: u64,
}

/// A change in a sensor's health, to be reported upstream.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorHealthChange {
    /// Sensor name.
    pub sensor: String,
    /// `Some(reason)` when it became unhealthy, `None` when it recovered.
    pub problem: Option<String>,
}

struct Entry {
    sensor: Box<dyn Sensor>,
    latest: Option<Reading>,
    last_value_ms: Option<u64>,
    problem: Option<String>,
}

/// Polls and remembers the pole's sensors.
pub struct SensorBoard {
    entries: Vec<Entry>,
}

/// A sensor with no value for this long is reported silent.
const SILENT_AFTER_MS: u64 = 10 * 60 * 1000;

impl SensorBoard {
    /// Takes the sensors.
    pub fn new(sensors: Vec<Box<dyn Sensor>>) -> Self {
        Self {
            entries: sensors
                .into_iter()
                .map(|sensor| Entry {
                    sensor,
                    latest: None,
                    last_value_ms: None,
                    problem: None,
                })
                .collect(),
        }
    }

    /// Names of the sensors.
    pub fn names(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|e| e.sensor.name().to_string())
            .collect()
    }

    /// Latest reading of `name`.
    pub fn latest(&self, name: &str) -> Option<Reading> {
        self.entries
            .iter()
            .find(|e| e.sensor.name() == name)
            .and_then(|e| e.latest.clone())
    }

    /// Latest reading of every sensor that has one.
    pub fn all_latest(&self) -> BTreeMap<String, Reading> {
        self.entries
            .iter()
            .filter_map(|e| e.latest.clone().map(|r| (r.sensor.clone(), r)))
            .collect()
    }

    /// Every sensor's latest value and problem, for the health checks.
    pub fn states(&self) -> Vec<crate::health::SensorState> {
        self.entries
            .iter()
            .map(|e| crate::health::SensorState {
                name: e.sensor.name().to_string(),
                value: e.latest.as_ref().map(|r| r.value),
                unit: e.sensor.unit().to_string(),
                problem: e.problem.clone(),
            })
            .collect()
    }

    /// Reads every sensor once; returns new readings and health changes.
    pub fn poll(&mut self, now_ms: u64) -> (Vec<Reading>, Vec<SensorHealthChange>) {
        let mut readings = Vec::new();
        let mut changes = Vec::new();
        for entry in &mut self.entries {
            let problem = match entry.sensor.read() {
                Ok(Some(value)) if value.is_finite() => {
                    let reading = Reading {
                        sensor: entry.sensor.name().to_string(),
                        value,
                        unit: entry.sensor.unit().to_string(),
                        ts: now_ms,
                    };
                    entry.latest = Some(reading.clone());
                    entry.last_value_ms = Some(now_ms);
                    readings.push(reading);
                    None
                }
                Ok(Some(value)) => Some(format!("non-finite value {value}")),
                Ok(None) => {
                    let since = entry.last_value_ms.unwrap_or(0);
                    (entry.last_value_ms.is_some()
                        && now_ms.saturating_sub(since) > SILENT_AFTER_MS)
                        .then(|| format!("no value for {} s", (now_ms - since) / 1000))
                        .or_else(|| entry.problem.clone().filter(|p| p.starts_with("no value")))
                }
                Err(e) => Some(e.to_string()),
            };
            if problem.is_some() != entry.problem.is_some() {
                changes.push(SensorHealthChange {
                    sensor: entry.sensor.name().to_string(),
                    problem: problem.clone(),
                });
            }
            entry.problem = problem;
        }
        (readings, changes)
    }
}
