// Package hsmtest is the conformance suite every hsm.Module passes. For
// each key type it checks round trips of every algorithm, wrong keys,
// tampered inputs, inputs left unmodified, the binding of Handles, transfer
// through Export and Adopt, concurrent use, and Import of material made by
// independent implementations (the standard library and decred's
// secp256k1). Subtests are named in the style of testing/cryptotest.
package hsmtest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tresorkms/tresor/hsm"
)

// A keySpec is a kind of key the suite generates and the algorithms it
// must support.
type keySpec struct {
	name  string
	spec  hsm.Spec
	crypt []hsm.Algorithm
	sign  []hsm.Algorithm
	slow  bool // skipped with -short: key generation takes seconds
}

var (
	rsaCrypt = []hsm.Algorithm{hsm.RSA15, hsm.RSAOAEP, hsm.RSAOAEP256}
	rsaSign  = []hsm.Algorithm{hsm.RS256, hsm.RS384, hsm.RS512, hsm.PS256, hsm.PS384, hsm.PS512}
	hmacs    = []hsm.Algorithm{hsm.HS256, hsm.HS384, hsm.HS512}
)

var keySpecs = []keySpec{
	{name: "RSA-2048", spec: hsm.Spec{Type: hsm.RSA, Size: 2048}, crypt: rsaCrypt, sign: rsaSign},
	{name: "RSA-2048-e3", spec: hsm.Spec{Type: hsm.RSA, Size: 2048, PublicExponent: 3}, crypt: rsaCrypt, sign: []hsm.Algorithm{hsm.RS256, hsm.PS256}},
	{name: "RSA-3072", spec: hsm.Spec{Type: hsm.RSA, Size: 3072}, crypt: rsaCrypt, sign: rsaSign},
	{name: "RSA-4096", spec: hsm.Spec{Type: hsm.RSA, Size: 4096}, crypt: []hsm.Algorithm{hsm.RSAOAEP256}, sign: []hsm.Algorithm{hsm.PS512}, slow: true},
	{name: "EC-P-256", spec: hsm.Spec{Type: hsm.EC, Curve: hsm.P256}, sign: []hsm.Algorithm{hsm.ES256}},
	{name: "EC-P-384", spec: hsm.Spec{Type: hsm.EC, Curve: hsm.P384}, sign: []hsm.Algorithm{hsm.ES384}},
	{name: "EC-P-521", spec: hsm.Spec{Type: hsm.EC, Curve: hsm.P521}, sign: []hsm.Algorithm{hsm.ES512}},
	{name: "EC-P-256K", spec: hsm.Spec{Type: hsm.EC, Curve: hsm.P256K}, sign: []hsm.Algorithm{hsm.ES256K}},
	{name: "oct-128", spec: hsm.Spec{Type: hsm.Oct, Size: 128}, sign: hmacs, crypt: []hsm.Algorithm{
		hsm.A128KW, hsm.A128GCM, hsm.A128CBC, hsm.A128CBCPAD, hsm.CKMAESKeyWrap, hsm.CKMAESKeyWrapPad}},
	{name: "oct-192", spec: hsm.Spec{Type: hsm.Oct, Size: 192}, sign: hmacs, crypt: []hsm.Algorithm{
		hsm.A192KW, hsm.A192GCM, hsm.A192CBC, hsm.A192CBCPAD, hsm.CKMAESKeyWrap, hsm.CKMAESKeyWrapPad}},
	{name: "oct-256", spec: hsm.Spec{Type: hsm.Oct, Size: 256}, sign: hmacs, crypt: []hsm.Algorithm{
		hsm.A256KW, hsm.A256GCM, hsm.A256CBC, hsm.A256CBCPAD, hsm.CKMAESKeyWrap, hsm.CKMAESKeyWrapPad}},
}

// TestModule runs the conformance suite against m, which must be safe for
// concurrent use. It generates two keys of every kind (RSA-4096, which takes
// seconds, only without -short) and imports material of every kind.
func TestModule(t *testing.T, m hsm.Module) {
	for _, ks := range keySpecs {
		t.Run(ks.name, func(t *testing.T) {
			if ks.slow && testing.Short() {
				t.Skip("slow key generation; run without -short")
			}
			testKeySpec(t, m, ks)
		})
	}
	t.Run("Unsupported", func(t *testing.T) { testUnsupported(t, m) })
	t.Run("Import", func(t *testing.T) { testImport(t, m) })
}

// generate makes a key and opens it.
func generate(t *testing.T, m hsm.Module, spec hsm.Spec, binding []byte) (hsm.Handle, hsm.PublicKey, hsm.Key) {
	t.Helper()
	h, pub, err := m.Generate(context.Background(), spec, binding)
	if err != nil {
		t.Fatalf("Generate(%+v) = %v", spec, err)
	}
	k, err := m.Key(context.Background(), h, binding)
	if err != nil {
		t.Fatalf("Key(Generate(%+v)) = %v", spec, err)
	}
	return h, pub, k
}

func testKeySpec(t *testing.T, m hsm.Module, ks keySpec) {
	bind := []byte("hsmtest/" + ks.name + "/v1")
	h, pub, k := generate(t, m, ks.spec, bind)
	_, _, wrong := generate(t, m, ks.spec, []byte("hsmtest/"+ks.name+"/other"))

	t.Run("Public", func(t *testing.T) { testPublic(t, ks.spec, pub, k) })
	t.Run("Binding", func(t *testing.T) { testBinding(t, m, h, bind) })
	for _, alg := range ks.crypt {
		t.Run("Encrypt/"+string(alg), func(t *testing.T) { testEncrypt(t, k, wrong, alg) })
	}
	for _, alg := range ks.sign {
		t.Run("Sign/"+string(alg), func(t *testing.T) { testSign(t, k, wrong, alg) })
	}
	t.Run("WrongAlgorithm", func(t *testing.T) { testWrongAlgorithm(t, k) })
	t.Run("Transfer", func(t *testing.T) { testTransfer(t, m, h, bind, k, ks) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, m, h, bind, ks) })
}

// testPublic checks the shape of a generated key's public half.
func testPublic(t *testing.T, spec hsm.Spec, pub hsm.PublicKey, k hsm.Key) {
	if k.Type() != spec.Type || pub.Type != spec.Type {
		t.Errorf("Type() = %s, PublicKey.Type = %s; want %s", k.Type(), pub.Type, spec.Type)
	}
	if diff := cmp.Diff(pub, k.Public(), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Key.Public() differs from Generate's PublicKey (-generate +key):\n%s", diff)
	}
	switch spec.Type {
	case hsm.RSA:
		e := spec.PublicExponent
		if e == 0 {
			e = 65537
		}
		if k.Size() != spec.Size || len(pub.N) != spec.Size/8 || pub.N[0]&0x80 == 0 {
			t.Errorf("Size() = %d, len(N) = %d; want %d bits", k.Size(), len(pub.N), spec.Size)
		}
		if want := big.NewInt(int64(e)).Bytes(); !bytes.Equal(pub.E, want) {
			t.Errorf("E = %x, want %x", pub.E, want)
		}
		if pub.X != nil || pub.Y != nil || pub.Curve != "" {
			t.Errorf("RSA public key has EC fields: %+v", pub)
		}
	case hsm.EC:
		n := map[hsm.Curve]int{hsm.P256: 32, hsm.P256K: 32, hsm.P384: 48, hsm.P521: 66}[spec.Curve]
		bits := map[hsm.Curve]int{hsm.P256: 256, hsm.P256K: 256, hsm.P384: 384, hsm.P521: 521}[spec.Curve]
		if pub.Curve != spec.Curve || len(pub.X) != n || len(pub.Y) != n || k.Size() != bits {
			t.Errorf("Curve = %s, len(X), len(Y) = %d, %d, Size() = %d; want %s, %d, %d",
				pub.Curve, len(pub.X), len(pub.Y), k.Size(), spec.Curve, n, bits)
		}
		if !onCurve(pub) {
			t.Errorf("the public point is not on %s", spec.Curve)
		}
	case hsm.Oct:
		if k.Size() != spec.Size {
			t.Errorf("Size() = %d, want %d", k.Size(), spec.Size)
		}
		if diff := cmp.Diff(hsm.PublicKey{Type: hsm.Oct}, pub, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("oct public key is not empty (-want +got):\n%s", diff)
		}
	}
	// Outputs are fresh: scribbling on one Public() does not change the next.
	p := k.Public()
	clear(p.N)
	clear(p.E)
	clear(p.X)
	clear(p.Y)
	if diff := cmp.Diff(pub, k.Public(), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("clearing a Public() result changed the key (-before +after):\n%s", diff)
	}
}

func onCurve(pub hsm.PublicKey) bool {
	point := append(append([]byte{4}, pub.X...), pub.Y...)
	if pub.Curve == hsm.P256K {
		_, err := secp256k1.ParsePubKey(point)
		return err == nil
	}
	c := map[hsm.Curve]elliptic.Curve{hsm.P256: elliptic.P256(), hsm.P384: elliptic.P384(), hsm.P521: elliptic.P521()}[pub.Curve]
	if c == nil {
		return false
	}
	_, err := ecdsa.ParseUncompressedPublicKey(c, point)
	return err == nil
}

// testBinding checks that a Handle opens only under its binding and only
// intact.
func testBinding(t *testing.T, m hsm.Module, h hsm.Handle, bind []byte) {
	ctx := context.Background()
	t.Run("OtherBinding", func(t *testing.T) {
		for _, b := range [][]byte{[]byte("hsmtest/other"), append(bytes.Clone(bind), 0), bind[:len(bind)-1], nil} {
			if _, err := m.Key(ctx, h, b); !errors.Is(err, hsm.ErrBinding) {
				t.Errorf("Key(h, %q) = %v, want ErrBinding", b, err)
			}
			if _, err := m.Export(ctx, h, b); !errors.Is(err, hsm.ErrBinding) {
				t.Errorf("Export(h, %q) = %v, want ErrBinding", b, err)
			}
		}
	})
	t.Run("Tampered", func(t *testing.T) {
		for _, bad := range []hsm.Handle{flip(h, 0), flip(h, len(h)/2), flip(h, len(h)-1), h[:len(h)-1], append(bytes.Clone(h), 0), h[:1], {}, nil} {
			if _, err := m.Key(ctx, bad, bind); err == nil {
				t.Errorf("Key(tampered handle of %d bytes) succeeded", len(bad))
			}
		}
	})
	t.Run("Reopen", func(t *testing.T) {
		a, errA := m.Key(ctx, bytes.Clone(h), bind)
		b, errB := m.Key(ctx, h, bytes.Clone(bind))
		if errA != nil || errB != nil {
			t.Fatalf("Key(h) twice = %v, %v", errA, errB)
		}
		if diff := cmp.Diff(a.Public(), b.Public(), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("the same handle opened twice gives different keys:\n%s", diff)
		}
	})
}

// testWrongAlgorithm checks that algorithms of another key type or size are
// refused rather than misapplied.
func testWrongAlgorithm(t *testing.T, k hsm.Key) {
	either := []error{hsm.ErrUnsupported, hsm.ErrInvalidData}
	unsupported := []error{hsm.ErrUnsupported}
	tests := []struct {
		alg     hsm.Algorithm
		encrypt bool
		want    []error
	}{
		{"", true, unsupported}, {"", false, unsupported},
		{"RSA-OAEP-512", true, unsupported}, {"A512GCM", true, either}, {"ES999", false, unsupported},
	}
	add := func(encrypt bool, want []error, algs ...hsm.Algorithm) {
		for _, a := range algs {
			tests = append(tests, struct {
				alg     hsm.Algorithm
				encrypt bool
				want    []error
			}{a, encrypt, want})
		}
	}
	switch k.Type() {
	case hsm.RSA:
		add(true, unsupported, hsm.A256KW, hsm.A128GCM, hsm.A256CBCPAD, hsm.CKMAESKeyWrap, hsm.RS256)
		add(false, unsupported, hsm.ES256, hsm.HS256, hsm.RSAOAEP)
	case hsm.EC:
		add(true, unsupported, hsm.RSAOAEP, hsm.A256GCM, hsm.ES256)
		add(false, unsupported, hsm.RS256, hsm.PS256, hsm.HS256)
		add(false, either, hsm.ES256, hsm.ES384, hsm.ES512, hsm.ES256K) // all but one are for another curve
	case hsm.Oct:
		add(true, unsupported, hsm.RSAOAEP, hsm.RSA15, hsm.HS256)
		add(false, unsupported, hsm.RS256, hsm.ES256, hsm.A256GCM)
		for _, bits := range []int{128, 192, 256} {
			if bits != k.Size() {
				add(true, []error{hsm.ErrInvalidData}, hsm.Algorithm(fmt.Sprintf("A%dGCM", bits)),
					hsm.Algorithm(fmt.Sprintf("A%dCBC", bits)), hsm.Algorithm(fmt.Sprintf("A%dCBCPAD", bits)))
				add(true, either, hsm.Algorithm(fmt.Sprintf("A%dKW", bits)))
			}
		}
	}
	for _, tt := range tests {
		if tt.encrypt {
			if _, err := k.Encrypt(tt.alg, make([]byte, 32), ivFor(tt.alg), nil); !isOneOf(err, tt.want...) {
				t.Errorf("Encrypt(%q) = %v, want %v", tt.alg, err, tt.want[0])
			}
			if _, err := k.Decrypt(tt.alg, make([]byte, 64), make([]byte, 16), nil, make([]byte, 16)); !isOneOf(err, tt.want...) {
				t.Errorf("Decrypt(%q) = %v, want %v", tt.alg, err, tt.want[0])
			}
			continue
		}
		d := digestFor(tt.alg, "message")
		if k.Type() == hsm.EC && tt.alg != "" {
			if c, _ := curveOf(tt.alg); c == k.Public().Curve {
				continue // the key's own algorithm
			}
		}
		if _, err := k.Sign(nil, tt.alg, d); !isOneOf(err, tt.want...) {
			t.Errorf("Sign(%q) = %v, want %v", tt.alg, err, tt.want[0])
		}
		if ok, err := k.Verify(tt.alg, d, make([]byte, 64)); ok || !isOneOf(err, tt.want...) {
			t.Errorf("Verify(%q) = %v, %v; want false, %v", tt.alg, ok, err, tt.want[0])
		}
	}
}

func curveOf(alg hsm.Algorithm) (hsm.Curve, bool) {
	c, ok := map[hsm.Algorithm]hsm.Curve{hsm.ES256: hsm.P256, hsm.ES384: hsm.P384, hsm.ES512: hsm.P521, hsm.ES256K: hsm.P256K}[alg]
	return c, ok
}

// testTransfer checks that Export and Adopt move a key without changing it
// and bind the copy anew.
func testTransfer(t *testing.T, m hsm.Module, h hsm.Handle, bind []byte, k hsm.Key, ks keySpec) {
	ctx := context.Background()
	sealed, err := m.Export(ctx, h, bind)
	if err != nil {
		t.Fatalf("Export = %v", err)
	}
	newBind := []byte("hsmtest/" + ks.name + "/restored")
	nh, npub, err := m.Adopt(ctx, sealed, newBind)
	if err != nil {
		t.Fatalf("Adopt(Export) = %v", err)
	}
	if diff := cmp.Diff(k.Public(), npub, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Adopt changed the public key (-exported +adopted):\n%s", diff)
	}
	nk, err := m.Key(ctx, nh, newBind)
	if err != nil {
		t.Fatalf("Key(Adopt) = %v", err)
	}
	t.Run("Compatible", func(t *testing.T) {
		for _, alg := range ks.crypt {
			for _, pair := range [][2]hsm.Key{{k, nk}, {nk, k}} {
				msg := random(lengths(alg, k)[1])
				res, iv := encrypt(t, pair[0], alg, msg, nil)
				if pt, err := pair[1].Decrypt(alg, res.Ciphertext, iv, nil, res.Tag); err != nil || !bytes.Equal(pt, msg) {
					t.Errorf("Decrypt(%s) across Export/Adopt = %x, %v; want %x", alg, pt, err, msg)
				}
			}
		}
		for _, alg := range ks.sign {
			d := digestFor(alg, "transfer")
			sig, err := nk.Sign(nil, alg, d)
			if err != nil {
				t.Fatalf("Sign(%s) with the adopted key = %v", alg, err)
			}
			if ok, err := k.Verify(alg, d, sig); !ok || err != nil {
				t.Errorf("Verify(%s) of the adopted key's signature = %v, %v; want true", alg, ok, err)
			}
		}
	})
	t.Run("Binding", func(t *testing.T) {
		if _, err := m.Key(ctx, nh, bind); !errors.Is(err, hsm.ErrBinding) {
			t.Errorf("Key(adopted handle, old binding) = %v, want ErrBinding", err)
		}
		if _, err := m.Key(ctx, hsm.Handle(sealed), bind); err == nil {
			t.Error("Key(an export, used as a handle) succeeded")
		}
	})
	t.Run("Tampered", func(t *testing.T) {
		for _, bad := range []hsm.Sealed{flip(sealed, 0), flip(sealed, len(sealed)/2), flip(sealed, len(sealed)-1), sealed[:len(sealed)-1], nil} {
			if _, _, err := m.Adopt(ctx, bad, newBind); err == nil {
				t.Errorf("Adopt(tampered export of %d bytes) succeeded", len(bad))
			}
		}
		if _, _, err := m.Adopt(ctx, hsm.Sealed(h), newBind); err == nil {
			t.Error("Adopt(a handle, not an export) succeeded")
		}
	})
}

// testConcurrent uses one key from several goroutines at once, opening it
// afresh in each as request handlers do.
func testConcurrent(t *testing.T, m hsm.Module, h hsm.Handle, bind []byte, ks keySpec) {
	const workers, rounds = 4, 4
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for range workers {
		wg.Go(func() {
			for range rounds {
				errs <- roundOnce(m, h, bind, ks)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func roundOnce(m hsm.Module, h hsm.Handle, bind []byte, ks keySpec) error {
	k, err := m.Key(context.Background(), h, bind)
	if err != nil {
		return fmt.Errorf("Key = %v", err)
	}
	if len(ks.crypt) > 0 {
		alg := ks.crypt[len(ks.crypt)-1]
		msg := random(lengths(alg, k)[1])
		res, err := k.Encrypt(alg, msg, ivFor(alg), nil)
		if err != nil {
			return fmt.Errorf("Encrypt(%s) = %v", alg, err)
		}
		iv := res.IV
		if pt, err := k.Decrypt(alg, res.Ciphertext, iv, nil, res.Tag); err != nil || !bytes.Equal(pt, msg) {
			return fmt.Errorf("Decrypt(%s) = %x, %v; want %x", alg, pt, err, msg)
		}
	}
	alg := ks.sign[0]
	d := digestFor(alg, "concurrent")
	sig, err := k.Sign(nil, alg, d)
	if err != nil {
		return fmt.Errorf("Sign(%s) = %v", alg, err)
	}
	if ok, err := k.Verify(alg, d, sig); !ok || err != nil {
		return fmt.Errorf("Verify(%s) = %v, %v; want true", alg, ok, err)
	}
	return nil
}

// testUnsupported checks that specs outside Azure's set are refused.
func testUnsupported(t *testing.T, m hsm.Module) {
	tests := []hsm.Spec{
		{Type: hsm.RSA}, {Type: hsm.RSA, Size: 1024}, {Type: hsm.RSA, Size: 2047}, {Type: hsm.RSA, Size: 8192},
		{Type: hsm.RSA, Size: 2048, PublicExponent: 1}, {Type: hsm.RSA, Size: 2048, PublicExponent: 2},
		{Type: hsm.RSA, Size: 2048, PublicExponent: 65536}, {Type: hsm.RSA, Size: 2048, PublicExponent: -3},
		{Type: hsm.EC}, {Type: hsm.EC, Curve: "P-192"}, {Type: hsm.EC, Curve: "secp256r1"}, {Type: hsm.EC, Curve: "p-256"},
		{Type: hsm.Oct}, {Type: hsm.Oct, Size: 64}, {Type: hsm.Oct, Size: 512}, {Type: hsm.Oct, Size: 129},
		{}, {Type: "DSA", Size: 2048}, {Type: "RSA-HSM", Size: 2048}, {Type: "oct-HSM", Size: 256},
	}
	for _, spec := range tests {
		if _, _, err := m.Generate(context.Background(), spec, []byte("hsmtest/unsupported")); !errors.Is(err, hsm.ErrUnsupported) {
			t.Errorf("Generate(%+v) = %v, want ErrUnsupported", spec, err)
		}
	}
}
