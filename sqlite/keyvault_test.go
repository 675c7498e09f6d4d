package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tresorkms/tresor/keyvault"
	"github.com/tresorkms/tresor/keyvault/kvtest"
)

func openTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestKeyvaultStore(t *testing.T) {
	kvtest.TestStore(t, func(t *testing.T) keyvault.Store { return openTest(t) })
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "test.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	v := keyvault.Vault{Kind: keyvault.KeyVault, Name: "kv1", ID: "v1"}
	if err := db.CreateVault(ctx, v); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(ctx, path) // migrations run again and must be no-ops
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, err := db.Vault(ctx, keyvault.KeyVault, "KV1"); err != nil || got.ID != "v1" {
		t.Fatalf("Vault after reopen = %+v, %v", got, err)
	}
}
