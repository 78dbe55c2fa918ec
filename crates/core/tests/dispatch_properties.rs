//! The dispatch of one site over a sequence of slots, under the default rule and under a
//! planner's battery set-points (charging from the grid, discharging to export): green energy
//! used never exceeds the facility's load in any slot, nor the green energy the plants gave over
//! the run, and the energy balance holds.
mod common;

use common::*;
use proptest::prelude::*;
use suandian_core::dispatch::{dispatch, BatteryMode, BatteryState};
use suandian_core::*;

fn mode() -> impl Strategy<Value = BatteryMode> {
    prop_oneof![
        any::<bool>().prop_map(|d| BatteryMode::Rule {
            discharge_allowed: d
        }),
        (-300.0f64..300.0).prop_map(|kw| BatteryMode::Setpoint { kw }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn green_used_never_exceeds_the_load_or_the_green_supplied(
        export_kw in 0.0f64..200.0,
        import_kw in 0.0f64..300.0,
        battery in (10.0f64..800.0, 5.0f64..300.0, 0.6f64..1.0, 0.0f64..1.0),
        thermal in prop::option::of(0.0f64..100.0),
        slots in prop::collection::vec((0.0f64..300.0, 0.0f64..400.0, mode()), 1..48),
    ) {
        let (kwh, kw, rte, init) = battery;
        let mut s = site("s", 8, 8, 300.0, 1.2, import_kw, vec![50.0], vec![500.0]);
        s.grid.export_limit_kw = export_kw;
        s.battery = Some(Battery {
            capacity_kwh: kwh,
            power_kw: kw,
            round_trip_efficiency: rte,
            soc_min: 0.1,
            soc_max: 0.9,
            soc_initial: 0.1 + 0.8 * init,
            wear_cost_per_kwh: None,
        });
        s.thermal = thermal.map(|kw| Thermal { capacity_kw: kw, cost_per_kwh: 0.2, g_co2_per_kwh: 900.0 });
        let mut state = BatteryState::initial(s.battery.as_ref().unwrap());
        let slot_h = 0.5;
        let (mut green_supplied_kwh, mut green_used_kwh) = (0.0, 0.0);
        for (facility_kw, green_kw, mode) in slots {
            let f = dispatch(&s, import_kw, facility_kw, green_kw, &mut state, slot_h, mode);
            prop_assert!(f.balance_residual_kw().abs() <= 1e-9 * (facility_kw + green_kw + f.discharge_kw + f.import_kw + f.charge_kw).max(1.0));
            prop_assert!(f.discharge_to_load_kw <= f.discharge_kw + 1e-12);
            prop_assert!(f.discharge_to_load_kw >= 0.0);
            prop_assert!(f.green_used_kw() <= facility_kw + 1e-9,
                "green used {} kW > load {} kW ({:?})", f.green_used_kw(), facility_kw, f);
            green_supplied_kwh += green_kw * slot_h;
            green_used_kwh += f.green_used_kw() * slot_h;
            prop_assert!(green_used_kwh <= green_supplied_kwh + 1e-9,
                "{green_used_kwh} kWh green used of {green_supplied_kwh} kWh supplied");
        }
    }
}

/// Hand-worked: a battery full of solar energy discharges 100 kW on a planner's set-point while
/// the load is 20 kW and export takes 50 kW more; only the 20 kW that reach the load are green
/// energy used (the case: green used 4x the facility energy).
#[test]
fn battery_discharge_sent_to_export_is_not_green_used() {
    let mut s = site("s", 8, 8, 300.0, 1.2, 100.0, vec![50.0], vec![500.0]);
    s.grid.export_limit_kw = 50.0;
    s.battery = Some(Battery {
        capacity_kwh: 400.0,
        power_kw: 100.0,
        round_trip_efficiency: 1.0,
        soc_min: 0.0,
        soc_max: 1.0,
        soc_initial: 0.0,
        wear_cost_per_kwh: None,
    });
    // Fill it from solar with no load: all green.
    let mut state = BatteryState::initial(s.battery.as_ref().unwrap());
    let f = dispatch(
        &s,
        100.0,
        0.0,
        100.0,
        &mut state,
        1.0,
        BatteryMode::Setpoint { kw: 100.0 },
    );
    assert_eq!((f.charge_kw, f.green_used_kw()), (100.0, 0.0));
    assert!((state.green_kwh - 100.0).abs() < 1e-9);
    // Now discharge: 20 kW to the load, 50 kW to export (the export limit), 70 kW in all.
    let f = dispatch(
        &s,
        100.0,
        20.0,
        0.0,
        &mut state,
        1.0,
        BatteryMode::Setpoint { kw: -100.0 },
    );
    assert!((f.discharge_kw - 70.0).abs() < 1e-9, "{f:?}");
    assert!((f.export_kw - 50.0).abs() < 1e-9);
    assert!((f.discharge_to_load_kw - 20.0).abs() < 1e-9);
    assert!(
        (f.green_used_kw() - 20.0).abs() < 1e-9,
        "{}",
        f.green_used_kw()
    );
}
