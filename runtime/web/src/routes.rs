//! The HTTP routes: the page's files, its JSON API, plots, camera frames, `/metrics`, login
//! and the technician's actions. Every error is `{"error": "..."}` with a fitting status.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::{self, Auth, LoginError};
use crate::config::{Language, WebConfig};
use crate::plot::{self, Plot};
use crate::source::PoleSource;
use crate::view::PoleSnapshot;
use crate::{assets, metrics};

/// Who the page's actions are recorded as.
const BY: &str = "technician";
/// The longest plot or series window, in hours (30 days).
const MAX_HOURS: u64 = 720;
/// Dynamic answers must never come from a cache.
const NO_STORE: (HeaderName, HeaderValue) =
    (header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
/// The page may only load its own files: the box is offline and has nothing to import.
const PAGE_POLICY: &str = "default-src 'self'; img-src 'self'; style-src 'self'; \
     script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

struct AppState {
    source: Arc<dyn PoleSource>,
    auth: Auth,
    language: Language,
    index: String,
    no_data_th: String,
    no_data_en: String,
}

type Shared = State<Arc<AppState>>;

/// Builds the router (see [`crate::router`]).
pub(crate) fn router(source: Arc<dyn PoleSource>, config: &WebConfig) -> Router {
    let hash = config
        .password_hash
        .as_deref()
        .and_then(|phc| match auth::parse_hash(phc) {
            Ok(hash) => Some(hash),
            Err(e) => {
                tracing::warn!("[web] password-hash is not usable ({e}): the page is read-only");
                None
            }
        });
    let no_data = |language| assets::phrase(language, "plot-no-data").unwrap_or_default();
    let state = AppState {
        source,
        auth: Auth::new(hash, config.session_minutes),
        language: config.language,
        index: assets::index_html(config.language),
        no_data_th: no_data(Language::Th),
        no_data_en: no_data(Language::En),
    };
    Router::new()
        .route("/", get(index))
        .route(
            "/app.js",
            get(|| file("text/javascript; charset=utf-8", assets::APP_JS)),
        )
        .route(
            "/style.css",
            get(|| file("text/css; charset=utf-8", assets::STYLE_CSS)),
        )
        .route(
            "/i18n.json",
            get(|| file("application/json", assets::I18N_JSON)),
        )
        .route(
            "/favicon.svg",
            get(|| file("image/svg+xml", assets::FAVICON_SVG)),
        )
        .route("/api/state", get(state_json))
        .route("/api/series/{name}", get(series_json))
        .route("/plot/{file}", get(plot_svg))
        .route("/camera/{file}", get(camera_jpeg))
        .route("/metrics", get(metrics_text))
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/api/alarms/{id}/ack", post(acknowledge))
        .route("/api/plugins/{id}/restart", post(restart_plugin))
        .route("/api/outputs/test", post(test_outputs))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not found") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        })
        .with_state(Arc::new(state))
}

/// A JSON error answer.
struct ApiError {
    status: StatusCode,
    message: String,
    retry_after_s: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after_s: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            [NO_STORE],
            Json(json!({ "error": self.message })),
        )
            .into_response();
        if let Some(seconds) = self.retry_after_s {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

async fn index(State(app): Shared) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(PAGE_POLICY),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        app.index.clone(),
    )
        .into_response()
}

/// A static file; revalidated on each load so an upgraded runtime serves its new page.
async fn file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// `/api/state`: the snapshot and what the visitor may do.
#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct StateAnswer {
    #[serde(flatten)]
    snapshot: PoleSnapshot,
    actions_enabled: bool,
    logged_in: bool,
}

async fn state_json(State(app): Shared, headers: HeaderMap) -> Response {
    let answer = StateAnswer {
        snapshot: app.source.snapshot(),
        actions_enabled: app.auth.actions_enabled(),
        logged_in: app.auth.logged_in(&headers),
    };
    ([NO_STORE], Json(answer)).into_response()
}

/// `?hours=24&lang=th` on series and plots.
#[derive(Deserialize)]
struct Window {
    hours: Option<u64>,
    lang: Option<Language>,
}

impl Window {
    fn parse(query: Result<Query<Window>, QueryRejection>) -> Result<Self, ApiError> {
        let Query(window) = query.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("bad query: {}", e.body_text()),
            )
        })?;
        match window.hours {
            Some(hours) if !(1..=MAX_HOURS).contains(&hours) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("hours must be between 1 and {MAX_HOURS}"),
            )),
            _ => Ok(window),
        }
    }

    fn since_ms(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.hours.unwrap_or(24) * 3_600_000)
    }
}

fn unknown_series(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("there is no series `{name}`"),
    )
}

async fn series_json(
    State(app): Shared,
    Path(name): Path<String>,
    query: Result<Query<Window>, QueryRejection>,
) -> Result<Response, ApiError> {
    let window = Window::parse(query)?;
    let now_ms = app.source.snapshot().now_ms;
    let series = app
        .source
        .series(&name, window.since_ms(now_ms))
        .ok_or_else(|| unknown_series(&name))?;
    Ok(([NO_STORE], Json(series)).into_response())
}

async fn plot_svg(
    State(app): Shared,
    Path(file): Path<String>,
    query: Result<Query<Window>, QueryRejection>,
) -> Result<Response, ApiError> {
    let name = file
        .strip_suffix(".svg")
        .ok_or_else(|| unknown_series(&file))?;
    let window = Window::parse(query)?;
    let snapshot = app.source.snapshot();
    let from_ms = window.since_ms(snapshot.now_ms);
    let series = app
        .source
        .series(name, from_ms)
        .ok_or_else(|| unknown_series(name))?;
    let language = window.lang.unwrap_or(app.language);
    let info = snapshot.series.iter().find(|info| info.name == name);
    let (title, no_data) = match language {
        Language::Th => (info.map(|i| i.title_th.as_str()), &app.no_data_th),
        Language::En => (info.map(|i| i.title_en.as_str()), &app.no_data_en),
    };
    let svg = plot::render_svg(&Plot {
        series: &series,
        title: title.unwrap_or(name),
        from_ms,
        to_ms: snapshot.now_ms,
        utc_offset_minutes: snapshot.identity.utc_offset_minutes,
        no_data,
    })
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("image/svg+xml"),
            ),
            NO_STORE,
        ],
        svg,
    )
        .into_response())
}

async fn camera_jpeg(State(app): Shared, Path(file): Path<String>) -> Result<Response, ApiError> {
    let no_frame = |name: &str| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("there is no frame from camera `{name}`"),
        )
    };
    let name = file
        .strip_suffix(".jpg")
        .ok_or_else(|| no_frame(&file))?
        .to_owned();
    let source = Arc::clone(&app.source);
    let jpeg = tokio::task::spawn_blocking({
        let name = name.clone();
        move || source.camera_jpeg(&name)
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the camera frame failed: {e}"),
        )
    })?
    .ok_or_else(|| no_frame(&name))?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg")),
            NO_STORE,
        ],
        jpeg,
    )
        .into_response())
}

async fn metrics_text(State(app): Shared) -> Result<Response, ApiError> {
    let text = metrics::encode(&app.source.metrics(), &app.source.snapshot()).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode metrics: {e}"),
        )
    })?;
    Ok(([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response())
}

#[derive(Deserialize)]
struct Login {
    password: String,
}

async fn login(
    State(app): Shared,
    body: Result<Json<Login>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(Login { password }) = body.map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            r#"send {"password": "..."} as JSON"#,
        )
    })?;
    match app.auth.login(password).await {
        Ok(token) => Ok((
            [(header::SET_COOKIE, app.auth.session_cookie(&token))],
            Json(json!({ "ok": true })),
        )
            .into_response()),
        Err(LoginError::Disabled) => Err(disabled()),
        Err(LoginError::Wrong) => Err(ApiError::new(StatusCode::UNAUTHORIZED, "wrong password")),
        Err(LoginError::Throttled(wait)) => {
            let seconds = wait.as_secs() + 1;
            Err(ApiError {
                retry_after_s: Some(seconds),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("too many wrong passwords: try again in {seconds} s"),
                )
            })
        }
        Err(LoginError::Internal(e)) => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e)),
    }
}

async fn logout(State(app): Shared, headers: HeaderMap) -> Response {
    app.auth.logout(&headers);
    (
        [(header::SET_COOKIE, auth::cleared_cookie())],
        Json(json!({ "ok": true })),
    )
        .into_response()
}

fn disabled() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "actions are disabled: no password is set in [web]",
    )
}

/// Refuses an action unless a password is set and the request carries a live session.
fn require_session(app: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    if !app.auth.actions_enabled() {
        return Err(disabled());
    }
    if !app.auth.logged_in(headers) {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "log in to do this"));
    }
    Ok(())
}

/// A refusal from the source: the pole's state does not allow the action.
fn refused(message: String) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, message)
}

async fn acknowledge(
    State(app): Shared,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    require_session(&app, &headers)?;
    let Path(id) =
        id.map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "the alarm id must be a number"))?;
    app.source.acknowledge(id, BY).map_err(refused)?;
    Ok(Json(json!({ "ok": true, "alarm": id })))
}

async fn restart_plugin(
    State(app): Shared,
    headers: HeaderMap,
    Path(plugin): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    require_session(&app, &headers)?;
    app.source.restart_plugin(&plugin, BY).map_err(refused)?;
    Ok(Json(json!({ "ok": true, "plugin": plugin })))
}

async fn test_outputs(
    State(app): Shared,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    require_session(&app, &headers)?;
    let results = app.source.test_outputs(BY).map_err(refused)?;
    Ok(Json(json!({ "ok": true, "results": results })))
}
