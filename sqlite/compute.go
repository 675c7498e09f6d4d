package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm/msi"
	"github.com/tresorkms/tresor/compute"
	"github.com/tresorkms/tresor/identity"
)

var _ compute.Store = (*DB)(nil)

// desDoc is the stored form of what a disk encryption set row does not
// hold in columns.
type desDoc struct {
	TenantID          string                 `json:"tenantId"`
	Location          string                 `json:"location"`
	Tags              map[string]string      `json:"tags,omitempty"`
	System            *principalRow          `json:"systemAssigned,omitempty"`
	User              []msi.AssignedIdentity `json:"userAssigned,omitempty"`
	EncryptionType    string                 `json:"encryptionType"`
	ActiveKey         keyRefRow              `json:"activeKey"`
	PreviousKeys      []keyRefRow            `json:"previousKeys,omitempty"`
	AutoRotation      bool                   `json:"rotationToLatestKeyVersionEnabled,omitempty"`
	LastKeyRotation   time.Time              `json:"lastKeyRotation"`
	AutoRotationError *apiErrorRow           `json:"autoKeyRotationError,omitempty"`
	FederatedClientID string                 `json:"federatedClientId,omitempty"`
	ProvisioningState string                 `json:"provisioningState"`
	Gen               int                    `json:"gen,omitempty"`
	KeyID             string                 `json:"keyId,omitempty"`
	Key               []byte                 `json:"key"`
	Previous          []wrappedKeyRow        `json:"previous,omitempty"`
}

type wrappedKeyRow struct {
	Gen     int    `json:"gen"`
	KeyID   string `json:"keyId"`
	Wrapped []byte `json:"wrapped"`
}

type keyRefRow struct {
	SourceVaultID string `json:"sourceVaultId,omitempty"`
	KeyURL        string `json:"keyUrl"`
}

type apiErrorRow struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func desArgs(d compute.DiskEncryptionSet) ([]any, error) {
	doc := desDoc{
		TenantID: d.TenantID, Location: d.Location, Tags: d.Tags, User: d.Identity.UserAssigned,
		EncryptionType: string(d.EncryptionType), ActiveKey: keyRefRow(d.ActiveKey),
		AutoRotation: d.RotationToLatestKeyVersionEnabled, LastKeyRotation: d.LastKeyRotation,
		FederatedClientID: d.FederatedClientID, ProvisioningState: d.ProvisioningState,
		Gen: d.Key.Gen, KeyID: d.Key.KeyID, Key: d.Key.Wrapped,
	}
	for _, k := range d.Previous {
		doc.Previous = append(doc.Previous, wrappedKeyRow(k))
	}
	if sp := d.Identity.SystemAssigned; sp.ObjectID != "" {
		doc.System = &principalRow{sp.ObjectID, sp.AppID, sp.DisplayName, sp.TenantID, sp.ResourceID, sp.Created}
	}
	for _, k := range d.PreviousKeys {
		doc.PreviousKeys = append(doc.PreviousKeys, keyRefRow(k))
	}
	if e := d.AutoKeyRotationError; e != (compute.APIError{}) {
		doc.AutoRotationError = &apiErrorRow{e.Code, e.Message}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return []any{d.SubscriptionID, d.ResourceGroup, d.Name, d.Created.Unix(), string(b), unixOrNull(d.NextKeyCheck)}, nil
}

const desColumns = `subscription_id, resource_group, name, created, doc, next_key_check`

func scanDES(row scanner) (compute.DiskEncryptionSet, error) {
	var d compute.DiskEncryptionSet
	var created int64
	var raw string
	var next sql.NullInt64
	if err := row.Scan(&d.SubscriptionID, &d.ResourceGroup, &d.Name, &created, &raw, &next); err != nil {
		return compute.DiskEncryptionSet{}, err
	}
	var doc desDoc
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		return compute.DiskEncryptionSet{}, fmt.Errorf("sqlite: corrupt disk encryption set %s: %w", d.Name, err)
	}
	d.TenantID, d.Location, d.Tags = doc.TenantID, doc.Location, doc.Tags
	d.Identity.UserAssigned = doc.User
	if p := doc.System; p != nil {
		d.Identity.SystemAssigned = identity.ServicePrincipal{
			ObjectID: p.ObjectID, AppID: p.AppID, DisplayName: p.DisplayName, TenantID: p.TenantID,
			Type: tresor.ManagedIdentity, ResourceID: p.ResourceID, Created: p.Created,
		}
	}
	d.EncryptionType, d.ActiveKey = compute.EncryptionType(doc.EncryptionType), compute.KeyRef(doc.ActiveKey)
	for _, k := range doc.PreviousKeys {
		d.PreviousKeys = append(d.PreviousKeys, compute.KeyRef(k))
	}
	d.RotationToLatestKeyVersionEnabled, d.LastKeyRotation = doc.AutoRotation, doc.LastKeyRotation
	if e := doc.AutoRotationError; e != nil {
		d.AutoKeyRotationError = compute.APIError{Code: e.Code, Message: e.Message}
	}
	d.FederatedClientID, d.ProvisioningState = doc.FederatedClientID, doc.ProvisioningState
	d.Key = compute.WrappedKey{Gen: doc.Gen, KeyID: doc.KeyID, Wrapped: doc.Key}
	for _, k := range doc.Previous {
		d.Previous = append(d.Previous, compute.WrappedKey(k))
	}
	d.Created = time.Unix(created, 0).UTC()
	d.NextKeyCheck = timeFromNull(next)
	return d, nil
}

// CreateDiskEncryptionSet implements compute.Store.
func (db *DB) CreateDiskEncryptionSet(ctx context.Context, d compute.DiskEncryptionSet) error {
	args, err := desArgs(d)
	if err != nil {
		return internal(err, "sqlite: create disk encryption set")
	}
	err = db.update(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM disk_encryption_sets WHERE subscription_id = ? AND resource_group = ? AND name = ?`,
			d.SubscriptionID, d.ResourceGroup, d.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return tresor.Errorf(tresor.Conflict, "disk encryption set %s exists", d.Name)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO disk_encryption_sets (`+desColumns+`) VALUES (?, ?, ?, ?, ?, ?)`, args...)
		return err
	})
	return internal(err, "sqlite: create disk encryption set")
}

// UpdateDiskEncryptionSet implements compute.Store.
func (db *DB) UpdateDiskEncryptionSet(ctx context.Context, d compute.DiskEncryptionSet) error {
	args, err := desArgs(d)
	if err != nil {
		return internal(err, "sqlite: update disk encryption set")
	}
	err = db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE disk_encryption_sets SET created = ?, doc = ?, next_key_check = ?
			WHERE subscription_id = ? AND resource_group = ? AND name = ?`, args[3], args[4], args[5], args[0], args[1], args[2])
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tresor.Errorf(tresor.NotFound, "disk encryption set %s not found", d.Name)
		}
		return nil
	})
	return internal(err, "sqlite: update disk encryption set")
}

// DiskEncryptionSet implements compute.Store.
func (db *DB) DiskEncryptionSet(ctx context.Context, subscriptionID, group, name string) (compute.DiskEncryptionSet, error) {
	return scanOne(ctx, db, "sqlite: disk encryption set", "disk encryption set "+name, scanDES, `SELECT `+desColumns+` FROM disk_encryption_sets
		WHERE subscription_id = ? AND resource_group = ? AND name = ?`, subscriptionID, group, name)
}

// DiskEncryptionSets implements compute.Store.
func (db *DB) DiskEncryptionSets(ctx context.Context, subscriptionID, group string) ([]compute.DiskEncryptionSet, error) {
	query, args := `SELECT `+desColumns+` FROM disk_encryption_sets WHERE subscription_id = ? ORDER BY resource_group, name`, []any{subscriptionID}
	if group != "" {
		query, args = `SELECT `+desColumns+` FROM disk_encryption_sets WHERE subscription_id = ? AND resource_group = ? ORDER BY name`, []any{subscriptionID, group}
	}
	return scanAll(ctx, db, "sqlite: disk encryption sets", scanDES, query, args...)
}

// DeleteDiskEncryptionSet implements compute.Store.
func (db *DB) DeleteDiskEncryptionSet(ctx context.Context, subscriptionID, group, name string) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM disk_encryption_sets WHERE subscription_id = ? AND resource_group = ? AND name = ?`,
			subscriptionID, group, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tresor.Errorf(tresor.NotFound, "disk encryption set %s not found", name)
		}
		return nil
	})
	return internal(err, "sqlite: delete disk encryption set")
}

// DueDiskEncryptionSetKeyChecks implements compute.Store from the partial
// index on next_key_check.
func (db *DB) DueDiskEncryptionSetKeyChecks(ctx context.Context, now time.Time, max int) ([]compute.DueKeyCheck, error) {
	var out []compute.DueKeyCheck
	err := db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT subscription_id, resource_group, name, next_key_check FROM disk_encryption_sets
			WHERE next_key_check IS NOT NULL AND next_key_check <= ? ORDER BY next_key_check, subscription_id, resource_group, name LIMIT ?`, now.Unix(), max)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d compute.DueKeyCheck
			var due int64
			if err := rows.Scan(&d.SubscriptionID, &d.ResourceGroup, &d.Name, &due); err != nil {
				return err
			}
			d.Due = time.Unix(due, 0).UTC()
			out = append(out, d)
		}
		return rows.Err()
	})
	return out, internal(err, "sqlite: due disk encryption set key checks")
}
