package software

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/hex"
	"testing"

	"github.com/tresorkms/tresor/hsm"
	"github.com/tresorkms/tresor/hsm/hsmtest"
	"github.com/tresorkms/tresor/seal"
)

func newModule(tb testing.TB) *Module {
	tb.Helper()
	s, err := seal.New(bytes.Repeat([]byte{9}, seal.RootKeySize), "keys")
	if err != nil {
		tb.Fatal(err)
	}
	return New(s)
}

func TestConformance(t *testing.T) { hsmtest.TestModule(t, newModule(t)) }

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// TestKeyWrapVectors checks RFC 3394 section 4 and RFC 5649 section 6.
func TestKeyWrapVectors(t *testing.T) {
	tests := []struct {
		name, kek, key, wrapped string
		pad                     bool
	}{
		{"3394 4.1", "000102030405060708090A0B0C0D0E0F", "00112233445566778899AABBCCDDEEFF", "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5", false},
		{"3394 4.2", "000102030405060708090A0B0C0D0E0F1011121314151617", "00112233445566778899AABBCCDDEEFF", "96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D", false},
		{"3394 4.3", "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", "00112233445566778899AABBCCDDEEFF", "64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7", false},
		{"3394 4.4", "000102030405060708090A0B0C0D0E0F1011121314151617", "00112233445566778899AABBCCDDEEFF0001020304050607", "031D33264E15D33268F24EC260743EDCE1C6C7DDEE725A936BA814915C6762D2", false},
		{"3394 4.5", "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", "00112233445566778899AABBCCDDEEFF0001020304050607", "A8F9BC1612C68B3FF6E6F4FBE30E71E4769C8B80A32CB8958CD5D17D6B254DA1", false},
		{"3394 4.6", "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F", "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21", false},
		{"5649 20 bytes", "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", "c37b7e6492584340bed12207808941155068f738", "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a", true},
		{"5649 7 bytes", "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", "466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			block, err := aes.NewCipher(unhex(tt.kek))
			if err != nil {
				t.Fatal(err)
			}
			w, u := wrap, unwrap
			if tt.pad {
				w, u = wrapPad, unwrapPad
			}
			got, err := w(block, unhex(tt.key))
			if err != nil || !bytes.EqualFold([]byte(hex.EncodeToString(got)), []byte(tt.wrapped)) {
				t.Fatalf("wrap = %x, %v; want %s", got, err, tt.wrapped)
			}
			back, err := u(block, got)
			if err != nil || !bytes.Equal(back, unhex(tt.key)) {
				t.Fatalf("unwrap = %x, %v; want %s", back, err, tt.key)
			}
		})
	}
}

// TestOAEPInterop checks that RSA-OAEP is SHA-1 for hash and MGF1, so that
// ciphertexts made by clients (OpenSSL's RSA_PKCS1_OAEP_PADDING) decrypt.
func TestOAEPInterop(t *testing.T) {
	m := newModule(t)
	h, pub, err := m.Generate(context.Background(), hsm.Spec{Type: hsm.RSA, Size: 2048}, []byte("b"))
	if err != nil {
		t.Fatal(err)
	}
	k, _ := m.Key(context.Background(), h, []byte("b"))
	rk := k.(*rsaKey)
	ct, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, &rk.priv.PublicKey, []byte("cek"), nil)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := k.Decrypt(hsm.RSAOAEP, ct, nil, nil, nil)
	if err != nil || string(pt) != "cek" {
		t.Fatalf("Decrypt(RSA-OAEP of a SHA-1 client) = %q, %v", pt, err)
	}
	if bytes.Contains(h, rk.priv.D.Bytes()) || len(pub.N) != 256 {
		t.Fatal("handle contains D, or the public modulus is not 2048 bits")
	}
}

// FuzzDecrypt feeds arbitrary ciphertexts to every key type: nothing may
// panic, and authenticated modes must fail cleanly.
func FuzzDecrypt(f *testing.F) {
	m := newModule(f)
	ctx := context.Background()
	var keys []hsm.Key
	for _, s := range []hsm.Spec{{Type: hsm.RSA, Size: 2048}, {Type: hsm.Oct, Size: 256}, {Type: hsm.EC, Curve: hsm.P256}} {
		h, _, err := m.Generate(ctx, s, []byte("f"))
		if err != nil {
			f.Fatal(err)
		}
		k, _ := m.Key(ctx, h, []byte("f"))
		keys = append(keys, k)
	}
	f.Add([]byte("0123456789abcdef0123456789abcdef01234567"), []byte("0123456789abcdef"))
	f.Fuzz(func(t *testing.T, ct, iv []byte) {
		for _, k := range keys {
			for _, alg := range []hsm.Algorithm{hsm.RSAOAEP, hsm.RSA15, hsm.RSAOAEP256, hsm.A256KW, hsm.A256GCM, hsm.A256CBCPAD, hsm.CKMAESKeyWrapPad, hsm.ES256} {
				k.Decrypt(alg, ct, iv, nil, iv)
				k.Verify(alg, ct, iv)
			}
		}
	})
}

func BenchmarkKey(b *testing.B) {
	m := newModule(b)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		spec hsm.Spec
		alg  hsm.Algorithm
	}{
		{"RSA2048", hsm.Spec{Type: hsm.RSA, Size: 2048}, hsm.RSAOAEP256},
		{"AES256", hsm.Spec{Type: hsm.Oct, Size: 256}, hsm.A256KW},
	} {
		h, _, err := m.Generate(ctx, tc.spec, []byte("bench"))
		if err != nil {
			b.Fatal(err)
		}
		k, _ := m.Key(ctx, h, []byte("bench"))
		cek := make([]byte, 32)
		w, _ := k.Encrypt(tc.alg, cek, nil, nil)
		b.Run(tc.name+"/wrap", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := k.Encrypt(tc.alg, cek, nil, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
		b.Run(tc.name+"/unwrap", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := k.Decrypt(tc.alg, w.Ciphertext, nil, nil, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
