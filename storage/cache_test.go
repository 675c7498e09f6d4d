package storage

import (
	"context"
	"testing"

	"github.com/tresorkms/tresor/internal/clonetest"
)

// TestCloneSharesNothing fills every exported field of Account and checks
// that clone copies every map, slice and pointer, so that a field added
// later without a matching line in clone fails here.
func TestCloneSharesNothing(t *testing.T) {
	clonetest.Check(t, "Account", &Account{}, Account.clone)
}

// TestCachedReturnsCopies checks that lookups are served from memory
// whatever the name's case, that a caller changing what a lookup returned
// does not change what the next one returns, and that every write empties
// the cache.
func TestCachedReturnsCopies(t *testing.T) {
	ctx := context.Background()
	inner := &fakeStore{a: Account{Name: "acct", Tags: map[string]string{"a": "1"}, Keys: []AccessKey{{Name: "key1", Sealed: []byte{1}}}}}
	s := Cached(inner)
	for _, name := range []string{"acct", "ACCT"} {
		a, err := s.Account(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if a.Tags["a"] != "1" || a.Keys[0].Sealed[0] != 1 {
			t.Fatalf("Account(%q) = %+v, changed by an earlier caller", name, a)
		}
		a.Tags["a"] = "changed"
		a.Keys[0].Sealed[0] = 2
	}
	if inner.lookups != 1 {
		t.Errorf("inner lookups = %d, want 1 (the rest from the cache)", inner.lookups)
	}
	writes := []struct {
		name  string
		write func() error
	}{
		{"CreateAccount", func() error { return s.CreateAccount(ctx, Account{}) }},
		{"UpdateAccount", func() error { return s.UpdateAccount(ctx, Account{}) }},
		{"DeleteAccount", func() error { return s.DeleteAccount(ctx, "acct") }},
	}
	for _, w := range writes {
		before := inner.lookups
		if err := w.write(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Account(ctx, "acct"); err != nil {
			t.Fatal(err)
		}
		if inner.lookups != before+1 {
			t.Errorf("after %s, Account did not read the store: a write must empty the cache", w.name)
		}
	}
}

// fakeStore answers every Account lookup with the same account and counts
// them; its writes do nothing.
type fakeStore struct {
	Store
	a       Account
	lookups int
}

func (f *fakeStore) Account(context.Context, string) (Account, error) {
	f.lookups++
	return f.a.clone(), nil
}

func (f *fakeStore) CreateAccount(context.Context, Account) error { return nil }
func (f *fakeStore) UpdateAccount(context.Context, Account) error { return nil }
func (f *fakeStore) DeleteAccount(context.Context, string) error  { return nil }
