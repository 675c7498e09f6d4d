package kvtest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/keyvault"
)

// wantGone checks that a key is neither live nor deleted.
func wantGone(tb testing.TB, s keyvault.Store, vaultID, name string) {
	tb.Helper()
	ctx := tb.Context()
	_, err := s.KeyVersion(ctx, vaultID, name, "")
	wantKind(tb, fmt.Sprintf("KeyVersion(%s, %s)", vaultID, name), err, tresor.NotFound)
	_, _, err = s.KeyVersions(ctx, vaultID, name, keyvault.Page{})
	wantKind(tb, fmt.Sprintf("KeyVersions(%s, %s)", vaultID, name), err, tresor.NotFound)
	_, err = s.DeletedKey(ctx, vaultID, name)
	wantKind(tb, fmt.Sprintf("DeletedKey(%s, %s)", vaultID, name), err, tresor.NotFound)
	if slices.Contains(keyNames(tb, s, vaultID), name) {
		tb.Errorf("Keys(%s) lists %s", vaultID, name)
	}
	if slices.Contains(deletedNames(tb, s, vaultID), name) {
		tb.Errorf("DeletedKeys(%s) lists %s", vaultID, name)
	}
}

// deletedNames returns the names of the keys DeletedKeys lists in a vault.
func deletedNames(tb testing.TB, s keyvault.Store, vaultID string) []string {
	tb.Helper()
	dks, _ := walk(tb, "DeletedKeys", 0, func(p keyvault.Page) ([]keyvault.DeletedKey, string, error) {
		return s.DeletedKeys(tb.Context(), vaultID, p)
	})
	var names []string
	for _, dk := range dks {
		names = append(names, dk.Latest.Name)
	}
	return names
}

func testDeleteKey(t *testing.T, s keyvault.Store) {
	ctx := t.Context()
	newVaults(t, s, "v1", "v2")
	k := create(t, s, fullVersion("v1", "k", 0), fullVersion("v1", "k", 1))
	create(t, s, fullVersion("v1", "live", 2))
	v2k := create(t, s, fullVersion("v2", "k", 3))
	d := keyvault.Deletion{Deleted: t0.In(cet), PurgeAt: t0.AddDate(0, 0, 7).In(cet)}
	must(t, "DeleteKey", s.DeleteKey(ctx, "v1", "k", d))

	// The deleted key is invisible to everything but the deleted-key methods.
	checks := []struct {
		op   string
		err  error
		want tresor.Kind
	}{
		{"KeyVersion(newest)", second(s.KeyVersion(ctx, "v1", "k", "")), tresor.NotFound},
		{"KeyVersion(version)", second(s.KeyVersion(ctx, "v1", "k", k[0].Version)), tresor.NotFound},
		{"KeyVersions", third(s.KeyVersions(ctx, "v1", "k", keyvault.Page{})), tresor.NotFound},
		{"UpdateKeyVersion", s.UpdateKeyVersion(ctx, k[1]), tresor.NotFound},
		{"CreateKeyVersion", s.CreateKeyVersion(ctx, fullVersion("v1", "k", 9)), tresor.Conflict},
		{"DeleteKey(deleted)", s.DeleteKey(ctx, "v1", "k", d), tresor.NotFound},
		{"DeleteKey(missing)", s.DeleteKey(ctx, "v1", "nope", d), tresor.NotFound},
		{"DeleteKey(missing vault)", s.DeleteKey(ctx, "v9", "k", d), tresor.NotFound},
		{"DeletedKey(live)", second(s.DeletedKey(ctx, "v1", "live")), tresor.NotFound},
		{"DeletedKey(missing)", second(s.DeletedKey(ctx, "v1", "nope")), tresor.NotFound},
		{"DeletedKey(other vault)", second(s.DeletedKey(ctx, "v2", "k")), tresor.NotFound},
	}
	for _, c := range checks {
		wantResult(t, c.op, c.err, c.want)
	}
	if diff := cmp.Diff([]string{"live"}, keyNames(t, s, "v1")); diff != "" {
		t.Errorf("Keys(v1) after DeleteKey (-want +got):\n%s", diff)
	}
	wantVersion(t, s, "v2", "k", "", v2k[0])

	dk, err := s.DeletedKey(ctx, "v1", "k")
	must(t, "DeletedKey", err)
	want := keyvault.DeletedKey{Latest: k[1], Deletion: keyvault.Deletion{Deleted: t0, PurgeAt: t0.AddDate(0, 0, 7)}}
	if diff := cmp.Diff(want, dk, equate); diff != "" {
		t.Errorf("DeletedKey (-want +got):\n%s", diff)
	}
	wantUTC(t, "DeletedKey", append(versionTimes(dk.Latest), dk.Deleted, dk.PurgeAt)...)

	// A key is deleted because DeleteKey was called, not because of what the
	// Deletion says.
	must(t, "DeleteKey(zero Deletion)", s.DeleteKey(ctx, "v1", "live", keyvault.Deletion{}))
	_, err = s.KeyVersion(ctx, "v1", "live", "")
	wantKind(t, "KeyVersion(deleted with zero Deletion)", err, tresor.NotFound)
	dk, err = s.DeletedKey(ctx, "v1", "live")
	must(t, "DeletedKey(zero Deletion)", err)
	if !dk.Deleted.IsZero() || !dk.PurgeAt.IsZero() {
		t.Errorf("DeletedKey(zero Deletion).Deletion = %+v, want zero", dk.Deletion)
	}
}

func second[T any](_ T, err error) error        { return err }
func third[T, U any](_ T, _ U, err error) error { return err }
func deletion(i int) keyvault.Deletion {
	return keyvault.Deletion{Deleted: t0.Add(time.Duration(i) * time.Minute), PurgeAt: t0.AddDate(0, 0, 7+i)}
}
func deletedKey(kv keyvault.KeyVersion, i int) keyvault.DeletedKey {
	return keyvault.DeletedKey{Latest: kv, Deletion: deletion(i)}
}

func testDeletedKeysPaging(t *testing.T, s keyvault.Store) {
	ctx := t.Context()
	newVaults(t, s, "v1", "v2")
	want := make([]keyvault.DeletedKey, 30)
	for i := range 30 {
		j := i * 11 % 30 // out of name order, with live keys in between
		name := fmt.Sprintf("key-%02d", j)
		kv := create(t, s, fullVersion("v1", name, j))[0]
		if j == 3 {
			kv = create(t, s, fullVersion("v1", name, 33))[0]
		}
		create(t, s, fullVersion("v1", fmt.Sprintf("live-%02d", j), j))
		must(t, "DeleteKey", s.DeleteKey(ctx, "v1", name, deletion(j)))
		want[j] = deletedKey(kv, j)
	}
	create(t, s, fullVersion("v2", "elsewhere", 0))
	must(t, "DeleteKey", s.DeleteKey(ctx, "v2", "elsewhere", deletion(0)))

	for size := 0; size <= 26; size++ {
		got, pages := walk(t, "DeletedKeys", size, func(p keyvault.Page) ([]keyvault.DeletedKey, string, error) {
			return s.DeletedKeys(ctx, "v1", p)
		})
		if diff := cmp.Diff(want, got, equate); diff != "" {
			t.Errorf("DeletedKeys(Max %d) (-want +got):\n%s", size, diff)
		}
		if pages != wantPages(len(want), size) {
			t.Errorf("DeletedKeys(Max %d) took %d pages for %d keys, want %d", size, pages, len(want), wantPages(len(want), size))
		}
	}
}

func testRecoverKey(t *testing.T, s keyvault.Store) {
	ctx := t.Context()
	newVaults(t, s, "v1")
	k := create(t, s, fullVersion("v1", "k", 0), fullVersion("v1", "k", 1))
	create(t, s, fullVersion("v1", "live", 2))
	must(t, "DeleteKey", s.DeleteKey(ctx, "v1", "k", deletion(1)))

	must(t, "RecoverKey", s.RecoverKey(ctx, "v1", "k"))
	wantVersions(t, s, "v1", "k", k)
	wantVersion(t, s, "v1", "k", "", k[1])
	_, err := s.DeletedKey(ctx, "v1", "k")
	wantKind(t, "DeletedKey(recovered)", err, tresor.NotFound)
	if names := deletedNames(t, s, "v1"); len(names) != 0 {
		t.Errorf("DeletedKeys after RecoverKey = %v, want none", names)
	}
	if diff := cmp.Diff([]string{"k", "live"}, keyNames(t, s, "v1")); diff != "" {
		t.Errorf("Keys after RecoverKey (-want +got):\n%s", diff)
	}
	k = append(k, create(t, s, fullVersion("v1", "k", 2))...)
	wantVersions(t, s, "v1", "k", k)

	for _, name := range []string{"k", "live", "nope"} {
		wantKind(t, "RecoverKey("+name+")", s.RecoverKey(ctx, "v1", name), tresor.NotFound)
	}
	wantKind(t, "RecoverKey(missing vault)", s.RecoverKey(ctx, "v9", "k"), tresor.NotFound)

	// A second deletion is recorded afresh.
	must(t, "DeleteKey", s.DeleteKey(ctx, "v1", "k", deletion(5)))
	dk, err := s.DeletedKey(ctx, "v1", "k")
	must(t, "DeletedKey", err)
	if diff := cmp.Diff(deletedKey(k[2], 5), dk, equate); diff != "" {
		t.Errorf("DeletedKey after a second deletion (-want +got):\n%s", diff)
	}
}

func testPurgeKey(t *testing.T, s keyvault.Store) {
	ctx := t.Context()
	newVaults(t, s, "v1", "v2")
	other := create(t, s, fullVersion("v2", "live", 0))
	tests := []struct {
		name    string
		deleted bool
	}{
		{"live", false},
		{"deleted", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			create(t, s, fullVersion("v1", tt.name, 0), fullVersion("v1", tt.name, 1))
			if tt.deleted {
				must(t, "DeleteKey", s.DeleteKey(ctx, "v1", tt.name, deletion(0)))
			}
			must(t, "PurgeKey", s.PurgeKey(ctx, "v1", tt.name))
			wantGone(t, s, "v1", tt.name)
			wantKind(t, "PurgeKey(again)", s.PurgeKey(ctx, "v1", tt.name), tresor.NotFound)
			// The name is free, and none of the old versions come back.
			again := create(t, s, fullVersion("v1", tt.name, 1))
			wantVersions(t, s, "v1", tt.name, again)
		})
	}
	wantKind(t, "PurgeKey(missing)", s.PurgeKey(ctx, "v1", "nope"), tresor.NotFound)
	wantKind(t, "PurgeKey(other vault)", s.PurgeKey(ctx, "v2", "deleted"), tresor.NotFound)
	wantKind(t, "PurgeKey(missing vault)", s.PurgeKey(ctx, "v9", "live"), tresor.NotFound)
	wantVersions(t, s, "v2", "live", other)
}

func testPurgeVault(t *testing.T, s keyvault.Store) {
	ctx := t.Context()
	newVaults(t, s, "v1", "v2", "v3")
	create(t, s, fullVersion("v1", "k", 0), fullVersion("v1", "k", 1), fullVersion("v1", "gone", 2))
	must(t, "DeleteKey", s.DeleteKey(ctx, "v1", "gone", deletion(0)))
	v2k := create(t, s, fullVersion("v2", "k", 0))
	create(t, s, fullVersion("v3", "k", 0))
	v3 := fullVault("v3", "kv-v3", keyvault.KeyVault)
	v3.Deleted, v3.PurgeAt = t0, t0.AddDate(0, 0, 7)
	must(t, "UpdateVault", s.UpdateVault(ctx, v3))

	for _, v := range []string{"v1", "v3"} { // a live vault and a deleted one
		must(t, "PurgeVault("+v+")", s.PurgeVault(ctx, v))
		_, err := s.Vault(ctx, keyvault.KeyVault, "kv-"+v)
		wantKind(t, "Vault(purged)", err, tresor.NotFound)
		wantKind(t, "PurgeVault(again)", s.PurgeVault(ctx, v), tresor.NotFound)
	}
	for _, deleted := range []bool{false, true} {
		list, err := s.Vaults(ctx, keyvault.VaultFilter{Deleted: deleted})
		must(t, "Vaults", err)
		for _, v := range list {
			if v.ID != "v2" {
				t.Errorf("Vaults(deleted %v) lists purged vault %s", deleted, v.ID)
			}
		}
	}
	wantVersions(t, s, "v2", "k", v2k)
	wantKind(t, "PurgeVault(missing)", s.PurgeVault(ctx, "v9"), tresor.NotFound)

	// A vault created again under the same id and name starts empty.
	newVaults(t, s, "v1")
	wantGone(t, s, "v1", "k")
	wantGone(t, s, "v1", "gone")
	again := create(t, s, fullVersion("v1", "k", 0))
	wantVersions(t, s, "v1", "k", again)
}

func testRestoreKey(t *testing.T, s keyvault.Store) {
	ctx := t.Context()
	newVaults(t, s, "v1", "v2")
	var restored []keyvault.KeyVersion
	for i := range 3 { // version ids and times out of order
		kv := fullVersion("v1", "r", 10-i)
		kv.Created = t0.Add(-time.Duration(i) * time.Hour)
		restored = append(restored, kv)
	}
	must(t, "RestoreKey", s.RestoreKey(ctx, restored))
	wantVersions(t, s, "v1", "r", restored)
	wantVersion(t, s, "v1", "r", "", restored[2])
	if !slices.Contains(keyNames(t, s, "v1"), "r") {
		t.Errorf("Keys does not list a restored key")
	}
	create(t, s, fullVersion("v1", "r", 20)) // a restored key takes new versions
	restored = append(restored, fullVersion("v1", "r", 20))

	gone := create(t, s, fullVersion("v1", "gone", 0))
	must(t, "DeleteKey", s.DeleteKey(ctx, "v1", "gone", deletion(0)))
	tests := []struct {
		name string
		kvs  []keyvault.KeyVersion
		want tresor.Kind
	}{
		{"live name", []keyvault.KeyVersion{fullVersion("v1", "r", 30)}, tresor.Conflict},
		{"live name, same versions", restored[:3], tresor.Conflict},
		{"deleted name", []keyvault.KeyVersion{fullVersion("v1", "gone", 30)}, tresor.Conflict},
		{"missing vault", []keyvault.KeyVersion{fullVersion("v9", "r", 0)}, tresor.NotFound},
		{"name free in this vault", []keyvault.KeyVersion{fullVersion("v2", "r", 0)}, noError},
	}
	for _, tt := range tests {
		wantResult(t, "RestoreKey("+tt.name+")", s.RestoreKey(ctx, tt.kvs), tt.want)
	}
	wantVersions(t, s, "v1", "r", restored)
	dk, err := s.DeletedKey(ctx, "v1", "gone")
	must(t, "DeletedKey", err)
	if diff := cmp.Diff(deletedKey(gone[0], 0), dk, equate); diff != "" {
		t.Errorf("DeletedKey after a refused RestoreKey (-want +got):\n%s", diff)
	}
	wantVersions(t, s, "v2", "r", []keyvault.KeyVersion{fullVersion("v2", "r", 0)})
	_, err = s.KeyVersion(ctx, "v9", "r", "")
	wantKind(t, "KeyVersion(missing vault)", err, tresor.NotFound)
}

// testRestoreKeyAtomic checks that a RestoreKey that fails part of the way
// through leaves nothing behind.
func testRestoreKeyAtomic(t *testing.T, s keyvault.Store) {
	ctx := t.Context()
	newVaults(t, s, "v1", "v2")
	tests := []struct {
		name string
		kvs  []keyvault.KeyVersion
	}{
		{"duplicate version", []keyvault.KeyVersion{fullVersion("v1", "s", 0), fullVersion("v1", "s", 1), fullVersion("v1", "s", 0)}},
		{"two names", []keyvault.KeyVersion{fullVersion("v1", "s", 0), fullVersion("v1", "t", 1)}},
		{"two vaults", []keyvault.KeyVersion{fullVersion("v1", "s", 0), fullVersion("v2", "s", 1)}},
		{"nothing", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.RestoreKey(ctx, tt.kvs); err == nil {
				t.Fatalf("RestoreKey = nil, want an error")
			}
			for _, v := range []string{"v1", "v2"} {
				for _, name := range []string{"s", "t"} {
					wantGone(t, s, v, name)
				}
			}
			good := []keyvault.KeyVersion{fullVersion("v1", "s", 0), fullVersion("v1", "s", 1)}
			must(t, "RestoreKey(good)", s.RestoreKey(ctx, good))
			wantVersions(t, s, "v1", "s", good)
			must(t, "PurgeKey", s.PurgeKey(ctx, "v1", "s"))
		})
	}
}

// testCopies checks that a Store keeps no reference to what callers pass in
// or get back: changing those afterwards does not change what is stored.
func testCopies(t *testing.T, s keyvault.Store) {
	ctx := t.Context()
	v := fullVault("v1", "kv1", keyvault.KeyVault)
	must(t, "CreateVault", s.CreateVault(ctx, v))
	scribbleVault(v)
	got, err := s.Vault(ctx, keyvault.KeyVault, "kv1")
	must(t, "Vault", err)
	scribbleVault(got)
	list, err := s.Vaults(ctx, keyvault.VaultFilter{})
	must(t, "Vaults", err)
	scribbleVault(list[0])
	got, err = s.Vault(ctx, keyvault.KeyVault, "kv1")
	must(t, "Vault", err)
	if diff := cmp.Diff(fullVault("v1", "kv1", keyvault.KeyVault), got, equate); diff != "" {
		t.Errorf("Vault after changing values passed in and out (-want +got):\n%s", diff)
	}

	in := []keyvault.KeyVersion{fullVersion("v1", "k", 0), fullVersion("v1", "s", 1)}
	must(t, "CreateKeyVersion", s.CreateKeyVersion(ctx, in[0]))
	must(t, "UpdateKeyVersion", s.UpdateKeyVersion(ctx, in[0]))
	must(t, "RestoreKey", s.RestoreKey(ctx, in[1:]))
	for _, kv := range in {
		scribbleVersion(kv)
	}
	out, err := s.KeyVersion(ctx, "v1", "k", "")
	must(t, "KeyVersion", err)
	scribbleVersion(out)
	keys, _, err := s.Keys(ctx, "v1", keyvault.Page{})
	must(t, "Keys", err)
	scribbleVersion(keys[0])
	versions, _, err := s.KeyVersions(ctx, "v1", "k", keyvault.Page{})
	must(t, "KeyVersions", err)
	scribbleVersion(versions[0])
	wantVersion(t, s, "v1", "k", "", fullVersion("v1", "k", 0))
	wantVersion(t, s, "v1", "s", "", fullVersion("v1", "s", 1))

	must(t, "DeleteKey", s.DeleteKey(ctx, "v1", "k", deletion(0)))
	dk, err := s.DeletedKey(ctx, "v1", "k")
	must(t, "DeletedKey", err)
	scribbleVersion(dk.Latest)
	dks, _, err := s.DeletedKeys(ctx, "v1", keyvault.Page{})
	must(t, "DeletedKeys", err)
	scribbleVersion(dks[0].Latest)
	dk, err = s.DeletedKey(ctx, "v1", "k")
	must(t, "DeletedKey", err)
	if diff := cmp.Diff(fullVersion("v1", "k", 0), dk.Latest, equate); diff != "" {
		t.Errorf("DeletedKey after changing values passed out (-want +got):\n%s", diff)
	}
}

// scribbleVault changes everything v shares with others.
func scribbleVault(v keyvault.Vault) {
	v.Tags["env"] = "scribbled"
	v.AccessPolicies[0].Keys[0] = "scribbled"
	v.InitialAdmins[0] = "scribbled"
}

// scribbleVersion changes everything kv shares with others.
func scribbleVersion(kv keyvault.KeyVersion) {
	kv.Public.N[0], kv.Public.E[0], kv.Public.X[0], kv.Public.Y[0] = 0xee, 0xee, 0xee, 0xee
	kv.Ops[0] = "scribbled"
	kv.Tags["i"] = "scribbled"
	kv.Handle[0] = 0xee
	kv.ReleasePolicy.Data[0] = 'X'
	kv.ReleasePolicy.ContentType = "scribbled"
}
