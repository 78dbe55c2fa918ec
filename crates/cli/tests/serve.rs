//! `suandian serve` driven over HTTP only, on 127.0.0.1: the same decisions as `simulate`
//! (its metrics equal simulate's for the same jobs), writes refused without the token, inputs
//! refused with the field named, idempotent submissions, and a SIGKILL mid-run that loses
//! nothing: restarted on the same database, the run ends with simulate's metrics.
//!
//! Every test runs on both storage backends: SQLite (a file) and PostgreSQL, whose URL
//! `SUANDIAN_TEST_POSTGRES` gives (`scripts/postgres-dev.sh start` starts one on 127.0.0.1;
//! `.ci/run` does, and sets `SUANDIAN_REQUIRE_POSTGRES=1` so that it is not skipped there).
//! Each test gets a database of its own (`psql` makes it).

#[path = "common/serve_client.rs"]
mod serve_client;

use serve_client::{http, listening};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "test-admin-token-0123456789";

struct Service {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where a test keeps its state: a SQLite file or a PostgreSQL database of its own.
enum Db {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Db {
    /// A fresh, empty database named after `name` on `backend` (`sqlite` or `postgres`), or
    /// `None` (with the reason printed) where PostgreSQL is not at hand.
    fn fresh(backend: &str, name: &str) -> Option<Db> {
        let unique = format!("suandian_{name}_{}", std::process::id());
        if backend == "sqlite" {
            let dir = std::env::temp_dir().join(&unique);
            std::fs::create_dir_all(&dir).unwrap();
            return Some(Db::Sqlite(dir.join("state.db")));
        }
        let Ok(base) = std::env::var("SUANDIAN_TEST_POSTGRES") else {
            assert!(
                std::env::var_os("SUANDIAN_REQUIRE_POSTGRES").is_none(),
                "SUANDIAN_REQUIRE_POSTGRES is set but SUANDIAN_TEST_POSTGRES is not"
            );
            eprintln!("skipped: SUANDIAN_TEST_POSTGRES not set (scripts/postgres-dev.sh start)");
            return None;
        };
        let out = Command::new("psql")
            .args([base.as_str(), "-v", "ON_ERROR_STOP=1", "-q", "-c"])
            .arg(format!("DROP DATABASE IF EXISTS {unique}"))
            .arg("-c")
            .arg(format!("CREATE DATABASE {unique}"))
            .output()
            .expect("psql (PostgreSQL's client) runs");
        assert!(
            out.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (server, _) = base.rsplit_once('/').expect("a URL ending in /DATABASE");
        Some(Db::Postgres(format!("{server}/{unique}")))
    }

    fn arg(&self) -> std::ffi::OsString {
        match self {
            Db::Sqlite(p) => p.clone().into_os_string(),
            Db::Postgres(u) => u.into(),
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Db::Sqlite(p) = self {
            let _ = std::fs::remove_dir_all(p.parent().unwrap());
        }
    }
}

/// `body` as a test on each backend.
macro_rules! on_both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[test]
            fn sqlite() {
                if let Some(db) = super::Db::fresh("sqlite", stringify!($body)) {
                    super::$body(&db);
                }
            }
            #[test]
            fn postgres() {
                if let Some(db) = super::Db::fresh("postgres", stringify!($body)) {
                    super::$body(&db);
                }
            }
        }
    };
}

fn start(db: &Db, paused: bool) -> Service {
    start_with(db, paused, &[])
}

fn start_with(db: &Db, paused: bool, extra: &[&str]) -> Service {
    let mut args = vec!["--builtin", "demo", "--speed", "18000"];
    if paused {
        args.push("--paused");
    }
    args.extend_from_slice(extra);
    launch(db, &args)
}

/// `suandian serve ARGS` on 127.0.0.1 (a free port) with `db`; its address once it listens.
fn launch(db: &Db, args: &[&str]) -> Service {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_suandian"));
    cmd.arg("serve")
        .args(args)
        .args(["--listen", "127.0.0.1:0", "--database"])
        .arg(db.arg())
        .env("SUANDIAN_ADMIN_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().expect("the binary starts");
    let addr = listening(&mut child);
    Service { child, addr }
}

/// A GET whose answer is text.
fn get_text(addr: SocketAddr, path: &str, token: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp[9..12].parse().unwrap();
    (
        status,
        resp.split("\r\n\r\n").nth(1).unwrap_or("").to_string(),
    )
}

/// The demo's jobs as the API takes them.
fn demo_jobs() -> Vec<serde_json::Value> {
    let sc = suandian_io::builtin::demo().scenario;
    sc.jobs
        .iter()
        .map(|j| {
            serde_json::json!({
                "id": j.id,
                "accelerators": j.accelerators,
                "runtime_h": j.runtime_h,
                "arrival_h": j.arrival_h,
                "deadline_h": j.deadline_h.is_finite().then_some(j.deadline_h),
                "allowed_sites": j.allowed_sites.iter().map(|&s| sc.sites[s].name.clone()).collect::<Vec<_>>(),
                "home_site": sc.sites[j.home_site].name,
                "interruptible": j.interruptible,
                "migratable": j.migratable,
                "checkpoint_gb": j.checkpoint_gb,
            })
        })
        .collect()
}

/// The demand-response event the test posts: a cap of 30 % of the first site's import limit
/// from 18 h to 21 h, announced at 12 h.
fn event() -> suandian_core::model::DemandResponseEvent {
    let sc = suandian_io::builtin::demo().scenario;
    suandian_core::model::DemandResponseEvent {
        id: "evening-peak".into(),
        sites: vec![0],
        start_h: 18.0,
        end_h: 21.0,
        announced_h: 12.0,
        import_cap_kw: (sc.sites[0].grid.import_limit_kw * 0.3).round(),
        penalty_per_kwh: None,
    }
}

/// What `simulate` gives for the demo and the event with `policy` and `forecast` (the demo's
/// own where `None`).
fn simulated_with(
    policy: &str,
    forecast: Option<suandian_core::forecast::ForecastKind>,
) -> suandian_core::metrics::Metrics {
    let mut loaded = suandian_io::builtin::demo();
    loaded.scenario.demand_response.push(event());
    let sc = &loaded.scenario;
    let mut p =
        suandian_planner::policy_by_name(policy, sc, suandian_planner::ObjectiveMode::Balanced)
            .unwrap()
            .unwrap();
    let cfg = suandian_core::sim::SimConfig {
        forecast: forecast.unwrap_or(loaded.simulation.forecast),
        ..Default::default()
    };
    suandian_core::sim::simulate(sc, p.as_mut(), &cfg).metrics
}

/// What `simulate` gives for the demo and the event with the coordinated policy.
fn simulated() -> serde_json::Value {
    serde_json::to_value(simulated_with("coordinated", None)).unwrap()
}

/// The same with perfect forecasts (what a live service believes when the truth is posted as
/// the forecast).
fn simulated_perfect() -> serde_json::Value {
    let perfect = Some(suandian_core::forecast::ForecastKind::Perfect);
    serde_json::to_value(simulated_with("coordinated", perfect)).unwrap()
}

/// The demo's series as postings to `/v1/signals`: each feed's whole run as a forecast
/// published at slot 0.
fn demo_signals() -> Vec<serde_json::Value> {
    let sc = suandian_io::builtin::demo().scenario;
    let n = sc.grid.slots;
    let mut out = Vec::new();
    for site in &sc.sites {
        let g = &site.grid;
        for (signal, values) in [
            ("carbon_g_per_kwh", g.carbon_g_per_kwh.clone()),
            ("price_per_mwh", g.price_per_mwh.clone()),
            ("feed_in_price_per_mwh", g.feed_in_price_per_mwh.clone()),
            ("green_kw", (0..n).map(|t| site.green_kw(t)).collect()),
            ("pue", (0..n).map(|t| site.pue.at(t)).collect()),
        ] {
            out.push(serde_json::json!({
                "signal": signal, "site": site.name, "kind": "forecast",
                "start_h": 0.0, "values": values,
            }));
        }
    }
    for d in &sc.inference {
        out.push(serde_json::json!({
            "signal": "inference_tokens_per_s", "region": d.region, "kind": "forecast",
            "start_h": 0.0, "values": d.tokens_per_s,
        }));
    }
    out
}

fn wait_until_done(addr: SocketAddr, limit: Duration) -> serde_json::Value {
    let t = Instant::now();
    loop {
        let (code, s) = http(addr, "GET", "/v1/status", Some(TOKEN), &[], "");
        assert_eq!(code, 200, "{s}");
        if s["slots_done"] == s["slots"] {
            return s;
        }
        assert!(t.elapsed() < limit, "not done in {limit:?}: {s}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

on_both_backends!(
    the_service_runs_what_simulate_runs_and_refuses_what_it_must,
    runs_what_simulate_runs
);
fn runs_what_simulate_runs(db: &Db) {
    let svc = start(db, true);
    let a = svc.addr;
    assert_eq!(http(a, "GET", "/healthz", None, &[], "").0, 200);
    let jobs = demo_jobs();
    let first = jobs[0].to_string();
    // Writes need the admin token; reads need a token.
    assert_eq!(http(a, "POST", "/v1/jobs", None, &[], &first).0, 401);
    assert_eq!(
        http(
            a,
            "POST",
            "/v1/jobs",
            Some("wrong-token-wrong"),
            &[],
            &first
        )
        .0,
        401
    );
    assert_eq!(http(a, "GET", "/v1/status", None, &[], "").0, 401);
    // Bad input: 422 naming the field.
    let mut bad = jobs[0].clone();
    bad["accelerators"] = serde_json::json!("many");
    let (code, e) = http(a, "POST", "/v1/jobs", Some(TOKEN), &[], &bad.to_string());
    assert_eq!(code, 422, "{e}");
    assert_eq!(e["error"]["field"], "accelerators", "{e}");
    let mut bad = jobs[0].clone();
    bad["allowed_sites"] = serde_json::json!(["atlantis"]);
    let (code, e) = http(a, "POST", "/v1/jobs", Some(TOKEN), &[], &bad.to_string());
    assert_eq!(
        (code, e["error"]["field"].as_str()),
        (422, Some("allowed_sites[0]")),
        "{e}"
    );
    let mut bad = jobs[0].clone();
    bad["runtime_h"] = serde_json::json!(-1.0);
    let (code, e) = http(a, "POST", "/v1/jobs", Some(TOKEN), &[], &bad.to_string());
    assert_eq!(
        (code, e["error"]["field"].as_str()),
        (422, Some("runtime_h")),
        "{e}"
    );
    // Every job, each with its idempotency key; the first twice.
    for (k, j) in jobs.iter().enumerate() {
        let key = format!("key-{k}");
        let (code, v) = http(
            a,
            "POST",
            "/v1/jobs",
            Some(TOKEN),
            &[("Idempotency-Key", &key)],
            &j.to_string(),
        );
        assert_eq!(code, 201, "{v}");
    }
    let (code, v) = http(
        a,
        "POST",
        "/v1/jobs",
        Some(TOKEN),
        &[("Idempotency-Key", "key-0")],
        &first,
    );
    assert_eq!(
        (code, v["id"].clone()),
        (200, jobs[0]["id"].clone()),
        "the same key, the same job"
    );
    // Jobs come in arrival order: one arriving before the last one taken is refused, by name.
    let early = r#"{"id": "early", "accelerators": 1, "runtime_h": 1.0, "arrival_h": 0.0}"#;
    let (code, e) = http(a, "POST", "/v1/jobs", Some(TOKEN), &[], early);
    assert_eq!(
        (code, e["error"]["field"].as_str()),
        (422, Some("arrival_h")),
        "{e}"
    );
    let (code, _) = http(
        a,
        "POST",
        "/v1/jobs",
        Some(TOKEN),
        &[("Idempotency-Key", "other")],
        &first,
    );
    assert_eq!(code, 409, "the same id under another key");
    assert_eq!(
        http(a, "GET", "/v1/status", Some(TOKEN), &[], "").1["jobs"],
        jobs.len()
    );
    // A demand-response event, with its site by name.
    let e = event();
    let demo = suandian_io::builtin::demo().scenario;
    let body = serde_json::json!({
        "id": e.id, "sites": [demo.sites[0].name], "start_h": e.start_h, "end_h": e.end_h,
        "announced_h": e.announced_h, "import_cap_kw": e.import_cap_kw,
    });
    assert_eq!(
        http(a, "POST", "/v1/events", None, &[], &body.to_string()).0,
        401
    );
    let mut bad = body.clone();
    bad["end_h"] = serde_json::json!(10.0);
    let (code, err) = http(a, "POST", "/v1/events", Some(TOKEN), &[], &bad.to_string());
    assert_eq!(
        (code, err["error"]["field"].as_str()),
        (422, Some("end_h")),
        "{err}"
    );
    let (code, v) = http(a, "POST", "/v1/events", Some(TOKEN), &[], &body.to_string());
    assert_eq!(code, 201, "{v}");
    // Run it, kill -9 mid-run, restart on the same database: nothing lost.
    assert_eq!(
        http(
            a,
            "POST",
            "/v1/clock",
            Some(TOKEN),
            &[],
            r#"{"running": true}"#
        )
        .0,
        200
    );
    let t = Instant::now();
    loop {
        let s = http(a, "GET", "/v1/status", Some(TOKEN), &[], "").1;
        if s["slots_done"].as_u64().unwrap() >= 15 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "{s}");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(svc); // SIGKILL
    let svc = start(db, false);
    let s = http(svc.addr, "GET", "/v1/status", Some(TOKEN), &[], "").1;
    assert_eq!(s["jobs"], jobs.len(), "every acknowledged job is back: {s}");
    assert!(
        s["slots_done"].as_u64().unwrap() >= 15,
        "the loop resumes where it stopped: {s}"
    );
    wait_until_done(svc.addr, Duration::from_secs(60));
    let (code, m) = http(svc.addr, "GET", "/v1/metrics", Some(TOKEN), &[], "");
    assert_eq!(code, 200);
    assert_eq!(m["metrics"], simulated(), "live = backtest");
    // A run whose slots are all done takes no more jobs: they would never start.
    let late = r#"{"id": "after-the-end", "accelerators": 1, "runtime_h": 1.0}"#;
    let (code, e) = http(svc.addr, "POST", "/v1/jobs", Some(TOKEN), &[], late);
    assert_eq!(code, 409, "{e}");
    // The counterfactual tracked beside it is simulate's asap, and the savings are the
    // comparison's.
    let asap = simulated_with("asap", None);
    assert_eq!(m["reference"], serde_json::to_value(&asap).unwrap());
    let coordinated = simulated_with("coordinated", None);
    let savings = suandian_core::compare::Savings::between(&asap, &coordinated);
    assert_eq!(m["savings"], serde_json::to_value(&savings).unwrap());
    assert!(savings.equal_work_carbon.is_some(), "{savings:?}");
    assert!(
        m["metrics"]["dr_event_slots"].as_u64().unwrap() > 0,
        "the event covered slots: {m}"
    );
    // Listed by state, a page at a time.
    let (code, page) = http(
        svc.addr,
        "GET",
        "/v1/jobs?state=done&limit=7",
        Some(TOKEN),
        &[],
        "",
    );
    assert_eq!(code, 200, "{page}");
    assert_eq!(page["jobs"].as_array().unwrap().len(), 7);
    let next = page["next"].as_str().unwrap().to_string();
    let (_, rest) = http(
        svc.addr,
        "GET",
        &format!("/v1/jobs?state=done&limit=1000&after={next}"),
        Some(TOKEN),
        &[],
        "",
    );
    assert_eq!(
        rest["jobs"].as_array().unwrap().len(),
        jobs.len() - 7,
        "{rest}"
    );
    assert!(rest["next"].is_null());
    let (code, e) = http(
        svc.addr,
        "GET",
        "/v1/jobs?state=sleeping",
        Some(TOKEN),
        &[],
        "",
    );
    assert_eq!(
        (code, e["error"]["field"].as_str()),
        (422, Some("state")),
        "{e}"
    );
    // The same figures for Prometheus, units in the names.
    let (code, text) = get_text(svc.addr, "/metrics", TOKEN);
    assert_eq!(code, 200, "{text}");
    assert!(text.contains("suandian_slots_done 48\n"), "{text}");
    let saved = m["savings"]["equal_work_carbon"].as_f64().unwrap();
    assert!(
        text.contains(&format!(
            "suandian_saving_equal_work_carbon_percent {saved}\n"
        )),
        "{text}"
    );
    let n = jobs.len();
    assert!(
        text.contains(&format!("suandian_jobs{{state=\"done\"}} {n}\n")),
        "{text}"
    );
    let kwh = m["metrics"]["facility_kwh"].as_f64().unwrap();
    assert!(
        text.contains(&format!("suandian_facility_energy_kwh {kwh}\n")),
        "{text}"
    );
    assert_eq!(
        get_text(svc.addr, "/metrics", "not-the-token-at-all").0,
        401
    );
    let (code, j) = http(
        svc.addr,
        "GET",
        &format!("/v1/jobs/{}", jobs[0]["id"].as_str().unwrap()),
        Some(TOKEN),
        &[],
        "",
    );
    assert_eq!((code, j["state"].as_str()), (200, Some("done")), "{j}");
    // Its history: the decisions the engine took, the first a start where it ran.
    let history = j["history"].as_array().unwrap();
    assert_eq!(history[0]["action"], "start", "{j}");
    assert_eq!(history[0]["at_h"], j["started_h"], "{j}");
}

/// [`http`] that says `None` where the service did not answer (killed mid-request).
fn try_http(addr: SocketAddr, path: &str, key: &str, body: &str) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nAuthorization: Bearer {TOKEN}\r\nIdempotency-Key: {key}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    resp.get(9..12)?.parse().ok()
}

on_both_backends!(
    live_signals_posted_over_http_give_simulates_figures,
    live_signals
);
/// `--signals live`: the service believes only what is posted. Before anything is posted every
/// feed is on its fallback and /readyz says so; with the demo's series posted as forecasts, the
/// jobs and the evening cap posted, the clock run and the service SIGKILLed mid-run and
/// restarted, the run ends with simulate's figures for perfect forecasts, and the cap held.
fn live_signals(db: &Db) {
    let live = ["--signals", "live", "--forecast-max-age-h", "48"];
    let svc = start_with(db, true, &live);
    let a = svc.addr;
    let (code, r) = http(a, "GET", "/readyz", None, &[], "");
    assert_eq!(
        (code, r["signals"].as_str()),
        (200, Some("degraded")),
        "{r}"
    );
    assert_eq!(r["degraded_feeds"][0]["state"], "fallback", "{r}");
    let postings = demo_signals();
    // Refused with the field named, and nothing taken.
    let sig = &postings[0];
    for (field, value, named) in [
        ("signal", serde_json::json!("wind_speed"), "signal"),
        ("site", serde_json::json!("atlantis"), "site"),
        ("start_h", serde_json::json!(0.5), "start_h"),
        ("values", serde_json::json!([300.0, -1.0]), "values[1]"),
        ("values", serde_json::json!(vec![1.0; 49]), "values"),
        ("kind", serde_json::json!("observed"), "values"),
        ("region", serde_json::json!("north"), "region"),
    ] {
        let mut bad = sig.clone();
        bad[field] = value;
        let (code, e) = http(a, "POST", "/v1/signals", Some(TOKEN), &[], &bad.to_string());
        assert_eq!(
            (code, e["error"]["field"].as_str()),
            (422, Some(named)),
            "{bad} {e}"
        );
    }
    assert_eq!(
        http(a, "POST", "/v1/signals", None, &[], &sig.to_string()).0,
        401
    );
    for p in &postings {
        let (code, v) = http(a, "POST", "/v1/signals", Some(TOKEN), &[], &p.to_string());
        assert_eq!(code, 201, "{v}");
    }
    let (_, r) = http(a, "GET", "/readyz", None, &[], "");
    assert_eq!(r["signals"], "ok", "{r}");
    for j in demo_jobs() {
        let (code, v) = http(a, "POST", "/v1/jobs", Some(TOKEN), &[], &j.to_string());
        assert_eq!(code, 201, "{v}");
    }
    let e = event();
    let sc = suandian_io::builtin::demo().scenario;
    let body = serde_json::json!({
        "id": e.id, "sites": [sc.sites[0].name], "start_h": e.start_h, "end_h": e.end_h,
        "announced_h": e.announced_h, "import_cap_kw": e.import_cap_kw,
    });
    let (code, v) = http(a, "POST", "/v1/events", Some(TOKEN), &[], &body.to_string());
    assert_eq!(code, 201, "{v}");
    let (code, sites) = http(a, "GET", "/v1/sites", Some(TOKEN), &[], "");
    assert_eq!(code, 200, "{sites}");
    assert!(sites[0]["last_slot"].is_null(), "{sites}");
    // Step into the evening cap (18-21 h): the site is told it, and its import holds under it.
    let step = r#"{"step_slots": 20}"#;
    let (code, st) = http(a, "POST", "/v1/clock", Some(TOKEN), &[], step);
    assert_eq!((code, st["slots_done"].as_u64()), (200, Some(20)), "{st}");
    let (_, sites) = http(a, "GET", "/v1/sites", Some(TOKEN), &[], "");
    let east = &sites[0];
    assert_eq!(east["last_slot"], 19, "{east}");
    assert_eq!(east["import_cap_kw"], e.import_cap_kw, "{east}");
    assert_eq!(east["events_in_force"][0], "evening-peak", "{east}");
    assert!(
        east["import_kw"].as_f64().unwrap() <= e.import_cap_kw + 1e-6,
        "the cap holds: {east}"
    );
    assert!(east["facility_kw"].as_f64().unwrap() > 0.0, "{east}");
    assert!(sites[1]["import_cap_kw"].is_null(), "{sites}");
    // The plan in force: made at slot 19 for the slots from 20 on, per site.
    let (code, p) = http(a, "GET", "/v1/plan", Some(TOKEN), &[], "");
    assert_eq!((code, p["made_at_slot"].as_u64()), (200, Some(19)), "{p}");
    assert_eq!(p["first_slot"], 20, "{p}");
    let plan_sites = p["sites"].as_array().unwrap();
    assert_eq!(plan_sites.len(), sc.sites.len(), "{p}");
    let work: Vec<f64> = plan_sites
        .iter()
        .flat_map(|s| {
            s["work_acc_h"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
        })
        .collect();
    assert!(!work.is_empty() && work.iter().all(|w| *w >= -1e-9), "{p}");
    assert!(work.iter().sum::<f64>() > 0.0, "work is planned ahead: {p}");
    let (code, d) = http(a, "GET", "/v1/decisions", Some(TOKEN), &[], "");
    assert_eq!((code, d["slot"].as_u64()), (200, Some(19)), "{d}");
    assert_eq!(d["sites"].as_object().unwrap().len(), sc.sites.len(), "{d}");
    let run = r#"{"running": true}"#;
    assert_eq!(http(a, "POST", "/v1/clock", Some(TOKEN), &[], run).0, 200);
    let t = Instant::now();
    while http(a, "GET", "/v1/status", Some(TOKEN), &[], "").1["slots_done"]
        .as_u64()
        .unwrap()
        < 26
    {
        assert!(t.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(svc); // SIGKILL
    let svc = start_with(db, false, &live);
    wait_until_done(svc.addr, Duration::from_secs(60));
    let (_, m) = http(svc.addr, "GET", "/v1/metrics", Some(TOKEN), &[], "");
    assert_eq!(m["metrics"], simulated_perfect(), "live = backtest");
    assert!(m["metrics"]["dr_event_slots"].as_u64().unwrap() > 0, "{m}");
    assert_eq!(m["metrics"]["dr_over_cap_kwh"], 0.0, "the cap held: {m}");
    let (_, text) = get_text(svc.addr, "/metrics", TOKEN);
    let feeds = postings.len();
    assert!(
        text.contains(&format!(
            "suandian_signal_feeds{{state=\"forecast\"}} {feeds}\n"
        )),
        "{text}"
    );
    drop(svc);
    // A replaying service refuses postings: its signals are the scenario's.
    let other = Db::fresh(
        if matches!(db, Db::Sqlite(_)) {
            "sqlite"
        } else {
            "postgres"
        },
        "replay_refuses",
    )
    .unwrap();
    let svc = start(&other, true);
    let (code, e) = http(
        svc.addr,
        "POST",
        "/v1/signals",
        Some(TOKEN),
        &[],
        &sig.to_string(),
    );
    assert_eq!(
        (code, e["error"]["field"].as_str()),
        (409, Some("signal")),
        "{e}"
    );
}

on_both_backends!(
    a_database_that_fails_a_write_gives_503_and_takes_nothing,
    db_unavailable
);
/// The database refuses a write for a while (another session holds the jobs table's lock past
/// the service's 5 s limit): the submission gets a 503 naming the cause, and is not half taken
/// (the job is not there); once the database is back, the same submission gets a 201, and after
/// a restart every acknowledged job is there once.
fn db_unavailable(db: &Db) {
    let svc = start(db, true);
    let a = svc.addr;
    let job = |id: &str| format!(r#"{{"id": "{id}", "accelerators": 1, "runtime_h": 1.0}}"#);
    assert_eq!(try_http(a, "/v1/jobs", "ka", &job("a")), Some(201));
    // Hold the write lock for 8 s from another session.
    let mut locker = match db {
        Db::Sqlite(path) => Command::new("python3")
            .args([
                "-c",
                "import sqlite3, sys, time\n\
                 c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
                 c.execute('BEGIN IMMEDIATE')\n\
                 print('locked', flush=True)\n\
                 time.sleep(8)\n\
                 c.execute('COMMIT')",
            ])
            .arg(path)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs"),
        Db::Postgres(url) => Command::new("psql")
            .args([url.as_str(), "-q", "-c"])
            .arg(
                "BEGIN; LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE; \
                 SELECT 'locked'; SELECT pg_sleep(8); COMMIT;",
            )
            .stdout(Stdio::piped())
            .spawn()
            .expect("psql runs"),
    };
    match db {
        Db::Sqlite(_) => {
            let mut line = String::new();
            BufReader::new(locker.stdout.as_mut().unwrap())
                .read_line(&mut line)
                .unwrap();
            assert_eq!(line.trim(), "locked");
        }
        Db::Postgres(url) => {
            let t = Instant::now();
            loop {
                let out = Command::new("psql")
                    .args([url.as_str(), "-tA", "-c"])
                    .arg(
                        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON l.relation = c.oid \
                         WHERE c.relname = 'jobs' AND l.mode = 'AccessExclusiveLock' AND l.granted",
                    )
                    .output()
                    .unwrap();
                if String::from_utf8_lossy(&out.stdout).trim() == "1" {
                    break;
                }
                assert!(t.elapsed() < Duration::from_secs(10), "the lock never came");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    let t = Instant::now();
    let (code, e) = http(
        a,
        "POST",
        "/v1/jobs",
        Some(TOKEN),
        &[("Idempotency-Key", "kb")],
        &job("b"),
    );
    assert_eq!(code, 503, "{e}");
    assert!(t.elapsed() < Duration::from_secs(8), "the limit is 5 s");
    assert!(
        e["error"]["found"].as_str().unwrap().contains("database"),
        "{e}"
    );
    let (code, _) = http(a, "GET", "/v1/jobs/b", Some(TOKEN), &[], "");
    assert_eq!(code, 404, "a refused write is not half taken");
    locker.wait().unwrap();
    assert_eq!(try_http(a, "/v1/jobs", "kb", &job("b")), Some(201));
    drop(svc);
    let svc = start(db, true);
    let s = http(svc.addr, "GET", "/v1/status", Some(TOKEN), &[], "").1;
    assert_eq!(s["jobs"], 2, "{s}");
}

on_both_backends!(
    a_cancelled_event_ends_at_the_current_slot_and_stays_cancelled,
    cancel_event
);
/// `POST /v1/events/{id}/cancel`: an event in force ends at the current slot's start, one to come
/// is dropped; cancelling twice, an unknown id or no token is refused; the id is not taken
/// again; and after a SIGKILL the events and the run are as they were.
fn cancel_event(db: &Db) {
    let svc = start(db, true);
    let a = svc.addr;
    let sc = suandian_io::builtin::demo().scenario;
    let site = sc.sites[0].name.clone();
    for (id, start_h, end_h) in [
        ("evening", 18.0, 21.0),
        ("next-day", 30.0, 33.0),
        ("late", 40.0, 44.0),
    ] {
        let body = serde_json::json!({
            "id": id, "sites": [site], "start_h": start_h, "end_h": end_h,
            "announced_h": 12.0, "import_cap_kw": 1.0,
        });
        let (code, v) = http(a, "POST", "/v1/events", Some(TOKEN), &[], &body.to_string());
        assert_eq!(code, 201, "{v}");
    }
    let step = r#"{"step_slots": 19}"#;
    assert_eq!(http(a, "POST", "/v1/clock", Some(TOKEN), &[], step).0, 200);
    assert_eq!(
        http(a, "POST", "/v1/events/evening/cancel", None, &[], "").0,
        401
    );
    let (code, v) = http(a, "POST", "/v1/events/evening/cancel", Some(TOKEN), &[], "");
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        (v["end_h"].as_f64(), v["cancelled_at_slot"].as_u64()),
        (Some(19.0), Some(19)),
        "{v}"
    );
    let (code, v) = http(a, "POST", "/v1/events/evening/cancel", Some(TOKEN), &[], "");
    assert_eq!(
        (code, v["error"]["field"].as_str()),
        (409, Some("id")),
        "{v}"
    );
    let (code, v) = http(
        a,
        "POST",
        "/v1/events/next-day/cancel",
        Some(TOKEN),
        &[],
        "",
    );
    assert_eq!(
        (code, v["end_h"].as_f64()),
        (200, Some(30.0)),
        "dropped: {v}"
    );
    let (code, _) = http(a, "POST", "/v1/events/no-such/cancel", Some(TOKEN), &[], "");
    assert_eq!(code, 404);
    let again = serde_json::json!({
        "id": "next-day", "sites": [site], "start_h": 40.0, "end_h": 41.0, "import_cap_kw": 1.0,
    });
    let (code, v) = http(
        a,
        "POST",
        "/v1/events",
        Some(TOKEN),
        &[],
        &again.to_string(),
    );
    assert_eq!(
        (code, v["error"]["field"].as_str()),
        (409, Some("id")),
        "{v}"
    );
    let (_, sites) = http(a, "GET", "/v1/sites", Some(TOKEN), &[], "");
    assert!(
        sites[0]["import_cap_kw"].is_null(),
        "no cap from slot 19: {sites}"
    );
    let (_, before) = http(a, "GET", "/v1/events", Some(TOKEN), &[], "");
    drop(svc); // SIGKILL
    let svc = start(db, true);
    let a = svc.addr;
    let (_, after) = http(a, "GET", "/v1/events", Some(TOKEN), &[], "");
    assert_eq!(before, after, "the events as they were");
    // The event left standing caps the site in its window after the restart too.
    let step = r#"{"step_slots": 22}"#;
    assert_eq!(http(a, "POST", "/v1/clock", Some(TOKEN), &[], step).0, 200);
    let (_, sites) = http(a, "GET", "/v1/sites", Some(TOKEN), &[], "");
    assert_eq!(sites[0]["import_cap_kw"], 1.0, "{sites}");
    assert_eq!(sites[0]["events_in_force"], serde_json::json!(["late"]));
    let run = r#"{"step_slots": 1000}"#;
    let (code, st) = http(a, "POST", "/v1/clock", Some(TOKEN), &[], run);
    assert_eq!((code, st["slots_done"].as_u64()), (200, Some(48)), "{st}");
    let (_, m) = http(a, "GET", "/v1/metrics", Some(TOKEN), &[], "");
    assert_eq!(m["metrics"]["dr_event_slots"], 5, "slot 18, and 40-43: {m}");
    assert_eq!(
        m["reference"]["dr_event_slots"], 5,
        "the counterfactual too: {m}"
    );
}

on_both_backends!(a_cancelled_job_stops_and_stays_cancelled, cancel_job);
/// `POST /v1/jobs/{id}/cancel`: a job not yet arrived and a running one are withdrawn (their state
/// `cancelled`, listed as such); again, unknown, or without the token is refused; after a
/// SIGKILL they are still cancelled, and the run counts them.
fn cancel_job(db: &Db) {
    let svc = start(db, true);
    let a = svc.addr;
    for j in demo_jobs() {
        assert_eq!(
            http(a, "POST", "/v1/jobs", Some(TOKEN), &[], &j.to_string()).0,
            201
        );
    }
    let step = r#"{"step_slots": 12}"#;
    assert_eq!(http(a, "POST", "/v1/clock", Some(TOKEN), &[], step).0, 200);
    let first = |state: &str| {
        let (_, page) = http(
            a,
            "GET",
            &format!("/v1/jobs?state={state}&limit=1"),
            Some(TOKEN),
            &[],
            "",
        );
        page["jobs"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no {state} job: {page}"))
            .to_string()
    };
    let (pending, running, done) = (first("pending"), first("running"), first("done"));
    assert_eq!(
        http(
            a,
            "POST",
            &format!("/v1/jobs/{pending}/cancel"),
            None,
            &[],
            ""
        )
        .0,
        401
    );
    for id in [&pending, &running] {
        let (code, v) = http(
            a,
            "POST",
            &format!("/v1/jobs/{id}/cancel"),
            Some(TOKEN),
            &[],
            "",
        );
        assert_eq!((code, v["state"].as_str()), (200, Some("cancelled")), "{v}");
    }
    for id in [&running, &done] {
        let (code, v) = http(
            a,
            "POST",
            &format!("/v1/jobs/{id}/cancel"),
            Some(TOKEN),
            &[],
            "",
        );
        assert_eq!(
            (code, v["error"]["field"].as_str()),
            (409, Some("id")),
            "{v}"
        );
    }
    assert_eq!(
        http(a, "POST", "/v1/jobs/nobody/cancel", Some(TOKEN), &[], "").0,
        404
    );
    drop(svc); // SIGKILL
    let svc = start(db, true);
    let a = svc.addr;
    let (_, page) = http(a, "GET", "/v1/jobs?state=cancelled", Some(TOKEN), &[], "");
    let ids: Vec<&str> = page["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{page}");
    assert!(
        ids.contains(&pending.as_str()) && ids.contains(&running.as_str()),
        "{page}"
    );
    let run = r#"{"step_slots": 1000}"#;
    assert_eq!(http(a, "POST", "/v1/clock", Some(TOKEN), &[], run).0, 200);
    let (_, m) = http(a, "GET", "/v1/metrics", Some(TOKEN), &[], "");
    assert_eq!(m["metrics"]["jobs_cancelled"], 2, "{m}");
    assert_eq!(m["jobs_by_state"]["cancelled"], 2, "{m}");
    let (_, j) = http(
        a,
        "GET",
        &format!("/v1/jobs/{running}"),
        Some(TOKEN),
        &[],
        "",
    );
    assert!(j["completed_h"].is_null(), "{j}");
}

on_both_backends!(
    kill_9_mid_stream_loses_no_acknowledged_job,
    kill_9_mid_stream
);
/// 10,000 submissions from 8 concurrent clients over ten rounds, the service killed with
/// SIGKILL mid-stream each round and restarted on the same database: every job that got a
/// 2xx is there, once; a job that got no answer is there at most once (its key, sent again,
/// gives it back or makes it, never a second one).
fn kill_9_mid_stream(db: &Db) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let clients = 8;
    let per_round = 1000;
    let mut acked: Vec<String> = Vec::new();
    let mut unanswered: Vec<String> = Vec::new();
    for round in 0..10 {
        let mut svc = start(db, true);
        let addr = svc.addr;
        let done = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let done = done.clone();
                std::thread::spawn(move || {
                    let mut out = Vec::new();
                    for k in 0..per_round / clients {
                        let id = format!("r{round}-c{c}-{k}");
                        let body =
                            format!(r#"{{"id": "{id}", "accelerators": 1, "runtime_h": 1.0}}"#);
                        let code = try_http(addr, "/v1/jobs", &id, &body);
                        if code.is_some_and(|c| (200..300).contains(&c)) {
                            done.fetch_add(1, Ordering::SeqCst);
                        }
                        out.push((id, code));
                    }
                    out
                })
            })
            .collect();
        // Kill it when about half the round is acknowledged.
        let t = Instant::now();
        while done.load(Ordering::SeqCst) < per_round / 2 && t.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(1));
        }
        svc.child.kill().unwrap();
        svc.child.wait().unwrap();
        for h in handles {
            for (id, code) in h.join().unwrap() {
                match code {
                    Some(c) if (200..300).contains(&c) => acked.push(id),
                    Some(c) => panic!("{id}: {c} for a valid job"),
                    None => unanswered.push(id),
                }
            }
        }
    }
    assert_eq!(acked.len() + unanswered.len(), 10 * per_round);
    assert!(
        !unanswered.is_empty(),
        "the kills came after every answer: the test proves nothing"
    );
    let svc = start(db, true);
    let a = svc.addr;
    for id in &acked {
        let (code, j) = http(a, "GET", &format!("/v1/jobs/{id}"), Some(TOKEN), &[], "");
        assert_eq!(code, 200, "{id} was acknowledged and is gone: {j}");
    }
    let before = http(a, "GET", "/v1/status", Some(TOKEN), &[], "").1["jobs"]
        .as_u64()
        .unwrap() as usize;
    assert!(before >= acked.len() && before <= acked.len() + unanswered.len());
    // Sent again with its key, an unanswered job is given back (200) or made now (201): once.
    let mut made = 0;
    for id in &unanswered {
        let body = format!(r#"{{"id": "{id}", "accelerators": 1, "runtime_h": 1.0}}"#);
        match try_http(a, "/v1/jobs", id, &body) {
            Some(201) => made += 1,
            Some(200) => {}
            other => panic!("{id}: {other:?}"),
        }
    }
    let after = http(a, "GET", "/v1/status", Some(TOKEN), &[], "").1["jobs"]
        .as_u64()
        .unwrap() as usize;
    assert_eq!(after, before + made);
    assert_eq!(after, 10 * per_round, "every job once, none twice");
    drop(svc);
}

on_both_backends!(sigterm_shuts_down_gracefully, sigterm);
/// SIGTERM ends the service cleanly (exit 0, promptly), and what it accepted is there when it
/// starts again.
fn sigterm(db: &Db) {
    let mut svc = start(db, true);
    let body = r#"{"id": "one", "accelerators": 1, "runtime_h": 1.0}"#;
    assert_eq!(try_http(svc.addr, "/v1/jobs", "k1", body), Some(201));
    let pid = svc.child.id().to_string();
    let ok = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(ok.success());
    let t = Instant::now();
    let status = loop {
        if let Some(s) = svc.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    drop(svc);
    let svc = start(db, true);
    let (code, j) = http(svc.addr, "GET", "/v1/jobs/one", Some(TOKEN), &[], "");
    assert_eq!(code, 200, "{j}");
    drop(svc);
    // The database holds this run: another policy on it would re-step its jobs into another
    // run, so it is refused, with the reason.
    let out = Command::new(env!("CARGO_BIN_EXE_suandian"))
        .args([
            "serve",
            "--builtin",
            "demo",
            "--listen",
            "127.0.0.1:0",
            "-p",
            "asap",
        ])
        .arg("--database")
        .arg(db.arg())
        .env("SUANDIAN_ADMIN_TOKEN", TOKEN)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("holds a run of scenario `demo") && err.contains("policy coordinated, not of"),
        "{err}"
    );
    assert!(
        !err.contains("suandian-dev"),
        "a password in a message: {err}"
    );
}

/// The OpenAPI document (`GET /openapi.json`, generated from the code) validates
/// (openapi-spec-validator), and a bounded property-based pass over it (schemathesis: examples,
/// coverage, fuzzing and stateful sequences, every check but positive data acceptance, which
/// our checks beyond the schema refuse: a site's capacity, a feasible deadline) finds no 5xx,
/// no answer outside the document, and no write taken without the token. Both tools come from
/// PyPI into the virtual environment `SUANDIAN_PYTHON_VENV` names (`.ci/run` makes it).
#[test]
fn the_openapi_document_validates_and_fuzzing_finds_nothing() {
    let Some(venv) = std::env::var_os("SUANDIAN_PYTHON_VENV").map(std::path::PathBuf::from) else {
        assert!(
            std::env::var_os("SUANDIAN_REQUIRE_SCHEMATHESIS").is_none(),
            "SUANDIAN_REQUIRE_SCHEMATHESIS is set but SUANDIAN_PYTHON_VENV is not"
        );
        eprintln!(
            "skipped: SUANDIAN_PYTHON_VENV not set (python3 -m venv V && V/bin/pip install \
             schemathesis openapi-spec-validator)"
        );
        return;
    };
    let db = Db::fresh("sqlite", "fuzz").unwrap();
    let svc = start(&db, true);
    let a = svc.addr;
    let dir = match &db {
        Db::Sqlite(p) => p.parent().unwrap().to_path_buf(),
        Db::Postgres(_) => unreachable!(),
    };
    let mut s = TcpStream::connect(a).unwrap();
    write!(
        s,
        "GET /openapi.json HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let doc = resp.split("\r\n\r\n").nth(1).unwrap();
    let v: serde_json::Value = serde_json::from_str(doc).unwrap();
    assert_eq!(v["openapi"], "3.1.0");
    for path in [
        "/v1/jobs",
        "/v1/jobs/{id}",
        "/v1/events",
        "/v1/signals",
        "/metrics",
    ] {
        assert!(
            v["paths"][path].is_object(),
            "{path} is not in the document"
        );
    }
    let file = dir.join("openapi.json");
    std::fs::write(&file, doc).unwrap();
    let out = Command::new(venv.join("bin/python"))
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .expect("the venv's python runs");
    assert!(
        out.status.success(),
        "openapi-spec-validator: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(venv.join("bin/schemathesis"))
        .current_dir(&dir)
        .args(["run", &format!("http://{a}/openapi.json")])
        .args([
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
        ])
        .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
        .args(["--max-examples", "15", "--max-time", "60", "--seed", "1"])
        .args(["--no-color"])
        .output()
        .expect("schemathesis runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(" passed"), "{text}");
    // Still up, and answering.
    assert_eq!(http(a, "GET", "/healthz", None, &[], "").0, 200);
}

/// Where `SLURM_CONF` points (a running cluster: `scripts/slurm-dev.sh start`), or `None`
/// with the reason printed; `.ci/run` starts one and sets `SUANDIAN_REQUIRE_SLURM=1`.
fn slurm() -> Option<String> {
    match std::env::var("SLURM_CONF") {
        Ok(c) => Some(c),
        Err(_) => {
            assert!(
                std::env::var_os("SUANDIAN_REQUIRE_SLURM").is_none(),
                "SUANDIAN_REQUIRE_SLURM is set but SLURM_CONF is not"
            );
            eprintln!("skipped: SLURM_CONF not set (eval \"$(scripts/slurm-dev.sh start)\")");
            None
        }
    }
}

/// Slurm's queue: (job id, comment, state) of every job.
fn slurm_queue() -> Vec<(String, String, String)> {
    let out = Command::new("squeue")
        .arg("--json")
        .output()
        .expect("squeue runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["job_id"].to_string(),
                j["comment"].as_str().unwrap_or("").to_string(),
                j["job_state"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The plan on a real Slurm cluster (scenarios/three-small-sites.toml on
/// scripts/slurm-dev.sh's three partitions, an hourly slot every 2 s, jobs that `sleep` their
/// run time scaled alike): 24 jobs posted to the API become held Slurm jobs with the run's
/// marker; each starts in the partition of the site the plan started it at (never one it may
/// not use), within one slot of the plan's start; a job cancelled in Slurm behind suandian's
/// back is seen, withdrawn and accounted (and stays so after a restart); a SIGKILL mid-run and
/// a restart submit none twice; a job submitted to Slurm without the marker is never touched.
#[test]
fn the_plan_runs_on_slurm() {
    let Some(_) = slurm() else { return };
    let _one_at_a_time = SLURM.lock().unwrap_or_else(|e| e.into_inner());
    let db = Db::fresh("sqlite", "slurm").unwrap();
    let scenario = THREE_SMALL_SITES;
    let args = [scenario, "--executor", "slurm", "--speed", "1800"];
    let mut paused = args.to_vec();
    paused.push("--paused");
    let svc = launch(&db, &paused);
    let a = svc.addr;
    // Someone else's job, held: suandian must leave it alone.
    let out = Command::new("sbatch")
        .args([
            "--hold",
            "--parsable",
            "--partition=east",
            "--output=/dev/null",
            "--wrap=sleep 1",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let foreign = String::from_utf8_lossy(&out.stdout).trim().to_string();
    // A long job that someone cancels in Slurm behind suandian's back.
    let victim = serde_json::json!({"id": "victim", "accelerators": 1, "runtime_h": 12.0});
    let (code, v) = http(a, "POST", "/v1/jobs", Some(TOKEN), &[], &victim.to_string());
    assert_eq!(code, 201, "{v}");
    let sites = ["east", "middle", "west"];
    let mut jobs = Vec::new();
    for k in 0..24u32 {
        let allowed: Vec<&str> = match k % 3 {
            0 => sites.to_vec(),
            1 => vec!["east", "middle"],
            _ => vec![sites[(k as usize / 3) % 3]],
        };
        let body = serde_json::json!({
            "id": format!("s{k}"),
            "accelerators": 1 + k % 4,
            "runtime_h": 1.0 + f64::from(k % 3),
            "arrival_h": f64::from(k / 3),
            "max_delay_h": 4.0 + f64::from(k % 5),
            "allowed_sites": allowed,
        });
        let (code, v) = http(a, "POST", "/v1/jobs", Some(TOKEN), &[], &body.to_string());
        assert_eq!(code, 201, "{v}");
        jobs.push((format!("s{k}"), allowed));
    }
    // When each slot was stepped, from the status: (slots done, wall clock).
    let stepped = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(u64, f64)>::new()));
    let run = r#"{"running": true}"#;
    assert_eq!(http(a, "POST", "/v1/clock", Some(TOKEN), &[], run).0, 200);
    let watch = |addr: SocketAddr, until: u64| {
        let t = Instant::now();
        loop {
            let s = http(addr, "GET", "/v1/status", Some(TOKEN), &[], "").1;
            let done = s["slots_done"].as_u64().unwrap();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64();
            let mut v = stepped.lock().unwrap();
            if v.last().is_none_or(|l| l.0 != done) {
                v.push((done, now));
            }
            drop(v);
            if done >= until {
                return;
            }
            assert!(t.elapsed() < Duration::from_secs(120), "{s}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    watch(a, 3);
    let victim_slurm_id = {
        let t = Instant::now();
        loop {
            let (_, e) = http(a, "GET", "/v1/executor", Some(TOKEN), &[], "");
            let v = e["jobs"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["id"] == "victim")
                .cloned();
            if let Some(v) = v.filter(|v| v["state"] == "RUNNING") {
                break v["executor_id"].as_str().unwrap().to_string();
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "the victim never ran: {e}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    assert!(Command::new("scancel")
        .arg(&victim_slurm_id)
        .status()
        .unwrap()
        .success());
    let t = Instant::now();
    loop {
        let (_, j) = http(a, "GET", "/v1/jobs/victim", Some(TOKEN), &[], "");
        if j["state"] == "cancelled" {
            let last = j["history"].as_array().unwrap().last().unwrap().clone();
            assert_eq!(last["action"], "cancel", "{j}");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "not seen: {j}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, st) = http(a, "GET", "/v1/status", Some(TOKEN), &[], "");
    assert_eq!(st["ended_on_executor"], 1, "{st}");
    watch(a, 6);
    drop(svc); // SIGKILL mid-run
    let svc = launch(&db, &args);
    let a = svc.addr;
    watch(a, 20);
    // Every job done in the engine, and completed in Slurm.
    let t = Instant::now();
    let observed = loop {
        let (_, e) = http(a, "GET", "/v1/executor", Some(TOKEN), &[], "");
        let obs = e["jobs"].as_array().unwrap().clone();
        let ours: Vec<_> = obs
            .iter()
            .filter(|o| o["id"] != "victim")
            .cloned()
            .collect();
        if ours.len() == jobs.len() && ours.iter().all(|o| o["state"] == "COMPLETED") {
            break ours;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "not all completed: {e}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let (_, st) = http(a, "GET", "/v1/status", Some(TOKEN), &[], "");
    assert_eq!(st["executor"]["failures"], 0, "{st}");
    let stepped = stepped.lock().unwrap().clone();
    // The wall-clock moment slot `k` was stepped (the poller saw `k + 1` slots done).
    let stepped_at = |k: u64| stepped.iter().find(|(d, _)| *d == k + 1).map(|(_, w)| *w);
    let mut checked = 0;
    for (id, allowed) in &jobs {
        let o = observed.iter().find(|o| o["id"] == id.as_str()).unwrap();
        let (_, j) = http(a, "GET", &format!("/v1/jobs/{id}"), Some(TOKEN), &[], "");
        assert_eq!(j["state"], "done", "{j}");
        let starts: Vec<&serde_json::Value> = j["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["action"] == "start")
            .collect();
        let site = starts[0]["site"].as_str().unwrap();
        assert_eq!(
            o["partition"], site,
            "{id} ran where the plan put it: {o} {j}"
        );
        assert!(
            allowed.contains(&site),
            "{id} on {site}, allowed {allowed:?}"
        );
        // Within one slot (2 s) of the plan's start, and a second for Slurm's whole seconds.
        let slot = j["started_h"].as_f64().unwrap().floor() as u64;
        if let Some(w) = stepped_at(slot) {
            let started = o["start_unix_s"].as_f64().unwrap();
            assert!(
                started >= w - 1.5 && started <= w + 2.0 + 1.5,
                "{id}: Slurm started it at {started}, the plan's slot {slot} was stepped at {w}"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= jobs.len() / 2,
        "too few starts were timed: {checked}"
    );
    // None twice, and the foreign job untouched.
    let queue = slurm_queue();
    let ours = queue
        .iter()
        .filter(|(_, c, _)| c.starts_with("suandian:"))
        .count();
    assert!(ours >= jobs.len());
    let (_, e) = http(a, "GET", "/v1/executor", Some(TOKEN), &[], "");
    assert_eq!(
        e["jobs"].as_array().unwrap().len(),
        jobs.len() + 1,
        "one Slurm job per job"
    );
    // The cancellation behind suandian's back survived the restart, and is accounted.
    let (_, j) = http(a, "GET", "/v1/jobs/victim", Some(TOKEN), &[], "");
    assert_eq!(j["state"], "cancelled", "{j}");
    let (_, m) = http(a, "GET", "/v1/metrics", Some(TOKEN), &[], "");
    assert_eq!(m["metrics"]["jobs_cancelled"], 1, "{m}");
    let f = queue
        .iter()
        .find(|(id, _, _)| *id == foreign)
        .expect("the foreign job");
    assert_eq!(f.2, "PENDING", "untouched: {f:?}");
    let _ = Command::new("scancel").arg(&foreign).status();
}

/// The scenario the Slurm tests run: three sites of 16 accelerators, the partitions of
/// scripts/slurm-dev.sh's cluster.
const THREE_SMALL_SITES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../scenarios/three-small-sites.toml"
);

/// The Slurm tests share one cluster, and one of them stops its controller: one at a time.
static SLURM: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Starts slurmctld again when dropped, if it is not up.
struct RestartSlurmctld(String);

impl Drop for RestartSlurmctld {
    fn drop(&mut self) {
        let up = Command::new("scontrol").arg("ping").output();
        if !up.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("UP")) {
            let _ = Command::new("slurmctld").args(["-f", &self.0]).status();
        }
    }
}

/// slurmctld stopped for a minute while jobs are submitted and the clock runs: the API still
/// answers at once, the executor counts its failures and retries with backoff; once the
/// controller is back, every job is in Slurm once and runs.
#[test]
fn the_service_rides_out_a_minute_without_slurmctld() {
    let Some(conf) = slurm() else { return };
    let _one_at_a_time = SLURM.lock().unwrap_or_else(|e| e.into_inner());
    let db = Db::fresh("sqlite", "slurmctld_down").unwrap();
    let scenario = THREE_SMALL_SITES;
    let svc = launch(&db, &[scenario, "--executor", "slurm", "--speed", "1800"]);
    let a = svc.addr;
    let stop = Command::new("scontrol")
        .args(["shutdown", "slurmctld"])
        .status()
        .unwrap();
    assert!(stop.success());
    // Whatever happens below, the controller comes back for the other tests.
    let _restart = RestartSlurmctld(conf.clone());
    let down = Instant::now();
    // Make sure it is down before the submissions.
    while Command::new("scontrol")
        .arg("ping")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("UP"))
        .unwrap_or(false)
    {
        assert!(
            down.elapsed() < Duration::from_secs(20),
            "slurmctld does not stop"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let arrival = http(a, "GET", "/v1/status", Some(TOKEN), &[], "").1["slots_done"]
        .as_f64()
        .unwrap()
        + 1.0;
    for k in 0..5 {
        let body = serde_json::json!({
            "id": format!("d{k}"), "accelerators": 2, "runtime_h": 2.0,
            "arrival_h": arrival, "max_delay_h": 30.0,
        });
        let t = Instant::now();
        let (code, v) = http(a, "POST", "/v1/jobs", Some(TOKEN), &[], &body.to_string());
        assert_eq!(code, 201, "{v}");
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "the API waited for Slurm"
        );
    }
    // A minute without the controller: failures counted, the backlog kept (seen while it
    // lasts: a command may hang until its limit).
    let (mut failed, mut kept) = (false, false);
    while down.elapsed() < Duration::from_secs(60) {
        let (_, st) = http(a, "GET", "/v1/status", Some(TOKEN), &[], "");
        failed |= st["executor"]["failures"].as_u64().unwrap() >= 1;
        kept |= st["executor"]["backlog"].as_u64().unwrap() >= 1;
        std::thread::sleep(Duration::from_millis(500));
    }
    let (_, st) = http(a, "GET", "/v1/status", Some(TOKEN), &[], "");
    assert!(
        failed && kept,
        "no failure or no backlog seen in the minute: {st}"
    );
    assert!(
        st["slots_done"].as_u64().unwrap() >= 20,
        "the clock ran on: {st}"
    );
    let (_, text) = get_text(a, "/metrics", TOKEN);
    assert!(
        text.contains("suandian_executor_failures_total{executor=\"slurm\"}"),
        "{text}"
    );
    let back = Command::new("slurmctld")
        .args(["-f", &conf])
        .status()
        .unwrap();
    assert!(back.success());
    // Back: every job in Slurm once, and running or done.
    let t = Instant::now();
    loop {
        let (_, e) = http(a, "GET", "/v1/executor", Some(TOKEN), &[], "");
        let jobs = e["jobs"].as_array().unwrap();
        let started = jobs
            .iter()
            .filter(|o| ["RUNNING", "COMPLETED"].contains(&o["state"].as_str().unwrap()))
            .count();
        if jobs.len() == 5 && started == 5 && e["status"]["backlog"] == 0 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(90), "not recovered: {e}");
        std::thread::sleep(Duration::from_millis(500));
    }
    let marked = slurm_queue()
        .iter()
        .filter(|(_, c, _)| c.contains(":d") && c.starts_with("suandian:"))
        .count();
    assert!(marked >= 5);
}

/// `sbatch` with the offer marker: the job is adopted (it becomes `slurm-<id>`, marked as the
/// run's, and runs where and when the plan says, in its own partition choice); one with a
/// marker that does not parse is refused with the reason in its comment; one without a marker
/// is never touched.
#[test]
fn sbatch_jobs_with_the_marker_are_adopted() {
    let Some(_) = slurm() else { return };
    let _one_at_a_time = SLURM.lock().unwrap_or_else(|e| e.into_inner());
    let db = Db::fresh("sqlite", "adopt").unwrap();
    let scenario = THREE_SMALL_SITES;
    let svc = launch(&db, &[scenario, "--executor", "slurm", "--speed", "1800"]);
    let a = svc.addr;
    let sbatch = |comment: Option<&str>| {
        let mut cmd = Command::new("sbatch");
        cmd.args([
            "--hold",
            "--parsable",
            "--cpus-per-task=2",
            "--output=/dev/null",
        ]);
        if let Some(c) = comment {
            cmd.arg(format!("--comment={c}"));
        }
        let out = cmd.arg("--wrap=sleep 4").output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let good = sbatch(Some("suandian+ runtime_h=2 max_delay_h=6 sites=middle"));
    let bad = sbatch(Some("suandian+ runtime_h=soon"));
    let plain = sbatch(None);
    let id = format!("slurm-{good}");
    let t = Instant::now();
    let j = loop {
        let (code, j) = http(a, "GET", &format!("/v1/jobs/{id}"), Some(TOKEN), &[], "");
        if code == 200 && j["state"] == "done" {
            break j;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "not adopted and run: {j}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(j["history"][0]["site"], "middle", "{j}");
    let t = Instant::now();
    loop {
        let (_, e) = http(a, "GET", "/v1/executor", Some(TOKEN), &[], "");
        let o = e["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == id.as_str())
            .cloned();
        if let Some(o) = o.filter(|o| o["state"] == "COMPLETED") {
            assert_eq!(
                o["executor_id"],
                good.as_str(),
                "the user's own job, not a copy"
            );
            assert_eq!(o["partition"], "middle", "{o}");
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "not run in Slurm: {e}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let queue = slurm_queue();
    let comment = |x: &str| queue.iter().find(|(i, _, _)| i == x).unwrap().1.clone();
    assert!(
        comment(&bad).starts_with("suandian-refused: runtime_h"),
        "{}",
        comment(&bad)
    );
    assert_eq!(comment(&plain), "", "untouched");
    let plain_state = &queue.iter().find(|(i, _, _)| *i == plain).unwrap().2;
    assert_eq!(plain_state, "PENDING");
    let _ = Command::new("scancel").args([&bad, &plain]).status();
}

/// A demand-response cap on a real Slurm cluster, and the figures from what Slurm observed.
/// scenarios/three-small-sites.toml at an hourly slot every 6 s; an import cap of 10 kW at
/// `east` from 2 h to 7 h (its idle draw is 4.6 kW of IT at a PUE of 1.35, 6.2 kW, and each
/// accelerator at full power adds 0.6 kW of IT: the cap leaves room for 4 accelerators) and 18
/// jobs, a third of them allowed only at `east`. While the clock runs, every reading of the
/// queue the executor takes in the second half of a capped slot shows at most the accelerators
/// the cap carries running in `east`'s partition (in the first half a job the plan ended as the
/// slot began may still be finishing: Slurm starts a released job at its next scheduling pass,
/// a second or so later, and a loaded machine adds to it). At the end (the slots after the last
/// job stepped by hand), the model's figures are `simulate`'s for the same jobs and event, and
/// the figures from Slurm's observed start, stop and end instants match them within the
/// tolerances below (docs/slurm.md): the same jobs completed, the same deadlines missed (but
/// for jobs the plan finishes within Slurm's one-second resolution of their deadline), each
/// job started within a slot of the plan's start and run as long within 2 s of wall time
/// (Slurm's whole seconds and the job's launch: a third of an hour at this speed), the
/// accelerator-hours within the same per run, total cost and carbon within 1 %, and energy
/// over the cap under 0.2 kWh.
#[test]
fn the_cap_holds_on_slurm_and_the_observed_figures_match_simulate() {
    let Some(_) = slurm() else { return };
    let _one_at_a_time = SLURM.lock().unwrap_or_else(|e| e.into_inner());
    let db = Db::fresh("sqlite", "slurm_cap").unwrap();
    let path = THREE_SMALL_SITES;
    let mut loaded = suandian_io::scenario::load(std::path::Path::new(path)).unwrap();
    // What the service does for Slurm, which does not cap power: every job at full power.
    for s in &mut loaded.scenario.sites {
        s.accelerators.min_power_level = 1.0;
    }
    let speed = 600.0;
    let interval_s = 3600.0 / speed;
    let svc = launch(
        &db,
        &[path, "--executor", "slurm", "--speed", "600", "--paused"],
    );
    let a = svc.addr;
    let cap = suandian_core::model::DemandResponseEvent {
        id: "east-cap".into(),
        sites: vec![0],
        start_h: 2.0,
        end_h: 7.0,
        announced_h: 0.0,
        import_cap_kw: 10.0,
        penalty_per_kwh: None,
    };
    let body = serde_json::json!({"id": cap.id, "sites": ["east"], "start_h": cap.start_h,
        "end_h": cap.end_h, "import_cap_kw": cap.import_cap_kw});
    let (code, v) = http(a, "POST", "/v1/events", Some(TOKEN), &[], &body.to_string());
    assert_eq!(code, 201, "{v}");
    let names = ["east", "middle", "west"];
    for k in 0..18u32 {
        let allowed: Vec<usize> = match k % 3 {
            0 => vec![0],
            1 => vec![0, 1],
            _ => vec![0, 1, 2],
        };
        let arrival_h = f64::from(k / 3);
        let runtime_h = 1.0 + f64::from(k % 3);
        let job = suandian_core::model::Job {
            id: format!("c{k}"),
            arrival_h,
            accelerators: 1 + k % 4,
            runtime_h,
            deadline_h: arrival_h + runtime_h + 4.0 + f64::from(k % 3),
            interruptible: true,
            migratable: true,
            allowed_sites: allowed.clone(),
            home_site: allowed[0],
            checkpoint_gb: 10.0,
            flex_tier: None,
        };
        let body = serde_json::json!({
            "id": job.id, "accelerators": job.accelerators, "runtime_h": job.runtime_h,
            "arrival_h": job.arrival_h, "deadline_h": job.deadline_h,
            "allowed_sites": allowed.iter().map(|&s| names[s]).collect::<Vec<_>>(),
            "home_site": names[job.home_site], "interruptible": true, "migratable": true,
            "checkpoint_gb": job.checkpoint_gb,
        });
        let (code, v) = http(a, "POST", "/v1/jobs", Some(TOKEN), &[], &body.to_string());
        assert_eq!(code, 201, "{v}");
        loaded.scenario.jobs.push(job);
    }
    loaded.scenario.demand_response.push(cap.clone());
    // The accelerators the cap carries at `east` in slot `t`, by hand from the scenario.
    let east = &loaded.scenario.sites[0];
    let allowed_under_cap = |t: usize| {
        let it_kw = cap.import_cap_kw / east.pue.at(t) - east.accelerators.idle_it_kw();
        (it_kw / east.accelerators.busy_extra_kw(1.0) + 1e-9).floor() as u32
    };
    assert_eq!(allowed_under_cap(2), 4);
    let run = r#"{"running": true}"#;
    assert_eq!(http(a, "POST", "/v1/clock", Some(TOKEN), &[], run).0, 200);
    // Watch: when each slot began, and every reading of the queue.
    let mut began: std::collections::BTreeMap<u64, f64> = Default::default();
    let mut readings: Vec<(f64, u32)> = Vec::new();
    let t0 = Instant::now();
    loop {
        let (_, st) = http(a, "GET", "/v1/status", Some(TOKEN), &[], "");
        let done = st["slots_done"].as_u64().unwrap();
        if let Some(b) = st["slot_began_unix_s"].as_f64() {
            began.insert(done - 1, b);
        }
        let (_, e) = http(a, "GET", "/v1/executor", Some(TOKEN), &[], "");
        let at = e["read_at_unix_s"].as_f64().unwrap();
        let jobs = e["jobs"].as_array().unwrap();
        if readings.last().is_none_or(|r| r.0 != at) {
            let east_running: u32 = jobs
                .iter()
                .filter(|o| o["state"] == "RUNNING" && o["partition"] == "east")
                .map(|o| o["accelerators"].as_u64().unwrap() as u32)
                .sum();
            readings.push((at, east_running));
        }
        let all_done = jobs.len() == 18 && jobs.iter().all(|o| o["state"] == "COMPLETED");
        if done >= 16 && all_done {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(200), "{st} {e}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The cap, at every reading inside a capped slot.
    let mut checked = 0;
    for (&t, &b) in &began {
        let (from_h, to_h) = (t as f64, t as f64 + 1.0);
        if from_h < cap.start_h || to_h > cap.end_h {
            continue;
        }
        for &(at, running) in &readings {
            if at >= b + interval_s / 2.0 && at < b + interval_s {
                assert!(
                    running <= allowed_under_cap(t as usize),
                    "slot {t}: {running} accelerators running at east, {} {at} (began {b})",
                    allowed_under_cap(t as usize)
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 5, "too few readings inside the cap: {checked}");
    // The slots left, stepped by hand, then a reading after the last one ended.
    let (_, st) = http(
        a,
        "POST",
        "/v1/clock",
        Some(TOKEN),
        &[],
        r#"{"running": false}"#,
    );
    let left = 48 - st["slots_done"].as_u64().unwrap();
    let body = format!(r#"{{"step_slots": {left}}}"#);
    assert_eq!(http(a, "POST", "/v1/clock", Some(TOKEN), &[], &body).0, 200);
    let t = Instant::now();
    let m = loop {
        let (_, m) = http(a, "GET", "/v1/metrics", Some(TOKEN), &[], "");
        if m["observed"]["through_slot"] == 48 {
            break m;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "{m}");
        std::thread::sleep(Duration::from_millis(250));
    };
    // The model is simulate's run.
    let sc = &loaded.scenario;
    let mut p = suandian_planner::policy_by_name(
        "coordinated",
        sc,
        suandian_planner::ObjectiveMode::Balanced,
    )
    .unwrap()
    .unwrap();
    let cfg = suandian_core::sim::SimConfig {
        forecast: loaded.simulation.forecast,
        ..Default::default()
    };
    let sim =
        serde_json::to_value(suandian_core::sim::simulate(sc, p.as_mut(), &cfg).metrics).unwrap();
    assert_eq!(m["metrics"], sim, "the model is simulate's run");
    let obs = &m["observed"]["metrics"];
    eprintln!(
        "observed vs simulate: {}",
        [
            "jobs_completed",
            "deadline_misses",
            "batch_acc_h",
            "total_cost",
            "carbon_total_location_kg",
            "dr_over_cap_kwh",
            "suspensions",
        ]
        .iter()
        .map(|k| format!("{k} {} / {}", obs[k], sim[k]))
        .collect::<Vec<_>>()
        .join(", ")
    );
    assert_eq!(obs["jobs_completed"], sim["jobs_completed"]);
    // Slurm's instants are whole seconds, 0.25 h each at this speed: a job the plan finishes
    // right at its deadline may be seen to finish just after it. Any other miss is a miss.
    let resolution_h = 1.5 * speed / 3600.0;
    let tight = sc
        .jobs
        .iter()
        .filter(|j| {
            let (_, v) = http(
                a,
                "GET",
                &format!("/v1/jobs/{}", j.id),
                Some(TOKEN),
                &[],
                "",
            );
            let done = v["completed_h"].as_f64().unwrap();
            done <= j.deadline_h && done > j.deadline_h - resolution_h
        })
        .count() as u64;
    let (o_miss, s_miss) = (
        obs["deadline_misses"].as_u64().unwrap(),
        sim["deadline_misses"].as_u64().unwrap(),
    );
    let per_run_h = 2.0 * speed / 3600.0;
    let mut bound_acc_h = 0.0;
    for j in m["observed"]["jobs"].as_array().unwrap() {
        let (_, v) = http(
            a,
            "GET",
            &format!("/v1/jobs/{}", j["id"].as_str().unwrap()),
            Some(TOKEN),
            &[],
            "",
        );
        let f = |x: &serde_json::Value| x.as_f64().unwrap();
        let what = format!(
            "{}: observed {} .. {}, model {} .. {}",
            j["id"], j["started_h"], j["completed_h"], v["started_h"], v["completed_h"]
        );
        // Started within one slot of the plan's start, and run as long, within what Slurm's
        // timing resolves: its whole seconds and the job's launch, 2 s of wall time.
        assert!(
            (f(&j["started_h"]) - f(&v["started_h"])).abs() <= 1.0,
            "{what}"
        );
        let (ran, planned) = (
            f(&j["completed_h"]) - f(&j["started_h"]),
            f(&v["completed_h"]) - f(&v["started_h"]),
        );
        let runs = 1.0 + f(&j["suspensions"]);
        assert!((ran - planned).abs() <= per_run_h * runs, "{what}");
        let job = sc.jobs.iter().find(|x| x.id == j["id"]).unwrap();
        bound_acc_h += per_run_h * runs * f64::from(job.accelerators);
    }
    assert!(
        o_miss >= s_miss && o_miss <= s_miss + tight,
        "deadline misses: observed {o_miss}, simulate {s_miss}, {tight} finish within {resolution_h} h of theirs"
    );
    let close = |k: &str, tol: f64| {
        let (o, s) = (obs[k].as_f64().unwrap(), sim[k].as_f64().unwrap());
        assert!(
            (o - s).abs() <= tol * s.abs(),
            "{k}: observed {o}, simulate {s} (tolerance {tol})"
        );
    };
    // Accelerator-hours: each run within the same 2 s.
    let (o, s_) = (
        obs["batch_acc_h"].as_f64().unwrap(),
        sim["batch_acc_h"].as_f64().unwrap(),
    );
    assert!(
        (o - s_).abs() <= bound_acc_h,
        "batch_acc_h: observed {o}, simulate {s_}, bound {bound_acc_h}"
    );
    close("total_cost", 0.01);
    close("carbon_total_location_kg", 0.01);
    assert!(obs["dr_over_cap_kwh"].as_f64().unwrap() < 0.2, "{obs}");
    assert!(sim["dr_event_slots"].as_u64().unwrap() > 0);
}

/// A site's power budget counts everyone's running work: under a cap at `east` that carries 4
/// accelerators, someone else's job holding 3 of them leaves no room for a job of 3 that the
/// plan (asap) starts at once (the model knows nothing of the other job): the executor holds its release, counts
/// it, and releases it once the other job has ended; at no reading does the partition run more
/// than the cap carries.
#[test]
fn a_sites_budget_counts_everyones_running_work() {
    let Some(_) = slurm() else { return };
    let _one_at_a_time = SLURM.lock().unwrap_or_else(|e| e.into_inner());
    let db = Db::fresh("sqlite", "slurm_budget").unwrap();
    let path = THREE_SMALL_SITES;
    let svc = launch(
        &db,
        &[
            path,
            "--executor",
            "slurm",
            "--speed",
            "1800",
            "--paused",
            "--policy",
            "asap",
        ],
    );
    let a = svc.addr;
    let body =
        r#"{"id": "cap", "sites": ["east"], "start_h": 0, "end_h": 12, "import_cap_kw": 10}"#;
    assert_eq!(http(a, "POST", "/v1/events", Some(TOKEN), &[], body).0, 201);
    let job = r#"{"id": "b0", "accelerators": 3, "runtime_h": 1, "arrival_h": 0,
        "max_delay_h": 10, "allowed_sites": ["east"]}"#;
    assert_eq!(http(a, "POST", "/v1/jobs", Some(TOKEN), &[], job).0, 201);
    // Someone else's job on 3 of east's CPUs for 6 s (three slots).
    let out = Command::new("sbatch")
        .args([
            "--parsable",
            "--partition=east",
            "--cpus-per-task=3",
            "--output=/dev/null",
            "--wrap=sleep 6",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let foreign = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let running_at_east = || -> (u32, bool) {
        let out = Command::new("squeue").arg("--json").output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut cpus = 0;
        let mut foreign_running = false;
        for j in v["jobs"].as_array().unwrap() {
            if j["job_state"] == "RUNNING" && j["partition"] == "east" {
                cpus += j["cpus"].as_u64().unwrap() as u32;
                foreign_running |= j["job_id"] == foreign.parse::<u64>().unwrap();
            }
        }
        (cpus, foreign_running)
    };
    let t = Instant::now();
    while !running_at_east().1 {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the other job never ran"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let run = r#"{"running": true}"#;
    assert_eq!(http(a, "POST", "/v1/clock", Some(TOKEN), &[], run).0, 200);
    let t = Instant::now();
    let mut held_seen = false;
    let ours = loop {
        let (cpus, _) = running_at_east();
        assert!(
            cpus <= 4,
            "{cpus} CPUs running at east under a cap that carries 4"
        );
        let (_, e) = http(a, "GET", "/v1/executor", Some(TOKEN), &[], "");
        held_seen |= e["status"]["held_for_budget"].as_u64().unwrap() > 0;
        let o = e["jobs"][0].clone();
        if o["state"] == "COMPLETED" {
            break o;
        }
        assert!(t.elapsed() < Duration::from_secs(40), "{e}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let (_, j) = http(a, "GET", "/v1/jobs/b0", Some(TOKEN), &[], "");
    assert!(
        held_seen,
        "the release was never held for the budget: {ours} {j}"
    );
    // It ran after the other job, in east, and the engine had started it at once.
    let out = Command::new("squeue").arg("--json").output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let fj = v["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job_id"] == foreign.parse::<u64>().unwrap())
        .cloned()
        .unwrap();
    assert_eq!(ours["partition"], "east");
    assert!(
        ours["start_unix_s"].as_i64().unwrap()
            >= fj["end_unix_s"]
                .as_i64()
                .unwrap_or(fj["end_time"].as_i64().unwrap()),
        "ours {ours}, the other {fj}"
    );
    let (_, j) = http(a, "GET", "/v1/jobs/b0", Some(TOKEN), &[], "");
    assert_eq!(j["started_h"], 0.0, "{j}");
}

/// With `--slurm-gpus`, accelerators are GPUs: a job of 3 accelerators asks Slurm for 3 GPUs
/// (GRES `gpu`, which scripts/slurm-dev.sh declares), and the executor reads its accelerators
/// back from the GPUs Slurm gave it.
#[test]
fn accelerators_map_to_gpus_with_slurm_gpus() {
    let Some(_) = slurm() else { return };
    let _one_at_a_time = SLURM.lock().unwrap_or_else(|e| e.into_inner());
    let db = Db::fresh("sqlite", "slurm_gpus").unwrap();
    let path = THREE_SMALL_SITES;
    let args = [
        path,
        "--executor",
        "slurm",
        "--speed",
        "1800",
        "--policy",
        "asap",
        "--slurm-gpus",
    ];
    let svc = launch(&db, &args);
    let a = svc.addr;
    let job = r#"{"id": "g0", "accelerators": 3, "runtime_h": 1, "allowed_sites": ["west"]}"#;
    assert_eq!(http(a, "POST", "/v1/jobs", Some(TOKEN), &[], job).0, 201);
    let t = Instant::now();
    let mut seen_running = false;
    loop {
        let (_, e) = http(a, "GET", "/v1/executor", Some(TOKEN), &[], "");
        if let Some(o) = e["jobs"].as_array().and_then(|j| j.first()).cloned() {
            assert_eq!(o["accelerators"], 3, "{o}");
            let out = Command::new("squeue").arg("--json").output().unwrap();
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let sj = v["jobs"]
                .as_array()
                .unwrap()
                .iter()
                .find(|j| j["job_id"] == o["executor_id"].as_str().unwrap().parse::<u64>().unwrap())
                .cloned()
                .unwrap();
            // What it asked per node, and (running) what it was given.
            assert!(
                sj["tres_per_node"].as_str().unwrap().contains("gpu:3"),
                "{sj}"
            );
            if sj["job_state"] == "RUNNING" {
                let given = sj["gres_detail"].to_string();
                assert!(given.contains("gpu:3"), "{sj}");
            }
            seen_running |= o["state"] == "RUNNING";
            if o["state"] == "COMPLETED" {
                assert_eq!(o["partition"], "west");
                break;
            }
        }
        assert!(t.elapsed() < Duration::from_secs(30), "{e}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(seen_running, "never seen running");
}
