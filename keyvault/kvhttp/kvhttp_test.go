package kvhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/hsm/software"
	"github.com/tresorkms/tresor/keyvault"
	"github.com/tresorkms/tresor/keyvault/kvtest"
	"github.com/tresorkms/tresor/seal"
)

const testToken = "good-token"

// newTestHandler returns a Handler over an in-memory store with one vault
// "kv1" holding an RSA key "rsa" and one HSM "hsm1" holding an oct key.
func newTestHandler(tb testing.TB) *Handler {
	tb.Helper()
	root := bytes.Repeat([]byte{3}, seal.RootKeySize)
	keys, _ := seal.New(root, "keys")
	backup, _ := seal.New(root, "backup")
	svc := keyvault.NewService(kvtest.NewMemStore(), software.New(keys), backup)
	ctx := context.Background()
	v, _, err := svc.CreateOrUpdateVault(ctx, keyvault.Vault{Kind: keyvault.KeyVault, Name: "kv1", SKU: "standard", SoftDelete: true})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := svc.CreateKey(ctx, v, "rsa", keyvault.CreateKeyParams{Type: keyvault.RSA}); err != nil {
		tb.Fatal(err)
	}
	return New(Handler{
		Service:   svc,
		Kind:      keyvault.KeyVault,
		Suffix:    ".vault.localhost",
		Resource:  "https://vault.localhost:8443",
		Authority: "https://localhost:8443/tenant",
		Authenticate: func(_ context.Context, token string) (tresor.Principal, error) {
			if token != testToken {
				return tresor.Principal{}, tresor.Errorf(tresor.Unauthenticated, "invalid token")
			}
			return tresor.Principal{ObjectID: "admin"}, nil
		},
	})
}

func do(h http.Handler, method, target, body string, token string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "https://kv1.vault.localhost:8443"+target, strings.NewReader(body))
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func errorCode(tb testing.TB, w *httptest.ResponseRecorder) string {
	tb.Helper()
	var e keyVaultError
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		tb.Fatalf("error body %q is not Azure's shape: %v", w.Body.String(), err)
	}
	if e.Error.Message == "" {
		tb.Errorf("error %s has no message", e.Error.Code)
	}
	return e.Error.Code
}

func TestBadInput(t *testing.T) {
	h := newTestHandler(t)
	const v = "?api-version=7.6"
	huge := `{"value":"` + strings.Repeat("A", smallBody) + `","alg":"RSA-OAEP"}`
	tests := []struct {
		name, method, target, body, token string
		status                            int
		code                              string
	}{
		{"no token", "POST", "/keys/k/create" + v, `{"kty":"RSA"}`, "", 401, "Unauthorized"},
		{"bad token", "POST", "/keys/k/create" + v, `{"kty":"RSA"}`, "forged", 401, "Unauthorized"},
		{"bad json", "POST", "/keys/k/create" + v, `{"kty":`, testToken, 400, "BadParameter"},
		{"not json", "POST", "/keys/k/create" + v, `kty=RSA`, testToken, 400, "BadParameter"},
		{"empty body", "POST", "/keys/k/create" + v, ``, testToken, 400, "BadParameter"},
		{"trailing data", "POST", "/keys/k/create" + v, `{"kty":"RSA"} {}`, testToken, 400, "BadParameter"},
		{"wrong type key_size", "POST", "/keys/k/create" + v, `{"kty":"RSA","key_size":"2048"}`, testToken, 400, "BadParameter"},
		{"wrong type tags", "POST", "/keys/k/create" + v, `{"kty":"RSA","tags":["a"]}`, testToken, 400, "BadParameter"},
		{"wrong type enabled", "POST", "/keys/k/create" + v, `{"kty":"RSA","attributes":{"enabled":"yes"}}`, testToken, 400, "BadParameter"},
		{"float time", "POST", "/keys/k/create" + v, `{"kty":"RSA","attributes":{"exp":1.5}}`, testToken, 400, "BadParameter"},
		{"missing kty", "POST", "/keys/k/create" + v, `{}`, testToken, 400, "BadParameter"},
		{"unknown kty", "POST", "/keys/k/create" + v, `{"kty":"DSA"}`, testToken, 400, "BadParameter"},
		{"oversize key_size", "POST", "/keys/k/create" + v, `{"kty":"RSA","key_size":1048576}`, testToken, 400, "BadParameter"},
		{"negative key_size", "POST", "/keys/k/create" + v, `{"kty":"RSA","key_size":-1}`, testToken, 400, "BadParameter"},
		{"bad key name", "POST", "/keys/bad_name/create" + v, `{"kty":"RSA"}`, testToken, 400, "BadParameter"},
		{"invalid base64url", "POST", "/keys/rsa/encrypt" + v, `{"alg":"RSA-OAEP","value":"!!!"}`, testToken, 400, "BadParameter"},
		{"missing value", "POST", "/keys/rsa/encrypt" + v, `{"alg":"RSA-OAEP"}`, testToken, 400, "BadParameter"},
		{"wrong alg for key", "POST", "/keys/rsa/encrypt" + v, `{"alg":"A256GCM","value":"AAAA"}`, testToken, 400, "BadParameter"},
		{"body over limit", "POST", "/keys/rsa/encrypt" + v, huge, testToken, 413, "RequestEntityTooLarge"},
		{"unknown key", "GET", "/keys/nope" + v, ``, testToken, 404, "KeyNotFound"},
		{"unknown version", "GET", "/keys/rsa/0123456789abcdef0123456789abcdef" + v, ``, testToken, 404, "KeyNotFound"},
		{"unknown deleted key", "GET", "/deletedkeys/nope" + v, ``, testToken, 404, "KeyNotFound"},
		{"wrong api-version", "GET", "/keys/rsa?api-version=1.0", ``, testToken, 400, "BadParameter"},
		{"garbage api-version", "GET", "/keys/rsa?api-version=latest", ``, testToken, 400, "BadParameter"},
		{"missing api-version", "GET", "/keys/rsa", ``, testToken, 400, "BadParameter"},
		{"bad maxresults", "GET", "/keys" + v + "&maxresults=26", ``, testToken, 400, "BadParameter"},
		{"unknown route", "GET", "/secrets/s" + v, ``, testToken, 404, "NotFound"},
		{"bad restore blob", "POST", "/keys/restore" + v, `{"value":"AAAA"}`, testToken, 400, "BadParameter"},
		{"rng on vault", "POST", "/rng" + v, `{"count":4}`, testToken, 404, "KeyNotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(h, tt.method, tt.target, tt.body, tt.token)
			if w.Code != tt.status {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.target, w.Code, w.Body.String(), tt.status)
			}
			if code := errorCode(t, w); code != tt.code {
				t.Errorf("%s %s code = %q, want %q", tt.method, tt.target, code, tt.code)
			}
			if tt.status == 401 && !strings.Contains(w.Header().Get("WWW-Authenticate"), `resource="https://vault.localhost:8443"`) {
				t.Errorf("401 challenge = %q, want the vault resource", w.Header().Get("WWW-Authenticate"))
			}
		})
	}
}

func TestChallengeBeforeBody(t *testing.T) {
	h := newTestHandler(t)
	// The SDKs' first request has no body and no token; it must get the
	// challenge, not a 400 for the missing body.
	w := do(h, "POST", "/keys/k/create?api-version=2025-07-01", "", "")
	if w.Code != 401 || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), `Bearer authorization="https://localhost:8443/tenant"`) {
		t.Fatalf("bodiless first request = %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	if w := do(h, "GET", "/keys/k?api-version=2025-07-01", "", testToken); w.Code != 404 {
		t.Fatalf("key k exists after a challenged create: %d", w.Code)
	}
}

func TestPathShapes(t *testing.T) {
	h := newTestHandler(t)
	// Go sends "/keys/rsa/" for the newest version; JS sends "//encrypt".
	for _, target := range []string{"/keys/rsa/", "/keys/rsa", "//keys//rsa/"} {
		if w := do(h, "GET", target+"?api%2Dversion=2025-07-01", "", testToken); w.Code != 200 {
			t.Errorf("GET %s = %d %s", target, w.Code, w.Body.String())
		}
	}
	body := `{"alg":"RSA-OAEP-256","value":"aGVsbG8"}`
	if w := do(h, "POST", "/keys/rsa//encrypt?api-version=7.5", body, testToken); w.Code != 200 {
		t.Errorf("POST //encrypt = %d %s", w.Code, w.Body.String())
	}
	var kb keyBundle
	w := do(h, "GET", "/keys/rsa?api-version=7.6", "", testToken)
	if err := json.Unmarshal(w.Body.Bytes(), &kb); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(kb.Key.Kid, "https://kv1.vault.localhost:8443/keys/rsa/") || strings.Contains(w.Body.String(), "=") {
		t.Errorf("kid %q or padded base64 in %s", kb.Key.Kid, w.Body.String())
	}
}

func TestAPIVersions(t *testing.T) {
	for _, v := range []string{"7.0", "7.4", "7.5", "7.6", "2025-07-01", "2026-01-01-preview", "2027-03-01"} {
		if err := checkAPIVersion(v); err != nil {
			t.Errorf("checkAPIVersion(%q) = %v, want nil", v, err)
		}
	}
	for _, v := range []string{"", "8.0", "2019-01-01", "latest", "7.6; drop"} {
		if err := checkAPIVersion(v); err == nil {
			t.Errorf("checkAPIVersion(%q) = nil, want error", v)
		}
	}
}

// FuzzDecode feeds arbitrary bodies to every request decoder: each must
// return nil or an Invalid error, never panic.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"kty":"RSA","key_size":2048,"key_ops":["sign"],"attributes":{"enabled":true,"exp":1700000000},"tags":{"a":"b"}}`,
		`{"Hsm":true,"key":{"kty":"EC","crv":"P-256","x":"AA","y":"AA","d":"AA"}}`,
		`{"alg":"A256GCM","value":"aGVsbG8","iv":"AAAAAAAAAAAAAAAA","aad":"","tag":"AA=="}`,
		`{"value":"eyJ"}`, `{"count":4}`, `[]`, `null`, `{"release_policy":{"data":"e30","immutable":true}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		targets := []any{
			&keyCreateParameters{}, &keyImportParameters{}, &keyUpdateParameters{}, &keyOperationsParameters{},
			&keySignParameters{}, &keyVerifyParameters{}, &keyRestoreParameters{}, &getRandomBytesRequest{},
		}
		for _, v := range targets {
			if err := decodeBytes(body, v); err != nil && tresor.KindOf(err) != tresor.Invalid {
				t.Fatalf("decode(%q) = %v, want an Invalid error", body, err)
			}
		}
	})
}

// TestChallengeNamesVaultTenant checks that the 401 challenge names the
// tenant of the vault addressed, as Key Vault's does, so that a client of
// another tenant than the installation's first is sent to its own; a host
// that names no vault gets the default authority.
func TestChallengeNamesVaultTenant(t *testing.T) {
	root := bytes.Repeat([]byte{3}, seal.RootKeySize)
	keys, _ := seal.New(root, "keys")
	backup, _ := seal.New(root, "backup")
	svc := keyvault.NewService(kvtest.NewMemStore(), software.New(keys), backup)
	const other = "8b7f0b9e-3c56-4c2e-9d0a-6f3e2b1a0c9d"
	if _, _, err := svc.CreateOrUpdateVault(context.Background(), keyvault.Vault{Kind: keyvault.KeyVault, Name: "kv2", SKU: "standard", SoftDelete: true, TenantID: other}); err != nil {
		t.Fatal(err)
	}
	h := New(Handler{
		Service: svc, Kind: keyvault.KeyVault, Suffix: ".vault.localhost", Resource: "https://vault.localhost:8443",
		Authority: "https://localhost:8443/home", Issuer: "https://localhost:8443/",
		Authenticate: func(context.Context, string) (tresor.Principal, error) {
			return tresor.Principal{}, tresor.Errorf(tresor.Unauthenticated, "invalid token")
		},
	})
	for host, want := range map[string]string{
		"kv2.vault.localhost:8443":    "https://localhost:8443/" + other,
		"nosuch.vault.localhost:8443": "https://localhost:8443/home",
	} {
		r := httptest.NewRequest("GET", "https://"+host+"/keys?api-version=2025-07-01", nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := w.Header().Get("WWW-Authenticate"); w.Code != 401 || !strings.HasPrefix(got, `Bearer authorization="`+want+`"`) {
			t.Errorf("%s: %d %q; want 401 naming %s", host, w.Code, got, want)
		}
	}
}
