package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"

	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/rbac"
)

// roleCommand mirrors 'az role assignment' (Azure RBAC, through ARM) and,
// with hsm set, 'az keyvault role assignment --hsm-name' (a Managed HSM's
// local RBAC, through its data plane).
type roleCommand struct {
	op  string
	hsm bool
	out io.Writer
}

func (c roleCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("role assignment "+c.op, flag.ContinueOnError)
	data := dataFlag(fs)
	assignee := fs.String("assignee", "", "object id of the principal")
	role := fs.String("role", "", "role name (\"Key Vault Crypto User\") or id")
	scope := fs.String("scope", "", "scope: an ARM resource id, or for --hsm-name \"/\", \"/keys\" or \"/keys/{name}\"")
	name := fs.String("name", "", "assignment name (a GUID); created if empty")
	hsmName := fs.String("hsm-name", "", "managed HSM name (keyvault role assignment only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cn, err := connect(*data)
	if err != nil {
		return err
	}
	if c.hsm {
		if err := required(fs, "hsm-name"); err != nil {
			return err
		}
		return c.local(ctx, cn, *hsmName, *assignee, *role, cmpOr(*scope, "/"), *name)
	}
	sub := cn.env["AZURE_SUBSCRIPTION_ID"]
	if *scope == "" {
		*scope = "/subscriptions/" + sub
	}
	opts := cn.env.ARMOptions(cn.http)
	assignments, err := armauthorization.NewRoleAssignmentsClient(sub, cn.cred, opts)
	if err != nil {
		return err
	}
	switch c.op {
	case "create":
		if err := required(fs, "assignee", "role"); err != nil {
			return err
		}
		roleID, err := resolveRole("", *role)
		if err != nil {
			roleID, err = customRoleID(ctx, cn, *scope, *role)
		}
		if err != nil {
			return err
		}
		res, err := assignments.Create(ctx, *scope, cmpOr(*name, identity.NewGUID()), armauthorization.RoleAssignmentCreateParameters{
			Properties: &armauthorization.RoleAssignmentProperties{
				RoleDefinitionID: to.Ptr("/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + roleID),
				PrincipalID:      to.Ptr(*assignee),
			}}, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.RoleAssignment)
	case "list":
		var filter *string
		if *assignee != "" {
			filter = to.Ptr("principalId eq '" + *assignee + "'")
		}
		all, err := collect(ctx, assignments.NewListForScopePager(*scope, &armauthorization.RoleAssignmentsClientListForScopeOptions{Filter: filter}),
			func(p armauthorization.RoleAssignmentsClientListForScopeResponse) []*armauthorization.RoleAssignment {
				return p.Value
			})
		if err != nil {
			return err
		}
		return printJSON(c.out, all)
	case "delete":
		if err := required(fs, "name"); err != nil {
			return err
		}
		res, err := assignments.Delete(ctx, *scope, *name, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.RoleAssignment)
	}
	return errUsage
}

// resolveRole turns the name of a built-in role of realm into its id; ids
// pass through.
func resolveRole(realm, role string) (string, error) {
	if identity.IsGUID(role) {
		return role, nil
	}
	for _, d := range rbac.BuiltIns(realm) {
		if strings.EqualFold(d.RoleName, role) {
			return d.ID, nil
		}
	}
	return "", fmt.Errorf("unknown role %q", role)
}

// local manages a Managed HSM's local role assignments with the requests
// the azadmin rbac client sends.
func (c roleCommand) local(ctx context.Context, cn conn, hsmName, assignee, role, scope, name string) error {
	url := cn.env.HSMURL(hsmName)
	tok, err := cn.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{cn.env.HSMResource() + "/.default"}})
	if err != nil {
		return err
	}
	base := url + "/" + strings.Trim(scope, "/") + "/providers/Microsoft.Authorization/roleAssignments"
	var method, body string
	switch c.op {
	case "create":
		if assignee == "" || role == "" {
			return fmt.Errorf("--assignee and --role are required")
		}
		roleID, err := resolveRole(rbac.HSMRealm(""), role)
		if err != nil {
			return err
		}
		method, base = http.MethodPut, base+"/"+cmpOr(name, identity.NewGUID())
		body = fmt.Sprintf(`{"properties":{"roleDefinitionId":"Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/%s","principalId":%q}}`, roleID, assignee)
	case "list":
		method = http.MethodGet
		if assignee != "" {
			base += "?$filter=" + strings.ReplaceAll("principalId eq '"+assignee+"'", " ", "%20")
		}
	case "delete":
		if name == "" {
			return fmt.Errorf("--name is required")
		}
		method, base = http.MethodDelete, base+"/"+name
	default:
		return errUsage
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	req, err := http.NewRequestWithContext(ctx, method, base+sep+"api-version=7.5", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := cn.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	return printJSON(c.out, v)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
