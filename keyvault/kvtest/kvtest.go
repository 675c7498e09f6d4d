// Package kvtest supports testing keyvault: TestStore, the conformance
// suite every keyvault.Store implementation passes, and NewMemStore, an
// in-memory Store that passes it and serves as a fake.
package kvtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/hsm"
	"github.com/tresorkms/tresor/keyvault"
)

// TestStore checks that the Stores returned by open keep every contract of
// keyvault.Store. open is called once per subtest and must return an empty
// Store; it registers its own cleanup with t.Cleanup.
//
// Beyond the doc comments of keyvault.Store, the suite pins down what
// callers rely on:
//   - vault names, key names, and the subscription and resource group of a
//     VaultFilter, compare case-insensitively, as Azure's do (key names are
//     ASCII letters, digits and dashes); each key version keeps the
//     spelling it was stored with, and listings order keys by name
//     ignoring case;
//   - a key's newest version is the one created last, whatever its Created
//     time says, and KeyVersions lists versions in creation order;
//   - every write that fails leaves the Store as it was;
//   - times come back in UTC, truncated to the second;
//   - nil and empty maps, slices and byte strings are interchangeable, but a
//     nil ReleasePolicy stays nil and a set one stays set;
//   - a page holds at most Max items (25 if Max is zero or above 25), the
//     continuation is "" exactly when nothing follows, and a malformed
//     continuation is Invalid;
//   - CreateKeyVersion and RestoreKey into a vault that does not exist are
//     NotFound, as are DeleteKey, RecoverKey and PurgeKey of a key that is
//     not in the state they act on.
func TestStore(t *testing.T, open func(t *testing.T) keyvault.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s keyvault.Store)
	}{
		{"VaultRoundTrip", testVaultRoundTrip},
		{"CreateVault", testCreateVault},
		{"Vault", testVault},
		{"UpdateVault", testUpdateVault},
		{"Vaults", testVaults},
		{"PurgeVault", testPurgeVault},
		{"KeyVersionRoundTrip", testKeyVersionRoundTrip},
		{"CreateKeyVersion", testCreateKeyVersion},
		{"KeyVersion", testKeyVersion},
		{"NewestVersion", testNewestVersion},
		{"UpdateKeyVersion", testUpdateKeyVersion},
		{"Keys", testKeys},
		{"KeysPaging", testKeysPaging},
		{"KeysPagingWhileChanging", testKeysPagingWhileChanging},
		{"KeyVersionsPaging", testKeyVersionsPaging},
		{"DeletedKeysPaging", testDeletedKeysPaging},
		{"MalformedContinuation", testMalformedContinuation},
		{"DeleteKey", testDeleteKey},
		{"RecoverKey", testRecoverKey},
		{"PurgeKey", testPurgeKey},
		{"RestoreKey", testRestoreKey},
		{"RestoreKeyAtomic", testRestoreKeyAtomic},
		{"Copies", testCopies},
		{"KeyNamesIgnoreCase", testKeyNamesIgnoreCase},
		{"RotationPolicy", testRotationPolicy},
		{"DueRotations", testDueRotations},
		{"DueExpiryEvents", testDueExpiryEvents},
		{"EventsRaisedWithChanges", testEventsRaised},
		{"DuePurges", testDuePurges},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, open(t)) })
	}
}

// equate makes nil and empty maps, slices and byte strings equal.
var equate = cmpopts.EquateEmpty()

// t0 is a fixed time with the second precision that Stores keep.
var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// cet is a zone other than UTC, to check that times come back in UTC.
var cet = time.FixedZone("CET", 3600)

// fullVault returns a vault with every field set.
func fullVault(id, name string, kind keyvault.VaultKind) keyvault.Vault {
	return keyvault.Vault{
		Kind: kind, Name: name, ID: id,
		TenantID: "tenant-" + id, SubscriptionID: "sub", ResourceGroup: "rg", Location: "westeurope",
		Tags: map[string]string{"env": "test", "owner": "team ü", "empty": ""},
		SKU:  "premium",

		SoftDelete: true, RetentionDays: 7, PurgeProtection: true, RBAC: true,

		EnabledForDeployment: true, EnabledForDiskEncryption: true, EnabledForTemplateDeployment: true,
		PublicNetworkAccess: "Enabled",
		AccessPolicies: []keyvault.AccessPolicy{
			{TenantID: "tenant", ObjectID: "oid-1", ApplicationID: "app-1",
				Keys: []string{"get", "wrapKey"}, Secrets: []string{"get"}, Certificates: []string{"list"}, Storage: []string{"set"}},
			{TenantID: "tenant", ObjectID: "oid-2", Keys: []string{"all"}},
		},
		InitialAdmins: []string{"admin-1", "admin-2"},

		Created: t0, Updated: t0.Add(time.Minute),
	}
}

// fullVersion returns the i-th version of a key with every field set.
// Versions of different i differ in every field but the name and vault.
func fullVersion(vaultID, name string, i int) keyvault.KeyVersion {
	at := t0.Add(time.Duration(i) * time.Second)
	return keyvault.KeyVersion{
		VaultID: vaultID, Name: name, Version: versionID(i),
		Type: keyvault.RSAHSM, Size: 2048 + i, Curve: hsm.P256,
		Public: hsm.PublicKey{
			Type: hsm.RSA, N: []byte{0, 1, 2, byte(i), 0xff}, E: []byte{1, 0, 1},
			Curve: hsm.P384, X: []byte{3, byte(i)}, Y: []byte{4, 0},
		},
		Ops:       []keyvault.KeyOp{keyvault.OpWrapKey, keyvault.OpUnwrapKey, keyvault.KeyOp(fmt.Sprint("op", i))},
		Enabled:   true,
		NotBefore: at.Add(-time.Hour), Expires: at.AddDate(1, 0, 0),
		Created: at, Updated: at.Add(time.Minute),
		Exportable: true,
		ReleasePolicy: &keyvault.ReleasePolicy{
			ContentType: "application/json; charset=utf-8", Data: fmt.Appendf(nil, `{"version":"1.0.0","i":%d}`, i), Immutable: true,
		},
		Tags:   map[string]string{"i": fmt.Sprint(i), "purpose": "test"},
		Handle: hsm.Handle{0, 9, 9, byte(i), 0xff},
	}
}

// versionID returns a version id in Azure's shape, distinct for each i.
func versionID(i int) string { return fmt.Sprintf("%032x", i+1) }

// must fails the test at once if err is not nil.
func must(tb testing.TB, op string, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s = %v, want nil", op, err)
	}
}

// wantKind reports an error unless err is a tresor.Error of kind k.
func wantKind(tb testing.TB, op string, err error, k tresor.Kind) {
	tb.Helper()
	if err == nil || tresor.KindOf(err) != k {
		tb.Errorf("%s = %v, want kind %v", op, err, k)
	}
}

// wantUTC reports an error for every time not in UTC.
func wantUTC(tb testing.TB, what string, times ...time.Time) {
	tb.Helper()
	for i, tm := range times {
		if tm.Location() != time.UTC {
			tb.Errorf("%s: time %d is in %v, want UTC", what, i, tm.Location())
		}
	}
}

func vaultTimes(v keyvault.Vault) []time.Time {
	return []time.Time{v.Created, v.Updated, v.Deleted, v.PurgeAt}
}

func versionTimes(kv keyvault.KeyVersion) []time.Time {
	return []time.Time{kv.NotBefore, kv.Expires, kv.Created, kv.Updated}
}

// pageSize is the number of items a page of p holds at most.
func pageSize(p keyvault.Page) int {
	if p.Max <= 0 || p.Max > 25 {
		return 25
	}
	return p.Max
}

// walk lists every page of size max in turn and returns all items and the
// number of pages. It checks that no page is too large and that the walk
// ends.
func walk[T any](tb testing.TB, op string, size int, list func(keyvault.Page) ([]T, string, error)) ([]T, int) {
	tb.Helper()
	p := keyvault.Page{Max: size}
	var all []T
	for pages := 1; ; pages++ {
		items, next, err := list(p)
		if err != nil {
			tb.Fatalf("%s(page %d, %+v) = %v", op, pages, p, err)
		}
		if len(items) > pageSize(p) {
			tb.Errorf("%s(page %d, %+v) returned %d items, want at most %d", op, pages, p, len(items), pageSize(p))
		}
		all = append(all, items...)
		if next == "" {
			return all, pages
		}
		if pages > 1000 {
			tb.Fatalf("%s: no end after %d pages", op, pages)
		}
		p.After = next
	}
}

// wantPages is the number of pages a walk over n items with Page.Max m
// takes. There is always at least one page, and no empty page at the end.
func wantPages(n, m int) int {
	size := pageSize(keyvault.Page{Max: m})
	return max(1, (n+size-1)/size)
}

// noError is the kind a table test wants when the operation succeeds.
const noError tresor.Kind = 255

// wantResult checks err against a table's want: nil for noError, a
// tresor.Error of kind k otherwise.
func wantResult(tb testing.TB, op string, err error, k tresor.Kind) {
	tb.Helper()
	if k == noError {
		if err != nil {
			tb.Errorf("%s = %v, want nil", op, err)
		}
		return
	}
	wantKind(tb, op, err, k)
}
