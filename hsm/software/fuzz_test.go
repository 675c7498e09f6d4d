package software

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/tresorkms/tresor/hsm"
)

// fuzzAlgs is every algorithm, so each key also sees the ones it refuses.
var fuzzAlgs = []hsm.Algorithm{
	hsm.RSA15, hsm.RSAOAEP, hsm.RSAOAEP256,
	hsm.A128KW, hsm.A192KW, hsm.A256KW, hsm.CKMAESKeyWrap, hsm.CKMAESKeyWrapPad,
	hsm.A128GCM, hsm.A192GCM, hsm.A256GCM,
	hsm.A128CBC, hsm.A192CBC, hsm.A256CBC, hsm.A128CBCPAD, hsm.A192CBCPAD, hsm.A256CBCPAD,
	hsm.RS256, hsm.PS512, hsm.ES256, hsm.ES384, hsm.ES512, hsm.ES256K, hsm.HS256, "",
}

// FuzzDecrypt feeds arbitrary ciphertexts, IVs, tags and signatures to
// every key type and algorithm. Nothing may panic, every failure must carry
// a sentinel, and the authenticated modes must never accept garbage.
func FuzzDecrypt(f *testing.F) {
	m := newModule(f)
	var keys []hsm.Key
	for _, spec := range []hsm.Spec{
		{Type: hsm.RSA, Size: 2048}, {Type: hsm.EC, Curve: hsm.P256}, {Type: hsm.EC, Curve: hsm.P256K},
		{Type: hsm.Oct, Size: 128}, {Type: hsm.Oct, Size: 192}, {Type: hsm.Oct, Size: 256},
	} {
		_, k := newKey(f, m, spec)
		keys = append(keys, k)
	}
	f.Add([]byte("0123456789abcdef0123456789abcdef01234567"), []byte("0123456789abcdef"), []byte("tag"))
	f.Add(make([]byte, 256), make([]byte, 12), make([]byte, 16))
	f.Add(bytes.Repeat([]byte{0xA6}, 24), []byte{}, []byte(nil))
	f.Add([]byte{0x10}, make([]byte, 16), make([]byte, 64))
	f.Fuzz(func(t *testing.T, ct, iv, tag []byte) {
		keep := [][]byte{bytes.Clone(ct), bytes.Clone(iv), bytes.Clone(tag)}
		for _, k := range keys {
			for _, alg := range fuzzAlgs {
				_, err := k.Decrypt(alg, ct, iv, nil, tag)
				if err != nil && !errors.Is(err, hsm.ErrDecrypt) && !errors.Is(err, hsm.ErrInvalidData) && !errors.Is(err, hsm.ErrUnsupported) {
					t.Errorf("Decrypt(%s) = %v, without a sentinel", alg, err)
				}
				if err == nil && (alg == hsm.A128GCM || alg == hsm.A192GCM || alg == hsm.A256GCM) {
					t.Errorf("Decrypt(%s) accepted a random ciphertext", alg)
				}
				if ok, _ := k.Verify(alg, ct, tag); ok {
					t.Errorf("Verify(%s) accepted a random signature", alg)
				}
			}
		}
		if !bytes.Equal(ct, keep[0]) || !bytes.Equal(iv, keep[1]) || !bytes.Equal(tag, keep[2]) {
			t.Error("inputs were modified")
		}
	})
}

// FuzzImport feeds arbitrary material to Import. It must never panic, and
// any failure must be ErrInvalidKey or ErrUnsupported.
func FuzzImport(f *testing.F) {
	m := newModule(f)
	f.Add(uint8(0), []byte("0123456789abcdef"), []byte{}, []byte{})
	f.Add(uint8(1), make([]byte, 32), make([]byte, 32), make([]byte, 32))
	f.Add(uint8(2), bytes.Repeat([]byte{0xff}, 66), []byte{1}, []byte{})
	f.Add(uint8(4), bytes.Repeat([]byte{0xff}, 256), []byte{1, 0, 1}, []byte{3})
	f.Fuzz(func(t *testing.T, kind uint8, a, b, c []byte) {
		curves := []hsm.Curve{hsm.P256, hsm.P384, hsm.P521, hsm.P256K}
		var pk hsm.PrivateKey
		switch kind % 6 {
		case 0:
			pk = hsm.PrivateKey{Type: hsm.Oct, K: a}
		case 1, 2, 3:
			pk = hsm.PrivateKey{Type: hsm.EC, Curve: curves[int(kind/6)%len(curves)], ECD: a, X: b, Y: c}
		case 4:
			pk = hsm.PrivateKey{Type: hsm.RSA, N: a, E: b, D: c, P: b, Q: c}
		case 5:
			pk = hsm.PrivateKey{Type: hsm.KeyType(a), Curve: hsm.Curve(b), K: c}
		}
		_, _, err := m.Import(context.Background(), pk, nil)
		if err != nil && !errors.Is(err, hsm.ErrInvalidKey) && !errors.Is(err, hsm.ErrUnsupported) {
			t.Errorf("Import = %v, want ErrInvalidKey or ErrUnsupported", err)
		}
	})
}

// FuzzDecode feeds arbitrary plaintexts to decode. In use its input is
// authenticated, but a parser of stored data must not panic either.
func FuzzDecode(f *testing.F) {
	m := newModule(f)
	for _, spec := range []hsm.Spec{{Type: hsm.EC, Curve: hsm.P384}, {Type: hsm.EC, Curve: hsm.P256K}, {Type: hsm.Oct, Size: 256}} {
		_, k := newKey(f, m, spec)
		b, err := encode(k)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{tagRSA, 0x30, 0x82, 0x01, 0x00})
	f.Add([]byte{tagEC, 200, 'P'})
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := decode(b); err != nil && !errors.Is(err, hsm.ErrInvalidKey) {
			t.Errorf("decode = %v, want ErrInvalidKey", err)
		}
	})
}
