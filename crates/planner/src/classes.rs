//! From jobs and sites to the planner's input: sites over the window, and workload classes that
//! group jobs by eligible sites and time window, so that the model's size does not grow with
//! the number of jobs.

use crate::lp::{
    CappedLevel, Home, InferenceClass, MarketCarbon, PlanBattery, PlanInput, PlanSite, Running,
    WorkClass,
};
use crate::PlannerOptions;
use std::collections::HashMap;
use suandian_core::fleet::{FleetView, JobState};
use suandian_core::metrics::{
    acc_h_cost, breach_penalty_per_kwh, over_limit_penalty_per_kwh, ObjectiveWeights,
};
use suandian_core::model::{
    Accelerators, Battery, CarbonBasis, Economics, JobId, Scenario, SiteId,
};

/// The classes of a plan and which jobs belong to each.
#[derive(Debug, Clone, Default)]
pub struct ClassMap {
    pub members: Vec<Vec<JobId>>,
    /// The class of each job, indexed by job id, where the map knows every job of the run
    /// (the oracle's); empty for the rolling plan, which never asks.
    pub of_job: Vec<Option<usize>>,
}

fn battery(b: Option<&Battery>, soc0: f64, wear_cost_per_kwh: f64) -> Option<PlanBattery> {
    b.filter(|b| b.capacity_kwh > 0.0 && b.power_kw > 0.0)
        .map(|b| PlanBattery {
            wear_cost_per_kwh,
            end_value_per_kwh: 0.0,
            power_kw: b.power_kw,
            min_kwh: b.min_kwh(),
            max_kwh: b.max_kwh(),
            one_way_efficiency: b.one_way_efficiency(),
            soc0_kwh: soc0.clamp(b.min_kwh(), b.max_kwh()),
        })
}

/// Market-based carbon for the LP where the carbon price applies to it and the site holds
/// certificates (validation requires a residual mix with them), `share` of them for this plan.
fn market_carbon(
    eco: &Economics,
    (certificates_kwh, residual): (f64, Option<f64>),
    share: f64,
) -> Option<MarketCarbon> {
    match (eco.carbon_price_basis, residual) {
        (CarbonBasis::Market, Some(r)) if certificates_kwh > 0.0 => Some(MarketCarbon {
            certificates_kwh: certificates_kwh * share,
            residual_g_per_kwh: r,
        }),
        _ => None,
    }
}

/// A rolling class's identity: its eligible sites and its deadline as a run slot, which stay
/// the same from one re-plan to the next (the window-relative deadline does not).
///
/// A stable hash (64-bit FNV-1a over the numbers as little-endian `u64`s, with the list's
/// length and a tag for the home), not `DefaultHasher`, whose output may change between Rust
/// releases: an id can be stored and read back by another build (the live service's plans).
pub fn class_id(sites: &[SiteId], due_slot: usize, home: Option<SiteId>) -> u64 {
    let mut h = suandian_core::hash::Fnv1a::default();
    h.u64(sites.len() as u64);
    for &s in sites {
        h.u64(s as u64);
    }
    h.u64(due_slot as u64);
    match home {
        None => h.u64(0),
        Some(s) => h.u64(1).u64(s as u64),
    };
    h.finish()
}

/// The most efficient power level of an accelerator where it beats full power: with speed
/// `p^e` at level `p`, energy per unit of work is `p^(1-e)`, least at the lowest level when
/// `e < 1`; none when `e = 1`.
fn capped_level(a: &Accelerators) -> Option<CappedLevel> {
    (a.throughput_exponent < 1.0 - 1e-9 && a.min_power_level < 1.0 - 1e-9).then(|| CappedLevel {
        level: a.min_power_level,
        speed: a.speed(a.min_power_level),
    })
}

/// Tangents to the energy-per-work curve the bound's LP uses ([`tangent_levels`]).
const TANGENTS: i32 = 6;

/// The corners of an envelope under an accelerator's energy-per-work curve, for a bound.
///
/// At power level `p` a unit of work takes `r = p^-e` accelerator-hours and `g = p^(1-e)` of
/// the energy at full power: `g(r) = r^(-(1-e)/e)` is convex, so the chord between two levels
/// lies above it and an LP that mixes only full power and the lowest level ([`capped_level`])
/// spends more energy on a capacity-bound slot than a job at an intermediate level does (a
/// restriction, not a relaxation). Tangents at [`TANGENTS`] levels from full power to the
/// lowest lie under the curve; their consecutive intersections, with full power and the lowest
/// level, are the corners of a polygon whose lower edge is under the curve, so every admissible
/// level is a mix of corners that uses no more capacity and no more energy. Returned as
/// levels (`speed = 1/r`, `level = g/r`) to offer beside full power and the lowest level.
pub fn tangent_levels(a: &Accelerators) -> Vec<CappedLevel> {
    let Some(lowest) = capped_level(a) else {
        return vec![];
    };
    let e = a.throughput_exponent;
    // (r, g, slope dg/dr) at level p.
    let point = |p: f64| (p.powf(-e), p.powf(1.0 - e), -(1.0 - e) / e * p);
    let levels: Vec<f64> = (0..TANGENTS)
        .map(|i| lowest.level.powf(f64::from(i) / f64::from(TANGENTS - 1)))
        .collect();
    levels
        .windows(2)
        .filter_map(|w| {
            let (r1, g1, m1) = point(w[0]);
            let (r2, g2, m2) = point(w[1]);
            if (m1 - m2).abs() < 1e-12 {
                return None;
            }
            let r = (g2 - g1 + m1 * r1 - m2 * r2) / (m1 - m2);
            let g = g1 + m1 * (r - r1);
            (r > 0.0 && g > 0.0).then(|| CappedLevel {
                level: g / r,
                speed: 1.0 / r,
            })
        })
        .collect()
}

/// The rolling-horizon input at the current slot: `window` slots of forecasts, the jobs that
/// have arrived (running non-interruptible jobs are fixed load), and the forecast inference.
pub fn from_context(
    ctx: &dyn FleetView,
    window: usize,
    knobs: &PlannerOptions,
    weights: &ObjectiveWeights,
) -> (PlanInput, ClassMap) {
    let now = ctx.slot();
    let h = window.min(ctx.slots() - now).max(1);
    let dt = ctx.slot_h();
    let mut sites = context_sites(ctx, h);
    let eco = ctx.economics();
    let prices = window_prices(ctx, &sites, h);
    let over_limit_per_kwh = window_over_limit(ctx, &mut sites, h, prices.late_per_acc_h);
    let periods = knobs.blocks.layout(now, h, dt, &cap_edges(&sites));
    let (classes, map) = context_classes(ctx, knobs, &periods, &prices.site_acc_h_cost, &mut sites);
    value_stored_energy(ctx, knobs, h, &mut sites);
    let inference = (0..ctx.inference_regions())
        .map(|r| {
            let (s, jpt) = ctx.inference_sites(r);
            InferenceClass {
                tokens_per_s: (0..h).map(|t| ctx.inference_forecast(r, now + t)).collect(),
                sites: s.iter().copied().zip(jpt.iter().copied()).collect(),
            }
        })
        .collect();
    (
        PlanInput {
            slot_h: dt,
            periods,
            first_slot: now,
            slots: h,
            sites,
            classes,
            inference,
            carbon_price_per_t: eco.carbon_price_per_t,
            late_per_acc_h: prices.late_per_acc_h,
            deferred_per_acc_h: prices.deferred_per_acc_h,
            unserved_per_million_tokens: weights.unserved_per_million_tokens,
            over_limit_per_kwh,
            mode: knobs.mode,
            // Stored energy is valued at the window's end instead (`end_value_per_kwh`): a
            // floor at the initial charge ratcheted the battery (stored solar never used).
            keep_final_soc: false,
            bound: false,
            min_green_share: knobs.min_green_share,
            time_limit_s: knobs.time_limit_s,
            solver: knobs.solver,
        },
        map,
    )
}

/// The window slots where an announced import cap or its penalty begins or ends at some site:
/// no period of the plan spans one, so that events keep their edges at any resolution.
fn cap_edges(sites: &[PlanSite]) -> Vec<usize> {
    let h = sites.first().map_or(0, |s| s.import_limit_kw.len());
    (1..h)
        .filter(|&t| {
            sites.iter().any(|s| {
                s.import_limit_kw[t] != s.import_limit_kw[t - 1]
                    || s.over_limit_per_kwh.get(t) != s.over_limit_per_kwh.get(t - 1)
            })
        })
        .collect()
}

/// The sites over the next `h` slots, from the forecasts: no fixed load yet (the classes add
/// it) and no over-limit penalty yet (it depends on the window's late penalty).
fn context_sites(ctx: &dyn FleetView, h: usize) -> Vec<PlanSite> {
    let now = ctx.slot();
    (0..ctx.site_count())
        .map(|s| {
            let a = ctx.accelerators(s);
            PlanSite {
                accelerators: f64::from(a.count),
                dyn_kw_per_acc: (a.peak_w - a.idle_w) / 1000.0,
                idle_it_kw: a.idle_it_kw(),
                import_limit_kw: (0..h)
                    .map(|t| ctx.import_limit_forecast_kw(s, now + t))
                    .collect(),
                // Filled by `window_over_limit`, once the window's late penalty is known.
                over_limit_per_kwh: vec![],
                // The run's certificates, in proportion to the window's share of the run.
                market_carbon: market_carbon(
                    ctx.economics(),
                    ctx.certificates(s),
                    h as f64 / ctx.slots() as f64,
                ),
                export_limit_kw: ctx.export_limit_kw(s),
                feed_in_per_mwh: (0..h)
                    .map(|t| ctx.feed_in_price_forecast(s, now + t))
                    .collect(),
                battery: battery(
                    ctx.battery(s),
                    ctx.battery_soc_kwh(s),
                    ctx.battery_wear_cost_per_kwh(s),
                ),
                thermal: ctx
                    .thermal(s)
                    .map(|t| (t.capacity_kw, t.cost_per_kwh, t.g_co2_per_kwh)),
                pue: (0..h).map(|t| ctx.pue_forecast(s, now + t)).collect(),
                price_per_mwh: (0..h).map(|t| ctx.price_forecast(s, now + t)).collect(),
                carbon_g_per_kwh: (0..h).map(|t| ctx.carbon_forecast(s, now + t)).collect(),
                green_kw: (0..h).map(|t| ctx.green_forecast_kw(s, now + t)).collect(),
                fixed_acc: vec![0.0; h],
                capped: capped_level(a),
                bound_levels: vec![],
            }
        })
        .collect()
}

/// What work costs over the window, from the forecasts ([`window_prices`]).
struct WindowPrices {
    /// Per site: the mean cost of an accelerator-hour.
    site_acc_h_cost: Vec<f64>,
    late_per_acc_h: f64,
    deferred_per_acc_h: f64,
}

/// The forecast cost of an accelerator-hour at each site and window slot, computed once: its
/// mean per site prices deferred work; the late and deferral prices as the objective defines
/// them ([`ObjectiveWeights`]) come from all of them, estimated from what the policy may know
/// (the window's forecasts, not the whole run).
fn window_prices(ctx: &dyn FleetView, sites: &[PlanSite], h: usize) -> WindowPrices {
    let eco = ctx.economics();
    let per_site: Vec<Vec<f64>> = sites
        .iter()
        .map(|s| {
            (0..h)
                .map(|t| {
                    acc_h_cost(
                        s.dyn_kw_per_acc,
                        s.pue[t],
                        s.price_per_mwh[t],
                        eco.carbon_price_per_t,
                        s.carbon_g_per_kwh[t],
                    )
                })
                .collect()
        })
        .collect();
    let site_acc_h_cost: Vec<f64> = per_site
        .iter()
        .map(|c| c.iter().sum::<f64>() / h as f64)
        .collect();
    let acc_h_costs: Vec<f64> = per_site.into_iter().flatten().collect();
    let late_per_acc_h = (5.0 * acc_h_costs.iter().copied().fold(0.0, f64::max)).max(0.01);
    let deferred_per_acc_h =
        (acc_h_costs.iter().sum::<f64>() / acc_h_costs.len().max(1) as f64).max(0.0);
    WindowPrices {
        site_acc_h_cost,
        late_per_acc_h,
        deferred_per_acc_h,
    }
}

/// The breach penalty: the scenario's, else its default (`default_over_limit_per_kwh`'s rule,
/// [`breach_penalty_per_kwh`]) from the window's late penalty and PUE forecasts, not the whole
/// run's; an announced event's own penalty in the slots it caps (set per site and slot; the
/// plan's default returned).
fn window_over_limit(
    ctx: &dyn FleetView,
    sites: &mut [PlanSite],
    h: usize,
    late_per_acc_h: f64,
) -> f64 {
    let now = ctx.slot();
    let over_limit_per_kwh = ctx.economics().over_limit_per_kwh.unwrap_or_else(|| {
        breach_penalty_per_kwh(
            late_per_acc_h,
            sites.iter().enumerate().map(|(s, site)| {
                let min_pue = site.pue.iter().copied().fold(f64::INFINITY, f64::min);
                (ctx.accelerators(s), min_pue)
            }),
        )
    });
    for (s, site) in sites.iter_mut().enumerate() {
        site.over_limit_per_kwh = (0..h)
            .map(|t| {
                ctx.dr_penalty_forecast_per_kwh(s, now + t)
                    .unwrap_or(over_limit_per_kwh)
            })
            .collect();
    }
    over_limit_per_kwh
}

/// The classes of the jobs that have arrived, in the order their first job comes in the
/// active jobs, and which jobs belong to each. Running non-interruptible jobs are no class but
/// fixed load at their site (added to `sites`).
fn context_classes(
    ctx: &dyn FleetView,
    knobs: &PlannerOptions,
    periods: &[usize],
    site_acc_h_cost: &[f64],
    sites: &mut [PlanSite],
) -> (Vec<WorkClass>, ClassMap) {
    let now = ctx.slot();
    let dt = ctx.slot_h();
    let h: usize = periods.iter().sum();
    let eco = ctx.economics();
    let now_h = ctx.now_h();
    // Deadlines within a period longer than a slot are planned at its start (the plan cannot
    // tell its slots apart: earlier, so still met), and deadlines beyond the window in buckets
    // of four of its longest periods: fewer classes where the window is in blocks.
    let period_start: Vec<usize> = periods
        .iter()
        .scan(0, |start, &n| {
            let s = *start;
            *start += n;
            Some(std::iter::repeat_n(s, n))
        })
        .flatten()
        .collect();
    let bucket = 4 * periods.iter().copied().max().unwrap_or(1);
    let steered = knobs.steered_slots(dt).min(h);
    // Work left after the end of the run is charged as late (as the objective does), so
    // deferring past the window is only priced at the expected cost while the run goes on.
    let window_reaches_end = now + h >= ctx.slots();
    let mut key_of: HashMap<(Vec<SiteId>, usize, Option<SiteId>), usize> = HashMap::new();
    let mut classes: Vec<WorkClass> = Vec::new();
    let mut map = ClassMap::default();
    // Per class: the price of moving every job, and the work they could do after moving.
    let mut move_cost: Vec<(f64, f64)> = Vec::new();
    let move_slots = (ctx.migration_h() / dt - 1e-9).ceil().max(0.0) as usize;
    for &j in ctx.active_jobs() {
        let Some(job) = ctx.job(j) else { continue };
        let state = ctx.state(j);
        // A suspended job's restart is work the plan must fit too.
        let remaining = ctx.work_left_h(j);
        if state == JobState::Migrating || ctx.remaining_h(j) <= 0.0 {
            continue;
        }
        if state == JobState::Running && !job.interruptible {
            let s = ctx.job_site(j);
            let slots = ((remaining / dt).ceil() as usize).min(h);
            for t in 0..slots {
                sites[s].fixed_acc[t] += f64::from(job.accelerators);
            }
            continue;
        }
        // A started job resumes where it is, or, if it may migrate, anywhere it may run at the
        // price of moving its data (and not before the move is over).
        let movable = knobs.migrate && job.migratable && job.allowed_sites.len() > 1;
        let (eligible, home) = match (ctx.has_started(j), movable) {
            (false, _) => (job.allowed_sites.clone(), None),
            (true, false) => (vec![ctx.job_site(j)], None),
            (true, true) => (job.allowed_sites.clone(), Some(ctx.job_site(j))),
        };
        let due = window_due(job.deadline_h, now_h, dt, h, bucket, ctx.slots_per_day());
        let due = period_start.get(due).copied().unwrap_or(due);
        let key = (eligible.clone(), due, home);
        let k = *key_of.entry(key).or_insert_with(|| {
            let cost = eligible
                .iter()
                .map(|s| site_acc_h_cost[*s])
                .fold(f64::INFINITY, f64::min);
            classes.push(WorkClass {
                id: class_id(&eligible, now + due, home),
                sites: eligible.clone(),
                work_acc_h: 0.0,
                start: 0,
                start_fraction: 1.0,
                due,
                max_acc: 0.0,
                defer_cost_per_acc_h: (!window_reaches_end).then_some(cost),
                due_after_run: window_reaches_end && due > h,
                home: home.map(|site| Home {
                    site,
                    move_cost_per_acc_h: 0.0,
                    move_slots,
                }),
                running: vec![],
                restart_acc_h: 0.0,
            });
            map.members.push(Vec::new());
            move_cost.push((0.0, 0.0));
            classes.len() - 1
        });
        classes[k].work_acc_h += remaining * f64::from(job.accelerators);
        classes[k].max_acc += f64::from(job.accelerators);
        if state == JobState::Running && ctx.restart_h() > 0.0 {
            // Pausing it now costs a restart later: the plan weighs that.
            let site = ctx.job_site(j);
            let acc = f64::from(job.accelerators);
            let acc_h = acc * dt.min(remaining);
            // And in the later slots this plan steers before the next.
            let later = (1..steered)
                .map(|t| acc * (remaining - t as f64 * dt).clamp(0.0, dt))
                .collect();
            let stop_cost_per_acc_h = ctx.restart_h() / dt * site_acc_h_cost[site];
            add_running(&mut classes[k], site, acc_h, later, stop_cost_per_acc_h);
        }
        if home.is_some() {
            // A move is paid in full however little of the job then runs there: spread its
            // price over the most of its work the window can hold after the move.
            let away_h = (h.saturating_sub(move_slots) as f64 * dt).min(remaining);
            move_cost[k].0 += job.migration_cost(eco);
            move_cost[k].1 += away_h * f64::from(job.accelerators);
        }
        map.members[k].push(j);
    }
    for (c, (cost, work)) in classes.iter_mut().zip(&move_cost) {
        if let Some(home) = &mut c.home {
            home.move_cost_per_acc_h = cost / work.max(1e-9);
        }
    }
    (classes, map)
}

/// A job's deadline as a window slot: slots wholly before it; beyond the window, bucketed by
/// `bucket` slots (so that fewer classes form); without one, two days beyond the window.
fn window_due(
    deadline_h: f64,
    now_h: f64,
    dt: f64,
    h: usize,
    bucket: usize,
    slots_per_day: usize,
) -> usize {
    if deadline_h.is_finite() {
        let d = ((deadline_h - now_h) / dt + 1e-9).floor().max(0.0) as usize;
        if d > h {
            h + (d - h).div_ceil(bucket) * bucket
        } else {
            d
        }
    } else {
        h + 24 * slots_per_day / 24 * 2
    }
}

/// A job of class `c` running at `site`: its accelerator-hours in the first slot join the
/// class's running work there, which the plan keeps or pauses at the price of its restart.
fn add_running(
    c: &mut WorkClass,
    site: SiteId,
    acc_h: f64,
    later_acc_h: Vec<f64>,
    stop_cost_per_acc_h: f64,
) {
    if let Some(pos) = c.sites.iter().position(|&s| s == site) {
        match c.running.iter_mut().find(|r| r.pos == pos) {
            Some(r) => {
                r.acc_h += acc_h;
                for (a, b) in r.later_acc_h.iter_mut().zip(&later_acc_h) {
                    *a += b;
                }
            }
            None => c.running.push(Running {
                pos,
                acc_h,
                later_acc_h,
                stop_cost_per_acc_h,
            }),
        }
    }
}

/// A kWh left in a battery at the window's end serves the load after it: it is worth the
/// forecast mean cost of a kWh over the day beyond the window, as delivered (one-way
/// efficiency) and less the wear of delivering it. Nothing beyond the run's end.
fn value_stored_energy(
    ctx: &dyn FleetView,
    knobs: &PlannerOptions,
    h: usize,
    sites: &mut [PlanSite],
) {
    let now = ctx.slot();
    let eco = ctx.economics();
    for (s, site) in sites.iter_mut().enumerate() {
        let Some(b) = &mut site.battery else { continue };
        let beyond = (now + h)..(now + h + ctx.slots_per_day()).min(ctx.slots());
        if beyond.is_empty() {
            continue;
        }
        let n = beyond.len() as f64;
        let mean: f64 = beyond
            .map(|t| {
                crate::lp::energy_weight(
                    knobs.mode,
                    ctx.price_forecast(s, t) / 1000.0,
                    ctx.carbon_forecast(s, t),
                    eco.carbon_price_per_t,
                )
            })
            .sum::<f64>()
            / n;
        let wear = match knobs.mode {
            crate::lp::ObjectiveMode::Carbon => 0.0,
            _ => b.wear_cost_per_kwh,
        };
        b.end_value_per_kwh = (b.one_way_efficiency * mean - wear).max(0.0);
    }
}

/// The oracle's input: the whole run, the true series, every job known in advance. Jobs are
/// grouped by arrival bucket (`bucket` slots), eligible sites and deadline; a coarser bucket
/// only loosens the model, so its optimum stays a lower bound of what any policy can achieve.
pub fn from_scenario(
    sc: &Scenario,
    bucket: usize,
    knobs: &PlannerOptions,
    weights: &ObjectiveWeights,
) -> (PlanInput, ClassMap) {
    let h = sc.grid.slots;
    let dt = sc.grid.slot_h();
    let sites = scenario_sites(sc, weights);
    let bucket = bucket.max(1);
    let mut key_of: HashMap<(usize, Vec<SiteId>, usize), usize> = HashMap::new();
    let mut classes: Vec<WorkClass> = Vec::new();
    let mut map = ClassMap {
        members: Vec::new(),
        of_job: vec![None; sc.jobs.len()],
    };
    // Arrivals in time order: the instants a policy may act at besides slot starts.
    let mut arrivals: Vec<f64> = sc.jobs.iter().map(|j| j.arrival_h).collect();
    arrivals.sort_by(f64::total_cmp);
    for (j, job) in sc.jobs.iter().enumerate() {
        let arrival_slot = sc.grid.slot_of(job.arrival_h).min(h - 1);
        let b = arrival_slot / bucket;
        // Slots that start before the deadline (a job may work in the part of the slot before
        // it): the looser choice keeps the oracle a bound.
        let due = if job.deadline_h.is_finite() {
            (((job.deadline_h / dt) - 1e-9).ceil().max(0.0) as usize).min(h)
        } else {
            h
        };
        let due_b = if bucket > 1 {
            (due.div_ceil(bucket) * bucket).min(h)
        } else {
            due
        };
        let key = (b, job.allowed_sites.clone(), due_b);
        let k = *key_of.entry(key).or_insert_with(|| {
            classes.push(WorkClass {
                id: classes.len() as u64,
                sites: job.allowed_sites.clone(),
                work_acc_h: 0.0,
                start: arrival_slot,
                start_fraction: 0.0,
                due: due_b,
                max_acc: 0.0,
                defer_cost_per_acc_h: None,
                due_after_run: false,
                home: None,
                running: vec![],
                restart_acc_h: 0.0,
            });
            map.members.push(Vec::new());
            classes.len() - 1
        });
        let c = &mut classes[k];
        // One job due after the run makes the class's undone work cheap: looser, still a bound.
        c.due_after_run |= job.deadline_h > sc.grid.horizon_h();
        c.work_acc_h += job.work_acc_h();
        c.max_acc += f64::from(job.accelerators);
        if job.interruptible {
            // Each resume adds a restart, and a job can be resumed at most once at each
            // instant a policy acts after its arrival: every later slot start and arrival.
            let later_arrivals = arrivals.len() - arrivals.partition_point(|&a| a <= job.arrival_h);
            let instants = (h - 1 - arrival_slot + later_arrivals) as f64;
            c.restart_acc_h += sc.dispatch.restart_h * f64::from(job.accelerators) * instants;
        }
        if arrival_slot < c.start {
            c.start = arrival_slot;
            c.start_fraction = 0.0;
        }
        if arrival_slot == c.start {
            let frac = (sc.grid.slot_start_h(arrival_slot + 1) - job.arrival_h) / dt;
            c.start_fraction = c.start_fraction.max(frac.clamp(0.0, 1.0));
        } else if bucket > 1 {
            // A later arrival in the bucket: allow the whole first slot (a looser model).
            c.start_fraction = 1.0;
        }
        map.members[k].push(j);
        map.of_job[j] = Some(k);
    }
    let inference = sc
        .inference
        .iter()
        .map(|d| InferenceClass {
            tokens_per_s: d.tokens_per_s.clone(),
            sites: d
                .sites
                .iter()
                .copied()
                .zip(d.joules_per_token.iter().copied())
                .collect(),
        })
        .collect();
    (
        PlanInput {
            slot_h: dt,
            // The bound plans every slot (a coarser period would not be a relaxation: prices
            // and green supply vary within it).
            periods: vec![],
            first_slot: 0,
            slots: h,
            sites,
            classes,
            inference,
            carbon_price_per_t: sc.economics.carbon_price_per_t,
            late_per_acc_h: weights.late_per_acc_h,
            deferred_per_acc_h: weights.deferred_per_acc_h,
            unserved_per_million_tokens: weights.unserved_per_million_tokens,
            over_limit_per_kwh: weights.over_limit_per_kwh,
            mode: knobs.mode,
            keep_final_soc: false,
            bound: true,
            min_green_share: knobs.min_green_share,
            time_limit_s: knobs.time_limit_s,
            solver: knobs.solver,
        },
        map,
    )
}

/// The sites over the whole run, from the true series; a bound's levels below full power.
fn scenario_sites(sc: &Scenario, weights: &ObjectiveWeights) -> Vec<PlanSite> {
    let h = sc.grid.slots;
    sc.sites
        .iter()
        .enumerate()
        .map(|(si, s)| {
            let a = &s.accelerators;
            PlanSite {
                accelerators: f64::from(a.count),
                dyn_kw_per_acc: (a.peak_w - a.idle_w) / 1000.0,
                idle_it_kw: a.idle_it_kw(),
                import_limit_kw: (0..h).map(|t| sc.import_limit_kw(si, t)).collect(),
                over_limit_per_kwh: (0..h)
                    .map(|t| over_limit_penalty_per_kwh(sc, si, t, weights.over_limit_per_kwh))
                    .collect(),
                market_carbon: market_carbon(
                    &sc.economics,
                    (
                        s.grid.green_certificates_kwh,
                        s.grid.residual_mix_g_co2_per_kwh,
                    ),
                    1.0,
                ),
                export_limit_kw: s.grid.export_limit_kw,
                feed_in_per_mwh: s.grid.feed_in_price_per_mwh.clone(),
                battery: battery(
                    s.battery.as_ref(),
                    s.battery
                        .as_ref()
                        .map_or(0.0, |b| b.capacity_kwh * b.soc_initial),
                    sc.battery_wear_cost_per_kwh(si),
                ),
                thermal: s
                    .thermal
                    .as_ref()
                    .map(|t| (t.capacity_kw, t.cost_per_kwh, t.g_co2_per_kwh)),
                pue: (0..h).map(|t| s.pue.at(t)).collect(),
                price_per_mwh: s.grid.price_per_mwh.clone(),
                carbon_g_per_kwh: s.grid.carbon_g_per_kwh.clone(),
                green_kw: (0..h).map(|t| s.green_kw(t)).collect(),
                fixed_acc: vec![0.0; h],
                capped: capped_level(a),
                bound_levels: tangent_levels(a),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::class_id;

    /// Pinned values: a change to the hash changes stored identities, and must be deliberate.
    #[test]
    fn class_ids_are_stable() {
        assert_eq!(class_id(&[0, 2], 10, None), class_id(&[0, 2], 10, None));
        assert_ne!(class_id(&[0, 2], 10, None), class_id(&[2, 0], 10, None));
        assert_ne!(class_id(&[0, 2], 10, None), class_id(&[0, 2], 10, Some(0)));
        assert_ne!(class_id(&[0], 2, None), class_id(&[0, 2], 0, None));
        assert_eq!(class_id(&[0, 2], 10, None), PINNED);
    }

    /// FNV-1a of the little-endian u64s 2, 0, 2, 10, 0, computed independently.
    const PINNED: u64 = 5_092_505_730_760_224_591;
}
