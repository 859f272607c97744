//! People waiting at a smart bus stop, for sao poles.
//!
//! A bus operator wants to know how many people wait at a stop, and how long, to match
//! buses to demand; a stop's display and the city's dashboard want the crowd now. The
//! plugin turns the stop camera's tracked `person` detections into counts — never
//! video, never identities:
//!
//! * [`waiting`] follows the people whose feet are in the configured waiting area: a
//!   person is waiting after `dwell-s` there, and has left when seen outside it or
//!   unseen for `lost-after-s`;
//! * [`period`] tallies each report period (people waiting at its end, the peak, arrivals,
//!   departures and their mean wait) and publishes it on stream `waiting`;
//! * [`live`] publishes the number waiting on stream `waiting-now` as it changes, at most
//!   every 5 s;
//! * [`counter`] drives them for every subscribed camera, on frames and on ticks.
//!
//! The logic lives in [`Counter`] and talks to the pole only through the SDK's
//! [`Platform`] (telemetry and log), so it runs natively (tests) exactly as inside the
//! wasm component, where the `component` module (built for `wasm32` only) wires it to
//! the handlers of `sao:plugin/vision-plugin@0.1.1`.

#![warn(missing_docs)]

pub mod config;
pub mod counter;
pub mod live;
pub mod period;
pub mod waiting;

pub use config::Config;
pub use counter::Counter;
pub use sao_plugin_sdk::{LogLevel, Platform};
pub use sao_plugin_sdk_vision::{Detection, Frame};

#[cfg(target_arch = "wasm32")]
mod component;
