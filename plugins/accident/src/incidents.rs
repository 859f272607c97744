//! One incident, one report, updates after: findings become incidents.
//!
//! A finding joins the open incident it belongs to — a collision sharing a road user
//! with an open collision on the same camera, the same vehicle stalled or driving the
//! wrong way or stopping hard, people on the same camera's carriageway — or opens a new one, reported at once with
//! an annotated snapshot. An incident is updated when road users join it or its
//! severity rises (a higher severity at once, other changes at most every
//! `update-every-s`), and closed when its condition has been gone for `clear-after-s`.
//!
//! The open incidents are kept in the plugin's kv store; after a restart (of the plugin
//! or the pole) they cannot be followed any more — track ids start again — so they are
//! closed with reason `plugin-restarted` and no incident stays open upstream for ever.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::config::Config;
use crate::host::{Host, LogLevel, Phase, Report, Severity};
use crate::rules::{Finding, Kind};

/// kv key of the open incidents.
pub const OPEN_KEY: &str = "open-incidents";

/// An incident being followed.
#[derive(Debug, Clone)]
pub struct Incident {
    /// Its id, unique on the pole: `{kind}-{opened ms}-{first track}`.
    pub id: String,
    /// What it is.
    pub kind: Kind,
    /// The camera that sees it.
    pub camera: String,
    /// Its zone, if any.
    pub zone: Option<String>,
    /// Every track ever involved.
    pub tracks: BTreeSet<u64>,
    /// Its present severity and why.
    pub severity: (Severity, &'static str),
    /// When it opened, Unix ms.
    pub opened_ms: u64,
    /// When its condition was last seen, Unix ms.
    pub seen_ms: u64,
    /// When it was last reported, Unix ms.
    pub reported_ms: u64,
    /// Reports sent after the first.
    pub updates: u32,
    /// It changed since its last report.
    pub changed: bool,
    /// The facts of its latest finding.
    pub facts: Vec<Value>,
    /// The frame of its latest finding.
    pub frame_id: u64,
}

/// What kv keeps of an open incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Saved {
    id: String,
    kind: String,
    camera: String,
    opened_ts: u64,
}

/// The open incidents.
#[derive(Debug, Default)]
pub struct Incidents {
    open: Vec<Incident>,
}

fn rank(severity: Severity) -> u8 {
    match severity {
        Severity::Info => 0,
        Severity::Warning => 1,
        Severity::Critical => 2,
    }
}

fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

impl Incidents {
    /// No open incident; those a previous run left open in kv are closed upstream.
    pub fn restore(host: &mut impl Host, now_ms: u64) -> Incidents {
        let saved: Vec<Saved> = match host.kv_get(OPEN_KEY) {
            Ok(Some(bytes)) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                host.log(LogLevel::Warn, &format!("open incidents unreadable: {e}"));
                Vec::new()
            }),
            Ok(None) => Vec::new(),
            Err(e) => {
                host.log(LogLevel::Warn, &format!("open incidents not read: {e}"));
                Vec::new()
            }
        };
        for s in &saved {
            let details = json!({
                "type": s.kind,
                "camera": s.camera,
                "opened-ts": s.opened_ts,
                "closed-ts": now_ms,
                "reason": "plugin-restarted",
            });
            send(
                host,
                Report {
                    kind: s.kind.clone(),
                    incident: s.id.clone(),
                    phase: Phase::Closed,
                    severity: Severity::Info,
                    message: format!(
                        "{} {} on {} closed: the plugin restarted and can no longer follow it",
                        s.kind, s.id, s.camera
                    ),
                    details: details.to_string(),
                    snapshot: None,
                },
            );
        }
        let incidents = Incidents::default();
        if !saved.is_empty() {
            incidents.save(host);
        }
        incidents
    }

    /// The open incidents.
    pub fn open(&self) -> &[Incident] {
        &self.open
    }

    /// Takes in a finding on `camera` at `now_ms`.
    pub fn observe(
        &mut self,
        finding: Finding,
        camera: &str,
        now_ms: u64,
        config: &Config,
        host: &mut impl Host,
    ) {
        let belongs = |i: &Incident| {
            i.kind == finding.kind
                && i.camera == camera
                && match finding.kind {
                    Kind::Pedestrian => true,
                    _ => finding.tracks.iter().any(|t| i.tracks.contains(t)),
                }
        };
        if let Some(incident) = self.open.iter_mut().find(|i| belongs(i)) {
            incident.seen_ms = now_ms;
            let before = incident.tracks.len();
            incident.tracks.extend(finding.tracks.iter().copied());
            let joined = incident.tracks.len() > before;
            let worse = rank(finding.severity) > rank(incident.severity.0);
            if worse {
                incident.severity = (finding.severity, finding.reason);
            }
            if joined || worse || finding.kind == Kind::Collision {
                incident.changed = true;
                incident.facts = finding.facts;
                incident.frame_id = finding.frame_id;
            }
            let due = now_ms.saturating_sub(incident.reported_ms) as f64
                >= config.update_every_s * 1000.0;
            if incident.changed && (worse || due) {
                let incident = incident.clone();
                self.report(&incident, Phase::Updated, now_ms, config, host);
            }
            return;
        }
        let first = finding.tracks.first().copied().unwrap_or(0);
        let incident = Incident {
            id: format!("{}-{now_ms}-{first}", finding.kind.as_str()),
            kind: finding.kind,
            camera: camera.to_string(),
            zone: finding.zone,
            tracks: finding.tracks.iter().copied().collect(),
            severity: (finding.severity, finding.reason),
            opened_ms: now_ms,
            seen_ms: now_ms,
            reported_ms: now_ms,
            updates: 0,
            changed: false,
            facts: finding.facts,
            frame_id: finding.frame_id,
        };
        self.open.push(incident.clone());
        self.save(host);
        self.report(&incident, Phase::Opened, now_ms, config, host);
    }

    /// Marks the incidents of `camera` whose condition `holds` as still seen.
    pub fn hold(&mut self, camera: &str, now_ms: u64, holds: impl Fn(&Incident) -> bool) {
        for incident in self.open.iter_mut().filter(|i| i.camera == camera) {
            if holds(incident) {
                incident.seen_ms = now_ms;
            }
        }
    }

    /// Sends updates that waited for `update-every-s`, and closes incidents whose
    /// condition has been gone for `clear-after-s`.
    pub fn sweep(&mut self, now_ms: u64, config: &Config, host: &mut impl Host) {
        let clear_ms = (config.clear_after_s * 1000.0) as u64;
        let (ended, open): (Vec<Incident>, Vec<Incident>) = std::mem::take(&mut self.open)
            .into_iter()
            .partition(|i| now_ms.saturating_sub(i.seen_ms) >= clear_ms);
        self.open = open;
        if !ended.is_empty() {
            self.save(host);
        }
        for incident in &ended {
            self.report(incident, Phase::Closed, now_ms, config, host);
        }
        let due: Vec<Incident> = self
            .open
            .iter()
            .filter(|i| {
                i.changed
                    && now_ms.saturating_sub(i.reported_ms) as f64 >= config.update_every_s * 1000.0
            })
            .cloned()
            .collect();
        for incident in &due {
            self.report(incident, Phase::Updated, now_ms, config, host);
        }
    }

    /// Reports `incident` and notes it as reported.
    fn report(
        &mut self,
        incident: &Incident,
        phase: Phase,
        now_ms: u64,
        config: &Config,
        host: &mut impl Host,
    ) {
        let snapshot = (config.snapshot && phase != Phase::Closed)
            .then(|| {
                let tracks: Vec<u64> = incident.tracks.iter().copied().collect();
                host.snapshot(&incident.camera, incident.frame_id, &tracks)
                    .map_err(|e| {
                        host.log(
                            LogLevel::Warn,
                            &format!("incident {} sent without a snapshot: {e}", incident.id),
                        )
                    })
                    .ok()
            })
            .flatten();
        let updates = incident.updates + u32::from(phase == Phase::Updated);
        send(
            host,
            Report {
                kind: incident.kind.as_str().to_string(),
                incident: incident.id.clone(),
                phase,
                severity: incident.severity.0,
                message: message(incident, phase),
                details: details(incident, phase, updates, now_ms).to_string(),
                snapshot,
            },
        );
        if let Some(open) = self.open.iter_mut().find(|i| i.id == incident.id) {
            open.reported_ms = now_ms;
            open.changed = false;
            open.updates = updates;
        }
    }

    /// Writes the open incidents to kv.
    fn save(&self, host: &mut impl Host) {
        let saved: Vec<Saved> = self
            .open
            .iter()
            .map(|i| Saved {
                id: i.id.clone(),
                kind: i.kind.as_str().to_string(),
                camera: i.camera.clone(),
                opened_ts: i.opened_ms,
            })
            .collect();
        let bytes = serde_json::to_vec(&saved).expect("incidents serialize");
        if let Err(e) = host.kv_set(OPEN_KEY, &bytes) {
            host.log(LogLevel::Warn, &format!("open incidents not saved: {e}"));
        }
    }
}

/// Sends a report; a refusal is logged (the pole counts and reports plugin errors).
fn send(host: &mut impl Host, report: Report) {
    if let Err(e) = host.report(&report) {
        host.log(
            LogLevel::Error,
            &format!("incident {} report refused: {e}", report.incident),
        );
    }
}

/// The English message of a report.
fn message(incident: &Incident, phase: Phase) -> String {
    let who: Vec<String> = incident
        .facts
        .iter()
        .map(|f| format!("{} {}", f["class"].as_str().unwrap_or("?"), f["track"]))
        .collect();
    let what = match incident.kind {
        Kind::Collision => format!("collision of {}", who.join(" and ")),
        Kind::StalledVehicle => format!("stalled {}", who.join(", ")),
        Kind::WrongWay => format!("wrong-way {}", who.join(", ")),
        Kind::Pedestrian => format!("pedestrian on the carriageway ({})", who.join(", ")),
        Kind::SuddenStop => format!("sudden stop of {}", who.join(", ")),
    };
    let place = match &incident.zone {
        Some(zone) => format!("{zone} on camera {}", incident.camera),
        None => format!("camera {}", incident.camera),
    };
    match phase {
        Phase::Opened => format!("{what} at {place}"),
        Phase::Updated => format!("{what} at {place} (update)"),
        Phase::Closed => format!("{} at {place} cleared", incident.kind.as_str()),
    }
}

/// The accident database's record of an incident.
fn details(incident: &Incident, phase: Phase, updates: u32, now_ms: u64) -> Value {
    let classes: BTreeSet<&str> = incident
        .facts
        .iter()
        .filter_map(|f| f["class"].as_str())
        .collect();
    let mut d = json!({
        "type": incident.kind.as_str(),
        "camera": incident.camera,
        "zone": incident.zone,
        "severity": severity_name(incident.severity.0),
        "severity-reason": incident.severity.1,
        "classes": classes,
        "tracks": incident.tracks,
        "road-users": incident.facts,
        "opened-ts": incident.opened_ms,
        "frame": incident.frame_id,
        "updates": updates,
    });
    if phase == Phase::Closed {
        d["closed-ts"] = json!(now_ms);
        d["duration-s"] = json!(now_ms.saturating_sub(incident.opened_ms) / 1000);
        d["reason"] = json!("scene-cleared");
    }
    d
}
