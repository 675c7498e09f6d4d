package eventgrid_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/eventgrid"
)

const endpoint = "https://hooks.example/events?code=s3cret"

func TestCreateOrUpdateAccepts(t *testing.T) {
	scope := vaultScope("sub", "rg", "vault1")
	labels := make([]string, 100)
	for i := range labels {
		labels[i] = fmt.Sprint("label", i)
	}
	tests := []struct {
		name string
		edit func(s *eventgrid.Subscription) // the request, from a minimal one
		want func(s *eventgrid.Subscription) // the result, from the minimal one with Azure's defaults
	}{
		{name: "defaults"},
		{name: "shortest name", edit: func(s *eventgrid.Subscription) { s.Name = "a-1" }, want: func(s *eventgrid.Subscription) { s.Name = "a-1" }},
		{
			name: "longest name",
			edit: func(s *eventgrid.Subscription) { s.Name = strings.Repeat("Ab9-", 16) },
			want: func(s *eventgrid.Subscription) { s.Name = strings.Repeat("Ab9-", 16) },
		},
		{
			name: "scope in another case",
			edit: func(s *eventgrid.Subscription) { s.Scope = strings.ToUpper(scope) },
		},
		{
			name: "http to 127.0.0.1",
			edit: func(s *eventgrid.Subscription) { s.Endpoint = "http://127.0.0.1:8080/hook" },
			want: func(s *eventgrid.Subscription) { s.Endpoint = "http://127.0.0.1:8080/hook" },
		},
		{
			name: "http to ::1",
			edit: func(s *eventgrid.Subscription) { s.Endpoint = "http://[::1]:8080/hook" },
			want: func(s *eventgrid.Subscription) { s.Endpoint = "http://[::1]:8080/hook" },
		},
		{
			name: "http to localhost",
			edit: func(s *eventgrid.Subscription) { s.Endpoint = "http://LocalHost/hook" },
			want: func(s *eventgrid.Subscription) { s.Endpoint = "http://LocalHost/hook" },
		},
		{
			name: "upper limits",
			edit: func(s *eventgrid.Subscription) {
				s.MaxEventsPerBatch, s.PreferredBatchSizeKB, s.MaxDeliveryAttempts, s.EventTTL = 5000, 1024, 30, 1440*time.Minute
			},
			want: func(s *eventgrid.Subscription) {
				s.MaxEventsPerBatch, s.PreferredBatchSizeKB, s.MaxDeliveryAttempts, s.EventTTL = 5000, 1024, 30, 1440*time.Minute
			},
		},
		{
			name: "lower limits",
			edit: func(s *eventgrid.Subscription) {
				s.MaxEventsPerBatch, s.PreferredBatchSizeKB, s.MaxDeliveryAttempts, s.EventTTL = 1, 1, 1, time.Minute
			},
			want: func(s *eventgrid.Subscription) {
				s.MaxEventsPerBatch, s.PreferredBatchSizeKB, s.MaxDeliveryAttempts, s.EventTTL = 1, 1, 1, time.Minute
			},
		},
		{
			name: "types canonicalised and de-duplicated",
			edit: func(s *eventgrid.Subscription) {
				s.Filter.IncludedEventTypes = []string{"microsoft.keyvault.keyexpired", eventgrid.KeyNewVersionCreated, "MICROSOFT.KEYVAULT.KEYEXPIRED"}
			},
			want: func(s *eventgrid.Subscription) {
				s.Filter.IncludedEventTypes = []string{eventgrid.KeyExpired, eventgrid.KeyNewVersionCreated}
			},
		},
		{
			name: "types tresor never raises but the topic offers",
			edit: func(s *eventgrid.Subscription) {
				s.Filter.IncludedEventTypes = []string{"Microsoft.KeyVault.SecretNearExpiry"}
			},
			want: func(s *eventgrid.Subscription) {
				s.Filter.IncludedEventTypes = []string{"Microsoft.KeyVault.SecretNearExpiry"}
			},
		},
		{
			name: "subject filter kept as given",
			edit: func(s *eventgrid.Subscription) {
				s.Filter.SubjectBeginsWith, s.Filter.SubjectEndsWith, s.Filter.SubjectCaseSensitive = "Pay", "Key", true
			},
			want: func(s *eventgrid.Subscription) {
				s.Filter.SubjectBeginsWith, s.Filter.SubjectEndsWith, s.Filter.SubjectCaseSensitive = "Pay", "Key", true
			},
		},
		{
			name: "100 labels",
			edit: func(s *eventgrid.Subscription) { s.Labels = labels },
			want: func(s *eventgrid.Subscription) { s.Labels = labels },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.addTopic(scope)
			in := eventgrid.Subscription{Scope: scope, Name: "sub-1", Endpoint: endpoint}
			if tt.edit != nil {
				tt.edit(&in)
			}
			want := eventgrid.Subscription{
				Scope: scope, Name: "sub-1", Endpoint: endpoint, MaxEventsPerBatch: 1, PreferredBatchSizeKB: 64,
				MaxDeliveryAttempts: 30, EventTTL: 1440 * time.Minute, Created: t0, Updated: t0,
			}
			if tt.want != nil {
				tt.want(&want)
			}
			got := f.create(t, in)
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("CreateOrUpdate (-want +got):\n%s", diff)
			}
			stored, err := f.svc.Get(context.Background(), want.ID())
			if err != nil {
				t.Fatalf("Get = %v", err)
			}
			if diff := cmp.Diff(want, stored, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Get after CreateOrUpdate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCreateOrUpdateRefuses(t *testing.T) {
	scope := vaultScope("sub", "rg", "vault1")
	tests := []struct {
		name string
		edit func(s *eventgrid.Subscription)
	}{
		{"name too short", func(s *eventgrid.Subscription) { s.Name = "ab" }},
		{"name too long", func(s *eventgrid.Subscription) { s.Name = strings.Repeat("a", 65) }},
		{"name empty", func(s *eventgrid.Subscription) { s.Name = "" }},
		{"name with underscore", func(s *eventgrid.Subscription) { s.Name = "sub_1" }},
		{"name with dot", func(s *eventgrid.Subscription) { s.Name = "sub.1" }},
		{"name with space", func(s *eventgrid.Subscription) { s.Name = "sub 1" }},
		{"name with slash", func(s *eventgrid.Subscription) { s.Name = "sub/1" }},
		{"name with non-ASCII letters", func(s *eventgrid.Subscription) { s.Name = "süb" }},
		{"no endpoint", func(s *eventgrid.Subscription) { s.Endpoint = "" }},
		{"relative endpoint", func(s *eventgrid.Subscription) { s.Endpoint = "/events?code=s3cret" }},
		{"endpoint without scheme", func(s *eventgrid.Subscription) { s.Endpoint = "hooks.example/events?code=s3cret" }},
		{"endpoint without host", func(s *eventgrid.Subscription) { s.Endpoint = "https:///events?code=s3cret" }},
		{"opaque endpoint", func(s *eventgrid.Subscription) { s.Endpoint = "mailto:hook@hooks.example?code=s3cret" }},
		{"unparseable endpoint", func(s *eventgrid.Subscription) { s.Endpoint = "https://[::1?code=s3cret" }},
		{"http to a remote host", func(s *eventgrid.Subscription) { s.Endpoint = "http://hooks.example/events?code=s3cret" }},
		{"http to a private address", func(s *eventgrid.Subscription) { s.Endpoint = "http://10.0.0.1/events?code=s3cret" }},
		{"http to a name starting with localhost", func(s *eventgrid.Subscription) { s.Endpoint = "http://localhost.hooks.example/?code=s3cret" }},
		{"ftp", func(s *eventgrid.Subscription) { s.Endpoint = "ftp://hooks.example/events?code=s3cret" }},
		{"too many events per batch", func(s *eventgrid.Subscription) { s.MaxEventsPerBatch = 5001 }},
		{"negative events per batch", func(s *eventgrid.Subscription) { s.MaxEventsPerBatch = -1 }},
		{"batch too large", func(s *eventgrid.Subscription) { s.PreferredBatchSizeKB = 1025 }},
		{"negative batch size", func(s *eventgrid.Subscription) { s.PreferredBatchSizeKB = -1 }},
		{"too many attempts", func(s *eventgrid.Subscription) { s.MaxDeliveryAttempts = 31 }},
		{"negative attempts", func(s *eventgrid.Subscription) { s.MaxDeliveryAttempts = -1 }},
		{"TTL too long", func(s *eventgrid.Subscription) { s.EventTTL = 1441 * time.Minute }},
		{"TTL under a minute", func(s *eventgrid.Subscription) { s.EventTTL = 30 * time.Second }},
		{"TTL not in whole minutes", func(s *eventgrid.Subscription) { s.EventTTL = 90 * time.Second }},
		{"negative TTL", func(s *eventgrid.Subscription) { s.EventTTL = -time.Minute }},
		{"unknown event type", func(s *eventgrid.Subscription) {
			s.Filter.IncludedEventTypes = []string{eventgrid.KeyExpired, "Microsoft.KeyVault.KeyDeleted"}
		}},
		{"empty event type", func(s *eventgrid.Subscription) { s.Filter.IncludedEventTypes = []string{""} }},
		{"event type of another topic", func(s *eventgrid.Subscription) {
			s.Filter.IncludedEventTypes = []string{"Microsoft.Storage.BlobCreated"}
		}},
		{"101 labels", func(s *eventgrid.Subscription) { s.Labels = make([]string, 101) }},
	}
	// Nothing refused is stored, so the cases can share a store.
	f := newFixture(t)
	f.addTopic(scope)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := eventgrid.Subscription{Scope: scope, Name: "sub-1", Endpoint: endpoint}
			tt.edit(&in)
			_, _, err := f.svc.CreateOrUpdate(context.Background(), in)
			wantBadRequest(t, "CreateOrUpdate", err)
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("CreateOrUpdate = %v, which shows the endpoint's query", err)
			}
			if v := f.sender.takeValidations(); len(v) != 0 {
				t.Errorf("CreateOrUpdate of an invalid subscription made %d handshakes, want none", len(v))
			}
			if subs, err := f.svc.List(context.Background(), scope); err != nil || len(subs) != 0 {
				t.Errorf("List after a refused CreateOrUpdate = %v, %v, want none", subs, err)
			}
		})
	}
}

func TestCreateOrUpdateUnknownScope(t *testing.T) {
	f := newFixture(t)
	_, _, err := f.svc.CreateOrUpdate(context.Background(), eventgrid.Subscription{
		Scope: vaultScope("sub", "rg", "nowhere"), Name: "sub-1", Endpoint: endpoint,
	})
	if !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("CreateOrUpdate on an unknown scope = %v, want NotFound", err)
	}
	if _, err := f.svc.List(context.Background(), vaultScope("sub", "rg", "nowhere")); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("List on an unknown scope = %v, want NotFound", err)
	}
}

func TestHandshake(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	scope := f.addTopic(vaultScope("sub", "rg", "vault1"))
	in := eventgrid.Subscription{Scope: scope, Name: "Sub-1", Endpoint: endpoint, MaxEventsPerBatch: 5}

	// A failed handshake stores nothing.
	f.sender.validateErr = tresor.Errorf(tresor.Invalid, "no echo").WithReason(eventgrid.ReasonBadRequest)
	if _, _, err := f.svc.CreateOrUpdate(ctx, in); !errors.Is(err, f.sender.validateErr) {
		t.Errorf("CreateOrUpdate with a failing handshake = %v, want %v", err, f.sender.validateErr)
	}
	if _, err := f.svc.Get(ctx, in.ID()); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("Get after a failed handshake = %v, want NotFound", err)
	}
	f.sender.takeValidations()
	f.sender.validateErr = nil

	// Creating validates the endpoint, with a validation event carrying
	// the code.
	created := f.create(t, in)
	vs := f.sender.takeValidations()
	if len(vs) != 1 {
		t.Fatalf("CreateOrUpdate (create) made %d handshakes, want 1", len(vs))
	}
	v := vs[0]
	var data struct{ ValidationCode string }
	if err := json.Unmarshal(v.event.Data, &data); err != nil {
		t.Fatalf("validation event data %s: %v", v.event.Data, err)
	}
	if v.endpoint != endpoint || v.code == "" || data.ValidationCode != v.code || v.event.Type != eventgrid.SubscriptionValidation ||
		v.event.Topic != strings.ToLower(scope) || v.event.ID == "" || v.event.ID == v.code || !v.event.Time.Equal(t0) {
		t.Errorf("handshake = %+v (data %s), want the endpoint and a SubscriptionValidation event carrying the code", v, v.event.Data)
	}

	// Changing anything but the endpoint needs no handshake; the name and
	// creation time stay as they were.
	f.now = t0.Add(time.Hour)
	again := in
	again.Name = "SUB-1"
	again.MaxEventsPerBatch = 7
	got, isNew, err := f.svc.CreateOrUpdate(ctx, again)
	if err != nil || isNew {
		t.Fatalf("CreateOrUpdate (replace) = %v, %v, want replaced", isNew, err)
	}
	if n := len(f.sender.takeValidations()); n != 0 {
		t.Errorf("CreateOrUpdate without a new endpoint made %d handshakes, want none", n)
	}
	want := created
	want.MaxEventsPerBatch, want.Updated = 7, t0.Add(time.Hour)
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("CreateOrUpdate (replace) (-want +got):\n%s", diff)
	}

	// A new endpoint is validated; if that fails the old subscription
	// stays.
	moved := in
	moved.Endpoint = "https://other.example/events"
	f.sender.validateErr = tresor.Errorf(tresor.Invalid, "no echo")
	if _, _, err := f.svc.CreateOrUpdate(ctx, moved); !errors.Is(err, f.sender.validateErr) {
		t.Errorf("CreateOrUpdate (new endpoint, failing handshake) = %v, want %v", err, f.sender.validateErr)
	}
	if vs := f.sender.takeValidations(); len(vs) != 1 || vs[0].endpoint != moved.Endpoint {
		t.Errorf("handshakes for a new endpoint = %+v, want one with %s", vs, moved.Endpoint)
	}
	if stored, err := f.svc.Get(ctx, in.ID()); err != nil || stored.Endpoint != endpoint || stored.MaxEventsPerBatch != 7 {
		t.Errorf("Get after a failed handshake = %+v, %v, want the subscription as it was", stored, err)
	}
	f.sender.validateErr = nil
	if got, _, err := f.svc.CreateOrUpdate(ctx, moved); err != nil || got.Endpoint != moved.Endpoint {
		t.Errorf("CreateOrUpdate (new endpoint) = %+v, %v", got, err)
	}
	if n := len(f.sender.takeValidations()); n != 1 {
		t.Errorf("CreateOrUpdate with a new endpoint made %d handshakes, want 1", n)
	}
}

func TestUpdate(t *testing.T) {
	ctx := context.Background()
	scope := vaultScope("sub", "rg", "vault1")
	other := "https://other.example/events"
	tests := []struct {
		name          string
		patch         eventgrid.Patch
		want          func(s *eventgrid.Subscription)
		wantHandshake bool
	}{
		{"nothing", eventgrid.Patch{}, nil, false},
		{"batching", eventgrid.Patch{MaxEventsPerBatch: new(10), PreferredBatchSizeKB: new(128)},
			func(s *eventgrid.Subscription) { s.MaxEventsPerBatch, s.PreferredBatchSizeKB = 10, 128 }, false},
		{"retry policy", eventgrid.Patch{MaxDeliveryAttempts: new(3), EventTTL: new(5 * time.Minute)},
			func(s *eventgrid.Subscription) { s.MaxDeliveryAttempts, s.EventTTL = 3, 5*time.Minute }, false},
		{"filter replaced whole", eventgrid.Patch{Filter: &eventgrid.Filter{SubjectEndsWith: "x", IncludedEventTypes: []string{"microsoft.keyvault.keynearexpiry"}}},
			func(s *eventgrid.Subscription) {
				s.Filter = eventgrid.Filter{SubjectEndsWith: "x", IncludedEventTypes: []string{eventgrid.KeyNearExpiry}}
			}, false},
		{"labels replaced", eventgrid.Patch{Labels: []string{"c"}}, func(s *eventgrid.Subscription) { s.Labels = []string{"c"} }, false},
		{"labels cleared", eventgrid.Patch{Labels: []string{}}, func(s *eventgrid.Subscription) { s.Labels = nil }, false},
		{"zero goes back to the default", eventgrid.Patch{MaxDeliveryAttempts: new(0)},
			func(s *eventgrid.Subscription) { s.MaxDeliveryAttempts = 30 }, false},
		{"endpoint", eventgrid.Patch{Endpoint: &other}, func(s *eventgrid.Subscription) { s.Endpoint = other }, true},
		{"same endpoint", eventgrid.Patch{Endpoint: new(endpoint)}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.addTopic(scope)
			before := f.create(t, eventgrid.Subscription{
				Scope: scope, Name: "sub-1", Endpoint: endpoint, MaxEventsPerBatch: 2, MaxDeliveryAttempts: 5,
				Filter: eventgrid.Filter{SubjectBeginsWith: "k", IncludedEventTypes: []string{eventgrid.KeyExpired}},
				Labels: []string{"a", "b"},
			})
			f.sender.takeValidations()
			f.now = t0.Add(time.Minute)
			got, err := f.svc.Update(ctx, strings.ToUpper(before.ID()), tt.patch)
			if err != nil {
				t.Fatalf("Update = %v", err)
			}
			want := before
			want.Updated = f.now
			if tt.want != nil {
				tt.want(&want)
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Update (-want +got):\n%s", diff)
			}
			stored, err := f.svc.Get(ctx, before.ID())
			if err != nil {
				t.Fatalf("Get = %v", err)
			}
			if diff := cmp.Diff(want, stored, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Get after Update (-want +got):\n%s", diff)
			}
			if n := len(f.sender.takeValidations()); (n == 1) != tt.wantHandshake || n > 1 {
				t.Errorf("Update made %d handshakes, want handshake %v", n, tt.wantHandshake)
			}
		})
	}
}

func TestUpdateRefuses(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	scope := f.addTopic(vaultScope("sub", "rg", "vault1"))
	before := f.create(t, eventgrid.Subscription{Scope: scope, Name: "sub-1", Endpoint: endpoint})

	for _, p := range []eventgrid.Patch{
		{MaxEventsPerBatch: new(5001)},
		{Endpoint: new("http://hooks.example/")},
		{Filter: &eventgrid.Filter{IncludedEventTypes: []string{"nope"}}},
		{EventTTL: new(time.Second)},
	} {
		_, err := f.svc.Update(ctx, before.ID(), p)
		wantBadRequest(t, fmt.Sprintf("Update(%+v)", p), err)
	}
	if stored, err := f.svc.Get(ctx, before.ID()); err != nil || !cmp.Equal(before, stored, cmpopts.EquateEmpty()) {
		t.Errorf("Get after refused updates = %+v, %v, want %+v", stored, err, before)
	}
	if _, err := f.svc.Update(ctx, eventgrid.SubscriptionID(scope, "nope"), eventgrid.Patch{}); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("Update of an absent subscription = %v, want NotFound", err)
	}
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	scope := f.addTopic(vaultScope("sub", "rg", "vault1"))
	a := f.create(t, eventgrid.Subscription{Scope: scope, Name: "sub-a", Endpoint: endpoint})
	b := f.create(t, eventgrid.Subscription{Scope: scope, Name: "sub-b", Endpoint: endpoint})

	steps := []struct {
		id   string
		want bool
	}{
		{strings.ToUpper(a.ID()), true},
		{a.ID(), false},
		{eventgrid.SubscriptionID(scope, "never"), false},
	}
	for _, s := range steps {
		if got, err := f.svc.Delete(ctx, s.id); err != nil || got != s.want {
			t.Errorf("Delete(%s) = %v, %v, want %v", s.id, got, err, s.want)
		}
	}
	subs, err := f.svc.List(ctx, scope)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]eventgrid.Subscription{b}, subs, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("List after Delete (-want +got):\n%s", diff)
	}
}

func TestList(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	scope := f.addTopic(vaultScope("sub", "rg", "vault1"))
	other := f.addTopic(vaultScope("sub", "rg", "vault10"))
	var want []eventgrid.Subscription
	for _, name := range []string{"zeta", "Alpha", "mid"} {
		want = append(want, f.create(t, eventgrid.Subscription{Scope: scope, Name: name, Endpoint: endpoint}))
	}
	f.create(t, eventgrid.Subscription{Scope: other, Name: "elsewhere", Endpoint: endpoint})
	want = []eventgrid.Subscription{want[1], want[2], want[0]} // by id
	got, err := f.svc.List(ctx, strings.ToLower(scope))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
}

func TestDeleteResourceGroup(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	var all []eventgrid.Subscription
	for _, scope := range []string{
		vaultScope("sub", "g", "v1"),
		vaultScope("sub", "G", "v2"), // the same group, spelled otherwise
		vaultScope("sub", "g2", "v3"),
		vaultScope("sub", "xg", "v4"),
		vaultScope("sub2", "g", "v5"),
		vaultScope("sub-other", "g", "v6"),
	} {
		f.addTopic(scope)
		all = append(all, f.create(t, eventgrid.Subscription{Scope: scope, Name: "sub-1", Endpoint: endpoint}))
	}
	if err := f.svc.DeleteResourceGroup(ctx, "SUB", "g"); err != nil {
		t.Fatalf("DeleteResourceGroup = %v", err)
	}
	for i, s := range all {
		_, err := f.svc.Get(ctx, s.ID())
		gone := tresor.IsKind(err, tresor.NotFound)
		if wantGone := i < 2; gone != wantGone || (err != nil && !gone) {
			t.Errorf("Get(%s) after DeleteResourceGroup(SUB, g) = %v, want gone %v", s.ID(), err, wantGone)
		}
	}
	if err := f.svc.DeleteResourceGroup(ctx, "sub", "empty"); err != nil {
		t.Errorf("DeleteResourceGroup of a group without subscriptions = %v", err)
	}
}
