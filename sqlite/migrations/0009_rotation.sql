-- Key rotation (package keyvault). A key's rotation policy, and the time
-- its newest version is due for rotation under it: only the newest version
-- of a key has rotation_due set, so the scheduler's query reads the due
-- keys from a partial index and its cost grows with them alone.
ALTER TABLE key_versions ADD COLUMN rotation_due INTEGER;

CREATE INDEX key_versions_rotation_due ON key_versions (rotation_due) WHERE rotation_due IS NOT NULL;

CREATE TABLE key_rotation_policies (
	vault_id TEXT NOT NULL,
	name     TEXT NOT NULL COLLATE NOCASE,
	policy   TEXT NOT NULL, -- JSON: lifetime actions and expiry time
	created  INTEGER NOT NULL,
	updated  INTEGER NOT NULL,
	PRIMARY KEY (vault_id, name),
	FOREIGN KEY (vault_id, name) REFERENCES keys (vault_id, name) ON DELETE CASCADE
);
