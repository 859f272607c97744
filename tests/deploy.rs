//! Plugin deployment to a real `sao run` process through a real Mosquitto broker, with
//! real signed packages of the probe plugin: an upgrade that succeeds, one that crashes
//! and is rolled back, packages that are refused (tampered, wrong digest, unknown vendor),
//! and SIGKILL in the middle of a download and of a health window.

mod common;

use std::path::Path;
use std::time::Duration;

use common::control::{ctl, object, operator_key, pole_config, probe, probe_files, POLE, SITE};
use common::mqtt::{Message, Mosquitto, Schemas, Subscriber};
use common::{with_manifest_value, Bench, PoleProcess};
use sao_runtime::control::deploy::file_digest;
use sao_runtime::control::document;
use sao_runtime::plugin::signing;
use serde_json::{json, Value};

const LONG: Duration = Duration::from_secs(90);
const KEY: &str = "operators/operator.key";

/// The probe at `version`, signed by the bench's vendor key; returns its path.
fn probe_version(bench: &Bench, version: &str) -> std::path::PathBuf {
    let files = with_manifest_value(probe_files(), "version", &format!("\"{version}\""));
    bench.package(&format!("probe-{version}"), files)
}

/// The probe's entry in the latest `…/deploy/status` answering document `doc_version`.
fn job(sub: &Subscriber, doc_version: u64) -> Option<Value> {
    sub.on("/deploy/status").iter().rev().find_map(|m| {
        m.payload["plugins"]
            .as_array()?
            .iter()
            .find(|p| p["id"] == "probe" && p["doc-version"] == doc_version)
            .cloned()
    })
}

/// Waits until the probe's job for `doc_version` is in `state` (and `phase`, if given).
fn wait_job(sub: &Subscriber, doc_version: u64, state: &str, phase: Option<&str>) -> Value {
    sub.wait_for(
        &format!("job v{doc_version} {state} {phase:?}"),
        LONG,
        |_| {
            job(sub, doc_version)
                .is_some_and(|j| j["state"] == state && phase.is_none_or(|p| j["phase"] == p))
        },
    );
    job(sub, doc_version).unwrap()
}

/// The probe versions the pole's statuses have listed, in order.
fn running_versions(sub: &Subscriber) -> Vec<String> {
    sub.on(&format!("{POLE}/status"))
        .iter()
        .filter(|m| m.payload["online"] == true)
        .filter_map(|m| {
            let probe = m.payload["plugins"]
                .as_array()?
                .iter()
                .find(|p| p["id"] == "probe")?;
            (probe["health"]["state"] == "running")
                .then(|| probe["version"].as_str().unwrap().to_string())
        })
        .collect()
}

/// `sao ctl deploy` of `package` to the test pole.
fn deploy(
    broker: &Mosquitto,
    dir: &Path,
    package: &Path,
    extra: &[&str],
) -> (bool, String, String) {
    let package = package.to_str().unwrap();
    let mut args = vec!["deploy", package, "--pole", POLE, "--key", KEY];
    args.extend_from_slice(extra);
    if !extra.contains(&"--wait") {
        args.extend(["--wait", "90"]);
    }
    ctl(&broker.url(), dir, &args)
}

/// The version of the deployment document `sao ctl` printed.
fn published_version(out: &str) -> u64 {
    let rest = out.split("published deployment v").nth(1).expect(out);
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

/// Deploys the bench's package `file` with `sao ctl`, which must fail with a reason
/// saying `why`; returns the job.
fn refused_by_ctl(site: &Site, file: &str, why: &str) -> Value {
    let (ok, out, _) = deploy(&site.broker, site.dir(), &site.bench.path(file), &[]);
    assert!(!ok, "{out}");
    let refused = job(&site.sub, published_version(&out)).unwrap();
    assert_eq!(refused["state"], "FAILED", "{refused}");
    let reason = refused["reason"].as_str().unwrap();
    assert!(reason.contains(why), "`{reason}` should say `{why}`");
    refused
}

fn heartbeats(sub: &Subscriber) -> usize {
    sub.on("/tele/probe/heartbeat").len()
}

/// Checks every JSON record the pole published against its schema.
fn check_schemas(sub: &Subscriber) {
    let schemas = Schemas::load();
    let json: Vec<Message> = sub
        .messages()
        .into_iter()
        .filter(|m| !m.topic.contains("/pkg/"))
        .collect();
    for m in json {
        schemas.check(&m);
    }
}

/// A running test pole with the probe 0.1.0 from `pole.toml`.
struct Site {
    bench: Bench,
    broker: Mosquitto,
    sub: Subscriber,
    config: String,
}

impl Site {
    fn start() -> (Self, PoleProcess) {
        let bench = Bench::new();
        operator_key(bench.dir.path());
        let broker = Mosquitto::start(&bench.path("broker"));
        let sub = Subscriber::connect(broker.port, "sao/#");
        let config = pole_config(POLE, &broker.url(), "[]", probe(&bench));
        let pole = PoleProcess::start(&bench, &config);
        let site = Self {
            bench,
            broker,
            sub,
            config,
        };
        site.sub.wait_for("probe 0.1.0 running", LONG, |_| {
            running_versions(&site.sub).contains(&"0.1.0".to_string())
        });
        (site, pole)
    }

    fn dir(&self) -> &Path {
        self.bench.dir.path()
    }

    fn deployed_files(&self) -> usize {
        std::fs::read_dir(self.bench.path("data/packages"))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

#[test]
fn v2_deploys_and_a_v3_that_crashes_at_start_is_rolled_back_to_v2() {
    let (site, pole) = Site::start();
    let v2 = probe_version(&site.bench, "0.2.0");
    let (ok, out, err) = deploy(&site.broker, site.dir(), &v2, &["--health-window-s", "2"]);
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains(POLE) && out.contains("SUCCEEDED (running 0.2.0)"),
        "{out}"
    );
    site.sub.wait_for("0.2.0 in the status", LONG, |_| {
        running_versions(&site.sub).last().map(String::as_str) == Some("0.2.0")
    });

    // v3 asks for less memory than its own initial heap: it crashes every time it starts.
    let files = with_manifest_value(
        with_manifest_value(probe_files(), "version", "\"0.3.0\""),
        "memory-mib",
        "1",
    );
    let v3 = site.bench.package("probe-0.3.0", files);
    let (ok, out, _) = deploy(&site.broker, site.dir(), &v3, &["--health-window-s", "30"]);
    assert!(!ok, "a failed deployment is a failed command: {out}");
    assert!(out.contains("FAILED_ROLLED_BACK (running 0.2.0)"), "{out}");
    let rolled = job(&site.sub, published_version(&out)).unwrap();
    assert_eq!(rolled["state"], "FAILED_ROLLED_BACK");
    assert_eq!(rolled["running"], "0.2.0");
    let reason = rolled["reason"].as_str().unwrap();
    assert!(
        reason.contains("version 0.3.0 failed") && reason.contains("crashed"),
        "{reason}"
    );

    // 0.2.0 runs again and keeps working; the pole's status says so.
    let beats = heartbeats(&site.sub);
    site.sub
        .wait_for("heartbeats of the rolled-back version", LONG, |_| {
            heartbeats(&site.sub) > beats + 3
                && running_versions(&site.sub).last().map(String::as_str) == Some("0.2.0")
        });
    let audit: Vec<(String, String)> = site
        .sub
        .on("/evt/sao/audit")
        .iter()
        .map(|m| {
            let d = &m.payload["details"];
            (
                d["what"].as_str().unwrap().to_string(),
                d["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        audit.contains(&("deployment of 0.2.0".into(), "applied".into())),
        "{audit:?}"
    );
    assert!(
        audit.contains(&("deployment of 0.3.0".into(), "rolled-back".into())),
        "{audit:?}"
    );
    assert_eq!(site.deployed_files(), 1, "only 0.2.0's package is kept");

    // A reboot keeps the deployed version.
    assert!(pole.terminate());
    let before = running_versions(&site.sub).len();
    let pole = PoleProcess::start(&site.bench, &site.config);
    site.sub.wait_for("the birth after the reboot", LONG, |_| {
        running_versions(&site.sub).len() > before
    });
    assert_eq!(running_versions(&site.sub).last().unwrap(), "0.2.0");
    check_schemas(&site.sub);
    assert!(pole.terminate());
}

#[test]
fn tampered_misdigested_and_unknown_vendor_packages_are_refused_and_nothing_is_installed() {
    let (site, pole) = Site::start();
    let v2 = probe_version(&site.bench, "0.2.0");
    let good = std::fs::read(&v2).unwrap();

    // One byte of the component flipped: the digest is recomputed (by ctl), the vendor's
    // signature no longer matches.
    let mut tampered = good.clone();
    let wasm = tampered.windows(4).position(|w| w == b"\0asm").unwrap();
    tampered[wasm + 1000] ^= 0x01;
    std::fs::write(site.bench.path("tampered.sao"), &tampered).unwrap();
    refused_by_ctl(&site, "tampered.sao", "tampered or corrupted");

    // Signed by a vendor key the pole does not trust.
    let mut stranger = sao_runtime::plugin::Package::read(&good).unwrap();
    stranger.sign(&signing::generate_key());
    std::fs::write(site.bench.path("stranger.sao"), stranger.to_bytes()).unwrap();
    let refused = refused_by_ctl(&site, "stranger.sao", "not in this pole's trusted keys");

    // The document announces a digest the bytes do not have.
    let announced = file_digest(b"some other package");
    let hex = announced.trim_start_matches("sha256:");
    site.sub
        .publish_retained(&format!("sao/v1/{SITE}/pkg/{hex}/0"), good.clone());
    let version = refused["doc-version"].as_u64().unwrap() + 1;
    let operator = signing::read_signing_key(&site.bench.path(KEY)).unwrap();
    let doc = document::sign(
        object(json!({
            "target": format!("{SITE}/{POLE}"),
            "version": version,
            "plugins": [{
                "id": "probe", "version": "0.2.0", "digest": announced,
                "source": { "mqtt": { "chunks": 1 } },
                "grants": ["log", "kv", "telemetry", "alarm", "lighting"]
            }]
        })),
        &operator,
    );
    site.sub.publish_retained(
        &format!("sao/v1/{SITE}/{POLE}/deploy/desired"),
        serde_json::to_vec(&doc).unwrap(),
    );
    let refused = wait_job(&site.sub, version, "FAILED", None);
    assert!(
        refused["reason"]
            .as_str()
            .unwrap()
            .starts_with("digest mismatch"),
        "{refused}"
    );

    // Each refusal had its own reason; 0.1.0 never stopped and nothing was installed.
    let reasons: Vec<String> = site
        .sub
        .on("/evt/sao/audit")
        .iter()
        .map(|m| m.payload["details"]["reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(running_versions(&site.sub).iter().all(|v| v == "0.1.0"));
    assert_eq!(site.deployed_files(), 0);
    let beats = heartbeats(&site.sub);
    site.sub.wait_for("heartbeats go on", LONG, |_| {
        heartbeats(&site.sub) > beats + 3
    });
    check_schemas(&site.sub);
    assert!(pole.terminate());
}

#[test]
fn sigkill_mid_download_and_mid_health_window_leaves_one_version_running_and_reported() {
    let (site, pole) = Site::start();
    let operator = signing::read_signing_key(&site.bench.path(KEY)).unwrap();

    // Killed mid-download: half the chunks are on the broker.
    let v2 = std::fs::read(probe_version(&site.bench, "0.2.0")).unwrap();
    let digest = file_digest(&v2);
    let hex = digest.trim_start_matches("sha256:").to_string();
    let half = v2.len() / 2;
    let chunk = |i: usize| format!("sao/v1/{SITE}/pkg/{hex}/{i}");
    site.sub.publish_retained(&chunk(0), v2[..half].to_vec());
    let doc = document::sign(
        object(json!({
            "target": format!("{SITE}/{POLE}"),
            "version": 1,
            "plugins": [{
                "id": "probe", "version": "0.2.0", "digest": digest,
                "source": { "mqtt": { "chunks": 2 } },
                "grants": ["log", "kv", "telemetry", "alarm", "lighting"],
                "health-window-s": 1
            }]
        })),
        &operator,
    );
    site.sub.publish_retained(
        &format!("sao/v1/{SITE}/{POLE}/deploy/desired"),
        serde_json::to_vec(&doc).unwrap(),
    );
    wait_job(&site.sub, 1, "IN_PROGRESS", Some("downloading"));
    pole.kill9();
    let statuses = site.sub.on("/deploy/status").len();
    let pole = PoleProcess::start(&site.bench, &site.config);
    // After the restart the pole runs the old version and says the download goes on.
    site.sub
        .wait_for("the status after the restart", LONG, |_| {
            site.sub.on("/deploy/status").len() > statuses
        });
    let resumed = job(&site.sub, 1).unwrap();
    assert_eq!(resumed["phase"], "downloading", "{resumed}");
    assert_eq!(resumed["running"], "0.1.0", "{resumed}");
    site.sub.publish_retained(&chunk(1), v2[half..].to_vec());
    let done = wait_job(&site.sub, 1, "SUCCEEDED", None);
    assert_eq!(done["running"], "0.2.0");

    // Killed in the health window of 0.3.0: it restarts as 0.3.0 and the window reopens.
    let v3 = probe_version(&site.bench, "0.3.0");
    let (ok, out, err) = deploy(
        &site.broker,
        site.dir(),
        &v3,
        &["--health-window-s", "4", "--wait", "0"],
    );
    assert!(ok, "{out}{err}");
    let version = published_version(&out);
    let watching = wait_job(&site.sub, version, "IN_PROGRESS", Some("health-window"));
    assert_eq!(watching["running"], "0.3.0");
    pole.kill9();
    let before = running_versions(&site.sub).len();
    let pole = PoleProcess::start(&site.bench, &site.config);
    site.sub.wait_for("the birth after the restart", LONG, |_| {
        running_versions(&site.sub).len() > before
    });
    let after = &running_versions(&site.sub)[before..];
    assert!(after.iter().all(|v| v == "0.3.0"), "{after:?}");
    let done = wait_job(&site.sub, version, "SUCCEEDED", None);
    assert_eq!(done["running"], "0.3.0");
    assert_eq!(
        site.deployed_files(),
        1,
        "0.2.0's package is dropped once 0.3.0 succeeded"
    );
    check_schemas(&site.sub);
    assert!(pole.terminate());
}

/// Python's `http.server` serving a directory on a free port, stopped when dropped.
struct HttpServer {
    child: std::process::Child,
    port: u16,
}

impl HttpServer {
    fn serve(dir: &Path) -> Self {
        let port = common::mqtt::free_port();
        let child = std::process::Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .arg("--directory")
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 is installed (.ci/setup)");
        assert!(
            common::mqtt::wait_until(Duration::from_secs(10), || {
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            }),
            "http.server did not start"
        );
        Self { child, port }
    }

    fn url(&self, file: &str) -> String {
        format!("http://127.0.0.1:{}/{file}", self.port)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_package_from_an_http_url_deploys_and_bad_downloads_are_refused() {
    let (site, pole) = Site::start();
    let http = HttpServer::serve(site.dir());
    let v2 = probe_version(&site.bench, "0.2.0");
    let url = http.url("probe-0.2.0.sao");
    let (ok, out, err) = deploy(
        &site.broker,
        site.dir(),
        &v2,
        &["--url", &url, "--health-window-s", "1"],
    );
    assert!(ok, "{out}\n{err}");
    assert!(out.contains(&format!("from {url}")), "{out}");
    assert!(out.contains("SUCCEEDED (running 0.2.0)"), "{out}");
    assert!(
        site.sub.on("/pkg/").is_empty(),
        "nothing went over the broker"
    );

    // The URL serves other bytes than the digest announced.
    let v3 = probe_version(&site.bench, "0.3.0");
    let (ok, out, _) = deploy(&site.broker, site.dir(), &v3, &["--url", &url]);
    assert!(!ok, "{out}");
    let refused = job(&site.sub, published_version(&out)).unwrap();
    assert_eq!(refused["state"], "FAILED");
    assert!(
        refused["reason"]
            .as_str()
            .unwrap()
            .starts_with("digest mismatch"),
        "{refused}"
    );

    // Nothing there.
    let missing = http.url("missing.sao");
    let (ok, out, _) = deploy(&site.broker, site.dir(), &v3, &["--url", &missing]);
    assert!(!ok, "{out}");
    let refused = job(&site.sub, published_version(&out)).unwrap();
    assert_eq!(refused["state"], "FAILED");
    let reason = refused["reason"].as_str().unwrap();
    assert!(
        reason.contains(&missing) && reason.contains("404"),
        "{reason}"
    );
    assert_eq!(refused["running"], "0.2.0");
    check_schemas(&site.sub);
    assert!(pole.terminate());
}
