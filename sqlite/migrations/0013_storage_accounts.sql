-- Storage accounts (package storage). Names are unique across the
-- installation, as in Azure. doc is JSON: kind, SKU, tags, identity,
-- encryption settings, the sealed access keys and the wrapped account
-- encryption key (never in the clear). next_key_check is when an account
-- that follows its customer-managed key's newest version next looks for a
-- new one; a partial index holds those accounts only.
CREATE TABLE storage_accounts (
	name            TEXT PRIMARY KEY COLLATE NOCASE,
	subscription_id TEXT NOT NULL COLLATE NOCASE,
	resource_group  TEXT NOT NULL COLLATE NOCASE,
	next_key_check  INTEGER,
	created         INTEGER NOT NULL,
	doc             TEXT NOT NULL
);

CREATE INDEX storage_accounts_by_group ON storage_accounts (subscription_id, resource_group, name);
CREATE INDEX storage_accounts_next_key_check ON storage_accounts (next_key_check) WHERE next_key_check IS NOT NULL;
