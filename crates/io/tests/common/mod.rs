#![allow(dead_code)]
//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use suandian_io::scenario::from_toml_str;
use suandian_io::{InputError, LoadedScenario};

/// A small valid scenario: one site "a" (8 accelerators), another "b" (16), 4 hourly slots.
pub const MIN: &str = r#"version = 1
name = "t"
[time]
start = "2022-06-01T00:00:00Z"
slot_minutes = 60
horizon_hours = 4

[[sites]]
name = "a"
region = "r"
latitude = 10
longitude = 20
accelerators = { count = 8, model = "x", idle_w = 100, peak_w = 700 }
pue = 1.2
[sites.grid]
import_limit_kw = 100
price = 50
carbon = 400

[[sites]]
name = "b"
region = "r"
latitude = 10
longitude = 20
accelerators = { count = 16, model = "x", idle_w = 100, peak_w = 700 }
pue = 1.2
[sites.grid]
import_limit_kw = 100
price = 50
carbon = 400
"#;

/// A fresh, empty scratch folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("suandian-io-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn parse(text: &str) -> Result<LoadedScenario, InputError> {
    from_toml_str(text, "scenario.toml", Path::new(""))
}

pub fn parse_in(text: &str, dir: &Path) -> Result<LoadedScenario, InputError> {
    from_toml_str(text, "scenario.toml", dir)
}

/// The error's message, asserting it is an error.
pub fn err(r: Result<LoadedScenario, InputError>) -> (InputError, String) {
    match r {
        Ok(_) => panic!("expected an error, the scenario loaded"),
        Err(e) => {
            let m = e.to_string();
            (e, m)
        }
    }
}

/// The 1-based line of the first line of `text` that contains `needle`.
pub fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in the text"))
        + 1
}

/// `../shared/data` (i.e. /work/shared/data), or `None` with the skip message printed.
pub fn shared_data() -> Option<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if d.is_dir() {
        Some(d)
    } else {
        println!("skipped: ../shared/data not found");
        None
    }
}
