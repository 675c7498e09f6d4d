package cli

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
)

// groupCommand mirrors 'az group'.
type groupCommand struct {
	op  string
	out io.Writer
}

func (c groupCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("group "+c.op, flag.ContinueOnError)
	data := dataFlag(fs)
	name := fs.String("name", "", "resource group name")
	location := fs.String("location", "westeurope", "location")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cn, err := connect(*data)
	if err != nil {
		return err
	}
	groups, err := armresources.NewResourceGroupsClient(cn.env["AZURE_SUBSCRIPTION_ID"], cn.cred, cn.env.ARMOptions(cn.http))
	if err != nil {
		return err
	}
	switch c.op {
	case "create":
		if err := required(fs, "name"); err != nil {
			return err
		}
		res, err := groups.CreateOrUpdate(ctx, *name, armresources.ResourceGroup{Location: to.Ptr(*location)}, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.ResourceGroup)
	case "show":
		if err := required(fs, "name"); err != nil {
			return err
		}
		res, err := groups.Get(ctx, *name, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.ResourceGroup)
	case "list":
		all, err := collect(ctx, groups.NewListPager(nil), func(p armresources.ResourceGroupsClientListResponse) []*armresources.ResourceGroup { return p.Value })
		if err != nil {
			return err
		}
		return printJSON(c.out, all)
	case "delete":
		if err := required(fs, "name"); err != nil {
			return err
		}
		poller, err := groups.BeginDelete(ctx, *name, nil)
		if err != nil {
			return err
		}
		_, err = poller.PollUntilDone(ctx, nil)
		return err
	}
	return fmt.Errorf("group: unknown operation %q (create, show, list, delete)", c.op)
}
