-- faxserver schema v4 (SQLite): per-tenant dialing settings of the toll-fraud guard
-- (store/src/dialing.rs). Keep in lock-step with migrations/postgres/0004_tenant_dialing.sql;
-- never edit once applied: sqlx checks migration checksums.

-- A tenant without a row has the defaults (home +1, nothing extra allowed, default caps).
CREATE TABLE tenant_dialing (
    tenant_id          BIGINT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    home_country_code  TEXT NOT NULL,
    allowed_prefixes   TEXT NOT NULL DEFAULT '',  -- space-separated `+digits` prefixes
    daily_jobs         BIGINT,  -- NULL = unlimited
    daily_pages        BIGINT,  -- NULL = unlimited
    updated_at         TEXT NOT NULL
);
