package kvtest

import (
	"slices"
	"testing"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/keyvault"
)

// testKeyNamesIgnoreCase checks that key names compare case-insensitively
// everywhere, as Azure's object identifiers do, while every version keeps
// the spelling it was stored with.
func testKeyNamesIgnoreCase(t *testing.T, s keyvault.Store) {
	ctx := t.Context()
	newVaults(t, s, "v1")
	first := create(t, s, fullVersion("v1", "Key-A", 0))[0]
	for _, name := range []string{"key-a", "KEY-A", "kEy-A"} {
		wantVersion(t, s, "v1", name, "", first)
		wantVersion(t, s, "v1", name, first.Version, first)
	}
	// A version stored under another spelling belongs to the same key.
	second := create(t, s, fullVersion("v1", "KEY-A", 1))[0]
	wantVersion(t, s, "v1", "key-a", "", second)
	wantVersions(t, s, "v1", "Key-a", []keyvault.KeyVersion{first, second})

	// Listing orders names case-insensitively (byte order would put "C"
	// and "KEY-A" before "b") and lists each key once.
	create(t, s, fullVersion("v1", "b", 2), fullVersion("v1", "C", 3))
	if got, want := keyNames(t, s, "v1"), []string{"b", "C", "KEY-A"}; !slices.Equal(got, want) {
		t.Errorf("Keys() names = %q, want %q", got, want)
	}

	// Restore refuses a name that exists in another spelling.
	wantKind(t, "RestoreKey(key-A)", s.RestoreKey(ctx, []keyvault.KeyVersion{fullVersion("v1", "key-A", 9)}), tresor.Conflict)

	// Delete, get deleted, recover and purge ignore case too; a deleted
	// key blocks new versions in any spelling.
	must(t, "DeleteKey(KEY-a)", s.DeleteKey(ctx, "v1", "KEY-a", keyvault.Deletion{Deleted: t0, PurgeAt: t0.Add(time.Hour)}))
	if _, err := s.DeletedKey(ctx, "v1", "key-A"); err != nil {
		t.Errorf("DeletedKey(key-A) = %v", err)
	}
	wantKind(t, "CreateKeyVersion(key-a) of a deleted key", s.CreateKeyVersion(ctx, fullVersion("v1", "key-a", 4)), tresor.Conflict)
	must(t, "RecoverKey(key-a)", s.RecoverKey(ctx, "v1", "key-a"))
	wantVersion(t, s, "v1", "Key-A", "", second)
	must(t, "PurgeKey(key-A)", s.PurgeKey(ctx, "v1", "key-A"))
	wantGone(t, s, "v1", "Key-A")
}
