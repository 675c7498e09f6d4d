-- Virtual machines (package compute). Names are unique in a resource
-- group. doc is JSON: location, tags, size, security profile, image
-- reference, OS profile (never with adminPassword or customData), the OS
-- and data disks as the VM names them, the DES of a confidential VM's
-- guest state (whose data key is in artifact_keys) and the power state.
CREATE TABLE virtual_machines (
	subscription_id TEXT NOT NULL COLLATE NOCASE,
	resource_group  TEXT NOT NULL COLLATE NOCASE,
	name            TEXT NOT NULL COLLATE NOCASE,
	created         INTEGER NOT NULL,
	doc             TEXT NOT NULL,
	PRIMARY KEY (subscription_id, resource_group, name)
);
