//! Helpers shared by the planner's integration tests.
#![allow(dead_code)]

use suandian_core::fleet::{FleetView, JobState};
use suandian_core::model::JobId;

/// The jobs that have arrived and not started yet, in arrival order.
pub fn queued(ctx: &dyn FleetView) -> Vec<JobId> {
    ctx.waiting_jobs()
        .into_iter()
        .filter(|&j| ctx.state(j) == JobState::Queued)
        .collect()
}
