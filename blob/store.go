package blob

import (
	"context"
	"encoding/hex"
	"io"
	"time"
)

// A BlockID names a block's sealed content. It is random, never reused, and
// bound into the block's encryption.
type BlockID [16]byte

// String returns id in hexadecimal, as blobfs names its files.
func (id BlockID) String() string { return hex.EncodeToString(id[:]) }

// ParseBlockID parses the hexadecimal form of a BlockID.
func ParseBlockID(s string) (BlockID, bool) {
	var id BlockID
	if len(s) != 2*len(id) {
		return id, false
	}
	_, err := hex.Decode(id[:], []byte(s))
	return id, err == nil
}

// A Block is the sealed content that one Put Block, Put Blob or Put Page
// wrote, or that a copy wrote for one extent of its source.
type Block struct {
	ID        BlockID
	Size      int64  // plaintext bytes
	ChunkSize int    // plaintext bytes per chunk; the last chunk may be shorter
	Key       []byte // the block's data key, wrapped under its scope's key
	// Scope is the encryption scope the block was written in ("" is the
	// account encryption key): that of the blob it was written for.
	Scope string
	// Inline is the sealed content of a small block, kept in the Store;
	// nil if the content is in Data.
	Inline []byte
}

// An Extent places all or part of a block in a blob. A block blob's
// committed blocks are extents that follow each other, each a whole block;
// a page blob's pages are extents where they have been written.
type Extent struct {
	// Name is the block ID that the client gave a committed or staged
	// block of a block blob ("" for what Put Blob wrote, and for pages).
	Name   string
	Start  int64 // offset in the blob
	Length int64
	Block  Block
	Offset int64 // offset in the block
}

// End returns the blob offset just after e.
func (e Extent) End() int64 { return e.Start + e.Length }

// Store persists containers, blobs and their blocks. It keeps business rules
// out: the callbacks that methods take decide, inside the method's
// transaction, whether and how an object changes, so that every write is
// atomic and a failed one leaves the store as it was.
//
// Methods return *tresor.Error with Kind NotFound and Reason
// ReasonContainerNotFound or ReasonBlobNotFound when the container or
// blob does not exist, Conflict where a name is taken, the callback's
// error where it fails, and Internal otherwise.
//
// Methods that drop blocks return the IDs of those whose content is in Data
// (Inline == nil); the caller removes them after the method returns.
type Store interface {
	// CreateContainer inserts c. Conflict (ReasonContainerAlreadyExists)
	// if the account has a container of that name.
	CreateContainer(ctx context.Context, c Container) error
	// Container returns a container.
	Container(ctx context.Context, account, name string) (Container, error)
	// UpdateContainer calls fn with the container and stores what it leaves
	// there, but the encryption policy, which CreateContainer fixed.
	UpdateContainer(ctx context.Context, account, name string, fn func(c *Container) error) (Container, error)
	// DeleteContainer removes a container, its blobs and their blocks if
	// fn, called with the container, returns nil.
	DeleteContainer(ctx context.Context, account, name string, fn func(c Container) error) ([]BlockID, error)
	// Containers returns up to limit containers of an account whose names
	// start with prefix and are not below from, ordered by name (bytewise).
	Containers(ctx context.Context, account, prefix, from string, limit int) ([]Container, error)

	// Blob returns a committed blob, with its SealedMetadata.
	Blob(ctx context.Context, p Path) (Blob, error)
	// Blobs returns up to limit committed blobs of a container whose names
	// start with prefix and are not below from, ordered by name (bytewise).
	Blobs(ctx context.Context, account, container, prefix, from string, limit int) ([]Blob, error)
	// Extents returns a committed blob and, in order, its extents that
	// overlap the bytes [from, to), whole.
	Extents(ctx context.Context, p Path, from, to int64) (Blob, []Extent, error)
	// BlockList returns a blob's committed blob (nil if there is none: the
	// blob has staged blocks only), its committed extents and its staged
	// blocks as extents with Start 0, in the order they were staged.
	// NotFound if the blob has neither.
	BlockList(ctx context.Context, p Path) (*Blob, []Extent, []Extent, error)

	// PutBlob replaces a blob, committed or staged, with the Blob that fn
	// returns and the given extents, whose blocks are new. fn gets the
	// committed blob, or nil. Every block the blob had is dropped.
	PutBlob(ctx context.Context, p Path, extents []Extent, fn func(old *Blob) (Blob, error)) (Blob, []BlockID, error)
	// StageBlock adds a new block, staged at the given time, to a blob's
	// staged blocks under name, dropping a staged block of the same name,
	// if fn, called with the committed blob or nil, returns nil. The blob
	// need not exist.
	StageBlock(ctx context.Context, p Path, name string, b Block, staged time.Time, fn func(old *Blob) error) ([]BlockID, error)
	// ExpireStaged drops the staged blocks of every blob whose last block
	// was staged before before, and forgets the blobs that have nothing
	// else. It returns how many blobs it cleared, and the dropped blocks.
	ExpireStaged(ctx context.Context, before time.Time) (int, []BlockID, error)
	// CommitBlockList calls fn with the committed blob (nil if none), its
	// committed extents and its staged blocks, and makes the Blob and
	// extents that fn returns the committed blob. The extents' blocks
	// must come from the committed extents or staged blocks fn got. Every
	// staged block is dropped, and every committed block that is not
	// among the new extents.
	CommitBlockList(ctx context.Context, p Path, fn func(old *Blob, committed, staged []Extent) (Blob, []Extent, error)) (Blob, []BlockID, error)
	// UpdateBlob calls fn with a committed blob and stores its properties
	// and sealed metadata as fn leaves them.
	UpdateBlob(ctx context.Context, p Path, fn func(b *Blob) error) (Blob, error)
	// WritePages calls fn with a committed page blob and, if it returns
	// nil, stores the blob as fn leaves it and replaces the bytes
	// [start, end) by the new block b, or clears them if b is nil (see
	// OverwritePages). Blocks left without an extent are dropped.
	WritePages(ctx context.Context, p Path, start, end int64, b *Block, fn func(b *Blob) error) (Blob, []BlockID, error)
	// DeleteBlob removes a committed blob and all its blocks if fn returns
	// nil.
	DeleteBlob(ctx context.Context, p Path, fn func(b Blob) error) ([]BlockID, error)

	// StoredBlocks returns those of ids that name stored blocks.
	StoredBlocks(ctx context.Context, ids []BlockID) ([]BlockID, error)
}

// OverwritePages returns the extents that replace old, a page blob's
// extents that overlap [start, end), when those bytes are overwritten by
// the block b (nil: cleared): the parts of old outside [start, end), and
// b's extent.
func OverwritePages(old []Extent, start, end int64, b *Block) []Extent {
	var out []Extent
	for _, e := range old {
		if e.Start < start {
			l := e
			l.Length = start - e.Start
			out = append(out, l)
		}
		if e.End() > end {
			r := e
			r.Start = end
			r.Offset = e.Offset + (end - e.Start)
			r.Length = e.End() - end
			out = append(out, r)
		}
	}
	if b != nil {
		out = append(out, Extent{Start: start, Length: end - start, Block: *b})
	}
	return out
}

// Data keeps the sealed content of blocks too large to keep in the Store.
// The content of a block is written once, through a DataWriter, before the
// Store refers to it, and removed after the Store dropped it.
type Data interface {
	// Create starts the content of a new block.
	Create(id BlockID) (DataWriter, error)
	// Open opens a block's content. A *tresor.Error with Kind NotFound if
	// it does not exist (it was removed).
	Open(id BlockID) (DataReader, error)
	// Remove removes the content of blocks; missing ones are no error.
	Remove(ids ...BlockID) error
	// Walk calls fn with every block's ID and the time its content was
	// last written, in no particular order, until fn returns an error.
	Walk(fn func(id BlockID, modified time.Time) error) error
}

// A DataWriter writes the content of one block. Commit makes it durable
// and complete; Abort discards it. One of them must be called.
type DataWriter interface {
	io.Writer
	Commit() error
	Abort()
}

// A DataReader reads the content of one block.
type DataReader interface {
	io.ReaderAt
	io.Closer
}
