//! `sao sim`: runs the real runtime on simulated hardware and a virtual clock, driven by a
//! scenario file, writing every upstream record as JSON lines. It is the demo, the
//! end-to-end test harness and the vendors' local test bench.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use chrono::{DateTime, FixedOffset};
use serde::Deserialize;

use sao_hardware::sim::{build_sim_pole, FaultKind, FaultSpec, SeriesSpec, SimConfig};
use sao_hardware::{SimClock, TimeSource};

use crate::config::{Hardware, PoleConfig};
use crate::engine::EngineOptions;
use crate::runtime::Runtime;
use crate::uplink::{JsonLinesSink, RecordSink, UplinkRecord};
use crate::web::PageServer;

/// How long a publishing simulation waits at the end for its records to reach the broker.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A scenario file: a pole config plus a `[scenario]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ScenarioFile {
    /// The scenario's timeline.
    pub scenario: Scenario,
    /// The pole (identity, lighting, plugins, simulated hardware).
    #[serde(flatten)]
    pub pole: PoleConfig,
}

/// The timeline of a simulation.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Scenario {
    /// Start, RFC 3339 with offset, e.g. `2026-11-21T12:00:00+07:00`.
    pub start: String,
    /// Length of the simulation, in hours.
    pub duration_hours: f64,
    /// Virtual time per step, in seconds (sensor poll period).
    #[serde(default = "Scenario::default_step")]
    pub step_seconds: u64,
    /// PIR motion events (RFC 3339).
    #[serde(default)]
    pub motion: Vec<String>,
    /// Presses of the SOS button (RFC 3339).
    #[serde(default)]
    pub sos: Vec<String>,
    /// Presses of the alarm-acknowledge button (RFC 3339).
    #[serde(default)]
    pub button: Vec<String>,
    /// Device faults.
    #[serde(default)]
    pub faults: Vec<ScenarioFault>,
    /// Sensor series replayed from CSV files.
    #[serde(default)]
    pub csv: Vec<CsvReplay>,
    /// Config changes pushed to plugins during the run.
    #[serde(default)]
    pub config: Vec<ConfigChange>,
}

impl Scenario {
    fn default_step() -> u64 {
        10
    }
}

/// A device fault window.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ScenarioFault {
    /// Device name (lamp id, sensor or output name).
    pub device: String,
    /// Start (RFC 3339).
    pub from: String,
    /// End (RFC 3339); none means until the end.
    pub until: Option<String>,
    /// `fail`, `silent`, `offset` (a sensor reads `offset` high) or `dark` (a lamp draws
    /// no power).
    pub kind: FaultKind,
    /// What an `offset` fault adds to the sensor's value.
    #[serde(default)]
    pub offset: f64,
}

/// A sensor replayed from a CSV file, shifted to start with the scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CsvReplay {
    /// Sensor name. On a pole with a simulated particulate sensor
    /// (`[hardware.particulate]`), a replay named `pm25` or `pm10` feeds that sensor
    /// instead of becoming a sensor of its own, so the values reach plugins through the
    /// real wire-protocol frames and parser.
    pub sensor: String,
    /// Unit.
    pub unit: String,
    /// CSV file (relative to the scenario file).
    pub path: PathBuf,
    /// Timestamp column name.
    pub time_column: String,
    /// Value column name.
    pub value_column: String,
    /// Field delimiter.
    #[serde(default = "CsvReplay::default_delimiter")]
    pub delimiter: char,
}

impl CsvReplay {
    fn default_delimiter() -> char {
        ','
    }
}

/// A config document pushed to a plugin at a given time.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ConfigChange {
    /// When (RFC 3339).
    pub at: String,
    /// Plugin id.
    pub plugin: String,
    /// The new config.
    pub config: serde_json::Value,
}

/// Options of a simulation run.
#[derive(Debug, Clone, Default)]
pub struct SimOptions {
    /// Replace the scenario's data directory (to keep state between runs).
    pub data_dir: Option<PathBuf>,
    /// Virtual seconds per real second; `None` runs as fast as possible.
    pub speed: Option<f64>,
    /// Print a human-readable progress line every this many virtual minutes.
    pub progress_minutes: Option<u64>,
    /// Publish over MQTT too (otherwise the JSON lines are the only destination).
    pub publish: bool,
    /// Serve the technician page on this address while the scenario runs.
    pub web: Option<String>,
    /// Keep serving the page this long after the scenario ends, in seconds.
    pub web_linger_s: u64,
    /// Engine options.
    pub engine: EngineOptions,
}

/// What a run produced, for the caller's summary.
#[derive(Debug, Clone, Default)]
pub struct SimSummary {
    /// Records written.
    pub records: u64,
    /// Steps simulated.
    pub steps: u64,
    /// Final status of every plugin.
    pub plugins: serde_json::Value,
    /// Compiled-cache hits and compiles.
    pub cache: (u64, u64),
}

fn parse_time(s: &str) -> anyhow::Result<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s)
        .with_context(|| format!("`{s}` is not an RFC 3339 time such as 2026-11-21T18:00:00+07:00"))
}

fn ms(s: &str) -> anyhow::Result<u64> {
    let t = parse_time(s)?.timestamp_millis();
    u64::try_from(t).with_context(|| format!("`{s}` is before 1970"))
}

impl ScenarioFile {
    /// Reads a scenario, resolving relative paths against its directory.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read scenario {}", path.display()))?;
        let mut file: Self = toml::from_str(&text)
            .with_context(|| format!("scenario {} is invalid", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        file.pole.resolve_paths(base);
        file.pole
            .validate()
            .map_err(|e| anyhow::anyhow!("scenario {} is invalid: {e}", path.display()))?;
        for csv in &mut file.scenario.csv {
            if csv.path.is_relative() {
                csv.path = base.join(&csv.path);
            }
        }
        Ok(file)
    }

    /// The simulator config with the scenario's timeline (motion, faults, CSV) applied.
    fn sim_config(&self, start_ms: u64) -> anyhow::Result<SimConfig> {
        // Without the `rpi` feature the simulator is the only backend.
        #[allow(clippy::infallible_destructuring_match)]
        let sim = match &self.pole.hardware {
            Hardware::Sim(sim) => sim.as_ref(),
            #[cfg(feature = "rpi")]
            Hardware::Rpi(_) => bail!("`sao sim` needs `[hardware] backend = \"sim\"`"),
        };
        let mut sim = sim.clone();
        sim.latitude = self.pole.pole.latitude;
        sim.longitude = self.pole.pole.longitude;
        for (times, presses) in [
            (&self.scenario.motion, &mut sim.motion_events_ms),
            (&self.scenario.sos, &mut sim.sos_presses_ms),
            (&self.scenario.button, &mut sim.button_presses_ms),
        ] {
            for at in times {
                presses.push(ms(at)?);
            }
        }
        for f in &self.scenario.faults {
            sim.faults.push(FaultSpec {
                device: f.device.clone(),
                from_ms: ms(&f.from)?,
                until_ms: f.until.as_deref().map(ms).transpose()?,
                kind: f.kind,
                offset: f.offset,
            });
        }
        for c in &self.scenario.csv {
            let series = SeriesSpec::from_csv(
                &c.path,
                &c.sensor,
                &c.unit,
                &c.time_column,
                &c.value_column,
                c.delimiter,
                Some(start_ms),
            )
            .with_context(|| format!("replaying {}", c.path.display()))?;
            if series.skipped_rows > 0 {
                tracing::warn!(path = %c.path.display(), skipped = series.skipped_rows, "CSV rows without a usable value were skipped");
            }
            let points = series.series.points;
            match (sim.particulate.as_mut(), c.sensor.as_str()) {
                (Some(pm), "pm25") => pm.replay_pm25 = points,
                (Some(pm), "pm10") => pm.replay_pm10 = points,
                _ => sim.series.push(SeriesSpec {
                    points,
                    ..series.series
                }),
            }
        }
        Ok(sim)
    }
}

/// Passes records to the output and counts them; optionally echoes notable ones.
struct TeeSink {
    out: JsonLinesSink,
    count: Mutex<u64>,
    /// Echo notable records to stderr, with times in this offset.
    echo: Option<FixedOffset>,
}

impl RecordSink for TeeSink {
    fn publish(&self, record: &UplinkRecord) {
        self.out.publish(record);
        *self.count.lock().expect("count lock") += 1;
        if let Some(offset) = &self.echo {
            if !record.topic.contains("/tele/sao/") {
                let ts = record.payload["ts"].as_u64().unwrap_or_default();
                eprintln!("{}  ↳ {}", local_time(ts, offset), describe_record(record));
            }
        }
    }
}

/// One line summarising a record for humans.
fn describe_record(record: &UplinkRecord) -> String {
    let p = &record.payload;
    let tail: String = record
        .topic
        .splitn(4, '/')
        .nth(3)
        .unwrap_or(&record.topic)
        .to_string();
    if let Some(metrics) = p.get("metrics").and_then(|m| m.as_object()) {
        let values: Vec<String> = metrics
            .iter()
            .map(|(k, v)| {
                let value = v["value"].as_f64().unwrap_or(f64::NAN);
                format!(
                    "{k}={value:.3}{}",
                    unit_suffix(v["unit"].as_str().unwrap_or(""))
                )
            })
            .collect();
        format!("{tail}: {}", values.join(" "))
    } else if let Some(message) = p.get("message").and_then(|m| m.as_str()) {
        format!("{tail} [{}]: {message}", p["state"].as_str().unwrap_or(""))
    } else {
        tail
    }
}

fn unit_suffix(unit: &str) -> String {
    match unit {
        "1" | "" => String::new(),
        "%" => "%".into(),
        u => format!(" {u}"),
    }
}

/// Runs a scenario, writing records to `out`.
pub async fn run(
    file: ScenarioFile,
    out: Box<dyn Write + Send>,
    options: &SimOptions,
) -> anyhow::Result<SimSummary> {
    let start = parse_time(&file.scenario.start)?;
    let start_ms = ms(&file.scenario.start)?;
    let hours = file.scenario.duration_hours;
    if hours.is_nan() || hours <= 0.0 || file.scenario.step_seconds == 0 {
        bail!("scenario needs a positive duration-hours and step-seconds");
    }
    let end_ms = start_ms + (file.scenario.duration_hours * 3_600_000.0) as u64;
    let step_ms = file.scenario.step_seconds * 1000;

    let mut pole_config = file.pole.clone();
    if let Some(dir) = &options.data_dir {
        pole_config.storage.data_dir = dir.clone();
    }
    let clock = Arc::new(SimClock::new(start_ms));
    let pole = build_sim_pole(&file.sim_config(start_ms)?, clock.clone())?;
    let sink = Arc::new(TeeSink {
        out: JsonLinesSink::new(out),
        count: Mutex::new(0),
        echo: options.progress_minutes.map(|_| *start.offset()),
    });
    let uplink_config = pole_config.uplink.clone();
    let mut runtime = Runtime::new(
        pole_config,
        pole,
        clock.clone() as Arc<dyn TimeSource>,
        Some(sink.clone()),
        options.engine,
    )?;
    let outbox = runtime.services().uplink.outbox().clone();
    runtime.install_configured().await;
    let link = if options.publish {
        Some(crate::uplink::connect(
            &uplink_config,
            runtime.services().uplink.clone(),
            clock.clone(),
            crate::uplink::Inbox::none(),
        )?)
    } else {
        // The JSON lines are where records go; nothing waits for a broker.
        outbox.clear()?;
        None
    };
    if let Some(link) = &link {
        runtime.watch_link(link.watch());
    }
    let page = match &options.web {
        Some(listen) => {
            let view = runtime.page_view();
            Some(PageServer::start(view, &runtime.config().web.clone(), listen).await?)
        }
        None => None,
    };

    let mut changes: Vec<(u64, ConfigChange)> = file
        .scenario
        .config
        .iter()
        .map(|c| Ok((ms(&c.at)?, c.clone())))
        .collect::<anyhow::Result<_>>()?;
    changes.sort_by_key(|(t, _)| *t);
    let mut changes = changes.into_iter().peekable();

    let wall_start = Instant::now();
    let mut steps = 0u64;
    let mut next_progress = start_ms;
    let mut now = start_ms;
    while now <= end_ms {
        clock.set(now);
        while let Some((_, change)) = changes.next_if(|(t, _)| *t <= now) {
            if let Err(e) = runtime.reconfigure(&change.plugin, change.config).await {
                tracing::warn!(plugin = %change.plugin, "scenario config change rejected: {e}");
            }
        }
        runtime.step().await;
        if link.is_none() {
            outbox.clear()?;
        }
        steps += 1;
        if let Some(minutes) = options.progress_minutes {
            if now >= next_progress {
                print_progress(&runtime, now, start.offset());
                next_progress = now + minutes * 60_000;
            }
        }
        if let Some(speed) = options.speed.filter(|s| *s > 0.0) {
            let due = Duration::from_secs_f64((now - start_ms) as f64 / 1000.0 / speed);
            if let Some(wait) = due.checked_sub(wall_start.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
        now += step_ms;
    }
    if let Some(page) = &page {
        if options.web_linger_s > 0 {
            eprintln!(
                "scenario finished; the technician page stays up for {} s on http://{}/",
                options.web_linger_s,
                page.addr()
            );
            tokio::time::sleep(Duration::from_secs(options.web_linger_s)).await;
        }
    }
    if let Some(link) = link {
        if !link.drain(DRAIN_TIMEOUT).await {
            tracing::warn!(
                queued = outbox.stats().pending_records(),
                "not every record reached the broker; the rest wait in the outbox"
            );
        }
        runtime.shutdown().await?;
        link.shutdown(DRAIN_TIMEOUT).await;
    } else {
        runtime.shutdown().await?;
    }
    if let Some(page) = page {
        page.stop().await;
    }
    let records = *sink.count.lock().expect("count lock");
    Ok(SimSummary {
        records,
        steps,
        plugins: runtime.plugin_status(),
        cache: runtime.cache_stats(),
    })
}

/// `Sat 23:14` in the scenario's offset.
fn local_time(ms: u64, offset: &FixedOffset) -> String {
    DateTime::from_timestamp_millis(ms as i64)
        .map(|t| t.with_timezone(offset).format("%a %H:%M").to_string())
        .unwrap_or_default()
}

fn print_progress(runtime: &Runtime, now: u64, offset: &FixedOffset) {
    let time = local_time(now, offset);
    let devices = &runtime.services().devices;
    let sensors = devices.sensors().all_latest();
    let lux = sensors
        .get("lux")
        .map_or("-".to_string(), |r| format!("{:.1}", r.value));
    let pm25 = sensors
        .get("pm25")
        .map(|r| format!("  PM2.5 {:>5.1} ug/m3", r.value))
        .unwrap_or_default();
    let lamps: Vec<String> = devices
        .lamps()
        .status()
        .iter()
        .map(|l| {
            format!(
                "{} {:>5.1}% {:>6.1} W {:.3} kWh{}",
                l.id,
                l.level,
                l.watts,
                l.total_kwh,
                if l.failsafe { " FAIL-SAFE" } else { "" }
            )
        })
        .collect();
    eprintln!("{time}  lux {lux:>9}  {}{pm25}", lamps.join("  "));
}
