// Package seal encrypts data at rest under tresor's root key. Every sealed
// value is bound to a caller-chosen identity (AES-256-GCM additional data), so
// a value moved to another row does not open there.
//
// Separate purposes use separate subkeys derived with HKDF-SHA256 from the
// root, so a value sealed for backups cannot be opened as key material.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
)

// RootKeySize is the length of a root key in bytes.
const RootKeySize = 32

// version prefixes every sealed value so the format can change later.
const version = 1

// ErrOpen is returned when a sealed value does not authenticate: it was
// tampered with, sealed under another root or purpose, or bound elsewhere.
var ErrOpen = errors.New("seal: message authentication failed")

// A Sealer seals and opens values for one purpose. It is safe for
// concurrent use.
type Sealer struct {
	aead cipher.AEAD
	root []byte // kept only to derive further purposes
}

// New returns a Sealer for purpose under root, which must be RootKeySize
// bytes.
func New(root []byte, purpose string) (*Sealer, error) {
	if len(root) != RootKeySize {
		return nil, fmt.Errorf("seal: root key is %d bytes, want %d", len(root), RootKeySize)
	}
	sub, err := hkdf.Key(sha256.New, root, nil, "tresor seal v1: "+purpose, 32)
	if err != nil {
		return nil, fmt.Errorf("seal: derive %s: %w", purpose, err)
	}
	block, err := aes.NewCipher(sub)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead, root: root}, nil
}

// Purpose returns a Sealer for another purpose under the same root.
func (s *Sealer) Purpose(purpose string) (*Sealer, error) { return New(s.root, purpose) }

// Seal encrypts plaintext bound to binding.
func (s *Sealer) Seal(plaintext, binding []byte) []byte {
	ns := s.aead.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(plaintext)+s.aead.Overhead())
	out[0] = version
	if _, err := rand.Read(out[1 : 1+ns]); err != nil {
		panic("seal: crypto/rand failed: " + err.Error()) // crypto/rand never fails on supported platforms
	}
	return s.aead.Seal(out, out[1:1+ns], plaintext, aad(binding))
}

// Open decrypts a value made by Seal with the same binding. It returns
// ErrOpen if the value does not authenticate.
func (s *Sealer) Open(sealed, binding []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < 1+ns+s.aead.Overhead() || sealed[0] != version {
		return nil, ErrOpen
	}
	pt, err := s.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], aad(binding))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// aad prefixes the binding with the format version so that a future format
// cannot be confused with this one.
func aad(binding []byte) []byte {
	return append([]byte{version}, binding...)
}

// LoadOrCreateRoot reads the root key from path, creating it with mode 0600
// if it does not exist. The file holds the raw key bytes.
func LoadOrCreateRoot(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != RootKeySize {
			return nil, fmt.Errorf("seal: root key %s is %d bytes, want %d", path, len(b), RootKeySize)
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("seal: read root key: %w", err)
	}
	b = make([]byte, RootKeySize)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("seal: create root key: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal: write root key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return b, f.Close()
}
