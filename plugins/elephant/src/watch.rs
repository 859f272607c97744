//! [`Watch`]: detections in; the elephant alarm and the movement records out.
//!
//! * Every detector frame goes through [`Sightings`]. The first confirmed sighting opens
//!   an *incident*: the watch sounds an alarm (kind `elephant`) at `level.initial`, or at
//!   `level.approaching` if the herd already approaches, with a bilingual message, the
//!   voice clip, details and an annotated snapshot (a snapshot that fails is logged and
//!   the alarm sounds without it). An alarm that cannot be sounded is logged as an
//!   error and retried on every following frame and tick until it sounds.
//! * While the incident is open, every frame with confirmed tracks updates its count
//!   (the most confirmed tracks on one frame), direction and path. The alarm is updated
//!   when its level must rise (at once), when the count or direction changed and
//!   `cooldown-s` passed since the alarm last changed, and every [`RENEW_EVERY_MS`]
//!   while the herd is still seen (the pole ends alarms nobody renews); each update
//!   carries a fresh snapshot. The level never drops during an incident.
//! * `all-clear-s` after the last confirmed candidate (checked on frames and ticks) the
//!   watch clears the alarm, publishes the incident's movement record on stream
//!   `movement` and re-arms: the next confirmation opens a new incident with a new
//!   alarm.
//! * If the pole's alarm engine ended the alarm by itself (acknowledged and expired, or
//!   not renewed), the watch stops updating it and does not clear it; the incident stays
//!   open until the all-clear, which still publishes the movement record. Should the
//!   level then have to rise, a new alarm is sounded for the incident.
//! * With several cameras, the camera of the latest confirmed sighting gives the
//!   incident's direction, path and snapshots; the count is the most confirmed tracks
//!   on one frame of any camera.
//! * The open incident is saved in kv (key `incident`) whenever its alarm changes, and
//!   otherwise at most every [`SAVE_EVERY_MS`]. A restarted watch adopts the saved
//!   incident if its alarm is still active, and otherwise starts clean.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::config::Config;
use crate::detections::{Detection, Frame, PathPoint};
use crate::direction::Direction;
use crate::host::{AlarmLevel, AlarmRequest, Host, LogLevel};
use crate::message;
use crate::sighting::{Observation, Sightings};

/// kv key of the saved incident (JSON; `null` when none is open).
pub const INCIDENT_KEY: &str = "incident";

/// Kind of the alarms, the topic segment of their alerts.
pub const ALARM_KIND: &str = "elephant";

/// Stream of the movement records.
pub const MOVEMENT_STREAM: &str = "movement";

/// Most points of a movement record's path.
pub const MAX_RECORD_POINTS: usize = 50;

/// While the herd is still seen, the alarm is renewed (updated, with a fresh snapshot)
/// at least this often, in milliseconds: the pole ends an alarm nobody renews
/// (`expire-after-s`, 900 s by default), and a herd that stands still must not outlast
/// its alarm.
pub const RENEW_EVERY_MS: u64 = 60_000;

/// Longest time an incident's changes stay unsaved, in milliseconds.
pub const SAVE_EVERY_MS: u64 = 10_000;

/// The alarm of an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Alarm {
    /// To be sounded (not yet, or sounding failed).
    Unsounded,
    /// Sounding with this id.
    Sounding(u64),
    /// The pole's engine ended alarm `id` by itself.
    Ended(u64),
}

/// What the incident's alarm last said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Said {
    at_ms: u64,
    level: AlarmLevel,
    count: u32,
    direction: Direction,
}

/// One visit of a herd, from the first confirmation to the all-clear.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Incident {
    /// Id of the incident's first alarm, which names the incident upstream.
    id: Option<u64>,
    alarm: Alarm,
    said: Option<Said>,
    /// Level the alarm must have: the highest wanted so far.
    level: AlarmLevel,
    /// Camera and frame of the latest confirmed sighting, and the confirmed tracks on it.
    camera: String,
    frame_id: u64,
    present: Vec<u64>,
    first_seen_ms: u64,
    confirmed_ms: u64,
    last_confirmed_ms: u64,
    /// Most confirmed tracks on one frame, and their labels on that frame.
    count: u32,
    labels: BTreeMap<String, u32>,
    /// Every confirmed track of the incident.
    tracks: BTreeSet<u64>,
    direction: Direction,
    /// Path of the longest confirmed track of the latest sighting.
    path: Vec<PathPoint>,
}

impl Incident {
    /// An incident opened by `observation` of `frame`.
    fn open(frame: &Frame, observation: Observation, level: AlarmLevel) -> Incident {
        let mut incident = Incident {
            id: None,
            alarm: Alarm::Unsounded,
            said: None,
            level,
            camera: String::new(),
            frame_id: 0,
            present: Vec::new(),
            first_seen_ms: observation.first_seen_ms,
            confirmed_ms: frame.ts_ms,
            last_confirmed_ms: frame.ts_ms,
            count: 0,
            labels: BTreeMap::new(),
            tracks: BTreeSet::new(),
            direction: observation.direction.clone(),
            path: Vec::new(),
        };
        incident.observe(frame, observation, level);
        incident
    }

    /// Adds a confirmed sighting; `level` is the level it calls for.
    fn observe(&mut self, frame: &Frame, observation: Observation, level: AlarmLevel) {
        self.camera.clone_from(&frame.camera);
        self.frame_id = frame.frame_id;
        self.last_confirmed_ms = self.last_confirmed_ms.max(frame.ts_ms);
        self.first_seen_ms = self.first_seen_ms.min(observation.first_seen_ms);
        if observation.count() > self.count {
            self.count = observation.count();
            self.labels = observation.labels;
        }
        self.tracks.extend(&observation.present);
        self.present = observation.present;
        self.direction = observation.direction;
        self.path = observation.path;
        self.level = self.level.max(level);
    }

    /// Whether the level must rise above what the alarm last said.
    fn must_rise(&self) -> bool {
        self.said.as_ref().is_some_and(|s| self.level > s.level)
    }

    /// Whether the alarm is due an update at `now_ms`: its level must rise, what it says
    /// changed and the cooldown passed, or the herd is still seen and the alarm is due
    /// its renewal.
    fn update_due(&self, now_ms: u64, cooldown_ms: u64) -> bool {
        self.must_rise()
            || self.said.as_ref().is_some_and(|s| {
                let since = now_ms.saturating_sub(s.at_ms);
                let changed = s.count != self.count || s.direction != self.direction;
                (changed && since >= cooldown_ms)
                    || (self.last_confirmed_ms > s.at_ms && since >= RENEW_EVERY_MS)
            })
    }

    /// Brings the alarm in line with the incident at `now_ms`. Returns whether the
    /// alarm changed.
    fn sync(&mut self, config: &Config, now_ms: u64, host: &mut impl Host) -> bool {
        let due = self.update_due(now_ms, u64::from(config.cooldown_s) * 1000);
        if let Alarm::Sounding(id) = self.alarm {
            if due && !host.alarm_active(id) {
                host.log(
                    LogLevel::Info,
                    &format!("elephant alarm {id} was ended by the pole; no longer updating it"),
                );
                self.alarm = Alarm::Ended(id);
            }
        }
        match self.alarm {
            Alarm::Unsounded => self.sound(config, now_ms, host),
            Alarm::Sounding(id) if due => self.update(config, id, now_ms, host),
            Alarm::Ended(_) if self.must_rise() => self.sound(config, now_ms, host),
            Alarm::Sounding(_) | Alarm::Ended(_) => false,
        }
    }

    /// Updates alarm `id` to the incident as it is now. Returns whether it changed.
    fn update(&mut self, config: &Config, id: u64, now_ms: u64, host: &mut impl Host) -> bool {
        let request = self.request(config, host);
        match host.update_alarm(id, &request) {
            Ok(()) => {
                self.said = Some(self.saying(now_ms));
                true
            }
            Err(e) => {
                host.log(
                    LogLevel::Warn,
                    &format!("cannot update elephant alarm {id} (retrying): {e}"),
                );
                false
            }
        }
    }

    /// Sounds a new alarm for the incident. Returns whether it sounded.
    fn sound(&mut self, config: &Config, now_ms: u64, host: &mut impl Host) -> bool {
        let request = self.request(config, host);
        match host.sound_alarm(&request) {
            Ok(id) => {
                self.id.get_or_insert(id);
                self.alarm = Alarm::Sounding(id);
                self.said = Some(self.saying(now_ms));
                host.log(
                    LogLevel::Info,
                    &format!("elephant alarm {id} sounded: {}", request.message_en),
                );
                true
            }
            Err(e) => {
                host.log(
                    LogLevel::Error,
                    &format!("cannot sound the elephant alarm (retrying): {e}"),
                );
                false
            }
        }
    }

    /// What the alarm says once it carries the incident as it is now.
    fn saying(&self, now_ms: u64) -> Said {
        Said {
            at_ms: now_ms,
            level: self.level,
            count: self.count,
            direction: self.direction.clone(),
        }
    }

    /// The alarm request describing the incident, with a fresh snapshot if configured.
    fn request(&self, config: &Config, host: &mut impl Host) -> AlarmRequest {
        let destination = config.approach.as_ref().map(|a| a.to.as_str());
        let (message_th, message_en) = message::texts(self.count, &self.direction, destination);
        let snapshot = if config.snapshot {
            host.snapshot(&self.camera, self.frame_id, &self.present)
                .map_err(|e| {
                    host.log(
                        LogLevel::Warn,
                        &format!(
                            "no snapshot of frame {} of camera {}: {e}",
                            self.frame_id, self.camera
                        ),
                    );
                })
                .ok()
        } else {
            None
        };
        let details = json!({
            "count": self.count,
            "direction": self.direction,
            "camera": self.camera,
            "frame-id": self.frame_id,
            "first-seen-ts": self.first_seen_ms,
            "confirmed-ts": self.confirmed_ms,
            "tracks": self.tracks,
            "labels": self.labels,
        });
        AlarmRequest {
            kind: ALARM_KIND.to_string(),
            level: self.level,
            message_th,
            message_en,
            voice: config.voice.clone(),
            details: details.to_string(),
            snapshot,
        }
    }

    /// Publishes the incident's movement record.
    fn publish_movement(&self, host: &mut impl Host) {
        let duration_s = self.last_confirmed_ms.saturating_sub(self.first_seen_ms) as f64 / 1000.0;
        let path: Vec<Value> = sample(&self.path, MAX_RECORD_POINTS)
            .map(|p| json!([p.ts_ms, round(p.x), round(p.y)]))
            .collect();
        let details = json!({
            "incident": self.id,
            "camera": self.camera,
            "start-ts": self.first_seen_ms,
            "end-ts": self.last_confirmed_ms,
            "count": self.count,
            "direction": self.direction,
            "path": path,
            "from-zone": self.direction.from_zone,
            "to-zone": self.direction.to_zone,
        });
        let metrics = [
            ("count", f64::from(self.count), "1"),
            ("duration", duration_s, "s"),
        ];
        if let Err(e) = host.publish_with_details(MOVEMENT_STREAM, &metrics, &details.to_string()) {
            host.log(
                LogLevel::Warn,
                &format!("cannot publish the movement record: {e}"),
            );
        }
    }
}

/// At most `max` points of `path`, evenly spread, first and last included.
fn sample(path: &[PathPoint], max: usize) -> impl Iterator<Item = &PathPoint> {
    let (len, max) = (path.len(), max.max(2));
    let picks = len.min(max);
    (0..picks).map(move |i| {
        let index = if len <= max {
            i
        } else {
            i * (len - 1) / (max - 1)
        };
        &path[index]
    })
}

/// A normalized coordinate to 4 decimals (a fifth of a pixel on a 1920 px frame).
fn round(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

/// The elephant watch of one pole.
#[derive(Debug)]
pub struct Watch {
    config: Config,
    sightings: Sightings,
    incident: Option<Incident>,
    /// The incident changed since it was last saved.
    unsaved: bool,
    /// When the incident was last saved, Unix ms.
    saved_ms: u64,
}

impl Watch {
    /// A watch with `config`, adopting the incident a previous instance saved if its
    /// alarm is still active on the pole. Fails if the config is invalid.
    pub fn new(config: Config, host: &mut impl Host) -> Result<Self, String> {
        config.validate()?;
        let saved = match host.kv_get(INCIDENT_KEY) {
            Ok(Some(bytes)) => serde_json::from_slice::<Option<Incident>>(&bytes)
                .map_err(|e| {
                    host.log(LogLevel::Warn, &format!("saved incident unreadable: {e}"));
                })
                .ok()
                .flatten(),
            Ok(None) => None,
            Err(e) => {
                host.log(LogLevel::Warn, &format!("saved incident unavailable: {e}"));
                None
            }
        };
        let mut watch = Watch {
            config,
            sightings: Sightings::default(),
            incident: None,
            unsaved: false,
            saved_ms: 0,
        };
        if let Some(incident) = saved {
            match incident.alarm {
                Alarm::Sounding(id) if host.alarm_active(id) => {
                    host.log(
                        LogLevel::Info,
                        &format!("resumed the elephant incident of alarm {id}"),
                    );
                    watch.incident = Some(incident);
                }
                _ => {
                    host.log(
                        LogLevel::Info,
                        "dropped the saved elephant incident: its alarm is no longer active",
                    );
                    watch.save(0, host);
                }
            }
        }
        Ok(watch)
    }

    /// Replaces the config, keeping the tracks and the open incident; it applies from
    /// the next frame. On error the previous config stays in force.
    pub fn set_config(&mut self, config: Config) -> Result<(), String> {
        config.validate()?;
        self.config = config;
        Ok(())
    }

    /// Takes the detections of one detector frame (none: the scene is clear). Fails
    /// only on a malformed frame; alarm and telemetry failures are logged and retried.
    pub fn on_detections(
        &mut self,
        frame: &Frame,
        detections: &[Detection],
        host: &mut impl Host,
    ) -> Result<(), String> {
        self.end_if_quiet(frame.ts_ms, host);
        if let Some(observation) = self.sightings.observe(&self.config, frame, detections)? {
            let level = if observation.direction.approaching {
                self.config.level.approaching
            } else {
                self.config.level.initial
            };
            match &mut self.incident {
                Some(incident) => incident.observe(frame, observation, level),
                None => {
                    host.log(
                        LogLevel::Info,
                        &format!(
                            "elephant sighting confirmed on camera {}: tracks {:?}",
                            frame.camera, observation.present
                        ),
                    );
                    self.incident = Some(Incident::open(frame, observation, level));
                }
            }
            self.unsaved = true;
        }
        self.sync(frame.ts_ms, host);
        Ok(())
    }

    /// Advances to `now_ms`: ends a quiet incident, sends due alarm changes.
    pub fn on_tick(&mut self, now_ms: u64, host: &mut impl Host) {
        self.end_if_quiet(now_ms, host);
        self.sync(now_ms, host);
    }

    /// Brings the alarm in line with the incident and saves what changed.
    fn sync(&mut self, now_ms: u64, host: &mut impl Host) {
        if let Some(incident) = &mut self.incident {
            if incident.sync(&self.config, now_ms, host) {
                self.save(now_ms, host);
            }
        }
        if self.unsaved && now_ms.saturating_sub(self.saved_ms) >= SAVE_EVERY_MS {
            self.save(now_ms, host);
        }
    }

    /// Ends the incident once `all-clear-s` passed since its last confirmed sighting:
    /// clears its alarm (unless the pole ended it; a failed clear is retried later),
    /// publishes its movement record and forgets it.
    fn end_if_quiet(&mut self, now_ms: u64, host: &mut impl Host) {
        let all_clear_ms = u64::from(self.config.all_clear_s) * 1000;
        let Some(incident) = &self.incident else {
            return;
        };
        if now_ms.saturating_sub(incident.last_confirmed_ms) < all_clear_ms {
            return;
        }
        if let Alarm::Sounding(id) = incident.alarm {
            if host.alarm_active(id) {
                if let Err(e) = host.clear_alarm(id) {
                    host.log(
                        LogLevel::Error,
                        &format!("cannot clear elephant alarm {id} (retrying): {e}"),
                    );
                    return;
                }
            }
        }
        incident.publish_movement(host);
        host.log(
            LogLevel::Info,
            &format!(
                "elephant all-clear: {} elephant(s) on camera {}, direction {}",
                incident.count,
                incident.camera,
                json!(incident.direction)
            ),
        );
        self.incident = None;
        self.save(now_ms, host);
    }

    /// Saves the incident (or its absence) in kv.
    fn save(&mut self, now_ms: u64, host: &mut impl Host) {
        let saved = serde_json::to_vec(&self.incident)
            .map_err(|e| e.to_string())
            .and_then(|bytes| host.kv_set(INCIDENT_KEY, &bytes));
        match saved {
            Ok(()) => {
                self.unsaved = false;
                self.saved_ms = now_ms;
            }
            Err(e) => {
                self.unsaved = true;
                host.log(LogLevel::Warn, &format!("cannot save the incident: {e}"));
            }
        }
    }
}
