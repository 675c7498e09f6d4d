package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/tresorkms/tresor/cli"
	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/rbac"
)

// graph sends a Graph request with the headers the Graph SDKs send, as the
// holder of cred (nil: no token), checks the status and returns the body
// decoded.
func (e *env) graph(t *testing.T, cred azcore.TokenCredential, method, path, body string, want int) map[string]any {
	t.Helper()
	req, err := http.NewRequest(method, e.env.GraphEndpoint()+"/v1.0"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{e.env.GraphAudience() + "/.default"}})
		if err != nil {
			t.Fatalf("token for Graph: %v", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok.Token)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("SdkVersion", "graph-go/1.0.0")
	req.Header.Set("client-request-id", identity.NewGUID())
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d %s; want %d", method, path, resp.StatusCode, b, want)
	}
	var out map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return out
}

// appCredential is azidentity's ClientSecretCredential, unmodified, for
// an application's client id and secret.
func (e *env) appCredential(t *testing.T, appID, secret string) azcore.TokenCredential {
	t.Helper()
	env := maps.Clone(e.env)
	env["AZURE_CLIENT_ID"], env["AZURE_CLIENT_SECRET"] = appID, secret
	cred, err := env.Credential(e.http)
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

// wantTokenFailure checks that a new credential for appID and secret
// obtains no token, with Entra's AADSTS code.
func (e *env) wantTokenFailure(t *testing.T, appID, secret, code string) {
	t.Helper()
	_, err := e.appCredential(t, appID, secret).GetToken(context.Background(),
		policy.TokenRequestOptions{Scopes: []string{resourceOf(e.env.VaultURL("x")) + "/.default"}})
	if err == nil || !strings.Contains(err.Error(), code) {
		t.Errorf("GetToken(%s) = %v; want an error with %s", appID, err, code)
	}
}

// rbacVault creates a vault with Azure RBAC, gives the admin Crypto
// Officer on it, creates key k, and returns the vault's id.
func (e *env) rbacVault(t *testing.T, name string) string {
	t.Helper()
	admin := e.vault(t, name, false, func(p *armkeyvault.VaultProperties) {
		p.EnableRbacAuthorization, p.AccessPolicies = to.Ptr(true), nil
	})
	id := "/subscriptions/" + e.env["AZURE_SUBSCRIPTION_ID"] + "/resourceGroups/rg-e2e/providers/Microsoft.KeyVault/vaults/" + name
	e.assignRole(t, id, rbac.KeyVaultCryptoOfficer, e.env["TRESOR_ADMIN_OBJECT_ID"])
	if _, err := admin.CreateKey(context.Background(), "k", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA)}, nil); err != nil {
		t.Fatal(err)
	}
	return id
}

// assignRole creates a role assignment through armauthorization.
func (e *env) assignRole(t *testing.T, scope, roleID, principalID string) {
	t.Helper()
	sub := e.env["AZURE_SUBSCRIPTION_ID"]
	assignments, err := armauthorization.NewRoleAssignmentsClient(sub, e.cred, e.env.ARMOptions(e.http))
	if err != nil {
		t.Fatal(err)
	}
	_, err = assignments.Create(context.Background(), scope, identity.NewGUID(), armauthorization.RoleAssignmentCreateParameters{
		Properties: &armauthorization.RoleAssignmentProperties{
			RoleDefinitionID: to.Ptr("/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + roleID),
			PrincipalID:      to.Ptr(principalID),
			PrincipalType:    to.Ptr(armauthorization.PrincipalTypeServicePrincipal),
		}}, nil)
	if err != nil {
		t.Fatalf("assign %s at %s: %v", roleID, scope, err)
	}
}

// encrypt encrypts with key k of a vault as the holder of cred.
func encrypt(kc *azkeys.Client) error {
	_, err := kc.Encrypt(context.Background(), "k", "", azkeys.KeyOperationParameters{
		Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: []byte("hello")}, nil)
	return err
}

// TestGraph registers an application through Graph with raw requests, as
// Graph clients send them, and follows it through the token endpoint with
// the unmodified azidentity ClientSecretCredential and into a vault with
// azkeys: no service principal, no token; a service principal and a role,
// keys; a removed password, no new token while the old token still works;
// an expired password, AADSTS7000222; a deleted service principal, no
// token.
func TestGraph(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	vaultID := e.rbacVault(t, "kv-graph")
	vaultURL := e.env.VaultURL("kv-graph")

	app := e.graph(t, e.cred, "POST", "/applications", `{"displayName":"graph-app"}`, http.StatusCreated)
	id, appID := app["id"].(string), app["appId"].(string)
	if !identity.IsGUID(id) || !identity.IsGUID(appID) || id == appID {
		t.Fatalf("created application = %v", app)
	}
	if got := e.graph(t, e.cred, "GET", "/applications/"+id, "", http.StatusOK); got["appId"] != appID {
		t.Errorf("GET application = %v", got)
	}
	list := e.graph(t, e.cred, "GET", "/applications?$filter="+url.QueryEscape("appId eq '"+appID+"'"), "", http.StatusOK)
	if v, _ := list["value"].([]any); len(v) != 1 {
		t.Errorf("applications with appId %s = %v", appID, list)
	}
	pw := e.graph(t, e.cred, "POST", "/applications/"+id+"/addPassword", `{"passwordCredential":{"displayName":"e2e"}}`, http.StatusOK)
	secret, keyID := pw["secretText"].(string), pw["keyId"].(string)

	// The password is right, but there is no service principal yet.
	e.wantTokenFailure(t, appID, secret, "AADSTS7000229")

	sp := e.graph(t, e.cred, "POST", "/servicePrincipals", `{"appId":"`+appID+`"}`, http.StatusCreated)
	spID := sp["id"].(string)
	if spID == id || sp["servicePrincipalType"] != "Application" {
		t.Fatalf("created service principal = %v", sp)
	}
	cred := e.appCredential(t, appID, secret)
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{resourceOf(vaultURL) + "/.default"}})
	if err != nil {
		t.Fatalf("GetToken with the Graph password = %v", err)
	}
	if oid := claim(t, tok.Token, "oid"); oid != spID {
		t.Errorf("token oid = %s, want the service principal's id %s (not the application's %s)", oid, spID, id)
	}
	keys := e.keysClient(t, vaultURL, cred)
	if err := encrypt(keys); statusOf(err) != http.StatusForbidden {
		t.Errorf("encrypt without a role = %v, want 403", err)
	}
	e.assignRole(t, vaultID, rbac.KeyVaultCryptoUser, spID)
	if err := encrypt(keys); err != nil {
		t.Fatalf("encrypt as Key Vault Crypto User = %v", err)
	}

	// Removing the password stops new tokens; the token already issued
	// (cached by the credential behind keys) works until it expires.
	e.graph(t, e.cred, "POST", "/applications/"+id+"/removePassword", `{"keyId":"`+keyID+`"}`, http.StatusNoContent)
	e.wantTokenFailure(t, appID, secret, "AADSTS7000215")
	if err := encrypt(keys); err != nil {
		t.Errorf("encrypt with the token issued before the password was removed = %v", err)
	}

	// A password whose validity has passed.
	old := e.graph(t, e.cred, "POST", "/applications/"+id+"/addPassword",
		`{"passwordCredential":{"startDateTime":"2020-01-01T00:00:00Z","endDateTime":"2021-01-01T00:00:00Z"}}`, http.StatusOK)
	e.wantTokenFailure(t, appID, old["secretText"].(string), "AADSTS7000222")

	// Deleting the service principal stops its tokens; the application
	// and its passwords stay.
	fresh := e.graph(t, e.cred, "POST", "/applications/"+id+"/addPassword", `{}`, http.StatusOK)["secretText"].(string)
	if _, err := e.appCredential(t, appID, fresh).GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{resourceOf(vaultURL) + "/.default"}}); err != nil {
		t.Fatalf("GetToken with a fresh password = %v", err)
	}
	e.graph(t, e.cred, "DELETE", "/servicePrincipals/"+spID, "", http.StatusNoContent)
	e.wantTokenFailure(t, appID, fresh, "AADSTS7000229")
	got := e.graph(t, e.cred, "GET", "/applications/"+id, "", http.StatusOK)
	if pcs, _ := got["passwordCredentials"].([]any); len(pcs) != 2 {
		t.Errorf("passwords after the service principal was deleted = %v, want 2 (the expired and the fresh one)", got["passwordCredentials"])
	}

	// Only the administrator uses Graph; without a token, nobody.
	other := e.newPrincipal(t, "graph-reader")
	denied := e.graph(t, other.cred, "GET", "/applications", "", http.StatusForbidden)
	if code := denied["error"].(map[string]any)["code"]; code != "Authorization_RequestDenied" {
		t.Errorf("list as a principal without the directory role: code %v", code)
	}
	e.graph(t, nil, "GET", "/applications", "", http.StatusUnauthorized)
	e.graph(t, e.cred, "DELETE", "/servicePrincipals/"+e.env["TRESOR_ADMIN_OBJECT_ID"], "", http.StatusBadRequest)

	e.graph(t, e.cred, "DELETE", "/applications/"+id, "", http.StatusNoContent)
	e.graph(t, e.cred, "GET", "/applications/"+id, "", http.StatusNotFound)
	e.wantTokenFailure(t, appID, fresh, "AADSTS700016")
}

// TestCreateForRBAC runs 'tresor ad sp create-for-rbac' as az's users do,
// and uses the printed credentials with azkeys; then lists, resets and
// deletes with the other 'ad' commands.
func TestCreateForRBAC(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	vaultID := e.rbacVault(t, "kv-sp-cli")
	vaultURL := e.env.VaultURL("kv-sp-cli")
	run := func(args ...string) []byte {
		t.Helper()
		var out, errb bytes.Buffer
		if code := cli.Run(ctx, append(args, "--data", e.dir), &out, &errb); code != 0 {
			t.Fatalf("tresor %s = exit %d: %s", strings.Join(args, " "), code, errb.String())
		}
		return out.Bytes()
	}
	var created struct {
		AppID, DisplayName, Password, Tenant string
	}
	createForRBAC := func() {
		t.Helper()
		out := run("ad", "sp", "create-for-rbac", "--name", "ci-deployer", "--role", "Key Vault Crypto User", "--scopes", vaultID)
		if err := json.Unmarshal(out, &created); err != nil {
			t.Fatalf("create-for-rbac printed %s: %v", out, err)
		}
		for _, k := range []string{`"appId"`, `"displayName"`, `"password"`, `"tenant"`} {
			if !bytes.Contains(out, []byte(k)) {
				t.Errorf("create-for-rbac printed %s; want az's members appId, displayName, password, tenant", out)
			}
		}
	}
	createForRBAC()
	if !identity.IsGUID(created.AppID) || created.DisplayName != "ci-deployer" || created.Tenant != e.env["AZURE_TENANT_ID"] || created.Password == "" {
		t.Fatalf("create-for-rbac = %+v", created)
	}
	first := created
	keys := e.keysClient(t, vaultURL, e.appCredential(t, first.AppID, first.Password))
	if err := encrypt(keys); err != nil {
		t.Fatalf("encrypt with create-for-rbac's credentials = %v", err)
	}

	// Again with the same name: the same application with a new password
	// in place of the old one (as az), and the role assignment kept.
	createForRBAC()
	if created.AppID != first.AppID || created.Password == first.Password {
		t.Errorf("second create-for-rbac = %+v; want app %s with a new password", created, first.AppID)
	}
	e.wantTokenFailure(t, first.AppID, first.Password, "AADSTS7000215")
	if err := encrypt(e.keysClient(t, vaultURL, e.appCredential(t, created.AppID, created.Password))); err != nil {
		t.Errorf("encrypt with the second password = %v", err)
	}

	var sps []map[string]any
	if err := json.Unmarshal(run("ad", "sp", "list", "--display-name", "ci-"), &sps); err != nil {
		t.Fatal(err)
	}
	if len(sps) != 1 || sps[0]["appId"] != created.AppID {
		t.Errorf("ad sp list --display-name ci- = %v", sps)
	}

	var reset struct{ AppID, Password, Tenant string }
	if err := json.Unmarshal(run("ad", "app", "credential", "reset", "--id", created.AppID), &reset); err != nil {
		t.Fatal(err)
	}
	if reset.AppID != created.AppID || reset.Password == "" || reset.Password == created.Password {
		t.Errorf("credential reset = %+v", reset)
	}
	e.wantTokenFailure(t, created.AppID, created.Password, "AADSTS7000215")
	if err := encrypt(e.keysClient(t, vaultURL, e.appCredential(t, reset.AppID, reset.Password))); err != nil {
		t.Errorf("encrypt with the reset password = %v", err)
	}

	run("ad", "sp", "delete", "--id", created.AppID)
	e.wantTokenFailure(t, reset.AppID, reset.Password, "AADSTS7000229")
	if err := json.Unmarshal(run("ad", "sp", "list", "--display-name", "ci-"), &sps); err != nil || len(sps) != 0 {
		t.Errorf("ad sp list after delete = %v, %v; want none", sps, err)
	}
	run("ad", "app", "delete", "--id", created.AppID)
	e.wantTokenFailure(t, reset.AppID, reset.Password, "AADSTS700016")

	var errb bytes.Buffer
	if code := cli.Run(ctx, []string{"ad", "sp", "create-for-rbac", "--role", "Reader", "--data", e.dir}, io.Discard, &errb); code != 1 ||
		!strings.Contains(errb.String(), "--scopes") {
		t.Errorf("create-for-rbac --role without --scopes = exit %d: %s", code, errb.String())
	}
}

// claim returns a string claim of a JWT, without verifying it.
func claim(t *testing.T, token, name string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	s, _ := c[name].(string)
	return s
}

// TestFederatedCredentialCLI runs 'tresor ad app create|update',
// 'ad app federated-credential' and 'ad sp create' as az's users do.
func TestFederatedCredentialCLI(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	run := func(args ...string) []byte {
		t.Helper()
		var out, errb bytes.Buffer
		if code := cli.Run(ctx, append(args, "--data", e.dir), &out, &errb); code != 0 {
			t.Fatalf("tresor %s = exit %d: %s", strings.Join(args, " "), code, errb.String())
		}
		return out.Bytes()
	}
	var app struct{ ID, AppID, DisplayName, SignInAudience string }
	if err := json.Unmarshal(run("ad", "app", "create", "--display-name", "cmk", "--sign-in-audience", "AzureADMultipleOrgs"), &app); err != nil {
		t.Fatal(err)
	}
	if !identity.IsGUID(app.AppID) || app.DisplayName != "cmk" || app.SignInAudience != "AzureADMultipleOrgs" {
		t.Fatalf("ad app create = %+v", app)
	}

	params := filepath.Join(t.TempDir(), "fic.json")
	subject := identity.NewGUID()
	if err := os.WriteFile(params, []byte(`{"name":"storage","issuer":"`+e.env["AZURE_AUTHORITY_HOST"]+`/`+e.env["AZURE_TENANT_ID"]+`/v2.0","subject":"`+subject+`","audiences":["api://AzureADTokenExchange"],"description":"cmk"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var fic struct{ ID, Name, Subject string }
	if err := json.Unmarshal(run("ad", "app", "federated-credential", "create", "--id", app.AppID, "--parameters", "@"+params), &fic); err != nil {
		t.Fatal(err)
	}
	if !identity.IsGUID(fic.ID) || fic.Name != "storage" || fic.Subject != subject {
		t.Fatalf("federated-credential create = %+v", fic)
	}
	inline := `{"name":"second","issuer":"https://token.actions.githubusercontent.com","subject":"repo:o/r:ref:refs/heads/main","audiences":["api://AzureADTokenExchange"]}`
	run("ad", "app", "federated-credential", "create", "--id", app.ID, "--parameters", inline)
	var list []map[string]any
	if err := json.Unmarshal(run("ad", "app", "federated-credential", "list", "--id", app.AppID), &list); err != nil || len(list) != 2 {
		t.Errorf("federated-credential list = %v, %v; want 2", list, err)
	}
	var shown struct{ ID string }
	if err := json.Unmarshal(run("ad", "app", "federated-credential", "show", "--id", app.AppID, "--federated-credential-id", "storage"), &shown); err != nil || shown.ID != fic.ID {
		t.Errorf("federated-credential show by name = %+v, %v; want %s", shown, err, fic.ID)
	}
	run("ad", "app", "federated-credential", "delete", "--id", app.AppID, "--federated-credential-id", fic.ID)
	if err := json.Unmarshal(run("ad", "app", "federated-credential", "list", "--id", app.AppID), &list); err != nil || len(list) != 1 {
		t.Errorf("federated-credential list after delete = %v, %v; want 1", list, err)
	}

	run("ad", "app", "update", "--id", app.AppID, "--sign-in-audience", "AzureADMyOrg")
	if err := json.Unmarshal(run("ad", "app", "show", "--id", app.AppID), &app); err != nil || app.SignInAudience != "AzureADMyOrg" {
		t.Errorf("ad app show after update = %+v, %v", app, err)
	}
	var sp struct{ ID, AppID string }
	if err := json.Unmarshal(run("ad", "sp", "create", "--id", app.AppID), &sp); err != nil || sp.AppID != app.AppID || !identity.IsGUID(sp.ID) {
		t.Errorf("ad sp create = %+v, %v", sp, err)
	}

	for _, args := range [][]string{
		{"ad", "app", "create", "--display-name", "x", "--sign-in-audience", "AzureADandPersonalMicrosoftAccount"},
		{"ad", "app", "federated-credential", "create", "--id", app.AppID, "--parameters", `{"name":"a"}`},
		{"ad", "app", "federated-credential", "show", "--id", app.AppID},
		{"ad", "app", "update", "--id", app.AppID},
	} {
		var errb bytes.Buffer
		if code := cli.Run(ctx, append(args, "--data", e.dir), io.Discard, &errb); code != 1 {
			t.Errorf("tresor %s = exit %d: %s; want 1", strings.Join(args, " "), code, errb.String())
		}
	}
}
