package blob

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"hash"
	"io"
	"time"

	"github.com/tresorkms/tresor"
)

// PutOptions are the properties and conditions of a write that creates or
// replaces a blob.
type PutOptions struct {
	Headers    Headers
	Metadata   Metadata
	Conditions Conditions
	// ContentMD5 is the MD5 the client sent for the request body
	// (Content-MD5); the write fails with Md5Mismatch if the body differs.
	ContentMD5 []byte
	// CreateOnly refuses to replace an existing blob with Forbidden
	// (AuthorizationPermissionMismatch): the caller may create blobs but
	// not write them (a SAS with c but not w).
	CreateOnly bool
	// Scope is the encryption scope the write names; the zero
	// ScopeRequest means the container's default.
	Scope ScopeRequest
}

func (o PutOptions) checkWrite(old *Blob) error {
	if old == nil {
		return o.Conditions.checkWrite("", time.Time{}, false)
	}
	if o.CreateOnly {
		return tresor.Errorf(tresor.Forbidden, "This request is not authorized to perform this operation using this permission.").
			WithReason(ReasonAuthorizationPermission)
	}
	return o.Conditions.checkWrite(old.ETag, old.Modified, true)
}

// checkSize refuses a body of more than limit bytes.
func checkSize(size, limit int64) error {
	if size < 0 || size > limit {
		return tresor.Errorf(tresor.TooLarge, "The request body is too large and exceeds the maximum permissible limit of %d bytes.", limit).
			WithReason("RequestBodyTooLarge")
	}
	return nil
}

// checkMD5 compares the MD5 a client sent with the one computed.
func checkMD5(sent []byte, sum hash.Hash) ([]byte, error) {
	if sum == nil {
		return nil, nil
	}
	got := sum.Sum(nil)
	if sent != nil && !bytes.Equal(sent, got) {
		return nil, tresor.Errorf(tresor.Invalid, "The MD5 value specified in the request did not match with the MD5 value calculated by the server.").
			WithReason(ReasonMd5Mismatch)
	}
	return got, nil
}

// PutBlob creates or replaces a block blob with size bytes read from body,
// which it streams: it never holds more than a batch of the content in
// memory. The blob is encrypted in the scope that o names, else in the
// container's default scope, whose key it needs. The blob's Content-MD5 is
// computed unless o.Headers gives one (x-ms-blob-content-md5), which must
// match.
//
// Errors: the Keys error; NotFound (ContainerNotFound); Forbidden
// (RequestForbiddenByContainerEncryptionPolicy) for a scope the container
// does not allow; TooLarge beyond MaxPutBlobSize; Invalid for a bad name
// or metadata, a body shorter than size or an MD5 that does not match; the
// Conditions' errors.
func (s *Service) PutBlob(ctx context.Context, p Path, body io.Reader, size int64, o PutOptions) (Blob, error) {
	if err := checkSize(size, MaxPutBlobSize); err != nil {
		return Blob{}, err
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
	sum := md5.New()
	blk, err := s.writeBlock(ctx, k, p, body, size, sum)
	if err != nil {
		return Blob{}, err
	}
	got, err := checkMD5(o.ContentMD5, sum)
	if err == nil && o.Headers.ContentMD5 != nil && !bytes.Equal(o.Headers.ContentMD5, got) {
		_, err = checkMD5(o.Headers.ContentMD5, sum)
	}
	if err != nil {
		s.removeData(dataOf(blk))
		return Blob{}, err
	}
	o.Headers.ContentMD5 = got
	return s.putBlob(ctx, k, p, BlockBlob, size, []Extent{{Length: size, Block: blk}}, o, Blob{})
}

// putBlob stores a new blob at p, in k's scope, made of extents, whose
// blocks were written for it. tmpl gives the properties that the type
// needs (SequenceNumber, Copy). On failure the blocks' content is removed.
func (s *Service) putBlob(ctx context.Context, k *scopeKeys, p Path, typ BlobType, size int64, extents []Extent, o PutOptions, tmpl Blob) (Blob, error) {
	t, etag := s.now()
	b, dropped, err := s.Store.PutBlob(ctx, p, extents, func(old *Blob) (Blob, error) {
		if err := o.checkWrite(old); err != nil {
			return Blob{}, err
		}
		b := tmpl
		b.Path, b.Type, b.Size, b.ETag, b.Modified, b.Created = p, typ, size, etag, t, t
		if old != nil {
			b.Created = old.Created
		}
		b.Headers = o.Headers
		b.Metadata = o.Metadata
		b.EncryptionScope = k.scope
		b.SealedMetadata = k.sealMetadata(p, o.Metadata)
		return b, nil
	})
	if err != nil {
		var ids []BlockID
		for _, e := range extents {
			ids = append(ids, dataOf(e.Block)...)
		}
		s.removeData(ids)
		return Blob{}, err
	}
	s.removeData(dropped)
	b.Metadata = o.Metadata
	return b, nil
}

// dataOf returns b's ID if its content is in Data.
func dataOf(b Block) []BlockID {
	if b.Inline != nil {
		return nil
	}
	return []BlockID{b.ID}
}

// checkPut checks a blob write's name and metadata, and that the container
// exists (so that a large body is not stored in vain; the Store checks
// again). It returns the container and the metadata checkMetadata
// returns.
func (s *Service) checkPut(ctx context.Context, p Path, md Metadata) (Container, Metadata, error) {
	if err := checkBlobName(p.Blob); err != nil {
		return Container{}, nil, err
	}
	md, err := checkMetadata(md)
	if err != nil {
		return Container{}, nil, err
	}
	c, err := s.Store.Container(ctx, p.Account, p.Container)
	if err != nil {
		return Container{}, nil, err
	}
	return c, md, nil
}

// writeKeys returns the keys of the scope of a write of new content to
// container c that names r (see writeScope).
func (s *Service) writeKeys(ctx context.Context, c Container, r ScopeRequest) (*scopeKeys, error) {
	scope, err := writeScope(c, r)
	if err != nil {
		return nil, err
	}
	return s.keys(ctx, c.Account, scope)
}

// inPlace returns the blob at p and the keys of its scope, for a write
// that changes its content or metadata in place and names r: it stays in
// the blob's scope. Errors: writeScope's; Conflict
// (BlobCustomerSpecifiedEncryptionMismatch) if r names another scope than
// the blob's; NotFound (BlobNotFound); the Keys error.
func (s *Service) inPlace(ctx context.Context, p Path, r ScopeRequest) (Blob, *scopeKeys, error) {
	if r.Given {
		c, err := s.Store.Container(ctx, p.Account, p.Container)
		if err != nil {
			return Blob{}, nil, err
		}
		if _, err := writeScope(c, r); err != nil {
			return Blob{}, nil, err
		}
	}
	b, err := s.Store.Blob(ctx, p)
	if err != nil {
		return Blob{}, nil, err
	}
	if err := checkBlobScope(b, r); err != nil {
		return Blob{}, nil, err
	}
	k, err := s.keys(ctx, p.Account, b.EncryptionScope)
	if err != nil {
		return Blob{}, nil, err
	}
	return b, k, nil
}

// PutBlock stages a block named name (a block ID: base64, at most
// MaxBlockIDSize bytes decoded) of size bytes read from body, encrypted in
// the scope that scope names, else in the container's default scope,
// whose key it needs. Put Block List commits it only into a blob of that
// scope. If contentMD5 is not nil, the body must match it; PutBlock
// returns the body's MD5 then, and always the block's scope.
//
// Errors: the Keys error; NotFound (ContainerNotFound); Forbidden
// (RequestForbiddenByContainerEncryptionPolicy) for a scope the container
// does not allow; Invalid (InvalidBlockId) for a bad name; Conflict
// (InvalidBlobType) if the blob is a page blob; TooLarge beyond
// MaxBlockSize.
func (s *Service) PutBlock(ctx context.Context, p Path, name string, body io.Reader, size int64, contentMD5 []byte, scope ScopeRequest) ([]byte, string, error) {
	if err := checkBlockName(name); err != nil {
		return nil, "", err
	}
	if err := checkSize(size, MaxBlockSize); err != nil {
		return nil, "", err
	}
	c, _, err := s.checkPut(ctx, p, nil)
	if err != nil {
		return nil, "", err
	}
	k, err := s.writeKeys(ctx, c, scope)
	if err != nil {
		return nil, "", err
	}
	var sum hash.Hash
	if contentMD5 != nil {
		sum = md5.New()
	}
	blk, err := s.writeBlock(ctx, k, p, body, size, sum)
	if err != nil {
		return nil, "", err
	}
	got, err := checkMD5(contentMD5, sum)
	if err == nil {
		var dropped []BlockID
		dropped, err = s.Store.StageBlock(ctx, p, name, blk, s.Now(), func(old *Blob) error {
			return checkType(old, BlockBlob)
		})
		s.removeData(dropped)
	}
	if err != nil {
		s.removeData(dataOf(blk))
		return nil, "", err
	}
	return got, k.scope, nil
}

// StagedLifetime is how long staged blocks are kept without another Put
// Block for the blob, as in Azure: a week.
const StagedLifetime = 7 * 24 * time.Hour

// ExpireStagedBlocks drops the staged blocks of blobs that have had no Put
// Block for StagedLifetime before now, as Azure discards uncommitted
// blocks, and returns how many blobs it cleared. It is periodic work.
func (s *Service) ExpireStagedBlocks(ctx context.Context, now time.Time) (int, error) {
	n, dropped, err := s.Store.ExpireStaged(ctx, now.Add(-StagedLifetime))
	if err != nil {
		return 0, err
	}
	s.removeData(dropped)
	return n, nil
}

func checkBlockName(name string) error {
	id, err := base64.StdEncoding.DecodeString(name)
	if err != nil || len(id) == 0 || len(id) > MaxBlockIDSize {
		return tresor.Errorf(tresor.Invalid, "The specified block ID is invalid. The block ID must be Base64-encoded, at most %d bytes.", MaxBlockIDSize).
			WithReason(ReasonInvalidBlockID)
	}
	return nil
}

// checkType refuses an operation for blobs of type want on an existing
// blob of another type.
func checkType(b *Blob, want BlobType) error {
	if b != nil && b.Type != want {
		return tresor.Errorf(tresor.Conflict, "The blob type is invalid for this operation.").WithReason(ReasonInvalidBlobType)
	}
	return nil
}

// BlockSource says where Put Block List looks for a block.
type BlockSource int

// The sources of a block list entry.
const (
	Latest      BlockSource = iota // staged, else committed
	Committed                      // the committed block list
	Uncommitted                    // the staged blocks
)

// A BlockRef is an entry of a block list to commit.
type BlockRef struct {
	Name   string
	Source BlockSource
}

// PutBlockList commits the blocks named in list, in that order, as the
// blob's content, replacing its committed block list and dropping its
// staged blocks. No content is copied. The blob is in the scope that o
// names, else in the container's default scope, and so must every block
// of list be. It needs the scope's key only if o.Metadata is not empty:
// the metadata is sealed; otherwise it only checks that the scope is
// enabled. o.Headers replace the blob's.
//
// Errors: NotFound (ContainerNotFound); Forbidden
// (RequestForbiddenByContainerEncryptionPolicy) for a scope the container
// does not allow; Invalid (InvalidBlockList) if a block is not where list
// says it is or in another scope, or the list is longer than MaxBlocks;
// Conflict (InvalidBlobType) if the blob is a page blob; the Conditions'
// errors; Keys.CheckScope's errors; and the Keys error if metadata is
// given.
func (s *Service) PutBlockList(ctx context.Context, p Path, list []BlockRef, o PutOptions) (Blob, error) {
	if err := checkBlobName(p.Blob); err != nil {
		return Blob{}, err
	}
	var err error
	if o.Metadata, err = checkMetadata(o.Metadata); err != nil {
		return Blob{}, err
	}
	if len(list) > MaxBlocks {
		return Blob{}, invalidBlockList("The block list may not contain more than %d blocks.", MaxBlocks)
	}
	c, err := s.Store.Container(ctx, p.Account, p.Container)
	if err != nil {
		return Blob{}, err
	}
	scope, err := writeScope(c, o.Scope)
	if err != nil {
		return Blob{}, err
	}
	var k *scopeKeys
	if len(o.Metadata) > 0 {
		k, err = s.keys(ctx, p.Account, scope)
	} else {
		err = s.checkScope(ctx, p.Account, scope)
	}
	if err != nil {
		return Blob{}, err
	}
	t, etag := s.now()
	b, dropped, err := s.Store.CommitBlockList(ctx, p, func(old *Blob, committed, staged []Extent) (Blob, []Extent, error) {
		if err := checkType(old, BlockBlob); err != nil {
			return Blob{}, nil, err
		}
		if err := o.checkWrite(old); err != nil {
			return Blob{}, nil, err
		}
		extents, size, err := resolveBlockList(list, committed, staged, scope)
		if err != nil {
			return Blob{}, nil, err
		}
		b := Blob{Path: p, Type: BlockBlob, Size: size, ETag: etag, Created: t, Modified: t, Headers: o.Headers,
			Blocks: len(extents), EncryptionScope: scope}
		if old != nil {
			b.Created = old.Created
		}
		if k != nil {
			b.SealedMetadata = k.sealMetadata(p, o.Metadata)
		}
		return b, extents, nil
	})
	if err != nil {
		return Blob{}, err
	}
	s.removeData(dropped)
	b.Metadata = o.Metadata
	return b, nil
}

// resolveBlockList finds each entry of list among the committed and staged
// blocks and lays them out one after another. Each must be in scope: its
// data key is wrapped under that scope's key.
func resolveBlockList(list []BlockRef, committed, staged []Extent, scope string) ([]Extent, int64, error) {
	byName := func(es []Extent) map[string]Block {
		m := make(map[string]Block, len(es))
		for _, e := range es {
			if e.Name != "" {
				m[e.Name] = e.Block
			}
		}
		return m
	}
	com, stg := byName(committed), byName(staged)
	out := make([]Extent, 0, len(list))
	var size int64
	for _, r := range list {
		var b Block
		var ok bool
		switch r.Source {
		case Committed:
			b, ok = com[r.Name]
		case Uncommitted:
			b, ok = stg[r.Name]
		default:
			if b, ok = stg[r.Name]; !ok {
				b, ok = com[r.Name]
			}
		}
		if !ok {
			return nil, 0, invalidBlockList("The specified block list is invalid: block %s was not found.", r.Name)
		}
		if b.Scope != scope {
			return nil, 0, invalidBlockList("The specified block list is invalid: block %s is in encryption scope %s, not in the list's %s.",
				r.Name, WireScope(b.Scope), WireScope(scope))
		}
		out = append(out, Extent{Name: r.Name, Start: size, Length: b.Size, Block: b})
		size += b.Size
	}
	return out, size, nil
}

func invalidBlockList(format string, args ...any) error {
	return tresor.Errorf(tresor.Invalid, format, args...).WithReason(ReasonInvalidBlockList)
}

// BlockInfo is a block in a block list.
type BlockInfo struct {
	Name string
	Size int64
}

// BlockList is a blob's committed and staged blocks.
type BlockList struct {
	Blob        *Blob // nil if the blob has staged blocks only
	Committed   []BlockInfo
	Uncommitted []BlockInfo
}

// GetBlockList returns a block blob's committed and staged blocks. It never
// needs the account key. NotFound (BlobNotFound) if the blob has neither;
// Conflict (InvalidBlobType) for a page blob.
func (s *Service) GetBlockList(ctx context.Context, p Path) (BlockList, error) {
	b, committed, staged, err := s.Store.BlockList(ctx, p)
	if err != nil {
		return BlockList{}, err
	}
	if err := checkType(b, BlockBlob); err != nil {
		return BlockList{}, err
	}
	l := BlockList{Blob: b}
	for _, e := range committed {
		if e.Name != "" { // what Put Blob wrote is not a named block
			l.Committed = append(l.Committed, BlockInfo{Name: e.Name, Size: e.Length})
		}
	}
	for _, e := range staged {
		l.Uncommitted = append(l.Uncommitted, BlockInfo{Name: e.Name, Size: e.Block.Size})
	}
	return l, nil
}

// A Range is the bytes [Offset, Offset+Count) of a blob; Count < 0 means to
// the end.
type Range struct {
	Offset int64
	Count  int64
}

// All is the Range of a whole blob.
var All = Range{Count: -1}

// Content is a blob's properties and a stream of the range of its content
// that GetBlob asked for. The caller must close Body.
type Content struct {
	Blob   Blob
	Offset int64
	Length int64
	Body   io.ReadCloser
}

// GetBlob returns a blob's properties, metadata and the range r of its
// content as a stream, decrypted as it is read. It needs the key of the
// blob's scope.
//
// Errors: NotFound (BlobNotFound, ContainerNotFound); the Keys error;
// Invalid (InvalidRange) if r starts at or beyond the end of the blob,
// unless r is All; the Conditions' errors.
func (s *Service) GetBlob(ctx context.Context, p Path, r Range, c Conditions) (Content, error) {
	// Extents of a range need the blob's size first; for All there is
	// one query.
	from, to := r.Offset, int64(1<<62)
	if r.Count >= 0 {
		to = r.Offset + r.Count
	}
	b, extents, err := s.Store.Extents(ctx, p, from, to)
	if err != nil {
		return Content{}, err
	}
	k, err := s.keys(ctx, p.Account, b.EncryptionScope)
	if err != nil {
		return Content{}, err
	}
	if err := c.checkRead(b); err != nil {
		return Content{}, err
	}
	if r != All && r.Offset >= b.Size {
		return Content{Blob: b}, tresor.Errorf(tresor.Invalid, "The range specified is invalid for the current size of the resource.").WithReason(ReasonInvalidRange)
	}
	to = min(to, b.Size)
	if b.Metadata, err = k.openMetadata(p, b.SealedMetadata); err != nil {
		return Content{}, err
	}
	return Content{
		Blob:   b,
		Offset: from,
		Length: to - from,
		Body:   s.newContentReader(k, p, extents, from, to),
	}, nil
}

// GetBlobProperties returns a blob's properties and metadata. It needs the
// key of the blob's scope, to decrypt the metadata.
func (s *Service) GetBlobProperties(ctx context.Context, p Path, c Conditions) (Blob, error) {
	b, err := s.Store.Blob(ctx, p)
	if err != nil {
		return Blob{}, err
	}
	k, err := s.keys(ctx, p.Account, b.EncryptionScope)
	if err != nil {
		return Blob{}, err
	}
	if err := c.checkRead(b); err != nil {
		return Blob{}, err
	}
	if b.Metadata, err = k.openMetadata(p, b.SealedMetadata); err != nil {
		return Blob{}, err
	}
	return b, nil
}

// SetBlobMetadata replaces a blob's metadata, sealed in the blob's scope,
// whose key it needs. scope may name that scope and no other.
//
// Errors: NotFound (BlobNotFound, ContainerNotFound); Forbidden
// (RequestForbiddenByContainerEncryptionPolicy) for a scope the container
// does not allow; Conflict (BlobCustomerSpecifiedEncryptionMismatch) for
// another scope than the blob's; the Keys error; Invalid for bad
// metadata; the Conditions' errors.
func (s *Service) SetBlobMetadata(ctx context.Context, p Path, md Metadata, c Conditions, scope ScopeRequest) (Blob, error) {
	md, err := checkMetadata(md)
	if err != nil {
		return Blob{}, err
	}
	_, k, err := s.inPlace(ctx, p, scope)
	if err != nil {
		return Blob{}, err
	}
	t, etag := s.now()
	b, err := s.Store.UpdateBlob(ctx, p, func(b *Blob) error {
		if err := c.checkWrite(b.ETag, b.Modified, true); err != nil {
			return err
		}
		if b.EncryptionScope != k.scope {
			return scopeMismatch(*b) // replaced since inPlace read it
		}
		b.SealedMetadata = k.sealMetadata(p, md)
		b.ETag, b.Modified = etag, t
		return nil
	})
	b.Metadata = md
	return b, err
}

// SetBlobProperties replaces a blob's HTTP headers (all of them: those not
// given are cleared, as in Azure). It never needs the account key.
func (s *Service) SetBlobProperties(ctx context.Context, p Path, h Headers, c Conditions) (Blob, error) {
	t, etag := s.now()
	return s.Store.UpdateBlob(ctx, p, func(b *Blob) error {
		if err := c.checkWrite(b.ETag, b.Modified, true); err != nil {
			return err
		}
		b.Headers, b.ETag, b.Modified = h, etag, t
		return nil
	})
}

// DeleteBlob deletes a blob and its blocks. It never needs the account key.
func (s *Service) DeleteBlob(ctx context.Context, p Path, c Conditions) error {
	dropped, err := s.Store.DeleteBlob(ctx, p, func(b Blob) error {
		return c.checkWrite(b.ETag, b.Modified, true)
	})
	if err != nil {
		return err
	}
	s.removeData(dropped)
	return nil
}
