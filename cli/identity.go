package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
)

// identityCommand mirrors 'az identity': user-assigned managed identities.
type identityCommand struct {
	op  string
	out io.Writer
}

// identityOutput is az's flattened form of an identity.
type identityOutput struct {
	ClientID      string            `json:"clientId"`
	ID            string            `json:"id"`
	Location      string            `json:"location"`
	Name          string            `json:"name"`
	PrincipalID   string            `json:"principalId"`
	ResourceGroup string            `json:"resourceGroup"`
	Tags          map[string]string `json:"tags"`
	TenantID      string            `json:"tenantId"`
	Type          string            `json:"type"`
}

func identityOutputOf(id *armmsi.Identity) identityOutput {
	out := identityOutput{
		ID: deref(id.ID), Name: deref(id.Name), Location: deref(id.Location), Type: deref(id.Type),
		Tags: map[string]string{},
	}
	for k, v := range id.Tags {
		out.Tags[k] = deref(v)
	}
	if p := id.Properties; p != nil {
		out.ClientID, out.PrincipalID, out.TenantID = deref(p.ClientID), deref(p.PrincipalID), deref(p.TenantID)
	}
	// /subscriptions/{s}/resourceGroups/{g}/...
	if parts := strings.Split(out.ID, "/"); len(parts) > 4 {
		out.ResourceGroup = parts[4]
	}
	return out
}

func (c identityCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("identity "+c.op, flag.ContinueOnError)
	data := dataFlag(fs)
	name := fs.String("name", "", "identity name")
	fs.StringVar(name, "n", "", "short for --name")
	group := fs.String("resource-group", "", "resource group")
	fs.StringVar(group, "g", "", "short for --resource-group")
	location := fs.String("location", "westeurope", "location")
	fs.StringVar(location, "l", "westeurope", "short for --location")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cn, err := connect(*data)
	if err != nil {
		return err
	}
	ids, err := armmsi.NewUserAssignedIdentitiesClient(cn.env["AZURE_SUBSCRIPTION_ID"], cn.cred, cn.env.ARMOptions(cn.http))
	if err != nil {
		return err
	}
	switch c.op {
	case "create":
		if err := required(fs, "name", "resource-group"); err != nil {
			return err
		}
		res, err := ids.CreateOrUpdate(ctx, *group, *name, armmsi.Identity{Location: location}, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, identityOutputOf(&res.Identity))
	case "show":
		if err := required(fs, "name", "resource-group"); err != nil {
			return err
		}
		res, err := ids.Get(ctx, *group, *name, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, identityOutputOf(&res.Identity))
	case "list":
		var all []*armmsi.Identity
		if *group != "" {
			all, err = collect(ctx, ids.NewListByResourceGroupPager(*group, nil),
				func(p armmsi.UserAssignedIdentitiesClientListByResourceGroupResponse) []*armmsi.Identity {
					return p.Value
				})
		} else {
			all, err = collect(ctx, ids.NewListBySubscriptionPager(nil),
				func(p armmsi.UserAssignedIdentitiesClientListBySubscriptionResponse) []*armmsi.Identity {
					return p.Value
				})
		}
		if err != nil {
			return err
		}
		out := make([]identityOutput, 0, len(all))
		for _, id := range all {
			out = append(out, identityOutputOf(id))
		}
		return printJSON(c.out, out)
	case "delete":
		if err := required(fs, "name", "resource-group"); err != nil {
			return err
		}
		_, err := ids.Delete(ctx, *group, *name, nil)
		return err
	}
	return fmt.Errorf("identity: unknown operation %q (create, show, list, delete)", c.op)
}

// deref returns *p, or the zero value for nil.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
