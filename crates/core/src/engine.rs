//! The engine: one slot at a time, the same for a backtest and a live fleet.
//!
//! [`Engine::step`] takes what came in since the last slot (new jobs, announced
//! demand-response events; signals come from its [`Signals`] provider) and runs one slot:
//! 1. jobs that arrived by the slot's start are queued; finished migrations land;
//! 2. running jobs continue (and are pre-empted, interruptible ones first, if the site's power
//!    supply cannot carry them this slot; the supply counts the slot's import limit, lowered by
//!    demand-response caps);
//! 3. inference demand is served from the remaining capacity, in the policy's site order;
//! 4. the policy acts ([`Policy::on_slot`]) through a [`Fleet`];
//! 5. running jobs progress; a job that finishes mid-slot frees its accelerators at that instant;
//! 6. jobs that arrive inside the slot are queued at their arrival instant, in order, and the
//!    policy may start them at once ([`Policy::on_arrival`]);
//! 7. each site's energy is dispatched ([`crate::dispatch`]) and accounted ([`crate::metrics`]).
//!
//! What the policy decided comes back as [`Decision`]s (with stable ids through
//! [`Engine::describe`]) and goes, with the timeline, to a [`Sink`], as ripgrep's searcher
//! pushes matches to its sink. The engine keeps a model of the fleet (which job runs where, at
//! what power, what each site's supply carries, the battery's charge); in a backtest the model
//! is the truth (the scenario's series are what happened), and a live driver applies the
//! decisions to real executors and reconciles the model with what they report.
//! [`crate::sim::simulate`] is the replay driver.
//!
//! A policy sees only a [`Fleet`]: observations of past slots, forecasts of the others, and
//! jobs that have arrived. The physics (capacity, power supply, energy) is always the model's.

use crate::dispatch::{dispatch, BatteryMode, BatteryState, Flows};
use crate::fleet::{admit_migrate, admit_start, admit_suspend, Fleet, FleetView, JobState};
use crate::fleet::{JobStatus, Reject};
use crate::metrics::{Accumulator, ItUse, JobOutcome, Metrics, SiteMetrics, TimelineRow};
use crate::model::*;
use crate::policy::Policy;
use crate::signals::{Signal, Signals};
use crate::validate::ModelError;
use serde::Serialize;
use std::borrow::Cow;

mod observed;
pub use observed::ObservedRun;

#[derive(Debug, Clone)]
struct JobRt {
    state: JobState,
    site: SiteId,
    level: f64,
    /// Remaining run time at full speed, hours.
    remaining_h: f64,
    started_h: Option<f64>,
    completed_h: Option<f64>,
    migrating_until_h: f64,
    migrations: u32,
    /// Data moved by its migrations, GB.
    migrated_gb: f64,
    suspensions: u32,
    /// When it was last suspended (a start at that same moment only changes its power level).
    suspended_at_h: f64,
    /// Restart overhead still to run before it progresses again, hours at full speed (part
    /// of `remaining_h`).
    restart_pending_h: f64,
    /// Restart overhead it has run, hours at full speed.
    restart_h: f64,
    energy_kwh: f64,
    /// Accelerator-hours of work done after the deadline.
    late_work_acc_h: f64,
    /// When it was withdrawn.
    cancelled_h: Option<f64>,
}

impl JobRt {
    fn new(j: &Job) -> Self {
        JobRt {
            state: JobState::Pending,
            site: j.home_site,
            level: 1.0,
            remaining_h: j.runtime_h,
            started_h: None,
            completed_h: None,
            migrating_until_h: 0.0,
            migrations: 0,
            migrated_gb: 0.0,
            suspensions: 0,
            suspended_at_h: 0.0,
            restart_pending_h: 0.0,
            restart_h: 0.0,
            energy_kwh: 0.0,
            cancelled_h: None,
            late_work_acc_h: 0.0,
        }
    }
    fn status(&self) -> JobStatus {
        JobStatus {
            state: self.state,
            site: self.site,
            has_started: self.started_h.is_some(),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct SiteRt {
    battery: BatteryState,
    /// Accelerators held by running jobs at the slot start.
    committed_acc: u32,
    inference_acc: u32,
    /// Energy above idle that running jobs will use this slot, kWh (IT side).
    jobs_it_kwh: f64,
    inference_it_kwh: f64,
    /// IT energy above idle that the site's supply can carry this slot, kWh.
    it_cap_kwh: f64,
    /// This slot's import limit (demand-response caps included), kW.
    import_limit_kw: f64,
    /// This slot's lowest demand-response cap, if an event covers it.
    dr_cap_kw: Option<f64>,
    /// (end instant, accelerators) of every job run in this slot, for in-slot capacity.
    runs: Vec<(f64, u32)>,
    busy_acc_h: f64,
    /// Accelerator-hours of job runs this slot (`busy_acc_h` less inference).
    job_acc_h: f64,
    battery_setpoint_kw: Option<f64>,
    tokens: f64,
    /// Job runs of this slot, kept only when the timeline is recorded.
    segments: Vec<Segment>,
    record: bool,
    /// Trailing sums of the price and the carbon intensity (the default battery rule's window).
    trailing_price: f64,
    trailing_carbon: f64,
}

impl SiteRt {
    /// A site's state as a run starts: its battery at its initial charge, nothing running.
    fn at_start(site: &Site, record: bool) -> SiteRt {
        SiteRt {
            battery: site
                .battery
                .as_ref()
                .map(BatteryState::initial)
                .unwrap_or_default(),
            record,
            ..SiteRt::default()
        }
    }
}

/// A job running on a site over an interval (for Gantt charts and invariant checks).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Segment {
    pub job: JobId,
    pub site: SiteId,
    pub from_h: f64,
    pub to_h: f64,
    pub accelerators: u32,
    pub power_level: f64,
}

/// What a policy decided, as the engine accepted it. Jobs and sites are the engine's handles;
/// [`Engine::describe`] gives their stable ids.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Start or resume `job` at `site` at `power_level` (also a power-level change).
    Start {
        job: JobId,
        site: SiteId,
        power_level: f64,
    },
    Suspend {
        job: JobId,
    },
    /// Move `job`'s checkpoint to `to`; it waits there, suspended, once it lands.
    Migrate {
        job: JobId,
        to: SiteId,
    },
    /// Charge (positive) or discharge (negative) `site`'s battery at `kw` this slot.
    Battery {
        site: SiteId,
        kw: f64,
    },
}

/// One accepted action at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Decision {
    pub slot: usize,
    /// The instant it takes effect, hours since the start.
    pub at_h: f64,
    #[serde(flatten)]
    pub action: Action,
}

/// A decision with stable ids (the job's id, the site's name): what a live driver sends and
/// stores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionRecord {
    pub slot: usize,
    pub at_h: f64,
    /// `start`, `suspend`, `migrate` or `battery`.
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    pub site: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub power_level: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kw: Option<f64>,
}

/// Where the engine writes what happens, slot by slot. Every method has a default that drops
/// its input, so a sink takes only what it needs.
pub trait Sink {
    /// A site's power flows and signals in a slot (only when the engine records a timeline).
    fn timeline(&mut self, row: TimelineRow) {
        let _ = row;
    }
    /// A job's run on a site (only when the engine records a timeline).
    fn segment(&mut self, segment: Segment) {
        let _ = segment;
    }
    /// A slot is done; `decisions` are what the policy decided in it, in order.
    fn slot_done(&mut self, slot: usize, decisions: &[Decision]) {
        let _ = (slot, decisions);
    }
}

/// A sink that keeps nothing.
pub struct NoSink;
impl Sink for NoSink {}

/// What came in for a slot: jobs submitted and demand-response events announced since the
/// last one.
#[derive(Debug, Clone, Default)]
pub struct SlotInput {
    /// New jobs, sorted by arrival; each arrives at or after the slot's start (a job may be
    /// submitted ahead of its arrival: it stays invisible until then).
    pub jobs: Vec<Job>,
    pub events: Vec<DemandResponseEvent>,
}

/// Why the engine refused a step's input.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineError {
    /// Every slot of the run has been stepped.
    RunOver { slots: usize },
    /// A job or event breaks an invariant (the field names it).
    Invalid(ModelError),
    /// A job arrives before the slot being stepped.
    LateJob {
        id: String,
        arrival_h: f64,
        slot_start_h: f64,
    },
    /// A job or event id that the engine already holds.
    DuplicateId { id: String },
    /// No demand-response event has this id.
    UnknownEvent { id: String },
    /// No job has this id.
    UnknownJob { id: String },
    /// The job is done or already cancelled: nothing is left to withdraw.
    JobOver { id: String, state: JobState },
    /// The event's window ended before the current slot: nothing is left to cancel.
    EventOver { id: String, end_h: f64 },
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineError::RunOver { slots } => write!(f, "the run's {slots} slots are all done"),
            EngineError::Invalid(e) => write!(f, "{e}"),
            EngineError::LateJob {
                id,
                arrival_h,
                slot_start_h,
            } => write!(
                f,
                "job {id}: found arrival {arrival_h} h, expected at or after the current slot's start ({slot_start_h} h)"
            ),
            EngineError::DuplicateId { id } => {
                write!(f, "{id}: found an id already submitted, expected a new one")
            }
            EngineError::UnknownJob { id } => {
                write!(f, "{id}: found no such job, expected the id of a job submitted")
            }
            EngineError::JobOver { id, state } => write!(
                f,
                "job {id}: found it {state:?}, expected a job not yet done or cancelled"
            ),
            EngineError::UnknownEvent { id } => {
                write!(f, "{id}: found no such event, expected the id of an event taken")
            }
            EngineError::EventOver { id, end_h } => write!(
                f,
                "event {id}: found a window that ended at {end_h} h, expected one still in force"
            ),
        }
    }
}

impl std::error::Error for EngineError {}

/// A job the engine holds: borrowed from a replayed scenario, or owned when submitted live
/// (two words either way, so a year of jobs stays small).
enum JobDef<'s> {
    Borrowed(&'s Job),
    Owned(Box<Job>),
}

impl std::ops::Deref for JobDef<'_> {
    type Target = Job;
    fn deref(&self) -> &Job {
        match self {
            JobDef::Borrowed(j) => j,
            JobDef::Owned(j) => j,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    SlotStart,
    Arrival,
}

/// Counters of refused actions.
#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    rejected: u64,
    power_preemptions: u64,
    power_deferrals: u64,
}

/// The engine's [`Fleet`] at an instant: what a policy sees and how it acts. Its fields are
/// private, and every accessor checks the time.
struct Context<'a> {
    sc: &'a Scenario,
    /// Every job submitted, in submission (arrival) order.
    defs: &'a [JobDef<'a>],
    signals: &'a dyn Signals,
    jobs: &'a mut [JobRt],
    active: &'a [JobId],
    sites: &'a mut [SiteRt],
    slot: usize,
    now_h: f64,
    phase: Phase,
    counters: &'a mut Counters,
    decisions: &'a mut Vec<Decision>,
}

impl FleetView for Context<'_> {
    fn grid(&self) -> &TimeGrid {
        &self.sc.grid
    }
    fn slot(&self) -> usize {
        self.slot
    }
    fn now_h(&self) -> f64 {
        self.now_h
    }
    // The grid's figures directly (the trait's defaults would go through `grid()`).
    fn slots(&self) -> usize {
        self.sc.grid.slots
    }
    fn slot_h(&self) -> f64 {
        self.sc.grid.slot_h()
    }
    fn slot_end_h(&self) -> f64 {
        self.sc.grid.slot_start_h(self.slot + 1)
    }
    fn waiting_jobs(&self) -> Vec<JobId> {
        self.active
            .iter()
            .copied()
            .filter(|&j| matches!(self.jobs[j].state, JobState::Queued | JobState::Suspended))
            .collect()
    }
    fn site_count(&self) -> usize {
        self.sc.sites.len()
    }
    fn site_name(&self, site: SiteId) -> &str {
        &self.sc.sites[site].name
    }
    fn accelerators(&self, site: SiteId) -> &Accelerators {
        &self.sc.sites[site].accelerators
    }
    fn battery(&self, site: SiteId) -> Option<&Battery> {
        self.sc.sites[site].battery.as_ref()
    }
    fn thermal(&self, site: SiteId) -> Option<&Thermal> {
        self.sc.sites[site].thermal.as_ref()
    }
    fn import_limit_kw(&self, site: SiteId) -> f64 {
        self.sc.sites[site].grid.import_limit_kw
    }
    fn export_limit_kw(&self, site: SiteId) -> f64 {
        self.sc.sites[site].grid.export_limit_kw
    }
    fn certificates(&self, site: SiteId) -> (f64, Option<f64>) {
        let g = &self.sc.sites[site].grid;
        (g.green_certificates_kwh, g.residual_mix_g_co2_per_kwh)
    }
    fn battery_wear_cost_per_kwh(&self, site: SiteId) -> f64 {
        self.sc.battery_wear_cost_per_kwh(site)
    }
    fn economics(&self) -> &Economics {
        &self.sc.economics
    }
    fn migration_h(&self) -> f64 {
        self.sc.dispatch.migration_h
    }
    fn restart_h(&self) -> f64 {
        self.sc.dispatch.restart_h
    }
    fn inference_regions(&self) -> usize {
        self.sc.inference.len()
    }
    fn inference_sites(&self, region: usize) -> (&[SiteId], &[f64]) {
        let d = &self.sc.inference[region];
        (&d.sites, &d.joules_per_token)
    }
    fn battery_soc_kwh(&self, site: SiteId) -> f64 {
        self.sites[site].battery.soc_kwh
    }
    fn free_accelerators(&self, site: SiteId) -> u32 {
        let rt = &self.sites[site];
        let count = self.sc.sites[site].accelerators.count;
        let used = match self.phase {
            Phase::SlotStart => rt.committed_acc + rt.inference_acc,
            Phase::Arrival => {
                rt.inference_acc
                    + rt.runs
                        .iter()
                        .filter(|(end, _)| *end > self.now_h + 1e-12)
                        .map(|(_, a)| *a)
                        .sum::<u32>()
            }
        };
        count.saturating_sub(used)
    }
    fn inference_accelerators(&self, site: SiteId) -> u32 {
        self.sites[site].inference_acc
    }
    fn demand_response_announced(&self) -> Vec<&DemandResponseEvent> {
        let now = self.now_h;
        self.sc
            .demand_response
            .iter()
            .filter(move |e| e.announced_h <= now + 1e-12)
            .collect()
    }
    fn carbon_forecast(&self, site: SiteId, slot: usize) -> f64 {
        self.signals
            .at(Signal::CarbonGPerKwh, site, self.slot, slot)
    }
    fn price_forecast(&self, site: SiteId, slot: usize) -> f64 {
        self.signals.at(Signal::PricePerMwh, site, self.slot, slot)
    }
    fn feed_in_price_forecast(&self, site: SiteId, slot: usize) -> f64 {
        self.signals
            .at(Signal::FeedInPricePerMwh, site, self.slot, slot)
    }
    fn green_forecast_kw(&self, site: SiteId, slot: usize) -> f64 {
        self.signals.at(Signal::GreenKw, site, self.slot, slot)
    }
    fn pue_forecast(&self, site: SiteId, slot: usize) -> f64 {
        self.signals.at(Signal::Pue, site, self.slot, slot)
    }
    fn inference_forecast(&self, region: usize, slot: usize) -> f64 {
        self.signals
            .at(Signal::InferenceTokensPerS, region, self.slot, slot)
    }
    fn carbon_observed(&self, site: SiteId, slot: usize) -> Option<f64> {
        (slot < self.slot).then(|| {
            self.signals
                .at(Signal::CarbonGPerKwh, site, self.slot, slot)
        })
    }
    fn active_jobs(&self) -> &[JobId] {
        self.active
    }
    fn job(&self, job: JobId) -> Option<&Job> {
        let j = self.defs.get(job)?;
        (j.arrival_h <= self.now_h).then_some(&**j)
    }
    fn state(&self, job: JobId) -> JobState {
        self.jobs.get(job).map_or(JobState::Pending, |r| r.state)
    }
    fn remaining_h(&self, job: JobId) -> f64 {
        self.jobs[job].remaining_h
    }
    fn work_left_h(&self, job: JobId) -> f64 {
        let rt = &self.jobs[job];
        let restart = rt.state == JobState::Suspended && rt.suspended_at_h < self.now_h - 1e-12;
        rt.remaining_h
            + if restart {
                self.sc.dispatch.restart_h
            } else {
                0.0
            }
    }
    fn power_level(&self, job: JobId) -> f64 {
        self.jobs[job].level
    }
    fn job_site(&self, job: JobId) -> SiteId {
        self.jobs[job].site
    }
    fn has_started(&self, job: JobId) -> bool {
        self.jobs[job].started_h.is_some()
    }
}

impl<'a> Context<'a> {
    /// Count a refused action (a supply shortfall is not the policy's error: counted apart).
    fn refused(&mut self, r: Reject) -> Result<(), Reject> {
        if r == Reject::NoPower {
            self.counters.power_deferrals += 1;
        } else {
            self.counters.rejected += 1;
        }
        Err(r)
    }
    /// A job that has arrived by now, and its status (the admission rules' inputs).
    fn arrived(&self, job: JobId) -> Result<(&'a Job, JobStatus), Reject> {
        let defs: &'a [JobDef<'a>] = self.defs;
        let j: &'a Job = defs.get(job).ok_or(Reject::UnknownJob)?;
        let rt = self.jobs.get(job).ok_or(Reject::UnknownJob)?;
        Ok((j, rt.status()))
    }
    fn decided(&mut self, action: Action) {
        self.decisions.push(Decision {
            slot: self.slot,
            at_h: self.now_h,
            action,
        });
    }
    fn try_start(&mut self, job: JobId, site: SiteId, level: f64) -> Result<(), Reject> {
        self.start_checked(job, site, level, true)
    }
    /// A start; `check_power`: refused where the site's supply this slot cannot carry it (not
    /// checked for a running job's level lowered: its load only falls).
    fn start_checked(
        &mut self,
        job: JobId,
        site: SiteId,
        level: f64,
        check_power: bool,
    ) -> Result<(), Reject> {
        let (j, status) = self.arrived(job)?;
        let sc: &'a Scenario = self.sc;
        let acc = sc
            .sites
            .get(site)
            .map(|s| &s.accelerators)
            .ok_or(Reject::SiteNotAllowed)?;
        admit_start(
            j,
            status,
            site,
            acc,
            level,
            self.free_accelerators(site),
            self.now_h,
        )?;
        let rt = &self.jobs[job];
        // Resuming a job suspended earlier restarts it from its checkpoint.
        let restart_h = if rt.state == JobState::Suspended && rt.suspended_at_h < self.now_h - 1e-12
        {
            self.sc.dispatch.restart_h
        } else {
            0.0
        };
        let from = self.now_h.max(j.arrival_h);
        let end_h = self.slot_end_h();
        let remaining_h = rt.remaining_h + restart_h;
        let (_, kwh) = segment(acc, j.accelerators, level, remaining_h, from, end_h);
        let srt = &self.sites[site];
        if check_power && srt.jobs_it_kwh + srt.inference_it_kwh + kwh > srt.it_cap_kwh + 1e-9 {
            // The supply is short (the policy cannot see the truth).
            return Err(Reject::NoPower);
        }
        let accelerators = j.accelerators;
        let rt = &mut self.jobs[job];
        rt.state = JobState::Running;
        rt.site = site;
        rt.level = level;
        rt.remaining_h = remaining_h;
        rt.restart_pending_h += restart_h;
        rt.started_h.get_or_insert(from);
        let srt = &mut self.sites[site];
        srt.jobs_it_kwh += kwh;
        match self.phase {
            Phase::SlotStart => srt.committed_acc += accelerators,
            Phase::Arrival => run_now(self.sc, self.defs, self.jobs, self.sites, job, from, end_h),
        }
        self.decided(Action::Start {
            job,
            site,
            power_level: level,
        });
        Ok(())
    }
    /// The least speed a running job's flexibility tier allows in this slot: `Some` while a
    /// demand-response event caps its site and the job has a tier and runs (pausing or moving
    /// it is refused then, and so is a power level below that speed).
    fn tier_floor(&self, job: JobId) -> Option<f64> {
        let j: &Job = self.defs.get(job)?;
        let rt = self.jobs.get(job)?;
        if rt.state != JobState::Running {
            return None;
        }
        let min = j.flex_min_speed()?;
        capped(self.sc, rt.site, self.slot).then_some(min)
    }
    fn try_suspend(&mut self, job: JobId) -> Result<(), Reject> {
        if self.tier_floor(job).is_some() {
            return Err(Reject::FlexTier);
        }
        self.suspend_unchecked(job)
    }
    /// A running job's power level changed where it runs (no restart: as a suspension and a
    /// start in the same instant), within its flexibility tier.
    fn try_set_level(&mut self, job: JobId, level: f64) -> Result<(), Reject> {
        if self.phase != Phase::SlotStart {
            return Err(Reject::NotNow);
        }
        let rt = self.jobs.get(job).ok_or(Reject::UnknownJob)?;
        if rt.state != JobState::Running {
            return Err(Reject::WrongState);
        }
        let (site, old) = (rt.site, rt.level);
        if let Some(min) = self.tier_floor(job) {
            if !(level.is_finite() && self.sc.sites[site].accelerators.speed(level) >= min - 1e-9) {
                return Err(Reject::FlexTier);
            }
        }
        self.suspend_unchecked(job)?;
        let lower = level <= old;
        if let Err(r) = self.start_checked(job, site, level, !lower) {
            // Back at its level, on the accelerators and power it held a moment ago.
            let back = self.start_checked(job, site, old, false);
            debug_assert!(back.is_ok(), "a job resumes where it ran: {back:?}");
            self.decisions
                .truncate(self.decisions.len().saturating_sub(2));
            self.jobs[job].suspensions -= 1;
            return Err(r);
        }
        Ok(())
    }
    fn suspend_unchecked(&mut self, job: JobId) -> Result<(), Reject> {
        if self.phase != Phase::SlotStart {
            return Err(Reject::NotNow);
        }
        let (j, status) = self.arrived(job)?;
        admit_suspend(j, status)?;
        release(
            self.sc,
            self.defs,
            self.jobs,
            self.sites,
            job,
            self.now_h,
            self.slot_end_h(),
        );
        self.decided(Action::Suspend { job });
        Ok(())
    }
    fn try_migrate(&mut self, job: JobId, site: SiteId) -> Result<(), Reject> {
        if self.phase != Phase::SlotStart {
            return Err(Reject::NotNow);
        }
        if self.tier_floor(job).is_some() {
            return Err(Reject::FlexTier);
        }
        let (j, status) = self.arrived(job)?;
        admit_migrate(j, status, site)?;
        let checkpoint_gb = j.checkpoint_gb;
        if status.state == JobState::Running {
            release(
                self.sc,
                self.defs,
                self.jobs,
                self.sites,
                job,
                self.now_h,
                self.slot_end_h(),
            );
        }
        let rt = &mut self.jobs[job];
        rt.state = JobState::Migrating;
        rt.site = site;
        rt.migrating_until_h = self.now_h + self.sc.dispatch.migration_h;
        rt.migrations += 1;
        rt.migrated_gb += checkpoint_gb;
        self.decided(Action::Migrate { job, to: site });
        Ok(())
    }
}

impl Fleet for Context<'_> {
    fn start(&mut self, job: JobId, site: SiteId, level: f64) -> Result<(), Reject> {
        self.try_start(job, site, level)
            .or_else(|r| self.refused(r))
    }
    fn suspend(&mut self, job: JobId) -> Result<(), Reject> {
        self.try_suspend(job).or_else(|r| self.refused(r))
    }
    fn migrate(&mut self, job: JobId, site: SiteId) -> Result<(), Reject> {
        self.try_migrate(job, site).or_else(|r| self.refused(r))
    }
    fn set_level(&mut self, job: JobId, level: f64) -> Result<(), Reject> {
        self.try_set_level(job, level).or_else(|r| self.refused(r))
    }
    fn set_battery_kw(&mut self, site: SiteId, kw: f64) {
        if kw.is_finite() {
            self.sites[site].battery_setpoint_kw = Some(kw);
        }
    }
}

/// The steppable engine: a policy, its fleet model and the accounting, one slot at a time.
pub struct Engine<'s> {
    /// The fleet's description and series (the truth of a backtest; a live driver's observed
    /// values) and the events announced so far (its jobs are not used: see `defs`). Borrowed
    /// until an event is announced to an engine that was not given it.
    sc: Cow<'s, Scenario>,
    signals: Box<dyn Signals + 's>,
    /// Every job submitted, in arrival order (a replay borrows its scenario's).
    defs: Vec<JobDef<'s>>,
    jobs: Vec<JobRt>,
    /// Each job's handle by its stable id, for `defs[..indexed]` (a replay needs none: the
    /// index catches up when a job is submitted or looked up).
    job_index: std::collections::HashMap<String, JobId>,
    indexed: usize,
    /// Jobs that have arrived and are not done, in arrival order.
    active: Vec<JobId>,
    /// The first job not yet queued (jobs are held in arrival order).
    next_arrival: usize,
    sites: Vec<SiteRt>,
    acc: Accumulator,
    counters: Counters,
    inference_order: Vec<Vec<SiteId>>,
    decisions: Vec<Decision>,
    record_timeline: bool,
    /// The next slot to step.
    slot: usize,
    /// What the model held for each site in each slot stepped (`[slot * sites + site]`), kept
    /// after [`Engine::keep_history`] for [`Engine::observed_outcome`].
    history: Option<Vec<SiteSlot>>,
}

/// What the engine's model held for a site in a slot that an executor of batch jobs does not
/// report: the inference it served, the battery's set-point, the import limit and the
/// demand-response cap.
#[derive(Debug, Clone, Copy)]
struct SiteSlot {
    inference_it_kwh: f64,
    inference_acc: u32,
    inference_busy_acc_h: f64,
    tokens: f64,
    battery_setpoint_kw: Option<f64>,
    import_limit_kw: f64,
    dr_cap_kw: Option<f64>,
}

impl<'s> Engine<'s> {
    /// An engine over `sc`'s sites, grid, inference demand and economics, with no jobs and no
    /// events yet (they come with each [`Engine::step`]), reading forecasts from `signals`.
    /// `sc` must be valid ([`Scenario::validate`]); its own jobs and events are ignored.
    pub fn new(sc: &'s Scenario, signals: Box<dyn Signals + 's>, record_timeline: bool) -> Self {
        let sc = if sc.jobs.is_empty() && sc.demand_response.is_empty() {
            Cow::Borrowed(sc)
        } else {
            Cow::Owned(Scenario {
                name: sc.name.clone(),
                grid: sc.grid.clone(),
                sites: sc.sites.clone(),
                jobs: Vec::new(),
                inference: sc.inference.clone(),
                economics: sc.economics.clone(),
                dispatch: sc.dispatch.clone(),
                demand_response: Vec::new(),
            })
        };
        Self::with(sc, signals, record_timeline)
    }

    /// The replay driver's engine over a validated scenario, borrowed whole: its events are
    /// known from the start (each visible to the policy once announced, as
    /// [`FleetView::demand_response_announced`] filters them) and its jobs are ignored (they come
    /// through [`Engine::submit_validated`]).
    pub(crate) fn replaying(
        sc: &'s Scenario,
        forecast: crate::forecast::ForecastKind,
        record_timeline: bool,
    ) -> Self {
        // The job state first: a year of jobs is the largest block, and taken before the
        // forecasts it is reused from one run to the next (fewer page faults in a long process).
        let jobs = Vec::with_capacity(sc.jobs.len());
        let defs = Vec::with_capacity(sc.jobs.len());
        let signals = Box::new(crate::signals::Replay::new(sc, forecast));
        let mut e = Self::with(Cow::Borrowed(sc), signals, record_timeline);
        e.jobs = jobs;
        e.defs = defs;
        e
    }

    fn with(sc: Cow<'s, Scenario>, signals: Box<dyn Signals + 's>, record_timeline: bool) -> Self {
        let sites = sc
            .sites
            .iter()
            .map(|s| SiteRt::at_start(s, record_timeline))
            .collect();
        Engine {
            acc: Accumulator::new(&sc, record_timeline),
            inference_order: sc.inference.iter().map(|d| d.sites.clone()).collect(),
            signals,
            defs: Vec::new(),
            jobs: Vec::new(),
            job_index: std::collections::HashMap::new(),
            indexed: 0,
            active: Vec::new(),
            next_arrival: 0,
            sites,
            counters: Counters::default(),
            decisions: Vec::new(),
            record_timeline,
            slot: 0,
            history: None,
            sc,
        }
    }

    /// Keep, from now on, what each site's model held in each slot (inference, battery
    /// set-points, import limits) for [`Engine::observed_outcome`]. Call it before the first
    /// step.
    pub fn keep_history(&mut self) {
        if self.history.is_none() && self.slot == 0 {
            self.history = Some(Vec::new());
        }
    }

    /// How many accelerators of batch work `site`'s power supply carried at full power in the
    /// last slot stepped (its import limit lowered by demand-response caps, green supply,
    /// battery and thermal backup, over the PUE, less idle power and inference), at most those
    /// inference left free: what an executor may run there.
    pub fn jobs_budget_accelerators(&self, site: SiteId) -> Option<u32> {
        let rt = self.sites.get(site)?;
        let spec = &self.sc.sites[site].accelerators;
        let kw = ((rt.it_cap_kwh - rt.inference_it_kwh) / self.sc.grid.slot_h()).max(0.0);
        let per = spec.busy_extra_kw(1.0);
        let by_power = if per > 0.0 {
            (kw / per + 1e-9).floor().min(f64::from(u32::MAX)) as u32
        } else {
            u32::MAX
        };
        Some(by_power.min(spec.count.saturating_sub(rt.inference_acc)))
    }

    /// The next slot [`Engine::step`] runs (the number of slots done).
    pub fn slot(&self) -> usize {
        self.slot
    }
    /// The time grid.
    pub fn grid(&self) -> &TimeGrid {
        &self.sc.grid
    }
    /// How many jobs have been submitted; a [`JobId`] is a position in submission order.
    pub fn job_count(&self) -> usize {
        self.defs.len()
    }
    /// A job submitted.
    pub fn job(&self, job: JobId) -> Option<&Job> {
        self.defs.get(job).map(|j| &**j)
    }
    /// A job's state.
    pub fn job_state(&self, job: JobId) -> Option<JobState> {
        self.jobs.get(job).map(|r| r.state)
    }
    /// The handle of the job with the stable id `id`.
    pub fn job_by_id(&self, id: &str) -> Option<JobId> {
        self.job_index.get(id).copied().or_else(|| {
            let rest = &self.defs[self.indexed..];
            rest.iter()
                .position(|j| j.id == id)
                .map(|k| self.indexed + k)
        })
    }

    /// `d` with stable ids: the job's id and the site's name.
    pub fn describe(&self, d: &Decision) -> DecisionRecord {
        let name = |s: SiteId| self.sc.sites[s].name.clone();
        let id = |j: JobId| Some(self.defs[j].id.clone());
        let mut r = DecisionRecord {
            slot: d.slot,
            at_h: d.at_h,
            action: "",
            job: None,
            site: String::new(),
            power_level: None,
            kw: None,
        };
        match d.action {
            Action::Start {
                job,
                site,
                power_level,
            } => {
                r.action = "start";
                r.job = id(job);
                r.site = name(site);
                r.power_level = Some(power_level);
            }
            Action::Suspend { job } => {
                r.action = "suspend";
                r.job = id(job);
                r.site = name(self.jobs[job].site);
            }
            Action::Migrate { job, to } => {
                r.action = "migrate";
                r.job = id(job);
                r.site = name(to);
            }
            Action::Battery { site, kw } => {
                r.action = "battery";
                r.site = name(site);
                r.kw = Some(kw);
            }
        }
        r
    }

    /// Take `input`'s jobs and events: all or none (each is validated first).
    fn accept(&mut self, input: SlotInput) -> Result<(), EngineError> {
        if input.jobs.is_empty() && input.events.is_empty() {
            return Ok(());
        }
        self.check(&input)?;
        self.catch_up_index();
        for job in input.jobs {
            self.job_index.insert(job.id.clone(), self.defs.len());
            self.jobs.push(JobRt::new(&job));
            self.defs.push(JobDef::Owned(Box::new(job)));
        }
        self.indexed = self.defs.len();
        if !input.events.is_empty() {
            self.sc.to_mut().demand_response.extend(input.events);
        }
        Ok(())
    }

    /// Whether [`Engine::submit`] would take `input` now (a live driver checks before it
    /// commits a job to its store): jobs in arrival order, none before the current slot, ids
    /// new, every field valid.
    pub fn check(&self, input: &SlotInput) -> Result<(), EngineError> {
        let slot_start_h = self.sc.grid.slot_start_h(self.slot);
        let mut last_arrival = self.defs.last().map_or(f64::NEG_INFINITY, |j| j.arrival_h);
        let mut new_ids = std::collections::HashSet::new();
        for (k, job) in input.jobs.iter().enumerate() {
            if job.arrival_h < slot_start_h {
                return Err(EngineError::LateJob {
                    id: job.id.clone(),
                    arrival_h: job.arrival_h,
                    slot_start_h,
                });
            }
            if self.job_by_id(&job.id).is_some() || !new_ids.insert(job.id.as_str()) {
                return Err(EngineError::DuplicateId { id: job.id.clone() });
            }
            self.sc
                .validate_job(self.defs.len() + k, job, last_arrival)
                .map_err(EngineError::Invalid)?;
            last_arrival = job.arrival_h;
        }
        let mut event_ids: std::collections::HashSet<&str> = self
            .sc
            .demand_response
            .iter()
            .map(|e| e.id.as_str())
            .collect();
        for (k, e) in input.events.iter().enumerate() {
            if !event_ids.insert(e.id.as_str()) {
                return Err(EngineError::DuplicateId { id: e.id.clone() });
            }
            self.sc
                .validate_event(self.sc.demand_response.len() + k, e)
                .map_err(EngineError::Invalid)?;
        }
        Ok(())
    }

    /// Index the jobs submitted without one (a replay's).
    fn catch_up_index(&mut self) {
        for (k, j) in self.defs.iter().enumerate().skip(self.indexed) {
            self.job_index.insert(j.id.clone(), k);
        }
        self.indexed = self.defs.len();
    }

    /// Take jobs of an already validated scenario, borrowed, ahead of the next step: the
    /// replay driver's way in ([`crate::sim`]), which spares a copy and a second check of each
    /// job. They must come in arrival order, none before the current slot.
    pub(crate) fn submit_validated(&mut self, jobs: &'s [Job]) {
        self.jobs.reserve(jobs.len());
        self.defs.reserve(jobs.len());
        for job in jobs {
            debug_assert!(job.arrival_h >= self.sc.grid.slot_start_h(self.slot));
            self.jobs.push(JobRt::new(job));
            self.defs.push(JobDef::Borrowed(job));
        }
    }

    /// The policy's view and actions at `now_h` (one place lends it the engine's state).
    fn context(&mut self, now_h: f64, phase: Phase) -> Context<'_> {
        Context {
            sc: &self.sc,
            defs: &self.defs,
            signals: &*self.signals,
            jobs: &mut self.jobs,
            active: &self.active,
            sites: &mut self.sites,
            slot: self.slot,
            now_h,
            phase,
            counters: &mut self.counters,
            decisions: &mut self.decisions,
        }
    }

    /// Run the next slot: take `input`, let `policy` act, and write the slot to `sink`.
    /// Returns the decisions taken in the slot, in order. On an error nothing changes.
    pub fn step(
        &mut self,
        input: SlotInput,
        policy: &mut dyn Policy,
        sink: &mut dyn Sink,
    ) -> Result<&[Decision], EngineError> {
        if self.slot >= self.sc.grid.slots {
            return Err(EngineError::RunOver {
                slots: self.sc.grid.slots,
            });
        }
        self.accept(input)?;
        self.decisions.clear();
        let t = self.slot;
        let now_h = self.sc.grid.slot_start_h(t);
        let end_h = self.sc.grid.slot_start_h(t + 1);
        self.queue_arrivals(now_h);
        self.prepare_sites(t, now_h, end_h);
        self.serve_inference(t, policy);
        policy.on_slot(&mut self.context(now_h, Phase::SlotStart));
        for &j in &self.active {
            if self.jobs[j].state == JobState::Running {
                run_now(
                    &self.sc,
                    &self.defs,
                    &mut self.jobs,
                    &mut self.sites,
                    j,
                    now_h,
                    end_h,
                );
            }
        }
        self.arrivals_in_slot(end_h, policy);
        self.dispatch_and_account(t, sink);
        // Running jobs may have finished inside the slot; keep only the live ones.
        let jobs = &self.jobs;
        self.active.retain(|&j| jobs[j].state != JobState::Done);
        self.slot += 1;
        sink.slot_done(t, &self.decisions);
        Ok(&self.decisions)
    }

    /// Step 1: arrivals up to the slot start; landed migrations.
    fn queue_arrivals(&mut self, now_h: f64) {
        while self.next_arrival < self.defs.len() && self.defs[self.next_arrival].arrival_h <= now_h
        {
            // A job withdrawn before it arrived never does.
            if self.jobs[self.next_arrival].state != JobState::Cancelled {
                self.jobs[self.next_arrival].state = JobState::Queued;
                self.active.push(self.next_arrival);
            }
            self.next_arrival += 1;
        }
        for &j in &self.active {
            let rt = &mut self.jobs[j];
            if rt.state == JobState::Migrating && rt.migrating_until_h <= now_h + 1e-9 {
                // The move's time covers restarting at the new site: resumed as it lands, the
                // job pays no further restart (later, it does, as any suspended job).
                rt.state = JobState::Suspended;
                rt.suspended_at_h = now_h;
            }
        }
    }

    /// Step 2: the supply available to each site this slot, and running jobs continued
    /// (interruptible ones pre-empted, latest arrivals first, where the supply cannot carry
    /// them).
    fn prepare_sites(&mut self, t: usize, now_h: f64, end_h: f64) {
        let sc = &self.sc;
        let dt = sc.grid.slot_h();
        for (s, site) in sc.sites.iter().enumerate() {
            let rt = &mut self.sites[s];
            rt.committed_acc = 0;
            rt.inference_acc = 0;
            rt.jobs_it_kwh = 0.0;
            rt.inference_it_kwh = 0.0;
            rt.runs.clear();
            rt.busy_acc_h = 0.0;
            rt.job_acc_h = 0.0;
            rt.battery_setpoint_kw = None;
            rt.tokens = 0.0;
            let battery_kw = site.battery.as_ref().map_or(0.0, |b| {
                b.power_kw.min(
                    ((rt.battery.soc_kwh - b.min_kwh()) * b.one_way_efficiency() / dt).max(0.0),
                )
            });
            rt.dr_cap_kw = sc.dr_cap_kw(s, t);
            rt.import_limit_kw = rt.dr_cap_kw.map_or(site.grid.import_limit_kw, |c| {
                c.min(site.grid.import_limit_kw)
            });
            // The site controller admits only what this supply carries: under a demand-response
            // cap it sheds interruptible jobs like a breaker would (below).
            let supply_kw = rt.import_limit_kw
                + site.green_kw(t)
                + battery_kw
                + site.thermal.as_ref().map_or(0.0, |th| th.capacity_kw);
            rt.it_cap_kwh =
                (supply_kw / site.pue.at(t) - site.accelerators.idle_it_kw()).max(0.0) * dt;
        }
        for &j in &self.active {
            let rt = &self.jobs[j];
            if rt.state == JobState::Running {
                let job = &self.defs[j];
                let (_, kwh) = job_segment(sc, job, rt, now_h, end_h);
                let srt = &mut self.sites[rt.site];
                srt.committed_acc += job.accelerators;
                srt.jobs_it_kwh += kwh;
            }
        }
        for &j in self.active.iter().rev() {
            let rt = &self.jobs[j];
            // A job whose flexibility tier protects it while an event caps its site runs on
            // (the import above the cap is reported and charged).
            let protected = self.defs[j].flex_tier.is_some() && capped(sc, rt.site, t);
            if rt.state == JobState::Running && self.defs[j].interruptible && !protected {
                let srt = &self.sites[rt.site];
                if srt.jobs_it_kwh > srt.it_cap_kwh + 1e-9 {
                    release(
                        sc,
                        &self.defs,
                        &mut self.jobs,
                        &mut self.sites,
                        j,
                        now_h,
                        end_h,
                    );
                    self.counters.power_preemptions += 1;
                }
            }
        }
    }

    /// Step 3: inference, in the policy's site order, on what capacity and power are left.
    fn serve_inference(&mut self, t: usize, policy: &mut dyn Policy) {
        let mut order = std::mem::take(&mut self.inference_order);
        {
            let now_h = self.sc.grid.slot_start_h(t);
            let ctx = self.context(now_h, Phase::SlotStart);
            for (r, o) in order.iter_mut().enumerate() {
                policy.inference_order(&ctx, r, o);
            }
        }
        self.inference_order = order;
        let sc = &self.sc;
        let dt = sc.grid.slot_h();
        for (r, d) in sc.inference.iter().enumerate() {
            let mut demand = d.tokens_per_s[t];
            let mut served_total = 0.0;
            for &s in &self.inference_order[r] {
                let Some(k) = d.sites.iter().position(|x| *x == s) else {
                    continue;
                };
                if demand <= 0.0 {
                    break;
                }
                let jpt = d.joules_per_token[k];
                let spec = &sc.sites[s].accelerators;
                let rt = &mut self.sites[s];
                let free = spec
                    .count
                    .saturating_sub(rt.committed_acc + rt.inference_acc);
                // One accelerator serves (peak - idle) / J-per-token tokens/s at full power.
                let per_acc = (spec.peak_w - spec.idle_w) / jpt;
                let by_capacity = f64::from(free) * per_acc;
                let power_left_kw =
                    ((rt.it_cap_kwh - rt.jobs_it_kwh - rt.inference_it_kwh) / dt).max(0.0);
                let by_power = power_left_kw * 1000.0 / jpt;
                let served = demand.min(by_capacity).min(by_power);
                if served <= 0.0 {
                    continue;
                }
                rt.inference_acc += ((served / per_acc) - 1e-9).ceil() as u32;
                rt.inference_it_kwh += served * jpt / 1000.0 * dt;
                rt.tokens += served * dt * 3600.0;
                rt.busy_acc_h += served / per_acc * dt;
                demand -= served;
                served_total += served;
            }
            self.acc.inference(
                r,
                d.tokens_per_s[t] * dt * 3600.0,
                served_total * dt * 3600.0,
            );
        }
    }

    /// Step 6: arrivals inside the slot, in order, each offered to the policy at its instant.
    fn arrivals_in_slot(&mut self, end_h: f64, policy: &mut dyn Policy) {
        while self.next_arrival < self.defs.len() && self.defs[self.next_arrival].arrival_h < end_h
        {
            let j = self.next_arrival;
            self.next_arrival += 1;
            if self.jobs[j].state == JobState::Cancelled {
                continue;
            }
            self.jobs[j].state = JobState::Queued;
            self.active.push(j);
            let at_h = self.defs[j].arrival_h;
            policy.on_arrival(&mut self.context(at_h, Phase::Arrival), j);
        }
    }

    /// Step 7: energy dispatch and accounting per site; the timeline and job runs to `sink`.
    fn dispatch_and_account(&mut self, t: usize, sink: &mut dyn Sink) {
        let sc = &self.sc;
        let window = (sc.dispatch.trailing_window_h / sc.grid.slot_h()).round() as usize;
        for s in 0..sc.sites.len() {
            let rt = &mut self.sites[s];
            if let Some(h) = &mut self.history {
                h.push(SiteSlot {
                    inference_it_kwh: rt.inference_it_kwh,
                    inference_acc: rt.inference_acc,
                    inference_busy_acc_h: rt.busy_acc_h - rt.job_acc_h,
                    tokens: rt.tokens,
                    battery_setpoint_kw: rt.battery_setpoint_kw,
                    import_limit_kw: rt.import_limit_kw,
                    dr_cap_kw: rt.dr_cap_kw,
                });
            }
            let row = account_site(sc, &mut self.acc, t, s, window, rt, &mut self.decisions);
            if let Some(row) = row {
                sink.timeline(row);
            }
            for seg in rt.segments.drain(..) {
                sink.segment(seg);
            }
        }
    }

    /// The accounting so far, as [`Engine::finish`] would give it now (the engine goes on).
    pub fn so_far(&self, policy: &dyn Policy) -> RunOutcome {
        self.outcome(policy)
    }

    /// When a job started and finished, and where it runs or ran (`None` for an unknown job).
    pub fn job_times(&self, job: JobId) -> Option<(Option<f64>, Option<f64>, SiteId)> {
        self.jobs
            .get(job)
            .map(|r| (r.started_h, r.completed_h, r.site))
    }

    /// The run's result once every slot is stepped (or the driver stops): the metrics, each
    /// site's, and every job's outcome. The timeline went to the sink.
    pub fn finish(self, policy: &dyn Policy) -> RunOutcome {
        self.outcome(policy)
    }

    fn outcome(&self, policy: &dyn Policy) -> RunOutcome {
        let sc = &self.sc;
        let outcomes: Vec<JobOutcome> = self
            .defs
            .iter()
            .zip(&self.jobs)
            .map(|(j, rt)| JobOutcome {
                id: j.id.clone(),
                arrival_h: j.arrival_h,
                runtime_h: j.runtime_h,
                deadline_h: j.deadline_h,
                site: rt.site,
                started_h: rt.started_h,
                completed_h: rt.completed_h,
                migrations: rt.migrations,
                migrated_gb: rt.migrated_gb,
                migration_cost: rt.migrated_gb * sc.economics.transfer_cost_per_gb,
                suspensions: rt.suspensions,
                energy_it_kwh: rt.energy_kwh,
                late_work_acc_h: rt.late_work_acc_h,
                unfinished_work_acc_h: (rt.remaining_h - rt.restart_pending_h).max(0.0)
                    * f64::from(j.accelerators),
                restart_acc_h: rt.restart_h * f64::from(j.accelerators),
                cancelled_h: rt.cancelled_h,
            })
            .collect();
        self.outcome_of(&self.acc, outcomes, policy)
    }

    /// The run's outcome from an accounting of its slots and its jobs' outcomes (the model's,
    /// or the observed ones'), with the engine's counters.
    fn outcome_of(
        &self,
        acc: &Accumulator,
        outcomes: Vec<JobOutcome>,
        policy: &dyn Policy,
    ) -> RunOutcome {
        let c = self.counters;
        let work_total_acc_h = self
            .defs
            .iter()
            .map(|j| j.runtime_h * f64::from(j.accelerators))
            .sum();
        let (metrics, per_site) = acc.finish(
            &self.sc,
            &outcomes,
            work_total_acc_h,
            c.rejected,
            c.power_preemptions,
            c.power_deferrals,
        );
        RunOutcome {
            policy: policy.name(),
            forecast: self.signals.label(),
            metrics,
            per_site,
            jobs: outcomes,
        }
    }

    /// Withdraw job `id` at the current slot's start (its submitter cancelled it): one not
    /// arrived never does; a waiting one leaves the queue; a running one stops, keeping the work
    /// and energy it used. Its remaining work counts as work left undone (so a run that deferred
    /// it saves nothing on equal work by the withdrawal). Policies no longer see it.
    pub fn cancel_job(&mut self, id: &str) -> Result<JobState, EngineError> {
        let j = self
            .job_by_id(id)
            .ok_or_else(|| EngineError::UnknownJob { id: id.into() })?;
        let before = self.jobs[j].state;
        if matches!(before, JobState::Done | JobState::Cancelled) {
            return Err(EngineError::JobOver {
                id: id.into(),
                state: before,
            });
        }
        let now_h = self.sc.grid.slot_start_h(self.slot);
        let rt = &mut self.jobs[j];
        rt.state = JobState::Cancelled;
        rt.cancelled_h = Some(now_h);
        self.active.retain(|&a| a != j);
        Ok(before)
    }

    /// Cancel the demand-response event `id` from the current slot on (a grid operator's
    /// cancellation): a window that has begun now ends at this slot's start, so the slots
    /// already stepped stay as they were; a window still to come is dropped. Policies see the
    /// event as it now stands from the next step. Returns it as it now stands (`None`: dropped).
    pub fn cancel_event(&mut self, id: &str) -> Result<Option<DemandResponseEvent>, EngineError> {
        let now_h = self.sc.grid.slot_start_h(self.slot);
        let k = self
            .sc
            .demand_response
            .iter()
            .position(|e| e.id == id)
            .ok_or_else(|| EngineError::UnknownEvent { id: id.into() })?;
        let e = &self.sc.demand_response[k];
        if e.end_h <= now_h + 1e-9 {
            return Err(EngineError::EventOver {
                id: id.into(),
                end_h: e.end_h,
            });
        }
        let events = &mut self.sc.to_mut().demand_response;
        if events[k].start_h < now_h - 1e-9 {
            events[k].end_h = now_h;
            Ok(Some(events[k].clone()))
        } else {
            events.remove(k);
            Ok(None)
        }
    }

    /// Take jobs and events ahead of the next [`Engine::step`] (a job may be submitted before
    /// it arrives: it stays invisible to the policy until then). All or none.
    pub fn submit(&mut self, input: SlotInput) -> Result<(), EngineError> {
        self.accept(input)
    }

    /// Whether this engine records the timeline (sent to the sink).
    pub fn records_timeline(&self) -> bool {
        self.record_timeline
    }
}

/// What [`Engine::finish`] gives: the accounting of the run so far.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub policy: String,
    pub forecast: String,
    pub metrics: Metrics,
    pub per_site: Vec<SiteMetrics>,
    pub jobs: Vec<JobOutcome>,
}

/// Whether the default battery rule may discharge at `site` in slot `t`: when the price or the
/// carbon intensity is above its trailing mean over `window` slots (the current one included).
/// The trailing sums live in `rt` and are updated here, once per slot, in slot order.
/// A site's slot dispatched ([`crate::dispatch`]) and accounted, from what `rt` holds for it
/// (the IT energy of its jobs and inference, the battery's set-point or rule, its import
/// limit): the engine's model and [`Engine::observed_outcome`] both account through it. A
/// battery set-point is recorded in `decisions`.
fn account_site(
    sc: &Scenario,
    acc: &mut Accumulator,
    t: usize,
    s: SiteId,
    window: usize,
    rt: &mut SiteRt,
    decisions: &mut Vec<Decision>,
) -> Option<TimelineRow> {
    let site = &sc.sites[s];
    let dt = sc.grid.slot_h();
    let it_kwh = site.accelerators.idle_it_kw() * dt + rt.jobs_it_kwh + rt.inference_it_kwh;
    let pue = site.pue.at(t);
    let facility_kw = it_kwh * pue / dt;
    let discharge_allowed = discharge_allowed(site, t, window, rt);
    let mode = match rt.battery_setpoint_kw {
        Some(kw) => {
            decisions.push(Decision {
                slot: t,
                at_h: sc.grid.slot_start_h(t),
                action: Action::Battery { site: s, kw },
            });
            BatteryMode::Setpoint { kw }
        }
        None => BatteryMode::Rule { discharge_allowed },
    };
    let flows: Flows = dispatch(
        site,
        rt.import_limit_kw,
        facility_kw,
        site.green_kw(t),
        &mut rt.battery,
        dt,
        mode,
    );
    acc.slot(
        sc,
        t,
        s,
        it_kwh / dt,
        pue,
        &flows,
        rt.busy_acc_h / dt,
        rt.tokens,
        rt.inference_acc,
        rt.dr_cap_kw,
        ItUse {
            jobs_it_kwh: rt.jobs_it_kwh,
            inference_it_kwh: rt.inference_it_kwh,
            job_acc_h: rt.job_acc_h,
        },
    )
}

fn discharge_allowed(site: &Site, t: usize, window: usize, rt: &mut SiteRt) -> bool {
    if window == 0 {
        return true;
    }
    let p = &site.grid.price_per_mwh;
    let c = &site.grid.carbon_g_per_kwh;
    rt.trailing_price += p[t];
    rt.trailing_carbon += c[t];
    if t >= window {
        rt.trailing_price -= p[t - window];
        rt.trailing_carbon -= c[t - window];
    }
    let k = (t + 1).min(window) as f64;
    p[t] > rt.trailing_price / k + 1e-9 || c[t] > rt.trailing_carbon / k + 1e-9
}

/// Run time and extra IT energy (kWh above idle) of `acc` accelerators at `level` from
/// `from_h` until the job finishes or `end_h`, whichever comes first.
fn segment(
    spec: &Accelerators,
    acc: u32,
    level: f64,
    remaining_h: f64,
    from_h: f64,
    end_h: f64,
) -> (f64, f64) {
    let speed = spec.speed(level);
    let run_h = (remaining_h / speed).min((end_h - from_h).max(0.0));
    (run_h, f64::from(acc) * spec.busy_extra_kw(level) * run_h)
}

/// [`segment`] of job `j` as it runs now (its site, power level and work left).
fn job_segment(sc: &Scenario, j: &Job, rt: &JobRt, from_h: f64, end_h: f64) -> (f64, f64) {
    let spec = &sc.sites[rt.site].accelerators;
    segment(
        spec,
        j.accelerators,
        rt.level,
        rt.remaining_h,
        from_h,
        end_h,
    )
}

/// Take a running job off its site for the rest of the slot (slot-start phase).
/// Whether a demand-response event caps `site` in `slot`.
fn capped(sc: &Scenario, site: SiteId, slot: usize) -> bool {
    sc.demand_response
        .iter()
        .any(|e| e.caps(&sc.grid, site, slot))
}

fn release(
    sc: &Scenario,
    defs: &[JobDef<'_>],
    jobs: &mut [JobRt],
    sites: &mut [SiteRt],
    job: JobId,
    now_h: f64,
    end_h: f64,
) {
    let j = &defs[job];
    let rt = &mut jobs[job];
    let (_, kwh) = job_segment(sc, j, rt, now_h, end_h);
    let srt = &mut sites[rt.site];
    srt.committed_acc -= j.accelerators;
    srt.jobs_it_kwh -= kwh;
    rt.state = JobState::Suspended;
    rt.suspensions += 1;
    rt.suspended_at_h = now_h;
}

/// Make a running job progress from `from_h` to the slot end (or its completion).
fn run_now(
    sc: &Scenario,
    defs: &[JobDef<'_>],
    jobs: &mut [JobRt],
    sites: &mut [SiteRt],
    job: JobId,
    from_h: f64,
    end_h: f64,
) {
    let j = &defs[job];
    let rt = &mut jobs[job];
    let spec = &sc.sites[rt.site].accelerators;
    let (run_h, kwh) = job_segment(sc, j, rt, from_h, end_h);
    let progress_h = run_h * spec.speed(rt.level);
    rt.remaining_h -= progress_h;
    // The restart overhead runs first.
    let restart_h = rt.restart_pending_h.min(progress_h);
    rt.restart_pending_h -= restart_h;
    rt.restart_h += restart_h;
    rt.energy_kwh += kwh;
    let late_h = (from_h + run_h - j.deadline_h.max(from_h)).max(0.0);
    rt.late_work_acc_h += late_h * spec.speed(rt.level) * f64::from(j.accelerators);
    let srt = &mut sites[rt.site];
    srt.runs.push((from_h + run_h, j.accelerators));
    if srt.record && run_h > 0.0 {
        srt.segments.push(Segment {
            job,
            site: rt.site,
            from_h,
            to_h: from_h + run_h,
            accelerators: j.accelerators,
            power_level: rt.level,
        });
    }
    srt.busy_acc_h += f64::from(j.accelerators) * run_h;
    srt.job_acc_h += f64::from(j.accelerators) * run_h;
    // A job is done once less than a microsecond of work is left (rounding of run times).
    if rt.remaining_h <= 1e-6 / 3600.0 {
        rt.remaining_h = 0.0;
        rt.state = JobState::Done;
        rt.completed_h = Some(from_h + run_h);
    }
}
