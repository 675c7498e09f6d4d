package software

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	k1ecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"github.com/google/go-cmp/cmp"

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

// newKey generates a key and opens it.
func newKey(tb testing.TB, m *Module, spec hsm.Spec) (hsm.Handle, hsm.Key) {
	tb.Helper()
	h, _, err := m.Generate(context.Background(), spec, []byte("test"))
	if err != nil {
		tb.Fatalf("Generate(%+v) = %v", spec, err)
	}
	k, err := m.Key(context.Background(), h, []byte("test"))
	if err != nil {
		tb.Fatalf("Key = %v", err)
	}
	return h, k
}

func TestModule(t *testing.T) { hsmtest.TestModule(t, newModule(t)) }

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// TestKeyWrapVectors checks wrap and unwrap against RFC 3394 section 4
// (all six vectors) and RFC 5649 section 6 (both).
func TestKeyWrapVectors(t *testing.T) {
	tests := []struct {
		name, kek, key, wrapped string
		pad                     bool
	}{
		{"RFC3394-4.1", "000102030405060708090A0B0C0D0E0F", "00112233445566778899AABBCCDDEEFF", "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5", false},
		{"RFC3394-4.2", "000102030405060708090A0B0C0D0E0F1011121314151617", "00112233445566778899AABBCCDDEEFF", "96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D", false},
		{"RFC3394-4.3", "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", "00112233445566778899AABBCCDDEEFF", "64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7", false},
		{"RFC3394-4.4", "000102030405060708090A0B0C0D0E0F1011121314151617", "00112233445566778899AABBCCDDEEFF0001020304050607", "031D33264E15D33268F24EC260743EDCE1C6C7DDEE725A936BA814915C6762D2", false},
		{"RFC3394-4.5", "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", "00112233445566778899AABBCCDDEEFF0001020304050607", "A8F9BC1612C68B3FF6E6F4FBE30E71E4769C8B80A32CB8958CD5D17D6B254DA1", false},
		{"RFC3394-4.6", "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F", "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21", false},
		{"RFC5649-20", "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", "c37b7e6492584340bed12207808941155068f738", "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a", true},
		{"RFC5649-7", "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", "466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f", true},
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
			if err != nil || !bytes.Equal(got, unhex(tt.wrapped)) {
				t.Fatalf("wrap(%s) = %X, %v; want %s", tt.key, got, err, tt.wrapped)
			}
			back, err := u(block, got)
			if err != nil || !bytes.Equal(back, unhex(tt.key)) {
				t.Fatalf("unwrap(%s) = %X, %v; want %s", tt.wrapped, back, err, tt.key)
			}
			for i := range got {
				bad := bytes.Clone(got)
				bad[i] ^= 1
				if _, err := u(block, bad); !errors.Is(err, hsm.ErrDecrypt) {
					t.Errorf("unwrap with byte %d flipped = %v, want ErrDecrypt", i, err)
				}
			}
		})
	}
}

// TestOAEPInterop checks that RSA-OAEP is SHA-1 for both the hash and
// MGF1, so that ciphertexts made by clients (OpenSSL's
// RSA_PKCS1_OAEP_PADDING, crypto/rsa with sha1) decrypt, and that any other
// hash combination does not.
func TestOAEPInterop(t *testing.T) {
	_, k := newKey(t, newModule(t), hsm.Spec{Type: hsm.RSA, Size: 2048})
	p := k.Public()
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(p.N), E: int(new(big.Int).SetBytes(p.E).Int64())}
	cek := []byte("a 32-byte content encryption key")
	tests := []struct {
		name      string
		hash, mgf crypto.Hash
		alg       hsm.Algorithm
		ok        bool
	}{
		{"SHA1-SHA1", crypto.SHA1, crypto.SHA1, hsm.RSAOAEP, true},
		{"SHA256-SHA256", crypto.SHA256, crypto.SHA256, hsm.RSAOAEP256, true},
		{"SHA1-SHA256", crypto.SHA1, crypto.SHA256, hsm.RSAOAEP, false},
		{"SHA256-SHA1", crypto.SHA256, crypto.SHA1, hsm.RSAOAEP256, false},
		{"SHA256-SHA256-as-RSA-OAEP", crypto.SHA256, crypto.SHA256, hsm.RSAOAEP, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct, err := rsa.EncryptOAEPWithOptions(rand.Reader, pub, cek, &rsa.OAEPOptions{Hash: tt.hash, MGFHash: tt.mgf})
			if err != nil {
				t.Fatal(err)
			}
			pt, err := k.Decrypt(tt.alg, ct, nil, nil, nil)
			if tt.ok && (err != nil || !bytes.Equal(pt, cek)) {
				t.Errorf("Decrypt(%s) = %q, %v; want %q", tt.alg, pt, err, cek)
			}
			if !tt.ok && !errors.Is(err, hsm.ErrDecrypt) {
				t.Errorf("Decrypt(%s) = %q, %v; want ErrDecrypt", tt.alg, pt, err)
			}
		})
	}
	// The plain crypto/rsa call a Go client makes.
	ct, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, cek, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := k.Decrypt(hsm.RSAOAEP, ct, nil, nil, nil); err != nil || !bytes.Equal(pt, cek) {
		t.Errorf("Decrypt(RSA-OAEP of rsa.EncryptOAEP(sha1)) = %q, %v", pt, err)
	}
}

// TestES256KDecred checks P-256K against decred's own signer and verifier.
func TestES256KDecred(t *testing.T) {
	m := newModule(t)
	_, k := newKey(t, m, hsm.Spec{Type: hsm.EC, Curve: hsm.P256K})
	p := k.Public()
	pub, err := secp256k1.ParsePubKey(append(append([]byte{4}, p.X...), p.Y...))
	if err != nil {
		t.Fatalf("ParsePubKey(Public()) = %v", err)
	}
	for i := range 8 {
		d := sha256.Sum256(fmt.Appendf(nil, "message %d", i))
		sig, err := k.Sign(nil, hsm.ES256K, d[:])
		if err != nil {
			t.Fatal(err)
		}
		var r, s secp256k1.ModNScalar
		if r.SetByteSlice(sig[:32]) || s.SetByteSlice(sig[32:]) {
			t.Fatalf("Sign(ES256K) = %x: r or s overflows", sig)
		}
		if !k1ecdsa.NewSignature(&r, &s).Verify(d[:], pub) {
			t.Errorf("decred Verify(Sign(ES256K)) = false")
		}
		if s.IsOverHalfOrder() {
			t.Errorf("Sign(ES256K) gave a high-S signature")
		}
		again, _ := k.Sign(nil, hsm.ES256K, d[:])
		if !bytes.Equal(sig, again) {
			t.Errorf("Sign(ES256K) is not deterministic (RFC 6979)")
		}
		// High S is still a valid ECDSA signature.
		s.Negate()
		high := make([]byte, 64)
		r.PutBytesUnchecked(high[:32])
		s.PutBytesUnchecked(high[32:])
		if ok, err := k.Verify(hsm.ES256K, d[:], high); !ok || err != nil {
			t.Errorf("Verify(ES256K, high-S) = %v, %v; want true", ok, err)
		}
	}

	priv, err := secp256k1.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := m.Import(context.Background(), hsm.PrivateKey{Type: hsm.EC, Curve: hsm.P256K, ECD: priv.Serialize()}, []byte("k1"))
	if err != nil {
		t.Fatal(err)
	}
	ik, err := m.Key(context.Background(), h, []byte("k1"))
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("decred"))
	ds := k1ecdsa.Sign(priv, d[:])
	r, s := ds.R(), ds.S()
	sig := make([]byte, 64)
	r.PutBytesUnchecked(sig[:32])
	s.PutBytesUnchecked(sig[32:])
	if ok, err := ik.Verify(hsm.ES256K, d[:], sig); !ok || err != nil {
		t.Errorf("Verify(ES256K, decred's signature) = %v, %v; want true", ok, err)
	}
	if mine, _ := ik.Sign(nil, hsm.ES256K, d[:]); !bytes.Equal(mine, sig) {
		t.Errorf("Sign(ES256K) = %x, decred's RFC 6979 signature is %x", mine, sig)
	}
}

// TestHandleHidesKey checks that neither a Handle nor an export contains the
// raw key material.
func TestHandleHidesKey(t *testing.T) {
	m := newModule(t)
	ctx := context.Background()
	rsaPriv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecPriv, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecD, _ := ecPriv.Bytes()
	k1Priv, _ := secp256k1.GeneratePrivateKey()
	oct := bytes.Repeat([]byte("0123456789abcdef"), 2)
	tests := []struct {
		name    string
		pk      hsm.PrivateKey
		secrets [][]byte
	}{
		{"oct", hsm.PrivateKey{Type: hsm.Oct, K: oct}, [][]byte{oct, oct[:8]}},
		{"RSA", hsm.PrivateKey{Type: hsm.RSA, N: rsaPriv.N.Bytes(), E: []byte{1, 0, 1}, D: rsaPriv.D.Bytes(), P: rsaPriv.Primes[0].Bytes(), Q: rsaPriv.Primes[1].Bytes()},
			[][]byte{rsaPriv.D.Bytes()[:16], rsaPriv.Primes[0].Bytes()[:16], rsaPriv.Primes[1].Bytes()[:16], rsaPriv.Precomputed.Dp.Bytes()[:16]}},
		{"EC", hsm.PrivateKey{Type: hsm.EC, Curve: hsm.P384, ECD: ecD}, [][]byte{ecD[:16]}},
		{"P-256K", hsm.PrivateKey{Type: hsm.EC, Curve: hsm.P256K, ECD: k1Priv.Serialize()}, [][]byte{k1Priv.Serialize()[:16]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _, err := m.Import(ctx, tt.pk, []byte("b"))
			if err != nil {
				t.Fatal(err)
			}
			sealed, err := m.Export(ctx, h, []byte("b"))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.secrets {
				if bytes.Contains(h, s) || bytes.Contains(sealed, s) {
					t.Errorf("the handle or export contains key material")
				}
			}
		})
	}
}

// TestKeyCache checks that Key reuses opened keys, stays bounded and never
// lets the cache bypass the binding.
func TestKeyCache(t *testing.T) {
	m := newModule(t)
	m.cache.max = 8
	ctx := context.Background()
	h, k := newKey(t, m, hsm.Spec{Type: hsm.RSA, Size: 2048})
	if again, err := m.Key(ctx, bytes.Clone(h), []byte("test")); err != nil || again != k {
		t.Errorf("Key(same handle) = %p, %v; want the cached %p", again, err, k)
	}
	if _, err := m.Key(ctx, h, []byte("tes")); !errors.Is(err, hsm.ErrBinding) {
		t.Errorf("Key(cached handle, other binding) = %v, want ErrBinding", err)
	}
	// A pair whose handle||0||binding is the same bytes as the cached one
	// is not the same entry.
	if j := bytes.IndexByte(h, 0); j >= 0 {
		b := append(append(bytes.Clone(h[j+1:]), 0), "test"...)
		if _, err := m.Key(ctx, h[:j], b); !errors.Is(err, hsm.ErrBinding) {
			t.Errorf("Key(handle cut at a zero byte, rest moved into the binding) = %v, want ErrBinding", err)
		}
	}
	for i := range 3 * m.cache.max {
		newKey(t, m, hsm.Spec{Type: hsm.Oct, Size: 128})
		if n := m.cache.len(); n > m.cache.max {
			t.Fatalf("after %d keys the cache holds %d, want at most %d", i+1, n, m.cache.max)
		}
	}
	if _, err := m.Key(ctx, h, []byte("test")); err != nil {
		t.Errorf("Key(evicted handle) = %v", err)
	}
}

// TestRSAPrecomputed checks that every path to an RSA key leaves CRT values
// precomputed, so private operations are fast.
func TestRSAPrecomputed(t *testing.T) {
	m := newModule(t)
	ctx := context.Background()
	h, k := newKey(t, m, hsm.Spec{Type: hsm.RSA, Size: 2048})
	priv := k.(*rsaKey).priv
	pk := hsm.PrivateKey{Type: hsm.RSA, N: priv.N.Bytes(), E: []byte{1, 0, 1}, D: priv.D.Bytes(), P: priv.Primes[0].Bytes(), Q: priv.Primes[1].Bytes()}
	ih, _, err := m.Import(ctx, pk, []byte("imported"))
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := m.Export(ctx, h, []byte("test"))
	ah, _, err := m.Adopt(ctx, sealed, []byte("adopted"))
	if err != nil {
		t.Fatal(err)
	}
	for name, open := range map[string]func() (hsm.Handle, []byte){
		"Generate": func() (hsm.Handle, []byte) { return h, []byte("test") },
		"Import":   func() (hsm.Handle, []byte) { return ih, []byte("imported") },
		"Adopt":    func() (hsm.Handle, []byte) { return ah, []byte("adopted") },
	} {
		h, b := open()
		k, err := m.open(h, b) // bypass the cache: this is the decoding path
		if err != nil {
			t.Fatalf("%s: open = %v", name, err)
		}
		pc := k.(*rsaKey).priv.Precomputed
		if pc.Dp == nil || pc.Dq == nil || pc.Qinv == nil {
			t.Errorf("%s: RSA key without precomputed CRT values", name)
		}
	}
	if pc := priv.Precomputed; pc.Dp == nil || pc.Dq == nil || pc.Qinv == nil {
		t.Error("generated RSA key without precomputed CRT values")
	}
}

// TestGenerateRSAExponent checks key generation with a public exponent
// crypto/rsa does not offer.
func TestGenerateRSAExponent(t *testing.T) {
	priv, err := generateRSA(context.Background(), 2048, 17)
	if err != nil {
		t.Fatal(err)
	}
	p, q := priv.Primes[0], priv.Primes[1]
	one := big.NewInt(1)
	lambda := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
	lambda.Quo(lambda, new(big.Int).GCD(nil, nil, new(big.Int).Sub(p, one), new(big.Int).Sub(q, one)))
	de := new(big.Int).Mul(priv.D, big.NewInt(17))
	switch {
	case priv.E != 17 || priv.N.BitLen() != 2048:
		t.Errorf("E, bits = %d, %d; want 17, 2048", priv.E, priv.N.BitLen())
	case de.Mod(de, lambda).Cmp(one) != 0:
		t.Error("d·e ≢ 1 mod λ(N)")
	case priv.D.BitLen() <= 1024:
		t.Error("d ≤ 2^(nlen/2)")
	case new(big.Int).Sub(p, q).CmpAbs(new(big.Int).Lsh(one, 1024-100)) <= 0:
		t.Error("|p-q| ≤ 2^(nlen/2-100)")
	case priv.Validate() != nil:
		t.Errorf("Validate() = %v", priv.Validate())
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m := newModule(t)
	for _, e := range []int{3, 65537} {
		if _, _, err := m.Generate(ctx, hsm.Spec{Type: hsm.RSA, Size: 2048, PublicExponent: e}, nil); !errors.Is(err, context.Canceled) {
			t.Errorf("Generate(e=%d) with a canceled context = %v, want context.Canceled", e, err)
		}
	}
}

// TestImportLenient checks the forms of valid material this module accepts
// beyond the strict JWK encoding.
func TestImportLenient(t *testing.T) {
	m := newModule(t)
	d := make([]byte, 32)
	rand.Read(d[2:]) // two leading zero bytes, as some encoders strip
	d[2] |= 1
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := priv.PublicKey.Bytes()
	x, y := b[1:33], b[33:]
	pk := hsm.PrivateKey{Type: hsm.EC, Curve: hsm.P256, ECD: d[2:], X: bytes.TrimLeft(x, "\x00"), Y: bytes.TrimLeft(y, "\x00")}
	_, pub, err := m.Import(context.Background(), pk, nil)
	if err != nil {
		t.Fatalf("Import(EC with a 30-byte d) = %v", err)
	}
	if !bytes.Equal(pub.X, x) || !bytes.Equal(pub.Y, y) {
		t.Errorf("Import(EC with a 30-byte d) public key = %x, %x; want %x, %x", pub.X, pub.Y, x, y)
	}
}

// TestErrors checks that errors carry the package and operation and still
// match their sentinel.
func TestErrors(t *testing.T) {
	m := newModule(t)
	ctx := context.Background()
	_, _, genErr := m.Generate(ctx, hsm.Spec{Type: hsm.Oct, Size: 512}, nil)
	_, _, impErr := m.Import(ctx, hsm.PrivateKey{Type: hsm.Oct, K: []byte("short")}, nil)
	_, keyErr := m.Key(ctx, []byte("not a handle"), nil)
	_, _, adoptErr := m.Adopt(ctx, []byte("not an export"), nil)
	_, k := newKey(t, m, hsm.Spec{Type: hsm.Oct, Size: 128})
	_, decErr := k.Decrypt(hsm.A128GCM, nil, make([]byte, 12), nil, make([]byte, 16))
	tests := []struct {
		err    error
		prefix string
		want   error
	}{
		{genErr, "software: generate: ", hsm.ErrUnsupported},
		{impErr, "software: import: ", hsm.ErrInvalidKey},
		{keyErr, "software: key: ", hsm.ErrBinding},
		{adoptErr, "software: adopt: ", hsm.ErrInvalidKey},
		{decErr, "software: A128GCM decrypt", hsm.ErrDecrypt},
	}
	for _, tt := range tests {
		if tt.err == nil || !strings.HasPrefix(tt.err.Error(), tt.prefix) || !errors.Is(tt.err, tt.want) {
			t.Errorf("error %v: want prefix %q and %v", tt.err, tt.prefix, tt.want)
		}
	}
}

// TestKeyTypesDoNotFormat enforces the obligation that key types have no
// String, GoString or Format method that could leak material into logs.
func TestKeyTypesDoNotFormat(t *testing.T) {
	for _, k := range []any{&rsaKey{}, &ecKey{}, &k1Key{}, &octKey{}, rsaKey{}, ecKey{}, k1Key{}, octKey{}} {
		typ := reflect.TypeOf(k)
		for _, name := range []string{"String", "GoString", "Format", "MarshalJSON", "MarshalText"} {
			if _, ok := typ.MethodByName(name); ok {
				t.Errorf("%v has a %s method", typ, name)
			}
		}
		if typ.Kind() == reflect.Struct && typ.Comparable() {
			t.Errorf("%v is comparable", typ)
		}
	}
}

// TestNilRand checks that Sign accepts a nil reader, meaning crypto/rand.
func TestNilRand(t *testing.T) {
	m := newModule(t)
	for _, tt := range []struct {
		spec hsm.Spec
		alg  hsm.Algorithm
	}{
		{hsm.Spec{Type: hsm.RSA, Size: 2048}, hsm.PS256},
		{hsm.Spec{Type: hsm.EC, Curve: hsm.P256}, hsm.ES256},
	} {
		_, k := newKey(t, m, tt.spec)
		d := sha256.Sum256([]byte("nil rand"))
		sig, err := k.Sign(nil, tt.alg, d[:])
		if err != nil {
			t.Fatalf("Sign(nil, %s) = %v", tt.alg, err)
		}
		if ok, err := k.Verify(tt.alg, d[:], sig); !ok || err != nil {
			t.Errorf("Verify(%s) = %v, %v", tt.alg, ok, err)
		}
	}
}

// TestDecodeRoundTrip checks that encode and decode are inverse for every
// key type.
func TestDecodeRoundTrip(t *testing.T) {
	m := newModule(t)
	for _, spec := range []hsm.Spec{
		{Type: hsm.RSA, Size: 2048}, {Type: hsm.EC, Curve: hsm.P256}, {Type: hsm.EC, Curve: hsm.P521},
		{Type: hsm.EC, Curve: hsm.P256K}, {Type: hsm.Oct, Size: 192},
	} {
		_, k := newKey(t, m, spec)
		b, err := encode(k)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decode(b)
		if err != nil {
			t.Fatalf("decode(encode(%+v)) = %v", spec, err)
		}
		if diff := cmp.Diff(k.Public(), back.Public()); diff != "" || back.Size() != k.Size() {
			t.Errorf("decode(encode(%+v)) differs:\n%s", spec, diff)
		}
	}
}

// TestPSSSaltLength checks that PS256/384/512 use a salt as long as the
// hash (RFC 7518 section 3.5) and verify only such signatures.
func TestPSSSaltLength(t *testing.T) {
	_, k := newKey(t, newModule(t), hsm.Spec{Type: hsm.RSA, Size: 2048})
	priv := k.(*rsaKey).priv
	d := sha256.Sum256([]byte("pss"))
	sig, err := k.Sign(nil, hsm.PS256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPSS(&priv.PublicKey, crypto.SHA256, d[:], sig, &rsa.PSSOptions{SaltLength: 32}); err != nil {
		t.Errorf("Sign(PS256) does not verify with a 32-byte salt: %v", err)
	}
	for _, salt := range []int{0, 20, rsa.PSSSaltLengthAuto} {
		other, err := rsa.SignPSS(rand.Reader, priv, crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: salt})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := k.Verify(hsm.PS256, d[:], other); ok || err != nil {
			t.Errorf("Verify(PS256, salt length %d) = %v, %v; want false", salt, ok, err)
		}
	}
}

// TestStoredFormat opens handles and exports made by the first version of
// this module (under newModule's root), so that a change to the encoding or
// the transfer binding cannot silently orphan stored keys and backups.
func TestStoredFormat(t *testing.T) {
	m := newModule(t)
	ctx := context.Background()
	d := bytes.Repeat([]byte{0x42}, 32)
	tests := []struct {
		name           string
		handle, export string
		material       hsm.PrivateKey
	}{
		{"oct", "013ce798f33afa8bd35f2f51b68e19aca6fddc3db500b1e321ba991a94e0b70564133be918c9984af9da7caeb0149fa8ec51d990b3377449d6fa474d1daa",
			"019d2f9799e9c5a37a278744fad3916595778169542ab107ebddac32da6b60feb3076b72060e52d459695242f2b4eb7f6481fb7cb3fd1bca401bc58a5b80",
			hsm.PrivateKey{Type: hsm.Oct, K: bytes.Repeat([]byte{0x11}, 32)}},
		{"P-256", "01de49323c8353d3e34af5e488f4e1b9bcc2149c477dbe040d304a336efe51eb1a0757cde5d8cca17d2782b4531abde8d563575e8c4086afd6bd4f029306d93ce522bec0",
			"01f052981d85c0ac0a60bdf0c1a6e1669a92c5f3684cf6fe5355a557d087abd7eb1a32cba06e7ab8185dff927aa28abf821d7714d186299ebbba75efb861256b5d25dc73",
			hsm.PrivateKey{Type: hsm.EC, Curve: hsm.P256, ECD: d}},
		{"P-256K", "01b633d97960866bad919b0e36e972d5a8388be46830f1d7e2b9580540f90a4411c85e012a682d496aa05dc36cb86a2076aadf02dd9198242c07e044cece",
			"01077e6221ec9c5b38793d9d75fc1024d97a2ded214b7e206030fa18f7cb847ad4db068596dc9dacf7032d38c1a4819025db1a66ac0eacc3b1ffd339e6a4",
			hsm.PrivateKey{Type: hsm.EC, Curve: hsm.P256K, ECD: d}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, want, err := m.Import(ctx, tt.material, nil)
			if err != nil {
				t.Fatal(err)
			}
			k, err := m.Key(ctx, unhex(tt.handle), []byte("golden/"+tt.name))
			if err != nil {
				t.Fatalf("Key(stored handle) = %v", err)
			}
			if diff := cmp.Diff(want, k.Public()); diff != "" {
				t.Errorf("stored handle opens to another key (-want +got):\n%s", diff)
			}
			_, pub, err := m.Adopt(ctx, unhex(tt.export), []byte("restored"))
			if err != nil {
				t.Fatalf("Adopt(stored export) = %v", err)
			}
			if diff := cmp.Diff(want, pub); diff != "" {
				t.Errorf("stored export adopts as another key (-want +got):\n%s", diff)
			}
		})
	}
}
