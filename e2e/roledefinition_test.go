package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/tresorkms/tresor/cli"
	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/rbac"
)

// customRole is a custom role definition for the armauthorization client.
func customRole(name string, scopes []string, actions, dataActions []string) armauthorization.RoleDefinition {
	return armauthorization.RoleDefinition{Properties: &armauthorization.RoleDefinitionProperties{
		RoleName: to.Ptr(name), Description: to.Ptr("e2e"), RoleType: to.Ptr("CustomRole"),
		Permissions:      []*armauthorization.Permission{{Actions: to.SliceOfPtrs(actions...), DataActions: to.SliceOfPtrs(dataActions...)}},
		AssignableScopes: to.SliceOfPtrs(scopes...),
	}}
}

// TestRoleDefinitionCustomRole drives custom Azure roles with the
// unmodified armauthorization client: a role that may only read keys and
// wrap and unwrap with them, assigned at a vault, lets its principal wrap
// but not sign; an update takes wrap away at once; the role cannot be
// deleted while assigned. A second role's control-plane action authorizes
// ARM requests.
func TestRoleDefinitionCustomRole(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	sub := e.env["AZURE_SUBSCRIPTION_ID"]
	subScope := "/subscriptions/" + sub
	group := subScope + "/resourceGroups/rg-e2e"
	vaultID := group + "/providers/Microsoft.KeyVault/vaults/kv-custom"
	opts := e.env.ARMOptions(e.http)
	defs, err := armauthorization.NewRoleDefinitionsClient(e.cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	assignments, err := armauthorization.NewRoleAssignmentsClient(sub, e.cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	assign := func(scope, roleID, principal string) (string, error) {
		name := identity.NewGUID()
		_, err := assignments.Create(ctx, scope, name, armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
			RoleDefinitionID: to.Ptr(subScope + "/providers/Microsoft.Authorization/roleDefinitions/" + roleID),
			PrincipalID:      to.Ptr(principal),
		}}, nil)
		return name, err
	}
	admin := e.vault(t, "kv-custom", false, func(p *armkeyvault.VaultProperties) {
		p.EnableRbacAuthorization, p.AccessPolicies = to.Ptr(true), nil
	})
	if _, err := assign(vaultID, rbac.KeyVaultCryptoOfficer, e.env["TRESOR_ADMIN_OBJECT_ID"]); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateKey(ctx, "k1", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA)}, nil); err != nil {
		t.Fatal(err)
	}

	const (
		keysRead   = "Microsoft.KeyVault/vaults/keys/read"
		keysWrap   = "Microsoft.KeyVault/vaults/keys/wrap/action"
		keysUnwrap = "Microsoft.KeyVault/vaults/keys/unwrap/action"
	)
	wrapperID := identity.NewGUID()
	created, err := defs.CreateOrUpdate(ctx, group, wrapperID, customRole("Key Wrapper (e2e)", []string{group}, nil, []string{keysRead, keysWrap, keysUnwrap}), nil)
	if err != nil {
		t.Fatalf("create custom role: %v", err)
	}
	if *created.Name != wrapperID || *created.Properties.RoleType != rbac.TypeCustom || len(created.Properties.Permissions[0].DataActions) != 3 {
		t.Errorf("created role = %+v", created.RoleDefinition)
	}
	if got, err := defs.Get(ctx, vaultID, wrapperID, nil); err != nil || *got.Properties.RoleName != "Key Wrapper (e2e)" {
		t.Errorf("get the role at the vault, where it is assignable = %v, %v", got, err)
	}
	var listed []string
	for p := defs.NewListPager(subScope, &armauthorization.RoleDefinitionsClientListOptions{Filter: to.Ptr("type eq 'CustomRole'")}); p.More(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page.Value {
			listed = append(listed, *d.Properties.RoleName)
		}
	}
	if strings.Join(listed, ",") != "Key Wrapper (e2e)" {
		t.Errorf("custom roles of the subscription = %q, want the new role only", listed)
	}
	_, err = defs.CreateOrUpdate(ctx, group, identity.NewGUID(), customRole("key wrapper (E2E)", []string{group}, nil, []string{keysRead}), nil)
	if statusOf(err) != http.StatusConflict || codeOf(err) != rbac.ReasonRoleDefinitionWithSameNameExists {
		t.Errorf("create a role with a taken name = %v; want 409 %s", err, rbac.ReasonRoleDefinitionWithSameNameExists)
	}
	_, err = defs.CreateOrUpdate(ctx, subScope, rbac.KeyVaultCryptoUser, customRole("Mine", []string{subScope}, nil, []string{keysRead}), nil)
	if statusOf(err) != http.StatusConflict || codeOf(err) != rbac.ReasonRoleDefinitionExists {
		t.Errorf("overwrite a built-in role = %v; want 409 %s", err, rbac.ReasonRoleDefinitionExists)
	}
	if _, err := defs.Delete(ctx, subScope, rbac.KeyVaultCryptoUser, nil); statusOf(err) != http.StatusBadRequest {
		t.Errorf("delete a built-in role = %v; want 400", err)
	}

	app := e.newPrincipal(t, "app-custom-role")
	if _, err := assign(subScope, wrapperID, app.objectID); statusOf(err) != http.StatusBadRequest {
		t.Errorf("assign the role at the subscription, above its assignable scope = %v; want 400", err)
	}
	assignment, err := assign(vaultID, wrapperID, app.objectID)
	if err != nil {
		t.Fatalf("assign the custom role at the vault: %v", err)
	}
	keys := e.keysClient(t, e.env.VaultURL("kv-custom"), app.cred)
	wrap := func() ([]byte, error) {
		res, err := keys.WrapKey(ctx, "k1", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: make([]byte, 32)}, nil)
		return res.Result, err
	}
	wrapped, err := wrap()
	if err != nil {
		t.Fatalf("wrap with the custom role = %v", err)
	}
	_, err = keys.Sign(ctx, "k1", "", azkeys.SignParameters{Algorithm: to.Ptr(azkeys.SignatureAlgorithmRS256), Value: make([]byte, 32)}, nil)
	if statusOf(err) != http.StatusForbidden || innerCode(err) != "ForbiddenByRbac" {
		t.Errorf("sign with a role that lacks sign = %v; want 403 ForbiddenByRbac", err)
	}
	// The principal may not change the roles it holds.
	appDefs, _ := armauthorization.NewRoleDefinitionsClient(app.cred, opts)
	_, err = appDefs.CreateOrUpdate(ctx, group, wrapperID, customRole("Key Wrapper (e2e)", []string{group}, nil, []string{"Microsoft.KeyVault/vaults/keys/*"}), nil)
	if statusOf(err) != http.StatusForbidden || codeOf(err) != "AuthorizationFailed" {
		t.Errorf("update the role by its assignee = %v; want 403 AuthorizationFailed", err)
	}

	// An update takes effect on the next request.
	if _, err := defs.CreateOrUpdate(ctx, group, wrapperID, customRole("Key Wrapper (e2e)", []string{group}, nil, []string{keysRead, keysUnwrap}), nil); err != nil {
		t.Fatalf("update the custom role: %v", err)
	}
	if _, err := wrap(); statusOf(err) != http.StatusForbidden || innerCode(err) != "ForbiddenByRbac" {
		t.Errorf("wrap after the role lost wrap = %v; want 403 ForbiddenByRbac", err)
	}
	if _, err := keys.UnwrapKey(ctx, "k1", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: wrapped}, nil); err != nil {
		t.Errorf("unwrap, which the role kept = %v", err)
	}

	// A custom role's actions authorize ARM requests.
	readerID := identity.NewGUID()
	if _, err := defs.CreateOrUpdate(ctx, subScope, readerID, customRole("Vault Reader (e2e)", []string{vaultID}, []string{"Microsoft.KeyVault/vaults/read"}, nil), nil); err != nil {
		t.Fatal(err)
	}
	vaults, _ := armkeyvault.NewVaultsClient(sub, app.cred, opts)
	if _, err := vaults.Get(ctx, "rg-e2e", "kv-custom", nil); statusOf(err) != http.StatusForbidden {
		t.Errorf("get the vault without a control-plane role = %v; want 403", err)
	}
	if _, err := assign(vaultID, readerID, app.objectID); err != nil {
		t.Fatal(err)
	}
	if _, err := vaults.Get(ctx, "rg-e2e", "kv-custom", nil); err != nil {
		t.Errorf("get the vault with the custom reader role = %v", err)
	}
	groups, _ := armresources.NewResourceGroupsClient(sub, app.cred, opts)
	if _, err := groups.Get(ctx, "rg-e2e", nil); statusOf(err) != http.StatusForbidden {
		t.Errorf("get the group with a role for the vault = %v; want 403", err)
	}

	// Deleting: refused while assigned, then done, then a no-op.
	_, err = defs.Delete(ctx, group, wrapperID, nil)
	if statusOf(err) != http.StatusConflict || codeOf(err) != rbac.ReasonRoleDefinitionHasAssignments {
		t.Errorf("delete the role while assigned = %v; want 409 %s", err, rbac.ReasonRoleDefinitionHasAssignments)
	}
	if _, err := assignments.Delete(ctx, vaultID, assignment, nil); err != nil {
		t.Fatal(err)
	}
	deleted, err := defs.Delete(ctx, group, wrapperID, nil)
	if err != nil || deleted.Name == nil || *deleted.Name != wrapperID {
		t.Fatalf("delete the unassigned role = %+v, %v", deleted.RoleDefinition, err)
	}
	if _, err := defs.Get(ctx, group, wrapperID, nil); statusOf(err) != http.StatusNotFound {
		t.Errorf("get the deleted role = %v; want 404", err)
	}
	if _, err := defs.Delete(ctx, group, wrapperID, nil); err != nil {
		t.Errorf("delete the role again = %v; want 204", err)
	}
}

// TestRoleDefinitionCLI runs 'tresor role definition' as az would be run.
func TestRoleDefinitionCLI(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	run := func(args ...string) ([]byte, error) {
		var out, errb bytes.Buffer
		if code := cli.Run(ctx, append(args, "--data", e.dir), &out, &errb); code != 0 {
			return out.Bytes(), &cliError{args: args, stderr: errb.String()}
		}
		return out.Bytes(), nil
	}
	must := func(args ...string) []byte {
		t.Helper()
		out, err := run(args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	sub := "/subscriptions/" + e.env["AZURE_SUBSCRIPTION_ID"]
	file := filepath.Join(t.TempDir(), "role.json")
	role := `{"Name":"CLI Wrapper","IsCustom":true,"Description":"Wraps keys.","Actions":[],"NotActions":[],
		"DataActions":["Microsoft.KeyVault/vaults/keys/wrap/action"],"NotDataActions":[],"AssignableScopes":["` + sub + `"]}`
	if err := os.WriteFile(file, []byte(role), 0o600); err != nil {
		t.Fatal(err)
	}
	var created struct{ Name string }
	if err := json.Unmarshal(must("role", "definition", "create", "--role-definition", file), &created); err != nil || !identity.IsGUID(created.Name) {
		t.Fatalf("role definition create printed name %q, %v", created.Name, err)
	}
	if out := must("role", "definition", "list", "--custom-role-only"); !bytes.Contains(out, []byte("CLI Wrapper")) || bytes.Contains(out, []byte(`"Owner"`)) {
		t.Errorf("role definition list --custom-role-only = %s", out)
	}
	if out := must("role", "definition", "list", "--name", "Owner"); !bytes.Contains(out, []byte(rbac.Owner)) {
		t.Errorf("role definition list --name Owner = %s", out)
	}
	must("role", "definition", "update", "--role-definition", strings.Replace(role, "Wraps keys.", "Wraps keys, updated.", 1))
	if out := must("role", "definition", "list", "--name", "CLI Wrapper"); !bytes.Contains(out, []byte("updated")) {
		t.Errorf("role definition list after update = %s", out)
	}

	app := e.newPrincipal(t, "app-cli-role")
	var a struct{ Name string }
	json.Unmarshal(must("role", "assignment", "create", "--role", "CLI Wrapper", "--assignee", app.objectID, "--scope", sub), &a) //nolint:errcheck // checked below
	if _, err := run("role", "definition", "delete", "--name", "CLI Wrapper"); err == nil || !strings.Contains(err.Error(), rbac.ReasonRoleDefinitionHasAssignments) {
		t.Errorf("role definition delete while assigned = %v; want %s", err, rbac.ReasonRoleDefinitionHasAssignments)
	}
	must("role", "assignment", "delete", "--name", a.Name, "--scope", sub)
	must("role", "definition", "delete", "--name", "CLI Wrapper")
	if out := must("role", "definition", "list", "--custom-role-only"); strings.TrimSpace(string(out)) != "[]" {
		t.Errorf("custom roles after delete = %s", out)
	}
	if _, err := run("role", "definition", "create", "--role-definition", `{"Name":"No Scopes","Actions":["*/read"]}`); err == nil {
		t.Error("role definition create without AssignableScopes succeeded")
	}
}

type cliError struct {
	args   []string
	stderr string
}

func (e *cliError) Error() string { return "tresor " + strings.Join(e.args, " ") + ": " + e.stderr }
