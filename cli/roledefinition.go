package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"

	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/rbac"
)

// roleDefinitionCommand mirrors 'az role definition create|update|list|
// delete': custom Azure roles, through ARM.
type roleDefinitionCommand struct {
	op  string
	out io.Writer
}

func (c roleDefinitionCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("role definition "+c.op, flag.ContinueOnError)
	data := dataFlag(fs)
	def := fs.String("role-definition", "", "the role as JSON, or a file holding it, in az's form: Name, Description, Actions, NotActions, DataActions, NotDataActions, AssignableScopes")
	name := fs.String("name", "", "role name or id")
	scope := fs.String("scope", "", "scope to list or delete at (default: the subscription)")
	customOnly := fs.Bool("custom-role-only", false, "list custom roles only")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cn, err := connect(*data)
	if err != nil {
		return err
	}
	if *scope == "" {
		*scope = "/subscriptions/" + cn.env["AZURE_SUBSCRIPTION_ID"]
	}
	defs, err := armauthorization.NewRoleDefinitionsClient(cn.cred, cn.env.ARMOptions(cn.http))
	if err != nil {
		return err
	}
	switch c.op {
	case "create", "update":
		if err := required(fs, "role-definition"); err != nil {
			return err
		}
		in, err := readRoleDefinition(*def)
		if err != nil {
			return err
		}
		if len(in.assignableScopes) == 0 {
			return errors.New("please provide 'AssignableScopes'")
		}
		id := in.id
		switch {
		case c.op == "create":
			id = identity.NewGUID()
		case id == "":
			found, err := findRoleDefinitions(ctx, defs, in.assignableScopes[0], in.roleName)
			if err != nil {
				return err
			}
			if len(found) != 1 {
				return fmt.Errorf("%d role definitions are named %q at %s; give the role's Id", len(found), in.roleName, in.assignableScopes[0])
			}
			id = *found[0].Name
		}
		res, err := defs.CreateOrUpdate(ctx, in.assignableScopes[0], id, in.sdk(), nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.RoleDefinition)
	case "list":
		var all []*armauthorization.RoleDefinition
		if *name != "" {
			all, err = findRoleDefinitions(ctx, defs, *scope, *name)
		} else {
			all, err = collect(ctx, defs.NewListPager(*scope, nil), func(p armauthorization.RoleDefinitionsClientListResponse) []*armauthorization.RoleDefinition {
				return p.Value
			})
		}
		if err != nil {
			return err
		}
		out := []*armauthorization.RoleDefinition{}
		for _, d := range all {
			if !*customOnly || d.Properties != nil && d.Properties.RoleType != nil && *d.Properties.RoleType == rbac.TypeCustom {
				out = append(out, d)
			}
		}
		return printJSON(c.out, out)
	case "delete":
		if err := required(fs, "name"); err != nil {
			return err
		}
		found, err := findRoleDefinitions(ctx, defs, *scope, *name)
		if err != nil {
			return err
		}
		if len(found) == 0 {
			return fmt.Errorf("role definition %q does not exist at %s", *name, *scope)
		}
		var deleted []*armauthorization.RoleDefinition
		for _, d := range found {
			res, err := defs.Delete(ctx, *scope, *d.Name, nil)
			if err != nil {
				return err
			}
			deleted = append(deleted, &res.RoleDefinition)
		}
		return printJSON(c.out, deleted)
	}
	return errUsage
}

// findRoleDefinitions returns the role definitions visible at scope with
// the id or the role name nameOrID.
func findRoleDefinitions(ctx context.Context, defs *armauthorization.RoleDefinitionsClient, scope, nameOrID string) ([]*armauthorization.RoleDefinition, error) {
	if identity.IsGUID(nameOrID) {
		res, err := defs.Get(ctx, scope, nameOrID, nil)
		var re *azcore.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return []*armauthorization.RoleDefinition{&res.RoleDefinition}, nil
	}
	filter := "roleName eq '" + strings.ReplaceAll(nameOrID, "'", "''") + "'"
	return collect(ctx, defs.NewListPager(scope, &armauthorization.RoleDefinitionsClientListOptions{Filter: &filter}),
		func(p armauthorization.RoleDefinitionsClientListResponse) []*armauthorization.RoleDefinition {
			return p.Value
		})
}

// customRoleID returns the id of the role named role at scope, for 'role
// assignment create --role' with a custom role's name.
func customRoleID(ctx context.Context, cn conn, scope, role string) (string, error) {
	defs, err := armauthorization.NewRoleDefinitionsClient(cn.cred, cn.env.ARMOptions(cn.http))
	if err != nil {
		return "", err
	}
	found, err := findRoleDefinitions(ctx, defs, scope, role)
	if err != nil {
		return "", err
	}
	if len(found) != 1 {
		return "", fmt.Errorf("unknown role %q at %s", role, scope)
	}
	return *found[0].Name, nil
}

// roleInput is a role definition as az reads it.
type roleInput struct {
	id, roleName, description string
	permissions               []permissionInput
	assignableScopes          []string
}

type permissionInput struct {
	Actions, NotActions, DataActions, NotDataActions []string
}

func (in roleInput) sdk() armauthorization.RoleDefinition {
	perms := make([]*armauthorization.Permission, len(in.permissions))
	for i, p := range in.permissions {
		perms[i] = &armauthorization.Permission{
			Actions: to.SliceOfPtrs(p.Actions...), NotActions: to.SliceOfPtrs(p.NotActions...),
			DataActions: to.SliceOfPtrs(p.DataActions...), NotDataActions: to.SliceOfPtrs(p.NotDataActions...),
		}
	}
	return armauthorization.RoleDefinition{Properties: &armauthorization.RoleDefinitionProperties{
		RoleName: to.Ptr(in.roleName), Description: to.Ptr(in.description), RoleType: to.Ptr(rbac.TypeCustom),
		Permissions: perms, AssignableScopes: to.SliceOfPtrs(in.assignableScopes...),
	}}
}

// readRoleDefinition reads --role-definition: a file name (or @file) or
// JSON.
func readRoleDefinition(arg string) (roleInput, error) {
	b := []byte(arg)
	if p := strings.TrimPrefix(arg, "@"); !strings.HasPrefix(strings.TrimSpace(arg), "{") {
		var err error
		if b, err = os.ReadFile(p); err != nil {
			return roleInput{}, fmt.Errorf("--role-definition is neither JSON nor a readable file: %w", err)
		}
	}
	return parseRoleDefinition(b)
}

// parseRoleDefinition reads a role definition in the forms az accepts:
// az's own (Name, Description, Actions, NotActions, DataActions,
// NotDataActions, AssignableScopes, and Id for an update), property names
// in any case, and what 'role definition list' prints (ARM's form, with
// roleName and permissions under properties and the id as name).
func parseRoleDefinition(b []byte) (roleInput, error) {
	top, err := foldedObject(b)
	if err != nil {
		return roleInput{}, fmt.Errorf("the role definition is not a JSON object: %w", err)
	}
	fields := top
	var in roleInput
	if props, ok := top["properties"]; ok {
		if fields, err = foldedObject(props); err != nil {
			return roleInput{}, fmt.Errorf("properties: %w", err)
		}
		fields["name"] = top["name"] // ARM's name is the id
		fields["id"] = top["id"]
	}
	get := func(key string, v any) error {
		raw, ok := fields[key]
		if !ok || raw == nil || string(raw) == "null" {
			return nil
		}
		if err := json.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		return nil
	}
	var name, roleName, id string
	var perm permissionInput
	var perms []map[string]json.RawMessage
	var rawPerms []json.RawMessage
	err = errors.Join(get("name", &name), get("rolename", &roleName), get("id", &id), get("description", &in.description),
		get("actions", &perm.Actions), get("notactions", &perm.NotActions), get("dataactions", &perm.DataActions),
		get("notdataactions", &perm.NotDataActions), get("assignablescopes", &in.assignableScopes), get("permissions", &rawPerms))
	if err != nil {
		return roleInput{}, err
	}
	for _, raw := range rawPerms {
		m, err := foldedObject(raw)
		if err != nil {
			return roleInput{}, fmt.Errorf("permissions: %w", err)
		}
		perms = append(perms, m)
	}
	// az's Name is the role's name; in ARM's form (or next to a roleName)
	// a GUID name is the id.
	switch {
	case roleName != "":
		in.roleName = roleName
		if identity.IsGUID(name) && id == "" {
			id = name
		}
	default:
		in.roleName = name
	}
	if in.roleName == "" {
		return roleInput{}, errors.New("please provide role name (Name)")
	}
	in.id = id[strings.LastIndex(id, "/")+1:]
	if len(perms) == 0 {
		in.permissions = []permissionInput{perm}
	}
	for _, m := range perms {
		var p permissionInput
		for key, dst := range map[string]*[]string{"actions": &p.Actions, "notactions": &p.NotActions, "dataactions": &p.DataActions, "notdataactions": &p.NotDataActions} {
			if raw, ok := m[key]; ok && string(raw) != "null" {
				if err := json.Unmarshal(raw, dst); err != nil {
					return roleInput{}, fmt.Errorf("permissions.%s: %w", key, err)
				}
			}
		}
		in.permissions = append(in.permissions, p)
	}
	return in, nil
}

// foldedObject decodes a JSON object with its keys in lower case.
func foldedObject(b []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("null")
	}
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out, nil
}
