//! The runtime: assembles engine, devices, uplink and plugins, and runs the main loop
//! (poll sensors → route → deliver to plugins concurrently → fail-safe checks → health).
//! The same [`Runtime::step`] serves real time (`sao run`) and virtual time (`sao sim`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use serde_json::{json, Value};

use sao_hardware::{Pole, TimeSource};

use crate::alarm::driver::AlarmDriver;
use crate::alarm::Selector;
use crate::bus::Bus;
use crate::config::PluginSpec;
use crate::config::{PoleConfig, RuntimeSettings};
use crate::engine::{CacheOutcome, ComponentCache, EngineOptions, SaoEngine};
use crate::health::system::SystemProbe;
use crate::health::{CameraState, Monitor, Observation, PluginState};
use crate::host::{KvStore, Services};
use crate::kpi;
use crate::plugin::instance::{Call, Message};
use crate::plugin::supervisor::SupervisorParts;
use crate::plugin::{self, Supervisor, TrustStore};
use crate::reports;
use crate::sos::Sos;
use crate::uplink::mqtt::LinkStatus;
use crate::uplink::{Metric, Outbox, RecordSink, Source, Tee, Uplink};
use crate::vision::{report_health, VisionHub};
use crate::web::{LoopState, PageLink, PoleView, RecentRecords, Request};
use sao_vision::pipeline::VisionEvent;

/// A plugin that could not be installed, kept for status reports.
#[derive(Debug, Clone)]
pub struct Rejected {
    /// Package path.
    pub package: PathBuf,
    /// Why.
    pub reason: String,
}

/// What the retained status says of one plugin, to tell when it must be republished.
#[derive(Debug, Clone, PartialEq)]
struct StatusEntry {
    id: String,
    version: String,
    state: &'static str,
}

/// A running pole.
pub struct Runtime {
    engine: SaoEngine,
    cache: ComponentCache,
    trust: TrustStore,
    services: Arc<Services>,
    db: sled::Db,
    /// Each plugin's last good config.
    configs: sled::Tree,
    plugins: Vec<Supervisor>,
    rejected: Vec<Rejected>,
    bus: Bus,
    vision: VisionHub,
    config: PoleConfig,
    next_health_ms: u64,
    /// Each plugin's state when the status was last published.
    published_states: Vec<StatusEntry>,
    /// Keeps alarms on time when the pole runs in real time.
    alarm_driver: Option<AlarmDriver>,
    /// The pole's health findings.
    health: Monitor,
    /// Disk and memory of the box.
    system: SystemProbe,
    /// Each running camera's last reported state.
    cameras: std::collections::BTreeMap<String, CameraState>,
    /// The MQTT link's status, once connected (`sao run`).
    link: Option<tokio::sync::watch::Receiver<LinkStatus>>,
    /// Since when the link has been down, as the health checks saw it.
    link_down_since: Option<u64>,
    /// The SOS button.
    sos: Sos,
    /// The records the technician page shows.
    recent: Arc<RecentRecords>,
    /// The technician page's link to the loop, once a page is served.
    page: Option<PageLink>,
    /// Per camera: frames counted and pole time at the last sample, and the frame rate.
    camera_fps: std::collections::BTreeMap<String, (u64, u64, f64)>,
    /// The current hour's KPIs.
    kpi: Arc<kpi::Tally>,
    /// The hours that ended.
    ledger: kpi::Ledger,
}

impl Runtime {
    /// Opens storage, loads trusted keys, takes the hardware. Plugins are installed by
    /// [`Runtime::install_configured`] or [`Runtime::install`].
    pub fn new(
        config: PoleConfig,
        pole: Pole,
        clock: Arc<dyn TimeSource>,
        tap: Option<Arc<dyn RecordSink>>,
        engine_options: EngineOptions,
    ) -> anyhow::Result<Self> {
        let data_dir = &config.storage.data_dir;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
        let db = crate::storage::open_db(&data_dir.join("db"))
            .with_context(|| format!("cannot open the database in {}", data_dir.display()))?;
        let configs = db
            .open_tree("plugin-config")
            .context("cannot open the plugin configs")?;
        let trust = TrustStore::load(&config.trust.keys_dir)?;
        if trust.is_empty() {
            tracing::warn!(dir = %config.trust.keys_dir.display(), "no trusted keys: no plugin can be installed");
        }
        let engine = SaoEngine::new(engine_options)?;
        let cache = ComponentCache::new(&data_dir.join("compiled"), engine.engine());
        let outbox = Outbox::open(&db, config.uplink.outbox, clock.clone())
            .context("cannot open the uplink outbox")?;
        // The page and the KPI tally see every record as it is queued, beside the
        // caller's tap.
        let recent = Arc::new(RecentRecords::default());
        let kpi = Arc::new(kpi::Tally::default());
        let mut taps: Vec<Arc<dyn RecordSink>> = vec![recent.clone(), kpi.clone()];
        taps.extend(tap);
        let tap: Arc<dyn RecordSink> = Arc::new(Tee(taps));
        let uplink = Arc::new(Uplink::new(
            config.pole.clone(),
            Arc::new(outbox),
            Some(tap),
        ));
        let vision = VisionHub::new(config.vision.clone(), config.cameras.clone());
        let system = SystemProbe::new(data_dir);
        let ledger = kpi::Ledger::new(data_dir, config.pole.utc_offset_minutes);
        let services = Arc::new(Services::new(
            pole,
            clock,
            &config.lighting,
            config.alarm.clone(),
            uplink,
            KvStore::new(db.clone()),
            vision.access(),
        )?);
        Ok(Self {
            engine,
            cache,
            trust,
            services,
            db,
            configs,
            plugins: Vec::new(),
            rejected: Vec::new(),
            bus: Bus::default(),
            vision,
            next_health_ms: 0,
            published_states: Vec::new(),
            alarm_driver: None,
            health: Monitor::new(config.health.clone()),
            system,
            cameras: Default::default(),
            link: None,
            link_down_since: None,
            sos: Sos::new(config.sos.clone()),
            recent,
            page: None,
            camera_fps: Default::default(),
            kpi,
            ledger,
            config,
        })
    }

    /// Pole time now, ms since the epoch.
    pub fn now(&self) -> u64 {
        self.services.devices.now_ms()
    }

    /// Installs and starts every plugin of the pole config. Failures are reported and
    /// recorded; the other plugins still run.
    pub async fn install_configured(&mut self) {
        for spec in self.config.plugins.clone() {
            if let Err(reason) = self.install(&spec).await {
                tracing::error!(package = %spec.package.display(), "{reason}");
            }
        }
        self.publish_status(true);
    }

    /// Installs one package with its grants and starts it with its config.
    pub async fn install(&mut self, spec: &PluginSpec) -> Result<CacheOutcome, String> {
        let prepared = self.stage(spec)?;
        Ok(self.start(prepared, spec, spec.config.clone()).await)
    }

    /// Reads, verifies and compiles a package for `spec` without starting it; refused if
    /// a plugin of the same id is installed. A refusal is reported upstream and kept for
    /// the status.
    pub fn stage(&mut self, spec: &PluginSpec) -> Result<plugin::Prepared, String> {
        self.stage_checked(spec, None)
    }

    /// Like [`Runtime::stage`] for a package that is to replace plugin `replaces` (which
    /// the caller removes before starting it).
    pub fn stage_replacement(
        &mut self,
        spec: &PluginSpec,
        replaces: &str,
    ) -> Result<plugin::Prepared, String> {
        self.stage_checked(spec, Some(replaces))
    }

    fn stage_checked(
        &mut self,
        spec: &PluginSpec,
        replaces: Option<&str>,
    ) -> Result<plugin::Prepared, String> {
        let now = self.now();
        let package = &spec.package;
        let result = std::fs::read(package)
            .map_err(|e| format!("cannot read package {}: {e}", package.display()))
            .and_then(|bytes| {
                plugin::prepare(
                    self.engine.engine(),
                    &self.cache,
                    &self.trust,
                    &bytes,
                    &spec.grants,
                )
                .map_err(|e| e.to_string())
            })
            .and_then(|prepared| {
                let id = &prepared.manifest.id;
                if replaces != Some(id.as_str()) && self.plugins.iter().any(|p| p.id() == id) {
                    Err(format!("plugin `{id}` is already installed"))
                } else {
                    Ok(prepared)
                }
            });
        let prepared = match result {
            Ok(p) => p,
            Err(reason) => {
                let name = package.file_name().map_or_else(
                    || package.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                reports::plugin_state(
                    &self.services.uplink,
                    &name,
                    "rejected",
                    crate::uplink::Severity::Critical,
                    &reason,
                    now,
                );
                self.rejected.push(Rejected {
                    package: package.to_path_buf(),
                    reason: reason.clone(),
                });
                return Err(reason);
            }
        };
        Ok(prepared)
    }

    /// Starts a staged plugin with `config` (validated against its schema first).
    pub async fn start(
        &mut self,
        prepared: plugin::Prepared,
        spec: &PluginSpec,
        config: Value,
    ) -> CacheOutcome {
        let now = self.now();
        tracing::info!(
            plugin = %prepared.manifest.id,
            version = %prepared.manifest.version,
            signed_by = %prepared.key_id,
            cache = ?prepared.cache,
            "installed"
        );
        let configs = self.configs.clone();
        self.subscribe_cameras(&prepared);
        self.bus.add(&prepared.manifest.subscriptions, now);
        let outcome = prepared.cache;
        let mut supervisor = Supervisor::new(SupervisorParts {
            manifest: prepared.manifest,
            pre: prepared.pre,
            services: self.services.clone(),
            policy: self.config.restart,
            deadline_scale: self.config.timing.deadline_scale,
            validator: prepared.validator,
            configs,
            telemetry_per_minute: spec.telemetry_per_minute,
        });
        supervisor.start(config, now).await;
        self.plugins.push(supervisor);
        outcome
    }

    /// Starts the cameras a vision plugin watches. A camera that cannot run for it is
    /// reported; the plugin still runs (without those detections).
    fn subscribe_cameras(&mut self, prepared: &plugin::Prepared) {
        let manifest = &prepared.manifest;
        let (Some(subscription), Some(model), Some(bytes)) = (
            &manifest.subscriptions.vision,
            manifest.vision_model(),
            &prepared.vision_model,
        ) else {
            return;
        };
        match self
            .vision
            .subscribe(&manifest.id, &subscription.cameras, model, bytes)
        {
            Ok(cameras) => tracing::info!(plugin = %manifest.id, ?cameras, "watching cameras"),
            Err(reason) => {
                tracing::error!(plugin = %manifest.id, "cameras unavailable: {reason}");
                reports::plugin_state(
                    &self.services.uplink,
                    &manifest.id,
                    "cameras-unavailable",
                    crate::uplink::Severity::Warning,
                    &reason,
                    self.now(),
                );
            }
        }
    }

    /// The cameras' events (detections, health), for the loop that calls
    /// [`Runtime::on_vision`]; `None` once taken.
    pub fn take_vision_events(&mut self) -> Option<tokio::sync::mpsc::Receiver<VisionEvent>> {
        self.vision.take_events()
    }

    /// Handles a camera event at once (an alarm must not wait for the next step):
    /// detections go to the plugins watching, health changes upstream.
    pub async fn on_vision(&mut self, event: VisionEvent) {
        let now = self.now();
        match event {
            VisionEvent::Detections(frame) => {
                let routed = self.bus.route_detections(&frame);
                futures::future::join_all(
                    self.plugins
                        .iter_mut()
                        .zip(routed)
                        .filter_map(|(plugin, call)| call.map(|call| plugin.deliver(call, now))),
                )
                .await;
            }
            VisionEvent::Health { camera, change } => {
                tracing::info!(%camera, state = ?change.state, "{}", change.detail);
                report_health(&self.services.uplink, &camera, &change);
                let state = CameraState {
                    name: camera.clone(),
                    healthy: change.state.is_healthy(),
                    state: serde_json::to_value(change.state)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default(),
                    detail: change.detail,
                };
                self.cameras.insert(camera, state);
            }
            VisionEvent::InferenceFailed { camera, reason } => {
                tracing::warn!(%camera, "inference failed: {reason}");
            }
        }
        self.commit_records();
    }

    /// Why plugin `id`'s cameras could not start, if they could not.
    pub fn vision_failure(&self, id: &str) -> Option<&str> {
        self.vision.failure(id)
    }

    /// Counters of each running camera.
    pub fn camera_stats(
        &self,
    ) -> std::collections::BTreeMap<String, sao_vision::pipeline::StatsSnapshot> {
        self.vision.stats()
    }

    /// One turn of the main loop at the clock's current time.
    pub async fn step(&mut self) {
        let now = self.now();
        // First, so an hour that ended closes before this turn's records come in.
        self.count_kpis(now);
        // Sensor reads may block (an I2C light sensor takes 180 ms): off the async workers.
        let devices = self.services.devices.clone();
        let (readings, sensor_changes) =
            tokio::task::spawn_blocking(move || devices.sensors().poll(now))
                .await
                .expect("sensor polling does not panic");
        reports::sensor_health(&self.services.uplink, &sensor_changes, now);
        self.vision.wake(&readings);
        self.acknowledge_on_button(&readings);
        self.sos
            .on_readings(&readings, &self.services.alarms, &self.vision.access(), now);

        let routed = self.bus.route(&readings, now);
        // Plugins run concurrently: a plugin stuck in a loop yields at every epoch tick
        // until its deadline traps it, and the others keep going meanwhile.
        futures::future::join_all(self.plugins.iter_mut().zip(routed).map(
            |(plugin, calls)| async move {
                for call in calls {
                    // A failed call is counted and reported by the supervisor.
                    let _ = plugin.deliver(call, now).await;
                }
            },
        ))
        .await;

        let (changes, safe_level) = {
            let mut lamps = self.services.devices.lamps();
            (lamps.check_silence(now), lamps.safe_level())
        };
        reports::failsafe(&self.services.uplink, &changes, safe_level, now);
        // The alarm driver keeps alarms on time in real time; `sao sim` has none, so its
        // virtual time moves them here (it is harmless when the driver runs too).
        self.services.alarms.advance();
        self.sos.advance(&self.services.alarms, now);

        // The retained status lists each plugin's state: keep it true when one changes.
        if self
            .plugin_states()
            .ne(self.published_states.iter().cloned())
        {
            self.publish_status(true);
        }

        self.check_health(now);
        if now >= self.next_health_ms {
            self.publish_lamp_health(now);
            self.health.publish_summary(&self.services.uplink, now);
            reports::outbox(&self.services.uplink, now);
            self.next_health_ms = now + self.config.timing.health_interval_s * 1000;
        }
        self.serve_page(now).await;
        // Everything this step queued (the plugins' records included) is accepted once
        // it is on disk: one flush per step, not one per record.
        self.commit_records();
    }

    /// The technician page's view of this pole; the loop keeps it current from now on.
    pub fn page_view(&mut self) -> PoleView {
        let pole = &self.config.pole;
        let identity = sao_web::Identity {
            pole: pole.id.clone(),
            site: pole.site.clone(),
            profile: self.config.profile.clone(),
            latitude: Some(pole.latitude),
            longitude: Some(pole.longitude),
            version: crate::VERSION.into(),
            utc_offset_minutes: pole.utc_offset_minutes,
        };
        let (view, link) = PoleView::new(
            identity,
            self.services.clone(),
            self.recent.clone(),
            self.vision.access(),
            self.link.clone(),
        );
        self.page = Some(link);
        view
    }

    /// Copies what only the loop knows for the page, and does what the page asked.
    async fn serve_page(&mut self, now: u64) {
        let Some(page) = &mut self.page else { return };
        let mut requests = Vec::new();
        while let Ok(request) = page.requests.try_recv() {
            requests.push(request);
        }
        for request in requests {
            match request {
                Request::RestartPlugin { id, by } => {
                    let result = match self.plugins.iter_mut().find(|p| p.id() == id) {
                        Some(plugin) => plugin.restart(now).await,
                        None => Err(format!("no plugin `{id}`")),
                    };
                    reports::technician_action(
                        &self.services.uplink,
                        "restart-plugin",
                        &id,
                        &by,
                        result.as_ref().err(),
                        now,
                    );
                }
                Request::SelfTest(results) => {
                    reports::technician_action(
                        &self.services.uplink,
                        "test-outputs",
                        "outputs",
                        "technician",
                        None,
                        now,
                    );
                    self.health.record_self_test(results);
                    self.health.recheck();
                }
            }
        }
        for (name, stats) in self.vision.stats() {
            let sample = self
                .camera_fps
                .entry(name)
                .or_insert((stats.frames, now, 0.0));
            if now >= sample.1 + 1000 {
                let fps = (stats.frames - sample.0) as f64 * 1000.0 / (now - sample.1) as f64;
                *sample = (stats.frames, now, fps);
            }
        }
        let state = self.loop_state();
        if let Some(page) = &self.page {
            *page.state.lock().unwrap_or_else(|p| p.into_inner()) = state;
        }
    }

    /// What only the loop knows, for the page.
    fn loop_state(&self) -> LoopState {
        let stats = self.vision.stats();
        LoopState {
            health: crate::web::health_view(&self.health),
            plugins: self
                .plugins
                .iter()
                .map(|p| {
                    let stats = p.stats();
                    sao_web::PluginView {
                        id: p.id().to_string(),
                        version: p.manifest().version.clone(),
                        state: p.health().name().into(),
                        restarts: stats.restarts,
                        crashes: stats.crashes,
                        last_error: stats.last_error,
                    }
                })
                .collect(),
            plugin_metrics: self
                .plugins
                .iter()
                .map(|p| {
                    let stats = p.stats();
                    sao_web::PluginMetrics {
                        id: p.id().to_string(),
                        running: p.health().name() == "running",
                        calls: stats.calls,
                        errors: stats.errors,
                        crashes: stats.crashes,
                        deadline_hits: stats.deadline_hits,
                        restarts: stats.restarts,
                        memory_bytes: p.memory_bytes() as u64,
                    }
                })
                .collect(),
            cameras: self
                .cameras
                .values()
                .map(|c| sao_web::CameraView {
                    name: c.name.clone(),
                    state: c.state.clone(),
                    detail: c.detail.clone(),
                    fps: self.camera_fps.get(&c.name).map_or(0.0, |f| f.2),
                    inference_ms: stats.get(&c.name).map_or(0.0, |s| s.mean_inference_ms),
                })
                .collect(),
            camera_metrics: stats
                .iter()
                .map(|(name, s)| sao_web::CameraMetrics {
                    name: name.clone(),
                    fps: self.camera_fps.get(name).map_or(0.0, |f| f.2),
                    frames: s.frames,
                    inferences: s.inferences,
                    failures: s.failures,
                    inference_ms_mean: s.mean_inference_ms,
                })
                .collect(),
        }
    }

    /// Runs the daily output self-test and the health checks when they are due; publishes
    /// what changed and applies the thermal derating.
    fn check_health(&mut self, now: u64) {
        if self
            .health
            .self_test_due(now, self.config.pole.utc_offset_minutes)
        {
            self.test_outputs();
        }
        if !self.health.check_due(now) {
            return;
        }
        let observation = self.observe(now);
        let changes = self.health.check(&observation);
        self.vision.set_inference_duty(self.health.inference_duty());
        for change in &changes {
            let f = &change.finding;
            if change.cleared {
                tracing::info!(component = %f.component, "health: recovered");
            } else {
                tracing::warn!(component = %f.component, status = ?f.status, "health: {}", f.problem);
            }
        }
        if !changes.is_empty() {
            self.health
                .publish_changes(&self.services.uplink, &changes, now);
            self.health.publish_summary(&self.services.uplink, now);
        }
    }

    /// Adds this turn to the hour's KPIs; keeps each hour that ended, and sends the month's
    /// report when a month ended.
    fn count_kpis(&mut self, now: u64) {
        let lamps = self.services.devices.lamps().status();
        let mut devices: Vec<String> = lamps.iter().map(|l| format!("lamp:{}", l.id)).collect();
        let sensors = self.services.devices.sensors().names();
        devices.extend(sensors.iter().map(|s| format!("sensor:{s}")));
        devices.extend(
            self.services
                .alarms
                .output_names()
                .iter()
                .map(|o| format!("output:{o}")),
        );
        devices.extend(
            self.config
                .cameras
                .iter()
                .map(|c| format!("camera:{}", c.name)),
        );
        devices.extend(self.plugins.iter().map(|p| format!("plugin:{}", p.id())));
        let turn = kpi::Turn {
            now_ms: now,
            lamp_meter_kwh: lamps.iter().map(|l| l.total_kwh).sum(),
            devices,
            down: self
                .health
                .findings()
                .into_iter()
                .filter(|f| f.status == crate::health::Status::Red)
                .map(|f| f.component)
                .collect(),
        };
        for hour in self.kpi.turn(&turn) {
            self.keep_hour(&hour, now);
        }
    }

    /// Writes an hour that ended to the ledger; at the end of a month, publishes its
    /// report on `tele/sao/kpi-monthly`.
    fn keep_hour(&self, hour: &kpi::Hour, now: u64) {
        if let Err(e) = self.ledger.append(hour) {
            tracing::error!("KPI ledger: {e:#}");
        }
        let end = hour.start_ms + kpi::HOUR_MS;
        if self.ledger.month(hour.start_ms) == self.ledger.month(end) {
            return;
        }
        let from = self.ledger.month_start(hour.start_ms);
        match self.ledger.read(from, end) {
            Ok((hours, _)) => {
                let report = kpi::Report::build(&self.config.pole, &hours, from, end);
                kpi::publish_monthly(&self.services.uplink, &report, now);
            }
            Err(e) => tracing::error!("KPI ledger: {e:#}"),
        }
    }

    /// Self-tests the alarm outputs now; the next health check (at once) judges them.
    pub fn test_outputs(&mut self) -> Vec<crate::alarm::OutputTest> {
        let results = self.services.alarms.self_test();
        tracing::info!(?results, "output self-test");
        self.health.record_self_test(results.clone());
        results
    }

    /// What the health checks look at, now.
    fn observe(&mut self, now: u64) -> Observation {
        if let Some(link) = &self.link {
            let connected = link.borrow().connected;
            self.link_down_since = match (connected, self.link_down_since) {
                (true, _) => None,
                (false, since) => Some(since.unwrap_or(now)),
            };
        }
        Observation {
            now_ms: now,
            sensors: self.services.devices.sensors().states(),
            lamps: self.services.devices.lamps().status(),
            cameras: self.cameras.values().cloned().collect(),
            plugins: self
                .plugins
                .iter()
                .map(|p| {
                    let health = p.health();
                    let stats = p.stats();
                    PluginState {
                        id: p.id().to_string(),
                        state: health.name(),
                        reason: health.reason().map(String::from),
                        restarts: stats.restarts,
                        deadline_hits: stats.deadline_hits,
                    }
                })
                .collect(),
            system: self.system.read(),
            uplink_down_since_ms: self.link_down_since,
        }
    }

    /// Follows the MQTT link's status (for health and the technician page).
    pub fn watch_link(&mut self, link: tokio::sync::watch::Receiver<LinkStatus>) {
        self.link = Some(link);
    }

    /// The pole's health: its verdict and findings, worst first.
    pub fn health(&self) -> &Monitor {
        &self.health
    }

    /// A press of the pole's acknowledge button acknowledges every active alarm.
    fn acknowledge_on_button(&self, readings: &[crate::devices::Reading]) {
        let alarms = &self.services.alarms;
        let Some(button) = alarms.ack_button() else {
            return;
        };
        if readings
            .iter()
            .any(|r| r.sensor == button && r.value >= 1.0)
        {
            match alarms.acknowledge(Selector::All, "button") {
                Ok(0) => tracing::debug!("button pressed with no alarm sounding"),
                Ok(n) => tracing::info!(acknowledged = n, "alarms acknowledged at the pole"),
                Err(e) => tracing::error!("button acknowledgement failed: {e}"),
            }
        }
    }

    /// Starts the thread that keeps alarms on time in real time (`sao run`). `sync_clock`
    /// runs before each of its turns.
    pub fn start_alarm_driver(&mut self, sync_clock: Box<dyn Fn() + Send>) -> anyhow::Result<()> {
        let driver = AlarmDriver::start(self.services.alarms.clone(), sync_clock)
            .context("cannot start the alarm driver")?;
        self.alarm_driver = Some(driver);
        Ok(())
    }

    /// Makes the records queued so far durable, and so ready to send.
    pub fn commit_records(&self) {
        if let Err(e) = self.services.uplink.outbox().commit() {
            tracing::error!("outbox: {e}");
        }
    }

    fn publish_lamp_health(&self, now: u64) {
        let status = self.services.devices.lamps().status();
        for lamp in status {
            let metric = |name: &str, value: f64, unit: &str| Metric {
                name: name.into(),
                value,
                unit: unit.into(),
            };
            // Logged by the uplink if it cannot be queued.
            let _ = self.services.uplink.telemetry(
                &Source::host(),
                &format!("lamp-{}", lamp.id),
                &[
                    metric("level", lamp.level.into(), "%"),
                    metric("watts", lamp.watts, "W"),
                    metric("total-kwh", lamp.total_kwh, "kW.h"),
                    metric("failsafe", if lamp.failsafe { 1.0 } else { 0.0 }, "1"),
                ],
                now,
            );
        }
    }

    /// Stops and removes plugin `id` (its lamps go to the fail-safe level); returns
    /// whether it was installed.
    pub fn remove(&mut self, id: &str, reason: &str) -> bool {
        let Some(index) = self.plugins.iter().position(|p| p.id() == id) else {
            return false;
        };
        self.plugins.remove(index);
        self.bus.remove(index);
        self.vision.unsubscribe(id);
        let now = self.now();
        let changes = self.services.devices.lamps().release(id, reason);
        let safe_level = self.services.devices.lamps().safe_level();
        reports::failsafe(&self.services.uplink, &changes, safe_level, now);
        self.services.alarms.withdraw_sign(id);
        // The alarm driver keeps alarms on time in real time; `sao sim` has none, so its
        // virtual time moves them here (it is harmless when the driver runs too).
        self.services.alarms.advance();
        tracing::info!(plugin = id, "removed: {reason}");
        true
    }

    /// Applies new runtime settings: loop timing, the lighting fail-safe, the restart
    /// policy of every plugin.
    pub fn apply_settings(&mut self, settings: RuntimeSettings) {
        self.services.devices.lamps().set_policy(&settings.lighting);
        for plugin in &mut self.plugins {
            plugin.set_policy(settings.restart);
        }
        self.config.timing = settings.timing;
        self.config.lighting = settings.lighting;
        self.config.restart = settings.restart;
    }

    /// Applies a new config to plugin `id`.
    pub async fn reconfigure(&mut self, id: &str, config: Value) -> Result<(), String> {
        let now = self.now();
        self.installed(id)?.reconfigure(config, now).await
    }

    /// Installed plugin `id`, or why there is none.
    fn installed(&mut self, id: &str) -> Result<&mut Supervisor, String> {
        self.plugins
            .iter_mut()
            .find(|p| p.id() == id)
            .ok_or_else(|| format!("no plugin `{id}` installed"))
    }

    /// Hands `message` to plugin `id`'s `on-message`; errors when the plugin is not
    /// installed, does not take messages of that name, is not running, or refuses it.
    pub async fn deliver_message(&mut self, id: &str, message: Message) -> Result<(), String> {
        let now = self.now();
        let plugin = self.installed(id)?;
        if !plugin
            .manifest()
            .subscriptions
            .messages
            .contains(&message.name)
        {
            return Err(format!(
                "plugin `{id}` does not take `{}` messages",
                message.name
            ));
        }
        let result = plugin.deliver(Call::Message(message), now).await;
        self.commit_records();
        result
    }

    /// The installed plugins.
    pub fn plugins(&self) -> &[Supervisor] {
        &self.plugins
    }

    /// Packages that were refused.
    pub fn rejected(&self) -> &[Rejected] {
        &self.rejected
    }

    /// Shared services (devices, uplink, storage).
    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    /// Compiled-component cache (hits, compiles).
    pub fn cache_stats(&self) -> (u64, u64) {
        self.cache.stats()
    }

    /// The pole's database (each concern keeps its own trees).
    pub fn database(&self) -> &sled::Db {
        &self.db
    }

    /// The pole configuration.
    pub fn config(&self) -> &PoleConfig {
        &self.config
    }

    /// Status of all plugins, installed and rejected.
    pub fn plugin_status(&self) -> Value {
        let installed = self.plugins.iter().map(Supervisor::status);
        let rejected = self.rejected.iter().map(|r| {
            json!({ "package": r.package.display().to_string(), "health": { "state": "rejected", "reason": r.reason } })
        });
        Value::Array(installed.chain(rejected).collect())
    }

    fn plugin_states(&self) -> impl Iterator<Item = StatusEntry> + '_ {
        self.plugins.iter().map(|p| StatusEntry {
            id: p.id().to_string(),
            version: p.manifest().version.clone(),
            state: p.health().name(),
        })
    }

    /// Publishes the retained status record.
    pub fn publish_status(&mut self, online: bool) {
        self.published_states = self.plugin_states().collect();
        self.services
            .uplink
            .status(online, self.plugin_status(), self.now());
    }

    /// Marks the pole offline and flushes storage (call before exit; stop the MQTT link
    /// afterwards so the offline status goes out).
    pub async fn shutdown(&mut self) -> anyhow::Result<()> {
        if let Some(driver) = self.alarm_driver.take() {
            driver.stop();
        }
        self.vision.stop().await;
        // The hour so far is kept: a restart within it adds a second line for it.
        if let Some(hour) = self.kpi.take_partial() {
            if let Err(e) = self.ledger.append(&hour) {
                tracing::error!("KPI ledger: {e:#}");
            }
        }
        self.publish_status(false);
        self.services
            .uplink
            .outbox()
            .commit()
            .context("committing the outbox")?;
        self.db.flush().context("flushing the database")?;
        Ok(())
    }
}
