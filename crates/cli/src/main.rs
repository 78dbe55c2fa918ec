//! The `suandian` command line: wires the scenario readers, the core simulator and the output
//! writers together. No logic of its own beyond choosing what to run.

mod cmd;
mod progress;

use clap::{Parser, Subcommand, ValueEnum};
use cmd::gaia::{gaia_cmd, GaiaArgs};
use cmd::report::report_cmd;
use cmd::scenario::{scenario_cmd, ScenarioAction};
use cmd::serve::{serve_cmd, ServeArgs};
use cmd::simulate::{simulate_cmd, SimulateArgs};
use std::path::PathBuf;
use std::process::ExitCode;
use suandian_io::output;
use suandian_io::scenario::LoadedScenario;

const ABOUT: &str = "suandian (算电): make AI computing follow clean, cheap electricity.

Replays a fleet of data centres, their power supply (grid, direct wind/solar, batteries,
thermal backup) and their work (batch jobs, inference) through scheduling policies, and
compares what each costs in energy, carbon, money and service.";

const EXAMPLES: &str = "Examples:
  suandian simulate                          the built-in default scenario (East Data, West
                                             Computing, 8 national hubs, one week), every policy
  suandian simulate --days 30 --scenario-seed 7   a month of it, other weather and jobs
  suandian simulate --builtin demo           the small three-site demo
  suandian scenario show default             what the default scenario holds
  suandian scenario export default > my.toml a scenario file to edit and run again
  suandian simulate my.toml --json           every metric of every policy, as one JSON object
  suandian simulate my.toml -p asap -p carbon-wait --forecast noisy --forecast-error 0.2
  suandian simulate --timeline out.csv       per-slot, per-site power flows for plots
  suandian simulate --jobs jobs.csv          when and where every job ran, its wait and delay
  suandian simulate --report report.html     a self-contained HTML report with charts
  suandian simulate --save-run run.json      save the run, then: suandian report run.json -o r.html
  suandian simulate --format csv             one CSV row of metrics per policy (also json, table)
  suandian simulate -p coordinated --objective carbon --min-green-share 0.6
                                             the planner minimising emissions, with a soft
                                             floor on each site's green share
  suandian validate my.toml                  check a scenario file and summarise it
  suandian policies                          list the policies

Scenario files are described in docs/scenario.md. Exit codes: 0 ok, 2 bad input, 1 failure.";

#[derive(Parser)]
#[command(name = "suandian", version, about = ABOUT, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Backtest scheduling policies on a scenario and compare them against `asap`.
    #[command(after_help = EXAMPLES)]
    Simulate(SimulateArgs),
    /// Read a scenario file, check it, and print what it holds.
    Validate {
        /// The scenario file (TOML, see docs/scenario.md).
        scenario: PathBuf,
        /// Output format: table (text), json, or csv (one row per site).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Write the self-contained HTML report of a run saved with `simulate --save-run`
    /// (see docs/report.md).
    Report {
        /// The saved run (JSON written by `suandian simulate --save-run FILE`).
        run: PathBuf,
        /// The HTML file to write.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// List the scheduling policies.
    Policies,
    /// Run GAIA's carbon-aware batch policies on GAIA's own input files and write GAIA's
    /// three output files (see docs/gaia.md).
    Gaia(GaiaArgs),
    /// Run the live coordinator: a JSON API over HTTP, state in SQLite, the same engine and
    /// policies as `simulate` stepping every slot (see docs/serve.md).
    Serve(Box<ServeArgs>),
    /// Show or export a built-in scenario (default, demo).
    Scenario {
        #[command(subcommand)]
        action: ScenarioAction,
    },
}

/// How results are printed on stdout.
#[derive(Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
pub(crate) enum Format {
    /// Aligned text for people.
    #[default]
    Table,
    /// One JSON object.
    Json,
    /// Comma-separated values with a header row.
    Csv,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::BadInput(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Other(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(1)
        }
        // The reader of stdout went away (`| head`): end quietly, as `cat` and `rg` do.
        Err(Failure::PipeClosed) => ExitCode::SUCCESS,
    }
}

/// Write to stdout. A closed pipe ends the program quietly ([`Failure::PipeClosed`]); any other
/// write error (a full disk) is an error naming stdout, never a panic.
pub(crate) fn out(text: &str) -> Result<(), Failure> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Failure::PipeClosed),
        Err(e) => Err(Failure::Other(format!("cannot write to stdout: {e}"))),
    }
}

pub(crate) enum Failure {
    /// The user's input is wrong: exit code 2.
    BadInput(String),
    /// Something else went wrong (e.g. an output file could not be written): exit code 1.
    Other(String),
    /// Stdout was closed by its reader: exit code 0, nothing more said.
    PipeClosed,
}

pub(crate) fn load(path: Option<&PathBuf>) -> Result<LoadedScenario, Failure> {
    match path {
        Some(p) => suandian_io::scenario::load(p).map_err(|e| Failure::BadInput(e.to_string())),
        None => Ok(suandian_io::builtin::demo()),
    }
}

pub(crate) fn print_summary(loaded: &LoadedScenario, format: Format) -> Result<(), Failure> {
    match format {
        Format::Table => out(&output::summary(loaded)),
        Format::Json => out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&output::summary_json(loaded))
                .expect("summary serialises")
        )),
        Format::Csv => out(&output::summary_csv(loaded)),
    }
}

pub(crate) fn builtin(name: &str, days: u32, seed: u64) -> Result<LoadedScenario, Failure> {
    if days == 0 {
        return Err(Failure::BadInput(
            "--days: found 0, expected at least 1".into(),
        ));
    }
    suandian_io::builtin::by_name(name, days, seed).ok_or_else(|| {
        let known: Vec<&str> = suandian_io::builtin::BUILTINS
            .iter()
            .map(|(n, _)| *n)
            .collect();
        Failure::BadInput(format!(
            "found built-in scenario `{name}`, expected one of {}",
            known.join(", ")
        ))
    })
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Policies => {
            let mut text = String::new();
            for p in suandian_planner::POLICIES {
                text.push_str(&format!("{:<15} {}\n", p.name, p.what));
            }
            out(&text)
        }
        Command::Validate { scenario, format } => {
            let loaded = load(Some(&scenario))?;
            for w in &loaded.warnings {
                eprintln!("warning: {w}");
            }
            print_summary(&loaded, format)
        }
        Command::Report { run, output } => report_cmd(&run, &output),
        Command::Simulate(args) => simulate_cmd(args),
        Command::Gaia(args) => gaia_cmd(args),
        Command::Scenario { action } => scenario_cmd(action),
        Command::Serve(args) => serve_cmd(*args),
    }
}
