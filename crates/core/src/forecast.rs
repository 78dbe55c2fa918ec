//! Forecasts: what a policy believes about the signals of slots that have not happened yet.
//!
//! At slot `now`, the values of slots `< now` are observations (the truth); the values of slots
//! `>= now` come from the run's [`ForecastKind`]:
//! - `Perfect`: the truth (an upper bound on what forecasting can give);
//! - `Persistence`: the value at the same time of day on the most recent day already observed
//!   ("same hour yesterday", repeated for longer leads); before a full day has been observed,
//!   the most recent observation; at slot 0 nothing is observed, so the value of slot 0 is
//!   taken as known at the start of the run;
//! - `Noisy`: the truth times `1 + e`, where `e` is a seeded standard-normal error per series
//!   and target slot scaled by `relative_error * sqrt(min(lead, 24 h) / 24 h)`, so forecasts
//!   are sharp for the next slot and reach the full error a day ahead. Values are clamped at
//!   zero for series that cannot be negative. Prices may be negative, so their noise is scaled
//!   by the absolute value.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ForecastKind {
    #[default]
    Perfect,
    Persistence,
    Noisy {
        relative_error: f64,
        seed: u64,
    },
}

impl ForecastKind {
    pub fn label(&self) -> String {
        match self {
            ForecastKind::Perfect => "perfect".into(),
            ForecastKind::Persistence => "persistence".into(),
            ForecastKind::Noisy {
                relative_error,
                seed,
            } => {
                format!("noisy ({:.0} % error, seed {seed})", relative_error * 100.0)
            }
        }
    }
}

/// A forecastable series: the truth, plus (for noisy forecasts) one seeded error per slot.
#[derive(Debug, Clone)]
pub struct Forecaster {
    truth: Vec<f64>,
    kind: ForecastKind,
    errors: Vec<f64>,
    slots_per_day: usize,
    nonnegative: bool,
}

impl Forecaster {
    /// `stream` distinguishes the series of one run so that each gets its own errors.
    pub fn new(
        truth: Vec<f64>,
        kind: ForecastKind,
        slots_per_day: usize,
        stream: u64,
        nonnegative: bool,
    ) -> Self {
        let errors = match kind {
            ForecastKind::Noisy { seed, .. } => {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(stream);
                (0..truth.len())
                    .map(|_| StandardNormal.sample(&mut rng))
                    .collect()
            }
            _ => Vec::new(),
        };
        Self {
            truth,
            kind,
            errors,
            slots_per_day: slots_per_day.max(1),
            nonnegative,
        }
    }

    pub fn len(&self) -> usize {
        self.truth.len()
    }

    pub fn is_empty(&self) -> bool {
        self.truth.is_empty()
    }

    /// What is believed at slot `now` about slot `target`: the observation for a past slot,
    /// the forecast otherwise.
    pub fn at(&self, now: usize, target: usize) -> f64 {
        if target < now {
            return self.truth[target];
        }
        match self.kind {
            ForecastKind::Perfect => self.truth[target],
            ForecastKind::Persistence => {
                if now == 0 {
                    return self.truth[0];
                }
                let day = self.slots_per_day;
                if now >= day {
                    // Same time of day on the latest fully observed day.
                    let back = (target - now) / day + 1;
                    self.truth[target - back * day]
                } else {
                    self.truth[now - 1]
                }
            }
            ForecastKind::Noisy { relative_error, .. } => {
                let lead = (target - now + 1) as f64 / self.slots_per_day as f64;
                let scale = relative_error * lead.min(1.0).sqrt();
                let t = self.truth[target];
                let v = t + t.abs() * scale * self.errors[target];
                if self.nonnegative {
                    v.max(0.0)
                } else {
                    v
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn truth() -> Vec<f64> {
        (0..72).map(|i| i as f64).collect()
    }

    #[test]
    fn persistence_repeats_yesterday() {
        let f = Forecaster::new(truth(), ForecastKind::Persistence, 24, 0, true);
        // At slot 30, slot 35 is believed to be like slot 11 (same hour yesterday).
        assert_eq!(f.at(30, 35), 11.0);
        // 30 h ahead: two days back.
        assert_eq!(f.at(30, 60), 12.0);
        // Past slots are observations.
        assert_eq!(f.at(30, 29), 29.0);
        // Less than a day observed: latest observation.
        assert_eq!(f.at(5, 20), 4.0);
        assert_eq!(f.at(0, 20), 0.0);
    }

    #[test]
    fn noisy_is_seeded_and_grows_with_lead() {
        let kind = ForecastKind::Noisy {
            relative_error: 0.2,
            seed: 7,
        };
        let a = Forecaster::new(vec![100.0; 200], kind, 24, 1, true);
        let b = Forecaster::new(vec![100.0; 200], kind, 24, 1, true);
        let c = Forecaster::new(vec![100.0; 200], kind, 24, 2, true);
        let va: Vec<f64> = (0..200).map(|t| a.at(0, t)).collect();
        let vb: Vec<f64> = (0..200).map(|t| b.at(0, t)).collect();
        let vc: Vec<f64> = (0..200).map(|t| c.at(0, t)).collect();
        assert_eq!(va, vb);
        assert_ne!(va, vc);
        let err = |now: usize, lo: usize, hi: usize| -> f64 {
            (lo..hi).map(|t| (a.at(now, t) - 100.0).abs()).sum::<f64>() / (hi - lo) as f64
        };
        // Next-slot error is much smaller than day-ahead error.
        let near: f64 = (0..150).map(|n| (a.at(n, n) - 100.0).abs()).sum::<f64>() / 150.0;
        assert!(near < 0.5 * err(0, 30, 200), "near {near}");
    }
}
