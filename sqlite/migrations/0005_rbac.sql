-- Role assignments and custom role definitions (package rbac), per realm:
-- '' for Azure RBAC, 'managedHSM/{id}' for a Managed HSM's local RBAC.
-- Names, ids and principal ids are lower-case GUIDs (the Service
-- normalises them). Permissions and assignable scopes, always read and
-- written whole, are JSON text.

CREATE TABLE rbac_assignments (
    realm          TEXT NOT NULL,
    name           TEXT NOT NULL,
    scope          TEXT NOT NULL,
    role_id        TEXT NOT NULL,
    principal_id   TEXT NOT NULL,
    principal_type TEXT NOT NULL DEFAULT '',
    description    TEXT NOT NULL DEFAULT '',
    created        INTEGER NOT NULL,
    created_by     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (realm, name)
);

-- Every access decision reads one principal's assignments in one realm.
CREATE INDEX rbac_assignments_by_principal ON rbac_assignments (realm, principal_id, name);

CREATE TABLE rbac_roles (
    realm             TEXT NOT NULL,
    id                TEXT NOT NULL,
    role_name         TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    type              TEXT NOT NULL,
    permissions       TEXT NOT NULL, -- JSON array
    assignable_scopes TEXT NOT NULL, -- JSON array
    PRIMARY KEY (realm, id)
);
