//! Signs: what plugins propose for the pole's display when no alarm needs it.
//!
//! Each plugin holds at most one sign. The display shows the sign with the highest
//! priority, the most recently proposed among equals; the alarm engine shows it only
//! while no alarm shows a message, so an alarm always overrides signage and the sign
//! returns when the alarm ends.

use std::collections::BTreeMap;

use sao_hardware::DisplayMessage;

/// The highest priority a sign may have.
pub const MAX_PRIORITY: u8 = 100;

/// The longest text of a sign, in bytes, per language.
pub const MAX_TEXT_BYTES: usize = 1024;

/// A sign as a plugin proposes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sign {
    /// The texts.
    pub message: DisplayMessage,
    /// 0–[`MAX_PRIORITY`]: higher wins the display.
    pub priority: u8,
}

impl Sign {
    /// Checks the sign: some text, neither text over [`MAX_TEXT_BYTES`], a priority
    /// within range.
    pub fn check(&self) -> Result<(), String> {
        let DisplayMessage { th, en } = &self.message;
        if th.trim().is_empty() && en.trim().is_empty() {
            return Err("both texts are empty".into());
        }
        if let Some((lang, len)) = [("th", th.len()), ("en", en.len())]
            .into_iter()
            .find(|&(_, len)| len > MAX_TEXT_BYTES)
        {
            return Err(format!(
                "the {lang} text is {len} bytes; at most {MAX_TEXT_BYTES}"
            ));
        }
        if self.priority > MAX_PRIORITY {
            return Err(format!("priority {} is over {MAX_PRIORITY}", self.priority));
        }
        Ok(())
    }
}

/// The signs plugins propose, by plugin id.
#[derive(Debug, Default)]
pub struct Signs {
    proposed: BTreeMap<String, (Sign, u64)>,
    /// Counts proposals, to order equal priorities by recency.
    sequence: u64,
}

impl Signs {
    /// Makes `sign` `plugin`'s sign, replacing its previous one. The caller checked it.
    pub fn propose(&mut self, plugin: &str, sign: Sign) {
        self.sequence += 1;
        self.proposed
            .insert(plugin.to_string(), (sign, self.sequence));
    }

    /// Withdraws `plugin`'s sign, if it has one.
    pub fn withdraw(&mut self, plugin: &str) {
        self.proposed.remove(plugin);
    }

    /// The sign in front: the highest priority, then the latest; with its plugin.
    pub fn leading(&self) -> Option<(&str, &Sign)> {
        self.proposed
            .iter()
            .max_by_key(|(_, (sign, seq))| (sign.priority, *seq))
            .map(|(plugin, (sign, _))| (plugin.as_str(), sign))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(text: &str, priority: u8) -> Sign {
        Sign {
            message: DisplayMessage {
                th: text.into(),
                en: text.into(),
            },
            priority,
        }
    }

    #[test]
    fn the_highest_priority_leads_then_the_latest() {
        let mut signs = Signs::default();
        assert_eq!(signs.leading(), None);
        signs.propose("a", sign("a1", 10));
        signs.propose("b", sign("b1", 50));
        assert_eq!(signs.leading().unwrap().0, "b");
        // An equal priority proposed later takes the front.
        signs.propose("a", sign("a2", 50));
        assert_eq!(signs.leading(), Some(("a", &sign("a2", 50))));
        // Renewing b's sign makes it the latest.
        signs.propose("b", sign("b2", 50));
        assert_eq!(signs.leading().unwrap().0, "b");
        signs.withdraw("b");
        assert_eq!(signs.leading().unwrap().0, "a");
        signs.withdraw("a");
        signs.withdraw("nobody");
        assert_eq!(signs.leading(), None);
    }

    #[test]
    fn malformed_signs_are_refused_with_the_reason() {
        assert_eq!(sign("ok", 100).check(), Ok(()));
        assert_eq!(sign(" ", 1).check().unwrap_err(), "both texts are empty");
        assert!(sign("x", 101).check().unwrap_err().contains("priority 101"));
        let long = "ก".repeat(400);
        let e = sign(&long, 1).check().unwrap_err();
        assert!(e.contains("th text is 1200 bytes"), "{e}");
    }
}
