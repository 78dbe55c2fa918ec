//! Job-trace readers: GAIA, the Alibaba GPU pod list (cluster-trace-gpu-v2023) and a native CSV.
//!
//! Readers return [`TraceJob`]s in file order with the line each came from; the scenario
//! resolver ([`crate::scenario`]) maps them onto the time grid and the sites, and sorts them.

use crate::error::InputError;
use crate::series::{csv_err, format_timestamp, open_csv, parse_timestamp};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TraceFormat {
    /// GAIA: `arrival_time,length,cpus`.
    Gaia,
    /// Alibaba cluster-trace-gpu-v2023 pod list.
    AlibabaGpu,
    /// `id,arrival,accelerators,runtime_h,deadline,interruptible,migratable,allowed_sites,home_site`.
    Native,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    Hours,
    Seconds,
}

impl TimeUnit {
    fn to_hours(self, v: f64) -> f64 {
        match self {
            TimeUnit::Hours => v,
            TimeUnit::Seconds => v / 3600.0,
        }
    }
}

/// When a trace job arrives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TraceTime {
    /// Hours since the trace's own start (GAIA, Alibaba).
    SinceTraceStart(f64),
    /// An absolute time, UTC seconds since the Unix epoch (native).
    Utc(i64),
}

/// One job as read from a trace.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceJob {
    pub id: String,
    pub arrival: TraceTime,
    pub accelerators: u32,
    pub runtime_h: f64,
    /// Absolute deadline (native traces only), UTC seconds.
    pub deadline: Option<i64>,
    pub interruptible: Option<bool>,
    pub migratable: Option<bool>,
    pub allowed_sites: Option<Vec<String>>,
    pub home_site: Option<String>,
    /// 1-based line in the file.
    pub line: usize,
}

/// A trace file read: its jobs in file order, and what was skipped (never silently).
#[derive(Debug, Clone, Default)]
pub struct Trace {
    pub file: String,
    pub jobs: Vec<TraceJob>,
    pub warnings: Vec<String>,
}

/// Reader options.
#[derive(Debug, Clone, Copy)]
pub struct TraceOptions {
    /// GAIA's time unit (`pai_1k.csv` is in seconds, `pai-100k.csv` in hours).
    pub time_unit: TimeUnit,
    /// GAIA gives CPUs: accelerators = ceil(cpus × this), at least 1.
    pub accelerators_per_cpu: f64,
    /// Read at most this many jobs (the first ones in the file).
    pub limit: Option<usize>,
}

impl Default for TraceOptions {
    fn default() -> Self {
        Self {
            time_unit: TimeUnit::Hours,
            accelerators_per_cpu: 1.0,
            limit: None,
        }
    }
}

/// Read a trace in `format`; `file` is how the file is named in messages.
pub fn read_trace(
    path: &Path,
    file: &str,
    format: TraceFormat,
    opts: &TraceOptions,
) -> Result<Trace, InputError> {
    match format {
        TraceFormat::Gaia => read_gaia(path, file, opts),
        TraceFormat::AlibabaGpu => read_alibaba_gpu(path, file, opts.limit),
        TraceFormat::Native => read_native(path, file, opts.limit),
    }
}

fn stem(file: &str) -> String {
    Path::new(file)
        .file_stem()
        .map_or_else(|| "job".into(), |s| s.to_string_lossy().into_owned())
}

struct Cols<'a> {
    file: &'a str,
    headers: Vec<String>,
}

impl Cols<'_> {
    fn need(&self, name: &str) -> Result<usize, InputError> {
        self.headers.iter().position(|h| h == name).ok_or_else(|| {
            InputError::value(
                self.file,
                Some(1),
                "header",
                format!("columns {}", self.headers.join(", ")),
                format!("a column named `{name}`"),
            )
        })
    }
    fn opt(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == name)
    }
}

fn field(rec: &csv::StringRecord, i: usize) -> &str {
    rec.get(i).unwrap_or("").trim()
}

/// A finite number from a CSV cell (surrounding spaces allowed), or an error naming the file,
/// line and column: the one number parser of the trace readers (GAIA's formats in
/// `suandian-gaia` too).
pub fn num(file: &str, line: usize, col: &str, s: &str, expected: &str) -> Result<f64, InputError> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(InputError::value(
            file,
            Some(line),
            col,
            format!("{s:?}"),
            expected,
        )),
    }
}

fn line_of(rec: &csv::StringRecord) -> usize {
    rec.position().map_or(0, |p| p.line() as usize)
}

/// GAIA: `arrival_time,length,cpus`; arrival is an offset from the trace start.
pub fn read_gaia(path: &Path, file: &str, opts: &TraceOptions) -> Result<Trace, InputError> {
    if !(opts.accelerators_per_cpu > 0.0 && opts.accelerators_per_cpu.is_finite()) {
        return Err(InputError::value(
            file,
            None,
            "accelerators_per_cpu",
            opts.accelerators_per_cpu,
            "a number > 0",
        ));
    }
    let (mut rdr, headers) = open_csv(path, file)?;
    let c = Cols { file, headers };
    let (ca, cl, cc) = (c.need("arrival_time")?, c.need("length")?, c.need("cpus")?);
    let unit = match opts.time_unit {
        TimeUnit::Hours => "hours",
        TimeUnit::Seconds => "seconds",
    };
    let prefix = stem(file);
    let mut out = Trace {
        file: file.into(),
        ..Default::default()
    };
    let mut rec = csv::StringRecord::new();
    while opts.limit.map_or(true, |l| out.jobs.len() < l) {
        if !rdr.read_record(&mut rec).map_err(|e| csv_err(file, e))? {
            break;
        }
        let line = line_of(&rec);
        let arrival = num(
            file,
            line,
            "arrival_time",
            field(&rec, ca),
            &format!("a time offset in {unit}"),
        )?;
        if arrival < 0.0 {
            return Err(InputError::value(
                file,
                Some(line),
                "arrival_time",
                arrival,
                "an offset >= 0 from the trace start",
            ));
        }
        let length = num(
            file,
            line,
            "length",
            field(&rec, cl),
            &format!("a run time in {unit}"),
        )?;
        let max_length = match opts.time_unit {
            TimeUnit::Hours => suandian_core::limits::RUNTIME_H,
            TimeUnit::Seconds => suandian_core::limits::RUNTIME_H * 3600.0,
        };
        if !(length > 0.0 && length <= max_length) {
            return Err(InputError::value(
                file,
                Some(line),
                "length",
                length,
                format!("a run time > 0 (the job has no work) and at most {max_length} {unit} (ten years)"),
            ));
        }
        let cpus = num(file, line, "cpus", field(&rec, cc), "a CPU count > 0")?;
        if cpus <= 0.0 {
            return Err(InputError::value(
                file,
                Some(line),
                "cpus",
                cpus,
                "a CPU count > 0",
            ));
        }
        let acc = (cpus * opts.accelerators_per_cpu).ceil().max(1.0);
        if acc > f64::from(u32::MAX) {
            return Err(InputError::value(
                file,
                Some(line),
                "cpus",
                cpus,
                "a CPU count that fits the fleet",
            ));
        }
        out.jobs.push(TraceJob {
            id: format!("{prefix}-{}", out.jobs.len()),
            arrival: TraceTime::SinceTraceStart(opts.time_unit.to_hours(arrival)),
            accelerators: acc as u32,
            runtime_h: opts.time_unit.to_hours(length),
            deadline: None,
            interruptible: None,
            migratable: None,
            allowed_sites: None,
            home_site: None,
            line,
        });
    }
    Ok(out)
}

/// Alibaba GPU pod list (cluster-trace-gpu-v2023): times in seconds from the trace start.
/// Arrival = `creation_time`; run time = `deletion_time - scheduled_time`; accelerators =
/// `num_gpu` (a fractional GPU, `gpu_milli < 1000` with `num_gpu = 1`, counts as one).
/// Skipped, and counted in the warnings: pods without GPUs, pods never scheduled, and pods
/// whose deletion is not after their scheduling.
pub fn read_alibaba_gpu(
    path: &Path,
    file: &str,
    limit: Option<usize>,
) -> Result<Trace, InputError> {
    let (mut rdr, headers) = open_csv(path, file)?;
    let c = Cols { file, headers };
    let cn = c.need("name")?;
    let cg = c.need("num_gpu")?;
    let cm = c.need("gpu_milli")?;
    let cc = c.need("creation_time")?;
    let cd = c.need("deletion_time")?;
    let cs = c.need("scheduled_time")?;
    let mut out = Trace {
        file: file.into(),
        ..Default::default()
    };
    let (mut no_gpu, mut unscheduled, mut no_run, mut fractional) =
        (0usize, 0usize, 0usize, 0usize);
    let mut rec = csv::StringRecord::new();
    while limit.map_or(true, |l| out.jobs.len() < l) {
        if !rdr.read_record(&mut rec).map_err(|e| csv_err(file, e))? {
            break;
        }
        let line = line_of(&rec);
        let gpus = num(file, line, "num_gpu", field(&rec, cg), "a GPU count >= 0")?;
        if gpus < 0.0 || gpus.fract() != 0.0 {
            return Err(InputError::value(
                file,
                Some(line),
                "num_gpu",
                gpus,
                "a whole GPU count >= 0",
            ));
        }
        if gpus == 0.0 {
            no_gpu += 1;
            continue;
        }
        let milli = field(&rec, cm);
        if !milli.is_empty() {
            let m = num(
                file,
                line,
                "gpu_milli",
                milli,
                "thousandths of a GPU, 0 to 1000",
            )?;
            if !(0.0..=1000.0).contains(&m) {
                return Err(InputError::value(
                    file,
                    Some(line),
                    "gpu_milli",
                    m,
                    "thousandths of a GPU, 0 to 1000",
                ));
            }
        }
        let shared = gpus == 1.0 && milli.parse::<f64>().is_ok_and(|m| m < 1000.0);
        let created = num(
            file,
            line,
            "creation_time",
            field(&rec, cc),
            "a time in seconds",
        )?;
        if created < 0.0 {
            return Err(InputError::value(
                file,
                Some(line),
                "creation_time",
                created,
                "seconds >= 0 from the trace start",
            ));
        }
        let sched = field(&rec, cs);
        if sched.is_empty() {
            unscheduled += 1;
            continue;
        }
        let sched = num(
            file,
            line,
            "scheduled_time",
            sched,
            "a time in seconds (or empty for a pod never scheduled)",
        )?;
        if sched < created {
            return Err(InputError::value(
                file,
                Some(line),
                "scheduled_time",
                sched,
                format!("a time at or after the pod's creation_time ({created} s)"),
            ));
        }
        let deleted = num(
            file,
            line,
            "deletion_time",
            field(&rec, cd),
            "a time in seconds",
        )?;
        if deleted <= sched {
            no_run += 1;
            continue;
        }
        fractional += usize::from(shared);
        out.jobs.push(TraceJob {
            id: field(&rec, cn).to_string(),
            arrival: TraceTime::SinceTraceStart(created / 3600.0),
            accelerators: gpus as u32,
            runtime_h: (deleted - sched) / 3600.0,
            deadline: None,
            interruptible: None,
            migratable: None,
            allowed_sites: None,
            home_site: None,
            line,
        });
    }
    if no_gpu > 0 {
        out.warnings.push(format!(
            "{file}: skipped {no_gpu} pods with num_gpu = 0 (not GPU jobs)"
        ));
    }
    if unscheduled > 0 {
        out.warnings.push(format!(
            "{file}: skipped {unscheduled} GPU pods never scheduled (empty scheduled_time: no run time)"
        ));
    }
    if no_run > 0 {
        out.warnings.push(format!(
            "{file}: skipped {no_run} GPU pods whose deletion_time is not after scheduled_time (no run time)"
        ));
    }
    if fractional > 0 {
        out.warnings.push(format!(
            "{file}: {fractional} of the pods read share a GPU (gpu_milli < 1000); each counts as one whole accelerator"
        ));
    }
    Ok(out)
}

fn parse_bool(file: &str, line: usize, col: &str, s: &str) -> Result<Option<bool>, InputError> {
    match s.to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "true" | "yes" | "1" => Ok(Some(true)),
        "false" | "no" | "0" => Ok(Some(false)),
        _ => Err(InputError::value(
            file,
            Some(line),
            col,
            format!("{s:?}"),
            "true or false (or empty)",
        )),
    }
}

/// Native CSV: `id,arrival,accelerators,runtime_h` and optionally `deadline`,
/// `interruptible`, `migratable`, `allowed_sites` (names separated by `;`), `home_site`.
/// Times are RFC 3339 (a time without an offset is UTC); empty optional cells take the
/// defaults of the `[[work.traces]]` entry.
pub fn read_native(path: &Path, file: &str, limit: Option<usize>) -> Result<Trace, InputError> {
    let (mut rdr, headers) = open_csv(path, file)?;
    let c = Cols { file, headers };
    let (ci, ca, cx, cr) = (
        c.need("id")?,
        c.need("arrival")?,
        c.need("accelerators")?,
        c.need("runtime_h")?,
    );
    let (cd, cint, cmig, call, chome) = (
        c.opt("deadline"),
        c.opt("interruptible"),
        c.opt("migratable"),
        c.opt("allowed_sites"),
        c.opt("home_site"),
    );
    let mut out = Trace {
        file: file.into(),
        ..Default::default()
    };
    let mut rec = csv::StringRecord::new();
    let time = |line: usize, col: &str, s: &str| {
        parse_timestamp(s).ok_or_else(|| {
            InputError::value(
                file,
                Some(line),
                col,
                format!("{s:?}"),
                "an RFC 3339 time like 2022-06-01T08:00:00Z",
            )
        })
    };
    while limit.map_or(true, |l| out.jobs.len() < l) {
        if !rdr.read_record(&mut rec).map_err(|e| csv_err(file, e))? {
            break;
        }
        let line = line_of(&rec);
        let id = field(&rec, ci);
        if id.is_empty() {
            return Err(InputError::value(
                file,
                Some(line),
                "id",
                "an empty id",
                "a job id",
            ));
        }
        let arrival = time(line, "arrival", field(&rec, ca))?;
        let acc_s = field(&rec, cx);
        let acc = match acc_s.parse::<u32>() {
            Ok(a) if a > 0 => a,
            _ => {
                return Err(InputError::value(
                    file,
                    Some(line),
                    "accelerators",
                    format!("{acc_s:?}"),
                    "a whole number >= 1",
                ))
            }
        };
        let runtime = num(
            file,
            line,
            "runtime_h",
            field(&rec, cr),
            "a run time in hours",
        )?;
        if runtime <= 0.0 {
            return Err(InputError::value(
                file,
                Some(line),
                "runtime_h",
                runtime,
                "a run time > 0 hours",
            ));
        }
        let deadline = match cd.map(|i| field(&rec, i)).filter(|s| !s.is_empty()) {
            Some(s) => {
                let d = time(line, "deadline", s)?;
                if d <= arrival {
                    return Err(InputError::value(
                        file,
                        Some(line),
                        "deadline",
                        format_timestamp(d),
                        format!("a time after the arrival ({})", format_timestamp(arrival)),
                    ));
                }
                Some(d)
            }
            None => None,
        };
        let allowed = call
            .map(|i| field(&rec, i))
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.split(';')
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
                    .collect::<Vec<_>>()
            });
        out.jobs.push(TraceJob {
            id: id.to_string(),
            arrival: TraceTime::Utc(arrival),
            accelerators: acc,
            runtime_h: runtime,
            deadline,
            interruptible: match cint {
                Some(i) => parse_bool(file, line, "interruptible", field(&rec, i))?,
                None => None,
            },
            migratable: match cmig {
                Some(i) => parse_bool(file, line, "migratable", field(&rec, i))?,
                None => None,
            },
            allowed_sites: allowed,
            home_site: chome
                .map(|i| field(&rec, i))
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            line,
        });
    }
    Ok(out)
}
