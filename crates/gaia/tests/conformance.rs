//! Conformance with GAIA itself: every reference run in ../shared/reference/gaia (GAIA's own
//! output files, see its README) is reproduced and compared. Says `skipped` and passes where the
//! reference is absent.
//!
//! What is asserted, per case: total carbon within 0.5 % and mean waiting time within 1 % (the
//! issue's targets), and then the agreement that actually holds: the three files are identical
//! to GAIA's, byte for byte (every start time, every per-job carbon and dollar figure to the last
//! bit, the row order, the totals and the runtime profile). Here through the library; the
//! command's own files are checked against the same reference in the cli crate
//! (`crates/cli/tests/gaia_command.rs`).

use std::path::PathBuf;
use suandian_gaia as gaia;

mod reference;
use reference::{cases, first_difference, read, reference};

/// GAIA's totals file: (carbon_cost, dollar_cost).
fn totals(text: &str) -> (f64, f64) {
    let line = text.lines().nth(1).unwrap();
    let (c, d) = line.split_once(',').unwrap();
    (c.parse().unwrap(), d.parse().unwrap())
}

/// Mean of `waiting_time` over a details file's job rows (GAIA's closing `-1` row left out).
fn mean_wait(details: &str) -> f64 {
    let waits: Vec<f64> = details
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("-1,"))
        .map(|l| l.split(',').nth(9).unwrap().parse().unwrap())
        .collect();
    waits.iter().sum::<f64>() / waits.len() as f64
}

#[test]
fn every_reference_case_matches_gaia() {
    let Some(dir) = reference() else { return };
    let trace = gaia::formats::read_trace(&dir.join("traces/pai_1k.csv")).unwrap();
    let all = cases(&dir);
    assert!(all.len() >= 14, "timing.csv lists {} cases", all.len());
    println!("case                                             carbon diff   mean-wait diff");
    for case in &all {
        let carbon =
            gaia::formats::read_carbon(&dir.join(format!("traces/{}.csv", case.zone))).unwrap();
        let cfg = gaia::Config {
            policy: gaia::SchedulingPolicy::from_name(&case.policy).unwrap(),
            carbon_policy: gaia::CarbonPolicy::from_name(&case.carbon_policy).unwrap(),
            wait_hours: gaia::parse_wait(&case.wait).unwrap(),
        };
        let out = gaia::run(carbon.window(case.start).unwrap(), &trace, &cfg).unwrap();
        assert_eq!(out.dropped, 0, "{}: every job runs", case.name());
        let name = case.name();
        let res = dir.join("results");
        let want_totals = read(&res.join(format!("{name}.csv")));
        let want_details = read(&res.join(format!("details-{name}.csv")));
        let want_runtime = read(&res.join(format!("runtime-{name}.csv")));

        // The targets.
        let (want_carbon, _) = totals(&want_totals);
        let carbon_diff = (out.carbon_cost - want_carbon).abs() / want_carbon;
        let wait_diff = (out.mean_wait_ticks() - mean_wait(&want_details)).abs()
            / mean_wait(&want_details).max(1e-12);
        println!(
            "{name:<48} {:>9.2e} %  {:>9.2e} %",
            100.0 * carbon_diff,
            100.0 * wait_diff
        );
        assert!(carbon_diff < 0.005, "{name}: carbon {carbon_diff:e}");
        assert!(
            wait_diff < 0.01 || out.mean_wait_ticks() == 0.0,
            "{name}: wait {wait_diff:e}"
        );

        // What holds: GAIA's files, byte for byte.
        let got_details = gaia::formats::details_csv(&out);
        assert!(
            got_details == want_details,
            "{name}: details differ at {}",
            first_difference(&got_details, &want_details)
        );
        assert_eq!(
            gaia::formats::totals_csv(&out),
            want_totals,
            "{name}: totals"
        );
        let got_runtime = gaia::formats::runtime_csv(&out);
        assert!(
            got_runtime == want_runtime,
            "{name}: runtime differs at {}",
            first_difference(&got_runtime, &want_runtime)
        );
    }
}

/// The reference carbon files are the 2022 hourly data of ../shared/data behind GAIA's padding:
/// what suandian reads for start index N is hour N of 2022.
#[test]
fn reference_carbon_is_the_shared_2022_data() {
    let Some(dir) = reference() else { return };
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/carbon");
    if !data.is_dir() {
        println!("skipped: ../shared/data not found");
        return;
    }
    for (zone, file) in [
        ("DE22", "DE-LU_2022_hourly.csv"),
        ("CAL22", "US-CAL-CISO_2022_hourly.csv"),
    ] {
        let carbon = gaia::formats::read_carbon(&dir.join(format!("traces/{zone}.csv"))).unwrap();
        let text = read(&data.join(file));
        let direct: Vec<f64> = text
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(4).unwrap().parse().unwrap())
            .collect();
        for start in [0, 2000, 3000, 8000] {
            let w = carbon.window(start).unwrap();
            assert_eq!(w.len(), gaia::WINDOW_HOURS);
            assert_eq!(
                w,
                &direct[start..start + gaia::WINDOW_HOURS],
                "{zone} at {start}"
            );
        }
    }
}
