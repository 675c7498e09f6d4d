package kvtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/hsm"
	"github.com/tresorkms/tresor/keyvault"
)

// newVaults creates a vault for each id, named after it.
func newVaults(tb testing.TB, s keyvault.Store, ids ...string) {
	tb.Helper()
	for _, id := range ids {
		must(tb, "CreateVault("+id+")", s.CreateVault(tb.Context(), fullVault(id, "kv-"+id, keyvault.KeyVault)))
	}
}

// create stores versions in order and returns them.
func create(tb testing.TB, s keyvault.Store, kvs ...keyvault.KeyVersion) []keyvault.KeyVersion {
	tb.Helper()
	for _, kv := range kvs {
		must(tb, fmt.Sprintf("CreateKeyVersion(%s/%s/%s)", kv.VaultID, kv.Name, kv.Version), s.CreateKeyVersion(tb.Context(), kv))
	}
	return kvs
}

// wantVersion checks that KeyVersion returns want.
func wantVersion(tb testing.TB, s keyvault.Store, vaultID, name, version string, want keyvault.KeyVersion) {
	tb.Helper()
	got, err := s.KeyVersion(tb.Context(), vaultID, name, version)
	if err != nil {
		tb.Errorf("KeyVersion(%s, %s, %q) = %v", vaultID, name, version, err)
		return
	}
	if diff := cmp.Diff(want, got, equate); diff != "" {
		tb.Errorf("KeyVersion(%s, %s, %q) (-want +got):\n%s", vaultID, name, version, diff)
	}
	wantUTC(tb, "KeyVersion", versionTimes(got)...)
}

// wantVersions checks that KeyVersions lists exactly want.
func wantVersions(tb testing.TB, s keyvault.Store, vaultID, name string, want []keyvault.KeyVersion) {
	tb.Helper()
	got, _ := walk(tb, "KeyVersions", 0, func(p keyvault.Page) ([]keyvault.KeyVersion, string, error) {
		return s.KeyVersions(tb.Context(), vaultID, name, p)
	})
	if diff := cmp.Diff(want, got, equate); diff != "" {
		tb.Errorf("KeyVersions(%s, %s) (-want +got):\n%s", vaultID, name, diff)
	}
}

// keyNames returns the names of the keys Keys lists in a vault.
func keyNames(tb testing.TB, s keyvault.Store, vaultID string) []string {
	tb.Helper()
	kvs, _ := walk(tb, "Keys", 0, func(p keyvault.Page) ([]keyvault.KeyVersion, string, error) {
		return s.Keys(tb.Context(), vaultID, p)
	})
	var names []string
	for _, kv := range kvs {
		names = append(names, kv.Name)
	}
	return names
}

func testKeyVersionRoundTrip(t *testing.T, s keyvault.Store) {
	newVaults(t, s, "v1")
	ec := keyvault.KeyVersion{
		VaultID: "v1", Name: "ec", Version: versionID(1), Type: keyvault.EC, Curve: hsm.P521,
		Public: hsm.PublicKey{Type: hsm.EC, Curve: hsm.P521, X: []byte{1, 2}, Y: []byte{0, 3}},
		Ops:    []keyvault.KeyOp{keyvault.OpSign, keyvault.OpVerify}, Enabled: true,
		Created: t0, Updated: t0, Handle: hsm.Handle{1},
	}
	oct := keyvault.KeyVersion{
		VaultID: "v1", Name: "oct", Version: versionID(2), Type: keyvault.OctHSM, Size: 256,
		Ops: []keyvault.KeyOp{keyvault.OpWrapKey}, Created: t0, Updated: t0, Handle: hsm.Handle{2, 0, 0},
	}
	minimal := keyvault.KeyVersion{VaultID: "v1", Name: "minimal", Version: versionID(3), Type: keyvault.RSA, Created: t0, Updated: t0}
	emptyPolicy := fullVersion("v1", "empty-policy", 4)
	emptyPolicy.ReleasePolicy = &keyvault.ReleasePolicy{}
	mutablePolicy := fullVersion("v1", "mutable-policy", 5)
	mutablePolicy.ReleasePolicy.Immutable = false
	empty := fullVersion("v1", "empty", 6)
	empty.Tags, empty.Ops, empty.Handle = map[string]string{}, []keyvault.KeyOp{}, hsm.Handle{}
	empty.Public = hsm.PublicKey{Type: hsm.RSA, N: []byte{}, E: []byte{}}
	zoned := fullVersion("v1", "zoned", 7)
	zoned.NotBefore, zoned.Expires = t0.In(cet).Add(time.Millisecond), t0.In(cet).Add(time.Second-1)
	zoned.Created, zoned.Updated = zoned.NotBefore, zoned.Expires
	zonedWant := zoned
	zonedWant.NotBefore, zonedWant.Expires, zonedWant.Created, zonedWant.Updated = t0, t0, t0, t0

	tests := []struct {
		name string
		kv   keyvault.KeyVersion
		want keyvault.KeyVersion
	}{
		{"every field", fullVersion("v1", "full", 0), fullVersion("v1", "full", 0)},
		{"EC", ec, ec},
		{"oct", oct, oct},
		{"minimal", minimal, minimal},
		{"empty release policy", emptyPolicy, emptyPolicy},
		{"mutable release policy", mutablePolicy, mutablePolicy},
		{"empty collections", empty, empty},
		{"other zone, sub-second", zoned, zonedWant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			create(t, s, tt.kv)
			wantVersion(t, s, "v1", tt.kv.Name, tt.kv.Version, tt.want)
			wantVersion(t, s, "v1", tt.kv.Name, "", tt.want)
			wantVersions(t, s, "v1", tt.kv.Name, []keyvault.KeyVersion{tt.want})
			keys, _ := walk(t, "Keys", 0, func(p keyvault.Page) ([]keyvault.KeyVersion, string, error) {
				return s.Keys(t.Context(), "v1", p)
			})
			for _, kv := range keys {
				if kv.Name == tt.kv.Name {
					if diff := cmp.Diff(tt.want, kv, equate); diff != "" {
						t.Errorf("Keys() round trip (-want +got):\n%s", diff)
					}
					wantUTC(t, "Keys", versionTimes(kv)...)
				}
			}
		})
	}
}

func testCreateKeyVersion(t *testing.T, s keyvault.Store) {
	ctx := t.Context()
	newVaults(t, s, "v1", "v2")
	k0 := create(t, s, fullVersion("v1", "k", 0))[0]
	gone := create(t, s, fullVersion("v1", "gone", 0))[0]
	must(t, "DeleteKey", s.DeleteKey(ctx, "v1", "gone", keyvault.Deletion{Deleted: t0, PurgeAt: t0.Add(time.Hour)}))

	dup := fullVersion("v1", "k", 0)
	dup.Tags, dup.Handle = map[string]string{"dup": "yes"}, hsm.Handle{7}
	tests := []struct {
		name string
		kv   keyvault.KeyVersion
		want tresor.Kind
	}{
		{"new key", fullVersion("v1", "new", 0), noError},
		{"new version", fullVersion("v1", "k", 1), noError},
		{"version exists", dup, tresor.Conflict},
		{"version id of another key", fullVersion("v1", "other", 1), noError},
		{"same key in another vault", fullVersion("v2", "k", 0), noError},
		{"deleted key", fullVersion("v1", "gone", 1), tresor.Conflict},
		{"missing vault", fullVersion("v9", "k", 0), tresor.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantResult(t, "CreateKeyVersion", s.CreateKeyVersion(ctx, tt.kv), tt.want)
			if tt.want == noError {
				wantVersion(t, s, tt.kv.VaultID, tt.kv.Name, "", tt.kv)
			}
		})
	}
	// Failed creates left everything as it was.
	wantVersions(t, s, "v1", "k", []keyvault.KeyVersion{k0, fullVersion("v1", "k", 1)})
	dk, err := s.DeletedKey(ctx, "v1", "gone")
	must(t, "DeletedKey", err)
	if diff := cmp.Diff(gone, dk.Latest, equate); diff != "" {
		t.Errorf("DeletedKey after a refused CreateKeyVersion (-want +got):\n%s", diff)
	}
	_, err = s.KeyVersion(ctx, "v9", "k", "")
	wantKind(t, "KeyVersion(missing vault)", err, tresor.NotFound)
}

func testKeyVersion(t *testing.T, s keyvault.Store) {
	ctx := t.Context()
	newVaults(t, s, "v1", "v2")
	k := create(t, s, fullVersion("v1", "k", 0), fullVersion("v1", "k", 1), fullVersion("v1", "k", 2))
	create(t, s, fullVersion("v1", "other", 5))
	v2k := create(t, s, fullVersion("v2", "k", 9))[0]
	create(t, s, fullVersion("v1", "gone", 0))
	must(t, "DeleteKey", s.DeleteKey(ctx, "v1", "gone", keyvault.Deletion{Deleted: t0, PurgeAt: t0.Add(time.Hour)}))

	tests := []struct {
		vaultID, name, version string
		want                   keyvault.KeyVersion
		err                    tresor.Kind
	}{
		{"v1", "k", "", k[2], noError},
		{"v1", "k", k[0].Version, k[0], noError},
		{"v1", "k", k[1].Version, k[1], noError},
		{"v1", "k", k[2].Version, k[2], noError},
		{"v2", "k", "", v2k, noError},
		{"v1", "k", versionID(5), keyvault.KeyVersion{}, tresor.NotFound}, // another key's
		{"v1", "k", versionID(9), keyvault.KeyVersion{}, tresor.NotFound}, // another vault's
		{"v1", "k", "ffff", keyvault.KeyVersion{}, tresor.NotFound},
		{"v1", "nope", "", keyvault.KeyVersion{}, tresor.NotFound},
		{"v1", "gone", "", keyvault.KeyVersion{}, tresor.NotFound},
		{"v1", "gone", versionID(0), keyvault.KeyVersion{}, tresor.NotFound},
		{"v9", "k", "", keyvault.KeyVersion{}, tresor.NotFound},
	}
	for _, tt := range tests {
		op := fmt.Sprintf("KeyVersion(%s, %s, %q)", tt.vaultID, tt.name, tt.version)
		got, err := s.KeyVersion(ctx, tt.vaultID, tt.name, tt.version)
		wantResult(t, op, err, tt.err)
		if diff := cmp.Diff(tt.want, got, equate); err == nil && diff != "" {
			t.Errorf("%s (-want +got):\n%s", op, diff)
		}
	}
}

func testNewestVersion(t *testing.T, s keyvault.Store) {
	ctx := t.Context()
	newVaults(t, s, "v1")
	tests := []struct {
		name    string
		created func(i int) time.Time
	}{
		{"same second", func(int) time.Time { return t0 }},
		{"clock forward", func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }},
		{"clock backward", func(i int) time.Time { return t0.Add(-time.Duration(i) * time.Hour) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []keyvault.KeyVersion
			for i := range 5 {
				// Version ids run backwards, so that their order is not
				// creation order either.
				kv := fullVersion("v1", tt.name, 20-i)
				kv.Created = tt.created(i)
				want = append(want, kv)
			}
			create(t, s, want...)
			wantVersion(t, s, "v1", tt.name, "", want[4])
			wantVersions(t, s, "v1", tt.name, want)
			keys, _, err := s.Keys(ctx, "v1", keyvault.Page{})
			must(t, "Keys", err)
			for _, kv := range keys {
				if kv.Name == tt.name && kv.Version != want[4].Version {
					t.Errorf("Keys() lists %s at version %s, want %s", kv.Name, kv.Version, want[4].Version)
				}
			}
			must(t, "DeleteKey", s.DeleteKey(ctx, "v1", tt.name, keyvault.Deletion{Deleted: t0, PurgeAt: t0}))
			dk, err := s.DeletedKey(ctx, "v1", tt.name)
			must(t, "DeletedKey", err)
			if dk.Latest.Version != want[4].Version {
				t.Errorf("DeletedKey().Latest.Version = %s, want %s", dk.Latest.Version, want[4].Version)
			}
		})
	}
}

func testUpdateKeyVersion(t *testing.T, s keyvault.Store) {
	ctx := t.Context()
	newVaults(t, s, "v1", "v2")
	k := create(t, s, fullVersion("v1", "k", 0), fullVersion("v1", "k", 1), fullVersion("v1", "k", 2))
	create(t, s, fullVersion("v1", "gone", 0))
	must(t, "DeleteKey", s.DeleteKey(ctx, "v1", "gone", keyvault.Deletion{Deleted: t0, PurgeAt: t0.Add(time.Hour)}))

	changed := fullVersion("v1", "k", 7) // every field differs from version 1's
	changed.Version = k[1].Version
	cleared := changed
	cleared.Enabled, cleared.Exportable, cleared.ReleasePolicy = false, false, nil
	cleared.Tags, cleared.Ops, cleared.NotBefore, cleared.Expires = nil, nil, time.Time{}, time.Time{}
	setPolicy := cleared
	setPolicy.ReleasePolicy = &keyvault.ReleasePolicy{ContentType: "application/json"}
	missingVersion := fullVersion("v1", "k", 8)
	otherVault := fullVersion("v2", "k", 1)
	deleted := fullVersion("v1", "gone", 0)
	deleted.Enabled = false

	tests := []struct {
		name string
		kv   keyvault.KeyVersion
		want tresor.Kind
	}{
		{"every field", changed, noError},
		{"cleared", cleared, noError},
		{"release policy set", setPolicy, noError},
		{"missing version", missingVersion, tresor.NotFound},
		{"missing key", fullVersion("v1", "nope", 0), tresor.NotFound},
		{"other vault", otherVault, tresor.NotFound},
		{"missing vault", fullVersion("v9", "k", 1), tresor.NotFound},
		{"deleted key", deleted, tresor.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantResult(t, "UpdateKeyVersion", s.UpdateKeyVersion(ctx, tt.kv), tt.want)
			if tt.want == noError {
				k[1] = tt.kv
			}
			wantVersions(t, s, "v1", "k", k) // the update did not change the order
			wantVersion(t, s, "v1", "k", "", k[2])
		})
	}
	dk, err := s.DeletedKey(ctx, "v1", "gone")
	must(t, "DeletedKey", err)
	if !dk.Latest.Enabled {
		t.Errorf("UpdateKeyVersion changed a deleted key")
	}
	_, err = s.KeyVersion(ctx, "v1", "k", missingVersion.Version)
	wantKind(t, "KeyVersion(missing version)", err, tresor.NotFound)
}

func testKeys(t *testing.T, s keyvault.Store) {
	ctx := t.Context()
	newVaults(t, s, "v1", "v2", "v3")
	// Byte order, not natural order: '-' sorts before the digits.
	b := create(t, s, fullVersion("v1", "key0", 0))
	a := create(t, s, fullVersion("v1", "key-2", 1), fullVersion("v1", "key-2", 2), fullVersion("v1", "key-2", 3))
	c := create(t, s, fullVersion("v1", "key-10", 4))
	d := create(t, s, fullVersion("v1", "key-1", 5))
	create(t, s, fullVersion("v1", "deleted", 6))
	must(t, "DeleteKey", s.DeleteKey(ctx, "v1", "deleted", keyvault.Deletion{Deleted: t0, PurgeAt: t0.Add(time.Hour)}))
	create(t, s, fullVersion("v1", "purged", 7))
	must(t, "PurgeKey", s.PurgeKey(ctx, "v1", "purged"))
	e := create(t, s, fullVersion("v2", "key-2", 8))

	tests := []struct {
		vaultID string
		want    []keyvault.KeyVersion
	}{
		{"v1", []keyvault.KeyVersion{d[0], c[0], a[2], b[0]}},
		{"v2", e},
		{"v3", nil},
	}
	for _, tt := range tests {
		got, next, err := s.Keys(ctx, tt.vaultID, keyvault.Page{})
		must(t, "Keys", err)
		if diff := cmp.Diff(tt.want, got, equate); diff != "" {
			t.Errorf("Keys(%s) (-want +got):\n%s", tt.vaultID, diff)
		}
		if next != "" {
			t.Errorf("Keys(%s) continuation = %q, want \"\"", tt.vaultID, next)
		}
	}
}

func testKeysPaging(t *testing.T, s keyvault.Store) {
	ctx := t.Context()
	newVaults(t, s, "v1", "v2")
	var want []string
	for i := range 30 {
		j := i * 7 % 30 // out of name order
		create(t, s, fullVersion("v1", fmt.Sprintf("key-%02d", j), j))
	}
	for i := range 30 {
		if i != 5 {
			want = append(want, fmt.Sprintf("key-%02d", i))
		}
	}
	create(t, s, fullVersion("v1", "key-07", 40), fullVersion("v1", "key-07", 41))
	must(t, "DeleteKey", s.DeleteKey(ctx, "v1", "key-05", keyvault.Deletion{Deleted: t0, PurgeAt: t0.Add(time.Hour)}))
	create(t, s, fullVersion("v2", "elsewhere", 0))

	for size := 0; size <= 26; size++ {
		got, pages := walk(t, "Keys", size, func(p keyvault.Page) ([]keyvault.KeyVersion, string, error) {
			return s.Keys(ctx, "v1", p)
		})
		var names []string
		for _, kv := range got {
			names = append(names, kv.Name)
			if kv.Name == "key-07" && kv.Version != versionID(41) {
				t.Errorf("Keys(Max %d) lists key-07 at version %s, want the newest, %s", size, kv.Version, versionID(41))
			}
		}
		if diff := cmp.Diff(want, names); diff != "" {
			t.Errorf("Keys(Max %d) (-want +got):\n%s", size, diff)
		}
		if pages != wantPages(len(want), size) {
			t.Errorf("Keys(Max %d) took %d pages for %d keys, want %d", size, pages, len(want), wantPages(len(want), size))
		}
	}
}

// testKeysPagingWhileChanging checks that a continuation stays valid while
// keys come and go: the walk sees keys created after its position and does
// not see keys deleted or purged there, and sees no key twice.
func testKeysPagingWhileChanging(t *testing.T, s keyvault.Store) {
	ctx := t.Context()
	newVaults(t, s, "v1")
	for i := range 10 {
		create(t, s, fullVersion("v1", fmt.Sprintf("k-%02d", i), i))
	}
	first, next, err := s.Keys(ctx, "v1", keyvault.Page{Max: 4})
	must(t, "Keys", err)
	if len(first) != 4 || first[3].Name != "k-03" || next == "" {
		t.Fatalf("Keys(Max 4) = %d keys ending %v, continuation %q; want k-00 to k-03 and a continuation", len(first), first, next)
	}
	create(t, s, fullVersion("v1", "k-00a", 20), fullVersion("v1", "k-05a", 21))
	must(t, "DeleteKey", s.DeleteKey(ctx, "v1", "k-06", keyvault.Deletion{Deleted: t0, PurgeAt: t0}))
	must(t, "PurgeKey", s.PurgeKey(ctx, "v1", "k-03")) // the key the continuation points at
	var got []string
	p := keyvault.Page{Max: 2, After: next}
	for range 100 {
		page, next, err := s.Keys(ctx, "v1", p)
		must(t, "Keys", err)
		for _, kv := range page {
			got = append(got, kv.Name)
		}
		if next == "" {
			break
		}
		p.After = next
	}
	want := []string{"k-04", "k-05", "k-05a", "k-07", "k-08", "k-09"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Keys after changes behind and ahead of the continuation (-want +got):\n%s", diff)
	}
}

func testKeyVersionsPaging(t *testing.T, s keyvault.Store) {
	ctx := t.Context()
	newVaults(t, s, "v1")
	var want []keyvault.KeyVersion
	for i := range 30 {
		// Version ids out of creation order, and another key's versions
		// created in between.
		kv := fullVersion("v1", "k", i*7%30)
		want = append(want, kv)
		create(t, s, kv, fullVersion("v1", "j", i))
	}
	create(t, s, fullVersion("v1", "gone", 0))
	must(t, "DeleteKey", s.DeleteKey(ctx, "v1", "gone", keyvault.Deletion{Deleted: t0, PurgeAt: t0}))

	for size := 0; size <= 26; size++ {
		got, pages := walk(t, "KeyVersions", size, func(p keyvault.Page) ([]keyvault.KeyVersion, string, error) {
			return s.KeyVersions(ctx, "v1", "k", p)
		})
		if diff := cmp.Diff(want, got, equate); diff != "" {
			t.Errorf("KeyVersions(Max %d) (-want +got):\n%s", size, diff)
		}
		if pages != wantPages(len(want), size) {
			t.Errorf("KeyVersions(Max %d) took %d pages for %d versions, want %d", size, pages, len(want), wantPages(len(want), size))
		}
	}
	for _, name := range []string{"nope", "gone"} {
		_, _, err := s.KeyVersions(ctx, "v1", name, keyvault.Page{})
		wantKind(t, "KeyVersions("+name+")", err, tresor.NotFound)
	}
}

func testMalformedContinuation(t *testing.T, s keyvault.Store) {
	ctx := t.Context()
	newVaults(t, s, "v1")
	create(t, s, fullVersion("v1", "k", 0))
	lists := []struct {
		name string
		list func(p keyvault.Page) error
	}{
		{"Keys", func(p keyvault.Page) error { _, _, err := s.Keys(ctx, "v1", p); return err }},
		{"KeyVersions", func(p keyvault.Page) error { _, _, err := s.KeyVersions(ctx, "v1", "k", p); return err }},
		{"DeletedKeys", func(p keyvault.Page) error { _, _, err := s.DeletedKeys(ctx, "v1", p); return err }},
	}
	for _, l := range lists {
		for _, after := range []string{"!!!", "a b", "%zz"} {
			wantKind(t, fmt.Sprintf("%s(After %q)", l.name, after), l.list(keyvault.Page{After: after}), tresor.Invalid)
		}
	}
}
