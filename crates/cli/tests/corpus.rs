//! The corpus of malformed and extreme inputs (tests/corpus/, written by its generate.py from
//! base.toml) through every command (issue 14): every bad scenario exits 2 with a message that
//! names what is wrong (its file and the field, line or value), every valid one exits 0 with
//! finite results in every output; never exit 101 (a panic), never a hang.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// The cases of one folder: (path, what the message must contain).
fn cases(folder: &str) -> Vec<(PathBuf, String)> {
    let mut v: Vec<(PathBuf, String)> = std::fs::read_dir(corpus().join(folder))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            let expect = text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("# expect: "))
                .unwrap_or_else(|| panic!("{}: no `# expect:` line", p.display()))
                .to_string();
            (p, expect)
        })
        .collect();
    v.sort();
    v
}

/// Runs the binary with a deadline: a run past it is a hang.
fn run(args: &[&std::ffi::OsStr], limit: Duration) -> Output {
    let (out, timed_out) = common::output_within(
        Command::new(env!("CARGO_BIN_EXE_suandian")).args(args),
        limit,
    );
    assert!(!timed_out, "{args:?} still running after {limit:?}: a hang");
    out
}

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn every_bad_scenario_is_refused_by_every_command_naming_what_is_wrong() {
    let bad = cases("bad");
    assert!(bad.len() >= 40, "{} bad cases", bad.len());
    for (path, expect) in &bad {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for cmd in [&["validate"][..], &["simulate", "-q"][..]] {
            let mut args: Vec<&std::ffi::OsStr> = cmd.iter().map(|s| s.as_ref()).collect();
            args.push(path.as_os_str());
            let out = run(&args, LIMIT);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{cmd:?} {name}: {stderr}");
            assert!(
                stderr.contains(expect.as_str()),
                "{cmd:?} {name}: expected {expect:?} in {stderr}"
            );
            // The scenario file, or the series file at fault.
            assert!(
                stderr.contains(&name) || stderr.starts_with("error: /"),
                "{cmd:?} {name}: the message names no file: {stderr}"
            );
            assert!(
                out.stdout.is_empty(),
                "{cmd:?} {name}: wrote to stdout on error"
            );
        }
    }
}

/// Where a JSON document may hold `null`: a figure that does not exist (a saving against a
/// zero base, a capture without an oracle), never a number that overflowed.
fn nulls_outside(v: &serde_json::Value, path: &str, found: &mut Vec<String>) {
    use serde_json::Value;
    match v {
        Value::Null
            if !(path.contains("savings_vs_asap_pct")
                || path.ends_with("oracle_capture")
                || path.ends_with("oracle_bound")) =>
        {
            found.push(path.to_string())
        }
        Value::Number(n) if !n.as_f64().is_some_and(f64::is_finite) => found.push(path.to_string()),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| nulls_outside(x, &format!("{path}[{i}]"), found)),
        Value::Object(o) => o
            .iter()
            .for_each(|(k, x)| nulls_outside(x, &format!("{path}.{k}"), found)),
        _ => {}
    }
}

#[test]
fn every_valid_extreme_runs_every_policy_with_finite_results() {
    let good = cases("good");
    assert!(good.len() >= 8);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("corpus");
    std::fs::create_dir_all(&dir).unwrap();
    // Every registered policy, by name.
    let all: Vec<String> = suandian_core::policy::names()
        .flat_map(|n| ["-p".to_string(), n.to_string()])
        .collect();
    for (path, expect) in &good {
        assert_eq!(expect, "ok");
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let out = run(&["validate".as_ref(), path.as_os_str()], LIMIT);
        assert_eq!(
            out.status.code(),
            Some(0),
            "validate {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let saved = dir.join(format!("{name}.json"));
        let timeline = dir.join(format!("{name}.csv"));
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "simulate".as_ref(),
            path.as_os_str(),
            "-q".as_ref(),
            "--json".as_ref(),
        ];
        args.extend(all.iter().map(|s| s.as_ref() as &std::ffi::OsStr));
        args.extend([
            "--save-run".as_ref(),
            saved.as_os_str(),
            "--timeline".as_ref(),
            timeline.as_os_str(),
        ]);
        let out = run(&args, LIMIT);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "simulate {name}: {stderr}");
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut found = Vec::new();
        nulls_outside(&doc, "", &mut found);
        assert!(found.is_empty(), "simulate {name}: not finite: {found:?}");
        let csv = std::fs::read_to_string(&timeline).unwrap();
        for cell in csv.lines().flat_map(|l| l.split(',')) {
            assert!(
                !["NaN", "inf", "-inf", "null", ""].contains(&cell) || cell.is_empty(),
                "{name}: the timeline holds {cell}"
            );
        }
        for format in ["table", "csv"] {
            let out = run(
                &[
                    "simulate".as_ref(),
                    path.as_os_str(),
                    "-q".as_ref(),
                    "--format".as_ref(),
                    format.as_ref(),
                ],
                LIMIT,
            );
            let text = String::from_utf8_lossy(&out.stdout);
            assert_eq!(out.status.code(), Some(0), "{format} {name}");
            let words: Vec<&str> = text
                .split(|c: char| c == ',' || c.is_whitespace())
                .collect();
            assert!(
                !words
                    .iter()
                    .any(|w| ["NaN", "inf", "-inf", "NaN%"].contains(w)),
                "{format} {name}: {text}"
            );
        }
        let page = dir.join(format!("{name}.html"));
        let out = run(
            &[
                "report".as_ref(),
                saved.as_os_str(),
                "-o".as_ref(),
                page.as_os_str(),
            ],
            LIMIT,
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "report {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Saved runs that do not fit the schema are refused by `report`, naming the field.
#[test]
fn a_tampered_saved_run_is_refused_by_report() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("corpus-runs");
    std::fs::create_dir_all(&dir).unwrap();
    let saved = dir.join("run.json");
    let base = corpus().join("good/base.toml");
    let out = run(
        &[
            "simulate".as_ref(),
            base.as_os_str(),
            "-q".as_ref(),
            "--save-run".as_ref(),
            saved.as_os_str(),
        ],
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0));
    let good: serde_json::Value = serde_json::from_slice(&std::fs::read(&saved).unwrap()).unwrap();
    let tampered: Vec<(&str, serde_json::Value)> = vec![
        ("report.runs", {
            let mut d = good.clone();
            d["report"]["runs"] = serde_json::json!([]);
            d
        }),
        ("metrics.cost", {
            let mut d = good.clone();
            d["policies"][0]["metrics"]["cost"] = "x".into();
            d
        }),
        ("run_format", {
            let mut d = good.clone();
            d.as_object_mut().unwrap().remove("run_format");
            d
        }),
    ];
    for (says, doc) in tampered {
        let path = dir.join(format!("{}.json", says.replace('.', "-")));
        std::fs::write(&path, serde_json::to_string(&doc).unwrap()).unwrap();
        let page = dir.join("page.html");
        let out = run(
            &[
                "report".as_ref(),
                path.as_os_str(),
                "-o".as_ref(),
                page.as_os_str(),
            ],
            LIMIT,
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{says}: {stderr}");
        assert!(stderr.contains(says), "{says}: {stderr}");
    }
    for junk in ["", "{", "[]", "null", "\u{0}\u{1}"] {
        let path = dir.join("junk.json");
        std::fs::write(&path, junk).unwrap();
        let out = run(
            &[
                "report".as_ref(),
                path.as_os_str(),
                "-o".as_ref(),
                dir.join("p.html").as_os_str(),
            ],
            LIMIT,
        );
        assert_eq!(
            out.status.code(),
            Some(2),
            "{junk:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The `gaia` command's inputs (its carbon file is large, so the test writes it): a valid pair
/// runs; a job of 1e308 s or a carbon value of 1e308 is refused naming the line and column.
#[test]
fn gaia_inputs_are_checked_too() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("corpus-gaia");
    std::fs::create_dir_all(&dir).unwrap();
    let carbon_rows = |bad: bool| {
        let mut s = String::from("datetime,carbon_intensity_avg\n");
        for h in 0..(17_544 + 800) {
            let v = if bad && h == 17_600 {
                "1e308".to_string()
            } else {
                format!("{}", 300 + h % 50)
            };
            s.push_str(&format!("2020-01-01 00:00:00,{v}\n"));
        }
        s
    };
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let good_carbon = write("ZZ.csv", &carbon_rows(false));
    let bad_carbon = write("YY.csv", &carbon_rows(true));
    let good_trace = write(
        "trace.csv",
        "arrival_time,length,cpus\n0,3600,1\n600,7200,2\n",
    );
    let bad_trace = write(
        "huge.csv",
        "arrival_time,length,cpus\n0,3600,1\n600,1e308,2\n",
    );
    let out = dir.join("out");
    let gaia = |carbon: &Path, trace: &Path| {
        run(
            &[
                "gaia".as_ref(),
                "--carbon".as_ref(),
                carbon.as_os_str(),
                "--trace".as_ref(),
                trace.as_os_str(),
                "--start-index".as_ref(),
                "0".as_ref(),
                "--policy".as_ref(),
                "carbon".as_ref(),
                "--out".as_ref(),
                out.as_os_str(),
                "--quiet".as_ref(),
            ],
            LIMIT,
        )
    };
    let ok = gaia(&good_carbon, &good_trace);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    for (carbon, trace, says) in [
        (&good_carbon, &bad_trace, "length"),
        (&bad_carbon, &good_trace, "carbon_intensity_avg"),
    ] {
        let r = gaia(carbon, trace);
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{says}: {stderr}");
        assert!(
            stderr.contains(says) && stderr.contains("line"),
            "{says}: {stderr}"
        );
    }
}
