//! Breakpoint tables of both standards and the interpolation over them.
//!
//! Concentrations are in *table units*: the pollutant's input unit scaled by
//! 10^[`Pollutant::decimals`] (tenths of µg/m³ for PM2.5, tenths of ppm for CO, whole
//! units otherwise), so 37.6 µg/m³ of PM2.5 is 376. Sources: see `AQI.md`.

use super::{Pollutant, Standard};

/// One breakpoint band: concentrations `c_lo..=c_hi` map linearly onto `i_lo..=i_hi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment {
    /// Lowest concentration of the band, table units.
    pub c_lo: i64,
    /// Highest concentration of the band, table units.
    pub c_hi: i64,
    /// Index at `c_lo`.
    pub i_lo: u32,
    /// Index at `c_hi`.
    pub i_hi: u32,
}

/// A pollutant's breakpoints in one standard and its rule above the last one.
#[derive(Debug)]
pub(crate) struct Table {
    /// Bands with both breakpoints, ascending and contiguous (`c_lo` of one is `c_hi + 1`
    /// of the previous).
    pub segments: &'static [Segment],
    /// Above the last segment: `(rise, run)` index points per table units, counted from
    /// the last segment's top; `None` continues the last segment's own slope.
    pub above_slope: Option<(i64, i64)>,
    /// The lowest index a concentration above the last segment gets: 201 where the PCD
    /// table has an open top band starting there, 0 for the EPA (no floor needed).
    pub above_floor: u32,
}

impl Table {
    /// The index of a concentration in table units (non-negative).
    pub fn index(&self, units: i64) -> u32 {
        match self.segments.iter().find(|s| units <= s.c_hi) {
            Some(s) => {
                s.i_lo
                    + rounded_ratio(
                        i128::from(s.i_hi - s.i_lo) * i128::from(units - s.c_lo),
                        i128::from(s.c_hi - s.c_lo),
                    )
            }
            None => {
                // Tables are never empty; above them the last segment is the reference.
                let last = self.segments[self.segments.len() - 1];
                let (rise, run) = self
                    .above_slope
                    .unwrap_or((i64::from(last.i_hi - last.i_lo), last.c_hi - last.c_lo));
                let above = rounded_ratio(
                    i128::from(rise) * i128::from(units - last.c_hi),
                    i128::from(run),
                );
                last.i_hi.saturating_add(above).max(self.above_floor)
            }
        }
    }
}

/// `num / den` rounded half up, for `num >= 0` and `den > 0`, saturating at `u32::MAX`.
fn rounded_ratio(num: i128, den: i128) -> u32 {
    u32::try_from((2 * num + den) / (2 * den)).unwrap_or(u32::MAX)
}

const fn seg(c_lo: i64, c_hi: i64, i_lo: u32, i_hi: u32) -> Segment {
    Segment {
        c_lo,
        c_hi,
        i_lo,
        i_hi,
    }
}

/// Index of the first value of the PCD's open top band ("201 ขึ้นไป").
const PCD_TOP_BAND: u32 = 201;

/// PCD PM2.5, 24 h, tenths of µg/m³: 0–15.0, 15.1–25.0, 25.1–37.5, 37.6–75.0, 75.1 and up.
/// Above 75.0, air4thai publishes one index point per µg/m³ (10 table units).
static PCD_PM25: Table = Table {
    segments: &[
        seg(0, 150, 0, 25),
        seg(151, 250, 26, 50),
        seg(251, 375, 51, 100),
        seg(376, 750, 101, 200),
    ],
    above_slope: Some((1, 10)),
    above_floor: PCD_TOP_BAND,
};

/// PCD PM10, 24 h, µg/m³: 0–50, 51–80, 81–120, 121–180, 181 and up.
static PCD_PM10: Table = Table {
    segments: &[
        seg(0, 50, 0, 25),
        seg(51, 80, 26, 50),
        seg(81, 120, 51, 100),
        seg(121, 180, 101, 200),
    ],
    above_slope: None,
    above_floor: PCD_TOP_BAND,
};

/// PCD O3, 8 h, ppb: 0–35, 36–50, 51–70, 71–120, 121 and up.
static PCD_O3: Table = Table {
    segments: &[
        seg(0, 35, 0, 25),
        seg(36, 50, 26, 50),
        seg(51, 70, 51, 100),
        seg(71, 120, 101, 200),
    ],
    above_slope: None,
    above_floor: PCD_TOP_BAND,
};

/// PCD CO, 8 h, tenths of ppm: 0–4.4, 4.5–6.4, 6.5–9.0, 9.1–30.0, 30.1 and up.
static PCD_CO: Table = Table {
    segments: &[
        seg(0, 44, 0, 25),
        seg(45, 64, 26, 50),
        seg(65, 90, 51, 100),
        seg(91, 300, 101, 200),
    ],
    above_slope: None,
    above_floor: PCD_TOP_BAND,
};

/// PCD NO2, 1 h, ppb: 0–60, 61–106, 107–170, 171–340, 341 and up.
static PCD_NO2: Table = Table {
    segments: &[
        seg(0, 60, 0, 25),
        seg(61, 106, 26, 50),
        seg(107, 170, 51, 100),
        seg(171, 340, 101, 200),
    ],
    above_slope: None,
    above_floor: PCD_TOP_BAND,
};

/// PCD SO2, 1 h, ppb: 0–100, 101–200, 201–300, 301–400, 401 and up.
static PCD_SO2: Table = Table {
    segments: &[
        seg(0, 100, 0, 25),
        seg(101, 200, 26, 50),
        seg(201, 300, 51, 100),
        seg(301, 400, 101, 200),
    ],
    above_slope: None,
    above_floor: PCD_TOP_BAND,
};

/// EPA PM2.5, 24 h, tenths of µg/m³ (2024 revision).
static EPA_PM25: Table = Table {
    segments: &[
        seg(0, 90, 0, 50),
        seg(91, 354, 51, 100),
        seg(355, 554, 101, 150),
        seg(555, 1254, 151, 200),
        seg(1255, 2254, 201, 300),
        seg(2255, 3254, 301, 500),
    ],
    above_slope: None,
    above_floor: 0,
};

/// EPA PM10, 24 h, µg/m³.
static EPA_PM10: Table = Table {
    segments: &[
        seg(0, 54, 0, 50),
        seg(55, 154, 51, 100),
        seg(155, 254, 101, 150),
        seg(255, 354, 151, 200),
        seg(355, 424, 201, 300),
        seg(425, 604, 301, 500),
    ],
    above_slope: None,
    above_floor: 0,
};

/// EPA O3, 8 h, ppb (EPA: 0.000–0.054 … 0.106–0.200 ppm). EPA defines no 8-hour
/// breakpoints above 0.200 ppm (it uses 1-hour ozone there); the 201–300 line continues.
static EPA_O3: Table = Table {
    segments: &[
        seg(0, 54, 0, 50),
        seg(55, 70, 51, 100),
        seg(71, 85, 101, 150),
        seg(86, 105, 151, 200),
        seg(106, 200, 201, 300),
    ],
    above_slope: None,
    above_floor: 0,
};

/// EPA CO, 8 h, tenths of ppm.
static EPA_CO: Table = Table {
    segments: &[
        seg(0, 44, 0, 50),
        seg(45, 94, 51, 100),
        seg(95, 124, 101, 150),
        seg(125, 154, 151, 200),
        seg(155, 304, 201, 300),
        seg(305, 504, 301, 500),
    ],
    above_slope: None,
    above_floor: 0,
};

/// EPA NO2, 1 h, ppb.
static EPA_NO2: Table = Table {
    segments: &[
        seg(0, 53, 0, 50),
        seg(54, 100, 51, 100),
        seg(101, 360, 101, 150),
        seg(361, 649, 151, 200),
        seg(650, 1249, 201, 300),
        seg(1250, 2049, 301, 500),
    ],
    above_slope: None,
    above_floor: 0,
};

/// EPA SO2, ppb. The table's rows above 304 ppb are defined on 24-hour averages; they are
/// applied to the 1-hour average here, which can only overstate the index (see `AQI.md`).
static EPA_SO2: Table = Table {
    segments: &[
        seg(0, 35, 0, 50),
        seg(36, 75, 51, 100),
        seg(76, 185, 101, 150),
        seg(186, 304, 151, 200),
        seg(305, 604, 201, 300),
        seg(605, 1004, 301, 500),
    ],
    above_slope: None,
    above_floor: 0,
};

/// The table of a pollutant in a standard.
pub(crate) fn table(standard: Standard, pollutant: Pollutant) -> &'static Table {
    match (standard, pollutant) {
        (Standard::ThaiPcd2023, Pollutant::Pm25) => &PCD_PM25,
        (Standard::ThaiPcd2023, Pollutant::Pm10) => &PCD_PM10,
        (Standard::ThaiPcd2023, Pollutant::O3) => &PCD_O3,
        (Standard::ThaiPcd2023, Pollutant::Co) => &PCD_CO,
        (Standard::ThaiPcd2023, Pollutant::No2) => &PCD_NO2,
        (Standard::ThaiPcd2023, Pollutant::So2) => &PCD_SO2,
        (Standard::UsEpa2024, Pollutant::Pm25) => &EPA_PM25,
        (Standard::UsEpa2024, Pollutant::Pm10) => &EPA_PM10,
        (Standard::UsEpa2024, Pollutant::O3) => &EPA_O3,
        (Standard::UsEpa2024, Pollutant::Co) => &EPA_CO,
        (Standard::UsEpa2024, Pollutant::No2) => &EPA_NO2,
        (Standard::UsEpa2024, Pollutant::So2) => &EPA_SO2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_tile_the_axis_and_index_scale() {
        for standard in Standard::ALL {
            for pollutant in Pollutant::ALL {
                let segments = table(standard, pollutant).segments;
                assert_eq!(segments[0].c_lo, 0, "{standard:?} {pollutant:?}");
                assert_eq!(segments[0].i_lo, 0, "{standard:?} {pollutant:?}");
                for pair in segments.windows(2) {
                    assert_eq!(pair[1].c_lo, pair[0].c_hi + 1, "{standard:?} {pollutant:?}");
                    assert_eq!(pair[1].i_lo, pair[0].i_hi + 1, "{standard:?} {pollutant:?}");
                }
                for s in segments {
                    assert!(
                        s.c_lo < s.c_hi && s.i_lo < s.i_hi,
                        "{standard:?} {pollutant:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_segment_starts_a_band_of_its_standard() {
        for standard in Standard::ALL {
            for pollutant in Pollutant::ALL {
                for s in table(standard, pollutant).segments {
                    assert!(
                        standard.bands().iter().any(|b| b.aqi_min == s.i_lo),
                        "{standard:?} {pollutant:?} {s:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn rounding_is_half_up() {
        assert_eq!(rounded_ratio(5, 2), 3);
        assert_eq!(rounded_ratio(7, 3), 2);
        assert_eq!(rounded_ratio(0, 9), 0);
    }
}
