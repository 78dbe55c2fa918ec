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

/// Why a live feed's value was refused.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedError {
    /// The feed: `carbon_g_per_kwh[site 2]` and the like.
    pub feed: String,
    pub found: String,
    pub expected: String,
}

impl std::fmt::Display for FeedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: found {}, expected {}",
            self.feed, self.found, self.expected
        )
    }
}

impl std::error::Error for FeedError {}

/// Where a live feed's value for the future comes from, as known at a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedState {
    /// A forecast published within the staleness limit covers the slot.
    Forecast,
    /// The last forecast is older than the limit (or does not reach): same time yesterday
    /// from the observations, else the latest observation.
    Persistence,
    /// Nothing observed and nothing forecast: the feed's fallback value.
    Fallback,
}

/// One feed's health at a slot, for `/readyz` and the metrics.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FeedStatus {
    pub signal: String,
    pub index: usize,
    /// The latest slot with an observation.
    pub last_observed_slot: Option<usize>,
    /// The slot at which the latest forecast was published.
    pub forecast_published_slot: Option<usize>,
    /// Where the value of the current slot comes from.
    pub state: FeedState,
}

#[derive(Debug, Clone)]
struct Feed {
    observed: Vec<Option<f64>>,
    last_observed: Option<usize>,
    /// The latest published forecast, by target slot, and when it was published.
    forecast: Vec<Option<f64>>,
    published: Option<usize>,
    fallback: f64,
    nonnegative: bool,
}

/// Signals pushed by live feeds (the service's provider): observations per slot, and forecasts
/// published at a slot for the slots ahead. It answers only from what was pushed:
/// - a past slot: its observation; where none came, what was believed of it;
/// - the present and future: the latest forecast covering the slot if published at most
///   `stale_after_slots` ago; else persistence (the same time on the latest observed day, as
///   [`ForecastKind::Persistence`]; before a day is observed, the latest observation; with
///   nothing observed, the value of slot 0 if observed); else the feed's fallback value.
///
/// Fed every slot with the observations, it gives exactly what [`Replay`] gives with
/// persistence forecasts; fed every slot with perfect forecasts, what it gives with perfect
/// ones (`cli/tests/engine_steps.rs`).
#[derive(Debug, Clone)]
pub struct Live {
    slots: usize,
    slots_per_day: usize,
    stale_after_slots: usize,
    feeds: std::collections::HashMap<(Signal, usize), Feed>,
}

impl Signal {
    /// The feed's name in messages and the API.
    pub fn name(self) -> &'static str {
        match self {
            Signal::CarbonGPerKwh => "carbon_g_per_kwh",
            Signal::PricePerMwh => "price_per_mwh",
            Signal::FeedInPricePerMwh => "feed_in_price_per_mwh",
            Signal::GreenKw => "green_kw",
            Signal::Pue => "pue",
            Signal::InferenceTokensPerS => "inference_tokens_per_s",
        }
    }
    /// Whether values below zero are impossible (prices may be negative).
    pub fn nonnegative(self) -> bool {
        !matches!(self, Signal::PricePerMwh | Signal::FeedInPricePerMwh)
    }
}

impl Live {
    /// A provider over `grid`'s slots; forecasts older than `stale_after_slots` are not used.
    pub fn new(grid: &crate::model::TimeGrid, stale_after_slots: usize) -> Self {
        Live {
            slots: grid.slots,
            slots_per_day: grid.slots_per_day().max(1),
            stale_after_slots,
            feeds: std::collections::HashMap::new(),
        }
    }

    /// Declare a feed with the value it falls back to when nothing is known (for example the
    /// scenario's mean). Feeds must be declared before values are pushed.
    pub fn declare(&mut self, signal: Signal, index: usize, fallback: f64) {
        self.feeds.insert(
            (signal, index),
            Feed {
                observed: vec![None; self.slots],
                last_observed: None,
                forecast: vec![None; self.slots],
                published: None,
                fallback,
                nonnegative: signal.nonnegative(),
            },
        );
    }

    fn feed_name(signal: Signal, index: usize) -> String {
        format!("{}[{index}]", signal.name())
    }

    fn check(&self, signal: Signal, index: usize, slot: usize, v: f64) -> Result<(), FeedError> {
        let feed = Self::feed_name(signal, index);
        let Some(f) = self.feeds.get(&(signal, index)) else {
            return Err(FeedError {
                feed,
                found: "an undeclared feed".into(),
                expected: "a declared site or region".into(),
            });
        };
        if slot >= self.slots {
            return Err(FeedError {
                feed,
                found: format!("slot {slot}"),
                expected: format!("a slot below {}", self.slots),
            });
        }
        if !v.is_finite() || (f.nonnegative && v < 0.0) {
            return Err(FeedError {
                feed,
                found: v.to_string(),
                expected: if f.nonnegative {
                    "a finite value >= 0".into()
                } else {
                    "a finite value".into()
                },
            });
        }
        Ok(())
    }

    /// The observed value of `slot`.
    pub fn observe(
        &mut self,
        signal: Signal,
        index: usize,
        slot: usize,
        value: f64,
    ) -> Result<(), FeedError> {
        self.check(signal, index, slot, value)?;
        let f = self
            .feeds
            .get_mut(&(signal, index))
            .expect("checked: declared");
        f.observed[slot] = Some(value);
        f.last_observed = f.last_observed.max(Some(slot));
        Ok(())
    }

    /// A forecast published at slot `at` for the slots from `first` on (it replaces the
    /// earlier forecast for those slots). All values are checked before any is taken.
    pub fn publish(
        &mut self,
        signal: Signal,
        index: usize,
        at: usize,
        first: usize,
        values: &[f64],
    ) -> Result<(), FeedError> {
        for (k, v) in values.iter().enumerate() {
            self.check(signal, index, first + k, *v)?;
        }
        let f = self
            .feeds
            .get_mut(&(signal, index))
            .expect("checked: declared");
        for (k, v) in values.iter().enumerate() {
            f.forecast[first + k] = Some(*v);
        }
        f.published = f.published.max(Some(at));
        Ok(())
    }

    /// Where each feed's value for slot `now` comes from.
    pub fn status(&self, now: usize) -> Vec<FeedStatus> {
        let mut out: Vec<FeedStatus> = self
            .feeds
            .iter()
            .map(|(&(signal, index), f)| FeedStatus {
                signal: signal.name().into(),
                index,
                last_observed_slot: f.last_observed,
                forecast_published_slot: f.published,
                state: self.value(f, now, now).1,
            })
            .collect();
        out.sort_by(|a, b| (&a.signal, a.index).cmp(&(&b.signal, b.index)));
        out
    }

    fn fresh(&self, f: &Feed, now: usize) -> bool {
        f.published
            .is_some_and(|p| p <= now && now - p <= self.stale_after_slots)
    }

    /// What is believed at `now` of `slot`, and where it came from.
    fn value(&self, f: &Feed, now: usize, slot: usize) -> (f64, FeedState) {
        if slot < now {
            if let Some(v) = f.observed[slot] {
                return (v, FeedState::Forecast);
            }
        }
        if self.fresh(f, now) {
            if let Some(v) = f.forecast[slot] {
                return (v, FeedState::Forecast);
            }
        }
        // Persistence from what was observed before `now` (as `ForecastKind::Persistence`).
        let day = self.slots_per_day;
        let seen = |t: usize| f.observed.get(t).copied().flatten();
        let persisted = if now == 0 {
            seen(0)
        } else if now >= day && slot >= now {
            let back = (slot - now) / day + 1;
            seen(slot - back * day).or_else(|| seen(now - 1))
        } else {
            seen(now - 1)
        };
        match persisted.or_else(|| f.last_observed.and_then(seen)) {
            Some(v) => (v, FeedState::Persistence),
            None => (f.fallback, FeedState::Fallback),
        }
    }
}

impl Signals for Live {
    fn at(&self, signal: Signal, index: usize, now_slot: usize, slot: usize) -> f64 {
        match self.feeds.get(&(signal, index)) {
            Some(f) => self.value(f, now_slot, slot.min(self.slots - 1)).0,
            None => 0.0,
        }
    }
    fn label(&self) -> String {
        format!(
            "live (forecasts used for {} slots after publication, then persistence)",
            self.stale_after_slots
        )
    }
}

/// A provider lent to an engine (`Box::new(&provider)`): the owner keeps feeding it.
impl<T: Signals + ?Sized> Signals for &T {
    fn at(&self, signal: Signal, index: usize, now_slot: usize, slot: usize) -> f64 {
        (**self).at(signal, index, now_slot, slot)
    }
    fn label(&self) -> String {
        (**self).label()
    }
}

/// A live provider shared with the feeds that update it between steps.
impl Signals for std::sync::RwLock<Live> {
    fn at(&self, signal: Signal, index: usize, now_slot: usize, slot: usize) -> f64 {
        self.read()
            .unwrap_or_else(|e| e.into_inner())
            .at(signal, index, now_slot, slot)
    }
    fn label(&self) -> String {
        self.read().unwrap_or_else(|e| e.into_inner()).label()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TimeGrid;

    fn grid(slots: usize) -> TimeGrid {
        TimeGrid {
            start: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            slot_minutes: 60,
            slots,
        }
    }

    /// Hand-worked: a forecast published at slot 0 is used while fresh (2 slots), then
    /// persistence from the observations, then, with nothing observed, the fallback; the
    /// status says which.
    #[test]
    fn a_stale_forecast_falls_back_to_persistence_then_to_the_fallback() {
        let mut live = Live::new(&grid(48), 2);
        let c = Signal::CarbonGPerKwh;
        live.declare(c, 0, 500.0);
        live.declare(c, 1, 300.0);
        live.publish(c, 0, 0, 0, &[100.0; 10]).unwrap();
        assert_eq!(live.at(c, 0, 2, 5), 100.0);
        // Stale at slot 3, nothing observed: the fallback.
        assert_eq!(live.at(c, 0, 3, 5), 500.0);
        live.observe(c, 0, 0, 210.0).unwrap();
        live.observe(c, 0, 1, 220.0).unwrap();
        live.observe(c, 0, 2, 230.0).unwrap();
        // Before a day is observed: the latest observation before now.
        assert_eq!(live.at(c, 0, 3, 5), 230.0);
        // A past slot: its observation.
        assert_eq!(live.at(c, 0, 3, 1), 220.0);
        let status = live.status(3);
        assert_eq!(status[0].state, FeedState::Persistence);
        assert_eq!(status[0].last_observed_slot, Some(2));
        assert_eq!(status[1].state, FeedState::Fallback);
        // A new forecast makes it fresh again.
        live.publish(c, 0, 3, 3, &[150.0; 5]).unwrap();
        assert_eq!(live.at(c, 0, 3, 5), 150.0);
        assert_eq!(live.status(3)[0].state, FeedState::Forecast);
    }

    /// Bad values are refused with the feed, what was found and what was expected, and change
    /// nothing: a publication is all or none.
    #[test]
    fn bad_values_are_refused_whole() {
        let mut live = Live::new(&grid(24), 4);
        live.declare(Signal::PricePerMwh, 0, 50.0);
        live.declare(Signal::GreenKw, 0, 0.0);
        // Prices may be negative; green power may not.
        live.observe(Signal::PricePerMwh, 0, 0, -20.0).unwrap();
        let e = live.observe(Signal::GreenKw, 0, 0, -1.0).unwrap_err();
        assert_eq!(e.feed, "green_kw[0]");
        assert!(e.to_string().contains("found -1"), "{e}");
        let e = live
            .publish(Signal::GreenKw, 0, 0, 20, &[1.0, 2.0, 3.0, 4.0, 5.0])
            .unwrap_err();
        assert!(e.to_string().contains("slot 24"), "{e}");
        assert_eq!(live.at(Signal::GreenKw, 0, 0, 20), 0.0);
        let e = live.observe(Signal::Pue, 3, 0, 1.2).unwrap_err();
        assert!(e.to_string().contains("undeclared"), "{e}");
        let e = live
            .observe(Signal::PricePerMwh, 0, 0, f64::NAN)
            .unwrap_err();
        assert!(e.expected.contains("finite"), "{e}");
    }
}
