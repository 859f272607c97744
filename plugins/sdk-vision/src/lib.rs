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
/// `MyPlugin` implementing [`bindings::Guest`].
#[cfg(target_arch = "wasm32")]
pub use bindings::export;
