//! Resolution: the typed file → a [`Scenario`]. Series are read and resampled onto the grid,
//! names turned into indices, and every value range-checked with the line it came from; the
//! scenario's own [`Scenario::validate`] is the last gate.
//!
//! This file holds the resolver, its checks and the file-wide tables (time, simulation,
//! economics, dispatch); the parts with more to them have their own files: `series` (a
//! `<series>` value), `sites`, `jobs` (`[work]`: job tables and traces) and `demand`
//! (inference demand and demand-response events).

mod demand;
mod jobs;
mod series;
mod sites;

use super::schema::{
    BasisDef, DispatchDef, EconDef, FileDef, ForecastName, SimDef, SiteDef, TimeDef,
};
use super::{LoadedScenario, Locator, SimulationDefaults};
use crate::error::InputError;
use crate::series::{format_timestamp, parse_timestamp, GapRule};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use suandian_core::forecast::ForecastKind;
use suandian_core::{CarbonBasis, DispatchRule, Economics, Scenario, Site, TimeGrid};

/// The state of one reading: where messages point (the file, its lines), the grid once
/// `[time]` is read, and what the reading gathers besides the scenario.
pub(super) struct Resolver {
    file: String,
    base_dir: PathBuf,
    loc: Locator,
    grid: TimeGrid,
    gaps: GapRule,
    warnings: Vec<String>,
    /// Files read so far (series, traces).
    inputs: Vec<PathBuf>,
}

fn describe(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("the string {s:?}"),
        toml::Value::Integer(i) => format!("the integer {i}"),
        toml::Value::Float(f) => format!("the number {f}"),
        toml::Value::Boolean(b) => format!("the boolean {b}"),
        toml::Value::Datetime(d) => format!("the date-time {d}"),
        toml::Value::Array(_) => "an array".into(),
        toml::Value::Table(_) => "a table".into(),
    }
}

impl Resolver {
    /// A resolver for the file `file` (its relative paths against `base_dir`); the grid is a
    /// placeholder until `[time]` is read.
    pub(super) fn new(file: &str, base_dir: &Path, loc: Locator) -> Self {
        Resolver {
            file: file.to_string(),
            base_dir: base_dir.to_path_buf(),
            loc,
            grid: TimeGrid {
                start: chrono::DateTime::UNIX_EPOCH,
                slot_minutes: 60,
                slots: 0,
            },
            gaps: GapRule::Error,
            warnings: Vec::new(),
            inputs: Vec::new(),
        }
    }

    fn err(
        &self,
        path: &str,
        found: impl std::fmt::Display,
        expected: impl Into<String>,
    ) -> InputError {
        InputError::value(&self.file, self.loc.line(path), path, found, expected)
    }

    fn check(&self, path: &str, v: f64, ok: bool, expected: &str) -> Result<(), InputError> {
        if ok && v.is_finite() {
            Ok(())
        } else {
            Err(self.err(path, v, expected))
        }
    }
    fn nonneg(&self, path: &str, v: f64) -> Result<(), InputError> {
        self.check(path, v, v >= 0.0, "a number >= 0")
    }
    fn fraction(&self, path: &str, v: f64) -> Result<(), InputError> {
        self.check(path, v, (0.0..=1.0).contains(&v), "a fraction 0..=1")
    }

    /// Deserialize a sub-table given as a `toml::Value` (unknown keys are errors here too).
    fn typed<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        v: &toml::Value,
    ) -> Result<T, InputError> {
        v.clone().try_into::<T>().map_err(|e| {
            let msg = e.message().trim().to_string();
            let msg = match msg.strip_prefix("missing field ") {
                Some(f) => format!("missing key {f}"),
                None => msg,
            };
            InputError::syntax(
                &self.file,
                self.loc.line(path),
                None,
                format!("{path}: {msg}"),
            )
        })
    }

    fn time(&self, path: &str, v: &toml::Value) -> Result<i64, InputError> {
        let s = match v {
            toml::Value::String(s) => s.clone(),
            toml::Value::Datetime(d) => d.to_string(),
            other => {
                return Err(self.err(
                    path,
                    describe(other),
                    "an RFC 3339 time like \"2022-06-01T00:00:00Z\"",
                ))
            }
        };
        parse_timestamp(&s).ok_or_else(|| {
            self.err(
                path,
                format!("{s:?}"),
                "an RFC 3339 time like \"2022-06-01T00:00:00Z\" (no offset: UTC)",
            )
        })
    }

    /// The whole file, table by table in a fixed order (the order decides which of several
    /// mistakes is reported), then the scenario's own validation.
    pub(super) fn resolve(&mut self, def: FileDef) -> Result<LoadedScenario, InputError> {
        if def.name.trim().is_empty() {
            return Err(self.err("name", "an empty name", "a scenario name"));
        }
        self.resolve_time(&def.time)?;
        let simulation = self.resolve_simulation(&def.simulation)?;
        self.gaps = def.simulation.gaps;
        let economics = self.resolve_economics(&def.economics)?;
        let dispatch = self.resolve_dispatch(&def.dispatch)?;
        let sites = self.resolve_sites(&def.sites)?;
        let site_names: Vec<String> = def.sites.iter().map(|s| s.name.clone()).collect();
        let jobs = self.resolve_work(
            &def.work,
            &sites,
            &site_names,
            def.dispatch.checkpoint_gb_per_accelerator,
        )?;
        let mut inference = Vec::with_capacity(def.inference.len());
        for (i, d) in def.inference.iter().enumerate() {
            inference.push(self.resolve_inference(
                &format!("inference[{i}]"),
                d,
                &sites,
                &site_names,
            )?);
        }
        let demand_response = self.resolve_demand_response(&def.demand_response, &site_names)?;
        let scenario = Scenario {
            name: def.name,
            grid: self.grid.clone(),
            sites,
            jobs,
            inference,
            economics,
            dispatch,
            demand_response,
        };
        scenario.validate().map_err(|source| InputError::Model {
            file: self.file.clone(),
            source,
        })?;
        Ok(LoadedScenario {
            scenario,
            simulation,
            warnings: std::mem::take(&mut self.warnings),
            source: self.file.clone(),
            inputs: std::mem::take(&mut self.inputs),
        })
    }

    /// `[[sites]]`: at least one, each named, no name twice.
    fn resolve_sites(&mut self, defs: &[SiteDef]) -> Result<Vec<Site>, InputError> {
        if defs.is_empty() {
            return Err(self.err("sites", "no [[sites]]", "at least one site"));
        }
        let mut sites = Vec::with_capacity(defs.len());
        let mut names: HashMap<String, usize> = HashMap::new();
        for (i, s) in defs.iter().enumerate() {
            let p = format!("sites[{i}]");
            if s.name.trim().is_empty() {
                return Err(self.err(&format!("{p}.name"), "an empty name", "a site name"));
            }
            if let Some(j) = names.insert(s.name.clone(), i) {
                return Err(self.err(
                    &format!("{p}.name"),
                    format!("{:?}, already the name of sites[{j}]", s.name),
                    "a unique site name",
                ));
            }
            sites.push(self.resolve_site(&p, s)?);
        }
        Ok(sites)
    }

    fn resolve_time(&mut self, t: &TimeDef) -> Result<(), InputError> {
        let start = self.time("time.start", &t.start)?;
        if start % 60 != 0 {
            return Err(self.err(
                "time.start",
                format_timestamp(start),
                "a start on a whole minute",
            ));
        }
        let m = t.slot_minutes;
        if !(5..=60).contains(&m) || 60 % m != 0 {
            return Err(self.err(
                "time.slot_minutes",
                m,
                "5 to 60 minutes, dividing an hour (5, 6, 10, 12, 15, 20, 30 or 60)",
            ));
        }
        let horizon_min = match (&t.horizon_hours, &t.end) {
            (Some(h), None) => {
                if !(h.is_finite() && *h > 0.0) {
                    return Err(self.err("time.horizon_hours", h, "a number of hours > 0"));
                }
                let mins = h * 60.0;
                if (mins - mins.round()).abs() > 1e-6 || mins.round() as i64 % m != 0 {
                    return Err(self.err(
                        "time.horizon_hours",
                        h,
                        format!("a whole number of {m}-minute slots"),
                    ));
                }
                mins.round() as i64
            }
            (None, Some(e)) => {
                let end = self.time("time.end", e)?;
                if end <= start {
                    return Err(self.err(
                        "time.end",
                        format_timestamp(end),
                        format!("a time after time.start ({})", format_timestamp(start)),
                    ));
                }
                if (end - start) % (m * 60) != 0 {
                    return Err(self.err(
                        "time.end",
                        format_timestamp(end),
                        format!("a whole number of {m}-minute slots after time.start"),
                    ));
                }
                (end - start) / 60
            }
            (Some(_), Some(_)) => {
                return Err(self.err(
                    "time.end",
                    "both horizon_hours and end",
                    "one of horizon_hours or end",
                ))
            }
            (None, None) => {
                return Err(self.err(
                    "time",
                    "neither horizon_hours nor end",
                    "horizon_hours = <hours> or end = <time>",
                ))
            }
        };
        let slots = (horizon_min / m) as usize;
        const MAX_SLOTS: usize = 2_000_000;
        if slots > MAX_SLOTS {
            return Err(self.err(
                "time",
                format!("{slots} slots"),
                format!("at most {MAX_SLOTS} slots"),
            ));
        }
        self.grid = TimeGrid {
            start: chrono::DateTime::from_timestamp(start, 0)
                .ok_or_else(|| self.err("time.start", start, "a representable time"))?,
            slot_minutes: m as u32,
            slots,
        };
        Ok(())
    }

    fn resolve_simulation(&mut self, s: &SimDef) -> Result<SimulationDefaults, InputError> {
        let forecast = match s.forecast {
            ForecastName::Perfect => ForecastKind::Perfect,
            ForecastName::Persistence => ForecastKind::Persistence,
            ForecastName::Noisy => {
                let e = s.forecast_error.unwrap_or(0.1);
                self.check(
                    "simulation.forecast_error",
                    e,
                    e >= 0.0,
                    "a relative error >= 0 (0.15 = 15 %)",
                )?;
                ForecastKind::Noisy {
                    relative_error: e,
                    seed: s.seed.unwrap_or(0),
                }
            }
        };
        if s.forecast != ForecastName::Noisy && (s.forecast_error.is_some() || s.seed.is_some()) {
            self.warnings.push(format!(
                "{}: simulation.forecast_error and simulation.seed apply only to forecast = \"noisy\"; ignored",
                self.file
            ));
        }
        let policies = match &s.policies {
            None => SimulationDefaults::default().policies,
            Some(ps) => {
                if ps.is_empty() {
                    return Err(self.err(
                        "simulation.policies",
                        "an empty list",
                        "at least one policy",
                    ));
                }
                let known: Vec<&str> = suandian_core::policy::names().collect();
                for (i, p) in ps.iter().enumerate() {
                    if !known.contains(&p.as_str()) {
                        return Err(self.err(
                            &format!("simulation.policies[{i}]"),
                            format!("{p:?}"),
                            format!("one of {}", known.join(", ")),
                        ));
                    }
                }
                ps.clone()
            }
        };
        Ok(SimulationDefaults { forecast, policies })
    }

    fn resolve_economics(&self, e: &EconDef) -> Result<Economics, InputError> {
        self.nonneg("economics.carbon_price_per_t", e.carbon_price_per_t)?;
        self.nonneg(
            "economics.value_per_million_tokens",
            e.value_per_million_tokens,
        )?;
        self.nonneg("economics.transfer_cost_per_gb", e.transfer_cost_per_gb)?;
        if let Some(p) = e.over_limit_per_kwh {
            self.nonneg("economics.over_limit_per_kwh", p)?;
        }
        if e.currency.trim().is_empty() {
            return Err(self.err(
                "economics.currency",
                "an empty string",
                "a currency code such as USD",
            ));
        }
        Ok(Economics {
            currency: e.currency.clone(),
            carbon_price_per_t: e.carbon_price_per_t,
            carbon_price_basis: match e.carbon_price_basis {
                BasisDef::Location => CarbonBasis::Location,
                BasisDef::Market => CarbonBasis::Market,
            },
            value_per_million_tokens: e.value_per_million_tokens,
            transfer_cost_per_gb: e.transfer_cost_per_gb,
            over_limit_per_kwh: e.over_limit_per_kwh,
        })
    }

    /// `[dispatch]`. Its `checkpoint_gb_per_accelerator` is checked here and applied by the
    /// jobs (their default `checkpoint_gb`).
    fn resolve_dispatch(&self, d: &DispatchDef) -> Result<DispatchRule, InputError> {
        self.nonneg("dispatch.trailing_window_h", d.trailing_window_h)?;
        self.nonneg("dispatch.migration_hours", d.migration_hours)?;
        self.nonneg("dispatch.restart_hours", d.restart_hours)?;
        self.nonneg(
            "dispatch.checkpoint_gb_per_accelerator",
            d.checkpoint_gb_per_accelerator,
        )?;
        Ok(DispatchRule {
            trailing_window_h: d.trailing_window_h,
            migration_h: d.migration_hours,
            restart_h: d.restart_hours,
        })
    }
}
