-- faxserver schema v2 (SQLite): what the tenant /fax routes need. Keep in lock-step with
-- migrations/postgres/0002_fax_api.sql; never edit once applied: sqlx checks migration checksums.

-- A cancelled job is a final failure with a time, so the queue's four states (and its claim
-- and partial index) stay as they are. (A new status would mean rebuilding `jobs`, whose
-- CHECK SQLite cannot alter, and the rebuild would cascade-delete attempts.)
ALTER TABLE jobs ADD COLUMN cancelled_at TEXT;
-- The tenant fax listing: newest first, keyset-paginated on (created_at, id).
CREATE INDEX jobs_tenant_created ON jobs (tenant_id, created_at DESC, id DESC);

-- Hex SHA-256 of `data`, written by the store; NULL for documents stored before v2.
ALTER TABLE documents ADD COLUMN sha256 TEXT;

-- `Idempotency-Key` of POST /fax/send: a repeat with the same key answers the first job.
CREATE TABLE idempotency_keys (
    tenant_id     INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    request_hash  BLOB NOT NULL,  -- SHA-256 of the request, to tell a retry from a reuse
    job_id        BLOB NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
