//! The dependency rules of ARCHITECTURE.md, checked over `cargo metadata`: a change that
//! breaks one fails here, not in review.

use serde_json::Value;
use std::collections::BTreeSet;

/// Each workspace crate's normal and build dependencies (not dev-dependencies).
fn dependencies() -> Vec<(String, BTreeSet<String>)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].as_str() != Some("dev"))
                .map(|d| d["name"].as_str().unwrap().to_string())
                .collect();
            (p["name"].as_str().unwrap().to_string(), deps)
        })
        .collect()
}

fn deps_of(all: &[(String, BTreeSet<String>)], name: &str) -> BTreeSet<String> {
    all.iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no crate {name} in the workspace"))
        .1
        .clone()
}

#[test]
fn the_crates_keep_their_dependency_rules() {
    let all = dependencies();
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let ours = |d: &BTreeSet<String>| -> BTreeSet<String> {
        d.iter()
            .filter(|n| n.starts_with("suandian"))
            .cloned()
            .collect()
    };
    // The core is pure: no workspace crate, and only these (no I/O, no HTTP, no database, no
    // solver): time, seeded randomness, serialisation.
    let core = deps_of(&all, "suandian-core");
    assert!(ours(&core).is_empty(), "core depends on {:?}", ours(&core));
    let pure = set(&["chrono", "rand", "rand_chacha", "rand_distr", "serde"]);
    assert!(
        core.is_subset(&pure),
        "core depends on {:?}: the kernel does no I/O (ARCHITECTURE.md)",
        core.difference(&pure).collect::<Vec<_>>()
    );
    // The scenario generators build on the core's model alone, and are as pure as the core
    // (seeded randomness, no I/O): no file format, no planner, no solver.
    let scenarios = deps_of(&all, "suandian-scenarios");
    assert_eq!(
        ours(&scenarios),
        set(&["suandian-core"]),
        "the scenario generators' workspace dependencies"
    );
    let pure_or_core = &pure | &set(&["suandian-core"]);
    assert!(
        scenarios.is_subset(&pure_or_core),
        "scenarios depends on {:?}: the generators do no I/O (ARCHITECTURE.md)",
        scenarios.difference(&pure_or_core).collect::<Vec<_>>()
    );
    // HiGHS' adapter stands alone.
    let highs = deps_of(&all, "suandian-highs");
    assert!(
        ours(&highs).is_empty(),
        "highs depends on {:?}",
        ours(&highs)
    );
    // The planner knows the core and the solver, not the file formats.
    assert_eq!(
        ours(&deps_of(&all, "suandian-planner")),
        set(&["suandian-core", "suandian-highs"]),
        "the planner's workspace dependencies"
    );
    // The formats know the core (and the generators, for the built-in default scenario), not
    // the planner, the solver or GAIA.
    assert_eq!(
        ours(&deps_of(&all, "suandian-io")),
        set(&["suandian-core", "suandian-scenarios"]),
        "io's workspace dependencies"
    );
    // GAIA's engine and formats stand on the core (limits) and io (input errors, CSV, atomic
    // writes); no planner, solver or command line, and nothing but the binary depends on GAIA.
    assert_eq!(
        ours(&deps_of(&all, "suandian-gaia")),
        set(&["suandian-core", "suandian-io"]),
        "gaia's workspace dependencies"
    );
    for (name, deps) in &all {
        assert!(
            name == "suandian" || !deps.contains("suandian-gaia"),
            "{name} depends on suandian-gaia: only the binary runs GAIA"
        );
    }
    // Only the service knows HTTP and the database; it runs the core's engine and the
    // planner's policies, never the file formats.
    assert_eq!(
        ours(&deps_of(&all, "suandian-serve")),
        set(&["suandian-core", "suandian-planner"]),
        "serve's workspace dependencies"
    );
    let net = ["axum", "sqlx", "tokio", "hyper", "reqwest"];
    for (name, deps) in &all {
        if name != "suandian-serve" {
            for n in net {
                assert!(
                    !deps.contains(n),
                    "{name} depends on {n}: only suandian-serve knows HTTP and the database"
                );
            }
        }
    }
}

/// The non-test source of every `.rs` file under `dir` (test modules, which start at
/// `#[cfg(test)]`, cut off), with its path.
fn sources(dir: &std::path::Path) -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(sources(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(&p).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or("").to_string();
            out.push((p, code));
        }
    }
    out
}

/// Module rules of ARCHITECTURE.md: the kernel, the scenario generators and GAIA's engine do
/// no I/O and read no clock or environment; the LP knows numbers only, no scenario or simulator
/// type.
#[test]
fn the_kernel_does_no_io_and_the_lp_knows_numbers_only() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let forbidden = [
        "std::fs",
        "std::net",
        "std::env",
        "std::process",
        "Instant",
        "SystemTime",
        "thread_rng",
        "println!",
        "eprintln!",
    ];
    let mut pure = sources(&root.join("crates/core/src"));
    pure.extend(sources(&root.join("crates/scenarios/src")));
    let engine = root.join("crates/gaia/src/engine.rs");
    let text = std::fs::read_to_string(&engine).unwrap();
    let code = text.split("#[cfg(test)]").next().unwrap_or("").to_string();
    pure.push((engine, code));
    for (path, code) in pure {
        for f in forbidden {
            assert!(
                !code.contains(f),
                "{}: uses {f}; the core, the generators and GAIA's engine are pure (no I/O, \
                 no clock, no environment)",
                path.display()
            );
        }
    }
    let lp = sources(&root.join("crates/planner/src/lp"));
    assert!(
        lp.len() >= 4,
        "planner/src/lp/ has its model, builder and adapter"
    );
    for (path, code) in lp {
        assert!(
            !code.contains("suandian_core"),
            "{}: uses suandian_core: the LP is built from numbers only (PlanInput)",
            path.display()
        );
    }
}

/// A policy talks to a fleet through `core::fleet`'s traits, never through the engine's or the
/// simulator's types: the planner's source names no `sim::` or `engine::` item, and no
/// policy in the core does either, so the same policies steer a replay and a live fleet.
#[test]
fn policies_know_the_fleet_traits_not_the_simulator() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut checked = 0;
    for dir in ["crates/planner/src", "crates/core/src/policy"] {
        for (path, code) in sources(&root.join(dir)) {
            for f in ["sim::", "engine::", "signals::Replay", "SimConfig"] {
                assert!(
                    !code.contains(f),
                    "{}: names {f}; a policy sees the fleet through core::fleet's traits only",
                    path.display()
                );
            }
            checked += 1;
        }
    }
    let policy = std::fs::read_to_string(root.join("crates/core/src/policy.rs")).unwrap();
    assert!(!policy.contains("sim::") && !policy.contains("engine::"));
    assert!(checked >= 8, "only {checked} policy sources found");
}
