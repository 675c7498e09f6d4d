-- Managed disks and snapshots (package compute), one table for both
-- kinds. account is the disk's Blob account, which holds its content.
-- doc is JSON: location, tags, sizes, encryption settings, state and the
-- access grant, whose signing key is sealed under the root key.
CREATE TABLE disks (
	kind            TEXT NOT NULL,
	subscription_id TEXT NOT NULL COLLATE NOCASE,
	resource_group  TEXT NOT NULL COLLATE NOCASE,
	name            TEXT NOT NULL COLLATE NOCASE,
	account         TEXT NOT NULL UNIQUE,
	created         INTEGER NOT NULL,
	doc             TEXT NOT NULL,
	PRIMARY KEY (kind, subscription_id, resource_group, name)
);

-- The data key of every artifact (disk, snapshot, confidential VM guest
-- state): wrapped under generation gen of the intermediate key of the
-- disk encryption set des, or sealed under the root key (des '').
-- platform is the sealed platform part under double encryption. A
-- rotation moves rows from older generations to the newest, in seq order.
CREATE TABLE artifact_keys (
	seq         INTEGER PRIMARY KEY,
	resource_id TEXT NOT NULL UNIQUE COLLATE NOCASE,
	des         TEXT NOT NULL COLLATE NOCASE,
	gen         INTEGER NOT NULL,
	wrapped     BLOB NOT NULL,
	platform    BLOB
);
-- A rotation pages through a set's keys by seq: this index is (des, seq).
CREATE INDEX artifact_keys_des ON artifact_keys (des);
