package identity_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/identity"
)

// adminPrincipal is the admin as a validated token presents it.
func (f *fixture) adminPrincipal() tresor.Principal {
	return tresor.Principal{TenantID: f.admin.TenantID, ObjectID: f.admin.ObjectID, AppID: f.admin.ClientID, Name: identity.AdminName, Type: tresor.ServicePrincipal}
}

// wantTokenError requests a token with a client secret and checks that it
// fails with Entra's AADSTS code.
func (f *fixture) wantTokenError(t *testing.T, appID, secret, code string) {
	t.Helper()
	_, err := f.svc.IssueToken(context.Background(), identity.TokenRequest{
		TenantID: f.admin.TenantID, ClientID: appID, ClientSecret: secret, Scope: vaultAud + "/.default",
	})
	var te *tresor.Error
	if !errors.As(err, &te) || te.Kind != tresor.Unauthenticated || te.Reason != identity.ReasonInvalidClient || !strings.HasPrefix(te.Message, code+":") {
		t.Errorf("IssueToken(%s) = %v; want Unauthenticated invalid_client %s", appID, err, code)
	}
}

// issue requests a token with a client secret.
func (f *fixture) issue(appID, secret string) (identity.Token, error) {
	return f.svc.IssueToken(context.Background(), identity.TokenRequest{
		TenantID: f.admin.TenantID, ClientID: appID, ClientSecret: secret, Scope: vaultAud + "/.default",
	})
}

// TestDirectoryLifecycle walks an application through Graph's lifecycle
// and checks at each step what the token endpoint makes of it.
func TestDirectoryLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	d := f.svc.Directory(f.adminPrincipal())

	app, err := d.CreateApplication(ctx, identity.ApplicationSpec{DisplayName: "billing"})
	if err != nil {
		t.Fatal(err)
	}
	if !identity.IsGUID(app.ObjectID) || !identity.IsGUID(app.AppID) || app.ObjectID == app.AppID ||
		app.TenantID != f.admin.TenantID || app.DisplayName != "billing" || !app.Created.Equal(start) || len(app.Passwords) != 0 {
		t.Fatalf("CreateApplication() = %+v", app)
	}
	got, err := d.GetApplication(ctx, strings.ToUpper(app.ObjectID))
	if err != nil || got.AppID != app.AppID {
		t.Errorf("GetApplication(upper case) = %+v, %v", got, err)
	}

	// A password with Graph's defaults: valid from now for two years.
	pw, secret, err := d.AddPassword(ctx, app.ObjectID, identity.PasswordRequest{DisplayName: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	if !pw.Start.Equal(start) || !pw.End.Equal(start.AddDate(2, 0, 0)) || pw.Hint != secret[:3] || pw.DisplayName != "ci" || len(secret) != 43 {
		t.Errorf("AddPassword() = %+v with a secret of %d characters", pw, len(secret))
	}
	// No service principal yet: the secret is right but no token.
	f.wantTokenError(t, app.AppID, secret, "AADSTS7000229")

	sp, err := d.CreateServicePrincipal(ctx, strings.ToUpper(app.AppID))
	if err != nil {
		t.Fatal(err)
	}
	if sp.ObjectID == app.ObjectID || sp.AppID != app.AppID || sp.DisplayName != "billing" || sp.Type != tresor.ServicePrincipal {
		t.Errorf("CreateServicePrincipal() = %+v; want its own object id and the application's client id and name", sp)
	}
	if _, err := d.CreateServicePrincipal(ctx, app.AppID); !tresor.IsKind(err, tresor.Conflict) {
		t.Errorf("CreateServicePrincipal() again = %v, want Conflict", err)
	}
	tok, err := f.issue(app.AppID, secret)
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.Validate(ctx, tok.AccessToken, vaultAud)
	if err != nil || p.ObjectID != sp.ObjectID || p.AppID != app.AppID {
		t.Errorf("token principal = %+v, %v; want oid %s (the service principal's)", p, err, sp.ObjectID)
	}

	// A second password works alongside the first; removing one stops
	// only it, and tokens already issued stay valid.
	pw2, secret2, err := d.AddPassword(ctx, app.ObjectID, identity.PasswordRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.issue(app.AppID, secret2); err != nil {
		t.Errorf("IssueToken(second password) = %v", err)
	}
	if err := d.RemovePassword(ctx, app.ObjectID, pw.KeyID); err != nil {
		t.Fatal(err)
	}
	f.wantTokenError(t, app.AppID, secret, "AADSTS7000215")
	if _, err := f.issue(app.AppID, secret2); err != nil {
		t.Errorf("IssueToken(remaining password) = %v", err)
	}
	if _, err := f.svc.Validate(ctx, tok.AccessToken, vaultAud); err != nil {
		t.Errorf("Validate(token issued before the password was removed) = %v", err)
	}
	if err := d.RemovePassword(ctx, app.ObjectID, pw.KeyID); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("RemovePassword() twice = %v, want NotFound", err)
	}

	// Expiry: valid up to, not at, its end.
	f.now = pw2.End.Add(-time.Second)
	if _, err := f.issue(app.AppID, secret2); err != nil {
		t.Errorf("IssueToken(a second before the end) = %v", err)
	}
	f.now = pw2.End
	f.wantTokenError(t, app.AppID, secret2, "AADSTS7000222")
	f.now = start

	// A password that starts later does not work yet.
	later, secret3, err := d.AddPassword(ctx, app.ObjectID, identity.PasswordRequest{Start: start.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !later.End.Equal(start.Add(time.Hour).AddDate(2, 0, 0)) {
		t.Errorf("default end of a later password = %v, want two years after its start", later.End)
	}
	f.wantTokenError(t, app.AppID, secret3, "AADSTS7000215")
	f.now = start.Add(time.Hour)
	if _, err := f.issue(app.AppID, secret3); err != nil {
		t.Errorf("IssueToken(password from its start) = %v", err)
	}
	f.now = start

	// Deleting the service principal keeps the application; deleting the
	// application takes everything.
	if err := d.DeleteServicePrincipal(ctx, sp.ObjectID); err != nil {
		t.Fatal(err)
	}
	f.wantTokenError(t, app.AppID, secret2, "AADSTS7000229")
	if _, err := d.GetApplication(ctx, app.ObjectID); err != nil {
		t.Errorf("GetApplication() after the service principal was deleted = %v", err)
	}
	sp2, err := d.CreateServicePrincipal(ctx, app.AppID)
	if err != nil || sp2.ObjectID == sp.ObjectID {
		t.Fatalf("CreateServicePrincipal() after a delete = %+v, %v; want a new object id", sp2, err)
	}
	if err := d.DeleteApplication(ctx, app.ObjectID); err != nil {
		t.Fatal(err)
	}
	f.wantTokenError(t, app.AppID, secret2, "AADSTS700016")
	if _, err := d.GetServicePrincipal(ctx, sp2.ObjectID); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("GetServicePrincipal() after its application was deleted = %v, want NotFound", err)
	}
	apps, err := d.ListApplications(ctx)
	if err != nil || len(apps) != 1 || apps[0].AppID != f.admin.ClientID {
		t.Errorf("ListApplications() = %+v, %v; want only the admin's", apps, err)
	}
}

func TestDirectoryErrors(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	d := f.svc.Directory(f.adminPrincipal())
	app, err := d.CreateApplication(ctx, identity.ApplicationSpec{DisplayName: "app"})
	if err != nil {
		t.Fatal(err)
	}
	adminApp, err := f.store.ApplicationByAppID(ctx, f.admin.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	mi, err := f.svc.NewManagedIdentity(f.admin.TenantID, "mi", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.CreateServicePrincipal(ctx, mi); err != nil {
		t.Fatal(err)
	}
	// Objects of another tenant are not found.
	other, err := f.svc.CreateTenant(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	foreign, _, err := f.svc.CreateServicePrincipal(ctx, other.ID, "foreign")
	if err != nil {
		t.Fatal(err)
	}
	foreignApp, err := f.store.ApplicationByAppID(ctx, foreign.AppID)
	if err != nil {
		t.Fatal(err)
	}
	const missing = "00000000-0000-4000-8000-000000000000"
	far := time.Date(9999, 6, 1, 0, 0, 0, 0, time.UTC)

	tests := []struct {
		name string
		err  error
		kind tresor.Kind
	}{
		{"create with an empty name", second(d.CreateApplication(ctx, identity.ApplicationSpec{DisplayName: " "})), tresor.Invalid},
		{"create with a long name", second(d.CreateApplication(ctx, identity.ApplicationSpec{DisplayName: strings.Repeat("x", 257)})), tresor.Invalid},
		{"create with the admin's name", second(d.CreateApplication(ctx, identity.ApplicationSpec{DisplayName: " Tresor-Admin"})), tresor.Invalid},
		{"get a malformed id", second(d.GetApplication(ctx, "app")), tresor.Invalid},
		{"get a missing application", second(d.GetApplication(ctx, missing)), tresor.NotFound},
		{"get an application by its client id", second(d.GetApplication(ctx, app.AppID)), tresor.NotFound},
		{"get another tenant's application", second(d.GetApplication(ctx, foreignApp.ObjectID)), tresor.NotFound},
		{"delete another tenant's application", d.DeleteApplication(ctx, foreignApp.ObjectID), tresor.NotFound},
		{"delete the admin's application", d.DeleteApplication(ctx, adminApp.ObjectID), tresor.Invalid},
		{"add a password to the admin", third(d.AddPassword(ctx, adminApp.ObjectID, identity.PasswordRequest{})), tresor.Invalid},
		{"remove the admin's password", d.RemovePassword(ctx, adminApp.ObjectID, adminApp.Passwords[0].KeyID), tresor.Invalid},
		{"add a password to a missing application", third(d.AddPassword(ctx, missing, identity.PasswordRequest{})), tresor.NotFound},
		{"end before start", third(d.AddPassword(ctx, app.ObjectID, identity.PasswordRequest{Start: start, End: start.Add(-time.Second)})), tresor.Invalid},
		{"end at start", third(d.AddPassword(ctx, app.ObjectID, identity.PasswordRequest{Start: start, End: start})), tresor.Invalid},
		{"default end past year 9999", third(d.AddPassword(ctx, app.ObjectID, identity.PasswordRequest{Start: far})), tresor.Invalid},
		{"long password name", third(d.AddPassword(ctx, app.ObjectID, identity.PasswordRequest{DisplayName: strings.Repeat("x", 257)})), tresor.Invalid},
		{"remove a malformed key id", d.RemovePassword(ctx, app.ObjectID, "key"), tresor.Invalid},
		{"remove a missing key id", d.RemovePassword(ctx, app.ObjectID, missing), tresor.NotFound},
		{"service principal of a malformed app id", second(d.CreateServicePrincipal(ctx, "x")), tresor.Invalid},
		{"service principal of a missing app", second(d.CreateServicePrincipal(ctx, missing)), tresor.Invalid},
		{"service principal of another tenant's app", second(d.CreateServicePrincipal(ctx, foreign.AppID)), tresor.Invalid},
		{"service principal of a managed identity", second(d.CreateServicePrincipal(ctx, mi.AppID)), tresor.Invalid},
		{"service principal of the admin", second(d.CreateServicePrincipal(ctx, f.admin.ClientID)), tresor.Conflict},
		{"get another tenant's service principal", second(d.GetServicePrincipal(ctx, foreign.ObjectID)), tresor.NotFound},
		{"get a service principal by its application's id", second(d.GetServicePrincipal(ctx, app.ObjectID)), tresor.NotFound},
		{"delete a managed identity", d.DeleteServicePrincipal(ctx, mi.ObjectID), tresor.Invalid},
		{"delete the admin", d.DeleteServicePrincipal(ctx, f.admin.ObjectID), tresor.Invalid},
		{"delete a missing service principal", d.DeleteServicePrincipal(ctx, missing), tresor.NotFound},
	}
	for _, tt := range tests {
		if got := tresor.KindOf(tt.err); tt.err == nil || got != tt.kind {
			t.Errorf("%s: error = %v (kind %v), want kind %v", tt.name, tt.err, got, tt.kind)
		}
	}
	if _, err := f.issue(f.admin.ClientID, f.admin.ClientSecret); err != nil {
		t.Errorf("the admin's token after the refused changes = %v", err)
	}
	sps, err := d.ListServicePrincipals(ctx)
	ids := map[string]bool{}
	for _, sp := range sps {
		ids[sp.ObjectID] = true
	}
	if err != nil || len(sps) != 2 || !ids[f.admin.ObjectID] || !ids[mi.ObjectID] {
		t.Errorf("ListServicePrincipals() = %+v, %v; want the admin and the managed identity", sps, err)
	}

	for i := range identity.MaxPasswords {
		if _, _, err := d.AddPassword(ctx, app.ObjectID, identity.PasswordRequest{}); err != nil {
			t.Fatalf("AddPassword() #%d = %v", i+1, err)
		}
	}
	if _, _, err := d.AddPassword(ctx, app.ObjectID, identity.PasswordRequest{}); !tresor.IsKind(err, tresor.Invalid) {
		t.Errorf("AddPassword() beyond %d = %v, want Invalid", identity.MaxPasswords, err)
	}
}

// TestDirectoryAuthorization checks that only the tenant's administrator
// may use the directory, for every operation.
func TestDirectoryAuthorization(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	app, _, err := f.svc.CreateServicePrincipal(ctx, f.admin.TenantID, "app")
	if err != nil {
		t.Fatal(err)
	}
	other, err := f.svc.CreateTenant(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	admin := f.adminPrincipal()
	change := func(fn func(p *tresor.Principal)) tresor.Principal {
		p := admin
		fn(&p)
		return p
	}
	callers := []struct {
		name   string
		caller tresor.Principal
	}{
		{"another service principal", tresor.Principal{TenantID: f.admin.TenantID, ObjectID: app.ObjectID, AppID: app.AppID, Type: tresor.ServicePrincipal}},
		{"the admin's object id with another tenant", change(func(p *tresor.Principal) { p.TenantID = other.ID })},
		{"the admin's object id as a managed identity", change(func(p *tresor.Principal) { p.Type = tresor.ManagedIdentity })},
		{"the admin's object id as a user", change(func(p *tresor.Principal) { p.Type = tresor.User })},
		{"an unknown object id", change(func(p *tresor.Principal) { p.ObjectID = "00000000-0000-4000-8000-000000000000" })},
		{"no principal", tresor.Principal{}},
	}
	id := "00000000-0000-4000-8000-000000000001"
	for _, c := range callers {
		d := f.svc.Directory(c.caller)
		for op, err := range map[string]error{
			"CreateApplication":      second(d.CreateApplication(ctx, identity.ApplicationSpec{DisplayName: "x"})),
			"GetApplication":         second(d.GetApplication(ctx, id)),
			"ListApplications":       second(d.ListApplications(ctx)),
			"DeleteApplication":      d.DeleteApplication(ctx, id),
			"AddPassword":            third(d.AddPassword(ctx, id, identity.PasswordRequest{})),
			"RemovePassword":         d.RemovePassword(ctx, id, id),
			"CreateServicePrincipal": second(d.CreateServicePrincipal(ctx, app.AppID)),
			"GetServicePrincipal":    second(d.GetServicePrincipal(ctx, app.ObjectID)),
			"ListServicePrincipals":  second(d.ListServicePrincipals(ctx)),
			"DeleteServicePrincipal": d.DeleteServicePrincipal(ctx, app.ObjectID),
		} {
			if !tresor.IsKind(err, tresor.Forbidden) {
				t.Errorf("%s: %s = %v, want Forbidden", c.name, op, err)
			}
		}
	}
	if _, err := f.svc.Directory(admin).GetServicePrincipal(ctx, app.ObjectID); err != nil {
		t.Errorf("the admin: GetServicePrincipal = %v", err)
	}
	if _, err := f.store.ServicePrincipal(ctx, app.ObjectID); err != nil {
		t.Errorf("the refused calls changed the store: %v", err)
	}
}

func second[T any](_ T, err error) error { return err }

func third[T, U any](_ T, _ U, err error) error { return err }
