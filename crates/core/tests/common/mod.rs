//! Small scenario builders shared by the core's integration tests.
#![allow(dead_code)]

use chrono::{TimeZone, Utc};
use suandian_core::*;

pub fn grid(slots: usize, slot_minutes: u32) -> TimeGrid {
    TimeGrid {
        start: Utc.with_ymd_and_hms(2022, 6, 1, 0, 0, 0).unwrap(),
        slot_minutes,
        slots,
    }
}

#[allow(clippy::too_many_arguments)]
pub fn site(
    name: &str,
    count: u32,
    per_server: u32,
    other_w: f64,
    pue: f64,
    import_kw: f64,
    price: Vec<f64>,
    carbon: Vec<f64>,
) -> Site {
    Site {
        name: name.into(),
        region: name.into(),
        latitude: 0.0,
        longitude: 0.0,
        accelerators: Accelerators {
            count,
            model: "test".into(),
            idle_w: 100.0,
            peak_w: 600.0,
            per_server,
            other_it_w_per_server: other_w,
            min_power_level: 0.3,
            throughput_exponent: 1.0,
        },
        pue: Pue::Constant { value: pue },
        grid: GridConnection {
            import_limit_kw: import_kw,
            export_limit_kw: 0.0,
            feed_in_price_per_mwh: vec![0.0; price.len()],
            price_per_mwh: price,
            carbon_g_per_kwh: carbon,
            residual_mix_g_co2_per_kwh: None,
            green_certificates_kwh: 0.0,
        },
        green: vec![],
        battery: None,
        thermal: None,
    }
}

pub fn job(
    id: &str,
    arrival_h: f64,
    accelerators: u32,
    runtime_h: f64,
    deadline_h: f64,
    home: usize,
    allowed: Vec<usize>,
) -> Job {
    Job {
        id: id.into(),
        arrival_h,
        accelerators,
        runtime_h,
        deadline_h,
        interruptible: true,
        migratable: false,
        allowed_sites: allowed,
        home_site: home,
        checkpoint_gb: 20.0 * f64::from(accelerators),
        flex_tier: None,
    }
}

pub fn economics() -> Economics {
    Economics {
        currency: "USD".into(),
        carbon_price_per_t: 100.0,
        carbon_price_basis: CarbonBasis::Location,
        value_per_million_tokens: 2.0,
        transfer_cost_per_gb: 0.02,
        over_limit_per_kwh: None,
    }
}
