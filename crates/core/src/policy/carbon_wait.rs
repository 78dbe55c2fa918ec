//! `carbon-wait`: start each deferrable job in the window of lowest forecast carbon intensity
//! at its home site that still meets its deadline ("Let's Wait Awhile").
//!
//! At arrival the policy compares starting now with starting at each later slot boundary up to
//! the latest start that meets the deadline (at most `max_wait_h` ahead), using the mean
//! forecast intensity over the job's run, and keeps the best (the earliest among equals).
//!
//! It books the accelerators of every job it plans, slot by slot, and only plans a job into a
//! window where it still fits beside the jobs already booked there and the most accelerators
//! inference has held at that site so far. Without the bookings every job of a day chose the
//! same green hours, found them full, and started after its latest start: on a year of six real
//! zones it missed 372 deadlines where `asap` missed 3. A job that finds no window with room
//! starts as soon as it fits, as under `asap`. A job that is due and finds no free capacity
//! retries every slot (its booking moves with it); the deadlines it still misses, and why, are
//! counted in the run's notes.

use super::asap::try_start;
use super::{waiting_least_slack_first, Policy};
use crate::fleet::{Fleet, FleetView};
use crate::model::JobId;
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct CarbonWait {
    /// Longest wait considered for jobs without a deadline, hours.
    pub max_wait_h: f64,
    /// Planned start slot of each waiting job.
    planned: HashMap<JobId, usize>,
    /// Accelerators booked per site and slot by the jobs planned or running.
    booked: Vec<Vec<u32>>,
    /// Each job's booking: site, first slot, one past the last slot, accelerators.
    bookings: HashMap<JobId, (usize, usize, usize, u32)>,
    /// The most accelerators inference has held at each site so far (learned, not forecast).
    inference_peak: Vec<u32>,
    /// Planned starts that found the site full when their slot came (they waited).
    crowded_starts: u64,
    /// Jobs that started after their latest start (so finished after their deadline).
    late_starts: u64,
}

impl Default for CarbonWait {
    fn default() -> Self {
        Self {
            max_wait_h: 24.0,
            planned: HashMap::new(),
            booked: Vec::new(),
            bookings: HashMap::new(),
            inference_peak: Vec::new(),
            crowded_starts: 0,
            late_starts: 0,
        }
    }
}

impl CarbonWait {
    /// Size the tables on first use and learn inference's peak holding at each site.
    fn observe(&mut self, ctx: &dyn FleetView) {
        if self.booked.len() != ctx.site_count() {
            self.booked = vec![vec![0; ctx.slots()]; ctx.site_count()];
            self.inference_peak = vec![0; ctx.site_count()];
        }
        for (s, peak) in self.inference_peak.iter_mut().enumerate() {
            *peak = (*peak).max(ctx.inference_accelerators(s));
        }
    }

    /// The slots a run of `run_h` hours starting at `from_h` (in slot `first`) touches.
    fn span(ctx: &dyn FleetView, first: usize, from_h: f64, run_h: f64) -> (usize, usize) {
        let dt = ctx.slot_h();
        let end_h = from_h + run_h.max(0.0);
        let last = ((end_h / dt - 1e-9).ceil() as usize).max(first + 1);
        (first, last.min(ctx.slots()))
    }

    fn fits(&self, site: usize, span: (usize, usize), acc: u32, room: u32) -> bool {
        self.booked[site][span.0..span.1]
            .iter()
            .all(|b| b + acc <= room)
    }

    fn book(&mut self, job: JobId, site: usize, span: (usize, usize), acc: u32) {
        self.unbook(job);
        for b in &mut self.booked[site][span.0..span.1] {
            *b += acc;
        }
        self.bookings.insert(job, (site, span.0, span.1, acc));
    }

    fn unbook(&mut self, job: JobId) {
        if let Some((site, from, to, acc)) = self.bookings.remove(&job) {
            for b in &mut self.booked[site][from..to] {
                *b = b.saturating_sub(acc);
            }
        }
    }

    /// Choose the start slot of `job` and book it.
    fn plan(&mut self, ctx: &dyn FleetView, job: JobId) -> usize {
        let slot = ctx.slot();
        let Some(j) = ctx.job(job) else {
            return slot;
        };
        let site = ctx.job_site(job);
        let now = ctx.now_h();
        let run_h = ctx.remaining_h(job);
        // A slot of slack is kept: a start that finds its slot taken can still retry at the
        // next boundary in time (planning the last feasible boundary made every such job late).
        let latest_start_h = (j.deadline_h - run_h - ctx.slot_h()).min(now + self.max_wait_h);
        let dt = ctx.slot_h();
        let acc = j.accelerators;
        let room = ctx
            .accelerators(site)
            .count
            .saturating_sub(self.inference_peak[site]);
        // The forecasts every candidate window reads, fetched once.
        let (slots, last) = (ctx.slots(), ctx.slots() - 1);
        let hi = ((latest_start_h.max(now) + run_h) / dt).ceil() as usize + 1;
        let hi = hi.min(last);
        let cached: Vec<f64> = (slot..=hi.max(slot))
            .map(|t| ctx.carbon_forecast(site, t))
            .collect();
        let carbon = |t: usize| match t.checked_sub(slot).and_then(|k| cached.get(k)) {
            Some(v) => *v,
            None => ctx.carbon_forecast(site, t),
        };
        let window_carbon = |b: usize| super::mean_of(carbon, slots, dt, b, run_h);
        // Starting now: the rest of this slot, then the following ones.
        let now_span = Self::span(ctx, slot, now, run_h);
        let mut best: Option<(f64, usize, (usize, usize))> = self
            .fits(site, now_span, acc, room)
            .then(|| (window_carbon(slot), slot, now_span));
        let mut b = slot + 1;
        while b < ctx.slots() && (b as f64) * dt <= latest_start_h + 1e-9 {
            let span = Self::span(ctx, b, b as f64 * dt, run_h);
            if self.fits(site, span, acc, room) {
                let c = window_carbon(b);
                let better = match best {
                    Some((bc, ..)) => c < bc - 1e-9,
                    None => true,
                };
                if better {
                    best = Some((c, b, span));
                }
            }
            b += 1;
        }
        match best {
            Some((_, start, span)) => {
                self.book(job, site, span, acc);
                start
            }
            // No window with room: as soon as it fits, as asap would, booked once it starts
            // (a booking now would claim room it may not get).
            None => {
                self.unbook(job);
                slot
            }
        }
    }

    /// `job` started now: its booking covers the run as it really is.
    fn started(&mut self, ctx: &dyn FleetView, job: JobId, acc: u32) {
        if ctx
            .job(job)
            .is_some_and(|j| ctx.now_h() > j.deadline_h - ctx.remaining_h(job) + 1e-9)
        {
            self.late_starts += 1;
        }
        let site = ctx.job_site(job);
        let span = Self::span(ctx, ctx.slot(), ctx.now_h(), ctx.remaining_h(job));
        self.book(job, site, span, acc);
    }
}

impl Policy for CarbonWait {
    fn name(&self) -> String {
        "carbon-wait".into()
    }

    fn on_slot(&mut self, ctx: &mut dyn Fleet) {
        self.observe(ctx);
        let slot = ctx.slot();
        let waiting = waiting_least_slack_first(ctx);
        for j in waiting {
            let planned = match self.planned.get(&j) {
                Some(p) => *p,
                None => {
                    // Queued at a slot boundary, or pre-empted: plan now.
                    let p = self.plan(ctx, j);
                    self.planned.insert(j, p);
                    p
                }
            };
            if planned <= slot {
                let site = ctx.job_site(j);
                let acc = ctx.job(j).map_or(0, |x| x.accelerators);
                if try_start(ctx, j, site) {
                    self.planned.remove(&j);
                    self.started(ctx, j, acc);
                } else if planned == slot {
                    self.crowded_starts += 1;
                }
            }
        }
        // Bookings of jobs that are no longer live are let go.
        let live: std::collections::HashSet<JobId> = ctx.active_jobs().iter().copied().collect();
        let gone: Vec<JobId> = self
            .bookings
            .keys()
            .copied()
            .filter(|j| !live.contains(j))
            .collect();
        for j in gone {
            self.unbook(j);
        }
    }

    fn on_arrival(&mut self, ctx: &mut dyn Fleet, job: JobId) {
        self.observe(ctx);
        let planned = self.plan(ctx, job);
        if planned == ctx.slot() {
            let site = ctx.job_site(job);
            let acc = ctx.job(job).map_or(0, |x| x.accelerators);
            if try_start(ctx, job, site) {
                self.started(ctx, job, acc);
                return;
            }
        }
        self.planned.insert(job, planned);
    }

    fn notes(&self) -> Vec<String> {
        if self.crowded_starts == 0 && self.late_starts == 0 {
            return Vec::new();
        }
        vec![format!(
            "{} planned starts found their site full when due (inference above its peak so far, \
             work that found no window with room, or pre-empted work back in the queue) and \
             waited; {} jobs started after their latest start",
            self.crowded_starts, self.late_starts
        )]
    }
}
