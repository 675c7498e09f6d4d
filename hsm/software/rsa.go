package software

import (
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

// rsaKey is an RSA private key with precomputed CRT values.
type rsaKey struct {
	_    [0]func() // not comparable: == is not constant-time
	priv *rsa.PrivateKey
	pub  hsm.PublicKey
}

func newRSAKey(priv *rsa.PrivateKey) *rsaKey {
	return &rsaKey{priv: priv, pub: hsm.PublicKey{
		Type: hsm.RSA,
		N:    priv.N.Bytes(),
		E:    big.NewInt(int64(priv.E)).Bytes(),
	}}
}

func (k *rsaKey) Type() hsm.KeyType     { return hsm.RSA }
func (k *rsaKey) Size() int             { return k.priv.N.BitLen() }
func (k *rsaKey) Public() hsm.PublicKey { return k.pub }

// oaepHash returns the OAEP hash of alg: SHA-1 for RSA-OAEP (hash and MGF1,
// as OpenSSL's RSA_PKCS1_OAEP_PADDING), SHA-256 for RSA-OAEP-256.
func oaepHash(alg hsm.Algorithm) (hash.Hash, bool) {
	switch alg {
	case hsm.RSAOAEP:
		return sha1.New(), true
	case hsm.RSAOAEP256:
		return sha256.New(), true
	}
	return nil, false
}

func (k *rsaKey) Encrypt(alg hsm.Algorithm, plaintext, iv, aad []byte) (hsm.Result, error) {
	var ct []byte
	var err error
	if alg == hsm.RSA15 {
		ct, err = rsa.EncryptPKCS1v15(rand.Reader, &k.priv.PublicKey, plaintext) //nolint:staticcheck // Azure offers RSA1_5
	} else if h, ok := oaepHash(alg); ok {
		ct, err = rsa.EncryptOAEP(h, rand.Reader, &k.priv.PublicKey, plaintext, nil)
	} else {
		return hsm.Result{}, fmt.Errorf("software: RSA encrypt with %s: %w", alg, hsm.ErrUnsupported)
	}
	if err != nil {
		return hsm.Result{}, fmt.Errorf("software: RSA encrypt: %w", hsm.ErrInvalidData)
	}
	return hsm.Result{Ciphertext: ct}, nil
}

func (k *rsaKey) Decrypt(alg hsm.Algorithm, ciphertext, iv, aad, tag []byte) ([]byte, error) {
	var pt []byte
	var err error
	if alg == hsm.RSA15 {
		pt, err = rsa.DecryptPKCS1v15(nil, k.priv, ciphertext) //nolint:staticcheck // Azure offers RSA1_5
	} else if h, ok := oaepHash(alg); ok {
		pt, err = rsa.DecryptOAEP(h, nil, k.priv, ciphertext, nil)
	} else {
		return nil, fmt.Errorf("software: RSA decrypt with %s: %w", alg, hsm.ErrUnsupported)
	}
	if err != nil {
		return nil, fmt.Errorf("software: RSA decrypt: %w", hsm.ErrDecrypt)
	}
	return pt, nil
}

// signHash maps a signature algorithm to its digest hash and whether it is
// PSS.
func signHash(alg hsm.Algorithm) (crypto.Hash, bool, bool) {
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

func (k *rsaKey) Sign(r io.Reader, alg hsm.Algorithm, digest []byte) ([]byte, error) {
	h, pss, ok := signHash(alg)
	if !ok {
		return nil, fmt.Errorf("software: RSA sign with %s: %w", alg, hsm.ErrUnsupported)
	}
	if len(digest) != h.Size() {
		return nil, fmt.Errorf("software: %s needs a %d-byte digest, got %d: %w", alg, h.Size(), len(digest), hsm.ErrInvalidData)
	}
	if pss {
		return rsa.SignPSS(r, k.priv, h, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	}
	return rsa.SignPKCS1v15(r, k.priv, h, digest)
}

func (k *rsaKey) Verify(alg hsm.Algorithm, digest, sig []byte) (bool, error) {
	h, pss, ok := signHash(alg)
	if !ok {
		return false, fmt.Errorf("software: RSA verify with %s: %w", alg, hsm.ErrUnsupported)
	}
	if len(digest) != h.Size() {
		return false, fmt.Errorf("software: %s needs a %d-byte digest, got %d: %w", alg, h.Size(), len(digest), hsm.ErrInvalidData)
	}
	if pss {
		return rsa.VerifyPSS(&k.priv.PublicKey, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil, nil
	}
	return rsa.VerifyPKCS1v15(&k.priv.PublicKey, h, digest, sig) == nil, nil
}
