//! Durable state in SQLite (one file, WAL, full sync): the jobs accepted, each with the slot
//! before which the engine took it, and the last slot the engine finished. The engine is
//! deterministic, so these inputs are the state: a restart re-steps the engine through them
//! and reaches the decisions and metrics it had (docs/serve.md). Queries are parameterised.

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::path::Path;

/// The schema, applied in order; `schema_version` records how far a database is.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE jobs (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        idempotency_key TEXT UNIQUE,
        submit_slot INTEGER NOT NULL,
        job TEXT NOT NULL
    );
    CREATE TABLE progress (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        slots_done INTEGER NOT NULL
    );
    INSERT INTO progress (one, slots_done) VALUES (1, 0);",
    "CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        submit_slot INTEGER NOT NULL,
        event TEXT NOT NULL
    );",
];

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

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

fn db_err(e: sqlx::Error) -> String {
    format!("database: {e}")
}

impl Store {
    /// Open (or create) the database file and bring its schema up to date.
    pub async fn open(path: &Path) -> Result<Store, String> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|e| format!("{}: cannot open the database: {e}", path.display()))?;
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            .execute(&pool)
            .await
            .map_err(db_err)?;
        let version: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) FROM schema_version")
            .fetch_one(&pool)
            .await
            .map_err(db_err)?
            .get(0);
        for (k, m) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let mut tx = pool.begin().await.map_err(db_err)?;
            // The schema is this file's constant text, no input.
            sqlx::raw_sql(sqlx::AssertSqlSafe(*m))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            sqlx::query("INSERT INTO schema_version (version) VALUES (?)")
                .bind(k as i64 + 1)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            tx.commit().await.map_err(db_err)?;
        }
        Ok(Store { pool })
    }

    /// Every job, in the order accepted.
    pub async fn jobs(&self) -> Result<Vec<StoredJob>, String> {
        let rows =
            sqlx::query("SELECT id, idempotency_key, submit_slot, job FROM jobs ORDER BY seq")
                .fetch_all(&self.pool)
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
    }

    /// Commit an accepted job. Returns only once it is on disk.
    pub async fn insert_job(&self, j: &StoredJob) -> Result<(), String> {
        sqlx::query("INSERT INTO jobs (id, idempotency_key, submit_slot, job) VALUES (?, ?, ?, ?)")
            .bind(&j.id)
            .bind(&j.idempotency_key)
            .bind(j.submit_slot as i64)
            .bind(&j.job)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// Every event, in the order accepted.
    pub async fn events(&self) -> Result<Vec<StoredEvent>, String> {
        let rows = sqlx::query("SELECT id, submit_slot, event FROM events ORDER BY seq")
            .fetch_all(&self.pool)
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
    }

    /// Commit an accepted event.
    pub async fn insert_event(&self, e: &StoredEvent) -> Result<(), String> {
        sqlx::query("INSERT INTO events (id, submit_slot, event) VALUES (?, ?, ?)")
            .bind(&e.id)
            .bind(e.submit_slot as i64)
            .bind(&e.event)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// How many slots the engine has finished.
    pub async fn slots_done(&self) -> Result<usize, String> {
        let n: i64 = sqlx::query("SELECT slots_done FROM progress WHERE one = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?
            .get(0);
        Ok(n as usize)
    }

    pub async fn set_slots_done(&self, n: usize) -> Result<(), String> {
        sqlx::query("UPDATE progress SET slots_done = ? WHERE one = 1")
            .bind(n as i64)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
