//! `oracle`: the same model solved once over the whole run with the true series and every job
//! known in advance. Its optimum is the bound: no policy can do better on the same run. The
//! oracle policy then follows that plan as closely as the dispatcher can (jobs cannot start
//! before they arrive; the plan is a fluid over classes).

use crate::classes::{from_scenario, ClassMap};
use crate::dispatch;
use crate::lp::{solve, work_column_count, LpSolver, ObjectiveMode, Plan, PlanError};
use crate::PlannerOptions;
use suandian_core::fleet::{Fleet, FleetView};
use suandian_core::metrics::{ObjectiveKind, ObjectiveWeights};
use suandian_core::model::{JobId, Scenario, SiteId};
use suandian_core::policy::Policy;

pub struct Oracle {
    plan: Plan,
    map: ClassMap,
    sites: Vec<Vec<SiteId>>,
    left: Vec<Vec<f64>>,
    /// Per class: how many members (in arrival order) have arrived, and the live ones (arrived,
    /// not done), so that each slot touches only the jobs that matter, not the whole run's.
    arrived: Vec<usize>,
    live: ClassMap,
    bucket: usize,
    blocking: dispatch::SiteBlocking,
    /// The objective the plan minimised: its bound is in these units.
    mode: ObjectiveMode,
}

/// Most LP columns the oracle builds before it coarsens its classes (which keeps it a bound).
const MAX_WORK_COLUMNS: usize = 150_000;

impl Oracle {
    pub fn new(
        sc: &Scenario,
        weights: &ObjectiveWeights,
        mode: ObjectiveMode,
    ) -> Result<Self, PlanError> {
        Self::with_solver(sc, weights, mode, LpSolver::Auto)
    }

    /// [`Oracle::new`] with the given LP solver.
    pub fn with_solver(
        sc: &Scenario,
        weights: &ObjectiveWeights,
        mode: ObjectiveMode,
        solver: LpSolver,
    ) -> Result<Self, PlanError> {
        let options = PlannerOptions {
            mode,
            solver,
            ..PlannerOptions::default()
        };
        Self::with_options(sc, weights, &options)
    }

    /// The oracle planned with `options` ([`PlannerOptions::for_oracle`]: no green-share floor,
    /// no migrations, its own time limit).
    pub fn with_options(
        sc: &Scenario,
        weights: &ObjectiveWeights,
        options: &PlannerOptions,
    ) -> Result<Self, PlanError> {
        let knobs = options.for_oracle();
        let mut bucket = 1;
        let (input, map) = loop {
            let (input, map) = from_scenario(sc, bucket, &knobs, weights);
            // A column per slot for full power and for each level below it at each site.
            let cols = work_column_count(&input);
            if cols <= MAX_WORK_COLUMNS || bucket >= sc.grid.slots {
                break (input, map);
            }
            bucket *= 2;
        };
        let sites = input.classes.iter().map(|c| c.sites.clone()).collect();
        let plan = solve(&input)?;
        Ok(Self {
            plan,
            map,
            sites,
            left: Vec::new(),
            arrived: Vec::new(),
            live: ClassMap::default(),
            bucket,
            blocking: dispatch::SiteBlocking::default(),
            mode: options.mode,
        })
    }

    /// The optimum of the model over the whole run: the bound on the objective.
    pub fn bound(&self) -> f64 {
        self.plan.objective
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }
}

impl Policy for Oracle {
    fn name(&self) -> String {
        "oracle".into()
    }

    fn on_slot(&mut self, ctx: &mut dyn Fleet) {
        let t = ctx.slot();
        let (targets, levels) = self.plan.slot_targets(t, &self.sites);
        if self.arrived.is_empty() {
            self.arrived = vec![0; self.map.members.len()];
            self.live.members = vec![Vec::new(); self.map.members.len()];
        }
        for (k, members) in self.map.members.iter().enumerate() {
            // Finished members are dropped by the dispatcher.
            let live = &mut self.live.members[k];
            while let Some(&j) = members.get(self.arrived[k]) {
                if ctx.job(j).is_none() {
                    break;
                }
                live.push(j);
                self.arrived[k] += 1;
            }
        }
        self.left = dispatch::apply(
            ctx,
            &self.blocking,
            &mut self.live,
            &self.sites,
            &targets,
            &levels,
        );
        for (s, kw) in self.plan.battery_kw.iter().enumerate() {
            if ctx.battery(s).is_some() {
                ctx.set_battery_kw(s, kw[t]);
            }
        }
    }

    fn on_arrival(&mut self, ctx: &mut dyn Fleet, job: JobId) {
        self.blocking.observe(ctx, job);
        let Some(&Some(k)) = self.map.of_job.get(job) else {
            return;
        };
        let Some(acc) = ctx.job(job).map(|j| j.accelerators) else {
            return;
        };
        let work = f64::from(acc) * ctx.remaining_h(job).min(ctx.slot_end_h() - ctx.now_h());
        if let Some(left) = self.left.get_mut(k) {
            for (pos, room) in left.iter_mut().enumerate() {
                let site = self.sites[k][pos];
                if *room >= work * 0.5
                    && ctx.free_accelerators(site) >= acc
                    && dispatch::fits_under_announced_caps(ctx, job, site, 1.0)
                    && ctx.start(job, site, 1.0).is_ok()
                {
                    *room -= work;
                    return;
                }
            }
        }
        if dispatch::slack_h(ctx, job)
            < ctx.slot_end_h() - ctx.now_h() + dispatch::URGENT_SLOTS * ctx.slot_h()
        {
            dispatch::start_anywhere(ctx, job);
        }
    }

    fn inference_order(&mut self, ctx: &dyn FleetView, region: usize, order: &mut Vec<SiteId>) {
        let t = ctx.slot();
        let (sites, _) = ctx.inference_sites(region);
        let plan = &self.plan;
        let share = |s: &SiteId| {
            sites
                .iter()
                .position(|x| x == s)
                .map_or(0.0, |k| plan.inference_tps[region][k][t])
        };
        order.sort_by(|a, b| share(b).total_cmp(&share(a)));
    }

    fn objective_bound(&self) -> Option<f64> {
        Some(self.plan.objective)
    }

    fn objective_kind(&self) -> ObjectiveKind {
        match self.mode {
            ObjectiveMode::Balanced => ObjectiveKind::Balanced,
            ObjectiveMode::Carbon => ObjectiveKind::Carbon,
            ObjectiveMode::Cost => ObjectiveKind::Cost,
        }
    }

    fn timings(&self) -> Vec<String> {
        vec![format!(
            "HiGHS solved the oracle's LP in {:.2} s",
            self.plan.solve_s
        )]
    }

    fn notes(&self) -> Vec<String> {
        // Rounding can leave a tiny negative sum: shown as 0, not "-0".
        // Work the plan does late (where that pays) did not fit before its deadline either.
        let late: f64 = self.plan.late_work_acc_h.iter().sum();
        let unmet: f64 = (self.plan.unmet_work_acc_h.iter().sum::<f64>() + late).max(0.0);
        let mut n = vec![format!(
            "{unmet:.0} accelerator-hours the model cannot fit before deadlines or the end of the run; bound {:.4} from one LP ({} columns, {} rows, arrival buckets of {} slots)",
            self.plan.objective, self.plan.columns, self.plan.rows, self.bucket
        )];
        n.extend(self.plan.relaxed.iter().take(5).cloned());
        n
    }
}
