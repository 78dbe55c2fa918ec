//! A one-year backtest on real 2022 data: three US grid zones (carbon, prices, weather) and the
//! GAIA pai-100k trace. Needs ../shared/data; says so and passes where it is absent.

use std::path::PathBuf;
use suandian_core::policy;
use suandian_core::sim::{simulate, SimConfig};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn carbon_aware_policies_beat_asap_on_a_real_year() {
    if !root().join("../shared/data").is_dir() {
        println!("skipped: ../shared/data not found");
        return;
    }
    let loaded =
        suandian_io::scenario::load(&root().join("scenarios/real-2022/us-three-zones.toml"))
            .unwrap();
    let sc = &loaded.scenario;
    assert_eq!(sc.sites.len(), 3);
    assert!(sc.grid.horizon_h() >= 8750.0, "a whole year");
    assert!(sc.jobs.len() > 99_000, "the pai-100k trace");
    let cfg = SimConfig {
        forecast: loaded.simulation.forecast,
        ..SimConfig::default()
    };
    let run = |name: &str| simulate(sc, policy::by_name(name).unwrap().as_mut(), &cfg).metrics;
    let asap = run("asap");
    let wait = run("carbon-wait");
    let green = run("greenest-site");
    println!(
        "carbon (t): asap {:.1}, carbon-wait {:.1}, greenest-site {:.1}",
        asap.carbon_location_kg / 1e3,
        wait.carbon_location_kg / 1e3,
        green.carbon_location_kg / 1e3
    );
    assert!(wait.carbon_location_kg < asap.carbon_location_kg);
    assert!(green.carbon_location_kg < asap.carbon_location_kg);
    // The same work gets done and no deadline is broken to get there.
    for m in [&asap, &wait, &green] {
        assert_eq!(m.rejected_actions, 0);
        assert!(m.jobs_completed as f64 > 0.999 * sc.jobs.len() as f64);
        assert_eq!(m.deadline_misses, 0);
    }
}
