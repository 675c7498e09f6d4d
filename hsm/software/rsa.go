package software

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"math/big"

	"github.com/tresorkms/tresor/hsm"
)

// rsaKey is an RSA private key with precomputed CRT values. It is immutable
// once made, so it is safe for concurrent use.
//
// It deliberately has no String method and is not comparable; never log or
// format it.
type rsaKey struct {
	_    [0]func() // not comparable: == on key material is not constant-time
	priv *rsa.PrivateKey
	n, e []byte // the public half, big-endian; Public hands out copies
}

var _ hsm.Key = (*rsaKey)(nil)

func newRSAKey(priv *rsa.PrivateKey) *rsaKey {
	return &rsaKey{priv: priv, n: priv.N.Bytes(), e: big.NewInt(int64(priv.E)).Bytes()}
}

func (k *rsaKey) Type() hsm.KeyType { return hsm.RSA }
func (k *rsaKey) Size() int         { return k.priv.N.BitLen() }

func (k *rsaKey) Public() hsm.PublicKey {
	return hsm.PublicKey{Type: hsm.RSA, N: bytes.Clone(k.n), E: bytes.Clone(k.e)}
}

// rsaSize reports whether bits is a modulus length Azure offers.
func rsaSize(bits int) bool { return bits == 2048 || bits == 3072 || bits == 4096 }

// oaepHash returns a fresh hash for an OAEP algorithm, used for both the
// label hash and MGF1: SHA-1 for RSA-OAEP (as OpenSSL's
// RSA_PKCS1_OAEP_PADDING, which clients rely on), SHA-256 for RSA-OAEP-256.
func oaepHash(alg hsm.Algorithm) (hash.Hash, bool) {
	switch alg {
	case hsm.RSAOAEP:
		return sha1.New(), true
	case hsm.RSAOAEP256:
		return sha256.New(), true
	}
	return nil, false
}

// Encrypt encrypts with the public key under RSA1_5, RSA-OAEP or
// RSA-OAEP-256; iv and aad are ignored. A plaintext too long for the modulus
// and padding fails with hsm.ErrInvalidData.
func (k *rsaKey) Encrypt(alg hsm.Algorithm, plaintext, _, _ []byte) (hsm.Result, error) {
	var ct []byte
	var err error
	if alg == hsm.RSA15 {
		ct, err = rsa.EncryptPKCS1v15(rand.Reader, &k.priv.PublicKey, plaintext) //nolint:staticcheck // SA1019: Azure offers RSA1_5
	} else if h, ok := oaepHash(alg); ok {
		ct, err = rsa.EncryptOAEP(h, rand.Reader, &k.priv.PublicKey, plaintext, nil)
	} else {
		return hsm.Result{}, fmt.Errorf("software: RSA encrypt with %s: %w", alg, hsm.ErrUnsupported)
	}
	if err != nil {
		// With a validated key the only failure is a message too long.
		return hsm.Result{}, fmt.Errorf("software: %s encrypt of %d bytes with a %d-bit key: %w", alg, len(plaintext), k.Size(), hsm.ErrInvalidData)
	}
	return hsm.Result{Ciphertext: ct}, nil
}

// Decrypt reverses Encrypt. Any padding failure is hsm.ErrDecrypt. RSA1_5
// necessarily reports padding failures, as Azure does: callers that expose
// it are a Bleichenbacher oracle, which is why RSA-OAEP is preferred.
func (k *rsaKey) Decrypt(alg hsm.Algorithm, ciphertext, _, _, _ []byte) ([]byte, error) {
	var pt []byte
	var err error
	if alg == hsm.RSA15 {
		pt, err = rsa.DecryptPKCS1v15(nil, k.priv, ciphertext) //nolint:staticcheck // SA1019: Azure offers RSA1_5
	} else if h, ok := oaepHash(alg); ok {
		pt, err = rsa.DecryptOAEP(h, nil, k.priv, ciphertext, nil)
	} else {
		return nil, fmt.Errorf("software: RSA decrypt with %s: %w", alg, hsm.ErrUnsupported)
	}
	if err != nil {
		return nil, fmt.Errorf("software: %s decrypt: %w", alg, hsm.ErrDecrypt)
	}
	return pt, nil
}

// rsaSignHash maps a signature algorithm to its digest hash and whether it
// is PSS.
func rsaSignHash(alg hsm.Algorithm) (h crypto.Hash, pss, ok bool) {
	switch alg {
	case hsm.RS256:
		return crypto.SHA256, false, true
	case hsm.RS384:
		return crypto.SHA384, false, true
	case hsm.RS512:
		return crypto.SHA512, false, true
	case hsm.PS256:
		return crypto.SHA256, true, true
	case hsm.PS384:
		return crypto.SHA384, true, true
	case hsm.PS512:
		return crypto.SHA512, true, true
	}
	return 0, false, false
}

// pssOptions fixes the salt to the hash length, as RFC 7518 section 3.5
// requires for PS256/384/512, when signing and when verifying.
var pssOptions = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}

func (k *rsaKey) checkSign(op string, alg hsm.Algorithm, digest []byte) (crypto.Hash, bool, error) {
	h, pss, ok := rsaSignHash(alg)
	if !ok {
		return 0, false, fmt.Errorf("software: RSA %s with %s: %w", op, alg, hsm.ErrUnsupported)
	}
	if len(digest) != h.Size() {
		return 0, false, fmt.Errorf("software: %s %s needs a %d-byte digest, got %d: %w", alg, op, h.Size(), len(digest), hsm.ErrInvalidData)
	}
	return h, pss, nil
}

// Sign signs a digest with RS256/384/512 (PKCS #1 v1.5) or PS256/384/512
// (PSS). A digest of the wrong length fails with hsm.ErrInvalidData. r may
// be nil, meaning crypto/rand.
func (k *rsaKey) Sign(r io.Reader, alg hsm.Algorithm, digest []byte) ([]byte, error) {
	h, pss, err := k.checkSign("sign", alg, digest)
	if err != nil {
		return nil, err
	}
	var sig []byte
	if pss {
		sig, err = rsa.SignPSS(orRand(r), k.priv, h, digest, pssOptions)
	} else {
		sig, err = rsa.SignPKCS1v15(nil, k.priv, h, digest)
	}
	if err != nil {
		return nil, fmt.Errorf("software: %s sign: %w", alg, err)
	}
	return sig, nil
}

// Verify reports whether sig is a valid signature of digest. A malformed
// signature is false, not an error.
func (k *rsaKey) Verify(alg hsm.Algorithm, digest, sig []byte) (bool, error) {
	h, pss, err := k.checkSign("verify", alg, digest)
	if err != nil {
		return false, err
	}
	if pss {
		return rsa.VerifyPSS(&k.priv.PublicKey, h, digest, sig, pssOptions) == nil, nil
	}
	return rsa.VerifyPKCS1v15(&k.priv.PublicKey, h, digest, sig) == nil, nil
}

func orRand(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}

// rsaExponent checks a public exponent the way crypto/rsa will: odd, at
// least 3, and fitting in 31 bits.
func rsaExponent(e int64) bool { return e >= 3 && e <= 1<<31-1 && e%2 == 1 }

// generateRSA makes a bits-long RSA key with public exponent e, with
// precomputed CRT values.
//
// crypto/rsa generates only e = 65537. For other exponents this follows
// FIPS 186-5 appendix A.1.3 in shape: two crypto/rand primes of bits/2 bits
// with their top two bits set (so N has exactly bits bits), each with
// gcd(e, p-1) = 1, |p-q| > 2^(bits/2-100), d = e⁻¹ mod lcm(p-1, q-1) and
// d > 2^(bits/2). crypto/rand.Prime is not constant-time; that matches the
// crypto/rsa of Go 1.23 and earlier and is acceptable for this module.
func generateRSA(ctx context.Context, bits, e int) (*rsa.PrivateKey, error) {
	if e == 65537 {
		return rsa.GenerateKey(rand.Reader, bits)
	}
	E := big.NewInt(int64(e))
	one := big.NewInt(1)
	minDiff := new(big.Int).Lsh(one, uint(bits/2-100))
	prime := func() (*big.Int, error) {
		for {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			p, err := rand.Prime(rand.Reader, bits/2)
			if err != nil {
				return nil, err
			}
			pm1 := new(big.Int).Sub(p, one)
			if new(big.Int).GCD(nil, nil, E, pm1).Cmp(one) == 0 {
				return p, nil
			}
		}
	}
	for {
		p, err := prime()
		if err != nil {
			return nil, err
		}
		q, err := prime()
		if err != nil {
			return nil, err
		}
		if new(big.Int).Sub(p, q).CmpAbs(minDiff) <= 0 {
			continue
		}
		n := new(big.Int).Mul(p, q)
		if n.BitLen() != bits {
			continue
		}
		pm1, qm1 := new(big.Int).Sub(p, one), new(big.Int).Sub(q, one)
		g := new(big.Int).GCD(nil, nil, pm1, qm1)
		lambda := new(big.Int).Mul(pm1, new(big.Int).Quo(qm1, g))
		d := new(big.Int).ModInverse(E, lambda)
		if d == nil || d.BitLen() <= bits/2 {
			continue
		}
		priv := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: e}, D: d, Primes: []*big.Int{p, q}}
		if err := priv.Validate(); err != nil {
			return nil, fmt.Errorf("generated an invalid key: %w", err)
		}
		priv.Precompute()
		return priv, nil
	}
}

// importRSA builds, validates and precomputes an RSA key from JWK fields.
func importRSA(pk hsm.PrivateKey) (*rsaKey, error) {
	if len(pk.N) == 0 || len(pk.E) == 0 || len(pk.D) == 0 || len(pk.P) == 0 || len(pk.Q) == 0 {
		return nil, invalid("RSA keys need n, e, d, p and q")
	}
	n := new(big.Int).SetBytes(pk.N)
	if !rsaSize(n.BitLen()) {
		return nil, fmt.Errorf("RSA modulus of %d bits (want 2048, 3072 or 4096): %w", n.BitLen(), hsm.ErrUnsupported)
	}
	e := new(big.Int).SetBytes(pk.E)
	if !e.IsInt64() || !rsaExponent(e.Int64()) {
		return nil, invalid("RSA public exponent out of range")
	}
	priv := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: n, E: int(e.Int64())},
		D:         new(big.Int).SetBytes(pk.D),
		Primes:    []*big.Int{new(big.Int).SetBytes(pk.P), new(big.Int).SetBytes(pk.Q)},
	}
	// RFC 7518 section 6.3.2: the CRT values come all together or not at
	// all. Given ones are checked by Validate; missing ones are computed.
	switch crt := btoi(len(pk.DP) > 0) + btoi(len(pk.DQ) > 0) + btoi(len(pk.QI) > 0); crt {
	case 0:
	case 3:
		priv.Precomputed.Dp = new(big.Int).SetBytes(pk.DP)
		priv.Precomputed.Dq = new(big.Int).SetBytes(pk.DQ)
		priv.Precomputed.Qinv = new(big.Int).SetBytes(pk.QI)
	default:
		return nil, invalid("RSA keys need all of dp, dq and qi or none")
	}
	if err := priv.Validate(); err != nil {
		return nil, invalid("inconsistent RSA key")
	}
	priv.Precompute()
	return newRSAKey(priv), nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// invalid is an hsm.ErrInvalidKey saying why, without any material.
func invalid(why string) error { return fmt.Errorf("%s: %w", why, hsm.ErrInvalidKey) }
