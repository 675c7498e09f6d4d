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
	"github.com/tresorkms/tresor/eventgrid"
	"github.com/tresorkms/tresor/hsm"
	"github.com/tresorkms/tresor/internal/fault"
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
		panic("sqlite: marshal " + err.Error()) // only string maps, slices and plain structs reach here
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

// CreateVault inserts v. It returns Conflict if a vault of the same kind and
// name (in any case) exists, deleted or not, or one with the same ID.
func (db *DB) CreateVault(ctx context.Context, v keyvault.Vault) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		var idTaken, nameTaken bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM vaults WHERE id = ?),
			EXISTS (SELECT 1 FROM vaults WHERE kind = ? AND name_key = ?)`,
			v.ID, string(v.Kind), strings.ToLower(v.Name)).Scan(&idTaken, &nameTaken); err != nil {
			return err
		}
		if nameTaken {
			return tresor.Errorf(tresor.Conflict, "vault name %s is taken", v.Name)
		}
		if idTaken {
			return tresor.Errorf(tresor.Conflict, "vault id %s is taken", v.ID)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO vaults (`+vaultColumns+`, name_key)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			append(vaultArgs(v), strings.ToLower(v.Name))...)
		return err
	})
	return internal(err, "sqlite: create vault")
}

// UpdateVault replaces the vault with v.ID. It returns NotFound if there is
// none, and Conflict if v's kind and name belong to another vault.
func (db *DB) UpdateVault(ctx context.Context, v keyvault.Vault) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		var found, nameTaken bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM vaults WHERE id = ?),
			EXISTS (SELECT 1 FROM vaults WHERE kind = ? AND name_key = ? AND id <> ?)`,
			v.ID, string(v.Kind), strings.ToLower(v.Name), v.ID).Scan(&found, &nameTaken); err != nil {
			return err
		}
		if !found {
			return tresor.Errorf(tresor.NotFound, "vault %s not found", v.Name)
		}
		if nameTaken {
			return tresor.Errorf(tresor.Conflict, "vault name %s is taken", v.Name)
		}
		args := vaultArgs(v)
		_, err := tx.ExecContext(ctx, `UPDATE vaults SET kind = ?, name = ?, tenant_id = ?, subscription_id = ?,
			resource_group = ?, location = ?, sku = ?, soft_delete = ?, retention_days = ?, purge_protection = ?,
			rbac = ?, enabled_for_deployment = ?, enabled_for_disk_encryption = ?, enabled_for_template_deployment = ?,
			public_network_access = ?, tags = ?, access_policies = ?, initial_admins = ?, created = ?, updated = ?,
			deleted = ?, purge_at = ?, name_key = ? WHERE id = ?`, append(append(args[1:], strings.ToLower(v.Name)), v.ID)...)
		return err
	})
	return internal(err, "sqlite: update vault")
}

// vaultQuery selects a vault by kind and name, for every request.
const vaultQuery = `SELECT ` + vaultColumns + ` FROM vaults WHERE kind = ? AND name_key = ?`

// Vault returns the vault of that kind and name (in any case), deleted or
// not. NotFound if there is none.
func (db *DB) Vault(ctx context.Context, kind keyvault.VaultKind, name string) (keyvault.Vault, error) {
	v, err := scanVault(db.vaultStmt.QueryRowContext(noCancel(ctx), string(kind), strings.ToLower(name)))
	if errors.Is(err, sql.ErrNoRows) {
		return keyvault.Vault{}, tresor.Errorf(tresor.NotFound, "vault %s not found", name)
	}
	return v, internal(err, "sqlite: vault")
}

// Vaults lists the vaults matching f, ordered by name. Subscription and
// resource group compare case-insensitively.
func (db *DB) Vaults(ctx context.Context, f keyvault.VaultFilter) ([]keyvault.Vault, error) {
	q := `SELECT ` + vaultColumns + ` FROM vaults WHERE (deleted IS NOT NULL) = ?`
	args := []any{f.Deleted}
	if f.Kind != "" {
		q += ` AND kind = ?`
		args = append(args, string(f.Kind))
	}
	if f.SubscriptionID != "" {
		q += ` AND lower(subscription_id) = lower(?)`
		args = append(args, f.SubscriptionID)
	}
	if f.ResourceGroup != "" {
		q += ` AND lower(resource_group) = lower(?)`
		args = append(args, f.ResourceGroup)
	}
	var out []keyvault.Vault
	err := db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, q+` ORDER BY name_key, kind`, args...)
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

// PurgeVault removes a vault with its keys (the schema cascades). NotFound
// if there is no vault with that ID.
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

const versionColumns = `kv.vault_id, kv.name, kv.version, kv.kty, kv.size, kv.crv, kv.pub_kty, kv.pub_crv, kv.pub_n, kv.pub_e, kv.pub_x, kv.pub_y,
	kv.ops, kv.enabled, kv.nbf, kv.exp, kv.created, kv.updated, kv.exportable, kv.release_policy, kv.tags, kv.handle, kv.rotation_due, kv.expiry_event_due, kv.seq`

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
	handle := []byte(kv.Handle)
	if handle == nil {
		handle = []byte{} // the column is NOT NULL; nil and empty are the same Handle
	}
	return []any{kv.VaultID, kv.Name, kv.Version, string(kv.Type), kv.Size, string(kv.Curve),
		string(kv.Public.Type), string(kv.Public.Curve), kv.Public.N, kv.Public.E, kv.Public.X, kv.Public.Y,
		jsonText(ops), b2i(kv.Enabled), unixOrNull(kv.NotBefore), unixOrNull(kv.Expires), kv.Created.Unix(),
		kv.Updated.Unix(), b2i(kv.Exportable), rp, jsonText(tags), handle, unixOrNull(kv.RotationDue), unixOrNull(kv.ExpiryEventDue)}
}

func scanVersion(row scanner) (keyvault.KeyVersion, int64, error) {
	var kv keyvault.KeyVersion
	var kty, crv, pubKty, pubCrv, ops, tags string
	var nbf, exp, due, eventDue sql.NullInt64
	var created, updated, seq int64
	var rp sql.NullString
	var handle []byte
	err := row.Scan(&kv.VaultID, &kv.Name, &kv.Version, &kty, &kv.Size, &crv, &pubKty, &pubCrv, &kv.Public.N, &kv.Public.E,
		&kv.Public.X, &kv.Public.Y, &ops, &kv.Enabled, &nbf, &exp, &created, &updated, &kv.Exportable, &rp, &tags, &handle, &due, &eventDue, &seq)
	if err != nil {
		return keyvault.KeyVersion{}, 0, err
	}
	kv.Type, kv.Curve, kv.Handle = keyvault.KeyType(kty), hsm.Curve(crv), hsm.Handle(handle)
	kv.Public.Type, kv.Public.Curve = hsm.KeyType(pubKty), hsm.Curve(pubCrv)
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
	kv.NotBefore, kv.Expires, kv.RotationDue, kv.ExpiryEventDue = timeFromNull(nbf), timeFromNull(exp), timeFromNull(due), timeFromNull(eventDue)
	kv.Created, kv.Updated = timeFromNull(sql.NullInt64{Int64: created, Valid: true}), timeFromNull(sql.NullInt64{Int64: updated, Valid: true})
	return kv, seq, nil
}

func insertVersion(ctx context.Context, tx *sql.Tx, kv keyvault.KeyVersion) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO key_versions (vault_id, name, version, kty, size, crv, pub_kty, pub_crv,
		pub_n, pub_e, pub_x, pub_y, ops, enabled, nbf, exp, created, updated, exportable, release_policy, tags, handle, rotation_due,
		expiry_event_due) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, versionArgs(kv)...)
	return err
}

// checkVault returns NotFound unless the vault with that ID exists.
func checkVault(ctx context.Context, tx *sql.Tx, id string) error {
	var ok bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM vaults WHERE id = ?)`, id).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return tresor.Errorf(tresor.NotFound, "vault %s not found", id)
	}
	return nil
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

// CreateKeyVersion inserts a version, creating the key on first use, and
// raises evs. It returns NotFound if the vault does not exist, and Conflict
// if the key is deleted or the version exists.
func (db *DB) CreateKeyVersion(ctx context.Context, kv keyvault.KeyVersion, evs ...eventgrid.Event) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		if err := checkVault(ctx, tx, kv.VaultID); err != nil {
			return err
		}
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
		// Only the newest version carries the key's schedules.
		if _, err := tx.ExecContext(ctx, `UPDATE key_versions SET rotation_due = NULL, expiry_event_due = NULL
			WHERE vault_id = ? AND name = ? AND (rotation_due IS NOT NULL OR expiry_event_due IS NOT NULL)`, kv.VaultID, kv.Name); err != nil {
			return err
		}
		if err := insertVersion(ctx, tx, kv); err != nil {
			return err
		}
		if err := raise(ctx, tx, evs); err != nil {
			return err
		}
		// Crash tests kill the server here, with the version, its events
		// and the schedule written but not committed (e2e/crash_test.go).
		fault.Point("sqlite.CreateKeyVersion.written")
		return nil
	})
	return internal(err, "sqlite: create key version")
}

// UpdateKeyVersion replaces the stored version (vault, name, version) of a
// key that is not deleted, keeping its place in the order of versions.
// NotFound if the key is absent or deleted, or has no such version. It
// raises evs with the change.
func (db *DB) UpdateKeyVersion(ctx context.Context, kv keyvault.KeyVersion, evs ...eventgrid.Event) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		exists, deleted, err := keyState(ctx, tx, kv.VaultID, kv.Name)
		if err != nil {
			return err
		}
		if !exists || deleted {
			return tresor.Errorf(tresor.NotFound, "key %s not found", kv.Name)
		}
		a := versionArgs(kv)
		res, err := tx.ExecContext(ctx, `UPDATE key_versions SET kty = ?, size = ?, crv = ?, pub_kty = ?, pub_crv = ?,
			pub_n = ?, pub_e = ?, pub_x = ?, pub_y = ?, ops = ?, enabled = ?, nbf = ?, exp = ?, created = ?,
			updated = ?, exportable = ?, release_policy = ?, tags = ?, handle = ?, rotation_due = ?, expiry_event_due = ?
			WHERE vault_id = ? AND name = ? AND version = ?`,
			append(a[3:], kv.VaultID, kv.Name, kv.Version)...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tresor.Errorf(tresor.NotFound, "key version %s not found", kv.Version)
		}
		return raise(ctx, tx, evs)
	})
	return internal(err, "sqlite: update key version")
}

// versionQuery selects a version of a live key and newestQuery its newest
// version. They serve every data-plane operation, so each is one indexed
// lookup, prepared once (see prepare).
const (
	liveVersions = `SELECT ` + versionColumns + ` FROM key_versions kv JOIN keys k ON k.vault_id = kv.vault_id AND k.name = kv.name
		WHERE kv.vault_id = ? AND kv.name = ? AND k.deleted IS NULL`
	versionQuery = liveVersions + ` AND kv.version = ?`
	newestQuery  = liveVersions + ` ORDER BY kv.seq DESC LIMIT 1`
)

// KeyVersion returns a version of a key that is not deleted; an empty
// version selects the newest. NotFound if the key or version is absent or
// the key is deleted.
func (db *DB) KeyVersion(ctx context.Context, vaultID, name, version string) (keyvault.KeyVersion, error) {
	var row *sql.Row
	if version == "" {
		row = db.latestStmt.QueryRowContext(noCancel(ctx), vaultID, name)
	} else {
		row = db.versionStmt.QueryRowContext(noCancel(ctx), vaultID, name, version)
	}
	kv, _, err := scanVersion(row)
	if errors.Is(err, sql.ErrNoRows) {
		return keyvault.KeyVersion{}, tresor.Errorf(tresor.NotFound, "key %s not found", name)
	}
	return kv, internal(err, "sqlite: key version")
}

// prepare prepares the statements behind every data-plane request (Vault
// and KeyVersion) once, on the reader pool. Each is a single SELECT, which
// is its own consistent snapshot, so they run outside a transaction.
func (db *DB) prepare(ctx context.Context) error {
	for _, s := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&db.vaultStmt, vaultQuery},
		{&db.latestStmt, newestQuery},
		{&db.versionStmt, versionQuery},
	} {
		var err error
		if *s.stmt, err = db.read.PrepareContext(ctx, s.query); err != nil {
			return fmt.Errorf("sqlite: prepare: %w", err)
		}
	}
	var err error
	if db.auditLastStmt, err = db.write.PrepareContext(ctx, auditLastQuery); err != nil {
		return fmt.Errorf("sqlite: prepare: %w", err)
	}
	if db.auditInsertStmt, err = db.write.PrepareContext(ctx, auditInsertQuery); err != nil {
		return fmt.Errorf("sqlite: prepare: %w", err)
	}
	return nil
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

// keysQuery selects a page of the newest versions of live keys, by name,
// joining each key to its newest version in one indexed lookup.
const keysQuery = `SELECT ` + versionColumns + ` FROM keys k
	JOIN key_versions kv ON kv.seq = (SELECT MAX(seq) FROM key_versions WHERE vault_id = k.vault_id AND name = k.name)
	WHERE k.vault_id = ? AND k.deleted IS NULL AND k.name > ? ORDER BY k.name LIMIT ?`

// Keys lists the newest version of each key that is not deleted, ordered
// by name, and returns the continuation for the next page ("" at the end).
// A continuation encodes the last name listed; Invalid if it is malformed.
func (db *DB) Keys(ctx context.Context, vaultID string, p keyvault.Page) ([]keyvault.KeyVersion, string, error) {
	after, err := decodeToken(p.After)
	if err != nil {
		return nil, "", err
	}
	n := pageSize(p)
	var out []keyvault.KeyVersion
	err = db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, keysQuery, vaultID, after, n+1)
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

// versionsQuery selects a page of a key's versions in creation order.
const versionsQuery = `SELECT ` + versionColumns + ` FROM key_versions kv
	WHERE kv.vault_id = ? AND kv.name = ? AND kv.seq > ? ORDER BY kv.seq LIMIT ?`

// KeyVersions lists the versions of a key that is not deleted, oldest
// first, and returns the continuation for the next page ("" at the end). A
// continuation encodes the last seq listed. NotFound if the key is absent or
// deleted; Invalid if the continuation is malformed.
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
		rows, err := tx.QueryContext(ctx, versionsQuery, vaultID, name, after, n+1)
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

// DeleteKey marks a key and so all its versions deleted. NotFound if the
// key is absent or already deleted.
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

// deletedPage narrows deletedQuery to a page.
const deletedPage = ` AND k.name > ? ORDER BY k.name LIMIT ?`

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

// DeletedKey returns a deleted key with its newest version. NotFound if
// the key is absent or not deleted.
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

// DeletedKeys lists deleted keys, ordered by name, and returns the
// continuation for the next page ("" at the end). Invalid if the
// continuation is malformed.
func (db *DB) DeletedKeys(ctx context.Context, vaultID string, p keyvault.Page) ([]keyvault.DeletedKey, string, error) {
	after, err := decodeToken(p.After)
	if err != nil {
		return nil, "", err
	}
	n := pageSize(p)
	var out []keyvault.DeletedKey
	err = db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, deletedQuery+deletedPage, vaultID, after, n+1)
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

// RecoverKey clears the deletion of a deleted key. NotFound if the key is
// absent or not deleted.
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

// PurgeKey removes a key and all its versions, deleted or not. NotFound if
// the key is absent.
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

// RestoreKey inserts all versions of one key in one transaction, oldest
// first. It returns Invalid if versions is empty or holds more than one
// key, NotFound if the vault does not exist, and Conflict if the key exists,
// deleted or not, or a version appears twice. It raises evs with the key.
func (db *DB) RestoreKey(ctx context.Context, versions []keyvault.KeyVersion, evs ...eventgrid.Event) error {
	if len(versions) == 0 {
		return tresor.Errorf(tresor.Invalid, "nothing to restore")
	}
	first := versions[0]
	seen := map[string]bool{}
	for _, v := range versions {
		if v.VaultID != first.VaultID || v.Name != first.Name {
			return tresor.Errorf(tresor.Invalid, "restore: versions of keys %s and %s", first.Name, v.Name)
		}
		if seen[v.Version] {
			return tresor.Errorf(tresor.Conflict, "restore: version %s appears twice", v.Version)
		}
		seen[v.Version] = true
	}
	err := db.update(ctx, func(tx *sql.Tx) error {
		if err := checkVault(ctx, tx, first.VaultID); err != nil {
			return err
		}
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
		return raise(ctx, tx, evs)
	})
	return internal(err, "sqlite: restore key")
}

// noCancel detaches the hot-path lookups from the request's cancellation.
// The driver answers a cancelled context by interrupting the connection,
// and a request's context is cancelled when its handler returns, which can
// race with the next query on that pooled connection and fail it with
// "context deadline exceeded" (seen under 32 concurrent unwraps). These
// lookups are indexed and take microseconds, so they need no cancellation.
func noCancel(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }
