//! The Slurm executor under 1,000 managed jobs, on a real cluster (`eval "$(scripts/slurm-dev.sh
//! start)"`): from the beginning of the slot in which the plan starts a job to Slurm running it,
//! p50 and p99, and the Slurm commands per slot.
//!
//!     cargo bench -p suandian --bench slurm_latency              # 1,000 jobs
//!     cargo bench -p suandian --bench slurm_latency -- 300       # 300 jobs
//!
//! `suandian serve scenarios/three-small-sites.toml --executor slurm --speed 1800` (a slot every
//! 2 s); the jobs (1 accelerator = 1 CPU, 1-2 h, arriving over the first 10 h) are posted, the
//! clock runs; the service's status is read every 20 ms (when each slot began) and Slurm's
//! queue every 100 ms (when each job was first seen running). Results: docs/benchmarks.md.

#[path = "../tests/common/serve_client.rs"]
mod serve_client;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const TOKEN: &str = "bench-admin-token-0123456789";

/// A request with the bench's token; the JSON answer.
fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> serde_json::Value {
    serve_client::http(addr, method, path, Some(TOKEN), &[], body).1
}

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1000);
    if std::env::var_os("SLURM_CONF").is_none() {
        println!("skipped: SLURM_CONF not set (eval \"$(scripts/slurm-dev.sh start)\")");
        return;
    }
    let dir = std::env::temp_dir().join(format!("suandian-slurm-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scenarios/three-small-sites.toml"
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_suandian"))
        .args(["serve", scenario, "--executor", "slurm", "--speed", "1800"])
        .args(["--paused", "--listen", "127.0.0.1:0", "--database"])
        .arg(dir.join("bench.db"))
        .env("SUANDIAN_ADMIN_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let addr = serve_client::listening(&mut child);
    for k in 0..n {
        let body = serde_json::json!({
            "id": format!("b{k}"),
            "accelerators": 1,
            "runtime_h": 1.0 + (k % 2) as f64,
            "arrival_h": (k * 10 / n) as f64,
            "max_delay_h": 36.0,
        });
        http(addr, "POST", "/v1/jobs", &body.to_string());
    }
    // Wait until Slurm holds them all.
    let t = Instant::now();
    while http(addr, "GET", "/v1/executor", "")["jobs"]
        .as_array()
        .map_or(0, |j| j.len())
        < n
    {
        assert!(t.elapsed() < Duration::from_secs(300), "not all submitted");
        std::thread::sleep(Duration::from_millis(200));
    }
    let submitted = http(addr, "GET", "/v1/status", "")["executor"]["commands"]
        .as_u64()
        .unwrap();
    http(addr, "POST", "/v1/clock", r#"{"running": true}"#);
    let mut stepped: Vec<(u64, f64)> = Vec::new();
    let mut first_running: HashMap<String, f64> = HashMap::new();
    let started = Instant::now();
    let mut next_queue = Instant::now();
    let slots_to_watch = 30;
    loop {
        let s = http(addr, "GET", "/v1/status", "");
        let done = s["slots_done"].as_u64().unwrap_or(0);
        if stepped.last().is_none_or(|l| l.0 != done) {
            // When the slot stepped begins (its orders go out a little before).
            if let Some(began) = s["slot_began_unix_s"].as_f64() {
                stepped.push((done, began));
            }
        }
        if Instant::now() >= next_queue {
            let out = Command::new("squeue")
                .args(["-h", "-t", "RUNNING", "-o", "%j"])
                .output()
                .unwrap();
            let t = now_s();
            for name in String::from_utf8_lossy(&out.stdout).lines() {
                first_running.entry(name.trim().to_string()).or_insert(t);
            }
            next_queue = Instant::now() + Duration::from_millis(100);
        }
        if done >= slots_to_watch || started.elapsed() > Duration::from_secs(120) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = http(addr, "GET", "/v1/status", "");
    let slots = status["slots_done"].as_u64().unwrap();
    let commands = status["executor"]["commands"].as_u64().unwrap() - submitted;
    // Each job's start in the plan: the moment its start slot began.
    let mut latency = Vec::new();
    for k in 0..n {
        let id = format!("b{k}");
        let j = http(addr, "GET", &format!("/v1/jobs/{id}"), "");
        let Some(h) = j["started_h"].as_f64() else {
            continue;
        };
        let slot = h.floor() as u64;
        let Some(&(_, at)) = stepped.iter().find(|(d, _)| *d == slot + 1) else {
            continue;
        };
        if let Some(seen) = first_running.get(&id) {
            latency.push((seen - at).max(0.0));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let ours: Vec<String> = {
        let out = Command::new("squeue")
            .args(["-h", "-o", "%i %k"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("suandian:") && l.contains(":b"))
            .filter_map(|l| l.split_whitespace().next().map(String::from))
            .collect()
    };
    for chunk in ours.chunks(200) {
        let _ = Command::new("scancel").args(chunk).status();
    }
    let _ = std::fs::remove_dir_all(&dir);
    latency.sort_by(f64::total_cmp);
    let pct = |p: f64| latency[((latency.len() as f64 * p) as usize).min(latency.len() - 1)];
    println!(
        "{n} jobs held in Slurm; {} started and timed over {slots} slots: from the slot's beginning \
         to Slurm running the job p50 {:.2} s, p99 {:.2} s, max {:.2} s (squeue read every 0.1 s); \
         {commands} Slurm commands over {slots} slots ({:.1} per slot); submitting took \
         {submitted} commands",
        latency.len(),
        pct(0.5),
        pct(0.99),
        latency.last().copied().unwrap_or(0.0),
        commands as f64 / slots.max(1) as f64,
    );
}
