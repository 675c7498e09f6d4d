package compute

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tresorkms/tresor"
)

// An ArtifactKey is the data key of one artifact: a disk, a snapshot, or
// the guest state of a confidential VM. The artifact's content is
// encrypted under it and it never changes; only its wrapping does.
//
// On a DES, the data key is wrapped with AES-256-GCM under the DES's
// intermediate key of generation Gen, bound to the artifact and the
// generation. Without a DES (platform-managed keys) it is sealed under
// tresor's root key. With double encryption (PlatformAndCustomerKeys) the
// artifact also has a platform part, sealed under the root key: the key
// that encrypts the content is derived from both, so that each alone
// opens nothing.
type ArtifactKey struct {
	// ResourceID is the artifact's ARM id, compared case-insensitively;
	// a VM's guest state is its VM's id with GuestStateSuffix.
	ResourceID string
	// DES is the lower-case id of the DES that protects it, "" for a
	// platform-managed key.
	DES     string
	Gen     int
	Wrapped []byte
	// Platform is the sealed platform part under double encryption, nil
	// otherwise.
	Platform []byte
	// Seq is the key's position in the store, by which a rotation pages
	// through a DES's keys; the store sets it.
	Seq int64
}

// GuestStateSuffix marks the artifact key of a confidential VM's guest
// state (its VMGS), which its DES protects as it does the VM's disks.
const GuestStateSuffix = "/gueststate"

// A Rewrap is one artifact key moved by a rotation from generation From.
type Rewrap struct {
	From int
	To   ArtifactKey
}

// ArtifactVersion is where an artifact stands in its DES's key history:
// the generation that protects its data key and the customer-managed key
// version that wraps that generation.
type ArtifactVersion struct {
	ResourceID string
	Gen        int
	KeyID      string
}

// dataKeyAD is the additional data that binds a wrapped data key to its
// artifact and generation.
func dataKeyAD(resourceID string, gen int) []byte {
	return []byte("compute/artifacts/" + strings.ToLower(resourceID) + "/" + strconv.Itoa(gen))
}

func gcmOf(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// wrapDataKey wraps a data key under an intermediate key for generation
// gen of the artifact resourceID. The nonce is random and prefixed.
func (s *Service) wrapDataKey(intermediate, dataKey []byte, resourceID string, gen int) ([]byte, error) {
	aead, err := gcmOf(intermediate)
	if err != nil {
		return nil, err
	}
	nonce := s.random(aead.NonceSize())
	return aead.Seal(nonce, nonce, dataKey, dataKeyAD(resourceID, gen)), nil
}

func unwrapDataKey(intermediate, wrapped []byte, resourceID string, gen int) ([]byte, error) {
	aead, err := gcmOf(intermediate)
	if err != nil {
		return nil, err
	}
	if len(wrapped) < aead.NonceSize() {
		return nil, errors.New("compute: wrapped data key too short")
	}
	return aead.Open(nil, wrapped[:aead.NonceSize()], wrapped[aead.NonceSize():], dataKeyAD(resourceID, gen))
}

func platformBinding(resourceID string) []byte {
	return []byte("compute/platform/" + strings.ToLower(resourceID))
}

// newArtifactKey makes the data key of a new artifact, protected by d (nil
// for a platform-managed key) whose intermediate key of generation d.Key.Gen
// is intermediate. double adds a platform part.
func (s *Service) newArtifactKey(resourceID string, d *DiskEncryptionSet, intermediate []byte, double bool) (ArtifactKey, error) {
	k := ArtifactKey{ResourceID: resourceID}
	dataKey := s.random(32)
	if d == nil {
		k.Wrapped = s.Seal.Seal(dataKey, platformBinding(resourceID))
		return k, nil
	}
	k.DES, k.Gen = strings.ToLower(d.ID()), d.Key.Gen
	var err error
	if k.Wrapped, err = s.wrapDataKey(intermediate, dataKey, resourceID, k.Gen); err != nil {
		return ArtifactKey{}, err
	}
	if double {
		k.Platform = s.Seal.Seal(s.random(32), platformBinding(resourceID))
	}
	return k, nil
}

// contentKey derives the key that encrypts an artifact's content from its
// data key and, under double encryption, its platform part.
func contentKey(dataKey, platform []byte) ([]byte, error) {
	if platform == nil {
		return dataKey, nil
	}
	return hkdf.Key(sha256.New, dataKey, platform, "tresor compute double encryption", 32)
}

// keyCache holds intermediate keys briefly, so that the data plane does
// not ask the key service on every page it reads or writes. A DES change
// drops its entries.
type keyCache struct {
	mu      sync.Mutex
	entries map[string]cacheEntry
}

type cacheEntry struct {
	key     []byte
	expires time.Time
}

// cacheKey names an intermediate key by its DES, its generation, and a
// digest of its wrapped form, so that a DES deleted and made again under
// the same name never meets the old one's keys.
func cacheKey(des string, gen int, wrapped []byte) string {
	sum := sha256.Sum256(wrapped)
	return strings.ToLower(des) + "#" + strconv.Itoa(gen) + "#" + hex.EncodeToString(sum[:8])
}

func (c *keyCache) get(des string, gen int, wrapped []byte, now time.Time) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[cacheKey(des, gen, wrapped)]
	if !ok || !now.Before(e.expires) {
		return nil
	}
	return e.key
}

func (c *keyCache) put(des string, gen int, wrapped, key []byte, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]cacheEntry{}
	}
	c.entries[cacheKey(des, gen, wrapped)] = cacheEntry{key: key, expires: until}
}

func (c *keyCache) drop(des string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	prefix := strings.ToLower(des) + "#"
	for k := range c.entries {
		if strings.HasPrefix(k, prefix) {
			delete(c.entries, k)
		}
	}
}

// generation returns d's wrapped intermediate key of generation gen.
func (d DiskEncryptionSet) generation(gen int) (WrappedKey, bool) {
	if d.Key.Gen == gen {
		return d.Key, true
	}
	for _, k := range d.Previous {
		if k.Gen == gen {
			return k, true
		}
	}
	return WrappedKey{}, false
}

// openGeneration returns the intermediate key of generation gen of d,
// from the cache if cached allows it.
func (s *Service) openGeneration(ctx context.Context, d DiskEncryptionSet, gen int, cached bool) ([]byte, error) {
	w, ok := d.generation(gen)
	if !ok {
		return nil, tresor.Errorf(tresor.Internal, "compute: disk encryption set %s has no key generation %d", d.Name, gen)
	}
	if cached && s.KeyCacheTTL > 0 {
		if key := s.cache.get(d.ID(), gen, w.Wrapped, time.Now()); key != nil {
			return key, nil
		}
	}
	at := d
	at.Key = w
	key, err := s.open(ctx, at)
	if err != nil {
		return nil, err
	}
	if s.KeyCacheTTL > 0 {
		s.cache.put(d.ID(), gen, w.Wrapped, key, time.Now().Add(s.KeyCacheTTL))
	}
	return key, nil
}

// artifactContentKey returns the key that encrypts an artifact's content.
// cached allows an intermediate key the cache holds (the data plane);
// starting a VM passes false, so that a disabled key stops it at once.
func (s *Service) artifactContentKey(ctx context.Context, resourceID string, cached bool) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		a, err := s.Store.ArtifactKey(ctx, resourceID)
		if err != nil {
			return nil, err
		}
		if a.DES == "" {
			dataKey, err := s.Seal.Open(a.Wrapped, platformBinding(a.ResourceID))
			if err != nil {
				return nil, tresor.Wrap(err, "compute: open a platform key")
			}
			return dataKey, nil
		}
		d, err := s.desByID(ctx, a.DES)
		if err != nil {
			return nil, err
		}
		if _, ok := d.generation(a.Gen); !ok && attempt == 0 {
			continue // a rotation moved the artifact on meanwhile: read it again
		}
		intermediate, err := s.openGeneration(ctx, d, a.Gen, cached)
		if err != nil {
			return nil, err
		}
		dataKey, err := unwrapDataKey(intermediate, a.Wrapped, a.ResourceID, a.Gen)
		if err != nil {
			return nil, tresor.Wrap(err, "compute: unwrap the data key of "+a.ResourceID)
		}
		if a.Platform == nil {
			return dataKey, nil
		}
		platform, err := s.Seal.Open(a.Platform, platformBinding(a.ResourceID))
		if err != nil {
			return nil, tresor.Wrap(err, "compute: open a platform key")
		}
		return contentKey(dataKey, platform)
	}
}
