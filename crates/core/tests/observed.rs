//! The accounting of observed runs ([`Engine::observed_outcome`]) against the model's own.
use suandian_core::engine::RunOutcome;
use suandian_core::engine::{Engine, ObservedRun, Segment, Sink, SlotInput};
use suandian_core::model::{JobId, Scenario};
use suandian_core::policy::Policy;

/// Collects the model's job runs.
#[derive(Default)]
struct Runs(Vec<Segment>);
impl Sink for Runs {
    fn segment(&mut self, s: Segment) {
        self.0.push(s);
    }
}

fn demo() -> Scenario {
    suandian_scenarios::default_scenario::default_scenario(7, 2024)
}

fn run_with<'a>(sc: &'a Scenario, policy: &mut dyn Policy) -> (Engine<'a>, Vec<Segment>) {
    let mut e = Engine::new(
        sc,
        Box::new(suandian_core::signals::Replay::new(
            sc,
            suandian_core::forecast::ForecastKind::Perfect,
        )),
        true,
    );
    e.keep_history();
    let mut sink = Runs::default();
    let input = SlotInput {
        jobs: sc.jobs.clone(),
        events: sc.demand_response.clone(),
    };
    e.step(input, policy, &mut sink).unwrap();
    while e.slot() < sc.grid.slots {
        e.step(SlotInput::default(), policy, &mut sink).unwrap();
    }
    (e, sink.0)
}

fn observed(e: &Engine, segs: &[Segment], shift_h: f64) -> Vec<ObservedRun> {
    let _ = e;
    segs.iter()
        .map(|s| ObservedRun {
            job: s.job,
            site: s.site,
            from_h: s.from_h + shift_h,
            to_h: s.to_h + shift_h,
            power_level: s.power_level,
        })
        .collect()
}

fn completions(e: &Engine, shift_h: f64) -> Vec<(JobId, f64)> {
    (0..e.job_count())
        .filter_map(|j| {
            e.job_times(j)
                .and_then(|(_, c, _)| c)
                .map(|c| (j, c + shift_h))
        })
        .collect()
}

/// Fed the model's own runs, the observed accounting gives the model's figures, for every
/// policy on the demo (which has batteries, inference, thermal backup and a
/// demand-response event): the two share one accounting.
#[test]
fn the_models_own_runs_give_the_models_figures() {
    let sc = demo();
    for name in suandian_core::policy::baselines() {
        let mut policy = suandian_core::policy::by_name(name).unwrap();
        let (e, segs) = run_with(&sc, policy.as_mut());
        let model = e.so_far(policy.as_ref());
        let obs = e.observed_outcome(
            policy.as_ref(),
            &observed(&e, &segs, 0.0),
            &completions(&e, 0.0),
            sc.grid.slots,
        );
        let (a, b) = (
            serde_json::to_value(&model.metrics).unwrap(),
            serde_json::to_value(&obs.metrics).unwrap(),
        );
        for (k, va) in a.as_object().unwrap() {
            let vb = &b[k];
            match (va.as_f64(), vb.as_f64()) {
                (Some(x), Some(y)) => assert!(
                    (x - y).abs() <= 1e-6 * x.abs().max(1.0),
                    "{name}: {k}: model {x}, observed {y}"
                ),
                _ => assert_eq!(va, vb, "{name}: {k}"),
            }
        }
        assert_eq!(model.per_site.len(), obs.per_site.len());
        for (m, o) in model.jobs.iter().zip(&obs.jobs) {
            assert_eq!(m.started_h, o.started_h, "{name}: {}", m.id);
            assert_eq!(m.completed_h, o.completed_h, "{name}: {}", m.id);
            assert!((m.energy_it_kwh - o.energy_it_kwh).abs() < 1e-9, "{}", m.id);
            assert!(
                (m.late_work_acc_h - o.late_work_acc_h).abs() < 1e-9,
                "{}",
                m.id
            );
        }
    }
}

/// Runs that start (and end) later than the model's carry their energy into later slots:
/// the energy is the same, its price is the later slots'; a job seen to run without being
/// seen complete counts what it did not run as undone; nothing after `through_slot` counts.
#[test]
fn late_runs_cost_what_their_slots_cost_and_unseen_work_is_undone() {
    let sc = demo();
    let mut policy = suandian_core::policy::by_name("asap").unwrap();
    let (e, segs) = run_with(&sc, policy.as_mut());
    let model = e.so_far(policy.as_ref());
    let late = e.observed_outcome(
        policy.as_ref(),
        &observed(&e, &segs, 0.25),
        &completions(&e, 0.25),
        sc.grid.slots,
    );
    let jobs_kwh = |o: &RunOutcome| o.jobs.iter().map(|j| j.energy_it_kwh).sum::<f64>();
    // The last runs shift past the horizon: at most a quarter hour of each is cut.
    assert!(jobs_kwh(&late) <= jobs_kwh(&model) + 1e-9);
    assert!(jobs_kwh(&late) > 0.95 * jobs_kwh(&model));
    assert!(late.metrics.cost != model.metrics.cost);
    // No completion observed: every job's work not seen is undone.
    let none = e.observed_outcome(policy.as_ref(), &observed(&e, &segs, 0.0), &[], 24);
    let through_h = sc.grid.slot_start_h(24);
    for (k, o) in none.jobs.iter().enumerate() {
        let j = e.job(k).unwrap();
        assert_eq!(o.completed_h, None);
        let seen_h: f64 = segs
            .iter()
            .filter(|s| s.job == k)
            .map(|s| (s.to_h.min(through_h) - s.from_h).max(0.0))
            .sum();
        let want = (j.runtime_h - seen_h).max(0.0) * f64::from(j.accelerators);
        assert!(
            (o.unfinished_work_acc_h - want).abs() < 1e-6 * want.max(1.0),
            "{}: {} vs {want}",
            j.id,
            o.unfinished_work_acc_h
        );
    }
    let day: f64 = none.per_site.iter().map(|s| s.it_kwh).sum();
    let whole: f64 = model.per_site.iter().map(|s| s.it_kwh).sum();
    assert!(day < whole);
}
