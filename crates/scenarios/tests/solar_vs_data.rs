//! The core's solar model against real irradiance: the pvlib TMY3 file (Greensboro, NC) and the
//! NSRDB PSM4 2023 file (40.51 N, 108.54 W) in ../shared/data/solar. Needs ../shared/data; says
//! so and passes where it is absent.
//!
//! For each file: the "measured" capacity factor runs the file's own GHI, DNI, DHI and air
//! temperature through the same plane-of-array and derating chain; the "modelled" one replaces
//! them with the model's clear sky, cloudiness (calibrated only to the file's annual GHI, one
//! number) and temperature climate (the file's annual mean and amplitudes, three numbers).

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use std::path::PathBuf;
use suandian_scenarios::weather::climate::Climate;
use suandian_scenarios::weather::solar::{self, PvSystem, SolarSite};

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/solar")
}

struct Obs {
    /// Instant the irradiance values stand for (UTC).
    t: DateTime<Utc>,
    ghi: f64,
    dni: f64,
    dhi: f64,
    temp: f64,
    zenith: Option<f64>,
    /// Hours this record stands for.
    dt_h: f64,
}

/// TMY3: first line is the station header (id, name, state, UTC offset, lat, lon, elevation),
/// then hourly records in local standard time, each for the hour *ending* at its time.
fn tmy3() -> (f64, f64, f64, Vec<Obs>) {
    let text = std::fs::read_to_string(data().join("pvlib_tmy3_723170TYA_greensboro.csv")).unwrap();
    let head: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let tz: f64 = head[3].parse().unwrap();
    let lat: f64 = head[4].parse().unwrap();
    let lon: f64 = head[5].parse().unwrap();
    let body: String = text.lines().skip(1).collect::<Vec<_>>().join("\n");
    let mut rdr = csv::Reader::from_reader(body.as_bytes());
    let hdr = rdr.headers().unwrap().clone();
    let col = |n: &str| hdr.iter().position(|h| h == n).unwrap();
    let (cd, ct, cg, cn, ch, ctemp) = (
        col("Date (MM/DD/YYYY)"),
        col("Time (HH:MM)"),
        col("GHI (W/m^2)"),
        col("DNI (W/m^2)"),
        col("DHI (W/m^2)"),
        col("Dry-bulb (C)"),
    );
    let mut out = vec![];
    for r in rdr.records() {
        let r = r.unwrap();
        let d = NaiveDate::parse_from_str(&r[cd], "%m/%d/%Y").unwrap();
        // TMY years differ per month; put every record in one non-leap year.
        let d = NaiveDate::from_ymd_opt(2019, d.month(), d.day()).unwrap();
        let hour: i64 = r[ct].split(':').next().unwrap().parse().unwrap();
        let local = d.and_hms_opt(0, 0, 0).unwrap() + Duration::hours(hour) - Duration::minutes(30);
        let t = Utc.from_utc_datetime(&(local - Duration::minutes((tz * 60.0) as i64)));
        out.push(Obs {
            t,
            ghi: r[cg].parse().unwrap(),
            dni: r[cn].parse().unwrap(),
            dhi: r[ch].parse().unwrap(),
            temp: r[ctemp].parse().unwrap(),
            zenith: None,
            dt_h: 1.0,
        });
    }
    (lat, lon, tz, out)
}

/// NSRDB PSM4: 30-minute instantaneous records, local standard time (UTC-7 at this site: the
/// zenith column is 162° at 00:00 on 1 January, local midnight).
fn nsrdb() -> (f64, f64, f64, Vec<Obs>) {
    let (lat, lon, tz) = (40.51, -108.54, -7.0);
    let mut rdr = csv::Reader::from_path(data().join("pvlib_nsrdb_psm4_2023.csv")).unwrap();
    let hdr = rdr.headers().unwrap().clone();
    let col = |n: &str| hdr.iter().position(|h| h == n).unwrap();
    let c: Vec<usize> = [
        "Year",
        "Month",
        "Day",
        "Hour",
        "Minute",
        "GHI",
        "DNI",
        "DHI",
        "Temperature",
        "Solar Zenith Angle",
    ]
    .iter()
    .map(|n| col(n))
    .collect();
    let mut out = vec![];
    for r in rdr.records() {
        let r = r.unwrap();
        let n = |i: usize| r[c[i]].parse::<f64>().unwrap();
        let local = NaiveDate::from_ymd_opt(n(0) as i32, n(1) as u32, n(2) as u32)
            .unwrap()
            .and_hms_opt(n(3) as u32, n(4) as u32, 0)
            .unwrap();
        let t = Utc.from_utc_datetime(&(local - Duration::hours(tz as i64)));
        out.push(Obs {
            t,
            ghi: n(5),
            dni: n(6),
            dhi: n(7),
            temp: n(8),
            zenith: Some(n(9)),
            dt_h: 0.5,
        });
    }
    (lat, lon, tz, out)
}

/// Annual mean, seasonal amplitude (half the spread of monthly means) and diurnal amplitude
/// (half the mean daily range) of the file's air temperature.
fn climate_of(obs: &[Obs], tz: f64) -> Climate {
    let mean = obs.iter().map(|o| o.temp).sum::<f64>() / obs.len() as f64;
    let mut months = [(0.0, 0usize); 12];
    let mut days: std::collections::BTreeMap<u32, (f64, f64)> = Default::default();
    for o in obs {
        let m = &mut months[o.t.month0() as usize];
        m.0 += o.temp;
        m.1 += 1;
        let e = days.entry(o.t.ordinal()).or_insert((f64::MAX, f64::MIN));
        e.0 = e.0.min(o.temp);
        e.1 = e.1.max(o.temp);
    }
    let mm: Vec<f64> = months.iter().map(|(s, n)| s / *n as f64).collect();
    let hi = mm.iter().cloned().fold(f64::MIN, f64::max);
    let lo = mm.iter().cloned().fold(f64::MAX, f64::min);
    let range = days.values().map(|(a, b)| b - a).sum::<f64>() / days.len() as f64;
    Climate {
        mean_c: mean,
        seasonal_amplitude_c: (hi - lo) / 2.0,
        diurnal_amplitude_c: range / 2.0,
        utc_offset_h: tz,
    }
}

fn compare(name: &str, (lat, lon, tz, obs): (f64, f64, f64, Vec<Obs>)) -> (f64, f64) {
    let sys = PvSystem::at_latitude(lat);
    let hours: f64 = obs.iter().map(|o| o.dt_h).sum();
    let measured = obs
        .iter()
        .map(|o| o.dt_h * sys.output_from_irradiance(o.t, lat, lon, o.ghi, o.dni, o.dhi, o.temp))
        .sum::<f64>()
        / hours;
    let annual_ghi = obs.iter().map(|o| o.ghi * o.dt_h).sum::<f64>() / 1000.0 * 8760.0 / hours;
    let site = SolarSite {
        latitude: lat,
        longitude: lon,
        annual_ghi_kwh_m2: annual_ghi,
        system: sys,
    };
    let climate = climate_of(&obs, tz);
    let start = Utc.with_ymd_and_hms(2019, 1, 1, 0, 0, 0).unwrap();
    // Several seeded years: the model's mean and each year against the file.
    let cfs: Vec<f64> = (1..=5)
        .map(|seed| {
            let cf = solar::hourly_output(&site, start, 8_760, &climate, seed);
            cf.iter().sum::<f64>() / cf.len() as f64
        })
        .collect();
    let modelled = cfs.iter().sum::<f64>() / cfs.len() as f64;
    println!(
        "{name}: annual GHI {annual_ghi:.0} kWh/m2, capacity factor from the file {:.4} \
         ({:.0} h), modelled {:.4} ({:.0} h), {:+.1} %; seeded years {:?}",
        measured,
        measured * 8760.0,
        modelled,
        modelled * 8760.0,
        (modelled / measured - 1.0) * 100.0,
        cfs.iter()
            .map(|c| (c * 1e4).round() / 1e4)
            .collect::<Vec<_>>()
    );
    for cf in &cfs {
        assert!(
            (cf / measured - 1.0).abs() < 0.10,
            "{name}: {cf} vs {measured}"
        );
    }
    (measured, modelled)
}

#[test]
fn solar_capacity_factor_within_10_percent_of_the_irradiance_files() {
    if !data().is_dir() {
        println!("skipped: ../shared/data not found");
        return;
    }
    compare("TMY3 Greensboro", tmy3());
    compare("NSRDB PSM4 2023", nsrdb());
}

#[test]
fn sun_position_matches_the_nsrdb_zenith() {
    if !data().is_dir() {
        println!("skipped: ../shared/data not found");
        return;
    }
    let (lat, lon, _, obs) = nsrdb();
    let mut worst: f64 = 0.0;
    for o in &obs {
        let z = o.zenith.unwrap();
        if z < 85.0 {
            let m = solar::sun_position(o.t, lat, lon).zenith_deg;
            worst = worst.max((m - z).abs());
        }
    }
    println!("largest zenith difference (sun above 5°): {worst:.3}°");
    assert!(worst < 0.5, "{worst}");
}
