-- Vaults, managed HSMs, their keys and key versions (package keyvault).
-- Times are Unix seconds, NULL where unset; booleans are 0 or 1. Tags and
-- lists, always read and written whole, are JSON text.

-- Vaults and managed HSMs. Names are unique per kind, case-insensitively,
-- deleted or not (a soft-deleted vault keeps its name): name_key is the
-- lower-cased name, name the spelling the vault was created with.
CREATE TABLE vaults (
    id                              TEXT PRIMARY KEY,
    kind                            TEXT NOT NULL,
    name                            TEXT NOT NULL,
    name_key                        TEXT NOT NULL,
    tenant_id                       TEXT NOT NULL DEFAULT '',
    subscription_id                 TEXT NOT NULL DEFAULT '',
    resource_group                  TEXT NOT NULL DEFAULT '',
    location                        TEXT NOT NULL DEFAULT '',
    sku                             TEXT NOT NULL DEFAULT '',
    soft_delete                     INTEGER NOT NULL,
    retention_days                  INTEGER NOT NULL,
    purge_protection                INTEGER NOT NULL,
    rbac                            INTEGER NOT NULL,
    enabled_for_deployment          INTEGER NOT NULL,
    enabled_for_disk_encryption     INTEGER NOT NULL,
    enabled_for_template_deployment INTEGER NOT NULL,
    public_network_access           TEXT NOT NULL DEFAULT '',
    tags                            TEXT NOT NULL DEFAULT '{}', -- JSON object
    access_policies                 TEXT NOT NULL DEFAULT '[]', -- JSON array
    initial_admins                  TEXT NOT NULL DEFAULT '[]', -- JSON array
    created                         INTEGER NOT NULL,
    updated                         INTEGER NOT NULL,
    deleted                         INTEGER,
    purge_at                        INTEGER,
    UNIQUE (kind, name_key)
);

-- A key is a name in a vault; deleted is set while it is soft-deleted. The
-- primary key orders listings by name.
CREATE TABLE keys (
    vault_id TEXT NOT NULL REFERENCES vaults (id) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    deleted  INTEGER,
    purge_at INTEGER,
    PRIMARY KEY (vault_id, name)
);

-- Key versions in creation order: seq orders them even within one second,
-- and the newest version of a key is the one with the highest seq.
-- AUTOINCREMENT keeps seq growing after the highest row is purged. The
-- public key (pub_*) is kept as the module returned it; the material is an
-- opaque handle.
CREATE TABLE key_versions (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    vault_id       TEXT NOT NULL,
    name           TEXT NOT NULL,
    version        TEXT NOT NULL,
    kty            TEXT NOT NULL,
    size           INTEGER NOT NULL,
    crv            TEXT NOT NULL,
    pub_kty        TEXT NOT NULL,
    pub_crv        TEXT NOT NULL,
    pub_n          BLOB,
    pub_e          BLOB,
    pub_x          BLOB,
    pub_y          BLOB,
    ops            TEXT NOT NULL, -- JSON array
    enabled        INTEGER NOT NULL,
    nbf            INTEGER,
    exp            INTEGER,
    created        INTEGER NOT NULL,
    updated        INTEGER NOT NULL,
    exportable     INTEGER NOT NULL,
    release_policy TEXT, -- JSON object or NULL
    tags           TEXT NOT NULL, -- JSON object
    handle         BLOB NOT NULL,
    UNIQUE (vault_id, name, version),
    FOREIGN KEY (vault_id, name) REFERENCES keys (vault_id, name) ON DELETE CASCADE
);

-- The newest version of a key, and its versions in creation order.
CREATE INDEX key_versions_by_key ON key_versions (vault_id, name, seq);
