//! Reads gofaxserver's tables (`gofaxserver-behaviour.md` §2.1). GORM declared no NOT NULL
//! on most columns, so every value may be NULL and reads as its Go zero value.

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use super::super::ImportError;

/// A `tenants` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldTenant {
    /// gofaxserver's id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Notify spec.
    pub notify: String,
}

/// A `tenant_numbers` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldNumber {
    /// gofaxserver's id.
    pub id: i64,
    /// Owning tenant (gofaxserver's id).
    pub tenant_id: i64,
    /// The number as gofaxserver stored it (transformed, e.g. 10-digit NANP).
    pub number: String,
    /// Caller-ID name.
    pub name: String,
    /// Fax header.
    pub header: String,
    /// Notify spec override.
    pub notify: String,
}

/// An `endpoints` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldEndpoint {
    /// gofaxserver's id.
    pub id: i64,
    /// Scope: `tenant`, `number` or `global`.
    pub scope: String,
    /// Tenant id, number id or 0.
    pub type_id: i64,
    /// `gateway`, `webhook` or `email`.
    pub endpoint_type: String,
    /// Gateway (`<name>:<source ip>`), URL or address.
    pub endpoint: String,
    /// Priority (666 never, 999 last).
    pub priority: i64,
    /// Bridge flag.
    pub bridge: bool,
}

/// A `tenant_users` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldUser {
    /// gofaxserver's id.
    pub id: i64,
    /// Owning tenant (gofaxserver's id).
    pub tenant_id: i64,
    /// Login name.
    pub username: String,
    /// base64(IV‖AES-256-CFB ciphertext).
    pub password: String,
    /// Stored by gofaxserver, never used for authentication.
    pub api_key: String,
}

/// Everything the import reads from gofaxserver's database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    /// `tenants`, by id.
    pub tenants: Vec<OldTenant>,
    /// `tenant_numbers`, by id.
    pub numbers: Vec<OldNumber>,
    /// `endpoints`, by id.
    pub endpoints: Vec<OldEndpoint>,
    /// `tenant_users`, by id.
    pub users: Vec<OldUser>,
}

type Text = Option<String>;

fn err(table: &'static str) -> impl Fn(sqlx::Error) -> ImportError {
    move |source| ImportError::Source { table, source }
}

/// Connects to gofaxserver's PostgreSQL database at `url` and reads the four tables.
pub async fn read(url: &str) -> Result<Source, ImportError> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .map_err(err("database"))?;
    let source = read_pool(&pool).await;
    pool.close().await;
    source
}

async fn read_pool(pool: &PgPool) -> Result<Source, ImportError> {
    let tenants =
        sqlx::query_as::<_, (i64, Text, Text)>("SELECT id, name, notify FROM tenants ORDER BY id")
            .fetch_all(pool)
            .await
            .map_err(err("tenants"))?
            .into_iter()
            .map(|(id, name, notify)| OldTenant {
                id,
                name: name.unwrap_or_default(),
                notify: notify.unwrap_or_default(),
            })
            .collect();
    let numbers = sqlx::query_as::<_, (i64, i64, String, Text, Text, Text)>(
        "SELECT id, tenant_id, number, name, header, notify FROM tenant_numbers ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .map_err(err("tenant_numbers"))?
    .into_iter()
    .map(|(id, tenant_id, number, name, header, notify)| OldNumber {
        id,
        tenant_id,
        number,
        name: name.unwrap_or_default(),
        header: header.unwrap_or_default(),
        notify: notify.unwrap_or_default(),
    })
    .collect();
    let endpoints = sqlx::query_as::<
        _,
        (
            i64,
            Text,
            Option<i64>,
            Text,
            Text,
            Option<i64>,
            Option<bool>,
        ),
    >(
        r#"SELECT id, "type", type_id, endpoint_type, endpoint, priority, bridge
           FROM endpoints ORDER BY id"#,
    )
    .fetch_all(pool)
    .await
    .map_err(err("endpoints"))?
    .into_iter()
    .map(
        |(id, scope, type_id, kind, endpoint, priority, bridge)| OldEndpoint {
            id,
            scope: scope.unwrap_or_default(),
            type_id: type_id.unwrap_or_default(),
            endpoint_type: kind.unwrap_or_default(),
            endpoint: endpoint.unwrap_or_default(),
            priority: priority.unwrap_or_default(),
            bridge: bridge.unwrap_or_default(),
        },
    )
    .collect();
    let users = sqlx::query_as::<_, (i64, i64, String, Text, Text)>(
        "SELECT id, tenant_id, username, password, api_key FROM tenant_users ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .map_err(err("tenant_users"))?
    .into_iter()
    .map(|(id, tenant_id, username, password, api_key)| OldUser {
        id,
        tenant_id,
        username,
        password: password.unwrap_or_default(),
        api_key: api_key.unwrap_or_default(),
    })
    .collect();
    Ok(Source {
        tenants,
        numbers,
        endpoints,
        users,
    })
}
