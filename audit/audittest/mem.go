package audittest

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/audit"
)

var _ audit.Store = (*MemStore)(nil)

// MemStore is an in-memory audit.Store. Records are copied in and out so
// that callers cannot alias stored state, and times are kept as the SQL
// stores keep them: in UTC, to the nanosecond.
//
// Its Fail field injects failures, for tests of callers.
type MemStore struct {
	mu      sync.Mutex
	records []audit.Record // in ascending order of Seq

	// Fail, if not nil, is called at the start of every Append with the
	// records to append; if it returns an error, Append returns it and
	// stores nothing. It is called with the store's lock held, so it must
	// not call the store.
	Fail func(records []audit.Record) error
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{} }

// Append implements audit.Store.
func (m *MemStore) Append(ctx context.Context, records []audit.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		if err := m.Fail(records); err != nil {
			return err
		}
	}
	var last int64
	if len(m.records) > 0 {
		last = m.records[len(m.records)-1].Seq
	}
	for i, r := range records {
		if want := last + 1 + int64(i); r.Seq != want {
			return tresor.Errorf(tresor.Conflict, "audit: record %d appended where %d is due", r.Seq, want)
		}
	}
	for _, r := range records {
		m.records = append(m.records, stored(r))
	}
	return nil
}

// Last implements audit.Store.
func (m *MemStore) Last(ctx context.Context) (audit.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.records) == 0 {
		return audit.Record{}, tresor.Errorf(tresor.NotFound, "audit: log is empty")
	}
	return stored(m.records[len(m.records)-1]), nil
}

// Records implements audit.Store.
func (m *MemStore) Records(ctx context.Context, afterSeq int64, limit int) ([]audit.Record, error) {
	if limit < 1 {
		return nil, tresor.Errorf(tresor.Invalid, "audit: limit %d is below 1", limit)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	start, _ := slices.BinarySearchFunc(m.records, afterSeq+1, func(r audit.Record, seq int64) int {
		return cmp.Compare(r.Seq, seq)
	})
	end := min(start+limit, len(m.records))
	out := make([]audit.Record, 0, end-start)
	for _, r := range m.records[start:end] {
		out = append(out, stored(r))
	}
	return out, nil
}

// Edit calls fn on the stored record with the given Seq, as someone with
// write access to the database could, and reports whether there was one.
// fn may change any field, the Seq included; the records are then kept
// in order of Seq, as a database table keyed by it would return them. It
// is for tests that tamper with the log.
func (m *MemStore) Edit(seq int64, fn func(r *audit.Record)) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := slices.IndexFunc(m.records, func(r audit.Record) bool { return r.Seq == seq })
	if i < 0 {
		return false
	}
	fn(&m.records[i])
	slices.SortStableFunc(m.records, func(a, b audit.Record) int { return cmp.Compare(a.Seq, b.Seq) })
	return true
}

// Delete removes the stored records with the given Seqs, keeping the Seqs
// of the others, as someone with write access to the database could. It
// is for tests that tamper with the log.
func (m *MemStore) Delete(seqs ...int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records = slices.DeleteFunc(m.records, func(r audit.Record) bool { return slices.Contains(seqs, r.Seq) })
}

// stored returns a copy of r as a store keeps it.
func stored(r audit.Record) audit.Record {
	r.Time = time.Unix(0, r.Time.UnixNano()).UTC()
	r.MAC = slices.Clone(r.MAC)
	return r
}
