//! From a plan's capacity envelopes to concrete job decisions.
//!
//! For each class and site the plan gives accelerator-hours for the current slot; divided by the
//! slot length that is a number of accelerators to keep busy. The dispatcher fills it with the
//! class's jobs, least slack first, keeping jobs that already run there (no needless churn),
//! suspending interruptible jobs the plan does not want this slot, and starting waiting ones.
//! Two rules override the plan so that no job misses a deadline that `asap` would have met:
//! a job whose slack is less than [`URGENT_SLOTS`] slots is started first, wherever it may run,
//! pre-empting running jobs that have slack to spare if it must; and a running job with that
//! little slack is never suspended.

use crate::classes::ClassMap;
use suandian_core::model::{JobId, SiteId};
use suandian_core::sim::{Context, JobState};

/// A job with less slack than this many slots is urgent.
pub const URGENT_SLOTS: f64 = 1.0;

/// Slack of a job now: hours it can still wait and meet its deadline.
pub fn slack_h(ctx: &Context<'_>, job: JobId) -> f64 {
    let Some(j) = ctx.job(job) else {
        return f64::INFINITY;
    };
    j.deadline_h - ctx.now_h() - ctx.remaining_h(job)
}

/// What a job would do this slot at full power, in accelerator-hours.
fn slot_work(ctx: &Context<'_>, j: JobId) -> f64 {
    let acc = f64::from(ctx.job(j).map_or(0, |x| x.accelerators));
    acc * ctx.remaining_h(j).min(ctx.slot_h())
}

/// Apply the targets (accelerator-hours this slot per class and eligible site, same order as
/// the class's sites) at the slot start. A job is run where at least half of what it would do
/// this slot fits in what the plan has left (so a job near its end is not suspended for want
/// of a whole slot's room).
pub fn apply(
    ctx: &mut Context<'_>,
    map: &ClassMap,
    class_sites: &[Vec<SiteId>],
    targets: &[Vec<f64>],
) -> Vec<Vec<f64>> {
    let mut left: Vec<Vec<f64>> = targets.to_vec();
    // 1. Running jobs: keep those the plan wants (or that cannot wait), suspend the others.
    for (k, members) in map.members.iter().enumerate() {
        let mut running: Vec<JobId> = members
            .iter()
            .copied()
            .filter(|&j| ctx.state(j) == JobState::Running)
            .collect();
        running.sort_by(|a, b| slack_h(ctx, *a).total_cmp(&slack_h(ctx, *b)));
        for j in running {
            let acc = slot_work(ctx, j);
            let site = ctx.job_site(j);
            let Some(pos) = class_sites[k].iter().position(|s| *s == site) else {
                continue;
            };
            // Hysteresis: only a job with plenty of slack is suspended, so that it does not turn
            // urgent at a site that has filled up meanwhile.
            let urgent = slack_h(ctx, j)
                < urgent_lead_h(ctx, j) + 6.0 * ctx.slot_h() + 0.5 * ctx.remaining_h(j);
            if left[k][pos] >= acc * 0.5 || urgent {
                left[k][pos] -= acc;
            } else {
                let _ = ctx.suspend(j);
            }
        }
    }
    // 2. Urgent jobs before anything else; sites held for urgent jobs that could not start.
    let held = start_urgent(ctx);
    // 3. Waiting jobs, least slack first, where the plan has room.
    for (k, members) in map.members.iter().enumerate() {
        let mut waiting: Vec<JobId> = members
            .iter()
            .copied()
            .filter(|&j| matches!(ctx.state(j), JobState::Queued | JobState::Suspended))
            .collect();
        if waiting.is_empty() {
            continue;
        }
        waiting.sort_by(|a, b| slack_h(ctx, *a).total_cmp(&slack_h(ctx, *b)));
        for j in waiting {
            let work = slot_work(ctx, j);
            let need = ctx.job(j).map_or(u32::MAX, |x| x.accelerators);
            // Sites by most room left in the plan.
            let mut order: Vec<usize> = (0..class_sites[k].len()).collect();
            order.sort_by(|a, b| left[k][*b].total_cmp(&left[k][*a]));
            for pos in order {
                if left[k][pos] < work * 0.5 {
                    break;
                }
                let site = class_sites[k][pos];
                if held.contains(&site) || (ctx.has_started(j) && ctx.job_site(j) != site) {
                    continue;
                }
                if ctx.free_accelerators(site) >= need && ctx.start(j, site, 1.0).is_ok() {
                    left[k][pos] -= work;
                    break;
                }
            }
        }
    }
    left
}

/// Whether a waiting job must start now (or very soon) to keep its deadline: its slack is
/// under [`URGENT_SLOTS`] slots plus a tenth of its remaining run time (big jobs need time for
/// a site to make room).
pub fn is_urgent(ctx: &Context<'_>, j: JobId) -> bool {
    slack_h(ctx, j) < urgent_lead_h(ctx, j)
}

/// How early a job turns urgent: one slot, plus a tenth of its remaining run time, plus up to
/// two slots for a job that needs a whole site (a site takes time to drain for it).
fn urgent_lead_h(ctx: &Context<'_>, j: JobId) -> f64 {
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
pub fn start_urgent(ctx: &mut Context<'_>) -> Vec<SiteId> {
    let mut urgent: Vec<JobId> = ctx
        .active_jobs()
        .iter()
        .copied()
        .filter(|&j| {
            matches!(ctx.state(j), JobState::Queued | JobState::Suspended) && is_urgent(ctx, j)
        })
        .collect();
    urgent.sort_by(|a, b| slack_h(ctx, *a).total_cmp(&slack_h(ctx, *b)));
    let mut held: Vec<SiteId> = Vec::new();
    for j in urgent {
        let Some(job) = ctx.job(j) else { continue };
        let need = job.accelerators;
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
        let my_slack = slack_h(ctx, j);
        // Candidates to pre-empt at each site: interruptible running jobs with more slack.
        let victims_at = |ctx: &Context<'_>, s: SiteId| -> Vec<(f64, JobId, u32)> {
            ctx.active_jobs()
                .iter()
                .copied()
                .filter(|&v| ctx.state(v) == JobState::Running && ctx.job_site(v) == s)
                .filter_map(|v| {
                    let vj = ctx.job(v)?;
                    let sl = slack_h(ctx, v);
                    (vj.interruptible && sl > my_slack + 0.5 * ctx.slot_h()).then_some((
                        sl,
                        v,
                        vj.accelerators,
                    ))
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
fn start_at_greenest(ctx: &mut Context<'_>, j: JobId, sites: &[SiteId]) -> bool {
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
pub fn start_anywhere(ctx: &mut Context<'_>, j: JobId) -> bool {
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
