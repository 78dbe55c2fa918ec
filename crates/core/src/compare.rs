//! Results typed once: how each run compares with the reference policy ([`REFERENCE`]) and
//! with the bound (the oracle's objective). The table, the JSON document, the CSV and the HTML
//! report all render these figures; none computes a saving or a capture of its own.
//!
//! Every saving compares equal work where the name says so (`equal_work_*`: work left undone
//! is charged at [`crate::metrics::ReferenceRates`]), and a capture is computed in the one
//! objective the bound is in.

use crate::metrics::{Metrics, ObjectiveKind, ObjectiveWeights};
use crate::model::Scenario;
use crate::policy::REFERENCE;
use crate::sim::RunResult;
use serde::Serialize;

/// Saving of `x` against the reference `base`, in % (positive = lower than the reference);
/// `None` where the reference is zero.
pub fn saving_pct(base: f64, x: f64) -> Option<f64> {
    (base.abs() > 1e-12).then(|| (base - x) / base.abs() * 100.0)
}

/// A run's savings against the reference run, in % (positive = better), with the green share
/// in points and the curtailment avoided in kWh (negative where it curtails more).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Savings {
    pub carbon_location: Option<f64>,
    pub carbon_market: Option<f64>,
    pub carbon_total_location: Option<f64>,
    pub equal_work_carbon: Option<f64>,
    pub equal_work_cost: Option<f64>,
    pub carbon_per_acc_h: Option<f64>,
    pub cost_per_acc_h: Option<f64>,
    pub carbon_total_market: Option<f64>,
    pub cost: Option<f64>,
    pub total_cost: Option<f64>,
    pub facility_energy: Option<f64>,
    pub green_share_points: f64,
    /// Green energy the reference curtailed and this run used or stored instead.
    pub curtailment_avoided_kwh: f64,
}

impl Savings {
    pub fn between(b: &Metrics, m: &Metrics) -> Self {
        Savings {
            carbon_location: saving_pct(b.carbon_location_kg, m.carbon_location_kg),
            carbon_market: saving_pct(b.carbon_market_kg, m.carbon_market_kg),
            carbon_total_location: saving_pct(
                b.carbon_total_location_kg,
                m.carbon_total_location_kg,
            ),
            equal_work_carbon: saving_pct(b.equal_work_carbon_kg, m.equal_work_carbon_kg),
            equal_work_cost: saving_pct(b.equal_work_cost, m.equal_work_cost),
            carbon_per_acc_h: saving_pct(b.carbon_kg_per_acc_h, m.carbon_kg_per_acc_h),
            cost_per_acc_h: saving_pct(b.cost_per_acc_h, m.cost_per_acc_h),
            carbon_total_market: saving_pct(b.carbon_total_market_kg, m.carbon_total_market_kg),
            cost: saving_pct(b.cost, m.cost),
            total_cost: saving_pct(b.total_cost, m.total_cost),
            facility_energy: saving_pct(b.facility_kwh, m.facility_kwh),
            green_share_points: (m.green_share - b.green_share) * 100.0,
            curtailment_avoided_kwh: b.curtailed_kwh - m.curtailed_kwh,
        }
    }
}

/// One headline figure of a run against the reference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Change {
    /// The improvement in the figure's unit: reference − run where lower is better, run −
    /// reference where higher is better.
    pub improvement: f64,
    /// The improvement as % of the reference's figure (`None` where that is zero).
    pub pct: Option<f64>,
    /// The improvement as a share of the oracle's improvement of the same figure (`None`
    /// without an oracle run, or where the oracle does not change it). One figure of a policy
    /// may beat the oracle's (a share above 1): the oracle bounds the objective, not each
    /// figure.
    pub oracle_share: Option<f64>,
}

impl Change {
    fn of(reference: f64, x: f64, oracle: Option<f64>, higher_is_better: bool) -> Self {
        let better = |v: f64| {
            if higher_is_better {
                v - reference
            } else {
                reference - v
            }
        };
        let improvement = better(x);
        Change {
            improvement,
            pct: (reference.abs() > 1e-12).then(|| improvement / reference * 100.0),
            oracle_share: oracle
                .map(better)
                .and_then(|od| (od.abs() > 1e-9).then(|| improvement / od)),
        }
    }
}

/// The report's headline figures of a run against the reference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Headline {
    /// Scope 1 + 2 location-based carbon on equal work, kg.
    pub equal_work_carbon_kg: Change,
    /// Cost on equal work, currency.
    pub equal_work_cost: Change,
    /// Direct green share of facility energy (a fraction; higher is better).
    pub green_share: Change,
    /// Green energy curtailed, kWh.
    pub curtailed_kwh: Change,
}

impl Headline {
    pub fn between(reference: &Metrics, m: &Metrics, oracle: Option<&Metrics>) -> Self {
        Headline {
            equal_work_carbon_kg: Change::of(
                reference.equal_work_carbon_kg,
                m.equal_work_carbon_kg,
                oracle.map(|o| o.equal_work_carbon_kg),
                false,
            ),
            equal_work_cost: Change::of(
                reference.equal_work_cost,
                m.equal_work_cost,
                oracle.map(|o| o.equal_work_cost),
                false,
            ),
            green_share: Change::of(
                reference.green_share,
                m.green_share,
                oracle.map(|o| o.green_share),
                true,
            ),
            curtailed_kwh: Change::of(
                reference.curtailed_kwh,
                m.curtailed_kwh,
                oracle.map(|o| o.curtailed_kwh),
                false,
            ),
        }
    }
}

/// How one run compares.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub policy: String,
    /// The run's objective in [`objective_kind`]; the oracle's is its bound.
    pub objective: f64,
    /// The objective its realised metrics give (the oracle's too).
    pub objective_realized: f64,
    /// Whether [`Comparison::objective`] is a bound (the oracle's).
    pub is_bound: bool,
    /// Share of the oracle's reduction of the objective against the reference that this run
    /// achieved (`None` without an oracle run or a reference run).
    pub oracle_capture: Option<f64>,
    /// Savings against the reference (`None` without a reference run; all zero for it).
    pub savings: Option<Savings>,
    /// The headline figures against the reference.
    pub headline: Option<Headline>,
}

/// The objective the runs are compared in: the oracle's bound's, else the balanced one.
pub fn objective_kind(results: &[RunResult]) -> ObjectiveKind {
    results
        .iter()
        .find(|r| r.objective_bound.is_some())
        .map_or(ObjectiveKind::Balanced, |r| r.objective_kind)
}

/// Every run's [`Comparison`], in the order of `results`. Every run is evaluated in the
/// objective the bound is in ([`objective_kind`]), so that the bound, the realised objectives
/// and the capture share one unit.
pub fn compare(sc: &Scenario, results: &[RunResult]) -> Vec<Comparison> {
    let w = ObjectiveWeights::for_scenario(sc);
    let kind = objective_kind(results);
    let price = sc.economics.carbon_price_per_t;
    let realized: Vec<f64> = results
        .iter()
        .map(|r| w.evaluate_as(&r.metrics, kind, price))
        .collect();
    let reference = results.iter().position(|r| r.policy == REFERENCE);
    let oracle = results.iter().find(|r| r.objective_bound.is_some());
    let bound = oracle.and_then(|r| r.objective_bound);
    results
        .iter()
        .zip(&realized)
        .map(|(r, &real)| {
            let objective = r.objective_bound.unwrap_or(real);
            let oracle_capture = match (reference.map(|i| realized[i]), bound) {
                (Some(a), Some(b)) if (a - b).abs() > 1e-9 => Some((a - objective) / (a - b)),
                _ => None,
            };
            let base = reference.map(|i| &results[i].metrics);
            Comparison {
                policy: r.policy.clone(),
                objective,
                objective_realized: real,
                is_bound: r.objective_bound.is_some(),
                oracle_capture,
                savings: base.map(|b| Savings::between(b, &r.metrics)),
                headline: base
                    .map(|b| Headline::between(b, &r.metrics, oracle.map(|o| &o.metrics))),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-worked: a run that emits 80 where the reference emits 100 and the oracle 60 saves
    /// 20 kg (20 %) and half of the oracle's saving; a green share from 0.30 to 0.45 gains 15
    /// points, 0.15 of a fraction, and three quarters of the oracle's gain to 0.50.
    #[test]
    fn changes_are_signed_and_shared_with_the_oracle() {
        let c = Change::of(100.0, 80.0, Some(60.0), false);
        assert_eq!(c.improvement, 20.0);
        assert_eq!(c.pct, Some(20.0));
        assert_eq!(c.oracle_share, Some(0.5));
        let g = Change::of(0.30, 0.45, Some(0.50), true);
        assert!((g.improvement - 0.15).abs() < 1e-12);
        assert!((g.oracle_share.unwrap() - 0.75).abs() < 1e-12);
        // Worse than the reference: a negative improvement; no oracle change: no share.
        let w = Change::of(100.0, 110.0, Some(100.0), false);
        assert_eq!(w.improvement, -10.0);
        assert_eq!(w.oracle_share, None);
        assert_eq!(Change::of(0.0, 5.0, None, false).pct, None);
    }

    /// The curtailment avoided is a signed difference against the reference (a `.max(0)` once
    /// hid a negative saving), and the reference avoids nothing against itself.
    #[test]
    fn curtailment_avoided_is_a_signed_difference() {
        let curtailed = |kwh: f64| Metrics {
            totals: crate::metrics::Totals {
                curtailed_kwh: kwh,
                ..Default::default()
            },
            ..Default::default()
        };
        let (reference, worse, better) = (curtailed(100.0), curtailed(130.0), curtailed(40.0));
        let s = |m: &Metrics| Savings::between(&reference, m).curtailment_avoided_kwh;
        assert_eq!(s(&reference), 0.0);
        assert_eq!(s(&worse), -30.0);
        assert_eq!(s(&better), 60.0);
    }
}
