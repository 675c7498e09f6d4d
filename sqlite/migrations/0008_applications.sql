-- Applications and their password credentials (package identity), as in
-- Entra: an application has its own object id, several passwords, and at
-- most one service principal (the identity_service_principals row with its
-- app_id). Managed identities have no application.

CREATE TABLE identity_applications (
	object_id    TEXT PRIMARY KEY,
	app_id       TEXT NOT NULL UNIQUE,
	tenant_id    TEXT NOT NULL REFERENCES identity_tenants (id),
	display_name TEXT NOT NULL,
	created      INTEGER NOT NULL
);

CREATE INDEX identity_applications_by_tenant
	ON identity_applications (tenant_id, created, object_id);

CREATE TABLE identity_password_credentials (
	key_id        TEXT PRIMARY KEY,
	app_object_id TEXT NOT NULL REFERENCES identity_applications (object_id) ON DELETE CASCADE,
	display_name  TEXT NOT NULL,
	hint          TEXT NOT NULL,
	secret_hash   BLOB NOT NULL,
	secret_salt   BLOB NOT NULL,
	start_time    INTEGER NOT NULL,
	end_time      INTEGER NOT NULL
);

CREATE INDEX identity_password_credentials_by_app
	ON identity_password_credentials (app_object_id, start_time, key_id);

-- Every existing service principal that is not a managed identity gets an
-- application with a new object id (a random version 4 GUID) and the same
-- client id, and its secret becomes that application's one password, which
-- does not expire (2299-12-31, as Entra shows such passwords).
INSERT INTO identity_applications (object_id, app_id, tenant_id, display_name, created)
SELECT lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' ||
       substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + abs(random()) % 4, 1) ||
       substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))),
       app_id, tenant_id, display_name, created
FROM identity_service_principals
WHERE type = 'ServicePrincipal';

INSERT INTO identity_password_credentials
	(key_id, app_object_id, display_name, hint, secret_hash, secret_salt, start_time, end_time)
SELECT lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' ||
       substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + abs(random()) % 4, 1) ||
       substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))),
       a.object_id, 'tresor', '', s.secret_hash, s.secret_salt, s.created, 10413705600
FROM identity_service_principals s JOIN identity_applications a ON a.app_id = s.app_id
WHERE length(s.secret_hash) > 0;

ALTER TABLE identity_service_principals DROP COLUMN secret_hash;
ALTER TABLE identity_service_principals DROP COLUMN secret_salt;
