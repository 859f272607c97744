//! `/metrics`: the pole's counters and gauges in the OpenMetrics text format.
//!
//! Every scrape fills a fresh registry from the source's current numbers, so nothing is kept
//! between scrapes and a removed plugin or camera simply disappears.

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::{text, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::view::{HealthStatus, MetricsSnapshot, PoleSnapshot};

/// The Content-Type of the exposition.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PluginLabels {
    plugin: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CameraLabels {
    camera: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct LampLabels {
    lamp: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct SensorLabels {
    sensor: String,
    unit: String,
}

/// Encodes `metrics` and the gauges taken from `snapshot` (health, uplink, lamps, alarms,
/// sensors).
pub(crate) fn encode(
    metrics: &MetricsSnapshot,
    snapshot: &PoleSnapshot,
) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::default();
    let r = &mut registry;

    let plugin = |id: &str| PluginLabels {
        plugin: id.to_owned(),
    };
    let plugins = &metrics.plugins;
    counters(
        r,
        "sao_plugin_calls",
        "Plugin handler calls",
        plugins.iter().map(|p| (plugin(&p.id), p.calls)),
    );
    counters(
        r,
        "sao_plugin_errors",
        "Plugin handler calls that returned an error",
        plugins.iter().map(|p| (plugin(&p.id), p.errors)),
    );
    counters(
        r,
        "sao_plugin_crashes",
        "Plugin traps",
        plugins.iter().map(|p| (plugin(&p.id), p.crashes)),
    );
    counters(
        r,
        "sao_plugin_deadline_hits",
        "Plugin calls cut off at the CPU deadline",
        plugins.iter().map(|p| (plugin(&p.id), p.deadline_hits)),
    );
    counters(
        r,
        "sao_plugin_restarts",
        "Plugin restarts after a crash",
        plugins.iter().map(|p| (plugin(&p.id), p.restarts)),
    );
    int_gauges(
        r,
        "sao_plugin_memory_bytes",
        "Plugin linear memory in bytes",
        plugins.iter().map(|p| (plugin(&p.id), int(p.memory_bytes))),
    );
    int_gauges(
        r,
        "sao_plugin_running",
        "1 while the plugin runs, 0 otherwise",
        plugins
            .iter()
            .map(|p| (plugin(&p.id), i64::from(p.running))),
    );

    int_gauge(
        r,
        "sao_outbox_depth",
        "Records waiting in the outbox",
        int(metrics.outbox_depth),
    );
    let evicted = Counter::<u64>::default();
    evicted.inc_by(metrics.outbox_evicted);
    r.register(
        "sao_outbox_evicted",
        "Records evicted from the outbox to respect its disk cap",
        evicted,
    );

    let camera = |name: &str| CameraLabels {
        camera: name.to_owned(),
    };
    let cameras = &metrics.cameras;
    gauges(
        r,
        "sao_camera_fps",
        "Frames per second the camera's pipeline analyses",
        cameras.iter().map(|c| (camera(&c.name), c.fps)),
    );
    counters(
        r,
        "sao_camera_frames",
        "Frames analysed",
        cameras.iter().map(|c| (camera(&c.name), c.frames)),
    );
    counters(
        r,
        "sao_camera_inferences",
        "Detector runs",
        cameras.iter().map(|c| (camera(&c.name), c.inferences)),
    );
    counters(
        r,
        "sao_camera_inference_failures",
        "Detector runs that failed or timed out",
        cameras.iter().map(|c| (camera(&c.name), c.failures)),
    );
    gauges(
        r,
        "sao_inference_latency_ms",
        "Mean detector run time in milliseconds",
        cameras
            .iter()
            .map(|c| (camera(&c.name), c.inference_ms_mean)),
    );

    let health = match snapshot.health.status {
        HealthStatus::Green => 0,
        HealthStatus::Amber => 1,
        HealthStatus::Red => 2,
    };
    int_gauge(
        r,
        "sao_health_status",
        "Overall pole health: 0 green, 1 amber, 2 red",
        health,
    );
    int_gauge(
        r,
        "sao_uplink_connected",
        "1 while the broker connection is up, 0 otherwise",
        i64::from(snapshot.uplink.connected),
    );

    let lamp = |id: &str| LampLabels {
        lamp: id.to_owned(),
    };
    let lamps = &snapshot.lamps;
    gauges(
        r,
        "sao_lamp_level_percent",
        "Lamp dim level in percent",
        lamps.iter().map(|l| (lamp(&l.id), l.level_percent)),
    );
    gauges(
        r,
        "sao_lamp_power_watts",
        "Lamp power draw in watts",
        lamps.iter().map(|l| (lamp(&l.id), l.watts)),
    );
    let energy = Family::<LampLabels, Counter<f64, AtomicU64>>::default();
    for l in lamps {
        energy.get_or_create(&lamp(&l.id)).inc_by(l.total_kwh);
    }
    r.register(
        "sao_lamp_energy_kwh",
        "Lamp energy meter total in kilowatt-hours",
        energy,
    );

    int_gauge(
        r,
        "sao_alarms_active",
        "Alarms active now",
        int(snapshot.alarms.len() as u64),
    );
    gauges(
        r,
        "sao_sensor_value",
        "The latest reading of each sensor, in its UCUM unit",
        snapshot.readings.iter().map(|s| {
            (
                SensorLabels {
                    sensor: s.sensor.clone(),
                    unit: s.unit.clone(),
                },
                s.value,
            )
        }),
    );

    let mut out = String::new();
    text::encode(&mut out, &registry)?;
    Ok(out)
}

/// Registers a labelled counter family (exposed with `_total`).
fn counters<L>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    values: impl Iterator<Item = (L, u64)>,
) where
    L: EncodeLabelSet + Clone + Hash + Eq + Debug + Send + Sync + 'static,
{
    let family = Family::<L, Counter>::default();
    for (labels, value) in values {
        family.get_or_create(&labels).inc_by(value);
    }
    registry.register(name, help, family);
}

/// Registers a labelled gauge family of measurements.
fn gauges<L>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    values: impl Iterator<Item = (L, f64)>,
) where
    L: EncodeLabelSet + Clone + Hash + Eq + Debug + Send + Sync + 'static,
{
    let family = Family::<L, Gauge<f64, AtomicU64>>::default();
    for (labels, value) in values {
        family.get_or_create(&labels).set(value);
    }
    registry.register(name, help, family);
}

/// Registers a labelled gauge family of whole numbers.
fn int_gauges<L>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    values: impl Iterator<Item = (L, i64)>,
) where
    L: EncodeLabelSet + Clone + Hash + Eq + Debug + Send + Sync + 'static,
{
    let family = Family::<L, Gauge>::default();
    for (labels, value) in values {
        family.get_or_create(&labels).set(value);
    }
    registry.register(name, help, family);
}

/// Registers an unlabelled gauge of a whole number.
fn int_gauge(registry: &mut Registry, name: &str, help: &str, value: i64) {
    let gauge = Gauge::<i64>::default();
    gauge.set(value);
    registry.register(name, help, gauge);
}

/// A count as a gauge value, saturating.
fn int(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}
