//! The OpenADR VEN against the `openadr` crate's VTN (`SUANDIAN_OPENADR_VTN`, or `openadr` on
//! the PATH), on loopback:
//!
//! 1. **Latency**: from an event created at the VTN (the business-logic client's `POST
//!    /events` answered) to the engine holding its cap (`GET /v1/events`), by webhook and by
//!    polling (every second), and to the first slot stepped with it (the decisions made under
//!    it; slots of 2 s here), p50 / p99 / max over N events.
//! 2. **The default scenario**, accelerated (`--builtin default`, coordinated, its jobs posted):
//!    a 25 % import cut at every site for 3 hours (day 2, 10:00-13:00) and a 30 % cut for one
//!    hour (day 3, 11:00), each an `IMPORT_CAPACITY_LIMIT` event per site whose intervals cap
//!    the import at 75 % (70 %) of the baseline (asap without events, the method the reports
//!    use); per interval, the fleet's import against the baseline; deadline misses against
//!    asap's without the events.
//!
//! Run it with `cargo bench -p suandian --bench openadr` (30 events; `-- 10` for 10).
//!
//! Results: docs/benchmarks.md.

#[path = "../tests/common/serve_client.rs"]
mod serve_client;

#[allow(dead_code)]
#[path = "../tests/common/openadr_peer.rs"]
mod peer;

use peer::*;
use serde_json::{json, Value};
use serve_client::http;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn quantiles(mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    format!(
        "p50 {:.3} s, p99 {:.3} s, max {:.3} s",
        q(0.5),
        q(0.99),
        v[v.len() - 1]
    )
}

fn latency(bin: &str, n: usize) {
    let (_vtn, vtn) = start_vtn(bin);
    let bl = token(vtn, "bl-1", "bl-secret-0123");
    let prog = program(vtn, &bl, "latency");
    let dir = fresh_dir("bench_oadr");
    // A slot every 2 s (the three small sites' 48 hourly slots: 96 s).
    let timing = ["--speed", "1800", "--paused"];
    let (_w, w) = start_webhook_service(
        vtn,
        &dir.join("w.db"),
        ("ven-1", "ven-secret-0123"),
        "ven-webhook",
        &[&["--openadr-poll-s", "3600"][..], &timing[..]].concat(),
    );
    let (_p, p) = start_service(
        vtn,
        &dir.join("p.db"),
        ("ven-2", "ven-secret-4567"),
        "ven-poll",
        &[&["--openadr-poll-s", "1"][..], &timing[..]].concat(),
    );
    wait_for("the subscription", Duration::from_secs(20), || {
        get(w, "/v1/openadr")["subscription"].is_string()
    });
    grant(vtn, &bl, 2, &["east".to_string()]);
    for s in [w, p] {
        let (code, _) = http(
            s,
            "POST",
            "/v1/clock",
            Some(TOKEN),
            &[],
            r#"{"running": true}"#,
        );
        assert_eq!(code, 200);
    }
    let mut taken = [Vec::new(), Vec::new()];
    let mut stepped = [Vec::new(), Vec::new()];
    let caps = |s: SocketAddr| {
        get(s, "/v1/events")
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["id"].as_str().unwrap().starts_with("oadr:"))
            .count()
    };
    for k in 0..n {
        let done = get(w, "/v1/status")["slots_done"].as_u64().unwrap();
        if done + 3 >= 48 {
            eprintln!("the horizon ends: {k} events measured");
            break;
        }
        let before = [caps(w), caps(p)];
        let event = json!({
            "programID": prog, "eventName": format!("lat-{k}"), "targets": ["east"],
            "intervalPeriod": {"start": format!("2022-06-{:02}T{:02}:00:00Z", 1 + (done + 2) / 24, (done + 2) % 24), "duration": "PT1H"},
            "intervals": [{"id": 0, "payloads": [{"type": "IMPORT_CAPACITY_LIMIT", "values": [100.0 + k as f64]}]}],
        });
        // The VTN's tokens live 2 s (and a minute's grace): a fresh one for each event.
        let bl = token(vtn, "bl-1", "bl-secret-0123");
        let t0 = Instant::now();
        create_event(vtn, BASE, &bl, &event);
        let mut got = [None, None];
        let mut slot_at_take = [0, 0];
        let mut step_seen = [None, None];
        while step_seen.iter().any(Option::is_none) {
            for (i, s) in [w, p].into_iter().enumerate() {
                if got[i].is_none() && caps(s) > before[i] {
                    got[i] = Some(t0.elapsed().as_secs_f64());
                    slot_at_take[i] = get(s, "/v1/status")["slots_done"].as_u64().unwrap();
                } else if got[i].is_some() && step_seen[i].is_none() {
                    let d = get(s, "/v1/status")["slots_done"].as_u64().unwrap();
                    if d > slot_at_take[i] {
                        step_seen[i] = Some(t0.elapsed().as_secs_f64());
                    }
                }
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "event {k}: {got:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
        for i in 0..2 {
            taken[i].push(got[i].unwrap());
            stepped[i].push(step_seen[i].unwrap());
        }
        // The next event at another moment of the slot (a golden-ratio walk over its 2 s).
        std::thread::sleep(Duration::from_secs_f64((k as f64 * 0.618).fract() * 2.0));
    }
    println!(
        "OpenADR event created at the VTN -> cap held by the engine ({} events):",
        taken[0].len()
    );
    println!("  webhook:           {}", quantiles(taken[0].clone()));
    println!("  polling (1 s):     {}", quantiles(taken[1].clone()));
    println!(
        "-> the first slot stepped with it (slots of 2 s; decisions are made as a slot begins):"
    );
    println!("  webhook:           {}", quantiles(stepped[0].clone()));
    println!("  polling (1 s):     {}", quantiles(stepped[1].clone()));
    let _ = std::fs::remove_dir_all(&dir);
}

fn default_scenario(bin: &str) {
    let loaded = suandian_io::builtin::default_scenario(7, 2024);
    let sc = &loaded.scenario;
    // The baseline: asap without events, per site and slot.
    let mut asap = suandian_core::policy::by_name("asap").unwrap();
    let cfg = suandian_core::sim::SimConfig {
        forecast: loaded.simulation.forecast,
        record_timeline: true,
    };
    let base = suandian_core::sim::simulate(sc, asap.as_mut(), &cfg);
    let slot_h = sc.grid.slot_h();
    assert_eq!(slot_h, 1.0, "the default scenario's slots are hourly");
    let import = |site: usize, t: usize| {
        base.timeline
            .iter()
            .find(|r| r.site == site && r.slot == t)
            .map_or(0.0, |r| r.flows.import_kw)
    };
    let (_vtn, vtn) = start_vtn(bin);
    let bl = token(vtn, "bl-1", "bl-secret-0123");
    let prog = program(vtn, &bl, "default-week");
    let dir = fresh_dir("bench_oadr_d");
    let (_s, s) = start_webhook_service(
        vtn,
        &dir.join("d.db"),
        ("ven-1", "ven-secret-0123"),
        "ven-default",
        &[
            "--builtin",
            "default",
            "--paused",
            "--speed",
            "3600",
            "--openadr-poll-s",
            "3600",
        ],
    );
    wait_for("the subscription", Duration::from_secs(30), || {
        get(s, "/v1/openadr")["subscription"].is_string()
    });
    let names: Vec<String> = sc.sites.iter().map(|x| x.name.clone()).collect();
    grant(vtn, &bl, 1, &names);
    let t0 = Instant::now();
    for j in &sc.jobs {
        let body = json!({
            "id": j.id, "accelerators": j.accelerators, "runtime_h": j.runtime_h,
            "arrival_h": j.arrival_h,
            "deadline_h": j.deadline_h.is_finite().then_some(j.deadline_h),
            "allowed_sites": j.allowed_sites.iter().map(|&x| names[x].clone()).collect::<Vec<_>>(),
            "home_site": names[j.home_site], "interruptible": j.interruptible,
            "migratable": j.migratable, "checkpoint_gb": j.checkpoint_gb,
        });
        let (code, v) = http(s, "POST", "/v1/jobs", Some(TOKEN), &[], &body.to_string());
        assert_eq!(code, 201, "{v}");
    }
    eprintln!(
        "{} jobs posted in {:.1} s",
        sc.jobs.len(),
        t0.elapsed().as_secs_f64()
    );
    // Announced at 06:00 of day 2: a 25 % cut 10:00-13:00 (slots 34-36) and a 30 % cut at
    // 11:00 of day 3 (slot 59), each site's cap from the baseline in each hour.
    let announce = 30;
    let step = |n: usize| {
        let (code, v) = http(
            s,
            "POST",
            "/v1/clock",
            Some(TOKEN),
            &[],
            &json!({"step_slots": n}).to_string(),
        );
        assert_eq!(code, 200, "{v}");
    };
    step(announce);
    let bl = token(vtn, "bl-1", "bl-secret-0123");
    let cuts: [(f64, &[usize]); 2] = [(0.25, &[34, 35, 36]), (0.30, &[59])];
    let mut ids = Vec::new();
    for (share, slots) in cuts {
        for (k, name) in names.iter().enumerate() {
            if slots.iter().all(|&t| import(k, t) < 1e-6) {
                continue;
            }
            let start = sc.grid.slot_time(slots[0]);
            let intervals: Vec<Value> = slots
                .iter()
                .enumerate()
                .map(|(i, &t)| {
                    json!({"id": i, "payloads": [{"type": "IMPORT_CAPACITY_LIMIT",
                    "values": [((1.0 - share) * import(k, t) * 1000.0).round() / 1000.0]}]})
                })
                .collect();
            let event = json!({
                "programID": prog, "eventName": format!("cut-{share}-{name}"), "targets": [name],
                "payloadDescriptors": [{"objectType": "EVENT_PAYLOAD_DESCRIPTOR",
                    "payloadType": "IMPORT_CAPACITY_LIMIT", "units": "KW"}],
                "intervalPeriod": {"start": start.format("%Y-%m-%dT%H:%M:%SZ").to_string(), "duration": "PT1H"},
                "intervals": intervals,
            });
            let v = create_event(vtn, BASE, &bl, &event);
            ids.push((share, v["id"].as_str().unwrap().to_string()));
        }
    }
    let want: usize = ids.len();
    wait_for("every event's caps", Duration::from_secs(20), || {
        let v = get(s, "/v1/openadr");
        v["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["state"] == "upcoming")
            .count()
            == want
    });
    step(sc.grid.slots - announce);
    wait_for("every interval reported", Duration::from_secs(30), || {
        let v = get(s, "/v1/openadr");
        v["events"].as_array().unwrap().iter().all(|e| {
            e["intervals"]
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i["report_id"].is_string())
        })
    });
    let v = get(s, "/v1/openadr");
    println!("\nThe default week, coordinated, with the events (per hour, all targeted sites):");
    println!("  cut asked  slot  baseline kW  import kW  cut delivered");
    let mut rows: std::collections::BTreeMap<(u64, usize), (f64, f64, f64)> = Default::default();
    for e in v["events"].as_array().unwrap() {
        let share = ids
            .iter()
            .find(|(_, id)| e["id"] == json!(id))
            .map(|x| x.0)
            .unwrap();
        for i in e["intervals"].as_array().unwrap() {
            let t = i["start_h"].as_f64().unwrap() as usize;
            let r = rows.entry(((share * 100.0) as u64, t)).or_default();
            r.0 += i["baseline_kw"].as_f64().unwrap();
            r.1 += i["demand_kw"].as_f64().unwrap();
            r.2 += i["cap_kw"].as_f64().unwrap();
        }
    }
    for ((pct, t), (b, d, cap)) in &rows {
        println!(
            "  {pct:>8} %  {t:>4}  {b:>11.1}  {d:>9.1}  {:>11.1} %   (caps {cap:.1} kW)",
            100.0 * (b - d) / b
        );
        assert!(
            *d <= cap + 1e-6,
            "slot {t}: import {d} kW above the caps {cap} kW"
        );
    }
    // Deadlines: every job the service finished late, asap without the events finished late.
    let mut late = Vec::new();
    let mut after = String::new();
    loop {
        let path = format!("/v1/jobs?limit=1000{after}");
        let page = get(s, &path);
        for j in page["jobs"].as_array().unwrap() {
            let id = j["id"].as_str().unwrap();
            let job = sc.jobs.iter().find(|x| x.id == id).unwrap();
            let done = j["completed_h"].as_f64();
            let missed = match done {
                Some(c) => c > job.deadline_h + 1e-9,
                None => job.deadline_h <= sc.grid.horizon_h(),
            };
            if missed {
                late.push(id.to_string());
            }
        }
        match page["next"].as_str() {
            Some(n) => after = format!("&after={n}"),
            None => break,
        }
    }
    let asap_late: Vec<&str> = base
        .jobs
        .iter()
        .filter(|j| j.late(sc.grid.horizon_h()))
        .map(|j| j.id.as_str())
        .collect();
    let extra: Vec<&String> = late
        .iter()
        .filter(|id| !asap_late.contains(&id.as_str()))
        .collect();
    println!(
        "\nDeadline misses: {} with the events (coordinated), {} for asap without them; missed that asap met: {}",
        late.len(),
        asap_late.len(),
        extra.len()
    );
    assert!(extra.is_empty(), "missed that asap met: {extra:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(30);
    let Some(bin) = vtn_binary() else { return };
    latency(&bin, n);
    default_scenario(&bin);
}
