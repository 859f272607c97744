//! The web crate through its router, as the browser and Prometheus use it.

mod api;
mod assets;
mod config;
mod fake;
mod metrics;
mod plot;
