-- The Blob data plane (package blob): containers, blobs, and the blocks that
-- hold their content. Times are Unix nanoseconds. Names compare bytewise
-- (SQLite's BINARY collation), the order Azure lists them in.
--
-- Nothing here is secret in the clear: a block's content is sealed (inline
-- for small blocks, otherwise in a file named by the block's id), its data
-- key is wrapped under the account's encryption key, and blob metadata is
-- sealed under it too.

CREATE TABLE blob_containers (
    account  TEXT NOT NULL,
    name     TEXT NOT NULL,
    etag     TEXT NOT NULL,
    created  INTEGER NOT NULL,
    modified INTEGER NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}', -- JSON object, in the clear
    PRIMARY KEY (account, name)
) WITHOUT ROWID;

-- A blob is committed (readable and listed), or a name that has staged
-- blocks only (committed = 0, and the other columns are placeholders).
CREATE TABLE blob_blobs (
    id                  INTEGER PRIMARY KEY,
    account             TEXT NOT NULL,
    container           TEXT NOT NULL,
    name                TEXT NOT NULL,
    committed           INTEGER NOT NULL,
    type                TEXT NOT NULL,
    size                INTEGER NOT NULL,
    etag                TEXT NOT NULL,
    created             INTEGER NOT NULL,
    modified            INTEGER NOT NULL,
    content_type        TEXT NOT NULL DEFAULT '',
    content_encoding    TEXT NOT NULL DEFAULT '',
    content_language    TEXT NOT NULL DEFAULT '',
    content_disposition TEXT NOT NULL DEFAULT '',
    cache_control       TEXT NOT NULL DEFAULT '',
    content_md5         BLOB,
    metadata            BLOB, -- sealed; NULL if none
    sequence_number     INTEGER NOT NULL DEFAULT 0,
    blocks              INTEGER NOT NULL DEFAULT 0,
    copy_id             TEXT NOT NULL DEFAULT '',
    copy_source         TEXT NOT NULL DEFAULT '',
    copy_status         TEXT NOT NULL DEFAULT '',
    copy_progress       TEXT NOT NULL DEFAULT '',
    copy_completed      INTEGER NOT NULL DEFAULT 0,
    UNIQUE (account, container, name),
    FOREIGN KEY (account, container) REFERENCES blob_containers (account, name) ON DELETE CASCADE
);

-- A block is sealed content that one write stored for one blob.
CREATE TABLE blob_blocks (
    id         BLOB PRIMARY KEY, -- 16 random bytes
    blob_id    INTEGER NOT NULL REFERENCES blob_blobs (id) ON DELETE CASCADE,
    size       INTEGER NOT NULL, -- plaintext bytes
    chunk_size INTEGER NOT NULL,
    key        BLOB NOT NULL,    -- the data key, wrapped
    inline     BLOB              -- the sealed content of a small block; NULL if in a file
) WITHOUT ROWID;
CREATE INDEX blob_blocks_blob ON blob_blocks (blob_id);

-- Extents lay blocks out in a committed blob: a block blob's block list in
-- order (seq 0, 1, ...), or a page blob's written pages (seq = start). Both
-- kinds are in order of start, so the primary key serves range reads and
-- block lists alike. The block of an extent belongs to the same blob; the
-- store keeps that so, without a foreign key or an index on block_id that
-- every write would pay for.
CREATE TABLE blob_extents (
    blob_id  INTEGER NOT NULL REFERENCES blob_blobs (id) ON DELETE CASCADE,
    start    INTEGER NOT NULL,
    seq      INTEGER NOT NULL,
    name     TEXT NOT NULL, -- the client's block ID; '' for Put Blob and pages
    length   INTEGER NOT NULL,
    block_id BLOB NOT NULL,
    offset   INTEGER NOT NULL, -- in the block
    PRIMARY KEY (blob_id, start, seq)
) WITHOUT ROWID;

-- Staged (uncommitted) blocks of a block blob, by the client's block ID.
CREATE TABLE blob_staged (
    blob_id  INTEGER NOT NULL REFERENCES blob_blobs (id) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    block_id BLOB NOT NULL,
    seq      INTEGER NOT NULL, -- staging order
    staged   INTEGER NOT NULL, -- when
    PRIMARY KEY (blob_id, name)
) WITHOUT ROWID;
