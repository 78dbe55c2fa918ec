//! A fresh machine has Rust and the C/C++ compiler rustup needs, nothing else: no cmake, no
//! libclang, no pkg-config, no system library a Rust install lacks. This test fails when any
//! crate in the build graph (normal and build dependencies, this platform) would need one, so
//! that `.ci/run`, which installs packages for other tests, cannot hide it.
//!
//! It asks cargo itself: `cargo tree` for the graph, `cargo metadata` for the crates that link a
//! native library (`links = ...`), offline and against Cargo.lock.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Crates whose build needs a program or a library that a fresh machine lacks, and what.
const NEED_SYSTEM_TOOLS: &[(&str, &str)] = &[
    ("cmake", "runs the cmake program"),
    ("bindgen", "loads libclang to generate bindings"),
    ("clang-sys", "loads libclang"),
    (
        "pkg-config",
        "finds system libraries with the pkg-config program",
    ),
    ("system-deps", "finds system libraries with pkg-config"),
    ("metadeps", "finds system libraries with pkg-config"),
    ("vcpkg", "finds libraries installed by vcpkg"),
    ("autotools", "runs ./configure and make"),
    ("meson", "runs meson and ninja"),
    ("highs-sys", "builds HiGHS with cmake and bindgen"),
];

/// Crates that declare `links` and build what they link from sources they ship, with the
/// `cc` crate and the system C/C++ compiler only.
const BUNDLED_NATIVE: &[(&str, &str)] = &[
    (
        "suandian-highs",
        "compiles the vendored HiGHS sources with cc (crates/highs/README.md)",
    ),
    (
        "libsqlite3-sys",
        "compiles its bundled SQLite amalgamation with cc (sqlx's `sqlite` feature)",
    ),
    (
        "ring",
        "compiles its bundled C and pre-generated assembly with cc (rustls's crypto for the \
         OpenADR VEN's https; no perl, nasm or cmake for a crates.io release)",
    ),
];

fn cargo(args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let run = |args: &[&str]| {
        Command::new(&cargo)
            .args(args)
            .current_dir(&root)
            .output()
            .unwrap_or_else(|e| panic!("{cargo} {args:?}: {e}"))
    };
    let mut out = run(args);
    if !out.status.success() && args.contains(&"--offline") {
        // A package of Cargo.lock that no build here needed (an optional dependency for
        // another platform or feature) is not downloaded yet: let cargo fetch it, still
        // against Cargo.lock.
        let online: Vec<&str> = args.iter().copied().filter(|a| *a != "--offline").collect();
        out = run(&online);
    }
    assert!(
        out.status.success(),
        "{cargo} {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("cargo prints UTF-8")
}

/// Every package the workspace builds on this platform, normal and build dependencies
/// (dev-dependencies too: `cargo test` builds them).
fn build_graph() -> BTreeSet<String> {
    cargo(&[
        "tree",
        "--workspace",
        "--edges",
        "normal,build,dev",
        "--prefix",
        "none",
        "--format",
        "{p}",
        "--offline",
        "--locked",
    ])
    .lines()
    .filter_map(|l| l.split_whitespace().next())
    .map(str::to_string)
    .collect()
}

#[test]
fn no_crate_in_the_build_needs_cmake_libclang_or_pkg_config() {
    let graph = build_graph();
    assert!(
        graph.contains("suandian-planner") && graph.contains("serde"),
        "the graph read from cargo tree looks wrong: {graph:?}"
    );
    let offenders: Vec<String> = NEED_SYSTEM_TOOLS
        .iter()
        .filter(|(name, _)| graph.contains(*name))
        .filter(|(name, _)| {
            !(["pkg-config", "vcpkg"].contains(name) && only_through_bundled_sqlite(name))
        })
        .map(|(name, why)| {
            let path = cargo(&[
                "tree",
                "--workspace",
                "--offline",
                "--locked",
                "-e",
                "normal,build,dev",
                "-i",
                name,
            ]);
            format!("`{name}` {why}; it comes in through:\n{path}")
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "a fresh machine (Rust and a C/C++ compiler) cannot build these:\n{}",
        offenders.join("\n")
    );
}

/// `pkg-config` and `vcpkg` are build dependencies of libsqlite3-sys, whose build script uses
/// them only for a system SQLite: with its `bundled` feature on (sqlx's `sqlite`) it compiles
/// the bundled amalgamation with cc and calls neither. True when that is `name`'s only way in.
fn only_through_bundled_sqlite(name: &str) -> bool {
    let dependents = cargo(&[
        "tree",
        "--workspace",
        "--offline",
        "--locked",
        "-e",
        "normal,build,dev",
        "-i",
        name,
        "--prefix",
        "none",
        "--depth",
        "1",
    ]);
    let direct: Vec<&str> = dependents
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .collect();
    let features = cargo(&[
        "tree",
        "--workspace",
        "--offline",
        "--locked",
        "-e",
        "features",
        "-i",
        "libsqlite3-sys",
    ]);
    !direct.is_empty()
        && direct.iter().all(|l| l.starts_with("libsqlite3-sys "))
        && features.contains("libsqlite3-sys feature \"bundled\"")
}

#[test]
fn every_native_library_is_built_from_bundled_sources() {
    let graph = build_graph();
    let metadata = cargo(&["metadata", "--format-version", "1", "--offline", "--locked"]);
    let metadata: serde_json::Value = serde_json::from_str(&metadata).expect("cargo metadata JSON");
    let packages = metadata["packages"].as_array().expect("packages");
    let mut unknown = Vec::new();
    let mut linked = Vec::new();
    for p in packages {
        let name = p["name"].as_str().unwrap_or_default();
        let Some(links) = p["links"].as_str() else {
            continue;
        };
        if !graph.contains(name) {
            continue;
        }
        linked.push(name.to_string());
        if !BUNDLED_NATIVE.iter().any(|(n, _)| *n == name) {
            unknown.push(format!("{name} (links = \"{links}\")"));
        }
    }
    assert!(
        unknown.is_empty(),
        "these crates link a native library and are not known to build it from bundled sources \
         with cc alone; check that a fresh machine can build them, then list them in \
         BUNDLED_NATIVE with the reason: {unknown:?}"
    );
    assert!(
        linked.iter().any(|n| n == "suandian-highs"),
        "links found: {linked:?}"
    );
}
