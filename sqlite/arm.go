package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
)

var _ arm.Store = (*DB)(nil)

// CreateSubscription implements arm.Store.
func (db *DB) CreateSubscription(ctx context.Context, s arm.Subscription) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM arm_subscriptions WHERE id = ?`, s.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return tresor.Errorf(tresor.Conflict, "subscription %s exists", s.ID)
		}
		// seq orders subscriptions by creation.
		_, err := tx.ExecContext(ctx, `INSERT INTO arm_subscriptions (id, tenant_id, display_name, state, seq)
			VALUES (?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM arm_subscriptions))`,
			s.ID, s.TenantID, s.DisplayName, s.State)
		return err
	})
	return internal(err, "sqlite: create subscription")
}

// Subscription implements arm.Store.
func (db *DB) Subscription(ctx context.Context, id string) (arm.Subscription, error) {
	var s arm.Subscription
	err := db.view(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT id, tenant_id, display_name, state FROM arm_subscriptions WHERE id = ?`, id).
			Scan(&s.ID, &s.TenantID, &s.DisplayName, &s.State)
		if errors.Is(err, sql.ErrNoRows) {
			return tresor.Errorf(tresor.NotFound, "subscription %s not found", id)
		}
		return err
	})
	return s, internal(err, "sqlite: subscription")
}

// Subscriptions implements arm.Store.
func (db *DB) Subscriptions(ctx context.Context) ([]arm.Subscription, error) {
	var out []arm.Subscription
	err := db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, tenant_id, display_name, state FROM arm_subscriptions ORDER BY seq`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s arm.Subscription
			if err := rows.Scan(&s.ID, &s.TenantID, &s.DisplayName, &s.State); err != nil {
				return err
			}
			out = append(out, s)
		}
		return rows.Err()
	})
	return out, internal(err, "sqlite: subscriptions")
}

// PutResourceGroup implements arm.Store. The stored name is the key's first
// spelling; a replace changes only location and tags.
func (db *DB) PutResourceGroup(ctx context.Context, g arm.ResourceGroup) error {
	tags := g.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	tagsJSON, err := json.Marshal(tags)
	if err != nil {
		return tresor.Wrap(err, "sqlite: put resource group")
	}
	err = db.update(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM arm_subscriptions WHERE id = ?`, g.SubscriptionID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return tresor.Errorf(tresor.NotFound, "subscription %s not found", g.SubscriptionID)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO arm_resource_groups (subscription_id, name_key, name, location, tags, created)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (subscription_id, name_key) DO UPDATE SET location = excluded.location, tags = excluded.tags`,
			g.SubscriptionID, strings.ToLower(g.Name), g.Name, g.Location, string(tagsJSON), db.Now().Unix())
		return err
	})
	return internal(err, "sqlite: put resource group")
}

const armGroupColumns = `subscription_id, name, location, tags`

func scanARMGroup(row interface{ Scan(...any) error }) (arm.ResourceGroup, error) {
	var g arm.ResourceGroup
	var tags string
	if err := row.Scan(&g.SubscriptionID, &g.Name, &g.Location, &tags); err != nil {
		return g, err
	}
	if err := json.Unmarshal([]byte(tags), &g.Tags); err != nil {
		return g, err
	}
	if g.Tags == nil {
		g.Tags = map[string]string{}
	}
	return g, nil
}

// ResourceGroup implements arm.Store.
func (db *DB) ResourceGroup(ctx context.Context, subscriptionID, name string) (arm.ResourceGroup, error) {
	var g arm.ResourceGroup
	err := db.view(ctx, func(tx *sql.Tx) error {
		var err error
		g, err = scanARMGroup(tx.QueryRowContext(ctx, `SELECT `+armGroupColumns+` FROM arm_resource_groups
			WHERE subscription_id = ? AND name_key = ?`, subscriptionID, strings.ToLower(name)))
		if errors.Is(err, sql.ErrNoRows) {
			return tresor.Errorf(tresor.NotFound, "resource group %s not found", name)
		}
		return err
	})
	return g, internal(err, "sqlite: resource group")
}

// ResourceGroups implements arm.Store.
func (db *DB) ResourceGroups(ctx context.Context, subscriptionID string) ([]arm.ResourceGroup, error) {
	var out []arm.ResourceGroup
	err := db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+armGroupColumns+` FROM arm_resource_groups
			WHERE subscription_id = ? ORDER BY name_key`, subscriptionID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			g, err := scanARMGroup(rows)
			if err != nil {
				return err
			}
			out = append(out, g)
		}
		return rows.Err()
	})
	return out, internal(err, "sqlite: resource groups")
}

// DeleteResourceGroup implements arm.Store.
func (db *DB) DeleteResourceGroup(ctx context.Context, subscriptionID, name string) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM arm_resource_groups WHERE subscription_id = ? AND name_key = ?`,
			subscriptionID, strings.ToLower(name))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return tresor.Errorf(tresor.NotFound, "resource group %s not found", name)
		}
		return nil
	})
	return internal(err, "sqlite: delete resource group")
}
