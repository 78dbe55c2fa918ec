//! A policy sees the past and its forecasts, never the future.
mod common;

use common::*;
use suandian_core::fleet::Fleet;
use suandian_core::forecast::ForecastKind;
use suandian_core::policy::{self, Policy};
use suandian_core::sim::{simulate, SimConfig};
use suandian_core::*;

const SLOTS: usize = 96;
const CUT: usize = 60;

fn scenario(future_variant: bool) -> Scenario {
    let wave = |phase: f64| -> Vec<f64> {
        (0..SLOTS)
            .map(|t| 300.0 + 200.0 * ((t as f64 / 24.0 * std::f64::consts::TAU) + phase).sin())
            .collect()
    };
    let mut a = site("A", 8, 4, 100.0, 1.2, 1000.0, wave(0.0), wave(0.0));
    let mut b = site("B", 8, 4, 100.0, 1.2, 1000.0, wave(2.0), wave(2.0));
    let mut jobs: Vec<Job> = (0..40)
        .map(|i| {
            job(
                &format!("j{i}"),
                i as f64 * 2.3,
                1 + (i % 3) as u32,
                1.0 + (i % 5) as f64,
                i as f64 * 2.3 + 30.0,
                i % 2,
                vec![0, 1],
            )
        })
        .collect();
    if future_variant {
        // Everything from slot CUT on is different: signals and work.
        for t in CUT..SLOTS {
            a.grid.carbon_g_per_kwh[t] = 50.0 + t as f64;
            b.grid.carbon_g_per_kwh[t] = 900.0 - t as f64;
            a.grid.price_per_mwh[t] *= 3.0;
        }
        jobs.retain(|j| j.arrival_h < CUT as f64);
        jobs.push(job(
            "late-newcomer",
            CUT as f64 + 0.5,
            8,
            3.0,
            f64::INFINITY,
            1,
            vec![0, 1],
        ));
        b.green.push(GreenPlant {
            name: "pv".into(),
            kind: GreenKind::Solar,
            capacity_kw: 0.0,
            capacity_factor: vec![0.0; SLOTS],
        });
    }
    // A demand-response event announced after the cut (and one before it, in both).
    let mut demand_response = vec![DemandResponseEvent {
        id: "known".into(),
        sites: vec![0, 1],
        start_h: 40.0,
        end_h: 44.0,
        announced_h: 30.5,
        import_cap_kw: 3.0,
        penalty_per_kwh: None,
    }];
    if future_variant {
        demand_response.push(DemandResponseEvent {
            id: "surprise".into(),
            sites: vec![1],
            start_h: CUT as f64 + 2.0,
            end_h: CUT as f64 + 8.0,
            announced_h: CUT as f64 + 0.5,
            import_cap_kw: 0.0,
            penalty_per_kwh: None,
        });
    }
    Scenario {
        name: "no-future".into(),
        grid: grid(SLOTS, 60),
        sites: vec![a, b],
        jobs,
        inference: vec![],
        economics: economics(),
        dispatch: DispatchRule::default(),
        demand_response,
    }
}

/// Decisions made before the cut must not depend on anything after it.
#[test]
fn decisions_before_the_cut_ignore_the_future() {
    let (x, y) = (scenario(false), scenario(true));
    x.validate().unwrap();
    y.validate().unwrap();
    for forecast in [ForecastKind::Persistence] {
        for name in policy::baselines() {
            let cfg = SimConfig {
                forecast,
                record_timeline: true,
            };
            let rx = simulate(&x, policy::by_name(name).unwrap().as_mut(), &cfg);
            let ry = simulate(&y, policy::by_name(name).unwrap().as_mut(), &cfg);
            let before = |r: &suandian_core::sim::RunResult| -> Vec<(usize, usize, u64)> {
                r.segments
                    .iter()
                    .filter(|s| s.from_h < CUT as f64)
                    .map(|s| (s.job, s.site, (s.from_h * 1e6) as u64))
                    .collect()
            };
            assert!(!before(&rx).is_empty());
            assert_eq!(before(&rx), before(&ry), "{name} acted on the future");
        }
    }
}

/// A snooping policy: checks what the context lets it see at each slot.
struct Snoop {
    truth: Vec<f64>,
    arrivals: Vec<f64>,
    /// (announced_h, start_h, end_h, cap) of the events capping site 0.
    events: Vec<(f64, f64, f64, f64)>,
    base_limit_kw: f64,
    checked: usize,
}

impl Policy for Snoop {
    fn name(&self) -> String {
        "snoop".into()
    }
    fn on_slot(&mut self, ctx: &mut dyn Fleet) {
        let now = ctx.slot();
        for (j, arrival) in self.arrivals.iter().enumerate() {
            assert_eq!(
                ctx.job(j).is_some(),
                *arrival <= ctx.now_h(),
                "job {j} visible before it arrived"
            );
        }
        for t in 0..ctx.slots() {
            assert_eq!(ctx.carbon_observed(0, t).is_some(), t < now);
            if t < now {
                assert_eq!(ctx.carbon_forecast(0, t), self.truth[t]);
            }
            // Only events announced by now lower the limit the policy is told about.
            let (from, to) = (t as f64, t as f64 + 1.0);
            let want = self
                .events
                .iter()
                .filter(|(ann, s, e, _)| *ann <= ctx.now_h() && *s < to && *e > from)
                .fold(self.base_limit_kw, |l, (.., cap)| l.min(*cap));
            assert_eq!(
                ctx.import_limit_forecast_kw(0, t),
                want,
                "slot {t} seen at {now}"
            );
        }
        assert!(ctx
            .demand_response_announced()
            .iter()
            .all(|e| e.announced_h <= ctx.now_h()));
        self.checked += 1;
    }
}

#[test]
fn the_context_hides_future_jobs_and_observations() {
    let mut sc = scenario(true);
    // An unannounced event on site 0 too, so that the snoop sees it appear.
    sc.demand_response[1].sites = vec![0, 1];
    sc.validate().unwrap();
    let mut snoop = Snoop {
        truth: sc.sites[0].grid.carbon_g_per_kwh.clone(),
        arrivals: sc.jobs.iter().map(|j| j.arrival_h).collect(),
        events: sc
            .demand_response
            .iter()
            .map(|e| (e.announced_h, e.start_h, e.end_h, e.import_cap_kw))
            .collect(),
        base_limit_kw: sc.sites[0].grid.import_limit_kw,
        checked: 0,
    };
    simulate(
        &sc,
        &mut snoop,
        &SimConfig {
            forecast: ForecastKind::Persistence,
            ..SimConfig::default()
        },
    );
    assert_eq!(snoop.checked, SLOTS);
}
