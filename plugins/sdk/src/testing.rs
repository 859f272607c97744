//! Test support for plugin crates (feature `testing`, for `[dev-dependencies]`).
//!
//! A plugin's `config.schema.json` is what the host validates an operator's config
//! against; its serde types are what the plugin parses. [`check_config_schema`] proves
//! the two describe the same document, so neither drifts from the other.

use std::collections::BTreeSet;

use serde_json::Value;

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
