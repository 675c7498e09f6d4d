package sqlite

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/keyvault"
)

// TestMigrateKeyNamesNocase builds a database as the migrations before
// 0004 left it, with keys in it, and checks that opening it keeps every
// key and version, in order, and makes their names case-insensitive.
func TestMigrateKeyNamesNocase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	raw, exec := oldDatabase(t, path, "0004")
	exec(`INSERT INTO vaults (id, kind, name, name_key, soft_delete, retention_days, purge_protection, rbac,
		enabled_for_deployment, enabled_for_disk_encryption, enabled_for_template_deployment, created, updated)
		VALUES ('v1', 'vault', 'kv', 'kv', 1, 90, 0, 0, 0, 0, 0, 0, 0)`)
	exec(`INSERT INTO keys (vault_id, name) VALUES ('v1', 'MyKey'), ('v1', 'other')`)
	exec(`INSERT INTO keys (vault_id, name, deleted, purge_at) VALUES ('v1', 'Gone', 100, 200)`)
	version := func(seq int, name, v string) {
		exec(`INSERT INTO key_versions (seq, vault_id, name, version, kty, size, crv, pub_kty, pub_crv, ops, enabled,
			created, updated, exportable, tags, handle) VALUES (?, 'v1', ?, ?, 'RSA', 2048, '', 'RSA', '', '[]', 1, 0, 0, 0, '{}', x'01')`,
			seq, name, v)
	}
	version(1, "MyKey", "a1")
	version(5, "other", "b1")
	version(7, "MyKey", "a2")
	version(9, "Gone", "c1")
	raw.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open (migrating): %v", err)
	}
	defer db.Close()
	kv, err := db.KeyVersion(ctx, "v1", "MYKEY", "")
	if err != nil || kv.Version != "a2" || kv.Name != "MyKey" {
		t.Errorf("KeyVersion(MYKEY) = %s %s, %v; want MyKey a2", kv.Name, kv.Version, err)
	}
	got, _, err := db.KeyVersions(ctx, "v1", "mykey", keyvault.Page{})
	if err != nil || len(got) != 2 || got[0].Version != "a1" || got[1].Version != "a2" {
		t.Errorf("KeyVersions(mykey) = %v, %v; want a1, a2", got, err)
	}
	if _, err := db.DeletedKey(ctx, "v1", "GONE"); err != nil {
		t.Errorf("DeletedKey(GONE) = %v", err)
	}
	if _, err := db.KeyVersion(ctx, "v1", "gone", ""); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("KeyVersion(gone) = %v, want NotFound: the key is deleted", err)
	}
	// Sequence numbers keep growing past the migrated ones, so a new
	// version is the newest.
	if err := db.CreateKeyVersion(ctx, keyvault.KeyVersion{VaultID: "v1", Name: "MyKey", Version: "a3", Type: keyvault.RSA}); err != nil {
		t.Fatal(err)
	}
	if kv, err := db.KeyVersion(ctx, "v1", "mykey", ""); err != nil || kv.Version != "a3" {
		t.Errorf("newest after a new version = %s, %v; want a3", kv.Version, err)
	}
	// Purging the vault still cascades to the rebuilt tables.
	if err := db.PurgeVault(ctx, "v1"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM keys) + (SELECT COUNT(*) FROM key_versions)`).Scan(&n); err != nil || n != 0 {
		t.Errorf("rows left after PurgeVault = %d, %v; want 0", n, err)
	}
}

// oldDatabase creates a database at path as the migrations before the one
// named before (such as "0008") left it, and returns it with a function
// that runs a statement on it or fails t. The caller closes it, then opens
// path with Open to run the remaining migrations.
func oldDatabase(t *testing.T, path, before string) (*sql.DB, func(q string, args ...any)) {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(ON)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := raw.ExecContext(context.Background(), q, args...); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	exec(`CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`)
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if name >= "migrations/"+before {
			break
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		exec(string(body))
		exec(`INSERT INTO migrations (name, applied_at) VALUES (?, 0)`, name)
	}
	return raw, exec
}
