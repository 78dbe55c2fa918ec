//! Executors: where the control loop's decisions go, and what the fleet reports back.
//!
//! The engine decides for every slot what each site runs (starts, power levels, suspensions,
//! migrations). An [`Executor`] carries those decisions out on the machines and reports what it
//! sees of the jobs it runs: the built-in [`Simulated`] fleet is the engine's own physics (there
//! is nothing to send), and [`Slurm`] drives a Slurm cluster through its command-line tools.
//! Executors run on their own thread ([`ExecutorHandle`]): a slow or absent workload manager
//! never holds the control loop or the API; its failures are retried and counted.

use serde::Serialize;
use std::collections::HashMap;
use std::process::Command;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A job as the executor needs it.
#[derive(Debug, Clone)]
pub struct ExecJob {
    pub id: String,
    pub accelerators: u32,
    pub runtime_h: f64,
    /// Run time a resumed job spends restarting (the scenario's `restart_hours`).
    pub restart_h: f64,
    /// The site it waits at (its home) until a decision starts it somewhere.
    pub site: String,
}

/// What the control loop sends.
#[derive(Debug, Clone)]
pub enum Order {
    /// Jobs accepted: make them known (Slurm: submitted held, so they wait for the plan).
    Admit(Vec<ExecJob>),
    /// What every job the engine still holds should be doing after a slot: the executor
    /// makes its fleet so (and only what differs from what it sees is changed), releasing
    /// work at a site only within its power budget for the slot.
    Desired {
        slot: usize,
        /// When the slot begins, Unix seconds: what it stops is stopped at once, what it
        /// starts waits until then (0: at once).
        begins_unix_s: f64,
        jobs: Vec<Want>,
        budgets: Vec<SiteBudget>,
    },
    /// Jobs withdrawn.
    Withdraw(Vec<String>),
    /// A job submitted straight to the executor and offered to suandian, taken as job `id`.
    Adopt { executor_id: String, id: String },
    /// An offered job refused, with the reason (Slurm: written into its comment).
    Refuse { executor_id: String, why: String },
}

/// A job submitted straight to the workload manager with suandian's offer marker
/// (`--comment "suandian+ runtime_h=2 max_delay_h=8 sites=east,middle"`), not yet taken.
#[derive(Debug, Clone, PartialEq)]
pub struct Offered {
    pub executor_id: String,
    /// What follows the marker: `key=value` pairs.
    pub params: String,
    /// Its CPUs over the CPUs per accelerator.
    pub accelerators: u32,
    /// Its time limit, hours of run time (`None`: unlimited).
    pub time_limit_h: Option<f64>,
}

/// The marker of a job offered to suandian.
pub const OFFER: &str = "suandian+";

/// What a job should be doing.
#[derive(Debug, Clone, PartialEq)]
pub struct Want {
    pub id: String,
    /// Where it runs, or waits.
    pub site: String,
    pub state: Wanted,
    /// Its accelerators (what it draws when it runs: see [`SiteBudget`]).
    pub accelerators: u32,
}

/// The power a site's batch jobs may draw in a slot, as accelerators: the engine's supply for
/// the slot (import limit lowered by demand-response caps, green supply, battery, thermal
/// backup) over the PUE, less idle power and inference, divided by what one accelerator adds
/// at full power (`peak_w - idle_w`). The executor releases or resumes work at the site only
/// while the accelerators running there (its own jobs and anyone else's in the partition, as
/// Slurm reports them) stay within it; work to stop is stopped first.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteBudget {
    pub site: String,
    pub accelerators: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    /// Not started by the plan: waiting, held.
    Wait,
    /// Running at `site`.
    Run,
    /// Started, then suspended (or moving to `site`).
    Suspend,
}

/// A job as the executor sees it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Observed {
    pub id: String,
    /// The executor's own id (Slurm's job id).
    pub executor_id: String,
    /// The executor's word for its state (`PENDING`, `RUNNING`, `SUSPENDED`, `COMPLETED`, …).
    pub state: String,
    /// Where (the Slurm partition).
    pub partition: String,
    /// The site whose partition that is (empty: none of the sites').
    pub site: String,
    /// Accelerators it holds (its CPUs over the CPUs per accelerator).
    pub accelerators: u32,
    /// Held (waiting for a release).
    pub held: bool,
    /// Wall-clock start and end, Unix seconds (0: not yet; the end of a job still running
    /// is its time limit's).
    pub start_unix_s: i64,
    pub end_unix_s: i64,
    /// When it was last suspended or resumed, Unix seconds (0: never).
    pub suspend_unix_s: i64,
}

/// An executor's health and counters, for `/v1/status` and Prometheus.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ExecutorStatus {
    pub name: String,
    /// Commands run on the workload manager (batched: one per kind of change per slot).
    pub commands: u64,
    /// Commands that failed (each retried with backoff until it succeeds).
    pub failures: u64,
    /// Orders waiting to be carried out.
    pub backlog: usize,
    /// The last failure, if any.
    pub last_error: Option<String>,
    /// Seconds from an order being sent to its last command succeeding, last order.
    pub last_apply_s: f64,
    /// Releases put off because the site's power budget was spent (its running work, as the
    /// workload manager reports it, left no room): tried again at the next slot.
    pub held_for_budget: u64,
}

/// Where decisions go.
pub trait Executor: Send {
    fn name(&self) -> &'static str;
    /// Carry out one order. An error leaves the order to be tried again (each command is
    /// idempotent or checks first).
    fn carry_out(&mut self, order: &Order, counters: &mut ExecutorStatus) -> Result<(), String>;
    /// The jobs it runs, as it sees them.
    fn observe(&mut self, counters: &mut ExecutorStatus) -> Result<Vec<Observed>, String>;
    /// Whether it takes orders at all (the simulated fleet does not: the engine is its fleet).
    fn takes_orders(&self) -> bool {
        true
    }
    /// Jobs submitted straight to it and offered to suandian (none for the simulated fleet).
    fn offered(&mut self, counters: &mut ExecutorStatus) -> Result<Vec<Offered>, String> {
        let _ = counters;
        Ok(Vec::new())
    }
}

/// The built-in simulated fleet: the engine's physics carry the decisions out, so there is
/// nothing to send and nothing else to observe.
pub struct Simulated;

impl Executor for Simulated {
    fn name(&self) -> &'static str {
        "simulated"
    }
    fn takes_orders(&self) -> bool {
        false
    }
    fn carry_out(&mut self, _: &Order, _: &mut ExecutorStatus) -> Result<(), String> {
        Ok(())
    }
    fn observe(&mut self, _: &mut ExecutorStatus) -> Result<Vec<Observed>, String> {
        Ok(Vec::new())
    }
}

/// How suandian maps its sites and jobs onto a Slurm cluster.
#[derive(Debug, Clone)]
pub struct SlurmConfig {
    /// Site name → partition (default: the partition named like the site).
    pub partitions: HashMap<String, String>,
    /// CPUs a job asks per accelerator (on a cluster without GPUs; default 1).
    pub cpus_per_accelerator: u32,
    /// Accelerators are GPUs: each job asks `--gres=gpu:<accelerators>` (besides its CPUs),
    /// and a job's accelerators are the GPUs Slurm gives it (`gres/gpu` in its TRES).
    pub gpus: bool,
    /// Wall seconds a job runs per hour of its run time (`3600 / --speed`): the jobs are
    /// `sleep`s scaled to accelerated time.
    pub seconds_per_hour: f64,
    /// Wall seconds per slot.
    pub slot_s: f64,
    /// Tells this service's jobs apart (`--comment suandian:<run>:<job id>`): a job without it
    /// is never touched.
    pub run_tag: String,
    /// Where the stand-in jobs keep their progress (a checkpoint), so that a job requeued to
    /// another partition resumes where it stopped: a directory every node can write (on one
    /// machine, the temporary directory).
    pub checkpoint_dir: std::path::PathBuf,
}

/// The stand-in for a job in accelerated time: it runs for its work's seconds of *running*
/// time (time stopped by `scontrol suspend` does not count, and each stop costs the restart
/// time, as the engine's model has it), keeps its progress in a checkpoint file so that a
/// requeued job resumes where it stopped, and removes it when done. Arguments: work and
/// restart in microseconds, the checkpoint's path, and the gap (microseconds) that is a stop
/// rather than a busy machine (half a slot: a suspension lasts a slot or more).
const STAND_IN: &str = r#"#!/bin/bash
# suandian's stand-in for a job in accelerated time (suandian serve --executor slurm).
work_us=$1; restart_us=$2; ck=$3; stop_us=$4
done_us=$(cat "$ck" 2>/dev/null || echo 0)
last=${EPOCHREALTIME/./}
while [ "$done_us" -lt "$work_us" ]; do
  sleep 0.05
  t=${EPOCHREALTIME/./}; d=$((10#$t - 10#$last)); last=$t
  # A gap far beyond the nap: the job was stopped (suspended); it restarts.
  if [ "$d" -gt "$stop_us" ]; then d=50000; work_us=$((work_us + restart_us)); fi
  done_us=$((done_us + d))
  echo "$done_us" > "$ck"
done
rm -f "$ck"
"#;

/// The Slurm executor over its command-line tools (`sbatch`, `scontrol`, `squeue --json`,
/// `scancel`). Each job accepted is submitted held to its home site's partition with a marker;
/// after every slot Slurm's jobs are made what the plan wants ([`Slurm::converge`]: moved to the
/// planned partition and released, resumed, suspended, held); a withdrawal cancels. Slurm is
/// the truth about its jobs: what to change is worked out from what it reports.
pub struct Slurm {
    cfg: SlurmConfig,
    /// Whether the jobs Slurm holds were read back (before anything is submitted).
    synced: bool,
    /// Job id → Slurm job id, rebuilt from Slurm's queue (the markers) on start.
    ids: HashMap<String, String>,
    /// Job id → its run time in wall seconds, for the jobs admitted by this process.
    runtime_s: HashMap<String, f64>,
    /// The stand-in job's script, once written.
    stand_in: Option<String>,
}

impl Slurm {
    pub fn new(cfg: SlurmConfig) -> Slurm {
        Slurm {
            cfg,
            synced: false,
            ids: HashMap::new(),
            runtime_s: HashMap::new(),
            stand_in: None,
        }
    }

    /// Read back the jobs Slurm holds for this run (after a restart, those submitted before):
    /// no job is submitted twice. Until it succeeds, nothing else is done.
    fn sync(&mut self, counters: &mut ExecutorStatus) -> Result<(), String> {
        if self.synced {
            return Ok(());
        }
        for o in self.observe(counters)? {
            self.ids.insert(o.id, o.executor_id);
        }
        self.synced = true;
        Ok(())
    }

    /// The stand-in job's script, written to the checkpoint directory once per process
    /// (`sbatch` copies it into each job).
    fn stand_in(&mut self) -> Result<String, String> {
        if let Some(p) = &self.stand_in {
            return Ok(p.clone());
        }
        let path = self
            .cfg
            .checkpoint_dir
            .join(format!("suandian-{}-stand-in.sh", self.cfg.run_tag));
        std::fs::create_dir_all(&self.cfg.checkpoint_dir)
            .and_then(|_| std::fs::write(&path, STAND_IN))
            .map_err(|e| format!("writing the stand-in job {}: {e}", path.display()))?;
        let p = path.display().to_string();
        self.stand_in = Some(p.clone());
        Ok(p)
    }

    fn marker(&self, id: &str) -> String {
        format!("suandian:{}:{id}", self.cfg.run_tag)
    }

    /// The site whose partition `partition` is (by `--slurm-partition`, else by name).
    fn site_of(&self, partition: &str) -> String {
        match self.cfg.partitions.iter().find(|(_, p)| *p == partition) {
            Some((site, _)) => site.clone(),
            None if self.cfg.partitions.contains_key(partition) => String::new(),
            None => partition.to_string(),
        }
    }

    fn partition(&self, site: &str) -> String {
        self.cfg
            .partitions
            .get(site)
            .cloned()
            .unwrap_or_else(|| site.to_string())
    }

    /// Run a Slurm command; its stdout, or the error with its stderr.
    fn run(
        &self,
        counters: &mut ExecutorStatus,
        program: &str,
        args: &[String],
    ) -> Result<String, String> {
        counters.commands += 1;
        let out = output_within(Command::new(program).args(args), COMMAND_LIMIT)
            .map_err(|e| format!("{program} {}: {e}", args.join(" ")))?;
        if !out.status.success() {
            return Err(format!(
                "{program} {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn submit(&mut self, j: &ExecJob, counters: &mut ExecutorStatus) -> Result<(), String> {
        self.runtime_s
            .insert(j.id.clone(), j.runtime_h * self.cfg.seconds_per_hour);
        if self.ids.contains_key(&j.id) {
            return Ok(());
        }
        // An `sbatch` that failed may have submitted the job all the same (the answer lost):
        // read Slurm's queue again before the next try.
        self.synced = false;
        let cpus = (j.accelerators * self.cfg.cpus_per_accelerator).max(1);
        let work_us = (j.runtime_h * self.cfg.seconds_per_hour * 1e6)
            .max(1e6)
            .round() as u64;
        let restart_us = (j.restart_h * self.cfg.seconds_per_hour * 1e6).round() as u64;
        let script = self.stand_in()?;
        let checkpoint = self.cfg.checkpoint_dir.join(format!(
            "suandian-{}-{}.progress",
            self.cfg.run_tag,
            safe_name(&j.id)
        ));
        let args = vec![
            "--hold".into(),
            "--parsable".into(),
            "--requeue".into(),
            format!("--partition={}", self.partition(&j.site)),
            format!("--cpus-per-task={cpus}"),
            format!("--job-name={}", j.id),
            format!("--comment={}", self.marker(&j.id)),
            "--output=/dev/null".into(),
            script,
            work_us.to_string(),
            restart_us.to_string(),
            checkpoint.display().to_string(),
            ((self.cfg.slot_s / 2.0).clamp(0.5, 600.0) * 1e6)
                .round()
                .to_string(),
        ];
        let mut args = args;
        if self.cfg.gpus {
            args.insert(0, format!("--gres=gpu:{}", j.accelerators));
        }
        let out = self.run(counters, "sbatch", &args)?;
        let slurm_id = out.trim().split(';').next().unwrap_or("").to_string();
        if slurm_id.is_empty() {
            return Err(format!("sbatch gave no job id for {}", j.id));
        }
        self.ids.insert(j.id.clone(), slurm_id);
        self.synced = true;
        Ok(())
    }

    /// `scontrol <verb> <ids>` for the jobs in `jobs` (known to Slurm), in one command.
    fn batch(
        &self,
        counters: &mut ExecutorStatus,
        verb: &[&str],
        jobs: &[String],
    ) -> Result<(), String> {
        let ids: Vec<&str> = jobs
            .iter()
            .filter_map(|j| self.ids.get(j).map(String::as_str))
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let mut args: Vec<String> = verb.iter().map(|s| s.to_string()).collect();
        args.push(ids.join(","));
        self.run(counters, "scontrol", &args).map(|_| ())
    }
}

impl Slurm {
    /// Make Slurm's jobs what the plan wants, from what Slurm says they are (one `squeue`):
    /// - to run at a site: moved to its partition where it waits elsewhere, released where
    ///   held, resumed where suspended; one running elsewhere is requeued held (it moves, and
    ///   the next slot releases it there);
    /// - to wait: held where it waits unheld;
    /// - to be suspended: suspended where it runs.
    ///
    /// Idempotent: what already agrees is not touched, so a restart, a lost command or a race
    /// with Slurm's own scheduling costs a command at the next slot, nothing more. Commands are
    /// batched: one per kind of change (and per partition for moves).
    fn converge(
        &mut self,
        want: &[Want],
        budgets: &[SiteBudget],
        begins_unix_s: f64,
        counters: &mut ExecutorStatus,
    ) -> Result<(), String> {
        let (ours, _) = self.queue(counters)?;
        let seen: HashMap<String, Observed> = ours.into_iter().map(|o| (o.id.clone(), o)).collect();
        // What to stop, now; what to start (release, after a move where it waits elsewhere;
        // resume), once the slot begins and within the site's budget.
        let (mut suspend, mut hold, mut requeue, mut starts) = (vec![], vec![], vec![], vec![]);
        for w in want {
            let Some(o) = seen.get(&w.id) else { continue };
            let partition = self.partition(&w.site);
            match (w.state, o.state.as_str()) {
                (Wanted::Run, "PENDING") if o.held || o.partition != partition => starts.push(w),
                (Wanted::Run, "SUSPENDED") if o.partition == partition => starts.push(w),
                (Wanted::Run, "RUNNING" | "SUSPENDED") if o.partition != partition => {
                    requeue.push(w.id.clone())
                }
                (Wanted::Wait, "PENDING") if !o.held => hold.push(w.id.clone()),
                (Wanted::Suspend, "RUNNING") => suspend.push(w.id.clone()),
                (Wanted::Suspend, "PENDING") if !o.held => hold.push(w.id.clone()),
                _ => {}
            }
        }
        // Stops first, at once: the power they free is what the starts use.
        self.batch(counters, &["suspend"], &suspend)?;
        self.batch(counters, &["hold"], &hold)?;
        self.batch(counters, &["requeuehold"], &requeue)?;
        if starts.is_empty() {
            return Ok(());
        }
        let wait = begins_unix_s - unix_now();
        if wait > 0.0 {
            std::thread::sleep(Duration::from_secs_f64(wait.min(10.0)));
        }
        let budget: HashMap<String, u32> = budgets
            .iter()
            .map(|b| (self.partition(&b.site), b.accelerators))
            .collect();
        // The queue as the slot begins: what runs there now (anyone's) is what the budget
        // carries besides the starts; but a job the plan has finished that is in its last
        // moments (it started a moment after its slot began: Slurm starts a released job at its
        // next scheduling pass) does not hold a start back: the two overlap for that moment,
        // where holding the start would cost it the slot.
        let (seen, mut load) = if budget.is_empty() {
            (seen, HashMap::new())
        } else {
            let wanted: std::collections::HashSet<&str> =
                want.iter().map(|w| w.id.as_str()).collect();
            let (ours, others) = self.queue(counters)?;
            let now = unix_now();
            let mut load: HashMap<String, u32> = others;
            for o in &ours {
                // Its end by its run time: within the first half of the slot, and not overdue
                // by more than Slurm's second and a scheduling pass.
                let finishing = o.state == "RUNNING"
                    && !wanted.contains(o.id.as_str())
                    && self.runtime_s.get(&o.id).is_some_and(|r| {
                        let end = o.start_unix_s as f64 + r;
                        o.start_unix_s > 0
                            && end <= now + self.cfg.slot_s / 2.0
                            && end + 1.0 >= now - OVERDUE_S
                    });
                if !finishing && (o.state == "RUNNING" || (o.state == "PENDING" && !o.held)) {
                    *load.entry(o.partition.clone()).or_default() += o.accelerators;
                }
            }
            (ours.into_iter().map(|o| (o.id.clone(), o)).collect(), load)
        };
        let mut moves: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        let (mut release, mut resume) = (vec![], vec![]);
        for w in starts {
            let Some(o) = seen.get(&w.id) else { continue };
            let partition = self.partition(&w.site);
            let start = match o.state.as_str() {
                "PENDING" if o.held || o.partition != partition => true,
                "SUSPENDED" if o.partition == partition => true,
                _ => false,
            };
            if !start {
                continue;
            }
            if o.state == "PENDING" && !o.held {
                // Waiting elsewhere, unheld: it counted where it was; it counts where it goes.
                if let Some(l) = load.get_mut(&o.partition) {
                    *l = l.saturating_sub(o.accelerators);
                }
            }
            let used: &mut u32 = load.entry(partition.clone()).or_default();
            if budget
                .get(&partition)
                .is_some_and(|&cap| *used + w.accelerators > cap)
            {
                counters.held_for_budget += 1;
                continue;
            }
            *used += w.accelerators;
            if o.state == "SUSPENDED" {
                resume.push(w.id.clone());
                continue;
            }
            if o.partition != partition {
                moves.entry(partition).or_default().push(w.id.clone());
            }
            if o.held {
                release.push(w.id.clone());
            }
        }
        for (partition, jobs) in &moves {
            let ids: Vec<&str> = jobs
                .iter()
                .filter_map(|j| self.ids.get(j).map(String::as_str))
                .collect();
            self.run(
                counters,
                "scontrol",
                &[
                    "update".into(),
                    format!("JobId={}", ids.join(",")),
                    format!("Partition={partition}"),
                ],
            )?;
        }
        self.batch(counters, &["release"], &release)?;
        self.batch(counters, &["resume"], &resume)
    }

    /// A job's accelerators as Slurm holds them: its GPUs (`gres/gpu=N` in the TRES it was
    /// given, or asked for while pending) with `--slurm-gpus`, else its CPUs over the CPUs
    /// per accelerator.
    fn accelerators(&self, j: &serde_json::Value) -> u32 {
        if self.cfg.gpus {
            // Given (`gres_detail`: `gpu:3(IDX:3-5)` per node; `tres_alloc_str` where the
            // cluster accounts GPUs), else asked for.
            let given: u32 = j["gres_detail"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[])
                .iter()
                .filter_map(|d| d.as_str())
                .map(|d| gpus_in_tres(&format!("gres:{}", d.split('(').next().unwrap_or(""))))
                .sum();
            let asked = [
                "tres_alloc_str",
                "tres_per_node",
                "tres_per_job",
                "tres_req_str",
            ];
            return if given > 0 {
                given
            } else {
                asked
                    .iter()
                    .filter_map(|k| j[*k].as_str())
                    .map(gpus_in_tres)
                    .find(|&n| n > 0)
                    .unwrap_or(0)
            };
        }
        let cpus = j["cpus"].as_u64().unwrap_or(1) as u32;
        cpus.div_ceil(self.cfg.cpus_per_accelerator.max(1))
    }

    /// One `squeue --json`: this run's jobs, and the accelerators that everyone else's
    /// running jobs hold per partition.
    fn queue(
        &self,
        counters: &mut ExecutorStatus,
    ) -> Result<(Vec<Observed>, HashMap<String, u32>), String> {
        let out = self.run(counters, "squeue", &["--json".into()])?;
        let v: serde_json::Value =
            serde_json::from_str(&out).map_err(|e| format!("squeue --json: {e}"))?;
        let prefix = format!("suandian:{}:", self.cfg.run_tag);
        let mut ours = Vec::new();
        let mut others: HashMap<String, u32> = HashMap::new();
        for j in v["jobs"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
            let state = j["job_state"].as_str().unwrap_or("");
            let partition = j["partition"].as_str().unwrap_or("").to_string();
            let id = j["comment"].as_str().and_then(|c| c.strip_prefix(&prefix));
            let (Some(id), Some(executor_id)) = (id, j["job_id"].as_u64()) else {
                if state == "RUNNING" {
                    *others.entry(partition).or_default() += self.accelerators(j);
                }
                continue;
            };
            ours.push(Observed {
                id: id.to_string(),
                executor_id: executor_id.to_string(),
                state: state.to_string(),
                site: self.site_of(&partition),
                partition,
                accelerators: self.accelerators(j),
                held: j["state_reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("Held")),
                start_unix_s: j["start_time"].as_i64().unwrap_or(0),
                end_unix_s: j["end_time"].as_i64().unwrap_or(0),
                suspend_unix_s: j["suspend_time"].as_i64().unwrap_or(0),
            });
        }
        Ok((ours, others))
    }
}

impl Executor for Slurm {
    fn name(&self) -> &'static str {
        "slurm"
    }

    fn carry_out(&mut self, order: &Order, counters: &mut ExecutorStatus) -> Result<(), String> {
        self.sync(counters)?;
        match order {
            Order::Admit(jobs) => {
                for j in jobs {
                    self.submit(j, counters)?;
                }
                Ok(())
            }
            Order::Withdraw(ids) => {
                let slurm: Vec<&str> = ids
                    .iter()
                    .filter_map(|j| self.ids.get(j).map(String::as_str))
                    .collect();
                if !slurm.is_empty() {
                    let args: Vec<String> = slurm.iter().map(|s| s.to_string()).collect();
                    self.run(counters, "scancel", &args)?;
                }
                Ok(())
            }
            Order::Desired {
                jobs,
                budgets,
                begins_unix_s,
                ..
            } => self.converge(jobs, budgets, *begins_unix_s, counters),
            Order::Adopt { executor_id, id } => {
                // Marked as this run's (and held, to wait for the plan): from now on it is
                // one of suandian's jobs.
                self.run(
                    counters,
                    "scontrol",
                    &[
                        "update".into(),
                        format!("JobId={executor_id}"),
                        format!("Comment={}", self.marker(id)),
                    ],
                )?;
                self.ids.insert(id.clone(), executor_id.clone());
                let _ = self.run(counters, "scontrol", &["hold".into(), executor_id.clone()]);
                Ok(())
            }
            Order::Refuse { executor_id, why } => {
                let why: String = why.chars().filter(|c| !c.is_control()).take(200).collect();
                self.run(
                    counters,
                    "scontrol",
                    &[
                        "update".into(),
                        format!("JobId={executor_id}"),
                        format!("Comment=suandian-refused: {why}"),
                    ],
                )
                .map(|_| ())
            }
        }
    }

    fn offered(&mut self, counters: &mut ExecutorStatus) -> Result<Vec<Offered>, String> {
        let out = self.run(
            counters,
            "squeue",
            &["--json".into(), "--states=PENDING".into()],
        )?;
        let v: serde_json::Value =
            serde_json::from_str(&out).map_err(|e| format!("squeue --json: {e}"))?;
        let jobs = v["jobs"].as_array().cloned().unwrap_or_default();
        Ok(jobs
            .iter()
            .filter_map(|j| {
                let params = j["comment"]
                    .as_str()?
                    .strip_prefix(OFFER)?
                    .trim()
                    .to_string();
                // Minutes; Slurm's "infinite" is a large number or absent.
                let limit = j["time_limit"].as_u64().filter(|&m| m > 0 && m < 1 << 31);
                Some(Offered {
                    executor_id: j["job_id"].as_u64()?.to_string(),
                    params,
                    accelerators: self.accelerators(j).max(1),
                    time_limit_h: limit.map(|m| m as f64 * 60.0 / self.cfg.seconds_per_hour),
                })
            })
            .collect())
    }

    fn observe(&mut self, counters: &mut ExecutorStatus) -> Result<Vec<Observed>, String> {
        self.queue(counters).map(|q| q.0)
    }
}

/// The GPUs in a Slurm TRES string, in the spellings Slurm uses: `gres/gpu=2` (what a job
/// was given, `tres_alloc_str`), `gres:gpu:2` (what it asks per node, `tres_per_node`), typed
/// (`gres/gpu:h100=2`, `gres:gpu:h100:2`); an untyped total wins over its typed parts.
fn gpus_in_tres(tres: &str) -> u32 {
    let (mut total, mut typed) = (None, 0u32);
    for part in tres.split(',') {
        let Some(rest) = part
            .trim()
            .strip_prefix("gres/")
            .or_else(|| part.trim().strip_prefix("gres:"))
        else {
            continue;
        };
        let tokens: Vec<&str> = rest.split([':', '=']).collect();
        if tokens.first() != Some(&"gpu") || tokens.len() < 2 {
            continue;
        }
        let n = tokens[tokens.len() - 1].parse::<u32>().unwrap_or(0);
        if tokens.len() == 2 {
            total = Some(n);
        } else {
            typed += n;
        }
    }
    total.unwrap_or(typed)
}

#[cfg(test)]
mod tests {
    use super::gpus_in_tres;

    #[test]
    fn gpus_are_read_from_the_tres() {
        assert_eq!(
            gpus_in_tres("cpu=4,mem=1000M,node=1,billing=4,gres/gpu=2"),
            2
        );
        assert_eq!(gpus_in_tres("cpu=8,gres/gpu=4,gres/gpu:h100=4"), 4);
        assert_eq!(gpus_in_tres("cpu=8,gres/gpu:h100=3,gres/gpu:a100=1"), 4);
        assert_eq!(gpus_in_tres("gres:gpu:3"), 3);
        assert_eq!(gpus_in_tres("gres:gpu:h100:2"), 2);
        assert_eq!(gpus_in_tres("gres/gpu:5"), 5);
        assert_eq!(gpus_in_tres("gres:shard:4"), 0);
        assert_eq!(gpus_in_tres("cpu=1,mem=100M,node=1"), 0);
        assert_eq!(gpus_in_tres(""), 0);
    }
}

/// A job id as a file name, one to one: its bytes in hexadecimal.
fn safe_name(id: &str) -> String {
    id.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The wall clock, Unix seconds.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// How long past its run time (from Slurm's start) a job the plan has finished may still run
/// and not hold back the starts of a slot: a job that runs longer than it said does.
const OVERDUE_S: f64 = 2.0;

/// How long one workload-manager command may take (Slurm's own message timeout is 10 s here):
/// past it, it is killed and counted as a failure, and tried again with backoff.
const COMMAND_LIMIT: Duration = Duration::from_secs(20);

/// Run `cmd` for at most `limit`; its output. The pipes are read on threads so that a large
/// answer (`squeue --json`) cannot stall it.
fn output_within(cmd: &mut Command, limit: Duration) -> Result<std::process::Output, String> {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run it: {e}"))?;
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("no answer in {} s (killed)", limit.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ok(std::process::Output {
        status,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    })
}

/// What the executor thread shares: its counters, the jobs it sees, the jobs offered to it.
#[derive(Default)]
struct Shared {
    status: ExecutorStatus,
    observed: Vec<Observed>,
    /// When `observed` was read, Unix seconds.
    observed_at_unix_s: f64,
    offered: Vec<Offered>,
}

/// The executor on its own thread: orders are queued and carried out in order, a failed one
/// retried with backoff (1 s doubling to 30 s); what it observes is read every `observe_every`.
#[derive(Clone)]
pub struct ExecutorHandle {
    tx: mpsc::Sender<(Order, Instant)>,
    state: Arc<Mutex<Shared>>,
    takes_orders: bool,
}

impl ExecutorHandle {
    pub fn start(mut exec: Box<dyn Executor>, observe_every: Duration) -> ExecutorHandle {
        let takes_orders = exec.takes_orders();
        let (tx, rx) = mpsc::channel::<(Order, Instant)>();
        let state = Arc::new(Mutex::new(Shared {
            status: ExecutorStatus {
                name: exec.name().into(),
                ..Default::default()
            },
            ..Default::default()
        }));
        let shared = state.clone();
        std::thread::Builder::new()
            .name("suandian-executor".into())
            .spawn(move || {
                let mut pending: std::collections::VecDeque<(Order, Instant)> = Default::default();
                let mut backoff = Duration::from_secs(1);
                let mut next_observe = Instant::now();
                loop {
                    let wait = if pending.is_empty() {
                        next_observe.saturating_duration_since(Instant::now())
                    } else {
                        Duration::ZERO
                    };
                    match rx.recv_timeout(wait) {
                        Ok(o) => pending.push_back(o),
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Err(mpsc::RecvTimeoutError::Disconnected) => return,
                    }
                    while let Ok(o) = rx.try_recv() {
                        pending.push_back(o);
                    }
                    let mut counters = shared
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .status
                        .clone();
                    counters.backlog = pending.len();
                    // The counters as they stand, for /v1/status, after every order.
                    let publish = |c: &ExecutorStatus| {
                        shared.lock().unwrap_or_else(|e| e.into_inner()).status = c.clone();
                    };
                    publish(&counters);
                    while let Some((order, sent)) = pending.front() {
                        match exec.carry_out(order, &mut counters) {
                            Ok(()) => {
                                // What a slot's orders made of the fleet is read at once.
                                if matches!(order, Order::Desired { .. }) {
                                    next_observe = Instant::now();
                                }
                                counters.last_apply_s = sent.elapsed().as_secs_f64();
                                pending.pop_front();
                                backoff = Duration::from_secs(1);
                                counters.backlog = pending.len();
                                publish(&counters);
                            }
                            Err(e) => {
                                counters.failures += 1;
                                eprintln!(
                                    "executor {}: {e} (retrying in {backoff:?})",
                                    exec.name()
                                );
                                counters.last_error = Some(e);
                                publish(&counters);
                                std::thread::sleep(backoff);
                                backoff = (backoff * 2).min(Duration::from_secs(30));
                                break;
                            }
                        }
                    }
                    counters.backlog = pending.len();
                    let (mut observed, mut offered) = (None, None);
                    if Instant::now() >= next_observe {
                        match exec.observe(&mut counters) {
                            Ok(o) => observed = Some((o, unix_now())),
                            Err(e) => {
                                counters.failures += 1;
                                counters.last_error = Some(e);
                            }
                        }
                        match exec.offered(&mut counters) {
                            Ok(o) => offered = Some(o),
                            Err(e) => {
                                counters.failures += 1;
                                counters.last_error = Some(e);
                            }
                        }
                        next_observe = Instant::now() + observe_every;
                    }
                    let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
                    s.status = counters;
                    if let Some((o, at)) = observed {
                        s.observed = o;
                        s.observed_at_unix_s = at;
                    }
                    if let Some(o) = offered {
                        s.offered = o;
                    }
                }
            })
            .expect("the executor thread starts");
        ExecutorHandle {
            tx,
            state,
            takes_orders,
        }
    }

    /// Whether orders are worth making (the simulated fleet takes none: the control loop
    /// skips building them, every slot, for nothing).
    pub fn takes_orders(&self) -> bool {
        self.takes_orders
    }

    /// Queue an order (never blocks).
    pub fn send(&self, order: Order) {
        let _ = self.tx.send((order, Instant::now()));
    }

    pub fn status(&self) -> ExecutorStatus {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .status
            .clone()
    }

    /// Jobs offered to suandian straight on the executor, as last read.
    pub fn offered(&self) -> Vec<Offered> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .offered
            .clone()
    }

    pub fn observed(&self) -> Vec<Observed> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .observed
            .clone()
    }

    /// The jobs as last read, and when (Unix seconds; 0 before the first reading).
    pub fn observed_at(&self) -> (Vec<Observed>, f64) {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (s.observed.clone(), s.observed_at_unix_s)
    }
}
