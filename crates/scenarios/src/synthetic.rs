//! Seeded synthetic fleets of any size, for benchmarks and scaling tests (not for conclusions:
//! use real traces for those). Deterministic for a seed.
//!
//! Sites get daily carbon and price cycles with different phases and levels (some clean, some
//! coal-heavy), every third site a solar plant and a battery, every fourth thermal backup. Jobs
//! follow the shape of the GAIA pai-100k trace: three quarters on one accelerator, a long tail
//! up to 64, run times log-normal around 40 minutes with a mean of about 2.3 h, arrivals
//! spread evenly over the horizon, a 24 h maximum delay, any site allowed.

use chrono::{TimeZone, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};
use suandian_core::model::*;

/// Shape of a synthetic fleet.
#[derive(Debug, Clone, Copy)]
pub struct FleetSpec {
    pub sites: usize,
    pub slots: usize,
    pub slot_minutes: u32,
    pub jobs: usize,
    pub accelerators_per_site: u32,
    pub seed: u64,
}

/// Build a valid synthetic scenario; every job may run at every site.
pub fn fleet(spec: FleetSpec) -> Scenario {
    fleet_with_eligibility(spec, 0)
}

/// As [`fleet`], but each job may run only at its home site and the next `eligible - 1` sites
/// (`0`: every site), as data residency and latency limit real jobs; it also keeps very large
/// fleets small in memory.
pub fn fleet_with_eligibility(spec: FleetSpec, eligible: usize) -> Scenario {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let grid = TimeGrid {
        start: Utc
            .with_ymd_and_hms(2022, 1, 1, 0, 0, 0)
            .single()
            .expect("valid date"),
        slot_minutes: spec.slot_minutes,
        slots: spec.slots,
    };
    let per_day = grid.slots_per_day() as f64;
    let mut sites = Vec::with_capacity(spec.sites);
    for s in 0..spec.sites {
        let level = 150.0 + 550.0 * ((s * 7919) % 13) as f64 / 12.0;
        let phase = rng.random::<f64>() * std::f64::consts::TAU;
        let cycle = |t: usize| ((t as f64 / per_day) * std::f64::consts::TAU + phase).sin();
        let carbon: Vec<f64> = (0..spec.slots)
            .map(|t| (level * (1.0 + 0.25 * cycle(t)) + rng.random_range(-20.0..20.0)).max(5.0))
            .collect();
        let price: Vec<f64> = (0..spec.slots)
            .map(|t| 60.0 + 40.0 * cycle(t + 3) + rng.random_range(-10.0..10.0))
            .collect();
        let count = spec.accelerators_per_site;
        let full_kw = f64::from(count) * 0.7 * 1.3;
        let mut site = Site {
            name: format!("site{s:03}"),
            region: format!("region{s:03}"),
            latitude: 30.0 + s as f64 % 15.0,
            longitude: 90.0 + s as f64 % 30.0,
            accelerators: Accelerators {
                count,
                model: "H100".into(),
                idle_w: 100.0,
                peak_w: 700.0,
                per_server: 8,
                other_it_w_per_server: 1500.0,
                min_power_level: 0.3,
                throughput_exponent: 1.0,
            },
            pue: Pue::Constant {
                value: 1.15 + 0.2 * ((s % 5) as f64 / 4.0),
            },
            grid: GridConnection {
                import_limit_kw: full_kw * 1.5,
                export_limit_kw: full_kw * 0.2,
                feed_in_price_per_mwh: vec![20.0; spec.slots],
                price_per_mwh: price,
                carbon_g_per_kwh: carbon,
                residual_mix_g_co2_per_kwh: None,
                green_certificates_kwh: 0.0,
            },
            green: vec![],
            battery: None,
            thermal: None,
        };
        if s % 3 == 0 {
            let cf = (0..spec.slots)
                .map(|t| {
                    let h = (t as f64 / per_day).fract() * 24.0;
                    let sun = ((h - 6.0) / 12.0 * std::f64::consts::PI).sin().max(0.0);
                    (sun * rng.random_range(0.5..1.0)).min(1.0)
                })
                .collect();
            site.green.push(GreenPlant {
                name: format!("pv{s}"),
                kind: GreenKind::Solar,
                capacity_kw: full_kw * 0.8,
                capacity_factor: cf,
            });
            site.battery = Some(Battery {
                capacity_kwh: full_kw * 2.0,
                power_kw: full_kw * 0.5,
                round_trip_efficiency: 0.88,
                soc_min: 0.1,
                soc_max: 0.95,
                soc_initial: 0.5,
                wear_cost_per_kwh: None,
            });
        }
        if s % 4 == 0 {
            site.thermal = Some(Thermal {
                capacity_kw: full_kw * 0.3,
                cost_per_kwh: 0.15,
                g_co2_per_kwh: 800.0,
            });
        }
        sites.push(site);
    }

    let horizon_h = grid.horizon_h();
    let length = LogNormal::new((0.66f64).ln(), 1.55).expect("valid log-normal");
    let sizes = [1u32, 1, 1, 1, 1, 1, 2, 2, 4, 8, 16, 64];
    let mut arrivals: Vec<f64> = (0..spec.jobs)
        .map(|_| rng.random::<f64>() * horizon_h * 0.98)
        .collect();
    arrivals.sort_by(f64::total_cmp);
    let all: Vec<SiteId> = (0..spec.sites).collect();
    let jobs = arrivals
        .into_iter()
        .enumerate()
        .map(|(i, arrival_h)| {
            let runtime_h = length.sample(&mut rng).clamp(0.05, 72.0);
            let accelerators =
                sizes[rng.random_range(0..sizes.len())].min(spec.accelerators_per_site);
            Job {
                id: format!("job{i}"),
                arrival_h,
                accelerators,
                runtime_h,
                deadline_h: arrival_h + runtime_h + 24.0,
                interruptible: true,
                migratable: i % 2 == 0,
                allowed_sites: if eligible == 0 || eligible >= spec.sites {
                    all.clone()
                } else {
                    let home = i % spec.sites;
                    let mut v: Vec<SiteId> =
                        (0..eligible).map(|k| (home + k) % spec.sites).collect();
                    v.sort_unstable();
                    v
                },
                home_site: i % spec.sites.max(1),
                checkpoint_gb: DEFAULT_CHECKPOINT_GB_PER_ACCELERATOR * f64::from(accelerators),
                flex_tier: None,
            }
        })
        .collect();

    Scenario {
        name: format!(
            "synthetic {} sites x {} slots, {} jobs",
            spec.sites, spec.slots, spec.jobs
        ),
        grid,
        sites,
        jobs,
        inference: vec![],
        economics: Economics {
            currency: "USD".into(),
            carbon_price_per_t: 50.0,
            carbon_price_basis: CarbonBasis::Location,
            value_per_million_tokens: 2.0,
            transfer_cost_per_gb: DEFAULT_TRANSFER_COST_PER_GB,
            over_limit_per_kwh: None,
        },
        dispatch: DispatchRule::default(),
        demand_response: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_fleets_are_valid_and_deterministic() {
        let spec = FleetSpec {
            sites: 4,
            slots: 200,
            slot_minutes: 60,
            jobs: 500,
            accelerators_per_site: 64,
            seed: 3,
        };
        let a = fleet(spec);
        a.validate().unwrap();
        assert_eq!(a, fleet(spec));
        let mean: f64 = a.jobs.iter().map(|j| j.runtime_h).sum::<f64>() / 500.0;
        assert!((1.0..4.0).contains(&mean), "mean run time {mean}");
    }
}
