package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/rbac"
)

var _ rbac.Store = (*DB)(nil)

const assignmentColumns = `realm, name, scope, role_id, principal_id, principal_type, description, created, created_by`

func scanAssignment(row scanner) (rbac.Assignment, error) {
	var a rbac.Assignment
	var created int64
	err := row.Scan(&a.Realm, &a.Name, &a.Scope, &a.RoleID, &a.PrincipalID, &a.PrincipalType, &a.Description, &created, &a.CreatedBy)
	a.Created = time.Unix(created, 0).UTC()
	return a, err
}

// CreateAssignment inserts a; Conflict if the realm has one of that name.
func (db *DB) CreateAssignment(ctx context.Context, a rbac.Assignment) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM rbac_assignments WHERE realm = ? AND name = ?`, a.Realm, a.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return tresor.Errorf(tresor.Conflict, "role assignment %s exists", a.Name)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO rbac_assignments (`+assignmentColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.Realm, a.Name, a.Scope, a.RoleID, a.PrincipalID, a.PrincipalType, a.Description, a.Created.Unix(), a.CreatedBy)
		return err
	})
	return internal(err, "sqlite: create role assignment")
}

// Assignment returns an assignment by realm and name.
func (db *DB) Assignment(ctx context.Context, realm, name string) (rbac.Assignment, error) {
	var a rbac.Assignment
	err := db.view(ctx, func(tx *sql.Tx) error {
		var err error
		a, err = scanAssignment(tx.QueryRowContext(ctx, `SELECT `+assignmentColumns+` FROM rbac_assignments WHERE realm = ? AND name = ?`, realm, name))
		if errors.Is(err, sql.ErrNoRows) {
			return tresor.Errorf(tresor.NotFound, "role assignment %s not found", name)
		}
		return err
	})
	return a, internal(err, "sqlite: role assignment")
}

// Assignments lists a realm's assignments, of one principal if principalID
// is set, ordered by name.
func (db *DB) Assignments(ctx context.Context, realm, principalID string) ([]rbac.Assignment, error) {
	q, args := `SELECT `+assignmentColumns+` FROM rbac_assignments WHERE realm = ?`, []any{realm}
	if principalID != "" {
		q, args = q+` AND principal_id = ?`, append(args, principalID)
	}
	var out []rbac.Assignment
	err := db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, q+` ORDER BY name`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			a, err := scanAssignment(rows)
			if err != nil {
				return err
			}
			out = append(out, a)
		}
		return rows.Err()
	})
	return out, internal(err, "sqlite: role assignments")
}

// DeleteAssignment removes an assignment; NotFound if absent.
func (db *DB) DeleteAssignment(ctx context.Context, realm, name string) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM rbac_assignments WHERE realm = ? AND name = ?`, realm, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tresor.Errorf(tresor.NotFound, "role assignment %s not found", name)
		}
		return nil
	})
	return internal(err, "sqlite: delete role assignment")
}

// permissionRow is a Permission as stored in rbac_roles.permissions.
type permissionRow struct {
	Actions        []string `json:"actions"`
	NotActions     []string `json:"notActions"`
	DataActions    []string `json:"dataActions"`
	NotDataActions []string `json:"notDataActions"`
}

// PutRoleDefinition inserts or replaces a custom role.
func (db *DB) PutRoleDefinition(ctx context.Context, realm string, d rbac.RoleDefinition) error {
	perms := make([]permissionRow, len(d.Permissions))
	for i, p := range d.Permissions {
		perms[i] = permissionRow(p)
	}
	scopes := d.AssignableScopes
	if scopes == nil {
		scopes = []string{}
	}
	err := db.update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO rbac_roles (realm, id, role_name, description, type, permissions, assignable_scopes)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (realm, id) DO UPDATE SET role_name = excluded.role_name, description = excluded.description,
			type = excluded.type, permissions = excluded.permissions, assignable_scopes = excluded.assignable_scopes`,
			realm, d.ID, d.RoleName, d.Description, d.Type, jsonText(perms), jsonText(scopes))
		return err
	})
	return internal(err, "sqlite: put role definition")
}

func scanRole(row scanner) (rbac.RoleDefinition, error) {
	var d rbac.RoleDefinition
	var perms, scopes string
	if err := row.Scan(&d.ID, &d.RoleName, &d.Description, &d.Type, &perms, &scopes); err != nil {
		return d, err
	}
	var rows []permissionRow
	if err := errors.Join(json.Unmarshal([]byte(perms), &rows), json.Unmarshal([]byte(scopes), &d.AssignableScopes)); err != nil {
		return d, err
	}
	for _, p := range rows {
		d.Permissions = append(d.Permissions, rbac.Permission(p))
	}
	return d, nil
}

const roleColumns = `id, role_name, description, type, permissions, assignable_scopes`

// RoleDefinition returns a custom role; NotFound if absent.
func (db *DB) RoleDefinition(ctx context.Context, realm, id string) (rbac.RoleDefinition, error) {
	var d rbac.RoleDefinition
	err := db.view(ctx, func(tx *sql.Tx) error {
		var err error
		d, err = scanRole(tx.QueryRowContext(ctx, `SELECT `+roleColumns+` FROM rbac_roles WHERE realm = ? AND id = ?`, realm, id))
		if errors.Is(err, sql.ErrNoRows) {
			return tresor.Errorf(tresor.NotFound, "role definition %s not found", id)
		}
		return err
	})
	return d, internal(err, "sqlite: role definition")
}

// RoleDefinitions lists a realm's custom roles by id.
func (db *DB) RoleDefinitions(ctx context.Context, realm string) ([]rbac.RoleDefinition, error) {
	var out []rbac.RoleDefinition
	err := db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+roleColumns+` FROM rbac_roles WHERE realm = ? ORDER BY id`, realm)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanRole(rows)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	return out, internal(err, "sqlite: role definitions")
}

// DeleteRoleDefinition removes a custom role; NotFound if absent.
func (db *DB) DeleteRoleDefinition(ctx context.Context, realm, id string) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM rbac_roles WHERE realm = ? AND id = ?`, realm, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tresor.Errorf(tresor.NotFound, "role definition %s not found", id)
		}
		return nil
	})
	return internal(err, "sqlite: delete role definition")
}

// DeleteRealm removes every assignment and custom role of a realm.
func (db *DB) DeleteRealm(ctx context.Context, realm string) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM rbac_assignments WHERE realm = ?`, realm); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM rbac_roles WHERE realm = ?`, realm)
		return err
	})
	return internal(err, "sqlite: delete realm")
}
