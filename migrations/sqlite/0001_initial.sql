-- faxserver schema v1 (SQLite): timestamps are RFC 3339 TEXT in UTC (sqlx chrono encoding), UUIDs
-- are 16-byte BLOBs. Keep in lock-step with migrations/postgres/0001_initial.sql;
-- never edit once applied: sqlx checks migration checksums.

CREATE TABLE tenants (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    notify      TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);

CREATE TABLE tenant_numbers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    number      TEXT NOT NULL UNIQUE,  -- E.164, normalised before insert
    name        TEXT NOT NULL DEFAULT '',
    header      TEXT NOT NULL DEFAULT '',
    notify      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX tenant_numbers_tenant_id ON tenant_numbers (tenant_id);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id      BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,  -- argon2id PHC string
    created_at     TEXT NOT NULL
);
CREATE INDEX users_tenant_id ON users (tenant_id);

CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  BLOB NOT NULL UNIQUE,  -- SHA-256 of the plaintext, which is never stored
    label       TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);

CREATE TABLE endpoints (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id      BIGINT REFERENCES tenants (id) ON DELETE CASCADE,  -- NULL only for global
    scope          TEXT NOT NULL CHECK (scope IN ('tenant', 'number', 'global')),
    scope_id       BIGINT NOT NULL,  -- tenant id, tenant_numbers id, or 0
    endpoint_type  TEXT NOT NULL CHECK (endpoint_type IN ('gateway', 'webhook', 'email')),
    target         TEXT NOT NULL,
    priority       BIGINT NOT NULL,  -- 666 = never deliver, 999 = last
    bridge         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX endpoints_tenant_id ON endpoints (tenant_id);

CREATE TABLE gateways (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT NOT NULL UNIQUE,
    uri              TEXT NOT NULL,
    transport        TEXT NOT NULL CHECK (transport IN ('udp', 'tcp', 'tls')),
    username         TEXT,
    password         TEXT,  -- plaintext: needed to answer digest challenges
    register         INTEGER NOT NULL DEFAULT 0,
    allowed_sources  TEXT NOT NULL,  -- array of addresses / CIDRs
    tenant_id        BIGINT REFERENCES tenants (id) ON DELETE CASCADE,  -- NULL = upstream
    t38_allowed      INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE documents (
    id            BLOB PRIMARY KEY,
    tenant_id     BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    content_type  TEXT NOT NULL,
    pages         BIGINT NOT NULL,
    data          BLOB NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX documents_tenant_id ON documents (tenant_id);

CREATE TABLE jobs (
    id                BLOB PRIMARY KEY,
    tenant_id         BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    direction         TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    caller            TEXT NOT NULL,
    callee            TEXT NOT NULL,
    document_id       BLOB REFERENCES documents (id) ON DELETE SET NULL,
    status            TEXT NOT NULL CHECK (status IN ('queued', 'active', 'done', 'failed')),
    priority          BIGINT NOT NULL,
    attempts          BIGINT NOT NULL DEFAULT 0,
    next_attempt_at   TEXT NOT NULL,
    lease_owner       TEXT,
    lease_expires_at  TEXT,
    last_error        TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX jobs_tenant_id ON jobs (tenant_id);
-- The claim scans runnable jobs in priority order; partial index keeps it small.
CREATE INDEX jobs_runnable ON jobs (priority, next_attempt_at) WHERE status IN ('queued', 'active');

CREATE TABLE attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id       BLOB NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    endpoint_id  BIGINT,
    gateway_id   BIGINT,
    started_at   TEXT NOT NULL,
    ended_at     TEXT,
    result_code  BIGINT,
    result_text  TEXT NOT NULL DEFAULT '',
    pages        BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX attempts_job_id ON attempts (job_id);

CREATE TABLE page_results (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    attempt_id   BIGINT NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,
    page         BIGINT NOT NULL,
    result_code  BIGINT NOT NULL,
    bad_rows     BIGINT NOT NULL DEFAULT 0,
    detail       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX page_results_attempt_id ON page_results (attempt_id);

CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT NOT NULL,
    tenant_id  BIGINT,  -- no FK: the audit trail outlives deleted tenants and jobs
    job_id     BLOB,
    kind       TEXT NOT NULL,
    detail     TEXT NOT NULL
);
CREATE INDEX events_tenant_at ON events (tenant_id, at);
CREATE INDEX events_job_id ON events (job_id);

CREATE TABLE kv (
    namespace   TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    expires_at  TEXT,
    PRIMARY KEY (namespace, key)
);
