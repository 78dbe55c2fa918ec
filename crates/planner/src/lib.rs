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

pub use coordinated::Coordinated;
pub use lp::{solve, Blocks, LpSolver, ObjectiveMode, Plan, PlanInput};
pub use oracle::Oracle;

use suandian_core::metrics::ObjectiveWeights;
use suandian_core::policy::{self, Policy};
use suandian_core::Scenario;

/// Every policy known by name (the core's list).
pub use suandian_core::policy::POLICIES;

/// How `coordinated` and `oracle` plan: the planner's one options struct (the CLI's flags,
/// the rolling policy and the oracle all read it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlannerOptions {
    /// What the plans minimise.
    pub mode: ObjectiveMode,
    /// A floor on each site's green share of facility energy over the planning window (0 for
    /// none), for `coordinated`: enforced softly, each kWh short penalised like an import over
    /// its limit. The oracle keeps none: it bounds the objective, which a floor only raises.
    pub min_green_share: f64,
    pub solver: LpSolver,
    /// Start each re-plan from the last plan's simplex basis (docs/planner.md#warm-starts).
    pub warm_start: bool,
    /// Plan migrations of started, migratable jobs, weighing the price of moving their data
    /// (docs/planner.md#migration). Off by default: on the default week they do not pay. The
    /// oracle plans none.
    pub migrate: bool,
    /// The rolling plan's window, hours.
    pub window_h: f64,
    /// How the rolling window is cut into the model's periods: the slot's resolution near the
    /// present, longer blocks further out (`--blocks`; docs/planner.md#resolution).
    pub blocks: Blocks,
    /// Re-plan every this many slots (1: every slot), whatever changed; `None`: re-plan where
    /// the inputs changed ([`coordinated`](Coordinated) says which changes count) and at least
    /// every `replan_max_h` hours (half an hour: every slot at slots of 30 minutes or more, every
    /// other at 15 minutes, every sixth at 5 minutes).
    pub replan_every: Option<usize>,
    /// The longest a rolling plan is followed before it is re-solved, hours (with
    /// `replan_every: None`); never longer than the window's fine tier ([`Blocks::fine_h`]).
    pub replan_max_h: f64,
    /// The LP solver's time limit for one rolling plan, seconds.
    pub time_limit_s: f64,
    /// The LP solver's time limit for the oracle's one plan, seconds.
    pub oracle_time_limit_s: f64,
    /// Share of the recent arrival rate of work kept free in later slots for work still to come.
    pub reserve_for_arrivals: f64,
}

impl Default for PlannerOptions {
    fn default() -> Self {
        Self {
            mode: ObjectiveMode::Balanced,
            min_green_share: 0.0,
            solver: LpSolver::Auto,
            warm_start: true,
            migrate: false,
            window_h: 24.0,
            blocks: Blocks::default(),
            replan_every: None,
            replan_max_h: 0.5,
            time_limit_s: 10.0,
            oracle_time_limit_s: 300.0,
            reserve_for_arrivals: 0.5,
        }
    }
}

impl PlannerOptions {
    /// The options' ranges: `Err((field, found, expected))` naming the first one out of range.
    pub fn check(&self) -> Result<(), (&'static str, String, &'static str)> {
        if !(0.0..=1.0).contains(&self.min_green_share) {
            return Err((
                "min_green_share",
                self.min_green_share.to_string(),
                "a fraction between 0 and 1",
            ));
        }
        if !(self.window_h > 0.0 && self.window_h.is_finite()) {
            return Err(("window_h", self.window_h.to_string(), "hours > 0"));
        }
        if self.replan_every == Some(0) {
            return Err(("replan_every", "0".into(), "at least 1 slot"));
        }
        if !(self.replan_max_h > 0.0 && self.replan_max_h.is_finite()) {
            return Err(("replan_max_h", self.replan_max_h.to_string(), "hours > 0"));
        }
        Ok(())
    }

    /// The most slots a rolling plan is followed before the next: `replan_every`, else
    /// `replan_max_h` (at least one slot, at most the window's fine tier: beyond it the plan is
    /// in blocks).
    pub fn steered_slots(&self, slot_h: f64) -> usize {
        match self.replan_every {
            Some(n) => n.max(1),
            None => {
                let h = self.replan_max_h.min(self.blocks.fine_h());
                ((h / slot_h + 1e-9).floor() as usize).max(1)
            }
        }
    }

    /// The options the oracle plans with: no green-share floor (it bounds the objective,
    /// which a floor only raises), no migrations, its own time limit.
    pub fn for_oracle(&self) -> Self {
        Self {
            min_green_share: 0.0,
            migrate: false,
            time_limit_s: self.oracle_time_limit_s,
            ..*self
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

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PolicyError::Unknown { name, known } => {
                write!(f, "found `{name}`, expected one of {}", known.join(", "))
            }
            PolicyError::Failed { name, reason } => write!(f, "policy {name}: {reason}"),
        }
    }
}

/// [`policy_by_name`] with the planner's options.
pub fn policy_with_options(
    name: &str,
    sc: &Scenario,
    options: &PlannerOptions,
) -> Option<Result<Box<dyn Policy + Send>, String>> {
    let weights = ObjectiveWeights::for_scenario(sc);
    match name {
        "coordinated" => Some(Ok(Box::new(Coordinated::new(*options, weights)))),
        "oracle" => Some(
            Oracle::with_options(sc, &weights, options)
                .map(|o| Box::new(o) as Box<dyn Policy + Send>)
                .map_err(|e| e.to_string()),
        ),
        other => policy::by_name(other).map(Ok),
    }
}

/// Why [`policies_for`] could not make a policy.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyError {
    /// No policy has this name; `known` lists those that do.
    Unknown {
        name: String,
        known: Vec<&'static str>,
    },
    /// The policy could not be built (the oracle's model could not be solved).
    Failed { name: String, reason: String },
}

/// The policies `names` for `sc`, in that order, with the reference policy first (it is always
/// run: savings and captures are against it) and each name once.
pub fn policies_for(
    names: &[String],
    sc: &Scenario,
    options: &PlannerOptions,
) -> Result<Vec<Box<dyn Policy + Send>>, PolicyError> {
    let mut names = names.to_vec();
    if !names.iter().any(|n| n == policy::REFERENCE) {
        names.insert(0, policy::REFERENCE.into());
    }
    names.dedup();
    names
        .iter()
        .map(|n| match policy_with_options(n, sc, options) {
            Some(Ok(p)) => Ok(p),
            Some(Err(reason)) => Err(PolicyError::Failed {
                name: n.clone(),
                reason,
            }),
            None => Err(PolicyError::Unknown {
                name: n.clone(),
                known: policy::names().collect(),
            }),
        })
        .collect()
}
