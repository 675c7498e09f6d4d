-- next_key_check is when a disk encryption set that follows its key's
-- newest version (rotationToLatestKeyVersionEnabled) next looks for a new
-- one, in Unix seconds; NULL for the others. A partial index holds those
-- that follow only.
ALTER TABLE disk_encryption_sets ADD COLUMN next_key_check INTEGER;

CREATE INDEX disk_encryption_sets_next_key_check ON disk_encryption_sets (next_key_check) WHERE next_key_check IS NOT NULL;

-- Sets that followed their key before this migration look at the
-- scheduler's first pass.
UPDATE disk_encryption_sets SET next_key_check = created
	WHERE json_extract(doc, '$.rotationToLatestKeyVersionEnabled') = 1;
