//! The built-in scenarios: `default` ("East Data, West Computing" on the eight national
//! hubs, built by [`suandian_scenarios::default_scenario`]) and `demo` (three sites over two
//! days, `crates/io/scenarios/demo.toml`). Both are self-contained (no files).

use crate::scenario::{from_toml_str, LoadedScenario, SimulationDefaults};
use std::path::Path;
use suandian_core::forecast::ForecastKind;

/// Names of the built-in scenarios, with a short description.
pub const BUILTINS: &[(&str, &str)] = &[
    (
        "default",
        "East Data, West Computing: the eight national hubs, modelled (docs/default-scenario.md)",
    ),
    ("demo", "three sites (east, middle, west) over two days"),
];

/// The default scenario over `days` days, weather and work seeded by `seed`; its runs use a
/// noisy forecast (15 % error a day ahead, seed 42) and every baseline policy.
pub fn default_scenario(days: u32, seed: u64) -> LoadedScenario {
    let scenario = suandian_scenarios::default_scenario::default_scenario(days, seed);
    LoadedScenario {
        scenario,
        simulation: SimulationDefaults {
            forecast: ForecastKind::Noisy {
                relative_error: 0.15,
                seed: 42,
            },
            ..SimulationDefaults::default()
        },
        warnings: vec![],
        source: format!("built-in default ({days} days, seed {seed})"),
        inputs: vec![],
    }
}

/// A built-in scenario by name (`days` and `seed` apply to `default` only), or `None`.
pub fn by_name(name: &str, days: u32, seed: u64) -> Option<LoadedScenario> {
    match name {
        "default" => Some(default_scenario(days, seed)),
        "demo" => Some(demo()),
        _ => None,
    }
}

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
