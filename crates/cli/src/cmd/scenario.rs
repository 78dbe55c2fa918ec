//! `suandian scenario show|export NAME`: a built-in scenario, summarised or as a file.

use crate::{builtin, out, print_summary, Failure, Format};
use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum ScenarioAction {
    /// Summarise a built-in scenario: sites, signals, work.
    Show(BuiltinArgs),
    /// Print a built-in scenario as a scenario file (TOML) to edit and load again.
    Export(BuiltinArgs),
}

#[derive(clap::Args)]
pub(crate) struct BuiltinArgs {
    /// default or demo.
    pub(crate) name: String,
    /// Days (default scenario only).
    #[arg(long, default_value_t = suandian_scenarios::default_scenario::DEFAULT_DAYS, value_name = "N")]
    pub(crate) days: u32,
    /// Seed of the weather and jobs (default scenario only).
    #[arg(long, default_value_t = suandian_scenarios::default_scenario::DEFAULT_SEED, value_name = "N")]
    pub(crate) seed: u64,
    /// Output format of `show`: table (text), json, or csv (one row per site).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub(crate) format: Format,
}

pub(crate) fn scenario_cmd(action: ScenarioAction) -> Result<(), Failure> {
    match action {
        ScenarioAction::Show(a) => {
            let loaded = builtin(&a.name, a.days, a.seed)?;
            print_summary(&loaded, a.format)
        }
        ScenarioAction::Export(a) => {
            let loaded = builtin(&a.name, a.days, a.seed)?;
            out(&suandian_io::export::to_toml(&loaded))
        }
    }
}
