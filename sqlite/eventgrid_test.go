package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/eventgrid"
	"github.com/tresorkms/tresor/keyvault"
)

var egT0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func egScope(sub, group, vault string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + group + "/providers/Microsoft.KeyVault/vaults/" + vault
}

// fullSubscription returns a subscription with every field set.
func fullSubscription(scope, name string) eventgrid.Subscription {
	cet := time.FixedZone("CET", 3600)
	return eventgrid.Subscription{
		Scope: scope, Name: name,
		Endpoint:          "https://hooks.example/events?code=s3cret&x=ü",
		MaxEventsPerBatch: 17, PreferredBatchSizeKB: 256,
		Filter: eventgrid.Filter{
			IncludedEventTypes: []string{eventgrid.KeyExpired, eventgrid.KeyNearExpiry},
			SubjectBeginsWith:  "pay", SubjectEndsWith: "-key", SubjectCaseSensitive: true,
		},
		Labels:              []string{"team ü", "prod"},
		MaxDeliveryAttempts: 7, EventTTL: 90 * time.Minute,
		Created: egT0.In(cet), Updated: egT0.Add(time.Hour).In(cet),
	}
}

func egEvent(id, topic string) eventgrid.Event {
	return eventgrid.Event{
		ID: id, Topic: topic, Subject: "k", Type: eventgrid.KeyNewVersionCreated,
		Time: egT0.Add(123456789 * time.Nanosecond), Data: []byte(`{"Id":"https://v/keys/k/1","NBF":null}`), DataVersion: "1",
	}
}

func mustPut(tb testing.TB, db *DB, subs ...eventgrid.Subscription) {
	tb.Helper()
	for _, s := range subs {
		if err := db.PutEventSubscription(context.Background(), s); err != nil {
			tb.Fatalf("PutEventSubscription(%s) = %v", s.Name, err)
		}
	}
}

func allDeliveries(tb testing.TB, db *DB) []eventgrid.Delivery {
	tb.Helper()
	ds, err := db.DueDeliveries(context.Background(), egT0.AddDate(100, 0, 0), 1000)
	if err != nil {
		tb.Fatalf("DueDeliveries = %v", err)
	}
	return ds
}

func TestEventSubscriptionRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	scope := egScope("sub", "rg", "v1")
	want := fullSubscription(scope, "Sub-1")
	mustPut(t, db, want)
	for _, id := range []string{want.ID(), strings.ToUpper(want.ID()), strings.ToLower(want.ID())} {
		got, err := db.EventSubscription(ctx, id)
		if err != nil {
			t.Fatalf("EventSubscription(%s) = %v", id, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("EventSubscription(%s) (-want +got):\n%s", id, diff)
		}
		if got.Created.Location() != time.UTC || got.Updated.Location() != time.UTC {
			t.Errorf("EventSubscription times in %v and %v, want UTC", got.Created.Location(), got.Updated.Location())
		}
	}
	list, err := db.EventSubscriptions(ctx, scope)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]eventgrid.Subscription{want}, list); diff != "" {
		t.Errorf("EventSubscriptions (-want +got):\n%s", diff)
	}

	// The zero filter and no labels come back as such.
	bare := eventgrid.Subscription{Scope: scope, Name: "bare", Endpoint: "https://h/", MaxEventsPerBatch: 1,
		PreferredBatchSizeKB: 64, MaxDeliveryAttempts: 30, EventTTL: 1440 * time.Minute, Created: egT0, Updated: egT0}
	mustPut(t, db, bare)
	got, err := db.EventSubscription(ctx, bare.ID())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(bare, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("EventSubscription(bare) (-want +got):\n%s", diff)
	}
}

func TestEventSubscriptionIDCase(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	scope := egScope("sub", "rg", "v1")
	first := fullSubscription(scope, "sub-1")
	mustPut(t, db, first)

	// The same id in another case replaces the subscription.
	second := fullSubscription(strings.ToUpper(scope), "SUB-1")
	second.MaxEventsPerBatch, second.Endpoint = 99, "https://other.example/"
	second.Updated = egT0.Add(2 * time.Hour)
	mustPut(t, db, second)
	list, err := db.EventSubscriptions(ctx, scope)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].MaxEventsPerBatch != 99 || list[0].Endpoint != second.Endpoint || !list[0].Updated.Equal(second.Updated) {
		t.Errorf("EventSubscriptions after a Put in another case = %+v, want the one subscription, replaced", list)
	}

	if err := db.DeleteEventSubscription(ctx, strings.ToLower(first.ID())); err != nil {
		t.Errorf("DeleteEventSubscription(lower case) = %v", err)
	}
	if _, err := db.EventSubscription(ctx, first.ID()); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("EventSubscription after Delete = %v, want NotFound", err)
	}
	if err := db.DeleteEventSubscription(ctx, first.ID()); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("DeleteEventSubscription of an absent subscription = %v, want NotFound", err)
	}
}

func TestEventSubscriptionsScope(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	subs := map[string]eventgrid.Subscription{
		"a": fullSubscription(egScope("s", "g", "v1"), "a"),
		"b": fullSubscription(egScope("s", "g", "v1"), "b"),
		"c": fullSubscription(egScope("s", "g", "v10"), "c"),
		"d": fullSubscription(egScope("s", "g2", "v1"), "d"),
		"e": fullSubscription(egScope("s", "G", "v2"), "e"),
		"f": fullSubscription(egScope("s2", "g", "v1"), "f"),
		"h": fullSubscription(egScope("s", "xg", "v1"), "h"),
	}
	for _, s := range subs {
		mustPut(t, db, s)
	}
	tests := []struct {
		scope string
		want  []string
	}{
		{egScope("s", "g", "v1"), []string{"a", "b"}},
		{strings.ToUpper(egScope("s", "g", "v1")), []string{"a", "b"}},
		{egScope("s", "g", "v2"), []string{"e"}},
		{egScope("s", "g", "v3"), nil},
		{egScope("s", "g", "v1") + "/", nil}, // under the scope, not the scope itself
		{"/subscriptions/s/resourceGroups/g/", []string{"a", "b", "c", "e"}},
		{"/SUBSCRIPTIONS/S/RESOURCEGROUPS/G/", []string{"a", "b", "c", "e"}},
		{"/subscriptions/s/resourceGroups/g", nil},
		{"/subscriptions/s/resourceGroups/_/", nil},
		{"/subscriptions/s/resourceGroups/%/", nil},
		{"/subscriptions/s/", []string{"a", "b", "c", "d", "e", "h"}},
		{"/", []string{"a", "b", "c", "d", "e", "f", "h"}},
	}
	for _, tt := range tests {
		got, err := db.EventSubscriptions(ctx, tt.scope)
		if err != nil {
			t.Fatalf("EventSubscriptions(%s) = %v", tt.scope, err)
		}
		var want []eventgrid.Subscription
		for _, n := range tt.want {
			want = append(want, subs[n])
		}
		slices.SortFunc(want, func(a, b eventgrid.Subscription) int {
			return strings.Compare(strings.ToLower(a.ID()), strings.ToLower(b.ID()))
		})
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("EventSubscriptions(%s) (-want +got):\n%s", tt.scope, diff)
		}
	}
}

func TestEventOutboxAtomic(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	vault := keyvault.Vault{Kind: keyvault.KeyVault, Name: "v1", ID: "v1", SubscriptionID: "s", ResourceGroup: "g", Created: egT0, Updated: egT0}
	if err := db.CreateVault(ctx, vault); err != nil {
		t.Fatal(err)
	}
	topic := egScope("s", "g", "v1")
	version := func(name string, i int) keyvault.KeyVersion {
		return keyvault.KeyVersion{VaultID: "v1", Name: name, Version: fmt.Sprintf("%032x", i), Type: keyvault.RSA,
			Enabled: true, Created: egT0, Updated: egT0}
	}
	ev := func(i int) eventgrid.Event { return egEvent(fmt.Sprint("e", i), topic) }
	bad := ev(0)
	bad.Data = []byte("{not json")
	missing := version("k", 9)
	missing.VaultID = "nowhere"
	otherKey := version("other", 1)

	var want []eventgrid.Event
	steps := []struct {
		op       string
		err      error
		wantKind tresor.Kind // of err, if wantErr
		wantErr  bool
		raised   []eventgrid.Event // on success
	}{
		{op: "CreateKeyVersion", err: db.CreateKeyVersion(ctx, version("k", 1), ev(1)), raised: []eventgrid.Event{ev(1)}},
		{op: "CreateKeyVersion without events", err: db.CreateKeyVersion(ctx, version("k", 2))},
		{op: "CreateKeyVersion, two events", err: db.CreateKeyVersion(ctx, version("k", 3), ev(2), ev(3)), raised: []eventgrid.Event{ev(2), ev(3)}},
		{op: "CreateKeyVersion of an existing version", err: db.CreateKeyVersion(ctx, version("k", 1), ev(4)), wantErr: true, wantKind: tresor.Conflict},
		{op: "CreateKeyVersion in no vault", err: db.CreateKeyVersion(ctx, missing, ev(5)), wantErr: true, wantKind: tresor.NotFound},
		{op: "CreateKeyVersion with an event that is not JSON", err: db.CreateKeyVersion(ctx, version("k", 4), bad), wantErr: true, wantKind: tresor.Internal},
		{op: "UpdateKeyVersion", err: db.UpdateKeyVersion(ctx, version("k", 1), ev(6)), raised: []eventgrid.Event{ev(6)}},
		{op: "UpdateKeyVersion of no key", err: db.UpdateKeyVersion(ctx, version("nokey", 1), ev(7)), wantErr: true, wantKind: tresor.NotFound},
		{op: "UpdateKeyVersion of no version", err: db.UpdateKeyVersion(ctx, version("k", 8), ev(8)), wantErr: true, wantKind: tresor.NotFound},
		{op: "RestoreKey of an existing key", err: db.RestoreKey(ctx, []keyvault.KeyVersion{version("k", 10)}, ev(9)), wantErr: true, wantKind: tresor.Conflict},
		{op: "RestoreKey", err: db.RestoreKey(ctx, []keyvault.KeyVersion{otherKey, version("other", 2)}, ev(10)), raised: []eventgrid.Event{ev(10)}},
		{op: "DeleteKey", err: db.DeleteKey(ctx, "v1", "other", keyvault.Deletion{Deleted: egT0, PurgeAt: egT0.AddDate(0, 0, 7)})},
		{op: "CreateKeyVersion of a deleted key", err: db.CreateKeyVersion(ctx, version("other", 3), ev(11)), wantErr: true, wantKind: tresor.Conflict},
		{op: "UpdateKeyVersion of a deleted key", err: db.UpdateKeyVersion(ctx, otherKey, ev(12)), wantErr: true, wantKind: tresor.NotFound},
	}
	// The steps ran in order as the table was built; check each in turn
	// against the outbox as it ended, built up from the successes.
	for _, s := range steps {
		switch {
		case s.wantErr && (s.err == nil || tresor.KindOf(s.err) != s.wantKind):
			t.Errorf("%s = %v, want kind %v", s.op, s.err, s.wantKind)
		case !s.wantErr && s.err != nil:
			t.Errorf("%s = %v", s.op, s.err)
		}
		want = append(want, s.raised...)
	}
	rs, err := db.Outbox(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []eventgrid.Event
	for i, r := range rs {
		got = append(got, r.Event)
		if i > 0 && r.Seq <= rs[i-1].Seq {
			t.Errorf("Outbox seq %d after %d, want increasing", r.Seq, rs[i-1].Seq)
		}
		if r.Event.Time.Location() != time.UTC {
			t.Errorf("Outbox event time in %v, want UTC", r.Event.Time.Location())
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Outbox (-want +got):\n%s", diff)
	}
	// The refused version with a bad event was not stored either.
	if _, err := db.KeyVersion(ctx, "v1", "k", version("k", 4).Version); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("KeyVersion of the version whose event was refused = %v, want NotFound", err)
	}
	if rs, err := db.Outbox(ctx, 2); err != nil || len(rs) != 2 || rs[0].Event.ID != "e1" {
		t.Errorf("Outbox(2) = %+v, %v, want the oldest two", rs, err)
	}
}

// raiseN puts n events on topic in the outbox and returns them as raised.
func raiseN(tb testing.TB, db *DB, topic string, n int) []eventgrid.Raised {
	tb.Helper()
	ctx := context.Background()
	if _, err := db.Vault(ctx, keyvault.KeyVault, "ev"); err != nil {
		if err := db.CreateVault(ctx, keyvault.Vault{Kind: keyvault.KeyVault, Name: "ev", ID: "ev", Created: egT0, Updated: egT0}); err != nil {
			tb.Fatal(err)
		}
	}
	before, err := db.Outbox(ctx, 10000)
	if err != nil {
		tb.Fatal(err)
	}
	var evs []eventgrid.Event
	for i := range n {
		evs = append(evs, egEvent(fmt.Sprint("e", len(before)+i), topic))
	}
	kv := keyvault.KeyVersion{VaultID: "ev", Name: "k", Version: fmt.Sprintf("%032x", len(before)), Created: egT0, Updated: egT0}
	if err := db.CreateKeyVersion(ctx, kv, evs...); err != nil {
		tb.Fatal(err)
	}
	rs, err := db.Outbox(ctx, 10000)
	if err != nil {
		tb.Fatal(err)
	}
	return rs[len(before):]
}

func TestFanOutStore(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	scope := egScope("s", "g", "v1")
	sub := fullSubscription(scope, "sub-1")
	mustPut(t, db, sub)
	rs := raiseN(t, db, scope, 3)

	ds := []eventgrid.Delivery{
		{SubscriptionID: sub.ID(), Event: rs[0].Event, Next: egT0.Add(1250 * time.Millisecond), Expires: egT0.Add(time.Hour)},
		{SubscriptionID: eventgrid.SubscriptionID(scope, "absent"), Event: rs[0].Event, Next: egT0, Expires: egT0.Add(time.Hour)},
		{SubscriptionID: strings.ToUpper(sub.ID()), Event: rs[1].Event, Attempts: 2, Next: egT0, Expires: egT0.Add(time.Hour), LastError: "HTTP 503"},
	}
	if err := db.FanOut(ctx, rs[1].Seq, ds); err != nil {
		t.Fatalf("FanOut = %v", err)
	}
	left, err := db.Outbox(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rs[2:], left); diff != "" {
		t.Errorf("Outbox after FanOut up to the second event (-want +got):\n%s", diff)
	}
	// Only the deliveries to a subscription that exists are kept, under
	// the subscription's own id; earliest first.
	want := []eventgrid.Delivery{ds[2], ds[0]}
	want[0].SubscriptionID = sub.ID()
	got := allDeliveries(t, db)
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(eventgrid.Delivery{}, "ID")); diff != "" {
		t.Errorf("deliveries after FanOut (-want +got):\n%s", diff)
	}
	for _, d := range got {
		if d.ID == 0 || d.Next.Location() != time.UTC || d.Expires.Location() != time.UTC {
			t.Errorf("delivery %+v: want an id and times in UTC", d)
		}
	}

	if err := db.FanOut(ctx, rs[2].Seq, nil); err != nil {
		t.Fatalf("FanOut(nothing) = %v", err)
	}
	if left, err := db.Outbox(ctx, 100); err != nil || len(left) != 0 {
		t.Errorf("Outbox after FanOut of everything = %v, %v, want empty", left, err)
	}
}

func TestDueDeliveries(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	scope := egScope("s", "g", "v1")
	sub := fullSubscription(scope, "sub-1")
	mustPut(t, db, sub)

	if next, err := db.NextDelivery(ctx); err != nil || !next.IsZero() {
		t.Errorf("NextDelivery with none = %v, %v, want zero", next, err)
	}
	rs := raiseN(t, db, scope, 4)
	at := []time.Duration{3 * time.Second, time.Second, 2 * time.Second, time.Second}
	var ds []eventgrid.Delivery
	for i, r := range rs {
		ds = append(ds, eventgrid.Delivery{SubscriptionID: sub.ID(), Event: r.Event, Next: egT0.Add(at[i]), Expires: egT0.Add(time.Hour)})
	}
	if err := db.FanOut(ctx, rs[3].Seq, ds); err != nil {
		t.Fatal(err)
	}
	if next, err := db.NextDelivery(ctx); err != nil || !next.Equal(egT0.Add(time.Second)) {
		t.Errorf("NextDelivery = %v, %v, want %v", next, err, egT0.Add(time.Second))
	}

	ids := func(ds []eventgrid.Delivery) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.Event.ID)
		}
		return out
	}
	tests := []struct {
		now  time.Duration
		max  int
		want []string
	}{
		{0, 10, nil},
		{999 * time.Millisecond, 10, nil},
		{time.Second, 10, []string{"e1", "e3"}},
		{2 * time.Second, 10, []string{"e1", "e3", "e2"}},
		{2 * time.Second, 2, []string{"e1", "e3"}},
		{time.Hour, 10, []string{"e1", "e3", "e2", "e0"}},
		{time.Hour, 1, []string{"e1"}},
	}
	for _, tt := range tests {
		got, err := db.DueDeliveries(ctx, egT0.Add(tt.now), tt.max)
		if err != nil {
			t.Fatalf("DueDeliveries = %v", err)
		}
		if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
			t.Errorf("DueDeliveries(+%v, %d) (-want +got):\n%s", tt.now, tt.max, diff)
		}
	}

	// Retry e1 and e2: one more attempt each, at the new time; the others
	// stay as they were.
	all := allDeliveries(t, db) // e1, e3, e2, e0
	retried := egT0.Add(10 * time.Second)
	if err := db.RetryDeliveries(ctx, []int64{all[0].ID, all[2].ID, 999999}, retried, "HTTP 500"); err != nil {
		t.Fatalf("RetryDeliveries = %v", err)
	}
	if err := db.RetryDeliveries(ctx, []int64{all[0].ID}, retried.Add(time.Second), "HTTP 502"); err != nil {
		t.Fatalf("RetryDeliveries = %v", err)
	}
	want := []eventgrid.Delivery{all[1], all[3], all[2], all[0]}
	want[2].Attempts, want[2].Next, want[2].LastError = 1, retried, "HTTP 500"
	want[3].Attempts, want[3].Next, want[3].LastError = 2, retried.Add(time.Second), "HTTP 502"
	if diff := cmp.Diff(want, allDeliveries(t, db)); diff != "" {
		t.Errorf("deliveries after RetryDeliveries (-want +got):\n%s", diff)
	}
	if next, err := db.NextDelivery(ctx); err != nil || !next.Equal(egT0.Add(time.Second)) {
		t.Errorf("NextDelivery after RetryDeliveries = %v, %v, want %v", next, err, egT0.Add(time.Second))
	}

	if err := db.DeleteDeliveries(ctx, []int64{all[1].ID, all[3].ID, 999999}); err != nil {
		t.Fatalf("DeleteDeliveries = %v", err)
	}
	if diff := cmp.Diff(want[2:], allDeliveries(t, db)); diff != "" {
		t.Errorf("deliveries after DeleteDeliveries (-want +got):\n%s", diff)
	}
	if next, err := db.NextDelivery(ctx); err != nil || !next.Equal(retried) {
		t.Errorf("NextDelivery after DeleteDeliveries = %v, %v, want %v", next, err, retried)
	}
	if err := db.DeleteDeliveries(ctx, []int64{all[0].ID, all[2].ID}); err != nil {
		t.Fatalf("DeleteDeliveries = %v", err)
	}
	if next, err := db.NextDelivery(ctx); err != nil || !next.IsZero() {
		t.Errorf("NextDelivery after deleting all = %v, %v, want zero", next, err)
	}
}

func TestDeleteEventSubscriptionCascades(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	scope := egScope("s", "g", "v1")
	a, b := fullSubscription(scope, "a"), fullSubscription(scope, "b")
	mustPut(t, db, a, b)
	rs := raiseN(t, db, scope, 2)
	var ds []eventgrid.Delivery
	for _, r := range rs {
		for _, s := range []eventgrid.Subscription{a, b} {
			ds = append(ds, eventgrid.Delivery{SubscriptionID: s.ID(), Event: r.Event, Next: egT0, Expires: egT0.Add(time.Hour)})
		}
	}
	if err := db.FanOut(ctx, rs[1].Seq, ds); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteEventSubscription(ctx, strings.ToUpper(a.ID())); err != nil {
		t.Fatalf("DeleteEventSubscription = %v", err)
	}
	check := func(when string) {
		t.Helper()
		got := allDeliveries(t, db)
		if len(got) != 2 {
			t.Errorf("%s: %d deliveries, want b's 2", when, len(got))
		}
		for _, d := range got {
			if d.SubscriptionID != b.ID() {
				t.Errorf("%s: delivery to %s, want only to %s", when, d.SubscriptionID, b.ID())
			}
		}
	}
	check("after deleting a")
	// A subscription created again under the same id starts afresh.
	mustPut(t, db, a)
	check("after creating a again")
}
