//! The scenario file's schema: one `*Def` per table, read by serde with unknown keys as errors
//! and with the documented defaults (`docs/scenario.md`). Nothing here checks a value's range
//! or resolves a name: that is the resolver's job, which knows the lines to name.
//!
//! The order of the fields is part of the messages: serde lists a table's keys in it when a key
//! is unknown ("expected one of ...").

use crate::series::{GapRule, SeriesFormat};
use crate::traces::{TimeUnit, TraceFormat};
use serde::Deserialize;
use suandian_core::{
    DEFAULT_CHECKPOINT_GB_PER_ACCELERATOR, DEFAULT_MIGRATION_H, DEFAULT_RESTART_H,
    DEFAULT_TRANSFER_COST_PER_GB,
};

fn one() -> f64 {
    1.0
}
fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileDef {
    #[allow(dead_code)]
    pub(super) version: i64,
    pub(super) name: String,
    pub(super) time: TimeDef,
    #[serde(default)]
    pub(super) simulation: SimDef,
    #[serde(default)]
    pub(super) economics: EconDef,
    #[serde(default)]
    pub(super) dispatch: DispatchDef,
    #[serde(default)]
    pub(super) sites: Vec<SiteDef>,
    #[serde(default)]
    pub(super) work: WorkDef,
    #[serde(default)]
    pub(super) inference: Vec<InferenceDef>,
    #[serde(default)]
    pub(super) demand_response: Vec<DemandResponseDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TimeDef {
    pub(super) start: toml::Value,
    pub(super) slot_minutes: i64,
    pub(super) horizon_hours: Option<f64>,
    pub(super) end: Option<toml::Value>,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
pub(super) enum ForecastName {
    #[default]
    Perfect,
    Persistence,
    Noisy,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct SimDef {
    #[serde(default)]
    pub(super) forecast: ForecastName,
    pub(super) forecast_error: Option<f64>,
    pub(super) seed: Option<u64>,
    pub(super) policies: Option<Vec<String>>,
    #[serde(default)]
    pub(super) gaps: GapRule,
}

#[derive(Deserialize, Clone, Copy, Default)]
#[serde(rename_all = "lowercase")]
pub(super) enum BasisDef {
    #[default]
    Location,
    Market,
}

fn usd() -> String {
    "USD".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EconDef {
    #[serde(default = "usd")]
    pub(super) currency: String,
    #[serde(default)]
    pub(super) carbon_price_per_t: f64,
    #[serde(default)]
    pub(super) carbon_price_basis: BasisDef,
    #[serde(default)]
    pub(super) value_per_million_tokens: f64,
    #[serde(default = "transfer_cost")]
    pub(super) transfer_cost_per_gb: f64,
    #[serde(default)]
    pub(super) over_limit_per_kwh: Option<f64>,
}

fn transfer_cost() -> f64 {
    DEFAULT_TRANSFER_COST_PER_GB
}

impl Default for EconDef {
    fn default() -> Self {
        Self {
            currency: usd(),
            carbon_price_per_t: 0.0,
            carbon_price_basis: BasisDef::Location,
            value_per_million_tokens: 0.0,
            transfer_cost_per_gb: DEFAULT_TRANSFER_COST_PER_GB,
            over_limit_per_kwh: None,
        }
    }
}

fn h24() -> f64 {
    24.0
}
fn migration_hours() -> f64 {
    DEFAULT_MIGRATION_H
}
fn restart_hours() -> f64 {
    DEFAULT_RESTART_H
}
fn checkpoint_per_acc() -> f64 {
    DEFAULT_CHECKPOINT_GB_PER_ACCELERATOR
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DispatchDef {
    #[serde(default = "h24")]
    pub(super) trailing_window_h: f64,
    #[serde(default = "migration_hours")]
    pub(super) migration_hours: f64,
    #[serde(default = "restart_hours")]
    pub(super) restart_hours: f64,
    #[serde(default = "checkpoint_per_acc")]
    pub(super) checkpoint_gb_per_accelerator: f64,
}

impl Default for DispatchDef {
    fn default() -> Self {
        Self {
            trailing_window_h: 24.0,
            migration_hours: DEFAULT_MIGRATION_H,
            restart_hours: DEFAULT_RESTART_H,
            checkpoint_gb_per_accelerator: DEFAULT_CHECKPOINT_GB_PER_ACCELERATOR,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SiteDef {
    pub(super) name: String,
    pub(super) region: String,
    pub(super) latitude: f64,
    pub(super) longitude: f64,
    pub(super) accelerators: AccDef,
    pub(super) pue: toml::Value,
    pub(super) grid: GridDef,
    #[serde(default)]
    pub(super) green: Vec<GreenDef>,
    pub(super) battery: Option<BatteryDef>,
    pub(super) thermal: Option<ThermalDef>,
}

fn eight() -> u32 {
    8
}
fn point3() -> f64 {
    0.3
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AccDef {
    pub(super) count: i64,
    pub(super) model: String,
    pub(super) idle_w: f64,
    pub(super) peak_w: f64,
    #[serde(default = "eight")]
    pub(super) per_server: u32,
    #[serde(default)]
    pub(super) other_it_w_per_server: f64,
    #[serde(default = "point3")]
    pub(super) min_power_level: f64,
    #[serde(default = "one")]
    pub(super) throughput_exponent: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PueTableDef {
    pub(super) base: f64,
    pub(super) threshold_c: f64,
    pub(super) per_degree: f64,
    pub(super) max: f64,
    pub(super) temperature: toml::Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GridDef {
    pub(super) import_limit_kw: f64,
    #[serde(default)]
    pub(super) export_limit_kw: f64,
    /// A number (a fixed tariff) or any series.
    pub(super) feed_in_price_per_mwh: Option<toml::Value>,
    pub(super) price: toml::Value,
    pub(super) carbon: toml::Value,
    pub(super) residual_mix_g_co2_per_kwh: Option<f64>,
    #[serde(default)]
    pub(super) green_certificates_kwh: f64,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(super) enum GreenKindDef {
    Solar,
    Wind,
    Other,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GreenDef {
    pub(super) name: String,
    pub(super) kind: GreenKindDef,
    pub(super) capacity_kw: f64,
    pub(super) capacity_factor: toml::Value,
}

fn half() -> f64 {
    0.5
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BatteryDef {
    pub(super) capacity_kwh: f64,
    pub(super) power_kw: f64,
    pub(super) round_trip_efficiency: f64,
    #[serde(default)]
    pub(super) soc_min: f64,
    #[serde(default = "one")]
    pub(super) soc_max: f64,
    #[serde(default = "half")]
    pub(super) soc_initial: f64,
    pub(super) wear_cost_per_kwh: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ThermalDef {
    pub(super) capacity_kw: f64,
    pub(super) cost_per_kwh: f64,
    pub(super) g_co2_per_kwh: f64,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct WorkDef {
    pub(super) default_max_delay_h: Option<f64>,
    #[serde(default)]
    pub(super) traces: Vec<TraceDef>,
    #[serde(default)]
    pub(super) jobs: Vec<JobDef>,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
pub(super) enum OutsideHorizon {
    #[default]
    Error,
    Drop,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TraceDef {
    pub(super) file: String,
    pub(super) format: TraceFormat,
    pub(super) time_unit: Option<TimeUnit>,
    #[serde(default)]
    pub(super) offset_h: f64,
    pub(super) id_prefix: Option<String>,
    pub(super) home_site: Option<String>,
    pub(super) allowed_sites: Option<Vec<String>>,
    #[serde(default = "yes")]
    pub(super) interruptible: bool,
    #[serde(default)]
    pub(super) migratable: bool,
    pub(super) max_delay_h: Option<f64>,
    #[serde(default = "one")]
    pub(super) accelerators_per_cpu: f64,
    pub(super) limit: Option<usize>,
    #[serde(default)]
    pub(super) outside_horizon: OutsideHorizon,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct JobDef {
    pub(super) id: String,
    pub(super) arrival: Option<toml::Value>,
    pub(super) arrival_h: Option<f64>,
    pub(super) accelerators: i64,
    pub(super) runtime_h: f64,
    pub(super) deadline: Option<toml::Value>,
    pub(super) max_delay_h: Option<f64>,
    #[serde(default = "yes")]
    pub(super) interruptible: bool,
    #[serde(default)]
    pub(super) migratable: bool,
    pub(super) allowed_sites: Option<Vec<String>>,
    pub(super) home_site: Option<String>,
    pub(super) checkpoint_gb: Option<f64>,
    /// Flexibility tier 0-3 under demand-response events (none: no tier).
    pub(super) flex_tier: Option<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InferenceDef {
    pub(super) region: String,
    pub(super) tokens_per_s: toml::Value,
    pub(super) sites: Vec<String>,
    pub(super) joules_per_token: Vec<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DemandResponseDef {
    pub(super) id: String,
    pub(super) sites: Option<Vec<String>>,
    pub(super) start: toml::Value,
    pub(super) end: toml::Value,
    pub(super) announced: Option<toml::Value>,
    pub(super) import_cap_kw: f64,
    pub(super) penalty_per_kwh: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SeriesTableDef {
    pub(super) values: Option<Vec<f64>>,
    pub(super) daily: Option<Vec<f64>>,
    pub(super) file: Option<String>,
    pub(super) format: Option<SeriesFormat>,
    pub(super) column: Option<String>,
    #[serde(default = "one")]
    pub(super) scale: f64,
    pub(super) gaps: Option<GapRule>,
    /// The offset of timestamps that give none, e.g. "+10:00" (default UTC).
    pub(super) utc_offset: Option<String>,
}
