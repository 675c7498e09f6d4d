package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/cmk"
	"github.com/tresorkms/tresor/storage"
)

// scopeDoc is the stored form of an encryption scope.
type scopeDoc struct {
	Source                          string    `json:"source"`
	Enabled                         bool      `json:"enabled"`
	VaultURI                        string    `json:"vaultUri,omitempty"`
	KeyName                         string    `json:"keyName,omitempty"`
	KeyVersion                      string    `json:"keyVersion,omitempty"`
	CurrentKeyID                    string    `json:"currentKeyId,omitempty"`
	LastKeyRotation                 time.Time `json:"lastKeyRotation"`
	RequireInfrastructureEncryption bool      `json:"requireInfrastructureEncryption,omitempty"`
	Created                         time.Time `json:"created"`
	Modified                        time.Time `json:"modified"`
	SEKKeyID                        string    `json:"sekKeyId,omitempty"`
	SEK                             []byte    `json:"sek"`
}

// PutScope implements storage.Store.
func (db *DB) PutScope(ctx context.Context, sc storage.Scope) error {
	doc, err := json.Marshal(scopeDoc{
		Source: string(sc.Source), Enabled: sc.Enabled, VaultURI: sc.Key.VaultURI, KeyName: sc.Key.Name, KeyVersion: sc.Key.Version,
		CurrentKeyID: sc.CurrentKeyID, LastKeyRotation: sc.LastKeyRotation, RequireInfrastructureEncryption: sc.RequireInfrastructureEncryption,
		Created: sc.Created, Modified: sc.Modified, SEKKeyID: sc.SEK.KeyID, SEK: sc.SEK.Wrapped,
	})
	if err != nil {
		return internal(err, "sqlite: put encryption scope")
	}
	err = db.update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO storage_scopes (account, name, next_key_check, doc) VALUES (?, ?, ?, ?)
			ON CONFLICT (account, name) DO UPDATE SET next_key_check = excluded.next_key_check, doc = excluded.doc`,
			sc.Account, sc.Name, unixOrNull(sc.NextKeyCheck), string(doc))
		return err
	})
	return internal(err, "sqlite: put encryption scope")
}

const scopeColumns = `account, name, next_key_check, doc`

func scanScope(row scanner) (storage.Scope, error) {
	var sc storage.Scope
	var next sql.NullInt64
	var doc string
	if err := row.Scan(&sc.Account, &sc.Name, &next, &doc); err != nil {
		return storage.Scope{}, err
	}
	var d scopeDoc
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return storage.Scope{}, fmt.Errorf("sqlite: corrupt encryption scope %s/%s: %w", sc.Account, sc.Name, err)
	}
	sc.Source, sc.Enabled = storage.KeySource(d.Source), d.Enabled
	sc.Key = cmk.Ref{VaultURI: d.VaultURI, Name: d.KeyName, Version: d.KeyVersion}
	sc.CurrentKeyID, sc.LastKeyRotation, sc.NextKeyCheck = d.CurrentKeyID, d.LastKeyRotation, timeFromNull(next)
	sc.RequireInfrastructureEncryption, sc.Created, sc.Modified = d.RequireInfrastructureEncryption, d.Created, d.Modified
	sc.SEK = storage.WrappedKey{KeyID: d.SEKKeyID, Wrapped: d.SEK}
	return sc, nil
}

// Scope implements storage.Store.
func (db *DB) Scope(ctx context.Context, account, name string) (storage.Scope, error) {
	var sc storage.Scope
	err := db.view(ctx, func(tx *sql.Tx) error {
		var err error
		sc, err = scanScope(tx.QueryRowContext(ctx, `SELECT `+scopeColumns+` FROM storage_scopes WHERE account = ? AND name = ?`, account, name))
		if errors.Is(err, sql.ErrNoRows) {
			return tresor.Errorf(tresor.NotFound, "encryption scope %s/%s not found", account, name)
		}
		return err
	})
	return sc, internal(err, "sqlite: encryption scope")
}

// Scopes implements storage.Store.
func (db *DB) Scopes(ctx context.Context, account string) ([]storage.Scope, error) {
	var out []storage.Scope
	err := db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+scopeColumns+` FROM storage_scopes WHERE account = ? ORDER BY name`, account)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			sc, err := scanScope(rows)
			if err != nil {
				return err
			}
			out = append(out, sc)
		}
		return rows.Err()
	})
	return out, internal(err, "sqlite: encryption scopes")
}

// DueScopeKeyChecks implements storage.Store from the partial index on
// next_key_check.
func (db *DB) DueScopeKeyChecks(ctx context.Context, now time.Time, max int) ([]storage.DueScopeKeyCheck, error) {
	var out []storage.DueScopeKeyCheck
	err := db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT account, name, next_key_check FROM storage_scopes
			WHERE next_key_check IS NOT NULL AND next_key_check <= ? ORDER BY next_key_check, account, name LIMIT ?`, now.Unix(), max)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d storage.DueScopeKeyCheck
			var due int64
			if err := rows.Scan(&d.Account, &d.Scope, &due); err != nil {
				return err
			}
			d.Due = time.Unix(due, 0).UTC()
			out = append(out, d)
		}
		return rows.Err()
	})
	return out, internal(err, "sqlite: due scope key checks")
}
