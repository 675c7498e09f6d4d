package e2e

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/tresorkms/tresor/cli"
	"github.com/tresorkms/tresor/client"
	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/rbac"
)

// newTenant creates a tenant with 'tresor tenant create --out', as its
// administrator would, and returns an env that acts as that administrator
// in it (its subscription, its credential) on the same server.
func (e *env) newTenant(t *testing.T, name string) *env {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	var out, errb bytes.Buffer
	if code := cli.Run(context.Background(), []string{"tenant", "create", "--display-name", name, "--out", dir, "--data", e.dir}, &out, &errb); code != 0 {
		t.Fatalf("tresor tenant create = %d: %s", code, errb.String())
	}
	ce, err := client.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ce["AZURE_TENANT_ID"] == e.env["AZURE_TENANT_ID"] || ce["AZURE_SUBSCRIPTION_ID"] == e.env["AZURE_SUBSCRIPTION_ID"] {
		t.Fatalf("the new tenant shares the home tenant's ids: %s", out.String())
	}
	cred, err := ce.Credential(e.http)
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: e.srv, env: ce, http: e.http, cred: cred, dir: dir, stop: e.stop}
}

// roleAssignment creates a role assignment as e's administrator and
// returns a func that deletes it.
func (e *env) roleAssignment(t *testing.T, scope, roleID, principalID string) func() {
	t.Helper()
	sub := e.env["AZURE_SUBSCRIPTION_ID"]
	assignments, err := armauthorization.NewRoleAssignmentsClient(sub, e.cred, e.env.ARMOptions(e.http))
	if err != nil {
		t.Fatal(err)
	}
	name := identity.NewGUID()
	if _, err := assignments.Create(context.Background(), scope, name, armauthorization.RoleAssignmentCreateParameters{
		Properties: &armauthorization.RoleAssignmentProperties{
			RoleDefinitionID: to.Ptr("/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + roleID),
			PrincipalID:      to.Ptr(principalID),
			PrincipalType:    to.Ptr(armauthorization.PrincipalTypeServicePrincipal),
		}}, nil); err != nil {
		t.Fatalf("assign %s at %s: %v", roleID, scope, err)
	}
	return func() {
		if _, err := assignments.Delete(context.Background(), scope, name, nil); err != nil {
			t.Fatalf("delete role assignment: %v", err)
		}
	}
}

// crossTenant is the setup of Azure's cross-tenant customer-managed keys:
// the customer's tenant (fabrikam) with a vault and an RSA-3072 key, and in
// the provider's (home) tenant a user-assigned identity and a multi-tenant
// application whose federated credential (fic) trusts it, with a service
// principal in the customer's tenant that has no role yet.
type crossTenant struct {
	cust                        *env
	custTenant                  string
	kv                          *azkeys.Client
	key                         azkeys.CreateKeyResponse
	vaultID, vaultURI           string
	miID, miPrincipal, miClient string
	appObject, appID, spID, fic string
}

func newCrossTenant(t *testing.T, e *env) *crossTenant {
	t.Helper()
	ctx := context.Background()
	home := e.env["AZURE_TENANT_ID"]
	// The customer's tenant: a vault with purge protection and RBAC, an
	// RSA-3072 key. azkeys in that tenant follows the vault's challenge to
	// the customer's tenant.
	cust := e.newTenant(t, "fabrikam")
	custTenant := cust.env["AZURE_TENANT_ID"]
	kv := cust.vault(t, "kv-fabrikam", false, func(p *armkeyvault.VaultProperties) {
		p.EnableRbacAuthorization, p.AccessPolicies, p.EnablePurgeProtection = to.Ptr(true), nil, to.Ptr(true)
	})
	vaultID := "/subscriptions/" + cust.env["AZURE_SUBSCRIPTION_ID"] + "/resourceGroups/rg-e2e/providers/Microsoft.KeyVault/vaults/kv-fabrikam"
	cust.roleAssignment(t, vaultID, rbac.KeyVaultCryptoOfficer, cust.env["TRESOR_ADMIN_OBJECT_ID"])
	key, err := kv.CreateKey(ctx, "cmk", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA), KeySize: to.Ptr[int32](3072)}, nil)
	if err != nil {
		t.Fatalf("create key in the customer's vault: %v", err)
	}
	vaultURI := cust.env.VaultURL("kv-fabrikam")

	// The provider's tenant: the identity and the multi-tenant application
	// that trusts it.
	sub := e.env["AZURE_SUBSCRIPTION_ID"]
	opts := e.env.ARMOptions(e.http)
	groups, err := armresources.NewResourceGroupsClient(sub, e.cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := groups.CreateOrUpdate(ctx, "rg-e2e", armresources.ResourceGroup{Location: to.Ptr("westeurope")}, nil); err != nil {
		t.Fatal(err)
	}
	ids, err := armmsi.NewUserAssignedIdentitiesClient(sub, e.cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	mi, err := ids.CreateOrUpdate(ctx, "rg-e2e", "cmk-federated", armmsi.Identity{Location: to.Ptr("westeurope")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	miID, miPrincipal, miClient := *mi.ID, *mi.Properties.PrincipalID, *mi.Properties.ClientID
	app := e.graph(t, e.cred, "POST", "/applications", `{"displayName":"cmk-cross-tenant","signInAudience":"AzureADMultipleOrgs"}`, 201)
	appObject, appID := app["id"].(string), app["appId"].(string)
	if app["signInAudience"] != "AzureADMultipleOrgs" {
		t.Errorf("signInAudience = %v", app["signInAudience"])
	}
	// The issuer as Azure's documentation spells it: the tenant's v2.0
	// issuer.
	issuer := strings.TrimSuffix(e.env["AZURE_AUTHORITY_HOST"], "/") + "/" + home + "/v2.0"
	fic := `{"name":"storage-cmk","issuer":"` + issuer + `","subject":"` + miPrincipal + `","audiences":["api://AzureADTokenExchange"]}`
	e.graph(t, e.cred, "POST", "/applications/"+appObject+"/federatedIdentityCredentials", fic, 201)

	// The customer consents: the application gets a service principal in
	// the customer's tenant, which is given the key.
	sp := cust.graph(t, cust.cred, "POST", "/servicePrincipals", `{"appId":"`+appID+`"}`, 201)
	spID := sp["id"].(string)
	return &crossTenant{cust: cust, custTenant: custTenant, kv: kv, key: key, vaultID: vaultID, vaultURI: vaultURI,
		miID: miID, miPrincipal: miPrincipal, miClient: miClient, appObject: appObject, appID: appID, spID: spID, fic: fic}
}

// TestCrossTenantCMK follows Azure's "cross-tenant customer-managed keys
// for a new storage account" through the real clients. The service
// provider's tenant (the home tenant) holds the storage account, a
// user-assigned identity and a multi-tenant application whose federated
// identity credential trusts the identity; the customer's tenant
// (fabrikam, made with 'tresor tenant create') holds the vault and key
// and gives the application's service principal there Key Vault Crypto
// Service Encryption User.
//
// It checks: the same chain works for azidentity's ClientAssertionCredential
// with an assertion from the managed identity endpoint; the account is
// refused without the federated client id (the identity is of the wrong
// tenant) and works with it; blob data round-trips; the customer revoking
// the role locks the data with KeyVaultEncryptionKeyNotFound; the provider
// deleting the federated credential locks it with
// KeyVaultAccessTokenCannotBeAcquired; restoring both brings the data back
// intact; the customer rotating the key moves the account after the daily
// check on the virtual clock.
func TestCrossTenantCMK(t *testing.T) {
	dir := t.TempDir()
	e := startWith(t, cli.Config{DataDir: dir, Clock: cli.ClockVirtual, StorageKeyCacheTTL: -1})
	ctx := context.Background()

	x := newCrossTenant(t, e)
	cust, custTenant, kv, key, vaultID, vaultURI := x.cust, x.custTenant, x.kv, x.key, x.vaultID, x.vaultURI
	miID, miPrincipal, miClient, appObject, appID, spID, fic := x.miID, x.miPrincipal, x.miClient, x.appObject, x.appID, x.spID, x.fic
	sub := e.env["AZURE_SUBSCRIPTION_ID"]
	opts := e.env.ARMOptions(e.http)
	revoke := cust.roleAssignment(t, vaultID, rbac.KeyVaultCryptoServiceEncUser, spID)

	// The same chain through the unmodified SDKs: an assertion from the
	// managed identity endpoint, exchanged for a token in the customer's
	// tenant, which the customer's vault accepts for wrapKey.
	t.Setenv("IDENTITY_ENDPOINT", e.env["TRESOR_IDENTITY_ENDPOINT"])
	t.Setenv("IDENTITY_HEADER", e.env["TRESOR_IDENTITY_HEADER"])
	miCred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ID: azidentity.ClientID(miClient), ClientOptions: azcore.ClientOptions{Transport: e.http},
	})
	if err != nil {
		t.Fatal(err)
	}
	fedCred, err := azidentity.NewClientAssertionCredential(custTenant, appID, func(ctx context.Context) (string, error) {
		tok, err := miCred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"api://AzureADTokenExchange/.default"}})
		return tok.Token, err
	}, &azidentity.ClientAssertionCredentialOptions{DisableInstanceDiscovery: true, ClientOptions: azcore.ClientOptions{Cloud: e.env.Cloud(), Transport: e.http}})
	if err != nil {
		t.Fatal(err)
	}
	asApp, err := azkeys.NewClient(vaultURI, fedCred, &azkeys.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: e.http}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := asApp.WrapKey(ctx, "cmk", "", azkeys.KeyOperationParameters{
		Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: bytes.Repeat([]byte{7}, 32)}, nil); err != nil {
		t.Fatalf("wrapKey as the application in the customer's tenant: %v", err)
	}
	// The identity itself is of the provider's tenant: the customer's
	// vault refuses its token (AKV10032), even with a role there.
	cust.roleAssignment(t, vaultID, rbac.KeyVaultCryptoServiceEncUser, miPrincipal)
	miKeys, err := azkeys.NewClient(vaultURI, miCred, &azkeys.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: e.http}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := miKeys.GetKey(ctx, "cmk", "", nil); err == nil {
		t.Error("the customer's vault accepted a token of the provider's tenant")
	}

	accounts, err := armstorage.NewAccountsClient(sub, e.cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	params := func(federated string) armstorage.AccountCreateParameters {
		enc := &armstorage.EncryptionIdentity{EncryptionUserAssignedIdentity: to.Ptr(miID)}
		if federated != "" {
			enc.EncryptionFederatedIdentityClientID = to.Ptr(federated)
		}
		return armstorage.AccountCreateParameters{
			Location: to.Ptr("westeurope"), Kind: to.Ptr(armstorage.KindStorageV2),
			SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)},
			Identity: &armstorage.Identity{
				Type:                   to.Ptr(armstorage.IdentityTypeUserAssigned),
				UserAssignedIdentities: map[string]*armstorage.UserAssignedIdentity{miID: {}},
			},
			Properties: &armstorage.AccountPropertiesCreateParameters{Encryption: &armstorage.Encryption{
				KeySource:          to.Ptr(armstorage.KeySourceMicrosoftKeyvault),
				KeyVaultProperties: &armstorage.KeyVaultProperties{KeyVaultURI: to.Ptr(vaultURI), KeyName: to.Ptr("cmk")},
				EncryptionIdentity: enc,
			}},
		}
	}
	create := func(name string, p armstorage.AccountCreateParameters) (armstorage.Account, error) {
		poller, err := accounts.BeginCreate(ctx, "rg-e2e", name, p, nil)
		if err != nil {
			return armstorage.Account{}, err
		}
		res, err := poller.PollUntilDone(ctx, nil)
		return res.Account, err
	}

	// Without the federated client id the identity acts in its own tenant,
	// and the key is in another: refused, and nothing is created.
	if _, err := create("stxnofed", params("")); statusOf(err) != 400 || !strings.Contains(err.Error(), "federated") {
		t.Errorf("an account with a key in another tenant and no federated client id = %v; want 400 naming the federated client id", err)
	}
	if _, err := accounts.GetProperties(ctx, "rg-e2e", "stxnofed", nil); statusOf(err) != 404 {
		t.Errorf("the refused account exists: %v", err)
	}
	// An application that has no federated credential for the identity
	// does not help.
	other := e.graph(t, e.cred, "POST", "/applications", `{"displayName":"not-trusting","signInAudience":"AzureADMultipleOrgs"}`, 201)
	// (its service principal in the customer's tenant made with the CLI,
	// as the customer's administrator)
	var o, eb bytes.Buffer
	if code := cli.Run(ctx, []string{"ad", "sp", "create", "--id", other["appId"].(string), "--data", cust.dir}, &o, &eb); code != 0 {
		t.Fatalf("tresor ad sp create in the customer's tenant = %d: %s", code, eb.String())
	}
	if _, err := create("stxwrongapp", params(other["appId"].(string))); statusOf(err) != 400 || codeOf(err) != "KeyVaultAccessTokenCannotBeAcquired" {
		t.Errorf("an account federated through an application that does not trust the identity = %v; want 400 KeyVaultAccessTokenCannotBeAcquired", err)
	}

	acct, err := create("stxtenant", params(appID))
	if err != nil {
		t.Fatalf("create the cross-tenant CMK account: %v", err)
	}
	encr := acct.Properties.Encryption
	if encr.EncryptionIdentity == nil || encr.EncryptionIdentity.EncryptionFederatedIdentityClientID == nil || *encr.EncryptionIdentity.EncryptionFederatedIdentityClientID != appID {
		t.Errorf("encryption.identity = %+v; want the federated client id %s", encr.EncryptionIdentity, appID)
	}
	if got := *encr.KeyVaultProperties.CurrentVersionedKeyIdentifier; got != string(*key.Key.KID) {
		t.Errorf("currentVersionedKeyIdentifier = %s; want %s", got, *key.Key.KID)
	}

	// The same through the CLI, as az storage account create.
	o.Reset()
	if code := cli.Run(ctx, []string{"storage", "account", "create", "-n", "stxcli", "-g", "rg-e2e", "--data", dir,
		"--identity-type", "UserAssigned", "--user-identity-id", miID, "--encryption-key-source", "Microsoft.Keyvault",
		"--encryption-key-vault", vaultURI, "--encryption-key-name", "cmk", "--key-vault-user-identity-id", miID,
		"--key-vault-federated-client-id", appID}, &o, &eb); code != 0 {
		t.Fatalf("tresor storage account create --key-vault-federated-client-id = %d: %s", code, eb.String())
	}
	if !strings.Contains(o.String(), `"federatedIdentityClientId": "`+appID+`"`) {
		t.Errorf("tresor storage account create printed %s; want the federated client id", o.String())
	}

	keys, err := accounts.ListKeys(ctx, "rg-e2e", "stxtenant", nil)
	if err != nil {
		t.Fatal(err)
	}
	skc, err := azblob.NewSharedKeyCredential("stxtenant", *keys.Keys[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := azblob.NewClientWithSharedKeyCredential(e.env["TRESOR_BLOB_ENDPOINT"]+"/stxtenant/", skc,
		&azblob.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: e.http}})
	if err != nil {
		t.Fatal(err)
	}
	content := bytes.Repeat([]byte("cross-tenant-data "), 1000)
	if _, err := blobs.CreateContainer(ctx, "data", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := blobs.UploadBuffer(ctx, "data", "b.txt", content, nil); err != nil {
		t.Fatalf("upload: %v", err)
	}
	read := func() string {
		t.Helper()
		buf := make([]byte, len(content))
		_, err := blobs.DownloadBuffer(ctx, "data", "b.txt", buf, nil)
		if err == nil && !bytes.Equal(buf, content) {
			t.Fatal("the blob came back changed")
		}
		return statusOfBlob(err)
	}
	if got := read(); got != "success" {
		t.Fatalf("download = %s", got)
	}

	// The customer revokes the application's role: the data is locked.
	revoke()
	if got := read(); got != "KeyVaultEncryptionKeyNotFound 403" {
		t.Errorf("download after the customer revoked the role = %s; want KeyVaultEncryptionKeyNotFound 403", got)
	}
	revoke = cust.roleAssignment(t, vaultID, rbac.KeyVaultCryptoServiceEncUser, spID)
	if got := read(); got != "success" {
		t.Errorf("download after the role was given back = %s", got)
	}

	// The provider removes the federated credential: no token in the
	// customer's tenant.
	e.graph(t, e.cred, "DELETE", "/applications/"+appObject+"/federatedIdentityCredentials/storage-cmk", "", 204)
	if got := read(); got != "KeyVaultAccessTokenCannotBeAcquired 403" {
		t.Errorf("download without the federated credential = %s; want KeyVaultAccessTokenCannotBeAcquired 403", got)
	}
	e.graph(t, e.cred, "POST", "/applications/"+appObject+"/federatedIdentityCredentials", fic, 201)
	if got := read(); got != "success" {
		t.Errorf("download after the federated credential was restored = %s", got)
	}

	// The customer rotates the key; the daily check moves the account.
	rotated, err := kv.RotateKey(ctx, "cmk", nil)
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := cli.Run(ctx, []string{"clock", "advance", "P1D", "--data", dir}, &out, &errb); code != 0 {
		t.Fatalf("tresor clock advance = %d: %s", code, errb.String())
	}
	got, err := accounts.GetProperties(ctx, "rg-e2e", "stxtenant", nil)
	if err != nil {
		t.Fatal(err)
	}
	if v := *got.Properties.Encryption.KeyVaultProperties.CurrentVersionedKeyIdentifier; v != string(*rotated.Key.KID) {
		t.Errorf("after the customer's rotation and a day: currentVersionedKeyIdentifier = %s; want %s", v, *rotated.Key.KID)
	}
	if got := read(); got != "success" {
		t.Errorf("download after the rotation = %s", got)
	}
}
