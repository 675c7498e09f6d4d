package software

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"fmt"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/tresorkms/tresor/hsm"
)

// The plaintext of a Handle or an export is one tag byte followed by the
// key in that tag's encoding. The tags are part of the stored format: never
// renumber them.
const (
	tagRSA = 1 // PKCS #1 DER (RSAPrivateKey, with CRT values)
	tagEC  = 2 // len(curve name), curve name ("P-256", "P-384", "P-521"), scalar padded to the curve's length
	tagK1  = 3 // secp256k1 scalar, 32 bytes
	tagOct = 4 // raw AES key, 16, 24 or 32 bytes
)

// generate makes a key per spec; see Module.Generate.
func generate(ctx context.Context, spec hsm.Spec) (hsm.Key, error) {
	switch spec.Type {
	case hsm.RSA:
		if !rsaSize(spec.Size) {
			return nil, fmt.Errorf("RSA key of %d bits: %w", spec.Size, hsm.ErrUnsupported)
		}
		e := spec.PublicExponent
		if e == 0 {
			e = 65537
		}
		if !rsaExponent(int64(e)) {
			return nil, fmt.Errorf("RSA public exponent %d: %w", spec.PublicExponent, hsm.ErrUnsupported)
		}
		priv, err := generateRSA(ctx, spec.Size, e)
		if err != nil {
			return nil, err
		}
		return newRSAKey(priv), nil
	case hsm.EC:
		return generateEC(spec.Curve)
	case hsm.Oct:
		return generateOct(spec.Size)
	}
	return nil, fmt.Errorf("key type %q: %w", spec.Type, hsm.ErrUnsupported)
}

// importKey makes a key from JWK material; see Module.Import.
func importKey(pk hsm.PrivateKey) (hsm.Key, error) {
	switch pk.Type {
	case hsm.RSA:
		return importRSA(pk)
	case hsm.EC:
		return importEC(pk)
	case hsm.Oct:
		return newOctKey(pk.K)
	}
	return nil, fmt.Errorf("key type %q: %w", pk.Type, hsm.ErrUnsupported)
}

// encode serialises a key's private material. The caller clears the result.
func encode(k hsm.Key) ([]byte, error) {
	switch k := k.(type) {
	case *rsaKey:
		return append([]byte{tagRSA}, x509.MarshalPKCS1PrivateKey(k.priv)...), nil
	case *ecKey:
		d, err := k.priv.Bytes()
		if err != nil {
			return nil, fmt.Errorf("encode: %w", err)
		}
		defer clear(d)
		out := append([]byte{tagEC, byte(len(k.curve))}, k.curve...)
		return append(out, d...), nil
	case *k1Key:
		d := k.priv.Key.Bytes()
		defer clear(d[:])
		return append([]byte{tagK1}, d[:]...), nil
	case *octKey:
		return append([]byte{tagOct}, k.k...), nil
	}
	return nil, fmt.Errorf("encode: unknown key type %T", k)
}

// decode parses what encode made. The input has been authenticated, so a
// failure means corruption or a format from a newer version; it is reported
// as hsm.ErrInvalidKey without detail.
func decode(b []byte) (hsm.Key, error) {
	corrupt := fmt.Errorf("decode: corrupt key material: %w", hsm.ErrInvalidKey)
	if len(b) < 2 {
		return nil, corrupt
	}
	body := b[1:]
	switch b[0] {
	case tagRSA:
		priv, err := x509.ParsePKCS1PrivateKey(body) // validates and precomputes
		if err != nil || len(priv.Primes) != 2 || !rsaSize(priv.N.BitLen()) {
			return nil, corrupt
		}
		return newRSAKey(priv), nil
	case tagEC:
		n := int(body[0])
		if len(body) < 1+n {
			return nil, corrupt
		}
		curve := hsm.Curve(body[1 : 1+n])
		c := nistCurve(curve)
		if c == nil {
			return nil, corrupt
		}
		priv, err := ecdsa.ParseRawPrivateKey(c, body[1+n:])
		if err != nil {
			return nil, corrupt
		}
		return newECKey(priv, curve), nil
	case tagK1:
		var s secp256k1.ModNScalar
		if len(body) != 32 || s.SetByteSlice(body) || s.IsZero() {
			return nil, corrupt
		}
		return newK1Key(secp256k1.NewPrivateKey(&s)), nil
	case tagOct:
		k, err := newOctKey(body)
		if err != nil {
			return nil, corrupt
		}
		return k, nil
	}
	return nil, corrupt
}
