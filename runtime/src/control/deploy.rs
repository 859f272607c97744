//! Plugin deployment state, kept in sled so an interrupted deployment resumes or rolls
//! back cleanly after a power loss.
//!
//! * `doc/{target}`: the deployment document accepted from each target (for version
//!   checks and precedence).
//! * `job/{plugin}`: the latest deployment job of each plugin and where it stands.
//! * `installed/{plugin}`: the deployed package in force, or a removal. This pointer is
//!   what the pole runs at boot, in place of `pole.toml`'s package; it changes in one
//!   atomic write, only after the new package file is complete on disk, and the previous
//!   package file is kept until the job has succeeded — so after any crash the pole runs
//!   the old version or the new one, never neither.
//! * `chunk/{sha256}/{index}`: package chunks received so far (a download resumes from
//!   them after a restart).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::plugin::Capability;

/// Where a package's bytes come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum PackageSource {
    /// Retained chunks on `sao/v1/{site}/pkg/{sha256 hex}/{index}`, index from 0.
    Mqtt {
        /// How many chunks.
        chunks: u32,
    },
    /// An `http://` or `https://` URL (the system's CA roots check the server).
    Url(String),
}

/// Most chunks a package may come in.
pub const MAX_CHUNKS: u32 = 4096;

/// One plugin a deployment document asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Wanted {
    /// Plugin id (must match the package's manifest).
    pub id: String,
    /// Plugin version (must match the package's manifest).
    pub version: String,
    /// `sha256:<hex>` of the whole package file.
    pub digest: String,
    /// Where to get it.
    pub source: PackageSource,
    /// Capabilities the operator grants it.
    pub grants: Vec<Capability>,
    /// Upstream records it may send per minute.
    #[serde(default = "crate::config::PluginSpec::default_telemetry_per_minute")]
    pub telemetry_per_minute: u32,
    /// How long the new version must run without a crash before the deployment succeeds.
    #[serde(default = "Wanted::default_health_window_s")]
    pub health_window_s: u64,
}

impl Wanted {
    fn default_health_window_s() -> u64 {
        60
    }

    /// The digest's hex part, if it is a well-formed `sha256:<64 hex>`.
    pub fn digest_hex(&self) -> Option<&str> {
        let hex = self.digest.strip_prefix("sha256:")?;
        (hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then_some(hex)
    }
}

/// A deployment document's body, once its signature and `target` are checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DeploymentDoc {
    /// The operator's version; only a higher one replaces it.
    pub version: u64,
    /// Plugins to install or upgrade.
    #[serde(default)]
    pub plugins: Vec<Wanted>,
    /// Plugin ids to remove.
    #[serde(default)]
    pub remove: Vec<String>,
}

/// A deployed package in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Deployed {
    /// Plugin version.
    pub version: String,
    /// `sha256:<hex>` of the package file.
    pub digest: String,
    /// The package file on the pole.
    pub path: PathBuf,
    /// Granted capabilities.
    pub grants: Vec<Capability>,
    /// Upstream records per minute.
    pub telemetry_per_minute: u32,
}

/// What the pole runs for a plugin instead of `pole.toml`'s entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Installed {
    /// A deployed package.
    Package(Deployed),
    /// Removed by an operator.
    Removed,
}

/// What ran before a deployment, to go back to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Previous {
    /// An earlier deployed package.
    Deployed(Deployed),
    /// The package `pole.toml` names.
    Local,
    /// Nothing: the plugin is new to this pole.
    Absent,
}

/// Where a deployment job stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "state",
    rename_all = "kebab-case",
    rename_all_fields = "kebab-case"
)]
pub enum JobState {
    /// Accepted, not started.
    Queued,
    /// Receiving the package.
    Downloading,
    /// Package complete and verified by digest; not yet running.
    Installing,
    /// Running the new version; it must stay healthy until `until-ms`.
    Watching {
        /// Pole time the health window ends.
        until_ms: u64,
    },
    /// The new version passed its health window.
    Succeeded,
    /// The new version failed and the previous one runs again.
    FailedRolledBack {
        /// Why.
        reason: String,
    },
    /// Refused before anything changed (bad package, digest, signature, download).
    Failed {
        /// Why.
        reason: String,
    },
    /// The plugin was removed.
    Removed,
}

impl JobState {
    /// The state operators see: QUEUED, IN_PROGRESS, SUCCEEDED, FAILED_ROLLED_BACK,
    /// FAILED or REMOVED.
    pub fn reported(&self) -> &'static str {
        match self {
            JobState::Queued => "QUEUED",
            JobState::Downloading | JobState::Installing | JobState::Watching { .. } => {
                "IN_PROGRESS"
            }
            JobState::Succeeded => "SUCCEEDED",
            JobState::FailedRolledBack { .. } => "FAILED_ROLLED_BACK",
            JobState::Failed { .. } => "FAILED",
            JobState::Removed => "REMOVED",
        }
    }

    /// The step within IN_PROGRESS.
    pub fn phase(&self) -> Option<&'static str> {
        match self {
            JobState::Downloading => Some("downloading"),
            JobState::Installing => Some("installing"),
            JobState::Watching { .. } => Some("health-window"),
            _ => None,
        }
    }

    /// Why it failed.
    pub fn reason(&self) -> Option<&str> {
        match self {
            JobState::FailedRolledBack { reason } | JobState::Failed { reason } => Some(reason),
            _ => None,
        }
    }

    /// Whether the job is over.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            JobState::Succeeded
                | JobState::FailedRolledBack { .. }
                | JobState::Failed { .. }
                | JobState::Removed
        )
    }
}

/// One plugin's deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Job {
    /// The plugin.
    pub plugin: String,
    /// What is wanted; `None` for a removal.
    pub wanted: Option<Wanted>,
    /// The target whose document asked for it.
    pub target: String,
    /// That document's version.
    pub doc_version: u64,
    /// The operator key that signed it.
    pub signed_by: Option<String>,
    /// Where it stands.
    pub state: JobState,
    /// Pole time it entered its state.
    pub since_ms: u64,
    /// What ran before the new version was started (set when it is).
    pub previous: Option<Previous>,
    /// Restarts of the pole during the health window.
    pub interruptions: u32,
}

/// The deployment tree.
#[derive(Debug, Clone)]
pub struct DeployStore {
    tree: sled::Tree,
}

fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("deployment records serialise")
}

impl DeployStore {
    /// Opens the store in the pole's database.
    pub fn open(db: &sled::Db) -> sled::Result<Self> {
        Ok(Self {
            tree: db.open_tree("control-deploy")?,
        })
    }

    fn get<T: for<'de> Deserialize<'de>>(&self, key: String) -> Option<T> {
        let bytes = self.tree.get(key).ok().flatten()?;
        serde_json::from_slice(&bytes).ok()
    }

    fn put<T: Serialize>(&self, key: String, value: &T) -> sled::Result<()> {
        self.tree.insert(key, json(value))?;
        self.tree.flush()?;
        Ok(())
    }

    /// The document accepted from `target`.
    pub fn doc(&self, target: &str) -> Option<DeploymentDoc> {
        self.get(format!("doc/{target}"))
    }

    /// Stores the document accepted from `target`.
    pub fn put_doc(&self, target: &str, doc: &DeploymentDoc) -> sled::Result<()> {
        self.put(format!("doc/{target}"), doc)
    }

    /// The job of `plugin`.
    pub fn job(&self, plugin: &str) -> Option<Job> {
        self.get(format!("job/{plugin}"))
    }

    /// Stores a job.
    pub fn put_job(&self, job: &Job) -> sled::Result<()> {
        self.put(format!("job/{}", job.plugin), job)
    }

    /// Every job, by plugin id.
    pub fn jobs(&self) -> Vec<Job> {
        self.tree
            .scan_prefix("job/")
            .values()
            .filter_map(|v| serde_json::from_slice(&v.ok()?).ok())
            .collect()
    }

    /// What runs for `plugin` instead of `pole.toml`'s entry.
    pub fn installed(&self, plugin: &str) -> Option<Installed> {
        self.get(format!("installed/{plugin}"))
    }

    /// Every plugin with a deployed package or a removal.
    pub fn all_installed(&self) -> Vec<(String, Installed)> {
        self.tree
            .scan_prefix("installed/")
            .filter_map(|entry| {
                let (key, value) = entry.ok()?;
                let id = std::str::from_utf8(&key).ok()?.strip_prefix("installed/")?;
                Some((id.to_string(), serde_json::from_slice(&value).ok()?))
            })
            .collect()
    }

    /// Switches what runs for `plugin` (`None`: `pole.toml`'s entry again), atomically
    /// with its job's new state.
    pub fn switch(
        &self,
        plugin: &str,
        installed: Option<&Installed>,
        job: &Job,
    ) -> sled::Result<()> {
        let mut batch = sled::Batch::default();
        let key = format!("installed/{plugin}");
        match installed {
            Some(installed) => batch.insert(key.as_str(), json(installed)),
            None => batch.remove(key.as_str()),
        }
        batch.insert(format!("job/{plugin}").as_str(), json(job));
        self.tree.apply_batch(batch)?;
        self.tree.flush()?;
        Ok(())
    }

    /// Stores chunk `index` of the package `hex`.
    pub fn put_chunk(&self, hex: &str, index: u32, bytes: &[u8]) -> sled::Result<()> {
        self.tree.insert(format!("chunk/{hex}/{index:08}"), bytes)?;
        Ok(())
    }

    /// How many chunks of `hex` are stored.
    pub fn chunk_count(&self, hex: &str) -> usize {
        self.tree.scan_prefix(format!("chunk/{hex}/")).count()
    }

    /// The package `hex` assembled from chunks 0..`chunks`, if all are there.
    pub fn assemble(&self, hex: &str, chunks: u32) -> sled::Result<Option<Vec<u8>>> {
        let mut bytes = Vec::new();
        for index in 0..chunks {
            match self.tree.get(format!("chunk/{hex}/{index:08}"))? {
                Some(chunk) => bytes.extend_from_slice(&chunk),
                None => return Ok(None),
            }
        }
        Ok(Some(bytes))
    }

    /// Drops the chunks of `hex`.
    pub fn drop_chunks(&self, hex: &str) -> sled::Result<()> {
        for key in self.tree.scan_prefix(format!("chunk/{hex}/")).keys() {
            self.tree.remove(key?)?;
        }
        self.tree.flush()?;
        Ok(())
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn file_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_assemble_in_index_order_only_when_complete() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let store = DeployStore::open(&db).unwrap();
        let hex = "ab".repeat(32);
        store.put_chunk(&hex, 1, b"world").unwrap();
        assert_eq!(store.assemble(&hex, 2).unwrap(), None);
        store.put_chunk(&hex, 0, b"hello ").unwrap();
        store.put_chunk(&"cd".repeat(32), 0, b"other").unwrap();
        assert_eq!(store.chunk_count(&hex), 2);
        assert_eq!(store.assemble(&hex, 2).unwrap().unwrap(), b"hello world");
        store.drop_chunks(&hex).unwrap();
        assert_eq!(store.chunk_count(&hex), 0);
        assert_eq!(store.chunk_count(&"cd".repeat(32)), 1);
    }

    #[test]
    fn the_installed_pointer_and_the_job_change_together() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let store = DeployStore::open(&db).unwrap();
        let deployed = Deployed {
            version: "0.2.0".into(),
            digest: file_digest(b"package"),
            path: "/var/lib/sao/packages/x.sao".into(),
            grants: vec![Capability::Log],
            telemetry_per_minute: 120,
        };
        let job = Job {
            plugin: "dimming".into(),
            wanted: None,
            target: "ccs/p1".into(),
            doc_version: 1,
            signed_by: None,
            state: JobState::Watching { until_ms: 5 },
            since_ms: 0,
            previous: Some(Previous::Local),
            interruptions: 0,
        };
        store
            .switch("dimming", Some(&Installed::Package(deployed.clone())), &job)
            .unwrap();
        assert_eq!(
            store.installed("dimming"),
            Some(Installed::Package(deployed))
        );
        assert_eq!(store.job("dimming"), Some(job.clone()));
        store.switch("dimming", None, &job).unwrap();
        assert_eq!(store.installed("dimming"), None);
        assert_eq!(store.jobs().len(), 1);
        assert_eq!(JobState::Watching { until_ms: 5 }.reported(), "IN_PROGRESS");
    }
}
