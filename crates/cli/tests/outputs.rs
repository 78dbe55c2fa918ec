//! Broken pipes, full disks and outputs that would destroy inputs (issue 14, items 1 and 5):
//! never a panic, never a lost input.

use std::io::Read;
use std::process::{Command, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_suandian"))
}

fn dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("suandian-outputs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `suandian scenario export default | head -1` panicked with "failed printing to stdout:
/// Broken pipe" (exit 101). A closed pipe now ends the program quietly, as `cat` does.
#[test]
fn a_closed_pipe_ends_quietly() {
    for args in [
        &["scenario", "export", "default"][..],
        &["simulate", "--builtin", "demo", "--json", "-q"][..],
        &["policies"][..],
    ] {
        let mut child = bin()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 16];
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_exact(&mut first)
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// `simulate ... > /dev/full` panicked; a write error is now exit 1 naming stdout.
#[test]
fn a_full_disk_is_an_error_naming_stdout() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("skipped: no /dev/full on this machine");
        return;
    };
    let out = bin()
        .args(["simulate", "--builtin", "demo", "--json", "-q"])
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot write to stdout"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Outputs that are inputs, or another output, were written over with exit 0.
#[test]
fn outputs_never_overwrite_inputs() {
    let d = dir("overwrite");
    let export = bin().args(["scenario", "export", "demo"]).output().unwrap();
    let scenario = d.join("s.toml");
    std::fs::write(&scenario, &export.stdout).unwrap();
    let s = scenario.to_str().unwrap();
    let a = d.join("a.csv");
    let a = a.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["simulate", s, "-q", "--timeline", s], "--timeline"),
        (vec!["simulate", s, "-q", "--jobs", s], "--jobs"),
        (
            vec!["simulate", s, "-q", "--timeline", a, "--jobs", a],
            "--jobs",
        ),
        (
            vec!["simulate", s, "-q", "--report", "/no/such/folder/r.html"],
            "does not exist",
        ),
    ];
    for (args, says) in cases {
        let out = bin().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert_eq!(
            std::fs::read(&scenario).unwrap(),
            export.stdout,
            "{args:?} changed the input"
        );
    }
    // `report run.json -o run.json`.
    let run = d.join("run.json");
    let r = run.to_str().unwrap();
    let saved = bin()
        .args(["simulate", "--builtin", "demo", "-q", "--save-run", r])
        .output()
        .unwrap();
    assert!(saved.status.success());
    let before = std::fs::read(&run).unwrap();
    let out = bin().args(["report", r, "-o", r]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read(&run).unwrap(), before);
}

/// A series that points at a device is refused, not read forever.
#[test]
fn a_device_is_not_an_input() {
    let d = dir("device");
    let export = bin().args(["scenario", "export", "demo"]).output().unwrap();
    let text = String::from_utf8(export.stdout).unwrap();
    // The first inline price series becomes a file reference to /dev/zero.
    let start = text.find("price = {").expect("an inline price series");
    let end = start + text[start..].find('}').unwrap() + 1;
    let patched = format!(
        "{}price = {{ file = \"/dev/zero\" }}{}",
        &text[..start],
        &text[end..]
    );
    let scenario = d.join("zero.toml");
    std::fs::write(&scenario, patched).unwrap();
    let out = bin()
        .args(["validate", scenario.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("/dev/zero") && stderr.contains("not a regular file"),
        "{stderr}"
    );
}

/// Issue 14, item 8: a flag that is not used is still checked, and a site with no plant
/// shows "green 0 kW", not "-0".
#[test]
fn small_things_said_right() {
    let out = bin()
        .args([
            "simulate",
            "--builtin",
            "demo",
            "--forecast",
            "perfect",
            "--forecast-error",
            "nan",
            "-q",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--forecast-error"));
    let base = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/base.toml");
    let out = bin().args(["validate", base]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("green 0 kW") && !text.contains("-0 kW"),
        "{text}"
    );
}
