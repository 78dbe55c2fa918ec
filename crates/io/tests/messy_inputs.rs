//! Small bad inputs the readers once took silently (issue 14, item 8): each is refused with
//! its file, line and field.

use std::path::PathBuf;
use suandian_io::series::{self, SeriesFormat};
use suandian_io::traces::{self, TimeUnit, TraceFormat, TraceOptions};

fn file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("suandian-messy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const PODS: &str = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n";

fn pods(row: &str) -> String {
    // One file per row: the tests run side by side.
    let name = format!(
        "pods-{}.csv",
        row.len() * 31 + row.bytes().map(usize::from).sum::<usize>()
    );
    let p = file(&name, &format!("{PODS}{row}\n"));
    let opts = TraceOptions {
        time_unit: TimeUnit::Seconds,
        accelerators_per_cpu: 1.0,
        limit: None,
    };
    traces::read_trace(&p, &name, TraceFormat::AlibabaGpu, &opts)
        .map(|_| String::new())
        .unwrap_or_else(|e| e.to_string())
}

#[test]
fn an_alibaba_pod_scheduled_before_its_creation_is_refused() {
    let e = pods("p,1000,1000,1,1000,,LS,Running,500,9000,100");
    assert!(e.contains("line 2") && e.contains("scheduled_time"), "{e}");
    assert_eq!(pods("p,1000,1000,1,1000,,LS,Running,100,9000,500"), "");
}

#[test]
fn a_negative_gpu_share_is_refused() {
    let e = pods("p,1000,1000,1,-500,,LS,Running,0,9000,100");
    assert!(e.contains("gpu_milli") && e.contains("-500"), "{e}");
}

#[test]
fn fractional_seconds_are_not_dropped() {
    let p = file(
        "f.csv",
        "time,value\n2024-01-01T00:00:00Z,1\n2024-01-01T01:00:00.5Z,2\n",
    );
    let e = series::read_file(&p, "f.csv", SeriesFormat::Generic, None).unwrap_err();
    assert!(e.to_string().contains("line 3"), "{e}");
}

#[test]
fn an_open_meteo_file_must_give_its_utc_offset() {
    let doc =
        r#"{"hourly":{"time":["2024-01-01T00:00","2024-01-01T01:00"],"temperature_2m":[1.0,2.0]}}"#;
    let p = file("w.json", doc);
    let e = series::read_file(&p, "w.json", SeriesFormat::OpenMeteo, None).unwrap_err();
    assert!(e.to_string().contains("utc_offset_seconds"), "{e}");
    let with = doc.replacen('{', r#"{"utc_offset_seconds":3600,"#, 1);
    let p = file("w2.json", &with);
    series::read_file(&p, "w2.json", SeriesFormat::OpenMeteo, None).unwrap();
}

/// Issue 14, item 9: the feed-in price can be a series (a market price, negative values
/// included), not only a constant; a run earns each slot's price for what it exports.
#[test]
fn the_feed_in_price_may_be_a_series() {
    let base = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../cli/tests/corpus/base.toml"
    ))
    .unwrap();
    let daily: Vec<String> = (0..24).map(|h: i32| format!("{}", h * 10 - 100)).collect();
    let text = base.replace(
        "feed_in_price_per_mwh = 15",
        &format!(
            "feed_in_price_per_mwh = {{ daily = [{}] }}",
            daily.join(", ")
        ),
    );
    let loaded =
        suandian_io::scenario::from_toml_str(&text, "feed-in.toml", std::path::Path::new(""))
            .unwrap();
    let f = &loaded.scenario.sites[1].grid.feed_in_price_per_mwh;
    assert_eq!((f[0], f[23]), (-100.0, 130.0));
    // Exported and read back the same.
    let again = suandian_io::scenario::from_toml_str(
        &suandian_io::export::to_toml(&loaded),
        "again.toml",
        std::path::Path::new(""),
    )
    .unwrap();
    assert_eq!(&again.scenario.sites[1].grid.feed_in_price_per_mwh, f);
    // Revenue is each slot's export at that slot's price.
    let cfg = suandian_core::sim::SimConfig {
        record_timeline: true,
        ..Default::default()
    };
    let mut asap = suandian_core::policy::by_name("asap").unwrap();
    let r = suandian_core::sim::simulate(&loaded.scenario, asap.as_mut(), &cfg);
    let want: f64 = r
        .timeline
        .iter()
        .map(|row| {
            row.flows.export_kw
                * loaded.scenario.sites[row.site].grid.feed_in_price_per_mwh[row.slot]
                / 1000.0
        })
        .sum();
    assert!(
        (r.metrics.costs.export_revenue - want).abs() < 1e-9,
        "{} vs {want}",
        r.metrics.costs.export_revenue
    );
}

/// Issue 14, item 9: one duplicated timestamp two years outside the horizon rejected a whole
/// market series. Only what the horizon uses is judged; a problem elsewhere is a warning
/// naming its line. Inside the horizon it is still an error.
#[test]
fn a_problem_far_from_the_horizon_is_a_warning() {
    let base = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../cli/tests/corpus/base.toml"
    ))
    .unwrap();
    let mut rows = vec!["time,value".to_string()];
    rows.push("2022-03-01T00:00:00Z,300".into());
    rows.push("2022-03-01T00:00:00Z,300".into()); // line 3 repeats line 2, two years away
    for h in 0..24 {
        rows.push(format!("2024-06-01T{h:02}:00:00Z,{}", 400 + h));
    }
    let csv = file("far.csv", &(rows.join("\n") + "\n"));
    let dir = csv.parent().unwrap();
    let text = base.replace("carbon = 450", "carbon = { file = \"far.csv\" }");
    let loaded = suandian_io::scenario::from_toml_str(&text, "far.toml", dir).unwrap();
    assert_eq!(loaded.scenario.sites[1].grid.carbon_g_per_kwh[3], 403.0);
    let w = loaded.warnings.join("\n");
    assert!(
        w.contains("far.csv: line 3") && w.contains("outside the scenario's horizon"),
        "{w}"
    );
    // The same duplicate inside the horizon.
    rows.insert(10, rows[9].clone());
    file("near.csv", &(rows.join("\n") + "\n"));
    let text = base.replace("carbon = 450", "carbon = { file = \"near.csv\" }");
    let e = suandian_io::scenario::from_toml_str(&text, "near.toml", dir).unwrap_err();
    assert!(
        e.to_string().contains("line 11") && e.to_string().contains("repeats"),
        "{e}"
    );
}

/// Issue 14, item 9: market data often comes in local standard time (AEMO's NEM time is
/// UTC+10 without daylight saving). `utc_offset` on a series file takes its timestamps that
/// give no offset as local time; those that give one keep it.
#[test]
fn a_series_file_can_say_its_utc_offset() {
    let base = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../cli/tests/corpus/base.toml"
    ))
    .unwrap();
    // Local (UTC+10) hours of 2024-06-01 10:00 to 2024-06-02 09:00: the scenario's UTC day.
    let mut rows = vec!["time,value".to_string()];
    for h in 0..24 {
        let (day, hour) = if h + 10 < 24 {
            (1, h + 10)
        } else {
            (2, h - 14)
        };
        rows.push(format!("2024-06-{day:02} {hour:02}:00:00,{}", 100 + h));
    }
    let csv = file("nem.csv", &(rows.join("\n") + "\n"));
    let dir = csv.parent().unwrap();
    let text = base.replace(
        "carbon = 450",
        "carbon = { file = \"nem.csv\", utc_offset = \"+10:00\" }",
    );
    let loaded = suandian_io::scenario::from_toml_str(&text, "nem.toml", dir).unwrap();
    let c = &loaded.scenario.sites[1].grid.carbon_g_per_kwh;
    assert_eq!((c[0], c[23]), (100.0, 123.0));
    // Without the option the same file is ten hours off: it does not cover the horizon.
    let text = base.replace("carbon = 450", "carbon = { file = \"nem.csv\" }");
    assert!(suandian_io::scenario::from_toml_str(&text, "utc.toml", dir).is_err());
    let text = base.replace(
        "carbon = 450",
        "carbon = { file = \"nem.csv\", utc_offset = \"ten\" }",
    );
    let e = suandian_io::scenario::from_toml_str(&text, "bad.toml", dir).unwrap_err();
    assert!(e.to_string().contains("utc_offset"), "{e}");
}
