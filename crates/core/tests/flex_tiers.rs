//! Flexibility tiers (Emerald AI's Flex 0-3) under demand-response events: while an event caps
//! its site, a running job with a tier is neither paused nor moved, and runs at no less than its
//! tier's share of full speed (tier 0: full speed); without an event, or without a tier, a
//! policy does as it likes. Worked by hand, then as a property over random actions.
mod common;

use common::*;
use proptest::prelude::*;
use suandian_core::fleet::{Fleet, JobState, Reject};
use suandian_core::policy::{Asap, Policy};
use suandian_core::sim::{simulate, SimConfig};
use suandian_core::*;

/// One site of 12 accelerators (three servers of four; idle 100 W, peak 600 W, speed
/// proportional to power, levels from 0.3), PUE 1, 100 kW, three hourly... four slots. Three
/// jobs of 4 accelerators x 4 h arrive at 0: `t0` (tier 0), `t3` (tier 3), `free` (no tier).
/// An event caps the site at 1 kW over slot 1 (announced at 0).
fn scenario() -> Scenario {
    let a = site("A", 12, 4, 0.0, 1.0, 100.0, vec![100.0; 4], vec![500.0; 4]);
    let mut jobs = Vec::new();
    for (id, tier) in [("t0", Some(0)), ("t3", Some(3)), ("free", None)] {
        let mut j = job(id, 0.0, 4, 4.0, f64::INFINITY, 0, vec![0]);
        j.flex_tier = tier;
        jobs.push(j);
    }
    Scenario {
        name: "tiers".into(),
        grid: grid(4, 60),
        sites: vec![a],
        jobs,
        inference: vec![],
        economics: economics(),
        dispatch: DispatchRule {
            restart_h: 0.0,
            ..DispatchRule::default()
        },
        demand_response: vec![DemandResponseEvent {
            id: "cap".into(),
            sites: vec![0],
            start_h: 1.0,
            end_h: 2.0,
            announced_h: 0.0,
            import_cap_kw: 1.0,
            penalty_per_kwh: None,
        }],
    }
}

/// Starts everything at slot 0; at slot 1 (capped) tries to shed each job every way; at slot 2
/// (no event) pauses `t0`. Records each answer.
#[derive(Default)]
struct Shed {
    answers: Vec<(usize, &'static str, &'static str, Result<(), Reject>)>,
    states_at_slot_1: Vec<(String, JobState, f64)>,
}

impl Policy for Shed {
    fn name(&self) -> String {
        "shed".into()
    }
    fn on_slot(&mut self, ctx: &mut dyn Fleet) {
        let t = ctx.slot();
        let jobs: Vec<JobId> = ctx.active_jobs().to_vec();
        let id = |ctx: &dyn Fleet, j: JobId| ctx.job(j).unwrap().id.clone();
        let find = |ctx: &dyn Fleet, name: &str| {
            jobs.iter().copied().find(|&j| id(ctx, j) == name).unwrap()
        };
        match t {
            0 => Asap.on_slot(ctx),
            1 => {
                for &j in &jobs {
                    self.states_at_slot_1
                        .push((id(ctx, j), ctx.state(j), ctx.power_level(j)));
                }
                let (t0, t3, free) = (find(ctx, "t0"), find(ctx, "t3"), find(ctx, "free"));
                self.answers.push((t, "t0", "suspend", ctx.suspend(t0)));
                self.answers
                    .push((t, "t0", "level 0.9", ctx.set_level(t0, 0.9)));
                self.answers.push((t, "t0", "migrate", ctx.migrate(t0, 0)));
                self.answers.push((t, "t3", "suspend", ctx.suspend(t3)));
                self.answers
                    .push((t, "t3", "level 0.4", ctx.set_level(t3, 0.4)));
                self.answers
                    .push((t, "t3", "level 0.5", ctx.set_level(t3, 0.5)));
                self.answers
                    .push((t, "free", "level 0.3", ctx.set_level(free, 0.3)));
            }
            2 => {
                let t0 = find(ctx, "t0");
                self.answers.push((t, "t0", "suspend", ctx.suspend(t0)));
            }
            _ => {}
        }
    }
}

#[test]
fn a_tier_holds_under_the_event_and_only_then() {
    let sc = scenario();
    sc.validate().unwrap();
    let cfg = SimConfig {
        forecast: Default::default(),
        record_timeline: true,
    };
    let mut p = Shed::default();
    let r = simulate(&sc, &mut p, &cfg);
    // The cap (1 kW) cannot carry even the idle site (1.2 kW): the engine pre-empts the job
    // without a tier as the slot begins, and not the two with one.
    assert_eq!(
        p.states_at_slot_1,
        vec![
            ("t0".into(), JobState::Running, 1.0),
            ("t3".into(), JobState::Running, 1.0),
            ("free".into(), JobState::Suspended, 1.0),
        ]
    );
    assert_eq!(r.metrics.power_preemptions, 1);
    use Reject::FlexTier;
    assert_eq!(
        p.answers,
        vec![
            (1, "t0", "suspend", Err(FlexTier)),
            (1, "t0", "level 0.9", Err(FlexTier)),
            (1, "t0", "migrate", Err(FlexTier)),
            (1, "t3", "suspend", Err(FlexTier)),
            (1, "t3", "level 0.4", Err(FlexTier)),
            // Speed 0.5: the 50 % slowdown tier 3 tolerates.
            (1, "t3", "level 0.5", Ok(())),
            // Not running (pre-empted): no level to change.
            (1, "free", "level 0.3", Err(Reject::WrongState)),
            // No event in slot 2: a tier no longer holds it.
            (2, "t0", "suspend", Ok(())),
        ]
    );
    // What the tiers kept running is imported over the cap, reported and charged: slot 1's IT
    // load is the idle 1.2 kW, t0's 2 kW (4 x 0.5 kW) and t3's 1 kW at half power.
    let slot1 = &r.timeline[1];
    assert!(
        (slot1.flows.import_kw - (1.2 + 2.0 + 1.0)).abs() < 1e-9,
        "{}",
        slot1.flows.import_kw
    );
    assert!(
        (r.metrics.dr_over_cap_kwh - 3.2).abs() < 1e-9,
        "{}",
        r.metrics.dr_over_cap_kwh
    );
}

#[test]
fn a_tier_out_of_range_is_named() {
    let mut sc = scenario();
    sc.jobs[0].flex_tier = Some(4);
    let e = sc.validate().unwrap_err();
    assert!(e.field.ends_with(".flex_tier"), "{e:?}");
    assert!(e.expected.contains("0, 1, 2 or 3"), "{e:?}");
}

/// Random actions on random jobs; after the policy's turn in every slot an event caps a site,
/// each job with a tier that ran there as the turn began still runs there, at no less than its
/// tier's speed (or the speed it ran at, if that was lower).
struct Random {
    rng: u64,
    violations: Vec<String>,
}

impl Random {
    fn next(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }
}

impl Policy for Random {
    fn name(&self) -> String {
        "random".into()
    }
    fn on_slot(&mut self, ctx: &mut dyn Fleet) {
        let jobs: Vec<JobId> = ctx.active_jobs().to_vec();
        let capped: Vec<bool> = (0..ctx.site_count())
            .map(|s| {
                ctx.demand_response_announced()
                    .iter()
                    .any(|e| e.caps(ctx.grid(), s, ctx.slot()))
            })
            .collect();
        // What the tiers protect as the turn begins: each such job's floor is its tier's
        // speed, or the speed it already ran at if lower (the engine refuses slowing it, and
        // does not speed up what a policy slowed before the event).
        let protected: Vec<(JobId, usize, f64)> = jobs
            .iter()
            .filter_map(|&j| {
                let min = ctx.job(j)?.flex_min_speed()?;
                let site = ctx.job_site(j);
                let now = ctx.accelerators(site).speed(ctx.power_level(j));
                (ctx.state(j) == JobState::Running && capped[site]).then(|| (j, site, min.min(now)))
            })
            .collect();
        for _ in 0..(2 * jobs.len()) {
            if jobs.is_empty() {
                break;
            }
            let j = jobs[(self.next() % jobs.len() as u64) as usize];
            let site = (self.next() % ctx.site_count() as u64) as usize;
            let level = 0.3 + 0.7 * (self.next() % 8) as f64 / 7.0;
            let _ = match self.next() % 4 {
                0 => ctx.suspend(j),
                1 => ctx.set_level(j, level),
                2 => ctx.migrate(j, site),
                _ => ctx.start(j, site, level),
            };
        }
        for (j, site, min) in protected {
            let speed = ctx.accelerators(site).speed(ctx.power_level(j));
            if ctx.state(j) != JobState::Running || ctx.job_site(j) != site || speed < min - 1e-9 {
                self.violations.push(format!(
                    "slot {}: job {} {:?} at {} speed {speed} (tier floor {min})",
                    ctx.slot(),
                    ctx.job(j).unwrap().id,
                    ctx.state(j),
                    ctx.job_site(j),
                ));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn no_policy_slows_a_job_beyond_its_tier_under_an_event(
        seed in 1u64..u64::MAX,
        tiers in prop::collection::vec(prop::option::of(0u8..4), 1..6),
        start in 0usize..4,
        len in 1usize..4,
        cap_kw in 0.5f64..30.0,
    ) {
        let a = site("A", 12, 4, 0.0, 1.0, 100.0, vec![100.0; 8], vec![500.0; 8]);
        let b = site("B", 8, 4, 0.0, 1.2, 100.0, vec![80.0; 8], vec![300.0; 8]);
        let jobs = tiers
            .iter()
            .enumerate()
            .map(|(i, &tier)| {
                let mut j = job(&format!("j{i}"), 0.0, 4, 3.0, f64::INFINITY, i % 2, vec![0, 1]);
                j.migratable = i % 3 == 0;
                j.flex_tier = tier;
                j
            })
            .collect();
        let sc = Scenario {
            name: "random tiers".into(),
            grid: grid(8, 60),
            sites: vec![a, b],
            jobs,
            inference: vec![],
            economics: economics(),
            dispatch: DispatchRule::default(),
            demand_response: vec![DemandResponseEvent {
                id: "cap".into(),
                sites: vec![0, 1],
                start_h: start as f64,
                end_h: (start + len) as f64,
                announced_h: 0.0,
                import_cap_kw: cap_kw,
                penalty_per_kwh: None,
            }],
        };
        sc.validate().unwrap();
        let mut p = Random { rng: seed, violations: vec![] };
        simulate(&sc, &mut p, &SimConfig::default());
        prop_assert!(p.violations.is_empty(), "{:?}", p.violations);
    }
}
