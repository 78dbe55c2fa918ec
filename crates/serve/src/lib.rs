//! suandian-serve: the live coordinator (`suandian serve`). The only crate that knows HTTP and
//! the database. It runs the same engine, policies and accounting as `suandian simulate`
//! ([`control`]), keeps what it accepted in SQLite ([`store`]), and answers a versioned JSON
//! API (docs/serve.md). Writes need the admin token; reads need a token unless opened.

pub mod control;
pub mod executor;
pub mod observed;
pub mod openadr;
pub mod store;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
pub use control::SignalsMode;
use control::{
    Command, Control, Decisions, EventRequest, EventView, JobPage, JobRequest, JobView,
    MetricsView, PlanView, SignalRequest, SignalsTaken, SiteView, Status,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::Arc;
use suandian_core::model::Scenario;
use suandian_core::policy::Policy;
use utoipa::OpenApi;

/// A refused request: a 4xx (or 503) with a JSON body naming the field, what was found and
/// what was expected.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    pub(crate) field: String,
    found: String,
    expected: String,
}

impl ApiError {
    pub fn invalid(
        field: impl Into<String>,
        found: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            field: field.into(),
            found: found.into(),
            expected: expected.into(),
        }
    }
    pub fn conflict(
        field: impl Into<String>,
        found: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        ApiError {
            status: StatusCode::CONFLICT,
            ..Self::invalid(field, found, expected)
        }
    }
    pub fn unavailable(what: &str) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            ..Self::invalid("", what, "a moment later")
        }
    }
    /// In words, for a log line: the status, the field, what was found and what was expected.
    pub fn describe(&self) -> String {
        format!(
            "HTTP {}: `{}`: found {}, expected {}",
            self.status.as_u16(),
            self.field,
            self.found,
            self.expected
        )
    }
    fn unauthorized(found: &str) -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            ..Self::invalid(
                "Authorization",
                found,
                "Bearer <token> with the right to do this",
            )
        }
    }
}

/// Every refusal's body.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

/// What was refused and why.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// The HTTP status.
    status: u16,
    /// The field, header or query parameter (a JSON path into the body: `allowed_sites[0]`);
    /// empty where the request as a whole was refused.
    field: String,
    found: String,
    expected: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                status: self.status.as_u16(),
                field: self.field,
                found: self.found,
                expected: self.expected,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

/// The API's OpenAPI document (`GET /openapi.json`), generated from the handlers and types.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "suandian serve",
        description = "The live coordinator: jobs, demand-response events and signals in; decisions, \
state and the same accounting as `suandian simulate` out. Times are hours since the scenario's \
start; sites and regions by name. Writes need the admin token; reads a token unless the service \
runs with --open-reads. Refusals are JSON naming the field (docs/serve.md)."
    ),
    paths(
        healthz, readyz, submit, list, job, cancel_job, event, events, cancel_event, signals, sites, plan, executor_view, decisions, status,
        metrics, clock, prometheus, openapi, openadr_view, openadr_notify_get, openadr_notify_post
    ),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The OpenAPI document as JSON.
pub fn openapi_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the document serialises")
}

/// Who may do what: the tokens' SHA-256 digests (the tokens themselves are not kept).
#[derive(Clone)]
struct Auth {
    admin: [u8; 32],
    read: Option<[u8; 32]>,
    open_reads: bool,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Auth {
    fn presented(headers: &HeaderMap) -> Option<[u8; 32]> {
        let v = headers.get("authorization")?.to_str().ok()?;
        let t = v.strip_prefix("Bearer ")?.trim();
        (!t.is_empty()).then(|| digest(t))
    }
    /// Digests compared in full, whatever the first difference.
    fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
    fn write(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        match Self::presented(headers) {
            Some(d) if Self::same(&d, &self.admin) => Ok(()),
            Some(_) => Err(ApiError::unauthorized("a token without the right to write")),
            None => Err(ApiError::unauthorized("no bearer token")),
        }
    }
    fn read(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        if self.open_reads {
            return Ok(());
        }
        match Self::presented(headers) {
            Some(d)
                if Self::same(&d, &self.admin)
                    || self.read.as_ref().is_some_and(|r| Self::same(&d, r)) =>
            {
                Ok(())
            }
            Some(_) => Err(ApiError::unauthorized("an unknown token")),
            None => Err(ApiError::unauthorized("no bearer token")),
        }
    }
}

#[derive(Clone)]
struct App {
    control: Control,
    auth: Arc<Auth>,
    executor: executor::ExecutorHandle,
    /// The OpenADR VEN, where one is configured.
    ven: Option<Arc<openadr::Ven>>,
}

/// How the service runs.
pub struct Config {
    /// Where to listen (127.0.0.1 unless told otherwise; port 0 picks one).
    pub listen: SocketAddr,
    /// Where the accepted jobs and the loop's progress are kept: a SQLite file, or a
    /// `postgres://` URL.
    pub database: String,
    /// Slots per slot length of wall time: 1 is real time; 3600 runs an hourly slot a second.
    pub speed: f64,
    pub policy: Box<dyn Policy + Send>,
    pub forecast: suandian_core::forecast::ForecastKind,
    /// The admin token (writes and reads) and an optional read-only token.
    pub admin_token: String,
    pub read_token: Option<String>,
    /// Reads without a token.
    pub open_reads: bool,
    /// Start with the clock stopped (`POST /v1/clock {"running": true}` starts it).
    pub paused: bool,
    /// The scenario's series replayed, or live feeds posted to `/v1/signals`.
    pub signals: SignalsMode,
    /// Where the decisions go.
    pub executor: ExecutorChoice,
    /// The OpenADR 3.1 VTN to answer, if any (docs/openadr.md).
    pub openadr: Option<openadr::VenConfig>,
}

/// Where the decisions go.
#[derive(Debug, Clone)]
pub enum ExecutorChoice {
    /// The built-in simulated fleet (the engine's physics).
    Simulated,
    /// A Slurm cluster through its command-line tools: site name → partition (default the
    /// site's name) and CPUs per accelerator.
    Slurm {
        partitions: std::collections::HashMap<String, String>,
        cpus_per_accelerator: u32,
        /// Accelerators are GPUs (GRES `gpu`).
        gpus: bool,
        /// Where the stand-in jobs keep their progress.
        checkpoint_dir: std::path::PathBuf,
    },
}

/// Run the service until SIGTERM or Ctrl-C; `ready` gets the address it listens on.
pub fn serve(
    sc: Scenario,
    cfg: Config,
    ready: impl FnOnce(SocketAddr) + Send + 'static,
) -> Result<(), String> {
    if !(cfg.speed > 0.0 && cfg.speed.is_finite()) {
        return Err(format!(
            "--speed: found {}, expected a number > 0",
            cfg.speed
        ));
    }
    if cfg.admin_token.trim().len() < 16 {
        return Err(
            "SUANDIAN_ADMIN_TOKEN: found a token shorter than 16 characters, expected at least 16"
                .into(),
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    // One scenario for the life of the process: the engine borrows it.
    let sc: &'static Scenario = Box::leak(Box::new(sc));
    let ven = match cfg.openadr.clone() {
        Some(c) => Some(openadr::Ven::new(c)?),
        None => None,
    };
    rt.block_on(async move {
        let store = store::open(&cfg.database).await?;
        let (fingerprint, described) =
            run_fingerprint(sc, cfg.policy.name(), cfg.forecast, cfg.signals);
        // A new run's id: its fingerprint and the moment it was made.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let fresh: String = Sha256::digest(format!("{fingerprint}:{nanos}:{}", std::process::id()))
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();
        let run_id = store.claim(&fingerprint, &described, &fresh).await?;
        let executor: Box<dyn executor::Executor> = match cfg.executor {
            ExecutorChoice::Simulated => Box::new(executor::Simulated),
            ExecutorChoice::Slurm {
                partitions,
                cpus_per_accelerator,
                gpus,
                checkpoint_dir,
            } => Box::new(executor::Slurm::new(executor::SlurmConfig {
                partitions,
                cpus_per_accelerator,
                gpus,
                seconds_per_hour: 3600.0 / cfg.speed,
                slot_s: sc.grid.slot_h() * 3600.0 / cfg.speed,
                checkpoint_dir,
                run_tag: run_id,
            })),
        };
        let observe_every = std::time::Duration::from_secs_f64(
            (sc.grid.slot_h() * 3600.0 / cfg.speed / 4.0).clamp(0.2, 30.0),
        );
        let executor = executor::ExecutorHandle::start(executor, observe_every);
        let control = Control::start(
            sc,
            cfg.policy,
            store.clone(),
            control::LoopConfig {
                speed: cfg.speed,
                running: !cfg.paused,
                forecast: cfg.forecast,
                signals: cfg.signals,
                executor: executor.clone(),
            },
        )
        .await?;
        if let Some(v) = &ven {
            tokio::spawn(v.clone().run(sc, control.clone(), store.clone()));
        }
        let app = App {
            ven,
            executor,
            control,
            auth: Arc::new(Auth {
                admin: digest(cfg.admin_token.trim()),
                read: cfg.read_token.as_deref().map(|t| digest(t.trim())),
                open_reads: cfg.open_reads,
            }),
        };
        let router = Router::new()
            .route("/healthz", get(healthz))
            .route("/openapi.json", get(openapi))
            .route("/readyz", get(readyz))
            .route("/v1/jobs", post(submit).get(list))
            .route("/v1/jobs/{id}", get(job))
            .route("/v1/jobs/{id}/cancel", post(cancel_job))
            .route("/v1/events", post(event).get(events))
            .route("/v1/events/{id}/cancel", post(cancel_event))
            .route("/v1/signals", post(signals))
            .route("/v1/sites", get(sites))
            .route("/v1/plan", get(plan))
            .route("/v1/executor", get(executor_view))
            .route("/v1/decisions", get(decisions))
            .route("/v1/status", get(status))
            .route("/v1/metrics", get(metrics))
            .route("/v1/clock", post(clock))
            .route("/v1/openadr", get(openadr_view))
            .route(
                "/v1/openadr/notify",
                get(openadr_notify_get).post(openadr_notify_post),
            )
            .route("/metrics", get(prometheus))
            .fallback(|| async {
                ApiError {
                    status: StatusCode::NOT_FOUND,
                    ..ApiError::invalid("path", "an unknown path", "a path of docs/serve.md")
                }
            })
            .layer(DefaultBodyLimit::max(64 * 1024))
            .with_state(app);
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|e| format!("--listen {}: cannot bind: {e}", cfg.listen))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("cannot read the bound address: {e}"))?;
        ready(addr);
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown())
            .await
            .map_err(|e| format!("the server stopped: {e}"))
    })
}

/// What a database's stored inputs belong to: the scenario (its jobs aside: the service's come
/// through the API), the policy and the forecasts, as a SHA-256 digest and in words.
fn run_fingerprint(
    sc: &Scenario,
    policy: String,
    forecast: suandian_core::forecast::ForecastKind,
    signals: SignalsMode,
) -> (String, String) {
    let mut v = serde_json::to_value(sc).expect("a scenario serialises");
    if let Some(o) = v.as_object_mut() {
        o.remove("jobs");
    }
    let signals = match signals {
        SignalsMode::Replay => serde_json::json!({"replay": forecast}),
        SignalsMode::Live { max_age_slots } => serde_json::json!({"live": max_age_slots}),
    };
    let text = serde_json::json!({"scenario": v, "policy": policy, "signals": signals});
    let d = Sha256::digest(text.to_string().as_bytes());
    let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
    let described = format!(
        "scenario `{}` ({} sites, {} slots, fingerprint {}), policy {policy}",
        sc.name,
        sc.sites.len(),
        sc.grid.slots,
        &hex[..12]
    );
    (hex, described)
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "Up", body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct Health {
    status: &'static str,
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "health",
    responses((status = 200, description = "The OpenAPI document", body = Object)))]
async fn openapi() -> Response {
    ([("content-type", "application/json")], openapi_json()).into_response()
}

/// Readiness: the control loop answers.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct Readiness {
    ready: bool,
    slots_done: usize,
    /// `ok`, or `degraded` while a live feed's current value is not a fresh forecast.
    signals: &'static str,
    #[schema(value_type = Vec<control::FeedView>)]
    degraded_feeds: Vec<suandian_core::signals::FeedStatus>,
}

/// Ready when the control loop answers; `signals` says `degraded` (with the feeds) while a
/// live feed's current value is not a fresh forecast (persistence or fallback).
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "The control loop does not answer", body = ErrorBody)))]
async fn readyz(State(app): State<App>) -> Result<Json<Readiness>, ApiError> {
    let s = app.control.ask(|reply| Command::Status { reply }).await?;
    Ok(Json(Readiness {
        ready: true,
        slots_done: s.slots_done,
        signals: if s.degraded_feeds.is_empty() {
            "ok"
        } else {
            "degraded"
        },
        degraded_feeds: s.degraded_feeds,
    }))
}

/// Post observed or forecast values of a signal (a service started with `--signals live`).
#[utoipa::path(post, path = "/v1/signals", tag = "signals", request_body = SignalRequest,
    security(("bearer" = [])),
    responses((status = 201, description = "Taken", body = SignalsTaken),
        (status = 401, description = "No admin token", body = ErrorBody),
        (status = 409, description = "The service replays the scenario's signals", body = ErrorBody),
        (status = 422, description = "A field does not fit", body = ErrorBody),
        (status = 503, description = "Not committed: try again", body = ErrorBody)))]
async fn signals(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    app.auth.write(&headers)?;
    let signals: SignalRequest = parse(&body, "signal values as docs/serve.md describes them")?;
    let v = app
        .control
        .ask(|reply| Command::Signals { signals, reply })
        .await??;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// A read: the token checked, the control loop asked, its answer as JSON.
async fn read<T: serde::Serialize>(
    app: &App,
    headers: &HeaderMap,
    make: impl FnOnce(tokio::sync::oneshot::Sender<T>) -> Command,
) -> Result<Response, ApiError> {
    app.auth.read(headers)?;
    Ok(Json(app.control.ask(make).await?).into_response())
}

/// A write that changes nothing but what it names: the admin token checked, the control loop
/// asked, its answer (or refusal) as JSON.
async fn write<T: serde::Serialize>(
    app: &App,
    headers: &HeaderMap,
    make: impl FnOnce(tokio::sync::oneshot::Sender<Result<T, ApiError>>) -> Command,
) -> Result<Response, ApiError> {
    app.auth.write(headers)?;
    Ok(Json(app.control.ask(make).await??).into_response())
}

/// A JSON body as `T`, or a 422 naming the field that does not fit (`what`: what was expected).
fn parse<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        ApiError::invalid(
            if path == "." { "body".into() } else { path },
            e.inner().to_string(),
            what,
        )
    })
}

/// Submit a job. The same `Idempotency-Key` gives the same job back (200), never a second one.
#[utoipa::path(post, path = "/v1/jobs", tag = "jobs", request_body = JobRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "1-200 characters; the same key gives the same job back")),
    security(("bearer" = [])),
    responses((status = 201, description = "Accepted and committed", body = JobView),
        (status = 200, description = "The job this key made before", body = JobView),
        (status = 401, description = "No admin token", body = ErrorBody),
        (status = 409, description = "The id or key is taken by another job", body = ErrorBody),
        (status = 422, description = "A field does not fit", body = ErrorBody),
        (status = 503, description = "Not committed: try again", body = ErrorBody)))]
async fn submit(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    app.auth.write(&headers)?;
    let job: JobRequest = parse(&body, "a job as docs/serve.md describes it")?;
    let idempotency_key = match headers.get("idempotency-key") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 200)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "Idempotency-Key",
                        "an unreadable key",
                        "1-200 visible characters",
                    )
                })?
                .to_string(),
        ),
        None => None,
    };
    let (view, created) = app
        .control
        .ask(|reply| Command::Submit {
            job,
            idempotency_key,
            reply,
        })
        .await??;
    let code = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((code, Json(view)).into_response())
}

/// Post a demand-response event: an import cap on sites over a window.
#[utoipa::path(post, path = "/v1/events", tag = "events", request_body = EventRequest,
    security(("bearer" = [])),
    responses((status = 201, description = "Taken", body = EventView),
        (status = 401, description = "No admin token", body = ErrorBody),
        (status = 409, description = "The id is taken", body = ErrorBody),
        (status = 422, description = "A field does not fit", body = ErrorBody),
        (status = 503, description = "Not committed: try again", body = ErrorBody)))]
async fn event(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    app.auth.write(&headers)?;
    let event: EventRequest = parse(
        &body,
        "a demand-response event as docs/serve.md describes it",
    )?;
    let e = app
        .control
        .ask(|reply| Command::Event { event, reply })
        .await??;
    Ok((StatusCode::CREATED, Json(e)).into_response())
}

/// The demand-response events taken, in order.
#[utoipa::path(get, path = "/v1/events", tag = "events", security(("bearer" = [])),
    responses((status = 200, description = "The events", body = Vec<EventView>),
        (status = 401, description = "No token", body = ErrorBody)))]
async fn events(State(app): State<App>, headers: HeaderMap) -> Result<Response, ApiError> {
    read(&app, &headers, |reply| Command::Events { reply }).await
}

/// Each site: capacity, the caps in force now, and the last slot's load, supply mix and
/// battery state of charge.
#[utoipa::path(get, path = "/v1/sites", tag = "state", security(("bearer" = [])),
    responses((status = 200, description = "The sites", body = Vec<SiteView>),
        (status = 401, description = "No token", body = ErrorBody)))]
async fn sites(State(app): State<App>, headers: HeaderMap) -> Result<Response, ApiError> {
    read(&app, &headers, |reply| Command::Sites { reply }).await
}

/// The plan in force: what the policy intends at each site from the next slot on (work
/// planned, battery set-points); empty for a rule, which plans nothing ahead.
#[utoipa::path(get, path = "/v1/plan", tag = "state", security(("bearer" = [])),
    responses((status = 200, description = "The plan", body = PlanView),
        (status = 401, description = "No token", body = ErrorBody)))]
async fn plan(State(app): State<App>, headers: HeaderMap) -> Result<Response, ApiError> {
    read(&app, &headers, |reply| Command::Plan { reply }).await
}

/// The executor: where the decisions go, its counters, and the jobs it runs as it sees them.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct ExecutorView {
    status: executor::ExecutorStatus,
    /// The jobs this service runs there, as the executor reports them (Slurm: its queue).
    jobs: Vec<executor::Observed>,
    /// When it read them, Unix seconds (0: not yet).
    read_at_unix_s: f64,
}

/// The executor: where the decisions go (the simulated fleet or Slurm), the commands it ran and
/// the failures it retried, and this service's jobs as it sees them (Slurm is the truth about
/// its jobs).
#[utoipa::path(get, path = "/v1/executor", tag = "state", security(("bearer" = [])),
    responses((status = 200, description = "The executor", body = ExecutorView),
        (status = 401, description = "No token", body = ErrorBody)))]
async fn executor_view(State(app): State<App>, headers: HeaderMap) -> Result<Response, ApiError> {
    app.auth.read(&headers)?;
    let (jobs, read_at_unix_s) = app.executor.observed_at();
    Ok(Json(ExecutorView {
        status: app.executor.status(),
        jobs,
        read_at_unix_s,
    })
    .into_response())
}

/// What the policy decided in the last slot stepped, per site: what each site was told to
/// start, pause, move or set its battery to.
#[utoipa::path(get, path = "/v1/decisions", tag = "state", security(("bearer" = [])),
    responses((status = 200, description = "The decisions", body = Decisions),
        (status = 401, description = "No token", body = ErrorBody)))]
async fn decisions(State(app): State<App>, headers: HeaderMap) -> Result<Response, ApiError> {
    read(&app, &headers, |reply| Command::Decisions { reply }).await
}

/// Cancel a job at the current slot's start: one not arrived never does, a waiting one leaves
/// the queue, a running one stops (the work and energy it used stay counted; its remaining work
/// counts as undone on equal work).
#[utoipa::path(post, path = "/v1/jobs/{id}/cancel", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path, description = "The job's id")),
    responses((status = 200, description = "The job, cancelled", body = JobView),
        (status = 401, description = "No admin token", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "Done or cancelled already", body = ErrorBody),
        (status = 503, description = "Not committed: try again", body = ErrorBody)))]
async fn cancel_job(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    write(&app, &headers, |reply| Command::CancelJob { id, reply }).await
}

/// Cancel an event from the current slot on: a window that has begun ends at this slot's
/// start (the slots already run stay as they were); one still to come is dropped.
#[utoipa::path(post, path = "/v1/events/{id}/cancel", tag = "events", security(("bearer" = [])),
    params(("id" = String, Path, description = "The event's id")),
    responses((status = 200, description = "The event as it now stands", body = EventView),
        (status = 401, description = "No admin token", body = ErrorBody),
        (status = 404, description = "No such event", body = ErrorBody),
        (status = 409, description = "Already cancelled, or its window is over", body = ErrorBody),
        (status = 503, description = "Not committed: try again", body = ErrorBody)))]
async fn cancel_event(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    write(&app, &headers, |reply| Command::CancelEvent { id, reply }).await
}

/// Jobs in submission order, a page at a time.
#[utoipa::path(get, path = "/v1/jobs", tag = "jobs", security(("bearer" = [])),
    params(
        ("state" = Option<String>, Query, description = "pending, queued, running, suspended, migrating, done or cancelled"),
        ("after" = Option<String>, Query, description = "The `next` of the previous page"),
        ("limit" = Option<u32>, Query, description = "1 to 1000 (default 100)", minimum = 1, maximum = 1000)),
    responses((status = 200, description = "A page", body = JobPage),
        (status = 401, description = "No token", body = ErrorBody),
        (status = 422, description = "A parameter does not fit", body = ErrorBody)))]
async fn list(
    State(app): State<App>,
    headers: HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Result<Response, ApiError> {
    app.auth.read(&headers)?;
    let (mut state, mut after, mut limit) = (None, None, 100usize);
    for pair in query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "state" => state = Some(v.to_string()),
            "after" => after = Some(v.to_string()),
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "limit",
                            format!("`{v}`"),
                            "a whole number from 1 to 1000",
                        )
                    })?
            }
            other => {
                return Err(ApiError::invalid(
                    other.to_string(),
                    "an unknown query parameter",
                    "state, after or limit",
                ))
            }
        }
    }
    let page = app
        .control
        .ask(|reply| Command::List {
            state,
            after,
            limit,
            reply,
        })
        .await??;
    Ok(Json(page).into_response())
}

/// A job: its state, where and when it ran, and every decision about it.
#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path, description = "The job's id")),
    responses((status = 200, description = "The job", body = JobView),
        (status = 401, description = "No token", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody)))]
async fn job(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.auth.read(&headers)?;
    match app
        .control
        .ask(|reply| Command::Job {
            id: id.clone(),
            reply,
        })
        .await?
    {
        Some(v) => Ok(Json(v).into_response()),
        None => Err(ApiError {
            status: StatusCode::NOT_FOUND,
            ..ApiError::invalid("id", format!("`{id}`"), "the id of a submitted job")
        }),
    }
}

/// The control loop: slots done, clock, policy, step times, signal feeds.
#[utoipa::path(get, path = "/v1/status", tag = "state", security(("bearer" = [])),
    responses((status = 200, description = "The loop", body = Status),
        (status = 401, description = "No token", body = ErrorBody)))]
async fn status(State(app): State<App>, headers: HeaderMap) -> Result<Response, ApiError> {
    read(&app, &headers, |reply| Command::Status { reply }).await
}

/// The figures so far, from the same accounting as `suandian simulate`.
#[utoipa::path(get, path = "/v1/metrics", tag = "state", security(("bearer" = [])),
    responses((status = 200, description = "The figures", body = MetricsView),
        (status = 401, description = "No token", body = ErrorBody)))]
async fn metrics(State(app): State<App>, headers: HeaderMap) -> Result<Response, ApiError> {
    read(&app, &headers, |reply| Command::Metrics { reply }).await
}

/// Start or stop the clock, or step slots now.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ClockRequest {
    /// Start (`true`) or stop (`false`) the clock; absent: as it is.
    running: Option<bool>,
    /// Step this many slots now, one after another (stopping at the run's end), then answer.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100000)]
    step_slots: u32,
}

/// Start or stop the clock (slots pass at the service's `--speed`), or step slots now: what a
/// test or a demo uses to advance time by exactly so much.
#[utoipa::path(post, path = "/v1/clock", tag = "state", request_body = ClockRequest,
    security(("bearer" = [])),
    responses((status = 200, description = "The loop", body = Status),
        (status = 401, description = "No admin token", body = ErrorBody),
        (status = 422, description = "A field does not fit", body = ErrorBody)))]
async fn clock(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    app.auth.write(&headers)?;
    let req: ClockRequest = parse(
        &body,
        "{\"running\": true|false, \"step_slots\": a whole number}",
    )?;
    if req.step_slots > 100_000 {
        return Err(ApiError::invalid(
            "step_slots",
            req.step_slots.to_string(),
            "0 to 100000",
        ));
    }
    let s = app
        .control
        .ask(|reply| Command::Run {
            running: req.running,
            step_slots: req.step_slots as usize,
            reply,
        })
        .await??;
    Ok(Json(s).into_response())
}

/// The figures operators graph, in Prometheus' text format (units in the names), from the same
/// snapshot as `GET /v1/metrics`.
#[utoipa::path(get, path = "/metrics", tag = "state", security(("bearer" = [])),
    responses((status = 200, description = "Prometheus text format 0.0.4", body = String, content_type = "text/plain"),
        (status = 401, description = "No token", body = ErrorBody)))]
async fn prometheus(State(app): State<App>, headers: HeaderMap) -> Result<Response, ApiError> {
    app.auth.read(&headers)?;
    let m = app.control.ask(|reply| Command::Metrics { reply }).await?;
    let mut text = prometheus_text(&serde_json::to_value(m).expect("metrics serialise"));
    executor_text(&mut text, &app.executor.status());
    if let Some(v) = &app.ven {
        openadr_text(&mut text, &v.view());
    }
    Ok((
        [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
        .into_response())
}

/// The OpenADR VEN: the VTN, the connection, its counters, and each event with the reduction
/// asked and delivered per interval (404 where no VTN is configured).
#[utoipa::path(get, path = "/v1/openadr", tag = "openadr", security(("bearer" = [])),
    responses((status = 200, description = "The VEN", body = openadr::OpenadrView),
        (status = 401, description = "No token", body = ErrorBody),
        (status = 404, description = "No VTN configured", body = ErrorBody)))]
async fn openadr_view(State(app): State<App>, headers: HeaderMap) -> Result<Response, ApiError> {
    app.auth.read(&headers)?;
    let ven = app.ven.as_ref().ok_or_else(no_vtn)?;
    Ok(Json(ven.view()).into_response())
}

fn no_vtn() -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        ..ApiError::invalid(
            "path",
            "a service without a VTN",
            "a service started with --openadr-vtn",
        )
    }
}

/// The VTN's webhook: the echo challenge (`GET ?echo=VALUE`, answered with VALUE) and
/// notifications (`POST`, with the subscription's bearer token, and the VTN's HMAC signature
/// where `--openadr-webhook-key` is set). Not the admin token: the VTN's own.
#[utoipa::path(get, path = "/v1/openadr/notify", tag = "openadr",
    params(("echo" = String, Query, description = "The VTN's challenge")),
    responses((status = 200, description = "The challenge's value", body = String),
        (status = 404, description = "No VTN configured", body = ErrorBody),
        (status = 422, description = "No challenge", body = ErrorBody)))]
async fn openadr_notify_get(
    State(app): State<App>,
    headers: HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Result<Response, ApiError> {
    let ven = app.ven.as_ref().ok_or_else(no_vtn)?;
    Ok(notify_answer(ven.on_notify(
        "GET",
        query.as_deref(),
        &headers,
        b"",
    )))
}

/// A notification from the VTN (see the GET).
#[utoipa::path(post, path = "/v1/openadr/notify", tag = "openadr",
    request_body(content = String, description = "An OpenADR 3.1 notification", content_type = "application/json"),
    responses((status = 200, description = "Taken"),
        (status = 401, description = "Not the subscription's token or signature", body = ErrorBody),
        (status = 404, description = "No VTN configured", body = ErrorBody),
        (status = 422, description = "Not a notification", body = ErrorBody)))]
async fn openadr_notify_post(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let ven = app.ven.as_ref().ok_or_else(no_vtn)?;
    Ok(notify_answer(ven.on_notify("POST", None, &headers, &body)))
}

fn notify_answer((status, body): (u16, String)) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let ct = if status == StatusCode::OK && !body.starts_with('{') {
        "text/plain; charset=utf-8"
    } else {
        "application/json"
    };
    (status, [("content-type", ct)], body).into_response()
}

/// The VEN's counters as Prometheus text.
fn openadr_text(out: &mut String, v: &openadr::OpenadrView) {
    use std::fmt::Write as _;
    let c = serde_json::to_value(&v.counters).expect("counters serialise");
    if let Some(o) = c.as_object() {
        for (k, x) in o {
            let _ = writeln!(
                out,
                "# TYPE suandian_openadr_{k}_total counter\nsuandian_openadr_{k}_total {}",
                x.as_f64().unwrap_or(0.0)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP suandian_openadr_connected Whether the last request to the VTN succeeded.\n# TYPE suandian_openadr_connected gauge\nsuandian_openadr_connected {}",
        u8::from(v.connected)
    );
    let mut by_state: std::collections::BTreeMap<&str, usize> =
        ["upcoming", "active", "completed", "deleted", "ignored"]
            .into_iter()
            .map(|s| (s, 0))
            .collect();
    for e in &v.events {
        *by_state.entry(e.state.as_str()).or_default() += 1;
    }
    let _ = writeln!(out, "# HELP suandian_openadr_events OpenADR events by state.\n# TYPE suandian_openadr_events gauge");
    for (s, n) in by_state {
        let _ = writeln!(out, "suandian_openadr_events{{state=\"{s}\"}} {n}");
    }
    let _ = writeln!(out, "# HELP suandian_openadr_reduction_delivered_kw Each reported interval's import below the baseline, summed over the targeted sites.\n# TYPE suandian_openadr_reduction_delivered_kw gauge");
    for e in &v.events {
        for i in &e.intervals {
            if let Some(r) = i.reduction_delivered_kw {
                let id = e.id.replace(['\\', '"', '\n'], "");
                let _ = writeln!(
                    out,
                    "suandian_openadr_reduction_delivered_kw{{event=\"{id}\",interval=\"{}\"}} {r}",
                    i.id
                );
            }
        }
    }
}

/// The executor's counters as Prometheus text.
fn executor_text(out: &mut String, s: &executor::ExecutorStatus) {
    use std::fmt::Write as _;
    let name = s.name.replace(['\\', '"'], "");
    for (metric, kind, help, v) in [
        (
            "executor_commands_total",
            "counter",
            "Commands run on the workload manager.",
            s.commands as f64,
        ),
        (
            "executor_failures_total",
            "counter",
            "Executor commands that failed (retried with backoff).",
            s.failures as f64,
        ),
        (
            "executor_backlog",
            "gauge",
            "Orders waiting to be carried out.",
            s.backlog as f64,
        ),
        (
            "executor_apply_seconds",
            "gauge",
            "From an order sent to its last command done, the last order.",
            s.last_apply_s,
        ),
    ] {
        let _ = writeln!(out, "# HELP suandian_{metric} {help}");
        let _ = writeln!(out, "# TYPE suandian_{metric} {kind}");
        let _ = writeln!(out, "suandian_{metric}{{executor=\"{name}\"}} {v}");
    }
}

/// `snapshot` (the JSON of `GET /v1/metrics`) as Prometheus text.
fn prometheus_text(snapshot: &serde_json::Value) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: Vec<(String, f64)>| {
        let _ = writeln!(out, "# HELP suandian_{name} {help}");
        let _ = writeln!(out, "# TYPE suandian_{name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(out, "suandian_{name}{labels} {v}");
        }
    };
    let num = |v: &serde_json::Value| v.as_f64().unwrap_or(0.0);
    let label = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    };
    metric(
        "slots_done",
        "counter",
        "Slots the control loop has stepped.",
        vec![(String::new(), num(&snapshot["slots_done"]))],
    );
    metric(
        "clock_running",
        "gauge",
        "1 while the clock runs, 0 while it is stopped.",
        vec![(
            String::new(),
            f64::from(u8::from(snapshot["running"] == true)),
        )],
    );
    metric(
        "step_seconds",
        "gauge",
        "Wall-clock time of the last slot's step (re-plan and engine).",
        vec![(String::new(), num(&snapshot["last_step_ms"]) / 1000.0)],
    );
    metric(
        "step_seconds_max",
        "gauge",
        "The longest step so far.",
        vec![(String::new(), num(&snapshot["max_step_ms"]) / 1000.0)],
    );
    let states = snapshot["jobs_by_state"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    metric(
        "jobs",
        "gauge",
        "Jobs by state.",
        states
            .iter()
            .map(|(k, v)| (format!("{{state=\"{}\"}}", label(k)), num(v)))
            .collect(),
    );
    let feeds = snapshot["feeds_by_state"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    metric(
        "signal_feeds",
        "gauge",
        "Live signal feeds by where the current slot's value comes from (forecast, persistence, fallback).",
        feeds
            .iter()
            .map(|(k, v)| (format!("{{state=\"{}\"}}", label(k)), num(v)))
            .collect(),
    );
    let savings = &snapshot["savings"];
    for (key, name, help) in [
        (
            "equal_work_carbon",
            "saving_equal_work_carbon_percent",
            "Carbon saved against the asap counterfactual on equal work so far, %.",
        ),
        (
            "equal_work_cost",
            "saving_equal_work_cost_percent",
            "Cost saved against the asap counterfactual on equal work so far, %.",
        ),
    ] {
        if let Some(v) = savings[key].as_f64() {
            metric(name, "gauge", help, vec![(String::new(), v)]);
        }
    }
    let m = &snapshot["metrics"];
    let currency = label(snapshot["currency"].as_str().unwrap_or(""));
    for (key, name, help) in [
        (
            "facility_kwh",
            "facility_energy_kwh",
            "Facility energy (IT x PUE) so far.",
        ),
        ("it_kwh", "it_energy_kwh", "IT energy so far."),
        (
            "grid_import_kwh",
            "grid_import_kwh",
            "Energy imported from the grid so far.",
        ),
        (
            "green_used_kwh",
            "green_used_kwh",
            "Direct green energy that reached the load so far.",
        ),
        (
            "curtailed_kwh",
            "curtailed_kwh",
            "Green energy curtailed so far.",
        ),
        (
            "exported_kwh",
            "exported_kwh",
            "Energy fed into the grid so far.",
        ),
        (
            "thermal_kwh",
            "thermal_kwh",
            "Energy from thermal backup so far.",
        ),
        (
            "import_over_limit_kwh",
            "import_over_limit_kwh",
            "Import above connection limits and demand-response caps so far.",
        ),
        (
            "carbon_location_kg",
            "carbon_scope2_location_kg",
            "Scope 2 location-based emissions so far.",
        ),
        (
            "carbon_market_kg",
            "carbon_scope2_market_kg",
            "Scope 2 market-based emissions so far.",
        ),
        (
            "scope1_kg",
            "carbon_scope1_kg",
            "Scope 1 emissions (thermal backup) so far.",
        ),
        ("tokens", "tokens", "Inference tokens served so far."),
    ] {
        metric(name, "counter", help, vec![(String::new(), num(&m[key]))]);
    }
    metric(
        "energy_cost",
        "counter",
        "Energy cost so far (import + thermal + battery wear - export), in the scenario's currency.",
        vec![(format!("{{currency=\"{currency}\"}}"), num(&m["cost"]))],
    );
    metric(
        "green_share_ratio",
        "gauge",
        "Direct green share of facility energy so far.",
        vec![(String::new(), num(&m["green_share"]))],
    );
    let sites = snapshot["sites"].as_array().cloned().unwrap_or_default();
    for (key, name, help) in [
        (
            "facility_kwh",
            "site_facility_energy_kwh",
            "Facility energy per site so far.",
        ),
        (
            "grid_import_kwh",
            "site_grid_import_kwh",
            "Grid import per site so far.",
        ),
        (
            "peak_import_kw",
            "site_peak_import_kw",
            "Highest import per site in any slot so far.",
        ),
    ] {
        let kind = if key.ends_with("_kw") {
            "gauge"
        } else {
            "counter"
        };
        metric(
            name,
            kind,
            help,
            sites
                .iter()
                .map(|s| {
                    (
                        format!("{{site=\"{}\"}}", label(s["site"].as_str().unwrap_or(""))),
                        num(&s[key]),
                    )
                })
                .collect(),
        );
    }
    out
}
