package sqlite

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/audit"
	"github.com/tresorkms/tresor/audit/audittest"
)

func TestAuditStore(t *testing.T) {
	audittest.TestStore(t, func(t *testing.T) audit.Store { return openTest(t) })
}

// TestAuditTamper logs records through an audit.Log into SQLite, edits a
// row with raw SQL as someone with access to the file could, and checks
// that audit.Verify names the edited record.
func TestAuditTamper(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	root := make([]byte, audit.RootKeySize)
	rand.Read(root)
	l, err := audit.Open(ctx, db, root, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		err := l.Record(ctx, audit.Record{
			RequestID: fmt.Sprint("req-", i), Principal: tresor.Principal{ObjectID: "oid"},
			Operation: "UnwrapKey", ResourceID: "https://kv1.vault.localhost:8443/keys/k1",
			Result: audit.Allowed, Status: 200,
		})
		if err != nil {
			t.Fatalf("Record(%d) = %v", i, err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(ctx, db, root, audit.VerifyOptions{})
	if err != nil || !rep.OK() || rep.Records != 10 || rep.Head != 10 {
		t.Fatalf("Verify() before tampering = %+v, %v; want 10 good records", rep, err)
	}

	// The triggers refuse edits, but whoever can write the file can drop them.
	if _, err := db.write.ExecContext(ctx, `UPDATE audit_log SET result = 'Denied' WHERE seq = 4`); err == nil {
		t.Fatal("UPDATE audit_log succeeded despite the append-only trigger")
	}
	if _, err := db.write.ExecContext(ctx, `DELETE FROM audit_log WHERE seq = 4`); err == nil {
		t.Fatal("DELETE FROM audit_log succeeded despite the append-only trigger")
	}
	for _, q := range []string{
		`DROP TRIGGER audit_log_no_update`,
		`UPDATE audit_log SET resource_id = 'https://kv1.vault.localhost:8443/keys/other' WHERE seq = 4`,
	} {
		if _, err := db.write.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	rep, err = audit.Verify(ctx, db, root, audit.VerifyOptions{})
	if !tresor.IsKind(err, tresor.Conflict) || rep.FirstBad != 4 || rep.Head != 3 || rep.Records != 3 {
		t.Fatalf("Verify() after editing record 4 = %+v, %v; want FirstBad 4 and Conflict", rep, err)
	}
	t.Logf("Verify: %s", err)
}

// BenchmarkAuditRecord logs through an audit.Log into SQLite from many
// goroutines, as concurrent requests do, so that records share commits.
func BenchmarkAuditRecord(b *testing.B) {
	ctx := context.Background()
	db := openTest(b)
	l, err := audit.Open(ctx, db, make([]byte, audit.RootKeySize), audit.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		r := audit.Record{RequestID: "req", Principal: tresor.Principal{ObjectID: "oid"}, Operation: "UnwrapKey",
			ResourceID: "https://kv1.vault.localhost:8443/keys/k1", Result: audit.Allowed, Status: 200}
		for pb.Next() {
			if err := l.Record(ctx, r); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
