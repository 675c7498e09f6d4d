package audit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/audit"
	"github.com/tresorkms/tresor/audit/audittest"
)

var root = bytes.Repeat([]byte{7}, audit.RootKeySize)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// clock returns a Now that advances by a microsecond at each call.
func clock() func() time.Time {
	var n atomic.Int64
	return func() time.Time { return t0.Add(time.Duration(n.Add(1)) * time.Microsecond) }
}

// entry returns the caller's part of the i-th test record.
func entry(i int) audit.Record {
	return audit.Record{
		RequestID:  fmt.Sprint("req-", i),
		Principal:  tresor.Principal{TenantID: "t", ObjectID: fmt.Sprint("oid-", i%7), AppID: "app", Type: tresor.ServicePrincipal},
		Operation:  "UnwrapKey",
		ResourceID: "https://kv1.vault.localhost:8443/keys/k1",
		KeyVersion: "0123456789abcdef0123456789abcdef",
		Result:     audit.Allowed,
		Status:     200,
	}
}

func openLog(t testing.TB, s audit.Store) *audit.Log {
	t.Helper()
	l, err := audit.Open(context.Background(), s, root, audit.Options{Now: clock()})
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// logged returns a MemStore holding n records logged through a Log.
func logged(t *testing.T, n int) *audittest.MemStore {
	t.Helper()
	s := audittest.NewMemStore()
	l := openLog(t, s)
	for i := range n {
		if err := l.Record(context.Background(), entry(i)); err != nil {
			t.Fatalf("Record(%d) = %v", i, err)
		}
	}
	l.Close()
	return s
}

func all(t *testing.T, s audit.Store) []audit.Record {
	t.Helper()
	rs, err := s.Records(context.Background(), 0, 1<<20)
	if err != nil {
		t.Fatalf("Records() = %v", err)
	}
	return rs
}

func mustVerify(t *testing.T, s audit.Store, wantRecords int64) audit.Report {
	t.Helper()
	rep, err := audit.Verify(context.Background(), s, root, audit.VerifyOptions{PageSize: 7})
	if err != nil || !rep.OK() || rep.Records != wantRecords || rep.Head != wantRecords {
		t.Fatalf("Verify() = %+v, %v; want %d good records", rep, err, wantRecords)
	}
	return rep
}

func TestNewMAC(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := audit.NewMAC(make([]byte, n)); !tresor.IsKind(err, tresor.Invalid) {
			t.Errorf("NewMAC(%d bytes) = %v, want Invalid", n, err)
		}
	}
}

// TestChainCoversEveryField checks that changing any field of a record, or
// the MAC before it, or the key, changes its MAC, and that the time zone
// and an incoming MAC do not.
func TestChainCoversEveryField(t *testing.T) {
	c, err := audit.NewMAC(root)
	if err != nil {
		t.Fatal(err)
	}
	other, err := audit.NewMAC(bytes.Repeat([]byte{8}, audit.RootKeySize))
	if err != nil {
		t.Fatal(err)
	}
	prev := bytes.Repeat([]byte{1}, audit.MACSize)
	base := entry(1)
	base.Seq, base.Time = 5, t0
	want := c.Next(prev, base)

	changed := []struct {
		name string
		edit func(r *audit.Record)
	}{
		{"seq", func(r *audit.Record) { r.Seq++ }},
		{"time", func(r *audit.Record) { r.Time = r.Time.Add(time.Nanosecond) }},
		{"request id", func(r *audit.Record) { r.RequestID += "x" }},
		{"tenant id", func(r *audit.Record) { r.Principal.TenantID += "x" }},
		{"object id", func(r *audit.Record) { r.Principal.ObjectID += "x" }},
		{"app id", func(r *audit.Record) { r.Principal.AppID += "x" }},
		{"name", func(r *audit.Record) { r.Principal.Name += "x" }},
		{"type", func(r *audit.Record) { r.Principal.Type = tresor.User }},
		{"operation", func(r *audit.Record) { r.Operation = "WrapKey" }},
		{"resource id", func(r *audit.Record) { r.ResourceID += "2" }},
		{"key version", func(r *audit.Record) { r.KeyVersion = "" }},
		{"result", func(r *audit.Record) { r.Result = audit.Denied }},
		{"status", func(r *audit.Record) { r.Status = 403 }},
		// Length prefixes keep field boundaries: moving a byte from one
		// field to the next is a change.
		{"boundary", func(r *audit.Record) { r.Operation, r.ResourceID = "UnwrapKeyh", r.ResourceID[1:] }},
	}
	for _, tt := range changed {
		r := base
		tt.edit(&r)
		if got := c.Next(prev, r); bytes.Equal(got, want) {
			t.Errorf("changing the %s left the MAC unchanged", tt.name)
		}
	}
	if got := c.Next(audit.Head{}.MAC, base); bytes.Equal(got, want) {
		t.Error("changing the previous MAC left the MAC unchanged")
	}
	if got := other.Next(prev, base); bytes.Equal(got, want) {
		t.Error("changing the root key left the MAC unchanged")
	}

	same := []struct {
		name string
		edit func(r *audit.Record)
	}{
		{"zone", func(r *audit.Record) { r.Time = r.Time.In(time.FixedZone("CET", 3600)) }},
		{"mac", func(r *audit.Record) { r.MAC = []byte("ignored") }},
	}
	for _, tt := range same {
		r := base
		tt.edit(&r)
		if got := c.Next(prev, r); !bytes.Equal(got, want) {
			t.Errorf("changing the %s changed the MAC", tt.name)
		}
	}
	// MAC_0 is 32 zero bytes, however it is spelled.
	if a, b := c.Next(nil, base), c.Next(make([]byte, audit.MACSize), base); !bytes.Equal(a, b) {
		t.Error("Next(nil) differs from Next(32 zero bytes)")
	}
}

// TestVerify tampers with a logged chain of 10 records in each of the ways
// someone with write access to the database could, and checks that Verify
// reports the first record affected and why.
func TestVerify(t *testing.T) {
	const n = 10
	swap := func(s *audittest.MemStore, a, b int64) {
		rs := all(t, s)
		ra, rb := rs[a-1], rs[b-1]
		s.Edit(a, func(r *audit.Record) { *r = rb; r.Seq = a })
		s.Edit(b, func(r *audit.Record) { *r = ra; r.Seq = b })
	}
	tests := []struct {
		name     string
		tamper   func(s *audittest.MemStore) *audit.Head // returns the expected head, if any
		firstBad int64
		problem  string // prefix of Report.Problem; "" if the log should verify
	}{
		{"intact", func(*audittest.MemStore) *audit.Head { return nil }, 0, ""},
		{"edited field", func(s *audittest.MemStore) *audit.Head {
			s.Edit(5, func(r *audit.Record) { r.Result = audit.Denied })
			return nil
		}, 5, "edited"},
		{"edited time", func(s *audittest.MemStore) *audit.Head {
			s.Edit(3, func(r *audit.Record) { r.Time = r.Time.Add(-time.Hour) })
			return nil
		}, 3, "edited"},
		{"edited first", func(s *audittest.MemStore) *audit.Head {
			s.Edit(1, func(r *audit.Record) { r.Principal.ObjectID = "someone-else" })
			return nil
		}, 1, "edited"},
		{"edited last", func(s *audittest.MemStore) *audit.Head {
			s.Edit(n, func(r *audit.Record) { r.Operation = "GetKey" })
			return nil
		}, n, "edited"},
		{"edited mac", func(s *audittest.MemStore) *audit.Head {
			s.Edit(6, func(r *audit.Record) { r.MAC[0] ^= 1 })
			return nil
		}, 6, "edited"},
		{"truncated mac", func(s *audittest.MemStore) *audit.Head {
			s.Edit(6, func(r *audit.Record) { r.MAC = r.MAC[:16] })
			return nil
		}, 6, "edited"},
		{"deleted middle", func(s *audittest.MemStore) *audit.Head { s.Delete(4); return nil }, 4, "missing"},
		{"deleted several", func(s *audittest.MemStore) *audit.Head { s.Delete(4, 5, 6); return nil }, 4, "missing"},
		{"deleted first", func(s *audittest.MemStore) *audit.Head { s.Delete(1); return nil }, 1, "missing"},
		{"deleted and renumbered", func(s *audittest.MemStore) *audit.Head {
			s.Delete(4)
			for seq := int64(5); seq <= n; seq++ {
				s.Edit(seq, func(r *audit.Record) { r.Seq-- })
			}
			return nil
		}, 4, "missing"},
		{"swapped pair", func(s *audittest.MemStore) *audit.Head { swap(s, 5, 6); return nil }, 5, "reordered"},
		{"swapped first pair", func(s *audittest.MemStore) *audit.Head { swap(s, 1, 2); return nil }, 1, "reordered"},
		{"renumbered", func(s *audittest.MemStore) *audit.Head {
			s.Edit(7, func(r *audit.Record) { r.Seq = 70 })
			return nil
		}, 7, "missing"},
		{"truncated tail, head anchored", func(s *audittest.MemStore) *audit.Head {
			h := head(t, s)
			s.Delete(9, 10)
			return &h
		}, 9, "missing"},
		{"everything deleted, head anchored", func(s *audittest.MemStore) *audit.Head {
			h := head(t, s)
			s.Delete(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
			return &h
		}, 1, "missing"},
		// The limitation the package documents: without an anchored
		// head, a shortened log is a valid chain.
		{"truncated tail, no anchor", func(s *audittest.MemStore) *audit.Head { s.Delete(9, 10); return nil }, 0, ""},
		{"older head anchored", func(s *audittest.MemStore) *audit.Head {
			rs := all(t, s)
			return &audit.Head{Seq: 4, MAC: rs[3].MAC}
		}, 0, ""},
		{"head from another log", func(s *audittest.MemStore) *audit.Head {
			return &audit.Head{Seq: 4, MAC: bytes.Repeat([]byte{9}, audit.MACSize)}
		}, 4, "its MAC differs from the expected head"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := logged(t, n)
			expect := tt.tamper(s)
			rep, err := audit.Verify(context.Background(), s, root, audit.VerifyOptions{ExpectHead: expect, PageSize: 3})
			if tt.problem == "" {
				if err != nil || !rep.OK() {
					t.Fatalf("Verify() = %+v, %v; want OK", rep, err)
				}
				return
			}
			if !tresor.IsKind(err, tresor.Conflict) {
				t.Errorf("Verify() error = %v, want Conflict", err)
			}
			if rep.OK() || rep.FirstBad != tt.firstBad || !strings.HasPrefix(rep.Problem, tt.problem) {
				t.Errorf("Verify() = FirstBad %d, Problem %q; want %d, %q...", rep.FirstBad, rep.Problem, tt.firstBad, tt.problem)
			}
			if rep.Records != tt.firstBad-1 || rep.Head != tt.firstBad-1 {
				t.Errorf("Verify() = %d records up to %d, want the %d before the first bad one", rep.Records, rep.Head, tt.firstBad-1)
			}
		})
	}
}

func head(t *testing.T, s audit.Store) audit.Head {
	t.Helper()
	last, err := s.Last(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return audit.Head{Seq: last.Seq, MAC: last.MAC}
}

func TestVerifyEmpty(t *testing.T) {
	ctx := context.Background()
	s := audittest.NewMemStore()
	rep, err := audit.Verify(ctx, s, root, audit.VerifyOptions{})
	if err != nil || !rep.OK() || rep.Records != 0 || rep.Head != 0 || rep.HeadMAC != "" {
		t.Errorf("Verify(empty) = %+v, %v; want OK with no records", rep, err)
	}
	rep, err = audit.Verify(ctx, s, root, audit.VerifyOptions{ExpectHead: &audit.Head{}})
	if err != nil || !rep.OK() {
		t.Errorf("Verify(empty, expecting the empty head) = %+v, %v; want OK", rep, err)
	}
	if _, err := audit.Verify(ctx, s, root[:5], audit.VerifyOptions{}); !tresor.IsKind(err, tresor.Invalid) {
		t.Errorf("Verify(short root) = %v, want Invalid", err)
	}
}

// TestVerifyWrongKey checks that a chain recomputed without the root key,
// or checked with another, does not verify.
func TestVerifyWrongKey(t *testing.T) {
	s := logged(t, 3)
	other := bytes.Repeat([]byte{8}, audit.RootKeySize)
	rep, err := audit.Verify(context.Background(), s, other, audit.VerifyOptions{})
	if !tresor.IsKind(err, tresor.Conflict) || rep.FirstBad != 1 {
		t.Errorf("Verify(other key) = %+v, %v; want record 1 bad", rep, err)
	}
}

// TestVerifyHead checks that the head Verify reports round-trips through
// its text form and that anchoring it detects truncation later.
func TestVerifyHead(t *testing.T) {
	ctx := context.Background()
	s := logged(t, 5)
	rep := mustVerify(t, s, 5)
	h, err := audit.ParseHead(fmt.Sprintf("%d:%s", rep.Head, rep.HeadMAC))
	if err != nil {
		t.Fatalf("ParseHead() = %v", err)
	}
	if want := head(t, s); h.String() != want.String() {
		t.Errorf("report head %s, want %s", h, want)
	}
	s.Delete(5)
	if rep, err := audit.Verify(ctx, s, root, audit.VerifyOptions{ExpectHead: &h}); err == nil || rep.FirstBad != 5 {
		t.Errorf("Verify(truncated, anchored) = %+v, %v; want record 5 missing", rep, err)
	}
}

func TestParseHead(t *testing.T) {
	mac := sha256.Sum256([]byte("x"))
	good := audit.Head{Seq: 42, MAC: mac[:]}
	got, err := audit.ParseHead(good.String())
	if err != nil || got.Seq != 42 || !bytes.Equal(got.MAC, mac[:]) {
		t.Errorf("ParseHead(%q) = %v, %v; want %v", good.String(), got, err, good)
	}
	if got, err := audit.ParseHead("0:"); err != nil || got.Seq != 0 {
		t.Errorf("ParseHead(%q) = %v, %v; want the empty head", "0:", got, err)
	}
	for _, s := range []string{"", "42", "x:" + good.String()[3:], "-1:", "42:zz", "42:abcd", "42:" + strings.Repeat("a", 66)} {
		if _, err := audit.ParseHead(s); !tresor.IsKind(err, tresor.Invalid) {
			t.Errorf("ParseHead(%q) = %v, want Invalid", s, err)
		}
	}
}

func TestRecordSetsFields(t *testing.T) {
	ctx := context.Background()
	s := audittest.NewMemStore()
	cet := time.FixedZone("CET", 3600)
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, cet)
	l, err := audit.Open(ctx, s, root, audit.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	in := entry(1)
	in.Seq, in.Time, in.MAC = 99, t0, []byte("forged")
	if err := l.Record(ctx, in); err != nil {
		t.Fatal(err)
	}
	got := all(t, s)
	if len(got) != 1 {
		t.Fatalf("stored %d records, want 1", len(got))
	}
	r := got[0]
	if r.Seq != 1 || !r.Time.Equal(now) || r.Time.Location() != time.UTC || len(r.MAC) != audit.MACSize {
		t.Errorf("stored Seq %d, Time %v, MAC %x; want 1, %v in UTC, a fresh MAC", r.Seq, r.Time, r.MAC, now)
	}
	if r.RequestID != in.RequestID || r.Principal != in.Principal || r.ResourceID != in.ResourceID || r.Status != in.Status {
		t.Errorf("stored %+v, want the caller's fields of %+v", r, in)
	}
}

// TestLogReopen checks that a Log opened on a store that holds records
// continues their chain.
func TestLogReopen(t *testing.T) {
	ctx := context.Background()
	s := logged(t, 3)
	l := openLog(t, s)
	for i := range 4 {
		if err := l.Record(ctx, entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	mustVerify(t, s, 7)
}

func TestLogClose(t *testing.T) {
	ctx := context.Background()
	l := openLog(t, audittest.NewMemStore())
	if err := l.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
	if err := l.Record(ctx, entry(1)); err == nil {
		t.Error("Record() after Close = nil, want an error")
	}
}

// TestLogConcurrent logs from many goroutines at once and checks that
// every record is stored once, numbered 1..N in the order of its Time,
// that the chain verifies, and that records shared Appends.
func TestLogConcurrent(t *testing.T) {
	const goroutines, each = 64, 50
	ctx := context.Background()
	s := audittest.NewMemStore()
	var appends atomic.Int64
	s.Fail = func([]audit.Record) error { appends.Add(1); return nil }
	l := openLog(t, s)
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				if err := l.Record(ctx, entry(g*each+i)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Record() = %v", err)
	}
	l.Close()
	mustVerify(t, s, goroutines*each)
	rs := all(t, s)
	seen := map[string]bool{}
	for i, r := range rs {
		if r.Seq != int64(i+1) {
			t.Fatalf("record %d has Seq %d", i+1, r.Seq)
		}
		if i > 0 && !r.Time.After(rs[i-1].Time) {
			t.Errorf("record %d logged at %v, not after record %d at %v", r.Seq, r.Time, i, rs[i-1].Time)
		}
		if seen[r.RequestID] {
			t.Errorf("request %s logged twice", r.RequestID)
		}
		seen[r.RequestID] = true
	}
	if len(seen) != goroutines*each {
		t.Errorf("logged %d distinct requests, want %d", len(seen), goroutines*each)
	}
	if n := appends.Load(); n >= goroutines*each {
		t.Errorf("%d records took %d Appends; want them grouped", goroutines*each, n)
	}
	t.Logf("%d records in %d Appends", goroutines*each, appends.Load())
}

// TestLogMaxBatch checks that no Append holds more than MaxBatch records.
func TestLogMaxBatch(t *testing.T) {
	ctx := context.Background()
	s := audittest.NewMemStore()
	var largest atomic.Int64
	s.Fail = func(rs []audit.Record) error {
		if n := int64(len(rs)); n > largest.Load() {
			largest.Store(n)
		}
		return nil
	}
	l, err := audit.Open(ctx, s, root, audit.Options{MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			if err := l.Record(ctx, entry(i)); err != nil {
				t.Errorf("Record() = %v", err)
			}
		})
	}
	wg.Wait()
	l.Close()
	mustVerify(t, s, 200)
	if n := largest.Load(); n > 4 || n < 1 {
		t.Errorf("largest Append held %d records, want 1 to 4", n)
	}
}

var errInjected = errors.New("injected failure")

// TestLogAppendFails checks that when an Append fails, the Record calls
// whose records it held return the error, and that later records, including
// those queued behind the failed batch, still chain correctly.
func TestLogAppendFails(t *testing.T) {
	ctx := context.Background()
	s := audittest.NewMemStore()
	var failNext atomic.Bool
	s.Fail = func([]audit.Record) error {
		if failNext.CompareAndSwap(true, false) {
			return errInjected
		}
		return nil
	}
	l := openLog(t, s)
	if err := l.Record(ctx, entry(1)); err != nil {
		t.Fatal(err)
	}
	failNext.Store(true)
	if err := l.Record(ctx, entry(2)); !errors.Is(err, errInjected) {
		t.Fatalf("Record() during a failing Append = %v, want the Store's error", err)
	}
	for i := 3; i <= 5; i++ {
		if err := l.Record(ctx, entry(i)); err != nil {
			t.Fatalf("Record(%d) after a failed Append = %v", i, err)
		}
	}
	l.Close()
	mustVerify(t, s, 4)
	var ids []string
	for _, r := range all(t, s) {
		ids = append(ids, r.RequestID)
	}
	if want := []string{"req-1", "req-3", "req-4", "req-5"}; !slices.Equal(ids, want) {
		t.Errorf("logged %v, want %v", ids, want)
	}
}

// TestLogAppendFailsUnderLoad fails every third Append while many
// goroutines log, and checks that exactly the records whose Record call
// succeeded are stored, in a chain that verifies.
func TestLogAppendFailsUnderLoad(t *testing.T) {
	ctx := context.Background()
	s := audittest.NewMemStore()
	var calls atomic.Int64
	s.Fail = func([]audit.Record) error {
		if calls.Add(1)%3 == 0 {
			return errInjected
		}
		return nil
	}
	l := openLog(t, s)
	var mu sync.Mutex
	ok := map[string]bool{}
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 30 {
				e := entry(g*30 + i)
				err := l.Record(ctx, e)
				if err != nil && !errors.Is(err, errInjected) {
					t.Errorf("Record() = %v, want nil or the Store's error", err)
				}
				mu.Lock()
				ok[e.RequestID] = err == nil
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	l.Close()
	var succeeded int64
	for _, v := range ok {
		if v {
			succeeded++
		}
	}
	mustVerify(t, s, succeeded)
	for _, r := range all(t, s) {
		if !ok[r.RequestID] {
			t.Errorf("request %s is logged but its Record call failed", r.RequestID)
		}
	}
	if succeeded == 0 || succeeded == 32*30 {
		t.Errorf("%d of %d Record calls succeeded; want some failures and some successes", succeeded, 32*30)
	}
}

// ambiguousStore stores a batch and then reports failure, as a database
// whose commit succeeded but whose reply was lost would.
type ambiguousStore struct {
	audit.Store
	failNext atomic.Bool
}

func (s *ambiguousStore) Append(ctx context.Context, rs []audit.Record) error {
	if err := s.Store.Append(ctx, rs); err != nil {
		return err
	}
	if s.failNext.CompareAndSwap(true, false) {
		return errInjected
	}
	return nil
}

// TestLogAppendAmbiguous checks that the Log continues the chain from what
// the Store holds, not from what it believes, after an Append that failed
// but stored its batch.
func TestLogAppendAmbiguous(t *testing.T) {
	ctx := context.Background()
	mem := audittest.NewMemStore()
	s := &ambiguousStore{Store: mem}
	l := openLog(t, s)
	if err := l.Record(ctx, entry(1)); err != nil {
		t.Fatal(err)
	}
	s.failNext.Store(true)
	if err := l.Record(ctx, entry(2)); !errors.Is(err, errInjected) {
		t.Fatalf("Record() = %v, want the Store's error", err)
	}
	if err := l.Record(ctx, entry(3)); err != nil {
		t.Fatalf("Record() after an ambiguous Append = %v", err)
	}
	l.Close()
	mustVerify(t, mem, 3)
}

// blockingStore holds every Append until release is closed.
type blockingStore struct {
	audit.Store
	release chan struct{}
}

func (s *blockingStore) Append(ctx context.Context, rs []audit.Record) error {
	<-s.release
	return s.Store.Append(ctx, rs)
}

// TestRecordContext checks that Record returns when its context ends and
// that the record is still logged.
func TestRecordContext(t *testing.T) {
	mem := audittest.NewMemStore()
	s := &blockingStore{Store: mem, release: make(chan struct{})}
	l := openLog(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := l.Record(ctx, entry(1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Record() with an expiring context = %v, want DeadlineExceeded", err)
	}
	close(s.release)
	l.Close()
	mustVerify(t, mem, 1)
}

func TestValidate(t *testing.T) {
	long := strings.Repeat("x", audit.MaxField+1)
	max := strings.Repeat("x", audit.MaxField)
	tests := []struct {
		name string
		edit func(r *audit.Record)
		ok   bool
	}{
		{"typical", func(*audit.Record) {}, true},
		{"empty", func(r *audit.Record) { *r = audit.Record{} }, true},
		{"fields at the limit", func(r *audit.Record) {
			r.RequestID, r.Principal.TenantID, r.Principal.ObjectID, r.Principal.AppID = max, max, max, max
			r.Principal.Name, r.Principal.Type, r.Operation, r.ResourceID = max, tresor.PrincipalType(max), max, max
			r.KeyVersion, r.Result = max, max
		}, true},
		{"status 999", func(r *audit.Record) { r.Status = 999 }, true},
		{"request id", func(r *audit.Record) { r.RequestID = long }, false},
		{"tenant id", func(r *audit.Record) { r.Principal.TenantID = long }, false},
		{"object id", func(r *audit.Record) { r.Principal.ObjectID = long }, false},
		{"app id", func(r *audit.Record) { r.Principal.AppID = long }, false},
		{"name", func(r *audit.Record) { r.Principal.Name = long }, false},
		{"type", func(r *audit.Record) { r.Principal.Type = tresor.PrincipalType(long) }, false},
		{"operation", func(r *audit.Record) { r.Operation = long }, false},
		{"resource id", func(r *audit.Record) { r.ResourceID = long }, false},
		{"key version", func(r *audit.Record) { r.KeyVersion = long }, false},
		{"result", func(r *audit.Record) { r.Result = long }, false},
		{"negative status", func(r *audit.Record) { r.Status = -1 }, false},
		{"status 1000", func(r *audit.Record) { r.Status = 1000 }, false},
	}
	ctx := context.Background()
	s := audittest.NewMemStore()
	l := openLog(t, s)
	var stored int64
	for _, tt := range tests {
		r := entry(1)
		tt.edit(&r)
		err := r.Validate()
		if tt.ok != (err == nil) || (err != nil && !tresor.IsKind(err, tresor.Invalid)) {
			t.Errorf("Validate(%s) = %v, want ok %v or Invalid", tt.name, err, tt.ok)
		}
		if err := l.Record(ctx, r); tt.ok != (err == nil) {
			t.Errorf("Record(%s) = %v, want ok %v", tt.name, err, tt.ok)
		}
		if tt.ok {
			stored++
		}
	}
	l.Close()
	mustVerify(t, s, stored)
}

func BenchmarkRecord(b *testing.B) {
	l, err := audit.Open(context.Background(), audittest.NewMemStore(), root, audit.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.SetParallelism(16) // requests in flight per CPU, each waiting for its record
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := entry(1)
		ctx := context.Background()
		for pb.Next() {
			if err := l.Record(ctx, r); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
