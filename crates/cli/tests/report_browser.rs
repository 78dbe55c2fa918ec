//! End to end: the HTML report of the default week opens in headless Chromium, every chart is
//! drawn (a visible, non-blank canvas), nothing is logged as an error, it renders in under 2 s
//! and weighs under 5 MB; a screenshot is left at `target/report.png` for a person to look at.
//!
//! Needs Debian's `chromium` (.ci/run installs it; `SUANDIAN_CHROMIUM` names another binary).
//! Without it the test prints `skipped: chromium not found` and passes, except in CI (env `CI`
//! set), where it fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_suandian"))
}

fn chromium() -> Option<String> {
    let candidates: Vec<String> = match std::env::var("SUANDIAN_CHROMIUM") {
        Ok(c) => vec![c],
        Err(_) => ["chromium", "chromium-browser", "google-chrome"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    candidates.into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Runs headless Chromium on `page` with `extra` arguments, killed after two minutes.
fn run_chromium(chrome: &str, page: &Path, extra: &[String]) -> Output {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let profile = std::env::temp_dir().join(format!(
        "suandian-chromium-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let mut cmd = Command::new(chrome);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--window-size=1400,3000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(&url);
    let (output, _) = common::output_within(&mut cmd, Duration::from_secs(120));
    let _ = std::fs::remove_dir_all(&profile);
    output
}

/// The value of attribute `name` in the `#render-status` element of a dumped DOM.
fn status_attr(dom: &str, name: &str) -> Option<String> {
    let start = dom.find("id=\"render-status\"")?;
    let tag = &dom[start..start + dom[start..].find('>')?];
    let key = format!("{name}=\"");
    let at = tag.find(&key)? + key.len();
    Some(tag[at..at + tag[at..].find('"')?].to_string())
}

fn target_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is <target>/tmp.
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn report_of_the_default_week_renders_in_chromium() {
    let Some(chrome) = chromium() else {
        if std::env::var_os("CI").is_some() {
            panic!("chromium not found, and CI is set: .ci/run must install it");
        }
        println!("skipped: chromium not found");
        return;
    };
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report_browser");
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("report.html");
    let saved = dir.join("run.json");
    let out = bin()
        .args([
            "simulate",
            "--quiet",
            "-p",
            "asap",
            "-p",
            "carbon-wait",
            "-p",
            "greenest-site",
            "-p",
            "coordinated",
            "-p",
            "oracle",
            "--format",
            "csv",
            "--report",
        ])
        .arg(&page)
        .arg("--save-run")
        .arg(&saved)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    assert_eq!(csv.lines().count(), 6, "a header and five policies: {csv}");

    // The saved run gives the same page.
    let again = dir.join("report-from-run.html");
    let out = bin()
        .arg("report")
        .arg(&saved)
        .arg("-o")
        .arg(&again)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    // (Not assert_eq: a failure would print two 1.4 MB pages.)
    assert!(
        html == std::fs::read_to_string(&again).unwrap(),
        "`suandian report` of the saved run differs from `simulate --report`"
    );

    let size = html.len();
    println!("report: {size} bytes");
    assert!(size < 5_000_000, "report is {size} bytes, over 5 MB");
    for external in ["<script src", "<link ", "http://", "https://"] {
        let page_without_vendor =
            html.replace(include_str!("../../io/assets/echarts.min.js"), "ECHARTS");
        assert!(
            !page_without_vendor.contains(external),
            "the report refers to something outside it: {external}"
        );
    }

    // Every chart drawn, no errors, rendered in under 2 s (best of three: the machine may be
    // busy with other tests).
    let expected_charts = 17;
    let mut best_ms = f64::INFINITY;
    for attempt in 0..3 {
        let out = run_chromium(
            &chrome,
            &page,
            // The page draws synchronously while loading: the DOM dumped after `load` has the
            // status, and performance.now() is real time (no virtual time budget).
            &["--dump-dom".to_string()],
        );
        let dom = String::from_utf8_lossy(&out.stdout);
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "chromium failed: {}",
            &log[log.len().saturating_sub(2000)..]
        );
        let attr = |n: &str| {
            status_attr(&dom, n).unwrap_or_else(|| {
                panic!(
                    "no render-status {n} in the DOM: {}",
                    &dom[..dom.len().min(500)]
                )
            })
        };
        assert_eq!(
            attr("data-errors"),
            "0",
            "errors: {}",
            attr("data-error-messages")
        );
        assert_eq!(
            attr("data-empty"),
            "0",
            "empty charts: {}",
            attr("data-empty-ids")
        );
        let charts: usize = attr("data-charts").parse().unwrap();
        assert_eq!(charts, expected_charts, "charts drawn");
        assert!(
            !log.contains("Uncaught"),
            "uncaught error in the console: {log}"
        );
        let ms: f64 = attr("data-ms").parse().unwrap();
        println!(
            "attempt {attempt}: {charts} charts, rendered {ms} ms after navigation (timings: {})",
            attr("data-timings")
        );
        best_ms = best_ms.min(ms);
        if best_ms < 2000.0 {
            break;
        }
    }
    assert!(best_ms < 2000.0, "the report took {best_ms} ms to render");

    // A screenshot for a person to look at.
    let png = target_dir().join("report.png");
    let _ = std::fs::remove_file(&png);
    let out = run_chromium(&chrome, &page, &[format!("--screenshot={}", png.display())]);
    assert!(out.status.success());
    let len = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    assert!(len > 50_000, "screenshot {} is {len} bytes", png.display());
    println!("screenshot: {}", png.display());
}

#[test]
fn report_command_rejects_a_run_without_report_data() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report_browser_bad");
    std::fs::create_dir_all(&dir).unwrap();
    let plain = dir.join("plain.json");
    std::fs::write(&plain, r#"{"policies": []}"#).unwrap();
    let out = bin()
        .arg("report")
        .arg(&plain)
        .arg("-o")
        .arg(dir.join("x.html"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--save-run"), "{err}");
}

#[test]
fn every_printing_command_takes_a_format() {
    let run = |args: &[&str]| {
        let out = bin().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let csv = run(&[
        "simulate",
        "--builtin",
        "demo",
        "--quiet",
        "--format",
        "csv",
    ]);
    let lines: Vec<&str> = csv.lines().collect();
    // A header and the demo's five policies.
    assert_eq!(lines.len(), 6, "{csv}");
    assert!(lines[0].starts_with("policy,") && lines[0].contains("carbon_location_kg"));
    assert!(lines[1].starts_with("asap,"));
    let json = run(&[
        "simulate",
        "--builtin",
        "demo",
        "--quiet",
        "--format",
        "json",
    ]);
    assert_eq!(
        json,
        run(&["simulate", "--builtin", "demo", "--quiet", "--json"])
    );
    let show: serde_json::Value =
        serde_json::from_str(&run(&["scenario", "show", "demo", "--format", "json"])).unwrap();
    assert_eq!(show["sites"].as_array().unwrap().len(), 3);
    let sites = run(&["scenario", "show", "demo", "--format", "csv"]);
    assert_eq!(sites.lines().count(), 4, "{sites}");
}

/// Issue 14, item 2: a string from a scenario or a saved run written unescaped into the page
/// ran as script (`economics.currency = "U<img src=x onerror=alert(1)>"`). A payload planted in
/// every string of a scenario (its name, site names and regions, accelerator models, the
/// currency, plant, job and inference names) must come out as text in every context: HTML text
/// and attributes, the title, the embedded JSON, the charts.
#[test]
fn strings_from_the_scenario_never_run_as_script() {
    let Some(chrome) = chromium() else {
        if std::env::var_os("CI").is_some() {
            panic!("chromium not found, and CI is set: .ci/run must install it");
        }
        println!("skipped: chromium not found");
        return;
    };
    let payload = "<img src=x onerror=document.body.setAttribute('data-pwned','img')>\
                   </script><script>document.body.setAttribute('data-pwned','script')</script>\
                   <!--'&";
    let text = String::from_utf8(
        bin()
            .args(["scenario", "export", "demo"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    // Site names everywhere they are referenced, then every other name-like string (a currency
    // of its own needs the battery's wear cost given).
    let mut planted = text.replace(
        "[sites.battery]\n",
        "[sites.battery]\nwear_cost_per_kwh = 0.03\n",
    );
    for site in ["east", "middle", "west"] {
        planted = planted.replace(&format!("\"{site}\""), &format!("\"{site}{payload}\""));
    }
    let planted: String = planted
        .lines()
        .map(|line| {
            let keyed = [
                "name = \"",
                "region = \"",
                "model = \"",
                "currency = \"",
                "id = \"",
            ]
            .iter()
            .any(|k| line.starts_with(k));
            if keyed && line.ends_with('"') && !line.contains(payload) {
                format!("{}{payload}\"\n", &line[..line.len() - 1])
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    assert!(
        planted.matches(payload).count() > 40,
        "the payload is planted widely"
    );
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report_injection");
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("planted.toml");
    std::fs::write(&scenario, planted).unwrap();
    let page = dir.join("report.html");
    let out = bin()
        .arg("simulate")
        .arg(&scenario)
        .args([
            "-q",
            "-p",
            "asap",
            "-p",
            "coordinated",
            "-p",
            "oracle",
            "--report",
        ])
        .arg(&page)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    let vendor = include_str!("../../io/assets/echarts.min.js");
    let own = html.replace(vendor, "ECHARTS");
    for raw in ["<img src=x", "</script><script>document", "<!--'"] {
        assert!(!own.contains(raw), "the page holds {raw:?} unescaped");
    }
    let out = run_chromium(&chrome, &page, &["--dump-dom".to_string()]);
    assert!(out.status.success());
    let dom = String::from_utf8_lossy(&out.stdout);
    // The payload's text is on the page (escaped); had it run, the body would carry the mark.
    let body = dom
        .find("<body")
        .map(|i| &dom[i..i + dom[i..].find('>').unwrap()]);
    assert!(
        body.is_some_and(|b| !b.contains("data-pwned")),
        "a planted payload ran: {body:?}"
    );
    assert!(
        !dom.contains("<img src=\"x\""),
        "a planted element was parsed"
    );
    assert_eq!(status_attr(&dom, "data-errors").as_deref(), Some("0"));
    // The strings are shown as text.
    assert!(
        dom.contains("east&lt;img src=x"),
        "the site name is shown as text"
    );
}
