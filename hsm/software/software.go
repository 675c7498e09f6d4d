// Package software is tresor's software key module: real Go cryptography,
// with every key sealed under the root key whenever it is outside memory.
//
// A Handle is the key's private material in a compact tagged encoding (see
// encode), sealed with AES-256-GCM under the module's seal.Sealer with the
// caller's binding as additional data. Export seals the same encoding under a
// separate purpose ("key-transfer") with a fixed binding, so a backup can
// never be used as a Handle, nor a Handle as a backup.
//
// Opened keys are kept in a bounded in-memory cache, so the hot path (an
// unwrap) pays for neither the unsealing nor the parsing.
//
// Security obligations, for anyone changing this package: key types have no
// String, Format or GoString methods and are not comparable; key material
// and plaintexts are never logged or put into error messages (lengths and
// algorithm names are fine); inputs are never retained or modified; every
// output is freshly allocated, so a caller can clear it.
package software

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/tresorkms/tresor/hsm"
	"github.com/tresorkms/tresor/seal"
)

// cacheMax bounds the number of opened keys kept in memory.
const cacheMax = 4096

// transferBinding is the fixed binding of exported keys; Adopt rebinds them.
// It is part of the backup format: changing it orphans existing backups.
var transferBinding = []byte("hsm/software/transfer")

// Module is the software hsm.Module. It is safe for concurrent use.
type Module struct {
	sealer   *seal.Sealer // handles
	transfer *seal.Sealer // exports, a separate purpose under the same root
	cache    cache
}

var _ hsm.Module = (*Module)(nil)

// New returns a Module that seals handles with sealer, which must not be
// nil. Exports are sealed under sealer.Purpose("key-transfer"), so any
// Module whose sealer shares the root can adopt them.
func New(sealer *seal.Sealer) *Module {
	transfer, err := sealer.Purpose("key-transfer")
	if err != nil {
		panic("software: derive transfer sealer: " + err.Error()) // the root was already accepted by sealer
	}
	return &Module{sealer: sealer, transfer: transfer, cache: cache{max: cacheMax}}
}

// Generate creates a key per spec: RSA of 2048, 3072 or 4096 bits with any
// odd public exponent from 3 to 2³¹-1 (zero means 65537); EC on P-256,
// P-384, P-521 or P-256K; oct of 128, 192 or 256 bits. Any other Spec fails
// with hsm.ErrUnsupported. Generate returns ctx's error if ctx is done
// before the key is made.
func (m *Module) Generate(ctx context.Context, spec hsm.Spec, binding []byte) (hsm.Handle, hsm.PublicKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, hsm.PublicKey{}, fmt.Errorf("software: generate: %w", err)
	}
	k, err := generate(ctx, spec)
	if err != nil {
		return nil, hsm.PublicKey{}, fmt.Errorf("software: generate: %w", err)
	}
	return m.seal(k, binding)
}

// Import takes existing key material. RSA keys need N, E, D, P and Q of a
// 2048, 3072 or 4096-bit modulus; DP, DQ and QI are optional, but if any is
// given all must be, and they must match. EC keys need the curve and the
// private scalar ECD (shorter than the curve's length is accepted and
// left-padded); X and Y are checked when given. Oct keys are 16, 24 or 32
// bytes. Inconsistent material fails with hsm.ErrInvalidKey, an unknown type
// or curve with hsm.ErrUnsupported. Import copies what it keeps and does not
// modify pk.
func (m *Module) Import(ctx context.Context, pk hsm.PrivateKey, binding []byte) (hsm.Handle, hsm.PublicKey, error) {
	k, err := importKey(pk)
	if err != nil {
		return nil, hsm.PublicKey{}, fmt.Errorf("software: import: %w", err)
	}
	return m.seal(k, binding)
}

// Key opens a Handle. A Handle that does not authenticate under binding
// (another binding, another root, or tampered bytes) fails with
// hsm.ErrBinding. Opened keys are cached, so repeated calls with the same
// Handle and binding return the same Key without unsealing again.
func (m *Module) Key(ctx context.Context, h hsm.Handle, binding []byte) (hsm.Key, error) {
	id := cacheID(h, binding)
	if k, ok := m.cache.get(id); ok {
		return k, nil
	}
	k, err := m.open(h, binding)
	if err != nil {
		return nil, fmt.Errorf("software: key: %w", err)
	}
	m.cache.put(id, k)
	return k, nil
}

// Export seals the key behind h for transfer to a Module with the same
// root. It fails with hsm.ErrBinding if h does not open under binding.
func (m *Module) Export(ctx context.Context, h hsm.Handle, binding []byte) (hsm.Sealed, error) {
	plain, err := m.sealer.Open(h, binding)
	if err != nil {
		return nil, fmt.Errorf("software: export: %w", hsm.ErrBinding)
	}
	defer clear(plain)
	return m.transfer.Seal(plain, transferBinding), nil
}

// Adopt opens a key made by Export and returns a Handle for it under
// binding. A value that is not an export of a Module with the same root
// fails with hsm.ErrInvalidKey.
func (m *Module) Adopt(ctx context.Context, s hsm.Sealed, binding []byte) (hsm.Handle, hsm.PublicKey, error) {
	plain, err := m.transfer.Open(s, transferBinding)
	if err != nil {
		return nil, hsm.PublicKey{}, fmt.Errorf("software: adopt: %w", hsm.ErrInvalidKey)
	}
	defer clear(plain)
	k, err := decode(plain)
	if err != nil {
		return nil, hsm.PublicKey{}, fmt.Errorf("software: adopt: %w", err)
	}
	return m.sealer.Seal(plain, binding), k.Public(), nil
}

// open unseals and decodes a Handle, bypassing the cache.
func (m *Module) open(h hsm.Handle, binding []byte) (hsm.Key, error) {
	plain, err := m.sealer.Open(h, binding)
	if err != nil {
		return nil, hsm.ErrBinding
	}
	defer clear(plain)
	return decode(plain)
}

func (m *Module) seal(k hsm.Key, binding []byte) (hsm.Handle, hsm.PublicKey, error) {
	plain, err := encode(k)
	if err != nil {
		return nil, hsm.PublicKey{}, fmt.Errorf("software: %w", err)
	}
	defer clear(plain)
	return m.sealer.Seal(plain, binding), k.Public(), nil
}

// cacheID names an opened (Handle, binding) pair. The handle's length comes
// first so that no two distinct pairs hash the same input; a match therefore
// means the pair authenticated when it was first opened.
func cacheID(h hsm.Handle, binding []byte) [sha256.Size]byte {
	d := sha256.New()
	d.Write(binary.BigEndian.AppendUint64(nil, uint64(len(h))))
	d.Write(h)
	d.Write([]byte{0})
	d.Write(binding)
	return [sha256.Size]byte(d.Sum(nil))
}

// cache holds opened keys, at most max of them. When full it evicts one
// entry chosen by Go's randomised map iteration: simple, O(1), and fair
// enough for a working set that normally fits.
type cache struct {
	mu  sync.RWMutex
	m   map[[sha256.Size]byte]hsm.Key
	max int
}

func (c *cache) get(id [sha256.Size]byte) (hsm.Key, bool) {
	c.mu.RLock()
	k, ok := c.m[id]
	c.mu.RUnlock()
	return k, ok
}

func (c *cache) put(id [sha256.Size]byte, k hsm.Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[[sha256.Size]byte]hsm.Key)
	}
	if _, ok := c.m[id]; !ok && len(c.m) >= c.max {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[id] = k
}

func (c *cache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
