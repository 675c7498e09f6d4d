package hsmtest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	k1ecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tresorkms/tresor/hsm"
)

// importKey imports pk, checks the public key against want and opens it.
func importKey(t *testing.T, m hsm.Module, pk hsm.PrivateKey, want hsm.PublicKey) hsm.Key {
	t.Helper()
	bind := []byte("hsmtest/import")
	h, pub, err := m.Import(context.Background(), pk, bind)
	if err != nil {
		t.Fatalf("Import(%s %s) = %v", pk.Type, pk.Curve, err)
	}
	if diff := cmp.Diff(want, pub, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Import(%s %s) public key differs (-want +got):\n%s", pk.Type, pk.Curve, diff)
	}
	k, err := m.Key(context.Background(), h, bind)
	if err != nil {
		t.Fatalf("Key(Import) = %v", err)
	}
	return k
}

func rsaMaterial(priv *rsa.PrivateKey, crt bool) hsm.PrivateKey {
	pk := hsm.PrivateKey{
		Type: hsm.RSA, N: priv.N.Bytes(), E: big.NewInt(int64(priv.E)).Bytes(),
		D: priv.D.Bytes(), P: priv.Primes[0].Bytes(), Q: priv.Primes[1].Bytes(),
	}
	if crt {
		pk.DP, pk.DQ, pk.QI = priv.Precomputed.Dp.Bytes(), priv.Precomputed.Dq.Bytes(), priv.Precomputed.Qinv.Bytes()
	}
	return pk
}

func rsaPublic(priv *rsa.PrivateKey) hsm.PublicKey {
	return hsm.PublicKey{Type: hsm.RSA, N: priv.N.Bytes(), E: big.NewInt(int64(priv.E)).Bytes()}
}

var stdCurves = []struct {
	curve hsm.Curve
	c     elliptic.Curve
	alg   hsm.Algorithm
}{
	{hsm.P256, elliptic.P256(), hsm.ES256},
	{hsm.P384, elliptic.P384(), hsm.ES384},
	{hsm.P521, elliptic.P521(), hsm.ES512},
}

func ecMaterial(priv *ecdsa.PrivateKey, curve hsm.Curve) (hsm.PrivateKey, hsm.PublicKey) {
	d, _ := priv.Bytes()
	b, _ := priv.PublicKey.Bytes()
	n := (len(b) - 1) / 2
	pub := hsm.PublicKey{Type: hsm.EC, Curve: curve, X: b[1 : 1+n], Y: b[1+n:]}
	return hsm.PrivateKey{Type: hsm.EC, Curve: curve, ECD: d, X: bytes.Clone(pub.X), Y: bytes.Clone(pub.Y)}, pub
}

func k1Material(priv *secp256k1.PrivateKey) (hsm.PrivateKey, hsm.PublicKey) {
	b := priv.PubKey().SerializeUncompressed()
	pub := hsm.PublicKey{Type: hsm.EC, Curve: hsm.P256K, X: b[1:33], Y: b[33:]}
	return hsm.PrivateKey{Type: hsm.EC, Curve: hsm.P256K, ECD: priv.Serialize(), X: bytes.Clone(pub.X), Y: bytes.Clone(pub.Y)}, pub
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// testImport imports material made by independent implementations and
// checks that the module's operations interoperate with them.
func testImport(t *testing.T, m hsm.Module) {
	rsaPriv := must(rsa.GenerateKey(rand.Reader, 2048))
	t.Run("RSA-2048", func(t *testing.T) {
		for _, crt := range []bool{true, false} {
			t.Run(map[bool]string{true: "WithCRT", false: "WithoutCRT"}[crt], func(t *testing.T) {
				k := importKey(t, m, rsaMaterial(rsaPriv, crt), rsaPublic(rsaPriv))
				testRSAInterop(t, k, rsaPriv)
			})
		}
	})
	for _, c := range stdCurves {
		t.Run("EC-"+string(c.curve), func(t *testing.T) {
			priv := must(ecdsa.GenerateKey(c.c, rand.Reader))
			pk, pub := ecMaterial(priv, c.curve)
			for _, withPoint := range []bool{true, false} {
				pk := pk
				if !withPoint {
					pk.X, pk.Y = nil, nil
				}
				k := importKey(t, m, pk, pub)
				testSignInterop(t, k, c.alg, pub, func(d []byte) []byte {
					r, s := must2(ecdsa.Sign(rand.Reader, priv, d))
					n := len(pub.X)
					sig := make([]byte, 2*n)
					r.FillBytes(sig[:n])
					s.FillBytes(sig[n:])
					return sig
				})
			}
		})
	}
	t.Run("EC-P-256K", func(t *testing.T) {
		priv := must(secp256k1.GeneratePrivateKey())
		pk, pub := k1Material(priv)
		k := importKey(t, m, pk, pub)
		testSignInterop(t, k, hsm.ES256K, pub, func(d []byte) []byte {
			sig := k1ecdsa.Sign(priv, d)
			r, s := sig.R(), sig.S()
			out := make([]byte, 64)
			r.PutBytesUnchecked(out[:32])
			s.PutBytesUnchecked(out[32:])
			return out
		})
	})
	for _, bits := range []int{128, 192, 256} {
		t.Run(fmt.Sprintf("oct-%d", bits), func(t *testing.T) {
			raw := random(bits / 8)
			k := importKey(t, m, hsm.PrivateKey{Type: hsm.Oct, K: bytes.Clone(raw)}, hsm.PublicKey{Type: hsm.Oct})
			testAESInterop(t, k, raw)
		})
	}
	t.Run("KnownAnswer", func(t *testing.T) { testKeyWrapVectors(t, m) })
	t.Run("InputNotModified", func(t *testing.T) {
		ecPriv := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
		ecPK, _ := ecMaterial(ecPriv, hsm.P256)
		k1PK, _ := k1Material(must(secp256k1.GeneratePrivateKey()))
		for _, pk := range []hsm.PrivateKey{rsaMaterial(rsaPriv, true), ecPK, k1PK, {Type: hsm.Oct, K: random(32)}} {
			keep := clonePrivate(pk)
			if _, _, err := m.Import(context.Background(), pk, []byte("hsmtest/import")); err != nil {
				t.Fatalf("Import(%s) = %v", pk.Type, err)
			}
			if diff := cmp.Diff(keep, pk); diff != "" {
				t.Errorf("Import(%s) modified its input (-before +after):\n%s", pk.Type, diff)
			}
		}
	})
	t.Run("CallerClears", func(t *testing.T) {
		// hsm.PrivateKey says the caller clears its copy after Import.
		pk := rsaMaterial(rsaPriv, true)
		k := importKey(t, m, pk, rsaPublic(rsaPriv))
		for _, b := range [][]byte{pk.D, pk.P, pk.Q, pk.DP, pk.DQ, pk.QI} {
			clear(b)
		}
		testRSAInterop(t, k, rsaPriv)
		raw := random(32)
		pk = hsm.PrivateKey{Type: hsm.Oct, K: bytes.Clone(raw)}
		k = importKey(t, m, pk, hsm.PublicKey{Type: hsm.Oct})
		clear(pk.K)
		testAESInterop(t, k, raw)
	})
	t.Run("Invalid", func(t *testing.T) { testImportInvalid(t, m, rsaPriv) })
}

func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(err)
	}
	return a, b
}

func clonePrivate(pk hsm.PrivateKey) hsm.PrivateKey {
	c := pk
	for _, f := range []*[]byte{&c.N, &c.E, &c.D, &c.P, &c.Q, &c.DP, &c.DQ, &c.QI, &c.X, &c.Y, &c.ECD, &c.K} {
		*f = bytes.Clone(*f)
	}
	return c
}

// testRSAInterop checks k, imported from priv, against crypto/rsa in both
// directions.
func testRSAInterop(t *testing.T, k hsm.Key, priv *rsa.PrivateKey) {
	t.Helper()
	msg := random(32)
	oaep := map[hsm.Algorithm]func() hash.Hash{hsm.RSAOAEP: sha1.New, hsm.RSAOAEP256: sha256.New}
	for alg, h := range oaep {
		ct := must(rsa.EncryptOAEP(h(), rand.Reader, &priv.PublicKey, msg, nil))
		if pt, err := k.Decrypt(alg, ct, nil, nil, nil); err != nil || !bytes.Equal(pt, msg) {
			t.Errorf("Decrypt(%s) of crypto/rsa's ciphertext = %x, %v; want %x", alg, pt, err, msg)
		}
		res, err := k.Encrypt(alg, msg, nil, nil)
		if err != nil {
			t.Fatalf("Encrypt(%s) = %v", alg, err)
		}
		if pt, err := rsa.DecryptOAEP(h(), nil, priv, res.Ciphertext, nil); err != nil || !bytes.Equal(pt, msg) {
			t.Errorf("crypto/rsa DecryptOAEP of Encrypt(%s) = %x, %v; want %x", alg, pt, err, msg)
		}
	}
	ct := must(rsa.EncryptPKCS1v15(rand.Reader, &priv.PublicKey, msg)) //nolint:staticcheck // SA1019: testing Azure's RSA1_5
	if pt, err := k.Decrypt(hsm.RSA15, ct, nil, nil, nil); err != nil || !bytes.Equal(pt, msg) {
		t.Errorf("Decrypt(RSA1_5) of crypto/rsa's ciphertext = %x, %v; want %x", pt, err, msg)
	}
	hashes := map[hsm.Algorithm]crypto.Hash{
		hsm.RS256: crypto.SHA256, hsm.RS384: crypto.SHA384, hsm.RS512: crypto.SHA512,
		hsm.PS256: crypto.SHA256, hsm.PS384: crypto.SHA384, hsm.PS512: crypto.SHA512,
	}
	for alg, h := range hashes {
		testSignInterop(t, k, alg, rsaPublic(priv), func(d []byte) []byte {
			if alg[0] == 'P' {
				return must(rsa.SignPSS(rand.Reader, priv, h, d, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}))
			}
			return must(rsa.SignPKCS1v15(nil, priv, h, d))
		})
	}
}

// testSignInterop checks that k's signatures verify under pub with an
// independent implementation, and that k verifies that implementation's
// signatures, made by sign.
func testSignInterop(t *testing.T, k hsm.Key, alg hsm.Algorithm, pub hsm.PublicKey, sign func(digest []byte) []byte) {
	t.Helper()
	d := digestFor(alg, "interop")
	sig, err := k.Sign(rand.Reader, alg, d)
	if err != nil {
		t.Fatalf("Sign(%s) = %v", alg, err)
	}
	if err := verifyPublic(pub, alg, d, sig); err != nil {
		t.Errorf("independent Verify(%s) of Sign(%s) = %v", alg, alg, err)
	}
	if ok, err := k.Verify(alg, d, sign(d)); !ok || err != nil {
		t.Errorf("Verify(%s) of an independent signature = %v, %v; want true", alg, ok, err)
	}
}

// testAESInterop checks k, imported from raw, against crypto/aes and
// crypto/hmac.
func testAESInterop(t *testing.T, k hsm.Key, raw []byte) {
	t.Helper()
	bits := 8 * len(raw)
	block := must(aes.NewCipher(raw))
	gcm := must(cipher.NewGCM(block))
	msg, aad := random(40), []byte("aad")

	gcmAlg := hsm.Algorithm(fmt.Sprintf("A%dGCM", bits))
	nonce := random(12)
	sealed := gcm.Seal(nil, nonce, msg, aad)
	if pt, err := k.Decrypt(gcmAlg, sealed[:len(msg)], nonce, aad, sealed[len(msg):]); err != nil || !bytes.Equal(pt, msg) {
		t.Errorf("Decrypt(%s) of crypto/cipher's ciphertext = %x, %v; want %x", gcmAlg, pt, err, msg)
	}
	res, err := k.Encrypt(gcmAlg, msg, nil, aad)
	if err != nil {
		t.Fatalf("Encrypt(%s) = %v", gcmAlg, err)
	}
	if pt, err := gcm.Open(nil, res.IV, append(bytes.Clone(res.Ciphertext), res.Tag...), aad); err != nil || !bytes.Equal(pt, msg) {
		t.Errorf("crypto/cipher Open of Encrypt(%s) = %x, %v; want %x", gcmAlg, pt, err, msg)
	}

	padAlg := hsm.Algorithm(fmt.Sprintf("A%dCBCPAD", bits))
	iv := random(16)
	res, err = k.Encrypt(padAlg, msg, iv, nil)
	if err != nil {
		t.Fatalf("Encrypt(%s) = %v", padAlg, err)
	}
	want := append(bytes.Clone(msg), bytes.Repeat([]byte{8}, 8)...) // 40 bytes pad to 48
	got := make([]byte, len(res.Ciphertext))
	if len(got) != len(want) {
		t.Fatalf("Encrypt(%s, 40 bytes) gave %d bytes, want 48", padAlg, len(got))
	}
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(got, res.Ciphertext)
	if !bytes.Equal(got, want) {
		t.Errorf("crypto/cipher CBC decryption of Encrypt(%s) = %x, want %x", padAlg, got, want)
	}

	cbcAlg := hsm.Algorithm(fmt.Sprintf("A%dCBC", bits))
	ct := make([]byte, 32)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, msg[:32])
	if pt, err := k.Decrypt(cbcAlg, ct, iv, nil, nil); err != nil || !bytes.Equal(pt, msg[:32]) {
		t.Errorf("Decrypt(%s) of crypto/cipher's ciphertext = %x, %v; want %x", cbcAlg, pt, err, msg[:32])
	}

	for alg, h := range map[hsm.Algorithm]func() hash.Hash{hsm.HS256: sha256.New, hsm.HS384: sha512.New384, hsm.HS512: sha512.New} {
		mac := hmac.New(h, raw)
		mac.Write(msg)
		if sig, err := k.Sign(nil, alg, msg); err != nil || !bytes.Equal(sig, mac.Sum(nil)) {
			t.Errorf("Sign(%s) = %x, %v; want crypto/hmac's %x", alg, sig, err, mac.Sum(nil))
		}
	}
}

func unhex(s string) []byte { return must(hex.DecodeString(s)) }

// testKeyWrapVectors checks the test vectors of RFC 3394 section 4 and RFC
// 5649 section 6 through imported keys.
func testKeyWrapVectors(t *testing.T, m hsm.Module) {
	tests := []struct {
		name, kek, key, wrapped string
		algs                    []hsm.Algorithm
	}{
		{"RFC3394-4.1", "000102030405060708090A0B0C0D0E0F", "00112233445566778899AABBCCDDEEFF",
			"1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5", []hsm.Algorithm{hsm.A128KW, hsm.CKMAESKeyWrap}},
		{"RFC3394-4.2", "000102030405060708090A0B0C0D0E0F1011121314151617", "00112233445566778899AABBCCDDEEFF",
			"96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D", []hsm.Algorithm{hsm.A192KW, hsm.CKMAESKeyWrap}},
		{"RFC3394-4.3", "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", "00112233445566778899AABBCCDDEEFF",
			"64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7", []hsm.Algorithm{hsm.A256KW, hsm.CKMAESKeyWrap}},
		{"RFC3394-4.4", "000102030405060708090A0B0C0D0E0F1011121314151617", "00112233445566778899AABBCCDDEEFF0001020304050607",
			"031D33264E15D33268F24EC260743EDCE1C6C7DDEE725A936BA814915C6762D2", []hsm.Algorithm{hsm.A192KW, hsm.CKMAESKeyWrap}},
		{"RFC3394-4.5", "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", "00112233445566778899AABBCCDDEEFF0001020304050607",
			"A8F9BC1612C68B3FF6E6F4FBE30E71E4769C8B80A32CB8958CD5D17D6B254DA1", []hsm.Algorithm{hsm.A256KW, hsm.CKMAESKeyWrap}},
		{"RFC3394-4.6", "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
			"28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21", []hsm.Algorithm{hsm.A256KW, hsm.CKMAESKeyWrap}},
		{"RFC5649-20", "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", "c37b7e6492584340bed12207808941155068f738",
			"138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a", []hsm.Algorithm{hsm.CKMAESKeyWrapPad}},
		{"RFC5649-7", "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", "466f7250617369",
			"afbeb0f07dfbf5419200f2ccb50bb24f", []hsm.Algorithm{hsm.CKMAESKeyWrapPad}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _, err := m.Import(context.Background(), hsm.PrivateKey{Type: hsm.Oct, K: unhex(tt.kek)}, []byte("kat"))
			if err != nil {
				t.Fatalf("Import(KEK) = %v", err)
			}
			k := must(m.Key(context.Background(), h, []byte("kat")))
			key, wrapped := unhex(tt.key), unhex(tt.wrapped)
			for _, alg := range tt.algs {
				if res, err := k.Encrypt(alg, key, nil, nil); err != nil || !bytes.Equal(res.Ciphertext, wrapped) {
					t.Errorf("Encrypt(%s, %s) = %X, %v; want %s", alg, tt.key, res.Ciphertext, err, tt.wrapped)
				}
				if pt, err := k.Decrypt(alg, wrapped, nil, nil, nil); err != nil || !bytes.Equal(pt, key) {
					t.Errorf("Decrypt(%s, %s) = %X, %v; want %s", alg, tt.wrapped, pt, err, tt.key)
				}
			}
		})
	}
}

// testImportInvalid checks that inconsistent material is refused with
// ErrInvalidKey and unknown types or curves with ErrUnsupported.
func testImportInvalid(t *testing.T, m hsm.Module, rsaPriv *rsa.PrivateKey) {
	ecPriv := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	ec, _ := ecMaterial(ecPriv, hsm.P256)
	other, _ := ecMaterial(must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)), hsm.P256)
	p384, _ := ecMaterial(must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader)), hsm.P384)
	p521, _ := ecMaterial(must(ecdsa.GenerateKey(elliptic.P521(), rand.Reader)), hsm.P521)
	k1, _ := k1Material(must(secp256k1.GeneratePrivateKey()))
	k1Order := secp256k1.S256().N.Bytes()
	tests := []struct {
		name   string
		base   hsm.PrivateKey
		change func(pk *hsm.PrivateKey)
		want   []error
	}{
		{"RSA/ModulusChanged", rsaMaterial(rsaPriv, false), func(pk *hsm.PrivateKey) { pk.N[len(pk.N)-1] ^= 2 }, nil},
		{"RSA/WrongD", rsaMaterial(rsaPriv, false), func(pk *hsm.PrivateKey) { pk.D[len(pk.D)-1] ^= 2 }, nil},
		{"RSA/WrongP", rsaMaterial(rsaPriv, false), func(pk *hsm.PrivateKey) { pk.P[len(pk.P)-1] ^= 2 }, nil},
		{"RSA/PEqualsQ", rsaMaterial(rsaPriv, false), func(pk *hsm.PrivateKey) { pk.Q = pk.P }, nil},
		{"RSA/MissingQ", rsaMaterial(rsaPriv, false), func(pk *hsm.PrivateKey) { pk.Q = nil }, nil},
		{"RSA/MissingD", rsaMaterial(rsaPriv, false), func(pk *hsm.PrivateKey) { pk.D = nil }, nil},
		{"RSA/WrongE", rsaMaterial(rsaPriv, false), func(pk *hsm.PrivateKey) { pk.E = []byte{3} }, nil},
		{"RSA/EvenE", rsaMaterial(rsaPriv, false), func(pk *hsm.PrivateKey) { pk.E = []byte{1, 0, 0} }, nil},
		{"RSA/ZeroE", rsaMaterial(rsaPriv, false), func(pk *hsm.PrivateKey) { pk.E = []byte{0} }, nil},
		{"RSA/HugeE", rsaMaterial(rsaPriv, false), func(pk *hsm.PrivateKey) { pk.E = bytes.Repeat([]byte{0xff}, 9) }, nil},
		{"RSA/WrongDP", rsaMaterial(rsaPriv, true), func(pk *hsm.PrivateKey) { pk.DP[len(pk.DP)-1] ^= 2 }, nil},
		{"RSA/WrongQI", rsaMaterial(rsaPriv, true), func(pk *hsm.PrivateKey) { pk.QI[len(pk.QI)-1] ^= 2 }, nil},
		{"RSA/PartialCRT", rsaMaterial(rsaPriv, true), func(pk *hsm.PrivateKey) { pk.DQ, pk.QI = nil, nil }, nil},
		{"RSA/Small", rsaMaterial(must(rsa.GenerateKey(rand.Reader, 1024)), false), nil, []error{hsm.ErrUnsupported, hsm.ErrInvalidKey}},
		{"EC/WrongX", ec, func(pk *hsm.PrivateKey) { pk.X[len(pk.X)-1] ^= 1 }, nil},
		{"EC/WrongY", ec, func(pk *hsm.PrivateKey) { pk.Y[0] ^= 1 }, nil},
		{"EC/OnlyX", ec, func(pk *hsm.PrivateKey) { pk.Y = nil }, nil},
		{"EC/OtherPoint", ec, func(pk *hsm.PrivateKey) { pk.X, pk.Y = other.X, other.Y }, nil},
		{"EC/ZeroD", ec, func(pk *hsm.PrivateKey) { pk.ECD, pk.X, pk.Y = make([]byte, 32), nil, nil }, nil},
		{"EC/DIsOrder", ec, func(pk *hsm.PrivateKey) { pk.ECD, pk.X, pk.Y = elliptic.P256().Params().N.Bytes(), nil, nil }, nil},
		{"EC/DTooLarge", ec, func(pk *hsm.PrivateKey) { pk.ECD, pk.X, pk.Y = bytes.Repeat([]byte{0xff}, 32), nil, nil }, nil},
		{"EC/DTooLong", ec, func(pk *hsm.PrivateKey) { pk.ECD = append([]byte{1}, pk.ECD...) }, nil},
		{"EC/MissingD", ec, func(pk *hsm.PrivateKey) { pk.ECD = nil }, nil},
		{"EC/CurveMismatch", p384, func(pk *hsm.PrivateKey) { pk.Curve = hsm.P256 }, nil},
		{"EC/P-521WrongY", p521, func(pk *hsm.PrivateKey) { pk.Y[len(pk.Y)-1] ^= 1 }, nil},
		{"EC/P-256KWrongX", k1, func(pk *hsm.PrivateKey) { pk.X[len(pk.X)-1] ^= 1 }, nil},
		{"EC/P-256KZeroD", k1, func(pk *hsm.PrivateKey) { pk.ECD, pk.X, pk.Y = make([]byte, 32), nil, nil }, nil},
		{"EC/P-256KDIsOrder", k1, func(pk *hsm.PrivateKey) { pk.ECD, pk.X, pk.Y = k1Order, nil, nil }, nil},
		{"oct/Empty", hsm.PrivateKey{Type: hsm.Oct}, nil, nil},
		{"oct/7", hsm.PrivateKey{Type: hsm.Oct, K: random(7)}, nil, nil},
		{"oct/17", hsm.PrivateKey{Type: hsm.Oct, K: random(17)}, nil, nil},
		{"oct/33", hsm.PrivateKey{Type: hsm.Oct, K: random(33)}, nil, nil},
		{"oct/64", hsm.PrivateKey{Type: hsm.Oct, K: random(64)}, nil, nil},
		{"UnknownType", hsm.PrivateKey{Type: "DSA", K: random(32)}, nil, []error{hsm.ErrUnsupported}},
		{"NoType", hsm.PrivateKey{K: random(32)}, nil, []error{hsm.ErrUnsupported}},
		{"UnknownCurve", hsm.PrivateKey{Type: hsm.EC, Curve: "P-192", ECD: random(24)}, nil, []error{hsm.ErrUnsupported}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pk := clonePrivate(tt.base)
			if tt.change != nil {
				tt.change(&pk)
			}
			want := tt.want
			if want == nil {
				want = []error{hsm.ErrInvalidKey}
			}
			_, _, err := m.Import(context.Background(), pk, []byte("hsmtest/invalid"))
			if !isOneOf(err, want...) {
				t.Errorf("Import(%s) = %v, want %v", tt.name, err, errors.Join(want...))
			}
		})
	}
}
