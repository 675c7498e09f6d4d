package audit

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/tresorkms/tresor"
)

// DefaultMaxBatch is the most records Log appends in one Store.Append
// unless Options say otherwise.
const DefaultMaxBatch = 256

// Options tune a Log. The zero Options are the defaults.
type Options struct {
	// Now returns the current time; it stamps each record. Default
	// time.Now.
	Now func() time.Time
	// MaxBatch is the most records appended in one Store.Append. Default
	// DefaultMaxBatch.
	MaxBatch int
}

// Log appends records to a Store, chaining their MACs. It is safe for
// concurrent use.
//
// A single writer goroutine takes whatever records are queued (up to
// MaxBatch), numbers and chains them, and appends them in one Store.Append,
// so concurrent callers share one transaction. Numbering and chaining
// happen in the writer, against the head of what is stored, so a failed
// Append leaves nothing to undo: the writer re-reads the head from the
// Store before the next batch (the failed batch may, after all, have been
// stored) and the chain continues from wherever the Store really ends.
type Log struct {
	store    Store
	chain    *Chain
	now      func() time.Time
	maxBatch int

	mu     sync.Mutex
	queue  []pending // in order of Time
	closed bool

	wake chan struct{} // capacity 1: a record is queued or the Log is closing
	done chan struct{} // closed when the writer has stopped

	// Owned by the writer goroutine.
	head  Head // of the last stored record
	stale bool // an Append failed; reload head before the next one
}

// pending is a queued record and where to report its fate.
type pending struct {
	r    Record
	done chan error // capacity 1, so the writer never blocks
}

// Open returns a Log that continues the chain stored in store, keyed by the
// server's 32-byte root key. Close it to stop its writer goroutine.
func Open(ctx context.Context, store Store, root []byte, opts Options) (*Log, error) {
	chain, err := NewMAC(root)
	if err != nil {
		return nil, err
	}
	l := &Log{
		store:    store,
		chain:    chain,
		now:      opts.Now,
		maxBatch: opts.MaxBatch,
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.maxBatch < 1 {
		l.maxBatch = DefaultMaxBatch
	}
	if err := l.reload(ctx); err != nil {
		return nil, err
	}
	go l.run()
	return l, nil
}

// Record logs r and returns once it is stored. It sets r's Time, Seq and
// MAC, overwriting any the caller set. It returns Invalid if r fails
// Validate, the Store's error if the batch holding r could not be appended,
// and Internal if the Log is closed.
//
// If ctx ends first, Record returns its error, but r stays queued and is
// still appended.
func (l *Log) Record(ctx context.Context, r Record) error {
	if err := r.Validate(); err != nil {
		return err
	}
	r.Seq, r.MAC = 0, nil
	p := pending{done: make(chan error, 1)}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return tresor.Errorf(tresor.Internal, "audit: log is closed")
	}
	// Stamping under the lock keeps Time in queue order, which is Seq order.
	r.Time = l.now().UTC().Round(0)
	p.r = r
	l.queue = append(l.queue, p)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default: // the writer is already due to look at the queue
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("audit: record: %w", ctx.Err())
	}
}

// Close appends the records still queued, stops the writer and returns
// once it has stopped. Record fails after Close. Close always returns nil;
// the callers of Record learn of failed appends.
func (l *Log) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	<-l.done
	return nil
}

// run is the writer goroutine.
func (l *Log) run() {
	defer close(l.done)
	var spare []pending
	for {
		// Let the goroutines that are ready run first: under load they
		// queue more records, so one Append carries many. When idle this
		// returns at once.
		runtime.Gosched()
		batch, closed := l.take(spare)
		if len(batch) > 0 {
			err := l.write(batch)
			for _, p := range batch {
				p.done <- err
			}
		}
		clear(batch) // drop the records and channels for the collector
		spare = batch
		if len(batch) == 0 {
			if closed {
				return
			}
			<-l.wake
		}
	}
}

// take removes up to maxBatch records from the front of the queue. spare is
// an emptied slice whose array the queue may reuse. It also reports
// whether the Log is closing.
func (l *Log) take(spare []pending) ([]pending, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queue) <= l.maxBatch {
		batch := l.queue
		l.queue = spare[:0]
		return batch, l.closed
	}
	batch := append(spare[:0], l.queue[:l.maxBatch]...)
	n := copy(l.queue, l.queue[l.maxBatch:])
	clear(l.queue[n:])
	l.queue = l.queue[:n]
	return batch, l.closed
}

// write numbers and chains batch after the stored head and appends it.
func (l *Log) write(batch []pending) error {
	// The writer outlives any one request, so no request's context bounds
	// it; the Store's own timeouts do.
	ctx := context.Background()
	if l.stale {
		if err := l.reload(ctx); err != nil {
			return err
		}
	}
	recs := make([]Record, len(batch))
	h := l.head
	for i, p := range batch {
		r := p.r
		r.Seq = h.Seq + 1
		r.MAC = l.chain.Next(h.mac(), r)
		recs[i] = r
		h = headOf(r)
	}
	if err := l.store.Append(ctx, recs); err != nil {
		// The Store may have kept the batch after all (a commit whose
		// reply was lost), or another process may have appended: reload
		// the head rather than assume where the log ends.
		l.stale = true
		return fmt.Errorf("audit: append: %w", err)
	}
	l.head = h
	return nil
}

// reload reads the head of the stored log.
func (l *Log) reload(ctx context.Context) error {
	last, err := l.store.Last(ctx)
	switch {
	case tresor.IsKind(err, tresor.NotFound):
		l.head = Head{}
	case err != nil:
		return fmt.Errorf("audit: read head: %w", err)
	default:
		l.head = headOf(last)
	}
	l.stale = false
	return nil
}
