package rbac_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/rbac"
	"github.com/tresorkms/tresor/rbac/rbactest"
)

const (
	sub       = "/subscriptions/00000000-0000-4000-8000-0000000000aa"
	vaultID   = sub + "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"
	customID  = "30000000-0000-4000-8000-000000000001"
	keysWrap  = "Microsoft.KeyVault/vaults/keys/wrap/action"
	keysSign  = "Microsoft.KeyVault/vaults/keys/sign/action"
	keysRead  = "Microsoft.KeyVault/vaults/keys/read"
	vaultRead = "Microsoft.KeyVault/vaults/read"
)

// wrapper returns a valid custom Azure role that may read keys and wrap
// with them.
func wrapper() rbac.RoleDefinition {
	return rbac.RoleDefinition{
		ID: customID, RoleName: "Key Wrapper", Description: "Wraps keys.", Type: rbac.TypeCustom,
		Permissions:      []rbac.Permission{{DataActions: []string{keysRead, keysWrap}}},
		AssignableScopes: []string{sub},
	}
}

// wantErr fails unless err has kind and, if reason is set, that reason.
func wantErr(t *testing.T, what string, err error, kind tresor.Kind, reason string) {
	t.Helper()
	var te *tresor.Error
	if !errors.As(err, &te) || te.Kind != kind || reason != "" && te.Reason != reason {
		t.Errorf("%s = %v; want %v %s", what, err, kind, reason)
	}
}

func TestPutRoleDefinitionAzureRules(t *testing.T) {
	with := func(change func(d *rbac.RoleDefinition)) rbac.RoleDefinition {
		d := wrapper()
		change(&d)
		return d
	}
	tests := []struct {
		name   string
		d      rbac.RoleDefinition
		kind   tresor.Kind
		reason string
	}{
		{"id not a GUID", with(func(d *rbac.RoleDefinition) { d.ID = "wrapper" }), tresor.Invalid, ""},
		{"type BuiltInRole", with(func(d *rbac.RoleDefinition) { d.Type = rbac.TypeBuiltIn }), tresor.Invalid, rbac.ReasonInvalidRoleDefinitionType},
		{"no name", with(func(d *rbac.RoleDefinition) { d.RoleName = "  " }), tresor.Invalid, rbac.ReasonRoleDefinitionNameNullOrEmpty},
		{"name too long", with(func(d *rbac.RoleDefinition) { d.RoleName = strings.Repeat("n", 513) }), tresor.Invalid, ""},
		{"name with a control character", with(func(d *rbac.RoleDefinition) { d.RoleName = "a\x00b" }), tresor.Invalid, ""},
		{"description too long", with(func(d *rbac.RoleDefinition) { d.Description = strings.Repeat("d", 2049) }), tresor.Invalid, ""},
		{"no permissions", with(func(d *rbac.RoleDefinition) { d.Permissions = nil }), tresor.Invalid, ""},
		{"empty action", with(func(d *rbac.RoleDefinition) { d.Permissions[0].Actions = []string{""} }), tresor.Invalid, ""},
		{"two wildcards", with(func(d *rbac.RoleDefinition) { d.Permissions[0].DataActions = []string{"Microsoft.KeyVault/*/keys/*"} }), tresor.Invalid, ""},
		{"action without a namespace", with(func(d *rbac.RoleDefinition) { d.Permissions[0].NotActions = []string{"read"} }), tresor.Invalid, ""},
		{"action with an empty segment", with(func(d *rbac.RoleDefinition) { d.Permissions[0].NotDataActions = []string{"Microsoft.KeyVault//read"} }), tresor.Invalid, ""},
		{"action with a space", with(func(d *rbac.RoleDefinition) { d.Permissions[0].Actions = []string{"Microsoft.KeyVault/vaults/ read"} }), tresor.Invalid, ""},
		{"no assignable scopes", with(func(d *rbac.RoleDefinition) { d.AssignableScopes = nil }), tresor.Invalid, rbac.ReasonMissingAssignableScopes},
		{"root scope", with(func(d *rbac.RoleDefinition) { d.AssignableScopes = []string{sub, "/"} }), tresor.Invalid, rbac.ReasonInvalidAssignableScope},
		{"wildcard scope", with(func(d *rbac.RoleDefinition) { d.AssignableScopes = []string{"/subscriptions/*"} }), tresor.Invalid, rbac.ReasonInvalidAssignableScope},
		{"management group scope", with(func(d *rbac.RoleDefinition) {
			d.AssignableScopes = []string{"/providers/Microsoft.Management/managementGroups/mg"}
		}), tresor.Invalid, rbac.ReasonInvalidAssignableScope},
		{"relative scope", with(func(d *rbac.RoleDefinition) { d.AssignableScopes = []string{"subscriptions/x"} }), tresor.Invalid, rbac.ReasonInvalidAssignableScope},
		{"scope without a subscription", with(func(d *rbac.RoleDefinition) { d.AssignableScopes = []string{"/subscriptions/"} }), tresor.Invalid, rbac.ReasonInvalidAssignableScope},
		{"built-in role's id", with(func(d *rbac.RoleDefinition) { d.ID = rbac.KeyVaultCryptoUser }), tresor.Conflict, rbac.ReasonRoleDefinitionExists},
		{"built-in role's name", with(func(d *rbac.RoleDefinition) { d.RoleName = "key vault crypto user" }), tresor.Conflict, rbac.ReasonRoleDefinitionWithSameNameExists},
		{"another custom role's name", with(func(d *rbac.RoleDefinition) { d.ID, d.RoleName = "30000000-0000-4000-8000-000000000002", "OTHER ROLE" }), tresor.Conflict, rbac.ReasonRoleDefinitionWithSameNameExists},
	}
	ctx := context.Background()
	s := &rbac.Service{Store: rbactest.NewMemStore()}
	other := wrapper()
	other.ID, other.RoleName = "30000000-0000-4000-8000-0000000000ff", "Other Role"
	if _, _, err := s.PutRoleDefinition(ctx, "", other, nil); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		_, _, err := s.PutRoleDefinition(ctx, "", tt.d, nil)
		wantErr(t, "PutRoleDefinition("+tt.name+")", err, tt.kind, tt.reason)
	}
	if ds, _ := s.ListRoleDefinitions(ctx, ""); len(ds) != len(rbac.BuiltIns(""))+1 {
		t.Errorf("after refused puts: %d role definitions, want the built-ins and one custom role", len(ds))
	}

	// A valid role comes back canonical: typed, trimmed, without
	// duplicate scopes; putting it again updates it.
	d := with(func(d *rbac.RoleDefinition) {
		d.ID, d.Type, d.RoleName = strings.ToUpper(d.ID), "", " Key Wrapper "
		d.AssignableScopes = []string{sub + "/", strings.ToUpper(sub), vaultID}
	})
	got, created, err := s.PutRoleDefinition(ctx, "", d, nil)
	want := with(func(d *rbac.RoleDefinition) { d.AssignableScopes = []string{sub, vaultID} })
	if err != nil || !created || !cmp.Equal(got, want) {
		t.Errorf("PutRoleDefinition = %+v, %v, %v; want %+v, created", got, created, err, want)
	}
	if _, created, err := s.PutRoleDefinition(ctx, "", with(func(d *rbac.RoleDefinition) { d.Description = "new" }), nil); err != nil || created {
		t.Errorf("PutRoleDefinition(update) = created %v, %v; want updated", created, err)
	}
}

func TestRoleDefinitionGuard(t *testing.T) {
	ctx := context.Background()
	s := &rbac.Service{Store: rbactest.NewMemStore()}
	denied := tresor.Errorf(tresor.Forbidden, "no")
	var calls []string
	guard := func(old, new rbac.RoleDefinition) error {
		calls = append(calls, old.RoleName+"->"+new.RoleName)
		if new.Description == "deny" {
			return denied
		}
		return nil
	}
	d := wrapper()
	if _, _, err := s.PutRoleDefinition(ctx, "", d, guard); err != nil {
		t.Fatal(err)
	}
	d.RoleName, d.Description = "Renamed", "deny"
	if _, _, err := s.PutRoleDefinition(ctx, "", d, guard); err != denied {
		t.Errorf("PutRoleDefinition with a refusing guard = %v, want its error", err)
	}
	if got, _ := s.GetRoleDefinition(ctx, "", d.ID); got.RoleName != "Key Wrapper" {
		t.Errorf("role after a refused update = %+v, want it unchanged", got)
	}
	if _, err := s.DeleteRoleDefinition(ctx, "", d.ID, func(old, new rbac.RoleDefinition) error { return denied }); err != denied {
		t.Errorf("DeleteRoleDefinition with a refusing guard = %v, want its error", err)
	}
	if _, err := s.DeleteRoleDefinition(ctx, "", d.ID, guard); err != nil {
		t.Fatal(err)
	}
	if want := []string{"->Key Wrapper", "Key Wrapper->Renamed", "Key Wrapper->"}; !cmp.Equal(calls, want) {
		t.Errorf("guard calls (old->new) = %q, want %q", calls, want)
	}
}

func TestCustomAzureRoleLifecycle(t *testing.T) {
	ctx := context.Background()
	s := &rbac.Service{Store: rbactest.NewMemStore()}
	d := wrapper()
	d.AssignableScopes = []string{vaultID}
	d.Permissions[0].Actions = []string{vaultRead}
	if _, _, err := s.PutRoleDefinition(ctx, "", d, nil); err != nil {
		t.Fatal(err)
	}
	assignment := rbac.Assignment{Name: guid(1), PrincipalID: alice, RoleID: strings.ToUpper(customID), Scope: vaultID + "/keys/k1"}
	outside := assignment
	outside.Name, outside.Scope = guid(2), sub+"/resourceGroups/rg"
	_, _, err := s.CreateRoleAssignment(ctx, outside)
	wantErr(t, "CreateRoleAssignment(above the assignable scope)", err, tresor.Invalid, rbac.ReasonRoleDefinitionNotFound)
	if _, _, err := s.CreateRoleAssignment(ctx, assignment); err != nil {
		t.Fatalf("CreateRoleAssignment(below the assignable scope) = %v", err)
	}

	decide := func(scope, action string, data bool) bool {
		t.Helper()
		ok, err := s.Decide(ctx, "", alice, scope, action, data)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	key := vaultID + "/keys/k1"
	if !decide(key, keysWrap, true) || decide(key, keysSign, true) || decide(vaultID+"/keys/k2", keysWrap, true) {
		t.Error("custom role: want wrap allowed at its key and nothing else")
	}
	if decide(key, keysWrap, false) {
		t.Error("a data action granted a control-plane action")
	}

	// An update takes effect at once; one that would strand the
	// assignment is refused.
	d.Permissions[0].DataActions = []string{keysRead}
	if _, _, err := s.PutRoleDefinition(ctx, "", d, nil); err != nil {
		t.Fatal(err)
	}
	if decide(key, keysWrap, true) || !decide(key, keysRead, true) {
		t.Error("after removing wrap from the role: want wrap denied and read allowed")
	}
	moved := d
	moved.AssignableScopes = []string{sub + "/resourceGroups/other"}
	_, _, err = s.PutRoleDefinition(ctx, "", moved, nil)
	wantErr(t, "PutRoleDefinition(scopes no longer covering an assignment)", err, tresor.Conflict, rbac.ReasonRoleDefinitionHasAssignments)

	_, err = s.DeleteRoleDefinition(ctx, "", customID, nil)
	wantErr(t, "DeleteRoleDefinition(assigned)", err, tresor.Conflict, rbac.ReasonRoleDefinitionHasAssignments)
	_, err = s.DeleteRoleDefinition(ctx, "", rbac.Owner, nil)
	wantErr(t, "DeleteRoleDefinition(built-in)", err, tresor.Invalid, rbac.ReasonInvalidRoleDefinitionType)
	if _, err := s.DeleteRoleAssignment(ctx, "", guid(1)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.DeleteRoleDefinition(ctx, "", strings.ToUpper(customID), nil); err != nil || got.RoleName != d.RoleName {
		t.Errorf("DeleteRoleDefinition(unassigned) = %+v, %v", got, err)
	}
	_, err = s.DeleteRoleDefinition(ctx, "", customID, nil)
	wantErr(t, "DeleteRoleDefinition(again)", err, tresor.NotFound, rbac.ReasonRoleDefinitionNotFound)
}

func TestAssignableAt(t *testing.T) {
	d := rbac.RoleDefinition{AssignableScopes: []string{sub + "/resourceGroups/rg", vaultID}}
	tests := []struct {
		scope string
		want  bool
	}{
		{sub + "/resourceGroups/rg", true},
		{strings.ToUpper(vaultID) + "/keys/k", true},
		{sub, false},
		{sub + "/resourceGroups/rg2", false},
	}
	for _, tt := range tests {
		if got := d.AssignableAt(tt.scope); got != tt.want {
			t.Errorf("AssignableAt(%q) = %v, want %v", tt.scope, got, tt.want)
		}
	}
	if !rbac.BuiltIns("")[0].AssignableAt(vaultID) {
		t.Error("a built-in role is not assignable at a vault")
	}
}
