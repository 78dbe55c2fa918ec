//! The scenario model: a fleet of sites, their power supply, the work, and the economics.
//!
//! Everything here is *resolved*: every series is already aligned to the time grid (one value
//! per slot), every site reference is an index, every time is in hours since the grid's start.
//! Reading files, resampling and naming things is the job of `suandian-io`; the core only
//! checks the invariants it relies on ([`Scenario::validate`]).

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// Index of a site in [`Scenario::sites`].
pub type SiteId = usize;
/// Index of a job in [`Scenario::jobs`].
pub type JobId = usize;

/// The time grid: `slots` slots of `slot_minutes` each, starting at `start` (UTC).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeGrid {
    pub start: DateTime<Utc>,
    pub slot_minutes: u32,
    pub slots: usize,
}

impl TimeGrid {
    /// Slot length in hours.
    pub fn slot_h(&self) -> f64 {
        f64::from(self.slot_minutes) / 60.0
    }
    /// Horizon length in hours.
    pub fn horizon_h(&self) -> f64 {
        self.slots as f64 * self.slot_h()
    }
    /// Start of slot `slot` in hours since the grid's start.
    pub fn slot_start_h(&self, slot: usize) -> f64 {
        slot as f64 * self.slot_h()
    }
    /// Start of slot `slot` as a UTC timestamp.
    pub fn slot_time(&self, slot: usize) -> DateTime<Utc> {
        self.start + Duration::minutes(i64::from(self.slot_minutes) * slot as i64)
    }
    /// The slot that contains `hours` since start (clamped to the grid).
    pub fn slot_of(&self, hours: f64) -> usize {
        let s = (hours / self.slot_h()).floor();
        if s <= 0.0 {
            0
        } else {
            (s as usize).min(self.slots.saturating_sub(1))
        }
    }
    /// Slots in one day (at least 1).
    pub fn slots_per_day(&self) -> usize {
        ((24 * 60) / self.slot_minutes.max(1)).max(1) as usize
    }
}

/// A data centre.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Site {
    pub name: String,
    pub region: String,
    pub latitude: f64,
    pub longitude: f64,
    pub accelerators: Accelerators,
    pub pue: Pue,
    pub grid: GridConnection,
    /// Directly connected wind/solar plants (绿电直连).
    pub green: Vec<GreenPlant>,
    pub battery: Option<Battery>,
    pub thermal: Option<Thermal>,
}

impl Site {
    /// Green power available at `slot` in kW (sum over plants).
    pub fn green_kw(&self, slot: usize) -> f64 {
        self.green
            .iter()
            .map(|g| g.capacity_kw * g.capacity_factor[slot])
            .sum()
    }
}

/// The accelerator fleet of a site and its power model.
///
/// An accelerator at power level `p` (fraction of full power, `min_power_level..=1`) draws
/// `idle_w + (peak_w - idle_w) * p` and works at speed `p.powf(throughput_exponent)` of full
/// speed. Unused accelerators draw `idle_w`; every server draws `other_it_w_per_server` on top.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Accelerators {
    pub count: u32,
    pub model: String,
    pub idle_w: f64,
    pub peak_w: f64,
    pub per_server: u32,
    pub other_it_w_per_server: f64,
    pub min_power_level: f64,
    /// Speed at power level `p` is `p^throughput_exponent` (1.0: speed proportional to power).
    pub throughput_exponent: f64,
}

impl Accelerators {
    pub fn servers(&self) -> u32 {
        self.count.div_ceil(self.per_server.max(1))
    }
    /// IT power of the whole site with no work at all, in kW.
    pub fn idle_it_kw(&self) -> f64 {
        (f64::from(self.count) * self.idle_w
            + f64::from(self.servers()) * self.other_it_w_per_server)
            / 1000.0
    }
    /// Extra power (above idle) of one busy accelerator at power level `level`, in kW.
    pub fn busy_extra_kw(&self, level: f64) -> f64 {
        (self.peak_w - self.idle_w) * level / 1000.0
    }
    /// Relative speed at power level `level`.
    pub fn speed(&self, level: f64) -> f64 {
        level.powf(self.throughput_exponent)
    }
    /// Extra power above idle at full power for the whole site, in kW.
    pub fn dynamic_range_kw(&self) -> f64 {
        f64::from(self.count) * (self.peak_w - self.idle_w) / 1000.0
    }
}

/// Power usage effectiveness: facility energy / IT energy.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Pue {
    Constant {
        value: f64,
    },
    /// `base + per_degree * max(0, T - threshold_c)`, capped at `max`: cooling works harder
    /// above a free-cooling threshold.
    Temperature {
        base: f64,
        threshold_c: f64,
        per_degree: f64,
        max: f64,
        #[serde(skip)]
        temperature_c: Vec<f64>,
    },
}

impl Pue {
    pub fn at(&self, slot: usize) -> f64 {
        match self {
            Pue::Constant { value } => *value,
            Pue::Temperature {
                base,
                threshold_c,
                per_degree,
                max,
                temperature_c,
            } => (base + per_degree * (temperature_c[slot] - threshold_c).max(0.0)).min(*max),
        }
    }
}

/// The site's connection to the public grid, with its price and carbon signals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GridConnection {
    pub import_limit_kw: f64,
    pub export_limit_kw: f64,
    /// What a MWh exported earns, per slot (a tariff, or a market price: negative values
    /// included).
    #[serde(skip)]
    pub feed_in_price_per_mwh: Vec<f64>,
    #[serde(skip)]
    pub price_per_mwh: Vec<f64>,
    /// Location-based grid-average intensity.
    #[serde(skip)]
    pub carbon_g_per_kwh: Vec<f64>,
    /// Market-based accounting: emission factor of grid energy not covered by certificates
    /// (the residual mix). `None`: the location-based series is used.
    pub residual_mix_g_co2_per_kwh: Option<f64>,
    /// Market-based accounting: green certificates / PPA energy bought for the run, in kWh.
    pub green_certificates_kwh: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GreenKind {
    Solar,
    Wind,
    Other,
}

/// A directly connected renewable plant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GreenPlant {
    pub name: String,
    pub kind: GreenKind,
    pub capacity_kw: f64,
    /// Output per kW of capacity, 0..=1, per slot.
    #[serde(skip)]
    pub capacity_factor: Vec<f64>,
}

/// An on-site battery. Efficiency is split evenly between charging and discharging.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Battery {
    pub capacity_kwh: f64,
    pub power_kw: f64,
    pub round_trip_efficiency: f64,
    pub soc_min: f64,
    pub soc_max: f64,
    pub soc_initial: f64,
    /// What cycling the battery costs (its wear), per kWh it delivers, in the scenario's
    /// currency; `None`: [`default_battery_wear_cost_per_kwh`] for the currency.
    pub wear_cost_per_kwh: Option<f64>,
}

/// A battery system's price per kWh of capacity, US dollars: BloombergNEF's 2024 survey of
/// turnkey energy storage system prices (global average, US$165/kWh).
pub const BATTERY_SYSTEM_USD_PER_KWH: f64 = 165.0;

/// Full cycles a battery delivers before its end of life (80 % of its capacity): a common
/// warranty for the lithium iron phosphate (LFP) cells of stationary storage.
pub const BATTERY_CYCLE_LIFE: f64 = 6000.0;

/// US dollars in one unit of the currencies whose default wear cost is known (approximate
/// 2024 averages).
const USD_PER_UNIT: [(&str, f64); 5] = [
    ("USD", 1.0),
    ("CNY", 1.0 / 7.2),
    ("EUR", 1.08),
    ("AUD", 0.66),
    ("GBP", 1.28),
];

/// The default wear cost of a battery per kWh it delivers, in `currency`: the system's price
/// spread over the energy it delivers in its life,
/// [`BATTERY_SYSTEM_USD_PER_KWH`] / [`BATTERY_CYCLE_LIFE`] = US$0.0275 per kWh (CNY 0.198).
/// `None` for a currency it does not know: the scenario must then give the value.
pub fn default_battery_wear_cost_per_kwh(currency: &str) -> Option<f64> {
    USD_PER_UNIT
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(currency.trim()))
        .map(|(_, usd)| BATTERY_SYSTEM_USD_PER_KWH / BATTERY_CYCLE_LIFE / usd)
}

impl Battery {
    /// One-way efficiency (charge or discharge).
    pub fn one_way_efficiency(&self) -> f64 {
        self.round_trip_efficiency.sqrt()
    }
    pub fn min_kwh(&self) -> f64 {
        self.capacity_kwh * self.soc_min
    }
    pub fn max_kwh(&self) -> f64 {
        self.capacity_kwh * self.soc_max
    }
}

/// Thermal (coal/gas/diesel) backup.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Thermal {
    pub capacity_kw: f64,
    pub cost_per_kwh: f64,
    pub g_co2_per_kwh: f64,
}

/// A batch job. Times are hours since the grid's start.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    pub id: String,
    pub arrival_h: f64,
    pub accelerators: u32,
    /// Run time at full power and full speed.
    pub runtime_h: f64,
    /// Latest completion time; `f64::INFINITY` for none.
    pub deadline_h: f64,
    pub interruptible: bool,
    pub migratable: bool,
    /// Sites the job may run on (data residency). Never empty after resolution.
    pub allowed_sites: Vec<SiteId>,
    pub home_site: SiteId,
    /// Data a migration moves (checkpoint, optimizer state, data set shards), GB.
    pub checkpoint_gb: f64,
    /// Its flexibility tier under demand-response events (Emerald AI's Flex 0-3): while an
    /// event caps its site, a running job of tier `k` is not paused or moved and runs at no
    /// less than `1 - FLEX_SLOWDOWN[k]` of its full speed (tier 0: never slowed). `None`: no
    /// tier (a policy may pause, slow or move it as at any time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flex_tier: Option<u8>,
}

/// The slowdown each flexibility tier tolerates while a demand-response event caps its site:
/// Flex 0, 1, 2, 3 of Emerald AI's Conductor (arXiv 2507.00909): 0 %, 10 %, 25 %, 50 %.
pub const FLEX_SLOWDOWN: [f64; 4] = [0.0, 0.10, 0.25, 0.50];

impl Job {
    /// The least speed (a fraction of full) its tier allows while an event caps its site, or
    /// `None` without a tier.
    pub fn flex_min_speed(&self) -> Option<f64> {
        self.flex_tier
            .map(|k| 1.0 - FLEX_SLOWDOWN[usize::from(k).min(FLEX_SLOWDOWN.len() - 1)])
    }
    /// Accelerator-hours of work at full speed.
    pub fn work_acc_h(&self) -> f64 {
        f64::from(self.accelerators) * self.runtime_h
    }
    pub fn allowed(&self, site: SiteId) -> bool {
        self.allowed_sites.contains(&site)
    }
    /// What one migration of this job costs: its checkpoint moved at the scenario's transfer
    /// price (currency).
    pub fn migration_cost(&self, economics: &Economics) -> f64 {
        self.checkpoint_gb * economics.transfer_cost_per_gb
    }
}

/// Checkpoint size of a job that does not give one, per accelerator it uses (GB).
pub const DEFAULT_CHECKPOINT_GB_PER_ACCELERATOR: f64 = 20.0;
/// Default price of moving data between sites (currency per GB).
pub const DEFAULT_TRANSFER_COST_PER_GB: f64 = 0.02;
/// Default time a migrating job makes no progress (hours).
pub const DEFAULT_MIGRATION_H: f64 = 1.0;

/// Inference demand from one user region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InferenceDemand {
    pub region: String,
    #[serde(skip)]
    pub tokens_per_s: Vec<f64>,
    /// Latency-eligible sites, in order of preference (nearest first).
    pub sites: Vec<SiteId>,
    /// Incremental IT energy per token at each eligible site (same order as `sites`), joules.
    pub joules_per_token: Vec<f64>,
}

/// A demand-response event (OpenADR 3.0 `IMPORT_CAPACITY_LIMIT`): while it lasts, grid import
/// at each of its sites may not exceed `import_cap_kw`. Times are hours since the grid's start.
///
/// Slots are the unit of control, so an event caps every slot it covers any part of (a slot
/// half inside an event is capped for the whole slot): conservative, never late.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct DemandResponseEvent {
    pub id: String,
    /// The sites it caps (every site when the scenario file names none).
    pub sites: Vec<SiteId>,
    pub start_h: f64,
    /// Exclusive.
    pub end_h: f64,
    /// When the grid tells us (at or before `start_h`); a policy cannot see it earlier.
    pub announced_h: f64,
    pub import_cap_kw: f64,
    /// Penalty per kWh imported above the limit in the slots this event caps, in the scenario's
    /// currency (what the grid's programme charges for a breach); `None`: the scenario's
    /// [`Economics::over_limit_per_kwh`] or its default.
    pub penalty_per_kwh: Option<f64>,
}

impl DemandResponseEvent {
    /// Whether the event covers any part of `slot`.
    pub fn covers_slot(&self, grid: &TimeGrid, slot: usize) -> bool {
        const EPS: f64 = 1e-9;
        self.start_h < grid.slot_start_h(slot + 1) - EPS
            && self.end_h > grid.slot_start_h(slot) + EPS
    }
    /// Whether the event caps `site` in `slot`.
    pub fn caps(&self, grid: &TimeGrid, site: SiteId, slot: usize) -> bool {
        self.sites.contains(&site) && self.covers_slot(grid, slot)
    }
}

/// Which emission figure the carbon price applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CarbonBasis {
    #[default]
    Location,
    Market,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Economics {
    pub currency: String,
    pub carbon_price_per_t: f64,
    pub carbon_price_basis: CarbonBasis,
    pub value_per_million_tokens: f64,
    /// Price of moving data between sites, per GB (a migration moves the job's checkpoint).
    pub transfer_cost_per_gb: f64,
    /// Penalty per kWh imported above a slot's limit (the connection's, or a demand-response
    /// cap), in the currency; `None`: the default of
    /// [`crate::metrics::ObjectiveWeights::for_scenario`], which ranks a breach above any
    /// lateness the energy could have avoided.
    pub over_limit_per_kwh: Option<f64>,
}

/// Rule-based dispatch settings shared by all sites.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DispatchRule {
    /// The battery discharges into a deficit only when the price or the carbon intensity is
    /// above its trailing mean over this many hours (0: whenever there is a deficit).
    pub trailing_window_h: f64,
    /// Hours a migrating job spends moving its data and state, making no progress (restarting
    /// at the new site included: resumed as it lands, it pays no [`DispatchRule::restart_h`]).
    pub migration_h: f64,
    /// Hours (at full speed) a suspended job spends restarting from its checkpoint when it
    /// resumes: it holds its accelerators and draws power, making no progress. Changing a running
    /// job's power level is not a restart.
    pub restart_h: f64,
}

/// The default restart overhead, hours: [`DispatchRule::restart_h`].
///
/// An assumption, not a measurement: writing a checkpoint when the job is paused and, on
/// resume, rescheduling, reloading the model and optimiser state and re-initialising the
/// collective communication take minutes for a large training job; six minutes is a middle
/// figure. A scenario sets its own in `dispatch.restart_hours`.
pub const DEFAULT_RESTART_H: f64 = 0.1;

impl Default for DispatchRule {
    fn default() -> Self {
        Self {
            trailing_window_h: 24.0,
            migration_h: DEFAULT_MIGRATION_H,
            restart_h: DEFAULT_RESTART_H,
        }
    }
}

/// Everything the simulator needs: resolved, aligned and validated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    pub name: String,
    pub grid: TimeGrid,
    pub sites: Vec<Site>,
    /// Sorted by arrival.
    pub jobs: Vec<Job>,
    pub inference: Vec<InferenceDemand>,
    pub economics: Economics,
    pub dispatch: DispatchRule,
    /// Demand-response events (import caps over windows).
    pub demand_response: Vec<DemandResponseEvent>,
}

impl Scenario {
    /// The same scenario on slots of `slot_minutes`, which must divide its own: each per-slot
    /// series (prices, carbon, feed-in, green output, temperature, inference demand) held over
    /// the finer slots its slot becomes. Jobs and events are in hours and stay as they are. A
    /// what-if at market resolution for a scenario made hourly (the built-in ones): the hourly
    /// figures repeated, not finer data.
    pub fn refined(&self, slot_minutes: u32) -> Result<Scenario, String> {
        let own = self.grid.slot_minutes;
        if slot_minutes == 0 || !own.is_multiple_of(slot_minutes) {
            return Err(format!(
                "found {slot_minutes}, expected minutes that divide the scenario's {own}-minute slots"
            ));
        }
        let k = (own / slot_minutes) as usize;
        let hold = |v: &mut Vec<f64>| {
            *v = v.iter().flat_map(|&x| std::iter::repeat_n(x, k)).collect();
        };
        let mut sc = self.clone();
        sc.grid.slot_minutes = slot_minutes;
        sc.grid.slots *= k;
        for site in &mut sc.sites {
            hold(&mut site.grid.price_per_mwh);
            hold(&mut site.grid.carbon_g_per_kwh);
            hold(&mut site.grid.feed_in_price_per_mwh);
            for g in &mut site.green {
                hold(&mut g.capacity_factor);
            }
            if let Pue::Temperature { temperature_c, .. } = &mut site.pue {
                hold(temperature_c);
            }
        }
        for d in &mut sc.inference {
            hold(&mut d.tokens_per_s);
        }
        Ok(sc)
    }

    /// The lowest demand-response cap on `site`'s import in `slot`, kW; `None` when no event
    /// covers it.
    pub fn dr_cap_kw(&self, site: SiteId, slot: usize) -> Option<f64> {
        self.demand_response
            .iter()
            .filter(|e| e.caps(&self.grid, site, slot))
            .map(|e| e.import_cap_kw)
            .reduce(f64::min)
    }
    /// The wear cost of `site`'s battery per kWh it delivers: its own, else the currency's
    /// default (validation requires one of the two where there is a battery); 0 without one.
    pub fn battery_wear_cost_per_kwh(&self, site: SiteId) -> f64 {
        self.sites[site].battery.as_ref().map_or(0.0, |b| {
            b.wear_cost_per_kwh
                .or_else(|| default_battery_wear_cost_per_kwh(&self.economics.currency))
                .unwrap_or(0.0)
        })
    }
    /// The penalty per kWh over the limit that an event covering `site` in `slot` sets (the
    /// highest, where several do); `None` where none sets one.
    pub fn dr_penalty_per_kwh(&self, site: SiteId, slot: usize) -> Option<f64> {
        self.demand_response
            .iter()
            .filter(|e| e.caps(&self.grid, site, slot))
            .filter_map(|e| e.penalty_per_kwh)
            .reduce(f64::max)
    }
    /// The import limit of `site` in `slot`, kW: the connection's limit, lowered by every
    /// demand-response event that covers any part of the slot.
    pub fn import_limit_kw(&self, site: SiteId, slot: usize) -> f64 {
        let base = self.sites[site].grid.import_limit_kw;
        self.dr_cap_kw(site, slot).map_or(base, |cap| cap.min(base))
    }
}
