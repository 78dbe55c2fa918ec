//! A `<series>` value: a number, `{ values = [...] }`, `{ daily = [24 values] }` or
//! `{ file = "...", format = "..." }` → one value per slot of the grid.

use super::{describe, Resolver};
use crate::error::InputError;
use crate::scenario::schema::SeriesTableDef;
use crate::series::{self, Bounds, GapRule, SeriesFormat};

impl Resolver {
    /// Resolve a `<series>` value at `path` into one value per slot.
    pub(super) fn series(
        &mut self,
        path: &str,
        v: &toml::Value,
        bounds: Bounds,
    ) -> Result<Vec<f64>, InputError> {
        let n = self.grid.slots;
        let t = match v {
            toml::Value::Integer(_) | toml::Value::Float(_) => {
                let c = v.as_float().unwrap_or_else(|| v.as_integer().unwrap_or(0) as f64);
                if !bounds.ok(c) {
                    return Err(self.err(path, c, bounds.expected));
                }
                return Ok(vec![c; n]);
            }
            toml::Value::Table(_) => self.typed::<SeriesTableDef>(path, v)?,
            other => {
                return Err(self.err(
                    path,
                    describe(other),
                    "a series: a number, { values = [...] }, { daily = [24 values] } or { file = \"...\", format = \"...\" }",
                ))
            }
        };
        if !(t.scale.is_finite()) {
            return Err(self.err(&format!("{path}.scale"), t.scale, "a finite number"));
        }
        let forms = [t.values.is_some(), t.daily.is_some(), t.file.is_some()]
            .iter()
            .filter(|x| **x)
            .count();
        if forms != 1 {
            return Err(self.err(
                path,
                format!("{forms} of values / daily / file"),
                "exactly one of values = [...], daily = [...] or file = \"...\"",
            ));
        }
        if t.file.is_none() && (t.format.is_some() || t.column.is_some() || t.gaps.is_some()) {
            return Err(self.err(
                path,
                "format / column / gaps without file",
                "these keys only with file = \"...\"",
            ));
        }
        if let Some(vals) = &t.values {
            return self.series_values(path, vals, t.scale, bounds);
        }
        if let Some(d) = &t.daily {
            return self.series_daily(path, d, t.scale, bounds);
        }
        self.series_file(path, &t, bounds)
    }

    /// `{ values = [...] }`: one value per slot, scaled, each within `bounds`.
    fn series_values(
        &self,
        path: &str,
        vals: &[f64],
        scale: f64,
        bounds: Bounds,
    ) -> Result<Vec<f64>, InputError> {
        let n = self.grid.slots;
        if vals.len() != n {
            return Err(self.err(
                &format!("{path}.values"),
                format!("{} values", vals.len()),
                format!("{n} values, one per slot"),
            ));
        }
        let out: Vec<f64> = vals.iter().map(|x| x * scale).collect();
        if let Some(i) = out.iter().position(|x| !bounds.ok(*x)) {
            return Err(self.err(&format!("{path}.values[{i}]"), out[i], bounds.expected));
        }
        Ok(out)
    }

    /// `{ daily = [24 values] }`: an hour-of-day profile (UTC), scaled, repeated over the grid.
    fn series_daily(
        &self,
        path: &str,
        d: &[f64],
        scale: f64,
        bounds: Bounds,
    ) -> Result<Vec<f64>, InputError> {
        let prof: [f64; 24] = d.try_into().map_err(|_| {
            self.err(
                &format!("{path}.daily"),
                format!("{} values", d.len()),
                "24 values, one per hour of the day (UTC)",
            )
        })?;
        let prof = prof.map(|x| x * scale);
        if let Some(i) = prof.iter().position(|x| !bounds.ok(*x)) {
            return Err(self.err(&format!("{path}.daily[{i}]"), prof[i], bounds.expected));
        }
        let raw = series::daily_profile(&prof, &self.grid, &self.file);
        Ok(series::resample(&raw, &self.grid, GapRule::Error, Bounds::ANY)?.values)
    }

    /// `{ file = "..." }`: read (relative to the scenario's folder), shifted to UTC, scaled and
    /// resampled onto the grid, its gaps filled by the rule in force (with a warning).
    fn series_file(
        &mut self,
        path: &str,
        t: &SeriesTableDef,
        bounds: Bounds,
    ) -> Result<Vec<f64>, InputError> {
        let rel = t.file.as_deref().unwrap_or_default();
        let full = self.base_dir.join(rel);
        let shown = if self.base_dir.as_os_str().is_empty() {
            rel.to_string()
        } else {
            full.display().to_string()
        };
        let format = match t.format {
            Some(f) => f,
            None if rel.to_ascii_lowercase().ends_with(".json") => SeriesFormat::OpenMeteo,
            None => SeriesFormat::Generic,
        };
        let mut raw = series::read_file(&full, &shown, format, t.column.as_deref())?;
        self.inputs.push(full.clone());
        if let Some(o) = &t.utc_offset {
            let offset_s = parse_utc_offset(o).ok_or_else(|| {
                self.err(
                    &format!("{path}.utc_offset"),
                    format!("{o:?}"),
                    "an offset from UTC like \"+10:00\" or \"-05:00\"",
                )
            })?;
            raw.local_offset(offset_s)
                .map_err(|m| self.err(&format!("{path}.utc_offset"), format!("{o:?}"), &m))?;
        }
        raw.scale(t.scale);
        let gaps = t.gaps.unwrap_or(self.gaps);
        let r = series::resample(&raw, &self.grid, gaps, bounds)?;
        self.warnings.extend(r.warnings.iter().cloned());
        if r.gaps_filled > 0 {
            self.warnings.push(format!(
                "{shown}: filled {} gap(s) in {} for {path} (gaps = \"{}\")",
                r.gaps_filled,
                raw.column,
                if gaps == GapRule::Hold {
                    "hold"
                } else {
                    "interpolate"
                }
            ));
        }
        Ok(r.values)
    }
}

/// `+HH:MM`, `-HH:MM`, `+HH` or `Z` as seconds east of UTC.
fn parse_utc_offset(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("z") || s.eq_ignore_ascii_case("utc") {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?),
        None => (rest.parse::<i64>().ok()?, 0),
    };
    ((0..=14).contains(&h) && (0..60).contains(&m)).then_some(sign * (h * 3600 + m * 60))
}
