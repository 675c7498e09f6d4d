package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tresorkms/tresor/sqlite"
)

func TestVirtualClock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tresor.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := db.VirtualClock(ctx); ok || err != nil {
		t.Fatalf("VirtualClock on a new database = %v, %v; want not set", ok, err)
	}
	at := time.Date(2028, 5, 23, 12, 0, 0, 123456789, time.UTC)
	for _, tt := range []time.Time{at.Add(-time.Hour), at} {
		if err := db.SetVirtualClock(ctx, tt); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	if db, err = sqlite.Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, ok, err := db.VirtualClock(ctx); !ok || err != nil || !got.Equal(at) {
		t.Errorf("VirtualClock after reopening = %v, %v, %v; want %v", got, ok, err, at)
	}
}
