-- Tenants, service principals and token signing keys (package identity).
-- Times are Unix seconds. Client secrets are stored only as salted hashes;
-- signing keys only sealed under the root key.

CREATE TABLE identity_tenants (
	id           TEXT PRIMARY KEY,
	display_name TEXT NOT NULL,
	created      INTEGER NOT NULL
);

CREATE TABLE identity_service_principals (
	object_id    TEXT PRIMARY KEY,
	app_id       TEXT NOT NULL UNIQUE,
	tenant_id    TEXT NOT NULL REFERENCES identity_tenants (id),
	display_name TEXT NOT NULL,
	type         TEXT NOT NULL,
	secret_hash  BLOB NOT NULL,
	secret_salt  BLOB NOT NULL,
	created      INTEGER NOT NULL
);

CREATE INDEX identity_service_principals_by_tenant
	ON identity_service_principals (tenant_id, created, object_id);

CREATE TABLE identity_signing_keys (
	kid     TEXT PRIMARY KEY,
	sealed  BLOB NOT NULL,
	created INTEGER NOT NULL
);
