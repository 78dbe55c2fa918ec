//! The accounting of what an executor observed: the same dispatch and metrics as the engine's
//! model, with the batch jobs' runs as the workload manager reported them (when each started,
//! was stopped and ended, and where) in place of the model's.
//!
//! A live driver steers real machines: a job starts when the workload manager starts it (a
//! second or so after the decision), runs as long as it really runs, and ends when it ends.
//! [`Engine::observed_outcome`] accounts those runs slot by slot through the engine's own site
//! accounting ([`super::account_site`]): the energy of each run, each site's supply and battery
//! dispatch, cost, carbon and deadlines. What an executor of batch jobs does not report comes
//! from the model: the inference served, the battery set-points the policy chose, the import
//! limits and demand-response caps in force. Given the model's own runs it reproduces the
//! model's figures (a test below), so a difference is the machines' doing, not the accounting's.

use super::*;

/// A job's run on a site as an executor observed it, in hours since the run's start: from
/// `from_h` to `to_h` at `power_level` (1 at full power).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ObservedRun {
    pub job: JobId,
    pub site: SiteId,
    pub from_h: f64,
    pub to_h: f64,
    pub power_level: f64,
}

impl Engine<'_> {
    /// The run's figures as [`Engine::so_far`] gives them, with every batch job's runs those
    /// observed (`runs`, any order; parts after the first `through_slot` slots are left out)
    /// and its completion when observed (`completed`: job, instant): the slots before
    /// `through_slot` (at most those stepped) are accounted, and a job not seen complete
    /// counts its work not observed as undone. Needs [`Engine::keep_history`]; without it, or
    /// for slots not stepped, nothing is accounted.
    pub fn observed_outcome(
        &self,
        policy: &dyn Policy,
        runs: &[ObservedRun],
        completed: &[(JobId, f64)],
        through_slot: usize,
    ) -> RunOutcome {
        let sc = &*self.sc;
        let n_sites = sc.sites.len();
        let history = self.history.as_deref().unwrap_or(&[]);
        let slots = through_slot
            .min(self.slot)
            .min(history.len() / n_sites.max(1));
        let through_h = sc.grid.slot_start_h(slots);
        let dt = sc.grid.slot_h();
        let window = (sc.dispatch.trailing_window_h / dt).round() as usize;
        let runs: Vec<ObservedRun> = runs
            .iter()
            .filter(|r| r.job < self.defs.len() && r.site < n_sites && r.from_h < through_h)
            .map(|r| ObservedRun {
                to_h: r.to_h.min(through_h),
                ..*r
            })
            .filter(|r| r.to_h > r.from_h)
            .collect();
        // Each slot's job energy and accelerator-hours per site, from the runs' overlaps.
        let mut jobs_it_kwh = vec![0.0; slots * n_sites];
        let mut job_acc_h = vec![0.0; slots * n_sites];
        for r in &runs {
            let acc = self.defs[r.job].accelerators;
            let spec = &sc.sites[r.site].accelerators;
            let first = sc.grid.slot_of(r.from_h).min(slots.saturating_sub(1));
            for t in first..slots {
                let (a, b) = (sc.grid.slot_start_h(t), sc.grid.slot_start_h(t + 1));
                if a >= r.to_h {
                    break;
                }
                let h = r.to_h.min(b) - r.from_h.max(a);
                if h > 0.0 {
                    let k = t * n_sites + r.site;
                    jobs_it_kwh[k] += f64::from(acc) * spec.busy_extra_kw(r.power_level) * h;
                    job_acc_h[k] += f64::from(acc) * h;
                }
            }
        }
        let mut acc = Accumulator::new(sc, false);
        let mut sites: Vec<SiteRt> = sc
            .sites
            .iter()
            .map(|s| SiteRt::at_start(s, false))
            .collect();
        let mut decisions = Vec::new();
        for t in 0..slots {
            for (s, rt) in sites.iter_mut().enumerate() {
                let k = t * n_sites + s;
                let m = &history[k];
                rt.jobs_it_kwh = jobs_it_kwh[k];
                rt.job_acc_h = job_acc_h[k];
                rt.inference_it_kwh = m.inference_it_kwh;
                rt.inference_acc = m.inference_acc;
                rt.busy_acc_h = job_acc_h[k] + m.inference_busy_acc_h;
                rt.tokens = m.tokens;
                rt.battery_setpoint_kw = m.battery_setpoint_kw;
                rt.import_limit_kw = m.import_limit_kw;
                rt.dr_cap_kw = m.dr_cap_kw;
                account_site(sc, &mut acc, t, s, window, rt, &mut decisions);
                decisions.clear();
            }
        }
        // Inference is the model's: its demand and service as the engine accounted them.
        let (demand, served) = self.acc.inference_totals();
        acc.inference(0, demand, served);
        let mut by_job: Vec<Vec<ObservedRun>> = vec![Vec::new(); self.defs.len()];
        for r in runs {
            by_job[r.job].push(r);
        }
        let mut done_at: Vec<Option<f64>> = vec![None; self.defs.len()];
        for &(j, at_h) in completed {
            if j < done_at.len() && at_h <= through_h + 1e-9 {
                done_at[j] = Some(at_h);
            }
        }
        let outcomes: Vec<JobOutcome> = self
            .defs
            .iter()
            .zip(&self.jobs)
            .zip(by_job.iter_mut())
            .zip(&done_at)
            .map(|(((j, rt), runs), &completed_h)| {
                runs.sort_by(|a, b| a.from_h.total_cmp(&b.from_h));
                let (mut work_h, mut energy, mut late) = (0.0, 0.0, 0.0);
                // A run that goes on where the last one ended (the next slot, another power
                // level) is the same run; a gap is a stop (suspended, pre-empted, moving).
                let (mut moves, mut stops) = (0u32, 0u32);
                for (k, r) in runs.iter().enumerate() {
                    let spec = &sc.sites[r.site].accelerators;
                    let h = r.to_h - r.from_h;
                    let speed = spec.speed(r.power_level);
                    work_h += h * speed;
                    energy += f64::from(j.accelerators) * spec.busy_extra_kw(r.power_level) * h;
                    late += (r.to_h - j.deadline_h.max(r.from_h)).max(0.0)
                        * speed
                        * f64::from(j.accelerators);
                    if k > 0 {
                        moves += u32::from(runs[k - 1].site != r.site);
                        stops += u32::from(r.from_h > runs[k - 1].to_h + 1e-9);
                    }
                }
                let migrations = rt.migrations.max(moves);
                JobOutcome {
                    id: j.id.clone(),
                    arrival_h: j.arrival_h,
                    runtime_h: j.runtime_h,
                    deadline_h: j.deadline_h,
                    site: runs.last().map_or(rt.site, |r| r.site),
                    started_h: runs.first().map(|r| r.from_h),
                    completed_h,
                    migrations,
                    migrated_gb: f64::from(migrations) * j.checkpoint_gb,
                    migration_cost: f64::from(migrations)
                        * j.checkpoint_gb
                        * sc.economics.transfer_cost_per_gb,
                    suspensions: stops,
                    energy_it_kwh: energy,
                    late_work_acc_h: late,
                    unfinished_work_acc_h: if completed_h.is_some() {
                        0.0
                    } else {
                        (j.runtime_h - work_h).max(0.0) * f64::from(j.accelerators)
                    },
                    restart_acc_h: rt.restart_h * f64::from(j.accelerators),
                    cancelled_h: rt.cancelled_h,
                }
            })
            .collect();
        self.outcome_of(&acc, outcomes, policy)
    }
}
