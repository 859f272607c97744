//! `sao:plugin/alarm`: the plugin's side of the local alarm engine ([`crate::alarm`]).
//! Alarms work with no network; the alert upstream is a side effect, never a precondition.

use std::sync::Arc;

use sao_hardware::DisplayMessage;
use serde_json::Value;

use super::sao::plugin::alarm::{
    AlarmRequest, AlarmStatus, Bilingual, Error, Host, Level, RequestError,
};
use super::PluginState;
use crate::alarm::{self, Alarm, AlarmError, Request};

impl From<AlarmError> for Error {
    fn from(e: AlarmError) -> Self {
        match e {
            AlarmError::UnknownOutput(name) => Error::UnknownOutput(name),
            AlarmError::UnknownAlarm(id) => Error::UnknownAlarm(id),
            AlarmError::Invalid(reason) => Error::Hardware(reason),
        }
    }
}

impl From<AlarmError> for RequestError {
    fn from(e: AlarmError) -> Self {
        match e {
            AlarmError::UnknownAlarm(id) => RequestError::UnknownAlarm(id),
            other => RequestError::Invalid(other.to_string()),
        }
    }
}

impl From<Level> for alarm::Level {
    fn from(level: Level) -> Self {
        match level {
            Level::Advisory => alarm::Level::Advisory,
            Level::Warning => alarm::Level::Warning,
            Level::Emergency => alarm::Level::Emergency,
        }
    }
}

impl From<alarm::Level> for Level {
    fn from(level: alarm::Level) -> Self {
        match level {
            alarm::Level::Advisory => Level::Advisory,
            alarm::Level::Warning => Level::Warning,
            alarm::Level::Emergency => Level::Emergency,
        }
    }
}

impl TryFrom<AlarmRequest> for Request {
    type Error = RequestError;

    fn try_from(r: AlarmRequest) -> Result<Self, RequestError> {
        let details = if r.details.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&r.details)
                .map_err(|e| RequestError::Invalid(format!("alarm details: {e}")))?
        };
        let Bilingual { th, en } = r.message;
        Ok(Request {
            kind: r.kind,
            level: r.level.into(),
            message: DisplayMessage { th, en },
            voice: r.voice,
            details,
            snapshot: r.snapshot.map(Arc::new),
        })
    }
}

impl From<&Alarm> for AlarmStatus {
    fn from(a: &Alarm) -> Self {
        Self {
            id: a.id,
            level: a.request.level.into(),
            raised: a.raised_ms,
            acknowledged: a.acknowledged.is_some(),
            audible: a.audible(),
        }
    }
}

impl Host for PluginState {
    fn outputs(&mut self) -> Vec<String> {
        self.services.alarms.output_names()
    }

    fn raise(&mut self, outputs: Vec<String>, level: Level, message: String) -> Result<u64, Error> {
        let source = self.identity.source();
        let id =
            self.services
                .alarms
                .raise(source, outputs.clone(), level.into(), message.clone())?;
        tracing::warn!(alarm = id, ?outputs, "alarm raised: {message}");
        Ok(id)
    }

    fn clear(&mut self, id: u64) -> Result<(), Error> {
        self.services.alarms.clear(&self.identity.id, id)?;
        tracing::info!(alarm = id, "alarm cleared");
        Ok(())
    }

    fn sound(&mut self, request: AlarmRequest) -> Result<u64, RequestError> {
        let request = Request::try_from(request)?;
        let (kind, message) = (request.kind.clone(), request.message.en.clone());
        let source = self.identity.source();
        // Shrinking and encoding a snapshot is the host's work, not the plugin's.
        let id = self.uncharged(|state| state.services.alarms.sound(source, request))?;
        tracing::warn!(alarm = id, %kind, "alarm sounded: {message}");
        Ok(id)
    }

    fn update(&mut self, id: u64, request: AlarmRequest) -> Result<(), RequestError> {
        let request = Request::try_from(request)?;
        let plugin = self.identity.id.clone();
        self.uncharged(|state| state.services.alarms.update(&plugin, id, request))?;
        Ok(())
    }

    fn status(&mut self, id: u64) -> Option<AlarmStatus> {
        self.services
            .alarms
            .status(&self.identity.id, id)
            .as_ref()
            .map(AlarmStatus::from)
    }
}
