package blob

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/tresorkms/tresor"
)

// Service runs the Blob operations of every storage account. It is safe for
// concurrent use.
type Service struct {
	Store Store
	Data  Data
	Keys  Keys
	// Now returns the current time; it sets Last-Modified and ETags.
	Now    func() time.Time
	Logger *slog.Logger

	lastTick atomic.Int64 // the last ETag handed out, as .NET ticks
}

// New returns a Service over store, data and keys.
func New(store Store, data Data, keys Keys) *Service {
	return &Service{Store: store, Data: data, Keys: keys, Now: time.Now, Logger: slog.Default()}
}

// Limits Azure sets.
const (
	MaxPutBlobSize  = 5000 << 20 // Put Blob
	MaxBlockSize    = 4000 << 20 // Put Block
	MaxBlocks       = 50000      // committed blocks per blob
	MaxBlockIDSize  = 64         // a block ID, decoded
	MaxMetadataSize = 8 << 10    // names and values of a blob's or container's metadata
	MaxPageBlobSize = 8 << 40
	MaxPutPageSize  = 4 << 20
	PageSize        = 512
	MaxListResults  = 5000
	MaxBlobNameSize = 1024
)

// now returns the time of a change and an ETag for it. ETags are .NET
// ticks in hexadecimal, like Azure's, made strictly increasing so that two
// changes within the same tick still differ.
func (s *Service) now() (time.Time, string) {
	t := s.Now().UTC()
	tick := t.UnixNano()/100 + 621355968000000000 // .NET ticks: 100 ns since 0001-01-01
	for {
		last := s.lastTick.Load()
		next := max(tick, last+1)
		if s.lastTick.CompareAndSwap(last, next) {
			return t, fmt.Sprintf("0x%X", next)
		}
	}
}

// keys returns the subkeys of the key of an account's encryption scope
// ("" is the account encryption key), or Keys' error:
// KeyVaultEncryptionKeyNotFound when its customer-managed key is revoked,
// AuthorizationFailure when the scope is disabled.
func (s *Service) keys(ctx context.Context, account, scope string) (*scopeKeys, error) {
	key, err := s.Keys.Key(ctx, account, scope)
	if err != nil {
		return nil, err
	}
	k, err := deriveKeys(key)
	if err != nil {
		return nil, err
	}
	k.scope = scope
	return k, nil
}

// checkScope checks that an encryption scope exists and is enabled,
// without needing its key.
func (s *Service) checkScope(ctx context.Context, account, scope string) error {
	if scope == "" {
		return nil // the account encryption key is always there
	}
	return s.Keys.CheckScope(ctx, account, scope)
}

// writeScope returns the encryption scope of a write to container c that
// names r: r's scope, else the container's default. Forbidden
// (RequestForbiddenByContainerEncryptionPolicy) if the container denies
// naming another scope than its default and r does.
func writeScope(c Container, r ScopeRequest) (string, error) {
	if !r.Given {
		return c.DefaultEncryptionScope, nil
	}
	scope := normScope(r.Scope)
	if c.DenyEncryptionScopeOverride && scope != c.DefaultEncryptionScope {
		return "", tresor.Errorf(tresor.Forbidden, "The request is forbidden by the container encryption policy.").
			WithReason(ReasonForbiddenByEncryptionPolicy)
	}
	return scope, nil
}

// checkBlobScope refuses a write in place to blob b (Set Blob Metadata,
// Put Page) that names another scope than b's with Conflict
// (BlobCustomerSpecifiedEncryptionMismatch): such writes keep the blob's
// scope.
func checkBlobScope(b Blob, r ScopeRequest) error {
	if r.Given && normScope(r.Scope) != b.EncryptionScope {
		return scopeMismatch(b)
	}
	return nil
}

func scopeMismatch(b Blob) error {
	return tresor.Errorf(tresor.Conflict, "The encryption scope of the request does not match the blob's, %s.", WireScope(b.EncryptionScope)).
		WithReason(ReasonEncryptionMismatch)
}

// removeData removes the content of dropped blocks. A failure is logged:
// the content is garbage, which Sweep removes later.
func (s *Service) removeData(ids []BlockID) {
	if len(ids) == 0 {
		return
	}
	if err := s.Data.Remove(ids...); err != nil {
		s.Logger.Warn("blob: remove dropped blocks", "blocks", len(ids), "err", err)
	}
}

// CreateContainer creates a container with metadata md and encryption
// policy pol. The policy's default scope must exist and be enabled; it is
// checked without its key, so containers are created while a
// customer-managed key is revoked.
//
// Errors: Invalid (InvalidResourceName, InvalidMetadata, MetadataTooLarge)
// for a bad name or metadata; Conflict (ContainerAlreadyExists) if it
// exists; Keys.CheckScope's errors for the default scope.
func (s *Service) CreateContainer(ctx context.Context, account, name string, md Metadata, pol EncryptionPolicy) (Container, error) {
	if err := checkContainerName(name); err != nil {
		return Container{}, err
	}
	md, err := checkMetadata(md)
	if err != nil {
		return Container{}, err
	}
	pol.DefaultEncryptionScope = normScope(pol.DefaultEncryptionScope)
	if err := s.checkScope(ctx, account, pol.DefaultEncryptionScope); err != nil {
		return Container{}, err
	}
	t, etag := s.now()
	c := Container{Account: account, Name: name, ETag: etag, Created: t, Modified: t, Metadata: md, EncryptionPolicy: pol}
	if err := s.Store.CreateContainer(ctx, c); err != nil {
		return Container{}, err
	}
	return c, nil
}

// GetContainerProperties returns a container. NotFound (ContainerNotFound)
// if it does not exist.
func (s *Service) GetContainerProperties(ctx context.Context, account, name string) (Container, error) {
	return s.Store.Container(ctx, account, name)
}

// SetContainerMetadata replaces a container's metadata if c holds.
func (s *Service) SetContainerMetadata(ctx context.Context, account, name string, md Metadata, c Conditions) (Container, error) {
	md, err := checkMetadata(md)
	if err != nil {
		return Container{}, err
	}
	t, etag := s.now()
	return s.Store.UpdateContainer(ctx, account, name, func(ct *Container) error {
		if err := c.checkWrite(ct.ETag, ct.Modified, true); err != nil {
			return err
		}
		ct.Metadata, ct.ETag, ct.Modified = md, etag, t
		return nil
	})
}

// DeleteContainer deletes a container and its blobs if c holds.
func (s *Service) DeleteContainer(ctx context.Context, account, name string, c Conditions) error {
	dropped, err := s.Store.DeleteContainer(ctx, account, name, func(ct Container) error {
		return c.checkWrite(ct.ETag, ct.Modified, true)
	})
	if err != nil {
		return err
	}
	s.removeData(dropped)
	return nil
}

// checkContainerName applies Azure's rules: 3 to 63 lower-case letters,
// digits and single hyphens, starting and ending with a letter or digit;
// or one of the system containers $root, $logs and $web.
func checkContainerName(name string) error {
	switch name {
	case "$root", "$logs", "$web":
		return nil
	}
	ok := len(name) >= 3 && len(name) <= 63 && name[0] != '-' && name[len(name)-1] != '-' && !strings.Contains(name, "--")
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
	}
	if !ok {
		return tresor.Errorf(tresor.Invalid, "The specified resource name contains invalid characters.").WithReason(ReasonInvalidResourceName)
	}
	return nil
}

// checkBlobName applies Azure's rules: 1 to 1024 characters of valid UTF-8.
func checkBlobName(name string) error {
	if name == "" || len(name) > MaxBlobNameSize || !utf8.ValidString(name) {
		return tresor.Errorf(tresor.Invalid, "The specified resource name length is not within the permissible limits.").WithReason(ReasonInvalidResourceName)
	}
	return nil
}

// checkMetadata checks that md's names are C# identifiers, unique when
// compared case-insensitively, and that md fits in MaxMetadataSize, and
// returns md with lower-case names (nil if empty).
func checkMetadata(md Metadata) (Metadata, error) {
	if len(md) == 0 {
		return nil, nil
	}
	out := make(Metadata, len(md))
	size := 0
	for k, v := range md {
		if !isIdentifier(k) {
			return nil, tresor.Errorf(tresor.Invalid, "The metadata specified is invalid. It has characters that are not permitted.").WithReason(ReasonInvalidMetadata)
		}
		lk := strings.ToLower(k)
		if _, dup := out[lk]; dup {
			return nil, tresor.Errorf(tresor.Invalid, "The metadata specified is invalid. The name %s appears twice.", lk).WithReason(ReasonInvalidMetadata)
		}
		out[lk] = v
		size += len(k) + len(v)
	}
	if size > MaxMetadataSize {
		return nil, tresor.Errorf(tresor.Invalid, "The size of the specified metadata exceeds the maximum size permitted.").WithReason(ReasonMetadataTooLarge)
	}
	return out, nil
}

// isIdentifier reports whether s is an ASCII C# identifier.
func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
