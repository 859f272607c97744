//! Signage for sao poles and bus stops.
//!
//! Operators push messages in Thai and English, each with a priority and optionally a
//! start, an expiry, days of the week and daily hours, as the plugin's desired config. A
//! bus stop's transit system pushes arrival times on `…/msg/signage/arrivals`; the plugin
//! counts them down as a board. At every tick the plugin puts on the display what is due
//! with the highest priority, rotating among equals; the host shows it whenever no alarm
//! needs the display, so alarms always override signage.
//!
//! The logic lives in [`Signage`] and talks to the pole only through [`Host`], so it runs
//! natively in tests exactly as inside the wasm component, where the `component` module
//! (built for `wasm32` only) implements [`Host`] over the WIT imports of
//! `sao:plugin/message-plugin@0.1.1`.

#![warn(missing_docs)]

pub mod board;
pub mod config;
pub mod host;
pub mod signage;

#[cfg(target_arch = "wasm32")]
mod component;

pub use board::Board;
pub use config::Config;
pub use host::{EventState, Host, LogLevel, Platform, Severity, Sign};
pub use signage::Signage;
