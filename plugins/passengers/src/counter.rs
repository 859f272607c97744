//! [`Counter`]: the plugin's logic, frame by frame and tick by tick, for every camera
//! it is subscribed to (each camera a stop of its own, with the one configured zone).
//!
//! Each step (a frame, or a tick for every camera seen so far) first reports the period
//! if the step's time is past its end ([`crate::period`]), then lets go of the people
//! lost by then and, on a frame, takes in its detections ([`crate::waiting`]), tallies
//! the changes in the current period, and sends the live count if it is due
//! ([`crate::live`]). Ticks keep reports and departures going when a camera falls
//! silent.

use std::collections::BTreeMap;

use sao_plugin_sdk::{LogLevel, Platform};
use sao_plugin_sdk_vision::{Detection, Frame};
use serde_json::json;

use crate::config::Config;
use crate::live::{self, LiveCount};
use crate::period::{self, Period};
use crate::waiting::{Change, Waiting};

/// One camera's state.
#[derive(Debug, Clone)]
struct Stop {
    waiting: Waiting,
    period: Period,
    live: LiveCount,
}

impl Stop {
    /// Reports the period if `now_ms` is past its end and starts the one `now_ms` lies
    /// in; then lets go of the people lost by `now_ms`.
    fn advance(&mut self, camera: &str, now_ms: u64, config: &Config, host: &mut impl Platform) {
        if self.period.is_over(now_ms) {
            let end_ms = self.period.end_ms;
            let changes = self.waiting.sweep(end_ms, config);
            self.tally(&changes);
            let count = self.waiting.count();
            let metrics = self.period.metrics(count);
            let details = self.period.details(camera);
            if let Err(e) = host.publish_with_details(period::STREAM, &metrics, &details) {
                host.log(
                    LogLevel::Error,
                    &format!("waiting report of {camera} not published: {e}"),
                );
            }
            self.period = Period::starting(now_ms, config.period_ms(), count);
        }
        let changes = self.waiting.sweep(now_ms, config);
        self.tally(&changes);
    }

    fn tally(&mut self, changes: &[Change]) {
        self.period.tally(changes, self.waiting.count());
    }

    /// Sends the live count if it is due at `now_ms`.
    fn send_live(&mut self, camera: &str, now_ms: u64, host: &mut impl Platform) {
        let count = self.waiting.count();
        if !self.live.due(count, now_ms) {
            return;
        }
        let details = json!({ "camera": camera }).to_string();
        let metrics = [("waiting", count as f64, "1")];
        match host.publish_with_details(live::STREAM, &metrics, &details) {
            Ok(()) => self.live.sent(count, now_ms),
            Err(e) => {
                self.live.failed(now_ms);
                host.log(
                    LogLevel::Warn,
                    &format!("live count of {camera} not published: {e}"),
                );
            }
        }
    }
}

/// Counts the people waiting at the stop on every subscribed camera.
#[derive(Debug, Clone)]
pub struct Counter {
    config: Config,
    stops: BTreeMap<String, Stop>,
}

impl Counter {
    /// A counter with `config`, which must be valid.
    pub fn new(config: Config) -> Result<Counter, String> {
        config.validate()?;
        Ok(Counter {
            config,
            stops: BTreeMap::new(),
        })
    }

    /// Replaces the config. The people being followed and the current periods carry on:
    /// a new zone or dwell applies from the next frame, a new period length from the
    /// next period.
    pub fn set_config(&mut self, config: Config) -> Result<(), String> {
        config.validate()?;
        self.config = config;
        Ok(())
    }

    /// How many people are waiting on `camera` now.
    pub fn waiting(&self, camera: &str) -> usize {
        self.stops.get(camera).map_or(0, |s| s.waiting.count())
    }

    /// Takes in one frame the detector ran on.
    pub fn on_detections(
        &mut self,
        frame: &Frame,
        detections: &[Detection],
        host: &mut impl Platform,
    ) {
        let config = &self.config;
        let stop = self
            .stops
            .entry(frame.camera.clone())
            .or_insert_with(|| Stop {
                waiting: Waiting::default(),
                period: Period::starting(frame.ts_ms, config.period_ms(), 0),
                live: LiveCount::default(),
            });
        stop.advance(&frame.camera, frame.ts_ms, config, host);
        let changes = stop.waiting.observe(frame, detections, config);
        stop.tally(&changes);
        stop.send_live(&frame.camera, frame.ts_ms, host);
    }

    /// Reports finished periods and lets go of people unseen for too long, even when no
    /// camera frame arrives (a dead camera, an empty stop).
    pub fn on_tick(&mut self, now_ms: u64, host: &mut impl Platform) {
        for (camera, stop) in &mut self.stops {
            stop.advance(camera, now_ms, &self.config, host);
            stop.send_live(camera, now_ms, host);
        }
    }
}
