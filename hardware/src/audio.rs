//! A loudspeaker that plays recorded clips (`{clips-dir}/{name}.wav`) through an external
//! player, by default ALSA's `aplay`. The player runs as a child process, so playing never
//! blocks the caller, and stopping kills it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde::Deserialize;

use crate::device::Speaker;
use crate::HwError;

/// Where the clips are and what plays them (`speaker = { … }` in a backend's config).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SpeakerSpec {
    /// Directory of `*.wav` clips; a clip's name is its file stem.
    pub clips_dir: PathBuf,
    /// Player program, called with the clip's path (default `aplay`).
    #[serde(default = "SpeakerSpec::default_command")]
    pub command: String,
}

impl SpeakerSpec {
    fn default_command() -> String {
        "aplay".into()
    }
}

/// A [`Speaker`] playing clip files with an external player.
pub struct ClipPlayer {
    spec: SpeakerSpec,
    child: Option<Child>,
}

impl ClipPlayer {
    /// A player for `spec`. Errors with [`HwError::Config`] when the clip directory is
    /// missing.
    pub fn new(spec: SpeakerSpec) -> Result<Self, HwError> {
        if !spec.clips_dir.is_dir() {
            return Err(HwError::Config(format!(
                "speaker: clips-dir {} is not a directory",
                spec.clips_dir.display()
            )));
        }
        Ok(Self { spec, child: None })
    }

    fn clip_path(&self, clip: &str) -> Option<PathBuf> {
        let plain = !clip.is_empty()
            && clip
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        let path = self.spec.clips_dir.join(format!("{clip}.wav"));
        (plain && path.is_file()).then_some(path)
    }
}

impl Speaker for ClipPlayer {
    fn clips(&self) -> Vec<String> {
        let entries = std::fs::read_dir(&self.spec.clips_dir)
            .into_iter()
            .flatten();
        let mut clips: Vec<String> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "wav"))
            .filter_map(|p| Some(p.file_stem()?.to_str()?.to_owned()))
            .collect();
        clips.sort();
        clips
    }

    fn play(&mut self, clip: &str) -> Result<(), HwError> {
        let path = self
            .clip_path(clip)
            .ok_or_else(|| HwError::Config(format!("no voice clip `{clip}`")))?;
        self.stop()?;
        let child = Command::new(&self.spec.command)
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| HwError::fault("speaker", format!("{}: {e}", self.spec.command)))?;
        self.child = Some(child);
        Ok(())
    }

    fn stop(&mut self) -> Result<(), HwError> {
        if let Some(mut child) = self.child.take() {
            // Killing a player that already finished is not an error.
            let _ = child.kill();
            child
                .wait()
                .map_err(|e| HwError::fault("speaker", format!("cannot reap player: {e}")))?;
        }
        Ok(())
    }
}

impl Drop for ClipPlayer {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// Whether process `pid` is running (Linux `/proc`): a reaped process is gone, a
    /// zombie (`Z`) has finished.
    fn running(pid: u32) -> bool {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"));
        stat.is_ok_and(|s| s.split_whitespace().nth(2).is_none_or(|state| state != "Z"))
    }

    fn player(dir: &Path, command: &str) -> ClipPlayer {
        std::fs::write(dir.join("elephant-warning.wav"), b"RIFF").unwrap();
        std::fs::write(dir.join("notes.txt"), b"").unwrap();
        ClipPlayer::new(SpeakerSpec {
            clips_dir: dir.to_owned(),
            command: command.into(),
        })
        .unwrap()
    }

    #[test]
    fn lists_wav_clips_and_refuses_others() {
        let dir = tempfile::tempdir().unwrap();
        let mut speaker = player(dir.path(), "true");
        assert_eq!(speaker.clips(), ["elephant-warning"]);
        speaker.play("elephant-warning").unwrap();
        for bad in ["notes", "missing", "../elephant-warning", ""] {
            let err = speaker.play(bad).unwrap_err().to_string();
            assert!(err.contains("no voice clip"), "{bad}: {err}");
        }
    }

    #[test]
    fn stop_kills_a_playing_clip() {
        let dir = tempfile::tempdir().unwrap();
        // A "player" that plays for a long time.
        let script = dir.path().join("slow-player");
        std::fs::write(&script, "#!/bin/sh\nexec sleep 30\n").unwrap();
        let mut perms = std::fs::metadata(&script).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&script, perms).unwrap();
        let mut speaker = player(dir.path(), script.to_str().unwrap());
        speaker.play("elephant-warning").unwrap();
        let pid = speaker.child.as_ref().unwrap().id();
        assert!(running(pid));
        speaker.stop().unwrap();
        assert!(!running(pid), "the player still runs after stop");
    }

    #[test]
    fn a_missing_player_or_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut speaker = player(dir.path(), "/nonexistent/player");
        assert!(speaker.play("elephant-warning").is_err());
        assert!(ClipPlayer::new(SpeakerSpec {
            clips_dir: dir.path().join("nope"),
            command: "aplay".into(),
        })
        .is_err());
    }
}
