-- faxserver schema v8 (SQLite): the strftime-style format of the date in the header line of
-- faxes a tenant or one of its numbers sends (engine/src/documents/header.rs draws that line
-- itself when one is set). '' means unset: a number falls back to its tenant's, a tenant to
-- SpanDSP's own header line.
-- Keep in lock-step with migrations/postgres/0008_header_date_format.sql; never edit once applied.

ALTER TABLE tenants ADD COLUMN header_date_format TEXT NOT NULL DEFAULT '';
ALTER TABLE tenant_numbers ADD COLUMN header_date_format TEXT NOT NULL DEFAULT '';
