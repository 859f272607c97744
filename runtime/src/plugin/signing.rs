//! Ed25519 keys, detached package signatures and the pole's trusted-keys directory.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use base64::Engine as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Why a key or signature operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// A key file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A key file does not hold a key of the expected kind.
    #[error("{path}: not an ed25519 {kind} key in PEM form ({reason})")]
    BadKey {
        /// The file.
        path: String,
        /// `private` or `public`.
        kind: &'static str,
        /// The decoder's message.
        reason: String,
    },
}

/// The detached signature stored in a package as `signature.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PackageSignature {
    /// Always `ed25519`.
    pub algorithm: String,
    /// Id of the signing key (see [`key_id`]).
    pub key_id: String,
    /// The package digest that was signed, `sha256:<hex>`.
    pub digest: String,
    /// The signature over the 32 digest bytes, base64.
    pub signature: String,
}

impl PackageSignature {
    /// Signs `digest` with `key`.
    pub fn create(key: &SigningKey, digest: &[u8; 32]) -> Self {
        let signature = key.sign(digest);
        Self {
            algorithm: "ed25519".into(),
            key_id: key_id(&key.verifying_key()),
            digest: format!("sha256:{}", hex::encode(digest)),
            signature: base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()),
        }
    }
}

/// A short, stable name for a public key: the first 16 hex digits of its SHA-256.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

/// Generates a new signing key from the operating system's randomness.
pub fn generate_key() -> SigningKey {
    SigningKey::generate(&mut rand_core::OsRng)
}

/// Writes `key` as `<stem>.key` (PKCS#8 PEM, mode 0600) and `<stem>.pub` (SPKI PEM).
pub fn write_key_pair(key: &SigningKey, stem: &Path) -> Result<(), SigningError> {
    let secret = key
        .to_pkcs8_pem(LineEnding::LF)
        .expect("an ed25519 key always encodes as PKCS#8");
    let public = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("an ed25519 key always encodes as SPKI");
    let key_path = stem.with_extension("key");
    write_file(&key_path, secret.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&key_path, fs::Permissions::from_mode(0o600)).map_err(|source| {
            SigningError::Io {
                path: key_path.display().to_string(),
                source,
            }
        })?;
    }
    write_file(&stem.with_extension("pub"), public.as_bytes())
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), SigningError> {
    fs::write(path, bytes).map_err(|source| SigningError::Io {
        path: path.display().to_string(),
        source,
    })
}

fn read_text(path: &Path) -> Result<String, SigningError> {
    fs::read_to_string(path).map_err(|source| SigningError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Reads a PKCS#8 PEM private key.
pub fn read_signing_key(path: &Path) -> Result<SigningKey, SigningError> {
    SigningKey::from_pkcs8_pem(&read_text(path)?).map_err(|e| SigningError::BadKey {
        path: path.display().to_string(),
        kind: "private",
        reason: e.to_string(),
    })
}

/// Reads an SPKI PEM public key.
pub fn read_verifying_key(path: &Path) -> Result<VerifyingKey, SigningError> {
    VerifyingKey::from_public_key_pem(&read_text(path)?).map_err(|e| SigningError::BadKey {
        path: path.display().to_string(),
        kind: "public",
        reason: e.to_string(),
    })
}

/// The public keys whose signatures this pole accepts, by key id.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    keys: BTreeMap<String, VerifyingKey>,
}

/// Why a signature is not accepted.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TrustError {
    /// The signature names a key the pole does not trust.
    #[error("signed by key {0}, which is not in this pole's trusted keys")]
    UntrustedKey(String),
    /// Not an ed25519 signature.
    #[error("signature algorithm `{0}` is not supported (only ed25519)")]
    Algorithm(String),
    /// The signature bytes are malformed or do not verify.
    #[error("signature does not verify against key {0}")]
    Invalid(String),
}

impl TrustStore {
    /// Loads every `*.pub` file in `dir`. A missing directory is an empty store.
    pub fn load(dir: &Path) -> Result<Self, SigningError> {
        let mut store = Self::default();
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(store),
            Err(source) => {
                return Err(SigningError::Io {
                    path: dir.display().to_string(),
                    source,
                })
            }
        };
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "pub"))
            .collect();
        paths.sort();
        for path in paths {
            store.add(read_verifying_key(&path)?);
        }
        Ok(store)
    }

    /// Trusts `key`.
    pub fn add(&mut self, key: VerifyingKey) {
        self.keys.insert(key_id(&key), key);
    }

    /// Number of trusted keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when no key is trusted (then nothing can be installed).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Checks that `signature` is a valid signature of `digest` by a trusted key.
    pub fn verify(
        &self,
        signature: &PackageSignature,
        digest: &[u8; 32],
    ) -> Result<(), TrustError> {
        if signature.algorithm != "ed25519" {
            return Err(TrustError::Algorithm(signature.algorithm.clone()));
        }
        let key = self
            .keys
            .get(&signature.key_id)
            .ok_or_else(|| TrustError::UntrustedKey(signature.key_id.clone()))?;
        let invalid = || TrustError::Invalid(signature.key_id.clone());
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&signature.signature)
            .map_err(|_| invalid())?;
        let sig = ed25519_dalek::Signature::from_slice(&bytes).map_err(|_| invalid())?;
        key.verify(digest, &sig).map_err(|_| invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_pair_round_trips_through_pem_files() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate_key();
        write_key_pair(&key, &dir.path().join("vendor")).unwrap();
        let back = read_signing_key(&dir.path().join("vendor.key")).unwrap();
        assert_eq!(back.to_bytes(), key.to_bytes());
        let store = TrustStore::load(dir.path()).unwrap();
        assert_eq!(store.len(), 1);
        let digest = [7u8; 32];
        let sig = PackageSignature::create(&key, &digest);
        store.verify(&sig, &digest).unwrap();
        assert_eq!(
            store.verify(&sig, &[8u8; 32]),
            Err(TrustError::Invalid(key_id(&key.verifying_key())))
        );
    }

    #[test]
    fn unknown_key_is_named() {
        let digest = [1u8; 32];
        let sig = PackageSignature::create(&generate_key(), &digest);
        let e = TrustStore::default().verify(&sig, &digest).unwrap_err();
        assert!(e.to_string().contains(&sig.key_id));
    }

    #[test]
    fn garbage_key_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("x.pub"), "hello").unwrap();
        let e = TrustStore::load(dir.path()).unwrap_err();
        assert!(e.to_string().contains("not an ed25519 public key"), "{e}");
    }
}
