package identity_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/identity"
)

// tenantAdmin creates a second tenant with an administrator of its own,
// as an installation that hosts several tenants has, and returns the
// tenant's ID and the administrator as a token presents it. Bootstrap
// gives only the first tenant one, so the records go straight into the
// Store.
func (f *fixture) tenantAdmin(t testing.TB, name string) (string, tresor.Principal) {
	t.Helper()
	ctx := context.Background()
	tn, err := f.svc.CreateTenant(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	app := identity.Application{ObjectID: identity.NewGUID(), AppID: identity.NewGUID(), TenantID: tn.ID,
		DisplayName: identity.AdminName, SignInAudience: identity.AudienceMyOrg, Created: f.now}
	sp := identity.ServicePrincipal{ObjectID: identity.NewGUID(), AppID: app.AppID, TenantID: tn.ID,
		DisplayName: identity.AdminName, Type: tresor.ServicePrincipal, Created: f.now}
	if err := f.store.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	if err := f.store.CreateServicePrincipal(ctx, sp); err != nil {
		t.Fatal(err)
	}
	return tn.ID, tresor.Principal{TenantID: tn.ID, ObjectID: sp.ObjectID, AppID: sp.AppID, Name: identity.AdminName, Type: tresor.ServicePrincipal}
}

// wantError checks err's Kind, Reason and message prefix (an AADSTS code,
// or "" for any).
func wantError(t *testing.T, what string, err error, kind tresor.Kind, reason, prefix string) {
	t.Helper()
	var te *tresor.Error
	if !errors.As(err, &te) || te.Kind != kind || te.Reason != reason || !strings.HasPrefix(te.Message, prefix) {
		t.Errorf("%s = %v; want %v %q %s", what, err, kind, reason, prefix)
	}
}

func TestSignInAudience(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	d := f.svc.Directory(f.adminPrincipal())
	tests := []struct {
		audience string
		want     string
		kind     tresor.Kind
	}{
		{"", identity.AudienceMyOrg, 0},
		{"AzureADMyOrg", identity.AudienceMyOrg, 0},
		{"azureadmultipleorgs", identity.AudienceMultipleOrgs, 0},
		{"AzureADandPersonalMicrosoftAccount", "", tresor.Invalid},
		{"PersonalMicrosoftAccount", "", tresor.Invalid},
	}
	for _, tt := range tests {
		a, err := d.CreateApplication(ctx, identity.ApplicationSpec{DisplayName: "app", SignInAudience: tt.audience})
		if tt.kind != 0 {
			if !tresor.IsKind(err, tt.kind) || !strings.Contains(err.Error(), "only AzureADMyOrg and AzureADMultipleOrgs") {
				t.Errorf("CreateApplication(%q) = %v; want %v naming the supported audiences", tt.audience, err, tt.kind)
			}
			continue
		}
		if err != nil || a.SignInAudience != tt.want {
			t.Errorf("CreateApplication(%q) = %q, %v; want %q", tt.audience, a.SignInAudience, err, tt.want)
		}
	}

	a, err := d.CreateApplication(ctx, identity.ApplicationSpec{DisplayName: "app"})
	if err != nil {
		t.Fatal(err)
	}
	multi, renamed := identity.AudienceMultipleOrgs, "renamed"
	got, err := d.UpdateApplication(ctx, a.ObjectID, identity.ApplicationPatch{SignInAudience: &multi})
	if err != nil || got.SignInAudience != multi || got.DisplayName != "app" {
		t.Fatalf("UpdateApplication(audience) = %+v, %v", got, err)
	}
	if _, err := d.UpdateApplication(ctx, a.ObjectID, identity.ApplicationPatch{DisplayName: &renamed}); err != nil {
		t.Fatal(err)
	}
	if got, err := d.GetApplication(ctx, a.ObjectID); err != nil || got.SignInAudience != multi || got.DisplayName != renamed {
		t.Errorf("GetApplication after the updates = %+v, %v; want %s, %s", got, err, renamed, multi)
	}

	adminApp, err := f.store.ApplicationByAppID(ctx, f.admin.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	personal, admin, empty := "AzureADandPersonalMicrosoftAccount", identity.AdminName, ""
	for name, tt := range map[string]struct {
		id    string
		patch identity.ApplicationPatch
		kind  tresor.Kind
	}{
		"unsupported audience":    {a.ObjectID, identity.ApplicationPatch{SignInAudience: &personal}, tresor.Invalid},
		"the admin's name":        {a.ObjectID, identity.ApplicationPatch{DisplayName: &admin}, tresor.Invalid},
		"an empty name":           {a.ObjectID, identity.ApplicationPatch{DisplayName: &empty}, tresor.Invalid},
		"the admin's application": {adminApp.ObjectID, identity.ApplicationPatch{SignInAudience: &multi}, tresor.Invalid},
		"missing application":     {identity.NewGUID(), identity.ApplicationPatch{SignInAudience: &multi}, tresor.NotFound},
	} {
		if _, err := d.UpdateApplication(ctx, tt.id, tt.patch); !tresor.IsKind(err, tt.kind) {
			t.Errorf("UpdateApplication(%s) = %v, want %v", name, err, tt.kind)
		}
	}
	if got, _ := d.GetApplication(ctx, a.ObjectID); got.SignInAudience != multi || got.DisplayName != renamed {
		t.Errorf("failed updates changed the application: %+v", got)
	}
}

// TestCrossTenantServicePrincipal creates service principals of another
// tenant's applications and uses their secrets there.
func TestCrossTenantServicePrincipal(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	home := f.svc.Directory(f.adminPrincipal())
	other, otherAdmin := f.tenantAdmin(t, "other")
	away := f.svc.Directory(otherAdmin)
	third, _ := f.tenantAdmin(t, "third")

	single, err := home.CreateApplication(ctx, identity.ApplicationSpec{DisplayName: "single"})
	if err != nil {
		t.Fatal(err)
	}
	multi, err := home.CreateApplication(ctx, identity.ApplicationSpec{DisplayName: "multi", SignInAudience: identity.AudienceMultipleOrgs})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		d     *identity.Directory
		appID string
		kind  tresor.Kind // 0 for success
	}{
		{"single-tenant app in another tenant", away, single.AppID, tresor.Invalid},
		{"multi-tenant app in another tenant", away, multi.AppID, 0},
		{"multi-tenant app in another tenant, again", away, multi.AppID, tresor.Conflict},
		{"single-tenant app at home", home, single.AppID, 0},
		{"multi-tenant app at home", home, strings.ToUpper(multi.AppID), 0},
	}
	sps := map[string]identity.ServicePrincipal{} // by tenant, of multi
	for _, tt := range tests {
		sp, err := tt.d.CreateServicePrincipal(ctx, tt.appID)
		if tt.kind != 0 {
			if !tresor.IsKind(err, tt.kind) {
				t.Errorf("%s: CreateServicePrincipal() = %v, want %v", tt.name, err, tt.kind)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: CreateServicePrincipal() = %v", tt.name, err)
		}
		if tt.d == away && (sp.TenantID != other || sp.AppID != multi.AppID || sp.DisplayName != "multi" || sp.ObjectID == multi.ObjectID || !identity.IsGUID(sp.ObjectID)) {
			t.Errorf("%s: CreateServicePrincipal() = %+v; want a new principal of %s in %s", tt.name, sp, multi.AppID, other)
		}
		if sp.AppID == multi.AppID {
			sps[sp.TenantID] = sp
		}
	}
	if len(sps) != 2 || sps[other].ObjectID == sps[f.admin.TenantID].ObjectID {
		t.Fatalf("service principals of the multi-tenant app = %+v", sps)
	}
	if list, err := away.ListServicePrincipals(ctx); err != nil || len(list) != 2 {
		t.Errorf("the other tenant's service principals = %+v, %v; want its admin's and the app's", list, err)
	}

	_, multiSecret, err := home.AddPassword(ctx, multi.ObjectID, identity.PasswordRequest{})
	if err != nil {
		t.Fatal(err)
	}
	_, singleSecret, err := home.AddPassword(ctx, single.ObjectID, identity.PasswordRequest{})
	if err != nil {
		t.Fatal(err)
	}
	token := func(tenant, appID, secret string) (tresor.Principal, error) {
		tok, err := f.svc.IssueToken(ctx, identity.TokenRequest{TenantID: tenant, ClientID: appID, ClientSecret: secret, Scope: vaultAud + "/.default"})
		if err != nil {
			return tresor.Principal{}, err
		}
		return f.svc.Validate(ctx, tok.AccessToken, vaultAud)
	}
	for _, tenant := range []string{f.admin.TenantID, other} {
		p, err := token(tenant, multi.AppID, multiSecret)
		want := tresor.Principal{TenantID: tenant, ObjectID: sps[tenant].ObjectID, AppID: multi.AppID, Name: "multi", Type: tresor.ServicePrincipal}
		if err != nil {
			t.Fatalf("token of the multi-tenant app in %s = %v", tenant, err)
		}
		if diff := cmp.Diff(want, p); diff != "" {
			t.Errorf("token of the multi-tenant app in %s mismatch (-want +got):\n%s", tenant, diff)
		}
	}
	_, err = token(third, multi.AppID, multiSecret)
	wantError(t, "token of the multi-tenant app where it has no service principal", err, tresor.Unauthenticated, identity.ReasonInvalidClient, "AADSTS700016:")
	_, err = token(other, multi.AppID, "wrong")
	wantError(t, "token of the multi-tenant app with a wrong secret", err, tresor.Unauthenticated, identity.ReasonInvalidClient, "AADSTS7000215:")
	_, err = token(other, single.AppID, singleSecret)
	wantError(t, "token of the single-tenant app in another tenant", err, tresor.Unauthenticated, identity.ReasonInvalidClient, "AADSTS700016:")

	// Made single-tenant, the application keeps its principal in the
	// other tenant, which obtains no tokens until it is multi-tenant again.
	my := identity.AudienceMyOrg
	if _, err := home.UpdateApplication(ctx, multi.ObjectID, identity.ApplicationPatch{SignInAudience: &my}); err != nil {
		t.Fatal(err)
	}
	_, err = token(other, multi.AppID, multiSecret)
	wantError(t, "token in another tenant after the app became single-tenant", err, tresor.Unauthenticated, identity.ReasonInvalidClient, "AADSTS700016:")
	if _, err := away.GetServicePrincipal(ctx, sps[other].ObjectID); err != nil {
		t.Errorf("the other tenant's principal after the app became single-tenant = %v", err)
	}

	// Deleting the application deletes its principals in every tenant.
	if err := home.DeleteApplication(ctx, multi.ObjectID); err != nil {
		t.Fatal(err)
	}
	for tenant, sp := range sps {
		if _, err := f.store.ServicePrincipal(ctx, sp.ObjectID); !tresor.IsKind(err, tresor.NotFound) {
			t.Errorf("principal in %s after DeleteApplication = %v, want NotFound", tenant, err)
		}
	}
}

func TestFederatedCredentialRules(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	d := f.svc.Directory(f.adminPrincipal())
	app, err := d.CreateApplication(ctx, identity.ApplicationSpec{DisplayName: "app"})
	if err != nil {
		t.Fatal(err)
	}
	iss := issuer + "/" + f.admin.TenantID + "/v2.0"
	valid := func(edit func(*identity.FederatedCredential)) identity.FederatedCredential {
		c := identity.FederatedCredential{Name: "storage-cmk", Issuer: iss, Subject: identity.NewGUID(), Audiences: []string{identity.TokenExchangeAudience}}
		if edit != nil {
			edit(&c)
		}
		return c
	}
	first, err := d.CreateFederatedCredential(ctx, app.ObjectID, valid(func(c *identity.FederatedCredential) { c.Description = "the storage account's identity" }))
	if err != nil {
		t.Fatal(err)
	}
	if !identity.IsGUID(first.ID) || first.Name != "storage-cmk" || first.Description == "" {
		t.Errorf("CreateFederatedCredential() = %+v", first)
	}
	adminApp, err := f.store.ApplicationByAppID(ctx, f.admin.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		app   string
		c     identity.FederatedCredential
		kind  tresor.Kind // 0 for success
		wants string      // in the message
	}{
		{"name of 3", app.ObjectID, valid(func(c *identity.FederatedCredential) { c.Name = "a_1" }), 0, ""},
		{"name of 120", app.ObjectID, valid(func(c *identity.FederatedCredential) { c.Name = strings.Repeat("n", 120) }), 0, ""},
		{"no name", app.ObjectID, valid(func(c *identity.FederatedCredential) { c.Name = "" }), tresor.Invalid, "name"},
		{"name of 2", app.ObjectID, valid(func(c *identity.FederatedCredential) { c.Name = "ab" }), tresor.Invalid, "name"},
		{"name of 121", app.ObjectID, valid(func(c *identity.FederatedCredential) { c.Name = strings.Repeat("n", 121) }), tresor.Invalid, "name"},
		{"name with a space", app.ObjectID, valid(func(c *identity.FederatedCredential) { c.Name = "my cred" }), tresor.Invalid, "name"},
		{"name with a dot", app.ObjectID, valid(func(c *identity.FederatedCredential) { c.Name = "my.cred" }), tresor.Invalid, "name"},
		{"name taken, other case", app.ObjectID, valid(func(c *identity.FederatedCredential) { c.Name = "STORAGE-CMK" }), tresor.Conflict, "named"},
		{"no issuer", app.ObjectID, valid(func(c *identity.FederatedCredential) { c.Issuer = "" }), tresor.Invalid, "issuer"},
		{"http issuer", app.ObjectID, valid(func(c *identity.FederatedCredential) { c.Issuer = "http://localhost:8443/x" }), tresor.Invalid, "https"},
		{"issuer not a URL", app.ObjectID, valid(func(c *identity.FederatedCredential) { c.Issuer = "tresor" }), tresor.Invalid, "https"},
		{"issuer of 601", app.ObjectID, valid(func(c *identity.FederatedCredential) { c.Issuer = "https://x/" + strings.Repeat("i", 591) }), tresor.Invalid, "600"},
		{"no subject", app.ObjectID, valid(func(c *identity.FederatedCredential) { c.Subject = "" }), tresor.Invalid, "subject"},
		{"subject of 600", app.ObjectID, valid(func(c *identity.FederatedCredential) { c.Name, c.Subject = "long-subject", strings.Repeat("s", 600) }), 0, ""},
		{"subject of 601", app.ObjectID, valid(func(c *identity.FederatedCredential) { c.Subject = strings.Repeat("s", 601) }), tresor.Invalid, "600"},
		{"no audience", app.ObjectID, valid(func(c *identity.FederatedCredential) { c.Audiences = nil }), tresor.Invalid, "exactly one audience"},
		{"two audiences", app.ObjectID, valid(func(c *identity.FederatedCredential) { c.Audiences = append(c.Audiences, "api://other") }), tresor.Invalid, "exactly one audience"},
		{"empty audience", app.ObjectID, valid(func(c *identity.FederatedCredential) { c.Audiences = []string{""} }), tresor.Invalid, "audience"},
		{"audience of 601", app.ObjectID, valid(func(c *identity.FederatedCredential) { c.Audiences = []string{strings.Repeat("a", 601)} }), tresor.Invalid, "audience"},
		{"description of 601", app.ObjectID, valid(func(c *identity.FederatedCredential) { c.Description = strings.Repeat("d", 601) }), tresor.Invalid, "description"},
		{"issuer and subject taken", app.ObjectID, valid(func(c *identity.FederatedCredential) { c.Name, c.Subject = "other", first.Subject }), tresor.Conflict, "issuer and subject"},
		{"on the admin's application", adminApp.ObjectID, valid(nil), tresor.Invalid, identity.AdminName},
		{"on a missing application", identity.NewGUID(), valid(nil), tresor.NotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.CreateFederatedCredential(ctx, tt.app, tt.c)
			if tt.kind == 0 {
				if err != nil {
					t.Errorf("CreateFederatedCredential() = %v", err)
				}
				return
			}
			if !tresor.IsKind(err, tt.kind) || !strings.Contains(err.Error(), tt.wants) {
				t.Errorf("CreateFederatedCredential() = %v; want %v mentioning %q", err, tt.kind, tt.wants)
			}
		})
	}

	// At most 20, counting those created above.
	have, err := d.ListFederatedCredentials(ctx, app.ObjectID)
	if err != nil || len(have) != 4 {
		t.Fatalf("ListFederatedCredentials() = %d, %v; want the 4 created above", len(have), err)
	}
	for i := len(have); i < identity.MaxFederatedCredentials; i++ {
		if _, err := d.CreateFederatedCredential(ctx, app.ObjectID, valid(func(c *identity.FederatedCredential) { c.Name = "cred-" + strings.Repeat("x", i) })); err != nil {
			t.Fatalf("credential %d: %v", i+1, err)
		}
	}
	if _, err := d.CreateFederatedCredential(ctx, app.ObjectID, valid(func(c *identity.FederatedCredential) { c.Name = "one-too-many" })); !tresor.IsKind(err, tresor.Invalid) {
		t.Errorf("credential %d = %v, want Invalid", identity.MaxFederatedCredentials+1, err)
	}

	// Get and delete by id or by name, ignoring case.
	if got, err := d.GetFederatedCredential(ctx, app.ObjectID, "Storage-CMK"); err != nil || got.ID != first.ID {
		t.Errorf("GetFederatedCredential(by name) = %+v, %v", got, err)
	}
	if got, err := d.GetFederatedCredential(ctx, app.ObjectID, strings.ToUpper(first.ID)); err != nil || got.Name != first.Name {
		t.Errorf("GetFederatedCredential(by id) = %+v, %v", got, err)
	}
	if err := d.DeleteFederatedCredential(ctx, app.ObjectID, "storage-cmk"); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteFederatedCredential(ctx, app.ObjectID, first.ID); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("DeleteFederatedCredential twice = %v, want NotFound", err)
	}
	if list, err := d.ListFederatedCredentials(ctx, app.ObjectID); err != nil || len(list) != identity.MaxFederatedCredentials-1 {
		t.Errorf("ListFederatedCredentials() = %d, %v; want %d", len(list), err, identity.MaxFederatedCredentials-1)
	}

	// Only the tenant's administrator manages them.
	app2, _, err := f.svc.CreateServicePrincipal(ctx, f.admin.TenantID, "someone")
	if err != nil {
		t.Fatal(err)
	}
	someone := f.svc.Directory(tresor.Principal{TenantID: app2.TenantID, ObjectID: app2.ObjectID, AppID: app2.AppID, Type: tresor.ServicePrincipal})
	for name, err := range map[string]error{
		"create": second(someone.CreateFederatedCredential(ctx, app.ObjectID, valid(func(c *identity.FederatedCredential) { c.Name = "mine" }))),
		"list":   second(someone.ListFederatedCredentials(ctx, app.ObjectID)),
		"get":    second(someone.GetFederatedCredential(ctx, app.ObjectID, "a_1")),
		"delete": someone.DeleteFederatedCredential(ctx, app.ObjectID, "a_1"),
	} {
		if !tresor.IsKind(err, tresor.Forbidden) {
			t.Errorf("%s by a principal without the directory role = %v, want Forbidden", name, err)
		}
	}
}

// exchangeFixture is the arrangement of a cross-tenant customer-managed
// key: a managed identity in the home tenant, and a multi-tenant
// application whose federated credential trusts it, with a service
// principal in the other tenant.
type exchangeFixture struct {
	*fixture
	other             string                    // the second tenant
	mi                identity.ServicePrincipal // trusted by multi and single
	stray             identity.ServicePrincipal // another managed identity, trusted by none
	multi             identity.Application      // multi-tenant, service principal in other only
	single            identity.Application      // single-tenant, service principal at home
	noSP              identity.Application      // multi-tenant, no service principal anywhere
	github            identity.Application      // trusts mi's object id from another issuer
	wrongTenantIssuer identity.Application      // trusts mi's object id as issued in other, with a service principal there
	foreign           identity.Application      // an application of other that trusts mi (of the home tenant)
	sp                identity.ServicePrincipal // multi's in other
	homeSP            identity.ServicePrincipal // single's at home
}

func newExchangeFixture(t testing.TB) *exchangeFixture {
	t.Helper()
	ctx := context.Background()
	f := &exchangeFixture{fixture: newFixture(t)}
	f.svc.HostSecret = "host-secret"
	var otherAdmin tresor.Principal
	f.other, otherAdmin = f.tenantAdmin(t, "other")
	home, away := f.svc.Directory(f.adminPrincipal()), f.svc.Directory(otherAdmin)
	for i, p := range []*identity.ServicePrincipal{&f.mi, &f.stray} {
		mi, err := f.svc.NewManagedIdentity(f.admin.TenantID, "storage", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st"+string(rune('a'+i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.store.CreateServicePrincipal(ctx, mi); err != nil {
			t.Fatal(err)
		}
		*p = mi
	}
	create := func(name, audience, issuer string) identity.Application {
		a, err := home.CreateApplication(ctx, identity.ApplicationSpec{DisplayName: name, SignInAudience: audience})
		if err != nil {
			t.Fatal(err)
		}
		c := identity.FederatedCredential{Name: "storage", Issuer: issuer, Subject: f.mi.ObjectID, Audiences: []string{identity.TokenExchangeAudience}}
		if _, err := home.CreateFederatedCredential(ctx, a.ObjectID, c); err != nil {
			t.Fatal(err)
		}
		return a
	}
	// Each spelling of tresor's issuer: v2.0, v1.0, without the slash.
	base := issuer + "/" + f.admin.TenantID
	f.multi = create("multi", identity.AudienceMultipleOrgs, base+"/v2.0")
	f.single = create("single", identity.AudienceMyOrg, base+"/")
	f.noSP = create("nosp", identity.AudienceMultipleOrgs, base)
	f.github = create("github", identity.AudienceMultipleOrgs, "https://token.actions.githubusercontent.com")
	f.wrongTenantIssuer = create("wrongtenant", identity.AudienceMultipleOrgs, issuer+"/"+f.other+"/v2.0")
	var err error
	if f.foreign, err = away.CreateApplication(ctx, identity.ApplicationSpec{DisplayName: "foreign", SignInAudience: identity.AudienceMultipleOrgs}); err != nil {
		t.Fatal(err)
	}
	if _, err := away.CreateFederatedCredential(ctx, f.foreign.ObjectID, identity.FederatedCredential{
		Name: "storage", Issuer: base + "/v2.0", Subject: f.mi.ObjectID, Audiences: []string{identity.TokenExchangeAudience}}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []identity.Application{f.wrongTenantIssuer, f.foreign} {
		if _, err := away.CreateServicePrincipal(ctx, a.AppID); err != nil {
			t.Fatal(err)
		}
	}
	if f.sp, err = away.CreateServicePrincipal(ctx, f.multi.AppID); err != nil {
		t.Fatal(err)
	}
	if f.homeSP, err = home.CreateServicePrincipal(ctx, f.single.AppID); err != nil {
		t.Fatal(err)
	}
	if _, err := away.CreateServicePrincipal(ctx, f.github.AppID); err != nil {
		t.Fatal(err)
	}
	return f
}

// assertion obtains a managed identity's token for aud from the identity
// endpoint, as azidentity's ManagedIdentityCredential does.
func (f *exchangeFixture) assertion(t testing.TB, mi identity.ServicePrincipal, aud string) string {
	t.Helper()
	tok, err := f.svc.IssueManagedIdentityToken(context.Background(), identity.ManagedIdentityRequest{
		HostSecret: "host-secret", Resource: aud, ObjectID: mi.ObjectID,
	})
	if err != nil {
		t.Fatalf("IssueManagedIdentityToken(%s) = %v", aud, err)
	}
	return tok.AccessToken
}

func TestTokenExchange(t *testing.T) {
	f := newExchangeFixture(t)
	ctx := context.Background()
	good := f.assertion(t, f.mi, identity.TokenExchangeAudience)
	// An assertion signed by a key that is not tresor's, with the kid of
	// tresor's key, and one signed by tresor's key for an external issuer.
	kid, key := f.signingKey(t)
	miClaims := func() map[string]any {
		c := f.claims(identity.TokenExchangeAudience)
		c["oid"], c["sub"], c["appid"], c["azp"] = f.mi.ObjectID, f.mi.ObjectID, f.mi.AppID, f.mi.AppID
		return c
	}
	stranger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	foreign := signRS256(t, stranger, kid, miClaims())
	external := miClaims()
	external["iss"] = "https://token.actions.githubusercontent.com"
	externalIssuer := signRS256(t, key, kid, external)

	tests := []struct {
		name      string
		tenant    string
		clientID  string
		secret    string
		assertion string
		later     time.Duration // the clock moves on before the request
		wantSP    identity.ServicePrincipal
		kind      tresor.Kind
		reason    string
		code      string
		inMessage string
	}{
		{name: "multi-tenant app in the other tenant", tenant: f.other, clientID: f.multi.AppID, assertion: good, wantSP: f.sp},
		{name: "single-tenant app at home", tenant: f.admin.TenantID, clientID: strings.ToUpper(f.single.AppID), assertion: good, wantSP: f.homeSP},
		{name: "within the clock skew after expiry", tenant: f.other, clientID: f.multi.AppID, assertion: good, later: identity.TokenLifetime + 4*time.Minute, wantSP: f.sp},
		{name: "expired assertion", tenant: f.other, clientID: f.multi.AppID, assertion: good, later: identity.TokenLifetime + 6*time.Minute,
			kind: tresor.Unauthenticated, reason: identity.ReasonInvalidClient, code: "AADSTS700024"},
		{name: "wrong audience", tenant: f.other, clientID: f.multi.AppID, assertion: f.assertion(t, f.mi, vaultAud),
			kind: tresor.Unauthenticated, reason: identity.ReasonInvalidClient, code: "AADSTS700212", inMessage: vaultAud},
		{name: "unmatched subject", tenant: f.other, clientID: f.multi.AppID, assertion: f.assertion(t, f.stray, identity.TokenExchangeAudience),
			kind: tresor.Unauthenticated, reason: identity.ReasonInvalidClient, code: "AADSTS70021",
			inMessage: "Assertion Subject: '" + f.stray.ObjectID + "'. Assertion Audience: '" + identity.TokenExchangeAudience + "'."},
		{name: "unmatched issuer", tenant: f.other, clientID: f.github.AppID, assertion: good,
			kind: tresor.Unauthenticated, reason: identity.ReasonInvalidClient, code: "AADSTS70021",
			inMessage: "Assertion Issuer: '" + issuer + "/" + f.admin.TenantID + "/'"},
		{name: "issuer of another tresor tenant", tenant: f.other, clientID: f.wrongTenantIssuer.AppID, assertion: good,
			kind: tresor.Unauthenticated, reason: identity.ReasonInvalidClient, code: "AADSTS70021"},
		{name: "application of another tenant than the workload's", tenant: f.other, clientID: f.foreign.AppID, assertion: good,
			kind: tresor.Unauthenticated, reason: identity.ReasonInvalidClient, code: "AADSTS700236"},
		{name: "app without a service principal in the tenant", tenant: f.other, clientID: f.noSP.AppID, assertion: good,
			kind: tresor.Unauthenticated, reason: identity.ReasonInvalidClient, code: "AADSTS700016", inMessage: f.other},
		{name: "multi-tenant app at home without a service principal there", tenant: f.admin.TenantID, clientID: f.multi.AppID, assertion: good,
			kind: tresor.Unauthenticated, reason: identity.ReasonInvalidClient, code: "AADSTS7000229"},
		{name: "single-tenant app in another tenant", tenant: f.other, clientID: f.single.AppID, assertion: good,
			kind: tresor.Unauthenticated, reason: identity.ReasonInvalidClient, code: "AADSTS700016"},
		{name: "unknown client", tenant: f.other, clientID: identity.NewGUID(), assertion: good,
			kind: tresor.Unauthenticated, reason: identity.ReasonInvalidClient, code: "AADSTS700016"},
		{name: "managed identity as client", tenant: f.admin.TenantID, clientID: f.mi.AppID, assertion: good,
			kind: tresor.Unauthenticated, reason: identity.ReasonInvalidClient, code: "AADSTS700016"},
		{name: "signed by a foreign key", tenant: f.other, clientID: f.multi.AppID, assertion: foreign,
			kind: tresor.Unauthenticated, reason: identity.ReasonInvalidClient, code: "AADSTS50027", inMessage: "external OpenID Connect issuers are not supported"},
		{name: "external issuer", tenant: f.other, clientID: f.multi.AppID, assertion: externalIssuer,
			kind: tresor.Unauthenticated, reason: identity.ReasonInvalidClient, code: "AADSTS50027", inMessage: "Invalid issuer"},
		{name: "not a JWT", tenant: f.other, clientID: f.multi.AppID, assertion: "x.y.z",
			kind: tresor.Unauthenticated, reason: identity.ReasonInvalidClient, code: "AADSTS50027"},
		{name: "secret and assertion", tenant: f.other, clientID: f.multi.AppID, secret: "s", assertion: good,
			kind: tresor.Invalid, reason: identity.ReasonInvalidRequest, code: "AADSTS90023"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.now = start.Add(tt.later)
			defer func() { f.now = start }()
			tok, err := f.svc.IssueToken(ctx, identity.TokenRequest{
				TenantID: tt.tenant, ClientID: tt.clientID, ClientSecret: tt.secret,
				ClientAssertion: tt.assertion, ClientAssertionType: identity.ClientAssertionType,
				Scope: vaultAud + "/.default",
			})
			if tt.kind != 0 {
				wantError(t, "IssueToken()", err, tt.kind, tt.reason, tt.code+":")
				if err != nil && !strings.Contains(err.Error(), tt.inMessage) {
					t.Errorf("IssueToken() = %v; want the message to hold %q", err, tt.inMessage)
				}
				return
			}
			if err != nil {
				t.Fatalf("IssueToken() = %v", err)
			}
			p, err := f.svc.Validate(ctx, tok.AccessToken, vaultAud)
			if err != nil {
				t.Fatal(err)
			}
			want := tresor.Principal{TenantID: tt.wantSP.TenantID, ObjectID: tt.wantSP.ObjectID, AppID: tt.wantSP.AppID, Name: tt.wantSP.DisplayName, Type: tresor.ServicePrincipal}
			if diff := cmp.Diff(want, p); diff != "" {
				t.Errorf("token principal mismatch (-want +got):\n%s", diff)
			}
			if c := payload(t, tok.AccessToken); c["appidacr"] != "2" || c["tid"] != tt.wantSP.TenantID || c["oid"] != tt.wantSP.ObjectID {
				t.Errorf("claims = %v; want appidacr 2, tid %s, oid %s", c, tt.wantSP.TenantID, tt.wantSP.ObjectID)
			}
		})
	}

	// The assertion itself is no bearer token for a service.
	if _, err := f.svc.Validate(ctx, good, vaultAud); !tresor.IsKind(err, tresor.Unauthenticated) {
		t.Errorf("Validate(assertion, vault) = %v, want Unauthenticated", err)
	}
	// A client_assertion_type other than JWT's.
	_, err = f.svc.IssueToken(ctx, identity.TokenRequest{TenantID: f.other, ClientID: f.multi.AppID, ClientAssertion: good,
		ClientAssertionType: "urn:ietf:params:oauth:client-assertion-type:saml2-bearer", Scope: vaultAud + "/.default"})
	wantError(t, "IssueToken(SAML assertion type)", err, tresor.Invalid, identity.ReasonInvalidRequest, "AADSTS90023:")
	// A stray assertion type is refused with a secret too.
	_, err = f.svc.IssueToken(ctx, identity.TokenRequest{TenantID: f.admin.TenantID, ClientID: f.admin.ClientID, ClientSecret: f.admin.ClientSecret,
		ClientAssertionType: "urn:ietf:params:oauth:client-assertion-type:saml2-bearer", Scope: vaultAud + "/.default"})
	wantError(t, "IssueToken(secret, SAML assertion type)", err, tresor.Invalid, identity.ReasonInvalidRequest, "AADSTS90023:")
	// Removing the federated credential stops the exchange at once.
	home := f.svc.Directory(f.adminPrincipal())
	if err := home.DeleteFederatedCredential(ctx, f.multi.ObjectID, "storage"); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.IssueToken(ctx, identity.TokenRequest{TenantID: f.other, ClientID: f.multi.AppID, ClientAssertion: good,
		ClientAssertionType: identity.ClientAssertionType, Scope: vaultAud + "/.default"})
	wantError(t, "IssueToken() after the credential was deleted", err, tresor.Unauthenticated, identity.ReasonInvalidClient, "AADSTS70021:")
}

func TestFederate(t *testing.T) {
	f := newExchangeFixture(t)
	ctx := context.Background()
	mi := tresor.Principal{TenantID: f.admin.TenantID, ObjectID: f.mi.ObjectID, AppID: f.mi.AppID, Name: "storage", Type: tresor.ManagedIdentity}
	got, err := f.svc.Federate(ctx, mi, strings.ToUpper(f.multi.AppID), strings.ToUpper(f.other))
	if err != nil {
		t.Fatal(err)
	}
	want := tresor.Principal{TenantID: f.other, ObjectID: f.sp.ObjectID, AppID: f.multi.AppID, Name: "multi", Type: tresor.ServicePrincipal}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Federate() mismatch (-want +got):\n%s", diff)
	}

	stray := mi
	stray.ObjectID = f.stray.ObjectID
	admin := f.adminPrincipal()
	tests := []struct {
		name               string
		mi                 tresor.Principal
		clientID, tenantID string
		reason, code       string
	}{
		{"unknown tenant", mi, f.multi.AppID, identity.NewGUID(), identity.ReasonInvalidTenant, "AADSTS90002:"},
		{"malformed tenant", mi, f.multi.AppID, "contoso.com", identity.ReasonInvalidTenant, "AADSTS90002:"},
		{"not a managed identity", admin, f.multi.AppID, f.other, identity.ReasonInvalidRequest, ""},
		{"missing managed identity", tresor.Principal{ObjectID: identity.NewGUID()}, f.multi.AppID, f.other, identity.ReasonInvalidRequest, ""},
		{"malformed managed identity", tresor.Principal{ObjectID: "x"}, f.multi.AppID, f.other, identity.ReasonInvalidRequest, ""},
		{"identity the app does not trust", stray, f.multi.AppID, f.other, identity.ReasonInvalidClient, "AADSTS70021:"},
		{"app without a service principal there", mi, f.noSP.AppID, f.other, identity.ReasonInvalidClient, "AADSTS700016:"},
		{"single-tenant app elsewhere", mi, f.single.AppID, f.other, identity.ReasonInvalidClient, "AADSTS700016:"},
		{"unknown app", mi, identity.NewGUID(), f.other, identity.ReasonInvalidClient, "AADSTS700016:"},
	}
	for _, tt := range tests {
		_, err := f.svc.Federate(ctx, tt.mi, tt.clientID, tt.tenantID)
		wantError(t, "Federate("+tt.name+")", err, tresor.Unauthenticated, tt.reason, tt.code)
	}
}
