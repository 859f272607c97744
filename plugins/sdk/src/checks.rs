//! Range checks for plugin configs, with one wording of their messages across plugins:
//! each names the field and the value it got, e.g. `collision.speed-drop: must be
//! between 0 and 1, got 1.5`.

/// `value` lies in 0–1.
pub fn fraction(field: &str, value: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(format!("{field}: must be between 0 and 1, got {value}"))
    }
}

/// `value` is a finite number above 0.
pub fn positive(field: &str, value: f64) -> Result<(), String> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(format!("{field}: must be a number > 0, got {value}"))
    }
}

/// `value` is at most `max`.
pub fn at_most(field: &str, value: f64, max: f64) -> Result<(), String> {
    if value <= max {
        Ok(())
    } else {
        Err(format!("{field}: must be at most {max}, got {value}"))
    }
}

/// `value` is a name as the pole uses them in ids and topic segments: 1–64 characters of
/// `a-z`, `0-9` and `-`.
pub fn name(field: &str, value: &str) -> Result<(), String> {
    let valid = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{field}: `{value}` must be 1-64 characters of a-z, 0-9 and '-'"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_field_and_the_value() {
        assert_eq!(fraction("a", 1.0), Ok(()));
        assert_eq!(
            fraction("a.b", -0.5),
            Err("a.b: must be between 0 and 1, got -0.5".into())
        );
        assert_eq!(positive("p", 0.1), Ok(()));
        assert_eq!(
            positive("p", 0.0),
            Err("p: must be a number > 0, got 0".into())
        );
        assert!(positive("p", f64::INFINITY).is_err());
        assert!(positive("p", f64::NAN).is_err());
        assert_eq!(name("n", "lane-1"), Ok(()));
        assert_eq!(
            name("zones[0].name", "Lane 1"),
            Err("zones[0].name: `Lane 1` must be 1-64 characters of a-z, 0-9 and '-'".into())
        );
        assert!(name("n", "").is_err());
        assert!(name("n", &"a".repeat(65)).is_err());
        assert_eq!(at_most("m", 20.0, 20.0), Ok(()));
        assert_eq!(
            at_most("m", 30.0, 20.0),
            Err("m: must be at most 20, got 30".into())
        );
    }
}
