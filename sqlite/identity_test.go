package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/identity/identitytest"
	"github.com/tresorkms/tresor/seal"
)

func TestIdentityStore(t *testing.T) {
	identitytest.TestStore(t, func(tb testing.TB) identity.Store {
		tb.Helper()
		db, err := Open(context.Background(), filepath.Join(tb.TempDir(), "tresor.db"))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { db.Close() })
		return db
	})
}

// TestIdentityBootstrapReopen runs the Service on a database that is closed
// and opened again, as across restarts: the second Bootstrap finds the
// admin, and the signing key unseals and still validates.
func TestIdentityBootstrapReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tresor.db")
	sealer, err := seal.New(make([]byte, seal.RootKeySize), "identity")
	if err != nil {
		t.Fatal(err)
	}
	const aud = "https://vault.localhost:8443"
	service := func(db *DB) *identity.Service {
		return &identity.Service{Store: db, Sealer: sealer, Issuer: "https://localhost:8443", Audiences: []string{aud}}
	}

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	first, err := service(db).Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := service(db)
	second, err := svc.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := first
	want.ClientSecret, want.Created = "", false
	if second != want {
		t.Errorf("Bootstrap() after reopening = %+v, want %+v", second, want)
	}
	tok, err := svc.IssueToken(ctx, identity.TokenRequest{
		TenantID: first.TenantID, ClientID: first.ClientID, ClientSecret: first.ClientSecret, Scope: aud + "/.default",
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Validate(ctx, tok.AccessToken, aud); err != nil {
		t.Errorf("Validate() = %v", err)
	}
}
