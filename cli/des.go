package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
)

// desCommand mirrors 'az disk-encryption-set': create, update, show,
// list, delete and list-associated-resources.
type desCommand struct {
	op  string
	out io.Writer
}

func (c desCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("disk-encryption-set "+c.op, flag.ContinueOnError)
	data := dataFlag(fs)
	name := fs.String("name", "", "disk encryption set name")
	fs.StringVar(name, "n", "", "short for --name")
	group := fs.String("resource-group", "", "resource group")
	fs.StringVar(group, "g", "", "short for --resource-group")
	location := fs.String("location", "westeurope", "location (create)")
	fs.StringVar(location, "l", "westeurope", "short for --location")
	keyURL := fs.String("key-url", "", "versioned URL of the key, https://{vault}/keys/{name}/{version}")
	sourceVault := fs.String("source-vault", "", "ARM id of the vault or managed HSM holding the key")
	encType := fs.String("encryption-type", "", "EncryptionAtRestWithCustomerKey (default), EncryptionAtRestWithPlatformAndCustomerKeys or ConfidentialVmEncryptedWithCustomerKey")
	autoRotation := fs.String("enable-auto-key-rotation", "", "true or false: follow the key's newest version")
	system := fs.Bool("mi-system-assigned", false, "use a system-assigned identity (the default on create without --mi-user-assigned)")
	user := fs.String("mi-user-assigned", "", "resource id of a user-assigned identity to use")
	federated := fs.String("federated-client-id", "", "client id of the multi-tenant application for a key in another tenant; None clears it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cn, err := connect(*data)
	if err != nil {
		return err
	}
	sets, err := armcompute.NewDiskEncryptionSetsClient(cn.env["AZURE_SUBSCRIPTION_ID"], cn.cred, cn.env.ARMOptions(cn.http))
	if err != nil {
		return err
	}
	var ident *armcompute.EncryptionSetIdentity
	if *system || *user != "" || c.op == "create" {
		t := armcompute.DiskEncryptionSetIdentityTypeSystemAssigned
		switch {
		case *system && *user != "":
			t = armcompute.DiskEncryptionSetIdentityTypeSystemAssignedUserAssigned
		case *user != "":
			t = armcompute.DiskEncryptionSetIdentityTypeUserAssigned
		}
		ident = &armcompute.EncryptionSetIdentity{Type: &t}
		if *user != "" {
			ident.UserAssignedIdentities = map[string]*armcompute.UserAssignedIdentitiesValue{*user: {}}
		}
	}
	var key *armcompute.KeyForDiskEncryptionSet
	if *keyURL != "" {
		key = &armcompute.KeyForDiskEncryptionSet{KeyURL: keyURL}
		if *sourceVault != "" {
			key.SourceVault = &armcompute.SourceVault{ID: sourceVault}
		}
	}
	var rotation *bool
	if *autoRotation != "" {
		b, err := strconv.ParseBool(*autoRotation)
		if err != nil {
			return fmt.Errorf("--enable-auto-key-rotation: want true or false, got %q", *autoRotation)
		}
		rotation = &b
	}
	var typ *armcompute.DiskEncryptionSetType
	if *encType != "" {
		typ = to.Ptr(armcompute.DiskEncryptionSetType(*encType))
	}
	var fed *string
	if *federated != "" {
		fed = federated
	}
	switch c.op {
	case "create":
		if err := required(fs, "name", "resource-group", "key-url"); err != nil {
			return err
		}
		poller, err := sets.BeginCreateOrUpdate(ctx, *group, *name, armcompute.DiskEncryptionSet{
			Location: location, Identity: ident,
			Properties: &armcompute.EncryptionSetProperties{
				ActiveKey: key, EncryptionType: typ, RotationToLatestKeyVersionEnabled: rotation, FederatedClientID: fed,
			},
		}, nil)
		res, err := result(ctx, poller, err)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.DiskEncryptionSet)
	case "update":
		if err := required(fs, "name", "resource-group"); err != nil {
			return err
		}
		poller, err := sets.BeginUpdate(ctx, *group, *name, armcompute.DiskEncryptionSetUpdate{
			Identity: ident,
			Properties: &armcompute.DiskEncryptionSetUpdateProperties{
				ActiveKey: key, EncryptionType: typ, RotationToLatestKeyVersionEnabled: rotation, FederatedClientID: fed,
			},
		}, nil)
		res, err := result(ctx, poller, err)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.DiskEncryptionSet)
	case "show":
		if err := required(fs, "name", "resource-group"); err != nil {
			return err
		}
		res, err := sets.Get(ctx, *group, *name, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.DiskEncryptionSet)
	case "list":
		var all []*armcompute.DiskEncryptionSet
		if *group != "" {
			all, err = collect(ctx, sets.NewListByResourceGroupPager(*group, nil),
				func(p armcompute.DiskEncryptionSetsClientListByResourceGroupResponse) []*armcompute.DiskEncryptionSet {
					return p.Value
				})
		} else {
			all, err = collect(ctx, sets.NewListPager(nil),
				func(p armcompute.DiskEncryptionSetsClientListResponse) []*armcompute.DiskEncryptionSet {
					return p.Value
				})
		}
		if err != nil {
			return err
		}
		return printJSON(c.out, all)
	case "list-associated-resources":
		if err := required(fs, "name", "resource-group"); err != nil {
			return err
		}
		ids, err := collect(ctx, sets.NewListAssociatedResourcesPager(*group, *name, nil),
			func(p armcompute.DiskEncryptionSetsClientListAssociatedResourcesResponse) []*string { return p.Value })
		if err != nil {
			return err
		}
		if ids == nil {
			ids = []*string{}
		}
		return printJSON(c.out, ids)
	case "list-key-versions":
		if err := required(fs, "name", "resource-group"); err != nil {
			return err
		}
		return listKeyVersions(ctx, cn, *group, *name, c.out)
	case "delete":
		if err := required(fs, "name", "resource-group"); err != nil {
			return err
		}
		poller, err := sets.BeginDelete(ctx, *group, *name, nil)
		return await(ctx, poller, err)
	}
	return fmt.Errorf("disk-encryption-set: unknown operation %q (create, update, show, list, delete, list-associated-resources, list-key-versions)", c.op)
}
