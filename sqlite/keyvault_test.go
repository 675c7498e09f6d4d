package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tresorkms/tresor/hsm"
	"github.com/tresorkms/tresor/keyvault"
	"github.com/tresorkms/tresor/keyvault/kvtest"
)

// openTest opens a new database in a temporary directory.
func openTest(tb testing.TB) *DB {
	tb.Helper()
	db, err := Open(context.Background(), filepath.Join(tb.TempDir(), "test.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func TestKeyvaultStore(t *testing.T) {
	kvtest.TestStore(t, func(t *testing.T) keyvault.Store { return openTest(t) })
}

// TestKeyvaultReopen checks that everything a Store holds survives closing
// and opening the file again, and that opening applies no migration twice.
func TestKeyvaultReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "test.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	v := keyvault.Vault{
		Kind: keyvault.ManagedHSM, Name: "Pool1", ID: "v1", TenantID: "t", SubscriptionID: "s", ResourceGroup: "rg",
		Location: "westeurope", Tags: map[string]string{"a": "b"}, SKU: "Standard_B1", SoftDelete: true,
		RetentionDays: 7, PurgeProtection: true, RBAC: true, PublicNetworkAccess: "Enabled",
		AccessPolicies: []keyvault.AccessPolicy{{TenantID: "t", ObjectID: "o", Keys: []string{"get"}}},
		InitialAdmins:  []string{"admin"}, Created: t0, Updated: t0,
	}
	live := []keyvault.KeyVersion{
		{VaultID: "v1", Name: "k", Version: "01", Type: keyvault.ECHSM, Curve: hsm.P256,
			Public: hsm.PublicKey{Type: hsm.EC, Curve: hsm.P256, X: []byte{1}, Y: []byte{2}},
			Ops:    []keyvault.KeyOp{keyvault.OpSign}, Enabled: true, Created: t0, Updated: t0, Handle: hsm.Handle{1}},
		{VaultID: "v1", Name: "k", Version: "02", Type: keyvault.OctHSM, Size: 256, Public: hsm.PublicKey{Type: hsm.Oct},
			Exportable: true, ReleasePolicy: &keyvault.ReleasePolicy{ContentType: "application/json", Data: []byte("{}")},
			Expires: t0.Add(time.Hour), Created: t0, Updated: t0, Tags: map[string]string{"x": "y"}, Handle: hsm.Handle{2}},
	}
	gone := keyvault.KeyVersion{VaultID: "v1", Name: "gone", Version: "03", Type: keyvault.RSAHSM, Size: 2048,
		Public: hsm.PublicKey{Type: hsm.RSA, N: []byte{3}, E: []byte{1, 0, 1}}, Created: t0, Updated: t0, Handle: hsm.Handle{3}}
	d := keyvault.Deletion{Deleted: t0, PurgeAt: t0.AddDate(0, 0, 7)}
	steps := []struct {
		op  string
		err error
	}{
		{"CreateVault", db.CreateVault(ctx, v)},
		{"CreateKeyVersion", db.CreateKeyVersion(ctx, live[0])},
		{"CreateKeyVersion", db.CreateKeyVersion(ctx, live[1])},
		{"CreateKeyVersion", db.CreateKeyVersion(ctx, gone)},
		{"DeleteKey", db.DeleteKey(ctx, "v1", "gone", d)},
	}
	for _, s := range steps {
		if s.err != nil {
			t.Fatalf("%s = %v", s.op, s.err)
		}
	}
	applied := appliedMigrations(t, db)
	db.Close()

	for range 2 {
		db, err = Open(ctx, path)
		if err != nil {
			t.Fatalf("Open(existing) = %v", err)
		}
		if diff := cmp.Diff(applied, appliedMigrations(t, db)); diff != "" {
			t.Errorf("migrations after reopening (-before +after):\n%s", diff)
		}
		gotVault, err := db.Vault(ctx, keyvault.ManagedHSM, "pool1")
		if err != nil {
			t.Fatalf("Vault after reopening = %v", err)
		}
		if diff := cmp.Diff(v, gotVault, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Vault after reopening (-want +got):\n%s", diff)
		}
		gotVersions, _, err := db.KeyVersions(ctx, "v1", "k", keyvault.Page{})
		if err != nil {
			t.Fatalf("KeyVersions after reopening = %v", err)
		}
		if diff := cmp.Diff(live, gotVersions, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("KeyVersions after reopening (-want +got):\n%s", diff)
		}
		gotDeleted, err := db.DeletedKey(ctx, "v1", "gone")
		if err != nil {
			t.Fatalf("DeletedKey after reopening = %v", err)
		}
		if diff := cmp.Diff(keyvault.DeletedKey{Latest: gone, Deletion: d}, gotDeleted, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("DeletedKey after reopening (-want +got):\n%s", diff)
		}
		db.Close()
	}
}

// appliedMigrations returns the names of the migrations recorded in db.
func appliedMigrations(tb testing.TB, db *DB) []string {
	tb.Helper()
	rows, err := db.read.Query(`SELECT name FROM migrations ORDER BY name`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			tb.Fatal(err)
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return names
}

// TestMigrateIdempotent runs the migrations again on a migrated database:
// nothing is applied twice and the schema stays as it was.
func TestMigrateIdempotent(t *testing.T) {
	db := openTest(t)
	schema := func() string {
		var s strings.Builder
		rows, err := db.read.Query(`SELECT type, name, COALESCE(sql, '') FROM sqlite_master ORDER BY type, name`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var typ, name, sql string
			if err := rows.Scan(&typ, &name, &sql); err != nil {
				t.Fatal(err)
			}
			s.WriteString(typ + " " + name + ": " + sql + "\n")
		}
		return s.String()
	}
	before, applied := schema(), appliedMigrations(t, db)
	if len(applied) == 0 || !strings.Contains(before, "key_versions") {
		t.Fatalf("a new database has migrations %v and schema\n%s", applied, before)
	}
	for range 2 {
		if err := db.migrate(context.Background()); err != nil {
			t.Fatalf("migrate(again) = %v", err)
		}
	}
	if diff := cmp.Diff(before, schema()); diff != "" {
		t.Errorf("schema after migrating again (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(applied, appliedMigrations(t, db)); diff != "" {
		t.Errorf("migrations after migrating again (-before +after):\n%s", diff)
	}
}

// TestKeyvaultQueryPlans checks that the queries behind every data-plane
// request, and the listings, search an index rather than scan a table.
func TestKeyvaultQueryPlans(t *testing.T) {
	db := openTest(t)
	tests := []struct {
		name  string
		query string
		args  []any
	}{
		{"Vault", vaultQuery, []any{"vault", "kv1"}},
		{"KeyVersion", versionQuery, []any{"v1", "k", "01"}},
		{"KeyVersion(newest)", newestQuery, []any{"v1", "k"}},
		{"Keys", keysQuery, []any{"v1", "", 26}},
		{"KeyVersions", versionsQuery, []any{"v1", "k", 0, 26}},
		{"DeletedKeys", deletedQuery + deletedPage, []any{"v1", "", 26}},
	}
	for _, tt := range tests {
		rows, err := db.read.Query(`EXPLAIN QUERY PLAN `+tt.query, tt.args...)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN") || strings.Contains(step, "TEMP B-TREE") {
				t.Errorf("%s plan has %q; want index searches only:\n%s", tt.name, step, strings.Join(plan, "\n"))
			}
		}
	}
}

// BenchmarkKeyVersion measures the lookup behind every cryptographic
// operation.
func BenchmarkKeyVersion(b *testing.B) {
	ctx := context.Background()
	db := openTest(b)
	if err := db.CreateVault(ctx, keyvault.Vault{Kind: keyvault.KeyVault, Name: "kv1", ID: "v1"}); err != nil {
		b.Fatal(err)
	}
	for i := range 10 {
		kv := keyvault.KeyVersion{VaultID: "v1", Name: "k", Version: string(rune('a' + i)), Type: keyvault.RSA,
			Public: hsm.PublicKey{Type: hsm.RSA, N: make([]byte, 256), E: []byte{1, 0, 1}}, Handle: make(hsm.Handle, 1500)}
		if err := db.CreateKeyVersion(ctx, kv); err != nil {
			b.Fatal(err)
		}
	}
	for _, version := range []string{"", "c"} {
		b.Run("version="+version, func(b *testing.B) {
			for b.Loop() {
				if _, err := db.KeyVersion(ctx, "v1", "k", version); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestKeyvaultStoreCached runs the conformance suite through the cache the
// server puts in front of the database.
func TestKeyvaultStoreCached(t *testing.T) {
	kvtest.TestStore(t, func(t *testing.T) keyvault.Store { return keyvault.Cached(openTest(t)) })
}
