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
	"github.com/tresorkms/tresor/eventgrid"
)

var _ eventgrid.Store = (*DB)(nil)

// eventRow is how an event is stored: its own JSON, not Event Grid's wire
// form, which package webhook writes.
type eventRow struct {
	ID          string          `json:"id"`
	Topic       string          `json:"topic"`
	Subject     string          `json:"subject"`
	Type        string          `json:"type"`
	Time        time.Time       `json:"time"`
	Data        json.RawMessage `json:"data,omitempty"`
	DataVersion string          `json:"dataVersion"`
}

func encodeEvent(e eventgrid.Event) (string, error) {
	if len(e.Data) > 0 && !json.Valid(e.Data) {
		return "", fmt.Errorf("event %s: data is not JSON", e.ID)
	}
	b, err := json.Marshal(eventRow{e.ID, e.Topic, e.Subject, e.Type, e.Time.UTC(), e.Data, e.DataVersion})
	return string(b), err
}

func decodeEvent(text string) (eventgrid.Event, error) {
	var r eventRow
	if err := json.Unmarshal([]byte(text), &r); err != nil {
		return eventgrid.Event{}, fmt.Errorf("sqlite: corrupt event: %w", err)
	}
	return eventgrid.Event{ID: r.ID, Topic: r.Topic, Subject: r.Subject, Type: r.Type, Time: r.Time.UTC(), Data: r.Data, DataVersion: r.DataVersion}, nil
}

// raise appends evs to the outbox in tx, the transaction of the change
// they report.
func raise(ctx context.Context, tx *sql.Tx, evs []eventgrid.Event) error {
	for _, e := range evs {
		text, err := encodeEvent(e)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO event_outbox (event) VALUES (?)`, text); err != nil {
			return err
		}
	}
	return nil
}

// subscriptionSpec is the stored form of a subscription's settings.
type subscriptionSpec struct {
	Endpoint             string   `json:"endpoint"`
	MaxEventsPerBatch    int      `json:"maxEventsPerBatch"`
	PreferredBatchSizeKB int      `json:"preferredBatchSizeKB"`
	IncludedEventTypes   []string `json:"includedEventTypes,omitempty"`
	SubjectBeginsWith    string   `json:"subjectBeginsWith,omitempty"`
	SubjectEndsWith      string   `json:"subjectEndsWith,omitempty"`
	SubjectCaseSensitive bool     `json:"subjectCaseSensitive,omitempty"`
	Labels               []string `json:"labels,omitempty"`
	MaxDeliveryAttempts  int      `json:"maxDeliveryAttempts"`
	EventTTLMinutes      int      `json:"eventTTLMinutes"`
}

// PutEventSubscription implements eventgrid.Store.
func (db *DB) PutEventSubscription(ctx context.Context, s eventgrid.Subscription) error {
	spec := jsonText(subscriptionSpec{
		Endpoint: s.Endpoint, MaxEventsPerBatch: s.MaxEventsPerBatch, PreferredBatchSizeKB: s.PreferredBatchSizeKB,
		IncludedEventTypes: s.Filter.IncludedEventTypes, SubjectBeginsWith: s.Filter.SubjectBeginsWith,
		SubjectEndsWith: s.Filter.SubjectEndsWith, SubjectCaseSensitive: s.Filter.SubjectCaseSensitive,
		Labels: s.Labels, MaxDeliveryAttempts: s.MaxDeliveryAttempts, EventTTLMinutes: int(s.EventTTL / time.Minute),
	})
	err := db.update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO event_subscriptions (id, scope, name, spec, created, updated) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET scope = excluded.scope, name = excluded.name, spec = excluded.spec, updated = excluded.updated`,
			s.ID(), s.Scope, s.Name, spec, s.Created.Unix(), s.Updated.Unix())
		return err
	})
	return internal(err, "sqlite: put event subscription")
}

const subscriptionColumns = `scope, name, spec, created, updated`

func scanSubscription(row scanner) (eventgrid.Subscription, error) {
	var s eventgrid.Subscription
	var spec string
	var created, updated int64
	if err := row.Scan(&s.Scope, &s.Name, &spec, &created, &updated); err != nil {
		return eventgrid.Subscription{}, err
	}
	var sp subscriptionSpec
	if err := json.Unmarshal([]byte(spec), &sp); err != nil {
		return eventgrid.Subscription{}, fmt.Errorf("sqlite: corrupt event subscription %s: %w", s.Name, err)
	}
	s.Endpoint, s.MaxEventsPerBatch, s.PreferredBatchSizeKB = sp.Endpoint, sp.MaxEventsPerBatch, sp.PreferredBatchSizeKB
	s.Filter = eventgrid.Filter{
		IncludedEventTypes: sp.IncludedEventTypes, SubjectBeginsWith: sp.SubjectBeginsWith,
		SubjectEndsWith: sp.SubjectEndsWith, SubjectCaseSensitive: sp.SubjectCaseSensitive,
	}
	s.Labels, s.MaxDeliveryAttempts, s.EventTTL = sp.Labels, sp.MaxDeliveryAttempts, time.Duration(sp.EventTTLMinutes)*time.Minute
	s.Created, s.Updated = time.Unix(created, 0).UTC(), time.Unix(updated, 0).UTC()
	return s, nil
}

// EventSubscription implements eventgrid.Store.
func (db *DB) EventSubscription(ctx context.Context, id string) (eventgrid.Subscription, error) {
	var s eventgrid.Subscription
	err := db.view(ctx, func(tx *sql.Tx) error {
		var err error
		s, err = scanSubscription(tx.QueryRowContext(ctx, `SELECT `+subscriptionColumns+` FROM event_subscriptions WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return tresor.Errorf(tresor.NotFound, "event subscription %s not found", id)
		}
		return err
	})
	return s, internal(err, "sqlite: event subscription")
}

// EventSubscriptions implements eventgrid.Store.
func (db *DB) EventSubscriptions(ctx context.Context, scope string) ([]eventgrid.Subscription, error) {
	query, arg := `SELECT `+subscriptionColumns+` FROM event_subscriptions WHERE scope = ? ORDER BY id`, scope
	if strings.HasSuffix(scope, "/") {
		query = `SELECT ` + subscriptionColumns + ` FROM event_subscriptions WHERE lower(substr(scope, 1, length(?1))) = lower(?1) ORDER BY id`
	}
	var out []eventgrid.Subscription
	err := db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, query, arg)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			s, err := scanSubscription(rows)
			if err != nil {
				return err
			}
			out = append(out, s)
		}
		return rows.Err()
	})
	return out, internal(err, "sqlite: event subscriptions")
}

// DeleteEventSubscription implements eventgrid.Store; its deliveries go with it
// (ON DELETE CASCADE).
func (db *DB) DeleteEventSubscription(ctx context.Context, id string) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM event_subscriptions WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tresor.Errorf(tresor.NotFound, "event subscription %s not found", id)
		}
		return nil
	})
	return internal(err, "sqlite: delete event subscription")
}

// Outbox implements eventgrid.Store.
func (db *DB) Outbox(ctx context.Context, max int) ([]eventgrid.Raised, error) {
	var out []eventgrid.Raised
	err := db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT seq, event FROM event_outbox ORDER BY seq LIMIT ?`, max)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r eventgrid.Raised
			var text string
			if err := rows.Scan(&r.Seq, &text); err != nil {
				return err
			}
			if r.Event, err = decodeEvent(text); err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	return out, internal(err, "sqlite: event outbox")
}

// FanOut implements eventgrid.Store. A delivery whose subscription was
// deleted meanwhile is dropped.
func (db *DB) FanOut(ctx context.Context, seq int64, ds []eventgrid.Delivery) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		for _, d := range ds {
			text, err := encodeEvent(d.Event)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO event_deliveries (subscription_id, event, attempts, next_attempt, expires, last_error)
				SELECT id, ?, ?, ?, ?, ? FROM event_subscriptions WHERE id = ?`,
				text, d.Attempts, d.Next.UnixMilli(), d.Expires.UnixMilli(), d.LastError, d.SubscriptionID); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM event_outbox WHERE seq <= ?`, seq)
		return err
	})
	return internal(err, "sqlite: fan out events")
}

// DueDeliveries implements eventgrid.Store.
func (db *DB) DueDeliveries(ctx context.Context, now time.Time, max int) ([]eventgrid.Delivery, error) {
	var out []eventgrid.Delivery
	err := db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, subscription_id, event, attempts, next_attempt, expires, last_error
			FROM event_deliveries WHERE next_attempt <= ? ORDER BY next_attempt, id LIMIT ?`, now.UnixMilli(), max)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d eventgrid.Delivery
			var text string
			var next, expires int64
			if err := rows.Scan(&d.ID, &d.SubscriptionID, &text, &d.Attempts, &next, &expires, &d.LastError); err != nil {
				return err
			}
			if d.Event, err = decodeEvent(text); err != nil {
				return err
			}
			d.Next, d.Expires = time.UnixMilli(next).UTC(), time.UnixMilli(expires).UTC()
			out = append(out, d)
		}
		return rows.Err()
	})
	return out, internal(err, "sqlite: due event deliveries")
}

// NextDelivery implements eventgrid.Store.
func (db *DB) NextDelivery(ctx context.Context) (time.Time, error) {
	var next sql.NullInt64
	err := db.view(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `SELECT MIN(next_attempt) FROM event_deliveries`).Scan(&next)
	})
	if err != nil || !next.Valid {
		return time.Time{}, internal(err, "sqlite: next event delivery")
	}
	return time.UnixMilli(next.Int64).UTC(), nil
}

// DeleteDeliveries implements eventgrid.Store.
func (db *DB) DeleteDeliveries(ctx context.Context, ids []int64) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `DELETE FROM event_deliveries WHERE id = ?`, id); err != nil {
				return err
			}
		}
		return nil
	})
	return internal(err, "sqlite: delete event deliveries")
}

// RetryDeliveries implements eventgrid.Store.
func (db *DB) RetryDeliveries(ctx context.Context, ids []int64, next time.Time, lastError string) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE event_deliveries SET attempts = attempts + 1, next_attempt = ?, last_error = ? WHERE id = ?`,
				next.UnixMilli(), lastError, id); err != nil {
				return err
			}
		}
		return nil
	})
	return internal(err, "sqlite: retry event deliveries")
}
