//! The boundary between a policy and the fleet it steers.
//!
//! A policy sees a fleet through [`FleetView`] (sites, their limits and state, the jobs that
//! have arrived, the signals as known now) and acts on it through [`Fleet`] (start, resume,
//! suspend, migrate, battery set-points). Neither trait says whether the fleet is replayed
//! history or real sites: the engine ([`crate::engine`]) implements them over its fleet model,
//! which is the truth in a backtest and is reconciled with the executors' reports live. The
//! planner imports these traits and no simulator type (checked by `cli/tests/architecture.rs`).
//!
//! The admission rules (may this job start, be suspended, move, here and now?) live in one
//! place, the `admit_*` functions, which the engine and a live executor both apply.

use crate::model::{Accelerators, Battery, DemandResponseEvent, Economics, Job, JobId, SiteId};
use crate::model::{Thermal, TimeGrid};
use serde::Serialize;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Not arrived yet: invisible to policies.
    Pending,
    Queued,
    Running,
    Suspended,
    Migrating,
    Done,
    /// Withdrawn by its submitter before it was done ([`crate::engine::Engine::cancel_job`]).
    Cancelled,
}

/// Why the fleet refused a policy's action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reject {
    UnknownJob,
    NotArrived,
    WrongState,
    SiteNotAllowed,
    NoCapacity,
    NoPower,
    NotInterruptible,
    NotMigratable,
    BadPowerLevel,
    NotNow,
    /// A demand-response event caps the job's site and its flexibility tier does not allow
    /// this (pausing or moving it, or a power level below its tier's least speed).
    FlexTier,
}

/// What a policy may know at an instant: the time grid, each site's fixed description and
/// state, the arrived jobs, and every signal as observed (past slots) or forecast (the rest).
/// An implementation never shows the future: jobs that have not arrived, events not yet
/// announced and signals not yet observed are hidden or forecast.
pub trait FleetView {
    /// The run's time grid (its start, slot length and number of slots).
    fn grid(&self) -> &TimeGrid;
    /// The current slot.
    fn slot(&self) -> usize;
    /// The current instant in hours since the start (the slot start, or an arrival instant).
    fn now_h(&self) -> f64;

    fn slots(&self) -> usize {
        self.grid().slots
    }
    fn slot_h(&self) -> f64 {
        self.grid().slot_h()
    }
    fn slot_end_h(&self) -> f64 {
        self.grid().slot_start_h(self.slot() + 1)
    }
    fn slots_per_day(&self) -> usize {
        self.grid().slots_per_day()
    }

    // --- sites: fixed description ---
    fn site_count(&self) -> usize;
    /// The site's name: its stable identity.
    fn site_name(&self, site: SiteId) -> &str;
    fn accelerators(&self, site: SiteId) -> &Accelerators;
    fn battery(&self, site: SiteId) -> Option<&Battery>;
    fn thermal(&self, site: SiteId) -> Option<&Thermal>;
    /// The connection's import limit, kW (without demand-response events; see
    /// [`FleetView::import_limit_forecast_kw`]).
    fn import_limit_kw(&self, site: SiteId) -> f64;
    fn export_limit_kw(&self, site: SiteId) -> f64;
    /// The site's green certificates for the run (kWh) and its residual mix (g/kWh), for
    /// market-based carbon.
    fn certificates(&self, site: SiteId) -> (f64, Option<f64>);
    /// What `site`'s battery's wear costs per kWh it delivers.
    fn battery_wear_cost_per_kwh(&self, site: SiteId) -> f64;
    fn economics(&self) -> &Economics;
    /// Hours a migrating job makes no progress (the scenario's `dispatch.migration_hours`). A
    /// migration also costs the job's `checkpoint_gb` x `economics().transfer_cost_per_gb`.
    fn migration_h(&self) -> f64;
    /// Hours (at full speed) a suspended job spends restarting when it resumes.
    fn restart_h(&self) -> f64;
    fn inference_regions(&self) -> usize;
    /// Latency-eligible sites of an inference region and their energy per token (J).
    fn inference_sites(&self, region: usize) -> (&[SiteId], &[f64]);

    // --- sites: state now ---
    /// The battery's state of charge now (kWh), as metered.
    fn battery_soc_kwh(&self, site: SiteId) -> f64;
    /// Accelerators free at `site` right now.
    fn free_accelerators(&self, site: SiteId) -> u32;
    /// Accelerators already reserved for inference this slot at `site`.
    fn inference_accelerators(&self, site: SiteId) -> u32;

    // --- grid events ---
    /// The demand-response events announced by now (`announced_h <= now_h`), past ones
    /// included.
    fn demand_response_announced(&self) -> Vec<&DemandResponseEvent>;
    /// The import limit of `site` in `slot` as known now, kW: the connection's limit, lowered
    /// by every demand-response event covering any part of `slot` that has been announced by
    /// now. An event not yet announced is invisible.
    fn import_limit_forecast_kw(&self, site: SiteId, slot: usize) -> f64 {
        let grid = self.grid();
        self.demand_response_announced()
            .into_iter()
            .filter(|e| e.caps(grid, site, slot))
            .fold(self.import_limit_kw(site), |l, e| l.min(e.import_cap_kw))
    }
    /// The penalty per kWh over the limit that an event announced by now sets for `site` in
    /// `slot` (the highest where several do); `None`: the scenario's default applies.
    fn dr_penalty_forecast_per_kwh(&self, site: SiteId, slot: usize) -> Option<f64> {
        let grid = self.grid();
        self.demand_response_announced()
            .into_iter()
            .filter(|e| e.caps(grid, site, slot))
            .filter_map(|e| e.penalty_per_kwh)
            .reduce(f64::max)
    }

    // --- signals: observed for past slots, forecast for the rest ---
    /// Believed carbon intensity (g/kWh) at `site` in `slot`.
    fn carbon_forecast(&self, site: SiteId, slot: usize) -> f64;
    /// Believed price (currency/MWh).
    fn price_forecast(&self, site: SiteId, slot: usize) -> f64;
    /// Believed feed-in price (currency/MWh): known exactly where it is a fixed tariff.
    fn feed_in_price_forecast(&self, site: SiteId, slot: usize) -> f64;
    /// Believed direct green power available (kW).
    fn green_forecast_kw(&self, site: SiteId, slot: usize) -> f64;
    /// Believed PUE.
    fn pue_forecast(&self, site: SiteId, slot: usize) -> f64;
    /// Believed inference demand of region `region` (tokens/s).
    fn inference_forecast(&self, region: usize, slot: usize) -> f64;
    /// Observed carbon intensity of a past slot, `None` for the present or the future.
    fn carbon_observed(&self, site: SiteId, slot: usize) -> Option<f64>;

    // --- jobs ---
    /// Jobs that have arrived and are not done (queued, running, suspended or migrating), in
    /// arrival order.
    fn active_jobs(&self) -> &[JobId];
    /// A job that has arrived; `None` for a job that has not (yet) arrived.
    fn job(&self, job: JobId) -> Option<&Job>;
    fn state(&self, job: JobId) -> JobState;
    /// Remaining run time at full speed, hours.
    fn remaining_h(&self, job: JobId) -> f64;
    /// Run time at full speed a job still needs: [`FleetView::remaining_h`], plus the restart a
    /// job suspended before now needs to resume.
    fn work_left_h(&self, job: JobId) -> f64;
    /// The power level a job runs at (its last one when it is not running; 1 before it starts).
    fn power_level(&self, job: JobId) -> f64;
    /// The site a job runs on, or last ran on (its home site before it first starts).
    fn job_site(&self, job: JobId) -> SiteId;
    /// Whether a job has started before (a suspended job resumes where it is).
    fn has_started(&self, job: JobId) -> bool;
    /// The jobs waiting to run: arrived and queued, or suspended, in arrival order.
    fn waiting_jobs(&self) -> Vec<JobId> {
        self.active_jobs()
            .iter()
            .copied()
            .filter(|&j| matches!(self.state(j), JobState::Queued | JobState::Suspended))
            .collect()
    }
}

/// The actions a policy takes on a fleet. Each is checked by the `admit_*` rules and, where the
/// fleet knows more (its power supply), by the fleet; a refused action changes nothing.
pub trait Fleet: FleetView {
    /// Start (or resume) a waiting job at `site` at power level `level` from now on.
    fn start(&mut self, job: JobId, site: SiteId, level: f64) -> Result<(), Reject>;
    /// Suspend a running interruptible job (at the slot start only).
    fn suspend(&mut self, job: JobId) -> Result<(), Reject>;
    /// Move a running or suspended migratable job to `site`: it makes no progress while its
    /// data moves, then waits there, suspended, for the policy to resume it.
    fn migrate(&mut self, job: JobId, site: SiteId) -> Result<(), Reject>;
    /// Battery set-point for this slot in kW (positive charges, negative discharges), instead
    /// of the default rule. A non-finite value is ignored.
    fn set_battery_kw(&mut self, site: SiteId, kw: f64);
    /// Change a running job's power level where it runs (no restart). The engine refuses a
    /// level below what the job's flexibility tier allows while an event caps its site
    /// ([`Reject::FlexTier`]), where a suspension would be refused outright.
    fn set_level(&mut self, job: JobId, level: f64) -> Result<(), Reject> {
        let site = self.job_site(job);
        self.suspend(job)?;
        self.start(job, site, level)
    }
}

/// What the admission rules need to know about a job's place in its life.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JobStatus {
    pub state: JobState,
    /// Where it runs or last ran (its home site before it starts).
    pub site: SiteId,
    pub has_started: bool,
}

/// May `job` start (or resume) at `site`, at `level`, at `now_h`, with `free_accelerators`
/// free there? Capacity, the job's allowed sites, its state and the accelerators' power range;
/// the power supply is the fleet's to check.
pub fn admit_start(
    job: &Job,
    status: JobStatus,
    site: SiteId,
    accelerators: &Accelerators,
    level: f64,
    free_accelerators: u32,
    now_h: f64,
) -> Result<(), Reject> {
    if job.arrival_h > now_h + 1e-12 {
        return Err(Reject::NotArrived);
    }
    if !matches!(status.state, JobState::Queued | JobState::Suspended) {
        return Err(Reject::WrongState);
    }
    if !job.allowed(site) || (status.has_started && status.site != site) {
        return Err(Reject::SiteNotAllowed);
    }
    if !(level >= accelerators.min_power_level - 1e-12 && level <= 1.0 + 1e-12) {
        return Err(Reject::BadPowerLevel);
    }
    if free_accelerators < job.accelerators {
        return Err(Reject::NoCapacity);
    }
    Ok(())
}

/// May `job` be suspended now? Only a running, interruptible job.
pub fn admit_suspend(job: &Job, status: JobStatus) -> Result<(), Reject> {
    if status.state != JobState::Running {
        return Err(Reject::WrongState);
    }
    if !job.interruptible {
        return Err(Reject::NotInterruptible);
    }
    Ok(())
}

/// May `job` move to `to` now? A running or suspended, migratable job, to another site it may
/// use.
pub fn admit_migrate(job: &Job, status: JobStatus, to: SiteId) -> Result<(), Reject> {
    if !matches!(status.state, JobState::Running | JobState::Suspended) || status.site == to {
        return Err(Reject::WrongState);
    }
    if !job.migratable {
        return Err(Reject::NotMigratable);
    }
    if !job.allowed(to) {
        return Err(Reject::SiteNotAllowed);
    }
    Ok(())
}
