package storage_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/arm/msi"
	"github.com/tresorkms/tresor/cmk"
	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/seal"
	"github.com/tresorkms/tresor/sqlite"
	"github.com/tresorkms/tresor/storage"
)

// keys is a fake storage.KeyService: a key is an XOR pad per version, so
// that wrapping is real enough to need the right version back, and every
// call is counted. newest is the version Check finds for an empty version;
// revoked makes every call fail as a disabled key does; federationBroken
// fails every call of a federated identity. lastID is the identity of the
// last call.
type keys struct {
	mu               sync.Mutex
	newest           string
	revoked          bool
	federationBroken bool
	down             bool // the key service fails as tresor itself would (Internal)
	lastID           cmk.Identity
	calls            map[string]int
}

func (k *keys) count(op string) {
	if k.calls == nil {
		k.calls = map[string]int{}
	}
	k.calls[op]++
}

func (k *keys) Check(_ context.Context, id cmk.Identity, ref cmk.Ref) (cmk.Version, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.count("check")
	if err := k.federate(id); err != nil {
		return cmk.Version{}, err
	}
	if k.revoked {
		return cmk.Version{}, tresor.Errorf(tresor.Invalid, "disabled").WithReason(cmk.ReasonKeyNotFound)
	}
	v := ref.Version
	if v == "" {
		v = k.newest
	}
	return cmk.Version{ID: strings.TrimSuffix(ref.VaultURI, "/") + "/keys/" + ref.Name + "/" + v, Version: v}, nil
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
	k.count("wrap")
	if err := k.federate(id); err != nil {
		return nil, err
	}
	return append([]byte(keyID+"|"), pad(keyID, plain)...), nil
}

func (k *keys) Unwrap(_ context.Context, id cmk.Identity, keyID string, wrapped []byte) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.count("unwrap")
	if err := k.federate(id); err != nil {
		return nil, err
	}
	if k.revoked {
		return nil, tresor.Errorf(tresor.Forbidden, "disabled")
	}
	by, body, ok := bytes.Cut(wrapped, []byte("|"))
	if !ok || string(by) != keyID {
		return nil, tresor.Errorf(tresor.Invalid, "wrapped by another key")
	}
	return pad(keyID, body), nil
}

// federate records the identity a call came with and, if the federation
// is broken, refuses one that names an application as cmk.Keys does.
func (k *keys) federate(id cmk.Identity) error {
	k.lastID = id
	if k.down {
		return tresor.Errorf(tresor.Internal, "the store is down")
	}
	if id.FederatedClientID != "" && k.federationBroken {
		return tresor.Errorf(tresor.Invalid, "no federated credential").WithReason(cmk.ReasonTokenNotAcquired)
	}
	return nil
}

func (k *keys) take() map[string]int {
	k.mu.Lock()
	defer k.mu.Unlock()
	c := k.calls
	k.calls = nil
	return c
}

type fixture struct {
	svc    *storage.Service
	keys   *keys
	db     *sqlite.DB
	ids    *msi.Service
	sub    string
	tenant string
	now    time.Time
	uami   string
}

func newFixture(t *testing.T) *fixture {
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
	u, _, err := ids.CreateOrUpdate(ctx, msi.UserAssignedIdentity{SubscriptionID: sub.ID, ResourceGroup: "rg", Name: "cmk-id", Location: "westeurope"})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := seal.New(root, "storage")
	f := &fixture{keys: &keys{newest: "v1"}, db: db, ids: ids, sub: sub.ID, tenant: admin.TenantID, now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), uami: u.ID().String()}
	// Through the cache, as the server wires it.
	f.svc = storage.NewService(storage.Cached(db), armSvc, ids, f.keys, st)
	f.svc.Now = func() time.Time { return f.now }
	f.svc.KeyCacheTTL = -1
	return f
}

func (f *fixture) cmkSpec(version string) storage.Spec {
	return storage.Spec{
		Location: "westeurope",
		Identity: &msi.Spec{UserAssigned: []string{f.uami}},
		Encryption: &storage.EncryptionSpec{
			KeySource: storage.CustomerManaged, Key: cmk.Ref{VaultURI: "https://kv.vault.localhost", Name: "k", Version: version},
			UserAssignedIdentity: f.uami,
		},
	}
}

// TestRewrapOnly checks that changes of key, version and source cost one
// unwrap and one wrap of the same account key, and the daily check on the
// service's clock.
func TestRewrapOnly(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, created, err := f.svc.CreateOrUpdate(ctx, f.sub, f.tenant, "rg", "acct1", f.cmkSpec(""))
	if err != nil || !created {
		t.Fatalf("create = %v, %v", created, err)
	}
	if a.Encryption.CurrentKeyID != "https://kv.vault.localhost/keys/k/v1" || !a.Encryption.NextKeyCheck.Equal(f.now.Add(24*time.Hour)) {
		t.Errorf("encryption = %+v", a.Encryption)
	}
	if got := f.keys.take(); got["check"] != 1 || got["wrap"] != 1 || got["unwrap"] != 0 {
		t.Errorf("create asked the key service %v; want one check and one wrap", got)
	}
	first, err := f.svc.AccountKey(ctx, "acct1")
	if err != nil || len(first) != 32 {
		t.Fatalf("AccountKey = %d bytes, %v", len(first), err)
	}
	f.keys.take()

	// A new version appears; the check a day later moves to it.
	f.keys.newest = "v2"
	f.now = f.now.Add(23 * time.Hour)
	if res, err := f.svc.RefreshKeyVersions(ctx); err != nil || len(res.Rotated) != 0 {
		t.Errorf("an hour early: %+v, %v", res, err)
	}
	f.now = f.now.Add(time.Hour)
	if next, _ := f.svc.NextKeyCheck(ctx); !next.Equal(f.now) {
		t.Errorf("NextKeyCheck = %v, want %v", next, f.now)
	}
	res, err := f.svc.RefreshKeyVersions(ctx)
	if err != nil || len(res.Rotated) != 1 || len(res.Failed) != 0 {
		t.Fatalf("daily check = %+v, %v", res, err)
	}
	if got := f.keys.take(); got["check"] != 1 || got["wrap"] != 1 || got["unwrap"] != 1 {
		t.Errorf("rotation asked the key service %v; want one check, one unwrap, one wrap", got)
	}
	a, _ = f.svc.Get(ctx, f.sub, "rg", "acct1")
	if a.Encryption.CurrentKeyID != "https://kv.vault.localhost/keys/k/v2" || !a.Encryption.LastKeyRotation.Equal(f.now) ||
		!a.Encryption.NextKeyCheck.Equal(f.now.Add(24*time.Hour)) {
		t.Errorf("after rotation: %+v", a.Encryption)
	}
	if k, err := f.svc.AccountKey(ctx, "acct1"); err != nil || !bytes.Equal(k, first) {
		t.Errorf("account key after rotation = %x, %v; want the same", k, err)
	}

	// Pinned: no checks at all.
	if _, err := f.svc.Update(ctx, f.sub, "rg", "acct1", storage.Spec{Encryption: f.cmkSpec("v2").Encryption}); err != nil {
		t.Fatal(err)
	}
	f.keys.newest = "v3"
	f.now = f.now.Add(72 * time.Hour)
	if res, _ := f.svc.RefreshKeyVersions(ctx); len(res.Rotated) != 0 {
		t.Errorf("a pinned account rotated: %+v", res)
	}
	// Microsoft-managed and back, the same key.
	f.keys.take()
	if _, err := f.svc.Update(ctx, f.sub, "rg", "acct1", storage.Spec{Encryption: &storage.EncryptionSpec{KeySource: storage.MicrosoftManaged}}); err != nil {
		t.Fatal(err)
	}
	if got := f.keys.take(); got["unwrap"] != 1 || got["wrap"] != 0 {
		t.Errorf("switching to Microsoft-managed asked %v; want one unwrap", got)
	}
	if k, err := f.svc.AccountKey(ctx, "acct1"); err != nil || !bytes.Equal(k, first) {
		t.Errorf("Microsoft-managed account key = %x, %v", k, err)
	}

	// Revoked: the account key does not unwrap, with Storage's code.
	if _, err := f.svc.Update(ctx, f.sub, "rg", "acct1", storage.Spec{Encryption: f.cmkSpec("").Encryption}); err != nil {
		t.Fatal(err)
	}
	f.keys.revoked = true
	if _, err := f.svc.AccountKey(ctx, "acct1"); !tresor.IsKind(err, tresor.Forbidden) || tresor.ReasonOf(err) != storage.ReasonKeyNotFound {
		t.Errorf("revoked: %v", err)
	}
	// A daily check while revoked fails, keeps the version and moves on.
	f.now = f.now.Add(48 * time.Hour)
	if res, err := f.svc.RefreshKeyVersions(ctx); err != nil || len(res.Failed) != 1 || len(res.Rotated) != 0 {
		t.Errorf("check while revoked = %+v, %v", res, err)
	}
	if next, _ := f.svc.NextKeyCheck(ctx); !next.After(f.now) {
		t.Errorf("a failing account is due again at %v; want a day later", next)
	}
	f.keys.revoked = false
	if k, err := f.svc.AccountKey(ctx, "acct1"); err != nil || !bytes.Equal(k, first) {
		t.Errorf("re-enabled: %x, %v", k, err)
	}
}

// TestCreateRules checks the refusals that need no key service.
func TestCreateRules(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	sys := f.cmkSpec("")
	sys.Identity = &msi.Spec{SystemAssigned: true}
	sys.Encryption.UserAssignedIdentity = ""
	notAttached := f.cmkSpec("")
	notAttached.Identity = nil
	for _, tc := range []struct {
		name, account string
		spec          storage.Spec
		reason        string
	}{
		{"upper case", "Acct", storage.Spec{Location: "westeurope"}, storage.ReasonAccountNameInvalid},
		{"too short", "ab", storage.Spec{Location: "westeurope"}, storage.ReasonAccountNameInvalid},
		{"CMK through a system-assigned identity at creation", "acct2", sys, storage.ReasonInvalidEncryption},
		{"CMK identity not attached", "acct3", notAttached, storage.ReasonInvalidEncryption},
		{"bad key type", "acct4", storage.Spec{Location: "westeurope", Encryption: &storage.EncryptionSpec{QueueKeyType: "Both"}}, storage.ReasonInvalidEncryption},
	} {
		_, _, err := f.svc.CreateOrUpdate(ctx, f.sub, f.tenant, "rg", tc.account, tc.spec)
		if !tresor.IsKind(err, tresor.Invalid) || tresor.ReasonOf(err) != tc.reason {
			t.Errorf("%s: %v; want Invalid %s", tc.name, err, tc.reason)
		}
		if _, err := f.db.Account(ctx, tc.account); !tresor.IsKind(err, tresor.NotFound) {
			t.Errorf("%s: a refused create stored the account (%v)", tc.name, err)
		}
	}
	if _, _, err := f.svc.CreateOrUpdate(ctx, f.sub, f.tenant, "rg", "taken1", storage.Spec{Location: "westeurope"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.CreateOrUpdate(ctx, f.sub, f.tenant, "other", "taken1", storage.Spec{Location: "westeurope"}); tresor.ReasonOf(err) != storage.ReasonAccountAlreadyTaken {
		t.Errorf("the name in another group: %v", err)
	}
	if _, _, err := f.svc.CreateOrUpdate(ctx, f.sub, f.tenant, "nogroup", "fresh1", storage.Spec{Location: "westeurope"}); tresor.ReasonOf(err) != arm.ReasonResourceGroupNotFound {
		t.Errorf("an account in a group that does not exist: %v", err)
	}
	// Create-time settings cannot change.
	if _, err := f.svc.Update(ctx, f.sub, "rg", "taken1", storage.Spec{Encryption: &storage.EncryptionSpec{QueueKeyType: "Account"}}); tresor.ReasonOf(err) != storage.ReasonInvalidEncryption {
		t.Errorf("changing the queue key type: %v", err)
	}
	// Access keys: two, 64 bytes, regenerated one at a time.
	k1, err := f.svc.ListKeys(ctx, f.sub, "rg", "taken1")
	if err != nil || len(k1) != 2 {
		t.Fatal(k1, err)
	}
	k2, err := f.svc.RegenerateKey(ctx, f.sub, "rg", "taken1", "KEY2")
	if err != nil || k2[0].Value != k1[0].Value || k2[1].Value == k1[1].Value {
		t.Errorf("RegenerateKey(key2) = %+v, %v", k2, err)
	}
	raw, err := f.svc.AccessKeys(ctx, "taken1")
	if err != nil || len(raw) != 2 || len(raw[0]) != 64 {
		t.Errorf("AccessKeys = %d keys, %v", len(raw), err)
	}
}

// TestCachedAccountsSeeWrites checks that the data plane's lookups, served
// from the account cache, see every change made through the service at
// once: regenerated access keys, a new key source, a deleted account and
// one created again under its name.
func TestCachedAccountsSeeWrites(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, _, err := f.svc.CreateOrUpdate(ctx, f.sub, f.tenant, "rg", "acct1", storage.Spec{Location: "westeurope", Identity: &msi.Spec{UserAssigned: []string{f.uami}}}); err != nil {
		t.Fatal(err)
	}
	old, err := f.svc.AccessKeys(ctx, "acct1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RegenerateKey(ctx, f.sub, "rg", "acct1", "key1"); err != nil {
		t.Fatal(err)
	}
	if now, err := f.svc.AccessKeys(ctx, "acct1"); err != nil || bytes.Equal(now[0], old[0]) || !bytes.Equal(now[1], old[1]) {
		t.Errorf("AccessKeys after regenerating key1: key1 changed %v, key2 kept %v, %v", !bytes.Equal(now[0], old[0]), bytes.Equal(now[1], old[1]), err)
	}

	aek, err := f.svc.AccountKey(ctx, "acct1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Update(ctx, f.sub, "rg", "acct1", storage.Spec{Encryption: f.cmkSpec("").Encryption}); err != nil {
		t.Fatal(err)
	}
	f.keys.take()
	if k, err := f.svc.AccountKey(ctx, "acct1"); err != nil || !bytes.Equal(k, aek) || f.keys.take()["unwrap"] != 1 {
		t.Errorf("AccountKey after the switch to a CMK = %x, %v; want the same key, unwrapped with the CMK", k, err)
	}
	f.keys.revoked = true
	if _, err := f.svc.AccountKey(ctx, "acct1"); tresor.ReasonOf(err) != storage.ReasonKeyNotFound {
		t.Errorf("AccountKey with the CMK revoked = %v; want %s", err, storage.ReasonKeyNotFound)
	}
	f.keys.revoked = false

	if ok, err := f.svc.Delete(ctx, f.sub, "rg", "acct1"); !ok || err != nil {
		t.Fatalf("Delete = %v, %v", ok, err)
	}
	if _, err := f.svc.AccessKeys(ctx, "acct1"); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("AccessKeys of a deleted account = %v; want NotFound", err)
	}
	if _, err := f.svc.AccountKey(ctx, "acct1"); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("AccountKey of a deleted account = %v; want NotFound", err)
	}
	if _, _, err := f.svc.CreateOrUpdate(ctx, f.sub, f.tenant, "rg", "acct1", storage.Spec{Location: "westeurope"}); err != nil {
		t.Fatal(err)
	}
	if again, err := f.svc.AccessKeys(ctx, "acct1"); err != nil || bytes.Equal(again[1], old[1]) {
		t.Errorf("AccessKeys of the account created again = the old account's key2 %v, %v", err == nil && bytes.Equal(again[1], old[1]), err)
	}
}

// TestFederatedClientID checks that an account's federated client id is
// kept, reaches the key service with every call, and that a federation
// that stops holding locks the account with Azure's
// KeyVaultAccessTokenCannotBeAcquired, not KeyVaultEncryptionKeyNotFound.
func TestFederatedClientID(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const app = "0b6c3a2e-58a1-4f43-9a6b-1d0c9e0a7f11"

	bad := f.cmkSpec("")
	bad.Encryption.FederatedClientID = "not-a-guid"
	if _, _, err := f.svc.CreateOrUpdate(ctx, f.sub, f.tenant, "rg", "acct0", bad); tresor.ReasonOf(err) != storage.ReasonInvalidEncryption {
		t.Errorf("a federated client id that is no GUID: %v", err)
	}

	sp := f.cmkSpec("")
	sp.Encryption.FederatedClientID = strings.ToUpper(app)
	a, _, err := f.svc.CreateOrUpdate(ctx, f.sub, f.tenant, "rg", "acct1", sp)
	if err != nil {
		t.Fatal(err)
	}
	if a.Encryption.FederatedClientID != app || f.keys.lastID.FederatedClientID != app {
		t.Errorf("federated client id: account %q, key service saw %q; want %q", a.Encryption.FederatedClientID, f.keys.lastID.FederatedClientID, app)
	}
	if got, err := f.svc.Get(ctx, f.sub, "rg", "acct1"); err != nil || got.Encryption.FederatedClientID != app {
		t.Errorf("stored federated client id = %q, %v", got.Encryption.FederatedClientID, err)
	}
	f.keys.lastID = cmk.Identity{}
	if _, err := f.svc.AccountKey(ctx, "acct1"); err != nil || f.keys.lastID.FederatedClientID != app {
		t.Errorf("AccountKey: %v, key service saw %q", err, f.keys.lastID.FederatedClientID)
	}

	f.keys.federationBroken = true
	_, err = f.svc.AccountKey(ctx, "acct1")
	if !tresor.IsKind(err, tresor.Forbidden) || tresor.ReasonOf(err) != storage.ReasonTokenNotAcquired {
		t.Errorf("AccountKey with the federation broken: %v; want Forbidden %s", err, storage.ReasonTokenNotAcquired)
	}
	f.keys.federationBroken = false
	// tresor's own failure is not reported as the customer's key.
	f.keys.down = true
	if _, err := f.svc.AccountKey(ctx, "acct1"); !tresor.IsKind(err, tresor.Internal) {
		t.Errorf("AccountKey with the key service down: %v; want Internal", err)
	}
	f.keys.down = false

	// Back to Microsoft-managed keys: the federation goes with the key.
	a, err = f.svc.Update(ctx, f.sub, "rg", "acct1", storage.Spec{Encryption: &storage.EncryptionSpec{KeySource: storage.MicrosoftManaged}})
	if err != nil || a.Encryption.FederatedClientID != "" {
		t.Errorf("after switching to Microsoft-managed keys: federated client id %q, %v", a.Encryption.FederatedClientID, err)
	}
}
