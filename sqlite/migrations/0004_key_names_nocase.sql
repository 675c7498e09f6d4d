-- Key names compare case-insensitively, as Azure's object identifiers do.
-- Key names are ASCII letters, digits and dashes, so SQLite's NOCASE
-- collation (ASCII case folding) is exact; declared on the columns, it
-- applies to every comparison, ORDER BY, index, primary key and foreign key
-- on them. SQLite cannot change a column's collation in place, so both
-- tables are rebuilt. Each version keeps the spelling it was stored with.
-- Keys whose names differ only in case cannot both exist afterwards; this
-- migration fails on such a database rather than merge them.

CREATE TABLE keys_nocase (
    vault_id TEXT NOT NULL REFERENCES vaults (id) ON DELETE CASCADE,
    name     TEXT NOT NULL COLLATE NOCASE,
    deleted  INTEGER,
    purge_at INTEGER,
    PRIMARY KEY (vault_id, name)
);
INSERT INTO keys_nocase (vault_id, name, deleted, purge_at)
    SELECT vault_id, name, deleted, purge_at FROM keys;

CREATE TABLE key_versions_nocase (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    vault_id       TEXT NOT NULL,
    name           TEXT NOT NULL COLLATE NOCASE,
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
    FOREIGN KEY (vault_id, name) REFERENCES keys_nocase (vault_id, name) ON DELETE CASCADE
);
INSERT INTO key_versions_nocase
    SELECT seq, vault_id, name, version, kty, size, crv, pub_kty, pub_crv, pub_n, pub_e, pub_x, pub_y,
           ops, enabled, nbf, exp, created, updated, exportable, release_policy, tags, handle
    FROM key_versions ORDER BY seq;

DROP TABLE key_versions;
DROP TABLE keys;
-- Renaming rewrites the foreign key of key_versions_nocase to name keys.
ALTER TABLE keys_nocase RENAME TO keys;
ALTER TABLE key_versions_nocase RENAME TO key_versions;
CREATE INDEX key_versions_by_key ON key_versions (vault_id, name, seq);
