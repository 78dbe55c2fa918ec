//! Wind-farm output per kW of capacity.
//!
//! Wind speed at a reference height (10 m) is a seeded Gaussian AR(1) process (lag-one
//! correlation 0.93 per hour, i.e. weather systems of a day or two) mapped through its normal
//! CDF onto a Weibull marginal (shape `k`), then shaped by a daily and a seasonal cycle,
//! scaled to hub height by the power law (`v_hub = v_ref (h_hub / h_ref)^alpha`) and turned
//! into power by a generic turbine power curve (cubic between cut-in and rated speed, flat to
//! cut-out).
//!
//! The Weibull scale is not a free input: [`WindSite::calibrated`] solves it so that the
//! *expected* capacity factor (integrated over the Weibull distribution and both cycles, with
//! no random draw) equals the site's target, the province's published annual utilisation
//! hours / 8,760. A seeded year then scatters around that target as real years do.

use super::{normal_cdf, std_normal};
use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::f64::consts::TAU;

/// A generic utility-scale turbine power curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerCurve {
    pub cut_in_ms: f64,
    pub rated_ms: f64,
    pub cut_out_ms: f64,
}

impl PowerCurve {
    /// A typical 3-4 MW onshore turbine: cut-in 3 m/s, rated 11.5 m/s, cut-out 25 m/s.
    pub fn generic() -> Self {
        PowerCurve {
            cut_in_ms: 3.0,
            rated_ms: 11.5,
            cut_out_ms: 25.0,
        }
    }

    /// Output per kW of capacity at hub-height speed `v`.
    pub fn output(&self, v: f64) -> f64 {
        if v < self.cut_in_ms || v >= self.cut_out_ms {
            0.0
        } else if v >= self.rated_ms {
            1.0
        } else {
            (v.powi(3) - self.cut_in_ms.powi(3)) / (self.rated_ms.powi(3) - self.cut_in_ms.powi(3))
        }
    }
}

/// A wind site: its wind climate and its turbines.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindSite {
    /// Weibull shape of the reference-height speed.
    pub weibull_k: f64,
    /// Weibull scale at the reference height, m/s.
    pub weibull_scale_ms: f64,
    pub ref_height_m: f64,
    pub hub_height_m: f64,
    /// Power-law shear exponent.
    pub shear_alpha: f64,
    /// Relative amplitude of the daily cycle of speed, and its peak hour (local).
    pub diurnal_amplitude: f64,
    pub diurnal_peak_hour: f64,
    /// Relative amplitude of the seasonal cycle of speed, and its peak day of year.
    pub seasonal_amplitude: f64,
    pub seasonal_peak_doy: f64,
    /// Local time offset for the daily cycle, hours east of UTC.
    pub utc_offset_h: f64,
    pub curve: PowerCurve,
}

const AR_PHI: f64 = 0.93;

impl WindSite {
    fn modulation(&self, local_h: f64, doy: f64) -> f64 {
        (1.0 + self.diurnal_amplitude * (TAU * (local_h - self.diurnal_peak_hour) / 24.0).cos())
            * (1.0
                + self.seasonal_amplitude * (TAU * (doy - self.seasonal_peak_doy) / 365.25).cos())
    }

    fn hub_factor(&self) -> f64 {
        (self.hub_height_m / self.ref_height_m).powf(self.shear_alpha)
    }

    /// Expected capacity factor over a year (no randomness): the power curve averaged over
    /// 400 Weibull quantiles, 24 hours and 24 half-months.
    pub fn expected_cf(&self) -> f64 {
        let n = 400;
        let quantiles: Vec<f64> = (0..n)
            .map(|i| {
                let u = (i as f64 + 0.5) / n as f64;
                self.weibull_scale_ms * (-(1.0 - u).ln()).powf(1.0 / self.weibull_k)
            })
            .collect();
        let hub = self.hub_factor();
        let mut sum = 0.0;
        let mut count = 0.0;
        for d in 0..24 {
            let doy = (d as f64 + 0.5) * 365.25 / 24.0;
            for h in 0..24 {
                let m = self.modulation(h as f64 + 0.5, doy) * hub;
                sum += quantiles
                    .iter()
                    .map(|v| self.curve.output(v * m))
                    .sum::<f64>();
                count += n as f64;
            }
        }
        sum / count
    }

    /// This site with the Weibull scale solved so that [`Self::expected_cf`] is `target_cf`.
    pub fn calibrated(mut self, target_cf: f64) -> Self {
        let (mut lo, mut hi) = (0.5, 20.0);
        for _ in 0..50 {
            self.weibull_scale_ms = 0.5 * (lo + hi);
            if self.expected_cf() < target_cf {
                lo = self.weibull_scale_ms;
            } else {
                hi = self.weibull_scale_ms;
            }
        }
        self.weibull_scale_ms = 0.5 * (lo + hi);
        self
    }

    /// Hub-height wind speed, m/s, one value per hour (middle of the hour) from `start`.
    pub fn hourly_speed(&self, start: DateTime<Utc>, hours: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x3141_5926);
        let sd = (1.0 - AR_PHI * AR_PHI).sqrt();
        let mut z = std_normal(&mut rng);
        let hub = self.hub_factor();
        (0..hours)
            .map(|h| {
                if h > 0 {
                    z = AR_PHI * z + sd * std_normal(&mut rng);
                }
                let u = normal_cdf(z).clamp(1e-12, 1.0 - 1e-12);
                let v_ref = self.weibull_scale_ms * (-(1.0 - u).ln()).powf(1.0 / self.weibull_k);
                let t = start + Duration::minutes(h as i64 * 60 + 30);
                let local_h =
                    (f64::from(t.hour()) + f64::from(t.minute()) / 60.0 + self.utc_offset_h)
                        .rem_euclid(24.0);
                let doy = f64::from(t.ordinal()) - 1.0;
                v_ref * self.modulation(local_h, doy) * hub
            })
            .collect()
    }

    /// Output per kW of capacity, one value per hour from `start`.
    pub fn hourly_output(&self, start: DateTime<Utc>, hours: usize, seed: u64) -> Vec<f64> {
        self.hourly_speed(start, hours, seed)
            .into_iter()
            .map(|v| self.curve.output(v))
            .collect()
    }
}

/// A wind climate typical of northern and western China (assumptions, see
/// `docs/default-scenario.md`): Weibull shape 2.0 at 10 m, hub at 100 m, shear exponent 1/7,
/// speed 12 % above average in the late evening (22:00 local) and 12 % above average in spring
/// (day 100). The scale is left for [`WindSite::calibrated`].
pub fn continental(utc_offset_h: f64) -> WindSite {
    WindSite {
        weibull_k: 2.0,
        weibull_scale_ms: 6.0,
        ref_height_m: 10.0,
        hub_height_m: 100.0,
        shear_alpha: 1.0 / 7.0,
        diurnal_amplitude: 0.12,
        diurnal_peak_hour: 22.0,
        seasonal_amplitude: 0.12,
        seasonal_peak_doy: 100.0,
        utc_offset_h,
        curve: PowerCurve::generic(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn power_curve_shape() {
        let c = PowerCurve::generic();
        assert_eq!(c.output(2.0), 0.0);
        assert_eq!(c.output(12.0), 1.0);
        assert_eq!(c.output(26.0), 0.0);
        assert!(c.output(7.0) > 0.1 && c.output(7.0) < 0.3);
    }

    #[test]
    fn calibration_hits_the_expected_target() {
        for target in [0.2, 0.25, 0.3] {
            let s = continental(8.0).calibrated(target);
            assert!((s.expected_cf() - target).abs() < 1e-6);
        }
    }

    #[test]
    fn speeds_are_autocorrelated_and_deterministic() {
        let s = continental(8.0).calibrated(0.25);
        let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let v = s.hourly_speed(start, 2_000, 9);
        assert_eq!(v, s.hourly_speed(start, 2_000, 9));
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>();
        let cov = v
            .windows(2)
            .map(|w| (w[0] - mean) * (w[1] - mean))
            .sum::<f64>();
        assert!(cov / var > 0.8, "lag-one autocorrelation {}", cov / var);
    }
}
