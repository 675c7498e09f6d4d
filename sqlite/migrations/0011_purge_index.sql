-- Soft-deleted keys and vaults by scheduled purge time, for the scheduler:
-- the partial indexes hold deleted objects only.
CREATE INDEX keys_purge_at ON keys (purge_at) WHERE deleted IS NOT NULL;
CREATE INDEX vaults_purge_at ON vaults (purge_at) WHERE deleted IS NOT NULL;
