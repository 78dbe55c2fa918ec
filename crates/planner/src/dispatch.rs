//! From a plan's capacity envelopes to concrete job decisions.
//!
//! For each class and site the plan gives accelerator-hours for the current slot; divided by the
//! slot length that is a number of accelerators to keep busy. The dispatcher fills it with the
//! class's jobs, least slack first, keeping jobs that already run there (no needless churn),
//! suspending interruptible jobs the plan does not want this slot, and starting waiting ones.
//! Two rules override the plan so that no job misses a deadline that `asap` would have met:
//! a job whose slack is less than [`URGENT_SLOTS`] slots is started first, wherever it may run,
//! pre-empting running jobs that have slack to spare if it must; and a running job with that
//! little slack is never suspended. Where a site can be wholly taken by a job another cannot
//! run beside ([`SiteBlocking`], learned from the jobs that have arrived), both rules also
//! count the hours it may be kept out: a suspended job must resume where it ran.

use crate::classes::ClassMap;
use suandian_core::fleet::{Fleet, FleetView, JobState, Reject};
use suandian_core::model::{JobId, SiteId};

/// A job with less slack than this many slots is urgent.
pub const URGENT_SLOTS: f64 = 1.0;

/// Slack of a job now: hours it can still wait and meet its deadline (a suspended job's
/// restart counted).
pub fn slack_h(ctx: &dyn FleetView, job: JobId) -> f64 {
    let Some(j) = ctx.job(job) else {
        return f64::INFINITY;
    };
    j.deadline_h - ctx.now_h() - ctx.work_left_h(job)
}

/// How long a site can be wholly taken by work a job cannot run beside, learned from the jobs
/// that have arrived: per site, the longest run time seen for each job size that may run there.
#[derive(Debug, Clone, Default)]
pub struct SiteBlocking {
    sizes: Vec<Vec<(u32, f64)>>,
    /// An upper bound of [`SiteBlocking::hours`] over every site and job size.
    bound_h: f64,
}

impl SiteBlocking {
    /// Note a job that has arrived.
    pub fn observe(&mut self, ctx: &dyn FleetView, j: JobId) {
        let Some(job) = ctx.job(j) else { return };
        if self.sizes.len() < ctx.site_count() {
            self.sizes.resize(ctx.site_count(), Vec::new());
        }
        let mut changed = false;
        for &s in &job.allowed_sites {
            let sizes = &mut self.sizes[s];
            match sizes.iter_mut().find(|(acc, _)| *acc == job.accelerators) {
                Some((_, h)) if *h >= job.runtime_h => {}
                Some((_, h)) => {
                    *h = job.runtime_h;
                    changed = true;
                }
                None => {
                    sizes.push((job.accelerators, job.runtime_h));
                    changed = true;
                }
            }
        }
        if changed {
            // The biggest job seen at a site bounds what any job there can be kept out by.
            self.bound_h = (0..self.sizes.len())
                .map(|s| {
                    let biggest = self.sizes[s].iter().map(|x| x.0).max().unwrap_or(0);
                    self.hours(ctx, s, biggest)
                })
                .fold(0.0, f64::max);
        }
    }

    /// The longest a job of `acc` accelerators at `site` may wait for one it cannot run
    /// beside, in hours (0 where every job seen fits beside it).
    pub fn hours(&self, ctx: &dyn FleetView, site: SiteId, acc: u32) -> f64 {
        let cap = ctx.accelerators(site).count;
        self.sizes.get(site).map_or(0.0, |sizes| {
            sizes
                .iter()
                .filter(|(a, _)| a + acc > cap)
                .map(|(_, h)| *h)
                .fold(0.0, f64::max)
        })
    }
}

fn slot_acc(ctx: &dyn FleetView, j: JobId) -> u32 {
    ctx.job(j).map_or(0, |x| x.accelerators)
}

/// What a running job does this slot at its power level, in accelerator-hours of work at
/// full speed.
fn slot_work(ctx: &dyn FleetView, j: JobId) -> f64 {
    slot_work_at(ctx, j, ctx.job_site(j), ctx.power_level(j))
}

/// The plan's power level for a job, or full power where the job has not the slack to spare
/// at the slower pace (the hysteresis, as for suspending it).
/// `levels` holds the plan's level per class `k` and eligible site `pos` (1 where missing).
fn usable_level(
    ctx: &dyn FleetView,
    blocking: &SiteBlocking,
    j: JobId,
    site: SiteId,
    levels: &[Vec<f64>],
    (k, pos): (usize, usize),
) -> f64 {
    let planned = levels
        .get(k)
        .and_then(|l| l.get(pos))
        .copied()
        .unwrap_or(1.0);
    // Full power needs no check (the common case: no site with a capped level).
    if planned >= 1.0 {
        return 1.0;
    }
    let margin_h = urgent_lead_h(ctx, blocking, j) + 6.0 * ctx.slot_h();
    if slack_at_h(ctx, j, site, planned) >= margin_h {
        planned
    } else {
        1.0
    }
}

/// The lowest power level at `site` whose speed a job's flexibility tier allows while an
/// event caps the site (full power without a tier).
fn tier_level(ctx: &dyn FleetView, j: JobId, site: SiteId) -> f64 {
    let Some(min_speed) = ctx.job(j).and_then(|x| x.flex_min_speed()) else {
        return 1.0;
    };
    let acc = ctx.accelerators(site);
    let level = if acc.throughput_exponent > 0.0 {
        min_speed.powf(1.0 / acc.throughput_exponent)
    } else {
        1.0
    };
    // A hair above, so that the speed it gives is not a rounding below the tier's.
    (level + 1e-9).clamp(acc.min_power_level, 1.0)
}

/// Slack of a job run at `level` at `site` from now on: below full power it takes longer.
fn slack_at_h(ctx: &dyn FleetView, j: JobId, site: SiteId, level: f64) -> f64 {
    let Some(job) = ctx.job(j) else {
        return f64::INFINITY;
    };
    let speed = ctx.accelerators(site).speed(level).max(1e-9);
    job.deadline_h - ctx.now_h() - ctx.work_left_h(j) / speed
}

/// What a job would do this slot at `site` at power level `level`, in accelerator-hours of
/// work at full speed.
fn slot_work_at(ctx: &dyn FleetView, j: JobId, site: SiteId, level: f64) -> f64 {
    let acc = f64::from(ctx.job(j).map_or(0, |x| x.accelerators));
    // Full power is full speed: no `powf` per running job on the common path.
    let speed = if level >= 1.0 {
        1.0
    } else {
        ctx.accelerators(site).speed(level)
    };
    acc * ctx.remaining_h(j).min(speed * ctx.slot_h())
}

/// A job with its slack, ordered least slack first (for sorting and the heap of waiting jobs).
#[derive(Clone, Copy)]
struct BySlack(f64, JobId);

impl PartialEq for BySlack {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}
impl Eq for BySlack {}
impl PartialOrd for BySlack {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for BySlack {
    /// Reversed, so that `BinaryHeap` pops the least slack first; ties by job id.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.0.total_cmp(&self.0).then(other.1.cmp(&self.1))
    }
}

/// Apply the targets (accelerator-hours this slot per class and eligible site, same order as
/// the class's sites) at the slot start. A job is run where at least half of what it would do
/// this slot fits in what the plan has left (so a job near its end is not suspended for want
/// of a whole slot's room). Members that are done are dropped from `map`.
///
/// A slot costs one pass over the live members (state and slack read once per job), a sort
/// only where the plan cannot keep every running job, and heap pops only for the waiting jobs
/// of classes with room left: a slot where little changes costs little, however many wait.
pub fn apply(
    ctx: &mut dyn Fleet,
    blocking: &SiteBlocking,
    map: &mut ClassMap,
    class_sites: &[Vec<SiteId>],
    targets: &[Vec<f64>],
    levels: &[Vec<f64>],
) -> Vec<Vec<f64>> {
    let mut left: Vec<Vec<f64>> = targets.to_vec();
    let mut waiting_by_class: Vec<Vec<BySlack>> = Vec::with_capacity(map.members.len());
    let mut urgent: Vec<BySlack> = Vec::new();
    let mut running: Vec<BySlack> = Vec::new();
    for (k, members) in map.members.iter_mut().enumerate() {
        // 1. One pass: drop finished members, split the others by state.
        let mut waiting = Vec::new();
        running.clear();
        members.retain(|&j| match ctx.state(j) {
            JobState::Done | JobState::Cancelled => false,
            JobState::Running => {
                running.push(BySlack(slack_h(ctx, j), j));
                true
            }
            JobState::Queued | JobState::Suspended => {
                let slack = slack_h(ctx, j);
                // The exact lead looks at the job's sites; most jobs are far above its bound.
                if slack < max_urgent_lead_h(ctx, blocking, j)
                    && slack < urgent_lead_h(ctx, blocking, j)
                {
                    urgent.push(BySlack(slack, j));
                } else {
                    waiting.push(BySlack(slack, j));
                }
                true
            }
            _ => true,
        });
        waiting_by_class.push(waiting);
        // 2. Running jobs: keep those the plan wants (or that cannot wait), suspend the others,
        //    least slack kept first. Where the plan has room for all, nothing is sorted.
        let Some(sites) = class_sites.get(k) else {
            continue;
        };
        let mut demand = vec![0.0; sites.len()];
        for &BySlack(_, j) in &running {
            if let Some(pos) = sites.iter().position(|s| *s == ctx.job_site(j)) {
                demand[pos] += slot_work(ctx, j);
            }
        }
        if demand.iter().zip(&left[k]).any(|(d, l)| d > l) {
            running.sort_unstable_by(|a, b| b.cmp(a));
        }
        for &BySlack(slack, j) in &running {
            let acc = slot_work(ctx, j);
            let Some(pos) = sites.iter().position(|s| *s == ctx.job_site(j)) else {
                continue;
            };
            // Hysteresis: only a job with plenty of slack is suspended, so that it does not turn
            // urgent at a site that has filled up meanwhile, or that a job it cannot run
            // beside holds for hours (a suspended job must resume where it is).
            // Suspending it also costs a restart when it resumes.
            let hold_h = 6.0 * ctx.slot_h()
                + ctx.restart_h()
                + 0.5 * ctx.remaining_h(j)
                + blocking.hours(ctx, ctx.job_site(j), slot_acc(ctx, j));
            let keep_anyway = slack < max_urgent_lead_h(ctx, blocking, j) + hold_h
                && slack < urgent_lead_h(ctx, blocking, j) + hold_h;
            if left[k][pos] >= acc * 0.5 || keep_anyway {
                let site = sites[pos];
                let level = usable_level(ctx, blocking, j, site, levels, (k, pos));
                // A job runs at the power level the plan asks for (an interruptible one's
                // level changes where it runs; a level its flexibility tier does not allow
                // under an event, the lowest it does).
                if (level - ctx.power_level(j)).abs() > 1e-9
                    && ctx.job(j).is_some_and(|x| x.interruptible)
                {
                    match ctx.set_level(j, level) {
                        Ok(()) => {}
                        Err(Reject::FlexTier) => {
                            let floor = tier_level(ctx, j, site);
                            if (floor - ctx.power_level(j)).abs() > 1e-9 {
                                let _ = ctx.set_level(j, floor);
                            }
                        }
                        // The supply (or the level) does not allow it: at full power.
                        Err(Reject::NoPower | Reject::BadPowerLevel | Reject::NoCapacity) => {
                            let _ = ctx.set_level(j, 1.0);
                        }
                        Err(_) => {}
                    }
                }
                left[k][pos] -= slot_work(ctx, j);
            } else if ctx.suspend(j) == Err(Reject::FlexTier) {
                // Its tier keeps it running under the event: slowed as far as the tier allows,
                // and counted against what the plan has for the class.
                let floor = tier_level(ctx, j, ctx.job_site(j));
                if floor < ctx.power_level(j) - 1e-9 {
                    let _ = ctx.set_level(j, floor);
                }
                left[k][pos] -= slot_work(ctx, j);
            }
        }
    }
    // 3. Urgent jobs before anything else; sites held for urgent jobs that could not start.
    let held = start_urgent_jobs(ctx, urgent);
    // 4. Waiting jobs, least slack first, while the class has room at some site.
    for (k, waiting) in waiting_by_class.into_iter().enumerate() {
        let Some(sites) = class_sites.get(k) else {
            continue;
        };
        let mut heap = std::collections::BinaryHeap::from(waiting);
        while left[k].iter().any(|l| *l > 1e-9) {
            let Some(BySlack(_, j)) = heap.pop() else {
                break;
            };
            let need = ctx.job(j).map_or(u32::MAX, |x| x.accelerators);
            // Sites by most room left in the plan.
            let mut order: Vec<usize> = (0..sites.len()).collect();
            order.sort_by(|a, b| left[k][*b].total_cmp(&left[k][*a]));
            for pos in order {
                let site = sites[pos];
                let level = usable_level(ctx, blocking, j, site, levels, (k, pos));
                let work = slot_work_at(ctx, j, site, level);
                if left[k][pos] < work * 0.5 {
                    continue;
                }
                if held.contains(&site) || (ctx.has_started(j) && ctx.job_site(j) != site) {
                    continue;
                }
                if ctx.free_accelerators(site) >= need
                    && fits_under_announced_caps(ctx, j, site, level)
                    && ctx.start(j, site, level).is_ok()
                {
                    left[k][pos] -= work;
                    break;
                }
            }
        }
    }
    left
}

/// Whether a job started now at `site` and `level` keeps the site's import under every
/// demand-response cap announced so far, in each slot its run would cover. Always true for an
/// interruptible job (it can be paused when a cap comes). A non-interruptible one cannot, so
/// its whole run must fit: in each capped slot, the site's idle load, the other
/// non-interruptible jobs still running there then and this job, at the forecast PUE, less the
/// forecast green output, must stay under the cap (the battery is not counted on: it may be
/// empty). The plan treats such jobs as divisible work; this is the dispatcher's guard.
pub fn fits_under_announced_caps(ctx: &dyn FleetView, j: JobId, site: SiteId, level: f64) -> bool {
    let Some(job) = ctx.job(j) else { return true };
    if job.interruptible {
        return true;
    }
    let a = ctx.accelerators(site);
    let dt = ctx.slot_h();
    let end_h = ctx.now_h() + ctx.remaining_h(j) / a.speed(level).max(1e-9);
    let last = (((end_h / dt) - 1e-9).ceil().max(0.0) as usize).min(ctx.slots());
    let base = ctx.import_limit_kw(site);
    let mut others: Option<Vec<(f64, f64)>> = None;
    for t in ctx.slot()..last {
        let limit = ctx.import_limit_forecast_kw(site, t);
        if limit >= base {
            continue;
        }
        // Non-interruptible jobs running here: when they end, and their extra power.
        let others = others.get_or_insert_with(|| {
            ctx.active_jobs()
                .iter()
                .copied()
                .filter(|&o| o != j && ctx.state(o) == JobState::Running && ctx.job_site(o) == site)
                .filter_map(|o| {
                    let oj = ctx.job(o)?;
                    let level = ctx.power_level(o);
                    (!oj.interruptible).then(|| {
                        let end = ctx.now_h() + ctx.remaining_h(o) / a.speed(level).max(1e-9);
                        (end, f64::from(oj.accelerators) * a.busy_extra_kw(level))
                    })
                })
                .collect()
        });
        let slot_start_h = t as f64 * dt;
        let busy_kw: f64 = others
            .iter()
            .filter(|(end, _)| *end > slot_start_h)
            .map(|(_, kw)| kw)
            .sum::<f64>()
            + f64::from(job.accelerators) * a.busy_extra_kw(level);
        let import_kw =
            ctx.pue_forecast(site, t) * (a.idle_it_kw() + busy_kw) - ctx.green_forecast_kw(site, t);
        if import_kw > limit + 1e-9 {
            return false;
        }
    }
    true
}

/// Move started jobs of a class from `from` to `to` where the plan runs that much of the class
/// once the move is over: up to `acc` accelerators of jobs, those with the most work left
/// first (they gain the most), and only jobs whose slack covers the move and a wait at the
/// other end as the hysteresis asks. Returns the accelerators moved.
pub fn migrate_planned(
    ctx: &mut dyn Fleet,
    blocking: &SiteBlocking,
    members: &[JobId],
    from: SiteId,
    to: SiteId,
    acc: f64,
) -> f64 {
    let mut movable: Vec<(f64, JobId)> = members
        .iter()
        .copied()
        .filter(|&j| {
            matches!(ctx.state(j), JobState::Running | JobState::Suspended)
                && ctx.job_site(j) == from
                && ctx.job(j).is_some_and(|x| x.migratable && x.allowed(to))
        })
        .filter(|&j| {
            let wait_h = ctx.migration_h()
                + 6.0 * ctx.slot_h()
                + 0.5 * ctx.remaining_h(j)
                + blocking.hours(ctx, to, slot_acc(ctx, j));
            slack_h(ctx, j) > wait_h + urgent_lead_h(ctx, blocking, j)
        })
        .map(|j| (ctx.remaining_h(j), j))
        .collect();
    movable.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut moved = 0.0;
    for (_, j) in movable {
        let need = f64::from(slot_acc(ctx, j));
        if moved + 0.5 * need > acc {
            continue;
        }
        if ctx.migrate(j, to).is_ok() {
            moved += need;
        }
    }
    moved
}

/// Whether a waiting job must start now (or very soon) to keep its deadline: its slack is
/// under [`URGENT_SLOTS`] slots plus a tenth of its remaining run time (big jobs need time for
/// a site to make room).
pub fn is_urgent(ctx: &dyn FleetView, blocking: &SiteBlocking, j: JobId) -> bool {
    slack_h(ctx, j) < urgent_lead_h(ctx, blocking, j)
}

/// An upper bound of [`urgent_lead_h`] that needs no look at the job's sites.
fn max_urgent_lead_h(ctx: &dyn FleetView, blocking: &SiteBlocking, j: JobId) -> f64 {
    (URGENT_SLOTS + 2.0) * ctx.slot_h() + 0.1 * ctx.remaining_h(j) + blocking.bound_h
}

/// How early a job turns urgent: [`drain_lead_h`], plus, where a job it cannot run beside
/// may take every site it could use, the longest such job's run (it must start before its
/// slack is less than that).
fn urgent_lead_h(ctx: &dyn FleetView, blocking: &SiteBlocking, j: JobId) -> f64 {
    let Some(job) = ctx.job(j) else { return 0.0 };
    let blocked_h = if ctx.has_started(j) {
        blocking.hours(ctx, ctx.job_site(j), job.accelerators)
    } else {
        job.allowed_sites
            .iter()
            .map(|&s| blocking.hours(ctx, s, job.accelerators))
            .fold(f64::INFINITY, f64::min)
    };
    drain_lead_h(ctx, j) + blocked_h
}

/// One slot, plus a tenth of the job's remaining run time, plus up to two slots for a job that
/// needs a whole site (a site takes time to drain for it).
fn drain_lead_h(ctx: &dyn FleetView, j: JobId) -> f64 {
    let Some(job) = ctx.job(j) else { return 0.0 };
    let biggest = job
        .allowed_sites
        .iter()
        .map(|s| ctx.accelerators(*s).count)
        .max()
        .unwrap_or(1)
        .max(1);
    let share = f64::from(job.accelerators) / f64::from(biggest);
    (URGENT_SLOTS + 2.0 * share * share) * ctx.slot_h() + 0.1 * ctx.remaining_h(j)
}

/// Start every urgent waiting job, least slack first, at the lowest-carbon site it may run on
/// that has room (where it already ran, if it has started). Where none has, pre-empt running
/// jobs with more slack at the site that can free the most, and hold that site: no planned
/// start is made there until the urgent job has started. Returns the held sites.
pub fn start_urgent(ctx: &mut dyn Fleet, blocking: &SiteBlocking) -> Vec<SiteId> {
    let urgent: Vec<BySlack> = ctx
        .waiting_jobs()
        .into_iter()
        .filter(|&j| is_urgent(ctx, blocking, j))
        .map(|j| BySlack(slack_h(ctx, j), j))
        .collect();
    start_urgent_jobs(ctx, urgent)
}

/// [`start_urgent`] for the urgent jobs already found, with their slack.
fn start_urgent_jobs(ctx: &mut dyn Fleet, mut urgent: Vec<BySlack>) -> Vec<SiteId> {
    if urgent.is_empty() {
        return Vec::new();
    }
    urgent.sort_unstable_by(|a, b| b.cmp(a));
    let mut held: Vec<SiteId> = Vec::new();
    for BySlack(my_slack, j) in urgent {
        let Some(job) = ctx.job(j) else { continue };
        let need = job.accelerators;
        let urgent_rem = ctx.remaining_h(j);
        let sites: Vec<SiteId> = if ctx.has_started(j) {
            vec![ctx.job_site(j)]
        } else {
            job.allowed_sites.clone()
        };
        // Free room anywhere first (a held site too: only planned starts wait for it).
        if start_at_greenest(ctx, j, &sites) {
            continue;
        }
        let open: Vec<SiteId> = sites
            .iter()
            .copied()
            .filter(|s| !held.contains(s))
            .collect();
        if open.is_empty() {
            continue;
        }
        // Candidates to pre-empt at each site: interruptible running jobs with more slack.
        let victims_at = |ctx: &dyn FleetView, s: SiteId| -> Vec<(f64, JobId, u32)> {
            ctx.active_jobs()
                .iter()
                .copied()
                .filter(|&v| ctx.state(v) == JobState::Running && ctx.job_site(v) == s)
                .filter_map(|v| {
                    let vj = ctx.job(v)?;
                    let sl = slack_h(ctx, v);
                    // A victim stays at its site: where it cannot run beside the urgent job it
                    // waits for that job's end, and must have the slack for it (other jobs
                    // that could keep it out obey the same rules, so they are not counted).
                    let exclusive = vj.accelerators + need > ctx.accelerators(s).count;
                    let room = ctx.restart_h()
                        + if exclusive {
                            urgent_rem + drain_lead_h(ctx, v)
                        } else {
                            0.0
                        };
                    (vj.interruptible && sl > my_slack + 0.5 * ctx.slot_h() && sl > room)
                        .then_some((sl, v, vj.accelerators))
                })
                .collect()
        };
        let Some(best) = open.iter().copied().max_by_key(|&s| {
            ctx.free_accelerators(s) + victims_at(ctx, s).iter().map(|v| v.2).sum::<u32>()
        }) else {
            continue;
        };
        let mut victims = victims_at(ctx, best);
        victims.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut got = ctx.free_accelerators(best);
        for (_, v, acc) in victims {
            if got >= need {
                break;
            }
            if ctx.suspend(v).is_ok() {
                got += acc;
            }
        }
        if got < need || ctx.start(j, best, 1.0).is_err() {
            held.push(best);
        }
    }
    held
}

/// Start a job now at the greenest of `sites` that has room; `false` if none has.
fn start_at_greenest(ctx: &mut dyn Fleet, j: JobId, sites: &[SiteId]) -> bool {
    let Some(acc) = ctx.job(j).map(|x| x.accelerators) else {
        return false;
    };
    let slot = ctx.slot();
    let mut sites = sites.to_vec();
    sites.sort_by(|a, b| {
        ctx.carbon_forecast(*a, slot)
            .total_cmp(&ctx.carbon_forecast(*b, slot))
    });
    sites
        .into_iter()
        .any(|s| ctx.free_accelerators(s) >= acc && ctx.start(j, s, 1.0).is_ok())
}

/// Start a job now at the greenest site it may use that has room; `false` if none has.
pub fn start_anywhere(ctx: &mut dyn Fleet, j: JobId) -> bool {
    let Some(job) = ctx.job(j) else { return false };
    let acc = job.accelerators;
    let mut sites: Vec<SiteId> = if ctx.has_started(j) {
        vec![ctx.job_site(j)]
    } else {
        job.allowed_sites.clone()
    };
    let slot = ctx.slot();
    sites.sort_by(|a, b| {
        ctx.carbon_forecast(*a, slot)
            .total_cmp(&ctx.carbon_forecast(*b, slot))
    });
    for s in sites {
        if ctx.free_accelerators(s) >= acc && ctx.start(j, s, 1.0).is_ok() {
            return true;
        }
    }
    false
}
