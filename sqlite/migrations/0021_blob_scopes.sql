-- Encryption scopes in the Blob data plane (package blob). A container has
-- a default scope and may deny writes that name another; a blob is
-- encrypted in one scope, and so is each block (its data key is wrapped
-- under the scope's key). '' is the account encryption key, Azure's
-- "$account-encryption-key": the scope of everything written before.
-- Scope names are not secret.

ALTER TABLE blob_containers ADD COLUMN default_scope TEXT NOT NULL DEFAULT '';
ALTER TABLE blob_containers ADD COLUMN deny_scope_override INTEGER NOT NULL DEFAULT 0;
ALTER TABLE blob_blobs ADD COLUMN scope TEXT NOT NULL DEFAULT '';
ALTER TABLE blob_blocks ADD COLUMN scope TEXT NOT NULL DEFAULT '';
