//! suandian-core: the pure, deterministic heart of suandian.
//!
//! No file or network I/O, no wall clock, no global state: the same [`model::Scenario`] and
//! [`sim::SimConfig`] always give the same [`metrics::Metrics`] and timeline.
//!
//! Data flow: [`model::Scenario`] → [`sim::simulate`] (asks a [`policy::Policy`] for
//! actions each slot, through a [`sim::Context`] that shows only the past and the
//! [`forecast`]s) → per-site energy [`dispatch`] → [`metrics`] and a timeline.

pub mod china;
pub mod default_scenario;
pub mod dispatch;
pub mod forecast;
pub mod gaia;
pub mod limits;
pub mod metrics;
pub mod model;
pub mod policy;
pub mod sim;
pub mod synthetic;
pub mod validate;
pub mod weather;

pub use model::*;
pub use validate::ModelError;
