package blob

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/tresorkms/tresor"
)

// InlineMax is the largest block, in plaintext bytes, whose sealed content
// is kept in the Store rather than in Data. Small blocks are then written
// with the metadata in one transaction, with no file to create and sync.
const InlineMax = ChunkSize

// Batches: a write reads writeBatch bytes of plaintext at a time, seals
// them and writes them to Data; a read decrypts up to readChunks chunks per
// read from Data. Both pool their buffers.
const (
	writeBatch = 1 << 20 // a multiple of ChunkSize
	readChunks = 4
)

var (
	// writeBuffers hold two batches of plaintext (one being hashed while
	// the next is read) and a batch sealed.
	writeBuffers = sync.Pool{New: func() any {
		b := make([]byte, 2*writeBatch+writeBatch/ChunkSize*(ChunkSize+tagSize))
		return &b
	}}
	// smallWriteBuffers do the same for a block of one chunk or less.
	smallWriteBuffers = sync.Pool{New: func() any {
		b := make([]byte, ChunkSize+ChunkSize+tagSize)
		return &b
	}}
	// readBuffers hold readChunks chunks of plaintext, then the same
	// chunks sealed.
	readBuffers = sync.Pool{New: func() any {
		b := make([]byte, readChunks*ChunkSize+readChunks*(ChunkSize+tagSize))
		return &b
	}}
)

// writeBlock reads size bytes from r, seals them as a new block of the blob
// at p in k's scope and stores them in Data, or returns them inline if the
// block is small. If sum is not nil, the plaintext is written to it too:
// for a block of more than one batch, on another goroutine, so that
// hashing one batch overlaps with reading, sealing and writing the next
// (MD5 costs about as much as the rest together). It returns Invalid if r
// ends early.
func (s *Service) writeBlock(ctx context.Context, k *scopeKeys, p Path, r io.Reader, size int64, sum hash.Hash) (b Block, err error) {
	b = Block{Size: size, ChunkSize: ChunkSize, Scope: k.scope}
	rand.Read(b.ID[:])
	dataKey := make([]byte, dataKeySize)
	rand.Read(dataKey)
	defer clear(dataKey)
	c, err := newChunkCipher(b.ID, dataKey)
	if err != nil {
		return Block{}, err
	}

	pool, batch := &smallWriteBuffers, int64(ChunkSize)
	if size > ChunkSize {
		pool, batch = &writeBuffers, writeBatch
	}
	bufp := pool.Get().(*[]byte)
	defer pool.Put(bufp)
	plain := [2][]byte{(*bufp)[:batch], (*bufp)[batch:batch]}
	if size > ChunkSize {
		plain[1] = (*bufp)[batch : 2*batch]
	}
	sealed := (*bufp)[len(plain[0])+len(plain[1]):][:0]

	var h *asyncHash
	if sum != nil && size > writeBatch {
		h = hashAsync(sum)
		defer h.stop() // before the buffers go back to the pool
	}
	var w DataWriter
	if size > InlineMax {
		if w, err = s.Data.Create(b.ID); err != nil {
			return Block{}, err
		}
		defer func() {
			if err != nil {
				w.Abort()
			}
		}()
	}
	for i, done := 0, int64(0); done < size; i++ {
		if err := ctx.Err(); err != nil {
			return Block{}, err
		}
		n := min(batch, size-done)
		buf := plain[i%2][:n]
		if h != nil {
			h.wait()
		}
		if _, err := io.ReadFull(r, buf); err != nil {
			return Block{}, readError(err, size)
		}
		switch {
		case h != nil:
			h.write(buf)
		case sum != nil:
			sum.Write(buf)
		}
		sealed = sealed[:0]
		for off := int64(0); off < n; off += ChunkSize {
			sealed = c.seal(sealed, buf[off:min(off+ChunkSize, n)], (done+off)/ChunkSize)
		}
		done += n
		if w != nil {
			if _, err := w.Write(sealed); err != nil {
				return Block{}, tresor.Wrap(err, "blob: write block")
			}
		}
	}
	if w == nil {
		b.Inline = append([]byte{}, sealed...)
	} else if err := w.Commit(); err != nil {
		return Block{}, tresor.Wrap(err, "blob: write block")
	}
	b.Key = k.wrapKey(p, b, dataKey)
	return b, nil
}

// An asyncHash writes batches to a hash on its own goroutine, in order.
// Two batches may be outstanding: the one being hashed and the next.
type asyncHash struct {
	in          chan []byte
	done        chan struct{} // one batch hashed; closed when in is
	outstanding int
}

func hashAsync(h hash.Hash) *asyncHash {
	a := &asyncHash{in: make(chan []byte, 2), done: make(chan struct{}, 2)}
	go func() {
		defer close(a.done)
		for p := range a.in {
			h.Write(p)
			a.done <- struct{}{}
		}
	}()
	return a
}

// write hands p to the hash; p must not change until wait has returned
// twice more, or stop once.
func (a *asyncHash) write(p []byte) {
	a.in <- p
	a.outstanding++
}

// wait waits until the older of two outstanding batches has been hashed,
// so that its buffer may be reused.
func (a *asyncHash) wait() {
	if a.outstanding == 2 {
		<-a.done
		a.outstanding--
	}
}

// stop waits for every batch to be hashed and ends the goroutine.
func (a *asyncHash) stop() {
	close(a.in)
	for range a.done {
	}
}

// readError classifies a failure to read a request body: a body shorter
// than announced is the client's error.
func readError(err error, size int64) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return tresor.Errorf(tresor.Invalid, "The request body is shorter than its length, %d bytes.", size).WithReason(ReasonInvalidInput)
	}
	var te *tresor.Error
	if errors.As(err, &te) {
		return err
	}
	return &tresor.Error{Kind: tresor.Invalid, Reason: ReasonInvalidInput, Message: "The request body could not be read.", Err: err}
}

// A contentReader streams the plaintext of the bytes [pos, end) of a blob
// from its extents, with zeros where no extent is (the unwritten pages of a
// page blob). It opens one block at a time.
type contentReader struct {
	s       *Service
	keys    *scopeKeys // of the blob's scope
	p       Path
	extents []Extent // in order; those that overlap [pos, end)
	pos     int64
	end     int64

	// The block being read, and its plaintext from bufStart (a block
	// offset) on.
	id       BlockID
	opened   bool
	cipher   chunkCipher
	file     DataReader
	buf      []byte
	bufStart int64
	scratch  *[]byte
}

func (s *Service) newContentReader(k *scopeKeys, p Path, extents []Extent, from, to int64) *contentReader {
	return &contentReader{s: s, keys: k, p: p, extents: extents, pos: from, end: to}
}

func (r *contentReader) Read(out []byte) (int, error) {
	if r.pos >= r.end {
		return 0, io.EOF
	}
	for len(r.extents) > 0 && r.extents[0].End() <= r.pos {
		r.extents = r.extents[1:]
	}
	if len(r.extents) == 0 || r.extents[0].Start > r.pos {
		// A gap: zeros up to the next extent.
		next := r.end
		if len(r.extents) > 0 {
			next = min(next, r.extents[0].Start)
		}
		n := int(min(int64(len(out)), next-r.pos))
		clear(out[:n])
		r.pos += n64(n)
		return n, nil
	}
	e := r.extents[0]
	off := e.Offset + (r.pos - e.Start) // in the block
	if err := r.load(e.Block, off); err != nil {
		return 0, err
	}
	avail := r.buf[off-r.bufStart:]
	limit := min(r.end, e.End()) - r.pos
	if int64(len(avail)) > limit {
		avail = avail[:limit]
	}
	n := copy(out, avail)
	r.pos += n64(n)
	return n, nil
}

func n64(n int) int64 { return int64(n) }

// load makes r.buf hold the plaintext of block b at offset off, decrypting
// the chunks from off's on, up to readChunks of them.
func (r *contentReader) load(b Block, off int64) error {
	if r.opened && r.id == b.ID && off >= r.bufStart && off < r.bufStart+int64(len(r.buf)) {
		return nil
	}
	if !r.opened || r.id != b.ID {
		if err := r.open(b); err != nil {
			return err
		}
	}
	cs := int64(b.ChunkSize)
	first := off / cs
	last := min(first+readChunks-1, (b.Size-1)/cs) // inclusive
	sealedFrom := first * (cs + tagSize)
	sealedTo := min(last*(cs+tagSize)+cs+tagSize, sealedSize(b.Size, b.ChunkSize))

	if r.scratch == nil {
		r.scratch = readBuffers.Get().(*[]byte)
	}
	var sealed []byte
	if b.Inline != nil {
		if sealedTo > int64(len(b.Inline)) {
			return tresor.Wrap(fmt.Errorf("block %s is %d sealed bytes, want %d", b.ID, len(b.Inline), sealedTo), "blob: read block")
		}
		sealed = b.Inline[sealedFrom:sealedTo]
	} else {
		sealed = (*r.scratch)[readChunks*ChunkSize : readChunks*ChunkSize+int(sealedTo-sealedFrom)]
		if _, err := r.file.ReadAt(sealed, sealedFrom); err != nil {
			return tresor.Wrap(fmt.Errorf("block %s: %w", b.ID, err), "blob: read block")
		}
	}
	plain := (*r.scratch)[:0]
	for i := first; i <= last; i++ {
		n := min(cs+tagSize, int64(len(sealed)))
		var err error
		if plain, err = r.cipher.open(plain, sealed[:n], i); err != nil {
			return err
		}
		sealed = sealed[n:]
	}
	r.buf, r.bufStart = plain, first*cs
	return nil
}

// open switches r to block b.
func (r *contentReader) open(b Block) error {
	r.closeFile()
	r.opened = false
	dataKey, err := r.keys.unwrapKey(r.p, b)
	if err != nil {
		return err
	}
	defer clear(dataKey)
	if r.cipher, err = newChunkCipher(b.ID, dataKey); err != nil {
		return err
	}
	if b.Inline == nil {
		if r.file, err = r.s.Data.Open(b.ID); err != nil {
			return err
		}
	}
	r.id, r.opened, r.buf = b.ID, true, nil
	return nil
}

func (r *contentReader) closeFile() {
	if r.file != nil {
		r.file.Close()
		r.file = nil
	}
}

// Close releases the reader's file and buffers.
func (r *contentReader) Close() error {
	r.closeFile()
	if r.scratch != nil {
		readBuffers.Put(r.scratch)
		r.scratch = nil
	}
	r.buf = nil
	return nil
}
