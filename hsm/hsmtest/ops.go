package hsmtest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"math/big"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	k1ecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"github.com/tresorkms/tresor/hsm"
)

// mode is an encryption algorithm's family, which decides the inputs it
// takes and the failures it must detect.
type mode int

const (
	modeRSA    mode = iota + 1
	modeRSA15       // RSA1_5: padding is only a weak integrity check
	modeKW          // RFC 3394
	modeKWP         // RFC 5649
	modeGCM         // authenticated, module-chosen IV, separate tag
	modeCBC         // no integrity at all
	modeCBCPad      // PKCS #7 padding: a weak integrity check
)

var modes = map[hsm.Algorithm]mode{
	hsm.RSA15: modeRSA15, hsm.RSAOAEP: modeRSA, hsm.RSAOAEP256: modeRSA,
	hsm.A128KW: modeKW, hsm.A192KW: modeKW, hsm.A256KW: modeKW, hsm.CKMAESKeyWrap: modeKW,
	hsm.CKMAESKeyWrapPad: modeKWP,
	hsm.A128GCM:          modeGCM, hsm.A192GCM: modeGCM, hsm.A256GCM: modeGCM,
	hsm.A128CBC: modeCBC, hsm.A192CBC: modeCBC, hsm.A256CBC: modeCBC,
	hsm.A128CBCPAD: modeCBCPad, hsm.A192CBCPAD: modeCBCPad, hsm.A256CBCPAD: modeCBCPad,
}

// authenticated reports whether any change to the ciphertext or key must
// be detected (with ErrDecrypt), rather than merely yield other plaintext.
func (m mode) authenticated() bool {
	return m == modeRSA || m == modeKW || m == modeKWP || m == modeGCM
}

// lengths returns plaintext lengths that alg must accept with key k.
func lengths(alg hsm.Algorithm, k hsm.Key) []int {
	switch modes[alg] {
	case modeRSA, modeRSA15:
		return []int{1, 32, maxRSA(alg, k)}
	case modeKW:
		return []int{16, 24, 32, 40, 64}
	case modeKWP:
		return []int{1, 7, 8, 9, 20, 32, 33}
	case modeGCM:
		return []int{0, 1, 16, 33, 100}
	case modeCBC:
		return []int{16, 32, 64}
	}
	return []int{0, 1, 15, 16, 17, 32} // CBCPAD
}

// maxRSA is the longest plaintext alg can encrypt under k.
func maxRSA(alg hsm.Algorithm, k hsm.Key) int {
	switch alg {
	case hsm.RSA15:
		return k.Size()/8 - 11
	case hsm.RSAOAEP:
		return k.Size()/8 - 2*20 - 2
	}
	return k.Size()/8 - 2*32 - 2
}

// ivFor returns the IV a caller supplies for alg: 16 random bytes for CBC,
// none otherwise.
func ivFor(alg hsm.Algorithm) []byte {
	if m := modes[alg]; m == modeCBC || m == modeCBCPad {
		iv := make([]byte, 16)
		rand.Read(iv)
		return iv
	}
	return nil
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// encrypt encrypts msg and returns the result with the IV Decrypt needs.
func encrypt(t *testing.T, k hsm.Key, alg hsm.Algorithm, msg, aad []byte) (hsm.Result, []byte) {
	t.Helper()
	iv := ivFor(alg)
	res, err := k.Encrypt(alg, msg, iv, aad)
	if err != nil {
		t.Fatalf("Encrypt(%s, %d bytes) = %v", alg, len(msg), err)
	}
	switch modes[alg] {
	case modeGCM:
		if len(res.IV) != 12 || len(res.Tag) != 16 {
			t.Fatalf("Encrypt(%s) IV, Tag lengths = %d, %d, want 12, 16", alg, len(res.IV), len(res.Tag))
		}
		iv = res.IV
	case modeCBC, modeCBCPad:
		if res.IV != nil && !bytes.Equal(res.IV, iv) {
			t.Fatalf("Encrypt(%s) IV = %x, want the caller's %x", alg, res.IV, iv)
		}
	}
	return res, iv
}

// isOneOf reports whether err is one of targets.
func isOneOf(err error, targets ...error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// testEncrypt checks alg on k, with wrong another key of the same spec.
func testEncrypt(t *testing.T, k, wrong hsm.Key, alg hsm.Algorithm) {
	m := modes[alg]
	aad := []byte(nil)
	if m == modeGCM {
		aad = []byte("additional data")
	}
	msg := random(lengths(alg, k)[1])

	t.Run("Roundtrip", func(t *testing.T) {
		for _, n := range lengths(alg, k) {
			msg := random(n)
			res, iv := encrypt(t, k, alg, msg, aad)
			pt, err := k.Decrypt(alg, res.Ciphertext, iv, aad, res.Tag)
			if err != nil || !bytes.Equal(pt, msg) {
				t.Errorf("Decrypt(%s, Encrypt(%d bytes)) = %x, %v; want %x", alg, n, pt, err, msg)
			}
		}
	})
	t.Run("InputNotModified", func(t *testing.T) {
		in, iv, ad := bytes.Clone(msg), ivFor(alg), bytes.Clone(aad)
		keepIn, keepIV, keepAD := bytes.Clone(in), bytes.Clone(iv), bytes.Clone(ad)
		res, err := k.Encrypt(alg, in, iv, ad)
		if err != nil {
			t.Fatalf("Encrypt(%s) = %v", alg, err)
		}
		if !bytes.Equal(in, keepIn) || !bytes.Equal(iv, keepIV) || !bytes.Equal(ad, keepAD) {
			t.Errorf("Encrypt(%s) modified its input", alg)
		}
		if res.IV != nil {
			iv, keepIV = res.IV, bytes.Clone(res.IV)
		}
		ct, tag := res.Ciphertext, res.Tag
		keepCT, keepTag := bytes.Clone(ct), bytes.Clone(tag)
		pt, err := k.Decrypt(alg, ct, iv, ad, tag)
		if err != nil {
			t.Fatalf("Decrypt(%s) = %v", alg, err)
		}
		if !bytes.Equal(ct, keepCT) || !bytes.Equal(iv, keepIV) || !bytes.Equal(ad, keepAD) || !bytes.Equal(tag, keepTag) {
			t.Errorf("Decrypt(%s) modified its input", alg)
		}
		// Outputs are fresh: scribbling on one does not change the next.
		clear(pt)
		clear(res.Ciphertext)
		if pt2, err := k.Decrypt(alg, keepCT, iv, ad, keepTag); err != nil || !bytes.Equal(pt2, msg) {
			t.Errorf("Decrypt(%s) after clearing an earlier output = %x, %v; want %x", alg, pt2, err, msg)
		}
	})
	if m == modeRSA || m == modeRSA15 || m == modeGCM {
		t.Run("Randomized", func(t *testing.T) {
			a, _ := encrypt(t, k, alg, msg, aad)
			b, _ := encrypt(t, k, alg, msg, aad)
			if bytes.Equal(a.Ciphertext, b.Ciphertext) && bytes.Equal(a.IV, b.IV) {
				t.Errorf("Encrypt(%s) twice gave the same ciphertext and IV", alg)
			}
		})
	}
	t.Run("WrongKey", func(t *testing.T) {
		res, iv := encrypt(t, k, alg, msg, aad)
		pt, err := wrong.Decrypt(alg, res.Ciphertext, iv, aad, res.Tag)
		if m.authenticated() && !errors.Is(err, hsm.ErrDecrypt) {
			t.Errorf("Decrypt(%s) with another key = %v, want ErrDecrypt", alg, err)
		}
		if err == nil && bytes.Equal(pt, msg) {
			t.Errorf("Decrypt(%s) with another key returned the plaintext", alg)
		}
	})
	t.Run("WrongCiphertext", func(t *testing.T) {
		res, iv := encrypt(t, k, alg, msg, aad)
		for _, i := range []int{0, len(res.Ciphertext) / 2, len(res.Ciphertext) - 1} {
			ct := bytes.Clone(res.Ciphertext)
			ct[i] ^= 0x01
			pt, err := k.Decrypt(alg, ct, iv, aad, res.Tag)
			if m.authenticated() && !errors.Is(err, hsm.ErrDecrypt) {
				t.Errorf("Decrypt(%s) with byte %d flipped = %v, want ErrDecrypt", alg, i, err)
			}
			if err == nil && bytes.Equal(pt, msg) {
				t.Errorf("Decrypt(%s) with byte %d flipped returned the plaintext", alg, i)
			}
		}
		for _, ct := range [][]byte{res.Ciphertext[:len(res.Ciphertext)-1], append(bytes.Clone(res.Ciphertext), 0)} {
			if _, err := k.Decrypt(alg, ct, iv, aad, res.Tag); m != modeGCM && !isOneOf(err, hsm.ErrDecrypt, hsm.ErrInvalidData) {
				t.Errorf("Decrypt(%s) of %d bytes instead of %d = %v, want ErrDecrypt", alg, len(ct), len(res.Ciphertext), err)
			} else if m == modeGCM && !errors.Is(err, hsm.ErrDecrypt) {
				t.Errorf("Decrypt(%s) of a resized ciphertext = %v, want ErrDecrypt", alg, err)
			}
		}
		if _, err := k.Decrypt(alg, nil, iv, aad, res.Tag); err == nil {
			t.Errorf("Decrypt(%s) of an empty ciphertext succeeded", alg)
		}
	})
	if m == modeGCM {
		testGCM(t, k, alg, msg, aad)
	}
	t.Run("InvalidInput", func(t *testing.T) { testInvalidInput(t, k, alg) })
}

// testGCM checks that the tag covers the IV, the tag itself and the aad.
func testGCM(t *testing.T, k hsm.Key, alg hsm.Algorithm, msg, aad []byte) {
	res, iv := encrypt(t, k, alg, msg, aad)
	tests := []struct {
		name         string
		iv, aad, tag []byte
	}{
		{"WrongTag", iv, aad, flip(res.Tag, 15)},
		{"WrongNonce", flip(iv, 0), aad, res.Tag},
		{"WrongAddData", iv, flip(aad, 0), res.Tag},
		{"MissingAddData", iv, nil, res.Tag},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := k.Decrypt(alg, res.Ciphertext, tt.iv, tt.aad, tt.tag); !errors.Is(err, hsm.ErrDecrypt) {
				t.Errorf("Decrypt(%s) = %v, want ErrDecrypt", alg, err)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0x80
	return b
}

// testInvalidInput checks inputs alg must refuse with ErrInvalidData.
func testInvalidInput(t *testing.T, k hsm.Key, alg hsm.Algorithm) {
	type call struct {
		name     string
		pt, iv   []byte
		decrypt  bool
		ct, tag  []byte
		failures []error
	}
	invalid := []error{hsm.ErrInvalidData}
	var tests []call
	switch modes[alg] {
	case modeRSA, modeRSA15:
		tests = []call{{name: "TooLong", pt: make([]byte, maxRSA(alg, k)+1), failures: invalid}}
	case modeKW:
		tests = []call{
			{name: "Empty", failures: invalid},
			{name: "OneBlock", pt: make([]byte, 8), failures: invalid},
			{name: "NotBlocks", pt: make([]byte, 20), failures: invalid},
		}
	case modeKWP:
		tests = []call{{name: "Empty", failures: invalid}}
	case modeGCM:
		tests = []call{
			{name: "CallerIV", pt: make([]byte, 16), iv: make([]byte, 12), failures: invalid},
			{name: "ShortIV", decrypt: true, ct: make([]byte, 16), iv: make([]byte, 11), tag: make([]byte, 16), failures: []error{hsm.ErrInvalidData, hsm.ErrDecrypt}},
			{name: "ShortTag", decrypt: true, ct: make([]byte, 16), iv: make([]byte, 12), tag: make([]byte, 8), failures: []error{hsm.ErrInvalidData, hsm.ErrDecrypt}},
		}
	case modeCBC:
		tests = []call{
			{name: "NoIV", pt: make([]byte, 16), failures: invalid},
			{name: "ShortIV", pt: make([]byte, 16), iv: make([]byte, 15), failures: invalid},
			{name: "NotBlocks", pt: make([]byte, 17), iv: make([]byte, 16), failures: invalid},
			{name: "DecryptNoIV", decrypt: true, ct: make([]byte, 16), failures: invalid},
		}
	case modeCBCPad:
		tests = []call{
			{name: "NoIV", pt: make([]byte, 16), failures: invalid},
			{name: "LongIV", pt: make([]byte, 16), iv: make([]byte, 17), failures: invalid},
			{name: "DecryptNoIV", decrypt: true, ct: make([]byte, 16), failures: invalid},
		}
	}
	for _, tt := range tests {
		var err error
		if tt.decrypt {
			_, err = k.Decrypt(alg, tt.ct, tt.iv, nil, tt.tag)
		} else {
			_, err = k.Encrypt(alg, tt.pt, tt.iv, nil)
		}
		if !isOneOf(err, tt.failures...) {
			t.Errorf("%s: %s = %v, want %v", tt.name, alg, err, tt.failures[0])
		}
	}
}

// digestFor returns a digest of the length alg signs; for HMAC, a value of
// any length.
func digestFor(alg hsm.Algorithm, msg string) []byte {
	switch alg {
	case hsm.RS384, hsm.PS384, hsm.ES384:
		d := sha512.Sum384([]byte(msg))
		return d[:]
	case hsm.RS512, hsm.PS512, hsm.ES512:
		d := sha512.Sum512([]byte(msg))
		return d[:]
	case hsm.HS256, hsm.HS384, hsm.HS512:
		return []byte("a value of any length: " + msg)
	}
	d := sha256.Sum256([]byte(msg))
	return d[:]
}

func isHMAC(alg hsm.Algorithm) bool { return alg == hsm.HS256 || alg == hsm.HS384 || alg == hsm.HS512 }

// testSign checks alg on k, with wrong another key of the same spec.
func testSign(t *testing.T, k, wrong hsm.Key, alg hsm.Algorithm) {
	d := digestFor(alg, "message")
	sign := func(t *testing.T, k hsm.Key, d []byte) []byte {
		t.Helper()
		sig, err := k.Sign(rand.Reader, alg, d)
		if err != nil {
			t.Fatalf("Sign(%s) = %v", alg, err)
		}
		return sig
	}
	t.Run("Roundtrip", func(t *testing.T) {
		if ok, err := k.Verify(alg, d, sign(t, k, d)); !ok || err != nil {
			t.Errorf("Verify(%s, Sign(%s)) = %v, %v; want true", alg, alg, ok, err)
		}
	})
	if !isHMAC(alg) {
		t.Run("PublicKey", func(t *testing.T) {
			if err := verifyPublic(k.Public(), alg, d, sign(t, k, d)); err != nil {
				t.Errorf("the signature does not verify under Public(): %v", err)
			}
		})
	}
	t.Run("InputNotModified", func(t *testing.T) {
		in := bytes.Clone(d)
		sig := sign(t, k, in)
		keepSig := bytes.Clone(sig)
		if !bytes.Equal(in, d) {
			t.Errorf("Sign(%s) modified its input", alg)
		}
		if _, err := k.Verify(alg, in, sig); err != nil || !bytes.Equal(in, d) || !bytes.Equal(sig, keepSig) {
			t.Errorf("Verify(%s) = %v, or modified its input", alg, err)
		}
	})
	t.Run("WrongKey", func(t *testing.T) {
		if ok, err := wrong.Verify(alg, d, sign(t, k, d)); ok || err != nil {
			t.Errorf("Verify(%s) with another key = %v, %v; want false, nil", alg, ok, err)
		}
	})
	t.Run("WrongSignature", func(t *testing.T) {
		sig := sign(t, k, d)
		bad := [][]byte{
			flip(sig, 0), flip(sig, len(sig)/2), flip(sig, len(sig)-1),
			sig[:len(sig)-1], append(bytes.Clone(sig), 0), sig[:3], {}, nil,
			make([]byte, len(sig)),
		}
		for i, sig := range bad {
			if ok, err := k.Verify(alg, d, sig); ok || err != nil {
				t.Errorf("Verify(%s, bad signature #%d) = %v, %v; want false, nil", alg, i, ok, err)
			}
		}
	})
	t.Run("WrongDigest", func(t *testing.T) {
		if ok, err := k.Verify(alg, digestFor(alg, "other message"), sign(t, k, d)); ok || err != nil {
			t.Errorf("Verify(%s) of another digest = %v, %v; want false, nil", alg, ok, err)
		}
	})
	if !isHMAC(alg) {
		t.Run("DigestLength", func(t *testing.T) {
			for _, n := range []int{0, len(d) - 1, len(d) + 1} {
				if _, err := k.Sign(rand.Reader, alg, make([]byte, n)); !errors.Is(err, hsm.ErrInvalidData) {
					t.Errorf("Sign(%s, %d-byte digest) = %v, want ErrInvalidData", alg, n, err)
				}
				if _, err := k.Verify(alg, make([]byte, n), make([]byte, 64)); !errors.Is(err, hsm.ErrInvalidData) {
					t.Errorf("Verify(%s, %d-byte digest) = %v, want ErrInvalidData", alg, n, err)
				}
			}
		})
	}
}

// verifyPublic checks sig with an independent implementation and the
// public key alone.
func verifyPublic(pub hsm.PublicKey, alg hsm.Algorithm, digest, sig []byte) error {
	switch pub.Type {
	case hsm.RSA:
		rpub := &rsa.PublicKey{N: new(big.Int).SetBytes(pub.N), E: int(new(big.Int).SetBytes(pub.E).Int64())}
		h := map[hsm.Algorithm]crypto.Hash{
			hsm.RS256: crypto.SHA256, hsm.RS384: crypto.SHA384, hsm.RS512: crypto.SHA512,
			hsm.PS256: crypto.SHA256, hsm.PS384: crypto.SHA384, hsm.PS512: crypto.SHA512,
		}[alg]
		if alg[0] == 'P' {
			return rsa.VerifyPSS(rpub, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		return rsa.VerifyPKCS1v15(rpub, h, digest, sig)
	case hsm.EC:
		n := len(pub.X)
		if len(sig) != 2*n {
			return errors.New("signature is not r||s of the curve's length")
		}
		point := append(append([]byte{4}, pub.X...), pub.Y...)
		if pub.Curve == hsm.P256K {
			var r, s secp256k1.ModNScalar
			r.SetByteSlice(sig[:n])
			s.SetByteSlice(sig[n:])
			k1pub, err := secp256k1.ParsePubKey(point)
			if err != nil {
				return err
			}
			if !k1ecdsa.NewSignature(&r, &s).Verify(digest, k1pub) {
				return errors.New("secp256k1 verification failed")
			}
			return nil
		}
		curves := map[hsm.Curve]elliptic.Curve{hsm.P256: elliptic.P256(), hsm.P384: elliptic.P384(), hsm.P521: elliptic.P521()}
		epub, err := ecdsa.ParseUncompressedPublicKey(curves[pub.Curve], point)
		if err != nil {
			return err
		}
		if !ecdsa.Verify(epub, digest, new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])) {
			return errors.New("ECDSA verification failed")
		}
		return nil
	}
	return errors.New("no public key")
}
