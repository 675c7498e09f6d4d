package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/blob"
)

var _ blob.Store = (*DB)(nil)

// stmtCache holds the blob store's statements, each prepared once per
// pool. A transaction binds them with Tx.StmtContext, which prepares them
// on its own connection if needed. A statement cannot be prepared on the
// pool from inside a transaction (the writer pool has one connection, which
// the transaction holds), so a query the cache does not know yet runs
// unprepared and is prepared after the transaction ends.
type stmtCache struct {
	mu      sync.Mutex
	stmts   map[string]*sql.Stmt
	pending map[string]bool
}

// get returns the statement prepared for query, or nil (and notes the
// query) if there is none yet.
func (c *stmtCache) get(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.stmts[query]
	if !ok {
		if c.pending == nil {
			c.pending = make(map[string]bool)
		}
		c.pending[query] = true
	}
	return st
}

// prepare prepares the noted queries on pool. Failures are ignored: the
// query runs unprepared again, and reports its error then.
func (c *stmtCache) prepare(ctx context.Context, pool *sql.DB) {
	c.mu.Lock()
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	for q := range pending {
		st, err := pool.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if c.stmts == nil {
			c.stmts = make(map[string]*sql.Stmt)
		}
		if _, dup := c.stmts[q]; dup {
			st.Close()
		} else {
			c.stmts[q] = st
		}
		c.mu.Unlock()
	}
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		st.Close()
	}
	c.stmts = nil
}

// A blobTx runs the blob store's statements in one transaction, on the
// writer or a reader.
type blobTx struct {
	ctx   context.Context
	tx    *sql.Tx
	cache *stmtCache
}

func (t blobTx) exec(query string, args ...any) (sql.Result, error) {
	if st := t.cache.get(query); st != nil {
		return t.tx.StmtContext(t.ctx, st).ExecContext(t.ctx, args...)
	}
	return t.tx.ExecContext(t.ctx, query, args...)
}

func (t blobTx) query(query string, args ...any) (*sql.Rows, error) {
	if st := t.cache.get(query); st != nil {
		return t.tx.StmtContext(t.ctx, st).QueryContext(t.ctx, args...)
	}
	return t.tx.QueryContext(t.ctx, query, args...)
}

func (t blobTx) queryRow(query string, args ...any) *sql.Row {
	if st := t.cache.get(query); st != nil {
		return t.tx.StmtContext(t.ctx, st).QueryRowContext(t.ctx, args...)
	}
	return t.tx.QueryRowContext(t.ctx, query, args...)
}

// blobUpdate runs fn in a write transaction.
func (db *DB) blobUpdate(ctx context.Context, op string, fn func(t blobTx) error) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		return fn(blobTx{ctx: ctx, tx: tx, cache: &db.blobWrite})
	})
	db.blobWrite.prepare(ctx, db.write)
	return internal(err, "sqlite: "+op)
}

// blobView runs fn in a read transaction.
func (db *DB) blobView(ctx context.Context, op string, fn func(t blobTx) error) error {
	err := db.view(ctx, func(tx *sql.Tx) error {
		return fn(blobTx{ctx: ctx, tx: tx, cache: &db.blobRead})
	})
	db.blobRead.prepare(ctx, db.read)
	return internal(err, "sqlite: "+op)
}

func containerNotFound() error {
	return tresor.Errorf(tresor.NotFound, "The specified container does not exist.").WithReason(blob.ReasonContainerNotFound)
}

func blobNotFound() error {
	return tresor.Errorf(tresor.NotFound, "The specified blob does not exist.").WithReason(blob.ReasonBlobNotFound)
}

// CreateContainer inserts c.
func (db *DB) CreateContainer(ctx context.Context, c blob.Container) error {
	return db.blobUpdate(ctx, "create container", func(t blobTx) error {
		md, err := json.Marshal(c.Metadata)
		if err != nil {
			return err
		}
		res, err := t.exec(`INSERT INTO blob_containers (account, name, etag, created, modified, metadata, default_scope, deny_scope_override)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			c.Account, c.Name, c.ETag, c.Created.UnixNano(), c.Modified.UnixNano(), string(md),
			c.DefaultEncryptionScope, c.DenyEncryptionScopeOverride)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tresor.Errorf(tresor.Conflict, "The specified container already exists.").WithReason(blob.ReasonContainerAlreadyExists)
		}
		return nil
	})
}

const containerColumns = `account, name, etag, created, modified, metadata, default_scope, deny_scope_override`

func scanContainer(row scanner) (blob.Container, error) {
	var c blob.Container
	var created, modified int64
	var md string
	if err := row.Scan(&c.Account, &c.Name, &c.ETag, &created, &modified, &md, &c.DefaultEncryptionScope, &c.DenyEncryptionScopeOverride); err != nil {
		return c, err
	}
	c.Created, c.Modified = time.Unix(0, created).UTC(), time.Unix(0, modified).UTC()
	if err := json.Unmarshal([]byte(md), &c.Metadata); err != nil {
		return c, err
	}
	return c, nil
}

func (t blobTx) container(account, name string) (blob.Container, error) {
	c, err := scanContainer(t.queryRow(`SELECT `+containerColumns+` FROM blob_containers WHERE account = ? AND name = ?`, account, name))
	if errors.Is(err, sql.ErrNoRows) {
		return c, containerNotFound()
	}
	return c, err
}

// Container returns a container.
func (db *DB) Container(ctx context.Context, account, name string) (blob.Container, error) {
	var c blob.Container
	err := db.blobView(ctx, "container", func(t blobTx) error {
		var err error
		c, err = t.container(account, name)
		return err
	})
	return c, err
}

// UpdateContainer stores the container as fn leaves it, but its encryption
// policy, which is set only when the container is created.
func (db *DB) UpdateContainer(ctx context.Context, account, name string, fn func(c *blob.Container) error) (blob.Container, error) {
	var c blob.Container
	err := db.blobUpdate(ctx, "update container", func(t blobTx) error {
		var err error
		if c, err = t.container(account, name); err != nil {
			return err
		}
		if err := fn(&c); err != nil {
			return err
		}
		md, err := json.Marshal(c.Metadata)
		if err != nil {
			return err
		}
		_, err = t.exec(`UPDATE blob_containers SET etag = ?, modified = ?, metadata = ? WHERE account = ? AND name = ?`,
			c.ETag, c.Modified.UnixNano(), string(md), account, name)
		return err
	})
	return c, err
}

// DeleteContainer removes a container with its blobs and blocks.
func (db *DB) DeleteContainer(ctx context.Context, account, name string, fn func(c blob.Container) error) ([]blob.BlockID, error) {
	var dropped []blob.BlockID
	err := db.blobUpdate(ctx, "delete container", func(t blobTx) error {
		c, err := t.container(account, name)
		if err != nil {
			return err
		}
		if err := fn(c); err != nil {
			return err
		}
		if dropped, err = t.blockIDs(`SELECT k.id FROM blob_blocks k JOIN blob_blobs b ON b.id = k.blob_id
			WHERE b.account = ? AND b.container = ? AND k.inline IS NULL`, account, name); err != nil {
			return err
		}
		_, err = t.exec(`DELETE FROM blob_containers WHERE account = ? AND name = ?`, account, name)
		return err
	})
	return dropped, err
}

// Containers lists containers by name.
func (db *DB) Containers(ctx context.Context, account, prefix, from string, limit int) ([]blob.Container, error) {
	var out []blob.Container
	err := db.blobView(ctx, "containers", func(t blobTx) error {
		q, args := prefixQuery(`SELECT `+containerColumns+` FROM blob_containers WHERE account = ?`, []any{account}, from, prefix, limit)
		rows, err := t.query(q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanContainer(rows)
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	return out, err
}

// prefixQuery completes a listing query: names from from on, starting with
// prefix, in order, at most limit. The prefix becomes a range of the index
// on names, bounded above by the least string after every name with the
// prefix, so that the scan stops where the prefix ends.
func prefixQuery(q string, args []any, from, prefix string, limit int) (string, []any) {
	q += ` AND name >= ?`
	args = append(args, max(from, prefix))
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			q += ` AND name < ?`
			args = append(args, string(b[:i+1]))
			break
		}
	}
	return q + ` ORDER BY name LIMIT ?`, append(args, limit)
}

const blobColumns = `id, account, container, name, committed, type, size, etag, created, modified,
	content_type, content_encoding, content_language, content_disposition, cache_control, content_md5,
	metadata, sequence_number, blocks, copy_id, copy_source, copy_status, copy_progress, copy_completed, scope`

// A blobRow is a row of blob_blobs.
type blobRow struct {
	id        int64
	committed bool
	b         blob.Blob
}

func scanBlob(row scanner) (blobRow, error) {
	var r blobRow
	b := &r.b
	var typ string
	var created, modified, copied int64
	err := row.Scan(&r.id, &b.Account, &b.Container, &b.Blob, &r.committed, &typ, &b.Size, &b.ETag, &created, &modified,
		&b.Headers.ContentType, &b.Headers.ContentEncoding, &b.Headers.ContentLanguage, &b.Headers.ContentDisposition,
		&b.Headers.CacheControl, &b.Headers.ContentMD5, &b.SealedMetadata, &b.SequenceNumber, &b.Blocks,
		&b.Copy.ID, &b.Copy.Source, &b.Copy.Status, &b.Copy.Progress, &copied, &b.EncryptionScope)
	if err != nil {
		return r, err
	}
	b.Type = blob.BlobType(typ)
	b.Created, b.Modified = time.Unix(0, created).UTC(), time.Unix(0, modified).UTC()
	if copied != 0 {
		b.Copy.Completed = time.Unix(0, copied).UTC()
	}
	return r, nil
}

// blobRow returns the row of the blob at p, committed or not; ok is false
// if there is none. The error is ContainerNotFound if the container does
// not exist.
func (t blobTx) blobRow(p blob.Path) (r blobRow, ok bool, err error) {
	r, err = scanBlob(t.queryRow(`SELECT `+blobColumns+` FROM blob_blobs WHERE account = ? AND container = ? AND name = ?`,
		p.Account, p.Container, p.Blob))
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := t.container(p.Account, p.Container); err != nil {
			return r, false, err
		}
		return r, false, nil
	}
	return r, err == nil, err
}

// committedBlob returns r's blob if r exists and is committed, else nil:
// what the domain's write callbacks receive as the old blob.
func (r *blobRow) committedBlob(exists bool) *blob.Blob {
	if exists && r.committed {
		return &r.b
	}
	return nil
}

// committedBlob returns the committed blob at p; BlobNotFound if there is
// none.
func (t blobTx) committedBlob(p blob.Path) (blobRow, error) {
	r, ok, err := t.blobRow(p)
	if err == nil && (!ok || !r.committed) {
		err = blobNotFound()
	}
	return r, err
}

// Blob returns a committed blob.
func (db *DB) Blob(ctx context.Context, p blob.Path) (blob.Blob, error) {
	var r blobRow
	err := db.blobView(ctx, "blob", func(t blobTx) error {
		var err error
		r, err = t.committedBlob(p)
		return err
	})
	return r.b, err
}

// Blobs lists committed blobs by name.
func (db *DB) Blobs(ctx context.Context, account, container, prefix, from string, limit int) ([]blob.Blob, error) {
	var out []blob.Blob
	err := db.blobView(ctx, "blobs", func(t blobTx) error {
		if _, err := t.container(account, container); err != nil {
			return err
		}
		q, args := prefixQuery(`SELECT `+blobColumns+` FROM blob_blobs WHERE account = ? AND container = ? AND committed`,
			[]any{account, container}, from, prefix, limit)
		rows, err := t.query(q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanBlob(rows)
			if err != nil {
				return err
			}
			out = append(out, r.b)
		}
		return rows.Err()
	})
	return out, err
}

const blockColumns = `k.id, k.size, k.chunk_size, k.key, k.inline, k.inline IS NULL, k.scope`

// scanExtent scans an extent's columns followed by blockColumns.
func scanExtent(row scanner) (blob.Extent, error) {
	var e blob.Extent
	var id []byte
	var inFile bool
	err := row.Scan(&e.Name, &e.Start, &e.Length, &e.Offset, &id, &e.Block.Size, &e.Block.ChunkSize, &e.Block.Key, &e.Block.Inline, &inFile,
		&e.Block.Scope)
	copy(e.Block.ID[:], id)
	if !inFile && e.Block.Inline == nil {
		e.Block.Inline = []byte{} // an empty block
	}
	return e, err
}

func (t blobTx) extents(query string, args ...any) ([]blob.Extent, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []blob.Extent
	for rows.Next() {
		e, err := scanExtent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// overlapQuery selects the extents of a blob (?1) that overlap [?2, ?3).
// The first candidate is the last extent starting at or before ?2, found
// through the primary key, so that a read near the end of a blob with many
// extents does not scan them all.
const overlapQuery = `SELECT e.name, e.start, e.length, e.offset, ` + blockColumns + `
	FROM blob_extents e JOIN blob_blocks k ON k.id = e.block_id
	WHERE e.blob_id = ?1 AND e.start < ?3 AND e.start + e.length > ?2
	AND e.start >= COALESCE((SELECT MAX(start) FROM blob_extents WHERE blob_id = ?1 AND start <= ?2), 0)
	ORDER BY e.start, e.seq`

// Extents returns a committed blob and its extents that overlap [from, to).
func (db *DB) Extents(ctx context.Context, p blob.Path, from, to int64) (blob.Blob, []blob.Extent, error) {
	var r blobRow
	var out []blob.Extent
	err := db.blobView(ctx, "extents", func(t blobTx) error {
		var err error
		if r, err = t.committedBlob(p); err != nil {
			return err
		}
		out, err = t.extents(overlapQuery, r.id, from, to)
		return err
	})
	return r.b, out, err
}

// BlockList returns a blob's committed and staged blocks.
func (db *DB) BlockList(ctx context.Context, p blob.Path) (*blob.Blob, []blob.Extent, []blob.Extent, error) {
	var b *blob.Blob
	var committed, staged []blob.Extent
	err := db.blobView(ctx, "block list", func(t blobTx) error {
		r, ok, err := t.blobRow(p)
		if err != nil {
			return err
		}
		if !ok {
			return blobNotFound()
		}
		if r.committed {
			b = &r.b
		}
		committed, staged, err = t.blockList(r.id)
		return err
	})
	return b, committed, staged, err
}

func (t blobTx) blockList(blobID int64) (committed, staged []blob.Extent, err error) {
	committed, err = t.extents(`SELECT e.name, e.start, e.length, e.offset, `+blockColumns+`
		FROM blob_extents e JOIN blob_blocks k ON k.id = e.block_id WHERE e.blob_id = ? ORDER BY e.start, e.seq`, blobID)
	if err != nil {
		return nil, nil, err
	}
	staged, err = t.extents(`SELECT s.name, 0, k.size, 0, `+blockColumns+`
		FROM blob_staged s JOIN blob_blocks k ON k.id = s.block_id WHERE s.blob_id = ? ORDER BY s.seq`, blobID)
	return committed, staged, err
}

// StoredBlocks returns those of ids that are stored.
func (db *DB) StoredBlocks(ctx context.Context, ids []blob.BlockID) ([]blob.BlockID, error) {
	var out []blob.BlockID
	err := db.blobView(ctx, "stored blocks", func(t blobTx) error {
		const batch = 500 // one statement: short batches are padded with NULLs, which match nothing
		for len(ids) > 0 {
			n := min(len(ids), batch)
			args := make([]any, batch)
			for i := range n {
				args[i] = ids[i][:]
			}
			found, err := t.blockIDs(`SELECT id FROM blob_blocks WHERE id IN (?`+strings.Repeat(", ?", batch-1)+`)`, args...)
			if err != nil {
				return err
			}
			out = append(out, found...)
			ids = ids[n:]
		}
		return nil
	})
	return out, err
}
