//! The wasm component: the exported handlers of world `vision-plugin`, and [`Host`] over
//! `telemetry.report` (the rest of the pole comes from the SDKs' [`WitPlatform`]).

use std::cell::RefCell;

use sao_plugin_sdk::wit::bindings::sao::plugin::types::Reading;
use sao_plugin_sdk::wit::bindings::sao::plugin::{clock, telemetry};
use sao_plugin_sdk::wit::{telemetry_error, wit_severity, with_state, WitPlatform};
use sao_plugin_sdk_vision::bindings::sao::plugin::vision;
use sao_plugin_sdk_vision::bindings::Guest;
use sao_plugin_sdk_vision::{Detection, Frame};

use crate::analyzer::Analyzer;
use crate::config::Config;
use crate::host::{Host, Phase, Report};

thread_local! {
    /// The plugin's one analyzer, built by `init`.
    static ANALYZER: RefCell<Option<Analyzer>> = const { RefCell::new(None) };
}

impl Host for WitPlatform {
    fn report(&mut self, report: &Report) -> Result<(), String> {
        telemetry::report(&telemetry::IncidentReport {
            kind: report.kind.clone(),
            incident: report.incident.clone(),
            phase: match report.phase {
                Phase::Opened => telemetry::IncidentPhase::Opened,
                Phase::Updated => telemetry::IncidentPhase::Updated,
                Phase::Closed => telemetry::IncidentPhase::Closed,
            },
            severity: wit_severity(report.severity),
            message: report.message.clone(),
            details: report.details.clone(),
            snapshot: report.snapshot.clone(),
        })
        .map_err(telemetry_error)
    }
}

/// Runs `f` on the analyzer, or fails if `init` has not built one.
fn with_analyzer(
    f: impl FnOnce(&mut Analyzer, &mut WitPlatform) -> Result<(), String>,
) -> Result<(), String> {
    with_state(&ANALYZER, f)
}

/// The exported handlers.
struct Component;

impl Guest for Component {
    /// Builds the analyzer, closing incidents a previous run left open.
    fn init(config: String) -> Result<(), String> {
        let analyzer = Analyzer::new(Config::from_json(&config)?, clock::now(), &mut WitPlatform)?;
        ANALYZER.set(Some(analyzer));
        Ok(())
    }

    fn on_config(config: String) -> Result<(), String> {
        let config = Config::from_json(&config)?;
        with_analyzer(|a, _| a.set_config(config))
    }

    fn on_reading(_reading: Reading) -> Result<(), String> {
        Ok(())
    }

    /// Reports finished count periods and ends quiet incidents.
    fn on_tick(now: u64) -> Result<(), String> {
        with_analyzer(|a, host| {
            a.on_tick(now, host);
            Ok(())
        })
    }

    fn on_detections(
        frame: vision::FrameInfo,
        found: Vec<vision::Detection>,
    ) -> Result<(), String> {
        let frame = Frame::from(frame);
        let found: Vec<Detection> = found.into_iter().map(Detection::from).collect();
        with_analyzer(|a, host| {
            a.on_detections(&frame, &found, host);
            Ok(())
        })
    }
}

sao_plugin_sdk_vision::export!(Component);
