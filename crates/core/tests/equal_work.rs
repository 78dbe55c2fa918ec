//! Savings on equal work. A policy that leaves work undone spends less, and used to be shown
//! as saving (on the default week `coordinated` left 312 k accelerator-hours undone against
//! asap's 94 k; per accelerator-hour done it saved 5.0 % carbon, not 12.6 %). The equal-work
//! figures charge undone work at the scenario's reference rates, the same for every policy.
mod common;

use common::*;
use suandian_core::fleet::Fleet;
use suandian_core::metrics::ReferenceRates;
use suandian_core::policy::{Asap, Policy};
use suandian_core::sim::{simulate, SimConfig};
use suandian_core::*;

/// Starts nothing: the cheapest run there is, and no saving at all.
struct DoNothing;

impl Policy for DoNothing {
    fn name(&self) -> String {
        "do-nothing".into()
    }
    fn on_slot(&mut self, _ctx: &mut dyn Fleet) {}
}

/// One site, flat carbon (500 g/kWh) and price (80/MWh), PUE 1.25: an accelerator-hour of work
/// costs the same whenever it runs, 0.5 kW x 1.25 = 0.625 kWh, 0.3125 kg, 0.05.
fn flat() -> Scenario {
    let s = site(
        "s",
        8,
        8,
        300.0,
        1.25,
        100.0,
        vec![80.0; 12],
        vec![500.0; 12],
    );
    Scenario {
        name: "flat".into(),
        grid: grid(12, 60),
        sites: vec![s],
        jobs: vec![
            job("a", 0.0, 4, 3.0, f64::INFINITY, 0, vec![0]),
            job("b", 2.0, 2, 5.0, f64::INFINITY, 0, vec![0]),
        ],
        inference: vec![],
        economics: economics(),
        dispatch: DispatchRule::default(),
        demand_response: vec![],
    }
}

#[test]
fn doing_nothing_saves_nothing_on_equal_work() {
    let sc = flat();
    sc.validate().unwrap();
    let rates = ReferenceRates::for_scenario(&sc);
    assert!((rates.kwh_per_acc_h - 0.625).abs() < 1e-12, "{rates:?}");
    assert!((rates.kg_co2_per_acc_h - 0.3125).abs() < 1e-12);
    assert!((rates.cost_per_acc_h - 0.05).abs() < 1e-12);

    let cfg = SimConfig::default();
    let asap = simulate(&sc, &mut Asap, &cfg).metrics;
    let lazy = simulate(&sc, &mut DoNothing, &cfg).metrics;
    // 4 x 3 + 2 x 5 = 22 accelerator-hours arrived; asap did them all, do-nothing none.
    assert_eq!(asap.work_total_acc_h, 22.0);
    assert!((asap.work_done_acc_h - 22.0).abs() < 1e-9);
    assert_eq!(lazy.work_done_acc_h, 0.0);
    // Measured, doing nothing looks like a large saving...
    assert!(lazy.carbon_total_location_kg < 0.6 * asap.carbon_total_location_kg);
    assert!(lazy.cost < 0.6 * asap.cost);
    // ... on equal work it is none: the undone work is charged what asap paid for it.
    for (name, a, l) in [
        (
            "carbon",
            asap.equal_work_carbon_kg,
            lazy.equal_work_carbon_kg,
        ),
        ("cost", asap.equal_work_cost, lazy.equal_work_cost),
        (
            "energy",
            asap.equal_work_facility_kwh,
            lazy.equal_work_facility_kwh,
        ),
    ] {
        assert!((a - l).abs() < 1e-9 * a, "{name}: asap {a}, do-nothing {l}");
    }
    // Intensities per accelerator-hour done: the idle fleet over 12 h spread over 22 acc-h.
    let idle_kg = 12.0 * (8.0 * 0.1 + 0.3) * 1.25 * 0.5;
    assert!((asap.carbon_kg_per_acc_h - (idle_kg + 22.0 * 0.3125) / 22.0).abs() < 1e-9);
    assert_eq!(lazy.carbon_kg_per_acc_h, 0.0, "no work done: no intensity");
}
