//! The technician page of a real `sao run` process, in a real headless Chromium driven
//! through chromedriver (both from Debian): it loads in Thai, its live values change, its
//! plots render, the camera's frame shows, injected faults (a dark lamp, a failed sensor,
//! an overheating box, a camera that dies) show as findings, an acknowledge without login
//! is refused and one after login works. The test saves a screenshot of the page.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::mqtt::{free_port, wait_until};
use common::{
    looping_gate_camera, pole_body, with_sim_hardware, Bench, PoleProcess, HOST_CHECKS_OFF,
};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

const LONG: Duration = Duration::from_secs(90);
const PASSWORD: &str = "pole-7-technician";

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// chromedriver on a free port, stopped on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Self {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (.ci/setup installs chromium-driver)");
        assert!(
            wait_until(Duration::from_secs(20), || std::net::TcpStream::connect((
                "127.0.0.1",
                port
            ))
            .is_ok()),
            "chromedriver did not start"
        );
        Self { child, port }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The pole's `/api/state`, as the page polls it.
fn state(base: &str) -> Value {
    let body = ureq::get(&format!("{base}/api/state"))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    serde_json::from_str(&body).unwrap()
}

/// Polls `check` on the page every 200 ms until it returns `Some`, or fails the test.
async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + LONG;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn text(client: &Client, css: &str) -> Option<String> {
    client.find(Locator::Css(css)).await.ok()?.text().await.ok()
}

async fn attr(client: &Client, css: &str, name: &str) -> Option<String> {
    client
        .find(Locator::Css(css))
        .await
        .ok()?
        .attr(name)
        .await
        .ok()?
}

/// Clicks the element `css`.
async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Whether the image `css` finished loading with a picture in it.
async fn image_loaded(client: &Client, css: &str) -> bool {
    let script = "const i = document.querySelector(arguments[0]); return !!i && i.complete && i.naturalWidth > 0;";
    client
        .execute(script, vec![json!(css)])
        .await
        .is_ok_and(|v| v == json!(true))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_technician_page_shows_the_pole_live_and_guards_its_actions() {
    let bench = Bench::new();
    let (clip, camera) = looping_gate_camera(&bench);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let t0 = now_ms();
    // A noise meter whose value changes every 3 s for two minutes: a live value.
    let noise: Vec<String> = (0..40)
        .map(|i| format!("[{}, {}]", t0 + i * 3_000, 50 + (i * 7) % 30))
        .collect();
    let config = format!(
        r#"{}
[lighting]
safe-level = 40.0

[timing]
poll-interval-ms = 200
health-interval-s = 1

[health]
check-interval-s = 1
{HOST_CHECKS_OFF}
[web]
listen = "127.0.0.1:{port}"
language = "th"
password-hash = "{}"
{camera}"#,
        pole_body(),
        sao_web::hash_password(PASSWORD)
    );
    let hardware = format!(
        r#"sos-presses-ms = [{}]
series = [{{ sensor = "noise", unit = "dB", points = [{}] }}]
faults = [
    {{ device = "main", from-ms = {t0}, kind = "dark" }},
    {{ device = "lux", from-ms = {t0}, kind = "fail" }},
    {{ device = "cpu-temperature", from-ms = {t0}, kind = "offset", offset = 60.0 }},
]"#,
        t0 + 3_000,
        noise.join(", ")
    );
    let pole = PoleProcess::start(&bench, &with_sim_hardware(&config, &hardware));
    assert!(
        wait_until(LONG, || ureq::get(&format!("{base}/api/state"))
            .call()
            .is_ok()),
        "the page never answered; pole log:\n{}",
        pole.log()
    );

    let driver = Driver::start();
    let capabilities = json!({
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,2600"]
        }
    });
    // chromedriver speaks plain HTTP on localhost: no TLS in the WebDriver client.
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(capabilities.as_object().unwrap().clone())
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a Chromium session");
    client.goto(&base).await.unwrap();

    // Thai by default on this Thai site.
    assert_eq!(attr(&client, "html", "lang").await.as_deref(), Some("th"));

    // The injected faults, red on the page: a lamp that is dark, a box too hot.
    let findings = ["finding-lamp:main", "finding-cpu", "finding-sensor:lux"];
    for finding in findings {
        eventually(finding, async || {
            text(&client, &format!("[data-testid=\"{finding}\"]")).await
        })
        .await;
    }
    let status = eventually("a red badge", async || {
        attr(&client, "#health-status", "data-status")
            .await
            .filter(|s| s == "red")
    })
    .await;
    assert_eq!(status, "red");
    // The dark lamp shows first as amber (at the fail-safe level until the plugin
    // takes it), then red once two checks in a row find it drawing nothing.
    eventually("the dark lamp reported drawing 0.0 W", async || {
        text(&client, "[data-testid=\"finding-lamp:main\"]")
            .await
            .filter(|t| t.contains("0.0 W"))
    })
    .await;

    // A live value changes in place.
    let first = eventually("the noise reading", async || {
        text(&client, "[data-testid=\"reading-noise\"]")
            .await
            .filter(|t| !t.is_empty())
    })
    .await;
    eventually("the noise reading to change", async || {
        text(&client, "[data-testid=\"reading-noise\"]")
            .await
            .filter(|t| !t.is_empty() && *t != first)
    })
    .await;

    // The plots of the lamp and the box temperature render.
    for plot in ["plot-main.level", "plot-cpu-temperature"] {
        let css = format!("img[data-testid=\"{plot}\"]");
        eventually(plot, async || {
            image_loaded(&client, &css).await.then_some(())
        })
        .await;
    }
    // The camera's last frame, with its detection boxes, decodes.
    eventually("the camera frame", async || {
        image_loaded(&client, "img[data-testid=\"camera-gate-image\"]")
            .await
            .then_some(())
    })
    .await;

    // The SOS alarm is active; acknowledging it without logging in is refused.
    let alarm = eventually("the SOS alarm", async || {
        state(&base)["alarms"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["kind"] == "sos").cloned())
    })
    .await;
    let id = alarm["id"].as_u64().unwrap();
    let ack = format!("[data-testid=\"ack-{id}\"]");
    eventually("the ack button", async || {
        client.find(Locator::Css(&ack)).await.ok()
    })
    .await;
    std::fs::create_dir_all(common::root().join("target")).unwrap();
    let screenshot = client.screenshot().await.unwrap();
    assert!(screenshot.starts_with(b"\x89PNG"), "a PNG screenshot");
    let shot = common::root().join("target/technician-page.png");
    std::fs::write(&shot, &screenshot).unwrap();
    std::fs::write(bench.path("technician-page.png"), &screenshot).unwrap();

    click(&client, &ack).await;
    let refused = eventually("the refusal", async || {
        text(&client, "#action-result")
            .await
            .filter(|t| !t.is_empty())
    })
    .await;
    assert!(
        attr(&client, "#action-result", "class")
            .await
            .unwrap_or_default()
            .contains("error")
            || refused.contains("เข้าสู่ระบบ"),
        "the page says it was refused: {refused}"
    );
    assert!(
        state(&base)["alarms"][0]["acknowledged-by"].is_null(),
        "nothing was acknowledged"
    );

    // Logged in, the same click acknowledges it.
    client
        .find(Locator::Id("login-password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    click(&client, "#login-submit").await;
    eventually("the session", async || {
        client
            .find(Locator::Id("logout"))
            .await
            .ok()?
            .is_displayed()
            .await
            .ok()?
            .then_some(())
    })
    .await;
    click(&client, &ack).await;
    let acknowledged = eventually("the acknowledgement", async || {
        let alarms = state(&base)["alarms"].clone();
        alarms
            .as_array()?
            .iter()
            .find(|a| a["id"] == id)?
            .get("acknowledged-by")?
            .as_str()
            .map(String::from)
    })
    .await;
    assert_eq!(acknowledged, "technician");

    // The camera's recording vanishes: the page shows the camera finding.
    std::fs::File::create(&clip).unwrap();
    eventually("the dead camera on the page", async || {
        text(&client, "[data-testid=\"finding-camera:gate\"]").await
    })
    .await;

    client.close().await.unwrap();
    assert!(pole.terminate(), "clean shutdown");
}
