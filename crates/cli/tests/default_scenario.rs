//! The built-in default scenario through the command line: it runs, carbon-aware policies beat
//! `asap`, the same seeds give byte-identical JSON, and `scenario export` gives a file that
//! loads back with the same results.

use std::process::Command;

fn suandian(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_suandian"))
        .args(args)
        .output()
        .expect("runs")
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = suandian(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn metric(v: &serde_json::Value, policy: &str, key: &str) -> f64 {
    v["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == policy)
        .unwrap()["metrics"][key]
        .as_f64()
        .unwrap()
}

#[test]
fn carbon_aware_policies_cut_carbon_and_raise_the_green_share() {
    let v = json(&["simulate", "--json", "--quiet"]);
    let asap_c = metric(&v, "asap", "carbon_location_kg");
    let asap_g = metric(&v, "asap", "green_share");
    for p in ["carbon-wait", "greenest-site"] {
        let c = metric(&v, p, "carbon_location_kg");
        let g = metric(&v, p, "green_share");
        assert!(c < 0.97 * asap_c, "{p}: carbon {c} vs asap {asap_c}");
        assert!(g > asap_g, "{p}: green share {g} vs asap {asap_g}");
    }
    // Plausible magnitudes: tens of MW of facility load, a few hundred g/kWh on average.
    let facility = metric(&v, "asap", "facility_kwh");
    let mw = facility / 168.0 / 1000.0;
    assert!((5.0..100.0).contains(&mw), "{mw} MW");
    let g_per_kwh = asap_c * 1000.0 / facility;
    assert!((200.0..700.0).contains(&g_per_kwh), "{g_per_kwh} g/kWh");
}

#[test]
fn the_same_seed_gives_byte_identical_json() {
    let run = |seed: &str| {
        let out = suandian(&[
            "simulate",
            "--json",
            "--quiet",
            "--days",
            "2",
            "--scenario-seed",
            seed,
        ]);
        assert!(out.status.success());
        out.stdout
    };
    let a = run("5");
    assert_eq!(a, run("5"));
    assert_ne!(a, run("6"), "the scenario seed should matter");
}

#[test]
fn export_loads_back_with_the_same_results() {
    let out = suandian(&[
        "scenario", "export", "default", "--days", "3", "--seed", "9",
    ]);
    assert!(out.status.success());
    let dir = std::env::temp_dir().join(format!("suandian-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("my.toml");
    std::fs::write(&path, &out.stdout).unwrap();
    let from_file = json(&["simulate", path.to_str().unwrap(), "--json", "--quiet"]);
    let built_in = json(&[
        "simulate",
        "--json",
        "--quiet",
        "--days",
        "3",
        "--scenario-seed",
        "9",
    ]);
    assert_eq!(from_file["policies"], built_in["policies"]);
    assert!(!from_file["policies"].as_array().unwrap().is_empty());
}

#[test]
fn scenario_show_describes_the_hubs() {
    let out = suandian(&["scenario", "show", "default"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for hub in [
        "zhangjiakou",
        "wuhu",
        "shaoguan",
        "tianfu",
        "helinger",
        "guian",
        "qingyang",
        "zhongwei",
    ] {
        assert!(text.contains(hub), "missing {hub} in\n{text}");
    }
    let bad = suandian(&["scenario", "show", "nope"]);
    assert_eq!(bad.status.code(), Some(2));
}
