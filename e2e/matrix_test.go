package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/seal"
)

// tokens mints access tokens for the matrix: valid ones from the server's
// own issuer, and expired ones from a second issuer on the same keys whose
// clock runs three hours behind.
type tokens struct {
	e      *env
	past   *identity.Service
	secret map[string]string // client id → secret
}

func newTokens(t *testing.T, e *env) *tokens {
	t.Helper()
	root, err := os.ReadFile(filepath.Join(e.dir, "root.key"))
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := seal.New(root, "identity")
	if err != nil {
		t.Fatal(err)
	}
	live := e.srv.Identity()
	past := &identity.Service{Store: e.srv.DB, Sealer: sealer, Issuer: live.Issuer, Audiences: live.Audiences,
		Now: func() time.Time { return time.Now().Add(-3 * time.Hour) }}
	return &tokens{e: e, past: past, secret: map[string]string{}}
}

// principal creates a service principal in tenant and returns its object
// and client ids. It is created at the past Service's time, so that its
// password is valid then too (a password is refused before its start).
func (tk *tokens) principal(t *testing.T, tenant, name string) (objectID, clientID string) {
	t.Helper()
	sp, secret, err := tk.past.CreateServicePrincipal(context.Background(), tenant, name)
	if err != nil {
		t.Fatal(err)
	}
	tk.secret[sp.AppID] = secret
	return sp.ObjectID, sp.AppID
}

func (tk *tokens) token(t *testing.T, svc *identity.Service, tenant, clientID, audience string) string {
	t.Helper()
	tok, err := svc.IssueToken(context.Background(), identity.TokenRequest{
		TenantID: tenant, ClientID: clientID, ClientSecret: tk.secret[clientID], Scope: audience + "/.default",
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

// call sends one request with an Authorization header (none if token is
// empty) and returns the status and the error code.
func (e *env) call(t *testing.T, token, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var eb struct {
		Error struct{ Code string } `json:"error"`
	}
	json.Unmarshal(b, &eb) //nolint:errcheck // success bodies have no error
	if resp.StatusCode >= 400 && eb.Error.Code == "" {
		eb.Error.Code = string(b)
	}
	return resp.StatusCode, eb.Error.Code
}

// TestAuthorizationMatrixHSM checks every key operation of a Managed HSM
// against every kind of caller: no token, an expired one, one for another
// audience, one from another tenant, one with a broken signature, a
// principal without a role, one whose role lacks exactly the operation's
// data action, one with the right role at another key's scope, and one with
// the right role, which alone succeeds.
func TestAuthorizationMatrixHSM(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	tk := newTokens(t, e)
	tenant := e.env["AZURE_TENANT_ID"]
	admin := e.vault(t, "hsm-matrix", true, nil)
	hsmURL := e.env.HSMURL("hsm-matrix")
	audience := resourceOf(hsmURL)
	e.assignHSMRole(t, hsmURL, "515eb02d-2335-4d2d-92f2-b1cbdf9c3778", e.env["TRESOR_ADMIN_OBJECT_ID"], "/") // Crypto Officer: purge for the setup
	const dataActions = "Microsoft.KeyVault/managedHsm/"

	// Keys the operations act on, one each, in the state each needs.
	digest := make([]byte, 32)
	b64 := base64.RawURLEncoding.EncodeToString
	newKey := func(name string) {
		t.Helper()
		if _, err := admin.CreateKey(ctx, name, azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSAHSM)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"k-get", "k-versions", "k-update", "k-delete", "k-getdeleted", "k-recover", "k-purge", "k-backup",
		"k-encrypt", "k-decrypt", "k-wrap", "k-unwrap", "k-sign", "k-verify", "k-restore", "k-other"} {
		newKey(k)
	}
	ct, err := admin.Encrypt(ctx, "k-decrypt", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: digest}, nil)
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := admin.WrapKey(ctx, "k-unwrap", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: digest}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := admin.Sign(ctx, "k-verify", "", azkeys.SignParameters{Algorithm: to.Ptr(azkeys.SignatureAlgorithmRS256), Value: digest}, nil)
	if err != nil {
		t.Fatal(err)
	}
	backup, err := admin.BackupKey(ctx, "k-restore", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"k-getdeleted", "k-recover", "k-purge", "k-restore"} {
		if _, err := admin.DeleteKey(ctx, k, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := admin.PurgeDeletedKey(ctx, "k-restore", nil); err != nil {
		t.Fatal(err)
	}

	ops := []struct {
		name, method, path, body string
		scope                    string // where the right role is assigned
		action                   string
		want                     int
	}{
		{"GetKey", "GET", "/keys/k-get", "", "/keys/k-get", "keys/read/action", 200},
		{"GetKeys", "GET", "/keys", "", "/keys", "keys/read/action", 200},
		{"GetKeyVersions", "GET", "/keys/k-versions/versions", "", "/keys/k-versions", "keys/read/action", 200},
		{"CreateKey", "POST", "/keys/k-create/create", `{"kty":"RSA-HSM"}`, "/keys/k-create", "keys/create", 200},
		{"UpdateKey", "PATCH", "/keys/k-update", `{"tags":{"a":"b"}}`, "/keys/k-update", "keys/write/action", 200},
		{"DeleteKey", "DELETE", "/keys/k-delete", "", "/keys/k-delete", "keys/delete", 200},
		{"GetDeletedKey", "GET", "/deletedkeys/k-getdeleted", "", "/keys/k-getdeleted", "keys/deletedKeys/read/action", 200},
		{"RecoverDeletedKey", "POST", "/deletedkeys/k-recover/recover", "", "/keys/k-recover", "keys/deletedKeys/recover/action", 200},
		{"PurgeDeletedKey", "DELETE", "/deletedkeys/k-purge", "", "/keys/k-purge", "keys/deletedKeys/delete", 204},
		{"BackupKey", "POST", "/keys/k-backup/backup", "", "/keys/k-backup", "keys/backup/action", 200},
		{"RestoreKey", "POST", "/keys/restore", fmt.Sprintf(`{"value":%q}`, b64(backup.Value)), "/keys", "keys/restore/action", 200},
		{"Encrypt", "POST", "/keys/k-encrypt/encrypt", fmt.Sprintf(`{"alg":"RSA-OAEP-256","value":%q}`, b64(digest)), "/keys/k-encrypt", "keys/encrypt/action", 200},
		{"Decrypt", "POST", "/keys/k-decrypt/decrypt", fmt.Sprintf(`{"alg":"RSA-OAEP-256","value":%q}`, b64(ct.Result)), "/keys/k-decrypt", "keys/decrypt/action", 200},
		{"WrapKey", "POST", "/keys/k-wrap/wrapkey", fmt.Sprintf(`{"alg":"RSA-OAEP-256","value":%q}`, b64(digest)), "/keys/k-wrap", "keys/wrap/action", 200},
		{"UnwrapKey", "POST", "/keys/k-unwrap/unwrapkey", fmt.Sprintf(`{"alg":"RSA-OAEP-256","value":%q}`, b64(wrapped.Result)), "/keys/k-unwrap", "keys/unwrap/action", 200},
		{"Sign", "POST", "/keys/k-sign/sign", fmt.Sprintf(`{"alg":"RS256","value":%q}`, b64(digest)), "/keys/k-sign", "keys/sign/action", 200},
		{"Verify", "POST", "/keys/k-verify/verify", fmt.Sprintf(`{"alg":"RS256","digest":%q,"value":%q}`, b64(digest), b64(sig.Result)), "/keys/k-verify", "keys/verify/action", 200},
		{"GetRandomBytes", "POST", "/rng", `{"count":8}`, "/", "rng/action", 200},
	}

	// Callers. Each principal's assignments are replaced for every
	// operation.
	_, nobody := tk.principal(t, tenant, "nobody")
	lackID, lack := tk.principal(t, tenant, "lacks-the-action")
	otherID, other := tk.principal(t, tenant, "other-scope")
	rightID, right := tk.principal(t, tenant, "right-role")
	otherTenant, err := e.srv.Identity().CreateTenant(ctx, "other tenant")
	if err != nil {
		t.Fatal(err)
	}
	_, foreign := tk.principal(t, otherTenant.ID, "foreign")
	live := e.srv.Identity()
	valid := tk.token(t, live, tenant, right, audience)
	parts := strings.Split(valid, ".")
	badSig := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	conditions := []struct {
		name   string
		token  func() string
		status int
		code   string
	}{
		{"no token", func() string { return "" }, 401, "Unauthorized"},
		{"expired", func() string { return tk.token(t, tk.past, tenant, right, audience) }, 401, "Unauthorized"},
		{"wrong audience", func() string { return tk.token(t, live, tenant, right, e.env["TRESOR_ARM_AUDIENCE"]) }, 401, "Unauthorized"},
		{"wrong tenant", func() string { return tk.token(t, live, otherTenant.ID, foreign, audience) }, 401, "Unauthorized"},
		{"bad signature", func() string { return badSig }, 401, "Unauthorized"},
		{"principal without role", func() string { return tk.token(t, live, tenant, nobody, audience) }, 403, "AccessDenied"},
		{"role lacks the action", func() string { return tk.token(t, live, tenant, lack, audience) }, 403, "AccessDenied"},
		{"right role, another key's scope", func() string { return tk.token(t, live, tenant, other, audience) }, 403, "AccessDenied"},
	}

	put := func(kind, name, body string) string {
		t.Helper()
		return e.hsmAdmin(t, hsmURL, "PUT", "/providers/Microsoft.Authorization/"+kind+"/"+name, body)
	}
	var assigned []string
	assign := func(principal, role, scope string) {
		t.Helper()
		name := identity.NewGUID()
		e.hsmAdmin(t, hsmURL, "PUT", strings.TrimSuffix(scope, "/")+"/providers/Microsoft.Authorization/roleAssignments/"+name, fmt.Sprintf(
			`{"properties":{"roleDefinitionId":"Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/%s","principalId":"%s"}}`, role, principal))
		assigned = append(assigned, name)
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			for _, name := range assigned {
				e.hsmAdmin(t, hsmURL, "DELETE", "/providers/Microsoft.Authorization/roleAssignments/"+name, "")
			}
			assigned = nil
			only, allBut := identity.NewGUID(), identity.NewGUID()
			put("roleDefinitions", only, fmt.Sprintf(`{"properties":{"roleName":"only %s","type":"CustomRole","assignableScopes":["/"],
				"permissions":[{"dataActions":[%q]}]}}`, op.name, dataActions+op.action))
			put("roleDefinitions", allBut, fmt.Sprintf(`{"properties":{"roleName":"all but %s","type":"CustomRole","assignableScopes":["/"],
				"permissions":[{"dataActions":["%skeys/*","%srng/action"],"notDataActions":[%q]}]}}`, op.name, dataActions, dataActions, dataActions+op.action))
			assign(lackID, allBut, "/")
			otherScope := "/keys/k-other"
			if op.scope == "/" || op.scope == "/keys" {
				otherScope = "" // collection operations have no other key's scope
			}
			if otherScope != "" {
				assign(otherID, only, otherScope)
			}
			assign(rightID, only, op.scope)

			url := hsmURL + op.path + "?api-version=7.5"
			for _, c := range conditions {
				if c.name == "right role, another key's scope" && otherScope == "" {
					continue
				}
				if status, code := e.call(t, c.token(), op.method, url, op.body); status != c.status || code != c.code {
					t.Errorf("%s: %s = %d %s, want %d %s", op.name, c.name, status, code, c.status, c.code)
				}
			}
			if status, code := e.call(t, tk.token(t, live, tenant, right, audience), op.method, url, op.body); status != op.want {
				t.Errorf("%s: right role = %d %s, want %d", op.name, status, code, op.want)
			}
		})
	}
}

// hsmAdmin sends a request to an HSM as the admin and fails unless it
// succeeds.
func (e *env) hsmAdmin(t *testing.T, hsmURL, method, path, body string) string {
	t.Helper()
	tok, err := e.cred.GetToken(context.Background(), policyFor(resourceOf(hsmURL)))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(method, hsmURL+path+"?api-version=7.5", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s = %d %s", method, path, resp.StatusCode, b)
	}
	return string(b)
}

func policyFor(audience string) policy.TokenRequestOptions {
	return policy.TokenRequestOptions{Scopes: []string{audience + "/.default"}}
}
