-- Managed identities (packages identity and arm/msi). A managed identity is
-- a service principal without a secret that belongs to an ARM resource:
-- resource_id is that resource's id, '' for other principals.
ALTER TABLE identity_service_principals ADD COLUMN resource_id TEXT NOT NULL DEFAULT '' COLLATE NOCASE;

CREATE UNIQUE INDEX identity_service_principals_by_resource
	ON identity_service_principals (resource_id) WHERE resource_id <> '';

-- The ARM envelope of Microsoft.ManagedIdentity/userAssignedIdentities. The
-- principal (object id, client id, tenant) is its identity_service_principals
-- row; both are written in one transaction.
CREATE TABLE msi_user_assigned_identities (
	subscription_id TEXT NOT NULL,
	resource_group  TEXT NOT NULL COLLATE NOCASE,
	name            TEXT NOT NULL COLLATE NOCASE,
	object_id       TEXT NOT NULL UNIQUE REFERENCES identity_service_principals (object_id),
	location        TEXT NOT NULL,
	tags            TEXT NOT NULL, -- JSON object
	created         INTEGER NOT NULL,
	PRIMARY KEY (subscription_id, resource_group, name)
);
