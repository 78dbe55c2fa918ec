//! Durable state behind one trait, [`Storage`], in SQLite (one file, WAL, full sync; the
//! default) or PostgreSQL (`postgres://…`): the jobs and events accepted, each with the slot
//! before which the engine took it, and the last slot the engine finished. The engine is
//! deterministic, so these inputs are the state: a restart re-steps the engine through them and
//! reaches the decisions and metrics it had (docs/serve.md). Both backends run the same
//! statements (parameterised, `$1` placeholders, which SQLite reads too); only the schema's
//! auto-numbered key is spelled per backend.

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;

/// The schema, applied in order; `schema_version` records how far a database is. `{SEQ}` is
/// the backend's auto-numbered key.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE jobs (
        seq {SEQ},
        id TEXT NOT NULL UNIQUE,
        idempotency_key TEXT UNIQUE,
        submit_slot BIGINT NOT NULL,
        job TEXT NOT NULL
    );
    CREATE TABLE progress (
        one BIGINT PRIMARY KEY CHECK (one = 1),
        slots_done BIGINT NOT NULL
    );
    INSERT INTO progress (one, slots_done) VALUES (1, 0);",
    "CREATE TABLE events (
        seq {SEQ},
        id TEXT NOT NULL UNIQUE,
        submit_slot BIGINT NOT NULL,
        event TEXT NOT NULL
    );",
    // What the stored inputs were accepted for: a restart on another scenario or policy would
    // re-step them into a different run, so it is refused.
    "CREATE TABLE run (
        one BIGINT PRIMARY KEY CHECK (one = 1),
        fingerprint TEXT NOT NULL,
        described TEXT NOT NULL
    );",
    // Signal values posted to a live service (observations and forecasts), in order.
    "CREATE TABLE signals (
        seq {SEQ},
        submit_slot BIGINT NOT NULL,
        body TEXT NOT NULL
    );",
    // Demand-response events cancelled, each with the slot it was cancelled from.
    "CREATE TABLE event_cancels (
        seq {SEQ},
        id TEXT NOT NULL UNIQUE,
        submit_slot BIGINT NOT NULL
    );",
    // Jobs withdrawn, each with the slot it was withdrawn at.
    "CREATE TABLE job_cancels (
        seq {SEQ},
        id TEXT NOT NULL UNIQUE,
        submit_slot BIGINT NOT NULL
    );",
    // The run's own name, made once: what marks its jobs on a workload manager.
    "ALTER TABLE run ADD COLUMN run_id TEXT;",
    // When each slot began on the wall clock, and each job's runs as the executor observed
    // them (JSON): what the observed accounting reads after a restart.
    "CREATE TABLE slot_clock (
        slot BIGINT PRIMARY KEY,
        began_unix_s DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE observed_runs (
        id TEXT PRIMARY KEY,
        runs TEXT NOT NULL
    );",
    // What the OpenADR VEN keeps (JSON by kind and id): each event as the VTN last sent it
    // (`event`), and each report it delivered (`report`).
    "CREATE TABLE openadr (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (kind, id)
    );",
];

/// What a cancellation withdraws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdrawn {
    Event,
    Job,
}

impl Withdrawn {
    /// Its table: a constant name, no input.
    fn table(self) -> &'static str {
        match self {
            Withdrawn::Event => "event_cancels",
            Withdrawn::Job => "job_cancels",
        }
    }
}

/// Signal values as posted (the request's JSON, checked) and the slot they were taken before.
#[derive(Debug, Clone)]
pub struct StoredSignal {
    pub submit_slot: usize,
    pub body: String,
}

/// A demand-response event as stored: its JSON and the slot it was handed over before.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: String,
    pub submit_slot: usize,
    pub event: String,
}

/// A job as stored: its JSON (the engine's `Job`), the slot it was handed to the engine at.
#[derive(Debug, Clone)]
pub struct StoredJob {
    pub id: String,
    pub idempotency_key: Option<String>,
    pub submit_slot: usize,
    pub job: String,
}

pub type Answer<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// What the service keeps. Each write returns once it is committed.
pub trait Storage: Send + Sync {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Every job, in the order accepted.
    fn jobs(&self) -> Answer<'_, Vec<StoredJob>>;
    fn insert_job<'a>(&'a self, j: &'a StoredJob) -> Answer<'a, ()>;
    /// Every event, in the order accepted.
    fn events(&self) -> Answer<'_, Vec<StoredEvent>>;
    fn insert_event<'a>(&'a self, e: &'a StoredEvent) -> Answer<'a, ()>;
    /// Every cancellation of events or jobs (id, slot), in the order accepted.
    fn cancels(&self, what: Withdrawn) -> Answer<'_, Vec<(String, usize)>>;
    fn insert_cancel<'a>(&'a self, what: Withdrawn, id: &'a str, slot: usize) -> Answer<'a, ()>;
    /// Every posting of signal values, in the order accepted.
    fn signals(&self) -> Answer<'_, Vec<StoredSignal>>;
    fn insert_signal<'a>(&'a self, s: &'a StoredSignal) -> Answer<'a, ()>;
    /// How many slots the engine has finished.
    fn slots_done(&self) -> Answer<'_, usize>;
    fn set_slots_done(&self, n: usize) -> Answer<'_, ()>;
    /// When each slot began on the wall clock (slot, Unix seconds), in slot order.
    fn slot_clock(&self) -> Answer<'_, Vec<(usize, f64)>>;
    fn set_slot_clock(&self, slot: usize, began_unix_s: f64) -> Answer<'_, ()>;
    /// Each job's observed runs (id, JSON).
    fn observed_runs(&self) -> Answer<'_, Vec<(String, String)>>;
    fn put_observed_runs<'a>(&'a self, id: &'a str, runs: &'a str) -> Answer<'a, ()>;
    /// The OpenADR VEN's records (kind, id, JSON), by kind and id.
    fn openadr(&self) -> Answer<'_, Vec<(String, String, String)>>;
    fn put_openadr<'a>(&'a self, kind: &'a str, id: &'a str, body: &'a str) -> Answer<'a, ()>;
    /// Bind the database to a run (scenario, policy, forecasts: `fingerprint`, with
    /// `described` for the message), or check that it is bound to this one. Returns the run's
    /// id: `fresh_id` the first time, the stored one after.
    fn claim<'a>(
        &'a self,
        fingerprint: &'a str,
        described: &'a str,
        fresh_id: &'a str,
    ) -> Answer<'a, String>;
}

pub type Store = Arc<dyn Storage>;

/// Open `database`: a `postgres://` or `postgresql://` URL, or else a SQLite file (created if
/// missing). The schema is brought up to date.
pub async fn open(database: &str) -> Result<Store, String> {
    if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        // A statement that waits longer than this (a lock held elsewhere, a server in trouble)
        // fails, and the request with it (503), rather than holding the control loop.
        let options = PgConnectOptions::from_str(database)
            .map_err(|e| format!("--database: {}: {e}", redact(database)))?
            .options([("statement_timeout", "5s"), ("lock_timeout", "5s")]);
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(|e| {
                format!(
                    "--database {}: cannot connect to PostgreSQL: {e}",
                    redact(database)
                )
            })?;
        let store = Postgres(pool);
        migrate_postgres(
            &store.0,
            "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        )
        .await?;
        Ok(Arc::new(store))
    } else {
        let path = Path::new(database);
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            // A write lock held elsewhere for longer than this fails the request (503).
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|e| format!("{}: cannot open the database: {e}", path.display()))?;
        let store = Sqlite(pool);
        migrate_sqlite(&store.0, "INTEGER PRIMARY KEY").await?;
        Ok(Arc::new(store))
    }
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

fn db_err(e: sqlx::Error) -> String {
    format!("database: {e}")
}

/// The SQLite backend.
pub struct Sqlite(SqlitePool);
/// The PostgreSQL backend.
pub struct Postgres(PgPool);

/// The migrations and the statements, the same text on both backends.
macro_rules! backend {
    ($ty:ident, $pool:ty, $name:literal, $migrate:ident) => {
        async fn $migrate(pool: &$pool, seq: &str) -> Result<(), String> {
            sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
                .execute(pool)
                .await
                .map_err(db_err)?;
            let version: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) FROM schema_version")
                .fetch_one(pool)
                .await
                .map_err(db_err)?
                .get(0);
            for (k, m) in MIGRATIONS.iter().enumerate().skip(version as usize) {
                let mut tx = pool.begin().await.map_err(db_err)?;
                // The schema is this file's constant text (and the backend's key), no input.
                sqlx::raw_sql(sqlx::AssertSqlSafe(m.replace("{SEQ}", seq)))
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                sqlx::query("INSERT INTO schema_version (version) VALUES ($1)")
                    .bind(k as i64 + 1)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                tx.commit().await.map_err(db_err)?;
            }
            Ok(())
        }

        impl Storage for $ty {
            fn backend(&self) -> &'static str {
                $name
            }

            fn jobs(&self) -> Answer<'_, Vec<StoredJob>> {
                Box::pin(async move {
                    let rows = sqlx::query(
                        "SELECT id, idempotency_key, submit_slot, job FROM jobs ORDER BY seq",
                    )
                    .fetch_all(&self.0)
                    .await
                    .map_err(db_err)?;
                    Ok(rows
                        .into_iter()
                        .map(|r| StoredJob {
                            id: r.get(0),
                            idempotency_key: r.get(1),
                            submit_slot: r.get::<i64, _>(2) as usize,
                            job: r.get(3),
                        })
                        .collect())
                })
            }

            fn insert_job<'a>(&'a self, j: &'a StoredJob) -> Answer<'a, ()> {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO jobs (id, idempotency_key, submit_slot, job)
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(&j.id)
                    .bind(&j.idempotency_key)
                    .bind(j.submit_slot as i64)
                    .bind(&j.job)
                    .execute(&self.0)
                    .await
                    .map_err(db_err)?;
                    Ok(())
                })
            }

            fn events(&self) -> Answer<'_, Vec<StoredEvent>> {
                Box::pin(async move {
                    let rows =
                        sqlx::query("SELECT id, submit_slot, event FROM events ORDER BY seq")
                            .fetch_all(&self.0)
                            .await
                            .map_err(db_err)?;
                    Ok(rows
                        .into_iter()
                        .map(|r| StoredEvent {
                            id: r.get(0),
                            submit_slot: r.get::<i64, _>(1) as usize,
                            event: r.get(2),
                        })
                        .collect())
                })
            }

            fn insert_event<'a>(&'a self, e: &'a StoredEvent) -> Answer<'a, ()> {
                Box::pin(async move {
                    sqlx::query("INSERT INTO events (id, submit_slot, event) VALUES ($1, $2, $3)")
                        .bind(&e.id)
                        .bind(e.submit_slot as i64)
                        .bind(&e.event)
                        .execute(&self.0)
                        .await
                        .map_err(db_err)?;
                    Ok(())
                })
            }

            fn cancels(&self, what: Withdrawn) -> Answer<'_, Vec<(String, usize)>> {
                Box::pin(async move {
                    let sql = format!("SELECT id, submit_slot FROM {} ORDER BY seq", what.table());
                    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .fetch_all(&self.0)
                        .await
                        .map_err(db_err)?;
                    Ok(rows
                        .into_iter()
                        .map(|r| (r.get(0), r.get::<i64, _>(1) as usize))
                        .collect())
                })
            }

            fn insert_cancel<'a>(
                &'a self,
                what: Withdrawn,
                id: &'a str,
                slot: usize,
            ) -> Answer<'a, ()> {
                Box::pin(async move {
                    let sql = format!(
                        "INSERT INTO {} (id, submit_slot) VALUES ($1, $2)",
                        what.table()
                    );
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(id)
                        .bind(slot as i64)
                        .execute(&self.0)
                        .await
                        .map_err(db_err)?;
                    Ok(())
                })
            }

            fn signals(&self) -> Answer<'_, Vec<StoredSignal>> {
                Box::pin(async move {
                    let rows = sqlx::query("SELECT submit_slot, body FROM signals ORDER BY seq")
                        .fetch_all(&self.0)
                        .await
                        .map_err(db_err)?;
                    Ok(rows
                        .into_iter()
                        .map(|r| StoredSignal {
                            submit_slot: r.get::<i64, _>(0) as usize,
                            body: r.get(1),
                        })
                        .collect())
                })
            }

            fn insert_signal<'a>(&'a self, s: &'a StoredSignal) -> Answer<'a, ()> {
                Box::pin(async move {
                    sqlx::query("INSERT INTO signals (submit_slot, body) VALUES ($1, $2)")
                        .bind(s.submit_slot as i64)
                        .bind(&s.body)
                        .execute(&self.0)
                        .await
                        .map_err(db_err)?;
                    Ok(())
                })
            }

            fn slots_done(&self) -> Answer<'_, usize> {
                Box::pin(async move {
                    let n: i64 = sqlx::query("SELECT slots_done FROM progress WHERE one = 1")
                        .fetch_one(&self.0)
                        .await
                        .map_err(db_err)?
                        .get(0);
                    Ok(n as usize)
                })
            }

            fn set_slots_done(&self, n: usize) -> Answer<'_, ()> {
                Box::pin(async move {
                    sqlx::query("UPDATE progress SET slots_done = $1 WHERE one = 1")
                        .bind(n as i64)
                        .execute(&self.0)
                        .await
                        .map_err(db_err)?;
                    Ok(())
                })
            }

            fn slot_clock(&self) -> Answer<'_, Vec<(usize, f64)>> {
                Box::pin(async move {
                    let rows =
                        sqlx::query("SELECT slot, began_unix_s FROM slot_clock ORDER BY slot")
                            .fetch_all(&self.0)
                            .await
                            .map_err(db_err)?;
                    Ok(rows
                        .iter()
                        .map(|r| (r.get::<i64, _>(0) as usize, r.get::<f64, _>(1)))
                        .collect())
                })
            }

            fn set_slot_clock(&self, slot: usize, began_unix_s: f64) -> Answer<'_, ()> {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO slot_clock (slot, began_unix_s) VALUES ($1, $2)
                         ON CONFLICT (slot) DO UPDATE SET began_unix_s = excluded.began_unix_s",
                    )
                    .bind(slot as i64)
                    .bind(began_unix_s)
                    .execute(&self.0)
                    .await
                    .map_err(db_err)?;
                    Ok(())
                })
            }

            fn observed_runs(&self) -> Answer<'_, Vec<(String, String)>> {
                Box::pin(async move {
                    let rows = sqlx::query("SELECT id, runs FROM observed_runs ORDER BY id")
                        .fetch_all(&self.0)
                        .await
                        .map_err(db_err)?;
                    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
                })
            }

            fn put_observed_runs<'a>(&'a self, id: &'a str, runs: &'a str) -> Answer<'a, ()> {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO observed_runs (id, runs) VALUES ($1, $2)
                         ON CONFLICT (id) DO UPDATE SET runs = excluded.runs",
                    )
                    .bind(id)
                    .bind(runs)
                    .execute(&self.0)
                    .await
                    .map_err(db_err)?;
                    Ok(())
                })
            }

            fn openadr(&self) -> Answer<'_, Vec<(String, String, String)>> {
                Box::pin(async move {
                    let rows = sqlx::query("SELECT kind, id, body FROM openadr ORDER BY kind, id")
                        .fetch_all(&self.0)
                        .await
                        .map_err(db_err)?;
                    Ok(rows
                        .iter()
                        .map(|r| (r.get(0), r.get(1), r.get(2)))
                        .collect())
                })
            }

            fn put_openadr<'a>(
                &'a self,
                kind: &'a str,
                id: &'a str,
                body: &'a str,
            ) -> Answer<'a, ()> {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO openadr (kind, id, body) VALUES ($1, $2, $3)
                         ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body",
                    )
                    .bind(kind)
                    .bind(id)
                    .bind(body)
                    .execute(&self.0)
                    .await
                    .map_err(db_err)?;
                    Ok(())
                })
            }

            fn claim<'a>(
                &'a self,
                fingerprint: &'a str,
                described: &'a str,
                fresh_id: &'a str,
            ) -> Answer<'a, String> {
                Box::pin(async move {
                    let mut tx = self.0.begin().await.map_err(db_err)?;
                    let row =
                        sqlx::query("SELECT fingerprint, described, run_id FROM run WHERE one = 1")
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(db_err)?;
                    let id = match row {
                        Some(r) => {
                            let (f, d): (String, String) = (r.get(0), r.get(1));
                            if f != fingerprint {
                                return Err(format!(
                                    "the database holds a run of {d}, not of {described}: \
                                     its stored jobs would replay into another run; use a new \
                                     --database, or the scenario and policy it was made with"
                                ));
                            }
                            r.get::<Option<String>, _>(2)
                        }
                        None => {
                            sqlx::query(
                                "INSERT INTO run (one, fingerprint, described) VALUES (1, $1, $2)",
                            )
                            .bind(fingerprint)
                            .bind(described)
                            .execute(&mut *tx)
                            .await
                            .map_err(db_err)?;
                            None
                        }
                    };
                    let id = match id {
                        Some(id) => id,
                        None => {
                            sqlx::query("UPDATE run SET run_id = $1 WHERE one = 1")
                                .bind(fresh_id)
                                .execute(&mut *tx)
                                .await
                                .map_err(db_err)?;
                            fresh_id.to_string()
                        }
                    };
                    tx.commit().await.map_err(db_err)?;
                    Ok(id)
                })
            }
        }
    };
}

backend!(Sqlite, SqlitePool, "sqlite", migrate_sqlite);
backend!(Postgres, PgPool, "postgres", migrate_postgres);

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn a_password_never_reaches_a_message() {
        assert_eq!(
            redact("postgres://alice:s3cret@127.0.0.1:5432/db"),
            "postgres://alice:***@127.0.0.1:5432/db"
        );
        assert_eq!(redact("postgres://127.0.0.1/db"), "postgres://127.0.0.1/db");
        assert_eq!(redact("suandian.db"), "suandian.db");
    }
}
