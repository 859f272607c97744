//! Plugin configs: the JSON text the host hands to `init` and `on-config`, parsed into a
//! plugin's serde type and then checked by the plugin, with one wording of the parse
//! error across plugins.

use serde::de::DeserializeOwned;

/// Parses `json` into `T` and checks it with `validate`. A document that does not parse
/// is refused as `invalid config: {serde's message}`; one that parses but fails the
/// checks with `validate`'s message.
pub fn parse<T: DeserializeOwned>(
    json: &str,
    validate: impl FnOnce(&T) -> Result<(), String>,
) -> Result<T, String> {
    let config: T = serde_json::from_str(json).map_err(|e| format!("invalid config: {e}"))?;
    validate(&config)?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn even(n: &u32) -> Result<(), String> {
        if n.is_multiple_of(2) {
            Ok(())
        } else {
            Err(format!("{n} is odd"))
        }
    }

    #[test]
    fn parses_then_checks() {
        assert_eq!(parse("4", even), Ok(4));
        assert_eq!(parse("3", even), Err("3 is odd".into()));
        let e = parse::<u32>("x", even).unwrap_err();
        assert!(e.starts_with("invalid config: expected value"), "{e}");
    }
}
