//! The self-contained HTML report (`suandian simulate --report`, `suandian report`).
//!
//! Two steps, so that a run can be saved and reported later:
//! - [`data`] turns the results into one JSON document: the `--json` document of
//!   [`crate::output::json`] (same keys) plus a `report` object with what the charts need
//!   (per-site power flows and signals, busy accelerators, the largest jobs' runs, delay
//!   histograms, the scenario's parameters). Long runs are averaged into at most
//!   [`MAX_POINTS`] time points, so the page stays small.
//! - [`html`] renders that document into one HTML file with ECharts (vendored in
//!   `assets/echarts.min.js`, see `assets/README.md`), the page script and the data inlined:
//!   it opens without a network.
//!
//! Sections are described in `docs/report.md`.

use crate::output;
use crate::scenario::LoadedScenario;
use serde_json::{json, Value};
use std::fmt::Write as _;
use suandian_core::compare::Headline;
use suandian_core::metrics::Metrics;
use suandian_core::model::{GreenKind, Pue, Scenario};
use suandian_core::policy::{ORACLE, REFERENCE};
use suandian_core::sim::{RunResult, SimConfig};

const ECHARTS_JS: &str = include_str!("../assets/echarts.min.js");
const REPORT_JS: &str = include_str!("../assets/report.js");
const REPORT_CSS: &str = include_str!("../assets/report.css");

/// Most time points per chart series: longer runs are averaged into buckets of whole slots.
pub const MAX_POINTS: usize = 720;
/// Numbers of per-site series (all policies) the page may hold before buckets grow further.
const SERIES_BUDGET: usize = 600_000;
/// Jobs drawn as Gantt bars: the largest by accelerator-hours.
pub const GANTT_JOBS: usize = 40;
/// Upper edges of the delay histogram's bins, hours (a last bin takes the rest).
const DELAY_EDGES_H: [f64; 9] = [0.01, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 24.0, 48.0];
/// Names of the delay bins: one per edge, then the rest, then jobs not done.
const DELAY_LABELS: [&str; 11] = [
    "none", "0-0.5 h", "0.5-1 h", "1-2 h", "2-4 h", "4-8 h", "8-16 h", "16-24 h", "24-48 h",
    "> 48 h", "not done",
];

fn round(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    let r = (x * f).round() / f;
    if r == 0.0 {
        0.0 // no "-0"
    } else {
        r
    }
}

/// Slots per time point for `slots` slots, `runs` policies and `sites` sites.
fn bucket_size(slots: usize, runs: usize, sites: usize) -> usize {
    // Ten series per policy and site.
    let budget = (SERIES_BUDGET / (10 * runs.max(1) * sites.max(1))).clamp(48, MAX_POINTS);
    slots.div_ceil(budget).max(1)
}

/// The format of a saved run (`run_format` in it): `suandian report` reads this one only.
pub const RUN_FORMAT: u64 = 1;

/// What `suandian report` relies on in a saved run, typed: reading a document into it checks
/// the schema, and [`check_run`] the relations between its parts. Fields the report does not
/// read are not listed (a newer writer may add some).
// Some fields are only read to check their type.
#[allow(dead_code)]
mod saved {
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Deserialize)]
    pub struct Run {
        pub run_format: u64,
        pub currency: String,
        pub suandian_version: String,
        pub scenario: Scenario,
        pub policies: Vec<Policy>,
        pub report: Report,
    }

    #[derive(Deserialize)]
    pub struct Scenario {
        pub name: String,
        pub source: String,
        pub slots: u64,
        pub slot_minutes: u64,
    }

    #[derive(Deserialize)]
    pub struct Policy {
        pub name: String,
        /// `null` only where a figure does not exist (a capture without an oracle).
        pub metrics: BTreeMap<String, Option<f64>>,
    }

    #[derive(Deserialize)]
    pub struct Report {
        pub start_utc: String,
        pub labels: Vec<String>,
        pub sites: Vec<Site>,
        pub runs: Vec<RunSeries>,
        pub gantt_jobs: Vec<GanttJob>,
        pub delay_bins: Vec<String>,
        pub params: Params,
    }

    #[derive(Deserialize)]
    pub struct Site {
        pub name: String,
        pub region: String,
        pub lat: f64,
        pub lon: f64,
        pub accelerators: u64,
        pub battery_mwh: Option<f64>,
        pub carbon: Vec<f64>,
        pub price: Vec<f64>,
        pub green_available: Vec<f64>,
    }

    #[derive(Deserialize)]
    pub struct RunSeries {
        pub name: String,
        pub sites: Vec<SiteSeries>,
        pub gantt: Vec<[f64; 4]>,
        pub delays: Vec<f64>,
    }

    #[derive(Deserialize)]
    pub struct SiteSeries {
        pub green: Vec<f64>,
        pub battery: Vec<f64>,
        pub grid: Vec<f64>,
        pub thermal: Vec<f64>,
        pub load: Vec<f64>,
        pub charge: Vec<f64>,
        pub curtail: Vec<f64>,
        pub soc: Vec<f64>,
        pub busy: Vec<f64>,
    }

    #[derive(Deserialize)]
    pub struct GanttJob {
        pub id: String,
        pub accelerators: u64,
        pub arrival_h: f64,
        pub runtime_h: f64,
        pub deadline_h: Option<f64>,
        pub home: u64,
    }

    #[derive(Deserialize)]
    pub struct Params {
        pub general: Vec<[String; 2]>,
        pub sites: Vec<BTreeMap<String, String>>,
    }
}

/// Metrics that may be `null` in a saved run.
const NULLABLE_METRICS: [&str; 1] = ["oracle_capture"];

/// Check a document read back from a file written by `suandian simulate --save-run` against
/// the saved-run schema ([`RUN_FORMAT`]) before a page is made from it: a wrong type, a missing
/// part, an empty list of runs or series of the wrong length is an error naming the field
/// (such a page once stopped drawing half-way).
pub fn check_run(doc: &Value) -> Result<(), String> {
    match doc.get("run_format").and_then(Value::as_u64) {
        Some(RUN_FORMAT) => {}
        Some(v) => {
            return Err(format!(
                "run_format: found {v}, expected {RUN_FORMAT} (saved by another version of suandian; save the run again with this one)"
            ))
        }
        None => {
            return Err(format!(
                "run_format: found none, expected {RUN_FORMAT}: not a run saved by `suandian simulate --save-run` (the `--json` output lacks the timelines), or saved by an older suandian"
            ))
        }
    }
    let run: saved::Run = serde_path_to_error::deserialize(doc)
        .map_err(|e| format!("{}: {}", e.path(), e.inner()))?;
    let r = &run.report;
    if run.policies.is_empty() {
        return Err("policies: found none, expected at least one policy's results".into());
    }
    if r.runs.len() != run.policies.len() {
        return Err(format!(
            "report.runs: found {} runs, expected one per policy ({})",
            r.runs.len(),
            run.policies.len()
        ));
    }
    let points = r.labels.len();
    if points == 0 {
        return Err("report.labels: found none, expected one label per point of the charts".into());
    }
    for (i, p) in run.policies.iter().enumerate() {
        if r.runs[i].name != p.name {
            return Err(format!(
                "report.runs[{i}].name: found {:?}, expected {:?} (policies[{i}].name)",
                r.runs[i].name, p.name
            ));
        }
        for (k, v) in &p.metrics {
            match v {
                Some(x) if !x.is_finite() => {
                    return Err(format!(
                        "policies[{i}].metrics.{k}: found {x}, expected a finite number"
                    ))
                }
                None if !NULLABLE_METRICS.contains(&k.as_str()) => {
                    return Err(format!(
                        "policies[{i}].metrics.{k}: found null, expected a number"
                    ))
                }
                _ => {}
            }
        }
    }
    let length = |field: String, v: &[f64]| {
        if v.len() == points {
            Ok(())
        } else {
            Err(format!(
                "{field}: found {} values, expected {points} (one per label)",
                v.len()
            ))
        }
    };
    for (s, site) in r.sites.iter().enumerate() {
        length(format!("report.sites[{s}].carbon"), &site.carbon)?;
        length(format!("report.sites[{s}].price"), &site.price)?;
        length(
            format!("report.sites[{s}].green_available"),
            &site.green_available,
        )?;
    }
    for (i, run) in r.runs.iter().enumerate() {
        if run.sites.len() != r.sites.len() {
            return Err(format!(
                "report.runs[{i}].sites: found {} sites, expected {} (report.sites)",
                run.sites.len(),
                r.sites.len()
            ));
        }
        for (s, x) in run.sites.iter().enumerate() {
            let p = |k: &str| format!("report.runs[{i}].sites[{s}].{k}");
            for (k, v) in [
                ("green", &x.green),
                ("battery", &x.battery),
                ("grid", &x.grid),
                ("thermal", &x.thermal),
                ("load", &x.load),
                ("charge", &x.charge),
                ("curtail", &x.curtail),
                ("soc", &x.soc),
                ("busy", &x.busy),
            ] {
                length(p(k), v)?;
            }
        }
        for (b, bar) in run.gantt.iter().enumerate() {
            let (job, site) = (bar[0], bar[1]);
            if !(job >= 0.0
                && (job as usize) < r.gantt_jobs.len()
                && site >= 0.0
                && (site as usize) < r.sites.len())
            {
                return Err(format!(
                    "report.runs[{i}].gantt[{b}]: found job {job} at site {site}, expected a job of report.gantt_jobs at a site of report.sites"
                ));
            }
        }
        if run.delays.len() != r.delay_bins.len() {
            return Err(format!(
                "report.runs[{i}].delays: found {} bins, expected {} (report.delay_bins)",
                run.delays.len(),
                r.delay_bins.len()
            ));
        }
    }
    Ok(())
}

/// The run as one JSON document: `output::json`'s keys plus `report` (what the charts need).
/// `results` must have been simulated with `SimConfig::record_timeline`.
pub fn data(loaded: &LoadedScenario, cfg: &SimConfig, results: &[RunResult]) -> Value {
    let sc = &loaded.scenario;
    let mut doc = output::json(loaded, cfg, results);
    let n_sites = sc.sites.len();
    let slots = sc.grid.slots;
    let bucket = bucket_size(slots, results.len(), n_sites);
    let points = slots.div_ceil(bucket);
    let dt = sc.grid.slot_h();

    // Average of a per-(slot, site) quantity over each bucket.
    let bucketed = |vals: &[f64], decimals: i32| -> Vec<f64> {
        (0..points)
            .map(|p| {
                let lo = p * bucket;
                let hi = (lo + bucket).min(slots);
                round(
                    vals[lo..hi].iter().sum::<f64>() / (hi - lo) as f64,
                    decimals,
                )
            })
            .collect()
    };
    let labels: Vec<String> = (0..points)
        .map(|p| {
            sc.grid
                .slot_time(p * bucket)
                .format("%m-%d %H:%M")
                .to_string()
        })
        .collect();

    let sites: Vec<Value> = sc
        .sites
        .iter()
        .enumerate()
        .map(|(s, site)| {
            json!({
                "name": site.name,
                "region": site.region,
                "lat": site.latitude,
                "lon": site.longitude,
                "accelerators": site.accelerators.count,
                "battery_mwh": site.battery.as_ref().map(|b| round(b.capacity_kwh / 1000.0, 3)),
                "carbon": bucketed(&site.grid.carbon_g_per_kwh, 1),
                "price": bucketed(&site.grid.price_per_mwh, 1),
                "green_available": bucketed(&(0..slots).map(|t| site.green_kw(t) / 1000.0).collect::<Vec<_>>(), 3),
                "index": s,
            })
        })
        .collect();

    // Per policy: per-site series, busy share, fleet curtailment, Gantt bars, delays.
    let gantt_jobs = largest_jobs(sc, GANTT_JOBS);
    let runs: Vec<Value> = results
        .iter()
        .map(|r| {
            let mut per_site: Vec<[Vec<f64>; 9]> = (0..n_sites)
                .map(|_| std::array::from_fn(|_| vec![0.0; slots]))
                .collect();
            for row in &r.timeline {
                let f = &row.flows;
                let v = &mut per_site[row.site];
                let t = row.slot;
                v[0][t] = f.green_to_load_kw / 1000.0;
                v[1][t] = f.discharge_kw / 1000.0;
                v[2][t] = f.import_kw / 1000.0;
                v[3][t] = f.thermal_kw / 1000.0;
                v[4][t] = f.facility_kw / 1000.0;
                v[5][t] = f.charge_kw / 1000.0;
                v[6][t] = f.curtail_kw / 1000.0;
                v[7][t] = f.soc_kwh / 1000.0;
                v[8][t] =
                    row.busy_accelerators / f64::from(sc.sites[row.site].accelerators.count.max(1));
            }
            let site_series: Vec<Value> = per_site
                .iter()
                .map(|v| {
                    json!({
                        "green": bucketed(&v[0], 3),
                        "battery": bucketed(&v[1], 3),
                        "grid": bucketed(&v[2], 3),
                        "thermal": bucketed(&v[3], 3),
                        "load": bucketed(&v[4], 3),
                        "charge": bucketed(&v[5], 3),
                        "curtail": bucketed(&v[6], 3),
                        "soc": bucketed(&v[7], 3),
                        "busy": bucketed(&v[8], 3),
                    })
                })
                .collect();
            json!({
                "name": r.policy,
                "sites": site_series,
                "gantt": gantt_bars(r, &gantt_jobs),
                "delays": delay_histogram(sc, r),
            })
        })
        .collect();

    doc["run_format"] = json!(RUN_FORMAT);
    doc["report"] = json!({
        "start_utc": sc.grid.start.format("%Y-%m-%d %H:%M").to_string(),
        "start_ms": sc.grid.start.timestamp_millis(),
        "slot_minutes": sc.grid.slot_minutes,
        "bucket_slots": bucket,
        "point_hours": dt * bucket as f64,
        "horizon_h": sc.grid.horizon_h(),
        "labels": labels,
        "sites": sites,
        "runs": runs,
        "gantt_jobs": gantt_jobs.iter().map(|&j| {
            let job = &sc.jobs[j];
            json!({
                "id": job.id,
                "accelerators": job.accelerators,
                "arrival_h": round(job.arrival_h, 3),
                "runtime_h": round(job.runtime_h, 3),
                "deadline_h": job.deadline_h.is_finite().then(|| round(job.deadline_h, 3)),
                "home": job.home_site,
            })
        }).collect::<Vec<_>>(),
        "delay_bins": DELAY_LABELS,
        // The model has no demand-response events; the charts shade any listed here.
        "demand_response": Vec::<Value>::new(),
        "params": params(loaded, cfg),
    });
    doc
}

/// Indices of the `n` jobs with the most accelerator-hours, in arrival order.
fn largest_jobs(sc: &Scenario, n: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..sc.jobs.len()).collect();
    idx.sort_by(|&a, &b| {
        sc.jobs[b]
            .work_acc_h()
            .total_cmp(&sc.jobs[a].work_acc_h())
            .then(a.cmp(&b))
    });
    idx.truncate(n);
    idx.sort_unstable();
    idx
}

/// The runs of the chosen jobs as `[row, site, from_h, to_h]`, contiguous runs merged.
fn gantt_bars(r: &RunResult, jobs: &[usize]) -> Vec<[f64; 4]> {
    let mut bars: Vec<[f64; 4]> = Vec::new();
    let mut segs: Vec<_> = r
        .segments
        .iter()
        .filter_map(|s| jobs.binary_search(&s.job).ok().map(|row| (row, s)))
        .collect();
    segs.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.from_h.total_cmp(&b.1.from_h)));
    for (row, s) in segs {
        if let Some(last) = bars.last_mut() {
            if last[0] == row as f64 && last[1] == s.site as f64 && s.from_h - last[3] < 1e-6 {
                last[3] = s.to_h;
                continue;
            }
        }
        bars.push([row as f64, s.site as f64, s.from_h, s.to_h]);
    }
    for b in &mut bars {
        b[2] = round(b[2], 3);
        b[3] = round(b[3], 3);
    }
    bars
}

/// Jobs per delay bin (completion - arrival - runtime), then those not done by the end.
fn delay_histogram(sc: &Scenario, r: &RunResult) -> Vec<usize> {
    let mut h = vec![0usize; DELAY_EDGES_H.len() + 2];
    for o in &r.jobs {
        let k = match o.completed_h {
            None => DELAY_EDGES_H.len() + 1,
            Some(c) => {
                let d = (c - o.arrival_h - o.runtime_h).max(0.0);
                DELAY_EDGES_H
                    .iter()
                    .position(|&e| d < e)
                    .unwrap_or(DELAY_EDGES_H.len())
            }
        };
        h[k] += 1;
    }
    debug_assert_eq!(h.iter().sum::<usize>(), sc.jobs.len());
    h
}

/// The scenario's parameters as rows for the parameter tables, with where they come from.
fn params(loaded: &LoadedScenario, cfg: &SimConfig) -> Value {
    json!({
        "general": general_params(loaded, cfg).into_iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        "sites": site_params(&loaded.scenario),
    })
}

/// One row per site: accelerators, PUE, grid, green supply, battery, thermal backup.
fn site_params(sc: &Scenario) -> Vec<Value> {
    let n = sc.grid.slots as f64;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / n;
    sc
        .sites
        .iter()
        .map(|s| {
            let a = &s.accelerators;
            let green: Vec<String> = s
                .green
                .iter()
                .map(|g| {
                    let kind = match g.kind {
                        GreenKind::Solar => "solar",
                        GreenKind::Wind => "wind",
                        GreenKind::Other => "other",
                    };
                    format!("{kind} {:.0} kW", g.capacity_kw)
                })
                .collect();
            let pue = match &s.pue {
                Pue::Constant { value } => format!("{value:.2}"),
                Pue::Temperature {
                    base,
                    threshold_c,
                    per_degree,
                    max,
                    ..
                } => format!(
                    "{base:.2} + {per_degree:.3}/°C above {threshold_c:.0} °C, ≤ {max:.2} (mean {:.3})",
                    (0..sc.grid.slots).map(|t| s.pue.at(t)).sum::<f64>() / n
                ),
            };
            json!({
                "site": s.name,
                "region": s.region,
                "location": format!("{:.2}° N, {:.2}° E", s.latitude, s.longitude),
                "accelerators": format!("{} × {} ({:.0}-{:.0} W)", a.count, a.model, a.idle_w, a.peak_w),
                "pue": pue,
                "grid": format!(
                    "import ≤ {:.0} kW, export ≤ {:.0} kW; mean {:.0} g/kWh, mean {:.1} {}/MWh",
                    s.grid.import_limit_kw,
                    s.grid.export_limit_kw,
                    mean(&s.grid.carbon_g_per_kwh),
                    mean(&s.grid.price_per_mwh),
                    sc.economics.currency
                ),
                "green": if green.is_empty() { "none".to_string() } else { green.join(", ") },
                "battery": s.battery.as_ref().map_or("none".to_string(), |b| format!(
                    "{:.0} kWh, {:.0} kW, {:.0} % round trip, SoC {:.0}-{:.0} %",
                    b.capacity_kwh, b.power_kw, b.round_trip_efficiency * 100.0,
                    b.soc_min * 100.0, b.soc_max * 100.0
                )),
                "thermal": s.thermal.as_ref().map_or("none".to_string(), |t| format!(
                    "{:.0} kW, {:.0} g/kWh, {:.3} {}/kWh",
                    t.capacity_kw, t.g_co2_per_kwh, t.cost_per_kwh, sc.economics.currency
                )),
            })
        })
        .collect()
}

/// The run's general parameters as (name, value) rows, with where they come from.
fn general_params(loaded: &LoadedScenario, cfg: &SimConfig) -> Vec<(&'static str, String)> {
    let sc = &loaded.scenario;
    let n = sc.grid.slots as f64;
    let sources = if loaded.source.starts_with("built-in default") {
        "docs/default-scenario.md lists every parameter of the default scenario with its source \
         or marks it as an assumption; signals are modelled, not measured."
            .to_string()
    } else if loaded.source.starts_with("built-in demo") {
        "crates/io/scenarios/demo.toml (an illustrative demo; values are assumptions).".to_string()
    } else {
        format!(
            "the scenario file {} and the series and traces it points to (format: docs/scenario.md).",
            loaded.source
        )
    };
    let work_h: f64 = sc.jobs.iter().map(|j| j.work_acc_h()).sum();
    vec![
        ("scenario", sc.name.clone()),
        ("source", loaded.source.clone()),
        ("sources of the parameters", sources),
        (
            "time",
            format!(
                "{} slots of {} min from {} UTC ({:.1} days)",
                sc.grid.slots,
                sc.grid.slot_minutes,
                sc.grid.start.format("%Y-%m-%d %H:%M"),
                sc.grid.horizon_h() / 24.0
            ),
        ),
        (
            "batch jobs",
            format!("{} ({:.0} accelerator-hours)", sc.jobs.len(), work_h),
        ),
        (
            "inference regions",
            sc.inference
                .iter()
                .map(|d| {
                    format!(
                        "{} (mean {:.0} tokens/s)",
                        d.region,
                        d.tokens_per_s.iter().sum::<f64>() / n
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            "economics",
            format!(
                "currency {}, carbon price {:.0} {}/t ({:?} basis), tokens worth {} {} per million",
                sc.economics.currency,
                sc.economics.carbon_price_per_t,
                sc.economics.currency,
                sc.economics.carbon_price_basis,
                sc.economics.value_per_million_tokens,
                sc.economics.currency
            )
            .replace("Location", "location")
            .replace("Market", "market"),
        ),
        (
            "battery rule",
            format!(
                "discharge when price or carbon is above its trailing {:.0} h mean",
                sc.dispatch.trailing_window_h
            ),
        ),
        ("forecast", cfg.forecast.label()),
        (
            "demand response",
            if sc.demand_response.is_empty() {
                "no events".to_string()
            } else {
                let site_slots: usize = (0..sc.grid.slots)
                    .map(|t| {
                        (0..sc.sites.len())
                            .filter(|&s| sc.dr_cap_kw(s, t).is_some())
                            .count()
                    })
                    .sum();
                format!(
                    "{} events capping grid import over {} site-slots",
                    sc.demand_response.len(),
                    site_slots
                )
            },
        ),
        (
            "migration",
            format!(
                "{:.1} h without progress, {} {} per GB moved",
                sc.dispatch.migration_h, sc.economics.transfer_cost_per_gb, sc.economics.currency
            ),
        ),
    ]
}

/// A string for HTML text and quoted attribute values: every character that could end the
/// text or the attribute is a character reference. Every string from a scenario or a saved run
/// goes through it.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// A value with a sign, or "-".
fn signed(v: Option<f64>, unit: &str, decimals: usize) -> String {
    v.map_or("-".into(), |x| format!("{x:+.decimals$}{unit}"))
}

/// The headline table: savings against `asap` and the share of the oracle's saving.
fn headline(doc: &Value) -> String {
    let policies = doc["policies"].as_array().cloned().unwrap_or_default();
    let metric = |p: &Value, k: &str| num(&p["metrics"][k]);
    // The figures come from the core's one comparison, over the metrics read back.
    let typed = |p: &Value| serde_json::from_value::<Metrics>(p["metrics"].clone()).ok();
    let asap = policies.iter().find(|p| p["name"] == REFERENCE);
    let oracle = policies
        .iter()
        .find(|p| p["name"] == ORACLE)
        .and_then(typed);
    let cur = esc(doc["currency"].as_str().unwrap_or(""));
    let mut out = String::new();
    let Some(asap_m) = asap.and_then(typed) else {
        return "<p>No <code>asap</code> run: savings cannot be shown.</p>".into();
    };
    let share_txt = |s: Option<f64>| {
        s.map_or(String::new(), |s| {
            format!(
                "<span class=\"share\">{:.0} % of the oracle's</span>",
                s * 100.0
            )
        })
    };
    let _ = writeln!(
        out,
        "<table class=\"headline\"><thead><tr><th>policy</th><th>carbon on equal work (Scope 1 + 2, location)</th><th>cost on equal work</th>\
         <th>green share</th><th>curtailment avoided (asap: curtailed)</th><th>objective: share of the oracle's reduction</th></tr></thead><tbody>"
    );
    for p in &policies {
        let name = p["name"].as_str().unwrap_or("?");
        if name == REFERENCE {
            let _ = writeln!(
                out,
                "<tr class=\"base\"><td>asap (reference)</td><td>{:.1} t</td><td>{:.0} {cur}</td><td>{:.1} %</td><td>{:.1} MWh</td><td></td></tr>",
                metric(p, "equal_work_carbon_kg").unwrap_or(0.0) / 1000.0,
                metric(p, "equal_work_cost").unwrap_or(0.0),
                metric(p, "green_share").unwrap_or(0.0) * 100.0,
                metric(p, "curtailed_kwh").unwrap_or(0.0) / 1000.0,
            );
            continue;
        }
        let Some(m) = typed(p) else { continue };
        let h = Headline::between(&asap_m, &m, oracle.as_ref());
        let (dc, sc_) = (
            Some(h.equal_work_carbon_kg.improvement),
            h.equal_work_carbon_kg.oracle_share,
        );
        let (dk, sk) = (
            Some(h.equal_work_cost.improvement),
            h.equal_work_cost.oracle_share,
        );
        let (dg, sg) = (Some(h.green_share.improvement), h.green_share.oracle_share);
        let (da, sa) = (
            Some(h.curtailed_kwh.improvement),
            h.curtailed_kwh.oracle_share,
        );
        let capture = metric(p, "oracle_capture");
        let cls = |d: Option<f64>| {
            if d.unwrap_or(0.0) > 0.0 {
                "good"
            } else if d.unwrap_or(0.0) < 0.0 {
                "bad"
            } else {
                ""
            }
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"{}\">{} ({} t){}</td><td class=\"{}\">{} ({} {cur}){}</td>\
             <td class=\"{}\">{}{}</td><td class=\"{}\">{}{}</td><td>{}</td></tr>",
            esc(name),
            cls(dc),
            signed(h.equal_work_carbon_kg.pct, " %", 1),
            signed(dc.map(|d| d / 1000.0), "", 1),
            share_txt(sc_),
            cls(dk),
            signed(h.equal_work_cost.pct, " %", 1),
            signed(dk, "", 0),
            share_txt(sk),
            cls(dg),
            signed(dg.map(|d| d * 100.0), " points", 1),
            share_txt(sg),
            cls(da),
            signed(da.map(|d| d / 1000.0), " MWh", 1),
            share_txt(sa),
            match (name, capture) {
                (ORACLE, _) => "the bound (100 %)".to_string(),
                (_, Some(c)) => format!("<b>{:.0} %</b>", c * 100.0),
                _ => "- (run the oracle)".to_string(),
            }
        );
    }
    out.push_str("</tbody></table>\n");
    out.push_str(
        "<p class=\"note\">Savings are against <code>asap</code> (positive = better), on equal work: \
         the work a policy left undone at the end is charged what an accelerator-hour takes on average \
         over the fleet and the run (the same rate for every policy), so that doing less is no saving. \
         The oracle minimises one objective (cost + carbon price × emissions + penalties for late \
         work and unserved inference) with the whole future known: its objective is a bound, \
         but a single metric of another policy may beat the oracle's (a share above 100 %).</p>\n",
    );
    out
}

/// `x` rounded to an integer with thousands separators.
fn grouped(x: f64) -> String {
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if x < 0.0 && digits != "0" {
        out.insert(0, '-');
    }
    out
}

/// Every metric of every policy, one row per metric.
fn metrics_table(doc: &Value) -> String {
    let policies = doc["policies"].as_array().cloned().unwrap_or_default();
    let mut out = String::from("<table class=\"metrics\"><thead><tr><th>metric</th>");
    for p in &policies {
        let _ = write!(out, "<th>{}</th>", esc(p["name"].as_str().unwrap_or("?")));
    }
    out.push_str("</tr></thead><tbody>\n");
    let keys: Vec<String> = policies
        .first()
        .and_then(|p| p["metrics"].as_object())
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    for k in keys {
        let _ = write!(out, "<tr><td>{}</td>", esc(&k));
        for p in &policies {
            let v = &p["metrics"][&k];
            let cell = match v {
                Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
                Value::Number(n) => {
                    let x = n.as_f64().unwrap_or(0.0);
                    if x.abs() >= 1e9 {
                        format!("{x:.4e}")
                    } else if x.abs() >= 1e4 {
                        grouped(x)
                    } else if x.abs() >= 100.0 {
                        format!("{x:.1}")
                    } else {
                        format!("{x:.4}")
                    }
                }
                Value::Null => "-".into(),
                other => esc(&other.to_string()),
            };
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
    out
}

fn params_tables(report: &Value) -> String {
    let p = &report["params"];
    let mut out = String::from("<table class=\"params\"><tbody>\n");
    for row in p["general"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "<tr><th>{}</th><td>{}</td></tr>",
            esc(row[0].as_str().unwrap_or("")),
            esc(row[1].as_str().unwrap_or(""))
        );
    }
    out.push_str("</tbody></table>\n");
    let cols = [
        "site",
        "region",
        "location",
        "accelerators",
        "pue",
        "grid",
        "green",
        "battery",
        "thermal",
    ];
    out.push_str("<table class=\"params sites\"><thead><tr>");
    for c in cols {
        let _ = write!(out, "<th>{c}</th>");
    }
    out.push_str("</tr></thead><tbody>\n");
    for s in p["sites"].as_array().into_iter().flatten() {
        out.push_str("<tr>");
        for c in cols {
            let _ = write!(out, "<td>{}</td>", esc(s[c].as_str().unwrap_or("")));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
    out
}

/// The self-contained HTML page for a document made by [`data`] (or read back from a file
/// written by `suandian simulate --save-run`). Fails if the document has no `report` object.
pub fn html(doc: &Value) -> Result<String, String> {
    let report = doc
        .get("report")
        .filter(|r| r.is_object())
        .ok_or("no `report` object: save the run with `suandian simulate --save-run FILE`")?;
    let title = format!(
        "suandian report: {}",
        doc["scenario"]["name"].as_str().unwrap_or("run")
    );
    let policies: Vec<&str> = doc["policies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str())
        .collect();
    // The data travels as JSON in a script element: no `<` may end it or open a comment, so
    // `<`, `>` and `&` (only ever inside JSON strings) travel as \u escapes.
    let data = serde_json::to_string(doc)
        .map_err(|e| e.to_string())?
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    let mut out = String::with_capacity(ECHARTS_JS.len() + data.len() + 64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{REPORT_CSS}</style>\n\
         <script>window.__errors=[];window.addEventListener('error',function(e){{window.__errors.push(String(e.message||e));}});\
         (function(){{var ce=console.error;console.error=function(){{window.__errors.push(Array.prototype.join.call(arguments,' '));ce.apply(console,arguments);}};}})();</script>\n\
         </head><body>\n",
        esc(&title)
    );
    let _ = writeln!(
        out,
        "<header><h1>{}</h1><p class=\"sub\">{} · {} slots of {} min from {} UTC · forecast: {} · suandian {}</p></header>",
        esc(doc["scenario"]["name"].as_str().unwrap_or("")),
        esc(doc["scenario"]["source"].as_str().unwrap_or("")),
        doc["scenario"]["slots"].as_u64().unwrap_or(0),
        doc["scenario"]["slot_minutes"].as_u64().unwrap_or(0),
        esc(report["start_utc"].as_str().unwrap_or("")),
        esc(&forecast_label(&doc["forecast"])),
        esc(doc["suandian_version"].as_str().unwrap_or("")),
    );
    out.push_str("<nav><a href=\"#headline\">headline</a><a href=\"#fleet\">fleet</a><a href=\"#sites\">sites</a><a href=\"#jobs\">jobs</a><a href=\"#storage\">battery &amp; curtailment</a><a href=\"#metrics\">metrics</a><a href=\"#params\">parameters</a>");
    out.push_str("<label>policy shown <select id=\"policy\">");
    let default = ["coordinated", "greenest-site", "carbon-wait"]
        .into_iter()
        .find(|d| policies.contains(d))
        .or(policies.last().copied())
        .unwrap_or("");
    for p in &policies {
        let _ = write!(
            out,
            "<option value=\"{0}\"{1}>{0}</option>",
            esc(p),
            if *p == default { " selected" } else { "" }
        );
    }
    out.push_str("</select></label></nav>\n<main>\n");
    let _ = writeln!(
        out,
        "<section id=\"headline\"><h2>Headline: savings against asap</h2>{}\
         <div class=\"chart\" id=\"c-savings\" style=\"height:300px\"></div></section>",
        headline(doc)
    );
    out.push_str(
        "<section id=\"fleet\"><h2>Fleet</h2><p class=\"note\">Sites at their coordinates: \
         bubble area = mean facility load, colour = direct green share, under the policy shown.</p>\
         <div class=\"row\"><div class=\"chart\" id=\"c-map\" style=\"height:460px\"></div>\
         <div class=\"chart\" id=\"c-fleet-bars\" style=\"height:460px\"></div></div></section>\n",
    );
    out.push_str(
        "<section id=\"sites\"><h2>Power supply per site</h2><p class=\"note\">Stacked: direct green \
         to load, battery discharge, grid import, thermal (MW); line: facility load; right axes: grid \
         carbon intensity (g/kWh) and price. Times in UTC.</p><div id=\"site-charts\"></div></section>\n",
    );
    out.push_str(
        "<section id=\"jobs\"><h2>Where and when the work ran</h2><p class=\"note\">Busy accelerators \
         as a share of each site's fleet, per policy (jobs and inference).</p>\
         <div class=\"chart\" id=\"c-heat\" style=\"height:600px\"></div>\
         <h3>The largest jobs</h3><p class=\"note\">The jobs with the most accelerator-hours under the \
         policy shown, one bar per run, coloured by site; tick: arrival, red tick: deadline.</p>\
         <div class=\"chart\" id=\"c-gantt\" style=\"height:720px\"></div>\
         <h3>Delay distribution</h3><p class=\"note\">Completion − arrival − run time, jobs per bin.</p>\
         <div class=\"chart\" id=\"c-delays\" style=\"height:320px\"></div></section>\n",
    );
    out.push_str(
        "<section id=\"storage\"><h2>Battery and curtailment</h2><p class=\"note\">State of charge \
         of each battery under the policy shown; demand-response windows would be shaded (this \
         scenario has <span id=\"dr-count\">none</span>).</p>\
         <div class=\"chart\" id=\"c-soc\" style=\"height:320px\"></div>\
         <div class=\"row\"><div class=\"chart\" id=\"c-curtail\" style=\"height:320px\"></div>\
         <div class=\"chart\" id=\"c-absorbed\" style=\"height:320px\"></div></div></section>\n",
    );
    let _ = writeln!(
        out,
        "<section id=\"metrics\"><h2>Every metric</h2>{}</section>",
        metrics_table(doc)
    );
    let _ = writeln!(
        out,
        "<section id=\"params\"><h2>Scenario parameters</h2>{}</section>",
        params_tables(report)
    );
    out.push_str("</main>\n<footer><div id=\"render-status\" data-charts=\"0\" data-empty=\"0\" data-errors=\"0\" data-ms=\"\">rendering…</div>\
         <p>Charts: Apache ECharts 5.6.0 (Apache-2.0), inlined. Made by suandian.</p></footer>\n");
    let _ = write!(
        out,
        "<script>{ECHARTS_JS}</script>\n<script id=\"run-data\" type=\"application/json\">{data}</script>\n<script>{REPORT_JS}</script>\n</body></html>\n"
    );
    Ok(out)
}

fn forecast_label(v: &Value) -> String {
    match v["kind"].as_str() {
        Some("noisy") => format!(
            "noisy ({:.0} % error, seed {})",
            v["relative_error"].as_f64().unwrap_or(0.0) * 100.0,
            v["seed"]
        ),
        Some(k) => k.to_string(),
        None => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo_doc() -> Value {
        let loaded = crate::builtin::demo();
        let cfg = SimConfig {
            record_timeline: true,
            ..SimConfig::default()
        };
        let results: Vec<RunResult> = ["asap", "greenest-site"]
            .iter()
            .map(|n| {
                let mut p = suandian_core::policy::by_name(n).unwrap();
                suandian_core::sim::simulate(&loaded.scenario, p.as_mut(), &cfg)
            })
            .collect();
        data(&loaded, &cfg, &results)
    }

    /// Issue 14, item 6: a tampered saved run once gave a page whose script stopped half-way
    /// (5 of 11 charts). Every such document is refused, naming the field.
    #[test]
    fn a_saved_run_is_checked_against_its_schema() {
        let good = demo_doc();
        check_run(&good).unwrap();
        type Tamper = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(&str, Tamper)> = vec![
            (
                "report.runs: found 0 runs",
                Box::new(|d| d["report"]["runs"] = json!([])),
            ),
            (
                "policies[0].metrics.cost",
                Box::new(|d| d["policies"][0]["metrics"]["cost"] = json!("cheap")),
            ),
            (
                "policies[1].metrics.cost: found null",
                Box::new(|d| d["policies"][1]["metrics"]["cost"] = Value::Null),
            ),
            (
                "run_format: found none",
                Box::new(|d| {
                    d.as_object_mut().unwrap().remove("run_format");
                }),
            ),
            (
                "run_format: found 7",
                Box::new(|d| d["run_format"] = json!(7)),
            ),
            (
                "policies: found none",
                Box::new(|d| {
                    d["policies"] = json!([]);
                    d["report"]["runs"] = json!([]);
                }),
            ),
            (
                "report.runs[0].sites[1].grid: found 3 values",
                Box::new(|d| d["report"]["runs"][0]["sites"][1]["grid"] = json!([1, 2, 3])),
            ),
            (
                "report.runs[1].gantt[0]",
                Box::new(|d| d["report"]["runs"][1]["gantt"][0] = json!([999, 0, 0, 1])),
            ),
            (
                "report.sites[0].lat",
                Box::new(|d| d["report"]["sites"][0]["lat"] = json!("north")),
            ),
            (
                "report.runs[1].name",
                Box::new(|d| d["report"]["runs"][1]["name"] = json!("other")),
            ),
        ];
        for (says, tamper) in cases {
            let mut doc = good.clone();
            tamper(&mut doc);
            let e = check_run(&doc).expect_err(says);
            assert!(e.contains(says), "{says}: {e}");
        }
    }

    #[test]
    fn report_data_keeps_the_json_keys_and_has_every_series() {
        let doc = demo_doc();
        assert_eq!(doc["policies"][0]["name"], "asap");
        assert!(doc["policies"][1]["metrics"]["carbon_location_kg"].is_number());
        let r = &doc["report"];
        let points = r["labels"].as_array().unwrap().len();
        assert_eq!(points, doc["scenario"]["slots"].as_u64().unwrap() as usize);
        for run in r["runs"].as_array().unwrap() {
            for s in run["sites"].as_array().unwrap() {
                for k in ["green", "battery", "grid", "thermal", "load", "soc", "busy"] {
                    assert_eq!(s[k].as_array().unwrap().len(), points, "{k}");
                }
            }
            let delays: u64 = run["delays"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .sum();
            assert_eq!(delays, doc["scenario"]["jobs"].as_u64().unwrap());
            assert!(!run["gantt"].as_array().unwrap().is_empty());
        }
        assert_eq!(
            r["delay_bins"].as_array().unwrap().len(),
            r["runs"][0]["delays"].as_array().unwrap().len()
        );
    }

    #[test]
    fn page_is_self_contained() {
        let page = html(&demo_doc()).unwrap();
        assert!(page.contains("echarts"));
        assert!(page.contains("id=\"render-status\""));
        // Nothing is fetched: no external scripts, styles or images.
        assert!(!page.contains("<script src"));
        assert!(!page.contains("<link"));
        assert!(html(&json!({"policies": []})).is_err());
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(grouped(1498894.33), "1,498,894");
        assert_eq!(grouped(-12345.0), "-12,345");
        assert_eq!(grouped(999.0), "999");
    }

    #[test]
    fn long_runs_are_bucketed() {
        assert_eq!(bucket_size(168, 5, 8), 1);
        assert!(8760usize.div_ceil(bucket_size(8760, 5, 9)) <= MAX_POINTS);
    }
}
