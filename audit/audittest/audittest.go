// Package audittest supports testing audit: TestStore, the conformance
// suite every audit.Store implementation passes, and MemStore, an
// in-memory Store that passes it and serves as a fake.
package audittest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/audit"
)

// TestStore checks that the Stores returned by open keep every contract of
// audit.Store. open is called once per subtest and must return an empty
// Store; it registers its own cleanup with t.Cleanup.
//
// Beyond the doc comments of audit.Store, the suite pins down what Verify
// relies on:
//   - every field comes back exactly as appended, strings byte for byte
//     (including empty ones and fields of MaxField bytes) and the MAC
//     as given;
//   - times come back in UTC with nanosecond precision, whatever zone
//     they were appended in, before 1970 as after;
//   - an Append that fails, for any record of the batch, stores none of
//     it;
//   - Records pages without skipping or repeating, and an afterSeq past
//     the end, or below zero, is not an error.
//
// Stores do not check MACs; the suite appends arbitrary ones.
func TestStore(t *testing.T, open func(t *testing.T) audit.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s audit.Store)
	}{
		{"Empty", testEmpty},
		{"RoundTrip", testRoundTrip},
		{"Times", testTimes},
		{"AppendInBatches", testAppendInBatches},
		{"AppendAtomic", testAppendAtomic},
		{"Paging", testPaging},
		{"Copies", testCopies},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, open(t)) })
	}
}

// t0 is a fixed time with nanoseconds, in a zone other than UTC.
var t0 = time.Date(2026, 11, 23, 13, 0, 0, 123456789, time.FixedZone("CET", 3600))

// record returns a record with every field set, each differing with seq.
func record(seq int64) audit.Record {
	mac := sha256.Sum256(fmt.Append(nil, "mac", seq))
	return audit.Record{
		Seq:       seq,
		Time:      t0.Add(time.Duration(seq) * time.Millisecond),
		RequestID: fmt.Sprintf("req-%d", seq),
		Principal: tresor.Principal{
			TenantID: "tenant", ObjectID: fmt.Sprintf("oid-%d", seq), AppID: "app", Name: "Zoë",
			Type: tresor.ServicePrincipal,
		},
		Operation:  "UnwrapKey",
		ResourceID: fmt.Sprintf("https://kv1.vault.localhost:8443/keys/k%d", seq),
		KeyVersion: fmt.Sprintf("%032x", seq),
		Result:     audit.Allowed,
		Status:     200,
		MAC:        mac[:],
	}
}

// records returns record(from) to record(to).
func records(from, to int64) []audit.Record {
	var rs []audit.Record
	for seq := from; seq <= to; seq++ {
		rs = append(rs, record(seq))
	}
	return rs
}

func mustAppend(t *testing.T, s audit.Store, rs []audit.Record) {
	t.Helper()
	if err := s.Append(context.Background(), rs); err != nil {
		t.Fatalf("Append(%d records from %d) = %v", len(rs), rs[0].Seq, err)
	}
}

// all returns every record in s.
func all(t *testing.T, s audit.Store) []audit.Record {
	t.Helper()
	rs, err := s.Records(context.Background(), 0, 1<<20)
	if err != nil {
		t.Fatalf("Records(0) = %v", err)
	}
	return rs
}

// diff compares records, times by instant, and checks that got's times
// are in UTC.
func diff(got, want []audit.Record) string {
	for _, r := range got {
		if r.Time.Location() != time.UTC {
			return fmt.Sprintf("record %d: time %v is not in UTC", r.Seq, r.Time)
		}
	}
	return cmp.Diff(want, got, cmpopts.EquateEmpty(), cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }))
}

func testEmpty(t *testing.T, s audit.Store) {
	ctx := context.Background()
	if _, err := s.Last(ctx); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("Last() on an empty log = %v, want NotFound", err)
	}
	if rs, err := s.Records(ctx, 0, 10); err != nil || len(rs) != 0 {
		t.Errorf("Records(0, 10) on an empty log = %d records, %v; want none", len(rs), err)
	}
	if err := s.Append(ctx, nil); err != nil {
		t.Errorf("Append(nil) = %v, want nil", err)
	}
	if err := s.Append(ctx, records(2, 2)); !tresor.IsKind(err, tresor.Conflict) {
		t.Errorf("Append(record 2) on an empty log = %v, want Conflict", err)
	}
	if err := s.Append(ctx, records(0, 0)); !tresor.IsKind(err, tresor.Conflict) {
		t.Errorf("Append(record 0) on an empty log = %v, want Conflict", err)
	}
	if _, err := s.Last(ctx); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("Last() after failed appends = %v, want NotFound", err)
	}
}

func testRoundTrip(t *testing.T, s audit.Store) {
	ctx := context.Background()
	full := record(1)
	long := strings.Repeat("é", audit.MaxField/2)
	full.RequestID, full.Principal.Name, full.ResourceID = long, "quote ' \" ; -- \x00 nul", "/subscriptions/s/resourceGroups/rg"
	empty := audit.Record{Seq: 2, Time: t0, MAC: record(2).MAC} // every string empty, status 0
	denied := record(3)
	denied.Result, denied.Status, denied.Principal.Type = audit.Denied, 403, tresor.ManagedIdentity
	want := []audit.Record{full, empty, denied}
	mustAppend(t, s, want)
	if d := diff(all(t, s), want); d != "" {
		t.Errorf("Records() mismatch (-want +got):\n%s", d)
	}
	last, err := s.Last(ctx)
	if err != nil {
		t.Fatalf("Last() = %v", err)
	}
	if d := diff([]audit.Record{last}, want[2:]); d != "" {
		t.Errorf("Last() mismatch (-want +got):\n%s", d)
	}
}

func testTimes(t *testing.T, s audit.Store) {
	times := []time.Time{
		t0,
		time.Date(1969, 7, 20, 20, 17, 40, 999999999, time.UTC),
		time.Date(2262, 4, 11, 23, 47, 16, 854775807, time.UTC), // the last UnixNano
		time.Unix(0, 1).In(time.FixedZone("", -7*3600)),
		time.Now(), // with a monotonic reading
	}
	var want []audit.Record
	for i, tm := range times {
		r := record(int64(i + 1))
		r.Time = tm
		want = append(want, r)
	}
	mustAppend(t, s, want)
	got := all(t, s)
	if d := diff(got, want); d != "" {
		t.Fatalf("Records() mismatch (-want +got):\n%s", d)
	}
	for i, r := range got {
		if r.Time.UnixNano() != times[i].UnixNano() {
			t.Errorf("record %d: time %v, want %v to the nanosecond", r.Seq, r.Time, times[i])
		}
	}
}

func testAppendInBatches(t *testing.T, s audit.Store) {
	ctx := context.Background()
	mustAppend(t, s, records(1, 1))
	mustAppend(t, s, records(2, 4))
	mustAppend(t, s, records(5, 300))
	if d := diff(all(t, s), records(1, 300)); d != "" {
		t.Errorf("Records() mismatch (-want +got):\n%s", d)
	}
	last, err := s.Last(ctx)
	if err != nil || last.Seq != 300 {
		t.Errorf("Last() = %d, %v; want 300", last.Seq, err)
	}
}

func testAppendAtomic(t *testing.T, s audit.Store) {
	ctx := context.Background()
	mustAppend(t, s, records(1, 3))
	bad := []struct {
		name string
		rs   []audit.Record
	}{
		{"gap in batch", []audit.Record{record(4), record(6)}},
		{"repeat in batch", []audit.Record{record(4), record(5), record(5)}},
		{"descending", []audit.Record{record(5), record(4)}},
		{"existing seq", records(3, 5)},
		{"gap before batch", records(5, 6)},
		{"rewrite", records(1, 3)},
	}
	for _, b := range bad {
		if err := s.Append(ctx, b.rs); !tresor.IsKind(err, tresor.Conflict) {
			t.Errorf("Append(%s) = %v, want Conflict", b.name, err)
		}
	}
	if d := diff(all(t, s), records(1, 3)); d != "" {
		t.Errorf("failed Appends changed the store (-want +got):\n%s", d)
	}
	// The log continues where it was.
	mustAppend(t, s, records(4, 5))
	if d := diff(all(t, s), records(1, 5)); d != "" {
		t.Errorf("Records() mismatch (-want +got):\n%s", d)
	}
}

func testPaging(t *testing.T, s audit.Store) {
	ctx := context.Background()
	mustAppend(t, s, records(1, 10))
	tests := []struct {
		after    int64
		limit    int
		from, to int64 // the records expected; to < from for none
	}{
		{0, 3, 1, 3},
		{3, 3, 4, 6},
		{6, 3, 7, 9},
		{9, 3, 10, 10},
		{10, 3, 1, 0},
		{100, 3, 1, 0},
		{-5, 2, 1, 2},
		{4, 1, 5, 5},
		{0, 1000, 1, 10},
	}
	for _, tt := range tests {
		got, err := s.Records(ctx, tt.after, tt.limit)
		if err != nil {
			t.Errorf("Records(%d, %d) = %v", tt.after, tt.limit, err)
			continue
		}
		if d := diff(got, records(tt.from, tt.to)); d != "" {
			t.Errorf("Records(%d, %d) mismatch (-want +got):\n%s", tt.after, tt.limit, d)
		}
	}
	for _, limit := range []int{0, -1} {
		if _, err := s.Records(ctx, 0, limit); !tresor.IsKind(err, tresor.Invalid) {
			t.Errorf("Records(0, %d) = %v, want Invalid", limit, err)
		}
	}
	// Paging through the whole log sees every record once.
	var seqs []int64
	for after := int64(0); ; {
		page, err := s.Records(ctx, after, 4)
		if err != nil {
			t.Fatalf("Records(%d, 4) = %v", after, err)
		}
		if len(page) == 0 {
			break
		}
		for _, r := range page {
			seqs = append(seqs, r.Seq)
		}
		after = page[len(page)-1].Seq
	}
	if want := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}; !slices.Equal(seqs, want) {
		t.Errorf("paging by 4 saw %v, want %v", seqs, want)
	}
}

func testCopies(t *testing.T, s audit.Store) {
	ctx := context.Background()
	in := records(1, 2)
	if err := s.Append(ctx, in); err != nil {
		t.Fatal(err)
	}
	in[0].MAC[0] ^= 0xff
	in[1].Operation = "changed"
	out, err := s.Records(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	out[1].MAC[0] ^= 0xff
	last, err := s.Last(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last.MAC[1] ^= 0xff
	if d := diff(all(t, s), records(1, 2)); d != "" {
		t.Errorf("the store aliases callers' records (-want +got):\n%s", d)
	}
}
