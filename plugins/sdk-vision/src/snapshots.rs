//! Annotated snapshots of recent frames, for the events and alarms of vision plugins.

/// The pole's snapshots (WIT `vision.snapshot`), as plugin logic uses them.
pub trait Snapshots {
    /// Annotated JPEG of frame `frame_id` of `camera`, with the `highlight` track ids
    /// boxed in red and people and licence plates blurred as the pole's privacy settings
    /// say.
    fn snapshot(
        &mut self,
        camera: &str,
        frame_id: u64,
        highlight: &[u64],
    ) -> Result<Vec<u8>, String>;
}

#[cfg(target_arch = "wasm32")]
impl Snapshots for sao_plugin_sdk::wit::WitPlatform {
    fn snapshot(
        &mut self,
        camera: &str,
        frame_id: u64,
        highlight: &[u64],
    ) -> Result<Vec<u8>, String> {
        crate::bindings::sao::plugin::vision::snapshot(camera, Some(frame_id), highlight)
            .map(|s| s.jpeg)
            .map_err(|e| format!("{e:?}"))
    }
}

/// Test support (feature `testing`): a camera in memory.
#[cfg(feature = "testing")]
pub mod testing {
    use super::Snapshots;

    /// What [`MemoryCamera`] returns for a snapshot.
    pub const JPEG: &[u8] = b"\xff\xd8 annotated frame \xff\xd9";

    /// Snapshots in memory: each request is recorded, and answered with [`JPEG`] or
    /// with `error` when set.
    #[derive(Debug, Clone, Default)]
    pub struct MemoryCamera {
        /// Requests: camera, frame, highlighted tracks.
        pub requests: Vec<(String, u64, Vec<u64>)>,
        /// Snapshots fail with this message.
        pub error: Option<String>,
    }

    /// A fake host built around a [`MemoryCamera`]; every such type has [`Snapshots`].
    pub trait MemoryCameraPole {
        /// The embedded camera.
        fn camera(&mut self) -> &mut MemoryCamera;
    }

    impl<T: MemoryCameraPole> Snapshots for T {
        fn snapshot(
            &mut self,
            camera: &str,
            frame_id: u64,
            highlight: &[u64],
        ) -> Result<Vec<u8>, String> {
            let memory = self.camera();
            memory
                .requests
                .push((camera.to_string(), frame_id, highlight.to_vec()));
            match &memory.error {
                Some(e) => Err(e.clone()),
                None => Ok(JPEG.to_vec()),
            }
        }
    }
}
