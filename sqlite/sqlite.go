// Package sqlite implements tresor's stores on an embedded SQLite database,
// using a pure-Go driver so that the default build needs no cgo.
//
// SQLite allows one writer at a time. DB therefore keeps two pools over one
// file in WAL mode: a single-connection pool for writes, whose transactions
// are serialised by Go rather than by busy-waiting in SQLite, and a pool of
// readers that never block the writer.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"sort"
	"time"

	_ "modernc.org/sqlite" // the driver registers itself as "sqlite"

	"github.com/tresorkms/tresor"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is an open tresor database. It is safe for concurrent use.
type DB struct {
	write *sql.DB
	read  *sql.DB
	// Statements on the hot path of every data-plane request, prepared
	// once on the reader pool. A single SELECT is its own consistent
	// snapshot, so they run outside a transaction.
	vaultStmt, latestStmt, versionStmt *sql.Stmt
	// Statements of the audit log's appends, prepared once on the writer.
	auditLastStmt, auditInsertStmt *sql.Stmt
	// Statements of the blob store, prepared on first use.
	blobWrite, blobRead stmtCache
	// Now returns the current time; it is used for bookkeeping columns only,
	// never for business rules.
	Now func() time.Time
}

// Open opens (creating if needed) the database file at path and applies any
// pending migrations.
func Open(ctx context.Context, path string) (*DB, error) {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Add("_pragma", "synchronous(NORMAL)")
	dsn := "file:" + path + "?" + q.Encode()

	write, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	read, err := sql.Open("sqlite", dsn)
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// Keep every reader open: opening a SQLite connection (and re-preparing
	// the hot-path statements on it) costs more than the query it serves.
	readers := max(4, 2*runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(readers)
	read.SetMaxIdleConns(readers)
	db := &DB{write: write, read: read, Now: time.Now}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.prepare(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the database.
func (db *DB) Close() error {
	for _, st := range []*sql.Stmt{db.vaultStmt, db.latestStmt, db.versionStmt, db.auditLastStmt, db.auditInsertStmt} {
		if st != nil {
			st.Close()
		}
	}
	db.blobWrite.close()
	db.blobRead.close()
	return errors.Join(db.read.Close(), db.write.Close())
}

// migrate applies the embedded migrations that have not been applied yet,
// each in its own transaction together with its record in the migrations
// table.
func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.write.ExecContext(ctx,
		`CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite: create migrations table: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		err := db.update(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM migrations WHERE name = ?`, name).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			body, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO migrations (name, applied_at) VALUES (?, ?)`, name, db.Now().Unix())
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite: migrate %s: %w", name, err)
		}
	}
	return nil
}

// update runs fn in a write transaction, committing if fn returns nil and
// rolling back otherwise, so that a failed operation leaves the database as
// it was.
func (db *DB) update(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return tresor.Wrap(err, "sqlite: begin")
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return tresor.Wrap(err, "sqlite: commit")
	}
	return nil
}

// view runs fn in a read-only transaction on the reader pool, giving it a
// consistent snapshot.
func (db *DB) view(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return tresor.Wrap(err, "sqlite: begin read")
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	return fn(tx)
}

// internal wraps an unexpected database error as tresor.Internal, keeping
// tresor.Errors (business outcomes decided inside a transaction) as they are.
func internal(err error, op string) error {
	if err == nil {
		return nil
	}
	var te *tresor.Error
	if errors.As(err, &te) {
		return err
	}
	return tresor.Wrap(err, op)
}

// unixOrNull converts an optional time to a nullable column value.
func unixOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Unix()
}

// timeFromNull is the inverse of unixOrNull.
func timeFromNull(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(n.Int64, 0).UTC()
}

// scanAll reads every row of a query in a read transaction with scan, for
// the stores whose rows are a few columns and a JSON document. op names
// the operation in an unexpected error.
func scanAll[T any](ctx context.Context, db *DB, op string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	var out []T
	err := db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		return rows.Err()
	})
	return out, internal(err, op)
}

// scanOne reads the one row of a query with scan: NotFound (what) if
// there is none.
func scanOne[T any](ctx context.Context, db *DB, op, what string, scan func(scanner) (T, error), query string, args ...any) (T, error) {
	var v T
	err := db.view(ctx, func(tx *sql.Tx) error {
		var err error
		v, err = scan(tx.QueryRowContext(ctx, query, args...))
		if errors.Is(err, sql.ErrNoRows) {
			return tresor.Errorf(tresor.NotFound, "%s not found", what)
		}
		return err
	})
	return v, internal(err, op)
}
