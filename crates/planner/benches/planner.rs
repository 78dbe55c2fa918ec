//! Planner speed: one re-plan, a week of rolling re-plans, the national-scale plan and the
//! dispatcher, and how the solve time grows with sites, slots and classes.
//!
//!     cargo bench -p suandian-planner --bench planner            # everything
//!     cargo bench -p suandian-planner --bench planner -- quick   # skip the national scale
//!     cargo bench -p suandian-planner --bench planner -- national  # only the national scale
//!     cargo bench -p suandian-planner --bench planner -- growth    # only the growth table
//!     cargo bench -p suandian-planner --bench planner -- resolution  # blocks against every slot
//!     cargo bench -p suandian-planner --bench planner -- replan    # the national re-plan
//!
//! Results: docs/benchmarks.md.

use std::time::Instant;
use suandian_core::fleet::{Fleet, FleetView};
use suandian_core::forecast::ForecastKind;
use suandian_core::metrics::ObjectiveWeights;
use suandian_core::model::{JobId, SiteId};
use suandian_core::policy::Policy;
use suandian_core::sim::{simulate, SimConfig};
use suandian_planner::lp::{
    solve, solve_from, LpSolver, ObjectiveMode, PlanBattery, PlanInput, PlanSite, WorkClass,
};
use suandian_planner::{Coordinated, Oracle, PlannerOptions};
use suandian_scenarios::synthetic::{fleet_with_eligibility, FleetSpec};

/// A planning problem of the given size: daily price and carbon cycles, solar and a battery at
/// every site, `classes` workload classes each eligible at three sites with staggered deadlines.
fn problem(sites: usize, slots: usize, slot_h: f64, classes: usize) -> PlanInput {
    problem_at(sites, slots, slot_h, classes, 0)
}

/// [`problem`] as re-planned `at` slots later: the window moved on, the forecasts revised
/// (prices by up to 3 %), a share of each class's work done.
fn problem_at(sites: usize, slots: usize, slot_h: f64, classes: usize, at: usize) -> PlanInput {
    let per_day = 24.0 / slot_h;
    let sites_v: Vec<PlanSite> = (0..sites)
        .map(|s| {
            let phase = s as f64 * 0.7;
            let cyc =
                |t: usize| (((t + at) as f64 / per_day) * std::f64::consts::TAU + phase).sin();
            let revised = |t: usize| 1.0 + 0.03 * ((t * 7 + at * 13) % 11) as f64 / 11.0;
            PlanSite {
                accelerators: 1024.0,
                dyn_kw_per_acc: 0.6,
                idle_it_kw: 150.0,
                import_limit_kw: vec![1200.0; slots],
                over_limit_per_kwh: vec![],
                market_carbon: None,
                export_limit_kw: 200.0,
                feed_in_per_mwh: vec![20.0; slots],
                battery: Some(PlanBattery {
                    end_value_per_kwh: 0.0,
                    wear_cost_per_kwh: 0.0,
                    power_kw: 250.0,
                    min_kwh: 100.0,
                    max_kwh: 950.0,
                    one_way_efficiency: 0.94,
                    soc0_kwh: 500.0,
                }),
                thermal: (s % 4 == 0).then_some((300.0, 0.15, 800.0)),
                pue: (0..slots).map(|t| 1.2 + 0.05 * cyc(t)).collect(),
                price_per_mwh: (0..slots)
                    .map(|t| (60.0 + 40.0 * cyc(t + 3)) * revised(t))
                    .collect(),
                carbon_g_per_kwh: (0..slots).map(|t| 400.0 + 200.0 * cyc(t)).collect(),
                green_kw: (0..slots).map(|t| (400.0 * cyc(t + 6)).max(0.0)).collect(),
                fixed_acc: vec![0.0; slots],
                capped: None,
                bound_levels: vec![],
            }
        })
        .collect();
    let classes_v = (0..classes)
        .map(|c| WorkClass {
            id: c as u64,
            sites: (0..3.min(sites)).map(|k| (c + k) % sites).collect(),
            work_acc_h: 3000.0 - 20.0 * at as f64,
            start: 0,
            start_fraction: 1.0,
            due: slots / 4 + (c * slots) / (classes.max(1) * 2) + slots / 4 - at,
            max_acc: 400.0,
            defer_cost_per_acc_h: Some(0.08),
            due_after_run: false,
            home: None,
            running: vec![],
            restart_acc_h: 0.0,
        })
        .collect();
    PlanInput {
        slot_h,
        periods: vec![],
        first_slot: at,
        slots,
        sites: sites_v,
        classes: classes_v,
        inference: vec![],
        carbon_price_per_t: 50.0,
        late_per_acc_h: 2.0,
        deferred_per_acc_h: 0.08,
        unserved_per_million_tokens: 2.0,
        over_limit_per_kwh: 1.0,
        mode: ObjectiveMode::Balanced,
        keep_final_soc: true,
        bound: false,
        min_green_share: 0.0,
        solver: solver(),
        time_limit_s: 120.0,
    }
}

/// The LP solver to measure: `SUANDIAN_LP_SOLVER=auto|dual|primal|ipm|pdlp` (default auto).
fn solver() -> LpSolver {
    let name = std::env::var("SUANDIAN_LP_SOLVER").unwrap_or_else(|_| "auto".into());
    LpSolver::by_name(&name)
        .unwrap_or_else(|| panic!("SUANDIAN_LP_SOLVER: unknown solver `{name}`"))
}

fn best_of(n: usize, mut f: impl FnMut() -> f64) -> f64 {
    (0..n).map(|_| f()).fold(f64::INFINITY, f64::min)
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let only_national = std::env::args().any(|a| a == "national");
    if std::env::args().any(|a| a == "growth") {
        growth();
        return;
    }
    if std::env::args().any(|a| a == "replan") {
        national_replan();
        return;
    }
    if std::env::args().any(|a| a == "resolution") {
        resolution();
        return;
    }
    if !only_national {
        small_and_rolling(quick);
    }
    if !quick {
        national();
    }
}

fn small_and_rolling(quick: bool) {
    // 1. One re-plan: 8 sites x 96 quarter-hour slots x 20 classes, batteries everywhere.
    let p = problem(8, 96, 0.25, 20);
    let t = best_of(5, || {
        let t = Instant::now();
        let plan = solve(&p).expect("solves");
        assert!(plan.objective.is_finite());
        t.elapsed().as_secs_f64()
    });
    let plan = solve(&p).unwrap();
    println!("re-plan 8 sites x 96 slots (15 min) x 20 classes: {t:.3} s ({} columns, {} rows, {} simplex iterations; target 0.5 s)", plan.columns, plan.rows, plan.iterations);
    // The same re-plan one slot later, started from this plan (the rolling horizon's case).
    let (_, warm) = solve_from(&p, None).expect("solves");
    let next = problem_at(8, 96, 0.25, 20, 1);
    let mut iterations = 0;
    let t = best_of(5, || {
        let t = Instant::now();
        let (plan, _) = solve_from(&next, Some(&warm)).expect("solves");
        iterations = plan.iterations;
        t.elapsed().as_secs_f64()
    });
    let cold = best_of(5, || {
        let t = Instant::now();
        solve(&next).expect("solves");
        t.elapsed().as_secs_f64()
    });
    println!("the next re-plan, warm-started from this one: {t:.3} s ({iterations} simplex iterations; {cold:.3} s cold)");

    // 2. Growth of one plan with sites, slots and classes.
    println!("\ngrowth (one solve, best of 3):");
    println!("| sites | slots | classes | columns | rows | solve s | next re-plan, warm s |");
    println!("|---|---|---|---|---|---|---|");
    for &(sites, slots, classes) in &[
        (8, 96, 20),
        (8, 192, 20),
        (8, 96, 80),
        (25, 96, 20),
        (50, 96, 50),
        (100, 168, 100),
    ] {
        if quick && sites > 25 {
            continue;
        }
        let slot_h = if slots == 168 { 1.0 } else { 0.25 };
        let p = problem(sites, slots, slot_h, classes);
        let mut shape = (0, 0);
        let runs = if sites >= 50 { 1 } else { 3 };
        let mut warm = None;
        let t = best_of(runs, || {
            let t = Instant::now();
            let (plan, w) = solve_from(&p, None).expect("solves");
            shape = (plan.columns, plan.rows);
            warm = Some(w);
            t.elapsed().as_secs_f64()
        });
        let next = problem_at(sites, slots, slot_h, classes, 1);
        let tw = best_of(runs, || {
            let t = Instant::now();
            solve_from(&next, warm.as_ref()).expect("solves");
            t.elapsed().as_secs_f64()
        });
        println!(
            "| {sites} | {slots} | {classes} | {} | {} | {t:.3} | {tw:.3} |",
            shape.0, shape.1
        );
    }

    // 3. A week of rolling re-plans: the default scenario, 168 hourly re-plans, noisy forecast.
    let sc = suandian_io::builtin::by_name("default", 7, 2024)
        .unwrap()
        .scenario;
    let cfg = SimConfig {
        forecast: ForecastKind::Noisy {
            relative_error: 0.15,
            seed: 42,
        },
        ..SimConfig::default()
    };
    for warm_start in [false, true] {
        let t = Instant::now();
        let mut policy = Coordinated::new(
            PlannerOptions {
                warm_start,
                solver: solver(),
                ..PlannerOptions::default()
            },
            ObjectiveWeights::for_scenario(&sc),
        );
        let r = simulate(&sc, &mut policy, &cfg);
        println!(
            "\nweek of rolling re-plans (default scenario, 8 sites, {} jobs): {:.1} s; {}",
            sc.jobs.len(),
            t.elapsed().as_secs_f64(),
            r.timings
                .iter()
                .chain(&r.notes)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
}

/// The national-scale re-plan: 100 sites x 168 hourly slots x 100 classes, planned cold, then
/// re-planned one slot later (the window moved on, forecasts revised, work done) from that
/// plan's basis, by the default solver and by each algorithm.
fn national_replan() {
    let p = problem(100, 168, 1.0, 100);
    let next = problem_at(100, 168, 1.0, 100, 1);
    println!("| solver | first plan s | columns | re-plan one slot later, warm s | simplex iterations | objective |");
    println!("|---|---|---|---|---|---|");
    for s in [LpSolver::Auto, LpSolver::Dual, LpSolver::Ipm] {
        let with = |p: &PlanInput| PlanInput {
            solver: s,
            ..p.clone()
        };
        let t = Instant::now();
        let (plan, warm) = solve_from(&with(&p), None).expect("solves");
        let first = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let (again, _) = solve_from(&with(&next), Some(&warm)).expect("solves");
        println!(
            "| {s:?} | {first:.2} | {} | {:.2} | {} | {:.1} |",
            plan.columns,
            t.elapsed().as_secs_f64(),
            again.iterations,
            again.objective
        );
    }
}

fn national() {
    // 4. National scale: 100 sites x 168 hourly slots, 1,000,000 jobs, one plan (the oracle's
    //    model over the week) and the dispatcher assigning every job.
    let t = Instant::now();
    let spec = FleetSpec {
        sites: 100,
        slots: 168,
        slot_minutes: 60,
        jobs: 1_000_000,
        accelerators_per_site: 4096,
        seed: 5,
    };
    let sc = fleet_with_eligibility(spec, 3);
    println!(
        "\nnational: built {} in {:.1} s",
        sc.name,
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let asap = simulate(
        &sc,
        suandian_core::policy::by_name("asap").unwrap().as_mut(),
        &SimConfig::default(),
    );
    println!(
        "national: the simulator alone (asap) over the week: {:.1} s ({} completed)",
        t.elapsed().as_secs_f64(),
        asap.metrics.jobs_completed
    );
    let t = Instant::now();
    let w = ObjectiveWeights::for_scenario(&sc);
    let mut oracle = Oracle::with_solver(&sc, &w, ObjectiveMode::Balanced, solver())
        .expect("national plan solves");
    let plan_s = t.elapsed().as_secs_f64();
    println!(
        "national plan: {plan_s:.1} s ({})",
        Policy::timings(&oracle)
            .into_iter()
            .chain(Policy::notes(&oracle))
            .collect::<Vec<_>>()
            .join("; ")
    );
    let t = Instant::now();
    let mut timed = Timed {
        inner: &mut oracle,
        s: 0.0,
    };
    let r = simulate(&sc, &mut timed, &SimConfig::default());
    let dispatch_s = t.elapsed().as_secs_f64();
    println!(
        "national dispatch of {} jobs over the week: {dispatch_s:.1} s with the simulator, {:.1} s in the dispatcher ({} started, {} completed); plan + dispatch {:.1} s",
        sc.jobs.len(),
        timed.s,
        r.jobs.iter().filter(|j| j.started_h.is_some()).count(),
        r.metrics.jobs_completed,
        plan_s + dispatch_s
    );
}

/// A policy that times another: the seconds spent in its decisions, apart from the simulator.
struct Timed<'a> {
    inner: &'a mut dyn Policy,
    s: f64,
}

impl Policy for Timed<'_> {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn on_slot(&mut self, ctx: &mut dyn Fleet) {
        let t = Instant::now();
        self.inner.on_slot(ctx);
        self.s += t.elapsed().as_secs_f64();
    }
    fn on_arrival(&mut self, ctx: &mut dyn Fleet, job: JobId) {
        let t = Instant::now();
        self.inner.on_arrival(ctx, job);
        self.s += t.elapsed().as_secs_f64();
    }
    fn inference_order(&mut self, ctx: &dyn FleetView, region: usize, order: &mut Vec<SiteId>) {
        let t = Instant::now();
        self.inner.inference_order(ctx, region, order);
        self.s += t.elapsed().as_secs_f64();
    }
    fn objective_bound(&self) -> Option<f64> {
        self.inner.objective_bound()
    }
}

/// 6. Resolution: the coordinated policy at market resolution, in blocks (the default: one slot
///    for 2 h, then hours; a plan at most half an hour old) against the uniform model
///    re-planned every slot (`--blocks slot --replan-every 1`, the model before issue 19), with
///    asap and the oracle for the share of its reduction each captures: the default week at 15
///    minutes (its hourly series held), and the nine-zone month (`real-2022/nine-zones-gaia`
///    cut to its first 720 h, 7,196 jobs) at 60, 15 and 5 minutes. The uniform model at 5
///    minutes is not run (over 900 s in issue 19), nor the oracle there.
fn resolution() {
    use suandian_core::compare::compare;
    let uniform = PlannerOptions {
        blocks: suandian_planner::Blocks::uniform(),
        replan_every: Some(1),
        ..PlannerOptions::default()
    };
    let blocks = PlannerOptions::default();
    let week = suandian_io::builtin::by_name("default", 7, 2024).unwrap();
    let forecast = week.simulation.forecast;
    let week = week.scenario.refined(15).unwrap();
    let mut cases = vec![("default week", 15, week, forecast, true, true)];
    match nine_zone_month() {
        Some((month, forecast)) => {
            for (m, uniform, oracle) in [(60, true, true), (15, true, true), (5, false, false)] {
                let label = "nine-zone month";
                let sc = if m == 60 {
                    month.clone()
                } else {
                    month.refined(m).unwrap()
                };
                cases.push((label, m, sc, forecast, uniform, oracle));
            }
        }
        None => println!("nine-zone month skipped: ../shared/data not found"),
    }
    println!("\n| scenario | slot | plan | s | plans | captures | objective |");
    println!("|---|---|---|---|---|---|---|");
    for (label, minutes, sc, forecast, with_uniform, with_oracle) in cases {
        let cfg = SimConfig {
            forecast,
            ..SimConfig::default()
        };
        let w = ObjectiveWeights::for_scenario(&sc);
        let mut runs = vec![];
        let mut times = vec![];
        let asap = simulate(
            &sc,
            suandian_core::policy::by_name("asap").unwrap().as_mut(),
            &cfg,
        );
        runs.push(asap);
        times.push(0.0);
        let mut plans = vec![("blocks", blocks)];
        if with_uniform {
            plans.push(("every slot, uniform", uniform));
        }
        for (_, options) in &plans {
            let t = Instant::now();
            let mut p = Coordinated::new(*options, w);
            runs.push(simulate(&sc, &mut p, &cfg));
            times.push(t.elapsed().as_secs_f64());
        }
        if with_oracle {
            let t = Instant::now();
            let mut o = Oracle::with_options(&sc, &w, &PlannerOptions::default()).expect("solves");
            runs.push(simulate(&sc, &mut o, &cfg));
            times.push(t.elapsed().as_secs_f64());
        }
        let cmp = compare(&sc, &runs);
        for (i, c) in cmp.iter().enumerate().skip(1) {
            let plan = plans.get(i - 1).map_or("oracle (bound)", |p| p.0);
            let solves = runs[i]
                .notes
                .iter()
                .find_map(|n| {
                    n.split(" plans solved")
                        .next()
                        .filter(|_| n.contains("plans solved"))
                })
                .unwrap_or("1");
            println!(
                "| {label} | {minutes} min | {plan} | {:.1} | {solves} | {} | {:.0} |",
                times[i],
                c.oracle_capture
                    .map_or("-".into(), |x| format!("{:.1} %", 100.0 * x)),
                c.objective
            );
        }
    }
}

/// `real-2022/nine-zones-gaia` cut to its first 720 h (jobs outside dropped, as the file says),
/// hourly, with its forecast; `None` without ../shared/data.
fn nine_zone_month() -> Option<(suandian_core::Scenario, ForecastKind)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shared = root.join("../shared");
    if !shared.join("data").is_dir() {
        return None;
    }
    let text = std::fs::read_to_string(root.join("scenarios/real-2022/nine-zones-gaia.toml"))
        .expect("the nine-zone scenario");
    let text = text
        .replace("horizon_hours = 8736", "horizon_hours = 720")
        .replace("../../../shared", shared.canonicalize().ok()?.to_str()?);
    let dir = std::env::temp_dir().join(format!("suandian-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join("nine-zones-month.toml");
    std::fs::write(&path, text).ok()?;
    let loaded = suandian_io::scenario::load(&path).expect("the nine-zone month loads");
    let _ = std::fs::remove_dir_all(&dir);
    Some((loaded.scenario, loaded.simulation.forecast))
}

/// 5. Growth: the coordinated policy's wall time per simulated day against the slot length
///    (60, 30, 15, 5 min) and the number of sites (9, 25, 100), 40 jobs per site and day (each
///    eligible at three sites), its default options (a 24 h window in blocks, a plan at most
///    half an hour old) against the uniform model re-planned every slot (before issue
///    19). The engine is stepped slot by slot as the live service steps it; a run stops after a
///    day or after 60 s of wall time, and a day's time is then extrapolated from the slots done
///    (said).
fn growth() {
    use suandian_core::engine::{Engine, NoSink, SlotInput};
    const LIMIT_S: f64 = 60.0;
    let uniform = PlannerOptions {
        solver: solver(),
        blocks: suandian_planner::Blocks::uniform(),
        replan_every: Some(1),
        ..PlannerOptions::default()
    };
    let blocks = PlannerOptions {
        solver: solver(),
        ..PlannerOptions::default()
    };
    println!(
        "\n| slot | sites | jobs/day | plan | slots stepped | s per simulated day | s per slot |"
    );
    println!("|---|---|---|---|---|---|---|");
    for sites in [9usize, 25, 100] {
        for slot_minutes in [60u32, 30, 15, 5] {
            let per_day = (24 * 60 / slot_minutes) as usize;
            let spec = FleetSpec {
                sites,
                // Two days: the second keeps the first day's window whole.
                slots: 2 * per_day,
                slot_minutes,
                jobs: 40 * sites * 2,
                accelerators_per_site: 512,
                seed: 11,
            };
            let sc = fleet_with_eligibility(spec, 3);
            for (plan, options) in [("blocks", blocks), ("every slot, uniform", uniform)] {
                let mut policy = Coordinated::new(options, ObjectiveWeights::for_scenario(&sc));
                let signals = suandian_core::signals::Replay::new(&sc, ForecastKind::Perfect);
                let mut engine = Engine::new(&sc, Box::new(signals), false);
                let t0 = Instant::now();
                let mut next = 0;
                let mut done = 0;
                while done < per_day && t0.elapsed().as_secs_f64() < LIMIT_S {
                    let end_h = sc.grid.slot_start_h(done + 1);
                    let first = next;
                    while next < sc.jobs.len() && sc.jobs[next].arrival_h < end_h {
                        next += 1;
                    }
                    let input = SlotInput {
                        jobs: sc.jobs[first..next].to_vec(),
                        events: vec![],
                    };
                    engine
                        .step(input, &mut policy, &mut NoSink)
                        .expect("a valid fleet steps");
                    done += 1;
                }
                let s = t0.elapsed().as_secs_f64();
                let per_day_s = s * per_day as f64 / done as f64;
                println!(
                    "| {slot_minutes} min | {sites} | {} | {plan} | {done} of {per_day}{} | {per_day_s:.1} | {:.3} |",
                    40 * sites,
                    if done < per_day { " (stopped at 60 s)" } else { "" },
                    s / done as f64
                );
            }
        }
    }
}
