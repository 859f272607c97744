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

#[test]
fn an_incident_report_with_a_bad_member_does_not_match() {
    let example = read("event.schema.json")["examples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e.get("incident").is_some())
        .cloned()
        .expect("an incident report example");
    let validator = validator("event.schema.json");
    let spoilt: [(&str, Value); 4] = [
        ("/state", "opened".into()),
        ("/incident", "Acc 17".into()),
        ("/snapshot", serde_json::json!({ "data": "/9j/2Q==" })),
        ("/unknown", true.into()),
    ];
    for (pointer, value) in spoilt {
        let mut record = example.clone();
        record[&pointer[1..]] = value;
        assert!(!validator.is_valid(&record), "{pointer} spoilt yet valid");
    }
    let mut record = example.clone();
    record["state"] = "updated".into();
    assert!(validator.is_valid(&record));
    record.as_object_mut().unwrap().remove("snapshot");
    record.as_object_mut().unwrap().remove("incident");
    assert!(!validator.is_valid(&record), "updated without an incident");
}
