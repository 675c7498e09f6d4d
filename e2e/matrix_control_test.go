package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"

	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/rbac"
)

// TestAuthorizationMatrixARM checks control-plane operations against the
// same kinds of caller as the HSM matrix, with Azure RBAC: Contributor (or
// Owner, for writing role assignments and definitions, and Reader, for
// listing role definitions) at the resource group is the right role,
// the same role at another group is the wrong scope, and a role without the
// operation's action (Reader for writes, Key Vault Crypto User, which has
// no control-plane actions, for reads; Contributor for role assignments
// and definitions) is refused.
func TestAuthorizationMatrixARM(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	tk := newTokens(t, e)
	tenant, sub := e.env["AZURE_TENANT_ID"], e.env["AZURE_SUBSCRIPTION_ID"]
	audience := e.env["TRESOR_ARM_AUDIENCE"]
	arm := e.env["TRESOR_ARM_ENDPOINT"]
	groups, err := armresources.NewResourceGroupsClient(sub, e.cred, e.env.ARMOptions(e.http))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"rg-m", "rg-elsewhere"} {
		if _, err := groups.CreateOrUpdate(ctx, g, armresources.ResourceGroup{Location: to.Ptr("westeurope")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	group := "/subscriptions/" + sub + "/resourceGroups/rg-m"
	elsewhere := "/subscriptions/" + sub + "/resourceGroups/rg-elsewhere"
	vaultBody := fmt.Sprintf(`{"location":"westeurope","properties":{"tenantId":%q,"sku":{"family":"A","name":"standard"},"accessPolicies":[]}}`, tenant)
	assignmentBody := func(principal string) string {
		return fmt.Sprintf(`{"properties":{"roleDefinitionId":"/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s","principalId":%q}}`, sub, rbac.Reader, principal)
	}

	roleDefinitionBody := fmt.Sprintf(`{"properties":{"roleName":"Matrix Role","type":"CustomRole","permissions":[{"dataActions":["Microsoft.KeyVault/vaults/keys/read"]}],"assignableScopes":[%q]}}`, group)

	_, nobody := tk.principal(t, tenant, "arm-nobody")
	lackID, lack := tk.principal(t, tenant, "arm-lacks")
	otherID, other := tk.principal(t, tenant, "arm-other")
	rightID, right := tk.principal(t, tenant, "arm-right")
	readerTargetID, _ := tk.principal(t, tenant, "arm-target")
	otherTenant, err := e.srv.Identity().CreateTenant(ctx, "other tenant")
	if err != nil {
		t.Fatal(err)
	}
	_, foreign := tk.principal(t, otherTenant.ID, "arm-foreign")
	live := e.srv.Identity()
	parts := strings.Split(tk.token(t, live, tenant, right, audience), ".")
	badSig := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))

	const api = "?api-version=2023-07-01"
	ops := []struct {
		name, method, path, body string
		right, lacking           string // roles
		want                     int
	}{
		{"GetResourceGroup", "GET", group, "", rbac.Contributor, rbac.KeyVaultCryptoUser, 200},
		{"UpdateResourceGroup", "PATCH", group, `{"tags":{"a":"b"}}`, rbac.Contributor, rbac.Reader, 200},
		{"CreateVault", "PUT", group + "/providers/Microsoft.KeyVault/vaults/kv-m", vaultBody, rbac.Contributor, rbac.Reader, 201},
		{"GetVault", "GET", group + "/providers/Microsoft.KeyVault/vaults/kv-m", "", rbac.Contributor, rbac.KeyVaultCryptoUser, 200},
		{"UpdateVault", "PATCH", group + "/providers/Microsoft.KeyVault/vaults/kv-m", `{"tags":{"a":"b"}}`, rbac.Contributor, rbac.Reader, 200},
		{"ListVaults", "GET", group + "/providers/Microsoft.KeyVault/vaults", "", rbac.Contributor, rbac.KeyVaultCryptoUser, 200},
		{"CreateRoleAssignment", "PUT", group + "/providers/Microsoft.Authorization/roleAssignments/" + identity.NewGUID(), assignmentBody(readerTargetID), rbac.Owner, rbac.Contributor, 201},
		{"ListRoleDefinitions", "GET", group + "/providers/Microsoft.Authorization/roleDefinitions", "", rbac.Reader, rbac.KeyVaultCryptoUser, 200},
		{"CreateRoleDefinition", "PUT", group + "/providers/Microsoft.Authorization/roleDefinitions/" + identity.NewGUID(), roleDefinitionBody, rbac.Owner, rbac.Contributor, 201},
		{"DeleteVault", "DELETE", group + "/providers/Microsoft.KeyVault/vaults/kv-m", "", rbac.Contributor, rbac.Reader, 200},
		{"DeleteResourceGroup", "DELETE", group, "", rbac.Contributor, rbac.Reader, 202},
	}
	conditions := []struct {
		name   string
		token  func() string
		status int
		code   string
	}{
		{"no token", func() string { return "" }, 401, "AuthenticationFailed"},
		{"expired", func() string { return tk.token(t, tk.past, tenant, right, audience) }, 401, "InvalidAuthenticationToken"},
		{"wrong audience", func() string { return tk.token(t, live, tenant, right, resourceOf(e.env.VaultURL("x"))) }, 401, "InvalidAuthenticationToken"},
		{"wrong tenant", func() string { return tk.token(t, live, otherTenant.ID, foreign, audience) }, 401, "InvalidAuthenticationTokenTenant"},
		{"bad signature", func() string { return badSig }, 401, "InvalidAuthenticationToken"},
		{"principal without role", func() string { return tk.token(t, live, tenant, nobody, audience) }, 403, "AuthorizationFailed"},
		{"role lacks the action", func() string { return tk.token(t, live, tenant, lack, audience) }, 403, "AuthorizationFailed"},
		{"right role, another scope", func() string { return tk.token(t, live, tenant, other, audience) }, 403, "AuthorizationFailed"},
	}
	adminToken, err := e.cred.GetToken(ctx, policyFor(audience))
	if err != nil {
		t.Fatal(err)
	}
	var assigned []string // scope + name
	assign := func(scope, role, principal string) {
		t.Helper()
		path := scope + "/providers/Microsoft.Authorization/roleAssignments/" + identity.NewGUID()
		body := fmt.Sprintf(`{"properties":{"roleDefinitionId":"/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s","principalId":%q}}`, sub, role, principal)
		if status, code := e.call(t, adminToken.Token, "PUT", arm+path+api, body); status != http.StatusCreated {
			t.Fatalf("assign %s to %s: %d %s", role, principal, status, code)
		}
		assigned = append(assigned, path)
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			for _, path := range assigned {
				e.call(t, adminToken.Token, "DELETE", arm+path+api, "")
			}
			assigned = nil
			assign(group, op.lacking, lackID)
			assign(elsewhere, op.right, otherID)
			assign(group, op.right, rightID)
			for _, c := range conditions {
				if status, code := e.call(t, c.token(), op.method, arm+op.path+api, op.body); status != c.status || code != c.code {
					t.Errorf("%s: %s = %d %s, want %d %s", op.name, c.name, status, code, c.status, c.code)
				}
			}
			if status, code := e.call(t, tk.token(t, live, tenant, right, audience), op.method, arm+op.path+api, op.body); status != op.want {
				t.Errorf("%s: right role = %d %s, want %d", op.name, status, code, op.want)
			}
		})
	}
}
