//! OpenADR events into what the engine takes: import caps over windows for the targeted sites,
//! and signal values (prices, carbon intensity) for the slots an event covers. Pure: the same
//! events, sites and instant always give the same pieces, with ids that name the event, its
//! version and the piece, so the VEN converges on them (submit what is missing, cancel what is
//! no longer wanted) and a restart finds what it already gave.
//!
//! Time: an event's instants are read on the scenario's calendar (the grid's start + hours);
//! in real time with a scenario that starts when the service does, that is the wall clock.
//!
//! What each payload becomes (docs/openadr.md):
//! - `IMPORT_CAPACITY_LIMIT` (kW, `W`/`MW` by its descriptor's units): a cap on each targeted
//!   site's grid import over the interval.
//! - `DISPATCH_SETPOINT`: the same, at the set-point (a ceiling: the engine never imports more).
//! - `DISPATCH_SETPOINT_RELATIVE`: a cap at the site's baseline (the counterfactual's import in
//!   the last slot) plus the value (negative: a reduction).
//! - `SIMPLE` levels 1, 2, 3 and `ALERT_GRID_EMERGENCY`: a cap at the baseline less 10 %, 25 %,
//!   50 % (the emergency: 50 %), the shares of Emerald AI's flexibility tiers 1-3; level 0: none.
//! - `PRICE`, `EXPORT_PRICE` (per kWh unless the units say `MWH`), `GHG` (g/kWh, or `KG_PER_KWH`):
//!   the site's price, feed-in price or carbon-intensity forecast for the slots the interval
//!   starts in (only where the service takes live signals).
//!
//! Overlapping events on one site and payload are resolved by priority (lower wins; an event
//! without one ranks last), then by the lower cap.

use super::wire::Event;
use chrono::{DateTime, Utc};

/// What the mapping needs of the scenario and the moment.
pub struct Frame<'a> {
    pub grid_start: DateTime<Utc>,
    pub slot_h: f64,
    /// The horizon's end, hours (an open-ended event runs to it).
    pub horizon_h: f64,
    /// What a start of "now" means (the VEN rewrites each event's "now" to when it received
    /// it, so that the pieces do not move as time passes).
    pub now: DateTime<Utc>,
    /// Site names, in the scenario's order.
    pub sites: &'a [String],
    /// Names that target every site (the VEN's name).
    pub everything: &'a [String],
    /// Each event's sites' baseline import, kW, by event id (relative set-points and levels
    /// are taken from it; the VEN keeps the one it had when the event's version arrived).
    pub baselines: &'a std::collections::HashMap<String, Vec<f64>>,
    /// The scenario's currency (a price in another is not taken).
    pub currency: &'a str,
}

/// An import cap the engine takes as a demand-response event.
#[derive(Debug, Clone, PartialEq)]
pub struct CapPiece {
    pub id: String,
    pub event_id: String,
    pub interval_id: i64,
    pub site: String,
    pub start_h: f64,
    pub end_h: f64,
    pub cap_kw: f64,
}

/// Values of one signal for consecutive slots of one site.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalPiece {
    pub event_id: String,
    /// The service's signal name: `price_per_mwh`, `feed_in_price_per_mwh`, `carbon_g_per_kwh`.
    pub signal: &'static str,
    pub site: String,
    pub first_slot: usize,
    pub values: Vec<f64>,
}

/// An event (or a payload of it) that is not taken, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    pub event_id: String,
    /// `other_targets`, `unknown_payload`, `unknown_units`, `no_start`, `over`, `currency`.
    pub reason: &'static str,
    pub detail: String,
}

#[derive(Debug, Default)]
pub struct Mapped {
    pub caps: Vec<CapPiece>,
    pub signals: Vec<SignalPiece>,
    pub skipped: Vec<Skipped>,
}

/// The payload types this VEN acts on.
pub const KNOWN: [&str; 8] = [
    "IMPORT_CAPACITY_LIMIT",
    "DISPATCH_SETPOINT",
    "DISPATCH_SETPOINT_RELATIVE",
    "SIMPLE",
    "ALERT_GRID_EMERGENCY",
    "PRICE",
    "EXPORT_PRICE",
    "GHG",
];

/// The share of the baseline shed at each `SIMPLE` level (0 to 3).
pub const SIMPLE_SHED: [f64; 4] = [0.0, 0.10, 0.25, 0.50];

/// Payloads and other information-only types that carry nothing to act on (counted apart
/// from unknown ones).
const INFORMATIONAL: [&str; 4] = [
    "ALERT_OTHER",
    "CTA",
    "REGULATION_SETPOINT",
    "CHARGE_STATE_SETPOINT",
];

/// The strings hashed, each ended by a byte no UTF-8 text holds (so `ab`,`c` is not `a`,`bc`).
fn fnv(parts: &[&str]) -> u64 {
    let mut h = suandian_core::hash::Fnv1a::default();
    for p in parts {
        h.bytes(p.as_bytes()).bytes(&[0xff]);
    }
    h.finish()
}

/// The sites an event targets: every site where it names none, or names the VEN; else the
/// named ones that are sites here (`None`: none of them is ours).
pub fn targeted(e: &Event, f: &Frame) -> Option<Vec<usize>> {
    if e.targets.is_empty() || e.targets.iter().any(|t| f.everything.contains(t)) {
        return Some((0..f.sites.len()).collect());
    }
    let s: Vec<usize> = (0..f.sites.len())
        .filter(|&k| e.targets.contains(&f.sites[k]))
        .collect();
    (!s.is_empty()).then_some(s)
}

fn hours(f: &Frame, t: DateTime<Utc>) -> f64 {
    (t - f.grid_start).num_milliseconds() as f64 / 3_600_000.0
}

/// A power value in kW from its descriptor's units (kW where none).
fn kw(units: Option<&str>, v: f64) -> Option<f64> {
    match units {
        None | Some("KW") => Some(v),
        Some("W") => Some(v / 1000.0),
        Some("MW") => Some(v * 1000.0),
        _ => None,
    }
}

struct Want {
    priority: i64,
    cap_kw: f64,
    start_h: f64,
    end_h: f64,
    event: usize,
    interval: i64,
}

/// Every event's pieces, resolved by priority where they overlap.
pub fn map(events: &[Event], f: &Frame) -> Mapped {
    let mut out = Mapped::default();
    // Per site: the caps wanted, before the overlaps are resolved.
    let mut wants: Vec<Vec<Want>> = (0..f.sites.len()).map(|_| Vec::new()).collect();
    // Per (signal, site, slot): (priority, value, event).
    let mut sig: std::collections::BTreeMap<(&'static str, usize, usize), (i64, f64, usize)> =
        Default::default();
    for (k, e) in events.iter().enumerate() {
        let skip = |reason: &'static str, detail: String| Skipped {
            event_id: e.id.clone(),
            reason,
            detail,
        };
        let Some(sites) = targeted(e, f) else {
            out.skipped.push(skip(
                "other_targets",
                format!("targets {:?} name none of this VEN's sites", e.targets),
            ));
            continue;
        };
        let priority = e.priority.unwrap_or(i64::MAX);
        let none = vec![0.0; f.sites.len()];
        let baseline_kw = f.baselines.get(&e.id).unwrap_or(&none);
        // `spans` gives one span per interval, in order (ids may repeat: matched by place).
        for ((iv, span), interval) in e.spans(f.now).into_iter().zip(&e.intervals) {
            let Some((start, end)) = span else {
                out.skipped.push(skip(
                    "no_start",
                    format!("interval {iv} has no start (none of its own, nor the event's)"),
                ));
                continue;
            };
            let start_h = hours(f, start).max(-1e6);
            let end_h = end.map_or(f.horizon_h, |t| hours(f, t)).min(f.horizon_h);
            if end_h <= start_h {
                continue;
            }
            for p in &interval.payloads {
                let Some(&v) = p.values.first() else { continue };
                let units = e.units(&p.kind);
                let units = units.as_deref();
                let cap = |wants: &mut Vec<Vec<Want>>, per_site: &dyn Fn(usize) -> Option<f64>| {
                    for &s in &sites {
                        if let Some(c) = per_site(s) {
                            wants[s].push(Want {
                                priority,
                                cap_kw: c.max(0.0),
                                start_h,
                                end_h,
                                event: k,
                                interval: iv,
                            });
                        }
                    }
                };
                match p.kind.as_str() {
                    "IMPORT_CAPACITY_LIMIT" | "DISPATCH_SETPOINT" => match kw(units, v) {
                        Some(c) => cap(&mut wants, &|_| Some(c)),
                        None => out.skipped.push(skip(
                            "unknown_units",
                            format!("{} in {units:?}: expected KW, W or MW", p.kind),
                        )),
                    },
                    "DISPATCH_SETPOINT_RELATIVE" => match kw(units, v) {
                        Some(d) => cap(&mut wants, &|s| baseline_kw.get(s).map(|b| b + d)),
                        None => out.skipped.push(skip(
                            "unknown_units",
                            format!("{} in {units:?}: expected KW, W or MW", p.kind),
                        )),
                    },
                    "SIMPLE" | "ALERT_GRID_EMERGENCY" => {
                        let level = if p.kind == "SIMPLE" {
                            v.round().clamp(0.0, 3.0) as usize
                        } else {
                            3
                        };
                        if level > 0 {
                            let keep = 1.0 - SIMPLE_SHED[level];
                            cap(&mut wants, &|s| baseline_kw.get(s).map(|b| b * keep));
                        }
                    }
                    "PRICE" | "EXPORT_PRICE" | "GHG" => {
                        let currency = e
                            .descriptors
                            .iter()
                            .find(|d| d.kind == p.kind)
                            .and_then(|d| d.currency.clone());
                        if p.kind != "GHG" {
                            if let Some(c) =
                                currency.filter(|c| !c.eq_ignore_ascii_case(f.currency))
                            {
                                out.skipped.push(skip(
                                    "currency",
                                    format!(
                                        "{} in {c}: the scenario's currency is {}",
                                        p.kind, f.currency
                                    ),
                                ));
                                continue;
                            }
                        }
                        let (signal, value) = match (p.kind.as_str(), units) {
                            ("GHG", None | Some("G_PER_KWH") | Some("GCO2_PER_KWH")) => {
                                ("carbon_g_per_kwh", Some(v))
                            }
                            ("GHG", Some("KG_PER_KWH")) => ("carbon_g_per_kwh", Some(v * 1000.0)),
                            ("GHG", _) => ("carbon_g_per_kwh", None),
                            (kind, u) => (
                                if kind == "PRICE" {
                                    "price_per_mwh"
                                } else {
                                    "feed_in_price_per_mwh"
                                },
                                match u {
                                    None | Some("KWH") => Some(v * 1000.0),
                                    Some("MWH") => Some(v),
                                    _ => None,
                                },
                            ),
                        };
                        let Some(value) = value else {
                            out.skipped
                                .push(skip("unknown_units", format!("{} in {units:?}", p.kind)));
                            continue;
                        };
                        // The slots that start inside the interval.
                        let first = (start_h / f.slot_h - 1e-9).ceil().max(0.0) as usize;
                        let mut t = first;
                        while (t as f64) * f.slot_h < end_h - 1e-9
                            && (t as f64) * f.slot_h < f.horizon_h - 1e-9
                        {
                            for &s in &sites {
                                let key = (signal, s, t);
                                let better = match sig.get(&key) {
                                    None => true,
                                    Some(&(p0, _, _)) => priority < p0,
                                };
                                if better {
                                    sig.insert(key, (priority, value, k));
                                }
                            }
                            t += 1;
                        }
                    }
                    other if INFORMATIONAL.contains(&other) => {}
                    other => out.skipped.push(skip(
                        "unknown_payload",
                        format!(
                            "payload type {other}: this VEN acts on {}",
                            KNOWN.join(", ")
                        ),
                    )),
                }
            }
        }
    }
    for (s, list) in wants.iter().enumerate() {
        resolve(events, f, s, list, &mut out.caps);
    }
    // Consecutive slots from one event become one piece.
    for ((signal, s, t), (_, v, k)) in sig {
        if let Some(last) = out.signals.last_mut() {
            if last.signal == signal
                && last.site == f.sites[s]
                && last.event_id == events[k].id
                && last.first_slot + last.values.len() == t
            {
                last.values.push(v);
                continue;
            }
        }
        out.signals.push(SignalPiece {
            event_id: events[k].id.clone(),
            signal,
            site: f.sites[s].clone(),
            first_slot: t,
            values: vec![v],
        });
    }
    out
}

/// One site's caps: in each stretch between two boundaries, the most important wanted cap
/// (then the lowest); consecutive stretches of the same interval merged.
fn resolve(events: &[Event], f: &Frame, site: usize, list: &[Want], caps: &mut Vec<CapPiece>) {
    let mut cuts: Vec<f64> = list.iter().flat_map(|w| [w.start_h, w.end_h]).collect();
    cuts.sort_by(f64::total_cmp);
    cuts.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
    let mut pieces: Vec<(f64, f64, &Want)> = Vec::new();
    for w2 in cuts.windows(2) {
        let (a, b) = (w2[0], w2[1]);
        let mid = 0.5 * (a + b);
        let best = list
            .iter()
            .filter(|w| w.start_h <= mid && mid < w.end_h)
            .min_by(|x, y| {
                x.priority
                    .cmp(&y.priority)
                    .then(x.cap_kw.total_cmp(&y.cap_kw))
            });
        if let Some(w) = best {
            match pieces.last_mut() {
                Some(last)
                    if (last.1 - a).abs() < 1e-9
                        && last.2.event == w.event
                        && last.2.interval == w.interval
                        && last.2.cap_kw == w.cap_kw =>
                {
                    last.1 = b;
                }
                _ => pieces.push((a, b, w)),
            }
        }
    }
    for (a, b, w) in pieces {
        let e = &events[w.event];
        let version = fnv(&[
            &e.modified,
            &format!("{a:.6}"),
            &format!("{b:.6}"),
            &format!("{:.6}", w.cap_kw),
        ]);
        caps.push(CapPiece {
            id: format!(
                "oadr:{}:{}:{}:{version:016x}",
                e.id, w.interval, f.sites[site]
            ),
            event_id: e.id.clone(),
            interval_id: w.interval,
            site: f.sites[site].clone(),
            start_h: a,
            end_h: b,
            cap_kw: w.cap_kw,
        });
    }
}

/// The event a piece's id names (`None`: not one this VEN gave).
pub fn event_of_piece(id: &str) -> Option<&str> {
    let rest = id.strip_prefix("oadr:")?;
    // The event id may itself hold colons: the last three fields are fixed.
    let mut it = rest.rsplitn(4, ':');
    let (_v, _site, _iv) = (it.next()?, it.next()?, it.next()?);
    it.next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn frame<'a>(
        sites: &'a [String],
        baselines: &'a std::collections::HashMap<String, Vec<f64>>,
    ) -> Frame<'a> {
        let grid_start = super::super::wire::parse_datetime("2026-01-01T00:00:00Z").unwrap();
        Frame {
            grid_start,
            slot_h: 1.0,
            horizon_h: 48.0,
            now: grid_start,
            sites,
            everything: &[],
            baselines,
            currency: "CNY",
        }
    }

    fn none() -> std::collections::HashMap<String, Vec<f64>> {
        Default::default()
    }

    fn ev(v: serde_json::Value) -> Event {
        Event::from_json(&v).unwrap()
    }

    fn cap_event(
        id: &str,
        prio: Option<i64>,
        start: &str,
        dur: &str,
        kw: f64,
        targets: &[&str],
    ) -> Event {
        let mut v = json!({"id": id, "programID": "p", "modificationDateTime": "2026-01-01T00:00:00Z",
            "targets": targets,
            "intervalPeriod": {"start": start, "duration": dur},
            "intervals": [{"id": 0, "payloads": [{"type": "IMPORT_CAPACITY_LIMIT", "values": [kw]}]}]});
        if let Some(p) = prio {
            v["priority"] = json!(p);
        }
        ev(v)
    }

    #[test]
    fn a_cap_for_the_targeted_site_over_its_interval() {
        let sites = ["east".to_string(), "west".to_string()];
        let m = map(
            &[cap_event(
                "e1",
                None,
                "2026-01-01T05:00:00Z",
                "PT3H",
                40.0,
                &["east"],
            )],
            &frame(&sites, &none()),
        );
        assert_eq!(m.caps.len(), 1);
        let c = &m.caps[0];
        assert_eq!(
            (c.site.as_str(), c.start_h, c.end_h, c.cap_kw),
            ("east", 5.0, 8.0, 40.0)
        );
        assert_eq!(event_of_piece(&c.id), Some("e1"));
        assert!(m.skipped.is_empty());
        // Other targets: skipped, with the reason.
        let m = map(
            &[cap_event(
                "e2",
                None,
                "2026-01-01T05:00:00Z",
                "PT3H",
                40.0,
                &["elsewhere"],
            )],
            &frame(&sites, &none()),
        );
        assert!(m.caps.is_empty());
        assert_eq!(m.skipped[0].reason, "other_targets");
    }

    #[test]
    fn overlaps_resolved_by_priority_then_the_lower_cap() {
        let sites = ["east".to_string()];
        // e-low (priority 5) caps 10 kW over 4-10 h; e-high (priority 1) 30 kW over 6-8 h.
        let m = map(
            &[
                cap_event("e-low", Some(5), "2026-01-01T04:00:00Z", "PT6H", 10.0, &[]),
                cap_event("e-high", Some(1), "2026-01-01T06:00:00Z", "PT2H", 30.0, &[]),
            ],
            &frame(&sites, &none()),
        );
        let got: Vec<(String, f64, f64, f64)> = m
            .caps
            .iter()
            .map(|c| (c.event_id.clone(), c.start_h, c.end_h, c.cap_kw))
            .collect();
        assert_eq!(
            got,
            vec![
                ("e-low".into(), 4.0, 6.0, 10.0),
                ("e-high".into(), 6.0, 8.0, 30.0),
                ("e-low".into(), 8.0, 10.0, 10.0),
            ]
        );
        // Equal priority: the lower cap.
        let m = map(
            &[
                cap_event("a", Some(1), "2026-01-01T04:00:00Z", "PT2H", 10.0, &[]),
                cap_event("b", Some(1), "2026-01-01T04:00:00Z", "PT2H", 5.0, &[]),
            ],
            &frame(&sites, &none()),
        );
        assert_eq!(m.caps.len(), 1);
        assert_eq!(m.caps[0].event_id, "b");
    }

    #[test]
    fn a_new_version_gets_new_ids_and_the_same_version_the_same() {
        let sites = ["east".to_string()];
        let n = none();
        let f = frame(&sites, &n);
        let a = map(
            &[cap_event(
                "e",
                None,
                "2026-01-01T04:00:00Z",
                "PT2H",
                10.0,
                &[],
            )],
            &f,
        );
        let b = map(
            &[cap_event(
                "e",
                None,
                "2026-01-01T04:00:00Z",
                "PT2H",
                10.0,
                &[],
            )],
            &f,
        );
        let c = map(
            &[cap_event(
                "e",
                None,
                "2026-01-01T04:00:00Z",
                "PT2H",
                12.0,
                &[],
            )],
            &f,
        );
        assert_eq!(a.caps[0].id, b.caps[0].id);
        assert_ne!(a.caps[0].id, c.caps[0].id);
    }

    #[test]
    fn units_levels_relative_set_points_and_prices() {
        let sites = ["east".to_string(), "west".to_string()];
        let base = [("x".to_string(), vec![100.0, 200.0])]
            .into_iter()
            .collect();
        let f = frame(&sites, &base);
        let e = ev(
            json!({"id": "x", "programID": "p", "modificationDateTime": "2026-01-01T00:00:00Z",
            "payloadDescriptors": [{"payloadType": "IMPORT_CAPACITY_LIMIT", "units": "MW"},
                                   {"payloadType": "PRICE", "units": "KWH", "currency": "CNY"}],
            "intervalPeriod": {"start": "2026-01-01T01:00:00Z", "duration": "PT2H"},
            "intervals": [
                {"id": 0, "payloads": [{"type": "IMPORT_CAPACITY_LIMIT", "values": [0.05]},
                                       {"type": "PRICE", "values": [0.9]}]},
                {"id": 1, "payloads": [{"type": "SIMPLE", "values": [2]}]},
                {"id": 2, "payloads": [{"type": "DISPATCH_SETPOINT_RELATIVE", "values": [-30]}]},
                {"id": 3, "payloads": [{"type": "FOO", "values": [1]}]}
            ]}),
        );
        let m = map(&[e], &f);
        let east: Vec<(f64, f64, f64)> = m
            .caps
            .iter()
            .filter(|c| c.site == "east")
            .map(|c| (c.start_h, c.end_h, c.cap_kw))
            .collect();
        assert_eq!(
            east,
            vec![(1.0, 3.0, 50.0), (3.0, 5.0, 75.0), (5.0, 7.0, 70.0)]
        );
        let west: Vec<f64> = m
            .caps
            .iter()
            .filter(|c| c.site == "west")
            .map(|c| c.cap_kw)
            .collect();
        assert_eq!(west, vec![50.0, 150.0, 170.0]);
        assert_eq!(m.signals.len(), 2);
        assert_eq!(m.signals[0].signal, "price_per_mwh");
        assert_eq!(
            (m.signals[0].first_slot, m.signals[0].values.clone()),
            (1, vec![900.0, 900.0])
        );
        assert_eq!(m.skipped.len(), 1);
        assert_eq!(m.skipped[0].reason, "unknown_payload");
    }

    #[test]
    fn open_intervals_run_to_the_horizon() {
        let sites = ["east".to_string()];
        let n = none();
        let f = frame(&sites, &n);
        let m = map(
            &[cap_event(
                "open",
                None,
                "2026-01-01T09:00:00Z",
                "P9999Y",
                1.0,
                &[],
            )],
            &f,
        );
        assert_eq!((m.caps[0].start_h, m.caps[0].end_h), (9.0, 48.0));
    }
}
