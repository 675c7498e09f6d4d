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
	"strings"

	"github.com/tresorkms/tresor/hsm"
)

// octKey is an AES key; it also serves HMAC signatures (HS256/384/512).
type octKey struct {
	_     [0]func() // not comparable
	k     []byte
	block cipher.Block
	gcm   cipher.AEAD
}

func newOctKey(k []byte) (*octKey, error) {
	if len(k) != 16 && len(k) != 24 && len(k) != 32 {
		return nil, fmt.Errorf("software: AES key of %d bytes: %w", len(k), hsm.ErrInvalidKey)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("software: %w", hsm.ErrInvalidKey)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &octKey{k: append([]byte(nil), k...), block: block, gcm: gcm}, nil
}

func (k *octKey) Type() hsm.KeyType     { return hsm.Oct }
func (k *octKey) Size() int             { return 8 * len(k.k) }
func (k *octKey) Public() hsm.PublicKey { return hsm.PublicKey{Type: hsm.Oct} }

// checkSize rejects an algorithm whose number names another key length:
// A256GCM needs a 256-bit key. CKM_AES_KEY_WRAP* take any AES key.
func (k *octKey) checkSize(alg hsm.Algorithm) error {
	a := string(alg)
	if strings.HasPrefix(a, "CKM_") {
		return nil
	}
	if len(a) < 4 || a[0] != 'A' {
		return fmt.Errorf("software: AES with %s: %w", alg, hsm.ErrUnsupported)
	}
	if want := a[1:4]; want != fmt.Sprint(k.Size()) {
		return fmt.Errorf("software: %s needs a %s-bit key, this one has %d bits: %w", alg, want, k.Size(), hsm.ErrInvalidData)
	}
	return nil
}

func mode(alg hsm.Algorithm) string {
	a := string(alg)
	switch {
	case a == string(hsm.CKMAESKeyWrap) || strings.HasSuffix(a, "KW"):
		return "kw"
	case a == string(hsm.CKMAESKeyWrapPad):
		return "kwp"
	case strings.HasSuffix(a, "GCM"):
		return "gcm"
	case strings.HasSuffix(a, "CBCPAD"):
		return "cbcpad"
	case strings.HasSuffix(a, "CBC"):
		return "cbc"
	}
	return ""
}

func (k *octKey) Encrypt(alg hsm.Algorithm, plaintext, iv, aad []byte) (hsm.Result, error) {
	if err := k.checkSize(alg); err != nil {
		return hsm.Result{}, err
	}
	switch mode(alg) {
	case "kw":
		ct, err := wrap(k.block, plaintext)
		return hsm.Result{Ciphertext: ct}, err
	case "kwp":
		ct, err := wrapPad(k.block, plaintext)
		return hsm.Result{Ciphertext: ct}, err
	case "gcm":
		if iv != nil {
			return hsm.Result{}, fmt.Errorf("software: %s chooses its own IV: %w", alg, hsm.ErrInvalidData)
		}
		nonce := make([]byte, k.gcm.NonceSize())
		rand.Read(nonce)
		sealed := k.gcm.Seal(nil, nonce, plaintext, aad)
		n := len(sealed) - k.gcm.Overhead()
		return hsm.Result{Ciphertext: sealed[:n:n], IV: nonce, Tag: sealed[n:]}, nil
	case "cbc", "cbcpad":
		if len(iv) != aes.BlockSize {
			return hsm.Result{}, fmt.Errorf("software: %s needs a 16-byte IV: %w", alg, hsm.ErrInvalidData)
		}
		in := plaintext
		if mode(alg) == "cbcpad" {
			pad := aes.BlockSize - len(in)%aes.BlockSize
			in = append(append([]byte(nil), in...), make([]byte, pad)...)
			for i := len(in) - pad; i < len(in); i++ {
				in[i] = byte(pad)
			}
		}
		if len(in) == 0 || len(in)%aes.BlockSize != 0 {
			return hsm.Result{}, fmt.Errorf("software: %s input must be a non-empty multiple of 16 bytes: %w", alg, hsm.ErrInvalidData)
		}
		out := make([]byte, len(in))
		cipher.NewCBCEncrypter(k.block, iv).CryptBlocks(out, in)
		return hsm.Result{Ciphertext: out, IV: append([]byte(nil), iv...)}, nil
	}
	return hsm.Result{}, fmt.Errorf("software: AES with %s: %w", alg, hsm.ErrUnsupported)
}

func (k *octKey) Decrypt(alg hsm.Algorithm, ciphertext, iv, aad, tag []byte) ([]byte, error) {
	if err := k.checkSize(alg); err != nil {
		return nil, err
	}
	switch mode(alg) {
	case "kw":
		return unwrap(k.block, ciphertext)
	case "kwp":
		return unwrapPad(k.block, ciphertext)
	case "gcm":
		if len(iv) != k.gcm.NonceSize() || len(tag) != k.gcm.Overhead() {
			return nil, fmt.Errorf("software: %s needs a 12-byte iv and a 16-byte tag: %w", alg, hsm.ErrInvalidData)
		}
		sealed := append(append(make([]byte, 0, len(ciphertext)+len(tag)), ciphertext...), tag...)
		pt, err := k.gcm.Open(nil, iv, sealed, aad)
		if err != nil {
			return nil, fmt.Errorf("software: %s: %w", alg, hsm.ErrDecrypt)
		}
		return pt, nil
	case "cbc", "cbcpad":
		if len(iv) != aes.BlockSize {
			return nil, fmt.Errorf("software: %s needs a 16-byte IV: %w", alg, hsm.ErrInvalidData)
		}
		if len(ciphertext) == 0 || len(ciphertext)%aes.BlockSize != 0 {
			return nil, fmt.Errorf("software: %s: %w", alg, hsm.ErrDecrypt)
		}
		out := make([]byte, len(ciphertext))
		cipher.NewCBCDecrypter(k.block, iv).CryptBlocks(out, ciphertext)
		if mode(alg) == "cbc" {
			return out, nil
		}
		return unpad(out)
	}
	return nil, fmt.Errorf("software: AES with %s: %w", alg, hsm.ErrUnsupported)
}

// unpad removes PKCS#7 padding, checking every padding byte.
func unpad(b []byte) ([]byte, error) {
	pad := int(b[len(b)-1])
	if pad == 0 || pad > aes.BlockSize {
		return nil, fmt.Errorf("software: CBC padding: %w", hsm.ErrDecrypt)
	}
	good := 1
	for _, c := range b[len(b)-pad:] {
		good &= subtle.ConstantTimeByteEq(c, byte(pad))
	}
	if good != 1 {
		return nil, fmt.Errorf("software: CBC padding: %w", hsm.ErrDecrypt)
	}
	return b[: len(b)-pad : len(b)-pad], nil
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

// Sign computes an HMAC of the given value.
func (k *octKey) Sign(_ io.Reader, alg hsm.Algorithm, value []byte) ([]byte, error) {
	h, ok := hmacHash(alg)
	if !ok {
		return nil, fmt.Errorf("software: AES keys sign with HS256/384/512, not %s: %w", alg, hsm.ErrUnsupported)
	}
	m := hmac.New(h, k.k)
	m.Write(value)
	return m.Sum(nil), nil
}

func (k *octKey) Verify(alg hsm.Algorithm, value, sig []byte) (bool, error) {
	want, err := k.Sign(nil, alg, value)
	if err != nil {
		return false, err
	}
	return hmac.Equal(want, sig), nil
}
