package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/audit"
)

var _ audit.Store = (*DB)(nil)

// The statements of Append, prepared once on the writer connection.
const (
	auditLastQuery   = `SELECT COALESCE(MAX(seq), 0) FROM audit_log`
	auditInsertQuery = `INSERT INTO audit_log (` + auditColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

const auditColumns = `seq, time, request_id, tenant_id, object_id, app_id, principal_name, principal_type,
	operation, resource_id, key_version, result, status, mac`

// Append stores records in one transaction. It returns Conflict, and stores
// nothing, unless their Seqs run on from the last stored one without gaps.
func (db *DB) Append(ctx context.Context, records []audit.Record) error {
	if len(records) == 0 {
		return nil
	}
	err := db.update(ctx, func(tx *sql.Tx) error {
		var last int64
		if err := tx.StmtContext(ctx, db.auditLastStmt).QueryRowContext(ctx).Scan(&last); err != nil {
			return err
		}
		for i, r := range records {
			if want := last + 1 + int64(i); r.Seq != want {
				return tresor.Errorf(tresor.Conflict, "audit: record %d appended where %d is due", r.Seq, want)
			}
		}
		st := tx.StmtContext(ctx, db.auditInsertStmt)
		for _, r := range records {
			p := r.Principal
			if _, err := st.ExecContext(ctx, r.Seq, r.Time.UnixNano(), r.RequestID, p.TenantID, p.ObjectID, p.AppID,
				p.Name, string(p.Type), r.Operation, r.ResourceID, r.KeyVersion, r.Result, r.Status, r.MAC); err != nil {
				return err
			}
		}
		return nil
	})
	return internal(err, "sqlite: append audit records")
}

// Last returns the audit record with the highest Seq, or NotFound if the
// log is empty.
func (db *DB) Last(ctx context.Context) (audit.Record, error) {
	r, err := scanRecord(db.read.QueryRowContext(ctx, `SELECT `+auditColumns+` FROM audit_log ORDER BY seq DESC LIMIT 1`))
	if errors.Is(err, sql.ErrNoRows) {
		return audit.Record{}, tresor.Errorf(tresor.NotFound, "audit: log is empty")
	}
	return r, internal(err, "sqlite: last audit record")
}

// Records returns up to limit audit records after afterSeq, in order of
// Seq. A limit below 1 is Invalid.
func (db *DB) Records(ctx context.Context, afterSeq int64, limit int) ([]audit.Record, error) {
	if limit < 1 {
		return nil, tresor.Errorf(tresor.Invalid, "audit: limit %d is below 1", limit)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?`,
		afterSeq, limit)
	if err != nil {
		return nil, internal(err, "sqlite: audit records")
	}
	defer rows.Close()
	var out []audit.Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, internal(err, "sqlite: audit records")
		}
		out = append(out, r)
	}
	return out, internal(rows.Err(), "sqlite: audit records")
}

func scanRecord(row scanner) (audit.Record, error) {
	var r audit.Record
	var nanos int64
	var typ string
	err := row.Scan(&r.Seq, &nanos, &r.RequestID, &r.Principal.TenantID, &r.Principal.ObjectID, &r.Principal.AppID,
		&r.Principal.Name, &typ, &r.Operation, &r.ResourceID, &r.KeyVersion, &r.Result, &r.Status, &r.MAC)
	if err != nil {
		return audit.Record{}, err
	}
	r.Time = time.Unix(0, nanos).UTC()
	r.Principal.Type = tresor.PrincipalType(typ)
	return r, nil
}
