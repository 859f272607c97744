//! [`Monitor`]: readings in; hourly AQI, trend alerts, daily time-in-band and the beacon
//! out.
//!
//! * Every reading of `pm25`, `pm10`, `o3`, `co`, `no2` or `so2` goes into that
//!   pollutant's [`HourlyAverager`]. A reading in an unexpected unit is refused (once
//!   logged per sensor), never averaged with the wrong scale.
//! * At each clock hour the monitor computes every pollutant's mean over its averaging
//!   window ([`Pollutant::averaging_hours`]) and the overall AQI, and publishes it on
//!   stream `aqi` with the band, its colour and the advice texts in `details`. An AQI is
//!   *valid* once a window is complete enough (`min-completeness`); before that, after a
//!   restart or a long outage, a *provisional* AQI over the hours there are is
//!   published, flagged `provisional`.
//! * Valid hourly values feed the trend alert (events `aqi-forecast` and
//!   `aqi-exceeded`); every published value feeds the time-in-band KPI, whose completed
//!   local days are published on stream `kpi-daily`.
//! * A beacon rule for the current band switches its output on (through `alarm`).
//!
//! The whole state is saved in the plugin's `kv` store (key `state`) every tick in which
//! it changed, so a restarted plugin or pole carries on where it stopped.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::aqi::{self, Aqi, Band, Pollutant};
use crate::averaging::{Added, HourlyAverager, HOUR_MS};
use crate::config::Config;
use crate::host::{EventState, Host, LogLevel, Severity};
use crate::kpi::{DayReport, KpiTracker};
use crate::trend::{self, ForecastEnd, Transition, TrendAlert};

/// Key of the saved state in the plugin's store.
const STATE_KEY: &str = "state";
/// The AQI up to which air counts as good for the KPI (the top of the PCD's "good" and
/// of the EPA's "Good").
const GOOD_AQI_MAX: u32 = 50;

/// Everything that must survive a restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    /// Hourly averages per pollutant.
    averages: BTreeMap<Pollutant, HourlyAverager>,
    /// Start of the clock hour the last AQI was computed at, Unix ms.
    last_hour_ms: Option<i64>,
    /// The latest valid hourly AQI values, oldest first, for the trend.
    history: VecDeque<(i64, f64)>,
    /// The trend alert.
    alert: TrendAlert,
    /// The time-in-band KPI.
    kpi: KpiTracker,
    /// The beacon alarm switched on: band number and alarm id.
    beacon: Option<(usize, u64)>,
}

impl State {
    fn new(config: &Config, utc_offset_minutes: i32) -> Self {
        State {
            averages: BTreeMap::new(),
            last_hour_ms: None,
            history: VecDeque::new(),
            alert: TrendAlert::new(config.trend()),
            kpi: KpiTracker::new(config.kpi(utc_offset_minutes)),
            beacon: None,
        }
    }
}

/// One hour's AQI and the means it came from.
struct HourlyAqi {
    aqi: Aqi,
    provisional: bool,
    means: Vec<(Pollutant, f64, u32)>,
}

/// The air-quality logic.
pub struct Monitor {
    config: Config,
    state: State,
    utc_offset_minutes: i32,
    dirty: bool,
    /// Sensors whose unit was refused (logged once each).
    refused_units: BTreeSet<String>,
}

impl Monitor {
    /// A monitor resuming the saved state, if any (a state that cannot be read is
    /// logged and replaced).
    pub fn new(config: Config, host: &mut impl Host) -> Self {
        let utc_offset_minutes = host.utc_offset_minutes();
        let saved = match host.kv_get(STATE_KEY) {
            Ok(Some(bytes)) => serde_json::from_slice::<State>(&bytes)
                .map_err(|e| host.log(LogLevel::Warn, &format!("saved state unreadable: {e}")))
                .ok(),
            Ok(None) => None,
            Err(e) => {
                host.log(LogLevel::Warn, &format!("saved state unavailable: {e}"));
                None
            }
        };
        let mut monitor = Monitor {
            state: saved.unwrap_or_else(|| State::new(&config, utc_offset_minutes)),
            config: Config::default(),
            utc_offset_minutes,
            dirty: false,
            refused_units: BTreeSet::new(),
        };
        monitor.set_config(config, host);
        monitor
    }

    /// Applies a new config. A changed alert setting clears the active alerts (they are
    /// re-evaluated at the next hour); a changed standard restarts the KPI day and the
    /// trend, whose numbers are on the old scale; a changed hour coverage applies to the
    /// hours already averaged.
    pub fn set_config(&mut self, config: Config, host: &mut impl Host) {
        let kpi = config.kpi(self.utc_offset_minutes);
        if self.state.alert.config() != &config.trend() {
            let now = self.state.last_hour_ms.unwrap_or_default();
            if self.state.alert.forecast_since_ms().is_some() {
                self.report(
                    host,
                    Transition::ForecastCleared {
                        at_ms: now,
                        reason: ForecastEnd::Receded,
                    },
                );
            }
            if self.state.alert.exceeded_since_ms().is_some() {
                self.report(
                    host,
                    Transition::ExceededCleared {
                        at_ms: now,
                        current: f64::NAN,
                    },
                );
            }
            self.state.alert = TrendAlert::new(config.trend());
        }
        for averager in self.state.averages.values_mut() {
            averager.set_min_hour_coverage(config.min_hour_coverage);
        }
        if self.state.kpi.config() != &kpi {
            self.state.kpi = KpiTracker::new(kpi);
            self.state.history.clear();
        }
        self.config = config;
        self.dirty = true;
    }

    /// Takes one sensor reading.
    pub fn on_reading(
        &mut self,
        sensor: &str,
        value: f64,
        unit: &str,
        ts: u64,
        host: &mut impl Host,
    ) -> Result<(), String> {
        let Some(pollutant) = pollutant(sensor) else {
            return Ok(());
        };
        if !unit_matches(pollutant, unit) {
            if self.refused_units.insert(sensor.to_string()) {
                host.log(
                    LogLevel::Warn,
                    &format!(
                        "sensor {sensor} reports in {unit:?}, expected {}; its readings are ignored",
                        telemetry_unit(pollutant)
                    ),
                );
            }
            return Ok(());
        }
        let retain = pollutant.averaging_hours() + 1;
        let coverage = self.config.min_hour_coverage;
        let averager = self
            .state
            .averages
            .entry(pollutant)
            .or_insert_with(|| HourlyAverager::new(retain, coverage));
        if averager.add(ts as i64, value) == Added::Accepted {
            self.dirty = true;
        }
        Ok(())
    }

    /// Advances to `now`: at a new clock hour, computes and publishes the AQI; saves the
    /// state if it changed.
    pub fn tick(&mut self, now: u64, host: &mut impl Host) -> Result<(), String> {
        let now = now as i64;
        let hour = now.div_euclid(HOUR_MS) * HOUR_MS;
        match self.state.last_hour_ms {
            Some(last) if last >= hour => {}
            Some(_) => {
                self.state.last_hour_ms = Some(hour);
                self.hourly(hour, host);
            }
            None => {
                // The first hour is partial: the first AQI comes at the next hour.
                self.state.last_hour_ms = Some(hour);
                self.dirty = true;
            }
        }
        let reports = self.state.kpi.advance(now);
        self.publish_days(&reports, host);
        self.dirty |= !reports.is_empty();
        self.save(host)
    }

    /// The hourly update at the start of clock hour `hour`.
    fn hourly(&mut self, hour: i64, host: &mut impl Host) {
        self.dirty = true;
        let Some(current) = self.compute(hour) else {
            host.log(LogLevel::Debug, "no complete hour of readings: no AQI");
            return;
        };
        self.publish_aqi(hour, &current, host);
        let value = current.aqi.value;
        if !current.provisional {
            let history = &mut self.state.history;
            history.push_back((hour, f64::from(value)));
            while history.len() > self.config.alert.trend_hours as usize {
                history.pop_front();
            }
            let projection = trend::project(
                history.make_contiguous(),
                self.state.alert.config().horizon_ms,
            );
            for transition in self.state.alert.update(hour, f64::from(value), projection) {
                self.report(host, transition);
            }
        }
        let reports = self.state.kpi.record(hour, value);
        self.publish_days(&reports, host);
        self.drive_beacon(current.aqi.band, value, host);
    }

    /// The AQI at the start of `hour`: valid means where the windows are complete enough,
    /// else provisional means over the complete hours there are.
    fn compute(&self, hour: i64) -> Option<HourlyAqi> {
        let means = |min_fraction: f64| -> Vec<(Pollutant, f64, u32)> {
            self.state
                .averages
                .iter()
                .filter_map(|(&p, averager)| {
                    let mean = averager.mean(hour, p.averaging_hours(), min_fraction)?;
                    Some((p, mean, aqi::sub_index(self.config.standard, p, mean)?))
                })
                .collect()
        };
        let overall = |means: &[(Pollutant, f64, u32)]| {
            let concentrations: Vec<(Pollutant, f64)> =
                means.iter().map(|&(p, mean, _)| (p, mean)).collect();
            aqi::overall(self.config.standard, &concentrations)
        };
        let valid = means(self.config.min_completeness);
        if let Some(aqi) = overall(&valid) {
            return Some(HourlyAqi {
                aqi,
                provisional: false,
                means: valid,
            });
        }
        let provisional = means(0.0);
        overall(&provisional).map(|aqi| HourlyAqi {
            aqi,
            provisional: true,
            means: provisional,
        })
    }

    fn publish_aqi(&self, hour: i64, current: &HourlyAqi, host: &mut impl Host) {
        let band = current.aqi.band;
        let band_number = (band.index + 1) as f64;
        let mut metrics: Vec<(String, f64, &str)> = vec![
            ("aqi".into(), f64::from(current.aqi.value), "1"),
            ("band".into(), band_number, "1"),
            (
                "provisional".into(),
                f64::from(u8::from(current.provisional)),
                "1",
            ),
        ];
        for &(p, mean, index) in &current.means {
            metrics.push((name(p).into(), round(mean, 2), telemetry_unit(p)));
            metrics.push((format!("{}-index", name(p)), f64::from(index), "1"));
        }
        let metrics: Vec<(&str, f64, &str)> = metrics
            .iter()
            .map(|(n, v, u)| (n.as_str(), *v, *u))
            .collect();
        let details = json!({
            "standard": self.config.standard,
            "hour": hour,
            "provisional": current.provisional,
            "dominant": current.aqi.dominant,
            "averaging-hours": current
                .means
                .iter()
                .map(|&(p, _, _)| (name(p).to_string(), json!(p.averaging_hours())))
                .collect::<serde_json::Map<String, Value>>(),
            "band": band_json(band),
            "advice": {
                "general": { "en": band.general_en, "th": band.general_th },
                "sensitive": { "en": band.sensitive_en, "th": band.sensitive_th },
            },
        });
        if let Err(e) = host.publish_with_details("aqi", &metrics, &details.to_string()) {
            host.log(LogLevel::Warn, &format!("AQI not published: {e}"));
        }
    }

    fn publish_days(&self, reports: &[DayReport], host: &mut impl Host) {
        let bands = self.state.kpi.config().standard.bands();
        let good = bands
            .iter()
            .rposition(|b| b.aqi_max.is_some_and(|max| max <= GOOD_AQI_MAX))
            .unwrap_or(0);
        for report in reports {
            let names: Vec<String> = (1..=bands.len())
                .map(|n| format!("band-{n}-hours"))
                .collect();
            let mut metrics: Vec<(&str, f64, &str)> = names
                .iter()
                .zip(&report.hours_per_band)
                .map(|(n, &h)| (n.as_str(), round(h, 3), "h"))
                .collect();
            metrics.push(("covered-hours", round(report.hours_total, 3), "h"));
            metrics.push(("unknown-hours", round(report.hours_unknown, 3), "h"));
            if let Some(share) = report.share_up_to(good) {
                metrics.push(("good-share", round(share * 100.0, 2), "%"));
            }
            let details = json!({
                "date": report.date,
                "standard": self.state.kpi.config().standard,
                "good-up-to-aqi": GOOD_AQI_MAX,
                "bands": bands
                    .iter()
                    .zip(&report.hours_per_band)
                    .map(|(b, h)| json!({ "band": band_json(b), "hours": round(*h, 3) }))
                    .collect::<Vec<_>>(),
            });
            if let Err(e) = host.publish_with_details("kpi-daily", &metrics, &details.to_string()) {
                host.log(LogLevel::Warn, &format!("daily KPI not published: {e}"));
            }
        }
    }

    /// Reports an alert transition as an event.
    fn report(&self, host: &mut impl Host, transition: Transition) {
        // The alert's own settings: when a config change clears it, they are the old ones.
        let settings = self.state.alert.config();
        let level = settings.level;
        let horizon = settings.horizon_ms as f64 / HOUR_MS as f64;
        let (kind, state, severity, message, details) = match transition {
            Transition::ForecastRaised {
                current,
                projected,
                slope_per_hour,
                ..
            } => (
                "aqi-forecast",
                EventState::Raised,
                Severity::Warning,
                format!(
                    "AQI {current:.0} is rising {slope_per_hour:.1} per hour and is projected to reach {projected:.0} within {horizon} h (level {level})"
                ),
                json!({
                    "aqi": current, "projected": round(projected, 1),
                    "slope-per-hour": round(slope_per_hour, 2), "level": level,
                    "horizon-hours": horizon,
                    "message-th": format!("ดัชนีคุณภาพอากาศ {current:.0} มีแนวโน้มสูงขึ้น คาดว่าจะถึง {projected:.0} ภายใน {horizon} ชั่วโมง (เกณฑ์ {level})"),
                }),
            ),
            Transition::ForecastCleared { reason, .. } => (
                "aqi-forecast",
                EventState::Cleared,
                Severity::Info,
                match reason {
                    ForecastEnd::Receded => format!("AQI no longer projected to reach {level}"),
                    ForecastEnd::Exceeded => format!("AQI reached {level}"),
                },
                json!({ "reason": reason, "level": level }),
            ),
            Transition::ExceededRaised { current, .. } => (
                "aqi-exceeded",
                EventState::Raised,
                Severity::Warning,
                format!("AQI {current:.0} is at or above {level}"),
                json!({
                    "aqi": current, "level": level,
                    "message-th": format!("ดัชนีคุณภาพอากาศ {current:.0} ถึงหรือเกินเกณฑ์ {level}"),
                }),
            ),
            Transition::ExceededCleared { current, .. } => (
                "aqi-exceeded",
                EventState::Cleared,
                Severity::Info,
                format!("AQI back below {}", level - settings.hysteresis),
                json!({ "aqi": current.is_finite().then_some(current), "level": level }),
            ),
        };
        if let Err(e) = host.event(kind, state, severity, &message, &details.to_string()) {
            host.log(LogLevel::Warn, &format!("{kind} event not published: {e}"));
        }
    }

    /// Switches the beacon output of the current band on and the previous one off.
    fn drive_beacon(&mut self, band: &Band, value: u32, host: &mut impl Host) {
        let number = band.index + 1;
        let wanted = self.config.beacon_output(number).map(str::to_string);
        if self.state.beacon.is_some_and(|(on, _)| on == number) && wanted.is_some() {
            return;
        }
        if let Some((_, id)) = self.state.beacon.take() {
            if let Err(e) = host.clear_output(id) {
                host.log(LogLevel::Warn, &format!("beacon off: {e}"));
            }
        }
        if let Some(output) = wanted {
            let message = format!("AQI {value}: {} / {}", band.name_en, band.name_th);
            match host.raise_output(&[output], &message) {
                Ok(id) => self.state.beacon = Some((number, id)),
                Err(e) => host.log(LogLevel::Warn, &format!("beacon on: {e}")),
            }
        }
    }

    fn save(&mut self, host: &mut impl Host) -> Result<(), String> {
        if !self.dirty {
            return Ok(());
        }
        let bytes = serde_json::to_vec(&self.state).map_err(|e| e.to_string())?;
        host.kv_set(STATE_KEY, &bytes)?;
        self.dirty = false;
        Ok(())
    }
}

/// The pollutant a sensor measures, by the pole's sensor names.
fn pollutant(sensor: &str) -> Option<Pollutant> {
    Pollutant::ALL.into_iter().find(|&p| name(p) == sensor)
}

/// The sensor, metric and JSON name of a pollutant.
fn name(p: Pollutant) -> &'static str {
    match p {
        Pollutant::Pm25 => "pm25",
        Pollutant::Pm10 => "pm10",
        Pollutant::O3 => "o3",
        Pollutant::Co => "co",
        Pollutant::No2 => "no2",
        Pollutant::So2 => "so2",
    }
}

/// The pollutant's unit as the pole's sensors and telemetry spell it.
fn telemetry_unit(p: Pollutant) -> &'static str {
    match p {
        Pollutant::Pm25 | Pollutant::Pm10 => "ug/m3",
        Pollutant::O3 | Pollutant::No2 | Pollutant::So2 => "ppb",
        Pollutant::Co => "ppm",
    }
}

fn unit_matches(p: Pollutant, unit: &str) -> bool {
    unit == telemetry_unit(p) || unit == p.unit()
}

fn band_json(band: &Band) -> Value {
    json!({
        "number": band.index + 1,
        "aqi-min": band.aqi_min,
        "aqi-max": band.aqi_max,
        "name": { "en": band.name_en, "th": band.name_th },
        "colour": { "en": band.colour_en, "th": band.colour_th, "hex": band.colour_hex },
    })
}

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10_f64.powi(decimals);
    (value * scale).round() / scale
}
