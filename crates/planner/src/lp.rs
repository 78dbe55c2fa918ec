//! The optimisation model (docs/planner.md gives it as equations) and its solution with HiGHS.
//!
//! Built from a [`PlanInput`] that holds only numbers (no jobs, no simulator types), so the same
//! code serves the rolling-horizon policy, the oracle and the benchmarks.

use highs::{HighsModelStatus, RowProblem, Sense};
use std::time::Instant;

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
    pub export_limit_kw: f64,
    pub feed_in_per_mwh: f64,
    pub battery: Option<PlanBattery>,
    pub thermal: Option<(f64, f64, f64)>, // (capacity kW, cost per kWh, g CO2 per kWh)
    pub pue: Vec<f64>,
    pub price_per_mwh: Vec<f64>,
    pub carbon_g_per_kwh: Vec<f64>,
    pub green_kw: Vec<f64>,
    /// Accelerators held by work the plan cannot move (non-interruptible jobs already running).
    pub fixed_acc: Vec<f64>,
}

#[derive(Debug, Clone, Copy)]
pub struct PlanBattery {
    pub power_kw: f64,
    pub min_kwh: f64,
    pub max_kwh: f64,
    pub one_way_efficiency: f64,
    pub soc0_kwh: f64,
}

/// A workload class: jobs with the same eligible sites and time window, planned as one fluid.
#[derive(Debug, Clone)]
pub struct WorkClass {
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
}

/// Inference demand of one region over the window.
#[derive(Debug, Clone)]
pub struct InferenceClass {
    pub tokens_per_s: Vec<f64>,
    /// (site, joules per token).
    pub sites: Vec<(usize, f64)>,
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

#[derive(Debug, Clone)]
pub struct PlanInput {
    pub slot_h: f64,
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
    /// Minimum green share of facility energy per site (0 for none), enforced softly.
    pub min_green_share: f64,
    pub time_limit_s: f64,
}

/// The solved plan.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub objective: f64,
    /// Accelerator-hours per class, per eligible site (same order as the class's `sites`), per slot.
    pub work: Vec<Vec<Vec<f64>>>,
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
fn energy_weight(
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

/// Models with more columns than this are solved with the interior point method.
pub const IPM_ABOVE_COLUMNS: usize = 50_000;

/// Build and solve the plan.
pub fn solve(input: &PlanInput) -> Result<Plan, PlanError> {
    let h = input.slots;
    let dt = input.slot_h;
    let n_sites = input.sites.len();
    let mut pb = RowProblem::default();
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

    // Work columns.
    let mut work_cols = Vec::with_capacity(input.classes.len());
    let mut unmet_cols = Vec::with_capacity(input.classes.len());
    let mut defer_cols = Vec::with_capacity(input.classes.len());
    for c in &input.classes {
        let mut per_site = Vec::with_capacity(c.sites.len());
        for _ in &c.sites {
            let cols: Vec<_> = (0..h)
                .map(|t| {
                    if t >= c.start && t < c.due.min(h) {
                        Some(pb.add_column(eps * t as f64, 0.0..))
                    } else {
                        None
                    }
                })
                .collect();
            per_site.push(cols);
        }
        work_cols.push(per_site);
        unmet_cols.push(pb.add_column(
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
                Some(pb.add_column(to_obj(cost), 0.0..=room))
            }
            _ => None,
        });
    }
    // Inference columns.
    let mut inf_cols = Vec::new();
    let mut unserved_cols = Vec::new();
    for r in &input.inference {
        inf_cols.push(
            r.sites
                .iter()
                .map(|_| {
                    (0..h)
                        .map(|_| pb.add_column(0.0, 0.0..))
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>(),
        );
        unserved_cols.push(
            (0..h)
                .map(|_| pb.add_column(unserved_per_token_slot, 0.0..))
                .collect::<Vec<_>>(),
        );
    }
    // Energy columns per site and slot.
    struct SiteCols {
        imp: Vec<highs::Col>,
        over: Vec<highs::Col>,
        exp: Vec<highs::Col>,
        green: Vec<highs::Col>,
        th: Vec<Option<highs::Col>>,
        ch: Vec<Option<highs::Col>>,
        dis: Vec<Option<highs::Col>>,
        soc: Vec<Option<highs::Col>>,
        short: Option<highs::Col>,
    }
    let mut sc = Vec::with_capacity(n_sites);
    for s in &input.sites {
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
        };
        for t in 0..h {
            let w = energy_weight(
                input.mode,
                s.price_per_mwh[t] / 1000.0,
                s.carbon_g_per_kwh[t],
                input.carbon_price_per_t,
            );
            cols.imp
                .push(pb.add_column(w * dt, 0.0..=s.import_limit_kw[t]));
            cols.over.push(pb.add_column((w + over) * dt, 0.0..));
            let feed_in = match input.mode {
                ObjectiveMode::Carbon => 0.0,
                _ => s.feed_in_per_mwh / 1000.0,
            };
            cols.exp
                .push(pb.add_column(-feed_in * dt, 0.0..=s.export_limit_kw));
            cols.green
                .push(pb.add_column(0.0, 0.0..=s.green_kw[t].max(0.0)));
            cols.th.push(s.thermal.map(|(cap, cost, g)| {
                let w = energy_weight(input.mode, cost, g, input.carbon_price_per_t);
                pb.add_column(w * dt, 0.0..=cap)
            }));
            match &s.battery {
                Some(b) => {
                    cols.ch.push(Some(pb.add_column(0.0, 0.0..=b.power_kw)));
                    cols.dis.push(Some(pb.add_column(0.0, 0.0..=b.power_kw)));
                    cols.soc
                        .push(Some(pb.add_column(0.0, b.min_kwh..=b.max_kwh)));
                }
                None => {
                    cols.ch.push(None);
                    cols.dis.push(None);
                    cols.soc.push(None);
                }
            }
        }
        if input.min_green_share > 0.0 {
            cols.short = Some(pb.add_column(to_obj(input.over_limit_per_kwh), 0.0..));
        }
        sc.push(cols);
    }

    // Rows. Class work: done + unmet + deferred = work.
    for (k, c) in input.classes.iter().enumerate() {
        let mut row: Vec<(highs::Col, f64)> = Vec::new();
        for cols in &work_cols[k] {
            row.extend(cols.iter().flatten().map(|c| (*c, 1.0)));
        }
        row.push((unmet_cols[k], 1.0));
        if let Some(d) = defer_cols[k] {
            row.push((d, 1.0));
        }
        pb.add_row(c.work_acc_h..=c.work_acc_h, &row);
        // Parallelism: the class cannot use more accelerators than its jobs have.
        for t in c.start..c.due.min(h) {
            let frac = if t == c.start { c.start_fraction } else { 1.0 };
            let row: Vec<_> = work_cols[k]
                .iter()
                .filter_map(|cols| cols[t])
                .map(|c| (c, 1.0))
                .collect();
            pb.add_row(..=c.max_acc * frac * dt, &row);
        }
    }
    // Inference demand: served + unserved = demand.
    for (r, d) in input.inference.iter().enumerate() {
        for t in 0..h {
            let mut row: Vec<_> = inf_cols[r].iter().map(|cols| (cols[t], 1.0)).collect();
            row.push((unserved_cols[r][t], 1.0));
            pb.add_row(d.tokens_per_s[t]..=d.tokens_per_s[t], &row);
        }
    }
    // Per site and slot: capacity, energy balance, battery.
    for (si, s) in input.sites.iter().enumerate() {
        let cols = &sc[si];
        let mut green_share_row: Vec<(highs::Col, f64)> = Vec::new();
        let mut green_share_rhs = 0.0;
        for t in 0..h {
            let mut cap_row: Vec<(highs::Col, f64)> = Vec::new();
            let mut bal_row: Vec<(highs::Col, f64)> = Vec::new();
            let pue = s.pue[t];
            for (k, c) in input.classes.iter().enumerate() {
                for (j, &site) in c.sites.iter().enumerate() {
                    if site == si {
                        if let Some(col) = work_cols[k][j][t] {
                            cap_row.push((col, 1.0));
                            bal_row.push((col, pue * s.dyn_kw_per_acc / dt));
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
                pb.add_row(..=free, &cap_row);
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
            pb.add_row(-fixed_kw..=-fixed_kw, &bal_row);
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
                pb.add_row(rhs..=rhs, &row);
                if t + 1 == h && input.keep_final_soc {
                    pb.add_row(
                        b.soc0_kwh.clamp(b.min_kwh, b.max_kwh)..=f64::INFINITY,
                        [(soc, 1.0)],
                    );
                }
            }
            if input.min_green_share > 0.0 {
                // green used >= share x facility, summed over the window (soft).
                green_share_row.push((cols.green[t], dt));
                green_share_row.push((cols.exp[t], -dt));
                if let Some(ch) = cols.ch[t] {
                    green_share_row.push((ch, -dt));
                }
                for (col, coef) in &load_terms {
                    green_share_row.push((*col, -input.min_green_share * coef * dt));
                }
                green_share_rhs += input.min_green_share * fixed_kw * dt;
            }
        }
        if let Some(short) = cols.short {
            green_share_row.push((short, 1.0));
            pb.add_row(green_share_rhs.., &green_share_row);
        }
    }

    let columns = pb.num_cols();
    let rows = pb.num_rows();
    let started = Instant::now();
    let mut model = pb.optimise(Sense::Minimise);
    model.make_quiet();
    model.set_option("time_limit", input.time_limit_s);
    model.set_option("threads", 1i32);
    // Dual simplex is the default for the rolling re-plans; the interior point method is two to
    // three times faster on the large single models (oracle, national scale).
    // SUANDIAN_LP_SOLVER=simplex|ipm|pdlp|primal overrides the choice ("primal": HiGHS'
    // primal simplex, 2 to 9 times faster on these models, but its different optimal vertices
    // still trip the dispatcher's deadline rules: docs/planner.md).
    match std::env::var("SUANDIAN_LP_SOLVER").as_deref() {
        Ok("primal") => {
            model.set_option("solver", "simplex");
            model.set_option("simplex_strategy", 4i32);
        }
        Ok(solver) => model.set_option("solver", solver),
        Err(_) if columns > IPM_ABOVE_COLUMNS => model.set_option("solver", "ipm"),
        Err(_) => {}
    }
    let solved = model
        .try_solve()
        .map_err(|e| PlanError::Solver(format!("{e:?}")))?;
    let solve_s = started.elapsed().as_secs_f64();
    match solved.status() {
        HighsModelStatus::Optimal => {}
        other => {
            return Err(PlanError::Solver(format!(
                "status {other:?} after {solve_s:.2} s"
            )))
        }
    }
    let sol = solved.get_solution();
    let v = |c: highs::Col| sol[c];

    // The objective without the tie-breaking preference for early work.
    let tie_break: f64 = work_cols
        .iter()
        .flatten()
        .flat_map(|cols| cols.iter().enumerate())
        .filter_map(|(t, c)| c.map(|c| eps * t as f64 * sol[c]))
        .sum();
    let mut plan = Plan {
        objective: solved.objective_value() - tie_break,
        solve_s,
        columns,
        rows,
        ..Plan::default()
    };
    for k in 0..input.classes.len() {
        plan.work.push(
            work_cols[k]
                .iter()
                .map(|cols| {
                    cols.iter()
                        .map(|c| c.map_or(0.0, |c| v(c).max(0.0)))
                        .collect()
                })
                .collect(),
        );
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
    Ok(plan)
}
