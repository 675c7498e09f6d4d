package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/hsm"
	"github.com/tresorkms/tresor/keyvault"
)

var _ keyvault.Store = (*DB)(nil)

// Small JSON columns (tags, lists) are an adapter's storage choice; the
// domain types carry no tags of their own.

type accessPolicyRow struct {
	TenantID      string   `json:"tenantId"`
	ObjectID      string   `json:"objectId"`
	ApplicationID string   `json:"applicationId,omitempty"`
	Keys          []string `json:"keys,omitempty"`
	Secrets       []string `json:"secrets,omitempty"`
	Certificates  []string `json:"certificates,omitempty"`
	Storage       []string `json:"storage,omitempty"`
}

type releasePolicyRow struct {
	ContentType string `json:"contentType"`
	Data        []byte `json:"data"`
	Immutable   bool   `json:"immutable"`
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("sqlite: marshal " + err.Error()) // only maps and slices of strings reach here
	}
	return string(b)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

const vaultColumns = `id, kind, name, tenant_id, subscription_id, resource_group, location, sku,
	soft_delete, retention_days, purge_protection, rbac, enabled_for_deployment, enabled_for_disk_encryption,
	enabled_for_template_deployment, public_network_access, tags, access_policies, initial_admins,
	created, updated, deleted, purge_at`

func vaultArgs(v keyvault.Vault) []any {
	policies := make([]accessPolicyRow, len(v.AccessPolicies))
	for i, p := range v.AccessPolicies {
		policies[i] = accessPolicyRow(p)
	}
	admins := v.InitialAdmins
	if admins == nil {
		admins = []string{}
	}
	tags := v.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	return []any{v.ID, string(v.Kind), v.Name, v.TenantID, v.SubscriptionID, v.ResourceGroup, v.Location, v.SKU,
		b2i(v.SoftDelete), v.RetentionDays, b2i(v.PurgeProtection), b2i(v.RBAC), b2i(v.EnabledForDeployment),
		b2i(v.EnabledForDiskEncryption), b2i(v.EnabledForTemplateDeployment), v.PublicNetworkAccess,
		jsonText(tags), jsonText(policies), jsonText(admins),
		v.Created.Unix(), v.Updated.Unix(), unixOrNull(v.Deleted), unixOrNull(v.PurgeAt)}
}

type scanner interface{ Scan(dest ...any) error }

func scanVault(row scanner) (keyvault.Vault, error) {
	var v keyvault.Vault
	var kind, tags, policies, admins string
	var created, updated int64
	var deleted, purgeAt sql.NullInt64
	err := row.Scan(&v.ID, &kind, &v.Name, &v.TenantID, &v.SubscriptionID, &v.ResourceGroup, &v.Location, &v.SKU,
		&v.SoftDelete, &v.RetentionDays, &v.PurgeProtection, &v.RBAC, &v.EnabledForDeployment,
		&v.EnabledForDiskEncryption, &v.EnabledForTemplateDeployment, &v.PublicNetworkAccess,
		&tags, &policies, &admins, &created, &updated, &deleted, &purgeAt)
	if err != nil {
		return keyvault.Vault{}, err
	}
	v.Kind = keyvault.VaultKind(kind)
	var rows []accessPolicyRow
	if err := errors.Join(json.Unmarshal([]byte(tags), &v.Tags), json.Unmarshal([]byte(policies), &rows),
		json.Unmarshal([]byte(admins), &v.InitialAdmins)); err != nil {
		return keyvault.Vault{}, fmt.Errorf("sqlite: corrupt vault row %s: %w", v.ID, err)
	}
	for _, r := range rows {
		v.AccessPolicies = append(v.AccessPolicies, keyvault.AccessPolicy(r))
	}
	v.Created, v.Updated = timeFromNull(sql.NullInt64{Int64: created, Valid: true}), timeFromNull(sql.NullInt64{Int64: updated, Valid: true})
	v.Deleted, v.PurgeAt = timeFromNull(deleted), timeFromNull(purgeAt)
	return v, nil
}

// CreateVault inserts v; Conflict if its kind and name are taken.
func (db *DB) CreateVault(ctx context.Context, v keyvault.Vault) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM vaults WHERE kind = ? AND name_key = ?`,
			string(v.Kind), strings.ToLower(v.Name)).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return tresor.Errorf(tresor.Conflict, "vault name %s is taken", v.Name)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO vaults (`+vaultColumns+`, name_key)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			append(vaultArgs(v), strings.ToLower(v.Name))...)
		return err
	})
	return internal(err, "sqlite: create vault")
}

// UpdateVault replaces the vault with v.ID.
func (db *DB) UpdateVault(ctx context.Context, v keyvault.Vault) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		args := vaultArgs(v)
		res, err := tx.ExecContext(ctx, `UPDATE vaults SET kind = ?, name = ?, tenant_id = ?, subscription_id = ?,
			resource_group = ?, location = ?, sku = ?, soft_delete = ?, retention_days = ?, purge_protection = ?,
			rbac = ?, enabled_for_deployment = ?, enabled_for_disk_encryption = ?, enabled_for_template_deployment = ?,
			public_network_access = ?, tags = ?, access_policies = ?, initial_admins = ?, created = ?, updated = ?,
			deleted = ?, purge_at = ?, name_key = ? WHERE id = ?`, append(append(args[1:], strings.ToLower(v.Name)), v.ID)...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tresor.Errorf(tresor.NotFound, "vault %s not found", v.Name)
		}
		return nil
	})
	return internal(err, "sqlite: update vault")
}

// Vault returns a vault by kind and name, deleted or not.
func (db *DB) Vault(ctx context.Context, kind keyvault.VaultKind, name string) (keyvault.Vault, error) {
	var v keyvault.Vault
	err := db.view(ctx, func(tx *sql.Tx) error {
		var err error
		v, err = scanVault(tx.QueryRowContext(ctx, `SELECT `+vaultColumns+` FROM vaults WHERE kind = ? AND name_key = ?`,
			string(kind), strings.ToLower(name)))
		if errors.Is(err, sql.ErrNoRows) {
			return tresor.Errorf(tresor.NotFound, "vault %s not found", name)
		}
		return err
	})
	return v, internal(err, "sqlite: vault")
}

// Vaults lists the vaults matching f by name.
func (db *DB) Vaults(ctx context.Context, f keyvault.VaultFilter) ([]keyvault.Vault, error) {
	q := `SELECT ` + vaultColumns + ` FROM vaults WHERE (deleted IS NOT NULL) = ?`
	args := []any{f.Deleted}
	if f.Kind != "" {
		q += ` AND kind = ?`
		args = append(args, string(f.Kind))
	}
	if f.SubscriptionID != "" {
		q += ` AND subscription_id = ?`
		args = append(args, f.SubscriptionID)
	}
	if f.ResourceGroup != "" {
		q += ` AND lower(resource_group) = lower(?)`
		args = append(args, f.ResourceGroup)
	}
	var out []keyvault.Vault
	err := db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, q+` ORDER BY name_key`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			v, err := scanVault(rows)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		return rows.Err()
	})
	return out, internal(err, "sqlite: vaults")
}

// PurgeVault removes a vault with its keys (the schema cascades).
func (db *DB) PurgeVault(ctx context.Context, id string) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM vaults WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tresor.Errorf(tresor.NotFound, "vault not found")
		}
		return nil
	})
	return internal(err, "sqlite: purge vault")
}

const versionColumns = `kv.vault_id, kv.name, kv.version, kv.kty, kv.size, kv.crv, kv.pub_n, kv.pub_e, kv.pub_x, kv.pub_y,
	kv.ops, kv.enabled, kv.nbf, kv.exp, kv.created, kv.updated, kv.exportable, kv.release_policy, kv.tags, kv.handle, kv.seq`

func versionArgs(kv keyvault.KeyVersion) []any {
	ops := kv.Ops
	if ops == nil {
		ops = []keyvault.KeyOp{}
	}
	tags := kv.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	var rp any
	if kv.ReleasePolicy != nil {
		rp = jsonText(releasePolicyRow(*kv.ReleasePolicy))
	}
	return []any{kv.VaultID, kv.Name, kv.Version, string(kv.Type), kv.Size, string(kv.Curve),
		kv.Public.N, kv.Public.E, kv.Public.X, kv.Public.Y, jsonText(ops), b2i(kv.Enabled),
		unixOrNull(kv.NotBefore), unixOrNull(kv.Expires), kv.Created.Unix(), kv.Updated.Unix(),
		b2i(kv.Exportable), rp, jsonText(tags), []byte(kv.Handle)}
}

func scanVersion(row scanner) (keyvault.KeyVersion, int64, error) {
	var kv keyvault.KeyVersion
	var kty, crv, ops, tags string
	var nbf, exp sql.NullInt64
	var created, updated, seq int64
	var rp sql.NullString
	var handle []byte
	err := row.Scan(&kv.VaultID, &kv.Name, &kv.Version, &kty, &kv.Size, &crv, &kv.Public.N, &kv.Public.E,
		&kv.Public.X, &kv.Public.Y, &ops, &kv.Enabled, &nbf, &exp, &created, &updated, &kv.Exportable, &rp, &tags, &handle, &seq)
	if err != nil {
		return keyvault.KeyVersion{}, 0, err
	}
	kv.Type, kv.Curve, kv.Handle = keyvault.KeyType(kty), hsm.Curve(crv), hsm.Handle(handle)
	kv.Public.Type, kv.Public.Curve = kv.Type.Family(), kv.Curve
	if kv.Type.Family() != hsm.EC {
		kv.Public.Curve = ""
	}
	if err := errors.Join(json.Unmarshal([]byte(ops), &kv.Ops), json.Unmarshal([]byte(tags), &kv.Tags)); err != nil {
		return keyvault.KeyVersion{}, 0, fmt.Errorf("sqlite: corrupt key version %s: %w", kv.Version, err)
	}
	if rp.Valid {
		var r releasePolicyRow
		if err := json.Unmarshal([]byte(rp.String), &r); err != nil {
			return keyvault.KeyVersion{}, 0, fmt.Errorf("sqlite: corrupt release policy: %w", err)
		}
		p := keyvault.ReleasePolicy(r)
		kv.ReleasePolicy = &p
	}
	kv.NotBefore, kv.Expires = timeFromNull(nbf), timeFromNull(exp)
	kv.Created, kv.Updated = timeFromNull(sql.NullInt64{Int64: created, Valid: true}), timeFromNull(sql.NullInt64{Int64: updated, Valid: true})
	return kv, seq, nil
}

func insertVersion(ctx context.Context, tx *sql.Tx, kv keyvault.KeyVersion) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO key_versions (vault_id, name, version, kty, size, crv, pub_n, pub_e,
		pub_x, pub_y, ops, enabled, nbf, exp, created, updated, exportable, release_policy, tags, handle)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, versionArgs(kv)...)
	return err
}

// keyState reports whether a key row exists and whether it is deleted.
func keyState(ctx context.Context, tx *sql.Tx, vaultID, name string) (exists, deleted bool, err error) {
	var d sql.NullInt64
	err = tx.QueryRowContext(ctx, `SELECT deleted FROM keys WHERE vault_id = ? AND name = ?`, vaultID, name).Scan(&d)
	if errors.Is(err, sql.ErrNoRows) {
		return false, false, nil
	}
	return err == nil, d.Valid, err
}

// CreateKeyVersion inserts a version, creating the key on first use.
func (db *DB) CreateKeyVersion(ctx context.Context, kv keyvault.KeyVersion) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		exists, deleted, err := keyState(ctx, tx, kv.VaultID, kv.Name)
		if err != nil {
			return err
		}
		if deleted {
			return tresor.Errorf(tresor.Conflict, "key %s is deleted", kv.Name)
		}
		if !exists {
			if _, err := tx.ExecContext(ctx, `INSERT INTO keys (vault_id, name) VALUES (?, ?)`, kv.VaultID, kv.Name); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM key_versions WHERE vault_id = ? AND name = ? AND version = ?`,
			kv.VaultID, kv.Name, kv.Version).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return tresor.Errorf(tresor.Conflict, "version %s exists", kv.Version)
		}
		return insertVersion(ctx, tx, kv)
	})
	return internal(err, "sqlite: create key version")
}

// UpdateKeyVersion replaces a version of a live key.
func (db *DB) UpdateKeyVersion(ctx context.Context, kv keyvault.KeyVersion) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		exists, deleted, err := keyState(ctx, tx, kv.VaultID, kv.Name)
		if err != nil {
			return err
		}
		if !exists || deleted {
			return tresor.Errorf(tresor.NotFound, "key %s not found", kv.Name)
		}
		a := versionArgs(kv)
		res, err := tx.ExecContext(ctx, `UPDATE key_versions SET kty = ?, size = ?, crv = ?, pub_n = ?, pub_e = ?,
			pub_x = ?, pub_y = ?, ops = ?, enabled = ?, nbf = ?, exp = ?, created = ?, updated = ?, exportable = ?,
			release_policy = ?, tags = ?, handle = ? WHERE vault_id = ? AND name = ? AND version = ?`,
			append(a[3:], kv.VaultID, kv.Name, kv.Version)...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tresor.Errorf(tresor.NotFound, "key version %s not found", kv.Version)
		}
		return nil
	})
	return internal(err, "sqlite: update key version")
}

// KeyVersion returns a version of a live key; "" selects the newest.
func (db *DB) KeyVersion(ctx context.Context, vaultID, name, version string) (keyvault.KeyVersion, error) {
	q := `SELECT ` + versionColumns + ` FROM key_versions kv JOIN keys k ON k.vault_id = kv.vault_id AND k.name = kv.name
		WHERE kv.vault_id = ? AND kv.name = ? AND k.deleted IS NULL`
	args := []any{vaultID, name}
	if version == "" {
		q += ` ORDER BY kv.seq DESC LIMIT 1`
	} else {
		q += ` AND kv.version = ?`
		args = append(args, version)
	}
	var kv keyvault.KeyVersion
	err := db.view(ctx, func(tx *sql.Tx) error {
		var err error
		kv, _, err = scanVersion(tx.QueryRowContext(ctx, q, args...))
		if errors.Is(err, sql.ErrNoRows) {
			return tresor.Errorf(tresor.NotFound, "key %s not found", name)
		}
		return err
	})
	return kv, internal(err, "sqlite: key version")
}

func pageSize(p keyvault.Page) int {
	if p.Max <= 0 || p.Max > 25 {
		return 25
	}
	return p.Max
}

func encodeToken(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodeToken(t string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil {
		return "", tresor.Errorf(tresor.Invalid, "The $skiptoken is not valid.")
	}
	return string(b), nil
}

// Keys lists the newest version of each live key, by name.
func (db *DB) Keys(ctx context.Context, vaultID string, p keyvault.Page) ([]keyvault.KeyVersion, string, error) {
	after, err := decodeToken(p.After)
	if err != nil {
		return nil, "", err
	}
	n := pageSize(p)
	var out []keyvault.KeyVersion
	err = db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+versionColumns+` FROM keys k
			JOIN key_versions kv ON kv.seq = (SELECT MAX(seq) FROM key_versions WHERE vault_id = k.vault_id AND name = k.name)
			WHERE k.vault_id = ? AND k.deleted IS NULL AND k.name > ? ORDER BY k.name LIMIT ?`, vaultID, after, n+1)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			kv, _, err := scanVersion(rows)
			if err != nil {
				return err
			}
			out = append(out, kv)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, "", internal(err, "sqlite: keys")
	}
	if len(out) > n {
		return out[:n], encodeToken(out[n-1].Name), nil
	}
	return out, "", nil
}

// KeyVersions lists the versions of a live key, oldest first.
func (db *DB) KeyVersions(ctx context.Context, vaultID, name string, p keyvault.Page) ([]keyvault.KeyVersion, string, error) {
	afterS, err := decodeToken(p.After)
	if err != nil {
		return nil, "", err
	}
	var after int64
	if afterS != "" {
		if after, err = strconv.ParseInt(afterS, 10, 64); err != nil {
			return nil, "", tresor.Errorf(tresor.Invalid, "The $skiptoken is not valid.")
		}
	}
	n := pageSize(p)
	var out []keyvault.KeyVersion
	var seqs []int64
	err = db.view(ctx, func(tx *sql.Tx) error {
		exists, deleted, err := keyState(ctx, tx, vaultID, name)
		if err != nil {
			return err
		}
		if !exists || deleted {
			return tresor.Errorf(tresor.NotFound, "key %s not found", name)
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+versionColumns+` FROM key_versions kv
			WHERE kv.vault_id = ? AND kv.name = ? AND kv.seq > ? ORDER BY kv.seq LIMIT ?`, vaultID, name, after, n+1)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			kv, seq, err := scanVersion(rows)
			if err != nil {
				return err
			}
			out, seqs = append(out, kv), append(seqs, seq)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, "", internal(err, "sqlite: key versions")
	}
	if len(out) > n {
		return out[:n], encodeToken(strconv.FormatInt(seqs[n-1], 10)), nil
	}
	return out, "", nil
}

// DeleteKey marks a live key deleted.
func (db *DB) DeleteKey(ctx context.Context, vaultID, name string, d keyvault.Deletion) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE keys SET deleted = ?, purge_at = ? WHERE vault_id = ? AND name = ? AND deleted IS NULL`,
			d.Deleted.Unix(), d.PurgeAt.Unix(), vaultID, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tresor.Errorf(tresor.NotFound, "key %s not found", name)
		}
		return nil
	})
	return internal(err, "sqlite: delete key")
}

const deletedQuery = `SELECT ` + versionColumns + `, k.deleted, k.purge_at FROM keys k
	JOIN key_versions kv ON kv.seq = (SELECT MAX(seq) FROM key_versions WHERE vault_id = k.vault_id AND name = k.name)
	WHERE k.vault_id = ? AND k.deleted IS NOT NULL`

func scanDeleted(row scanner) (keyvault.DeletedKey, error) {
	var deleted, purgeAt sql.NullInt64
	kv, _, err := scanVersion(&extraScanner{row: row, extra: []any{&deleted, &purgeAt}})
	if err != nil {
		return keyvault.DeletedKey{}, err
	}
	return keyvault.DeletedKey{Latest: kv, Deletion: keyvault.Deletion{Deleted: timeFromNull(deleted), PurgeAt: timeFromNull(purgeAt)}}, nil
}

// extraScanner appends destinations for trailing columns to a Scan call.
type extraScanner struct {
	row   scanner
	extra []any
}

func (s *extraScanner) Scan(dest ...any) error { return s.row.Scan(append(dest, s.extra...)...) }

// DeletedKey returns a soft-deleted key.
func (db *DB) DeletedKey(ctx context.Context, vaultID, name string) (keyvault.DeletedKey, error) {
	var dk keyvault.DeletedKey
	err := db.view(ctx, func(tx *sql.Tx) error {
		var err error
		dk, err = scanDeleted(tx.QueryRowContext(ctx, deletedQuery+` AND k.name = ?`, vaultID, name))
		if errors.Is(err, sql.ErrNoRows) {
			return tresor.Errorf(tresor.NotFound, "deleted key %s not found", name)
		}
		return err
	})
	return dk, internal(err, "sqlite: deleted key")
}

// DeletedKeys lists soft-deleted keys by name.
func (db *DB) DeletedKeys(ctx context.Context, vaultID string, p keyvault.Page) ([]keyvault.DeletedKey, string, error) {
	after, err := decodeToken(p.After)
	if err != nil {
		return nil, "", err
	}
	n := pageSize(p)
	var out []keyvault.DeletedKey
	err = db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, deletedQuery+` AND k.name > ? ORDER BY k.name LIMIT ?`, vaultID, after, n+1)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			dk, err := scanDeleted(rows)
			if err != nil {
				return err
			}
			out = append(out, dk)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, "", internal(err, "sqlite: deleted keys")
	}
	if len(out) > n {
		return out[:n], encodeToken(out[n-1].Latest.Name), nil
	}
	return out, "", nil
}

// RecoverKey clears a key's deletion.
func (db *DB) RecoverKey(ctx context.Context, vaultID, name string) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE keys SET deleted = NULL, purge_at = NULL WHERE vault_id = ? AND name = ? AND deleted IS NOT NULL`, vaultID, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tresor.Errorf(tresor.NotFound, "deleted key %s not found", name)
		}
		return nil
	})
	return internal(err, "sqlite: recover key")
}

// PurgeKey removes a key and its versions.
func (db *DB) PurgeKey(ctx context.Context, vaultID, name string) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM keys WHERE vault_id = ? AND name = ?`, vaultID, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tresor.Errorf(tresor.NotFound, "key %s not found", name)
		}
		return nil
	})
	return internal(err, "sqlite: purge key")
}

// RestoreKey inserts all versions of one key in one transaction.
func (db *DB) RestoreKey(ctx context.Context, versions []keyvault.KeyVersion) error {
	if len(versions) == 0 {
		return tresor.Errorf(tresor.Invalid, "nothing to restore")
	}
	first := versions[0]
	seen := map[string]bool{}
	for _, v := range versions {
		if seen[v.Version] || v.VaultID != first.VaultID || v.Name != first.Name {
			return tresor.Errorf(tresor.Conflict, "restore: duplicate or foreign version %s", v.Version)
		}
		seen[v.Version] = true
	}
	err := db.update(ctx, func(tx *sql.Tx) error {
		exists, _, err := keyState(ctx, tx, first.VaultID, first.Name)
		if err != nil {
			return err
		}
		if exists {
			return tresor.Errorf(tresor.Conflict, "key %s exists", first.Name)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO keys (vault_id, name) VALUES (?, ?)`, first.VaultID, first.Name); err != nil {
			return err
		}
		for _, v := range versions {
			if err := insertVersion(ctx, tx, v); err != nil {
				return err
			}
		}
		return nil
	})
	return internal(err, "sqlite: restore key")
}
