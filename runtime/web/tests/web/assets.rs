//! The page's files: served with the right types, every string translated.

use std::collections::{BTreeMap, BTreeSet};

use axum::http::{header, StatusCode};
use sao_web::*;

use crate::fake::*;

const INDEX_HTML: &str = include_str!("../../assets/index.html");
const APP_JS: &str = include_str!("../../assets/app.js");
const I18N_JSON: &str = include_str!("../../assets/i18n.json");

/// Keys the server itself looks up (plot captions), not the page.
const SERVER_KEYS: [&str; 1] = ["plot-no-data"];

type Dictionaries = BTreeMap<String, BTreeMap<String, String>>;

fn dictionaries() -> Dictionaries {
    serde_json::from_str(I18N_JSON).expect("i18n.json is {language: {key: text}}")
}

/// Every `key` in `prefix"key"` in `text` where `prefix` starts a word (`t("` but not
/// `split("`).
fn quoted_after<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.match_indices(prefix)
        .filter(|(at, _)| {
            let before = text[..*at].chars().next_back();
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.')
        })
        .map(|(at, _)| {
            let rest = &text[at + prefix.len()..];
            let end = rest.find('"').expect("closing quote");
            &rest[..end]
        })
        .collect()
}

/// The i18n keys the page uses: its `data-i18n` attributes in either file and the literal
/// keys of the script's `t()` calls.
fn used_keys() -> BTreeSet<&'static str> {
    let mut keys: BTreeSet<&str> = quoted_after(INDEX_HTML, "data-i18n=\"")
        .into_iter()
        .collect();
    keys.extend(quoted_after(APP_JS, "data-i18n=\""));
    keys.extend(quoted_after(APP_JS, "t(\""));
    keys
}

#[test]
fn thai_and_english_have_the_same_keys_and_no_empty_text() {
    let dictionaries = dictionaries();
    assert_eq!(dictionaries.keys().collect::<Vec<_>>(), ["en", "th"]);
    let th: BTreeSet<_> = dictionaries["th"].keys().collect();
    let en: BTreeSet<_> = dictionaries["en"].keys().collect();
    assert_eq!(
        th.symmetric_difference(&en).collect::<Vec<_>>(),
        Vec::<&&String>::new()
    );
    for (language, dictionary) in &dictionaries {
        for (key, text) in dictionary {
            assert!(!text.trim().is_empty(), "{language}.{key} is empty");
        }
    }
}

#[test]
fn the_thai_dictionary_is_thai() {
    let th = &dictionaries()["th"];
    assert_eq!(th["health-green"], "ปกติ");
    assert_eq!(th["health-amber"], "เฝ้าระวัง");
    assert_eq!(th["health-red"], "ขัดข้อง");
    assert_eq!(th["alarms-title"], "สัญญาณเตือนที่กำลังทำงาน");
    assert_eq!(th["ack"], "รับทราบ");
    assert_eq!(th["readings-title"], "ค่าที่วัดได้ล่าสุด");
    let thai = |text: &str| text.chars().any(|c| ('\u{0e00}'..='\u{0e7f}').contains(&c));
    let not_thai: Vec<_> = th
        .iter()
        .filter(|(key, text)| !thai(text) && *key != "lang-switch")
        .collect();
    assert!(not_thai.is_empty(), "untranslated: {not_thai:?}");
}

#[test]
fn every_key_the_page_uses_is_translated_and_every_translation_is_used() {
    let dictionaries = dictionaries();
    let used = used_keys();
    assert!(used.len() > 100, "the scan found only {} keys", used.len());
    let missing: Vec<_> = used
        .iter()
        .filter(|key| !dictionaries["en"].contains_key(**key))
        .collect();
    assert!(missing.is_empty(), "missing from i18n.json: {missing:?}");
    let unused: Vec<_> = dictionaries["en"]
        .keys()
        .filter(|key| !used.contains(key.as_str()) && !SERVER_KEYS.contains(&key.as_str()))
        .collect();
    assert!(unused.is_empty(), "never used: {unused:?}");
}

#[test]
fn the_page_has_the_hooks_browser_tests_rely_on() {
    for id in [
        "health-status",
        "login-password",
        "login-submit",
        "logout",
        "action-result",
        "lang-toggle",
        "test-outputs",
    ] {
        assert!(
            INDEX_HTML.contains(&format!("id=\"{id}\"")),
            "index.html lacks id={id}"
        );
    }
    assert!(INDEX_HTML.contains("data-status=\"green\""));
    for prefix in [
        "\"reading-\"",
        "\"alarm-\"",
        "\"ack-\"",
        "\"restart-\"",
        "\"plot-\"",
        "\"camera-\"",
        "\"finding-\"",
    ] {
        assert!(
            APP_JS.contains(&format!("\"data-testid\", {prefix}"))
                || APP_JS.contains(&format!("\"data-testid\": {prefix}")),
            "app.js sets no {prefix} test id"
        );
    }
    assert!(APP_JS.contains("\"data-testid\": \"lamp-\" + l.id + \"-level\""));
    assert!(
        !INDEX_HTML.contains("http://") && !INDEX_HTML.contains("https://"),
        "the box is offline: no CDN"
    );
}

#[tokio::test]
async fn the_page_opens_in_the_configured_language() {
    let app = router(FakePole::new(), &WebConfig::default());
    let answer = get(&app, "/").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.header(header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert!(answer
        .header(header::CONTENT_SECURITY_POLICY)
        .contains("default-src 'self'"));
    assert!(answer
        .text()
        .contains(r#"<html lang="th" data-default-lang="th">"#));

    let app = router(
        FakePole::new(),
        &WebConfig {
            language: Language::En,
            ..WebConfig::default()
        },
    );
    assert!(get(&app, "/")
        .await
        .text()
        .contains(r#"<html lang="en" data-default-lang="en">"#));
}

#[tokio::test]
async fn the_static_files_are_served_with_their_types() {
    let app = router(FakePole::new(), &WebConfig::default());
    for (uri, content_type, body) in [
        ("/app.js", "text/javascript; charset=utf-8", APP_JS),
        (
            "/style.css",
            "text/css; charset=utf-8",
            include_str!("../../assets/style.css"),
        ),
        ("/i18n.json", "application/json", I18N_JSON),
        (
            "/favicon.svg",
            "image/svg+xml",
            include_str!("../../assets/favicon.svg"),
        ),
    ] {
        let answer = get(&app, uri).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}");
        assert_eq!(answer.header(header::CONTENT_TYPE), content_type, "{uri}");
        assert_eq!(answer.text(), body, "{uri}");
    }
}
