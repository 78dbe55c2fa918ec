//! The `suandian` command line: wires the scenario readers, the core simulator and the output
//! writers together. No logic of its own beyond choosing what to run.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use suandian_core::forecast::ForecastKind;
use suandian_core::sim::{simulate_with_progress, RunResult, SimConfig};
use suandian_io::scenario::LoadedScenario;
use suandian_io::{files, output};

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
    /// Show or export a built-in scenario (default, demo).
    Scenario {
        #[command(subcommand)]
        action: ScenarioAction,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ForecastArg {
    /// The policies see the true future signals (an upper bound).
    Perfect,
    /// Same time yesterday.
    Persistence,
    /// The truth with a seeded error that grows with lead time up to a day.
    Noisy,
}

/// How results are printed on stdout.
#[derive(Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
enum Format {
    /// Aligned text for people.
    #[default]
    Table,
    /// One JSON object.
    Json,
    /// Comma-separated values with a header row.
    Csv,
}

#[derive(Clone, Copy, ValueEnum, Default)]
enum ObjectiveArg {
    /// Energy cost + carbon price x emissions + penalties for late work and unserved inference.
    #[default]
    Balanced,
    /// Emissions only.
    Carbon,
    /// Energy cost only.
    Cost,
}

/// `--lp-solver`: the planner's own names (`LpSolver::NAMES`), listed in errors and help.
fn lp_solver_parser() -> impl clap::builder::TypedValueParser<Value = suandian_planner::LpSolver> {
    use clap::builder::TypedValueParser;
    let names = suandian_planner::LpSolver::NAMES;
    clap::builder::PossibleValuesParser::new(names.map(|(n, _)| n))
        .map(|name| suandian_planner::LpSolver::by_name(&name).expect("a listed name"))
}

impl From<ObjectiveArg> for suandian_planner::ObjectiveMode {
    fn from(a: ObjectiveArg) -> Self {
        match a {
            ObjectiveArg::Balanced => Self::Balanced,
            ObjectiveArg::Carbon => Self::Carbon,
            ObjectiveArg::Cost => Self::Cost,
        }
    }
}

#[derive(clap::Args)]
struct SimulateArgs {
    /// The scenario file (TOML, see docs/scenario.md). Without it, the built-in default
    /// scenario runs (see docs/default-scenario.md).
    scenario: Option<PathBuf>,
    /// Run a built-in scenario instead of a file: default, demo.
    #[arg(long, value_name = "NAME", conflicts_with = "scenario")]
    builtin: Option<String>,
    /// Days of the built-in default scenario.
    #[arg(long, default_value_t = suandian_scenarios::default_scenario::DEFAULT_DAYS, value_name = "N")]
    days: u32,
    /// Seed of the built-in default scenario's weather and jobs.
    #[arg(long, default_value_t = suandian_scenarios::default_scenario::DEFAULT_SEED, value_name = "N")]
    scenario_seed: u64,
    /// A policy to run (repeat for several). Default: the scenario's list, else all baselines.
    /// `asap` is always run as the reference for savings.
    #[arg(short, long = "policy", value_name = "NAME")]
    policies: Vec<String>,
    /// What the policies know about future carbon, prices, green output and demand.
    /// Default: the scenario's [simulation] forecast, else perfect.
    #[arg(long, value_enum)]
    forecast: Option<ForecastArg>,
    /// Relative error of the noisy forecast a day ahead (0.15 = 15 %).
    #[arg(long, default_value_t = 0.15, value_name = "FRACTION")]
    forecast_error: f64,
    /// Seed of the noisy forecast: the same seed gives the same result.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// What the `coordinated` planner and the `oracle` minimise.
    #[arg(long, value_enum, default_value_t = ObjectiveArg::Balanced)]
    objective: ObjectiveArg,
    /// A floor on each site's green share of its facility energy over the planning window, for
    /// `coordinated` (0.3 = 30 %): enforced softly, each kWh short penalised like an import
    /// over its limit. The oracle keeps none: it bounds the objective, which a floor only raises.
    #[arg(long, default_value_t = 0.0, value_name = "FRACTION")]
    min_green_share: f64,
    /// The HiGHS algorithm for `coordinated` and `oracle`: auto (dual simplex, interior point
    /// above 50,000 columns), dual, primal (faster, other optimal vertices), ipm, pdlp.
    #[arg(long, default_value = "auto", value_parser = lp_solver_parser())]
    lp_solver: suandian_planner::LpSolver,
    /// Solve every re-plan of `coordinated` from scratch rather than from the last plan's basis
    /// (same plans up to ties, slower; for measuring).
    #[arg(long)]
    no_warm_start: bool,
    /// Let `coordinated` move started, migratable jobs to another site where its plan finds
    /// that the energy saved pays for moving their data (`transfer_cost_per_gb` x
    /// `checkpoint_gb`; docs/planner.md#migration).
    #[arg(long)]
    migrate: bool,
    /// Output format: table, json (every metric of every policy, one object) or csv (one row
    /// of metrics per policy).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Same as `--format json`.
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// Write a self-contained HTML report with charts to this file (see docs/report.md).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Save the run (the `--json` document plus the timelines the report needs) to this JSON
    /// file, for `suandian report FILE -o report.html`.
    #[arg(long, value_name = "FILE")]
    save_run: Option<PathBuf>,
    /// Write the per-slot, per-site timeline of every policy to this CSV file.
    #[arg(long, value_name = "FILE")]
    timeline: Option<PathBuf>,
    /// Write what happened to every job under every policy to this CSV file.
    #[arg(long, value_name = "FILE")]
    jobs: Option<PathBuf>,
    /// Print no warnings or progress on stderr.
    #[arg(short, long)]
    quiet: bool,
}

/// Progress bars on stderr, hidden when it is not a terminal or with `--quiet`.
fn progress_bars(quiet: bool) -> indicatif::MultiProgress {
    use std::io::IsTerminal;
    let target = if quiet || !std::io::stderr().is_terminal() {
        indicatif::ProgressDrawTarget::hidden()
    } else {
        indicatif::ProgressDrawTarget::stderr()
    };
    indicatif::MultiProgress::with_draw_target(target)
}

fn progress_bar(
    bars: &indicatif::MultiProgress,
    len: usize,
    prefix: &str,
    unit: &str,
) -> indicatif::ProgressBar {
    let style = indicatif::ProgressStyle::with_template(&format!(
        "{{prefix:>14}} [{{bar:32}}] {{pos}}/{{len}} {unit}  {{per_sec}}  ETA {{eta}}"
    ))
    .expect("a valid progress template")
    .progress_chars("=> ");
    let bar = bars.add(indicatif::ProgressBar::new(len as u64));
    bar.set_style(style);
    bar.set_prefix(prefix.to_string());
    bar
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
fn out(text: &str) -> Result<(), Failure> {
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

enum Failure {
    /// The user's input is wrong: exit code 2.
    BadInput(String),
    /// Something else went wrong (e.g. an output file could not be written): exit code 1.
    Other(String),
    /// Stdout was closed by its reader: exit code 0, nothing more said.
    PipeClosed,
}

fn load(path: Option<&PathBuf>) -> Result<LoadedScenario, Failure> {
    match path {
        Some(p) => suandian_io::scenario::load(p).map_err(|e| Failure::BadInput(e.to_string())),
        None => Ok(suandian_io::builtin::demo()),
    }
}

#[derive(Subcommand)]
enum ScenarioAction {
    /// Summarise a built-in scenario: sites, signals, work.
    Show(BuiltinArgs),
    /// Print a built-in scenario as a scenario file (TOML) to edit and load again.
    Export(BuiltinArgs),
}

#[derive(clap::Args)]
struct BuiltinArgs {
    /// default or demo.
    name: String,
    /// Days (default scenario only).
    #[arg(long, default_value_t = suandian_scenarios::default_scenario::DEFAULT_DAYS, value_name = "N")]
    days: u32,
    /// Seed of the weather and jobs (default scenario only).
    #[arg(long, default_value_t = suandian_scenarios::default_scenario::DEFAULT_SEED, value_name = "N")]
    seed: u64,
    /// Output format of `show`: table (text), json, or csv (one row per site).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

fn print_summary(loaded: &LoadedScenario, format: Format) -> Result<(), Failure> {
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

fn builtin(name: &str, days: u32, seed: u64) -> Result<LoadedScenario, Failure> {
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

fn scenario_cmd(action: ScenarioAction) -> Result<(), Failure> {
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
    }
}

fn simulate_cmd(args: SimulateArgs) -> Result<(), Failure> {
    let loaded = match (&args.scenario, &args.builtin) {
        (Some(_), _) => load(args.scenario.as_ref())?,
        (None, Some(name)) => builtin(name, args.days, args.scenario_seed)?,
        (None, None) => builtin("default", args.days, args.scenario_seed)?,
    };
    if !args.quiet {
        for w in &loaded.warnings {
            eprintln!("warning: {w}");
        }
    }
    // Every output checked before the run: none overwrites an input or another output, and
    // each folder takes a file.
    let outputs: Vec<(&str, &std::path::Path)> = [
        ("--timeline", &args.timeline),
        ("--jobs", &args.jobs),
        ("--save-run", &args.save_run),
        ("--report", &args.report),
    ]
    .into_iter()
    .filter_map(|(o, p)| Some((o, p.as_deref()?)))
    .collect();
    files::check_outputs(&loaded.inputs, &outputs).map_err(Failure::BadInput)?;
    // Checked whichever forecast is used: a value that is not used is still not ignored
    // without a word (`--forecast-error nan` with a perfect forecast).
    if !(0.0..=5.0).contains(&args.forecast_error) {
        return Err(Failure::BadInput(format!(
            "--forecast-error: found {}, expected a relative error between 0 and 5",
            args.forecast_error
        )));
    }
    let forecast = match args.forecast {
        None => loaded.simulation.forecast,
        Some(ForecastArg::Perfect) => ForecastKind::Perfect,
        Some(ForecastArg::Persistence) => ForecastKind::Persistence,
        Some(ForecastArg::Noisy) => ForecastKind::Noisy {
            relative_error: args.forecast_error,
            seed: args.seed,
        },
    };
    let mut names: Vec<String> = if args.policies.is_empty() {
        loaded.simulation.policies.clone()
    } else {
        args.policies.clone()
    };
    let reference = suandian_core::policy::REFERENCE;
    if !names.iter().any(|n| n == reference) {
        names.insert(0, reference.into());
    }
    names.dedup();
    if !(0.0..=1.0).contains(&args.min_green_share) {
        return Err(Failure::BadInput(format!(
            "--min-green-share: found {}, expected a fraction between 0 and 1",
            args.min_green_share
        )));
    }
    let options = suandian_planner::PlannerOptions {
        mode: args.objective.into(),
        min_green_share: args.min_green_share,
        solver: args.lp_solver,
        warm_start: !args.no_warm_start,
        migrate: args.migrate,
        ..suandian_planner::PlannerOptions::default()
    };
    let mut policies = Vec::new();
    for n in &names {
        match suandian_planner::policy_with_options(n, &loaded.scenario, &options) {
            Some(Ok(p)) => policies.push(p),
            Some(Err(e)) => return Err(Failure::Other(format!("policy {n}: {e}"))),
            None => {
                let known: Vec<&str> = suandian_core::policy::names().collect();
                return Err(Failure::BadInput(format!(
                    "--policy: found `{n}`, expected one of {}",
                    known.join(", ")
                )));
            }
        }
    }
    let cfg = SimConfig {
        forecast,
        record_timeline: args.timeline.is_some()
            || args.report.is_some()
            || args.save_run.is_some(),
    };
    let sc = &loaded.scenario;
    if !args.quiet {
        eprintln!(
            "simulating {} policies on {} ({} sites, {} jobs, {} slots of {} min)...",
            policies.len(),
            loaded.source,
            sc.sites.len(),
            sc.jobs.len(),
            sc.grid.slots,
            sc.grid.slot_minutes
        );
    }
    // Policies are independent: run them side by side on the available cores.
    let bars = progress_bars(args.quiet);
    let results: Vec<RunResult> = std::thread::scope(|scope| {
        let handles: Vec<_> = policies
            .into_iter()
            .map(|mut p| {
                let cfg = &cfg;
                let bar = progress_bar(&bars, sc.grid.slots, &p.name(), "slots");
                scope.spawn(move || {
                    let r = simulate_with_progress(sc, p.as_mut(), cfg, &mut |t| {
                        bar.set_position(t as u64 + 1)
                    });
                    bar.finish();
                    r
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a simulation thread panicked"))
            .collect()
    });

    if let Some(what) = output::first_non_finite(&results) {
        return Err(Failure::Other(format!(
            "{what} is not a finite number: nothing was written (a bug: please report it with the scenario)"
        )));
    }
    if !args.quiet {
        // Wall-clock figures go to stderr only: every result written is the same, run to run.
        for r in &results {
            for t in &r.timings {
                eprintln!("timing: {}: {t}", r.policy);
            }
        }
    }
    if let Some(path) = &args.timeline {
        output::write_timeline(path, sc, &results).map_err(|e| {
            Failure::Other(format!(
                "{}: cannot write the timeline: {e}",
                path.display()
            ))
        })?;
    }
    if let Some(path) = &args.jobs {
        output::write_jobs(path, sc, &results).map_err(|e| {
            Failure::Other(format!(
                "{}: cannot write the job outcomes: {e}",
                path.display()
            ))
        })?;
    }
    if args.report.is_some() || args.save_run.is_some() {
        let doc = suandian_io::report::data(&loaded, &cfg, &results);
        if let Some(path) = &args.save_run {
            let text = serde_json::to_string(&doc).expect("the run serialises");
            files::write_atomic(path, |w| w.write_all(text.as_bytes())).map_err(|e| {
                Failure::Other(format!("{}: cannot write the run: {e}", path.display()))
            })?;
        }
        if let Some(path) = &args.report {
            write_report(&doc, path)?;
            if !args.quiet {
                eprintln!("report written to {}", path.display());
            }
        }
    }
    let format = if args.json {
        Format::Json
    } else {
        args.format.unwrap_or_default()
    };
    match format {
        Format::Json => {
            let v = output::json(&loaded, &cfg, &results);
            out(&format!(
                "{}\n",
                serde_json::to_string_pretty(&v).expect("metrics serialise")
            ))
        }
        Format::Csv => out(&output::metrics_csv(&loaded, &cfg, &results)),
        Format::Table => {
            out(&output::table(&loaded, &cfg, &results))?;
            match &args.timeline {
                Some(path) => out(&format!("timeline written to {}\n", path.display())),
                None => Ok(()),
            }
        }
    }
}

fn write_report(doc: &serde_json::Value, path: &std::path::Path) -> Result<(), Failure> {
    let page = suandian_io::report::html(doc).map_err(Failure::BadInput)?;
    files::write_atomic(path, |w| w.write_all(page.as_bytes()))
        .map_err(|e| Failure::Other(format!("{}: cannot write the report: {e}", path.display())))
}

/// `suandian report run.json -o report.html`: the report of a saved run.
fn report_cmd(run: &std::path::Path, out: &std::path::Path) -> Result<(), Failure> {
    files::check_outputs(&[run.to_path_buf()], &[("-o", out)]).map_err(Failure::BadInput)?;
    let text = files::read_input(run, &run.display().to_string())
        .map_err(|e| Failure::BadInput(e.to_string()))?;
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        Failure::BadInput(format!(
            "{}: found invalid JSON ({e}), expected a run saved by `suandian simulate --save-run`",
            run.display()
        ))
    })?;
    if doc.get("report").is_none() {
        return Err(Failure::BadInput(format!(
            "{}: found no `report` object, expected a run saved by `suandian simulate --save-run` \
             (the `--json` output lacks the timelines)",
            run.display()
        )));
    }
    suandian_io::report::check_run(&doc)
        .map_err(|e| Failure::BadInput(format!("{}: {e}", run.display())))?;
    write_report(&doc, out)
}

#[derive(clap::Args)]
#[command(
    after_help = "Example (GAIA: python3 src/run.py -c DE22 -t pai_1k -i 2000 \
--scheduling-policy carbon --carbon-policy oracle -w 6x24 -r 0):
  suandian gaia --carbon DE22.csv --trace pai_1k.csv --start-index 2000 \\
      --policy carbon --carbon-policy oracle --wait 6x24 --out results/"
)]
struct GaiaArgs {
    /// GAIA carbon file: a `carbon_intensity_avg` column (gCO2/kWh per hour); start index N
    /// reads rows 17544+N .. 17544+N+720. The zone name in the output names is its stem.
    #[arg(long, value_name = "FILE")]
    carbon: PathBuf,
    /// GAIA job trace: `arrival_time`, `length` (seconds) and `cpus` columns.
    #[arg(long, value_name = "FILE")]
    trace: PathBuf,
    /// GAIA's `-i`: the hour to start at; -1 runs GAIA's sweep 0, 500, ..., 8000.
    #[arg(
        long,
        default_value_t = 7000,
        allow_negative_numbers = true,
        value_name = "N"
    )]
    start_index: i64,
    /// GAIA's `--scheduling-policy`: carbon, suspend-resume, suspend-resume-threshold.
    #[arg(long, value_name = "NAME")]
    policy: String,
    /// GAIA's `--carbon-policy`: lowest, waiting, oracle, cst_oracle, cst_average.
    #[arg(long, default_value = "oracle", value_name = "NAME")]
    carbon_policy: String,
    /// GAIA's `-w`: maximum wait in hours per queue (short x long), e.g. 6x24; 0x0: no wait.
    #[arg(long, default_value = "6x24", value_name = "HOURSxHOURS")]
    wait: String,
    /// Directory for GAIA's three files per run (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,
}

fn gaia_cmd(args: GaiaArgs) -> Result<(), Failure> {
    use suandian_gaia as gaia;
    let known = |names: &[&str]| names.join(", ");
    let policy = gaia::SchedulingPolicy::from_name(&args.policy).ok_or_else(|| {
        let names: Vec<&str> = gaia::SchedulingPolicy::ALL.iter().map(|p| p.0).collect();
        Failure::BadInput(format!(
            "--policy: found `{}`, expected one of {}",
            args.policy,
            known(&names)
        ))
    })?;
    let carbon_policy = gaia::CarbonPolicy::from_name(&args.carbon_policy).ok_or_else(|| {
        let names: Vec<&str> = gaia::CarbonPolicy::ALL.iter().map(|p| p.0).collect();
        Failure::BadInput(format!(
            "--carbon-policy: found `{}`, expected one of {}",
            args.carbon_policy,
            known(&names)
        ))
    })?;
    let wait_hours =
        gaia::parse_wait(&args.wait).map_err(|m| Failure::BadInput(format!("--wait: {m}")))?;
    let starts: Vec<usize> = match args.start_index {
        -1 => gaia::sweep_starts().collect(),
        n if n >= 0 => vec![n as usize],
        n => {
            return Err(Failure::BadInput(format!(
                "--start-index: found {n}, expected an hour >= 0, or -1 for GAIA's sweep"
            )))
        }
    };
    // Every output checked before the runs: none may be an input or written twice.
    std::fs::create_dir_all(&args.out).map_err(|e| {
        Failure::BadInput(format!(
            "--out {}: cannot make the folder: {e}",
            args.out.display()
        ))
    })?;
    let zone = gaia::formats::zone_of(&args.carbon);
    let names: Vec<String> = starts
        .iter()
        .map(|&s| {
            gaia::formats::run_name(policy.name(), s, carbon_policy.name(), &zone, &args.wait)
        })
        .collect();
    let paths: Vec<std::path::PathBuf> = names
        .iter()
        .flat_map(|n| gaia::formats::output_paths(&args.out, n))
        .collect();
    let outputs: Vec<(&str, &std::path::Path)> =
        paths.iter().map(|p| ("--out", p.as_path())).collect();
    files::check_outputs(&[args.carbon.clone(), args.trace.clone()], &outputs)
        .map_err(Failure::BadInput)?;
    let bad = |e: suandian_io::InputError| Failure::BadInput(e.to_string());
    let carbon = gaia::formats::read_carbon(&args.carbon).map_err(bad)?;
    let jobs = gaia::formats::read_trace(&args.trace).map_err(bad)?;
    let windows = starts
        .iter()
        .map(|&s| carbon.window(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    let cfg = gaia::Config {
        policy,
        carbon_policy,
        wait_hours,
    };
    // Start indices are independent runs: share them out over the cores.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut results: Vec<Option<Result<gaia::Outcome, gaia::GaiaError>>> =
        (0..starts.len()).map(|_| None).collect();
    let bars = progress_bars(args.quiet || starts.len() < 2);
    let bar = progress_bar(&bars, starts.len(), "gaia sweep", "runs");
    std::thread::scope(|scope| {
        for (k, chunk) in results
            .chunks_mut(starts.len().div_ceil(threads))
            .enumerate()
        {
            let (windows, jobs, cfg, bar) = (&windows, &jobs, &cfg, &bar);
            let first = k * starts.len().div_ceil(threads);
            scope.spawn(move || {
                for (i, slot) in chunk.iter_mut().enumerate() {
                    *slot = Some(gaia::run(windows[first + i], jobs, cfg));
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    for ((&start, name), result) in starts.iter().zip(&names).zip(results) {
        let run = result.expect("every run ran").map_err(|e| {
            Failure::BadInput(format!(
                "{} (start index {start}): {e}",
                args.trace.display()
            ))
        })?;
        gaia::formats::write_outputs(&args.out, name, &run)
            .map_err(|e| Failure::Other(format!("{}: cannot write: {e}", args.out.display())))?;
        if !args.quiet {
            out(&format!(
                "{name}: carbon_cost {:.4}, dollar_cost {:.4}, {} rows, mean wait {:.1} min{}\n",
                run.carbon_cost,
                run.dollar_cost,
                run.rows.len(),
                run.mean_wait_ticks() * gaia::TIME_FACTOR / 60.0,
                if run.dropped > 0 {
                    format!(", {} left queued at the window's end", run.dropped)
                } else {
                    String::new()
                }
            ))?;
        }
    }
    Ok(())
}
