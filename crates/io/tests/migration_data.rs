//! Migration data in scenario files: `[dispatch] migration_hours` and
//! `checkpoint_gb_per_accelerator`, `[economics] transfer_cost_per_gb`, a job's `checkpoint_gb`.

mod common;
use common::*;

const JOBS: &str = "\n[[work.jobs]]\nid = \"given\"\narrival_h = 0\naccelerators = 4\nruntime_h = 1\ncheckpoint_gb = 7.5\n\n[[work.jobs]]\nid = \"default\"\narrival_h = 0\naccelerators = 4\nruntime_h = 1\n";

#[test]
fn defaults() {
    let s = parse(&format!("{MIN}{JOBS}")).unwrap().scenario;
    assert_eq!(s.dispatch.migration_h, 1.0);
    assert_eq!(s.economics.transfer_cost_per_gb, 0.02);
    assert_eq!(s.jobs[0].checkpoint_gb, 7.5);
    // 20 GB per accelerator.
    assert_eq!(s.jobs[1].checkpoint_gb, 80.0);
}

#[test]
fn values_are_read() {
    let text = format!(
        "{MIN}\n[economics]\ntransfer_cost_per_gb = 0.08\n\n[dispatch]\nmigration_hours = 0.25\ncheckpoint_gb_per_accelerator = 2.5\n{JOBS}"
    );
    let s = parse(&text).unwrap().scenario;
    assert_eq!(s.dispatch.migration_h, 0.25);
    assert_eq!(s.economics.transfer_cost_per_gb, 0.08);
    assert_eq!(s.jobs[0].checkpoint_gb, 7.5);
    assert_eq!(s.jobs[1].checkpoint_gb, 10.0);
}

#[test]
fn trace_jobs_get_the_per_accelerator_default() {
    let dir = scratch("migration-trace");
    std::fs::write(
        dir.join("jobs.csv"),
        "id,arrival,accelerators,runtime_h\nt1,2022-06-01T01:00:00Z,3,1.5\n",
    )
    .unwrap();
    let text = format!(
        "{MIN}\n[dispatch]\ncheckpoint_gb_per_accelerator = 4\n\n[[work.traces]]\nfile = \"jobs.csv\"\nformat = \"native\"\n"
    );
    let s = parse_in(&text, &dir).unwrap().scenario;
    assert_eq!(s.jobs[0].checkpoint_gb, 12.0);
}

#[test]
fn negative_values_name_the_field_and_line() {
    for (key, table) in [
        ("migration_hours", "dispatch"),
        ("checkpoint_gb_per_accelerator", "dispatch"),
        ("transfer_cost_per_gb", "economics"),
    ] {
        let text = format!("{MIN}\n[{table}]\n{key} = -1\n");
        let (_, m) = err(parse(&text));
        assert_eq!(
            m,
            format!(
                "scenario.toml: line {}: {table}.{key}: found -1, expected a number >= 0",
                line_of(&text, key)
            )
        );
    }
    let text = format!("{MIN}{JOBS}").replace("checkpoint_gb = 7.5", "checkpoint_gb = -3");
    let (_, m) = err(parse(&text));
    assert_eq!(
        m,
        format!(
            "scenario.toml: line {}: work.jobs[0].checkpoint_gb: found -3, expected a number >= 0",
            line_of(&text, "checkpoint_gb = -3")
        )
    );
    let text = format!("{MIN}\n[dispatch]\nmigration_h = 1\n");
    let (_, m) = err(parse(&text));
    assert!(
        m.contains("dispatch.migration_h: unknown field `migration_h`"),
        "{m}"
    );
}
