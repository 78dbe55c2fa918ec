//! The backtest simulator: slot-stepped, event-driven inside a slot for job arrivals.
//!
//! Each slot:
//! 1. jobs that arrived by the slot's start are queued; finished migrations land;
//! 2. running jobs continue (and are pre-empted, interruptible ones first, if the site's power
//!    supply cannot carry them this slot; the supply counts the slot's import limit, lowered by
//!    demand-response caps);
//! 3. inference demand is served from the remaining capacity, in the policy's site order;
//! 4. the policy acts ([`Policy::on_slot`]);
//! 5. running jobs progress; a job that finishes mid-slot frees its accelerators at that instant;
//! 6. jobs that arrive inside the slot are queued at their arrival instant, in order, and the
//!    policy may start them at once ([`Policy::on_arrival`]);
//! 7. each site's energy is dispatched ([`crate::dispatch`]) and accounted ([`crate::metrics`]).
//!
//! A policy sees only a [`Context`]: observations of past slots, forecasts of the others, and
//! jobs that have arrived. The physics (capacity, power supply, energy) is always the truth.

use crate::dispatch::{dispatch, BatteryMode, BatteryState, Flows};
use crate::forecast::{ForecastKind, Forecaster};
use crate::metrics::{Accumulator, ItUse, JobOutcome, Metrics, TimelineRow};
use crate::model::*;
use crate::policy::Policy;
use serde::Serialize;

/// Settings of one simulation run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimConfig {
    pub forecast: ForecastKind,
    /// Keep a per-slot, per-site timeline (memory grows with slots x sites).
    pub record_timeline: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            forecast: ForecastKind::Perfect,
            record_timeline: false,
        }
    }
}

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
}

/// Why the simulator refused a policy's action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    SlotStart,
    Arrival,
}

/// Forecasters for every series a policy may ask about.
struct Forecasts {
    carbon: Vec<Forecaster>,
    price: Vec<Forecaster>,
    feed_in: Vec<Forecaster>,
    green_kw: Vec<Forecaster>,
    pue: Vec<Forecaster>,
    inference: Vec<Forecaster>,
}

impl Forecasts {
    fn new(sc: &Scenario, kind: ForecastKind) -> Self {
        let n = sc.grid.slots;
        let day = sc.grid.slots_per_day();
        let mk = |truth: Vec<f64>, stream: u64, nonneg: bool| {
            Forecaster::new(truth, kind, day, stream, nonneg)
        };
        let mut f = Forecasts {
            carbon: vec![],
            price: vec![],
            feed_in: vec![],
            green_kw: vec![],
            pue: vec![],
            inference: vec![],
        };
        for (s, site) in sc.sites.iter().enumerate() {
            let base = 8 * s as u64;
            f.carbon
                .push(mk(site.grid.carbon_g_per_kwh.clone(), base, true));
            f.price
                .push(mk(site.grid.price_per_mwh.clone(), base + 1, false));
            f.green_kw.push(mk(
                (0..n).map(|t| site.green_kw(t)).collect(),
                base + 2,
                true,
            ));
            f.pue
                .push(mk((0..n).map(|t| site.pue.at(t)).collect(), base + 3, true));
            // A fixed tariff is known; a feed-in that varies is forecast like a price.
            let feed_in = &site.grid.feed_in_price_per_mwh;
            let tariff = feed_in.windows(2).all(|w| w[0] == w[1]);
            f.feed_in.push(if tariff {
                Forecaster::new(feed_in.clone(), ForecastKind::Perfect, day, base + 4, false)
            } else {
                mk(feed_in.clone(), base + 4, false)
            });
        }
        let base = 8 * sc.sites.len() as u64;
        for (r, d) in sc.inference.iter().enumerate() {
            f.inference
                .push(mk(d.tokens_per_s.clone(), base + r as u64, true));
        }
        f
    }
}

/// What a policy sees and how it acts. It shows the past, the forecasts and the arrived jobs,
/// never the future: its fields are private, and every accessor checks the time.
pub struct Context<'a> {
    sc: &'a Scenario,
    fc: &'a Forecasts,
    jobs: &'a mut [JobRt],
    active: &'a [JobId],
    sites: &'a mut [SiteRt],
    slot: usize,
    now_h: f64,
    phase: Phase,
    rejected: &'a mut u64,
    power_deferrals: &'a mut u64,
}

impl<'a> Context<'a> {
    pub fn slot(&self) -> usize {
        self.slot
    }
    pub fn slots(&self) -> usize {
        self.sc.grid.slots
    }
    pub fn slot_h(&self) -> f64 {
        self.sc.grid.slot_h()
    }
    /// The current instant in hours since the start (the slot start, or an arrival instant).
    pub fn now_h(&self) -> f64 {
        self.now_h
    }
    pub fn slot_end_h(&self) -> f64 {
        self.sc.grid.slot_start_h(self.slot + 1)
    }
    pub fn slots_per_day(&self) -> usize {
        self.sc.grid.slots_per_day()
    }
    pub fn site_count(&self) -> usize {
        self.sc.sites.len()
    }
    pub fn site_name(&self, site: SiteId) -> &str {
        &self.sc.sites[site].name
    }
    pub fn accelerators(&self, site: SiteId) -> &Accelerators {
        &self.sc.sites[site].accelerators
    }
    pub fn battery(&self, site: SiteId) -> Option<&Battery> {
        self.sc.sites[site].battery.as_ref()
    }
    /// The connection's import limit, kW (without demand-response events; see
    /// [`Context::import_limit_forecast_kw`]).
    pub fn import_limit_kw(&self, site: SiteId) -> f64 {
        self.sc.sites[site].grid.import_limit_kw
    }
    /// The import limit of `site` in `slot` as known now, kW: the connection's limit, lowered
    /// by every demand-response event covering any part of `slot` that has been announced by
    /// now (`announced_h <= now_h`). An event not yet announced is invisible.
    pub fn import_limit_forecast_kw(&self, site: SiteId, slot: usize) -> f64 {
        let base = self.sc.sites[site].grid.import_limit_kw;
        self.demand_response_announced()
            .filter(|e| e.caps(&self.sc.grid, site, slot))
            .fold(base, |l, e| l.min(e.import_cap_kw))
    }
    /// The penalty per kWh over the limit that an event announced by now sets for `site` in
    /// `slot` (the highest where several do); `None`: the scenario's default applies.
    pub fn dr_penalty_forecast_per_kwh(&self, site: SiteId, slot: usize) -> Option<f64> {
        self.demand_response_announced()
            .filter(|e| e.caps(&self.sc.grid, site, slot))
            .filter_map(|e| e.penalty_per_kwh)
            .reduce(f64::max)
    }
    /// The demand-response events announced by now (`announced_h <= now_h`), past ones included.
    pub fn demand_response_announced(&self) -> impl Iterator<Item = &DemandResponseEvent> + '_ {
        let now = self.now_h;
        self.sc
            .demand_response
            .iter()
            .filter(move |e| e.announced_h <= now + 1e-12)
    }
    /// The site's green certificates for the run (kWh) and its residual mix (g/kWh), for
    /// market-based carbon.
    pub fn certificates(&self, site: SiteId) -> (f64, Option<f64>) {
        let g = &self.sc.sites[site].grid;
        (g.green_certificates_kwh, g.residual_mix_g_co2_per_kwh)
    }
    pub fn export_limit_kw(&self, site: SiteId) -> f64 {
        self.sc.sites[site].grid.export_limit_kw
    }
    /// Believed feed-in price of `slot` (currency/MWh): known exactly where it is a fixed
    /// tariff (a constant series), forecast like the import price where it varies.
    pub fn feed_in_price_forecast(&self, site: SiteId, slot: usize) -> f64 {
        self.fc.feed_in[site].at(self.slot, slot)
    }
    pub fn thermal(&self, site: SiteId) -> Option<&Thermal> {
        self.sc.sites[site].thermal.as_ref()
    }
    /// The battery's state of charge now (kWh), as metered.
    pub fn battery_soc_kwh(&self, site: SiteId) -> f64 {
        self.sites[site].battery.soc_kwh
    }
    /// What `site`'s battery's wear costs per kWh it delivers ([`Scenario::battery_wear_cost_per_kwh`]).
    pub fn battery_wear_cost_per_kwh(&self, site: SiteId) -> f64 {
        self.sc.battery_wear_cost_per_kwh(site)
    }
    pub fn economics(&self) -> &Economics {
        &self.sc.economics
    }
    /// Hours a migrating job makes no progress (the scenario's `dispatch.migration_hours`). A
    /// migration also costs the job's `checkpoint_gb` x `economics().transfer_cost_per_gb`
    /// ([`Job::migration_cost`]).
    pub fn migration_h(&self) -> f64 {
        self.sc.dispatch.migration_h
    }
    /// Hours (at full speed) a suspended job spends restarting when it resumes (the
    /// scenario's `dispatch.restart_hours`).
    pub fn restart_h(&self) -> f64 {
        self.sc.dispatch.restart_h
    }
    /// Run time at full speed a job still needs: [`Context::remaining_h`], plus the restart a
    /// job suspended before now needs to resume.
    pub fn work_left_h(&self, job: JobId) -> f64 {
        let rt = &self.jobs[job];
        let restart = rt.state == JobState::Suspended && rt.suspended_at_h < self.now_h - 1e-12;
        rt.remaining_h
            + if restart {
                self.sc.dispatch.restart_h
            } else {
                0.0
            }
    }
    pub fn inference_regions(&self) -> usize {
        self.sc.inference.len()
    }
    /// Latency-eligible sites of an inference region and their energy per token (J).
    pub fn inference_sites(&self, region: usize) -> (&[SiteId], &[f64]) {
        let d = &self.sc.inference[region];
        (&d.sites, &d.joules_per_token)
    }
    /// Accelerators already reserved for inference this slot at `site`.
    pub fn inference_accelerators(&self, site: SiteId) -> u32 {
        self.sites[site].inference_acc
    }

    /// Believed carbon intensity (g/kWh) at `site` in `slot`: observed if past, forecast if not.
    pub fn carbon_forecast(&self, site: SiteId, slot: usize) -> f64 {
        self.fc.carbon[site].at(self.slot, slot)
    }
    /// Believed price (currency/MWh).
    pub fn price_forecast(&self, site: SiteId, slot: usize) -> f64 {
        self.fc.price[site].at(self.slot, slot)
    }
    /// Believed direct green power available (kW).
    pub fn green_forecast_kw(&self, site: SiteId, slot: usize) -> f64 {
        self.fc.green_kw[site].at(self.slot, slot)
    }
    /// Believed PUE.
    pub fn pue_forecast(&self, site: SiteId, slot: usize) -> f64 {
        self.fc.pue[site].at(self.slot, slot)
    }
    /// Believed inference demand of region `region` (tokens/s).
    pub fn inference_forecast(&self, region: usize, slot: usize) -> f64 {
        self.fc.inference[region].at(self.slot, slot)
    }
    /// Observed carbon intensity of a past slot, `None` for the present or the future.
    pub fn carbon_observed(&self, site: SiteId, slot: usize) -> Option<f64> {
        (slot < self.slot).then(|| self.fc.carbon[site].observed(slot))
    }

    /// Jobs that have arrived and are not done (queued, running, suspended or migrating).
    pub fn active_jobs(&self) -> &[JobId] {
        self.active
    }
    /// The jobs waiting to run: arrived and queued, or suspended, in arrival order.
    pub fn waiting_jobs(&self) -> Vec<JobId> {
        self.active
            .iter()
            .copied()
            .filter(|&j| matches!(self.jobs[j].state, JobState::Queued | JobState::Suspended))
            .collect()
    }
    /// A job that has arrived; `None` for a job that has not (yet) arrived.
    pub fn job(&self, job: JobId) -> Option<&Job> {
        let j = self.sc.jobs.get(job)?;
        (j.arrival_h <= self.now_h).then_some(j)
    }
    pub fn state(&self, job: JobId) -> JobState {
        self.jobs.get(job).map_or(JobState::Pending, |r| r.state)
    }
    /// Remaining run time at full speed, hours.
    pub fn remaining_h(&self, job: JobId) -> f64 {
        self.jobs[job].remaining_h
    }
    /// The power level a job runs at (its last one when it is not running; 1 before it starts).
    pub fn power_level(&self, job: JobId) -> f64 {
        self.jobs[job].level
    }
    /// The site a job runs on, or last ran on (its home site before it first starts).
    pub fn job_site(&self, job: JobId) -> SiteId {
        self.jobs[job].site
    }
    /// Whether a job has started before (a suspended job resumes where it is).
    pub fn has_started(&self, job: JobId) -> bool {
        self.jobs[job].started_h.is_some()
    }

    /// Accelerators free at `site` right now.
    pub fn free_accelerators(&self, site: SiteId) -> u32 {
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

    fn reject(&mut self, r: Reject) -> Result<(), Reject> {
        *self.rejected += 1;
        Err(r)
    }

    /// Start (or resume) a waiting job at `site` at power level `level` from now on.
    pub fn start(&mut self, job: JobId, site: SiteId, level: f64) -> Result<(), Reject> {
        let Some(j) = self.sc.jobs.get(job) else {
            return self.reject(Reject::UnknownJob);
        };
        if j.arrival_h > self.now_h + 1e-12 {
            return self.reject(Reject::NotArrived);
        }
        let rt = &self.jobs[job];
        if !matches!(rt.state, JobState::Queued | JobState::Suspended) {
            return self.reject(Reject::WrongState);
        }
        if !j.allowed(site) || (rt.started_h.is_some() && rt.site != site) {
            return self.reject(Reject::SiteNotAllowed);
        }
        let acc = &self.sc.sites[site].accelerators;
        if !(level >= acc.min_power_level - 1e-12 && level <= 1.0 + 1e-12) {
            return self.reject(Reject::BadPowerLevel);
        }
        if self.free_accelerators(site) < j.accelerators {
            return self.reject(Reject::NoCapacity);
        }
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
        if srt.jobs_it_kwh + srt.inference_it_kwh + kwh > srt.it_cap_kwh + 1e-9 {
            // Not a policy error: the supply is short (the policy cannot see the truth).
            *self.power_deferrals += 1;
            return Err(Reject::NoPower);
        }
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
            Phase::SlotStart => srt.committed_acc += j.accelerators,
            Phase::Arrival => run_now(self.sc, self.jobs, self.sites, job, from, end_h),
        }
        Ok(())
    }

    /// Suspend a running interruptible job (at the slot start only).
    pub fn suspend(&mut self, job: JobId) -> Result<(), Reject> {
        if self.phase != Phase::SlotStart {
            return self.reject(Reject::NotNow);
        }
        let Some(j) = self.sc.jobs.get(job) else {
            return self.reject(Reject::UnknownJob);
        };
        if self.jobs[job].state != JobState::Running {
            return self.reject(Reject::WrongState);
        }
        if !j.interruptible {
            return self.reject(Reject::NotInterruptible);
        }
        release(
            self.sc,
            self.jobs,
            self.sites,
            job,
            self.now_h,
            self.slot_end_h(),
        );
        Ok(())
    }

    /// Move a running or suspended migratable job to `site`: it makes no progress while its
    /// data moves (`dispatch.migration_hours`), then waits there, suspended, for the policy to
    /// resume it. Moving its checkpoint costs [`Job::migration_cost`] (`migration_cost`).
    pub fn migrate(&mut self, job: JobId, site: SiteId) -> Result<(), Reject> {
        if self.phase != Phase::SlotStart {
            return self.reject(Reject::NotNow);
        }
        let Some(j) = self.sc.jobs.get(job) else {
            return self.reject(Reject::UnknownJob);
        };
        let rt = &self.jobs[job];
        if !matches!(rt.state, JobState::Running | JobState::Suspended) || rt.site == site {
            return self.reject(Reject::WrongState);
        }
        if !j.migratable {
            return self.reject(Reject::NotMigratable);
        }
        if !j.allowed(site) {
            return self.reject(Reject::SiteNotAllowed);
        }
        if rt.state == JobState::Running {
            release(
                self.sc,
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
        rt.migrated_gb += j.checkpoint_gb;
        Ok(())
    }

    /// Battery set-point for this slot in kW (positive charges, negative discharges), instead
    /// of the default rule.
    pub fn set_battery_kw(&mut self, site: SiteId, kw: f64) {
        if kw.is_finite() {
            self.sites[site].battery_setpoint_kw = Some(kw);
        }
    }
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

/// Take a running job off its site for the rest of the slot (slot-start phase).
fn release(
    sc: &Scenario,
    jobs: &mut [JobRt],
    sites: &mut [SiteRt],
    job: JobId,
    now_h: f64,
    end_h: f64,
) {
    let j = &sc.jobs[job];
    let rt = &mut jobs[job];
    let spec = &sc.sites[rt.site].accelerators;
    let (_, kwh) = segment(spec, j.accelerators, rt.level, rt.remaining_h, now_h, end_h);
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
    jobs: &mut [JobRt],
    sites: &mut [SiteRt],
    job: JobId,
    from_h: f64,
    end_h: f64,
) {
    let j = &sc.jobs[job];
    let rt = &mut jobs[job];
    let spec = &sc.sites[rt.site].accelerators;
    let (run_h, kwh) = segment(
        spec,
        j.accelerators,
        rt.level,
        rt.remaining_h,
        from_h,
        end_h,
    );
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

/// The result of simulating one policy.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub policy: String,
    pub forecast: String,
    pub metrics: Metrics,
    pub per_site: Vec<crate::metrics::SiteMetrics>,
    #[serde(skip)]
    pub timeline: Vec<TimelineRow>,
    #[serde(skip)]
    pub jobs: Vec<JobOutcome>,
    /// What the policy had to say after the run.
    pub notes: Vec<String>,
    /// Wall-clock figures ([`crate::policy::Policy::timings`]): for stderr, never serialised.
    #[serde(skip)]
    pub timings: Vec<String>,
    /// The oracle's bound on the objective, when the policy is the oracle.
    pub objective_bound: Option<f64>,
    /// The objective the bound is in.
    pub objective_kind: crate::metrics::ObjectiveKind,
    /// Slots at which the policy's plan failed and it ran its fallback rule
    /// ([`crate::policy::Policy::plan_fallbacks`]).
    pub plan_fallbacks: usize,
    /// Every job run, when the timeline is recorded.
    #[serde(skip)]
    pub segments: Vec<Segment>,
}

/// Simulate `policy` on `scenario`. The scenario must be valid ([`Scenario::validate`]).
pub fn simulate(sc: &Scenario, policy: &mut dyn Policy, cfg: &SimConfig) -> RunResult {
    simulate_with_progress(sc, policy, cfg, &mut |_| {})
}

/// [`simulate`], calling `progress(slot)` after each slot is done (for progress bars). The hook
/// only observes: the result is the same as [`simulate`]'s.
pub fn simulate_with_progress(
    sc: &Scenario,
    policy: &mut dyn Policy,
    cfg: &SimConfig,
    progress: &mut dyn FnMut(usize),
) -> RunResult {
    let n = sc.grid.slots;
    let dt = sc.grid.slot_h();
    let fc = Forecasts::new(sc, cfg.forecast);
    let mut jobs: Vec<JobRt> = sc
        .jobs
        .iter()
        .map(|j| JobRt {
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
            late_work_acc_h: 0.0,
        })
        .collect();
    let mut sites: Vec<SiteRt> = sc
        .sites
        .iter()
        .map(|s| SiteRt {
            battery: s
                .battery
                .as_ref()
                .map(BatteryState::initial)
                .unwrap_or_default(),
            record: cfg.record_timeline,
            ..SiteRt::default()
        })
        .collect();
    let discharge_ok = discharge_permissions(sc);
    let mut acc = Accumulator::new(sc, cfg.record_timeline);
    let mut active: Vec<JobId> = Vec::new();
    let mut next_arrival = 0usize;
    let mut rejected = 0u64;
    let mut power_preemptions = 0u64;
    let mut power_deferrals = 0u64;
    let mut segments: Vec<Segment> = Vec::new();
    let mut inference_order: Vec<Vec<SiteId>> =
        sc.inference.iter().map(|d| d.sites.clone()).collect();

    // The policy's view of the run at an instant: one place that lends it the simulator's state.
    macro_rules! context {
        ($slot:expr, $now_h:expr, $phase:expr) => {
            Context {
                sc,
                fc: &fc,
                jobs: &mut jobs,
                active: &active,
                sites: &mut sites,
                slot: $slot,
                now_h: $now_h,
                phase: $phase,
                rejected: &mut rejected,
                power_deferrals: &mut power_deferrals,
            }
        };
    }
    #[allow(clippy::needless_range_loop)] // t indexes many series, not one
    for t in 0..n {
        let now_h = sc.grid.slot_start_h(t);
        let end_h = sc.grid.slot_start_h(t + 1);

        // 1. Arrivals up to the slot start; landed migrations.
        while next_arrival < sc.jobs.len() && sc.jobs[next_arrival].arrival_h <= now_h {
            jobs[next_arrival].state = JobState::Queued;
            active.push(next_arrival);
            next_arrival += 1;
        }
        for &j in &active {
            if jobs[j].state == JobState::Migrating && jobs[j].migrating_until_h <= now_h + 1e-9 {
                // The move's time covers restarting at the new site: resumed as it lands, the
                // job pays no further restart (later, it does, as any suspended job).
                jobs[j].state = JobState::Suspended;
                jobs[j].suspended_at_h = now_h;
            }
        }

        // 2. Supply available to each site this slot, and running jobs continued.
        for (s, site) in sc.sites.iter().enumerate() {
            let rt = &mut sites[s];
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
        for &j in &active {
            let rt = &jobs[j];
            if rt.state == JobState::Running {
                let job = &sc.jobs[j];
                let spec = &sc.sites[rt.site].accelerators;
                let (_, kwh) = segment(
                    spec,
                    job.accelerators,
                    rt.level,
                    rt.remaining_h,
                    now_h,
                    end_h,
                );
                let srt = &mut sites[rt.site];
                srt.committed_acc += job.accelerators;
                srt.jobs_it_kwh += kwh;
            }
        }
        // Pre-empt interruptible jobs (latest arrivals first) where the supply cannot carry them.
        for &j in active.iter().rev() {
            let rt = &jobs[j];
            if rt.state == JobState::Running && sc.jobs[j].interruptible {
                let srt = &sites[rt.site];
                if srt.jobs_it_kwh > srt.it_cap_kwh + 1e-9 {
                    release(sc, &mut jobs, &mut sites, j, now_h, end_h);
                    power_preemptions += 1;
                }
            }
        }

        // 3. Inference, in the policy's site order, on what capacity and power are left.
        {
            let ctx = context!(t, now_h, Phase::SlotStart);
            for (r, order) in inference_order.iter_mut().enumerate() {
                policy.inference_order(&ctx, r, order);
            }
        }
        for (r, d) in sc.inference.iter().enumerate() {
            let mut demand = d.tokens_per_s[t];
            let mut served_total = 0.0;
            for &s in &inference_order[r] {
                let Some(k) = d.sites.iter().position(|x| *x == s) else {
                    continue;
                };
                if demand <= 0.0 {
                    break;
                }
                let jpt = d.joules_per_token[k];
                let spec = &sc.sites[s].accelerators;
                let rt = &mut sites[s];
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
            acc.inference(
                r,
                d.tokens_per_s[t] * dt * 3600.0,
                served_total * dt * 3600.0,
            );
        }

        // 4. The policy acts at the slot start.
        {
            let mut ctx = context!(t, now_h, Phase::SlotStart);
            policy.on_slot(&mut ctx);
        }

        // 5. Running jobs progress.
        for &j in &active {
            if jobs[j].state == JobState::Running {
                run_now(sc, &mut jobs, &mut sites, j, now_h, end_h);
            }
        }

        // 6. Arrivals inside the slot, in order.
        while next_arrival < sc.jobs.len() && sc.jobs[next_arrival].arrival_h < end_h {
            let j = next_arrival;
            next_arrival += 1;
            jobs[j].state = JobState::Queued;
            active.push(j);
            let mut ctx = context!(t, sc.jobs[j].arrival_h, Phase::Arrival);
            policy.on_arrival(&mut ctx, j);
        }

        // 7. Energy dispatch and accounting per site.
        for (s, site) in sc.sites.iter().enumerate() {
            let rt = &mut sites[s];
            let it_kwh = site.accelerators.idle_it_kw() * dt + rt.jobs_it_kwh + rt.inference_it_kwh;
            let pue = site.pue.at(t);
            let facility_kw = it_kwh * pue / dt;
            let mode = match rt.battery_setpoint_kw {
                Some(kw) => BatteryMode::Setpoint { kw },
                None => BatteryMode::Rule {
                    discharge_allowed: discharge_ok[s][t],
                },
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
            );
            segments.append(&mut rt.segments);
        }

        // Running jobs may have finished inside the slot; keep only the live ones.
        active.retain(|&j| jobs[j].state != JobState::Done);
        progress(t);
    }

    let outcomes: Vec<JobOutcome> = sc
        .jobs
        .iter()
        .zip(&jobs)
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
        })
        .collect();
    let (metrics, per_site, timeline) =
        acc.finish(sc, &outcomes, rejected, power_preemptions, power_deferrals);
    RunResult {
        policy: policy.name(),
        forecast: cfg.forecast.label(),
        metrics,
        per_site,
        timeline,
        jobs: outcomes,
        notes: policy.notes(),
        timings: policy.timings(),
        objective_bound: policy.objective_bound(),
        objective_kind: policy.objective_kind(),
        plan_fallbacks: policy.plan_fallbacks(),
        segments,
    }
}

/// Whether the default battery rule may discharge at each site and slot: when the price or the
/// carbon intensity is above its trailing mean (the current slot included).
fn discharge_permissions(sc: &Scenario) -> Vec<Vec<bool>> {
    let w = (sc.dispatch.trailing_window_h / sc.grid.slot_h()).round() as usize;
    sc.sites
        .iter()
        .map(|site| {
            let p = &site.grid.price_per_mwh;
            let c = &site.grid.carbon_g_per_kwh;
            let (mut ps, mut cs) = (0.0, 0.0);
            (0..sc.grid.slots)
                .map(|t| {
                    if w == 0 {
                        return true;
                    }
                    ps += p[t];
                    cs += c[t];
                    if t >= w {
                        ps -= p[t - w];
                        cs -= c[t - w];
                    }
                    let k = (t + 1).min(w) as f64;
                    p[t] > ps / k + 1e-9 || c[t] > cs / k + 1e-9
                })
                .collect()
        })
        .collect()
}
