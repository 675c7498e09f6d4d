-- Multi-tenant applications and federated identity credentials (package
-- identity).
--
-- An application's sign_in_audience is AzureADMyOrg (every existing one)
-- or AzureADMultipleOrgs; a multi-tenant application may have a service
-- principal in every tenant, so client ids become unique per tenant among
-- service principals ((tenant_id, app_id)), where they were unique
-- outright. A managed identity's client id stays unique everywhere; the
-- Store checks that, as it checks an application's.
ALTER TABLE identity_applications ADD COLUMN sign_in_audience TEXT NOT NULL DEFAULT 'AzureADMyOrg';

-- The column constraint UNIQUE on identity_service_principals.app_id
-- cannot be dropped, so the table is rebuilt. msi_user_assigned_identities
-- refers to it and is rebuilt with it, child after parent, so that no
-- foreign key is ever left dangling inside the transaction (PRAGMA
-- foreign_keys cannot be turned off in one). Renaming the new parent
-- rewrites the new child's foreign key to name it, as in 0004.
CREATE TABLE identity_service_principals_new (
	object_id    TEXT PRIMARY KEY,
	app_id       TEXT NOT NULL,
	tenant_id    TEXT NOT NULL REFERENCES identity_tenants (id),
	display_name TEXT NOT NULL,
	type         TEXT NOT NULL,
	created      INTEGER NOT NULL,
	resource_id  TEXT NOT NULL DEFAULT '' COLLATE NOCASE,
	UNIQUE (tenant_id, app_id)
);
INSERT INTO identity_service_principals_new (object_id, app_id, tenant_id, display_name, type, created, resource_id)
	SELECT object_id, app_id, tenant_id, display_name, type, created, resource_id FROM identity_service_principals;

CREATE TABLE msi_user_assigned_identities_new (
	subscription_id TEXT NOT NULL,
	resource_group  TEXT NOT NULL COLLATE NOCASE,
	name            TEXT NOT NULL COLLATE NOCASE,
	object_id       TEXT NOT NULL UNIQUE REFERENCES identity_service_principals_new (object_id),
	location        TEXT NOT NULL,
	tags            TEXT NOT NULL, -- JSON object
	created         INTEGER NOT NULL,
	PRIMARY KEY (subscription_id, resource_group, name)
);
INSERT INTO msi_user_assigned_identities_new
	SELECT subscription_id, resource_group, name, object_id, location, tags, created FROM msi_user_assigned_identities;

DROP TABLE msi_user_assigned_identities;
DROP TABLE identity_service_principals;
ALTER TABLE identity_service_principals_new RENAME TO identity_service_principals;
ALTER TABLE msi_user_assigned_identities_new RENAME TO msi_user_assigned_identities;

CREATE INDEX identity_service_principals_by_tenant
	ON identity_service_principals (tenant_id, created, object_id);
CREATE INDEX identity_service_principals_by_app
	ON identity_service_principals (app_id);
CREATE UNIQUE INDEX identity_service_principals_by_resource
	ON identity_service_principals (resource_id) WHERE resource_id <> '';

-- An application's federated identity credentials. audiences is a JSON
-- array of strings. Names are unique in an application ignoring case (they
-- are ASCII, so NOCASE is exact), as are issuer and subject together.
CREATE TABLE identity_federated_credentials (
	id            TEXT PRIMARY KEY,
	app_object_id TEXT NOT NULL REFERENCES identity_applications (object_id) ON DELETE CASCADE,
	name          TEXT NOT NULL COLLATE NOCASE,
	issuer        TEXT NOT NULL,
	subject       TEXT NOT NULL,
	audiences     TEXT NOT NULL,
	description   TEXT NOT NULL,
	UNIQUE (app_object_id, name),
	UNIQUE (app_object_id, issuer, subject)
);
