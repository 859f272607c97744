//! Wild-elephant early warning for sao poles.
//!
//! Wild elephants leaving the forest for villages and roads are a daily danger in
//! eastern Thailand. The plugin watches the detections of the pole's cameras: a
//! detection labelled elephant (or horse, cow, bear: a COCO detector often mistakes an
//! elephant for them) that passes its score and size thresholds is a candidate; a track
//! that is a candidate on enough of the last detector frames is a confirmed sighting
//! ([`sighting`]). The first confirmed sighting sounds the pole's alarm, with a Thai and
//! English message, a voice clip, the herd's count and direction of travel
//! ([`direction`]) and an annotated snapshot; the alarm escalates when the herd heads
//! from the forest toward the village, is updated as the herd grows or turns, and is
//! cleared after a quiet period, when the incident's movement record is published
//! ([`watch`]).
//!
//! The logic lives in [`Watch`] and talks to the pole only through [`Host`], so it runs
//! natively (tests) exactly as inside the wasm component, where the `component` module
//! (built for `wasm32` only) implements [`Host`] over the WIT imports of
//! `sao:plugin/vision-plugin@0.1.1`.

#![warn(missing_docs)]

pub mod config;
pub mod detections;
pub mod direction;
pub mod host;
pub mod message;
pub mod sighting;
pub mod watch;

pub use config::Config;
pub use detections::{Detection, Frame, PathPoint};
pub use direction::{Direction, Heading};
pub use host::{
    AlarmLevel, AlarmRequest, EventState, Host, LogLevel, Platform, Severity, Snapshots,
};
pub use sighting::{Observation, Sightings};
pub use watch::Watch;

#[cfg(target_arch = "wasm32")]
mod component;
