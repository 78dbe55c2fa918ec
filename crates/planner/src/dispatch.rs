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
pub const URGENT_SLOTS: f64 = 2.0;

/// Slack of a job now: hours it can still wait and meet its deadline.
pub fn slack_h(ctx: &Context<'_>, job: JobId) -> f64 {
    let Some(j) = ctx.job(job) else {
        return f64::INFINITY;
    };
    j.deadline_h - ctx.now_h() - ctx.remaining_h(job)
}

/// Apply the targets (accelerators per class and eligible site, same order as the class's
/// sites) at the slot start.
pub fn apply(
    ctx: &mut Context<'_>,
    map: &ClassMap,
    class_sites: &[Vec<SiteId>],
    targets: &[Vec<f64>],
) -> Vec<Vec<f64>> {
    let dt = ctx.slot_h();
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
            let acc = f64::from(ctx.job(j).map_or(0, |x| x.accelerators));
            let site = ctx.job_site(j);
            let Some(pos) = class_sites[k].iter().position(|s| *s == site) else {
                continue;
            };
            let urgent = slack_h(ctx, j) < URGENT_SLOTS * dt;
            if left[k][pos] >= acc * 0.5 || urgent {
                left[k][pos] -= acc;
            } else {
                let _ = ctx.suspend(j);
            }
        }
    }
    // 2. Urgent jobs before anything else.
    start_urgent(ctx);
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
            let acc = f64::from(ctx.job(j).map_or(0, |x| x.accelerators));
            // Sites by most room left in the plan.
            let mut order: Vec<usize> = (0..class_sites[k].len()).collect();
            order.sort_by(|a, b| left[k][*b].total_cmp(&left[k][*a]));
            for pos in order {
                if left[k][pos] < acc * 0.5 {
                    break;
                }
                let site = class_sites[k][pos];
                if ctx.has_started(j) && ctx.job_site(j) != site {
                    continue;
                }
                if ctx.free_accelerators(site) >= acc as u32 && ctx.start(j, site, 1.0).is_ok() {
                    left[k][pos] -= acc;
                    break;
                }
            }
        }
    }
    left
}

/// Start every waiting job with less than one slot of slack, at the lowest-carbon site it may
/// run on that has room (where it already ran, if it has started).
pub fn start_urgent(ctx: &mut Context<'_>) {
    let dt = ctx.slot_h();
    let mut urgent: Vec<JobId> = ctx
        .active_jobs()
        .iter()
        .copied()
        .filter(|&j| {
            matches!(ctx.state(j), JobState::Queued | JobState::Suspended) && slack_h(ctx, j) < dt
        })
        .collect();
    urgent.sort_by(|a, b| slack_h(ctx, *a).total_cmp(&slack_h(ctx, *b)));
    for j in urgent {
        start_anywhere(ctx, j);
    }
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
