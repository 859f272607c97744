//! The JSON API, login and actions.

use std::time::Duration;

use axum::http::{header, Method, StatusCode};
use sao_web::*;
use serde_json::json;

use crate::fake::*;

#[tokio::test]
async fn state_round_trips_and_says_what_the_visitor_may_do() {
    let pole = FakePole::new();
    let read_only = router(pole.clone(), &WebConfig::default());
    let answer = get(&read_only, "/api/state").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header(header::CACHE_CONTROL), "no-store");
    let json = answer.json();
    assert_eq!(json["actions-enabled"], json!(false));
    assert_eq!(json["logged-in"], json!(false));
    assert_eq!(json["identity"]["utc-offset-minutes"], json!(420));
    assert_eq!(json["health"]["status"], json!("amber"));
    let back: PoleSnapshot = serde_json::from_value(json).unwrap();
    assert_eq!(back, snapshot());

    let guarded = router(pole, &with_password());
    let json = get(&guarded, "/api/state").await.json();
    assert_eq!(
        (json["actions-enabled"].clone(), json["logged-in"].clone()),
        (json!(true), json!(false))
    );
    let cookie = login(&guarded, PASSWORD).await.session_cookie();
    let json = send(&guarded, Method::GET, "/api/state", Some(&cookie), None)
        .await
        .json();
    assert_eq!(json["logged-in"], json!(true));
}

#[tokio::test]
async fn actions_without_a_session_are_refused() {
    let pole = FakePole::new();
    let app = router(pole.clone(), &with_password());
    for uri in [
        "/api/alarms/7/ack",
        "/api/plugins/dimming/restart",
        "/api/outputs/test",
    ] {
        let answer = post(&app, uri, None).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(answer.error(), "log in to do this");
    }
    assert!(pole.calls().is_empty(), "{:?}", pole.calls());
}

#[tokio::test]
async fn without_a_password_actions_and_logins_are_forbidden() {
    let pole = FakePole::new();
    let app = router(pole.clone(), &WebConfig::default());
    let answer = login(&app, PASSWORD).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(
        answer.error(),
        "actions are disabled: no password is set in [web]"
    );
    for uri in [
        "/api/alarms/7/ack",
        "/api/plugins/dimming/restart",
        "/api/outputs/test",
    ] {
        let answer = post(&app, uri, Some("sao_session=00")).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{uri}");
        assert_eq!(
            answer.error(),
            "actions are disabled: no password is set in [web]"
        );
    }
    assert!(pole.calls().is_empty());
}

#[tokio::test]
async fn an_unusable_hash_leaves_the_page_read_only() {
    let config = WebConfig {
        password_hash: Some("$argon2id$nonsense".into()),
        ..WebConfig::default()
    };
    let app = router(FakePole::new(), &config);
    assert_eq!(
        get(&app, "/api/state").await.json()["actions-enabled"],
        json!(false)
    );
    assert_eq!(login(&app, PASSWORD).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_wrong_password_is_refused() {
    let app = router(FakePole::new(), &with_password());
    let answer = login(&app, "not-the-password").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.error(), "wrong password");
    assert!(answer.headers.get(header::SET_COOKIE).is_none());

    let answer = send(
        &app,
        Method::POST,
        "/api/login",
        None,
        Some(json!({ "pass": PASSWORD })),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.error().contains("password"), "{}", answer.error());
}

#[tokio::test]
async fn a_technician_logs_in_acts_and_logs_out() {
    let pole = FakePole::new();
    let app = router(
        pole.clone(),
        &WebConfig {
            session_minutes: 30,
            ..with_password()
        },
    );
    let answer = login(&app, PASSWORD).await;
    assert_eq!(answer.status, StatusCode::OK);
    let set_cookie = answer.header(header::SET_COOKIE).to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=1800"] {
        assert!(
            set_cookie.split("; ").any(|a| a == attribute),
            "{attribute} missing in {set_cookie}"
        );
    }
    let cookie = answer.session_cookie();
    let token = cookie.trim_start_matches("sao_session=");
    assert_eq!(token.len(), 64, "32 random bytes in hex: {token}");
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(
        login(&app, PASSWORD).await.session_cookie(),
        cookie,
        "each login gets its own token"
    );

    let answer = post(&app, "/api/alarms/7/ack", Some(&cookie)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json(), json!({ "ok": true, "alarm": 7 }));
    let answer = post(&app, "/api/plugins/elephant/restart", Some(&cookie)).await;
    assert_eq!(answer.json(), json!({ "ok": true, "plugin": "elephant" }));
    let answer = post(
        &app,
        "/api/outputs/test",
        Some(&format!("theme=dark; {cookie}")),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["ok"], json!(true));
    assert_eq!(
        answer.json()["results"][1],
        json!({ "output": "relay-1", "ok": false, "error": "no feedback" })
    );
    assert_eq!(
        pole.calls(),
        [
            Call::Acknowledge(7, "technician".into()),
            Call::Restart("elephant".into(), "technician".into()),
            Call::TestOutputs("technician".into()),
        ]
    );

    let answer = post(&app, "/api/logout", Some(&cookie)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.header(header::SET_COOKIE).contains("Max-Age=0"));
    assert_eq!(
        post(&app, "/api/alarms/7/ack", Some(&cookie)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(pole.calls().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn five_wrong_passwords_lock_logins_out_for_a_minute() {
    let app = router(FakePole::new(), &with_password());
    for _ in 0..5 {
        assert_eq!(login(&app, "guess").await.status, StatusCode::UNAUTHORIZED);
    }
    let answer = login(&app, PASSWORD).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(answer.headers.get(header::SET_COOKIE).is_none());
    let retry: u64 = answer.header(header::RETRY_AFTER).parse().unwrap();
    assert!((1..=61).contains(&retry), "Retry-After {retry}");
    assert!(
        answer.error().contains("too many wrong passwords"),
        "{}",
        answer.error()
    );

    tokio::time::advance(Duration::from_secs(30)).await;
    assert_eq!(
        login(&app, PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    tokio::time::advance(Duration::from_secs(31)).await;
    assert_eq!(login(&app, PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn failures_spread_over_more_than_a_minute_do_not_lock_out() {
    let app = router(FakePole::new(), &with_password());
    for _ in 0..4 {
        assert_eq!(login(&app, "guess").await.status, StatusCode::UNAUTHORIZED);
    }
    tokio::time::advance(Duration::from_secs(61)).await;
    assert_eq!(login(&app, "guess").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(login(&app, PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn expired_and_garbage_cookies_are_refused() {
    let pole = FakePole::new();
    let app = router(
        pole.clone(),
        &WebConfig {
            session_minutes: 10,
            ..with_password()
        },
    );
    for garbage in [
        "sao_session=deadbeef",
        "sao_session=",
        "other=1",
        "sao_session",
    ] {
        assert_eq!(
            post(&app, "/api/alarms/7/ack", Some(garbage)).await.status,
            StatusCode::UNAUTHORIZED,
            "{garbage}"
        );
    }
    let cookie = login(&app, PASSWORD).await.session_cookie();
    tokio::time::advance(Duration::from_secs(9 * 60)).await;
    assert_eq!(
        post(&app, "/api/alarms/7/ack", Some(&cookie)).await.status,
        StatusCode::OK
    );
    tokio::time::advance(Duration::from_secs(61)).await;
    let answer = post(&app, "/api/alarms/7/ack", Some(&cookie)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.error(), "log in to do this");
    let state = send(&app, Method::GET, "/api/state", Some(&cookie), None)
        .await
        .json();
    assert_eq!(state["logged-in"], json!(false));
    assert_eq!(pole.calls(), [Call::Acknowledge(7, "technician".into())]);
}

#[tokio::test]
async fn a_refusal_from_the_pole_is_a_conflict_with_its_message() {
    let pole = FakePole::new();
    let app = router(pole.clone(), &with_password());
    let cookie = login(&app, PASSWORD).await.session_cookie();
    *pole.refusal.lock().unwrap() = Some("alarm 9 is not active".into());
    let answer = post(&app, "/api/alarms/9/ack", Some(&cookie)).await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert_eq!(answer.error(), "alarm 9 is not active");
    assert_eq!(
        post(&app, "/api/outputs/test", Some(&cookie)).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        pole.calls(),
        [
            Call::Acknowledge(9, "technician".into()),
            Call::TestOutputs("technician".into())
        ]
    );

    let answer = post(&app, "/api/alarms/nine/ack", Some(&cookie)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.error(), "the alarm id must be a number");
}

#[tokio::test]
async fn every_error_is_json() {
    let app = router(FakePole::new(), &with_password());
    let answer = get(&app, "/nowhere").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.error(), "not found");
    let answer = get(&app, "/api/login").await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.error(), "method not allowed");
    let answer = get(&app, "/api/series/aqi?hours=0").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.error(), "hours must be between 1 and 720");
    let answer = get(&app, "/plot/aqi.svg?hours=soon").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        answer.error().starts_with("bad query"),
        "{}",
        answer.error()
    );
}

#[tokio::test]
async fn series_are_served_for_the_asked_window() {
    let pole = FakePole::new();
    let app = router(pole.clone(), &WebConfig::default());
    let answer = get(&app, "/api/series/aqi?hours=6").await;
    assert_eq!(answer.status, StatusCode::OK);
    let series: Series = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(series.name, "aqi");
    assert_eq!(series.points.len(), 48);
    let now = snapshot().now_ms;
    assert_eq!(
        pole.calls(),
        [Call::Series("aqi".into(), now - 6 * 3_600_000)]
    );
    get(&app, "/api/series/aqi").await;
    assert_eq!(
        pole.calls()[1],
        Call::Series("aqi".into(), now - 24 * 3_600_000)
    );
    let answer = get(&app, "/api/series/rainfall").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.error(), "there is no series `rainfall`");
}

#[tokio::test]
async fn camera_frames_are_jpegs_never_cached() {
    let app = router(FakePole::new(), &WebConfig::default());
    let answer = get(&app, "/camera/forest-edge.jpg").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header(header::CONTENT_TYPE), "image/jpeg");
    assert_eq!(answer.header(header::CACHE_CONTROL), "no-store");
    assert_eq!(answer.body, [0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);
    for uri in [
        "/camera/river.jpg",
        "/camera/forest-edge.png",
        "/camera/forest-edge",
    ] {
        let answer = get(&app, uri).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(answer.error().contains("no frame"), "{}", answer.error());
    }
}

#[tokio::test]
async fn serve_answers_on_a_socket_until_shutdown() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        serve(listener, FakePole::new(), &WebConfig::default(), async {
            stopped.await.ok();
        })
        .await
    });
    let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
    socket
        .write_all(b"GET /api/state HTTP/1.1\r\nHost: pole\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.contains("\"pole\":\"KAR-017\""), "{answer}");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
