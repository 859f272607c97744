//! Destinations for upstream records.

use std::io::Write;
use std::sync::Mutex;

use super::UplinkRecord;

/// Receives every upstream record the pole produces.
pub trait RecordSink: Send + Sync {
    /// Delivers one record. Must not block for long: it is called from host functions.
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

/// Logs each record (a pole with no uplink configured).
pub struct LogSink;

impl RecordSink for LogSink {
    fn publish(&self, record: &UplinkRecord) {
        tracing::info!(topic = %record.topic, payload = %record.payload, "uplink");
    }
}

/// Keeps records in memory (benchmarks and tests of the host itself).
#[derive(Default)]
pub struct MemorySink {
    records: Mutex<Vec<UplinkRecord>>,
}

impl MemorySink {
    /// Takes the records collected so far.
    pub fn take(&self) -> Vec<UplinkRecord> {
        std::mem::take(&mut *self.records.lock().expect("sink lock"))
    }
}

impl RecordSink for MemorySink {
    fn publish(&self, record: &UplinkRecord) {
        self.records.lock().expect("sink lock").push(record.clone());
    }
}
