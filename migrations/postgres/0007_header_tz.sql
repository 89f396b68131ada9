-- faxserver schema v7 (PostgreSQL): the time zone of the date in the header line of faxes a
-- tenant or one of its numbers sends (store/src/header_tz.rs). An IANA name; '' means
-- unset: a number falls back to its tenant's, a tenant to the server's local time.
-- Keep in lock-step with migrations/sqlite/0007_header_tz.sql; never edit once applied.

ALTER TABLE tenants ADD COLUMN header_tz TEXT NOT NULL DEFAULT '';
ALTER TABLE tenant_numbers ADD COLUMN header_tz TEXT NOT NULL DEFAULT '';
