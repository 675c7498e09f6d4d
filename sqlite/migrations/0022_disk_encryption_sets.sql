-- Disk encryption sets (package compute). Names are unique in a resource
-- group. doc is JSON: location, tags, identity, settings, keys, and the
-- intermediate key, wrapped by the customer-managed key or, while the
-- set's identity may not use that key yet, sealed under the root key
-- (never in the clear).
CREATE TABLE disk_encryption_sets (
	subscription_id TEXT NOT NULL COLLATE NOCASE,
	resource_group  TEXT NOT NULL COLLATE NOCASE,
	name            TEXT NOT NULL COLLATE NOCASE,
	created         INTEGER NOT NULL,
	doc             TEXT NOT NULL,
	PRIMARY KEY (subscription_id, resource_group, name)
);
