//! Building the LP from a [`PlanInput`] (docs/planner.md gives it as equations): what each
//! column and row stands for (its key, which warm starts go by), the objective's terms, and the
//! model block by block.
//!
//! The order in which columns and rows are added is part of the model: HiGHS's path, and so
//! which of equal optima it finds and in how many iterations, depends on it. [`build`] adds
//! every column first (work, inference, energy), then every row (per class, demand, per site),
//! with one exception kept where it was: a class's columns of running work paused come with
//! its rows.

use super::model::{CappedLevel, ObjectiveMode, PlanBattery, PlanInput, PlanSite, WorkClass};
use super::periods::Periods;
use std::borrow::Cow;
use std::ops::{Range, RangeBounds};
use suandian_highs::{bounds_of, Col, Problem};

/// Cost of one kWh drawn from the grid (or a source with emission factor `g`) under the mode.
pub(crate) fn energy_weight(
    mode: ObjectiveMode,
    price_per_kwh: f64,
    g_per_kwh: f64,
    carbon_price_per_t: f64,
) -> f64 {
    match mode {
        ObjectiveMode::Balanced => price_per_kwh + carbon_price_per_t * g_per_kwh / 1e6,
        ObjectiveMode::Carbon => g_per_kwh / 1000.0,
        ObjectiveMode::Cost => price_per_kwh,
    }
}

/// The grid's cost in a slot where a kWh exported earns more than a kWh imported costs
/// (`feed_in > import`, both per kWh in objective units): `(slope, constant)` of a line to price
/// import and export with, or `None` where the two prices are convex and exact as they are.
///
/// The simulator never imports and exports in the same slot: its grid cost is
/// `phi(n) = import x n` for a net import `n >= 0` and `feed_in x n` for `n < 0`, which is
/// concave when `feed_in > import` and has no exact LP form (an LP with both columns would buy
/// power to re-export it, a bound with no meaning). Its best convex under-estimator over the
/// net imports the site can have in the slot, `[n_lo, n_hi]`, is the chord between the two
/// ends: the most it can export (`n_lo`, surplus green and battery power over the least load,
/// within the export limit) and the most it can import (`n_hi`, the whole fleet busy at full
/// power while the battery charges). Priced by the chord, import and export cancel, so
/// re-exporting earns nothing, and the plan's optimum is still never above what the
/// simulator can achieve (the chord is never above `phi` in that range).
fn grid_chord(s: &PlanSite, t: usize, import: f64, feed_in: f64) -> Option<(f64, f64)> {
    if feed_in <= import || s.export_limit_kw <= 0.0 {
        return None;
    }
    let battery_kw = s.battery.map_or(0.0, |b| b.power_kw);
    let least_load_kw = s.pue[t] * s.idle_it_kw;
    let n_lo = -s
        .export_limit_kw
        .min((s.green_kw[t].max(0.0) + battery_kw - least_load_kw).max(0.0));
    let n_hi = s.pue[t] * (s.idle_it_kw + s.accelerators * s.dyn_kw_per_acc) + battery_kw;
    if n_hi - n_lo < 1e-9 {
        return None;
    }
    let slope = (import * n_hi - feed_in * n_lo) / (n_hi - n_lo);
    Some((slope, (feed_in - slope) * n_lo))
}

/// Penalty per kWh by which a site misses the soft green-share floor (`--min-green-share`), in
/// the scenario's currency: a preference, not a limit (it was the over-limit penalty, 1, before
/// that became a scenario value that ranks a breach above lateness).
pub const GREEN_SHORTFALL_PER_KWH: f64 = 1.0;

/// A tiny preference for earlier work, so that equal-cost plans start work sooner: each work
/// column costs this much more per window slot (taken off the plan's objective again).
pub(super) const EARLY_WORK_PREFERENCE: f64 = 1e-7;

/// A row's columns and their coefficients.
type RowTerms = Vec<(Col, f64)>;

/// A class's columns at one level below full power: the position of the site in the class's
/// sites, the level, and one column per window slot where work may run.
pub(super) type CappedCols = (usize, CappedLevel, Vec<Option<Col>>);

/// Slots before a class's deadline in which the plan does no capped work (the dispatcher's
/// hysteresis: six slots and the urgency lead).
pub const CAPPED_MARGIN_SLOTS: usize = 7;

/// What a column stands for, with its run slot: the same quantity keeps its key from one
/// re-plan to the next, so that one plan's basis can warm-start the next solve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum ColKey {
    Work {
        class: u64,
        site: usize,
        slot: usize,
    },
    WorkCapped {
        class: u64,
        site: usize,
        /// Which of the site's levels below full power ([`PlanSite::capped`], then
        /// [`PlanSite::bound_levels`]).
        level: usize,
        slot: usize,
    },
    Unmet(u64),
    Deferred(u64),
    /// A bound's restarts: accelerator-hours at full power with no progress.
    Restart {
        class: u64,
        site: usize,
        slot: usize,
    },
    Inference {
        region: usize,
        site: usize,
        slot: usize,
    },
    Unserved {
        region: usize,
        slot: usize,
    },
    Flow {
        site: usize,
        flow: Flow,
        slot: usize,
    },
    GreenShortfall(usize),
    /// Import above the certificates (market-based carbon).
    UncoveredImport(usize),
    /// Running work paused in the first slot.
    Stopped {
        class: u64,
        site: usize,
        slot: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Flow {
    Import,
    OverLimit,
    Export,
    Green,
    Thermal,
    Charge,
    Discharge,
    Soc,
}

/// What a row stands for, with its run slot (as [`ColKey`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum RowKey {
    Work(u64),
    Restarts(u64),
    Parallelism {
        class: u64,
        slot: usize,
    },
    Demand {
        region: usize,
        slot: usize,
    },
    Capacity {
        site: usize,
        slot: usize,
    },
    Balance {
        site: usize,
        slot: usize,
    },
    ExportSource {
        site: usize,
        slot: usize,
    },
    Soc {
        site: usize,
        slot: usize,
    },
    FinalSoc(usize),
    GreenShare(usize),
    Certificates(usize),
    Stopped {
        class: u64,
        site: usize,
        slot: usize,
    },
    /// Running work paused by a slot stays paused in the count: `P_t >= P_(t-1)`.
    StoppedSince {
        class: u64,
        site: usize,
        slot: usize,
    },
}

/// The HiGHS problem being built, with the key and bounds of every column and row where a
/// warm start is wanted.
struct Builder {
    pb: Problem,
    keys: Option<Keys>,
}

/// Each column's and row's key with its bounds, in the order they were added.
#[derive(Default)]
pub(super) struct Keys {
    pub(super) cols: Vec<(ColKey, f64, f64)>,
    pub(super) rows: Vec<(RowKey, f64, f64)>,
}

impl Builder {
    fn add_column<B: RangeBounds<f64>>(&mut self, key: ColKey, cost: f64, bounds: B) -> Col {
        if let Some(keys) = &mut self.keys {
            let (lower, upper) = bounds_of(&bounds);
            keys.cols.push((key, lower, upper));
        }
        self.pb.add_column(cost, bounds)
    }

    fn add_row<B: RangeBounds<f64>>(&mut self, key: RowKey, bounds: B, row: &[(Col, f64)]) {
        if let Some(keys) = &mut self.keys {
            let (lower, upper) = bounds_of(&bounds);
            keys.rows.push((key, lower, upper));
        }
        self.pb.add_row(bounds, row);
    }
}

/// The columns a plan is read from, and that the rows use.
#[derive(Default)]
pub(super) struct Columns {
    /// Per class, per eligible site (in the class's order), per window slot: work at full
    /// power, where the work may run then.
    pub(super) work: Vec<Vec<Vec<Option<Col>>>>,
    /// Per class: its columns at each level below full power.
    pub(super) capped: Vec<Vec<CappedCols>>,
    pub(super) unmet: Vec<Col>,
    pub(super) deferred: Vec<Option<Col>>,
    /// Per class, per eligible site (in the class's order), per window slot: a bound's
    /// restarts ([`restart_columns`]).
    pub(super) restart: Vec<Vec<Vec<Option<Col>>>>,
    /// Per region, per eligible site (in the region's order), per window slot: tokens/s served.
    pub(super) inference: Vec<Vec<Vec<Col>>>,
    /// Per region, per window slot.
    pub(super) unserved: Vec<Vec<Col>>,
    pub(super) sites: Vec<SiteCols>,
}

/// A site's energy columns, per window slot where not said otherwise.
#[derive(Default)]
pub(super) struct SiteCols {
    pub(super) imp: Vec<Col>,
    pub(super) over: Vec<Col>,
    pub(super) exp: Vec<Col>,
    pub(super) green: Vec<Col>,
    pub(super) th: Vec<Option<Col>>,
    pub(super) ch: Vec<Option<Col>>,
    pub(super) dis: Vec<Option<Col>>,
    pub(super) soc: Vec<Option<Col>>,
    /// The window's green-share shortfall (with a floor).
    pub(super) short: Option<Col>,
    /// The window's import above the certificates (market-based carbon).
    pub(super) uncovered: Option<Col>,
}

/// The LP, built: the HiGHS problem, every column's and row's key and bounds (where a warm
/// start is wanted), and the columns the plan is read from.
pub(super) struct BuiltLp {
    pub(super) problem: Problem,
    pub(super) keys: Option<Keys>,
    pub(super) cols: Columns,
    /// The constant part of the objective (the grid chords' intercepts, see `grid_chord`).
    pub(super) offset: f64,
    /// The periods the model was built over, and per class the window slots its work may use
    /// with the share of each ([`class_share`]): how a period's work is spread back on slots.
    pub(super) periods: Periods,
    pub(super) class_slots: Vec<(Range<usize>, f64)>,
}

/// What every block of the model reads: the input, the window, and the penalties in objective
/// units.
struct Terms<'a> {
    input: &'a PlanInput,
    /// The model's periods (its time steps), and how many.
    p: Periods,
    h: usize,
    /// The window's slots.
    slots: usize,
    /// Each period's length, hours.
    dt: Vec<f64>,
    /// The sites with their series per period.
    sites: Vec<Cow<'a, PlanSite>>,
    /// Each inference region's demand per period, tokens/s.
    tokens_per_s: Vec<Cow<'a, [f64]>>,
    late: f64,
    deferred_after_run: f64,
    over_limit: f64,
    /// What a million tokens unserved cost.
    unserved_per_million: f64,
    /// Per site: whether a bound offers work after its deadline there ([`late_slots`]).
    late_sites: Vec<bool>,
}

/// A penalty in objective units: in Carbon mode a currency-valued penalty is converted at the
/// carbon price (or 1 kg per unit when there is none).
fn objective_units(input: &PlanInput, currency: f64) -> f64 {
    match input.mode {
        ObjectiveMode::Carbon => currency / (input.carbon_price_per_t / 1000.0).max(1e-3),
        _ => currency,
    }
}

impl<'a> Terms<'a> {
    fn new(input: &'a PlanInput, p: Periods) -> Self {
        let to_obj = |currency| objective_units(input, currency);
        let dt = p.len.iter().map(|&n| n as f64 * input.slot_h).collect();
        let mut x = Terms {
            input,
            h: p.count(),
            slots: input.slots,
            dt,
            sites: input.sites.iter().map(|s| p.site(s)).collect(),
            tokens_per_s: input
                .inference
                .iter()
                .map(|d| p.mean(&d.tokens_per_s))
                .collect(),
            p,
            late: to_obj(input.late_per_acc_h),
            deferred_after_run: to_obj(input.deferred_per_acc_h),
            over_limit: to_obj(input.over_limit_per_kwh),
            unserved_per_million: to_obj(input.unserved_per_million_tokens),
            late_sites: vec![],
        };
        if input.bound {
            x.late_sites = x.sites.iter().map(|s| load_can_pay(&x, s)).collect();
        }
        x
    }

    fn to_obj(&self, currency: f64) -> f64 {
        objective_units(self.input, currency)
    }

    /// The run slot at which period `t` starts.
    fn at(&self, t: usize) -> usize {
        self.input.first_slot + self.p.start[t]
    }

    /// The periods that hold any of the window slots `slots`.
    fn within(&self, slots: Range<usize>) -> Range<usize> {
        self.p.within(slots)
    }
}

/// Build the LP, with every column's and row's key where `with_keys` (for a warm start);
/// `Err` where the input's periods do not cut its window.
pub(super) fn build(input: &PlanInput, with_keys: bool) -> Result<BuiltLp, String> {
    let x = Terms::new(input, Periods::of(input)?);
    let mut b = Builder {
        pb: Problem::default(),
        keys: with_keys.then(Keys::default),
    };
    let mut offset = 0.0;

    // Columns.
    let mut cols = Columns::default();
    work_columns(&mut b, &x, &mut cols);
    inference_columns(&mut b, &x, &mut cols);
    cols.sites = x
        .sites
        .iter()
        .enumerate()
        .map(|(site, s)| energy_columns(&mut b, &x, site, s, &mut offset))
        .collect();

    // Rows.
    for (k, c) in input.classes.iter().enumerate() {
        class_rows(&mut b, &x, k, c, &cols);
    }
    demand_rows(&mut b, &x, &cols);
    for (si, s) in x.sites.iter().enumerate() {
        site_rows(&mut b, &x, si, s, &cols);
    }
    let class_slots = input
        .classes
        .iter()
        .map(|c| (c.start.min(x.slots)..class_end(&x, c), c.start_fraction))
        .collect();
    Ok(BuiltLp {
        problem: b.pb,
        keys: b.keys,
        cols,
        offset,
        periods: x.p,
        class_slots,
    })
}

/// The share of period `t` a class may use: its slots in `slots` (the window slots its work
/// may use), the first of them counted at `start_fraction` (the part after the arrival).
fn class_share(x: &Terms, t: usize, (slots, start_fraction): (&Range<usize>, f64)) -> f64 {
    let r = x.p.slots(t);
    (r.start.max(slots.start)..r.end.min(slots.end))
        .map(|s| {
            if s == slots.start {
                start_fraction
            } else {
                1.0
            }
        })
        .sum()
}

/// Work columns, class by class: at each eligible site, work at full power then at each level
/// below it; then the class's unmet and deferred work.
fn work_columns(b: &mut Builder, x: &Terms, cols: &mut Columns) {
    let n = x.input.classes.len();
    cols.work = Vec::with_capacity(n);
    cols.capped = Vec::with_capacity(n);
    cols.unmet = Vec::with_capacity(n);
    cols.deferred = Vec::with_capacity(n);
    for c in &x.input.classes {
        let (per_site, capped) = class_work_columns(b, x, c);
        cols.work.push(per_site);
        cols.capped.push(capped);
        cols.unmet.push(b.add_column(
            ColKey::Unmet(c.id),
            if c.due_after_run {
                x.deferred_after_run
            } else {
                x.late
            },
            0.0..,
        ));
        cols.deferred.push(deferred_column(b, x, c));
        cols.restart.push(restart_columns(b, x, c));
    }
}

/// One class's work columns, site by site: one per slot it may run in at full power, then one
/// per slot at each of the site's levels below full power.
fn class_work_columns(
    b: &mut Builder,
    x: &Terms,
    c: &WorkClass,
) -> (Vec<Vec<Option<Col>>>, Vec<CappedCols>) {
    let h = x.h;
    let slots = x.slots;
    let mut per_site = Vec::with_capacity(c.sites.len());
    // (position in the class's sites, level, columns per slot)
    let mut capped_per_class: Vec<CappedCols> = Vec::new();
    for &site in &c.sites {
        // Work away from a started job's site starts once its data has moved, and pays
        // for moving it.
        let (first, move_cost) = match c.home {
            Some(home) if home.site != site => (
                c.start.max(home.move_slots),
                x.to_obj(home.move_cost_per_acc_h),
            ),
            _ => (c.start, 0.0),
        };
        let due = c.due.min(slots);
        // Work may run before the deadline; for a bound, where load can pay, to the end of
        // the run ([`late_slots`]), each accelerator-hour done late charged as late. A period
        // counts as late only where it starts after the deadline (one it straddles holds no
        // more work than fits before it: `parallelism_rows`).
        let last = late_slots(x, c, site).end;
        let late = |t: usize| if x.p.start[t] >= due { x.late } else { 0.0 };
        let early = |t: usize| EARLY_WORK_PREFERENCE * x.p.start[t] as f64;
        let on = x.within(first..last);
        let full: Vec<_> = (0..h)
            .map(|t| {
                on.contains(&t).then(|| {
                    let key = ColKey::Work {
                        class: c.id,
                        site,
                        slot: x.at(t),
                    };
                    let cost = move_cost + late(t) + early(t);
                    b.add_column(key, cost, 0.0..)
                })
            })
            .collect();
        per_site.push(full);
        // The dispatcher caps a job only with slack to spare at the slower pace (its
        // hysteresis): no capped work in the last slots before the deadline. A bound has
        // no such margin: the simulator admits capped work up to the deadline.
        let capped_due = if x.input.bound {
            last
        } else {
            c.due.saturating_sub(CAPPED_MARGIN_SLOTS).min(slots)
        };
        let capped_on = x.within(first..capped_due);
        let s = &x.input.sites[site];
        for (level, &cl) in s.capped.iter().chain(&s.bound_levels).enumerate() {
            let cols = (0..h)
                .map(|t| {
                    capped_on.contains(&t).then(|| {
                        let key = ColKey::WorkCapped {
                            class: c.id,
                            site,
                            level,
                            slot: x.at(t),
                        };
                        let cost = move_cost + late(t) + early(t);
                        b.add_column(key, cost, 0.0..)
                    })
                })
                .collect();
            capped_per_class.push((per_site.len() - 1, cl, cols));
        }
    }
    (per_site, capped_per_class)
}

/// The window slots (not periods) after a class's deadline in which its work may still run at
/// `site`: none
/// but for a bound, where more load can lower the objective ([`load_can_pay`]).
///
/// The simulator lets work run after its deadline: each accelerator-hour done late costs the
/// late penalty, as work never done does, and draws its energy, which earns money where a
/// source of power pays to be used (a negative price). A bound without these columns could
/// only leave such work undone, at the late penalty and no energy: tighter than the simulator
/// (a job run late at -4.76/MWh realised 86.677 against a "bound" of 86.685, test
/// `the_bound_holds_when_late_work_earns_money`). With them, any schedule maps onto the LP:
/// work before the deadline's slot ends onto the on-time columns, work after it onto these
/// at the same late penalty, the rest onto the unmet column. Where no source pays, late work
/// could never lower the objective, so the columns are left out (the model stays as small).
/// A rolling plan has none: it never aims for late work.
fn late_slots(x: &Terms, c: &WorkClass, site: usize) -> std::ops::Range<usize> {
    let due = c.due.min(x.slots);
    if x.late_sites.get(site) == Some(&true) && !c.due_after_run {
        due..x.slots
    } else {
        due..due
    }
}

/// The window slots (not periods) in which a class's restarts may run at `site`: from its first
/// slot to the end of the window, for a bound, where more load can lower the objective
/// ([`load_can_pay`]); none elsewhere.
///
/// A restart is load without progress: a resumed job runs `restart_h` at its power level
/// before it works again. The LP has no restart cost (a bound needs none), but where energy
/// earns money, restarts earn it too: a job suspended and resumed at -100/MWh realised -2.024
/// against a "bound" of -1.886 (test `the_bound_holds_when_restarts_earn_money`). So a bound
/// may spend up to the class's `restart_acc_h` at full power (the most energy per
/// accelerator-hour a restart can draw) with no progress, within its accelerators and the
/// site's.
fn restart_slots(x: &Terms, c: &WorkClass, site: usize) -> std::ops::Range<usize> {
    if x.late_sites.get(site) == Some(&true) && c.restart_acc_h > 0.0 {
        c.start.min(x.slots)..x.slots
    } else {
        x.slots..x.slots
    }
}

/// A class's restart columns ([`restart_slots`]), site by site.
fn restart_columns(b: &mut Builder, x: &Terms, c: &WorkClass) -> Vec<Vec<Option<Col>>> {
    c.sites
        .iter()
        .map(|&site| {
            let on = x.within(restart_slots(x, c, site));
            (0..x.h)
                .map(|t| {
                    on.contains(&t).then(|| {
                        let key = ColKey::Restart {
                            class: c.id,
                            site,
                            slot: x.at(t),
                        };
                        b.add_column(key, 0.0, 0.0..)
                    })
                })
                .collect()
        })
        .collect()
}

/// The last window slot (exclusive; a slot, not a period) in which a class may use
/// accelerators: its deadline, or for a bound the end of the run where it has late work or
/// restarts.
fn class_end(x: &Terms, c: &WorkClass) -> usize {
    let end = |slots: std::ops::Range<usize>| if slots.is_empty() { 0 } else { slots.end };
    c.sites
        .iter()
        .map(|&s| end(late_slots(x, c, s)).max(end(restart_slots(x, c, s))))
        .fold(c.due.min(x.slots), usize::max)
}

/// The work columns `build` makes for a uniform model (the oracle's): per class and eligible
/// site, one per slot at full power and at each level below it (the oracle coarsens its
/// classes when there are too many).
pub fn work_column_count(input: &PlanInput) -> usize {
    let x = Terms::new(input, Periods::one_per_slot(input.slots));
    input
        .classes
        .iter()
        .map(|c| {
            c.sites
                .iter()
                .map(|&site| {
                    let s = &input.sites[site];
                    let levels = 1 + usize::from(s.capped.is_some()) + s.bound_levels.len();
                    let restarts = restart_slots(&x, c, site).len();
                    levels * late_slots(&x, c, site).end.saturating_sub(c.start) + restarts
                })
                .sum::<usize>()
        })
        .sum()
}

/// A class's work left for after the window, where its deadline lies beyond it and the plan
/// rolls on.
fn deferred_column(b: &mut Builder, x: &Terms, c: &WorkClass) -> Option<Col> {
    let (h, dt) = (x.slots, x.input.slot_h);
    match c.defer_cost_per_acc_h {
        Some(cost) if c.due > h => {
            // At most what fits after the window, and never more than a pro-rata share of
            // the time to the deadline: the window keeps pace with a uniform schedule, so
            // re-planning cannot put work off again and again while new work arrives.
            let room = (c.max_acc * (c.due - h) as f64 * dt)
                .min(c.work_acc_h * (1.0 - h as f64 / c.due as f64));
            Some(b.add_column(ColKey::Deferred(c.id), x.to_obj(cost), 0.0..=room))
        }
        _ => None,
    }
}

/// Inference columns, region by region: tokens/s served at each eligible site per slot, then
/// the tokens/s unserved per slot.
fn inference_columns(b: &mut Builder, x: &Terms, cols: &mut Columns) {
    let h = x.h;
    for (region, r) in x.input.inference.iter().enumerate() {
        cols.inference.push(
            r.sites
                .iter()
                .map(|&(site, _)| {
                    (0..h)
                        .map(|t| {
                            let key = ColKey::Inference {
                                region,
                                site,
                                slot: x.at(t),
                            };
                            b.add_column(key, 0.0, 0.0..)
                        })
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>(),
        );
        cols.unserved.push(
            (0..h)
                .map(|t| {
                    let key = ColKey::Unserved {
                        region,
                        slot: x.at(t),
                    };
                    let cost = x.unserved_per_million / 1e6 * x.dt[t] * 3600.0;
                    b.add_column(key, cost, 0.0..)
                })
                .collect::<Vec<_>>(),
        );
    }
}

/// One site's energy columns: slot by slot the grid, green, thermal and battery flows; then
/// the window's uncovered import (market-based carbon) and green-share shortfall. The grid
/// chords' intercepts are added to `offset`.
fn energy_columns(
    b: &mut Builder,
    x: &Terms,
    site: usize,
    s: &PlanSite,
    offset: &mut f64,
) -> SiteCols {
    let input = x.input;
    let mut cols = SiteCols::default();
    // Market-based carbon is priced by the uncovered-import column, not per slot.
    let market = market_carbon(input, s);
    for t in 0..x.h {
        if let Some(intercept) = slot_flow_columns(b, x, site, s, t, market.is_some(), &mut cols) {
            *offset += intercept;
        }
    }
    if let Some(m) = market {
        cols.uncovered = Some(b.add_column(
            ColKey::UncoveredImport(site),
            input.carbon_price_per_t * m.residual_g_per_kwh / 1e6,
            0.0..,
        ));
    }
    if input.min_green_share > 0.0 {
        cols.short = Some(b.add_column(
            ColKey::GreenShortfall(site),
            x.to_obj(GREEN_SHORTFALL_PER_KWH),
            0.0..,
        ));
    }
    cols
}

/// A site's flows in window slot `t`: import, import over the limit, export, green, thermal,
/// then the battery's. Returns the grid chord's intercept over the slot, where the slot's
/// grid is priced by one (the objective's constant part).
fn slot_flow_columns(
    b: &mut Builder,
    x: &Terms,
    site: usize,
    s: &PlanSite,
    t: usize,
    market: bool,
    cols: &mut SiteCols,
) -> Option<f64> {
    let dt = x.dt[t];
    let key = |flow| ColKey::Flow {
        site,
        flow,
        slot: x.at(t),
    };
    let p = slot_prices(x, s, t, market);
    cols.imp
        .push(b.add_column(key(Flow::Import), p.import * dt, 0.0..=s.import_limit_kw[t]));
    cols.over
        .push(b.add_column(key(Flow::OverLimit), p.over * dt, 0.0..));
    cols.exp
        .push(b.add_column(key(Flow::Export), -p.feed_in * dt, 0.0..=s.export_limit_kw));
    cols.green
        .push(b.add_column(key(Flow::Green), 0.0, 0.0..=s.green_kw[t].max(0.0)));
    cols.th.push(
        s.thermal
            .zip(p.thermal)
            .map(|((cap, ..), w)| b.add_column(key(Flow::Thermal), w * dt, 0.0..=cap)),
    );
    let (ch, dis, soc) = match &s.battery {
        Some(bat) => {
            let [ch, dis, soc] = battery_columns(b, x, bat, t, key);
            (Some(ch), Some(dis), Some(soc))
        }
        None => (None, None, None),
    };
    cols.ch.push(ch);
    cols.dis.push(dis);
    cols.soc.push(soc);
    p.intercept.map(|c| c * dt)
}

/// What a kWh of each of a site's flows costs in window slot `t`, in objective units (the
/// battery's wear is [`wear_per_kwh`]).
struct SlotPrices {
    /// Grid import within the limit (the chord's slope where one prices the slot).
    import: f64,
    /// Grid import above the limit: the import's price and the breach penalty.
    over: f64,
    /// What a kWh exported earns.
    feed_in: f64,
    thermal: Option<f64>,
    /// The grid chord's intercept per hour, where one prices the slot (`grid_chord`).
    intercept: Option<f64>,
}

fn slot_prices(x: &Terms, s: &PlanSite, t: usize, market: bool) -> SlotPrices {
    let input = x.input;
    let w = energy_weight(
        input.mode,
        s.price_per_mwh[t] / 1000.0,
        if market { 0.0 } else { s.carbon_g_per_kwh[t] },
        input.carbon_price_per_t,
    );
    let feed_in = match input.mode {
        ObjectiveMode::Carbon => 0.0,
        _ => s.feed_in_per_mwh[t] / 1000.0,
    };
    let (w, feed_in, intercept) = match grid_chord(s, t, w, feed_in) {
        Some((slope, constant)) => (slope, slope, Some(constant)),
        None => (w, feed_in, None),
    };
    let over = s
        .over_limit_per_kwh
        .get(t)
        .map_or(x.over_limit, |p| x.to_obj(*p));
    SlotPrices {
        import: w,
        over: w + over,
        feed_in,
        thermal: s
            .thermal
            .map(|(_, cost, g)| energy_weight(input.mode, cost, g, input.carbon_price_per_t)),
        intercept,
    }
}

/// A battery's wear per kWh delivered, in objective units (none in the carbon objective).
fn wear_per_kwh(input: &PlanInput, bat: &PlanBattery) -> f64 {
    match input.mode {
        ObjectiveMode::Carbon => 0.0,
        _ => bat.wear_cost_per_kwh,
    }
}

/// Whether more load at site `s` could ever lower the objective: only where some source of
/// power pays to be used (a kWh imported, over the limit, from thermal or from the battery at
/// a negative cost) in some slot of the window. Where none does, the energy of any load can be
/// traced back to the sources that supplied it, directly or through the battery; without the
/// load those sources are turned down (or the energy stays stored, and a later charge and its
/// source are turned down instead), which never costs more. Sites share no energy, so this is
/// per site, over every slot (the battery links them).
fn load_can_pay(x: &Terms, s: &PlanSite) -> bool {
    let market = market_carbon(x.input, s).is_some();
    let wear = s.battery.map_or(0.0, |b| wear_per_kwh(x.input, &b));
    wear < 0.0
        || (0..x.h).any(|t| {
            let p = slot_prices(x, s, t, market);
            p.import < 0.0 || p.over < 0.0 || p.thermal.is_some_and(|w| w < 0.0)
        })
}

/// Market-based carbon where the objective prices it (the balanced one): the site's
/// certificates price the carbon of its import (`UncoveredImport`), not each slot.
fn market_carbon(input: &PlanInput, s: &PlanSite) -> Option<super::model::MarketCarbon> {
    match input.mode {
        ObjectiveMode::Balanced => s.market_carbon,
        _ => None,
    }
}

/// A battery's charge, discharge and state of charge in window slot `t`.
fn battery_columns(
    b: &mut Builder,
    x: &Terms,
    bat: &PlanBattery,
    t: usize,
    key: impl Fn(Flow) -> ColKey,
) -> [Col; 3] {
    let charge = b.add_column(key(Flow::Charge), 0.0, 0.0..=bat.power_kw);
    // Wear is part of the energy cost (the carbon objective has none).
    let wear = wear_per_kwh(x.input, bat);
    let discharge = b.add_column(key(Flow::Discharge), wear * x.dt[t], 0.0..=bat.power_kw);
    // Energy left at the window's end is worth what it will save after it.
    let value = if t + 1 == x.h {
        -bat.end_value_per_kwh
    } else {
        0.0
    };
    let soc = b.add_column(key(Flow::Soc), value, bat.min_kwh..=bat.max_kwh);
    [charge, discharge, soc]
}

/// One class's rows: its work (done + unmet + deferred = work), its running work kept or
/// paused in the first slot, and its parallelism in each slot.
fn class_rows(b: &mut Builder, x: &Terms, k: usize, c: &WorkClass, cols: &Columns) {
    let mut row: Vec<(Col, f64)> = Vec::new();
    let capped = cols.capped[k].iter().map(|(_, _, slots)| slots);
    for slots in cols.work[k].iter().chain(capped) {
        row.extend(slots.iter().flatten().map(|c| (*c, 1.0)));
    }
    row.push((cols.unmet[k], 1.0));
    if let Some(d) = cols.deferred[k] {
        row.push((d, 1.0));
    }
    b.add_row(RowKey::Work(c.id), c.work_acc_h..=c.work_acc_h, &row);
    let restarts: Vec<_> = cols.restart[k]
        .iter()
        .flatten()
        .flatten()
        .map(|c| (*c, 1.0))
        .collect();
    if !restarts.is_empty() {
        b.add_row(RowKey::Restarts(c.id), ..=c.restart_acc_h, &restarts);
    }
    running_rows(b, x, k, c, cols);
    parallelism_rows(b, x, k, c, cols);
}

/// Running work kept in the first slot, or paused at the price of its restart: capacity used
/// at the site in slot 0 + stopped >= running (a column of work paused, then its row, per site
/// where the class runs now). Where the plan will be followed for later slots before the next
/// re-plan (`Running::later_acc_h`), the count of work paused runs on through them
/// (`P_t + kept_t >= running_t`, `P_t >= P_(t-1)`) and the restart is paid once, on the last:
/// a plan followed for several slots does not pause and resume work for free between them.
fn running_rows(b: &mut Builder, x: &Terms, k: usize, c: &WorkClass, cols: &Columns) {
    let kept = |pos: usize, t: usize| -> RowTerms {
        let mut row: RowTerms = cols.work[k][pos][t].map(|c| (c, 1.0)).into_iter().collect();
        row.extend(
            cols.capped[k]
                .iter()
                .filter(|(p, ..)| *p == pos)
                .filter_map(|(_, cl, slots)| slots[t].map(|c| (c, 1.0 / cl.speed))),
        );
        row
    };
    for r in &c.running {
        let site = c.sites[r.pos];
        // The later periods the plan steers, with the running work's accelerator-hours in the
        // slots of each that it steers.
        let steered = r.later_acc_h.len();
        let later: Vec<(usize, f64)> = (1..x.h)
            .take_while(|&t| x.p.start[t] <= steered)
            .map(|t| {
                let acc_h =
                    x.p.slots(t)
                        .filter(|&s| (1..=steered).contains(&s))
                        .map(|s| r.later_acc_h[s - 1])
                        .sum();
                (t, acc_h)
            })
            .collect();
        let cost = x.to_obj(r.stop_cost_per_acc_h);
        let upper = later.iter().map(|l| l.1).fold(r.acc_h, f64::max);
        let key = |t: usize| ColKey::Stopped {
            class: c.id,
            site,
            slot: x.at(t),
        };
        let stop = b.add_column(
            key(0),
            if later.is_empty() { cost } else { 0.0 },
            0.0..=upper,
        );
        let mut row = vec![(stop, 1.0)];
        row.extend(kept(r.pos, 0));
        let row_key = |t: usize| RowKey::Stopped {
            class: c.id,
            site,
            slot: x.at(t),
        };
        b.add_row(row_key(0), r.acc_h.., &row);
        let mut before = stop;
        for (i, &(t, acc_h)) in later.iter().enumerate() {
            let last = i + 1 == later.len();
            let paused = b.add_column(key(t), if last { cost } else { 0.0 }, 0.0..=upper);
            let mut row = vec![(paused, 1.0)];
            row.extend(kept(r.pos, t));
            b.add_row(row_key(t), acc_h.., &row);
            let since = RowKey::StoppedSince {
                class: c.id,
                site,
                slot: x.at(t),
            };
            b.add_row(since, 0.0.., &[(paused, 1.0), (before, -1.0)]);
            before = paused;
        }
    }
}

/// Parallelism: the class cannot use more accelerators than its jobs have.
fn parallelism_rows(b: &mut Builder, x: &Terms, k: usize, c: &WorkClass, cols: &Columns) {
    let slots = c.start.min(x.slots)..class_end(x, c);
    for t in x.within(slots.clone()) {
        // Slots the class may use in the period (a share of the first, after the arrival).
        let share = class_share(x, t, (&slots, c.start_fraction));
        // Capped work takes 1 / speed accelerator-hours per unit.
        let row: Vec<_> = cols.work[k]
            .iter()
            .filter_map(|slots| slots[t])
            .map(|c| (c, 1.0))
            .chain(
                cols.capped[k]
                    .iter()
                    .filter_map(|(_, cl, slots)| slots[t].map(|c| (c, 1.0 / cl.speed))),
            )
            .chain(
                cols.restart[k]
                    .iter()
                    .filter_map(|slots| slots[t])
                    .map(|c| (c, 1.0)),
            )
            .collect();
        let key = RowKey::Parallelism {
            class: c.id,
            slot: x.at(t),
        };
        b.add_row(key, ..=c.max_acc * share * x.input.slot_h, &row);
    }
}

/// Inference demand: served + unserved = demand.
fn demand_rows(b: &mut Builder, x: &Terms, cols: &Columns) {
    for r in 0..x.input.inference.len() {
        for t in 0..x.h {
            let mut row: Vec<_> = cols.inference[r]
                .iter()
                .map(|slots| (slots[t], 1.0))
                .collect();
            row.push((cols.unserved[r][t], 1.0));
            let key = RowKey::Demand {
                region: r,
                slot: x.at(t),
            };
            let demand = x.tokens_per_s[r][t];
            b.add_row(key, demand..=demand, &row);
        }
    }
}

/// One site's rows: slot by slot its capacity, energy balance, export source and battery;
/// then over the window its certificates (market-based carbon) and green-share floor.
fn site_rows(b: &mut Builder, x: &Terms, si: usize, s: &PlanSite, cols: &Columns) {
    let input = x.input;
    let sc = &cols.sites[si];
    let mut green_share_row: Vec<(Col, f64)> = Vec::new();
    let mut green_share_rhs = 0.0;
    for t in 0..x.h {
        let dt = x.dt[t];
        let (cap_row, load_terms) = load_terms(x, si, s, t, cols);
        let free = ((s.accelerators - s.fixed_acc[t]) * dt).max(0.0);
        if !cap_row.is_empty() {
            let key = RowKey::Capacity {
                site: si,
                slot: x.at(t),
            };
            b.add_row(key, ..=free, &cap_row);
        }
        let fixed_kw = s.pue[t] * (s.idle_it_kw + s.fixed_acc[t] * s.dyn_kw_per_acc);
        balance_row(b, x, si, t, sc, &load_terms, fixed_kw);
        if let (Some(_), true) = (sc.th[t], s.export_limit_kw > 0.0) {
            export_source_row(b, x, si, t, sc);
        }
        if let (Some(bat), Some(soc), Some(ch), Some(dis)) =
            (&s.battery, sc.soc[t], sc.ch[t], sc.dis[t])
        {
            soc_rows(b, x, si, t, bat, sc, [ch, dis, soc]);
        }
        if input.min_green_share > 0.0 {
            // green used >= share x facility, summed over the window (soft). Green used:
            // green not exported, with what the battery stores counted when it serves the
            // load (as the accounting does), so storing surplus green is not penalised;
            // this counts a battery charged from the grid as green too (an approximation).
            green_share_row.push((sc.green[t], dt));
            green_share_row.push((sc.exp[t], -dt));
            if let (Some(ch), Some(dis)) = (sc.ch[t], sc.dis[t]) {
                green_share_row.push((ch, -dt));
                green_share_row.push((dis, dt));
            }
            for (col, coef) in &load_terms {
                green_share_row.push((*col, -input.min_green_share * coef * dt));
            }
            green_share_rhs += input.min_green_share * fixed_kw * dt;
        }
    }
    if let (Some(u), Some(m)) = (sc.uncovered, s.market_carbon) {
        // import - uncovered <= certificates, over the window
        let mut row: Vec<(Col, f64)> = Vec::with_capacity(2 * x.h + 1);
        for t in 0..x.h {
            row.push((sc.imp[t], x.dt[t]));
            row.push((sc.over[t], x.dt[t]));
        }
        row.push((u, -1.0));
        b.add_row(RowKey::Certificates(si), ..=m.certificates_kwh, &row);
    }
    if let Some(short) = sc.short {
        green_share_row.push((short, 1.0));
        b.add_row(RowKey::GreenShare(si), green_share_rhs.., &green_share_row);
    }
}

/// The work and inference at site `si` in window slot `t`: their terms in its capacity row
/// (accelerator-hours) and in its energy balance (kW).
fn load_terms(
    x: &Terms,
    si: usize,
    s: &PlanSite,
    t: usize,
    cols: &Columns,
) -> (RowTerms, RowTerms) {
    let dt = x.dt[t];
    let mut cap_row: Vec<(Col, f64)> = Vec::new();
    let mut bal_row: Vec<(Col, f64)> = Vec::new();
    let pue = s.pue[t];
    for (k, c) in x.input.classes.iter().enumerate() {
        for (j, &site) in c.sites.iter().enumerate() {
            if site == si {
                if let Some(col) = cols.work[k][j][t] {
                    cap_row.push((col, 1.0));
                    bal_row.push((col, pue * s.dyn_kw_per_acc / dt));
                }
                // A restart draws full power and does no work.
                if let Some(col) = cols.restart[k][j][t] {
                    cap_row.push((col, 1.0));
                    bal_row.push((col, pue * s.dyn_kw_per_acc / dt));
                }
                for (_, cl, slots) in cols.capped[k].iter().filter(|(p, ..)| *p == j) {
                    if let Some(col) = slots[t] {
                        cap_row.push((col, 1.0 / cl.speed));
                        bal_row.push((col, pue * s.dyn_kw_per_acc * cl.level / cl.speed / dt));
                    }
                }
            }
        }
    }
    for (r, d) in x.input.inference.iter().enumerate() {
        for (j, &(site, jpt)) in d.sites.iter().enumerate() {
            if site == si {
                let col = cols.inference[r][j][t];
                cap_row.push((col, jpt / (s.dyn_kw_per_acc * 1000.0) * dt));
                bal_row.push((col, pue * jpt / 1000.0));
            }
        }
    }
    (cap_row, bal_row)
}

/// facility + charge + export = green + discharge + import + over + thermal
fn balance_row(
    b: &mut Builder,
    x: &Terms,
    si: usize,
    t: usize,
    sc: &SiteCols,
    load_terms: &[(Col, f64)],
    fixed_kw: f64,
) {
    let mut row = load_terms.to_vec();
    row.push((sc.exp[t], 1.0));
    row.push((sc.green[t], -1.0));
    row.push((sc.imp[t], -1.0));
    row.push((sc.over[t], -1.0));
    if let Some(th) = sc.th[t] {
        row.push((th, -1.0));
    }
    if let (Some(ch), Some(dis)) = (sc.ch[t], sc.dis[t]) {
        row.push((ch, 1.0));
        row.push((dis, -1.0));
    }
    let key = RowKey::Balance {
        site: si,
        slot: x.at(t),
    };
    b.add_row(key, -fixed_kw..=-fixed_kw, &row);
}

/// The simulator exports only surplus green and battery power, never thermal:
/// export <= green + discharge.
fn export_source_row(b: &mut Builder, x: &Terms, si: usize, t: usize, sc: &SiteCols) {
    let mut row = vec![(sc.exp[t], 1.0), (sc.green[t], -1.0)];
    if let Some(dis) = sc.dis[t] {
        row.push((dis, -1.0));
    }
    let key = RowKey::ExportSource {
        site: si,
        slot: x.at(t),
    };
    b.add_row(key, ..=0.0, &row);
}

/// The battery's state of charge: `soc[t] - soc[t-1] - eta dt ch + dt/eta dis = 0`
/// (`soc[-1] = soc0`); in the window's last slot, where wanted, at least the initial charge.
fn soc_rows(
    b: &mut Builder,
    x: &Terms,
    si: usize,
    t: usize,
    bat: &PlanBattery,
    sc: &SiteCols,
    [ch, dis, soc]: [Col; 3],
) {
    let dt = x.dt[t];
    let eta = bat.one_way_efficiency;
    let mut row = vec![(soc, 1.0), (ch, -eta * dt), (dis, dt / eta)];
    let rhs = if t == 0 {
        bat.soc0_kwh
    } else {
        row.push((sc.soc[t - 1].expect("battery column"), -1.0));
        0.0
    };
    let key = RowKey::Soc {
        site: si,
        slot: x.at(t),
    };
    b.add_row(key, rhs..=rhs, &row);
    if t + 1 == x.h && x.input.keep_final_soc {
        b.add_row(
            RowKey::FinalSoc(si),
            bat.soc0_kwh.clamp(bat.min_kwh, bat.max_kwh)..=f64::INFINITY,
            &[(soc, 1.0)],
        );
    }
}
