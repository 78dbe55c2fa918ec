//! Scheduling policies. A policy sees the world only through a [`Context`]: the past, the
//! forecasts of the run, the jobs that have arrived, and the free capacity; it acts through the
//! context's methods (start, suspend, migrate, inference order, battery set-points), which the
//! simulator checks against the physics.

mod asap;
mod carbon_wait;
mod greenest_site;

pub use asap::{start_waiting_at_home, Asap};
pub use carbon_wait::CarbonWait;
pub use greenest_site::GreenestSite;

use crate::fleet::{Fleet, FleetView};
use crate::model::{JobId, SiteId};
use serde::Serialize;

/// A scheduling policy, driven by the simulator slot by slot.
///
/// Running jobs keep running until the policy suspends them, they finish, or the site runs out
/// of capacity, so a policy only states changes.
pub trait Policy {
    /// The name shown in reports.
    fn name(&self) -> String;

    /// Called at the start of every slot, after the jobs that arrived by then are queued and
    /// running jobs have been continued.
    fn on_slot(&mut self, ctx: &mut dyn Fleet);

    /// Called at a job's arrival inside a slot (event-driven), so that a policy can start it at
    /// once instead of at the next slot boundary. The default waits for the next slot.
    fn on_arrival(&mut self, ctx: &mut dyn Fleet, job: JobId) {
        let _ = (ctx, job);
    }

    /// For the oracle: the optimum of its model over the whole run, a lower bound on the
    /// objective ([`crate::metrics::ObjectiveWeights`]) of every policy on the same run.
    fn objective_bound(&self) -> Option<f64> {
        None
    }

    /// The objective [`Policy::objective_bound`] is in (and capture is computed in).
    fn objective_kind(&self) -> crate::metrics::ObjectiveKind {
        crate::metrics::ObjectiveKind::Balanced
    }

    /// Slots at which the policy's plan failed (a solver failure) and it ran a fallback rule
    /// instead: part of the result, shown as a warning, so that a run whose planner failed is
    /// never taken for the planner's work.
    fn plan_fallbacks(&self) -> usize {
        0
    }

    /// Notes for the report after a run (solver statistics, fallbacks, relaxed constraints).
    /// They are part of the result, so they hold no wall-clock figure: the same run gives the
    /// same notes, byte for byte.
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }

    /// Wall-clock figures (solve times) for the person watching: shown on stderr, never
    /// written into a result (JSON, saved run, report, CSV), which must not change from one
    /// run to the next.
    fn timings(&self) -> Vec<String> {
        Vec::new()
    }

    /// The order in which inference region `region` is served by its latency-eligible sites
    /// this slot. `order` holds last slot's order (initially the scenario's preference order);
    /// the default keeps it.
    fn inference_order(&mut self, ctx: &dyn FleetView, region: usize, order: &mut Vec<SiteId>) {
        let _ = (ctx, region, order);
    }

    /// The plan in force, where the policy makes one (the coordinated planner): what it intends
    /// at each site from slot `from` on (the next slot to run). `None` for the rules, which plan
    /// nothing ahead.
    fn plan_ahead(&self, from: usize) -> Option<PlanAhead> {
        let _ = from;
        None
    }
}

/// What a planning policy intends, slot by slot from `first_slot`, at each site.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanAhead {
    /// The slot the plan was made at (earlier than `first_slot` where the solve due since
    /// failed and the last good plan is followed).
    pub made_at_slot: usize,
    /// The slot its first values are for: the next to run.
    pub first_slot: usize,
    pub sites: Vec<SitePlan>,
}

/// One site's part of a [`PlanAhead`]; each series from `first_slot` on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SitePlan {
    pub site: SiteId,
    /// Batch work planned, accelerator-hours per slot.
    pub work_acc_h: Vec<f64>,
    /// Battery power planned, kW (positive: charging); empty without a battery.
    pub battery_kw: Vec<f64>,
}

/// A policy suandian knows by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyInfo {
    pub name: &'static str,
    /// One line for `suandian policies` and `--help`.
    pub what: &'static str,
    /// Built by `suandian-planner` (it needs the LP solver); [`by_name`] builds the others.
    pub planner: bool,
}

/// The one registry of policies: every list of names (the CLI's, a scenario's default
/// `[simulation] policies`, the baselines) is derived from it, and tests check that every
/// entry is built by [`by_name`] or the planner. Adding a policy: one entry here, one
/// constructor there.
pub const POLICIES: &[PolicyInfo] = &[
    PolicyInfo {
        name: "asap",
        what: "run each job on arrival at its home site (the baseline)",
        planner: false,
    },
    PolicyInfo {
        name: "carbon-wait",
        what: "start each deferrable job in the lowest-carbon window before its deadline",
        planner: false,
    },
    PolicyInfo {
        name: "greenest-site",
        what: "place each job at the eligible site with the lowest forecast carbon over its run",
        planner: false,
    },
    PolicyInfo {
        name: "coordinated",
        what: "co-optimise where, when and how work runs with batteries, green supply and imports (HiGHS, rolling horizon)",
        planner: true,
    },
    PolicyInfo {
        name: "oracle",
        what: "the same model solved once with perfect knowledge of the whole run: the bound",
        planner: true,
    },
];

/// The policy every other is compared with (savings, capture): it always runs.
pub const REFERENCE: &str = "asap";

/// The policy whose objective is the bound (its plan knows the whole run).
pub const ORACLE: &str = "oracle";

/// Every policy's name, in the registry's order.
pub fn names() -> impl Iterator<Item = &'static str> {
    POLICIES.iter().map(|p| p.name)
}

/// The baseline policies of this crate (no solver needed), in the registry's order.
pub fn baselines() -> impl Iterator<Item = &'static str> {
    POLICIES.iter().filter(|p| !p.planner).map(|p| p.name)
}

/// Make a baseline policy from its name, or `None` for another name.
pub fn by_name(name: &str) -> Option<Box<dyn Policy + Send>> {
    match name {
        "asap" => Some(Box::new(Asap)),
        "carbon-wait" => Some(Box::new(CarbonWait::default())),
        "greenest-site" => Some(Box::new(GreenestSite::default())),
        _ => None,
    }
}

/// The queued and suspended jobs, the least slack first (latest start `deadline - remaining`
/// earliest), so that capacity goes to the jobs that cannot wait.
pub(crate) fn waiting_least_slack_first(ctx: &dyn FleetView) -> Vec<JobId> {
    let mut waiting = ctx.waiting_jobs();
    let slack = |j: JobId| {
        ctx.job(j)
            .map_or(f64::INFINITY, |x| x.deadline_h - ctx.remaining_h(j))
    };
    waiting.sort_by(|&a, &b| slack(a).total_cmp(&slack(b)));
    waiting
}

/// Forecast mean carbon intensity (g/kWh) at `site` over `duration_h` hours starting at slot
/// `start`, weighting a partial last slot by its share. Slots beyond the horizon repeat the
/// last, taken in one step: the work is bounded by the horizon, not by the duration (a job of
/// 1e8 hours took 6 s a call, one of 1e308 never ended).
pub(crate) fn mean_carbon(ctx: &dyn FleetView, site: usize, start: usize, duration_h: f64) -> f64 {
    mean_of(
        |t| ctx.carbon_forecast(site, t),
        ctx.slots(),
        ctx.slot_h(),
        start,
        duration_h,
    )
}

/// [`mean_carbon`] over any per-slot series `value` (a policy's cache of the forecasts): the
/// same sums in the same order.
pub(crate) fn mean_of(
    value: impl Fn(usize) -> f64,
    slots: usize,
    dt: f64,
    start: usize,
    duration_h: f64,
) -> f64 {
    let last = slots - 1;
    let mut left = duration_h.max(1e-9);
    let mut slot = start;
    let mut sum = 0.0;
    let mut weight = 0.0;
    while left > 1e-12 {
        if slot >= last {
            // The last slot and everything after it, at the last slot's forecast.
            sum += left * value(last);
            weight += left;
            break;
        }
        let w = left.min(dt);
        sum += w * value(slot);
        weight += w;
        left -= w;
        slot += 1;
    }
    sum / weight
}
