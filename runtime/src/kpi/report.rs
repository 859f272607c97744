//! A period's KPIs: the ledger's hours summed and grouped by smart-city dimension, in the
//! shape a city fills its smart-city evaluation report from (energy, environment,
//! mobility, living, infrastructure), as JSON or as CSV rows.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use super::{Hour, HOUR_MS};
use crate::uplink::Identity;

/// A period's KPIs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Report {
    /// Site id.
    pub site: String,
    /// Pole id.
    pub pole: String,
    /// Start of the period, RFC 3339 in the pole's offset.
    pub from: String,
    /// End of the period (excluded).
    pub to: String,
    /// Hours in the period.
    pub period_hours: f64,
    /// Hours the pole ran.
    pub observed_hours: f64,
    /// The indicators, by dimension.
    pub dimensions: Dimensions,
}

/// The indicators, by smart-city dimension.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Dimensions {
    /// Street lighting.
    pub energy: EnergyKpi,
    /// Air quality.
    pub environment: EnvironmentKpi,
    /// Traffic.
    pub mobility: MobilityKpi,
    /// Public safety.
    pub living: LivingKpi,
    /// The pole itself.
    pub infrastructure: InfrastructureKpi,
}

/// Street lighting.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct EnergyKpi {
    /// Energy the lamps' meters counted, kWh.
    pub metered_kwh: f64,
    /// Energy the dimming plugin reported for the nights that ended in the period, kWh.
    pub reported_kwh: f64,
    /// What the old lamps would have used those nights, kWh.
    pub baseline_kwh: f64,
    /// `baseline − reported`, kWh.
    pub saved_kwh: f64,
    /// The saving against the baseline, percent (None without a baseline).
    pub saved_percent: Option<f64>,
}

/// Air quality.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct EnvironmentKpi {
    /// Hours of valid AQI in each band.
    pub aqi_hours: BTreeMap<String, f64>,
    /// Hours whose AQI was still provisional.
    pub aqi_provisional_hours: f64,
    /// The highest valid AQI.
    pub aqi_max: Option<f64>,
}

/// Traffic.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct MobilityKpi {
    /// Road users counted, by class.
    pub road_users: BTreeMap<String, u64>,
    /// Incidents reported, by kind.
    pub incidents: BTreeMap<String, u64>,
}

/// Public safety.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct LivingKpi {
    /// Alarms the pole sounded, by kind (`elephant`, `sos`, …).
    pub alarms: BTreeMap<String, u64>,
}

/// The pole itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct InfrastructureKpi {
    /// Hours the pole ran, percent of the period.
    pub pole_uptime_percent: f64,
    /// Per device, the share of the pole's running time it was not down, percent.
    pub device_uptime_percent: BTreeMap<String, f64>,
    /// Events raised or reported, by `{plugin}/{kind}`.
    pub events: BTreeMap<String, u64>,
}

/// Adds `from` into `into`, key by key.
fn add<V: Copy + std::ops::AddAssign + Default>(
    into: &mut BTreeMap<String, V>,
    from: &BTreeMap<String, V>,
) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += *v;
    }
}

impl Report {
    /// Sums `hours` (those of `from_ms..to_ms`) for the pole `identity`.
    pub fn build(identity: &Identity, hours: &[Hour], from_ms: u64, to_ms: u64) -> Self {
        let offset = FixedOffset::east_opt(identity.utc_offset_minutes * 60)
            .unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"));
        let time = |ms: u64| {
            DateTime::from_timestamp_millis(ms as i64)
                .map(|t| t.with_timezone(&offset).to_rfc3339())
                .unwrap_or_default()
        };
        let mut observed_ms = 0u64;
        let (mut metered, mut reported, mut baseline) = (0.0, 0.0, 0.0);
        let mut aqi_hours = BTreeMap::new();
        let mut provisional = 0.0;
        let mut aqi_max: Option<f64> = None;
        let mut road_users = BTreeMap::new();
        let mut alarms = BTreeMap::new();
        let mut events: BTreeMap<String, u64> = BTreeMap::new();
        let mut down: BTreeMap<String, u64> = BTreeMap::new();
        for h in hours {
            observed_ms += h.observed_ms;
            metered += h.lamp_kwh;
            reported += h.reported_kwh;
            baseline += h.baseline_kwh;
            add(&mut aqi_hours, &h.aqi_hours);
            provisional += h.aqi_provisional_hours;
            aqi_max = h.aqi_max.into_iter().chain(aqi_max).reduce(f64::max);
            add(&mut road_users, &h.road_users);
            add(&mut alarms, &h.alarms);
            add(&mut events, &h.events);
            add(&mut down, &h.down_ms);
        }
        // Incidents are the accident plugin's events, counted by kind.
        let incidents = events
            .iter()
            .filter_map(|(k, n)| Some((k.strip_prefix("accident/")?.to_string(), *n)))
            .collect();
        let period_ms = to_ms.saturating_sub(from_ms);
        let percent = |part: f64, whole: f64| {
            if whole > 0.0 {
                100.0 * part / whole
            } else {
                0.0
            }
        };
        Self {
            site: identity.site.clone(),
            pole: identity.id.clone(),
            from: time(from_ms),
            to: time(to_ms),
            period_hours: period_ms as f64 / HOUR_MS as f64,
            observed_hours: observed_ms as f64 / HOUR_MS as f64,
            dimensions: Dimensions {
                energy: EnergyKpi {
                    metered_kwh: metered,
                    reported_kwh: reported,
                    baseline_kwh: baseline,
                    saved_kwh: baseline - reported,
                    saved_percent: (baseline > 0.0).then(|| percent(baseline - reported, baseline)),
                },
                environment: EnvironmentKpi {
                    aqi_hours,
                    aqi_provisional_hours: provisional,
                    aqi_max,
                },
                mobility: MobilityKpi {
                    road_users,
                    incidents,
                },
                living: LivingKpi { alarms },
                infrastructure: InfrastructureKpi {
                    pole_uptime_percent: percent(observed_ms as f64, period_ms as f64),
                    device_uptime_percent: down
                        .into_iter()
                        .map(|(device, ms)| {
                            let up = observed_ms.saturating_sub(ms) as f64;
                            (device, percent(up, observed_ms as f64))
                        })
                        .collect(),
                    events,
                },
            },
        }
    }

    /// The report as CSV: `dimension,indicator,item,value,unit`, one indicator per row.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("dimension,indicator,item,value,unit\n");
        let mut row = |dimension: &str, indicator: &str, item: &str, value: f64, unit: &str| {
            let _ = writeln!(out, "{dimension},{indicator},{item},{value},{unit}");
        };
        row("pole", "period", "", self.period_hours, "h");
        row("pole", "observed", "", self.observed_hours, "h");
        let d = &self.dimensions;
        row("energy", "metered", "", d.energy.metered_kwh, "kWh");
        row("energy", "reported", "", d.energy.reported_kwh, "kWh");
        row("energy", "baseline", "", d.energy.baseline_kwh, "kWh");
        row("energy", "saved", "", d.energy.saved_kwh, "kWh");
        if let Some(p) = d.energy.saved_percent {
            row("energy", "saved", "", p, "%");
        }
        for (band, hours) in &d.environment.aqi_hours {
            row("environment", "aqi-hours", band, *hours, "h");
        }
        row(
            "environment",
            "aqi-hours",
            "provisional",
            d.environment.aqi_provisional_hours,
            "h",
        );
        if let Some(max) = d.environment.aqi_max {
            row("environment", "aqi-max", "", max, "1");
        }
        for (class, n) in &d.mobility.road_users {
            row("mobility", "road-users", class, *n as f64, "1");
        }
        for (kind, n) in &d.mobility.incidents {
            row("mobility", "incidents", kind, *n as f64, "1");
        }
        for (kind, n) in &d.living.alarms {
            row("living", "alarms", kind, *n as f64, "1");
        }
        row(
            "infrastructure",
            "pole-uptime",
            "",
            d.infrastructure.pole_uptime_percent,
            "%",
        );
        for (device, p) in &d.infrastructure.device_uptime_percent {
            row("infrastructure", "device-uptime", device, *p, "%");
        }
        for (kind, n) in &d.infrastructure.events {
            row("infrastructure", "events", kind, *n as f64, "1");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        toml::from_str(
            "site = \"ccs\"\nid = \"p1\"\nlatitude = 13.69\nlongitude = 101.07\nutc-offset-minutes = 420",
        )
        .unwrap()
    }

    #[test]
    fn sums_by_dimension_with_uptime_and_csv() {
        let hour = |start_ms: u64, down: u64| Hour {
            start_ms,
            observed_ms: HOUR_MS,
            lamp_kwh: 0.05,
            reported_kwh: 0.5,
            baseline_kwh: 1.0,
            aqi_hours: BTreeMap::from([("good".into(), 1.0)]),
            aqi_max: Some(40.0 + start_ms as f64 / HOUR_MS as f64),
            road_users: BTreeMap::from([("car".into(), 3)]),
            alarms: BTreeMap::from([("sos".into(), 1)]),
            events: BTreeMap::from([("accident/collision".into(), 1), ("sao/health".into(), 2)]),
            down_ms: BTreeMap::from([("lamp:main".into(), down), ("sensor:lux".into(), 0)]),
            ..Hour::default()
        };
        let hours = [
            hour(0, HOUR_MS),
            hour(HOUR_MS, 0),
            hour(2 * HOUR_MS, 0),
            hour(3 * HOUR_MS, 0),
        ];
        let report = Report::build(&identity(), &hours, 0, 8 * HOUR_MS);
        let d = &report.dimensions;
        assert_eq!(report.period_hours, 8.0);
        assert_eq!(report.observed_hours, 4.0);
        assert!((d.energy.metered_kwh - 0.2).abs() < 1e-12);
        assert_eq!(
            (
                d.energy.reported_kwh,
                d.energy.baseline_kwh,
                d.energy.saved_kwh
            ),
            (2.0, 4.0, 2.0)
        );
        assert_eq!(d.energy.saved_percent, Some(50.0));
        assert_eq!(d.environment.aqi_hours["good"], 4.0);
        assert_eq!(d.environment.aqi_max, Some(43.0));
        assert_eq!(d.mobility.road_users["car"], 12);
        assert_eq!(d.mobility.incidents["collision"], 4);
        assert_eq!(d.living.alarms["sos"], 4);
        assert_eq!(d.infrastructure.pole_uptime_percent, 50.0);
        assert_eq!(d.infrastructure.device_uptime_percent["lamp:main"], 75.0);
        assert_eq!(d.infrastructure.device_uptime_percent["sensor:lux"], 100.0);
        assert_eq!(report.from, "1970-01-01T07:00:00+07:00");
        let csv = report.to_csv();
        assert!(csv.starts_with("dimension,indicator,item,value,unit\n"));
        assert!(csv.contains("energy,saved,,50,%\n"), "{csv}");
        assert!(csv.contains("infrastructure,device-uptime,lamp:main,75,%\n"));
        assert!(csv.contains("living,alarms,sos,4,1\n"));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["dimensions"]["environment"]["aqi-hours"]["good"], 4.0);
    }
}
