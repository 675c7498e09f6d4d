// Package hsmtest is the conformance suite every hsm.Module passes: round
// trips for each key type and algorithm, wrong keys, tampered inputs,
// inputs left unmodified, bindings, import and transfer.
package hsmtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"testing"

	"github.com/tresorkms/tresor/hsm"
)

type spec struct {
	name  string
	spec  hsm.Spec
	crypt []hsm.Algorithm
	sign  []hsm.Algorithm
}

var specs = []spec{
	{"RSA2048", hsm.Spec{Type: hsm.RSA, Size: 2048}, []hsm.Algorithm{hsm.RSA15, hsm.RSAOAEP, hsm.RSAOAEP256},
		[]hsm.Algorithm{hsm.RS256, hsm.RS384, hsm.RS512, hsm.PS256, hsm.PS384, hsm.PS512}},
	{"RSA3072", hsm.Spec{Type: hsm.RSA, Size: 3072}, []hsm.Algorithm{hsm.RSAOAEP256}, []hsm.Algorithm{hsm.PS256}},
	{"P256", hsm.Spec{Type: hsm.EC, Curve: hsm.P256}, nil, []hsm.Algorithm{hsm.ES256}},
	{"P384", hsm.Spec{Type: hsm.EC, Curve: hsm.P384}, nil, []hsm.Algorithm{hsm.ES384}},
	{"P521", hsm.Spec{Type: hsm.EC, Curve: hsm.P521}, nil, []hsm.Algorithm{hsm.ES512}},
	{"P256K", hsm.Spec{Type: hsm.EC, Curve: hsm.P256K}, nil, []hsm.Algorithm{hsm.ES256K}},
	{"AES128", hsm.Spec{Type: hsm.Oct, Size: 128}, []hsm.Algorithm{hsm.A128KW, hsm.A128GCM, hsm.A128CBCPAD, hsm.CKMAESKeyWrap, hsm.CKMAESKeyWrapPad}, []hsm.Algorithm{hsm.HS256}},
	{"AES192", hsm.Spec{Type: hsm.Oct, Size: 192}, []hsm.Algorithm{hsm.A192KW, hsm.A192GCM, hsm.A192CBC}, nil},
	{"AES256", hsm.Spec{Type: hsm.Oct, Size: 256}, []hsm.Algorithm{hsm.A256KW, hsm.A256GCM, hsm.A256CBC, hsm.A256CBCPAD, hsm.CKMAESKeyWrapPad}, []hsm.Algorithm{hsm.HS384, hsm.HS512}},
}

func digestFor(alg hsm.Algorithm) []byte {
	switch alg {
	case hsm.RS384, hsm.PS384, hsm.ES384:
		d := sha512.Sum384([]byte("message"))
		return d[:]
	case hsm.RS512, hsm.PS512, hsm.ES512:
		d := sha512.Sum512([]byte("message"))
		return d[:]
	}
	d := sha256.Sum256([]byte("message"))
	return d[:]
}

func ivFor(alg hsm.Algorithm) []byte {
	a := string(alg)
	if len(a) > 3 && (a[len(a)-3:] == "CBC" || a[len(a)-6:] == "CBCPAD") {
		iv := make([]byte, 16)
		rand.Read(iv)
		return iv
	}
	return nil
}

// TestModule runs the conformance suite against m.
func TestModule(t *testing.T, m hsm.Module) {
	ctx := context.Background()
	for _, s := range specs {
		t.Run(s.name, func(t *testing.T) {
			bind, other := []byte("vault/k/"+s.name), []byte("vault/other")
			h, pub, err := m.Generate(ctx, s.spec, bind)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if pub.Type != s.spec.Type {
				t.Errorf("Generate public type = %s, want %s", pub.Type, s.spec.Type)
			}
			k, err := m.Key(ctx, h, bind)
			if err != nil {
				t.Fatalf("Key: %v", err)
			}
			h2, _, _ := m.Generate(ctx, s.spec, other)
			k2, _ := m.Key(ctx, h2, other)

			t.Run("Binding", func(t *testing.T) {
				if _, err := m.Key(ctx, h, other); !errors.Is(err, hsm.ErrBinding) {
					t.Errorf("Key(other binding) = %v, want ErrBinding", err)
				}
				bad := bytes.Clone(h)
				bad[len(bad)-1] ^= 1
				if _, err := m.Key(ctx, bad, bind); err == nil {
					t.Error("Key(tampered handle) succeeded")
				}
			})
			for _, alg := range s.crypt {
				t.Run("RoundTrip/"+string(alg), func(t *testing.T) { roundTrip(t, k, k2, alg) })
			}
			for _, alg := range s.sign {
				t.Run("Sign/"+string(alg), func(t *testing.T) { signVerify(t, k, k2, alg) })
			}
			t.Run("Transfer", func(t *testing.T) {
				sealed, err := m.Export(ctx, h, bind)
				if err != nil {
					t.Fatalf("Export: %v", err)
				}
				nh, npub, err := m.Adopt(ctx, sealed, []byte("vault2/k"))
				if err != nil {
					t.Fatalf("Adopt: %v", err)
				}
				if !bytes.Equal(npub.N, pub.N) || !bytes.Equal(npub.X, pub.X) {
					t.Error("Adopt changed the public key")
				}
				nk, err := m.Key(ctx, nh, []byte("vault2/k"))
				if err != nil {
					t.Fatalf("Key(adopted): %v", err)
				}
				if len(s.crypt) > 0 {
					roundTripAcross(t, k, nk, s.crypt[0])
				}
				if _, _, err := m.Adopt(ctx, hsm.Sealed(h), []byte("x")); err == nil {
					t.Error("Adopt(a handle, not an export) succeeded")
				}
			})
		})
	}
	t.Run("Unsupported", func(t *testing.T) {
		for _, sp := range []hsm.Spec{{Type: hsm.RSA, Size: 1024}, {Type: hsm.EC, Curve: "P-192"}, {Type: hsm.Oct, Size: 512}, {Type: "DSA"}} {
			if _, _, err := m.Generate(ctx, sp, nil); !errors.Is(err, hsm.ErrUnsupported) {
				t.Errorf("Generate(%+v) = %v, want ErrUnsupported", sp, err)
			}
		}
	})
	t.Run("Import", func(t *testing.T) {
		key := make([]byte, 32)
		rand.Read(key)
		h, _, err := m.Import(ctx, hsm.PrivateKey{Type: hsm.Oct, K: key}, []byte("imp"))
		if err != nil {
			t.Fatalf("Import(oct): %v", err)
		}
		if bytes.Contains(h, key) {
			t.Error("the handle contains the raw key")
		}
		for _, pk := range []hsm.PrivateKey{
			{Type: hsm.Oct, K: make([]byte, 7)},
			{Type: hsm.RSA, N: []byte{1}, E: []byte{1, 0, 1}, D: []byte{1}, P: []byte{1}, Q: []byte{1}},
			{Type: hsm.EC, Curve: hsm.P256, ECD: make([]byte, 32)},
			{Type: hsm.EC, Curve: hsm.P256K, ECD: []byte{1}},
		} {
			if _, _, err := m.Import(ctx, pk, nil); !errors.Is(err, hsm.ErrInvalidKey) {
				t.Errorf("Import(%s invalid) = %v, want ErrInvalidKey", pk.Type, err)
			}
		}
	})
}

func roundTrip(t *testing.T, k, wrong hsm.Key, alg hsm.Algorithm) {
	msg := make([]byte, 32)
	rand.Read(msg)
	keep := bytes.Clone(msg)
	iv, aad := ivFor(alg), []byte("aad")
	res, err := k.Encrypt(alg, msg, iv, aad)
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	if !bytes.Equal(msg, keep) {
		t.Error("Encrypt modified its input")
	}
	if bytes.Equal(res.Ciphertext, msg) {
		t.Error("ciphertext equals plaintext")
	}
	if res.IV != nil {
		iv = res.IV
	}
	ct := bytes.Clone(res.Ciphertext)
	pt, err := k.Decrypt(alg, res.Ciphertext, iv, aad, res.Tag)
	if err != nil || !bytes.Equal(pt, msg) {
		t.Fatalf("Decrypt = %x, %v; want %x", pt, err, msg)
	}
	if !bytes.Equal(ct, res.Ciphertext) {
		t.Error("Decrypt modified its input")
	}
	// Unauthenticated modes (CBC, RSA1_5) can decrypt garbage; the rest must
	// refuse a wrong key or a tampered ciphertext.
	if authenticated(alg) {
		if _, err := wrong.Decrypt(alg, res.Ciphertext, iv, aad, res.Tag); !errors.Is(err, hsm.ErrDecrypt) {
			t.Errorf("Decrypt(wrong key) = %v, want ErrDecrypt", err)
		}
		ct[0] ^= 1
		if _, err := k.Decrypt(alg, ct, iv, aad, res.Tag); !errors.Is(err, hsm.ErrDecrypt) {
			t.Errorf("Decrypt(tampered) = %v, want ErrDecrypt", err)
		}
	}
}

func roundTripAcross(t *testing.T, a, b hsm.Key, alg hsm.Algorithm) {
	msg := []byte("0123456789abcdef0123456789abcdef")
	iv := ivFor(alg)
	res, err := a.Encrypt(alg, msg, iv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.IV != nil {
		iv = res.IV
	}
	pt, err := b.Decrypt(alg, res.Ciphertext, iv, nil, res.Tag)
	if err != nil || !bytes.Equal(pt, msg) {
		t.Errorf("adopted key does not decrypt the original's ciphertext: %v", err)
	}
}

func authenticated(alg hsm.Algorithm) bool {
	switch alg {
	case hsm.A128CBC, hsm.A192CBC, hsm.A256CBC, hsm.RSA15:
		return false
	}
	a := string(alg)
	return len(a) < 6 || a[len(a)-6:] != "CBCPAD"
}

func signVerify(t *testing.T, k, wrong hsm.Key, alg hsm.Algorithm) {
	d := digestFor(alg)
	keep := bytes.Clone(d)
	sig, err := k.Sign(rand.Reader, alg, d)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if !bytes.Equal(d, keep) {
		t.Error("Sign modified its input")
	}
	if ok, err := k.Verify(alg, d, sig); err != nil || !ok {
		t.Fatalf("Verify = %v, %v; want true", ok, err)
	}
	if ok, _ := wrong.Verify(alg, d, sig); ok {
		t.Error("Verify with another key = true")
	}
	sig[len(sig)/2] ^= 1
	if ok, _ := k.Verify(alg, d, sig); ok {
		t.Error("Verify(tampered) = true")
	}
	if ok, _ := k.Verify(alg, d, sig[:3]); ok {
		t.Error("Verify(truncated) = true")
	}
}
