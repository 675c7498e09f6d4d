package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/rbac"
)

// principal is a service principal other than the admin, with its own
// azkeys clients.
type principal struct {
	objectID string
	cred     azcore.TokenCredential
}

func (e *env) newPrincipal(t *testing.T, name string) principal {
	t.Helper()
	ctx := context.Background()
	sp, secret, err := e.srv.Identity().CreateServicePrincipal(ctx, e.env["AZURE_TENANT_ID"], name)
	if err != nil {
		t.Fatal(err)
	}
	env := maps.Clone(e.env)
	env["AZURE_CLIENT_ID"], env["AZURE_CLIENT_SECRET"] = sp.AppID, secret
	cred, err := env.Credential(e.http)
	if err != nil {
		t.Fatal(err)
	}
	return principal{objectID: sp.ObjectID, cred: cred}
}

func (e *env) keysClient(t *testing.T, url string, cred azcore.TokenCredential) *azkeys.Client {
	t.Helper()
	c, err := azkeys.NewClient(url, cred, &azkeys.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: e.http}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// innerCode returns the innererror code of an Azure error response.
func innerCode(err error) string {
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.RawResponse == nil {
		return ""
	}
	var body struct {
		Error struct {
			InnerError struct{ Code string } `json:"innererror"`
		} `json:"error"`
	}
	b, _ := io.ReadAll(re.RawResponse.Body)
	json.Unmarshal(b, &body) //nolint:errcheck // an empty code fails the caller's check
	return body.Error.InnerError.Code
}

// TestManagedHSMLocalRBAC drives the HSM's local RBAC with the unmodified
// azkeys client: a principal can wrap with a key exactly while a role
// assignment lets it, at that key's scope, and loses the right the moment
// the assignment is deleted.
func TestManagedHSMLocalRBAC(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	admin := e.vault(t, "hsm-authz", true, nil)
	url := e.env.HSMURL("hsm-authz")
	for _, name := range []string{"k1", "k2"} {
		if _, err := admin.CreateKey(ctx, name, azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSAHSM)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	app := e.newPrincipal(t, "app-hsm")
	keys := e.keysClient(t, url, app.cred)
	wrap := func(name string) error {
		_, err := keys.WrapKey(ctx, name, "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: make([]byte, 32)}, nil)
		return err
	}
	wantDenied := func(what string, err error) {
		t.Helper()
		if statusOf(err) != http.StatusForbidden || codeOf(err) != "AccessDenied" {
			t.Errorf("%s = %v; want 403 AccessDenied", what, err)
		}
	}
	wantDenied("wrap without a role", wrap("k1"))

	name := identity.NewGUID()
	e.hsmRBAC(t, url, http.MethodPut, "/keys/k1", name, fmt.Sprintf(
		`{"properties":{"roleDefinitionId":"Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/%s","principalId":"%s"}}`,
		rbac.HSMCryptoServiceEncryptionUser, app.objectID), http.StatusCreated)
	if err := wrap("k1"); err != nil {
		t.Errorf("wrap with Crypto Service Encryption User at /keys/k1 = %v", err)
	}
	_, err := keys.Sign(ctx, "k1", "", azkeys.SignParameters{Algorithm: to.Ptr(azkeys.SignatureAlgorithmRS256), Value: make([]byte, 32)}, nil)
	wantDenied("sign with a role that lacks sign", err)
	wantDenied("wrap with another key's scope", wrap("k2"))
	_, err = keys.CreateKey(ctx, "k3", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSAHSM)}, nil)
	wantDenied("create", err)

	// The application may not grant itself more.
	body := e.hsmRBAC(t, url, http.MethodPut, "/", identity.NewGUID(), fmt.Sprintf(
		`{"properties":{"roleDefinitionId":"Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/%s","principalId":"%s"}}`,
		rbac.HSMCryptoUser, app.objectID), http.StatusForbidden, app.cred)
	if !strings.Contains(body, `"AccessDenied"`) {
		t.Errorf("self-assignment body = %s, want AccessDenied", body)
	}

	e.hsmRBAC(t, url, http.MethodDelete, "/keys/k1", name, "", http.StatusOK)
	wantDenied("wrap after the assignment was deleted", wrap("k1"))
	e.hsmRBAC(t, url, http.MethodGet, "/", name, "", http.StatusNotFound)
	list := e.hsmRBAC(t, url, http.MethodGet, "/", "", "", http.StatusOK)
	if !strings.Contains(list, rbac.HSMAdministrator) || !strings.Contains(list, rbac.HSMCryptoUser) {
		t.Errorf("role assignments at / = %s; want the admin's Administrator and Crypto User", list)
	}
}

// TestVaultAccessPolicies checks a vault without RBAC: its access policies
// decide, and a denial is 403 Forbidden with the inner code
// ForbiddenByPolicy.
func TestVaultAccessPolicies(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	app := e.newPrincipal(t, "app-kv")
	admin := e.vault(t, "kv-authz", false, func(p *armkeyvault.VaultProperties) {
		p.AccessPolicies = append(p.AccessPolicies, &armkeyvault.AccessPolicyEntry{
			TenantID: to.Ptr(e.env["AZURE_TENANT_ID"]), ObjectID: to.Ptr(app.objectID),
			Permissions: &armkeyvault.Permissions{Keys: to.SliceOfPtrs(armkeyvault.KeyPermissionsGet, armkeyvault.KeyPermissionsWrapKey)},
		})
	})
	if _, err := admin.CreateKey(ctx, "k", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA)}, nil); err != nil {
		t.Fatal(err)
	}
	keys := e.keysClient(t, e.env.VaultURL("kv-authz"), app.cred)
	w, err := keys.WrapKey(ctx, "k", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP), Value: make([]byte, 32)}, nil)
	if err != nil {
		t.Fatalf("wrapKey with the wrapKey permission = %v", err)
	}
	if _, err := keys.GetKey(ctx, "k", "", nil); err != nil {
		t.Errorf("get with the get permission = %v", err)
	}
	_, err = keys.UnwrapKey(ctx, "k", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP), Value: w.Result}, nil)
	if statusOf(err) != http.StatusForbidden || codeOf(err) != "Forbidden" || innerCode(err) != "ForbiddenByPolicy" {
		t.Errorf("unwrapKey without the permission = %v (inner %q); want 403 Forbidden/ForbiddenByPolicy", err, innerCode(err))
	}
	stranger := e.newPrincipal(t, "stranger")
	_, err = e.keysClient(t, e.env.VaultURL("kv-authz"), stranger.cred).GetKey(ctx, "k", "", nil)
	if statusOf(err) != http.StatusForbidden || innerCode(err) != "ForbiddenByPolicy" {
		t.Errorf("get by a principal on no policy = %v; want 403 ForbiddenByPolicy", err)
	}
}

// hsmRBAC sends a request to an HSM's local RBAC API (as the admin unless
// another credential is given), checks its status and returns the body.
func (e *env) hsmRBAC(t *testing.T, hsmURL, method, scope, name, body string, want int, cred ...azcore.TokenCredential) string {
	t.Helper()
	c := e.cred
	if len(cred) > 0 {
		c = cred[0]
	}
	tok, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{resourceOf(hsmURL) + "/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	u := hsmURL + "/" + strings.Trim(scope, "/") + "/providers/Microsoft.Authorization/roleAssignments"
	if name != "" {
		u += "/" + name
	}
	req, _ := http.NewRequest(method, u+"?api-version=7.5", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d %s; want %d", method, u, resp.StatusCode, b, want)
	}
	return string(b)
}
