//! `suandian serve`: the live coordinator on a scenario's sites (docs/serve.md).

use crate::{builtin, load, Failure};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    after_help = "The admin token (writes and reads) comes from SUANDIAN_ADMIN_TOKEN, an
optional read-only token from SUANDIAN_READ_TOKEN; neither is ever printed. With --openadr-vtn,
the VEN's client secret comes from SUANDIAN_OPENADR_CLIENT_SECRET and the key of the VTN's
webhook signatures (if it signs them) from SUANDIAN_OPENADR_WEBHOOK_KEY.

Example (an hourly slot a second, on the built-in demo):
  SUANDIAN_ADMIN_TOKEN=$(openssl rand -hex 16) suandian serve --builtin demo --speed 3600"
)]
pub(crate) struct ServeArgs {
    /// The scenario file whose sites, grid and signals the service runs on (its jobs are not
    /// used: jobs come through the API). Without it, the built-in default scenario.
    pub(crate) scenario: Option<PathBuf>,
    /// A built-in scenario instead of a file: default, demo.
    #[arg(long, value_name = "NAME")]
    pub(crate) builtin: Option<String>,
    /// Where to listen. Port 0 picks a free one (printed on stdout).
    #[arg(long, default_value = "127.0.0.1:8642", value_name = "ADDR")]
    pub(crate) listen: SocketAddr,
    /// Where the accepted jobs and the loop's progress are kept: a SQLite file (created if
    /// missing), or PostgreSQL as postgres://USER:PASSWORD@HOST:PORT/DATABASE (the password can
    /// also come from PGPASSWORD). A database holds one run: it refuses another scenario or
    /// policy.
    #[arg(long, default_value = "suandian.db", value_name = "FILE|URL")]
    pub(crate) database: String,
    /// How much faster than real time slots pass (3600: an hourly slot a second).
    #[arg(long, default_value_t = 1.0, value_name = "N")]
    pub(crate) speed: f64,
    /// The policy that steers the fleet.
    #[arg(short, long, default_value = "coordinated", value_name = "NAME")]
    pub(crate) policy: String,
    /// Re-plan `coordinated` every this many slots whatever changed (1: every slot; more: it
    /// follows the last plan in between). Default: where the inputs changed (new work, a
    /// revised forecast, a demand-response event) and at least every `--replan-max-h` hours,
    /// which at slots of 30 minutes or more is every slot.
    #[arg(long, value_name = "SLOTS")]
    pub(crate) replan_every: Option<usize>,
    /// The longest `coordinated` follows a plan before it re-plans, hours (without
    /// `--replan-every`).
    #[arg(long, default_value_t = 0.5, value_name = "HOURS")]
    pub(crate) replan_max_h: f64,
    /// How `coordinated` cuts its window into the plan's periods (as `simulate --blocks`:
    /// the slot's resolution for 2 h, then hours, by default).
    #[arg(long, default_value = "slot:2h,1h", value_name = "TIERS", value_parser = super::simulate::blocks_parser)]
    pub(crate) blocks: suandian_planner::Blocks,
    /// Start with the clock stopped (POST /v1/clock {"running": true} starts it).
    #[arg(long)]
    pub(crate) paused: bool,
    /// Answer reads without a token.
    #[arg(long)]
    pub(crate) open_reads: bool,
    /// Where carbon intensity, prices, green output, PUE and inference demand come from:
    /// `replay` (the scenario's series, forecast as its [simulation] says) or `live` (only
    /// what is posted to POST /v1/signals; each feed falls back to its series' mean until
    /// something is posted).
    #[arg(long, default_value = "replay", value_name = "replay|live")]
    pub(crate) signals: String,
    /// With --signals live: how long a posted forecast is used; after that the service
    /// forecasts by persistence from the observations (and says so in /readyz).
    #[arg(long, default_value_t = 6.0, value_name = "HOURS")]
    pub(crate) forecast_max_age_h: f64,
    /// Where the decisions go: `simulated` (the built-in fleet: the engine's physics) or
    /// `slurm` (a Slurm cluster through sbatch, scontrol and squeue; SLURM_CONF as usual;
    /// docs/slurm.md). Slurm's jobs are stand-ins that run for the job's run time scaled by --speed.
    #[arg(long, default_value = "simulated", value_name = "simulated|slurm")]
    pub(crate) executor: String,
    /// With --executor slurm: the partition of a site, as SITE=PARTITION (repeat it; default:
    /// the partition named like the site).
    #[arg(long = "slurm-partition", value_name = "SITE=PARTITION")]
    pub(crate) slurm_partitions: Vec<String>,
    /// With --executor slurm: CPUs a job asks per accelerator.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub(crate) slurm_cpus_per_accelerator: u32,
    /// With --executor slurm: accelerators are GPUs; each job also asks --gres=gpu:N, and a
    /// job's accelerators (its own, and anyone else's in the power budget) are its GPUs.
    /// Without it, accelerators are CPUs (a cluster without GPUs).
    #[arg(long)]
    pub(crate) slurm_gpus: bool,
    /// With --executor slurm: where the stand-in jobs keep their progress, so that a job
    /// moved to another partition resumes where it stopped (a directory every node can write).
    #[arg(long, value_name = "DIR")]
    pub(crate) slurm_checkpoint_dir: Option<std::path::PathBuf>,
    /// Answer an OpenADR 3.1 VTN as its VEN (docs/openadr.md): its base URL, up to the version
    /// (http://127.0.0.1:3900/openadr3/3.1.0). The client secret comes from
    /// SUANDIAN_OPENADR_CLIENT_SECRET, never a flag.
    #[arg(long, value_name = "URL")]
    pub(crate) openadr_vtn: Option<String>,
    /// The VEN's OAuth2 client id at the VTN.
    #[arg(long, value_name = "ID", requires = "openadr_vtn")]
    pub(crate) openadr_client_id: Option<String>,
    /// The VTN's token endpoint (default: the base URL's /auth/token).
    #[arg(long, value_name = "URL", requires = "openadr_vtn")]
    pub(crate) openadr_token_url: Option<String>,
    /// The VEN's name at the VTN (its clientName; a target naming it targets every site).
    #[arg(long, default_value = "suandian", value_name = "NAME")]
    pub(crate) openadr_ven_name: String,
    /// Seconds between polls of the VTN's events.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub(crate) openadr_poll_s: f64,
    /// Targets to ask the VTN's events for (repeat it; default: the site names and the VEN's
    /// name).
    #[arg(long = "openadr-target", value_name = "TARGET")]
    pub(crate) openadr_targets: Vec<String>,
    /// A programme the VEN is enrolled in, by its id at the VTN (repeat it): events of other
    /// programmes are left alone. Default: every programme the VTN shows it.
    #[arg(long = "openadr-program", value_name = "ID")]
    pub(crate) openadr_programs: Vec<String>,
    /// Where the VTN can reach this service's /v1/openadr/notify: with it, the VEN subscribes
    /// to events by webhook (and still polls).
    #[arg(long, value_name = "URL", requires = "openadr_vtn")]
    pub(crate) openadr_callback_url: Option<String>,
}

pub(crate) fn serve_cmd(args: ServeArgs) -> Result<(), Failure> {
    let mut loaded = match (&args.scenario, &args.builtin) {
        (Some(_), _) => load(args.scenario.as_ref())?,
        (None, Some(name)) => builtin(name, 7, 2024)?,
        (None, None) => builtin("default", 7, 2024)?,
    };
    if args.executor == "slurm" {
        // Slurm starts and stops jobs; it does not cap their power. The plan must not count
        // on a lower power level it cannot send: every job runs at full power.
        for s in &mut loaded.scenario.sites {
            if s.accelerators.min_power_level < 1.0 {
                s.accelerators.min_power_level = 1.0;
            }
        }
        eprintln!("--executor slurm: jobs run at full power (Slurm does not cap power)");
    }
    let admin_token = std::env::var("SUANDIAN_ADMIN_TOKEN").map_err(|_| {
        Failure::BadInput(
            "SUANDIAN_ADMIN_TOKEN: found nothing, expected the admin token (16 characters or more) in the environment"
                .into(),
        )
    })?;
    let read_token = std::env::var("SUANDIAN_READ_TOKEN").ok();
    let options = suandian_planner::PlannerOptions {
        replan_every: args.replan_every,
        replan_max_h: args.replan_max_h,
        blocks: args.blocks,
        ..suandian_planner::PlannerOptions::default()
    };
    options.check().map_err(|(field, found, expected)| {
        let flag = match field {
            "replan_every" => "--replan-every",
            "replan_max_h" => "--replan-max-h",
            other => other,
        };
        Failure::BadInput(format!("{flag}: found {found}, expected {expected}"))
    })?;
    let policy = suandian_planner::policies_for(
        std::slice::from_ref(&args.policy),
        &loaded.scenario,
        &options,
    )
    .map_err(|e| Failure::BadInput(format!("--policy: {e}")))?
    .into_iter()
    .find(|p| p.name() == args.policy)
    .ok_or_else(|| Failure::BadInput(format!("--policy: found `{}`", args.policy)))?;
    let signals = match args.signals.as_str() {
        "replay" => suandian_serve::SignalsMode::Replay,
        "live" => {
            let h = args.forecast_max_age_h;
            if !(h.is_finite() && h >= 0.0) {
                return Err(Failure::BadInput(format!(
                    "--forecast-max-age-h: found {h}, expected hours >= 0"
                )));
            }
            suandian_serve::SignalsMode::Live {
                max_age_slots: (h / loaded.scenario.grid.slot_h()).floor() as usize,
            }
        }
        other => {
            return Err(Failure::BadInput(format!(
                "--signals: found `{other}`, expected replay or live"
            )))
        }
    };
    let executor = match args.executor.as_str() {
        "simulated" => suandian_serve::ExecutorChoice::Simulated,
        "slurm" => {
            let mut partitions = std::collections::HashMap::new();
            for p in &args.slurm_partitions {
                let (site, partition) = p
                    .split_once('=')
                    .filter(|(s, q)| !s.is_empty() && !q.is_empty())
                    .ok_or_else(|| {
                        Failure::BadInput(format!(
                            "--slurm-partition: found `{p}`, expected SITE=PARTITION"
                        ))
                    })?;
                if !loaded.scenario.sites.iter().any(|s| s.name == site) {
                    let names: Vec<&str> = loaded
                        .scenario
                        .sites
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect();
                    return Err(Failure::BadInput(format!(
                        "--slurm-partition: found site `{site}`, expected one of {}",
                        names.join(", ")
                    )));
                }
                partitions.insert(site.to_string(), partition.to_string());
            }
            if args.slurm_cpus_per_accelerator == 0 {
                return Err(Failure::BadInput(
                    "--slurm-cpus-per-accelerator: found 0, expected 1 or more".into(),
                ));
            }
            suandian_serve::ExecutorChoice::Slurm {
                partitions,
                cpus_per_accelerator: args.slurm_cpus_per_accelerator,
                gpus: args.slurm_gpus,
                checkpoint_dir: args
                    .slurm_checkpoint_dir
                    .clone()
                    .unwrap_or_else(std::env::temp_dir),
            }
        }
        other => {
            return Err(Failure::BadInput(format!(
                "--executor: found `{other}`, expected simulated or slurm"
            )))
        }
    };
    let openadr = match &args.openadr_vtn {
        None => None,
        Some(vtn) => {
            let client_id = args.openadr_client_id.clone().ok_or_else(|| {
                Failure::BadInput(
                    "--openadr-client-id: found nothing, expected the VEN's client id at the VTN"
                        .into(),
                )
            })?;
            let client_secret = std::env::var("SUANDIAN_OPENADR_CLIENT_SECRET").map_err(|_| {
                Failure::BadInput(
                    "SUANDIAN_OPENADR_CLIENT_SECRET: found nothing, expected the VEN's client secret in the environment"
                        .into(),
                )
            })?;
            if !(args.openadr_poll_s.is_finite()
                && (0.05..=86_400.0).contains(&args.openadr_poll_s))
            {
                return Err(Failure::BadInput(format!(
                    "--openadr-poll-s: found {}, expected seconds from 0.05 to 86400",
                    args.openadr_poll_s
                )));
            }
            Some(suandian_serve::openadr::VenConfig {
                vtn_url: vtn.clone(),
                token_url: args.openadr_token_url.clone(),
                client_id,
                client_secret,
                ven_name: args.openadr_ven_name.clone(),
                poll: std::time::Duration::from_secs_f64(args.openadr_poll_s),
                targets: args.openadr_targets.clone(),
                programs: args.openadr_programs.clone(),
                callback_url: args.openadr_callback_url.clone(),
                webhook_key: std::env::var("SUANDIAN_OPENADR_WEBHOOK_KEY").ok(),
            })
        }
    };
    let config = suandian_serve::Config {
        openadr,
        executor,
        signals,
        listen: args.listen,
        database: args.database,
        speed: args.speed,
        policy,
        forecast: loaded.simulation.forecast,
        admin_token,
        read_token,
        open_reads: args.open_reads,
        paused: args.paused,
    };
    suandian_serve::serve(loaded.scenario, config, |addr| {
        use std::io::Write;
        println!("listening on http://{addr}");
        let _ = std::io::stdout().flush();
    })
    .map_err(Failure::BadInput)
}
