package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/blob"
)

// The blob store's writes. Each runs in one write transaction, calls the
// domain's callback inside it, and returns the blocks it dropped whose
// content is in files, for the caller to remove after the commit.

// writeBlob inserts or updates the row of b, committed, and returns its id.
func (t blobTx) writeBlob(old blobRow, exists bool, b blob.Blob) (int64, error) {
	var copied int64
	if !b.Copy.Completed.IsZero() {
		copied = b.Copy.Completed.UnixNano()
	}
	h := b.Headers
	args := []any{b.Type, b.Size, b.ETag, b.Created.UnixNano(), b.Modified.UnixNano(),
		h.ContentType, h.ContentEncoding, h.ContentLanguage, h.ContentDisposition, h.CacheControl, h.ContentMD5,
		b.SealedMetadata, b.SequenceNumber, b.Blocks, b.Copy.ID, b.Copy.Source, b.Copy.Status, b.Copy.Progress, copied,
		b.EncryptionScope}
	if exists {
		_, err := t.exec(`UPDATE blob_blobs SET committed = 1, type = ?, size = ?, etag = ?, created = ?, modified = ?,
			content_type = ?, content_encoding = ?, content_language = ?, content_disposition = ?, cache_control = ?,
			content_md5 = ?, metadata = ?, sequence_number = ?, blocks = ?,
			copy_id = ?, copy_source = ?, copy_status = ?, copy_progress = ?, copy_completed = ?, scope = ? WHERE id = ?`,
			append(args, old.id)...)
		return old.id, err
	}
	var id int64
	err := t.queryRow(`INSERT INTO blob_blobs (account, container, name, committed, type, size, etag, created, modified,
			content_type, content_encoding, content_language, content_disposition, cache_control, content_md5,
			metadata, sequence_number, blocks, copy_id, copy_source, copy_status, copy_progress, copy_completed, scope)
		VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		append([]any{b.Account, b.Container, b.Blob}, args...)...).Scan(&id)
	return id, err
}

func (t blobTx) insertBlock(blobID int64, b blob.Block) error {
	var inline any
	if b.Inline != nil {
		inline = b.Inline
	}
	_, err := t.exec(`INSERT INTO blob_blocks (id, blob_id, size, chunk_size, key, inline, scope) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		b.ID[:], blobID, b.Size, b.ChunkSize, b.Key, inline, b.Scope)
	return err
}

func (t blobTx) insertExtent(blobID, seq int64, e blob.Extent) error {
	_, err := t.exec(`INSERT INTO blob_extents (blob_id, start, seq, name, length, block_id, offset) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		blobID, e.Start, seq, e.Name, e.Length, e.Block.ID[:], e.Offset)
	return err
}

// blockIDs runs a query that returns block ids.
func (t blobTx) blockIDs(query string, args ...any) ([]blob.BlockID, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []blob.BlockID
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		var id blob.BlockID
		copy(id[:], raw)
		out = append(out, id)
	}
	return out, rows.Err()
}

// dropUnused deletes the blocks of a blob that neither an extent nor a
// staged entry refers to, and returns those whose content is in files.
func (t blobTx) dropUnused(blobID int64) ([]blob.BlockID, error) {
	return t.blockIDs(`DELETE FROM blob_blocks WHERE blob_id = ?1
		AND id NOT IN (SELECT block_id FROM blob_extents WHERE blob_id = ?1)
		AND id NOT IN (SELECT block_id FROM blob_staged WHERE blob_id = ?1)
		RETURNING CASE WHEN inline IS NULL THEN id END`, blobID)
}

// dropAll deletes every extent, staged entry and block of a blob.
func (t blobTx) dropAll(blobID int64) ([]blob.BlockID, error) {
	for _, q := range []string{`DELETE FROM blob_extents WHERE blob_id = ?`, `DELETE FROM blob_staged WHERE blob_id = ?`} {
		if _, err := t.exec(q, blobID); err != nil {
			return nil, err
		}
	}
	return t.blockIDs(`DELETE FROM blob_blocks WHERE blob_id = ? RETURNING CASE WHEN inline IS NULL THEN id END`, blobID)
}

// PutBlob replaces a blob with new content.
func (db *DB) PutBlob(ctx context.Context, p blob.Path, extents []blob.Extent, fn func(old *blob.Blob) (blob.Blob, error)) (blob.Blob, []blob.BlockID, error) {
	var b blob.Blob
	var dropped []blob.BlockID
	err := db.blobUpdate(ctx, "put blob", func(t blobTx) error {
		old, exists, err := t.blobRow(p)
		if err != nil {
			return err
		}
		if b, err = fn(old.committedBlob(exists)); err != nil {
			return err
		}
		if exists {
			if dropped, err = t.dropAll(old.id); err != nil {
				return err
			}
		}
		id, err := t.writeBlob(old, exists, b)
		if err != nil {
			return err
		}
		for i, e := range extents {
			if err := t.insertBlock(id, e.Block); err != nil {
				return err
			}
			seq := int64(i)
			if b.Type == blob.PageBlob {
				seq = e.Start
			}
			if err := t.insertExtent(id, seq, e); err != nil {
				return err
			}
		}
		return nil
	})
	return b, compact(dropped), err
}

// compact removes the zero IDs that the RETURNING clauses give for inline
// blocks.
func compact(ids []blob.BlockID) []blob.BlockID {
	out := ids[:0]
	for _, id := range ids {
		if id != (blob.BlockID{}) {
			out = append(out, id)
		}
	}
	return out
}

// StageBlock stages a block.
func (db *DB) StageBlock(ctx context.Context, p blob.Path, name string, blk blob.Block, staged time.Time, fn func(old *blob.Blob) error) ([]blob.BlockID, error) {
	var dropped []blob.BlockID
	err := db.blobUpdate(ctx, "stage block", func(t blobTx) error {
		r, exists, err := t.blobRow(p)
		if err != nil {
			return err
		}
		if err := fn(r.committedBlob(exists)); err != nil {
			return err
		}
		id := r.id
		if !exists {
			err := t.queryRow(`INSERT INTO blob_blobs (account, container, name, committed, type, size, etag, created, modified)
				VALUES (?, ?, ?, 0, ?, 0, '', 0, 0) RETURNING id`, p.Account, p.Container, p.Blob, blob.BlockBlob).Scan(&id)
			if err != nil {
				return err
			}
		}
		var prevBlock []byte
		err = t.queryRow(`DELETE FROM blob_staged WHERE blob_id = ? AND name = ? RETURNING block_id`, id, name).Scan(&prevBlock)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			// The block it replaces may still be committed. (Staging a
			// name again is rare: this scans the blob's extents.)
			if dropped, err = t.blockIDs(`DELETE FROM blob_blocks WHERE id = ?2
				AND NOT EXISTS (SELECT 1 FROM blob_extents WHERE blob_id = ?1 AND block_id = ?2)
				RETURNING CASE WHEN inline IS NULL THEN id END`, id, prevBlock); err != nil {
				return err
			}
		}
		if err := t.insertBlock(id, blk); err != nil {
			return err
		}
		_, err = t.exec(`INSERT INTO blob_staged (blob_id, name, block_id, seq, staged)
			VALUES (?1, ?2, ?3, (SELECT COALESCE(MAX(seq), 0) + 1 FROM blob_staged WHERE blob_id = ?1), ?4)`,
			id, name, blk.ID[:], staged.UnixNano())
		return err
	})
	return compact(dropped), err
}

// ExpireStaged drops staged blocks of blobs whose last was staged before
// before. Staged blocks are few (uploads in progress), so it scans them.
func (db *DB) ExpireStaged(ctx context.Context, before time.Time) (int, []blob.BlockID, error) {
	var dropped []blob.BlockID
	n := 0
	err := db.blobUpdate(ctx, "expire staged blocks", func(t blobTx) error {
		rows, err := t.query(`SELECT blob_id FROM blob_staged GROUP BY blob_id HAVING MAX(staged) < ?`, before.UnixNano())
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := t.exec(`DELETE FROM blob_staged WHERE blob_id = ?`, id); err != nil {
				return err
			}
			d, err := t.dropUnused(id)
			if err != nil {
				return err
			}
			dropped = append(dropped, d...)
			if _, err := t.exec(`DELETE FROM blob_blobs WHERE id = ? AND NOT committed`, id); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	return n, compact(dropped), err
}

// CommitBlockList commits a block list.
func (db *DB) CommitBlockList(ctx context.Context, p blob.Path, fn func(old *blob.Blob, committed, staged []blob.Extent) (blob.Blob, []blob.Extent, error)) (blob.Blob, []blob.BlockID, error) {
	var b blob.Blob
	var dropped []blob.BlockID
	err := db.blobUpdate(ctx, "commit block list", func(t blobTx) error {
		r, exists, err := t.blobRow(p)
		if err != nil {
			return err
		}
		var prev *blob.Blob
		var committed, staged []blob.Extent
		if exists {
			if r.committed {
				prev = &r.b
			}
			if committed, staged, err = t.blockList(r.id); err != nil {
				return err
			}
		}
		var extents []blob.Extent
		if b, extents, err = fn(prev, committed, staged); err != nil {
			return err
		}
		known := make(map[blob.BlockID]bool, len(committed)+len(staged))
		for _, e := range append(committed, staged...) {
			known[e.Block.ID] = true
		}
		id, err := t.writeBlob(r, exists, b)
		if err != nil {
			return err
		}
		for _, q := range []string{`DELETE FROM blob_extents WHERE blob_id = ?`, `DELETE FROM blob_staged WHERE blob_id = ?`} {
			if _, err := t.exec(q, id); err != nil {
				return err
			}
		}
		for i, e := range extents {
			if !known[e.Block.ID] {
				return tresor.Errorf(tresor.Internal, "commit block list: block %s is not a block of %s", e.Block.ID, p)
			}
			if err := t.insertExtent(id, int64(i), e); err != nil {
				return err
			}
		}
		dropped, err = t.dropUnused(id)
		return err
	})
	return b, compact(dropped), err
}

// UpdateBlob stores a committed blob's properties as fn leaves them.
func (db *DB) UpdateBlob(ctx context.Context, p blob.Path, fn func(b *blob.Blob) error) (blob.Blob, error) {
	var b blob.Blob
	err := db.blobUpdate(ctx, "update blob", func(t blobTx) error {
		r, err := t.committedBlob(p)
		if err != nil {
			return err
		}
		if err := fn(&r.b); err != nil {
			return err
		}
		b = r.b
		_, err = t.writeBlob(r, true, b)
		return err
	})
	return b, err
}

// WritePages overwrites or clears pages of a page blob.
func (db *DB) WritePages(ctx context.Context, p blob.Path, start, end int64, blk *blob.Block, fn func(b *blob.Blob) error) (blob.Blob, []blob.BlockID, error) {
	var b blob.Blob
	var dropped []blob.BlockID
	err := db.blobUpdate(ctx, "write pages", func(t blobTx) error {
		r, err := t.committedBlob(p)
		if err != nil {
			return err
		}
		if err := fn(&r.b); err != nil {
			return err
		}
		b = r.b
		if _, err := t.writeBlob(r, true, b); err != nil {
			return err
		}
		old, err := t.extents(overlapQuery, r.id, start, end)
		if err != nil {
			return err
		}
		for _, e := range old {
			if _, err := t.exec(`DELETE FROM blob_extents WHERE blob_id = ? AND start = ?`, r.id, e.Start); err != nil {
				return err
			}
		}
		if blk != nil {
			if err := t.insertBlock(r.id, *blk); err != nil {
				return err
			}
		}
		for _, e := range blob.OverwritePages(old, start, end, blk) {
			if err := t.insertExtent(r.id, e.Start, e); err != nil {
				return err
			}
		}
		// A page block was written at one place, start - offset, and its
		// extents only ever shrink within that span: whether any is left is
		// a range scan of the primary key over the span.
		seen := make(map[blob.BlockID]bool)
		for _, e := range old {
			if seen[e.Block.ID] {
				continue
			}
			seen[e.Block.ID] = true
			origin := e.Start - e.Offset
			ids, err := t.blockIDs(`DELETE FROM blob_blocks WHERE id = ?1
				AND NOT EXISTS (SELECT 1 FROM blob_extents WHERE blob_id = ?2 AND start >= ?3 AND start < ?4 AND block_id = ?1)
				RETURNING CASE WHEN inline IS NULL THEN id END`, e.Block.ID[:], r.id, origin, origin+e.Block.Size)
			if err != nil {
				return err
			}
			dropped = append(dropped, ids...)
		}
		return nil
	})
	return b, compact(dropped), err
}

// DeleteBlob removes a committed blob with its blocks.
func (db *DB) DeleteBlob(ctx context.Context, p blob.Path, fn func(b blob.Blob) error) ([]blob.BlockID, error) {
	var dropped []blob.BlockID
	err := db.blobUpdate(ctx, "delete blob", func(t blobTx) error {
		r, err := t.committedBlob(p)
		if err != nil {
			return err
		}
		if err := fn(r.b); err != nil {
			return err
		}
		if dropped, err = t.dropAll(r.id); err != nil {
			return err
		}
		_, err = t.exec(`DELETE FROM blob_blobs WHERE id = ?`, r.id)
		return err
	})
	return compact(dropped), err
}
