//! Guest-side SDK for sao vision plugins.
//!
//! * [`Frame`] and [`Detection`] — what the camera pipeline hands the plugin, as plain
//!   Rust types (converted from the WIT records inside the component), so vision logic
//!   runs natively in tests.
//! * [`Polygon`] — an area of the camera view in normalized coordinates, for zones.
//! * [`Snapshots`] — annotated JPEGs of recent frames (over `vision.snapshot` inside the
//!   component; `snapshots::testing::MemoryCamera` with feature `testing`).
//! * `bindings` (wasm32 only) — the generated bindings of world
//!   `sao:plugin/vision-plugin@0.1.1`: the `vision` interface under
//!   `bindings::sao::plugin::vision`, and the `Guest` trait with `on-detections`. Every
//!   other imported interface is the one `sao-plugin-sdk` generates, so its `WitPlatform`
//!   serves vision plugins too. A vision plugin exports its handlers with
//!   `sao_plugin_sdk_vision::export!(MyPlugin);`.

#![warn(missing_docs)]

pub mod detections;
pub mod polygon;
pub mod snapshots;

pub use detections::{Detection, Frame};
pub use polygon::Polygon;
pub use snapshots::Snapshots;

/// The generated bindings of world `sao:plugin/vision-plugin`.
// The glue wit-bindgen generates for `on-detections` takes the lowered record fields.
#[cfg(target_arch = "wasm32")]
#[allow(missing_docs, clippy::too_many_arguments)]
pub mod bindings {
    use sao_plugin_sdk::wit::bindings::sao::plugin as base;

    wit_bindgen::generate!({
        path: "../../wit",
        world: "vision-plugin",
        pub_export_macro: true,
        default_bindings_module: "sao_plugin_sdk_vision::bindings",
        with: {
            "sao:plugin/types@0.1.1": base::types,
            "sao:plugin/log@0.1.1": base::log,
            "sao:plugin/clock@0.1.1": base::clock,
            "sao:plugin/kv@0.1.1": base::kv,
            "sao:plugin/telemetry@0.1.1": base::telemetry,
            "sao:plugin/lighting@0.1.1": base::lighting,
            "sao:plugin/alarm@0.1.1": base::alarm,
            "sao:plugin/sensors@0.1.1": base::sensors,
            "sao:plugin/display@0.1.1": base::display,
        },
    });
}

/// Exports a vision plugin's handlers: `sao_plugin_sdk_vision::export!(MyPlugin);` with
/// `MyPlugin` implementing [`bindings::Guest`]. Most plugins implement [`VisionPlugin`]
/// and call [`export_vision_plugin!`] instead, which writes that glue.
#[cfg(target_arch = "wasm32")]
pub use bindings::export;

/// The base SDK, for the code [`export_vision_plugin!`] writes in a plugin's crate.
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub use sao_plugin_sdk as __sdk;

/// A vision plugin's state as its component runs it: built by `init`, then every handler
/// runs on it with the pole ([`WitPlatform`](sao_plugin_sdk::wit::WitPlatform), which the
/// plugin's own `Host` traits are implemented on). [`export_vision_plugin!`] exports the
/// world's handlers around it: one state per instance, `on-reading` ignored, detections
/// converted to [`Frame`] and [`Detection`].
#[cfg(target_arch = "wasm32")]
pub trait VisionPlugin: Sized + 'static {
    /// Builds the state from the config text `init` receives (resuming what it kept).
    fn init(config: &str, pole: &mut sao_plugin_sdk::wit::WitPlatform) -> Result<Self, String>;

    /// Takes the config text `on-config` receives; an error keeps the previous one.
    fn on_config(&mut self, config: &str) -> Result<(), String>;

    /// A tick: the time to act on what no frame brings (quiet incidents, periods).
    fn on_tick(&mut self, now_ms: u64, pole: &mut sao_plugin_sdk::wit::WitPlatform);

    /// One frame the detector ran on, with the detections the plugin subscribes to.
    fn on_detections(
        &mut self,
        frame: &Frame,
        found: &[Detection],
        pole: &mut sao_plugin_sdk::wit::WitPlatform,
    ) -> Result<(), String>;
}

/// Exports the `vision-plugin` world's handlers for a [`VisionPlugin`] state type:
/// `sao_plugin_sdk_vision::export_vision_plugin!(MyState);` in the plugin's component
/// module.
#[cfg(target_arch = "wasm32")]
#[macro_export]
macro_rules! export_vision_plugin {
    ($state:ty) => {
        thread_local! {
            /// The plugin's one state, built by `init`.
            static STATE: ::std::cell::RefCell<::std::option::Option<$state>> =
                const { ::std::cell::RefCell::new(None) };
        }

        /// The exported handlers.
        struct Component;

        impl $crate::bindings::Guest for Component {
            fn init(config: String) -> Result<(), String> {
                let pole = &mut $crate::__sdk::wit::WitPlatform;
                STATE.set(Some(<$state as $crate::VisionPlugin>::init(&config, pole)?));
                Ok(())
            }

            fn on_config(config: String) -> Result<(), String> {
                $crate::__sdk::wit::with_state(&STATE, |state, _| {
                    $crate::VisionPlugin::on_config(state, &config)
                })
            }

            fn on_reading(
                _reading: $crate::__sdk::wit::bindings::sao::plugin::types::Reading,
            ) -> Result<(), String> {
                Ok(())
            }

            fn on_tick(now: u64) -> Result<(), String> {
                $crate::__sdk::wit::with_state(&STATE, |state, pole| {
                    $crate::VisionPlugin::on_tick(state, now, pole);
                    Ok(())
                })
            }

            fn on_detections(
                frame: $crate::bindings::sao::plugin::vision::FrameInfo,
                found: Vec<$crate::bindings::sao::plugin::vision::Detection>,
            ) -> Result<(), String> {
                let frame = $crate::Frame::from(frame);
                let found: Vec<$crate::Detection> =
                    found.into_iter().map($crate::Detection::from).collect();
                $crate::__sdk::wit::with_state(&STATE, |state, pole| {
                    $crate::VisionPlugin::on_detections(state, &frame, &found, pole)
                })
            }
        }

        $crate::export!(Component);
    };
}
