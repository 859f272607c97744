//! Camera capture with OpenCV: video files, RTSP streams and V4L2 devices, paced to a
//! configured frame rate, reopened with backoff when the camera drops.
//!
//! Each camera is read on its own OS thread (OpenCV reads block) and hands frames to the
//! pipeline through a small bounded channel. A live camera never queues: when the
//! pipeline is busy the newest frame replaces the waiting one, so latency stays one frame.
//! A file read flat out (tests, `sao vision run`) blocks instead, so no frame is lost.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opencv::core::{Mat, Vector};
use opencv::prelude::*;
use opencv::videoio::{self, VideoCapture};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// Where a camera's frames come from, parsed from the configured `source` string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A video file (`/path/clip.mp4` or `file:/path/clip.mp4`).
    File(PathBuf),
    /// A network stream (`rtsp://…`, `rtsps://…`, `http(s)://…`).
    Stream(String),
    /// A V4L2 device (`/dev/video0` or `v4l2:0`).
    Device(PathBuf),
}

impl std::str::FromStr for Source {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err("camera source is empty".into());
        }
        if ["rtsp://", "rtsps://", "http://", "https://"]
            .iter()
            .any(|scheme| s.starts_with(scheme))
        {
            return Ok(Self::Stream(s.into()));
        }
        if let Some(index) = s.strip_prefix("v4l2:") {
            let index: u32 = index
                .parse()
                .map_err(|_| format!("`{s}`: v4l2: needs a device number, e.g. v4l2:0"))?;
            return Ok(Self::Device(PathBuf::from(format!("/dev/video{index}"))));
        }
        if s.starts_with("/dev/video") {
            return Ok(Self::Device(PathBuf::from(s)));
        }
        if s.contains("://") {
            return Err(format!(
                "`{s}`: unsupported scheme (use a file path, rtsp://, http(s):// or /dev/videoN)"
            ));
        }
        Ok(Self::File(PathBuf::from(
            s.strip_prefix("file:").unwrap_or(s),
        )))
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(p) | Self::Device(p) => write!(f, "{}", p.display()),
            // Credentials in an RTSP URL are not for logs.
            Self::Stream(url) => match url::Url::parse(url) {
                Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
                    let _ = u.set_username("");
                    let _ = u.set_password(None);
                    write!(f, "{u}")
                }
                _ => write!(f, "{url}"),
            },
        }
    }
}

/// How a camera is read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CaptureConfig {
    /// Frames per second handed to the pipeline; a faster source is thinned. `0` keeps
    /// the source's own rate.
    #[serde(default = "default_fps")]
    pub fps: f32,
    /// A file plays in real time (paced to `fps` or its own rate) instead of flat out.
    #[serde(default = "yes")]
    pub realtime: bool,
    /// A file starts again from the beginning at its end (a recorded camera).
    #[serde(default)]
    pub loop_file: bool,
    /// First wait before reopening a camera that dropped, in milliseconds.
    #[serde(default = "default_retry_ms")]
    pub retry_ms: u64,
    /// Longest wait between reopen attempts, in milliseconds.
    #[serde(default = "default_retry_max_ms")]
    pub retry_max_ms: u64,
    /// How long opening or reading a stream may block, in milliseconds.
    #[serde(default = "default_io_timeout_ms")]
    pub io_timeout_ms: u64,
}

fn default_fps() -> f32 {
    5.0
}
fn yes() -> bool {
    true
}
fn default_retry_ms() -> u64 {
    500
}
fn default_retry_max_ms() -> u64 {
    30_000
}
fn default_io_timeout_ms() -> u64 {
    5_000
}

impl Default for CaptureConfig {
    fn default() -> Self {
        Self {
            fps: default_fps(),
            realtime: true,
            loop_file: false,
            retry_ms: default_retry_ms(),
            retry_max_ms: default_retry_max_ms(),
            io_timeout_ms: default_io_timeout_ms(),
        }
    }
}

/// One captured frame.
pub struct Frame {
    /// Sequence number within this camera's run, from 1, never reused.
    pub id: u64,
    /// Capture time, milliseconds since the Unix epoch. For a file read flat out this is
    /// the run's start plus the frame's position in the file, so motion speeds are real.
    pub ts_ms: u64,
    /// The image, 8-bit BGR.
    pub image: Mat,
}

/// What the capture thread reports besides frames.
#[derive(Clone, Debug, PartialEq)]
pub enum CaptureStatus {
    /// The camera opened and delivers frames.
    Connected,
    /// Opening or reading failed; the thread retries after `retry_in`.
    Disconnected {
        /// What failed.
        reason: String,
        /// When the next attempt is.
        retry_in: Duration,
    },
    /// A file that does not loop reached its end; the thread stopped.
    Ended,
}

/// What the capture thread sends to the pipeline.
pub enum CaptureEvent {
    /// A new frame.
    Frame(Frame),
    /// A change of connection state.
    Status(CaptureStatus),
}

/// A running capture thread; dropping it (or calling [`Capture::stop`]) stops the thread
/// at its next frame.
pub struct Capture {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Capture {
    /// Starts reading `source` on a new thread; events arrive on the returned receiver,
    /// which holds at most `depth` frames.
    pub fn start(
        name: &str,
        source: Source,
        config: CaptureConfig,
        depth: usize,
    ) -> std::io::Result<(Self, mpsc::Receiver<CaptureEvent>)> {
        let (tx, rx) = mpsc::channel(depth.max(1));
        let stop = Arc::new(AtomicBool::new(false));
        let reader = Reader {
            source,
            config,
            tx,
            stop: stop.clone(),
            next_id: 1,
            epoch_ms: now_ms(),
        };
        let thread = std::thread::Builder::new()
            .name(format!("camera-{name}"))
            .spawn(move || reader.run())?;
        Ok((
            Self {
                stop,
                thread: Some(thread),
            },
            rx,
        ))
    }

    /// Stops the thread and waits for it.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

struct Reader {
    source: Source,
    config: CaptureConfig,
    tx: mpsc::Sender<CaptureEvent>,
    stop: Arc<AtomicBool>,
    next_id: u64,
    /// Time origin of media timestamps for files read flat out.
    epoch_ms: u64,
}

/// Why a session with the camera ended.
enum SessionEnd {
    Stopped,
    EndOfFile,
    Failed(String),
}

impl Reader {
    fn run(mut self) {
        let mut backoff = Duration::from_millis(self.config.retry_ms.max(1));
        let max_backoff = Duration::from_millis(self.config.retry_max_ms.max(self.config.retry_ms));
        loop {
            let delivered_before = self.next_id;
            let end = match self.open() {
                Ok(capture) => self.session(capture),
                Err(reason) => SessionEnd::Failed(reason),
            };
            let reason = match end {
                SessionEnd::Stopped => return,
                SessionEnd::EndOfFile
                    if self.config.loop_file && self.next_id > delivered_before =>
                {
                    backoff = Duration::from_millis(self.config.retry_ms.max(1));
                    continue;
                }
                SessionEnd::EndOfFile if self.next_id > delivered_before => {
                    let _ = self
                        .tx
                        .blocking_send(CaptureEvent::Status(CaptureStatus::Ended));
                    return;
                }
                // A file that ends before its first frame is as broken as one that fails.
                SessionEnd::EndOfFile => "no frame could be read".to_string(),
                SessionEnd::Failed(reason) => reason,
            };
            if self.next_id > delivered_before {
                backoff = Duration::from_millis(self.config.retry_ms.max(1));
            }
            let status = CaptureStatus::Disconnected {
                reason: format!("{}: {reason}", self.source),
                retry_in: backoff,
            };
            if self.tx.blocking_send(CaptureEvent::Status(status)).is_err() {
                return;
            }
            if self.sleep(backoff) {
                return;
            }
            backoff = (backoff * 2).min(max_backoff);
        }
    }

    fn open(&self) -> Result<VideoCapture, String> {
        let timeout = self.config.io_timeout_ms.min(i32::MAX as u64) as i32;
        let (target, api) = match &self.source {
            Source::File(path) => {
                if !path.exists() {
                    return Err("file not found".into());
                }
                (path.display().to_string(), videoio::CAP_FFMPEG)
            }
            Source::Stream(url) => (url.clone(), videoio::CAP_FFMPEG),
            Source::Device(path) => (path.display().to_string(), videoio::CAP_V4L2),
        };
        let params = Vector::from_slice(&[
            videoio::CAP_PROP_OPEN_TIMEOUT_MSEC,
            timeout,
            videoio::CAP_PROP_READ_TIMEOUT_MSEC,
            timeout,
        ]);
        let capture = VideoCapture::from_file_with_params(&target, api, &params)
            .map_err(|e| format!("cannot open: {e}"))?;
        if !capture.is_opened().unwrap_or(false) {
            return Err("cannot open".into());
        }
        Ok(capture)
    }

    fn session(&mut self, mut capture: VideoCapture) -> SessionEnd {
        let is_file = matches!(self.source, Source::File(_));
        let source_fps = capture.get(videoio::CAP_PROP_FPS).unwrap_or(0.0) as f32;
        let fps = if self.config.fps > 0.0 {
            self.config.fps
        } else {
            source_fps
        };
        let interval = (fps > 0.0).then(|| Duration::from_secs_f32(1.0 / fps));
        // A file keeps every `stride`-th frame to reach `fps` in media time.
        let stride = if is_file && fps > 0.0 && source_fps > fps {
            (source_fps / fps).round().max(1.0) as u64
        } else {
            1
        };
        let media_origin = self.epoch_ms;
        let mut position = 0u64;
        let mut connected = false;
        let mut next_due = Instant::now();
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return SessionEnd::Stopped;
            }
            let mut image = Mat::default();
            match capture.read(&mut image) {
                Ok(true) if !image.empty() => {}
                Ok(_) if is_file => return SessionEnd::EndOfFile,
                Ok(_) => return SessionEnd::Failed("the stream stopped delivering frames".into()),
                Err(e) => return SessionEnd::Failed(format!("read failed: {e}")),
            }
            position += 1;
            if !(position - 1).is_multiple_of(stride) {
                continue;
            }
            let now = Instant::now();
            if !is_file {
                // A live source is thinned by time: drop frames that come early.
                if let Some(interval) = interval {
                    if now < next_due {
                        continue;
                    }
                    next_due = (next_due + interval).max(now);
                }
            } else if self.config.realtime {
                if let Some(interval) = interval {
                    if next_due > now && self.sleep(next_due - now) {
                        return SessionEnd::Stopped;
                    }
                    next_due = next_due.max(now) + interval;
                }
            }
            if !connected {
                connected = true;
                if self
                    .tx
                    .blocking_send(CaptureEvent::Status(CaptureStatus::Connected))
                    .is_err()
                {
                    return SessionEnd::Stopped;
                }
            }
            let ts_ms = if is_file && !self.config.realtime {
                let media_ms = capture
                    .get(videoio::CAP_PROP_POS_MSEC)
                    .unwrap_or(0.0)
                    .max(0.0);
                media_origin + media_ms as u64
            } else {
                now_ms()
            };
            let frame = Frame {
                id: self.next_id,
                ts_ms,
                image,
            };
            self.next_id += 1;
            let event = CaptureEvent::Frame(frame);
            let delivered = if is_file && !self.config.realtime {
                self.tx.blocking_send(event).is_ok()
            } else {
                // Live: never queue behind a busy pipeline; the frame is simply skipped.
                !matches!(
                    self.tx.try_send(event),
                    Err(mpsc::error::TrySendError::Closed(_))
                )
            };
            if !delivered {
                return SessionEnd::Stopped;
            }
        }
    }

    /// Sleeps `duration` in short steps; true when asked to stop meanwhile.
    fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        while Instant::now() < deadline {
            if self.stop.load(Ordering::Relaxed) || self.tx.is_closed() {
                return true;
            }
            std::thread::sleep((deadline - Instant::now()).min(Duration::from_millis(50)));
        }
        self.stop.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_by_shape() {
        assert_eq!(
            "rtsp://cam.local:554/stream1".parse::<Source>(),
            Ok(Source::Stream("rtsp://cam.local:554/stream1".into()))
        );
        assert_eq!(
            "/dev/video2".parse::<Source>(),
            Ok(Source::Device("/dev/video2".into()))
        );
        assert_eq!(
            "v4l2:1".parse::<Source>(),
            Ok(Source::Device("/dev/video1".into()))
        );
        assert_eq!(
            "file:clips/a.mp4".parse::<Source>(),
            Ok(Source::File("clips/a.mp4".into()))
        );
        assert!("ftp://x/y"
            .parse::<Source>()
            .unwrap_err()
            .contains("unsupported scheme"));
        assert!("v4l2:x".parse::<Source>().is_err());
        assert!("  ".parse::<Source>().is_err());
    }

    #[test]
    fn stream_credentials_stay_out_of_display() {
        let source: Source = "rtsp://admin:secret@10.0.0.5/live".parse().unwrap();
        let shown = source.to_string();
        assert!(
            !shown.contains("secret") && !shown.contains("admin"),
            "{shown}"
        );
    }
}
