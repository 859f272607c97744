//! The technician page on the box: the runtime's side of `sao-web`.
//!
//! * [`recent`] — [`RecentRecords`], the records the page shows (events, latest streams,
//!   24 h series), kept as the uplink queues them.
//!
//! [`PoleView`] implements [`PoleSource`] over what the runtime shares between threads
//! (devices, alarms, cameras, the outbox, the recent records) and over [`LoopState`], what
//! only the main loop knows (health, plugins, camera states), which the loop copies after
//! every step. What only the loop can do (restart a plugin, keep a self-test's results
//! for the health checks) goes back to it as a [`Request`].

pub mod recent;

use std::sync::{Arc, Mutex, MutexGuard};

use sao_web::{
    AlarmView, AqiView, CameraMetrics, CameraView, DisplayView, EnergyView, HealthView,
    MetricsSnapshot, OutputTest, PluginMetrics, PluginView, PoleSnapshot, PoleSource, ReadingView,
    Series, UplinkView,
};
use tokio::sync::{mpsc, watch};

pub use recent::RecentRecords;

use crate::alarm::{Selector, TestOutcome};
use crate::host::Services;
use crate::records;
use crate::uplink::mqtt::LinkStatus;
use crate::vision::CameraAccess;

/// Recent events the page lists.
const EVENTS_SHOWN: usize = 20;

/// What only the main loop knows, as of its last step.
#[derive(Debug, Clone, Default)]
pub struct LoopState {
    /// The health verdict and findings.
    pub health: HealthView,
    /// Every plugin's state.
    pub plugins: Vec<PluginView>,
    /// Every plugin's counters.
    pub plugin_metrics: Vec<PluginMetrics>,
    /// Every running camera's state.
    pub cameras: Vec<CameraView>,
    /// Every running camera's counters.
    pub camera_metrics: Vec<CameraMetrics>,
}

/// What the page asks of the main loop.
#[derive(Debug)]
pub enum Request {
    /// Restart a plugin.
    RestartPlugin {
        /// Plugin id.
        id: String,
        /// Who asked.
        by: String,
    },
    /// A self-test ran: keep its results for the health checks.
    SelfTest(Vec<crate::alarm::OutputTest>),
}

/// The loop's end of the page: what it updates and what it answers.
pub struct PageLink {
    /// Shared with the page.
    pub state: Arc<Mutex<LoopState>>,
    /// The page's requests.
    pub requests: mpsc::UnboundedReceiver<Request>,
}

/// A running pole as the page sees it.
pub struct PoleView {
    identity: sao_web::Identity,
    services: Arc<Services>,
    recent: Arc<RecentRecords>,
    cameras: CameraAccess,
    state: Arc<Mutex<LoopState>>,
    requests: mpsc::UnboundedSender<Request>,
    link: Option<watch::Receiver<LinkStatus>>,
}

impl PoleView {
    /// A view of the pole `identity` over its services; returns the loop's end too.
    pub fn new(
        identity: sao_web::Identity,
        services: Arc<Services>,
        recent: Arc<RecentRecords>,
        cameras: CameraAccess,
        link: Option<watch::Receiver<LinkStatus>>,
    ) -> (Self, PageLink) {
        let state = Arc::new(Mutex::new(LoopState::default()));
        let (requests, receiver) = mpsc::unbounded_channel();
        let view = Self {
            identity,
            services,
            recent,
            cameras,
            state: state.clone(),
            requests,
            link,
        };
        (
            view,
            PageLink {
                state,
                requests: receiver,
            },
        )
    }

    fn state(&self) -> MutexGuard<'_, LoopState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn request(&self, request: Request) -> Result<(), String> {
        self.requests
            .send(request)
            .map_err(|_| "the pole is shutting down".to_string())
    }

    fn energy(&self) -> Option<EnergyView> {
        let (plugin, stream) = records::ENERGY_STREAM;
        let night = records::energy(&self.recent.latest(plugin, stream)?)?;
        Some(EnergyView {
            used_kwh: night.used_kwh,
            baseline_kwh: night.baseline_kwh,
            saved_percent: night.saving_percent.unwrap_or_default(),
            since_ms: night.night_start_ms,
        })
    }

    fn aqi(&self) -> Option<AqiView> {
        let (plugin, stream) = records::AQI_STREAM;
        let hour = records::aqi(&self.recent.latest(plugin, stream)?)?;
        Some(AqiView {
            value: hour.value,
            band: hour.band.into(),
            standard: hour.standard,
            ts_ms: hour.ts_ms,
        })
    }
}

/// The page served on a socket until stopped.
pub struct PageServer {
    addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl PageServer {
    /// Serves `view` on `listen` (`host:port`; port 0 picks a free one).
    pub async fn start(
        view: PoleView,
        config: &sao_web::WebConfig,
        listen: &str,
    ) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot serve the technician page on {listen}"))?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let config = config.clone();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            sao_web::serve(listener, Arc::new(view), &config, shutdown).await
        });
        tracing::info!("technician page on http://{addr}/");
        Ok(Self { addr, stop, task })
    }

    /// Where it listens.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// Stops serving, letting open requests finish.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("technician page: {e}"),
            Err(e) => tracing::error!("technician page task: {e}"),
        }
    }
}

/// The health verdict as the page shows it.
pub fn health_view(monitor: &crate::health::Monitor) -> HealthView {
    let status = |s: crate::health::Status| match s {
        crate::health::Status::Green => sao_web::HealthStatus::Green,
        crate::health::Status::Amber => sao_web::HealthStatus::Amber,
        crate::health::Status::Red => sao_web::HealthStatus::Red,
    };
    HealthView {
        status: status(monitor.status()),
        findings: monitor
            .findings()
            .into_iter()
            .map(|f| sao_web::Finding {
                component: f.component,
                status: status(f.status),
                problem: f.problem,
                since_ms: f.since_ms,
            })
            .collect(),
    }
}

impl PoleSource for PoleView {
    fn snapshot(&self) -> PoleSnapshot {
        let services = &self.services;
        let link = self.link.as_ref().map(|l| l.borrow().clone());
        let outbox = services.uplink.outbox().stats();
        let state = self.state().clone();
        let readings = services
            .devices
            .sensors()
            .all_latest()
            .into_values()
            .map(|r| ReadingView {
                sensor: r.sensor,
                value: r.value,
                unit: r.unit,
                ts_ms: r.ts,
            })
            .collect();
        let lamps = services
            .devices
            .lamps()
            .status()
            .into_iter()
            .map(|l| sao_web::LampView {
                id: l.id,
                level_percent: l.level.into(),
                watts: l.watts,
                total_kwh: l.total_kwh,
                failsafe: l.failsafe,
                controller: l.controller,
            })
            .collect();
        let alarms = services
            .alarms
            .active()
            .into_iter()
            .map(|a| AlarmView {
                id: a.id,
                kind: a.request.kind.clone(),
                level: a.request.level.as_str().into(),
                source: a.source.plugin.clone(),
                // A 0.1.0 `raise` has an English message only.
                message_th: Some(&a.request.message.th)
                    .filter(|th| !th.is_empty())
                    .unwrap_or(&a.request.message.en)
                    .clone(),
                message_en: a.request.message.en.clone(),
                raised_ms: a.raised_ms,
                acknowledged_by: a.acknowledged.as_ref().map(|k| k.by.clone()),
                audible: a.audible(),
            })
            .collect();
        let mut events = self.recent.events();
        events.truncate(EVENTS_SHOWN);
        PoleSnapshot {
            identity: self.identity.clone(),
            now_ms: services.devices.now_ms(),
            uplink: UplinkView {
                connected: link.as_ref().is_some_and(|l| l.connected),
                broker: link.map(|l| l.broker).unwrap_or_default(),
                outbox_depth: outbox.pending_records(),
            },
            health: state.health,
            plugins: state.plugins,
            readings,
            lamps,
            energy: self.energy(),
            aqi: self.aqi(),
            alarms,
            events,
            cameras: state.cameras,
            display: services.alarms.showing().map(|s| DisplayView {
                th: s.message.th,
                en: s.message.en,
                source: s.source,
            }),
            series: self.recent.series_info(),
        }
    }

    fn series(&self, name: &str, since_ms: u64) -> Option<Series> {
        self.recent.series(name, since_ms)
    }

    fn camera_jpeg(&self, camera: &str) -> Option<Vec<u8>> {
        self.cameras.latest(camera).map(|s| s.jpeg)
    }

    fn metrics(&self) -> MetricsSnapshot {
        let state = self.state().clone();
        let outbox = self.services.uplink.outbox().stats();
        MetricsSnapshot {
            plugins: state.plugin_metrics,
            outbox_depth: outbox.pending_records(),
            outbox_evicted: outbox.counters.evicted.iter().sum(),
            cameras: state.camera_metrics,
        }
    }

    fn acknowledge(&self, alarm: u64, by: &str) -> Result<(), String> {
        match self.services.alarms.acknowledge(Selector::One(alarm), by) {
            Ok(0) => Err(format!("no active alarm {alarm}")),
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    fn restart_plugin(&self, plugin: &str, by: &str) -> Result<(), String> {
        if !self.state().plugins.iter().any(|p| p.id == plugin) {
            return Err(format!("no plugin `{plugin}` on this pole"));
        }
        self.request(Request::RestartPlugin {
            id: plugin.into(),
            by: by.into(),
        })
    }

    fn test_outputs(&self, by: &str) -> Result<Vec<OutputTest>, String> {
        let results = self.services.alarms.self_test();
        tracing::info!(by, ?results, "output self-test from the page");
        let views = results
            .iter()
            .map(|t| OutputTest {
                output: t.output.clone(),
                ok: t.outcome == TestOutcome::Passed,
                error: match &t.outcome {
                    TestOutcome::Passed => None,
                    TestOutcome::Failed(why) => Some(why.clone()),
                    TestOutcome::Skipped(why) => Some(format!("not tested: {why}")),
                },
            })
            .collect();
        self.request(Request::SelfTest(results))?;
        Ok(views)
    }
}
