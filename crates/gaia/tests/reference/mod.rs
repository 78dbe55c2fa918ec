//! GAIA's reference runs (../shared/reference/gaia): where they are, the cases of timing.csv,
//! and reading a file. Shared by the library's conformance test and the command's test
//! (`crates/cli/tests/gaia_command.rs` includes this file).

use std::path::{Path, PathBuf};
use suandian_gaia as gaia;

pub fn reference() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/gaia");
    if p.join("timing.csv").is_file() {
        Some(p)
    } else {
        println!("skipped: ../shared/reference/gaia not found");
        None
    }
}

pub struct Case {
    pub zone: String,
    pub start: usize,
    pub policy: String,
    pub carbon_policy: String,
    pub wait: String,
}

impl Case {
    pub fn name(&self) -> String {
        gaia::formats::run_name(
            &self.policy,
            self.start,
            &self.carbon_policy,
            &self.zone,
            &self.wait,
        )
    }
}

/// The reference runs, from timing.csv (`zone,start,sched,carbonpol,wait,seconds`).
pub fn cases(dir: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(dir.join("timing.csv")).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Case {
                zone: f[0].into(),
                start: f[1].parse().unwrap(),
                policy: f[2].into(),
                carbon_policy: f[3].into(),
                wait: f[4].into(),
            }
        })
        .collect()
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Where our file first differs from GAIA's, for a failure message.
pub fn first_difference(ours: &str, theirs: &str) -> String {
    for (i, (a, b)) in ours.lines().zip(theirs.lines()).enumerate() {
        if a != b {
            return format!("line {}: ours `{a}`, GAIA `{b}`", i + 1);
        }
    }
    format!(
        "{} lines here, {} in GAIA's",
        ours.lines().count(),
        theirs.lines().count()
    )
}
