package sqlite

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tresorkms/tresor/hsm"
	"github.com/tresorkms/tresor/hsm/software"
	"github.com/tresorkms/tresor/internal/period"
	"github.com/tresorkms/tresor/keyvault"
	"github.com/tresorkms/tresor/seal"
)

// The scheduler tick at scale (issue 4): one keyvault.Service.RotateDue, as
// the server wires it (Cached over this DB, the software module), over a
// database of many keys with rotation policies, few of them due. Every key
// is EC P-256 in one Key Vault and was created at tickSeeded; the due keys
// rotate every P30D, the others every P1Y, and the tick runs at tickNow, a
// day after the due keys' rotation time and eleven months before the
// others'.
var (
	tickSeeded = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tickNow    = tickSeeded.AddDate(0, 0, 31)
	duePolicy  = keyvault.RotationPolicy{
		Actions:    []keyvault.LifetimeAction{{Type: keyvault.LifetimeRotate, TimeAfterCreate: period.MustParse("P30D")}},
		ExpiryTime: period.MustParse("P90D"),
	}
	laterPolicy = keyvault.RotationPolicy{
		Actions:    []keyvault.LifetimeAction{{Type: keyvault.LifetimeRotate, TimeAfterCreate: period.MustParse("P1Y")}},
		ExpiryTime: period.MustParse("P2Y"),
	}
)

// tickDB is a seeded database. The due keys' versions were inserted first,
// so they are the ones with seq <= dueSeq; a version with seq > seedSeq
// was made by a tick.
type tickDB struct {
	db     *DB
	module *software.Module
	vault  keyvault.Vault
	keys   int // in all
	due    int
	dueAt  time.Time // the due keys' rotation_due
	dueSeq int64
	// seedSeq is the highest seq after seeding.
	seedSeq int64
}

// service returns a Service over t as the server wires it, with a cold
// cache, at time now.
func (t *tickDB) service(now time.Time) *keyvault.Service {
	svc := keyvault.NewService(keyvault.Cached(t.db), t.module, nil)
	svc.Now = func() time.Time { return now }
	return svc
}

// rearm puts the database back as seeding left it: the versions that
// rotations added are deleted and the due keys' schedule is restored, so
// every tick finds the same due keys. The checkpoint keeps one tick's WAL
// from being copied back during the next.
func (t *tickDB) rearm(tb testing.TB) {
	tb.Helper()
	ctx := context.Background()
	err := t.db.update(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM key_versions WHERE seq > ?`, t.seedSeq); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE key_versions SET rotation_due = ? WHERE seq <= ?`, t.dueAt.Unix(), t.dueSeq)
		return err
	})
	if err == nil {
		_, err = t.db.write.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	}
	if err != nil {
		tb.Fatalf("rearm: %v", err)
	}
}

// seedTick builds a database in dir holding keys keys with rotation
// policies, of which due are due at tickNow. The due keys are created
// through the Service. The others copy a template key made through the
// Service, each with a name, a version and key material of its own (real
// P-256 keys sealed to their own binding, generated on every core) and its
// own policy row, inserted in large transactions.
func seedTick(tb testing.TB, dir string, keys, due int) *tickDB {
	tb.Helper()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(dir, "tresor.db"))
	if err != nil {
		tb.Fatal(err)
	}
	sealer, err := seal.New(bytes.Repeat([]byte{7}, seal.RootKeySize), "keys")
	if err != nil {
		tb.Fatal(err)
	}
	t := &tickDB{db: db, module: software.New(sealer), keys: keys, due: due, dueAt: duePolicy.Actions[0].TimeAfterCreate.AddTo(tickSeeded)}
	svc := t.service(tickSeeded)
	t.vault, _, err = svc.CreateOrUpdateVault(ctx, keyvault.Vault{
		Kind: keyvault.KeyVault, Name: "tick-bench", SKU: "standard", TenantID: "tenant", SubscriptionID: "sub", ResourceGroup: "rg",
	})
	if err != nil {
		tb.Fatal(err)
	}
	create := func(name string, p keyvault.RotationPolicy) {
		tb.Helper()
		p.Actions = slices.Clone(p.Actions) // the Service normalizes them in place
		if _, err := svc.CreateKey(ctx, t.vault, name, keyvault.CreateKeyParams{Type: keyvault.EC, Curve: hsm.P256}); err != nil {
			tb.Fatal(err)
		}
		if _, err := svc.UpdateKeyRotationPolicy(ctx, t.vault, name, p); err != nil {
			tb.Fatal(err)
		}
	}
	for i := range due {
		create(fmt.Sprintf("due-%07d", i), duePolicy)
	}
	t.dueSeq = t.maxSeq(tb)
	if keys > due {
		create(fillerName(0), laterPolicy)
		t.insertFillers(tb, keys-due-1)
	}
	t.seedSeq = t.maxSeq(tb)
	if _, err := db.write.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		tb.Fatal(err)
	}
	t.check(tb)
	return t
}

func fillerName(i int) string { return fmt.Sprintf("key-%07d", i) }

// insertFillers inserts n copies of the template key fillerName(0), named
// fillerName(1) to fillerName(n).
func (t *tickDB) insertFillers(tb testing.TB, n int) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // stops the generators if an insert fails
	tmpl, err := t.db.KeyVersion(ctx, t.vault.ID, fillerName(0), "")
	if err != nil {
		tb.Fatal(err)
	}
	p, err := t.db.RotationPolicy(ctx, t.vault.ID, fillerName(0))
	if err != nil {
		tb.Fatal(err)
	}
	policy := encodePolicy(p)

	// Key generation runs on every core, ahead of the single writer.
	rows := make(chan keyvault.KeyVersion, 4096)
	var genErr error
	var once sync.Once
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			for i := 1 + w; i <= n; i += workers {
				kv := tmpl
				kv.Name, kv.Version = fillerName(i), fmt.Sprintf("%032x", i)
				// The binding keyvault gives a version's Handle (keyvault.binding);
				// check opens one of these keys through the Service.
				binding := fmt.Appendf(nil, "keyvault/%s/keys/%s/%s", kv.VaultID, kv.Name, kv.Version)
				var err error
				kv.Handle, kv.Public, err = t.module.Generate(ctx, hsm.Spec{Type: hsm.EC, Curve: hsm.P256}, binding)
				if err != nil {
					once.Do(func() { genErr = err })
					return
				}
				select {
				case rows <- kv:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	go func() { wg.Wait(); close(rows) }()

	const batch = 50_000
	for done := false; !done; {
		err := t.db.update(ctx, func(tx *sql.Tx) error {
			key, err := tx.PrepareContext(ctx, `INSERT INTO keys (vault_id, name) VALUES (?, ?)`)
			if err != nil {
				return err
			}
			defer key.Close()
			pol, err := tx.PrepareContext(ctx, `INSERT INTO key_rotation_policies (vault_id, name, policy, created, updated) VALUES (?, ?, ?, ?, ?)`)
			if err != nil {
				return err
			}
			defer pol.Close()
			for range batch {
				kv, ok := <-rows
				if !ok {
					done = true
					return nil
				}
				if _, err := key.ExecContext(ctx, kv.VaultID, kv.Name); err != nil {
					return err
				}
				if err := insertVersion(ctx, tx, kv); err != nil {
					return err
				}
				if _, err := pol.ExecContext(ctx, kv.VaultID, kv.Name, policy, p.Created.Unix(), p.Updated.Unix()); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatalf("insert fillers: %v", err)
		}
	}
	if genErr != nil {
		tb.Fatalf("generate fillers: %v", genErr)
	}
}

func (t *tickDB) maxSeq(tb testing.TB) int64 {
	tb.Helper()
	var seq int64
	if err := t.db.read.QueryRow(`SELECT COALESCE(MAX(seq), 0) FROM key_versions`).Scan(&seq); err != nil {
		tb.Fatal(err)
	}
	return seq
}

// check verifies the seeded database: the counts, exactly the due keys due
// at tickNow and not one second earlier, and a filler key that the Service
// can use.
func (t *tickDB) check(tb testing.TB) {
	tb.Helper()
	ctx := context.Background()
	for _, table := range []string{"keys", "key_versions", "key_rotation_policies"} {
		var n int
		if err := t.db.read.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil || n != t.keys {
			tb.Fatalf("rows in %s = %d, %v; want %d", table, n, err, t.keys)
		}
	}
	due, err := t.db.DueRotations(ctx, tickNow, t.due+1)
	if err != nil || len(due) != t.due {
		tb.Fatalf("DueRotations(tickNow) = %d keys, %v; want %d", len(due), err, t.due)
	}
	for _, d := range due {
		if !d.Due.Equal(t.dueAt) || !strings.HasPrefix(d.Name, "due-") {
			tb.Fatalf("DueRotations(tickNow) has %s due %v; want due-* keys due %v", d.Name, d.Due, t.dueAt)
		}
	}
	if early, err := t.db.DueRotations(ctx, t.dueAt.Add(-time.Second), 1); err != nil || len(early) != 0 {
		tb.Fatalf("DueRotations(a second before due) = %v, %v; want none", early, err)
	}
	if t.keys > t.due {
		digest := sha256.Sum256([]byte("tick"))
		last := fillerName(t.keys - t.due - 1)
		if _, err := t.service(tickNow).Sign(ctx, t.vault, last, "", hsm.ES256, digest[:]); err != nil {
			tb.Fatalf("Sign with filler key %s: %v", last, err)
		}
	}
}

// tickDBs holds the seeded databases of the benchmark, one per size, for
// the life of the test binary: seeding a million keys takes over a minute.
var tickDBs struct {
	sync.Mutex
	m    map[int]*tickDB
	dirs []string
}

// seededTick returns the database of the given size with tickDue due keys,
// seeding it on first use.
func seededTick(b *testing.B, keys int) *tickDB {
	b.Helper()
	tickDBs.Lock()
	defer tickDBs.Unlock()
	if t, ok := tickDBs.m[keys]; ok {
		return t
	}
	dir, err := os.MkdirTemp("", "tresor-tick-")
	if err != nil {
		b.Fatal(err)
	}
	tickDBs.dirs = append(tickDBs.dirs, dir)
	start := time.Now()
	t := seedTick(b, dir, keys, tickDue)
	b.Logf("seeded %d keys (%d due) in %v", keys, tickDue, time.Since(start).Round(100*time.Millisecond))
	if tickDBs.m == nil {
		tickDBs.m = map[int]*tickDB{}
	}
	tickDBs.m[keys] = t
	return t
}

// TestMain removes the benchmark's databases.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, t := range tickDBs.m {
		t.db.Close()
	}
	for _, dir := range tickDBs.dirs {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

const tickDue = 1000

// BenchmarkSchedulerTick measures one scheduler tick, RotateDue at tickNow,
// over 10,000, 100,000 and 1,000,000 keys with policies, 1,000 of them due
// (in -short mode only the first size), and the query that finds the due
// keys alone. Each iteration of RotateDue must rotate exactly the 1,000
// due keys; the database is re-armed, outside the timer, before each.
// Besides the wall time per tick and per rotated key, RotateDue reports
// the process's CPU time per tick (cpu-ns/op). Seeding is logged (-v).
//
//	go test -run '^$' -bench BenchmarkSchedulerTick -benchtime 5x -count 3 -timeout 30m -v ./sqlite/
func BenchmarkSchedulerTick(b *testing.B) {
	sizes := []int{10_000, 100_000, 1_000_000}
	if testing.Short() {
		sizes = sizes[:1]
	}
	ctx := context.Background()
	for _, keys := range sizes {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			t := seededTick(b, keys)
			b.Run("RotateDue", func(b *testing.B) {
				b.StopTimer()
				var cpu time.Duration
				for range b.N {
					t.rearm(b)
					svc := t.service(tickNow)
					cpu -= cpuTime(b)
					b.StartTimer()
					res, err := svc.RotateDue(ctx)
					b.StopTimer()
					cpu += cpuTime(b)
					if err != nil || len(res.Rotated) != t.due || len(res.Failed) != 0 {
						b.Fatalf("RotateDue rotated %d keys, failed %d, err %v; want %d rotated", len(res.Rotated), len(res.Failed), err, t.due)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*t.due), "ns/key")
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			})
			b.Run("DueRotations", func(b *testing.B) {
				t.rearm(b)
				b.ResetTimer()
				for range b.N {
					due, err := t.db.DueRotations(ctx, tickNow, t.due)
					if err != nil || len(due) != t.due {
						b.Fatalf("DueRotations = %d keys, %v; want %d", len(due), err, t.due)
					}
				}
			})
		})
	}
}

// cpuTime returns the CPU time the process has used, user and system. On
// a machine shared with other work it varies less than the wall time.
func cpuTime(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRotateKey measures one rotation (RotateKey) of an EC P-256 and
// an RSA-2048 key, mostly key generation, to extrapolate the tick to other
// key types.
//
//	go test -run '^$' -bench BenchmarkRotateKey -benchtime 100x -count 5 ./sqlite/
func BenchmarkRotateKey(b *testing.B) {
	ctx := context.Background()
	tests := []struct {
		name string
		p    keyvault.CreateKeyParams
	}{
		{"P256", keyvault.CreateKeyParams{Type: keyvault.EC, Curve: hsm.P256}},
		{"RSA2048", keyvault.CreateKeyParams{Type: keyvault.RSA, Size: 2048}},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			t := seedTick(b, b.TempDir(), 0, 0)
			defer t.db.Close()
			svc := t.service(tickNow)
			if _, err := svc.CreateKey(ctx, t.vault, "k", tt.p); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, err := svc.RotateKey(ctx, t.vault, "k"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestDueRotationsPlan checks that DueRotations reads the due keys from the
// partial index on rotation_due, so that its cost grows with the due keys
// and not with all keys, and that no table is scanned.
func TestDueRotationsPlan(t *testing.T) {
	db := openTest(t)
	rows, err := db.read.Query(`EXPLAIN QUERY PLAN `+dueQuery("rotation_due"), tickNow.Unix(), tickDue)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	indexed := false
	for _, step := range plan {
		if strings.HasPrefix(step, "SEARCH kv USING INDEX key_versions_rotation_due ") {
			indexed = true
		}
		if strings.HasPrefix(step, "SCAN") {
			t.Errorf("plan step %q scans a table", step)
		}
	}
	if !indexed {
		t.Errorf("DueRotations plan does not search key_versions_rotation_due:\n%s", strings.Join(plan, "\n"))
	}
}

// TestSchedulerTickSeed runs the benchmark's seeding and tick at a tiny
// size, so that the benchmark's harness is tested with the package.
func TestSchedulerTickSeed(t *testing.T) {
	tk := seedTick(t, t.TempDir(), 60, 20)
	defer tk.db.Close()
	for range 2 {
		tk.rearm(t)
		res, err := tk.service(tickNow).RotateDue(context.Background())
		if err != nil || len(res.Rotated) != tk.due || len(res.Failed) != 0 {
			t.Fatalf("RotateDue rotated %d keys, failed %d, err %v; want %d rotated", len(res.Rotated), len(res.Failed), err, tk.due)
		}
		if next, err := tk.service(tickNow).NextRotation(context.Background()); err != nil || !next.After(tickNow) {
			t.Errorf("NextRotation after the tick = %v, %v; want after %v", next, err, tickNow)
		}
	}
}
