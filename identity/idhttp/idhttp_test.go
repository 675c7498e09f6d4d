package idhttp

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/identity/identitytest"
)

const (
	testIssuer = "https://localhost:8443"
	vaultAud   = "https://vault.localhost:8443"
)

func newHandler(tb testing.TB) (*Handler, *identity.Service, identity.Admin) {
	tb.Helper()
	svc, admin := identitytest.NewService(tb, testIssuer, vaultAud)
	return New(svc), svc, admin
}

// do serves one request and decodes the JSON reply into a map.
func do(tb testing.TB, h http.Handler, r *http.Request) (int, map[string]any) {
	tb.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		tb.Fatalf("%s %s: reply is not JSON: %q", r.Method, r.URL, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
		tb.Errorf("%s %s: Content-Type = %q", r.Method, r.URL, ct)
	}
	return w.Code, body
}

func form(tb testing.TB, path string, v url.Values) *http.Request {
	tb.Helper()
	r := httptest.NewRequest("POST", testIssuer+path, strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	return r
}

func TestOpenIDConfiguration(t *testing.T) {
	h, _, admin := newHandler(t)
	base := testIssuer + "/" + admin.TenantID
	tests := []struct {
		path string
		want map[string]any
	}{
		{"/" + admin.TenantID + "/v2.0/.well-known/openid-configuration", map[string]any{
			"issuer":                 base + "/",
			"authorization_endpoint": base + "/oauth2/v2.0/authorize",
			"token_endpoint":         base + "/oauth2/v2.0/token",
			"jwks_uri":               base + "/discovery/v2.0/keys",
			"end_session_endpoint":   base + "/oauth2/v2.0/logout",
		}},
		{"/" + strings.ToUpper(admin.TenantID) + "/.well-known/openid-configuration", map[string]any{
			"issuer":                 base + "/",
			"authorization_endpoint": base + "/oauth2/authorize",
			"token_endpoint":         base + "/oauth2/token",
			"jwks_uri":               base + "/discovery/keys",
			"end_session_endpoint":   base + "/oauth2/logout",
		}},
	}
	for _, tt := range tests {
		code, body := do(t, h, httptest.NewRequest("GET", testIssuer+tt.path, nil))
		if code != http.StatusOK {
			t.Fatalf("GET %s = %d %v", tt.path, code, body)
		}
		got := map[string]any{}
		for k := range tt.want {
			got[k] = body[k]
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("GET %s mismatch (-want +got):\n%s", tt.path, diff)
		}
		if body["cloud_instance_name"] != "localhost" || body["tenant_region_scope"] == nil {
			t.Errorf("GET %s: cloud_instance_name %v, tenant_region_scope %v", tt.path, body["cloud_instance_name"], body["tenant_region_scope"])
		}
	}
}

func TestInstanceDiscovery(t *testing.T) {
	h, _, admin := newHandler(t)
	q := url.Values{"api-version": {"1.1"}, "authorization_endpoint": {testIssuer + "/" + admin.TenantID + "/oauth2/v2.0/authorize"}}
	code, body := do(t, h, httptest.NewRequest("GET", testIssuer+"/common/discovery/instance?"+q.Encode(), nil))
	want := map[string]any{
		"tenant_discovery_endpoint": testIssuer + "/" + admin.TenantID + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata": []any{map[string]any{
			"preferred_network": "localhost:8443", "preferred_cache": "localhost:8443", "aliases": []any{"localhost:8443"},
		}},
	}
	if diff := cmp.Diff(want, body); code != http.StatusOK || diff != "" {
		t.Errorf("instance discovery = %d, mismatch (-want +got):\n%s", code, diff)
	}

	q.Set("authorization_endpoint", "https://login.microsoftonline.com/"+admin.TenantID+"/oauth2/v2.0/authorize")
	code, body = do(t, h, httptest.NewRequest("GET", testIssuer+"/common/discovery/instance?"+q.Encode(), nil))
	if code != http.StatusBadRequest || body["error"] != "invalid_instance" {
		t.Errorf("instance discovery for another host = %d %v, want 400 invalid_instance", code, body)
	}
}

func TestKeys(t *testing.T) {
	h, svc, admin := newHandler(t)
	code, body := do(t, h, httptest.NewRequest("GET", testIssuer+"/"+admin.TenantID+"/discovery/v2.0/keys", nil))
	if code != http.StatusOK {
		t.Fatalf("GET keys = %d %v", code, body)
	}
	keys, err := svc.PublicKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got jwks
	b, _ := json.Marshal(body)
	if err := json.Unmarshal(b, &got); err != nil || len(got.Keys) != 1 {
		t.Fatalf("keys = %s", b)
	}
	k := got.Keys[0]
	n, _ := base64.RawURLEncoding.DecodeString(k.N)
	e, _ := base64.RawURLEncoding.DecodeString(k.E)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	if k.Kid != keys[0].ID || k.Kty != "RSA" || k.Alg != "RS256" || !pub.Equal(keys[0].Key) {
		t.Errorf("JWK = %+v, want the key %s", k, keys[0].ID)
	}
}

func TestToken(t *testing.T) {
	h, svc, admin := newHandler(t)
	v2Path := "/" + admin.TenantID + "/oauth2/v2.0/token"
	ok := url.Values{
		"grant_type": {"client_credentials"}, "client_id": {admin.ClientID}, "client_secret": {admin.ClientSecret},
		"scope": {vaultAud + "/.default openid offline_access profile"}, "client_info": {"1"},
	}
	code, body := do(t, h, form(t, v2Path, ok))
	if code != http.StatusOK {
		t.Fatalf("POST token = %d %v", code, body)
	}
	want := map[string]any{"token_type": "Bearer", "expires_in": 3599.0, "ext_expires_in": 3599.0}
	if diff := cmp.Diff(want, body, cmpopts.IgnoreMapEntries(func(k string, _ any) bool { return k == "access_token" })); diff != "" {
		t.Errorf("POST token mismatch (-want +got):\n%s", diff)
	}
	if _, err := svc.Validate(context.Background(), body["access_token"].(string), vaultAud); err != nil {
		t.Errorf("Validate(access_token) = %v", err)
	}

	// The v1.0 endpoint, with resource= and numbers as strings.
	v1 := url.Values{"grant_type": {"client_credentials"}, "client_id": {admin.ClientID}, "client_secret": {admin.ClientSecret}, "resource": {vaultAud}}
	code, body = do(t, h, form(t, "/"+admin.TenantID+"/oauth2/token", v1))
	if code != http.StatusOK || body["expires_in"] != "3599" || body["resource"] != vaultAud || body["expires_on"] == nil {
		t.Errorf("POST v1 token = %d %v", code, body)
	}

	// client_secret_basic.
	r := form(t, v2Path, url.Values{"grant_type": {"client_credentials"}, "scope": {vaultAud + "/.default"}})
	r.SetBasicAuth(url.QueryEscape(admin.ClientID), url.QueryEscape(admin.ClientSecret))
	if code, body := do(t, h, r); code != http.StatusOK {
		t.Errorf("POST token with Basic authentication = %d %v", code, body)
	}
}

func TestTokenErrors(t *testing.T) {
	h, _, admin := newHandler(t)
	path := "/" + admin.TenantID + "/oauth2/v2.0/token"
	good := func(change func(v url.Values)) url.Values {
		v := url.Values{"grant_type": {"client_credentials"}, "client_id": {admin.ClientID}, "client_secret": {admin.ClientSecret}, "scope": {vaultAud + "/.default"}}
		change(v)
		return v
	}
	tests := []struct {
		name      string
		req       *http.Request
		status    int
		error     string
		errorCode float64
	}{
		{"wrong secret", form(t, path, good(func(v url.Values) { v.Set("client_secret", "nope") })), 401, "invalid_client", 7000215},
		{"no secret", form(t, path, good(func(v url.Values) { v.Del("client_secret") })), 401, "invalid_client", 7000218},
		{"unknown client", form(t, path, good(func(v url.Values) { v.Set("client_id", "11111111-1111-4111-8111-111111111111") })), 401, "invalid_client", 700016},
		{"no client id", form(t, path, good(func(v url.Values) { v.Del("client_id") })), 400, "invalid_request", 900144},
		{"unknown tenant", form(t, "/11111111-1111-4111-8111-111111111111/oauth2/v2.0/token", good(func(url.Values) {})), 400, "invalid_request", 90002},
		{"unknown audience", form(t, path, good(func(v url.Values) { v.Set("scope", "https://vault.azure.net/.default") })), 400, "invalid_scope", 500011},
		{"scope without .default", form(t, path, good(func(v url.Values) { v.Set("scope", vaultAud) })), 400, "invalid_scope", 1002012},
		{"no grant type", form(t, path, good(func(v url.Values) { v.Del("grant_type") })), 400, "invalid_request", 900144},
		{"password grant", form(t, path, good(func(v url.Values) { v.Set("grant_type", "password") })), 400, "unsupported_grant_type", 70003},
		{"client secret and assertion", form(t, path, good(func(v url.Values) {
			v.Set("client_assertion", "x")
			v.Set("client_assertion_type", identity.ClientAssertionType)
		})), 400, "invalid_request", 90023},
		{"assertion of another type", form(t, path, good(func(v url.Values) {
			v.Del("client_secret")
			v.Set("client_assertion", "x")
			v.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
		})), 400, "invalid_request", 90023},
		{"assertion without its type", form(t, path, good(func(v url.Values) {
			v.Del("client_secret")
			v.Set("client_assertion", "x")
		})), 400, "invalid_request", 900144},
		{"assertion that is not a JWT", form(t, path, good(func(v url.Values) {
			v.Del("client_secret")
			v.Set("client_assertion", "x")
			v.Set("client_assertion_type", identity.ClientAssertionType)
		})), 401, "invalid_client", 50027},
		{"JSON body", func() *http.Request {
			r := httptest.NewRequest("POST", testIssuer+path, strings.NewReader(`{"grant_type":"client_credentials"}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}(), 400, "invalid_request", 900144},
		{"body over 64 KiB", form(t, path, good(func(v url.Values) { v.Set("pad", strings.Repeat("x", 64<<10)) })), 413, "invalid_request", 90023},
		{"malformed form", func() *http.Request {
			r := httptest.NewRequest("POST", testIssuer+path, strings.NewReader("a=%zz"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}(), 400, "invalid_request", 90023},
		{"config of unknown tenant", httptest.NewRequest("GET", testIssuer+"/contoso.com/v2.0/.well-known/openid-configuration", nil), 400, "invalid_tenant", 90002},
		{"keys of unknown tenant", httptest.NewRequest("GET", testIssuer+"/11111111-1111-4111-8111-111111111111/discovery/keys", nil), 400, "invalid_tenant", 90002},
		{"unknown endpoint", httptest.NewRequest("GET", testIssuer+"/"+admin.TenantID+"/oauth2/v2.0/authorize", nil), 400, "invalid_request", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Header.Set("client-request-id", "22222222-2222-4222-8222-222222222222")
			code, body := do(t, h, tt.req)
			var codes []any
			if tt.errorCode != 0 {
				codes = []any{tt.errorCode}
			}
			got := map[string]any{"status": code, "error": body["error"], "error_codes": body["error_codes"], "correlation_id": body["correlation_id"]}
			want := map[string]any{"status": tt.status, "error": tt.error, "error_codes": codes, "correlation_id": "22222222-2222-4222-8222-222222222222"}
			if tt.errorCode == 0 {
				want["error_codes"] = nil
				got["error_codes"] = body["error_codes"]
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("reply mismatch (-want +got):\n%s\nbody: %v", diff, body)
			}
			for _, k := range []string{"error_description", "timestamp", "trace_id"} {
				if s, _ := body[k].(string); s == "" {
					t.Errorf("reply lacks %s: %v", k, body)
				}
			}
		})
	}
}

func TestOwns(t *testing.T) {
	h, _, admin := newHandler(t)
	tests := []struct {
		method, path string
		want         bool
	}{
		{"GET", "/" + admin.TenantID + "/v2.0/.well-known/openid-configuration", true},
		{"POST", "/" + admin.TenantID + "/oauth2/v2.0/token", true},
		{"POST", "/" + admin.TenantID + "/oauth2/token", true},
		{"GET", "/common/discovery/instance", true},
		{"GET", "/organizations/discovery/instance", true},
		{"GET", "/" + admin.TenantID + "/discovery/v2.0/keys", true},
		{"GET", "/subscriptions/discovery/keys", false},
		{"GET", "/subscriptions/" + admin.TenantID + "/resourceGroups", false},
		{"GET", "/providers/Microsoft.KeyVault/operations", false},
		{"GET", "/", false},
	}
	for _, tt := range tests {
		if got := h.Owns(httptest.NewRequest(tt.method, testIssuer+tt.path, nil)); got != tt.want {
			t.Errorf("Owns(%s %s) = %v, want %v", tt.method, tt.path, got, tt.want)
		}
	}
}
