//! Guest-side SDK for sao plugins.
//!
//! * [`Platform`] — what every plugin's logic needs from the pole (persistent key-value
//!   store, telemetry, events, logging, where and in which time zone it stands), as a plain
//!   Rust trait. A plugin keeps its logic generic over a trait extending it, so the same
//!   logic runs natively in tests and benchmarks with an in-memory implementation.
//! * `wit` (built for `wasm32` only) — the one copy of the `sao:plugin@0.1.1` bindings,
//!   [`wit::WitPlatform`] implementing [`Platform`] over the imports, the conversions of
//!   the contract's error variants to messages, and the `wit::export!` macro a plugin
//!   calls with its type implementing `wit::bindings::Guest`. Vision plugins add the
//!   `sao-plugin-sdk-vision` crate for their world's bindings.
//! * [`config`] — a plugin's config parsed from the host's JSON and checked.
//! * [`checks`] — range checks for configs, with one wording of their messages.
//! * `testing` (feature `testing`, for plugins' tests) — checks that a plugin's config
//!   schema and its serde types describe the same document.

#![warn(missing_docs)]

pub mod checks;
pub mod config;
mod platform;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(target_arch = "wasm32")]
pub mod wit;

pub use platform::{EventState, LogLevel, Platform, Severity};
