//! Air quality for sao poles: the Thai Pollution Control Department's AQI (2023) or the
//! US EPA's (2024) over the official averaging windows, trend alerts before AQI crosses a
//! level, and the time-in-band statistics a city reports as its good-air KPI.

#![warn(missing_docs)]

pub mod aqi;
pub mod averaging;
pub mod config;
pub mod host;
pub mod kpi;
pub mod monitor;
pub mod trend;

#[cfg(target_arch = "wasm32")]
mod component;

pub use config::Config;
pub use host::{EventState, Host, LogLevel, Platform, Severity};
pub use monitor::Monitor;
