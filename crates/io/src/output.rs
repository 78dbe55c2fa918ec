//! What `suandian` prints and writes: the comparison table, the JSON document, the timeline
//! CSV and the scenario summary.

use crate::scenario::LoadedScenario;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::Path;
use suandian_core::compare::{compare, objective_kind};
use suandian_core::metrics::{ObjectiveKind, ObjectiveWeights};
use suandian_core::policy::REFERENCE;
use suandian_core::sim::{RunResult, SimConfig};
use suandian_core::Scenario;

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |p| format!("{p:+.1}%"))
}

/// Rows of cells as aligned columns (the first left-aligned), with a rule under the header.
fn write_rows(out: &mut String, rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for (i, row) in rows.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                if c == 0 {
                    format!("{cell:<w$}", w = widths[c])
                } else {
                    format!("{cell:>w$}", w = widths[c])
                }
            })
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
        if i == 0 {
            let _ = writeln!(
                out,
                "{}",
                "-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1))
            );
        }
    }
}

/// The side-by-side comparison of the policies, against `asap`: first on equal work, then
/// what was measured.
pub fn table(loaded: &LoadedScenario, cfg: &SimConfig, results: &[RunResult]) -> String {
    let sc = &loaded.scenario;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} sites, {} jobs, {} inference regions, {} x {} min from {} UTC; forecast: {}",
        sc.name,
        sc.sites.len(),
        sc.jobs.len(),
        sc.inference.len(),
        sc.grid.slots,
        sc.grid.slot_minutes,
        sc.grid.start.format("%Y-%m-%d %H:%M"),
        cfg.forecast.label()
    );
    equal_work_section(&mut out, sc, results);
    measured_section(&mut out, sc, results);
    notes_section(&mut out, sc, results);
    out
}

/// The table's first part: the comparison on equal work, with the bound and the captures.
fn equal_work_section(out: &mut String, sc: &Scenario, results: &[RunResult]) {
    let cur = &sc.economics.currency;
    let comparisons = compare(sc, results);
    let dash = || "-".to_string();
    // 1. The comparison, on equal work.
    let mut rows = vec![vec![
        "policy".to_string(),
        "carbon t".into(),
        "vs asap".into(),
        format!("cost {cur}"),
        "vs asap".into(),
        "kg/acc-h".into(),
        format!("{cur}/acc-h"),
        "work done".into(),
        "jobs done".into(),
        "late".into(),
        "p95 delay h".into(),
        "objective".into(),
        "captures".into(),
    ]];
    for (r, c) in results.iter().zip(&comparisons) {
        let m = &r.metrics;
        let (dc, dk) = match &c.savings {
            Some(s) if r.policy != REFERENCE => (pct(s.equal_work_carbon), pct(s.equal_work_cost)),
            _ => ("".into(), "".into()),
        };
        let (obj, capture) = (c.objective, c.oracle_capture);
        let done = m.work_done_acc_h > 0.0;
        rows.push(vec![
            r.policy.clone(),
            format!("{:.2}", m.equal_work_carbon_kg / 1000.0),
            dc,
            format!("{:.0}", m.equal_work_cost),
            dk,
            if done {
                format!("{:.3}", m.carbon_kg_per_acc_h)
            } else {
                dash()
            },
            if done {
                format!("{:.3}", m.cost_per_acc_h)
            } else {
                dash()
            },
            if m.work_total_acc_h > 0.0 {
                format!("{:.1}%", m.work_done_acc_h / m.work_total_acc_h * 100.0)
            } else {
                dash()
            },
            format!("{}/{}", m.jobs_completed, m.jobs_total),
            m.deadline_misses.to_string(),
            format!("{:.2}", m.delay_p95_h),
            if c.is_bound {
                format!("{obj:.0} (bound)")
            } else {
                format!("{obj:.0}")
            },
            capture.map_or(String::new(), |c| format!("{:.0}%", c * 100.0)),
        ]);
    }
    write_rows(out, &rows);
    let rates = suandian_core::metrics::ReferenceRates::for_scenario(sc);
    let _ = writeln!(
        out,
        "equal work: carbon (Scope 1 + Scope 2 location-based) and energy cost, with the work each policy left undone \
         charged at this scenario's mean rates ({:.3} kg and {:.3} {cur} per accelerator-hour), so that doing less is \
         no saving; kg/acc-h and {cur}/acc-h: measured carbon and cost per accelerator-hour of work done.",
        rates.kg_co2_per_acc_h, rates.cost_per_acc_h
    );
    let _ = writeln!(out);
}

/// The table's second part: what was measured (carbon by scope, cost, green, inference).
fn measured_section(out: &mut String, sc: &Scenario, results: &[RunResult]) {
    let cur = &sc.economics.currency;
    let dash = || "-".to_string();
    // 2. What was measured.
    let mut rows = vec![vec![
        "policy".to_string(),
        "S1+S2 loc t".into(),
        "S2 mkt t".into(),
        "S1 t".into(),
        format!("cost {cur}"),
        "green".into(),
        "curtailed MWh".into(),
        "facility MWh".into(),
        "kWh/acc-h".into(),
        "inference".into(),
        "tok/kWh".into(),
        format!("{cur}/kWh"),
    ]];
    for r in results {
        let m = &r.metrics;
        rows.push(vec![
            r.policy.clone(),
            format!("{:.2}", m.carbon_total_location_kg / 1000.0),
            format!("{:.2}", m.carbon_market_kg / 1000.0),
            format!("{:.2}", m.scope1_kg / 1000.0),
            format!("{:.0}", m.cost),
            format!("{:.1}%", m.green_share * 100.0),
            format!("{:.2}", m.curtailed_kwh / 1000.0),
            format!("{:.1}", m.facility_kwh / 1000.0),
            if m.batch_acc_h > 0.0 {
                format!("{:.3}", m.batch_kwh_per_acc_h)
            } else {
                dash()
            },
            if m.inference_demand_tokens > 0.0 {
                format!("{:.1}%", m.inference_served_share * 100.0)
            } else {
                "none".into()
            },
            if m.tokens > 0.0 {
                format!("{:.0}", m.tokens_per_kwh)
            } else {
                dash()
            },
            if m.tokens > 0.0 {
                format!("{:.3}", m.token_value_per_kwh)
            } else {
                dash()
            },
        ]);
    }
    write_rows(out, &rows);
}

/// The notes under the table: what each column means, the objective, warnings and each
/// policy's notes.
fn notes_section(out: &mut String, sc: &Scenario, results: &[RunResult]) {
    let cur = &sc.economics.currency;
    let has_inference = sc
        .inference
        .iter()
        .any(|d| d.tokens_per_s.iter().any(|v| *v > 0.0));
    let _ = writeln!(
        out,
        "measured: S2 = Scope 2, grid import: location-based (grid average) or market-based (after certificates), never mixed; \
         S1 = Scope 1, thermal backup's own combustion; S1+S2 loc: their labelled total. \
         green: direct green share of facility energy; curtailed: green energy curtailed, as it happened; `vs asap`: saving."
    );
    let _ = writeln!(
        out,
        "{}",
        if has_inference {
            format!(
                "inference: share of demand served; tok/kWh and {cur}/kWh: tokens and their value per kWh of the facility energy \
                 charged to inference (its accelerators' energy and idle share, x PUE); \
                 kWh/acc-h: facility energy charged to batch jobs per accelerator-hour they ran."
            )
        } else {
            "inference: none in this scenario (no tokens demanded), so no tokens per kWh."
                .to_string()
        }
    );
    if results.iter().any(|r| r.objective_bound.is_some()) {
        let _ = writeln!(
            out,
            "{}; captures: share of the oracle's reduction against asap, in that objective (the oracle row shows its bound).",
            match objective_kind(results) {
                ObjectiveKind::Balanced => "objective: cost + carbon price x emissions + penalties for late work and unserved inference",
                ObjectiveKind::Carbon => "objective (--objective carbon): kg CO2 (Scope 1 + 2, location) + penalties in kg at the carbon price",
                ObjectiveKind::Cost => "objective (--objective cost): energy cost + penalties, no carbon price",
            }
        );
    }
    for r in results.iter().filter(|r| r.plan_fallbacks > 0) {
        let _ = writeln!(
            out,
            "warning: {}: its plan failed at {} of {} slots, which ran asap with the caps instead: its figures are partly not the planner's (see its notes)",
            r.policy, r.plan_fallbacks, sc.grid.slots
        );
    }
    for r in results {
        for n in &r.notes {
            let _ = writeln!(out, "note: {}: {n}", r.policy);
        }
    }
    for r in results {
        let m = &r.metrics;
        if m.rejected_actions > 0 || m.import_over_limit_kwh > 0.0 {
            let _ = writeln!(
                out,
                "note: {}: {} actions refused, {:.1} kWh imported above connection limits",
                r.policy, m.rejected_actions, m.import_over_limit_kwh
            );
        }
        if m.dr_event_slots > 0 {
            let _ = writeln!(
                out,
                "note: {}: {} site-slots under demand-response events, {:.1} kWh imported above their caps",
                r.policy, m.dr_event_slots, m.dr_over_cap_kwh
            );
        }
        if m.migrations > 0 {
            let _ = writeln!(
                out,
                "note: {}: {} migrations moved {:.0} GB for {:.2} {cur} (not in cost; in the objective)",
                r.policy, m.migrations, m.migrated_gb, m.migration_cost
            );
        }
    }
}

/// The first metric of a run that is not a finite number (`policy.metric`), if any: results
/// are checked before anything is written, so that no output ever holds `inf`, `NaN` or a
/// `null` standing for one. Validation's ranges ([`suandian_core::limits`]) keep every input
/// far from overflow, so this names a bug, not bad input.
pub fn first_non_finite(results: &[RunResult]) -> Option<String> {
    for r in results {
        let v = serde_json::to_value(&r.metrics).expect("metrics serialise");
        for (k, x) in v.as_object().into_iter().flatten() {
            if x.is_null() || x.as_f64().is_some_and(|f| !f.is_finite()) {
                return Some(format!("{}.{k}", r.policy));
            }
        }
        if let Some(b) = r.objective_bound.filter(|b| !b.is_finite()) {
            return Some(format!("{}.objective_bound ({b})", r.policy));
        }
    }
    None
}

/// One JSON object with every metric of every policy.
pub fn json(loaded: &LoadedScenario, cfg: &SimConfig, results: &[RunResult]) -> Value {
    let sc = &loaded.scenario;
    let policies: Vec<Value> = results
        .iter()
        .zip(compare(sc, results))
        .map(|(r, c)| {
            let mut metrics = serde_json::to_value(&r.metrics).expect("metrics serialise");
            metrics["objective"] = json!(c.objective);
            metrics["objective_realized"] = json!(c.objective_realized);
            metrics["oracle_capture"] = json!(c.oracle_capture);
            json!({
                "name": r.policy,
                "metrics": metrics,
                "notes": r.notes,
                "plan_fallbacks": r.plan_fallbacks,
                "savings_vs_asap_pct": c.savings,
                "sites": r.per_site,
            })
        })
        .collect();
    json!({
        "suandian_version": env!("CARGO_PKG_VERSION"),
        "scenario": {
            "name": sc.name,
            "source": loaded.source,
            "start": sc.grid.start.to_rfc3339(),
            "slot_minutes": sc.grid.slot_minutes,
            "slots": sc.grid.slots,
            "sites": sc.sites.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
            "jobs": sc.jobs.len(),
            "inference_regions": sc.inference.len(),
        },
        "currency": sc.economics.currency,
        "forecast": cfg.forecast,
        "baseline": REFERENCE,
        "objective_weights": ObjectiveWeights::for_scenario(sc),
        "oracle_bound": results.iter().find_map(|r| r.objective_bound),
        "objective_kind": objective_kind(results),
        "warnings": loaded.warnings,
        "policies": policies,
    })
}

/// The per-slot, per-site timeline of every policy, one CSV row per policy, slot and site.
pub fn write_timeline(path: &Path, sc: &Scenario, results: &[RunResult]) -> std::io::Result<()> {
    crate::files::write_atomic(path, |w| timeline_csv(w, sc, results))
}

fn timeline_csv(
    w: &mut dyn std::io::Write,
    sc: &Scenario,
    results: &[RunResult],
) -> std::io::Result<()> {
    writeln!(
        w,
        "policy,slot,time_utc,site,it_kw,pue,facility_kw,green_kw,green_to_load_kw,battery_charge_kw,\
         battery_discharge_kw,battery_soc_kwh,export_kw,curtail_kw,grid_import_kw,import_over_limit_kw,\
         thermal_kw,price_per_mwh,carbon_g_per_kwh,busy_accelerators,inference_accelerators,tokens,cost,carbon_location_kg,scope1_kg"
    )?;
    for r in results {
        for row in &r.timeline {
            let f = &row.flows;
            writeln!(
                w,
                "{},{},{},{},{:.6},{:.4},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{},{},{:.4},{},{:.1},{:.6},{:.6},{:.6}",
                r.policy,
                row.slot,
                sc.grid.slot_time(row.slot).format("%Y-%m-%dT%H:%M:%SZ"),
                sc.sites[row.site].name,
                row.it_kw,
                row.pue,
                f.facility_kw,
                f.green_kw,
                f.green_to_load_kw,
                f.charge_kw,
                f.discharge_kw,
                f.soc_kwh,
                f.export_kw,
                f.curtail_kw,
                f.import_kw,
                f.import_over_limit_kw,
                f.thermal_kw,
                row.price_per_mwh,
                row.carbon_g_per_kwh,
                row.busy_accelerators,
                row.inference_accelerators,
                row.tokens,
                row.cost,
                row.carbon_location_kg,
                row.scope1_kg
            )?;
        }
    }
    w.flush()
}

/// What a scenario holds, for `suandian validate`.
pub fn summary(loaded: &LoadedScenario) -> String {
    let sc = &loaded.scenario;
    let mut out = String::new();
    let _ = writeln!(out, "{}: valid scenario `{}`", loaded.source, sc.name);
    let _ = writeln!(
        out,
        "time: {} slots of {} min from {} UTC ({:.1} days)",
        sc.grid.slots,
        sc.grid.slot_minutes,
        sc.grid.start.format("%Y-%m-%d %H:%M"),
        sc.grid.horizon_h() / 24.0
    );
    for s in &sc.sites {
        let n = sc.grid.slots as f64;
        let mean = |v: &[f64]| v.iter().sum::<f64>() / n;
        // `+ 0.0`: an empty sum is -0.0, which prints as "-0".
        let green_kw: f64 = s.green.iter().map(|g| g.capacity_kw).sum::<f64>() + 0.0;
        let _ = writeln!(
            out,
            "site {:<14} {:>6} x {:<10} idle IT {:>8.1} kW, import <= {:.0} kW, mean {:.0} g/kWh, mean price {:.1}/MWh, green {:.0} kW, battery {}, thermal {}",
            s.name,
            s.accelerators.count,
            s.accelerators.model,
            s.accelerators.idle_it_kw(),
            s.grid.import_limit_kw,
            mean(&s.grid.carbon_g_per_kwh),
            mean(&s.grid.price_per_mwh),
            green_kw,
            s.battery.as_ref().map_or("none".into(), |b| format!("{:.0} kWh", b.capacity_kwh)),
            s.thermal.as_ref().map_or("none".into(), |t| format!("{:.0} kW", t.capacity_kw)),
        );
    }
    let work_h: f64 = sc.jobs.iter().map(|j| j.work_acc_h()).sum();
    let _ = writeln!(
        out,
        "jobs: {} ({:.0} accelerator-hours)",
        sc.jobs.len(),
        work_h
    );
    for d in &sc.inference {
        let _ = writeln!(
            out,
            "inference {}: mean {:.0} tokens/s over {} sites",
            d.region,
            d.tokens_per_s.iter().sum::<f64>() / sc.grid.slots as f64,
            d.sites.len()
        );
    }
    for e in &sc.demand_response {
        let names: Vec<&str> = e.sites.iter().map(|s| sc.sites[*s].name.as_str()).collect();
        let at = |h: f64| {
            (sc.grid.start + chrono::Duration::seconds((h * 3600.0).round() as i64))
                .format("%Y-%m-%d %H:%M")
                .to_string()
        };
        let _ = writeln!(
            out,
            "demand response {}: import <= {:.0} kW at {} from {} to {} UTC, announced {} UTC",
            e.id,
            e.import_cap_kw,
            names.join(", "),
            at(e.start_h),
            at(e.end_h),
            at(e.announced_h)
        );
    }
    for w in &loaded.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

/// What happened to every job under every policy, one CSV row per policy and job.
pub fn write_jobs(path: &Path, sc: &Scenario, results: &[RunResult]) -> std::io::Result<()> {
    crate::files::write_atomic(path, |w| jobs_csv(w, sc, results))
}

fn jobs_csv(
    w: &mut dyn std::io::Write,
    sc: &Scenario,
    results: &[RunResult],
) -> std::io::Result<()> {
    writeln!(w, "policy,job,accelerators,arrival_h,runtime_h,deadline_h,site,started_h,completed_h,wait_h,delay_h,late,suspensions,migrations,migrated_gb,migration_cost,energy_it_kwh")?;
    let opt = |v: Option<f64>| v.map_or(String::new(), |x| format!("{x:.6}"));
    let horizon_h = sc.grid.horizon_h();
    for r in results {
        for (o, j) in r.jobs.iter().zip(&sc.jobs) {
            writeln!(
                w,
                "{},{},{},{:.6},{:.6},{},{},{},{},{},{},{},{},{},{},{:.6},{:.6}",
                r.policy,
                o.id,
                j.accelerators,
                o.arrival_h,
                o.runtime_h,
                if o.deadline_h.is_finite() {
                    format!("{:.6}", o.deadline_h)
                } else {
                    String::new()
                },
                sc.sites[o.site].name,
                opt(o.started_h),
                opt(o.completed_h),
                opt(o.started_h.map(|s| s - o.arrival_h)),
                opt(o
                    .completed_h
                    .map(|c| (c - o.arrival_h - o.runtime_h).max(0.0))),
                o.late(horizon_h),
                o.suspensions,
                o.migrations,
                o.migrated_gb,
                o.migration_cost,
                o.energy_it_kwh
            )?;
        }
    }
    w.flush()
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv_value(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => csv_field(s),
        other => other.to_string(),
    }
}

/// Every metric of every policy as CSV, one row per policy (the `metrics` keys of [`json`],
/// objective and oracle capture included).
pub fn metrics_csv(loaded: &LoadedScenario, cfg: &SimConfig, results: &[RunResult]) -> String {
    let doc = json(loaded, cfg, results);
    let policies = doc["policies"].as_array().cloned().unwrap_or_default();
    let keys: Vec<String> = policies
        .first()
        .and_then(|p| p["metrics"].as_object())
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let mut out = format!("policy,{}\n", keys.join(","));
    for p in &policies {
        let row: Vec<String> = keys.iter().map(|k| csv_value(&p["metrics"][k])).collect();
        let _ = writeln!(out, "{},{}", csv_value(&p["name"]), row.join(","));
    }
    out
}

/// What a scenario holds (as [`summary`]), as one JSON object.
pub fn summary_json(loaded: &LoadedScenario) -> Value {
    let sc = &loaded.scenario;
    let n = sc.grid.slots as f64;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / n;
    json!({
        "source": loaded.source,
        "name": sc.name,
        "start": sc.grid.start.to_rfc3339(),
        "slot_minutes": sc.grid.slot_minutes,
        "slots": sc.grid.slots,
        "days": sc.grid.horizon_h() / 24.0,
        "sites": sc.sites.iter().map(|s| json!({
            "name": s.name,
            "region": s.region,
            "latitude": s.latitude,
            "longitude": s.longitude,
            "accelerators": s.accelerators.count,
            "accelerator_model": s.accelerators.model,
            "idle_it_kw": s.accelerators.idle_it_kw(),
            "import_limit_kw": s.grid.import_limit_kw,
            "mean_carbon_g_per_kwh": mean(&s.grid.carbon_g_per_kwh),
            "mean_price_per_mwh": mean(&s.grid.price_per_mwh),
            // `+ 0.0`: an empty f64 sum is -0.0.
            "green_kw": s.green.iter().map(|g| g.capacity_kw).sum::<f64>() + 0.0,
            "battery_kwh": s.battery.as_ref().map(|b| b.capacity_kwh),
            "thermal_kw": s.thermal.as_ref().map(|t| t.capacity_kw),
        })).collect::<Vec<_>>(),
        "jobs": sc.jobs.len(),
        "job_accelerator_hours": sc.jobs.iter().map(|j| j.work_acc_h()).sum::<f64>(),
        "inference": sc.inference.iter().map(|d| json!({
            "region": d.region,
            "mean_tokens_per_s": d.tokens_per_s.iter().sum::<f64>() / n,
            "sites": d.sites.len(),
        })).collect::<Vec<_>>(),
        "demand_response_events": sc.demand_response.len(),
        "currency": sc.economics.currency,
        "warnings": loaded.warnings,
    })
}

/// What a scenario holds as CSV, one row per site (the `sites` of [`summary_json`]).
pub fn summary_csv(loaded: &LoadedScenario) -> String {
    let doc = summary_json(loaded);
    let sites = doc["sites"].as_array().cloned().unwrap_or_default();
    let keys: Vec<String> = sites
        .first()
        .and_then(|s| s.as_object())
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let mut out = format!("{}\n", keys.join(","));
    for s in &sites {
        let row: Vec<String> = keys.iter().map(|k| csv_value(&s[k])).collect();
        let _ = writeln!(out, "{}", row.join(","));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run whose planner failed says so in the table and the JSON, not only in a note.
    #[test]
    fn plan_fallbacks_are_a_warning_and_a_field() {
        let loaded = crate::builtin::demo();
        let cfg = SimConfig::default();
        let mut policy = suandian_core::policy::by_name("asap").expect("asap");
        let mut r = suandian_core::sim::simulate(&loaded.scenario, policy.as_mut(), &cfg);
        assert!(!table(&loaded, &cfg, std::slice::from_ref(&r)).contains("warning:"));
        r.plan_fallbacks = 3;
        let text = table(&loaded, &cfg, std::slice::from_ref(&r));
        assert!(
            text.contains("warning: asap: its plan failed at 3 of 48 slots"),
            "{text}"
        );
        let j = json(&loaded, &cfg, &[r]);
        assert_eq!(j["policies"][0]["plan_fallbacks"], 3);
    }

    /// A non-finite metric is named before anything is written.
    #[test]
    fn non_finite_results_are_caught() {
        let loaded = crate::builtin::demo();
        let mut policy = suandian_core::policy::by_name("asap").expect("asap");
        let mut r =
            suandian_core::sim::simulate(&loaded.scenario, policy.as_mut(), &SimConfig::default());
        assert_eq!(first_non_finite(std::slice::from_ref(&r)), None);
        r.metrics.cost = f64::INFINITY;
        assert_eq!(
            first_non_finite(std::slice::from_ref(&r)).as_deref(),
            Some("asap.cost")
        );
        r.metrics.cost = 0.0;
        r.objective_bound = Some(f64::NAN);
        assert!(first_non_finite(&[r]).unwrap().contains("objective_bound"));
    }
}
