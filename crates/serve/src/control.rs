//! The control loop: one thread owns the engine and the policy, and does everything that
//! changes them in one order: a job is checked, committed to the store, then handed to the
//! engine; a slot is stepped, then recorded as done. Because the engine is deterministic, the
//! store's jobs (each with the slot it was handed over before) and the slots done are its
//! whole state: [`Control::start`] re-steps through them after a restart.

use crate::executor::{
    unix_now, ExecJob, ExecutorHandle, ExecutorStatus, Order, SiteBudget, Want, Wanted,
};
use crate::observed::{JobRuns, SlotClock};
use crate::store::{Store, StoredEvent, StoredJob, StoredSignal, Withdrawn};
use crate::ApiError;
use serde::{Deserialize, Serialize};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use suandian_core::compare::Savings;
use suandian_core::engine::{
    Decision, DecisionRecord, Engine, EngineError, NoSink, ObservedRun, Sink, SlotInput,
};
use suandian_core::fleet::JobState;
use suandian_core::metrics::Metrics;
use suandian_core::metrics::TimelineRow;
use suandian_core::model::{
    DemandResponseEvent, Job, Scenario, DEFAULT_CHECKPOINT_GB_PER_ACCELERATOR,
};
use suandian_core::policy::{Policy, REFERENCE};
use suandian_core::signals::{FeedState, FeedStatus, Live, Replay, Signal};
use tokio::sync::oneshot;

/// A job as the API takes it. Sites are named; times are hours since the scenario's start.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// New: no job submitted before has it.
    #[schema(min_length = 1)]
    pub id: String,
    /// At most the largest eligible site's.
    #[schema(minimum = 1)]
    pub accelerators: u32,
    /// Hours at full power.
    #[schema(exclusive_minimum = 0.0)]
    pub runtime_h: f64,
    /// When the job may start, hours since the scenario's start (at or after the current
    /// slot's start and the last job's arrival); default: the start of the next slot.
    #[schema(minimum = 0.0)]
    pub arrival_h: Option<f64>,
    /// Latest completion; or `max_delay_h` after its earliest end; default: none.
    pub deadline_h: Option<f64>,
    #[schema(minimum = 0.0)]
    pub max_delay_h: Option<f64>,
    /// Sites it may run on (default: all) and its home (default: the first of them).
    pub allowed_sites: Option<Vec<String>>,
    pub home_site: Option<String>,
    #[serde(default = "yes")]
    pub interruptible: bool,
    #[serde(default)]
    pub migratable: bool,
    pub checkpoint_gb: Option<f64>,
    /// Flexibility tier under demand-response events, 0-3 (Emerald AI's Flex: 0 %, 10 %,
    /// 25 %, 50 % slowdown tolerated while an event caps its site; 0: never slowed); default:
    /// none (paused, slowed or moved as the policy sees fit).
    #[schema(minimum = 0, maximum = 3)]
    pub flex_tier: Option<u8>,
}

fn yes() -> bool {
    true
}

/// A job as committed to the store (the engine's `Job`; no deadline is `null`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct JobRecord {
    id: String,
    arrival_h: f64,
    accelerators: u32,
    runtime_h: f64,
    deadline_h: Option<f64>,
    interruptible: bool,
    migratable: bool,
    allowed_sites: Vec<usize>,
    home_site: usize,
    checkpoint_gb: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    flex_tier: Option<u8>,
    /// The executor's job it was adopted from (submitted straight to Slurm and offered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    adopted_from: Option<String>,
}

impl From<&Job> for JobRecord {
    fn from(j: &Job) -> Self {
        JobRecord {
            id: j.id.clone(),
            arrival_h: j.arrival_h,
            accelerators: j.accelerators,
            runtime_h: j.runtime_h,
            deadline_h: j.deadline_h.is_finite().then_some(j.deadline_h),
            interruptible: j.interruptible,
            migratable: j.migratable,
            allowed_sites: j.allowed_sites.clone(),
            home_site: j.home_site,
            checkpoint_gb: j.checkpoint_gb,
            flex_tier: j.flex_tier,
            adopted_from: None,
        }
    }
}

impl From<JobRecord> for Job {
    fn from(r: JobRecord) -> Self {
        Job {
            id: r.id,
            arrival_h: r.arrival_h,
            accelerators: r.accelerators,
            runtime_h: r.runtime_h,
            deadline_h: r.deadline_h.unwrap_or(f64::INFINITY),
            interruptible: r.interruptible,
            migratable: r.migratable,
            allowed_sites: r.allowed_sites,
            home_site: r.home_site,
            checkpoint_gb: r.checkpoint_gb,
            flex_tier: r.flex_tier,
        }
    }
}

/// A demand-response event as the API takes it: an import cap on named sites over a window
/// (hours since the scenario's start), announced at `announced_h` (default: the next slot's
/// start; a policy sees it from then on).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventRequest {
    #[schema(min_length = 1)]
    pub id: String,
    /// Site names.
    #[schema(min_items = 1)]
    pub sites: Vec<String>,
    pub start_h: f64,
    pub end_h: f64,
    pub announced_h: Option<f64>,
    pub import_cap_kw: f64,
    pub penalty_per_kwh: Option<f64>,
}

/// Where the service's signals come from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SignalsMode {
    /// The scenario's series, forecast as the scenario says (a replay in real or accelerated
    /// time).
    Replay,
    /// Only what is posted to `POST /v1/signals`; a forecast is used for `max_age_slots` slots
    /// after it was posted, then persistence from the observations, then the feed's fallback
    /// (the scenario series' mean).
    Live { max_age_slots: usize },
}

/// Observed or forecast values of one signal as the API takes them.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalRequest {
    /// `carbon_g_per_kwh`, `price_per_mwh`, `feed_in_price_per_mwh`, `green_kw`, `pue` (per
    /// site) or `inference_tokens_per_s` (per user region).
    pub signal: String,
    /// The site (every signal but `inference_tokens_per_s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// The user region (`inference_tokens_per_s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// `forecast`: values for the slots from `start_h` on, replacing the earlier forecast
    /// there; `observed`: measured values of slots that have begun.
    pub kind: SignalKind,
    /// The first value's slot, as hours since the scenario's start (a slot boundary).
    pub start_h: f64,
    /// One value per slot, in the signal's unit.
    pub values: Vec<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    Forecast,
    Observed,
}

const SIGNALS: [Signal; 6] = [
    Signal::CarbonGPerKwh,
    Signal::PricePerMwh,
    Signal::FeedInPricePerMwh,
    Signal::GreenKw,
    Signal::Pue,
    Signal::InferenceTokensPerS,
];

/// The feeds of a live provider over `sc`, each falling back to its series' mean.
fn live_feeds(sc: &Scenario, max_age_slots: usize) -> Live {
    let mut live = Live::new(&sc.grid, max_age_slots);
    let mean = |v: &mut dyn Iterator<Item = f64>| {
        let (sum, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
        if n == 0 {
            0.0
        } else {
            sum / n as f64
        }
    };
    let n = sc.grid.slots;
    for (k, site) in sc.sites.iter().enumerate() {
        let g = &site.grid;
        live.declare(
            Signal::CarbonGPerKwh,
            k,
            mean(&mut g.carbon_g_per_kwh.iter().copied()),
        );
        live.declare(
            Signal::PricePerMwh,
            k,
            mean(&mut g.price_per_mwh.iter().copied()),
        );
        live.declare(
            Signal::FeedInPricePerMwh,
            k,
            mean(&mut g.feed_in_price_per_mwh.iter().copied()),
        );
        live.declare(
            Signal::GreenKw,
            k,
            mean(&mut (0..n).map(|t| site.green_kw(t))),
        );
        live.declare(Signal::Pue, k, mean(&mut (0..n).map(|t| site.pue.at(t))));
    }
    for (r, d) in sc.inference.iter().enumerate() {
        live.declare(
            Signal::InferenceTokensPerS,
            r,
            mean(&mut d.tokens_per_s.iter().copied()),
        );
    }
    live
}

/// One live feed's health (`signals::FeedStatus`), as the API shows it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // the schema of `FeedStatus`, which the kernel defines without OpenAPI
pub struct FeedView {
    /// The signal's name (as in `POST /v1/signals`).
    signal: String,
    /// The site's or region's number, in the scenario's order.
    index: usize,
    last_observed_slot: Option<usize>,
    forecast_published_slot: Option<usize>,
    /// `forecast`, `persistence` or `fallback`.
    state: String,
}

/// A page of jobs: `next` is the `after` of the following page (null on the last).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobPage {
    pub jobs: Vec<JobView>,
    pub next: Option<String>,
}

/// A demand-response event as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventView {
    pub id: String,
    pub sites: Vec<String>,
    pub start_h: f64,
    pub end_h: f64,
    pub announced_h: f64,
    pub import_cap_kw: f64,
    pub penalty_per_kwh: Option<f64>,
    /// The slot before which the engine took it.
    pub taken_at_slot: usize,
    /// The slot from which it was cancelled (its window ends at that slot's start, or it was
    /// dropped before it began); null while it stands.
    pub cancelled_at_slot: Option<usize>,
}

/// Signal values taken.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SignalsTaken {
    pub signal: String,
    pub kind: SignalKind,
    /// How many slots' values.
    pub slots: usize,
    /// The slot before which they were taken.
    pub taken_at_slot: usize,
}

/// The figures so far: the same accounting as `suandian simulate`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MetricsView {
    /// `replay` or `live`.
    pub signals: &'static str,
    pub feeds_by_state: std::collections::BTreeMap<String, usize>,
    pub policy: String,
    pub currency: String,
    pub slots_done: usize,
    pub running: bool,
    pub last_step_ms: f64,
    pub max_step_ms: f64,
    pub jobs_by_state: std::collections::BTreeMap<String, usize>,
    /// `simulate --json`'s metrics for this policy so far (energy in kWh, carbon in kg, cost in
    /// the scenario's currency, green share, tokens).
    #[schema(value_type = Object)]
    pub metrics: suandian_core::metrics::Metrics,
    /// The same per site.
    #[schema(value_type = Vec<Object>)]
    pub sites: Vec<suandian_core::metrics::SiteMetrics>,
    /// The counterfactual the service tracks beside the fleet: the reference policy (asap) on
    /// the same jobs, events and signals, so far; null where the service runs asap itself.
    pub reference_policy: &'static str,
    #[schema(value_type = Option<Object>)]
    pub reference: Option<Metrics>,
    /// Savings against it, in % (positive = lower than asap); the `equal_work_*` ones charge
    /// work left undone at the reference rates, so they compare equal work.
    #[schema(value_type = Option<Object>)]
    pub savings: Option<Savings>,
    /// The figures from what the executor observed (null for the simulated fleet, whose runs
    /// are the model's): every batch job's runs as the workload manager started, stopped and
    /// ended them, through the slots that have ended by its last reading, accounted as the
    /// model is (docs/slurm.md).
    pub observed: Option<ObservedView>,
}

/// The accounting of the runs the executor observed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ObservedView {
    /// Slots accounted: those that had ended by the executor's last reading.
    pub through_slot: usize,
    /// When the executor last read its jobs, Unix seconds.
    pub read_at_unix_s: f64,
    /// Jobs with at least one observed run, and those observed complete.
    pub jobs_run: usize,
    pub jobs_completed: usize,
    #[schema(value_type = Object)]
    pub metrics: suandian_core::metrics::Metrics,
    #[schema(value_type = Vec<Object>)]
    pub sites: Vec<suandian_core::metrics::SiteMetrics>,
    /// Each job as observed: where and when it started and completed (hours since the run's
    /// start), its energy and late work.
    #[schema(value_type = Vec<Object>)]
    pub jobs: Vec<suandian_core::metrics::JobOutcome>,
}

/// A site and its state in the last slot stepped.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SiteView {
    pub name: String,
    pub region: String,
    /// Accelerators installed, and their model.
    pub accelerators: u32,
    pub accelerator_model: String,
    pub import_limit_kw: f64,
    /// The lowest demand-response import cap in force in the current slot (none: null).
    pub import_cap_kw: Option<f64>,
    /// The ids of the events capping the site now.
    pub events_in_force: Vec<String>,
    pub battery_capacity_kwh: Option<f64>,
    /// The last slot stepped (null before the first).
    pub last_slot: Option<usize>,
    /// Average accelerators busy in that slot (jobs and inference).
    pub busy_accelerators: Option<f64>,
    /// That slot's average power flows, kW, and the battery's state of charge at its end.
    pub it_kw: Option<f64>,
    pub facility_kw: Option<f64>,
    /// Where the power came from: direct green, battery, grid, thermal backup (kW).
    pub green_to_load_kw: Option<f64>,
    pub battery_to_load_kw: Option<f64>,
    pub import_kw: Option<f64>,
    pub thermal_kw: Option<f64>,
    pub charge_kw: Option<f64>,
    pub export_kw: Option<f64>,
    pub curtailed_kw: Option<f64>,
    pub soc_kwh: Option<f64>,
    pub carbon_g_per_kwh: Option<f64>,
    pub price_per_mwh: Option<f64>,
}

/// The plan in force: what the policy intends at each site from the next slot on (the
/// coordinated planner's latest plan; empty for a rule, which plans nothing ahead).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PlanView {
    pub policy: String,
    /// The slot the plan was made at (null: no plan).
    pub made_at_slot: Option<usize>,
    /// The slot the series start at: the next to run.
    pub first_slot: usize,
    pub sites: Vec<SitePlanView>,
}

/// One site's part of the plan, a value per slot from `first_slot` on.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SitePlanView {
    pub site: String,
    /// Batch work planned, accelerator-hours per slot.
    pub work_acc_h: Vec<f64>,
    /// Battery power planned, kW (positive: charging); empty without a battery.
    pub battery_kw: Vec<f64>,
}

/// What the policy decided in the last slot stepped, per site.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Decisions {
    /// The last slot stepped (null before the first).
    pub slot: Option<usize>,
    /// Site name → that slot's decisions there, in order (starts, power-level changes,
    /// suspensions, migrations, battery set-points).
    #[schema(value_type = std::collections::BTreeMap<String, Vec<DecisionView>>)]
    pub sites: std::collections::BTreeMap<String, Vec<DecisionRecord>>,
}

/// One decision (`engine::DecisionRecord`), as the API shows it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // the schema of `DecisionRecord`, which the kernel defines without OpenAPI
pub struct DecisionView {
    slot: usize,
    at_h: f64,
    /// `start`, `suspend`, `migrate` or `battery`.
    action: String,
    job: Option<String>,
    site: String,
    power_level: Option<f64>,
    /// A battery set-point, kW (charging > 0).
    kw: Option<f64>,
}

/// The last slot's flows per site and decisions, kept as the engine steps.
#[derive(Default)]
struct LastSlot {
    rows: Vec<Option<TimelineRow>>,
    slot: Option<usize>,
    decisions: Vec<Decision>,
    /// The jobs that ran in the last slot, and where (a job may start and finish inside it).
    ran: Vec<(usize, usize)>,
    /// The same, for the slot being stepped.
    running: Vec<(usize, usize)>,
}

/// A slot's timeline rows, by site (what the reference's step is read for).
#[derive(Default)]
struct SiteRows(Vec<Option<TimelineRow>>);

impl Sink for SiteRows {
    fn timeline(&mut self, row: TimelineRow) {
        if self.0.len() <= row.site {
            self.0.resize(row.site + 1, None);
        }
        let site = row.site;
        self.0[site] = Some(row);
    }
}

/// One site's import and busy accelerators in each slot stepped, the policy's and the
/// counterfactual's (the baseline an OpenADR report compares with).
#[derive(Debug, Clone, Default, Serialize)]
pub struct SiteSeries {
    pub site: String,
    pub import_kw: Vec<f64>,
    pub busy_accelerators: Vec<f64>,
    /// The no-event baseline: the reference (asap) on the same jobs and signals, without the
    /// demand-response events.
    pub baseline_import_kw: Vec<f64>,
    pub baseline_busy_accelerators: Vec<f64>,
}

impl Sink for LastSlot {
    fn segment(&mut self, segment: suandian_core::engine::Segment) {
        self.running.push((segment.job, segment.site));
    }
    fn timeline(&mut self, row: TimelineRow) {
        if self.rows.len() <= row.site {
            self.rows.resize(row.site + 1, None);
        }
        let site = row.site;
        self.rows[site] = Some(row);
    }
    fn slot_done(&mut self, slot: usize, decisions: &[Decision]) {
        self.slot = Some(slot);
        self.decisions = decisions.to_vec();
        self.ran = std::mem::take(&mut self.running);
    }
}

/// A job's state as the API shows it, with what the policy decided for it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobView {
    pub id: String,
    pub state: String,
    pub site: String,
    pub arrival_h: f64,
    pub started_h: Option<f64>,
    pub completed_h: Option<f64>,
    /// Every start (or power-level change), suspension and migration, in order.
    pub history: Vec<HistoryEntry>,
}

/// One decision about a job.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub at_h: f64,
    /// `start`, `suspend`, `migrate` or `cancel`.
    pub action: &'static str,
    /// Where it started, ran, or moves to.
    pub site: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub power_level: Option<f64>,
}

/// The loop's state as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Status {
    pub policy: String,
    pub slots_done: usize,
    pub slots: usize,
    pub running: bool,
    pub jobs: usize,
    /// Wall-clock time of the last slot's step (the policy's re-plan and the engine), ms.
    pub last_step_ms: f64,
    /// The longest step so far, ms.
    pub max_step_ms: f64,
    /// `replay` or `live`.
    pub signals: &'static str,
    /// Live feeds whose value for the current slot is not a fresh forecast (persistence from
    /// the observations, or the fallback): empty in replay.
    #[schema(value_type = Vec<FeedView>)]
    pub degraded_feeds: Vec<FeedStatus>,
    /// Live feeds by where the current slot's value comes from.
    pub feeds_by_state: std::collections::BTreeMap<String, usize>,
    /// Where the decisions go, and how that goes.
    pub executor: ExecutorStatus,
    /// Jobs that ended on the executor without completing (cancelled behind suandian's back,
    /// failed), withdrawn from the plan, since this start.
    pub ended_on_executor: u64,
    /// When the last slot stepped began on the wall clock, Unix seconds (an executor that
    /// takes orders gets a slot's orders a little before it begins); null when not recorded.
    pub slot_began_unix_s: Option<f64>,
}

pub enum Command {
    Submit {
        job: JobRequest,
        idempotency_key: Option<String>,
        reply: oneshot::Sender<Result<(JobView, bool), ApiError>>,
    },
    Job {
        id: String,
        reply: oneshot::Sender<Option<JobView>>,
    },
    List {
        state: Option<String>,
        after: Option<String>,
        limit: usize,
        reply: oneshot::Sender<Result<JobPage, ApiError>>,
    },
    Event {
        event: EventRequest,
        reply: oneshot::Sender<Result<EventView, ApiError>>,
    },
    Events {
        reply: oneshot::Sender<Vec<EventView>>,
    },
    CancelEvent {
        id: String,
        reply: oneshot::Sender<Result<EventView, ApiError>>,
    },
    CancelJob {
        id: String,
        reply: oneshot::Sender<Result<JobView, ApiError>>,
    },
    Sites {
        reply: oneshot::Sender<Vec<SiteView>>,
    },
    Plan {
        reply: oneshot::Sender<PlanView>,
    },
    Decisions {
        reply: oneshot::Sender<Decisions>,
    },
    Signals {
        signals: SignalRequest,
        reply: oneshot::Sender<Result<SignalsTaken, ApiError>>,
    },
    Status {
        reply: oneshot::Sender<Status>,
    },
    Metrics {
        reply: oneshot::Sender<MetricsView>,
    },
    /// Each site's import and busy accelerators, the policy's and the reference's, for the
    /// slots `from..to` stepped.
    SiteSeries {
        from: usize,
        to: usize,
        reply: oneshot::Sender<(usize, Vec<SiteSeries>)>,
    },
    Run {
        /// Start (`true`) or stop the clock; `None`: as it is.
        running: Option<bool>,
        /// Slots to step now, one after another, before answering.
        step_slots: usize,
        reply: oneshot::Sender<Result<Status, ApiError>>,
    },
}

/// How the loop runs.
pub struct LoopConfig {
    /// Slots per slot length of wall time.
    pub speed: f64,
    /// Whether the clock runs from the start.
    pub running: bool,
    pub forecast: suandian_core::forecast::ForecastKind,
    pub signals: SignalsMode,
    /// Where the decisions go.
    pub executor: ExecutorHandle,
}

/// The loop's handle: commands go in, replies come back on each command's channel.
#[derive(Clone)]
pub struct Control {
    tx: mpsc::Sender<Command>,
}

struct Loop {
    sc: &'static Scenario,
    engine: Engine<'static>,
    policy: Box<dyn Policy + Send>,
    store: Store,
    rt: tokio::runtime::Handle,
    running: bool,
    /// Idempotency keys and ids already taken.
    keys: std::collections::HashMap<String, String>,
    slot_interval: Duration,
    last_step_ms: f64,
    max_step_ms: f64,
    /// Each job's decisions (rebuilt by the re-stepping after a restart).
    history: std::collections::HashMap<String, Vec<HistoryEntry>>,
    /// The live provider the engine reads (`None` in replay).
    live: Option<&'static std::sync::RwLock<Live>>,
    /// The events taken, in order, as shown and as the engine has them.
    events: Vec<EventView>,
    dr: Vec<DemandResponseEvent>,
    /// The last slot stepped.
    last: LastSlot,
    /// Where the decisions go (the simulated fleet, or Slurm).
    executor: ExecutorHandle,
    /// Jobs that ended on the executor without completing, withdrawn (since this start).
    ended_on_executor: u64,
    /// Jobs adopted from the executor: job id → the executor's id.
    adopted: std::collections::HashMap<String, String>,
    /// Offers already answered by this process.
    offers_seen: std::collections::HashSet<String>,
    /// The counterfactual: the reference policy (asap) on the same jobs, events and signals,
    /// for the savings so far (`None` where the service runs the reference itself).
    reference: Option<Reference>,
    /// When each slot began on the wall clock (stored), and each job's runs as the executor
    /// observed them (stored when they change).
    clock: SlotClock,
    runs: std::collections::BTreeMap<String, JobRuns>,
    /// When the executor's reading last folded into `runs` was taken.
    runs_read_at: f64,
    /// The no-event baseline: the reference on the same jobs and signals, without the
    /// demand-response events (what an event's delivered reduction is measured against).
    baseline: Reference,
    /// The baseline's rows of the last slot stepped.
    baseline_rows: Vec<Option<TimelineRow>>,
    /// Each site's series, slot by slot (rebuilt by the re-stepping after a restart).
    series: Vec<SiteSeries>,
}

struct Reference {
    engine: Engine<'static>,
    policy: Box<dyn Policy + Send>,
}

impl Control {
    /// Start the loop on its own thread: rebuild the engine from the store (re-stepping the
    /// slots done with the jobs as they were handed over), then step a slot every
    /// `slot length / speed` while running.
    pub async fn start(
        sc: &'static Scenario,
        policy: Box<dyn Policy + Send>,
        store: Store,
        how: LoopConfig,
    ) -> Result<Control, String> {
        let LoopConfig {
            speed,
            running,
            forecast,
            signals,
            executor,
        } = how;
        let stored = store.jobs().await?;
        let events = store.events().await?;
        let posted = store.signals().await?;
        let cancels = store.cancels(Withdrawn::Event).await?;
        let job_cancels = store.cancels(Withdrawn::Job).await?;
        let mut clock = SlotClock::new(sc.grid.slot_h() * 3600.0 / speed, sc.grid.slot_h());
        for (t, at) in store.slot_clock().await? {
            clock.set(t, at);
        }
        let mut runs = std::collections::BTreeMap::new();
        for (id, body) in store.observed_runs().await? {
            let r: JobRuns = serde_json::from_str(&body)
                .map_err(|e| format!("the stored runs of job {id}: {e}"))?;
            runs.insert(id, r);
        }

        // Every input was committed with the slots the engine had done then: a count that was
        // not recorded (the database failed after a step) is at least that.
        let done = [
            store.slots_done().await?,
            stored.last().map_or(0, |j| j.submit_slot),
            events.last().map_or(0, |e| e.submit_slot),
            posted.last().map_or(0, |s| s.submit_slot),
            cancels.last().map_or(0, |c| c.1),
            job_cancels.last().map_or(0, |c| c.1),
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        let slot_interval = Duration::from_secs_f64(sc.grid.slot_h() * 3600.0 / speed);
        let rt = tokio::runtime::Handle::current();
        let (tx, rx) = mpsc::channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        std::thread::Builder::new()
            .name("suandian-control".into())
            .spawn(move || {
                let live = match signals {
                    SignalsMode::Replay => None,
                    SignalsMode::Live { max_age_slots } => {
                        // One provider for the life of the process: the engine borrows it.
                        let l: &'static std::sync::RwLock<Live> = Box::leak(Box::new(
                            std::sync::RwLock::new(live_feeds(sc, max_age_slots)),
                        ));
                        Some(l)
                    }
                };
                let signals = || -> Box<dyn suandian_core::signals::Signals> {
                    match live {
                        None => Box::new(Replay::new(sc, forecast)),
                        Some(l) => Box::new(l),
                    }
                };
                // The timeline goes to the sink that keeps the last slot (GET /v1/sites).
                let mut engine = Engine::new(sc, signals(), true);
                engine.keep_history();
                // The baseline a demand-response event is measured against: the reference on
                // the same jobs and signals, without any event.
                let baseline = Reference {
                    engine: Engine::new(sc, signals(), true),
                    policy: suandian_core::policy::by_name(REFERENCE).expect("the reference"),
                };
                let reference = (policy.name() != REFERENCE).then(|| Reference {
                    engine: Engine::new(sc, signals(), false),
                    policy: suandian_core::policy::by_name(REFERENCE).expect("the reference"),
                });
                let mut l = Loop {
                    sc,
                    engine,
                    policy,
                    store,
                    rt,
                    running,
                    keys: Default::default(),
                    slot_interval,
                    last_step_ms: 0.0,
                    max_step_ms: 0.0,
                    history: Default::default(),
                    live,
                    events: Vec::new(),
                    dr: Vec::new(),
                    last: LastSlot::default(),
                    reference,
                    baseline,
                    executor,
                    ended_on_executor: 0,
                    adopted: Default::default(),
                    offers_seen: Default::default(),
                    clock,
                    runs,
                    runs_read_at: 0.0,
                    baseline_rows: Vec::new(),
                    series: sc
                        .sites
                        .iter()
                        .map(|s| SiteSeries {
                            site: s.name.clone(),
                            ..SiteSeries::default()
                        })
                        .collect(),
                };
                match l.restore(&stored, &events, &posted, [&cancels, &job_cancels], done) {
                    Ok(()) => {
                        l.reconcile_executor();
                        let _ = ready_tx.send(Ok(()));
                        l.run(rx);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })
            .map_err(|e| format!("cannot start the control loop: {e}"))?;
        ready_rx
            .await
            .map_err(|_| "the control loop stopped while starting".to_string())??;
        Ok(Control { tx })
    }

    /// Send a command and wait for its answer.
    pub async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .map_err(|_| ApiError::unavailable("the control loop has stopped"))?;
        rx.await
            .map_err(|_| ApiError::unavailable("the control loop has stopped"))
    }
}

impl Loop {
    /// Re-step the engine through the stored inputs: before slot `t`, the jobs handed over
    /// before it; then the jobs handed over before the next slot.
    fn restore(
        &mut self,
        stored: &[StoredJob],
        events: &[StoredEvent],
        posted: &[StoredSignal],
        [cancels, job_cancels]: [&[(String, usize)]; 2],
        done: usize,
    ) -> Result<(), String> {
        let (mut k, mut ke, mut ks, mut kc, mut kj) = (0, 0, 0, 0, 0);
        for t in 0..=done.min(self.sc.grid.slots) {
            while ks < posted.len() && posted[ks].submit_slot <= t {
                let req: SignalRequest = serde_json::from_str(&posted[ks].body)
                    .map_err(|e| format!("stored signals #{ks}: {e}"))?;
                self.apply_signals(&req, posted[ks].submit_slot)
                    .map_err(|e| format!("stored signals #{ks}: {}: {}", e.field, e.found))?;
                ks += 1;
            }
            let mut input = SlotInput::default();
            while ke < events.len() && events[ke].submit_slot <= t {
                let e: DemandResponseEvent = serde_json::from_str(&events[ke].event)
                    .map_err(|e| format!("stored event {}: {e}", events[ke].id))?;
                self.events
                    .push(self.event_view(&e, events[ke].submit_slot));
                self.dr.push(e.clone());
                input.events.push(e);
                ke += 1;
            }
            while k < stored.len() && stored[k].submit_slot <= t {
                let job: JobRecord = serde_json::from_str(&stored[k].job)
                    .map_err(|e| format!("stored job {}: {e}", stored[k].id))?;
                if let Some(x) = &job.adopted_from {
                    self.adopted.insert(job.id.clone(), x.clone());
                }
                if let Some(key) = &stored[k].idempotency_key {
                    self.keys.insert(key.clone(), stored[k].id.clone());
                }
                input.jobs.push(job.into());
                k += 1;
            }
            self.hand_over(input)
                .map_err(|e| format!("restoring the stored jobs: {e}"))?;
            // Cancellations after the events they cancel (an event id is never taken twice).
            while kc < cancels.len() && cancels[kc].1 <= t {
                let id = &cancels[kc].0;
                let e = self
                    .events
                    .iter()
                    .position(|e| e.id == *id)
                    .ok_or_else(|| format!("stored cancellation of an unknown event {id}"))?;
                self.apply_cancel(e)
                    .map_err(|e| format!("restoring the cancellation of {id}: {e}"))?;
                kc += 1;
            }
            while kj < job_cancels.len() && job_cancels[kj].1 <= t {
                let id = &job_cancels[kj].0;
                self.withdraw(id)
                    .map_err(|e| format!("restoring the cancellation of job {id}: {e}"))?;
                kj += 1;
            }
            if t < done && t < self.sc.grid.slots {
                self.step_engine()
                    .map_err(|e| format!("restoring slot {t}: {e}"))?;
            }
        }
        Ok(())
    }

    fn run(&mut self, rx: mpsc::Receiver<Command>) {
        // When the next slot begins. An executor that takes orders gets them a little ahead
        // (a fifth of a slot, at most 5 s), so that what the slot stops is stopped, and what it
        // starts is starting, as it begins.
        let mut next = Instant::now() + self.slot_interval;
        let lead = if self.executor.takes_orders() {
            (self.slot_interval / 5).min(Duration::from_secs(5))
        } else {
            Duration::ZERO
        };
        loop {
            let stepping = self.running && self.engine.slot() < self.sc.grid.slots;
            // A slot that is due is stepped before the next command: a steady stream of
            // requests never holds the clock back.
            if stepping && Instant::now() + lead >= next {
                let now = Instant::now();
                let began = if next >= now {
                    unix_now() + (next - now).as_secs_f64()
                } else {
                    unix_now() - (now - next).as_secs_f64()
                };
                if let Err(e) = self.step(began) {
                    eprintln!("error: {e}");
                }
                next += self.slot_interval;
                continue;
            }
            let wait = if stepping {
                (next - lead).saturating_duration_since(Instant::now())
            } else {
                Duration::from_secs(3600)
            };
            match rx.recv_timeout(wait) {
                Ok(cmd) => {
                    if let Command::Run {
                        running: Some(true),
                        ..
                    } = &cmd
                    {
                        if !self.running {
                            next = Instant::now() + self.slot_interval;
                        }
                    }
                    self.handle(cmd);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// Give jobs and events to the engine and to the reference's.
    fn hand_over(&mut self, input: SlotInput) -> Result<(), EngineError> {
        if !input.jobs.is_empty() {
            self.baseline.engine.submit(SlotInput {
                jobs: input.jobs.clone(),
                events: Vec::new(),
            })?;
        }
        if let Some(r) = &mut self.reference {
            r.engine.submit(input.clone())?;
        }
        self.engine.submit(input)
    }

    /// Step the engine (and the reference's) one slot and keep each job's decisions.
    fn step_engine(&mut self) -> Result<(), EngineError> {
        if let Some(r) = &mut self.reference {
            r.engine
                .step(SlotInput::default(), r.policy.as_mut(), &mut NoSink)?;
        }
        let mut rows = SiteRows::default();
        let b = &mut self.baseline;
        b.engine
            .step(SlotInput::default(), b.policy.as_mut(), &mut rows)?;
        self.baseline_rows = rows.0;
        let decisions = self
            .engine
            .step(SlotInput::default(), self.policy.as_mut(), &mut self.last)?
            .to_vec();
        let read = |r: Option<&Option<TimelineRow>>| {
            r.and_then(Option::as_ref)
                .map_or((0.0, 0.0), |r| (r.flows.import_kw, r.busy_accelerators))
        };
        for (k, s) in self.series.iter_mut().enumerate() {
            let (import_kw, busy) = read(self.last.rows.get(k));
            let (base_kw, base_busy) = read(self.baseline_rows.get(k));
            s.import_kw.push(import_kw);
            s.busy_accelerators.push(busy);
            s.baseline_import_kw.push(base_kw);
            s.baseline_busy_accelerators.push(base_busy);
        }
        for d in &decisions {
            let r = self.engine.describe(d);
            if let Some(job) = r.job {
                self.history.entry(job).or_default().push(HistoryEntry {
                    at_h: r.at_h,
                    action: r.action,
                    site: r.site,
                    power_level: r.power_level,
                });
            }
        }
        Ok(())
    }

    /// After a restart: every job the engine still has to run is admitted (an executor takes
    /// a job it holds already as a no-op: Slurm's jobs are read back from its queue), then told
    /// what each should be doing.
    fn reconcile_executor(&mut self) {
        if !self.executor.takes_orders() {
            return;
        }
        let (mut admit, mut adopt) = (Vec::new(), Vec::new());
        for j in 0..self.engine.job_count() {
            let (Some(job), Some(state)) = (self.engine.job(j), self.engine.job_state(j)) else {
                continue;
            };
            if matches!(state, JobState::Done | JobState::Cancelled) {
                continue;
            }
            // An adopted job is the executor's own: taken again (idempotent), never resubmitted.
            if let Some(x) = self.adopted.get(&job.id) {
                adopt.push(Order::Adopt {
                    executor_id: x.clone(),
                    id: job.id.clone(),
                });
                continue;
            }
            admit.push(ExecJob {
                id: job.id.clone(),
                accelerators: job.accelerators,
                runtime_h: job.runtime_h,
                restart_h: self.sc.dispatch.restart_h,
                site: self.sc.sites[job.home_site].name.clone(),
            });
        }
        for o in adopt {
            self.executor.send(o);
        }
        if !admit.is_empty() {
            self.executor.send(Order::Admit(admit));
        }
        self.send_desired();
    }

    /// Tell the executor what every job the engine holds should be doing now: what runs, runs
    /// where it runs (and a job that ran in the last slot, even one done inside it, runs: its
    /// work takes that long on the machines too), the rest waits or stays suspended.
    fn send_desired(&self) {
        if !self.executor.takes_orders() {
            return;
        }
        let mut jobs = Vec::new();
        // Work the plan ran that the cluster has not started (its release was put off for
        // the site's power budget): released as soon as the budget allows.
        for o in self.executor.observed() {
            if o.state != "PENDING" {
                continue;
            }
            let Some(j) = self.engine.job_by_id(&o.id) else {
                continue;
            };
            if self.engine.job_state(j) != Some(JobState::Done) {
                continue;
            }
            if let (Some(job), Some((_, _, site))) = (self.engine.job(j), self.engine.job_times(j))
            {
                jobs.push(Want {
                    id: job.id.clone(),
                    site: self.sc.sites[site].name.clone(),
                    state: Wanted::Run,
                    accelerators: job.accelerators,
                });
            }
        }
        let mut ran: Vec<(usize, usize)> = self.last.ran.clone();
        ran.sort_unstable();
        ran.dedup_by_key(|r| r.0);
        let caught_up: std::collections::HashSet<String> =
            jobs.iter().map(|w| w.id.clone()).collect();
        for &(j, site) in &ran {
            if self.engine.job_state(j) == Some(JobState::Done)
                && self
                    .engine
                    .job(j)
                    .is_some_and(|job| !caught_up.contains(&job.id))
            {
                if let Some(job) = self.engine.job(j) {
                    jobs.push(Want {
                        id: job.id.clone(),
                        site: self.sc.sites[site].name.clone(),
                        state: Wanted::Run,
                        accelerators: job.accelerators,
                    });
                }
            }
        }
        for j in 0..self.engine.job_count() {
            let (Some(job), Some(state), Some((started, _, site))) = (
                self.engine.job(j),
                self.engine.job_state(j),
                self.engine.job_times(j),
            ) else {
                continue;
            };
            let state = match state {
                JobState::Done | JobState::Cancelled => continue,
                JobState::Running => Wanted::Run,
                // Started once and not running now (suspended, moving, pre-empted back into
                // the queue): stopped where it is.
                _ if started.is_some() => Wanted::Suspend,
                _ => Wanted::Wait,
            };
            jobs.push(Want {
                id: job.id.clone(),
                site: self.sc.sites[site].name.clone(),
                state,
                accelerators: job.accelerators,
            });
        }
        // Only where power (or inference) leaves less than the site's accelerators: where
        // it does not, the partition's own size is the limit, and Slurm keeps it.
        let budgets = (0..self.sc.sites.len())
            .filter_map(|s| {
                let accelerators = self.engine.jobs_budget_accelerators(s)?;
                (accelerators < self.sc.sites[s].accelerators.count).then(|| SiteBudget {
                    site: self.sc.sites[s].name.clone(),
                    accelerators,
                })
            })
            .collect();
        let slot = self.engine.slot().saturating_sub(1);
        self.executor.send(Order::Desired {
            slot,
            begins_unix_s: self.clock.began(slot).unwrap_or(0.0),
            jobs,
            budgets,
        });
    }

    /// Step the slot that begins (began) at `began_unix_s` on the wall clock.
    fn step(&mut self, began_unix_s: f64) -> Result<(), String> {
        let t = self.engine.slot();
        if self.executor.takes_orders() {
            self.clock.set(t, began_unix_s);
            // Not recorded: the observed accounting of this slot waits for a later record (a
            // restart reads the clock it has).
            if let Err(e) = self.rt.block_on(self.store.set_slot_clock(t, began_unix_s)) {
                eprintln!("slot {t}: when it began is not recorded: {e}");
            }
            self.track_observed();
        }
        self.adopt_offered();
        self.reconcile_observed();
        let t = Instant::now();
        self.step_engine().map_err(|e| e.to_string())?;
        self.send_desired();
        self.last_step_ms = t.elapsed().as_secs_f64() * 1000.0;
        self.max_step_ms = self.max_step_ms.max(self.last_step_ms);
        let done = self.engine.slot();
        // Not recorded: a restart still re-steps at least to the last input taken, and the next
        // step records a later count.
        self.rt
            .block_on(self.store.set_slots_done(done))
            .map_err(|e| format!("slot {} stepped, its count not recorded: {e}", done - 1))
    }

    fn status(&self) -> Status {
        let feeds = match self.live {
            Some(l) => l
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .status(self.engine.slot().min(self.sc.grid.slots.saturating_sub(1))),
            None => Vec::new(),
        };
        let mut feeds_by_state = std::collections::BTreeMap::new();
        if self.live.is_some() {
            for state in ["forecast", "persistence", "fallback"] {
                feeds_by_state.insert(state.to_string(), 0);
            }
        }
        for f in &feeds {
            let name = serde_json::to_value(f.state)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            *feeds_by_state.entry(name).or_insert(0) += 1;
        }
        Status {
            policy: self.policy.name(),
            slots_done: self.engine.slot(),
            slots: self.sc.grid.slots,
            running: self.running,
            jobs: self.engine.job_count(),
            last_step_ms: self.last_step_ms,
            max_step_ms: self.max_step_ms,
            signals: if self.live.is_some() {
                "live"
            } else {
                "replay"
            },
            degraded_feeds: feeds
                .iter()
                .filter(|f| f.state != FeedState::Forecast)
                .cloned()
                .collect(),
            feeds_by_state,
            executor: self.executor.status(),
            ended_on_executor: self.ended_on_executor,
            slot_began_unix_s: self
                .engine
                .slot()
                .checked_sub(1)
                .and_then(|t| self.clock.began(t)),
        }
    }

    fn view(&self, id: &str) -> Option<JobView> {
        let j = self.engine.job_by_id(id)?;
        let job = self.engine.job(j)?;
        let state = self.engine.job_state(j)?;
        let (started_h, completed_h, site) = self.engine.job_times(j)?;
        Some(JobView {
            id: job.id.clone(),
            state: serde_json::to_value(state)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            site: self.sc.sites[site].name.clone(),
            arrival_h: job.arrival_h,
            started_h,
            completed_h,
            history: self.history.get(id).cloned().unwrap_or_default(),
        })
    }

    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Submit {
                job,
                idempotency_key,
                reply,
            } => {
                let _ = reply.send(self.submit(job, idempotency_key, None));
            }
            Command::Job { id, reply } => {
                let _ = reply.send(self.view(&id));
            }
            Command::List {
                state,
                after,
                limit,
                reply,
            } => {
                let _ = reply.send(self.list(state.as_deref(), after.as_deref(), limit));
            }
            Command::Event { event, reply } => {
                let _ = reply.send(self.event(event));
            }
            Command::Events { reply } => {
                let _ = reply.send(self.events.clone());
            }
            Command::CancelEvent { id, reply } => {
                let _ = reply.send(self.cancel_event(&id));
            }
            Command::CancelJob { id, reply } => {
                let _ = reply.send(self.cancel_job(&id));
            }
            Command::Sites { reply } => {
                let _ = reply.send(self.sites());
            }
            Command::Plan { reply } => {
                let from = self.engine.slot();
                let plan = self.policy.plan_ahead(from);
                let _ = reply.send(PlanView {
                    policy: self.policy.name(),
                    made_at_slot: plan.as_ref().map(|p| p.made_at_slot),
                    first_slot: plan.as_ref().map_or(from, |p| p.first_slot),
                    sites: plan
                        .map(|p| {
                            p.sites
                                .into_iter()
                                .map(|s| SitePlanView {
                                    site: self.sc.sites[s.site].name.clone(),
                                    work_acc_h: s.work_acc_h,
                                    battery_kw: s.battery_kw,
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                });
            }
            Command::Decisions { reply } => {
                let mut sites = std::collections::BTreeMap::<String, Vec<DecisionRecord>>::new();
                for s in &self.sc.sites {
                    sites.insert(s.name.clone(), Vec::new());
                }
                for d in &self.last.decisions {
                    let r = self.engine.describe(d);
                    sites.entry(r.site.clone()).or_default().push(r);
                }
                let _ = reply.send(Decisions {
                    slot: self.last.slot,
                    sites,
                });
            }
            Command::Signals { signals, reply } => {
                let _ = reply.send(self.signals(signals));
            }
            Command::SiteSeries { from, to, reply } => {
                let done = self.engine.slot();
                let (from, to) = (from.min(done), to.min(done));
                let cut = |v: &Vec<f64>| v[from.min(to)..to].to_vec();
                let out = self
                    .series
                    .iter()
                    .map(|s| SiteSeries {
                        site: s.site.clone(),
                        import_kw: cut(&s.import_kw),
                        busy_accelerators: cut(&s.busy_accelerators),
                        baseline_import_kw: cut(&s.baseline_import_kw),
                        baseline_busy_accelerators: cut(&s.baseline_busy_accelerators),
                    })
                    .collect();
                let _ = reply.send((done, out));
            }
            Command::Status { reply } => {
                let _ = reply.send(self.status());
            }
            Command::Metrics { reply } => {
                let out = self.engine.so_far(self.policy.as_ref());
                let reference = self
                    .reference
                    .as_ref()
                    .map(|r| r.engine.so_far(r.policy.as_ref()).metrics);
                let mut by_state = std::collections::BTreeMap::<String, usize>::new();
                for j in 0..self.engine.job_count() {
                    if let Some(st) = self.engine.job_state(j) {
                        let name = serde_json::to_value(st)
                            .ok()
                            .and_then(|v| v.as_str().map(String::from))
                            .unwrap_or_default();
                        *by_state.entry(name).or_default() += 1;
                    }
                }
                let status = self.status();
                let _ = reply.send(MetricsView {
                    signals: status.signals,
                    feeds_by_state: status.feeds_by_state,
                    policy: out.policy,
                    currency: self.sc.economics.currency.clone(),
                    slots_done: self.engine.slot(),
                    running: self.running,
                    last_step_ms: self.last_step_ms,
                    max_step_ms: self.max_step_ms,
                    jobs_by_state: by_state,
                    savings: reference
                        .as_ref()
                        .map(|r| Savings::between(r, &out.metrics)),
                    reference,
                    reference_policy: REFERENCE,
                    metrics: out.metrics,
                    sites: out.per_site,
                    observed: self.observed_view(),
                });
            }
            Command::Run {
                running,
                step_slots,
                reply,
            } => {
                let mut answer = Ok(());
                for _ in 0..step_slots {
                    if self.engine.slot() >= self.sc.grid.slots {
                        break;
                    }
                    if let Err(e) = self.step(unix_now()) {
                        answer = Err(ApiError::unavailable(&e));
                        break;
                    }
                }
                if let Some(r) = running {
                    self.running = r;
                }
                let _ = reply.send(answer.map(|()| self.status()));
            }
        }
    }

    /// Check a job, commit it, then hand it to the engine. The same idempotency key gives the
    /// same job back (`false`: not created now).
    fn submit(
        &mut self,
        req: JobRequest,
        key: Option<String>,
        adopted_from: Option<String>,
    ) -> Result<(JobView, bool), ApiError> {
        if let Some(k) = &key {
            if let Some(id) = self.keys.get(k) {
                if *id != req.id {
                    return Err(ApiError::conflict(
                        "Idempotency-Key",
                        format!("a key already used for job {id}"),
                        "a new key for a new job",
                    ));
                }
                return Ok((self.view(id).expect("a stored job"), false));
            }
        }
        // A run whose slots are all done runs nothing more: a job now would never start.
        if self.engine.slot() >= self.sc.grid.slots {
            return Err(engine_error(EngineError::RunOver {
                slots: self.sc.grid.slots,
            }));
        }
        let job = self.job(req)?;
        let input = SlotInput {
            jobs: vec![job.clone()],
            events: vec![],
        };
        self.engine.check(&input).map_err(engine_error)?;
        let stored = StoredJob {
            id: job.id.clone(),
            idempotency_key: key.clone(),
            submit_slot: self.engine.slot(),
            job: serde_json::to_string(&JobRecord {
                adopted_from: adopted_from.clone(),
                ..JobRecord::from(&job)
            })
            .expect("a job serialises"),
        };
        self.rt
            .block_on(self.store.insert_job(&stored))
            .map_err(|e| ApiError::unavailable(&e))?;
        self.hand_over(input)
            .expect("checked before it was committed");
        match adopted_from {
            Some(executor_id) => {
                self.adopted.insert(job.id.clone(), executor_id.clone());
                self.executor.send(Order::Adopt {
                    executor_id,
                    id: job.id.clone(),
                });
            }
            None => self.executor.send(Order::Admit(vec![ExecJob {
                id: job.id.clone(),
                accelerators: job.accelerators,
                runtime_h: job.runtime_h,
                restart_h: self.sc.dispatch.restart_h,
                site: self.sc.sites[job.home_site].name.clone(),
            }])),
        }
        if let Some(k) = key {
            self.keys.insert(k, job.id.clone());
        }
        Ok((self.view(&job.id).expect("just submitted"), true))
    }

    /// Jobs in submission order, those in `state` only, from the one after `after` on, at most
    /// `limit`; `next` is the cursor for the following page.
    fn list(
        &self,
        state: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<JobPage, ApiError> {
        const STATES: [&str; 7] = [
            "pending",
            "queued",
            "running",
            "suspended",
            "migrating",
            "done",
            "cancelled",
        ];
        if let Some(st) = state {
            if !STATES.contains(&st) {
                return Err(ApiError::invalid(
                    "state",
                    format!("`{st}`"),
                    format!("one of {}", STATES.join(", ")),
                ));
            }
        }
        let from = match after {
            Some(id) => {
                self.engine.job_by_id(id).ok_or_else(|| {
                    ApiError::invalid(
                        "after",
                        format!("`{id}`"),
                        "the id of a submitted job (the `next` of a page)",
                    )
                })? + 1
            }
            None => 0,
        };
        let mut jobs = Vec::new();
        let mut next = None;
        for j in from..self.engine.job_count() {
            let Some(id) = self.engine.job(j).map(|x| x.id.clone()) else {
                continue;
            };
            let Some(v) = self.view(&id) else { continue };
            if state.is_some_and(|st| st != v.state) {
                continue;
            }
            if jobs.len() == limit {
                next = jobs.last().map(|l: &JobView| l.id.clone());
                break;
            }
            jobs.push(v);
        }
        Ok(JobPage { jobs, next })
    }

    /// Check an event, commit it, then hand it to the engine.
    fn event(&mut self, r: EventRequest) -> Result<EventView, ApiError> {
        // An id names one event for good, cancelled or not.
        if self.events.iter().any(|e| e.id == r.id) {
            return Err(engine_error(EngineError::DuplicateId { id: r.id }));
        }
        let sites = r
            .sites
            .iter()
            .enumerate()
            .map(|(k, n)| self.site(format!("sites[{k}]"), n))
            .collect::<Result<Vec<_>, _>>()?;
        let e = DemandResponseEvent {
            id: r.id,
            sites,
            start_h: r.start_h,
            end_h: r.end_h,
            announced_h: r
                .announced_h
                .unwrap_or(self.sc.grid.slot_start_h(self.engine.slot())),
            import_cap_kw: r.import_cap_kw,
            penalty_per_kwh: r.penalty_per_kwh,
        };
        let input = SlotInput {
            jobs: vec![],
            events: vec![e.clone()],
        };
        self.engine.check(&input).map_err(|e| {
            let mut e = engine_error(e);
            // The model's names for an event's times are the file format's; the API's end in _h.
            if ["start", "end", "announced"].contains(&e.field.as_str()) {
                e.field.push_str("_h");
            }
            e
        })?;
        let stored = StoredEvent {
            id: e.id.clone(),
            submit_slot: self.engine.slot(),
            event: serde_json::to_string(&e).expect("an event serialises"),
        };
        self.rt
            .block_on(self.store.insert_event(&stored))
            .map_err(|e| ApiError::unavailable(&e))?;
        self.hand_over(input)
            .expect("checked before it was committed");
        let view = self.event_view(&e, stored.submit_slot);
        self.events.push(view.clone());
        self.dr.push(e);
        Ok(view)
    }

    /// Cancel an event from the current slot on: checked, committed, then applied to the
    /// engine and the reference's.
    fn cancel_event(&mut self, id: &str) -> Result<EventView, ApiError> {
        let k = self
            .events
            .iter()
            .position(|e| e.id == id)
            .ok_or_else(|| engine_error(EngineError::UnknownEvent { id: id.into() }))?;
        if let Some(at) = self.events[k].cancelled_at_slot {
            return Err(ApiError::conflict(
                "id",
                format!("event `{id}`, cancelled from slot {at}"),
                "an event still standing",
            ));
        }
        let now_h = self.sc.grid.slot_start_h(self.engine.slot());
        if self.events[k].end_h <= now_h + 1e-9 {
            return Err(engine_error(EngineError::EventOver {
                id: id.into(),
                end_h: self.events[k].end_h,
            }));
        }
        let at = self.engine.slot();
        self.rt
            .block_on(self.store.insert_cancel(Withdrawn::Event, id, at))
            .map_err(|e| ApiError::unavailable(&e))?;
        self.apply_cancel(k)
            .expect("checked before it was committed");
        Ok(self.events[k].clone())
    }

    /// Cancel a job at the current slot: checked, committed, then applied.
    fn cancel_job(&mut self, id: &str) -> Result<JobView, ApiError> {
        let j = self
            .engine
            .job_by_id(id)
            .ok_or_else(|| engine_error(EngineError::UnknownJob { id: id.into() }))?;
        let state = self.engine.job_state(j).expect("a job");
        if matches!(state, JobState::Done | JobState::Cancelled) {
            return Err(engine_error(EngineError::JobOver {
                id: id.into(),
                state,
            }));
        }
        let at = self.engine.slot();
        self.rt
            .block_on(self.store.insert_cancel(Withdrawn::Job, id, at))
            .map_err(|e| ApiError::unavailable(&e))?;
        self.withdraw(id).expect("checked before it was committed");
        self.executor.send(Order::Withdraw(vec![id.to_string()]));
        Ok(self.view(id).expect("a job"))
    }

    /// Withdraw a job from the engine and from the counterfactual's (where it may be done
    /// already: then there is nothing to withdraw there).
    fn withdraw(&mut self, id: &str) -> Result<(), EngineError> {
        for r in self.reference.iter_mut().chain([&mut self.baseline]) {
            match r.engine.cancel_job(id) {
                Ok(_) | Err(EngineError::JobOver { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.engine.cancel_job(id)?;
        let at_h = self.sc.grid.slot_start_h(self.engine.slot());
        let site = self
            .engine
            .job_by_id(id)
            .and_then(|j| self.engine.job_times(j))
            .map(|(_, _, s)| self.sc.sites[s].name.clone())
            .unwrap_or_default();
        self.history
            .entry(id.to_string())
            .or_default()
            .push(HistoryEntry {
                at_h,
                action: "cancel",
                site,
                power_level: None,
            });
        Ok(())
    }

    /// Jobs submitted straight to the executor with the offer marker (`sbatch --hold --comment
    /// "suandian+ runtime_h=2 max_delay_h=8 sites=east,middle"`) become suandian's: checked like
    /// an API submission (the idempotency key `slurm-<id>` makes a second look, after a restart,
    /// take the same job), committed, then marked as this run's on the executor. A refused one
    /// gets the reason in its comment.
    fn adopt_offered(&mut self) {
        for o in self.executor.offered() {
            if !self.offers_seen.insert(o.executor_id.clone()) {
                continue;
            }
            let answer = offer_request(&o).and_then(|req| {
                let key = format!("slurm-{}", o.executor_id);
                self.submit(req, Some(key), Some(o.executor_id.clone()))
            });
            if let Err(e) = answer {
                let why = if e.field.is_empty() {
                    format!("found {}, expected {}", e.found, e.expected)
                } else {
                    format!("{}: found {}, expected {}", e.field, e.found, e.expected)
                };
                self.executor.send(Order::Refuse {
                    executor_id: o.executor_id,
                    why,
                });
            }
        }
    }

    /// Fold the executor's latest reading of its jobs into their observed runs, and store the
    /// runs that changed (one not stored is folded again from a later reading).
    fn track_observed(&mut self) {
        let (seen, at) = self.executor.observed_at();
        if at <= self.runs_read_at {
            return;
        }
        self.runs_read_at = at;
        for o in &seen {
            let runs = self.runs.entry(o.id.clone()).or_default();
            if runs.update(o, at) {
                let body = serde_json::to_string(runs).expect("runs serialise");
                if let Err(e) = self.rt.block_on(self.store.put_observed_runs(&o.id, &body)) {
                    eprintln!("job {}: its observed runs are not recorded: {e}", o.id);
                }
            }
        }
    }

    /// The figures from the observed runs, through the slots ended by the last reading.
    fn observed_view(&mut self) -> Option<ObservedView> {
        if !self.executor.takes_orders() {
            return None;
        }
        self.track_observed();
        let site_of = |name: &str| self.sc.sites.iter().position(|s| s.name == name);
        let mut runs = Vec::new();
        let mut completed = Vec::new();
        let (mut jobs_run, mut jobs_completed) = (0, 0);
        for (id, r) in &self.runs {
            let Some(j) = self.engine.job_by_id(id) else {
                continue;
            };
            jobs_run += usize::from(!r.runs.is_empty());
            for run in &r.runs {
                let Some(site) = site_of(&run.site) else {
                    continue;
                };
                runs.push(ObservedRun {
                    job: j,
                    site,
                    from_h: self.clock.hours_at(run.from_unix_s),
                    to_h: self
                        .clock
                        .hours_at(run.to_unix_s.unwrap_or(self.runs_read_at)),
                    // Slurm runs a job at full power: a lower level is not sent.
                    power_level: 1.0,
                });
            }
            if let Some(c) = r.completed_unix_s {
                completed.push((j, self.clock.hours_at(c)));
                jobs_completed += 1;
            }
        }
        let through_slot = self.clock.ended_by(self.runs_read_at);
        let out =
            self.engine
                .observed_outcome(self.policy.as_ref(), &runs, &completed, through_slot);
        Some(ObservedView {
            through_slot: through_slot.min(self.engine.slot()),
            read_at_unix_s: self.runs_read_at,
            jobs_run,
            jobs_completed,
            metrics: out.metrics,
            sites: out.per_site,
            jobs: out.jobs,
        })
    }

    /// Slurm is the truth about its jobs: one that ended there without completing (cancelled
    /// behind suandian's back, failed, timed out) while the engine still holds it is withdrawn
    /// at the current slot, committed like a cancellation through the API (so a restart replays
    /// it), and counted.
    fn reconcile_observed(&mut self) {
        for o in self.executor.observed() {
            if o.state == "COMPLETED" || !crate::observed::TERMINAL.contains(&o.state.as_str()) {
                continue;
            }
            let Some(j) = self.engine.job_by_id(&o.id) else {
                continue;
            };
            if matches!(
                self.engine.job_state(j),
                Some(JobState::Done | JobState::Cancelled) | None
            ) {
                continue;
            }
            let at = self.engine.slot();
            if let Err(e) = self
                .rt
                .block_on(self.store.insert_cancel(Withdrawn::Job, &o.id, at))
            {
                eprintln!(
                    "job {} ended on the executor ({}), not recorded yet: {e}",
                    o.id, o.state
                );
                continue;
            }
            self.withdraw(&o.id).expect("a job the engine holds");
            self.ended_on_executor += 1;
            eprintln!(
                "job {}: {} on the executor; withdrawn at slot {at}",
                o.id, o.state
            );
        }
    }

    /// Apply the cancellation of `self.events[k]` at the current slot.
    fn apply_cancel(&mut self, k: usize) -> Result<(), EngineError> {
        let id = self.events[k].id.clone();
        if let Some(r) = &mut self.reference {
            r.engine.cancel_event(&id)?;
        }
        let now = self.engine.cancel_event(&id)?;
        let at = self.engine.slot();
        let view = &mut self.events[k];
        view.cancelled_at_slot = Some(at);
        match &now {
            Some(e) => view.end_h = e.end_h,
            None => view.end_h = view.start_h,
        }
        let d = self
            .dr
            .iter()
            .position(|e| e.id == id)
            .expect("a taken event");
        match now {
            Some(e) => self.dr[d] = e,
            None => {
                self.dr.remove(d);
            }
        }
        Ok(())
    }

    /// Each site with its state in the last slot stepped and the caps in force now.
    fn sites(&self) -> Vec<SiteView> {
        let now = self.engine.slot().min(self.sc.grid.slots.saturating_sub(1));
        self.sc
            .sites
            .iter()
            .enumerate()
            .map(|(k, site)| {
                let capping: Vec<&DemandResponseEvent> = self
                    .dr
                    .iter()
                    .filter(|e| e.caps(&self.sc.grid, k, now))
                    .collect();
                let row = self.last.rows.get(k).and_then(|r| r.as_ref());
                // `+ 0.0`: no `-0.0` in the answer.
                let f = |g: fn(&TimelineRow) -> f64| row.map(|r| g(r) + 0.0);
                SiteView {
                    name: site.name.clone(),
                    region: site.region.clone(),
                    accelerators: site.accelerators.count,
                    accelerator_model: site.accelerators.model.clone(),
                    import_limit_kw: site.grid.import_limit_kw,
                    import_cap_kw: capping.iter().map(|e| e.import_cap_kw).reduce(f64::min),
                    events_in_force: capping.iter().map(|e| e.id.clone()).collect(),
                    battery_capacity_kwh: site.battery.as_ref().map(|b| b.capacity_kwh),
                    last_slot: row.map(|r| r.slot),
                    busy_accelerators: f(|r| r.busy_accelerators),
                    it_kw: f(|r| r.it_kw),
                    facility_kw: f(|r| r.flows.facility_kw),
                    green_to_load_kw: f(|r| r.flows.green_to_load_kw),
                    battery_to_load_kw: f(|r| r.flows.discharge_to_load_kw),
                    import_kw: f(|r| r.flows.import_kw),
                    thermal_kw: f(|r| r.flows.thermal_kw),
                    charge_kw: f(|r| r.flows.charge_kw),
                    export_kw: f(|r| r.flows.export_kw),
                    curtailed_kw: f(|r| r.flows.curtail_kw),
                    soc_kwh: f(|r| r.flows.soc_kwh),
                    carbon_g_per_kwh: f(|r| r.carbon_g_per_kwh),
                    price_per_mwh: f(|r| r.price_per_mwh),
                }
            })
            .collect()
    }

    fn event_view(&self, e: &DemandResponseEvent, taken_at_slot: usize) -> EventView {
        EventView {
            id: e.id.clone(),
            sites: e
                .sites
                .iter()
                .map(|&s| self.sc.sites[s].name.clone())
                .collect(),
            start_h: e.start_h,
            end_h: e.end_h,
            announced_h: e.announced_h,
            import_cap_kw: e.import_cap_kw,
            penalty_per_kwh: e.penalty_per_kwh,
            taken_at_slot,
            cancelled_at_slot: None,
        }
    }

    /// Check posted signal values, commit them, then give them to the live provider.
    fn signals(&mut self, req: SignalRequest) -> Result<SignalsTaken, ApiError> {
        if self.live.is_none() {
            return Err(ApiError::conflict(
                "signal",
                "a service that replays the scenario's signals",
                "a service started with --signals live",
            ));
        }
        let at = self.engine.slot();
        self.check_signals(&req, at)?;
        let stored = StoredSignal {
            submit_slot: at,
            body: serde_json::to_string(&req).expect("signals serialise"),
        };
        self.rt
            .block_on(self.store.insert_signal(&stored))
            .map_err(|e| ApiError::unavailable(&e))?;
        self.apply_signals(&req, at)
            .expect("checked before it was committed");
        Ok(SignalsTaken {
            slots: req.values.len(),
            signal: req.signal,
            kind: req.kind,
            taken_at_slot: at,
        })
    }

    /// The feed `req` is about and its first slot, or the field that does not fit.
    fn check_signals(
        &self,
        req: &SignalRequest,
        at: usize,
    ) -> Result<(Signal, usize, usize), ApiError> {
        let signal = SIGNALS
            .into_iter()
            .find(|s| s.name() == req.signal)
            .ok_or_else(|| {
                let names: Vec<&str> = SIGNALS.iter().map(|s| s.name()).collect();
                ApiError::invalid(
                    "signal",
                    format!("`{}`", req.signal),
                    format!("one of {}", names.join(", ")),
                )
            })?;
        let index = if signal == Signal::InferenceTokensPerS {
            if req.site.is_some() {
                return Err(ApiError::invalid(
                    "site",
                    "a site",
                    "a region for inference_tokens_per_s",
                ));
            }
            let name = req.region.as_deref().ok_or_else(|| {
                ApiError::invalid(
                    "region",
                    "nothing",
                    "the user region of inference_tokens_per_s",
                )
            })?;
            self.sc
                .inference
                .iter()
                .position(|d| d.region == name)
                .ok_or_else(|| {
                    let names: Vec<&str> = self
                        .sc
                        .inference
                        .iter()
                        .map(|d| d.region.as_str())
                        .collect();
                    ApiError::invalid(
                        "region",
                        format!("`{name}`"),
                        format!("one of {}", names.join(", ")),
                    )
                })?
        } else {
            if req.region.is_some() {
                return Err(ApiError::invalid(
                    "region",
                    "a region",
                    format!("a site for {}", req.signal),
                ));
            }
            let name = req.site.as_deref().ok_or_else(|| {
                ApiError::invalid(
                    "site",
                    "nothing",
                    format!("the site whose {} this is", req.signal),
                )
            })?;
            self.site("site".into(), name)?
        };
        let grid = &self.sc.grid;
        let slot_f = req.start_h / grid.slot_h();
        let first = slot_f.round();
        if !(req.start_h.is_finite()
            && (slot_f - first).abs() < 1e-9
            && first >= 0.0
            && (first as usize) < grid.slots)
        {
            return Err(ApiError::invalid(
                "start_h",
                format!("{} h", req.start_h),
                format!(
                    "the start of a slot: a multiple of {} h from 0 to {} h",
                    grid.slot_h(),
                    grid.slot_start_h(grid.slots - 1)
                ),
            ));
        }
        let first = first as usize;
        if req.values.is_empty() || first + req.values.len() > grid.slots {
            return Err(ApiError::invalid(
                "values",
                format!("{} values from slot {first}", req.values.len()),
                format!(
                    "1 to {} values (up to the run's last slot)",
                    grid.slots - first
                ),
            ));
        }
        if req.kind == SignalKind::Observed && first + req.values.len() > at + 1 {
            return Err(ApiError::invalid(
                "values",
                format!("observations up to slot {}", first + req.values.len() - 1),
                format!("observations of slots that have begun (up to slot {at})"),
            ));
        }
        for (k, v) in req.values.iter().enumerate() {
            if !v.is_finite() || (signal.nonnegative() && *v < 0.0) {
                return Err(ApiError::invalid(
                    format!("values[{k}]"),
                    v.to_string(),
                    if signal.nonnegative() {
                        "a finite value >= 0"
                    } else {
                        "a finite value"
                    },
                ));
            }
        }
        Ok((signal, index, first))
    }

    fn apply_signals(&mut self, req: &SignalRequest, at: usize) -> Result<(), ApiError> {
        let (signal, index, first) = self.check_signals(req, at)?;
        let live = self.live.expect("a live service");
        let mut feeds = live.write().unwrap_or_else(|e| e.into_inner());
        let refused =
            |e: suandian_core::signals::FeedError| ApiError::invalid("values", e.found, e.expected);
        match req.kind {
            SignalKind::Forecast => feeds
                .publish(signal, index, at, first, &req.values)
                .map_err(refused),
            SignalKind::Observed => req
                .values
                .iter()
                .enumerate()
                .try_for_each(|(k, v)| feeds.observe(signal, index, first + k, *v))
                .map_err(refused),
        }
    }

    fn site(&self, field: String, name: &str) -> Result<usize, ApiError> {
        self.sc
            .sites
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = self.sc.sites.iter().map(|s| s.name.as_str()).collect();
                ApiError::invalid(
                    field,
                    format!("`{name}`"),
                    format!("one of {}", names.join(", ")),
                )
            })
    }

    /// The engine's job from the API's: names to sites, defaults filled in.
    fn job(&self, r: JobRequest) -> Result<Job, ApiError> {
        let site = |field: String, name: &str| self.site(field, name);
        let allowed_sites = match &r.allowed_sites {
            Some(names) => names
                .iter()
                .enumerate()
                .map(|(k, n)| site(format!("allowed_sites[{k}]"), n))
                .collect::<Result<Vec<_>, _>>()?,
            None => (0..self.sc.sites.len()).collect(),
        };
        let home_site = match &r.home_site {
            Some(n) => site("home_site".into(), n)?,
            None => *allowed_sites
                .first()
                .ok_or_else(|| ApiError::invalid("allowed_sites", "none", "at least one site"))?,
        };
        let next_slot_h = self.sc.grid.slot_start_h(self.engine.slot());
        let arrival_h = r.arrival_h.unwrap_or(next_slot_h);
        let deadline_h = match (r.deadline_h, r.max_delay_h) {
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid(
                    "max_delay_h",
                    "both deadline_h and max_delay_h",
                    "one of them",
                ))
            }
            (Some(d), None) => d,
            (None, Some(m)) => arrival_h + r.runtime_h + m,
            (None, None) => f64::INFINITY,
        };
        Ok(Job {
            id: r.id,
            arrival_h,
            accelerators: r.accelerators,
            runtime_h: r.runtime_h,
            deadline_h,
            interruptible: r.interruptible,
            migratable: r.migratable,
            allowed_sites,
            home_site,
            checkpoint_gb: r
                .checkpoint_gb
                .unwrap_or(DEFAULT_CHECKPOINT_GB_PER_ACCELERATOR * f64::from(r.accelerators)),
            flex_tier: r.flex_tier,
        })
    }
}

/// An offered job's request: `key=value` pairs after the marker (`runtime_h`, else its time
/// limit; `max_delay_h` or `deadline_h`; `sites` and `home` by name, comma-separated;
/// `interruptible`), its accelerators from its CPUs; its id `slurm-<its id>`.
fn offer_request(o: &crate::executor::Offered) -> Result<JobRequest, ApiError> {
    let mut req = JobRequest {
        id: format!("slurm-{}", o.executor_id),
        accelerators: o.accelerators,
        runtime_h: o.time_limit_h.unwrap_or(f64::NAN),
        arrival_h: None,
        deadline_h: None,
        max_delay_h: None,
        allowed_sites: None,
        home_site: None,
        interruptible: true,
        migratable: false,
        checkpoint_gb: None,
        flex_tier: None,
    };
    let hours = |k: &str, v: &str| {
        v.parse::<f64>()
            .ok()
            .filter(|h| h.is_finite() && *h >= 0.0)
            .ok_or_else(|| ApiError::invalid(k.to_string(), format!("`{v}`"), "hours >= 0"))
    };
    for pair in o.params.split_whitespace() {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| ApiError::invalid("comment", format!("`{pair}`"), "key=value pairs"))?;
        match k {
            "runtime_h" => req.runtime_h = hours(k, v)?,
            "max_delay_h" => req.max_delay_h = Some(hours(k, v)?),
            "deadline_h" => req.deadline_h = Some(hours(k, v)?),
            "sites" => req.allowed_sites = Some(v.split(',').map(String::from).collect()),
            "home" => req.home_site = Some(v.to_string()),
            "interruptible" => {
                req.interruptible = v.parse().map_err(|_| {
                    ApiError::invalid(k.to_string(), format!("`{v}`"), "true or false")
                })?
            }
            other => {
                return Err(ApiError::invalid(
                    other.to_string(),
                    "an unknown key",
                    "runtime_h, max_delay_h, deadline_h, sites, home or interruptible",
                ))
            }
        }
    }
    if req.runtime_h.is_nan() {
        return Err(ApiError::invalid(
            "runtime_h",
            "no runtime_h and no time limit",
            "runtime_h=HOURS in the comment, or a time limit (--time)",
        ));
    }
    Ok(req)
}

/// The engine's refusal as a 4xx naming the field.
fn engine_error(e: EngineError) -> ApiError {
    match e {
        EngineError::Invalid(m) => {
            // "jobs[3] (x).runtime_h" → "runtime_h": the request's own field.
            let field = m.field.rsplit(").").next().unwrap_or(&m.field);
            // The model's name for the arrival is the file format's; the API's ends in _h.
            let field = if field == "arrival" { "arrival_h" } else { field }.to_string();
            ApiError::invalid(field, m.found, m.expected)
        }
        EngineError::LateJob {
            arrival_h,
            slot_start_h,
            ..
        } => ApiError::invalid(
            "arrival_h",
            format!("{arrival_h} h"),
            format!("at or after the current slot's start ({slot_start_h} h) and after the last job's arrival"),
        ),
        EngineError::DuplicateId { id } => ApiError::conflict(
            "id",
            format!("`{id}`, the id of a job already submitted"),
            "a new id (or the same Idempotency-Key to get that job back)",
        ),
        EngineError::UnknownJob { id } => ApiError {
            status: axum::http::StatusCode::NOT_FOUND,
            ..ApiError::invalid("id", format!("`{id}`"), "the id of a submitted job")
        },
        EngineError::JobOver { id, state } => ApiError::conflict(
            "id",
            format!(
                "job `{id}`, {}",
                if state == JobState::Done {
                    "done"
                } else {
                    "cancelled already"
                }
            ),
            "a job not yet done or cancelled",
        ),
        EngineError::UnknownEvent { id } => ApiError {
            status: axum::http::StatusCode::NOT_FOUND,
            ..ApiError::invalid("id", format!("`{id}`"), "the id of an event taken")
        },
        EngineError::EventOver { id, end_h } => ApiError::conflict(
            "id",
            format!("event `{id}`, whose window ended at {end_h} h"),
            "an event still in force or to come",
        ),
        EngineError::RunOver { slots } => ApiError::conflict(
            "",
            format!("a run whose {slots} slots are all done"),
            "a service with slots left to run",
        ),
    }
}
