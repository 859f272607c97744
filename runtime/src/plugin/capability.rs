//! Capabilities: the WIT interfaces a plugin may be granted, and the install-time check
//! that a component imports nothing it was not granted.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One host interface of the `sao:plugin` package, granted as a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// `sao:plugin/log`
    Log,
    /// `sao:plugin/clock`
    Clock,
    /// `sao:plugin/kv`
    Kv,
    /// `sao:plugin/telemetry`
    Telemetry,
    /// `sao:plugin/lighting`
    Lighting,
    /// `sao:plugin/alarm`
    Alarm,
    /// `sao:plugin/sensors`
    Sensors,
    /// `sao:plugin/vision` (since 0.1.1)
    Vision,
    /// `sao:plugin/display` (since 0.1.1)
    Display,
}

impl Capability {
    /// Every capability, in declaration order.
    pub const ALL: [Capability; 9] = [
        Capability::Log,
        Capability::Clock,
        Capability::Kv,
        Capability::Telemetry,
        Capability::Lighting,
        Capability::Alarm,
        Capability::Sensors,
        Capability::Vision,
        Capability::Display,
    ];

    /// The WIT interface name (`kv`, `lighting`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Capability::Log => "log",
            Capability::Clock => "clock",
            Capability::Kv => "kv",
            Capability::Telemetry => "telemetry",
            Capability::Lighting => "lighting",
            Capability::Alarm => "alarm",
            Capability::Sensors => "sensors",
            Capability::Vision => "vision",
            Capability::Display => "display",
        }
    }

    fn from_interface(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl std::str::FromStr for Capability {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        Self::from_interface(name).ok_or_else(|| {
            let all: Vec<&str> = Self::ALL.iter().map(|c| c.name()).collect();
            format!("unknown capability `{name}` (one of {})", all.join(", "))
        })
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a plugin may not be linked.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CapabilityError {
    /// The manifest asks for something the pole does not grant.
    #[error("plugin `{plugin}` requests capability `{capability}`, which this pole does not grant to it")]
    NotGranted {
        /// Plugin id.
        plugin: String,
        /// The ungranted capability.
        capability: Capability,
    },
    /// The component imports an interface its manifest does not declare.
    #[error("plugin `{plugin}` component imports `{import}` but its manifest does not request capability `{capability}`")]
    Undeclared {
        /// Plugin id.
        plugin: String,
        /// Full import name.
        import: String,
        /// The capability behind that import.
        capability: Capability,
    },
    /// The component imports something the host does not provide at all.
    #[error("plugin `{plugin}` component imports `{import}`, which this host does not provide")]
    Unknown {
        /// Plugin id.
        plugin: String,
        /// Full import name.
        import: String,
    },
}

/// Decides which capabilities a plugin is linked with.
///
/// Every requested capability must be granted; every `sao:plugin` interface the component
/// imports must be requested; WASI imports are allowed (they are served by an empty,
/// sandboxed WASI context); anything else is refused.
pub fn resolve(
    plugin: &str,
    requested: &[Capability],
    granted: &[Capability],
    component_imports: impl IntoIterator<Item = String>,
) -> Result<BTreeSet<Capability>, CapabilityError> {
    if let Some(&capability) = requested.iter().find(|c| !granted.contains(c)) {
        return Err(CapabilityError::NotGranted {
            plugin: plugin.to_string(),
            capability,
        });
    }
    for import in component_imports {
        if import.starts_with("wasi:") {
            continue;
        }
        let interface = import
            .strip_prefix("sao:plugin/")
            .map(|rest| rest.split('@').next().unwrap_or(rest));
        match interface {
            Some("types") => {}
            Some(name) => match Capability::from_interface(name) {
                Some(capability) if requested.contains(&capability) => {}
                Some(capability) => {
                    return Err(CapabilityError::Undeclared {
                        plugin: plugin.to_string(),
                        import,
                        capability,
                    })
                }
                None => {
                    return Err(CapabilityError::Unknown {
                        plugin: plugin.to_string(),
                        import,
                    })
                }
            },
            None => {
                return Err(CapabilityError::Unknown {
                    plugin: plugin.to_string(),
                    import,
                })
            }
        }
    }
    Ok(requested.iter().copied().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Capability::*;

    fn imports(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn grants_what_is_requested_and_granted() {
        let linked = resolve(
            "p",
            &[Log, Kv],
            &[Log, Kv, Alarm],
            imports(&["sao:plugin/log@0.1.0", "wasi:io/streams@0.2.0"]),
        )
        .unwrap();
        assert_eq!(linked.into_iter().collect::<Vec<_>>(), vec![Log, Kv]);
    }

    #[test]
    fn names_the_ungranted_capability() {
        let e = resolve("p", &[Log, Alarm], &[Log], imports(&[])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "plugin `p` requests capability `alarm`, which this pole does not grant to it"
        );
    }

    #[test]
    fn refuses_undeclared_and_unknown_imports() {
        let e = resolve("p", &[Log], &[Log], imports(&["sao:plugin/alarm@0.1.0"])).unwrap_err();
        assert!(matches!(
            e,
            CapabilityError::Undeclared {
                capability: Alarm,
                ..
            }
        ));
        let e = resolve("p", &[], &[], imports(&["evil:net/raw"])).unwrap_err();
        assert!(matches!(e, CapabilityError::Unknown { .. }));
    }
}
