//! Observers of upstream records: the JSON-lines file `sao sim` writes, and [`Tee`] to
//! have several.

use std::io::Write;
use std::sync::{Arc, Mutex};

use super::UplinkRecord;

/// Sees every upstream record the pole produces, as it is queued.
pub trait RecordSink: Send + Sync {
    /// Takes one record. Must not block for long: it is called from host functions.
    fn publish(&self, record: &UplinkRecord);
}

/// Writes each record as one JSON line (the `sao sim` output format).
pub struct JsonLinesSink {
    out: Mutex<Box<dyn Write + Send>>,
}

impl JsonLinesSink {
    /// Writes to `out`, flushing after every line.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self {
            out: Mutex::new(out),
        }
    }
}

impl RecordSink for JsonLinesSink {
    fn publish(&self, record: &UplinkRecord) {
        let line = serde_json::to_string(record).expect("records serialise");
        let mut out = self.out.lock().expect("sink lock");
        if let Err(e) = writeln!(out, "{line}").and_then(|_| out.flush()) {
            tracing::error!("cannot write uplink record: {e}");
        }
    }
}

/// Shows every record to each of its sinks, in order.
pub struct Tee(pub Vec<Arc<dyn RecordSink>>);

impl RecordSink for Tee {
    fn publish(&self, record: &UplinkRecord) {
        for sink in &self.0 {
            sink.publish(record);
        }
    }
}
