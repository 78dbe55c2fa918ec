//! The OpenADR tests' and bench's side of a VTN nobody here wrote (the `openadr` crate's
//! `openadr vtn`) and of the services that answer it.

use crate::serve_client::{http, listening};
use serde_json::{json, Value};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const TOKEN: &str = "test-admin-token-0123456789";
pub const SCENARIO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../scenarios/three-small-sites.toml"
);
pub const BASE: &str = "/openadr3/3.1.0";
pub const WEBHOOK_KEY: &str = "webhook-signing-key-for-tests";

pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The VTN's binary, or `None` (with the reason printed) where it is not installed.
pub fn vtn_binary() -> Option<String> {
    let from_env = std::env::var("SUANDIAN_OPENADR_VTN").ok();
    let found = from_env.or_else(|| {
        std::env::var_os("PATH").and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("openadr"))
                .find(|f| f.is_file())
                .map(|f| f.to_string_lossy().into_owned())
        })
    });
    if found.is_none() {
        assert!(
            std::env::var_os("SUANDIAN_REQUIRE_OPENADR").is_none(),
            "SUANDIAN_REQUIRE_OPENADR is set but no VTN binary was found (SUANDIAN_OPENADR_VTN, or `openadr` on the PATH)"
        );
        eprintln!("skipped: no OpenADR VTN (cargo install openadr --version 0.4.0 --features vtn,internal-auth,webhook --locked --ignore-rust-version)");
    }
    found
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_listening(addr: SocketAddr) {
    let t0 = Instant::now();
    while TcpStream::connect(addr).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "nothing listens on {addr}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `openadr vtn` on 127.0.0.1, in memory, with a business-logic client and two VENs.
pub fn start_vtn(bin: &str) -> (Proc, SocketAddr) {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let child = Command::new(bin)
        .args(["vtn", "--listen", &addr.to_string(), "--ephemeral"])
        .args(["--client", "bl-1:bl-secret-0123:bl"])
        .args(["--client", "ven-1:ven-secret-0123:ven"])
        .args(["--client", "ven-2:ven-secret-4567:ven"])
        .args([
            "--webhooks",
            "--webhook-allow-private",
            "--webhook-key",
            WEBHOOK_KEY,
        ])
        .args(["--token-ttl", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the VTN starts");
    wait_listening(addr);
    (Proc(child), addr)
}

pub fn token(vtn: SocketAddr, id: &str, secret: &str) -> String {
    let body =
        json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret});
    let (code, v) = http(
        vtn,
        "POST",
        &format!("{BASE}/auth/token"),
        None,
        &[],
        &body.to_string(),
    );
    assert_eq!(code, 200, "{v}");
    v["access_token"].as_str().unwrap().to_string()
}

/// `suandian serve` as a VEN of `vtn`: on the three small sites (unless `extra` names a
/// `--builtin`), paused at an hourly slot a second (unless it sets `--speed`).
pub fn start_service(
    vtn: SocketAddr,
    db: &std::path::Path,
    client: (&str, &str),
    name: &str,
    extra: &[&str],
) -> (Proc, SocketAddr) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_suandian"));
    // Paused at an hourly slot a second, unless the test says otherwise.
    let timing: &[&str] = if extra.contains(&"--speed") {
        &[]
    } else {
        &["--paused", "--speed", "3600"]
    };
    let scenario: &[&str] = if extra.contains(&"--builtin") {
        &[]
    } else {
        &[SCENARIO]
    };
    cmd.arg("serve")
        .args(scenario)
        .args(timing)
        .arg("--database")
        .arg(db)
        .args(["--openadr-vtn", &format!("http://{vtn}{BASE}")])
        .args(["--openadr-client-id", client.0, "--openadr-ven-name", name])
        .args(extra)
        .env("SUANDIAN_ADMIN_TOKEN", TOKEN)
        .env("SUANDIAN_OPENADR_CLIENT_SECRET", client.1)
        .env("SUANDIAN_OPENADR_WEBHOOK_KEY", WEBHOOK_KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if !extra.contains(&"--listen") {
        cmd.args(["--listen", "127.0.0.1:0"]);
    }
    let mut child = cmd.spawn().expect("the binary starts");
    let addr = listening(&mut child);
    (Proc(child), addr)
}

pub fn get(addr: SocketAddr, path: &str) -> Value {
    let (code, v) = http(addr, "GET", path, Some(TOKEN), &[], "");
    assert_eq!(code, 200, "GET {path}: {v}");
    v
}

pub fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    t0.elapsed()
}

pub fn step(addr: SocketAddr, slots: usize) {
    let body = json!({"step_slots": slots}).to_string();
    let (code, v) = http(addr, "POST", "/v1/clock", Some(TOKEN), &[], &body);
    assert_eq!(code, 200, "{v}");
}

/// The engine's events this VEN gave (ids `oadr:…`).
pub fn oadr_caps(addr: SocketAddr) -> Vec<Value> {
    get(addr, "/v1/events")
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["id"].as_str().unwrap().starts_with("oadr:"))
        .cloned()
        .collect()
}

pub fn submit_jobs(addr: SocketAddr) {
    // East-only work, enough to fill east's 16 accelerators for the first eight hours: asap
    // runs it at once; under a cap east must hold it back.
    for k in 0..8 {
        let body = json!({
            "id": format!("j{k}"), "accelerators": 2, "runtime_h": 6.0, "arrival_h": 0.0,
            "deadline_h": 40.0, "allowed_sites": ["east"], "home_site": "east",
            "interruptible": true, "migratable": false, "checkpoint_gb": 10.0,
        });
        let (code, v) = http(
            addr,
            "POST",
            "/v1/jobs",
            Some(TOKEN),
            &[],
            &body.to_string(),
        );
        assert_eq!(code, 201, "{v}");
    }
}

pub fn openadr(addr: SocketAddr) -> Value {
    get(addr, "/v1/openadr")
}

/// Where `SLURM_CONF` points (`scripts/slurm-dev.sh start`), or `None` with the reason printed;
/// `.ci/run` starts a cluster and sets `SUANDIAN_REQUIRE_SLURM=1`.
pub fn slurm() -> Option<String> {
    let c = std::env::var("SLURM_CONF").ok();
    if c.is_none() {
        assert!(
            std::env::var_os("SUANDIAN_REQUIRE_SLURM").is_none(),
            "SUANDIAN_REQUIRE_SLURM is set but SLURM_CONF is not"
        );
        eprintln!("skipped: SLURM_CONF not set (eval \"$(scripts/slurm-dev.sh start)\")");
    }
    c
}

/// A programme made by the business-logic client; its id.
pub fn program(vtn: SocketAddr, bl: &str, name: &str) -> String {
    let (code, p) = http(
        vtn,
        "POST",
        &format!("{BASE}/programs"),
        Some(bl),
        &[],
        &json!({"programName": name}).to_string(),
    );
    assert_eq!(code, 201, "{p}");
    p["id"].as_str().unwrap().to_string()
}

/// Grant every VEN the targets `targets` (the VTN shows a VEN a targeted event only then).
pub fn grant(vtn: SocketAddr, bl: &str, n: usize, targets: &[String]) {
    let mut vens = Vec::new();
    wait_for("the VENs registered", Duration::from_secs(20), || {
        let (_, v) = http(vtn, "GET", &format!("{BASE}/vens"), Some(bl), &[], "");
        vens = v.as_array().cloned().unwrap_or_default();
        vens.len() >= n
    });
    for v in &vens {
        let body = json!({"objectType": "BL_VEN_REQUEST", "clientID": v["clientID"],
            "venName": v["venName"], "targets": targets});
        let (code, a) = http(
            vtn,
            "PUT",
            &format!("{BASE}/vens/{}", v["id"].as_str().unwrap()),
            Some(bl),
            &[],
            &body.to_string(),
        );
        assert_eq!(code, 200, "{a}");
    }
}

/// A directory of its own for a test's databases, empty.
pub fn fresh_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("suandian_{name}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A service that takes events by webhook too: its address fixed first, so that the VTN can be
/// told where to call.
pub fn start_webhook_service(
    vtn: SocketAddr,
    db: &std::path::Path,
    client: (&str, &str),
    name: &str,
    extra: &[&str],
) -> (Proc, SocketAddr) {
    let port = free_port();
    let callback = format!("http://127.0.0.1:{port}/v1/openadr/notify");
    let listen = format!("127.0.0.1:{port}");
    let args = [
        &["--listen", &listen, "--openadr-callback-url", &callback][..],
        extra,
    ]
    .concat();
    start_service(vtn, db, client, name, &args)
}

/// The VTN's reports on `event_id` by `ven` (read by the business-logic client at `base`):
/// three, for `east`, each with the `DEMAND` and `BASELINE` the service shows for that interval
/// in `shown` (its `GET /v1/openadr` event) and `USAGE` an hour's worth of the demand.
pub fn check_reports(
    vtn: SocketAddr,
    base: &str,
    bl: &str,
    event_id: &str,
    ven: &str,
    shown: &Value,
) {
    let (code, reports) = http(
        vtn,
        "GET",
        &format!("{base}/reports?eventID={event_id}"),
        Some(bl),
        &[],
        "",
    );
    assert_eq!(code, 200, "{reports}");
    let mine: Vec<&Value> = reports
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["clientName"] == json!(ven))
        .collect();
    assert_eq!(mine.len(), 3, "{reports}");
    for r in mine {
        let res = &r["resources"][0];
        assert_eq!(res["resourceName"], "east");
        let iv = &res["intervals"][0];
        let here = shown["intervals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == iv["id"])
            .unwrap();
        let pay = |t: &str| {
            iv["payloads"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["type"] == t)
                .unwrap()["values"][0]
                .as_f64()
                .unwrap()
        };
        assert!(
            (pay("DEMAND") - here["demand_kw"].as_f64().unwrap()).abs() < 1e-3,
            "{r}"
        );
        assert!(
            (pay("BASELINE") - here["baseline_kw"].as_f64().unwrap()).abs() < 1e-3,
            "{r}"
        );
        assert!(
            (pay("USAGE") - pay("DEMAND")).abs() < 1e-3,
            "an hour's kWh is its mean kW: {r}"
        );
    }
}

/// `GET /metrics` (Prometheus text) with the admin token.
pub fn metrics_text(addr: SocketAddr) -> String {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    resp.split("\r\n\r\n").nth(1).unwrap_or("").to_string()
}

/// An event created by the business-logic client at `base` (`201`); the VTN's answer.
pub fn create_event(vtn: SocketAddr, base: &str, bl: &str, event: &Value) -> Value {
    let (code, v) = http(
        vtn,
        "POST",
        &format!("{base}/events"),
        Some(bl),
        &[],
        &event.to_string(),
    );
    assert_eq!(code, 201, "{v}");
    v
}

/// `east`'s import in the last slot stepped, kW.
pub fn east_import_kw(s: SocketAddr) -> f64 {
    let sites = get(s, "/v1/sites");
    let east = sites
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "east")
        .unwrap();
    east["import_kw"].as_f64().unwrap()
}
