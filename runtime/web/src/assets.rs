//! The page's static files, compiled into the binary: the box serves them offline.

use crate::config::Language;

/// The page; `{{lang}}` stands for the configured language.
const INDEX_HTML: &str = include_str!("../assets/index.html");
/// The page's script.
pub(crate) const APP_JS: &str = include_str!("../assets/app.js");
/// The page's style sheet.
pub(crate) const STYLE_CSS: &str = include_str!("../assets/style.css");
/// The page's icon.
pub(crate) const FAVICON_SVG: &str = include_str!("../assets/favicon.svg");
/// Every string the page shows, `{"th": {key: text}, "en": {key: text}}`.
pub(crate) const I18N_JSON: &str = include_str!("../assets/i18n.json");

/// The page, opening in `language` until the technician picks another.
pub(crate) fn index_html(language: Language) -> String {
    INDEX_HTML.replace("{{lang}}", language.code())
}

/// The text of `key` in `language` from `i18n.json`.
pub(crate) fn phrase(language: Language, key: &str) -> Option<String> {
    let dictionary: serde_json::Value = serde_json::from_str(I18N_JSON).ok()?;
    dictionary
        .get(language.code())?
        .get(key)?
        .as_str()
        .map(str::to_owned)
}
