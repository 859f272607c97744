//! Signed control documents: what operators publish to reconfigure poles and deploy
//! plugins. A document is a JSON object; its `signature` member (if any) is an ed25519
//! signature, by an operator key the pole trusts, over the SHA-256 of the RFC 8785
//! canonical form of the document without `signature`. Canonical JSON makes the signature
//! independent of key order and whitespace, so any tool can produce it.
//!
//! Every document names its `target` (`{site}/{pole}` or `{site}/group/{group}`): a
//! document signed for one pole or group is refused when replayed on another's topic.

use ed25519_dalek::SigningKey;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::plugin::signing::{PackageSignature, TrustError, TrustStore};

/// Why a control document is refused. Each reason is reported upstream as is.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DocumentError {
    /// Not parseable JSON (for example truncated in transit).
    #[error("not JSON: {0}")]
    NotJson(String),
    /// JSON, but not an object.
    #[error("a control document must be a JSON object")]
    NotObject,
    /// The pole requires signatures and the document has none.
    #[error("unsigned, and this pole accepts only documents signed by a trusted operator key")]
    Unsigned,
    /// The `signature` member is not a signature record.
    #[error("malformed signature: {0}")]
    MalformedSignature(String),
    /// Signed, but not acceptably.
    #[error("{0}")]
    Untrusted(#[from] TrustError),
    /// The signed digest is not the digest of this document.
    #[error("the signature is over another document (digest mismatch)")]
    DigestMismatch,
    /// Addressed to another pole or group.
    #[error("addressed to `{found}`, not to `{expected}`")]
    WrongTarget {
        /// The document's `target`.
        found: String,
        /// The target of the topic it came on.
        expected: String,
    },
}

/// A document that passed the checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The document without its `signature`.
    pub body: Map<String, Value>,
    /// Id of the operator key that signed it, if signed.
    pub signed_by: Option<String>,
}

impl Verified {
    /// The document's `version`, when it has a readable one (for reports of a refusal).
    pub fn version(&self) -> Option<u64> {
        self.body.get("version").and_then(Value::as_u64)
    }

    /// The body as `T`, without `target` (checked already by [`verify`]).
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        let mut body = self.body.clone();
        body.remove("target");
        serde_json::from_value(Value::Object(body))
    }
}

const SIGNATURE: &str = "signature";

/// SHA-256 of the canonical (RFC 8785) form of `body`.
fn digest(body: &Map<String, Value>) -> [u8; 32] {
    let canonical = serde_jcs::to_vec(body).expect("JSON values canonicalise");
    Sha256::digest(canonical).into()
}

/// Signs `body` (any `signature` member is replaced) with an operator key.
pub fn sign(mut body: Map<String, Value>, key: &SigningKey) -> Map<String, Value> {
    body.remove(SIGNATURE);
    let signature = PackageSignature::create(key, &digest(&body));
    body.insert(
        SIGNATURE.into(),
        serde_json::to_value(signature).expect("signatures serialise"),
    );
    body
}

/// Parses and checks a document that arrived for `target`. With `require_signature`,
/// only documents signed by a key in `operators` pass; without it, an unsigned document
/// passes but a signed one must still verify.
pub fn verify(
    bytes: &[u8],
    target: &str,
    operators: &TrustStore,
    require_signature: bool,
) -> Result<Verified, DocumentError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| DocumentError::NotJson(e.to_string()))?;
    let Value::Object(mut body) = value else {
        return Err(DocumentError::NotObject);
    };
    let signed_by = match body.remove(SIGNATURE) {
        None if require_signature => return Err(DocumentError::Unsigned),
        None => None,
        Some(signature) => {
            let signature: PackageSignature = serde_json::from_value(signature)
                .map_err(|e| DocumentError::MalformedSignature(e.to_string()))?;
            let digest = digest(&body);
            if signature.digest != format!("sha256:{}", hex::encode(digest)) {
                return Err(DocumentError::DigestMismatch);
            }
            operators.verify(&signature, &digest)?;
            Some(signature.key_id)
        }
    };
    let found = body.get("target").and_then(Value::as_str).unwrap_or("");
    if found != target {
        return Err(DocumentError::WrongTarget {
            found: found.to_string(),
            expected: target.to_string(),
        });
    }
    Ok(Verified { body, signed_by })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::signing::{generate_key, key_id};
    use serde_json::json;

    const TARGET: &str = "chachoengsao/ccs-0001";

    fn body() -> Map<String, Value> {
        json!({ "target": TARGET, "version": 7, "config": { "dim-level": 60 } })
            .as_object()
            .unwrap()
            .clone()
    }

    fn operators(key: &SigningKey) -> TrustStore {
        let mut trust = TrustStore::default();
        trust.add(key.verifying_key());
        trust
    }

    fn bytes(doc: &Map<String, Value>) -> Vec<u8> {
        serde_json::to_vec(doc).unwrap()
    }

    #[test]
    fn a_signed_document_verifies_whatever_its_key_order_and_spacing() {
        let key = generate_key();
        let signed = sign(body(), &key);
        // Re-serialised with other key order and whitespace, as another tool might.
        let text = serde_json::to_string_pretty(&signed).unwrap();
        let reordered: Value = serde_json::from_str(&text).unwrap();
        let v = verify(
            reordered.to_string().as_bytes(),
            TARGET,
            &operators(&key),
            true,
        )
        .unwrap();
        assert_eq!(v.body, body());
        assert_eq!(v.signed_by, Some(key_id(&key.verifying_key())));
    }

    #[test]
    fn each_bad_document_is_refused_with_its_own_reason() {
        let key = generate_key();
        let trust = operators(&key);
        let signed = sign(body(), &key);

        let text = String::from_utf8(bytes(&signed)).unwrap();
        let truncated = &text[..text.len() / 2];
        assert!(matches!(
            verify(truncated.as_bytes(), TARGET, &trust, true),
            Err(DocumentError::NotJson(_))
        ));
        assert_eq!(
            verify(b"[1, 2]", TARGET, &trust, true),
            Err(DocumentError::NotObject)
        );
        assert_eq!(
            verify(&bytes(&body()), TARGET, &trust, true),
            Err(DocumentError::Unsigned)
        );
        let stranger = sign(body(), &generate_key());
        assert!(matches!(
            verify(&bytes(&stranger), TARGET, &trust, true),
            Err(DocumentError::Untrusted(TrustError::UntrustedKey(_)))
        ));
        let mut changed = signed.clone();
        changed.insert("version".into(), json!(8));
        assert_eq!(
            verify(&bytes(&changed), TARGET, &trust, true),
            Err(DocumentError::DigestMismatch)
        );
        let mut garbled = signed.clone();
        garbled.insert("signature".into(), json!("yes, signed"));
        assert!(matches!(
            verify(&bytes(&garbled), TARGET, &trust, true),
            Err(DocumentError::MalformedSignature(_))
        ));
        assert_eq!(
            verify(&bytes(&signed), "chachoengsao/ccs-0002", &trust, true),
            Err(DocumentError::WrongTarget {
                found: TARGET.into(),
                expected: "chachoengsao/ccs-0002".into()
            })
        );
    }

    #[test]
    fn without_the_requirement_unsigned_passes_but_a_bad_signature_does_not() {
        let key = generate_key();
        let trust = operators(&key);
        let v = verify(&bytes(&body()), TARGET, &trust, false).unwrap();
        assert_eq!(v.signed_by, None);
        let stranger = sign(body(), &generate_key());
        assert!(verify(&bytes(&stranger), TARGET, &trust, false).is_err());
    }
}
