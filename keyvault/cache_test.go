package keyvault

import (
	"context"
	"reflect"
	"testing"

	"github.com/tresorkms/tresor/eventgrid"
)

// TestCloneSharesNothing fills every exported field of Vault and KeyVersion
// and checks that clone copies every map, slice and pointer, so that a
// field added later without a matching line in clone fails here.
func TestCloneSharesNothing(t *testing.T) {
	var v Vault
	fill(reflect.ValueOf(&v).Elem())
	checkNoAlias(t, "Vault", reflect.ValueOf(v), reflect.ValueOf(v.clone()))

	var kv KeyVersion
	fill(reflect.ValueOf(&kv).Elem())
	checkNoAlias(t, "KeyVersion", reflect.ValueOf(kv), reflect.ValueOf(kv.clone()))
}

// fill sets every settable field reachable from v to a non-zero value.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(1)
	case reflect.Uint8, reflect.Uint64:
		v.SetUint(1)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0))
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem())
		v.Set(p)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	}
}

func checkNoAlias(t *testing.T, path string, a, b reflect.Value) {
	t.Helper()
	switch a.Kind() {
	case reflect.Slice:
		if a.Len() > 0 && a.Pointer() == b.Pointer() {
			t.Errorf("%s: clone shares the slice", path)
		}
		for i := range min(a.Len(), b.Len()) {
			checkNoAlias(t, path+"[i]", a.Index(i), b.Index(i))
		}
	case reflect.Map:
		if a.Len() > 0 && a.Pointer() == b.Pointer() {
			t.Errorf("%s: clone shares the map", path)
		}
	case reflect.Pointer:
		if !a.IsNil() {
			if a.Pointer() == b.Pointer() {
				t.Errorf("%s: clone shares the pointer", path)
			}
			checkNoAlias(t, path, a.Elem(), b.Elem())
		}
	case reflect.Struct:
		for i := range a.NumField() {
			if a.Type().Field(i).IsExported() {
				checkNoAlias(t, path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i))
			}
		}
	}
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
