//! The OpenADR 3.1 VEN: the service as a flexible load to a grid operator's or aggregator's
//! VTN (docs/openadr.md).
//!
//! It fetches an OAuth2 token (client credentials) and refreshes it before it expires; gets
//! events by polling (`GET /events`, paged, with `If-None-Match`) and, given a callback URL, by
//! webhook (`POST /subscriptions`; the echo challenge answered; each notification's bearer
//! token, and its HMAC signature where a key is set, checked); keeps each event's last version
//! in the store; turns the events into import caps and signal values ([`mapping`]) and
//! converges the engine on them through the control loop (submit what is missing, cancel what
//! is no longer wanted, so a modified or deleted event changes the plan); and reports each
//! interval's `USAGE`, `DEMAND` and `BASELINE` (the counterfactual's import) per targeted site
//! once the engine has stepped past it.
//!
//! A VTN that is down, slow, or answers an error, and an event that does not parse, are logged
//! and counted; the engine keeps what it took (the last good plan). Secrets never reach a log
//! or the API.

pub mod mapping;
pub mod wire;

use crate::control::{Command, Control, EventRequest, SignalKind, SignalRequest, SiteSeries};
use crate::store::Store;
use crate::ApiError;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use suandian_core::model::Scenario;
use wire::{Event, Start};

/// How the VEN reaches its VTN.
#[derive(Clone)]
pub struct VenConfig {
    /// The VTN's base URL, up to the version (`https://vtn.example/openadr3/3.1.0`).
    pub vtn_url: String,
    /// The token endpoint (default: the base URL's `/auth/token`).
    pub token_url: Option<String>,
    pub client_id: String,
    pub client_secret: String,
    /// The VEN's name (`clientName` in reports and subscriptions; a target naming it targets
    /// every site).
    pub ven_name: String,
    /// How often to poll.
    pub poll: Duration,
    /// Targets to ask events for (`targets=` in the query); empty: the site names and the
    /// VEN's name.
    pub targets: Vec<String>,
    /// The programmes this VEN is enrolled in (their ids): events of others are left alone;
    /// empty: every programme the VTN shows it.
    pub programs: Vec<String>,
    /// Where the VTN can reach this service's `/v1/openadr/notify` (webhooks off when `None`).
    pub callback_url: Option<String>,
    /// The key of the VTN's HMAC signature on notifications (`x-openadr-signature`), if it
    /// signs them.
    pub webhook_key: Option<String>,
}

impl std::fmt::Debug for VenConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VenConfig")
            .field("vtn_url", &self.vtn_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("ven_name", &self.ven_name)
            .finish_non_exhaustive()
    }
}

/// The VEN's counters (Prometheus `suandian_openadr_*`).
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Counters {
    pub polls: u64,
    /// Polls the VTN answered 304 Not Modified.
    pub polls_unchanged: u64,
    pub notifications: u64,
    /// Notifications refused (a wrong bearer token or signature, a body that does not parse).
    pub notifications_refused: u64,
    /// Event versions received (new or modified).
    pub event_versions: u64,
    pub events_deleted: u64,
    /// Events that did not parse (logged with the field).
    pub events_malformed: u64,
    pub tokens_fetched: u64,
    /// Requests that failed: the VTN unreachable or slow, an error status, a token refused.
    pub vtn_errors: u64,
    pub caps_taken: u64,
    pub caps_cancelled: u64,
    pub signals_taken: u64,
    /// Pieces the engine refused (logged with its reason).
    pub refused_by_engine: u64,
    pub reports_sent: u64,
    pub reports_failed: u64,
}

/// One interval of an event, as delivered.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IntervalView {
    pub id: i64,
    pub start_h: f64,
    pub end_h: f64,
    /// The cap asked, summed over the targeted sites (kW); null where the event asks none.
    pub cap_kw: Option<f64>,
    /// The baseline the event's relative values were taken from, summed (kW).
    pub reduction_asked_kw: Option<f64>,
    /// Once the engine has stepped past the interval: the fleet's import at the targeted sites
    /// (mean kW), the counterfactual's (the baseline), their difference, and the
    /// accelerator-hours of work the counterfactual did there and the fleet did not (delayed).
    pub demand_kw: Option<f64>,
    pub baseline_kw: Option<f64>,
    pub reduction_delivered_kw: Option<f64>,
    pub work_delayed_acc_h: Option<f64>,
    /// The report's id at the VTN, once accepted.
    pub report_id: Option<String>,
}

/// One event as the VEN has it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventState {
    pub id: String,
    pub program_id: String,
    pub name: Option<String>,
    pub priority: Option<i64>,
    pub modified: String,
    /// `upcoming`, `active`, `completed`, `deleted` (at the VTN), or `ignored` (see `reason`).
    pub state: String,
    pub payload_types: Vec<String>,
    pub sites: Vec<String>,
    /// Why (part of) it is not acted on.
    pub notes: Vec<String>,
    pub intervals: Vec<IntervalView>,
}

/// `GET /v1/openadr`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OpenadrView {
    pub vtn_url: String,
    pub ven_name: String,
    /// Whether the last request to the VTN succeeded.
    pub connected: bool,
    pub last_poll_unix_s: Option<f64>,
    pub last_error: Option<String>,
    /// The webhook subscription's id at the VTN (null: polling only, or not yet).
    pub subscription: Option<String>,
    pub poll_s: f64,
    pub counters: Counters,
    pub events: Vec<EventState>,
}

/// An event's version as kept: the VTN's JSON, when it was first seen (model hours: what a
/// start of "now" means) and the sites' baseline then (what relative values are taken from).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
struct Kept {
    raw: Value,
    modified: String,
    received_h: f64,
    baseline_kw: Vec<f64>,
    deleted: bool,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
struct Delivered {
    report_id: String,
    demand_kw: f64,
    baseline_kw: f64,
    work_delayed_acc_h: f64,
}

#[derive(Default)]
struct State {
    events: BTreeMap<String, Kept>,
    /// Reports accepted: `event:modified:interval` → what was delivered.
    reports: HashMap<String, Delivered>,
    /// Signal pieces posted (their keys).
    signals: HashSet<String>,
    counters: Counters,
    connected: bool,
    last_poll_unix_s: Option<f64>,
    last_error: Option<String>,
    subscription: Option<String>,
    token: Option<(String, Instant)>,
    /// Each page of the listing as last read (by its query): its ETag and its events.
    pages: HashMap<String, (String, Vec<Value>)>,
    /// Reasons already logged (each once).
    logged: HashSet<String>,
    view: Vec<EventState>,
}

/// The VEN: its configuration, its state, and the nudge a notification gives the loop.
pub struct Ven {
    cfg: VenConfig,
    state: Mutex<State>,
    nudge: tokio::sync::Notify,
    /// The bearer token the VTN must send with each notification (made at start).
    callback_token: String,
    http: reqwest::Client,
    /// Events notified by webhook, waiting for the loop (a notification is answered at once;
    /// the loop reads the model's time and baselines before it takes them).
    notified: Mutex<Vec<Value>>,
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Sixteen random bytes as hex (the kernel's generator).
fn random_hex() -> String {
    use std::io::Read;
    let mut b = [0u8; 16];
    let ok = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
    if ok.is_err() {
        // No /dev/urandom: the clock and the process, hashed (a token that is hard to guess
        // from outside this machine, not a secret against one who reads its memory).
        use sha2::Digest;
        let d = sha2::Sha256::digest(format!("{:?}{}", Instant::now(), std::process::id()));
        b.copy_from_slice(&d[..16]);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Equal, in time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A failed request to the VTN, in words fit for a log (no secret in it).
#[derive(Debug)]
struct VtnError {
    what: String,
}

impl Ven {
    pub fn new(cfg: VenConfig) -> Result<Arc<Ven>, String> {
        // rustls is built with ring only; it must be told so once per process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .user_agent(concat!("suandian/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("the OpenADR client cannot be built: {e}"))?;
        let vtn = cfg.vtn_url.trim_end_matches('/').to_string();
        if !(vtn.starts_with("http://") || vtn.starts_with("https://")) {
            return Err(format!(
                "--openadr-vtn: found `{vtn}`, expected an http:// or https:// URL"
            ));
        }
        Ok(Arc::new(Ven {
            cfg: VenConfig {
                vtn_url: vtn,
                ..cfg
            },
            state: Mutex::new(State::default()),
            nudge: tokio::sync::Notify::new(),
            callback_token: random_hex(),
            http,
            notified: Mutex::new(Vec::new()),
        }))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Log `msg` once per `key`.
    fn log_once(&self, key: &str, msg: &str) {
        if self.state().logged.insert(key.to_string()) {
            eprintln!("openadr: {msg}");
        }
    }

    pub fn view(&self) -> OpenadrView {
        let s = self.state();
        OpenadrView {
            vtn_url: self.cfg.vtn_url.clone(),
            ven_name: self.cfg.ven_name.clone(),
            connected: s.connected,
            last_poll_unix_s: s.last_poll_unix_s,
            last_error: s.last_error.clone(),
            subscription: s.subscription.clone(),
            poll_s: self.cfg.poll.as_secs_f64(),
            counters: s.counters.clone(),
            events: s.view.clone(),
        }
    }

    /// A webhook delivery: the echo challenge (a GET with `echo`) or a notification (a POST),
    /// checked. Returns the status and body to answer with.
    pub fn on_notify(
        &self,
        method: &str,
        query: Option<&str>,
        headers: &axum::http::HeaderMap,
        body: &[u8],
    ) -> (u16, String) {
        if method == "GET" {
            let echo = query.unwrap_or("").split('&').find_map(|p| {
                let (k, v) = p.split_once('=')?;
                (k == "echo").then(|| percent_decode(v))
            });
            return match echo {
                Some(v) => (200, v),
                None => (422, error_json("echo", "no echo parameter", "?echo=VALUE")),
            };
        }
        let refuse = |field: &str, found: &str, expected: &str| {
            self.state().counters.notifications_refused += 1;
            eprintln!(
                "openadr: a notification refused: `{field}`: found {found}, expected {expected}"
            );
            error_json(field, found, expected)
        };
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !same(bearer.trim().as_bytes(), self.callback_token.as_bytes()) {
            return (
                401,
                refuse(
                    "authorization",
                    "no bearer token, or another one",
                    "the subscription's bearer token",
                ),
            );
        }
        if let Some(key) = &self.cfg.webhook_key {
            if let Err(why) = check_signature(key.as_bytes(), headers, body, unix_now()) {
                return (
                    401,
                    refuse("x-openadr-signature", &why, "a valid HMAC-SHA256 signature"),
                );
            }
        }
        let v: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                return (
                    422,
                    refuse("body", &format!("not JSON ({e})"), "a notification"),
                )
            }
        };
        let n = match wire::Notification::from_json(&v) {
            Ok(n) => n,
            Err(e) => return (422, refuse(&e.field, &e.found, &e.expected)),
        };
        self.state().counters.notifications += 1;
        if n.object_type == "EVENT" {
            match n.operation.as_str() {
                "DELETE" => {
                    if let Some(id) = n.object.get("id").and_then(|i| match i {
                        Value::String(s) => Some(s.clone()),
                        Value::Number(x) => Some(x.to_string()),
                        _ => None,
                    }) {
                        let mut s = self.state();
                        if let Some(k) = s.events.get_mut(&id) {
                            if !k.deleted {
                                k.deleted = true;
                                s.counters.events_deleted += 1;
                            }
                        }
                    }
                }
                "CREATE" | "UPDATE" => self
                    .notified
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(n.object),
                _ => {}
            }
            self.nudge.notify_one();
        }
        (200, "{}".into())
    }
}

fn error_json(field: &str, found: &str, expected: &str) -> String {
    json!({"error": {"field": field, "found": found, "expected": expected}}).to_string()
}

fn percent_decode(v: &str) -> String {
    let b = v.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'+', _, _) => out.push(b' '),
            (b'%', Some(h), Some(l)) => {
                out.push(h * 16 + l);
                i += 2;
            }
            (c, _, _) => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The VTN's HMAC-SHA256 over `v1.<unix seconds>.<body>`, hex in `x-openadr-signature: v1=…`,
/// the instant in `x-openadr-timestamp` within five minutes of `now`.
fn check_signature(
    key: &[u8],
    headers: &axum::http::HeaderMap,
    body: &[u8],
    now_unix_s: f64,
) -> Result<(), String> {
    use hmac::{Mac, SimpleHmac};
    let sig = headers
        .get("x-openadr-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or("no x-openadr-signature header")?;
    let ts = headers
        .get("x-openadr-timestamp")
        .and_then(|v| v.to_str().ok())
        .ok_or("no x-openadr-timestamp header")?;
    let at: i64 = ts
        .trim()
        .parse()
        .map_err(|_| "a timestamp that is not Unix seconds")?;
    if (now_unix_s - at as f64).abs() > 300.0 {
        return Err(format!("a timestamp {at} more than 300 s from now"));
    }
    let hex = sig
        .trim()
        .strip_prefix("v1=")
        .ok_or("a signature not of the form v1=<hex>")?;
    let want: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2).unwrap_or("zz"), 16))
        .collect::<Result<_, _>>()
        .map_err(|_| "a signature that is not hex")?;
    let mut mac =
        <SimpleHmac<sha2::Sha256> as Mac>::new_from_slice(key).map_err(|_| "an unusable key")?;
    mac.update(format!("v1.{at}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&want)
        .map_err(|_| "a signature that does not match the body".into())
}

impl Ven {
    /// Run until the process ends: restore, then poll, take notifications, converge and
    /// report.
    pub async fn run(self: Arc<Self>, sc: &'static Scenario, control: Control, store: Store) {
        match store.openadr().await {
            Ok(rows) => {
                let mut s = self.state();
                for (kind, id, body) in rows {
                    match kind.as_str() {
                        "event" => {
                            if let Ok(k) = serde_json::from_str::<Kept>(&body) {
                                s.events.insert(id, k);
                            }
                        }
                        "report" => {
                            if let Ok(d) = serde_json::from_str::<Delivered>(&body) {
                                s.reports.insert(id, d);
                            }
                        }
                        "signal" => {
                            s.signals.insert(id);
                        }
                        _ => {}
                    }
                }
            }
            Err(e) => eprintln!("openadr: the kept events cannot be read: {e}"),
        }
        let mut next_poll = Instant::now();
        let tick = Duration::from_secs_f64(
            (sc.grid.slot_h() * 3600.0 / 4.0)
                .clamp(0.05, 1.0)
                .min(self.cfg.poll.as_secs_f64()),
        );
        let names: Vec<String> = sc.sites.iter().map(|s| s.name.clone()).collect();
        let everything = [self.cfg.ven_name.clone()];
        let mut subscribed_at: Option<Instant> = None;
        let mut last_done = usize::MAX;
        let mut registered = false;
        loop {
            if !registered && Instant::now() >= next_poll {
                registered = self.register().await;
            }
            if self.cfg.callback_url.is_some()
                && self.state().subscription.is_none()
                && subscribed_at.map_or(true, |t| t.elapsed() > self.cfg.poll)
            {
                subscribed_at = Some(Instant::now());
                self.subscribe().await;
            }
            let mut changed = false;
            if Instant::now() >= next_poll {
                next_poll = Instant::now() + self.cfg.poll;
                changed |= self.poll(sc, &control, &store).await;
            }
            changed |= self.take_notified(sc, &control, &store).await;
            let done = match control.ask(|reply| Command::Status { reply }).await {
                Ok(st) => st.slots_done,
                Err(_) => return,
            };
            if changed || done != last_done {
                last_done = done;
                // The kept events, mapped once for this pass.
                let (events, baselines) = self.live_events(sc);
                let frame = self.frame(sc, &names, &everything, &baselines);
                let mapped = mapping::map(&events, &frame);
                self.converge(sc, &control, &store, &mapped).await;
                self.report(sc, &control, &store, &frame, &events, &mapped, done)
                    .await;
                self.refresh_view(sc, &frame, &events, &mapped, done);
            }
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                _ = self.nudge.notified() => {}
            }
        }
    }

    /// The slots stepped, and each site's series over `from..to` of them.
    async fn series(
        &self,
        control: &Control,
        from: usize,
        to: usize,
    ) -> Option<(usize, Vec<SiteSeries>)> {
        control
            .ask(|reply| Command::SiteSeries { from, to, reply })
            .await
            .ok()
    }

    /// A bearer token, fetched (or refreshed a minute, or a tenth of its life, before it
    /// expires).
    async fn token(&self) -> Result<String, VtnError> {
        if let Some((t, until)) = &self.state().token {
            if Instant::now() < *until {
                return Ok(t.clone());
            }
        }
        let url = self
            .cfg
            .token_url
            .clone()
            .unwrap_or_else(|| format!("{}/auth/token", self.cfg.vtn_url));
        let resp = self
            .http
            .post(&url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", self.cfg.client_id.as_str()),
                ("client_secret", self.cfg.client_secret.as_str()),
            ])
            .send()
            .await
            .map_err(|e| VtnError {
                what: format!(
                    "the token endpoint {url} cannot be reached: {}",
                    without_url(&e)
                ),
            })?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap_or_default();
        if !(200..300).contains(&status) {
            return Err(VtnError {
                what: format!(
                    "the token endpoint {url} refused client `{}`: HTTP {status} {}",
                    self.cfg.client_id,
                    snippet(&body)
                ),
            });
        }
        let v: Value = serde_json::from_slice(&body).map_err(|_| VtnError {
            what: format!("the token endpoint {url} answered no JSON"),
        })?;
        let t = wire::Token::from_json(&v).map_err(|e| VtnError {
            what: format!("the token endpoint {url}: {e}"),
        })?;
        let life = t.expires_in_s.unwrap_or(3600.0);
        let margin = (life / 10.0).min(60.0);
        let until = Instant::now() + Duration::from_secs_f64((life - margin).max(1.0));
        let mut s = self.state();
        s.counters.tokens_fetched += 1;
        s.token = Some((t.access_token.clone(), until));
        Ok(t.access_token)
    }

    /// A request with the token; a 401 drops the token and tries once more with a new one.
    async fn call(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        body: Option<&Value>,
        etag: Option<&str>,
    ) -> Result<(u16, reqwest::header::HeaderMap, Vec<u8>), VtnError> {
        let url = format!("{}{path_and_query}", self.cfg.vtn_url);
        for attempt in 0..2 {
            let token = self.token().await?;
            let mut req = self.http.request(method.clone(), &url).bearer_auth(&token);
            if let Some(b) = body {
                req = req.json(b);
            }
            if let Some(e) = etag {
                req = req.header("if-none-match", e);
            }
            let resp = req.send().await.map_err(|e| VtnError {
                what: format!("{method} {url}: {}", without_url(&e)),
            })?;
            let status = resp.status().as_u16();
            if status == 401 && attempt == 0 {
                self.state().token = None;
                continue;
            }
            let headers = resp.headers().clone();
            let body = resp.bytes().await.map_err(|e| VtnError {
                what: format!("{method} {url}: the answer broke off: {}", without_url(&e)),
            })?;
            return Ok((status, headers, body.to_vec()));
        }
        unreachable!("the loop returns on its second pass")
    }

    fn failed(&self, e: &VtnError) {
        let mut s = self.state();
        s.counters.vtn_errors += 1;
        s.connected = false;
        if s.last_error.as_deref() != Some(e.what.as_str()) {
            eprintln!("openadr: {} (the engine keeps its last good plan)", e.what);
        }
        s.last_error = Some(e.what.clone());
    }

    /// Every event the VTN shows this client, page by page; `None` where a page failed (or
    /// nothing changed since the last time, by ETag).
    async fn list_events(&self, sc: &Scenario) -> Option<Vec<Value>> {
        // A VTN shows a VEN the events without targets to a plain query, and the targeted ones
        // (those whose targets it was granted) to a query naming them: both, merged.
        let targets: Vec<String> = if self.cfg.targets.is_empty() {
            sc.sites
                .iter()
                .map(|s| s.name.clone())
                .chain([self.cfg.ven_name.clone()])
                .collect()
        } else {
            self.cfg.targets.clone()
        };
        let mut all: Vec<Value> = Vec::new();
        let mut ids = HashSet::new();
        let mut unchanged = true;
        for query in [
            String::new(),
            // The specification's form: the parameter repeated (not every VTN splits commas).
            targets
                .iter()
                .map(|t| format!("&targets={}", url_encode(t)))
                .collect::<String>(),
        ] {
            let page = self.list_query(&query, &mut unchanged).await?;
            for v in page {
                let id = v.get("id").map(|i| i.to_string()).unwrap_or_default();
                if ids.insert(id) {
                    all.push(v);
                }
            }
        }
        let mut s = self.state();
        s.counters.polls += 1;
        if unchanged {
            s.counters.polls_unchanged += 1;
        }
        s.connected = true;
        s.last_error = None;
        s.last_poll_unix_s = Some(unix_now());
        Some(all)
    }

    /// Every page of one query.
    async fn list_query(&self, query: &str, unchanged: &mut bool) -> Option<Vec<Value>> {
        const LIMIT: usize = 50;
        let mut all = Vec::new();
        let mut skip = 0usize;
        loop {
            let q = format!("/events?skip={skip}&limit={LIMIT}{query}");
            let etag = self.state().pages.get(&q).map(|(tag, _)| tag.clone());
            let (status, headers, body) = match self
                .call(reqwest::Method::GET, &q, None, etag.as_deref())
                .await
            {
                Ok(x) => x,
                Err(e) => {
                    self.failed(&e);
                    return None;
                }
            };
            if status == 304 {
                // This page as it was: its events as read then.
                let (_, page) = self.state().pages.get(&q).cloned()?;
                let n = page.len();
                all.extend(page);
                if n < LIMIT {
                    break;
                }
                skip += n;
                continue;
            }
            *unchanged = false;
            if !(200..300).contains(&status) {
                self.failed(&VtnError {
                    what: format!(
                        "GET {}{q}: HTTP {status} {}",
                        self.cfg.vtn_url,
                        snippet(&body)
                    ),
                });
                return None;
            }
            let page: Vec<Value> = match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Array(a)) => a,
                _ => {
                    self.failed(&VtnError {
                        what: format!("GET {}{q}: not a JSON array of events", self.cfg.vtn_url),
                    });
                    return None;
                }
            };
            if let Some(tag) = headers.get("etag").and_then(|v| v.to_str().ok()) {
                self.state()
                    .pages
                    .insert(q.clone(), (tag.to_string(), page.clone()));
            }
            let n = page.len();
            all.extend(page);
            if n < LIMIT {
                break;
            }
            skip += n;
        }
        Some(all)
    }

    async fn poll(&self, sc: &Scenario, control: &Control, store: &Store) -> bool {
        let Some(list) = self.list_events(sc).await else {
            return false;
        };
        let mut changed = false;
        let mut listed = HashSet::new();
        for raw in list {
            if let Some(id) = raw
                .get("id")
                .and_then(|i| wire::created_id(&json!({"id": i})).ok())
            {
                listed.insert(id);
            }
            changed |= self.take(sc, control, store, raw).await.is_some();
        }
        // Events no longer listed were deleted at the VTN (the listing is complete: every
        // page of every query answered).
        let gone: Vec<String> = {
            let s = self.state();
            s.events
                .iter()
                .filter(|(id, k)| !k.deleted && !listed.contains(*id))
                .map(|(id, _)| id.clone())
                .collect()
        };
        for id in gone {
            let body = {
                let mut s = self.state();
                s.counters.events_deleted += 1;
                let k = s.events.get_mut(&id).expect("listed above");
                k.deleted = true;
                serde_json::to_string(&*k).expect("serialises")
            };
            if let Err(e) = store.put_openadr("event", &id, &body).await {
                eprintln!("openadr: event {id}: its deletion is not kept: {e}");
            }
            changed = true;
        }
        changed
    }

    /// Take one event's JSON: kept (and counted) if it is a new version; its id if so.
    async fn take(
        &self,
        sc: &Scenario,
        control: &Control,
        store: &Store,
        raw: Value,
    ) -> Option<String> {
        let e = match Event::from_json(&raw) {
            Ok(e)
                if !self.cfg.programs.is_empty() && !self.cfg.programs.contains(&e.program_id) =>
            {
                return None;
            }
            Ok(e) => e,
            Err(err) => {
                let id = raw.get("id").map(|v| v.to_string()).unwrap_or_default();
                let mut s = self.state();
                s.counters.events_malformed += 1;
                drop(s);
                self.log_once(
                    &format!("malformed {id} {err}"),
                    &format!("event {id} does not parse, so it is not taken: {err}"),
                );
                return None;
            }
        };
        {
            let s = self.state();
            if let Some(k) = s.events.get(&e.id) {
                if k.modified == e.modified && !k.deleted {
                    return None;
                }
            }
        }
        // The baseline: each site's no-event import in the last slot stepped.
        let done = control
            .ask(|reply| Command::Status { reply })
            .await
            .ok()?
            .slots_done;
        let (_, last) = self.series(control, done.saturating_sub(1), done).await?;
        let now_h = sc.grid.slot_start_h(done);
        let baseline_kw = last
            .iter()
            .zip(&sc.sites)
            .map(|(s, site)| {
                s.baseline_import_kw
                    .last()
                    .copied()
                    .unwrap_or(site.grid.import_limit_kw)
            })
            .collect();
        let kept = Kept {
            raw,
            modified: e.modified.clone(),
            received_h: now_h,
            baseline_kw,
            deleted: false,
        };
        let body = serde_json::to_string(&kept).expect("serialises");
        if let Err(err) = store.put_openadr("event", &e.id, &body).await {
            eprintln!(
                "openadr: event {}: not kept ({err}); taken again at the next poll",
                e.id
            );
            return None;
        }
        let mut s = self.state();
        s.counters.event_versions += 1;
        s.events.insert(e.id.clone(), kept);
        Some(e.id)
    }

    async fn take_notified(&self, sc: &Scenario, control: &Control, store: &Store) -> bool {
        let pending = std::mem::take(&mut *self.notified.lock().unwrap_or_else(|e| e.into_inner()));
        let mut changed = false;
        for v in pending {
            changed |= self.take(sc, control, store, v).await.is_some();
        }
        // Deletions were marked by the notification itself.
        changed || self.state().events.values().any(|k| k.deleted)
    }

    /// The events kept (deleted ones aside), each with "now" read as when it was received.
    fn live_events(&self, sc: &Scenario) -> (Vec<Event>, HashMap<String, Vec<f64>>) {
        let s = self.state();
        let mut out = Vec::new();
        let mut baselines = HashMap::new();
        for (id, k) in &s.events {
            if k.deleted {
                continue;
            }
            let Ok(mut e) = Event::from_json(&k.raw) else {
                continue;
            };
            let received =
                sc.grid.start + chrono::Duration::milliseconds((k.received_h * 3_600_000.0) as i64);
            let fix = |p: &mut Option<wire::Period>| {
                if let Some(p) = p {
                    if p.start == Some(Start::Now) {
                        p.start = Some(Start::At(received));
                    }
                }
            };
            fix(&mut e.period);
            for iv in &mut e.intervals {
                fix(&mut iv.period);
            }
            baselines.insert(id.clone(), k.baseline_kw.clone());
            out.push(e);
        }
        (out, baselines)
    }

    fn frame<'a>(
        &self,
        sc: &'a Scenario,
        names: &'a [String],
        everything: &'a [String],
        baselines: &'a HashMap<String, Vec<f64>>,
    ) -> mapping::Frame<'a> {
        mapping::Frame {
            grid_start: sc.grid.start,
            slot_h: sc.grid.slot_h(),
            horizon_h: sc.grid.horizon_h(),
            now: sc.grid.start,
            sites: names,
            everything,
            baselines,
            currency: &sc.economics.currency,
        }
    }

    /// Bring the engine to the events: submit the caps it lacks, cancel those no longer
    /// wanted, post the signal values not yet posted.
    async fn converge(
        &self,
        sc: &Scenario,
        control: &Control,
        store: &Store,
        mapped: &mapping::Mapped,
    ) {
        for sk in &mapped.skipped {
            self.log_once(
                &format!("{}:{}:{}", sk.event_id, sk.reason, sk.detail),
                &format!(
                    "event {}: not acted on ({}): {}",
                    sk.event_id, sk.reason, sk.detail
                ),
            );
        }
        let Ok(taken) = control.ask(|reply| Command::Events { reply }).await else {
            return;
        };
        let Ok(status) = control.ask(|reply| Command::Status { reply }).await else {
            return;
        };
        let now_h = sc.grid.slot_start_h(status.slots_done);
        let ids: HashSet<&str> = taken.iter().map(|e| e.id.as_str()).collect();
        let wanted: HashSet<&str> = mapped.caps.iter().map(|c| c.id.as_str()).collect();
        for e in &taken {
            if mapping::event_of_piece(&e.id).is_some()
                && e.cancelled_at_slot.is_none()
                && e.end_h > now_h + 1e-9
                && !wanted.contains(e.id.as_str())
            {
                let id = e.id.clone();
                match control
                    .ask(|reply| Command::CancelEvent { id, reply })
                    .await
                {
                    Ok(Ok(_)) => self.state().counters.caps_cancelled += 1,
                    Ok(Err(err)) => self.refused(&e.id, &err),
                    Err(_) => return,
                }
            }
        }
        for c in &mapped.caps {
            if c.end_h <= now_h + 1e-9 || ids.contains(c.id.as_str()) {
                continue;
            }
            let req = EventRequest {
                id: c.id.clone(),
                sites: vec![c.site.clone()],
                start_h: c.start_h,
                end_h: c.end_h,
                announced_h: Some(now_h.min(c.start_h)),
                import_cap_kw: c.cap_kw,
                penalty_per_kwh: None,
            };
            match control
                .ask(|reply| Command::Event { event: req, reply })
                .await
            {
                Ok(Ok(_)) => self.state().counters.caps_taken += 1,
                Ok(Err(err)) => self.refused(&c.id, &err),
                Err(_) => return,
            }
        }
        let first_open = status.slots_done;
        for p in &mapped.signals {
            let key = format!(
                "{}:{}:{}:{}:{}",
                p.event_id,
                p.signal,
                p.site,
                p.first_slot,
                p.values
                    .iter()
                    .map(|v| format!("{v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            let last = p.first_slot + p.values.len();
            if last <= first_open || self.state().signals.contains(&key) {
                continue;
            }
            let skip = first_open.saturating_sub(p.first_slot);
            let req = SignalRequest {
                signal: p.signal.to_string(),
                site: Some(p.site.clone()),
                region: None,
                kind: SignalKind::Forecast,
                start_h: sc.grid.slot_start_h(p.first_slot + skip),
                values: p.values[skip..].to_vec(),
            };
            match control
                .ask(|reply| Command::Signals {
                    signals: req,
                    reply,
                })
                .await
            {
                Ok(Ok(_)) => {
                    self.state().counters.signals_taken += 1;
                }
                Ok(Err(err)) => self.refused(&key, &err),
                Err(_) => return,
            }
            // Taken, or refused for good (a replay takes no signals): not tried again.
            self.state().signals.insert(key.clone());
            let _ = store.put_openadr("signal", &key, "{}").await;
        }
    }

    fn refused(&self, what: &str, err: &ApiError) {
        self.state().counters.refused_by_engine += 1;
        let msg = err.describe();
        self.log_once(
            &format!("refused {what} {msg}"),
            &format!("{what}: the engine refused it: {msg}"),
        );
    }

    /// Report each interval the engine has stepped past (`done` slots), once per event
    /// version, for the events acted on (a cap or a signal value for a site here).
    #[allow(clippy::too_many_arguments)]
    async fn report(
        &self,
        sc: &Scenario,
        control: &Control,
        store: &Store,
        frame: &mapping::Frame<'_>,
        events: &[Event],
        mapped: &mapping::Mapped,
        done: usize,
    ) {
        let done_h = sc.grid.slot_start_h(done);
        let acted: HashSet<&str> = mapped
            .caps
            .iter()
            .map(|c| c.event_id.as_str())
            .chain(mapped.signals.iter().map(|p| p.event_id.as_str()))
            .collect();
        // The intervals due: over, and not yet reported.
        let mut due = Vec::new();
        for e in events.iter().filter(|e| acted.contains(e.id.as_str())) {
            let Some(sites) = mapping::targeted(e, frame) else {
                continue;
            };
            for (iv, span) in e.spans(sc.grid.start) {
                let Some((start, Some(end))) = span else {
                    continue;
                };
                let (a, b) = (hours(sc, start), hours(sc, end));
                let key = format!("{}:{}:{iv}", e.id, e.modified);
                if b <= done_h + 1e-9 && b > 0.0 && !self.state().reports.contains_key(&key) {
                    due.push((e, sites.clone(), iv, start, end, a, b, key));
                }
            }
        }
        if due.is_empty() {
            return;
        }
        // The series over the slots they cover, read once.
        let slot_h = sc.grid.slot_h();
        let from = due
            .iter()
            .map(|d| (d.5.max(0.0) / slot_h).floor() as usize)
            .min()
            .unwrap_or(0);
        let Some((_, series)) = self.series(control, from, done).await else {
            return;
        };
        for (e, sites, iv, start, end, a, b, key) in due {
            let per_site: Vec<(usize, Measured)> = sites
                .iter()
                .map(|&s| (s, measure(&series[s], slot_h, from, a, b)))
                .collect();
            let body = report_body(
                e,
                &self.cfg.ven_name,
                frame.sites,
                iv,
                start,
                end,
                &per_site,
            );
            match self
                .call(reqwest::Method::POST, "/reports", Some(&body), None)
                .await
            {
                Ok((status, _, answer)) if (200..300).contains(&status) => {
                    let report_id = serde_json::from_slice::<Value>(&answer)
                        .ok()
                        .and_then(|v| wire::created_id(&v).ok())
                        .unwrap_or_default();
                    let total = per_site
                        .iter()
                        .fold(Measured::default(), |t, (_, x)| t.plus(x));
                    let d = Delivered {
                        report_id,
                        demand_kw: total.demand_kw,
                        baseline_kw: total.baseline_kw,
                        work_delayed_acc_h: total.work_delayed_acc_h,
                    };
                    let _ = store
                        .put_openadr("report", &key, &serde_json::to_string(&d).expect("ser"))
                        .await;
                    let mut s = self.state();
                    s.counters.reports_sent += 1;
                    s.reports.insert(key, d);
                }
                Ok((status, _, answer)) => {
                    self.state().counters.reports_failed += 1;
                    self.log_once(
                        &format!("report {key} {status}"),
                        &format!(
                            "the report on event {} interval {iv} was refused: HTTP {status} {}",
                            e.id,
                            snippet(&answer)
                        ),
                    );
                }
                Err(err) => {
                    self.state().counters.reports_failed += 1;
                    self.failed(&err);
                    return;
                }
            }
        }
    }

    fn refresh_view(
        &self,
        sc: &Scenario,
        frame: &mapping::Frame<'_>,
        events: &[Event],
        mapped: &mapping::Mapped,
        done: usize,
    ) {
        let names = frame.sites;
        let done_h = sc.grid.slot_start_h(done);
        let mut s = self.state();
        let mut view = Vec::new();
        for e in events {
            let sites = mapping::targeted(e, frame);
            let notes: Vec<String> = mapped
                .skipped
                .iter()
                .filter(|k| k.event_id == e.id)
                .map(|k| format!("{}: {}", k.reason, k.detail))
                .collect();
            let mut intervals = Vec::new();
            let mut first_h = f64::INFINITY;
            let mut last_h = f64::NEG_INFINITY;
            for (iv, span) in e.spans(sc.grid.start) {
                let Some((start, end)) = span else { continue };
                let a = hours(sc, start);
                let b = end.map_or(sc.grid.horizon_h(), |t| hours(sc, t));
                first_h = first_h.min(a);
                last_h = last_h.max(b);
                let caps: Vec<&mapping::CapPiece> = mapped
                    .caps
                    .iter()
                    .filter(|c| c.event_id == e.id && c.interval_id == iv)
                    .collect();
                let mut by_site: BTreeMap<&str, f64> = BTreeMap::new();
                for c in &caps {
                    let v = by_site.entry(c.site.as_str()).or_insert(f64::INFINITY);
                    *v = v.min(c.cap_kw);
                }
                let cap_kw = (!by_site.is_empty()).then(|| by_site.values().sum::<f64>());
                let base: Option<f64> = s.events.get(&e.id).map(|k| {
                    by_site
                        .keys()
                        .filter_map(|n| names.iter().position(|x| x == n))
                        .map(|k2| k.baseline_kw.get(k2).copied().unwrap_or(0.0))
                        .sum()
                });
                let delivered = s.reports.get(&format!("{}:{}:{iv}", e.id, e.modified));
                intervals.push(IntervalView {
                    id: iv,
                    start_h: a,
                    end_h: b,
                    cap_kw,
                    reduction_asked_kw: cap_kw.zip(base).map(|(c, b)| (b - c).max(0.0)),
                    demand_kw: delivered.map(|d| d.demand_kw),
                    baseline_kw: delivered.map(|d| d.baseline_kw),
                    reduction_delivered_kw: delivered.map(|d| d.baseline_kw - d.demand_kw),
                    work_delayed_acc_h: delivered.map(|d| d.work_delayed_acc_h),
                    report_id: delivered.map(|d| d.report_id.clone()),
                });
            }
            let state = if sites.is_none() {
                "ignored"
            } else if done_h >= last_h - 1e-9 {
                "completed"
            } else if done_h + sc.grid.slot_h() > first_h + 1e-9 {
                "active"
            } else {
                "upcoming"
            };
            let mut kinds: Vec<String> = e
                .intervals
                .iter()
                .flat_map(|i| i.payloads.iter().map(|p| p.kind.clone()))
                .collect();
            kinds.sort();
            kinds.dedup();
            view.push(EventState {
                id: e.id.clone(),
                program_id: e.program_id.clone(),
                name: e.name.clone(),
                priority: e.priority,
                modified: e.modified.clone(),
                state: state.into(),
                payload_types: kinds,
                sites: sites
                    .unwrap_or_default()
                    .into_iter()
                    .map(|k| names[k].clone())
                    .collect(),
                notes,
                intervals,
            });
        }
        for (id, k) in &s.events {
            if k.deleted {
                view.push(EventState {
                    id: id.clone(),
                    program_id: k
                        .raw
                        .get("programID")
                        .map(|v| v.to_string())
                        .unwrap_or_default(),
                    name: k
                        .raw
                        .get("eventName")
                        .and_then(Value::as_str)
                        .map(String::from),
                    priority: None,
                    modified: k.modified.clone(),
                    state: "deleted".into(),
                    payload_types: vec![],
                    sites: vec![],
                    notes: vec![],
                    intervals: vec![],
                });
            }
        }
        s.view = view;
    }

    /// Make the VEN known to the VTN (which is how a VTN's operator grants it targets); one
    /// already there is fine.
    async fn register(&self) -> bool {
        let body = json!({"objectType": "VEN_VEN_REQUEST", "venName": self.cfg.ven_name});
        match self
            .call(reqwest::Method::POST, "/vens", Some(&body), None)
            .await
        {
            Ok((status, _, _)) if (200..300).contains(&status) || status == 409 => true,
            Ok((status, _, answer)) => {
                self.log_once(
                    &format!("register {status}"),
                    &format!(
                        "POST {}/vens answered HTTP {status} {} (events without targets still come)",
                        self.cfg.vtn_url,
                        snippet(&answer)
                    ),
                );
                true
            }
            Err(e) => {
                self.failed(&e);
                false
            }
        }
    }

    /// Subscribe to events by webhook (replacing this VEN's earlier subscriptions to the same
    /// callback).
    async fn subscribe(&self) {
        let Some(cb) = self.cfg.callback_url.clone() else {
            return;
        };
        if let Ok((200, _, body)) = self
            .call(reqwest::Method::GET, "/subscriptions", None, None)
            .await
        {
            if let Ok(Value::Array(list)) = serde_json::from_slice::<Value>(&body) {
                for sub in list {
                    let ours = sub
                        .get("objectOperations")
                        .and_then(Value::as_array)
                        .is_some_and(|ops| {
                            ops.iter().any(|o| {
                                o.get("callbackUrl").and_then(Value::as_str) == Some(cb.as_str())
                            })
                        });
                    if let (true, Ok(id)) = (ours, wire::created_id(&sub)) {
                        let _ = self
                            .call(
                                reqwest::Method::DELETE,
                                &format!("/subscriptions/{}", url_encode(&id)),
                                None,
                                None,
                            )
                            .await;
                    }
                }
            }
        }
        let body = json!({
            "clientName": self.cfg.ven_name,
            "objectOperations": [{
                "objects": ["EVENT"],
                "operations": ["CREATE", "UPDATE", "DELETE"],
                "callbackUrl": cb,
                "bearerToken": self.callback_token,
            }],
        });
        match self
            .call(reqwest::Method::POST, "/subscriptions", Some(&body), None)
            .await
        {
            Ok((status, _, answer)) if (200..300).contains(&status) => {
                let id = serde_json::from_slice::<Value>(&answer)
                    .ok()
                    .and_then(|v| wire::created_id(&v).ok());
                eprintln!(
                    "openadr: subscribed to events at {cb} ({})",
                    id.as_deref().unwrap_or("?")
                );
                self.state().subscription = id.or(Some(String::new()));
            }
            Ok((status, _, answer)) => self.failed(&VtnError {
                what: format!(
                    "POST {}/subscriptions: HTTP {status} {} (polling goes on)",
                    self.cfg.vtn_url,
                    snippet(&answer)
                ),
            }),
            Err(e) => self.failed(&e),
        }
    }
}

fn hours(sc: &Scenario, t: DateTime<Utc>) -> f64 {
    (t - sc.grid.start).num_milliseconds() as f64 / 3_600_000.0
}

/// What a site did over `[a, b)` hours: mean import (kW), the counterfactual's, and the work it
/// did not do that the counterfactual did (accelerator-hours).
#[derive(Debug, Clone, Copy, Default)]
struct Measured {
    usage_kwh: f64,
    demand_kw: f64,
    baseline_kw: f64,
    work_delayed_acc_h: f64,
}

impl Measured {
    fn plus(self, o: &Measured) -> Measured {
        Measured {
            usage_kwh: self.usage_kwh + o.usage_kwh,
            demand_kw: self.demand_kw + o.demand_kw,
            baseline_kw: self.baseline_kw + o.baseline_kw,
            work_delayed_acc_h: self.work_delayed_acc_h + o.work_delayed_acc_h,
        }
    }
}

/// Over `[a, b)` hours, from a series whose first value is slot `first`.
fn measure(s: &SiteSeries, slot_h: f64, first: usize, a: f64, b: f64) -> Measured {
    let mut m = Measured::default();
    let mut base_kwh = 0.0;
    for t in 0..s.import_kw.len() {
        let slot = (first + t) as f64;
        let (x, y) = (slot * slot_h, (slot + 1.0) * slot_h);
        let overlap = (y.min(b) - x.max(a)).max(0.0);
        if overlap <= 0.0 {
            continue;
        }
        m.usage_kwh += s.import_kw[t] * overlap;
        base_kwh += s.baseline_import_kw[t] * overlap;
        m.work_delayed_acc_h +=
            (s.baseline_busy_accelerators[t] - s.busy_accelerators[t]) * overlap;
    }
    let len = (b - a).max(1e-9);
    m.demand_kw = m.usage_kwh / len;
    m.baseline_kw = base_kwh / len;
    m
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn iso_duration(d: chrono::Duration) -> String {
    format!("PT{}S", d.num_seconds().max(0))
}

/// A report on one interval: per targeted site, `USAGE` (kWh), `DEMAND` (mean kW) and
/// `BASELINE` (the counterfactual's mean kW).
fn report_body(
    e: &Event,
    ven: &str,
    names: &[String],
    iv: i64,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    per_site: &[(usize, Measured)],
) -> Value {
    let r = |x: f64| (x * 1000.0).round() / 1000.0;
    json!({
        "programID": e.program_id,
        "eventID": e.id,
        "clientName": ven,
        "reportName": format!("suandian: event {} interval {iv}", e.id),
        "payloadDescriptors": [
            {"objectType": "REPORT_PAYLOAD_DESCRIPTOR", "payloadType": "USAGE", "readingType": "DIRECT_READ", "units": "KWH"},
            {"objectType": "REPORT_PAYLOAD_DESCRIPTOR", "payloadType": "DEMAND", "readingType": "AVERAGE", "units": "KW"},
            {"objectType": "REPORT_PAYLOAD_DESCRIPTOR", "payloadType": "BASELINE", "readingType": "AVERAGE", "units": "KW"},
        ],
        "resources": per_site.iter().map(|(s, m)| json!({
            "resourceName": names[*s],
            "intervalPeriod": {"start": iso(start), "duration": iso_duration(end - start)},
            "intervals": [{"id": iv, "payloads": [
                {"type": "USAGE", "values": [r(m.usage_kwh)]},
                {"type": "DEMAND", "values": [r(m.demand_kw)]},
                {"type": "BASELINE", "values": [r(m.baseline_kw)]},
            ]}],
        })).collect::<Vec<_>>(),
    })
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The start of an answer's body, for a log line.
fn snippet(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let s: String = s.chars().take(200).collect();
    s.replace(['\n', '\r'], " ")
}

/// A client error without the URL's query (which could hold a secret in some servers).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection refused or unreachable"
    } else {
        "request failed"
    };
    let mut src = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = src {
        detail = s.to_string();
        src = s.source();
    }
    if detail.is_empty() {
        kind.into()
    } else {
        format!("{kind} ({detail})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_checked_over_version_time_and_body() {
        use hmac::{Mac, SimpleHmac};
        let key = b"k3y";
        let body = br#"{"operation":"CREATE"}"#;
        let at = 1_795_944_664i64;
        let mut mac = <SimpleHmac<sha2::Sha256> as Mac>::new_from_slice(key).unwrap();
        mac.update(format!("v1.{at}.").as_bytes());
        mac.update(body);
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut h = axum::http::HeaderMap::new();
        h.insert("x-openadr-signature", format!("v1={hex}").parse().unwrap());
        h.insert("x-openadr-timestamp", at.to_string().parse().unwrap());
        assert_eq!(check_signature(key, &h, body, at as f64 + 10.0), Ok(()));
        assert!(check_signature(b"other", &h, body, at as f64).is_err());
        assert!(check_signature(key, &h, b"{}", at as f64).is_err());
        assert!(check_signature(key, &h, body, at as f64 + 301.0).is_err());
        h.remove("x-openadr-timestamp");
        assert!(check_signature(key, &h, body, at as f64).is_err());
    }

    #[test]
    fn a_measured_interval_weighs_the_slots_it_overlaps() {
        let s = SiteSeries {
            site: "east".into(),
            import_kw: vec![10.0, 20.0, 30.0],
            busy_accelerators: vec![1.0, 1.0, 1.0],
            baseline_import_kw: vec![40.0, 40.0, 40.0],
            baseline_busy_accelerators: vec![2.0, 2.0, 2.0],
        };
        let m = measure(&s, 1.0, 0, 0.5, 2.5);
        // The same slots read from slot 1 on: the first half-hour is not there.
        let later = SiteSeries {
            site: "east".into(),
            import_kw: s.import_kw[1..].to_vec(),
            busy_accelerators: s.busy_accelerators[1..].to_vec(),
            baseline_import_kw: s.baseline_import_kw[1..].to_vec(),
            baseline_busy_accelerators: s.baseline_busy_accelerators[1..].to_vec(),
        };
        assert!((measure(&later, 1.0, 1, 1.0, 2.5).usage_kwh - 35.0).abs() < 1e-9);
        assert!((m.usage_kwh - (5.0 + 20.0 + 15.0)).abs() < 1e-9);
        assert!((m.demand_kw - 20.0).abs() < 1e-9);
        assert!((m.baseline_kw - 40.0).abs() < 1e-9);
        assert!((m.work_delayed_acc_h - 2.0).abs() < 1e-9);
    }

    #[test]
    fn echo_values_are_decoded() {
        assert_eq!(percent_decode("a%20b+c%zz"), "a b c%zz");
        assert_eq!(percent_decode("%é%4"), "%é%4");
    }
}
