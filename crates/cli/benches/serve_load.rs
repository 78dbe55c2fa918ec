//! Load on `suandian serve`: job submissions from concurrent clients over keep-alive HTTP/1.1
//! connections to 127.0.0.1, for a bounded time, against the SQLite store (every 2xx is on
//! disk, synchronous=FULL) or PostgreSQL (every 2xx committed). Prints the sustained rate and
//! the latency percentiles.
//!
//!     cargo bench -p suandian --bench serve_load               # 60 s, 16 clients
//!     cargo bench -p suandian --bench serve_load -- 10 8       # 10 s, 8 clients
//!     cargo bench -p suandian --bench serve_load -- 60 16 run  # the clock running (the demo's
//!                                    # 48 slots over the 60 s, coordinated re-plans every slot)
//!     cargo bench -p suandian --bench serve_load -- 60 16 paused postgres
//!                          # on PostgreSQL: SUANDIAN_TEST_POSTGRES's server, a fresh database
//!                          # (eval "$(scripts/postgres-dev.sh start)" starts one)
//!
//! Results: docs/benchmarks.md.

#[path = "../tests/common/serve_client.rs"]
#[allow(dead_code)] // the bench posts on kept-alive connections of its own
mod serve_client;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "bench-admin-token-0123456789";

/// One POST on a kept-alive connection; the status.
fn post(
    w: &mut TcpStream,
    r: &mut BufReader<TcpStream>,
    host: &str,
    body: &str,
    key: &str,
) -> Option<u16> {
    let req = format!(
        "POST /v1/jobs HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nAuthorization: Bearer {TOKEN}\r\nIdempotency-Key: {key}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    w.write_all(req.as_bytes()).ok()?;
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let status: u16 = line.get(9..12)?.parse().ok()?;
    let mut len = 0usize;
    loop {
        line.clear();
        r.read_line(&mut line).ok()?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(status)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let seconds: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(60);
    let clients: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(16);
    let running = args.get(2).is_some_and(|a| a == "run");
    let dir = std::env::temp_dir().join(format!("suandian-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let database = if args.get(3).is_some_and(|a| a == "postgres") {
        let base = std::env::var("SUANDIAN_TEST_POSTGRES")
            .expect("SUANDIAN_TEST_POSTGRES: eval \"$(scripts/postgres-dev.sh start)\"");
        let out = Command::new("psql")
            .args([
                base.as_str(),
                "-q",
                "-c",
                "DROP DATABASE IF EXISTS suandian_load",
            ])
            .args(["-c", "CREATE DATABASE suandian_load"])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (server, _) = base.rsplit_once('/').unwrap();
        println!("on PostgreSQL");
        format!("{server}/suandian_load")
    } else {
        println!("on SQLite");
        dir.join("load.db").to_string_lossy().into_owned()
    };
    // Running, the demo's 48 hourly slots last as long as the load (a slot a second for 48 s,
    // or spread over `seconds`): a run that is over takes no more jobs (409).
    let speed = (48.0 * 3600.0 / seconds.max(48) as f64).to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_suandian"))
        .args([
            "serve",
            "--builtin",
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--speed",
            &speed,
        ])
        .args(if running { &[][..] } else { &["--paused"][..] })
        .arg("--database")
        .arg(&database)
        .env("SUANDIAN_ADMIN_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let addr = serve_client::listening(&mut child).to_string();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut w = TcpStream::connect(&addr).unwrap();
                w.set_nodelay(true).unwrap();
                let mut r = BufReader::new(w.try_clone().unwrap());
                let (mut lat, mut errors) = (Vec::new(), 0usize);
                let mut k = 0;
                while Instant::now() < deadline {
                    let id = format!("c{c}-{k}");
                    let body = format!(r#"{{"id": "{id}", "accelerators": 1, "runtime_h": 1.0}}"#);
                    let t = Instant::now();
                    match post(&mut w, &mut r, &addr, &body, &id) {
                        Some(201) => lat.push(t.elapsed().as_secs_f64() * 1000.0),
                        _ => errors += 1,
                    }
                    k += 1;
                }
                (lat, errors)
            })
        })
        .collect();
    let (mut lat, mut errors) = (Vec::new(), 0);
    for h in handles {
        let (l, e) = h.join().unwrap();
        lat.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    if running {
        let mut s = TcpStream::connect(&addr).unwrap();
        let req = format!("GET /v1/status HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {TOKEN}\r\n\r\n");
        s.write_all(req.as_bytes()).unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        let body = resp.split("\r\n\r\n").nth(1).unwrap_or("");
        println!("the loop under this load: {body}");
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    println!(
        "{clients} clients, {elapsed:.1} s: {} jobs accepted ({:.0} per s), {errors} errors; latency ms p50 {:.2}, p99 {:.2}, max {:.2}",
        lat.len(),
        lat.len() as f64 / elapsed,
        pct(0.5),
        pct(0.99),
        lat.last().copied().unwrap_or(0.0)
    );
}
