//! Photos attached to upstream records (an alert's, an incident report's): the JPEG shrunk
//! until it fits the record limit with base64, with its type, size and digest, or the
//! reason it was dropped. One photo never keeps its record from being queued.

use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Room a record keeps for everything but its photo, in bytes: the envelope, an event's
/// message (1 KiB, up to six times that escaped) and details (16 KiB).
pub const RESERVED_BYTES: usize = 24 * 1024;
/// JPEG quality of a photo shrunk to fit a record.
const SHRINK_QUALITY: i32 = 75;

/// Largest JPEG that fits, base64-encoded, in a record of `max_record_bytes`.
pub fn max_jpeg_bytes(max_record_bytes: usize) -> usize {
    // Base64 grows the JPEG by a third.
    max_record_bytes.saturating_sub(RESERVED_BYTES) / 4 * 3
}

/// `jpeg` as a record's `snapshot` member: shrunk (re-encoded smaller) to at most
/// `max_jpeg_bytes`, then `{content-type, bytes, sha256, data}` with the JPEG in base64;
/// `{error}` when it cannot be shrunk that far (or is not an image).
pub fn jpeg(jpeg: &[u8], max_jpeg_bytes: usize) -> Value {
    match sao_vision::snapshot::shrink(jpeg, max_jpeg_bytes, SHRINK_QUALITY) {
        Ok(fitted) => json!({
            "content-type": "image/jpeg",
            "bytes": fitted.len(),
            "sha256": hex::encode(Sha256::digest(&fitted)),
            "data": base64::engine::general_purpose::STANDARD.encode(&fitted),
        }),
        Err(e) => {
            tracing::warn!("snapshot dropped: {e}");
            json!({ "error": format!("snapshot dropped: {e}") })
        }
    }
}

/// A JPEG of random noise (which compresses badly), `width`×`height`, for tests.
#[cfg(test)]
pub(crate) fn noise_jpeg(width: i32, height: i32) -> Vec<u8> {
    use opencv::core::{Mat, Scalar, Vector, CV_8UC3};
    use opencv::prelude::VectorToVec as _;
    let mut frame =
        Mat::new_rows_cols_with_default(height, width, CV_8UC3, Scalar::all(0.0)).expect("frame");
    opencv::core::randu(&mut frame, &Scalar::all(0.0), &Scalar::all(255.0)).expect("noise");
    let mut jpeg = Vector::<u8>::new();
    let params = Vector::from_slice(&[opencv::imgcodecs::IMWRITE_JPEG_QUALITY, 95]);
    opencv::imgcodecs::imencode(".jpg", &frame, &mut jpeg, &params).expect("encode");
    jpeg.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jpeg_that_fits_is_attached_unchanged() {
        let small = noise_jpeg(32, 24);
        let value = jpeg(&small, small.len());
        assert_eq!(value["bytes"], small.len());
        assert_eq!(value["sha256"], hex::encode(Sha256::digest(&small)));
        let data = base64::engine::general_purpose::STANDARD
            .decode(value["data"].as_str().unwrap())
            .unwrap();
        assert_eq!(data, small);
        assert_eq!(max_jpeg_bytes(RESERVED_BYTES + 4000), 3000);
        assert_eq!(max_jpeg_bytes(1024), 0, "a record too small for any photo");
    }
}
