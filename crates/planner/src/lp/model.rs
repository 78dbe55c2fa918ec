//! The plan's input and output: numbers only (no jobs, no simulator types, no solver types), so
//! the same model serves the rolling-horizon policy, the oracle and the benchmarks.

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
    /// The most accelerator-hours its jobs can spend restarting (a bound's: each resume of an
    /// interruptible job runs `restart_h` at full power with no progress, load that pays where
    /// energy does); 0 for a rolling plan.
    pub restart_acc_h: f64,
}

/// A class's jobs running at one of its sites when the plan is made.
#[derive(Debug, Clone)]
pub struct Running {
    /// The site's position in the class's `sites`.
    pub pos: usize,
    /// Accelerator-hours they would hold in the first slot.
    pub acc_h: f64,
    /// Accelerator-hours they would hold in each later slot the plan steers before the next
    /// re-plan (window slots 1, 2, ...): pausing them in any of those costs the same restart,
    /// once. Empty where the next slot re-plans.
    pub later_acc_h: Vec<f64>,
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
    /// The dual simplex, or the interior point method above
    /// [`IPM_ABOVE_COLUMNS`](super::IPM_ABOVE_COLUMNS) columns.
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

#[derive(Debug, Clone, Default)]
pub struct PlanInput {
    pub slot_h: f64,
    /// The LP's periods, as numbers of window slots in order (summing to `slots`): one slot each
    /// near the present, longer blocks further out (see [`Blocks`](super::Blocks)). Every
    /// series stays per slot; the model takes each series' mean over a period, and the
    /// [`Plan`] comes back per slot. Empty: one period per slot (the uniform model).
    pub periods: Vec<usize>,
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
    /// Per class: the work the plan does after the class's deadline (a bound's, where more
    /// load can pay: a negative price), charged as late as unmet work is.
    pub late_work_acc_h: Vec<f64>,
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
    /// The model's periods (its time steps; the window's slots where each is one slot).
    pub periods: usize,
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
