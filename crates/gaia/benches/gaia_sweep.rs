//! GAIA speed, side by side with GAIA's own wall times (../shared/reference/gaia/timing.csv):
//! each reference case end to end (read GAIA's two input files, run, write GAIA's three files),
//! then GAIA's whole `-i -1` sweep (start indices 0, 500, ..., 8000) for every policy of the
//! reference on both zones, spread over the machine's cores. `cargo bench -p suandian-gaia --bench
//! gaia_sweep`; figures in docs/benchmarks.md.

use std::path::{Path, PathBuf};
use std::time::Instant;
use suandian_gaia as gaia;
use suandian_gaia::formats as gio;

struct Case {
    zone: String,
    start: usize,
    policy: String,
    carbon_policy: String,
    wait: String,
    gaia_s: f64,
}

fn run_case(dir: &Path, out: &Path, c: &Case, start: usize) -> f64 {
    let carbon = gio::read_carbon(&dir.join(format!("traces/{}.csv", c.zone))).unwrap();
    let jobs = gio::read_trace(&dir.join("traces/pai_1k.csv")).unwrap();
    let cfg = gaia::Config {
        policy: gaia::SchedulingPolicy::from_name(&c.policy).unwrap(),
        carbon_policy: gaia::CarbonPolicy::from_name(&c.carbon_policy).unwrap(),
        wait_hours: gaia::parse_wait(&c.wait).unwrap(),
    };
    let o = gaia::run(carbon.window(start).unwrap(), &jobs, &cfg).unwrap();
    let name = gio::run_name(&c.policy, start, &c.carbon_policy, &c.zone, &c.wait);
    gio::write_outputs(out, &name, &o).unwrap();
    o.carbon_cost
}

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/gaia");
    let Ok(timing) = std::fs::read_to_string(dir.join("timing.csv")) else {
        println!("skipped: ../shared/reference/gaia not found");
        return;
    };
    let cases: Vec<Case> = timing
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Case {
                zone: f[0].into(),
                start: f[1].parse().unwrap(),
                policy: f[2].into(),
                carbon_policy: f[3].into(),
                wait: f[4].into(),
                gaia_s: f[5].parse().unwrap(),
            }
        })
        .collect();
    let out = std::env::temp_dir().join(format!("suandian-gaia-bench-{}", std::process::id()));

    println!("| zone | start | scheduling | carbon | wait | GAIA (s) | suandian (s) | speed-up |");
    println!("|---|---|---|---|---|---|---|---|");
    for c in &cases {
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            let t = Instant::now();
            std::hint::black_box(run_case(&dir, &out, c, c.start));
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!(
            "| {} | {} | {} | {} | {} | {:.1} | {:.4} | {:.0}x |",
            c.zone,
            c.start,
            c.policy,
            c.carbon_policy,
            c.wait,
            c.gaia_s,
            best,
            c.gaia_s / best
        );
    }

    // The sweep: every reference policy x every zone x GAIA's start indices, on all cores.
    let mut work: Vec<(&Case, usize)> = Vec::new();
    for c in cases.iter() {
        for s in gaia::sweep_starts() {
            work.push((c, s));
        }
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        std::thread::scope(|scope| {
            for k in 0..threads {
                let (work, dir, out) = (&work, &dir, &out);
                scope.spawn(move || {
                    for (c, s) in work.iter().skip(k).step_by(threads) {
                        std::hint::black_box(run_case(dir, out, c, *s));
                    }
                });
            }
        });
        best = best.min(t.elapsed().as_secs_f64());
    }
    let gaia_total: f64 =
        cases.iter().map(|c| c.gaia_s).sum::<f64>() * gaia::sweep_starts().count() as f64;
    println!(
        "\nsweep: {} runs ({} cases x {} start indices), end to end with files, on {threads} threads: \
         {best:.2} s (best of 3); GAIA at its per-case times would take about {:.1} h",
        work.len(),
        cases.len(),
        gaia::sweep_starts().count(),
        gaia_total / 3600.0
    );
    let _ = std::fs::remove_dir_all(&out);
}
