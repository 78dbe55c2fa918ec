//! Demand-response events (import caps over windows), worked out by hand.
mod common;

use common::*;
use suandian_core::fleet::Fleet;
use suandian_core::metrics::ObjectiveWeights;
use suandian_core::policy::{Asap, Policy};
use suandian_core::sim::{simulate, SimConfig};
use suandian_core::*;

/// One site, three hourly slots: 4 accelerators (idle 100 W, peak 600 W) on one server, no other
/// IT, so idle IT = 0.4 kW and a job on all four adds 2 kW; PUE 1; import limit 10 kW at
/// 100/MWh and 500 g/kWh. One job of 4 accelerators and 2 h arrives at 0. An event, announced
/// at 0.5 h, caps import at 0.3 kW from 1.25 h to 1.5 h: it covers a part of slot 1, so it caps
/// all of slot 1.
fn scenario(interruptible: bool) -> Scenario {
    let a = site("A", 4, 4, 0.0, 1.0, 10.0, vec![100.0; 3], vec![500.0; 3]);
    let mut j = job("J", 0.0, 4, 2.0, f64::INFINITY, 0, vec![0]);
    j.interruptible = interruptible;
    Scenario {
        name: "dr".into(),
        grid: grid(3, 60),
        sites: vec![a],
        jobs: vec![j],
        inference: vec![],
        economics: economics(),
        // No restart overhead, so that the hand figures stay simple (tests/restart.rs has it).
        dispatch: DispatchRule {
            restart_h: 0.0,
            ..DispatchRule::default()
        },
        demand_response: vec![DemandResponseEvent {
            id: "evt-1".into(),
            sites: vec![0],
            start_h: 1.25,
            end_h: 1.5,
            announced_h: 0.5,
            import_cap_kw: 0.3,
            penalty_per_kwh: None,
        }],
    }
}

fn close(name: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{name}: got {got}, want {want}"
    );
}

#[test]
fn the_slot_rule_and_the_effective_limit() {
    let sc = scenario(true);
    let e = &sc.demand_response[0];
    assert_eq!(
        (0..3)
            .map(|t| e.covers_slot(&sc.grid, t))
            .collect::<Vec<_>>(),
        [false, true, false]
    );
    assert_eq!(
        (0..3).map(|t| sc.import_limit_kw(0, t)).collect::<Vec<_>>(),
        [10.0, 0.3, 10.0]
    );
    assert_eq!(sc.dr_cap_kw(0, 0), None);
    assert_eq!(sc.dr_cap_kw(0, 1), Some(0.3));
    // Touching a slot boundary is not covering the slot; two events: the lowest cap wins; a cap
    // above the connection's limit does not raise it.
    let mut sc = scenario(true);
    sc.demand_response[0].start_h = 1.0;
    sc.demand_response[0].end_h = 2.0;
    sc.demand_response.push(DemandResponseEvent {
        id: "evt-2".into(),
        sites: vec![0],
        start_h: 1.5,
        end_h: 3.0,
        announced_h: 0.0,
        import_cap_kw: 50.0,
        penalty_per_kwh: None,
    });
    sc.validate().unwrap();
    assert_eq!(
        (0..3).map(|t| sc.import_limit_kw(0, t)).collect::<Vec<_>>(),
        [10.0, 0.3, 10.0]
    );
    assert_eq!(sc.dr_cap_kw(0, 2), Some(50.0));
}

#[test]
fn the_site_sheds_an_interruptible_job_under_the_cap() {
    let sc = scenario(true);
    sc.validate().unwrap();
    let cfg = SimConfig {
        forecast: Default::default(),
        record_timeline: true,
    };
    let r = simulate(&sc, &mut Asap, &cfg);
    let m = &r.metrics;
    // Slot 0: J runs, 0.4 + 2 = 2.4 kW imported. Slot 1: the supply is 0.3 kW, which cannot
    // carry even the idle 0.4 kW: J is pre-empted, asap's restart is refused for want of power,
    // and the idle load imports 0.1 kW over the cap. Slot 2: J resumes, done at 3.0.
    let import: Vec<f64> = r.timeline.iter().map(|row| row.flows.import_kw).collect();
    let over: Vec<f64> = r
        .timeline
        .iter()
        .map(|row| row.flows.import_over_limit_kw)
        .collect();
    for (t, (got, want)) in import.iter().zip([2.4, 0.4, 2.4]).enumerate() {
        close(&format!("import slot {t}"), *got, want);
    }
    for (t, (got, want)) in over.iter().zip([0.0, 0.1, 0.0]).enumerate() {
        close(&format!("over limit slot {t}"), *got, want);
    }
    assert_eq!((m.power_preemptions, m.power_deferrals), (1, 1));
    assert_eq!(r.jobs[0].suspensions, 1);
    assert_eq!(r.jobs[0].completed_h, Some(3.0));
    assert_eq!(m.dr_event_slots, 1);
    close("dr_over_cap_kwh", m.dr_over_cap_kwh, 0.1);
    close("import_over_limit_kwh", m.import_over_limit_kwh, 0.1);
    assert_eq!(r.per_site[0].dr_event_slots, 1);
    close("site dr_over_cap_kwh", r.per_site[0].dr_over_cap_kwh, 0.1);
    // Cost 5.2 kWh x 0.1 = 0.52; carbon 5.2 x 0.5 = 2.6 kg x 100/t = 0.26; the over-limit
    // penalty prices the breach. Its default ranks a breach above lateness: an accelerator-hour
    // late costs 5 x the dearest accelerator-hour, 5 x 0.5 kW x (0.1 + 100/t x 0.5 kg) = 0.375;
    // a kWh runs at most 1 / 0.5 accelerator-hours (0.5 kW at any level, speed proportional to
    // power, PUE 1); so 2 x 0.375 / 0.5 = 1.5 per kWh.
    close("cost", m.cost, 0.52);
    let w = ObjectiveWeights::for_scenario(&sc);
    close("late_per_acc_h", w.late_per_acc_h, 0.375);
    close("over_limit_per_kwh", w.over_limit_per_kwh, 1.5);
    close("over_limit_penalty", m.over_limit_penalty, 0.15);
    close("objective", w.evaluate(m), 0.52 + 0.26 + 0.15);
}

/// The breach penalty is scenario data: `economics.over_limit_per_kwh` replaces the default,
/// and an event's `penalty_per_kwh` prices the kWh above its own cap.
#[test]
fn the_breach_penalty_is_the_scenario_s_or_the_event_s() {
    let mut sc = scenario(true);
    sc.economics.over_limit_per_kwh = Some(3.0);
    let r = simulate(&sc, &mut Asap, &SimConfig::default());
    close("economics penalty", r.metrics.over_limit_penalty, 0.1 * 3.0);
    sc.demand_response[0].penalty_per_kwh = Some(7.0);
    assert_eq!(sc.dr_penalty_per_kwh(0, 1), Some(7.0));
    assert_eq!(sc.dr_penalty_per_kwh(0, 0), None);
    let r = simulate(&sc, &mut Asap, &SimConfig::default());
    close("event penalty", r.metrics.over_limit_penalty, 0.1 * 7.0);
    let w = ObjectiveWeights::for_scenario(&sc);
    close("objective", w.evaluate(&r.metrics), 0.52 + 0.26 + 0.7);
}

/// On the default week (in CNY, where 1 per kWh was about the peak price, so the planner
/// preferred a breach to lateness), the default penalty is above the lateness any kWh could
/// avoid.
#[test]
fn the_default_penalty_ranks_a_breach_above_lateness() {
    let sc = suandian_scenarios::default_scenario::default_scenario(7, 2024);
    let w = ObjectiveWeights::for_scenario(&sc);
    let e_min = sc
        .sites
        .iter()
        .map(|s| {
            let a = &s.accelerators;
            let l = a.min_power_level;
            let pue = (0..sc.grid.slots)
                .map(|t| s.pue.at(t))
                .fold(f64::INFINITY, f64::min);
            a.busy_extra_kw(l) / a.speed(l) * pue
        })
        .fold(f64::INFINITY, f64::min);
    // A kWh over the limit costs more than the late accelerator-hours it could have run.
    assert!(w.over_limit_per_kwh * e_min > w.late_per_acc_h, "{w:?}");
    assert!(w.over_limit_per_kwh > 10.0, "{w:?}");
}

#[test]
fn what_cannot_be_shed_shows_as_import_over_the_cap() {
    let sc = scenario(false);
    let r = simulate(&sc, &mut Asap, &SimConfig::default());
    let m = &r.metrics;
    // J cannot be interrupted: it runs through slot 1, 2.4 kW against a 0.3 kW cap.
    assert_eq!(m.power_preemptions, 0);
    assert_eq!(r.jobs[0].completed_h, Some(2.0));
    close("dr_over_cap_kwh", m.dr_over_cap_kwh, 2.1);
    close("import_over_limit_kwh", m.import_over_limit_kwh, 2.1);
}

#[test]
fn a_cap_above_the_connection_limit_does_not_count_as_over_cap_energy() {
    // The event caps at 5 kW while 2.4 kW flows: under an event, nothing over.
    let mut sc = scenario(false);
    sc.demand_response[0].import_cap_kw = 5.0;
    let r = simulate(&sc, &mut Asap, &SimConfig::default());
    assert_eq!(r.metrics.dr_event_slots, 1);
    assert_eq!(r.metrics.dr_over_cap_kwh, 0.0);
    assert_eq!(r.metrics.import_over_limit_kwh, 0.0);
}

/// Asap, recording what the context says of slot 1's import limit at every slot.
#[derive(Default)]
struct Watch {
    seen: Vec<(usize, f64, f64, usize)>,
}

impl Policy for Watch {
    fn name(&self) -> String {
        "watch".into()
    }
    fn on_slot(&mut self, ctx: &mut dyn Fleet) {
        self.seen.push((
            ctx.slot(),
            ctx.import_limit_forecast_kw(0, 1),
            ctx.import_limit_kw(0),
            ctx.demand_response_announced().len(),
        ));
        Asap.on_slot(ctx);
    }
    fn on_arrival(&mut self, ctx: &mut dyn Fleet, job: JobId) {
        Asap.on_arrival(ctx, job);
    }
}

#[test]
fn policies_see_an_event_once_it_is_announced() {
    let sc = scenario(true);
    let mut w = Watch::default();
    simulate(&sc, &mut w, &SimConfig::default());
    // Announced at 0.5 h: unseen at slot 0, seen from slot 1 on (also once it is past).
    assert_eq!(
        w.seen,
        vec![(0, 10.0, 10.0, 0), (1, 0.3, 10.0, 1), (2, 0.3, 10.0, 1)]
    );
}

#[test]
fn bad_events_are_named() {
    let check = |f: &dyn Fn(&mut DemandResponseEvent), want: &str| {
        let mut sc = scenario(true);
        f(&mut sc.demand_response[0]);
        assert_eq!(sc.validate().unwrap_err().to_string(), want);
    };
    check(
        &|e| e.end_h = 1.25,
        "demand_response[0] (evt-1).end: found 1.25 h, expected a time after the start (1.25 h)",
    );
    check(
        &|e| e.announced_h = 1.5,
        "demand_response[0] (evt-1).announced: found 1.5 h, expected a time at or before the start (1.25 h)",
    );
    check(
        &|e| e.import_cap_kw = -1.0,
        "demand_response[0] (evt-1).import_cap_kw: found -1, expected a number from 0 to 1000000000",
    );
    check(
        &|e| e.sites = vec![1],
        "demand_response[0] (evt-1).sites[0]: found 1, expected a site index below 1",
    );
    check(
        &|e| e.sites = vec![],
        "demand_response[0] (evt-1).sites: found none, expected at least one site",
    );
    let mut sc = scenario(true);
    sc.demand_response.push(sc.demand_response[0].clone());
    assert_eq!(
        sc.validate().unwrap_err().to_string(),
        "demand_response[1] (evt-1).id: found evt-1, expected an id no other demand-response event has"
    );
}

#[test]
fn the_battery_discharges_rather_than_breach_the_cap() {
    // A 2 kWh / 1 kW lossless battery, half full. Flat prices and carbon: the default rule
    // (trailing mean) would never discharge it. J cannot be interrupted, so in slot 1 the
    // 2.4 kW load meets a 0.3 kW cap: 0.3 imported, 1 kW from the battery, 1.1 kW over the cap.
    let mut sc = scenario(false);
    sc.sites[0].battery = Some(Battery {
        capacity_kwh: 2.0,
        power_kw: 1.0,
        round_trip_efficiency: 1.0,
        soc_min: 0.0,
        soc_max: 1.0,
        soc_initial: 0.5,
        wear_cost_per_kwh: None,
    });
    sc.validate().unwrap();
    let cfg = SimConfig {
        forecast: Default::default(),
        record_timeline: true,
    };
    let r = simulate(&sc, &mut Asap, &cfg);
    let discharge: Vec<f64> = r
        .timeline
        .iter()
        .map(|row| row.flows.discharge_kw)
        .collect();
    assert_eq!(discharge, [0.0, 1.0, 0.0]);
    close("dr_over_cap_kwh", r.metrics.dr_over_cap_kwh, 1.1);
    close("soc", r.timeline[2].flows.soc_kwh, 0.0);
}
