//! Time-series readers and resampling to the scenario's time grid.
//!
//! A [`RawSeries`] is what a file holds: timestamps (UTC seconds) with one value each, and the
//! line each came from. [`resample`] turns it into one value per slot of a
//! [`TimeGrid`](suandian_core::TimeGrid):
//!
//! - the source is a step function: each value holds from its timestamp until the next one;
//!   the last value holds for one usual spacing (the most common distance between timestamps);
//! - a slot's value is the time-weighted mean of the source over the slot (hourly → 15 min
//!   repeats the hour's value; 5 min → hourly averages twelve values);
//! - the source must cover `[start, start + horizon)`, timestamps must be strictly increasing,
//!   and a gap (a spacing larger than the usual one, or an empty value) inside the horizon is
//!   an error unless the [`GapRule`] says to hold the previous value or interpolate.
//!
//! Everything runs in one linear pass over the part of the source that the horizon uses.

use crate::error::InputError;
use std::collections::HashMap;
use std::path::Path;
use suandian_core::TimeGrid;

/// What to do with a missing stretch (a gap, or an empty value) inside the horizon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GapRule {
    /// A gap is an error naming the line (the default).
    #[default]
    Error,
    /// The value before the gap holds through it.
    Hold,
    /// Values are linearly interpolated across the gap, at the series' usual spacing.
    Interpolate,
}

/// File formats a series can be read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SeriesFormat {
    /// Electricity Maps hourly export (`Datetime (UTC)`, `Carbon Intensity gCO₂eq/kWh (direct)`...).
    Electricitymaps,
    /// Price CSV: `Datetime (UTC)`, `Datetime (Local)`, `Price (USD/MWh)`.
    Prices,
    /// `timestamp,value` CSV (first column is the timestamp).
    Generic,
    /// Open-Meteo JSON (`hourly.time` in local time, `utc_offset_seconds`).
    OpenMeteo,
}

/// A series as read from a file: strictly increasing UTC timestamps (seconds since the Unix
/// epoch) and their values. `NaN` marks an empty value (a missing data point).
#[derive(Debug, Clone, Default)]
pub struct RawSeries {
    /// The file, as shown in error messages.
    pub source: String,
    /// The column or key the values come from.
    pub column: String,
    pub times: Vec<i64>,
    pub values: Vec<f64>,
    /// 1-based line of each point in the file (0 where lines mean nothing, as in JSON).
    pub lines: Vec<usize>,
    /// Points whose timestamp gave no offset (taken as UTC until [`RawSeries::local_offset`]).
    pub naive: Vec<bool>,
}

impl RawSeries {
    pub fn len(&self) -> usize {
        self.times.len()
    }
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }
    fn line(&self, i: usize) -> Option<usize> {
        (self.lines.get(i).copied().unwrap_or(0) > 0).then(|| self.lines[i])
    }
    /// Where point `i` is, for messages that already name the file: `line 12` or
    /// `column[12]` (JSON).
    fn place(&self, i: usize) -> String {
        match self.line(i) {
            Some(l) => format!("line {l}"),
            None => format!("{}[{i}]", self.column),
        }
    }
    /// Take the timestamps that gave no offset as local time at `offset_s` seconds east of
    /// UTC (market data often comes in local standard time: AEMO's NEM time is UTC+10, no
    /// daylight saving). An error where every timestamp gives its own offset.
    pub fn local_offset(&mut self, offset_s: i64) -> Result<(), String> {
        if offset_s == 0 {
            return Ok(());
        }
        if !self.naive.iter().any(|n| *n) {
            return Err(
                "every timestamp gives its own offset: utc_offset has nothing to apply to".into(),
            );
        }
        for (t, naive) in self.times.iter_mut().zip(&self.naive) {
            if *naive {
                *t -= offset_s;
            }
        }
        Ok(())
    }
    /// Multiply every value by `scale`.
    pub fn scale(&mut self, scale: f64) {
        if scale != 1.0 {
            for v in &mut self.values {
                *v *= scale;
            }
        }
    }
}

/// Accepted range of a series' values, for messages that say what was expected.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub expected: &'static str,
}

impl Bounds {
    pub const ANY: Bounds = Bounds {
        min: None,
        max: None,
        expected: "a finite number",
    };
    pub const NONNEG: Bounds = Bounds {
        min: Some(0.0),
        max: None,
        expected: "a number >= 0",
    };
    pub const FRACTION: Bounds = Bounds {
        min: Some(0.0),
        max: Some(1.0),
        expected: "a fraction 0..=1",
    };
    pub fn ok(&self, v: f64) -> bool {
        v.is_finite()
            && self.min.map_or(true, |m| v >= m)
            && self.max.map_or(true, |m| v <= m + 1e-9)
    }
}

/// The result of [`resample`]: one value per slot, and how many gaps were filled.
#[derive(Debug, Clone, PartialEq)]
pub struct Resampled {
    pub values: Vec<f64>,
    pub gaps_filled: usize,
    /// Problems in parts of the file the horizon does not use (each names its line): a real
    /// file is judged only on what the scenario reads from it.
    pub warnings: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// Timestamps

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0i64, |a, d| a * 10 + i64::from(d - b'0')))
}

/// Parse `YYYY-MM-DD[( |T)HH:MM[:SS[.000]]][Z|UTC|±HH[:MM]]` into seconds since the Unix
/// epoch. A timestamp without an offset is taken as UTC ([`parse_timestamp_zoned`] tells
/// which it was). A fraction of a second other than zero is refused (it would be dropped).
pub fn parse_timestamp(s: &str) -> Option<i64> {
    parse_timestamp_zoned(s).map(|(t, _)| t)
}

/// [`parse_timestamp`], and whether the timestamp gave its own offset (`Z`, `UTC`, `±HH:MM`).
pub fn parse_timestamp_zoned(s: &str) -> Option<(i64, bool)> {
    let b = s.trim().as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    let mut rest = &b[10..];
    if !rest.is_empty()
        && matches!(rest[0], b'T' | b't' | b' ')
        && rest.len() >= 6
        && rest[3] == b':'
    {
        let (hh, mm) = (digits(&rest[1..3])?, digits(&rest[4..6])?);
        if hh > 23 || mm > 59 {
            return None;
        }
        secs += hh * 3600 + mm * 60;
        rest = &rest[6..];
        if rest.len() >= 3 && rest[0] == b':' {
            let ss = digits(&rest[1..3])?;
            if ss > 60 {
                return None;
            }
            secs += ss;
            rest = &rest[3..];
            if !rest.is_empty() && (rest[0] == b'.' || rest[0] == b',') {
                let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
                // A fraction of a second would be dropped: only zeros are taken.
                if n == 0 || rest[1..=n].iter().any(|c| *c != b'0') {
                    return None;
                }
                rest = &rest[1 + n..];
            }
        }
    }
    while let [b' ', tail @ ..] = rest {
        rest = tail;
    }
    match rest {
        [] => Some((secs, false)),
        [b'Z'] | [b'z'] | [b'U', b'T', b'C'] => Some((secs, true)),
        [sign @ (b'+' | b'-'), tz @ ..] => {
            let (h, m) = match tz {
                [a, b] => (digits(&[*a, *b])?, 0),
                [a, b, b':', c, d] | [a, b, c, d] => (digits(&[*a, *b])?, digits(&[*c, *d])?),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let off = h * 3600 + m * 60;
            Some((
                if *sign == b'+' {
                    secs - off
                } else {
                    secs + off
                },
                true,
            ))
        }
        _ => None,
    }
}

/// `2022-01-01 00:00 UTC` (seconds shown only when not zero).
pub fn format_timestamp(t: i64) -> String {
    match chrono::DateTime::from_timestamp(t, 0) {
        Some(d) if t % 60 == 0 => d.format("%Y-%m-%d %H:%M UTC").to_string(),
        Some(d) => d.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        None => format!("{t} s since 1970"),
    }
}

fn format_duration(secs: i64) -> String {
    if secs % 3600 == 0 {
        format!("{} h", secs / 3600)
    } else if secs % 60 == 0 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

// ---------------------------------------------------------------------------------------------
// Readers

fn csv_error(file: &str, e: csv::Error) -> InputError {
    let line = e.position().map(|p| p.line() as usize);
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => InputError::syntax(
            file,
            line,
            None,
            format!("found {len} fields, expected {expected_len} like the header"),
        ),
        csv::ErrorKind::Io(io) => InputError::io(file, io),
        _ => InputError::syntax(file, line, None, e.to_string()),
    }
}

/// Open a CSV file with a header line (an input: a regular file under the size limit, see
/// [`crate::files`]); returns the reader and the trimmed header names. Every CSV reader uses it,
/// GAIA's formats (`suandian-gaia`) too.
pub fn open_csv(
    path: &Path,
    file: &str,
) -> Result<(csv::Reader<std::fs::File>, Vec<String>), InputError> {
    let f = crate::files::open_input(path, file)?;
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).from_reader(f);
    let headers = rdr
        .headers()
        .map_err(|e| csv_error(file, e))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    Ok((rdr, headers))
}

/// A CSV reader's error as an [`InputError`] naming the file and line.
pub fn csv_err(file: &str, e: csv::Error) -> InputError {
    csv_error(file, e)
}

fn find_column(
    file: &str,
    headers: &[String],
    what: &str,
    pred: impl Fn(&str) -> bool,
) -> Result<usize, InputError> {
    headers.iter().position(|h| pred(h)).ok_or_else(|| {
        InputError::value(
            file,
            Some(1),
            "header",
            format!("columns {}", headers.join(", ")),
            format!("a column {what}"),
        )
    })
}

/// Read a CSV with a timestamp column `tcol` and a value column `vcol`.
fn read_csv_columns(
    path: &Path,
    file: &str,
    pick: impl Fn(&[String]) -> Result<(usize, usize), InputError>,
) -> Result<RawSeries, InputError> {
    let (mut rdr, headers) = open_csv(path, file)?;
    let (tcol, vcol) = pick(&headers)?;
    let mut s = RawSeries {
        source: file.to_string(),
        column: headers[vcol].clone(),
        ..Default::default()
    };
    let mut rec = csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(file, e)),
        }
        let line = rec.position().map_or(0, |p| p.line() as usize);
        let ts = std::str::from_utf8(rec.get(tcol).unwrap_or_default()).unwrap_or("");
        let (t, zoned) = parse_timestamp_zoned(ts).ok_or_else(|| {
            InputError::value(
                file,
                Some(line),
                headers[tcol].as_str(),
                format!("{ts:?}"),
                "a timestamp like 2022-01-01 00:00:00 or 2022-01-01T00:00:00Z",
            )
        })?;
        let raw = std::str::from_utf8(rec.get(vcol).unwrap_or_default())
            .unwrap_or("")
            .trim();
        let v = if raw.is_empty()
            || raw.eq_ignore_ascii_case("nan")
            || raw.eq_ignore_ascii_case("null")
        {
            f64::NAN
        } else {
            match raw.parse::<f64>() {
                Ok(v) if v.is_finite() => v,
                _ => {
                    return Err(InputError::value(
                        file,
                        Some(line),
                        headers[vcol].as_str(),
                        format!("{raw:?}"),
                        "a number (or an empty cell for a missing value)",
                    ))
                }
            }
        };
        s.times.push(t);
        s.naive.push(!zoned);
        s.values.push(v);
        s.lines.push(line);
    }
    Ok(s)
}

/// Electricity Maps export. `column`: `direct` (default), `lca`, `renewable_percentage`,
/// `low_carbon_percentage`, or an exact header name.
pub fn read_electricitymaps(
    path: &Path,
    file: &str,
    column: Option<&str>,
) -> Result<RawSeries, InputError> {
    let column = column.unwrap_or("direct").to_string();
    read_csv_columns(path, file, |h| {
        let t = find_column(file, h, "`Datetime (UTC)`", |x| x == "Datetime (UTC)")?;
        let v = match column.as_str() {
            "direct" => find_column(file, h, "`Carbon Intensity gCO₂eq/kWh (direct)`", |x| {
                x.starts_with("Carbon Intensity") && x.ends_with("(direct)")
            })?,
            "lca" => find_column(file, h, "`Carbon Intensity gCO₂eq/kWh (LCA)`", |x| {
                x.starts_with("Carbon Intensity") && x.ends_with("(LCA)")
            })?,
            "renewable_percentage" => find_column(file, h, "`Renewable Percentage`", |x| x == "Renewable Percentage")?,
            "low_carbon_percentage" => {
                find_column(file, h, "`Low Carbon Percentage`", |x| x == "Low Carbon Percentage")?
            }
            other => find_column(
                file,
                h,
                &format!("named `{other}` (column = direct | lca | renewable_percentage | low_carbon_percentage | a header)"),
                |x| x == other,
            )?,
        };
        Ok((t, v))
    })
}

/// Price CSV: `Datetime (UTC)` and `Price (...)` (or the header named by `column`).
pub fn read_prices(path: &Path, file: &str, column: Option<&str>) -> Result<RawSeries, InputError> {
    read_csv_columns(path, file, |h| {
        let t = find_column(file, h, "`Datetime (UTC)`", |x| x == "Datetime (UTC)")?;
        let v = match column {
            Some(c) => find_column(file, h, &format!("named `{c}`"), |x| x == c)?,
            None => find_column(file, h, "`Price (USD/MWh)`", |x| x.starts_with("Price ("))?,
        };
        Ok((t, v))
    })
}

/// Generic CSV: the first column is the timestamp; the value column is `column`, else one
/// named `value`, else the second column when there are only two.
pub fn read_generic(
    path: &Path,
    file: &str,
    column: Option<&str>,
) -> Result<RawSeries, InputError> {
    read_csv_columns(path, file, |h| {
        let v = match column {
            Some(c) => find_column(file, h, &format!("named `{c}`"), |x| x == c)?,
            None if h.len() == 2 => 1,
            None => find_column(file, h, "named `value` (or set `column`)", |x| x == "value")?,
        };
        if v == 0 {
            return Err(InputError::value(
                file,
                Some(1),
                "column",
                &h[0],
                "a value column other than the first (timestamp) column",
            ));
        }
        Ok((0, v))
    })
}

/// Open-Meteo JSON: `hourly.time` in local time (`utc_offset_seconds` from UTC, one fixed
/// offset for the whole file), values in `hourly.<column>` (default `temperature_2m`).
pub fn read_open_meteo(
    path: &Path,
    file: &str,
    column: Option<&str>,
) -> Result<RawSeries, InputError> {
    #[derive(serde::Deserialize)]
    struct Doc {
        utc_offset_seconds: Option<i64>,
        hourly: HashMap<String, Vec<serde_json::Value>>,
    }
    let column = column.unwrap_or("temperature_2m");
    let text = crate::files::read_input(path, file)?;
    let doc: Doc = serde_json::from_str(&text)
        .map_err(|e| InputError::syntax(file, Some(e.line()), Some(e.column()), e.to_string()))?;
    // Its times are local: taking a file without its offset as UTC would shift every value.
    let Some(utc_offset_seconds) = doc.utc_offset_seconds else {
        return Err(InputError::value(
            file,
            None,
            "utc_offset_seconds",
            "nothing",
            "the offset of hourly.time from UTC in seconds, as Open-Meteo writes it (0 for UTC)",
        ));
    };
    let keys = || {
        let mut k: Vec<&str> = doc.hourly.keys().map(String::as_str).collect();
        k.sort_unstable();
        k.join(", ")
    };
    let times = doc.hourly.get("time").ok_or_else(|| {
        InputError::value(
            file,
            None,
            "hourly.time",
            format!("keys {}", keys()),
            "an array of local times",
        )
    })?;
    let values = doc.hourly.get(column).ok_or_else(|| {
        InputError::value(
            file,
            None,
            format!("hourly.{column}"),
            format!("keys {}", keys()),
            "the column named by `column` (temperature_2m, relative_humidity_2m, cloudcover, windspeed_10m)",
        )
    })?;
    if times.len() != values.len() {
        return Err(InputError::value(
            file,
            None,
            format!("hourly.{column}"),
            format!("{} values", values.len()),
            format!("{} values, one per entry of hourly.time", times.len()),
        ));
    }
    let mut s = RawSeries {
        source: file.to_string(),
        column: format!("hourly.{column}"),
        times: Vec::with_capacity(times.len()),
        values: Vec::with_capacity(times.len()),
        lines: vec![0; times.len()],
        // Its times are local at the file's own offset, applied below.
        naive: vec![],
    };
    for (i, (t, v)) in times.iter().zip(values).enumerate() {
        let ts = t.as_str().and_then(parse_timestamp).ok_or_else(|| {
            InputError::value(
                file,
                None,
                format!("hourly.time[{i}]"),
                t,
                "a local time like 2022-01-01T00:00",
            )
        })?;
        let v = match v {
            serde_json::Value::Null => f64::NAN,
            serde_json::Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
            other => {
                return Err(InputError::value(
                    file,
                    None,
                    format!("hourly.{column}[{i}]"),
                    other,
                    "a number or null",
                ))
            }
        };
        s.times.push(ts - utc_offset_seconds);
        s.values.push(v);
    }
    Ok(s)
}

/// Read a series file in `format`; `file` is how the file is named in messages.
pub fn read_file(
    path: &Path,
    file: &str,
    format: SeriesFormat,
    column: Option<&str>,
) -> Result<RawSeries, InputError> {
    match format {
        SeriesFormat::Electricitymaps => read_electricitymaps(path, file, column),
        SeriesFormat::Prices => read_prices(path, file, column),
        SeriesFormat::Generic => read_generic(path, file, column),
        SeriesFormat::OpenMeteo => read_open_meteo(path, file, column),
    }
}

/// An hour-of-day (UTC) profile repeated over every day the grid touches, as a raw series.
pub fn daily_profile(profile: &[f64; 24], grid: &TimeGrid, source: &str) -> RawSeries {
    let start = grid.start.timestamp();
    let end = start + grid.slots as i64 * i64::from(grid.slot_minutes) * 60;
    let first_hour = start.div_euclid(3600);
    let last_hour = (end + 3599).div_euclid(3600);
    let n = (last_hour - first_hour).max(1) as usize;
    let mut s = RawSeries {
        source: source.to_string(),
        column: "daily".into(),
        times: Vec::with_capacity(n),
        values: Vec::with_capacity(n),
        lines: vec![0; n],
        naive: vec![],
    };
    for h in first_hour..first_hour + n as i64 {
        s.times.push(h * 3600);
        s.values.push(profile[h.rem_euclid(24) as usize]);
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Resampling

/// The most common distance between consecutive timestamps (ties: the smaller).
fn usual_spacing(times: &[i64]) -> i64 {
    let mut counts: HashMap<i64, usize> = HashMap::new();
    let mut last_d = 0;
    let mut run = 0usize;
    // Runs of equal spacing are the norm: count them without hashing every step.
    for w in times.windows(2) {
        let d = w[1] - w[0];
        if d == last_d {
            run += 1;
        } else {
            if run > 0 {
                *counts.entry(last_d).or_default() += run;
            }
            last_d = d;
            run = 1;
        }
    }
    if run > 0 {
        *counts.entry(last_d).or_default() += run;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map_or(3600, |(d, _)| d)
}

/// Resample `raw` onto `grid` (see the module docs). `bounds` is checked on every source
/// value the horizon uses.
pub fn resample(
    raw: &RawSeries,
    grid: &TimeGrid,
    gaps: GapRule,
    bounds: Bounds,
) -> Result<Resampled, InputError> {
    let file = raw.source.as_str();
    let n = raw.len();
    if n < 2 {
        return Err(InputError::data(
            file,
            None,
            format!(
                "{}: found {n} data point(s), expected at least two timestamps (the spacing is taken from them)",
                raw.column
            ),
        ));
    }
    let t = &raw.times;
    let slot = i64::from(grid.slot_minutes) * 60;
    let start = grid.start.timestamp();
    let end = start + grid.slots as i64 * slot;
    if let Some(r) = out_of_order(raw, grid, gaps, bounds) {
        return r;
    }
    let spacing = usual_spacing(t);
    let covered_end = t[n - 1] + spacing;
    if t[0] > start || covered_end < end {
        let missing = if t[0] > start {
            format!(
                "{} to {}",
                format_timestamp(start),
                format_timestamp(t[0].min(end))
            )
        } else {
            format!(
                "{} to {}",
                format_timestamp(covered_end.max(start)),
                format_timestamp(end)
            )
        };
        return Err(InputError::data(
            file,
            None,
            format!(
                "{} covers {} to {} but the scenario needs {} to {}: missing {missing} (expected a series covering the whole horizon)",
                raw.column,
                format_timestamp(t[0]),
                format_timestamp(covered_end),
                format_timestamp(start),
                format_timestamp(end),
            ),
        ));
    }
    // The points the horizon uses: the last one at or before `start` to the last before `end`.
    let i0 = t.partition_point(|&x| x <= start) - 1;
    // ...plus the first point at or after `end`, which closes the last segment (a gap that
    // runs past the end of the horizon is still a gap inside it).
    let i1 = t.partition_point(|&x| x < end).min(n - 1);

    let (ct, cv, gaps_filled) = clean_points(raw, (i0, i1), end, spacing, gaps, bounds)?;
    // Empty values at the edges of the horizon cannot be filled.
    let clean_end = ct.last().map_or(i64::MIN, |x| x + spacing);
    if ct.first().map_or(true, |&x| x > start) || clean_end < end {
        let i = if ct.first().map_or(true, |&x| x > start) {
            i0
        } else {
            i1
        };
        return Err(InputError::data(
            file,
            raw.line(i),
            format!(
                "{}: the value at {} is missing at the edge of the horizon, where it cannot be filled (expected a value)",
                raw.column,
                format_timestamp(t[i])
            ),
        ));
    }

    // One linear pass: slot k covers [a, a + slot).
    let m = ct.len();
    let seg_end = |j: usize| {
        if j + 1 < m {
            ct[j + 1]
        } else {
            ct[j] + spacing
        }
    };
    let mut out = Vec::with_capacity(grid.slots);
    let mut j = 0usize;
    for k in 0..grid.slots as i64 {
        let a = start + k * slot;
        let b = a + slot;
        while j + 1 < m && ct[j + 1] <= a {
            j += 1;
        }
        if seg_end(j) >= b {
            out.push(cv[j]);
            continue;
        }
        let mut acc = 0.0;
        let mut pos = a;
        let mut q = j;
        while pos < b && q < m {
            let e = seg_end(q).min(b);
            acc += cv[q] * (e - pos) as f64;
            pos = e;
            q += 1;
        }
        out.push(acc / slot as f64);
    }
    Ok(Resampled {
        values: out,
        gaps_filled,
        warnings: vec![],
    })
}

/// Timestamps out of order: an error where the horizon (with two days around it) is
/// concerned; elsewhere a warning naming the line, and only the part near the horizon is
/// read (one duplicated row two years away once rejected a whole market file). `None` where
/// the timestamps are in order.
fn out_of_order(
    raw: &RawSeries,
    grid: &TimeGrid,
    gaps: GapRule,
    bounds: Bounds,
) -> Option<Result<Resampled, InputError>> {
    let file = raw.source.as_str();
    let n = raw.len();
    let t = &raw.times;
    let slot = i64::from(grid.slot_minutes) * 60;
    let start = grid.start.timestamp();
    let end = start + grid.slots as i64 * slot;
    let disorder: Vec<usize> = (1..n).filter(|&i| t[i] <= t[i - 1]).collect();
    if disorder.is_empty() {
        return None;
    }
    {
        let near_range = (start - 2 * 86_400)..=(end + 2 * 86_400);
        let near = |i: usize| near_range.contains(&t[i]) || near_range.contains(&t[i - 1]);
        let describe = |i: usize| {
            let how = if t[i] == t[i - 1] {
                "repeats"
            } else {
                "is earlier than"
            };
            let prev = match raw.line(i - 1) {
                Some(l) => format!("line {l}"),
                None => format!("{}[{}]", raw.column, i - 1),
            };
            format!(
                "{}timestamp {} {how} the one on {prev}",
                if raw.line(i).is_none() {
                    format!("{}: ", raw.place(i))
                } else {
                    String::new()
                },
                format_timestamp(t[i]),
            )
        };
        if let Some(&i) = disorder.iter().find(|&&i| near(i)) {
            return Some(Err(InputError::data(
                file,
                raw.line(i),
                format!("{} (expected strictly increasing timestamps)", describe(i)),
            )));
        }
        let keep: Vec<usize> = (0..n).filter(|&i| near_range.contains(&t[i])).collect();
        let sub = RawSeries {
            source: raw.source.clone(),
            column: raw.column.clone(),
            times: keep.iter().map(|&i| t[i]).collect(),
            values: keep.iter().map(|&i| raw.values[i]).collect(),
            lines: keep
                .iter()
                .map(|&i| raw.lines.get(i).copied().unwrap_or(0))
                .collect(),
            naive: vec![],
        };
        let mut r = match resample(&sub, grid, gaps, bounds) {
            Ok(r) => r,
            Err(e) => return Some(Err(e)),
        };
        r.warnings.extend(disorder.iter().map(|&i| {
            format!(
                "{file}: {}{} outside the scenario's horizon: ignored (only the part the scenario reads is judged)",
                raw.line(i).map_or(String::new(), |l| format!("line {l}: ")),
                describe(i)
            )
        }));
        Some(Ok(r))
    }
}

/// The points `raw[i0..=i1]` with values (checked against `bounds`), gaps longer than
/// `spacing` handled by `gaps`: their times, values and the number of gaps filled.
fn clean_points(
    raw: &RawSeries,
    (i0, i1): (usize, usize),
    end: i64,
    spacing: i64,
    gaps: GapRule,
    bounds: Bounds,
) -> Result<(Vec<i64>, Vec<f64>, usize), InputError> {
    let file = raw.source.as_str();
    let t = &raw.times;
    let mut ct: Vec<i64> = Vec::with_capacity(i1 - i0 + 1);
    let mut cv: Vec<f64> = Vec::with_capacity(i1 - i0 + 1);
    let mut gaps_filled = 0usize;
    let mut last_idx: Option<usize> = None;
    for i in i0..=i1 {
        let v = raw.values[i];
        let inside = t[i] < end;
        if v.is_nan() {
            if gaps == GapRule::Error && inside {
                return Err(InputError::data(
                    file,
                    raw.line(i),
                    format!(
                        "{}{}: empty value at {} (expected a number; set gaps = \"hold\" or \"interpolate\" to fill missing values)",
                        if raw.line(i).is_none() { format!("{}: ", raw.place(i)) } else { String::new() },
                        raw.column,
                        format_timestamp(t[i])
                    ),
                ));
            }
            continue;
        }
        if inside && !bounds.ok(v) {
            return Err(InputError::value(
                file,
                raw.line(i),
                if raw.line(i).is_some() {
                    raw.column.clone()
                } else {
                    raw.place(i)
                },
                v,
                bounds.expected,
            ));
        }
        if let Some(p) = last_idx {
            let d = t[i] - t[p];
            if d > spacing {
                match gaps {
                    GapRule::Error => {
                        return Err(InputError::data(
                            file,
                            raw.line(i),
                            format!(
                                "{}timestamp {} follows {} on {} after {}, more than the usual spacing of {} (a gap; expected no gaps, or set gaps = \"hold\" or \"interpolate\")",
                                if raw.line(i).is_none() { format!("{}: ", raw.place(i)) } else { String::new() },
                                format_timestamp(t[i]),
                                format_timestamp(t[p]),
                                raw.place(p),
                                format_duration(d),
                                format_duration(spacing),
                            ),
                        ));
                    }
                    GapRule::Hold => gaps_filled += 1,
                    GapRule::Interpolate => {
                        gaps_filled += 1;
                        let v0 = raw.values[p];
                        let mut k = t[p] + spacing;
                        while k < t[i] {
                            let f = (k - t[p]) as f64 / d as f64;
                            ct.push(k);
                            cv.push(v0 + (v - v0) * f);
                            k += spacing;
                        }
                    }
                }
            }
        }
        ct.push(t[i]);
        cv.push(v);
        last_idx = Some(i);
    }
    Ok((ct, cv, gaps_filled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01 00:00:00"), Some(0));
        assert_eq!(parse_timestamp("1970-01-02T00:00Z"), Some(86_400));
        assert_eq!(
            parse_timestamp("2022-01-01 00:00:00+00:00"),
            Some(1_640_995_200)
        );
        assert_eq!(
            parse_timestamp("2022-01-01T01:00:00+01:00"),
            Some(1_640_995_200)
        );
        assert_eq!(
            parse_timestamp("2021-12-31T19:00:00-05:00"),
            Some(1_640_995_200)
        );
        // A fraction of a second would be dropped: refused, unless it is zero.
        assert_eq!(parse_timestamp("2022-01-01T00:00:00.250Z"), None);
        assert_eq!(
            parse_timestamp("2022-01-01T00:00:00.000Z"),
            Some(1_640_995_200)
        );
        assert_eq!(parse_timestamp("2022-01-01"), Some(1_640_995_200));
        assert_eq!(parse_timestamp("2022-02-29 00:00"), None);
        assert_eq!(parse_timestamp("2022-01-01 25:00"), None);
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(parse_timestamp("2022-01-01 00:00 CET"), None);
        for s in ["2024-02-29T12:34:56Z", "1999-12-31T23:59:59+05:30"] {
            let c = chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp();
            assert_eq!(parse_timestamp(s), Some(c), "{s}");
        }
    }

    #[test]
    fn spacing_is_the_mode() {
        assert_eq!(usual_spacing(&[0, 10, 20, 50, 60, 70]), 10);
        assert_eq!(usual_spacing(&[0, 3600]), 3600);
    }
}
