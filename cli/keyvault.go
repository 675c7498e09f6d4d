package cli

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
)

// vaultCommand mirrors 'az keyvault': with --hsm-name it manages a Managed
// HSM, otherwise a Key Vault vault.
type vaultCommand struct {
	op  string
	out io.Writer
}

type vaultFlags struct {
	data, name, hsmName, group, location, sku *string
	admins                                    *string
	purgeProtection, rbac, noSoftDelete       *bool
	retention                                 *int
}

func (c vaultCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("keyvault "+c.op, flag.ContinueOnError)
	f := vaultFlags{
		data:            dataFlag(fs),
		name:            fs.String("name", "", "vault name"),
		hsmName:         fs.String("hsm-name", "", "managed HSM name (instead of --name)"),
		group:           fs.String("resource-group", "", "resource group"),
		location:        fs.String("location", "westeurope", "location"),
		sku:             fs.String("sku", "standard", "vault SKU: standard or premium"),
		purgeProtection: fs.Bool("enable-purge-protection", false, "enable purge protection (irreversible)"),
		// az has defaulted to RBAC since 2.61; tresor defaults to access
		// policies until it serves Microsoft.Authorization/roleAssignments.
		rbac:         fs.Bool("enable-rbac-authorization", false, "authorize data-plane requests with Azure RBAC instead of access policies"),
		admins:       fs.String("administrators", "", "managed HSM: space-separated object ids of the initial administrators (default: the caller)"),
		noSoftDelete: fs.Bool("disable-soft-delete", false, "create without soft delete"),
		retention:    fs.Int("retention-days", 90, "soft-delete retention in days (7-90)"),
	}
	fs.StringVar(f.group, "g", "", "short for --resource-group")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cn, err := connect(*f.data)
	if err != nil {
		return err
	}
	sub := cn.env["AZURE_SUBSCRIPTION_ID"]
	opts := cn.env.ARMOptions(cn.http)
	if *f.hsmName != "" {
		hsms, err := armkeyvault.NewManagedHsmsClient(sub, cn.cred, opts)
		if err != nil {
			return err
		}
		return c.hsm(ctx, fs, f, cn, hsms)
	}
	vaults, err := armkeyvault.NewVaultsClient(sub, cn.cred, opts)
	if err != nil {
		return err
	}
	return c.vault(ctx, fs, f, cn, vaults)
}

func (c vaultCommand) vault(ctx context.Context, fs *flag.FlagSet, f vaultFlags, cn conn, vaults *armkeyvault.VaultsClient) error {
	switch c.op {
	case "create":
		if err := required(fs, "name", "resource-group"); err != nil {
			return err
		}
		props := &armkeyvault.VaultProperties{
			TenantID:                  to.Ptr(cn.env["AZURE_TENANT_ID"]),
			SKU:                       &armkeyvault.SKU{Family: to.Ptr(armkeyvault.SKUFamilyA), Name: to.Ptr(armkeyvault.SKUName(*f.sku))},
			EnableSoftDelete:          to.Ptr(!*f.noSoftDelete),
			SoftDeleteRetentionInDays: to.Ptr(int32(*f.retention)),
			EnableRbacAuthorization:   f.rbac,
		}
		if !*f.rbac {
			// As az keyvault create did: the caller gets every key
			// permission through an access policy.
			props.AccessPolicies = []*armkeyvault.AccessPolicyEntry{{
				TenantID: to.Ptr(cn.env["AZURE_TENANT_ID"]),
				ObjectID: to.Ptr(cn.env["TRESOR_ADMIN_OBJECT_ID"]),
				Permissions: &armkeyvault.Permissions{Keys: to.SliceOfPtrs(
					armkeyvault.KeyPermissionsAll,
				)},
			}}
		}
		if *f.purgeProtection {
			props.EnablePurgeProtection = to.Ptr(true)
		}
		poller, err := vaults.BeginCreateOrUpdate(ctx, *f.group, *f.name,
			armkeyvault.VaultCreateOrUpdateParameters{Location: f.location, Properties: props}, nil)
		if err != nil {
			return err
		}
		res, err := poller.PollUntilDone(ctx, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.Vault)
	case "show":
		if err := required(fs, "name", "resource-group"); err != nil {
			return err
		}
		res, err := vaults.Get(ctx, *f.group, *f.name, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.Vault)
	case "list":
		var all []*armkeyvault.Vault
		if *f.group != "" {
			for p := vaults.NewListByResourceGroupPager(*f.group, nil); p.More(); {
				page, err := p.NextPage(ctx)
				if err != nil {
					return err
				}
				all = append(all, page.Value...)
			}
		} else {
			for p := vaults.NewListBySubscriptionPager(nil); p.More(); {
				page, err := p.NextPage(ctx)
				if err != nil {
					return err
				}
				all = append(all, page.Value...)
			}
		}
		return printJSON(c.out, all)
	case "delete":
		if err := required(fs, "name", "resource-group"); err != nil {
			return err
		}
		_, err := vaults.Delete(ctx, *f.group, *f.name, nil)
		return err
	case "list-deleted":
		all, err := collect(ctx, vaults.NewListDeletedPager(nil), func(p armkeyvault.VaultsClientListDeletedResponse) []*armkeyvault.DeletedVault { return p.Value })
		if err != nil {
			return err
		}
		return printJSON(c.out, all)
	case "purge":
		if err := required(fs, "name"); err != nil {
			return err
		}
		poller, err := vaults.BeginPurgeDeleted(ctx, *f.name, *f.location, nil)
		if err != nil {
			return err
		}
		_, err = poller.PollUntilDone(ctx, nil)
		return err
	case "recover":
		if err := required(fs, "name"); err != nil {
			return err
		}
		dv, err := vaults.GetDeleted(ctx, *f.name, *f.location, nil)
		if err != nil {
			return err
		}
		group := *f.group
		if group == "" && dv.Properties != nil && dv.Properties.VaultID != nil {
			group = resourceGroupOf(*dv.Properties.VaultID)
		}
		poller, err := vaults.BeginCreateOrUpdate(ctx, group, *f.name, armkeyvault.VaultCreateOrUpdateParameters{
			Location: f.location,
			Properties: &armkeyvault.VaultProperties{
				TenantID:   to.Ptr(cn.env["AZURE_TENANT_ID"]),
				SKU:        &armkeyvault.SKU{Family: to.Ptr(armkeyvault.SKUFamilyA), Name: to.Ptr(armkeyvault.SKUNameStandard)},
				CreateMode: to.Ptr(armkeyvault.CreateModeRecover),
			},
		}, nil)
		if err != nil {
			return err
		}
		res, err := poller.PollUntilDone(ctx, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.Vault)
	}
	return fmt.Errorf("keyvault: unknown operation %q (create, show, list, delete, list-deleted, purge, recover)", c.op)
}

func (c vaultCommand) hsm(ctx context.Context, fs *flag.FlagSet, f vaultFlags, cn conn, hsms *armkeyvault.ManagedHsmsClient) error {
	switch c.op {
	case "create":
		if err := required(fs, "hsm-name", "resource-group"); err != nil {
			return err
		}
		props := &armkeyvault.ManagedHsmProperties{
			TenantID:                  to.Ptr(cn.env["AZURE_TENANT_ID"]),
			InitialAdminObjectIDs:     to.SliceOfPtrs(strings.Fields(cmp.Or(*f.admins, cn.env["TRESOR_ADMIN_OBJECT_ID"]))...),
			SoftDeleteRetentionInDays: to.Ptr(int32(*f.retention)),
		}
		if *f.purgeProtection {
			props.EnablePurgeProtection = to.Ptr(true)
		}
		poller, err := hsms.BeginCreateOrUpdate(ctx, *f.group, *f.hsmName, armkeyvault.ManagedHsm{
			Location:   f.location,
			SKU:        &armkeyvault.ManagedHsmSKU{Family: to.Ptr(armkeyvault.ManagedHsmSKUFamilyB), Name: to.Ptr(armkeyvault.ManagedHsmSKUNameStandardB1)},
			Properties: props,
		}, nil)
		if err != nil {
			return err
		}
		res, err := poller.PollUntilDone(ctx, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.ManagedHsm)
	case "show":
		if err := required(fs, "hsm-name", "resource-group"); err != nil {
			return err
		}
		res, err := hsms.Get(ctx, *f.group, *f.hsmName, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.ManagedHsm)
	case "delete":
		if err := required(fs, "hsm-name", "resource-group"); err != nil {
			return err
		}
		poller, err := hsms.BeginDelete(ctx, *f.group, *f.hsmName, nil)
		if err != nil {
			return err
		}
		_, err = poller.PollUntilDone(ctx, nil)
		return err
	case "purge":
		poller, err := hsms.BeginPurgeDeleted(ctx, *f.hsmName, *f.location, nil)
		if err != nil {
			return err
		}
		_, err = poller.PollUntilDone(ctx, nil)
		return err
	}
	return fmt.Errorf("keyvault --hsm-name: unknown operation %q (create, show, delete, purge)", c.op)
}

// resourceGroupOf returns the resource group segment of an ARM id.
func resourceGroupOf(id string) string {
	var rg string
	parts := splitPath(id)
	for i := 0; i+1 < len(parts); i++ {
		if equalFold(parts[i], "resourceGroups") {
			rg = parts[i+1]
		}
	}
	return rg
}
