//! A resolved [`Scenario`] written back as a scenario file (format version 1, see
//! `docs/scenario.md`), every series as `{ values = [...] }`, so that a built-in scenario can
//! be exported, edited and loaded again with the same results (`suandian scenario export`).
//!
//! Numbers are written in Rust's shortest round-trip form, so reading the file back gives
//! the same `f64`s; a deadline is written as the `max_delay_h` that gives back exactly the same
//! deadline under the reader's arithmetic (`arrival_h + runtime_h + max_delay_h`).
//! Demand-response times are written to the second (as a scenario file gives them).

use crate::scenario::LoadedScenario;
use std::fmt::Write;
use suandian_core::forecast::ForecastKind;
use suandian_core::{CarbonBasis, GreenKind, Job, Pue, Scenario};

fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:?}")
    } else if v.is_nan() {
        "nan".into()
    } else if v > 0.0 {
        "inf".into()
    } else {
        "-inf".into()
    }
}

fn values(v: &[f64]) -> String {
    let items: Vec<String> = v.iter().map(|x| num(*x)).collect();
    format!("{{ values = [{}] }}", items.join(", "))
}

fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn names(sc: &Scenario, ids: &[usize]) -> String {
    let v: Vec<String> = ids.iter().map(|i| string(&sc.sites[*i].name)).collect();
    format!("[{}]", v.join(", "))
}

/// The `max_delay_h` whose sum with `arrival_h + runtime_h` is exactly the job's deadline.
fn max_delay(j: &Job) -> f64 {
    let end = j.arrival_h + j.runtime_h;
    let mut m = j.deadline_h - end;
    for _ in 0..8 {
        let got = end + m;
        if got == j.deadline_h {
            break;
        }
        m = if got < j.deadline_h {
            f64::from_bits(m.to_bits() + if m >= 0.0 { 1 } else { u64::MAX })
        } else {
            f64::from_bits(m.to_bits() - if m > 0.0 { 1 } else { u64::MAX })
        };
    }
    m.max(0.0)
}

/// The scenario file text of `loaded`: its scenario and its simulation defaults.
pub fn to_toml(loaded: &LoadedScenario) -> String {
    let sc = &loaded.scenario;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# Exported by `suandian scenario export` from {}.\n# Format: docs/scenario.md. Every series is one value per slot.",
        loaded.source
    );
    let _ = writeln!(o, "version = 1\nname = {}\n", string(&sc.name));
    let _ = writeln!(
        o,
        "[time]\nstart = \"{}\"\nslot_minutes = {}\nhorizon_hours = {}\n",
        sc.grid.start.format("%Y-%m-%dT%H:%M:%SZ"),
        sc.grid.slot_minutes,
        num(sc.grid.horizon_h())
    );
    let _ = writeln!(o, "[simulation]");
    match loaded.simulation.forecast {
        ForecastKind::Perfect => {
            let _ = writeln!(o, "forecast = \"perfect\"");
        }
        ForecastKind::Persistence => {
            let _ = writeln!(o, "forecast = \"persistence\"");
        }
        ForecastKind::Noisy {
            relative_error,
            seed,
        } => {
            let _ = writeln!(
                o,
                "forecast = \"noisy\"\nforecast_error = {}\nseed = {seed}",
                num(relative_error)
            );
        }
    }
    let pols: Vec<String> = loaded
        .simulation
        .policies
        .iter()
        .map(|p| string(p))
        .collect();
    let _ = writeln!(o, "policies = [{}]\n", pols.join(", "));
    let e = &sc.economics;
    let _ = writeln!(
        o,
        "[economics]\ncurrency = {}\ncarbon_price_per_t = {}\ncarbon_price_basis = \"{}\"\nvalue_per_million_tokens = {}\ntransfer_cost_per_gb = {}{}\n",
        string(&e.currency),
        num(e.carbon_price_per_t),
        match e.carbon_price_basis {
            CarbonBasis::Location => "location",
            CarbonBasis::Market => "market",
        },
        num(e.value_per_million_tokens),
        num(e.transfer_cost_per_gb),
        e.over_limit_per_kwh
            .map_or(String::new(), |p| format!("\nover_limit_per_kwh = {}", num(p)))
    );
    let _ = writeln!(
        o,
        "[dispatch]\ntrailing_window_h = {}\nmigration_hours = {}\nrestart_hours = {}\n",
        num(sc.dispatch.trailing_window_h),
        num(sc.dispatch.migration_h),
        num(sc.dispatch.restart_h)
    );
    write_sites(&mut o, sc);
    write_work_and_events(&mut o, sc);
    o
}

/// The `[[sites]]` tables.
fn write_sites(o: &mut String, sc: &Scenario) {
    for s in &sc.sites {
        let a = &s.accelerators;
        let _ = writeln!(
            o,
            "[[sites]]\nname = {}\nregion = {}\nlatitude = {}\nlongitude = {}",
            string(&s.name),
            string(&s.region),
            num(s.latitude),
            num(s.longitude)
        );
        let _ = writeln!(
            o,
            "accelerators = {{ count = {}, model = {}, idle_w = {}, peak_w = {}, per_server = {}, other_it_w_per_server = {}, min_power_level = {}, throughput_exponent = {} }}",
            a.count,
            string(&a.model),
            num(a.idle_w),
            num(a.peak_w),
            a.per_server,
            num(a.other_it_w_per_server),
            num(a.min_power_level),
            num(a.throughput_exponent)
        );
        match &s.pue {
            Pue::Constant { value } => {
                let _ = writeln!(o, "pue = {}", num(*value));
            }
            Pue::Temperature {
                base,
                threshold_c,
                per_degree,
                max,
                temperature_c,
            } => {
                let _ = writeln!(
                    o,
                    "pue = {{ base = {}, threshold_c = {}, per_degree = {}, max = {}, temperature = {} }}",
                    num(*base),
                    num(*threshold_c),
                    num(*per_degree),
                    num(*max),
                    values(temperature_c)
                );
            }
        }
        let g = &s.grid;
        let _ = writeln!(
            o,
            "\n[sites.grid]\nimport_limit_kw = {}\nexport_limit_kw = {}\nfeed_in_price_per_mwh = {}\ngreen_certificates_kwh = {}",
            num(g.import_limit_kw),
            num(g.export_limit_kw),
            // A fixed tariff as a number, a varying one as a series.
            match g.feed_in_price_per_mwh.first() {
                Some(&x) if g.feed_in_price_per_mwh.iter().all(|v| *v == x) => num(x),
                _ => values(&g.feed_in_price_per_mwh),
            },
            num(g.green_certificates_kwh)
        );
        if let Some(r) = g.residual_mix_g_co2_per_kwh {
            let _ = writeln!(o, "residual_mix_g_co2_per_kwh = {}", num(r));
        }
        let _ = writeln!(o, "price = {}", values(&g.price_per_mwh));
        let _ = writeln!(o, "carbon = {}\n", values(&g.carbon_g_per_kwh));
        for p in &s.green {
            let _ = writeln!(
                o,
                "[[sites.green]]\nname = {}\nkind = \"{}\"\ncapacity_kw = {}\ncapacity_factor = {}\n",
                string(&p.name),
                match p.kind {
                    GreenKind::Solar => "solar",
                    GreenKind::Wind => "wind",
                    GreenKind::Other => "other",
                },
                num(p.capacity_kw),
                values(&p.capacity_factor)
            );
        }
        if let Some(b) = &s.battery {
            let _ = write!(
                o,
                "[sites.battery]\ncapacity_kwh = {}\npower_kw = {}\nround_trip_efficiency = {}\nsoc_min = {}\nsoc_max = {}\nsoc_initial = {}\n",
                num(b.capacity_kwh),
                num(b.power_kw),
                num(b.round_trip_efficiency),
                num(b.soc_min),
                num(b.soc_max),
                num(b.soc_initial)
            );
            if let Some(w) = b.wear_cost_per_kwh {
                let _ = writeln!(o, "wear_cost_per_kwh = {}", num(w));
            }
            let _ = writeln!(o);
        }
        if let Some(t) = &s.thermal {
            let _ = writeln!(
                o,
                "[sites.thermal]\ncapacity_kw = {}\ncost_per_kwh = {}\ng_co2_per_kwh = {}\n",
                num(t.capacity_kw),
                num(t.cost_per_kwh),
                num(t.g_co2_per_kwh)
            );
        }
    }
}

/// The `[work]` jobs, `[[inference]]` demand and `[[demand_response]]` events.
fn write_work_and_events(o: &mut String, sc: &Scenario) {
    if !sc.jobs.is_empty() {
        let _ = writeln!(o, "[work]\n");
    }
    for j in &sc.jobs {
        let _ = writeln!(
            o,
            "[[work.jobs]]\nid = {}\narrival_h = {}\naccelerators = {}\nruntime_h = {}",
            string(&j.id),
            num(j.arrival_h),
            j.accelerators,
            num(j.runtime_h)
        );
        if j.deadline_h.is_finite() {
            let _ = writeln!(o, "max_delay_h = {}", num(max_delay(j)));
        }
        let _ = writeln!(
            o,
            "interruptible = {}\nmigratable = {}\nallowed_sites = {}\nhome_site = {}\ncheckpoint_gb = {}\n",
            j.interruptible,
            j.migratable,
            names(sc, &j.allowed_sites),
            string(&sc.sites[j.home_site].name),
            num(j.checkpoint_gb)
        );
        if let Some(k) = j.flex_tier {
            let _ = writeln!(o, "flex_tier = {k}\n");
        }
    }
    for d in &sc.inference {
        let jpt: Vec<String> = d.joules_per_token.iter().map(|v| num(*v)).collect();
        let _ = writeln!(
            o,
            "[[inference]]\nregion = {}\nsites = {}\njoules_per_token = [{}]\ntokens_per_s = {}\n",
            string(&d.region),
            names(sc, &d.sites),
            jpt.join(", "),
            values(&d.tokens_per_s)
        );
    }
    let time = |h: f64| {
        (sc.grid.start + chrono::Duration::milliseconds((h * 3.6e6).round() as i64))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    for e in &sc.demand_response {
        let _ = writeln!(
            o,
            "[[demand_response]]\nid = {}\nsites = {}\nstart = \"{}\"\nend = \"{}\"\nannounced = \"{}\"\nimport_cap_kw = {}{}\n",
            string(&e.id),
            names(sc, &e.sites),
            time(e.start_h),
            time(e.end_h),
            time(e.announced_h),
            num(e.import_cap_kw),
            e.penalty_per_kwh
                .map_or(String::new(), |p| format!("\npenalty_per_kwh = {}", num(p)))
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn the_demo_round_trips() {
        let demo = crate::builtin::demo();
        let text = super::to_toml(&demo);
        let back = crate::scenario::from_toml_str(&text, "export", Path::new("")).unwrap();
        assert_eq!(back.scenario, demo.scenario);
        assert_eq!(back.simulation, demo.simulation);
    }

    #[test]
    fn demand_response_and_migration_data_round_trip() {
        let mut demo = crate::builtin::demo();
        let sc = &mut demo.scenario;
        sc.demand_response = vec![
            suandian_core::DemandResponseEvent {
                id: "evt \"1\"".into(),
                sites: vec![2, 0],
                start_h: 17.0,
                end_h: 20.25,
                announced_h: 13.0,
                import_cap_kw: 512.5,
                penalty_per_kwh: None,
            },
            suandian_core::DemandResponseEvent {
                id: "no-notice".into(),
                sites: (0..sc.sites.len()).collect(),
                start_h: -1.0,
                end_h: 0.5,
                announced_h: -1.0,
                import_cap_kw: 0.0,
                penalty_per_kwh: None,
            },
        ];
        sc.dispatch.migration_h = 0.75;
        sc.economics.transfer_cost_per_gb = 0.035;
        sc.jobs[0].checkpoint_gb = 123.25;
        sc.jobs[1].flex_tier = Some(2);
        sc.validate().unwrap();
        let text = super::to_toml(&demo);
        assert!(text.contains("[[demand_response]]\nid = \"evt \\\"1\\\"\"\nsites = [\"west\", \"east\"]\nstart = \"2022-06-01T17:00:00Z\""), "{text}");
        let back = crate::scenario::from_toml_str(&text, "export", Path::new("")).unwrap();
        assert_eq!(back.scenario, demo.scenario);
    }

    #[test]
    fn the_default_round_trips() {
        let d = crate::builtin::default_scenario(2, 11);
        let text = super::to_toml(&d);
        let back = crate::scenario::from_toml_str(&text, "export", Path::new("")).unwrap();
        assert_eq!(back.scenario, d.scenario);
        assert_eq!(back.simulation, d.simulation);
        assert!(back.warnings.is_empty(), "{:?}", back.warnings);
    }
}
