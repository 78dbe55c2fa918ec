//! The baselines keep the deadlines `asap` keeps. `carbon-wait` used to plan every job of a day
//! into the same green hours, at the last boundary that met its deadline; the jobs that found
//! those hours full started one slot too late (on a year of six real zones: 372 late against
//! asap's 3, 338 of them by less than a slot). Here: synthetic fleets of three sites at 60, 30
//! and 15-minute slots, loaded as real sites are (12-17 % of accelerator-hours busy, daily
//! carbon cycles, 24 h of slack), on which `asap` keeps every deadline.
use suandian_core::policy;
use suandian_core::sim::{simulate, SimConfig};
use suandian_scenarios::synthetic::{fleet, FleetSpec};

#[test]
fn carbon_wait_and_greenest_site_keep_the_deadlines_asap_keeps() {
    let mut checked = 0;
    for (seed, acc, minutes) in [
        (0u64, 160u32, 60u32),
        (2, 192, 30),
        (5, 128, 15),
        (7, 160, 60),
        (10, 192, 30),
        (11, 160, 60),
    ] {
        let slots = 24 * 30 * 60 / minutes as usize;
        let sc = fleet(FleetSpec {
            sites: 3,
            slots,
            slot_minutes: minutes,
            jobs: 3000,
            accelerators_per_site: acc,
            seed,
        });
        let cfg = SimConfig::default();
        let h = sc.grid.horizon_h();
        let asap = simulate(&sc, policy::by_name("asap").unwrap().as_mut(), &cfg);
        assert_eq!(
            asap.metrics.deadline_misses, 0,
            "seed {seed}: the fleet is meant to be one asap keeps"
        );
        for name in ["carbon-wait", "greenest-site"] {
            let r = simulate(&sc, policy::by_name(name).unwrap().as_mut(), &cfg);
            let missed: Vec<&str> = asap
                .jobs
                .iter()
                .zip(&r.jobs)
                .filter(|(a, b)| !a.late(h) && b.late(h))
                .map(|(_, b)| b.id.as_str())
                .collect();
            assert!(
                missed.is_empty(),
                "seed {seed}, {minutes} min: {name} missed {} deadlines asap kept ({:?}...); notes {:?}",
                missed.len(),
                &missed[..missed.len().min(5)],
                r.notes
            );
            // And it still saves carbon on them: waiting is what it is for.
            if name == "carbon-wait" {
                assert!(
                    r.metrics.carbon_total_location_kg
                        < 0.97 * asap.metrics.carbon_total_location_kg,
                    "seed {seed}: carbon-wait saved too little"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 12);
}
