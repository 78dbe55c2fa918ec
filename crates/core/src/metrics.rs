//! Accounting: energy, green share, carbon (location- and market-based, kept apart), cost,
//! curtailment, tokens, and service (jobs and inference).
//!
//! Definitions (all over the whole run, fleet-wide unless per site):
//! - `green_used_kwh`: direct green energy that served the facility load, directly or through
//!   the battery (the battery tracks the green part of what it stores, and only the green share
//!   of the discharge that reaches the load counts, not what it sends to export); so it never
//!   exceeds `facility_kwh` in any slot, and `green_share`, that over `facility_kwh`, never
//!   exceeds 1. Grid energy never counts as green here.
//! - Scope 2 (purchased electricity), by the GHG Protocol's two methods, never mixed:
//!   `carbon_location_kg`: grid import x the grid's average intensity of its slot;
//!   `carbon_market_kg`: grid import not covered by the site's green certificates x the residual
//!   mix, or, where the site holds no certificates, x the slot's grid intensity (a site with
//!   certificates must give a residual mix: validation refuses it otherwise, as the grid average
//!   would count the certificates' attributes twice). Certificates cover the run's import in
//!   proportion (annual-style matching), never more than the import.
//! - Scope 1 (the site's own combustion): `scope1_kg`: thermal backup energy x its emission
//!   factor. Kept apart from both Scope 2 figures; the labelled totals
//!   `carbon_total_location_kg` and `carbon_total_market_kg` are Scope 1 + Scope 2 by each
//!   method, and the carbon price applies to Scope 1 + Scope 2 of the chosen basis.
//! - `cost`: import x price + thermal x its cost + battery wear (kWh delivered x
//!   `battery.wear_cost_per_kwh`) - export x feed-in price, in the scenario's currency; `carbon_cost` is the carbon price x the emissions of the chosen basis;
//!   `total_cost = cost + carbon_cost`. Neither includes moving data.
//! - `migration_cost`: the data migrations moved (`migrated_gb`, each migration moves the job's
//!   `checkpoint_gb`) x `economics.transfer_cost_per_gb`. A real cost, kept apart from the
//!   energy `cost`; the objective ([`ObjectiveWeights`]) adds it.
//! - `import_over_limit_kwh`: grid import above the slot's limit, the connection's limit lowered
//!   by demand-response caps; `dr_over_cap_kwh` is the part above the caps during events, and
//!   `dr_event_slots` counts the site-slots under an event (an event covering any part of a slot
//!   caps the whole slot).
//! - `curtailed_kwh`: direct green energy curtailed, as it happened. What a policy absorbs is
//!   a difference against the reference run: `asap`'s curtailment minus its own
//!   (`curtailment_avoided_kwh` in the savings of the output), negative where a policy curtails
//!   more. (No "absorbed" figure against an idle fleet: any load absorbs against that.)
//! - Energy by use, each slot and site (their sum is `facility_kwh`), times the slot's PUE:
//!   `inference_facility_kwh`: the IT energy above idle of the tokens served (tokens x the
//!   region's joules per token) plus the idle share of the accelerators held for inference
//!   (reserved for the slot: held / all x the site's idle IT power, servers' other IT
//!   included); `batch_facility_kwh`: the jobs' IT energy above idle plus the idle share of the
//!   accelerator-hours they ran; `idle_facility_kwh`: the idle power of accelerators neither
//!   used. So adding batch work leaves what inference is charged unchanged.
//! - `tokens_per_kwh`: tokens served per kWh of `inference_facility_kwh`; `token_value_per_kwh`:
//!   their value (`value_per_million_tokens`) per kWh of it; `batch_kwh_per_acc_h`:
//!   `batch_facility_kwh` per accelerator-hour of job runs (`batch_acc_h`).
//! - Equal work: policies that leave different amounts of work undone are not compared on
//!   what they spent, but on what the same work costs. `work_done_acc_h` is the work done
//!   (accelerator-hours at full speed), `work_total_acc_h` all the work that arrived. The
//!   `equal_work_*` figures add to the measured ones what the work left undone at the end
//!   would take at the scenario's reference rates ([`ReferenceRates`]: the fleet's mean energy,
//!   Scope 2 carbon and cost of an accelerator-hour over the run, the same rates for every
//!   policy): `equal_work_facility_kwh`, `equal_work_carbon_kg` (Scope 1 + Scope 2
//!   location-based) and `equal_work_cost`. Savings are quoted on these. The intensities
//!   `carbon_kg_per_acc_h` and `cost_per_acc_h` divide the measured totals by the work done.
//! - Job `delay`: completion - (arrival + runtime), so suspension and slow power levels count;
//!   `wait`: first start - arrival. A deadline miss is a job done after its deadline, or not
//!   done by the end of the run when its deadline fell inside the run.

use crate::dispatch::Flows;
use crate::model::{Accelerators, CarbonBasis, Scenario, SiteId};
use serde::Serialize;

/// What happened to one job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobOutcome {
    pub id: String,
    pub arrival_h: f64,
    pub runtime_h: f64,
    pub deadline_h: f64,
    /// The site it ran on last (its home site if it never ran).
    pub site: SiteId,
    pub started_h: Option<f64>,
    pub completed_h: Option<f64>,
    pub migrations: u32,
    /// Data moved by its migrations, GB.
    pub migrated_gb: f64,
    /// `migrated_gb` x the transfer price (currency).
    pub migration_cost: f64,
    pub suspensions: u32,
    pub energy_it_kwh: f64,
    /// Accelerator-hours of work done after the deadline.
    pub late_work_acc_h: f64,
    /// Accelerator-hours of work left undone at the end of the run.
    pub unfinished_work_acc_h: f64,
    /// Accelerator-hours spent restarting after suspensions (`dispatch.restart_hours` per
    /// resume, at full speed): power drawn, no progress.
    pub restart_acc_h: f64,
    /// When its submitter withdrew it (live only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled_h: Option<f64>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl JobOutcome {
    /// Whether it missed its deadline: done after it, or not done by it within the run (a job
    /// withdrawn only if it was withdrawn after its deadline).
    pub fn late(&self, horizon_h: f64) -> bool {
        match (self.completed_h, self.cancelled_h) {
            (Some(c), _) => c > self.deadline_h + 1e-9,
            (None, Some(x)) => x > self.deadline_h + 1e-9,
            (None, None) => self.deadline_h <= horizon_h,
        }
    }
}

/// One site in one slot: the power flows and signals, for plots.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineRow {
    pub slot: usize,
    pub site: SiteId,
    pub it_kw: f64,
    pub pue: f64,
    #[serde(flatten)]
    pub flows: Flows,
    pub price_per_mwh: f64,
    pub carbon_g_per_kwh: f64,
    /// Average accelerators busy (jobs and inference).
    pub busy_accelerators: f64,
    /// Accelerators reserved for inference for the whole slot.
    pub inference_accelerators: u32,
    pub tokens: f64,
    pub cost: f64,
    /// Scope 2, location-based: grid import x the slot's grid intensity.
    pub carbon_location_kg: f64,
    /// Scope 1: thermal backup x its emission factor.
    pub scope1_kg: f64,
}

/// The energy, carbon and cost totals that a site and the fleet both report: one list, read
/// through [`SiteMetrics`] and [`Metrics`] (both deref to it) and summed site by site into the
/// fleet's ([`Totals::add`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Totals {
    pub it_kwh: f64,
    pub facility_kwh: f64,
    pub green_available_kwh: f64,
    pub green_used_kwh: f64,
    /// Direct green share of facility energy (`green_used_kwh / facility_kwh`).
    pub green_share: f64,
    pub curtailed_kwh: f64,
    pub exported_kwh: f64,
    pub grid_import_kwh: f64,
    pub import_over_limit_kwh: f64,
    /// `import_over_limit_kwh`, each kWh at its slot's penalty: the event's where it sets one,
    /// else `economics.over_limit_per_kwh` or its default (currency; in the objective).
    pub over_limit_penalty: f64,
    /// Site-slots under a demand-response event.
    pub dr_event_slots: u64,
    /// Grid import above demand-response caps during their events, kWh (part of
    /// `import_over_limit_kwh`, so the objective's over-limit penalty prices it).
    pub dr_over_cap_kwh: f64,
    pub thermal_kwh: f64,
    pub battery_charge_kwh: f64,
    pub battery_discharge_kwh: f64,
    /// Highest import in any slot (the fleet's: of the fleet-wide import).
    pub peak_import_kw: f64,
    /// Scope 2 (grid import), location-based.
    pub carbon_location_kg: f64,
    /// Scope 2 (grid import), market-based.
    pub carbon_market_kg: f64,
    /// Scope 1: thermal backup's own combustion (in neither Scope 2 figure).
    pub scope1_kg: f64,
    /// Scope 1 + Scope 2 location-based: the total the table's carbon saving compares.
    pub carbon_total_location_kg: f64,
    /// Scope 1 + Scope 2 market-based.
    pub carbon_total_market_kg: f64,
    pub cost: f64,
    pub tokens: f64,
    pub busy_accelerator_h: f64,
    /// Facility energy attributed to inference (see the module's rule).
    pub inference_facility_kwh: f64,
    /// Facility energy attributed to batch jobs.
    pub batch_facility_kwh: f64,
    /// Facility energy of accelerators neither used (their idle power, servers included).
    pub idle_facility_kwh: f64,
    /// Accelerator-hours of job runs.
    pub batch_acc_h: f64,
}

impl Totals {
    /// Add `o`'s sums (every field but the ratio `green_share` and the peak, which are not sums).
    pub fn add(&mut self, o: &Totals) {
        self.it_kwh += o.it_kwh;
        self.facility_kwh += o.facility_kwh;
        self.green_available_kwh += o.green_available_kwh;
        self.green_used_kwh += o.green_used_kwh;
        self.curtailed_kwh += o.curtailed_kwh;
        self.exported_kwh += o.exported_kwh;
        self.grid_import_kwh += o.grid_import_kwh;
        self.import_over_limit_kwh += o.import_over_limit_kwh;
        self.over_limit_penalty += o.over_limit_penalty;
        self.dr_event_slots += o.dr_event_slots;
        self.dr_over_cap_kwh += o.dr_over_cap_kwh;
        self.thermal_kwh += o.thermal_kwh;
        self.battery_charge_kwh += o.battery_charge_kwh;
        self.battery_discharge_kwh += o.battery_discharge_kwh;
        self.carbon_location_kg += o.carbon_location_kg;
        self.carbon_market_kg += o.carbon_market_kg;
        self.scope1_kg += o.scope1_kg;
        self.carbon_total_location_kg += o.carbon_total_location_kg;
        self.carbon_total_market_kg += o.carbon_total_market_kg;
        self.cost += o.cost;
        self.tokens += o.tokens;
        self.busy_accelerator_h += o.busy_accelerator_h;
        self.inference_facility_kwh += o.inference_facility_kwh;
        self.batch_facility_kwh += o.batch_facility_kwh;
        self.idle_facility_kwh += o.idle_facility_kwh;
        self.batch_acc_h += o.batch_acc_h;
    }
}

/// What `cost` is made of (currency): `import_cost + thermal_cost + battery_wear_cost -
/// export_revenue`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct CostParts {
    pub import_cost: f64,
    pub thermal_cost: f64,
    /// The batteries' wear: kWh they delivered x their wear cost per kWh.
    pub battery_wear_cost: f64,
    pub export_revenue: f64,
}

impl CostParts {
    fn add(&mut self, o: &CostParts) {
        self.import_cost += o.import_cost;
        self.thermal_cost += o.thermal_cost;
        self.battery_wear_cost += o.battery_wear_cost;
        self.export_revenue += o.export_revenue;
    }
    /// `cost`.
    pub fn total(&self) -> f64 {
        self.import_cost + self.thermal_cost + self.battery_wear_cost - self.export_revenue
    }
}

/// Energy and carbon totals of one site.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct SiteMetrics {
    pub site: String,
    #[serde(flatten)]
    pub totals: Totals,
    /// Kept for the fleet's sum; not part of a site's output.
    #[serde(skip)]
    pub costs: CostParts,
}

impl std::ops::Deref for SiteMetrics {
    type Target = Totals;
    fn deref(&self) -> &Totals {
        &self.totals
    }
}
impl std::ops::DerefMut for SiteMetrics {
    fn deref_mut(&mut self) -> &mut Totals {
        &mut self.totals
    }
}

/// Every metric of one run, fleet-wide. Keys carry their unit. It reads back from a saved
/// run's JSON (a key missing from an older run reads as 0), so that a report renders the same
/// [`crate::compare`] figures from a file as from a run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Metrics {
    #[serde(flatten)]
    pub totals: Totals,
    #[serde(flatten)]
    pub costs: CostParts,
    pub carbon_cost: f64,
    pub total_cost: f64,
    /// Tokens per kWh of `inference_facility_kwh` (0 without inference).
    pub tokens_per_kwh: f64,
    pub token_value: f64,
    /// `token_value` per kWh of `inference_facility_kwh`.
    pub token_value_per_kwh: f64,
    /// `batch_facility_kwh` per accelerator-hour of job runs.
    pub batch_kwh_per_acc_h: f64,
    pub inference_demand_tokens: f64,
    pub inference_unserved_tokens: f64,
    pub inference_served_share: f64,
    pub jobs_total: usize,
    pub jobs_completed: usize,
    pub jobs_unfinished: usize,
    /// Jobs withdrawn by their submitters (live only; not in `jobs_unfinished`). Their
    /// remaining work is in `unfinished_work_acc_h` all the same: charged on equal work.
    #[serde(skip_serializing_if = "is_zero")]
    pub jobs_cancelled: usize,
    pub deadline_misses: usize,
    pub delay_mean_h: f64,
    pub delay_p95_h: f64,
    pub wait_mean_h: f64,
    /// Accelerator-hours done after deadlines.
    pub late_work_acc_h: f64,
    /// Accelerator-hours undone at the end of the run (any deadline).
    pub unfinished_work_acc_h: f64,
    /// The part of `unfinished_work_acc_h` whose deadline fell inside the run.
    pub unfinished_late_acc_h: f64,
    /// Work that arrived in the run, accelerator-hours at full speed.
    pub work_total_acc_h: f64,
    /// `work_total_acc_h` less `unfinished_work_acc_h`.
    pub work_done_acc_h: f64,
    /// Facility energy plus the unfinished work at the reference energy per accelerator-hour.
    pub equal_work_facility_kwh: f64,
    /// Scope 1 + Scope 2 location-based carbon plus the unfinished work at the reference
    /// carbon per accelerator-hour: the carbon figure savings are quoted on.
    pub equal_work_carbon_kg: f64,
    /// Energy cost plus the unfinished work at the reference cost per accelerator-hour: the
    /// cost figure savings are quoted on.
    pub equal_work_cost: f64,
    /// `carbon_total_location_kg` per accelerator-hour of work done.
    pub carbon_kg_per_acc_h: f64,
    /// `cost` per accelerator-hour of work done.
    pub cost_per_acc_h: f64,
    pub suspensions: u64,
    /// Accelerator-hours spent restarting suspended jobs from their checkpoints (no work done).
    pub restart_acc_h: f64,
    pub migrations: u64,
    /// Data moved by migrations, GB.
    pub migrated_gb: f64,
    /// `migrated_gb` x `economics.transfer_cost_per_gb` (currency); not part of `cost` or
    /// `total_cost`, but of the objective.
    pub migration_cost: f64,
    /// Policy actions the simulator refused (capacity, power, eligibility): a policy bug signal.
    pub rejected_actions: u64,
    /// Running jobs pre-empted because the site's supply could not carry them.
    pub power_preemptions: u64,
    /// Starts put off because the site's supply could not carry them.
    pub power_deferrals: u64,
}

impl std::ops::Deref for Metrics {
    type Target = Totals;
    fn deref(&self) -> &Totals {
        &self.totals
    }
}
impl std::ops::DerefMut for Metrics {
    fn deref_mut(&mut self) -> &mut Totals {
        &mut self.totals
    }
}

/// What one site's IT load was used for in one slot, for attributing energy to inference and
/// batch work (the module's rule).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ItUse {
    /// IT energy above idle of the jobs run, kWh.
    pub jobs_it_kwh: f64,
    /// IT energy above idle of the tokens served, kWh.
    pub inference_it_kwh: f64,
    /// Accelerator-hours of job runs.
    pub job_acc_h: f64,
}

/// Collects per-slot flows during a run.
pub(crate) struct Accumulator {
    sites: Vec<SiteMetrics>,
    /// Penalty per kWh above a limit where no event sets one.
    over_limit_per_kwh: f64,
    fleet_import_kw: Vec<f64>,
    inference_demand: f64,
    inference_served: f64,
    /// Whether [`Accumulator::slot`] returns each slot's timeline row.
    record_timeline: bool,
}

impl Accumulator {
    pub(crate) fn new(sc: &Scenario, record_timeline: bool) -> Self {
        Self {
            over_limit_per_kwh: ObjectiveWeights::for_scenario(sc).over_limit_per_kwh,
            sites: sc
                .sites
                .iter()
                .map(|s| SiteMetrics {
                    site: s.name.clone(),
                    ..SiteMetrics::default()
                })
                .collect(),
            fleet_import_kw: vec![0.0; sc.grid.slots],
            inference_demand: 0.0,
            inference_served: 0.0,
            record_timeline,
        }
    }

    /// Inference tokens demanded and served so far.
    pub(crate) fn inference_totals(&self) -> (f64, f64) {
        (self.inference_demand, self.inference_served)
    }

    pub(crate) fn inference(&mut self, _region: usize, demand_tokens: f64, served_tokens: f64) {
        self.inference_demand += demand_tokens;
        self.inference_served += served_tokens;
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn slot(
        &mut self,
        sc: &Scenario,
        slot: usize,
        site: SiteId,
        it_kw: f64,
        pue: f64,
        f: &Flows,
        busy_accelerators: f64,
        tokens: f64,
        inference_accelerators: u32,
        dr_cap_kw: Option<f64>,
        used: ItUse,
    ) -> Option<TimelineRow> {
        let dt = sc.grid.slot_h();
        let s = &sc.sites[site];
        // Energy by use (the module's rule): each use's IT energy above idle plus its share of
        // the idle power, times the PUE; what no use holds is idle.
        let spec = &s.accelerators;
        let idle_per_acc_kw = if spec.count > 0 {
            spec.idle_it_kw() / f64::from(spec.count)
        } else {
            0.0
        };
        let inference_it =
            used.inference_it_kwh + f64::from(inference_accelerators) * idle_per_acc_kw * dt;
        let batch_it = used.jobs_it_kwh + used.job_acc_h * idle_per_acc_kw;
        let idle_it = (it_kw * dt - inference_it - batch_it).max(0.0);
        let price = s.grid.price_per_mwh[slot];
        let ci = s.grid.carbon_g_per_kwh[slot];
        let m = &mut self.sites[site];
        m.it_kwh += it_kw * dt;
        m.facility_kwh += f.facility_kw * dt;
        m.green_available_kwh += f.green_kw * dt;
        m.green_used_kwh += f.green_used_kw() * dt;
        m.curtailed_kwh += f.curtail_kw * dt;
        m.exported_kwh += f.export_kw * dt;
        m.grid_import_kwh += f.import_kw * dt;
        m.import_over_limit_kwh += f.import_over_limit_kw * dt;
        if f.import_over_limit_kw > 0.0 {
            m.over_limit_penalty += f.import_over_limit_kw
                * dt
                * over_limit_penalty_per_kwh(sc, site, slot, self.over_limit_per_kwh);
        }
        m.thermal_kwh += f.thermal_kw * dt;
        m.battery_charge_kwh += f.charge_kw * dt;
        m.battery_discharge_kwh += f.discharge_kw * dt;
        m.peak_import_kw = m.peak_import_kw.max(f.import_kw);
        if let Some(cap) = dr_cap_kw {
            m.dr_event_slots += 1;
            m.dr_over_cap_kwh += (f.import_kw - cap).max(0.0) * dt;
        }
        m.tokens += tokens;
        m.busy_accelerator_h += busy_accelerators * dt;
        m.inference_facility_kwh += inference_it * pue;
        m.batch_facility_kwh += batch_it * pue;
        m.idle_facility_kwh += idle_it * pue;
        m.batch_acc_h += used.job_acc_h;
        let import_cost = f.import_kw * dt * price / 1000.0;
        let export_revenue = f.export_kw * dt * s.grid.feed_in_price_per_mwh[slot] / 1000.0;
        let (thermal_cost, thermal_kg) = s.thermal.as_ref().map_or((0.0, 0.0), |th| {
            (
                f.thermal_kw * dt * th.cost_per_kwh,
                f.thermal_kw * dt * th.g_co2_per_kwh / 1000.0,
            )
        });
        let import_kg = f.import_kw * dt * ci / 1000.0;
        m.costs.import_cost += import_cost;
        m.costs.export_revenue += export_revenue;
        m.costs.thermal_cost += thermal_cost;
        let wear_cost = f.discharge_kw * dt * sc.battery_wear_cost_per_kwh(site);
        m.costs.battery_wear_cost += wear_cost;
        m.scope1_kg += thermal_kg;
        m.carbon_location_kg += import_kg;
        self.fleet_import_kw[slot] += f.import_kw;
        if !self.record_timeline {
            return None;
        }
        Some(TimelineRow {
            slot,
            site,
            it_kw,
            pue,
            flows: *f,
            price_per_mwh: price,
            carbon_g_per_kwh: ci,
            busy_accelerators,
            inference_accelerators,
            tokens,
            cost: import_cost + thermal_cost + wear_cost - export_revenue,
            carbon_location_kg: import_kg,
            scope1_kg: thermal_kg,
        })
    }

    /// The totals so far; the accumulator goes on (a live engine asks mid-run).
    pub(crate) fn finish(
        &self,
        sc: &Scenario,
        jobs: &[JobOutcome],
        work_total_acc_h: f64,
        rejected_actions: u64,
        power_preemptions: u64,
        power_deferrals: u64,
    ) -> (Metrics, Vec<SiteMetrics>) {
        let mut t = Metrics::default();
        let mut sites = self.sites.clone();
        for (s, m) in sites.iter_mut().enumerate() {
            let grid = &sc.sites[s].grid;
            m.green_share = ratio(m.green_used_kwh, m.facility_kwh);
            let covered = grid.green_certificates_kwh.min(m.grid_import_kwh);
            m.carbon_market_kg = match grid.residual_mix_g_co2_per_kwh {
                Some(r) => (m.grid_import_kwh - covered) * r / 1000.0,
                // No certificates (validation requires a residual mix with them): the grid
                // average is the market-based factor.
                None => m.carbon_location_kg,
            };
            m.carbon_total_location_kg = m.carbon_location_kg + m.scope1_kg;
            m.carbon_total_market_kg = m.carbon_market_kg + m.scope1_kg;
            m.cost = m.costs.total();

            t.totals.add(&m.totals);
            t.costs.add(&m.costs);
        }
        t.peak_import_kw = self.fleet_import_kw.iter().copied().fold(0.0, f64::max);
        t.green_share = ratio(t.green_used_kwh, t.facility_kwh);
        let eco = &sc.economics;
        let basis_kg = match eco.carbon_price_basis {
            CarbonBasis::Location => t.carbon_total_location_kg,
            CarbonBasis::Market => t.carbon_total_market_kg,
        };
        t.carbon_cost = basis_kg / 1000.0 * eco.carbon_price_per_t;
        t.total_cost = t.cost + t.carbon_cost;
        t.tokens_per_kwh = ratio(t.tokens, t.inference_facility_kwh);
        t.token_value = t.tokens / 1e6 * eco.value_per_million_tokens;
        t.token_value_per_kwh = ratio(t.token_value, t.inference_facility_kwh);
        t.batch_kwh_per_acc_h = ratio(t.batch_facility_kwh, t.batch_acc_h);
        t.inference_demand_tokens = self.inference_demand;
        t.inference_unserved_tokens = (self.inference_demand - self.inference_served).max(0.0);
        t.inference_served_share = if self.inference_demand > 0.0 {
            self.inference_served / self.inference_demand
        } else {
            1.0
        };

        let horizon_h = sc.grid.horizon_h();
        t.jobs_total = jobs.len();
        let mut delays = Vec::with_capacity(jobs.len());
        let (mut wait_sum, mut waits) = (0.0, 0usize);
        for j in jobs {
            if let Some(c) = j.completed_h {
                t.jobs_completed += 1;
                delays.push((c - j.arrival_h - j.runtime_h).max(0.0));
            } else if j.cancelled_h.is_some() {
                t.jobs_cancelled += 1;
            } else {
                t.jobs_unfinished += 1;
            }
            if let Some(s) = j.started_h {
                wait_sum += s - j.arrival_h;
                waits += 1;
            }
            if j.late(horizon_h) {
                t.deadline_misses += 1;
            }
            t.late_work_acc_h += j.late_work_acc_h;
            t.unfinished_work_acc_h += j.unfinished_work_acc_h;
            if j.deadline_h <= horizon_h {
                t.unfinished_late_acc_h += j.unfinished_work_acc_h;
            }
            t.suspensions += u64::from(j.suspensions);
            t.restart_acc_h += j.restart_acc_h;
            t.migrations += u64::from(j.migrations);
            t.migrated_gb += j.migrated_gb;
            t.migration_cost += j.migration_cost;
        }
        t.work_total_acc_h = work_total_acc_h;
        t.work_done_acc_h = (t.work_total_acc_h - t.unfinished_work_acc_h).max(0.0);
        let rates = ReferenceRates::for_scenario(sc);
        t.equal_work_facility_kwh = t.facility_kwh + t.unfinished_work_acc_h * rates.kwh_per_acc_h;
        t.equal_work_carbon_kg =
            t.carbon_total_location_kg + t.unfinished_work_acc_h * rates.kg_co2_per_acc_h;
        t.equal_work_cost = t.cost + t.unfinished_work_acc_h * rates.cost_per_acc_h;
        t.carbon_kg_per_acc_h = ratio(t.carbon_total_location_kg, t.work_done_acc_h);
        t.cost_per_acc_h = ratio(t.cost, t.work_done_acc_h);
        delays.sort_by(f64::total_cmp);
        t.delay_mean_h = ratio(delays.iter().sum(), delays.len() as f64);
        t.delay_p95_h = percentile(&delays, 0.95);
        t.wait_mean_h = ratio(wait_sum, waits as f64);
        t.rejected_actions = rejected_actions;
        t.power_preemptions = power_preemptions;
        t.power_deferrals = power_deferrals;
        (t, sites)
    }
}

/// What an accelerator-hour of batch work takes on average over the fleet and the run: its
/// power above idle at full speed x the slot's PUE, and that energy's Scope 2 location-based
/// carbon and its price, averaged over every slot and weighted by each site's accelerators.
/// The same for every policy (it depends on the scenario alone), so charging unfinished work at
/// these rates puts runs that did different amounts of work on equal terms.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct ReferenceRates {
    pub kwh_per_acc_h: f64,
    pub kg_co2_per_acc_h: f64,
    pub cost_per_acc_h: f64,
}

impl ReferenceRates {
    pub fn for_scenario(sc: &Scenario) -> Self {
        let n = sc.grid.slots;
        let (mut kwh, mut kg, mut cost, mut weight) = (0.0, 0.0, 0.0, 0.0);
        for s in &sc.sites {
            let count = f64::from(s.accelerators.count);
            if n == 0 || count == 0.0 {
                continue;
            }
            let extra_kw = s.accelerators.busy_extra_kw(1.0);
            let (mut e, mut c, mut p) = (0.0, 0.0, 0.0);
            for t in 0..n {
                let k = extra_kw * s.pue.at(t);
                e += k;
                c += k * s.grid.carbon_g_per_kwh[t] / 1000.0;
                p += k * s.grid.price_per_mwh[t] / 1000.0;
            }
            kwh += e / n as f64 * count;
            kg += c / n as f64 * count;
            cost += p / n as f64 * count;
            weight += count;
        }
        Self {
            kwh_per_acc_h: ratio(kwh, weight),
            kg_co2_per_acc_h: ratio(kg, weight),
            cost_per_acc_h: ratio(cost, weight),
        }
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

/// Nearest-rank percentile of sorted values (0 for none).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Which objective a bound (and the capture against it) is in: the balanced one every policy is
/// judged by, or the planner's carbon-only or cost-only objective (`--objective`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectiveKind {
    #[default]
    Balanced,
    Carbon,
    Cost,
}

/// Weights of the one objective every policy is judged by (and the planner minimises):
///
/// `objective = total_cost + migration_cost
///            + late_per_acc_h x (work done late + work left undone past its deadline)
///            + deferred_per_acc_h x (work left undone at the end, due after the end)
///            + unserved_per_million_tokens x unserved tokens / 1e6
///            + over_limit_penalty (each kWh above a slot's limit at its slot's penalty)`
///
/// where `total_cost` is energy cost plus the carbon price on the chosen basis, and
/// `migration_cost` what moving the migrated jobs' data cost (all work in acc-h =
/// accelerator-hours at full speed). Work still undone at the end of a run but due later is
/// charged what it would cost on average to do, so that putting work off past the end of a run
/// is neither free nor punished. A kWh above a slot's import limit costs the penalty of the
/// demand-response event capping the slot where it sets one, else `over_limit_per_kwh`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ObjectiveWeights {
    pub late_per_acc_h: f64,
    pub deferred_per_acc_h: f64,
    pub unserved_per_million_tokens: f64,
    /// Per kWh above a slot's limit where no event sets its own penalty: the scenario's
    /// `economics.over_limit_per_kwh`, or [`default_over_limit_per_kwh`].
    pub over_limit_per_kwh: f64,
}

/// The default penalty per kWh imported above a limit: twice the lateness that kWh could at
/// most have avoided, so that no policy gains by breaching a cap to be on time. One kWh runs
/// at most `1 / e_min` accelerator-hours of work, `e_min` the least facility energy an
/// accelerator-hour can take anywhere in the run (power above idle at the most efficient
/// level, x the lowest PUE), and each accelerator-hour late costs `late_per_acc_h`.
pub fn default_over_limit_per_kwh(sc: &Scenario, late_per_acc_h: f64) -> f64 {
    breach_penalty_per_kwh(
        late_per_acc_h,
        sc.sites.iter().map(|s| {
            let pue = (0..sc.grid.slots)
                .map(|t| s.pue.at(t))
                .fold(f64::INFINITY, f64::min);
            (&s.accelerators, pue)
        }),
    )
}

/// What an accelerator-hour at full power costs in the balanced objective: its extra power
/// (kW) x PUE x (price + carbon price x intensity) per kWh. The one formula behind the
/// objective's late and deferral weights and the planner's estimates of them.
pub fn acc_h_cost(
    extra_kw: f64,
    pue: f64,
    price_per_mwh: f64,
    carbon_price_per_t: f64,
    g_co2_per_kwh: f64,
) -> f64 {
    extra_kw * pue * (price_per_mwh / 1000.0 + carbon_price_per_t * g_co2_per_kwh / 1e6)
}

/// [`default_over_limit_per_kwh`]'s rule over given sites: each site's accelerators and the
/// lowest PUE it may have (over the run, or over a planning window's forecasts).
pub fn breach_penalty_per_kwh<'a>(
    late_per_acc_h: f64,
    sites: impl Iterator<Item = (&'a Accelerators, f64)>,
) -> f64 {
    let e_min = sites
        .map(|(a, min_pue)| {
            let level = a.min_power_level.clamp(1e-3, 1.0);
            a.busy_extra_kw(level) / a.speed(level) * min_pue.max(1.0)
        })
        .fold(f64::INFINITY, f64::min);
    if e_min.is_finite() && e_min > 1e-9 {
        2.0 * late_per_acc_h / e_min
    } else {
        2.0 * late_per_acc_h
    }
}

/// The penalty per kWh above the limit of `site` in `slot`: an event's where one covering it
/// sets one, else `default_per_kwh`.
pub fn over_limit_penalty_per_kwh(
    sc: &Scenario,
    site: SiteId,
    slot: usize,
    default_per_kwh: f64,
) -> f64 {
    sc.dr_penalty_per_kwh(site, slot).unwrap_or(default_per_kwh)
}

impl ObjectiveWeights {
    /// Defaults from the scenario: an unserved token loses its value (at least 1 per million
    /// tokens); an accelerator-hour of work late costs five times the dearest energy an
    /// accelerator-hour can use anywhere in the run (its extra power x the highest PUE x the
    /// highest price plus carbon price x intensity), so that no policy gains by being late; a kWh
    /// over a limit costs `economics.over_limit_per_kwh`, by default
    /// [`default_over_limit_per_kwh`] (a breach ranks above lateness).
    pub fn for_scenario(sc: &Scenario) -> Self {
        let dearest = sc
            .sites
            .iter()
            .map(|s| {
                let n = sc.grid.slots;
                let pue = (0..n).map(|t| s.pue.at(t)).fold(1.0, f64::max);
                (0..n)
                    .map(|t| {
                        acc_h_cost(
                            s.accelerators.busy_extra_kw(1.0),
                            pue,
                            s.grid.price_per_mwh[t],
                            sc.economics.carbon_price_per_t,
                            s.grid.carbon_g_per_kwh[t],
                        )
                    })
                    .fold(0.0, f64::max)
            })
            .fold(0.0, f64::max);
        // The mean cost of an accelerator-hour over the fleet and the run, by accelerator count.
        let (mut sum, mut weight) = (0.0, 0.0);
        for s in &sc.sites {
            let n = sc.grid.slots;
            let per_acc: f64 = (0..n)
                .map(|t| {
                    acc_h_cost(
                        s.accelerators.busy_extra_kw(1.0),
                        s.pue.at(t),
                        s.grid.price_per_mwh[t],
                        sc.economics.carbon_price_per_t,
                        s.grid.carbon_g_per_kwh[t],
                    )
                })
                .sum::<f64>()
                / n as f64;
            sum += per_acc * f64::from(s.accelerators.count);
            weight += f64::from(s.accelerators.count);
        }
        Self {
            late_per_acc_h: (5.0 * dearest).max(0.01),
            deferred_per_acc_h: if weight > 0.0 {
                (sum / weight).max(0.0)
            } else {
                0.0
            },
            unserved_per_million_tokens: sc.economics.value_per_million_tokens.max(1.0),
            over_limit_per_kwh: sc
                .economics
                .over_limit_per_kwh
                .unwrap_or_else(|| default_over_limit_per_kwh(sc, (5.0 * dearest).max(0.01))),
        }
    }

    /// The objective of a run in the units of `kind`, evaluated on what really happened: the
    /// one an oracle solved for that kind bounds it. `Carbon` counts kg (Scope 1 + Scope 2
    /// location-based) and converts every currency-valued term at the carbon price (at least
    /// 1 currency unit per tonne), `Cost` drops the carbon price, `Balanced` is
    /// [`ObjectiveWeights::evaluate`].
    pub fn evaluate_as(&self, m: &Metrics, kind: ObjectiveKind, carbon_price_per_t: f64) -> f64 {
        match kind {
            ObjectiveKind::Balanced => self.evaluate(m),
            ObjectiveKind::Carbon => {
                m.carbon_total_location_kg
                    + self.plus_penalties(m, 0.0) / (carbon_price_per_t / 1000.0).max(1e-3)
            }
            // Feed-in revenue counts, as in the planner's cost objective.
            ObjectiveKind::Cost => self.plus_penalties(m, m.cost),
        }
    }

    /// The objective of a run, evaluated on what really happened.
    pub fn evaluate(&self, m: &Metrics) -> f64 {
        self.plus_penalties(m, m.total_cost)
    }

    /// `base` plus the moving costs and the penalties of the run, in currency.
    fn plus_penalties(&self, m: &Metrics, base: f64) -> f64 {
        let late = m.late_work_acc_h + m.unfinished_late_acc_h;
        let deferred = m.unfinished_work_acc_h - m.unfinished_late_acc_h;
        base + m.migration_cost
            + self.late_per_acc_h * late
            + self.deferred_per_acc_h * deferred
            + self.unserved_per_million_tokens * m.inference_unserved_tokens / 1e6
            + m.over_limit_penalty
    }
}
