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
pub use lp::{solve, LpSolver, ObjectiveMode, Plan, PlanInput};
pub use oracle::Oracle;

use suandian_core::metrics::ObjectiveWeights;
use suandian_core::policy::{self, Policy};
use suandian_core::Scenario;

/// Every policy known by name (the core's list).
pub use suandian_core::policy::POLICIES;

/// How `coordinated` and `oracle` plan.
#[derive(Debug, Clone, Copy)]
pub struct PlannerOptions {
    /// What the plans minimise.
    pub mode: ObjectiveMode,
    /// A floor on each site's green share of facility energy over the planning window (0 for
    /// none), for `coordinated`: enforced softly, each kWh short penalised like an import over
    /// its limit. The oracle keeps none: it bounds the objective, which a floor only raises.
    pub min_green_share: f64,
    pub solver: LpSolver,
    /// Start each re-plan from the last plan's basis.
    pub warm_start: bool,
    /// Plan migrations of started jobs where moving their data pays.
    pub migrate: bool,
}

impl Default for PlannerOptions {
    fn default() -> Self {
        let c = CoordinatedConfig::default();
        Self {
            mode: c.mode,
            min_green_share: c.min_green_share,
            solver: c.solver,
            warm_start: c.warm_start,
            migrate: c.migrate,
        }
    }
}

/// Make a policy for `sc` from its name: `None` for an unknown name, `Some(Err)` if the oracle's
/// model cannot be solved.
pub fn policy_by_name(
    name: &str,
    sc: &Scenario,
    mode: ObjectiveMode,
) -> Option<Result<Box<dyn Policy + Send>, String>> {
    let options = PlannerOptions {
        mode,
        ..PlannerOptions::default()
    };
    policy_with_options(name, sc, &options)
}

/// [`policy_by_name`] with the planner's options.
pub fn policy_with_options(
    name: &str,
    sc: &Scenario,
    options: &PlannerOptions,
) -> Option<Result<Box<dyn Policy + Send>, String>> {
    let weights = ObjectiveWeights::for_scenario(sc);
    match name {
        "coordinated" => Some(Ok(Box::new(Coordinated::new(
            CoordinatedConfig {
                mode: options.mode,
                min_green_share: options.min_green_share,
                solver: options.solver,
                warm_start: options.warm_start,
                migrate: options.migrate,
                ..CoordinatedConfig::default()
            },
            weights,
        )))),
        "oracle" => Some(
            Oracle::with_solver(sc, &weights, options.mode, options.solver)
                .map(|o| Box::new(o) as Box<dyn Policy + Send>)
                .map_err(|e| e.to_string()),
        ),
        other => policy::by_name(other).map(Ok),
    }
}
