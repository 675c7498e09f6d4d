package keyvault

import (
	"context"
	"testing"

	"github.com/tresorkms/tresor/eventgrid"
	"github.com/tresorkms/tresor/internal/clonetest"
)

// TestCloneSharesNothing fills every exported field of Vault and KeyVersion
// and checks that clone copies every map, slice and pointer, so that a
// field added later without a matching line in clone fails here.
func TestCloneSharesNothing(t *testing.T) {
	clonetest.Check(t, "Vault", &Vault{}, Vault.clone)
	clonetest.Check(t, "KeyVersion", &KeyVersion{}, KeyVersion.clone)
}

// TestCachedReturnsCopies checks that a caller changing what a lookup
// returned does not change what the next lookup returns.
func TestCachedReturnsCopies(t *testing.T) {
	ctx := context.Background()
	inner := &fakeStore{
		vault: Vault{Kind: KeyVault, Name: "kv", ID: "id", Tags: map[string]string{"a": "1"}, AccessPolicies: []AccessPolicy{{ObjectID: "o", Keys: []string{"get"}}}},
		kv:    KeyVersion{VaultID: "id", Name: "k", Version: "v", Ops: []KeyOp{"wrapKey"}, Tags: map[string]string{"a": "1"}},
	}
	s := Cached(inner)
	for range 2 {
		v, err := s.Vault(ctx, KeyVault, "kv")
		if err != nil {
			t.Fatal(err)
		}
		if v.Tags["a"] != "1" || v.AccessPolicies[0].Keys[0] != "get" {
			t.Fatalf("Vault() = %+v, changed by an earlier caller", v)
		}
		v.Tags["a"] = "changed"
		v.AccessPolicies[0].Keys[0] = "changed"

		kv, err := s.KeyVersion(ctx, "id", "k", "v")
		if err != nil {
			t.Fatal(err)
		}
		if kv.Tags["a"] != "1" || kv.Ops[0] != "wrapKey" {
			t.Fatalf("KeyVersion() = %+v, changed by an earlier caller", kv)
		}
		kv.Tags["a"] = "changed"
		kv.Ops[0] = "changed"
	}
	if inner.lookups != 2 {
		t.Errorf("inner lookups = %d, want 2 (one vault, one key version; the rest from the cache)", inner.lookups)
	}
	if err := s.UpdateKeyVersion(ctx, KeyVersion{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.KeyVersion(ctx, "id", "k", "v"); err != nil {
		t.Fatal(err)
	}
	if inner.lookups != 3 {
		t.Errorf("inner lookups after a write = %d, want 3: a write must empty the cache", inner.lookups)
	}
}

// fakeStore answers every Vault and KeyVersion lookup with the same values
// and counts them.
type fakeStore struct {
	Store
	vault   Vault
	kv      KeyVersion
	lookups int
}

func (f *fakeStore) Vault(context.Context, VaultKind, string) (Vault, error) {
	f.lookups++
	return f.vault.clone(), nil
}

func (f *fakeStore) KeyVersion(context.Context, string, string, string) (KeyVersion, error) {
	f.lookups++
	return f.kv.clone(), nil
}

func (f *fakeStore) UpdateKeyVersion(context.Context, KeyVersion, ...eventgrid.Event) error {
	return nil
}
