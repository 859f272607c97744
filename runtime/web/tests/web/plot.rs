//! `/plot/{name}.svg`.

use axum::http::{header, StatusCode};
use sao_web::*;

use crate::fake::*;

/// The contents of the SVG's `<text>` elements.
fn texts(svg: &str) -> Vec<&str> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| Some(t.split_once('>')?.1.split_once("</text>")?.0.trim()))
        .collect()
}

#[tokio::test]
async fn a_series_with_points_is_drawn_as_a_line() {
    let app = router(FakePole::new(), &WebConfig::default());
    let answer = get(&app, "/plot/aqi.svg?hours=24").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.header(header::CONTENT_TYPE), "image/svg+xml");
    let svg = answer.text();
    assert!(svg.starts_with("<svg"), "{svg}");
    assert!(
        svg.contains("<polyline") || svg.contains("<path"),
        "no line in {svg}"
    );
    assert!(
        svg.contains("ดัชนีคุณภาพอากาศ"),
        "the Thai title by default: {svg}"
    );
    assert!(!svg.contains("ไม่มีข้อมูล"), "{svg}");
    // Pole local time (UTC+7): the window ends at 2024-05-29 23:26:40 local; labels every 4 h.
    let texts = texts(&svg);
    for label in ["00:00", "04:00", "20:00"] {
        assert!(texts.contains(&label), "no {label} in {texts:?}");
    }

    let svg = get(&app, "/plot/aqi.svg?hours=24&lang=en").await.text();
    assert!(svg.contains("Air quality index"), "{svg}");
}

#[tokio::test]
async fn an_empty_series_says_there_is_no_data() {
    let app = router(
        FakePole::new(),
        &WebConfig {
            language: Language::En,
            ..WebConfig::default()
        },
    );
    let answer = get(&app, "/plot/lamp-1.level.svg").await;
    assert_eq!(answer.status, StatusCode::OK);
    let svg = answer.text();
    assert!(svg.contains("no data"), "{svg}");
    assert!(svg.contains("Lamp 1 level"), "{svg}");
    let svg = get(&app, "/plot/lamp-1.level.svg?lang=th").await.text();
    assert!(svg.contains("ไม่มีข้อมูล"), "{svg}");
}

#[tokio::test]
async fn an_unknown_series_is_not_found() {
    let app = router(FakePole::new(), &WebConfig::default());
    for uri in ["/plot/rainfall.svg", "/plot/aqi.png", "/plot/aqi"] {
        let answer = get(&app, uri).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(
            answer.error().starts_with("there is no series"),
            "{}",
            answer.error()
        );
    }
}
