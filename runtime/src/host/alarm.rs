//! `sao:plugin/alarm`: local alarm outputs. Works with no network; the event upstream is
//! a side effect, never a precondition.

use serde_json::json;

use super::sao::plugin::alarm::{Error, Host, Level};
use super::PluginState;
use crate::devices::alarms::{ActiveAlarm, AlarmError};
use crate::uplink::{Event, EventState, Severity};

impl From<AlarmError> for Error {
    fn from(e: AlarmError) -> Self {
        match e {
            AlarmError::UnknownOutput(name) => Error::UnknownOutput(name),
            AlarmError::UnknownAlarm(id) => Error::UnknownAlarm(id),
            AlarmError::Hardware(e) => Error::Hardware(e.to_string()),
        }
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Advisory => "advisory",
        Level::Warning => "warning",
        Level::Emergency => "emergency",
    }
}

impl PluginState {
    fn report_alarm(&self, id: u64, alarm: &ActiveAlarm, state: EventState) {
        let severity = match alarm.level.as_str() {
            "emergency" => Severity::Critical,
            "warning" => Severity::Warning,
            _ => Severity::Info,
        };
        // Logged by the uplink if it cannot be queued; the alarm itself sounds regardless.
        let _ = self.services.uplink.event(
            &self.identity.source(),
            &Event {
                kind: "alarm",
                state,
                severity,
                message: &alarm.message,
                details: json!({ "alarm-id": id, "outputs": alarm.outputs, "level": alarm.level }),
            },
            self.now_ms(),
        );
    }
}

impl Host for PluginState {
    fn outputs(&mut self) -> Vec<String> {
        self.services.devices.alarms().names()
    }

    fn raise(&mut self, outputs: Vec<String>, level: Level, message: String) -> Result<u64, Error> {
        let alarm = ActiveAlarm {
            plugin: self.identity.id.clone(),
            outputs,
            level: level_name(level).to_string(),
            message,
            raised_ms: self.now_ms(),
        };
        let id = self.services.devices.alarms().raise(alarm.clone())?;
        tracing::warn!(alarm = id, outputs = ?alarm.outputs, "alarm raised: {}", alarm.message);
        self.report_alarm(id, &alarm, EventState::Raised);
        Ok(id)
    }

    fn clear(&mut self, id: u64) -> Result<(), Error> {
        let alarm = self
            .services
            .devices
            .alarms()
            .clear(&self.identity.id, id)?;
        tracing::info!(alarm = id, "alarm cleared");
        self.report_alarm(id, &alarm, EventState::Cleared);
        Ok(())
    }
}
