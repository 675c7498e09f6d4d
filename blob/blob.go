// Package blob is the domain of tresor's Blob data plane: containers, block
// blobs and page blobs of a storage account, with their content encrypted
// under the account's encryption key, as Azure Storage does with
// customer-managed keys. Operations are named after the Blob REST
// operationIds (PutBlob, PutBlockList, GetPageRanges, ...).
//
// It knows nothing of HTTP or SQL: blobhttp serves the REST API on top of
// Service, the metadata is behind Store (which sqlite implements) and the
// sealed content of large blocks behind Data (which blobfs implements).
//
// # Keys
//
// Every account has an account encryption key (AEK, 32 bytes) that Keys
// provides; who wraps it under the customer-managed key is not this
// package's concern. Two subkeys are derived from it with HKDF-SHA256: one
// wraps data keys, the other seals blob metadata.
//
// Content is stored in blocks. A block is what one Put Block, Put Blob,
// Put Page or copied extent wrote: it has its own random 256-bit data key,
// wrapped with AES-256-GCM under the AEK's data-key subkey with additional
// data that binds it to the account, container, blob name, the block's
// random 128-bit ID, its plaintext size and its chunk size. The content is
// split into chunks of ChunkSize bytes, each sealed with AES-256-GCM under
// the data key. A chunk's nonce is its index (each data key seals one block
// once, so nonces never repeat under a key) and its additional data the
// block ID and index, so chunks cannot be swapped, reordered or cut off
// undetected, and a block moved to another blob does not open. Put Block
// List therefore only rearranges pointers to blocks; nothing is copied or
// re-encrypted.
//
// Blob metadata (x-ms-meta-*) is sealed with AES-256-GCM under the
// metadata subkey, bound to the account, container and blob name.
//
// Everything else is stored in the clear, because Azure serves it while
// the customer-managed key is revoked (see below): names, sizes, ETags,
// times, block IDs, the standard HTTP headers of a blob (Content-Type and
// the like, and Content-MD5, an MD5 of the content), page ranges and
// container metadata.
//
// # Revocation
//
// When Keys cannot give the AEK (the customer-managed key is disabled,
// deleted or out of reach), exactly the operations that Azure lists fail
// with its error, which Keys returns: PutBlob, PutBlock, GetBlob,
// GetBlobProperties (and so Get Blob Metadata), SetBlobMetadata, CopyBlob,
// CreatePageBlob (a Put Blob), PutPage, ListBlobs with metadata, and
// PutBlockList when it sets metadata. The rest never ask Keys: containers,
// ListBlobs without metadata, PutBlockList without metadata, GetBlockList,
// SetBlobProperties, GetPageRanges and DeleteBlob.
package blob

import (
	"context"
	"time"
)

// Keys gives the account encryption key of an account: 32 bytes, the same
// for the account's whole life. If the customer-managed key cannot unwrap
// it, AccountKey returns a *tresor.Error with Kind Forbidden and Reason
// ReasonKeyVaultEncryptionKeyNotFound; NotFound if the account does not
// exist. Implementations cache the key briefly: Service asks for it on every
// operation that reads or writes content or metadata.
type Keys interface {
	AccountKey(ctx context.Context, account string) ([]byte, error)
}

// Storage error codes, set as the Reason of the errors this package
// returns. They are Azure's spelling; clients branch on them.
const (
	ReasonContainerNotFound             = "ContainerNotFound"
	ReasonContainerAlreadyExists        = "ContainerAlreadyExists"
	ReasonBlobNotFound                  = "BlobNotFound"
	ReasonBlobAlreadyExists             = "BlobAlreadyExists"
	ReasonInvalidBlobType               = "InvalidBlobType"
	ReasonInvalidBlockList              = "InvalidBlockList"
	ReasonInvalidBlockID                = "InvalidBlockId"
	ReasonInvalidRange                  = "InvalidRange"
	ReasonInvalidPageRange              = "InvalidPageRange"
	ReasonInvalidMetadata               = "InvalidMetadata"
	ReasonMetadataTooLarge              = "MetadataTooLarge"
	ReasonInvalidResourceName           = "InvalidResourceName"
	ReasonInvalidHeaderValue            = "InvalidHeaderValue"
	ReasonMd5Mismatch                   = "Md5Mismatch"
	ReasonConditionNotMet               = "ConditionNotMet"
	ReasonOutOfRangeInput               = "OutOfRangeInput"
	ReasonInvalidInput                  = "InvalidInput"
	ReasonAuthorizationPermission       = "AuthorizationPermissionMismatch"
	ReasonKeyVaultEncryptionKeyNotFound = "KeyVaultEncryptionKeyNotFound"

	// ReasonNotModified is a read's If-None-Match or If-Modified-Since
	// that held: Azure answers 304 (with x-ms-error-code ConditionNotMet)
	// rather than 412. Its Kind is PreconditionFailed.
	ReasonNotModified = "NotModified"
)

// Path names a blob: its account, container and name. A Path with an empty
// Blob names a container.
type Path struct {
	Account   string
	Container string
	Blob      string
}

func (p Path) String() string { return p.Account + "/" + p.Container + "/" + p.Blob }

// Metadata is user-defined name-value pairs (x-ms-meta-*). Names are
// C# identifiers, compared case-insensitively and stored in lower case.
type Metadata map[string]string

// A Container is a container of blobs.
type Container struct {
	Account  string
	Name     string
	ETag     string
	Created  time.Time
	Modified time.Time
	Metadata Metadata // stored in the clear: container operations work while the key is revoked
}

// BlobType is a blob's kind.
type BlobType string

// The blob types. Append blobs are not supported.
const (
	BlockBlob BlobType = "BlockBlob"
	PageBlob  BlobType = "PageBlob"
)

// Headers are a blob's standard HTTP properties, returned on reads.
type Headers struct {
	ContentType        string
	ContentEncoding    string
	ContentLanguage    string
	ContentDisposition string
	CacheControl       string
	ContentMD5         []byte // nil if unknown
}

// Copy describes the copy that created a blob, if any.
type Copy struct {
	ID        string
	Source    string // the source URL as given
	Status    string // "success": copies are synchronous
	Progress  string // "copied/total"
	Completed time.Time
}

// A Blob is a committed blob's properties. Metadata is filled only by the
// operations that decrypt it; SealedMetadata is what the Store keeps.
type Blob struct {
	Path
	Type     BlobType
	Size     int64
	ETag     string
	Created  time.Time
	Modified time.Time
	Headers  Headers
	Copy     Copy

	// SequenceNumber is a page blob's x-ms-blob-sequence-number.
	SequenceNumber int64
	// Blocks is the number of committed blocks of a block blob (Put Blob
	// commits one unnamed block that is not counted).
	Blocks int

	Metadata       Metadata
	SealedMetadata []byte // nil if the blob has no metadata
}

// Conditions are a request's conditional headers. The zero Conditions
// always hold.
type Conditions struct {
	IfMatch           string // an ETag or "*"
	IfNoneMatch       string // an ETag or "*"
	IfModifiedSince   time.Time
	IfUnmodifiedSince time.Time
}
