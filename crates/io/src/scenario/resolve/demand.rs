//! Demand on and off the grid's side: `[[inference]]` (token demand served by latency-eligible
//! sites) and `[[demand_response]]` (events capping a site's grid import for a while).

use super::Resolver;
use crate::error::InputError;
use crate::scenario::schema::{DemandResponseDef, InferenceDef};
use crate::series::{format_timestamp, Bounds};
use std::collections::{HashMap, HashSet};
use suandian_core::{DemandResponseEvent, InferenceDemand, Site};

impl Resolver {
    /// `[[demand_response]]`: each event's sites, times (announced at or before its start) and
    /// cap; an event outside the horizon is kept, with a warning.
    pub(super) fn resolve_demand_response(
        &mut self,
        defs: &[DemandResponseDef],
        names: &[String],
    ) -> Result<Vec<DemandResponseEvent>, InputError> {
        let start = self.grid.start.timestamp();
        let horizon_h = self.grid.horizon_h();
        let mut ids: HashMap<&str, usize> = HashMap::new();
        let mut out = Vec::with_capacity(defs.len());
        for (k, d) in defs.iter().enumerate() {
            let p = format!("demand_response[{k}]");
            if d.id.trim().is_empty() {
                return Err(self.err(&format!("{p}.id"), "an empty id", "an event id"));
            }
            if let Some(prev) = ids.insert(&d.id, k) {
                return Err(self.err(
                    &format!("{p}.id"),
                    format!("{:?}, already the id of demand_response[{prev}]", d.id),
                    "a unique event id",
                ));
            }
            let ev = format!("(event {:?})", d.id);
            let sites = match &d.sites {
                None => (0..names.len()).collect(),
                Some(list) => self.event_sites(&p, &ev, list, names)?,
            };
            let t_start = self.time(&format!("{p}.start"), &d.start)?;
            let t_end = self.time(&format!("{p}.end"), &d.end)?;
            if t_end <= t_start {
                return Err(self.err(
                    &format!("{p}.end"),
                    format!("{} {ev}", format_timestamp(t_end)),
                    format!("a time after its start, {}", format_timestamp(t_start)),
                ));
            }
            let t_announced = match &d.announced {
                None => t_start,
                Some(a) => {
                    let t = self.time(&format!("{p}.announced"), a)?;
                    if t > t_start {
                        return Err(self.err(
                            &format!("{p}.announced"),
                            format!("{} {ev}", format_timestamp(t)),
                            format!(
                                "a time at or before its start, {} (omit it for an event without notice)",
                                format_timestamp(t_start)
                            ),
                        ));
                    }
                    t
                }
            };
            if !(d.import_cap_kw.is_finite() && d.import_cap_kw >= 0.0) {
                return Err(self.err(
                    &format!("{p}.import_cap_kw"),
                    format!("{} {ev}", d.import_cap_kw),
                    "a number >= 0",
                ));
            }
            if let Some(pen) = d.penalty_per_kwh {
                if !(pen.is_finite() && pen >= 0.0) {
                    return Err(self.err(
                        &format!("{p}.penalty_per_kwh"),
                        format!("{pen} {ev}"),
                        "a number >= 0 (currency per kWh above the cap)",
                    ));
                }
            }
            let hours = |t: i64| (t - start) as f64 / 3600.0;
            let (start_h, end_h) = (hours(t_start), hours(t_end));
            if end_h <= 0.0 || start_h >= horizon_h {
                self.warnings.push(format!(
                    "{}: demand_response[{k}] (event {:?}, {} to {}) lies outside the horizon; it has no effect",
                    self.file,
                    d.id,
                    format_timestamp(t_start),
                    format_timestamp(t_end)
                ));
            }
            out.push(DemandResponseEvent {
                id: d.id.clone(),
                sites,
                start_h,
                end_h,
                announced_h: hours(t_announced),
                import_cap_kw: d.import_cap_kw,
                penalty_per_kwh: d.penalty_per_kwh,
            });
        }
        Ok(out)
    }

    /// An event's `sites`: at least one, each known, none twice; the messages name the event.
    fn event_sites(
        &self,
        p: &str,
        ev: &str,
        list: &[String],
        names: &[String],
    ) -> Result<Vec<usize>, InputError> {
        if list.is_empty() {
            return Err(self.err(
                &format!("{p}.sites"),
                format!("an empty list {ev}"),
                "at least one site, or no `sites` key for every site",
            ));
        }
        let mut v: Vec<usize> = Vec::with_capacity(list.len());
        for (i, n) in list.iter().enumerate() {
            let path = format!("{p}.sites[{i}]");
            let s = names.iter().position(|x| x == n).ok_or_else(|| {
                self.err(
                    &path,
                    format!("{n:?} {ev}, not a site of this scenario"),
                    format!("one of the sites: {}", names.join(", ")),
                )
            })?;
            if v.contains(&s) {
                return Err(self.err(&path, format!("{n:?} twice {ev}"), "each site once"));
            }
            v.push(s);
        }
        Ok(v)
    }

    /// One `[[inference]]` table at `p`: its sites (each able to serve: peak_w > idle_w), one
    /// energy per token for each, and its token-rate series.
    pub(super) fn resolve_inference(
        &mut self,
        p: &str,
        d: &InferenceDef,
        sites: &[Site],
        names: &[String],
    ) -> Result<InferenceDemand, InputError> {
        if d.sites.is_empty() {
            return Err(self.err(
                &format!("{p}.sites"),
                "an empty list",
                "at least one latency-eligible site",
            ));
        }
        let mut idx = Vec::with_capacity(d.sites.len());
        let mut seen = HashSet::new();
        for (i, n) in d.sites.iter().enumerate() {
            let s = self.site_index(&format!("{p}.sites[{i}]"), n, names)?;
            if !seen.insert(s) {
                return Err(self.err(
                    &format!("{p}.sites[{i}]"),
                    format!("{n:?} twice"),
                    "each site once",
                ));
            }
            let a = &sites[s].accelerators;
            if a.peak_w <= a.idle_w {
                return Err(self.err(
                    &format!("{p}.sites[{i}]"),
                    format!("{n:?}, whose accelerators have peak_w = idle_w"),
                    "a site with peak_w > idle_w (inference throughput is derived from it)",
                ));
            }
            idx.push(s);
        }
        if d.joules_per_token.len() != idx.len() {
            return Err(self.err(
                &format!("{p}.joules_per_token"),
                format!("{} values", d.joules_per_token.len()),
                format!("{} values, one per site in `sites`", idx.len()),
            ));
        }
        for (i, j) in d.joules_per_token.iter().enumerate() {
            self.check(
                &format!("{p}.joules_per_token[{i}]"),
                *j,
                *j > 0.0,
                "energy per token > 0 J",
            )?;
        }
        let tokens_per_s = self.series(
            &format!("{p}.tokens_per_s"),
            &d.tokens_per_s,
            Bounds {
                expected: "a token rate >= 0 per second",
                ..Bounds::NONNEG
            },
        )?;
        Ok(InferenceDemand {
            region: d.region.clone(),
            tokens_per_s,
            sites: idx,
            joules_per_token: d.joules_per_token.clone(),
        })
    }
}
