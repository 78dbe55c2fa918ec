//! `greenest-site`: place each job, on arrival, at the eligible site with the lowest forecast
//! carbon intensity over its run, and start it at once; if that site is full, the next
//! greenest with room. Inference is routed the same way, to the latency-eligible site with the
//! lowest intensity in the current slot.

use super::{mean_carbon, Policy};
use crate::model::{JobId, SiteId};
use crate::sim::{Context, JobState};

#[derive(Debug, Default, Clone, Copy)]
pub struct GreenestSite;

fn place(ctx: &mut Context<'_>, job: JobId) -> bool {
    let Some(j) = ctx.job(job) else { return false };
    let need = j.accelerators;
    let runtime = j.runtime_h;
    // A job that already ran stays where its state is (this policy does not migrate).
    let mut sites: Vec<(f64, SiteId)> = if ctx.has_started(job) {
        vec![(0.0, ctx.job_site(job))]
    } else {
        j.allowed_sites
            .clone()
            .into_iter()
            .map(|s| (mean_carbon(ctx, s, ctx.slot(), runtime), s))
            .collect()
    };
    sites.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    for (_, s) in sites {
        if ctx.free_accelerators(s) >= need && ctx.start(job, s, 1.0).is_ok() {
            return true;
        }
    }
    false
}

impl Policy for GreenestSite {
    fn name(&self) -> String {
        "greenest-site".into()
    }
    fn on_slot(&mut self, ctx: &mut Context<'_>) {
        let waiting: Vec<JobId> = ctx
            .active_jobs()
            .iter()
            .copied()
            .filter(|&j| matches!(ctx.state(j), JobState::Queued | JobState::Suspended))
            .collect();
        for j in waiting {
            place(ctx, j);
        }
    }
    fn on_arrival(&mut self, ctx: &mut Context<'_>, job: JobId) {
        place(ctx, job);
    }
    fn inference_order(&mut self, ctx: &Context<'_>, _region: usize, order: &mut Vec<SiteId>) {
        let slot = ctx.slot();
        order.sort_by(|a, b| {
            ctx.carbon_forecast(*a, slot)
                .total_cmp(&ctx.carbon_forecast(*b, slot))
                .then(a.cmp(b))
        });
    }
}
