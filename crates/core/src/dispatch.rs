//! Energy dispatch of one site in one slot: who supplies the facility load.
//!
//! Every slot and site balances exactly:
//!
//! ```text
//! facility + battery charge + curtailment + export = green + battery discharge + grid import + thermal
//! ```
//!
//! where `green` is everything the direct wind/solar plants could produce in the slot. The
//! default rule ([`BatteryMode::Rule`]): green serves the load first; surplus charges the
//! battery, then is exported up to the export limit, then curtailed; a deficit is met by the
//! battery (only when the rule allows, see [`crate::model::DispatchRule`]), then the grid up to
//! its import limit, then thermal backup, then (the rule only) the battery even where the rule
//! would keep its charge. Whatever is still missing is imported above the limit and reported as
//! `import_over_limit_kw`, so that the balance always holds and a breach is visible rather than
//! hidden.
//!
//! The import limit is the slot's: the connection's limit lowered by any demand-response event
//! covering the slot ([`crate::model::Scenario::import_limit_kw`]).

use crate::model::{Battery, Site};
use serde::Serialize;

/// State of a battery between slots.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct BatteryState {
    pub soc_kwh: f64,
    /// The part of `soc_kwh` that came from direct green supply (for the green share).
    pub green_kwh: f64,
}

impl BatteryState {
    pub fn initial(b: &Battery) -> Self {
        // Energy already stored at the start is of unknown origin: not counted as green.
        Self {
            soc_kwh: b.capacity_kwh * b.soc_initial,
            green_kwh: 0.0,
        }
    }
}

/// How the battery is operated in a slot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BatteryMode {
    /// The default rule; `discharge_allowed` says whether the battery may cover a deficit.
    Rule { discharge_allowed: bool },
    /// A planner's set-point in kW: positive charges (from green surplus first, then the grid),
    /// negative discharges. Clipped to what the battery can do.
    Setpoint { kw: f64 },
}

/// Average power flows of one site over one slot, all in kW.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Flows {
    pub facility_kw: f64,
    /// Green power available from the direct plants.
    pub green_kw: f64,
    /// Green power used by the load directly.
    pub green_to_load_kw: f64,
    pub charge_kw: f64,
    pub discharge_kw: f64,
    /// The green part of `discharge_kw` (the battery's green share of what it gives out).
    pub discharge_green_kw: f64,
    /// The part of `discharge_kw` that served the load; the rest went to export or curtailment.
    pub discharge_to_load_kw: f64,
    pub export_kw: f64,
    pub curtail_kw: f64,
    pub import_kw: f64,
    pub thermal_kw: f64,
    /// Import above the connection's limit (0 unless the load could not be met otherwise).
    pub import_over_limit_kw: f64,
    /// State of charge at the end of the slot, kWh (0 without a battery).
    pub soc_kwh: f64,
}

impl Flows {
    /// Left side minus right side of the energy balance, in kW (0 up to rounding).
    pub fn balance_residual_kw(&self) -> f64 {
        (self.facility_kw + self.charge_kw + self.curtail_kw + self.export_kw)
            - (self.green_kw + self.discharge_kw + self.import_kw + self.thermal_kw)
    }
    /// Green power that served the load, directly or through the battery. Stored green energy
    /// the battery sends to export is not used by the site: only the green share of the
    /// discharge that reached the load counts, so this never exceeds `facility_kw`.
    pub fn green_used_kw(&self) -> f64 {
        let share = if self.discharge_kw > 0.0 {
            (self.discharge_green_kw / self.discharge_kw).clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.green_to_load_kw + self.discharge_to_load_kw * share
    }
}

/// Dispatch one site for one slot of `slot_h` hours, updating `battery` in place. Grid import
/// above `import_limit_kw` (the slot's limit) is reported as `import_over_limit_kw`.
pub fn dispatch(
    site: &Site,
    import_limit_kw: f64,
    facility_kw: f64,
    green_kw: f64,
    battery: &mut BatteryState,
    slot_h: f64,
    mode: BatteryMode,
) -> Flows {
    let mut f = Flows {
        facility_kw,
        green_kw,
        ..Flows::default()
    };
    f.green_to_load_kw = green_kw.min(facility_kw);
    let mut surplus = green_kw - f.green_to_load_kw;
    let mut deficit = facility_kw - f.green_to_load_kw;

    // Battery limits for this slot.
    let (charge_cap, discharge_cap, eta) = match &site.battery {
        Some(b) => {
            let eta = b.one_way_efficiency();
            let charge = b
                .power_kw
                .min(((b.max_kwh() - battery.soc_kwh) / (eta * slot_h)).max(0.0));
            let discharge = b
                .power_kw
                .min(((battery.soc_kwh - b.min_kwh()) * eta / slot_h).max(0.0));
            (charge, discharge, eta)
        }
        None => (0.0, 0.0, 1.0),
    };
    let export_cap = site.grid.export_limit_kw;

    let mut charge_from_grid = 0.0;
    match mode {
        BatteryMode::Rule { discharge_allowed } => {
            f.charge_kw = surplus.min(charge_cap);
            surplus -= f.charge_kw;
            if discharge_allowed {
                f.discharge_kw = deficit.min(discharge_cap);
                deficit -= f.discharge_kw;
                f.discharge_to_load_kw = f.discharge_kw;
            }
        }
        BatteryMode::Setpoint { kw } if kw >= 0.0 => {
            f.charge_kw = kw.min(charge_cap);
            let from_green = f.charge_kw.min(surplus);
            surplus -= from_green;
            charge_from_grid = f.charge_kw - from_green;
            deficit += charge_from_grid;
        }
        BatteryMode::Setpoint { kw } => {
            // Discharge only what the load and the export limit can take.
            f.discharge_kw = (-kw)
                .min(discharge_cap)
                .min(deficit + (export_cap - surplus).max(0.0));
            let to_load = f.discharge_kw.min(deficit);
            deficit -= to_load;
            surplus += f.discharge_kw - to_load;
            f.discharge_to_load_kw = to_load;
        }
    }
    f.export_kw = surplus.min(export_cap);
    f.curtail_kw = surplus - f.export_kw;
    f.import_kw = deficit.min(import_limit_kw);
    deficit -= f.import_kw;
    if let Some(t) = &site.thermal {
        f.thermal_kw = deficit.min(t.capacity_kw);
        deficit -= f.thermal_kw;
    }
    if deficit > 0.0 && matches!(mode, BatteryMode::Rule { .. }) {
        // Rather than breach the limit, the rule discharges the battery even when it would
        // have kept the charge (the site's power admission counted on it).
        let extra = deficit.min(discharge_cap - f.discharge_kw).max(0.0);
        f.discharge_kw += extra;
        f.discharge_to_load_kw += extra;
        deficit -= extra;
    }
    if deficit > 0.0 {
        f.import_kw += deficit;
        f.import_over_limit_kw = deficit;
    }

    if site.battery.is_some() {
        // Stored green energy: green charge in, a proportional share out.
        let green_charge_kw = f.charge_kw - charge_from_grid;
        let share = if battery.soc_kwh > 0.0 {
            (battery.green_kwh / battery.soc_kwh).clamp(0.0, 1.0)
        } else {
            0.0
        };
        f.discharge_green_kw = f.discharge_kw * share;
        let out_kwh = f.discharge_kw * slot_h / eta;
        battery.green_kwh =
            (battery.green_kwh - out_kwh * share + green_charge_kw * slot_h * eta).max(0.0);
        battery.soc_kwh = battery.soc_kwh + f.charge_kw * slot_h * eta - out_kwh;
        battery.green_kwh = battery.green_kwh.min(battery.soc_kwh.max(0.0));
        f.soc_kwh = battery.soc_kwh;
    }
    f
}
