//! The LP's time steps: periods of one or more window slots.
//!
//! A rolling plan needs its fine resolution only where decisions are applied (the first slot)
//! and near the present, where the next re-plans will look again; further out an hourly or
//! four-hourly block decides as well at a fraction of the model's size. [`Blocks`] says how the
//! window is cut ("one slot for the first 2 h, then hours"), [`Blocks::layout`] cuts it, and
//! [`Periods`] is what the model is built over: per period its slots, its length in hours, and
//! every per-slot series as its mean over the period (so energy, work and capacity sum to what
//! the slots hold). With one slot per period the model is exactly the uniform one.

use super::model::{PlanInput, PlanSite};
use std::borrow::Cow;
use std::ops::Range;

/// How a rolling window is cut into periods: tiers of periods of a given length, each up to a
/// given time from the window's start; the last reaches the window's end. Periods longer than a
/// slot are aligned to whole multiples of their length in run time (so the same block keeps its
/// place, and its warm-start keys, from one re-plan to the next), and a tier ends where the next
/// tier's period boundary falls. The first period is always one slot: the one applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Blocks {
    /// (period length h, 0 for one slot; until h from the window's start). Only `n` are used.
    tiers: [(f64, f64); Blocks::MAX_TIERS],
    n: usize,
}

impl Default for Blocks {
    /// One slot for the first 2 h, then hours: at hourly slots the uniform model.
    fn default() -> Self {
        "slot:2h,1h".parse().expect("the default blocks parse")
    }
}

impl Blocks {
    pub const MAX_TIERS: usize = 4;

    /// Every period one slot (the uniform model).
    pub fn uniform() -> Self {
        Blocks {
            tiers: [(0.0, f64::INFINITY); Blocks::MAX_TIERS],
            n: 1,
        }
    }

    /// The tiers: (period length h, 0 for one slot; until h), the last until the window's end.
    pub fn tiers(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.tiers[..self.n].iter().enumerate().map(|(i, &(p, u))| {
            if i + 1 == self.n {
                (p, f64::INFINITY)
            } else {
                (p, u)
            }
        })
    }

    /// The time from the window's start that stays at the slot's resolution (at least the
    /// first slot).
    pub fn fine_h(&self) -> f64 {
        self.tiers()
            .take_while(|(p, _)| *p == 0.0)
            .map(|(_, u)| u)
            .last()
            .unwrap_or(0.0)
    }

    /// The window's periods, as numbers of slots, for a window of `slots` slots of `slot_h`
    /// hours starting at run slot `first_slot`; a period never spans one of `breaks` (window
    /// slots where a period must start: where an announced import cap begins or ends).
    pub fn layout(
        &self,
        first_slot: usize,
        slots: usize,
        slot_h: f64,
        breaks: &[usize],
    ) -> Vec<usize> {
        let to_slots = |h: f64| {
            if h.is_finite() {
                (h / slot_h - 1e-9).ceil().max(0.0) as usize
            } else {
                usize::MAX
            }
        };
        let period_slots = |p: f64| {
            if p <= 0.0 {
                1
            } else {
                ((p / slot_h).round() as usize).max(1)
            }
        };
        let tiers: Vec<(usize, usize)> = self
            .tiers()
            .map(|(p, u)| (period_slots(p), to_slots(u)))
            .collect();
        let mut lens = Vec::new();
        let mut i = 0;
        for (k, &(len, until)) in tiers.iter().enumerate() {
            // A tier ends where the next tier's first whole period begins.
            let end = match tiers.get(k + 1) {
                Some(&(next, _)) if until < slots => {
                    let abs = first_slot + until;
                    (abs.div_ceil(next) * next - first_slot).min(slots)
                }
                _ => slots,
            };
            while i < end {
                let aligned = ((first_slot + i) / len + 1) * len - first_slot;
                let mut stop = if i == 0 { 1 } else { aligned.min(end) };
                if let Some(&b) = breaks.iter().find(|&&b| b > i && b < stop) {
                    stop = b;
                }
                lens.push(stop - i);
                i = stop;
            }
        }
        lens
    }
}

impl std::str::FromStr for Blocks {
    type Err = String;

    /// `TIER[,TIER...]`, each `PERIOD:UNTIL` but the last (`PERIOD`, to the window's end):
    /// PERIOD is `slot` or a length (`15m`, `1h`, `4h`), UNTIL a time from the window's start
    /// (`2h`, `90m`). `slot:2h,1h:12h,4h`: one slot for 2 h, hours to 12 h, then 4-hour blocks.
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        if parts.is_empty() || parts.len() > Blocks::MAX_TIERS {
            return Err(format!(
                "found {} tiers, expected 1 to {}",
                parts.len(),
                Blocks::MAX_TIERS
            ));
        }
        let mut b = Blocks::uniform();
        b.n = parts.len();
        let mut last_until = 0.0;
        let mut last_period = 0.0;
        for (i, part) in parts.iter().enumerate() {
            let (period, until) = match part.split_once(':') {
                Some((p, u)) => (p, Some(u)),
                None => (*part, None),
            };
            let period_h = if period == "slot" {
                0.0
            } else {
                duration_h(period).map_err(|e| format!("tier {}: {e}", i + 1))?
            };
            let until_h = match (until, i + 1 == parts.len()) {
                (Some(u), false) => duration_h(u).map_err(|e| format!("tier {}: {e}", i + 1))?,
                (None, true) => f64::INFINITY,
                (Some(_), true) => {
                    return Err(format!(
                        "tier {} (`{part}`): the last tier reaches the window's end, expected no `:UNTIL`",
                        i + 1
                    ))
                }
                (None, false) => {
                    return Err(format!(
                        "tier {} (`{part}`): expected `PERIOD:UNTIL` (e.g. `slot:2h`)",
                        i + 1
                    ))
                }
            };
            if until_h <= last_until {
                return Err(format!(
                    "tier {} (`{part}`): ends at {until_h} h, expected after the tier before ({last_until} h)",
                    i + 1
                ));
            }
            if period_h < last_period {
                return Err(format!(
                    "tier {} (`{part}`): periods of {period_h} h after periods of {last_period} h, expected periods that grow further out",
                    i + 1
                ));
            }
            b.tiers[i] = (period_h, until_h);
            last_until = until_h;
            last_period = period_h;
        }
        Ok(b)
    }
}

impl std::fmt::Display for Blocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = |h: f64| {
            if h == 0.0 {
                "slot".to_string()
            } else if (h * 60.0).fract().abs() < 1e-9 && h.fract().abs() > 1e-9 {
                format!("{}m", h * 60.0)
            } else {
                format!("{h}h")
            }
        };
        for (i, (p, u)) in self.tiers().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(&d(p))?;
            if u.is_finite() {
                write!(f, ":{}", d(u))?;
            }
        }
        Ok(())
    }
}

/// `15m`, `1h`, `1.5h`, `90m`: hours, > 0.
fn duration_h(s: &str) -> Result<f64, String> {
    let (num, per_h) = if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 1.0)
    } else {
        return Err(format!("found `{s}`, expected a length like `15m` or `2h`"));
    };
    match num.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v / per_h),
        _ => Err(format!(
            "found `{s}`, expected a length > 0 like `15m` or `2h`"
        )),
    }
}

/// The periods a model is built over (see the module's docs).
#[derive(Debug, Clone)]
pub(super) struct Periods {
    /// Per period: its first window slot and its number of slots.
    pub(super) start: Vec<usize>,
    pub(super) len: Vec<usize>,
    /// The period of each window slot.
    of_slot: Vec<usize>,
}

impl Periods {
    /// One period per slot: the uniform model.
    pub(super) fn one_per_slot(slots: usize) -> Self {
        Periods {
            start: (0..slots).collect(),
            len: vec![1; slots],
            of_slot: (0..slots).collect(),
        }
    }

    /// The input's periods ([`PlanInput::periods`]), or one per slot where it has none.
    pub(super) fn of(input: &PlanInput) -> Result<Self, String> {
        if input.periods.is_empty() {
            return Ok(Periods::one_per_slot(input.slots));
        }
        let lens = &input.periods;
        let total: usize = lens.iter().sum();
        if total != input.slots || lens.contains(&0) {
            return Err(format!(
                "periods: found {} periods of {total} slots in all{}, expected periods of at least one slot summing to the window's {} slots",
                lens.len(),
                if lens.contains(&0) { " (some empty)" } else { "" },
                input.slots
            ));
        }
        let mut start = Vec::with_capacity(lens.len());
        let mut of_slot = Vec::with_capacity(total);
        let mut s = 0;
        for (p, &l) in lens.iter().enumerate() {
            start.push(s);
            of_slot.extend(std::iter::repeat_n(p, l));
            s += l;
        }
        Ok(Periods {
            start,
            len: lens.clone(),
            of_slot,
        })
    }

    pub(super) fn count(&self) -> usize {
        self.len.len()
    }

    /// Every period one slot.
    pub(super) fn uniform(&self) -> bool {
        self.len.len() == self.of_slot.len()
    }

    /// The window slots of period `t`.
    pub(super) fn slots(&self, t: usize) -> Range<usize> {
        self.start[t]..self.start[t] + self.len[t]
    }

    /// The periods that hold any of the window slots `slots`.
    pub(super) fn within(&self, slots: Range<usize>) -> Range<usize> {
        let end = slots.end.min(self.of_slot.len());
        if slots.start >= end {
            return 0..0;
        }
        self.of_slot[slots.start]..self.of_slot[end - 1] + 1
    }

    /// A per-slot series as its mean per period (the value itself in a one-slot period); an
    /// empty series stays empty.
    pub(super) fn mean<'a>(&self, series: &'a [f64]) -> Cow<'a, [f64]> {
        if self.uniform() || series.is_empty() {
            return Cow::Borrowed(series);
        }
        Cow::Owned(
            (0..self.count())
                .map(|t| {
                    let r = self.slots(t);
                    let r = r.start.min(series.len())..r.end.min(series.len());
                    let n = r.len();
                    if n == 1 {
                        series[r.start]
                    } else {
                        series[r].iter().sum::<f64>() / n.max(1) as f64
                    }
                })
                .collect(),
        )
    }

    /// A site with its series per period.
    pub(super) fn site<'a>(&self, s: &'a PlanSite) -> Cow<'a, PlanSite> {
        if self.uniform() {
            return Cow::Borrowed(s);
        }
        let m = |v: &[f64]| self.mean(v).into_owned();
        Cow::Owned(PlanSite {
            import_limit_kw: m(&s.import_limit_kw),
            over_limit_per_kwh: m(&s.over_limit_per_kwh),
            feed_in_per_mwh: m(&s.feed_in_per_mwh),
            pue: m(&s.pue),
            price_per_mwh: m(&s.price_per_mwh),
            carbon_g_per_kwh: m(&s.carbon_g_per_kwh),
            green_kw: m(&s.green_kw),
            fixed_acc: m(&s.fixed_acc),
            ..s.clone()
        })
    }

    /// A per-period value back on the period's slots, in proportion to `weight` per window slot
    /// (evenly where the weights in the period sum to nothing): work and energy per period are
    /// sums over its slots.
    pub(super) fn spread(&self, per_period: &[f64], weight: impl Fn(usize) -> f64) -> Vec<f64> {
        let mut out = vec![0.0; self.of_slot.len()];
        for (t, &v) in per_period.iter().enumerate() {
            let r = self.slots(t);
            let total: f64 = r.clone().map(&weight).sum();
            for s in r.clone() {
                out[s] = if total > 0.0 {
                    v * weight(s) / total
                } else {
                    v / r.len() as f64
                };
            }
        }
        out
    }

    /// A per-period rate (kW, tokens/s) on each of the period's slots.
    pub(super) fn repeat(&self, per_period: &[f64]) -> Vec<f64> {
        self.of_slot
            .iter()
            .map(|&t| per_period.get(t).copied().unwrap_or(0.0))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_parse_print_and_refuse() {
        let b: Blocks = "slot:2h,1h:12h,4h".parse().unwrap();
        assert_eq!(b.to_string(), "slot:2h,1h:12h,4h");
        assert_eq!(b.fine_h(), 2.0);
        assert_eq!(
            "slot:90m,15m:3h,1h".parse::<Blocks>().unwrap().to_string(),
            "slot:90m,15m:3h,1h"
        );
        assert_eq!(Blocks::uniform().to_string(), "slot");
        assert_eq!(Blocks::default().to_string(), "slot:2h,1h");
        for (bad, says) in [
            ("", "expected a length"),
            ("slot:2h", "last tier"),
            ("slot,1h", "expected `PERIOD:UNTIL`"),
            ("1h:2h,slot", "periods that grow"),
            ("slot:2h,1h:1h,4h", "after the tier before"),
            ("slot:2x,1h", "expected a length"),
            ("slot:-2h,1h", "> 0"),
            ("slot:1h,1h:2h,2h:3h,3h:4h,4h", "1 to 4"),
        ] {
            let e = bad.parse::<Blocks>().unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    /// By hand: 15-minute slots from run slot 6 (01:30), one slot to 2 h, hours to 6 h, then
    /// 4-hour blocks, 24 h: the fine tier runs to 04:00 (the first whole hour after 03:30),
    /// hours to 08:00, and 4-hour blocks aligned on 08:00, 12:00... to 01:30 the next day.
    #[test]
    fn a_layout_by_hand() {
        let b: Blocks = "slot:2h,1h:6h,4h".parse().unwrap();
        let l = b.layout(6, 96, 0.25, &[]);
        assert_eq!(l.iter().sum::<usize>(), 96);
        // 04:00 is run slot 16: ten fine slots, then four hours, then 4-hour blocks to 24:00
        // (run slot 96), then 1.5 h.
        let mut want = vec![1; 10];
        want.extend([4, 4, 4, 4]);
        want.extend([16, 16, 16, 16]);
        want.push(6);
        assert_eq!(l, want);
        // A break at window slot 30 (an import cap's edge) splits the 4-hour block it falls in
        // (window slots 26 to 42); the blocks after it keep their places.
        let l = b.layout(6, 96, 0.25, &[30]);
        assert_eq!(&l[14..17], &[4, 12, 16]);
        // Hourly slots under the default blocks: one slot each, the uniform model.
        assert_eq!(Blocks::default().layout(5, 24, 1.0, &[]), vec![1; 24]);
        assert_eq!(Blocks::uniform().layout(5, 24, 0.25, &[]), vec![1; 24]);
        // The first period is one slot whatever the tiers.
        assert_eq!(
            "1h".parse::<Blocks>().unwrap().layout(1, 8, 0.25, &[]),
            vec![1, 2, 4, 1]
        );
    }

    #[test]
    fn means_and_spreads_keep_sums() {
        let input = PlanInput {
            slots: 5,
            periods: vec![1, 3, 1],
            ..PlanInput::default()
        };
        let p = Periods::of(&input).unwrap();
        assert_eq!(p.within(1..2), 1..2);
        assert_eq!(p.within(2..5), 1..3);
        assert_eq!(p.within(5..9), 0..0);
        assert_eq!(&*p.mean(&[1.0, 2.0, 3.0, 7.0, 5.0]), &[1.0, 4.0, 5.0]);
        let s = p.spread(&[1.0, 6.0, 2.0], |s| if s == 3 { 0.0 } else { 1.0 });
        assert_eq!(s, vec![1.0, 3.0, 3.0, 0.0, 2.0]);
        assert_eq!(p.repeat(&[1.0, 6.0, 2.0]), vec![1.0, 6.0, 6.0, 6.0, 2.0]);
        let bad = PlanInput {
            periods: vec![1, 3],
            ..input
        };
        assert!(Periods::of(&bad)
            .unwrap_err()
            .contains("summing to the window's 5 slots"));
    }
}
