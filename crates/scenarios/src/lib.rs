//! suandian-scenarios: scenarios made by code, on the core's model.
//!
//! The built-in default scenario ([`default_scenario`], "East Data, West Computing" on the
//! eight national hubs), the provincial grid signals it draws on ([`china`]), the weather
//! models behind its solar, wind and PUE series ([`weather`]), and seeded synthetic fleets of
//! any size for benchmarks and scaling tests ([`synthetic`]). Each builds a
//! [`suandian_core::Scenario`]; none reads a file.
//!
//! Pure and deterministic like the core (no I/O, no clock): the same arguments and seed always
//! give the same scenario. Sources and assumptions: `docs/default-scenario.md`.

pub mod china;
pub mod default_scenario;
pub mod synthetic;
pub mod weather;
