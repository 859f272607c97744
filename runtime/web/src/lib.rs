//! The technician web page served on the pole box, and the Prometheus `/metrics` exposition.
//!
//! A technician at the pole opens the page on a phone over the pole's Wi-Fi: health, alarms,
//! readings, lamps, energy, air quality, plugins, cameras, the sign, recent events and 24-hour
//! plots, in Thai or English. Reading needs no login; acknowledging alarms, restarting plugins
//! and testing the siren and relays need the password set in `[web]`.
//!
//! The runtime implements [`PoleSource`]; [`router`] builds the HTTP routes over it and
//! [`serve`] runs them on a listener until shutdown.

#![warn(missing_docs)]

mod assets;
mod auth;
mod config;
mod metrics;
mod plot;
mod routes;
mod source;
pub mod view;

use std::future::Future;
use std::sync::Arc;

pub use auth::hash_password;
pub use config::{Language, WebConfig};
pub use source::PoleSource;
pub use view::*;

/// The page, its API and `/metrics` over `source`, as `config` says.
///
/// A `password_hash` that does not parse (a config that skipped [`WebConfig::validate`])
/// leaves the page read-only and logs a warning.
pub fn router(source: Arc<dyn PoleSource>, config: &WebConfig) -> axum::Router {
    routes::router(source, config)
}

/// Serves [`router`] on `listener` until `shutdown` completes, then lets open requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    source: Arc<dyn PoleSource>,
    config: &WebConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(source, config))
        .with_graceful_shutdown(shutdown)
        .await
}
