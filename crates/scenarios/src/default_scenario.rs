//! The default scenario: "East Data, West Computing" (东数西算) on the eight national computing
//! hubs, modelled from physics and published parameters (no Chinese hourly data is public).
//!
//! - **Sites**: one data centre per hub, at its cluster (Zhangjiakou, Wuhu, Shaoguan, Tianfu,
//!   Helinger, Gui'an, Qingyang, Zhongwei), with an H800-class GPU fleet. The western hubs
//!   carry directly connected wind and solar (绿电直连) and a battery; surplus green power
//!   cannot be fed into the grid, so it is curtailed unless work absorbs it.
//! - **Weather**: per site, modelled temperature ([`crate::weather::climate`]), PV output
//!   ([`crate::weather::solar`], calibrated to the site's annual irradiation) and wind output
//!   ([`crate::weather::wind`], calibrated to the province's utilisation hours); PUE follows
//!   the temperature ([`crate::weather::pue`]).
//! - **Grid**: the province's emission factor shaped by its modelled renewable share, and its
//!   time-of-use tariff ([`crate::china`]).
//! - **Work**: latency-bound inference from four eastern user regions, and a seeded mix of
//!   evaluation, fine-tuning and pre-training jobs with deadline slack.
//!
//! Pure and deterministic: the same `(days, seed)` always gives the same scenario. Every
//! parameter's source or assumption is in `docs/default-scenario.md`.

use crate::china::{province, Province};
use crate::weather::climate::Climate;
use crate::weather::pue::PueModel;
use crate::weather::solar::{self, PvSystem, SolarSite};
use crate::weather::wind;
use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};
use suandian_core::model::*;

/// China Standard Time, hours east of UTC.
pub const CST_OFFSET_H: f64 = 8.0;

/// Seed of the default scenario's weather and work when none is given.
pub const DEFAULT_SEED: u64 = 2024;

/// Days in the default scenario when none is given.
pub const DEFAULT_DAYS: u32 = 7;

/// The first slot: Monday 8 April 2024, 00:00 China Standard Time (spring: strong wind in the
/// north and good sun; a week without public holidays).
pub fn default_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 4, 7, 16, 0, 0)
        .single()
        .expect("valid date")
}

/// One hub site's fixed parameters.
#[derive(Debug, Clone, Copy)]
pub struct HubSpec {
    pub name: &'static str,
    pub hub: &'static str,
    pub province: &'static str,
    pub latitude: f64,
    pub longitude: f64,
    pub gpus: u32,
    pub west: bool,
    pub climate: Climate,
    /// Annual global horizontal irradiation, kWh/m².
    pub annual_ghi_kwh_m2: f64,
    /// Directly connected wind and solar, as multiples of the site's full IT power.
    pub wind_per_it: f64,
    pub solar_per_it: f64,
    /// Battery power as a multiple of full IT power, and its hours of storage.
    pub battery_per_it: f64,
    pub battery_hours: f64,
}

const fn climate(mean_c: f64, seasonal: f64, diurnal: f64) -> Climate {
    Climate {
        mean_c,
        seasonal_amplitude_c: seasonal,
        diurnal_amplitude_c: diurnal,
        utc_offset_h: CST_OFFSET_H,
    }
}

/// The eight hubs (see `docs/default-scenario.md` for every number).
pub const HUBS: &[HubSpec] = &[
    HubSpec {
        name: "zhangjiakou",
        hub: "Beijing-Tianjin-Hebei",
        province: "Hebei",
        latitude: 40.77,
        longitude: 114.88,
        gpus: 4096,
        west: false,
        climate: climate(8.5, 15.0, 6.0),
        annual_ghi_kwh_m2: 1_550.0,
        wind_per_it: 0.0,
        solar_per_it: 0.0,
        battery_per_it: 0.0,
        battery_hours: 0.0,
    },
    HubSpec {
        name: "wuhu",
        hub: "Yangtze River Delta",
        province: "Anhui",
        latitude: 31.33,
        longitude: 118.38,
        gpus: 4096,
        west: false,
        climate: climate(16.5, 12.5, 4.0),
        annual_ghi_kwh_m2: 1_250.0,
        wind_per_it: 0.0,
        solar_per_it: 0.0,
        battery_per_it: 0.0,
        battery_hours: 0.0,
    },
    HubSpec {
        name: "shaoguan",
        hub: "Guangdong-Hong Kong-Macao Greater Bay Area",
        province: "Guangdong",
        latitude: 24.81,
        longitude: 113.60,
        gpus: 2048,
        west: false,
        climate: climate(20.5, 9.0, 4.0),
        annual_ghi_kwh_m2: 1_250.0,
        wind_per_it: 0.0,
        solar_per_it: 0.0,
        battery_per_it: 0.0,
        battery_hours: 0.0,
    },
    HubSpec {
        name: "tianfu",
        hub: "Chengdu-Chongqing",
        province: "Sichuan",
        latitude: 30.40,
        longitude: 104.07,
        gpus: 2048,
        west: false,
        climate: climate(16.5, 10.0, 3.5),
        annual_ghi_kwh_m2: 1_050.0,
        wind_per_it: 0.0,
        solar_per_it: 0.0,
        battery_per_it: 0.0,
        battery_hours: 0.0,
    },
    HubSpec {
        name: "helinger",
        hub: "Inner Mongolia",
        province: "Inner Mongolia",
        latitude: 40.38,
        longitude: 111.82,
        gpus: 8192,
        west: true,
        climate: climate(6.5, 16.0, 7.0),
        annual_ghi_kwh_m2: 1_600.0,
        wind_per_it: 1.0,
        solar_per_it: 0.8,
        battery_per_it: 0.25,
        battery_hours: 2.0,
    },
    HubSpec {
        name: "guian",
        hub: "Guizhou",
        province: "Guizhou",
        latitude: 26.40,
        longitude: 106.40,
        gpus: 4096,
        west: true,
        climate: climate(15.0, 9.5, 4.0),
        annual_ghi_kwh_m2: 1_050.0,
        wind_per_it: 0.0,
        solar_per_it: 0.6,
        battery_per_it: 0.25,
        battery_hours: 2.0,
    },
    HubSpec {
        name: "qingyang",
        hub: "Gansu",
        province: "Gansu",
        latitude: 35.71,
        longitude: 107.64,
        gpus: 4096,
        west: true,
        climate: climate(9.5, 13.0, 6.5),
        annual_ghi_kwh_m2: 1_500.0,
        wind_per_it: 0.8,
        solar_per_it: 1.0,
        battery_per_it: 0.25,
        battery_hours: 2.0,
    },
    HubSpec {
        name: "zhongwei",
        hub: "Ningxia",
        province: "Ningxia",
        latitude: 37.50,
        longitude: 105.19,
        gpus: 4096,
        west: true,
        climate: climate(9.0, 14.0, 7.0),
        annual_ghi_kwh_m2: 1_650.0,
        wind_per_it: 0.8,
        solar_per_it: 1.0,
        battery_per_it: 0.25,
        battery_hours: 2.0,
    },
];

/// The hub's PUE model: the approval letters of the national hubs (2021-2022) set an annual
/// PUE below 1.2 for the western hubs and within 1.25 for the eastern ones.
pub fn pue_model(h: &HubSpec) -> PueModel {
    if h.west {
        PueModel::western_hub()
    } else {
        PueModel::eastern_hub()
    }
}

/// The annual PUE limit of a hub's data centres (see [`pue_model`]).
pub fn pue_limit(h: &HubSpec) -> f64 {
    if h.west {
        1.2
    } else {
        1.25
    }
}

/// H800-class accelerators (700 W board power, 100 W idle), 8 per server, 2.8 kW of CPUs,
/// memory, network and fans per server (an 8-GPU H100 server measured at 8.4 kW at its peak
/// with the GPUs near full power, less 8 x 700 W; NVIDIA rates the DGX H100 at 10.2 kW).
fn accelerators(count: u32) -> Accelerators {
    Accelerators {
        count,
        model: "H800-SXM".into(),
        idle_w: 100.0,
        peak_w: 700.0,
        per_server: 8,
        other_it_w_per_server: 2_800.0,
        min_power_level: 0.3,
        throughput_exponent: 1.0,
    }
}

fn round_to(v: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (v * m).round() / m
}

/// Inference demand relative to its daily peak, by local hour (an assumption; see the docs).
pub const INFERENCE_DAILY_SHAPE: [f64; 24] = [
    0.55, 0.45, 0.38, 0.35, 0.35, 0.38, 0.45, 0.58, 0.72, 0.82, 0.88, 0.90, 0.84, 0.82, 0.86, 0.88,
    0.87, 0.85, 0.84, 0.88, 0.96, 1.00, 0.92, 0.72,
];

/// User regions: (name, peak tokens/s, latency-eligible sites nearest first).
pub const USER_REGIONS: &[(&str, f64, &[&str])] = &[
    (
        "north-china-users",
        2_000_000.0,
        &["zhangjiakou", "helinger"],
    ),
    ("east-china-users", 2_000_000.0, &["wuhu", "zhangjiakou"]),
    ("south-china-users", 1_000_000.0, &["shaoguan", "guian"]),
    ("southwest-china-users", 800_000.0, &["tianfu", "guian"]),
];

/// Incremental IT energy per generated token, joules (an assumption; see the docs).
pub const JOULES_PER_TOKEN: f64 = 0.5;

/// Batch work classes: (name, share of jobs, GPU sizes with weights, median run time h,
/// log-normal sigma, run-time bounds h, deadline slack h).
struct JobClass {
    name: &'static str,
    share: f64,
    sizes: &'static [(u32, f64)],
    median_h: f64,
    sigma: f64,
    bounds_h: (f64, f64),
    slack_h: f64,
}

const CLASSES: [JobClass; 3] = [
    JobClass {
        name: "eval",
        share: 0.55,
        sizes: &[(1, 0.5), (2, 0.15), (4, 0.15), (8, 0.2)],
        median_h: 1.0,
        sigma: 1.0,
        bounds_h: (0.1, 12.0),
        slack_h: 8.0,
    },
    JobClass {
        name: "finetune",
        share: 0.35,
        sizes: &[(8, 0.4), (16, 0.3), (32, 0.2), (64, 0.1)],
        median_h: 6.0,
        sigma: 0.6,
        bounds_h: (1.0, 36.0),
        slack_h: 24.0,
    },
    JobClass {
        name: "pretrain",
        share: 0.10,
        sizes: &[(128, 0.4), (256, 0.4), (512, 0.2)],
        median_h: 24.0,
        sigma: 0.4,
        bounds_h: (8.0, 72.0),
        slack_h: 48.0,
    },
];

/// Batch jobs submitted per hour on average.
pub const JOBS_PER_HOUR: f64 = 18.0;

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, f64)]) -> T {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.random::<f64>() * total;
    for (v, w) in items {
        if x < *w {
            return *v;
        }
        x -= w;
    }
    items[items.len() - 1].0
}

/// Weather of one site over the calendar year of `start`, sliced to the horizon, plus the
/// annual means used for the grid's renewable share.
struct SiteWeather {
    temperature: Vec<f64>,
    solar: Vec<f64>,
    wind: Vec<f64>,
    solar_mean: f64,
    wind_mean: f64,
}

fn site_weather(
    h: &HubSpec,
    p: &Province,
    start: DateTime<Utc>,
    hours: usize,
    seed: u64,
) -> SiteWeather {
    let year_start = Utc
        .with_ymd_and_hms(start.year(), 1, 1, 0, 0, 0)
        .single()
        .expect("valid date");
    let offset = (start - year_start).num_hours().max(0) as usize;
    let total = (offset + hours).max(8_760);
    let temps = h.climate.hourly(year_start, total, seed);
    let solar_site = SolarSite {
        latitude: h.latitude,
        longitude: h.longitude,
        annual_ghi_kwh_m2: h.annual_ghi_kwh_m2,
        system: PvSystem::at_latitude(h.latitude),
    };
    let solar = solar::hourly_output(&solar_site, year_start, total, &h.climate, seed);
    let wind_site = wind::continental(CST_OFFSET_H).calibrated(p.wind_cf());
    let wind = wind_site.hourly_output(year_start, total, seed ^ 0x77);
    let mean = |v: &[f64]| v[..8_760].iter().sum::<f64>() / 8_760.0;
    SiteWeather {
        solar_mean: mean(&solar),
        wind_mean: mean(&wind),
        temperature: temps[offset..offset + hours].to_vec(),
        solar: solar[offset..offset + hours].to_vec(),
        wind: wind[offset..offset + hours].to_vec(),
    }
}

/// The default scenario over `days` days (at least 1) of hourly slots from
/// [`default_start`], deterministic for `seed`.
pub fn default_scenario(days: u32, seed: u64) -> Scenario {
    let days = days.max(1);
    let start = default_start();
    let hours = days as usize * 24;
    let grid = TimeGrid {
        start,
        slot_minutes: 60,
        slots: hours,
    };
    // Local (CST) hour of slot `t`.
    let local_hour = |t: usize| (t + start.hour() as usize + CST_OFFSET_H as usize) % 24;
    let mut sites = Vec::with_capacity(HUBS.len());
    for (i, h) in HUBS.iter().enumerate() {
        let p = province(h.province).expect("every hub's province is in the table");
        let site_seed = seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
        let w = site_weather(h, p, start, hours, site_seed);
        let acc = accelerators(h.gpus);
        let full_it_kw = acc.idle_it_kw() + acc.dynamic_range_kw();
        let pue_model = pue_model(h);
        let carbon: Vec<f64> = p
            .carbon_series(&w.solar, &w.wind, w.solar_mean, w.wind_mean)
            .into_iter()
            .map(|c| round_to(c, 1))
            .collect();
        let price: Vec<f64> = (0..hours)
            .map(|t| p.tou.price_at_local_hour(local_hour(t)))
            .collect();
        let mut green = vec![];
        if h.wind_per_it > 0.0 {
            green.push(GreenPlant {
                name: format!("{}-wind", h.name),
                kind: GreenKind::Wind,
                capacity_kw: (h.wind_per_it * full_it_kw).round(),
                capacity_factor: w.wind.iter().map(|v| round_to(*v, 4)).collect(),
            });
        }
        if h.solar_per_it > 0.0 {
            green.push(GreenPlant {
                name: format!("{}-pv", h.name),
                kind: GreenKind::Solar,
                capacity_kw: (h.solar_per_it * full_it_kw).round(),
                capacity_factor: w.solar.iter().map(|v| round_to(*v, 4)).collect(),
            });
        }
        let battery = (h.battery_per_it > 0.0).then(|| {
            let power_kw = (h.battery_per_it * full_it_kw).round();
            Battery {
                capacity_kwh: power_kw * h.battery_hours,
                power_kw,
                round_trip_efficiency: 0.88,
                soc_min: 0.1,
                soc_max: 0.95,
                soc_initial: 0.5,
                wear_cost_per_kwh: None,
            }
        });
        sites.push(Site {
            name: h.name.into(),
            region: p.name.into(),
            latitude: h.latitude,
            longitude: h.longitude,
            grid: GridConnection {
                import_limit_kw: (full_it_kw * pue_model.max * 1.05).round(),
                export_limit_kw: 0.0,
                feed_in_price_per_mwh: vec![0.0; price.len()],
                price_per_mwh: price,
                carbon_g_per_kwh: carbon,
                residual_mix_g_co2_per_kwh: None,
                green_certificates_kwh: 0.0,
            },
            accelerators: acc,
            pue: pue_model.to_pue(w.temperature.iter().map(|v| round_to(*v, 1)).collect()),
            green,
            battery,
            thermal: None,
        });
    }
    let index = |name: &str| {
        sites
            .iter()
            .position(|s| s.name == name)
            .expect("a hub name")
    };

    // Inference from the eastern user regions.
    let inference = USER_REGIONS
        .iter()
        .map(|(region, peak, eligible)| InferenceDemand {
            region: (*region).into(),
            tokens_per_s: (0..hours)
                .map(|t| (peak * INFERENCE_DAILY_SHAPE[local_hour(t)]).round())
                .collect(),
            sites: eligible.iter().map(|n| index(n)).collect(),
            joules_per_token: vec![JOULES_PER_TOKEN; eligible.len()],
        })
        .collect();

    let jobs = batch_jobs(&grid, &sites, seed);

    Scenario {
        name: format!(
            "default: East Data, West Computing, 8 national hubs, {days} days from 2024-04-08 (CST), seed {seed}"
        ),
        grid,
        sites,
        jobs,
        inference,
        economics: Economics {
            currency: "CNY".into(),
            carbon_price_per_t: 90.0,
            carbon_price_basis: CarbonBasis::Location,
            value_per_million_tokens: 1.25,
            transfer_cost_per_gb: DEFAULT_TRANSFER_COST_PER_GB,
            over_limit_per_kwh: None,
        },
        dispatch: DispatchRule::default(),
        demand_response: vec![],
    }
}

/// The batch jobs of the default scenario over `grid`: arrivals weighted to working hours,
/// classes by their share, run times log-normal, homes and allowed sites by class.
fn batch_jobs(grid: &TimeGrid, sites: &[Site], seed: u64) -> Vec<Job> {
    let start = grid.start;
    let index = |name: &str| {
        sites
            .iter()
            .position(|s| s.name == name)
            .expect("a hub name")
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0b5e_55ed);
    let east: Vec<(SiteId, f64)> = ["zhangjiakou", "wuhu", "shaoguan", "tianfu"]
        .iter()
        .zip([0.35, 0.35, 0.15, 0.15])
        .map(|(n, w)| (index(n), w))
        .collect();
    let west: Vec<(SiteId, f64)> = ["helinger", "qingyang", "zhongwei", "guian"]
        .iter()
        .zip([0.4, 0.2, 0.2, 0.2])
        .map(|(n, w)| (index(n), w))
        .collect();
    let northwest: Vec<SiteId> = ["helinger", "qingyang", "zhongwei", "guian"]
        .iter()
        .map(|n| index(n))
        .collect();
    let all: Vec<SiteId> = (0..sites.len()).collect();
    let horizon_h = grid.horizon_h();
    let n_jobs = (JOBS_PER_HOUR * horizon_h).round() as usize;
    let mut arrivals: Vec<f64> = Vec::with_capacity(n_jobs);
    // More submissions in working hours (09-18 local): accept with weight 1 there, 0.5 else.
    while arrivals.len() < n_jobs {
        let a = rng.random::<f64>() * horizon_h * 0.95;
        let local = (a + f64::from(start.hour()) + CST_OFFSET_H).rem_euclid(24.0);
        let weight = if (9.0..18.0).contains(&local) {
            1.0
        } else {
            0.5
        };
        if rng.random::<f64>() < weight {
            arrivals.push(round_to(a, 2));
        }
    }
    arrivals.sort_by(f64::total_cmp);
    let class_weights: Vec<(usize, f64)> = CLASSES
        .iter()
        .enumerate()
        .map(|(i, c)| (i, c.share))
        .collect();
    let mut jobs = Vec::with_capacity(n_jobs);
    for (i, arrival_h) in arrivals.into_iter().enumerate() {
        let c = &CLASSES[pick(&mut rng, &class_weights)];
        let accelerators = pick(&mut rng, c.sizes);
        let runtime_h = round_to(
            LogNormal::new(c.median_h.ln(), c.sigma)
                .expect("valid log-normal")
                .sample(&mut rng)
                .clamp(c.bounds_h.0, c.bounds_h.1),
            2,
        );
        let (home_site, allowed_sites) = match c.name {
            "pretrain" => (pick(&mut rng, &west), northwest.clone()),
            "finetune" => {
                let home = pick(&mut rng, &east);
                if rng.random::<f64>() < 0.7 {
                    (home, all.clone())
                } else {
                    (home, vec![home])
                }
            }
            _ => {
                let home = if rng.random::<f64>() < 0.8 {
                    pick(&mut rng, &east)
                } else {
                    pick(&mut rng, &west)
                };
                if rng.random::<f64>() < 0.6 {
                    (home, all.clone())
                } else {
                    (home, vec![home])
                }
            }
        };
        jobs.push(Job {
            id: format!("{}-{i:05}", c.name),
            arrival_h,
            accelerators,
            runtime_h,
            deadline_h: arrival_h + runtime_h + c.slack_h,
            interruptible: true,
            migratable: c.name != "eval",
            allowed_sites,
            home_site,
            checkpoint_gb: DEFAULT_CHECKPOINT_GB_PER_ACCELERATOR * f64::from(accelerators),
            flex_tier: None,
        });
    }

    jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each hub's PUE over a whole year of its own modelled weather (seasons, days and
    /// anomalies) stays within its hub's annual limit: below 1.2 in the west, 1.25 in the east.
    #[test]
    fn every_hub_meets_its_pue_limit() {
        let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        for h in HUBS {
            let model = pue_model(h);
            let temps = h.climate.hourly(start, 8_784, 7);
            let mean = temps.iter().map(|t| model.at(*t)).sum::<f64>() / temps.len() as f64;
            println!("{}: annual PUE {mean:.3} (limit {})", h.name, pue_limit(h));
            assert!(mean < pue_limit(h), "{}: annual PUE {mean:.3}", h.name);
            // And not trivially: the summer does cost cooling.
            assert!(temps.iter().map(|t| model.at(*t)).fold(0.0, f64::max) > model.base() + 0.02);
        }
    }

    #[test]
    fn default_scenario_is_valid_and_deterministic() {
        let a = default_scenario(2, 7);
        a.validate().unwrap();
        assert_eq!(a.sites.len(), 8);
        assert_eq!(a.grid.slots, 48);
        assert_eq!(a, default_scenario(2, 7));
        assert_ne!(a, default_scenario(2, 8));
        // Only the western hubs have direct green supply and batteries.
        for (s, h) in a.sites.iter().zip(HUBS) {
            assert_eq!(!s.green.is_empty(), h.west, "{}", s.name);
            assert_eq!(s.battery.is_some(), h.west, "{}", s.name);
        }
    }
}
