-- faxserver schema v6 (SQLite): per-call debug bundles (issue #8 item 6) and the per-tenant
-- and per-gateway switch that adds a pcap of the media to them.
-- Keep in lock-step with migrations/postgres/0006_call_debug.sql; never edit once applied.

CREATE TABLE call_debug (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    job_id      BLOB NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    leg         TEXT NOT NULL,          -- 'send' | 'receive' | 'bridge-in' | 'bridge-out'
    attempt_id  BIGINT,                 -- the attempt (attempts.id) of a send
    call_id     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    sip         TEXT NOT NULL,          -- JSON array of SIP messages (the ladder)
    t30         TEXT NOT NULL,          -- JSON array of SpanDSP log lines
    truncated   INTEGER NOT NULL,
    pcap        BLOB                    -- classic pcap of the media, when capture was on
);
CREATE INDEX call_debug_job_id ON call_debug (job_id);
CREATE INDEX call_debug_created_at ON call_debug (created_at);

ALTER TABLE tenants ADD COLUMN debug_pcap INTEGER NOT NULL DEFAULT 0;
ALTER TABLE gateways ADD COLUMN debug_pcap INTEGER NOT NULL DEFAULT 0;
