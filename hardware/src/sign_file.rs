//! A display driven through a file: what a pole's screen shows is written, atomically, as
//! one JSON document that the screen's own renderer reads (a kiosk browser on an HDMI
//! panel, an LED-matrix controller, an e-paper daemon). The pole box needs no driver for
//! each panel make; the renderer needs no knowledge of sao beyond the document:
//!
//! ```json
//! {"showing": true, "th": "รถโดยสารที่กำลังมา\n7  ตลาด  4 นาที", "en": "Next buses\n7  Market  4 min"}
//! ```
//!
//! A blank display is `{"showing": false}`. The document is replaced by a rename, so a
//! reader never sees half of one.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::device::{Display, DisplayMessage};
use crate::HwError;

/// A display whose state is the JSON document at `path`.
pub struct SignFile {
    path: PathBuf,
    showing: Option<DisplayMessage>,
}

impl SignFile {
    /// The display at `path`, blanked (its directory must exist).
    pub fn new(path: &Path) -> Result<Self, HwError> {
        let mut display = Self {
            path: path.to_path_buf(),
            showing: Some(DisplayMessage::default()),
        };
        display.clear()?;
        Ok(display)
    }

    fn write(&self, document: serde_json::Value) -> Result<(), HwError> {
        let failed = |e: std::io::Error| HwError::Io(format!("{}: {e}", self.path.display()));
        let mut staging = self.path.clone().into_os_string();
        staging.push(".new");
        std::fs::write(&staging, document.to_string()).map_err(failed)?;
        std::fs::rename(&staging, &self.path).map_err(failed)
    }
}

impl Display for SignFile {
    fn show(&mut self, message: &DisplayMessage) -> Result<(), HwError> {
        self.write(json!({ "showing": true, "th": message.th, "en": message.en }))?;
        self.showing = Some(message.clone());
        Ok(())
    }

    fn clear(&mut self) -> Result<(), HwError> {
        self.write(json!({ "showing": false }))?;
        self.showing = None;
        Ok(())
    }

    fn showing(&self) -> Option<&DisplayMessage> {
        self.showing.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &Path) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn the_file_holds_what_the_display_shows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sign.json");
        let mut display = SignFile::new(&path).unwrap();
        assert_eq!(read(&path), json!({ "showing": false }));
        assert_eq!(display.showing(), None);
        let message = DisplayMessage {
            th: "รถโดยสาร".into(),
            en: "Bus".into(),
        };
        display.show(&message).unwrap();
        assert_eq!(
            read(&path),
            json!({ "showing": true, "th": "รถโดยสาร", "en": "Bus" })
        );
        assert_eq!(display.showing(), Some(&message));
        display.clear().unwrap();
        assert_eq!(read(&path), json!({ "showing": false }));
        // No staging file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_missing_directory_is_a_clear_error_and_the_last_state_stays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/sign.json");
        let e = SignFile::new(&path).err().unwrap();
        assert!(e.to_string().contains("run/sign.json"), "{e}");
        std::fs::create_dir(dir.path().join("run")).unwrap();
        let mut display = SignFile::new(&path).unwrap();
        let message = DisplayMessage {
            th: "ก".into(),
            en: "A".into(),
        };
        display.show(&message).unwrap();
        std::fs::remove_dir_all(dir.path().join("run")).unwrap();
        assert!(display.clear().is_err());
        assert_eq!(display.showing(), Some(&message), "what was last shown");
    }
}
