package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/internal/period"
	"github.com/tresorkms/tresor/keyvault"
)

// policyRow is the stored form of a rotation policy's content.
type policyRow struct {
	Actions []policyActionRow `json:"actions"`
	Expiry  string            `json:"expiryTime,omitempty"`
}

type policyActionRow struct {
	Type             string `json:"type"`
	TimeAfterCreate  string `json:"timeAfterCreate,omitempty"`
	TimeBeforeExpiry string `json:"timeBeforeExpiry,omitempty"`
}

func encodePolicy(p keyvault.RotationPolicy) string {
	row := policyRow{Actions: []policyActionRow{}, Expiry: p.ExpiryTime.String()}
	for _, a := range p.Actions {
		row.Actions = append(row.Actions, policyActionRow{
			Type: string(a.Type), TimeAfterCreate: a.TimeAfterCreate.String(), TimeBeforeExpiry: a.TimeBeforeExpiry.String(),
		})
	}
	return jsonText(row)
}

func decodePolicy(text string) (keyvault.RotationPolicy, error) {
	var row policyRow
	if err := json.Unmarshal([]byte(text), &row); err != nil {
		return keyvault.RotationPolicy{}, err
	}
	parse := func(s string) (period.Period, error) {
		if s == "" {
			return period.Period{}, nil
		}
		return period.Parse(s)
	}
	var p keyvault.RotationPolicy
	var err error
	if p.ExpiryTime, err = parse(row.Expiry); err != nil {
		return keyvault.RotationPolicy{}, err
	}
	p.Actions = make([]keyvault.LifetimeAction, 0, len(row.Actions))
	for _, r := range row.Actions {
		a := keyvault.LifetimeAction{Type: keyvault.ActionType(r.Type)}
		var err1, err2 error
		a.TimeAfterCreate, err1 = parse(r.TimeAfterCreate)
		a.TimeBeforeExpiry, err2 = parse(r.TimeBeforeExpiry)
		if err := errors.Join(err1, err2); err != nil {
			return keyvault.RotationPolicy{}, err
		}
		p.Actions = append(p.Actions, a)
	}
	return p, nil
}

// KeyVersionCount implements keyvault.Store.
func (db *DB) KeyVersionCount(ctx context.Context, vaultID, name string) (int, error) {
	var n int
	err := db.view(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM key_versions WHERE vault_id = ? AND name = ?`, vaultID, name).Scan(&n)
	})
	return n, internal(err, "sqlite: count key versions")
}

// RotationPolicy implements keyvault.Store.
func (db *DB) RotationPolicy(ctx context.Context, vaultID, name string) (keyvault.RotationPolicy, error) {
	var p keyvault.RotationPolicy
	err := db.view(ctx, func(tx *sql.Tx) error {
		var text string
		var created, updated int64
		err := tx.QueryRowContext(ctx, `SELECT k.name, p.policy, p.created, p.updated FROM key_rotation_policies p
			JOIN keys k ON k.vault_id = p.vault_id AND k.name = p.name WHERE p.vault_id = ? AND p.name = ?`, vaultID, name).
			Scan(&p.Name, &text, &created, &updated)
		if errors.Is(err, sql.ErrNoRows) {
			return tresor.Errorf(tresor.NotFound, "key %s has no rotation policy", name)
		}
		if err != nil {
			return err
		}
		keep := p.Name
		if p, err = decodePolicy(text); err != nil {
			return fmt.Errorf("sqlite: corrupt rotation policy of %s: %w", name, err)
		}
		p.VaultID, p.Name = vaultID, keep
		p.Created, p.Updated = time.Unix(created, 0).UTC(), time.Unix(updated, 0).UTC()
		return nil
	})
	return p, internal(err, "sqlite: rotation policy")
}

// PutRotationPolicy implements keyvault.Store.
func (db *DB) PutRotationPolicy(ctx context.Context, p keyvault.RotationPolicy, cur keyvault.KeyVersion) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		exists, deleted, err := keyState(ctx, tx, p.VaultID, p.Name)
		if err != nil {
			return err
		}
		if !exists || deleted {
			return tresor.Errorf(tresor.NotFound, "key %s not found", p.Name)
		}
		var newest string
		if err := tx.QueryRowContext(ctx, `SELECT version FROM key_versions WHERE vault_id = ? AND name = ? ORDER BY seq DESC LIMIT 1`,
			p.VaultID, p.Name).Scan(&newest); err != nil {
			return err
		}
		if newest != cur.Version {
			return tresor.Errorf(tresor.Conflict, "version %s of key %s is not its newest", cur.Version, p.Name)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE key_versions SET rotation_due = ?, expiry_event_due = ? WHERE vault_id = ? AND name = ? AND version = ?`,
			unixOrNull(cur.RotationDue), unixOrNull(cur.ExpiryEventDue), p.VaultID, p.Name, cur.Version); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO key_rotation_policies (vault_id, name, policy, created, updated) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (vault_id, name) DO UPDATE SET policy = excluded.policy, created = excluded.created, updated = excluded.updated`,
			p.VaultID, p.Name, encodePolicy(p), p.Created.Unix(), p.Updated.Unix())
		return err
	})
	return internal(err, "sqlite: put rotation policy")
}

// dueQuery selects the live keys whose newest version's schedule column
// (one of the indexed columns, never client input) is due at or before its
// first parameter (Unix seconds), earliest first, at most its second.
func dueQuery(column string) string {
	return `SELECT kv.vault_id, v.kind, v.name, kv.name, kv.` + column + ` FROM key_versions kv
	JOIN keys k ON k.vault_id = kv.vault_id AND k.name = kv.name
	JOIN vaults v ON v.id = kv.vault_id
	WHERE kv.` + column + ` IS NOT NULL AND kv.` + column + ` <= ? AND k.deleted IS NULL AND v.deleted IS NULL
	ORDER BY kv.` + column + `, kv.vault_id, kv.name LIMIT ?`
}

// DueRotations implements keyvault.Store. The partial index on
// rotation_due holds only keys' newest versions, so the query reads the due
// ones and no others; deleted keys are skipped.
func (db *DB) DueRotations(ctx context.Context, now time.Time, max int) ([]keyvault.DueKey, error) {
	out, err := db.dueKeys(ctx, "rotation_due", now, max)
	return out, internal(err, "sqlite: due rotations")
}

// DueExpiryEvents implements keyvault.Store, as DueRotations does.
func (db *DB) DueExpiryEvents(ctx context.Context, now time.Time, max int) ([]keyvault.DueKey, error) {
	out, err := db.dueKeys(ctx, "expiry_event_due", now, max)
	return out, internal(err, "sqlite: due expiry events")
}

// dueKeys runs dueQuery(column) at now.
func (db *DB) dueKeys(ctx context.Context, column string, now time.Time, max int) ([]keyvault.DueKey, error) {
	var out []keyvault.DueKey
	err := db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, dueQuery(column), now.Unix(), max)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d keyvault.DueKey
			var due int64
			var kind string
			if err := rows.Scan(&d.VaultID, &kind, &d.VaultName, &d.Name, &due); err != nil {
				return err
			}
			d.VaultKind = keyvault.VaultKind(kind)
			d.Due = time.Unix(due, 0).UTC()
			out = append(out, d)
		}
		return rows.Err()
	})
	return out, err
}

// DuePurges implements keyvault.Store.
func (db *DB) DuePurges(ctx context.Context, now time.Time, max int) ([]keyvault.DuePurge, error) {
	var out []keyvault.DuePurge
	err := db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT purge_at, is_vault, vault_id, kind, vault_name, key FROM (
				SELECT k.purge_at, 0 AS is_vault, k.vault_id, v.kind, v.name AS vault_name, k.name AS key FROM keys k
				JOIN vaults v ON v.id = k.vault_id
				WHERE k.deleted IS NOT NULL AND k.purge_at <= ?1
				ORDER BY k.purge_at LIMIT ?2)
			UNION ALL SELECT * FROM (
				SELECT purge_at, 1, id, kind, name, '' FROM vaults
				WHERE deleted IS NOT NULL AND purge_at <= ?1
				ORDER BY purge_at LIMIT ?2)
			ORDER BY purge_at, is_vault, vault_id, key LIMIT ?2`, now.Unix(), max)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d keyvault.DuePurge
			var at int64
			var isVault int
			var kind string
			if err := rows.Scan(&at, &isVault, &d.VaultID, &kind, &d.VaultName, &d.Key); err != nil {
				return err
			}
			d.VaultKind, d.PurgeAt = keyvault.VaultKind(kind), time.Unix(at, 0).UTC()
			out = append(out, d)
		}
		return rows.Err()
	})
	return out, internal(err, "sqlite: due purges")
}
