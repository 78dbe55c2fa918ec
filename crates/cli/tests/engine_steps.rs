//! Live = backtest: a hand-written driver steps the engine slot by slot, the way a live service
//! does (jobs submitted as they arrive, events as they are announced, signals from a provider),
//! and gets the same decisions, metrics and job outcomes as `simulate`, for every policy and
//! forecast kind, on the demo scenario and on a default day with a demand-response event.

use std::sync::RwLock;
use suandian_core::engine::{Decision, Engine, EngineError, NoSink, Sink, SlotInput};
use suandian_core::fleet::JobState;
use suandian_core::forecast::ForecastKind;
use suandian_core::model::{DemandResponseEvent, Scenario};
use suandian_core::policy::{self, Policy};
use suandian_core::signals::{Live, Replay, Signal};
use suandian_core::sim::{simulate_into, SimConfig};
use suandian_planner::{policy_by_name, ObjectiveMode};

fn make(name: &str, sc: &Scenario) -> Box<dyn Policy + Send> {
    policy::by_name(name)
        .or_else(|| policy_by_name(name, sc, ObjectiveMode::Balanced).map(|p| p.unwrap()))
        .unwrap_or_else(|| panic!("no policy {name}"))
}

/// Keeps every slot's decisions.
#[derive(Default)]
struct Decisions(Vec<Decision>);
impl Sink for Decisions {
    fn slot_done(&mut self, _slot: usize, decisions: &[Decision]) {
        self.0.extend_from_slice(decisions);
    }
}

/// The live driver's way: at each slot, the jobs that arrive by its end are submitted (one
/// `submit` call each, as an API would), events when announced, then one `step`; the decisions
/// come back from `step` itself. Returns the decisions (with stable ids checked) and the result.
fn drive_by_hand(
    sc: &Scenario,
    name: &str,
    kind: ForecastKind,
) -> (Vec<Decision>, serde_json::Value) {
    let mut policy = make(name, sc);
    let mut engine = Engine::new(sc, Box::new(Replay::new(sc, kind)), false);
    let mut pending_jobs = sc.jobs.iter().peekable();
    let mut pending_events: Vec<&DemandResponseEvent> = sc.demand_response.iter().collect();
    let mut decisions = Vec::new();
    for t in 0..sc.grid.slots {
        let end_h = sc.grid.slot_start_h(t + 1);
        while let Some(j) = pending_jobs.next_if(|j| j.arrival_h < end_h) {
            engine
                .submit(SlotInput {
                    jobs: vec![j.clone()],
                    events: vec![],
                })
                .unwrap();
        }
        let (now, later): (Vec<_>, Vec<_>) =
            pending_events.iter().partition(|e| e.announced_h < end_h);
        pending_events = later;
        let input = SlotInput {
            jobs: vec![],
            events: now.into_iter().cloned().collect(),
        };
        let step = engine
            .step(input, policy.as_mut(), &mut NoSink)
            .unwrap()
            .to_vec();
        for d in &step {
            // Stable ids: the job's own id and the site's name, never a position.
            let r = engine.describe(d);
            if let Some(id) = &r.job {
                assert!(sc.jobs.iter().any(|j| &j.id == id), "{r:?}");
            }
            assert!(sc.sites.iter().any(|s| s.name == r.site), "{r:?}");
        }
        decisions.extend(step);
    }
    assert!(matches!(
        engine.step(SlotInput::default(), policy.as_mut(), &mut NoSink),
        Err(EngineError::RunOver { .. })
    ));
    engine
        .submit(SlotInput {
            jobs: pending_jobs.cloned().collect(),
            events: vec![],
        })
        .unwrap();
    let out = engine.finish(policy.as_ref());
    let result = serde_json::json!({
        "policy": out.policy,
        "forecast": out.forecast,
        "metrics": out.metrics,
        "per_site": out.per_site,
        "jobs": out.jobs.iter().map(|j| serde_json::to_value(j).unwrap()).collect::<Vec<_>>(),
    });
    (decisions, result)
}

fn check(sc: &Scenario, label: &str) {
    let kinds = [
        ForecastKind::Perfect,
        ForecastKind::Noisy {
            relative_error: 0.15,
            seed: 7,
        },
    ];
    for name in policy::names() {
        for kind in kinds {
            let (by_hand, hand) = drive_by_hand(sc, name, kind);
            let mut sink = Decisions::default();
            let cfg = SimConfig {
                forecast: kind,
                ..SimConfig::default()
            };
            let sim = simulate_into(sc, make(name, sc).as_mut(), &cfg, &mut sink);
            let simulated = serde_json::json!({
                "policy": sim.policy,
                "forecast": sim.forecast,
                "metrics": sim.metrics,
                "per_site": sim.per_site,
                "jobs": sim.jobs.iter().map(|j| serde_json::to_value(j).unwrap()).collect::<Vec<_>>(),
            });
            assert!(
                !by_hand.is_empty(),
                "{label} {name}: the policy decided nothing"
            );
            assert_eq!(by_hand, sink.0, "{label} {name} {kind:?}: decisions differ");
            assert_eq!(hand, simulated, "{label} {name} {kind:?}: results differ");
        }
    }
}

#[test]
fn a_hand_written_driver_gets_what_simulate_gets_on_the_demo() {
    check(&suandian_io::builtin::demo().scenario, "demo");
}

#[test]
fn a_hand_written_driver_gets_what_simulate_gets_under_a_demand_response_event() {
    let mut sc = suandian_scenarios::default_scenario::default_scenario(2, 2024);
    let site = 0;
    let cap = sc.sites[site].grid.import_limit_kw * 0.3;
    sc.demand_response.push(DemandResponseEvent {
        id: "evening-peak".into(),
        sites: vec![site],
        start_h: 18.0,
        end_h: 21.0,
        announced_h: 14.5,
        import_cap_kw: cap,
        penalty_per_kwh: None,
    });
    sc.validate().unwrap();
    check(&sc, "default day with an event");
}

#[test]
fn the_engine_refuses_bad_input_and_changes_nothing() {
    let sc = suandian_io::builtin::demo().scenario;
    let mut engine = Engine::new(
        &sc,
        Box::new(Replay::new(&sc, ForecastKind::Perfect)),
        false,
    );
    let mut asap = make("asap", &sc);
    let first = sc.jobs[0].clone();
    engine
        .submit(SlotInput {
            jobs: vec![first.clone()],
            events: vec![],
        })
        .unwrap();
    // The same id twice.
    let e = engine
        .submit(SlotInput {
            jobs: vec![first.clone()],
            events: vec![],
        })
        .unwrap_err();
    assert!(matches!(e, EngineError::DuplicateId { .. }), "{e}");
    // A job that breaks an invariant: the message names the field.
    let mut bad = sc.jobs[3].clone();
    bad.accelerators = 0;
    let e = engine
        .submit(SlotInput {
            jobs: vec![sc.jobs[2].clone(), bad],
            events: vec![],
        })
        .unwrap_err();
    assert!(e.to_string().contains(".accelerators"), "{e}");
    // All or none: the good job before the bad one was not taken.
    assert_eq!(engine.job_count(), 1);
    // Step past the first slot, then a job that arrives before the current slot is refused.
    engine
        .step(SlotInput::default(), asap.as_mut(), &mut NoSink)
        .unwrap();
    let mut late = sc.jobs[1].clone();
    late.arrival_h = 0.0;
    late.id = "late".into();
    let e = engine
        .submit(SlotInput {
            jobs: vec![late],
            events: vec![],
        })
        .unwrap_err();
    assert!(matches!(e, EngineError::LateJob { .. }), "{e}");
    assert_eq!(engine.job_count(), 1);
    assert_eq!(engine.slot(), 1);
}

/// The service's provider (`signals::Live`), fed one slot at a time and never holding the
/// future, gives exactly what `simulate` gives: with observations only, what persistence
/// forecasts give; with a perfect forecast published every slot, what perfect ones give.
#[test]
fn a_live_provider_fed_slot_by_slot_equals_the_replay() {
    let sc = suandian_scenarios::default_scenario::default_scenario(3, 5);
    let n = sc.grid.slots;
    // Each feed's truth, by (signal, site or region).
    let mut truth: Vec<(Signal, usize, Vec<f64>)> = Vec::new();
    for (s, site) in sc.sites.iter().enumerate() {
        truth.push((Signal::CarbonGPerKwh, s, site.grid.carbon_g_per_kwh.clone()));
        truth.push((Signal::PricePerMwh, s, site.grid.price_per_mwh.clone()));
        truth.push((
            Signal::FeedInPricePerMwh,
            s,
            site.grid.feed_in_price_per_mwh.clone(),
        ));
        truth.push((
            Signal::GreenKw,
            s,
            (0..n).map(|t| site.green_kw(t)).collect(),
        ));
        truth.push((Signal::Pue, s, (0..n).map(|t| site.pue.at(t)).collect()));
    }
    for (r, d) in sc.inference.iter().enumerate() {
        truth.push((Signal::InferenceTokensPerS, r, d.tokens_per_s.clone()));
    }
    for (publish, kind) in [
        (false, ForecastKind::Persistence),
        (true, ForecastKind::Perfect),
    ] {
        for name in ["asap", "carbon-wait", "greenest-site", "coordinated"] {
            let live = RwLock::new(Live::new(&sc.grid, 1));
            for (sig, i, _) in &truth {
                live.write().unwrap().declare(*sig, *i, 0.0);
            }
            let mut policy = make(name, &sc);
            let mut engine = Engine::new(&sc, Box::new(&live), false);
            let mut next = 0;
            for t in 0..n {
                {
                    let mut feeds = live.write().unwrap();
                    for (sig, i, v) in &truth {
                        feeds.observe(*sig, *i, t, v[t]).unwrap();
                        if publish {
                            feeds.publish(*sig, *i, t, t, &v[t..]).unwrap();
                        }
                    }
                }
                let end_h = sc.grid.slot_start_h(t + 1);
                let mut input = SlotInput::default();
                while next < sc.jobs.len() && sc.jobs[next].arrival_h < end_h {
                    input.jobs.push(sc.jobs[next].clone());
                    next += 1;
                }
                engine.step(input, policy.as_mut(), &mut NoSink).unwrap();
            }
            engine
                .submit(SlotInput {
                    jobs: sc.jobs[next..].to_vec(),
                    events: vec![],
                })
                .unwrap();
            let out = engine.finish(policy.as_ref());
            let cfg = SimConfig {
                forecast: kind,
                ..SimConfig::default()
            };
            let sim = suandian_core::sim::simulate(&sc, make(name, &sc).as_mut(), &cfg);
            assert_eq!(
                serde_json::to_value(&out.metrics).unwrap(),
                serde_json::to_value(&sim.metrics).unwrap(),
                "{name} {kind:?}"
            );
        }
    }
}

/// An engine on `sc` (perfect forecasts) holding all its jobs and `events`, and asap.
fn asap_with(
    sc: &Scenario,
    events: Vec<DemandResponseEvent>,
) -> (Engine<'_>, Box<dyn Policy + Send>) {
    let mut engine = Engine::new(sc, Box::new(Replay::new(sc, ForecastKind::Perfect)), false);
    engine
        .submit(SlotInput {
            jobs: sc.jobs.clone(),
            events,
        })
        .unwrap();
    (engine, make("asap", sc))
}

/// A demand-response event cancelled mid-window ends at the current slot's start (the slots
/// stepped under it stay as they were, the later ones are uncapped); one cancelled before its
/// window is dropped; an unknown or finished one is refused and nothing changes.
#[test]
fn a_cancelled_event_ends_at_the_current_slot() {
    let sc = suandian_io::builtin::demo().scenario;
    let event = DemandResponseEvent {
        id: "evening".into(),
        sites: vec![0, 1],
        start_h: 18.0,
        end_h: 21.0,
        announced_h: 12.0,
        import_cap_kw: 1.0,
        penalty_per_kwh: None,
    };
    // Cancelled at slot 19: under the cap in slot 18 only, on both sites.
    let run = |cancel_at: usize| {
        let (mut engine, mut policy) = asap_with(&sc, vec![event.clone()]);
        let mut cancelled = None;
        for t in 0..sc.grid.slots {
            if t == cancel_at {
                assert!(matches!(
                    engine.cancel_event("no-such-event"),
                    Err(EngineError::UnknownEvent { .. })
                ));
                cancelled = Some(engine.cancel_event("evening"));
            }
            engine
                .step(SlotInput::default(), policy.as_mut(), &mut NoSink)
                .unwrap();
        }
        let after = engine.cancel_event("evening");
        (cancelled, after, engine.finish(policy.as_ref()).metrics)
    };
    let (cancelled, after, m) = run(19);
    let now = cancelled.unwrap().unwrap().unwrap();
    assert_eq!((now.start_h, now.end_h), (18.0, 19.0));
    assert_eq!(m.dr_event_slots, 2, "slot 18 on two sites");
    assert!(
        matches!(after, Err(EngineError::EventOver { .. })),
        "{after:?}"
    );
    // Cancelled before its window: dropped, no slot capped.
    let (cancelled, after, m) = run(10);
    assert_eq!(cancelled.unwrap().unwrap(), None);
    assert_eq!(m.dr_event_slots, 0);
    assert!(
        matches!(after, Err(EngineError::UnknownEvent { .. })),
        "{after:?}"
    );
    // Not cancelled: three slots on two sites.
    let (_, _, m) = run(usize::MAX);
    assert_eq!(m.dr_event_slots, 6);
}

/// Jobs withdrawn mid-run: one not yet arrived never arrives, one running stops where it was
/// (the energy it used stays, none after), a done or unknown one is refused. The counts add up,
/// and the withdrawn work counts as undone on equal work.
#[test]
fn a_cancelled_job_stops_and_its_work_counts_as_undone() {
    let sc = suandian_io::builtin::demo().scenario;
    let (mut engine, mut policy) = asap_with(&sc, vec![]);
    let at = 12;
    for _ in 0..at {
        engine
            .step(SlotInput::default(), policy.as_mut(), &mut NoSink)
            .unwrap();
    }
    let state = |e: &Engine, id: &str| e.job_state(e.job_by_id(id).unwrap()).unwrap();
    let find = |want: JobState| {
        sc.jobs
            .iter()
            .find(|j| state(&engine, &j.id) == want)
            .unwrap_or_else(|| panic!("no {want:?} job at slot {at}"))
            .id
            .clone()
    };
    let (pending, running, done) = (
        find(JobState::Pending),
        find(JobState::Running),
        find(JobState::Done),
    );
    let before = engine.so_far(policy.as_ref());
    let energy_then = |out: &suandian_core::engine::RunOutcome, id: &str| {
        out.jobs.iter().find(|j| j.id == id).unwrap().energy_it_kwh
    };
    assert_eq!(engine.cancel_job(&pending), Ok(JobState::Pending));
    assert_eq!(engine.cancel_job(&running), Ok(JobState::Running));
    assert!(matches!(
        engine.cancel_job(&done),
        Err(EngineError::JobOver { .. })
    ));
    assert!(matches!(
        engine.cancel_job(&running),
        Err(EngineError::JobOver { .. })
    ));
    assert!(matches!(
        engine.cancel_job("nobody"),
        Err(EngineError::UnknownJob { .. })
    ));
    for _ in at..sc.grid.slots {
        engine
            .step(SlotInput::default(), policy.as_mut(), &mut NoSink)
            .unwrap();
    }
    assert_eq!(state(&engine, &pending), JobState::Cancelled);
    let out = engine.finish(policy.as_ref());
    let outcome = |id: &str| out.jobs.iter().find(|j| j.id == id).unwrap().clone();
    let p = outcome(&pending);
    assert_eq!((p.started_h, p.energy_it_kwh), (None, 0.0), "never arrived");
    assert_eq!(p.cancelled_h, Some(sc.grid.slot_start_h(at)));
    let r = outcome(&running);
    assert_eq!(
        r.energy_it_kwh,
        energy_then(&before, &running),
        "no energy after"
    );
    assert!(r.energy_it_kwh > 0.0 && r.completed_h.is_none());
    assert!(
        r.unfinished_work_acc_h > 0.0,
        "its remaining work is undone work"
    );
    let m = &out.metrics;
    assert_eq!(m.jobs_cancelled, 2);
    assert_eq!(
        m.jobs_completed + m.jobs_unfinished + m.jobs_cancelled,
        m.jobs_total
    );
    let undone: f64 = out.jobs.iter().map(|j| j.unfinished_work_acc_h).sum();
    assert!((m.unfinished_work_acc_h - undone).abs() < 1e-9);
    assert!(undone >= p.unfinished_work_acc_h + r.unfinished_work_acc_h);
}
