//! Plugins: package format and signatures, manifest, capabilities, install (verify →
//! link → compile through the cache), instances and their supervised lifecycle.

pub mod capability;
pub mod instance;
pub mod manifest;
pub mod package;
pub mod signing;
pub mod supervisor;

pub use capability::{Capability, CapabilityError};
pub use manifest::Manifest;
pub use package::{Package, PackageError, VerifiedPackage};
pub use signing::TrustStore;
pub use supervisor::{PluginHealth, RestartPolicy, Supervisor};

use wasmtime::Engine;

use crate::engine::{CacheOutcome, ComponentCache};
use crate::host::{self, PluginPre, PluginState};

/// Why a package could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The package is malformed, unsigned, tampered or untrusted.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// Capabilities do not match.
    #[error(transparent)]
    Capability(#[from] CapabilityError),
    /// The component does not compile or link.
    #[error("plugin `{plugin}` cannot be loaded: {message}")]
    Load {
        /// Plugin id.
        plugin: String,
        /// What failed.
        message: String,
    },
}

/// A package that passed every install check and is ready to instantiate.
pub struct Prepared {
    /// The manifest.
    pub manifest: Manifest,
    /// The component, linked against exactly its granted capabilities.
    pub pre: PluginPre<PluginState>,
    /// Validator for the package's config schema.
    pub validator: jsonschema::Validator,
    /// Key that signed the package.
    pub key_id: String,
    /// Whether the compiled component came from the cache.
    pub cache: CacheOutcome,
    /// The ONNX file of the model a vision plugin's subscription names.
    pub vision_model: Option<Vec<u8>>,
}

/// Verifies, links and compiles a package.
///
/// Order matters: the signature is checked before anything in the package is parsed
/// further or compiled; capabilities are checked before instantiation.
pub fn prepare(
    engine: &Engine,
    cache: &ComponentCache,
    trust: &TrustStore,
    bytes: &[u8],
    granted: &[Capability],
) -> Result<Prepared, InstallError> {
    let verified = Package::read_verified(bytes, trust)?;
    let package = verified.package();
    let manifest = package.manifest().clone();
    let load_err = |message: String| InstallError::Load {
        plugin: manifest.id.clone(),
        message,
    };
    let schema = package.config_schema()?;
    let validator =
        jsonschema::validator_for(&schema).map_err(|e| load_err(format!("config schema: {e}")))?;
    let (component, outcome) = cache
        .load(engine, package.component())
        .map_err(|e| load_err(format!("{e:#}")))?;
    let imports: Vec<String> = component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let linked = capability::resolve(&manifest.id, &manifest.capabilities, granted, imports)?;
    let linker = host::linker(engine, &linked).map_err(|e| load_err(format!("{e:#}")))?;
    let instance_pre = linker
        .instantiate_pre(&component)
        .map_err(|e| load_err(format!("{e:#}")))?;
    let pre = PluginPre::new(instance_pre).map_err(|e| load_err(format!("{e:#}")))?;
    for (declared, world, handler) in [
        (manifest.is_vision(), "vision", "on-detections"),
        (manifest.takes_messages(), "message", "on-message"),
    ] {
        if declared && component.get_export_index(None, handler).is_none() {
            return Err(load_err(format!(
                "the component targets the {world} world but exports no `{handler}`"
            )));
        }
    }
    let vision_model = manifest
        .vision_model()
        .map(|model| package.model(model).map(<[u8]>::to_vec))
        .transpose()?;
    Ok(Prepared {
        vision_model,
        manifest,
        pre,
        validator,
        key_id: verified.key_id().to_string(),
        cache: outcome,
    })
}
