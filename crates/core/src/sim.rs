//! The backtest: the replay driver of the [`Engine`].
//!
//! [`simulate`] replays a scenario into the engine slot by slot: each slot's new jobs (those
//! arriving before its end) and newly announced demand-response events, with the scenario's
//! series as the signals ([`crate::signals::Replay`], forecast by the run's [`ForecastKind`]), and collects what
//! the engine writes to its [`Sink`] (the timeline, the job runs) into a [`RunResult`]. A live
//! driver steps the same engine with the same policies: nothing here is needed to run one.

pub use crate::engine::Segment;
use crate::engine::{Decision, Engine, Sink, SlotInput};
use crate::forecast::ForecastKind;
use crate::metrics::{JobOutcome, Metrics, TimelineRow};
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
    let mut sink = Collect {
        timeline: Vec::new(),
        segments: Vec::new(),
        progress,
        then: &mut NoForward,
    };
    replay(sc, policy, cfg, &mut sink)
}

/// Simulate every policy in `policies` on `sc`, side by side on the available cores (each run
/// is independent and deterministic: the results are those of [`simulate`], in the order of
/// `policies`). `progress(i, slot)` is called after each slot of policy `i`.
pub fn simulate_all(
    sc: &Scenario,
    policies: Vec<Box<dyn Policy + Send>>,
    cfg: &SimConfig,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Vec<RunResult> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = policies
            .into_iter()
            .enumerate()
            .map(|(i, mut p)| {
                scope.spawn(move || {
                    simulate_with_progress(sc, p.as_mut(), cfg, &mut |t| progress(i, t))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// [`simulate`], also passing every slot's decisions (and timeline rows and job runs, when
/// recorded) to `sink` as the engine writes them.
pub fn simulate_into(
    sc: &Scenario,
    policy: &mut dyn Policy,
    cfg: &SimConfig,
    sink: &mut dyn Sink,
) -> RunResult {
    let mut collect = Collect {
        timeline: Vec::new(),
        segments: Vec::new(),
        progress: &mut |_| {},
        then: sink,
    };
    replay(sc, policy, cfg, &mut collect)
}

/// Replay `sc` into an engine: the jobs arriving before each slot's end and the events
/// announced before it, slot by slot; then the jobs that never arrive within the run, so that
/// they are counted (as not done).
fn replay(
    sc: &Scenario,
    policy: &mut dyn Policy,
    cfg: &SimConfig,
    sink: &mut Collect<'_>,
) -> RunResult {
    let mut engine = Engine::replaying(sc, cfg.forecast, cfg.record_timeline);
    let mut next_job = 0;
    for t in 0..sc.grid.slots {
        let end_h = sc.grid.slot_start_h(t + 1);
        let first = next_job;
        while next_job < sc.jobs.len() && sc.jobs[next_job].arrival_h < end_h {
            next_job += 1;
        }
        engine.submit_validated(&sc.jobs[first..next_job]);
        if let Err(e) = engine.step(SlotInput::default(), policy, sink) {
            // A valid scenario replays without error (validation is the same rules).
            unreachable!("replaying a validated scenario: {e}");
        }
    }
    // Jobs arriving after the run: counted, never started.
    engine.submit_validated(&sc.jobs[next_job..]);
    let out = engine.finish(policy);
    RunResult {
        policy: out.policy,
        forecast: out.forecast,
        metrics: out.metrics,
        per_site: out.per_site,
        timeline: std::mem::take(&mut sink.timeline),
        jobs: out.jobs,
        notes: policy.notes(),
        timings: policy.timings(),
        objective_bound: policy.objective_bound(),
        objective_kind: policy.objective_kind(),
        plan_fallbacks: policy.plan_fallbacks(),
        segments: std::mem::take(&mut sink.segments),
    }
}

/// The replay driver's sink: keeps the timeline and the job runs for the [`RunResult`], calls
/// the progress hook, and forwards everything to `then`.
struct Collect<'a> {
    timeline: Vec<TimelineRow>,
    segments: Vec<Segment>,
    progress: &'a mut dyn FnMut(usize),
    then: &'a mut dyn Sink,
}

struct NoForward;
impl Sink for NoForward {}

impl Sink for Collect<'_> {
    fn timeline(&mut self, row: TimelineRow) {
        self.then.timeline(row.clone());
        self.timeline.push(row);
    }
    fn segment(&mut self, segment: Segment) {
        self.then.segment(segment);
        self.segments.push(segment);
    }
    fn slot_done(&mut self, slot: usize, decisions: &[Decision]) {
        self.then.slot_done(slot, decisions);
        (self.progress)(slot);
    }
}
