package eventgrid_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/eventgrid"
	"github.com/tresorkms/tresor/keyvault"
	"github.com/tresorkms/tresor/sqlite"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// vaultScope returns the canonical ARM id of a Key Vault.
func vaultScope(sub, group, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + group + "/providers/Microsoft.KeyVault/vaults/" + name
}

// validation is one handshake a sender was asked for.
type validation struct {
	endpoint string
	event    eventgrid.Event
	code     string
}

// delivery is one batch a sender was asked to deliver.
type delivery struct {
	subscription string // its name
	events       []string
	count        int
}

// sender is an eventgrid.Sender that records what it is asked. Its
// handshakes succeed unless validateErr is set; its deliveries answer 200
// unless answer says otherwise.
type sender struct {
	mu          sync.Mutex
	validations []validation
	deliveries  []delivery

	validateErr error
	answer      func(s eventgrid.Subscription, events []eventgrid.Event, count int) (int, error)
}

func (f *sender) Deliver(ctx context.Context, s eventgrid.Subscription, events []eventgrid.Event, count int) (int, error) {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	f.mu.Lock()
	f.deliveries = append(f.deliveries, delivery{s.Name, ids, count})
	answer := f.answer
	f.mu.Unlock()
	if answer == nil {
		return 200, nil
	}
	return answer(s, events, count)
}

func (f *sender) Validate(ctx context.Context, endpoint string, ev eventgrid.Event, code string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.validations = append(f.validations, validation{endpoint, ev, code})
	return f.validateErr
}

// takeDeliveries returns and forgets the deliveries recorded so far, in the
// order of their subscriptions' names (subscriptions run concurrently)
// and, for each subscription, in the order they were made.
func (f *sender) takeDeliveries() []delivery {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.deliveries
	f.deliveries = nil
	slices.SortStableFunc(out, func(a, b delivery) int { return strings.Compare(a.subscription, b.subscription) })
	return out
}

func (f *sender) takeValidations() []validation {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.validations
	f.validations = nil
	return out
}

// fixture is a Service and a Dispatcher on a SQLite store, a recording
// sender and a clock the test moves.
type fixture struct {
	db     *sqlite.DB
	sender *sender
	svc    *eventgrid.Service
	disp   *eventgrid.Dispatcher
	now    time.Time
	topics map[string]eventgrid.Topic // by lower-case id

	vault    keyvault.Vault // the vault whose key versions carry raised events
	versions int
}

// backoff is the fixture's retry schedule: short, and distinct from
// Azure's so that a test sees which one is used.
var backoff = []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "test.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	f := &fixture{db: db, sender: &sender{}, now: t0, topics: map[string]eventgrid.Topic{}}
	now := func() time.Time { return f.now }
	f.svc = &eventgrid.Service{Store: db, Topic: f.topic, Sender: f.sender, Now: now, Rand: rand.Reader}
	f.disp = &eventgrid.Dispatcher{Store: db, Sender: f.sender, Now: now, Backoff: backoff}
	f.vault = keyvault.Vault{Kind: keyvault.KeyVault, Name: "events", ID: "vault-events", SubscriptionID: "sub", ResourceGroup: "rg",
		Created: t0, Updated: t0}
	if err := db.CreateVault(ctx, f.vault); err != nil {
		tb.Fatal(err)
	}
	return f
}

// addTopic makes scope, spelled canonically, a topic with the Key Vault
// event types, and returns it.
func (f *fixture) addTopic(scope string) string {
	f.topics[strings.ToLower(scope)] = eventgrid.Topic{ID: scope, EventTypes: eventgrid.KeyVaultEventTypes}
	return scope
}

func (f *fixture) topic(ctx context.Context, scope string) (eventgrid.Topic, error) {
	t, ok := f.topics[strings.ToLower(scope)]
	if !ok {
		return eventgrid.Topic{}, tresor.Errorf(tresor.NotFound, "The Resource %s was not found.", scope)
	}
	return t, nil
}

// create creates a subscription, failing the test if it cannot.
func (f *fixture) create(tb testing.TB, s eventgrid.Subscription) eventgrid.Subscription {
	tb.Helper()
	got, created, err := f.svc.CreateOrUpdate(context.Background(), s)
	if err != nil || !created {
		tb.Fatalf("CreateOrUpdate(%s) = %v, %v, want created", s.Name, created, err)
	}
	return got
}

// raise puts evs in the outbox the way Key Vault does: with a new key
// version, in its transaction.
func (f *fixture) raise(tb testing.TB, evs ...eventgrid.Event) {
	tb.Helper()
	f.versions++
	kv := keyvault.KeyVersion{VaultID: f.vault.ID, Name: "k", Version: fmt.Sprintf("%032x", f.versions),
		Type: keyvault.RSA, Enabled: true, Created: f.now, Updated: f.now}
	if err := f.db.CreateKeyVersion(context.Background(), kv, evs...); err != nil {
		tb.Fatalf("CreateKeyVersion = %v", err)
	}
}

// event returns an event of type typ about subject on topic, with id id
// and data of about size bytes.
func event(id, topic, typ, subject string, size int) eventgrid.Event {
	data, _ := json.Marshal(map[string]string{"pad": strings.Repeat("x", max(size-10, 0))})
	return eventgrid.Event{ID: id, Topic: topic, Subject: subject, Type: typ, Time: t0, Data: data, DataVersion: "1"}
}

// pass makes one dispatcher pass at the fixture's now.
func (f *fixture) pass(tb testing.TB) {
	tb.Helper()
	if err := f.disp.Pass(context.Background()); err != nil {
		tb.Fatalf("Pass at %v = %v", f.now.Sub(t0), err)
	}
}

// pending returns every delivery in the store, due or not.
func (f *fixture) pending(tb testing.TB) []eventgrid.Delivery {
	tb.Helper()
	ds, err := f.db.DueDeliveries(context.Background(), t0.AddDate(10, 0, 0), 10000)
	if err != nil {
		tb.Fatalf("DueDeliveries = %v", err)
	}
	return ds
}

// outbox returns the events in the outbox.
func (f *fixture) outbox(tb testing.TB) []eventgrid.Raised {
	tb.Helper()
	rs, err := f.db.Outbox(context.Background(), 10000)
	if err != nil {
		tb.Fatalf("Outbox = %v", err)
	}
	return rs
}

func wantBadRequest(tb testing.TB, op string, err error) {
	tb.Helper()
	if tresor.KindOf(err) != tresor.Invalid || tresor.ReasonOf(err) != eventgrid.ReasonBadRequest {
		tb.Errorf("%s = %v, want Invalid with reason %s", op, err, eventgrid.ReasonBadRequest)
	}
}
