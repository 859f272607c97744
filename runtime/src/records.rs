//! What the host reads back from the first-party plugins' upstream records, for the
//! technician page and the KPI report: the hourly AQI with its band, the night's energy
//! report, and traffic counts. The formats are the integrators' guide's
//! (`runtime/schemas/README.md`); a record that does not carry what is expected is not one
//! of these and is ignored.

use std::collections::BTreeMap;

use serde_json::Value;

/// Topic suffix of the air-quality plugin's hourly AQI.
pub const AQI_STREAM: (&str, &str) = ("air-quality", "aqi");
/// Topic suffix of the dimming plugin's nightly energy report.
pub const ENERGY_STREAM: (&str, &str) = ("dimming", "energy-daily");
/// Topic suffix of the accident plugin's traffic counts.
pub const TRAFFIC_STREAM: (&str, &str) = ("accident", "traffic");

/// One hour's AQI.
#[derive(Debug, Clone, PartialEq)]
pub struct Aqi {
    /// The index.
    pub value: f64,
    /// The band's key: `very-good`, `good`, `moderate`, `unhealthy-sensitive`,
    /// `unhealthy`, `very-unhealthy`, `hazardous` (or `unknown`).
    pub band: &'static str,
    /// The standard (`thai-pcd-2023`, `us-epa-2024`).
    pub standard: String,
    /// Whether an averaging window was still under 75 % complete.
    pub provisional: bool,
    /// The hour the windows end at, ms.
    pub ts_ms: u64,
}

/// Reads a `tele/air-quality/aqi` payload.
pub fn aqi(payload: &Value) -> Option<Aqi> {
    let metric = |name: &str| payload["metrics"][name]["value"].as_f64();
    let name = payload["details"]["band"]["name"]["en"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    Some(Aqi {
        value: metric("aqi")?,
        band: band_key(&name),
        standard: payload["details"]["standard"]
            .as_str()
            .unwrap_or_default()
            .into(),
        provisional: metric("provisional").unwrap_or_default() >= 1.0,
        ts_ms: payload["ts"].as_u64()?,
    })
}

/// The key of an AQI band, from its English name in either standard (Thai PCD bands 4
/// and 5 correspond to EPA's "unhealthy for sensitive groups" and "unhealthy").
pub fn band_key(name: &str) -> &'static str {
    match name {
        "very good" => "very-good",
        "good" => "good",
        "moderate" => "moderate",
        "starting to affect health" | "unhealthy for sensitive groups" => "unhealthy-sensitive",
        "affecting health" | "unhealthy" => "unhealthy",
        "very unhealthy" => "very-unhealthy",
        "hazardous" => "hazardous",
        _ => "unknown",
    }
}

/// One night's lighting energy, as the dimming plugin reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Energy {
    /// Energy the lamps used, kWh.
    pub used_kwh: f64,
    /// What the old lamps would have used, kWh.
    pub baseline_kwh: f64,
    /// The saving, percent (absent without a baseline).
    pub saving_percent: Option<f64>,
    /// When the night began, ms.
    pub night_start_ms: u64,
}

/// Reads a `tele/dimming/energy-daily` payload.
pub fn energy(payload: &Value) -> Option<Energy> {
    let metric = |name: &str| payload["metrics"][name]["value"].as_f64();
    Some(Energy {
        used_kwh: metric("kwh")?,
        baseline_kwh: metric("baseline-kwh")?,
        saving_percent: metric("saving"),
        night_start_ms: metric("night-start").map_or(0, |s| (s * 1000.0) as u64),
    })
}

/// The road users counted in a `tele/accident/traffic` payload, by class.
pub fn traffic(payload: &Value) -> BTreeMap<String, u64> {
    const CLASSES: [&str; 6] = ["car", "motorcycle", "bicycle", "bus", "truck", "person"];
    CLASSES
        .iter()
        .filter_map(|class| {
            let n = payload["metrics"][*class]["value"].as_f64()?;
            Some((class.to_string(), n as u64))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_first_party_records_and_ignores_others() {
        let aqi_record = json!({
            "ts": 7,
            "metrics": {"aqi": {"value": 121.0}, "provisional": {"value": 0.0}},
            "details": {"standard": "thai-pcd-2023", "band": {"name": {"en": "Starting to affect health"}}}
        });
        let a = aqi(&aqi_record).unwrap();
        assert_eq!(
            (a.value, a.band, a.provisional, a.ts_ms),
            (121.0, "unhealthy-sensitive", false, 7)
        );
        assert!(aqi(&json!({"ts": 1, "metrics": {}})).is_none());
        for (name, key) in [
            ("very good", "very-good"),
            ("affecting health", "unhealthy"),
            ("unhealthy for sensitive groups", "unhealthy-sensitive"),
            ("very unhealthy", "very-unhealthy"),
            ("hazardous", "hazardous"),
            ("smog", "unknown"),
        ] {
            assert_eq!(band_key(name), key);
        }
        let night = energy(&json!({"metrics": {"kwh": {"value": 0.87}, "baseline-kwh": {"value": 1.88}, "night-start": {"value": 1000.0}}})).unwrap();
        assert_eq!(
            (
                night.used_kwh,
                night.baseline_kwh,
                night.saving_percent,
                night.night_start_ms
            ),
            (0.87, 1.88, None, 1_000_000)
        );
        let counts = traffic(
            &json!({"metrics": {"car": {"value": 3.0}, "bus": {"value": 1.0}, "vehicles": {"value": 4.0}}}),
        );
        assert_eq!(
            counts,
            BTreeMap::from([("bus".into(), 1), ("car".into(), 3)])
        );
    }
}
