//! What the workload manager reports of each job's runs, turned into the run's hours.
//!
//! The executor reads Slurm's queue every few moments ([`crate::executor::Observed`]: state,
//! partition, and Slurm's own start, end and suspend instants). [`JobRuns::update`] folds the
//! readings into each job's runs on the wall clock, from Slurm's timestamps where it gives them
//! (the reading's instant only where it does not); [`SlotClock`] turns wall-clock instants into
//! hours of the run from when each slot began. The control loop keeps both in the store and
//! hands the runs to [`suandian_core::engine::Engine::observed_outcome`].

use crate::executor::Observed;
use serde::{Deserialize, Serialize};

/// One run of a job at a site (its partition's), Unix seconds; `to_unix_s` is `None` while it
/// runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub site: String,
    pub from_unix_s: f64,
    pub to_unix_s: Option<f64>,
}

/// A job's runs as observed, and when it completed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobRuns {
    pub runs: Vec<Run>,
    pub completed_unix_s: Option<f64>,
}

/// Slurm's states in which a job has ended for good (all but `COMPLETED` without completing).
pub const TERMINAL: [&str; 8] = [
    "COMPLETED",
    "CANCELLED",
    "FAILED",
    "TIMEOUT",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "BOOT_FAIL",
    "DEADLINE",
];

impl JobRuns {
    fn open(&self) -> bool {
        self.runs.last().is_some_and(|r| r.to_unix_s.is_none())
    }

    /// The end of the last closed run (or minus infinity).
    fn last_end(&self) -> f64 {
        self.runs
            .iter()
            .filter_map(|r| r.to_unix_s)
            .fold(f64::NEG_INFINITY, f64::max)
    }

    fn close(&mut self, at: f64) {
        if let Some(r) = self.runs.last_mut() {
            if r.to_unix_s.is_none() {
                r.to_unix_s = Some(at.max(r.from_unix_s));
            }
        }
    }

    /// Fold one reading of the job, taken at `now` (Unix seconds), into its runs. Slurm's
    /// instants are whole seconds: a run starts at its start time (or its last resume), ends
    /// at its suspend time, its end time, or, where Slurm gives none that fits, at the reading.
    /// Returns whether anything changed.
    pub fn update(&mut self, o: &Observed, now: f64) -> bool {
        let before = self.clone();
        // Slurm's whole second stands for the second that follows it: its middle is the best
        // estimate of the instant (never later than the reading).
        let mid = |t: i64| {
            if t > 0 {
                (t as f64 + 0.5).min(now)
            } else {
                0.0
            }
        };
        let (start, end, switched) = (
            mid(o.start_unix_s),
            mid(o.end_unix_s),
            mid(o.suspend_unix_s),
        );
        let since = |t: f64, floor: f64| if t > 0.0 { t.max(floor) } else { now };
        match o.state.as_str() {
            "RUNNING" => {
                if self.open() && self.runs.last().is_some_and(|r| r.site != o.site) {
                    // Requeued and started elsewhere between two readings.
                    self.close(start.min(now));
                }
                if !self.open() {
                    // Started, or resumed (Slurm's suspend time is the last switch).
                    let from = since(start.max(switched), self.last_end()).min(now);
                    self.runs.push(Run {
                        site: o.site.clone(),
                        from_unix_s: from,
                        to_unix_s: None,
                    });
                }
            }
            "SUSPENDED" => {
                let from = self.runs.last().map_or(0.0, |r| r.from_unix_s);
                self.close(if switched >= from { switched } else { now });
            }
            s if TERMINAL.contains(&s) => {
                if self.open() {
                    self.close(if end > 0.0 && end <= now { end } else { now });
                } else if start > 0.0 && end > start && start >= self.last_end() {
                    // Started and ended between two readings.
                    self.runs.push(Run {
                        site: o.site.clone(),
                        from_unix_s: start,
                        to_unix_s: Some(end),
                    });
                }
                if s == "COMPLETED" && self.completed_unix_s.is_none() {
                    self.completed_unix_s = Some(if end > 0.0 { end } else { now });
                }
            }
            // Pending again (requeued, held): a run that was open has ended.
            _ => {
                if self.open() {
                    let from = self.runs.last().map_or(0.0, |r| r.from_unix_s);
                    self.close(if end >= from && end <= now { end } else { now });
                }
            }
        }
        *self != before
    }
}

/// When each slot began on the wall clock: the map from Unix seconds to the run's hours.
#[derive(Debug, Clone, Default)]
pub struct SlotClock {
    /// `began[t]`: when slot `t` began (NaN: not recorded).
    began: Vec<f64>,
    /// Wall seconds per slot at the service's speed.
    interval_s: f64,
    slot_h: f64,
}

impl SlotClock {
    pub fn new(interval_s: f64, slot_h: f64) -> SlotClock {
        SlotClock {
            began: Vec::new(),
            interval_s,
            slot_h,
        }
    }

    /// When slot `t` began, if recorded.
    pub fn began(&self, t: usize) -> Option<f64> {
        self.began.get(t).copied().filter(|b| b.is_finite())
    }

    pub fn set(&mut self, slot: usize, unix_s: f64) {
        if self.began.len() <= slot {
            self.began.resize(slot + 1, f64::NAN);
        }
        self.began[slot] = unix_s;
    }

    /// When slot `t` ended: an interval after it began, or when the next began if that was
    /// sooner (stepped by hand).
    fn end_of(&self, t: usize) -> f64 {
        let end = self.began[t] + self.interval_s;
        match self.began.get(t + 1) {
            Some(&b) if b.is_finite() => end.min(b),
            _ => end,
        }
    }

    /// The slots that have ended by `unix_s`, counted from the first (a slot not recorded
    /// stops the count).
    pub fn ended_by(&self, unix_s: f64) -> usize {
        (0..self.began.len())
            .take_while(|&t| self.began[t].is_finite() && self.end_of(t) <= unix_s)
            .count()
    }

    /// The run's hour at wall-clock instant `unix_s`: within the slot that had begun by then,
    /// in proportion (a slot whose interval has passed before the next began ends at its
    /// interval's end: the clock was paused or stepped by hand).
    pub fn hours_at(&self, unix_s: f64) -> f64 {
        let t = match self
            .began
            .iter()
            .rposition(|&b| b.is_finite() && b <= unix_s)
        {
            Some(t) => t,
            None => return 0.0,
        };
        let (a, b) = (self.began[t], self.end_of(t));
        let frac = if b > a {
            ((unix_s - a) / (b - a)).clamp(0.0, 1.0)
        } else {
            1.0
        };
        (t as f64 + frac) * self.slot_h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(state: &str, partition: &str, start: i64, end: i64, switched: i64) -> Observed {
        Observed {
            id: "j".into(),
            executor_id: "1".into(),
            state: state.into(),
            partition: partition.into(),
            site: partition.into(),
            accelerators: 1,
            held: false,
            start_unix_s: start,
            end_unix_s: end,
            suspend_unix_s: switched,
        }
    }

    /// Started at 100, suspended at 103, resumed at 110, moved (requeued) at 112, started
    /// again elsewhere at 114, completed at 120 (Slurm's whole seconds, each read as its
    /// middle): readings in between the changes.
    #[test]
    fn readings_become_runs_on_slurms_own_instants() {
        let mut j = JobRuns::default();
        let never = 100 + 365 * 86_400;
        assert!(!j.update(&seen("PENDING", "east", 0, 0, 0), 99.0));
        assert!(j.update(&seen("RUNNING", "east", 100, never, 0), 101.5));
        assert!(!j.update(&seen("RUNNING", "east", 100, never, 0), 102.5));
        assert!(j.update(&seen("SUSPENDED", "east", 100, never, 103), 104.0));
        assert!(j.update(&seen("RUNNING", "east", 100, never, 110), 111.0));
        // Requeued held: Slurm's end time is the requeue.
        assert!(j.update(&seen("PENDING", "east", 100, 112, 110), 112.5));
        assert!(j.update(&seen("RUNNING", "west", 114, never, 0), 115.0));
        assert!(j.update(&seen("COMPLETED", "west", 114, 120, 0), 121.0));
        let runs: Vec<(&str, f64, Option<f64>)> = j
            .runs
            .iter()
            .map(|r| (r.site.as_str(), r.from_unix_s, r.to_unix_s))
            .collect();
        assert_eq!(
            runs,
            vec![
                ("east", 100.5, Some(103.5)),
                ("east", 110.5, Some(112.5)),
                ("west", 114.5, Some(120.5)),
            ]
        );
        assert_eq!(j.completed_unix_s, Some(120.5));
        // A job seen only once it had completed.
        let mut k = JobRuns::default();
        assert!(k.update(&seen("COMPLETED", "middle", 200, 204, 0), 205.0));
        assert_eq!(k.runs[0].to_unix_s, Some(204.5));
        // Cancelled while it ran: the run ends, nothing completes.
        let mut c = JobRuns::default();
        c.update(&seen("RUNNING", "east", 300, never, 0), 301.0);
        c.update(&seen("CANCELLED", "east", 300, 305, 0), 306.0);
        assert_eq!(c.runs[0].to_unix_s, Some(305.5));
        assert_eq!(c.completed_unix_s, None);
    }

    /// Slots of 2 s beginning at 1000, 1002, 1004; the clock then paused, and slot 3 began at
    /// 1010 (stepped by hand).
    #[test]
    fn the_clock_maps_wall_seconds_to_hours() {
        let mut c = SlotClock::new(2.0, 1.0);
        for (t, at) in [(0, 1000.0), (1, 1002.0), (2, 1004.0), (3, 1010.0)] {
            c.set(t, at);
        }
        assert_eq!(c.hours_at(999.0), 0.0);
        assert_eq!(c.hours_at(1000.5), 0.25);
        assert_eq!(c.hours_at(1003.0), 1.5);
        // Paused after slot 2's interval: its end holds until slot 3 began.
        assert_eq!(c.hours_at(1007.0), 3.0);
        assert_eq!(c.hours_at(1011.0), 3.5);
        assert_eq!(c.ended_by(1004.0), 2);
        assert_eq!(c.ended_by(1011.9), 3);
        assert_eq!(c.ended_by(1012.0), 4);
    }
}
