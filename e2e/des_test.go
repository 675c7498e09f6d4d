package e2e

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/tresorkms/tresor/cli"
	"github.com/tresorkms/tresor/rbac"
)

// TestDiskEncryptionSets drives Microsoft.Compute/diskEncryptionSets with
// the unmodified armcompute v8 client, in Azure's order: a DES with a
// system-assigned identity is created before that identity may use the
// key, then granted Key Vault Crypto Service Encryption User, then moved
// to a new key version. Then a user-assigned identity, both identities,
// the lists, associated resources, the refusals, delete, and the CLI.
func TestDiskEncryptionSets(t *testing.T) {
	dir := t.TempDir()
	e := startIn(t, dir)
	ctx := context.Background()
	f := newCMKFixture(t, e)
	sub := e.env["AZURE_SUBSCRIPTION_ID"]
	sets, err := armcompute.NewDiskEncryptionSetsClient(sub, e.cred, e.env.ARMOptions(e.http))
	if err != nil {
		t.Fatal(err)
	}
	v1 := string(*f.key.Key.KID)
	params := func(identity armcompute.DiskEncryptionSetIdentityType, keyURL string) armcompute.DiskEncryptionSet {
		p := armcompute.DiskEncryptionSet{
			Location: to.Ptr("westeurope"),
			Identity: &armcompute.EncryptionSetIdentity{Type: to.Ptr(identity)},
			Properties: &armcompute.EncryptionSetProperties{
				ActiveKey:      &armcompute.KeyForDiskEncryptionSet{KeyURL: to.Ptr(keyURL), SourceVault: &armcompute.SourceVault{ID: to.Ptr(f.vaultID)}},
				EncryptionType: to.Ptr(armcompute.DiskEncryptionSetTypeEncryptionAtRestWithCustomerKey),
			},
		}
		if identity != armcompute.DiskEncryptionSetIdentityTypeSystemAssigned {
			p.Identity.UserAssignedIdentities = map[string]*armcompute.UserAssignedIdentitiesValue{f.miID: {}}
		}
		return p
	}
	create := func(name string, p armcompute.DiskEncryptionSet) (armcompute.DiskEncryptionSet, error) {
		poller, err := sets.BeginCreateOrUpdate(ctx, "rg-e2e", name, p, nil)
		if err != nil {
			return armcompute.DiskEncryptionSet{}, err
		}
		res, err := poller.PollUntilDone(ctx, nil)
		return res.DiskEncryptionSet, err
	}
	pending := func(name string) bool {
		t.Helper()
		d, err := e.srv.DiskEncryptionSets.Get(ctx, sub, "rg-e2e", name)
		if err != nil {
			t.Fatal(err)
		}
		return d.Pending()
	}

	// Created before its identity may use the key, as in Azure.
	d, err := create("des-sys", params(armcompute.DiskEncryptionSetIdentityTypeSystemAssigned, v1))
	if err != nil {
		t.Fatalf("create with a system-assigned identity that has no access yet: %v", err)
	}
	p := d.Properties
	if d.Identity == nil || deref(d.Identity.PrincipalID) == "" || *d.Identity.Type != armcompute.DiskEncryptionSetIdentityTypeSystemAssigned ||
		deref(p.ActiveKey.KeyURL) != v1 || deref(p.ActiveKey.SourceVault.ID) != f.vaultID || p.PreviousKeys == nil || len(p.PreviousKeys) != 0 ||
		deref(p.ProvisioningState) != "Succeeded" || *p.EncryptionType != armcompute.DiskEncryptionSetTypeEncryptionAtRestWithCustomerKey ||
		p.LastKeyRotationTimestamp != nil || *d.Type != "Microsoft.Compute/diskEncryptionSets" {
		t.Errorf("created DES = %+v, identity %+v, properties %+v", d, d.Identity, p)
	}
	if !pending("des-sys") {
		t.Errorf("the intermediate key is wrapped although the identity has no access")
	}

	// Granted access, then moved to a new version: wrapped by it.
	f.assign(t, f.vaultID, rbac.KeyVaultCryptoServiceEncUser, *d.Identity.PrincipalID)
	rotated, err := f.kv.RotateKey(ctx, "cmk", nil)
	if err != nil {
		t.Fatal(err)
	}
	v2 := string(*rotated.Key.KID)
	poller, err := sets.BeginUpdate(ctx, "rg-e2e", "des-sys", armcompute.DiskEncryptionSetUpdate{Properties: &armcompute.DiskEncryptionSetUpdateProperties{
		ActiveKey: &armcompute.KeyForDiskEncryptionSet{KeyURL: to.Ptr(v2)},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	upd, err := poller.PollUntilDone(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if deref(upd.Properties.ActiveKey.KeyURL) != v2 || upd.Properties.LastKeyRotationTimestamp == nil || upd.Properties.ActiveKey.SourceVault != nil {
		t.Errorf("after the update: activeKey %+v, lastKeyRotationTimestamp %v", upd.Properties.ActiveKey, upd.Properties.LastKeyRotationTimestamp)
	}
	if got, err := e.srv.DiskEncryptionSets.Get(ctx, sub, "rg-e2e", "des-sys"); err != nil || got.Key.KeyID != v2 {
		t.Errorf("intermediate key wrapped by %q, %v; want %s", got.Key.KeyID, err, v2)
	}
	got, err := sets.Get(ctx, "rg-e2e", "DES-SYS", nil)
	if err != nil || deref(got.Properties.ActiveKey.KeyURL) != v2 || !got.Properties.LastKeyRotationTimestamp.Equal(*upd.Properties.LastKeyRotationTimestamp) {
		t.Errorf("Get = %+v, %v", got.Properties, err)
	}

	// A user-assigned identity with access: wrapped at once. Both kinds:
	// Azure's spelling with a space.
	f.assign(t, f.vaultID, rbac.KeyVaultCryptoServiceEncUser, f.miPrincipal)
	du, err := create("des-user", params(armcompute.DiskEncryptionSetIdentityTypeUserAssigned, v2))
	if err != nil {
		t.Fatal(err)
	}
	if ua := du.Identity.UserAssignedIdentities; len(ua) != 1 || *du.Identity.Type != armcompute.DiskEncryptionSetIdentityTypeUserAssigned || du.Identity.PrincipalID != nil {
		t.Errorf("user-assigned identity = %+v", du.Identity)
	} else {
		for _, v := range ua {
			if deref(v.PrincipalID) != f.miPrincipal || deref(v.ClientID) == "" {
				t.Errorf("userAssignedIdentities entry = %+v", v)
			}
		}
	}
	if pending("des-user") {
		t.Errorf("a DES whose user-assigned identity has access is pending")
	}
	db, err := create("des-both", params(armcompute.DiskEncryptionSetIdentityTypeSystemAssignedUserAssigned, v2))
	if err != nil || *db.Identity.Type != "SystemAssigned, UserAssigned" || deref(db.Identity.PrincipalID) == "" {
		t.Fatalf("both identities = %+v, %v", db.Identity, err)
	}

	// Lists.
	names := func(ds []*armcompute.DiskEncryptionSet) []string {
		var out []string
		for _, d := range ds {
			out = append(out, *d.Name)
		}
		slices.Sort(out)
		return out
	}
	var byGroup, bySub []*armcompute.DiskEncryptionSet
	for pager := sets.NewListByResourceGroupPager("rg-e2e", nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		byGroup = append(byGroup, page.Value...)
	}
	for pager := sets.NewListPager(nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		bySub = append(bySub, page.Value...)
	}
	want := []string{"des-both", "des-sys", "des-user"}
	if !slices.Equal(names(byGroup), want) || !slices.Equal(names(bySub), want) {
		t.Errorf("lists = %v and %v; want %v", names(byGroup), names(bySub), want)
	}
	var associated []*string
	for pager := sets.NewListAssociatedResourcesPager("rg-e2e", "des-sys", nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		associated = append(associated, page.Value...)
	}
	if len(associated) != 0 {
		t.Errorf("associated resources = %v; want none", associated)
	}

	// Refusals, each 400 with its code.
	cvm := params(armcompute.DiskEncryptionSetIdentityTypeUserAssigned, v2)
	cvm.Properties.EncryptionType = to.Ptr(armcompute.DiskEncryptionSetTypeConfidentialVMEncryptedWithCustomerKey)
	cvm.Properties.RotationToLatestKeyVersionEnabled = to.Ptr(true)
	if _, err := f.kv.CreateKey(ctx, "ec", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeEC)}, nil); err != nil {
		t.Fatal(err)
	}
	ec, err := f.kv.GetKey(ctx, "ec", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	nowhere := params(armcompute.DiskEncryptionSetIdentityTypeUserAssigned, strings.Replace(v2, "kv-cmk", "kv-nowhere", 1))
	nowhere.Properties.ActiveKey.SourceVault = nil
	for _, tc := range []struct {
		name string
		p    armcompute.DiskEncryptionSet
		code string
	}{
		{"auto-rotation for a confidential-VM DES", cvm, "InvalidParameter"},
		{"a versionless key URL", params(armcompute.DiskEncryptionSetIdentityTypeUserAssigned, f.vaultURI+"/keys/cmk"), "InvalidParameter"},
		{"an EC key", params(armcompute.DiskEncryptionSetIdentityTypeUserAssigned, string(*ec.Key.KID)), "KeyVaultKeyTypeNotSupported"},
		{"a key outside sourceVault", params(armcompute.DiskEncryptionSetIdentityTypeUserAssigned, strings.Replace(v2, "kv-cmk", "kv-nowhere", 1)), "InvalidParameter"},
		{"a vault that does not exist", nowhere, "KeyVaultVaultNotFound"},
	} {
		if _, err := create("des-bad", tc.p); statusOf(err) != http.StatusBadRequest || codeOf(err) != tc.code {
			t.Errorf("%s: %v; want 400 %s", tc.name, err, tc.code)
		}
	}
	if _, err := sets.Get(ctx, "rg-e2e", "des-bad", nil); statusOf(err) != http.StatusNotFound {
		t.Errorf("a refused create left a DES: %v", err)
	}
	// Raw requests: a body that is no object is 400; unknown fields are
	// ignored; a PATCH of the same key is 200 without a rotation.
	path := "/subscriptions/" + sub + "/resourceGroups/rg-e2e/providers/Microsoft.Compute/diskEncryptionSets/des-user"
	if code, body := e.armCall(t, http.MethodPut, path, "not an object"); code != http.StatusBadRequest || !strings.Contains(string(body), "InvalidRequestContent") {
		t.Errorf("PUT with a string body = %d %s; want 400 InvalidRequestContent", code, body)
	}
	if code, body := e.armCall(t, http.MethodPatch, path, map[string]any{"futureField": 1, "properties": map[string]any{"somethingNew": true}}); code != http.StatusOK ||
		strings.Contains(string(body), "lastKeyRotationTimestamp") {
		t.Errorf("PATCH with unknown fields = %d %s; want 200 and no rotation", code, body)
	}
	// A CVM DES without auto-rotation is accepted.
	cvm.Properties.RotationToLatestKeyVersionEnabled = nil
	if d, err := create("des-cvm", cvm); err != nil || *d.Properties.EncryptionType != armcompute.DiskEncryptionSetTypeConfidentialVMEncryptedWithCustomerKey ||
		*d.Properties.RotationToLatestKeyVersionEnabled {
		t.Errorf("confidential-VM DES = %+v, %v", d.Properties, err)
	}

	// The CLI, as az.
	run := func(args ...string) string {
		t.Helper()
		var o, errb bytes.Buffer
		if code := cli.Run(ctx, append(args, "--data", dir), &o, &errb); code != 0 {
			t.Fatalf("tresor %s = exit %d: %s", strings.Join(args, " "), code, errb.String())
		}
		return o.String()
	}
	out := run("disk-encryption-set", "create", "-n", "des-cli", "-g", "rg-e2e", "--key-url", v2, "--source-vault", f.vaultID,
		"--mi-user-assigned", f.miID, "--enable-auto-key-rotation", "true")
	if !strings.Contains(out, `"rotationToLatestKeyVersionEnabled": true`) || !strings.Contains(out, v2) {
		t.Errorf("disk-encryption-set create printed %s", out)
	}
	if out := run("disk-encryption-set", "update", "-n", "des-cli", "-g", "rg-e2e", "--key-url", v1); !strings.Contains(out, v1) || !strings.Contains(out, "lastKeyRotationTimestamp") {
		t.Errorf("disk-encryption-set update printed %s", out)
	}
	if out := run("disk-encryption-set", "list-associated-resources", "-n", "des-cli", "-g", "rg-e2e"); strings.TrimSpace(out) != "[]" {
		t.Errorf("list-associated-resources printed %s", out)
	}
	if out := run("disk-encryption-set", "list", "-g", "rg-e2e"); !strings.Contains(out, "des-cli") {
		t.Errorf("list printed %s", out)
	}
	run("disk-encryption-set", "delete", "-n", "des-cli", "-g", "rg-e2e")

	// Delete: 200, then nothing left; again, 204.
	for _, name := range []string{"des-sys", "des-user", "des-both", "des-cvm", "des-sys"} {
		poller, err := sets.BeginDelete(ctx, "rg-e2e", name, nil)
		if err == nil {
			_, err = poller.PollUntilDone(ctx, nil)
		}
		if err != nil {
			t.Errorf("delete %s: %v", name, err)
		}
	}
	if _, err := sets.Get(ctx, "rg-e2e", "des-sys", nil); statusOf(err) != http.StatusNotFound || codeOf(err) != "ResourceNotFound" {
		t.Errorf("Get after delete = %v; want 404 ResourceNotFound", err)
	}
}
