// Package software is tresor's software key module: real Go cryptography,
// with every key sealed under the root key whenever it is outside memory.
//
// A Handle is the key's private material in a compact tagged encoding,
// sealed (AES-256-GCM) with the caller's binding as additional data. Opened
// keys are cached in memory, bounded, so that the hot path (an unwrap) pays
// for neither the unsealing nor the parsing.
//
// Security obligations: key types have no String method and are never
// logged; inputs are not retained; outputs are freshly allocated.
package software

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"sync"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/tresorkms/tresor/hsm"
	"github.com/tresorkms/tresor/seal"
)

// Material tags, the first byte of a key's plaintext encoding.
const (
	tagRSA   = 1 // PKCS#1 DER
	tagEC    = 2 // curve name length, curve name, raw scalar
	tagK1    = 3 // secp256k1 raw scalar
	tagOct   = 4 // raw key
	cacheMax = 4096
)

// transferBinding binds exported keys; Adopt rebinds them.
var transferBinding = []byte("hsm/software/transfer")

// Module is the software hsm.Module. It is safe for concurrent use.
type Module struct {
	sealer   *seal.Sealer
	transfer *seal.Sealer

	mu    sync.RWMutex
	cache map[[32]byte]hsm.Key
}

var _ hsm.Module = (*Module)(nil)

// New returns a Module that seals handles with sealer. Exported keys are
// sealed under a separate purpose derived from the same root.
func New(sealer *seal.Sealer) *Module {
	transfer, err := sealer.Purpose("key-transfer")
	if err != nil {
		panic("software: derive transfer sealer: " + err.Error()) // the root was already accepted by sealer
	}
	return &Module{sealer: sealer, transfer: transfer, cache: map[[32]byte]hsm.Key{}}
}

// Generate creates a key per spec. RSA keys use the public exponent 65537;
// any other exponent is ErrUnsupported.
func (m *Module) Generate(ctx context.Context, spec hsm.Spec, binding []byte) (hsm.Handle, hsm.PublicKey, error) {
	var k hsm.Key
	switch spec.Type {
	case hsm.RSA:
		if spec.PublicExponent != 0 && spec.PublicExponent != 65537 {
			return nil, hsm.PublicKey{}, fmt.Errorf("software: generate: public exponent %d: %w", spec.PublicExponent, hsm.ErrUnsupported)
		}
		if spec.Size != 2048 && spec.Size != 3072 && spec.Size != 4096 {
			return nil, hsm.PublicKey{}, fmt.Errorf("software: generate: RSA size %d: %w", spec.Size, hsm.ErrUnsupported)
		}
		priv, err := rsa.GenerateKey(rand.Reader, spec.Size)
		if err != nil {
			return nil, hsm.PublicKey{}, fmt.Errorf("software: generate: %w", err)
		}
		k = newRSAKey(priv)
	case hsm.EC:
		if spec.Curve == hsm.P256K {
			priv, err := secp256k1.GeneratePrivateKey()
			if err != nil {
				return nil, hsm.PublicKey{}, fmt.Errorf("software: generate: %w", err)
			}
			k = &k1Key{priv: priv}
			break
		}
		curve := nistCurve(spec.Curve)
		if curve == nil {
			return nil, hsm.PublicKey{}, fmt.Errorf("software: generate: curve %q: %w", spec.Curve, hsm.ErrUnsupported)
		}
		priv, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			return nil, hsm.PublicKey{}, fmt.Errorf("software: generate: %w", err)
		}
		k = &ecKey{priv: priv, curve: spec.Curve}
	case hsm.Oct:
		if spec.Size != 128 && spec.Size != 192 && spec.Size != 256 {
			return nil, hsm.PublicKey{}, fmt.Errorf("software: generate: AES size %d: %w", spec.Size, hsm.ErrUnsupported)
		}
		b := make([]byte, spec.Size/8)
		rand.Read(b)
		ok, err := newOctKey(b)
		if err != nil {
			return nil, hsm.PublicKey{}, err
		}
		k = ok
	default:
		return nil, hsm.PublicKey{}, fmt.Errorf("software: generate: key type %q: %w", spec.Type, hsm.ErrUnsupported)
	}
	return m.seal(k, binding)
}

// Import takes existing key material. RSA keys need N, E, D, P and Q; EC
// keys need the curve and D (X and Y are checked when given); oct keys are
// 16, 24 or 32 bytes.
func (m *Module) Import(ctx context.Context, pk hsm.PrivateKey, binding []byte) (hsm.Handle, hsm.PublicKey, error) {
	k, err := importKey(pk)
	if err != nil {
		return nil, hsm.PublicKey{}, err
	}
	return m.seal(k, binding)
}

func importKey(pk hsm.PrivateKey) (hsm.Key, error) {
	invalid := func(why string) error { return fmt.Errorf("software: import: %s: %w", why, hsm.ErrInvalidKey) }
	switch pk.Type {
	case hsm.RSA:
		if len(pk.N) == 0 || len(pk.E) == 0 || len(pk.D) == 0 || len(pk.P) == 0 || len(pk.Q) == 0 {
			return nil, invalid("RSA keys need n, e, d, p and q")
		}
		e := new(big.Int).SetBytes(pk.E)
		if !e.IsInt64() || e.Int64() > 1<<31-1 || e.Int64() < 3 {
			return nil, invalid("RSA public exponent out of range")
		}
		priv := &rsa.PrivateKey{
			PublicKey: rsa.PublicKey{N: new(big.Int).SetBytes(pk.N), E: int(e.Int64())},
			D:         new(big.Int).SetBytes(pk.D),
			Primes:    []*big.Int{new(big.Int).SetBytes(pk.P), new(big.Int).SetBytes(pk.Q)},
		}
		if bits := priv.N.BitLen(); bits != 2048 && bits != 3072 && bits != 4096 {
			return nil, invalid(fmt.Sprintf("RSA modulus of %d bits (want 2048, 3072 or 4096)", bits))
		}
		if err := priv.Validate(); err != nil {
			return nil, invalid("inconsistent RSA key")
		}
		priv.Precompute()
		return newRSAKey(priv), nil
	case hsm.EC:
		if pk.Curve == hsm.P256K {
			if len(pk.ECD) != 32 {
				return nil, invalid("secp256k1 keys need a 32-byte d")
			}
			var s secp256k1.ModNScalar
			if overflow := s.SetByteSlice(pk.ECD); overflow || s.IsZero() {
				return nil, invalid("secp256k1 scalar out of range")
			}
			k := &k1Key{priv: secp256k1.NewPrivateKey(&s)}
			return k, checkPoint(k.Public(), pk)
		}
		curve := nistCurve(pk.Curve)
		if curve == nil {
			return nil, fmt.Errorf("software: import: curve %q: %w", pk.Curve, hsm.ErrUnsupported)
		}
		priv, err := ecdsa.ParseRawPrivateKey(curve, pk.ECD)
		if err != nil {
			return nil, invalid("EC private scalar")
		}
		k := &ecKey{priv: priv, curve: pk.Curve}
		return k, checkPoint(k.Public(), pk)
	case hsm.Oct:
		return newOctKey(pk.K)
	}
	return nil, fmt.Errorf("software: import: key type %q: %w", pk.Type, hsm.ErrUnsupported)
}

// checkPoint rejects an EC import whose given public point does not belong
// to its private scalar.
func checkPoint(pub hsm.PublicKey, pk hsm.PrivateKey) error {
	if len(pk.X) == 0 && len(pk.Y) == 0 {
		return nil
	}
	if new(big.Int).SetBytes(pk.X).Cmp(new(big.Int).SetBytes(pub.X)) != 0 ||
		new(big.Int).SetBytes(pk.Y).Cmp(new(big.Int).SetBytes(pub.Y)) != 0 {
		return fmt.Errorf("software: import: public point does not match d: %w", hsm.ErrInvalidKey)
	}
	return nil
}

// Key opens a Handle, from the cache when it was opened before.
func (m *Module) Key(ctx context.Context, h hsm.Handle, binding []byte) (hsm.Key, error) {
	id := cacheID(h, binding)
	m.mu.RLock()
	k, ok := m.cache[id]
	m.mu.RUnlock()
	if ok {
		return k, nil
	}
	plain, err := m.sealer.Open(h, binding)
	if err != nil {
		return nil, fmt.Errorf("software: open handle: %w", hsm.ErrBinding)
	}
	k, err = decode(plain)
	clear(plain)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	if len(m.cache) >= cacheMax {
		clear(m.cache) // simple and bounded; refilling costs one unseal per key
	}
	m.cache[id] = k
	m.mu.Unlock()
	return k, nil
}

// Export seals the key behind h for transfer to a module with the same root.
func (m *Module) Export(ctx context.Context, h hsm.Handle, binding []byte) (hsm.Sealed, error) {
	plain, err := m.sealer.Open(h, binding)
	if err != nil {
		return nil, fmt.Errorf("software: export: %w", hsm.ErrBinding)
	}
	defer clear(plain)
	return m.transfer.Seal(plain, transferBinding), nil
}

// Adopt opens a key made by Export and binds it to binding.
func (m *Module) Adopt(ctx context.Context, s hsm.Sealed, binding []byte) (hsm.Handle, hsm.PublicKey, error) {
	plain, err := m.transfer.Open(s, transferBinding)
	if err != nil {
		return nil, hsm.PublicKey{}, fmt.Errorf("software: adopt: %w", hsm.ErrInvalidKey)
	}
	defer clear(plain)
	k, err := decode(plain)
	if err != nil {
		return nil, hsm.PublicKey{}, err
	}
	return m.sealer.Seal(plain, binding), k.Public(), nil
}

func (m *Module) seal(k hsm.Key, binding []byte) (hsm.Handle, hsm.PublicKey, error) {
	plain, err := encode(k)
	if err != nil {
		return nil, hsm.PublicKey{}, err
	}
	defer clear(plain)
	return m.sealer.Seal(plain, binding), k.Public(), nil
}

func cacheID(h hsm.Handle, binding []byte) [32]byte {
	d := sha256.New()
	d.Write(h)
	d.Write([]byte{0})
	d.Write(binding)
	return [32]byte(d.Sum(nil))
}

func encode(k hsm.Key) ([]byte, error) {
	switch k := k.(type) {
	case *rsaKey:
		return append([]byte{tagRSA}, x509.MarshalPKCS1PrivateKey(k.priv)...), nil
	case *ecKey:
		d, err := k.priv.Bytes()
		if err != nil {
			return nil, fmt.Errorf("software: encode: %w", err)
		}
		out := append([]byte{tagEC, byte(len(k.curve))}, k.curve...)
		return append(out, d...), nil
	case *k1Key:
		return append([]byte{tagK1}, k.priv.Serialize()...), nil
	case *octKey:
		return append([]byte{tagOct}, k.k...), nil
	}
	return nil, fmt.Errorf("software: encode: unknown key %T", k)
}

func decode(b []byte) (hsm.Key, error) {
	corrupt := errors.New("software: decode: corrupt key material")
	if len(b) < 2 {
		return nil, corrupt
	}
	switch b[0] {
	case tagRSA:
		priv, err := x509.ParsePKCS1PrivateKey(b[1:])
		if err != nil {
			return nil, corrupt
		}
		return newRSAKey(priv), nil
	case tagEC:
		n := int(b[1])
		if len(b) < 2+n {
			return nil, corrupt
		}
		curve := hsm.Curve(b[2 : 2+n])
		c := nistCurve(curve)
		if c == nil {
			return nil, corrupt
		}
		priv, err := ecdsa.ParseRawPrivateKey(c, b[2+n:])
		if err != nil {
			return nil, corrupt
		}
		return &ecKey{priv: priv, curve: curve}, nil
	case tagK1:
		return &k1Key{priv: secp256k1.PrivKeyFromBytes(b[1:])}, nil
	case tagOct:
		return newOctKey(b[1:])
	}
	return nil, corrupt
}

func nistCurve(c hsm.Curve) elliptic.Curve {
	switch c {
	case hsm.P256:
		return elliptic.P256()
	case hsm.P384:
		return elliptic.P384()
	case hsm.P521:
		return elliptic.P521()
	}
	return nil
}
