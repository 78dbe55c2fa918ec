//! `[work]`: the jobs of `[[work.jobs]]` tables and those read from `[[work.traces]]` files →
//! [`Job`]s, sorted by arrival.
//!
//! The two kinds share what makes a job placeable: its allowed sites, its home and the check
//! that it fits one of them ([`Resolver::job_sites`]), its deadline
//! ([`Resolver::job_deadline`]) and its unique id ([`Resolver::claim_id`]). One function does
//! each for both; [`JobAt`] says where the job was given, so that a message names the key and
//! line of the scenario file, or the line of the trace file.

use super::sites::not_a_site;
use super::Resolver;
use crate::error::InputError;
use crate::scenario::schema::{JobDef, OutsideHorizon, TraceDef, WorkDef};
use crate::traces::{self, TimeUnit, TraceFormat, TraceJob, TraceOptions, TraceTime};
use std::collections::HashMap;
use std::fmt::Display;
use suandian_core::{Job, Site};

/// Every job id so far, with where it came from (for a duplicate's message).
type Ids = HashMap<String, String>;

/// What every job is resolved against: the sites and the file-wide settings.
struct Work<'a> {
    sites: &'a [Site],
    names: &'a [String],
    /// Every site: the allowed sites of a job (or a trace) that names none.
    all: Vec<usize>,
    /// `work.default_max_delay_h`.
    default_max_delay_h: Option<f64>,
    /// `dispatch.checkpoint_gb_per_accelerator`: a job's checkpoint when it gives none.
    checkpoint_gb_per_accelerator: f64,
    /// The grid's start (UTC seconds) and its length in hours.
    start: i64,
    horizon_h: f64,
}

/// Where a job (or a trace table's setting for its jobs) was given: what its messages point at.
#[derive(Clone, Copy)]
enum JobAt<'a> {
    /// A table of the scenario file (`work.jobs[k]`, `work.traces[k]`): a message names the
    /// key's path and its line.
    Table(&'a str),
    /// A row of a trace file: a message names the file, the row's line and the column.
    Row { file: &'a str, line: usize },
}

impl JobAt<'_> {
    fn err(
        self,
        r: &Resolver,
        key: &str,
        found: impl Display,
        expected: impl Into<String>,
    ) -> InputError {
        match self {
            JobAt::Table(p) => r.err(&format!("{p}.{key}"), found, expected),
            JobAt::Row { file, line } => InputError::value(file, Some(line), key, found, expected),
        }
    }

    /// How a duplicate id's message names where the first one came from.
    fn origin(self) -> String {
        match self {
            JobAt::Table(p) => p.to_string(),
            JobAt::Row { file, line } => format!("{file} line {line}"),
        }
    }
}

/// What a job asks of the sites: the keys a `[[work.jobs]]` table and a trace's row share.
struct SitesAsked<'a> {
    allowed_sites: Option<&'a [String]>,
    home_site: Option<&'a str>,
    accelerators: u32,
}

/// Where a job goes when it names no allowed sites or no home.
struct SiteDefaults<'a> {
    /// Every site (a table's job), or the trace's allowed sites (a row).
    allowed: &'a [usize],
    home: DefaultHome<'a>,
    /// Appended to the message of a job that fits no allowed site.
    fit_hint: &'a str,
}

enum DefaultHome<'a> {
    /// The first allowed site (a `[[work.jobs]]` table).
    First,
    /// The trace's home where the job may use it, else the job's allowed sites in turn
    /// (`turn` counts the jobs placed so, per trace).
    Trace {
        home: Option<usize>,
        turn: &'a mut usize,
    },
}

/// A `[[work.traces]]` table's settings for every job it reads, checked.
struct TraceTerms<'a> {
    /// Its path, `work.traces[k]`.
    p: &'a str,
    def: &'a TraceDef,
    /// The file as messages name it.
    shown: String,
    time_unit: TimeUnit,
    /// The trace's allowed sites (every site if it names none).
    allowed: Vec<usize>,
    /// The trace's home site (`None`: round-robin).
    home: Option<usize>,
    /// The slack of a job without a deadline: the trace's, else `[work]`'s default.
    max_delay_h: Option<f64>,
}

impl Resolver {
    pub(super) fn resolve_work(
        &mut self,
        w: &WorkDef,
        sites: &[Site],
        names: &[String],
        checkpoint_gb_per_accelerator: f64,
    ) -> Result<Vec<Job>, InputError> {
        if let Some(d) = w.default_max_delay_h {
            self.nonneg("work.default_max_delay_h", d)?;
        }
        let work = Work {
            sites,
            names,
            all: (0..sites.len()).collect(),
            default_max_delay_h: w.default_max_delay_h,
            checkpoint_gb_per_accelerator,
            start: self.grid.start.timestamp(),
            horizon_h: self.grid.horizon_h(),
        };
        let mut jobs: Vec<Job> = Vec::new();
        let mut ids = Ids::new();
        for (k, j) in w.jobs.iter().enumerate() {
            jobs.push(self.table_job(&format!("work.jobs[{k}]"), j, &work, &mut ids)?);
        }
        for (k, t) in w.traces.iter().enumerate() {
            self.trace_jobs(&format!("work.traces[{k}]"), t, &work, &mut jobs, &mut ids)?;
        }
        // Stable: equal arrivals keep file order.
        jobs.sort_by(|a, b| a.arrival_h.total_cmp(&b.arrival_h));
        Ok(jobs)
    }

    /// The `[[work.jobs]]` table at `p`.
    fn table_job(
        &self,
        p: &str,
        j: &JobDef,
        work: &Work<'_>,
        ids: &mut Ids,
    ) -> Result<Job, InputError> {
        let at = JobAt::Table(p);
        if j.id.trim().is_empty() {
            return Err(self.err(&format!("{p}.id"), "an empty id", "a job id"));
        }
        let arrival_h = self.table_arrival(p, j, work)?;
        if !(1..=i64::from(u32::MAX)).contains(&j.accelerators) {
            return Err(self.err(
                &format!("{p}.accelerators"),
                j.accelerators,
                "a whole number >= 1",
            ));
        }
        self.check(
            &format!("{p}.runtime_h"),
            j.runtime_h,
            j.runtime_h > 0.0,
            "a run time > 0 hours",
        )?;
        let (allowed, home) = self.job_sites(
            at,
            &SitesAsked {
                allowed_sites: j.allowed_sites.as_deref(),
                home_site: j.home_site.as_deref(),
                accelerators: j.accelerators as u32,
            },
            SiteDefaults {
                allowed: &work.all,
                home: DefaultHome::First,
                fit_hint: "",
            },
            work,
        )?;
        // The deadline keys are read after the sites: the order a job's keys are checked in.
        let (deadline_h, max_delay_h) = match (&j.deadline, j.max_delay_h) {
            (Some(d), None) => {
                let t = self.time(&format!("{p}.deadline"), d)?;
                (Some((t - work.start) as f64 / 3600.0), None)
            }
            (None, Some(m)) => {
                self.nonneg(&format!("{p}.max_delay_h"), m)?;
                (None, Some(m))
            }
            (Some(_), Some(_)) => {
                return Err(self.err(
                    &format!("{p}.max_delay_h"),
                    "both deadline and max_delay_h",
                    "one of them",
                ))
            }
            (None, None) => (None, work.default_max_delay_h),
        };
        let deadline_h = self.job_deadline(at, arrival_h, j.runtime_h, deadline_h, max_delay_h)?;
        let checkpoint_gb = match j.checkpoint_gb {
            Some(gb) => {
                self.nonneg(&format!("{p}.checkpoint_gb"), gb)?;
                gb
            }
            None => work.checkpoint_gb_per_accelerator * j.accelerators as f64,
        };
        self.claim_id(ids, at, &j.id, "a unique job id")?;
        Ok(Job {
            id: j.id.clone(),
            arrival_h,
            accelerators: j.accelerators as u32,
            runtime_h: j.runtime_h,
            deadline_h,
            interruptible: j.interruptible,
            migratable: j.migratable,
            allowed_sites: allowed,
            home_site: home,
            checkpoint_gb,
            flex_tier: j.flex_tier,
        })
    }

    /// A table job's arrival in hours since the start: `arrival` (a time) or `arrival_h`,
    /// within the horizon.
    fn table_arrival(&self, p: &str, j: &JobDef, work: &Work<'_>) -> Result<f64, InputError> {
        let arrival_h = match (&j.arrival, j.arrival_h) {
            (Some(a), None) => {
                (self.time(&format!("{p}.arrival"), a)? - work.start) as f64 / 3600.0
            }
            (None, Some(h)) => h,
            (Some(_), Some(_)) => {
                return Err(self.err(
                    &format!("{p}.arrival_h"),
                    "both arrival and arrival_h",
                    "one of them",
                ))
            }
            (None, None) => {
                return Err(self.err(
                    p,
                    "neither arrival nor arrival_h",
                    "arrival = <time> or arrival_h = <hours>",
                ))
            }
        };
        let ap = if j.arrival.is_some() {
            "arrival"
        } else {
            "arrival_h"
        };
        let horizon_h = work.horizon_h;
        self.check(
            &format!("{p}.{ap}"),
            arrival_h,
            arrival_h >= 0.0 && arrival_h < horizon_h,
            &format!("an arrival within the horizon, 0 <= arrival_h < {horizon_h} h"),
        )?;
        Ok(arrival_h)
    }

    /// The jobs of the `[[work.traces]]` table at `p`, read from its file, appended to `jobs`.
    fn trace_jobs(
        &mut self,
        p: &str,
        t: &TraceDef,
        work: &Work<'_>,
        jobs: &mut Vec<Job>,
        ids: &mut Ids,
    ) -> Result<(), InputError> {
        let full = self.base_dir.join(&t.file);
        let terms = self.trace_terms(p, t, work)?;
        let opts = TraceOptions {
            time_unit: terms.time_unit,
            accelerators_per_cpu: t.accelerators_per_cpu,
            limit: t.limit,
        };
        let trace = traces::read_trace(&full, &terms.shown, t.format, &opts)?;
        self.inputs.push(full.clone());
        self.warnings.extend(trace.warnings.iter().cloned());
        let (mut dropped, mut turn) = (0usize, 0usize);
        jobs.reserve(trace.jobs.len());
        for tj in &trace.jobs {
            match self.trace_job(&terms, tj, &mut turn, work, ids)? {
                Some(job) => jobs.push(job),
                None => dropped += 1,
            }
        }
        if dropped > 0 {
            self.warnings.push(format!(
                "{} ({p}{}): dropped {dropped} of {} jobs arriving outside the horizon (outside_horizon = \"drop\")",
                terms.shown,
                t.id_prefix.as_deref().map_or(String::new(), |x| format!(", id_prefix {x:?}")),
                trace.jobs.len()
            ));
        }
        Ok(())
    }

    /// A trace table's keys, checked before its file is read.
    fn trace_terms<'a>(
        &self,
        p: &'a str,
        t: &'a TraceDef,
        work: &Work<'_>,
    ) -> Result<TraceTerms<'a>, InputError> {
        let shown = if self.base_dir.as_os_str().is_empty() {
            t.file.clone()
        } else {
            self.base_dir.join(&t.file).display().to_string()
        };
        let time_unit = match (t.format, t.time_unit) {
            (TraceFormat::Gaia, Some(u)) => u,
            (TraceFormat::Gaia, None) => {
                return Err(self.err(
                    p,
                    "no time_unit",
                    "time_unit = \"hours\" or \"seconds\" for a GAIA trace (pai_1k is in seconds, pai-100k in hours)",
                ))
            }
            (TraceFormat::AlibabaGpu, None | Some(TimeUnit::Seconds)) | (TraceFormat::Native, None) => TimeUnit::Hours,
            (_, Some(_)) => {
                return Err(self.err(
                    &format!("{p}.time_unit"),
                    "a time_unit",
                    "no time_unit: it applies only to GAIA traces (Alibaba is in seconds, native uses times and hours)",
                ))
            }
        };
        self.check(
            &format!("{p}.offset_h"),
            t.offset_h,
            true,
            "a finite number of hours",
        )?;
        if t.format != TraceFormat::Gaia && t.accelerators_per_cpu != 1.0 {
            return Err(self.err(
                &format!("{p}.accelerators_per_cpu"),
                t.accelerators_per_cpu,
                "no accelerators_per_cpu: it applies only to GAIA traces",
            ));
        }
        self.check(
            &format!("{p}.accelerators_per_cpu"),
            t.accelerators_per_cpu,
            t.accelerators_per_cpu > 0.0,
            "a number > 0",
        )?;
        if let Some(m) = t.max_delay_h {
            self.nonneg(&format!("{p}.max_delay_h"), m)?;
        }
        let at = JobAt::Table(p);
        let allowed = self.allowed_sites(at, t.allowed_sites.as_deref(), &work.all, work.names)?;
        let home = match t.home_site.as_deref() {
            None | Some("round-robin") => None,
            Some(h) => Some(self.home_site(
                at,
                h,
                &allowed,
                work.names,
                "one of the trace's allowed_sites, or \"round-robin\"",
            )?),
        };
        Ok(TraceTerms {
            p,
            def: t,
            shown,
            time_unit,
            allowed,
            home,
            max_delay_h: t.max_delay_h.or(work.default_max_delay_h),
        })
    }

    /// One row of a trace: its job, or `None` if it arrives outside the horizon and the trace
    /// drops such jobs.
    fn trace_job(
        &self,
        tr: &TraceTerms<'_>,
        tj: &TraceJob,
        turn: &mut usize,
        work: &Work<'_>,
        ids: &mut Ids,
    ) -> Result<Option<Job>, InputError> {
        let (p, t) = (tr.p, tr.def);
        let at = JobAt::Row {
            file: &tr.shown,
            line: tj.line,
        };
        let horizon_h = work.horizon_h;
        let arrival_h = t.offset_h
            + match tj.arrival {
                TraceTime::SinceTraceStart(h) => h,
                TraceTime::Utc(s) => (s - work.start) as f64 / 3600.0,
            };
        if !(arrival_h >= 0.0 && arrival_h < horizon_h) {
            if t.outside_horizon == OutsideHorizon::Drop {
                return Ok(None);
            }
            return Err(at.err(
                self,
                "arrival",
                format!("{arrival_h} h after the scenario start (offset_h {})", t.offset_h),
                format!(
                    "an arrival within the horizon 0..{horizon_h} h (or set outside_horizon = \"drop\" in {p})"
                ),
            ));
        }
        let (allowed, home) = self.job_sites(
            at,
            &SitesAsked {
                allowed_sites: tj.allowed_sites.as_deref(),
                home_site: tj.home_site.as_deref(),
                accelerators: tj.accelerators,
            },
            SiteDefaults {
                allowed: &tr.allowed,
                home: DefaultHome::Trace {
                    home: tr.home,
                    turn,
                },
                fit_hint: if t.format == TraceFormat::Gaia {
                    " (lower accelerators_per_cpu or add capacity)"
                } else {
                    ""
                },
            },
            work,
        )?;
        let deadline_h = tj
            .deadline
            .map(|d| (d - work.start) as f64 / 3600.0 + t.offset_h);
        let deadline_h =
            self.job_deadline(at, arrival_h, tj.runtime_h, deadline_h, tr.max_delay_h)?;
        let id = match &t.id_prefix {
            Some(pre) => format!("{pre}{}", tj.id),
            None => tj.id.clone(),
        };
        self.claim_id(
            ids,
            at,
            &id,
            &format!("a unique job id (set id_prefix in {p} to tell traces apart)"),
        )?;
        Ok(Some(Job {
            id,
            arrival_h,
            accelerators: tj.accelerators,
            runtime_h: tj.runtime_h,
            deadline_h,
            interruptible: tj.interruptible.unwrap_or(t.interruptible),
            migratable: tj.migratable.unwrap_or(t.migratable),
            allowed_sites: allowed,
            home_site: home,
            checkpoint_gb: work.checkpoint_gb_per_accelerator * f64::from(tj.accelerators),
            flex_tier: None,
        }))
    }

    /// A job's allowed sites and home site, and the check that it fits one of them: the one
    /// function for the jobs of `[[work.jobs]]` tables and those read from traces.
    fn job_sites(
        &self,
        at: JobAt<'_>,
        ask: &SitesAsked<'_>,
        defaults: SiteDefaults<'_>,
        work: &Work<'_>,
    ) -> Result<(Vec<usize>, usize), InputError> {
        let allowed = self.allowed_sites(at, ask.allowed_sites, defaults.allowed, work.names)?;
        let home = match ask.home_site {
            Some(h) => {
                // The wording each kind of job has always had.
                let not_allowed = match at {
                    JobAt::Table(_) => "one of the job's allowed_sites",
                    JobAt::Row { .. } => "one of the job's allowed sites",
                };
                self.home_site(at, h, &allowed, work.names, not_allowed)?
            }
            None => match defaults.home {
                DefaultHome::First => allowed[0],
                DefaultHome::Trace { home, turn } => match home.filter(|h| allowed.contains(h)) {
                    Some(h) => h,
                    None => {
                        *turn += 1;
                        allowed[(*turn - 1) % allowed.len()]
                    }
                },
            },
        };
        let big = allowed
            .iter()
            .map(|s| work.sites[*s].accelerators.count)
            .max()
            .unwrap_or(0);
        if ask.accelerators > big {
            return Err(at.err(
                self,
                "accelerators",
                ask.accelerators,
                format!(
                    "at most {big}, the most accelerators any allowed site has (the job can never fit){}",
                    defaults.fit_hint
                ),
            ));
        }
        Ok((allowed, home))
    }

    /// `allowed_sites` as indices, `default` where none are given. A table's list is written by
    /// hand: a site named twice is a mistake ([`Resolver::site_list`]). A trace row's list is
    /// data: a site named twice counts once.
    fn allowed_sites(
        &self,
        at: JobAt<'_>,
        list: Option<&[String]>,
        default: &[usize],
        names: &[String],
    ) -> Result<Vec<usize>, InputError> {
        let Some(list) = list else {
            return Ok(default.to_vec());
        };
        match at {
            JobAt::Table(p) => self.site_list(&format!("{p}.allowed_sites"), list, names),
            JobAt::Row { .. } => {
                let mut v = Vec::new();
                for n in list {
                    let s = self.site_named(at, "allowed_sites", n, names)?;
                    if !v.contains(&s) {
                        v.push(s);
                    }
                }
                if v.is_empty() {
                    return Err(at.err(self, "allowed_sites", "no sites", "at least one site"));
                }
                Ok(v)
            }
        }
    }

    /// The home site `name`: a site of the scenario, and one of `allowed` (else the message
    /// expects `not_allowed`).
    fn home_site(
        &self,
        at: JobAt<'_>,
        name: &str,
        allowed: &[usize],
        names: &[String],
        not_allowed: &str,
    ) -> Result<usize, InputError> {
        let s = self.site_named(at, "home_site", name, names)?;
        if !allowed.contains(&s) {
            return Err(at.err(self, "home_site", format!("{name:?}"), not_allowed));
        }
        Ok(s)
    }

    /// The index of the site `name`, given at `key`.
    fn site_named(
        &self,
        at: JobAt<'_>,
        key: &str,
        name: &str,
        names: &[String],
    ) -> Result<usize, InputError> {
        names.iter().position(|n| n == name).ok_or_else(|| {
            let (found, expected) = not_a_site(name, names);
            at.err(self, key, found, expected)
        })
    }

    /// A job's deadline in hours since the start: `deadline_h` where given (a job must be
    /// able to meet it), else `max_delay_h` after its earliest end, else none (infinite). The
    /// one rule for both kinds of job.
    fn job_deadline(
        &self,
        at: JobAt<'_>,
        arrival_h: f64,
        runtime_h: f64,
        deadline_h: Option<f64>,
        max_delay_h: Option<f64>,
    ) -> Result<f64, InputError> {
        let earliest_end = arrival_h + runtime_h;
        match deadline_h {
            Some(d) => {
                if d < earliest_end - 1e-9 {
                    return Err(at.err(
                        self,
                        "deadline",
                        format!("{d} h after the start"),
                        format!("at least arrival + runtime = {earliest_end} h (the job can never meet it)"),
                    ));
                }
                Ok(d)
            }
            None => Ok(max_delay_h.map_or(f64::INFINITY, |m| earliest_end + m)),
        }
    }

    /// Record a job's id: an error if an earlier job has it, naming where that one came from.
    fn claim_id(
        &self,
        ids: &mut Ids,
        at: JobAt<'_>,
        id: &str,
        expected: &str,
    ) -> Result<(), InputError> {
        if let Some(prev) = ids.insert(id.to_string(), at.origin()) {
            return Err(at.err(
                self,
                "id",
                format!("{id:?}, already used by {prev}"),
                expected,
            ));
        }
        Ok(())
    }
}
