//! The `sao` command as a vendor and an operator use it: keys, packing, signing,
//! verifying, inspecting, scaffolding a plugin that builds as-is and runs in `sao sim`,
//! and errors as one clear line with a non-zero exit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sao(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sao"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("sao runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts a failure reported as exactly one `sao: error:` line, without a panic.
fn assert_one_line_error(o: &Output, needle: &str) {
    assert!(!o.status.success());
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(o);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].starts_with("sao: error: "), "{err}");
    assert!(lines[0].contains(needle), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
}

#[test]
fn version_is_printed() {
    let o = sao(&["--version"], Path::new("."));
    assert!(o.status.success());
    assert_eq!(
        stdout(&o).trim(),
        format!("sao {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn keygen_pack_sign_verify_inspect_and_tamper() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let wasm = target_dir().join("wasm32-wasip2/release/sao_plugin_dimming.wasm");
    assert!(
        wasm.exists(),
        "build the plugins first: bash plugins/build.sh"
    );
    let plugin_dir = workspace().join("plugins/dimming");

    let o = sao(&["keygen", "--out", "vendor"], d);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(d.join("vendor.key").exists() && d.join("vendor.pub").exists());
    std::fs::create_dir(d.join("trusted")).unwrap();
    std::fs::copy(d.join("vendor.pub"), d.join("trusted/vendor.pub")).unwrap();

    // Pack unsigned, then sign separately.
    let pack = [
        "plugin",
        "pack",
        "--dir",
        plugin_dir.to_str().unwrap(),
        "--component",
        wasm.to_str().unwrap(),
        "--out",
        "dimming.sao",
    ];
    let o = sao(&pack, d);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = sao(
        &["plugin", "verify", "dimming.sao", "--trusted", "trusted"],
        d,
    );
    assert_one_line_error(&o, "package is not signed");

    let o = sao(&["plugin", "sign", "dimming.sao", "--key", "vendor.key"], d);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = sao(
        &["plugin", "verify", "dimming.sao", "--trusted", "trusted"],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("dimming 0.1.0 by sao, signed by trusted key"),
        "{}",
        stdout(&o)
    );

    let o = sao(&["plugin", "inspect", "dimming.sao"], d);
    assert!(o.status.success());
    let text = stdout(&o);
    for needle in [
        "id:           dimming",
        "capabilities: log, clock, kv, telemetry, lighting",
        "signature:    ed25519 by key",
        "file:         dimming.wasm",
    ] {
        assert!(text.contains(needle), "{needle} not in {text}");
    }

    // Another vendor's key is not trusted.
    let o = sao(&["keygen", "--out", "other"], d);
    assert!(o.status.success());
    let o = sao(&["plugin", "sign", "dimming.sao", "--key", "other.key"], d);
    assert!(o.status.success());
    let o = sao(
        &["plugin", "verify", "dimming.sao", "--trusted", "trusted"],
        d,
    );
    assert_one_line_error(&o, "not in this pole's trusted keys");

    // Tampering after signing.
    let o = sao(
        &pack
            .iter()
            .copied()
            .chain(["--key", "vendor.key"])
            .collect::<Vec<_>>(),
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let mut bytes = std::fs::read(d.join("dimming.sao")).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x20;
    std::fs::write(d.join("tampered.sao"), bytes).unwrap();
    let o = sao(
        &["plugin", "verify", "tampered.sao", "--trusted", "trusted"],
        d,
    );
    assert_one_line_error(&o, "tampered.sao refused");
}

#[test]
fn bad_input_is_one_line_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_one_line_error(
        &sao(&["run", "--config", "missing.toml"], d),
        "cannot read missing.toml",
    );
    std::fs::write(d.join("bad.toml"), "[scenario]\nstart = \"yesterday\"\n").unwrap();
    assert_one_line_error(
        &sao(&["sim", "--scenario", "bad.toml"], d),
        "scenario bad.toml is invalid",
    );
    std::fs::write(d.join("garbage.sao"), "not a package").unwrap();
    assert_one_line_error(
        &sao(&["plugin", "inspect", "garbage.sao"], d),
        "garbage.sao refused",
    );
    assert_one_line_error(
        &sao(&["plugin", "new", "Bad Name"], d),
        "must be 1-64 characters",
    );
}

#[test]
fn a_scaffolded_plugin_builds_as_is_and_runs_in_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = sao(&["plugin", "new", "bus-stop-hello"], d);
    assert!(o.status.success(), "{}", stderr(&o));
    let crate_dir = d.join("bus-stop-hello");
    // Share the workspace's registry cache but build in the plugin's own target dir.
    let build = Command::new(env!("CARGO"))
        .args(["build", "--release", "--target", "wasm32-wasip2", "-q"])
        .current_dir(&crate_dir)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    assert!(build.status.success(), "{}", stderr(&build));
    let wasm = crate_dir.join("target/wasm32-wasip2/release/bus_stop_hello.wasm");
    assert!(wasm.exists());

    assert!(sao(&["keygen", "--out", "vendor"], d).status.success());
    std::fs::create_dir(d.join("trusted")).unwrap();
    std::fs::copy(d.join("vendor.pub"), d.join("trusted/vendor.pub")).unwrap();
    let o = sao(
        &[
            "plugin",
            "pack",
            "--dir",
            "bus-stop-hello",
            "--component",
            wasm.to_str().unwrap(),
            "--key",
            "vendor.key",
            "--out",
            "hello.sao",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));

    std::fs::write(
        d.join("scenario.toml"),
        r#"
[scenario]
start = "2026-11-21T20:00:00+07:00"
duration-hours = 0.25
step-seconds = 30

[pole]
site = "bangkok"
id = "stop-7"
latitude = 13.75
longitude = 100.5

[storage]
data-dir = "data"

[trust]
keys-dir = "trusted"

[[plugins]]
package = "hello.sao"
grants = ["log", "telemetry"]
config = { heartbeat-every = 5 }
"#,
    )
    .unwrap();
    let o = sao(
        &["sim", "--scenario", "scenario.toml", "--out", "out.jsonl"],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let records = std::fs::read_to_string(d.join("out.jsonl")).unwrap();
    let heartbeats: Vec<serde_json::Value> = records
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["topic"] == "sao/v1/bangkok/stop-7/tele/bus-stop-hello/heartbeat")
        .collect();
    // 16 ticks in a quarter hour, a heartbeat every fifth: ticks 5, 10, 15.
    let ticks: Vec<f64> = heartbeats
        .iter()
        .map(|r| r["payload"]["metrics"]["ticks"]["value"].as_f64().unwrap())
        .collect();
    assert_eq!(ticks, vec![5.0, 10.0, 15.0]);
}

/// Subscribes to `topic` on the broker at `port` and forwards each payload.
fn subscribe(port: u16, topic: &str) -> std::sync::mpsc::Receiver<serde_json::Value> {
    let (tx, rx) = std::sync::mpsc::channel();
    let options = rumqttc::MqttOptions::new("cli-test", "127.0.0.1", port);
    let (client, mut connection) = rumqttc::Client::new(options, 10);
    client.subscribe(topic, rumqttc::QoS::AtLeastOnce).unwrap();
    std::thread::spawn(move || {
        let _client = client;
        for event in connection.iter() {
            match event {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                    let _ = tx.send(serde_json::from_slice(&p.payload).unwrap());
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    rx
}

#[test]
fn sao_run_starts_the_example_pole_with_its_own_broker_and_stops_cleanly_on_interrupt() {
    use std::io::{BufRead, BufReader};
    let example = workspace().join("runtime/pole.example.toml");
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The example with its state moved to a scratch directory and its embedded broker on
    // a free port.
    let config = std::fs::read_to_string(&example)
        .unwrap()
        .replace(
            "../target/sao-dev/run-data",
            dir.path().join("data").to_str().unwrap(),
        )
        .replace(
            "../target/sao-dev",
            workspace().join("target/sao-dev").to_str().unwrap(),
        )
        .replace("127.0.0.1:1883", &format!("127.0.0.1:{port}"));
    std::fs::write(dir.path().join("pole.toml"), config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sao"))
        .args(["--log-format", "json", "run", "--config", "pole.toml"])
        .current_dir(dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let started = lines
        .by_ref()
        .map(|l| l.unwrap())
        .find(|l| l.contains("\"state\":\"running\""))
        .expect("the dimming plugin reports running");
    let line: serde_json::Value = serde_json::from_str(&started).unwrap();
    assert_eq!(line["span"]["id"], "dimming");
    assert_eq!(line["span"]["version"], "0.1.0");
    lines
        .by_ref()
        .map(|l| l.unwrap())
        .find(|l| l.contains("uplink connected"))
        .expect("the uplink connects to the embedded broker");

    let status = subscribe(port, "sao/v1/chachoengsao/ccs-0001/status");
    let wait = std::time::Duration::from_secs(20);
    let birth = status.recv_timeout(wait).expect("the retained birth");
    assert_eq!(birth["online"], true);
    assert_eq!(birth["plugins"][0]["id"], "dimming");

    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    // The status may be republished while online (a plugin changing state) before the
    // interrupt lands; the first offline status must be the clean shutdown.
    let death = std::iter::from_fn(|| status.recv_timeout(wait).ok())
        .find(|s| s["online"] == false)
        .expect("the offline status");
    assert_eq!(death["reason"], "shutdown");
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{rest:?}");
    assert!(rest.iter().any(|l| l.contains("shutting down")), "{rest:?}");
}
