//! The embedded demo scenario: three sites over two days, self-contained (no files).

use crate::scenario::{from_toml_str, LoadedScenario};
use std::path::Path;

/// The demo scenario's TOML text (`crates/io/scenarios/demo.toml`).
pub const DEMO_TOML: &str = include_str!("../scenarios/demo.toml");

/// The demo scenario, resolved and validated. It has no file references, so it cannot fail
/// on the machine it runs on; a test proves that it parses.
pub fn demo() -> LoadedScenario {
    let mut s = from_toml_str(DEMO_TOML, "built-in demo", Path::new(""))
        .unwrap_or_else(|e| panic!("the built-in demo scenario is broken: {e}"));
    s.source = "built-in demo".into();
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn demo_parses_and_validates() {
        let d = super::demo();
        assert_eq!(d.scenario.sites.len(), 3);
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        d.scenario.validate().unwrap();
    }
}
