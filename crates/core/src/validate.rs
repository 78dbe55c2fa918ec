//! Invariants the simulator relies on. The readers in `suandian-io` check formats and units;
//! this is the last gate before simulation, so that a hand-built [`Scenario`] gets the same
//! clear messages as one read from a file.

use crate::limits as max;
use crate::model::*;
use std::fmt;

/// A scenario that breaks an invariant: `field` is a path such as `sites[2].battery.soc_min`.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelError {
    pub field: String,
    pub found: String,
    pub expected: String,
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: found {}, expected {}",
            self.field, self.found, self.expected
        )
    }
}

impl std::error::Error for ModelError {}

fn err(
    field: impl Into<String>,
    found: impl fmt::Display,
    expected: impl Into<String>,
) -> ModelError {
    ModelError {
        field: field.into(),
        found: found.to_string(),
        expected: expected.into(),
    }
}

/// `0 <= v <= max` ([`crate::limits`]).
fn finite_nonneg(field: &str, v: f64, max: f64) -> Result<(), ModelError> {
    if v.is_finite() && (0.0..=max).contains(&v) {
        Ok(())
    } else {
        Err(err(field, v, format!("a number from 0 to {max}")))
    }
}

/// A series of one value per slot, each `0..=max` (`nonneg`) or `-max..=max`.
fn series(
    field: &str,
    values: &[f64],
    slots: usize,
    nonneg: bool,
    max: f64,
) -> Result<(), ModelError> {
    if values.len() != slots {
        return Err(err(
            field,
            format!("{} values", values.len()),
            format!("{slots} values, one per slot"),
        ));
    }
    for (i, v) in values.iter().enumerate() {
        if !v.is_finite() || (nonneg && *v < 0.0) || v.abs() > max {
            return Err(err(
                format!("{field}[slot {i}]"),
                v,
                if nonneg {
                    format!("a number from 0 to {max}")
                } else {
                    format!("a number from -{max} to {max}")
                },
            ));
        }
    }
    Ok(())
}

impl Scenario {
    /// Check every invariant the simulator relies on.
    pub fn validate(&self) -> Result<(), ModelError> {
        let g = &self.grid;
        if !(5..=60).contains(&g.slot_minutes) || 60 % g.slot_minutes != 0 {
            return Err(err(
                "time.slot_minutes",
                g.slot_minutes,
                "5 to 60 minutes, dividing an hour (5, 10, 15, 20, 30 or 60)",
            ));
        }
        if g.slots == 0 {
            return Err(err("time.horizon", 0, "at least one slot"));
        }
        if self.sites.is_empty() {
            return Err(err("sites", "no sites", "at least one site"));
        }
        let mut names = std::collections::HashSet::new();
        for (s, site) in self.sites.iter().enumerate() {
            if !names.insert(site.name.as_str()) {
                return Err(err(
                    format!("sites[{s}].name"),
                    &site.name,
                    "a name no other site has",
                ));
            }
        }
        let mut ids = std::collections::HashSet::new();
        for (j, job) in self.jobs.iter().enumerate() {
            if !ids.insert(job.id.as_str()) {
                return Err(err(
                    format!("jobs[{j}].id"),
                    &job.id,
                    "an id no other job has",
                ));
            }
        }
        for (s, site) in self.sites.iter().enumerate() {
            self.validate_site(s, site)?;
        }
        let mut last_arrival = f64::NEG_INFINITY;
        for (j, job) in self.jobs.iter().enumerate() {
            self.validate_job(j, job, last_arrival)?;
            last_arrival = job.arrival_h;
        }
        for (r, d) in self.inference.iter().enumerate() {
            self.validate_inference(r, d)?;
        }
        let mut event_ids = std::collections::HashSet::new();
        for (k, e) in self.demand_response.iter().enumerate() {
            self.validate_event(k, e)?;
            let p = format!("demand_response[{k}] ({})", e.id);
            if !event_ids.insert(e.id.as_str()) {
                return Err(err(
                    format!("{p}.id"),
                    &e.id,
                    "an id no other demand-response event has",
                ));
            }
        }
        finite_nonneg(
            "economics.carbon_price_per_t",
            self.economics.carbon_price_per_t,
            max::CARBON_PRICE_PER_T,
        )?;
        finite_nonneg(
            "economics.value_per_million_tokens",
            self.economics.value_per_million_tokens,
            max::PRICE_PER_UNIT,
        )?;
        finite_nonneg(
            "economics.transfer_cost_per_gb",
            self.economics.transfer_cost_per_gb,
            max::PRICE_PER_UNIT,
        )?;
        finite_nonneg(
            "dispatch.trailing_window_h",
            self.dispatch.trailing_window_h,
            max::DURATION_H,
        )?;
        finite_nonneg(
            "dispatch.migration_hours",
            self.dispatch.migration_h,
            max::DURATION_H,
        )?;
        finite_nonneg(
            "dispatch.restart_hours",
            self.dispatch.restart_h,
            max::DURATION_H,
        )?;
        Ok(())
    }

    /// One site: its accelerators, PUE, grid connection and signals, green plants, battery and
    /// thermal backup, each checked in its own step.
    fn validate_site(&self, s: usize, site: &Site) -> Result<(), ModelError> {
        let p = format!("sites[{s}] ({})", site.name);
        self.validate_accelerators(&p, site)?;
        self.validate_pue(&p, site)?;
        self.validate_grid(&p, site)?;
        self.validate_supply(&p, site)?;
        Ok(())
    }

    /// A site's accelerators: count, servers, power range, power levels, speed curve.
    fn validate_accelerators(&self, p: &str, site: &Site) -> Result<(), ModelError> {
        let a = &site.accelerators;
        if a.count == 0 {
            return Err(err(format!("{p}.accelerators.count"), 0, "at least 1"));
        }
        if a.per_server == 0 {
            return Err(err(format!("{p}.accelerators.per_server"), 0, "at least 1"));
        }
        finite_nonneg(&format!("{p}.accelerators.idle_w"), a.idle_w, max::DEVICE_W)?;
        if !(a.peak_w <= max::DEVICE_W && a.peak_w >= a.idle_w) {
            return Err(err(
                format!("{p}.accelerators.peak_w"),
                a.peak_w,
                format!("a number >= idle_w ({})", a.idle_w),
            ));
        }
        finite_nonneg(
            &format!("{p}.accelerators.other_it_w_per_server"),
            a.other_it_w_per_server,
            max::DEVICE_W,
        )?;
        if !(a.min_power_level > 0.0 && a.min_power_level <= 1.0) {
            return Err(err(
                format!("{p}.accelerators.min_power_level"),
                a.min_power_level,
                "a fraction in (0, 1]",
            ));
        }
        if !(a.throughput_exponent > 0.0 && a.throughput_exponent <= max::THROUGHPUT_EXPONENT) {
            return Err(err(
                format!("{p}.accelerators.throughput_exponent"),
                a.throughput_exponent,
                "a number > 0",
            ));
        }
        Ok(())
    }

    /// A site's PUE model.
    fn validate_pue(&self, p: &str, site: &Site) -> Result<(), ModelError> {
        let n = self.grid.slots;
        match &site.pue {
            Pue::Constant { value } => {
                if !(*value >= 1.0 && *value <= max::PUE) {
                    return Err(err(
                        format!("{p}.pue"),
                        value,
                        format!("a number from 1.0 to {}", max::PUE),
                    ));
                }
            }
            Pue::Temperature {
                base,
                max,
                per_degree,
                temperature_c,
                ..
            } => {
                if !(*base >= 1.0 && *max >= *base && *max <= max::PUE) {
                    return Err(err(
                        format!("{p}.pue.base/max"),
                        format!("base {base}, max {max}"),
                        "1.0 <= base <= max",
                    ));
                }
                finite_nonneg(
                    &format!("{p}.pue.per_degree"),
                    *per_degree,
                    max::PUE_PER_DEGREE,
                )?;
                series(
                    &format!("{p}.pue.temperature"),
                    temperature_c,
                    n,
                    false,
                    max::TEMPERATURE_C,
                )?;
            }
        }
        Ok(())
    }

    /// A site's grid connection and its series (carbon, prices, certificates).
    fn validate_grid(&self, p: &str, site: &Site) -> Result<(), ModelError> {
        let n = self.grid.slots;
        let gr = &site.grid;
        finite_nonneg(
            &format!("{p}.grid.import_limit_kw"),
            gr.import_limit_kw,
            max::POWER_KW,
        )?;
        finite_nonneg(
            &format!("{p}.grid.export_limit_kw"),
            gr.export_limit_kw,
            max::POWER_KW,
        )?;
        finite_nonneg(
            &format!("{p}.grid.green_certificates_kwh"),
            gr.green_certificates_kwh,
            max::ENERGY_KWH,
        )?;
        series(
            &format!("{p}.grid.feed_in_price_per_mwh"),
            &gr.feed_in_price_per_mwh,
            n,
            false,
            max::PRICE_PER_MWH,
        )?;
        match gr.residual_mix_g_co2_per_kwh {
            Some(r) => finite_nonneg(
                &format!("{p}.grid.residual_mix_g_co2_per_kwh"),
                r,
                max::CARBON_G_PER_KWH,
            )?,
            // Market-based carbon with certificates priced at the grid average would count
            // the certificates' green attributes twice (they are in the average already).
            None if gr.green_certificates_kwh > 0.0 => {
                return Err(err(
                    format!("{p}.grid.residual_mix_g_co2_per_kwh"),
                    format!(
                        "no residual mix, with {} kWh of green certificates",
                        gr.green_certificates_kwh
                    ),
                    "the region's residual mix in g CO2/kWh wherever certificates are held \
                     (for China: 585.6, the MEE/NBS 2022 national average excluding \
                     market-traded non-fossil electricity)",
                ))
            }
            None => {}
        }
        series(
            &format!("{p}.grid.price"),
            &gr.price_per_mwh,
            n,
            false,
            max::PRICE_PER_MWH,
        )?;
        series(
            &format!("{p}.grid.carbon"),
            &gr.carbon_g_per_kwh,
            n,
            true,
            max::CARBON_G_PER_KWH,
        )?;
        Ok(())
    }

    /// A site's own supply: green plants, battery, thermal backup.
    fn validate_supply(&self, p: &str, site: &Site) -> Result<(), ModelError> {
        let n = self.grid.slots;
        for (k, plant) in site.green.iter().enumerate() {
            let q = format!("{p}.green[{k}] ({})", plant.name);
            finite_nonneg(
                &format!("{q}.capacity_kw"),
                plant.capacity_kw,
                max::POWER_KW,
            )?;
            series(
                &format!("{q}.capacity_factor"),
                &plant.capacity_factor,
                n,
                true,
                // Above 1 is reported below, with its own message.
                f64::MAX,
            )?;
            if let Some((i, v)) = plant
                .capacity_factor
                .iter()
                .enumerate()
                .find(|(_, v)| **v > 1.0 + 1e-9)
            {
                return Err(err(
                    format!("{q}.capacity_factor[slot {i}]"),
                    v,
                    "a fraction 0..=1 of capacity",
                ));
            }
        }
        if let Some(b) = &site.battery {
            let q = format!("{p}.battery");
            finite_nonneg(
                &format!("{q}.capacity_kwh"),
                b.capacity_kwh,
                max::ENERGY_KWH,
            )?;
            finite_nonneg(&format!("{q}.power_kw"), b.power_kw, max::POWER_KW)?;
            if !(b.round_trip_efficiency > 0.0 && b.round_trip_efficiency <= 1.0) {
                return Err(err(
                    format!("{q}.round_trip_efficiency"),
                    b.round_trip_efficiency,
                    "a fraction in (0, 1]",
                ));
            }
            if !(0.0 <= b.soc_min && b.soc_min <= b.soc_max && b.soc_max <= 1.0) {
                return Err(err(
                    format!("{q}.soc_min/soc_max"),
                    format!("{}..{}", b.soc_min, b.soc_max),
                    "0 <= soc_min <= soc_max <= 1",
                ));
            }
            match b.wear_cost_per_kwh {
                Some(w) => {
                    finite_nonneg(&format!("{q}.wear_cost_per_kwh"), w, max::PRICE_PER_UNIT)?
                }
                None if crate::model::default_battery_wear_cost_per_kwh(
                    &self.economics.currency,
                )
                .is_none() =>
                {
                    return Err(err(
                        format!("{q}.wear_cost_per_kwh"),
                        "nothing",
                        format!(
                            "the battery's wear cost per kWh it delivers, in {} (there is a default only for USD, CNY, EUR, AUD and GBP)",
                            self.economics.currency
                        ),
                    ));
                }
                None => {}
            }
            if !(b.soc_min <= b.soc_initial && b.soc_initial <= b.soc_max) {
                return Err(err(
                    format!("{q}.soc_initial"),
                    b.soc_initial,
                    format!(
                        "a fraction between soc_min ({}) and soc_max ({})",
                        b.soc_min, b.soc_max
                    ),
                ));
            }
        }
        if let Some(t) = &site.thermal {
            finite_nonneg(
                &format!("{p}.thermal.capacity_kw"),
                t.capacity_kw,
                max::POWER_KW,
            )?;
            finite_nonneg(
                &format!("{p}.thermal.cost_per_kwh"),
                t.cost_per_kwh,
                max::PRICE_PER_UNIT,
            )?;
            finite_nonneg(
                &format!("{p}.thermal.g_co2_per_kwh"),
                t.g_co2_per_kwh,
                max::CARBON_G_PER_KWH,
            )?;
        }
        Ok(())
    }

    /// One inference region: its demand series and latency-eligible sites.
    fn validate_inference(&self, r: usize, d: &InferenceDemand) -> Result<(), ModelError> {
        let n = self.grid.slots;
        let p = format!("inference[{r}] ({})", d.region);
        series(
            &format!("{p}.tokens_per_s"),
            &d.tokens_per_s,
            n,
            true,
            max::TOKENS_PER_S,
        )?;
        if d.sites.is_empty() {
            return Err(err(
                format!("{p}.sites"),
                "none",
                "at least one latency-eligible site",
            ));
        }
        if d.sites.len() != d.joules_per_token.len() {
            return Err(err(
                format!("{p}.joules_per_token"),
                format!("{} values", d.joules_per_token.len()),
                format!("{} values, one per eligible site", d.sites.len()),
            ));
        }
        for (k, s) in d.sites.iter().enumerate() {
            if *s >= self.sites.len() {
                return Err(err(
                    format!("{p}.sites[{k}]"),
                    s,
                    format!("a site index below {}", self.sites.len()),
                ));
            }
            let jpt = d.joules_per_token[k];
            if !(jpt > 0.0 && jpt <= max::JOULES_PER_TOKEN) {
                return Err(err(
                    format!("{p}.joules_per_token[{k}]"),
                    jpt,
                    format!(
                        "energy per token > 0 and at most {} J",
                        max::JOULES_PER_TOKEN
                    ),
                ));
            }
            if self.sites[*s].accelerators.peak_w <= self.sites[*s].accelerators.idle_w {
                return Err(err(format!("{p}.sites[{k}]"), &self.sites[*s].name, "a site whose accelerators have peak_w > idle_w (inference throughput is derived from it)"));
            }
        }
        Ok(())
    }

    /// The invariants of one job: `j` is its position (for messages), `last_arrival` the
    /// arrival of the job before it (jobs come sorted by arrival). The engine applies it to
    /// every job submitted while it runs.
    pub fn validate_job(&self, j: usize, job: &Job, last_arrival: f64) -> Result<(), ModelError> {
        let p = format!("jobs[{j}] ({})", job.id);
        if !(job.arrival_h.is_finite() && (0.0..=max::TIME_H).contains(&job.arrival_h)) {
            return Err(err(
                format!("{p}.arrival"),
                job.arrival_h,
                format!(
                    "a time at or after the scenario start, at most {} hours after it",
                    max::TIME_H
                ),
            ));
        }
        if job.arrival_h < last_arrival {
            return Err(err(
                format!("{p}.arrival"),
                job.arrival_h,
                format!("jobs sorted by arrival (previous job arrives at {last_arrival} h)"),
            ));
        }
        if !(job.runtime_h > 0.0 && job.runtime_h <= max::RUNTIME_H) {
            return Err(err(
                format!("{p}.runtime_h"),
                job.runtime_h,
                format!("a run time > 0 and at most {} hours", max::RUNTIME_H),
            ));
        }
        if job.accelerators == 0 {
            return Err(err(format!("{p}.accelerators"), 0, "at least 1"));
        }
        if job.allowed_sites.is_empty() {
            return Err(err(
                format!("{p}.allowed_sites"),
                "none",
                "at least one site",
            ));
        }
        if let Some((k, s)) = job
            .allowed_sites
            .iter()
            .enumerate()
            .find(|(k, s)| job.allowed_sites[..*k].contains(s))
        {
            return Err(err(
                format!("{p}.allowed_sites[{k}]"),
                format!("site {s} a second time"),
                "each site once",
            ));
        }
        if let Some(s) = job.allowed_sites.iter().find(|s| **s >= self.sites.len()) {
            return Err(err(
                format!("{p}.allowed_sites"),
                s,
                format!("a site index below {}", self.sites.len()),
            ));
        }
        if !job.allowed(job.home_site) {
            return Err(err(
                format!("{p}.home_site"),
                job.home_site,
                "one of the job's allowed sites",
            ));
        }
        let biggest = job
            .allowed_sites
            .iter()
            .map(|s| self.sites[*s].accelerators.count)
            .max()
            .unwrap_or(0);
        if job.accelerators > biggest {
            return Err(err(
                format!("{p}.accelerators"),
                job.accelerators,
                format!("at most {biggest}, the most accelerators any allowed site has (the job can never fit)"),
            ));
        }
        finite_nonneg(
            &format!("{p}.checkpoint_gb"),
            job.checkpoint_gb,
            max::CHECKPOINT_GB,
        )?;
        if let Some(k) = job
            .flex_tier
            .filter(|&k| usize::from(k) >= crate::model::FLEX_SLOWDOWN.len())
        {
            return Err(err(
                format!("{p}.flex_tier"),
                k,
                "a flexibility tier 0, 1, 2 or 3 (0 %, 10 %, 25 %, 50 % slowdown tolerated under an event)",
            ));
        }
        if job.deadline_h < job.arrival_h + job.runtime_h - 1e-9 {
            return Err(err(
                format!("{p}.deadline"),
                job.deadline_h,
                format!(
                    "at least arrival + runtime = {} h (the job can never meet it)",
                    job.arrival_h + job.runtime_h
                ),
            ));
        }
        Ok(())
    }

    /// The invariants of one demand-response event (`k`: its position, for messages); the
    /// engine applies it to every event announced while it runs.
    pub fn validate_event(&self, k: usize, e: &DemandResponseEvent) -> Result<(), ModelError> {
        let p = format!("demand_response[{k}] ({})", e.id);
        if e.id.trim().is_empty() {
            return Err(err(format!("{p}.id"), "an empty id", "an event id"));
        }
        if e.sites.is_empty() {
            return Err(err(format!("{p}.sites"), "none", "at least one site"));
        }
        for (i, s) in e.sites.iter().enumerate() {
            if *s >= self.sites.len() {
                return Err(err(
                    format!("{p}.sites[{i}]"),
                    s,
                    format!("a site index below {}", self.sites.len()),
                ));
            }
            if e.sites[..i].contains(s) {
                return Err(err(
                    format!("{p}.sites[{i}]"),
                    format!("{} twice", self.sites[*s].name),
                    "each site once",
                ));
            }
        }
        for (name, v) in [
            ("start", e.start_h),
            ("end", e.end_h),
            ("announced", e.announced_h),
        ] {
            if !(v.is_finite() && v.abs() <= max::TIME_H) {
                return Err(err(
                    format!("{p}.{name}"),
                    v,
                    format!("a time in hours from -{0} to {0}", max::TIME_H),
                ));
            }
        }
        if e.end_h <= e.start_h {
            return Err(err(
                format!("{p}.end"),
                format!("{} h", e.end_h),
                format!("a time after the start ({} h)", e.start_h),
            ));
        }
        if e.announced_h > e.start_h {
            return Err(err(
                format!("{p}.announced"),
                format!("{} h", e.announced_h),
                format!("a time at or before the start ({} h)", e.start_h),
            ));
        }
        finite_nonneg(
            &format!("{p}.import_cap_kw"),
            e.import_cap_kw,
            max::POWER_KW,
        )?;
        Ok(())
    }
}
