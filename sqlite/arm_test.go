package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/arm/armtest"
)

func TestARMStore(t *testing.T) {
	armtest.TestStore(t, func(t *testing.T) arm.Store {
		t.Helper()
		db, err := Open(context.Background(), filepath.Join(t.TempDir(), "tresor.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

// TestARMBootstrapReopen checks that Bootstrap finds the subscription it
// created after the database is closed and opened again, as across restarts.
func TestARMBootstrapReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tresor.db")
	const tenant = "10000000-0000-4000-8000-000000000000"
	bootstrap := func() arm.Subscription {
		t.Helper()
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		sub, err := arm.NewService(db).Bootstrap(ctx, tenant)
		if err != nil {
			t.Fatalf("Bootstrap: %v", err)
		}
		return sub
	}
	first, second := bootstrap(), bootstrap()
	if first != second {
		t.Errorf("Bootstrap after reopen = %+v, want %+v", second, first)
	}
}
