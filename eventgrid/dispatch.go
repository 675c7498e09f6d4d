package eventgrid

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tresorkms/tresor"
)

// AzureBackoff is Event Grid's retry schedule: the wait before the retry
// after the n-th failed attempt is AzureBackoff[n-1], and the last entry
// repeats.
var AzureBackoff = []time.Duration{
	10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute, 10 * time.Minute,
	30 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
}

// Dispatcher moves raised events from the outbox to their subscriptions
// and delivers them. It runs on real time whatever the key service's clock
// says: webhooks live in real time.
type Dispatcher struct {
	Store  Store
	Sender Sender
	Now    func() time.Time
	// Backoff is the retry schedule; nil means AzureBackoff.
	Backoff []time.Duration
	// Poll is how often Run looks for new events; 0 means a second.
	Poll   time.Duration
	Logger *slog.Logger

	mu sync.Mutex // one pass at a time
}

// batch bounds how much one pass reads at once.
const batch = 256

// Pass fans out the outbox and makes every delivery attempt that is due,
// then returns. Deliveries to different subscriptions run concurrently;
// each subscription's run in order.
func (d *Dispatcher) Pass(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.fanOut(ctx); err != nil {
		return err
	}
	return d.deliver(ctx)
}

// fanOut turns each outbox event into one delivery per matching
// subscription, as of now. Events that no subscription wants are dropped.
func (d *Dispatcher) fanOut(ctx context.Context) error {
	for {
		raised, err := d.Store.Outbox(ctx, batch)
		if err != nil || len(raised) == 0 {
			return err
		}
		now := d.Now().UTC()
		subs := map[string][]Subscription{} // by topic
		var ds []Delivery
		for _, r := range raised {
			ss, ok := subs[r.Event.Topic]
			if !ok {
				if ss, err = d.Store.EventSubscriptions(ctx, r.Event.Topic); err != nil {
					return err
				}
				subs[r.Event.Topic] = ss
			}
			for _, s := range ss {
				if s.Filter.Matches(r.Event) {
					ds = append(ds, Delivery{SubscriptionID: s.ID(), Event: r.Event, Next: now, Expires: now.Add(s.EventTTL)})
				}
			}
		}
		if err := d.Store.FanOut(ctx, raised[len(raised)-1].Seq, ds); err != nil {
			return err
		}
	}
}

// deliver attempts every due delivery once.
func (d *Dispatcher) deliver(ctx context.Context) error {
	due, err := d.Store.DueDeliveries(ctx, d.Now(), batch)
	if err != nil || len(due) == 0 {
		return err
	}
	bySub := map[string][]Delivery{}
	var order []string
	for _, dl := range due {
		if _, ok := bySub[dl.SubscriptionID]; !ok {
			order = append(order, dl.SubscriptionID)
		}
		bySub[dl.SubscriptionID] = append(bySub[dl.SubscriptionID], dl)
	}
	errs := make([]error, len(order))
	var wg sync.WaitGroup
	for i, id := range order {
		wg.Go(func() { errs[i] = d.deliverTo(ctx, id, bySub[id]) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// deliverTo sends one subscription's due deliveries in batches as its
// settings allow.
func (d *Dispatcher) deliverTo(ctx context.Context, id string, due []Delivery) error {
	s, err := d.Store.EventSubscription(ctx, id)
	if tresor.IsKind(err, tresor.NotFound) {
		// Deleted meanwhile. Its deliveries went with it; should a store
		// have kept any, drop them rather than meet them every pass.
		ids := make([]int64, len(due))
		for i, dl := range due {
			ids[i] = dl.ID
		}
		return d.Store.DeleteDeliveries(ctx, ids)
	}
	if err != nil {
		return err
	}
	for len(due) > 0 {
		n := batchLen(s, due)
		if err := d.attempt(ctx, s, due[:n]); err != nil {
			return err
		}
		due = due[n:]
	}
	return nil
}

// batchLen returns how many of due go in the next batch: at most
// MaxEventsPerBatch, and no more than PreferredBatchSizeKB unless it is one
// event. Deliveries retried together share their attempt count, so a
// batch holds deliveries with equal counts only.
func batchLen(s Subscription, due []Delivery) int {
	size := 0
	for i, dl := range due {
		size += len(dl.Event.Data) + 512 // the envelope, roughly
		if i > 0 && (i == s.MaxEventsPerBatch || size > s.PreferredBatchSizeKB<<10 || dl.Attempts != due[0].Attempts) {
			return i
		}
	}
	return len(due)
}

// attempt makes one delivery attempt of a batch and records its outcome.
func (d *Dispatcher) attempt(ctx context.Context, s Subscription, b []Delivery) error {
	events := make([]Event, len(b))
	ids := make([]int64, len(b))
	for i, dl := range b {
		events[i], ids[i] = dl.Event, dl.ID
	}
	status, err := d.Sender.Deliver(ctx, s, events, b[0].Attempts)
	if ctx.Err() != nil {
		return ctx.Err() // shutting down: the attempt does not count
	}
	switch {
	case err == nil && status >= 200 && status <= 299:
		return d.Store.DeleteDeliveries(ctx, ids)
	case err == nil && (status == 400 || status == 413):
		// Azure does not retry these: the endpoint will never take them.
		d.logger().WarnContext(ctx, "event delivery refused for good; events dropped",
			"subscription", s.ID(), "status", status, "events", len(b))
		return d.Store.DeleteDeliveries(ctx, ids)
	}
	why := fmt.Sprintf("HTTP %d", status)
	if err != nil {
		why = err.Error()
	}
	// A batch shares its attempt count; each event keeps its own TTL.
	attempts := b[0].Attempts + 1
	next := d.Now().UTC().Add(d.backoff(attempts))
	var retry, drop []int64
	for _, dl := range b {
		if attempts >= s.MaxDeliveryAttempts || next.After(dl.Expires) {
			drop = append(drop, dl.ID)
		} else {
			retry = append(retry, dl.ID)
		}
	}
	if len(drop) > 0 {
		d.logger().WarnContext(ctx, "event delivery given up; events dropped",
			"subscription", s.ID(), "attempts", attempts, "last", why, "events", len(drop))
		if err := d.Store.DeleteDeliveries(ctx, drop); err != nil {
			return err
		}
	}
	if len(retry) == 0 {
		return nil
	}
	return d.Store.RetryDeliveries(ctx, retry, next, why)
}

func (d *Dispatcher) backoff(attempts int) time.Duration {
	b := d.Backoff
	if len(b) == 0 {
		b = AzureBackoff
	}
	return b[min(attempts, len(b))-1]
}

// Run makes passes until ctx ends: every Poll, and as soon as a retry is
// due. Errors are logged; the next pass retries.
func (d *Dispatcher) Run(ctx context.Context) {
	poll := d.Poll
	if poll <= 0 {
		poll = time.Second
	}
	for {
		wait := poll
		if err := d.Pass(ctx); err != nil {
			if ctx.Err() == nil {
				d.logger().ErrorContext(ctx, "event dispatch failed", "err", err)
			}
		} else if next, err := d.Store.NextDelivery(ctx); err == nil && !next.IsZero() {
			wait = min(wait, max(next.Sub(d.Now()), 0))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func (d *Dispatcher) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.Default()
	}
	return d.Logger
}
