// Package hsm defines the boundary between tresor and the modules that hold
// key material. Callers hold Handles, never key bytes: a Module generates or
// imports a key and returns a Handle, an opaque value that is safe to persist
// (for the software module it is the key material sealed under the root key).
// A Handle is bound to an identity chosen by the caller, such as a key
// version's id; opening it under any other binding fails.
package hsm

import (
	"context"
	"errors"
	"io"
)

// KeyType is a key's family, without Azure's "-HSM" suffix.
type KeyType string

// The key families.
const (
	RSA KeyType = "RSA"
	EC  KeyType = "EC"
	Oct KeyType = "oct"
)

// Curve is an elliptic curve, named as in JSON Web Key.
type Curve string

// The curves Azure supports.
const (
	P256  Curve = "P-256"
	P384  Curve = "P-384"
	P521  Curve = "P-521"
	P256K Curve = "P-256K" // secp256k1
)

// Algorithm is a JSON Web Algorithm name as Azure uses it, for encryption,
// key wrapping and signatures alike.
type Algorithm string

// The algorithms. RSA-OAEP uses SHA-1 for both the hash and MGF1, as OpenSSL's
// RSA_PKCS1_OAEP_PADDING does; clients rely on that.
const (
	RSA15      Algorithm = "RSA1_5"
	RSAOAEP    Algorithm = "RSA-OAEP"
	RSAOAEP256 Algorithm = "RSA-OAEP-256"

	A128KW     Algorithm = "A128KW"
	A192KW     Algorithm = "A192KW"
	A256KW     Algorithm = "A256KW"
	A128GCM    Algorithm = "A128GCM"
	A192GCM    Algorithm = "A192GCM"
	A256GCM    Algorithm = "A256GCM"
	A128CBC    Algorithm = "A128CBC"
	A192CBC    Algorithm = "A192CBC"
	A256CBC    Algorithm = "A256CBC"
	A128CBCPAD Algorithm = "A128CBCPAD"
	A192CBCPAD Algorithm = "A192CBCPAD"
	A256CBCPAD Algorithm = "A256CBCPAD"
	// CKMAESKeyWrap is RFC 3394; CKMAESKeyWrapPad is RFC 5649 (api-version 7.6+).
	CKMAESKeyWrap    Algorithm = "CKM_AES_KEY_WRAP"
	CKMAESKeyWrapPad Algorithm = "CKM_AES_KEY_WRAP_PAD"

	RS256  Algorithm = "RS256"
	RS384  Algorithm = "RS384"
	RS512  Algorithm = "RS512"
	PS256  Algorithm = "PS256"
	PS384  Algorithm = "PS384"
	PS512  Algorithm = "PS512"
	ES256  Algorithm = "ES256"
	ES384  Algorithm = "ES384"
	ES512  Algorithm = "ES512"
	ES256K Algorithm = "ES256K"
	HS256  Algorithm = "HS256"
	HS384  Algorithm = "HS384"
	HS512  Algorithm = "HS512"
)

// Spec describes a key to generate.
type Spec struct {
	Type KeyType
	// Size is the modulus length in bits for RSA (2048, 3072, 4096) and the
	// key length in bits for oct (128, 192, 256). It is ignored for EC.
	Size int
	// PublicExponent is the RSA public exponent; zero means 65537.
	PublicExponent int
	// Curve is the EC curve; it is ignored for other types.
	Curve Curve
}

// PublicKey is the public half of a key in JSON Web Key terms, as unsigned
// big-endian integers. It is empty for oct keys.
type PublicKey struct {
	Type  KeyType
	N, E  []byte // RSA modulus and exponent
	Curve Curve
	X, Y  []byte // EC point, each coordinate padded to the curve's byte length
}

// PrivateKey is key material given to Import, in JSON Web Key terms. Only
// the fields of Type are used. Import copies what it needs; the caller should
// clear its copy afterwards.
type PrivateKey struct {
	Type          KeyType
	N, E, D, P, Q []byte // RSA
	DP, DQ, QI    []byte // RSA CRT values; optional
	Curve         Curve
	X, Y          []byte // EC public point; optional, checked when given
	ECD           []byte // EC private scalar ("d")
	K             []byte // oct key bytes
}

// Handle is an opaque reference to a key inside a Module. It is safe to store
// and log-free by contract: it reveals nothing about the key without the
// Module. It has no String method on purpose.
type Handle []byte

// Sealed is an encrypted transfer form of a key, for backup and restore. It
// can only be opened by a Module that shares the sealing root.
type Sealed []byte

// Result is what Encrypt returns. IV and Tag are set for AES-GCM, IV for CBC.
type Result struct {
	Ciphertext []byte
	IV         []byte
	Tag        []byte
}

// A Module creates keys and operates on them.
//
// Every method that takes a binding authenticates it: a Handle opened under a
// binding other than the one it was created with fails with ErrBinding, so a
// Handle copied to another key's row in the database is useless there.
type Module interface {
	// Generate creates a new key and returns its Handle. It fails with
	// ErrUnsupported for a Spec the module cannot make.
	Generate(ctx context.Context, spec Spec, binding []byte) (Handle, PublicKey, error)
	// Import takes ownership of existing key material. It fails with
	// ErrInvalidKey if the material is inconsistent (for example an RSA key
	// whose factors do not multiply to N).
	Import(ctx context.Context, key PrivateKey, binding []byte) (Handle, PublicKey, error)
	// Key opens a Handle for use.
	Key(ctx context.Context, h Handle, binding []byte) (Key, error)
	// Export seals the key behind h for transfer (backup). The result carries
	// no binding; Adopt binds it anew.
	Export(ctx context.Context, h Handle, binding []byte) (Sealed, error)
	// Adopt opens a Sealed key made by Export on a module with the same root
	// and returns a Handle for it under binding.
	Adopt(ctx context.Context, s Sealed, binding []byte) (Handle, PublicKey, error)
}

// A Key is an opaque key inside a Module. A Key is safe for concurrent use.
// Inputs are never modified; outputs are freshly allocated.
type Key interface {
	// Type returns the key's family and Size its length in bits (the
	// modulus for RSA, the key for oct, the curve's order for EC).
	Type() KeyType
	Size() int
	// Public returns the public half; it is empty for oct keys.
	Public() PublicKey
	// Encrypt encrypts plaintext with alg. It serves both Azure's encrypt and
	// wrapKey. For AES-GCM the IV must be nil: the module generates a
	// random 12-byte IV and returns it with the tag. For AES-CBC the caller
	// supplies a 16-byte IV.
	Encrypt(alg Algorithm, plaintext, iv, aad []byte) (Result, error)
	// Decrypt reverses Encrypt. It fails with ErrDecrypt on any
	// authentication or padding failure, without saying which.
	Decrypt(alg Algorithm, ciphertext, iv, aad, tag []byte) ([]byte, error)
	// Sign signs a digest that the caller computed. ECDSA signatures are
	// raw r||s, each half padded to the curve's byte length.
	Sign(rand io.Reader, alg Algorithm, digest []byte) ([]byte, error)
	// Verify reports whether sig is a valid signature of digest. A
	// malformed signature is reported as false, not as an error.
	Verify(alg Algorithm, digest, sig []byte) (bool, error)
}

// Errors returned by Modules and Keys. They are plain sentinels; callers
// translate them into tresor.Errors.
var (
	ErrUnsupported = errors.New("hsm: unsupported key or algorithm")
	ErrInvalidKey  = errors.New("hsm: invalid key material")
	ErrInvalidData = errors.New("hsm: invalid input for algorithm")
	ErrDecrypt     = errors.New("hsm: decryption failed")
	ErrBinding     = errors.New("hsm: handle does not belong to this binding")
)
