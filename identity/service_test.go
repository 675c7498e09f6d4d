package identity_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/identity"
)

func TestBootstrap(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	first := f.admin
	if !first.Created || first.ClientSecret == "" {
		t.Fatalf("first Bootstrap() = %+v, want Created with a secret", first)
	}
	again, err := f.svc.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := first
	want.ClientSecret, want.Created = "", false
	if diff := cmp.Diff(want, again); diff != "" {
		t.Errorf("second Bootstrap() mismatch (-want +got):\n%s", diff)
	}
	tenants, _ := f.store.Tenants(ctx)
	keys, _ := f.store.SigningKeys(ctx)
	sps, _ := f.store.ServicePrincipals(ctx, first.TenantID)
	if len(tenants) != 1 || len(keys) != 1 || len(sps) != 1 {
		t.Errorf("after two Bootstraps: %d tenants, %d keys, %d service principals; want 1 each", len(tenants), len(keys), len(sps))
	}
	if sps[0].Type != tresor.ServicePrincipal || sps[0].TenantID != first.TenantID || sps[0].DisplayName != identity.AdminName {
		t.Errorf("admin = %+v", sps[0])
	}
	// The admin's application: its own object id, one password that does
	// not expire, the secret kept only as a hash.
	app, err := f.store.ApplicationByAppID(ctx, first.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if app.ObjectID == first.ObjectID || app.TenantID != first.TenantID || len(app.Passwords) != 1 {
		t.Fatalf("admin application = %+v; want its own object id and one password", app)
	}
	pw := app.Passwords[0]
	if !pw.End.Equal(identity.NoExpiry) || !pw.Start.Equal(start) || pw.Hint != first.ClientSecret[:3] || !identity.IsGUID(pw.KeyID) {
		t.Errorf("admin password = %+v; want from %v to %v with hint %q", pw, start, identity.NoExpiry, first.ClientSecret[:3])
	}
	for _, b := range [][]byte{pw.Hash, pw.Salt} {
		if strings.Contains(string(b), first.ClientSecret) {
			t.Errorf("the store holds the client secret")
		}
	}
}

func TestResetCredential(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	secret, err := f.svc.ResetCredential(ctx, strings.ToUpper(f.admin.ClientID))
	if err != nil {
		t.Fatal(err)
	}
	req := identity.TokenRequest{TenantID: f.admin.TenantID, ClientID: f.admin.ClientID, Scope: vaultAud + "/.default"}
	req.ClientSecret = f.admin.ClientSecret
	if _, err := f.svc.IssueToken(ctx, req); !tresor.IsKind(err, tresor.Unauthenticated) {
		t.Errorf("IssueToken(old secret) = %v, want Unauthenticated", err)
	}
	req.ClientSecret = secret
	if _, err := f.svc.IssueToken(ctx, req); err != nil {
		t.Errorf("IssueToken(new secret) = %v", err)
	}
	// Reset removes every other password, not only the previous one.
	app, err := f.store.ApplicationByAppID(ctx, f.admin.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	extra := identity.PasswordCredential{KeyID: identity.NewGUID(), Start: start, End: identity.NoExpiry}
	if err := f.store.AddPassword(ctx, app.ObjectID, extra); err != nil {
		t.Fatal(err)
	}
	again, err := f.svc.ResetCredential(ctx, f.admin.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	app, err = f.store.ApplicationByAppID(ctx, f.admin.ClientID)
	if err != nil || len(app.Passwords) != 1 || app.Passwords[0].Hint != again[:3] {
		t.Errorf("passwords after a second reset = %+v, %v; want only the new one", app.Passwords, err)
	}
	if _, err := f.svc.ResetCredential(ctx, "00000000-0000-4000-8000-000000000000"); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("ResetCredential(unknown) = %v, want NotFound", err)
	}
}

func TestCreateServicePrincipal(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	other, err := f.svc.CreateTenant(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	sp, secret, err := f.svc.CreateServicePrincipal(ctx, strings.ToUpper(other.ID), "app")
	if err != nil {
		t.Fatal(err)
	}
	if sp.TenantID != other.ID || sp.DisplayName != "app" || len(secret) != 43 {
		t.Errorf("CreateServicePrincipal() = %+v, secret of %d characters", sp, len(secret))
	}
	got, err := f.svc.ServicePrincipal(ctx, sp.TenantID, sp.AppID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sp, got); diff != "" {
		t.Errorf("ServicePrincipal() mismatch (-want +got):\n%s", diff)
	}

	tests := []struct {
		name, tenant, display string
		kind                  tresor.Kind
	}{
		{"unknown tenant", "00000000-0000-4000-8000-000000000000", "x", tresor.NotFound},
		{"malformed tenant", "contoso.onmicrosoft.com", "x", tresor.NotFound},
		{"empty name", other.ID, " ", tresor.Invalid},
		{"long name", other.ID, strings.Repeat("x", 257), tresor.Invalid},
		{"the admin's name", other.ID, "TRESOR-ADMIN", tresor.Invalid},
	}
	for _, tt := range tests {
		_, _, err := f.svc.CreateServicePrincipal(ctx, tt.tenant, tt.display)
		if !tresor.IsKind(err, tt.kind) {
			t.Errorf("%s: CreateServicePrincipal() = %v, want %v", tt.name, err, tt.kind)
		}
	}
}

func TestIssueToken(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	other, err := f.svc.CreateTenant(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	stranger, strangerSecret, err := f.svc.CreateServicePrincipal(ctx, other.ID, "stranger")
	if err != nil {
		t.Fatal(err)
	}
	ok := identity.TokenRequest{
		TenantID: f.admin.TenantID, ClientID: f.admin.ClientID, ClientSecret: f.admin.ClientSecret,
		Scope: vaultAud + "/.default",
	}
	change := func(fn func(r *identity.TokenRequest)) identity.TokenRequest {
		r := ok
		fn(&r)
		return r
	}
	tests := []struct {
		name    string
		req     identity.TokenRequest
		wantAud string
		kind    tresor.Kind
		reason  string
	}{
		{name: "ok", req: ok, wantAud: vaultAud},
		{name: "MSAL's OpenID scopes", req: change(func(r *identity.TokenRequest) { r.Scope += " openid offline_access profile" }), wantAud: vaultAud},
		{name: "scope with trailing slash", req: change(func(r *identity.TokenRequest) { r.Scope = vaultAud + "//.default" }), wantAud: vaultAud},
		{name: "audience configured with slash", req: change(func(r *identity.TokenRequest) { r.Scope = "https://management.localhost/.default" }), wantAud: "https://management.localhost/"},
		{name: "upper-case ids", req: change(func(r *identity.TokenRequest) {
			r.TenantID, r.ClientID = strings.ToUpper(r.TenantID), strings.ToUpper(r.ClientID)
		}), wantAud: vaultAud},
		{name: "unknown tenant", req: change(func(r *identity.TokenRequest) { r.TenantID = "00000000-0000-4000-8000-000000000000" }), kind: tresor.Invalid, reason: "invalid_request"},
		{name: "tenant by name", req: change(func(r *identity.TokenRequest) { r.TenantID = "common" }), kind: tresor.Invalid, reason: "invalid_request"},
		{name: "no client id", req: change(func(r *identity.TokenRequest) { r.ClientID = "" }), kind: tresor.Invalid, reason: "invalid_request"},
		{name: "no secret", req: change(func(r *identity.TokenRequest) { r.ClientSecret = "" }), kind: tresor.Unauthenticated, reason: "invalid_client"},
		{name: "wrong secret", req: change(func(r *identity.TokenRequest) { r.ClientSecret += "x" }), kind: tresor.Unauthenticated, reason: "invalid_client"},
		{name: "unknown client", req: change(func(r *identity.TokenRequest) { r.ClientID = "00000000-0000-4000-8000-000000000000" }), kind: tresor.Unauthenticated, reason: "invalid_client"},
		{name: "client of another tenant", req: change(func(r *identity.TokenRequest) { r.ClientID, r.ClientSecret = stranger.AppID, strangerSecret }), kind: tresor.Unauthenticated, reason: "invalid_client"},
		{name: "bad secret and bad scope", req: change(func(r *identity.TokenRequest) { r.ClientSecret, r.Scope = "x", "x" }), kind: tresor.Unauthenticated, reason: "invalid_client"},
		{name: "no scope", req: change(func(r *identity.TokenRequest) { r.Scope = "" }), kind: tresor.Invalid, reason: "invalid_scope"},
		{name: "only openid", req: change(func(r *identity.TokenRequest) { r.Scope = "openid profile" }), kind: tresor.Invalid, reason: "invalid_scope"},
		{name: "not .default", req: change(func(r *identity.TokenRequest) { r.Scope = vaultAud + "/user_impersonation" }), kind: tresor.Invalid, reason: "invalid_scope"},
		{name: "unknown audience", req: change(func(r *identity.TokenRequest) { r.Scope = "https://vault.azure.net/.default" }), kind: tresor.Invalid, reason: "invalid_scope"},
		{name: "two resources", req: change(func(r *identity.TokenRequest) { r.Scope += " " + hsmAud + "/.default" }), kind: tresor.Invalid, reason: "invalid_scope"},
		{name: "bare .default", req: change(func(r *identity.TokenRequest) { r.Scope = "/.default" }), kind: tresor.Invalid, reason: "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := f.svc.IssueToken(ctx, tt.req)
			if tt.wantAud == "" {
				var te *tresor.Error
				if !errors.As(err, &te) || te.Kind != tt.kind || te.Reason != tt.reason {
					t.Fatalf("IssueToken() = %v, want kind %v reason %q", err, tt.kind, tt.reason)
				}
				if !strings.HasPrefix(te.Message, "AADSTS") {
					t.Errorf("message %q does not start with an AADSTS code", te.Message)
				}
				return
			}
			if err != nil {
				t.Fatalf("IssueToken() = %v", err)
			}
			want := identity.Token{AccessToken: tok.AccessToken, Audience: tt.wantAud, ClientID: f.admin.ClientID, NotBefore: start, ExpiresOn: start.Add(time.Hour), ExpiresIn: 3599}
			if diff := cmp.Diff(want, tok); diff != "" {
				t.Errorf("IssueToken() mismatch (-want +got):\n%s", diff)
			}
			if _, err := f.svc.Validate(ctx, tok.AccessToken, tt.wantAud); err != nil {
				t.Errorf("Validate(issued token) = %v", err)
			}
		})
	}
}

// TestTokenClaims pins the header and claims of an issued token, which
// follow Entra's v1.0 application tokens.
func TestTokenClaims(t *testing.T) {
	f := newFixture(t)
	raw := f.token(t, vaultAud)
	kid, _ := f.signingKey(t)
	if diff := cmp.Diff(map[string]any{"alg": "RS256", "typ": "JWT", "kid": kid}, header(t, raw)); diff != "" {
		t.Errorf("header mismatch (-want +got):\n%s", diff)
	}
	got := payload(t, raw)
	if uti, ok := got["uti"].(string); !ok || uti == "" {
		t.Errorf("uti = %v, want a string", got["uti"])
	}
	delete(got, "uti")
	iss := issuer + "/" + f.admin.TenantID + "/"
	want := map[string]any{
		"aud": vaultAud, "iss": iss, "idp": iss, "tid": f.admin.TenantID,
		"iat": float64(start.Unix()), "nbf": float64(start.Unix()), "exp": float64(start.Add(time.Hour).Unix()),
		"oid": f.admin.ObjectID, "sub": f.admin.ObjectID, "appid": f.admin.ClientID, "azp": f.admin.ClientID,
		"appidacr": "1", "app_displayname": "tresor-admin", "idtyp": "app", "ver": "1.0",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claims mismatch (-want +got):\n%s", diff)
	}
	if iss != f.svc.TenantIssuer(f.admin.TenantID) {
		t.Errorf("TenantIssuer() = %q, want %q", f.svc.TenantIssuer(f.admin.TenantID), iss)
	}
}

func TestPublicKeys(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	kid, priv := f.signingKey(t)
	second, err := f.svc.RotateSigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := f.svc.PublicKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].ID != kid || keys[1].ID != second || !keys[0].Key.Equal(&priv.PublicKey) {
		t.Errorf("PublicKeys() = %+v, want [%s %s]", keys, kid, second)
	}
}

// TestImports enforces the dependency rule: the domain package speaks
// neither HTTP nor SQL.
func TestImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	forbidden := map[string]bool{"net/http": true, "database/sql": true}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); forbidden[p] {
				t.Errorf("%s imports %s", name, p)
			}
		}
	}
}

func header(tb testing.TB, raw string) map[string]any { return segment(tb, raw, 0) }

func payload(tb testing.TB, raw string) map[string]any { return segment(tb, raw, 1) }

func segment(tb testing.TB, raw string, i int) map[string]any {
	tb.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[i])
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

// TestSigningKeyRollover follows a rollover through time: the old key
// keeps validating the tokens it signed, and is published, until the last
// of them has expired; then it retires. A fresh Service over the same
// Store (a restart) agrees.
func TestSigningKeyRollover(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.svc.SigningKeyLifetime = 48 * time.Hour
	oldKid, oldPriv := f.signingKey(t)
	issue := func() string {
		t.Helper()
		tok, err := f.svc.IssueToken(ctx, identity.TokenRequest{
			TenantID: f.admin.TenantID, ClientID: f.admin.ClientID, ClientSecret: f.admin.ClientSecret, Scope: vaultAud + "/.default",
		})
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	kids := func(svc *identity.Service) []string {
		t.Helper()
		keys, err := svc.PublicKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range keys {
			out = append(out, k.ID)
		}
		return out
	}

	if rotated, err := f.svc.RolloverSigningKeys(ctx); err != nil || rotated {
		t.Fatalf("rollover of a new key = %v, %v; want no rotation", rotated, err)
	}
	f.now = start.Add(48*time.Hour - time.Minute)
	oldToken := issue() // signed by the old key a minute before it rolls
	f.now = start.Add(48 * time.Hour)
	rotated, err := f.svc.RolloverSigningKeys(ctx)
	if err != nil || !rotated {
		t.Fatalf("rollover after the lifetime = %v, %v; want a rotation", rotated, err)
	}
	newToken := issue()
	if got := header(t, newToken)["kid"]; got == oldKid {
		t.Fatalf("a token issued after the rollover is signed by the old key %v", got)
	}
	if got := kids(f.svc); len(got) != 2 || got[0] != oldKid {
		t.Errorf("JWKS right after the rollover = %v; want the old key and the new", got)
	}
	for _, tok := range []string{oldToken, newToken} {
		if _, err := f.svc.Validate(ctx, tok, vaultAud); err != nil {
			t.Errorf("right after the rollover: %v", err)
		}
	}

	// The old token expires an hour (plus skew) after it was issued; the
	// old key retires an hour plus skew after the rollover, later still.
	f.now = start.Add(48*time.Hour + identity.TokenLifetime + identity.ClockSkew - time.Second)
	if _, err := f.svc.Validate(ctx, oldToken, vaultAud); err == nil {
		t.Errorf("the old token outlived its expiry")
	}
	if got := kids(f.svc); len(got) != 2 {
		t.Errorf("JWKS before retirement = %v; want both keys", got)
	}
	f.now = start.Add(48*time.Hour + identity.TokenLifetime + identity.ClockSkew)
	if got := kids(f.svc); len(got) != 1 || got[0] == oldKid {
		t.Errorf("JWKS after retirement = %v; want only the new key", got)
	}
	// A token signed by the retired key, even with a valid lifetime, fails.
	forged := signRS256(t, oldPriv, oldKid, f.claims(vaultAud))
	if _, err := f.svc.Validate(ctx, forged, vaultAud); err == nil || !strings.Contains(err.Error(), "signing key") {
		t.Errorf("token signed by a retired key: %v; want refused for its signing key", err)
	}
	restarted := &identity.Service{Store: f.store, Sealer: f.sealer, Issuer: issuer, Audiences: f.svc.Audiences, Now: f.svc.Now}
	if got := kids(restarted); len(got) != 1 || got[0] == oldKid {
		t.Errorf("JWKS after a restart = %v; want only the new key", got)
	}
	if _, err := restarted.Validate(ctx, newToken, vaultAud); err != nil {
		t.Errorf("new token after a restart: %v", err)
	}
}

// TestHomeTenantStaysFirst checks that tenants created in the same second
// as the home tenant, or on a clock that went back, list after it, so that
// Bootstrap keeps finding the same home tenant and administrator.
func TestHomeTenantStaysFirst(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.now = start.Add(-time.Hour) // the clock went back
	for _, name := range []string{"b", "c"} {
		if _, _, err := f.svc.CreateTenantWithAdmin(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	ts, err := f.svc.Tenants(ctx)
	if err != nil || len(ts) != 3 || ts[0].ID != f.admin.TenantID || ts[1].DisplayName != "b" || ts[2].DisplayName != "c" {
		t.Fatalf("Tenants() = %+v, %v; want the home tenant, b, c", ts, err)
	}
	again, err := f.svc.Bootstrap(ctx)
	if err != nil || again.TenantID != f.admin.TenantID || again.ObjectID != f.admin.ObjectID || again.Created {
		t.Errorf("Bootstrap after more tenants = %+v, %v; want the same administrator", again, err)
	}
}
