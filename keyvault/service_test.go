package keyvault_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/hsm"
	"github.com/tresorkms/tresor/hsm/software"
	"github.com/tresorkms/tresor/keyvault"
	"github.com/tresorkms/tresor/keyvault/kvtest"
	"github.com/tresorkms/tresor/seal"
)

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }

type fixture struct {
	svc   *keyvault.Service
	clock *clock
	ctx   context.Context
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	root := bytes.Repeat([]byte{1}, seal.RootKeySize)
	keys, err := seal.New(root, "keys")
	if err != nil {
		tb.Fatal(err)
	}
	backup, _ := keys.Purpose("backup")
	c := &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	svc := keyvault.NewService(kvtest.NewMemStore(), software.New(keys), backup)
	svc.Now = c.Now
	return &fixture{svc: svc, clock: c, ctx: context.Background()}
}

func (f *fixture) vault(tb testing.TB, v keyvault.Vault) keyvault.Vault {
	tb.Helper()
	if v.Kind == "" {
		v.Kind = keyvault.KeyVault
	}
	if v.SKU == "" {
		v.SKU = "standard"
	}
	v.SubscriptionID, v.ResourceGroup, v.TenantID = "sub", "rg", "tenant"
	got, created, err := f.svc.CreateOrUpdateVault(f.ctx, v)
	if err != nil || !created {
		tb.Fatalf("CreateOrUpdateVault(%q) = %v, %v; want created", v.Name, created, err)
	}
	return got
}

func wantKind(tb testing.TB, op string, err error, kind tresor.Kind) {
	tb.Helper()
	if got := tresor.KindOf(err); err == nil || got != kind {
		tb.Fatalf("%s error = %v (kind %v), want kind %v", op, err, got, kind)
	}
}

func TestCreateKeyDefaultsAndRules(t *testing.T) {
	f := newFixture(t)
	kv := f.vault(t, keyvault.Vault{Name: "kv-std", SoftDelete: true})
	premium := f.vault(t, keyvault.Vault{Name: "kv-prem", SoftDelete: true, SKU: "premium"})
	mhsm := f.vault(t, keyvault.Vault{Name: "mhsm1", Kind: keyvault.ManagedHSM, SoftDelete: true, SKU: "Standard_B1"})
	allRSA := []keyvault.KeyOp{"encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"}

	tests := []struct {
		name     string
		v        keyvault.Vault
		p        keyvault.CreateKeyParams
		wantType keyvault.KeyType
		wantSize int
		wantCrv  hsm.Curve
		wantOps  []keyvault.KeyOp
		wantErr  tresor.Kind // zero (Internal) means success
	}{
		{"rsa default", kv, keyvault.CreateKeyParams{Type: keyvault.RSA}, keyvault.RSA, 2048, "", allRSA, 0},
		{"ec default", kv, keyvault.CreateKeyParams{Type: keyvault.EC}, keyvault.EC, 0, hsm.P256, []keyvault.KeyOp{"sign", "verify"}, 0},
		{"ec p-256k", kv, keyvault.CreateKeyParams{Type: keyvault.EC, Curve: hsm.P256K}, keyvault.EC, 0, hsm.P256K, []keyvault.KeyOp{"sign", "verify"}, 0},
		{"explicit ops", kv, keyvault.CreateKeyParams{Type: keyvault.RSA, Ops: []keyvault.KeyOp{"wrapKey"}}, keyvault.RSA, 2048, "", []keyvault.KeyOp{"wrapKey"}, 0},
		{"hsm upgrades rsa", mhsm, keyvault.CreateKeyParams{Type: keyvault.RSA}, keyvault.RSAHSM, 2048, "", allRSA, 0},
		{"hsm oct", mhsm, keyvault.CreateKeyParams{Type: keyvault.OctHSM, Size: 128}, keyvault.OctHSM, 128, "", []keyvault.KeyOp{"encrypt", "decrypt", "wrapKey", "unwrapKey"}, 0},
		{"premium rsa-hsm", premium, keyvault.CreateKeyParams{Type: keyvault.RSAHSM}, keyvault.RSAHSM, 2048, "", allRSA, 0},
		{"standard rsa-hsm", kv, keyvault.CreateKeyParams{Type: keyvault.RSAHSM}, "", 0, "", nil, tresor.Invalid},
		{"vault oct", premium, keyvault.CreateKeyParams{Type: keyvault.OctHSM}, "", 0, "", nil, tresor.Invalid},
		{"unknown kty", kv, keyvault.CreateKeyParams{Type: "DSA"}, "", 0, "", nil, tresor.Invalid},
		{"rsa 1024", kv, keyvault.CreateKeyParams{Type: keyvault.RSA, Size: 1024}, "", 0, "", nil, tresor.Invalid},
		{"rsa huge", kv, keyvault.CreateKeyParams{Type: keyvault.RSA, Size: 1 << 20}, "", 0, "", nil, tresor.Invalid},
		{"bad curve", kv, keyvault.CreateKeyParams{Type: keyvault.EC, Curve: "P-192"}, "", 0, "", nil, tresor.Invalid},
		{"bad op", kv, keyvault.CreateKeyParams{Type: keyvault.RSA, Ops: []keyvault.KeyOp{"fly"}}, "", 0, "", nil, tresor.Invalid},
		{"oct 512", mhsm, keyvault.CreateKeyParams{Type: keyvault.OctHSM, Size: 512}, "", 0, "", nil, tresor.Invalid},
		{"exportable without policy", kv, keyvault.CreateKeyParams{Type: keyvault.RSA, Attributes: keyvault.Attributes{Exportable: ptr(true)}}, "", 0, "", nil, tresor.Invalid},
		{"too many tags", kv, keyvault.CreateKeyParams{Type: keyvault.RSA, Tags: manyTags(16)}, "", 0, "", nil, tresor.Invalid},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "k" + string(rune('a'+i))
			got, err := f.svc.CreateKey(f.ctx, tt.v, name, tt.p)
			if tt.wantErr != 0 {
				wantKind(t, "CreateKey", err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("CreateKey(%s) = %v", tt.name, err)
			}
			if got.Type != tt.wantType || got.Size != tt.wantSize || got.Curve != tt.wantCrv || !got.Enabled {
				t.Errorf("CreateKey = type %s size %d crv %s enabled %v; want %s %d %s true", got.Type, got.Size, got.Curve, got.Enabled, tt.wantType, tt.wantSize, tt.wantCrv)
			}
			if diff := cmp.Diff(tt.wantOps, got.Ops); diff != "" {
				t.Errorf("CreateKey ops (-want +got):\n%s", diff)
			}
			if len(got.Version) != 32 {
				t.Errorf("version %q is not 32 hex digits", got.Version)
			}
			stored, err := f.svc.GetKey(f.ctx, tt.v, name, "")
			if err != nil || stored.Version != got.Version {
				t.Errorf("GetKey(latest) = %v, %v; want version %s", stored.Version, err, got.Version)
			}
		})
	}
}

func TestUpdateKeyMerges(t *testing.T) {
	f := newFixture(t)
	v := f.vault(t, keyvault.Vault{Name: "kv-upd", SoftDelete: true})
	exp := f.clock.t.Add(48 * time.Hour)
	k, err := f.svc.CreateKey(f.ctx, v, "k", keyvault.CreateKeyParams{Type: keyvault.EC, Tags: map[string]string{"a": "1"}, Attributes: keyvault.Attributes{Expires: &exp}})
	if err != nil {
		t.Fatal(err)
	}
	// An empty update (JS sends "attributes":{}) changes nothing but Updated.
	got, err := f.svc.UpdateKey(f.ctx, v, "k", "", keyvault.UpdateKeyParams{})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Enabled || !got.Expires.Equal(exp) || got.Tags["a"] != "1" || len(got.Ops) != 2 {
		t.Errorf("empty UpdateKey changed the key: %+v", got)
	}
	got, err = f.svc.UpdateKey(f.ctx, v, "k", k.Version, keyvault.UpdateKeyParams{
		Attributes: keyvault.Attributes{Enabled: ptr(false)}, Tags: map[string]string{"b": "2"}, Ops: []keyvault.KeyOp{"verify"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Enabled || got.Tags["a"] != "" || got.Tags["b"] != "2" || !got.Expires.Equal(exp) || len(got.Ops) != 1 {
		t.Errorf("UpdateKey = %+v; want disabled, tags {b:2}, exp kept, ops [verify]", got)
	}
	_, err = f.svc.UpdateKey(f.ctx, v, "k", "0123456789abcdef0123456789abcdef", keyvault.UpdateKeyParams{})
	wantKind(t, "UpdateKey(unknown version)", err, tresor.NotFound)
}

func TestOperationRules(t *testing.T) {
	f := newFixture(t)
	v := f.vault(t, keyvault.Vault{Name: "kv-ops", SoftDelete: true})
	now := f.clock.t
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	mk := func(name string, p keyvault.CreateKeyParams) {
		t.Helper()
		p.Type = keyvault.RSA
		if _, err := f.svc.CreateKey(f.ctx, v, name, p); err != nil {
			t.Fatal(err)
		}
	}
	mk("ok", keyvault.CreateKeyParams{})
	mk("disabled", keyvault.CreateKeyParams{Attributes: keyvault.Attributes{Enabled: ptr(false)}})
	mk("expired", keyvault.CreateKeyParams{Attributes: keyvault.Attributes{Expires: &past}})
	mk("notyet", keyvault.CreateKeyParams{Attributes: keyvault.Attributes{NotBefore: &future}})
	mk("wraponly", keyvault.CreateKeyParams{Ops: []keyvault.KeyOp{"wrapKey", "unwrapKey"}})

	// A ciphertext made while the keys were usable, to test decrypt later.
	ct := map[string][]byte{}
	for _, name := range []string{"ok", "expired", "notyet", "disabled"} {
		kv, _ := f.svc.GetKey(f.ctx, v, name, "")
		ct[name] = encryptLocally(t, kv)
	}
	digest := sha256.Sum256([]byte("m"))
	tests := []struct {
		key, op string
		want    tresor.Kind // 0: allowed
	}{
		{"ok", "encrypt", 0}, {"ok", "decrypt", 0}, {"ok", "sign", 0},
		{"disabled", "encrypt", tresor.Forbidden}, {"disabled", "decrypt", tresor.Forbidden},
		{"expired", "encrypt", tresor.Forbidden}, {"expired", "sign", tresor.Forbidden},
		{"expired", "decrypt", 0}, {"expired", "verify", 0},
		{"notyet", "encrypt", tresor.Forbidden}, {"notyet", "decrypt", 0},
		{"wraponly", "encrypt", tresor.Forbidden}, {"wraponly", "wrap", 0}, {"wraponly", "sign", tresor.Forbidden},
		{"missing", "encrypt", tresor.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.key+"/"+tt.op, func(t *testing.T) {
			var err error
			switch tt.op {
			case "encrypt":
				_, err = f.svc.Encrypt(f.ctx, v, tt.key, "", keyvault.CryptoParams{Alg: hsm.RSAOAEP256, Value: []byte("x")})
			case "wrap":
				_, err = f.svc.WrapKey(f.ctx, v, tt.key, "", keyvault.CryptoParams{Alg: hsm.RSAOAEP256, Value: make([]byte, 32)})
			case "decrypt":
				var res keyvault.CryptoResult
				res, err = f.svc.Decrypt(f.ctx, v, tt.key, "", keyvault.CryptoParams{Alg: hsm.RSAOAEP256, Value: ct[tt.key]})
				if err == nil && string(res.Value) != "secret" {
					t.Errorf("Decrypt = %q, want %q", res.Value, "secret")
				}
			case "sign":
				_, err = f.svc.Sign(f.ctx, v, tt.key, "", hsm.RS256, digest[:])
			case "verify":
				_, err = f.svc.Verify(f.ctx, v, tt.key, "", hsm.RS256, digest[:], make([]byte, 256))
			}
			if tt.want == 0 && err != nil {
				t.Fatalf("%s on %s = %v, want success", tt.op, tt.key, err)
			}
			if tt.want != 0 {
				wantKind(t, tt.op, err, tt.want)
			}
		})
	}
}

// encryptLocally encrypts "secret" to kv's public key, as a client would.
func encryptLocally(tb testing.TB, kv keyvault.KeyVersion) []byte {
	tb.Helper()
	pub := rsaPublic(kv.Public)
	ct, err := rsaEncryptOAEP256(pub, []byte("secret"))
	if err != nil {
		tb.Fatal(err)
	}
	return ct
}

func TestSoftDeleteLifecycle(t *testing.T) {
	f := newFixture(t)
	v := f.vault(t, keyvault.Vault{Name: "kv-del", SoftDelete: true, RetentionDays: 7, PurgeProtection: true})
	k, err := f.svc.CreateKey(f.ctx, v, "k", keyvault.CreateKeyParams{Type: keyvault.EC})
	if err != nil {
		t.Fatal(err)
	}
	dk, err := f.svc.DeleteKey(f.ctx, v, "k")
	if err != nil {
		t.Fatal(err)
	}
	if want := dk.Deleted.AddDate(0, 0, 7); !dk.PurgeAt.Equal(want) || dk.Latest.Version != k.Version {
		t.Errorf("DeleteKey = purge %v version %s; want %v %s", dk.PurgeAt, dk.Latest.Version, want, k.Version)
	}
	_, err = f.svc.GetKey(f.ctx, v, "k", "")
	wantKind(t, "GetKey(deleted)", err, tresor.NotFound)
	_, err = f.svc.CreateKey(f.ctx, v, "k", keyvault.CreateKeyParams{Type: keyvault.EC})
	wantKind(t, "CreateKey(deleted name)", err, tresor.Conflict)
	var te *tresor.Error
	if asError(err, &te); te == nil || te.Reason != keyvault.ReasonDeletedButRecoverable {
		t.Errorf("CreateKey(deleted name) reason = %v, want %s", err, keyvault.ReasonDeletedButRecoverable)
	}
	wantKind(t, "PurgeDeletedKey(protected)", f.svc.PurgeDeletedKey(f.ctx, v, "k"), tresor.Forbidden)

	if _, err := f.svc.RecoverDeletedKey(f.ctx, v, "k"); err != nil {
		t.Fatal(err)
	}
	if got, err := f.svc.GetKey(f.ctx, v, "k", ""); err != nil || got.Version != k.Version {
		t.Fatalf("GetKey after recover = %v, %v", got.Version, err)
	}
	if _, err := f.svc.DeleteKey(f.ctx, v, "k"); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(7*24*time.Hour + time.Second)
	if err := f.svc.PurgeDeletedKey(f.ctx, v, "k"); err != nil {
		t.Fatalf("PurgeDeletedKey after retention = %v", err)
	}
	_, err = f.svc.GetDeletedKey(f.ctx, v, "k")
	wantKind(t, "GetDeletedKey(purged)", err, tresor.NotFound)

	// Without soft delete a deletion is final.
	plain := f.vault(t, keyvault.Vault{Name: "kv-plain"})
	if _, err := f.svc.CreateKey(f.ctx, plain, "k", keyvault.CreateKeyParams{Type: keyvault.EC}); err != nil {
		t.Fatal(err)
	}
	dk, err = f.svc.DeleteKey(f.ctx, plain, "k")
	if err != nil || !dk.Deleted.IsZero() {
		t.Fatalf("DeleteKey(no soft delete) = %+v, %v; want zero Deletion", dk.Deletion, err)
	}
	_, err = f.svc.GetDeletedKey(f.ctx, plain, "k")
	wantKind(t, "GetDeletedKey(no soft delete)", err, tresor.NotFound)
}

func TestBackupRestore(t *testing.T) {
	f := newFixture(t)
	v := f.vault(t, keyvault.Vault{Name: "kv-bak", SoftDelete: true})
	other := f.vault(t, keyvault.Vault{Name: "kv-other", SoftDelete: true})
	mhsm := f.vault(t, keyvault.Vault{Name: "mhsm-bak", Kind: keyvault.ManagedHSM, SoftDelete: true})
	v1, _ := f.svc.CreateKey(f.ctx, v, "k", keyvault.CreateKeyParams{Type: keyvault.EC})
	f.clock.Advance(time.Second)
	v2, _ := f.svc.CreateKey(f.ctx, v, "k", keyvault.CreateKeyParams{Type: keyvault.EC, Tags: map[string]string{"v": "2"}})
	blob, err := f.svc.BackupKey(f.ctx, v, "k")
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("doc"))
	sig, err := f.svc.Sign(f.ctx, v, "k", v1.Version, hsm.ES256, digest[:])
	if err != nil {
		t.Fatal(err)
	}

	_, err = f.svc.RestoreKey(f.ctx, v, blob)
	wantKind(t, "RestoreKey(name exists)", err, tresor.Conflict)
	_, err = f.svc.RestoreKey(f.ctx, mhsm, blob)
	wantKind(t, "RestoreKey(into managed HSM)", err, tresor.Invalid)
	tampered := bytes.Clone(blob)
	tampered[len(tampered)/2] ^= 1
	_, err = f.svc.RestoreKey(f.ctx, other, tampered)
	wantKind(t, "RestoreKey(tampered)", err, tresor.Invalid)

	got, err := f.svc.RestoreKey(f.ctx, other, blob)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != v2.Version || got.Tags["v"] != "2" {
		t.Errorf("RestoreKey = version %s tags %v; want %s {v:2}", got.Version, got.Tags, v2.Version)
	}
	ok, err := f.svc.Verify(f.ctx, other, "k", v1.Version, hsm.ES256, digest[:], sig.Value)
	if err != nil || !ok {
		t.Errorf("restored old version verifies original signature = %v, %v; want true", ok, err)
	}
}

func TestVaultLifecycle(t *testing.T) {
	f := newFixture(t)
	v := f.vault(t, keyvault.Vault{Name: "kv-life", SoftDelete: true, PurgeProtection: true})
	if v.RetentionDays != 90 || v.RecoveryLevel() != "Recoverable" {
		t.Errorf("defaults: retention %d level %s; want 90 Recoverable", v.RetentionDays, v.RecoveryLevel())
	}
	off := v
	off.PurgeProtection = false
	_, _, err := f.svc.CreateOrUpdateVault(f.ctx, off)
	wantKind(t, "disable purge protection", err, tresor.Invalid)
	elsewhere := v
	elsewhere.ResourceGroup = "rg2"
	_, _, err = f.svc.CreateOrUpdateVault(f.ctx, elsewhere)
	wantKind(t, "same name elsewhere", err, tresor.Conflict)

	if err := f.svc.DeleteVault(f.ctx, keyvault.KeyVault, "kv-life"); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.GetVault(f.ctx, keyvault.KeyVault, "kv-life")
	wantKind(t, "GetVault(deleted)", err, tresor.NotFound)
	_, _, err = f.svc.CreateOrUpdateVault(f.ctx, v)
	wantKind(t, "create over deleted", err, tresor.Conflict)
	wantKind(t, "purge protected vault", f.svc.PurgeDeletedVault(f.ctx, keyvault.KeyVault, "kv-life"), tresor.Conflict)
	if _, err := f.svc.RecoverDeletedVault(f.ctx, keyvault.KeyVault, "kv-life"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteVault(f.ctx, keyvault.KeyVault, "kv-life"); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(91 * 24 * time.Hour)
	if err := f.svc.PurgeDeletedVault(f.ctx, keyvault.KeyVault, "kv-life"); err != nil {
		t.Fatalf("purge after retention = %v", err)
	}

	for _, name := range []string{"ab", "1abc", "abc-", "a--b", "abcdefghijklmnopqrstuvwxy"} {
		_, _, err := f.svc.CreateOrUpdateVault(f.ctx, keyvault.Vault{Name: name, Kind: keyvault.KeyVault})
		wantKind(t, "vault name "+name, err, tresor.Invalid)
	}
}

func TestRandomBytes(t *testing.T) {
	f := newFixture(t)
	mhsm := f.vault(t, keyvault.Vault{Name: "mhsm-rng", Kind: keyvault.ManagedHSM, SoftDelete: true})
	kv := f.vault(t, keyvault.Vault{Name: "kv-rng", SoftDelete: true})
	b, err := f.svc.GetRandomBytes(f.ctx, mhsm, 32)
	if err != nil || len(b) != 32 {
		t.Fatalf("GetRandomBytes(32) = %d bytes, %v", len(b), err)
	}
	for _, n := range []int{0, -1, 129} {
		_, err := f.svc.GetRandomBytes(f.ctx, mhsm, n)
		wantKind(t, "GetRandomBytes", err, tresor.Invalid)
	}
	_, err = f.svc.GetRandomBytes(f.ctx, kv, 8)
	wantKind(t, "GetRandomBytes(vault)", err, tresor.NotFound)
}

func ptr[T any](v T) *T { return &v }

func manyTags(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m[string(rune('a'+i))] = "v"
	}
	return m
}

// TestKeyNamesIgnoreCase checks that a key answers to its name in any case,
// that a new version created under another spelling joins the key and
// keeps its first spelling, and that every version still opens its
// material (which is bound to the name).
func TestKeyNamesIgnoreCase(t *testing.T) {
	f := newFixture(t)
	v := f.vault(t, keyvault.Vault{Name: "kv-case", SoftDelete: true, RetentionDays: 7})
	v1, err := f.svc.CreateKey(f.ctx, v, "MyKey", keyvault.CreateKeyParams{Type: keyvault.EC})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Second)
	v2, err := f.svc.CreateKey(f.ctx, v, "MYKEY", keyvault.CreateKeyParams{Type: keyvault.EC})
	if err != nil {
		t.Fatal(err)
	}
	if v2.Name != "MyKey" {
		t.Errorf("new version under MYKEY has name %q, want the first spelling MyKey", v2.Name)
	}
	digest := sha256.Sum256([]byte("doc"))
	for _, tc := range []struct{ name, version string }{{"mykey", v1.Version}, {"MyKEY", v2.Version}, {"MYKEY", ""}} {
		sig, err := f.svc.Sign(f.ctx, v, tc.name, tc.version, hsm.ES256, digest[:])
		if err != nil {
			t.Fatalf("Sign(%s, %q) = %v", tc.name, tc.version, err)
		}
		if ok, err := f.svc.Verify(f.ctx, v, "MyKey", sig.Key.Version, hsm.ES256, digest[:], sig.Value); err != nil || !ok {
			t.Errorf("Verify(MyKey) of a signature by %s = %v, %v", tc.name, ok, err)
		}
	}
	if _, err := f.svc.DeleteKey(f.ctx, v, "mykey"); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.CreateKey(f.ctx, v, "MYKEY", keyvault.CreateKeyParams{Type: keyvault.EC})
	wantKind(t, "CreateKey(MYKEY) while mykey is deleted", err, tresor.Conflict)
	if _, err := f.svc.RecoverDeletedKey(f.ctx, v, "MyKey"); err != nil {
		t.Fatal(err)
	}
}
