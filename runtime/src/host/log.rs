//! `sao:plugin/log`: plugin log lines into the host's tracing output.

use super::sao::plugin::log::{Host, Level};
use super::PluginState;

/// Longest log message kept; the rest is cut.
const MAX_MESSAGE: usize = 4096;

impl Host for PluginState {
    fn log(&mut self, level: Level, message: String) {
        let mut message = message;
        if message.len() > MAX_MESSAGE {
            let cut = (0..=MAX_MESSAGE)
                .rev()
                .find(|&i| message.is_char_boundary(i))
                .unwrap_or(0);
            message.truncate(cut);
            message.push('…');
        }
        // The caller's span carries plugin id and version.
        match level {
            Level::Trace => tracing::trace!(target: "plugin", "{message}"),
            Level::Debug => tracing::debug!(target: "plugin", "{message}"),
            Level::Info => tracing::info!(target: "plugin", "{message}"),
            Level::Warn => tracing::warn!(target: "plugin", "{message}"),
            Level::Error => tracing::error!(target: "plugin", "{message}"),
        }
    }
}
