//! suandian-core: the pure, deterministic heart of suandian.
//!
//! No file or network I/O, no wall clock, no global state: the same [`model::Scenario`] and
//! [`sim::SimConfig`] always give the same [`metrics::Metrics`] and timeline.
//!
//! Data flow: a driver ([`sim::simulate`] replays a [`model::Scenario`]; the service steers a
//! live fleet) steps an [`engine::Engine`] slot by slot; the engine asks a [`policy::Policy`]
//! for actions through a [`fleet::Fleet`] that shows only the past, the [`signals`] as known
//! now and the arrived jobs, dispatches each site's energy ([`dispatch`]) and accounts it
//! ([`metrics`]), writing decisions and the timeline to an [`engine::Sink`].

pub mod compare;
pub mod dispatch;
pub mod engine;
pub mod fleet;
pub mod forecast;
pub mod hash;
pub mod limits;
pub mod metrics;
pub mod model;
pub mod policy;
pub mod signals;
pub mod sim;
pub mod validate;

pub use model::*;
pub use validate::ModelError;
