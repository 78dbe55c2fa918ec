//! Real public data from ../shared/data (skipped, and passing, when it is absent).

mod common;
use common::*;
use std::path::Path;
use std::time::Instant;
use suandian_core::TimeGrid;
use suandian_io::series::{self, parse_timestamp, resample, Bounds, GapRule, SeriesFormat};
use suandian_io::traces::{self, TimeUnit, TraceOptions};

const ZONES: [&str; 9] = [
    "US-CAL-CISO",
    "US-TEX-ERCO",
    "US-MIDA-PJM",
    "US-NY-NYIS",
    "DE-LU",
    "GB",
    "SG",
    "AU-NSW",
    "CA-ON",
];

fn year_grid(start: i64) -> TimeGrid {
    TimeGrid {
        start: chrono::DateTime::from_timestamp(start, 0).unwrap(),
        slot_minutes: 60,
        slots: 8760,
    }
}

/// The `col`-th field of the first and last data lines of a CSV (no quoting in these files).
fn first_last(path: &Path, col: usize) -> (f64, f64) {
    let text = std::fs::read_to_string(path).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).filter(|l| !l.is_empty()).collect();
    let f = |l: &str| l.split(',').nth(col).unwrap().parse::<f64>().unwrap();
    (f(rows[0]), f(rows[rows.len() - 1]))
}

fn release() -> bool {
    !cfg!(debug_assertions)
}

#[test]
fn electricitymaps_year_hourly() {
    let Some(d) = shared_data() else { return };
    let g = year_grid(parse_timestamp("2022-01-01T00:00:00Z").unwrap());
    for zone in ZONES {
        let p = d.join(format!("carbon/{zone}_2022_hourly.csv"));
        for (column, idx) in [("direct", 4), ("lca", 5), ("renewable_percentage", 7)] {
            let raw = series::read_file(
                &p,
                &p.display().to_string(),
                SeriesFormat::Electricitymaps,
                Some(column),
            )
            .unwrap();
            let v = resample(&raw, &g, GapRule::Error, Bounds::NONNEG)
                .unwrap()
                .values;
            assert_eq!(v.len(), 8760);
            let (first, last) = first_last(&p, idx);
            assert_eq!((v[0], v[8759]), (first, last), "{zone} {column}");
        }
    }
}

#[test]
fn prices_year_hourly() {
    let Some(d) = shared_data() else { return };
    let g = year_grid(parse_timestamp("2022-01-01T00:00:00Z").unwrap());
    for zone in ZONES.iter().filter(|z| **z != "GB") {
        let p = d.join(format!("prices/{zone}_2022_prices.csv"));
        let raw = series::read_file(&p, "prices.csv", SeriesFormat::Prices, None).unwrap();
        let v = resample(&raw, &g, GapRule::Error, Bounds::ANY)
            .unwrap()
            .values;
        assert_eq!(v.len(), 8760);
        assert_eq!((v[0], v[8759]), first_last(&p, 2), "{zone}");
    }
}

#[test]
fn open_meteo_year_hourly() {
    let Some(d) = shared_data() else { return };
    for zone in ZONES {
        let p = d.join(format!("weather/{zone}_2022.json"));
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let offset = json["utc_offset_seconds"].as_i64().unwrap();
        let first_local = parse_timestamp(json["hourly"]["time"][0].as_str().unwrap()).unwrap();
        // The file's first hour, in UTC.
        let g = year_grid(first_local - offset);
        for column in [
            "temperature_2m",
            "relative_humidity_2m",
            "cloudcover",
            "windspeed_10m",
        ] {
            let raw = series::read_open_meteo(&p, "w.json", Some(column)).unwrap();
            let v = resample(&raw, &g, GapRule::Error, Bounds::ANY)
                .unwrap()
                .values;
            let src = json["hourly"][column].as_array().unwrap();
            assert_eq!(v.len(), 8760);
            assert_eq!(v[0], src[0].as_f64().unwrap(), "{zone} {column}");
            assert_eq!(v[8759], src[8759].as_f64().unwrap(), "{zone} {column}");
        }
        // A UTC year from 2022-01-01 00:00 is not covered where the offset is positive.
        if offset > 0 {
            let g = year_grid(parse_timestamp("2022-01-01T00:00:00Z").unwrap());
            let raw = series::read_open_meteo(&p, "w.json", None).unwrap();
            let e = resample(&raw, &g, GapRule::Error, Bounds::ANY).unwrap_err();
            assert!(e.to_string().contains("missing"), "{e}");
        }
    }
}

#[test]
fn five_minute_marginal_and_solar_to_hourly() {
    let Some(d) = shared_data() else { return };
    let p = d.join("marginal/caiso-north_2023_actual.csv");
    let raw = series::read_generic(&p, "m.csv", None).unwrap();
    let g = TimeGrid {
        start: chrono::DateTime::from_timestamp(parse_timestamp("2023-06-08 00:00").unwrap(), 0)
            .unwrap(),
        slot_minutes: 60,
        slots: 24 * 30,
    };
    let v = resample(&raw, &g, GapRule::Error, Bounds::NONNEG)
        .unwrap()
        .values;
    let mean12: f64 = raw.values[..12].iter().sum::<f64>() / 12.0;
    assert!((v[0] - mean12).abs() < 1e-9, "{} vs {mean12}", v[0]);
    let mean12: f64 = raw.values[12..24].iter().sum::<f64>() / 12.0;
    assert!((v[1] - mean12).abs() < 1e-9);

    // Solcast starts at 00:05: hourly slots from 01:00, one city's column, capacity factors.
    let p = d.join("solar/solcast2022_global_actual.csv");
    let raw = series::read_generic(&p, "s.csv", Some("Berlin")).unwrap();
    let g = TimeGrid {
        start: chrono::DateTime::from_timestamp(parse_timestamp("2022-06-08 01:00").unwrap(), 0)
            .unwrap(),
        slot_minutes: 15,
        slots: 4 * 24 * 28,
    };
    let v = resample(&raw, &g, GapRule::Error, Bounds::FRACTION)
        .unwrap()
        .values;
    assert!(v.iter().all(|x| (0.0..=1.0).contains(x)));
    assert!(v.iter().cloned().fold(0.0, f64::max) > 0.5);
}

/// Nine sites with a year of hourly carbon and prices each, through the TOML reader.
#[test]
fn nine_sites_for_a_year_load_fast() {
    let Some(d) = shared_data() else { return };
    let mut text = String::from(
        "version = 1\nname = \"nine zones, 2022\"\n[time]\nstart = \"2022-01-01T00:00:00Z\"\nslot_minutes = 60\nhorizon_hours = 8760\n",
    );
    for z in ZONES {
        let price = if z == "GB" {
            "150".to_string()
        } else {
            format!("{{ file = \"prices/{z}_2022_prices.csv\", format = \"prices\" }}")
        };
        let pue = if z == "GB" {
            "{ base = 1.1, threshold_c = 18, per_degree = 0.01, max = 1.4, temperature = { file = \"weather/GB_2022.json\", format = \"open-meteo\" } }".to_string()
        } else {
            "1.2".to_string()
        };
        text.push_str(&format!(
            "\n[[sites]]\nname = \"{z}\"\nregion = \"{z}\"\nlatitude = 0\nlongitude = 0\n\
             accelerators = {{ count = 512, model = \"H100\", idle_w = 100, peak_w = 700 }}\npue = {pue}\n\
             [sites.grid]\nimport_limit_kw = 1000\nprice = {price}\n\
             carbon = {{ file = \"carbon/{z}_2022_hourly.csv\", format = \"electricitymaps\" }}\n\
             [[sites.green]]\nname = \"proxy\"\nkind = \"other\"\ncapacity_kw = 100\n\
             capacity_factor = {{ file = \"carbon/{z}_2022_hourly.csv\", format = \"electricitymaps\", column = \"renewable_percentage\", scale = 0.01 }}\n"
        ));
    }
    let t0 = Instant::now();
    let s = parse_in(&text, &d).unwrap();
    let dt = t0.elapsed();
    println!("nine sites × a year (27 series files + 1 JSON): {dt:?}");
    assert_eq!(s.scenario.sites.len(), 9);
    for site in &s.scenario.sites {
        assert_eq!(site.grid.carbon_g_per_kwh.len(), 8760);
        assert_eq!(site.green[0].capacity_factor.len(), 8760);
    }
    let (first, last) = first_last(&d.join("carbon/DE-LU_2022_hourly.csv"), 4);
    let de = &s.scenario.sites[4].grid.carbon_g_per_kwh;
    assert_eq!((de[0], de[8759]), (first, last));
    // GB's weather is in UTC (offset 0), so it covers the UTC year.
    assert!(matches!(
        s.scenario.sites[5].pue,
        suandian_core::Pue::Temperature { .. }
    ));
    if release() {
        assert!(dt.as_secs_f64() < 1.0, "took {dt:?}");
    }
}

fn data_lines(p: &Path) -> usize {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count()
}

#[test]
fn gaia_100k_in_hours() {
    let Some(d) = shared_data() else { return };
    let p = d.join("workload/gaia_pai-100k.csv");
    let opts = TraceOptions {
        time_unit: TimeUnit::Hours,
        accelerators_per_cpu: 1.0,
        limit: None,
    };
    let t0 = Instant::now();
    let tr = traces::read_gaia(&p, "gaia.csv", &opts).unwrap();
    let dt = t0.elapsed();
    println!("GAIA pai-100k read: {dt:?}");
    // The file holds 99,998 jobs (its name rounds it to 100k).
    assert_eq!(tr.jobs.len(), data_lines(&p));
    assert!(tr.jobs.len() > 99_000);
    if release() {
        assert!(dt.as_secs_f64() < 0.5, "took {dt:?}");
    }

    // Through the scenario: a year, one big site, deadlines from max_delay_h.
    let text = format!(
        "version = 1\nname = \"gaia\"\n[time]\nstart = \"2022-01-01T00:00:00Z\"\nslot_minutes = 60\nhorizon_hours = 8760\n\
         [[sites]]\nname = \"a\"\nregion = \"r\"\nlatitude = 0\nlongitude = 0\n\
         accelerators = {{ count = 512, model = \"x\", idle_w = 100, peak_w = 700 }}\npue = 1.2\n\
         [sites.grid]\nimport_limit_kw = 1000\nprice = 50\ncarbon = 400\n\
         [[work.traces]]\nfile = \"{}\"\nformat = \"gaia\"\ntime_unit = \"hours\"\nmax_delay_h = 24\n",
        p.display()
    );
    let s = parse(&text).unwrap();
    let jobs = &s.scenario.jobs;
    assert_eq!(jobs.len(), tr.jobs.len());
    assert!(jobs.windows(2).all(|w| w[0].arrival_h <= w[1].arrival_h));
    assert_eq!(jobs[0].runtime_h, 25.408055555555556);
    assert_eq!(
        jobs[0].deadline_h,
        jobs[0].arrival_h + jobs[0].runtime_h + 24.0
    );
    assert_eq!(jobs.iter().map(|j| j.accelerators).max(), Some(400));

    // The 1k trace is in seconds; `limit` keeps the first N.
    let p = d.join("workload/gaia_pai_1k.csv");
    let tr = traces::read_gaia(
        &p,
        "gaia1k.csv",
        &TraceOptions {
            time_unit: TimeUnit::Seconds,
            accelerators_per_cpu: 1.0,
            limit: Some(10),
        },
    )
    .unwrap();
    assert_eq!(tr.jobs.len(), 10);
    assert_eq!(tr.jobs[0].runtime_h, 6302.0 / 3600.0);
}

#[test]
fn alibaba_gpu_pod_list() {
    let Some(d) = shared_data() else { return };
    let p = d.join("workload/alibaba_gpu_v2023_openb_pod_list_default.csv");
    // Expected counts, computed independently of the reader.
    let text = std::fs::read_to_string(&p).unwrap();
    let (mut no_gpu, mut unscheduled, mut no_run, mut kept) = (0, 0, 0, 0);
    for l in text.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        if f[3] == "0" {
            no_gpu += 1;
        } else if f[10].is_empty() {
            unscheduled += 1;
        } else if f[9].parse::<i64>().unwrap() <= f[10].parse::<i64>().unwrap() {
            no_run += 1;
        } else {
            kept += 1;
        }
    }
    let tr = traces::read_alibaba_gpu(&p, "pods.csv", None).unwrap();
    assert_eq!(tr.jobs.len(), kept);
    let w = tr.warnings.join("\n");
    assert!(
        w.contains(&format!("skipped {no_gpu} pods with num_gpu = 0")),
        "{w}"
    );
    assert!(
        w.contains(&format!("skipped {unscheduled} GPU pods never scheduled")),
        "{w}"
    );
    if no_run > 0 {
        assert!(
            w.contains(&format!("skipped {no_run} GPU pods whose deletion_time")),
            "{w}"
        );
    }
    assert!(tr
        .jobs
        .iter()
        .all(|j| j.runtime_h > 0.0 && (1..=8).contains(&j.accelerators)));

    // Through the scenario: 150 days hold the 33-day trace; 8-GPU sites.
    let text = format!(
        "version = 1\nname = \"ali\"\n[time]\nstart = \"2023-01-01T00:00:00Z\"\nslot_minutes = 60\nhorizon_hours = 3600\n\
         [[sites]]\nname = \"a\"\nregion = \"r\"\nlatitude = 0\nlongitude = 0\n\
         accelerators = {{ count = 64, model = \"x\", idle_w = 60, peak_w = 300 }}\npue = 1.3\n\
         [sites.grid]\nimport_limit_kw = 1000\nprice = 50\ncarbon = 400\n\
         [[work.traces]]\nfile = \"{}\"\nformat = \"alibaba-gpu\"\n",
        p.display()
    );
    let s = parse(&text).unwrap();
    assert_eq!(s.scenario.jobs.len(), kept);
    assert!(s.warnings.len() >= 2);
}
