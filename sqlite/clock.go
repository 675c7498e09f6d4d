package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// VirtualClock returns the time a virtual clock was last set to, and false
// if it never was.
func (db *DB) VirtualClock(ctx context.Context) (time.Time, bool, error) {
	var ns int64
	err := db.view(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `SELECT now FROM virtual_clock WHERE id = 1`).Scan(&ns)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, internal(err, "sqlite: virtual clock")
	}
	return time.Unix(0, ns).UTC(), true, nil
}

// SetVirtualClock records the time a virtual clock shows.
func (db *DB) SetVirtualClock(ctx context.Context, t time.Time) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO virtual_clock (id, now) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET now = excluded.now`, t.UnixNano())
		return err
	})
	return internal(err, "sqlite: set virtual clock")
}
