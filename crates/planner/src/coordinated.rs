//! `coordinated`: model-predictive control. Plan the next `window_h` hours on the forecasts
//! available now (at the slot's resolution near the present, in longer blocks further out:
//! `blocks`), apply the first slot, move on; re-plan where the inputs changed and at least every
//! `replan_max_h` hours (or every `replan_every` slots, whatever changed), following the last
//! plan in between.
//!
//! What counts as changed inputs ([`Coordinated::replan_due`]): a demand-response event
//! announced, changed or cancelled; new work since the last plan of more than
//! [`REPLAN_NEW_WORK_SHARE`] of the work it planned; a forecast of price, carbon or green supply
//! for the slots the plan still steers revised by more than [`REPLAN_FORECAST_REVISION`] of the
//! signal's mean over the window.

use crate::classes::{from_context, ClassMap};
use crate::dispatch;
use crate::lp::{solve, solve_from, Home, Plan, WarmStart};
use crate::PlannerOptions;
use suandian_core::fleet::{Fleet, FleetView, JobState};
use suandian_core::metrics::ObjectiveWeights;
use suandian_core::model::{JobId, SiteId};
use suandian_core::policy::Policy;

pub struct Coordinated {
    cfg: PlannerOptions,
    weights: ObjectiveWeights,
    current: Option<Current>,
    planned_at: Option<usize>,
    solves: usize,
    failures: usize,
    /// Slots run by the fallback rule: a solve failed and no earlier plan reached the slot.
    fallback_slots: usize,
    /// Slots run on the last good plan because the solve due there failed.
    kept_plan_slots: usize,
    /// Whether a solve has failed since the plan in force was made.
    failed_since_plan: bool,
    /// Solves at this slot and later fail (tests of the failure path).
    #[cfg(test)]
    fail_from_slot: Option<usize>,
    solve_s: f64,
    max_solve_s: f64,
    relaxed: usize,
    iterations: i64,
    last_failure: Option<String>,
    /// The last plan's basis, to start the next solve from.
    warm: Option<WarmStart>,
    blocking: dispatch::SiteBlocking,
    /// Jobs already seen, and the accelerator-hours that arrived between recent plans, with the
    /// slots between them.
    seen: std::collections::HashSet<JobId>,
    arrivals: std::collections::VecDeque<(f64, usize)>,
    /// The demand-response events seen at the last plan (`events_fingerprint`).
    events_seen: u64,
    /// Why plans were made: [first, age, events, new work, forecast revision].
    reasons: [usize; 5],
    /// Slots stepped, and the most periods and slots of a plan's window.
    slots: usize,
    max_periods: (usize, usize),
    max_columns: usize,
}

/// New work (accelerator-hours) since the last plan, as a share of the work that plan placed,
/// above which the next slot re-plans.
pub const REPLAN_NEW_WORK_SHARE: f64 = 0.05;

/// A forecast revision (of one site's price, carbon or green supply in one slot the plan still
/// steers), as a share of the signal's mean magnitude over the plan's window, above which the
/// next slot re-plans.
pub const REPLAN_FORECAST_REVISION: f64 = 0.1;

/// What a plan was made on, to tell whether its inputs changed: the work it placed, and per
/// site the forecasts of the slots it will steer (price, carbon, green) with each signal's
/// mean magnitude over the window.
struct MadeOn {
    work_acc_h: f64,
    forecasts: Vec<[(Vec<f64>, f64); 3]>,
}

/// The plan in force: made at slot `at`, with its classes' jobs, eligible sites and homes.
struct Current {
    at: usize,
    made_on: MadeOn,
    plan: Plan,
    map: ClassMap,
    sites: Vec<Vec<SiteId>>,
    homes: Vec<Option<Home>>,
}

impl Coordinated {
    pub fn new(cfg: PlannerOptions, weights: ObjectiveWeights) -> Self {
        Self {
            cfg,
            weights,
            current: None,
            planned_at: None,
            solves: 0,
            failures: 0,
            fallback_slots: 0,
            kept_plan_slots: 0,
            failed_since_plan: false,
            #[cfg(test)]
            fail_from_slot: None,
            solve_s: 0.0,
            max_solve_s: 0.0,
            relaxed: 0,
            iterations: 0,
            last_failure: None,
            warm: None,
            blocking: dispatch::SiteBlocking::default(),
            seen: std::collections::HashSet::new(),
            arrivals: std::collections::VecDeque::new(),
            events_seen: 0,
            reasons: [0; 5],
            slots: 0,
            max_periods: (0, 0),
            max_columns: 0,
        }
    }

    /// Whether a plan is due now, and why (an index into `reasons`): none yet; the plan in
    /// force is as old as plans may be; the events changed; or, without a fixed cadence, new
    /// work or a revised forecast.
    fn replan_due(&self, ctx: &dyn FleetView, events: u64) -> Option<usize> {
        let Some(c) = &self.current else {
            return Some(0);
        };
        let slot = ctx.slot();
        if slot >= c.at + self.cfg.steered_slots(ctx.slot_h()) {
            return Some(1);
        }
        if events != self.events_seen {
            return Some(2);
        }
        if self.cfg.replan_every.is_some() {
            return None;
        }
        let new_work: f64 = ctx
            .active_jobs()
            .iter()
            .filter(|j| !self.seen.contains(j))
            .map(|&j| ctx.job(j).map_or(0.0, |x| x.work_acc_h()))
            .sum();
        if new_work > REPLAN_NEW_WORK_SHARE * c.made_on.work_acc_h {
            return Some(3);
        }
        let revised = c.made_on.forecasts.iter().enumerate().any(|(s, signals)| {
            signals.iter().enumerate().any(|(i, (planned, scale))| {
                (slot..c.at + planned.len()).any(|t| {
                    let now = match i {
                        0 => ctx.price_forecast(s, t),
                        1 => ctx.carbon_forecast(s, t),
                        _ => ctx.green_forecast_kw(s, t),
                    };
                    (now - planned[t - c.at]).abs() > REPLAN_FORECAST_REVISION * scale
                })
            })
        });
        revised.then_some(4)
    }

    fn ensure_plan(&mut self, ctx: &dyn FleetView) {
        let slot = ctx.slot();
        if self.planned_at == Some(slot) {
            return;
        }
        // A demand-response event announced, changed or cancelled since the last plan makes
        // one due at once, whatever the cadence.
        let events = events_fingerprint(ctx);
        let Some(reason) = self.replan_due(ctx, events) else {
            return;
        };
        self.reasons[reason] += 1;
        let since = self
            .planned_at
            .map_or(1, |at| slot.saturating_sub(at).max(1));
        self.planned_at = Some(slot);
        self.events_seen = events;
        // Work that arrived since the last plan: the recent rate of new work.
        let mut new_work = 0.0;
        for &j in ctx.active_jobs() {
            if self.seen.insert(j) {
                new_work += ctx.job(j).map_or(0.0, |x| x.work_acc_h());
            }
        }
        self.arrivals.push_back((new_work, since));
        while self.arrivals.iter().map(|a| a.1).sum::<usize>() > ctx.slots_per_day() {
            self.arrivals.pop_front();
        }
        let window = ((self.cfg.window_h / ctx.slot_h()).round() as usize).max(1);
        let (mut input, map) = from_context(ctx, window, &self.cfg, &self.weights);
        // Work will keep arriving and compete for the same capacity: keep room for it in the
        // later slots of the window, in proportion to each site's size: from the slot the next
        // plan will steer (work arriving before it waits for that plan, or starts if urgent).
        let (work, slots) = self
            .arrivals
            .iter()
            .fold((0.0, 0), |(w, n), a| (w + a.0, n + a.1));
        let rate_acc = work / slots.max(1) as f64 / ctx.slot_h();
        let total: f64 = input.sites.iter().map(|s| s.accelerators).sum();
        let steered = self.cfg.steered_slots(ctx.slot_h());
        if total > 0.0 {
            for s in &mut input.sites {
                let share = rate_acc * s.accelerators / total;
                for t in steered..s.fixed_acc.len() {
                    s.fixed_acc[t] = (s.fixed_acc[t] + share * self.cfg.reserve_for_arrivals)
                        .min(s.accelerators);
                }
            }
        }
        let sites: Vec<Vec<SiteId>> = input.classes.iter().map(|c| c.sites.clone()).collect();
        let homes: Vec<Option<Home>> = input.classes.iter().map(|c| c.home).collect();
        let made_on = made_on(&input, self.cfg.steered_slots(ctx.slot_h()));
        self.solves += 1;
        #[cfg(test)]
        if self.fail_from_slot.is_some_and(|f| slot >= f) {
            self.record_failure(slot, "a failure the test asked for".into());
            return;
        }
        let solved = if self.cfg.warm_start {
            solve_from(&input, self.warm.as_ref()).map(|(plan, warm)| {
                self.warm = Some(warm);
                plan
            })
        } else {
            solve(&input)
        };
        match solved {
            Ok(plan) => {
                if plan.periods > self.max_periods.0 {
                    self.max_periods = (plan.periods, input.slots);
                }
                self.iterations += plan.iterations;
                self.max_columns = self.max_columns.max(plan.columns);
                self.solve_s += plan.solve_s;
                self.max_solve_s = self.max_solve_s.max(plan.solve_s);
                if !plan.relaxed.is_empty() {
                    self.relaxed += 1;
                }
                self.current = Some(Current {
                    at: slot,
                    made_on,
                    plan,
                    map,
                    sites,
                    homes,
                });
                self.failed_since_plan = false;
            }
            Err(e) => self.record_failure(slot, e.to_string()),
        }
    }

    /// A solve failed (or ran out of time): the last good plan stays in force for the slots it
    /// reaches (the next slot tries again); past them the fallback rule runs.
    fn record_failure(&mut self, slot: usize, why: String) {
        self.warm = None;
        self.failures += 1;
        self.last_failure = Some(format!("slot {slot}: {why}"));
        self.failed_since_plan = true;
    }
}

/// What `input` knows that a later slot may find changed, for the `steers` slots it will steer.
fn made_on(input: &crate::PlanInput, steers: usize) -> MadeOn {
    let head = |v: &[f64]| v[..steers.min(v.len())].to_vec();
    let scale = |v: &[f64]| v.iter().map(|x| x.abs()).sum::<f64>() / v.len().max(1) as f64;
    MadeOn {
        work_acc_h: input.classes.iter().map(|c| c.work_acc_h).sum(),
        forecasts: input
            .sites
            .iter()
            .map(|s| {
                [&s.price_per_mwh, &s.carbon_g_per_kwh, &s.green_kw].map(|v| (head(v), scale(v)))
            })
            .collect(),
    }
}

/// How many slots a plan reaches.
fn plan_slots(plan: &Plan) -> usize {
    let work = plan.work.iter().flatten().map(Vec::len);
    let battery = plan.battery_kw.iter().map(Vec::len);
    work.chain(battery).max().unwrap_or(0)
}

/// Where the plan runs a class of started jobs away from their site once their data could
/// have moved, move that many of them now: the plan has weighed the move's price (its data)
/// against the energy it saves.
fn migrate_as_planned(
    ctx: &mut dyn Fleet,
    blocking: &dispatch::SiteBlocking,
    plan: &Plan,
    map: &ClassMap,
    sites: &[Vec<SiteId>],
    homes: &[Option<Home>],
) {
    for (k, home) in homes.iter().enumerate() {
        let Some(home) = home else { continue };
        let Some(here) = sites[k].iter().position(|&s| s == home.site) else {
            continue;
        };
        // Only jobs the plan does not run here now: a job makes no progress while it moves.
        let here_now = plan.work[k][here].first().copied().unwrap_or(0.0) / ctx.slot_h();
        let started_here: f64 = map.members[k]
            .iter()
            .filter(|&&j| {
                matches!(ctx.state(j), JobState::Running | JobState::Suspended)
                    && ctx.job_site(j) == home.site
            })
            .map(|&j| f64::from(ctx.job(j).map_or(0, |x| x.accelerators)))
            .sum();
        let at = home.move_slots;
        let away = sites[k]
            .iter()
            .enumerate()
            .filter(|(_, &s)| s != home.site)
            .map(|(pos, &s)| (plan.work[k][pos].get(at).copied().unwrap_or(0.0), s))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((work, to)) = away {
            let acc = (work / ctx.slot_h()).min(started_here - here_now);
            if acc > 0.5 {
                dispatch::migrate_planned(ctx, blocking, &map.members[k], home.site, to, acc);
            }
        }
    }
}

impl Policy for Coordinated {
    fn name(&self) -> String {
        "coordinated".into()
    }

    fn on_slot(&mut self, ctx: &mut dyn Fleet) {
        self.slots += 1;
        self.ensure_plan(ctx);
        let slot = ctx.slot();
        let in_force = match &self.current {
            // After a failed solve, the last good plan only for the slots it reaches.
            Some(c) if self.failed_since_plan => slot - c.at < plan_slots(&c.plan),
            Some(_) => true,
            None => false,
        };
        if in_force && self.failed_since_plan {
            self.kept_plan_slots += 1;
        }
        match self.current.as_mut().filter(|_| in_force) {
            Some(Current {
                at,
                plan,
                map,
                sites,
                homes,
                ..
            }) => {
                let off = slot - *at;
                if off == 0 {
                    migrate_as_planned(ctx, &self.blocking, plan, map, sites, homes);
                }
                let (targets, levels) = plan.slot_targets(off, sites);
                dispatch::apply(ctx, &self.blocking, map, sites, &targets, &levels);
                if off > 0 {
                    // Jobs that arrived since the plan are in no class: keep their deadlines.
                    let _ = dispatch::start_urgent(ctx, &self.blocking);
                }
                for (s, kw) in plan.battery_kw.iter().enumerate() {
                    if ctx.battery(s).is_some() {
                        if let Some(kw) = kw.get(off) {
                            ctx.set_battery_kw(s, *kw);
                        }
                    }
                }
            }
            None => {
                // The solver failed: asap with the caps for this slot (counted, and shown as a
                // warning with the result).
                self.fallback_slots += 1;
                suandian_core::policy::start_waiting_at_home(ctx);
                let _ = dispatch::start_urgent(ctx, &self.blocking);
            }
        }
    }

    fn on_arrival(&mut self, ctx: &mut dyn Fleet, job: JobId) {
        self.blocking.observe(ctx, job);
        // Planned at the next slot boundary, unless it cannot wait that long.
        if dispatch::slack_h(ctx, job)
            < ctx.slot_end_h() - ctx.now_h() + dispatch::URGENT_SLOTS * ctx.slot_h()
        {
            dispatch::start_anywhere(ctx, job);
        }
    }

    fn inference_order(&mut self, ctx: &dyn FleetView, region: usize, order: &mut Vec<SiteId>) {
        self.ensure_plan(ctx);
        if let Some(Current { at, plan, .. }) = &self.current {
            let off = ctx.slot() - at;
            let (sites, _) = ctx.inference_sites(region);
            let share = |s: &SiteId| {
                sites
                    .iter()
                    .position(|x| x == s)
                    .and_then(|k| plan.inference_tps.get(region)?.get(k)?.get(off).copied())
                    .unwrap_or(0.0)
            };
            order.sort_by(|a, b| share(b).total_cmp(&share(a)));
        }
    }

    fn notes(&self) -> Vec<String> {
        let mut n = vec![format!(
            "{} plans solved by HiGHS ({}), {} simplex iterations mean; {} fell back to asap-with-caps; {} had relaxed constraints",
            self.solves,
            if self.cfg.warm_start { "each from the last" } else { "cold" },
            self.iterations / (self.solves - self.failures).max(1) as i64,
            self.failures,
            self.relaxed
        )];
        if let Some(f) = &self.last_failure {
            n.push(format!("last solver failure: {f}"));
        }
        if self.kept_plan_slots > 0 {
            n.push(format!(
                "{} slots ran on the last good plan after a failed solve",
                self.kept_plan_slots
            ));
        }
        if self.solves < self.slots {
            let [_, age, events, work, forecast] = self.reasons;
            n.push(format!(
                "re-planned at {} of {} slots: {age} as the last plan reached its age, {events} for demand-response events, {work} for new work, {forecast} for revised forecasts",
                self.solves, self.slots
            ));
        }
        let (periods, slots) = self.max_periods;
        if periods < slots {
            n.push(format!(
                "plans in blocks ({}): at most {periods} periods for a window of {slots} slots",
                self.cfg.blocks
            ));
        }
        n
    }

    fn plan_ahead(&self, from: usize) -> Option<suandian_core::policy::PlanAhead> {
        let c = self.current.as_ref()?;
        let now = from.max(c.at);
        let off = now - c.at;
        let n = plan_slots(&c.plan).saturating_sub(off);
        let sites = c
            .plan
            .battery_kw
            .len()
            .max(c.sites.iter().flatten().map(|&s| s + 1).max().unwrap_or(0));
        let mut out: Vec<suandian_core::policy::SitePlan> = (0..sites)
            .map(|site| suandian_core::policy::SitePlan {
                site,
                work_acc_h: vec![0.0; n],
                battery_kw: c
                    .plan
                    .battery_kw
                    .get(site)
                    .map(|b| b.iter().skip(off).copied().collect())
                    .unwrap_or_default(),
            })
            .collect();
        for (k, per_site) in c.plan.work.iter().enumerate() {
            for (pos, w) in per_site.iter().enumerate() {
                let site = c.sites[k][pos];
                for (t, v) in w.iter().skip(off).take(n).enumerate() {
                    out[site].work_acc_h[t] += v;
                }
            }
        }
        Some(suandian_core::policy::PlanAhead {
            made_at_slot: c.at,
            first_slot: now,
            sites: out,
        })
    }

    fn plan_fallbacks(&self) -> usize {
        self.fallback_slots
    }

    fn timings(&self) -> Vec<String> {
        vec![format!(
            "HiGHS took {:.3} s per plan on average, {:.3} s at most ({} plans, at most {} columns)",
            self.solve_s / (self.solves - self.failures).max(1) as f64,
            self.max_solve_s,
            self.solves - self.failures,
            self.max_columns
        )]
    }
}

/// The demand-response events a policy sees now (id, window, cap, sites), hashed.
fn events_fingerprint(ctx: &dyn FleetView) -> u64 {
    let mut h = suandian_core::hash::Fnv1a::default();
    for e in ctx.demand_response_announced() {
        h.bytes(e.id.as_bytes())
            .f64(e.start_h)
            .f64(e.end_h)
            .f64(e.import_cap_kw);
        for &s in &e.sites {
            h.u64(s as u64);
        }
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use suandian_core::metrics::ObjectiveWeights;
    use suandian_core::sim::{simulate, SimConfig};

    /// Solves fail from slot 10 on: the plan made at slot 9 stays in force for the slots it
    /// reaches, every later slot tries again (and fails), and only past the plan's end does the
    /// fallback rule run.
    #[test]
    fn a_failed_solve_keeps_the_last_good_plan() {
        let sc = suandian_scenarios::default_scenario::default_scenario(3, 5);
        let weights = ObjectiveWeights::for_scenario(&sc);
        let cfg = SimConfig::default();
        let mut good = Coordinated::new(PlannerOptions::default(), weights);
        let base = simulate(&sc, &mut good, &cfg);
        let mut failing = Coordinated::new(PlannerOptions::default(), weights);
        failing.fail_from_slot = Some(10);
        let r = simulate(&sc, &mut failing, &cfg);
        let after = sc.grid.slots - 10;
        assert_eq!(failing.failures, after, "each slot from 10 on tried again");
        assert!(failing.kept_plan_slots > 0, "the last plan was kept");
        assert_eq!(failing.kept_plan_slots + failing.fallback_slots, after);
        let reach = plan_slots(&failing.current.as_ref().unwrap().plan);
        assert_eq!(failing.current.as_ref().unwrap().at, 9);
        assert_eq!(failing.kept_plan_slots, (reach - 1).min(after));
        assert_eq!(good.failures, 0);
        // Until slot 10 both runs are the same run.
        assert!(r.metrics.jobs_completed > 0 && base.metrics.jobs_completed > 0);
        assert!(failing
            .notes()
            .iter()
            .any(|n| n.contains("ran on the last good plan")));
    }
}
