// Package armtest holds the conformance suite that every arm.Store passes,
// and an in-memory Store for tests of the code above it.
package armtest

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
)

// TestStore runs the conformance suite against fresh Stores from open.
func TestStore(t *testing.T, open func(t *testing.T) arm.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s arm.Store)
	}{
		{"Subscriptions", testSubscriptions},
		{"PutResourceGroup", testPutResourceGroup},
		{"ResourceGroupCase", testResourceGroupCase},
		{"ResourceGroups", testResourceGroups},
		{"DeleteResourceGroup", testDeleteResourceGroup},
		{"Copies", testCopies},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

func wantKind(tb testing.TB, op string, err error, k tresor.Kind) {
	tb.Helper()
	if !tresor.IsKind(err, k) {
		tb.Fatalf("%s = %v, want kind %v", op, err, k)
	}
}

func must(tb testing.TB, op string, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: %v", op, err)
	}
}

const (
	sub1 = "00000000-0000-4000-8000-000000000001"
	sub2 = "00000000-0000-4000-8000-000000000002"
)

func subscription(id string) arm.Subscription {
	return arm.Subscription{ID: id, TenantID: "10000000-0000-4000-8000-000000000000", DisplayName: "test " + id[len(id)-1:], State: arm.SubscriptionEnabled}
}

func withSubscriptions(t *testing.T, s arm.Store) {
	t.Helper()
	ctx := context.Background()
	must(t, "CreateSubscription", s.CreateSubscription(ctx, subscription(sub1)))
	must(t, "CreateSubscription", s.CreateSubscription(ctx, subscription(sub2)))
}

func testSubscriptions(t *testing.T, s arm.Store) {
	ctx := context.Background()
	got, err := s.Subscriptions(ctx)
	must(t, "Subscriptions", err)
	if len(got) != 0 {
		t.Fatalf("Subscriptions of a new store = %v, want none", got)
	}
	_, err = s.Subscription(ctx, sub1)
	wantKind(t, "Subscription(absent)", err, tresor.NotFound)

	withSubscriptions(t, s)
	wantKind(t, "CreateSubscription(again)", s.CreateSubscription(ctx, subscription(sub1)), tresor.Conflict)

	one, err := s.Subscription(ctx, sub2)
	must(t, "Subscription", err)
	if diff := cmp.Diff(subscription(sub2), one); diff != "" {
		t.Errorf("Subscription(%q) mismatch (-want +got):\n%s", sub2, diff)
	}
	got, err = s.Subscriptions(ctx)
	must(t, "Subscriptions", err)
	if diff := cmp.Diff([]arm.Subscription{subscription(sub1), subscription(sub2)}, got); diff != "" {
		t.Errorf("Subscriptions() mismatch, want oldest first (-want +got):\n%s", diff)
	}
}

func group(sub, name string, tags map[string]string) arm.ResourceGroup {
	if tags == nil {
		tags = map[string]string{}
	}
	return arm.ResourceGroup{SubscriptionID: sub, Name: name, Location: "westeurope", Tags: tags}
}

func testPutResourceGroup(t *testing.T, s arm.Store) {
	ctx := context.Background()
	wantKind(t, "PutResourceGroup(unknown subscription)", s.PutResourceGroup(ctx, group(sub1, "rg", nil)), tresor.NotFound)
	withSubscriptions(t, s)
	_, err := s.ResourceGroup(ctx, sub1, "rg")
	wantKind(t, "ResourceGroup(absent)", err, tresor.NotFound)

	want := group(sub1, "rg", map[string]string{"env": "test", "owner": "ops"})
	must(t, "PutResourceGroup", s.PutResourceGroup(ctx, want))
	got, err := s.ResourceGroup(ctx, sub1, "rg")
	must(t, "ResourceGroup", err)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ResourceGroup mismatch (-want +got):\n%s", diff)
	}

	want.Tags = map[string]string{"env": "prod"}
	want.Location = "northeurope"
	must(t, "PutResourceGroup(replace)", s.PutResourceGroup(ctx, want))
	got, err = s.ResourceGroup(ctx, sub1, "rg")
	must(t, "ResourceGroup", err)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ResourceGroup after replace mismatch (-want +got):\n%s", diff)
	}
	_, err = s.ResourceGroup(ctx, sub2, "rg")
	wantKind(t, "ResourceGroup(other subscription)", err, tresor.NotFound)
}

func testResourceGroupCase(t *testing.T, s arm.Store) {
	ctx := context.Background()
	withSubscriptions(t, s)
	must(t, "PutResourceGroup", s.PutResourceGroup(ctx, group(sub1, "My-RG", nil)))
	must(t, "PutResourceGroup(other case)", s.PutResourceGroup(ctx, group(sub1, "MY-rg", map[string]string{"a": "b"})))
	got, err := s.ResourceGroup(ctx, sub1, "my-rg")
	must(t, "ResourceGroup(lower case)", err)
	if diff := cmp.Diff(group(sub1, "My-RG", map[string]string{"a": "b"}), got); diff != "" {
		t.Errorf("ResourceGroup keeps the first spelling; mismatch (-want +got):\n%s", diff)
	}
	all, err := s.ResourceGroups(ctx, sub1)
	must(t, "ResourceGroups", err)
	if len(all) != 1 {
		t.Errorf("ResourceGroups = %d groups, want 1: names differing in case are one group", len(all))
	}
}

func testResourceGroups(t *testing.T, s arm.Store) {
	ctx := context.Background()
	withSubscriptions(t, s)
	for _, name := range []string{"b", "C", "a"} {
		must(t, "PutResourceGroup", s.PutResourceGroup(ctx, group(sub1, name, nil)))
	}
	must(t, "PutResourceGroup", s.PutResourceGroup(ctx, group(sub2, "z", nil)))
	got, err := s.ResourceGroups(ctx, sub1)
	must(t, "ResourceGroups", err)
	want := []arm.ResourceGroup{group(sub1, "a", nil), group(sub1, "b", nil), group(sub1, "C", nil)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ResourceGroups mismatch, want ordered by lower-cased name (-want +got):\n%s", diff)
	}
}

func testDeleteResourceGroup(t *testing.T, s arm.Store) {
	ctx := context.Background()
	withSubscriptions(t, s)
	wantKind(t, "DeleteResourceGroup(absent)", s.DeleteResourceGroup(ctx, sub1, "rg"), tresor.NotFound)
	must(t, "PutResourceGroup", s.PutResourceGroup(ctx, group(sub1, "RG", nil)))
	must(t, "PutResourceGroup", s.PutResourceGroup(ctx, group(sub2, "RG", nil)))
	must(t, "DeleteResourceGroup", s.DeleteResourceGroup(ctx, sub1, "rg"))
	_, err := s.ResourceGroup(ctx, sub1, "RG")
	wantKind(t, "ResourceGroup(deleted)", err, tresor.NotFound)
	if _, err := s.ResourceGroup(ctx, sub2, "RG"); err != nil {
		t.Errorf("ResourceGroup in the other subscription = %v, want it kept", err)
	}
	must(t, "PutResourceGroup(again)", s.PutResourceGroup(ctx, group(sub1, "rg", nil)))
	got, err := s.ResourceGroup(ctx, sub1, "RG")
	must(t, "ResourceGroup", err)
	if got.Name != "rg" {
		t.Errorf("ResourceGroup(recreated).Name = %q, want the new spelling %q", got.Name, "rg")
	}
}

// testCopies checks that the Store does not share maps with its callers.
func testCopies(t *testing.T, s arm.Store) {
	ctx := context.Background()
	withSubscriptions(t, s)
	g := group(sub1, "rg", map[string]string{"k": "v"})
	must(t, "PutResourceGroup", s.PutResourceGroup(ctx, g))
	g.Tags["k"] = "changed"
	got, err := s.ResourceGroup(ctx, sub1, "rg")
	must(t, "ResourceGroup", err)
	got.Tags["k"] = "changed too"
	again, err := s.ResourceGroup(ctx, sub1, "rg")
	must(t, "ResourceGroup", err)
	if again.Tags["k"] != "v" {
		t.Errorf("tag k = %q after callers modified their maps, want %q", again.Tags["k"], "v")
	}
}
