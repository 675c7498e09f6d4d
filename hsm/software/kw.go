package software

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"fmt"

	"github.com/tresorkms/tresor/hsm"
)

// AES key wrap, RFC 3394, and key wrap with padding, RFC 5649. The standard
// library has neither. Every output is freshly allocated; unwrap failures
// are hsm.ErrDecrypt and say nothing about which check failed.

var defaultIV = []byte{0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6}

// wrapWith is the W function of RFC 3394 with initial value a.
func wrapWith(block cipher.Block, a, plaintext []byte) []byte {
	n := len(plaintext) / 8
	out := make([]byte, 8+len(plaintext))
	copy(out, a)
	copy(out[8:], plaintext)
	var b [16]byte
	for j := 0; j < 6; j++ {
		for i := 1; i <= n; i++ {
			copy(b[:8], out[:8])
			copy(b[8:], out[8*i:8*i+8])
			block.Encrypt(b[:], b[:])
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(out[:8], binary.BigEndian.Uint64(b[:8])^t)
			copy(out[8*i:], b[8:])
		}
	}
	return out
}

// unwrapWith is the W⁻¹ function: it returns the recovered initial value
// and the plaintext.
func unwrapWith(block cipher.Block, ciphertext []byte) ([]byte, []byte) {
	n := len(ciphertext)/8 - 1
	a := append([]byte(nil), ciphertext[:8]...)
	r := append([]byte(nil), ciphertext[8:]...)
	var b [16]byte
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(b[:8], binary.BigEndian.Uint64(a)^t)
			copy(b[8:], r[8*(i-1):8*i])
			block.Decrypt(b[:], b[:])
			copy(a, b[:8])
			copy(r[8*(i-1):], b[8:])
		}
	}
	return a, r
}

// wrap is RFC 3394 key wrap: the key must be at least 16 bytes, in 8-byte
// blocks.
func wrap(block cipher.Block, key []byte) ([]byte, error) {
	if len(key) < 16 || len(key)%8 != 0 {
		return nil, fmt.Errorf("software: key wrap needs a key of 16 or more bytes in 8-byte blocks, got %d: %w", len(key), hsm.ErrInvalidData)
	}
	return wrapWith(block, defaultIV, key), nil
}

func unwrap(block cipher.Block, wrapped []byte) ([]byte, error) {
	if len(wrapped) < 24 || len(wrapped)%8 != 0 {
		return nil, fmt.Errorf("software: key unwrap: %w", hsm.ErrDecrypt)
	}
	a, r := unwrapWith(block, wrapped)
	if subtle.ConstantTimeCompare(a, defaultIV) != 1 {
		clear(r)
		return nil, fmt.Errorf("software: key unwrap: integrity check failed: %w", hsm.ErrDecrypt)
	}
	return r, nil
}

// wrapPad is RFC 5649 key wrap with padding, for keys of any length.
func wrapPad(block cipher.Block, key []byte) ([]byte, error) {
	if len(key) == 0 || uint64(len(key)) > 1<<32-1 {
		return nil, fmt.Errorf("software: key wrap with padding: %w", hsm.ErrInvalidData)
	}
	aiv := make([]byte, 8)
	copy(aiv, []byte{0xA6, 0x59, 0x59, 0xA6})
	binary.BigEndian.PutUint32(aiv[4:], uint32(len(key)))
	padded := make([]byte, (len(key)+7)/8*8)
	copy(padded, key)
	if len(padded) == 8 {
		out := append(aiv, padded...)
		block.Encrypt(out, out)
		return out, nil
	}
	return wrapWith(block, aiv, padded), nil
}

func unwrapPad(block cipher.Block, wrapped []byte) ([]byte, error) {
	fail := fmt.Errorf("software: key unwrap with padding: %w", hsm.ErrDecrypt)
	if len(wrapped) < 16 || len(wrapped)%8 != 0 {
		return nil, fail
	}
	var a, r []byte
	if len(wrapped) == 16 {
		b := make([]byte, 16)
		block.Decrypt(b, wrapped)
		a, r = b[:8], b[8:]
	} else {
		a, r = unwrapWith(block, wrapped)
	}
	if subtle.ConstantTimeCompare(a[:4], []byte{0xA6, 0x59, 0x59, 0xA6}) != 1 {
		clear(r)
		return nil, fail
	}
	mli := int(binary.BigEndian.Uint32(a[4:]))
	if mli <= len(r)-8 || mli > len(r) || subtle.ConstantTimeCompare(r[mli:], make([]byte, len(r)-mli)) != 1 {
		clear(r)
		return nil, fail
	}
	return r[:mli:mli], nil
}
