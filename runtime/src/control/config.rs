//! The `[control]` section of `pole.toml`: who may reconfigure the pole and which fleet
//! groups it belongs to.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::plugin::manifest::is_name;

/// Remote-control settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ControlConfig {
    /// Accept only control documents signed by a trusted operator key. On by default:
    /// without it, anyone who can publish to the broker can reconfigure the pole.
    #[serde(default = "ControlConfig::default_require_signature")]
    pub require_signature: bool,
    /// Directory of trusted operator public keys (`*.pub`).
    #[serde(default = "ControlConfig::default_operator_keys_dir")]
    pub operator_keys_dir: PathBuf,
    /// Fleet groups the pole belongs to (district, profile such as `bus-stop`, …), from
    /// least to most specific. The site-wide group `all` is implicit and comes first.
    #[serde(default)]
    pub groups: Vec<String>,
    /// A package download that has not completed after this long fails (and stops
    /// blocking the plugin's later deployments), in seconds.
    #[serde(default = "ControlConfig::default_download_timeout_s")]
    pub download_timeout_s: u64,
}

/// The implicit site-wide group.
pub const SITE_GROUP: &str = "all";

impl ControlConfig {
    fn default_require_signature() -> bool {
        true
    }
    fn default_operator_keys_dir() -> PathBuf {
        PathBuf::from("/etc/sao/operator-keys")
    }
    fn default_download_timeout_s() -> u64 {
        600
    }

    /// Checks the group names can be topic segments.
    pub fn validate(&self) -> Result<(), String> {
        for group in &self.groups {
            if !is_name(group) {
                return Err(format!(
                    "control.groups: `{group}` must be 1-64 characters of a-z, 0-9 and '-'"
                ));
            }
            if group == SITE_GROUP {
                return Err(format!(
                    "control.groups: `{SITE_GROUP}` is the implicit site-wide group; do not list it"
                ));
            }
        }
        Ok(())
    }

    /// Makes the keys directory relative to `base` if it is relative.
    pub fn resolve_paths(&mut self, base: &Path) {
        if self.operator_keys_dir.is_relative() {
            self.operator_keys_dir = base.join(&self.operator_keys_dir);
        }
    }
}

impl Default for ControlConfig {
    fn default() -> Self {
        Self {
            require_signature: Self::default_require_signature(),
            operator_keys_dir: Self::default_operator_keys_dir(),
            groups: Vec::new(),
            download_timeout_s: Self::default_download_timeout_s(),
        }
    }
}
