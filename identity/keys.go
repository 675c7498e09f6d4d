package identity

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
)

// signingKeyBits is the size of the RSA signing keys, as Entra uses.
const signingKeyBits = 2048

// reloadInterval limits how often a token with an unknown kid makes the
// Service read the Store again, for keys rotated by another node.
const reloadInterval = time.Minute

// DefaultSigningKeyLifetime is how long a signing key signs before
// RolloverSigningKeys replaces it, unless Service.SigningKeyLifetime says
// otherwise. Entra rolls its keys every few weeks.
const DefaultSigningKeyLifetime = 30 * 24 * time.Hour

// signingKey is an unsealed signing key. It has no String method and is
// never compared with ==.
type signingKey struct {
	id      string
	private *rsa.PrivateKey
	created time.Time
	// retires is when the key stops validating: TokenLifetime+ClockSkew
	// after its successor began to sign, when no token it signed can be
	// valid any more. Zero for the active key.
	retires time.Time
}

// retired reports whether k no longer validates at now.
func (k *signingKey) retired(now time.Time) bool {
	return !k.retires.IsZero() && !now.Before(k.retires)
}

// PublicKey is the public half of a signing key, for publishing as a JWK.
type PublicKey struct {
	ID  string // the JWT "kid"
	Key *rsa.PublicKey
}

// RotateSigningKey creates a new signing key, stores it sealed and makes it
// the key that signs from now on. Earlier keys still validate tokens.
// It returns the new key's ID.
func (s *Service) RotateSigningKey(ctx context.Context) (string, error) {
	priv, err := rsa.GenerateKey(rand.Reader, signingKeyBits)
	if err != nil {
		return "", tresor.Wrap(err, "rotate signing key")
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", tresor.Wrap(err, "rotate signing key")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadKeysLocked(ctx, true); err != nil {
		return "", err
	}
	// The newest key signs, and Stores keep seconds: make sure the new key
	// is later than every other, even when rotated twice in a second.
	created := s.now()
	if s.active != nil && !created.After(s.active.created) {
		created = s.active.created.Add(time.Second)
	}
	k := &signingKey{id: thumbprint(&priv.PublicKey), private: priv, created: created}
	sealed := s.Sealer.Seal(der, signingBinding(k.id))
	if err := s.Store.PutSigningKey(ctx, SigningKey{ID: k.id, Sealed: sealed, Created: k.created}); err != nil {
		return "", fmt.Errorf("rotate signing key: %w", err)
	}
	if s.active != nil {
		s.active.retires = retirement(k.created)
	}
	s.keys[k.id] = k
	s.active = k
	return k.id, nil
}

// retirement is when a key retires whose successor began to sign at
// successorCreated.
func retirement(successorCreated time.Time) time.Time {
	return successorCreated.Add(TokenLifetime + ClockSkew)
}

// RolloverSigningKeys replaces the signing key once it has signed for the
// SigningKeyLifetime, and reports whether it did. The old key keeps
// validating the tokens it signed until they have all expired, and is
// published in the JWKS until then; after that tokens signed with it fail
// validation and it leaves the JWKS. Servers call it periodically.
func (s *Service) RolloverSigningKeys(ctx context.Context) (bool, error) {
	active, err := s.activeKey(ctx)
	if err != nil {
		return false, err
	}
	lifetime := s.SigningKeyLifetime
	if lifetime <= 0 {
		lifetime = DefaultSigningKeyLifetime
	}
	if s.now().Before(active.created.Add(lifetime)) {
		return false, nil
	}
	if _, err := s.RotateSigningKey(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// PublicKeys returns the signing keys that validate tokens now, oldest
// first: the active key and those not yet retired.
func (s *Service) PublicKeys(ctx context.Context) ([]PublicKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadKeysLocked(ctx, false); err != nil {
		return nil, err
	}
	keys := make([]*signingKey, 0, len(s.keys))
	now := s.now()
	for _, k := range s.keys {
		if !k.retired(now) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b *signingKey) int {
		if c := a.created.Compare(b.created); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	out := make([]PublicKey, len(keys))
	for i, k := range keys {
		out[i] = PublicKey{ID: k.id, Key: &k.private.PublicKey}
	}
	return out, nil
}

// activeKey returns the key that signs new tokens.
func (s *Service) activeKey(ctx context.Context) (*signingKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadKeysLocked(ctx, false); err != nil {
		return nil, err
	}
	if s.active == nil {
		return nil, tresor.Wrap(fmt.Errorf("no signing key; Bootstrap has not run"), "identity")
	}
	return s.active, nil
}

// publicKey returns the public key with that kid, reading the Store again
// (at most once per reloadInterval) if it is not known. A retired key is
// not returned.
func (s *Service) publicKey(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadKeysLocked(ctx, false); err != nil {
		return nil, err
	}
	now := s.now()
	k, ok := s.keys[kid]
	if !ok && now.Sub(s.loaded) >= reloadInterval {
		if err := s.loadKeysLocked(ctx, true); err != nil {
			return nil, err
		}
		k, ok = s.keys[kid]
	}
	if !ok || k.retired(now) {
		return nil, nil
	}
	return &k.private.PublicKey, nil
}

// loadKeysLocked reads and unseals the signing keys, unless they are loaded
// already and force is false. s.mu must be held.
func (s *Service) loadKeysLocked(ctx context.Context, force bool) error {
	if s.keys != nil && !force {
		return nil
	}
	stored, err := s.Store.SigningKeys(ctx)
	if err != nil {
		return err
	}
	keys := make(map[string]*signingKey, len(stored))
	var active *signingKey
	for _, sk := range stored {
		der, err := s.Sealer.Open(sk.Sealed, signingBinding(sk.ID))
		if err != nil {
			return tresor.Wrap(err, "open signing key "+sk.ID)
		}
		priv, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return tresor.Wrap(err, "parse signing key "+sk.ID)
		}
		rk, ok := priv.(*rsa.PrivateKey)
		if !ok {
			return tresor.Wrap(fmt.Errorf("%T is not an RSA key", priv), "parse signing key "+sk.ID)
		}
		k := &signingKey{id: sk.ID, private: rk, created: sk.Created}
		keys[k.id] = k
		if active != nil { // the Store lists oldest first
			active.retires = retirement(k.created)
		}
		active = k
	}
	s.keys, s.active, s.loaded = keys, active, s.now()
	return nil
}

// signingBinding binds a sealed signing key to its ID, so that a sealed key
// copied to another row does not open.
func signingBinding(kid string) []byte { return []byte("identity/signing/" + kid) }

// thumbprint returns the RFC 7638 JWK thumbprint (SHA-256, base64url) of
// an RSA public key: a kid that anyone can recompute from the JWK.
func thumbprint(pub *rsa.PublicKey) string {
	e := base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())
	n := base64.RawURLEncoding.EncodeToString(pub.N.Bytes())
	sum := sha256.Sum256([]byte(`{"e":"` + e + `","kty":"RSA","n":"` + n + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
