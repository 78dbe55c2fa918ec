//! The adapter to HiGHS: solving the built LP (algorithm, time limit, a warm start from an
//! earlier plan's basis), and reading the solution back into a [`Plan`].

use super::build::{BuiltLp, ColKey, Columns, Keys, RowKey, EARLY_WORK_PREFERENCE};
use super::model::{LpSolver, Plan, PlanInput};
use super::periods::Periods;
use std::collections::HashMap;
use std::ops::Range;
use std::time::Instant;
use suandian_highs::{BasisStatus, Col, Model, ModelStatus, Sense};

/// Models with more columns than this are solved with the interior point method.
pub const IPM_ABOVE_COLUMNS: usize = 50_000;

#[derive(Debug, Clone, PartialEq)]
pub enum PlanError {
    Solver(String),
    /// The input cannot be built into a model (its periods do not cut its window).
    Input(String),
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanError::Solver(m) => write!(f, "the LP solver failed: {m}"),
            PlanError::Input(m) => write!(f, "the plan's input: {m}"),
        }
    }
}

fn solver_error(e: suandian_highs::Error) -> PlanError {
    PlanError::Solver(e.to_string())
}

/// A solved plan's simplex basis by what each column and row stands for: passed to the next
/// re-plan's [`solve_from`](super::solve_from), it is the starting basis of the quantities both
/// windows have (new columns start at their lower bound, new rows basic; HiGHS repairs what is
/// singular).
#[derive(Debug, Clone, Default)]
pub struct WarmStart {
    cols: HashMap<ColKey, BasisStatus>,
    rows: HashMap<RowKey, BasisStatus>,
}

impl WarmStart {
    /// Columns and rows it holds a status for.
    pub fn len(&self) -> usize {
        self.cols.len() + self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A basis status carried over to bounds that may have changed: a nonbasic quantity sits at a
/// bound it has.
fn status_for(status: Option<BasisStatus>, lower: f64, upper: f64) -> BasisStatus {
    use BasisStatus::{Basic, Lower, Upper, Zero};
    match status {
        Some(Basic) => Basic,
        Some(Upper) if upper.is_finite() => Upper,
        _ if lower.is_finite() => Lower,
        _ if upper.is_finite() => Upper,
        _ => Zero,
    }
}

/// Solve the built LP, from `start`'s basis where given (`lp` then has its keys), and return
/// the plan with its own basis where `keep_basis` (likewise).
pub(super) fn solve_lp(
    input: &PlanInput,
    lp: BuiltLp,
    start: Option<&WarmStart>,
    keep_basis: bool,
) -> Result<(Plan, WarmStart), PlanError> {
    let BuiltLp {
        problem,
        keys,
        cols,
        offset,
        periods,
        class_slots,
    } = lp;
    let columns = problem.num_cols();
    let rows = problem.num_rows();
    let started = Instant::now();
    let mut model = problem.optimise(Sense::Minimise).map_err(solver_error)?;
    set_options(
        &mut model,
        input,
        columns,
        start.is_some_and(|s| !s.is_empty()),
    )?;
    if let (Some(start), Some(keys)) = (start, &keys) {
        set_warm_start(&mut model, start, keys);
    }
    let solved = model.solve().map_err(solver_error)?;
    let solve_s = started.elapsed().as_secs_f64();
    match solved.status() {
        ModelStatus::Optimal => {}
        other => {
            // No wall-clock time here: the message can reach a run's notes, which must not
            // change between runs (a time limit says so in the status).
            return Err(PlanError::Solver(format!("status {other:?}")));
        }
    }
    let sol = solved.column_values();
    let v = |c: Col| sol[c.index()];

    // The objective without the tie-breaking preference for early work.
    let tie_break: f64 = cols
        .work
        .iter()
        .flatten()
        .chain(cols.capped.iter().flatten().map(|(_, _, cols)| cols))
        .flat_map(|cols| cols.iter().enumerate())
        .filter_map(|(t, c)| c.map(|c| EARLY_WORK_PREFERENCE * periods.start[t] as f64 * v(c)))
        .sum();
    let mut plan = Plan {
        objective: solved.objective_value() - tie_break + offset,
        solve_s,
        columns,
        rows,
        iterations: solved.simplex_iterations(),
        capped_level: input
            .sites
            .iter()
            .map(|s| s.capped.map(|c| c.level))
            .collect(),
        ..Plan::default()
    };
    plan.periods = periods.count();
    let read = Read {
        input,
        cols: &cols,
        periods: &periods,
        class_slots: &class_slots,
    };
    read_work(&mut plan, &read, &v);
    read_inference(&mut plan, &read, &v);
    read_sites(&mut plan, &read, &v);
    let mut warm = WarmStart::default();
    if let (true, Some(keys)) = (keep_basis, keys) {
        // The solved model has exactly as many columns and rows as keys were recorded.
        if let Some(basis) = solved.basis() {
            warm.cols = keys
                .cols
                .into_iter()
                .map(|(k, ..)| k)
                .zip(basis.cols)
                .collect();
            warm.rows = keys
                .rows
                .into_iter()
                .map(|(k, ..)| k)
                .zip(basis.rows)
                .collect();
        }
    }
    Ok((plan, warm))
}

/// The solver's options: its time limit, one thread, and its algorithm (`warm`: a basis to
/// start from).
fn set_options(
    model: &mut Model,
    input: &PlanInput,
    columns: usize,
    warm: bool,
) -> Result<(), PlanError> {
    model
        .set_option("time_limit", input.time_limit_s)
        .map_err(solver_error)?;
    model.set_option("threads", 1).map_err(solver_error)?;
    // Dual simplex is the default for the rolling re-plans; the interior point method is two to
    // three times faster on the large single models (oracle, national scale). The primal
    // simplex is 2 to 9 times faster on these models but finds other optimal vertices, which
    // cost deadlines in the dispatcher (docs/planner.md#solver). A large model with a basis to
    // start from (the last re-plan's: the interior point method ends with a crossover to one)
    // is solved by the dual simplex from it: a re-plan one slot later is a few pivots away.
    let (solver, strategy) = match input.solver {
        LpSolver::Auto if columns > IPM_ABOVE_COLUMNS && !warm => (Some("ipm"), None),
        LpSolver::Auto => (None, None),
        LpSolver::Dual => (Some("simplex"), Some(1)),
        LpSolver::Primal => (Some("simplex"), Some(4)),
        LpSolver::Ipm => (Some("ipm"), None),
        LpSolver::Pdlp => (Some("pdlp"), None),
    };
    if let Some(solver) = solver {
        model.set_option("solver", solver).map_err(solver_error)?;
    }
    if let Some(strategy) = strategy {
        model
            .set_option("simplex_strategy", strategy)
            .map_err(solver_error)?;
    }
    Ok(())
}

/// Start from `start`'s basis: each column and row with a status there keeps it (at a bound it
/// still has), new columns start at their lower bound and new rows basic.
fn set_warm_start(model: &mut Model, start: &WarmStart, keys: &Keys) {
    let cols: Vec<BasisStatus> = keys
        .cols
        .iter()
        .map(|(k, lower, upper)| status_for(start.cols.get(k).copied(), *lower, *upper))
        .collect();
    let rows: Vec<BasisStatus> = keys
        .rows
        .iter()
        .map(|(k, lower, upper)| {
            let status = start.rows.get(k).copied().unwrap_or(BasisStatus::Basic);
            status_for(Some(status), *lower, *upper)
        })
        .collect();
    // One key was recorded per column and row added, so the lengths match. A basis HiGHS
    // refuses leaves the solve cold, which is not an error.
    let _ = model.set_basis(&cols, &rows);
}

/// What the solution is read with: the input, the columns, and how periods map onto slots.
struct Read<'a> {
    input: &'a PlanInput,
    cols: &'a Columns,
    periods: &'a Periods,
    class_slots: &'a [(Range<usize>, f64)],
}

impl Read<'_> {
    /// Class `k`'s work per period on the window's slots: spread over the slots it may use,
    /// in proportion to the share of each (as its parallelism allows it).
    fn class_on_slots(&self, k: usize, per_period: Vec<f64>) -> Vec<f64> {
        if self.periods.uniform() {
            return per_period;
        }
        let (slots, start_fraction) = &self.class_slots[k];
        self.periods.spread(&per_period, |s| {
            if !slots.contains(&s) {
                0.0
            } else if s == slots.start {
                *start_fraction
            } else {
                1.0
            }
        })
    }

    /// A rate per period (kW, tokens/s) on the window's slots.
    fn rate_on_slots(&self, per_period: Vec<f64>) -> Vec<f64> {
        if self.periods.uniform() {
            return per_period;
        }
        self.periods.repeat(&per_period)
    }
}

/// Each class's work per site and slot (in all, and of which capped), and what it leaves
/// unmet or defers.
fn read_work(plan: &mut Plan, read: &Read, v: &impl Fn(Col) -> f64) {
    let (input, cols) = (read.input, read.cols);
    let periods = read.periods.count();
    for k in 0..input.classes.len() {
        let values = |cols: &Vec<Vec<Option<Col>>>| -> Vec<Vec<f64>> {
            cols.iter()
                .map(|cols| {
                    cols.iter()
                        .map(|c| c.map_or(0.0, |c| v(c).max(0.0)))
                        .collect()
                })
                .collect()
        };
        let mut work = values(&cols.work[k]);
        let mut capped = vec![vec![0.0; periods]; work.len()];
        for (pos, _, cols) in &cols.capped[k] {
            for (w, c) in capped[*pos].iter_mut().zip(cols) {
                *w += c.map_or(0.0, |c| v(c).max(0.0));
            }
        }
        for (w, c) in work.iter_mut().zip(&capped) {
            for (w, c) in w.iter_mut().zip(c) {
                *w += c;
            }
        }
        let work: Vec<Vec<f64>> = work
            .into_iter()
            .map(|w| read.class_on_slots(k, w))
            .collect();
        let capped: Vec<Vec<f64>> = capped
            .into_iter()
            .map(|w| read.class_on_slots(k, w))
            .collect();
        let due = input.classes[k].due.min(input.slots);
        let late: f64 = work.iter().flat_map(|w| &w[due..]).sum();
        plan.work.push(work);
        plan.work_capped.push(capped);
        let unmet = v(cols.unmet[k]);
        plan.unmet_work_acc_h.push(unmet);
        plan.late_work_acc_h.push(late);
        plan.deferred_work_acc_h
            .push(cols.deferred[k].map_or(0.0, v));
        let missed = unmet + late;
        if missed > 1e-6 && !input.classes[k].due_after_run {
            plan.relaxed.push(format!(
                "class {k}: {missed:.2} of {:.2} accelerator-hours cannot meet the deadline (capacity or supply binds)",
                input.classes[k].work_acc_h
            ));
        }
    }
}

/// Each region's tokens/s served per site and slot, and unserved.
fn read_inference(plan: &mut Plan, read: &Read, v: &impl Fn(Col) -> f64) {
    let dt = read.input.slot_h;
    for (r, served) in read.cols.inference.iter().enumerate() {
        plan.inference_tps.push(
            served
                .iter()
                .map(|c| read.rate_on_slots(c.iter().map(|c| v(*c)).collect()))
                .collect(),
        );
        let un = read.rate_on_slots(read.cols.unserved[r].iter().map(|c| v(*c)).collect());
        let total: f64 = un.iter().sum::<f64>() * dt * 3600.0;
        if total > 1.0 {
            plan.relaxed.push(format!(
                "inference region {r}: {total:.0} tokens unserved (capacity or supply binds)"
            ));
        }
        plan.unserved_tps.push(un);
    }
}

/// Each site's battery power per slot, and what it draws over its import limit or misses of
/// its green-share floor.
fn read_sites(plan: &mut Plan, read: &Read, v: &impl Fn(Col) -> f64) {
    let (h, slot_h) = (read.periods.count(), read.input.slot_h);
    for (si, cols) in read.cols.sites.iter().enumerate() {
        plan.battery_kw.push(
            read.rate_on_slots(
                (0..h)
                    .map(|t| match (cols.ch[t], cols.dis[t]) {
                        (Some(ch), Some(dis)) => v(ch) - v(dis),
                        _ => 0.0,
                    })
                    .collect(),
            ),
        );
        let over: f64 = if read.periods.uniform() {
            cols.over.iter().map(|c| v(*c)).sum::<f64>() * slot_h
        } else {
            (0..h)
                .map(|t| v(cols.over[t]) * read.periods.len[t] as f64 * slot_h)
                .sum()
        };
        if over > 1e-6 {
            plan.relaxed
                .push(format!("site {si}: {over:.1} kWh over the import limit"));
        }
        plan.over_limit_kwh += over;
        if let Some(short) = cols.short {
            let s = v(short);
            if s > 1e-6 {
                plan.relaxed.push(format!(
                    "site {si}: green share target missed by {s:.1} kWh"
                ));
            }
            plan.green_shortfall_kwh += s;
        }
    }
}
