package seal

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
)

func TestSealOpen(t *testing.T) {
	root := bytes.Repeat([]byte{7}, RootKeySize)
	s, err := New(root, "keys")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := New(root, "backup")
	otherRoot, _ := New(bytes.Repeat([]byte{8}, RootKeySize), "keys")
	msg := []byte("key material")
	sealed := s.Seal(msg, []byte("vault/k/1"))
	if bytes.Contains(sealed, msg) {
		t.Fatal("sealed value contains the plaintext")
	}
	got, err := s.Open(sealed, []byte("vault/k/1"))
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("Open = %q, %v; want %q", got, err, msg)
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	tests := []struct {
		name    string
		s       *Sealer
		sealed  []byte
		binding string
	}{
		{"other binding", s, sealed, "vault/k/2"},
		{"other purpose", other, sealed, "vault/k/1"},
		{"other root", otherRoot, sealed, "vault/k/1"},
		{"tampered", s, tampered, "vault/k/1"},
		{"truncated", s, sealed[:10], "vault/k/1"},
		{"empty", s, nil, "vault/k/1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.s.Open(tt.sealed, []byte(tt.binding)); !errors.Is(err, ErrOpen) {
				t.Errorf("Open = %v, want ErrOpen", err)
			}
		})
	}
}

func TestLoadOrCreateRoot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "root.key")
	a, err := LoadOrCreateRoot(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateRoot(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) || len(a) != RootKeySize {
		t.Fatalf("root key changed across loads or has wrong size (%d)", len(a))
	}
}
