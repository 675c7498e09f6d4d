package identitytest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/identity"
)

// TestStore is the conformance suite for identity.Store implementations.
// open must return a new, empty Store for each call; it is called once per
// subtest.
func TestStore(t *testing.T, open func(tb testing.TB) identity.Store) {
	t.Run("Tenants", func(t *testing.T) { testTenants(t, open(t)) })
	t.Run("ServicePrincipals", func(t *testing.T) { testServicePrincipals(t, open(t)) })
	t.Run("UpdateServicePrincipal", func(t *testing.T) { testUpdateServicePrincipal(t, open(t)) })
	t.Run("ManagedIdentities", func(t *testing.T) { testManagedIdentities(t, open(t)) })
	t.Run("SigningKeys", func(t *testing.T) { testSigningKeys(t, open(t)) })
}

// base is a fixed time with the second precision that Stores keep.
var base = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func guid(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

func testTenants(t *testing.T, s identity.Store) {
	ctx := context.Background()
	if got, err := s.Tenants(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Tenants() on an empty store = %v, %v; want none", got, err)
	}
	// Created out of order, and two at the same instant, to check ordering.
	tenants := []identity.Tenant{
		{ID: guid(3), DisplayName: "third", Created: base.Add(2 * time.Second)},
		{ID: guid(2), DisplayName: "second", Created: base},
		{ID: guid(1), DisplayName: "first", Created: base},
	}
	for _, tn := range tenants {
		if err := s.CreateTenant(ctx, tn); err != nil {
			t.Fatalf("CreateTenant(%s) = %v", tn.ID, err)
		}
	}
	got, err := s.Tenant(ctx, guid(3))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(tenants[0], got); diff != "" {
		t.Errorf("Tenant(%s) mismatch (-want +got):\n%s", guid(3), diff)
	}
	list, err := s.Tenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []identity.Tenant{tenants[2], tenants[1], tenants[0]}
	if diff := cmp.Diff(want, list); diff != "" {
		t.Errorf("Tenants() mismatch (-want +got):\n%s", diff)
	}

	tests := []struct {
		name string
		err  error
		want tresor.Kind
	}{
		{"create existing", s.CreateTenant(ctx, identity.Tenant{ID: guid(1), DisplayName: "again", Created: base}), tresor.Conflict},
		{"get missing", second(s.Tenant(ctx, guid(9))), tresor.NotFound},
	}
	for _, tt := range tests {
		if got := tresor.KindOf(tt.err); tt.err == nil || got != tt.want {
			t.Errorf("%s: error = %v (kind %v), want kind %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func newSP(n int, tenant string, created time.Time) identity.ServicePrincipal {
	return identity.ServicePrincipal{
		ObjectID:    guid(100 + n),
		AppID:       guid(200 + n),
		DisplayName: fmt.Sprintf("app %d", n),
		TenantID:    tenant,
		Type:        tresor.ServicePrincipal,
		SecretHash:  []byte(fmt.Sprintf("hash-%d-%032d", n, 0)),
		SecretSalt:  []byte(fmt.Sprintf("salt-%d", n)),
		Created:     created,
	}
}

func testServicePrincipals(t *testing.T, s identity.Store) {
	ctx := context.Background()
	for _, id := range []string{guid(1), guid(2)} {
		if err := s.CreateTenant(ctx, identity.Tenant{ID: id, DisplayName: id, Created: base}); err != nil {
			t.Fatal(err)
		}
	}
	sps := []identity.ServicePrincipal{
		newSP(3, guid(1), base.Add(time.Second)),
		newSP(2, guid(1), base),
		newSP(1, guid(1), base),
		newSP(4, guid(2), base),
	}
	sps[3].Type = tresor.ManagedIdentity
	for _, sp := range sps {
		if err := s.CreateServicePrincipal(ctx, sp); err != nil {
			t.Fatalf("CreateServicePrincipal(%s) = %v", sp.ObjectID, err)
		}
	}

	got, err := s.ServicePrincipal(ctx, sps[3].ObjectID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sps[3], got); diff != "" {
		t.Errorf("ServicePrincipal(%s) mismatch (-want +got):\n%s", sps[3].ObjectID, diff)
	}
	got, err = s.ServicePrincipalByAppID(ctx, sps[0].AppID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sps[0], got); diff != "" {
		t.Errorf("ServicePrincipalByAppID(%s) mismatch (-want +got):\n%s", sps[0].AppID, diff)
	}
	list, err := s.ServicePrincipals(ctx, guid(1))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]identity.ServicePrincipal{sps[2], sps[1], sps[0]}, list); diff != "" {
		t.Errorf("ServicePrincipals(%s) mismatch (-want +got):\n%s", guid(1), diff)
	}
	if list, err := s.ServicePrincipals(ctx, guid(9)); err != nil || len(list) != 0 {
		t.Errorf("ServicePrincipals(unknown tenant) = %v, %v; want none", list, err)
	}

	sameObject := newSP(5, guid(1), base)
	sameObject.ObjectID = sps[0].ObjectID
	sameApp := newSP(6, guid(2), base)
	sameApp.AppID = sps[0].AppID
	tests := []struct {
		name string
		err  error
		want tresor.Kind
	}{
		{"object ID taken", s.CreateServicePrincipal(ctx, sameObject), tresor.Conflict},
		{"app ID taken in another tenant", s.CreateServicePrincipal(ctx, sameApp), tresor.Conflict},
		{"tenant missing", s.CreateServicePrincipal(ctx, newSP(7, guid(9), base)), tresor.NotFound},
		{"get missing", second(s.ServicePrincipal(ctx, guid(999))), tresor.NotFound},
		{"get missing app", second(s.ServicePrincipalByAppID(ctx, guid(999))), tresor.NotFound},
	}
	for _, tt := range tests {
		if got := tresor.KindOf(tt.err); tt.err == nil || got != tt.want {
			t.Errorf("%s: error = %v (kind %v), want kind %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func testManagedIdentities(t *testing.T, s identity.Store) {
	ctx := context.Background()
	if err := s.CreateTenant(ctx, identity.Tenant{ID: guid(1), DisplayName: "t", Created: base}); err != nil {
		t.Fatal(err)
	}
	const rid = "/subscriptions/" + "00000000-0000-4000-8000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
	mi := newSP(1, guid(1), base)
	mi.Type, mi.SecretHash, mi.SecretSalt, mi.ResourceID = tresor.ManagedIdentity, nil, nil, rid
	if err := s.CreateServicePrincipal(ctx, mi); err != nil {
		t.Fatal(err)
	}
	got, err := s.ServicePrincipalByResourceID(ctx, strings.ToUpper(rid))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(mi, got); diff != "" {
		t.Errorf("ServicePrincipalByResourceID mismatch (-want +got):\n%s", diff)
	}
	other := newSP(2, guid(1), base) // no resource id, like every plain principal
	if err := s.CreateServicePrincipal(ctx, other); err != nil {
		t.Fatal(err)
	}
	sameResource := newSP(3, guid(1), base)
	sameResource.ResourceID = strings.ToLower(rid)
	tests := []struct {
		name string
		err  error
		want tresor.Kind
	}{
		{"resource ID taken, other case", s.CreateServicePrincipal(ctx, sameResource), tresor.Conflict},
		{"by empty resource ID", second(s.ServicePrincipalByResourceID(ctx, "")), tresor.NotFound},
		{"by unknown resource ID", second(s.ServicePrincipalByResourceID(ctx, rid+"x")), tresor.NotFound},
		{"delete missing", s.DeleteServicePrincipal(ctx, guid(999)), tresor.NotFound},
	}
	for _, tt := range tests {
		if got := tresor.KindOf(tt.err); tt.err == nil || got != tt.want {
			t.Errorf("%s: error = %v (kind %v), want kind %v", tt.name, tt.err, got, tt.want)
		}
	}
	if err := s.DeleteServicePrincipal(ctx, mi.ObjectID); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"by object ID":   second(s.ServicePrincipal(ctx, mi.ObjectID)),
		"by app ID":      second(s.ServicePrincipalByAppID(ctx, mi.AppID)),
		"by resource ID": second(s.ServicePrincipalByResourceID(ctx, rid)),
	} {
		if !tresor.IsKind(err, tresor.NotFound) {
			t.Errorf("after delete, lookup %s = %v, want NotFound", name, err)
		}
	}
	if _, err := s.ServicePrincipal(ctx, other.ObjectID); err != nil {
		t.Errorf("deleting one principal removed another: %v", err)
	}
	// The resource id is free again.
	sameResource.ObjectID, sameResource.AppID = guid(50), guid(51)
	if err := s.CreateServicePrincipal(ctx, sameResource); err != nil {
		t.Errorf("re-create with a freed resource id: %v", err)
	}
}

func testUpdateServicePrincipal(t *testing.T, s identity.Store) {
	ctx := context.Background()
	if err := s.CreateTenant(ctx, identity.Tenant{ID: guid(1), DisplayName: "t", Created: base}); err != nil {
		t.Fatal(err)
	}
	sp := newSP(1, guid(1), base)
	if err := s.CreateServicePrincipal(ctx, sp); err != nil {
		t.Fatal(err)
	}
	// Only the mutable fields change; the others in the argument are ignored.
	update := sp
	update.DisplayName = "renamed"
	update.SecretHash = []byte("new hash")
	update.SecretSalt = []byte("new salt")
	update.AppID = guid(999)
	update.Type = tresor.User
	update.Created = base.Add(time.Hour)
	if err := s.UpdateServicePrincipal(ctx, update); err != nil {
		t.Fatal(err)
	}
	want := sp
	want.DisplayName, want.SecretHash, want.SecretSalt = update.DisplayName, update.SecretHash, update.SecretSalt
	got, err := s.ServicePrincipal(ctx, sp.ObjectID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after UpdateServicePrincipal, mismatch (-want +got):\n%s", diff)
	}
	err = s.UpdateServicePrincipal(ctx, newSP(2, guid(1), base))
	if !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("UpdateServicePrincipal(missing) = %v, want NotFound", err)
	}
}

func testSigningKeys(t *testing.T, s identity.Store) {
	ctx := context.Background()
	keys := []identity.SigningKey{
		{ID: "kid-c", Sealed: []byte{3, 0, 255}, Created: base.Add(time.Second)},
		{ID: "kid-b", Sealed: []byte{2}, Created: base},
		{ID: "kid-a", Sealed: []byte{1}, Created: base},
	}
	for _, k := range keys {
		if err := s.PutSigningKey(ctx, k); err != nil {
			t.Fatalf("PutSigningKey(%s) = %v", k.ID, err)
		}
	}
	got, err := s.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]identity.SigningKey{keys[2], keys[1], keys[0]}, got); diff != "" {
		t.Errorf("SigningKeys() mismatch (-want +got):\n%s", diff)
	}
	err = s.PutSigningKey(ctx, identity.SigningKey{ID: "kid-a", Sealed: []byte{9}, Created: base})
	if !tresor.IsKind(err, tresor.Conflict) {
		t.Errorf("PutSigningKey(existing) = %v, want Conflict", err)
	}
}

func second[T any](_ T, err error) error { return err }
