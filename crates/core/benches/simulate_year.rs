//! One simulated year at hourly slots, 9 sites, 100,000 jobs, the 3 baseline policies.
//!
//!     cargo bench -p suandian-core --bench simulate_year
//!
//! Prints the time of each policy alone (one core) and of the three together on all cores, as
//! `suandian simulate` runs them, best of `ROUNDS`. Results: docs/benchmarks.md.

use std::time::Instant;
use suandian_core::forecast::ForecastKind;
use suandian_core::policy;
use suandian_core::sim::{simulate, SimConfig};
use suandian_scenarios::synthetic::{fleet, FleetSpec};

const ROUNDS: usize = 3;

fn main() {
    let spec = FleetSpec {
        sites: 9,
        slots: 8760,
        slot_minutes: 60,
        jobs: 100_000,
        accelerators_per_site: 512,
        seed: 1,
    };
    let t = Instant::now();
    let sc = fleet(spec);
    sc.validate().expect("valid synthetic fleet");
    println!("built {} in {:.2} s", sc.name, t.elapsed().as_secs_f64());
    let names = ["asap", "carbon-wait", "greenest-site"];
    for forecast in [
        ForecastKind::Perfect,
        ForecastKind::Noisy {
            relative_error: 0.15,
            seed: 1,
        },
    ] {
        let cfg = SimConfig {
            forecast,
            ..SimConfig::default()
        };
        for name in names {
            let mut best = f64::INFINITY;
            let mut done = 0;
            for _ in 0..ROUNDS {
                let t = Instant::now();
                let r = simulate(&sc, policy::by_name(name).unwrap().as_mut(), &cfg);
                best = best.min(t.elapsed().as_secs_f64());
                done = r.metrics.jobs_completed;
            }
            println!(
                "{:<14} {:<28} {:>7.3} s  ({done} jobs done)",
                name,
                forecast.label(),
                best
            );
        }
        let mut best = f64::INFINITY;
        for _ in 0..ROUNDS {
            let t = Instant::now();
            std::thread::scope(|s| {
                for name in names {
                    let cfg = &cfg;
                    let sc = &sc;
                    s.spawn(move || simulate(sc, policy::by_name(name).unwrap().as_mut(), cfg));
                }
            });
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!(
            "{:<14} {:<28} {:>7.3} s  (all three, {} cores)",
            "total",
            forecast.label(),
            best,
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
    }
}
