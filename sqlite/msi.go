package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm/msi"
)

var _ msi.Store = (*DB)(nil)

// CreateUserAssignedIdentity implements msi.Store.
func (db *DB) CreateUserAssignedIdentity(ctx context.Context, u msi.UserAssignedIdentity) error {
	tags, err := marshalTags(u.Tags)
	if err != nil {
		return err
	}
	err = db.update(ctx, func(tx *sql.Tx) error {
		taken, err := identityRowExists(ctx, tx, `SELECT 1 FROM msi_user_assigned_identities
			WHERE subscription_id = ? AND resource_group = ? AND name = ?`, u.SubscriptionID, u.ResourceGroup, u.Name)
		if err != nil {
			return err
		}
		if taken {
			return tresor.Errorf(tresor.Conflict, "user-assigned identity %s exists", u.Name)
		}
		tenant, err := identityRowExists(ctx, tx, `SELECT 1 FROM identity_tenants WHERE id = ?`, u.Principal.TenantID)
		if err != nil {
			return err
		}
		if !tenant {
			return tresor.Errorf(tresor.NotFound, "tenant %s not found", u.Principal.TenantID)
		}
		if err := insertServicePrincipal(ctx, tx, u.Principal); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO msi_user_assigned_identities
			(subscription_id, resource_group, name, object_id, location, tags, created) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			u.SubscriptionID, u.ResourceGroup, u.Name, u.Principal.ObjectID, u.Location, tags, u.Created.Unix())
		return err
	})
	return internal(err, "sqlite: create user-assigned identity")
}

// UpdateUserAssignedIdentityTags implements msi.Store.
func (db *DB) UpdateUserAssignedIdentityTags(ctx context.Context, subscriptionID, group, name string, tags map[string]string) error {
	js, err := marshalTags(tags)
	if err != nil {
		return err
	}
	err = db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE msi_user_assigned_identities SET tags = ?
			WHERE subscription_id = ? AND resource_group = ? AND name = ?`, js, subscriptionID, group, name)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err == nil && n == 0 {
			return tresor.Errorf(tresor.NotFound, "user-assigned identity %s not found", name)
		}
		return err
	})
	return internal(err, "sqlite: update user-assigned identity")
}

// msiColumns are the principal's columns, as scanServicePrincipal reads
// them, then the resource's.
const msiColumns = `s.object_id, s.app_id, s.tenant_id, s.display_name, s.type, s.resource_id, s.created, ` +
	`m.subscription_id, m.resource_group, m.name, m.location, m.tags, m.created`

const msiFrom = ` FROM msi_user_assigned_identities m JOIN identity_service_principals s ON s.object_id = m.object_id `

// UserAssignedIdentity implements msi.Store.
func (db *DB) UserAssignedIdentity(ctx context.Context, subscriptionID, group, name string) (msi.UserAssignedIdentity, error) {
	var u msi.UserAssignedIdentity
	err := db.view(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = scanUserAssignedIdentity(tx.QueryRowContext(ctx, `SELECT `+msiColumns+msiFrom+`
			WHERE m.subscription_id = ? AND m.resource_group = ? AND m.name = ?`, subscriptionID, group, name))
		if errors.Is(err, sql.ErrNoRows) {
			return tresor.Errorf(tresor.NotFound, "user-assigned identity %s not found", name)
		}
		return err
	})
	return u, internal(err, "sqlite: user-assigned identity")
}

// UserAssignedIdentities implements msi.Store.
func (db *DB) UserAssignedIdentities(ctx context.Context, subscriptionID, group string) ([]msi.UserAssignedIdentity, error) {
	var out []msi.UserAssignedIdentity
	err := db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+msiColumns+msiFrom+`
			WHERE m.subscription_id = ? AND (? = '' OR m.resource_group = ?)
			ORDER BY lower(m.resource_group), lower(m.name)`, subscriptionID, group, group)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			u, err := scanUserAssignedIdentity(rows)
			if err != nil {
				return err
			}
			out = append(out, u)
		}
		return rows.Err()
	})
	return out, internal(err, "sqlite: user-assigned identities")
}

// DeleteUserAssignedIdentity implements msi.Store.
func (db *DB) DeleteUserAssignedIdentity(ctx context.Context, subscriptionID, group, name string) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		var objectID string
		err := tx.QueryRowContext(ctx, `SELECT object_id FROM msi_user_assigned_identities
			WHERE subscription_id = ? AND resource_group = ? AND name = ?`, subscriptionID, group, name).Scan(&objectID)
		if errors.Is(err, sql.ErrNoRows) {
			return tresor.Errorf(tresor.NotFound, "user-assigned identity %s not found", name)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM msi_user_assigned_identities WHERE object_id = ?`, objectID); err != nil {
			return err
		}
		return deleteServicePrincipal(ctx, tx, objectID)
	})
	return internal(err, "sqlite: delete user-assigned identity")
}

func scanUserAssignedIdentity(row scanner) (msi.UserAssignedIdentity, error) {
	var u msi.UserAssignedIdentity
	var tags string
	var created int64
	sp, err := scanServicePrincipal(&extraScanner{row: row, extra: []any{&u.SubscriptionID, &u.ResourceGroup, &u.Name, &u.Location, &tags, &created}})
	if err != nil {
		return u, err
	}
	u.Principal, u.Created = sp, identityTime(created)
	if err := json.Unmarshal([]byte(tags), &u.Tags); err != nil {
		return u, err
	}
	return u, nil
}

func marshalTags(tags map[string]string) (string, error) {
	if tags == nil {
		tags = map[string]string{}
	}
	b, err := json.Marshal(tags)
	if err != nil {
		return "", tresor.Wrap(err, "sqlite: encode tags")
	}
	return string(b), nil
}
