//! # sao — the smart-pole edge runtime
//!
//! The host loads sandboxed WebAssembly plugins (the `sao:plugin` WIT contract in
//! `wit/`), drives the pole's hardware for them and sends their results upstream.
//!
//! Modules, in the order data flows through them:
//! - [`devices`]: the pole's lamps (with the lighting fail-safe) and sensors;
//! - [`alarm`]: the local alarm engine (siren, strobe, lamps, display, speaker);
//!   [`sos`]: the SOS button, answered through it;
//! - [`bus`]: which plugin receives which reading and tick;
//! - [`plugin`]: packages, signatures, capabilities, instances and their supervision;
//! - [`engine`]: wasmtime set-up, CPU-deadline ticker and the compiled-component cache;
//! - [`host`]: the WIT interfaces the host implements for plugins;
//! - [`uplink`]: upstream records and where they go; [`reports`]: the host's own events;
//!   [`records`]: what the host reads back from first-party plugins' records;
//! - [`health`]: the pole's green/amber/red verdict, its findings and thermal derating;
//!   [`kpi`]: the hourly KPI ledger and the reports by smart-city dimension;
//! - [`runtime`]: the main loop tying these together; [`sim`]: the scenario runner;
//! - [`web`]: the technician page's view of the pole (served by `sao-web`);
//! - [`config`]: `pole.toml`; [`cli`] and [`scaffold`]: the `sao` command.

pub mod alarm;
pub mod bus;
pub mod cli;
pub mod config;
pub mod control;
pub mod ctl;
pub mod devices;
pub mod engine;
pub mod health;
pub mod host;
pub mod kpi;
pub mod plugin;
pub mod records;
pub mod reports;
pub mod runtime;
pub mod scaffold;
pub mod service;
pub mod sim;
pub mod sos;
pub mod storage;
pub mod uplink;
pub mod vision;
pub mod web;

/// Version of this host.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
