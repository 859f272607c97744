//! The plugin manifest, `plugin.toml`: who the plugin is, what it needs, what it listens to.

use sao_vision::model::ModelSpec;
use serde::{Deserialize, Serialize};

use super::capability::Capability;

/// The plain plugin world, in every version this host runs (0.1.0 components load on a
/// 0.1.1 host: interfaces only gained items).
pub const PLUGIN_WORLDS: [&str; 2] = ["sao:plugin/plugin@0.1.0", "sao:plugin/plugin@0.1.1"];

/// The world of plugins that analyse camera detections (`on-detections`).
pub const VISION_WORLD: &str = "sao:plugin/vision-plugin@0.1.1";

/// The world of plugins that take messages pushed over MQTT (`on-message`).
pub const MESSAGE_WORLD: &str = "sao:plugin/message-plugin@0.1.1";

/// A parsed and checked `plugin.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Manifest {
    /// Plugin id, unique on a pole: lowercase letters, digits and `-`.
    pub id: String,
    /// Semantic version of the plugin.
    pub version: String,
    /// Who ships the plugin.
    pub vendor: String,
    /// One-line description for operators.
    #[serde(default)]
    pub description: String,
    /// WIT world the component targets, e.g. `sao:plugin/plugin@0.1.0`.
    pub world: String,
    /// Path of the component inside the package.
    pub component: String,
    /// Path of the config JSON Schema inside the package.
    pub config_schema: String,
    /// Capabilities (WIT interfaces) the plugin asks for.
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    /// Dataset name stamped on the plugin's upstream records.
    pub dataset: String,
    /// Smart-city dimension the plugin's data serves (`energy`, `environment`, ...).
    pub dimension: String,
    /// What the plugin is sent.
    #[serde(default)]
    pub subscriptions: Subscriptions,
    /// Resource limits the plugin runs under.
    #[serde(default)]
    pub limits: Limits,
    /// Models shipped in the package (used by the vision capability): the ONNX file and
    /// how to feed it and read its output.
    #[serde(default)]
    pub models: Vec<ModelSpec>,
}

impl Manifest {
    /// Whether the plugin targets the vision world (exports `on-detections`).
    pub fn is_vision(&self) -> bool {
        self.world == VISION_WORLD
    }

    /// Whether the plugin targets the message world (exports `on-message`).
    pub fn takes_messages(&self) -> bool {
        self.world == MESSAGE_WORLD
    }

    /// The model its vision subscription names.
    pub fn vision_model(&self) -> Option<&ModelSpec> {
        let subscription = self.subscriptions.vision.as_ref()?;
        self.models.iter().find(|m| m.name == subscription.model)
    }
}

/// Events a plugin subscribes to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Subscriptions {
    /// Sensor names whose readings are delivered to `on-reading`.
    #[serde(default)]
    pub readings: Vec<String>,
    /// Period of `on-tick` calls in milliseconds; none means no ticks.
    pub tick_interval_ms: Option<u64>,
    /// Camera detections delivered to `on-detections` (vision plugins).
    pub vision: Option<VisionSubscription>,
    /// Names of the messages delivered to `on-message` (message plugins): what arrives
    /// on `…/msg/{plugin}/{name}`.
    #[serde(default)]
    pub messages: Vec<String>,
}

/// Which cameras, model and labels a vision plugin receives detections from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct VisionSubscription {
    /// Name of the model (in `[[models]]`) the host runs on these cameras.
    pub model: String,
    /// Camera names as the pole config names them; `*` is every camera.
    pub cameras: Vec<String>,
    /// Labels delivered; empty is every label.
    #[serde(default)]
    pub labels: Vec<String>,
}

impl VisionSubscription {
    /// Whether detections of `camera` go to the plugin.
    pub fn wants_camera(&self, camera: &str) -> bool {
        self.cameras.iter().any(|c| c == "*" || c == camera)
    }

    /// Whether objects labelled `label` go to the plugin.
    pub fn wants_label(&self, label: &str) -> bool {
        self.labels.is_empty() || self.labels.iter().any(|l| l == label)
    }
}

/// Per-plugin sandbox limits, as the vendor declares them in the manifest.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Limits {
    /// Linear-memory cap in MiB.
    #[serde(default = "Limits::default_memory_mib")]
    pub memory_mib: u32,
    /// Wall-clock CPU budget of one handler call, in milliseconds.
    #[serde(default = "Limits::default_call_deadline_ms")]
    pub call_deadline_ms: u32,
}

impl Limits {
    fn default_memory_mib() -> u32 {
        32
    }
    fn default_call_deadline_ms() -> u32 {
        200
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_mib: Self::default_memory_mib(),
            call_deadline_ms: Self::default_call_deadline_ms(),
        }
    }
}

/// Why a manifest is unacceptable.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// TOML syntax or schema error.
    #[error("plugin.toml is invalid: {0}")]
    Parse(#[from] toml::de::Error),
    /// A field has a value the host refuses.
    #[error("plugin.toml field `{field}` is invalid: {reason}")]
    Field {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl Manifest {
    /// Parses and checks a manifest.
    pub fn parse(text: &str) -> Result<Self, ManifestError> {
        let manifest: Manifest = toml::from_str(text)?;
        manifest.check()?;
        Ok(manifest)
    }

    fn check(&self) -> Result<(), ManifestError> {
        let bad = |field, reason: &str| {
            Err(ManifestError::Field {
                field,
                reason: reason.to_string(),
            })
        };
        if !is_name(&self.id) {
            return bad("id", "must be 1-64 characters of a-z, 0-9 and '-'");
        }
        if self.id == HOST_ID {
            return bad(
                "id",
                "`sao` is the host's own id (its records and its config)",
            );
        }
        if self.version.is_empty() || self.version.len() > 64 {
            return bad("version", "must be 1-64 characters");
        }
        if !PLUGIN_WORLDS.contains(&self.world.as_str())
            && !self.is_vision()
            && !self.takes_messages()
        {
            return Err(ManifestError::Field {
                field: "world",
                reason: format!(
                    "`{}` is not supported by this host (supports {}, {VISION_WORLD}, \
                     {MESSAGE_WORLD})",
                    self.world,
                    PLUGIN_WORLDS.join(", ")
                ),
            });
        }
        self.check_vision()?;
        self.check_messages()?;
        if !is_name(&self.dataset) {
            return bad("dataset", "must be 1-64 characters of a-z, 0-9 and '-'");
        }
        if !is_name(&self.dimension) {
            return bad("dimension", "must be 1-64 characters of a-z, 0-9 and '-'");
        }
        if self.limits.memory_mib == 0 || self.limits.call_deadline_ms == 0 {
            return bad("limits", "memory and deadline must be positive");
        }
        if self.subscriptions.tick_interval_ms == Some(0) {
            return bad("subscriptions.tick-interval-ms", "must be positive");
        }
        Ok(())
    }
}

impl Manifest {
    /// A vision plugin needs the `vision` capability, a vision subscription, and the
    /// model it names, declared validly; other plugins need none of them.
    fn check_vision(&self) -> Result<(), ManifestError> {
        let field = |field, reason: String| Err(ManifestError::Field { field, reason });
        let wants = self.capabilities.contains(&Capability::Vision);
        match (self.is_vision(), wants, &self.subscriptions.vision) {
            (false, false, None) => {}
            (true, true, Some(subscription)) => {
                let Some(model) = self.vision_model() else {
                    return field(
                        "subscriptions.vision.model",
                        format!("no model `{}` in [[models]]", subscription.model),
                    );
                };
                if let Err(e) = model.validate() {
                    return field("models", e.to_string());
                }
                if subscription.cameras.is_empty() {
                    return field(
                        "subscriptions.vision.cameras",
                        "name at least one camera, or `*`".into(),
                    );
                }
            }
            _ => {
                return field(
                    "world",
                    format!(
                        "a plugin receiving detections targets `{VISION_WORLD}`, requests \
                         the `vision` capability and has [subscriptions.vision]; this one \
                         has only some of these"
                    ),
                )
            }
        }
        Ok(())
    }
}

impl Manifest {
    /// A message plugin names the messages it takes, each a topic segment; other plugins
    /// name none.
    fn check_messages(&self) -> Result<(), ManifestError> {
        let field = |reason: String| {
            Err(ManifestError::Field {
                field: "subscriptions.messages",
                reason,
            })
        };
        let names = &self.subscriptions.messages;
        match (self.takes_messages(), names.is_empty()) {
            (true, true) => field(format!(
                "a plugin targeting `{MESSAGE_WORLD}` names the messages it takes"
            )),
            (false, false) => field(format!(
                "only a plugin targeting `{MESSAGE_WORLD}` (exporting `on-message`) takes messages"
            )),
            _ => match names.iter().find(|n| !is_name(n)) {
                Some(bad) => field(format!(
                    "`{bad}` is not 1-64 characters of a-z, 0-9 and '-'"
                )),
                None => Ok(()),
            },
        }
    }
}

/// The host's own id: it publishes as plugin `sao`, and operators configure the runtime
/// through `cfg/sao/desired`.
pub const HOST_ID: &str = "sao";

/// True for identifiers used in ids, stream names and topic segments: `[a-z0-9-]{1,64}`.
pub fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "dimming"
version = "0.1.0"
vendor = "sao"
world = "sao:plugin/plugin@0.1.0"
component = "dimming.wasm"
config-schema = "config.schema.json"
capabilities = ["log", "lighting"]
dataset = "street-lighting"
dimension = "energy"
[subscriptions]
readings = ["lux"]
tick-interval-ms = 60000
"#;

    #[test]
    fn parses_a_good_manifest() {
        let m = Manifest::parse(GOOD).unwrap();
        assert_eq!(m.capabilities, vec![Capability::Log, Capability::Lighting]);
        assert_eq!(m.limits, Limits::default());
    }

    #[test]
    fn rejects_unknown_capability_and_bad_world() {
        let e = Manifest::parse(&GOOD.replace("\"lighting\"", "\"teleport\"")).unwrap_err();
        assert!(e.to_string().contains("teleport"), "{e}");
        let e = Manifest::parse(&GOOD.replace("@0.1.0\"", "@9.0.0\"")).unwrap_err();
        assert!(e.to_string().contains("not supported"), "{e}");
        Manifest::parse(&GOOD.replace("@0.1.0\"", "@0.1.1\"")).unwrap();
        let e = Manifest::parse(&GOOD.replace("\"dimming\"", "\"Dim Ming\"")).unwrap_err();
        assert!(e.to_string().contains("`id`"), "{e}");
    }

    #[test]
    fn a_message_plugin_names_its_messages_and_only_it_does() {
        let messaging = GOOD
            .replace("plugin/plugin@0.1.0", "plugin/message-plugin@0.1.1")
            .replace("readings = [\"lux\"]", "messages = [\"arrivals\"]");
        let m = Manifest::parse(&messaging).unwrap();
        assert!(m.takes_messages());
        assert_eq!(m.subscriptions.messages, ["arrivals"]);
        let e = Manifest::parse(&messaging.replace("[\"arrivals\"]", "[]")).unwrap_err();
        assert!(e.to_string().contains("names the messages it takes"), "{e}");
        let e = Manifest::parse(&messaging.replace("arrivals", "Bus Times")).unwrap_err();
        assert!(e.to_string().contains("`Bus Times` is not"), "{e}");
        let plain = GOOD.replace("readings = [\"lux\"]", "messages = [\"arrivals\"]");
        let e = Manifest::parse(&plain).unwrap_err();
        assert!(e.to_string().contains("only a plugin targeting"), "{e}");
    }

    const VISION: &str = r#"
id = "counter"
version = "0.1.0"
vendor = "sao"
world = "sao:plugin/vision-plugin@0.1.1"
component = "counter.wasm"
config-schema = "config.schema.json"
capabilities = ["log", "vision"]
dataset = "traffic"
dimension = "mobility"
[[models]]
name = "detector"
path = "models/yolox_nano.onnx"
input = [416, 416]
head = "yolox"
[subscriptions.vision]
model = "detector"
cameras = ["*"]
labels = ["car", "bus"]
"#;

    #[test]
    fn parses_a_vision_manifest() {
        let m = Manifest::parse(VISION).unwrap();
        assert!(m.is_vision());
        assert_eq!(m.vision_model().unwrap().input, [416, 416]);
        let sub = m.subscriptions.vision.unwrap();
        assert!(sub.wants_camera("gate") && sub.wants_label("car") && !sub.wants_label("person"));
    }

    #[test]
    fn refuses_half_declared_vision() {
        let e = Manifest::parse(&VISION.replace(r#"model = "detector""#, r#"model = "other""#))
            .unwrap_err();
        assert!(e.to_string().contains("no model `other`"), "{e}");
        let e = Manifest::parse(&VISION.replace(r#", "vision""#, "")).unwrap_err();
        assert!(e.to_string().contains("vision-plugin"), "{e}");
        let e = Manifest::parse(&VISION.replace("[416, 416]", "[416, 400]")).unwrap_err();
        assert!(e.to_string().contains("multiples of 32"), "{e}");
        let e = Manifest::parse(&VISION.replace(r#"cameras = ["*"]"#, "cameras = []")).unwrap_err();
        assert!(e.to_string().contains("at least one camera"), "{e}");
    }
}
