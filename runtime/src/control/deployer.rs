//! Running deployments: a desired deployment document becomes one job per plugin, and
//! each job moves QUEUED → downloading → installing → health window → SUCCEEDED, or ends
//! FAILED (refused before anything changed) or FAILED_ROLLED_BACK (the new version failed
//! and the previous one runs again). Every step is persisted before it is acted on (see
//! [`super::deploy`]), so [`Controller::resume`] can pick a job up after a power loss.

use std::path::PathBuf;

use serde_json::{json, Value};

use super::audit::{AuditEntry, Outcome};
use super::deploy::{
    file_digest, Deployed, DeploymentDoc, Installed, Job, JobState, PackageSource, Previous,
    Wanted, MAX_CHUNKS,
};
use super::{document, download, Controller};
use crate::config::PluginSpec;
use crate::plugin::manifest::{is_name, HOST_ID};
use crate::plugin::PluginHealth;
use crate::runtime::Runtime;
use crate::uplink::Source;

/// Interruptions of a health window after which the new version is rolled back.
const MAX_INTERRUPTIONS: u32 = 2;

impl Controller {
    /// Starts every plugin the pole should run: `pole.toml`'s, with deployed packages in
    /// place of theirs and removed ones left out, then the deployed-only ones.
    pub(super) async fn start_plugins(&mut self, runtime: &mut Runtime) {
        for spec in runtime.config().plugins.clone() {
            let Ok(prepared) = runtime.stage(&spec) else {
                continue; // reported by the runtime
            };
            let id = prepared.manifest.id.clone();
            self.defaults.insert(id.clone(), spec.config.clone());
            self.local.insert(id.clone(), spec.clone());
            match self.deploy.installed(&id) {
                None => {
                    let config = self.effective(&id, None);
                    runtime.start(prepared, &spec, config).await;
                }
                Some(Installed::Removed) => {
                    tracing::info!(plugin = %id, "removed by an operator; not started")
                }
                Some(Installed::Package(_)) => {} // started below
            }
        }
        for (id, installed) in self.deploy.all_installed() {
            if let Installed::Package(deployed) = installed {
                if let Err(e) = self.start_deployed(runtime, &id, &deployed).await {
                    tracing::error!(plugin = %id, "deployed package not started: {e}");
                }
            }
        }
    }

    /// The spec of a deployed package.
    fn deployed_spec(&self, id: &str, deployed: &Deployed) -> PluginSpec {
        PluginSpec {
            package: deployed.path.clone(),
            grants: deployed.grants.clone(),
            config: self.defaults.get(id).cloned().unwrap_or_else(|| json!({})),
            telemetry_per_minute: deployed.telemetry_per_minute,
        }
    }

    async fn start_deployed(
        &mut self,
        runtime: &mut Runtime,
        id: &str,
        deployed: &Deployed,
    ) -> Result<(), String> {
        let spec = self.deployed_spec(id, deployed);
        let prepared = runtime.stage_replacement(&spec, id)?;
        let config = self.effective(id, None);
        runtime.start(prepared, &spec, config).await;
        Ok(())
    }

    /// Picks up unfinished jobs after a restart: downloads resume from the chunks stored,
    /// a health window that was interrupted starts again (or, interrupted too often, the
    /// deployment is rolled back).
    pub(super) async fn resume(&mut self, runtime: &mut Runtime) {
        let now = runtime.now();
        for mut job in self.deploy.jobs() {
            match job.state {
                JobState::Downloading => {
                    if let Some(w) = job.wanted.clone() {
                        self.start_download(&job.plugin, &w);
                    }
                    job.since_ms = now; // the download timeout starts again
                    self.save(&job);
                }
                JobState::Watching { .. } => {
                    job.interruptions += 1;
                    if job.interruptions >= MAX_INTERRUPTIONS {
                        let reason = format!(
                            "the pole restarted {} times during the health window",
                            job.interruptions
                        );
                        self.roll_back(runtime, job, reason).await;
                        continue;
                    }
                    let window = job.wanted.as_ref().map_or(0, |w| w.health_window_s);
                    job.state = JobState::Watching {
                        until_ms: now + window * 1000,
                    };
                    job.since_ms = now;
                    self.save(&job);
                    tracing::info!(plugin = %job.plugin, "deployment resumed: health window restarted");
                }
                _ => {}
            }
        }
        self.advance(runtime).await;
        // Say what runs now, if there is anything to say.
        if !self.deploy.jobs().is_empty() {
            self.publish_deploy_status(runtime);
        }
    }

    /// Handles a desired deployment document from `target` (rank `rank`).
    pub(super) async fn deployment(&mut self, runtime: &mut Runtime, rank: usize, payload: &[u8]) {
        let target = self.targets.name(rank).to_string();
        let (doc, signed_by) = match self.read_deployment(&target, payload) {
            Ok(Some(read)) => read,
            Ok(None) => return, // the document in force, delivered again
            Err((version, signed_by, reason)) => {
                self.audit.record(&AuditEntry {
                    ts: runtime.now(),
                    what: "deployment".into(),
                    plugin: "*".into(),
                    target: target.clone(),
                    version,
                    signed_by,
                    outcome: Outcome::Rejected,
                    reason: Some(reason.clone()),
                });
                self.rejected_deployment =
                    Some(json!({ "target": target, "version": version, "reason": reason }));
                self.publish_deploy_status(runtime);
                return;
            }
        };
        if let Err(e) = self.deploy.put_doc(&target, &doc) {
            tracing::error!("control: deployment document not stored: {e}");
            return;
        }
        self.rejected_deployment = None;
        let now = runtime.now();
        let job = |plugin: &str, wanted: Option<Wanted>| Job {
            plugin: plugin.to_string(),
            wanted,
            target: target.clone(),
            doc_version: doc.version,
            signed_by: signed_by.clone(),
            state: JobState::Queued,
            since_ms: now,
            previous: None,
            interruptions: 0,
        };
        for wanted in &doc.plugins {
            if self.overridden(&wanted.id, rank) {
                continue;
            }
            let mut next = job(&wanted.id, Some(wanted.clone()));
            if self.already_running(wanted) {
                // Nothing to do, but the operator sees this document's answer.
                next.state = JobState::Succeeded;
            } else {
                self.supersede(&wanted.id);
            }
            self.save(&next);
        }
        for id in &doc.remove {
            if self.overridden(id, rank) {
                continue;
            }
            self.supersede(id);
            let removal = job(id, None);
            self.remove_plugin(runtime, removal);
        }
        self.advance(runtime).await;
        self.publish_deploy_status(runtime);
    }

    /// Checks a deployment document; `Ok(None)` for the one in force delivered again.
    #[allow(clippy::type_complexity)]
    fn read_deployment(
        &self,
        target: &str,
        payload: &[u8],
    ) -> Result<Option<(DeploymentDoc, Option<String>)>, (Option<u64>, Option<String>, String)>
    {
        let verified = document::verify(payload, target, &self.operators, self.require_signature)
            .map_err(|e| (None, None, e.to_string()))?;
        let signed_by = verified.signed_by.clone();
        let version = verified.version();
        let refuse = |reason: String| (version, signed_by.clone(), reason);
        let doc: DeploymentDoc = verified
            .parse()
            .map_err(|e| refuse(format!("not a deployment document: {e}")))?;
        let mut ids = std::collections::BTreeSet::new();
        for id in doc.plugins.iter().map(|w| &w.id).chain(&doc.remove) {
            if !is_name(id) || id == HOST_ID {
                return Err(refuse(format!("`{id}` is not a plugin id")));
            }
            if !ids.insert(id) {
                return Err(refuse(format!("plugin `{id}` is listed twice")));
            }
        }
        for w in &doc.plugins {
            if w.digest_hex().is_none() {
                return Err(refuse(format!(
                    "plugin `{}`: digest `{}` is not sha256:<64 hex digits>",
                    w.id, w.digest
                )));
            }
            match &w.source {
                PackageSource::Mqtt { chunks } if !(1..=MAX_CHUNKS).contains(chunks) => {
                    return Err(refuse(format!(
                        "plugin `{}`: {chunks} chunks (1 to {MAX_CHUNKS})",
                        w.id
                    )))
                }
                PackageSource::Url(url) => download::check_url(url)
                    .map_err(|e| refuse(format!("plugin `{}`: {e}", w.id)))?,
                PackageSource::Mqtt { .. } => {}
            }
        }
        if let Some(current) = self.deploy.doc(target) {
            if doc == current {
                return Ok(None);
            }
            if doc.version <= current.version {
                return Err(refuse(format!(
                    "stale: version {} is in force from {target}; send a higher version",
                    current.version
                )));
            }
        }
        Ok(Some((doc, signed_by)))
    }

    /// Whether a more specific target's deployment document names plugin `id`.
    fn overridden(&self, id: &str, rank: usize) -> bool {
        self.targets.all()[rank + 1..].iter().any(|target| {
            self.deploy.doc(target).is_some_and(|doc| {
                doc.plugins.iter().any(|w| w.id == id) || doc.remove.iter().any(|r| r == id)
            })
        })
    }

    /// Whether `wanted` is what runs already (a document re-listing it changes nothing).
    fn already_running(&self, wanted: &Wanted) -> bool {
        let installed = matches!(
            self.deploy.installed(&wanted.id),
            Some(Installed::Package(d)) if d.digest == wanted.digest
        );
        let settled = self
            .deploy
            .job(&wanted.id)
            .is_none_or(|job| job.state.is_final());
        installed && settled
    }

    /// A newer document replaces a job still in progress: a download stops (its chunks
    /// are dropped); a version in its health window is kept as what runs.
    fn supersede(&mut self, id: &str) {
        let Some(job) = self.deploy.job(id).filter(|j| !j.state.is_final()) else {
            return;
        };
        if let Some(w) = job.wanted.as_ref() {
            self.stop_download(id, w);
        }
        tracing::info!(plugin = id, state = ?job.state, "deployment superseded by a newer document");
    }

    /// A chunk of package `hex` arrived.
    pub(super) async fn chunk(
        &mut self,
        runtime: &mut Runtime,
        hex: &str,
        index: u32,
        bytes: &[u8],
    ) {
        let wanted = self.deploy.jobs().into_iter().any(|job| {
            job.state == JobState::Downloading
                && job.wanted.as_ref().is_some_and(|w| {
                    w.digest_hex() == Some(hex)
                        && matches!(w.source, PackageSource::Mqtt { chunks } if index < chunks)
                })
        });
        if !wanted {
            return;
        }
        if let Err(e) = self.deploy.put_chunk(hex, index, bytes) {
            tracing::error!("control: chunk not stored: {e}");
            return;
        }
        self.advance(runtime).await;
    }

    /// Moves every unfinished job as far as it can go; publishes the status if any moved.
    pub async fn advance(&mut self, runtime: &mut Runtime) {
        let mut moved = false;
        for job in self.deploy.jobs() {
            let mut job = job;
            while !job.state.is_final() {
                let before = job.state.clone();
                job = self.step(runtime, job).await;
                if job.state == before {
                    break;
                }
                moved = true;
            }
        }
        if moved {
            self.publish_deploy_status(runtime);
        }
    }

    /// One step of a job; returns it as it now stands (persisted).
    async fn step(&mut self, runtime: &mut Runtime, mut job: Job) -> Job {
        let now = runtime.now();
        let Some(wanted) = job.wanted.clone() else {
            return job;
        };
        let hex = wanted.digest_hex().unwrap_or_default().to_string();
        match job.state {
            JobState::Queued => {
                self.start_download(&job.plugin, &wanted);
                self.enter(&mut job, JobState::Downloading, now);
            }
            JobState::Downloading => {
                let bytes = match self.received(&job.plugin, &wanted).await {
                    Ok(Some(bytes)) => bytes,
                    Ok(None) if now.saturating_sub(job.since_ms) > self.download_timeout_ms => {
                        let progress = match wanted.source {
                            PackageSource::Mqtt { chunks } => {
                                format!("{} of {chunks} chunks", self.deploy.chunk_count(&hex))
                            }
                            PackageSource::Url(_) => "the download had not finished".into(),
                        };
                        self.stop_download(&job.plugin, &wanted);
                        let reason = format!(
                            "download timed out: {progress} after {} s",
                            self.download_timeout_ms / 1000
                        );
                        return self.fail(runtime, job, reason);
                    }
                    Ok(None) => return job,
                    Err(reason) => {
                        self.stop_download(&job.plugin, &wanted);
                        return self.fail(runtime, job, reason);
                    }
                };
                self.stop_download(&job.plugin, &wanted);
                let digest = file_digest(&bytes);
                if digest != wanted.digest {
                    let reason = format!(
                        "digest mismatch: the package received is {digest}, not {}",
                        wanted.digest
                    );
                    return self.fail(runtime, job, reason);
                }
                let path = self.package_path(&hex);
                if let Err(e) = crate::engine::write_atomically(&path, &bytes) {
                    let reason = format!("cannot store the package: {e:#}");
                    return self.fail(runtime, job, reason);
                }
                self.enter(&mut job, JobState::Installing, now);
            }
            JobState::Installing => return self.install(runtime, job, &wanted).await,
            JobState::Watching { until_ms } => {
                let health = runtime
                    .plugins()
                    .iter()
                    .find(|p| p.id() == job.plugin)
                    .map(|p| (p.health().clone(), p.stats()));
                let failure = match health {
                    None => Some("it is not running".to_string()),
                    Some((PluginHealth::Running, stats)) if stats.crashes == 0 => None,
                    Some((health, stats)) => Some(format!(
                        "{} in its health window ({} crashes): {}",
                        health.name(),
                        stats.crashes,
                        stats.last_error.unwrap_or_default()
                    )),
                };
                match failure {
                    Some(reason) => {
                        let reason = format!("version {} failed: {reason}", wanted.version);
                        return self.roll_back(runtime, job, reason).await;
                    }
                    None if now >= until_ms => return self.succeed(runtime, job),
                    None => {}
                }
            }
            _ => {}
        }
        job
    }

    /// Starts fetching `wanted`'s package: subscribes to its chunks, or starts the HTTP
    /// download on a blocking thread.
    fn start_download(&mut self, plugin: &str, wanted: &Wanted) {
        let hex = wanted.digest_hex().unwrap_or_default();
        match &wanted.source {
            PackageSource::Mqtt { .. } => self.subscriptions.add(&self.targets.chunk_filter(hex)),
            PackageSource::Url(url) => {
                let url = url.clone();
                let timeout = std::time::Duration::from_millis(self.download_timeout_ms);
                let task = tokio::task::spawn_blocking(move || download::fetch(&url, timeout));
                self.downloads.insert(plugin.to_string(), task);
            }
        }
    }

    /// Stops fetching `wanted`'s package and drops what was received of it.
    fn stop_download(&mut self, plugin: &str, wanted: &Wanted) {
        let hex = wanted.digest_hex().unwrap_or_default();
        match wanted.source {
            PackageSource::Mqtt { .. } => {
                self.subscriptions.remove(&self.targets.chunk_filter(hex));
                if let Err(e) = self.deploy.drop_chunks(hex) {
                    tracing::error!("control: {e}");
                }
            }
            // A blocking download cannot be interrupted; its result is ignored.
            PackageSource::Url(_) => drop(self.downloads.remove(plugin)),
        }
    }

    /// The whole package, once received.
    async fn received(&mut self, plugin: &str, wanted: &Wanted) -> Result<Option<Vec<u8>>, String> {
        match &wanted.source {
            PackageSource::Mqtt { chunks } => {
                let hex = wanted.digest_hex().unwrap_or_default();
                self.deploy
                    .assemble(hex, *chunks)
                    .map_err(|e| format!("storage: {e}"))
            }
            PackageSource::Url(_) => {
                let Some(task) = self.downloads.remove(plugin) else {
                    self.start_download(plugin, wanted); // after a restart
                    return Ok(None);
                };
                if !task.is_finished() {
                    self.downloads.insert(plugin.to_string(), task);
                    return Ok(None);
                }
                task.await
                    .map_err(|e| format!("download task failed: {e}"))?
                    .map(Some)
            }
        }
    }

    fn package_path(&self, hex: &str) -> PathBuf {
        self.packages_dir.join(format!("{hex}.sao"))
    }

    fn enter(&self, job: &mut Job, state: JobState, now: u64) {
        tracing::info!(plugin = %job.plugin, state = ?state, "deployment");
        job.state = state;
        job.since_ms = now;
        self.save(job);
    }

    fn save(&self, job: &Job) {
        if let Err(e) = self.deploy.put_job(job) {
            tracing::error!(plugin = %job.plugin, "control: deployment state not stored: {e}");
        }
    }

    /// Verifies and starts the downloaded package in place of what runs.
    async fn install(&mut self, runtime: &mut Runtime, mut job: Job, wanted: &Wanted) -> Job {
        let now = runtime.now();
        let hex = wanted.digest_hex().unwrap_or_default();
        let deployed = Deployed {
            version: wanted.version.clone(),
            digest: wanted.digest.clone(),
            path: self.package_path(hex),
            grants: wanted.grants.clone(),
            telemetry_per_minute: wanted.telemetry_per_minute,
        };
        let spec = self.deployed_spec(&job.plugin, &deployed);
        let prepared = match runtime.stage_replacement(&spec, &job.plugin) {
            Ok(p) => p,
            Err(reason) => return self.fail(runtime, job, reason),
        };
        let manifest = &prepared.manifest;
        if manifest.id != job.plugin || manifest.version != wanted.version {
            let reason = format!(
                "the package is {} {}, not the announced {} {}",
                manifest.id, manifest.version, job.plugin, wanted.version
            );
            return self.fail(runtime, job, reason);
        }
        let previous = match self.deploy.installed(&job.plugin) {
            Some(Installed::Package(d)) => Previous::Deployed(d),
            Some(Installed::Removed) => Previous::Absent,
            None if self.local.contains_key(&job.plugin) => Previous::Local,
            None => Previous::Absent,
        };
        job.previous = Some(previous);
        job.state = JobState::Watching {
            until_ms: now + wanted.health_window_s * 1000,
        };
        job.since_ms = now;
        // The pointer moves first: from here on, a restart runs the new version.
        if let Err(e) = self
            .deploy
            .switch(&job.plugin, Some(&Installed::Package(deployed)), &job)
        {
            let reason = format!("cannot record the installation: {e}");
            return self.fail(runtime, job, reason);
        }
        runtime.remove(
            &job.plugin,
            &format!("replaced by version {}", wanted.version),
        );
        let config = self.effective(&job.plugin, None);
        runtime.start(prepared, &spec, config).await;
        tracing::info!(plugin = %job.plugin, version = %wanted.version, "deployment: started; health window open");
        job
    }

    /// Ends a job that changed nothing.
    fn fail(&mut self, runtime: &Runtime, mut job: Job, reason: String) -> Job {
        if let Some(hex) = job.wanted.as_ref().and_then(Wanted::digest_hex) {
            let _ = std::fs::remove_file(self.package_path(hex));
        }
        self.enter(&mut job, JobState::Failed { reason }, runtime.now());
        self.audit_job(runtime, &job, Outcome::Rejected);
        job
    }

    fn succeed(&mut self, runtime: &Runtime, mut job: Job) -> Job {
        if let Some(Previous::Deployed(old)) = &job.previous {
            let new = job.wanted.as_ref().and_then(Wanted::digest_hex);
            if new.is_some_and(|hex| self.package_path(hex) != old.path) {
                let _ = std::fs::remove_file(&old.path);
            }
        }
        self.enter(&mut job, JobState::Succeeded, runtime.now());
        self.audit_job(runtime, &job, Outcome::Applied);
        job
    }

    /// Puts back what ran before the job's version.
    async fn roll_back(&mut self, runtime: &mut Runtime, mut job: Job, reason: String) -> Job {
        let now = runtime.now();
        let previous = job.previous.clone().unwrap_or(Previous::Absent);
        let installed = match &previous {
            Previous::Deployed(d) => Some(Installed::Package(d.clone())),
            Previous::Local | Previous::Absent => None,
        };
        job.state = JobState::FailedRolledBack { reason };
        job.since_ms = now;
        if let Err(e) = self.deploy.switch(&job.plugin, installed.as_ref(), &job) {
            tracing::error!(plugin = %job.plugin, "control: rollback not recorded: {e}");
        }
        runtime.remove(&job.plugin, "rolled back");
        let restored = match previous {
            Previous::Deployed(d) => self.start_deployed(runtime, &job.plugin, &d).await,
            Previous::Local => match self.local.get(&job.plugin).cloned() {
                Some(spec) => match runtime.stage_replacement(&spec, &job.plugin) {
                    Ok(prepared) => {
                        let config = self.effective(&job.plugin, None);
                        runtime.start(prepared, &spec, config).await;
                        Ok(())
                    }
                    Err(e) => Err(e),
                },
                None => Ok(()),
            },
            Previous::Absent => Ok(()),
        };
        if let Err(e) = restored {
            tracing::error!(plugin = %job.plugin, "rollback: the previous version did not start: {e}");
        }
        if let Some(hex) = job.wanted.as_ref().and_then(Wanted::digest_hex) {
            let _ = std::fs::remove_file(self.package_path(hex));
        }
        tracing::warn!(plugin = %job.plugin, reason = job.state.reason(), "deployment rolled back");
        self.audit_job(runtime, &job, Outcome::RolledBack);
        job
    }

    fn remove_plugin(&mut self, runtime: &mut Runtime, mut job: Job) {
        job.state = JobState::Removed;
        if let Err(e) = self
            .deploy
            .switch(&job.plugin, Some(&Installed::Removed), &job)
        {
            tracing::error!(plugin = %job.plugin, "control: removal not recorded: {e}");
            return;
        }
        runtime.remove(&job.plugin, "removed by an operator");
        self.audit_job(runtime, &job, Outcome::Applied);
    }

    fn audit_job(&self, runtime: &Runtime, job: &Job, outcome: Outcome) {
        let what = match &job.wanted {
            Some(w) => format!("deployment of {}", w.version),
            None => "removal".to_string(),
        };
        self.audit.record(&AuditEntry {
            ts: runtime.now(),
            what,
            plugin: job.plugin.clone(),
            target: job.target.clone(),
            version: Some(job.doc_version),
            signed_by: job.signed_by.clone(),
            outcome,
            reason: job.state.reason().map(str::to_string),
        });
    }

    /// Publishes the retained `…/deploy/status`: every plugin's last job and what runs.
    pub(super) fn publish_deploy_status(&self, runtime: &Runtime) {
        let running = |id: &str| {
            runtime
                .plugins()
                .iter()
                .find(|p| p.id() == id)
                .map(|p| p.manifest().version.clone())
        };
        let plugins: Vec<Value> = self
            .deploy
            .jobs()
            .iter()
            .map(|job| {
                json!({
                    "id": job.plugin,
                    "version": job.wanted.as_ref().map(|w| &w.version),
                    "state": job.state.reported(),
                    "phase": job.state.phase(),
                    "reason": job.state.reason(),
                    "target": job.target,
                    "doc-version": job.doc_version,
                    "running": running(&job.plugin),
                    "since": job.since_ms,
                })
            })
            .collect();
        let body = json!({ "plugins": plugins, "rejected": self.rejected_deployment });
        let Value::Object(body) = body else {
            unreachable!("json! object literal")
        };
        // Logged by the uplink if it cannot be queued.
        let _ = self
            .uplink
            .state(&Source::host(), "deploy/status", body, runtime.now());
    }
}
