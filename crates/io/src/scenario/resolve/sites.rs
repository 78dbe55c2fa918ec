//! `[[sites]]`: a site's accelerators, PUE, grid connection, green plants, battery and thermal
//! plant, each checked with its path; and site names → indices for the tables that name sites.

use super::{describe, Resolver};
use crate::error::InputError;
use crate::scenario::schema::{
    AccDef, BatteryDef, GreenDef, GreenKindDef, GridDef, PueTableDef, SiteDef, ThermalDef,
};
use crate::series::Bounds;
use suandian_core::{
    Accelerators, Battery, GreenKind, GreenPlant, GridConnection, Pue, Site, Thermal,
};

impl Resolver {
    /// The site at `p` (`sites[i]`), its parts in the order of the file's documentation.
    pub(super) fn resolve_site(&mut self, p: &str, s: &SiteDef) -> Result<Site, InputError> {
        self.check(
            &format!("{p}.latitude"),
            s.latitude,
            s.latitude.abs() <= 90.0,
            "degrees -90..=90",
        )?;
        self.check(
            &format!("{p}.longitude"),
            s.longitude,
            s.longitude.abs() <= 180.0,
            "degrees -180..=180",
        )?;
        let accelerators = self.accelerators(&format!("{p}.accelerators"), &s.accelerators)?;
        let pue = self.pue(&format!("{p}.pue"), &s.pue)?;
        let grid = self.grid_connection(&format!("{p}.grid"), &s.grid)?;
        let mut green = Vec::with_capacity(s.green.len());
        for (k, gd) in s.green.iter().enumerate() {
            green.push(self.green_plant(&format!("{p}.green[{k}]"), gd)?);
        }
        let battery = match &s.battery {
            None => None,
            Some(b) => Some(self.battery(&format!("{p}.battery"), b)?),
        };
        let thermal = match &s.thermal {
            None => None,
            Some(t) => Some(self.thermal(&format!("{p}.thermal"), t)?),
        };
        Ok(Site {
            name: s.name.clone(),
            region: s.region.clone(),
            latitude: s.latitude,
            longitude: s.longitude,
            accelerators,
            pue,
            grid,
            green,
            battery,
            thermal,
        })
    }

    fn accelerators(&self, ap: &str, a: &AccDef) -> Result<Accelerators, InputError> {
        let most = suandian_core::limits::ACCELERATORS;
        if !(1..=i64::from(most)).contains(&a.count) {
            return Err(self.err(
                &format!("{ap}.count"),
                a.count,
                format!("a whole number from 1 to {most}"),
            ));
        }
        if a.per_server == 0 {
            return Err(self.err(&format!("{ap}.per_server"), 0, "a whole number >= 1"));
        }
        self.nonneg(&format!("{ap}.idle_w"), a.idle_w)?;
        self.check(
            &format!("{ap}.peak_w"),
            a.peak_w,
            a.peak_w >= a.idle_w,
            &format!("watts >= idle_w ({})", a.idle_w),
        )?;
        self.nonneg(
            &format!("{ap}.other_it_w_per_server"),
            a.other_it_w_per_server,
        )?;
        self.check(
            &format!("{ap}.min_power_level"),
            a.min_power_level,
            a.min_power_level > 0.0 && a.min_power_level <= 1.0,
            "a fraction in (0, 1]",
        )?;
        self.check(
            &format!("{ap}.throughput_exponent"),
            a.throughput_exponent,
            a.throughput_exponent > 0.0,
            "a number > 0",
        )?;
        Ok(Accelerators {
            count: a.count as u32,
            model: a.model.clone(),
            idle_w: a.idle_w,
            peak_w: a.peak_w,
            per_server: a.per_server,
            other_it_w_per_server: a.other_it_w_per_server,
            min_power_level: a.min_power_level,
            throughput_exponent: a.throughput_exponent,
        })
    }

    /// A constant PUE, or one that rises with the temperature above a threshold.
    fn pue(&mut self, pp: &str, v: &toml::Value) -> Result<Pue, InputError> {
        Ok(match v {
            toml::Value::Integer(_) | toml::Value::Float(_) => {
                let c = v
                    .as_float()
                    .unwrap_or_else(|| v.as_integer().unwrap_or(0) as f64);
                self.check(pp, c, c >= 1.0, "a PUE >= 1.0")?;
                Pue::Constant { value: c }
            }
            toml::Value::Table(_) => {
                let t: PueTableDef = self.typed(pp, v)?;
                self.check(&format!("{pp}.base"), t.base, t.base >= 1.0, "a PUE >= 1.0")?;
                self.check(
                    &format!("{pp}.max"),
                    t.max,
                    t.max >= t.base,
                    &format!("a PUE >= base ({})", t.base),
                )?;
                self.nonneg(&format!("{pp}.per_degree"), t.per_degree)?;
                self.check(
                    &format!("{pp}.threshold_c"),
                    t.threshold_c,
                    true,
                    "a temperature in °C",
                )?;
                let temperature_c =
                    self.series(&format!("{pp}.temperature"), &t.temperature, Bounds::ANY)?;
                Pue::Temperature {
                    base: t.base,
                    threshold_c: t.threshold_c,
                    per_degree: t.per_degree,
                    max: t.max,
                    temperature_c,
                }
            }
            other => {
                return Err(self.err(
                    pp,
                    describe(other),
                    "a number >= 1.0 or { base, threshold_c, per_degree, max, temperature }",
                ))
            }
        })
    }

    fn grid_connection(&mut self, gp: &str, g: &GridDef) -> Result<GridConnection, InputError> {
        self.nonneg(&format!("{gp}.import_limit_kw"), g.import_limit_kw)?;
        self.nonneg(&format!("{gp}.export_limit_kw"), g.export_limit_kw)?;
        self.nonneg(
            &format!("{gp}.green_certificates_kwh"),
            g.green_certificates_kwh,
        )?;
        if let Some(r) = g.residual_mix_g_co2_per_kwh {
            self.nonneg(&format!("{gp}.residual_mix_g_co2_per_kwh"), r)?;
        }
        let price_per_mwh = self.series(&format!("{gp}.price"), &g.price, Bounds::ANY)?;
        let feed_in_price_per_mwh = match &g.feed_in_price_per_mwh {
            Some(v) => self.series(&format!("{gp}.feed_in_price_per_mwh"), v, Bounds::ANY)?,
            None => vec![0.0; self.grid.slots],
        };
        let carbon_g_per_kwh = self.series(
            &format!("{gp}.carbon"),
            &g.carbon,
            Bounds {
                expected: "a carbon intensity >= 0 g/kWh",
                ..Bounds::NONNEG
            },
        )?;
        Ok(GridConnection {
            import_limit_kw: g.import_limit_kw,
            export_limit_kw: g.export_limit_kw,
            feed_in_price_per_mwh,
            price_per_mwh,
            carbon_g_per_kwh,
            residual_mix_g_co2_per_kwh: g.residual_mix_g_co2_per_kwh,
            green_certificates_kwh: g.green_certificates_kwh,
        })
    }

    fn green_plant(&mut self, q: &str, gd: &GreenDef) -> Result<GreenPlant, InputError> {
        self.nonneg(&format!("{q}.capacity_kw"), gd.capacity_kw)?;
        let capacity_factor = self.series(
            &format!("{q}.capacity_factor"),
            &gd.capacity_factor,
            Bounds {
                expected: "a capacity factor 0..=1 (output per kW of capacity)",
                ..Bounds::FRACTION
            },
        )?;
        Ok(GreenPlant {
            name: gd.name.clone(),
            kind: match gd.kind {
                GreenKindDef::Solar => GreenKind::Solar,
                GreenKindDef::Wind => GreenKind::Wind,
                GreenKindDef::Other => GreenKind::Other,
            },
            capacity_kw: gd.capacity_kw,
            capacity_factor,
        })
    }

    fn battery(&self, q: &str, b: &BatteryDef) -> Result<Battery, InputError> {
        self.nonneg(&format!("{q}.capacity_kwh"), b.capacity_kwh)?;
        self.nonneg(&format!("{q}.power_kw"), b.power_kw)?;
        self.check(
            &format!("{q}.round_trip_efficiency"),
            b.round_trip_efficiency,
            b.round_trip_efficiency > 0.0 && b.round_trip_efficiency <= 1.0,
            "a fraction in (0, 1]",
        )?;
        self.fraction(&format!("{q}.soc_min"), b.soc_min)?;
        self.fraction(&format!("{q}.soc_max"), b.soc_max)?;
        self.check(
            &format!("{q}.soc_max"),
            b.soc_max,
            b.soc_max >= b.soc_min,
            &format!("a fraction >= soc_min ({})", b.soc_min),
        )?;
        self.check(
            &format!("{q}.soc_initial"),
            b.soc_initial,
            b.soc_initial >= b.soc_min && b.soc_initial <= b.soc_max,
            &format!(
                "a fraction between soc_min ({}) and soc_max ({})",
                b.soc_min, b.soc_max
            ),
        )?;
        Ok(Battery {
            capacity_kwh: b.capacity_kwh,
            power_kw: b.power_kw,
            round_trip_efficiency: b.round_trip_efficiency,
            soc_min: b.soc_min,
            soc_max: b.soc_max,
            soc_initial: b.soc_initial,
            wear_cost_per_kwh: b.wear_cost_per_kwh,
        })
    }

    fn thermal(&self, q: &str, t: &ThermalDef) -> Result<Thermal, InputError> {
        self.nonneg(&format!("{q}.capacity_kw"), t.capacity_kw)?;
        self.nonneg(&format!("{q}.cost_per_kwh"), t.cost_per_kwh)?;
        self.nonneg(&format!("{q}.g_co2_per_kwh"), t.g_co2_per_kwh)?;
        Ok(Thermal {
            capacity_kw: t.capacity_kw,
            cost_per_kwh: t.cost_per_kwh,
            g_co2_per_kwh: t.g_co2_per_kwh,
        })
    }

    /// The index of the site called `name`, or an error at `path` listing the sites.
    pub(super) fn site_index(
        &self,
        path: &str,
        name: &str,
        names: &[String],
    ) -> Result<usize, InputError> {
        names.iter().position(|n| n == name).ok_or_else(|| {
            let (found, expected) = not_a_site(name, names);
            self.err(path, found, expected)
        })
    }

    /// A list of site names as indices: at least one, each known, none twice (a repeated
    /// site is a mistake in the file, not something to drop silently).
    pub(super) fn site_list(
        &self,
        path: &str,
        list: &[String],
        names: &[String],
    ) -> Result<Vec<usize>, InputError> {
        if list.is_empty() {
            return Err(self.err(path, "an empty list", "at least one site"));
        }
        let mut v = Vec::with_capacity(list.len());
        for (i, n) in list.iter().enumerate() {
            let s = self.site_index(&format!("{path}[{i}]"), n, names)?;
            if v.contains(&s) {
                return Err(self.err(
                    &format!("{path}[{i}]"),
                    format!("{n:?} a second time"),
                    "each site once",
                ));
            }
            v.push(s);
        }
        Ok(v)
    }
}

/// What a message finds and expects when `name` is no site of the scenario.
pub(super) fn not_a_site(name: &str, names: &[String]) -> (String, String) {
    (
        format!("{name:?}, not a site of this scenario"),
        format!("one of the sites: {}", names.join(", ")),
    )
}
