//! The `sao` command line: `run`, `sim`, `plugin new|pack|sign|verify|inspect`, `ctl`, `keygen`.
//! Errors are one clear line on stderr and a non-zero exit, never a panic.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use clap::{Parser, Subcommand, ValueEnum};
use sao_hardware::{SimClock, SystemClock, TimeSource};
use tokio::signal::unix::{signal, SignalKind};
use tracing_subscriber::EnvFilter;

use crate::config::{Hardware, PoleConfig};
use crate::control::Controller;
use crate::engine::EngineOptions;
use crate::plugin::manifest::Manifest;
use crate::plugin::package::{Package, MANIFEST_FILE};
use crate::plugin::signing::{self, TrustStore};
use crate::runtime::Runtime;
use crate::service::ServiceManager;
use crate::sim::{ScenarioFile, SimOptions};
use crate::uplink::Inbox;
use crate::web::PageServer;

/// How long a stopping pole waits for the broker to take its offline status.
const SHUTDOWN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// sao — edge runtime for smart poles.
#[derive(Debug, Parser)]
#[command(name = "sao", version, about)]
pub struct Cli {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info,sao_runtime=debug`; the embedded
    /// broker (`rumqttd`) is silent unless named.
    #[arg(long, global = true, env = "SAO_LOG", default_value = "info")]
    pub log: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log line format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the pole from a config file until interrupted.
    Run {
        /// The pole config (`pole.toml`).
        #[arg(long)]
        config: PathBuf,
    },
    /// Run a scenario on simulated hardware and a virtual clock.
    Sim {
        /// The scenario file.
        #[arg(long)]
        scenario: PathBuf,
        /// Where to write upstream records as JSON lines (`-` for stdout).
        #[arg(long, default_value = "-")]
        out: PathBuf,
        /// Keep state in this directory (default: the scenario's data-dir).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Virtual seconds per real second (default: as fast as possible).
        #[arg(long)]
        speed: Option<f64>,
        /// Print lamp and sensor state every N virtual minutes, and notable records.
        #[arg(long)]
        progress: Option<u64>,
        /// Also publish over MQTT, as `sao run` does: to the scenario's `[uplink]` broker,
        /// or to an embedded broker on 127.0.0.1:1883.
        #[arg(long)]
        publish: bool,
        /// Serve the technician page on this address (`host:port`) while the scenario
        /// runs, with the scenario's `[web]` settings.
        #[arg(long)]
        web: Option<String>,
        /// Keep serving the page this many seconds after the scenario ends.
        #[arg(long, default_value_t = 0, requires = "web")]
        web_linger: u64,
    },
    /// Create, package, sign and check plugins.
    Plugin {
        /// What to do.
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Operate poles remotely over MQTT: configure, list, watch.
    Ctl(Box<crate::ctl::CtlArgs>),
    /// Evaluate models and vision plugins on images and videos.
    Vision {
        /// What to do.
        #[command(subcommand)]
        command: crate::vision::evaluate::VisionCommand,
    },
    /// Generate an ed25519 key pair (`<out>.key`, `<out>.pub`).
    Keygen {
        /// Path stem of the key files.
        #[arg(long)]
        out: PathBuf,
    },
    /// The pole's KPIs over a period, by smart-city dimension, from its hourly ledger.
    Report {
        /// The pole config (its data directory and identity).
        #[arg(long)]
        config: PathBuf,
        /// Start: a date (pole-local midnight), e.g. `2026-11-01`, or an RFC 3339 time.
        #[arg(long)]
        from: String,
        /// End (excluded), like `--from`.
        #[arg(long)]
        to: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "json")]
        format: ReportFormat,
    },
    /// Hash the technician page's password for `[web] password-hash` (reads one line from
    /// standard input, so it stays out of the shell history).
    WebPassword,
}

/// How `sao report` writes the report.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    /// One JSON document, indicators grouped by smart-city dimension.
    Json,
    /// `dimension,indicator,item,value,unit` rows.
    Csv,
}

/// Plugin subcommands.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Scaffold a vendor plugin crate that builds as-is.
    New {
        /// Plugin id (a-z, 0-9, '-').
        id: String,
        /// Directory to create (default: ./<id>).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Build a `.sao` package from a plugin directory's manifest and a built component.
    Pack {
        /// Directory holding `plugin.toml` and the config schema.
        #[arg(long)]
        dir: PathBuf,
        /// The built component (`.wasm`).
        #[arg(long)]
        component: PathBuf,
        /// Output package path.
        #[arg(long)]
        out: PathBuf,
        /// Sign with this private key while packing.
        #[arg(long)]
        key: Option<PathBuf>,
        /// Take a file the manifest names from elsewhere, as `PATH-IN-PACKAGE=FILE`
        /// (e.g. a model kept outside the plugin's source tree). Repeatable.
        #[arg(long = "file", value_name = "PATH=FILE")]
        files: Vec<String>,
    },
    /// Sign a package in place.
    Sign {
        /// The package.
        package: PathBuf,
        /// The private key.
        #[arg(long)]
        key: PathBuf,
    },
    /// Verify a package against a trusted-keys directory.
    Verify {
        /// The package.
        package: PathBuf,
        /// Directory of trusted public keys.
        #[arg(long)]
        trusted: PathBuf,
    },
    /// Show a package's manifest, files and signature.
    Inspect {
        /// The package.
        package: PathBuf,
    },
}

/// Entry point: parses arguments, runs, maps errors to one line and exit code 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = init_logging(&cli) {
        eprintln!("sao: {e:#}");
        return ExitCode::FAILURE;
    }
    match execute(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sao: error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

fn one_line(e: &anyhow::Error) -> String {
    e.chain()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(": ")
        .replace('\n', " ")
}

fn init_logging(cli: &Cli) -> anyhow::Result<()> {
    // The embedded broker logs every client disconnect as an error: silent unless asked.
    let directives = if cli.log.contains("rumqttd") {
        cli.log.clone()
    } else {
        format!("{},rumqttd=off", cli.log)
    };
    let filter = EnvFilter::try_new(directives).context("invalid --log filter")?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}

fn execute(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run { config } => run_pole(&config),
        Command::Sim {
            scenario,
            out,
            data_dir,
            speed,
            progress,
            publish,
            web,
            web_linger,
        } => simulate(
            &scenario,
            &out,
            SimOptions {
                data_dir,
                speed,
                progress_minutes: progress,
                publish,
                web,
                web_linger_s: web_linger,
                engine: EngineOptions::default(),
            },
        ),
        Command::Plugin { command } => plugin_command(command),
        Command::Ctl(args) => tokio_runtime()?.block_on(crate::ctl::run(*args)),
        Command::Vision { command } => crate::vision::evaluate::execute(command),
        Command::Report {
            config,
            from,
            to,
            format,
        } => report(&config, &from, &to, format),
        Command::WebPassword => {
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("reading the password")?;
            let password = password.trim_end_matches(['\r', '\n']);
            if password.is_empty() {
                bail!("an empty password would let anyone act on the pole");
            }
            println!("password-hash = \"{}\"", sao_web::hash_password(password));
            Ok(())
        }
        Command::Keygen { out } => {
            let key = signing::generate_key();
            signing::write_key_pair(&key, &out)?;
            println!(
                "key {} written to {} and {}",
                signing::key_id(&key.verifying_key()),
                out.with_extension("key").display(),
                out.with_extension("pub").display()
            );
            Ok(())
        }
    }
}

/// The multi-threaded async runtime every long-running command uses.
pub(crate) fn tokio_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn run_pole(path: &Path) -> anyhow::Result<()> {
    let config = PoleConfig::load(path)?;
    let system = SystemClock;
    // The simulated backend keeps its own clock, set to real time before every step.
    let (pole, clock, sim_clock): (_, Arc<dyn TimeSource>, _) = match &config.hardware {
        Hardware::Sim(sim) => {
            let clock = Arc::new(SimClock::new(system.now_ms()));
            let pole = sao_hardware::sim::build_sim_pole(sim, clock.clone())?;
            (pole, clock.clone(), Some(clock))
        }
        #[cfg(feature = "rpi")]
        Hardware::Rpi(rpi) => {
            let clock: Arc<dyn TimeSource> = Arc::new(system);
            (
                sao_hardware::rpi::build_rpi_pole(rpi, clock.clone())?,
                clock,
                None,
            )
        }
    };
    tokio_runtime()?.block_on(async {
        // Listen before anything else: a SIGINT or SIGTERM (systemd's stop) that arrives
        // during start-up or mid-step is kept until the loop sees it.
        let mut interrupt = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
        let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        let mut service = ServiceManager::from_env();
        let uplink_config = config.uplink.clone();
        let control_config = config.control.clone();
        let mut runtime =
            Runtime::new(config, pole, clock.clone(), None, EngineOptions::default())?;
        // A simulated pole running in real time keeps its clock in step from each thread.
        let sync_clock = move || {
            if let Some(clock) = &sim_clock {
                clock.catch_up(system.now_ms());
            }
        };
        runtime.start_alarm_driver(Box::new(sync_clock.clone()))?;
        let mut controller = Controller::new(&control_config, &runtime)?;
        // The stored desired configs apply here, before the network is up.
        controller.boot(&mut runtime).await;
        // After installing, so the first birth already lists the plugins.
        let (inbox, mut incoming) = Inbox::new(controller.subscriptions());
        let link = crate::uplink::connect(
            &uplink_config,
            runtime.services().uplink.clone(),
            clock,
            inbox,
        )?;
        runtime.watch_link(link.watch());
        // The pole runs on without its page: a port taken is logged, not fatal.
        let web = runtime.config().web.clone();
        let page = if web.enabled {
            let view = runtime.page_view();
            PageServer::start(view, &web, &web.listen)
                .await
                .inspect_err(|e| tracing::error!("{e:#}"))
                .ok()
        } else {
            None
        };
        service.ready(&format!(
            "pole {}: plugins {} installed, {} refused",
            runtime.config().pole.id,
            runtime.plugins().len(),
            runtime.rejected().len()
        ));
        let mut next_step = tokio::time::Instant::now();
        let mut cameras = runtime.take_vision_events();
        loop {
            tokio::select! {
                Some(event) = next_vision(&mut cameras) => {
                    sync_clock();
                    runtime.on_vision(event).await;
                }
                _ = tokio::time::sleep_until(next_step) => {
                    sync_clock();
                    runtime.step().await;
                    // Health windows and download timeouts run on the pole's clock.
                    controller.advance(&mut runtime).await;
                    service.alive();
                    // Read each time: operators may change the interval remotely.
                    let poll = runtime.config().timing.poll_interval_ms;
                    next_step = (next_step + std::time::Duration::from_millis(poll))
                        .max(tokio::time::Instant::now());
                }
                Some(message) = incoming.recv() => {
                    sync_clock();
                    controller.handle(&mut runtime, message).await;
                    // Operators wait for the answer: send it now, not at the next step.
                    runtime.commit_records();
                }
                _ = interrupt.recv() => break,
                _ = terminate.recv() => break,
            }
        }
        tracing::info!("shutting down");
        service.stopping();
        if let Some(page) = page {
            page.stop().await;
        }
        runtime.shutdown().await?;
        link.shutdown(SHUTDOWN_TIMEOUT).await;
        Ok(())
    })
}

/// `sao report`: reads the ledger of the pole `config` describes and prints the period.
fn report(config: &Path, from: &str, to: &str, format: ReportFormat) -> anyhow::Result<()> {
    let config = PoleConfig::load(config)?;
    let offset = config.pole.utc_offset_minutes;
    let (from_ms, to_ms) = (pole_time(from, offset)?, pole_time(to, offset)?);
    if from_ms >= to_ms {
        bail!("--from must be before --to");
    }
    let ledger = crate::kpi::Ledger::new(&config.storage.data_dir, offset);
    let (hours, skipped) = ledger.read(from_ms, to_ms)?;
    if skipped > 0 {
        tracing::warn!(skipped, "ledger lines that are not hours were skipped");
    }
    let report = crate::kpi::Report::build(&config.pole, &hours, from_ms, to_ms);
    match format {
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        ReportFormat::Csv => print!("{}", report.to_csv()),
    }
    Ok(())
}

/// A date (pole-local midnight) or an RFC 3339 time, as ms since the epoch.
fn pole_time(text: &str, utc_offset_minutes: i32) -> anyhow::Result<u64> {
    let offset = chrono::FixedOffset::east_opt(utc_offset_minutes * 60)
        .context("the pole's utc-offset-minutes is out of range")?;
    let time = match chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(date) => date
            .and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(offset).single())
            .context("no such local time")?,
        Err(_) => chrono::DateTime::parse_from_rfc3339(text).with_context(|| {
            format!("`{text}` is neither a date like 2026-11-01 nor an RFC 3339 time")
        })?,
    };
    u64::try_from(time.timestamp_millis()).with_context(|| format!("`{text}` is before 1970"))
}

/// The next camera event, or never when the pole has no cameras.
async fn next_vision(
    events: &mut Option<tokio::sync::mpsc::Receiver<sao_vision::pipeline::VisionEvent>>,
) -> Option<sao_vision::pipeline::VisionEvent> {
    match events {
        Some(events) => events.recv().await,
        None => std::future::pending().await,
    }
}

fn simulate(scenario: &Path, out: &Path, options: SimOptions) -> anyhow::Result<()> {
    let file = ScenarioFile::load(scenario)?;
    let writer: Box<dyn Write + Send> = if out == Path::new("-") {
        Box::new(std::io::stdout())
    } else {
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        Box::new(std::io::BufWriter::new(
            std::fs::File::create(out)
                .with_context(|| format!("cannot create {}", out.display()))?,
        ))
    };
    let summary = tokio_runtime()?.block_on(crate::sim::run(file, writer, &options))?;
    eprintln!(
        "simulated {} steps, {} records written; compiled cache: {} hits, {} compiles",
        summary.steps, summary.records, summary.cache.0, summary.cache.1
    );
    for plugin in summary.plugins.as_array().into_iter().flatten() {
        eprintln!("plugin {}", plugin);
    }
    Ok(())
}

fn read_package(path: &Path) -> anyhow::Result<Package> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Package::read(&bytes).with_context(|| format!("{} refused", path.display()))
}

fn write_package(package: &Package, path: &Path) -> anyhow::Result<()> {
    crate::engine::write_atomically(path, &package.to_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn plugin_command(command: PluginCommand) -> anyhow::Result<()> {
    match command {
        PluginCommand::New { id, dir } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(&id));
            crate::scaffold::create(&id, &dir)?;
            println!("created plugin `{id}` in {}", dir.display());
            println!(
                "build it: cd {} && cargo build --release --target wasm32-wasip2",
                dir.display()
            );
            Ok(())
        }
        PluginCommand::Pack {
            dir,
            component,
            out,
            key,
            files: overrides,
        } => {
            let mut sources = BTreeMap::new();
            for entry in &overrides {
                let (inside, file) = entry
                    .split_once('=')
                    .with_context(|| format!("--file `{entry}`: expected PATH-IN-PACKAGE=FILE"))?;
                sources.insert(inside.to_string(), PathBuf::from(file));
            }
            let manifest_text = std::fs::read_to_string(dir.join(MANIFEST_FILE))
                .with_context(|| format!("cannot read {}", dir.join(MANIFEST_FILE).display()))?;
            let manifest = Manifest::parse(&manifest_text)?;
            let mut files = BTreeMap::new();
            files.insert(MANIFEST_FILE.to_string(), manifest_text.into_bytes());
            files.insert(
                manifest.component.clone(),
                std::fs::read(&component)
                    .with_context(|| format!("cannot read {}", component.display()))?,
            );
            let extra = std::iter::once(manifest.config_schema.clone()).chain(
                manifest
                    .models
                    .iter()
                    .map(|m| m.path.to_string_lossy().into_owned()),
            );
            for path in extra {
                let source = sources.remove(&path).unwrap_or_else(|| dir.join(&path));
                let bytes = std::fs::read(&source)
                    .with_context(|| format!("cannot read {}", source.display()))?;
                files.insert(path, bytes);
            }
            if let Some(unused) = sources.keys().next() {
                bail!("--file `{unused}`: the manifest names no such file");
            }
            let mut package = Package::from_files(files)?;
            if let Some(key) = key {
                package.sign(&signing::read_signing_key(&key)?);
            }
            write_package(&package, &out)?;
            println!(
                "packed {} {} into {} (sha256:{})",
                manifest.id,
                manifest.version,
                out.display(),
                hex::encode(package.digest())
            );
            Ok(())
        }
        PluginCommand::Sign { package, key } => {
            let mut pkg = read_package(&package)?;
            let key = signing::read_signing_key(&key)?;
            pkg.sign(&key);
            write_package(&pkg, &package)?;
            println!(
                "signed {} with key {}",
                package.display(),
                signing::key_id(&key.verifying_key())
            );
            Ok(())
        }
        PluginCommand::Verify { package, trusted } => {
            let trust = TrustStore::load(&trusted)?;
            let bytes = std::fs::read(&package)
                .with_context(|| format!("cannot read {}", package.display()))?;
            let verified = Package::read_verified(&bytes, &trust)
                .with_context(|| format!("{} refused", package.display()))?;
            let m = verified.package().manifest();
            println!(
                "{}: {} {} by {}, signed by trusted key {}",
                package.display(),
                m.id,
                m.version,
                m.vendor,
                verified.key_id()
            );
            Ok(())
        }
        PluginCommand::Inspect { package } => {
            let pkg = read_package(&package)?;
            let m = pkg.manifest();
            println!("id:           {}", m.id);
            println!("version:      {}", m.version);
            println!("vendor:       {}", m.vendor);
            println!("world:        {}", m.world);
            println!(
                "capabilities: {}",
                m.capabilities
                    .iter()
                    .map(|c| c.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            println!("dataset:      {} ({})", m.dataset, m.dimension);
            println!("digest:       sha256:{}", hex::encode(pkg.digest()));
            match pkg.signature() {
                Some(s) => println!("signature:    ed25519 by key {}", s.key_id),
                None => println!("signature:    none (unsigned)"),
            }
            for (path, bytes) in pkg.files() {
                println!("file:         {path} ({} bytes)", bytes.len());
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_periods_are_local_dates_or_rfc3339_times() {
        // 2026-11-01T00:00:00+07:00
        assert_eq!(pole_time("2026-11-01", 420).unwrap(), 1_793_466_000_000);
        assert_eq!(
            pole_time("2026-11-01T00:00:00+07:00", 0).unwrap(),
            1_793_466_000_000
        );
        let err = pole_time("1 Nov", 420).unwrap_err().to_string();
        assert!(err.contains("neither a date"), "{err}");
        assert!(pole_time("1969-12-31", 0).is_err());
    }
}
