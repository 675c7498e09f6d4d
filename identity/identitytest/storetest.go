package identitytest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/identity"
)

// TestStore is the conformance suite for identity.Store implementations.
// open must return a new, empty Store for each call; it is called once per
// subtest.
func TestStore(t *testing.T, open func(tb testing.TB) identity.Store) {
	t.Run("Tenants", func(t *testing.T) { testTenants(t, open(t)) })
	t.Run("Applications", func(t *testing.T) { testApplications(t, open(t)) })
	t.Run("Passwords", func(t *testing.T) { testPasswords(t, open(t)) })
	t.Run("ServicePrincipals", func(t *testing.T) { testServicePrincipals(t, open(t)) })
	t.Run("Deletes", func(t *testing.T) { testDeletes(t, open(t)) })
	t.Run("CrossTenant", func(t *testing.T) { testCrossTenant(t, open(t)) })
	t.Run("UpdateApplication", func(t *testing.T) { testUpdateApplication(t, open(t)) })
	t.Run("FederatedCredentials", func(t *testing.T) { testFederatedCredentials(t, open(t)) })
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

// newApp returns application n of a tenant; its service principal
// (newSP(n, ...)) shares its client id.
func newApp(n int, tenant string, created time.Time) identity.Application {
	return identity.Application{
		ObjectID:       guid(300 + n),
		AppID:          guid(200 + n),
		TenantID:       tenant,
		DisplayName:    fmt.Sprintf("app %d", n),
		SignInAudience: identity.AudienceMyOrg,
		Created:        created,
	}
}

// newFederated returns federated credential n.
func newFederated(n int, name string) identity.FederatedCredential {
	return identity.FederatedCredential{
		ID:          guid(500 + n),
		Name:        name,
		Issuer:      "https://localhost:8443/" + guid(1) + "/",
		Subject:     guid(600 + n),
		Audiences:   []string{identity.TokenExchangeAudience},
		Description: fmt.Sprintf("credential %d", n),
	}
}

// newPassword returns password n, valid for a day from start.
func newPassword(n int, start time.Time) identity.PasswordCredential {
	return identity.PasswordCredential{
		KeyID:       guid(400 + n),
		DisplayName: fmt.Sprintf("password %d", n),
		Hint:        fmt.Sprintf("h%02d", n),
		Hash:        []byte(fmt.Sprintf("hash-%d-%032d", n, 0)),
		Salt:        []byte(fmt.Sprintf("salt-%d", n)),
		Start:       start,
		End:         start.Add(24 * time.Hour),
	}
}

func newSP(n int, tenant string, created time.Time) identity.ServicePrincipal {
	return identity.ServicePrincipal{
		ObjectID:    guid(100 + n),
		AppID:       guid(200 + n),
		DisplayName: fmt.Sprintf("app %d", n),
		TenantID:    tenant,
		Type:        tresor.ServicePrincipal,
		Created:     created,
	}
}

// newMI returns managed identity n, which has no application.
func newMI(n int, tenant, resourceID string) identity.ServicePrincipal {
	mi := newSP(n, tenant, base)
	mi.Type, mi.ResourceID = tresor.ManagedIdentity, resourceID
	return mi
}

// equateEmpty lets a Store return an application without passwords with a
// nil or an empty slice.
var equateEmpty = cmpopts.EquateEmpty()

func createTenants(t *testing.T, s identity.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := s.CreateTenant(context.Background(), identity.Tenant{ID: id, DisplayName: id, Created: base}); err != nil {
			t.Fatal(err)
		}
	}
}

// createApps creates each application and its service principal.
func createApps(t *testing.T, s identity.Store, apps ...identity.Application) {
	t.Helper()
	ctx := context.Background()
	for _, a := range apps {
		if err := s.CreateApplication(ctx, a); err != nil {
			t.Fatalf("CreateApplication(%s) = %v", a.ObjectID, err)
		}
	}
}

func testApplications(t *testing.T, s identity.Store) {
	ctx := context.Background()
	createTenants(t, s, guid(1), guid(2))
	apps := []identity.Application{
		newApp(3, guid(1), base.Add(time.Second)),
		newApp(2, guid(1), base),
		newApp(1, guid(1), base),
		newApp(4, guid(2), base),
	}
	// Passwords given out of order come back by start, ties by key id.
	apps[0].Passwords = []identity.PasswordCredential{newPassword(3, base.Add(time.Hour)), newPassword(2, base), newPassword(1, base)}
	createApps(t, s, apps...)
	want := apps[0]
	want.Passwords = []identity.PasswordCredential{newPassword(1, base), newPassword(2, base), newPassword(3, base.Add(time.Hour))}

	got, err := s.Application(ctx, apps[0].ObjectID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
		t.Errorf("Application(%s) mismatch (-want +got):\n%s", apps[0].ObjectID, diff)
	}
	got, err = s.ApplicationByAppID(ctx, apps[0].AppID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
		t.Errorf("ApplicationByAppID(%s) mismatch (-want +got):\n%s", apps[0].AppID, diff)
	}
	list, err := s.Applications(ctx, guid(1))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]identity.Application{apps[2], apps[1], want}, list, equateEmpty); diff != "" {
		t.Errorf("Applications(%s) mismatch (-want +got):\n%s", guid(1), diff)
	}
	if list, err := s.Applications(ctx, guid(9)); err != nil || len(list) != 0 {
		t.Errorf("Applications(unknown tenant) = %v, %v; want none", list, err)
	}

	// A managed identity, whose ids the conflicts below reuse.
	mi := newMI(5, guid(1), "/subscriptions/x/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi")
	if err := s.CreateServicePrincipal(ctx, mi); err != nil {
		t.Fatal(err)
	}
	sameObject := newApp(6, guid(1), base)
	sameObject.ObjectID = apps[1].ObjectID
	objectOfSP := newApp(7, guid(1), base)
	objectOfSP.ObjectID = mi.ObjectID
	sameApp := newApp(8, guid(2), base)
	sameApp.AppID = apps[1].AppID
	appOfMI := newApp(9, guid(1), base)
	appOfMI.AppID = mi.AppID
	takenKey := newApp(10, guid(1), base)
	takenKey.Passwords = []identity.PasswordCredential{newPassword(2, base)}
	twiceKey := newApp(11, guid(1), base)
	twiceKey.Passwords = []identity.PasswordCredential{newPassword(20, base), newPassword(20, base.Add(time.Hour))}
	tests := []struct {
		name string
		err  error
		want tresor.Kind
	}{
		{"object ID taken by an application", s.CreateApplication(ctx, sameObject), tresor.Conflict},
		{"object ID taken by a service principal", s.CreateApplication(ctx, objectOfSP), tresor.Conflict},
		{"app ID taken in another tenant", s.CreateApplication(ctx, sameApp), tresor.Conflict},
		{"app ID taken by a managed identity", s.CreateApplication(ctx, appOfMI), tresor.Conflict},
		{"password key ID taken by another application", s.CreateApplication(ctx, takenKey), tresor.Conflict},
		{"password key ID given twice", s.CreateApplication(ctx, twiceKey), tresor.Conflict},
		{"tenant missing", s.CreateApplication(ctx, newApp(12, guid(9), base)), tresor.NotFound},
		{"get missing", second(s.Application(ctx, guid(999))), tresor.NotFound},
		{"get missing app ID", second(s.ApplicationByAppID(ctx, guid(999))), tresor.NotFound},
		{"get an application by its client ID as object ID", second(s.Application(ctx, apps[0].AppID)), tresor.NotFound},
		{"delete missing", s.DeleteApplication(ctx, guid(999)), tresor.NotFound},
	}
	for _, tt := range tests {
		if got := tresor.KindOf(tt.err); tt.err == nil || got != tt.want {
			t.Errorf("%s: error = %v (kind %v), want kind %v", tt.name, tt.err, got, tt.want)
		}
	}
	// The failed creations left nothing behind.
	if list, err := s.Applications(ctx, guid(1)); err != nil || len(list) != 3 {
		t.Errorf("Applications(%s) after failed creations = %d, %v; want 3", guid(1), len(list), err)
	}
	if _, err := s.Application(ctx, twiceKey.ObjectID); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("Application(%s) after a failed creation = %v, want NotFound", twiceKey.ObjectID, err)
	}
}

func testPasswords(t *testing.T, s identity.Store) {
	ctx := context.Background()
	createTenants(t, s, guid(1))
	a, b := newApp(1, guid(1), base), newApp(2, guid(1), base)
	a.Passwords = []identity.PasswordCredential{newPassword(1, base)}
	createApps(t, s, a, b)

	// Added later but starting earlier: it sorts first.
	early := newPassword(2, base.Add(-time.Hour))
	early.DisplayName, early.Hint = "", "" // optional fields round-trip empty
	if err := s.AddPassword(ctx, a.ObjectID, early); err != nil {
		t.Fatal(err)
	}
	if err := s.AddPassword(ctx, a.ObjectID, newPassword(3, base.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	got, err := s.Application(ctx, a.ObjectID)
	if err != nil {
		t.Fatal(err)
	}
	want := []identity.PasswordCredential{early, newPassword(1, base), newPassword(3, base.Add(time.Hour))}
	if diff := cmp.Diff(want, got.Passwords, equateEmpty); diff != "" {
		t.Errorf("passwords after AddPassword mismatch (-want +got):\n%s", diff)
	}

	tests := []struct {
		name string
		err  error
		want tresor.Kind
	}{
		{"add to missing application", s.AddPassword(ctx, guid(999), newPassword(4, base)), tresor.NotFound},
		{"add a key ID taken by this application", s.AddPassword(ctx, a.ObjectID, newPassword(1, base)), tresor.Conflict},
		{"add a key ID taken by another application", s.AddPassword(ctx, b.ObjectID, newPassword(1, base)), tresor.Conflict},
		{"remove from missing application", s.RemovePassword(ctx, guid(999), newPassword(1, base).KeyID), tresor.NotFound},
		{"remove another application's password", s.RemovePassword(ctx, b.ObjectID, newPassword(1, base).KeyID), tresor.NotFound},
		{"remove missing key", s.RemovePassword(ctx, a.ObjectID, guid(999)), tresor.NotFound},
	}
	for _, tt := range tests {
		if got := tresor.KindOf(tt.err); tt.err == nil || got != tt.want {
			t.Errorf("%s: error = %v (kind %v), want kind %v", tt.name, tt.err, got, tt.want)
		}
	}

	if err := s.RemovePassword(ctx, a.ObjectID, newPassword(1, base).KeyID); err != nil {
		t.Fatal(err)
	}
	if err := s.RemovePassword(ctx, a.ObjectID, newPassword(1, base).KeyID); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("RemovePassword twice = %v, want NotFound", err)
	}
	got, err = s.ApplicationByAppID(ctx, a.AppID)
	if err != nil {
		t.Fatal(err)
	}
	want = []identity.PasswordCredential{early, newPassword(3, base.Add(time.Hour))}
	if diff := cmp.Diff(want, got.Passwords, equateEmpty); diff != "" {
		t.Errorf("passwords after RemovePassword mismatch (-want +got):\n%s", diff)
	}
	if got, err := s.Application(ctx, b.ObjectID); err != nil || len(got.Passwords) != 0 {
		t.Errorf("the other application's passwords = %v, %v; want none", got.Passwords, err)
	}
}

func testServicePrincipals(t *testing.T, s identity.Store) {
	ctx := context.Background()
	createTenants(t, s, guid(1), guid(2))
	createApps(t, s, newApp(1, guid(1), base), newApp(2, guid(1), base), newApp(3, guid(1), base),
		newApp(4, guid(2), base), newApp(5, guid(1), base))
	sps := []identity.ServicePrincipal{
		newSP(3, guid(1), base.Add(time.Second)),
		newSP(2, guid(1), base),
		newSP(1, guid(1), base),
		newSP(4, guid(2), base),
	}
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
	got, err = s.ServicePrincipalByAppID(ctx, guid(1), sps[0].AppID)
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
	objectOfApp := newSP(5, guid(1), base)
	objectOfApp.ObjectID = newApp(1, guid(1), base).ObjectID
	miOfApp := newMI(6, guid(1), "/subscriptions/x/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi")
	miOfApp.AppID = newApp(5, guid(1), base).AppID
	tests := []struct {
		name string
		err  error
		want tresor.Kind
	}{
		{"object ID taken", s.CreateServicePrincipal(ctx, sameObject), tresor.Conflict},
		{"object ID taken by an application", s.CreateServicePrincipal(ctx, objectOfApp), tresor.Conflict},
		{"second service principal of an application", s.CreateServicePrincipal(ctx, newSP(4, guid(2), base.Add(time.Hour))), tresor.Conflict},
		{"no application", s.CreateServicePrincipal(ctx, newSP(7, guid(1), base)), tresor.NotFound},
		{"managed identity with an application's app ID", s.CreateServicePrincipal(ctx, miOfApp), tresor.Conflict},
		{"tenant missing", s.CreateServicePrincipal(ctx, newSP(7, guid(9), base)), tresor.NotFound},
		{"get missing", second(s.ServicePrincipal(ctx, guid(999))), tresor.NotFound},
		{"get missing app", second(s.ServicePrincipalByAppID(ctx, guid(1), guid(999))), tresor.NotFound},
		{"get by the application's object ID", second(s.ServicePrincipal(ctx, newApp(1, guid(1), base).ObjectID)), tresor.NotFound},
	}
	for _, tt := range tests {
		if got := tresor.KindOf(tt.err); tt.err == nil || got != tt.want {
			t.Errorf("%s: error = %v (kind %v), want kind %v", tt.name, tt.err, got, tt.want)
		}
	}
	if _, err := s.ServicePrincipalByAppID(ctx, guid(1), newApp(5, guid(1), base).AppID); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("after failed creations, the service principal of app 5 = %v, want NotFound", err)
	}
}

// testDeletes checks what deleting an application or a service principal
// takes with it.
func testDeletes(t *testing.T, s identity.Store) {
	ctx := context.Background()
	createTenants(t, s, guid(1))
	a, b := newApp(1, guid(1), base), newApp(2, guid(1), base)
	a.Passwords = []identity.PasswordCredential{newPassword(1, base), newPassword(2, base)}
	b.Passwords = []identity.PasswordCredential{newPassword(3, base)}
	createApps(t, s, a, b)
	for _, sp := range []identity.ServicePrincipal{newSP(1, guid(1), base), newSP(2, guid(1), base)} {
		if err := s.CreateServicePrincipal(ctx, sp); err != nil {
			t.Fatal(err)
		}
	}

	// Deleting a service principal keeps its application and passwords.
	if err := s.DeleteServicePrincipal(ctx, newSP(2, guid(1), base).ObjectID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ServicePrincipalByAppID(ctx, guid(1), b.AppID); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("ServicePrincipalByAppID after DeleteServicePrincipal = %v, want NotFound", err)
	}
	got, err := s.Application(ctx, b.ObjectID)
	if err != nil || len(got.Passwords) != 1 {
		t.Errorf("application after its service principal was deleted = %+v, %v; want it with its password", got, err)
	}
	if err := s.DeleteServicePrincipal(ctx, newSP(2, guid(1), base).ObjectID); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("DeleteServicePrincipal twice = %v, want NotFound", err)
	}
	// An application without a service principal can be given one again.
	again := newSP(2, guid(1), base)
	again.ObjectID = guid(150)
	if err := s.CreateServicePrincipal(ctx, again); err != nil {
		t.Errorf("re-create the service principal = %v", err)
	}

	// Deleting an application takes its service principal and passwords.
	if err := s.DeleteApplication(ctx, a.ObjectID); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"application":                   second(s.Application(ctx, a.ObjectID)),
		"application by app ID":         second(s.ApplicationByAppID(ctx, a.AppID)),
		"service principal":             second(s.ServicePrincipal(ctx, newSP(1, guid(1), base).ObjectID)),
		"service principal by app ID":   second(s.ServicePrincipalByAppID(ctx, guid(1), a.AppID)),
		"its password":                  s.RemovePassword(ctx, a.ObjectID, newPassword(1, base).KeyID),
		"application, deleted again":    s.DeleteApplication(ctx, a.ObjectID),
		"password added to the deleted": s.AddPassword(ctx, a.ObjectID, newPassword(9, base)),
	} {
		if !tresor.IsKind(err, tresor.NotFound) {
			t.Errorf("after DeleteApplication, %s: %v, want NotFound", name, err)
		}
	}
	if got, err := s.Application(ctx, b.ObjectID); err != nil || len(got.Passwords) != 1 {
		t.Errorf("deleting one application changed another: %+v, %v", got, err)
	}
	// Its ids and its passwords' key ids are free again.
	a.Created = base.Add(time.Hour)
	if err := s.CreateApplication(ctx, a); err != nil {
		t.Errorf("re-create a deleted application with its ids = %v", err)
	}
	if list, err := s.ServicePrincipals(ctx, guid(1)); err != nil || len(list) != 1 || list[0].ObjectID != guid(150) {
		t.Errorf("ServicePrincipals after the deletes = %v, %v; want only %s", list, err, guid(150))
	}
}

func testManagedIdentities(t *testing.T, s identity.Store) {
	ctx := context.Background()
	createTenants(t, s, guid(1))
	const rid = "/subscriptions/" + "00000000-0000-4000-8000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
	mi := newMI(1, guid(1), rid)
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
	if _, err := s.ApplicationByAppID(ctx, mi.AppID); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("ApplicationByAppID(managed identity) = %v, want NotFound: it has no application", err)
	}
	// A plain principal has no resource id.
	createApps(t, s, newApp(2, guid(1), base))
	other := newSP(2, guid(1), base)
	if err := s.CreateServicePrincipal(ctx, other); err != nil {
		t.Fatal(err)
	}
	sameResource := newMI(3, guid(1), strings.ToLower(rid))
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
		"by app ID":      second(s.ServicePrincipalByAppID(ctx, "", mi.AppID)),
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

// testCrossTenant checks the service principals of an application in
// tenants other than its own: one per tenant, found per tenant, and
// deleted with the application.
func testCrossTenant(t *testing.T, s identity.Store) {
	ctx := context.Background()
	createTenants(t, s, guid(1), guid(2), guid(3))
	app := newApp(1, guid(1), base)
	app.SignInAudience = identity.AudienceMultipleOrgs
	createApps(t, s, app, newApp(2, guid(1), base))
	home := newSP(1, guid(1), base)
	away := newSP(1, guid(2), base)
	away.ObjectID = guid(160)
	for _, sp := range []identity.ServicePrincipal{home, away} {
		if err := s.CreateServicePrincipal(ctx, sp); err != nil {
			t.Fatalf("CreateServicePrincipal(%s in %s) = %v; want the same app id in two tenants", sp.ObjectID, sp.TenantID, err)
		}
	}
	mi := newMI(7, guid(2), "/subscriptions/x/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi")
	if err := s.CreateServicePrincipal(ctx, mi); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, tenant, appID string
		want                identity.ServicePrincipal
	}{
		{"home tenant", guid(1), app.AppID, home},
		{"other tenant", guid(2), app.AppID, away},
		{"managed identity by tenant", guid(2), mi.AppID, mi},
		{"managed identity without tenant", "", mi.AppID, mi},
	} {
		got, err := s.ServicePrincipalByAppID(ctx, tt.tenant, tt.appID)
		if err != nil {
			t.Errorf("%s: ServicePrincipalByAppID(%q, %s) = %v", tt.name, tt.tenant, tt.appID, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: ServicePrincipalByAppID(%q, %s) mismatch (-want +got):\n%s", tt.name, tt.tenant, tt.appID, diff)
		}
	}
	twice := newSP(1, guid(2), base)
	twice.ObjectID = guid(161)
	miElsewhere := newMI(8, guid(1), "/subscriptions/x/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi2")
	miElsewhere.AppID = mi.AppID
	miOfForeignSP := newMI(9, guid(3), "/subscriptions/x/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi3")
	miOfForeignSP.AppID = app.AppID
	tests := []struct {
		name string
		err  error
		want tresor.Kind
	}{
		{"twice in one tenant", s.CreateServicePrincipal(ctx, twice), tresor.Conflict},
		{"a managed identity's client id in another tenant", s.CreateServicePrincipal(ctx, miElsewhere), tresor.Conflict},
		{"a managed identity with an application's client id", s.CreateServicePrincipal(ctx, miOfForeignSP), tresor.Conflict},
		{"lookup in a tenant without one", second(s.ServicePrincipalByAppID(ctx, guid(3), app.AppID)), tresor.NotFound},
		{"lookup of an application's without tenant", second(s.ServicePrincipalByAppID(ctx, "", app.AppID)), tresor.NotFound},
		{"lookup of a managed identity in another tenant", second(s.ServicePrincipalByAppID(ctx, guid(1), mi.AppID)), tresor.NotFound},
	}
	for _, tt := range tests {
		if got := tresor.KindOf(tt.err); tt.err == nil || got != tt.want {
			t.Errorf("%s: error = %v (kind %v), want kind %v", tt.name, tt.err, got, tt.want)
		}
	}
	if list, err := s.ServicePrincipals(ctx, guid(2)); err != nil || len(list) != 2 {
		t.Errorf("ServicePrincipals(%s) = %v, %v; want the application's and the managed identity", guid(2), list, err)
	}

	// Deleting the application takes its service principals in every
	// tenant, and nothing else.
	if err := s.DeleteApplication(ctx, app.ObjectID); err != nil {
		t.Fatal(err)
	}
	for _, sp := range []identity.ServicePrincipal{home, away} {
		if _, err := s.ServicePrincipal(ctx, sp.ObjectID); !tresor.IsKind(err, tresor.NotFound) {
			t.Errorf("after DeleteApplication, service principal in %s = %v, want NotFound", sp.TenantID, err)
		}
	}
	if _, err := s.ServicePrincipal(ctx, mi.ObjectID); err != nil {
		t.Errorf("after DeleteApplication, the managed identity = %v", err)
	}
}

func testUpdateApplication(t *testing.T, s identity.Store) {
	ctx := context.Background()
	createTenants(t, s, guid(1))
	a := newApp(1, guid(1), base)
	a.Passwords = []identity.PasswordCredential{newPassword(1, base)}
	a.FederatedCredentials = []identity.FederatedCredential{newFederated(1, "one")}
	createApps(t, s, a)
	// Only the display name and the audience change.
	patch := newApp(1, guid(9), base.Add(time.Hour))
	patch.AppID = guid(999)
	patch.DisplayName, patch.SignInAudience = "renamed", identity.AudienceMultipleOrgs
	if err := s.UpdateApplication(ctx, patch); err != nil {
		t.Fatal(err)
	}
	want := a
	want.DisplayName, want.SignInAudience = "renamed", identity.AudienceMultipleOrgs
	got, err := s.Application(ctx, a.ObjectID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
		t.Errorf("Application after UpdateApplication mismatch (-want +got):\n%s", diff)
	}
	if err := s.UpdateApplication(ctx, newApp(2, guid(1), base)); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("UpdateApplication(missing) = %v, want NotFound", err)
	}
}

func testFederatedCredentials(t *testing.T, s identity.Store) {
	ctx := context.Background()
	createTenants(t, s, guid(1))
	a, b := newApp(1, guid(1), base), newApp(2, guid(1), base)
	a.FederatedCredentials = []identity.FederatedCredential{newFederated(2, "zeta")}
	createApps(t, s, a, b)
	alpha := newFederated(1, "alpha")
	alpha.Description = "" // optional
	alpha.Audiences = []string{"api://other"}
	if err := s.AddFederatedCredential(ctx, a.ObjectID, alpha); err != nil {
		t.Fatal(err)
	}
	upper := newFederated(3, "Beta")
	if err := s.AddFederatedCredential(ctx, a.ObjectID, upper); err != nil {
		t.Fatal(err)
	}
	// By name, bytewise: upper case first.
	want := []identity.FederatedCredential{upper, alpha, newFederated(2, "zeta")}
	got, err := s.Application(ctx, a.ObjectID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got.FederatedCredentials, equateEmpty); diff != "" {
		t.Errorf("federated credentials mismatch (-want +got):\n%s", diff)
	}
	list, err := s.Applications(ctx, guid(1))
	if err != nil || len(list) != 2 {
		t.Fatalf("Applications() = %v, %v", list, err)
	}
	for _, app := range list {
		wantFICs := want
		if app.ObjectID == b.ObjectID {
			wantFICs = nil
		}
		if diff := cmp.Diff(wantFICs, app.FederatedCredentials, equateEmpty); diff != "" {
			t.Errorf("Applications(): federated credentials of %s mismatch (-want +got):\n%s", app.ObjectID, diff)
		}
	}

	sameName := newFederated(4, "ALPHA")
	sameIssuerSubject := newFederated(5, "other")
	sameIssuerSubject.Subject = alpha.Subject
	sameID := newFederated(1, "fresh")
	sameID.Subject = "fresh"
	inCreate := newApp(3, guid(1), base)
	inCreate.FederatedCredentials = []identity.FederatedCredential{newFederated(6, "x1"), newFederated(7, "X1")}
	tests := []struct {
		name string
		err  error
		want tresor.Kind
	}{
		{"name taken, other case", s.AddFederatedCredential(ctx, a.ObjectID, sameName), tresor.Conflict},
		{"issuer and subject taken", s.AddFederatedCredential(ctx, a.ObjectID, sameIssuerSubject), tresor.Conflict},
		{"id taken by another application's", s.AddFederatedCredential(ctx, b.ObjectID, sameID), tresor.Conflict},
		{"two of a name in CreateApplication", s.CreateApplication(ctx, inCreate), tresor.Conflict},
		{"add to missing application", s.AddFederatedCredential(ctx, guid(999), newFederated(8, "x")), tresor.NotFound},
		{"remove another application's", s.RemoveFederatedCredential(ctx, b.ObjectID, alpha.ID), tresor.NotFound},
		{"remove missing", s.RemoveFederatedCredential(ctx, a.ObjectID, guid(999)), tresor.NotFound},
	}
	for _, tt := range tests {
		if got := tresor.KindOf(tt.err); tt.err == nil || got != tt.want {
			t.Errorf("%s: error = %v (kind %v), want kind %v", tt.name, tt.err, got, tt.want)
		}
	}
	if _, err := s.Application(ctx, inCreate.ObjectID); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("Application after a failed CreateApplication = %v, want NotFound", err)
	}
	// Another application may use the same name, issuer and subject.
	if err := s.AddFederatedCredential(ctx, b.ObjectID, newFederated(9, "alpha")); err != nil {
		t.Errorf("AddFederatedCredential(same name in another application) = %v", err)
	}

	if err := s.RemoveFederatedCredential(ctx, a.ObjectID, alpha.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveFederatedCredential(ctx, a.ObjectID, alpha.ID); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("RemoveFederatedCredential twice = %v, want NotFound", err)
	}
	// The name is free again.
	again := newFederated(10, "alpha")
	if err := s.AddFederatedCredential(ctx, a.ObjectID, again); err != nil {
		t.Errorf("AddFederatedCredential(a removed name) = %v", err)
	}
	// Deleting the application takes its credentials: their ids are free.
	if err := s.DeleteApplication(ctx, a.ObjectID); err != nil {
		t.Fatal(err)
	}
	if err := s.AddFederatedCredential(ctx, b.ObjectID, newFederated(2, "zeta")); err != nil {
		t.Errorf("AddFederatedCredential(id of a deleted application's) = %v", err)
	}
}

func second[T any](_ T, err error) error { return err }
