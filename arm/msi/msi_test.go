package msi_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/arm/msi"
	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/seal"
	"github.com/tresorkms/tresor/sqlite"
)

type fixture struct {
	svc    *msi.Service
	db     *sqlite.DB
	sub    string
	tenant string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tresor.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	root := make([]byte, seal.RootKeySize)
	rand.Read(root)
	sealer, err := seal.New(root, "identity")
	if err != nil {
		t.Fatal(err)
	}
	ids := &identity.Service{Store: db, Sealer: sealer, Issuer: "https://localhost", Audiences: []string{"https://vault.localhost"}}
	admin, err := ids.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	armSvc := arm.NewService(db)
	sub, err := armSvc.Bootstrap(ctx, admin.TenantID)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := armSvc.CreateOrUpdateResourceGroup(ctx, arm.ResourceGroup{SubscriptionID: sub.ID, Name: "RG", Location: "westeurope"}); err != nil {
		t.Fatal(err)
	}
	return fixture{svc: &msi.Service{Store: db, ARM: armSvc, Identity: ids}, db: db, sub: sub.ID, tenant: admin.TenantID}
}

func TestUserAssignedIdentityLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u, created, err := f.svc.CreateOrUpdate(ctx, msi.UserAssignedIdentity{SubscriptionID: f.sub, ResourceGroup: "rg", Name: "Id-1", Location: "West Europe"})
	if err != nil || !created {
		t.Fatalf("create = %v, %v", created, err)
	}
	wantID := "/subscriptions/" + f.sub + "/resourceGroups/RG/providers/Microsoft.ManagedIdentity/userAssignedIdentities/Id-1"
	if got := u.ID().String(); got != wantID {
		t.Errorf("id = %s, want %s", got, wantID)
	}
	sp := u.Principal
	if sp.Type != tresor.ManagedIdentity || sp.TenantID != f.tenant || sp.ResourceID != wantID || u.Location != "westeurope" {
		t.Errorf("principal = %+v, location %q", sp, u.Location)
	}
	if _, err := f.db.ApplicationByAppID(ctx, sp.AppID); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("ApplicationByAppID(managed identity) = %v; want NotFound: it has no application, hence no credentials", err)
	}
	// The principal is in the identity store, found by each of its ids.
	for name, lookup := range map[string]func() (identity.ServicePrincipal, error){
		"object id": func() (identity.ServicePrincipal, error) { return f.db.ServicePrincipal(ctx, sp.ObjectID) },
		"app id":    func() (identity.ServicePrincipal, error) { return f.db.ServicePrincipalByAppID(ctx, "", sp.AppID) },
		"resource id": func() (identity.ServicePrincipal, error) {
			return f.db.ServicePrincipalByResourceID(ctx, strings.ToLower(wantID))
		},
	} {
		if got, err := lookup(); err != nil || got.ObjectID != sp.ObjectID {
			t.Errorf("principal by %s = %+v, %v", name, got, err)
		}
	}
	// A second PUT keeps the principal and the first spelling.
	again, created, err := f.svc.CreateOrUpdate(ctx, msi.UserAssignedIdentity{SubscriptionID: f.sub, ResourceGroup: "rg", Name: "ID-1", Location: "westeurope", Tags: map[string]string{"a": "b"}})
	if err != nil || created || again.Principal.ObjectID != sp.ObjectID || again.Name != "Id-1" || again.Tags["a"] != "b" {
		t.Errorf("second PUT = %+v, %v, %v", again, created, err)
	}
	// The identity store refuses to delete the principal under the resource.
	if err := f.db.DeleteServicePrincipal(ctx, sp.ObjectID); !tresor.IsKind(err, tresor.Conflict) {
		t.Errorf("deleting the principal of a user-assigned identity = %v, want Conflict", err)
	}
	got, err := f.svc.Resolve(ctx, strings.ToUpper(wantID[:1])+wantID[1:])
	if err != nil || got.Principal.ObjectID != sp.ObjectID {
		t.Errorf("Resolve = %+v, %v", got, err)
	}
	deleted, err := f.svc.Delete(ctx, f.sub, "rg", "id-1")
	if err != nil || !deleted {
		t.Fatalf("delete = %v, %v", deleted, err)
	}
	if _, err := f.db.ServicePrincipal(ctx, sp.ObjectID); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("principal after delete: %v, want NotFound", err)
	}
	if deleted, err := f.svc.Delete(ctx, f.sub, "rg", "id-1"); err != nil || deleted {
		t.Errorf("second delete = %v, %v; want false, nil", deleted, err)
	}
	if _, err := f.svc.Delete(ctx, f.sub, "nogroup", "id-1"); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("delete in a missing group = %v, want NotFound", err)
	}
}

func TestCreateOrUpdateRefuses(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, _, err := f.svc.CreateOrUpdate(ctx, msi.UserAssignedIdentity{SubscriptionID: f.sub, ResourceGroup: "rg", Name: "ok-1", Location: "westeurope"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		u    msi.UserAssignedIdentity
		want tresor.Kind
	}{
		{"short name", msi.UserAssignedIdentity{Name: "ab", Location: "westeurope"}, tresor.Invalid},
		{"leading hyphen", msi.UserAssignedIdentity{Name: "-abc", Location: "westeurope"}, tresor.Invalid},
		{"dot", msi.UserAssignedIdentity{Name: "a.bc", Location: "westeurope"}, tresor.Invalid},
		{"long name", msi.UserAssignedIdentity{Name: strings.Repeat("a", 129), Location: "westeurope"}, tresor.Invalid},
		{"no location", msi.UserAssignedIdentity{Name: "abc"}, tresor.Invalid},
		{"bad tag", msi.UserAssignedIdentity{Name: "abc", Location: "westeurope", Tags: map[string]string{"a/b": ""}}, tresor.Invalid},
		{"location change", msi.UserAssignedIdentity{Name: "OK-1", Location: "eastus"}, tresor.Invalid},
		{"missing group", msi.UserAssignedIdentity{ResourceGroup: "other", Name: "abc", Location: "westeurope"}, tresor.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.u.SubscriptionID = f.sub
			if tt.u.ResourceGroup == "" {
				tt.u.ResourceGroup = "rg"
			}
			_, _, err := f.svc.CreateOrUpdate(ctx, tt.u)
			if !tresor.IsKind(err, tt.want) {
				t.Errorf("error = %v, want kind %v", err, tt.want)
			}
		})
	}
	us, err := f.svc.List(ctx, f.sub, "")
	if err != nil || len(us) != 1 || us[0].Location != "westeurope" {
		t.Errorf("after refusals, identities = %+v, %v; want only ok-1 unchanged", us, err)
	}
}

// TestApplyIdentity covers a resource's identity property: a
// system-assigned identity created when asked for, kept while asked for,
// deleted when dropped; user-assigned identities resolved and checked.
func TestApplyIdentity(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ua, _, err := f.svc.CreateOrUpdate(ctx, msi.UserAssignedIdentity{SubscriptionID: f.sub, ResourceGroup: "rg", Name: "ua-1", Location: "westeurope"})
	if err != nil {
		t.Fatal(err)
	}
	res := "/subscriptions/" + f.sub + "/resourceGroups/RG/providers/Microsoft.Storage/storageAccounts/acct"

	st, err := f.svc.ApplyIdentity(ctx, res, f.tenant, msi.State{}, msi.Spec{SystemAssigned: true})
	if err != nil {
		t.Fatal(err)
	}
	sa := st.SystemAssigned
	if st.Type() != msi.TypeSystemAssigned || sa.ResourceID != res || sa.DisplayName != "acct" || sa.Type != tresor.ManagedIdentity {
		t.Fatalf("state = %+v", st)
	}
	p, err := st.Principal("")
	if err != nil || p.ObjectID != sa.ObjectID || p.TenantID != f.tenant {
		t.Errorf("Principal(\"\") = %+v, %v", p, err)
	}

	// Adding a user-assigned identity keeps the system-assigned one.
	st, err = f.svc.ApplyIdentity(ctx, res, f.tenant, st, msi.Spec{SystemAssigned: true, UserAssigned: []string{strings.ToLower(ua.ID().String())}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Type() != msi.TypeSystemAndUserAssigned || st.SystemAssigned.ObjectID != sa.ObjectID || len(st.UserAssigned) != 1 ||
		st.UserAssigned[0].PrincipalID != ua.Principal.ObjectID || st.UserAssigned[0].ResourceID != ua.ID().String() {
		t.Fatalf("state = %+v", st)
	}
	if p, err := st.Principal(ua.ID().String()); err != nil || p.ObjectID != ua.Principal.ObjectID || p.AppID != ua.Principal.AppID {
		t.Errorf("Principal(user-assigned) = %+v, %v", p, err)
	}
	if _, err := st.Principal(res + "x"); !tresor.IsKind(err, tresor.Invalid) {
		t.Errorf("Principal(unattached) = %v, want Invalid", err)
	}

	// Refusals leave nothing behind.
	for name, spec := range map[string]msi.Spec{
		"unknown identity": {UserAssigned: []string{ua.ID().String() + "x"}},
		"not an identity":  {UserAssigned: []string{res}},
		"not an id":        {UserAssigned: []string{"ua-1"}},
	} {
		if _, err := f.svc.ApplyIdentity(ctx, res, f.tenant, st, spec); !tresor.IsKind(err, tresor.Invalid) {
			t.Errorf("%s: %v, want Invalid", name, err)
		}
	}
	if _, err := f.db.ServicePrincipal(ctx, sa.ObjectID); err != nil {
		t.Errorf("a refused change removed the system-assigned identity: %v", err)
	}

	// Dropping the system-assigned identity deletes its principal.
	st, err = f.svc.ApplyIdentity(ctx, res, f.tenant, st, msi.Spec{UserAssigned: []string{ua.ID().String()}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Type() != msi.TypeUserAssigned {
		t.Errorf("type = %s", st.Type())
	}
	if _, err := f.db.ServicePrincipal(ctx, sa.ObjectID); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("dropped system-assigned identity still exists: %v", err)
	}
	// Asking again makes a new principal.
	st2, err := f.svc.ApplyIdentity(ctx, res, f.tenant, st, msi.Spec{SystemAssigned: true})
	if err != nil {
		t.Fatal(err)
	}
	if st2.SystemAssigned.ObjectID == "" || st2.SystemAssigned.ObjectID == sa.ObjectID || len(st2.UserAssigned) != 0 {
		t.Errorf("state = %+v; want a new system-assigned identity only", st2)
	}
	// A crash between ApplyIdentity and storing the resource leaves a
	// principal that the next ApplyIdentity (from the old state) adopts.
	adopted, err := f.svc.ApplyIdentity(ctx, res, f.tenant, st, msi.Spec{SystemAssigned: true})
	if err != nil || adopted.SystemAssigned.ObjectID != st2.SystemAssigned.ObjectID {
		t.Errorf("re-apply after a lost write = %+v, %v; want principal %s adopted", adopted.SystemAssigned, err, st2.SystemAssigned.ObjectID)
	}
	if err := f.svc.RemoveIdentity(ctx, adopted); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.ServicePrincipal(ctx, st2.SystemAssigned.ObjectID); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("RemoveIdentity left the principal: %v", err)
	}
	if err := f.svc.RemoveIdentity(ctx, adopted); err != nil {
		t.Errorf("RemoveIdentity twice = %v", err)
	}
}
