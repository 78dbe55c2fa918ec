//! Signals as a provider: where the engine gets what it believes about carbon intensity,
//! prices, green output, PUE and inference demand.
//!
//! One interface serves replayed history and live feeds (Vessim's lesson): the engine asks a
//! [`Signals`] provider for the value of a series at a target slot *as known at* the current
//! slot. For past slots that is the observation; for the present and the future it is a
//! forecast. A provider never answers from data that was not known at `now_slot`: that is the
//! no-peeking guarantee (`core/tests/no_future.rs` changes the future and checks that no
//! earlier decision moves).
//!
//! [`Replay`] reads the scenario's series (from files or the built-in generators) and forecasts
//! them by a [`ForecastKind`]; a live provider (the service's) answers from the observations and
//! forecasts pushed to it.

use crate::forecast::{ForecastKind, Forecaster};
use crate::model::Scenario;

/// A series the engine asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// Grid carbon intensity at a site, g CO2/kWh.
    CarbonGPerKwh,
    /// Import price at a site, currency/MWh.
    PricePerMwh,
    /// Feed-in price at a site, currency/MWh.
    FeedInPricePerMwh,
    /// Direct green power available at a site, kW.
    GreenKw,
    /// Power usage effectiveness at a site.
    Pue,
    /// Inference demand of a user region, tokens/s.
    InferenceTokensPerS,
}

/// The values of every series, as known at a slot.
pub trait Signals {
    /// The value of `signal` for `index` (a site, or an inference region for
    /// [`Signal::InferenceTokensPerS`]) in `slot`, as known at the start of `now_slot`: the
    /// observation if `slot < now_slot`, a forecast otherwise.
    fn at(&self, signal: Signal, index: usize, now_slot: usize, slot: usize) -> f64;
    /// A short description for reports ("perfect", "noisy (15 % error, seed 1)", "live").
    fn label(&self) -> String;
}

/// Replayed signals: the scenario's series as the truth, forecast by a [`ForecastKind`].
pub struct Replay {
    kind: ForecastKind,
    carbon: Vec<Forecaster>,
    price: Vec<Forecaster>,
    feed_in: Vec<Forecaster>,
    green_kw: Vec<Forecaster>,
    pue: Vec<Forecaster>,
    inference: Vec<Forecaster>,
}

impl Replay {
    /// The scenario's series, forecast by `kind`. Each series draws its own errors (a stream
    /// per site and series), so the same scenario and kind always give the same forecasts.
    pub fn new(sc: &Scenario, kind: ForecastKind) -> Self {
        let n = sc.grid.slots;
        let day = sc.grid.slots_per_day();
        let mk = |truth: Vec<f64>, stream: u64, nonneg: bool| {
            Forecaster::new(truth, kind, day, stream, nonneg)
        };
        let mut f = Replay {
            kind,
            carbon: vec![],
            price: vec![],
            feed_in: vec![],
            green_kw: vec![],
            pue: vec![],
            inference: vec![],
        };
        for (s, site) in sc.sites.iter().enumerate() {
            let base = 8 * s as u64;
            f.carbon
                .push(mk(site.grid.carbon_g_per_kwh.clone(), base, true));
            f.price
                .push(mk(site.grid.price_per_mwh.clone(), base + 1, false));
            f.green_kw.push(mk(
                (0..n).map(|t| site.green_kw(t)).collect(),
                base + 2,
                true,
            ));
            f.pue
                .push(mk((0..n).map(|t| site.pue.at(t)).collect(), base + 3, true));
            // A fixed tariff is known; a feed-in that varies is forecast like a price.
            let feed_in = &site.grid.feed_in_price_per_mwh;
            let tariff = feed_in.windows(2).all(|w| w[0] == w[1]);
            f.feed_in.push(if tariff {
                Forecaster::new(feed_in.clone(), ForecastKind::Perfect, day, base + 4, false)
            } else {
                mk(feed_in.clone(), base + 4, false)
            });
        }
        let base = 8 * sc.sites.len() as u64;
        for (r, d) in sc.inference.iter().enumerate() {
            f.inference
                .push(mk(d.tokens_per_s.clone(), base + r as u64, true));
        }
        f
    }

    fn series(&self, signal: Signal) -> &[Forecaster] {
        match signal {
            Signal::CarbonGPerKwh => &self.carbon,
            Signal::PricePerMwh => &self.price,
            Signal::FeedInPricePerMwh => &self.feed_in,
            Signal::GreenKw => &self.green_kw,
            Signal::Pue => &self.pue,
            Signal::InferenceTokensPerS => &self.inference,
        }
    }
}

impl Signals for Replay {
    fn at(&self, signal: Signal, index: usize, now_slot: usize, slot: usize) -> f64 {
        self.series(signal)[index].at(now_slot, slot)
    }
    fn label(&self) -> String {
        self.kind.label()
    }
}
