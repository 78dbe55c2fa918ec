//! `suandian simulate`: backtest policies on a scenario and compare them.

use crate::cmd::report::write_report;
use crate::progress::{progress_bar, progress_bars};
use crate::{builtin, load, out, Failure, Format};
use clap::ValueEnum;
use std::path::PathBuf;
use suandian_core::forecast::ForecastKind;
use suandian_core::policy::Policy;
use suandian_core::sim::{simulate_all, RunResult, SimConfig};
use suandian_io::scenario::LoadedScenario;
use suandian_io::{files, output};
use suandian_planner::{policies_for, PlannerOptions, PolicyError};

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ForecastArg {
    /// The policies see the true future signals (an upper bound).
    Perfect,
    /// Same time yesterday.
    Persistence,
    /// The truth with a seeded error that grows with lead time up to a day.
    Noisy,
}

#[derive(Clone, Copy, ValueEnum, Default)]
pub(crate) enum ObjectiveArg {
    /// Energy cost + carbon price x emissions + penalties for late work and unserved inference.
    #[default]
    Balanced,
    /// Emissions only.
    Carbon,
    /// Energy cost only.
    Cost,
}

/// `--lp-solver`: the planner's own names (`LpSolver::NAMES`), listed in errors and help.
pub(crate) fn lp_solver_parser(
) -> impl clap::builder::TypedValueParser<Value = suandian_planner::LpSolver> {
    use clap::builder::TypedValueParser;
    let names = suandian_planner::LpSolver::NAMES;
    clap::builder::PossibleValuesParser::new(names.map(|(n, _)| n))
        .map(|name| suandian_planner::LpSolver::by_name(&name).expect("a listed name"))
}

/// `--blocks`: tiers of the rolling window's periods (`Blocks`'s own syntax and errors).
pub(crate) fn blocks_parser(s: &str) -> Result<suandian_planner::Blocks, String> {
    s.parse()
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
pub(crate) struct SimulateArgs {
    /// The scenario file (TOML, see docs/scenario.md). Without it, the built-in default
    /// scenario runs (see docs/default-scenario.md).
    pub(crate) scenario: Option<PathBuf>,
    /// Run a built-in scenario instead of a file: default, demo.
    #[arg(long, value_name = "NAME", conflicts_with = "scenario")]
    pub(crate) builtin: Option<String>,
    /// Days of the built-in default scenario.
    #[arg(long, default_value_t = suandian_scenarios::default_scenario::DEFAULT_DAYS, value_name = "N")]
    pub(crate) days: u32,
    /// Run on slots of this many minutes, dividing the scenario's own: each per-slot series
    /// held over the finer slots (a what-if at market resolution: `--slot-minutes 15` on the
    /// hourly default week). Jobs and events keep their times.
    #[arg(long, value_name = "MINUTES")]
    pub(crate) slot_minutes: Option<u32>,
    /// Seed of the built-in default scenario's weather and jobs.
    #[arg(long, default_value_t = suandian_scenarios::default_scenario::DEFAULT_SEED, value_name = "N")]
    pub(crate) scenario_seed: u64,
    /// A policy to run (repeat for several). Default: the scenario's list, else all baselines.
    /// `asap` is always run as the reference for savings.
    #[arg(short, long = "policy", value_name = "NAME")]
    pub(crate) policies: Vec<String>,
    /// What the policies know about future carbon, prices, green output and demand.
    /// Default: the scenario's [simulation] forecast, else perfect.
    #[arg(long, value_enum)]
    pub(crate) forecast: Option<ForecastArg>,
    /// Relative error of the noisy forecast a day ahead (0.15 = 15 %).
    #[arg(long, default_value_t = 0.15, value_name = "FRACTION")]
    pub(crate) forecast_error: f64,
    /// Seed of the noisy forecast: the same seed gives the same result.
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
    /// What the `coordinated` planner and the `oracle` minimise.
    #[arg(long, value_enum, default_value_t = ObjectiveArg::Balanced)]
    pub(crate) objective: ObjectiveArg,
    /// A floor on each site's green share of its facility energy over the planning window, for
    /// `coordinated` (0.3 = 30 %): enforced softly, each kWh short penalised like an import
    /// over its limit. The oracle keeps none: it bounds the objective, which a floor only raises.
    #[arg(long, default_value_t = 0.0, value_name = "FRACTION")]
    pub(crate) min_green_share: f64,
    /// The HiGHS algorithm for `coordinated` and `oracle`: auto (dual simplex, interior point
    /// above 50,000 columns), dual, primal (faster, other optimal vertices), ipm, pdlp.
    #[arg(long, default_value = "auto", value_parser = lp_solver_parser())]
    pub(crate) lp_solver: suandian_planner::LpSolver,
    /// Solve every re-plan of `coordinated` from scratch rather than from the last plan's basis
    /// (same plans up to ties, slower; for measuring).
    #[arg(long)]
    pub(crate) no_warm_start: bool,
    /// Re-plan `coordinated` every this many slots whatever changed (1: every slot; 4: every
    /// fourth, following the last plan in between). Default: where the inputs changed (new
    /// work, a revised forecast, a demand-response event) and at least every
    /// `--replan-max-h` hours, which at slots of 30 minutes or more is every slot.
    #[arg(long, value_name = "SLOTS")]
    pub(crate) replan_every: Option<usize>,
    /// The longest `coordinated` follows a plan before it re-plans, hours (without
    /// `--replan-every`).
    #[arg(long, default_value_t = 0.5, value_name = "HOURS")]
    pub(crate) replan_max_h: f64,
    /// How `coordinated` cuts its 24-hour window into the plan's periods: tiers of
    /// `PERIOD:UNTIL`, the last tier `PERIOD` to the window's end; PERIOD is `slot` or a
    /// length (`15m`, `1h`, `4h`). The default keeps the slot's resolution for 2 h, then plans
    /// in hours (the same model as `slot` at hourly slots); `slot` plans every slot;
    /// `slot:2h,1h:12h,4h` adds 4-hour blocks after 12 h (docs/planner.md#resolution).
    #[arg(long, default_value = "slot:2h,1h", value_name = "TIERS", value_parser = blocks_parser)]
    pub(crate) blocks: suandian_planner::Blocks,
    /// Let `coordinated` move started, migratable jobs to another site where its plan finds
    /// that the energy saved pays for moving their data (`transfer_cost_per_gb` x
    /// `checkpoint_gb`; docs/planner.md#migration).
    #[arg(long)]
    pub(crate) migrate: bool,
    /// Output format: table, json (every metric of every policy, one object) or csv (one row
    /// of metrics per policy).
    #[arg(long, value_enum)]
    pub(crate) format: Option<Format>,
    /// Same as `--format json`.
    #[arg(long, conflicts_with = "format")]
    pub(crate) json: bool,
    /// Write a self-contained HTML report with charts to this file (see docs/report.md).
    #[arg(long, value_name = "FILE")]
    pub(crate) report: Option<PathBuf>,
    /// Save the run (the `--json` document plus the timelines the report needs) to this JSON
    /// file, for `suandian report FILE -o report.html`.
    #[arg(long, value_name = "FILE")]
    pub(crate) save_run: Option<PathBuf>,
    /// Write the per-slot, per-site timeline of every policy to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub(crate) timeline: Option<PathBuf>,
    /// Write what happened to every job under every policy to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub(crate) jobs: Option<PathBuf>,
    /// Print no warnings or progress on stderr.
    #[arg(short, long)]
    pub(crate) quiet: bool,
}

pub(crate) fn simulate_cmd(args: SimulateArgs) -> Result<(), Failure> {
    let loaded = scenario(&args)?;
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
    let cfg = SimConfig {
        forecast: forecast(&args, &loaded)?,
        record_timeline: args.timeline.is_some()
            || args.report.is_some()
            || args.save_run.is_some(),
    };
    let policies = policies(&args, &loaded)?;
    let results = run(&args, &loaded, policies, &cfg);
    write_results(&args, &loaded, &cfg, &results)
}

/// The scenario to run: the file, the named built-in, or the default.
fn scenario(args: &SimulateArgs) -> Result<LoadedScenario, Failure> {
    let mut loaded = match (&args.scenario, &args.builtin) {
        (Some(_), _) => load(args.scenario.as_ref())?,
        (None, Some(name)) => builtin(name, args.days, args.scenario_seed)?,
        (None, None) => builtin("default", args.days, args.scenario_seed)?,
    };
    if let Some(m) = args.slot_minutes {
        loaded.scenario = loaded
            .scenario
            .refined(m)
            .map_err(|e| Failure::BadInput(format!("--slot-minutes: {e}")))?;
    }
    if !args.quiet {
        for w in &loaded.warnings {
            eprintln!("warning: {w}");
        }
    }
    Ok(loaded)
}

/// What the policies know of the future: `--forecast`, else the scenario's.
fn forecast(args: &SimulateArgs, loaded: &LoadedScenario) -> Result<ForecastKind, Failure> {
    // Checked whichever forecast is used: a value that is not used is still not ignored
    // without a word (`--forecast-error nan` with a perfect forecast).
    if !(0.0..=5.0).contains(&args.forecast_error) {
        return Err(Failure::BadInput(format!(
            "--forecast-error: found {}, expected a relative error between 0 and 5",
            args.forecast_error
        )));
    }
    Ok(match args.forecast {
        None => loaded.simulation.forecast,
        Some(ForecastArg::Perfect) => ForecastKind::Perfect,
        Some(ForecastArg::Persistence) => ForecastKind::Persistence,
        Some(ForecastArg::Noisy) => ForecastKind::Noisy {
            relative_error: args.forecast_error,
            seed: args.seed,
        },
    })
}

/// The policies to run (`--policy`, else the scenario's list; `asap` always), built with the
/// planner's options.
fn policies(
    args: &SimulateArgs,
    loaded: &LoadedScenario,
) -> Result<Vec<Box<dyn Policy + Send>>, Failure> {
    let names: Vec<String> = if args.policies.is_empty() {
        loaded.simulation.policies.clone()
    } else {
        args.policies.clone()
    };
    let options = PlannerOptions {
        mode: args.objective.into(),
        min_green_share: args.min_green_share,
        solver: args.lp_solver,
        warm_start: !args.no_warm_start,
        migrate: args.migrate,
        replan_every: args.replan_every,
        replan_max_h: args.replan_max_h,
        blocks: args.blocks,
        ..PlannerOptions::default()
    };
    options.check().map_err(|(field, found, expected)| {
        let flag = match field {
            "min_green_share" => "--min-green-share",
            "replan_every" => "--replan-every",
            "replan_max_h" => "--replan-max-h",
            other => other,
        };
        Failure::BadInput(format!("{flag}: found {found}, expected {expected}"))
    })?;
    policies_for(&names, &loaded.scenario, &options).map_err(|e| match e {
        PolicyError::Unknown { name, known } => Failure::BadInput(format!(
            "--policy: found `{name}`, expected one of {}",
            known.join(", ")
        )),
        PolicyError::Failed { name, reason } => Failure::Other(format!("policy {name}: {reason}")),
    })
}

/// Run the policies side by side, with a progress bar each.
fn run(
    args: &SimulateArgs,
    loaded: &LoadedScenario,
    policies: Vec<Box<dyn Policy + Send>>,
    cfg: &SimConfig,
) -> Vec<RunResult> {
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
    let bars = progress_bars(args.quiet);
    let bars: Vec<_> = policies
        .iter()
        .map(|p| progress_bar(&bars, sc.grid.slots, &p.name(), "slots"))
        .collect();
    let results = simulate_all(sc, policies, cfg, &|i, t| {
        bars[i].set_position(t as u64 + 1)
    });
    for b in &bars {
        b.finish();
    }
    results
}

/// Check the results, then write the files asked for and print the comparison.
fn write_results(
    args: &SimulateArgs,
    loaded: &LoadedScenario,
    cfg: &SimConfig,
    results: &[RunResult],
) -> Result<(), Failure> {
    let sc = &loaded.scenario;
    if let Some(what) = output::first_non_finite(results) {
        return Err(Failure::Other(format!(
            "{what} is not a finite number: nothing was written (a bug: please report it with the scenario)"
        )));
    }
    if !args.quiet {
        // Wall-clock figures go to stderr only: every result written is the same, run to run.
        for r in results {
            for t in &r.timings {
                eprintln!("timing: {}: {t}", r.policy);
            }
        }
    }
    if let Some(path) = &args.timeline {
        output::write_timeline(path, sc, results).map_err(|e| {
            Failure::Other(format!(
                "{}: cannot write the timeline: {e}",
                path.display()
            ))
        })?;
    }
    if let Some(path) = &args.jobs {
        output::write_jobs(path, sc, results).map_err(|e| {
            Failure::Other(format!(
                "{}: cannot write the job outcomes: {e}",
                path.display()
            ))
        })?;
    }
    if args.report.is_some() || args.save_run.is_some() {
        let doc = suandian_io::report::data(loaded, cfg, results);
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
            let v = output::json(loaded, cfg, results);
            out(&format!(
                "{}\n",
                serde_json::to_string_pretty(&v).expect("metrics serialise")
            ))
        }
        Format::Csv => out(&output::metrics_csv(loaded, cfg, results)),
        Format::Table => {
            out(&output::table(loaded, cfg, results))?;
            match &args.timeline {
                Some(path) => out(&format!("timeline written to {}\n", path.display())),
                None => Ok(()),
            }
        }
    }
}
