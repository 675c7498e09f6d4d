package blob

import (
	"context"
	"crypto/md5"
	"hash"
	"io"

	"github.com/tresorkms/tresor"
)

// CreatePageBlob creates or replaces a page blob of size bytes, all zero,
// with sequence number seq. It is a Put Blob, so it needs the key of the
// scope that o names, else of the container's default scope, which the
// blob is in.
//
// Errors: the Keys error; NotFound (ContainerNotFound); Forbidden
// (RequestForbiddenByContainerEncryptionPolicy) for a scope the container
// does not allow; Invalid (InvalidHeaderValue) if size is not a multiple
// of PageSize or exceeds MaxPageBlobSize; the Conditions' errors.
func (s *Service) CreatePageBlob(ctx context.Context, p Path, size, seq int64, o PutOptions) (Blob, error) {
	if size < 0 || size%PageSize != 0 || size > MaxPageBlobSize {
		return Blob{}, tresor.Errorf(tresor.Invalid, "The size of a page blob must be a multiple of %d bytes, at most %d.", PageSize, int64(MaxPageBlobSize)).
			WithReason(ReasonInvalidHeaderValue)
	}
	if seq < 0 {
		return Blob{}, tresor.Errorf(tresor.Invalid, "The sequence number may not be negative.").WithReason(ReasonInvalidHeaderValue)
	}
	c, md, err := s.checkPut(ctx, p, o.Metadata)
	if err != nil {
		return Blob{}, err
	}
	o.Metadata = md
	k, err := s.writeKeys(ctx, c, o.Scope)
	if err != nil {
		return Blob{}, err
	}
	return s.putBlob(ctx, k, p, PageBlob, size, nil, o, Blob{SequenceNumber: seq})
}

// checkPages checks that [start, end) is a non-empty run of whole pages.
func checkPages(start, end int64) error {
	if start < 0 || end <= start || start%PageSize != 0 || end%PageSize != 0 {
		return tresor.Errorf(tresor.Invalid, "The page range specified is invalid: it must start and end on %d-byte boundaries.", PageSize).
			WithReason(ReasonInvalidPageRange)
	}
	return nil
}

// pageWrite returns the Store callback of a page write to [start, end) in
// scope, the blob's.
func (s *Service) pageWrite(c Conditions, end int64, scope string) func(b *Blob) error {
	t, etag := s.now()
	return func(b *Blob) error {
		if err := checkType(b, PageBlob); err != nil {
			return err
		}
		if b.EncryptionScope != scope {
			return scopeMismatch(*b) // replaced since the write began
		}
		if err := c.checkWrite(b.ETag, b.Modified, true); err != nil {
			return err
		}
		if end > b.Size {
			return tresor.Errorf(tresor.Invalid, "The page range specified is invalid: it ends beyond the blob's %d bytes.", b.Size).
				WithReason(ReasonInvalidPageRange)
		}
		b.ETag, b.Modified = etag, t
		return nil
	}
}

// PutPage writes size bytes read from body to a page blob at offset start,
// a multiple of PageSize, as is size (at most MaxPutPageSize), in the
// blob's scope, whose key it needs; scope may name that scope and no
// other. If contentMD5 is not nil the body must match it; PutPage returns
// the body's MD5 then.
//
// Errors: NotFound (BlobNotFound); the Keys error; Forbidden
// (RequestForbiddenByContainerEncryptionPolicy) for a scope the container
// does not allow; Conflict (BlobCustomerSpecifiedEncryptionMismatch) for
// another scope than the blob's; Invalid (InvalidPageRange) for pages
// that are not aligned or go beyond the blob; Conflict (InvalidBlobType)
// for a block blob; the Conditions' errors.
func (s *Service) PutPage(ctx context.Context, p Path, start int64, body io.Reader, size int64, contentMD5 []byte, c Conditions, scope ScopeRequest) (Blob, []byte, error) {
	if err := checkSize(size, MaxPutPageSize); err != nil {
		return Blob{}, nil, err
	}
	if err := checkPages(start, start+size); err != nil {
		return Blob{}, nil, err
	}
	// Fail before reading the body where the Store would fail after.
	b, k, err := s.inPlace(ctx, p, scope)
	if err == nil {
		err = s.pageWrite(c, start+size, k.scope)(&b)
	}
	if err != nil {
		return Blob{}, nil, err
	}
	var sum hash.Hash
	if contentMD5 != nil {
		sum = md5.New()
	}
	blk, err := s.writeBlock(ctx, k, p, body, size, sum)
	if err != nil {
		return Blob{}, nil, err
	}
	got, err := checkMD5(contentMD5, sum)
	var dropped []BlockID
	if err == nil {
		b, dropped, err = s.Store.WritePages(ctx, p, start, start+size, &blk, s.pageWrite(c, start+size, k.scope))
	}
	if err != nil {
		s.removeData(dataOf(blk))
		return Blob{}, nil, err
	}
	s.removeData(dropped)
	return b, got, nil
}

// ClearPages sets the pages [start, end) of a page blob to zero, releasing
// their storage. It is a Put Page, so it needs the key of the blob's scope
// although it encrypts nothing. Errors as PutPage.
func (s *Service) ClearPages(ctx context.Context, p Path, start, end int64, c Conditions, scope ScopeRequest) (Blob, error) {
	_, k, err := s.inPlace(ctx, p, scope)
	if err != nil {
		return Blob{}, err
	}
	if err := checkPages(start, end); err != nil {
		return Blob{}, err
	}
	b, dropped, err := s.Store.WritePages(ctx, p, start, end, nil, s.pageWrite(c, end, k.scope))
	if err != nil {
		return Blob{}, err
	}
	s.removeData(dropped)
	return b, nil
}

// A PageRange is the written bytes [Start, End) of a page blob.
type PageRange struct {
	Start, End int64
}

// GetPageRanges returns the written ranges of a page blob within r,
// merged where they touch. It never needs the account key.
//
// Errors: NotFound (BlobNotFound); Conflict (InvalidBlobType) for a block
// blob; the Conditions' errors.
func (s *Service) GetPageRanges(ctx context.Context, p Path, r Range, c Conditions) (Blob, []PageRange, error) {
	from, to := r.Offset, int64(1<<62)
	if r.Count >= 0 {
		to = r.Offset + r.Count
	}
	b, extents, err := s.Store.Extents(ctx, p, from, to)
	if err != nil {
		return Blob{}, nil, err
	}
	if err := checkType(&b, PageBlob); err != nil {
		return Blob{}, nil, err
	}
	if err := c.checkRead(b); err != nil {
		return Blob{}, nil, err
	}
	var out []PageRange
	for _, e := range extents {
		start, end := max(e.Start, from), min(e.End(), to)
		if n := len(out); n > 0 && out[n-1].End == start {
			out[n-1].End = end
			continue
		}
		out = append(out, PageRange{Start: start, End: end})
	}
	return b, out, nil
}
