package eventgrid_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/eventgrid"
	"github.com/tresorkms/tresor/sqlite"
)

// answer returns a sender's answer that is always status and err.
func answer(status int, err error) func(eventgrid.Subscription, []eventgrid.Event, int) (int, error) {
	return func(eventgrid.Subscription, []eventgrid.Event, int) (int, error) { return status, err }
}

func TestFanOut(t *testing.T) {
	f := newFixture(t)
	a := f.addTopic(vaultScope("sub", "rg", "a"))
	b := f.addTopic(vaultScope("sub", "rg", "b"))
	c := vaultScope("sub", "rg", "c") // no subscriptions
	f.create(t, eventgrid.Subscription{Scope: a, Name: "all", Endpoint: endpoint, MaxEventsPerBatch: 10})
	f.create(t, eventgrid.Subscription{Scope: a, Name: "expired", Endpoint: endpoint, MaxEventsPerBatch: 10,
		Filter: eventgrid.Filter{IncludedEventTypes: []string{eventgrid.KeyExpired}}})
	f.create(t, eventgrid.Subscription{Scope: a, Name: "prefix-x", Endpoint: endpoint, MaxEventsPerBatch: 10,
		Filter: eventgrid.Filter{SubjectBeginsWith: "X"}})
	f.create(t, eventgrid.Subscription{Scope: b, Name: "on-b", Endpoint: endpoint, MaxEventsPerBatch: 10})

	f.raise(t, event("e1", a, eventgrid.KeyNewVersionCreated, "k1", 50), event("e2", a, eventgrid.KeyExpired, "xk", 50))
	f.raise(t, event("e3", c, eventgrid.KeyNewVersionCreated, "k", 50), event("e4", b, eventgrid.KeyNearExpiry, "xk", 50))
	f.raise(t, event("e5", strings.ToLower(a), eventgrid.KeyNearExpiry, "k5", 50))
	f.pass(t)

	want := []delivery{
		{"all", []string{"e1", "e2", "e5"}, 0},
		{"expired", []string{"e2"}, 0},
		{"on-b", []string{"e4"}, 0},
		{"prefix-x", []string{"e2"}, 0},
	}
	if diff := cmp.Diff(want, f.sender.takeDeliveries(), cmp.AllowUnexported(delivery{})); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	if rs := f.outbox(t); len(rs) != 0 {
		t.Errorf("outbox after Pass holds %d events, want none", len(rs))
	}
	if ds := f.pending(t); len(ds) != 0 {
		t.Errorf("%d deliveries pending after every endpoint answered 200, want none", len(ds))
	}

	// Nothing is delivered twice.
	f.now = f.now.Add(time.Hour)
	f.pass(t)
	if got := f.sender.takeDeliveries(); len(got) != 0 {
		t.Errorf("second Pass delivered %v, want nothing", got)
	}
}

// TestFanOutMany checks that one pass drains an outbox longer than the
// dispatcher reads at once, and that deliveries beyond a pass's share wait
// for the next.
func TestFanOutMany(t *testing.T) {
	f := newFixture(t)
	scope := f.addTopic(vaultScope("sub", "rg", "a"))
	f.create(t, eventgrid.Subscription{Scope: scope, Name: "all", Endpoint: endpoint, MaxEventsPerBatch: 5000})
	var evs []eventgrid.Event
	var ids []string
	for i := range 300 {
		evs = append(evs, event(fmt.Sprint("e", i), scope, eventgrid.KeyNewVersionCreated, "k", 20))
		ids = append(ids, fmt.Sprint("e", i))
	}
	f.raise(t, evs...)
	f.pass(t)
	if rs := f.outbox(t); len(rs) != 0 {
		t.Errorf("outbox after Pass holds %d events, want none", len(rs))
	}
	f.pass(t)
	var got []string
	for _, d := range f.sender.takeDeliveries() {
		got = append(got, d.events...)
	}
	if diff := cmp.Diff(ids, got); diff != "" {
		t.Errorf("events delivered in two passes (-want +got):\n%s", diff)
	}
}

func TestDeliveryOutcome(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		status    int
		err       error
		wantRetry bool
		wantError string
	}{
		{status: 200},
		{status: 201},
		{status: 202},
		{status: 204},
		{status: 299},
		{status: 400},
		{status: 413},
		{status: 300, wantRetry: true, wantError: "HTTP 300"},
		{status: 302, wantRetry: true, wantError: "HTTP 302"},
		{status: 401, wantRetry: true, wantError: "HTTP 401"},
		{status: 404, wantRetry: true, wantError: "HTTP 404"},
		{status: 429, wantRetry: true, wantError: "HTTP 429"},
		{status: 500, wantRetry: true, wantError: "HTTP 500"},
		{status: 503, wantRetry: true, wantError: "HTTP 503"},
		{err: refused, wantRetry: true, wantError: refused.Error()},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status, tt.err), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			scope := f.addTopic(vaultScope("sub", "rg", "a"))
			s := f.create(t, eventgrid.Subscription{Scope: scope, Name: "sub-1", Endpoint: endpoint, EventTTL: 10 * time.Minute})
			ev := event("e1", scope, eventgrid.KeyNewVersionCreated, "k", 50)
			f.raise(t, ev)
			f.sender.answer = answer(tt.status, tt.err)
			f.pass(t)
			if got := f.sender.takeDeliveries(); len(got) != 1 {
				t.Errorf("Pass made %d deliveries, want 1", len(got))
			}
			var want []eventgrid.Delivery
			if tt.wantRetry {
				want = []eventgrid.Delivery{{
					SubscriptionID: s.ID(), Event: ev, Attempts: 1,
					Next: t0.Add(backoff[0]), Expires: t0.Add(10 * time.Minute), LastError: tt.wantError,
				}}
			}
			if diff := cmp.Diff(want, f.pending(t), cmpopts.IgnoreFields(eventgrid.Delivery{}, "ID"), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("pending after the answer %d, %v (-want +got):\n%s", tt.status, tt.err, diff)
			}
		})
	}
}

func TestRetrySchedule(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	scope := f.addTopic(vaultScope("sub", "rg", "a"))
	f.create(t, eventgrid.Subscription{Scope: scope, Name: "sub-1", Endpoint: endpoint})
	f.raise(t, event("e1", scope, eventgrid.KeyNewVersionCreated, "k", 50))
	f.sender.answer = answer(503, nil)

	steps := []struct {
		at        time.Duration // since t0
		wantCount int           // the delivery count passed, or -1 if none is due
		wantNext  time.Duration // the next attempt, since t0
	}{
		{0, 0, 10 * time.Second},
		{5 * time.Second, -1, 10 * time.Second},
		{10 * time.Second, 1, 30 * time.Second},
		{29 * time.Second, -1, 30 * time.Second},
		{30 * time.Second, 2, 70 * time.Second},
		{70 * time.Second, 3, 110 * time.Second}, // the schedule's last entry repeats
		{110 * time.Second, 4, 150 * time.Second},
	}
	for i, s := range steps {
		f.now = t0.Add(s.at)
		f.pass(t)
		got := f.sender.takeDeliveries()
		switch {
		case s.wantCount < 0 && len(got) != 0:
			t.Errorf("Pass at +%v delivered %v, want nothing due", s.at, got)
		case s.wantCount >= 0 && (len(got) != 1 || got[0].count != s.wantCount):
			t.Errorf("Pass at +%v delivered %v, want one batch with delivery count %d", s.at, got, s.wantCount)
		}
		ds := f.pending(t)
		if len(ds) != 1 {
			t.Fatalf("after Pass at +%v %d deliveries pending, want 1", s.at, len(ds))
		}
		attempts := 0
		for _, s := range steps[:i+1] {
			if s.wantCount >= 0 {
				attempts++
			}
		}
		if ds[0].Attempts != attempts || !ds[0].Next.Equal(t0.Add(s.wantNext)) {
			t.Errorf("after Pass at +%v pending has %d attempts, next +%v; want %d, +%v",
				s.at, ds[0].Attempts, ds[0].Next.Sub(t0), attempts, s.wantNext)
		}
		if next, err := f.db.NextDelivery(ctx); err != nil || !next.Equal(t0.Add(s.wantNext)) {
			t.Errorf("NextDelivery after Pass at +%v = +%v, %v, want +%v", s.at, next.Sub(t0), err, s.wantNext)
		}
	}

	f.sender.answer = nil
	f.now = t0.Add(150 * time.Second)
	f.pass(t)
	if got := f.sender.takeDeliveries(); len(got) != 1 || got[0].count != 5 {
		t.Errorf("final Pass delivered %v, want one batch with delivery count 5", got)
	}
	if ds := f.pending(t); len(ds) != 0 {
		t.Errorf("%d deliveries pending after a 200, want none", len(ds))
	}
}

func TestGiveUp(t *testing.T) {
	tests := []struct {
		name       string
		attempts   int
		ttl        time.Duration
		wantCounts []int
	}{
		{"one attempt", 1, 0, []int{0}},
		{"three attempts", 3, 0, []int{0, 1, 2}},
		// Attempts at +0, +10s and +30s; the next would be at +70s, past
		// the TTL.
		{"TTL of a minute", 30, time.Minute, []int{0, 1, 2}},
		// Attempts at +0, +10s, +30s, +70s and +110s; the next would be at
		// +150s.
		{"TTL of two minutes", 30, 2 * time.Minute, []int{0, 1, 2, 3, 4}},
		{"attempts before TTL", 2, 2 * time.Minute, []int{0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			scope := f.addTopic(vaultScope("sub", "rg", "a"))
			f.create(t, eventgrid.Subscription{Scope: scope, Name: "sub-1", Endpoint: endpoint, MaxDeliveryAttempts: tt.attempts, EventTTL: tt.ttl})
			f.raise(t, event("e1", scope, eventgrid.KeyNewVersionCreated, "k", 50))
			f.sender.answer = answer(503, nil)
			f.pass(t)
			for range 100 {
				ds := f.pending(t)
				if len(ds) == 0 {
					break
				}
				f.now = ds[0].Next
				f.pass(t)
			}
			var counts []int
			for _, d := range f.sender.takeDeliveries() {
				counts = append(counts, d.count)
			}
			if diff := cmp.Diff(tt.wantCounts, counts); diff != "" {
				t.Errorf("delivery counts until given up (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBatching(t *testing.T) {
	tests := []struct {
		name    string
		max, kb int
		sizes   []int
		want    [][]string
	}{
		{"one at a time by default", 0, 0, []int{50, 50, 50}, [][]string{{"e0"}, {"e1"}, {"e2"}}},
		{"by count", 2, 64, []int{50, 50, 50, 50, 50}, [][]string{{"e0", "e1"}, {"e2", "e3"}, {"e4"}}},
		// An event counts its data and 512 bytes: two of 400 fit in 2 KB.
		{"by size", 10, 2, []int{400, 400, 400, 400, 400}, [][]string{{"e0", "e1"}, {"e2", "e3"}, {"e4"}}},
		{"an event larger than the size goes alone", 10, 1, []int{3000, 50, 50}, [][]string{{"e0"}, {"e1"}, {"e2"}}},
		{"all in one", 5000, 1024, []int{50, 50, 50}, [][]string{{"e0", "e1", "e2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			scope := f.addTopic(vaultScope("sub", "rg", "a"))
			f.create(t, eventgrid.Subscription{Scope: scope, Name: "sub-1", Endpoint: endpoint, MaxEventsPerBatch: tt.max, PreferredBatchSizeKB: tt.kb})
			var evs []eventgrid.Event
			for i, n := range tt.sizes {
				evs = append(evs, event(fmt.Sprint("e", i), scope, eventgrid.KeyNewVersionCreated, "k", n))
			}
			f.raise(t, evs...)
			f.pass(t)
			var got [][]string
			for _, d := range f.sender.takeDeliveries() {
				got = append(got, d.events)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("batches (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBatchingAttempts checks that a batch holds deliveries of one attempt
// count: a retry is not merged with a first attempt.
func TestBatchingAttempts(t *testing.T) {
	f := newFixture(t)
	scope := f.addTopic(vaultScope("sub", "rg", "a"))
	f.create(t, eventgrid.Subscription{Scope: scope, Name: "sub-1", Endpoint: endpoint, MaxEventsPerBatch: 10})
	f.raise(t, event("e1", scope, eventgrid.KeyNewVersionCreated, "k", 50))
	f.sender.answer = answer(503, nil)
	f.pass(t)
	f.sender.takeDeliveries()

	f.sender.answer = nil
	f.now = t0.Add(backoff[0])
	f.raise(t, event("e2", scope, eventgrid.KeyNewVersionCreated, "k", 50), event("e3", scope, eventgrid.KeyNewVersionCreated, "k", 50))
	f.pass(t)
	want := []delivery{{"sub-1", []string{"e1"}, 1}, {"sub-1", []string{"e2", "e3"}, 0}}
	if diff := cmp.Diff(want, f.sender.takeDeliveries(), cmp.AllowUnexported(delivery{})); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
}

func TestDeletedSubscription(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	scope := f.addTopic(vaultScope("sub", "rg", "a"))
	gone := f.create(t, eventgrid.Subscription{Scope: scope, Name: "gone", Endpoint: endpoint})
	kept := f.create(t, eventgrid.Subscription{Scope: scope, Name: "kept", Endpoint: endpoint})
	f.raise(t, event("e1", scope, eventgrid.KeyNewVersionCreated, "k", 50))
	f.sender.answer = answer(503, nil)
	f.pass(t)
	f.sender.takeDeliveries()

	if ok, err := f.svc.Delete(ctx, gone.ID()); !ok || err != nil {
		t.Fatalf("Delete = %v, %v", ok, err)
	}
	ds := f.pending(t)
	if len(ds) != 1 || ds[0].SubscriptionID != kept.ID() {
		t.Errorf("pending after Delete = %+v, want only the delivery to %s", ds, kept.Name)
	}
	f.now = t0.Add(time.Hour)
	f.pass(t)
	want := []delivery{{"kept", []string{"e1"}, 1}}
	if diff := cmp.Diff(want, f.sender.takeDeliveries(), cmp.AllowUnexported(delivery{})); diff != "" {
		t.Errorf("deliveries after Delete (-want +got):\n%s", diff)
	}
}

// racingStore deletes a subscription just after the dispatcher has read the
// due deliveries, as a DELETE racing with a pass would.
type racingStore struct {
	eventgrid.Store
	id string
}

func (s *racingStore) DueDeliveries(ctx context.Context, now time.Time, max int) ([]eventgrid.Delivery, error) {
	ds, err := s.Store.DueDeliveries(ctx, now, max)
	if err == nil && s.id != "" {
		err = s.Store.DeleteEventSubscription(ctx, s.id)
		s.id = ""
	}
	return ds, err
}

func TestSubscriptionDeletedDuringPass(t *testing.T) {
	f := newFixture(t)
	scope := f.addTopic(vaultScope("sub", "rg", "a"))
	gone := f.create(t, eventgrid.Subscription{Scope: scope, Name: "gone", Endpoint: endpoint})
	f.create(t, eventgrid.Subscription{Scope: scope, Name: "kept", Endpoint: endpoint})
	f.raise(t, event("e1", scope, eventgrid.KeyNewVersionCreated, "k", 50))
	f.disp.Store = &racingStore{Store: f.db, id: gone.ID()}
	f.pass(t)
	want := []delivery{{"kept", []string{"e1"}, 0}}
	if diff := cmp.Diff(want, f.sender.takeDeliveries(), cmp.AllowUnexported(delivery{})); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	if ds := f.pending(t); len(ds) != 0 {
		t.Errorf("pending = %+v, want none", ds)
	}
}

// detachedStore records outcomes even after the caller's context ended, so
// that a test sees what the dispatcher asks of it then.
type detachedStore struct{ eventgrid.Store }

func (s detachedStore) DeleteDeliveries(ctx context.Context, ids []int64) error {
	return s.Store.DeleteDeliveries(context.WithoutCancel(ctx), ids)
}

func (s detachedStore) RetryDeliveries(ctx context.Context, ids []int64, next time.Time, lastError string) error {
	return s.Store.RetryDeliveries(context.WithoutCancel(ctx), ids, next, lastError)
}

// TestShutdownMidDelivery checks that an attempt cut short by the end of
// the dispatcher's context does not count.
func TestShutdownMidDelivery(t *testing.T) {
	f := newFixture(t)
	scope := f.addTopic(vaultScope("sub", "rg", "a"))
	f.create(t, eventgrid.Subscription{Scope: scope, Name: "sub-1", Endpoint: endpoint, MaxDeliveryAttempts: 1})
	f.raise(t, event("e1", scope, eventgrid.KeyNewVersionCreated, "k", 50))
	f.disp.Store = detachedStore{f.db}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.sender.answer = func(eventgrid.Subscription, []eventgrid.Event, int) (int, error) {
		cancel()
		return 0, context.Canceled
	}
	if err := f.disp.Pass(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Pass cancelled mid-delivery = %v, want %v", err, context.Canceled)
	}
	ds := f.pending(t)
	if len(ds) != 1 || ds[0].Attempts != 0 || !ds[0].Next.Equal(t0) {
		t.Errorf("pending after a cancelled attempt = %+v, want the delivery untouched", ds)
	}
}

// TestManySubscriptions delivers to many subscriptions at once (the
// dispatcher runs them concurrently; run with -race), each in its own
// order.
func TestManySubscriptions(t *testing.T) {
	f := newFixture(t)
	scope := f.addTopic(vaultScope("sub", "rg", "a"))
	var want []delivery
	for i := range 8 {
		name := fmt.Sprintf("sub-%d", i)
		f.create(t, eventgrid.Subscription{Scope: scope, Name: name, Endpoint: endpoint, MaxEventsPerBatch: 2})
		want = append(want, delivery{name, []string{"e0", "e1"}, 0}, delivery{name, []string{"e2"}, 0})
	}
	f.raise(t, event("e0", scope, eventgrid.KeyNewVersionCreated, "k", 50), event("e1", scope, eventgrid.KeyNewVersionCreated, "k", 50),
		event("e2", scope, eventgrid.KeyNewVersionCreated, "k", 50))
	f.pass(t)
	if diff := cmp.Diff(want, f.sender.takeDeliveries(), cmp.AllowUnexported(delivery{})); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
}

// TestBatchKeepsEachTTL gives up, in a failed batch, only on the events
// whose own TTL the next attempt would pass.
func TestBatchKeepsEachTTL(t *testing.T) {
	f := newFixture(t)
	scope := f.addTopic(vaultScope("sub", "rg", "a"))
	s := f.create(t, eventgrid.Subscription{Scope: scope, Name: "sub-1", Endpoint: endpoint, MaxEventsPerBatch: 10})
	ctx := context.Background()
	ds := []eventgrid.Delivery{
		{SubscriptionID: s.ID(), Event: event("short", scope, eventgrid.KeyNewVersionCreated, "k", 10), Next: f.now, Expires: f.now.Add(5 * time.Second)},
		{SubscriptionID: s.ID(), Event: event("long", scope, eventgrid.KeyNewVersionCreated, "k", 10), Next: f.now, Expires: f.now.Add(time.Hour)},
	}
	if err := f.db.FanOut(ctx, 0, ds); err != nil {
		t.Fatal(err)
	}
	f.sender.answer = answer(503, nil)
	f.pass(t)
	if got := f.sender.takeDeliveries(); len(got) != 1 || len(got[0].events) != 2 {
		t.Fatalf("deliveries = %+v, want one batch of both", got)
	}
	left := f.pending(t)
	if len(left) != 1 || left[0].Event.ID != "long" || left[0].Attempts != 1 {
		t.Errorf("after a failed batch: %+v; want only the event whose TTL allows a retry", left)
	}
}

// TestOrphanedDeliveries drops deliveries whose subscription is gone,
// should a store have kept them, instead of meeting them every pass.
func TestOrphanedDeliveries(t *testing.T) {
	f := newFixture(t)
	scope := f.addTopic(vaultScope("sub", "rg", "a"))
	s := f.create(t, eventgrid.Subscription{Scope: scope, Name: "sub-1", Endpoint: endpoint})
	f.raise(t, event("e1", scope, eventgrid.KeyNewVersionCreated, "k", 10))
	f.sender.answer = answer(503, nil)
	f.pass(t)
	// Hide the subscription from the dispatcher without the store's
	// cascade: a store that lost it but kept its deliveries.
	orphaned := &hidingStore{DB: f.db, hidden: s.ID()}
	d := &eventgrid.Dispatcher{Store: orphaned, Sender: f.sender, Now: func() time.Time { return f.now.Add(time.Hour) }}
	if err := d.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if left := f.pending(t); len(left) != 0 {
		t.Errorf("deliveries of a vanished subscription remain: %+v", left)
	}
	if got := f.sender.takeDeliveries(); len(got) != 1 {
		t.Errorf("deliveries attempted = %+v; want only the first, before the subscription vanished", got)
	}
}

// hidingStore answers NotFound for one subscription.
type hidingStore struct {
	*sqlite.DB
	hidden string
}

func (h *hidingStore) EventSubscription(ctx context.Context, id string) (eventgrid.Subscription, error) {
	if strings.EqualFold(id, h.hidden) {
		return eventgrid.Subscription{}, tresor.Errorf(tresor.NotFound, "gone")
	}
	return h.DB.EventSubscription(ctx, id)
}
