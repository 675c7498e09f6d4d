package tenancyhttp_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/rbac"
	"github.com/tresorkms/tresor/seal"
	"github.com/tresorkms/tresor/sqlite"
	"github.com/tresorkms/tresor/tenancy"
	"github.com/tresorkms/tresor/tenancy/tenancyhttp"
)

// TestTenants drives the tenant API: only the administrator may call it; a
// create gives a tenant whose administrator can sign in to it and owns its
// subscription; bad requests are 4xx and create nothing.
func TestTenants(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tresor.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	root := make([]byte, seal.RootKeySize)
	rand.Read(root)
	sealer, _ := seal.New(root, "identity")
	ids := &identity.Service{Store: db, Sealer: sealer, Issuer: "https://localhost", Audiences: []string{"https://management.localhost"}}
	admin, err := ids.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	armSvc := arm.NewService(db)
	rs := &rbac.Service{Store: db}
	h := &tenancyhttp.Handler{
		Tenants: &tenancy.Service{Identity: ids, ARM: armSvc, RBAC: rs},
		Authenticate: func(ctx context.Context, token string) (tresor.Principal, error) {
			return ids.Validate(ctx, token, "https://management.localhost")
		},
		Admin: admin.ObjectID,
	}
	token := func(tenant, clientID, secret string) string {
		tok, err := ids.IssueToken(ctx, identity.TokenRequest{TenantID: tenant, ClientID: clientID, ClientSecret: secret, Scope: "https://management.localhost/.default"})
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	adminToken := token(admin.TenantID, admin.ClientID, admin.ClientSecret)
	other, secret, err := ids.CreateServicePrincipal(ctx, admin.TenantID, "someone")
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, tok, body string) (int, map[string]any) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var out map[string]any
		json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out
	}

	for _, tc := range []struct {
		name, method, path, token, body string
		status                          int
	}{
		{"no token", "GET", "/tresor/tenants", "", "", 401},
		{"not the administrator", "POST", "/tresor/tenants", token(admin.TenantID, other.AppID, secret), `{"displayName":"x"}`, 403},
		{"malformed body", "POST", "/tresor/tenants", adminToken, `{"displayName":`, 400},
		{"no display name", "POST", "/tresor/tenants", adminToken, `{}`, 400},
		{"wrong method", "DELETE", "/tresor/tenants", adminToken, "", 405},
		{"unknown path", "GET", "/tresor/tenants/x", adminToken, "", 404},
	} {
		if status, body := call(tc.method, tc.path, tc.token, tc.body); status != tc.status {
			t.Errorf("%s: status %d (%v), want %d", tc.name, status, body, tc.status)
		}
	}
	if ts, _ := ids.Tenants(ctx); len(ts) != 1 {
		t.Fatalf("refused requests created tenants: %d tenants", len(ts))
	}

	status, c := call("POST", "/tresor/tenants", adminToken, `{"displayName":"contoso","unknown":1}`)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, c)
	}
	tenant, sub := c["tenantId"].(string), c["subscriptionId"].(string)
	// The new administrator signs in to its tenant, not to the home tenant.
	newAdmin := token(tenant, c["clientId"].(string), c["clientSecret"].(string))
	p, err := ids.Validate(ctx, newAdmin, "https://management.localhost")
	if err != nil || p.TenantID != tenant || p.ObjectID != c["objectId"] {
		t.Errorf("the new administrator's token names %+v, %v", p, err)
	}
	if _, err := ids.IssueToken(ctx, identity.TokenRequest{TenantID: admin.TenantID, ClientID: c["clientId"].(string), ClientSecret: c["clientSecret"].(string), Scope: "https://management.localhost/.default"}); err == nil {
		t.Error("the new tenant's administrator obtained a token in the home tenant")
	}
	if s, err := armSvc.GetSubscription(ctx, sub); err != nil || s.TenantID != tenant {
		t.Errorf("subscription %s: %+v, %v", sub, s, err)
	}
	as, err := rs.ListRoleAssignments(ctx, "", "/subscriptions/"+sub, p.ObjectID, true)
	if err != nil || len(as) != 1 || as[0].RoleID != rbac.Owner {
		t.Errorf("the new administrator's roles at its subscription: %+v, %v", as, err)
	}
	// Another tenant's administrator (also named tresor-admin) is not the
	// installation's.
	if status, body := call("POST", "/tresor/tenants", newAdmin, `{"displayName":"y"}`); status != http.StatusForbidden {
		t.Errorf("create as the new tenant's administrator: %d %v; want 403", status, body)
	}
	// Only the new tenant's administrator holds its directory role.
	if _, err := ids.Directory(p).ListApplications(ctx); err != nil {
		t.Errorf("the new administrator cannot read its directory: %v", err)
	}

	status, list := call("GET", "/tresor/tenants", adminToken, "")
	v, _ := list["value"].([]any)
	if status != 200 || len(v) != 2 || v[1].(map[string]any)["tenantId"] != tenant || len(v[1].(map[string]any)["subscriptionIds"].([]any)) != 1 {
		t.Errorf("list: %d %v", status, list)
	}
}
