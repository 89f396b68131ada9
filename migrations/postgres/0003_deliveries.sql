-- faxserver schema v3 (PostgreSQL): the delivery log of webhooks and e-mails, and the signing
-- secrets of webhook endpoints. Keep in lock-step with migrations/sqlite/0003_deliveries.sql;
-- never edit once applied: sqlx checks migration checksums.

-- One message to one destination (a webhook POST or an e-mail), kept until delivered or given
-- up, so that retries survive restarts and the API can show and replay them.
CREATE TABLE deliveries (
    id               UUID PRIMARY KEY,  -- also the Standard Webhooks `webhook-id`
    tenant_id        BIGINT REFERENCES tenants (id) ON DELETE CASCADE,
    job_id           UUID REFERENCES jobs (id) ON DELETE CASCADE,
    endpoint_id      BIGINT REFERENCES endpoints (id) ON DELETE SET NULL,  -- signs when it has a secret
    channel          TEXT NOT NULL CHECK (channel IN ('webhook', 'email')),
    event            TEXT NOT NULL,  -- fax.delivered, delivery, email_report, ...
    target           TEXT NOT NULL,  -- URL, or e-mail addresses separated by ';'
    content_type     TEXT NOT NULL,
    headers          JSONB NOT NULL,  -- JSON object of extra request headers
    body             BYTEA NOT NULL,  -- request body, or the whole RFC 5322 message
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    retry_from       TIMESTAMPTZ NOT NULL,  -- start of the current series of tries (a replay starts one)
    last_status      BIGINT,  -- HTTP status or SMTP reply code of the last attempt
    last_error       TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    finished_at      TIMESTAMPTZ
);
-- The sender's claim scans pending rows by due time; partial index keeps it small.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_tenant_created ON deliveries (tenant_id, created_at DESC);
CREATE INDEX deliveries_job_id ON deliveries (job_id);

-- Every try of a delivery, for the log the API shows.
CREATE TABLE delivery_attempts (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id      UUID NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt          BIGINT NOT NULL,
    started_at       TIMESTAMPTZ NOT NULL,
    duration_ms      BIGINT NOT NULL,
    status_code      BIGINT,  -- HTTP status or SMTP reply code; NULL when none came
    error            TEXT NOT NULL DEFAULT '',
    next_attempt_at  TIMESTAMPTZ  -- when the next try is due; NULL after the last one
);
CREATE INDEX delivery_attempts_delivery_id ON delivery_attempts (delivery_id);

-- A webhook endpoint with a secret is signed (Standard Webhooks) and receives the lifecycle
-- events listed in `events` (a JSON array; empty = all). Plaintext: signing needs it.
CREATE TABLE webhook_secrets (
    endpoint_id  BIGINT PRIMARY KEY REFERENCES endpoints (id) ON DELETE CASCADE,
    secret       TEXT NOT NULL,
    events       JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
