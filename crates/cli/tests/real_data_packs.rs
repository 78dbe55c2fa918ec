//! The real-data packs of scenarios/real-2022 beyond the US one: all nine 2022 zones with the
//! GAIA pai-100k trace, and four priced zones with the Alibaba GPU trace. Need ../shared/data;
//! say so and pass where it is absent.

use std::path::PathBuf;
use suandian_core::policy;
use suandian_core::sim::{simulate, SimConfig};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn have_data() -> bool {
    let ok = root().join("../shared/data").is_dir();
    if !ok {
        println!("skipped: ../shared/data not found");
    }
    ok
}

/// Load a pack, run asap and greenest-site, and check that the greener placement cuts carbon
/// without breaking any deadline asap keeps.
fn run_pack(file: &str, sites: usize, min_jobs: usize) {
    let loaded = suandian_io::scenario::load(&root().join("scenarios/real-2022").join(file))
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    let sc = &loaded.scenario;
    assert_eq!(sc.sites.len(), sites, "{file}");
    assert!(sc.jobs.len() >= min_jobs, "{file}: {} jobs", sc.jobs.len());
    let cfg = SimConfig {
        forecast: loaded.simulation.forecast,
        ..SimConfig::default()
    };
    let run = |name: &str| simulate(sc, policy::by_name(name).unwrap().as_mut(), &cfg).metrics;
    let asap = run("asap");
    let green = run("greenest-site");
    println!(
        "{file}: carbon (t) asap {:.1}, greenest-site {:.1} ({:+.1} %)",
        asap.carbon_location_kg / 1e3,
        green.carbon_location_kg / 1e3,
        (green.carbon_location_kg / asap.carbon_location_kg - 1.0) * 100.0
    );
    assert!(green.carbon_location_kg < asap.carbon_location_kg, "{file}");
    for m in [&asap, &green] {
        assert_eq!(m.rejected_actions, 0, "{file}");
        assert_eq!(m.deadline_misses, 0, "{file}");
    }
}

#[test]
fn nine_zones_with_the_gaia_trace() {
    if have_data() {
        run_pack("nine-zones-gaia.toml", 9, 99_000);
    }
}

#[test]
fn four_zones_with_the_alibaba_gpu_trace() {
    if have_data() {
        run_pack("alibaba-gpu-four-zones.toml", 4, 6_000);
    }
}

#[test]
fn gb_without_a_price_file_gets_the_documented_constant() {
    if !have_data() {
        return;
    }
    let text =
        std::fs::read_to_string(root().join("scenarios/real-2022/nine-zones-gaia.toml")).unwrap();
    assert!(!root()
        .join("../shared/data/prices/GB_2022_prices.csv")
        .exists());
    assert!(text.contains("price = 253.6"));
    // The constant is the 2022 mean of the DE-LU price file.
    let de = std::fs::read_to_string(root().join("../shared/data/prices/DE-LU_2022_prices.csv"))
        .unwrap();
    let v: Vec<f64> = de
        .lines()
        .skip(1)
        .filter_map(|l| l.rsplit(',').next()?.parse().ok())
        .collect();
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    assert!((mean - 253.6).abs() < 0.05, "{mean}");
}
