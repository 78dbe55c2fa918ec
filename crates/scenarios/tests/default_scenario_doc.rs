//! docs/default-scenario.md and the code agree: the provinces table (emission factors, shares,
//! wind hours, tariffs) and the sites table (coordinates, climate, irradiation).

use chrono::{TimeZone, Utc};
use std::path::PathBuf;
use suandian_scenarios::china::{FactorBasis, PROVINCES};
use suandian_scenarios::default_scenario::HUBS;
use suandian_scenarios::weather::solar::{self, PvSystem, SolarSite};

fn doc() -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/default-scenario.md"),
    )
    .unwrap()
}

/// Rows of the first markdown table after the heading that starts with `heading`.
fn table(text: &str, heading: &str, first_col: &str) -> Vec<Vec<String>> {
    let start = text.find(heading).expect("heading");
    let rest = &text[start..];
    let mut rows = vec![];
    let mut in_table = false;
    for line in rest.lines() {
        let l = line.trim();
        if l.starts_with('|') {
            let cells: Vec<String> = l
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect();
            if cells[0] == first_col {
                in_table = true;
                continue;
            }
            if in_table && !cells[0].starts_with("---") {
                rows.push(cells);
            }
        } else if in_table {
            break;
        }
    }
    rows
}

fn n(s: &str) -> f64 {
    s.replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {s}"))
}

#[test]
fn provinces_table_matches_the_code() {
    let rows = table(&doc(), "## Provinces", "province");
    assert_eq!(rows.len(), PROVINCES.len());
    for (r, p) in rows.iter().zip(PROVINCES) {
        assert_eq!(r[0], p.name);
        assert_eq!(n(&r[1]), p.emission_factor_g_per_kwh, "{}", p.name);
        let basis = match p.factor_basis {
            FactorBasis::Provincial => "provincial".to_string(),
            FactorBasis::ProvincialCompiled => "provincial (compilation)".to_string(),
            FactorBasis::Regional(g) => format!("regional {g}"),
        };
        assert_eq!(r[2], basis, "{}", p.name);
        assert_eq!(n(&r[3]), p.wind_share, "{}", p.name);
        assert_eq!(n(&r[4]), p.solar_share, "{}", p.name);
        assert_eq!(n(&r[5]), p.wind_hours, "{}", p.name);
        assert_eq!(n(&r[6]), p.tou.flat_cny_per_mwh, "{}", p.name);
        assert_eq!(n(&r[7]), p.tou.peak_ratio, "{}", p.name);
        assert_eq!(n(&r[8]), p.tou.valley_ratio, "{}", p.name);
        assert_eq!(r[9], p.tou.pattern, "{}", p.name);
    }
}

#[test]
fn sites_table_matches_the_code() {
    let rows = table(&doc(), "## Sites and climate", "site");
    assert_eq!(rows.len(), HUBS.len());
    for (r, h) in rows.iter().zip(HUBS) {
        assert_eq!(r[0], h.name);
        assert_eq!(r[2], h.province);
        assert_eq!(n(&r[3]), h.latitude, "{}", h.name);
        assert_eq!(n(&r[4]), h.longitude, "{}", h.name);
        assert_eq!(n(&r[5]), h.climate.mean_c, "{}", h.name);
        assert_eq!(n(&r[6]), h.climate.seasonal_amplitude_c, "{}", h.name);
        assert_eq!(n(&r[7]), h.climate.diurnal_amplitude_c, "{}", h.name);
        assert_eq!(n(&r[8]), h.annual_ghi_kwh_m2, "{}", h.name);
    }
}

#[test]
fn hub_solar_capacity_factors_are_in_the_documented_range() {
    let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    for h in HUBS {
        let site = SolarSite {
            latitude: h.latitude,
            longitude: h.longitude,
            annual_ghi_kwh_m2: h.annual_ghi_kwh_m2,
            system: PvSystem::at_latitude(h.latitude),
        };
        let cf = solar::hourly_output(&site, start, 8_760, &h.climate, 1);
        let cf = cf.iter().sum::<f64>() / 8_760.0;
        println!("{}: solar CF {cf:.3} ({:.0} h)", h.name, cf * 8_760.0);
        assert!((0.09..0.20).contains(&cf), "{}: {cf}", h.name);
    }
}
