//! `asap`: every job starts on arrival at its home site, first come first served: the baseline
//! that every other policy is measured against.

use super::Policy;
use crate::fleet::Fleet;
use crate::model::JobId;

#[derive(Debug, Default, Clone, Copy)]
pub struct Asap;

/// Start every waiting job that fits, in arrival order, at its site (home site, or where it
/// last ran), at full power: `asap`'s rule, and the planner's fallback when a plan fails.
pub fn start_waiting_at_home(ctx: &mut dyn Fleet) {
    for j in ctx.waiting_jobs() {
        let site = ctx.job_site(j);
        let _ = try_start(ctx, j, site);
    }
}

/// Start `job` at `site` at full power if it fits now.
pub(crate) fn try_start(ctx: &mut dyn Fleet, job: JobId, site: usize) -> bool {
    let Some(need) = ctx.job(job).map(|j| j.accelerators) else {
        return false;
    };
    ctx.free_accelerators(site) >= need && ctx.start(job, site, 1.0).is_ok()
}

impl Policy for Asap {
    fn name(&self) -> String {
        "asap".into()
    }
    fn on_slot(&mut self, ctx: &mut dyn Fleet) {
        start_waiting_at_home(ctx);
    }
    fn on_arrival(&mut self, ctx: &mut dyn Fleet, job: JobId) {
        let site = ctx.job_site(job);
        try_start(ctx, job, site);
    }
}
