//! `greenest-site`: place each job, on arrival, at the eligible site with the lowest forecast
//! carbon intensity over its run, and start it at once; if that site is full, the next
//! greenest with room. Inference is routed the same way, to the latency-eligible site with the
//! lowest intensity in the current slot. Jobs that find every eligible site full wait and are
//! retried each slot, the least slack first; the run's notes count them, and those that
//! started after their latest start (moving work to the greenest sites fills them, and a job
//! that may run only at one of them can find it full where `asap` would not have).

use super::{mean_carbon, waiting_least_slack_first, Policy};
use crate::fleet::{Fleet, FleetView};
use crate::model::{JobId, SiteId};

#[derive(Debug, Default, Clone, Copy)]
pub struct GreenestSite {
    /// Jobs that found every eligible site full on arrival and waited.
    waited: u64,
    /// Jobs that started after their latest start.
    late_starts: u64,
}

impl GreenestSite {
    fn place(&mut self, ctx: &mut dyn Fleet, job: JobId) -> bool {
        let latest = ctx
            .job(job)
            .map_or(f64::INFINITY, |j| j.deadline_h - ctx.remaining_h(job));
        let started = place(ctx, job);
        if started && ctx.now_h() > latest + 1e-9 {
            self.late_starts += 1;
        }
        started
    }
}

fn place(ctx: &mut dyn Fleet, job: JobId) -> bool {
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
    fn on_slot(&mut self, ctx: &mut dyn Fleet) {
        let waiting = waiting_least_slack_first(ctx);
        for j in waiting {
            self.place(ctx, j);
        }
    }
    fn on_arrival(&mut self, ctx: &mut dyn Fleet, job: JobId) {
        if !self.place(ctx, job) {
            self.waited += 1;
        }
    }
    fn notes(&self) -> Vec<String> {
        if self.waited == 0 && self.late_starts == 0 {
            return Vec::new();
        }
        vec![format!(
            "{} jobs found every site they may use full on arrival and waited; {} jobs started \
             after their latest start (work moved to the greenest sites fills them)",
            self.waited, self.late_starts
        )]
    }
    fn inference_order(&mut self, ctx: &dyn FleetView, _region: usize, order: &mut Vec<SiteId>) {
        let slot = ctx.slot();
        order.sort_by(|a, b| {
            ctx.carbon_forecast(*a, slot)
                .total_cmp(&ctx.carbon_forecast(*b, slot))
                .then(a.cmp(b))
        });
    }
}
