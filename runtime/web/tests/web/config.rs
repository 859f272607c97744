//! `[web]` and password hashing.

use argon2::password_hash::phc::PasswordHash;
use argon2::{Argon2, PasswordVerifier};
use sao_web::*;

#[test]
fn defaults_serve_a_read_only_thai_page_on_8080() {
    let config: WebConfig = toml::from_str("").unwrap();
    assert_eq!(config, WebConfig::default());
    assert!(config.enabled);
    assert_eq!(config.listen, "0.0.0.0:8080");
    assert_eq!(config.language, Language::Th);
    assert_eq!(config.password_hash, None);
    assert_eq!(config.session_minutes, 480);
    config.validate().unwrap();
}

#[test]
fn fields_are_kebab_case_and_unknown_ones_are_refused() {
    let config: WebConfig = toml::from_str(
        "enabled = false\nlisten = \"127.0.0.1:9000\"\nlanguage = \"en\"\nsession-minutes = 60\n",
    )
    .unwrap();
    assert!(!config.enabled);
    assert_eq!(config.language, Language::En);
    assert_eq!(config.session_minutes, 60);
    config.validate().unwrap();

    let error = toml::from_str::<WebConfig>("pasword-hash = \"x\"\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("unknown field `pasword-hash`"), "{error}");
    let error = toml::from_str::<WebConfig>("language = \"de\"\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("unknown variant `de`"), "{error}");
}

#[test]
fn validate_names_what_is_wrong() {
    let bad_listen = WebConfig {
        listen: "pole.local".into(),
        ..WebConfig::default()
    };
    let error = bad_listen.validate().unwrap_err();
    assert!(error.contains("[web] listen `pole.local`"), "{error}");

    for hash in [
        "hunter2",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA",
        "$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$aGFzaA",
    ] {
        let config = WebConfig {
            password_hash: Some(hash.into()),
            ..WebConfig::default()
        };
        let error = config.validate().unwrap_err();
        assert!(error.contains("[web] password-hash"), "{hash}: {error}");
        assert!(error.contains("sao web-password"), "{hash}: {error}");
    }

    let error = WebConfig {
        session_minutes: 0,
        ..WebConfig::default()
    }
    .validate()
    .unwrap_err();
    assert!(
        error.contains("session-minutes must be between 1 and"),
        "{error}"
    );
}

#[test]
fn hashed_passwords_verify_and_others_do_not() {
    let phc = hash_password("รหัสลับ 123");
    assert!(phc.starts_with("$argon2id$"), "{phc}");
    let parsed = PasswordHash::new(&phc).unwrap();
    assert!(Argon2::default()
        .verify_password("รหัสลับ 123".as_bytes(), &parsed)
        .is_ok());
    assert!(Argon2::default()
        .verify_password(b"something else", &parsed)
        .is_err());
    assert_ne!(
        hash_password("รหัสลับ 123"),
        phc,
        "each hash has its own salt"
    );
    WebConfig {
        password_hash: Some(phc),
        ..WebConfig::default()
    }
    .validate()
    .unwrap();
}
