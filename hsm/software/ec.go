package software

import (
	"crypto/ecdsa"
	"fmt"
	"io"
	"math/big"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	k1ecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"github.com/tresorkms/tresor/hsm"
)

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

func checkECAlg(alg hsm.Algorithm, curve hsm.Curve, digest []byte) error {
	c, n, ok := ecAlg(alg)
	if !ok {
		return fmt.Errorf("software: EC with %s: %w", alg, hsm.ErrUnsupported)
	}
	if c != curve {
		return fmt.Errorf("software: %s needs curve %s, the key is %s: %w", alg, c, curve, hsm.ErrInvalidData)
	}
	if len(digest) != n {
		return fmt.Errorf("software: %s needs a %d-byte digest, got %d: %w", alg, n, len(digest), hsm.ErrInvalidData)
	}
	return nil
}

func errNoEncryption(t string) error {
	return fmt.Errorf("software: %s keys do not encrypt: %w", t, hsm.ErrUnsupported)
}

// ecKey is an ECDSA key on a NIST curve.
type ecKey struct {
	_     [0]func() // not comparable
	priv  *ecdsa.PrivateKey
	curve hsm.Curve
}

func (k *ecKey) Type() hsm.KeyType { return hsm.EC }
func (k *ecKey) Size() int         { return k.priv.Curve.Params().BitSize }

func (k *ecKey) Public() hsm.PublicKey {
	b, _ := k.priv.PublicKey.Bytes() // uncompressed: 0x04 || X || Y; the key is valid
	n := (len(b) - 1) / 2
	return hsm.PublicKey{Type: hsm.EC, Curve: k.curve, X: b[1 : 1+n], Y: b[1+n:]}
}

func (k *ecKey) Encrypt(hsm.Algorithm, []byte, []byte, []byte) (hsm.Result, error) {
	return hsm.Result{}, errNoEncryption("EC")
}

func (k *ecKey) Decrypt(hsm.Algorithm, []byte, []byte, []byte, []byte) ([]byte, error) {
	return nil, errNoEncryption("EC")
}

func (k *ecKey) Sign(r io.Reader, alg hsm.Algorithm, digest []byte) ([]byte, error) {
	if err := checkECAlg(alg, k.curve, digest); err != nil {
		return nil, err
	}
	rr, s, err := ecdsa.Sign(r, k.priv, digest)
	if err != nil {
		return nil, fmt.Errorf("software: sign: %w", err)
	}
	n := (k.Size() + 7) / 8
	out := make([]byte, 2*n)
	rr.FillBytes(out[:n])
	s.FillBytes(out[n:])
	return out, nil
}

func (k *ecKey) Verify(alg hsm.Algorithm, digest, sig []byte) (bool, error) {
	if err := checkECAlg(alg, k.curve, digest); err != nil {
		return false, err
	}
	n := (k.Size() + 7) / 8
	if len(sig) != 2*n {
		return false, nil
	}
	r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
	return ecdsa.Verify(&k.priv.PublicKey, digest, r, s), nil
}

// k1Key is an ECDSA key on secp256k1 (P-256K), which the standard library
// does not offer.
type k1Key struct {
	_    [0]func() // not comparable
	priv *secp256k1.PrivateKey
}

func (k *k1Key) Type() hsm.KeyType { return hsm.EC }
func (k *k1Key) Size() int         { return 256 }

func (k *k1Key) Public() hsm.PublicKey {
	b := k.priv.PubKey().SerializeUncompressed()
	return hsm.PublicKey{Type: hsm.EC, Curve: hsm.P256K, X: b[1:33], Y: b[33:65]}
}

func (k *k1Key) Encrypt(hsm.Algorithm, []byte, []byte, []byte) (hsm.Result, error) {
	return hsm.Result{}, errNoEncryption("EC")
}

func (k *k1Key) Decrypt(hsm.Algorithm, []byte, []byte, []byte, []byte) ([]byte, error) {
	return nil, errNoEncryption("EC")
}

// Sign produces a deterministic (RFC 6979), low-S signature as raw r||s.
func (k *k1Key) Sign(_ io.Reader, alg hsm.Algorithm, digest []byte) ([]byte, error) {
	if err := checkECAlg(alg, hsm.P256K, digest); err != nil {
		return nil, err
	}
	sig := k1ecdsa.Sign(k.priv, digest)
	r, s := sig.R(), sig.S()
	out := make([]byte, 64)
	r.PutBytesUnchecked(out[:32])
	s.PutBytesUnchecked(out[32:])
	return out, nil
}

func (k *k1Key) Verify(alg hsm.Algorithm, digest, sig []byte) (bool, error) {
	if err := checkECAlg(alg, hsm.P256K, digest); err != nil {
		return false, err
	}
	if len(sig) != 64 {
		return false, nil
	}
	var r, s secp256k1.ModNScalar
	if r.SetByteSlice(sig[:32]) || s.SetByteSlice(sig[32:]) || r.IsZero() || s.IsZero() {
		return false, nil
	}
	return k1ecdsa.NewSignature(&r, &s).Verify(digest, k.priv.PubKey()), nil
}
