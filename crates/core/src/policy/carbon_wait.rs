//! `carbon-wait`: start each deferrable job in the window of lowest forecast carbon intensity
//! at its home site that still meets its deadline ("Let's Wait Awhile").
//!
//! At arrival the policy compares starting now with starting at each later slot boundary up to
//! the latest start that meets the deadline (at most `max_wait_h` ahead), using the mean
//! forecast intensity over the job's run, and keeps the best (the earliest among equals). A job
//! that is due and finds no free capacity retries every slot; once its latest start has come it
//! runs as soon as it fits.

use super::asap::try_start;
use super::{mean_carbon, Policy};
use crate::model::JobId;
use crate::sim::{Context, JobState};
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct CarbonWait {
    /// Longest wait considered for jobs without a deadline, hours.
    pub max_wait_h: f64,
    /// Planned start slot of each waiting job.
    planned: HashMap<JobId, usize>,
}

impl Default for CarbonWait {
    fn default() -> Self {
        Self {
            max_wait_h: 24.0,
            planned: HashMap::new(),
        }
    }
}

impl CarbonWait {
    fn plan(&self, ctx: &Context<'_>, job: JobId) -> usize {
        let Some(j) = ctx.job(job) else {
            return ctx.slot();
        };
        let site = ctx.job_site(job);
        let now = ctx.now_h();
        let latest_start_h = (j.deadline_h - j.runtime_h).min(now + self.max_wait_h);
        let dt = ctx.slot_h();
        let slot = ctx.slot();
        // Starting now: the rest of this slot, then the following ones.
        let mut best = (mean_carbon(ctx, site, slot, j.runtime_h), slot);
        let mut b = slot + 1;
        while b < ctx.slots() && (b as f64) * dt <= latest_start_h + 1e-9 {
            let c = mean_carbon(ctx, site, b, j.runtime_h);
            if c < best.0 - 1e-9 {
                best = (c, b);
            }
            b += 1;
        }
        best.1
    }
}

impl Policy for CarbonWait {
    fn name(&self) -> String {
        "carbon-wait".into()
    }

    fn on_slot(&mut self, ctx: &mut Context<'_>) {
        let slot = ctx.slot();
        let waiting: Vec<JobId> = ctx
            .active_jobs()
            .iter()
            .copied()
            .filter(|&j| matches!(ctx.state(j), JobState::Queued | JobState::Suspended))
            .collect();
        for j in waiting {
            let planned = match self.planned.get(&j) {
                Some(p) => *p,
                None => {
                    // Queued at a slot boundary: plan now.
                    let p = self.plan(ctx, j);
                    self.planned.insert(j, p);
                    p
                }
            };
            if planned <= slot {
                let site = ctx.job_site(j);
                if try_start(ctx, j, site) {
                    self.planned.remove(&j);
                }
            }
        }
    }

    fn on_arrival(&mut self, ctx: &mut Context<'_>, job: JobId) {
        let planned = self.plan(ctx, job);
        if planned == ctx.slot() {
            let site = ctx.job_site(job);
            if try_start(ctx, job, site) {
                return;
            }
        }
        self.planned.insert(job, planned);
    }
}
