package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
)

var _ arm.Store = (*DB)(nil)

// CreateSubscription inserts a subscription.
func (db *DB) CreateSubscription(ctx context.Context, s arm.Subscription) error {
	return internal(db.update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO arm_subscriptions (id, tenant_id, display_name, state, seq)
			VALUES (?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM arm_subscriptions))`, s.ID, s.TenantID, s.DisplayName, s.State)
		return err
	}), "sqlite: create subscription")
}

// Subscription returns a subscription by id.
func (db *DB) Subscription(ctx context.Context, id string) (arm.Subscription, error) {
	var s arm.Subscription
	err := db.view(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT id, tenant_id, display_name, state FROM arm_subscriptions WHERE lower(id) = lower(?)`, id).
			Scan(&s.ID, &s.TenantID, &s.DisplayName, &s.State)
		if errors.Is(err, sql.ErrNoRows) {
			return tresor.Errorf(tresor.NotFound, "subscription %s not found", id)
		}
		return err
	})
	return s, internal(err, "sqlite: subscription")
}

// Subscriptions lists subscriptions, oldest first.
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

// PutResourceGroup creates or replaces a group.
func (db *DB) PutResourceGroup(ctx context.Context, g arm.ResourceGroup) (bool, error) {
	var created bool
	tags := g.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	err := db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE arm_resource_groups SET location = ?, tags = ? WHERE subscription_id = ? AND name_key = ?`,
			g.Location, jsonText(tags), g.SubscriptionID, strings.ToLower(g.Name))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		created = true
		_, err = tx.ExecContext(ctx, `INSERT INTO arm_resource_groups (subscription_id, name_key, name, location, tags, created)
			VALUES (?, ?, ?, ?, ?, ?)`, g.SubscriptionID, strings.ToLower(g.Name), g.Name, g.Location, jsonText(tags), g.Created.Unix())
		return err
	})
	return created, internal(err, "sqlite: put resource group")
}

func scanGroup(row scanner) (arm.ResourceGroup, error) {
	var g arm.ResourceGroup
	var tags string
	var created int64
	if err := row.Scan(&g.SubscriptionID, &g.Name, &g.Location, &tags, &created); err != nil {
		return g, err
	}
	g.Created = time.Unix(created, 0).UTC()
	return g, json.Unmarshal([]byte(tags), &g.Tags)
}

// ResourceGroup returns a group by name, case-insensitively.
func (db *DB) ResourceGroup(ctx context.Context, subscription, name string) (arm.ResourceGroup, error) {
	var g arm.ResourceGroup
	err := db.view(ctx, func(tx *sql.Tx) error {
		var err error
		g, err = scanGroup(tx.QueryRowContext(ctx, `SELECT subscription_id, name, location, tags, created FROM arm_resource_groups
			WHERE subscription_id = ? AND name_key = ?`, subscription, strings.ToLower(name)))
		if errors.Is(err, sql.ErrNoRows) {
			return tresor.Errorf(tresor.NotFound, "resource group %s not found", name)
		}
		return err
	})
	return g, internal(err, "sqlite: resource group")
}

// ResourceGroups lists a subscription's groups by name.
func (db *DB) ResourceGroups(ctx context.Context, subscription string) ([]arm.ResourceGroup, error) {
	var out []arm.ResourceGroup
	err := db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT subscription_id, name, location, tags, created FROM arm_resource_groups
			WHERE subscription_id = ? ORDER BY name_key`, subscription)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			g, err := scanGroup(rows)
			if err != nil {
				return err
			}
			out = append(out, g)
		}
		return rows.Err()
	})
	return out, internal(err, "sqlite: resource groups")
}

// DeleteResourceGroup removes a group.
func (db *DB) DeleteResourceGroup(ctx context.Context, subscription, name string) error {
	return internal(db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM arm_resource_groups WHERE subscription_id = ? AND name_key = ?`, subscription, strings.ToLower(name))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tresor.Errorf(tresor.NotFound, "resource group %s not found", name)
		}
		return nil
	}), "sqlite: delete resource group")
}
