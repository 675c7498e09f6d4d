package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/compute"
)

// diskDoc is the stored form of what a disk row does not hold in columns.
type diskDoc struct {
	Location          string            `json:"location"`
	Tags              map[string]string `json:"tags,omitempty"`
	UniqueID          string            `json:"uniqueId"`
	SKU               string            `json:"sku"`
	CreateOption      string            `json:"createOption"`
	SourceResourceID  string            `json:"sourceResourceId,omitempty"`
	SizeBytes         int64             `json:"sizeBytes"`
	OSType            string            `json:"osType,omitempty"`
	HyperVGeneration  string            `json:"hyperVGeneration,omitempty"`
	EncryptionType    string            `json:"encryptionType"`
	DESID             string            `json:"diskEncryptionSetId,omitempty"`
	SecurityType      string            `json:"securityType,omitempty"`
	SecureDESID       string            `json:"secureVMDiskEncryptionSetId,omitempty"`
	State             string            `json:"state"`
	ManagedBy         string            `json:"managedBy,omitempty"`
	Grant             *compute.Grant    `json:"grant,omitempty"`
	ProvisioningState string            `json:"provisioningState"`
}

const diskColumns = `kind, subscription_id, resource_group, name, account, created, doc`

func diskArgs(d compute.Disk) ([]any, error) {
	b, err := json.Marshal(diskDoc{
		Location: d.Location, Tags: d.Tags, UniqueID: d.UniqueID, SKU: d.SKU, CreateOption: d.CreateOption,
		SourceResourceID: d.SourceResourceID, SizeBytes: d.SizeBytes, OSType: d.OSType, HyperVGeneration: d.HyperVGeneration,
		EncryptionType: string(d.EncryptionType), DESID: d.DESID, SecurityType: d.SecurityType, SecureDESID: d.SecureDESID,
		State: string(d.State), ManagedBy: d.ManagedBy, Grant: d.Grant, ProvisioningState: d.ProvisioningState,
	})
	if err != nil {
		return nil, err
	}
	return []any{string(d.Kind), d.SubscriptionID, d.ResourceGroup, d.Name, d.BlobAccount(), d.Created.Unix(), string(b)}, nil
}

func scanDisk(row scanner) (compute.Disk, error) {
	var d compute.Disk
	var kind, account, raw string
	var created int64
	if err := row.Scan(&kind, &d.SubscriptionID, &d.ResourceGroup, &d.Name, &account, &created, &raw); err != nil {
		return compute.Disk{}, err
	}
	var doc diskDoc
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		return compute.Disk{}, fmt.Errorf("sqlite: corrupt disk %s: %w", d.Name, err)
	}
	d.Kind, d.Location, d.Tags, d.UniqueID, d.SKU = compute.Kind(kind), doc.Location, doc.Tags, doc.UniqueID, doc.SKU
	d.CreateOption, d.SourceResourceID, d.SizeBytes = doc.CreateOption, doc.SourceResourceID, doc.SizeBytes
	d.OSType, d.HyperVGeneration = doc.OSType, doc.HyperVGeneration
	d.EncryptionType, d.DESID = compute.DiskEncryptionType(doc.EncryptionType), doc.DESID
	d.SecurityType, d.SecureDESID = doc.SecurityType, doc.SecureDESID
	d.State, d.ManagedBy, d.Grant, d.ProvisioningState = compute.DiskState(doc.State), doc.ManagedBy, doc.Grant, doc.ProvisioningState
	d.Created = time.Unix(created, 0).UTC()
	return d, nil
}

func putArtifactKey(ctx context.Context, tx *sql.Tx, k compute.ArtifactKey) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO artifact_keys (resource_id, des, gen, wrapped, platform) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (resource_id) DO UPDATE SET des = excluded.des, gen = excluded.gen, wrapped = excluded.wrapped, platform = excluded.platform`,
		k.ResourceID, strings.ToLower(k.DES), k.Gen, k.Wrapped, k.Platform)
	return err
}

// CreateDisk implements compute.Store.
func (db *DB) CreateDisk(ctx context.Context, d compute.Disk, k compute.ArtifactKey) error {
	args, err := diskArgs(d)
	if err != nil {
		return internal(err, "sqlite: create disk")
	}
	err = db.update(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM disks WHERE kind = ? AND subscription_id = ? AND resource_group = ? AND name = ?`,
			args[0], args[1], args[2], args[3]).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return tresor.Errorf(tresor.Conflict, "%s %s exists", d.Kind, d.Name)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO disks (`+diskColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
			return err
		}
		return putArtifactKey(ctx, tx, k)
	})
	return internal(err, "sqlite: create disk")
}

// UpdateDisk implements compute.Store.
func (db *DB) UpdateDisk(ctx context.Context, d compute.Disk, k *compute.ArtifactKey) error {
	args, err := diskArgs(d)
	if err != nil {
		return internal(err, "sqlite: update disk")
	}
	err = db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE disks SET doc = ? WHERE kind = ? AND subscription_id = ? AND resource_group = ? AND name = ?`,
			args[6], args[0], args[1], args[2], args[3])
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tresor.Errorf(tresor.NotFound, "%s %s not found", d.Kind, d.Name)
		}
		if k == nil {
			return nil
		}
		return putArtifactKey(ctx, tx, *k)
	})
	return internal(err, "sqlite: update disk")
}

func (db *DB) oneDisk(ctx context.Context, what, where string, args ...any) (compute.Disk, error) {
	return scanOne(ctx, db, "sqlite: disk", what, scanDisk, `SELECT `+diskColumns+` FROM disks WHERE `+where, args...)
}

// Disk implements compute.Store.
func (db *DB) Disk(ctx context.Context, kind compute.Kind, subscriptionID, group, name string) (compute.Disk, error) {
	return db.oneDisk(ctx, string(kind)+" "+name, `kind = ? AND subscription_id = ? AND resource_group = ? AND name = ?`,
		string(kind), subscriptionID, group, name)
}

// DiskByAccount implements compute.Store.
func (db *DB) DiskByAccount(ctx context.Context, account string) (compute.Disk, error) {
	return db.oneDisk(ctx, "account "+account, `account = ?`, strings.ToLower(account))
}

// Disks implements compute.Store.
func (db *DB) Disks(ctx context.Context, kind compute.Kind, subscriptionID, group string) ([]compute.Disk, error) {
	query, args := `SELECT `+diskColumns+` FROM disks WHERE kind = ? AND subscription_id = ? ORDER BY resource_group, name`, []any{string(kind), subscriptionID}
	if group != "" {
		query, args = `SELECT `+diskColumns+` FROM disks WHERE kind = ? AND subscription_id = ? AND resource_group = ? ORDER BY name`, append(args, group)
	}
	return scanAll(ctx, db, "sqlite: disks", scanDisk, query, args...)
}

// DeleteDisk implements compute.Store.
func (db *DB) DeleteDisk(ctx context.Context, kind compute.Kind, subscriptionID, group, name string) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		d, err := scanDisk(tx.QueryRowContext(ctx, `SELECT `+diskColumns+` FROM disks WHERE kind = ? AND subscription_id = ? AND resource_group = ? AND name = ?`,
			string(kind), subscriptionID, group, name))
		if errors.Is(err, sql.ErrNoRows) {
			return tresor.Errorf(tresor.NotFound, "%s %s not found", kind, name)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM disks WHERE kind = ? AND subscription_id = ? AND resource_group = ? AND name = ?`,
			string(kind), subscriptionID, group, name); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM artifact_keys WHERE resource_id = ?`, d.ID())
		return err
	})
	return internal(err, "sqlite: delete disk")
}

// ArtifactKey implements compute.Store.
func (db *DB) ArtifactKey(ctx context.Context, resourceID string) (compute.ArtifactKey, error) {
	var k compute.ArtifactKey
	err := db.view(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT seq, resource_id, des, gen, wrapped, platform FROM artifact_keys WHERE resource_id = ?`, resourceID).
			Scan(&k.Seq, &k.ResourceID, &k.DES, &k.Gen, &k.Wrapped, &k.Platform)
		if errors.Is(err, sql.ErrNoRows) {
			return tresor.Errorf(tresor.NotFound, "no key for %s", resourceID)
		}
		return err
	})
	return k, internal(err, "sqlite: artifact key")
}

// PutArtifactKey implements compute.Store.
func (db *DB) PutArtifactKey(ctx context.Context, k compute.ArtifactKey) error {
	err := db.update(ctx, func(tx *sql.Tx) error { return putArtifactKey(ctx, tx, k) })
	return internal(err, "sqlite: put artifact key")
}

// DeleteArtifactKey implements compute.Store.
func (db *DB) DeleteArtifactKey(ctx context.Context, resourceID string) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM artifact_keys WHERE resource_id = ?`, resourceID)
		return err
	})
	return internal(err, "sqlite: delete artifact key")
}

// StaleArtifactKeys implements compute.Store.
func (db *DB) StaleArtifactKeys(ctx context.Context, des string, gen int, after int64, limit int) ([]compute.ArtifactKey, error) {
	var out []compute.ArtifactKey
	err := db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT seq, resource_id, des, gen, wrapped, platform FROM artifact_keys
			WHERE des = ? AND seq > ? AND gen <> ? ORDER BY seq LIMIT ?`, strings.ToLower(des), after, gen, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k compute.ArtifactKey
			if err := rows.Scan(&k.Seq, &k.ResourceID, &k.DES, &k.Gen, &k.Wrapped, &k.Platform); err != nil {
				return err
			}
			out = append(out, k)
		}
		return rows.Err()
	})
	return out, internal(err, "sqlite: stale artifact keys")
}

// rewrapChunk is how many keys one UPDATE moves: four parameters each,
// well below SQLite's limit on parameters.
const rewrapChunk = 500

// RewrapArtifactKeys implements compute.Store. Each chunk of keys is one
// UPDATE ... FROM a VALUES list, which costs SQLite far less than a
// statement per key.
func (db *DB) RewrapArtifactKeys(ctx context.Context, moves []compute.Rewrap) (int, error) {
	moved := 0
	err := db.update(ctx, func(tx *sql.Tx) error {
		moved = 0
		for len(moves) > 0 {
			chunk := moves[:min(len(moves), rewrapChunk)]
			moves = moves[len(chunk):]
			var q strings.Builder
			q.WriteString(`WITH v(seq, from_gen, gen, wrapped) AS (VALUES `)
			args := make([]any, 0, 4*len(chunk))
			for i, m := range chunk {
				if i > 0 {
					q.WriteString(", ")
				}
				q.WriteString("(?, ?, ?, ?)")
				args = append(args, m.To.Seq, m.From, m.To.Gen, m.To.Wrapped)
			}
			q.WriteString(`) UPDATE artifact_keys SET gen = v.gen, wrapped = v.wrapped FROM v
				WHERE artifact_keys.seq = v.seq AND artifact_keys.gen = v.from_gen`)
			res, err := tx.ExecContext(ctx, q.String(), args...)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			moved += int(n)
		}
		return nil
	})
	return moved, internal(err, "sqlite: rewrap artifact keys")
}

// ArtifactVersions implements compute.Store.
func (db *DB) ArtifactVersions(ctx context.Context, des string) ([]compute.ArtifactVersion, error) {
	var out []compute.ArtifactVersion
	err := db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT resource_id, gen FROM artifact_keys WHERE des = ? ORDER BY resource_id`, strings.ToLower(des))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var v compute.ArtifactVersion
			if err := rows.Scan(&v.ResourceID, &v.Gen); err != nil {
				return err
			}
			out = append(out, v)
		}
		return rows.Err()
	})
	return out, internal(err, "sqlite: artifact versions")
}
