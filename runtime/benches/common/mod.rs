//! What the benchmarks share.

use sao_runtime::uplink::Identity;

/// The pole every benchmark pretends to be.
pub fn identity() -> Identity {
    Identity {
        site: "bench".into(),
        id: "pole-1".into(),
        latitude: 13.69,
        longitude: 101.07,
        utc_offset_minutes: 420,
    }
}
