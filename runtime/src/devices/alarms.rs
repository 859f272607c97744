//! Local alarm outputs (siren, strobe, ...). An output is on while any active alarm holds
//! it. Alarms never depend on the network.

use std::collections::BTreeMap;

use sao_hardware::{HwError, Switch};

/// Why an alarm request failed.
#[derive(Debug, thiserror::Error)]
pub enum AlarmError {
    /// No such output.
    #[error("no alarm output `{0}` on this pole")]
    UnknownOutput(String),
    /// No such active alarm (or it belongs to another plugin).
    #[error("no active alarm {0}")]
    UnknownAlarm(u64),
    /// The driver failed.
    #[error(transparent)]
    Hardware(#[from] HwError),
}

/// An alarm that is sounding.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveAlarm {
    /// Plugin that raised it.
    pub plugin: String,
    /// Outputs it holds on.
    pub outputs: Vec<String>,
    /// Level name (`advisory`, `warning`, `emergency`).
    pub level: String,
    /// Message.
    pub message: String,
    /// When it was raised.
    pub raised_ms: u64,
}

/// The pole's alarm outputs and the alarms holding them.
pub struct AlarmOutputs {
    outputs: Vec<Box<dyn Switch>>,
    active: BTreeMap<u64, ActiveAlarm>,
    next_id: u64,
}

impl AlarmOutputs {
    /// Takes the outputs, all switched off.
    pub fn new(outputs: Vec<Box<dyn Switch>>) -> Self {
        Self {
            outputs,
            active: BTreeMap::new(),
            next_id: 1,
        }
    }

    /// Names of the outputs.
    pub fn names(&self) -> Vec<String> {
        self.outputs.iter().map(|o| o.name().to_string()).collect()
    }

    /// Raises an alarm on `outputs`, switching them on; returns its id.
    pub fn raise(&mut self, alarm: ActiveAlarm) -> Result<u64, AlarmError> {
        if let Some(missing) = alarm
            .outputs
            .iter()
            .find(|name| !self.outputs.iter().any(|o| o.name() == name.as_str()))
        {
            return Err(AlarmError::UnknownOutput(missing.clone()));
        }
        for output in self
            .outputs
            .iter_mut()
            .filter(|o| alarm.outputs.iter().any(|n| n == o.name()))
        {
            output.set(true)?;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.active.insert(id, alarm);
        Ok(id)
    }

    /// Clears alarm `id` raised by `plugin`, switching off outputs nothing else holds.
    pub fn clear(&mut self, plugin: &str, id: u64) -> Result<ActiveAlarm, AlarmError> {
        if self.active.get(&id).is_none_or(|a| a.plugin != plugin) {
            return Err(AlarmError::UnknownAlarm(id));
        }
        let alarm = self.active.remove(&id).expect("checked above");
        for output in self.outputs.iter_mut() {
            let held = self
                .active
                .values()
                .any(|a| a.outputs.iter().any(|n| n == output.name()));
            if !held && alarm.outputs.iter().any(|n| n == output.name()) {
                output.set(false)?;
            }
        }
        Ok(alarm)
    }

    /// Alarms currently sounding.
    pub fn active(&self) -> &BTreeMap<u64, ActiveAlarm> {
        &self.active
    }

    /// Which outputs are on.
    pub fn output_states(&self) -> Vec<(String, bool)> {
        self.outputs
            .iter()
            .map(|o| (o.name().to_string(), o.is_on()))
            .collect()
    }
}
