//! Weather-dependent PUE: facility energy over IT energy, with cooling that works harder as the
//! outdoor air warms.
//!
//! Overheads are fractions of IT power: power distribution (UPS, transformers), other
//! (lighting, offices) and cooling. Cooling costs `free_cooling` (fans, pumps, economisers)
//! at or below `threshold_c` and `per_degree` more for every °C above it (chillers running
//! against a warmer sink), capped so that PUE never exceeds `max`. This is exactly the
//! core's [`Pue::Temperature`] form, so a model becomes a scenario's PUE directly.
//!
//! [`PueModel::typical`] reproduces the seed article's breakdown of a typical data centre's
//! electricity (IT 45 %, cooling 43 %, distribution 10 %, other 2 %) at 25 °C.

use suandian_core::model::Pue;

/// Overheads of a data centre as fractions of IT power.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PueModel {
    pub distribution: f64,
    pub other: f64,
    /// Cooling at or below the threshold.
    pub free_cooling: f64,
    pub threshold_c: f64,
    /// Cooling added per °C above the threshold.
    pub per_degree: f64,
    /// Cap on PUE.
    pub max: f64,
}

/// The energy breakdown at one temperature, fractions of facility energy (sum 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Breakdown {
    pub it: f64,
    pub cooling: f64,
    pub distribution: f64,
    pub other: f64,
}

impl PueModel {
    /// The seed article's typical data centre: at 25 °C, IT 45 %, cooling 43 %,
    /// distribution 10 %, other 2 % of facility energy (PUE 2.22). Half the cooling at 25 °C
    /// is taken as temperature-independent (below 10 °C), the rest grows linearly above 10 °C
    /// (an assumption: the article gives only the one breakdown).
    pub fn typical() -> Self {
        let cooling_25 = 43.0 / 45.0;
        let free = cooling_25 / 2.0;
        PueModel {
            distribution: 10.0 / 45.0,
            other: 2.0 / 45.0,
            free_cooling: free,
            threshold_c: 10.0,
            per_degree: (cooling_25 - free) / 15.0,
            max: 3.0,
        }
    }

    /// A data centre of a western hub (Inner Mongolia, Guizhou, Gansu, Ningxia), built to the
    /// hubs' approval letters' limit of an annual PUE below 1.2: an efficient power chain
    /// (distribution 4 %, other 1 %), indirect evaporative free cooling (5 %) up to 15 °C,
    /// +0.6 % per °C above, at most 1.3 (the split is an assumption chosen to meet the limit
    /// with modern equipment; a test checks every western hub's climate against it).
    pub fn western_hub() -> Self {
        PueModel {
            distribution: 0.04,
            other: 0.01,
            free_cooling: 0.05,
            threshold_c: 15.0,
            per_degree: 0.006,
            max: 1.3,
        }
    }

    /// A data centre of an eastern hub (Beijing-Tianjin-Hebei, Yangtze River Delta, Greater Bay
    /// Area, Chengdu-Chongqing), built to the limit of an annual PUE within 1.25: distribution
    /// 5 %, other 1 %, free cooling 7 % up to 12 °C, +0.9 % per °C above, at most 1.4.
    pub fn eastern_hub() -> Self {
        PueModel {
            distribution: 0.05,
            other: 0.01,
            free_cooling: 0.07,
            threshold_c: 12.0,
            per_degree: 0.009,
            max: 1.4,
        }
    }

    pub fn base(&self) -> f64 {
        1.0 + self.distribution + self.other + self.free_cooling
    }

    /// PUE at outdoor temperature `t_c`.
    pub fn at(&self, t_c: f64) -> f64 {
        (self.base() + self.per_degree * (t_c - self.threshold_c).max(0.0)).min(self.max)
    }

    /// Where the facility's energy goes at `t_c` (the cap trims cooling).
    pub fn breakdown(&self, t_c: f64) -> Breakdown {
        let pue = self.at(t_c);
        let cooling = pue - 1.0 - self.distribution - self.other;
        Breakdown {
            it: 1.0 / pue,
            cooling: cooling / pue,
            distribution: self.distribution / pue,
            other: self.other / pue,
        }
    }

    /// The core's PUE for a temperature series.
    pub fn to_pue(&self, temperature_c: Vec<f64>) -> Pue {
        Pue::Temperature {
            base: self.base(),
            threshold_c: self.threshold_c,
            per_degree: self.per_degree,
            max: self.max,
            temperature_c,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typical_reproduces_the_seed_breakdown() {
        let b = PueModel::typical().breakdown(25.0);
        assert!((b.it - 0.45).abs() < 1e-9);
        assert!((b.cooling - 0.43).abs() < 1e-9);
        assert!((b.distribution - 0.10).abs() < 1e-9);
        assert!((b.other - 0.02).abs() < 1e-9);
        assert!((PueModel::typical().at(25.0) - 1.0 / 0.45).abs() < 1e-9);
    }

    #[test]
    fn hub_models_rise_with_temperature_and_map_to_the_core() {
        // Every hub's own climate against its limit: default_scenario's
        // `every_hub_meets_its_pue_limit`.
        let west = PueModel::western_hub();
        let east = PueModel::eastern_hub();
        // Cooling dominates the rise: PUE never falls with temperature.
        assert!(west.at(30.0) > west.at(0.0) && east.at(35.0) > east.at(10.0));
        let p = west.to_pue(vec![0.0, 30.0]);
        assert!((p.at(0) - west.at(0.0)).abs() < 1e-12 && (p.at(1) - west.at(30.0)).abs() < 1e-12);
    }
}
