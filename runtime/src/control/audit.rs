//! The audit trail: every control change the pole applied or refused — what, which
//! version, from which target, signed by whom, when, and the result — kept in sled (the
//! newest [`AUDIT_KEEP`] entries) and published upstream as `evt/sao/audit` events.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::uplink::{Event, EventState, Severity, Source, Uplink};

/// Entries kept on the pole; older ones are dropped (they went upstream).
pub const AUDIT_KEEP: usize = 10_000;

/// What happened to a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Applied and in force.
    Applied,
    /// Accepted and stored; applies when its plugin is installed.
    Pending,
    /// Refused; nothing changed.
    Rejected,
    /// A deployment that failed and was rolled back to the previous version.
    RolledBack,
}

/// One audited change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct AuditEntry {
    /// Pole time, ms since the epoch.
    pub ts: u64,
    /// `config` or `deployment`.
    pub what: String,
    /// The plugin concerned (`sao` for the runtime).
    pub plugin: String,
    /// The target the document was addressed to.
    pub target: String,
    /// The document's version, when it had a readable one.
    pub version: Option<u64>,
    /// The operator key that signed it, when signed and verified.
    pub signed_by: Option<String>,
    /// The result.
    pub outcome: Outcome,
    /// Why, when refused or rolled back.
    pub reason: Option<String>,
}

/// The pole's audit log.
pub struct AuditLog {
    db: sled::Db,
    tree: sled::Tree,
    /// Entries in `tree` (sled counts by scanning).
    kept: AtomicUsize,
    uplink: Arc<Uplink>,
}

impl AuditLog {
    /// Opens the log in the pole's database.
    pub fn open(db: &sled::Db, uplink: Arc<Uplink>) -> sled::Result<Self> {
        let tree = db.open_tree("control-audit")?;
        Ok(Self {
            db: db.clone(),
            kept: AtomicUsize::new(tree.len()),
            tree,
            uplink,
        })
    }

    /// Records an entry on the pole and queues it upstream.
    pub fn record(&self, entry: &AuditEntry) {
        tracing::info!(
            what = %entry.what,
            plugin = %entry.plugin,
            target = %entry.target,
            version = ?entry.version,
            signed_by = ?entry.signed_by,
            outcome = ?entry.outcome,
            reason = ?entry.reason,
            "control change"
        );
        if let Err(e) = self.store(entry) {
            tracing::error!("audit log: {e}");
        }
        let severity = match entry.outcome {
            Outcome::Applied | Outcome::Pending => Severity::Info,
            Outcome::Rejected | Outcome::RolledBack => Severity::Warning,
        };
        let version = entry.version.map_or(String::new(), |v| format!(" v{v}"));
        let outcome = serde_json::to_value(entry.outcome).expect("outcomes serialise");
        let message = format!(
            "{} of `{}`{version} from {}: {}{}",
            entry.what,
            entry.plugin,
            entry.target,
            outcome.as_str().unwrap_or_default(),
            entry
                .reason
                .as_deref()
                .map_or(String::new(), |r| format!(" ({r})"))
        );
        // Logged by the uplink if it cannot be queued; the entry is on the pole anyway.
        let _ = self.uplink.event(
            &Source::host(),
            &Event {
                kind: "audit",
                state: EventState::Info,
                severity,
                message: &message,
                details: serde_json::to_value(entry).expect("entries serialise"),
            },
            entry.ts,
        );
    }

    fn store(&self, entry: &AuditEntry) -> sled::Result<()> {
        let id = self.db.generate_id()?;
        let bytes = serde_json::to_vec(entry).expect("entries serialise");
        self.tree.insert(id.to_be_bytes(), bytes)?;
        if self.kept.fetch_add(1, Ordering::Relaxed) >= AUDIT_KEEP {
            self.tree.pop_min()?;
            self.kept.fetch_sub(1, Ordering::Relaxed);
        }
        self.tree.flush()?;
        Ok(())
    }

    /// The entries kept on the pole, oldest first.
    pub fn entries(&self) -> Vec<AuditEntry> {
        self.tree
            .iter()
            .values()
            .filter_map(|v| serde_json::from_slice(&v.ok()?).ok())
            .collect()
    }
}
