//! Shared helpers of the end-to-end tests: locating the built plugins, packaging and
//! signing them with a per-test key, running scenarios and reading the records back.

#![allow(dead_code)] // each test binary uses a different subset

pub mod control;
pub mod mqtt;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use sao_runtime::plugin::package::{Package, MANIFEST_FILE};
use sao_runtime::plugin::signing;
use sao_runtime::sim::{self, ScenarioFile, SimOptions, SimSummary};
use serde_json::Value;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// A plugin component built by `plugins/build.sh` (wasm32-wasip2, release).
pub fn wasm(crate_name: &str) -> Vec<u8> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let path = target.join(format!("wasm32-wasip2/release/{crate_name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}. Build the plugins first: bash plugins/build.sh",
            path.display()
        )
    })
}

/// Files of a plugin package: the manifest and schema from `dir`, the built component.
pub fn plugin_files(dir: &Path, crate_name: &str) -> BTreeMap<String, Vec<u8>> {
    let manifest = std::fs::read_to_string(dir.join(MANIFEST_FILE)).unwrap();
    let parsed = sao_runtime::plugin::Manifest::parse(&manifest).unwrap();
    let mut files = BTreeMap::new();
    files.insert(parsed.component.clone(), wasm(crate_name));
    files.insert(
        parsed.config_schema.clone(),
        std::fs::read(dir.join(&parsed.config_schema)).unwrap(),
    );
    files.insert(MANIFEST_FILE.to_string(), manifest.into_bytes());
    files
}

/// The dimming plugin's package files.
pub fn dimming_files() -> BTreeMap<String, Vec<u8>> {
    plugin_files(&root().join("plugins/dimming"), "sao_plugin_dimming")
}

/// The air-quality plugin's package files.
pub fn air_quality_files() -> BTreeMap<String, Vec<u8>> {
    plugin_files(
        &root().join("plugins/air-quality"),
        "sao_plugin_air_quality",
    )
}

/// A file of the shared test data beside the workspace (`../shared/…`).
pub fn shared(rel: &str) -> PathBuf {
    root().join("../shared").join(rel)
}

/// The `.jpg` photos in a directory of `../shared`, in name order.
pub fn photos(dir: &str) -> Vec<PathBuf> {
    let mut photos: Vec<PathBuf> = std::fs::read_dir(shared(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
        .collect();
    photos.sort();
    photos
}

/// A vision plugin's package files, with the shared COCO detector as its model.
fn vision_plugin_files(dir: &str, crate_name: &str) -> BTreeMap<String, Vec<u8>> {
    let mut files = plugin_files(&root().join(dir), crate_name);
    files.insert(
        "models/yolox_nano.onnx".into(),
        std::fs::read(shared("models/yolox_nano.onnx")).unwrap(),
    );
    files
}

/// The elephant plugin's package files, with the shared COCO detector as its model.
pub fn elephant_files() -> BTreeMap<String, Vec<u8>> {
    vision_plugin_files("plugins/elephant", "sao_plugin_elephant")
}

/// The accident plugin's package files, with the shared COCO detector as its model.
pub fn accident_files() -> BTreeMap<String, Vec<u8>> {
    vision_plugin_files("plugins/accident", "sao_plugin_accident")
}

/// `sao vision run` of the vision plugin `package` over `video` with `config`, the camera
/// named `camera`, recording the bench pole's devices in `trace`.
pub fn vision_run_output(
    bench: &Bench,
    package: &Path,
    video: &Path,
    config: &str,
    camera: &str,
    trace: &Path,
) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_sao-e2e-host"))
        .args(["--log", "warn", "vision", "run", "--source"])
        .arg(video)
        .arg("--plugin")
        .arg(package)
        .arg("--trusted")
        .arg(bench.path("trusted"))
        .args(["--config", config, "--camera", camera, "--trace"])
        .arg(trace)
        .output()
        .expect("sao runs")
}

/// Like [`vision_run_output`], which must succeed; returns the upstream records and the
/// path of the device trace (named after the video).
pub fn vision_run(
    bench: &Bench,
    package: &Path,
    video: &Path,
    config: &str,
    camera: &str,
) -> (Vec<Value>, PathBuf) {
    let trace = bench.path(&format!(
        "{}.trace.jsonl",
        video.file_stem().unwrap().to_str().unwrap()
    ));
    let out = vision_run_output(bench, package, video, config, camera, &trace);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let records = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (records, trace)
}

/// JPEG bytes decode to an image: its width and height (for checking alert snapshots).
pub fn jpeg_size(bytes: &[u8]) -> Option<(i32, i32)> {
    use opencv::prelude::*;
    let bytes = opencv::core::Vector::from_slice(bytes);
    let image = opencv::imgcodecs::imdecode(&bytes, opencv::imgcodecs::IMREAD_COLOR).ok()?;
    (!image.empty()).then(|| (image.cols(), image.rows()))
}

/// Writes an assembled clip of `segments` (see `sao_vision::clip`) to `path`.
pub fn clip(
    path: &Path,
    segments: &[sao_vision::clip::Segment],
    fps: f64,
    look: sao_vision::clip::Look,
) {
    sao_vision::clip::assemble(path, segments, fps, look).unwrap();
}

/// The misbehaving fixture's package files.
pub fn misbehave_files() -> BTreeMap<String, Vec<u8>> {
    plugin_files(
        &root().join("tests/fixtures/misbehave"),
        "sao_fixture_misbehave",
    )
}

/// The misbehaving fixture's package files under plugin id `id` (so several can run side
/// by side).
pub fn misbehave_files_as(id: &str) -> BTreeMap<String, Vec<u8>> {
    let mut files = misbehave_files();
    let manifest = String::from_utf8(files[MANIFEST_FILE].clone()).unwrap();
    files.insert(
        MANIFEST_FILE.into(),
        manifest
            .replace("id = \"misbehave\"", &format!("id = \"{id}\""))
            .into_bytes(),
    );
    files
}

/// A test pole's working area: a trusted signing key, packages and data.
pub struct Bench {
    pub dir: tempfile::TempDir,
    pub key: SigningKey,
}

impl Bench {
    /// A fresh area whose `trusted/` directory trusts `key`.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = signing::generate_key();
        std::fs::create_dir_all(dir.path().join("trusted")).unwrap();
        signing::write_key_pair(&key, &dir.path().join("trusted/test")).unwrap();
        Self { dir, key }
    }

    /// Path inside the area.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes `files` as a package signed by the trusted key; returns its path.
    pub fn package(&self, name: &str, files: BTreeMap<String, Vec<u8>>) -> PathBuf {
        let mut package = Package::from_files(files).unwrap();
        package.sign(&self.key);
        let path = self.path(&format!("{name}.sao"));
        std::fs::write(&path, package.to_bytes()).unwrap();
        path
    }

    /// Runs a scenario given as TOML (paths relative to the bench) and returns the
    /// summary and every record written.
    pub fn simulate(&self, scenario: &str) -> (SimSummary, Vec<Value>) {
        self.simulate_with(scenario, SimOptions::default())
    }

    /// Like [`Bench::simulate`] with options.
    pub fn simulate_with(&self, scenario: &str, options: SimOptions) -> (SimSummary, Vec<Value>) {
        let scenario_path = self.path("scenario.toml");
        std::fs::write(&scenario_path, scenario).unwrap();
        let file = ScenarioFile::load(&scenario_path).unwrap();
        let out_path = self.path("records.jsonl");
        let out = std::fs::File::create(&out_path).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let summary = runtime
            .block_on(sim::run(file, Box::new(out), &options))
            .unwrap();
        let records = std::fs::read_to_string(&out_path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (summary, records)
    }
}

/// Records whose topic ends with `suffix`.
pub fn on_topic<'a>(records: &'a [Value], suffix: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|r| r["topic"].as_str().unwrap().ends_with(suffix))
        .collect()
}

/// The value of metric `name` in a telemetry record.
pub fn metric(record: &Value, name: &str) -> f64 {
    record["payload"]["metrics"][name]["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("no metric {name} in {record}"))
}

/// The standard pole header of test scenarios (Chachoengsao, UTC+7).
pub fn pole_header(start: &str, hours: f64, step_seconds: u64) -> String {
    pole_header_with(start, hours, step_seconds, "")
}

/// Like [`pole_header`] with more lines of the `[scenario]` table (motion, faults, …).
pub fn pole_header_with(start: &str, hours: f64, step_seconds: u64, timeline: &str) -> String {
    format!(
        r#"
[scenario]
start = "{start}"
duration-hours = {hours}
step-seconds = {step_seconds}
{timeline}
{}"#,
        pole_body()
    )
}

/// `[health]` lines that switch off the checks of this machine's own disk and memory,
/// for tests that are not about them (the test machine's disk may well be nearly full).
pub const HOST_CHECKS_OFF: &str = "disk-warn-free-percent = 0
disk-critical-free-percent = 0
memory-warn-available-percent = 0
memory-critical-available-percent = 0
";

/// The `[[plugins]]` entry of the signed dimming plugin (`dimming.sao`), with its usual
/// grants and `config` (an inline TOML table; empty for none).
pub fn dimming_plugin(config: &str) -> String {
    let config = match config {
        "" => String::new(),
        table => format!("config = {table}\n"),
    };
    format!(
        "\n[[plugins]]\npackage = \"dimming.sao\"\ngrants = [\"log\", \"clock\", \"kv\", \"telemetry\", \"lighting\"]\n{config}"
    )
}

/// A camera `gate` looping a copy of the traffic video (returned, so a test can take
/// it away) and the vision-probe plugin watching it, packaged in `bench`; returns the
/// copy and the config's `[[cameras]]` and `[[plugins]]` tables.
pub fn looping_gate_camera(bench: &Bench) -> (PathBuf, &'static str) {
    bench.package("vision-probe", vision_probe_files());
    let clip = bench.path("gate-camera.mp4");
    std::fs::copy(shared("media/traffic/car-detection.mp4"), &clip).unwrap();
    let tables = r#"
[[cameras]]
name = "gate"
source = "gate-camera.mp4"
capture = { fps = 5, loop-file = true, retry-ms = 200, retry-max-ms = 1000 }

[[plugins]]
package = "vision-probe.sao"
grants = ["log", "telemetry", "vision"]
"#;
    (clip, tables)
}

/// The standard test pole: identity, storage and trust in the bench, simulated hardware.
pub fn pole_body() -> &'static str {
    r#"
[pole]
site = "chachoengsao"
id = "ccs-test-01"
latitude = 13.69
longitude = 101.07
utc-offset-minutes = 420

[storage]
data-dir = "data"

[trust]
keys-dir = "trusted"

[hardware]
backend = "sim"
seed = 7
lamps = [{ id = "main", rated-watts = 100.0 }]
"#
}

/// A pole config (or scenario) whose simulated hardware gets extra `lines`, e.g. its
/// device trace: `trace = "trace.jsonl"`.
pub fn with_sim_hardware(config: &str, lines: &str) -> String {
    assert!(config.contains("seed = 7\n"), "not the standard test pole");
    config.replace("seed = 7\n", &format!("seed = 7\n{lines}\n"))
}

/// The changes of `device` recorded in the simulator's trace at `path`, as
/// `(ts, state)`.
pub fn traced(path: &Path, device: &str) -> Vec<(u64, Value)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["device"] == device)
        .map(|l| (l["ts"].as_u64().unwrap(), l["state"].clone()))
        .collect()
}

/// A manifest's tick interval changed to `ms` (real-time tests cannot wait a minute).
pub fn with_tick_ms(files: BTreeMap<String, Vec<u8>>, ms: u64) -> BTreeMap<String, Vec<u8>> {
    with_manifest_value(files, "tick-interval-ms", &ms.to_string())
}

/// A manifest with the line `key = …` set to `key = value` (`value` in TOML syntax).
pub fn with_manifest_value(
    mut files: BTreeMap<String, Vec<u8>>,
    key: &str,
    value: &str,
) -> BTreeMap<String, Vec<u8>> {
    let manifest = String::from_utf8(files[MANIFEST_FILE].clone()).unwrap();
    let prefix = format!("{key} = ");
    assert!(
        manifest.lines().any(|l| l.starts_with(&prefix)),
        "no `{key}` in the manifest"
    );
    let edited: String = manifest
        .lines()
        .map(|line| match line.starts_with(&prefix) {
            true => format!("{prefix}{value}\n"),
            false => format!("{line}\n"),
        })
        .collect();
    files.insert(MANIFEST_FILE.into(), edited.into_bytes());
    files
}

/// The vision-probe package files, with the shared model as its `models/yolox_nano.onnx`.
pub fn vision_probe_files() -> BTreeMap<String, Vec<u8>> {
    let mut files = plugin_files(
        &root().join("tests/fixtures/vision-probe"),
        "sao_fixture_vision_probe",
    );
    files.insert(
        "models/yolox_nano.onnx".into(),
        std::fs::read(shared("models/yolox_nano.onnx")).unwrap(),
    );
    files
}

/// A `sao run` process (the real CLI) on a pole config in a bench.
pub struct PoleProcess {
    child: std::process::Child,
    log: PathBuf,
}

impl PoleProcess {
    /// Writes `config` as the bench's `pole.toml` and starts `sao run` on it, logging JSON
    /// lines to the bench's `sao.log` (appended across restarts).
    pub fn start(bench: &Bench, config: &str) -> Self {
        Self::start_in(bench.dir.path(), config)
    }

    /// Like [`PoleProcess::start`] in directory `dir`.
    pub fn start_in(dir: &Path, config: &str) -> Self {
        Self::start_with_env(dir, config, &[])
    }

    /// Like [`PoleProcess::start_in`], with extra environment variables (`env`).
    pub fn start_with_env(dir: &Path, config: &str, env: &[(&str, &str)]) -> Self {
        std::fs::write(dir.join("pole.toml"), config).unwrap();
        let log = dir.join("sao.log");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_sao-e2e-host"))
            .args(["--log-format", "json", "run", "--config", "pole.toml"])
            .envs(env.iter().copied())
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap();
        Self { child, log }
    }

    /// Kills the process outright (SIGKILL: no clean-up, no offline status).
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Stops the process as systemd does (SIGTERM) and returns whether it exited cleanly.
    pub fn terminate(mut self) -> bool {
        mqtt::signal(self.child.id(), "TERM");
        self.child.wait().unwrap().success()
    }

    /// Everything the process logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for PoleProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
