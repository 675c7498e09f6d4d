package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm/msi"
	"github.com/tresorkms/tresor/cmk"
	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/storage"
)

var _ storage.Store = (*DB)(nil)

// accountDoc is the stored form of what a storage account row does not
// hold in columns.
type accountDoc struct {
	TenantID   string                 `json:"tenantId"`
	Location   string                 `json:"location"`
	Kind       string                 `json:"kind"`
	SKU        string                 `json:"sku"`
	Tags       map[string]string      `json:"tags,omitempty"`
	System     *principalRow          `json:"systemAssigned,omitempty"`
	User       []msi.AssignedIdentity `json:"userAssigned,omitempty"`
	Encryption encryptionRow          `json:"encryption"`
	Keys       []accessKeyRow         `json:"keys"`
	AEKKeyID   string                 `json:"aekKeyId,omitempty"`
	AEK        []byte                 `json:"aek"`
}

type principalRow struct {
	ObjectID, AppID, DisplayName, TenantID, ResourceID string
	Created                                            time.Time
}

type encryptionRow struct {
	KeySource                       string    `json:"keySource"`
	VaultURI                        string    `json:"vaultUri,omitempty"`
	KeyName                         string    `json:"keyName,omitempty"`
	KeyVersion                      string    `json:"keyVersion,omitempty"`
	UserAssignedIdentity            string    `json:"userAssignedIdentity,omitempty"`
	FederatedClientID               string    `json:"federatedClientId,omitempty"`
	CurrentKeyID                    string    `json:"currentKeyId,omitempty"`
	LastKeyRotation                 time.Time `json:"lastKeyRotation"`
	CurrentKeyExpires               time.Time `json:"currentKeyExpires"`
	QueueKeyType                    string    `json:"queueKeyType"`
	TableKeyType                    string    `json:"tableKeyType"`
	RequireInfrastructureEncryption bool      `json:"requireInfrastructureEncryption,omitempty"`
	Enabled                         time.Time `json:"enabled"`
}

type accessKeyRow struct {
	Name    string    `json:"name"`
	Sealed  []byte    `json:"sealed"`
	Created time.Time `json:"created"`
}

func accountArgs(a storage.Account) ([]any, error) {
	e := a.Encryption
	d := accountDoc{
		TenantID: a.TenantID, Location: a.Location, Kind: a.Kind, SKU: a.SKU, Tags: a.Tags, User: a.Identity.UserAssigned,
		Encryption: encryptionRow{
			KeySource: string(e.KeySource), VaultURI: e.Key.VaultURI, KeyName: e.Key.Name, KeyVersion: e.Key.Version,
			UserAssignedIdentity: e.UserAssignedIdentity, FederatedClientID: e.FederatedClientID, CurrentKeyID: e.CurrentKeyID,
			LastKeyRotation: e.LastKeyRotation, CurrentKeyExpires: e.CurrentKeyExpires, QueueKeyType: e.QueueKeyType, TableKeyType: e.TableKeyType,
			RequireInfrastructureEncryption: e.RequireInfrastructureEncryption, Enabled: e.Enabled,
		},
		AEKKeyID: a.AEK.KeyID, AEK: a.AEK.Wrapped,
	}
	if sp := a.Identity.SystemAssigned; sp.ObjectID != "" {
		d.System = &principalRow{sp.ObjectID, sp.AppID, sp.DisplayName, sp.TenantID, sp.ResourceID, sp.Created}
	}
	for _, k := range a.Keys {
		d.Keys = append(d.Keys, accessKeyRow{k.Name, k.Sealed, k.Created})
	}
	doc, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	return []any{a.Name, a.SubscriptionID, a.ResourceGroup, unixOrNull(e.NextKeyCheck), a.Created.Unix(), string(doc)}, nil
}

const accountColumns = `name, subscription_id, resource_group, next_key_check, created, doc`

func scanAccount(row scanner) (storage.Account, error) {
	var a storage.Account
	var next sql.NullInt64
	var created int64
	var doc string
	if err := row.Scan(&a.Name, &a.SubscriptionID, &a.ResourceGroup, &next, &created, &doc); err != nil {
		return storage.Account{}, err
	}
	var d accountDoc
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return storage.Account{}, fmt.Errorf("sqlite: corrupt storage account %s: %w", a.Name, err)
	}
	a.TenantID, a.Location, a.Kind, a.SKU, a.Tags = d.TenantID, d.Location, d.Kind, d.SKU, d.Tags
	a.Identity.UserAssigned = d.User
	if p := d.System; p != nil {
		a.Identity.SystemAssigned = identity.ServicePrincipal{
			ObjectID: p.ObjectID, AppID: p.AppID, DisplayName: p.DisplayName, TenantID: p.TenantID,
			Type: tresor.ManagedIdentity, ResourceID: p.ResourceID, Created: p.Created,
		}
	}
	e := d.Encryption
	a.Encryption = storage.Encryption{
		KeySource: storage.KeySource(e.KeySource), Key: cmk.Ref{VaultURI: e.VaultURI, Name: e.KeyName, Version: e.KeyVersion},
		UserAssignedIdentity: e.UserAssignedIdentity, FederatedClientID: e.FederatedClientID, CurrentKeyID: e.CurrentKeyID,
		LastKeyRotation: e.LastKeyRotation, CurrentKeyExpires: e.CurrentKeyExpires, NextKeyCheck: timeFromNull(next), QueueKeyType: e.QueueKeyType,
		TableKeyType: e.TableKeyType, RequireInfrastructureEncryption: e.RequireInfrastructureEncryption, Enabled: e.Enabled,
	}
	for _, k := range d.Keys {
		a.Keys = append(a.Keys, storage.AccessKey{Name: k.Name, Sealed: k.Sealed, Created: k.Created})
	}
	a.AEK = storage.WrappedKey{KeyID: d.AEKKeyID, Wrapped: d.AEK}
	a.Created = time.Unix(created, 0).UTC()
	return a, nil
}

// CreateAccount implements storage.Store.
func (db *DB) CreateAccount(ctx context.Context, a storage.Account) error {
	args, err := accountArgs(a)
	if err != nil {
		return internal(err, "sqlite: create storage account")
	}
	err = db.update(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM storage_accounts WHERE name = ?`, a.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return tresor.Errorf(tresor.Conflict, "storage account %s exists", a.Name)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO storage_accounts (`+accountColumns+`) VALUES (?, ?, ?, ?, ?, ?)`, args...)
		return err
	})
	return internal(err, "sqlite: create storage account")
}

// UpdateAccount implements storage.Store.
func (db *DB) UpdateAccount(ctx context.Context, a storage.Account) error {
	args, err := accountArgs(a)
	if err != nil {
		return internal(err, "sqlite: update storage account")
	}
	err = db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE storage_accounts SET subscription_id = ?, resource_group = ?, next_key_check = ?, created = ?, doc = ?
			WHERE name = ?`, append(args[1:], a.Name)...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tresor.Errorf(tresor.NotFound, "storage account %s not found", a.Name)
		}
		return nil
	})
	return internal(err, "sqlite: update storage account")
}

// Account implements storage.Store.
func (db *DB) Account(ctx context.Context, name string) (storage.Account, error) {
	var a storage.Account
	err := db.view(ctx, func(tx *sql.Tx) error {
		var err error
		a, err = scanAccount(tx.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM storage_accounts WHERE name = ?`, name))
		if errors.Is(err, sql.ErrNoRows) {
			return tresor.Errorf(tresor.NotFound, "storage account %s not found", name)
		}
		return err
	})
	return a, internal(err, "sqlite: storage account")
}

// Accounts implements storage.Store.
func (db *DB) Accounts(ctx context.Context, subscriptionID, group string) ([]storage.Account, error) {
	query, args := `SELECT `+accountColumns+` FROM storage_accounts WHERE subscription_id = ? ORDER BY name`, []any{subscriptionID}
	if group != "" {
		query, args = `SELECT `+accountColumns+` FROM storage_accounts WHERE subscription_id = ? AND resource_group = ? ORDER BY name`, []any{subscriptionID, group}
	}
	var out []storage.Account
	err := db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			a, err := scanAccount(rows)
			if err != nil {
				return err
			}
			out = append(out, a)
		}
		return rows.Err()
	})
	return out, internal(err, "sqlite: storage accounts")
}

// DeleteAccount implements storage.Store.
func (db *DB) DeleteAccount(ctx context.Context, name string) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM storage_accounts WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tresor.Errorf(tresor.NotFound, "storage account %s not found", name)
		}
		// The account's scopes and blob data go with it: its containers,
		// and by cascade their blobs and blocks. The blocks' files are then
		// orphans, which the blob service's Sweep removes.
		if _, err := tx.ExecContext(ctx, `DELETE FROM storage_scopes WHERE account = ?`, name); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM blob_containers WHERE account = ?`, name)
		return err
	})
	return internal(err, "sqlite: delete storage account")
}

// DueKeyChecks implements storage.Store from the partial index on
// next_key_check.
func (db *DB) DueKeyChecks(ctx context.Context, now time.Time, max int) ([]storage.DueKeyCheck, error) {
	var out []storage.DueKeyCheck
	err := db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT name, next_key_check FROM storage_accounts
			WHERE next_key_check IS NOT NULL AND next_key_check <= ? ORDER BY next_key_check, name LIMIT ?`, now.Unix(), max)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d storage.DueKeyCheck
			var due int64
			if err := rows.Scan(&d.Name, &due); err != nil {
				return err
			}
			d.Due = time.Unix(due, 0).UTC()
			out = append(out, d)
		}
		return rows.Err()
	})
	return out, internal(err, "sqlite: due key checks")
}
