//! GAIA's file formats, as its own code reads and writes them (umassos/GAIA, `src/carbon.py`,
//! `src/task.py`, `src/cluster/base_cluster.py`, `src/run.py`), for `suandian gaia`.
//!
//! - Carbon file: a CSV with a `carbon_intensity_avg` column (gCO2/kWh, one row per hour);
//!   start index `N` reads rows `17544 + N .. 17544 + N + 720` (0-based, after the header).
//! - Trace file: a CSV with `arrival_time`, `length` (seconds) and `cpus` columns.
//! - Outputs, for `NAME = SP-START-CP-ZONE-0-WAIT` (`0`: no reserved instances):
//!   `NAME.csv` (`carbon_cost,dollar_cost`), `details-NAME.csv` (one row per job or piece of
//!   job, then GAIA's `-1` row) and `runtime-NAME.csv` (`time,cpus`: mean CPUs in use per
//!   5 minutes). Numbers are written the way pandas writes them (Python's `repr`).

use crate::engine::{Outcome, TraceJob, PAD_ROWS, WINDOW_HOURS};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use suandian_io::series::{csv_err, open_csv};
use suandian_io::traces::num;
use suandian_io::InputError;

fn column(file: &str, headers: &[String], name: &str) -> Result<usize, InputError> {
    headers.iter().position(|h| h == name).ok_or_else(|| {
        InputError::value(
            file,
            Some(1),
            "header",
            format!("columns {}", headers.join(", ")),
            format!("a column named `{name}` (GAIA's format)"),
        )
    })
}

/// A GAIA carbon file: its `carbon_intensity_avg` column, every row.
#[derive(Debug, Clone)]
pub struct CarbonFile {
    pub file: String,
    /// The zone name GAIA puts in its file names: the file's stem (`DE22.csv` -> `DE22`).
    pub zone: String,
    pub values: Vec<f64>,
}

impl CarbonFile {
    /// The hours GAIA reads for start index `start`: rows `17544 + start ..` (at most 720).
    pub fn window(&self, start: usize) -> Result<&[f64], InputError> {
        let first = PAD_ROWS + start;
        if first >= self.values.len() {
            return Err(InputError::data(
                &self.file,
                None,
                format!(
                    "start index {start}: GAIA reads from row {first} (17544 + start), but the \
                     file has {} data rows",
                    self.values.len()
                ),
            ));
        }
        Ok(&self.values[first..(first + WINDOW_HOURS).min(self.values.len())])
    }
}

/// Read a GAIA carbon file.
pub fn read_carbon(path: &Path) -> Result<CarbonFile, InputError> {
    let file = path.display().to_string();
    let (mut rdr, headers) = open_csv(path, &file)?;
    let col = column(&file, &headers, "carbon_intensity_avg")?;
    let mut values = Vec::with_capacity(PAD_ROWS + 8784);
    let mut rec = csv::StringRecord::new();
    while rdr.read_record(&mut rec).map_err(|e| csv_err(&file, e))? {
        let line = rec.position().map_or(0, |p| p.line() as usize);
        let v = num(
            &file,
            line,
            "carbon_intensity_avg",
            rec.get(col).unwrap_or(""),
            "a carbon intensity in gCO2/kWh",
        )?;
        let max = suandian_core::limits::CARBON_G_PER_KWH;
        if !(0.0..=max).contains(&v) {
            return Err(InputError::value(
                &file,
                Some(line),
                "carbon_intensity_avg",
                v,
                format!("a carbon intensity from 0 to {max} gCO2/kWh"),
            ));
        }
        values.push(v);
    }
    Ok(CarbonFile {
        file,
        zone: zone_of(path),
        values,
    })
}

/// The zone a GAIA carbon file stands for, as its output names give it: the file's stem.
pub fn zone_of(carbon_file: &Path) -> String {
    carbon_file
        .file_stem()
        .map_or_else(|| "carbon".into(), |s| s.to_string_lossy().into_owned())
}

/// Read a GAIA job trace, in file order (the row number is the job's ID).
pub fn read_trace(path: &Path) -> Result<Vec<TraceJob>, InputError> {
    let file = path.display().to_string();
    let (mut rdr, headers) = open_csv(path, &file)?;
    let (ca, cl, cc) = (
        column(&file, &headers, "arrival_time")?,
        column(&file, &headers, "length")?,
        column(&file, &headers, "cpus")?,
    );
    let mut jobs = Vec::new();
    let mut rec = csv::StringRecord::new();
    while rdr.read_record(&mut rec).map_err(|e| csv_err(&file, e))? {
        let line = rec.position().map_or(0, |p| p.line() as usize);
        let get = |i: usize| rec.get(i).unwrap_or("");
        let arrival_s = num(&file, line, "arrival_time", get(ca), "seconds")?;
        let length_s = num(&file, line, "length", get(cl), "seconds")?;
        if !(300.0..=suandian_core::limits::RUNTIME_H * 3600.0).contains(&length_s) {
            return Err(InputError::value(
                &file,
                Some(line),
                "length",
                length_s,
                format!(
                    "at least 300 s (GAIA rejects shorter jobs) and at most {} s (ten years)",
                    suandian_core::limits::RUNTIME_H * 3600.0
                ),
            ));
        }
        if !(0.0..=suandian_core::limits::TIME_H * 3600.0).contains(&arrival_s) {
            return Err(InputError::value(
                &file,
                Some(line),
                "arrival_time",
                arrival_s,
                format!(
                    "an offset from 0 to {} s",
                    suandian_core::limits::TIME_H * 3600.0
                ),
            ));
        }
        let cpus = num(&file, line, "cpus", get(cc), "a CPU count >= 1")?;
        if !(1.0..=f64::from(suandian_core::limits::ACCELERATORS)).contains(&cpus) {
            return Err(InputError::value(
                &file,
                Some(line),
                "cpus",
                cpus,
                "a CPU count >= 1",
            ));
        }
        jobs.push(TraceJob {
            arrival_s,
            length_s,
            cpus,
        });
    }
    Ok(jobs)
}

/// GAIA's run name: `SP-START-CP-ZONE-0-WAIT`.
pub fn run_name(policy: &str, start: usize, carbon_policy: &str, zone: &str, wait: &str) -> String {
    format!("{policy}-{start}-{carbon_policy}-{zone}-0-{wait}")
}

/// A float as pandas writes it to CSV: Python's `repr` (shortest round trip, `1.0`, `1e-05`).
pub fn py_float(x: f64) -> String {
    if x.is_nan() {
        return String::new();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let a = x.abs();
    if a == 0.0 || (1e-4..1e16).contains(&a) {
        let s = format!("{x}");
        if s.contains('.') {
            s
        } else {
            s + ".0"
        }
    } else {
        // Rust: 1e-5, 1.5e16; Python: 1e-05, 1.5e+16.
        let s = format!("{x:e}");
        let (m, e) = s.split_once('e').unwrap();
        let (sign, digits) = match e.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', e),
        };
        format!("{m}e{sign}{digits:0>2}")
    }
}

/// The totals file (`NAME.csv`).
pub fn totals_csv(out: &Outcome) -> String {
    // GAIA's totals start as the integer 0, so a run with no job writes `0`.
    let carbon = if out.rows.is_empty() {
        "0".to_string()
    } else {
        py_float(out.carbon_cost)
    };
    format!(
        "carbon_cost,dollar_cost\n{carbon},{}\n",
        py_float(out.dollar_cost)
    )
}

/// The `details-` file.
pub fn details_csv(out: &Outcome) -> String {
    let mut s = String::with_capacity(80 * (out.rows.len() + 2));
    s.push_str("ID,arrival_time,length,cpus,length_class,resource_class,carbon_cost,dollar_cost,start_time,waiting_time,exit_time,reason\n");
    for r in &out.rows {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},completed",
            r.id,
            r.arrival,
            r.length,
            r.cpus,
            r.length_class,
            r.resource_class,
            py_float(r.carbon_cost),
            py_float(r.dollar_cost),
            r.start,
            r.waiting,
            r.exit
        );
    }
    // GAIA's closing row: the reserved instances' cost (none here).
    s.push_str("-1,0,0,0,0,0,0.0,0.0,0,0,0,0\n");
    s
}

/// The `runtime-` file.
pub fn runtime_csv(out: &Outcome) -> String {
    let mut s = String::with_capacity(12 * (out.runtime.len() + 1));
    s.push_str("time,cpus\n");
    for (i, v) in out.runtime.iter().enumerate() {
        let _ = writeln!(s, "{i},{}", py_float(*v));
    }
    s
}

/// Write GAIA's three files for run `name` into `dir` (created if missing); returns their paths
/// (totals, details, runtime).
pub fn write_outputs(dir: &Path, name: &str, out: &Outcome) -> std::io::Result<[PathBuf; 3]> {
    std::fs::create_dir_all(dir)?;
    let paths = output_paths(dir, name);
    for (path, text) in paths
        .iter()
        .zip([totals_csv(out), details_csv(out), runtime_csv(out)])
    {
        suandian_io::files::write_atomic(path, |w| w.write_all(text.as_bytes()))?;
    }
    Ok(paths)
}

/// The three files GAIA writes for run `name` in `dir`: totals, details, runtime.
pub fn output_paths(dir: &Path, name: &str) -> [PathBuf; 3] {
    [
        dir.join(format!("{name}.csv")),
        dir.join(format!("details-{name}.csv")),
        dir.join(format!("runtime-{name}.csv")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_python() {
        assert_eq!(py_float(0.0), "0.0");
        assert_eq!(py_float(2.0), "2.0");
        assert_eq!(py_float(0.58678), "0.58678");
        assert_eq!(py_float(1252.5101015416685), "1252.5101015416685");
        assert_eq!(py_float(1e-5), "1e-05");
        assert_eq!(py_float(1.5e-7), "1.5e-07");
        assert_eq!(py_float(1e16), "1e+16");
        assert_eq!(py_float(0.0001), "0.0001");
        assert_eq!(py_float(0.016666666666666666), "0.016666666666666666");
    }

    #[test]
    fn run_names_follow_gaia() {
        assert_eq!(
            run_name("carbon", 2000, "oracle", "DE22", "6x24"),
            "carbon-2000-oracle-DE22-0-6x24"
        );
    }
}
