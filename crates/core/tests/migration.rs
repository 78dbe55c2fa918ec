//! Migration is scenario data: the time a migrating job makes no progress
//! (`dispatch.migration_h`) and the data it moves (`Job::checkpoint_gb`) at the transfer price.
mod common;

use common::*;
use suandian_core::fleet::{Fleet, JobState};
use suandian_core::metrics::{Metrics, ObjectiveWeights};
use suandian_core::policy::Policy;
use suandian_core::sim::{simulate, SimConfig};
use suandian_core::*;

/// Two identical sites, three hourly slots, one migratable job of 2 accelerators and 1.5 h
/// with a 100 GB checkpoint; moving data costs 0.05 per GB.
fn scenario(migration_h: f64) -> Scenario {
    let a = site("A", 4, 4, 0.0, 1.0, 100.0, vec![50.0; 3], vec![300.0; 3]);
    let b = site("B", 4, 4, 0.0, 1.0, 100.0, vec![50.0; 3], vec![300.0; 3]);
    let mut j = job("J", 0.0, 2, 1.5, f64::INFINITY, 0, vec![0, 1]);
    j.migratable = true;
    j.checkpoint_gb = 100.0;
    let mut economics = economics();
    economics.transfer_cost_per_gb = 0.05;
    Scenario {
        name: "migration".into(),
        grid: grid(3, 60),
        sites: vec![a, b],
        jobs: vec![j],
        inference: vec![],
        economics,
        dispatch: DispatchRule {
            migration_h,
            ..DispatchRule::default()
        },
        demand_response: vec![],
    }
}

/// Starts J at A in slot 0, moves it to B in slot 1, resumes it at B once it has landed; records
/// what it saw.
#[derive(Default)]
struct MoveOnce {
    seen: Vec<(usize, JobState, f64)>,
}

impl Policy for MoveOnce {
    fn name(&self) -> String {
        "move-once".into()
    }
    fn on_slot(&mut self, ctx: &mut dyn Fleet) {
        self.seen
            .push((ctx.slot(), ctx.state(0), ctx.migration_h()));
        match (ctx.slot(), ctx.state(0)) {
            (0, JobState::Queued) => ctx.start(0, 0, 1.0).unwrap(),
            (1, JobState::Running) => ctx.migrate(0, 1).unwrap(),
            (_, JobState::Suspended) => ctx.start(0, 1, 1.0).unwrap(),
            _ => {}
        }
    }
}

#[test]
fn a_migration_costs_its_checkpoint_at_the_transfer_price() {
    let sc = scenario(1.0);
    sc.validate().unwrap();
    let mut p = MoveOnce::default();
    let r = simulate(&sc, &mut p, &SimConfig::default());
    // Slot 0: runs at A (1 h of 1.5 done). Slot 1: migrating (1 h, no progress). Slot 2: lands
    // at its start, resumes at B, finishes the last 0.5 h at 2.5.
    assert_eq!(
        p.seen,
        vec![
            (0, JobState::Queued, 1.0),
            (1, JobState::Running, 1.0),
            (2, JobState::Suspended, 1.0),
        ]
    );
    let j = &r.jobs[0];
    assert_eq!(j.migrations, 1);
    assert_eq!((j.site, j.completed_h), (1, Some(2.5)));
    // 100 GB x 0.05 = 5.
    assert_eq!(j.migrated_gb, 100.0);
    assert!((j.migration_cost - 5.0).abs() < 1e-12);
    let m = &r.metrics;
    assert_eq!(m.migrations, 1);
    assert_eq!(m.migrated_gb, 100.0);
    assert!((m.migration_cost - 5.0).abs() < 1e-12);
    assert!((sc.jobs[0].migration_cost(&sc.economics) - 5.0).abs() < 1e-12);
    // The energy cost does not include it; the objective does, once.
    assert!((m.total_cost - (m.cost + m.carbon_cost)).abs() < 1e-12);
    let w = ObjectiveWeights::for_scenario(&sc);
    let without = Metrics {
        migration_cost: 0.0,
        ..m.clone()
    };
    assert!((w.evaluate(m) - w.evaluate(&without) - 5.0).abs() < 1e-9);
}

#[test]
fn migration_time_is_scenario_data() {
    // Two hours of moving: the job lands at the end of the run and never finishes there.
    let sc = scenario(2.0);
    let mut p = MoveOnce::default();
    let r = simulate(&sc, &mut p, &SimConfig::default());
    assert_eq!(p.seen[2], (2, JobState::Migrating, 2.0));
    assert_eq!(r.jobs[0].completed_h, None);
    assert!((r.metrics.unfinished_work_acc_h - 1.0).abs() < 1e-9);
    // Still paid for.
    assert!((r.metrics.migration_cost - 5.0).abs() < 1e-12);
}

#[test]
fn bad_migration_data_is_named() {
    let mut sc = scenario(1.0);
    sc.dispatch.migration_h = -1.0;
    let e = sc.validate().unwrap_err();
    assert_eq!(e.field, "dispatch.migration_hours");
    let mut sc = scenario(1.0);
    sc.jobs[0].checkpoint_gb = f64::NAN;
    assert_eq!(
        sc.validate().unwrap_err().field,
        "jobs[0] (J).checkpoint_gb"
    );
    let mut sc = scenario(1.0);
    sc.economics.transfer_cost_per_gb = -0.1;
    assert_eq!(
        sc.validate().unwrap_err().to_string(),
        "economics.transfer_cost_per_gb: found -0.1, expected a number from 0 to 1000000"
    );
}
