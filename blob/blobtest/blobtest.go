// Package blobtest provides what tests of the blob data plane share: a fake
// Keys whose key can be revoked, and a blob.Service over SQLite and files in
// a temporary directory.
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

// Keys is a blob.Keys that makes a random account key per account on first
// use and fails while revoked. It counts its calls.
type Keys struct {
	mu      sync.Mutex
	keys    map[string][]byte
	revoked bool
	calls   int
}

var _ blob.Keys = (*Keys)(nil)

// ErrRevoked is the error that Keys returns while revoked, as the storage
// account side returns it when the customer-managed key cannot unwrap the
// account key.
func ErrRevoked() error {
	return tresor.Errorf(tresor.Forbidden, "The key vault key is not found to unwrap the encryption key.").
		WithReason(blob.ReasonKeyVaultEncryptionKeyNotFound)
}

// AccountKey returns the account's key, or ErrRevoked while revoked.
func (k *Keys) AccountKey(_ context.Context, account string) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls++
	if k.revoked {
		return nil, ErrRevoked()
	}
	if k.keys == nil {
		k.keys = make(map[string][]byte)
	}
	key, ok := k.keys[account]
	if !ok {
		key = make([]byte, blob.AccountKeySize)
		rand.Read(key)
		k.keys[account] = key
	}
	return key, nil
}

// Key returns the account's key, making it if needed, even while revoked.
func (k *Keys) Key(account string) []byte {
	k.mu.Lock()
	revoked := k.revoked
	k.revoked = false
	k.mu.Unlock()
	key, _ := k.AccountKey(context.Background(), account)
	k.mu.Lock()
	k.revoked = revoked
	k.calls--
	k.mu.Unlock()
	return key
}

// Revoke makes AccountKey fail (true) or work again (false).
func (k *Keys) Revoke(revoked bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.revoked = revoked
}

// Calls returns the number of AccountKey calls so far and resets it.
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
