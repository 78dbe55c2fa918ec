//! Suspending is not free: a job resumed after a suspension first restarts from its
//! checkpoint (`dispatch.restart_hours`), holding its accelerators and drawing power with no
//! progress. Worked by hand on one job.
mod common;

use common::*;
use suandian_core::fleet::{Fleet, JobState};
use suandian_core::policy::Policy;
use suandian_core::sim::{simulate, SimConfig};
use suandian_core::*;

/// Starts the job at slot 0, suspends it at slot `pause` (if any), resumes it at the slot
/// after; at slot 1 it may instead change the job's power level (suspend and start again at
/// once), which is not a restart.
struct Script {
    pause: Option<usize>,
    relevel: bool,
}

impl Policy for Script {
    fn name(&self) -> String {
        "script".into()
    }
    fn on_slot(&mut self, ctx: &mut dyn Fleet) {
        let t = ctx.slot();
        match ctx.state(0) {
            JobState::Queued if t == 0 => ctx.start(0, 0, 1.0).unwrap(),
            JobState::Running if Some(t) == self.pause => ctx.suspend(0).unwrap(),
            JobState::Running if t == 1 && self.relevel => {
                ctx.suspend(0).unwrap();
                ctx.start(0, 0, 0.5).unwrap();
            }
            JobState::Suspended => ctx.start(0, 0, 1.0).unwrap(),
            _ => {}
        }
    }
}

/// One site of 2 accelerators (idle 100 W, peak 600 W: 0.5 kW extra each at full power), PUE
/// 1, no other IT; one job of 2 accelerators x 2 h; a restart of 0.25 h; 1 h slots.
fn scenario() -> Scenario {
    Scenario {
        name: "restart".into(),
        grid: grid(6, 60),
        sites: vec![site(
            "A",
            2,
            2,
            0.0,
            1.0,
            100.0,
            vec![100.0; 6],
            vec![500.0; 6],
        )],
        jobs: vec![job("J", 0.0, 2, 2.0, 6.0, 0, vec![0])],
        inference: vec![],
        economics: economics(),
        dispatch: DispatchRule {
            restart_h: 0.25,
            ..DispatchRule::default()
        },
        demand_response: vec![],
    }
}

#[test]
fn a_resumed_job_pays_its_restart_in_time_and_energy() {
    let sc = scenario();
    sc.validate().unwrap();
    let run = |p: &mut Script| simulate(&sc, p, &SimConfig::default());
    // Without a pause: 0-2 h, 2 x 0.5 kW x 2 h = 2 kWh above idle.
    let straight = run(&mut Script {
        pause: None,
        relevel: false,
    });
    let j = &straight.jobs[0];
    assert_eq!(j.completed_h, Some(2.0));
    assert!((j.energy_it_kwh - 2.0).abs() < 1e-9, "{}", j.energy_it_kwh);
    assert_eq!(j.restart_acc_h, 0.0);
    // Paused in slot 1, resumed in slot 2: 1 h of work before, then 0.25 h restart and the
    // last hour: done at 3.25 h, 2 x 0.5 kW x 2.25 h = 2.25 kWh, 0.5 accelerator-hours of
    // restart, and still 4 accelerator-hours of work done.
    let paused = run(&mut Script {
        pause: Some(1),
        relevel: false,
    });
    let j = &paused.jobs[0];
    assert_eq!(j.suspensions, 1);
    assert!(
        (j.completed_h.unwrap() - 3.25).abs() < 1e-9,
        "{:?}",
        j.completed_h
    );
    assert!((j.energy_it_kwh - 2.25).abs() < 1e-9, "{}", j.energy_it_kwh);
    assert!((j.restart_acc_h - 0.5).abs() < 1e-9, "{}", j.restart_acc_h);
    assert!((paused.metrics.restart_acc_h - 0.5).abs() < 1e-9);
    assert!((paused.metrics.work_done_acc_h - 4.0).abs() < 1e-9);
    assert_eq!(j.unfinished_work_acc_h, 0.0);
    assert!(paused.metrics.it_kwh > straight.metrics.it_kwh);
    // Changing the power level at a slot start is not a restart: at level 0.5 (speed 0.5) the
    // second hour of work takes 2 h, done at 3 h, no restart.
    let relevel = run(&mut Script {
        pause: None,
        relevel: true,
    });
    let j = &relevel.jobs[0];
    assert_eq!(j.restart_acc_h, 0.0);
    assert_eq!(j.completed_h, Some(3.0));
}

#[test]
fn a_job_cut_off_during_its_restart_has_done_no_more_work() {
    // A 3-slot run, paused in slot 1 and resumed in slot 2: 1 h of work, then 0.25 h of
    // restart and 0.75 h of work before the run ends. The restart is not work: 2 x (2 - 1 -
    // 0.75) = 0.5 accelerator-hours are undone (not 2 x 0.25 = 0.5 less).
    let mut sc = scenario();
    sc.grid = grid(3, 60);
    for s in &mut sc.sites {
        s.grid.price_per_mwh.truncate(3);
        s.grid.carbon_g_per_kwh.truncate(3);
        s.grid.feed_in_price_per_mwh.truncate(3);
    }
    sc.jobs[0].deadline_h = 3.0;
    sc.validate().unwrap();
    let r = simulate(
        &sc,
        &mut Script {
            pause: Some(1),
            relevel: false,
        },
        &SimConfig::default(),
    );
    let j = &r.jobs[0];
    assert!(
        (j.unfinished_work_acc_h - 0.5).abs() < 1e-9,
        "{}",
        j.unfinished_work_acc_h
    );
    assert!((r.metrics.work_done_acc_h - 3.5).abs() < 1e-9);
}
