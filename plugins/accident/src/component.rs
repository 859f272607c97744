//! The wasm component: the [`Analyzer`] as the `vision-plugin` world's handlers, and [`Host`] over
//! `telemetry.report` (the rest of the pole comes from the SDKs' [`WitPlatform`]).

use sao_plugin_sdk::wit::bindings::sao::plugin::{clock, telemetry};
use sao_plugin_sdk::wit::{telemetry_error, wit_severity, WitPlatform};
use sao_plugin_sdk_vision::{Detection, Frame, VisionPlugin};

use crate::analyzer::Analyzer;
use crate::config::Config;
use crate::host::{Host, Phase, Report};

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

impl VisionPlugin for Analyzer {
    /// Builds the analyzer, closing incidents a previous run left open.
    fn init(config: &str, pole: &mut WitPlatform) -> Result<Self, String> {
        Analyzer::new(Config::from_json(config)?, clock::now(), pole)
    }

    fn on_config(&mut self, config: &str) -> Result<(), String> {
        self.set_config(Config::from_json(config)?)
    }

    /// Reports finished count periods and ends quiet incidents.
    fn on_tick(&mut self, now_ms: u64, pole: &mut WitPlatform) {
        Analyzer::on_tick(self, now_ms, pole);
    }

    fn on_detections(
        &mut self,
        frame: &Frame,
        found: &[Detection],
        pole: &mut WitPlatform,
    ) -> Result<(), String> {
        Analyzer::on_detections(self, frame, found, pole);
        Ok(())
    }
}

sao_plugin_sdk_vision::export_vision_plugin!(Analyzer);
