-- faxserver schema v5 (SQLite): live-bridged calls (issue #6). A bridged call is an
-- inbound job that was never queued (status done or failed from the start) plus this row.
-- Keep in lock-step with migrations/postgres/0005_bridges.sql; never edit once applied.

CREATE TABLE bridges (
    job_id       BLOB PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    direction    TEXT NOT NULL,          -- 'upstream' | 'downstream' (gofaxserver's words)
    gateway      TEXT NOT NULL,          -- the gateway the outbound leg went to
    started_at   TEXT NOT NULL,
    ended_at     TEXT NOT NULL,
    duration_ms  BIGINT NOT NULL,        -- media time while both legs were up
    pages        BIGINT,                 -- confirmed in the T.30 frames; NULL when relayed only
    success      INTEGER NOT NULL,
    result       TEXT NOT NULL,
    detail       TEXT NOT NULL          -- both legs and the joints, as the bridge reported
);
