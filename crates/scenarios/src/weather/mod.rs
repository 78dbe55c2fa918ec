//! Physical models of the weather-driven inputs of a site, deterministic for a seed:
//! the sun's position and photovoltaic output ([`solar`]), wind-turbine output ([`wind`]),
//! outdoor temperature ([`climate`]) and the temperature-dependent PUE ([`pue`]).
//!
//! Every stochastic process draws from its own seeded ChaCha stream, so the same seed always
//! gives the same series. Sources and assumptions of every parameter: `docs/default-scenario.md`.

pub mod climate;
pub mod pue;
pub mod solar;
pub mod wind;

/// Standard normal cumulative distribution (Abramowitz & Stegun 7.1.26 via erf, |error| <
/// 1.5e-7).
pub(crate) fn normal_cdf(x: f64) -> f64 {
    let z = x / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    let erf = if z >= 0.0 { erf } else { -erf };
    0.5 * (1.0 + erf)
}

/// A standard normal draw (Box-Muller), so that the models need nothing beyond `rand`.
pub(crate) fn std_normal<R: rand::Rng>(rng: &mut R) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    #[test]
    fn normal_cdf_matches_tables() {
        assert!((super::normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((super::normal_cdf(1.0) - 0.841_344_7).abs() < 1e-6);
        assert!((super::normal_cdf(-1.96) - 0.024_997_9).abs() < 1e-6);
    }
}
