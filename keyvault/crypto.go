package keyvault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/hsm"
)

// CryptoParams are the inputs of Encrypt, Decrypt, WrapKey and UnwrapKey.
type CryptoParams struct {
	Alg   hsm.Algorithm
	Value []byte
	IV    []byte
	AAD   []byte
	Tag   []byte
}

// CryptoResult is what an operation returns, with the version that did it.
type CryptoResult struct {
	Key   KeyVersion
	Value []byte
	IV    []byte
	Tag   []byte
	AAD   []byte
}

// hsmError translates a Module's sentinel into a tresor.Error.
func hsmError(err error, op string) error {
	switch {
	case errors.Is(err, hsm.ErrUnsupported):
		return &tresor.Error{Kind: tresor.Invalid, Message: fmt.Sprintf("%s: the key or algorithm is not supported", op), Err: err}
	case errors.Is(err, hsm.ErrInvalidKey):
		return &tresor.Error{Kind: tresor.Invalid, Message: fmt.Sprintf("%s: the key material is invalid", op), Err: err}
	case errors.Is(err, hsm.ErrInvalidData):
		return &tresor.Error{Kind: tresor.Invalid, Message: fmt.Sprintf("%s: the input is not valid for this key and algorithm", op), Err: err}
	case errors.Is(err, hsm.ErrDecrypt):
		return &tresor.Error{Kind: tresor.Invalid, Message: fmt.Sprintf("%s: the ciphertext could not be decrypted with this key", op), Err: err}
	}
	return tresor.Wrap(err, op)
}

// usable returns the key version to operate on after checking that it is
// enabled, inside its validity window (decrypt, unwrapKey and verify are
// allowed outside it, as in Azure) and that its key_ops permit op.
func (s *Service) usable(ctx context.Context, v Vault, name, version string, op KeyOp) (KeyVersion, hsm.Key, error) {
	if err := s.authorize(ctx, v, name, actionOf[op]); err != nil {
		return KeyVersion{}, nil, err
	}
	kv, err := s.key(ctx, v, name, version)
	if err != nil {
		return KeyVersion{}, nil, err
	}
	if !kv.Enabled {
		return KeyVersion{}, nil, tresor.Errorf(tresor.Forbidden, "Operation %s is not allowed on a disabled key.", op)
	}
	if op != OpDecrypt && op != OpUnwrapKey && op != OpVerify {
		now := s.Now()
		if !kv.NotBefore.IsZero() && now.Before(kv.NotBefore) {
			return KeyVersion{}, nil, tresor.Errorf(tresor.Forbidden, "Operation %s is not allowed on a key that is not yet valid (nbf %s).", op, kv.NotBefore.Format(time.RFC3339))
		}
		if !kv.Expires.IsZero() && !now.Before(kv.Expires) {
			return KeyVersion{}, nil, tresor.Errorf(tresor.Forbidden, "Operation %s is not allowed on an expired key (exp %s).", op, kv.Expires.Format(time.RFC3339))
		}
	}
	if !kv.Permits(op) {
		return KeyVersion{}, nil, tresor.Errorf(tresor.Forbidden, "Operation %s is not permitted by the key_ops of key %s.", op, name)
	}
	k, err := s.HSM.Key(ctx, kv.Handle, binding(kv.VaultID, kv.Name, kv.Version))
	if err != nil {
		return KeyVersion{}, nil, hsmError(err, "open key")
	}
	return kv, k, nil
}

// checkAlg rejects an algorithm that does not belong to the key's family
// before the module sees it, so clients get Azure's message.
func checkAlg(kv KeyVersion, alg hsm.Algorithm, signing bool) error {
	a := string(alg)
	var ok bool
	switch kv.Type.Family() {
	case hsm.RSA:
		if signing {
			ok = strings.HasPrefix(a, "RS") || strings.HasPrefix(a, "PS")
		} else {
			ok = alg == hsm.RSA15 || alg == hsm.RSAOAEP || alg == hsm.RSAOAEP256
		}
	case hsm.EC:
		ok = signing && strings.HasPrefix(a, "ES")
	case hsm.Oct:
		if signing {
			ok = strings.HasPrefix(a, "HS")
		} else {
			ok = strings.HasPrefix(a, "A") || strings.HasPrefix(a, "CKM_")
		}
	}
	if !ok || a == "" {
		return tresor.Errorf(tresor.Invalid, "Algorithm %q is not supported for key type %s.", alg, kv.Type)
	}
	return nil
}

func (s *Service) encrypt(ctx context.Context, v Vault, name, version string, op KeyOp, p CryptoParams) (CryptoResult, error) {
	kv, k, err := s.usable(ctx, v, name, version, op)
	if err != nil {
		return CryptoResult{}, err
	}
	if err := checkAlg(kv, p.Alg, false); err != nil {
		return CryptoResult{}, err
	}
	iv := p.IV
	if isGCM(p.Alg) {
		iv = nil // the service chooses the IV, as Managed HSM does
	}
	r, err := k.Encrypt(p.Alg, p.Value, iv, p.AAD)
	if err != nil {
		return CryptoResult{}, hsmError(err, string(op))
	}
	res := CryptoResult{Key: kv, Value: r.Ciphertext, IV: r.IV, Tag: r.Tag}
	if isGCM(p.Alg) {
		res.AAD = p.AAD
	}
	return res, nil
}

func (s *Service) decrypt(ctx context.Context, v Vault, name, version string, op KeyOp, p CryptoParams) (CryptoResult, error) {
	kv, k, err := s.usable(ctx, v, name, version, op)
	if err != nil {
		return CryptoResult{}, err
	}
	if err := checkAlg(kv, p.Alg, false); err != nil {
		return CryptoResult{}, err
	}
	pt, err := k.Decrypt(p.Alg, p.Value, p.IV, p.AAD, p.Tag)
	if err != nil {
		return CryptoResult{}, hsmError(err, string(op))
	}
	return CryptoResult{Key: kv, Value: pt}, nil
}

func isGCM(alg hsm.Algorithm) bool { return strings.HasSuffix(string(alg), "GCM") }

// Encrypt encrypts p.Value with a key version (the newest if version is
// empty).
func (s *Service) Encrypt(ctx context.Context, v Vault, name, version string, p CryptoParams) (CryptoResult, error) {
	return s.encrypt(ctx, v, name, version, OpEncrypt, p)
}

// Decrypt reverses Encrypt.
func (s *Service) Decrypt(ctx context.Context, v Vault, name, version string, p CryptoParams) (CryptoResult, error) {
	return s.decrypt(ctx, v, name, version, OpDecrypt, p)
}

// WrapKey wraps a symmetric key with a key version.
func (s *Service) WrapKey(ctx context.Context, v Vault, name, version string, p CryptoParams) (CryptoResult, error) {
	return s.encrypt(ctx, v, name, version, OpWrapKey, p)
}

// UnwrapKey reverses WrapKey.
func (s *Service) UnwrapKey(ctx context.Context, v Vault, name, version string, p CryptoParams) (CryptoResult, error) {
	return s.decrypt(ctx, v, name, version, OpUnwrapKey, p)
}

// Sign signs a digest the caller computed.
func (s *Service) Sign(ctx context.Context, v Vault, name, version string, alg hsm.Algorithm, digest []byte) (CryptoResult, error) {
	kv, k, err := s.usable(ctx, v, name, version, OpSign)
	if err != nil {
		return CryptoResult{}, err
	}
	if err := checkAlg(kv, alg, true); err != nil {
		return CryptoResult{}, err
	}
	sig, err := k.Sign(s.Rand, alg, digest)
	if err != nil {
		return CryptoResult{}, hsmError(err, "sign")
	}
	return CryptoResult{Key: kv, Value: sig}, nil
}

// Verify reports whether sig is a valid signature of digest. A signature
// that does not verify is a result, not an error.
func (s *Service) Verify(ctx context.Context, v Vault, name, version string, alg hsm.Algorithm, digest, sig []byte) (bool, error) {
	kv, k, err := s.usable(ctx, v, name, version, OpVerify)
	if err != nil {
		return false, err
	}
	if err := checkAlg(kv, alg, true); err != nil {
		return false, err
	}
	ok, err := k.Verify(alg, digest, sig)
	if err != nil {
		return false, hsmError(err, "verify")
	}
	return ok, nil
}

// GetRandomBytes returns count (1 to 128) random bytes. Only Managed HSM
// offers it.
func (s *Service) GetRandomBytes(ctx context.Context, v Vault, count int) ([]byte, error) {
	if v.Kind != ManagedHSM {
		return nil, tresor.Errorf(tresor.NotFound, "Random bytes are available from Managed HSM only.")
	}
	if err := s.authorize(ctx, v, "", ActionRandom); err != nil {
		return nil, err
	}
	if count < 1 || count > 128 {
		return nil, tresor.Errorf(tresor.Invalid, "count must be between 1 and 128, got %d.", count)
	}
	b := make([]byte, count)
	if _, err := io.ReadFull(s.Rand, b); err != nil {
		return nil, tresor.Wrap(err, "random bytes")
	}
	return b, nil
}
