-- gofaxserver's tables as GORM's AutoMigrate creates them (gofaxserver-behaviour.md §2.1).
CREATE TABLE tenants (id bigserial PRIMARY KEY, name text, notify text);
CREATE TABLE tenant_numbers (
    id bigserial PRIMARY KEY,
    tenant_id bigint NOT NULL,
    number text NOT NULL UNIQUE,
    name text, header text, notify text,
    CONSTRAINT fk_tenants_numbers FOREIGN KEY (tenant_id) REFERENCES tenants(id));
CREATE INDEX idx_tenant_numbers_tenant_id ON tenant_numbers (tenant_id);
CREATE TABLE endpoints (
    id bigserial PRIMARY KEY, type text, type_id bigint, endpoint_type text,
    endpoint text, priority bigint, bridge boolean);
CREATE TABLE tenant_users (
    id bigserial PRIMARY KEY, tenant_id bigint NOT NULL, username text NOT NULL UNIQUE,
    password text, api_key text);
CREATE INDEX idx_tenant_users_tenant_id ON tenant_users (tenant_id);
