package e2e

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/cli"
	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/rbac"
	"github.com/tresorkms/tresor/storage"
)

// TestStorageAccountCMK follows the seed's story on the control plane with
// armstorage, armkeyvault, armmsi and armauthorization: a vault with purge
// protection, a key, a user-assigned identity with the Crypto Service
// Encryption User role, an account created with the CMK; Azure's refusals;
// a key rotation picked up by the daily check on the virtual clock; a
// pinned version; a switch to Microsoft-managed keys and back; a
// system-assigned identity; and revocation, seen through the account key
// the data plane uses.
func TestStorageAccountCMK(t *testing.T) {
	dir := t.TempDir()
	e := startWith(t, cli.Config{DataDir: dir, Clock: cli.ClockVirtual, StorageKeyCacheTTL: -1})
	ctx := context.Background()
	f := newCMKFixture(t, e)
	kv, key, vaultID, vaultURI, miID, accounts := f.kv, f.key, f.vaultID, f.vaultURI, f.miID, f.accounts
	assign := func(scope, role, principal string) string { t.Helper(); return f.assign(t, scope, role, principal) }
	cmkParams, create := f.params, f.create
	e.vault(t, "kv-nopurge", false, nil)
	if _, err := kv.CreateKey(ctx, "ec", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeEC)}, nil); err != nil {
		t.Fatal(err)
	}

	// The identity has no access to the key yet: refused, and nothing made.
	if _, err := create("stcmk", cmkParams("cmk", "", vaultURI)); statusOf(err) != http.StatusBadRequest || codeOf(err) != "KeyVaultAccessForbidden" {
		t.Fatalf("create with an identity that has no key access = %v; want 400 KeyVaultAccessForbidden", err)
	}
	if _, err := accounts.GetProperties(ctx, "rg-e2e", "stcmk", nil); statusOf(err) != http.StatusNotFound {
		t.Errorf("a refused create left the account: %v", err)
	}
	assign(vaultID, rbac.KeyVaultCryptoServiceEncUser, f.miPrincipal)

	// The seed's rules, each with a clear refusal.
	sysOnly := cmkParams("cmk", "", vaultURI)
	sysOnly.Identity = &armstorage.Identity{Type: to.Ptr(armstorage.IdentityTypeSystemAssigned)}
	sysOnly.Properties.Encryption.EncryptionIdentity = nil
	for _, tc := range []struct {
		name string
		p    armstorage.AccountCreateParameters
		code string
	}{
		{"an EC key", cmkParams("ec", "", vaultURI), "KeyVaultKeyTypeNotSupported"},
		{"a vault without purge protection", cmkParams("cmk", "", e.env.VaultURL("kv-nopurge")), "KeyVaultSoftDeleteAndPurgeProtectionRequired"},
		{"a vault that does not exist", cmkParams("cmk", "", e.env.VaultURL("kv-nowhere")), "KeyVaultVaultNotFound"},
		{"a key that does not exist", cmkParams("nope", "", vaultURI), "KeyVaultKeyNotFound"},
		{"a system-assigned identity at creation", sysOnly, storage.ReasonInvalidEncryption},
	} {
		if _, err := create("stbad", tc.p); statusOf(err) != http.StatusBadRequest || codeOf(err) != tc.code {
			t.Errorf("%s: %v; want 400 %s", tc.name, err, tc.code)
		}
	}

	acct, err := create("stcmk", cmkParams("cmk", "", vaultURI))
	if err != nil {
		t.Fatal(err)
	}
	enc := acct.Properties.Encryption
	if *enc.KeySource != armstorage.KeySourceMicrosoftKeyvault || deref(enc.KeyVaultProperties.CurrentVersionedKeyIdentifier) != string(*key.Key.KID) ||
		deref(enc.KeyVaultProperties.KeyVersion) != "" || enc.KeyVaultProperties.LastKeyRotationTimestamp == nil ||
		!strings.EqualFold(deref(enc.EncryptionIdentity.EncryptionUserAssignedIdentity), miID) {
		t.Errorf("encryption = %+v, keyvaultproperties %+v", enc, enc.KeyVaultProperties)
	}
	if acct.Properties.PrimaryEndpoints == nil || !strings.HasPrefix(deref(acct.Properties.PrimaryEndpoints.Blob), "https://stcmk.blob.") {
		t.Errorf("primaryEndpoints = %+v", acct.Properties.PrimaryEndpoints)
	}
	aek := func() ([]byte, error) { return e.srv.Storage.AccountKey(ctx, "stcmk") }
	first, err := aek()
	if err != nil || len(first) != 32 {
		t.Fatalf("account key = %d bytes, %v", len(first), err)
	}
	if _, err := create("stcmk", cmkParams("cmk", "", vaultURI)); err != nil {
		t.Errorf("PUT again (an update): %v", err)
	}
	if _, err := accounts.BeginCreate(ctx, "rg-other", "stcmk", cmkParams("cmk", "", vaultURI), nil); statusOf(err) != http.StatusConflict || codeOf(err) != storage.ReasonAccountAlreadyTaken {
		t.Errorf("the name in another group = %v; want 409 %s", err, storage.ReasonAccountAlreadyTaken)
	}

	// Access keys: listed, regenerated.
	keys, err := accounts.ListKeys(ctx, "rg-e2e", "stcmk", nil)
	if err != nil || len(keys.Keys) != 2 || *keys.Keys[0].KeyName != "key1" || len(deref(keys.Keys[0].Value)) < 40 {
		t.Fatalf("ListKeys = %+v, %v", keys, err)
	}
	regen, err := accounts.RegenerateKey(ctx, "rg-e2e", "stcmk", armstorage.AccountRegenerateKeyParameters{KeyName: to.Ptr("key1")}, nil)
	if err != nil || *regen.Keys[0].Value == *keys.Keys[0].Value || *regen.Keys[1].Value != *keys.Keys[1].Value {
		t.Errorf("RegenerateKey = %+v, %v; want key1 new and key2 kept", regen, err)
	}

	// Rotation: the account follows the newest version at its daily check,
	// on the server's clock; the account key stays the same.
	rotated, err := kv.RotateKey(ctx, "cmk", nil)
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) {
		t.Helper()
		var o, errb bytes.Buffer
		if code := cli.Run(ctx, append(args, "--data", dir), &o, &errb); code != 0 {
			t.Fatalf("tresor %s = exit %d: %s", strings.Join(args, " "), code, errb.String())
		}
	}
	current := func() string {
		t.Helper()
		a, err := accounts.GetProperties(ctx, "rg-e2e", "stcmk", nil)
		if err != nil {
			t.Fatal(err)
		}
		return deref(a.Properties.Encryption.KeyVaultProperties.CurrentVersionedKeyIdentifier)
	}
	run("clock", "advance", "PT23H")
	if got := current(); got != string(*key.Key.KID) {
		t.Errorf("before the daily check the account uses %s; want the old version", got)
	}
	run("clock", "advance", "PT1H")
	if got := current(); got != string(*rotated.Key.KID) {
		t.Errorf("after the daily check the account uses %s; want %s", got, *rotated.Key.KID)
	}
	if k, err := aek(); err != nil || !bytes.Equal(k, first) {
		t.Errorf("account key after rotation = %x, %v; want the same key", k, err)
	}

	// A pinned version stays until the account is updated.
	pin := rotated.Key.KID.Version()
	upd := func(p armstorage.AccountUpdateParameters) (armstorage.Account, error) {
		res, err := accounts.Update(ctx, "rg-e2e", "stcmk", p, nil)
		return res.Account, err
	}
	if _, err := upd(armstorage.AccountUpdateParameters{Properties: &armstorage.AccountPropertiesUpdateParameters{Encryption: &armstorage.Encryption{
		KeySource:          to.Ptr(armstorage.KeySourceMicrosoftKeyvault),
		KeyVaultProperties: &armstorage.KeyVaultProperties{KeyVaultURI: to.Ptr(vaultURI), KeyName: to.Ptr("cmk"), KeyVersion: to.Ptr(pin)},
	}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.RotateKey(ctx, "cmk", nil); err != nil {
		t.Fatal(err)
	}
	run("clock", "advance", "P2D")
	if got := current(); got != string(*rotated.Key.KID) {
		t.Errorf("a pinned account moved to %s", got)
	}

	// Microsoft-managed and back: the same account key throughout.
	mm, err := upd(armstorage.AccountUpdateParameters{Properties: &armstorage.AccountPropertiesUpdateParameters{Encryption: &armstorage.Encryption{
		KeySource: to.Ptr(armstorage.KeySourceMicrosoftStorage),
	}}})
	if err != nil || *mm.Properties.Encryption.KeySource != armstorage.KeySourceMicrosoftStorage || mm.Properties.Encryption.KeyVaultProperties != nil {
		t.Fatalf("switch to Microsoft-managed = %+v, %v", mm.Properties, err)
	}
	if k, err := aek(); err != nil || !bytes.Equal(k, first) {
		t.Errorf("account key with Microsoft-managed keys = %x, %v", k, err)
	}
	// Back, through a system-assigned identity given access first.
	withSystem, err := upd(armstorage.AccountUpdateParameters{Identity: &armstorage.Identity{
		Type:                   to.Ptr(armstorage.IdentityTypeSystemAssignedUserAssigned),
		UserAssignedIdentities: map[string]*armstorage.UserAssignedIdentity{miID: {}},
	}})
	if err != nil || withSystem.Identity == nil || deref(withSystem.Identity.PrincipalID) == "" {
		t.Fatalf("add a system-assigned identity = %+v, %v", withSystem.Identity, err)
	}
	assign(vaultID+"/keys/cmk", rbac.KeyVaultCryptoServiceEncUser, *withSystem.Identity.PrincipalID)
	back, err := upd(armstorage.AccountUpdateParameters{Properties: &armstorage.AccountPropertiesUpdateParameters{Encryption: &armstorage.Encryption{
		KeySource:          to.Ptr(armstorage.KeySourceMicrosoftKeyvault),
		KeyVaultProperties: &armstorage.KeyVaultProperties{KeyVaultURI: to.Ptr(vaultURI), KeyName: to.Ptr("cmk"), KeyVersion: to.Ptr("")},
		EncryptionIdentity: &armstorage.EncryptionIdentity{EncryptionUserAssignedIdentity: to.Ptr("")},
	}}})
	if err != nil || deref(back.Properties.Encryption.KeyVaultProperties.CurrentVersionedKeyIdentifier) == "" || back.Properties.Encryption.EncryptionIdentity != nil {
		t.Fatalf("back to the CMK through the system-assigned identity = %+v, %v", back.Properties.Encryption, err)
	}
	if k, err := aek(); err != nil || !bytes.Equal(k, first) {
		t.Errorf("account key after switching back = %x, %v", k, err)
	}

	// Revocation: with the key disabled the account key does not unwrap
	// (Forbidden, KeyVaultEncryptionKeyNotFound); enabled again, it does,
	// unchanged.
	if _, err := kv.UpdateKey(ctx, "cmk", "", azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(false)}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := aek(); !tresor.IsKind(err, tresor.Forbidden) || tresor.ReasonOf(err) != storage.ReasonKeyNotFound {
		t.Errorf("account key with the CMK disabled: %v; want Forbidden %s", err, storage.ReasonKeyNotFound)
	}
	if _, err := kv.UpdateKey(ctx, "cmk", "", azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(true)}}, nil); err != nil {
		t.Fatal(err)
	}
	if k, err := aek(); err != nil || !bytes.Equal(k, first) {
		t.Errorf("account key re-enabled = %x, %v", k, err)
	}

	// The CLI, as az: an account with a CMK from the start, shown.
	var o, errb bytes.Buffer
	if code := cli.Run(ctx, []string{"storage", "account", "create", "-n", "stcli", "-g", "rg-e2e", "--data", dir,
		"--identity-type", "UserAssigned", "--user-identity-id", miID,
		"--encryption-key-source", "Microsoft.Keyvault", "--encryption-key-vault", vaultURI, "--encryption-key-name", "cmk",
		"--key-vault-user-identity-id", miID}, &o, &errb); code != 0 {
		t.Fatalf("tresor storage account create = %d: %s", code, errb.String())
	}
	if !strings.Contains(o.String(), `"currentVersionedKeyIdentifier"`) || !strings.Contains(o.String(), `"Microsoft.Keyvault"`) {
		t.Errorf("storage account create printed %s", o.String())
	}
	o.Reset()
	if code := cli.Run(ctx, []string{"storage", "account", "keys", "list", "-n", "stcli", "-g", "rg-e2e", "--data", dir}, &o, &errb); code != 0 || !strings.Contains(o.String(), `"key2"`) {
		t.Errorf("tresor storage account keys list = %d: %s %s", code, o.String(), errb.String())
	}

	// Deleting the account deletes its system-assigned identity.
	if _, err := accounts.Delete(ctx, "rg-e2e", "stcmk", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := accounts.GetProperties(ctx, "rg-e2e", "stcmk", nil); statusOf(err) != http.StatusNotFound {
		t.Errorf("GET after delete = %v; want 404", err)
	}
}

// A cmkFixture is the seed's key side through ARM: a vault with purge
// protection and RBAC (kv-cmk), an RSA-3072 key in it (cmk) that the admin
// may manage, and a user-assigned identity (storage-cmk) that has no access
// to it yet.
type cmkFixture struct {
	e                 *env
	kv                *azkeys.Client
	key               azkeys.CreateKeyResponse
	vaultID, vaultURI string
	miID, miPrincipal string
	accounts          *armstorage.AccountsClient
	assignments       *armauthorization.RoleAssignmentsClient
}

func newCMKFixture(t testing.TB, e *env) *cmkFixture {
	t.Helper()
	ctx := context.Background()
	sub := e.env["AZURE_SUBSCRIPTION_ID"]
	opts := e.env.ARMOptions(e.http)
	f := &cmkFixture{e: e, vaultURI: e.env.VaultURL("kv-cmk"),
		vaultID: "/subscriptions/" + sub + "/resourceGroups/rg-e2e/providers/Microsoft.KeyVault/vaults/kv-cmk"}
	f.kv = e.vault(t, "kv-cmk", false, func(p *armkeyvault.VaultProperties) {
		p.EnableRbacAuthorization, p.AccessPolicies, p.EnablePurgeProtection = to.Ptr(true), nil, to.Ptr(true)
	})
	var err error
	if f.assignments, err = armauthorization.NewRoleAssignmentsClient(sub, e.cred, opts); err != nil {
		t.Fatal(err)
	}
	f.assign(t, f.vaultID, rbac.KeyVaultCryptoOfficer, e.env["TRESOR_ADMIN_OBJECT_ID"])
	if f.key, err = f.kv.CreateKey(ctx, "cmk", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA), KeySize: to.Ptr[int32](3072)}, nil); err != nil {
		t.Fatal(err)
	}
	ids, err := armmsi.NewUserAssignedIdentitiesClient(sub, e.cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	mi, err := ids.CreateOrUpdate(ctx, "rg-e2e", "storage-cmk", armmsi.Identity{Location: to.Ptr("westeurope")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.miID, f.miPrincipal = *mi.ID, *mi.Properties.PrincipalID
	if f.accounts, err = armstorage.NewAccountsClient(sub, e.cred, opts); err != nil {
		t.Fatal(err)
	}
	return f
}

// assign gives principal a built-in role at scope through ARM.
func (f *cmkFixture) assign(t testing.TB, scope, role, principal string) string {
	t.Helper()
	name := identity.NewGUID()
	sub := f.e.env["AZURE_SUBSCRIPTION_ID"]
	if _, err := f.assignments.Create(context.Background(), scope, name, armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
		RoleDefinitionID: to.Ptr("/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + role),
		PrincipalID:      to.Ptr(principal),
	}}, nil); err != nil {
		t.Fatalf("assign %s at %s: %v", role, scope, err)
	}
	return name
}

// params are an account's creation parameters with a CMK through the
// fixture's identity.
func (f *cmkFixture) params(keyName, version, vaultURL string) armstorage.AccountCreateParameters {
	return armstorage.AccountCreateParameters{
		Location: to.Ptr("westeurope"), Kind: to.Ptr(armstorage.KindStorageV2),
		SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)},
		Identity: &armstorage.Identity{
			Type:                   to.Ptr(armstorage.IdentityTypeUserAssigned),
			UserAssignedIdentities: map[string]*armstorage.UserAssignedIdentity{f.miID: {}},
		},
		Properties: &armstorage.AccountPropertiesCreateParameters{Encryption: &armstorage.Encryption{
			KeySource: to.Ptr(armstorage.KeySourceMicrosoftKeyvault),
			KeyVaultProperties: &armstorage.KeyVaultProperties{
				KeyVaultURI: to.Ptr(vaultURL), KeyName: to.Ptr(keyName), KeyVersion: to.Ptr(version),
			},
			EncryptionIdentity: &armstorage.EncryptionIdentity{EncryptionUserAssignedIdentity: to.Ptr(f.miID)},
			Services: &armstorage.EncryptionServices{
				Blob: &armstorage.EncryptionService{Enabled: to.Ptr(true), KeyType: to.Ptr(armstorage.KeyTypeAccount)},
			},
		}},
	}
}

// create creates an account in rg-e2e and waits for it.
func (f *cmkFixture) create(name string, p armstorage.AccountCreateParameters) (armstorage.Account, error) {
	ctx := context.Background()
	poller, err := f.accounts.BeginCreate(ctx, "rg-e2e", name, p, nil)
	if err != nil {
		return armstorage.Account{}, err
	}
	res, err := poller.PollUntilDone(ctx, nil)
	return res.Account, err
}

// sharedKeyClient is an azblob client for the account's Blob API, path
// style at TRESOR_BLOB_ENDPOINT, with Shared Key and the first key ARM
// lists.
func (f *cmkFixture) sharedKeyClient(t *testing.T, account string) *azblob.Client {
	t.Helper()
	keys, err := f.accounts.ListKeys(context.Background(), "rg-e2e", account, nil)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := azblob.NewSharedKeyCredential(account, *keys.Keys[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	c, err := azblob.NewClientWithSharedKeyCredential(f.e.env["TRESOR_BLOB_ENDPOINT"]+"/"+account+"/", cred,
		&azblob.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: f.e.http}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
