package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
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
// free and that it has its application (or, for a managed identity, that
// none has its client id); the tenant must have been checked.
func insertServicePrincipal(ctx context.Context, tx *sql.Tx, sp identity.ServicePrincipal) error {
	taken, err := objectIDTaken(ctx, tx, sp.ObjectID)
	if err != nil {
		return err
	}
	if taken {
		return tresor.Errorf(tresor.Conflict, "object %s exists", sp.ObjectID)
	}
	// An application's service principals are one per tenant; a managed
	// identity's client id is unique everywhere.
	q, args := `SELECT 1 FROM identity_service_principals WHERE app_id = ? AND tenant_id = ?`, []any{sp.AppID, sp.TenantID}
	if sp.Type != tresor.ServicePrincipal {
		q, args = `SELECT 1 FROM identity_service_principals WHERE app_id = ?`, []any{sp.AppID}
	}
	taken, err = identityRowExists(ctx, tx, q, args...)
	if err != nil {
		return err
	}
	if taken {
		return tresor.Errorf(tresor.Conflict, "a service principal of app %s exists", sp.AppID)
	}
	hasApp, err := identityRowExists(ctx, tx, `SELECT 1 FROM identity_applications WHERE app_id = ?`, sp.AppID)
	if err != nil {
		return err
	}
	switch {
	case sp.Type == tresor.ServicePrincipal && !hasApp:
		return tresor.Errorf(tresor.NotFound, "application %s not found", sp.AppID)
	case sp.Type != tresor.ServicePrincipal && hasApp:
		return tresor.Errorf(tresor.Conflict, "application %s exists", sp.AppID)
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
	_, err = tx.ExecContext(ctx, `INSERT INTO identity_service_principals
		(object_id, app_id, tenant_id, display_name, type, resource_id, created)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		sp.ObjectID, sp.AppID, sp.TenantID, sp.DisplayName, string(sp.Type), sp.ResourceID, sp.Created.Unix())
	return err
}

// objectIDTaken reports whether an application or a service principal has
// object id id: directory objects share one namespace.
func objectIDTaken(ctx context.Context, tx *sql.Tx, id string) (bool, error) {
	return identityRowExists(ctx, tx, `SELECT 1 FROM identity_service_principals WHERE object_id = ?
		UNION ALL SELECT 1 FROM identity_applications WHERE object_id = ?`, id, id)
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

const spColumns = `object_id, app_id, tenant_id, display_name, type, resource_id, created`

// ServicePrincipal implements identity.Store.
func (db *DB) ServicePrincipal(ctx context.Context, objectID string) (identity.ServicePrincipal, error) {
	return db.servicePrincipal(ctx, `WHERE object_id = ?`, objectID)
}

// ServicePrincipalByAppID implements identity.Store.
func (db *DB) ServicePrincipalByAppID(ctx context.Context, tenantID, appID string) (identity.ServicePrincipal, error) {
	if tenantID == "" {
		return db.servicePrincipal(ctx, `WHERE app_id = ? AND type = 'ManagedIdentity'`, appID)
	}
	return db.servicePrincipal(ctx, `WHERE app_id = ? AND tenant_id = ?`, appID, tenantID)
}

// ServicePrincipalByResourceID implements identity.Store.
func (db *DB) ServicePrincipalByResourceID(ctx context.Context, resourceID string) (identity.ServicePrincipal, error) {
	if resourceID == "" {
		return identity.ServicePrincipal{}, tresor.Errorf(tresor.NotFound, "no managed identity has an empty resource id")
	}
	return db.servicePrincipal(ctx, `WHERE resource_id = ?`, resourceID)
}

func (db *DB) servicePrincipal(ctx context.Context, where string, args ...any) (identity.ServicePrincipal, error) {
	var sp identity.ServicePrincipal
	err := db.view(ctx, func(tx *sql.Tx) error {
		var err error
		sp, err = scanServicePrincipal(tx.QueryRowContext(ctx, `SELECT `+spColumns+` FROM identity_service_principals `+where, args...))
		if errors.Is(err, sql.ErrNoRows) {
			return tresor.Errorf(tresor.NotFound, "service principal %v not found", args)
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
	err := row.Scan(&sp.ObjectID, &sp.AppID, &sp.TenantID, &sp.DisplayName, &typ, &sp.ResourceID, &created)
	sp.Type, sp.Created = tresor.PrincipalType(typ), identityTime(created)
	return sp, err
}

// CreateApplication implements identity.Store.
func (db *DB) CreateApplication(ctx context.Context, a identity.Application) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		tenant, err := identityRowExists(ctx, tx, `SELECT 1 FROM identity_tenants WHERE id = ?`, a.TenantID)
		if err != nil {
			return err
		}
		if !tenant {
			return tresor.Errorf(tresor.NotFound, "tenant %s not found", a.TenantID)
		}
		taken, err := objectIDTaken(ctx, tx, a.ObjectID)
		if err != nil {
			return err
		}
		if taken {
			return tresor.Errorf(tresor.Conflict, "object %s exists", a.ObjectID)
		}
		taken, err = identityRowExists(ctx, tx, `SELECT 1 FROM identity_applications WHERE app_id = ?
			UNION ALL SELECT 1 FROM identity_service_principals WHERE app_id = ?`, a.AppID, a.AppID)
		if err != nil {
			return err
		}
		if taken {
			return tresor.Errorf(tresor.Conflict, "app id %s is taken", a.AppID)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO identity_applications
			(object_id, app_id, tenant_id, display_name, sign_in_audience, created) VALUES (?, ?, ?, ?, ?, ?)`,
			a.ObjectID, a.AppID, a.TenantID, a.DisplayName, a.SignInAudience, a.Created.Unix()); err != nil {
			return err
		}
		for _, c := range a.Passwords {
			if err := insertPassword(ctx, tx, a.ObjectID, c); err != nil {
				return err
			}
		}
		for _, c := range a.FederatedCredentials {
			if err := insertFederated(ctx, tx, a.ObjectID, c); err != nil {
				return err
			}
		}
		return nil
	})
	return internal(err, "sqlite: create application")
}

// UpdateApplication implements identity.Store.
func (db *DB) UpdateApplication(ctx context.Context, a identity.Application) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE identity_applications SET display_name = ?, sign_in_audience = ?
			WHERE object_id = ?`, a.DisplayName, a.SignInAudience, a.ObjectID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err == nil && n == 0 {
			return tresor.Errorf(tresor.NotFound, "application %s not found", a.ObjectID)
		}
		return err
	})
	return internal(err, "sqlite: update application")
}

// insertFederated inserts c for the application objectID, which must
// exist.
func insertFederated(ctx context.Context, tx *sql.Tx, objectID string, c identity.FederatedCredential) error {
	taken, err := identityRowExists(ctx, tx, `SELECT 1 FROM identity_federated_credentials WHERE id = ?
		UNION ALL SELECT 1 FROM identity_federated_credentials WHERE app_object_id = ? AND (name = ? OR issuer = ? AND subject = ?)`,
		c.ID, objectID, c.Name, c.Issuer, c.Subject)
	if err != nil {
		return err
	}
	if taken {
		return tresor.Errorf(tresor.Conflict, "federated credential %s (%s) conflicts with one of application %s", c.ID, c.Name, objectID)
	}
	audiences, err := json.Marshal(c.Audiences)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO identity_federated_credentials
		(id, app_object_id, name, issuer, subject, audiences, description) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		c.ID, objectID, c.Name, c.Issuer, c.Subject, string(audiences), c.Description)
	return err
}

// applicationExists is nil if the application objectID exists, NotFound
// if it does not.
func applicationExists(ctx context.Context, tx *sql.Tx, objectID string) error {
	app, err := identityRowExists(ctx, tx, `SELECT 1 FROM identity_applications WHERE object_id = ?`, objectID)
	if err == nil && !app {
		err = tresor.Errorf(tresor.NotFound, "application %s not found", objectID)
	}
	return err
}

// AddFederatedCredential implements identity.Store.
func (db *DB) AddFederatedCredential(ctx context.Context, objectID string, c identity.FederatedCredential) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		if err := applicationExists(ctx, tx, objectID); err != nil {
			return err
		}
		return insertFederated(ctx, tx, objectID, c)
	})
	return internal(err, "sqlite: add federated credential")
}

// RemoveFederatedCredential implements identity.Store.
func (db *DB) RemoveFederatedCredential(ctx context.Context, objectID, id string) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM identity_federated_credentials
			WHERE app_object_id = ? AND id = ?`, objectID, id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err == nil && n == 0 {
			return tresor.Errorf(tresor.NotFound, "application %s has no federated credential %s", objectID, id)
		}
		return err
	})
	return internal(err, "sqlite: remove federated credential")
}

const federatedColumns = `f.id, f.name, f.issuer, f.subject, f.audiences, f.description`

// federatedOrder sorts federated credentials bytewise by name, whatever
// the column's collation.
const federatedOrder = ` ORDER BY f.name COLLATE BINARY, f.id`

// scanFederated scans lead, then federatedColumns.
func scanFederated(row interface{ Scan(...any) error }, lead ...any) (identity.FederatedCredential, error) {
	var c identity.FederatedCredential
	var audiences string
	if err := row.Scan(append(lead, &c.ID, &c.Name, &c.Issuer, &c.Subject, &audiences, &c.Description)...); err != nil {
		return c, err
	}
	return c, json.Unmarshal([]byte(audiences), &c.Audiences)
}

// insertPassword inserts c for the application objectID, which must exist.
func insertPassword(ctx context.Context, tx *sql.Tx, objectID string, c identity.PasswordCredential) error {
	taken, err := identityRowExists(ctx, tx, `SELECT 1 FROM identity_password_credentials WHERE key_id = ?`, c.KeyID)
	if err != nil {
		return err
	}
	if taken {
		return tresor.Errorf(tresor.Conflict, "password %s exists", c.KeyID)
	}
	hash, salt := c.Hash, c.Salt
	if hash == nil {
		hash = []byte{} // NOT NULL columns
	}
	if salt == nil {
		salt = []byte{}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO identity_password_credentials
		(key_id, app_object_id, display_name, hint, secret_hash, secret_salt, start_time, end_time)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		c.KeyID, objectID, c.DisplayName, c.Hint, hash, salt, c.Start.Unix(), c.End.Unix())
	return err
}

const appColumns = `object_id, app_id, tenant_id, display_name, sign_in_audience, created`

// Application implements identity.Store.
func (db *DB) Application(ctx context.Context, objectID string) (identity.Application, error) {
	return db.application(ctx, `WHERE object_id = ?`, objectID)
}

// ApplicationByAppID implements identity.Store.
func (db *DB) ApplicationByAppID(ctx context.Context, appID string) (identity.Application, error) {
	return db.application(ctx, `WHERE app_id = ?`, appID)
}

func (db *DB) application(ctx context.Context, where, id string) (identity.Application, error) {
	var a identity.Application
	err := db.view(ctx, func(tx *sql.Tx) error {
		var err error
		a, err = scanApplication(tx.QueryRowContext(ctx, `SELECT `+appColumns+` FROM identity_applications `+where, id))
		if errors.Is(err, sql.ErrNoRows) {
			return tresor.Errorf(tresor.NotFound, "application %s not found", id)
		}
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+passwordColumns+` FROM identity_password_credentials p
			WHERE p.app_object_id = ? ORDER BY p.start_time, p.key_id`, a.ObjectID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanPassword(rows)
			if err != nil {
				return err
			}
			a.Passwords = append(a.Passwords, c)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		frows, err := tx.QueryContext(ctx, `SELECT `+federatedColumns+` FROM identity_federated_credentials f
			WHERE f.app_object_id = ?`+federatedOrder, a.ObjectID)
		if err != nil {
			return err
		}
		defer frows.Close()
		for frows.Next() {
			c, err := scanFederated(frows)
			if err != nil {
				return err
			}
			a.FederatedCredentials = append(a.FederatedCredentials, c)
		}
		return frows.Err()
	})
	return a, internal(err, "sqlite: application")
}

// Applications implements identity.Store.
func (db *DB) Applications(ctx context.Context, tenantID string) ([]identity.Application, error) {
	var out []identity.Application
	err := db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+appColumns+` FROM identity_applications
			WHERE tenant_id = ? ORDER BY created, object_id`, tenantID)
		if err != nil {
			return err
		}
		defer rows.Close()
		index := map[string]int{}
		for rows.Next() {
			a, err := scanApplication(rows)
			if err != nil {
				return err
			}
			index[a.ObjectID] = len(out)
			out = append(out, a)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		prows, err := tx.QueryContext(ctx, `SELECT p.app_object_id, `+passwordColumns+`
			FROM identity_password_credentials p JOIN identity_applications a ON a.object_id = p.app_object_id
			WHERE a.tenant_id = ? ORDER BY p.start_time, p.key_id`, tenantID)
		if err != nil {
			return err
		}
		defer prows.Close()
		for prows.Next() {
			var app string
			c, err := scanPassword(prows, &app)
			if err != nil {
				return err
			}
			if i, ok := index[app]; ok {
				out[i].Passwords = append(out[i].Passwords, c)
			}
		}
		if err := prows.Err(); err != nil {
			return err
		}
		frows, err := tx.QueryContext(ctx, `SELECT f.app_object_id, `+federatedColumns+`
			FROM identity_federated_credentials f JOIN identity_applications a ON a.object_id = f.app_object_id
			WHERE a.tenant_id = ?`+federatedOrder, tenantID)
		if err != nil {
			return err
		}
		defer frows.Close()
		for frows.Next() {
			var app string
			c, err := scanFederated(frows, &app)
			if err != nil {
				return err
			}
			if i, ok := index[app]; ok {
				out[i].FederatedCredentials = append(out[i].FederatedCredentials, c)
			}
		}
		return frows.Err()
	})
	return out, internal(err, "sqlite: applications")
}

// DeleteApplication implements identity.Store.
func (db *DB) DeleteApplication(ctx context.Context, objectID string) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		var appID string
		err := tx.QueryRowContext(ctx, `SELECT app_id FROM identity_applications WHERE object_id = ?`, objectID).Scan(&appID)
		if errors.Is(err, sql.ErrNoRows) {
			return tresor.Errorf(tresor.NotFound, "application %s not found", objectID)
		}
		if err != nil {
			return err
		}
		// Its service principals in every tenant. An application's service
		// principal is never a user-assigned identity's, so nothing in
		// msi_user_assigned_identities refers to it.
		if _, err := tx.ExecContext(ctx, `DELETE FROM identity_service_principals WHERE app_id = ?`, appID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM identity_password_credentials WHERE app_object_id = ?`, objectID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM identity_federated_credentials WHERE app_object_id = ?`, objectID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM identity_applications WHERE object_id = ?`, objectID)
		return err
	})
	return internal(err, "sqlite: delete application")
}

// AddPassword implements identity.Store.
func (db *DB) AddPassword(ctx context.Context, objectID string, c identity.PasswordCredential) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		if err := applicationExists(ctx, tx, objectID); err != nil {
			return err
		}
		return insertPassword(ctx, tx, objectID, c)
	})
	return internal(err, "sqlite: add password")
}

// RemovePassword implements identity.Store.
func (db *DB) RemovePassword(ctx context.Context, objectID, keyID string) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM identity_password_credentials
			WHERE app_object_id = ? AND key_id = ?`, objectID, keyID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err == nil && n == 0 {
			return tresor.Errorf(tresor.NotFound, "application %s has no password %s", objectID, keyID)
		}
		return err
	})
	return internal(err, "sqlite: remove password")
}

func scanApplication(row interface{ Scan(...any) error }) (identity.Application, error) {
	var a identity.Application
	var created int64
	err := row.Scan(&a.ObjectID, &a.AppID, &a.TenantID, &a.DisplayName, &a.SignInAudience, &created)
	a.Created = identityTime(created)
	return a, err
}

const passwordColumns = `p.key_id, p.display_name, p.hint, p.secret_hash, p.secret_salt, p.start_time, p.end_time`

// scanPassword scans lead, then passwordColumns.
func scanPassword(row interface{ Scan(...any) error }, lead ...any) (identity.PasswordCredential, error) {
	var c identity.PasswordCredential
	var start, end int64
	err := row.Scan(append(lead, &c.KeyID, &c.DisplayName, &c.Hint, &c.Hash, &c.Salt, &start, &end)...)
	c.Start, c.End = identityTime(start), identityTime(end)
	return c, err
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
