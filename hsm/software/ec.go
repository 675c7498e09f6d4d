package software

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	k1ecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"github.com/tresorkms/tresor/hsm"
)

// nistCurve returns the standard library curve for c, or nil.
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

// curveBytes is the length of c's scalars and coordinates, or 0 for a curve
// this module does not know.
func curveBytes(c hsm.Curve) int {
	switch c {
	case hsm.P256, hsm.P256K:
		return 32
	case hsm.P384:
		return 48
	case hsm.P521:
		return 66
	}
	return 0
}

// ecAlg returns the curve and digest length an ECDSA algorithm requires.
func ecAlg(alg hsm.Algorithm) (hsm.Curve, int, bool) {
	switch alg {
	case hsm.ES256:
		return hsm.P256, 32, true
	case hsm.ES384:
		return hsm.P384, 48, true
	case hsm.ES512:
		return hsm.P521, 64, true
	case hsm.ES256K:
		return hsm.P256K, 32, true
	}
	return "", 0, false
}

// checkECAlg rejects an algorithm that is not ECDSA (hsm.ErrUnsupported),
// is for another curve, or gets a digest of the wrong length
// (hsm.ErrInvalidData).
func checkECAlg(op string, alg hsm.Algorithm, curve hsm.Curve, digest []byte) error {
	c, n, ok := ecAlg(alg)
	if !ok {
		return fmt.Errorf("software: EC %s with %s: %w", op, alg, hsm.ErrUnsupported)
	}
	if c != curve {
		return fmt.Errorf("software: %s %s needs curve %s, the key is on %s: %w", alg, op, c, curve, hsm.ErrInvalidData)
	}
	if len(digest) != n {
		return fmt.Errorf("software: %s %s needs a %d-byte digest, got %d: %w", alg, op, n, len(digest), hsm.ErrInvalidData)
	}
	return nil
}

func errNoEncryption(op string) error {
	return fmt.Errorf("software: EC keys do not %s: %w", op, hsm.ErrUnsupported)
}

// generateEC makes a key on curve c.
func generateEC(c hsm.Curve) (hsm.Key, error) {
	if c == hsm.P256K {
		priv, err := secp256k1.GeneratePrivateKey()
		if err != nil {
			return nil, err
		}
		return newK1Key(priv), nil
	}
	curve := nistCurve(c)
	if curve == nil {
		return nil, fmt.Errorf("curve %q: %w", c, hsm.ErrUnsupported)
	}
	priv, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		return nil, err
	}
	return newECKey(priv, c), nil
}

// importEC makes a key from a private scalar, left-padding a short one, and
// checks the public point when the caller gave it.
func importEC(pk hsm.PrivateKey) (hsm.Key, error) {
	size := curveBytes(pk.Curve)
	if size == 0 {
		return nil, fmt.Errorf("curve %q: %w", pk.Curve, hsm.ErrUnsupported)
	}
	if len(pk.ECD) == 0 || len(pk.ECD) > size {
		return nil, invalid(fmt.Sprintf("%s keys need a private scalar of at most %d bytes", pk.Curve, size))
	}
	d := make([]byte, size)
	defer clear(d)
	copy(d[size-len(pk.ECD):], pk.ECD)
	var k hsm.Key
	if pk.Curve == hsm.P256K {
		var s secp256k1.ModNScalar
		if overflow := s.SetByteSlice(d); overflow || s.IsZero() {
			return nil, invalid("secp256k1 private scalar out of range")
		}
		k = newK1Key(secp256k1.NewPrivateKey(&s))
	} else {
		priv, err := ecdsa.ParseRawPrivateKey(nistCurve(pk.Curve), d)
		if err != nil {
			return nil, invalid(fmt.Sprintf("%s private scalar out of range", pk.Curve))
		}
		k = newECKey(priv, pk.Curve)
	}
	if len(pk.X) > 0 || len(pk.Y) > 0 {
		pub := k.Public()
		if !equalInt(pk.X, pub.X) || !equalInt(pk.Y, pub.Y) {
			return nil, invalid("public point does not match the private scalar")
		}
	}
	return k, nil
}

// equalInt compares two big-endian integers, ignoring leading zeros. The
// inputs are public coordinates, so it need not be constant-time.
func equalInt(a, b []byte) bool {
	return bytes.Equal(bytes.TrimLeft(a, "\x00"), bytes.TrimLeft(b, "\x00"))
}

// rawSig is r||s, each left-padded to n bytes.
func rawSig(r, s *big.Int, n int) []byte {
	out := make([]byte, 2*n)
	r.FillBytes(out[:n])
	s.FillBytes(out[n:])
	return out
}

// ecKey is an ECDSA key on a NIST curve. It is immutable once made, so it
// is safe for concurrent use.
//
// It deliberately has no String method and is not comparable; never log or
// format it.
type ecKey struct {
	_     [0]func() // not comparable: == on key material is not constant-time
	priv  *ecdsa.PrivateKey
	curve hsm.Curve
	x, y  []byte // padded public coordinates; Public hands out copies
}

var (
	_ hsm.Key = (*ecKey)(nil)
	_ hsm.Key = (*k1Key)(nil)
)

func newECKey(priv *ecdsa.PrivateKey, c hsm.Curve) *ecKey {
	b, err := priv.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		panic("software: public key of a valid ECDSA key: " + err.Error()) // cannot happen for NIST curves
	}
	n := (len(b) - 1) / 2
	return &ecKey{priv: priv, curve: c, x: b[1 : 1+n], y: b[1+n:]}
}

func (k *ecKey) Type() hsm.KeyType { return hsm.EC }
func (k *ecKey) Size() int         { return k.priv.Curve.Params().BitSize }

func (k *ecKey) Public() hsm.PublicKey {
	return hsm.PublicKey{Type: hsm.EC, Curve: k.curve, X: bytes.Clone(k.x), Y: bytes.Clone(k.y)}
}

// Encrypt fails with hsm.ErrUnsupported: Azure's EC keys only sign.
func (k *ecKey) Encrypt(hsm.Algorithm, []byte, []byte, []byte) (hsm.Result, error) {
	return hsm.Result{}, errNoEncryption("encrypt")
}

// Decrypt fails with hsm.ErrUnsupported: Azure's EC keys only sign.
func (k *ecKey) Decrypt(hsm.Algorithm, []byte, []byte, []byte, []byte) ([]byte, error) {
	return nil, errNoEncryption("decrypt")
}

// Sign returns a randomised ECDSA signature as raw r||s. r may be nil,
// meaning crypto/rand.
func (k *ecKey) Sign(r io.Reader, alg hsm.Algorithm, digest []byte) ([]byte, error) {
	if err := checkECAlg("sign", alg, k.curve, digest); err != nil {
		return nil, err
	}
	rr, s, err := ecdsa.Sign(orRand(r), k.priv, digest)
	if err != nil {
		return nil, fmt.Errorf("software: %s sign: %w", alg, err)
	}
	return rawSig(rr, s, len(k.x)), nil
}

// Verify reports whether sig, raw r||s, is a valid signature of digest.
func (k *ecKey) Verify(alg hsm.Algorithm, digest, sig []byte) (bool, error) {
	if err := checkECAlg("verify", alg, k.curve, digest); err != nil {
		return false, err
	}
	n := len(k.x)
	if len(sig) != 2*n {
		return false, nil
	}
	r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
	return ecdsa.Verify(&k.priv.PublicKey, digest, r, s), nil
}

// k1Key is an ECDSA key on secp256k1 (P-256K), which the standard library
// does not offer. It is immutable once made, so it is safe for concurrent
// use.
//
// It deliberately has no String method and is not comparable; never log or
// format it.
type k1Key struct {
	_    [0]func() // not comparable: == on key material is not constant-time
	priv *secp256k1.PrivateKey
	pub  *secp256k1.PublicKey
}

func newK1Key(priv *secp256k1.PrivateKey) *k1Key {
	return &k1Key{priv: priv, pub: priv.PubKey()}
}

func (k *k1Key) Type() hsm.KeyType { return hsm.EC }
func (k *k1Key) Size() int         { return 256 }

func (k *k1Key) Public() hsm.PublicKey {
	b := k.pub.SerializeUncompressed() // fresh: 0x04 || X || Y
	return hsm.PublicKey{Type: hsm.EC, Curve: hsm.P256K, X: b[1:33:33], Y: b[33:65:65]}
}

// Encrypt fails with hsm.ErrUnsupported: Azure's EC keys only sign.
func (k *k1Key) Encrypt(hsm.Algorithm, []byte, []byte, []byte) (hsm.Result, error) {
	return hsm.Result{}, errNoEncryption("encrypt")
}

// Decrypt fails with hsm.ErrUnsupported: Azure's EC keys only sign.
func (k *k1Key) Decrypt(hsm.Algorithm, []byte, []byte, []byte, []byte) ([]byte, error) {
	return nil, errNoEncryption("decrypt")
}

// Sign produces a deterministic (RFC 6979), low-S signature as raw r||s;
// the reader is not used.
func (k *k1Key) Sign(_ io.Reader, alg hsm.Algorithm, digest []byte) ([]byte, error) {
	if err := checkECAlg("sign", alg, hsm.P256K, digest); err != nil {
		return nil, err
	}
	sig := k1ecdsa.Sign(k.priv, digest)
	r, s := sig.R(), sig.S()
	out := make([]byte, 64)
	r.PutBytesUnchecked(out[:32])
	s.PutBytesUnchecked(out[32:])
	return out, nil
}

// Verify reports whether sig, raw r||s, is a valid signature of digest.
// High-S signatures are accepted, as plain ECDSA (not Bitcoin's rules)
// requires.
func (k *k1Key) Verify(alg hsm.Algorithm, digest, sig []byte) (bool, error) {
	if err := checkECAlg("verify", alg, hsm.P256K, digest); err != nil {
		return false, err
	}
	if len(sig) != 64 {
		return false, nil
	}
	var r, s secp256k1.ModNScalar
	if r.SetByteSlice(sig[:32]) || s.SetByteSlice(sig[32:]) || r.IsZero() || s.IsZero() {
		return false, nil
	}
	return k1ecdsa.NewSignature(&r, &s).Verify(digest, k.pub), nil
}
