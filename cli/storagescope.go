package cli

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage/v2"
)

// storageScopeCommand mirrors 'az storage account encryption-scope
// create|update|show|list'. Scopes cannot be deleted, only disabled.
type storageScopeCommand struct {
	op  string
	out io.Writer
}

func (c storageScopeCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("storage account encryption-scope "+c.op, flag.ContinueOnError)
	data := dataFlag(fs)
	account := fs.String("account-name", "", "storage account name")
	group := fs.String("resource-group", "", "resource group")
	fs.StringVar(group, "g", "", "short for --resource-group")
	name := fs.String("name", "", "encryption scope name")
	fs.StringVar(name, "n", "", "short for --name")
	source := fs.String("key-source", "", "Microsoft.Storage (the default at creation) or Microsoft.KeyVault")
	fs.StringVar(source, "s", "", "short for --key-source")
	keyURI := fs.String("key-uri", "", "key identifier for Microsoft.KeyVault, versioned or not (a versionless one follows the newest version)")
	fs.StringVar(keyURI, "u", "", "short for --key-uri")
	state := fs.String("state", "", "update: Enabled or Disabled")
	infra := fs.Bool("require-infrastructure-encryption", false, "create: a second layer of encryption")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := required(fs, "account-name", "resource-group"); err != nil {
		return err
	}
	cn, err := connect(*data)
	if err != nil {
		return err
	}
	scopes, err := armstorage.NewEncryptionScopesClient(cn.env["AZURE_SUBSCRIPTION_ID"], cn.cred, cn.env.ARMOptions(cn.http))
	if err != nil {
		return err
	}
	props := &armstorage.EncryptionScopeProperties{}
	if *source != "" {
		props.Source = to.Ptr(armstorage.EncryptionScopeSource(*source))
	}
	if *keyURI != "" {
		props.KeyVaultProperties = &armstorage.EncryptionScopeKeyVaultProperties{KeyURI: keyURI}
	}
	if *state != "" {
		props.State = to.Ptr(armstorage.EncryptionScopeState(*state))
	}
	switch c.op {
	case "create":
		if err := required(fs, "name"); err != nil {
			return err
		}
		if *infra {
			props.RequireInfrastructureEncryption = infra
		}
		res, err := scopes.Put(ctx, *group, *account, *name, armstorage.EncryptionScope{EncryptionScopeProperties: props}, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.EncryptionScope)
	case "update":
		if err := required(fs, "name"); err != nil {
			return err
		}
		res, err := scopes.Patch(ctx, *group, *account, *name, armstorage.EncryptionScope{EncryptionScopeProperties: props}, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.EncryptionScope)
	case "show":
		if err := required(fs, "name"); err != nil {
			return err
		}
		res, err := scopes.Get(ctx, *group, *account, *name, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.EncryptionScope)
	case "list":
		all, err := collect(ctx, scopes.NewListPager(*group, *account, nil),
			func(p armstorage.EncryptionScopesClientListResponse) []*armstorage.EncryptionScope { return p.Value })
		if err != nil {
			return err
		}
		return printJSON(c.out, all)
	}
	return fmt.Errorf("storage account encryption-scope: unknown operation %q (create, update, show, list)", c.op)
}
