//! The durable store-and-forward outbox: every upstream record is written here (in sled,
//! in the pole's database) before it is published, and removed only when the broker has
//! acknowledged it. The outbox, not the MQTT client, is the source of truth: rumqttc drops
//! its in-flight queue when a clean session reconnects.
//!
//! Layout of the `uplink-outbox` tree:
//! - `q` + class + order (u64, big-endian) → a queued record. Keys sort by priority class
//!   (alarms, events, telemetry), then by arrival, which is the order records are sent in.
//! - `s` + topic → the stream's last `seq` and priority class.
//! - `c` → cumulative counters (evictions, expiries, sessions).
//!
//! A record and its stream's new `seq` are written in one atomic batch, so whatever
//! prefix of writes survives a crash, `seq` has no gaps that a queued record would fill.
//! Writes become durable at [`Outbox::commit`] (one flush for everything written since),
//! and only durable records are handed out for sending: a record that reached the broker
//! can never be lost in a crash and its `seq` reused for another.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::Notify;

use sao_hardware::TimeSource;

/// Priority class of a record. Lower sorts first and is sent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// Critical events: never evicted, sent before anything else.
    Alarm = 0,
    /// Other events.
    Event = 1,
    /// Telemetry: evicted first when the disk cap is reached.
    Telemetry = 2,
}

impl Class {
    /// Every class, highest priority first.
    pub const ALL: [Class; 3] = [Class::Alarm, Class::Event, Class::Telemetry];

    fn from_byte(b: u8) -> Class {
        match b {
            0 => Class::Alarm,
            1 => Class::Event,
            _ => Class::Telemetry,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Time-to-live per class, in hours; 0 means the class never expires.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TtlHours {
    /// Alarms (default: never expire).
    #[serde(default)]
    pub alarm: u64,
    /// Events (default: 30 days).
    #[serde(default = "TtlHours::default_event")]
    pub event: u64,
    /// Telemetry (default: 7 days).
    #[serde(default = "TtlHours::default_telemetry")]
    pub telemetry: u64,
}

impl TtlHours {
    fn default_event() -> u64 {
        30 * 24
    }

    fn default_telemetry() -> u64 {
        7 * 24
    }

    fn millis(&self, class: Class) -> Option<u64> {
        let hours = match class {
            Class::Alarm => self.alarm,
            Class::Event => self.event,
            Class::Telemetry => self.telemetry,
        };
        (hours > 0).then(|| hours * 3_600_000)
    }
}

impl Default for TtlHours {
    fn default() -> Self {
        Self {
            alarm: 0,
            event: Self::default_event(),
            telemetry: Self::default_telemetry(),
        }
    }
}

/// Outbox limits (`[uplink.outbox]` in `pole.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct OutboxConfig {
    /// Most bytes of queued records kept on disk; beyond it the oldest telemetry, then
    /// the oldest events are evicted. Alarms are kept even past the cap.
    #[serde(default = "OutboxConfig::default_max_bytes")]
    pub max_bytes: u64,
    /// How long records of each class may wait for the uplink.
    #[serde(default)]
    pub ttl_hours: TtlHours,
    /// Largest record payload accepted, in bytes. Set it to the broker's packet limit
    /// (AWS IoT: 128 KiB) so a record the broker would refuse is refused here, with an
    /// error, instead of blocking the queue behind it.
    #[serde(default = "OutboxConfig::default_max_record_bytes")]
    pub max_record_bytes: usize,
}

impl OutboxConfig {
    fn default_max_bytes() -> u64 {
        64 * 1024 * 1024
    }

    fn default_max_record_bytes() -> usize {
        256 * 1024
    }
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            max_bytes: Self::default_max_bytes(),
            ttl_hours: TtlHours::default(),
            max_record_bytes: Self::default_max_record_bytes(),
        }
    }
}

/// Errors of the outbox.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The database failed.
    #[error("outbox storage: {0}")]
    Storage(#[from] sled::Error),
    /// A stored record cannot be decoded (corruption).
    #[error("outbox record is corrupt: {0}")]
    Corrupt(#[from] postcard::Error),
    /// The payload is larger than `max-record-bytes`.
    #[error("payload of {size} bytes is larger than the {limit}-byte limit")]
    TooLarge {
        /// Payload size.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

/// Position of a queued record: class, then arrival order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// Priority class.
    pub class: Class,
    /// Arrival order (unique across classes).
    pub order: u64,
}

const QUEUE: u8 = b'q';
const STREAM: u8 = b's';
const COUNTERS: &[u8] = b"c";

impl Key {
    fn to_bytes(self) -> [u8; 10] {
        let mut bytes = [0u8; 10];
        bytes[0] = QUEUE;
        bytes[1] = self.class as u8;
        bytes[2..].copy_from_slice(&self.order.to_be_bytes());
        bytes
    }

    fn from_bytes(bytes: &[u8]) -> Option<Key> {
        let order: [u8; 8] = bytes.get(2..10)?.try_into().ok()?;
        (bytes.len() == 10 && bytes[0] == QUEUE).then(|| Key {
            class: Class::from_byte(bytes[1]),
            order: u64::from_be_bytes(order),
        })
    }

    fn class_range(class: Class) -> std::ops::Range<[u8; 2]> {
        [QUEUE, class as u8]..[QUEUE, class as u8 + 1]
    }
}

fn stream_key(topic: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(topic.len() + 1);
    key.push(STREAM);
    key.extend_from_slice(topic.as_bytes());
    key
}

/// A record as stored.
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    topic: String,
    retain: bool,
    queued_ms: u64,
    payload: Vec<u8>,
}

/// Per-stream state.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct StreamState {
    seq: u64,
    class: u8,
}

/// Cumulative counters, persisted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    /// Records evicted by the disk cap, per class.
    pub evicted: [u64; 3],
    /// Records dropped because they outlived their class's TTL, per class.
    pub expired: [u64; 3],
    /// MQTT sessions begun (the `seq` of the status topic).
    pub sessions: u64,
}

/// Records and bytes waiting in one class.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    /// Records.
    pub records: u64,
    /// Bytes (keys and values).
    pub bytes: u64,
}

/// A snapshot of the outbox.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutboxStats {
    /// Waiting records per class.
    pub pending: [Tally; 3],
    /// Cumulative counters.
    pub counters: Counters,
}

impl OutboxStats {
    /// Records waiting in all classes.
    pub fn pending_records(&self) -> u64 {
        self.pending.iter().map(|t| t.records).sum()
    }

    /// Bytes waiting in all classes.
    pub fn pending_bytes(&self) -> u64 {
        self.pending.iter().map(|t| t.bytes).sum()
    }
}

/// A record read back for sending.
#[derive(Debug, Clone)]
pub struct Queued {
    /// Where it is.
    pub key: Key,
    /// MQTT topic.
    pub topic: String,
    /// Retain flag.
    pub retain: bool,
    /// Pole time it was queued at.
    pub queued_ms: u64,
    /// JSON payload bytes (with `seq`).
    pub payload: Vec<u8>,
}

impl Queued {
    /// The payload to send: marked `historical: true` when it was queued before the
    /// connection that sends it began.
    pub fn payload_for(&self, connected_ms: u64) -> Vec<u8> {
        if self.queued_ms >= connected_ms || self.payload.first() != Some(&b'{') {
            return self.payload.clone();
        }
        const MARK: &[u8] = b"\"historical\":true,";
        let mut out = Vec::with_capacity(self.payload.len() + MARK.len());
        out.push(b'{');
        out.extend_from_slice(MARK);
        out.extend_from_slice(&self.payload[1..]);
        out
    }
}

/// A record to queue.
#[derive(Debug, Clone)]
pub struct NewRecord {
    /// MQTT topic; also the stream `seq` counts on.
    pub topic: String,
    /// Priority class.
    pub class: Class,
    /// Retain flag.
    pub retain: bool,
    /// JSON object payload, without `seq` (the outbox adds it).
    pub payload: Map<String, Value>,
}

/// What [`Outbox::enqueue`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Enqueued {
    /// The payload as queued, with its `seq`.
    pub payload: Value,
    /// False when the disk cap left no room for a record of this class.
    pub stored: bool,
}

struct State {
    streams: HashMap<String, StreamState>,
    next_order: u64,
    pending: [Tally; 3],
    counters: Counters,
}

/// The durable outbox. Cheap to share (`Arc`).
pub struct Outbox {
    tree: sled::Tree,
    config: OutboxConfig,
    clock: Arc<dyn TimeSource>,
    state: Mutex<State>,
    wake: Notify,
    dirty: AtomicBool,
    rewinds: AtomicU64,
    /// Records with an arrival order below this are on disk.
    durable_below: AtomicU64,
}

fn entry_size(key: &[u8], value: &[u8]) -> u64 {
    (key.len() + value.len()) as u64
}

impl Outbox {
    /// Opens the outbox in `db`, counting what is already queued.
    pub fn open(
        db: &sled::Db,
        config: OutboxConfig,
        clock: Arc<dyn TimeSource>,
    ) -> Result<Self, OutboxError> {
        let tree = db.open_tree("uplink-outbox")?;
        let mut pending = [Tally::default(); 3];
        let mut next_order = 0;
        for item in tree.scan_prefix([QUEUE]) {
            let (k, v) = item?;
            if let Some(key) = Key::from_bytes(&k) {
                let tally = &mut pending[key.class.index()];
                tally.records += 1;
                tally.bytes += entry_size(&k, &v);
                next_order = next_order.max(key.order + 1);
            }
        }
        let counters = match tree.get(COUNTERS)? {
            Some(bytes) => postcard::from_bytes(&bytes)?,
            None => Counters::default(),
        };
        Ok(Self {
            tree,
            config,
            clock,
            state: Mutex::new(State {
                streams: HashMap::new(),
                next_order,
                pending,
                counters,
            }),
            wake: Notify::new(),
            dirty: AtomicBool::new(false),
            rewinds: AtomicU64::new(0),
            durable_below: AtomicU64::new(next_order),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("outbox lock")
    }

    /// Queues a record: assigns its stream's next `seq`, makes room under the disk cap
    /// and stores both in one atomic write. Durable after the next [`Outbox::commit`].
    pub fn enqueue(&self, record: NewRecord) -> Result<Enqueued, OutboxError> {
        let now = self.clock.now_ms();
        let mut state = self.lock();
        let mut batch = sled::Batch::default();
        let stream = self.stream_state(&mut state, &record.topic)?;
        let seq = stream.seq + 1;
        let mut payload = record.payload;
        payload.insert("seq".into(), Value::from(seq));
        let payload = Value::Object(payload);
        let bytes = serde_json::to_vec(&payload).expect("JSON values serialise");
        if bytes.len() > self.config.max_record_bytes {
            return Err(OutboxError::TooLarge {
                size: bytes.len(),
                limit: self.config.max_record_bytes,
            });
        }
        // A stream keeps the highest class it has carried, so its records stay in order.
        let class = record.class.min(Class::from_byte(stream.class));
        if class < Class::from_byte(stream.class) {
            self.promote(
                &mut state,
                &mut batch,
                &record.topic,
                Class::from_byte(stream.class),
                class,
            )?;
        }
        let key = Key {
            class,
            order: state.next_order,
        }
        .to_bytes();
        let value = postcard::to_stdvec(&Stored {
            topic: record.topic.clone(),
            retain: record.retain,
            queued_ms: now,
            payload: bytes,
        })?;
        let size = entry_size(&key, &value);
        let counters_before = state.counters;
        let stored = self.make_room(&mut state, &mut batch, class, size)?;
        if stored {
            batch.insert(&key, value);
        }
        let stream = StreamState {
            seq,
            class: class as u8,
        };
        batch.insert(stream_key(&record.topic), postcard::to_stdvec(&stream)?);
        if state.counters != counters_before {
            batch.insert(COUNTERS, postcard::to_stdvec(&state.counters)?);
        }
        self.tree.apply_batch(batch)?;

        state.streams.insert(record.topic, stream);
        state.next_order += 1;
        if stored {
            let tally = &mut state.pending[class.index()];
            tally.records += 1;
            tally.bytes += size;
        }
        drop(state);
        self.dirty.store(true, Ordering::Release);
        Ok(Enqueued { payload, stored })
    }

    fn stream_state(&self, state: &mut State, topic: &str) -> Result<StreamState, OutboxError> {
        if let Some(s) = state.streams.get(topic) {
            return Ok(*s);
        }
        let loaded = match self.tree.get(stream_key(topic))? {
            Some(bytes) => postcard::from_bytes(&bytes)?,
            None => StreamState {
                seq: 0,
                class: Class::Telemetry as u8,
            },
        };
        state.streams.insert(topic.to_string(), loaded);
        Ok(loaded)
    }

    /// Moves the queued records of `topic` from class `from` to the higher class `to`,
    /// keeping their arrival order, so they are not overtaken by the stream's later records.
    fn promote(
        &self,
        state: &mut State,
        batch: &mut sled::Batch,
        topic: &str,
        from: Class,
        to: Class,
    ) -> Result<(), OutboxError> {
        for item in self.tree.range(Key::class_range(from)) {
            let (k, v) = item?;
            let stored: Stored = postcard::from_bytes(&v)?;
            let Some(key) = Key::from_bytes(&k).filter(|_| stored.topic == topic) else {
                continue;
            };
            let size = entry_size(&k, &v);
            batch.remove(k);
            batch.insert(&Key { class: to, ..key }.to_bytes(), v);
            state.pending[from.index()].records -= 1;
            state.pending[from.index()].bytes -= size;
            state.pending[to.index()].records += 1;
            state.pending[to.index()].bytes += size;
        }
        self.rewinds.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Evicts the oldest records of classes no more important than `class` until `size`
    /// more bytes fit under the cap. Returns whether the new record may be stored.
    fn make_room(
        &self,
        state: &mut State,
        batch: &mut sled::Batch,
        class: Class,
        size: u64,
    ) -> Result<bool, OutboxError> {
        let used: u64 = state.pending.iter().map(|t| t.bytes).sum();
        let mut excess = (used + size).saturating_sub(self.config.max_bytes);
        if excess == 0 {
            return Ok(true);
        }
        for victim in [Class::Telemetry, Class::Event] {
            if victim < class {
                break;
            }
            for item in self.tree.range(Key::class_range(victim)) {
                if excess == 0 {
                    break;
                }
                let (k, v) = item?;
                let freed = entry_size(&k, &v);
                batch.remove(k);
                excess = excess.saturating_sub(freed);
                state.pending[victim.index()].records -= 1;
                state.pending[victim.index()].bytes -= freed;
                state.counters.evicted[victim.index()] += 1;
            }
        }
        if excess == 0 {
            return Ok(true);
        }
        if class == Class::Alarm {
            tracing::warn!(
                max_bytes = self.config.max_bytes,
                "outbox is full of alarms; keeping this alarm past the cap"
            );
            return Ok(true);
        }
        state.counters.evicted[class.index()] += 1;
        Ok(false)
    }

    /// Makes everything queued or removed so far durable (one flush), and releases the
    /// newly durable records for sending.
    pub fn commit(&self) -> Result<(), OutboxError> {
        if self.dirty.swap(false, Ordering::AcqRel) {
            // Every order below this was written before the flush begins.
            let written_below = self.lock().next_order;
            self.tree.flush()?;
            self.durable_below
                .fetch_max(written_below, Ordering::AcqRel);
            self.wake.notify_one();
        }
        Ok(())
    }

    /// The first queued record of `class` after arrival order `after`.
    pub fn next_after(
        &self,
        class: Class,
        after: Option<u64>,
    ) -> Result<Option<Queued>, OutboxError> {
        let start = match after {
            Some(order) => Key {
                class,
                order: order + 1,
            }
            .to_bytes()
            .to_vec(),
            None => Key::class_range(class).start.to_vec(),
        };
        let end = Key::class_range(class).end;
        let Some(item) = self.tree.range(start..end.to_vec()).next() else {
            return Ok(None);
        };
        let (k, v) = item?;
        let durable_below = self.durable_below.load(Ordering::Acquire);
        if Key::from_bytes(&k).is_none_or(|key| key.order >= durable_below) {
            return Ok(None);
        }
        let stored: Stored = postcard::from_bytes(&v)?;
        Ok(Key::from_bytes(&k).map(|key| Queued {
            key,
            topic: stored.topic,
            retain: stored.retain,
            queued_ms: stored.queued_ms,
            payload: stored.payload,
        }))
    }

    /// Removes a record the broker acknowledged. Removing one already gone (evicted,
    /// expired, or acknowledged twice) does nothing.
    pub fn ack(&self, key: Key) -> Result<(), OutboxError> {
        let mut state = self.lock();
        if let Some(old) = self.tree.remove(key.to_bytes())? {
            let tally = &mut state.pending[key.class.index()];
            tally.records -= 1;
            tally.bytes -= entry_size(&key.to_bytes(), &old);
            self.dirty.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Drops every record that outlived its class's TTL; returns how many.
    pub fn expire(&self) -> Result<u64, OutboxError> {
        let now = self.clock.now_ms();
        let mut state = self.lock();
        let mut batch = sled::Batch::default();
        let mut dropped = 0;
        for class in Class::ALL {
            let Some(ttl) = self.config.ttl_hours.millis(class) else {
                continue;
            };
            for item in self.tree.range(Key::class_range(class)) {
                let (k, v) = item?;
                let stored: Stored = postcard::from_bytes(&v)?;
                if stored.queued_ms.saturating_add(ttl) > now {
                    break;
                }
                let size = entry_size(&k, &v);
                batch.remove(k);
                state.pending[class.index()].records -= 1;
                state.pending[class.index()].bytes -= size;
                state.counters.expired[class.index()] += 1;
                dropped += 1;
            }
        }
        if dropped > 0 {
            batch.insert(COUNTERS, postcard::to_stdvec(&state.counters)?);
            self.tree.apply_batch(batch)?;
            self.dirty.store(true, Ordering::Release);
        }
        Ok(dropped)
    }

    /// Removes every queued record (a pole whose records have another destination, such
    /// as `sao sim` writing them to a file).
    pub fn clear(&self) -> Result<(), OutboxError> {
        let mut state = self.lock();
        let mut batch = sled::Batch::default();
        for k in self.tree.scan_prefix([QUEUE]).keys() {
            batch.remove(k?);
        }
        self.tree.apply_batch(batch)?;
        state.pending = [Tally::default(); 3];
        Ok(())
    }

    /// Begins a new MQTT session; returns its number.
    pub fn next_session(&self) -> Result<u64, OutboxError> {
        let mut state = self.lock();
        state.counters.sessions += 1;
        self.tree
            .insert(COUNTERS, postcard::to_stdvec(&state.counters)?)?;
        self.dirty.store(true, Ordering::Release);
        Ok(state.counters.sessions)
    }

    /// Largest record payload accepted, in bytes (`max-record-bytes`).
    pub fn max_record_bytes(&self) -> usize {
        self.config.max_record_bytes
    }

    /// Counts of what is waiting and what was lost.
    pub fn stats(&self) -> OutboxStats {
        let state = self.lock();
        OutboxStats {
            pending: state.pending,
            counters: state.counters,
        }
    }

    /// Resolves when records became durable, and so sendable, since the last call (a
    /// stored permit means no wake-up is missed).
    pub async fn queued(&self) {
        self.wake.notified().await;
    }

    /// Bumped whenever records move to a higher class; a sender that read past them must
    /// start its scan again.
    pub fn rewinds(&self) -> u64 {
        self.rewinds.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sao_hardware::SimClock;
    use serde_json::json;

    fn open(dir: &std::path::Path, max_bytes: u64) -> (Outbox, Arc<SimClock>) {
        let clock = Arc::new(SimClock::new(1_000_000));
        let db = crate::storage::open_db(dir).unwrap();
        let config = OutboxConfig {
            max_bytes,
            ..OutboxConfig::default()
        };
        (Outbox::open(&db, config, clock.clone()).unwrap(), clock)
    }

    fn record(topic: &str, class: Class, n: u64) -> NewRecord {
        let payload = json!({ "n": n, "pad": "x".repeat(100) });
        NewRecord {
            topic: topic.into(),
            class,
            retain: false,
            payload: payload.as_object().unwrap().clone(),
        }
    }

    /// Every queued record in send order: (class, topic, seq, n).
    fn drain(outbox: &Outbox) -> Vec<(Class, String, u64, u64)> {
        outbox.commit().unwrap();
        let mut out = Vec::new();
        for class in Class::ALL {
            let mut after = None;
            while let Some(q) = outbox.next_after(class, after).unwrap() {
                let v: Value = serde_json::from_slice(&q.payload).unwrap();
                out.push((
                    class,
                    q.topic.clone(),
                    v["seq"].as_u64().unwrap(),
                    v["n"].as_u64().unwrap(),
                ));
                after = Some(q.key.order);
            }
        }
        out
    }

    #[test]
    fn sends_alarms_then_events_then_telemetry_each_in_arrival_order() {
        let dir = tempfile::tempdir().unwrap();
        let (outbox, _) = open(dir.path(), u64::MAX);
        outbox.enqueue(record("t/a", Class::Telemetry, 1)).unwrap();
        outbox.enqueue(record("e/x", Class::Event, 2)).unwrap();
        outbox.enqueue(record("t/a", Class::Telemetry, 3)).unwrap();
        outbox.enqueue(record("a/s", Class::Alarm, 4)).unwrap();
        let order: Vec<u64> = drain(&outbox).iter().map(|r| r.3).collect();
        assert_eq!(order, vec![4, 2, 1, 3]);
        let seqs: Vec<u64> = drain(&outbox).iter().map(|r| r.2).collect();
        assert_eq!(seqs, vec![1, 1, 1, 2]);
    }

    #[test]
    fn a_stream_that_becomes_an_alarm_takes_its_queued_records_along() {
        let dir = tempfile::tempdir().unwrap();
        let (outbox, _) = open(dir.path(), u64::MAX);
        outbox.enqueue(record("evt/k", Class::Event, 1)).unwrap();
        outbox
            .enqueue(record("evt/other", Class::Event, 2))
            .unwrap();
        let rewinds = outbox.rewinds();
        outbox.enqueue(record("evt/k", Class::Alarm, 3)).unwrap();
        // A later non-critical record on the same stream stays an alarm too.
        outbox.enqueue(record("evt/k", Class::Event, 4)).unwrap();
        assert!(outbox.rewinds() > rewinds);
        let sent: Vec<(Class, u64)> = drain(&outbox).iter().map(|r| (r.0, r.3)).collect();
        assert_eq!(
            sent,
            vec![
                (Class::Alarm, 1),
                (Class::Alarm, 3),
                (Class::Alarm, 4),
                (Class::Event, 2)
            ]
        );
        let stats = outbox.stats();
        assert_eq!(stats.pending[0].records, 3);
        assert_eq!(stats.pending[1].records, 1);
    }

    #[test]
    fn seq_and_queue_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (outbox, _) = open(dir.path(), u64::MAX);
            for n in 0..5 {
                outbox.enqueue(record("t/a", Class::Telemetry, n)).unwrap();
            }
            outbox.commit().unwrap();
            let first = outbox.next_after(Class::Telemetry, None).unwrap().unwrap();
            outbox.ack(first.key).unwrap();
            outbox.commit().unwrap();
        }
        let (outbox, _) = open(dir.path(), u64::MAX);
        assert_eq!(outbox.stats().pending[2].records, 4);
        let e = outbox.enqueue(record("t/a", Class::Telemetry, 9)).unwrap();
        assert_eq!(e.payload["seq"], 6);
        let seqs: Vec<u64> = drain(&outbox).iter().map(|r| r.2).collect();
        assert_eq!(seqs, vec![2, 3, 4, 5, 6]);
    }

    #[test]
    fn the_cap_evicts_oldest_telemetry_then_events_and_never_alarms() {
        let dir = tempfile::tempdir().unwrap();
        let (outbox, _) = open(dir.path(), 3_000);
        for n in 0..40 {
            outbox.enqueue(record("t/a", Class::Telemetry, n)).unwrap();
        }
        let full = outbox.stats();
        assert!(full.pending_bytes() <= 3_000);
        assert!(full.counters.evicted[2] > 0, "{full:?}");
        // The newest telemetry is what is left.
        let left: Vec<u64> = drain(&outbox).iter().map(|r| r.3).collect();
        assert_eq!(*left.last().unwrap(), 39);
        assert!(left.windows(2).all(|w| w[0] + 1 == w[1]), "{left:?}");

        for n in 100..130 {
            outbox.enqueue(record("a/s", Class::Alarm, n)).unwrap();
        }
        let stats = outbox.stats();
        assert_eq!(stats.pending[0].records, 30, "alarms are never evicted");
        assert_eq!(
            stats.pending[2].records, 0,
            "telemetry made room for alarms"
        );
        // With only alarms left, new telemetry and events are refused and counted.
        let evicted_before = stats.counters.evicted;
        let t = outbox
            .enqueue(record("t/a", Class::Telemetry, 200))
            .unwrap();
        let e = outbox.enqueue(record("e/x", Class::Event, 201)).unwrap();
        assert!(!t.stored && !e.stored);
        let after = outbox.stats().counters.evicted;
        assert_eq!(after[2], evicted_before[2] + 1);
        assert_eq!(after[1], evicted_before[1] + 1);
    }

    #[test]
    fn records_expire_per_class() {
        let dir = tempfile::tempdir().unwrap();
        let (outbox, clock) = open(dir.path(), u64::MAX);
        outbox.enqueue(record("t/a", Class::Telemetry, 1)).unwrap();
        outbox.enqueue(record("e/x", Class::Event, 2)).unwrap();
        outbox.enqueue(record("a/s", Class::Alarm, 3)).unwrap();
        clock.set(clock.now_ms() + 8 * 24 * 3_600_000);
        assert_eq!(outbox.expire().unwrap(), 1, "only telemetry is past 7 days");
        clock.set(clock.now_ms() + 400 * 24 * 3_600_000);
        assert_eq!(outbox.expire().unwrap(), 1, "events go after 30 days");
        let stats = outbox.stats();
        assert_eq!(
            stats.pending[0].records, 1,
            "alarms do not expire by default"
        );
        assert_eq!(stats.counters.expired, [0, 1, 1]);
    }

    #[test]
    fn only_durable_records_are_handed_out() {
        let dir = tempfile::tempdir().unwrap();
        let (outbox, _) = open(dir.path(), u64::MAX);
        outbox.enqueue(record("a/s", Class::Alarm, 1)).unwrap();
        assert!(outbox.next_after(Class::Alarm, None).unwrap().is_none());
        outbox.commit().unwrap();
        let first = outbox.next_after(Class::Alarm, None).unwrap().unwrap();
        outbox.enqueue(record("a/s", Class::Alarm, 2)).unwrap();
        assert!(outbox
            .next_after(Class::Alarm, Some(first.key.order))
            .unwrap()
            .is_none());
    }

    #[test]
    fn replayed_payloads_are_marked_historical() {
        let q = Queued {
            key: Key {
                class: Class::Telemetry,
                order: 0,
            },
            topic: "t".into(),
            retain: false,
            queued_ms: 100,
            payload: br#"{"seq":1}"#.to_vec(),
        };
        assert_eq!(q.payload_for(100), br#"{"seq":1}"#);
        let old: Value = serde_json::from_slice(&q.payload_for(101)).unwrap();
        assert_eq!(old, json!({ "seq": 1, "historical": true }));
    }

    #[test]
    fn oversize_payloads_are_refused_without_consuming_a_seq() {
        let dir = tempfile::tempdir().unwrap();
        let (outbox, _) = open(dir.path(), u64::MAX);
        let mut big = record("t/a", Class::Telemetry, 1);
        big.payload
            .insert("pad".into(), json!("x".repeat(256 * 1024)));
        assert!(matches!(
            outbox.enqueue(big),
            Err(OutboxError::TooLarge { .. })
        ));
        let ok = outbox.enqueue(record("t/a", Class::Telemetry, 2)).unwrap();
        assert_eq!(ok.payload["seq"], 1);
    }
}
