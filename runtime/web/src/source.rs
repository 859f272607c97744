//! What the page reads from and acts on: implemented by the runtime.

use crate::view::{MetricsSnapshot, OutputTest, PoleSnapshot, Series};

/// What the page shows and does. The runtime implements it.
///
/// Every method is quick (it locks and copies) except [`PoleSource::camera_jpeg`], which
/// encodes a JPEG (about 10 ms); the web server calls that one on the blocking pool.
/// Actions name who asked in `by` (`"technician"` from this page) for the audit trail.
pub trait PoleSource: Send + Sync + 'static {
    /// Everything the page shows, as of now.
    fn snapshot(&self) -> PoleSnapshot;

    /// The points of series `name` from `since_ms` on; `None` for an unknown series name.
    fn series(&self, name: &str, since_ms: u64) -> Option<Series>;

    /// The last frame of `camera` with its detection boxes drawn, as a JPEG; `None` when the
    /// camera is unknown or has no frame yet.
    fn camera_jpeg(&self, camera: &str) -> Option<Vec<u8>>;

    /// Counters and gauges for `/metrics`.
    fn metrics(&self) -> MetricsSnapshot;

    /// Acknowledges alarm `alarm`; `Err` says why not (unknown, already acknowledged).
    fn acknowledge(&self, alarm: u64, by: &str) -> Result<(), String>;

    /// Restarts plugin `plugin` now; `Err` says why not.
    fn restart_plugin(&self, plugin: &str, by: &str) -> Result<(), String>;

    /// Switches each relay, siren and strobe briefly and reports whether it responded.
    fn test_outputs(&self, by: &str) -> Result<Vec<OutputTest>, String>;
}
