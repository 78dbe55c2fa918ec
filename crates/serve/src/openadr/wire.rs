//! The OpenADR 3.1 wire format as the VEN reads it, written from the specification (the
//! OpenADR Alliance's OpenAPI file, 3.1.0) and tolerant where real servers differ: any string
//! or number as an id, integers echoed as floats, `clientId` or `clientID`, a missing
//! `objectType`, targets as strings (3.1) or `{type, values}` objects (3.0), an
//! `intervalPeriod` without `start` (the event's, or the previous interval's end), and every
//! ISO 8601 duration (`PT1H`, `P0Y0M0DT1H0M0S`, weeks, fractions), with "forever" and "now"
//! recognised by value (`P9999Y` or any duration past a century; a start before year 1000).
//!
//! Parsing is by hand from `serde_json::Value`, so that a field that does not fit is named by
//! its path (`intervals[2].payloads[0].values[0]`), with what was found and what was expected.

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

/// A field of a VTN's answer that does not fit.
#[derive(Debug, Clone, PartialEq)]
pub struct WireError {
    pub field: String,
    pub found: String,
    pub expected: String,
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}`: found {}, expected {}",
            self.field, self.found, self.expected
        )
    }
}

fn err(field: &str, found: &Value, expected: &str) -> WireError {
    let mut found = found.to_string();
    if found.len() > 80 {
        let mut cut = 77;
        while !found.is_char_boundary(cut) {
            cut -= 1;
        }
        found.truncate(cut);
        found.push_str("...");
    }
    WireError {
        field: field.into(),
        found,
        expected: expected.into(),
    }
}

/// A duration this long or longer is "forever" (the specification spells it `P9999Y`).
pub const FOREVER_DAYS: i64 = 36_500;

/// An interval's or event's length: a span, or open-ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Span {
    Finite(Duration),
    Forever,
}

/// An ISO 8601 duration (`PnYnMnWnDTnHnMnS`, any part optional, the smallest one may have a
/// fraction; a year is 365 days and a month 30, as no calendar is attached). `P9999Y`, and
/// anything past [`FOREVER_DAYS`], is [`Span::Forever`].
pub fn parse_duration(s: &str) -> Option<Span> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let body = body.strip_prefix('P').or_else(|| body.strip_prefix('p'))?;
    if body.is_empty() {
        return None;
    }
    let (date, time) = match body.split_once(['T', 't']) {
        Some((d, t)) => {
            if t.is_empty() {
                return None;
            }
            (d, Some(t))
        }
        None => (body, None),
    };
    let mut seconds = 0.0f64;
    let mut any = false;
    let mut read = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut num = String::new();
        let mut order = 0usize;
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' || c == ',' {
                num.push(if c == ',' { '.' } else { c });
                continue;
            }
            let c = c.to_ascii_uppercase();
            let k = units[order..].iter().position(|(u, _)| *u == c)? + order;
            let v: f64 = num.parse().ok()?;
            if !v.is_finite() {
                return None;
            }
            seconds += v * units[k].1;
            num.clear();
            order = k + 1;
            any = true;
        }
        num.is_empty().then_some(())
    };
    const DAY: f64 = 86_400.0;
    read(
        date,
        &[
            ('Y', 365.0 * DAY),
            ('M', 30.0 * DAY),
            ('W', 7.0 * DAY),
            ('D', DAY),
        ],
    )?;
    if let Some(t) = time {
        read(t, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    if !any {
        return None;
    }
    if seconds >= FOREVER_DAYS as f64 * DAY {
        return Some(Span::Forever);
    }
    let ms = (seconds * 1000.0).round() as i64;
    Some(Span::Finite(Duration::milliseconds(if neg {
        -ms
    } else {
        ms
    })))
}

/// A start that means "now" by value: the specification's `0001-01-01`, or any instant before
/// the year 1000.
pub fn means_now(t: DateTime<Utc>) -> bool {
    use chrono::Datelike;
    t.year() < 1000
}

/// An RFC 3339 / ISO 8601 instant; one without an offset is read as UTC.
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?));
    }
    None
}

/// A start: an instant, or "now".
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Start {
    At(DateTime<Utc>),
    Now,
}

/// `intervalPeriod`: each part optional.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Period {
    pub start: Option<Start>,
    pub duration: Option<Span>,
}

/// One payload of an interval: its type and numeric values (a value that is not a number,
/// such as a `SIMPLE` level spelled as a string, is read as one where it parses).
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    pub kind: String,
    pub values: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Interval {
    pub id: i64,
    pub period: Option<Period>,
    pub payloads: Vec<Payload>,
}

/// `payloadDescriptors[]`: the unit (and currency) of a payload type.
#[derive(Debug, Clone, PartialEq)]
pub struct Descriptor {
    pub kind: String,
    pub units: Option<String>,
    pub currency: Option<String>,
}

/// An event as the VTN sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub program_id: String,
    pub name: Option<String>,
    /// `modificationDateTime` (else `createdDateTime`), as sent: the version the VEN has.
    pub modified: String,
    /// Lower is more important; `None`: unspecified (the least).
    pub priority: Option<i64>,
    pub targets: Vec<String>,
    pub descriptors: Vec<Descriptor>,
    pub period: Option<Period>,
    pub intervals: Vec<Interval>,
}

/// An id: any string, or a number written as one.
fn id_of(v: &Value, field: &str) -> Result<String, WireError> {
    match v {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::Number(n) => Ok(match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        }),
        _ => Err(err(field, v, "an id (a non-empty string)")),
    }
}

/// An integer, also when echoed as a float (`1.0`) or a string (`"1"`).
fn int_of(v: &Value, field: &str) -> Result<i64, WireError> {
    let f = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match f {
        Some(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        _ => Err(err(field, v, "an integer")),
    }
}

fn str_of<'a>(v: &'a Value, field: &str) -> Result<&'a str, WireError> {
    v.as_str().ok_or_else(|| err(field, v, "a string"))
}

/// The first of `names` present (and not null) in `o`.
fn get<'a>(o: &'a serde_json::Map<String, Value>, names: &[&str]) -> Option<&'a Value> {
    names
        .iter()
        .find_map(|n| o.get(*n).filter(|v| !v.is_null()))
}

fn object<'a>(v: &'a Value, field: &str) -> Result<&'a serde_json::Map<String, Value>, WireError> {
    v.as_object().ok_or_else(|| err(field, v, "an object"))
}

fn array<'a>(v: &'a Value, field: &str) -> Result<&'a [Value], WireError> {
    v.as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| err(field, v, "an array"))
}

fn period_of(v: &Value, field: &str) -> Result<Period, WireError> {
    let o = object(v, field)?;
    let start = match o.get("start").filter(|v| !v.is_null()) {
        None => None,
        Some(s) => {
            let f = format!("{field}.start");
            let t = parse_datetime(str_of(s, &f)?)
                .ok_or_else(|| err(&f, s, "an RFC 3339 date-time"))?;
            Some(if means_now(t) {
                Start::Now
            } else {
                Start::At(t)
            })
        }
    };
    let duration = match o.get("duration").filter(|v| !v.is_null()) {
        None => None,
        Some(d) => {
            let f = format!("{field}.duration");
            let span = parse_duration(str_of(d, &f)?)
                .ok_or_else(|| err(&f, d, "an ISO 8601 duration such as PT1H"))?;
            if matches!(span, Span::Finite(x) if x < Duration::zero()) {
                return Err(err(&f, d, "a duration that is not negative"));
            }
            Some(span)
        }
    };
    Ok(Period { start, duration })
}

/// Targets: strings (3.1), or `{type, values}` objects (3.0) whose values are taken.
fn targets_of(v: &Value, field: &str) -> Result<Vec<String>, WireError> {
    let mut out = Vec::new();
    for (k, t) in array(v, field)?.iter().enumerate() {
        let f = format!("{field}[{k}]");
        match t {
            Value::String(s) => out.push(s.clone()),
            Value::Object(o) => {
                let values = o
                    .get("values")
                    .ok_or_else(|| err(&f, t, "a string, or an object with `values`"))?;
                for (i, x) in array(values, &format!("{f}.values"))?.iter().enumerate() {
                    out.push(str_of(x, &format!("{f}.values[{i}]"))?.to_string());
                }
            }
            _ => return Err(err(&f, t, "a target name (a string)")),
        }
    }
    Ok(out)
}

fn payload_of(v: &Value, field: &str) -> Result<Payload, WireError> {
    let o = object(v, field)?;
    let kind =
        get(o, &["type", "payloadType"]).ok_or_else(|| err(field, v, "a payload with `type`"))?;
    let kind = str_of(kind, &format!("{field}.type"))?.to_string();
    let values = get(o, &["values"]).ok_or_else(|| err(field, v, "a payload with `values`"))?;
    let f = format!("{field}.values");
    let mut out = Vec::new();
    for (k, x) in array(values, &f)?.iter().enumerate() {
        let n = match x {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            _ => None,
        };
        match n {
            Some(n) if n.is_finite() => out.push(n),
            _ => return Err(err(&format!("{f}[{k}]"), x, "a finite number")),
        }
    }
    Ok(Payload { kind, values: out })
}

impl Event {
    /// An event from the VTN's JSON, or the field that does not fit.
    pub fn from_json(v: &Value) -> Result<Event, WireError> {
        let o = object(v, "event")?;
        if let Some(t) = get(o, &["objectType"]) {
            if t.as_str() != Some("EVENT") {
                return Err(err("objectType", t, "EVENT (or no objectType)"));
            }
        }
        let id = id_of(
            get(o, &["id"]).ok_or_else(|| err("id", &Value::Null, "the event's id"))?,
            "id",
        )?;
        let program_id = id_of(
            get(o, &["programID", "programId", "program_id"])
                .ok_or_else(|| err("programID", &Value::Null, "the event's programme"))?,
            "programID",
        )?;
        let name = match get(o, &["eventName"]) {
            Some(n) => Some(str_of(n, "eventName")?.to_string()),
            None => None,
        };
        let modified = match get(o, &["modificationDateTime", "createdDateTime"]) {
            Some(m) => {
                let s = str_of(m, "modificationDateTime")?;
                parse_datetime(s)
                    .ok_or_else(|| err("modificationDateTime", m, "an RFC 3339 date-time"))?;
                s.to_string()
            }
            None => String::new(),
        };
        let priority = match get(o, &["priority"]) {
            Some(p) => Some(int_of(p, "priority")?),
            None => None,
        };
        let targets = match get(o, &["targets"]) {
            Some(t) => targets_of(t, "targets")?,
            None => Vec::new(),
        };
        let mut descriptors = Vec::new();
        if let Some(d) = get(o, &["payloadDescriptors"]) {
            for (k, x) in array(d, "payloadDescriptors")?.iter().enumerate() {
                let f = format!("payloadDescriptors[{k}]");
                let xo = object(x, &f)?;
                let kind = get(xo, &["payloadType"])
                    .ok_or_else(|| err(&f, x, "a descriptor with `payloadType`"))?;
                let opt = |name: &str| -> Result<Option<String>, WireError> {
                    get(xo, &[name])
                        .map(|u| str_of(u, &format!("{f}.{name}")).map(String::from))
                        .transpose()
                };
                descriptors.push(Descriptor {
                    kind: str_of(kind, &format!("{f}.payloadType"))?.to_string(),
                    units: opt("units")?,
                    currency: opt("currency")?,
                });
            }
        }
        let period = match get(o, &["intervalPeriod"]) {
            Some(p) => Some(period_of(p, "intervalPeriod")?),
            None => None,
        };
        let mut intervals = Vec::new();
        if let Some(list) = get(o, &["intervals"]) {
            for (k, x) in array(list, "intervals")?.iter().enumerate() {
                let f = format!("intervals[{k}]");
                let xo = object(x, &f)?;
                let id = match get(xo, &["id"]) {
                    Some(i) => int_of(i, &format!("{f}.id"))?,
                    None => k as i64,
                };
                let period = match get(xo, &["intervalPeriod"]) {
                    Some(p) => Some(period_of(p, &format!("{f}.intervalPeriod"))?),
                    None => None,
                };
                let mut payloads = Vec::new();
                if let Some(ps) = get(xo, &["payloads"]) {
                    for (i, p) in array(ps, &format!("{f}.payloads"))?.iter().enumerate() {
                        payloads.push(payload_of(p, &format!("{f}.payloads[{i}]"))?);
                    }
                }
                intervals.push(Interval {
                    id,
                    period,
                    payloads,
                });
            }
        }
        Ok(Event {
            id,
            program_id,
            name,
            modified,
            priority,
            targets,
            descriptors,
            period,
            intervals,
        })
    }

    /// The unit a payload type's values are in (its descriptor's), upper-cased.
    pub fn units(&self, kind: &str) -> Option<String> {
        self.descriptors
            .iter()
            .find(|d| d.kind == kind)
            .and_then(|d| d.units.as_ref())
            .map(|u| u.to_ascii_uppercase())
    }

    /// Each interval's span `[start, end)` in UTC (`end` `None`: open-ended). An interval
    /// without its own period takes the event's duration and starts where the previous one
    /// ended (the first at the event's start); a start of "now" is `now`. `None` where no
    /// start is known at all.
    pub fn spans(&self, now: DateTime<Utc>) -> Vec<(i64, Option<IntervalSpan>)> {
        let base = self.period.unwrap_or_default();
        let resolve = |s: Start| match s {
            Start::At(t) => t,
            Start::Now => now,
        };
        let mut next: Option<DateTime<Utc>> = base.start.map(resolve);
        let mut out = Vec::new();
        for iv in &self.intervals {
            let own = iv.period.unwrap_or_default();
            let start = own.start.map(resolve).or(next);
            let span = own.duration.or(base.duration);
            match start {
                None => out.push((iv.id, None)),
                Some(s) => {
                    let end = match span {
                        Some(Span::Finite(d)) => s.checked_add_signed(d),
                        Some(Span::Forever) | None => None,
                    };
                    next = end;
                    out.push((iv.id, Some((s, end))));
                }
            }
        }
        out
    }
}

/// An interval's start and (open-ended: `None`) end.
pub type IntervalSpan = (DateTime<Utc>, Option<DateTime<Utc>>);

/// A notification a VTN sends to a subscription's callback.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub object_type: String,
    /// `CREATE`, `UPDATE`, `DELETE` (or `READ`), whichever spelling the server used.
    pub operation: String,
    pub object: Value,
}

impl Notification {
    pub fn from_json(v: &Value) -> Result<Notification, WireError> {
        let o = object(v, "notification")?;
        let object = get(o, &["object"])
            .ok_or_else(|| err("object", &Value::Null, "the object notified"))?
            .clone();
        let object_type = match get(o, &["objectType"]) {
            Some(t) => str_of(t, "objectType")?.to_string(),
            None => object
                .get("objectType")
                .and_then(Value::as_str)
                .unwrap_or("EVENT")
                .to_string(),
        };
        let operation = str_of(
            get(o, &["operation"])
                .ok_or_else(|| err("operation", &Value::Null, "POST, PUT or DELETE"))?,
            "operation",
        )?
        .to_ascii_uppercase();
        // 3.1 spells them CREATE, UPDATE, DELETE; 3.0 servers POST, PUT, DELETE.
        let operation = match operation.as_str() {
            "CREATE" | "POST" => "CREATE",
            "UPDATE" | "PUT" => "UPDATE",
            "DELETE" => "DELETE",
            "READ" | "GET" => "READ",
            _ => {
                return Err(err(
                    "operation",
                    &o["operation"],
                    "CREATE, UPDATE or DELETE (POST, PUT in 3.0)",
                ))
            }
        }
        .to_string();
        Ok(Notification {
            object_type,
            operation,
            object,
        })
    }
}

/// The token endpoint's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub access_token: String,
    /// Seconds; `None` where the server does not say.
    pub expires_in_s: Option<f64>,
}

impl Token {
    pub fn from_json(v: &Value) -> Result<Token, WireError> {
        let o = object(v, "token")?;
        let t = get(o, &["access_token", "accessToken"])
            .ok_or_else(|| err("access_token", &Value::Null, "the access token"))?;
        let access_token = str_of(t, "access_token")?.to_string();
        if access_token.is_empty() {
            return Err(err("access_token", t, "a non-empty token"));
        }
        let expires_in_s = match get(o, &["expires_in", "expiresIn"]) {
            Some(Value::Number(n)) => n.as_f64().filter(|x| x.is_finite() && *x > 0.0),
            Some(Value::String(s)) => s.parse::<f64>().ok().filter(|x| x.is_finite() && *x > 0.0),
            Some(x) => return Err(err("expires_in", x, "seconds")),
            None => None,
        };
        Ok(Token {
            access_token,
            expires_in_s,
        })
    }
}

/// The id of an object a VTN created (a programme, a subscription, a report), from its answer.
pub fn created_id(v: &Value) -> Result<String, WireError> {
    let o = object(v, "answer")?;
    id_of(
        get(o, &["id"]).ok_or_else(|| err("id", &Value::Null, "the new object's id"))?,
        "id",
    )
}

/// The client id a VTN echoes (`clientID` in 3.1, `clientId` in some servers).
pub fn client_id(v: &Value) -> Option<String> {
    let o = v.as_object()?;
    get(o, &["clientID", "clientId", "client_id"]).and_then(|x| id_of(x, "clientID").ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn h(x: f64) -> Option<Span> {
        Some(Span::Finite(Duration::milliseconds(
            (x * 3_600_000.0) as i64,
        )))
    }

    #[test]
    fn durations_by_value_not_spelling() {
        assert_eq!(parse_duration("PT1H"), h(1.0));
        assert_eq!(parse_duration("P0Y0M0DT1H0M0S"), h(1.0));
        assert_eq!(parse_duration("PT60M"), h(1.0));
        assert_eq!(parse_duration("PT3600S"), h(1.0));
        assert_eq!(parse_duration("PT0.5H"), h(0.5));
        assert_eq!(parse_duration("PT1,5H"), h(1.5));
        assert_eq!(parse_duration("P1D"), h(24.0));
        assert_eq!(parse_duration("P1W"), h(168.0));
        assert_eq!(parse_duration("P1DT2H"), h(26.0));
        assert_eq!(parse_duration("PT15M"), h(0.25));
        assert_eq!(parse_duration("P9999Y"), Some(Span::Forever));
        assert_eq!(parse_duration("P200Y"), Some(Span::Forever));
        for bad in [
            "", "P", "PT", "1H", "PT1", "PTH", "PT1H2D", "P1H", "PT1M1H", "Pxyz",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn now_and_forever_by_value() {
        for s in [
            "0001-01-01T00:00:00Z",
            "0001-01-01T00:00:00.000+00:00",
            "0001-01-01",
        ] {
            assert!(means_now(parse_datetime(s).unwrap()), "{s}");
        }
        assert!(!means_now(parse_datetime("2026-11-29T10:00:00Z").unwrap()));
        assert_eq!(
            parse_datetime("2026-11-29T11:00:00+01:00"),
            parse_datetime("2026-11-29T10:00:00Z")
        );
        assert_eq!(
            parse_datetime("2026-11-29T10:00:00"),
            parse_datetime("2026-11-29T10:00:00Z")
        );
    }

    #[test]
    fn an_event_as_servers_differ_in_sending_it() {
        let e = Event::from_json(&json!({
            "id": 42, "programID": "p1", "priority": 1.0,
            "modificationDateTime": "2026-11-29T10:00:00Z",
            "targets": ["east", {"type": "RESOURCE_NAME", "values": ["west"]}],
            "payloadDescriptors": [{"payloadType": "IMPORT_CAPACITY_LIMIT", "units": "kw"}],
            "intervalPeriod": {"start": "2026-11-29T12:00:00Z", "duration": "P0Y0M0DT1H0M0S"},
            "intervals": [
                {"id": 0.0, "payloads": [{"type": "IMPORT_CAPACITY_LIMIT", "values": [10.0]}]},
                {"id": 1, "intervalPeriod": {"duration": "PT2H"},
                 "payloads": [{"type": "IMPORT_CAPACITY_LIMIT", "values": ["8"]}]}
            ]
        }))
        .unwrap();
        assert_eq!(e.id, "42");
        assert_eq!(e.priority, Some(1));
        assert_eq!(e.targets, ["east", "west"]);
        assert_eq!(e.units("IMPORT_CAPACITY_LIMIT").as_deref(), Some("KW"));
        let t = |s: &str| parse_datetime(s).unwrap();
        let now = t("2026-11-29T10:00:00Z");
        assert_eq!(
            e.spans(now),
            vec![
                (
                    0,
                    Some((t("2026-11-29T12:00:00Z"), Some(t("2026-11-29T13:00:00Z"))))
                ),
                (
                    1,
                    Some((t("2026-11-29T13:00:00Z"), Some(t("2026-11-29T15:00:00Z"))))
                ),
            ]
        );
        assert_eq!(e.intervals[1].payloads[0].values, [8.0]);
    }

    #[test]
    fn a_field_that_does_not_fit_is_named() {
        let e = Event::from_json(&json!({
            "id": "e", "programID": "p",
            "intervals": [{"id": 0, "payloads": [{"type": "PRICE", "values": [null]}]}]
        }))
        .unwrap_err();
        assert_eq!(e.field, "intervals[0].payloads[0].values[0]");
        let e = Event::from_json(&json!({"id": "e", "programID": "p",
            "intervalPeriod": {"start": "tomorrow"}}))
        .unwrap_err();
        assert_eq!(e.field, "intervalPeriod.start");
        let e = Event::from_json(&json!({"id": "e"})).unwrap_err();
        assert_eq!(e.field, "programID");
        let e = Event::from_json(&json!({"id": "e", "programID": "p", "objectType": "REPORT"}))
            .unwrap_err();
        assert_eq!(e.field, "objectType");
    }

    #[test]
    fn now_starts_and_open_ends() {
        let e = Event::from_json(&json!({
            "id": "e", "programID": "p",
            "intervalPeriod": {"start": "0001-01-01T00:00:00Z", "duration": "P9999Y"},
            "intervals": [{"id": 0, "payloads": []}]
        }))
        .unwrap();
        let now = parse_datetime("2026-11-29T10:00:00Z").unwrap();
        assert_eq!(e.spans(now), vec![(0, Some((now, None)))]);
    }

    #[test]
    fn tokens_and_notifications() {
        let t = Token::from_json(&json!({"access_token": "abc", "expires_in": 3600.0})).unwrap();
        assert_eq!(t.expires_in_s, Some(3600.0));
        assert!(Token::from_json(&json!({"access_token": ""})).is_err());
        let n = Notification::from_json(&json!({"objectType": "EVENT", "operation": "delete",
            "object": {"id": "e"}}))
        .unwrap();
        assert_eq!(n.operation, "DELETE");
        assert_eq!(client_id(&json!({"clientId": "c"})).as_deref(), Some("c"));
        assert_eq!(client_id(&json!({"clientID": 7})).as_deref(), Some("7"));
    }

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<f64>().prop_map(|f| json!(f)),
            any::<i64>().prop_map(|i| json!(i)),
            "[A-Za-z0-9:._+-]{0,24}".prop_map(Value::String),
            prop_oneof![
                Just("PT1H"),
                Just("P9999Y"),
                Just("0001-01-01T00:00:00Z"),
                Just("2026-11-29T10:00:00Z"),
                Just("IMPORT_CAPACITY_LIMIT"),
                Just("EVENT")
            ]
            .prop_map(|s| Value::String(s.into())),
        ];
        let keys = prop_oneof![
            Just("id"),
            Just("programID"),
            Just("objectType"),
            Just("priority"),
            Just("targets"),
            Just("intervals"),
            Just("intervalPeriod"),
            Just("start"),
            Just("duration"),
            Just("payloads"),
            Just("type"),
            Just("values"),
            Just("payloadDescriptors"),
            Just("payloadType"),
            Just("units"),
            Just("modificationDateTime"),
            Just("operation"),
            Just("object"),
            Just("access_token"),
            Just("expires_in"),
        ]
        .prop_map(String::from);
        leaf.prop_recursive(5, 64, 8, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(keys.clone(), inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Random JSON, shaped like the wire format, never panics a parser: it is read or
        /// refused with a field named.
        #[test]
        fn random_json_is_read_or_refused_never_a_panic(v in any_json()) {
            let now = parse_datetime("2026-11-29T10:00:00Z").unwrap();
            match Event::from_json(&v) {
                Ok(e) => { let _ = e.spans(now); }
                Err(e) => prop_assert!(!e.field.is_empty()),
            }
            let _ = Notification::from_json(&v);
            let _ = Token::from_json(&v);
            let _ = created_id(&v);
        }

        #[test]
        fn any_duration_string_is_read_or_refused(s in "[-+]?[Pp]?[0-9.,YMWDTHS]{0,16}") {
            if let Some(Span::Finite(d)) = parse_duration(&s) {
                prop_assert!(d.num_days().abs() <= FOREVER_DAYS);
            }
        }
    }
}
