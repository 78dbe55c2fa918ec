//! The coordinated planner against the baselines and the oracle's bound (issue 4's quality
//! targets): on the default scenario and on a real-data pack, with the noisy forecast.

use std::path::PathBuf;
use suandian_core::forecast::ForecastKind;
use suandian_core::metrics::{Metrics, ObjectiveWeights};
use suandian_core::sim::{simulate, SimConfig};
use suandian_core::Scenario;
use suandian_planner::{policy_by_name, ObjectiveMode};

struct Outcome {
    name: String,
    metrics: Metrics,
    objective: f64,
}

fn compare(sc: &Scenario, forecast: ForecastKind) -> (Vec<Outcome>, f64) {
    let cfg = SimConfig {
        forecast,
        ..SimConfig::default()
    };
    let w = ObjectiveWeights::for_scenario(sc);
    let mut bound = f64::NAN;
    let out = [
        "asap",
        "carbon-wait",
        "greenest-site",
        "coordinated",
        "oracle",
    ]
    .iter()
    .map(|n| {
        let mut p = policy_by_name(n, sc, ObjectiveMode::Balanced)
            .unwrap()
            .unwrap();
        let r = simulate(sc, p.as_mut(), &cfg);
        if let Some(b) = r.objective_bound {
            bound = b;
        }
        Outcome {
            name: n.to_string(),
            objective: w.evaluate(&r.metrics),
            metrics: r.metrics,
        }
    })
    .collect();
    (out, bound)
}

fn get<'a>(o: &'a [Outcome], name: &str) -> &'a Outcome {
    o.iter().find(|x| x.name == name).unwrap()
}

fn report(label: &str, o: &[Outcome], bound: f64) -> f64 {
    let asap = get(o, "asap").objective;
    for x in o {
        println!(
            "{label}: {:<14} objective {:>12.1}  carbon {:>10.1} kg  cost {:>10.1}  captures {:>5.1} %",
            x.name,
            x.objective,
            x.metrics.carbon_location_kg,
            x.metrics.cost,
            (asap - x.objective) / (asap - bound) * 100.0
        );
        assert!(
            bound <= x.objective + 1e-6 * x.objective.abs(),
            "{}: {} below the bound {bound}",
            x.name,
            x.objective
        );
    }
    (asap - get(o, "coordinated").objective) / (asap - bound)
}

#[test]
fn coordinated_captures_most_of_the_oracle_on_the_default_week() {
    let sc = suandian_io::builtin::by_name("default", 7, 2024)
        .unwrap()
        .scenario;
    let (o, bound) = compare(
        &sc,
        ForecastKind::Noisy {
            relative_error: 0.15,
            seed: 42,
        },
    );
    let capture = report("default", &o, bound);
    assert!(
        capture >= 0.85,
        "coordinated captures {:.1} % of the oracle's reduction",
        capture * 100.0
    );
    let c = &get(&o, "coordinated").metrics;
    for other in ["carbon-wait", "greenest-site"] {
        let m = &get(&o, other).metrics;
        assert!(
            c.carbon_location_kg < m.carbon_location_kg,
            "carbon: coordinated vs {other}"
        );
        assert!(c.cost < m.cost, "cost: coordinated vs {other}");
    }
    assert_eq!(c.deadline_misses, get(&o, "asap").metrics.deadline_misses);
}

#[test]
fn coordinated_captures_most_of_the_oracle_on_two_real_weeks() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    if !root.join("../shared/data").is_dir() {
        println!("skipped: ../shared/data not found");
        return;
    }
    let sc = suandian_io::scenario::load(
        &root.join("scenarios/real-2022/us-three-zones-two-weeks.toml"),
    )
    .unwrap()
    .scenario;
    let (o, bound) = compare(
        &sc,
        ForecastKind::Noisy {
            relative_error: 0.15,
            seed: 2022,
        },
    );
    let capture = report("real two weeks", &o, bound);
    assert!(
        capture >= 0.85,
        "coordinated captures {:.1} % of the oracle's reduction",
        capture * 100.0
    );
    let c = &get(&o, "coordinated").metrics;
    // Cheaper than both baselines, and cleaner than carbon-wait. greenest-site is cleaner
    // here: the balanced objective prices carbon at 50 USD/t, so cost leads (docs/planner.md).
    for other in ["carbon-wait", "greenest-site"] {
        assert!(
            c.cost < get(&o, other).metrics.cost,
            "cost: coordinated vs {other}"
        );
    }
    assert!(c.carbon_location_kg < get(&o, "carbon-wait").metrics.carbon_location_kg);
}
