package e2e

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/rbac"
)

// TestManagedIdentity drives a user-assigned managed identity end to end
// with unmodified clients: armmsi creates it, azidentity's
// ManagedIdentityCredential obtains its tokens from tresor's identity
// endpoint (the App Service protocol), and azkeys wraps with a key exactly
// while an armauthorization role assignment lets the identity, losing the
// right the moment the assignment is deleted, without a restart.
func TestManagedIdentity(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	sub := e.env["AZURE_SUBSCRIPTION_ID"]
	opts := e.env.ARMOptions(e.http)
	admin := e.vault(t, "kv-msi", false, func(p *armkeyvault.VaultProperties) {
		p.EnableRbacAuthorization, p.AccessPolicies = to.Ptr(true), nil
	})
	vaultID := "/subscriptions/" + sub + "/resourceGroups/rg-e2e/providers/Microsoft.KeyVault/vaults/kv-msi"
	assignments, err := armauthorization.NewRoleAssignmentsClient(sub, e.cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	assign := func(scope, role, principal string) string {
		t.Helper()
		name := identity.NewGUID()
		_, err := assignments.Create(ctx, scope, name, armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
			RoleDefinitionID: to.Ptr("/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + role),
			PrincipalID:      to.Ptr(principal),
			PrincipalType:    to.Ptr(armauthorization.PrincipalTypeServicePrincipal),
		}}, nil)
		if err != nil {
			t.Fatalf("assign %s at %s: %v", role, scope, err)
		}
		return name
	}
	assign(vaultID, rbac.KeyVaultCryptoOfficer, e.env["TRESOR_ADMIN_OBJECT_ID"])
	if _, err := admin.CreateKey(ctx, "cmk", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA)}, nil); err != nil {
		t.Fatal(err)
	}

	// armmsi: create, create again (the same principal), get, list, tag.
	ids, err := armmsi.NewUserAssignedIdentitiesClient(sub, e.cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	created, err := ids.CreateOrUpdate(ctx, "rg-e2e", "app-identity", armmsi.Identity{Location: to.Ptr("West Europe")}, nil)
	if err != nil {
		t.Fatalf("create identity: %v", err)
	}
	p := created.Properties
	if p == nil || !identity.IsGUID(deref(p.PrincipalID)) || !identity.IsGUID(deref(p.ClientID)) || deref(p.TenantID) != e.env["AZURE_TENANT_ID"] {
		t.Fatalf("created identity has properties %+v", p)
	}
	miID := "/subscriptions/" + sub + "/resourceGroups/rg-e2e/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-identity"
	if deref(created.ID) != miID || deref(created.Type) != "Microsoft.ManagedIdentity/userAssignedIdentities" || deref(created.Location) != "westeurope" {
		t.Errorf("created identity = id %q type %q location %q", deref(created.ID), deref(created.Type), deref(created.Location))
	}
	again, err := ids.CreateOrUpdate(ctx, "rg-e2e", "APP-identity", armmsi.Identity{Location: to.Ptr("westeurope"), Tags: map[string]*string{"team": to.Ptr("platform")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if deref(again.Properties.PrincipalID) != deref(p.PrincipalID) || deref(again.Name) != "app-identity" || deref(again.Tags["team"]) != "platform" {
		t.Errorf("PUT on an existing identity = %+v; want the same principal, the first spelling and the new tags", again.Identity)
	}
	if _, err := ids.CreateOrUpdate(ctx, "rg-e2e", "app-identity", armmsi.Identity{Location: to.Ptr("eastus")}, nil); statusOf(err) != http.StatusBadRequest {
		t.Errorf("moving an identity to another location = %v; want 400", err)
	}
	if _, err := ids.CreateOrUpdate(ctx, "rg-e2e", "x", armmsi.Identity{Location: to.Ptr("westeurope")}, nil); statusOf(err) != http.StatusBadRequest {
		t.Errorf("a one-letter name = %v; want 400", err)
	}
	upd, err := ids.Update(ctx, "rg-e2e", "app-identity", armmsi.IdentityUpdate{Tags: map[string]*string{"team": to.Ptr("keys")}}, nil)
	if err != nil || deref(upd.Tags["team"]) != "keys" {
		t.Errorf("update tags = %+v, %v", upd, err)
	}
	pager := ids.NewListBySubscriptionPager(nil)
	var listed []string
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range page.Value {
			listed = append(listed, deref(id.ID))
		}
	}
	if len(listed) != 1 || listed[0] != miID {
		t.Errorf("ListBySubscription = %v; want [%s]", listed, miID)
	}
	if _, err := ids.Get(ctx, "rg-e2e", "nope", nil); statusOf(err) != http.StatusNotFound || codeOf(err) != "ResourceNotFound" {
		t.Errorf("get a missing identity = %v; want 404 ResourceNotFound", err)
	}

	// The identity's own credential, as a workload on an Azure host gets it.
	t.Setenv("IDENTITY_ENDPOINT", e.env["TRESOR_IDENTITY_ENDPOINT"])
	t.Setenv("IDENTITY_HEADER", e.env["TRESOR_IDENTITY_HEADER"])
	miCred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ID:            azidentity.ClientID(deref(p.ClientID)),
		ClientOptions: azcore.ClientOptions{Transport: e.http},
	})
	if err != nil {
		t.Fatal(err)
	}
	app := e.keysClient(t, e.env.VaultURL("kv-msi"), miCred)
	wrap := func() error {
		_, err := app.WrapKey(ctx, "cmk", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: make([]byte, 32)}, nil)
		return err
	}
	if err := wrap(); statusOf(err) != http.StatusForbidden || innerCode(err) != "ForbiddenByRbac" {
		t.Fatalf("wrap before any role assignment = %v; want 403 ForbiddenByRbac", err)
	}
	keyScope := vaultID + "/keys/cmk"
	grant := assign(keyScope, rbac.KeyVaultCryptoServiceEncUser, deref(p.PrincipalID))
	if err := wrap(); err != nil {
		t.Fatalf("wrap with Key Vault Crypto Service Encryption User at the key = %v", err)
	}
	if _, err := app.GetKey(ctx, "cmk", "", nil); err != nil {
		t.Errorf("get key with Crypto Service Encryption User = %v", err)
	}
	if _, err := app.Sign(ctx, "cmk", "", azkeys.SignParameters{Algorithm: to.Ptr(azkeys.SignatureAlgorithmRS256), Value: make([]byte, 32)}, nil); statusOf(err) != http.StatusForbidden {
		t.Errorf("sign with a role that lacks it = %v; want 403", err)
	}
	if _, err := assignments.Delete(ctx, keyScope, grant, nil); err != nil {
		t.Fatal(err)
	}
	if err := wrap(); statusOf(err) != http.StatusForbidden {
		t.Fatalf("wrap after the assignment was deleted = %v; want 403 at once", err)
	}

	// Deleting the identity deletes its principal: the endpoint issues no
	// more tokens for it (the credential's cached token lives on until it
	// expires, as in Azure).
	if _, err := ids.Delete(ctx, "rg-e2e", "app-identity", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ids.Get(ctx, "rg-e2e", "app-identity", nil); statusOf(err) != http.StatusNotFound {
		t.Errorf("get after delete = %v; want 404", err)
	}
	if res, err := ids.Delete(ctx, "rg-e2e", "app-identity", nil); err != nil {
		t.Errorf("delete again = %+v, %v; want 204", res, err)
	}
	q := url.Values{"api-version": {"2019-08-01"}, "resource": {e.srv.Resource(e.env.VaultURL("kv-msi"))}, "client_id": {deref(p.ClientID)}}
	req, _ := http.NewRequest("GET", e.env["TRESOR_IDENTITY_ENDPOINT"]+"?"+q.Encode(), nil)
	req.Header.Set("X-IDENTITY-HEADER", e.env["TRESOR_IDENTITY_HEADER"])
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("token for a deleted identity: status %d; want 400", resp.StatusCode)
	}
}

// deref returns *p, or the zero value for nil.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
