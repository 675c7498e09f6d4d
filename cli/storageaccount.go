package cli

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage/v2"
)

// storageAccountCommand mirrors 'az storage account': create, update,
// show, list, delete, and 'keys list' / 'keys renew'.
type storageAccountCommand struct {
	op  string
	out io.Writer
}

func (c storageAccountCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("storage account "+c.op, flag.ContinueOnError)
	data := dataFlag(fs)
	name := fs.String("name", "", "storage account name")
	fs.StringVar(name, "n", "", "short for --name")
	group := fs.String("resource-group", "", "resource group")
	fs.StringVar(group, "g", "", "short for --resource-group")
	location := fs.String("location", "westeurope", "location")
	fs.StringVar(location, "l", "westeurope", "short for --location")
	sku := fs.String("sku", "Standard_LRS", "SKU (create)")
	kind := fs.String("kind", "StorageV2", "kind (create)")
	identityType := fs.String("identity-type", "", "None, SystemAssigned, UserAssigned or 'SystemAssigned,UserAssigned'")
	userIdentity := fs.String("user-identity-id", "", "resource id of a user-assigned identity to attach")
	assignIdentity := fs.Bool("assign-identity", false, "give the account a system-assigned identity")
	keySource := fs.String("encryption-key-source", "", "Microsoft.Storage or Microsoft.Keyvault")
	keyVault := fs.String("encryption-key-vault", "", "URI of the vault or managed HSM holding the key")
	keyName := fs.String("encryption-key-name", "", "name of the customer-managed key")
	keyVersion := fs.String("encryption-key-version", "", "key version; empty follows the newest")
	keyIdentity := fs.String("key-vault-user-identity-id", "", "resource id of the user-assigned identity that uses the key")
	federatedClient := fs.String("key-vault-federated-client-id", "", "client id of the multi-tenant application through which the identity uses a key in another tenant")
	keyName2 := fs.String("key", "primary", "keys renew: primary or secondary")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cn, err := connect(*data)
	if err != nil {
		return err
	}
	accounts, err := armstorage.NewAccountsClient(cn.env["AZURE_SUBSCRIPTION_ID"], cn.cred, cn.env.ARMOptions(cn.http))
	if err != nil {
		return err
	}
	var ident *armstorage.Identity
	if *identityType != "" || *userIdentity != "" || *assignIdentity {
		t := *identityType
		switch {
		case t != "":
		case *assignIdentity && *userIdentity != "":
			t = string(armstorage.IdentityTypeSystemAssignedUserAssigned)
		case *assignIdentity:
			t = string(armstorage.IdentityTypeSystemAssigned)
		default:
			t = string(armstorage.IdentityTypeUserAssigned)
		}
		ident = &armstorage.Identity{Type: to.Ptr(armstorage.IdentityType(t))}
		if *userIdentity != "" {
			ident.UserAssignedIdentities = map[string]*armstorage.UserAssignedIdentity{*userIdentity: {}}
		}
	}
	var enc *armstorage.Encryption
	if *keySource != "" {
		enc = &armstorage.Encryption{KeySource: to.Ptr(armstorage.KeySource(*keySource))}
		if *keyVault != "" || *keyName != "" {
			enc.KeyVaultProperties = &armstorage.KeyVaultProperties{KeyVaultURI: keyVault, KeyName: keyName, KeyVersion: keyVersion}
		}
		if *keyIdentity != "" || *federatedClient != "" {
			enc.EncryptionIdentity = &armstorage.EncryptionIdentity{EncryptionUserAssignedIdentity: keyIdentity}
			if *federatedClient != "" {
				enc.EncryptionIdentity.EncryptionFederatedIdentityClientID = federatedClient
			}
		}
	}
	switch c.op {
	case "create":
		if err := required(fs, "name", "resource-group"); err != nil {
			return err
		}
		poller, err := accounts.BeginCreate(ctx, *group, *name, armstorage.AccountCreateParameters{
			Location: location, SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUName(*sku))}, Kind: to.Ptr(armstorage.Kind(*kind)),
			Identity: ident, Properties: &armstorage.AccountPropertiesCreateParameters{Encryption: enc},
		}, nil)
		if err != nil {
			return err
		}
		res, err := poller.PollUntilDone(ctx, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.Account)
	case "update":
		if err := required(fs, "name", "resource-group"); err != nil {
			return err
		}
		res, err := accounts.Update(ctx, *group, *name, armstorage.AccountUpdateParameters{
			Identity: ident, Properties: &armstorage.AccountPropertiesUpdateParameters{Encryption: enc},
		}, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.Account)
	case "show":
		if err := required(fs, "name", "resource-group"); err != nil {
			return err
		}
		res, err := accounts.GetProperties(ctx, *group, *name, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.Account)
	case "list":
		var all []*armstorage.Account
		if *group != "" {
			all, err = collect(ctx, accounts.NewListByResourceGroupPager(*group, nil),
				func(p armstorage.AccountsClientListByResourceGroupResponse) []*armstorage.Account { return p.Value })
		} else {
			all, err = collect(ctx, accounts.NewListPager(nil),
				func(p armstorage.AccountsClientListResponse) []*armstorage.Account { return p.Value })
		}
		if err != nil {
			return err
		}
		return printJSON(c.out, all)
	case "delete":
		if err := required(fs, "name", "resource-group"); err != nil {
			return err
		}
		_, err := accounts.Delete(ctx, *group, *name, nil)
		return err
	case "keys list":
		if err := required(fs, "name", "resource-group"); err != nil {
			return err
		}
		res, err := accounts.ListKeys(ctx, *group, *name, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.Keys)
	case "keys renew":
		if err := required(fs, "name", "resource-group"); err != nil {
			return err
		}
		k := map[string]string{"primary": "key1", "secondary": "key2"}[*keyName2]
		if k == "" {
			return fmt.Errorf("--key: want primary or secondary, got %q", *keyName2)
		}
		res, err := accounts.RegenerateKey(ctx, *group, *name, armstorage.AccountRegenerateKeyParameters{KeyName: &k}, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.Keys)
	}
	return fmt.Errorf("storage account: unknown operation %q (create, update, show, list, delete, keys list, keys renew)", c.op)
}
