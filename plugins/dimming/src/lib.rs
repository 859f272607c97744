//! Adaptive street-light dimming for sao poles.
//!
//! The plugin switches the pole's lamps on at dusk (astro clock, with a photocell for
//! daytime darkness), dims them through the night by time-of-night steps chosen from a
//! calendar of programs, boosts them on motion, honours operator overrides, never lets a
//! lit lamp fall below a minimum level, and reports each night's energy against the
//! lamps it replaced (`energy-daily`).
//!
//! The logic lives in [`Controller`] and talks to the pole only through [`Host`], so it
//! runs natively (tests, benchmarks) exactly as inside the wasm component, where the
//! `component` module (built for `wasm32` only) implements [`Host`] over the WIT
//! imports of `sao:plugin/plugin@0.1.1`.

#![warn(missing_docs)]

pub mod astro;
pub mod config;
pub mod controller;
pub mod host;

#[cfg(target_arch = "wasm32")]
mod component;

pub use config::Config;
pub use controller::{Controller, Energy};
pub use host::{EventState, Host, Lamp, LogLevel, Platform, Severity};
