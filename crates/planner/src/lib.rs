//! suandian-planner: the coordinated planner. One linear programme decides together where and
//! when work runs and how green supply, batteries, thermal backup and grid imports are
//! dispatched ([`lp`], solved by HiGHS); a job-level dispatcher turns its capacity envelopes
//! into start/suspend decisions ([`dispatch`]); the [`Coordinated`] policy re-plans on the
//! forecasts every slot (model-predictive control) and the [`Oracle`] solves once over the whole
//! run with the truth: the bound every policy is measured against. docs/planner.md has the model.

mod classes;
mod coordinated;
pub mod dispatch;
pub mod lp;
mod oracle;

pub use coordinated::{Coordinated, CoordinatedConfig};
pub use lp::{solve, ObjectiveMode, Plan, PlanInput};
pub use oracle::Oracle;

use suandian_core::metrics::ObjectiveWeights;
use suandian_core::policy::{self, Policy};
use suandian_core::Scenario;

/// Every policy known by name (the core's list).
pub use suandian_core::policy::POLICIES;

/// Make a policy for `sc` from its name: `None` for an unknown name, `Some(Err)` if the oracle's
/// model cannot be solved.
pub fn policy_by_name(
    name: &str,
    sc: &Scenario,
    mode: ObjectiveMode,
) -> Option<Result<Box<dyn Policy + Send>, String>> {
    let weights = ObjectiveWeights::for_scenario(sc);
    match name {
        "coordinated" => Some(Ok(Box::new(Coordinated::new(
            CoordinatedConfig {
                mode,
                ..CoordinatedConfig::default()
            },
            weights,
        )))),
        "oracle" => Some(
            Oracle::new(sc, &weights, mode)
                .map(|o| Box::new(o) as Box<dyn Policy + Send>)
                .map_err(|e| e.to_string()),
        ),
        other => policy::by_name(other).map(Ok),
    }
}
