//! A pole in memory that records what the page asks of it, and helpers to call the router.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use sao_web::*;
use tower::ServiceExt;

/// The password every test pole is set up with.
pub const PASSWORD: &str = "ช้างป่า-2024";

/// What the page asked the pole to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    Acknowledge(u64, String),
    Restart(String, String),
    TestOutputs(String),
    Series(String, u64),
}

pub struct FakePole {
    pub snapshot: Mutex<PoleSnapshot>,
    pub series: Mutex<HashMap<String, Series>>,
    pub frames: Mutex<HashMap<String, Vec<u8>>>,
    pub calls: Mutex<Vec<Call>>,
    /// When set, every action fails with this message.
    pub refusal: Mutex<Option<String>>,
}

impl FakePole {
    pub fn new() -> Arc<Self> {
        let snapshot = snapshot();
        let series = [
            Series {
                name: "aqi".into(),
                unit: "1".into(),
                points: (0..48)
                    .map(|i| {
                        (
                            snapshot.now_ms - 86_400_000 + i * 1_800_000,
                            40.0 + i as f64,
                        )
                    })
                    .collect(),
            },
            Series {
                name: "lamp-1.level".into(),
                unit: "%".into(),
                points: vec![],
            },
        ];
        Arc::new(Self {
            snapshot: Mutex::new(snapshot),
            series: Mutex::new(series.into_iter().map(|s| (s.name.clone(), s)).collect()),
            frames: Mutex::new(HashMap::from([(
                "forest-edge".to_owned(),
                vec![0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9],
            )])),
            calls: Mutex::default(),
            refusal: Mutex::default(),
        })
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn record(&self, call: Call) -> Result<(), String> {
        self.calls.lock().unwrap().push(call);
        match self.refusal.lock().unwrap().clone() {
            Some(message) => Err(message),
            None => Ok(()),
        }
    }
}

impl PoleSource for FakePole {
    fn snapshot(&self) -> PoleSnapshot {
        self.snapshot.lock().unwrap().clone()
    }

    fn series(&self, name: &str, since_ms: u64) -> Option<Series> {
        self.calls
            .lock()
            .unwrap()
            .push(Call::Series(name.to_owned(), since_ms));
        self.series.lock().unwrap().get(name).cloned()
    }

    fn camera_jpeg(&self, camera: &str) -> Option<Vec<u8>> {
        self.frames.lock().unwrap().get(camera).cloned()
    }

    fn metrics(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            plugins: vec![
                PluginMetrics {
                    id: "dimming".into(),
                    running: true,
                    calls: 42,
                    errors: 1,
                    crashes: 2,
                    deadline_hits: 3,
                    restarts: 2,
                    memory_bytes: 1_048_576,
                },
                PluginMetrics {
                    id: "elephant".into(),
                    running: false,
                    calls: 7,
                    errors: 0,
                    crashes: 5,
                    deadline_hits: 0,
                    restarts: 4,
                    memory_bytes: 0,
                },
            ],
            outbox_depth: 17,
            outbox_evicted: 3,
            cameras: vec![CameraMetrics {
                name: "forest-edge".into(),
                fps: 12.5,
                frames: 9000,
                inferences: 4000,
                failures: 2,
                inference_ms_mean: 38.25,
            }],
        }
    }

    fn acknowledge(&self, alarm: u64, by: &str) -> Result<(), String> {
        self.record(Call::Acknowledge(alarm, by.to_owned()))
    }

    fn restart_plugin(&self, plugin: &str, by: &str) -> Result<(), String> {
        self.record(Call::Restart(plugin.to_owned(), by.to_owned()))
    }

    fn test_outputs(&self, by: &str) -> Result<Vec<OutputTest>, String> {
        self.record(Call::TestOutputs(by.to_owned()))?;
        Ok(vec![
            OutputTest {
                output: "siren".into(),
                ok: true,
                error: None,
            },
            OutputTest {
                output: "relay-1".into(),
                ok: false,
                error: Some("no feedback".into()),
            },
        ])
    }
}

/// A pole on the elephant route with one alarm, two plugins, a lamp and a camera.
pub fn snapshot() -> PoleSnapshot {
    let now_ms = 1_717_000_000_000;
    PoleSnapshot {
        identity: Identity {
            pole: "KAR-017".into(),
            site: "khao-ang-rue-nai".into(),
            profile: Some("elephant".into()),
            latitude: Some(13.2821),
            longitude: Some(101.6432),
            version: "0.1.0".into(),
            utc_offset_minutes: 420,
        },
        now_ms,
        uplink: UplinkView {
            connected: false,
            broker: "mqtts://broker.example:8883".into(),
            outbox_depth: 17,
        },
        health: HealthView {
            status: HealthStatus::Amber,
            findings: vec![Finding {
                component: "camera:forest-edge".into(),
                status: HealthStatus::Amber,
                problem: "frozen for 12 s".into(),
                since_ms: now_ms - 12_000,
            }],
        },
        plugins: vec![
            PluginView {
                id: "dimming".into(),
                version: "1.2.0".into(),
                state: "running".into(),
                restarts: 2,
                crashes: 2,
                last_error: None,
            },
            PluginView {
                id: "elephant".into(),
                version: "0.3.1".into(),
                state: "backoff".into(),
                restarts: 4,
                crashes: 5,
                last_error: Some("deadline exceeded".into()),
            },
        ],
        readings: vec![
            ReadingView {
                sensor: "pm25".into(),
                value: 35.2,
                unit: "ug/m3".into(),
                ts_ms: now_ms - 2000,
            },
            ReadingView {
                sensor: "lux".into(),
                value: 3.5,
                unit: "lx".into(),
                ts_ms: now_ms - 1000,
            },
        ],
        lamps: vec![LampView {
            id: "lamp-1".into(),
            level_percent: 60.0,
            watts: 72.5,
            total_kwh: 12.5,
            failsafe: false,
            controller: Some("dimming".into()),
        }],
        energy: Some(EnergyView {
            used_kwh: 12.5,
            baseline_kwh: 20.0,
            saved_percent: 37.5,
            since_ms: now_ms - 86_400_000,
        }),
        aqi: Some(AqiView {
            value: 82.0,
            band: "moderate".into(),
            standard: "thai-pcd-2023".into(),
            ts_ms: now_ms - 60_000,
        }),
        alarms: vec![AlarmView {
            id: 7,
            kind: "elephant".into(),
            level: "emergency".into(),
            source: "elephant".into(),
            message_th: "พบช้างป่าใกล้เสา".into(),
            message_en: "Wild elephant near the pole".into(),
            raised_ms: now_ms - 30_000,
            acknowledged_by: None,
            audible: true,
        }],
        events: vec![EventView {
            ts_ms: now_ms - 5000,
            topic: "evt/sao/camera-health".into(),
            state: "raised".into(),
            severity: "warning".into(),
            message: "camera forest-edge is frozen".into(),
        }],
        cameras: vec![CameraView {
            name: "forest-edge".into(),
            state: "frozen".into(),
            detail: "same image for 12 s".into(),
            fps: 12.5,
            inference_ms: 38.25,
        }],
        display: Some(DisplayView {
            th: "ระวังช้างป่า".into(),
            en: "Beware of wild elephants".into(),
            source: "alarm".into(),
        }),
        series: vec![
            SeriesInfo {
                name: "aqi".into(),
                title_th: "ดัชนีคุณภาพอากาศ".into(),
                title_en: "Air quality index".into(),
                unit: "1".into(),
            },
            SeriesInfo {
                name: "lamp-1.level".into(),
                title_th: "ระดับความสว่างโคม 1".into(),
                title_en: "Lamp 1 level".into(),
                unit: "%".into(),
            },
        ],
    }
}

/// The argon2id hash of [`PASSWORD`], computed once (hashing is deliberately slow).
pub fn password_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password(PASSWORD)).clone()
}

/// A config with the test password.
pub fn with_password() -> WebConfig {
    WebConfig {
        password_hash: Some(password_hash()),
        ..WebConfig::default()
    }
}

/// One answer, its body read in full.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(&name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The error message of a JSON error answer.
    pub fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error in {}", self.text()))
            .to_owned()
    }

    /// `sao_session=…` from the `Set-Cookie` header, ready for a `Cookie` header.
    pub fn session_cookie(&self) -> String {
        let set = self.header(header::SET_COOKIE);
        assert!(
            set.starts_with("sao_session="),
            "no session cookie in {set:?}"
        );
        set.split(';').next().unwrap().to_owned()
    }
}

/// Sends one request through `router`.
pub async fn send(
    router: &Router,
    method: Method,
    uri: &str,
    cookie: Option<&str>,
    body: Option<serde_json::Value>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let body = match body {
        Some(json) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(json.to_string())
        }
        None => Body::empty(),
    };
    let response = router
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

pub async fn get(router: &Router, uri: &str) -> Answer {
    send(router, Method::GET, uri, None, None).await
}

pub async fn post(router: &Router, uri: &str, cookie: Option<&str>) -> Answer {
    send(router, Method::POST, uri, cookie, None).await
}

pub async fn login(router: &Router, password: &str) -> Answer {
    send(
        router,
        Method::POST,
        "/api/login",
        None,
        Some(serde_json::json!({ "password": password })),
    )
    .await
}
