//! [`Analyzer`]: the plugin's logic, frame by frame and tick by tick.

use std::collections::BTreeMap;

use sao_plugin_sdk_vision::{Detection, Frame};

use crate::config::Config;
use crate::counts::PeriodCounts;
use crate::host::Host;
use crate::incidents::Incidents;
use crate::kinematics::GroundPlane;
use crate::rules::{self, Kind};
use crate::scene::Scene;

/// One camera's state.
#[derive(Debug, Default)]
struct Camera {
    scene: Scene,
    counts: PeriodCounts,
}

/// Follows every subscribed camera's road users, reports incidents and counts traffic.
#[derive(Debug)]
pub struct Analyzer {
    config: Config,
    ground: Option<GroundPlane>,
    cameras: BTreeMap<String, Camera>,
    incidents: Incidents,
}

impl Analyzer {
    /// An analyzer with `config`; incidents a previous run left open are closed.
    pub fn new(config: Config, now_ms: u64, host: &mut impl Host) -> Result<Analyzer, String> {
        config.validate()?;
        Ok(Analyzer {
            ground: ground(&config),
            config,
            cameras: BTreeMap::new(),
            incidents: Incidents::restore(host, now_ms),
        })
    }

    /// Replaces the config; tracks, counts and open incidents carry on.
    pub fn set_config(&mut self, config: Config) -> Result<(), String> {
        config.validate()?;
        self.ground = ground(&config);
        self.config = config;
        Ok(())
    }

    /// The incidents being followed.
    pub fn open_incidents(&self) -> &[crate::incidents::Incident] {
        self.incidents.open()
    }

    /// Takes in one frame the detector ran on.
    pub fn on_detections(&mut self, frame: &Frame, detections: &[Detection], host: &mut impl Host) {
        let config = &self.config;
        let camera = self.cameras.entry(frame.camera.clone()).or_default();
        camera.counts.roll(&frame.camera, frame.ts_ms, config, host);
        camera.scene.update(frame, detections, config);
        camera
            .counts
            .count(&mut camera.scene, config, self.ground.as_ref());
        for finding in rules::find(&mut camera.scene, config, self.ground.as_ref()) {
            self.incidents
                .observe(finding, &frame.camera, frame.ts_ms, config, host);
        }
        let scene = &camera.scene;
        self.incidents.hold(&frame.camera, frame.ts_ms, |incident| {
            let tracks: Vec<u64> = incident.tracks.iter().copied().collect();
            incident.kind == Kind::Collision && rules::collision_holds(scene, &tracks, config)
        });
        self.incidents.sweep(frame.ts_ms, config, host);
    }

    /// Reports finished count periods and ends quiet incidents, even when no camera
    /// frame arrives (a dead camera, a scene the motion gate finds still).
    pub fn on_tick(&mut self, now_ms: u64, host: &mut impl Host) {
        for (name, camera) in &mut self.cameras {
            camera.counts.roll(name, now_ms, &self.config, host);
        }
        self.incidents.sweep(now_ms, &self.config, host);
    }
}

fn ground(config: &Config) -> Option<GroundPlane> {
    config.calibration.as_ref().and_then(GroundPlane::new)
}
