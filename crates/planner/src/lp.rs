//! The optimisation model (docs/planner.md gives it as equations) and its solution with HiGHS.
//!
//! Built from a [`PlanInput`] that holds only numbers (no jobs, no simulator types), so the same
//! code serves the rolling-horizon policy, the oracle and the benchmarks.

use std::collections::HashMap;
use std::ops::RangeBounds;
use std::time::Instant;
use suandian_highs::{bounds_of, BasisStatus, Col, ModelStatus, Problem, Sense};

/// One site over the planning window. Series are indexed by window slot.
#[derive(Debug, Clone)]
pub struct PlanSite {
    pub accelerators: f64,
    /// Extra power of one busy accelerator at full power, kW.
    pub dyn_kw_per_acc: f64,
    pub idle_it_kw: f64,
    /// Grid import limit per window slot, kW: the connection's, lowered by demand-response
    /// caps (OpenADR IMPORT_CAPACITY_LIMIT events) known when the plan is made.
    pub import_limit_kw: Vec<f64>,
    /// Penalty per kWh above the import limit per window slot (a demand-response event's where
    /// it sets one); empty: [`PlanInput::over_limit_per_kwh`] in every slot.
    pub over_limit_per_kwh: Vec<f64>,
    /// Where the carbon price applies to market-based emissions and the site holds
    /// certificates: import carries no carbon up to the certificates, the rest the residual
    /// mix. `None`: each slot's grid intensity (location-based, or market-based without
    /// certificates, which is the same).
    pub market_carbon: Option<MarketCarbon>,
    pub export_limit_kw: f64,
    /// Per window slot.
    pub feed_in_per_mwh: Vec<f64>,
    pub battery: Option<PlanBattery>,
    pub thermal: Option<(f64, f64, f64)>, // (capacity kW, cost per kWh, g CO2 per kWh)
    pub pue: Vec<f64>,
    pub price_per_mwh: Vec<f64>,
    pub carbon_g_per_kwh: Vec<f64>,
    pub green_kw: Vec<f64>,
    /// Accelerators held by work the plan cannot move (non-interruptible jobs already running).
    pub fixed_acc: Vec<f64>,
    /// A power level below full that does more work per kWh (a sub-linear throughput curve);
    /// `None` where full power is as efficient (speed proportional to power).
    pub capped: Option<CappedLevel>,
    /// More points of the energy-per-work curve for a bound ([`PlanInput::bound`]): the corners
    /// of the tangent envelope under the curve (see `classes::tangent_levels`), which are not
    /// power levels a job can run at but make every admissible level a mix of columns that
    /// uses no more energy than the level itself. Empty for plans that are dispatched.
    pub bound_levels: Vec<CappedLevel>,
}

/// Accelerators at power level `level` (fraction of full power) work at `speed` (fraction of
/// full speed): a unit of work takes `1 / speed` accelerator-hours and `level / speed` of the
/// energy at full power.
#[derive(Debug, Clone, Copy)]
pub struct CappedLevel {
    pub level: f64,
    pub speed: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct PlanBattery {
    pub power_kw: f64,
    pub min_kwh: f64,
    pub max_kwh: f64,
    pub one_way_efficiency: f64,
    pub soc0_kwh: f64,
    /// Wear per kWh delivered (currency): charged on discharge in the cost objectives.
    pub wear_cost_per_kwh: f64,
    /// What a kWh left stored at the window's end is worth after it, in objective units
    /// (rolling plans: from the forecasts beyond the window; 0 in a plan of the whole run, where
    /// energy left at the end serves nothing).
    pub end_value_per_kwh: f64,
}

/// A workload class: jobs with the same eligible sites and time window, planned as one fluid.
#[derive(Debug, Clone)]
pub struct WorkClass {
    /// The class's identity from one re-plan to the next (for warm starts): the same jobs'
    /// class keeps its id while its sites and deadline stay.
    pub id: u64,
    /// Eligible sites (indices into [`PlanInput::sites`]).
    pub sites: Vec<usize>,
    /// Accelerator-hours (at full speed) to do.
    pub work_acc_h: f64,
    /// First window slot the work may run in, and the share of that slot available.
    pub start: usize,
    pub start_fraction: f64,
    /// Work counts only in window slots `< due` (the deadline); `due` may exceed the window.
    pub due: usize,
    /// Accelerators of all the class's jobs together: the most it can use at once.
    pub max_acc: f64,
    /// Cost per accelerator-hour of work left for after the window (rolling horizon), when the
    /// deadline lies beyond the window; `None` in the oracle (nothing after the run).
    pub defer_cost_per_acc_h: Option<f64>,
    /// Work not done is due only after the end of the run: charged `deferred_per_acc_h`
    /// rather than the late penalty.
    pub due_after_run: bool,
    /// Jobs that have run and may migrate: the site they are at, and what running elsewhere
    /// costs. `None` for jobs that may start anywhere.
    pub home: Option<Home>,
    /// The class's jobs running now, per site: pausing them in the window's first slot costs
    /// their restart later (rolling plans; empty in a bound, which needs no such cost).
    pub running: Vec<Running>,
}

/// A class's jobs running at one of its sites when the plan is made.
#[derive(Debug, Clone, Copy)]
pub struct Running {
    /// The site's position in the class's `sites`.
    pub pos: usize,
    /// Accelerator-hours they would hold in the first slot.
    pub acc_h: f64,
    /// What pausing one of those accelerator-hours costs (currency): the restart it will need
    /// (`restart_h / slot_h` accelerator-hours) at the site's mean cost of an accelerator-hour.
    pub stop_cost_per_acc_h: f64,
}

/// Where a class of started, migratable jobs is, and the price of moving it.
#[derive(Debug, Clone, Copy)]
pub struct Home {
    /// The site the jobs are at (an index into [`PlanInput::sites`]).
    pub site: usize,
    /// Moving their data, per accelerator-hour of their remaining work (currency).
    pub move_cost_per_acc_h: f64,
    /// Window slots before work can start elsewhere (the move takes them).
    pub move_slots: usize,
}

/// Inference demand of one region over the window.
#[derive(Debug, Clone)]
pub struct InferenceClass {
    pub tokens_per_s: Vec<f64>,
    /// (site, joules per token).
    pub sites: Vec<(usize, f64)>,
}

/// Market-based Scope 2 carbon of one site over the window: `residual x max(0, import -
/// certificates)`, convex and piecewise linear, so the LP prices it exactly with one column
/// (`u >= import - certificates`, `u >= 0`, at the residual mix).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MarketCarbon {
    /// Certificates available to the window, kWh.
    pub certificates_kwh: f64,
    pub residual_g_per_kwh: f64,
}

/// What the objective weighs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectiveMode {
    /// Energy cost + carbon price x emissions + penalties.
    #[default]
    Balanced,
    /// Emissions only (kg), with penalties in kg-equivalents.
    Carbon,
    /// Energy cost only.
    Cost,
}

/// Which HiGHS algorithm solves the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LpSolver {
    /// The dual simplex, or the interior point method above [`IPM_ABOVE_COLUMNS`] columns.
    #[default]
    Auto,
    /// HiGHS' dual simplex.
    Dual,
    /// HiGHS' primal simplex: faster on these models, other optimal vertices.
    Primal,
    /// The interior point method (with crossover).
    Ipm,
    /// The first-order PDLP method (approximate).
    Pdlp,
}

impl LpSolver {
    /// Every solver by name, for command lines and files.
    pub const NAMES: [(&'static str, LpSolver); 5] = [
        ("auto", LpSolver::Auto),
        ("dual", LpSolver::Dual),
        ("primal", LpSolver::Primal),
        ("ipm", LpSolver::Ipm),
        ("pdlp", LpSolver::Pdlp),
    ];

    /// The solver of that name (see [`LpSolver::NAMES`]).
    pub fn by_name(name: &str) -> Option<LpSolver> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| *s)
    }
}

#[derive(Debug, Clone)]
pub struct PlanInput {
    pub slot_h: f64,
    /// The run's slot at which the window starts (0 for a plan of the whole run).
    pub first_slot: usize,
    pub slots: usize,
    pub sites: Vec<PlanSite>,
    pub classes: Vec<WorkClass>,
    pub inference: Vec<InferenceClass>,
    pub carbon_price_per_t: f64,
    pub late_per_acc_h: f64,
    pub deferred_per_acc_h: f64,
    pub unserved_per_million_tokens: f64,
    pub over_limit_per_kwh: f64,
    pub mode: ObjectiveMode,
    /// Keep each battery's final state of charge at least its initial one (rolling horizon).
    pub keep_final_soc: bool,
    /// The plan is a bound (the oracle): the model relaxes what the simulator can do rather
    /// than restrict it (capped work up to the deadline, [`PlanSite::bound_levels`]).
    pub bound: bool,
    /// Minimum green share of facility energy per site (0 for none), enforced softly.
    pub min_green_share: f64,
    pub time_limit_s: f64,
    pub solver: LpSolver,
}

/// The solved plan.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub objective: f64,
    /// Accelerator-hours per class, per eligible site (same order as the class's `sites`), per slot.
    pub work: Vec<Vec<Vec<f64>>>,
    /// Of which done at the site's capped power level ([`PlanSite::capped`]), in work done (at
    /// full speed, accelerator-hours); zero where the site has none.
    pub work_capped: Vec<Vec<Vec<f64>>>,
    /// Each site's capped power level, where it has one.
    pub capped_level: Vec<Option<f64>>,
    pub unmet_work_acc_h: Vec<f64>,
    pub deferred_work_acc_h: Vec<f64>,
    /// Battery power per site and slot, kW: positive charges.
    pub battery_kw: Vec<Vec<f64>>,
    /// Tokens/s per region, per eligible site (same order), per slot.
    pub inference_tps: Vec<Vec<Vec<f64>>>,
    pub unserved_tps: Vec<Vec<f64>>,
    pub over_limit_kwh: f64,
    pub green_shortfall_kwh: f64,
    /// Which soft constraints bound, and by how much, in words.
    pub relaxed: Vec<String>,
    pub solve_s: f64,
    pub columns: usize,
    pub rows: usize,
    /// Simplex iterations the solve took (0 for the interior point method without crossover).
    pub iterations: i64,
}

impl Plan {
    /// What the dispatcher needs at window slot `t`, per class and eligible site (`sites`, the
    /// classes' eligible sites): the work to do (accelerator-hours at full speed; 0 past the
    /// window), and the power level to start jobs at: the site's capped level where the plan
    /// does most of that work capped, else full power.
    pub fn slot_targets(&self, t: usize, sites: &[Vec<usize>]) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let mut work = Vec::with_capacity(self.work.len());
        let mut level = Vec::with_capacity(self.work.len());
        for (k, per_site) in self.work.iter().enumerate() {
            work.push(
                per_site
                    .iter()
                    .map(|w| w.get(t).copied().unwrap_or(0.0))
                    .collect(),
            );
            level.push(
                per_site
                    .iter()
                    .enumerate()
                    .map(|(pos, w)| {
                        let total = w.get(t).copied().unwrap_or(0.0);
                        let capped = self
                            .work_capped
                            .get(k)
                            .and_then(|c| c.get(pos)?.get(t).copied())
                            .unwrap_or(0.0);
                        let site_level = sites
                            .get(k)
                            .and_then(|s| s.get(pos))
                            .and_then(|&s| self.capped_level.get(s).copied().flatten());
                        match site_level {
                            Some(l) if capped > 0.5 * total && total > 0.0 => l,
                            _ => 1.0,
                        }
                    })
                    .collect(),
            );
        }
        (work, level)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum PlanError {
    Solver(String),
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanError::Solver(m) => write!(f, "the LP solver failed: {m}"),
        }
    }
}

/// Cost of one kWh drawn from the grid (or a source with emission factor `g`) under the mode.
pub(crate) fn energy_weight(
    mode: ObjectiveMode,
    price_per_kwh: f64,
    g_per_kwh: f64,
    carbon_price_per_t: f64,
) -> f64 {
    match mode {
        ObjectiveMode::Balanced => price_per_kwh + carbon_price_per_t * g_per_kwh / 1e6,
        ObjectiveMode::Carbon => g_per_kwh / 1000.0,
        ObjectiveMode::Cost => price_per_kwh,
    }
}

/// The grid's cost in a slot where a kWh exported earns more than a kWh imported costs
/// (`feed_in > import`, both per kWh in objective units): `(slope, constant)` of a line to price
/// import and export with, or `None` where the two prices are convex and exact as they are.
///
/// The simulator never imports and exports in the same slot: its grid cost is
/// `phi(n) = import x n` for a net import `n >= 0` and `feed_in x n` for `n < 0`, which is
/// concave when `feed_in > import` and has no exact LP form (an LP with both columns would buy
/// power to re-export it, a bound with no meaning). Its best convex under-estimator over the
/// net imports the site can have in the slot, `[n_lo, n_hi]`, is the chord between the two
/// ends: the most it can export (`n_lo`, surplus green and battery power over the least load,
/// within the export limit) and the most it can import (`n_hi`, the whole fleet busy at full
/// power while the battery charges). Priced by the chord, import and export cancel, so
/// re-exporting earns nothing, and the plan's optimum is still never above what the
/// simulator can achieve (the chord is never above `phi` in that range).
fn grid_chord(s: &PlanSite, t: usize, import: f64, feed_in: f64) -> Option<(f64, f64)> {
    if feed_in <= import || s.export_limit_kw <= 0.0 {
        return None;
    }
    let battery_kw = s.battery.map_or(0.0, |b| b.power_kw);
    let least_load_kw = s.pue[t] * s.idle_it_kw;
    let n_lo = -s
        .export_limit_kw
        .min((s.green_kw[t].max(0.0) + battery_kw - least_load_kw).max(0.0));
    let n_hi = s.pue[t] * (s.idle_it_kw + s.accelerators * s.dyn_kw_per_acc) + battery_kw;
    if n_hi - n_lo < 1e-9 {
        return None;
    }
    let slope = (import * n_hi - feed_in * n_lo) / (n_hi - n_lo);
    Some((slope, (feed_in - slope) * n_lo))
}

/// Penalty per kWh by which a site misses the soft green-share floor (`--min-green-share`), in
/// the scenario's currency: a preference, not a limit (it was the over-limit penalty, 1, before
/// that became a scenario value that ranks a breach above lateness).
pub const GREEN_SHORTFALL_PER_KWH: f64 = 1.0;

/// A class's columns at one level below full power: the position of the site in the class's
/// sites, the level, and one column per window slot where work may run.
type CappedCols = (usize, CappedLevel, Vec<Option<Col>>);

/// Slots before a class's deadline in which the plan does no capped work (the dispatcher's
/// hysteresis: six slots and the urgency lead).
pub const CAPPED_MARGIN_SLOTS: usize = 7;

/// Models with more columns than this are solved with the interior point method.
pub const IPM_ABOVE_COLUMNS: usize = 50_000;

/// What a column stands for, with its run slot: the same quantity keeps its key from one
/// re-plan to the next, so that one plan's basis can warm-start the next solve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ColKey {
    Work {
        class: u64,
        site: usize,
        slot: usize,
    },
    WorkCapped {
        class: u64,
        site: usize,
        /// Which of the site's levels below full power ([`PlanSite::capped`], then
        /// [`PlanSite::bound_levels`]).
        level: usize,
        slot: usize,
    },
    Unmet(u64),
    Deferred(u64),
    Inference {
        region: usize,
        site: usize,
        slot: usize,
    },
    Unserved {
        region: usize,
        slot: usize,
    },
    Flow {
        site: usize,
        flow: Flow,
        slot: usize,
    },
    GreenShortfall(usize),
    /// Import above the certificates (market-based carbon).
    UncoveredImport(usize),
    /// Running work paused in the first slot.
    Stopped {
        class: u64,
        site: usize,
        slot: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Flow {
    Import,
    OverLimit,
    Export,
    Green,
    Thermal,
    Charge,
    Discharge,
    Soc,
}

/// What a row stands for, with its run slot (as [`ColKey`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum RowKey {
    Work(u64),
    Parallelism {
        class: u64,
        slot: usize,
    },
    Demand {
        region: usize,
        slot: usize,
    },
    Capacity {
        site: usize,
        slot: usize,
    },
    Balance {
        site: usize,
        slot: usize,
    },
    ExportSource {
        site: usize,
        slot: usize,
    },
    Soc {
        site: usize,
        slot: usize,
    },
    FinalSoc(usize),
    GreenShare(usize),
    Certificates(usize),
    Stopped {
        class: u64,
        site: usize,
        slot: usize,
    },
}

/// A solved plan's simplex basis by what each column and row stands for: passed to the next
/// re-plan's [`solve_from`], it is the starting basis of the quantities both windows have
/// (new columns start at their lower bound, new rows basic; HiGHS repairs what is singular).
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

/// The HiGHS problem being built, with the key and bounds of every column and row where a
/// warm start is wanted.
struct Builder {
    pb: Problem,
    keys: Option<Keys>,
}

/// Each column's and row's key with its bounds, in the order they were added.
#[derive(Default)]
struct Keys {
    cols: Vec<(ColKey, f64, f64)>,
    rows: Vec<(RowKey, f64, f64)>,
}

impl Builder {
    fn add_column<B: RangeBounds<f64>>(&mut self, key: ColKey, cost: f64, bounds: B) -> Col {
        if let Some(keys) = &mut self.keys {
            let (lower, upper) = bounds_of(&bounds);
            keys.cols.push((key, lower, upper));
        }
        self.pb.add_column(cost, bounds)
    }

    fn add_row<B: RangeBounds<f64>>(&mut self, key: RowKey, bounds: B, row: &[(Col, f64)]) {
        if let Some(keys) = &mut self.keys {
            let (lower, upper) = bounds_of(&bounds);
            keys.rows.push((key, lower, upper));
        }
        self.pb.add_row(bounds, row);
    }
}

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
    let h = input.slots;
    let dt = input.slot_h;
    let n_sites = input.sites.len();
    let mut pb = Builder {
        pb: Problem::default(),
        keys: (keep_basis || start.is_some()).then(Keys::default),
    };
    let at = |t: usize| input.first_slot + t;
    // Penalties in objective units: in Carbon mode a currency-valued penalty is converted
    // at the carbon price (or 1 kg per unit when there is none).
    let to_obj = |currency: f64| match input.mode {
        ObjectiveMode::Carbon => currency / (input.carbon_price_per_t / 1000.0).max(1e-3),
        _ => currency,
    };
    let late = to_obj(input.late_per_acc_h);
    let deferred_after_run = to_obj(input.deferred_per_acc_h);
    let over = to_obj(input.over_limit_per_kwh);
    let unserved_per_token_slot = to_obj(input.unserved_per_million_tokens) / 1e6 * dt * 3600.0;
    // A tiny preference for earlier work, so that equal-cost plans start work sooner.
    let eps = 1e-7;
    // The constant part of the objective (the grid chords' intercepts, see `grid_chord`).
    let mut offset = 0.0;

    // Work columns.
    let mut work_cols = Vec::with_capacity(input.classes.len());
    let mut capped_cols = Vec::with_capacity(input.classes.len());
    let mut unmet_cols = Vec::with_capacity(input.classes.len());
    let mut defer_cols = Vec::with_capacity(input.classes.len());
    for c in &input.classes {
        let mut per_site = Vec::with_capacity(c.sites.len());
        // (position in the class's sites, level, columns per slot)
        let mut capped_per_class: Vec<CappedCols> = Vec::new();
        for &site in &c.sites {
            // Work away from a started job's site starts once its data has moved, and pays
            // for moving it.
            let (first, move_cost) = match c.home {
                Some(home) if home.site != site => (
                    c.start.max(home.move_slots),
                    to_obj(home.move_cost_per_acc_h),
                ),
                _ => (c.start, 0.0),
            };
            // One column per slot in `first..due`, keyed by `key`.
            let mut columns = |due: usize, key: fn(u64, usize, usize) -> ColKey| -> Vec<_> {
                (0..h)
                    .map(|t| {
                        (t >= first && t < due).then(|| {
                            let key = key(c.id, site, at(t));
                            pb.add_column(key, move_cost + eps * t as f64, 0.0..)
                        })
                    })
                    .collect()
            };
            per_site.push(columns(c.due.min(h), |class, site, slot| ColKey::Work {
                class,
                site,
                slot,
            }));
            // The dispatcher caps a job only with slack to spare at the slower pace (its
            // hysteresis): no capped work in the last slots before the deadline. A bound has
            // no such margin: the simulator admits capped work up to the deadline.
            let capped_due = if input.bound {
                c.due.min(h)
            } else {
                c.due.saturating_sub(CAPPED_MARGIN_SLOTS).min(h)
            };
            let s = &input.sites[site];
            for (level, &cl) in s.capped.iter().chain(&s.bound_levels).enumerate() {
                let cols = (0..h)
                    .map(|t| {
                        (t >= first && t < capped_due).then(|| {
                            let key = ColKey::WorkCapped {
                                class: c.id,
                                site,
                                level,
                                slot: at(t),
                            };
                            pb.add_column(key, move_cost + eps * t as f64, 0.0..)
                        })
                    })
                    .collect();
                capped_per_class.push((per_site.len() - 1, cl, cols));
            }
        }
        work_cols.push(per_site);
        capped_cols.push(capped_per_class);
        unmet_cols.push(pb.add_column(
            ColKey::Unmet(c.id),
            if c.due_after_run {
                deferred_after_run
            } else {
                late
            },
            0.0..,
        ));
        defer_cols.push(match c.defer_cost_per_acc_h {
            Some(cost) if c.due > h => {
                // At most what fits after the window, and never more than a pro-rata share of
                // the time to the deadline: the window keeps pace with a uniform schedule, so
                // re-planning cannot put work off again and again while new work arrives.
                let room = (c.max_acc * (c.due - h) as f64 * dt)
                    .min(c.work_acc_h * (1.0 - h as f64 / c.due as f64));
                Some(pb.add_column(ColKey::Deferred(c.id), to_obj(cost), 0.0..=room))
            }
            _ => None,
        });
    }
    // Inference columns.
    let mut inf_cols = Vec::new();
    let mut unserved_cols = Vec::new();
    for (region, r) in input.inference.iter().enumerate() {
        inf_cols.push(
            r.sites
                .iter()
                .map(|&(site, _)| {
                    (0..h)
                        .map(|t| {
                            let key = ColKey::Inference {
                                region,
                                site,
                                slot: at(t),
                            };
                            pb.add_column(key, 0.0, 0.0..)
                        })
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>(),
        );
        unserved_cols.push(
            (0..h)
                .map(|t| {
                    let key = ColKey::Unserved {
                        region,
                        slot: at(t),
                    };
                    pb.add_column(key, unserved_per_token_slot, 0.0..)
                })
                .collect::<Vec<_>>(),
        );
    }
    // Energy columns per site and slot.
    struct SiteCols {
        imp: Vec<Col>,
        over: Vec<Col>,
        exp: Vec<Col>,
        green: Vec<Col>,
        th: Vec<Option<Col>>,
        ch: Vec<Option<Col>>,
        dis: Vec<Option<Col>>,
        soc: Vec<Option<Col>>,
        short: Option<Col>,
        uncovered: Option<Col>,
    }
    let mut sc = Vec::with_capacity(n_sites);
    for (site, s) in input.sites.iter().enumerate() {
        let mut cols = SiteCols {
            imp: vec![],
            over: vec![],
            exp: vec![],
            green: vec![],
            th: vec![],
            ch: vec![],
            dis: vec![],
            soc: vec![],
            short: None,
            uncovered: None,
        };
        // Market-based carbon is priced by the uncovered-import column, not per slot.
        let market = match input.mode {
            ObjectiveMode::Balanced => s.market_carbon,
            _ => None,
        };
        for t in 0..h {
            let key = |flow| ColKey::Flow {
                site,
                flow,
                slot: at(t),
            };
            let w = energy_weight(
                input.mode,
                s.price_per_mwh[t] / 1000.0,
                if market.is_some() {
                    0.0
                } else {
                    s.carbon_g_per_kwh[t]
                },
                input.carbon_price_per_t,
            );
            let feed_in = match input.mode {
                ObjectiveMode::Carbon => 0.0,
                _ => s.feed_in_per_mwh[t] / 1000.0,
            };
            let (w, feed_in) = match grid_chord(s, t, w, feed_in) {
                Some((slope, constant)) => {
                    offset += constant * dt;
                    (slope, slope)
                }
                None => (w, feed_in),
            };
            cols.imp
                .push(pb.add_column(key(Flow::Import), w * dt, 0.0..=s.import_limit_kw[t]));
            let over = s.over_limit_per_kwh.get(t).map_or(over, |p| to_obj(*p));
            cols.over
                .push(pb.add_column(key(Flow::OverLimit), (w + over) * dt, 0.0..));
            cols.exp
                .push(pb.add_column(key(Flow::Export), -feed_in * dt, 0.0..=s.export_limit_kw));
            cols.green
                .push(pb.add_column(key(Flow::Green), 0.0, 0.0..=s.green_kw[t].max(0.0)));
            cols.th.push(s.thermal.map(|(cap, cost, g)| {
                let w = energy_weight(input.mode, cost, g, input.carbon_price_per_t);
                pb.add_column(key(Flow::Thermal), w * dt, 0.0..=cap)
            }));
            match &s.battery {
                Some(b) => {
                    cols.ch.push(Some(pb.add_column(
                        key(Flow::Charge),
                        0.0,
                        0.0..=b.power_kw,
                    )));
                    // Wear is part of the energy cost (the carbon objective has none).
                    let wear = match input.mode {
                        ObjectiveMode::Carbon => 0.0,
                        _ => b.wear_cost_per_kwh,
                    };
                    cols.dis.push(Some(pb.add_column(
                        key(Flow::Discharge),
                        wear * dt,
                        0.0..=b.power_kw,
                    )));
                    // Energy left at the window's end is worth what it will save after it.
                    let value = if t + 1 == h {
                        -b.end_value_per_kwh
                    } else {
                        0.0
                    };
                    cols.soc.push(Some(pb.add_column(
                        key(Flow::Soc),
                        value,
                        b.min_kwh..=b.max_kwh,
                    )));
                }
                None => {
                    cols.ch.push(None);
                    cols.dis.push(None);
                    cols.soc.push(None);
                }
            }
        }
        if let Some(m) = market {
            cols.uncovered = Some(pb.add_column(
                ColKey::UncoveredImport(site),
                input.carbon_price_per_t * m.residual_g_per_kwh / 1e6,
                0.0..,
            ));
        }
        if input.min_green_share > 0.0 {
            cols.short = Some(pb.add_column(
                ColKey::GreenShortfall(site),
                to_obj(GREEN_SHORTFALL_PER_KWH),
                0.0..,
            ));
        }
        sc.push(cols);
    }

    // Rows. Class work: done + unmet + deferred = work.
    for (k, c) in input.classes.iter().enumerate() {
        let mut row: Vec<(Col, f64)> = Vec::new();
        let capped = capped_cols[k].iter().map(|(_, _, cols)| cols);
        for cols in work_cols[k].iter().chain(capped) {
            row.extend(cols.iter().flatten().map(|c| (*c, 1.0)));
        }
        row.push((unmet_cols[k], 1.0));
        if let Some(d) = defer_cols[k] {
            row.push((d, 1.0));
        }
        pb.add_row(RowKey::Work(c.id), c.work_acc_h..=c.work_acc_h, &row);
        // Running work kept in the first slot, or paused at the price of its restart:
        // capacity used at the site in slot 0 + stopped >= running.
        for r in &c.running {
            let site = c.sites[r.pos];
            let key = ColKey::Stopped {
                class: c.id,
                site,
                slot: at(0),
            };
            let stop = pb.add_column(key, to_obj(r.stop_cost_per_acc_h), 0.0..=r.acc_h);
            let mut row = vec![(stop, 1.0)];
            row.extend(work_cols[k][r.pos][0].map(|c| (c, 1.0)));
            row.extend(
                capped_cols[k]
                    .iter()
                    .filter(|(p, ..)| *p == r.pos)
                    .filter_map(|(_, cl, cols)| cols[0].map(|c| (c, 1.0 / cl.speed))),
            );
            let key = RowKey::Stopped {
                class: c.id,
                site,
                slot: at(0),
            };
            pb.add_row(key, r.acc_h.., &row);
        }
        // Parallelism: the class cannot use more accelerators than its jobs have.
        for t in c.start..c.due.min(h) {
            let frac = if t == c.start { c.start_fraction } else { 1.0 };
            // Capped work takes 1 / speed accelerator-hours per unit.
            let row: Vec<_> = work_cols[k]
                .iter()
                .filter_map(|cols| cols[t])
                .map(|c| (c, 1.0))
                .chain(
                    capped_cols[k]
                        .iter()
                        .filter_map(|(_, cl, cols)| cols[t].map(|c| (c, 1.0 / cl.speed))),
                )
                .collect();
            let key = RowKey::Parallelism {
                class: c.id,
                slot: at(t),
            };
            pb.add_row(key, ..=c.max_acc * frac * dt, &row);
        }
    }
    // Inference demand: served + unserved = demand.
    for (r, d) in input.inference.iter().enumerate() {
        for t in 0..h {
            let mut row: Vec<_> = inf_cols[r].iter().map(|cols| (cols[t], 1.0)).collect();
            row.push((unserved_cols[r][t], 1.0));
            let key = RowKey::Demand {
                region: r,
                slot: at(t),
            };
            pb.add_row(key, d.tokens_per_s[t]..=d.tokens_per_s[t], &row);
        }
    }
    // Per site and slot: capacity, energy balance, battery.
    for (si, s) in input.sites.iter().enumerate() {
        let cols = &sc[si];
        let mut green_share_row: Vec<(Col, f64)> = Vec::new();
        let mut green_share_rhs = 0.0;
        for t in 0..h {
            let mut cap_row: Vec<(Col, f64)> = Vec::new();
            let mut bal_row: Vec<(Col, f64)> = Vec::new();
            let pue = s.pue[t];
            for (k, c) in input.classes.iter().enumerate() {
                for (j, &site) in c.sites.iter().enumerate() {
                    if site == si {
                        if let Some(col) = work_cols[k][j][t] {
                            cap_row.push((col, 1.0));
                            bal_row.push((col, pue * s.dyn_kw_per_acc / dt));
                        }
                        for (_, cl, cols) in capped_cols[k].iter().filter(|(p, ..)| *p == j) {
                            if let Some(col) = cols[t] {
                                cap_row.push((col, 1.0 / cl.speed));
                                bal_row
                                    .push((col, pue * s.dyn_kw_per_acc * cl.level / cl.speed / dt));
                            }
                        }
                    }
                }
            }
            for (r, d) in input.inference.iter().enumerate() {
                for (j, &(site, jpt)) in d.sites.iter().enumerate() {
                    if site == si {
                        let col = inf_cols[r][j][t];
                        cap_row.push((col, jpt / (s.dyn_kw_per_acc * 1000.0) * dt));
                        bal_row.push((col, pue * jpt / 1000.0));
                    }
                }
            }
            let free = ((s.accelerators - s.fixed_acc[t]) * dt).max(0.0);
            if !cap_row.is_empty() {
                let key = RowKey::Capacity {
                    site: si,
                    slot: at(t),
                };
                pb.add_row(key, ..=free, &cap_row);
            }
            // facility + charge + export = green + discharge + import + over + thermal
            let fixed_kw = pue * (s.idle_it_kw + s.fixed_acc[t] * s.dyn_kw_per_acc);
            let load_terms = bal_row.clone();
            bal_row.push((cols.exp[t], 1.0));
            bal_row.push((cols.green[t], -1.0));
            bal_row.push((cols.imp[t], -1.0));
            bal_row.push((cols.over[t], -1.0));
            if let Some(th) = cols.th[t] {
                bal_row.push((th, -1.0));
            }
            if let (Some(ch), Some(dis)) = (cols.ch[t], cols.dis[t]) {
                bal_row.push((ch, 1.0));
                bal_row.push((dis, -1.0));
            }
            let key = RowKey::Balance {
                site: si,
                slot: at(t),
            };
            pb.add_row(key, -fixed_kw..=-fixed_kw, &bal_row);
            if let (Some(_), true) = (cols.th[t], s.export_limit_kw > 0.0) {
                // The simulator exports only surplus green and battery power, never thermal:
                // export <= green + discharge.
                let mut row = vec![(cols.exp[t], 1.0), (cols.green[t], -1.0)];
                if let Some(dis) = cols.dis[t] {
                    row.push((dis, -1.0));
                }
                let key = RowKey::ExportSource {
                    site: si,
                    slot: at(t),
                };
                pb.add_row(key, ..=0.0, &row);
            }
            if let (Some(b), Some(soc), Some(ch), Some(dis)) =
                (&s.battery, cols.soc[t], cols.ch[t], cols.dis[t])
            {
                // soc[t] - soc[t-1] - eta dt ch + dt/eta dis = 0 (soc[-1] = soc0)
                let eta = b.one_way_efficiency;
                let mut row = vec![(soc, 1.0), (ch, -eta * dt), (dis, dt / eta)];
                let rhs = if t == 0 {
                    b.soc0_kwh
                } else {
                    row.push((cols.soc[t - 1].expect("battery column"), -1.0));
                    0.0
                };
                let key = RowKey::Soc {
                    site: si,
                    slot: at(t),
                };
                pb.add_row(key, rhs..=rhs, &row);
                if t + 1 == h && input.keep_final_soc {
                    pb.add_row(
                        RowKey::FinalSoc(si),
                        b.soc0_kwh.clamp(b.min_kwh, b.max_kwh)..=f64::INFINITY,
                        &[(soc, 1.0)],
                    );
                }
            }
            if input.min_green_share > 0.0 {
                // green used >= share x facility, summed over the window (soft). Green used:
                // green not exported, with what the battery stores counted when it serves the
                // load (as the accounting does), so storing surplus green is not penalised;
                // this counts a battery charged from the grid as green too (an approximation).
                green_share_row.push((cols.green[t], dt));
                green_share_row.push((cols.exp[t], -dt));
                if let (Some(ch), Some(dis)) = (cols.ch[t], cols.dis[t]) {
                    green_share_row.push((ch, -dt));
                    green_share_row.push((dis, dt));
                }
                for (col, coef) in &load_terms {
                    green_share_row.push((*col, -input.min_green_share * coef * dt));
                }
                green_share_rhs += input.min_green_share * fixed_kw * dt;
            }
        }
        if let (Some(u), Some(m)) = (cols.uncovered, s.market_carbon) {
            // import - uncovered <= certificates, over the window
            let mut row: Vec<(Col, f64)> = Vec::with_capacity(2 * h + 1);
            for t in 0..h {
                row.push((cols.imp[t], dt));
                row.push((cols.over[t], dt));
            }
            row.push((u, -1.0));
            pb.add_row(RowKey::Certificates(si), ..=m.certificates_kwh, &row);
        }
        if let Some(short) = cols.short {
            green_share_row.push((short, 1.0));
            pb.add_row(RowKey::GreenShare(si), green_share_rhs.., &green_share_row);
        }
    }

    let columns = pb.pb.num_cols();
    let rows = pb.pb.num_rows();
    let keys = pb.keys.take();
    let started = Instant::now();
    let solver_error = |e: suandian_highs::Error| PlanError::Solver(e.to_string());
    let mut model = pb.pb.optimise(Sense::Minimise).map_err(solver_error)?;
    model
        .set_option("time_limit", input.time_limit_s)
        .map_err(solver_error)?;
    model.set_option("threads", 1).map_err(solver_error)?;
    // Dual simplex is the default for the rolling re-plans; the interior point method is two to
    // three times faster on the large single models (oracle, national scale). The primal
    // simplex is 2 to 9 times faster on these models but finds other optimal vertices, which
    // cost deadlines in the dispatcher (docs/planner.md#solver).
    let (solver, strategy) = match input.solver {
        LpSolver::Auto if columns > IPM_ABOVE_COLUMNS => (Some("ipm"), None),
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
    if let (Some(start), Some(keys)) = (start, &keys) {
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
    let tie_break: f64 = work_cols
        .iter()
        .flatten()
        .chain(capped_cols.iter().flatten().map(|(_, _, cols)| cols))
        .flat_map(|cols| cols.iter().enumerate())
        .filter_map(|(t, c)| c.map(|c| eps * t as f64 * v(c)))
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
        let mut work = values(&work_cols[k]);
        let mut capped = vec![vec![0.0; h]; work.len()];
        for (pos, _, cols) in &capped_cols[k] {
            for (w, c) in capped[*pos].iter_mut().zip(cols) {
                *w += c.map_or(0.0, |c| v(c).max(0.0));
            }
        }
        for (w, c) in work.iter_mut().zip(&capped) {
            for (w, c) in w.iter_mut().zip(c) {
                *w += c;
            }
        }
        plan.work.push(work);
        plan.work_capped.push(capped);
        let unmet = v(unmet_cols[k]);
        plan.unmet_work_acc_h.push(unmet);
        plan.deferred_work_acc_h.push(defer_cols[k].map_or(0.0, &v));
        if unmet > 1e-6 && !input.classes[k].due_after_run {
            plan.relaxed.push(format!(
                "class {k}: {unmet:.2} of {:.2} accelerator-hours cannot meet the deadline (capacity or supply binds)",
                input.classes[k].work_acc_h
            ));
        }
    }
    for (r, cols) in inf_cols.iter().enumerate() {
        plan.inference_tps.push(
            cols.iter()
                .map(|c| c.iter().map(|c| v(*c)).collect())
                .collect(),
        );
        let un: Vec<f64> = unserved_cols[r].iter().map(|c| v(*c)).collect();
        let total: f64 = un.iter().sum::<f64>() * dt * 3600.0;
        if total > 1.0 {
            plan.relaxed.push(format!(
                "inference region {r}: {total:.0} tokens unserved (capacity or supply binds)"
            ));
        }
        plan.unserved_tps.push(un);
    }
    for (si, cols) in sc.iter().enumerate() {
        plan.battery_kw.push(
            (0..h)
                .map(|t| match (cols.ch[t], cols.dis[t]) {
                    (Some(ch), Some(dis)) => v(ch) - v(dis),
                    _ => 0.0,
                })
                .collect(),
        );
        let over: f64 = cols.over.iter().map(|c| v(*c)).sum::<f64>() * dt;
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
