//! `sao:plugin/vision`: the cameras a plugin subscribes to and annotated snapshots of
//! their recent frames. Detections themselves arrive through the `on-detections` export.

use sao_vision::gate::Trigger as GateTrigger;
use sao_vision::geometry::BoundingBox;
use sao_vision::pipeline::{DetectedObject, FrameDetections, SnapshotError};

use super::wit_vision::{Bbox, Detection, Error, FrameInfo, FrameSnapshot, Host, Trigger};
use super::PluginState;
use crate::vision::AccessError;

impl From<AccessError> for Error {
    fn from(e: AccessError) -> Self {
        match e {
            AccessError::UnknownCamera(camera) => Error::UnknownCamera(camera),
            AccessError::Snapshot(SnapshotError::FrameExpired(id)) => Error::FrameExpired(id),
            AccessError::Snapshot(SnapshotError::NoFrame) => Error::NoFrame,
            AccessError::Snapshot(SnapshotError::Encode(reason)) => Error::Encode(reason),
        }
    }
}

impl From<&FrameDetections> for FrameInfo {
    fn from(frame: &FrameDetections) -> Self {
        Self {
            camera: frame.camera.clone(),
            frame_id: frame.frame_id,
            ts: frame.ts_ms,
            width: frame.width,
            height: frame.height,
            trigger: match frame.trigger {
                GateTrigger::Motion => Trigger::Motion,
                GateTrigger::Wake => Trigger::Wake,
                GateTrigger::Tracks => Trigger::Tracks,
                GateTrigger::Keepalive => Trigger::Keepalive,
                GateTrigger::Always => Trigger::Always,
            },
        }
    }
}

impl From<&BoundingBox> for Bbox {
    fn from(b: &BoundingBox) -> Self {
        Self {
            x: b.x1,
            y: b.y1,
            width: b.width(),
            height: b.height(),
        }
    }
}

impl From<&DetectedObject> for Detection {
    fn from(o: &DetectedObject) -> Self {
        Self {
            label: o.label.clone(),
            class_id: o.class_id,
            score: o.score,
            bbox: Bbox::from(&o.bbox),
            track_id: o.track_id,
            velocity_x: o.velocity.0,
            velocity_y: o.velocity.1,
            age_ms: o.age_ms,
            hits: o.hits,
        }
    }
}

impl Host for PluginState {
    fn cameras(&mut self) -> Vec<String> {
        self.services.cameras.cameras(&self.identity.id)
    }

    fn snapshot(
        &mut self,
        camera: String,
        frame_id: Option<u64>,
        highlight: Vec<u64>,
    ) -> Result<FrameSnapshot, Error> {
        // Drawing, blurring and encoding a frame is the host's work, not the plugin's.
        let (frame_id, snapshot) = self.uncharged(|state| {
            state
                .services
                .cameras
                .snapshot(&state.identity.id, &camera, frame_id, &highlight)
        })?;
        Ok(FrameSnapshot {
            camera,
            frame_id,
            jpeg: snapshot.jpeg,
            width: snapshot.width,
            height: snapshot.height,
            blurred: snapshot.blurred,
        })
    }
}
