//! Photovoltaic output per kW of capacity, from physics:
//!
//! 1. **Sun position**: the NOAA solar calculator algorithm (Meeus, *Astronomical Algorithms*,
//!    low-precision solar coordinates with the equation of time), accurate to a fraction of a
//!    degree for 1950-2050; tested against Meeus' worked example and against the zenith angles
//!    of the NSRDB file in `../shared/data/solar`.
//! 2. **Clear-sky irradiance**: the Haurwitz model, `GHI = 1098 cos z exp(-0.057 / cos z)`.
//! 3. **Cloudiness**: a clear-sky index `kc = k_min + (1 - k_min) / (1 + exp(-(mu + x)))`
//!    where `x` is a daily AR(1) weather regime plus an hourly AR(1) perturbation; `mu` is
//!    solved so that the modelled year delivers the site's annual global horizontal
//!    irradiation (a published climatological number per site).
//! 4. **Plane of array**: Erbs decomposition of GHI into beam and diffuse, isotropic-sky
//!    transposition onto a fixed south-facing plane tilted at the latitude, ground albedo 0.2.
//! 5. **Derating**: cell temperature by the NOCT model (NOCT 45 °C), -0.35 %/K power
//!    coefficient, and PVWatts' default system losses (14 %) and inverter efficiency (96 %).

use super::climate::Climate;
use super::std_normal;
use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Where the sun is, seen from a point on the ground.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SunPosition {
    /// Angle from the vertical, degrees (above 90: below the horizon).
    pub zenith_deg: f64,
    /// Clockwise from north, degrees.
    pub azimuth_deg: f64,
    /// Apparent declination, degrees.
    pub declination_deg: f64,
    /// Equation of time, minutes.
    pub equation_of_time_min: f64,
}

/// Sun position at instant `t` for a point at `lat_deg` (north positive), `lon_deg` (east
/// positive). The NOAA solar calculator algorithm (no refraction correction).
pub fn sun_position(t: DateTime<Utc>, lat_deg: f64, lon_deg: f64) -> SunPosition {
    let secs = t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) * 1e-9;
    let jd = secs / 86_400.0 + 2_440_587.5;
    let jc = (jd - 2_451_545.0) / 36_525.0;
    let l0 = (280.466_46 + jc * (36_000.769_83 + jc * 0.000_303_2)).rem_euclid(360.0);
    let m = 357.529_11 + jc * (35_999.050_29 - 0.000_153_7 * jc);
    let e = 0.016_708_634 - jc * (0.000_042_037 + 0.000_000_126_7 * jc);
    let mr = m.to_radians();
    let c = mr.sin() * (1.914_602 - jc * (0.004_817 + 0.000_014 * jc))
        + (2.0 * mr).sin() * (0.019_993 - 0.000_101 * jc)
        + (3.0 * mr).sin() * 0.000_289;
    let true_long = l0 + c;
    let omega = (125.04 - 1_934.136 * jc).to_radians();
    let app_long = true_long - 0.005_69 - 0.004_78 * omega.sin();
    let mean_obliq =
        23.0 + (26.0 + (21.448 - jc * (46.815 + jc * (0.000_59 - jc * 0.001_813))) / 60.0) / 60.0;
    let obliq = (mean_obliq + 0.002_56 * omega.cos()).to_radians();
    let decl = (obliq.sin() * app_long.to_radians().sin()).asin();
    let y = (obliq / 2.0).tan().powi(2);
    let l0r = l0.to_radians();
    let eot = 4.0
        * (y * (2.0 * l0r).sin() - 2.0 * e * mr.sin() + 4.0 * e * y * mr.sin() * (2.0 * l0r).cos()
            - 0.5 * y * y * (4.0 * l0r).sin()
            - 1.25 * e * e * (2.0 * mr).sin())
        .to_degrees();
    let minutes = f64::from(t.hour()) * 60.0
        + f64::from(t.minute())
        + (f64::from(t.second()) + f64::from(t.timestamp_subsec_nanos()) * 1e-9) / 60.0;
    let tst = (minutes + eot + 4.0 * lon_deg).rem_euclid(1_440.0);
    let ha = tst / 4.0 - 180.0;
    let lat = lat_deg.to_radians();
    let cos_z =
        (lat.sin() * decl.sin() + lat.cos() * decl.cos() * ha.to_radians().cos()).clamp(-1.0, 1.0);
    let z = cos_z.acos();
    let denom = lat.cos() * z.sin();
    let az = if denom.abs() < 1e-12 {
        180.0
    } else {
        let a = ((lat.sin() * cos_z - decl.sin()) / denom)
            .clamp(-1.0, 1.0)
            .acos()
            .to_degrees();
        if ha > 0.0 {
            (a + 180.0).rem_euclid(360.0)
        } else {
            (540.0 - a).rem_euclid(360.0)
        }
    };
    SunPosition {
        zenith_deg: z.to_degrees(),
        azimuth_deg: az,
        declination_deg: decl.to_degrees(),
        equation_of_time_min: eot,
    }
}

/// Extraterrestrial normal irradiance on day-of-year `doy`, W/m² (solar constant 1361).
pub fn extraterrestrial(doy: u32) -> f64 {
    1361.0 * (1.0 + 0.033 * (std::f64::consts::TAU * f64::from(doy) / 365.0).cos())
}

/// Haurwitz clear-sky global horizontal irradiance, W/m².
pub fn clear_sky_ghi(zenith_deg: f64) -> f64 {
    let cz = zenith_deg.to_radians().cos();
    if cz <= 0.0 {
        0.0
    } else {
        1098.0 * cz * (-0.057 / cz).exp()
    }
}

/// Erbs decomposition: (DNI, DHI) from GHI, W/m².
pub fn erbs(ghi: f64, zenith_deg: f64, doy: u32) -> (f64, f64) {
    let cz = zenith_deg.to_radians().cos();
    if ghi <= 0.0 || cz <= 0.0 {
        return (0.0, ghi.max(0.0));
    }
    let kt = (ghi / (extraterrestrial(doy) * cz)).clamp(0.0, 1.0);
    let df = if kt <= 0.22 {
        1.0 - 0.09 * kt
    } else if kt <= 0.8 {
        0.9511 - 0.1604 * kt + 4.388 * kt.powi(2) - 16.638 * kt.powi(3) + 12.336 * kt.powi(4)
    } else {
        0.165
    };
    let dhi = df * ghi;
    // Near the horizon the beam component is too uncertain to divide by cos z.
    if cz < 0.065 {
        return (0.0, ghi);
    }
    ((ghi - dhi) / cz, dhi)
}

/// A fixed, south-facing PV array (north of the tropics) and its derating.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PvSystem {
    pub tilt_deg: f64,
    /// Clockwise from north (180: south).
    pub azimuth_deg: f64,
    pub albedo: f64,
    /// Nominal operating cell temperature, °C.
    pub noct_c: f64,
    /// Relative power change per K of cell temperature above 25 °C.
    pub gamma_per_k: f64,
    /// DC system losses (soiling, wiring, mismatch, availability...), fraction.
    pub losses: f64,
    pub inverter_efficiency: f64,
}

impl PvSystem {
    /// Tilt at the latitude, facing the equator, PVWatts' default losses.
    pub fn at_latitude(lat_deg: f64) -> Self {
        PvSystem {
            tilt_deg: lat_deg.abs(),
            azimuth_deg: if lat_deg >= 0.0 { 180.0 } else { 0.0 },
            albedo: 0.2,
            noct_c: 45.0,
            gamma_per_k: -0.0035,
            losses: 0.14,
            inverter_efficiency: 0.96,
        }
    }

    /// Plane-of-array irradiance, W/m² (isotropic sky).
    pub fn poa(&self, sun: &SunPosition, ghi: f64, dni: f64, dhi: f64) -> f64 {
        if sun.zenith_deg >= 90.0 {
            return 0.0;
        }
        let b = self.tilt_deg.to_radians();
        let z = sun.zenith_deg.to_radians();
        let cos_aoi = z.cos() * b.cos()
            + z.sin() * b.sin() * (sun.azimuth_deg - self.azimuth_deg).to_radians().cos();
        (dni * cos_aoi.max(0.0)
            + dhi * (1.0 + b.cos()) / 2.0
            + ghi * self.albedo * (1.0 - b.cos()) / 2.0)
            .max(0.0)
    }

    /// AC output per kW of DC capacity (0..=1) for plane-of-array irradiance `poa` (W/m²) and
    /// air temperature `t_air` (°C).
    pub fn output_per_kw(&self, poa: f64, t_air: f64) -> f64 {
        let t_cell = t_air + poa * (self.noct_c - 20.0) / 800.0;
        let dc = poa / 1000.0 * (1.0 + self.gamma_per_k * (t_cell - 25.0));
        (dc * (1.0 - self.losses) * self.inverter_efficiency).clamp(0.0, 1.0)
    }

    /// Output per kW from measured irradiance components at instant `t`.
    #[allow(clippy::too_many_arguments)]
    pub fn output_from_irradiance(
        &self,
        t: DateTime<Utc>,
        lat: f64,
        lon: f64,
        ghi: f64,
        dni: f64,
        dhi: f64,
        t_air: f64,
    ) -> f64 {
        let sun = sun_position(t, lat, lon);
        self.output_per_kw(self.poa(&sun, ghi, dni, dhi), t_air)
    }
}

/// A PV site: where it is, how sunny the year is, and the array.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolarSite {
    pub latitude: f64,
    pub longitude: f64,
    /// Annual global horizontal irradiation, kWh/m² per year.
    pub annual_ghi_kwh_m2: f64,
    pub system: PvSystem,
}

/// Parameters of the cloudiness process (shared by every site; see the module docs).
const K_MIN: f64 = 0.08;
const DAILY_PHI: f64 = 0.55;
const DAILY_SIGMA: f64 = 1.6;
const HOURLY_PHI: f64 = 0.75;
const HOURLY_SIGMA: f64 = 0.7;

fn clear_sky_index(mu: f64, x: f64) -> f64 {
    K_MIN + (1.0 - K_MIN) / (1.0 + (-(mu + x)).exp())
}

/// Modelled PV output per kW of capacity, one value per hour for `hours` hours from `start`
/// (each value at the middle of its hour), deterministic for `seed`. `temperature_c` gives
/// the air temperature of each hour (same length).
///
/// The cloudiness offset is calibrated on the calendar year that contains `start`, so a week
/// taken out of a year has the weather of that year, not an average one.
pub fn hourly_output(
    site: &SolarSite,
    start: DateTime<Utc>,
    hours: usize,
    climate: &Climate,
    seed: u64,
) -> Vec<f64> {
    let year_start = Utc
        .with_ymd_and_hms(start.year(), 1, 1, 0, 0, 0)
        .single()
        .expect("valid date");
    let offset = ((start - year_start).num_minutes() as f64 / 60.0)
        .floor()
        .max(0.0) as usize;
    let total = (offset + hours).max(8_760);
    // Sun and clear-sky irradiance of every hour.
    let mut sun = Vec::with_capacity(total);
    let mut cs = Vec::with_capacity(total);
    for h in 0..total {
        let t = year_start + Duration::minutes(h as i64 * 60 + 30);
        let p = sun_position(t, site.latitude, site.longitude);
        cs.push(clear_sky_ghi(p.zenith_deg));
        sun.push((p, t.ordinal()));
    }
    // The weather regime: daily and hourly AR(1) in the same latent variable.
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x501a_5eed);
    let mut x = Vec::with_capacity(total);
    let mut daily = 0.0;
    let mut hourly = 0.0;
    let sd_d = DAILY_SIGMA * (1.0 - DAILY_PHI * DAILY_PHI).sqrt();
    let sd_h = HOURLY_SIGMA * (1.0 - HOURLY_PHI * HOURLY_PHI).sqrt();
    for h in 0..total {
        if h % 24 == 0 {
            daily = DAILY_PHI * daily + sd_d * std_normal(&mut rng);
        }
        hourly = HOURLY_PHI * hourly + sd_h * std_normal(&mut rng);
        x.push(daily + hourly);
    }
    // Calibrate mu on the first full year so that annual GHI matches the site's.
    let target_wh = site.annual_ghi_kwh_m2 * 1000.0;
    let year_ghi = |mu: f64| -> f64 {
        (0..8_760)
            .map(|h| cs[h] * clear_sky_index(mu, x[h]))
            .sum::<f64>()
    };
    let (mut lo, mut hi) = (-8.0, 8.0);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if year_ghi(mid) < target_wh {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let mu = 0.5 * (lo + hi);
    let temps = climate.hourly(year_start, total, seed);
    (offset..offset + hours)
        .map(|h| {
            let (p, doy) = &sun[h];
            let ghi = cs[h] * clear_sky_index(mu, x[h]);
            let (dni, dhi) = erbs(ghi, p.zenith_deg, *doy);
            site.system
                .output_per_kw(site.system.poa(p, ghi, dni, dhi), temps[h])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declination_matches_meeus_example_25a() {
        // Meeus, Astronomical Algorithms, example 25.a: 1992 October 13, 0h TD; apparent
        // declination -7°47'06" = -7.785°. (TD - UT was about 59 s then.)
        let t = Utc.with_ymd_and_hms(1992, 10, 12, 23, 59, 1).unwrap();
        let p = sun_position(t, 0.0, 0.0);
        assert!(
            (p.declination_deg - (-7.785_07)).abs() < 0.01,
            "{}",
            p.declination_deg
        );
        // Equation of time that day: +13.7 minutes (Meeus example 28.b: 13m42.6s).
        assert!(
            (p.equation_of_time_min - 13.71).abs() < 0.1,
            "{}",
            p.equation_of_time_min
        );
    }

    #[test]
    fn noon_zenith_at_the_equinox_is_the_latitude() {
        // Around 2024-03-20 the declination is ~0: solar-noon zenith ~ latitude.
        let t = Utc.with_ymd_and_hms(2024, 3, 20, 4, 0, 0).unwrap();
        // Solar noon at 120 E is about 04:07 UTC that day; scan the hour for the minimum.
        let best = (0..120)
            .map(|m| sun_position(t + Duration::minutes(m), 40.0, 120.0).zenith_deg)
            .fold(f64::INFINITY, f64::min);
        assert!((best - 40.0).abs() < 0.5, "{best}");
    }

    #[test]
    fn output_is_bounded_and_zero_at_night() {
        let site = SolarSite {
            latitude: 37.5,
            longitude: 105.2,
            annual_ghi_kwh_m2: 1650.0,
            system: PvSystem::at_latitude(37.5),
        };
        let climate = Climate {
            mean_c: 9.0,
            seasonal_amplitude_c: 14.0,
            diurnal_amplitude_c: 7.0,
            utc_offset_h: 8.0,
        };
        let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let a = hourly_output(&site, start, 8_784, &climate, 1);
        assert!(a.iter().all(|v| (0.0..=1.0).contains(v)));
        // 20:00 UTC is 04:00 local: dark.
        assert_eq!(a[20], 0.0);
        let cf = a.iter().sum::<f64>() / a.len() as f64;
        // A very sunny inland site: 1,400-1,900 full-load hours a year.
        assert!((0.15..0.22).contains(&cf), "{cf}");
        assert_eq!(a, hourly_output(&site, start, 8_784, &climate, 1));
        assert_ne!(a, hourly_output(&site, start, 8_784, &climate, 2));
    }
}
