-- Encryption scopes of storage accounts (package storage). doc is JSON:
-- source, state, key, times and the scope encryption key, sealed or wrapped
-- (never in the clear). next_key_check is when a scope that follows its
-- customer-managed key's newest version next looks for a new one; a
-- partial index holds those scopes only. An account's scopes go with it.
CREATE TABLE storage_scopes (
	account        TEXT NOT NULL COLLATE NOCASE,
	name           TEXT NOT NULL,
	next_key_check INTEGER,
	doc            TEXT NOT NULL,
	PRIMARY KEY (account, name)
) WITHOUT ROWID;

CREATE INDEX storage_scopes_next_key_check ON storage_scopes (next_key_check) WHERE next_key_check IS NOT NULL;
