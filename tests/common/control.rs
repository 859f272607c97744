//! Helpers of the operator-control tests: operator keys, a pole config that trusts them,
//! the probe plugin, and `sao ctl`.

use std::path::Path;
use std::process::Command;

use ed25519_dalek::SigningKey;
use sao_runtime::plugin::signing;
use serde_json::{json, Map, Value};

use super::{misbehave_files_as, pole_body, with_manifest_value, with_tick_ms, Bench};

/// The test site.
pub const SITE: &str = "chachoengsao";
/// The test pole's id (as in [`pole_body`]).
pub const POLE: &str = "ccs-test-01";

/// An operator key pair in `dir/operators` (the public half is what poles trust).
pub fn operator_key(dir: &Path) -> SigningKey {
    let key = signing::generate_key();
    std::fs::create_dir_all(dir.join("operators")).unwrap();
    signing::write_key_pair(&key, &dir.join("operators/operator")).unwrap();
    key
}

/// The test pole as pole `id` in `groups` (TOML list), on `broker`, trusting
/// `operators/`, with a fast main loop.
pub fn pole_config(id: &str, broker: &str, groups: &str, plugins: &str) -> String {
    format!(
        "{}\n[timing]\npoll-interval-ms = 100\nhealth-interval-s = 1\n\n[uplink]\nbroker = \"{broker}\"\nkeep-alive-s = 5\nreconnect-min-ms = 100\nreconnect-max-ms = 1000\n\n[control]\noperator-keys-dir = \"operators\"\ngroups = {groups}\n\n{plugins}",
        pole_body().replace(POLE, id)
    )
}

/// The misbehave fixture as plugin `probe` ticking every 100 ms, written as `probe.sao`;
/// returns its `[[plugins]]` entry (mode `ok`).
pub fn probe(bench: &Bench) -> &'static str {
    bench.package("probe", probe_files());
    "[[plugins]]\npackage = \"probe.sao\"\ngrants = [\"log\", \"kv\", \"telemetry\", \"alarm\", \"lighting\"]\ntelemetry-per-minute = 6000\nconfig = { mode = \"ok\" }\n"
}

/// The probe's package files: ticking every 100 ms, with a CPU deadline generous enough
/// that a loaded test machine never cuts a tick short (these tests are not about that).
pub fn probe_files() -> std::collections::BTreeMap<String, Vec<u8>> {
    let files = with_tick_ms(misbehave_files_as("probe"), 100);
    with_manifest_value(files, "call-deadline-ms", "1000")
}

/// Runs `sao ctl` against `broker` for the test site in `dir`; returns (success, stdout,
/// stderr).
pub fn ctl(broker: &str, dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sao-e2e-host"))
        .args(["ctl", "--broker", broker, "--site", SITE])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Starts `sao ctl` against `broker` for the test site in `dir`, its output piped.
pub fn ctl_child(broker: &str, dir: &Path, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_sao-e2e-host"))
        .args(["ctl", "--broker", broker, "--site", SITE])
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// A JSON object from a `json!` literal.
pub fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// A desired-config document for `target`.
pub fn desired(target: &str, version: u64, config: Value) -> Map<String, Value> {
    object(json!({ "target": target, "version": version, "config": config }))
}
