//! Outdoor illuminance model driven by the sun's position.
//!
//! Horizontal illuminance `E` in lux as a function of solar altitude `h` (from
//! [`sun::pos`], a port of suncalc):
//!
//! * **Day** (`h ≥ 0`): `E = E_h + E_diff·sin h + E_sc·sin h·exp(−c / sin h)`.
//!   The last term is direct sunlight on a horizontal surface with the solar illuminance
//!   constant `E_sc` = 128 000 lx and a clear-sky extinction coefficient `c` = 0.21 over a
//!   plane-parallel air mass `1 / sin h` (Wikipedia, "Sunlight", section *Calculation*).
//!   The diffuse sky adds up to [`DIFFUSE_ZENITH_LX`]; `E_h` = 400 lx is the illuminance at
//!   sunrise/sunset on a clear day (Wikipedia, "Lux", table of illuminance examples).
//!   With the sun at the zenith the total is ≈ 119 000 lx; at noon in Bangkok in November
//!   (h ≈ 56°) ≈ 95 000 lx.
//! * **Civil twilight** (`−6° ≤ h < 0`): log-linear from 400 lx at the horizon to 3.4 lx at
//!   `h = −6°`, the conventional end of civil twilight (Wikipedia, "Twilight"), continuing
//!   with the same slope below −6°.
//! * **Night**: a floor of [`NIGHT_LX`] for sky glow and moonlight in a town (full moon
//!   gives 0.05–0.3 lx; urban sky glow a similar amount).
//!
//! Clouds multiply the natural light by `1 − 0.75·N^3.4` for a cloud fraction `N`
//! (Kasten & Czeplak 1980, derived for global solar irradiance). Sensor noise is a relative
//! error, uniformly distributed and constant for each minute, derived deterministically from
//! the seed and the minute.

/// Solar illuminance constant (extraterrestrial, normal incidence), lx.
pub const SOLAR_ILLUMINANCE_LX: f64 = 128_000.0;
/// Clear-sky atmospheric extinction coefficient for illuminance.
pub const EXTINCTION: f64 = 0.21;
/// Diffuse skylight on a horizontal surface with the sun at the zenith, lx.
pub const DIFFUSE_ZENITH_LX: f64 = 15_000.0;
/// Illuminance at sunrise or sunset on a clear day, lx.
pub const HORIZON_LX: f64 = 400.0;
/// Illuminance at the end of civil twilight (sun 6° below the horizon), lx.
pub const CIVIL_DUSK_LX: f64 = 3.4;
/// Night floor (moonlight and urban sky glow), lx.
pub const NIGHT_LX: f64 = 0.3;

/// Clear-sky horizontal illuminance in lx for a solar altitude in degrees.
pub fn clear_sky_lux(altitude_deg: f64) -> f64 {
    let natural = if altitude_deg >= 0.0 {
        let s = altitude_deg.to_radians().sin();
        let direct = if s > 0.0 {
            SOLAR_ILLUMINANCE_LX * s * (-EXTINCTION / s).exp()
        } else {
            0.0
        };
        HORIZON_LX + DIFFUSE_ZENITH_LX * s + direct
    } else {
        // Log-linear: 400 lx at 0°, 3.4 lx at -6°.
        let per_degree = (HORIZON_LX / CIVIL_DUSK_LX).ln() / 6.0;
        HORIZON_LX * (per_degree * altitude_deg).exp()
    };
    NIGHT_LX + natural
}

/// Fraction of clear-sky light passing a cloud cover `cover` (0..=1, clamped).
pub fn cloud_factor(cover: f64) -> f64 {
    1.0 - 0.75 * cover.clamp(0.0, 1.0).powf(3.4)
}

/// Seeded, deterministic illuminance at one place.
#[derive(Debug, Clone, PartialEq)]
pub struct LuxModel {
    /// Latitude, degrees north.
    pub latitude: f64,
    /// Longitude, degrees east.
    pub longitude: f64,
    /// Cloud fraction, 0..=1.
    pub cloud_cover: f64,
    /// Relative noise amplitude (0.05 = ±5 %).
    pub noise: f64,
    /// Noise seed.
    pub seed: u64,
}

impl LuxModel {
    /// Solar altitude in degrees at `unix_ms`.
    pub fn altitude_deg(&self, unix_ms: u64) -> f64 {
        let t = i64::try_from(unix_ms).unwrap_or(i64::MAX);
        sun::pos(t, self.latitude, self.longitude)
            .altitude
            .to_degrees()
    }

    /// Illuminance in lx at `unix_ms`; the same inputs always give the same value.
    pub fn lux_at(&self, unix_ms: u64) -> f64 {
        let clear = clear_sky_lux(self.altitude_deg(unix_ms));
        let cloudy = NIGHT_LX + (clear - NIGHT_LX) * cloud_factor(self.cloud_cover);
        let jitter = super::unit_noise(self.seed, super::LUX_SALT, unix_ms / 60_000);
        (cloudy * (1.0 + self.noise * jitter)).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chachoengsao, Thailand.
    fn model(noise: f64, seed: u64) -> LuxModel {
        LuxModel {
            latitude: 13.69,
            longitude: 101.07,
            cloud_cover: 0.3,
            noise,
            seed,
        }
    }

    const DAY: u64 = 1_795_219_200_000; // 2026-11-21T00:00Z
    const NOON: u64 = DAY + 5 * 3_600_000; // ≈ local solar noon
    const MIDNIGHT: u64 = DAY + 17 * 3_600_000; // ≈ local solar midnight

    #[test]
    fn noon_is_bright_and_midnight_dark() {
        let m = model(0.05, 7);
        let noon = m.lux_at(NOON);
        assert!(noon > 10_000.0 && noon < 130_000.0, "noon {noon}");
        let night = m.lux_at(MIDNIGHT);
        assert!(night < 5.0, "midnight {night}");
    }

    #[test]
    fn deterministic_per_seed_and_time() {
        let (a, b) = (model(0.05, 42), model(0.05, 42));
        for t in (NOON..NOON + 3_600_000).step_by(97_000) {
            assert_eq!(a.lux_at(t), b.lux_at(t));
            assert_eq!(a.lux_at(t), a.lux_at(t));
        }
        assert_ne!(model(0.05, 1).lux_at(NOON), model(0.05, 2).lux_at(NOON));
    }

    #[test]
    fn lux_falls_through_dusk() {
        let m = model(0.0, 0);
        let sunset = u64::try_from(sun::time_at_phase(
            i64::try_from(NOON).unwrap(),
            sun::SunPhase::Sunset,
            m.latitude,
            m.longitude,
            0.0,
        ))
        .unwrap();
        let mut prev = f64::INFINITY;
        for t in (sunset - 3_600_000..sunset + 3_600_000).step_by(300_000) {
            let lux = m.lux_at(t);
            assert!(lux < prev, "not falling at {t}: {lux} >= {prev}");
            prev = lux;
        }
        assert!(m.lux_at(sunset - 3_600_000) > 1_000.0);
        assert!(m.lux_at(sunset + 3_600_000) < 5.0);
        let at_sunset = m.lux_at(sunset);
        assert!((50.0..500.0).contains(&at_sunset), "sunset {at_sunset}");
        // Clear-sky anchors.
        assert!((clear_sky_lux(0.0) - 400.3).abs() < 1e-9);
        assert!((clear_sky_lux(-6.0) - 3.7).abs() < 1e-9);
    }
}
