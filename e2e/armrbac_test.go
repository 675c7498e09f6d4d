package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/rbac"
)

// TestAzureRBAC drives Azure RBAC with the unmodified armauthorization,
// armresources, armkeyvault and azkeys clients: control-plane roles at
// subscription and group scope, and Key Vault data roles at vault and key
// scope on a vault with enableRbacAuthorization.
func TestAzureRBAC(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	sub := e.env["AZURE_SUBSCRIPTION_ID"]
	opts := e.env.ARMOptions(e.http)
	assignments, err := armauthorization.NewRoleAssignmentsClient(sub, e.cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	admin := e.vault(t, "kv-rbac", false, func(p *armkeyvault.VaultProperties) {
		p.EnableRbacAuthorization, p.AccessPolicies = to.Ptr(true), nil
	})
	vaultID := "/subscriptions/" + sub + "/resourceGroups/rg-e2e/providers/Microsoft.KeyVault/vaults/kv-rbac"

	// Even the subscription's Owner needs a data role on an RBAC vault.
	_, err = admin.CreateKey(ctx, "k1", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA)}, nil)
	if statusOf(err) != http.StatusForbidden || innerCode(err) != "ForbiddenByRbac" {
		t.Fatalf("CreateKey by an Owner without a data role = %v; want 403 ForbiddenByRbac", err)
	}
	assign := func(scope, role, principal string) string {
		t.Helper()
		name := identity.NewGUID()
		res, err := assignments.Create(ctx, scope, name, armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
			RoleDefinitionID: to.Ptr("/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + role),
			PrincipalID:      to.Ptr(principal),
			PrincipalType:    to.Ptr(armauthorization.PrincipalTypeServicePrincipal),
		}}, nil)
		if err != nil {
			t.Fatalf("create role assignment %s at %s: %v", role, scope, err)
		}
		if *res.Name != name || *res.Properties.PrincipalID != principal {
			t.Errorf("created assignment = %+v", res.RoleAssignment)
		}
		return name
	}
	assign(vaultID, rbac.KeyVaultCryptoOfficer, e.env["TRESOR_ADMIN_OBJECT_ID"])
	for _, k := range []string{"k1", "k2"} {
		if _, err := admin.CreateKey(ctx, k, azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA)}, nil); err != nil {
			t.Fatalf("CreateKey as Crypto Officer = %v", err)
		}
	}

	app := e.newPrincipal(t, "app-rbac")
	groups, _ := armresources.NewResourceGroupsClient(sub, app.cred, opts)
	_, err = groups.Get(ctx, "rg-e2e", nil)
	if statusOf(err) != http.StatusForbidden || codeOf(err) != "AuthorizationFailed" {
		t.Errorf("get resource group without a role = %v; want 403 AuthorizationFailed", err)
	}
	reader := assign("/subscriptions/"+sub+"/resourceGroups/rg-e2e", rbac.Reader, app.objectID)
	if _, err := groups.Get(ctx, "rg-e2e", nil); err != nil {
		t.Errorf("get resource group as Reader = %v", err)
	}
	_, err = groups.CreateOrUpdate(ctx, "rg-other", armresources.ResourceGroup{Location: to.Ptr("westeurope")}, nil)
	if statusOf(err) != http.StatusForbidden {
		t.Errorf("create resource group as Reader of another group = %v; want 403", err)
	}
	// Reader may not grant itself roles.
	appAssignments, _ := armauthorization.NewRoleAssignmentsClient(sub, app.cred, opts)
	_, err = appAssignments.Create(ctx, vaultID, identity.NewGUID(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
		RoleDefinitionID: to.Ptr("/providers/Microsoft.Authorization/roleDefinitions/" + rbac.Owner), PrincipalID: to.Ptr(app.objectID),
	}}, nil)
	if statusOf(err) != http.StatusForbidden {
		t.Errorf("self-assignment by a Reader = %v; want 403", err)
	}

	keys := e.keysClient(t, e.env.VaultURL("kv-rbac"), app.cred)
	wrap := func(name string) error {
		_, err := keys.WrapKey(ctx, name, "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: make([]byte, 32)}, nil)
		return err
	}
	if err := wrap("k1"); statusOf(err) != http.StatusForbidden || innerCode(err) != "ForbiddenByRbac" {
		t.Errorf("wrap as Reader (a control-plane role) = %v; want 403 ForbiddenByRbac", err)
	}
	enc := assign(vaultID+"/keys/k1", rbac.KeyVaultCryptoServiceEncUser, app.objectID)
	if err := wrap("k1"); err != nil {
		t.Errorf("wrap with Crypto Service Encryption User at the key = %v", err)
	}
	if err := wrap("k2"); statusOf(err) != http.StatusForbidden {
		t.Errorf("wrap with the role at another key's scope = %v; want 403", err)
	}
	if _, err := assignments.Delete(ctx, vaultID+"/keys/k1", enc, nil); err != nil {
		t.Fatal(err)
	}
	if err := wrap("k1"); statusOf(err) != http.StatusForbidden {
		t.Errorf("wrap after the assignment was deleted = %v; want 403", err)
	}

	// A right to delete assignments at the group does not reach one at the
	// subscription named under the group's path.
	ua := e.newPrincipal(t, "user-access-admin")
	assign("/subscriptions/"+sub+"/resourceGroups/rg-e2e", "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", ua.objectID)
	var ownerName string
	for p := assignments.NewListForScopePager("/subscriptions/"+sub, &armauthorization.RoleAssignmentsClientListForScopeOptions{
		Filter: to.Ptr("atScope() and principalId eq '" + e.env["TRESOR_ADMIN_OBJECT_ID"] + "'")}); p.More(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page.Value {
			if strings.HasSuffix(*a.Properties.RoleDefinitionID, rbac.Owner) {
				ownerName = *a.Name
			}
		}
	}
	uaAssignments, _ := armauthorization.NewRoleAssignmentsClient(sub, ua.cred, opts)
	if _, err := uaAssignments.Delete(ctx, "/subscriptions/"+sub+"/resourceGroups/rg-e2e", ownerName, nil); err != nil {
		t.Fatalf("delete via another scope = %v; want 204 (nothing there)", err)
	}
	if _, err := assignments.Get(ctx, "/subscriptions/"+sub, ownerName, nil); err != nil {
		t.Errorf("the subscription's Owner assignment after a delete at the group's path = %v; want it kept", err)
	}

	// Listing and reading assignments and role definitions.
	var listed int
	for p := assignments.NewListForScopePager("/subscriptions/"+sub+"/resourceGroups/rg-e2e", &armauthorization.RoleAssignmentsClientListForScopeOptions{Filter: to.Ptr("atScope()")}); p.More(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		listed += len(page.Value)
	}
	if listed != 2 {
		t.Errorf("assignments at the group = %d, want 2 (the Reader, the User Access Administrator)", listed)
	}
	got, err := assignments.Get(ctx, "/subscriptions/"+sub+"/resourceGroups/rg-e2e", reader, nil)
	if err != nil || *got.Properties.PrincipalID != app.objectID {
		t.Errorf("get assignment = %v, %v", got, err)
	}
	defs, _ := armauthorization.NewRoleDefinitionsClient(e.cred, opts)
	d, err := defs.Get(ctx, "/subscriptions/"+sub, rbac.KeyVaultCryptoServiceEncUser, nil)
	if err != nil || *d.Properties.RoleName != "Key Vault Crypto Service Encryption User" {
		t.Errorf("get role definition = %v, %v", d, err)
	}
	var owner int
	for p := defs.NewListPager("/subscriptions/"+sub, &armauthorization.RoleDefinitionsClientListOptions{Filter: to.Ptr("roleName eq 'Owner'")}); p.More(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		owner += len(page.Value)
	}
	if owner != 1 {
		t.Errorf("role definitions named Owner = %d, want 1", owner)
	}
}
