//! HTTP(S) package downloads, run on a blocking thread (ureq, rustls with the webpki
//! roots): the whole body, capped at the largest package the host reads.

use std::time::Duration;

use crate::plugin::package::MAX_PACKAGE_BYTES;

/// Downloads `url`, giving up after `timeout`.
pub fn fetch(url: &str, timeout: Duration) -> Result<Vec<u8>, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .build()
        .into();
    let failed = |e: ureq::Error| format!("download from {url} failed: {e}");
    let mut response = agent.get(url).call().map_err(failed)?;
    response
        .body_mut()
        .with_config()
        .limit(MAX_PACKAGE_BYTES)
        .read_to_vec()
        .map_err(failed)
}

/// Whether `url` is one the pole can download from.
pub fn check_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    match parsed.scheme() {
        "http" | "https" => Ok(()),
        other => Err(format!("`{url}`: scheme `{other}` is not http or https")),
    }
}
