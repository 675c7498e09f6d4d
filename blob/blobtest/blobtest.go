// Package blobtest provides what tests of the blob data plane share: a fake
// Keys with encryption scopes whose keys can be revoked, and a
// blob.Service over SQLite and files in a temporary directory.
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/blob"
	"github.com/tresorkms/tresor/blob/blobfs"
	"github.com/tresorkms/tresor/sqlite"
)

// Keys is a blob.Keys. Every account has the account encryption key
// (scope ""), made at random on first use, and the scopes that AddScope
// adds, each with a random key. Revoke fails the account encryption key
// of every account, as if its customer-managed key were revoked;
// RevokeScope and DisableScope fail one scope. Keys counts the calls of
// Key, not of CheckScope, which works while keys are revoked.
type Keys struct {
	mu      sync.Mutex
	keys    map[scopeID][]byte
	scopes  map[scopeID]*scopeState // the named scopes
	revoked bool
	calls   int
}

type scopeID struct{ account, scope string }

type scopeState struct {
	disabled, revoked bool
}

var _ blob.Keys = (*Keys)(nil)

// ErrRevoked is the error that Keys returns while revoked, as the storage
// account side returns it when the customer-managed key cannot unwrap the
// account key.
func ErrRevoked() error {
	return tresor.Errorf(tresor.Forbidden, "The key vault key is not found to unwrap the encryption key.").
		WithReason(blob.ReasonKeyVaultEncryptionKeyNotFound)
}

// ErrNoScope is the error that Keys returns for a scope the account does
// not have.
func ErrNoScope(scope string) error {
	return tresor.Errorf(tresor.Invalid, "The encryption scope %s does not exist.", scope).WithReason(blob.ReasonInvalidHeaderValue)
}

// ErrScopeDisabled is the error that Keys returns for a disabled scope.
func ErrScopeDisabled(scope string) error {
	return tresor.Errorf(tresor.Forbidden, "The encryption scope %s is disabled.", scope).WithReason(blob.ReasonAuthorizationFailure)
}

// AddScope adds an enabled scope to account, with a new random key.
func (k *Keys) AddScope(account, scope string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.scopes == nil {
		k.scopes = make(map[scopeID]*scopeState)
	}
	k.scopes[scopeID{account, scope}] = &scopeState{}
	k.keyLocked(scopeID{account, scope})
}

// DisableScope disables (true) or enables (false) a scope that AddScope
// added.
func (k *Keys) DisableScope(account, scope string, disabled bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.scopes[scopeID{account, scope}].disabled = disabled
}

// RevokeScope makes the key of a scope that AddScope added fail (true), as
// if its customer-managed key were revoked, or work again (false).
func (k *Keys) RevokeScope(account, scope string, revoked bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.scopes[scopeID{account, scope}].revoked = revoked
}

// check returns the error of a scope's key, revocation aside, with k.mu
// held, and whether the key is revoked.
func (k *Keys) check(id scopeID) (revoked bool, err error) {
	if id.scope == "" {
		return k.revoked, nil
	}
	st, ok := k.scopes[id]
	switch {
	case !ok:
		return false, ErrNoScope(id.scope)
	case st.disabled:
		return false, ErrScopeDisabled(id.scope)
	}
	return st.revoked, nil
}

// Key returns the key of a scope of the account: ErrNoScope for a scope
// that AddScope did not add, ErrScopeDisabled while it is disabled,
// ErrRevoked while it is revoked.
func (k *Keys) Key(_ context.Context, account, scope string) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls++
	id := scopeID{account, scope}
	revoked, err := k.check(id)
	if err != nil {
		return nil, err
	}
	if revoked {
		return nil, ErrRevoked()
	}
	return k.keyLocked(id), nil
}

// CheckScope returns Key's errors but ErrRevoked.
func (k *Keys) CheckScope(_ context.Context, account, scope string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, err := k.check(scopeID{account, scope})
	return err
}

// keyLocked returns a scope's key, making it if needed, with k.mu held.
func (k *Keys) keyLocked(id scopeID) []byte {
	if k.keys == nil {
		k.keys = make(map[scopeID][]byte)
	}
	key, ok := k.keys[id]
	if !ok {
		key = make([]byte, blob.AccountKeySize)
		rand.Read(key)
		k.keys[id] = key
	}
	return key
}

// KeyOf returns the key of a scope of the account ("" is the account
// encryption key), making it if needed, even while revoked or disabled.
func (k *Keys) KeyOf(account, scope string) []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keyLocked(scopeID{account, scope})
}

// Revoke makes the account encryption key fail (true) or work again
// (false).
func (k *Keys) Revoke(revoked bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.revoked = revoked
}

// Calls returns the number of Key calls so far and resets it.
func (k *Keys) Calls() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := k.calls
	k.calls = 0
	return n
}

// Env is a blob.Service over SQLite and blobfs in a temporary directory.
type Env struct {
	Service *blob.Service
	Keys    *Keys
	DB      *sqlite.DB
	Data    *blobfs.Dir
	Dir     string // holds blob.db and the data directory
}

// New returns an Env whose files are removed when tb ends. Block files are
// not synced: tests need no durability.
func New(tb testing.TB) *Env {
	tb.Helper()
	dir := tb.TempDir()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "blob.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	data, err := blobfs.Open(filepath.Join(dir, "data"))
	if err != nil {
		tb.Fatal(err)
	}
	data.NoSync = true
	keys := &Keys{}
	return &Env{Service: blob.New(db, data, keys), Keys: keys, DB: db, Data: data, Dir: dir}
}

// Files returns the number of block files in e's data directory.
func (e *Env) Files(tb testing.TB) int {
	tb.Helper()
	n := 0
	if err := e.Data.Walk(func(blob.BlockID, time.Time) error { n++; return nil }); err != nil {
		tb.Fatal(err)
	}
	return n
}

// NoPlaintext reads every file under dir and fails tb for each needle
// (named by its key) found in one. It fails too if fewer than minFiles
// files were read, so that a scan of the wrong directory cannot pass.
func NoPlaintext(tb testing.TB, dir string, minFiles int, needles map[string][]byte) {
	tb.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for what, n := range needles {
			if bytes.Contains(b, n) {
				tb.Errorf("%s found in plaintext in %s", what, path)
			}
		}
		return nil
	})
	if err != nil || files < minFiles {
		tb.Fatalf("scanned %d files under %s (want at least %d): %v", files, dir, minFiles, err)
	}
}
