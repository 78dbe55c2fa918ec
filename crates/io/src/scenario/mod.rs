//! The versioned TOML scenario format (see `docs/scenario.md`) → [`suandian_core::Scenario`].
//!
//! Reading goes: TOML syntax (with line numbers: `locator`) → typed tables (unknown keys are
//! errors: `schema`) → resolution (series read and resampled onto the grid, names turned into
//! indices, every value range-checked with the line it came from: `resolve`) →
//! [`Scenario::validate`] as the last gate.

mod locator;
mod resolve;
mod schema;

use crate::error::InputError;
use locator::Locator;
use resolve::Resolver;
use schema::FileDef;
use std::path::{Path, PathBuf};
use suandian_core::forecast::ForecastKind;
use suandian_core::Scenario;

/// The scenario format version this reader understands.
pub const FORMAT_VERSION: i64 = 1;

/// A scenario read, resolved and validated.
#[derive(Debug, Clone)]
pub struct LoadedScenario {
    /// Validated.
    pub scenario: Scenario,
    /// From the optional `[simulation]` table.
    pub simulation: SimulationDefaults,
    /// Everything adjusted or skipped while reading (never silently).
    pub warnings: Vec<String>,
    /// The file path, or `"built-in demo"`.
    pub source: String,
    /// Every file read to build it (the scenario file, its series and traces): what a run's
    /// outputs must not overwrite.
    pub inputs: Vec<PathBuf>,
}

/// Run settings a scenario may suggest (the CLI's flags override them).
#[derive(Debug, Clone, PartialEq)]
pub struct SimulationDefaults {
    pub forecast: ForecastKind,
    pub policies: Vec<String>,
}

impl Default for SimulationDefaults {
    fn default() -> Self {
        Self {
            forecast: ForecastKind::Perfect,
            // Every policy: the baselines, the planner and its bound (the flagship is what a
            // first run shows).
            policies: suandian_core::policy::names().map(str::to_string).collect(),
        }
    }
}

/// Read a scenario file. Relative paths inside it resolve against the file's folder.
pub fn load(path: &Path) -> Result<LoadedScenario, InputError> {
    let name = path.display().to_string();
    let text = crate::files::read_input(path, &name)?;
    let base = path.parent().unwrap_or_else(|| Path::new(""));
    let mut loaded = from_toml_str(&text, &name, base)?;
    loaded.inputs.insert(0, path.to_path_buf());
    Ok(loaded)
}

/// Read a scenario from TOML text. `source_name` names it in messages; relative file paths
/// resolve against `base_dir`.
pub fn from_toml_str(
    text: &str,
    source_name: &str,
    base_dir: &Path,
) -> Result<LoadedScenario, InputError> {
    let loc = Locator::new(text, source_name)?;
    // The version first: a file of another version would fail on its keys with a worse message.
    match loc.doc().as_table().get("version") {
        None => {
            return Err(InputError::value(
                source_name,
                Some(1),
                "version",
                "no version key",
                format!("version = {FORMAT_VERSION} at the top of the file"),
            ))
        }
        Some(item) => {
            if item.as_integer() != Some(FORMAT_VERSION) {
                let found = item.as_value().map_or_else(
                    || "a table".to_string(),
                    |v| v.to_string().trim().to_string(),
                );
                return Err(InputError::value(
                    source_name,
                    loc.line("version"),
                    "version",
                    found,
                    format!("version = {FORMAT_VERSION} (the only version this build reads)"),
                ));
            }
        }
    }
    // The spans are not needed while the schema is read: not holding two parsed copies at
    // once halves the memory a large file takes.
    let mut loc = loc;
    loc.release();
    let def: FileDef = toml::from_str(text).map_err(|e| loc.de_error(e.message(), e.span()))?;
    Resolver::new(source_name, base_dir, loc).resolve(def)
}
