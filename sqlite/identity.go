package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/identity"
)

var _ identity.Store = (*DB)(nil)

// CreateTenant implements identity.Store.
func (db *DB) CreateTenant(ctx context.Context, t identity.Tenant) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		taken, err := identityRowExists(ctx, tx, `SELECT 1 FROM identity_tenants WHERE id = ?`, t.ID)
		if err != nil {
			return err
		}
		if taken {
			return tresor.Errorf(tresor.Conflict, "tenant %s exists", t.ID)
		}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO identity_tenants (id, display_name, created) VALUES (?, ?, ?)`,
			t.ID, t.DisplayName, t.Created.Unix())
		return err
	})
	return internal(err, "sqlite: create tenant")
}

// Tenant implements identity.Store.
func (db *DB) Tenant(ctx context.Context, id string) (identity.Tenant, error) {
	var t identity.Tenant
	err := db.view(ctx, func(tx *sql.Tx) error {
		var created int64
		err := tx.QueryRowContext(ctx,
			`SELECT id, display_name, created FROM identity_tenants WHERE id = ?`, id).
			Scan(&t.ID, &t.DisplayName, &created)
		if errors.Is(err, sql.ErrNoRows) {
			return tresor.Errorf(tresor.NotFound, "tenant %s not found", id)
		}
		t.Created = identityTime(created)
		return err
	})
	return t, internal(err, "sqlite: tenant")
}

// Tenants implements identity.Store.
func (db *DB) Tenants(ctx context.Context) ([]identity.Tenant, error) {
	var out []identity.Tenant
	err := db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx,
			`SELECT id, display_name, created FROM identity_tenants ORDER BY created, id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var t identity.Tenant
			var created int64
			if err := rows.Scan(&t.ID, &t.DisplayName, &created); err != nil {
				return err
			}
			t.Created = identityTime(created)
			out = append(out, t)
		}
		return rows.Err()
	})
	return out, internal(err, "sqlite: tenants")
}

// CreateServicePrincipal implements identity.Store.
func (db *DB) CreateServicePrincipal(ctx context.Context, sp identity.ServicePrincipal) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		tenant, err := identityRowExists(ctx, tx, `SELECT 1 FROM identity_tenants WHERE id = ?`, sp.TenantID)
		if err != nil {
			return err
		}
		if !tenant {
			return tresor.Errorf(tresor.NotFound, "tenant %s not found", sp.TenantID)
		}
		return insertServicePrincipal(ctx, tx, sp)
	})
	return internal(err, "sqlite: create service principal")
}

// insertServicePrincipal inserts sp in tx after checking that its ids are
// free; the tenant must have been checked.
func insertServicePrincipal(ctx context.Context, tx *sql.Tx, sp identity.ServicePrincipal) error {
	taken, err := identityRowExists(ctx, tx,
		`SELECT 1 FROM identity_service_principals WHERE object_id = ? OR app_id = ?`, sp.ObjectID, sp.AppID)
	if err != nil {
		return err
	}
	if taken {
		return tresor.Errorf(tresor.Conflict, "service principal %s (app %s) exists", sp.ObjectID, sp.AppID)
	}
	if sp.ResourceID != "" {
		taken, err := identityRowExists(ctx, tx, `SELECT 1 FROM identity_service_principals WHERE resource_id = ?`, sp.ResourceID)
		if err != nil {
			return err
		}
		if taken {
			return tresor.Errorf(tresor.Conflict, "a managed identity of resource %s exists", sp.ResourceID)
		}
	}
	secretHash, secretSalt := sp.SecretHash, sp.SecretSalt
	if secretHash == nil {
		secretHash, secretSalt = []byte{}, []byte{} // NOT NULL columns
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO identity_service_principals
		(object_id, app_id, tenant_id, display_name, type, secret_hash, secret_salt, resource_id, created)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sp.ObjectID, sp.AppID, sp.TenantID, sp.DisplayName, string(sp.Type), secretHash, secretSalt, sp.ResourceID, sp.Created.Unix())
	return err
}

// DeleteServicePrincipal implements identity.Store.
func (db *DB) DeleteServicePrincipal(ctx context.Context, objectID string) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		uai, err := identityRowExists(ctx, tx, `SELECT 1 FROM msi_user_assigned_identities WHERE object_id = ?`, objectID)
		if err != nil {
			return err
		}
		if uai {
			return tresor.Errorf(tresor.Conflict, "service principal %s belongs to a user-assigned identity; delete that resource", objectID)
		}
		return deleteServicePrincipal(ctx, tx, objectID)
	})
	return internal(err, "sqlite: delete service principal")
}

func deleteServicePrincipal(ctx context.Context, tx *sql.Tx, objectID string) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM identity_service_principals WHERE object_id = ?`, objectID)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		return tresor.Errorf(tresor.NotFound, "service principal %s not found", objectID)
	}
	return err
}

// UpdateServicePrincipal implements identity.Store.
func (db *DB) UpdateServicePrincipal(ctx context.Context, sp identity.ServicePrincipal) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE identity_service_principals
			SET display_name = ?, secret_hash = ?, secret_salt = ? WHERE object_id = ?`,
			sp.DisplayName, sp.SecretHash, sp.SecretSalt, sp.ObjectID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err == nil && n == 0 {
			return tresor.Errorf(tresor.NotFound, "service principal %s not found", sp.ObjectID)
		}
		return err
	})
	return internal(err, "sqlite: update service principal")
}

const spColumns = `object_id, app_id, tenant_id, display_name, type, secret_hash, secret_salt, resource_id, created`

// ServicePrincipal implements identity.Store.
func (db *DB) ServicePrincipal(ctx context.Context, objectID string) (identity.ServicePrincipal, error) {
	return db.servicePrincipal(ctx, `WHERE object_id = ?`, objectID)
}

// ServicePrincipalByAppID implements identity.Store.
func (db *DB) ServicePrincipalByAppID(ctx context.Context, appID string) (identity.ServicePrincipal, error) {
	return db.servicePrincipal(ctx, `WHERE app_id = ?`, appID)
}

// ServicePrincipalByResourceID implements identity.Store.
func (db *DB) ServicePrincipalByResourceID(ctx context.Context, resourceID string) (identity.ServicePrincipal, error) {
	if resourceID == "" {
		return identity.ServicePrincipal{}, tresor.Errorf(tresor.NotFound, "no managed identity has an empty resource id")
	}
	return db.servicePrincipal(ctx, `WHERE resource_id = ?`, resourceID)
}

func (db *DB) servicePrincipal(ctx context.Context, where, id string) (identity.ServicePrincipal, error) {
	var sp identity.ServicePrincipal
	err := db.view(ctx, func(tx *sql.Tx) error {
		var err error
		sp, err = scanServicePrincipal(tx.QueryRowContext(ctx, `SELECT `+spColumns+` FROM identity_service_principals `+where, id))
		if errors.Is(err, sql.ErrNoRows) {
			return tresor.Errorf(tresor.NotFound, "service principal %s not found", id)
		}
		return err
	})
	return sp, internal(err, "sqlite: service principal")
}

// ServicePrincipals implements identity.Store.
func (db *DB) ServicePrincipals(ctx context.Context, tenantID string) ([]identity.ServicePrincipal, error) {
	var out []identity.ServicePrincipal
	err := db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+spColumns+` FROM identity_service_principals
			WHERE tenant_id = ? ORDER BY created, object_id`, tenantID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			sp, err := scanServicePrincipal(rows)
			if err != nil {
				return err
			}
			out = append(out, sp)
		}
		return rows.Err()
	})
	return out, internal(err, "sqlite: service principals")
}

func scanServicePrincipal(row interface{ Scan(...any) error }) (identity.ServicePrincipal, error) {
	var sp identity.ServicePrincipal
	var typ string
	var created int64
	err := row.Scan(&sp.ObjectID, &sp.AppID, &sp.TenantID, &sp.DisplayName, &typ, &sp.SecretHash, &sp.SecretSalt, &sp.ResourceID, &created)
	sp.Type, sp.Created = tresor.PrincipalType(typ), identityTime(created)
	if len(sp.SecretHash) == 0 {
		sp.SecretHash, sp.SecretSalt = nil, nil
	}
	return sp, err
}

// PutSigningKey implements identity.Store.
func (db *DB) PutSigningKey(ctx context.Context, k identity.SigningKey) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		taken, err := identityRowExists(ctx, tx, `SELECT 1 FROM identity_signing_keys WHERE kid = ?`, k.ID)
		if err != nil {
			return err
		}
		if taken {
			return tresor.Errorf(tresor.Conflict, "signing key %s exists", k.ID)
		}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO identity_signing_keys (kid, sealed, created) VALUES (?, ?, ?)`,
			k.ID, k.Sealed, k.Created.Unix())
		return err
	})
	return internal(err, "sqlite: put signing key")
}

// SigningKeys implements identity.Store.
func (db *DB) SigningKeys(ctx context.Context) ([]identity.SigningKey, error) {
	var out []identity.SigningKey
	err := db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT kid, sealed, created FROM identity_signing_keys ORDER BY created, kid`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k identity.SigningKey
			var created int64
			if err := rows.Scan(&k.ID, &k.Sealed, &created); err != nil {
				return err
			}
			k.Created = identityTime(created)
			out = append(out, k)
		}
		return rows.Err()
	})
	return out, internal(err, "sqlite: signing keys")
}

// identityRowExists reports whether query returns a row.
func identityRowExists(ctx context.Context, tx *sql.Tx, query string, args ...any) (bool, error) {
	var one int
	err := tx.QueryRowContext(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// identityTime converts a stored Unix time.
func identityTime(sec int64) time.Time { return time.Unix(sec, 0).UTC() }
