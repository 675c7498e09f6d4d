package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"

	"github.com/tresorkms/tresor/cli"
	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/rbac"
)

// TestVaultLifecycleWithARM drives Microsoft.KeyVault/vaults and managedHSMs
// through the unmodified armkeyvault client.
func TestVaultLifecycleWithARM(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	sub := e.env["AZURE_SUBSCRIPTION_ID"]
	opts := e.env.ARMOptions(e.http)
	groups, _ := armresources.NewResourceGroupsClient(sub, e.cred, opts)
	vaults, _ := armkeyvault.NewVaultsClient(sub, e.cred, opts)
	hsms, _ := armkeyvault.NewManagedHsmsClient(sub, e.cred, opts)

	if _, err := groups.CreateOrUpdate(ctx, "rg-arm", armresources.ResourceGroup{Location: to.Ptr("westeurope")}, nil); err != nil {
		t.Fatal(err)
	}
	params := func(pp bool) armkeyvault.VaultCreateOrUpdateParameters {
		return armkeyvault.VaultCreateOrUpdateParameters{Location: to.Ptr("westeurope"), Properties: &armkeyvault.VaultProperties{
			TenantID: to.Ptr(e.env["AZURE_TENANT_ID"]), SKU: &armkeyvault.SKU{Family: to.Ptr(armkeyvault.SKUFamilyA), Name: to.Ptr(armkeyvault.SKUNameStandard)},
			EnablePurgeProtection: to.Ptr(pp), SoftDeleteRetentionInDays: to.Ptr[int32](7), EnableRbacAuthorization: to.Ptr(true),
		}}
	}
	create := func(name string, pp bool) {
		t.Helper()
		poller, err := vaults.BeginCreateOrUpdate(ctx, "rg-arm", name, params(pp), nil)
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		if _, err := poller.PollUntilDone(ctx, nil); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	create("kv-protected", true)
	create("kv-plain", false)

	got, err := vaults.Get(ctx, "rg-arm", "kv-protected", nil)
	if err != nil || !*got.Properties.EnablePurgeProtection || *got.Properties.SoftDeleteRetentionInDays != 7 || *got.Properties.ProvisioningState != armkeyvault.VaultProvisioningStateSucceeded {
		t.Fatalf("Get = %+v, %v", got.Properties, err)
	}
	up, err := vaults.Update(ctx, "rg-arm", "kv-protected", armkeyvault.VaultPatchParameters{Tags: map[string]*string{"team": to.Ptr("sec")}}, nil)
	if err != nil || *up.Tags["team"] != "sec" || !*up.Properties.EnablePurgeProtection {
		t.Fatalf("Update(tags) = %+v, %v", up.Tags, err)
	}
	_, err = vaults.Update(ctx, "rg-arm", "kv-protected", armkeyvault.VaultPatchParameters{Properties: &armkeyvault.VaultPatchProperties{EnablePurgeProtection: to.Ptr(false)}}, nil)
	if statusOf(err) != 400 {
		t.Fatalf("turning purge protection off = %v, want 400", err)
	}
	var names []string
	for p := vaults.NewListByResourceGroupPager("rg-arm", nil); p.More(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page.Value {
			names = append(names, *v.Name)
		}
	}
	if strings.Join(names, ",") != "kv-plain,kv-protected" {
		t.Fatalf("ListByResourceGroup = %v", names)
	}
	avail, err := vaults.CheckNameAvailability(ctx, armkeyvault.VaultCheckNameAvailabilityParameters{Name: to.Ptr("kv-plain"), Type: to.Ptr("Microsoft.KeyVault/vaults")}, nil)
	if err != nil || *avail.NameAvailable {
		t.Fatalf("CheckNameAvailability(taken) = %v, %v", avail.NameAvailable, err)
	}
	// A vault name is globally unique: another group cannot take it.
	groups.CreateOrUpdate(ctx, "rg-other", armresources.ResourceGroup{Location: to.Ptr("westeurope")}, nil)
	if _, err := vaults.BeginCreateOrUpdate(ctx, "rg-other", "kv-plain", params(false), nil); statusOf(err) != 409 {
		t.Fatalf("create taken name elsewhere = %v, want 409", err)
	}

	for _, name := range []string{"kv-protected", "kv-plain"} {
		if _, err := vaults.Delete(ctx, "rg-arm", name, nil); err != nil {
			t.Fatalf("Delete %s: %v", name, err)
		}
	}
	if _, err := vaults.Get(ctx, "rg-arm", "kv-plain", nil); statusOf(err) != 404 {
		t.Fatalf("Get(deleted) = %v, want 404", err)
	}
	deleted := 0
	for p := vaults.NewListDeletedPager(nil); p.More(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		deleted += len(page.Value)
	}
	if deleted != 2 {
		t.Fatalf("ListDeleted = %d, want 2", deleted)
	}
	dv, err := vaults.GetDeleted(ctx, "kv-protected", "westeurope", nil)
	if err != nil || !*dv.Properties.PurgeProtectionEnabled {
		t.Fatalf("GetDeleted = %+v, %v", dv.Properties, err)
	}
	if _, err := vaults.BeginPurgeDeleted(ctx, "kv-protected", "westeurope", nil); statusOf(err) != 409 {
		t.Fatalf("purge under purge protection = %v, want 409", err)
	}
	// Recover with createMode recover; then the name is live again.
	rec := params(true)
	rec.Properties.CreateMode = to.Ptr(armkeyvault.CreateModeRecover)
	poller, err := vaults.BeginCreateOrUpdate(ctx, "rg-arm", "kv-protected", rec, nil)
	if err == nil {
		_, err = poller.PollUntilDone(ctx, nil)
	}
	if err != nil {
		t.Fatalf("recover: %v", err)
	}
	if _, err := vaults.Get(ctx, "rg-arm", "kv-protected", nil); err != nil {
		t.Fatalf("Get(recovered) = %v", err)
	}
	pp, err := vaults.BeginPurgeDeleted(ctx, "kv-plain", "westeurope", nil)
	if err == nil {
		_, err = pp.PollUntilDone(ctx, nil)
	}
	if err != nil {
		t.Fatalf("purge: %v", err)
	}
	if _, err := vaults.GetDeleted(ctx, "kv-plain", "westeurope", nil); statusOf(err) != 404 {
		t.Fatalf("GetDeleted(purged) = %v, want 404", err)
	}

	// Managed HSM lifecycle.
	hp, err := hsms.BeginCreateOrUpdate(ctx, "rg-arm", "hsm-arm", armkeyvault.ManagedHsm{
		Location: to.Ptr("westeurope"),
		SKU:      &armkeyvault.ManagedHsmSKU{Family: to.Ptr(armkeyvault.ManagedHsmSKUFamilyB), Name: to.Ptr(armkeyvault.ManagedHsmSKUNameStandardB1)},
		Properties: &armkeyvault.ManagedHsmProperties{TenantID: to.Ptr(e.env["AZURE_TENANT_ID"]),
			InitialAdminObjectIDs: []*string{to.Ptr(e.env["AZURE_CLIENT_ID"])}, SoftDeleteRetentionInDays: to.Ptr[int32](7)},
	}, nil)
	if err == nil {
		_, err = hp.PollUntilDone(ctx, nil)
	}
	if err != nil {
		t.Fatalf("create HSM: %v", err)
	}
	h, err := hsms.Get(ctx, "rg-arm", "hsm-arm", nil)
	if err != nil || !strings.HasPrefix(*h.Properties.HsmURI, "https://hsm-arm.managedhsm.localhost:") {
		t.Fatalf("Get HSM = %v, %v", h.Properties, err)
	}
	dp, err := hsms.BeginDelete(ctx, "rg-arm", "hsm-arm", nil)
	if err == nil {
		_, err = dp.PollUntilDone(ctx, nil)
	}
	if err != nil {
		t.Fatalf("delete HSM: %v", err)
	}
	if _, err := hsms.GetDeleted(ctx, "hsm-arm", "westeurope", nil); err != nil {
		t.Fatalf("GetDeleted HSM: %v", err)
	}
	if _, err := vaults.Get(ctx, "rg-missing", "kv-protected", nil); codeOf(err) != "ResourceGroupNotFound" {
		t.Fatalf("Get in missing group = %v, want ResourceGroupNotFound", err)
	}
	// Deleting the group deletes the vault in it.
	gp, err := groups.BeginDelete(ctx, "rg-arm", nil)
	if err == nil {
		_, err = gp.PollUntilDone(ctx, nil)
	}
	if err != nil {
		t.Fatalf("delete group: %v", err)
	}
	if _, err := vaults.GetDeleted(ctx, "kv-protected", "westeurope", nil); err != nil {
		t.Fatalf("vault of a deleted group is not soft-deleted: %v", err)
	}
}

// TestCLI runs the az-style commands against a live server.
func TestCLI(t *testing.T) {
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
	run("group", "create", "--name", "rg-cli")
	run("keyvault", "create", "--name", "kv-cli", "--resource-group", "rg-cli", "--enable-purge-protection", "--retention-days", "7")
	var key struct {
		Key struct {
			Kid string `json:"kid"`
		} `json:"key"`
	}
	if err := json.Unmarshal(run("keyvault", "key", "create", "--vault-name", "kv-cli", "--name", "k1", "--kty", "RSA", "--size", "3072"), &key); err != nil || !strings.Contains(key.Key.Kid, "/keys/k1/") {
		t.Fatalf("key create printed kid %q, %v", key.Key.Kid, err)
	}
	var enc struct{ Result string }
	json.Unmarshal(run("keyvault", "key", "encrypt", "--vault-name", "kv-cli", "--name", "k1", "--value", "hello cli"), &enc)
	var dec struct{ Result string }
	json.Unmarshal(run("keyvault", "key", "decrypt", "--vault-name", "kv-cli", "--name", "k1", "--value", enc.Result), &dec)
	if dec.Result != "hello cli" {
		t.Fatalf("decrypt = %q, want %q", dec.Result, "hello cli")
	}
	backup := e.dir + "/k1.backup"
	run("keyvault", "key", "backup", "--vault-name", "kv-cli", "--name", "k1", "--file", backup)
	run("keyvault", "key", "delete", "--vault-name", "kv-cli", "--name", "k1")
	run("keyvault", "key", "recover", "--vault-name", "kv-cli", "--name", "k1")
	if out := run("keyvault", "key", "list", "--vault-name", "kv-cli"); !bytes.Contains(out, []byte("/keys/k1")) {
		t.Fatalf("key list = %s", out)
	}
	if out := run("env"); !bytes.Contains(out, []byte("export AZURE_CLIENT_SECRET=")) {
		t.Fatalf("env = %s", out)
	}

	// Access control, as with az: an RBAC vault needs a data role even for
	// its creator, and a managed HSM's administrator must grant itself
	// Crypto User before using keys.
	admin := e.env["TRESOR_ADMIN_OBJECT_ID"]
	var vault struct{ ID string }
	json.Unmarshal(run("keyvault", "create", "--name", "kv-cli-rbac", "--resource-group", "rg-cli", "--enable-rbac-authorization"), &vault)
	run("role", "assignment", "create", "--role", "Key Vault Crypto Officer", "--assignee", admin, "--scope", vault.ID)
	if out := run("role", "assignment", "list", "--scope", vault.ID, "--assignee", admin); !bytes.Contains(out, []byte(rbac.KeyVaultCryptoOfficer)) {
		t.Fatalf("role assignment list = %s", out)
	}
	run("keyvault", "key", "create", "--vault-name", "kv-cli-rbac", "--name", "k1", "--kty", "RSA")
	run("keyvault", "create", "--hsm-name", "hsm-cli", "--resource-group", "rg-cli", "--retention-days", "7")
	run("keyvault", "role", "assignment", "create", "--hsm-name", "hsm-cli", "--role", "Managed HSM Crypto User", "--assignee", admin, "--scope", "/")
	if out := run("keyvault", "role", "assignment", "list", "--hsm-name", "hsm-cli"); !bytes.Contains(out, []byte(rbac.HSMCryptoUser)) {
		t.Fatalf("keyvault role assignment list = %s", out)
	}
	run("keyvault", "key", "create", "--hsm-name", "hsm-cli", "--name", "k1", "--kty", "RSA-HSM")

	// Managed identities, as 'az identity' (short flags included).
	var mi struct{ ID, PrincipalID, ClientID, ResourceGroup string }
	if err := json.Unmarshal(run("identity", "create", "-n", "id-cli", "-g", "rg-cli"), &mi); err != nil || !identity.IsGUID(mi.PrincipalID) || mi.ResourceGroup != "rg-cli" {
		t.Fatalf("identity create printed %+v, %v", mi, err)
	}
	if out := run("identity", "list", "-g", "rg-cli"); !bytes.Contains(out, []byte(mi.ClientID)) {
		t.Fatalf("identity list = %s", out)
	}
	run("role", "assignment", "create", "--role", "Key Vault Crypto Service Encryption User", "--assignee", mi.PrincipalID, "--scope", vault.ID)
	run("identity", "delete", "-n", "id-cli", "-g", "rg-cli")
	if out := run("identity", "list"); bytes.Contains(out, []byte(mi.ClientID)) {
		t.Fatalf("identity list after delete = %s", out)
	}
	if out := run("audit", "verify"); !bytes.Contains(out, []byte("OK")) {
		t.Fatalf("audit verify = %s", out)
	}
}
