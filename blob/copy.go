package blob

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/tresorkms/tresor"
)

// CopyBlob copies the blob at src to dst, in the same account, and returns
// the new blob, whose Copy records the copy. The copy is synchronous: it
// has completed (Status "success") when CopyBlob returns. The content is
// decrypted and sealed again under new data keys for dst, extent by extent,
// so that a page blob stays sparse and a block blob keeps its block list.
// dst is encrypted in the scope that o names, else in its container's
// default scope, whatever src's scope. It needs the keys of both scopes.
//
// dst gets src's HTTP headers and, unless o.Metadata is given, its
// metadata. srcCond applies to src (x-ms-source-if-*), o.Conditions to dst.
// sourceURL is recorded as the copy's source.
//
// Errors: the Keys error; NotFound (BlobNotFound for src,
// ContainerNotFound); Forbidden (RequestForbiddenByContainerEncryptionPolicy)
// for a scope dst's container does not allow; Invalid for a copy between
// accounts; the Conditions' errors.
func (s *Service) CopyBlob(ctx context.Context, src, dst Path, sourceURL string, srcCond Conditions, o PutOptions) (Blob, error) {
	if src.Account != dst.Account {
		return Blob{}, tresor.Errorf(tresor.Invalid, "Copies between storage accounts are not supported.").WithReason("CannotVerifyCopySource")
	}
	c, md, err := s.checkPut(ctx, dst, o.Metadata)
	if err != nil {
		return Blob{}, err
	}
	o.Metadata = md
	scope, err := writeScope(c, o.Scope)
	if err != nil {
		return Blob{}, err
	}
	b, extents, err := s.Store.Extents(ctx, src, 0, 1<<62)
	if err != nil {
		return Blob{}, err
	}
	srcKeys, err := s.keys(ctx, src.Account, b.EncryptionScope)
	if err != nil {
		return Blob{}, err
	}
	k := srcKeys
	if scope != b.EncryptionScope {
		if k, err = s.keys(ctx, dst.Account, scope); err != nil {
			return Blob{}, err
		}
	}
	if err := srcCond.checkRead(b); err != nil {
		return Blob{}, conditionNotMet() // a source condition that fails is always 412
	}
	if o.Metadata == nil {
		if o.Metadata, err = srcKeys.openMetadata(src, b.SealedMetadata); err != nil {
			return Blob{}, err
		}
	}

	var copied []Extent
	fail := func(err error) (Blob, error) {
		var ids []BlockID
		for _, e := range copied {
			ids = append(ids, dataOf(e.Block)...)
		}
		s.removeData(ids)
		return Blob{}, err
	}
	tmpl := Blob{SequenceNumber: b.SequenceNumber}
	for _, e := range extents {
		r := s.newContentReader(srcKeys, src, []Extent{e}, e.Start, e.End())
		blk, err := s.writeBlock(ctx, k, dst, r, e.Length, nil)
		r.Close()
		if err != nil {
			return fail(err)
		}
		copied = append(copied, Extent{Name: e.Name, Start: e.Start, Length: e.Length, Block: blk})
		if e.Name != "" {
			tmpl.Blocks++
		}
	}
	t := s.Now().UTC()
	tmpl.Copy = Copy{ID: newUUID(), Source: sourceURL, Status: "success", Progress: fmt.Sprintf("%d/%d", b.Size, b.Size), Completed: t}
	o.Headers = b.Headers
	nb, err := s.putBlob(ctx, k, dst, b.Type, b.Size, copied, o, tmpl)
	if err != nil {
		return Blob{}, err // putBlob removed the copied content
	}
	return nb, nil
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}

// Sweep removes the content in Data of blocks the Store does not know,
// last written before olderThan: what a crash left between writing a
// block's content and committing it, or between dropping a block and
// removing its content. A block being written has a recent time, so
// olderThan should leave writes in flight alone (a minute before now is
// plenty: writes touch their file at least once per batch). It returns how
// many it removed.
func (s *Service) Sweep(ctx context.Context, olderThan time.Time) (int, error) {
	var batch []BlockID
	removed := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		stored, err := s.Store.StoredBlocks(ctx, batch)
		if err != nil {
			return err
		}
		keep := make(map[BlockID]bool, len(stored))
		for _, id := range stored {
			keep[id] = true
		}
		var gone []BlockID
		for _, id := range batch {
			if !keep[id] {
				gone = append(gone, id)
			}
		}
		batch = batch[:0]
		if err := s.Data.Remove(gone...); err != nil {
			return tresor.Wrap(err, "blob: sweep")
		}
		removed += len(gone)
		return nil
	}
	err := s.Data.Walk(func(id BlockID, modified time.Time) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !modified.Before(olderThan) {
			return nil
		}
		if batch = append(batch, id); len(batch) == 500 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return removed, err
}
