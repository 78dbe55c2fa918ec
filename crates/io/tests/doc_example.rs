//! The complete example of docs/scenario.md (kept in tests/data/example.toml) and the
//! built-in demo parse, validate and resolve as documented.

use std::path::Path;
use suandian_io::{builtin, scenario};

fn example_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/example.toml")
}

#[test]
fn docs_show_the_example_verbatim() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/scenario.md"),
    )
    .unwrap();
    let example = std::fs::read_to_string(example_path()).unwrap();
    assert!(
        doc.contains(&format!("```toml\n{example}```")),
        "docs/scenario.md must contain tests/data/example.toml verbatim in a ```toml block"
    );
}

#[test]
fn the_example_loads() {
    let s = scenario::load(&example_path()).unwrap();
    assert!(s.source.ends_with("example.toml"));
    let sc = &s.scenario;
    assert_eq!((sc.grid.slot_minutes, sc.grid.slots), (15, 96));
    assert_eq!(sc.sites.len(), 2);
    // Hourly prices repeat over the four quarter hours of each hour.
    let p = &sc.sites[0].grid.price_per_mwh;
    assert_eq!(&p[..5], &[140.0, 140.0, 140.0, 140.0, 140.0]);
    assert_eq!(p[60], 45.0);
    assert_eq!(sc.sites[0].grid.carbon_g_per_kwh[0], 508.0);
    assert!((sc.sites[1].green[0].capacity_factor[16] - 0.79).abs() < 1e-12);
    assert!(matches!(
        sc.sites[1].pue,
        suandian_core::Pue::Temperature { .. }
    ));
    assert!(sc.sites[1].battery.is_some() && sc.sites[0].thermal.is_some());
    let ids: Vec<&str> = sc.jobs.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "csv-train-1",
            "flexible",
            "pinned",
            "csv-eval-1",
            "csv-resident-1"
        ]
    );
    let j = |id: &str| sc.jobs.iter().find(|j| j.id == id).unwrap();
    assert_eq!(j("csv-train-1").deadline_h, 24.0);
    assert_eq!(j("csv-eval-1").deadline_h, 3.25 + 0.5 + 6.0);
    assert_eq!(j("csv-eval-1").home_site, 1);
    assert_eq!(j("csv-resident-1").allowed_sites, vec![0]);
    assert_eq!(j("flexible").deadline_h, 1.5 + 6.0 + 12.0);
    assert_eq!(j("pinned").deadline_h, 20.0);
    assert_eq!(j("flexible").checkpoint_gb, 900.0);
    assert_eq!(j("pinned").checkpoint_gb, 64.0 * 20.0);
    assert_eq!(sc.dispatch.migration_h, 1.0);
    assert_eq!(sc.economics.transfer_cost_per_gb, 0.02);
    let e = &sc.demand_response[0];
    assert_eq!(
        (e.sites.clone(), e.start_h, e.end_h, e.announced_h),
        (vec![0], 17.0, 19.5, 13.0)
    );
    assert_eq!(sc.import_limit_kw(0, 68), 300.0);
    assert_eq!(sc.import_limit_kw(0, 78), 500.0);
    assert_eq!(sc.inference[0].tokens_per_s[0], 180_000.0);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
}

#[test]
fn the_demo_is_what_it_says() {
    let d = builtin::demo();
    assert_eq!(d.source, "built-in demo");
    assert!(builtin::DEMO_TOML.contains("version = 1"));
    let s = &d.scenario;
    assert_eq!((s.grid.slot_minutes, s.grid.slots), (60, 48));
    let names: Vec<&str> = s.sites.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, ["east", "middle", "west"]);
    assert!(s.sites[0].green.is_empty() && s.sites[0].battery.is_none());
    assert!(!s.sites[2].green.is_empty() && s.sites[2].battery.is_some());
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let east = mean(&s.sites[0].grid.carbon_g_per_kwh);
    assert!((550.0..700.0).contains(&east), "{east}");
    assert!(mean(&s.sites[2].grid.carbon_g_per_kwh) < east);
    assert!((18..=25).contains(&s.jobs.len()));
    assert!(s.jobs.iter().any(|j| j.allowed_sites == vec![0]));
    assert!(s.jobs.iter().any(|j| j.deadline_h.is_finite()));
    assert_eq!(s.inference.len(), 1);
    assert_eq!(s.inference[0].sites, vec![0, 1]);
    assert!(matches!(
        d.simulation.forecast,
        suandian_core::forecast::ForecastKind::Noisy { .. }
    ));
    for site in &s.sites {
        let a = &site.accelerators;
        assert!(a.idle_w >= 50.0 && a.peak_w <= 1000.0 && a.per_server == 8);
    }
}
