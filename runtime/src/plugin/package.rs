//! The `.sao` package: a tar archive holding `plugin.toml`, the component, its config
//! schema, optional model files and `signature.json`, a detached ed25519 signature over
//! the package digest.
//!
//! The digest covers every file except the signature: it is the SHA-256 of the text
//! `sao-package-v1\n` followed by one `sha256sum`-style line (`<hex>  <path>\n`) per file
//! in path order. Flipping any byte of any file, or adding, removing or renaming a file,
//! changes it.

use std::collections::BTreeMap;
use std::io::Read;

use ed25519_dalek::SigningKey;
use sao_vision::model::ModelSpec;
use sha2::{Digest as _, Sha256};

use super::manifest::{Manifest, ManifestError};
use super::signing::{PackageSignature, TrustError, TrustStore};

/// Name of the manifest inside a package.
pub const MANIFEST_FILE: &str = "plugin.toml";
/// Name of the detached signature inside a package.
pub const SIGNATURE_FILE: &str = "signature.json";
/// Largest package the host will read.
pub const MAX_PACKAGE_BYTES: u64 = 128 * 1024 * 1024;

/// Why a package is refused.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// Not a readable tar archive.
    #[error("package is not a valid .sao archive: {0}")]
    Archive(String),
    /// A required file is missing.
    #[error("package has no `{0}`")]
    Missing(String),
    /// An entry is unsafe or unsupported.
    #[error("package entry `{0}` is not allowed: {1}")]
    Entry(String, &'static str),
    /// The manifest is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The component is not a WebAssembly component.
    #[error("`{0}` is not a WebAssembly component: {1}")]
    NotAComponent(String, &'static str),
    /// The config schema is not a usable JSON Schema.
    #[error("config schema `{0}` is invalid: {1}")]
    Schema(String, String),
    /// There is no signature.
    #[error("package is not signed (no {SIGNATURE_FILE})")]
    Unsigned,
    /// The signature file cannot be read.
    #[error("{SIGNATURE_FILE} is malformed: {0}")]
    BadSignatureFile(String),
    /// The contents differ from what was signed.
    #[error("package contents do not match the signed digest (tampered or corrupted): signed {signed}, actual sha256:{actual}")]
    DigestMismatch {
        /// Digest recorded in the signature.
        signed: String,
        /// Digest of the contents.
        actual: String,
    },
    /// The signature is not acceptable.
    #[error("package signature rejected: {0}")]
    Trust(#[from] TrustError),
}

/// A package read from disk or built by `sao plugin pack`, not yet verified.
#[derive(Debug, Clone)]
pub struct Package {
    manifest: Manifest,
    files: BTreeMap<String, Vec<u8>>,
    signature: Option<PackageSignature>,
}

/// A package whose signature verified against the pole's trusted keys.
#[derive(Debug, Clone)]
pub struct VerifiedPackage {
    package: Package,
    key_id: String,
}

impl Package {
    /// Assembles a package from its files (which must include `plugin.toml`).
    pub fn from_files(files: BTreeMap<String, Vec<u8>>) -> Result<Self, PackageError> {
        let mut files = files;
        let signature = match files.remove(SIGNATURE_FILE) {
            Some(bytes) => Some(
                serde_json::from_slice(&bytes)
                    .map_err(|e| PackageError::BadSignatureFile(e.to_string()))?,
            ),
            None => None,
        };
        let text = files
            .get(MANIFEST_FILE)
            .ok_or_else(|| PackageError::Missing(MANIFEST_FILE.into()))?;
        let text = std::str::from_utf8(text)
            .map_err(|_| PackageError::Entry(MANIFEST_FILE.into(), "not UTF-8"))?;
        let manifest = Manifest::parse(text)?;
        let package = Self {
            manifest,
            files,
            signature,
        };
        package.check_contents()?;
        Ok(package)
    }

    /// Reads a `.sao` archive and checks its contents, without checking the signature
    /// (for `inspect` and `sign`; installation uses [`Package::read_verified`]).
    pub fn read(bytes: &[u8]) -> Result<Self, PackageError> {
        Self::from_files(read_archive(bytes)?)
    }

    /// Reads a `.sao` archive for installation: the digest and signature are checked
    /// against `trust` before anything else in the package is parsed.
    pub fn read_verified(
        bytes: &[u8],
        trust: &TrustStore,
    ) -> Result<VerifiedPackage, PackageError> {
        let mut files = read_archive(bytes)?;
        let signature: PackageSignature =
            serde_json::from_slice(&files.remove(SIGNATURE_FILE).ok_or(PackageError::Unsigned)?)
                .map_err(|e| PackageError::BadSignatureFile(e.to_string()))?;
        let digest = digest_of(&files);
        let actual = hex::encode(digest);
        if signature.digest != format!("sha256:{actual}") {
            return Err(PackageError::DigestMismatch {
                signed: signature.digest.clone(),
                actual,
            });
        }
        trust.verify(&signature, &digest)?;
        let key_id = signature.key_id.clone();
        let mut package = Self::from_files(files)?;
        package.signature = Some(signature);
        Ok(VerifiedPackage { package, key_id })
    }

    fn check_contents(&self) -> Result<(), PackageError> {
        let m = &self.manifest;
        let component = self.file(&m.component)?;
        if component.starts_with(b"\x7fELF") {
            return Err(PackageError::NotAComponent(
                m.component.clone(),
                "it is a precompiled native artifact; packages must ship WebAssembly, the pole compiles it",
            ));
        }
        if !component.starts_with(b"\0asm") {
            return Err(PackageError::NotAComponent(
                m.component.clone(),
                "bad magic number",
            ));
        }
        // Layer 0x0d marks a component; core modules (layer 0) are not plugins.
        if component.get(4..8) != Some(&[0x0d, 0x00, 0x01, 0x00]) {
            return Err(PackageError::NotAComponent(
                m.component.clone(),
                "it is a core module or an unsupported component encoding",
            ));
        }
        self.config_schema()?;
        for model in &m.models {
            self.model(model)?;
        }
        Ok(())
    }

    fn file(&self, path: &str) -> Result<&[u8], PackageError> {
        self.files
            .get(path)
            .map(Vec::as_slice)
            .ok_or_else(|| PackageError::Missing(path.to_string()))
    }

    /// The ONNX file of a model the manifest declares.
    pub fn model(&self, model: &ModelSpec) -> Result<&[u8], PackageError> {
        self.file(&model.path.to_string_lossy())
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The component bytes.
    pub fn component(&self) -> &[u8] {
        &self.files[&self.manifest.component]
    }

    /// The config JSON Schema, parsed and checked to be a valid schema.
    pub fn config_schema(&self) -> Result<serde_json::Value, PackageError> {
        let path = &self.manifest.config_schema;
        let schema: serde_json::Value = serde_json::from_slice(self.file(path)?)
            .map_err(|e| PackageError::Schema(path.clone(), e.to_string()))?;
        jsonschema::meta::validate(&schema)
            .map_err(|e| PackageError::Schema(path.clone(), e.to_string()))?;
        Ok(schema)
    }

    /// Files in the package, excluding the signature.
    pub fn files(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.files.iter().map(|(p, c)| (p.as_str(), c.as_slice()))
    }

    /// The signature, if the package is signed.
    pub fn signature(&self) -> Option<&PackageSignature> {
        self.signature.as_ref()
    }

    /// The package digest (see the module docs).
    pub fn digest(&self) -> [u8; 32] {
        digest_of(&self.files)
    }

    /// Signs the package with `key`, replacing any previous signature.
    pub fn sign(&mut self, key: &SigningKey) {
        self.signature = Some(PackageSignature::create(key, &self.digest()));
    }

    /// Serialises the package as a deterministic tar archive.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let signature = self
            .signature
            .as_ref()
            .map(|s| serde_json::to_vec_pretty(s).expect("signature serialises"));
        let entries = self
            .files
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_slice()))
            .chain(signature.as_deref().map(|s| (SIGNATURE_FILE, s)));
        for (path, content) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_entry_type(tar::EntryType::Regular);
            builder
                .append_data(&mut header, path, content)
                .expect("writing to memory cannot fail");
        }
        builder.into_inner().expect("writing to memory cannot fail")
    }
}

impl VerifiedPackage {
    /// The verified package.
    pub fn package(&self) -> &Package {
        &self.package
    }

    /// Id of the key that signed it.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
}

fn digest_of(files: &BTreeMap<String, Vec<u8>>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"sao-package-v1\n");
    for (path, content) in files {
        hasher.update(format!(
            "{}  {path}\n",
            hex::encode(Sha256::digest(content))
        ));
    }
    hasher.finalize().into()
}

/// Reads the members of a tar archive, refusing anything but plain, safely named files.
fn read_archive(bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, PackageError> {
    if bytes.len() as u64 > MAX_PACKAGE_BYTES {
        return Err(PackageError::Archive(format!(
            "larger than {MAX_PACKAGE_BYTES} bytes"
        )));
    }
    let archive_err = |e: std::io::Error| PackageError::Archive(e.to_string());
    let mut archive = tar::Archive::new(bytes);
    let mut files = BTreeMap::new();
    for entry in archive.entries().map_err(archive_err)? {
        let mut entry = entry.map_err(archive_err)?;
        let path = entry
            .path()
            .map_err(archive_err)?
            .to_string_lossy()
            .into_owned();
        if !entry.header().entry_type().is_file() {
            return Err(PackageError::Entry(
                path,
                "only regular files may be packaged",
            ));
        }
        if !is_safe_path(&path) {
            return Err(PackageError::Entry(
                path,
                "path must be relative, without `..`",
            ));
        }
        let mut content = Vec::new();
        entry.read_to_end(&mut content).map_err(archive_err)?;
        if files.insert(path.clone(), content).is_some() {
            return Err(PackageError::Entry(path, "duplicate entry"));
        }
    }
    if files.is_empty() {
        return Err(PackageError::Archive("no files".into()));
    }
    Ok(files)
}

fn is_safe_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && path
            .split('/')
            .all(|seg| !seg.is_empty() && seg != ".." && seg != ".")
}
