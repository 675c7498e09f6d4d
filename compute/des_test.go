package compute_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/arm/msi"
	"github.com/tresorkms/tresor/cmk"
	"github.com/tresorkms/tresor/compute"
	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/seal"
	"github.com/tresorkms/tresor/sqlite"
)

// keys is a fake compute.KeyService: a key version is an XOR pad, so that
// wrapping needs the right version back, and every call is counted. Only
// principals in allowed may use keys, as the key service's access control
// decides; a key named "ec" is of the wrong type.
type keys struct {
	mu      sync.Mutex
	allowed map[string]bool // object ids
	calls   map[string]int
	// disabled key versions (ids) neither wrap nor unwrap.
	disabled map[string]bool
}

func (k *keys) use(op string, id cmk.Identity) error {
	if k.calls == nil {
		k.calls = map[string]int{}
	}
	k.calls[op]++
	if !k.allowed[id.Principal.ObjectID] {
		return tresor.Errorf(tresor.Invalid, "no access").WithReason(cmk.ReasonAccessDenied)
	}
	return nil
}

func (k *keys) Check(_ context.Context, id cmk.Identity, ref cmk.Ref) (cmk.Version, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.use("check", id); err != nil {
		return cmk.Version{}, err
	}
	if ref.Name == "ec" {
		return cmk.Version{}, tresor.Errorf(tresor.Invalid, "EC").WithReason(cmk.ReasonKeyUnsupported)
	}
	return cmk.Version{ID: ref.URI(), Version: ref.Version}, nil
}

func pad(keyID string, b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[i] = b[i] ^ keyID[i%len(keyID)]
	}
	return out
}

func (k *keys) Wrap(_ context.Context, id cmk.Identity, keyID string, plain []byte) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.use("wrap", id); err != nil {
		return nil, err
	}
	return append([]byte(keyID+"|"), pad(keyID, plain)...), nil
}

func (k *keys) Unwrap(_ context.Context, id cmk.Identity, keyID string, wrapped []byte) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.use("unwrap", id); err != nil {
		return nil, tresor.Errorf(tresor.Forbidden, "no access")
	}
	if k.disabled[keyID] {
		return nil, tresor.Errorf(tresor.Forbidden, "key %s is disabled", keyID)
	}
	by, body, ok := bytes.Cut(wrapped, []byte("|"))
	if !ok || string(by) != keyID {
		return nil, errors.New("wrapped by another key")
	}
	return pad(keyID, body), nil
}

func (k *keys) allow(objectID string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.allowed == nil {
		k.allowed = map[string]bool{}
	}
	k.allowed[objectID] = true
}

func (k *keys) take() map[string]int {
	k.mu.Lock()
	defer k.mu.Unlock()
	c := k.calls
	k.calls = nil
	return c
}

type fixture struct {
	svc            *compute.Service
	keys           *keys
	sub, tenant    string
	uami, uamiOID  string
	now            time.Time
	vault, vaultID string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tresor.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	root := make([]byte, seal.RootKeySize)
	rand.Read(root)
	idSeal, _ := seal.New(root, "identity")
	idSvc := &identity.Service{Store: db, Sealer: idSeal, Issuer: "https://localhost", Audiences: []string{"https://vault.localhost"}}
	admin, err := idSvc.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	armSvc := arm.NewService(db)
	sub, err := armSvc.Bootstrap(ctx, admin.TenantID)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := armSvc.CreateOrUpdateResourceGroup(ctx, arm.ResourceGroup{SubscriptionID: sub.ID, Name: "rg", Location: "westeurope"}); err != nil {
		t.Fatal(err)
	}
	ids := &msi.Service{Store: db, ARM: armSvc, Identity: idSvc}
	u, _, err := ids.CreateOrUpdate(ctx, msi.UserAssignedIdentity{SubscriptionID: sub.ID, ResourceGroup: "rg", Name: "des-id", Location: "westeurope"})
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := seal.New(root, "compute")
	f := &fixture{
		keys: &keys{}, sub: sub.ID, tenant: admin.TenantID, uami: u.ID().String(), uamiOID: u.Principal.ObjectID,
		now:   time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC),
		vault: "https://kv.vault.localhost", vaultID: "/subscriptions/" + sub.ID + "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv",
	}
	f.svc = compute.NewService(db, armSvc, ids, f.keys, sealer)
	f.svc.Now = func() time.Time { return f.now }
	return f
}

func (f *fixture) key(name, version string) *compute.KeyRef {
	return &compute.KeyRef{SourceVaultID: f.vaultID, KeyURL: f.vault + "/keys/" + name + "/" + version}
}

func (f *fixture) system(version string) compute.Spec {
	return compute.Spec{Location: "westeurope", Identity: &msi.Spec{SystemAssigned: true}, ActiveKey: f.key("k", version)}
}

func (f *fixture) user(version string) compute.Spec {
	return compute.Spec{Location: "westeurope", Identity: &msi.Spec{UserAssigned: []string{f.uami}}, ActiveKey: f.key("k", version)}
}

// TestSystemAssignedOrdering follows Azure's order with a system-assigned
// identity: created before it may use the key (pending, sealed), granted
// access, updated: the same intermediate key, now wrapped by the CMK.
func TestSystemAssignedOrdering(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	d, created, err := f.svc.CreateOrUpdate(ctx, f.sub, f.tenant, "rg", "des1", f.system("v1"))
	if err != nil || !created {
		t.Fatalf("create = %v, %v", created, err)
	}
	if !d.Pending() || d.Identity.SystemAssigned.ObjectID == "" || d.ProvisioningState != "Succeeded" || d.EncryptionType != compute.EncryptionAtRestWithCustomerKey {
		t.Fatalf("created DES = %+v; want pending, with a system-assigned identity, Succeeded, the default type", d)
	}
	if got := f.keys.take(); got["check"] != 1 || got["wrap"] != 0 {
		t.Errorf("create without access asked %v; want one check", got)
	}
	// The key cannot be used yet.
	if _, err := f.svc.IntermediateKey(ctx, f.sub, "rg", "des1"); tresor.ReasonOf(err) != cmk.ReasonAccessDenied {
		t.Errorf("IntermediateKey before access = %v; want %s", err, cmk.ReasonAccessDenied)
	}
	f.keys.allow(d.Identity.SystemAssigned.ObjectID)
	f.keys.take()
	key, err := f.svc.IntermediateKey(ctx, f.sub, "rg", "des1")
	if err != nil || len(key) != 32 {
		t.Fatalf("IntermediateKey after access = %d bytes, %v", len(key), err)
	}
	if got := f.keys.take(); got["check"] != 1 || got["wrap"] != 1 {
		t.Errorf("first use asked %v; want one check and one wrap", got)
	}
	d, err = f.svc.Get(ctx, f.sub, "rg", "DES1")
	if err != nil || d.Pending() || d.Key.KeyID != f.vault+"/keys/k/v1" {
		t.Fatalf("after first use: key %+v, %v; want wrapped by v1", d.Key, err)
	}
	again, err := f.svc.IntermediateKey(ctx, f.sub, "rg", "des1")
	if err != nil || !bytes.Equal(again, key) {
		t.Errorf("IntermediateKey again = %x, %v; want the same key", again, err)
	}
	if got := f.keys.take(); got["unwrap"] != 1 || len(got) != 1 {
		t.Errorf("a wrapped key costs %v; want one unwrap", got)
	}
}

// TestPendingWrappedByUpdate: a pending DES wraps its key at the next
// update once its identity is allowed.
func TestPendingWrappedByUpdate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	d, _, err := f.svc.CreateOrUpdate(ctx, f.sub, f.tenant, "rg", "des1", f.system("v1"))
	if err != nil {
		t.Fatal(err)
	}
	// Still no access: the update succeeds and the key stays pending.
	d, err = f.svc.Update(ctx, f.sub, "rg", "des1", compute.Spec{Tags: map[string]string{"a": "b"}})
	if err != nil || !d.Pending() || d.Tags["a"] != "b" {
		t.Fatalf("update without access = %+v, %v", d, err)
	}
	f.keys.allow(d.Identity.SystemAssigned.ObjectID)
	f.keys.take()
	d, err = f.svc.Update(ctx, f.sub, "rg", "des1", compute.Spec{})
	if err != nil || d.Pending() {
		t.Fatalf("update with access = %+v, %v; want wrapped", d.Key, err)
	}
	if got := f.keys.take(); got["check"] != 1 || got["wrap"] != 1 || got["unwrap"] != 0 {
		t.Errorf("wrapping a pending key cost %v; want one check and one wrap", got)
	}
	if !d.LastKeyRotation.IsZero() {
		t.Errorf("lastKeyRotation = %v; the active key did not change", d.LastKeyRotation)
	}
}

// TestRewrapCounts checks that creating costs one check and one wrap and
// that every change of key costs one unwrap, one check and one wrap of the
// same intermediate key, whatever else changes.
func TestRewrapCounts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.keys.allow(f.uamiOID)
	d, _, err := f.svc.CreateOrUpdate(ctx, f.sub, f.tenant, "rg", "des1", f.user("v1"))
	if err != nil || d.Pending() {
		t.Fatalf("create = %+v, %v", d.Key, err)
	}
	if got := f.keys.take(); !cmp.Equal(got, map[string]int{"check": 1, "wrap": 1}) {
		t.Errorf("create cost %v; want one check and one wrap", got)
	}
	first, err := f.svc.IntermediateKey(ctx, f.sub, "rg", "des1")
	if err != nil {
		t.Fatal(err)
	}
	f.keys.take()

	tests := []struct {
		name string
		sp   compute.Spec
		want map[string]int
		key  string
	}{
		{"tags only", compute.Spec{Tags: map[string]string{"x": "y"}}, nil, "k/v1"},
		{"the same key again", compute.Spec{ActiveKey: f.key("k", "v1")}, nil, "k/v1"},
		{"a new version", compute.Spec{ActiveKey: f.key("k", "v2")}, map[string]int{"unwrap": 1, "check": 1, "wrap": 1}, "k/v2"},
		{"another key", compute.Spec{ActiveKey: f.key("other", "w1")}, map[string]int{"unwrap": 1, "check": 1, "wrap": 1}, "other/w1"},
		{"a PUT with a new version", f.user("v3"), map[string]int{"unwrap": 1, "check": 1, "wrap": 1}, "k/v3"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := f.svc.Get(ctx, f.sub, "rg", "des1")
			f.now = f.now.Add(time.Hour)
			var d compute.DiskEncryptionSet
			var err error
			if tt.sp.Location != "" {
				d, _, err = f.svc.CreateOrUpdate(ctx, f.sub, f.tenant, "rg", "des1", tt.sp)
			} else {
				d, err = f.svc.Update(ctx, f.sub, "rg", "des1", tt.sp)
			}
			if err != nil {
				t.Fatalf("update %d: %v", i, err)
			}
			if got := f.keys.take(); !cmp.Equal(got, tt.want) {
				t.Errorf("cost %v; want %v", got, tt.want)
			}
			if want := f.vault + "/keys/" + tt.key; d.Key.KeyID != want || d.ActiveKey.KeyURL != want {
				t.Errorf("key %s, active %s; want %s", d.Key.KeyID, d.ActiveKey.KeyURL, want)
			}
			rotated := tt.want != nil
			if rotated != d.LastKeyRotation.Equal(f.now) || !rotated && !d.LastKeyRotation.Equal(before.LastKeyRotation) {
				t.Errorf("lastKeyRotation = %v (now %v, rotated %v)", d.LastKeyRotation, f.now, rotated)
			}
			if len(d.PreviousKeys) != 0 || d.ProvisioningState != "Succeeded" {
				t.Errorf("previousKeys %v, state %s; want none, Succeeded", d.PreviousKeys, d.ProvisioningState)
			}
			f.keys.take()
			// A key change makes the next generation of the intermediate
			// key; anything else keeps it.
			k, err := f.svc.IntermediateKey(ctx, f.sub, "rg", "des1")
			if err != nil || bytes.Equal(k, first) == rotated || d.Key.Gen != before.Key.Gen+map[bool]int{true: 1}[rotated] {
				t.Errorf("intermediate key %x (gen %d, was %d), %v; want a new one: %v", k, d.Key.Gen, before.Key.Gen, err, rotated)
			}
			first = k
			f.keys.take()
		})
	}

	// A DES whose key is wrapped never falls back to pending: a key its
	// identity may not use is refused, and the DES is unchanged.
	f.keys.allowed = nil
	if _, err := f.svc.Update(ctx, f.sub, "rg", "des1", compute.Spec{ActiveKey: f.key("k", "v4")}); !tresor.IsKind(err, tresor.Forbidden) ||
		tresor.ReasonOf(err) != compute.ReasonKeyNotUnwrapped {
		t.Errorf("key change with the old key unusable = %v; want Forbidden %s", err, compute.ReasonKeyNotUnwrapped)
	}
	if d, _ := f.svc.Get(ctx, f.sub, "rg", "des1"); d.ActiveKey.KeyURL != f.vault+"/keys/k/v3" || d.Pending() {
		t.Errorf("after a refused change: %s, pending %v", d.ActiveKey.KeyURL, d.Pending())
	}
}

// TestRules checks the refusals, each Invalid with its reason.
func TestRules(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.keys.allow(f.uamiOID)
	with := func(sp compute.Spec, fn func(*compute.Spec)) compute.Spec { fn(&sp); return sp }
	yes, other, fed := true, "https://other.vault.localhost/keys/k/v1", "00000000-0000-0000-0000-000000000001"
	bad := "not-a-guid"
	tests := []struct {
		name   string
		sp     compute.Spec
		reason string
	}{
		{"no key", with(f.user("v1"), func(s *compute.Spec) { s.ActiveKey = nil }), arm.ReasonInvalidParameter},
		{"a versionless key", with(f.user("v1"), func(s *compute.Spec) { s.ActiveKey.KeyURL = f.vault + "/keys/k" }), arm.ReasonInvalidParameter},
		{"not a key url", with(f.user("v1"), func(s *compute.Spec) { s.ActiveKey.KeyURL = "http://x/y" }), cmk.ReasonKeyNotFound},
		{"a sourceVault that is not the key's", with(f.user("v1"), func(s *compute.Spec) { s.ActiveKey.KeyURL = other }), arm.ReasonInvalidParameter},
		{"a sourceVault that is no vault", with(f.user("v1"), func(s *compute.Spec) { s.ActiveKey.SourceVaultID = f.uami }), arm.ReasonInvalidParameter},
		{"an EC key", with(f.user("v1"), func(s *compute.Spec) { s.ActiveKey = f.key("ec", "v1") }), cmk.ReasonKeyUnsupported},
		{"no identity", with(f.user("v1"), func(s *compute.Spec) { s.Identity = &msi.Spec{} }), msi.ReasonInvalidIdentity},
		{"an unknown type", with(f.user("v1"), func(s *compute.Spec) { s.EncryptionType = "Nope" }), arm.ReasonInvalidParameter},
		{"auto-rotation for a CVM", with(f.user("v1"), func(s *compute.Spec) {
			s.EncryptionType, s.RotationToLatestKeyVersionEnabled = compute.ConfidentialVMEncryptedWithCustomerKey, &yes
		}), arm.ReasonInvalidParameter},
		{"a federated client id that is no GUID", with(f.user("v1"), func(s *compute.Spec) { s.FederatedClientID = &bad }), arm.ReasonInvalidParameter},
		{"a federated client id without a user-assigned identity", with(f.system("v1"), func(s *compute.Spec) { s.FederatedClientID = &fed }), arm.ReasonInvalidParameter},
		{"a bad name", f.user("v1"), arm.ReasonInvalidParameter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "des-bad"
			if tt.name == "a bad name" {
				name = "des.bad"
			}
			_, _, err := f.svc.CreateOrUpdate(ctx, f.sub, f.tenant, "rg", name, tt.sp)
			if !tresor.IsKind(err, tresor.Invalid) || tresor.ReasonOf(err) != tt.reason {
				t.Errorf("CreateOrUpdate = %v; want Invalid %s", err, tt.reason)
			}
			if _, err := f.svc.Get(ctx, f.sub, "rg", name); !tresor.IsKind(err, tresor.NotFound) {
				t.Errorf("a refused create left a DES: %v", err)
			}
		})
	}

	// A CVM DES without auto-rotation is fine; turning it on is refused.
	cvm := with(f.user("v1"), func(s *compute.Spec) { s.EncryptionType = compute.ConfidentialVMEncryptedWithCustomerKey })
	if _, _, err := f.svc.CreateOrUpdate(ctx, f.sub, f.tenant, "rg", "des-cvm", cvm); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Update(ctx, f.sub, "rg", "des-cvm", compute.Spec{RotationToLatestKeyVersionEnabled: &yes}); tresor.ReasonOf(err) != arm.ReasonInvalidParameter {
		t.Errorf("enable auto-rotation on a CVM DES = %v; want Invalid", err)
	}
	// Federated client id: set, then cleared with None.
	none := "None"
	d, err := f.svc.Update(ctx, f.sub, "rg", "des-cvm", compute.Spec{FederatedClientID: &fed})
	if err != nil || d.FederatedClientID != fed {
		t.Fatalf("set federatedClientId = %q, %v", d.FederatedClientID, err)
	}
	if d, err = f.svc.Update(ctx, f.sub, "rg", "des-cvm", compute.Spec{FederatedClientID: &none}); err != nil || d.FederatedClientID != "" {
		t.Errorf("federatedClientId None = %q, %v; want cleared", d.FederatedClientID, err)
	}
	if _, err := f.svc.Update(ctx, f.sub, "rg", "des-cvm", compute.Spec{Location: "eastus"}); !tresor.IsKind(err, tresor.Invalid) {
		t.Errorf("move = %v; want Invalid", err)
	}
}

// TestListAndDelete: lists by group and subscription, no associated
// resources, delete removes the system-assigned identity and is 'false'
// the second time.
func TestListAndDelete(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i := range 3 {
		if _, _, err := f.svc.CreateOrUpdate(ctx, f.sub, f.tenant, "rg", "des"+strconv.Itoa(i), f.system("v1")); err != nil {
			t.Fatal(err)
		}
	}
	all, err := f.svc.List(ctx, f.sub, "")
	if err != nil || len(all) != 3 {
		t.Fatalf("List = %d, %v", len(all), err)
	}
	if _, err := f.svc.List(ctx, f.sub, "nope"); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("List(nope) = %v; want NotFound", err)
	}
	if ids, err := f.svc.ListAssociatedResources(ctx, f.sub, "rg", "des0"); err != nil || len(ids) != 0 {
		t.Errorf("ListAssociatedResources = %v, %v", ids, err)
	}
	if deleted, err := f.svc.Delete(ctx, f.sub, "rg", "des0"); err != nil || !deleted {
		t.Fatalf("Delete = %v, %v", deleted, err)
	}
	if deleted, err := f.svc.Delete(ctx, f.sub, "rg", "des0"); err != nil || deleted {
		t.Errorf("Delete again = %v, %v; want false", deleted, err)
	}
	if _, err := f.svc.Get(ctx, f.sub, "rg", "des0"); tresor.ReasonOf(err) != arm.ReasonResourceNotFound {
		t.Errorf("Get after delete = %v", err)
	}
	if err := f.svc.DeleteResourceGroup(ctx, f.sub, "rg"); err != nil {
		t.Fatal(err)
	}
	if all, _ := f.svc.List(ctx, f.sub, ""); len(all) != 0 {
		t.Errorf("after the group's deletion: %d DESs", len(all))
	}
}

// TestImports enforces the dependency rule: the domain package speaks
// neither HTTP nor SQL.
func TestImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "net/http" || p == "database/sql" {
				t.Errorf("%s imports %s", name, p)
			}
		}
	}
}
