package eventgrid

import (
	"context"
	"time"
)

// Store persists subscriptions, the outbox of raised events and the
// deliveries in progress. Events enter the outbox through the stores of the
// services that raise them, in the transaction of the change they report.
//
// Methods return *tresor.Error with Kind NotFound for an absent
// subscription; any other failure is Internal.
type Store interface {
	// PutEventSubscription inserts or replaces the subscription with s's id
	// (compared case-insensitively).
	PutEventSubscription(ctx context.Context, s Subscription) error
	// EventSubscription returns the subscription with that id.
	EventSubscription(ctx context.Context, id string) (Subscription, error)
	// EventSubscriptions lists the subscriptions on scope (case-insensitive),
	// or, if scope ends in "/", on every scope under it; ordered by id.
	EventSubscriptions(ctx context.Context, scope string) ([]Subscription, error)
	// DeleteEventSubscription removes a subscription and its pending deliveries.
	DeleteEventSubscription(ctx context.Context, id string) error

	// Outbox returns up to max raised events that have not been fanned out,
	// oldest first.
	Outbox(ctx context.Context, max int) ([]Raised, error)
	// FanOut inserts ds and removes from the outbox every event up to and
	// including seq, in one transaction. A delivery whose subscription no
	// longer exists is not inserted.
	FanOut(ctx context.Context, seq int64, ds []Delivery) error

	// DueDeliveries returns up to max deliveries whose next attempt is at
	// or before now, earliest first. Its cost grows with the deliveries
	// returned.
	DueDeliveries(ctx context.Context, now time.Time, max int) ([]Delivery, error)
	// NextDelivery returns the earliest next attempt, or zero if none.
	NextDelivery(ctx context.Context) (time.Time, error)
	// DeleteDeliveries removes deliveries: done, or given up.
	DeleteDeliveries(ctx context.Context, ids []int64) error
	// RetryDeliveries records a failed attempt of each delivery: one more
	// attempt, the next at next.
	RetryDeliveries(ctx context.Context, ids []int64, next time.Time, lastError string) error
}

// Raised is an event in the outbox, with its place in it.
type Raised struct {
	Seq   int64
	Event Event
}

// Delivery is one event on its way to one subscription.
type Delivery struct {
	ID             int64 // assigned by the store
	SubscriptionID string
	Event          Event
	Attempts       int       // failed attempts so far
	Next           time.Time // when to attempt next
	Expires        time.Time // when the subscription's event TTL gives up
	LastError      string
}
