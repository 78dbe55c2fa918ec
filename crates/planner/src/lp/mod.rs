//! The optimisation model (docs/planner.md gives it as equations) and its solution with HiGHS.
//!
//! Built from a [`PlanInput`] that holds only numbers (no jobs, no simulator types), so the same
//! code serves the rolling-horizon policy, the oracle and the benchmarks.
//!
//! - `model.rs`: the plan's input and output ([`PlanInput`], [`Plan`] and their parts);
//! - `periods.rs`: the model's time steps, one slot each near the present and longer blocks
//!   further out ([`Blocks`]), and the series per period;
//! - `build.rs`: the LP built from them, block by block, every column and row with a key;
//! - `highs.rs`: the adapter to HiGHS (options, warm starts, the solution read back into a
//!   [`Plan`]).

mod build;
mod highs;
mod model;
mod periods;

pub(crate) use build::energy_weight;
pub use build::{work_column_count, CAPPED_MARGIN_SLOTS, GREEN_SHORTFALL_PER_KWH};
pub use highs::{PlanError, WarmStart, IPM_ABOVE_COLUMNS};
pub use model::{
    CappedLevel, Home, InferenceClass, LpSolver, MarketCarbon, ObjectiveMode, Plan, PlanBattery,
    PlanInput, PlanSite, Running, WorkClass,
};
pub use periods::Blocks;

/// Build and solve the plan.
pub fn solve(input: &PlanInput) -> Result<Plan, PlanError> {
    solve_inner(input, None, false).map(|(plan, _)| plan)
}

/// Build and solve the plan, starting from an earlier plan's basis where given, and return
/// this plan's basis for the next re-plan too.
pub fn solve_from(
    input: &PlanInput,
    start: Option<&WarmStart>,
) -> Result<(Plan, WarmStart), PlanError> {
    solve_inner(input, start, true)
}

fn solve_inner(
    input: &PlanInput,
    start: Option<&WarmStart>,
    keep_basis: bool,
) -> Result<(Plan, WarmStart), PlanError> {
    // Keys (what each column and row stands for) only where a basis is carried over.
    let lp = build::build(input, keep_basis || start.is_some()).map_err(PlanError::Input)?;
    highs::solve_lp(input, lp, start, keep_basis)
}
