//! Test support: the payload schemas integrators get (`runtime/schemas/`), so records the
//! host builds are checked against them where they are built.

use std::path::PathBuf;

use serde_json::Value;

/// Schemas other schemas refer to by `$ref`.
const SHARED: [&str; 2] = ["envelope.schema.json", "desired-config.schema.json"];

fn read(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The validator of `runtime/schemas/{name}`, its references resolved.
pub(crate) fn validator(name: &str) -> jsonschema::Validator {
    let mut registry = jsonschema::Registry::new();
    for shared in SHARED {
        let schema = read(shared);
        let id = schema["$id"].as_str().expect("$id").to_string();
        registry = registry.add(id, schema).expect("shared schema");
    }
    let registry = registry.prepare().expect("registry");
    jsonschema::options()
        .with_registry(&registry)
        .build(&read(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Panics with every violation when `record` does not match schema `name`.
pub(crate) fn assert_valid(name: &str, record: &Value) {
    let errors: Vec<String> = validator(name)
        .iter_errors(record)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "record does not match {name}: {errors:?}\n{record}"
    );
}

#[test]
fn the_examples_of_the_record_schemas_match_them() {
    for name in [
        "event.schema.json",
        "alert.schema.json",
        "telemetry.schema.json",
    ] {
        let examples = read(name)["examples"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(!examples.is_empty(), "{name} has examples");
        for example in &examples {
            assert_valid(name, example);
        }
    }
}
