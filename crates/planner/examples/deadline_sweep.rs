//! Deadlines kept on many synthetic fleets: how many deadlines that `asap` keeps does
//! `coordinated` miss, cold and warm-started, and what it saves.
//!
//!     cargo run --release -p suandian-planner --example deadline_sweep -- [FLEETS [SOLVER]]
//!
//! FLEETS defaults to 16, SOLVER (auto, dual, primal, ipm, pdlp) to auto. `SHOW=1` prints
//! every missed job; `SEED0=N` starts at fleet N (the fleets are seeds 100 onwards).

use suandian_core::forecast::ForecastKind;
use suandian_core::metrics::ObjectiveWeights;
use suandian_core::policy;
use suandian_core::sim::{simulate, SimConfig};
use suandian_planner::{Coordinated, LpSolver, PlannerOptions};
use suandian_scenarios::synthetic::{fleet, FleetSpec};

fn main() {
    let seeds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(16);
    let solver_name = std::env::args().nth(2).unwrap_or_else(|| "auto".into());
    let Some(solver) = LpSolver::by_name(&solver_name) else {
        eprintln!("unknown solver `{solver_name}`: expected auto, dual, primal, ipm or pdlp");
        std::process::exit(2);
    };
    for warm in [false, true] {
        let (mut broken, mut saved, mut runs) = (0, 0.0, 0);
        for seed in std::env::var("SEED0")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100)..100 + seeds
        {
            let sc = fleet(FleetSpec {
                sites: 3,
                slots: 96,
                slot_minutes: 60,
                jobs: 300,
                accelerators_per_site: 48,
                seed,
            });
            let w = ObjectiveWeights::for_scenario(&sc);
            for forecast in [
                ForecastKind::Persistence,
                ForecastKind::Noisy {
                    relative_error: 0.2,
                    seed: 3,
                },
            ] {
                let cfg = SimConfig {
                    forecast,
                    record_timeline: false,
                };
                let asap = simulate(&sc, policy::by_name("asap").unwrap().as_mut(), &cfg);
                let mut p = Coordinated::new(
                    PlannerOptions {
                        warm_start: warm,
                        solver,
                        ..PlannerOptions::default()
                    },
                    w,
                );
                let co = simulate(&sc, &mut p, &cfg);
                let horizon = sc.grid.horizon_h();
                let b = asap
                    .jobs
                    .iter()
                    .zip(&co.jobs)
                    .filter(|(a, c)| {
                        a.completed_h.is_some()
                            && !a.late(horizon)
                            && c.deadline_h <= horizon
                            && c.late(horizon)
                    })
                    .count();
                broken += b;
                if std::env::var("SHOW").is_ok() {
                    for (a, c) in asap.jobs.iter().zip(&co.jobs) {
                        if a.completed_h.is_some()
                            && !a.late(horizon)
                            && c.deadline_h <= horizon
                            && c.late(horizon)
                        {
                            let j = sc.jobs.iter().find(|j| j.id == c.id).unwrap();
                            println!("    {} acc {} arr {:.1} run {:.1} slack0 {:.1} int {} mig {} | asap start {:.1} | co start {:?} done {:?} late {:.1} susp {}", c.id, j.accelerators, j.arrival_h, j.runtime_h, j.deadline_h - j.arrival_h - j.runtime_h, j.interruptible, j.migratable, a.started_h.unwrap_or(-1.0) - j.arrival_h, c.started_h.map(|x| x - j.arrival_h), c.completed_h.map(|x| x - j.arrival_h), c.completed_h.unwrap_or(horizon) - j.deadline_h, c.suspensions);
                        }
                    }
                }
                let oa = w.evaluate(&asap.metrics);
                let oc = w.evaluate(&co.metrics);
                saved += (oa - oc) / oa.abs().max(1e-9);
                runs += 1;
                if b > 0 {
                    println!("  seed {seed} {forecast:?}: {b} missed");
                }
            }
        }
        println!(
            "warm {warm}: {broken} deadlines missed over {runs} runs; mean objective saving vs asap {:.2} %",
            100.0 * saved / runs as f64
        );
    }
}
