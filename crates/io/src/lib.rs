//! suandian-io: the adapters around the pure core.
//!
//! The input side reads a versioned TOML scenario ([`scenario`]), the time series it points
//! to ([`series`]) and job traces ([`traces`]), resamples everything onto the scenario's time
//! grid and resolves names into indices, giving a validated [`suandian_core::Scenario`].
//! The file format is documented in `docs/scenario.md`.
//!
//! The output side ([`output`]) turns simulation results into the comparison table, the JSON
//! document, the timeline and job CSVs, and the scenario summary; [`report`] into a
//! self-contained HTML report with charts.

pub mod builtin;
pub mod error;
pub mod export;
pub mod files;
pub mod output;
pub mod report;
pub mod scenario;
pub mod series;
pub mod traces;

pub use error::InputError;
pub use scenario::{LoadedScenario, SimulationDefaults};
