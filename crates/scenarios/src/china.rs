//! Grid signals of the Chinese provinces that host the eight national computing hubs: annual
//! location-based emission factors, wind and solar shares of generation, wind utilisation
//! hours, and time-of-use (TOU) tariffs.
//!
//! Every number, its source, or the assumption behind it is in `docs/default-scenario.md`
//! (section "Provinces"); a test in `crates/scenarios/tests/default_scenario_doc.rs` checks that the
//! table there and [`PROVINCES`] agree.
//!
//! The hourly carbon intensity follows the modelled renewable share of the province:
//! `EF × (1 − r_t) / (1 − r̄)`, where `r_t = s · cf_solar(t)/mean(cf_solar) + w ·
//! cf_wind(t)/mean(cf_wind)` (capped at 0.9) and `r̄ = s + w`. Over a year its mean is the
//! published factor; within a week it is lower when the wind blows and the sun shines.

/// Where a province's emission factor comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorBasis {
    /// The province's own factor in the MEE/NBS 2022 table.
    Provincial,
    /// The province's factor in the MEE/NBS 2022 table as a public compilation of the whole
    /// table gives it (the official attachment could not be read here); the compilation agrees
    /// with every provincial and regional value a press summary of the announcement prints.
    ProvincialCompiled,
    /// The provincial value could not be verified here: the MEE/NBS 2022 factor of the
    /// regional grid the province belongs to is used.
    Regional(&'static str),
}

/// A time-of-use tariff: a 24-character pattern of local (China Standard Time) hours, `p` peak,
/// `f` flat, `v` valley, and the prices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tou {
    /// CNY per MWh at flat hours.
    pub flat_cny_per_mwh: f64,
    /// Peak price over flat price.
    pub peak_ratio: f64,
    /// Valley price over flat price.
    pub valley_ratio: f64,
    /// Hour `h` (local, 0..24) is `pattern[h]`.
    pub pattern: &'static str,
}

impl Tou {
    /// Price at local hour `h` (0..24), CNY/MWh.
    pub fn price_at_local_hour(&self, h: usize) -> f64 {
        let r = match self.pattern.as_bytes()[h % 24] {
            b'p' => self.peak_ratio,
            b'v' => self.valley_ratio,
            _ => 1.0,
        };
        self.flat_cny_per_mwh * r
    }
}

/// One province's grid signals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Province {
    /// Short English name (used as the site's region).
    pub name: &'static str,
    /// Annual average emission factor, g CO₂/kWh (MEE/NBS, 2022 factors published Dec 2024).
    pub emission_factor_g_per_kwh: f64,
    pub factor_basis: FactorBasis,
    /// Wind share of the province's generation (fraction).
    pub wind_share: f64,
    /// Solar share of the province's generation (fraction).
    pub solar_share: f64,
    /// Annual utilisation hours of wind power (full-load hours), the target of the wind model.
    pub wind_hours: f64,
    pub tou: Tou,
}

impl Province {
    /// Target wind capacity factor.
    pub fn wind_cf(&self) -> f64 {
        self.wind_hours / 8_760.0
    }

    /// Hourly grid carbon intensity, g/kWh, following the modelled renewable output of the
    /// province (`solar` and `wind`: capacity factors per hour; `solar_mean`, `wind_mean`:
    /// their annual means).
    pub fn carbon_series(
        &self,
        solar: &[f64],
        wind: &[f64],
        solar_mean: f64,
        wind_mean: f64,
    ) -> Vec<f64> {
        let r_mean = self.solar_share + self.wind_share;
        solar
            .iter()
            .zip(wind)
            .map(|(s, w)| {
                let r = (self.solar_share * s / solar_mean.max(1e-9)
                    + self.wind_share * w / wind_mean.max(1e-9))
                .min(0.9);
                self.emission_factor_g_per_kwh * (1.0 - r) / (1.0 - r_mean)
            })
            .collect()
    }
}

const EAST_TOU: &str = "vvvvvvvvfpppffffffpppfvv";
const NW_TOU: &str = "vvvvvvfpfffvvvvvvfppppff";

/// The eight hub provinces. See `docs/default-scenario.md` for sources and assumptions.
pub const PROVINCES: &[Province] = &[
    Province {
        name: "Hebei",
        emission_factor_g_per_kwh: 725.2,
        factor_basis: FactorBasis::Provincial,
        wind_share: 0.14,
        solar_share: 0.09,
        wind_hours: 2_150.0,
        tou: Tou {
            flat_cny_per_mwh: 600.0,
            peak_ratio: 1.6,
            valley_ratio: 0.4,
            pattern: EAST_TOU,
        },
    },
    Province {
        name: "Anhui",
        emission_factor_g_per_kwh: 678.2,
        factor_basis: FactorBasis::Provincial,
        wind_share: 0.04,
        solar_share: 0.08,
        wind_hours: 2_000.0,
        tou: Tou {
            flat_cny_per_mwh: 620.0,
            peak_ratio: 1.6,
            valley_ratio: 0.4,
            pattern: EAST_TOU,
        },
    },
    Province {
        name: "Guangdong",
        emission_factor_g_per_kwh: 440.3,
        factor_basis: FactorBasis::ProvincialCompiled,
        wind_share: 0.04,
        solar_share: 0.03,
        wind_hours: 2_100.0,
        tou: Tou {
            flat_cny_per_mwh: 680.0,
            peak_ratio: 1.7,
            valley_ratio: 0.38,
            pattern: "vvvvvvvvffppffpppppfffff",
        },
    },
    Province {
        name: "Sichuan",
        emission_factor_g_per_kwh: 140.4,
        factor_basis: FactorBasis::Provincial,
        wind_share: 0.03,
        solar_share: 0.01,
        wind_hours: 2_200.0,
        tou: Tou {
            flat_cny_per_mwh: 560.0,
            peak_ratio: 1.6,
            valley_ratio: 0.4,
            pattern: EAST_TOU,
        },
    },
    Province {
        name: "Inner Mongolia",
        emission_factor_g_per_kwh: 684.9,
        factor_basis: FactorBasis::Provincial,
        wind_share: 0.17,
        solar_share: 0.04,
        wind_hours: 2_450.0,
        tou: Tou {
            flat_cny_per_mwh: 420.0,
            peak_ratio: 1.5,
            valley_ratio: 0.5,
            pattern: NW_TOU,
        },
    },
    Province {
        name: "Guizhou",
        emission_factor_g_per_kwh: 498.9,
        factor_basis: FactorBasis::ProvincialCompiled,
        wind_share: 0.04,
        solar_share: 0.05,
        wind_hours: 1_900.0,
        tou: Tou {
            flat_cny_per_mwh: 520.0,
            peak_ratio: 1.5,
            valley_ratio: 0.5,
            pattern: EAST_TOU,
        },
    },
    Province {
        name: "Gansu",
        emission_factor_g_per_kwh: 477.2,
        factor_basis: FactorBasis::ProvincialCompiled,
        wind_share: 0.18,
        solar_share: 0.09,
        wind_hours: 2_000.0,
        tou: Tou {
            flat_cny_per_mwh: 450.0,
            peak_ratio: 1.5,
            valley_ratio: 0.5,
            pattern: NW_TOU,
        },
    },
    Province {
        name: "Ningxia",
        emission_factor_g_per_kwh: 642.3,
        factor_basis: FactorBasis::ProvincialCompiled,
        wind_share: 0.13,
        solar_share: 0.10,
        wind_hours: 1_900.0,
        tou: Tou {
            flat_cny_per_mwh: 430.0,
            peak_ratio: 1.5,
            valley_ratio: 0.5,
            pattern: NW_TOU,
        },
    },
];

/// The province named `name`.
pub fn province(name: &str) -> Option<&'static Province> {
    PROVINCES.iter().find(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tariffs_are_well_formed_and_meet_the_ndrc_spread() {
        for p in PROVINCES {
            assert_eq!(p.tou.pattern.len(), 24, "{}", p.name);
            assert!(p.tou.pattern.bytes().all(|b| b"pfv".contains(&b)));
            // NDRC 2021 No. 1093: peak/valley at least 3:1 (4:1 where the load gap is large).
            assert!(
                p.tou.peak_ratio / p.tou.valley_ratio >= 3.0 - 1e-9,
                "{}",
                p.name
            );
        }
        let hebei = province("Hebei").unwrap();
        assert_eq!(hebei.tou.price_at_local_hour(3), 240.0);
        assert_eq!(hebei.tou.price_at_local_hour(10), 960.0);
    }

    #[test]
    fn carbon_follows_renewables_and_keeps_the_annual_mean() {
        let p = province("Gansu").unwrap();
        let solar = [0.0, 0.4, 0.8, 0.0];
        let wind = [0.5, 0.1, 0.3, 0.3];
        let c = p.carbon_series(&solar, &wind, 0.3, 0.3);
        assert!(c[2] < c[3] && c[0] < c[3] && c[2] < c[1]);
        // Means equal to the series' means give the published factor on average.
        let mean = c.iter().sum::<f64>() / 4.0;
        assert!((mean - p.emission_factor_g_per_kwh).abs() < 1e-9, "{mean}");
    }
}

#[cfg(test)]
mod wind_targets {
    use super::PROVINCES;
    use crate::weather::wind;
    use chrono::{TimeZone, Utc};

    /// The wind model, calibrated per province, delivers the province's utilisation hours:
    /// the mean over thirty seeded years within 5 % of the target, and every single year within
    /// 20 % (the model's years scatter by about ±7 % (one standard deviation), real years by
    /// about ±5-10 %).
    #[test]
    fn wind_capacity_factors_match_the_provincial_targets() {
        let start = Utc.with_ymd_and_hms(2023, 1, 1, 0, 0, 0).unwrap();
        for (i, p) in PROVINCES.iter().enumerate() {
            let site = wind::continental(8.0).calibrated(p.wind_cf());
            let years: Vec<f64> = (0..30)
                .map(|y| {
                    let seed = 1_000 * i as u64 + y;
                    let cf = site.hourly_output(start, 8_760, seed);
                    cf.iter().sum::<f64>() / 8_760.0
                })
                .collect();
            let mean = years.iter().sum::<f64>() / years.len() as f64;
            let target = p.wind_cf();
            println!(
                "{}: target {:.0} h (CF {:.3}), modelled {:.0} h (CF {:.3}, {:+.1} %), years {:.3}..{:.3}, scale {:.2} m/s at 10 m",
                p.name,
                p.wind_hours,
                target,
                mean * 8_760.0,
                mean,
                (mean / target - 1.0) * 100.0,
                years.iter().cloned().fold(f64::MAX, f64::min),
                years.iter().cloned().fold(f64::MIN, f64::max),
                site.weibull_scale_ms
            );
            assert!(
                (mean / target - 1.0).abs() < 0.05,
                "{}: {mean} vs {target}",
                p.name
            );
            for y in &years {
                assert!(
                    (y / target - 1.0).abs() < 0.2,
                    "{}: {y} vs {target}",
                    p.name
                );
            }
        }
    }
}
