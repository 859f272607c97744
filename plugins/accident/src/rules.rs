//! The conditions worth an incident, found on a camera's scene after each frame:
//!
//! * **collision** — two road users' boxes meet (`collision.contact-overlap`) and at the
//!   contact at least one of them, moving before, abruptly loses most of its speed or
//!   turns: its motion over `collision.window-s` after the contact is compared with the
//!   motion over the same time before (and the braking it was already doing). Vehicles
//!   that pass close at a steady speed, or stop gently behind another, meet no rule.
//! * **stalled vehicle** — a vehicle stands still in a lane for the lane's stall time.
//! * **wrong way** — a vehicle in a lane travels against the lane's direction for
//!   `wrong-way.after-s`, covering `wrong-way.min-travel` box sizes.
//! * **sudden stop** (`sudden-stop.enabled`) — a vehicle moving at `sudden-stop.min-speed`
//!   or more stops as abruptly as a collision would stop it, with no other road user's box
//!   touching it: harsh braking, a near miss, or a crash into something the model does
//!   not see. Judged one collision window after the stop began.
//! * **pedestrian** — a person stands or walks on the carriageway (a lane or carriageway
//!   zone, not a shoulder or sidewalk) for `pedestrian.after-s`; all the people on one
//!   camera's carriageway are one finding.
//!
//! Each [`Finding`] says which tracks, where, how serious; [`crate::incidents`] turns
//! findings into one incident each, with updates and an end.

use serde_json::{json, Value};

use crate::config::{CollisionRule, Config, ZoneKind};
use crate::host::Severity;
use crate::kinematics::{GroundPlane, Motion};
use crate::road_user::RoadUser;
use crate::scene::{zone_at, Contact, Scene, Track};

/// Relative speed (box sizes per second) above which a collision is serious on its own.
pub const FAST: f64 = 3.0;

/// What kind of incident a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Road users collided.
    Collision,
    /// A vehicle stands in a lane.
    StalledVehicle,
    /// A vehicle drives against its lane's direction.
    WrongWay,
    /// A person is on the carriageway.
    Pedestrian,
    /// A vehicle braked hard to a stop, touching no one.
    SuddenStop,
}

impl Kind {
    /// The event kind: the last segment of `…/evt/accident/{kind}`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Collision => "collision",
            Kind::StalledVehicle => "stalled-vehicle",
            Kind::WrongWay => "wrong-way",
            Kind::Pedestrian => "pedestrian",
            Kind::SuddenStop => "sudden-stop",
        }
    }
}

/// A condition found on a camera's latest frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// What it is.
    pub kind: Kind,
    /// The tracks involved.
    pub tracks: Vec<u64>,
    /// The zone it is in, if any.
    pub zone: Option<String>,
    /// How serious it is.
    pub severity: Severity,
    /// Why that severity.
    pub reason: &'static str,
    /// The frame that shows it best.
    pub frame_id: u64,
    /// Per track: its class and the motion facts that made the finding.
    pub facts: Vec<Value>,
}

/// Everything found on `scene` after its latest frame.
pub fn find(scene: &mut Scene, config: &Config, ground: Option<&GroundPlane>) -> Vec<Finding> {
    let mut found = collisions(scene, config, ground);
    found.extend(stalled(scene, config));
    found.extend(wrong_way(scene, config, ground));
    found.extend(pedestrians(scene, config));
    found.extend(sudden_stops(scene, config, ground));
    found
}

/// Whether a collision's scene is still there: one of its tracks is on the latest frame
/// and standing (not driving off).
pub fn collision_holds(scene: &Scene, tracks: &[u64], config: &Config) -> bool {
    let Some(frame) = &scene.frame else {
        return false;
    };
    scene.current().filter(|t| tracks.contains(&t.id)).any(|t| {
        t.motion(config.collision.window_s, frame.ts_ms, None)
            .is_none_or(|m| m.relative_speed < config.collision.moving_speed)
    })
}

/// The motion facts of `track` for an event.
fn facts(track: &Track, motion: Option<&Motion>) -> Value {
    let mut fact = json!({ "track": track.id, "class": track.user.as_str() });
    if let Some(m) = motion {
        fact["speed-px-s"] = json!(round(m.speed_px()));
        fact["speed-sizes-s"] = json!(round(m.relative_speed));
        fact["heading-deg"] = json!(round(m.heading_deg()));
        if let Some((mps, heading)) = m.ground {
            fact["speed-kmh"] = json!(round(mps * 3.6));
            fact["ground-heading-deg"] = json!(round(heading));
        }
    }
    fact
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn collisions(scene: &mut Scene, config: &Config, ground: Option<&GroundPlane>) -> Vec<Finding> {
    let rule = config.collision;
    let Some(frame) = scene.frame.clone() else {
        return Vec::new();
    };
    let window_ms = (rule.window_s * 1000.0) as u64;
    for (a, b, _) in scene.contacts(rule.contact_overlap) {
        for id in [a, b] {
            if let Some(track) = scene.tracks.get_mut(&id) {
                track.last_contact_ms = Some(frame.ts_ms);
            }
        }
        let known = scene.contacts.iter().any(|c| c.a == a && c.b == b);
        if !known {
            scene.contacts.push(Contact {
                a,
                b,
                ts_ms: frame.ts_ms,
                frame_id: frame.frame_id,
            });
        }
    }
    let (due, waiting): (Vec<Contact>, Vec<Contact>) = scene
        .contacts
        .iter()
        .partition(|c| frame.ts_ms >= c.ts_ms + window_ms);
    scene.contacts = waiting;
    let mut found = Vec::new();
    for contact in due {
        let (Some(a), Some(b)) = (scene.tracks.get(&contact.a), scene.tracks.get(&contact.b))
        else {
            continue;
        };
        let judged: Vec<(&Track, Option<Motion>, Option<Motion>, bool)> = [a, b]
            .into_iter()
            .map(|t| {
                let motion = |from: u64, to: u64| t.history.motion(from, to, ground);
                let tc = contact.ts_ms;
                let before = motion(tc.saturating_sub(window_ms), tc);
                let after = motion(tc, tc + window_ms);
                let earlier = motion(
                    tc.saturating_sub(2 * window_ms),
                    tc.saturating_sub(window_ms),
                );
                let abrupt = match (&before, &after) {
                    (Some(b), Some(a)) => abrupt(b, a, earlier.as_ref(), &rule),
                    _ => false,
                };
                (t, before, after, abrupt)
            })
            .collect();
        if !judged.iter().any(|j| j.3) {
            continue;
        }
        let vulnerable = judged.iter().any(|j| j.0.user.is_vulnerable());
        let fast = judged
            .iter()
            .any(|j| j.1.is_some_and(|m| m.relative_speed >= FAST));
        let (severity, reason) = if vulnerable {
            (
                Severity::Critical,
                "a pedestrian, motorcyclist or cyclist is involved",
            )
        } else if fast {
            (Severity::Critical, "at speed")
        } else {
            (Severity::Warning, "vehicles only, at low speed")
        };
        let contact_sample = a.history.at(contact.ts_ms).copied().unwrap_or(*a.last());
        found.push(Finding {
            kind: Kind::Collision,
            tracks: vec![a.id, b.id],
            zone: zone_at(&config.zones, contact_sample.nx, contact_sample.ny, |_| {
                true
            })
            .map(|z| z.name.clone()),
            severity,
            reason,
            frame_id: frame.frame_id,
            facts: judged
                .iter()
                .map(|(t, before, after, abrupt)| {
                    let mut fact = facts(t, before.as_ref());
                    fact["abrupt-change"] = json!(abrupt);
                    if let Some(after) = after {
                        fact["after"] = facts(t, Some(after));
                    }
                    fact["contact-ts"] = json!(contact.ts_ms);
                    fact
                })
                .collect(),
        });
    }
    found
}

/// Whether a road user's motion changed abruptly at a contact: it was moving `before`
/// and `after` it lost `speed-drop` of that speed more than the braking it was already
/// doing (`earlier` → `before`) explains, or it turned by `heading-change-deg`. A car
/// braking gently to a stop behind another (their boxes overlapping in the picture)
/// loses its speed as its braking predicts: no collision.
fn abrupt(before: &Motion, after: &Motion, earlier: Option<&Motion>, rule: &CollisionRule) -> bool {
    let speed = before.relative_speed;
    if speed < rule.moving_speed {
        return false;
    }
    let braking = earlier.map_or(0.0, |e| (e.relative_speed - speed).max(0.0));
    let expected = (speed - braking).max(0.0);
    let lost = expected - after.relative_speed >= rule.speed_drop * speed;
    let turned = after.relative_speed >= rule.moving_speed
        && after.turn_deg(before) >= rule.heading_change_deg;
    lost || turned
}

fn sudden_stops(scene: &Scene, config: &Config, ground: Option<&GroundPlane>) -> Vec<Finding> {
    let (rule, collision) = (config.sudden_stop, config.collision);
    let Some(frame) = &scene.frame else {
        return Vec::new();
    };
    if !rule.enabled {
        return Vec::new();
    }
    let window_ms = (collision.window_s * 1000.0) as u64;
    let tc = frame.ts_ms.saturating_sub(window_ms);
    scene
        .current()
        .filter(|t| t.user.is_vehicle())
        // No other box touched it from the braking window before the stop on.
        .filter(|t| {
            t.last_contact_ms
                .is_none_or(|c| c < tc.saturating_sub(2 * window_ms))
        })
        .filter_map(|t| {
            let motion = |from: u64, to: u64| t.history.motion(from, to, ground);
            let before = motion(tc.saturating_sub(window_ms), tc)?;
            let after = motion(tc, frame.ts_ms)?;
            let earlier = motion(
                tc.saturating_sub(2 * window_ms),
                tc.saturating_sub(window_ms),
            );
            let stopped = after.relative_speed < collision.moving_speed;
            let hard = before.relative_speed >= rule.min_speed
                && abrupt(&before, &after, earlier.as_ref(), &collision);
            if !(stopped && hard) {
                return None;
            }
            let mut fact = facts(t, Some(&before));
            fact["after"] = facts(t, Some(&after));
            fact["stop-ts"] = json!(tc);
            let at = t.last();
            Some(Finding {
                kind: Kind::SuddenStop,
                tracks: vec![t.id],
                zone: zone_at(&config.zones, at.nx, at.ny, |_| true).map(|z| z.name.clone()),
                severity: Severity::Info,
                reason: "a vehicle braked hard to a stop",
                frame_id: frame.frame_id,
                facts: vec![fact],
            })
        })
        .collect()
}

fn stalled(scene: &Scene, config: &Config) -> Vec<Finding> {
    let Some(frame) = &scene.frame else {
        return Vec::new();
    };
    scene
        .current()
        .filter(|t| t.user.is_vehicle())
        .filter_map(|t| {
            let at = t.last();
            let lane = zone_at(&config.zones, at.nx, at.ny, |k| k == ZoneKind::Lane)?;
            let after_s = lane.stall_after_s.unwrap_or(config.stall.after_s);
            let still_ms = frame.ts_ms.saturating_sub(t.still_since.ts_ms);
            if (still_ms as f64) < after_s * 1000.0 {
                return None;
            }
            let mut fact = facts(t, None);
            fact["stopped-since-ts"] = json!(t.still_since.ts_ms);
            fact["stopped-s"] = json!(still_ms / 1000);
            Some(Finding {
                kind: Kind::StalledVehicle,
                tracks: vec![t.id],
                zone: Some(lane.name.clone()),
                severity: Severity::Warning,
                reason: "a vehicle stands in a traffic lane",
                frame_id: frame.frame_id,
                facts: vec![fact],
            })
        })
        .collect()
}

fn wrong_way(scene: &Scene, config: &Config, ground: Option<&GroundPlane>) -> Vec<Finding> {
    let rule = config.wrong_way;
    let Some(frame) = &scene.frame else {
        return Vec::new();
    };
    let window_ms = (rule.after_s * 1000.0) as u64;
    scene
        .current()
        .filter(|t| t.user.is_vehicle())
        .filter_map(|t| {
            let now = t.last();
            let lane = zone_at(&config.zones, now.nx, now.ny, |k| k == ZoneKind::Lane)?;
            let [dx, dy] = lane.direction?;
            // Where it was a full window ago: the history must reach back that far.
            let then = t.history.at(frame.ts_ms.saturating_sub(window_ms))?;
            if t.history.first()?.ts_ms > frame.ts_ms.saturating_sub(window_ms) {
                return None;
            }
            let (mx, my) = (now.x - then.x, now.y - then.y);
            let travel = mx.hypot(my) / now.size();
            let against = |vx: f64, vy: f64| {
                let len = vx.hypot(vy) * dx.hypot(dy);
                len > 0.0 && (vx * dx + vy * dy) / len < -0.5
            };
            // Against the lane over the window, and still so over its last second.
            let recent = t.motion(1.0, frame.ts_ms, ground)?;
            if travel < rule.min_travel || !against(mx, my) || !against(recent.vx, recent.vy) {
                return None;
            }
            let mut fact = facts(t, Some(&recent));
            fact["travel-sizes"] = json!(round(travel));
            Some(Finding {
                kind: Kind::WrongWay,
                tracks: vec![t.id],
                zone: Some(lane.name.clone()),
                severity: Severity::Critical,
                reason: "a vehicle drives against the traffic",
                frame_id: frame.frame_id,
                facts: vec![fact],
            })
        })
        .collect()
}

fn pedestrians(scene: &mut Scene, config: &Config) -> Vec<Finding> {
    let Some(frame) = scene.frame.clone() else {
        return Vec::new();
    };
    let after_ms = (config.pedestrian.after_s * 1000.0) as u64;
    let mut found: Option<Finding> = None;
    for t in scene.tracks.values_mut() {
        if t.user != RoadUser::Person || t.last().ts_ms != frame.ts_ms {
            continue;
        }
        let at = *t.last();
        let off_road = zone_at(&config.zones, at.nx, at.ny, |k| !k.is_carriageway()).is_some();
        let road =
            zone_at(&config.zones, at.nx, at.ny, ZoneKind::is_carriageway).filter(|_| !off_road);
        let Some(road) = road else {
            t.on_carriageway_since = None;
            continue;
        };
        let since = *t.on_carriageway_since.get_or_insert(at.ts_ms);
        if frame.ts_ms.saturating_sub(since) < after_ms {
            continue;
        }
        let mut fact = facts(t, None);
        fact["zone"] = json!(road.name);
        fact["on-carriageway-since-ts"] = json!(since);
        let finding = found.get_or_insert_with(|| Finding {
            kind: Kind::Pedestrian,
            tracks: Vec::new(),
            zone: Some(road.name.clone()),
            severity: Severity::Warning,
            reason: "a person is on the carriageway",
            frame_id: frame.frame_id,
            facts: Vec::new(),
        });
        finding.tracks.push(t.id);
        finding.facts.push(fact);
    }
    found.into_iter().collect()
}
