package software

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"fmt"
	"hash"
	"io"

	"github.com/tresorkms/tresor/hsm"
)

// aesMode is how an oct key uses AES for an algorithm.
type aesMode uint8

const (
	modeKW     aesMode = iota + 1 // RFC 3394 key wrap
	modeKWP                       // RFC 5649 key wrap with padding
	modeGCM                       // AES-GCM, 12-byte IV, 16-byte tag
	modeCBC                       // AES-CBC without padding
	modeCBCPad                    // AES-CBC with PKCS #7 padding
)

// aesAlgs maps each AES algorithm to its mode and the key length in bits
// it names; zero means any AES key (the PKCS #11 mechanisms).
var aesAlgs = map[hsm.Algorithm]struct {
	mode aesMode
	bits int
}{
	hsm.A128KW:           {modeKW, 128},
	hsm.A192KW:           {modeKW, 192},
	hsm.A256KW:           {modeKW, 256},
	hsm.CKMAESKeyWrap:    {modeKW, 0},
	hsm.CKMAESKeyWrapPad: {modeKWP, 0},
	hsm.A128GCM:          {modeGCM, 128},
	hsm.A192GCM:          {modeGCM, 192},
	hsm.A256GCM:          {modeGCM, 256},
	hsm.A128CBC:          {modeCBC, 128},
	hsm.A192CBC:          {modeCBC, 192},
	hsm.A256CBC:          {modeCBC, 256},
	hsm.A128CBCPAD:       {modeCBCPad, 128},
	hsm.A192CBCPAD:       {modeCBCPad, 192},
	hsm.A256CBCPAD:       {modeCBCPad, 256},
}

// gcmIVSize and gcmTagSize are AES-GCM's IV and tag lengths as Azure uses
// them.
const (
	gcmIVSize  = 12
	gcmTagSize = 16
)

// octKey is an AES key; it also makes HMAC signatures (HS256/384/512). It
// is immutable once made, so it is safe for concurrent use.
//
// It deliberately has no String method and is not comparable; never log or
// format it.
type octKey struct {
	_     [0]func() // not comparable: == on key material is not constant-time
	k     []byte    // the key, for HMAC and encoding
	block cipher.Block
	gcm   cipher.AEAD
}

var _ hsm.Key = (*octKey)(nil)

// newOctKey copies k into a new key; k must be 16, 24 or 32 bytes, else it
// fails with hsm.ErrInvalidKey.
func newOctKey(k []byte) (*octKey, error) {
	if len(k) != 16 && len(k) != 24 && len(k) != 32 {
		return nil, invalid(fmt.Sprintf("AES key of %d bytes (want 16, 24 or 32)", len(k)))
	}
	k = append([]byte(nil), k...)
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, invalid("AES key")
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("AES-GCM: %w", err)
	}
	return &octKey{k: k, block: block, gcm: gcm}, nil
}

// generateOct makes a random AES key of bits bits.
func generateOct(bits int) (*octKey, error) {
	if bits != 128 && bits != 192 && bits != 256 {
		return nil, fmt.Errorf("AES key of %d bits: %w", bits, hsm.ErrUnsupported)
	}
	b := make([]byte, bits/8)
	defer clear(b)
	rand.Read(b) // never fails since Go 1.24
	return newOctKey(b)
}

func (k *octKey) Type() hsm.KeyType     { return hsm.Oct }
func (k *octKey) Size() int             { return 8 * len(k.k) }
func (k *octKey) Public() hsm.PublicKey { return hsm.PublicKey{Type: hsm.Oct} }

// mode looks alg up, failing with hsm.ErrUnsupported for an algorithm that
// is not AES and hsm.ErrInvalidData for one that names another key length
// (A256GCM needs a 256-bit key).
func (k *octKey) mode(op string, alg hsm.Algorithm) (aesMode, error) {
	a, ok := aesAlgs[alg]
	if !ok {
		return 0, fmt.Errorf("software: AES %s with %s: %w", op, alg, hsm.ErrUnsupported)
	}
	if a.bits != 0 && a.bits != k.Size() {
		return 0, fmt.Errorf("software: %s needs a %d-bit key, this one has %d bits: %w", alg, a.bits, k.Size(), hsm.ErrInvalidData)
	}
	return a.mode, nil
}

// Encrypt encrypts (or wraps) plaintext with alg:
//
//   - A*KW and CKM_AES_KEY_WRAP: RFC 3394; plaintext of at least 16 bytes,
//     in 8-byte blocks.
//   - CKM_AES_KEY_WRAP_PAD: RFC 5649; plaintext of at least one byte.
//   - A*GCM: iv must be empty; a random 12-byte IV is made and returned
//     with the 16-byte tag; aad is authenticated.
//   - A*CBC: a 16-byte iv; plaintext a non-empty multiple of 16 bytes.
//   - A*CBCPAD: a 16-byte iv; PKCS #7 padding.
//
// aad is used only by GCM. Invalid lengths fail with hsm.ErrInvalidData.
func (k *octKey) Encrypt(alg hsm.Algorithm, plaintext, iv, aad []byte) (hsm.Result, error) {
	mode, err := k.mode("encrypt", alg)
	if err != nil {
		return hsm.Result{}, err
	}
	switch mode {
	case modeKW:
		ct, err := wrap(k.block, plaintext)
		return hsm.Result{Ciphertext: ct}, err
	case modeKWP:
		ct, err := wrapPad(k.block, plaintext)
		return hsm.Result{Ciphertext: ct}, err
	case modeGCM:
		if len(iv) != 0 {
			return hsm.Result{}, fmt.Errorf("software: %s encrypt chooses its own IV: %w", alg, hsm.ErrInvalidData)
		}
		nonce := make([]byte, gcmIVSize)
		rand.Read(nonce) // never fails since Go 1.24
		sealed := k.gcm.Seal(nil, nonce, plaintext, aad)
		n := len(sealed) - gcmTagSize
		return hsm.Result{Ciphertext: sealed[:n:n], IV: nonce, Tag: sealed[n:]}, nil
	}
	// CBC, with or without padding.
	if len(iv) != aes.BlockSize {
		return hsm.Result{}, fmt.Errorf("software: %s encrypt needs a 16-byte IV, got %d: %w", alg, len(iv), hsm.ErrInvalidData)
	}
	in := plaintext
	if mode == modeCBCPad {
		pad := aes.BlockSize - len(plaintext)%aes.BlockSize
		in = make([]byte, len(plaintext)+pad)
		copy(in, plaintext)
		for i := len(plaintext); i < len(in); i++ {
			in[i] = byte(pad)
		}
		defer clear(in)
	}
	if len(in) == 0 || len(in)%aes.BlockSize != 0 {
		return hsm.Result{}, fmt.Errorf("software: %s encrypt needs a non-empty multiple of 16 bytes, got %d: %w", alg, len(plaintext), hsm.ErrInvalidData)
	}
	out := make([]byte, len(in))
	cipher.NewCBCEncrypter(k.block, iv).CryptBlocks(out, in)
	return hsm.Result{Ciphertext: out, IV: append([]byte(nil), iv...)}, nil
}

// Decrypt reverses Encrypt. GCM needs the 12-byte iv, the aad and the
// 16-byte tag; CBC the 16-byte iv (otherwise hsm.ErrInvalidData). A failed
// integrity check, tag, padding or ciphertext length is hsm.ErrDecrypt.
// CBC without padding has no integrity: a wrong key or a tampered
// ciphertext decrypts to garbage.
func (k *octKey) Decrypt(alg hsm.Algorithm, ciphertext, iv, aad, tag []byte) ([]byte, error) {
	mode, err := k.mode("decrypt", alg)
	if err != nil {
		return nil, err
	}
	switch mode {
	case modeKW:
		return unwrap(k.block, ciphertext)
	case modeKWP:
		return unwrapPad(k.block, ciphertext)
	case modeGCM:
		if len(iv) != gcmIVSize || len(tag) != gcmTagSize {
			return nil, fmt.Errorf("software: %s decrypt needs a 12-byte IV and a 16-byte tag, got %d and %d: %w", alg, len(iv), len(tag), hsm.ErrInvalidData)
		}
		sealed := make([]byte, 0, len(ciphertext)+len(tag))
		sealed = append(append(sealed, ciphertext...), tag...)
		pt, err := k.gcm.Open(sealed[:0], iv, sealed, aad)
		if err != nil {
			return nil, fmt.Errorf("software: %s decrypt: %w", alg, hsm.ErrDecrypt)
		}
		return pt[:len(pt):len(pt)], nil
	}
	// CBC, with or without padding.
	if len(iv) != aes.BlockSize {
		return nil, fmt.Errorf("software: %s decrypt needs a 16-byte IV, got %d: %w", alg, len(iv), hsm.ErrInvalidData)
	}
	if len(ciphertext) == 0 || len(ciphertext)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("software: %s decrypt of %d bytes: %w", alg, len(ciphertext), hsm.ErrDecrypt)
	}
	out := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(k.block, iv).CryptBlocks(out, ciphertext)
	if mode == modeCBC {
		return out, nil
	}
	pt, err := unpad(out)
	if err != nil {
		clear(out)
		return nil, fmt.Errorf("software: %s decrypt: %w", alg, err)
	}
	return pt, nil
}

// unpad removes PKCS #7 padding from a non-empty multiple of the block size,
// checking every padding byte without branching on their values.
func unpad(b []byte) ([]byte, error) {
	pad := int(b[len(b)-1])
	good := subtle.ConstantTimeLessOrEq(1, pad) & subtle.ConstantTimeLessOrEq(pad, aes.BlockSize)
	for i := 1; i <= aes.BlockSize; i++ {
		// Check the last 16 bytes, counting those inside the padding.
		inPad := subtle.ConstantTimeLessOrEq(i, pad)
		eq := subtle.ConstantTimeByteEq(b[len(b)-i], byte(pad))
		good &= eq | (inPad ^ 1)
	}
	if good != 1 {
		return nil, fmt.Errorf("padding: %w", hsm.ErrDecrypt)
	}
	n := len(b) - pad
	return b[:n:n], nil
}

func hmacHash(alg hsm.Algorithm) (func() hash.Hash, bool) {
	switch alg {
	case hsm.HS256:
		return sha256.New, true
	case hsm.HS384:
		return sha512.New384, true
	case hsm.HS512:
		return sha512.New, true
	}
	return nil, false
}

// Sign computes HS256, HS384 or HS512, an HMAC of value (which need not be
// a digest) under the key; the reader is not used.
func (k *octKey) Sign(_ io.Reader, alg hsm.Algorithm, value []byte) ([]byte, error) {
	h, ok := hmacHash(alg)
	if !ok {
		return nil, fmt.Errorf("software: oct keys sign with HS256, HS384 or HS512, not %s: %w", alg, hsm.ErrUnsupported)
	}
	m := hmac.New(h, k.k)
	m.Write(value)
	return m.Sum(nil), nil
}

// Verify reports, in constant time, whether sig is the HMAC of value.
func (k *octKey) Verify(alg hsm.Algorithm, value, sig []byte) (bool, error) {
	want, err := k.Sign(nil, alg, value)
	if err != nil {
		return false, err
	}
	return hmac.Equal(want, sig), nil
}
