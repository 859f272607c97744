//! AQI sub-indices, bands and the overall index against the published tables and real
//! air4thai data.

use sao_plugin_air_quality::aqi::{band, overall, sub_index, Pollutant, Standard};

use Pollutant::{Co, No2, Pm10, Pm25, So2, O3};
use Standard::{ThaiPcd2023, UsEpa2024};

/// A published band row: concentrations `c_lo..=c_hi` in input units give `i_lo..=i_hi`.
type Row = (f64, f64, u32, u32);

/// The breakpoint tables exactly as published (PCD announcement 2023; EPA 2024), written
/// out independently of the crate's own tables so that a typo in either shows.
fn published(standard: Standard, pollutant: Pollutant) -> &'static [Row] {
    match (standard, pollutant) {
        (ThaiPcd2023, Pm25) => &[
            (0.0, 15.0, 0, 25),
            (15.1, 25.0, 26, 50),
            (25.1, 37.5, 51, 100),
            (37.6, 75.0, 101, 200),
        ],
        (ThaiPcd2023, Pm10) => &[
            (0.0, 50.0, 0, 25),
            (51.0, 80.0, 26, 50),
            (81.0, 120.0, 51, 100),
            (121.0, 180.0, 101, 200),
        ],
        (ThaiPcd2023, O3) => &[
            (0.0, 35.0, 0, 25),
            (36.0, 50.0, 26, 50),
            (51.0, 70.0, 51, 100),
            (71.0, 120.0, 101, 200),
        ],
        (ThaiPcd2023, Co) => &[
            (0.0, 4.4, 0, 25),
            (4.5, 6.4, 26, 50),
            (6.5, 9.0, 51, 100),
            (9.1, 30.0, 101, 200),
        ],
        (ThaiPcd2023, No2) => &[
            (0.0, 60.0, 0, 25),
            (61.0, 106.0, 26, 50),
            (107.0, 170.0, 51, 100),
            (171.0, 340.0, 101, 200),
        ],
        (ThaiPcd2023, So2) => &[
            (0.0, 100.0, 0, 25),
            (101.0, 200.0, 26, 50),
            (201.0, 300.0, 51, 100),
            (301.0, 400.0, 101, 200),
        ],
        (UsEpa2024, Pm25) => &[
            (0.0, 9.0, 0, 50),
            (9.1, 35.4, 51, 100),
            (35.5, 55.4, 101, 150),
            (55.5, 125.4, 151, 200),
            (125.5, 225.4, 201, 300),
            (225.5, 325.4, 301, 500),
        ],
        (UsEpa2024, Pm10) => &[
            (0.0, 54.0, 0, 50),
            (55.0, 154.0, 51, 100),
            (155.0, 254.0, 101, 150),
            (255.0, 354.0, 151, 200),
            (355.0, 424.0, 201, 300),
            (425.0, 604.0, 301, 500),
        ],
        // EPA: 0.000–0.054 … 0.106–0.200 ppm, given here in ppb.
        (UsEpa2024, O3) => &[
            (0.0, 54.0, 0, 50),
            (55.0, 70.0, 51, 100),
            (71.0, 85.0, 101, 150),
            (86.0, 105.0, 151, 200),
            (106.0, 200.0, 201, 300),
        ],
        (UsEpa2024, Co) => &[
            (0.0, 4.4, 0, 50),
            (4.5, 9.4, 51, 100),
            (9.5, 12.4, 101, 150),
            (12.5, 15.4, 151, 200),
            (15.5, 30.4, 201, 300),
            (30.5, 50.4, 301, 500),
        ],
        (UsEpa2024, So2) => &[
            (0.0, 35.0, 0, 50),
            (36.0, 75.0, 51, 100),
            (76.0, 185.0, 101, 150),
            (186.0, 304.0, 151, 200),
            (305.0, 604.0, 201, 300),
            (605.0, 1004.0, 301, 500),
        ],
        (UsEpa2024, No2) => &[
            (0.0, 53.0, 0, 50),
            (54.0, 100.0, 51, 100),
            (101.0, 360.0, 101, 150),
            (361.0, 649.0, 151, 200),
            (650.0, 1249.0, 201, 300),
            (1250.0, 2049.0, 301, 500),
        ],
    }
}

/// Half the table resolution of a pollutant: a value in the gap between two rows.
fn half_step(pollutant: Pollutant) -> f64 {
    0.5 / 10_f64.powi(pollutant.decimals() as i32)
}

#[test]
fn every_air4thai_rayong_station_matches() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/air4thai_rayong_2026-08-11.json"
    );
    let text = std::fs::read_to_string(path).expect("air4thai sample readable");
    let stations: Vec<serde_json::Value> = serde_json::from_str(&text).expect("valid JSON");
    assert!(!stations.is_empty());
    for station in &stations {
        let id = &station["id"];
        let pm25 = station["pm25"].as_f64().expect("pm25 number");
        let published: u32 = station["aqi"]
            .as_str()
            .expect("aqi string")
            .parse()
            .expect("aqi integer");
        assert_eq!(
            sub_index(ThaiPcd2023, Pm25, pm25),
            Some(published),
            "station {id}: PM2.5 {pm25}"
        );
        let aqi = overall(ThaiPcd2023, &[(Pm25, pm25)]).expect("an index");
        assert_eq!((aqi.value, aqi.dominant), (published, Pm25), "station {id}");
    }
}

#[test]
fn both_breakpoints_of_every_band_give_the_band_limits() {
    for standard in Standard::ALL {
        for pollutant in Pollutant::ALL {
            for (row, &(c_lo, c_hi, i_lo, i_hi)) in
                published(standard, pollutant).iter().enumerate()
            {
                let what = format!("{standard:?} {pollutant:?} row {row}");
                assert_eq!(
                    sub_index(standard, pollutant, c_lo),
                    Some(i_lo),
                    "{what} lower"
                );
                assert_eq!(
                    sub_index(standard, pollutant, c_hi),
                    Some(i_hi),
                    "{what} upper"
                );
                assert_eq!(
                    band(standard, i_lo).aqi_min,
                    i_lo,
                    "{what}: a band starts at {i_lo}"
                );
                assert_eq!(
                    band(standard, i_hi).index,
                    band(standard, i_lo).index,
                    "{what}"
                );
            }
        }
    }
}

#[test]
fn concentrations_between_two_rows_truncate_into_the_lower_row() {
    for standard in Standard::ALL {
        for pollutant in Pollutant::ALL {
            for &(_, c_hi, _, i_hi) in published(standard, pollutant) {
                let between = c_hi + half_step(pollutant);
                assert_eq!(
                    sub_index(standard, pollutant, between),
                    Some(i_hi),
                    "{standard:?} {pollutant:?} {between}"
                );
            }
        }
    }
    // The brief's example: 15.05 µg/m³ is still "very good" for the PCD.
    assert_eq!(sub_index(ThaiPcd2023, Pm25, 15.05), Some(25));
    // A mean that lands a hair under a breakpoint by floating point stays on it.
    assert_eq!(sub_index(ThaiPcd2023, Pm25, 0.1 + 0.2 + 14.7), Some(25));
    assert_eq!(sub_index(UsEpa2024, Pm25, 35.4999), Some(100));
}

#[test]
fn interpolation_inside_a_band_rounds_half_up() {
    // 12.9 µg/m³ is exactly 21.5 on the PCD scale; air4thai shows 22.
    assert_eq!(sub_index(ThaiPcd2023, Pm25, 12.9), Some(22));
    // EPA 12.0 µg/m³: 51 + 49/26.3 · 2.9 = 56.40…
    assert_eq!(sub_index(UsEpa2024, Pm25, 12.0), Some(56));
    // EPA 8-hour ozone 87.4 ppb = 0.0874 ppm truncates to 0.087: 151 + 49/19 · 1 = 153.6.
    assert_eq!(sub_index(UsEpa2024, O3, 87.4), Some(154));
}

#[test]
fn pcd_pm25_above_200_follows_air4thai() {
    // 24-hour PM2.5 and AQI that PCD stations published (see AQI.md): one index point
    // per µg/m³ above 75.0.
    for (pm25, published) in [
        (100.7, 226),
        (99.8, 225),
        (117.8, 243),
        (82.7, 208),
        (216.8, 342),
        (90.5, 216),
    ] {
        assert_eq!(
            sub_index(ThaiPcd2023, Pm25, pm25),
            Some(published),
            "{pm25}"
        );
    }
    // The red band starts at 75.1 µg/m³, so its index is never below 201.
    assert_eq!(sub_index(ThaiPcd2023, Pm25, 75.1), Some(201));
    assert_eq!(band(ThaiPcd2023, 201).name_en, "Affecting health");
}

#[test]
fn other_pcd_pollutants_above_200_continue_the_orange_slope() {
    // O3 71–120 ppb spans 101–200: 99/49 points per ppb, from 200 at 120 ppb.
    assert_eq!(sub_index(ThaiPcd2023, O3, 121.0), Some(202));
    assert_eq!(sub_index(ThaiPcd2023, O3, 169.0), Some(299));
    // SO2 301–400 ppb spans 101–200: 1 point per ppb.
    assert_eq!(sub_index(ThaiPcd2023, So2, 401.0), Some(201));
    assert_eq!(sub_index(ThaiPcd2023, So2, 500.0), Some(300));
    // PM10 121–180 µg/m³: 99/59 per µg/m³; 181 would be 201.68, so 202.
    assert_eq!(sub_index(ThaiPcd2023, Pm10, 181.0), Some(202));
    // CO 9.1–30.0 ppm: 99/20.9 per ppm; 30.1 ppm is 200.47, raised to the band's 201.
    assert_eq!(sub_index(ThaiPcd2023, Co, 30.1), Some(201));
}

#[test]
fn epa_above_500_extends_the_last_band() {
    // 301 + 199/99.9 · (325.5 − 225.5) = 500.2.
    assert_eq!(sub_index(UsEpa2024, Pm25, 325.5), Some(500));
    // 301 + 199/99.9 · (500.4 − 225.5) = 848.6.
    assert_eq!(sub_index(UsEpa2024, Pm25, 500.4), Some(849));
    assert_eq!(band(UsEpa2024, 849).name_en, "Hazardous");
    // 8-hour ozone has no row above 0.200 ppm: the 201–300 line continues.
    assert_eq!(sub_index(UsEpa2024, O3, 201.0), Some(301));
    // Absurd values saturate instead of overflowing.
    assert_eq!(sub_index(UsEpa2024, No2, f64::MAX), Some(u32::MAX));
}

#[test]
fn invalid_concentrations_have_no_sub_index() {
    for standard in Standard::ALL {
        for pollutant in Pollutant::ALL {
            for bad in [-0.1, -1e9, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                assert_eq!(sub_index(standard, pollutant, bad), None, "{bad}");
            }
            assert_eq!(sub_index(standard, pollutant, 0.0), Some(0));
        }
    }
}

#[test]
fn overall_is_the_largest_sub_index() {
    let aqi = overall(
        ThaiPcd2023,
        &[(Pm25, 30.0), (O3, 80.0), (No2, f64::NAN), (Co, 1.0)],
    )
    .expect("an index");
    // PM2.5 30.0 → 51 + 49/12.4 · 4.9 = 70.4; O3 80 ppb → 101 + 99/49 · 9 = 119.2.
    assert_eq!(aqi.value, 119);
    assert_eq!(aqi.dominant, O3);
    assert_eq!(aqi.band.name_th, "เริ่มมีผลกระทบต่อสุขภาพ");

    // On a tie the first pollutant given is dominant.
    let tie = overall(UsEpa2024, &[(Pm10, 54.0), (Pm25, 9.0)]).expect("an index");
    assert_eq!((tie.value, tie.dominant), (50, Pm10));

    assert_eq!(overall(UsEpa2024, &[]), None);
    assert_eq!(overall(UsEpa2024, &[(Pm25, -3.0)]), None);
}

#[test]
fn bands_cover_the_scale_without_gaps() {
    for (standard, count) in [(ThaiPcd2023, 5), (UsEpa2024, 6)] {
        let bands = standard.bands();
        assert_eq!(bands.len(), count);
        for (position, b) in bands.iter().enumerate() {
            assert_eq!(b.index, position);
            assert_eq!(b.standard, standard);
            assert!(b.colour_hex.len() == 7 && b.colour_hex.starts_with('#'));
            assert!(u32::from_str_radix(&b.colour_hex[1..], 16).is_ok());
            assert_eq!(b.general_en.len(), b.general_th.len(), "{}", b.name_en);
            assert_eq!(b.sensitive_en.len(), b.sensitive_th.len(), "{}", b.name_en);
            assert!(std::ptr::eq(band(standard, b.aqi_min), b));
            if let Some(max) = b.aqi_max {
                assert!(std::ptr::eq(band(standard, max), b));
                assert_eq!(bands[position + 1].aqi_min, max + 1);
            } else {
                assert_eq!(position, count - 1, "only the top band is open");
            }
        }
        assert!(std::ptr::eq(band(standard, u32::MAX), &bands[count - 1]));
    }
    // Every PCD band carries the PCD's advice for both audiences.
    for b in ThaiPcd2023.bands() {
        assert!(
            !b.general_th.is_empty() && !b.sensitive_th.is_empty(),
            "{}",
            b.name_en
        );
    }
    // EPA gives no cautionary statement for Good.
    assert!(UsEpa2024.bands()[0].sensitive_en.is_empty());
}

#[test]
fn pollutant_averaging_periods_and_units() {
    let hours: Vec<u32> = Pollutant::ALL.iter().map(|p| p.averaging_hours()).collect();
    assert_eq!(hours, [24, 24, 8, 8, 1, 1]);
    assert_eq!(Co.unit(), "ppm");
    assert_eq!(O3.unit(), "ppb");
}

#[test]
fn standards_and_pollutants_serialize_by_their_names() {
    assert_eq!(
        serde_json::to_string(&ThaiPcd2023).unwrap(),
        "\"thai-pcd-2023\""
    );
    assert_eq!(
        serde_json::to_string(&UsEpa2024).unwrap(),
        "\"us-epa-2024\""
    );
    assert_eq!(
        serde_json::from_str::<Standard>("\"us-epa-2024\"").unwrap(),
        UsEpa2024
    );
    assert_eq!(serde_json::to_string(&Pm25).unwrap(), "\"pm25\"");
    assert_eq!(serde_json::from_str::<Pollutant>("\"so2\"").unwrap(), So2);
}
