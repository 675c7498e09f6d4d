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
// Every account has encryption scopes, each with a 32-byte key that Keys
// provides: the account encryption key (AEK), which is scope "" here and
// "$account-encryption-key" on the wire, and the named scopes that the
// account's owner adds. Who wraps a scope's key under a customer-managed
// key is not this package's concern. A container has a default scope, and
// may deny writes that name another; a blob is encrypted in one scope,
// recorded with it, and so is each of its blocks. Two subkeys are derived
// from a scope's key with HKDF-SHA256: one wraps data keys, the other seals
// blob metadata.
//
// Content is stored in blocks. A block is what one Put Block, Put Blob,
// Put Page or copied extent wrote: it has its own random 256-bit data key,
// wrapped with AES-256-GCM under the data-key subkey of its scope's key,
// with additional data that binds it to the account, container, blob name,
// the block's random 128-bit ID, its plaintext size and its chunk size.
// The content is split into chunks of ChunkSize bytes, each sealed with
// AES-256-GCM under the data key. A chunk's nonce is its index (each data
// key seals one block once, so nonces never repeat under a key) and its
// additional data the block ID and index, so chunks cannot be swapped,
// reordered or cut off undetected, and a block moved to another blob does
// not open. Put Block List therefore only rearranges pointers to blocks;
// nothing is copied or re-encrypted, and all the blocks it commits must be
// in the scope of the blob.
//
// Blob metadata (x-ms-meta-*) is sealed with AES-256-GCM under the
// metadata subkey of the blob's scope, bound to the account, container and
// blob name.
//
// Everything else is stored in the clear, because Azure serves it while
// the customer-managed key is revoked (see below): names, sizes, ETags,
// times, block IDs, the standard HTTP headers of a blob (Content-Type and
// the like, and Content-MD5, an MD5 of the content), page ranges and
// container metadata.
//
// # Revocation
//
// When Keys cannot give a scope's key (the customer-managed key is
// disabled, deleted or out of reach, or the scope is disabled), exactly
// the operations that Azure lists fail with Keys' error, for the blobs of
// that scope: PutBlob, PutBlock, GetBlob, GetBlobProperties (and so Get
// Blob Metadata), SetBlobMetadata, CopyBlob, CreatePageBlob (a Put Blob),
// PutPage, ListBlobs with metadata, and PutBlockList when it sets
// metadata. The rest never ask Keys for a key: containers, ListBlobs
// without metadata, PutBlockList without metadata, GetBlockList,
// SetBlobProperties, GetPageRanges and DeleteBlob. Container creation and
// PutBlockList only check that the scope they name exists and is enabled
// (Keys.CheckScope), which works while a customer-managed key is revoked.
package blob

import (
	"context"
	"time"
)

// Keys gives the keys of an account's encryption scopes. Implementations
// cache keys briefly: Service asks for one on every operation that reads or
// writes content or metadata.
type Keys interface {
	// Key returns the 32-byte key of an encryption scope of the account; scope "" is the
	// account encryption key (Azure's "$account-encryption-key"). Errors are *tresor.Error
	// whose Kind and Reason are the wire's: NotFound for an unknown account; Invalid with
	// Reason "InvalidHeaderValue" for a scope the account does not have; Forbidden with Reason
	// "AuthorizationFailure" for a disabled scope; Forbidden with Reason
	// "KeyVaultEncryptionKeyNotFound" when the customer-managed key does not unwrap, or
	// "KeyVaultAccessTokenCannotBeAcquired" when the account cannot act in the key's tenant.
	Key(ctx context.Context, account, scope string) ([]byte, error)
	// CheckScope reports whether a scope exists and is enabled, with Key's errors, without
	// unwrapping anything (so it works while the customer-managed key is revoked); "" always does.
	CheckScope(ctx context.Context, account, scope string) error
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
	ReasonAuthorizationFailure          = "AuthorizationFailure" // a disabled encryption scope

	// ReasonForbiddenByEncryptionPolicy is a write that names another
	// encryption scope than its container's default, which denies it.
	ReasonForbiddenByEncryptionPolicy = "RequestForbiddenByContainerEncryptionPolicy"
	// ReasonEncryptionMismatch is a write to an existing blob that names
	// another encryption scope than the blob's.
	ReasonEncryptionMismatch = "BlobCustomerSpecifiedEncryptionMismatch"

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
	EncryptionPolicy
}

// AccountScope is the wire name of the account encryption key as an
// encryption scope. This package calls it "".
const AccountScope = "$account-encryption-key"

// WireScope returns the wire name of scope: AccountScope for "".
func WireScope(scope string) string {
	if scope == "" {
		return AccountScope
	}
	return scope
}

// EncryptionPolicy is a container's encryption settings, fixed when it is
// created.
type EncryptionPolicy struct {
	// DefaultEncryptionScope is the scope of writes that name none; ""
	// is the account encryption key.
	DefaultEncryptionScope string
	// DenyEncryptionScopeOverride refuses writes that name another
	// scope.
	DenyEncryptionScopeOverride bool
}

// A ScopeRequest is the encryption scope that a write names
// (x-ms-encryption-scope). The zero ScopeRequest names none: the write uses
// its container's default scope, or the blob's own.
type ScopeRequest struct {
	Scope string // "" (or AccountScope) is the account encryption key
	Given bool
}

// RequestScope returns the ScopeRequest of an x-ms-encryption-scope value:
// none for "", the account encryption key for AccountScope.
func RequestScope(v string) ScopeRequest {
	if v == "" {
		return ScopeRequest{}
	}
	return ScopeRequest{Scope: normScope(v), Given: true}
}

// normScope returns scope with the account encryption key as "".
func normScope(scope string) string {
	if scope == AccountScope {
		return ""
	}
	return scope
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
	// EncryptionScope is the scope that the blob's content and metadata
	// are encrypted in; "" is the account encryption key.
	EncryptionScope string

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
