//! Outdoor air temperature: annual and daily cycles around a site's climatological mean, plus
//! a seeded day-to-day anomaly (AR(1), 2.5 °C standard deviation, lag-one correlation 0.7).
//! The seasonal cycle peaks on 20 July (day 201, northern hemisphere), the daily one at 15:00
//! local solar time.

use super::std_normal;
use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::f64::consts::TAU;

/// A site's temperature climate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Climate {
    /// Annual mean, °C.
    pub mean_c: f64,
    /// Half the difference between the warmest and the coldest monthly mean, °C.
    pub seasonal_amplitude_c: f64,
    /// Half the mean daily range, °C.
    pub diurnal_amplitude_c: f64,
    /// Local time offset used for the daily cycle, hours east of UTC.
    pub utc_offset_h: f64,
}

const ANOMALY_SD: f64 = 2.5;
const ANOMALY_PHI: f64 = 0.7;

impl Climate {
    /// The climatological temperature (no anomaly) at `t`, °C.
    pub fn normal_at(&self, t: DateTime<Utc>) -> f64 {
        let doy = f64::from(t.ordinal()) - 1.0 + f64::from(t.hour()) / 24.0;
        let local_h = (f64::from(t.hour()) + f64::from(t.minute()) / 60.0 + self.utc_offset_h)
            .rem_euclid(24.0);
        self.mean_c
            + self.seasonal_amplitude_c * (TAU * (doy - 200.0) / 365.25).cos()
            + self.diurnal_amplitude_c * (TAU * (local_h - 15.0) / 24.0).cos()
    }

    /// Hourly temperatures (value at the middle of each hour) for `hours` hours from `start`,
    /// deterministic for `seed`.
    pub fn hourly(&self, start: DateTime<Utc>, hours: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7e3e_0a7e);
        let sd = ANOMALY_SD * (1.0 - ANOMALY_PHI * ANOMALY_PHI).sqrt();
        let mut anomaly = ANOMALY_SD * std_normal(&mut rng);
        let mut next = anomaly;
        (0..hours)
            .map(|h| {
                if h % 24 == 0 {
                    anomaly = next;
                    next = ANOMALY_PHI * anomaly + sd * std_normal(&mut rng);
                }
                // Blend today's anomaly into tomorrow's over the day: no steps at midnight.
                let w = (h % 24) as f64 / 24.0;
                let t = start + Duration::minutes(h as i64 * 60 + 30);
                self.normal_at(t) + (1.0 - w) * anomaly + w * next
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn annual_mean_and_seasons() {
        let c = Climate {
            mean_c: 9.0,
            seasonal_amplitude_c: 14.0,
            diurnal_amplitude_c: 7.0,
            utc_offset_h: 8.0,
        };
        let start = Utc.with_ymd_and_hms(2023, 1, 1, 0, 0, 0).unwrap();
        let t = c.hourly(start, 8_760, 5);
        let mean = t.iter().sum::<f64>() / 8_760.0;
        assert!((mean - 9.0).abs() < 1.0, "{mean}");
        let jan = t[..744].iter().sum::<f64>() / 744.0;
        let jul = t[4_344..5_088].iter().sum::<f64>() / 744.0;
        assert!(jul - jan > 20.0, "{jan} {jul}");
        assert_eq!(t, c.hourly(start, 8_760, 5));
    }
}
