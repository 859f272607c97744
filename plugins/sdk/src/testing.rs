//! Test support for plugin crates (feature `testing`, for `[dev-dependencies]`).
//!
//! * [`MemoryPlatform`] — the pole's [`Platform`] in memory, recording every record,
//!   event and log line. A plugin's fake host embeds one and implements [`MemoryPole`]
//!   to get [`Platform`], adding only what its own `Host` trait asks.
//! * [`check_config_schema`] — a plugin's `config.schema.json` is what the host
//!   validates an operator's config against; its serde types are what the plugin
//!   parses. The check proves the two describe the same document, so neither drifts.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::{EventState, LogLevel, Platform, Severity};

/// One telemetry record a plugin published.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The stream.
    pub stream: String,
    /// `(name, value, unit)` metrics.
    pub metrics: Vec<(String, f64, String)>,
    /// The details object, or `null`.
    pub details: Value,
}

impl Record {
    /// The value of metric `name`.
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics.iter().find(|m| m.0 == name).map(|m| m.1)
    }
}

/// One event a plugin sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Its kind.
    pub kind: String,
    /// Raised, cleared or info.
    pub state: EventState,
    /// How serious.
    pub severity: Severity,
    /// The message.
    pub message: String,
    /// The details object, or `null`.
    pub details: Value,
}

/// The pole's [`Platform`] in memory. Details must be JSON objects (or empty), as the
/// host requires; anything else is refused with the parse error.
#[derive(Debug, Clone)]
pub struct MemoryPlatform {
    /// The plugin's key-value store.
    pub kv: BTreeMap<String, Vec<u8>>,
    /// Telemetry published, in order.
    pub records: Vec<Record>,
    /// Events sent, in order.
    pub events: Vec<Event>,
    /// Log lines written, in order.
    pub logs: Vec<(LogLevel, String)>,
    /// What `utc_offset_minutes` answers (default 420, Thailand).
    pub utc_offset_minutes: i32,
    /// What `location` answers (default Chachoengsao, 13.69 N 101.07 E).
    pub location: (f64, f64),
}

impl Default for MemoryPlatform {
    fn default() -> Self {
        MemoryPlatform {
            kv: BTreeMap::new(),
            records: Vec::new(),
            events: Vec::new(),
            logs: Vec::new(),
            utc_offset_minutes: 420,
            location: (13.69, 101.07),
        }
    }
}

impl MemoryPlatform {
    /// The records published on `stream`.
    pub fn stream(&self, stream: &str) -> Vec<&Record> {
        self.records.iter().filter(|r| r.stream == stream).collect()
    }

    /// How many log lines of `level` contain `text`.
    pub fn logged(&self, level: LogLevel, text: &str) -> usize {
        let matching = self
            .logs
            .iter()
            .filter(|(l, m)| *l == level && m.contains(text));
        matching.count()
    }
}

/// A fake host built around a [`MemoryPlatform`]; every such type is a [`Platform`].
pub trait MemoryPole {
    /// The embedded platform.
    fn memory(&mut self) -> &mut MemoryPlatform;
}

impl MemoryPole for MemoryPlatform {
    fn memory(&mut self) -> &mut MemoryPlatform {
        self
    }
}

/// Parses a `details` argument as the host does: empty is `null`, else a JSON object.
fn details(details: &str) -> Result<Value, String> {
    if details.trim().is_empty() {
        return Ok(Value::Null);
    }
    match serde_json::from_str(details) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err("details must be a JSON object".into()),
        Err(e) => Err(format!("details are not JSON: {e}")),
    }
}

impl<T: MemoryPole> Platform for T {
    fn kv_get(&mut self, key: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(self.memory().kv.get(key).cloned())
    }

    fn kv_set(&mut self, key: &str, value: &[u8]) -> Result<(), String> {
        self.memory().kv.insert(key.to_string(), value.to_vec());
        Ok(())
    }

    fn publish(&mut self, stream: &str, metrics: &[(&str, f64, &str)]) -> Result<(), String> {
        self.publish_with_details(stream, metrics, "")
    }

    fn publish_with_details(
        &mut self,
        stream: &str,
        metrics: &[(&str, f64, &str)],
        details: &str,
    ) -> Result<(), String> {
        let record = Record {
            stream: stream.to_string(),
            metrics: metrics
                .iter()
                .map(|&(n, v, u)| (n.to_string(), v, u.to_string()))
                .collect(),
            details: self::details(details)?,
        };
        self.memory().records.push(record);
        Ok(())
    }

    fn event(
        &mut self,
        kind: &str,
        state: EventState,
        severity: Severity,
        message: &str,
        details: &str,
    ) -> Result<(), String> {
        let event = Event {
            kind: kind.to_string(),
            state,
            severity,
            message: message.to_string(),
            details: self::details(details)?,
        };
        self.memory().events.push(event);
        Ok(())
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        self.memory().logs.push((level, message.to_string()));
    }

    fn utc_offset_minutes(&mut self) -> i32 {
        self.memory().utc_offset_minutes
    }

    fn location(&mut self) -> (f64, f64) {
        self.memory().location
    }
}

/// Asserts that the JSON Schema `schema` (draft 2020-12) describes exactly the
/// serialized config `full` (every optional part present): every object in it has
/// exactly the schema's properties, recursively, and no others are allowed. Then, that
/// each top-level property's `default` in the schema is the member of `defaults` (the
/// serialized `Config::default()`).
pub fn check_config_schema(schema: &str, full: &Value, defaults: &Value) {
    let schema: Value = serde_json::from_str(schema).expect("the schema is JSON");
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_matches(&schema, &schema, full, "config");
    for (key, default) in defaults.as_object().expect("defaults are an object") {
        assert_eq!(
            &schema["properties"][key]["default"], default,
            "default of {key}"
        );
    }
}

/// Resolves `$ref: "#/$defs/x"` and picks the object alternative of `oneOf`/`anyOf`.
fn object_schema<'a>(root: &'a Value, mut schema: &'a Value) -> Option<&'a Value> {
    loop {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            schema = &root["$defs"][r.trim_start_matches("#/$defs/")];
        } else if let Some(alts) = schema.get("oneOf").or_else(|| schema.get("anyOf")) {
            schema = alts
                .as_array()?
                .iter()
                .find(|a| a.get("$ref").is_some() || a.get("properties").is_some())?;
        } else {
            return schema.get("properties").map(|_| schema);
        }
    }
}

/// Resolves `$ref`s and picks the array alternative of `oneOf`/`anyOf`, for `items`.
fn items_schema<'a>(root: &'a Value, mut schema: &'a Value) -> &'a Value {
    loop {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            schema = &root["$defs"][r.trim_start_matches("#/$defs/")];
        } else if let Some(alt) = schema
            .get("oneOf")
            .or_else(|| schema.get("anyOf"))
            .and_then(Value::as_array)
            .and_then(|alts| alts.iter().find(|a| a.get("items").is_some()))
        {
            schema = alt;
        } else {
            return schema.get("items").unwrap_or(schema);
        }
    }
}

/// Every object in `value` has exactly the schema's properties, recursively.
fn assert_matches(root: &Value, schema: &Value, value: &Value, path: &str) {
    let map_items = object_schema(root, schema).is_none()
        && resolve_ref(root, schema)["additionalProperties"].is_object();
    match value {
        Value::Object(fields) if map_items => {
            // A map: every value follows the one schema.
            let item = &resolve_ref(root, schema)["additionalProperties"];
            for (key, v) in fields {
                assert_matches(root, item, v, &format!("{path}.{key}"));
            }
        }
        Value::Object(fields) => {
            let schema = object_schema(root, schema)
                .unwrap_or_else(|| panic!("{path}: schema has no object here"));
            assert_eq!(schema["additionalProperties"], Value::Bool(false), "{path}");
            let props = schema["properties"].as_object().unwrap();
            let ours: BTreeSet<&String> = fields.keys().collect();
            let theirs: BTreeSet<&String> = props.keys().collect();
            assert_eq!(ours, theirs, "{path}: serde and schema disagree on fields");
            for (key, v) in fields {
                assert_matches(root, &props[key], v, &format!("{path}.{key}"));
            }
        }
        Value::Array(items) => {
            let schema = items_schema(root, schema);
            for (i, item) in items.iter().enumerate() {
                assert_matches(root, schema, item, &format!("{path}[{i}]"));
            }
        }
        _ => {}
    }
}

/// Follows `$ref`s.
fn resolve_ref<'a>(root: &'a Value, mut schema: &'a Value) -> &'a Value {
    while let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        schema = &root["$defs"][r.trim_start_matches("#/$defs/")];
    }
    schema
}
