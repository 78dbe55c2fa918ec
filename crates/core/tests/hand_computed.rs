//! A three-slot, two-site scenario whose every metric was worked out by hand (see the comments).
mod common;

use common::*;
use suandian_core::policy::Asap;
use suandian_core::sim::{simulate, SimConfig};
use suandian_core::*;

/// East (A): 4 accelerators (idle 100 W, peak 600 W) on one server with 200 W other IT, so
/// idle IT = 0.6 kW; PUE 1.5; grid only. West (B): 2 accelerators on one server, idle IT 0.2 kW,
/// PUE 1.2; import limit 0.5 kW, solar 2 kW (capacity factors 0, 0.5, 1), a 1 kWh / 1 kW
/// battery at 81 % round trip (90 % each way) starting empty, export up to 0.5 kW at 20/MWh,
/// 1 kW thermal at 0.3/kWh and 800 g/kWh, 0.25 kWh certificates against a 300 g residual mix.
fn scenario() -> Scenario {
    let mut a = site(
        "A",
        4,
        4,
        200.0,
        1.5,
        100.0,
        vec![100.0, 200.0, 50.0],
        vec![500.0, 600.0, 400.0],
    );
    a.grid.import_limit_kw = 100.0;
    let mut b = site("B", 2, 2, 0.0, 1.2, 0.5, vec![40.0; 3], vec![100.0; 3]);
    b.green.push(GreenPlant {
        name: "pv".into(),
        kind: GreenKind::Solar,
        capacity_kw: 2.0,
        capacity_factor: vec![0.0, 0.5, 1.0],
    });
    b.battery = Some(Battery {
        capacity_kwh: 1.0,
        power_kw: 1.0,
        round_trip_efficiency: 0.81,
        soc_min: 0.0,
        soc_max: 1.0,
        soc_initial: 0.0,
        wear_cost_per_kwh: None,
    });
    b.grid.export_limit_kw = 0.5;
    b.grid.feed_in_price_per_mwh = vec![20.0; 3];
    b.grid.green_certificates_kwh = 0.25;
    b.grid.residual_mix_g_co2_per_kwh = Some(300.0);
    b.thermal = Some(Thermal {
        capacity_kw: 1.0,
        cost_per_kwh: 0.3,
        g_co2_per_kwh: 800.0,
    });
    Scenario {
        name: "hand".into(),
        grid: grid(3, 60),
        sites: vec![a, b],
        jobs: vec![
            // J1 runs 0-1.5 at A on 2 accelerators.
            job("J1", 0.0, 2, 1.5, f64::INFINITY, 0, vec![0, 1]),
            // J3 arrives at 0.25 needing 3 of A's 4, finds only 1 free (J1 + inference), waits
            // until the slot-2 boundary (J1 ends at 1.5), runs 2.0-2.5: late for its 1.0 deadline.
            job("J3", 0.25, 3, 0.5, 1.0, 0, vec![0]),
            // J2 arrives at 0.5 at B (the only site allowed) and runs 0.5-1.5 on 1 accelerator.
            job("J2", 0.5, 1, 1.0, f64::INFINITY, 1, vec![1]),
        ],
        // 1000 tokens/s at 0.5 J/token in slot 0: one accelerator ((600-100)/0.5 = 1000 tok/s
        // each), 0.5 kW.
        inference: vec![InferenceDemand {
            region: "users".into(),
            tokens_per_s: vec![1000.0, 0.0, 0.0],
            sites: vec![0],
            joules_per_token: vec![0.5],
        }],
        economics: economics(),
        dispatch: DispatchRule {
            trailing_window_h: 0.0,
            ..DispatchRule::default()
        },
        demand_response: vec![],
    }
}

fn close(name: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{name}: got {got}, want {want}"
    );
}

#[test]
fn asap_matches_hand_computation() {
    let sc = scenario();
    sc.validate().unwrap();
    let cfg = SimConfig {
        record_timeline: true,
        ..SimConfig::default()
    };
    let r = simulate(&sc, &mut Asap, &cfg);
    let m = &r.metrics;
    // IT kWh. A: slot 0 0.6 idle + 1.0 (J1: 2 x 0.5 kW x 1 h) + 0.5 inference = 2.1;
    // slot 1 0.6 + 0.5 (J1 half an hour) = 1.1; slot 2 0.6 + 0.75 (J3: 3 x 0.5 x 0.5) = 1.35.
    // B: 0.2 + 0.25 (J2 half an hour), 0.2 + 0.25, 0.2.
    close("it_kwh", m.it_kwh, 4.55 + 1.1);
    // Facility: A x1.5 = 3.15 + 1.65 + 2.025; B x1.2 = 0.54 + 0.54 + 0.24.
    close("facility_kwh", m.facility_kwh, 6.825 + 1.32);
    close("green_available_kwh", m.green_available_kwh, 3.0);
    // B slot 1: 0.54 to load, 0.46 charges (soc 0.414); slot 2: 0.24 to load, charge limited
    // to (1 - 0.414) / 0.9 = 0.651111, 0.5 exported, 0.608889 curtailed.
    close("green_used_kwh", m.green_used_kwh, 0.78);
    close("green_share", m.green_share, 0.78 / 8.145);
    close(
        "battery_charge_kwh",
        m.battery_charge_kwh,
        0.46 + 0.586 / 0.9,
    );
    close("battery_discharge_kwh", m.battery_discharge_kwh, 0.0);
    close("exported_kwh", m.exported_kwh, 0.5);
    close("curtailed_kwh", m.curtailed_kwh, 1.76 - 0.586 / 0.9 - 0.5);
    // B slot 0: 0.54 kW against a 0.5 kW limit, empty battery: 0.04 kW thermal.
    close("thermal_kwh", m.thermal_kwh, 0.04);
    close("grid_import_kwh", m.grid_import_kwh, 6.825 + 0.5);
    close("import_over_limit_kwh", m.import_over_limit_kwh, 0.0);
    close("peak_import_kw", m.peak_import_kw, 3.15 + 0.5);
    // Scope 2, location: A 3.15 x 0.5 + 1.65 x 0.6 + 2.025 x 0.4 = 3.375; B 0.5 x 0.1 = 0.05.
    close("carbon_location_kg", m.carbon_location_kg, 3.425);
    // Scope 2, market: A as location (no certificates); B (0.5 - 0.25) x 0.3 = 0.075.
    close("carbon_market_kg", m.carbon_market_kg, 3.375 + 0.075);
    // Scope 1: B's thermal 0.04 x 0.8 = 0.032, in neither Scope 2 figure; the labelled totals.
    close("scope1_kg", m.scope1_kg, 0.032);
    close(
        "carbon_total_location_kg",
        m.carbon_total_location_kg,
        3.457,
    );
    close(
        "carbon_total_market_kg",
        m.carbon_total_market_kg,
        3.375 + 0.107,
    );
    let b = &r.per_site[1];
    close("B scope1_kg", b.scope1_kg, 0.032);
    close("B carbon_location_kg", b.carbon_location_kg, 0.05);
    close("B carbon_market_kg", b.carbon_market_kg, 0.075);
    let tl_scope1: f64 = r.timeline.iter().map(|row| row.scope1_kg).sum();
    let tl_location: f64 = r.timeline.iter().map(|row| row.carbon_location_kg).sum();
    close("timeline scope1_kg", tl_scope1, 0.032);
    close("timeline carbon_location_kg", tl_location, 3.425);
    // Cost: A 0.315 + 0.33 + 0.10125; B 0.02 import + 0.012 thermal - 0.01 export.
    close("import_cost", m.costs.import_cost, 0.74625 + 0.02);
    close("thermal_cost", m.costs.thermal_cost, 0.012);
    close("export_revenue", m.costs.export_revenue, 0.01);
    close("cost", m.cost, 0.76825);
    // The carbon price applies to Scope 1 + Scope 2 of the chosen (location) basis.
    close("carbon_cost", m.carbon_cost, 3.457e-3 * 100.0);
    close("total_cost", m.total_cost, 0.76825 + 0.3457);
    close("tokens", m.tokens, 3.6e6);
    // Energy by use. Inference at A in slot 0: 0.5 kWh above idle + its one accelerator's share
    // of A's idle 0.6 kW (0.15 kW for the hour) = 0.65 kWh IT x PUE 1.5 = 0.975 kWh.
    close("inference_facility_kwh", m.inference_facility_kwh, 0.975);
    // Batch at A: J1 1.0 + 2 x 0.15, then 0.5 + 1 x 0.15; J3 0.75 + 1.5 x 0.15: 2.925 x 1.5;
    // at B (idle 0.1 kW per accelerator): J2 0.25 + 0.05 twice: 0.6 x 1.2.
    close(
        "batch_facility_kwh",
        m.batch_facility_kwh,
        2.925 * 1.5 + 0.72,
    );
    close("batch_acc_h", m.batch_acc_h, 4.5 + 1.0);
    close("batch_kwh_per_acc_h", m.batch_kwh_per_acc_h, 5.1075 / 5.5);
    // The rest is idle: A 1.8 - 0.15 - 0.675 = 0.975 x 1.5, B 0.6 - 0.1 = 0.5 x 1.2.
    close("idle_facility_kwh", m.idle_facility_kwh, 0.975 * 1.5 + 0.6);
    close(
        "energy by use adds up",
        m.inference_facility_kwh + m.batch_facility_kwh + m.idle_facility_kwh,
        m.facility_kwh,
    );
    close("tokens_per_kwh", m.tokens_per_kwh, 3.6e6 / 0.975);
    close("token_value", m.token_value, 7.2);
    close("token_value_per_kwh", m.token_value_per_kwh, 7.2 / 0.975);
    close("inference_served_share", m.inference_served_share, 1.0);
    assert_eq!(
        (m.jobs_total, m.jobs_completed, m.jobs_unfinished),
        (3, 3, 0)
    );
    assert_eq!(m.deadline_misses, 1);
    close("delay_mean_h", m.delay_mean_h, 1.75 / 3.0);
    close("delay_p95_h", m.delay_p95_h, 1.75);
    close("wait_mean_h", m.wait_mean_h, 1.75 / 3.0);
    assert_eq!(m.rejected_actions, 0);
    // J3 ran 2.0-2.5 on 3 accelerators, all after its 1.0 deadline.
    close("late_work_acc_h", m.late_work_acc_h, 1.5);
    close("unfinished_work_acc_h", m.unfinished_work_acc_h, 0.0);
    // Objective: total cost + the late penalty + nothing unserved or over the limit. The late
    // penalty is 5 x the dearest accelerator-hour: at A, 0.5 kW x PUE 1.5 x (200/MWh + 100/t x
    // 600 g/kWh) = 0.195, so 0.975 per accelerator-hour.
    let w = suandian_core::metrics::ObjectiveWeights::for_scenario(&sc);
    close("late_per_acc_h", w.late_per_acc_h, 0.975);
    close("objective", w.evaluate(m), 0.76825 + 0.3457 + 0.975 * 1.5);

    // Per job.
    let j3 = r.jobs.iter().find(|j| j.id == "J3").unwrap();
    assert_eq!((j3.started_h, j3.completed_h), (Some(2.0), Some(2.5)));
    let j2 = r.jobs.iter().find(|j| j.id == "J2").unwrap();
    assert_eq!((j2.started_h, j2.completed_h), (Some(0.5), Some(1.5)));

    // Per site and slot: battery state of charge and the balance.
    let soc: Vec<f64> = r
        .timeline
        .iter()
        .filter(|row| row.site == 1)
        .map(|row| row.flows.soc_kwh)
        .collect();
    close("soc slot 1", soc[1], 0.414);
    close("soc slot 2", soc[2], 1.0);
    for row in &r.timeline {
        assert!(row.flows.balance_residual_kw().abs() < 1e-12);
    }
}

#[test]
fn carbon_wait_and_greenest_site_on_the_same_case() {
    use suandian_core::policy::{CarbonWait, GreenestSite};
    let sc = scenario();
    // greenest-site puts J1 at B (100 g) rather than A (500-600 g): B has 2 accelerators free.
    let r = simulate(&sc, &mut GreenestSite::default(), &SimConfig::default());
    let j1 = r.jobs.iter().find(|j| j.id == "J1").unwrap();
    assert_eq!(j1.site, 1);
    // carbon-wait keeps J1 at A but waits for the 400 g slot 2 (mean over 1.5 h from slot 2 is
    // 400 against 533 from slot 0 and 600... from slot 1, within its 24 h wait).
    let r = simulate(&sc, &mut CarbonWait::default(), &SimConfig::default());
    let j1 = r.jobs.iter().find(|j| j.id == "J1").unwrap();
    assert_eq!((j1.site, j1.started_h), (0, Some(2.0)));
    // It cannot finish within the run (1.5 h from slot 2 of a 3 h run): unfinished, no miss.
    assert_eq!(j1.completed_h, None);
    // 1.0 of its 1.5 h done (slot 2 only): 2 accelerators x 0.5 h left.
    assert!((r.metrics.unfinished_work_acc_h - 1.0).abs() < 1e-9);
}

/// Certificates with no residual mix would price the uncovered import at the grid average,
/// which holds the certificates' green attributes already: refused, naming the field.
#[test]
fn certificates_without_a_residual_mix_are_refused() {
    let mut sc = scenario();
    sc.sites[1].grid.residual_mix_g_co2_per_kwh = None;
    let e = sc.validate().unwrap_err();
    assert_eq!(
        e.field, "sites[1] (B).grid.residual_mix_g_co2_per_kwh",
        "{e}"
    );
    assert!(e.found.contains("0.25 kWh of green certificates"), "{e}");
    assert!(e.expected.contains("585.6"), "{e}");
    // Without certificates the grid average is the market-based factor, and no mix is needed.
    sc.sites[1].grid.green_certificates_kwh = 0.0;
    sc.validate().unwrap();
}

/// The case: an unrelated 2 h training job at the other site leaves the tokens served
/// and the energy charged to them as they were, so tokens per kWh does not move (it divided by
/// all facility energy and fell by a third).
#[test]
fn an_unrelated_training_job_leaves_tokens_per_kwh_alone() {
    let sc = scenario();
    let mut more = scenario();
    more.jobs
        .push(job("train", 0.0, 2, 2.0, f64::INFINITY, 1, vec![1]));
    more.jobs
        .sort_by(|a, b| a.arrival_h.total_cmp(&b.arrival_h));
    more.validate().unwrap();
    let a = simulate(&sc, &mut Asap, &SimConfig::default()).metrics;
    let b = simulate(&more, &mut Asap, &SimConfig::default()).metrics;
    assert_eq!(a.tokens, b.tokens);
    assert!(b.facility_kwh > a.facility_kwh + 0.5, "the job used energy");
    assert!(b.batch_facility_kwh > a.batch_facility_kwh);
    close(
        "inference energy",
        b.inference_facility_kwh,
        a.inference_facility_kwh,
    );
    close("tokens_per_kwh", b.tokens_per_kwh, a.tokens_per_kwh);
}
