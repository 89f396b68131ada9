//! Runs the shared conformance suite against SQLite (temp file) and PostgreSQL
//! (`FAXSERVER_TEST_DATABASE_URL`, skipped with a notice when unset).

mod suite;

use std::str::FromStr;
use std::sync::Arc;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection};
use store::{PgStore, SqliteStore, Store};

/// A fresh SQLite store in its own temporary directory (kept alive by the returned guard).
async fn sqlite() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("fax.db"))
        .await
        .expect("open sqlite");
    (dir, store)
}

/// A PostgreSQL database created for one test and dropped afterwards.
struct PgDb {
    admin: PgConnectOptions,
    name: String,
}

impl PgDb {
    /// Creates a uniquely named database, or `None` (after printing SKIPPED) without a URL.
    async fn create(test: &str) -> Option<(PgDb, PgStore)> {
        let Ok(url) = std::env::var("FAXSERVER_TEST_DATABASE_URL") else {
            eprintln!("SKIPPED {test}: FAXSERVER_TEST_DATABASE_URL is not set");
            return None;
        };
        let admin = PgConnectOptions::from_str(&url).expect("FAXSERVER_TEST_DATABASE_URL");
        let name = format!("faxtest_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect_with(&admin)
            .await
            .expect("connect admin");
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create database");
        conn.close().await.ok();
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(admin.clone().database(&name))
            .await
            .expect("connect test database");
        let store = PgStore::from_pool(pool).await.expect("migrate");
        Some((PgDb { admin, name }, store))
    }

    /// Runs `test` in its own task so that a failing assertion still drops the database,
    /// then re-raises the failure.
    async fn run<F, Fut>(self, store: PgStore, test: F)
    where
        F: FnOnce(PgStore) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let outcome = tokio::spawn(test(store.clone())).await;
        self.drop_with(store).await;
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }

    /// Closes the store's connections and drops the database.
    async fn drop_with(self, store: PgStore) {
        store.pool().close().await;
        let mut conn = PgConnection::connect_with(&self.admin)
            .await
            .expect("connect admin");
        sqlx::raw_sql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn)
        .await
        .expect("drop database");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_conformance() {
    let (_dir, store) = sqlite().await;
    suite::run(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_claims() {
    let (_dir, store) = sqlite().await;
    suite::queue::concurrent_claims(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_reopen_keeps_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("fax.db");
    let id = {
        let s = SqliteStore::open(&path).await.expect("open");
        let t = s
            .create_tenant(&suite::tenant("persist"), suite::t0())
            .await
            .expect("tenant");
        s.pool().close().await;
        t.id
    };
    let s = SqliteStore::open(&path)
        .await
        .expect("reopen (migrations idempotent)");
    assert_eq!(
        s.get_tenant(id).await.expect("get").map(|t| t.name),
        Some("persist".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_conformance() {
    let Some((db, store)) = PgDb::create("postgres_conformance").await else {
        return;
    };
    db.run(store, |s| async move { suite::run(&s).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_claims() {
    let Some((db, store)) = PgDb::create("postgres_concurrent_claims").await else {
        return;
    };
    db.run(store, |s| suite::queue::concurrent_claims(Arc::new(s)))
        .await;
}
