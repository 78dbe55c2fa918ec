//! Property-based fuzzing of every parser (issue 14): the scenario TOML, each series format
//! (generic, prices and Electricity Maps CSV, Open-Meteo JSON), each trace format (GAIA,
//! Alibaba GPU, native) and saved runs. Each target mutates valid seeds (insertions,
//! deletions, duplications, and tokens that broke parsers before: `1e308`, `nan`, `inf`,
//! negative numbers, odd dates, quotes, BOMs, NUL bytes) and asserts that the parser returns
//! an answer, never panics or hangs, and that whatever it accepts is finite and valid.
//! (GAIA's own file formats, read by `suandian gaia`, are fuzzed in `crates/gaia/tests/fuzz.rs`.)
//! Failing inputs are kept in `fuzz.proptest-regressions` beside this file and replayed first.
//! `PROPTEST_CASES` sets the cases per target (CI: the default 128).

mod mutate;

use mutate::{apply, cases, edits, scratch};
use proptest::prelude::*;
use std::path::Path;
use suandian_io::series::{self, Bounds, GapRule, SeriesFormat};
use suandian_io::traces::{self, TimeUnit, TraceFormat, TraceOptions};

fn manifest(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

fn grid() -> suandian_core::TimeGrid {
    suandian_core::TimeGrid {
        start: chrono::DateTime::parse_from_rfc3339("2022-01-01T00:00:00Z")
            .unwrap()
            .into(),
        slot_minutes: 60,
        slots: 6,
    }
}

fn hourly(header: &str, row: impl Fn(usize) -> String) -> String {
    let mut s = format!("{header}\n");
    for h in 0..8 {
        s.push_str(&row(h));
        s.push('\n');
    }
    s
}

fn series_seeds() -> Vec<(SeriesFormat, &'static str, String)> {
    vec![
        (
            SeriesFormat::Generic,
            "g.csv",
            hourly("time,value", |h| format!("2022-01-01T{h:02}:00:00Z,{}", 100 + h)),
        ),
        (
            SeriesFormat::Prices,
            "p.csv",
            hourly("Datetime (UTC),Datetime (Local),Price (USD/MWh)", |h| {
                format!("2022-01-01 {h:02}:00:00+00:00,2022-01-01 {:02}:00:00+11:00,{}.5", h + 11, 40 + h)
            }),
        ),
        (
            SeriesFormat::Electricitymaps,
            "e.csv",
            hourly(
                "Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO₂eq/kWh (direct),Carbon Intensity gCO₂eq/kWh (LCA),Low Carbon Percentage,Renewable Percentage,Data Source,Data Estimated,Data Estimation Method",
                |h| format!("2022-01-01 {h:02}:00:00,Australia,New South Wales,AU-NSW,{}.4,376.35,56.31,56.31,opennem.org.au,false,", 300 + h),
            ),
        ),
        (
            SeriesFormat::OpenMeteo,
            "w.json",
            format!(
                "{{\"utc_offset_seconds\":0,\"hourly\":{{\"time\":[{}],\"temperature_2m\":[{}]}}}}",
                (0..8).map(|h| format!("\"2022-01-01T{h:02}:00\"")).collect::<Vec<_>>().join(","),
                (0..8).map(|h| format!("{}.5", 10 + h)).collect::<Vec<_>>().join(",")
            ),
        ),
    ]
}

fn trace_seeds() -> Vec<(TraceFormat, &'static str, String)> {
    vec![
        (
            TraceFormat::Gaia,
            "gaia.csv",
            "arrival_time,length,cpus\n0.0,6302.0,1\n10.0,300.5,4\n20.0,7200,2\n".into(),
        ),
        (
            TraceFormat::AlibabaGpu,
            "pods.csv",
            "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n\
             openb-pod-0000,12000,16384,1,1000,,LS,Running,0,12537496,0\n\
             openb-pod-0001,6000,8192,2,500,V100,BE,Succeeded,100,5000,200\n"
                .into(),
        ),
        (
            TraceFormat::Native,
            "native.csv",
            "id,arrival,accelerators,runtime_h,deadline,interruptible,migratable,allowed_sites,home_site\n\
             a,0.5,8,2.0,10,true,false,,\n\
             b,1.0,4,1.5,,false,true,,\n"
                .into(),
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn the_scenario_reader_never_panics(seed in 0usize..2, e in edits()) {
        let seeds = [
            manifest("tests/data/example.toml"),
            manifest("../cli/tests/corpus/base.toml"),
        ];
        let bytes = apply(&seeds[seed], &e);
        let text = String::from_utf8_lossy(&bytes);
        // The example's series files resolve against its folder.
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
        if let Ok(loaded) = suandian_io::scenario::from_toml_str(&text, "fuzz.toml", &base) {
            prop_assert!(loaded.scenario.validate().is_ok());
        }
    }

    #[test]
    fn the_series_readers_never_panic(seed in 0usize..4, e in edits()) {
        let (format, name, text) = series_seeds().swap_remove(seed);
        let path = scratch(name, &apply(&text, &e));
        if let Ok(raw) = series::read_file(&path, name, format, None) {
            if let Ok(r) = series::resample(&raw, &grid(), GapRule::Interpolate, Bounds::ANY) {
                prop_assert!(r.values.iter().all(|v| v.is_finite()));
            }
        }
    }

    #[test]
    fn the_trace_readers_never_panic(seed in 0usize..3, e in edits()) {
        let (format, name, text) = trace_seeds().swap_remove(seed);
        let path = scratch(name, &apply(&text, &e));
        let opts = TraceOptions { time_unit: TimeUnit::Seconds, accelerators_per_cpu: 1.0, limit: Some(1000) };
        if let Ok(t) = traces::read_trace(&path, name, format, &opts) {
            for j in &t.jobs {
                prop_assert!(j.runtime_h.is_finite() && j.runtime_h > 0.0 && j.accelerators > 0, "{j:?}");
            }
        }
    }

    #[test]
    fn the_saved_run_check_never_panics(e in edits(), path in 0usize..8, value in 0usize..8) {
        let doc = saved_run();
        // Text edits of the whole document, and a value set at one of its paths.
        let text = serde_json::to_string(&doc).unwrap();
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&apply(&text, &e)) {
            if suandian_io::report::check_run(&v).is_ok() {
                prop_assert!(suandian_io::report::html(&v).is_ok());
            }
        }
        let mut v = doc.clone();
        let paths = ["/policies/0/metrics/cost", "/report/runs", "/report/labels", "/report/sites/0/lat",
                     "/report/runs/0/gantt/0", "/scenario/slots", "/policies/0/name", "/report/runs/0/delays"];
        let values = [serde_json::json!(null), serde_json::json!("x"), serde_json::json!([]), serde_json::json!({}),
                      serde_json::json!(-1), serde_json::json!(1e308), serde_json::json!([1, 2]), serde_json::json!(true)];
        if let Some(slot) = v.pointer_mut(paths[path]) {
            *slot = values[value].clone();
        }
        if suandian_io::report::check_run(&v).is_ok() {
            prop_assert!(suandian_io::report::html(&v).is_ok());
        }
    }
}

/// A saved run of the demo (made once per test process).
fn saved_run() -> serde_json::Value {
    static DOC: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let loaded = suandian_io::builtin::demo();
        let cfg = suandian_core::sim::SimConfig {
            record_timeline: true,
            ..Default::default()
        };
        let results: Vec<_> = ["asap", "greenest-site"]
            .iter()
            .map(|n| {
                let mut p = suandian_core::policy::by_name(n).unwrap();
                suandian_core::sim::simulate(&loaded.scenario, p.as_mut(), &cfg)
            })
            .collect();
        suandian_io::report::data(&loaded, &cfg, &results)
    })
    .clone()
}
