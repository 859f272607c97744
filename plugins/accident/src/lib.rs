//! CCTV accident analytics for sao poles.
//!
//! Chachoengsao builds an electronic road-accident database from its CCTV; cities also
//! want traffic data from the same cameras. This plugin turns the pole's tracked
//! detections into structured, privacy-preserving records — never video:
//!
//! * [`scene`] follows each camera's road users ([`road_user`]: the config maps detector
//!   labels to cars, motorcycles, bicycles, buses, trucks and people) and
//!   [`kinematics`] gives their speed and heading, in pixels or, with a ground-plane
//!   calibration, in metres;
//! * [`rules`] finds collisions, stalled vehicles, wrong-way drivers and pedestrians on
//!   the carriageway, using the [`config`]'s zones (lanes with their direction,
//!   carriageway, shoulder, sidewalk);
//! * [`incidents`] makes each one incident: one report when it opens, with an annotated
//!   snapshot the pole blurs people and plates on, updates after, and one when the
//!   scene clears;
//! * [`counts`] publishes road users per class and direction per period.
//!
//! The logic lives in [`Analyzer`] and talks to the pole only through [`Host`], so it
//! runs natively (tests, replayed detection sequences from [`replay`]) exactly as inside
//! the wasm component, where the `component` module (built for `wasm32` only)
//! implements [`Host`] over the WIT imports of `sao:plugin/vision-plugin@0.1.1`.

#![warn(missing_docs)]

pub mod analyzer;
pub mod config;
pub mod counts;
pub mod host;
pub mod incidents;
pub mod kinematics;
pub mod replay;
pub mod road_user;
pub mod rules;
pub mod scene;

pub use analyzer::Analyzer;
pub use config::Config;
pub use host::{EventState, Host, LogLevel, Phase, Platform, Report, Severity, Snapshots};
pub use road_user::RoadUser;
pub use sao_plugin_sdk_vision::{Detection, Frame};

#[cfg(target_arch = "wasm32")]
mod component;
