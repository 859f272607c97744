//! Package integrity: only packages signed by a trusted key install, and one flipped byte
//! in the component, the manifest or the signature is refused with a message saying why.

mod common;

use common::{dimming_files, Bench};
use sao_runtime::engine::{ComponentCache, EngineOptions, SaoEngine};
use sao_runtime::plugin::package::{Package, SIGNATURE_FILE};
use sao_runtime::plugin::signing::{self, TrustStore};
use sao_runtime::plugin::{prepare, Capability, InstallError};

const GRANTS: [Capability; 5] = [
    Capability::Log,
    Capability::Clock,
    Capability::Kv,
    Capability::Telemetry,
    Capability::Lighting,
];

struct Pole {
    engine: SaoEngine,
    cache: ComponentCache,
    trust: TrustStore,
    _dir: tempfile::TempDir,
}

impl Pole {
    fn trusting(bench: &Bench) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let engine = SaoEngine::new(EngineOptions::default()).unwrap();
        let cache = ComponentCache::new(dir.path(), engine.engine());
        let trust = TrustStore::load(&bench.path("trusted")).unwrap();
        Self {
            engine,
            cache,
            trust,
            _dir: dir,
        }
    }

    fn install(&self, bytes: &[u8]) -> Result<String, String> {
        prepare(
            self.engine.engine(),
            &self.cache,
            &self.trust,
            bytes,
            &GRANTS,
        )
        .map(|p| p.manifest.id)
        .map_err(|e: InstallError| e.to_string())
    }
}

/// Splits a tar archive into (offset, length) of each member's content.
fn member_spans(archive: &[u8]) -> Vec<(String, usize, usize)> {
    let mut spans = Vec::new();
    let mut pos = 0;
    while pos + 512 <= archive.len() && archive[pos] != 0 {
        let header = &archive[pos..pos + 512];
        let name = String::from_utf8_lossy(&header[..100])
            .trim_end_matches('\0')
            .to_string();
        let size_field = String::from_utf8_lossy(&header[124..136]);
        let size =
            usize::from_str_radix(size_field.trim_matches(|c: char| c == '\0' || c == ' '), 8)
                .unwrap();
        spans.push((name, pos + 512, size));
        pos += 512 + size.div_ceil(512) * 512;
    }
    spans
}

fn flip_in(archive: &[u8], member: &str, at: impl Fn(usize) -> usize) -> Vec<u8> {
    let (_, start, len) = member_spans(archive)
        .into_iter()
        .find(|(name, ..)| name == member)
        .unwrap_or_else(|| panic!("no member {member}"));
    let mut bytes = archive.to_vec();
    bytes[start + at(len)] ^= 0x01;
    bytes
}

#[test]
fn a_signed_package_installs() {
    let bench = Bench::new();
    let path = bench.package("dimming", dimming_files());
    let pole = Pole::trusting(&bench);
    assert_eq!(
        pole.install(&std::fs::read(path).unwrap()),
        Ok("dimming".to_string())
    );
}

#[test]
fn one_flipped_byte_anywhere_is_refused() {
    let bench = Bench::new();
    let bytes = std::fs::read(bench.package("dimming", dimming_files())).unwrap();
    let pole = Pole::trusting(&bench);

    // Component: a byte deep inside the code section.
    let e = pole
        .install(&flip_in(&bytes, "dimming.wasm", |len| len / 2))
        .unwrap_err();
    assert!(e.contains("do not match the signed digest"), "{e}");

    // Manifest: change one character of the text.
    let e = pole
        .install(&flip_in(&bytes, "plugin.toml", |_| 5))
        .unwrap_err();
    assert!(e.contains("do not match the signed digest"), "{e}");

    // Schema: also covered by the digest.
    let e = pole
        .install(&flip_in(&bytes, "config.schema.json", |len| len - 3))
        .unwrap_err();
    assert!(e.contains("do not match the signed digest"), "{e}");

    // Signature: flip a byte of the base64 signature value itself.
    let sig_text = {
        let spans = member_spans(&bytes);
        let (_, start, len) = spans
            .iter()
            .find(|(n, ..)| n == SIGNATURE_FILE)
            .unwrap()
            .clone();
        String::from_utf8(bytes[start..start + len].to_vec()).unwrap()
    };
    let sig_at = sig_text.find("\"signature\": \"").unwrap() + 20;
    let e = pole
        .install(&flip_in(&bytes, SIGNATURE_FILE, |_| sig_at))
        .unwrap_err();
    assert!(e.contains("signature"), "{e}");
    assert!(
        e.contains("does not verify") || e.contains("malformed"),
        "{e}"
    );
}

#[test]
fn unsigned_untrusted_and_precompiled_packages_are_refused() {
    let bench = Bench::new();
    let pole = Pole::trusting(&bench);

    let unsigned = Package::from_files(dimming_files()).unwrap();
    let e = pole.install(&unsigned.to_bytes()).unwrap_err();
    assert_eq!(e, "package is not signed (no signature.json)");

    let mut stranger = Package::from_files(dimming_files()).unwrap();
    let other_key = signing::generate_key();
    stranger.sign(&other_key);
    let e = pole.install(&stranger.to_bytes()).unwrap_err();
    assert!(
        e.contains(&format!(
            "signed by key {}",
            signing::key_id(&other_key.verifying_key())
        )),
        "{e}"
    );
    assert!(e.contains("not in this pole's trusted keys"), "{e}");

    // A vendor-supplied native artifact in place of the component is never loaded.
    let mut files = dimming_files();
    let compiled = pole
        .engine
        .engine()
        .precompile_component(&files["dimming.wasm"])
        .unwrap();
    files.insert("dimming.wasm".into(), compiled);
    let e = Package::from_files(files).unwrap_err().to_string();
    assert!(e.contains("precompiled native artifact"), "{e}");

    // Not an archive at all.
    let e = pole.install(b"hello, I am not a package").unwrap_err();
    assert!(
        e.starts_with("package is not a valid .sao archive") || e.contains("has no"),
        "{e}"
    );
}
