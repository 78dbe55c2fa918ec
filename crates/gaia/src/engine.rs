//! GAIA's carbon-aware batch policies (Hanafy et al., ASPLOS'24; umassos/GAIA), reproduced
//! tick for tick so that suandian's numbers can be compared with GAIA's line by line.
//!
//! GAIA runs on a clock of 5-second ticks ([`TIME_FACTOR`]): each hour of its 720-hour carbon
//! window is repeated 720 times and divided by 720, so the carbon of a job is the sum of those
//! per-tick values over the ticks it runs, times its CPUs (1 W per CPU, "CPU x hour x kgCO2/kWh").
//! This module decides start times per job, analytically, the way GAIA's policies do, and only
//! steps the clock between events; what GAIA computes with pandas and numpy it computes with the
//! same floating-point operations in the same order (numpy's pairwise summation, numpy's linear
//! quantile, CPython's heap), so start times, costs and even the order of the output rows agree.
//! The semantics, and every quirk kept on purpose, are in docs/gaia.md.
//!
//! Pure: no I/O. The file formats are in [`crate::formats`].

use std::fmt;

/// GAIA's time unit, in seconds.
pub const TIME_FACTOR: f64 = 5.0;
/// Ticks per hour (3600 / [`TIME_FACTOR`]).
pub const TICKS_PER_HOUR: usize = 720;
/// Hours of carbon GAIA reads from its carbon file for one run.
pub const WINDOW_HOURS: usize = 720;
/// Rows of a GAIA carbon file before hour 0 of the start index (GAIA reads rows
/// `PAD_ROWS + start .. PAD_ROWS + start + WINDOW_HOURS`).
pub const PAD_ROWS: usize = 17_544;
/// Jobs shorter than this (in ticks, 2 h) go to the short queue.
const SHORT_QUEUE_TICKS: f64 = 1440.0;
/// GAIA's on-demand price, $ per CPU-hour.
const ON_DEMAND_COST_HOUR: f64 = 0.0624;
/// Ticks in the window over which `suspend-resume-threshold` takes its 30 % quantile (24 h).
const THRESHOLD_WINDOW: usize = 17_280;

/// The start indices of GAIA's `-i -1` sweep: `range(0, 8500, 500)`, i.e. 0, 500, ..., 8000.
pub fn sweep_starts() -> impl Iterator<Item = usize> {
    (0..8500).step_by(500)
}

/// GAIA's `--scheduling-policy` (the ones without reserved or spot instances).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchedulingPolicy {
    /// `carbon`: every job starts once, at the time its carbon policy picks.
    Carbon,
    /// `suspend-resume` (WaitAwhile, optimal): run in the cheapest ticks of the job's
    /// length + waiting window.
    SuspendResume,
    /// `suspend-resume-threshold` (Ecovisor-like): run while carbon is under the 30 % quantile
    /// of the next 24 h, until the waiting budget is spent.
    SuspendResumeThreshold,
}

impl SchedulingPolicy {
    /// GAIA's names.
    pub const ALL: [(&'static str, SchedulingPolicy); 3] = [
        ("carbon", SchedulingPolicy::Carbon),
        ("suspend-resume", SchedulingPolicy::SuspendResume),
        (
            "suspend-resume-threshold",
            SchedulingPolicy::SuspendResumeThreshold,
        ),
    ];

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
    }

    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, p)| *p == self).unwrap().0
    }
}

/// GAIA's `--carbon-policy`: how the `carbon` scheduling policy picks a start time. The
/// suspend-resume policies ignore it (GAIA too), but it is part of the output file names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarbonPolicy {
    /// `lowest`: the first tick of lowest carbon intensity within the waiting limit.
    Lowest,
    /// `waiting`: `oracle` on the expected length (the mean of the job's queue), at whole hours.
    Waiting,
    /// `oracle`: the whole-hour start within the waiting limit with the least carbon over the
    /// job's true length.
    Oracle,
    /// `cst_oracle`: the whole-hour start with the most carbon saved per tick of
    /// (wait + length), on the true length.
    CstOracle,
    /// `cst_average`: `cst_oracle` on the expected length.
    CstAverage,
}

impl CarbonPolicy {
    /// GAIA's names.
    pub const ALL: [(&'static str, CarbonPolicy); 5] = [
        ("lowest", CarbonPolicy::Lowest),
        ("waiting", CarbonPolicy::Waiting),
        ("oracle", CarbonPolicy::Oracle),
        ("cst_oracle", CarbonPolicy::CstOracle),
        ("cst_average", CarbonPolicy::CstAverage),
    ];

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
    }

    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, p)| *p == self).unwrap().0
    }
}

/// Parse GAIA's `-w` waiting times: hours per queue, `x`-separated (`6x24`: 6 h for the short
/// queue, 24 h for the long one; `0x0`: no waiting). GAIA accepts one queue or two.
pub fn parse_wait(s: &str) -> Result<Vec<f64>, String> {
    let parts: Vec<&str> = s.split('x').collect();
    if parts.len() > 2 {
        return Err(format!(
            "found `{s}`, expected one or two waiting times in hours separated by `x`, e.g. 6x24"
        ));
    }
    parts
        .iter()
        .map(|p| match p.trim().parse::<f64>() {
            Ok(h) if h.is_finite() && h >= 0.0 => Ok(h),
            _ => Err(format!(
                "found `{s}`, expected waiting times in hours (numbers >= 0) separated by `x`, e.g. 6x24"
            )),
        })
        .collect()
}

/// One job of a GAIA trace, as in the file (seconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraceJob {
    pub arrival_s: f64,
    pub length_s: f64,
    pub cpus: f64,
}

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub policy: SchedulingPolicy,
    pub carbon_policy: CarbonPolicy,
    /// Maximum wait per queue in hours, as parsed by [`parse_wait`].
    pub wait_hours: Vec<f64>,
}

/// One row of GAIA's `details-` file: one job, or one piece of a suspended job.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The job's row in the trace (0-based).
    pub id: usize,
    /// In ticks; for a piece of a suspended job, its submission tick.
    pub arrival: i64,
    /// In ticks.
    pub length: i64,
    pub cpus: i64,
    pub length_class: &'static str,
    pub resource_class: &'static str,
    pub carbon_cost: f64,
    pub dollar_cost: f64,
    pub start: i64,
    pub waiting: i64,
    pub exit: i64,
}

/// The result of one run: what GAIA writes into its three files.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// In the order GAIA submits them to its cluster.
    pub rows: Vec<Row>,
    /// Sum of the rows' carbon, in their order (GAIA's `carbon_cost`).
    pub carbon_cost: f64,
    /// Sum of the rows' dollars, in their order (GAIA's `dollar_cost`).
    pub dollar_cost: f64,
    /// Mean CPUs in use per 60 ticks (5 minutes), GAIA's `runtime-` file.
    pub runtime: Vec<f64>,
    /// Jobs (or pieces) still queued when the carbon window ended, which GAIA silently drops.
    pub dropped: usize,
}

impl Outcome {
    /// Mean of the rows' waiting times, in ticks (the figure the conformance test compares).
    pub fn mean_wait_ticks(&self) -> f64 {
        if self.rows.is_empty() {
            return 0.0;
        }
        self.rows.iter().map(|r| r.waiting as f64).sum::<f64>() / self.rows.len() as f64
    }
}

/// A run GAIA itself would abort (it raises an exception), or input it cannot take.
#[derive(Debug, Clone, PartialEq)]
pub enum GaiaError {
    /// GAIA asserts every job is at least 300 s long.
    TooShortJob { id: usize, length_s: f64 },
    /// A job would run past the end of the carbon window.
    PastWindow { id: usize, tick: i64, ticks: usize },
    /// No whole-hour start fits in the carbon window.
    NoStart { id: usize },
    /// The carbon window is empty.
    EmptyWindow,
    /// The waiting times are not one or two numbers.
    Wait(String),
}

impl fmt::Display for GaiaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GaiaError::TooShortJob { id, length_s } => write!(
                f,
                "job {id}: length {length_s} s, but GAIA needs every job to last at least 300 s"
            ),
            GaiaError::PastWindow { id, tick, ticks } => write!(
                f,
                "job {id}: would run to tick {tick}, past the end of the carbon window \
                 ({ticks} ticks of 5 s); GAIA stops there too (\"Trace is shorter than task\")"
            ),
            GaiaError::NoStart { id } => write!(
                f,
                "job {id}: no start time within its waiting limit fits in the carbon window"
            ),
            GaiaError::EmptyWindow => write!(f, "the carbon window is empty"),
            GaiaError::Wait(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for GaiaError {}

/// GAIA's length class of a job of `ticks` ticks (its labels, not the hours they name:
/// up to 4 h is "2-6", up to 8 h "6-12", and so on).
pub fn length_class(ticks: f64) -> &'static str {
    let h = ticks / (3600.0 / TIME_FACTOR);
    if h <= 2.0 {
        "0-2"
    } else if h <= 4.0 {
        "2-6"
    } else if h <= 8.0 {
        "6-12"
    } else if h <= 16.0 {
        "12-24"
    } else if h <= 48.0 {
        "24-48"
    } else {
        "48+"
    }
}

/// GAIA's resource class of a job of `cpus` CPUs.
pub fn resource_class(cpus: i64) -> &'static str {
    match cpus {
        1 => "1",
        2 => "2",
        c if c <= 4 => "3-4",
        c if c <= 8 => "5-8",
        c if c <= 16 => "9-16",
        c if c <= 32 => "17-32",
        c if c <= 64 => "33-64",
        _ => "64+",
    }
}

/// numpy's pairwise summation (`DOUBLE_pairwise_sum`) of `n` values given by `at`.
fn pairwise(at: &impl Fn(usize) -> f64, a: usize, n: usize) -> f64 {
    if n < 8 {
        let mut r = -0.0;
        for i in a..a + n {
            r += at(i);
        }
        r
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        for (j, rj) in r.iter_mut().enumerate() {
            *rj = at(a + j);
        }
        let mut i = 8;
        while i < n - (n % 8) {
            for (j, rj) in r.iter_mut().enumerate() {
                *rj += at(a + i + j);
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += at(a + i);
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise(at, a, n2) + pairwise(at, a + n2, n - n2)
    }
}

/// `numpy.sum` of a slice (identity 0, then the pairwise sum).
pub fn numpy_sum(values: &[f64]) -> f64 {
    0.0 + pairwise(&|i| values[i], 0, values.len())
}

/// The carbon window at GAIA's 5-second resolution, held as one value per hour.
struct Carbon {
    /// Per-tick value of each hour: `(g/kWh / 1000) / 720`, as GAIA computes it.
    per_tick: Vec<f64>,
    ticks: usize,
}

impl Carbon {
    fn new(hourly_g_per_kwh: &[f64]) -> Self {
        let per_tick: Vec<f64> = hourly_g_per_kwh
            .iter()
            .map(|c| (c / 1000.0) / (3600.0 / TIME_FACTOR))
            .collect();
        let ticks = per_tick.len() * TICKS_PER_HOUR;
        Carbon { per_tick, ticks }
    }

    #[inline]
    fn at(&self, t: usize) -> f64 {
        self.per_tick[t / TICKS_PER_HOUR]
    }

    /// `carbon[a .. a + n].sum()` exactly as numpy computes it; leaves that lie inside one hour
    /// are summed in closed form (the same additions, without reading memory).
    fn sum(&self, a: usize, n: usize) -> f64 {
        0.0 + self.pw(a, n)
    }

    fn pw(&self, a: usize, n: usize) -> f64 {
        if n <= 128 && n > 0 && a / TICKS_PER_HOUR == (a + n - 1) / TICKS_PER_HOUR {
            let v = self.at(a);
            if n < 8 {
                let mut r = -0.0;
                for _ in 0..n {
                    r += v;
                }
                return r;
            }
            let q = n / 8;
            let mut s = v;
            for _ in 1..q {
                s += v;
            }
            // ((s + s) + (s + s)) + ((s + s) + (s + s)): doublings, exact.
            let mut res = s * 8.0;
            for _ in 0..n % 8 {
                res += v;
            }
            return res;
        }
        if n <= 128 {
            return pairwise(&|i| self.at(i), a, n);
        }
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        self.pw(a, n2) + self.pw(a + n2, n - n2)
    }

    /// The constant-value stretches of `[a, a + n)` (cut at hour boundaries), as
    /// `(start, length, value)`, in time order.
    fn segments(&self, a: usize, n: usize) -> Vec<(usize, usize, f64)> {
        let mut out = Vec::with_capacity(n / TICKS_PER_HOUR + 2);
        let mut t = a;
        let end = a + n;
        while t < end {
            let next = ((t / TICKS_PER_HOUR + 1) * TICKS_PER_HOUR).min(end);
            out.push((t, next - t, self.at(t)));
            t = next;
        }
        out
    }
}

/// The queues: waiting limit and expected length per queue, in ticks.
struct Queues {
    waits: Vec<f64>,
    /// Mean length of the short (<= 2 h) and long (>= 2 h) jobs of the trace, in ticks.
    mean_length: [f64; 2],
}

impl Queues {
    /// GAIA's `get_expected_time`: (expected length, waiting limit), by true length.
    fn expected(&self, length: i64) -> (i64, i64) {
        let (e, w) = if self.waits.len() == 1 {
            (2.0, self.waits[0])
        } else if (length as f64) < SHORT_QUEUE_TICKS {
            (self.mean_length[0], self.waits[0])
        } else {
            (self.mean_length[1], self.waits[1])
        };
        (py_int(e), py_int(w))
    }
}

/// Python's `int()` of a float (truncation; NaN, never used, maps to 0).
fn py_int(x: f64) -> i64 {
    if x.is_nan() {
        0
    } else {
        x.trunc() as i64
    }
}

#[derive(Debug, Clone)]
struct Task {
    id: usize,
    arrival: i64,
    length: i64,
    length_class: &'static str,
    cpus: i64,
    expected: i64,
    wait: i64,
}

impl Task {
    fn new(id: usize, arrival: f64, length: f64, cpus: i64, q: &Queues) -> Task {
        let length_i = py_int(length);
        let (expected, wait) = q.expected(length_i);
        Task {
            id,
            arrival: py_int(arrival),
            length: length_i,
            length_class: length_class(length),
            cpus,
            expected,
            wait,
        }
    }
}

struct QueueItem {
    priority: i64,
    max_start: i64,
    task: Task,
}

/// CPython's `heapq`, as `queue.PriorityQueue` uses it, comparing by priority alone: the
/// order in which equal priorities come out is part of GAIA's output.
mod pyheap {
    pub fn push<T>(h: &mut Vec<T>, x: T, key: impl Fn(&T) -> i64) {
        h.push(x);
        let n = h.len() - 1;
        sift_down(h, 0, n, &key);
    }

    pub fn pop<T>(h: &mut Vec<T>, key: impl Fn(&T) -> i64) -> Option<T> {
        let last = h.pop()?;
        if h.is_empty() {
            return Some(last);
        }
        let ret = std::mem::replace(&mut h[0], last);
        sift_up(h, 0, &key);
        Some(ret)
    }

    fn sift_down<T>(h: &mut [T], start: usize, mut pos: usize, key: &impl Fn(&T) -> i64) {
        let k = key(&h[pos]);
        while pos > start {
            let parent = (pos - 1) >> 1;
            if k < key(&h[parent]) {
                h.swap(parent, pos);
                pos = parent;
            } else {
                break;
            }
        }
    }

    fn sift_up<T>(h: &mut [T], mut pos: usize, key: &impl Fn(&T) -> i64) {
        let end = h.len();
        let start = pos;
        let limit = end >> 1;
        while pos < limit {
            let mut child = 2 * pos + 1;
            if child + 1 < end && key(&h[child]) >= key(&h[child + 1]) {
                child += 1;
            }
            h.swap(child, pos);
            pos = child;
        }
        sift_down(h, start, pos, key);
    }
}

/// Runs `k` idle executions on a queue: each pops every item and pushes it back (nothing is
/// ready), which leaves the items sorted but permutes equal priorities. The permutation is the
/// same every tick, so it is computed once and applied `k` times along its cycles.
fn idle_ticks(queue: &mut Vec<QueueItem>, k: i64) {
    if k <= 0 || !queue.windows(2).any(|w| w[0].priority == w[1].priority) {
        return;
    }
    let prio: Vec<i64> = queue.iter().map(|q| q.priority).collect();
    let mut h: Vec<usize> = (0..queue.len()).collect();
    let mut perm = Vec::with_capacity(queue.len());
    while let Some(i) = pyheap::pop(&mut h, |&i| prio[i]) {
        perm.push(i);
    }
    // new[i] = old[perm[i]]; after k ticks new[i] = old[perm^k(i)].
    let n = perm.len();
    let mut src = vec![usize::MAX; n];
    let mut seen = vec![false; n];
    let mut cycle = Vec::new();
    for s in 0..n {
        if seen[s] {
            continue;
        }
        cycle.clear();
        let mut i = s;
        while !seen[i] {
            seen[i] = true;
            cycle.push(i);
            i = perm[i];
        }
        let len = cycle.len();
        let shift = (k as usize) % len;
        for (j, &c) in cycle.iter().enumerate() {
            src[c] = cycle[(j + shift) % len];
        }
    }
    if src.iter().enumerate().all(|(i, &s)| i == s) {
        return;
    }
    let mut old: Vec<Option<QueueItem>> = queue.drain(..).map(Some).collect();
    for &s in &src {
        queue.push(old[s].take().unwrap());
    }
}

/// Whether `x` beats the best so far (the first best is kept on ties, as Python's `min`/`max`).
/// (`Option::is_none_or` would do, but needs Rust 1.82; the workspace declares 1.80.)
fn better(best: Option<(usize, f64)>, x: f64, beats: impl Fn(f64, f64) -> bool) -> bool {
    match best {
        None => true,
        Some((_, b)) => beats(x, b),
    }
}

/// numpy's `percentile(..., method="linear")` as pandas' `quantile(0.3)` calls it, on the
/// carbon of `[a, a + n)`.
fn quantile_30(c: &Carbon, a: usize, n: usize) -> f64 {
    let mut segs = c.segments(a, n);
    segs.sort_by(|x, y| x.2.total_cmp(&y.2));
    let q = (0.3f64 * 100.0) / 100.0;
    let virt = (n as f64 - 1.0) * q;
    let (prev, next, gamma) = if virt >= n as f64 - 1.0 {
        (n - 1, n - 1, virt - (n - 1) as f64)
    } else {
        let p = virt.floor();
        (p as usize, p as usize + 1, virt - p)
    };
    let kth = |k: usize| {
        let mut seen = 0;
        for s in &segs {
            seen += s.1;
            if k < seen {
                return s.2;
            }
        }
        segs.last().unwrap().2
    };
    let (lo, hi) = (kth(prev), kth(next));
    let diff = hi - lo;
    if gamma >= 0.5 {
        hi - diff * (1.0 - gamma)
    } else {
        lo + diff * gamma
    }
}

struct Engine<'a> {
    carbon: Carbon,
    queues: Queues,
    cfg: &'a Config,
}

impl Engine<'_> {
    /// The carbon policy's start offset for `task` submitted at `now` (GAIA's
    /// `compute_start_time` on the sub-trace `[now, now + max(length, expected) + wait + 1)`).
    fn carbon_start(&self, task: &Task, now: usize) -> Result<usize, GaiaError> {
        let len = task.length.max(task.expected) + task.wait + 1;
        let sub = (len as usize).min(self.carbon.ticks.saturating_sub(now));
        let hour = TICKS_PER_HOUR;
        let wait = task.wait as usize;
        let fits = |start: usize, length: i64| start + length as usize <= sub;
        let cost = |start: usize, length: i64| self.carbon.sum(now + start, length as usize);
        // GAIA's `oracle_carbon_slot` on a job of `length` (candidates that do not fit are
        // skipped; the first minimum wins).
        let oracle = |length: i64, w: usize| -> Option<usize> {
            let mut best: Option<(usize, f64)> = None;
            for i in (0..=w).step_by(hour) {
                if !fits(i, length) {
                    continue;
                }
                let c = cost(i, length) * task.cpus as f64;
                if better(best, c, |x, y| x < y) {
                    best = Some((i, c));
                }
            }
            best.map(|b| b.0)
        };
        // GAIA's `oracle_carbon_slot_waiting`: most carbon saved per tick of wait + length,
        // relative to starting at once (the first maximum wins).
        let cst = |length: i64, w: usize| -> Option<usize> {
            let mut at_once = None;
            let mut best: Option<(usize, f64)> = None;
            for i in (0..=w).step_by(hour) {
                if !fits(i, length) {
                    continue;
                }
                let c = cost(i, length) * task.cpus as f64;
                if i == 0 {
                    at_once = Some(c);
                }
                let ca = at_once?;
                let key = (ca - c) / ((i as i64 + length) as f64);
                if better(best, key, |x, y| x > y) {
                    best = Some((i, key));
                }
            }
            best.map(|b| b.0)
        };
        let expected_wait = || self.queues.expected(task.expected).1 as usize;
        let start = match self.cfg.carbon_policy {
            CarbonPolicy::Lowest => {
                if task.wait == 0 {
                    Some(0)
                } else {
                    // idxmin over the first wait + 1 ticks: the first tick of the cheapest hour.
                    let n = (wait + 1).min(sub);
                    let mut best: Option<(usize, f64)> = None;
                    for (s, _, v) in self.carbon.segments(now, n) {
                        if better(best, v, |x, y| x < y) {
                            best = Some((s - now, v));
                        }
                    }
                    best.map(|b| b.0)
                }
            }
            CarbonPolicy::Oracle => oracle(task.length, wait),
            CarbonPolicy::Waiting => oracle(task.expected, expected_wait()),
            CarbonPolicy::CstOracle => cst(task.length, wait),
            CarbonPolicy::CstAverage => cst(task.expected, expected_wait()),
        };
        let start = start.ok_or(GaiaError::NoStart { id: task.id })?;
        if !fits(start, task.length) {
            return Err(GaiaError::PastWindow {
                id: task.id,
                tick: (now + start) as i64 + task.length,
                ticks: self.carbon.ticks,
            });
        }
        Ok(start)
    }

    /// The ticks (relative to `now`) a suspend-resume policy runs `task` in, as runs
    /// `(start, length)` in time order.
    fn suspend_runs(&self, task: &Task, now: usize) -> Result<Vec<(usize, usize)>, GaiaError> {
        let length = task.length as usize;
        let n = length + task.wait as usize;
        if now + n > self.carbon.ticks {
            return Err(GaiaError::PastWindow {
                id: task.id,
                tick: (now + n) as i64,
                ticks: self.carbon.ticks,
            });
        }
        let segs = self.carbon.segments(now, n);
        let mut runs: Vec<(usize, usize)> = Vec::new();
        let mut add = |s: usize, l: usize| {
            if l == 0 {
                return;
            }
            match runs.last_mut() {
                Some(last) if last.0 + last.1 == s => last.1 += l,
                _ => runs.push((s, l)),
            }
        };
        match self.cfg.policy {
            SchedulingPolicy::SuspendResume => {
                // The `length` cheapest ticks, ties to the earliest (a stable sort by value).
                let mut order: Vec<usize> = (0..segs.len()).collect();
                order.sort_by(|&x, &y| segs[x].2.total_cmp(&segs[y].2).then(x.cmp(&y)));
                let mut take = vec![0usize; segs.len()];
                let mut left = length;
                for &k in &order {
                    if left == 0 {
                        break;
                    }
                    take[k] = segs[k].1.min(left);
                    left -= take[k];
                }
                for (k, &(s, _, _)) in segs.iter().enumerate() {
                    add(s - now, take[k]);
                }
            }
            SchedulingPolicy::SuspendResumeThreshold => {
                let qn = THRESHOLD_WINDOW.min(self.carbon.ticks - now);
                let threshold = quantile_30(&self.carbon, now, qn);
                let mut left = length;
                let mut waiting = task.wait as usize;
                for &(s, l, v) in &segs {
                    if left == 0 {
                        break;
                    }
                    let (skip, run) = if v < threshold {
                        (0, l.min(left))
                    } else {
                        let skip = waiting.min(l);
                        waiting -= skip;
                        (skip, (l - skip).min(left))
                    };
                    add(s - now + skip, run);
                    left -= run;
                }
            }
            SchedulingPolicy::Carbon => unreachable!(),
        }
        Ok(runs)
    }

    fn submit(&self, task: Task, now: usize, queue: &mut Vec<QueueItem>) -> Result<(), GaiaError> {
        let key = |q: &QueueItem| q.priority;
        let priority = task.arrival;
        if self.cfg.policy == SchedulingPolicy::Carbon {
            let start = self.carbon_start(&task, now)?;
            let item = QueueItem {
                priority,
                max_start: (now + start) as i64,
                task,
            };
            pyheap::push(queue, item, key);
            return Ok(());
        }
        let runs = self.suspend_runs(&task, now)?;
        if runs.len() == 1 {
            let item = QueueItem {
                priority,
                max_start: (now + runs[0].0) as i64,
                task,
            };
            pyheap::push(queue, item, key);
            return Ok(());
        }
        for &(s, l) in &runs {
            let mut piece = Task::new(task.id, now as f64, l as f64, task.cpus, &self.queues);
            if self.cfg.policy == SchedulingPolicy::SuspendResumeThreshold {
                piece.length_class = task.length_class;
            }
            let item = QueueItem {
                priority,
                max_start: (now + s) as i64,
                task: piece,
            };
            pyheap::push(queue, item, key);
        }
        Ok(())
    }
}

/// Run GAIA on a carbon window (`hourly_g_per_kwh`: the hours GAIA reads, at most
/// [`WINDOW_HOURS`]) and a job trace (in file order).
pub fn run(
    hourly_g_per_kwh: &[f64],
    jobs: &[TraceJob],
    cfg: &Config,
) -> Result<Outcome, GaiaError> {
    if hourly_g_per_kwh.is_empty() {
        return Err(GaiaError::EmptyWindow);
    }
    if cfg.wait_hours.is_empty() || cfg.wait_hours.len() > 2 {
        return Err(GaiaError::Wait(format!(
            "{} waiting times given, GAIA takes one or two",
            cfg.wait_hours.len()
        )));
    }
    let carbon = Carbon::new(hourly_g_per_kwh);
    let ticks = carbon.ticks;

    // load_tasks: lengths and arrivals in ticks, the queues' mean lengths.
    let length: Vec<f64> = jobs.iter().map(|j| j.length_s / TIME_FACTOR).collect();
    for (id, j) in jobs.iter().enumerate() {
        // NaN fails too, as GAIA's assert does.
        if length[id].is_nan() || length[id] < 300.0 / TIME_FACTOR {
            return Err(GaiaError::TooShortJob {
                id,
                length_s: j.length_s,
            });
        }
    }
    let mean = |keep: &dyn Fn(f64) -> bool| {
        let v: Vec<f64> = length.iter().copied().filter(|&l| keep(l)).collect();
        numpy_sum(&v) / v.len() as f64
    };
    let queues = Queues {
        waits: cfg
            .wait_hours
            .iter()
            .map(|h| h * 3600.0 / TIME_FACTOR)
            .collect(),
        mean_length: [
            mean(&|l| l <= SHORT_QUEUE_TICKS),
            mean(&|l| l >= SHORT_QUEUE_TICKS),
        ],
    };
    let engine = Engine {
        carbon,
        queues,
        cfg,
    };
    let tasks: Vec<Task> = jobs
        .iter()
        .enumerate()
        .map(|(id, j)| {
            Task::new(
                id,
                j.arrival_s / TIME_FACTOR,
                length[id],
                py_int(j.cpus),
                &engine.queues,
            )
        })
        .collect();

    let on_demand = ON_DEMAND_COST_HOUR / (3600.0 / TIME_FACTOR);
    let mut rows = Vec::with_capacity(tasks.len());
    let mut carbon_total = 0.0;
    let mut dollar_total = 0.0;
    let mut busy = vec![0i64; ticks + 1];
    let mut queue: Vec<QueueItem> = Vec::new();
    let mut tasks = tasks.into_iter().peekable();
    let mut last: i64 = -1;
    loop {
        // The next tick at which anything happens: a submission or a queued item coming due.
        let next_sub = tasks.peek().map(|t| t.arrival.max(last + 1));
        let next_due = queue.iter().map(|q| q.max_start.max(last + 1)).min();
        let now = match (next_sub, next_due) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => break,
        };
        if now >= ticks as i64 {
            break;
        }
        idle_ticks(&mut queue, now - last - 1);
        while tasks.peek().is_some_and(|t| t.arrival <= now) {
            let t = tasks.next().unwrap();
            engine.submit(t, now as usize, &mut queue)?;
        }
        let mut kept = Vec::with_capacity(queue.len());
        while let Some(item) = pyheap::pop(&mut queue, |q| q.priority) {
            if now < item.max_start {
                kept.push(item);
                continue;
            }
            let t = item.task;
            let exit = now + t.length;
            if exit >= ticks as i64 {
                return Err(GaiaError::PastWindow {
                    id: t.id,
                    tick: exit,
                    ticks,
                });
            }
            let carbon = engine.carbon.sum(now as usize, t.length as usize) * t.cpus as f64;
            let dollar = (t.cpus * t.length) as f64 * on_demand;
            carbon_total += carbon;
            dollar_total += dollar;
            busy[now as usize] += t.cpus;
            busy[exit as usize + 1] -= t.cpus;
            rows.push(Row {
                id: t.id,
                arrival: t.arrival,
                length: t.length,
                cpus: t.cpus,
                length_class: t.length_class,
                resource_class: resource_class(t.cpus),
                carbon_cost: carbon,
                dollar_cost: dollar,
                start: now,
                waiting: now - t.arrival,
                exit,
            });
        }
        queue = kept;
        last = now;
    }
    let dropped = queue.len() + tasks.count();

    // runtime: CPUs in use at every tick (start and exit tick both counted), mean per 60.
    let mut runtime = Vec::with_capacity(ticks.div_ceil(60));
    let mut level = 0i64;
    let mut acc = 0i64;
    for (t, d) in busy.iter().take(ticks).enumerate() {
        level += d;
        acc += level;
        if t % 60 == 59 || t + 1 == ticks {
            runtime.push(acc as f64 / (t % 60 + 1) as f64);
            acc = 0;
        }
    }
    Ok(Outcome {
        rows,
        carbon_cost: carbon_total,
        dollar_cost: dollar_total,
        runtime,
        dropped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_parsing() {
        assert_eq!(parse_wait("6x24").unwrap(), vec![6.0, 24.0]);
        assert_eq!(parse_wait("0x0").unwrap(), vec![0.0, 0.0]);
        assert_eq!(parse_wait("12").unwrap(), vec![12.0]);
        assert!(parse_wait("6x24x48").is_err());
        assert!(parse_wait("6h").is_err());
        assert!(parse_wait("-1x2").is_err());
    }

    #[test]
    fn closed_form_sum_is_numpy_pairwise() {
        let hourly: Vec<f64> = (0..30).map(|h| 100.0 + 37.3 * (h as f64).sin()).collect();
        let c = Carbon::new(&hourly);
        for (a, n) in [
            (0, 5),
            (10, 700),
            (715, 10),
            (1000, 5000),
            (123, 20_000),
            (0, 128),
        ] {
            let direct = 0.0 + pairwise(&|i| c.at(i), a, n);
            assert_eq!(c.sum(a, n).to_bits(), direct.to_bits(), "a={a} n={n}");
        }
    }

    #[test]
    fn heap_pops_equal_priorities_like_cpython() {
        // heapq on [a1..a5], all equal: pops a1, a3, ... (not a1, a2, ...).
        let mut h: Vec<(i64, usize)> = (0..5).map(|i| (7, i)).collect();
        let mut out = vec![];
        while let Some(x) = pyheap::pop(&mut h, |x| x.0) {
            out.push(x.1);
        }
        assert_eq!(out[0], 0);
        assert_eq!(out[1], 2);
    }

    #[test]
    fn no_wait_starts_every_job_on_arrival() {
        let hourly = vec![200.0; 48];
        let jobs = [
            TraceJob {
                arrival_s: 0.0,
                length_s: 3600.0,
                cpus: 2.0,
            },
            TraceJob {
                arrival_s: 100.0,
                length_s: 9000.0,
                cpus: 1.0,
            },
        ];
        let cfg = Config {
            policy: SchedulingPolicy::Carbon,
            carbon_policy: CarbonPolicy::Oracle,
            wait_hours: vec![0.0, 0.0],
        };
        let out = run(&hourly, &jobs, &cfg).unwrap();
        assert_eq!(out.rows.len(), 2);
        assert_eq!(out.rows[1].start, 20);
        assert_eq!(out.rows[1].waiting, 0);
        // 1 h x 2 CPUs x 0.2 kg/kWh.
        assert!((out.rows[0].carbon_cost - 0.4).abs() < 1e-12);
        assert_eq!(out.runtime.len(), 48 * 12);
    }
}
