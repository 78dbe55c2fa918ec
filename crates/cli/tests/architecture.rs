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
    // The formats know the core, not the planner or the solver.
    assert_eq!(
        ours(&deps_of(&all, "suandian-io")),
        set(&["suandian-core"]),
        "io's workspace dependencies"
    );
}
