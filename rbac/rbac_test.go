package rbac_test

import (
	"context"
	"testing"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/keyvault"
	"github.com/tresorkms/tresor/rbac"
	"github.com/tresorkms/tresor/rbac/rbactest"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, action string
		want            bool
	}{
		{"Microsoft.KeyVault/vaults/keys/read", "microsoft.keyvault/vaults/keys/READ", true},
		{"Microsoft.KeyVault/vaults/keys/*", "Microsoft.KeyVault/vaults/keys/wrap/action", true},
		{"Microsoft.KeyVault/vaults/keys/*", "Microsoft.KeyVault/vaults/keyrotationpolicies/read", false},
		{"Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/keys/read", true},
		{"Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/keys/wrap/action", false},
		{"*/read", "Microsoft.Storage/storageAccounts/read", true},
		{"*", "anything/at/all", true},
		{"Microsoft.Authorization/*/Write", "Microsoft.Authorization/roleAssignments/write", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"keys/read", "keys/read/action", false},
	}
	for _, tt := range tests {
		if got := rbac.Match(tt.pattern, tt.action); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.action, got, tt.want)
		}
	}
}

func TestCovers(t *testing.T) {
	vault := "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"
	tests := []struct {
		scope, target string
		want          bool
	}{
		{"/", "/keys/k", true},
		{"/keys", "/keys/k", true},
		{"/keys/k", "/keys/k", true},
		{"/keys/k", "/keys/k2", false},
		{"/keys/k", "/keys", false},
		{"/subscriptions/s", vault + "/keys/k", true},
		{"/subscriptions/S/resourcegroups/RG", vault, true},
		{"/subscriptions/s/resourceGroups/r", vault, false},
		{vault, vault + "2", false},
	}
	for _, tt := range tests {
		if got := rbac.Covers(tt.scope, tt.target); got != tt.want {
			t.Errorf("Covers(%q, %q) = %v, want %v", tt.scope, tt.target, got, tt.want)
		}
	}
}

const (
	alice = "10000000-0000-4000-8000-00000000000a"
	bob   = "10000000-0000-4000-8000-00000000000b"
	wrap  = "Microsoft.KeyVault/managedHsm/keys/wrap/action"
)

func guid(i int) string { return "00000000-0000-4000-8000-00000000000" + string(rune('0'+i)) }

func TestDecideHSM(t *testing.T) {
	ctx := context.Background()
	s := &rbac.Service{Store: rbactest.NewMemStore()}
	realm := rbac.HSMRealm("hsm1")
	assign := func(i int, principal, role, scope string) {
		t.Helper()
		if _, _, err := s.CreateRoleAssignment(ctx, rbac.Assignment{Realm: realm, Name: guid(i), PrincipalID: principal, RoleID: role, Scope: scope}); err != nil {
			t.Fatalf("CreateRoleAssignment(%d) = %v", i, err)
		}
	}
	decide := func(principal, scope, action string) bool {
		t.Helper()
		ok, err := s.Decide(ctx, realm, principal, scope, action, true)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if decide(alice, "/keys/k1", wrap) {
		t.Fatal("allowed without any assignment")
	}
	assign(1, alice, rbac.HSMCryptoServiceEncryptionUser, "keys/k1") // normalised to /keys/k1
	assign(2, bob, rbac.HSMAdministrator, "/")
	tests := []struct {
		principal, scope, action string
		want                     bool
	}{
		{alice, "/keys/k1", wrap, true},
		{alice, "/keys/K1", wrap, true},
		{alice, "/keys/k2", wrap, false},                                             // another key's scope
		{alice, "/keys/k1", "Microsoft.KeyVault/managedHsm/keys/sign/action", false}, // role lacks the action
		{bob, "/keys/k1", wrap, false},                                               // Administrator has no key data actions
		{bob, "/", "Microsoft.KeyVault/managedHsm/roleAssignments/write/action", true},
	}
	for _, tt := range tests {
		if got := decide(tt.principal, tt.scope, tt.action); got != tt.want {
			t.Errorf("Decide(%s, %s, %s) = %v, want %v", tt.principal[len(tt.principal)-1:], tt.scope, tt.action, got, tt.want)
		}
	}
	// Deleting the assignment takes effect at once, despite the cache.
	if _, err := s.DeleteRoleAssignment(ctx, realm, guid(1)); err != nil {
		t.Fatal(err)
	}
	if decide(alice, "/keys/k1", wrap) {
		t.Error("still allowed after the assignment was deleted")
	}
	// A custom role grants exactly its data actions.
	custom := "30000000-0000-4000-8000-000000000001"
	if _, _, err := s.PutRoleDefinition(ctx, realm, rbac.RoleDefinition{ID: custom, Permissions: []rbac.Permission{{
		DataActions: []string{"Microsoft.KeyVault/managedHsm/keys/*"}, NotDataActions: []string{"Microsoft.KeyVault/managedHsm/keys/unwrap/action"},
	}}}, nil); err != nil {
		t.Fatal(err)
	}
	assign(3, alice, custom, "/keys")
	if !decide(alice, "/keys/k9", wrap) || decide(alice, "/keys/k9", "Microsoft.KeyVault/managedHsm/keys/unwrap/action") {
		t.Error("custom role: want wrap allowed and unwrap (a not-data-action) denied")
	}
	if _, err := s.DeleteRoleDefinition(ctx, realm, custom, nil); !tresor.IsKind(err, tresor.Conflict) {
		t.Errorf("DeleteRoleDefinition(assigned) = %v, want Conflict", err)
	}
	// Realms are separate: the same principal has nothing in another HSM.
	if ok, _ := s.Decide(ctx, rbac.HSMRealm("hsm2"), alice, "/keys/k9", wrap, true); ok {
		t.Error("assignment leaked into another HSM")
	}
}

func TestCreateRoleAssignmentRules(t *testing.T) {
	ctx := context.Background()
	s := &rbac.Service{Store: rbactest.NewMemStore()}
	realm := rbac.HSMRealm("h")
	base := rbac.Assignment{Realm: realm, Name: guid(1), PrincipalID: alice, RoleID: rbac.HSMCryptoUser, Scope: "/"}
	if _, created, err := s.CreateRoleAssignment(ctx, base); err != nil || !created {
		t.Fatalf("CreateRoleAssignment = %v, %v", created, err)
	}
	if _, created, err := s.CreateRoleAssignment(ctx, base); err != nil || created {
		t.Errorf("same assignment again = created %v, %v; want unchanged, nil", created, err)
	}
	with := func(change func(*rbac.Assignment)) rbac.Assignment { a := base; change(&a); return a }
	tests := []struct {
		name string
		a    rbac.Assignment
		want tresor.Kind
	}{
		{"name taken by another assignment", with(func(a *rbac.Assignment) { a.Scope = "/keys" }), tresor.Conflict},
		{"same grant under another name", with(func(a *rbac.Assignment) { a.Name = guid(2) }), tresor.Conflict},
		{"name not a GUID", with(func(a *rbac.Assignment) { a.Name = "x" }), tresor.Invalid},
		{"principal not a GUID", with(func(a *rbac.Assignment) { a.Name, a.PrincipalID = guid(3), "bob" }), tresor.Invalid},
		{"unknown role", with(func(a *rbac.Assignment) { a.Name, a.RoleID = guid(4), "40000000-0000-4000-8000-000000000000" }), tresor.Invalid},
		{"bad HSM scope", with(func(a *rbac.Assignment) { a.Name, a.Scope = guid(5), "/secrets/x" }), tresor.Invalid},
		{"Azure RBAC role in an HSM", with(func(a *rbac.Assignment) { a.Name, a.RoleID = guid(6), rbac.Owner }), tresor.Invalid},
	}
	for _, tt := range tests {
		if _, _, err := s.CreateRoleAssignment(ctx, tt.a); !tresor.IsKind(err, tt.want) {
			t.Errorf("%s: CreateRoleAssignment = %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, _, err := s.PutRoleDefinition(ctx, realm, rbac.RoleDefinition{ID: rbac.HSMCryptoUser}, nil); !tresor.IsKind(err, tresor.Invalid) {
		t.Errorf("PutRoleDefinition(built-in id) = %v, want Invalid", err)
	}
}

// BenchmarkDecide measures a cached decision on the unwrapKey path: a
// principal with Managed HSM Crypto User at "/" unwrapping with a key.
func BenchmarkDecide(b *testing.B) {
	ctx := context.Background()
	s := &rbac.Service{Store: rbactest.NewMemStore()}
	realm := rbac.HSMRealm("h")
	if _, _, err := s.CreateRoleAssignment(ctx, rbac.Assignment{Realm: realm, Name: guid(1), PrincipalID: alice, RoleID: rbac.HSMCryptoUser, Scope: "/"}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for range b.N {
		ok, err := s.Decide(ctx, realm, alice, "/keys/bench", "Microsoft.KeyVault/managedHsm/keys/unwrap/action", true)
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// TestHSMRealmAgrees checks that the key service and the RBAC API name a
// Managed HSM's realm alike: keyvault keeps its own copy to stay free of
// rbac.
func TestHSMRealmAgrees(t *testing.T) {
	if a, b := keyvault.HSMRealm("id"), rbac.HSMRealm("id"); a != b {
		t.Errorf("keyvault.HSMRealm = %q, rbac.HSMRealm = %q", a, b)
	}
}

// TestDecideStorageBlobData checks the Storage Blob Data roles' data
// actions at an account and a container scope, as the blob data plane
// will ask for them.
func TestDecideStorageBlobData(t *testing.T) {
	ctx := context.Background()
	s := &rbac.Service{Store: rbactest.NewMemStore()}
	const (
		account   = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/acct"
		container = account + "/blobServices/default/containers/c1"
		read      = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
		write     = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"
		del       = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete"
	)
	for i, a := range []struct{ principal, role, scope string }{
		{alice, rbac.StorageBlobDataReader, account},
		{bob, rbac.StorageBlobDataContributor, container},
	} {
		if _, _, err := s.CreateRoleAssignment(ctx, rbac.Assignment{Name: guid(i + 1), PrincipalID: a.principal, RoleID: a.role, Scope: a.scope}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		principal, scope, action string
		want                     bool
	}{
		{alice, container + "/blobs/b", read, true},
		{alice, container + "/blobs/b", write, false},
		{bob, container + "/blobs/b", write, true},
		{bob, container + "/blobs/b", del, true},
		{bob, account + "/blobServices/default/containers/c2/blobs/b", read, false}, // another container
	}
	for _, tt := range tests {
		ok, err := s.Decide(ctx, "", tt.principal, tt.scope, tt.action, true)
		if err != nil || ok != tt.want {
			t.Errorf("Decide(%s, %s, %s) = %v, %v; want %v", tt.principal[len(tt.principal)-1:], tt.scope, tt.action, ok, err, tt.want)
		}
	}
}
