//! `suandian gaia`: GAIA's batch policies on GAIA's own files (docs/gaia.md).

use crate::progress::{progress_bar, progress_bars};
use crate::{out, Failure};
use std::path::PathBuf;
use suandian_io::files;

#[derive(clap::Args)]
#[command(
    after_help = "Example (GAIA: python3 src/run.py -c DE22 -t pai_1k -i 2000 \
--scheduling-policy carbon --carbon-policy oracle -w 6x24 -r 0):
  suandian gaia --carbon DE22.csv --trace pai_1k.csv --start-index 2000 \\
      --policy carbon --carbon-policy oracle --wait 6x24 --out results/"
)]
pub(crate) struct GaiaArgs {
    /// GAIA carbon file: a `carbon_intensity_avg` column (gCO2/kWh per hour); start index N
    /// reads rows 17544+N .. 17544+N+720. The zone name in the output names is its stem.
    #[arg(long, value_name = "FILE")]
    pub(crate) carbon: PathBuf,
    /// GAIA job trace: `arrival_time`, `length` (seconds) and `cpus` columns.
    #[arg(long, value_name = "FILE")]
    pub(crate) trace: PathBuf,
    /// GAIA's `-i`: the hour to start at; -1 runs GAIA's sweep 0, 500, ..., 8000.
    #[arg(
        long,
        default_value_t = 7000,
        allow_negative_numbers = true,
        value_name = "N"
    )]
    pub(crate) start_index: i64,
    /// GAIA's `--scheduling-policy`: carbon, suspend-resume, suspend-resume-threshold.
    #[arg(long, value_name = "NAME")]
    pub(crate) policy: String,
    /// GAIA's `--carbon-policy`: lowest, waiting, oracle, cst_oracle, cst_average.
    #[arg(long, default_value = "oracle", value_name = "NAME")]
    pub(crate) carbon_policy: String,
    /// GAIA's `-w`: maximum wait in hours per queue (short x long), e.g. 6x24; 0x0: no wait.
    #[arg(long, default_value = "6x24", value_name = "HOURSxHOURS")]
    pub(crate) wait: String,
    /// Directory for GAIA's three files per run (created if missing).
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub(crate) quiet: bool,
}

pub(crate) fn gaia_cmd(args: GaiaArgs) -> Result<(), Failure> {
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
