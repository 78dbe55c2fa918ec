//! The `suandian gaia` command: it writes GAIA's three files, identical to the reference runs in
//! ../shared/reference/gaia (skipped where absent), and bad input exits 2 with a message naming
//! the culprit. The library's conformance on every reference case is
//! `crates/gaia/tests/conformance.rs`.

use std::path::PathBuf;
use std::process::Command;
use suandian_gaia as gaia;

#[path = "../../gaia/tests/reference/mod.rs"]
mod reference;
use reference::{cases, first_difference, read, reference};

#[test]
fn the_binary_writes_gaias_three_files() {
    let Some(dir) = reference() else { return };
    let out_dir = std::env::temp_dir().join(format!("suandian-gaia-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    for case in cases(&dir)
        .iter()
        .filter(|c| c.policy == "suspend-resume-threshold" || c.wait == "0x0")
        .take(2)
    {
        let out = Command::new(env!("CARGO_BIN_EXE_suandian"))
            .arg("gaia")
            .arg("--carbon")
            .arg(dir.join(format!("traces/{}.csv", case.zone)))
            .arg("--trace")
            .arg(dir.join("traces/pai_1k.csv"))
            .args(["--start-index", &case.start.to_string()])
            .args(["--policy", &case.policy])
            .args(["--carbon-policy", &case.carbon_policy])
            .args(["--wait", &case.wait])
            .arg("--out")
            .arg(&out_dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let name = case.name();
        for file in [
            format!("{name}.csv"),
            format!("details-{name}.csv"),
            format!("runtime-{name}.csv"),
        ] {
            let ours = read(&out_dir.join(&file));
            let theirs = read(&dir.join("results").join(&file));
            assert!(
                ours == theirs,
                "{file}: {}",
                first_difference(&ours, &theirs)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&out_dir);
}

fn suandian(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_suandian"))
        .args(args)
        .output()
        .unwrap()
}

fn tmp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("suandian-gaia-err-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn carbon_file() -> PathBuf {
    let mut s = String::from("datetime,carbon_intensity_avg\n");
    for h in 0..(gaia::PAD_ROWS + 48) {
        s.push_str(&format!("h{h},{}\n", 100 + h % 24));
    }
    tmp("Z.csv", &s)
}

#[test]
fn bad_input_exits_2_with_a_message_naming_the_culprit() {
    let carbon = carbon_file();
    let carbon = carbon.to_str().unwrap();
    let trace = tmp("t.csv", "arrival_time,length,cpus\n0,3600,1\n100,600,2\n");
    let trace = trace.to_str().unwrap();
    let out_dir =
        std::env::temp_dir().join(format!("suandian-gaia-err-out-{}", std::process::id()));
    let out_dir = out_dir.to_str().unwrap();
    let base = [
        "gaia", "--carbon", carbon, "--trace", trace, "--out", out_dir,
    ];
    let run = |extra: &[&str]| {
        let mut a: Vec<&str> = base.to_vec();
        a.extend_from_slice(extra);
        if !extra.contains(&"--start-index") {
            a.extend_from_slice(&["--start-index", "0"]);
        }
        suandian(&a)
    };
    let ok = run(&["--policy", "carbon", "--wait", "1x2"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    for (extra, needle) in [
        (&["--policy", "greedy"][..], "--policy: found `greedy`"),
        (
            &["--policy", "carbon", "--carbon-policy", "best"][..],
            "--carbon-policy: found `best`",
        ),
        (
            &["--policy", "carbon", "--wait", "6h"][..],
            "--wait: found `6h`",
        ),
        (&["--policy", "carbon", "--wait", "1x2x3"][..], "--wait"),
        (
            &["--policy", "carbon", "--start-index", "9000"][..],
            "start index 9000",
        ),
        (
            &["--policy", "carbon", "--start-index", "-5"][..],
            "--start-index: found -5",
        ),
    ] {
        let out = run(extra);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(needle), "{extra:?}: `{err}` lacks `{needle}`");
    }

    let no_col = tmp("nocol.csv", "arrival,length,cpus\n0,3600,1\n");
    let out = suandian(&[
        "gaia",
        "--carbon",
        carbon,
        "--trace",
        no_col.to_str().unwrap(),
        "--start-index",
        "0",
        "--policy",
        "carbon",
        "--out",
        out_dir,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("nocol.csv") && err.contains("arrival_time"),
        "{err}"
    );

    let short = tmp("short.csv", "arrival_time,length,cpus\n0,3600,1\n5,120,1\n");
    let out = suandian(&[
        "gaia",
        "--carbon",
        carbon,
        "--trace",
        short.to_str().unwrap(),
        "--start-index",
        "0",
        "--policy",
        "carbon",
        "--out",
        out_dir,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("short.csv: line 3") && err.contains("300"),
        "{err}"
    );

    let bad_carbon = tmp("bad.csv", "datetime,carbon_intensity_avg\na,1\nb,x\n");
    let out = suandian(&[
        "gaia",
        "--carbon",
        bad_carbon.to_str().unwrap(),
        "--trace",
        trace,
        "--start-index",
        "0",
        "--policy",
        "carbon",
        "--out",
        out_dir,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("bad.csv: line 3"), "{err}");
    let _ = std::fs::remove_dir_all(out_dir);
}
